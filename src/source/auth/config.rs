//! `auth`: how a source's requests prove who they are.
//!
//! Each [`AuthConfig`] variant is one scheme, chosen with `kind`; `crate::source::auth` puts it
//! on the wire. Deserialization rejects what the shape alone rules out (unknown keys, an API
//! key with both or neither of `header` and `query`, an unknown Duo signature version);
//! [`AuthConfig::validate`] checks what needs a closer look (URLs, the Google key file, values
//! that cannot go into an HTTP header).
//!
//! Every secret is a [`Secret`], so `Debug` output of the whole config shows `[redacted]` in
//! their place and error messages here never quote them.

use std::fmt;

use serde::Deserialize;

use super::client_key;
use crate::model::{Problem, Secret};

/// `auth`: how requests prove who they are. `kind` picks the scheme; the other keys belong to
/// that scheme.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// `kind = "none"`: no credentials (the default).
    #[default]
    None,
    /// `kind = "bearer"`: `Authorization: <prefix> <token>`; the prefix is `Bearer` unless set
    /// (Okta uses `SSWS`).
    Bearer {
        /// The token, usually `${env:NAME}` or `${file:PATH}`.
        token: Secret,
        /// The word before the token; `""` sends the bare token.
        #[serde(default = "default_bearer_prefix")]
        prefix: String,
    },
    /// `kind = "api_key"`: a static key in a header (`header = "X-API-Key"`) or in a query
    /// parameter (`query = "api_key"`); exactly one of the two.
    ApiKey(ApiKeyConfig),
    /// `kind = "basic"`: HTTP Basic authentication, `Authorization: Basic
    /// base64(username:password)`.
    Basic {
        /// The user name (not secret; it may not contain `:`).
        username: String,
        /// The password, usually `${env:NAME}` or `${file:PATH}`.
        password: Secret,
    },
    /// `kind = "oauth2_client_credentials"`: an OAuth 2.0 access token from the client
    /// credentials grant (RFC 6749 section 4.4), sent as `Authorization: Bearer <token>`. The
    /// token is cached, refreshed before it expires, and fetched anew once if the API answers
    /// 401.
    Oauth2ClientCredentials {
        /// The token endpoint, e.g. `https://acme.okta.com/oauth2/default/v1/token`.
        token_url: String,
        /// The client (application) id.
        client_id: String,
        /// The client secret, usually `${env:NAME}` or `${file:PATH}`. Required unless
        /// `client_auth = "private_key_jwt"`.
        #[serde(default)]
        client_secret: Option<Secret>,
        /// `private_key_jwt` only: the client's private key (PEM, PKCS#8 RSA or EC P-256, or
        /// PKCS#1 RSA), usually `${file:PATH}`; it signs the client assertion.
        #[serde(default)]
        private_key: Option<Secret>,
        /// `private_key_jwt` only: the key's id, sent as the assertion's `kid` (Okta matches it
        /// against the keys registered for the client).
        #[serde(default)]
        key_id: Option<String>,
        /// `private_key_jwt` only: the certificate of the key (PEM), whose thumbprints are
        /// sent as `x5t` and `x5t#S256` (Microsoft Entra certificate credentials).
        #[serde(default)]
        certificate: Option<Secret>,
        /// `private_key_jwt` only: the signing algorithm; by default `RS256` for an RSA key
        /// and `ES256` for an EC key.
        #[serde(default)]
        algorithm: Option<AssertionAlgorithm>,
        /// `private_key_jwt` only: the assertion's audience, when the provider wants
        /// something other than the token URL.
        #[serde(default)]
        assertion_audience: Option<String>,
        /// Scopes to request, sent space-separated as `scope`; none by default.
        #[serde(default)]
        scopes: Vec<String>,
        /// `audience` form field, for providers that want one (Auth0 and others).
        #[serde(default)]
        audience: Option<String>,
        /// The `grant_type` form field; `client_credentials` unless set (Zoom's
        /// Server-to-Server OAuth apps use `account_credentials`).
        #[serde(default = "default_grant_type")]
        grant_type: String,
        /// Further form fields of the token request, for providers that want more than the
        /// standard ones (Zoom's `account_id`). They may not repeat a field Sluice sends.
        #[serde(default)]
        token_params: std::collections::BTreeMap<String, String>,
        /// How the client proves itself to the token endpoint: `"basic"` (HTTP Basic with the
        /// client id and secret, the default), `"body"` (`client_id` and `client_secret`
        /// form fields) or `"private_key_jwt"` (a JWT signed with `private_key`, RFC 7523).
        #[serde(default)]
        client_auth: ClientAuth,
    },
    /// `kind = "oauth2_refresh_token"`: an OAuth 2.0 access token from the refresh token grant
    /// (RFC 6749 section 6), for APIs whose long-lived credential is a refresh token issued
    /// once to an app (Dropbox). Sent as `Authorization: Bearer <token>`, cached and
    /// refreshed like `oauth2_client_credentials`. A new refresh token in an answer is not
    /// kept: providers that rotate refresh tokens are not supported.
    Oauth2RefreshToken {
        /// The token endpoint, e.g. `https://api.dropboxapi.com/oauth2/token`.
        token_url: String,
        /// The client (app) id.
        client_id: String,
        /// The client secret, usually `${env:NAME}` or `${file:PATH}`.
        client_secret: Secret,
        /// The refresh token, usually `${env:NAME}` or `${file:PATH}`.
        refresh_token: Secret,
        /// Scopes to request, sent space-separated as `scope`; none by default (the token
        /// then carries every scope granted with the refresh token).
        #[serde(default)]
        scopes: Vec<String>,
        /// How the client proves itself to the token endpoint: `"basic"` (the default) or
        /// `"body"`.
        #[serde(default)]
        client_auth: ClientAuth,
    },
    /// `kind = "google_service_account"`: a Google access token for a service account, from a
    /// JWT signed with the account's key (the JWT bearer grant, RFC 7523). Cached and
    /// refreshed like `oauth2_client_credentials`.
    GoogleServiceAccount {
        /// The service account's JSON key, usually `${file:/path/key.json}`. It must hold
        /// `client_email`, `private_key` (PEM) and `token_uri`; `private_key_id` is sent as the
        /// JWT's `kid` when present.
        credentials: Secret,
        /// OAuth scopes to request, e.g.
        /// `["https://www.googleapis.com/auth/admin.reports.audit.readonly"]`.
        scopes: Vec<String>,
        /// A user to act as (domain-wide delegation): the JWT's `sub`. Google Workspace
        /// audit logs need an administrator here.
        #[serde(default)]
        subject: Option<String>,
        /// Where to send the token request instead of the key's `token_uri` (a proxy, a
        /// private endpoint, a test server). The JWT audience stays the key's `token_uri`.
        #[serde(default)]
        token_url: Option<String>,
    },
    /// `kind = "duo_hmac"`: Duo Admin API request signing. Every request carries a `Date`
    /// header and `Authorization: Basic base64(integration_key:signature)`, where the
    /// signature is an HMAC of the date, method, host, path and sorted query parameters.
    DuoHmac {
        /// The integration key (`DI...`), sent as the Basic user name.
        integration_key: String,
        /// The secret key, usually `${env:NAME}` or `${file:PATH}`; never sent, only used to
        /// sign.
        secret_key: Secret,
        /// Signature format: `5` (HMAC-SHA512 over the request plus body and header hashes,
        /// what Duo's current client libraries send; the default) or `2` (HMAC-SHA1 over the
        /// request, the older documented format).
        #[serde(default)]
        signature_version: DuoSignatureVersion,
    },
}

