use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::*;
use crate::{LateEvents, RunningSimulator, SimulatorConfig};

/// Six hours of rows ending 2026-11-22T12:00:00Z (all files long created).
fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::salesforce_event_log(events)
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn token(sim: &RunningSimulator) -> String {
    let answer = client()
        .post(format!("{}{}", sim.base_url(), super::super::TOKEN_PATH))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", super::super::CLIENT_ID),
            ("client_secret", "sim-token"),
        ])
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

async fn get(sim: &RunningSimulator, path: &str, token: &str) -> (u16, Vec<u8>) {
    let answer = client()
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.bytes().await.unwrap().to_vec())
}

fn query_path(soql: &str) -> String {
    let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
    format!("/services/data/{API_VERSION}/query?q={q}")
}

#[test]
fn every_row_is_in_exactly_one_listed_file_with_the_id_it_is_read_by() {
    for late in [0.0, 0.3] {
        let mut config = config(3_000);
        config.late = LateEvents {
            fraction: late,
            max_delay: std::time::Duration::from_secs(3 * 3600),
        };
        let timeline = crate::timeline_of(&config);
        let files = Files::new(&config, &timeline);
        let listed = files.listed(i64::MIN / 4, i64::MAX / 4, i64::MAX / 4);
        let mut seen = Vec::new();
        let mut ids = HashSet::new();
        for key in &listed {
            let id = files.id(key);
            assert_eq!(id.len(), 18, "{id}");
            assert!(ids.insert(id.clone()));
            assert_eq!(files.parse_id(&id), Some(*key));
            let rows = files.rows_of(key);
            assert!(!rows.is_empty());
            for (n, index) in rows.iter().enumerate() {
                seen.push((*index, format!("{id}:{}", n + 1)));
                // Never in a file created before the row could be seen.
                assert!(
                    i128::from(files.created_ms(key)) * 1_000_000 >= timeline.visible_at_ns(*index)
                );
            }
        }
        seen.sort();
        let expected = crate::event_ids(&config);
        assert_eq!(seen.len(), expected.len(), "late {late}");
        for (index, id) in &seen {
            assert_eq!(&expected[*index as usize], id);
        }
        // The one-by-one id agrees with the file-by-file ones.
        for index in [0, 1, 77, 2_999] {
            assert_eq!(event_id(&config, index), expected[index as usize]);
        }
        // Late rows make later files for the same type and hour, with a higher Sequence.
        let mut per_hour: HashMap<(i64, usize), Vec<i64>> = HashMap::new();
        for key in &listed {
            per_hour
                .entry((key.hour, key.kind))
                .or_default()
                .push(files.sequence(key));
        }
        let regenerated = per_hour.values().filter(|s| s.len() > 1).count();
        assert_eq!(regenerated > 0, late > 0.0, "late {late}");
    }
}

#[test]
fn ids_from_elsewhere_are_not_files() {
    let config = config(100);
    let timeline = crate::timeline_of(&config);
    let files = Files::new(&config, &timeline);
    let key = files.key_of(5);
    let id = files.id(&key);
    let mut forged = id.clone().into_bytes();
    forged[17] = if forged[17] == b'A' { b'B' } else { b'A' };
    assert_eq!(files.parse_id(&String::from_utf8(forged).unwrap()), None);
    assert_eq!(files.parse_id("0AT"), None);
    assert_eq!(files.parse_id("001000000000000AAA"), None);
}

#[test]
fn queries_are_read_as_documented_and_others_refused() {
    let q = parse("SELECT Id, EventType, LogDate, Interval, Sequence, CreatedDate, LogFileLength, LogFile FROM EventLogFile WHERE CreatedDate >= 2026-11-22T10:00:00Z AND CreatedDate < 2026-11-22T11:00:00Z AND Interval = 'Hourly' ORDER BY CreatedDate ASC, Id ASC").unwrap();
    assert_eq!(q.hi_ms - q.lo_ms, 3_600_000);
    assert!(q.hourly);
    let daily = parse("SELECT Id FROM EventLogFile WHERE Interval = 'Daily'").unwrap();
    assert!(!daily.hourly);
    for (bad, code) in [
        ("SELECT Body FROM EventLogFile", "INVALID_FIELD"),
        (
            "SELECT Id FROM EventLogFile WHERE LogDate >= 2026-11-22T10:00:00Z",
            "MALFORMED_QUERY",
        ),
        (
            "SELECT Id FROM EventLogFile WHERE CreatedDate >= 2026-11-22T10:00:00.5Z",
            "MALFORMED_QUERY",
        ),
        ("SELECT Id FROM EventLogFile LIMIT 5", "MALFORMED_QUERY"),
        (
            "SELECT Id FROM EventLogFile ORDER BY LogDate",
            "MALFORMED_QUERY",
        ),
        (
            "SELECT Id FROM EventLogFile WHERE Interval = 'Weekly'",
            "INVALID_QUERY_FILTER_OPERATOR",
        ),
    ] {
        assert_eq!(parse(bad).unwrap_err().0, code, "{bad}");
    }
    assert!(is_event_log_query("select Id from eventlogfile"));
    assert!(!is_event_log_query("SELECT Id FROM SetupAuditTrail"));
}

#[tokio::test]
async fn files_are_listed_in_batches_and_served_as_csv() {
    let mut config = config(2_000);
    config.max_page_size = 7;
    let sim = crate::start(config.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let token = token(&sim).await;
    let soql = "SELECT Id, LogFile, LogFileLength, CreatedDate FROM EventLogFile WHERE CreatedDate >= 2026-11-22T00:00:00Z AND Interval = 'Hourly' ORDER BY CreatedDate ASC, Id ASC";
    let (status, body) = get(&sim, &query_path(soql), &token).await;
    assert_eq!(status, 200);
    let mut page: Value = serde_json::from_slice(&body).unwrap();
    let mut records = Vec::new();
    loop {
        records.extend(page["records"].as_array().unwrap().clone());
        let Some(next) = page["nextRecordsUrl"].as_str() else {
            assert_eq!(page["done"], true);
            break;
        };
        let (status, body) = get(&sim, next, &token).await;
        assert_eq!(status, 200);
        page = serde_json::from_slice(&body).unwrap();
    }
    assert_eq!(records.len(), page["totalSize"].as_u64().unwrap() as usize);
    let created: Vec<&str> = records
        .iter()
        .map(|r| r["CreatedDate"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] <= w[1]), "{created:?}");
    let mut rows = 0;
    for record in &records {
        let (status, csv) = get(&sim, record["LogFile"].as_str().unwrap(), &token).await;
        assert_eq!(status, 200);
        assert_eq!(csv.len() as f64, record["LogFileLength"].as_f64().unwrap());
        let text = String::from_utf8(csv).unwrap();
        assert!(text.starts_with("\"EVENT_TYPE\",\"TIMESTAMP\",\"REQUEST_ID\""));
        rows += text.lines().count() - 1;
    }
    assert_eq!(rows, 2_000, "every row once");
    // A file that does not exist, and no token.
    let missing =
        format!("/services/data/{API_VERSION}/sobjects/EventLogFile/0AT000000000000AAA/LogFile");
    assert_eq!(get(&sim, &missing, &token).await.0, 404);
    let some = records[0]["LogFile"].as_str().unwrap();
    assert_eq!(get(&sim, some, "nope").await.0, 401);
    // The audit trail is not this profile's object.
    let (status, _) = get(&sim, &query_path("SELECT Id FROM SetupAuditTrail"), &token).await;
    assert_eq!(status, 400);
    assert_eq!(sim.stats().events_served, 2_000);
    sim.shutdown().await;
}
