//! Putting a source's credentials on its requests.
//!
//! [`Authenticator`] is built once per source from its [`AuthConfig`] and then authorizes
//! each request just before it is sent: a fixed header (`bearer`, `basic`, `api_key` in a
//! header), a query parameter (`api_key` in the query), a cached access token (`oauth2_client_
//! credentials`, `google_service_account`) or a per-request signature (`duo_hmac`).
//!
//! The caller's side of the contract, for token kinds: when the API answers 401, call
//! [`Authenticator::invalidate`]; if it returns true, authorize a fresh copy of the request
//! and send it once more. Never more than once per request: a second 401 means the new token
//! is refused too, and retrying further would only hammer the token endpoint.
//!
//! Secrets stay secret: header values that carry them are marked sensitive, errors name
//! fields and URLs but never values, and [`Authenticator::secret_query_params`] tells the
//! caller which query parameters to hide when it prints a URL.

pub mod client_key;
pub mod config;
mod duo;
mod google;
mod oauth2;
mod token;

#[cfg(test)]
pub(crate) mod tests;

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use url::Url;

use crate::model::Secret;
use crate::source::link_secrets::LinkSecrets;
use crate::source::SourceError;
use client_key::ClientProof;
use config::AuthConfig;
use token::{Grant, TokenCache};

/// Authorizes a source's requests. Cloning is cheap and clones share the token cache.
#[derive(Clone)]
pub struct Authenticator {
    scheme: Arc<Scheme>,
    /// The credentials a next-page link may carry, put back before a request is sent.
    links: Arc<LinkSecrets>,
}

/// What `authorize` does, decided once from the config.
enum Scheme {
    /// Nothing.
    None,
    /// Set one header to a fixed value (bearer, basic, api_key in a header).
    Header {
        name: HeaderName,
        value: HeaderValue,
    },
    /// Set one query parameter to a fixed value (api_key in the query).
    Query { name: String, value: Secret },
    /// Set one top-level field of the JSON body (api_key in the body).
    Body { field: String, value: Secret },
    /// Send the current access token, from a cache that may be shared (see
    /// [`Authenticator::shared`]).
    Token(Arc<TokenCache>),
    /// Sign each request (Duo).
    Duo(duo::DuoSigner),
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the kind: every other detail is either secret or in the config already.
        f.debug_struct("Authenticator")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Builds the authenticator. `client` is the source's reqwest client (rustls, redirects
    /// disabled); token requests use it too. Config problems (see [`AuthConfig::validate`])
    /// come back as [`SourceError::Invalid`]. Its token, if it uses one, is its own.
    pub fn new(config: &AuthConfig, client: reqwest::Client) -> Result<Self, SourceError> {
        Self::build(config, client, None)
    }

    /// As [`Authenticator::new`], but token kinds share one token per credential with every
    /// other authenticator of the process built this way for the same credential (token
    /// URL, client id, secret or key, scopes, ...) and the same `transport`, a description
    /// of how `client` connects (TLS roots, client certificate): N sources of one Okta org
    /// fetch one token, once per its lifetime, not N tokens per run.
    pub fn shared(
        config: &AuthConfig,
        client: reqwest::Client,
        transport: &str,
    ) -> Result<Self, SourceError> {
        Self::build(config, client, Some(transport))
    }