fn default_grant_type() -> String {
    "client_credentials".to_string()
}

/// Form fields of the token request that Sluice writes itself, so `token_params` cannot.
const TOKEN_FIELDS: [&str; 7] = [
    "grant_type",
    "scope",
    "audience",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

fn default_bearer_prefix() -> String {
    "Bearer".to_string()
}

/// `api_key` settings: the key and where it goes.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawApiKey")]
pub struct ApiKeyConfig {
    /// The key, usually `${env:NAME}` or `${file:PATH}`.
    pub key: Secret,
    /// Where the key is sent.
    pub location: ApiKeyLocation,
}

/// Where an API key is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeyLocation {
    /// In header `name`, as `<prefix> <key>` when a prefix is set, else the bare key.
    Header {
        /// Header name, e.g. `X-API-Key`.
        name: String,
        /// Word before the key, e.g. `Token`.
        prefix: Option<String>,
    },
    /// In query parameter `name`.
    Query {
        /// Parameter name, e.g. `api_key`.
        name: String,
    },
    /// In top-level field `field` of the JSON request body (LastPass's `provhash`), set on
    /// every attempt just before sending: the body template, logs, digests and checkpoints
    /// never hold it.
    Body {
        /// Field name, e.g. `provhash`.
        field: String,
    },
}

