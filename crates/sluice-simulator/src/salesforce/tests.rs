use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::*;
use crate::{RunningSimulator, SimulatorConfig};

/// Six hours of data ending 2026-11-22T12:00:00Z.
fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::salesforce(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    crate::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn access_token(sim: &RunningSimulator) -> String {
    let answer = client()
        .post(format!("{}{TOKEN_PATH}", sim.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", "sim-token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("expires_in").is_none(), "Salesforce sends none");
    body["access_token"].as_str().unwrap().to_string()
}

/// `GET path` with the token and an optional batch size; the status and the body.
async fn get(
    sim: &RunningSimulator,
    path: &str,
    token: &str,
    batch: Option<usize>,
) -> (u16, Value) {
    let mut request = client()
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth(token);
    if let Some(batch) = batch {
        request = request.header("Sforce-Query-Options", format!("batchSize={batch}"));
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap(),
    )
}

fn query_path(soql: &str) -> String {
    let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
    format!("/services/data/{API_VERSION}/query?q={q}")
}

fn secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test]
async fn windows_of_created_date_serve_each_record_once_oldest_first_in_batches() {
    let config = config(5_000);
    let sim = start(config.clone()).await;
    let token = access_token(&sim).await;
    let first = crate::event_time(&config, 0);
    let last = crate::event_time(&config, config.events - 1);
    let mut served: Vec<String> = Vec::new();
    let mut from = first;
    let mut batches = 0;
    while from <= last {
        let to = from + TimeDelta::hours(2);
        let soql = format!(
            "SELECT Id, Action, CreatedDate, CreatedBy.Name FROM SetupAuditTrail WHERE CreatedDate >= {} AND CreatedDate < {} ORDER BY CreatedDate ASC, Id ASC",
            secs(from),
            secs(to)
        );
        let mut path = query_path(&soql);
        loop {
            let (status, body) = get(&sim, &path, &token, Some(500)).await;
            assert_eq!(status, 200, "{body}");
            batches += 1;
            let records = body["records"].as_array().unwrap();
            assert!(records.len() <= 500);
            let times: Vec<DateTime<Utc>> = records
                .iter()
                .map(|r| {
                    DateTime::parse_from_str(
                        r["CreatedDate"].as_str().unwrap(),
                        "%Y-%m-%dT%H:%M:%S%.3f%z",
                    )
                    .unwrap()
                    .to_utc()
                })
                .collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
            assert!(
                times.iter().all(|t| *t >= from && *t < to),
                "inside [from, to)"
            );
            served.extend(
                records
                    .iter()
                    .map(|r| r["Id"].as_str().unwrap().to_string()),
            );
            if body["done"] == true {
                assert!(body.get("nextRecordsUrl").is_none());
                break;
            }
            path = body["nextRecordsUrl"].as_str().unwrap().to_string();
            assert!(
                path.starts_with(&format!("/services/data/{API_VERSION}/query/01g")),
                "{path}"
            );
        }
        from = to;
    }
    let unique: HashSet<&String> = served.iter().collect();
    let expected: Vec<String> = (0..config.events).map(|i| event_id(&config, i)).collect();
    assert_eq!(
        unique,
        expected.iter().collect::<HashSet<_>>(),
        "every record"
    );
    assert_eq!(served.len(), unique.len(), "each once");
    assert!(
        batches > 10,
        "batches of at most 500, some shorter: {batches}"
    );
    // The first record is what `event` builds.
    let (_, body) = get(
        &sim,
        &query_path("SELECT Id FROM SetupAuditTrail ORDER BY CreatedDate"),
        &token,
        None,
    )
    .await;
    assert_eq!(body["records"][0], event(&config, 0));
    assert_eq!(body["totalSize"], config.events);
    assert_eq!(sim.stats().bad_requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_sessions_clients_queries_and_locators_are_refused_as_salesforce_words_them() {
    let sim = start(config(3_000)).await;
    let (status, body) = get(
        &sim,
        &query_path("SELECT Id FROM SetupAuditTrail"),
        "00Dx!nope",
        None,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body[0]["errorCode"], "INVALID_SESSION_ID");
    let wrong = client()
        .post(format!("{}{TOKEN_PATH}", sim.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    assert_eq!(
        serde_json::from_slice::<Value>(&wrong.bytes().await.unwrap()).unwrap()["error"],
        "invalid_client"
    );
    assert_eq!(sim.stats().unauthorized, 2);

    let token = access_token(&sim).await;
    for (soql, code) in [
        ("SELECT Id FROM Account", "INVALID_TYPE"),
        ("SELECT Nope FROM SetupAuditTrail", "INVALID_FIELD"),
        (
            "SELECT Id FROM SetupAuditTrail WHERE CreatedDate > '2026-11-22T10:00:00Z'",
            "MALFORMED_QUERY",
        ),
        (
            "SELECT Id FROM SetupAuditTrail WHERE CreatedDate > 2026-11-22T10:00:00.000Z",
            "MALFORMED_QUERY",
        ),
        (
            "SELECT Id FROM SetupAuditTrail WHERE Action = 'x'",
            "MALFORMED_QUERY",
        ),
        ("SELECT Id FROM SetupAuditTrail LIMIT 10", "MALFORMED_QUERY"),
    ] {
        let (status, body) = get(&sim, &query_path(soql), &token, None).await;
        assert_eq!(status, 400, "{soql}: {body}");
        assert_eq!(body[0]["errorCode"], code, "{soql}: {body}");
    }
    let bad = format!("/services/data/{API_VERSION}/query/01g0g10g0g0g0-5");
    let (status, body) = get(&sim, &bad, &token, None).await;
    assert_eq!(
        (status, &body[0]["errorCode"]),
        (400, &json!("INVALID_QUERY_LOCATOR"))
    );
    // A locator of a query run sixteen minutes ago has expired.
    let old = Locator {
        lo: 0,
        hi: 3_000,
        descending: false,
        queried_ms: Utc::now().timestamp_millis() - 16 * 60 * 1000,
    };
    let expired = format!("/services/data/{API_VERSION}/query/{}", old.encode(42, 100));
    let (status, body) = get(&sim, &expired, &token, None).await;
    assert_eq!(
        (status, &body[0]["errorCode"]),
        (400, &json!("INVALID_QUERY_LOCATOR"))
    );
    assert_eq!(sim.stats().cursors_expired, 1);
    let fresh = Locator {
        queried_ms: Utc::now().timestamp_millis(),
        ..old
    };
    let path = format!(
        "/services/data/{API_VERSION}/query/{}",
        fresh.encode(42, 100)
    );
    let (status, body) = get(&sim, &path, &token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][0]["Id"], event_id(&config(3_000), 100));
    let (status, _) = get(
        &sim,
        "/services/data/v20.0/query?q=SELECT+Id+FROM+SetupAuditTrail",
        &token,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = get(
        &sim,
        &query_path("SELECT Id FROM SetupAuditTrail"),
        &token,
        Some(50),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(sim.stats().bad_requests, 9);
    sim.shutdown().await;
}

#[test]
fn locators_round_trip_and_refuse_tampering() {
    let locator = Locator {
        lo: 10,
        hi: 900,
        descending: true,
        queried_ms: 1_790_000_000_000,
    };
    let text = locator.encode(7, 500);
    assert_eq!(Locator::decode(7, &text), Some((locator, 500)));
    assert_eq!(Locator::decode(8, &text), None, "another seed");
    let moved = text.replace("-500", "-901");
    assert_eq!(Locator::decode(7, &moved), None, "outside its range");
    let widened = text.replacen("g384g", "g385g", 1);
    assert_eq!(Locator::decode(7, &widened), None, "another range");
}
