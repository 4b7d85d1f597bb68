//! The Microsoft identity platform's token endpoint for the simulated tenant
//! (`POST /{tenant}/oauth2/v2.0/token`, the client credentials grant), and the access tokens
//! it issues, which Graph then checks.
//!
//! The client proves itself with the app's client secret (`client_secret` form field) or with a
//! client assertion signed by the key of the app's registered certificate. The assertion is
//! verified as Entra documents it ("Certificate credentials"): the header names the
//! certificate by its thumbprint (`x5t#S256`, or `x5t`), the RS256 (or PS256) signature checks
//! against the certificate's public key, `aud` is this token endpoint, `iss` and `sub` are the
//! client id, `jti` is present, `exp` is in the future and `nbf` (if any) not too far ahead.
//! Refusals are Entra's error JSON: `error`, `error_description` starting with the AADSTS
//! code, `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{CERTIFICATE_PEM, CLIENT_ID, TENANT_DOMAIN, TENANT_ID};
use crate::rng::{domain, hash3, unique_uuid};
use crate::{request_base, AppState};

/// Lifetime of an issued access token (Entra's are about an hour; `expires_in` says 3599).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3599);

/// The `client_assertion_type` of a JWT client assertion (RFC 7523).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Microsoft Graph's application id, which a scope may name instead of its URL.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// Graph's resource URLs in the global and national clouds.
const GRAPH_RESOURCES: &[&str] = &[
    "https://graph.microsoft.com",
    "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "https://microsoftgraph.chinacloudapi.cn",
];

/// How far in the future an assertion's `nbf` may lie (clock skew between client and Entra).
const NBF_SKEW_SECS: i64 = 300;

/// The registered certificate and the tokens issued so far.
pub(crate) struct EntraState {
    /// The certificate's public key, or why it could not be read (a build defect the tests
    /// catch; the endpoint then answers 500 instead of panicking).
    key: Result<DecodingKey, String>,
    /// Base64url SHA-1 thumbprint of the certificate's DER (`x5t`).
    x5t: String,
    /// Base64url SHA-256 thumbprint (`x5t#S256`).
    x5t_s256: String,
    tokens: Mutex<HashMap<String, Instant>>,
    sequence: AtomicU64,
}

impl std::fmt::Debug for EntraState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraState")
            .field("x5t_s256", &self.x5t_s256)
            .finish_non_exhaustive()
    }
}

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl EntraState {
    pub(crate) fn new() -> Self {
        let der = pem::parse(CERTIFICATE_PEM)
            .map(|p| p.contents().to_vec())
            .unwrap_or_default();
        Self {
            key: DecodingKey::from_rsa_pem(CERTIFICATE_PEM.as_bytes()).map_err(|e| e.to_string()),
            x5t: base64url(&Sha1::digest(&der)),
            x5t_s256: base64url(&Sha256::digest(&der)),
            tokens: Mutex::new(HashMap::new()),
            sequence: AtomicU64::new(0),
        }
    }

    /// A new access token valid for `lifetime`. It looks like Entra's (a JWT naming the tenant,
    /// the app and its roles) but Graph only looks it up here. Expired tokens are forgotten
    /// whenever one is issued.
    pub(super) fn issue(&self, seed: u64, lifetime: Duration) -> String {
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let header = base64url(br#"{"typ":"JWT","alg":"RS256"}"#);
        let expires = Utc::now().timestamp() + lifetime.as_secs() as i64;
        let claims = json!({
            "aud": "https://graph.microsoft.com",
            "tid": TENANT_ID,
            "appid": CLIENT_ID,
            "roles": ["AuditLog.Read.All", "Directory.Read.All"],
            "exp": expires,
            "uti": format!("{:016x}", hash3(seed, domain::TOKEN, n)),
        });
        let signature = format!(
            "{:016x}{:016x}",
            hash3(seed, domain::TOKEN, !n),
            hash3(seed, domain::TOKEN, n ^ 0x5A5A)
        );
        let token = format!(
            "{header}.{}.{}",
            base64url(claims.to_string().as_bytes()),
            base64url(signature.as_bytes())
        );
        let now = Instant::now();
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.retain(|_, until| *until > now);
        tokens.insert(token.clone(), now + lifetime);
        token
    }

    /// Whether `token` was issued here: `Some(true)` while valid, `Some(false)` once expired
    /// (still remembered), `None` when never issued (or forgotten).
    pub(super) fn check(&self, token: &str) -> Option<bool> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.get(token).map(|until| *until > Instant::now())
    }

    /// The base64url SHA-256 thumbprint of the registered certificate.
    #[cfg(test)]
    pub(super) fn thumbprint_s256(&self) -> &str {
        &self.x5t_s256
    }
}

