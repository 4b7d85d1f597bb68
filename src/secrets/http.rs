//! What the three manager clients share: an HTTP client, retries of transient failures, a
//! capped body, and a one-line excerpt of a manager's error message.

use std::time::Duration;

use reqwest::StatusCode;

use super::SecretError;

/// Secrets are small (64 KiB at most in AWS and Google); anything larger is not an answer.
const MAX_BODY: usize = 1024 * 1024;

/// Pauses before the second and third attempt.
const BACKOFF: [Duration; 2] = [Duration::from_millis(250), Duration::from_secs(1)];

/// An HTTP client for a manager, trusting the certificates of `ca_file` too (a Vault behind a
/// private CA). Redirects are not followed: they could carry a token to another host.
pub(super) fn client(ca_file: Option<std::path::PathBuf>) -> Result<reqwest::Client, SecretError> {
    let mut options = crate::net::ClientOptions::new(Duration::from_secs(20));
    options.connect_timeout = Duration::from_secs(5);
    options.ca_file = ca_file;
    options.build().map_err(|err| {
        SecretError::Setup(match err {
            crate::net::NetError::Build(_) => {
                format!("cannot set up the HTTP client for secret managers: {err}")
            }
            _ => err.to_string(),
        })
    })
}

/// A manager's answer.
pub(super) struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// Sends the request `make` builds, again after a pause when the manager cannot be reached,
/// answers 5xx or 429 (three attempts in all). `Err` is `make`'s, or a transport problem,
/// described: [`SecretError::Unreachable`], or [`SecretError::BadResponse`] for an answer
/// too large to be a secret. A 5xx or 429 answer is `Ok`: the caller reads its body.
pub(super) async fn send<F>(mut make: F) -> Result<Answer, SecretError>
where
    F: FnMut() -> Result<reqwest::RequestBuilder, SecretError>,
{
    let mut attempt = 0;
    loop {
        let outcome = match make()?.send().await {
            Ok(response) => read(response).await,
            Err(err) => Err(SecretError::Unreachable(crate::net::describe(&err))),
        };
        let transient = match &outcome {
            Ok(answer) => {
                answer.status.is_server_error() || answer.status == StatusCode::TOO_MANY_REQUESTS
            }
            Err(_) => true,
        };
        match BACKOFF.get(attempt) {
            Some(pause) if transient => {
                tracing::debug!(
                    attempt = attempt + 1,
                    "secret manager request failed; trying again"
                );
                tokio::time::sleep(*pause).await;
                attempt += 1;
            }
            _ => return outcome,
        }
    }
}

async fn read(mut response: reqwest::Response) -> Result<Answer, SecretError> {
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| {
        SecretError::Unreachable(format!(
            "reading the answer: {}",
            crate::net::describe(&err)
        ))
    })? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Err(SecretError::BadResponse(format!(
                "the answer is larger than {MAX_BODY} bytes (hint: check that the endpoint is the secret manager's)"
            )));
        }
    }
    Ok(Answer { status, body })
}

/// A manager's error message fit for one line of an error: whitespace collapsed, at most 300
/// characters.
pub(super) fn excerpt(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= 300 {
        return one_line;
    }
    one_line.chars().take(300).collect::<String>() + "..."
}

/// A URL without user name and password, for messages.
pub(super) fn shown(url: &url::Url) -> String {
    crate::net::display_url(url)
}
