//! A Secrets Manager look-alike that checks every request's SigV4 signature the way AWS
//! does: from the request as received (method, path, query, the signed headers' values, the
//! body's hash), with the secret key it knows. The check is its own code, not sluice's
//! signer, and `verifier_accepts_awss_published_vectors` ties it to AWS's test suite.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub const ACCESS_KEY_ID: &str = "AKIDSLUICETEST";
/// TEST-ONLY AWS secret key, known to this server and the tests.
pub const SECRET_ACCESS_KEY: &str = "test-secret-key/Sluice+0123456789abcdef";
pub const SESSION_TOKEN: &str = "test-session-token//Sluice+==";
pub const REGION: &str = "eu-west-3";

/// What the server holds and has seen.
#[derive(Default)]
pub struct State {
    /// SecretId → SecretString.
    pub secrets: Mutex<HashMap<String, String>>,
    /// SecretIds the caller may not read.
    pub denied: Mutex<Vec<String>>,
    /// Requests that passed the signature check, by SecretId.
    pub fetches: Mutex<HashMap<String, usize>>,
    /// Requests refused for their signature or credentials.
    pub refused: AtomicUsize,
}

impl State {
    pub fn fetches_of(&self, id: &str) -> usize {
        self.fetches.lock().unwrap().get(id).copied().unwrap_or(0)
    }
}

pub fn router(state: Arc<State>) -> axum::Router {
    axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move { handle(&state, method, uri, headers, body) }
        },
    )
}

fn error(kind: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.1")],
        serde_json::json!({ "__type": kind, "message": message }).to_string(),
    )
        .into_response()
}

