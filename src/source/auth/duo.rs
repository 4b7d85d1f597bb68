//! Duo Admin API request signing.
//!
//! Each request is signed on its own: the canonical request is the lines date, method, host,
//! path and parameters (v5 adds a SHA-512 of the body and of any `X-Duo-*` headers), joined
//! with `\n`; its HMAC keyed with the secret key, in lowercase hex, is the password of an
//! HTTP Basic `Authorization` whose user is the integration key. The date goes in the `Date`
//! header, so the server can recompute the same string.
//!
//! Version 2 uses HMAC-SHA1. Version 5 uses HMAC-SHA512 and is what Duo's own client libraries
//! send by default today; both are accepted by the Admin API.

use std::fmt::Write as _;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderValue, AUTHORIZATION, DATE};
use sha1::Sha1;
use sha2::{Digest, Sha512};
use url::Url;

use crate::model::Secret;
use crate::source::SourceError;

/// Everything but RFC 3986 unreserved characters is percent-encoded (uppercase hex), as Duo
/// canonicalizes parameters.
const DUO_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Signature format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    /// HMAC-SHA1 over date, method, host, path, params.
    V2,
    /// HMAC-SHA512 over those plus body and `X-Duo-*` header hashes.
    V5,
}

/// Signs requests for one Duo integration.
pub(super) struct DuoSigner {
    integration_key: String,
    secret_key: Secret,
    version: Version,
}

impl DuoSigner {
    pub(super) fn new(integration_key: &str, secret_key: &Secret, version: Version) -> Self {
        DuoSigner {
            integration_key: integration_key.to_string(),
            secret_key: secret_key.clone(),
            version,
        }
    }

    /// Sets `Date` and `Authorization` on `request` for the current time.
    pub(super) fn sign(&self, request: &mut reqwest::Request) -> Result<(), SourceError> {
        self.sign_at(request, &rfc2822_now())
    }

    fn sign_at(&self, request: &mut reqwest::Request, date: &str) -> Result<(), SourceError> {
        let body = match request.body() {
            None => &[][..],
            Some(body) => body.as_bytes().ok_or_else(|| {
                SourceError::Setup("auth: duo_hmac cannot sign a streamed request body".into())
            })?,
        };
        if self.version == Version::V2 && !body.is_empty() {
            // v2 signs body parameters as if they were query parameters; sources only send
            // GETs, so rather than half-support form bodies, refuse clearly.
            return Err(SourceError::Setup(
                "auth: duo_hmac signature_version 2 signs query parameters only, and this request has a body (hint: use signature_version = 5)".into(),
            ));
        }
        let url = request.url();
        let host = signed_host(url)?;
        let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let canonical = canonicalize(
            self.version,
            date,
            request.method().as_str(),
            &host,
            url.path(),
            &params,
            body,
            &[],
        );
        let signature = signature(self.version, self.secret_key.expose(), &canonical);
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{signature}", self.integration_key));
        let mut authorization =
            HeaderValue::from_str(&format!("Basic {credentials}")).map_err(|_| {
                SourceError::Setup(
                    "auth: the duo_hmac integration_key cannot go into an HTTP header".into(),
                )
            })?;
        authorization.set_sensitive(true);
        let date = HeaderValue::from_str(date)
            .map_err(|_| SourceError::Setup("auth: cannot format the Date header".into()))?;
        let headers = request.headers_mut();
        headers.insert(DATE, date);
        headers.insert(AUTHORIZATION, authorization);
        Ok(())
    }
}

/// Now, as RFC 2822 in UTC, the way Duo's examples write it.
fn rfc2822_now() -> String {
    chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S -0000")
        .to_string()
}

