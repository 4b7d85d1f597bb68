//! Faults on the generic endpoints, and static and OAuth 2.0 credentials.

use super::*;

#[tokio::test]
async fn faults_apply_to_generic_endpoints() {
    let p = profile(SimPagination::Graphql, SimOrder::Ascending);
    let mut cfg = config(100, p);
    cfg.faults = Faults {
        rate_429: 1.0,
        seed: Some(1),
        ..Faults::none()
    };
    let sim = start(cfg).await;
    let response = client()
        .post(format!("{}{GRAPHQL_PATH}", sim.base_url()))
        .header("content-type", "application/json")
        .body(json!({"query": "", "variables": {"start": "2025-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}}).to_string())
        .bearer_auth("sim-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(sim.stats().faults_429, 1);
    sim.shutdown().await;
}

// ---- auth ----------------------------------------------------------------------------

async fn status_with(
    sim: &RunningSimulator,
    build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    extra_query: &[(&str, &str)],
) -> u16 {
    let mut query = vec![
        ("start", "2025-01-01T00:00:00Z"),
        ("end", "2026-01-01T00:00:00Z"),
    ];
    query.extend_from_slice(extra_query);
    let request = client()
        .get(format!("{}{EVENTS_PATH}", sim.base_url()))
        .query(&query);
    build(request).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn static_credentials_are_checked_on_every_request() {
    let schemes = [
        SimAuth::None,
        SimAuth::Bearer("tok".into()),
        SimAuth::ApiKeyHeader {
            header: "X-API-Key".into(),
            key: "k1".into(),
        },
        SimAuth::ApiKeyQuery {
            param: "api_key".into(),
            key: "k2".into(),
            echo_in_links: false,
        },
        SimAuth::Basic {
            user: "u".into(),
            password: "p:w".into(),
        },
    ];
    for auth in schemes {
        let sim = start(config(
            10,
            GenericProfile {
                auth: auth.clone(),
                ..GenericProfile::default()
            },
        ))
        .await;
        let nothing = status_with(&sim, |r| r, &[]).await;
        let (good, bad) = match &auth {
            SimAuth::None => (nothing, 200),
            SimAuth::Bearer(_) => (
                status_with(&sim, |r| r.bearer_auth("tok"), &[]).await,
                status_with(&sim, |r| r.bearer_auth("tok2"), &[]).await,
            ),
            SimAuth::ApiKeyHeader { .. } => (
                status_with(&sim, |r| r.header("x-api-key", "k1"), &[]).await,
                status_with(&sim, |r| r.header("x-api-key", "k2"), &[]).await,
            ),
            SimAuth::ApiKeyQuery { .. } => (
                status_with(&sim, |r| r, &[("api_key", "k2")]).await,
                status_with(&sim, |r| r, &[("api_key", "k2"), ("api_key", "x")]).await,
            ),
            SimAuth::Basic { .. } => (
                status_with(&sim, |r| r.basic_auth("u", Some("p:w")), &[]).await,
                status_with(&sim, |r| r.basic_auth("u", Some("p")), &[]).await,
            ),
            SimAuth::OAuth2 { .. } => unreachable!(),
        };
        assert_eq!(good, 200, "{auth:?}");
        if auth != SimAuth::None {
            assert_eq!(nothing, 401, "{auth:?}");
            assert_eq!(bad, 401, "{auth:?}");
            assert_eq!(sim.stats().unauthorized, 2, "{auth:?}");
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn oauth2_tokens_are_issued_checked_and_expire() {
    let p = GenericProfile {
        auth: SimAuth::OAuth2 {
            client_id: "client one".into(),
            client_secret: "s3cr:t".into(),
            token_lifetime: Duration::from_millis(1200),
        },
        ..GenericProfile::default()
    };
    let sim = start(config(10, p)).await;
    let token_url = format!("{}{TOKEN_PATH}", sim.base_url());
    // client_secret_basic, form-encoded as RFC 6749 asks.
    let basic = client()
        .post(&token_url)
        .basic_auth("client+one", Some("s3cr%3At"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=audit.read")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    let granted: Value = json_body(basic).await;
    assert_eq!(granted["token_type"], "Bearer");
    assert_eq!(granted["expires_in"], 1);
    assert_eq!(granted["scope"], "audit.read");
    let token = granted["access_token"].as_str().unwrap().to_string();
    // client_secret_post.
    let post = client()
        .post(&token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=client+one&client_secret=s3cr%3At")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    for (body, status) in [
        (
            "grant_type=client_credentials&client_id=client+one&client_secret=nope",
            401,
        ),
        (
            "grant_type=password&client_id=client+one&client_secret=s3cr%3At",
            400,
        ),
    ] {
        let response = client()
            .post(&token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{body}");
    }
    assert_eq!(sim.stats().tokens_issued, 2);
    assert_eq!(status_with(&sim, |r| r.bearer_auth(&token), &[]).await, 200);
    assert_eq!(
        status_with(&sim, |r| r.bearer_auth("made-up"), &[]).await,
        401
    );
    tokio::time::sleep(Duration::from_millis(1400)).await;
    assert_eq!(
        status_with(&sim, |r| r.bearer_auth(&token), &[]).await,
        401,
        "expired tokens are refused"
    );
    sim.shutdown().await;
}