    fn build(
        config: &AuthConfig,
        client: reqwest::Client,
        transport: Option<&str>,
    ) -> Result<Self, SourceError> {
        config.validate()?;
        let cache = |grant: Grant, client: reqwest::Client| {
            let make = || TokenCache::new(grant, client);
            match transport.and_then(|t| credential_key(config, t)) {
                Some(key) => token::shared(key, make),
                None => Arc::new(make()),
            }
        };
        let scheme = match config {
            AuthConfig::None => Scheme::None,
            AuthConfig::Bearer { token, prefix } => Scheme::Header {
                name: AUTHORIZATION,
                value: sensitive_value("token", &prefixed(Some(prefix), token.expose()))?,
            },
            AuthConfig::ApiKey(api_key) => match api_key.body_field() {
                Some(field) => Scheme::Body {
                    field: field.to_string(),
                    value: api_key.key.clone(),
                },
                None => api_key_scheme(api_key.header(), api_key.query(), &api_key.key)?,
            },
            AuthConfig::Basic { username, password } => Scheme::Header {
                name: AUTHORIZATION,
                value: basic_value(username, password.expose())?,
            },
            AuthConfig::Oauth2ClientCredentials {
                token_url,
                client_id,
                scopes,
                audience,
                grant_type,
                token_params,
                ..
            } => {
                let proof = config
                    .client_proof()
                    .ok_or_else(|| SourceError::Setup("auth: not an OAuth 2.0 config".into()))?
                    .map_err(SourceError::Invalid)?;
                Scheme::Token(cache(
                    Grant::ClientCredentials(
                        oauth2::ClientCredentials::new(
                            parse_url("token_url", token_url)?,
                            token_url,
                            client_id,
                            proof,
                            scopes,
                            audience.as_deref(),
                        )
                        .with_grant(grant_type, token_params),
                    ),
                    client,
                ))
            }
            AuthConfig::Oauth2RefreshToken {
                token_url,
                client_id,
                client_secret,
                refresh_token,
                scopes,
                client_auth,
            } => {
                let proof = if client_auth.in_body() {
                    ClientProof::Body(client_secret.clone())
                } else {
                    ClientProof::Basic(client_secret.clone())
                };
                Scheme::Token(cache(
                    Grant::ClientCredentials(
                        oauth2::ClientCredentials::new(
                            parse_url("token_url", token_url)?,
                            token_url,
                            client_id,
                            proof,
                            scopes,
                            None,
                        )
                        .with_refresh_token(refresh_token.clone()),
                    ),
                    client,
                ))
            }
            AuthConfig::GoogleServiceAccount { .. } => {
                Scheme::Token(cache(google_grant(config)?, client))
            }
            AuthConfig::DuoHmac {
                integration_key,
                secret_key,
                signature_version,
            } => {
                let version = match signature_version.number() {
                    2 => duo::Version::V2,
                    _ => duo::Version::V5,
                };
                Scheme::Duo(duo::DuoSigner::new(integration_key, secret_key, version))
            }
        };
        Ok(Authenticator {
            scheme: Arc::new(scheme),
            links: Arc::new(LinkSecrets::new(config)),
        })
    }

    /// How credentials are applied, for logs: `none`, `header`, `query`, `token` or
    /// `duo_hmac`.
    pub fn kind(&self) -> &'static str {
        match &*self.scheme {
            Scheme::None => "none",
            Scheme::Header { .. } => "header",
            Scheme::Query { .. } => "query",
            Scheme::Body { .. } => "body",
            Scheme::Token(_) => "token",
            Scheme::Duo(_) => "duo_hmac",
        }
    }

    /// Adds credentials to a request that is about to be sent: a header, a query parameter
    /// or a signature. Token kinds may fetch or refresh the token first. Call it last, after
    /// the URL and headers are final (a Duo signature covers the query), and again on every
    /// resend (a Duo signature covers the time). Calling it twice on one request is harmless.
    ///
    /// First, a credential a saved next-page link carried is put back where its placeholder
    /// stands, with its live value (see [`LinkSecrets`]).
    pub async fn authorize(&self, request: &mut reqwest::Request) -> Result<(), SourceError> {
        let token = match &*self.scheme {
            Scheme::Token(cache) => Some(cache.authorization().await?),
            _ => None,
        };
        self.links
            .reveal(
                request.url_mut(),
                token.as_ref().map(|token| &token.access_token),
            )
            .map_err(SourceError::SavedLink)?;
        match &*self.scheme {
            Scheme::None => {}
            Scheme::Header { name, value } => {
                request.headers_mut().insert(name.clone(), value.clone());
            }
            Scheme::Query { name, value } => set_query_param(request.url_mut(), name, value),
            Scheme::Body { field, value } => set_body_field(request, field, value)?,
            Scheme::Token(_) => {
                if let Some(token) = token {
                    request.headers_mut().insert(AUTHORIZATION, token.header);
                }
            }
            Scheme::Duo(signer) => signer.sign(request)?,
        }
        Ok(())
    }

    /// The source's credentials as next-page links may carry them.
    pub fn link_secrets(&self) -> &LinkSecrets {
        &self.links
    }

    /// The API answered 401 to a request authorized with the current credentials. Token
    /// kinds drop the cached token, so the next [`Authenticator::authorize`] fetches a new
    /// one, and return true: one retry may help. Static credentials and signatures return
    /// false: the same credentials will be refused again.
    pub async fn invalidate(&self) -> bool {
        match &*self.scheme {
            Scheme::Token(cache) => {
                cache.invalidate().await;
                true
            }
            Scheme::None
            | Scheme::Header { .. }
            | Scheme::Query { .. }
            | Scheme::Body { .. }
            | Scheme::Duo(_) => false,
        }
    }

    /// Query parameter names whose values are secret (an API key in the query), so that URLs
    /// can be redacted before they are logged or put in an error.
    pub fn secret_query_params(&self) -> Vec<String> {
        match &*self.scheme {
            Scheme::Query { name, .. } => vec![name.clone()],
            _ => Vec::new(),
        }
    }
}

