use std::collections::HashSet;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;
use crate::{self as simulator, event, event_ids, RunningSimulator, SimulatorConfig};

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::google_workspace(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A JWT assertion signed with `key`, with `edit` applied to the claims Google wants.
fn assertion(key: &str, base: &str, edit: impl FnOnce(&mut Value)) -> String {
    let now = Utc::now().timestamp();
    let mut claims = json!({
        "iss": CLIENT_EMAIL,
        "scope": SCOPE,
        "aud": format!("{base}/token"),
        "sub": ADMIN,
        "iat": now,
        "exp": now + 3600,
    });
    edit(&mut claims);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEY_ID.into());
    let key = EncodingKey::from_rsa_pem(key.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

async fn token_request(base: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let answer = client()
        .post(format!("{base}/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap(),
    )
}

const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

async fn access_token(base: &str) -> String {
    let jwt = assertion(PRIVATE_KEY_PEM, base, |_| {});
    let (status, body) = token_request(base, &[("grant_type", GRANT), ("assertion", &jwt)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    body["access_token"].as_str().unwrap().to_string()
}

async fn list(base: &str, token: Option<&str>, app: &str, query: &str) -> (u16, Value) {
    let url = format!("{base}/admin/reports/v1/activity/users/all/applications/{app}?{query}");
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap(),
    )
}

fn rfc3339(config: &SimulatorConfig, index: u64) -> String {
    simulator::event_time(config, index).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[test]
fn events_are_dealt_to_every_application_with_unique_ids() {
    let cfg = config(3_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    let mut dealt: Vec<String> = APPLICATIONS
        .iter()
        .flat_map(|a| stream_ids(&cfg, a))
        .collect();
    dealt.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(dealt, all, "every event is in exactly one application");
    for i in (0..cfg.events).step_by(7) {
        let e = event(&cfg, i);
        assert_eq!(
            e["id"].to_string(),
            ids[i as usize],
            "the id is the id object"
        );
        assert_eq!(e["id"]["applicationName"], APPLICATIONS[app_of(i)]);
        let time = DateTime::parse_from_rfc3339(e["id"]["time"].as_str().unwrap()).unwrap();
        assert_eq!(time.with_timezone(&Utc), simulator::event_time(&cfg, i));
        assert!(e["events"][0]["name"].is_string(), "{e}");
    }
}

#[test]
fn a_unique_qualifier_alone_does_not_identify_an_activity() {
    let cfg = config(3_000);
    let admin = stream_ids(&cfg, "admin");
    let qualifiers: Vec<String> = admin
        .iter()
        .map(|id| serde_json::from_str::<Value>(id).unwrap()["uniqueQualifier"].to_string())
        .collect();
    let distinct = qualifiers.iter().collect::<HashSet<_>>().len();
    assert!(
        distinct < qualifiers.len(),
        "qualifiers repeat across times within one application"
    );
    assert_eq!(admin.iter().collect::<HashSet<_>>().len(), admin.len());
}

#[tokio::test]
async fn pages_list_an_application_newest_first_with_both_ends_inclusive() {
    let cfg = config(20_000);
    let sim = start(cfg.clone()).await;
    let base = sim.base_url();
    let token = access_token(&base).await;
    for app in ["admin", "login", "vault"] {
        // Both ends are times of this application's own events, which must be listed.
        let own = |from: u64| (from..).find(|i| APPLICATIONS[app_of(*i)] == app).unwrap();
        let (first, last) = (own(3_000), own(17_000));
        let (start, end) = (rfc3339(&cfg, first), rfc3339(&cfg, last));
        let query = format!(
            "startTime={}&endTime={}&maxResults=70",
            encode(&start),
            encode(&end)
        );
        let mut served = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let query = match &page_token {
                Some(t) => format!("{query}&pageToken={t}"),
                None => query.clone(),
            };
            let (status, page) = list(&base, Some(&token), app, &query).await;
            assert_eq!(status, 200, "{page}");
            assert_eq!(page["kind"], "admin#reports#activities");
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 70);
            served.extend(items.iter().cloned());
            match page["nextPageToken"].as_str() {
                Some(t) => page_token = Some(t.to_string()),
                None => break,
            }
        }
        let (low, high) = (
            simulator::event_time(&cfg, first),
            simulator::event_time(&cfg, last),
        );
        let mut expected: Vec<Value> = (0..cfg.events)
            .filter(|i| APPLICATIONS[app_of(*i)] == app)
            .filter(|i| (low..=high).contains(&simulator::event_time(&cfg, *i)))
            .map(|i| event(&cfg, i))
            .collect();
        expected.reverse();
        assert!(expected.len() > 300, "{}", expected.len());
        assert_eq!(
            expected.first(),
            Some(&event(&cfg, last)),
            "the end is listed"
        );
        assert_eq!(
            expected.last(),
            Some(&event(&cfg, first)),
            "the start is listed"
        );
        assert_eq!(served, expected, "{app}: newest first, both ends inclusive");
    }
    assert_eq!(sim.stats().tokens_issued, 1);
}

#[tokio::test]
async fn an_empty_window_has_no_items_key_and_no_next_page_token() {
    let cfg = config(200);
    let sim = start(cfg.clone()).await;
    let base = sim.base_url();
    let token = access_token(&base).await;
    // Long before the first event.
    let query = "startTime=2020-01-01T00:00:00Z&endTime=2020-01-02T00:00:00.000Z";
    let (status, page) = list(&base, Some(&token), "admin", query).await;
    assert_eq!(status, 200, "{page}");
    let keys: Vec<&String> = page.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["etag", "kind"], "{page}");
}

#[tokio::test]
async fn the_token_endpoint_verifies_the_assertion_and_answers_googles_errors() {
    let sim = start(config(10)).await;
    let base = sim.base_url();
    // A key the simulator never registered (the Entra profile's spare test key).
    let other_key = include_str!("../entra/other_key.pem");
    let cases: Vec<(String, &str)> = vec![
        (
            assertion(other_key, &base, |_| {}),
            "Invalid JWT Signature.",
        ),
        (
            assertion(PRIVATE_KEY_PEM, &base, |c| {
                c["iss"] = json!("x@y.iam.gserviceaccount.com")
            }),
            "issuer",
        ),
        (
            assertion(PRIVATE_KEY_PEM, &base, |c| {
                c["aud"] = json!("https://oauth2.googleapis.com/token")
            }),
            "audience",
        ),
        (
            assertion(PRIVATE_KEY_PEM, &base, |c| {
                c["scope"] = json!("https://www.googleapis.com/auth/drive")
            }),
            "scope",
        ),
        (
            assertion(PRIVATE_KEY_PEM, &base, |c| {
                c["sub"] = json!("intruder@acme.example")
            }),
            "Invalid email or User ID",
        ),
        (
            assertion(PRIVATE_KEY_PEM, &base, |c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
            "Invalid email or User ID",
        ),
        (
            assertion(PRIVATE_KEY_PEM, &base, |c| {
                let iat = c["iat"].as_i64().unwrap();
                c["exp"] = json!(iat + 7200);
            }),
            "short-lived",
        ),
        ("not.a.jwt".to_string(), "Invalid JWT"),
    ];
    for (jwt, why) in cases {
        let (status, body) =
            token_request(&base, &[("grant_type", GRANT), ("assertion", &jwt)]).await;
        assert_eq!(status, 400, "{why}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{why}: {body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(why), "{why}: {description}");
    }
    let jwt = assertion(PRIVATE_KEY_PEM, &base, |_| {});
    let (status, body) = token_request(
        &base,
        &[("grant_type", "client_credentials"), ("assertion", &jwt)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    assert_eq!(sim.stats().tokens_issued, 0);
    access_token(&base).await;
    assert_eq!(sim.stats().tokens_issued, 1);
}

#[tokio::test]
async fn the_api_refuses_missing_or_foreign_tokens_with_googles_401() {
    let sim = start(config(10)).await;
    let base = sim.base_url();
    let good = access_token(&base).await;
    let forged = format!("{}x", good);
    for token in [None, Some("sim-token"), Some(forged.as_str())] {
        let (status, body) = list(&base, token, "admin", "").await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], 401);
        assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
        assert!(body["error"]["errors"][0]["reason"].is_string(), "{body}");
    }
    // A token of another simulator (another seed) is refused too.
    let other = start(SimulatorConfig {
        seed: 7,
        ..config(10)
    })
    .await;
    let foreign = access_token(&other.base_url()).await;
    let (status, _) = list(&base, Some(&foreign), "admin", "").await;
    assert_eq!(status, 401);
    let (status, body) = list(&base, Some(&good), "admin", "").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn bad_parameters_are_refused_with_googles_400() {
    let cfg = config(300);
    let sim = start(cfg.clone()).await;
    let base = sim.base_url();
    let token = access_token(&base).await;
    let (_, first) = list(&base, Some(&token), "admin", "maxResults=2").await;
    let page_token = first["nextPageToken"].as_str().unwrap().to_string();
    let start = encode(&rfc3339(&cfg, 10));
    let end = encode(&rfc3339(&cfg, 200));
    for (app, query) in [
        ("admin", "maxResults=0".to_string()),
        ("admin", "maxResults=1001".to_string()),
        ("admin", "startTime=yesterday".to_string()),
        ("admin", "startTime=2026-11-23 10:00:00Z".to_string()),
        ("admin", format!("startTime={end}&endTime={start}")),
        ("admin", "startTime=2999-01-01T00:00:00Z".to_string()),
        ("admin", "since=2026-11-23T10:00:00Z".to_string()),
        ("admin", "eventName=login_success".to_string()),
        ("admin", "customerId=C0FFEE".to_string()),
        ("admin", "pageToken=bm90LWEtdG9rZW4".to_string()),
        ("admin", format!("maxResults=3&pageToken={page_token}")),
        ("login", format!("maxResults=2&pageToken={page_token}")),
        ("not_an_app", String::new()),
    ] {
        let (status, body) = list(&base, Some(&token), app, &query).await;
        assert_eq!(status, 400, "{app}?{query}: {body}");
        assert_eq!(body["error"]["code"], 400, "{body}");
        assert_eq!(body["error"]["status"], "INVALID_ARGUMENT", "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    let (status, _) = list(
        &base,
        Some(&token),
        "admin",
        &format!("maxResults=2&pageToken={page_token}&prettyPrint=false"),
    )
    .await;
    assert_eq!(status, 200, "the page token itself is good");
}

#[tokio::test]
async fn quota_refusals_are_googles_429_and_403() {
    let mut cfg = config(10);
    cfg.faults = crate::Faults {
        rate_429: 1.0,
        seed: Some(1),
        ..crate::Faults::default()
    };
    let sim = start(cfg).await;
    let base = sim.base_url();
    let token = access_token(&base).await;
    let mut reasons = Vec::new();
    for _ in 0..2 {
        let (status, body) = list(&base, Some(&token), "admin", "").await;
        reasons.push((status, body["error"]["errors"][0]["reason"].clone()));
    }
    assert_eq!(
        reasons,
        [
            (429, json!("rateLimitExceeded")),
            (403, json!("userRateLimitExceeded"))
        ]
    );
}
