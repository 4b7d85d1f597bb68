//! AWS Signature Version 4 for one request with its whole body in hand (what the JSON
//! protocol of AWS services sends).
//!
//! Written here rather than taken from the `aws-sigv4` crate: its current releases need rustc
//! 1.94.1 (above this crate's `rust-version`), and the releases that build on 1.89 pull in the
//! `http` 0.2 stack and five `aws-smithy-*` crates, all to sign one POST. The unit tests below
//! reproduce AWS's published SigV4 test-suite vectors, so this code is checked against AWS's
//! own results, not only against itself.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::model::Secret;

type HmacSha256 = Hmac<Sha256>;

/// The algorithm name in the `Authorization` header and the string to sign.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// An access key, with the session token of temporary credentials.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    /// `AKIA...` or `ASIA...`; not secret (it appears in every request).
    pub access_key_id: String,
    /// The signing secret; never sent.
    pub secret_access_key: Secret,
    /// Sent as `X-Amz-Security-Token` and signed, for temporary credentials.
    pub session_token: Option<Secret>,
}

/// What is signed: the parts of the request as they go on the wire.
pub(crate) struct Request<'a> {
    /// `GET`, `POST`...
    pub method: &'a str,
    /// The canonical path, e.g. `/` (used as given: JSON-protocol services take `/`).
    pub path: &'a str,
    /// Query parameters, not yet encoded.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign besides `x-amz-date` and `x-amz-security-token`; `host` must be
    /// among them, exactly as the HTTP client will send it.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub payload: &'a [u8],
}

/// Where the signature is valid: region and service, e.g. `eu-west-1`, `secretsmanager`.
pub(crate) struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
}

/// Headers to add to the request: `x-amz-date`, `x-amz-security-token` (with a session
/// token) and `authorization`. Session token and authorization values are secrets.
pub(crate) struct Signed {
    pub amz_date: String,
    pub session_token: Option<Secret>,
    pub authorization: Secret,
}

/// Signs `request` at `now`.
pub(crate) fn sign(
    request: &Request<'_>,
    credentials: &Credentials,
    scope: &Scope<'_>,
    now: DateTime<Utc>,
) -> Signed {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let day = &amz_date[..8];
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), canonical_value(value)))
        .collect();
    headers.push(("x-amz-date".into(), amz_date.clone()));
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".into(), token.expose().to_string()));
    }
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical = canonical_request(request, &headers, &signed_headers);
    let credential_scope = format!("{day}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{credential_scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(credentials.secret_access_key.expose(), day, scope);
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    Signed {
        amz_date,
        session_token: credentials.session_token.clone(),
        authorization: Secret::new(format!(
            "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id
        )),
    }
}

/// The canonical request: method, path, sorted encoded query, headers, the signed header
/// list and the payload's hash, one per line.
fn canonical_request(
    request: &Request<'_>,
    headers: &[(String, String)],
    signed_headers: &str,
) -> String {
    let mut query: Vec<(String, String)> = request
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let header_lines: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    format!(
        "{}\n{}\n{query}\n{header_lines}\n{signed_headers}\n{}",
        request.method,
        request.path,
        hex(&Sha256::digest(request.payload))
    )
}

/// Header values are trimmed and inner runs of spaces become one.
fn canonical_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The key derived for one day, region and service.
fn signing_key(secret: &str, day: &str, scope: &Scope<'_>) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), day.as_bytes());
    let k_region = hmac(&k_date, scope.region.as_bytes());
    let k_service = hmac(&k_region, scope.service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Lowercase hex, as SigV4 writes hashes and signatures.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, byte| {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// RFC 3986 encoding as SigV4 wants it: everything but unreserved characters, uppercase hex.
fn uri_encode(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, SET).to_string()
}

#[cfg(test)]
mod tests {
    //! Vectors from AWS's published SigV4 test suite (`aws-sig-v4-test-suite`): the example
    //! credentials, 2015-08-30T12:36:00Z, region `us-east-1`, service `service`, host
    //! `example.amazonaws.com`. The expected signatures are AWS's, not computed here.
    use super::*;

    const HOST: (&str, &str) = ("Host", "example.amazonaws.com");
    /// The suite's session token (`post-sts-token`).
    const SUITE_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

    fn suite_credentials(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: token.map(Secret::new),
        }
    }

    fn suite_time() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2015-08-30T12:36:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn authorization(request: &Request<'_>, token: Option<&str>) -> String {
        let scope = Scope {
            region: "us-east-1",
            service: "service",
        };
        let signed = sign(request, &suite_credentials(token), &scope, suite_time());
        assert_eq!(signed.amz_date, "20150830T123600Z");
        signed.authorization.expose().to_string()
    }

    fn expected(signed_headers: &str, signature: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed_headers}, Signature={signature}")
    }

    #[test]
    fn get_vanilla() {
        let request = Request {
            method: "GET",
            path: "/",
            query: &[],
            headers: &[HOST],
            payload: b"",
        };
        assert_eq!(
            authorization(&request, None),
            expected(
                "host;x-amz-date",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            )
        );
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        let request = Request {
            method: "GET",
            path: "/",
            query: &[("Param2", "value2"), ("Param1", "value1")],
            headers: &[HOST],
            payload: b"",
        };
        assert_eq!(
            authorization(&request, None),
            expected(
                "host;x-amz-date",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
            )
        );
    }

    #[test]
    fn post_vanilla() {
        let request = Request {
            method: "POST",
            path: "/",
            query: &[],
            headers: &[HOST],
            payload: b"",
        };
        assert_eq!(
            authorization(&request, None),
            expected(
                "host;x-amz-date",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
            )
        );
    }

    #[test]
    fn post_x_www_form_urlencoded_signs_the_body_and_content_type() {
        let request = Request {
            method: "POST",
            path: "/",
            query: &[],
            headers: &[("Content-Type", "application/x-www-form-urlencoded"), HOST],
            payload: b"Param1=value1",
        };
        assert_eq!(
            authorization(&request, None),
            expected(
                "content-type;host;x-amz-date",
                "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
            )
        );
    }

    #[test]
    fn post_sts_header_before_signs_the_session_token() {
        let request = Request {
            method: "POST",
            path: "/",
            query: &[],
            headers: &[HOST],
            payload: b"",
        };
        assert_eq!(
            authorization(&request, Some(SUITE_TOKEN)),
            expected(
                "host;x-amz-date;x-amz-security-token",
                "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
            )
        );
    }

    #[test]
    fn the_authorization_never_holds_the_secret_key() {
        let request = Request {
            method: "POST",
            path: "/",
            query: &[],
            headers: &[HOST],
            payload: b"{}",
        };
        let shown = authorization(&request, None);
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
    }
}
