//! Google Secret Manager: `GET v1/{name}:access`, the value base64 in `payload.data`.
//!
//! The access token comes from the service account key file that
//! `GOOGLE_APPLICATION_CREDENTIALS` names (the JWT bearer grant of the sources'
//! `google_service_account` auth, reused as is), or else from the metadata server of the
//! Google Cloud machine sluice runs on (`GCE_METADATA_HOST` overrides its address).
//! `CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER` overrides the API's base URL, as it does
//! for gcloud.

use base64::Engine as _;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use serde::Deserialize;
use url::Url;

use super::http::{self, excerpt, shown};
use super::SecretError;
use crate::model::{FailureKind, Secret};
use crate::source::auth::config::AuthConfig;
use crate::source::auth::Authenticator;

/// Secret Manager's API base URL.
const DEFAULT_ENDPOINT: &str = "https://secretmanager.googleapis.com/";
/// The scope Secret Manager accepts.
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The metadata server's name inside Google Cloud.
const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";

/// A Secret Manager client with its token source. One client serves every `${gcp-sm:…}`
/// reference of a load, concurrently (`access` takes `&self`).
pub(super) struct Client {
    http: reqwest::Client,
    endpoint: Url,
    tokens: Tokens,
    /// Held while a token is obtained, so concurrent accesses wait for the first one's
    /// token instead of each asking for their own.
    token_lock: tokio::sync::Mutex<Option<HeaderValue>>,
}

