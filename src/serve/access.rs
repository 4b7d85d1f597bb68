//! Who may read the daemon's pages. With `[serve] token` set, the status page (`/`,
//! `/status.json`) and `/metrics` answer only requests carrying the token, as
//! `Authorization: Bearer TOKEN` (Prometheus' `authorization` setting, curl) or as the
//! password of HTTP Basic authentication (any user name), which browsers ask for themselves
//! and resend on every refresh. `/healthz` and `/readyz` stay open to probes, which cannot
//! easily hold a secret; `/readyz` then keeps its reason for callers with the token.
//!
//! A daemon listening on an address other hosts can reach must have a token
//! ([`check_exposure`]): its pages show source names, error texts and volumes.

use std::net::SocketAddr;
use std::sync::RwLock;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::Secret;

/// The token in force, kept as a MAC of it: what a request sends is compared through the
/// MAC's constant-time check, at one length whatever was sent, so timing tells nothing of
/// how much of a guess was right.
#[derive(Default)]
pub struct Access {
    tag: RwLock<Option<Vec<u8>>>,
}

impl Access {
    /// Access guarded by `token`, or open when it is `None`.
    pub fn new(token: Option<&Secret>) -> Self {
        let access = Access::default();
        access.set(token);
        access
    }

    /// Takes the token of a reloaded config.
    pub fn set(&self, token: Option<&Secret>) {
        let tag = token.map(|t| mac(t.expose().as_bytes()).finalize().into_bytes().to_vec());
        // A poisoned lock only means a panic elsewhere while it was held; the value is
        // replaced whole, never half-written.
        *self.tag.write().unwrap_or_else(|e| e.into_inner()) = tag;
    }

    /// Whether a token is required.
    pub fn required(&self) -> bool {
        self.current().is_some()
    }

    /// Whether a request with `headers` may read the guarded pages.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = self.current() else {
            return true;
        };
        presented(headers).is_some_and(|sent| mac(&sent).verify_slice(&expected).is_ok())
    }

    fn current(&self) -> Option<Vec<u8>> {
        self.tag.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// HMAC-SHA256 of `bytes` under a fixed key: the key adds no secrecy here; the MAC is used
/// for its constant-time comparison.
fn mac(bytes: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(b"sluice serve token").expect("HMAC takes any key length");
    mac.update(bytes);
    mac
}

/// The token a request carries: a bearer token, or a Basic password.
fn presented(headers: &HeaderMap) -> Option<Vec<u8>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.as_bytes().to_vec());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        // `user:password`; the user name is not checked.
        let colon = decoded.iter().position(|b| *b == b':')?;
        return Some(decoded[colon + 1..].to_vec());
    }
    None
}

/// The middleware guarding a route: 401 with a challenge unless the request may read it.
pub async fn require_token(
    State(access): State<std::sync::Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    if access.allows(request.headers()) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "401 unauthorized: this page needs the token of [serve] token (hint: send `Authorization: Bearer TOKEN`; in a browser, give any user name and the token as the password)\n",
    )
        .into_response();
    // Basic first: browsers answer it with a login prompt; API clients read the Bearer one.
    let headers = response.headers_mut();
    headers.append(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"sluice\", charset=\"UTF-8\""),
    );
    headers.append(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"sluice\""),
    );
    response
}

/// Whether other hosts can reach `listen`: any address but loopback (`127.0.0.0/8`, `::1`).
pub fn exposed(listen: SocketAddr) -> bool {
    !listen.ip().to_canonical().is_loopback()
}

/// Refuses a daemon reachable from other hosts without a token, saying why and what to do.
pub fn check_exposure(listen: SocketAddr, token: Option<&Secret>) -> Result<(), (String, String)> {
    if token.is_some() || !exposed(listen) {
        return Ok(());
    }
    Err((
        format!("{listen} is reachable from other hosts, but [serve] token is not set: the status page and /metrics would show every source, its errors and volumes to anyone who can connect"),
        "set token = \"${env:SLUICE_SERVE_TOKEN}\" under [serve] (a long random value, e.g. from `openssl rand -hex 32`) and give Prometheus the same token, or listen on 127.0.0.1 behind a proxy that authenticates".to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_token_is_taken_as_bearer_or_basic_password_and_nothing_else() {
        let access = Access::new(Some(&Secret::new("s3cret-token-value")));
        assert!(access.required());
        assert!(access.allows(&with("Bearer s3cret-token-value")));
        assert!(access.allows(&with("bearer  s3cret-token-value ")));
        let basic = base64::engine::general_purpose::STANDARD.encode("anyone:s3cret-token-value");
        assert!(access.allows(&with(&format!("Basic {basic}"))));

        assert!(!access.allows(&HeaderMap::new()));
        assert!(!access.allows(&with("Bearer s3cret-token-valu")));
        assert!(!access.allows(&with("Bearer s3cret-token-value2")));
        assert!(!access.allows(&with("Token s3cret-token-value")));
        assert!(!access.allows(&with("Bearer")));
        let no_colon = base64::engine::general_purpose::STANDARD.encode("s3cret-token-value");
        assert!(!access.allows(&with(&format!("Basic {no_colon}"))));
        assert!(!access.allows(&with("Basic !!not base64!!")));

        // A reload that drops the token opens the pages; one that changes it moves them.
        access.set(Some(&Secret::new("another-token-value")));
        assert!(!access.allows(&with("Bearer s3cret-token-value")));
        access.set(None);
        assert!(!access.required());
        assert!(access.allows(&HeaderMap::new()));
    }

    #[test]
    fn only_loopback_may_listen_without_a_token() {
        for open in [
            "127.0.0.1:9464",
            "127.0.0.2:1",
            "[::1]:9464",
            "[::ffff:127.0.0.1]:1",
        ] {
            let listen: SocketAddr = open.parse().unwrap();
            assert!(check_exposure(listen, None).is_ok(), "{open}");
        }
        for reachable in ["0.0.0.0:9464", "10.0.0.5:9464", "[::]:9464"] {
            let listen: SocketAddr = reachable.parse().unwrap();
            let (message, hint) = check_exposure(listen, None).unwrap_err();
            assert!(
                message.contains(reachable) && message.contains("token"),
                "{message}"
            );
            assert!(hint.contains("${env:SLUICE_SERVE_TOKEN}"), "{hint}");
            assert!(check_exposure(listen, Some(&Secret::new("t"))).is_ok());
        }
    }
}