/// `api_key`: a header when `header` is set, else a query parameter.
fn api_key_scheme(
    header: Option<(&str, Option<&str>)>,
    query: Option<&str>,
    key: &Secret,
) -> Result<Scheme, SourceError> {
    match (header, query) {
        (Some((name, prefix)), _) => Ok(Scheme::Header {
            name: HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                SourceError::Setup(format!(
                    "auth.header: `{name}` is not a valid HTTP header name (hint: e.g. header = \"X-API-Key\")"
                ))
            })?,
            value: sensitive_value("key", &prefixed(prefix, key.expose()))?,
        }),
        (None, Some(name)) => Ok(Scheme::Query {
            name: name.to_string(),
            value: key.clone(),
        }),
        // Deserialization guarantees one of the two; never fall back to no auth.
        (None, None) => Err(SourceError::Setup(
            "auth: api_key needs `header` or `query`".into(),
        )),
    }
}

/// `google_service_account`: parses the JSON key and prepares the JWT grant.
fn google_grant(config: &AuthConfig) -> Result<Grant, SourceError> {
    let (
        AuthConfig::GoogleServiceAccount {
            scopes,
            subject,
            token_url,
            ..
        },
        Some(parsed),
    ) = (config, config.service_account_key())
    else {
        return Err(SourceError::Setup(
            "auth: not a google_service_account config".into(),
        ));
    };
    let key = parsed.map_err(SourceError::Invalid)?;
    // The key file is registered whole by the config; its private key alone too, for an
    // echo of just that.
    crate::redact::register(&key.private_key);
    let account = google::ServiceAccount::new(
        google::AccountKey {
            client_email: &key.client_email,
            private_key_pem: &key.private_key,
            key_id: key.private_key_id.as_deref(),
            token_uri: &key.token_uri,
        },
        token_url.as_deref(),
        scopes,
        subject.as_deref(),
    )?;
    Ok(Grant::Google(account))
}