/// `api_key` as written in the file; turned into [`ApiKeyConfig`] once its shape is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApiKey {
    /// The key.
    key: Secret,
    /// Header to send the key in.
    header: Option<String>,
    /// Query parameter to send the key in.
    query: Option<String>,
    /// Top-level JSON body field to send the key in.
    body: Option<String>,
    /// Word before the key in the header.
    prefix: Option<String>,
}

impl TryFrom<RawApiKey> for ApiKeyConfig {
    type Error = String;

    fn try_from(raw: RawApiKey) -> Result<Self, String> {
        if let Some(field) = raw.body {
            if raw.prefix.is_some() {
                return Err(
                    "api_key: `prefix` only applies to a key sent in a `header` \
                            (hint: remove `prefix`)"
                        .into(),
                );
            }
            if raw.header.is_some() || raw.query.is_some() {
                return Err(
                    "api_key: set one of `header`, `query` or `body`, not several \
                            (hint: the API's docs say where the key goes)"
                        .into(),
                );
            }
            return Ok(ApiKeyConfig {
                key: raw.key,
                location: ApiKeyLocation::Body { field },
            });
        }
        let location = match (raw.header, raw.query, raw.prefix) {
            (Some(name), None, prefix) => ApiKeyLocation::Header { name, prefix },
            (None, Some(name), None) => ApiKeyLocation::Query { name },
            (None, Some(_), Some(_)) => {
                return Err(
                    "api_key: `prefix` only applies to a key sent in a `header` \
                            (hint: remove `prefix`, or use `header` instead of `query`)"
                        .into(),
                )
            }
            (Some(_), Some(_), _) => {
                return Err("api_key: set either `header` or `query`, not both \
                            (hint: the API's docs say where the key goes; most take a header)"
                    .into())
            }
            (None, None, _) => {
                return Err("api_key: say where the key goes with `header`, `query` or `body` \
                            (hint: e.g. header = \"X-API-Key\", query = \"api_key\" or body = \"provhash\")"
                    .into())
            }
        };
        Ok(ApiKeyConfig {
            key: raw.key,
            location,
        })
    }
}

/// How an OAuth 2.0 client authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (`client_secret_basic`).
    #[default]
    Basic,
    /// `client_id` and `client_secret` form fields (`client_secret_post`).
    Body,
    /// A JWT signed with the client's private key, as `client_assertion` (RFC 7523
    /// section 2.2, OpenID Connect `private_key_jwt`).
    PrivateKeyJwt,
}

/// The algorithm of a `private_key_jwt` client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AssertionAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA key).
    RS256,
    /// RSASSA-PSS with SHA-256 (RSA key; what Microsoft Entra documents).
    PS256,
    /// ECDSA P-256 with SHA-256 (EC key).
    ES256,
}

impl ClientAuth {
    /// Whether the client id and secret go in the form body rather than an HTTP Basic header.
    pub fn in_body(self) -> bool {
        self == ClientAuth::Body
    }
}

/// The Duo request signature format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u8")]
pub enum DuoSignatureVersion {
    /// HMAC-SHA1 over date, method, host, path and parameters.
    V2,
    /// HMAC-SHA512 over the same plus a SHA-512 of the body and of the `X-Duo-*` headers.
    #[default]
    V5,
}

impl DuoSignatureVersion {
    /// The version number as Duo names it: 2 or 5.
    pub fn number(self) -> u8 {
        match self {
            DuoSignatureVersion::V2 => 2,
            DuoSignatureVersion::V5 => 5,
        }
    }
}

