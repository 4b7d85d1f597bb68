//! Fixed credentials: bearer, api_key (header and query), basic, none.

use std::sync::Arc;

use axum::extract::RawQuery;
use axum::http::HeaderMap;
use axum::routing::get as route_get;
use axum::Router;
use base64::Engine as _;
use reqwest::StatusCode;

use super::{authenticator, client, config, get, serve};
use crate::source::auth::Authenticator;

type Check = dyn Fn(&HeaderMap, &[(String, String)]) -> bool + Send + Sync;

/// An API at `/api` that answers 200 when `check` accepts the request's headers and query
/// parameters, else 401.
async fn api(
    check: impl Fn(&HeaderMap, &[(String, String)]) -> bool + Send + Sync + 'static,
) -> String {
    let check: Arc<Check> = Arc::new(check);
    let router = Router::new().route(
        "/api",
        route_get(move |headers: HeaderMap, RawQuery(query): RawQuery| {
            let check = check.clone();
            async move {
                let params: Vec<(String, String)> =
                    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                        .into_owned()
                        .collect();
                if check(&headers, &params) {
                    (StatusCode::OK, "{}")
                } else {
                    (StatusCode::UNAUTHORIZED, "{\"error\":\"unauthorized\"}")
                }
            }
        }),
    );
    format!("{}/api", serve(router).await)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn bearer_sends_prefix_and_token() {
    let url = api(|h, _| header(h, "authorization") == Some("Bearer tok-123")).await;
    let good = authenticator("kind = \"bearer\"\ntoken = \"tok-123\"");
    assert_eq!(get(&good, &url).await.unwrap(), StatusCode::OK);

    let wrong = authenticator("kind = \"bearer\"\ntoken = \"tok-999\"");
    assert_eq!(get(&wrong, &url).await.unwrap(), StatusCode::UNAUTHORIZED);
    // Static credentials: a retry would send the same refused token.
    assert!(!wrong.invalidate().await);
}

#[tokio::test]
async fn bearer_with_okta_ssws_prefix() {
    let url = api(|h, _| header(h, "authorization") == Some("SSWS 00abc")).await;
    let okta = authenticator("kind = \"bearer\"\ntoken = \"00abc\"\nprefix = \"SSWS\"");
    assert_eq!(get(&okta, &url).await.unwrap(), StatusCode::OK);
    let plain = authenticator("kind = \"bearer\"\ntoken = \"00abc\"");
    assert_eq!(get(&plain, &url).await.unwrap(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_key_in_a_header_with_and_without_prefix() {
    let url = api(|h, p| header(h, "x-api-key") == Some("k-1") && p.is_empty()).await;
    let good = authenticator("kind = \"api_key\"\nkey = \"k-1\"\nheader = \"X-API-Key\"");
    assert_eq!(get(&good, &url).await.unwrap(), StatusCode::OK);
    assert!(good.secret_query_params().is_empty());
    let wrong_header = authenticator("kind = \"api_key\"\nkey = \"k-1\"\nheader = \"X-Key\"");
    assert_eq!(
        get(&wrong_header, &url).await.unwrap(),
        StatusCode::UNAUTHORIZED
    );

    let url = api(|h, _| header(h, "authorization") == Some("Token k-2")).await;
    let prefixed = authenticator(
        "kind = \"api_key\"\nkey = \"k-2\"\nheader = \"Authorization\"\nprefix = \"Token\"",
    );
    assert_eq!(get(&prefixed, &url).await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn api_key_in_the_query_keeps_other_params_and_is_reported_secret() {
    let url = api(|h, p| {
        let expected = [
            ("since".to_string(), "2024-01-01T00:00:00Z".to_string()),
            ("api_key".to_string(), "k+/=3".to_string()),
        ];
        h.get("authorization").is_none() && p == expected
    })
    .await;
    let auth = authenticator("kind = \"api_key\"\nkey = \"k+/=3\"\nquery = \"api_key\"");
    assert_eq!(auth.secret_query_params(), vec!["api_key".to_string()]);
    let target = format!("{url}?since=2024-01-01T00%3A00%3A00Z");
    assert_eq!(get(&auth, &target).await.unwrap(), StatusCode::OK);

    // Authorizing the same request twice must not repeat the parameter.
    let mut request = client().get(&target).build().unwrap();
    auth.authorize(&mut request).await.unwrap();
    auth.authorize(&mut request).await.unwrap();
    let keys = request
        .url()
        .query_pairs()
        .filter(|(k, _)| k == "api_key")
        .count();
    assert_eq!(keys, 1, "{}", request.url());

    let wrong = authenticator("kind = \"api_key\"\nkey = \"nope\"\nquery = \"api_key\"");
    assert_eq!(
        get(&wrong, &target).await.unwrap(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn basic_sends_user_and_password() {
    let url = api(|h, _| {
        let Some(encoded) = header(h, "authorization").and_then(|v| v.strip_prefix("Basic "))
        else {
            return false;
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_default();
        decoded == b"svc-reader:p@ss:word"
    })
    .await;
    let good =
        authenticator("kind = \"basic\"\nusername = \"svc-reader\"\npassword = \"p@ss:word\"");
    assert_eq!(get(&good, &url).await.unwrap(), StatusCode::OK);
    let wrong = authenticator("kind = \"basic\"\nusername = \"svc-reader\"\npassword = \"other\"");
    assert_eq!(get(&wrong, &url).await.unwrap(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn none_sends_nothing() {
    let url = api(|h, p| h.get("authorization").is_none() && p.is_empty()).await;
    let none = Authenticator::new(&Default::default(), client()).unwrap();
    assert_eq!(get(&none, &url).await.unwrap(), StatusCode::OK);
    assert_eq!(none.kind(), "none");
}

#[tokio::test]
async fn secret_headers_are_sensitive_and_debug_shows_no_secret() {
    for text in [
        "kind = \"bearer\"\ntoken = \"s3cr3t\"",
        "kind = \"api_key\"\nkey = \"s3cr3t\"\nheader = \"X-API-Key\"",
        "kind = \"basic\"\nusername = \"u\"\npassword = \"s3cr3t\"",
    ] {
        let auth = authenticator(text);
        let mut request = client().get("http://127.0.0.1:9/api").build().unwrap();
        auth.authorize(&mut request).await.unwrap();
        let (_, value) = request.headers().iter().next().unwrap();
        assert!(value.is_sensitive(), "{text}");
        assert!(!format!("{auth:?}").contains("s3cr3t"));
        assert!(!format!("{:?}", config(text)).contains("s3cr3t"), "{text}");
    }
}

#[test]
fn a_token_with_a_newline_is_a_setup_error_without_the_token() {
    let err = Authenticator::new(
        &config("kind = \"bearer\"\ntoken = \"zq7tok\\n\""),
        client(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("auth.token"), "{err}");
    assert!(!err.contains("zq7tok"), "{err}");
}

/// LastPass reads its provisioning hash from the JSON body: the key is put in the field on
/// every attempt (once, however often a request is authorized), the template's other fields
/// untouched; a request without a JSON object body is refused rather than sent keyless.
#[tokio::test]
async fn api_key_in_a_json_body_field() {
    let auth = authenticator("kind = \"api_key\"\nkey = \"hash-7f\"\nbody = \"provhash\"");
    assert_eq!(auth.kind(), "body");
    assert!(auth.secret_query_params().is_empty());
    let mut request = client()
        .post("https://lastpass.com/enterpriseapi.php")
        .body(r#"{"cid":8771312,"cmd":"reporting","data":{"from":"2026-11-01 00:00:00"}}"#)
        .build()
        .unwrap();
    auth.authorize(&mut request).await.unwrap();
    auth.authorize(&mut request).await.unwrap();
    let sent: serde_json::Value =
        serde_json::from_slice(request.body().unwrap().as_bytes().unwrap()).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"cid": 8771312, "cmd": "reporting", "provhash": "hash-7f",
            "data": {"from": "2026-11-01 00:00:00"}})
    );
    assert!(!auth.invalidate().await);
    for body in [None, Some("[1, 2]"), Some("not json")] {
        let mut builder = client().post("https://lastpass.com/enterpriseapi.php");
        if let Some(body) = body {
            builder = builder.body(body);
        }
        let mut request = builder.build().unwrap();
        let err = auth.authorize(&mut request).await.unwrap_err().to_string();
        assert!(
            err.contains("auth.body") && err.contains("provhash"),
            "{err}"
        );
        assert!(!err.contains("hash-7f"), "{err}");
    }
}