/// An Entra refusal: HTTP status, OAuth error, AADSTS number and its description.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refused {
    pub(super) status: StatusCode,
    pub(super) error: &'static str,
    pub(super) code: u32,
    pub(super) description: String,
}

fn refused(status: StatusCode, error: &'static str, code: u32, description: String) -> Refused {
    Refused {
        status,
        error,
        code,
        description,
    }
}

fn missing(parameter: &str) -> Refused {
    refused(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{parameter}'."),
    )
}

fn invalid_client(code: u32, description: String) -> Refused {
    refused(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        code,
        description,
    )
}

/// Entra's error JSON for `refusal`; `sequence` makes trace and correlation ids unique.
fn error_response(app: &AppState, base: &str, refusal: &Refused) -> Response {
    let sequence = app.error_seq.fetch_add(1, Ordering::Relaxed);
    let trace = unique_uuid(hash3(app.config.seed, domain::ERROR_ID, 1), sequence);
    let correlation = unique_uuid(hash3(app.config.seed, domain::ERROR_ID, 2), sequence);
    let now = Utc::now();
    let stamp = now.format("%Y-%m-%d %H:%M:%SZ");
    let body = json!({
        "error": refusal.error,
        "error_description": format!(
            "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {stamp}",
            refusal.code, refusal.description
        ),
        "error_codes": [refusal.code],
        "timestamp": stamp.to_string(),
        "trace_id": trace.to_string(),
        "correlation_id": correlation.to_string(),
        "error_uri": format!("{base}/error?code={}", refusal.code),
    });
    json_response(refusal.status, body)
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    (status, headers, body.to_string()).into_response()
}

/// `POST /{tenant}/oauth2/v2.0/token`. Not faulted and not counted in `requests` (the faults
/// stand for Graph's answers); every issued token counts in `tokens_issued`, every refusal in
/// `unauthorized`.
pub(super) async fn token_endpoint(
    State(app): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = request_base(&headers, &app);
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let endpoint = format!("{base}/{tenant}/oauth2/v2.0/token");
    match grant(&app, &tenant, &endpoint, &base, &form) {
        Ok(()) => {
            let token = app.entra.issue(app.config.seed, TOKEN_LIFETIME);
            app.counters.tokens_issued.fetch_add(1, Ordering::Relaxed);
            let lifetime = TOKEN_LIFETIME.as_secs();
            json_response(
                StatusCode::OK,
                json!({
                    "token_type": "Bearer",
                    "expires_in": lifetime,
                    "ext_expires_in": lifetime,
                    "access_token": token,
                }),
            )
        }
        Err(refusal) => {
            app.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
            error_response(&app, &base, &refusal)
        }
    }
}

/// Checks a token request in the order Entra reports problems: tenant, grant, client,
/// scope, then the client's proof.
pub(super) fn grant(
    app: &AppState,
    tenant: &str,
    endpoint: &str,
    base: &str,
    form: &HashMap<String, String>,
) -> Result<(), Refused> {
    if !tenant.eq_ignore_ascii_case(TENANT_ID) && !tenant.eq_ignore_ascii_case(TENANT_DOMAIN) {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        ));
    }
    match form.get("grant_type").map(String::as_str) {
        None => return Err(missing("grant_type")),
        Some("client_credentials") => {}
        Some(other) => {
            return Err(refused(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{other}'."),
            ))
        }
    }
    let client = form.get("client_id").ok_or_else(|| missing("client_id"))?;
    if client != CLIENT_ID {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!("Application with identifier '{client}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."),
        ));
    }
    check_scope(tenant, base, form.get("scope"))?;
    if let Some(assertion) = form.get("client_assertion") {
        match form.get("client_assertion_type").map(String::as_str) {
            None => return Err(missing("client_assertion_type")),
            Some(JWT_BEARER) => {}
            Some(other) => {
                return Err(refused(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    50027,
                    format!("JWT token is invalid or malformed. The client_assertion_type '{other}' is not supported; use '{JWT_BEARER}'."),
                ))
            }
        }
        return check_assertion(&app.entra, assertion, endpoint);
    }
    match form.get("client_secret") {
        Some(secret) if *secret == app.config.token => Ok(()),
        Some(_) => Err(invalid_client(
            7000215,
            format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{CLIENT_ID}'."),
        )),
        None => Err(invalid_client(
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.".to_string(),
        )),
    }
}