impl TryFrom<u8> for DuoSignatureVersion {
    type Error = String;

    fn try_from(version: u8) -> Result<Self, String> {
        match version {
            2 => Ok(DuoSignatureVersion::V2),
            5 => Ok(DuoSignatureVersion::V5),
            other => Err(format!(
                "duo_hmac: signature_version {other} is not supported (hint: use 5, the default, or 2)"
            )),
        }
    }
}

/// The fields of a Google service account JSON key that getting a token needs.
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    /// The account, the JWT's `iss`.
    pub client_email: String,
    /// PKCS#8 PEM RSA private key.
    pub private_key: String,
    /// Key id, the JWT header's `kid`.
    #[serde(default)]
    pub private_key_id: Option<String>,
    /// Google's token endpoint, also the JWT's `aud`.
    pub token_uri: String,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The private key (and its id, which names it) stay out of logs.
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Parses the JSON key file text. Errors never quote the text: it holds the private key.
    pub fn parse(json: &str) -> Result<ServiceAccountKey, Problem> {
        let problem = |message: String, hint: &str| Problem {
            path: "credentials".into(),
            message,
            hint: hint.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(json).map_err(|err| {
            // serde_json's syntax errors give a position, never the offending text.
            problem(
                format!("is not JSON ({err})"),
                "point it at the service account's JSON key, e.g. credentials = \"${file:/etc/sluice/google-key.json}\"",
            )
        })?;
        let kind = value.get("type").and_then(|v| v.as_str()).unwrap_or("");
        if !kind.is_empty() && kind != "service_account" {
            return Err(problem(
                format!("is a `{kind}` credentials file, not a service account key"),
                "create a key for a service account (IAM > Service accounts > Keys > Add key > JSON)",
            ));
        }
        for field in ["client_email", "private_key", "token_uri"] {
            let present = value
                .get(field)
                .and_then(|v| v.as_str())
                .is_some_and(|s| !s.is_empty());
            if !present {
                return Err(problem(
                    format!("the JSON key has no `{field}` string"),
                    "use the JSON key file exactly as Google issued it",
                ));
            }
        }
        // Every field was checked above, so only an odd `private_key_id` can fail here; the
        // message names the field without quoting any value.
        let key: ServiceAccountKey = serde_json::from_value(value).map_err(|_| {
            problem(
                "the JSON key has a field of the wrong type".into(),
                "use the JSON key file exactly as Google issued it",
            )
        })?;
        jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes()).map_err(|_| {
            problem(
                "the key's `private_key` is not a PEM RSA private key".into(),
                "use the JSON key file exactly as Google issued it; the PEM's line breaks must be \\n escapes",
            )
        })?;
        check_http_url("credentials", "the key's token_uri", &key.token_uri)?;
        Ok(key)
    }
}

impl AuthConfig {
    /// For `google_service_account`, its parsed JSON key; `None` for other kinds.
    pub fn service_account_key(&self) -> Option<Result<ServiceAccountKey, Problem>> {
        match self {
            AuthConfig::GoogleServiceAccount { credentials, .. } => {
                Some(ServiceAccountKey::parse(credentials.expose()))
            }
            _ => None,
        }
    }

    /// Checks what deserialization cannot: URLs, the Google key, values an HTTP header cannot
    /// carry. The problem's path is under `auth` (`auth.token_url`), and it shows as
    /// `auth.token_url: ... (hint: ...)`.
    pub fn validate(&self) -> Result<(), Problem> {
        self.problem().map_err(|problem| problem.under("auth"))
    }

