//! `oauth2_client_credentials` against a token endpoint that checks the client for real.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use base64::Engine as _;
use reqwest::StatusCode;

use super::idp::{field, refuse, Idp};
use super::{authenticator, get};
use crate::source::SourceError;

const CLIENT_ID: &str = "0oa1client";
const CLIENT_SECRET: &str = "cs-Very$ecret/Value";
const SCOPE: &str = "okta.logs.read okta.users.read";

/// What the token endpoint insists on.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    Basic,
    Body,
}

/// The client as the endpoint sees it: from HTTP Basic or from form fields.
fn client_from(
    headers: &HeaderMap,
    form: &[(String, String)],
    expect: Expect,
) -> Option<(String, String)> {
    match expect {
        Expect::Basic => {
            if form.iter().any(|(k, _)| k == "client_secret") {
                return None;
            }
            let encoded = headers
                .get("authorization")?
                .to_str()
                .ok()?
                .strip_prefix("Basic ")?;
            let decoded = String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()?,
            )
            .ok()?;
            let (id, secret) = decoded.split_once(':')?;
            // RFC 6749 section 2.3.1: both halves are form-encoded.
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        }
        Expect::Body => {
            if headers.contains_key("authorization") {
                return None;
            }
            Some((
                field(form, "client_id")?.to_string(),
                field(form, "client_secret")?.to_string(),
            ))
        }
    }
}

/// Starts an IdP that wants `grant_type=client_credentials`, our client authenticated the
/// `expect` way, the scopes and the audience.
async fn start(expect: Expect, expires_in: u64) -> (Arc<Idp>, String) {
    Idp::start(expires_in, move |headers, form| {
        if field(form, "grant_type") != Some("client_credentials") {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "want client_credentials",
            ));
        }
        match client_from(headers, form, expect) {
            Some((id, secret)) if id == CLIENT_ID && secret == CLIENT_SECRET => {}
            // Echoes what it got, as careless servers do: the client must redact it.
            Some((_, secret)) => {
                return Err(refuse(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    &format!("bad secret {secret}"),
                ))
            }
            None => {
                return Err(refuse(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client authentication failed",
                ))
            }
        }
        if field(form, "scope") != Some(SCOPE) {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "wrong scope",
            ));
        }
        if field(form, "audience") != Some("https://api.example") {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "wrong audience",
            ));
        }
        Ok(())
    })
    .await
}

fn config_text(base: &str, client_auth: &str, secret: &str) -> String {
    format!(
        r#"
kind = "oauth2_client_credentials"
token_url = "{base}/token"
client_id = "{CLIENT_ID}"
client_secret = "{secret}"
scopes = ["okta.logs.read", "okta.users.read"]
audience = "https://api.example"
client_auth = "{client_auth}"
"#
    )
}

#[tokio::test]
async fn one_token_fetch_serves_many_concurrent_requests() {
    let (idp, base) = start(Expect::Basic, 3600).await;
    let auth = authenticator(&config_text(&base, "basic", CLIENT_SECRET));
    let url = format!("{base}/api");
    let requests = (0..16).map(|_| get(&auth, &url));
    for status in futures_util::future::join_all(requests).await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    for _ in 0..5 {
        assert_eq!(get(&auth, &url).await.unwrap(), StatusCode::OK);
    }
    assert_eq!(idp.token_requests(), 1);
    assert_eq!(idp.api_rejections(), 0);
}

#[tokio::test]
async fn client_credentials_in_the_body() {
    let (idp, base) = start(Expect::Body, 3600).await;
    let url = format!("{base}/api");
    let body = authenticator(&config_text(&base, "body", CLIENT_SECRET));
    assert_eq!(get(&body, &url).await.unwrap(), StatusCode::OK);
    // The same credentials as HTTP Basic are refused by this endpoint.
    let basic = authenticator(&config_text(&base, "basic", CLIENT_SECRET));
    let err = get(&basic, &url).await.unwrap_err();
    assert!(matches!(err, SourceError::Setup(_)), "{err}");
    assert_eq!(idp.token_requests(), 2);
}

