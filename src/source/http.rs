//! The HTTP client of a source: auth, origin safety, retries with backoff, rate-limit waits,
//! size caps and JSON decoding.

use std::time::Duration;

use backon::BackoffBuilder;
use chrono::Utc;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use super::SourceError;
use crate::config::{AuthConfig, HttpConfig};

/// A decoded response: headers for pagination, body as JSON.
#[derive(Debug)]
pub struct JsonResponse {
    /// Response headers.
    pub headers: HeaderMap,
    /// The parsed body.
    pub body: Value,
}

/// What went wrong with one attempt, and whether another may succeed.
enum Attempt {
    /// Worth retrying, after `wait` if the server said how long.
    Retry {
        error: SourceError,
        wait: Option<Duration>,
    },
    /// Will not get better by retrying.
    Fatal(SourceError),
}

/// An HTTP client bound to one source's origin and credential.
pub struct HttpClient {
    client: reqwest::Client,
    origin: url::Origin,
    auth: Option<HeaderValue>,
    config: HttpConfig,
}

impl HttpClient {
    /// Builds the client; `base_url` fixes the only origin credentials are sent to.
    pub fn new(
        base_url: &Url,
        auth: &AuthConfig,
        config: &HttpConfig,
    ) -> Result<Self, SourceError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            // Redirects could carry the Authorization header elsewhere; pagination URLs are
            // followed explicitly instead, after the origin check.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| SourceError::Setup(format!("cannot build the HTTP client: {err}")))?;
        let auth = match auth {
            AuthConfig::None => None,
            AuthConfig::Bearer { token, prefix } => {
                let mut value = HeaderValue::from_str(&format!("{prefix} {}", token.expose()))
                    .map_err(|_| SourceError::Setup("the auth token contains characters not allowed in an HTTP header (hint: check for a stray newline)".into()))?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        Ok(HttpClient {
            client,
            origin: base_url.origin(),
            auth,
            config: config.clone(),
        })
    }

    /// GETs `url` and decodes its JSON body, retrying what is worth retrying. Refuses any URL
    /// outside the configured origin, so a hostile next link never receives the credential.
    pub async fn get_json(&self, url: &Url) -> Result<JsonResponse, SourceError> {
        if url.origin() != self.origin {
            return Err(SourceError::ForeignOrigin {
                url: display_url(url),
                origin: self.origin.ascii_serialization(),
            });
        }
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(self.config.max_backoff)
            .with_jitter()
            .without_max_times()
            .build();
        let mut attempt = 1;
        loop {
            match self.attempt(url).await {
                Ok(response) => return Ok(response),
                Err(Attempt::Fatal(error)) => return Err(error),
                Err(Attempt::Retry { error, wait }) => {
                    if attempt >= self.config.max_attempts {
                        return Err(SourceError::GaveUp {
                            attempts: attempt,
                            last: Box::new(error),
                        });
                    }
                    let backoff = delays.next().unwrap_or(self.config.max_backoff);
                    let delay = wait.unwrap_or(backoff).min(self.config.max_backoff);
                    tracing::warn!(url = %display_url(url), attempt, delay_ms = delay.as_millis() as u64, error = %error, "request failed; retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn attempt(&self, url: &Url) -> Result<JsonResponse, Attempt> {
        let shown = display_url(url);
        let mut request = self
            .client
            .get(url.clone())
            .header("Accept", "application/json");
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let mut response = request.send().await.map_err(|err| Attempt::Retry {
            error: SourceError::Transport {
                url: shown.clone(),
                detail: describe_reqwest(&err),
            },
            wait: None,
        })?;
        let status = response.status();
        if !status.is_success() {
            let wait = server_wait(response.headers());
            let body = read_capped(&mut response, 2048).await.unwrap_or_default();
            let error = SourceError::Status {
                url: shown,
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).chars().take(300).collect(),
            };
            return Err(if retryable(status) {
                Attempt::Retry { error, wait }
            } else {
                Attempt::Fatal(error)
            });
        }
        let headers = response.headers().clone();
        let limit = self.config.max_response_size.as_u64() as usize;
        let body = match read_capped(&mut response, limit).await {
            Ok(body) => body,
            Err(ReadError::TooLarge) => {
                return Err(Attempt::Fatal(SourceError::TooLarge {
                    url: shown,
                    limit: self.config.max_response_size.to_string(),
                }))
            }
            Err(ReadError::Transport(detail)) => {
                return Err(Attempt::Retry {
                    error: SourceError::Transport { url: shown, detail },
                    wait: None,
                })
            }
        };
        // A body that is not JSON is retried: truncation in transit looks the same as a
        // server that answers HTML, and only a retry tells them apart.
        let body = serde_json::from_slice(&body).map_err(|err| Attempt::Retry {
            error: SourceError::NotJson {
                url: shown,
                detail: err.to_string(),
                preview: String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned(),
            },
            wait: None,
        })?;
        Ok(JsonResponse { headers, body })
    }
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED)
}

/// How long the server asked us to wait: `Retry-After` (seconds or HTTP date), else the
/// epoch-seconds reset of the `X-Rate-Limit-Reset` family (Okta, GitHub and others).
fn server_wait(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = text(RETRY_AFTER.as_str()) {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(value) {
            return (at.with_timezone(&Utc) - Utc::now())
                .to_std()
                .ok()
                .or(Some(Duration::ZERO));
        }
    }
    for name in ["x-rate-limit-reset", "x-ratelimit-reset"] {
        if let Some(reset) = text(name).and_then(|v| v.parse::<i64>().ok()) {
            let wait_ms = (reset * 1000 - Utc::now().timestamp_millis()).max(0);
            // A reset in the past still deserves a short pause, not a hot retry.
            return Some(Duration::from_millis(wait_ms as u64).max(Duration::from_millis(100)));
        }
    }
    None
}

enum ReadError {
    TooLarge,
    Transport(String),
}

/// Reads the body chunk by chunk, stopping as soon as it passes `limit` bytes.
async fn read_capped(response: &mut reqwest::Response, limit: usize) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::with_capacity(
        response
            .content_length()
            .map_or(64 * 1024, |n| (n as usize).min(limit)),
    );
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| ReadError::Transport(describe_reqwest(&err)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// reqwest's error with its causes, without the URL (we print our own, redacted).
fn describe_reqwest(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A URL fit for logs: no user name or password.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    // Setting these fails only for URLs that cannot have credentials, which then have none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_wins_over_reset() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        headers.insert("x-rate-limit-reset", HeaderValue::from_static("1"));
        assert_eq!(server_wait(&headers), Some(Duration::from_secs(7)));
    }

    #[test]
    fn rate_limit_reset_is_an_epoch_time() {
        let mut headers = HeaderMap::new();
        let reset = (Utc::now().timestamp() + 3).to_string();
        headers.insert("x-rate-limit-reset", HeaderValue::from_str(&reset).unwrap());
        let wait = server_wait(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(3),
            "{wait:?}"
        );
    }

    #[test]
    fn urls_lose_their_credentials_for_display() {
        let url = Url::parse("https://user:pw@example.com/x?y=1").unwrap();
        assert_eq!(display_url(&url), "https://example.com/x?y=1");
    }

    #[tokio::test]
    async fn credentials_are_never_sent_to_another_origin() {
        // Nothing listens on these ports: the refusal must come before any connection.
        let base = Url::parse("http://127.0.0.1:9/api").unwrap();
        let auth = AuthConfig::Bearer {
            token: crate::config::Secret::new("t"),
            prefix: "Bearer".into(),
        };
        let client = HttpClient::new(&base, &auth, &HttpConfig::default()).unwrap();
        for foreign in [
            "http://127.0.0.1:10/api?after=x",
            "https://127.0.0.1:9/api",
            "http://evil.example:9/api",
        ] {
            let err = client
                .get_json(&Url::parse(foreign).unwrap())
                .await
                .unwrap_err();
            assert!(
                matches!(err, SourceError::ForeignOrigin { .. }),
                "{foreign}: {err}"
            );
        }
    }

    #[test]
    fn which_statuses_are_retried() {
        assert!(retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(retryable(StatusCode::BAD_GATEWAY));
        assert!(!retryable(StatusCode::UNAUTHORIZED));
        assert!(!retryable(StatusCode::NOT_FOUND));
    }
}