    /// [`AuthConfig::validate`] with the field, message and hint kept apart, for loaders
    /// that place each in their own error.
    pub fn problem(&self) -> Result<(), Problem> {
        match self {
            AuthConfig::None => Ok(()),
            AuthConfig::Bearer { token, prefix } => {
                check_header_text("prefix", prefix, false)?;
                check_header_secret("token", token)
            }
            AuthConfig::ApiKey(api_key) => api_key.problem(),
            AuthConfig::Basic { username, password } => {
                check_basic_user("username", username)?;
                if username.contains(':') {
                    // RFC 7617: the first ':' ends the user name, so the server would see a
                    // different user and password.
                    return Err(Problem {
                        path: "username".into(),
                        message: "contains ':', which HTTP Basic cannot carry in a user name"
                            .into(),
                        hint: "check the value; if the API wants `user:token` as one secret, put the part after ':' in password".into(),
                    });
                }
                check_not_empty("password", password)
            }
            AuthConfig::Oauth2ClientCredentials {
                token_url,
                client_id,
                scopes,
                grant_type,
                token_params,
                ..
            } => {
                check_http_url("token_url", "the token endpoint", token_url)?;
                check_basic_user("client_id", client_id)?;
                check_token_fields(grant_type, token_params)?;
                client_key::check_client_proof(self)?;
                check_scopes(scopes, false)
            }
            AuthConfig::Oauth2RefreshToken {
                token_url,
                client_id,
                client_secret,
                refresh_token,
                scopes,
                client_auth,
            } => {
                check_http_url("token_url", "the token endpoint", token_url)?;
                check_basic_user("client_id", client_id)?;
                if *client_auth == ClientAuth::PrivateKeyJwt {
                    return Err(Problem {
                        path: "client_auth".into(),
                        message: "private_key_jwt is not supported with a refresh token".into(),
                        hint: "use client_auth = \"basic\" (the default) or \"body\" with client_secret".into(),
                    });
                }
                check_not_empty("client_secret", client_secret)?;
                check_not_empty("refresh_token", refresh_token)?;
                check_scopes(scopes, false)
            }
            AuthConfig::GoogleServiceAccount {
                credentials,
                scopes,
                subject,
                token_url,
            } => {
                ServiceAccountKey::parse(credentials.expose())?;
                check_scopes(scopes, true)?;
                if let Some(url) = token_url {
                    check_http_url("token_url", "the token endpoint", url)?;
                }
                match subject {
                    Some(subject) if subject.trim().is_empty() => Err(Problem {
                        path: "subject".into(),
                        message: "is empty".into(),
                        hint: "name the user to act as, e.g. subject = \"admin@example.com\", or remove the key".into(),
                    }),
                    _ => Ok(()),
                }
            }
            AuthConfig::DuoHmac {
                integration_key,
                secret_key,
                ..
            } => {
                check_basic_user("integration_key", integration_key)?;
                check_not_empty("secret_key", secret_key)
            }
        }
    }
}

impl ApiKeyConfig {
    /// The header name and optional prefix, when the key goes in a header.
    pub fn header(&self) -> Option<(&str, Option<&str>)> {
        match &self.location {
            ApiKeyLocation::Header { name, prefix } => Some((name, prefix.as_deref())),
            ApiKeyLocation::Query { .. } | ApiKeyLocation::Body { .. } => None,
        }
    }

    /// The query parameter name, when the key goes in the query.
    pub fn query(&self) -> Option<&str> {
        match &self.location {
            ApiKeyLocation::Query { name } => Some(name),
            ApiKeyLocation::Header { .. } | ApiKeyLocation::Body { .. } => None,
        }
    }

    /// The JSON body field, when the key goes in the body.
    pub fn body_field(&self) -> Option<&str> {
        match &self.location {
            ApiKeyLocation::Body { field } => Some(field),
            ApiKeyLocation::Header { .. } | ApiKeyLocation::Query { .. } => None,
        }
    }

    fn problem(&self) -> Result<(), Problem> {
        match &self.location {
            ApiKeyLocation::Header { name, prefix } => {
                if name.is_empty() || !name.bytes().all(is_token_byte) {
                    return Err(Problem {
                        path: "header".into(),
                        message: format!("`{name}` is not a valid HTTP header name"),
                        hint: "use letters, digits and '-', e.g. header = \"X-API-Key\"".into(),
                    });
                }
                if let Some(prefix) = prefix {
                    check_header_text("prefix", prefix, false)?;
                }
                check_header_secret("key", &self.key)
            }
            ApiKeyLocation::Query { name } => {
                if name.is_empty() {
                    return Err(Problem {
                        path: "query".into(),
                        message: "is empty".into(),
                        hint: "name the query parameter the API reads the key from, e.g. query = \"api_key\"".into(),
                    });
                }
                check_not_empty("key", &self.key)
            }
            ApiKeyLocation::Body { field } => {
                if field.is_empty() {
                    return Err(Problem {
                        path: "body".into(),
                        message: "is empty".into(),
                        hint: "name the JSON body field the API reads the key from, e.g. body = \"provhash\"".into(),
                    });
                }
                check_not_empty("key", &self.key)
            }
        }
    }
}