/// The host as the server sees it in `Host`: lowercase, with the port when it is not the
/// scheme's default.
fn signed_host(url: &Url) -> Result<String, SourceError> {
    let host = url.host_str().ok_or_else(|| {
        SourceError::Setup(format!(
            "auth: duo_hmac cannot sign `{}`: it has no host",
            super::shown_url(url)
        ))
    })?;
    Ok(match url.port() {
        Some(port) => format!("{}:{port}", host.to_ascii_lowercase()),
        None => host.to_ascii_lowercase(),
    })
}

/// The string that is signed. `x_duo_headers` are extra `X-Duo-*` headers sent with the
/// request (v5 only; sources send none).
#[allow(clippy::too_many_arguments)] // each is one line of the canonical request
pub(super) fn canonicalize(
    version: Version,
    date: &str,
    method: &str,
    host: &str,
    path: &str,
    params: &[(String, String)],
    body: &[u8],
    x_duo_headers: &[(&str, &str)],
) -> String {
    let mut lines = vec![
        date.to_string(),
        method.to_ascii_uppercase(),
        host.to_ascii_lowercase(),
        path.to_string(),
        canonical_params(params),
    ];
    if version == Version::V5 {
        lines.push(hex(&Sha512::digest(body)));
        lines.push(x_duo_headers_hash(x_duo_headers));
    }
    lines.join("\n")
}

/// `key=value` pairs, both encoded, sorted by key then value, joined with `&`.
fn canonical_params(params: &[(String, String)]) -> String {
    let encode = |s: &str| utf8_percent_encode(s, DUO_ENCODE).to_string();
    let mut pairs: Vec<(String, String)> =
        params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    // Encoded text is ASCII, so byte order is the order Duo's server sorts in.
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// SHA-512 of the lowercased, sorted `X-Duo-*` header names and values, all joined by NUL.
fn x_duo_headers_hash(headers: &[(&str, &str)]) -> String {
    let mut lowered: Vec<(String, &str)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), *value))
        .collect();
    lowered.sort();
    let joined = lowered
        .iter()
        .flat_map(|(name, value)| [name.as_str(), value])
        .collect::<Vec<_>>()
        .join("\0");
    hex(&Sha512::digest(joined.as_bytes()))
}