/// Where access tokens come from.
enum Tokens {
    /// A service account key file; the authenticator caches its token.
    ServiceAccount { auth: Authenticator, file: String },
    /// The metadata server; its token is kept for the rest of the load (in
    /// `Client::token_lock`).
    Metadata { url: Url },
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Client {
    /// Reads the endpoint and the credentials' location from the environment.
    pub(super) fn from_env() -> Result<Client, SecretError> {
        let http = http::client(None)?;
        let endpoint = match var("CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER") {
            Some(value) => {
                // `join` below appends to the base only when it ends with a slash.
                let base = format!("{}/", value.trim().trim_end_matches('/'));
                Url::parse(&base).map_err(|err| {
                    SecretError::Setup(format!("CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER `{value}` is not a URL: {err} (hint: write it like {DEFAULT_ENDPOINT})"))
                })?
            }
            None => Url::parse(DEFAULT_ENDPOINT)
                .map_err(|err| SecretError::Internal(err.to_string()))?,
        };
        let tokens = match var("GOOGLE_APPLICATION_CREDENTIALS") {
            Some(file) => service_account(&file, http.clone())?,
            None => {
                let host = var("GCE_METADATA_HOST").unwrap_or(DEFAULT_METADATA_HOST.into());
                let text = format!(
                    "http://{host}/computeMetadata/v1/instance/service-accounts/default/token"
                );
                let url = Url::parse(&text).map_err(|err| {
                    SecretError::Setup(format!("GCE_METADATA_HOST `{host}` does not make a URL: {err} (hint: write a host and port, e.g. 169.254.169.254)"))
                })?;
                Tokens::Metadata { url }
            }
        };
        Ok(Client {
            http,
            endpoint,
            tokens,
            token_lock: tokio::sync::Mutex::new(None),
        })
    }

    /// The secret version's payload, as text.
    pub(super) async fn access(&self, name: &str) -> Result<Secret, SecretError> {
        let url = self.endpoint.join(&format!("v1/{name}:access")).map_err(|err| {
            SecretError::Malformed(format!("`{name}` does not make a Secret Manager URL: {err} (hint: write projects/PROJECT/secrets/SECRET/versions/VERSION)"))
        })?;
        let shown_url = shown(&url);
        let authorization = self.authorization(&url).await?;
        let answer = http::send(|| {
            Ok(self
                .http
                .get(url.clone())
                .header(AUTHORIZATION, authorization.clone()))
        })
        .await
        .map_err(|err| err.map_message(|detail| {
            format!("Google Secret Manager at {shown_url}: {detail} (hint: check the network path to the endpoint; CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER overrides it)")
        }))?;
        if !answer.status.is_success() {
            return Err(refusal(
                &shown_url,
                answer.status,
                &answer.body,
                &self.tokens,
            ));
        }
        let accessed: Accessed = serde_json::from_slice(&answer.body).map_err(|_| {
            SecretError::BadResponse(format!("Google Secret Manager at {shown_url} answered with a body that is not an access result (hint: check that the endpoint is Secret Manager's)"))
        })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(accessed.payload.data.as_bytes())
            .map_err(|_| {
                SecretError::BadResponse(format!(
                    "Google Secret Manager at {shown_url} sent a payload that is not base64"
                ))
            })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            SecretError::Unusable("the secret's payload is not UTF-8 text (hint: a config value must be text; store the secret as text)".to_string())
        })?;
        // Payloads are often uploaded from a file written with a final newline; like
        // `${file:}`, the newline is not part of the value.
        Ok(Secret::new(text.trim_end_matches(['\n', '\r'])))
    }

    /// The `Authorization` value for a request to `url`. One caller at a time obtains it;
    /// the others then find it cached (the authenticator's cache, or the metadata token).
    async fn authorization(&self, url: &Url) -> Result<HeaderValue, SecretError> {
        let mut current = self.token_lock.lock().await;
        match &self.tokens {
            Tokens::ServiceAccount { auth, file } => {
                let mut request = self.http.get(url.clone()).build().map_err(|err| {
                    SecretError::Malformed(format!(
                        "cannot build the request to {}: {err}",
                        shown(url)
                    ))
                })?;
                auth.authorize(&mut request).await.map_err(|err| {
                    let kind = err.failure_kind();
                    let text = format!("cannot get an access token for the service account in {file} (GOOGLE_APPLICATION_CREDENTIALS): {err}");
                    match kind {
                        FailureKind::Network => SecretError::Unreachable(text),
                        FailureKind::Server | FailureKind::RateLimited => SecretError::Server(text),
                        FailureKind::Permission => SecretError::Permission(text),
                        FailureKind::BadResponse => SecretError::BadResponse(text),
                        _ => SecretError::Auth(text),
                    }
                })?;
                request
                    .headers()
                    .get(AUTHORIZATION)
                    .cloned()
                    .ok_or_else(|| {
                        SecretError::Internal(
                            "the service account authenticator set no token".to_string(),
                        )
                    })
            }
            Tokens::Metadata { url } => {
                if let Some(value) = &*current {
                    return Ok(value.clone());
                }
                let value = metadata_token(&self.http, url).await?;
                *current = Some(value.clone());
                Ok(value)
            }
        }
    }
}

/// The token source for a key file. Only service account keys: user credentials from
/// `gcloud auth application-default login` need a refresh-token flow sluice does not have.
fn service_account(file: &str, http: reqwest::Client) -> Result<Tokens, SecretError> {
    let text = std::fs::read_to_string(file).map_err(|err| {
        SecretError::Setup(format!("cannot read GOOGLE_APPLICATION_CREDENTIALS file {file}: {err} (hint: point it at the service account's JSON key file)"))
    })?;
    let kind = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_string));
    if kind.as_deref() != Some("service_account") {
        return Err(SecretError::Setup(format!(
            "GOOGLE_APPLICATION_CREDENTIALS file {file} is not a service account key (type {}) (hint: create a JSON key for a service account; user and workload identity federation credentials are not supported, but the metadata server is: unset the variable on Google Cloud)",
            kind.as_deref().unwrap_or("missing")
        )));
    }
    // The key is scrubbed like the secrets it fetches (its private key: by the authenticator).
    crate::redact::register(&text);
    let config = AuthConfig::GoogleServiceAccount {
        credentials: Secret::new(text),
        scopes: vec![SCOPE.to_string()],
        subject: None,
        token_url: None,
    };
    let auth = Authenticator::new(&config, http).map_err(|err| {
        SecretError::Setup(format!("GOOGLE_APPLICATION_CREDENTIALS file {file}: {err}"))
    })?;
    Ok(Tokens::ServiceAccount {
        auth,
        file: file.to_string(),
    })
}