fn handle(state: &State, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if method != Method::POST || header("x-amz-target") != "secretsmanager.GetSecretValue" {
        return error(
            "UnknownOperationException",
            "only GetSecretValue is served here",
        );
    }
    if header("content-type") != "application/x-amz-json-1.1" {
        return error("SerializationException", "wrong content type");
    }
    let checked = verify(
        method.as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        &headers,
        &body,
        SECRET_ACCESS_KEY,
    );
    let scope = match checked {
        Ok(scope) => scope,
        Err(Refusal::UnknownKey) => {
            state.refused.fetch_add(1, Ordering::SeqCst);
            return error(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            );
        }
        Err(Refusal::Bad(why)) => {
            state.refused.fetch_add(1, Ordering::SeqCst);
            return error("InvalidSignatureException", &why);
        }
    };
    // AWS refuses signatures more than five minutes off its clock.
    let signed_at = chrono::NaiveDateTime::parse_from_str(header("x-amz-date"), "%Y%m%dT%H%M%SZ")
        .map(|t| t.and_utc());
    let fresh = signed_at.is_ok_and(|t| (chrono::Utc::now() - t).num_seconds().abs() <= 300);
    if !fresh {
        state.refused.fetch_add(1, Ordering::SeqCst);
        return error(
            "InvalidSignatureException",
            "Signature expired or not yet valid",
        );
    }
    if scope.region != REGION || scope.service != "secretsmanager" {
        state.refused.fetch_add(1, Ordering::SeqCst);
        return error(
            "InvalidSignatureException",
            &format!(
                "Credential should be scoped to a valid region and service, not {}/{}",
                scope.region, scope.service
            ),
        );
    }
    // Temporary credentials: the session token must be sent and signed.
    if header("x-amz-security-token") != SESSION_TOKEN
        || !scope
            .signed_headers
            .contains(&"x-amz-security-token".to_string())
    {
        state.refused.fetch_add(1, Ordering::SeqCst);
        return error(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    }
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(id) = request["SecretId"].as_str() else {
        return error("ValidationException", "SecretId is required");
    };
    *state
        .fetches
        .lock()
        .unwrap()
        .entry(id.to_string())
        .or_default() += 1;
    if state.denied.lock().unwrap().iter().any(|d| d == id) {
        return error(
            "AccessDeniedException",
            &format!("User: arn:aws:iam::123456789012:user/sluice is not authorized to perform: secretsmanager:GetSecretValue on resource: {id} because no identity-based policy allows the secretsmanager:GetSecretValue action"),
        );
    }
    match state.secrets.lock().unwrap().get(id) {
        Some(value) => (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.1")],
            serde_json::json!({
                "ARN": format!("arn:aws:secretsmanager:{REGION}:123456789012:secret:{id}-AbCdEf"),
                "Name": id,
                "SecretString": value,
                "VersionId": "v1",
                "VersionStages": ["AWSCURRENT"],
            })
            .to_string(),
        )
            .into_response(),
        None => error(
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret.",
        ),
    }
}

/// Why a signature was refused.
#[derive(Debug)]
pub enum Refusal {
    UnknownKey,
    Bad(String),
}

/// The credential scope of a request whose signature checked out.
#[derive(Debug)]
pub struct Verified {
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
}

/// Recomputes the signature of a received request and compares it with the one it carries.
pub fn verify(
    method: &str,
    path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    secret_key: &str,
) -> Result<Verified, Refusal> {
    let bad = |why: &str| Refusal::Bad(why.to_string());
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad("missing Authorization"))?;
    let fields = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| bad("not AWS4-HMAC-SHA256"))?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for field in fields.split(',').map(str::trim) {
        match field.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => return Err(bad("unexpected Authorization field")),
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(bad("incomplete Authorization"));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, day, region, service, "aws4_request"] = scope[..] else {
        return Err(bad("malformed Credential"));
    };
    if key_id != ACCESS_KEY_ID && key_id != "AKIDEXAMPLE" {
        return Err(Refusal::UnknownKey);
    }
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad("missing X-Amz-Date"))?;
    if !amz_date.starts_with(day) {
        return Err(bad("X-Amz-Date is not the Credential's day"));
    }
    let signed_headers: Vec<String> = signed.split(';').map(str::to_string).collect();
    for required in ["host", "x-amz-date"] {
        if !signed_headers.iter().any(|h| h == required) {
            return Err(bad("host and x-amz-date must be signed"));
        }
    }
    let mut canonical = String::new();
    canonical.push_str(method);
    canonical.push('\n');
    canonical.push_str(if path.is_empty() { "/" } else { path });
    canonical.push('\n');
    let mut pairs: Vec<&str> = raw_query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort_unstable();
    canonical.push_str(&pairs.join("&"));
    canonical.push('\n');
    for name in &signed_headers {
        let values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        if values.is_empty() {
            return Err(bad("a signed header is missing"));
        }
        canonical.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    canonical.push('\n');
    canonical.push_str(signed);
    canonical.push('\n');
    canonical.push_str(&to_hex(&Sha256::digest(body)));
    let to_sign = [
        "AWS4-HMAC-SHA256".to_string(),
        amz_date.to_string(),
        format!("{day}/{region}/{service}/aws4_request"),
        to_hex(&Sha256::digest(canonical.as_bytes())),
    ]
    .join("\n");
    let mut key = format!("AWS4{secret_key}").into_bytes();
    for part in [day, region, service, "aws4_request"] {
        key = mac(&key, part.as_bytes());
    }
    let expected = to_hex(&mac(&key, to_sign.as_bytes()));
    if expected != signature {
        return Err(bad("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."));
    }
    Ok(Verified {
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
    })
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod self_check {
    //! The verifier against AWS's published SigV4 test-suite vectors (example credentials,
    //! 2015-08-30T12:36:00Z, us-east-1, service `service`): it must accept AWS's own
    //! signatures and refuse them once anything signed changes.
    use super::*;

    const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const SUITE_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

    fn suite_headers(extra: &[(&'static str, &str)], signed: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", "example.amazonaws.com".parse().unwrap());
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        for (name, value) in extra {
            headers.insert(*name, value.parse().unwrap());
        }
        headers.insert(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed}, Signature={signature}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn verifier_accepts_awss_published_vectors() {
        let vanilla = suite_headers(
            &[],
            "host;x-amz-date",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        );
        verify("GET", "/", "", &vanilla, b"", SUITE_SECRET).unwrap();
        assert!(verify("POST", "/", "", &vanilla, b"", SUITE_SECRET).is_err());
        assert!(verify("GET", "/", "", &vanilla, b"", "another-secret").is_err());

        let query = suite_headers(
            &[],
            "host;x-amz-date",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        );
        verify(
            "GET",
            "/",
            "Param2=value2&Param1=value1",
            &query,
            b"",
            SUITE_SECRET,
        )
        .unwrap();

        let form = suite_headers(
            &[("content-type", "application/x-www-form-urlencoded")],
            "content-type;host;x-amz-date",
            "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
        );
        verify("POST", "/", "", &form, b"Param1=value1", SUITE_SECRET).unwrap();
        assert!(verify("POST", "/", "", &form, b"Param1=value2", SUITE_SECRET).is_err());

        let sts = suite_headers(
            &[("x-amz-security-token", SUITE_TOKEN)],
            "host;x-amz-date;x-amz-security-token",
            "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
        );
        verify("POST", "/", "", &sts, b"", SUITE_SECRET).unwrap();
    }
}