#[tokio::test]
async fn refreshes_before_expiry_so_the_api_never_sees_an_expired_token() {
    // A 4 s token is refreshed after 2 s (half its life), before the server expires it.
    let (idp, base) = start(Expect::Basic, 4).await;
    let auth = authenticator(&config_text(&base, "basic", CLIENT_SECRET));
    let url = format!("{base}/api");
    assert_eq!(get(&auth, &url).await.unwrap(), StatusCode::OK);
    assert_eq!(get(&auth, &url).await.unwrap(), StatusCode::OK);
    assert_eq!(idp.token_requests(), 1, "reused within its first half-life");
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(get(&auth, &url).await.unwrap(), StatusCode::OK);
    assert_eq!(idp.token_requests(), 2, "refreshed after half its life");
    assert_eq!(
        idp.api_rejections(),
        0,
        "no request went out with an expired token"
    );
}

#[tokio::test]
async fn a_revoked_token_costs_exactly_one_refresh() {
    let (idp, base) = start(Expect::Basic, 3600).await;
    let auth = authenticator(&config_text(&base, "basic", CLIENT_SECRET));
    let url = format!("{base}/api");
    assert_eq!(get(&auth, &url).await.unwrap(), StatusCode::OK);
    idp.revoke();
    assert_eq!(get(&auth, &url).await.unwrap(), StatusCode::OK);
    assert_eq!(idp.token_requests(), 2);
    assert_eq!(idp.api_rejections(), 1);
}

#[tokio::test]
async fn an_api_that_refuses_every_token_gets_one_retry_not_a_loop() {
    let (idp, base) = start(Expect::Basic, 3600).await;
    let auth = authenticator(&config_text(&base, "basic", CLIENT_SECRET));
    idp.reject_everything();
    let status = get(&auth, &format!("{base}/api")).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(idp.token_requests(), 2);
    assert_eq!(idp.api_rejections(), 2);
}

#[tokio::test]
async fn a_refused_client_is_a_clear_error_without_the_secret() {
    let (_idp, base) = start(Expect::Basic, 3600).await;
    let wrong = "wrong-Secret-4242";
    let auth = authenticator(&config_text(&base, "basic", wrong));
    let err = get(&auth, &format!("{base}/api")).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SourceError::Setup(_)), "{text}");
    assert!(text.contains(&format!("{base}/token")), "{text}");
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(text.contains("invalid_client"), "{text}");
    assert!(text.contains("hint"), "{text}");
    // The endpoint echoed the secret; it is scrubbed where the error is printed or stored
    // (the config registered it with the redactor when it was read).
    let shown = crate::redact::scrub(&text);
    assert!(
        !shown.contains(wrong) && shown.contains("[REDACTED]"),
        "{shown}"
    );
    assert!(
        !crate::redact::scrub(&format!("{err:?}")).contains(wrong),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_an_error_about_the_token_url() {
    // Port 9 (discard) has no listener here: connecting fails.
    let auth = authenticator(&config_text("http://127.0.0.1:9", "basic", CLIENT_SECRET));
    let err = get(&auth, "http://127.0.0.1:9/api").await.unwrap_err();
    assert!(matches!(err, SourceError::TokenEndpoint { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("http://127.0.0.1:9/token"), "{text}");
    assert!(text.contains("token endpoint"), "{text}");
    assert!(text.contains("hint: check auth.token_url"), "{text}");
    assert!(!text.contains("base_url"), "{text}");
}

#[tokio::test]
async fn the_token_header_is_sensitive() {
    let (_idp, base) = start(Expect::Basic, 3600).await;
    let auth = authenticator(&config_text(&base, "basic", CLIENT_SECRET));
    let mut request = super::client().get(format!("{base}/api")).build().unwrap();
    auth.authorize(&mut request).await.unwrap();
    let value = request.headers().get("authorization").unwrap();
    assert!(value.is_sensitive());
    assert_eq!(value.to_str().unwrap(), "Bearer at-1");
    assert!(!format!("{auth:?}").contains("at-1"));
    assert!(auth.invalidate().await, "token kinds can retry");
}

#[tokio::test]
async fn a_token_endpoint_in_trouble_is_a_status_error_the_caller_may_retry() {
    let (_idp, base) = Idp::start(3600, |_, _| {
        Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "try later",
        ))
    })
    .await;
    let auth = authenticator(&config_text(&base, "basic", CLIENT_SECRET));
    let err = get(&auth, &format!("{base}/api")).await.unwrap_err();
    match err {
        SourceError::Status { url, status, body } => {
            assert_eq!(url, format!("{base}/token"));
            assert_eq!(status, 503);
            assert!(body.contains("temporarily_unavailable"), "{body}");
        }
        other => panic!("{other}"),
    }
}