/// A token from the metadata server of the Google Cloud machine sluice runs on.
async fn metadata_token(
    http_client: &reqwest::Client,
    url: &Url,
) -> Result<HeaderValue, SecretError> {
    let shown_url = shown(url);
    let answer = http::send(|| {
        Ok(http_client
            .get(url.clone())
            .header("Metadata-Flavor", "Google"))
    })
    .await
    .map_err(|err| err.map_message(|detail| {
        format!("cannot get an access token from the metadata server at {shown_url}: {detail} (hint: outside Google Cloud, set GOOGLE_APPLICATION_CREDENTIALS to a service account key file)")
    }))?;
    if !answer.status.is_success() {
        // The metadata server's refusals (no service account attached: 404) are the
        // machine's setup, not a secret's; its failures stay failures.
        let text = format!(
            "the metadata server at {shown_url} answered HTTP {}: {} (hint: attach a service account to the machine, or set GOOGLE_APPLICATION_CREDENTIALS to a key file)",
            answer.status.as_u16(),
            excerpt(&String::from_utf8_lossy(&answer.body))
        );
        return Err(match SecretError::from_status(answer.status, text) {
            SecretError::NotFound(text) | SecretError::BadResponse(text) => {
                SecretError::Setup(text)
            }
            other => other,
        });
    }
    #[derive(Deserialize)]
    struct Token {
        access_token: String,
    }
    let token: Token = serde_json::from_slice(&answer.body).map_err(|_| {
        SecretError::BadResponse(format!("the metadata server at {shown_url} answered without an access_token (hint: check GCE_METADATA_HOST)"))
    })?;
    crate::redact::register_token(&token.access_token);
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", token.access_token)).map_err(|_| {
            SecretError::BadResponse(format!(
                "the metadata server at {shown_url} issued a token that cannot go into a header"
            ))
        })?;
    value.set_sensitive(true);
    Ok(value)
}

#[derive(Deserialize)]
struct Accessed {
    payload: Payload,
}

#[derive(Deserialize)]
struct Payload {
    data: String,
}

/// The error for a non-2xx answer: Google's status and message, and a hint.
fn refusal(
    shown_url: &str,
    status: reqwest::StatusCode,
    body: &[u8],
    tokens: &Tokens,
) -> SecretError {
    let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let error = &parsed["error"];
    let kind = error["status"].as_str().unwrap_or_default().to_string();
    let message = error["message"]
        .as_str()
        .map(excerpt)
        .unwrap_or_else(|| excerpt(&String::from_utf8_lossy(body)));
    let identity = match tokens {
        Tokens::ServiceAccount { file, .. } => format!("the service account in {file}"),
        Tokens::Metadata { .. } => "the machine's service account".to_string(),
    };
    let hint = match status.as_u16() {
        404 => "check the project, the secret's name and the version (`latest` is the newest enabled one)".to_string(),
        403 => format!("grant {identity} roles/secretmanager.secretAccessor on the secret, and check that the Secret Manager API is enabled in the project"),
        401 => format!("Google refused the access token of {identity}; check that its key is current"),
        400 if kind == "FAILED_PRECONDITION" => "the version is disabled or destroyed: enable it or name another version".to_string(),
        429 | 500..=599 => "Secret Manager is failing or throttling; try again later".to_string(),
        _ => "check the secret version's name and the credentials".to_string(),
    };
    let disabled = status.as_u16() == 400 && kind == "FAILED_PRECONDITION";
    let kind = if kind.is_empty() {
        String::new()
    } else {
        format!(" {kind}")
    };
    let text = format!(
        "Google Secret Manager at {shown_url} answered HTTP {}{kind}: {message} (hint: {hint})",
        status.as_u16()
    );
    if disabled {
        // A disabled or destroyed version is as good as absent: the config must name another.
        return SecretError::NotFound(text);
    }
    SecretError::from_status(status, text)
}
