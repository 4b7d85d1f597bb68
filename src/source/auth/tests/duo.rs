//! `duo_hmac` against a server that recomputes the signature from the request it received,
//! written independently of the signer so that a shared mistake is less likely.

use std::sync::Arc;

use axum::http::{HeaderMap, Method, Uri};
use axum::routing::get as route_get;
use axum::Router;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use sha2::{Digest, Sha512};

use super::{authenticator, get, serve};

const IKEY: &str = "DIWJ8X6AEYOR5OMC6TQ1";
const SKEY: &str = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep";

/// Duo's parameter encoding, spelled out byte by byte.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn lower_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the request carries a valid Duo signature by `secret` (v2 or v5, told apart by the
/// signature's length as Duo does).
fn verify(method: &Method, uri: &Uri, headers: &HeaderMap, secret: &str) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(date), Some(host), Some(authorization)) =
        (text("date"), text("host"), text("authorization"))
    else {
        return false;
    };
    if chrono::DateTime::parse_from_rfc2822(date).is_err() {
        return false;
    }
    let Some(decoded) = authorization
        .strip_prefix("Basic ")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
    else {
        return false;
    };
    let Some((ikey, signature)) = decoded.split_once(':') else {
        return false;
    };
    if ikey != IKEY {
        return false;
    }
    let mut params: Vec<String> = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| format!("{}={}", encode(&k), encode(&v)))
        .collect();
    params.sort();
    let mut canonical = format!(
        "{date}\n{}\n{}\n{}\n{}",
        method.as_str(),
        host.to_lowercase(),
        uri.path(),
        params.join("&")
    );
    let expected = if signature.len() == 40 {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(canonical.as_bytes());
        lower_hex(&mac.finalize().into_bytes())
    } else {
        let empty = lower_hex(&Sha512::digest(b""));
        // GET: empty body, no X-Duo headers.
        canonical.push_str(&format!("\n{empty}\n{empty}"));
        let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(canonical.as_bytes());
        lower_hex(&mac.finalize().into_bytes())
    };
    signature == expected
}

/// A Duo-like Admin API at `/admin/v2/logs/authentication` that knows secret `SKEY`.
async fn start() -> String {
    let secret = Arc::new(SKEY.to_string());
    let router = Router::new().route(
        "/admin/v2/logs/authentication",
        route_get(move |method: Method, uri: Uri, headers: HeaderMap| {
            let secret = secret.clone();
            async move {
                if verify(&method, &uri, &headers, &secret) {
                    (StatusCode::OK, "{\"stat\":\"OK\",\"response\":{}}")
                } else {
                    (StatusCode::UNAUTHORIZED, "{\"code\":40103,\"message\":\"Invalid signature in request credentials\",\"stat\":\"FAIL\"}")
                }
            }
        }),
    );
    serve(router).await
}

fn config_text(secret: &str, version: Option<u8>) -> String {
    let version = version.map_or(String::new(), |v| format!("signature_version = {v}\n"));
    format!(
        "kind = \"duo_hmac\"\nintegration_key = \"{IKEY}\"\nsecret_key = \"{secret}\"\n{version}"
    )
}

fn url(base: &str) -> String {
    // Commas, colons and spaces exercise the encoding; the params are deliberately unsorted.
    format!(
        "{base}/admin/v2/logs/authentication?mintime=1700000000000&maxtime=1700000600000&limit=1000&next_offset=1700000000000%2Cabc-def&users=a%20b%3Ac"
    )
}

#[tokio::test]
async fn v5_signature_is_accepted_and_is_the_default() {
    let base = start().await;
    let auth = authenticator(&config_text(SKEY, None));
    assert_eq!(get(&auth, &url(&base)).await.unwrap(), StatusCode::OK);
    let mut request = super::client().get(url(&base)).build().unwrap();
    auth.authorize(&mut request).await.unwrap();
    let authorization = request.headers().get("authorization").unwrap();
    assert!(authorization.is_sensitive());
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(
            authorization
                .to_str()
                .unwrap()
                .strip_prefix("Basic ")
                .unwrap(),
        )
        .unwrap();
    // IKEY, ':' and 128 hex digits of HMAC-SHA512.
    assert_eq!(decoded.len(), IKEY.len() + 1 + 128);
}

#[tokio::test]
async fn v2_signature_is_accepted() {
    let base = start().await;
    let auth = authenticator(&config_text(SKEY, Some(2)));
    assert_eq!(get(&auth, &url(&base)).await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_not_retried() {
    let base = start().await;
    for version in [2, 5] {
        let auth = authenticator(&config_text(
            "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Eq",
            Some(version),
        ));
        assert_eq!(
            get(&auth, &url(&base)).await.unwrap(),
            StatusCode::UNAUTHORIZED
        );
        // A signature does not go stale the way a token does: retrying cannot help.
        assert!(!auth.invalidate().await);
        assert!(!format!("{auth:?}").contains("Zh5e"));
    }
}

#[tokio::test]
async fn a_tampered_query_breaks_the_signature() {
    let base = start().await;
    let auth = authenticator(&config_text(SKEY, None));
    let client = super::client();
    let mut request = client.get(url(&base)).build().unwrap();
    auth.authorize(&mut request).await.unwrap();
    request
        .url_mut()
        .query_pairs_mut()
        .append_pair("limit", "1");
    let response = client.execute(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn an_unknown_signature_version_is_refused_when_loading() {
    let err =
        toml::from_str::<crate::source::auth::config::AuthConfig>(&config_text(SKEY, Some(3)))
            .unwrap_err();
    assert!(err.to_string().contains("signature_version 3"), "{err}");
}