/// The scope of a client credentials request must be one resource with `/.default`, and the
/// resource must be Graph (by URL in any cloud, by app id, or this simulator's own URL, which
/// is where a client pointed at it sends Graph requests).
fn check_scope(tenant: &str, base: &str, scope: Option<&String>) -> Result<(), Refused> {
    let scope = scope.ok_or_else(|| missing("scope"))?;
    let Some(resource) = scope.trim().strip_suffix("/.default") else {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        ));
    };
    let resource = resource.trim_end_matches('/');
    let known = GRAPH_RESOURCES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(resource))
        || resource.eq_ignore_ascii_case(GRAPH_APP_ID)
        || resource.eq_ignore_ascii_case(base);
    if known {
        Ok(())
    } else {
        Err(refused(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            format!("The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."),
        ))
    }
}

fn text_claim<'a>(claims: &'a Value, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// Verifies a client assertion against the registered certificate (see the module docs).
pub(super) fn check_assertion(
    state: &EntraState,
    assertion: &str,
    endpoint: &str,
) -> Result<(), Refused> {
    let malformed =
        |why: &str| invalid_client(50027, format!("JWT token is invalid or malformed. ({why})"));
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| malformed("the client assertion is not a signed JWT"))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return Err(malformed(
            "the assertion must be signed with RS256 or PS256",
        ));
    }
    let named = header
        .x5t_s256
        .as_deref()
        .map(|t| t == state.x5t_s256)
        .or_else(|| header.x5t.as_deref().map(|t| t == state.x5t));
    if named != Some(true) {
        let given = header
            .x5t_s256
            .or(header.x5t)
            .unwrap_or_else(|| "(none: no x5t or x5t#S256 header)".to_string());
        return Err(invalid_client(
            700027,
            format!("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{given}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{CLIENT_ID}'.]"),
        ));
    }
    let key = state.key.as_ref().map_err(|e| {
        refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            90015,
            format!("The simulator's certificate cannot be read: {e}"),
        )
    })?;
    let mut validation = Validation::new(header.alg);
    // Claims are checked below, one by one, so each problem gets Entra's own refusal.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let claims = jsonwebtoken::decode::<Value>(assertion, key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => invalid_client(
                700027,
                "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value.]".to_string(),
            ),
            _ => malformed("the assertion's signature or claims cannot be read"),
        })?
        .claims;
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == endpoint,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(endpoint)),
        _ => false,
    };
    if !audience_ok {
        return Err(invalid_client(
            700023,
            format!("Client assertion audience claim does not match Realm issuer. The audience must be '{endpoint}'."),
        ));
    }
    if text_claim(&claims, "iss") != Some(CLIENT_ID)
        || text_claim(&claims, "sub") != Some(CLIENT_ID)
    {
        return Err(invalid_client(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter. The iss and sub claims must both be the client id.".to_string(),
        ));
    }
    if text_claim(&claims, "jti").is_none_or(str::is_empty) {
        return Err(malformed("the assertion has no jti claim"));
    }
    let now = Utc::now().timestamp();
    let exp = claims.get("exp").and_then(Value::as_i64);
    let nbf = claims.get("nbf").and_then(Value::as_i64);
    let in_range =
        exp.is_some_and(|exp| exp > now) && nbf.is_none_or(|nbf| nbf <= now + NBF_SKEW_SECS);
    if !in_range {
        return Err(invalid_client(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {}, expiry time of assertion {}.",
                nbf.map_or("(none)".to_string(), |n| n.to_string()),
                exp.map_or("(none)".to_string(), |e| e.to_string())
            ),
        ));
    }
    Ok(())
}