/// What identifies a token: every setting of the credential that goes into the token request,
/// and the `transport` the request goes through. Secrets enter only through a SHA-256, and
/// the key never leaves the process. `None` for kinds without tokens.
fn credential_key(config: &AuthConfig, transport: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    let mut parts: Vec<String> = vec![transport.to_string()];
    match config {
        AuthConfig::Oauth2ClientCredentials {
            token_url,
            client_id,
            client_secret,
            private_key,
            key_id,
            certificate,
            algorithm,
            assertion_audience,
            scopes,
            audience,
            grant_type,
            token_params,
            client_auth,
        } => {
            parts.extend([
                "oauth2_client_credentials".to_string(),
                token_url.clone(),
                client_id.clone(),
                format!(
                    "{client_auth:?} {algorithm:?} {key_id:?} {assertion_audience:?} {audience:?} \
                     {grant_type:?} {token_params:?}"
                ),
            ]);
            for secret in [client_secret, private_key, certificate] {
                parts.push(secret.as_ref().map_or("", Secret::expose).to_string());
            }
            parts.extend(scopes.iter().cloned());
        }
        AuthConfig::Oauth2RefreshToken {
            token_url,
            client_id,
            client_secret,
            refresh_token,
            scopes,
            client_auth,
        } => {
            parts.extend([
                "oauth2_refresh_token".to_string(),
                token_url.clone(),
                client_id.clone(),
                format!("{client_auth:?}"),
                client_secret.expose().to_string(),
                refresh_token.expose().to_string(),
            ]);
            parts.extend(scopes.iter().cloned());
        }
        AuthConfig::GoogleServiceAccount {
            credentials,
            scopes,
            subject,
            token_url,
        } => {
            parts.extend([
                "google_service_account".to_string(),
                credentials.expose().to_string(),
                format!("{subject:?} {token_url:?}"),
            ]);
            parts.extend(scopes.iter().cloned());
        }
        _ => return None,
    }
    let mut hasher = Sha256::new();
    for part in &parts {
        // Length-prefixed, so no two different lists hash alike.
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    Some(
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// `<prefix> <secret>`, or the bare secret when the prefix is absent or empty.
fn prefixed(prefix: Option<&str>, secret: &str) -> String {
    match prefix.map(str::trim).filter(|p| !p.is_empty()) {
        Some(prefix) => format!("{prefix} {secret}"),
        None => secret.to_string(),
    }
}

/// A header value that carries a secret: checked, and marked sensitive so that HTTP/2
/// compression and debug output leave it alone.
fn sensitive_value(field: &str, text: &str) -> Result<HeaderValue, SourceError> {
    let mut value = HeaderValue::from_str(text).map_err(|_| {
        SourceError::Setup(format!(
            "auth.{field}: contains characters not allowed in an HTTP header (hint: check for a stray newline)"
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// `Basic base64(username:password)` (RFC 7617).
fn basic_value(username: &str, password: &str) -> Result<HeaderValue, SourceError> {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    // The password alone is registered by the config; the header's whole value is too, so
    // that no part of it is left when an API echoes it.
    crate::redact::register(&encoded);
    sensitive_value("username", &format!("Basic {encoded}"))
}

fn parse_url(field: &str, text: &str) -> Result<Url, SourceError> {
    Url::parse(text).map_err(|err| {
        SourceError::Setup(format!(
            "auth.{field}: `{text}` is not a URL: {err} (hint: write it like https://login.example.com/oauth2/token)"
        ))
    })
}

/// Sets `name=value` in the query, replacing an earlier value so that re-authorizing a
/// request does not repeat the parameter. Other parameters keep their exact encoding unless
/// the parameter was already there.
fn set_query_param(url: &mut Url, name: &str, value: &Secret) {
    let present = url.query_pairs().any(|(k, _)| k == name);
    if present {
        let others: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != name)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut().clear().extend_pairs(others);
    }
    url.query_pairs_mut().append_pair(name, value.expose());
}

/// Sets top-level field `field` of the request's JSON body to the secret, replacing an earlier
/// value so that re-authorizing a request is harmless. The body must be a JSON object: a
/// request without one, or with another body, cannot carry the key (a config mistake, said at
/// once rather than sent without the key).
fn set_body_field(
    request: &mut reqwest::Request,
    field: &str,
    value: &Secret,
) -> Result<(), SourceError> {
    let refuse = || {
        SourceError::Setup(format!(
            "auth.body: the API key goes in body field `{field}`, but the request has no JSON object body (hint: set method = \"POST\" and a `body` template that is a JSON object)"
        ))
    };
    let bytes = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .ok_or_else(refuse)?;
    let mut object = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(object)) => object,
        _ => return Err(refuse()),
    };
    object.insert(
        field.to_string(),
        serde_json::Value::String(value.expose().to_string()),
    );
    // A map of JSON values always serializes.
    let body = serde_json::to_vec(&object).expect("JSON values serialize");
    *request.body_mut() = Some(reqwest::Body::from(body));
    Ok(())
}

/// A URL fit for messages: no user name or password.
fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    // These fail only for URLs that cannot carry credentials, which then have none to hide.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}
