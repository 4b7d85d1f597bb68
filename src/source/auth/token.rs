//! Access tokens from a token endpoint (OAuth 2.0 client credentials, Google's JWT bearer
//! grant): fetched on first use, shared by every request, refreshed shortly before they
//! expire, dropped when the API rejects them.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::google::ServiceAccount;
use super::oauth2::ClientCredentials;
use super::shown_url;
use crate::model::Secret;
use crate::net::BodyError;
use crate::source::SourceError;

/// Token endpoints answer with a small JSON object; anything larger is not one.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// How long a token is assumed to live when the endpoint does not say (`expires_in` is
/// optional in RFC 6749). A shorter real lifetime still works: the API's 401 drops the token.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// How a token is obtained.
pub(super) enum Grant {
    /// OAuth 2.0 client credentials.
    ClientCredentials(ClientCredentials),
    /// Google service account JWT bearer.
    Google(ServiceAccount),
}

/// What to POST to the token endpoint.
pub(super) struct TokenRequest {
    /// The form fields, in order.
    pub form: Vec<(&'static str, String)>,
    /// Further form fields from the configuration (`token_params`), sent after `form`.
    pub extra: Vec<(String, String)>,
    /// `Authorization` for the token endpoint itself (client_secret_basic).
    pub authorization: Option<HeaderValue>,
}

impl Grant {
    fn token_url(&self) -> &Url {
        match self {
            Grant::ClientCredentials(grant) => grant.token_url(),
            Grant::Google(grant) => grant.token_url(),
        }
    }

    fn request(&self) -> Result<TokenRequest, SourceError> {
        match self {
            Grant::ClientCredentials(grant) => grant.request(),
            Grant::Google(grant) => grant.request(),
        }
    }

    /// What to check when the endpoint refuses the request.
    fn rejection_hint(&self) -> &'static str {
        match self {
            Grant::ClientCredentials(grant) if grant.uses_key() => {
                "check client_id and scopes, that the provider has the public key (or \
                 certificate) of private_key registered for the client, key_id if it wants one, \
                 and this machine's clock (assertions are valid for 5 minutes)"
            }
            Grant::ClientCredentials(_) => {
                "check client_id, client_secret and scopes; if the provider expects the client \
                 credentials as form fields, set client_auth = \"body\""
            }
            Grant::Google(_) => {
                "check that the key is current (not deleted), that the scopes are allowed, and \
                 for subject that domain-wide delegation grants these scopes to the service \
                 account's client id; an `invalid_grant` about time means this machine's clock is off"
            }
        }
    }
}

/// The token caches of [`super::Authenticator::shared`], by credential key. Kept for the
/// life of the process, so a token outlives the run (and the source) that fetched it; one
/// entry per distinct credential, which a config has few of.
static SHARED: LazyLock<std::sync::Mutex<HashMap<String, Arc<TokenCache>>>> =
    LazyLock::new(Default::default);

/// The shared cache for `key`, made by `make` if there is none yet.
pub(super) fn shared(key: String, make: impl FnOnce() -> TokenCache) -> Arc<TokenCache> {
    let mut caches = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    caches
        .entry(key)
        .or_insert_with(|| Arc::new(make()))
        .clone()
}

/// A token in hand.
#[derive(Clone)]
pub(super) struct Token {
    /// `Authorization` value, marked sensitive.
    pub header: HeaderValue,
    /// The access token alone, to put back into a next-page link that carried it (see
    /// `crate::source::link_secrets`).
    pub access_token: Secret,
    /// After this, fetch a new one before use.
    refresh_at: Instant,
    /// After this, the token is useless even if a refresh failed.
    expires_at: Instant,
}

/// One grant's current token, shared by all requests of a source.
pub(super) struct TokenCache {
    grant: Grant,
    client: reqwest::Client,
    current: Mutex<Option<Token>>,
}

impl TokenCache {
    pub(super) fn new(grant: Grant, client: reqwest::Client) -> Self {
        TokenCache {
            grant,
            client,
            current: Mutex::new(None),
        }
    }