/// The lowercase hex HMAC of `canonical`.
pub(super) fn signature(version: Version, secret_key: &str, canonical: &str) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    match version {
        Version::V2 => {
            let mut mac = Hmac::<Sha1>::new_from_slice(secret_key.as_bytes())
                .expect("HMAC takes keys of any length");
            mac.update(canonical.as_bytes());
            hex(&mac.finalize().into_bytes())
        }
        Version::V5 => {
            let mut mac = Hmac::<Sha512>::new_from_slice(secret_key.as_bytes())
                .expect("HMAC takes keys of any length");
            mac.update(canonical.as_bytes());
            hex(&mac.finalize().into_bytes())
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vectors from Duo's official Python client test suite (duo_client_python,
    // tests/test_client.py): non-ASCII keys and values, mixed-case method and host.
    const VECTOR_DATE: &str = "Fri, 07 Dec 2012 17:18:00 -0000";
    const SECRET: &str = "gtdfxv9YgVBYcF6dl2Eq17KUQJN2PLM2ODVTkvoT";

    fn vector_params() -> Vec<(String, String)> {
        [
            (
                "\u{469a}\u{287b}\u{35d0}\u{8ef3}\u{6727}\u{502a}\u{0810}\u{d091}\u{c8}\u{c170}",
                "\u{0f45}\u{1a76}\u{341a}\u{654c}\u{c23f}\u{9b09}\u{abe2}\u{8343}\u{1b27}\u{60d0}",
            ),
            (
                "\u{7449}\u{7e4b}\u{ccfb}\u{59ff}\u{fe5f}\u{83b7}\u{adcc}\u{900c}\u{cfd1}\u{7813}",
                "\u{8db7}\u{5022}\u{92d3}\u{42ef}\u{207d}\u{8730}\u{acfe}\u{5617}\u{0946}\u{4e30}",
            ),
            (
                "\u{7470}\u{9314}\u{901c}\u{9eae}\u{40d8}\u{4201}\u{82d8}\u{8c70}\u{1d31}\u{a042}",
                "\u{17d9}\u{0ba8}\u{9358}\u{aadf}\u{a42a}\u{48be}\u{fb96}\u{6fe9}\u{b7ff}\u{32f3}",
            ),
            (
                "\u{c2c5}\u{2c1d}\u{2620}\u{3617}\u{96b3}F\u{8605}\u{20e8}\u{ac21}\u{5934}",
                "\u{fba9}\u{41aa}\u{bd83}\u{840b}\u{2615}\u{3e6e}\u{652d}\u{a8b5}\u{d56b}U",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    const VECTOR_PARAMS: &str = "%E4%9A%9A%E2%A1%BB%E3%97%90%E8%BB%B3%E6%9C%A7%E5%80%AA%E0%A0%90%ED%82%91%C3%88%EC%85%B0=%E0%BD%85%E1%A9%B6%E3%90%9A%E6%95%8C%EC%88%BF%E9%AC%89%EA%AF%A2%E8%8D%83%E1%AC%A7%E6%83%90&%E7%91%89%E7%B9%8B%EC%B3%BB%E5%A7%BF%EF%B9%9F%E8%8E%B7%EA%B7%8C%E9%80%8C%EC%BF%91%E7%A0%93=%E8%B6%B7%E5%80%A2%E9%8B%93%E4%8B%AF%E2%81%BD%E8%9C%B0%EA%B3%BE%E5%98%97%E0%A5%86%E4%B8%B0&%E7%91%B0%E9%8C%94%E9%80%9C%E9%BA%AE%E4%83%98%E4%88%81%E8%8B%98%E8%B1%B0%E1%B4%B1%EA%81%82=%E1%9F%99%E0%AE%A8%E9%8D%98%EA%AB%9F%EA%90%AA%E4%A2%BE%EF%AE%96%E6%BF%A9%EB%9F%BF%E3%8B%B3&%EC%8B%85%E2%B0%9D%E2%98%A0%E3%98%97%E9%9A%B3F%E8%98%85%E2%83%A8%EA%B0%A1%E5%A4%B4=%EF%AE%A9%E4%86%AA%EB%B6%83%E8%90%8B%E2%98%95%E3%B9%AE%E6%94%AD%EA%A2%B5%ED%95%ABU";

    #[test]
    fn v2_canonical_string_matches_duo_vector() {
        let canonical = canonicalize(
            Version::V2,
            VECTOR_DATE,
            "PoSt",
            "foO.BAr52.cOm",
            "/Foo/BaR2/qux",
            &vector_params(),
            b"",
            &[],
        );
        assert_eq!(
            canonical,
            format!("{VECTOR_DATE}\nPOST\nfoo.bar52.com\n/Foo/BaR2/qux\n{VECTOR_PARAMS}")
        );
    }

    #[test]
    fn v2_hmac_sha1_signature_matches_duo_vector() {
        let canonical = canonicalize(
            Version::V2,
            VECTOR_DATE,
            "PoSt",
            "foO.BAr52.cOm",
            "/Foo/BaR2/qux",
            &vector_params(),
            b"",
            &[],
        );
        assert_eq!(
            signature(Version::V2, SECRET, &canonical),
            "f01811cbbf9561623ab45b893096267fd46a5178"
        );
        assert_ne!(
            signature(Version::V2, "another secret", &canonical),
            "f01811cbbf9561623ab45b893096267fd46a5178"
        );
    }

    #[test]
    fn v5_canonical_string_matches_duo_vector() {
        let body = r#"{"alpha":["a","b","c","d"],"data":"abc123","info":{"another":2,"test":1}}"#;
        let canonical = canonicalize(
            Version::V5,
            "Tue, 17 Nov 2020 14:12:00",
            "POST",
            "foO.BaR52.cOm",
            "/Foo/BaR2/qux",
            &[],
            body.as_bytes(),
            &[("X-Duo-Header-1", "header_value_1")],
        );
        let body_hash = hex(&Sha512::digest(body.as_bytes()));
        assert_eq!(
            canonical,
            format!(
                "Tue, 17 Nov 2020 14:12:00\nPOST\nfoo.bar52.com\n/Foo/BaR2/qux\n\n{body_hash}\n\
                 630b4bfe7e9abd03da2eee8f0a5d4e60a254ec880a839bcc2223bb5b9443e8ef24d58f0254f1f5934bf8c017ebd0fd5b1acf86766bdbe74185e712a4092df3ed"
            )
        );
    }

    #[test]
    fn x_duo_headers_are_lowered_then_sorted() {
        assert_eq!(
            x_duo_headers_hash(&[("x-duo-A", "header_value_1"), ("X-Duo-B", "header_value_2")]),
            "60be11a30e0756f2ee2afdce1db849b987dcf86c1133394bd7bbbc9877920330c4d78aceacbb377ab8cbd9a8efe6a410fed4047376635ac71226ab46ca10d2b1"
        );
    }

    #[test]
    fn params_sort_by_encoded_key_then_value_and_encode_reserved_characters() {
        let params = [
            ("foo_bar", "2"),
            ("foo", "b"),
            ("foo", "a"),
            ("p", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(
            canonical_params(&params),
            "foo=a&foo=b&foo_bar=2&p=%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~%20%09"
        );
        assert_eq!(canonical_params(&[]), "");
    }

    #[test]
    fn signing_a_get_uses_its_query_and_sets_date_and_sensitive_authorization() {
        let signer = DuoSigner::new("DIKEY", &Secret::new(SECRET), Version::V2);
        let url = Url::parse("https://API-x.duosecurity.com/admin/v2/logs/authentication?mintime=1&limit=10&next_offset=a%2Cb").unwrap();
        let mut request = reqwest::Request::new(reqwest::Method::GET, url);
        signer.sign_at(&mut request, VECTOR_DATE).unwrap();
        let canonical = format!(
            "{VECTOR_DATE}\nGET\napi-x.duosecurity.com\n/admin/v2/logs/authentication\nlimit=10&mintime=1&next_offset=a%2Cb"
        );
        let expected = base64::engine::general_purpose::STANDARD.encode(format!(
            "DIKEY:{}",
            signature(Version::V2, SECRET, &canonical)
        ));
        let auth = request.headers().get(AUTHORIZATION).unwrap();
        assert!(auth.is_sensitive());
        assert_eq!(auth.to_str().unwrap(), format!("Basic {expected}"));
        assert_eq!(request.headers().get(DATE).unwrap(), VECTOR_DATE);
    }

    #[test]
    fn the_port_is_signed_when_not_the_default() {
        let url = Url::parse("http://127.0.0.1:8443/x").unwrap();
        assert_eq!(signed_host(&url).unwrap(), "127.0.0.1:8443");
        let url = Url::parse("https://Api.Example:443/x").unwrap();
        assert_eq!(signed_host(&url).unwrap(), "api.example");
    }

    #[test]
    fn v2_refuses_a_body_it_would_not_sign() {
        let signer = DuoSigner::new("DIKEY", &Secret::new(SECRET), Version::V2);
        let mut request = reqwest::Request::new(
            reqwest::Method::POST,
            Url::parse("https://api.example/x").unwrap(),
        );
        *request.body_mut() = Some("a=1".into());
        assert!(signer.sign_at(&mut request, VECTOR_DATE).is_err());
        let signer = DuoSigner::new("DIKEY", &Secret::new(SECRET), Version::V5);
        assert!(signer.sign_at(&mut request, VECTOR_DATE).is_ok());
    }

    #[test]
    fn date_is_rfc_2822() {
        let date = rfc2822_now();
        assert!(
            chrono::DateTime::parse_from_rfc2822(&date).is_ok(),
            "{date}"
        );
    }
}