/// RFC 9110 `tchar`: what a header name may be made of.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

pub(super) fn check_not_empty(field: &'static str, secret: &Secret) -> Result<(), Problem> {
    if secret.expose().trim().is_empty() {
        return Err(Problem {
            path: field.into(),
            message: "is empty".into(),
            hint: "check the environment variable or file it is read from".into(),
        });
    }
    Ok(())
}

/// A secret that goes into a header: not empty, and no control characters (a trailing newline
/// from a file is the usual culprit; `${file:..}` strips only the last one).
fn check_header_secret(field: &'static str, secret: &Secret) -> Result<(), Problem> {
    check_not_empty(field, secret)?;
    check_header_text(field, secret.expose(), true)
}

/// `secret` says whether to keep the value out of the message.
fn check_header_text(field: &'static str, text: &str, secret: bool) -> Result<(), Problem> {
    if text.chars().any(|c| c.is_control()) {
        let shown = if secret {
            String::new()
        } else {
            format!(" `{}`", text.escape_debug())
        };
        return Err(Problem {
            path: field.into(),
            message: format!("value{shown} contains a control character (such as a newline), which an HTTP header cannot carry"),
            hint: "check the value, or the file or environment variable it is read from, for a stray line break".into(),
        });
    }
    Ok(())
}

/// A name that travels in a header (user name, client id, integration key): not empty, no
/// control characters.
fn check_basic_user(field: &'static str, user: &str) -> Result<(), Problem> {
    if user.trim().is_empty() {
        return Err(Problem {
            path: field.into(),
            message: "is empty".into(),
            hint: "copy it from the application's settings in the vendor's admin console".into(),
        });
    }
    check_header_text(field, user, false)
}

fn check_http_url(field: &'static str, what: &str, text: &str) -> Result<(), Problem> {
    let hint = "write it like https://login.example.com/oauth2/token".to_string();
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        Ok(_) => Err(Problem {
            path: field.into(),
            message: format!("{what} `{text}` is not an http(s) URL"),
            hint,
        }),
        Err(err) => Err(Problem {
            path: field.into(),
            message: format!("{what} `{text}` is not a URL: {err}"),
            hint,
        }),
    }
}

fn check_token_fields(
    grant_type: &str,
    params: &std::collections::BTreeMap<String, String>,
) -> Result<(), Problem> {
    if grant_type.trim().is_empty() {
        return Err(Problem {
            path: "grant_type".into(),
            message: "is empty".into(),
            hint: "leave it out for client_credentials, or write the grant the provider names \
                   (e.g. account_credentials for Zoom)"
                .into(),
        });
    }
    if let Some(name) = params
        .keys()
        .find(|name| name.trim().is_empty() || TOKEN_FIELDS.contains(&name.as_str()))
    {
        return Err(Problem {
            path: "token_params".into(),
            message: format!("cannot set the form field `{name}`"),
            hint: format!(
                "Sluice writes {} itself: use grant_type, scopes, audience or client_auth instead",
                TOKEN_FIELDS.join(", ")
            ),
        });
    }
    Ok(())
}

fn check_scopes(scopes: &[String], required: bool) -> Result<(), Problem> {
    if required && scopes.is_empty() {
        return Err(Problem {
            path: "scopes".into(),
            message: "is empty; Google issues no access token without a scope".into(),
            hint:
                "e.g. scopes = [\"https://www.googleapis.com/auth/admin.reports.audit.readonly\"]"
                    .into(),
        });
    }
    if let Some(bad) = scopes.iter().find(|s| s.trim().is_empty()) {
        return Err(Problem {
            path: "scopes".into(),
            message: format!("contains an empty scope {bad:?}"),
            hint:
                "list each scope as its own string, e.g. scopes = [\"logs.read\", \"users.read\"]"
                    .into(),
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