    /// The token to send now, fetching one first if there is none or it is due for refresh.
    pub(super) async fn authorization(&self) -> Result<Token, SourceError> {
        // The lock is held across the fetch on purpose: requests that arrive meanwhile wait
        // for this one refresh and then share its token, instead of each fetching their own.
        let mut current = self.current.lock().await;
        let now = Instant::now();
        if let Some(token) = current.as_ref().filter(|t| now < t.refresh_at) {
            return Ok(token.clone());
        }
        match self.fetch().await {
            Ok(token) => {
                *current = Some(token.clone());
                Ok(token)
            }
            // A failed early refresh is not fatal while the old token still works; the next
            // request tries again.
            Err(error) => match current.as_ref().filter(|t| Instant::now() < t.expires_at) {
                Some(token) => {
                    tracing::warn!(%error, "could not refresh the access token; using the current one until it expires");
                    Ok(token.clone())
                }
                None => Err(error),
            },
        }
    }

    /// Forgets the current token so that the next request fetches a new one.
    pub(super) async fn invalidate(&self) {
        *self.current.lock().await = None;
    }

    async fn fetch(&self) -> Result<Token, SourceError> {
        let url = self.grant.token_url();
        let shown = shown_url(url);
        // Lifetimes count from before the request, so a slow endpoint errs on the early side.
        let started = Instant::now();
        let TokenRequest {
            form,
            extra,
            authorization,
        } = self.grant.request()?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .extend_pairs(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        let mut request = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(body);
        if let Some(authorization) = authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        let mut response = request
            .send()
            .await
            .map_err(|err| SourceError::TokenEndpoint {
                url: shown.clone(),
                detail: format!(
                    "cannot reach the token endpoint: {}",
                    crate::net::describe(&err)
                ),
            })?;
        let status = response.status();
        let body = crate::net::read_capped(&mut response, MAX_TOKEN_RESPONSE)
            .await
            .map_err(|err| SourceError::TokenEndpoint {
                url: shown.clone(),
                detail: match err {
                    BodyError::TooLarge(limit) => format!(
                        "reading the token endpoint's answer: the answer is larger than {limit} bytes"
                    ),
                    BodyError::Transport(detail) => {
                        format!("reading the token endpoint's answer: {detail}")
                    }
                },
            })?;
        if !status.is_success() {
            return Err(self.refusal(&shown, status, &body));
        }
        let granted = parse_token_response(&body).map_err(|problem| {
            SourceError::Setup(format!(
                "{shown}: the token endpoint's answer {problem} (hint: check that the token URL is the provider's OAuth token endpoint)"
            ))
        })?;
        // A token is as good as the secret it was obtained with: scrubbed from everything
        // printed or stored from now on.
        crate::redact::register_token(&granted.access_token);
        let header = granted.authorization().map_err(|_| {
            SourceError::Setup(format!(
                "{shown}: the token endpoint issued an access token that cannot go into an HTTP header"
            ))
        })?;
        let lifetime = granted.lifetime.unwrap_or(DEFAULT_LIFETIME);
        tracing::debug!(token_url = %shown, lifetime_s = lifetime.as_secs(), "fetched an access token");
        Ok(Token {
            header,
            access_token: Secret::new(granted.access_token.clone()),
            refresh_at: started + refresh_after(lifetime),
            expires_at: started + lifetime,
        })
    }

    /// The error for a non-2xx answer: worth retrying (5xx, 429, 408) keeps the status so the
    /// caller's retry policy applies; anything else is a configuration problem.
    fn refusal(&self, shown: &str, status: reqwest::StatusCode, body: &[u8]) -> SourceError {
        // The client secret, should the endpoint echo it, is scrubbed where the message is
        // printed or stored (see crate::redact), like every other secret.
        let text: String = String::from_utf8_lossy(body).chars().take(300).collect();
        let transient = status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT;
        if transient {
            return SourceError::Status {
                url: shown.to_string(),
                status: status.as_u16(),
                body: text,
            };
        }
        let hint = if status.is_redirection() {
            "the token URL redirects elsewhere; write the final URL"
        } else {
            self.grant.rejection_hint()
        };
        SourceError::Setup(format!(
            "{shown}: the token endpoint answered HTTP {}: {text} (hint: {hint})",
            status.as_u16()
        ))
    }
}

/// When to refresh a token that lives `lifetime`: once less than a minute or a tenth of its
/// life is left, whichever is more, but never in the first half of its life, so that short
/// tokens are still reused.
pub(super) fn refresh_after(lifetime: Duration) -> Duration {
    let margin = Duration::from_secs(60).max(lifetime / 10).min(lifetime / 2);
    lifetime - margin
}

/// The useful part of a token response (RFC 6749 section 5.1).
#[derive(Debug)]
struct Granted {
    access_token: String,
    token_type: Option<String>,
    lifetime: Option<Duration>,
}

impl Granted {
    fn authorization(&self) -> Result<HeaderValue, reqwest::header::InvalidHeaderValue> {
        // Providers write `bearer`, `Bearer` or nothing; APIs expect `Bearer`.
        let scheme = match self.token_type.as_deref() {
            None => "Bearer",
            Some(kind) if kind.eq_ignore_ascii_case("bearer") => "Bearer",
            Some(kind) => kind,
        };
        let mut value = HeaderValue::from_str(&format!("{scheme} {}", self.access_token))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// Why a token endpoint's answer (a success status) gives no token. Messages describe the
/// shape only, never the body, which may hold a token; they follow "the token endpoint's
/// answer".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum TokenError {
    /// The body is not JSON.
    #[error("is not JSON")]
    NotJson,
    /// No `access_token`, or not a non-empty string.
    #[error("has no `access_token` string")]
    NoAccessToken,
}

/// Reads `access_token`, `token_type` and `expires_in`. Errors describe the shape only: the
/// body may hold a token.
fn parse_token_response(body: &[u8]) -> Result<Granted, TokenError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| TokenError::NotJson)?;
    let access_token = value
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or(TokenError::NoAccessToken)?
        .to_string();
    let token_type = value
        .get("token_type")
        .and_then(Value::as_str)
        .map(str::to_string);
    // Some providers send `expires_in` as a string; RFC 6749 says a number.
    let lifetime = match value.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    }
    .filter(|secs| secs.is_finite() && *secs >= 0.0)
    .map(|secs| Duration::from_secs_f64(secs.min(1e9)));
    Ok(Granted {
        access_token,
        token_type,
        lifetime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_leaves_a_minute_or_a_tenth_but_uses_half_of_short_tokens() {
        let secs = |s| Duration::from_secs(s);
        assert_eq!(refresh_after(secs(3600)), secs(3240));
        assert_eq!(refresh_after(secs(300)), secs(240));
        assert_eq!(refresh_after(secs(60)), secs(30));
        assert_eq!(refresh_after(secs(2)), secs(1));
        assert_eq!(refresh_after(secs(0)), secs(0));
    }

    #[test]
    fn token_responses_are_read_leniently() {
        let granted = parse_token_response(
            br#"{"access_token":"abc","token_type":"bearer","expires_in":"120"}"#,
        )
        .unwrap();
        assert_eq!(granted.access_token, "abc");
        assert_eq!(granted.lifetime, Some(Duration::from_secs(120)));
        assert_eq!(
            granted.authorization().unwrap().to_str().unwrap(),
            "Bearer abc"
        );
        assert!(granted.authorization().unwrap().is_sensitive());

        let bare = parse_token_response(br#"{"access_token":"abc"}"#).unwrap();
        assert_eq!(bare.lifetime, None);
        assert_eq!(
            bare.authorization().unwrap().to_str().unwrap(),
            "Bearer abc"
        );

        let odd = parse_token_response(br#"{"access_token":"abc","expires_in":-5}"#).unwrap();
        assert_eq!(odd.lifetime, None);
    }

    #[test]
    fn token_response_errors_do_not_quote_the_body() {
        let err = parse_token_response(br#"{"token":"s3cr3t"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("access_token"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        assert_eq!(
            parse_token_response(b"<html>").unwrap_err().to_string(),
            "is not JSON"
        );
        let err = parse_token_response(br#"{"access_token":""}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("access_token"), "{err}");
    }
}
