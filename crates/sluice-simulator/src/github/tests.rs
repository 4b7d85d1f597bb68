use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;
use crate::{self as simulator, event, event_id, event_ids, RunningSimulator, SimulatorConfig};

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::github(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .user_agent("sluice-test")
        .build()
        .unwrap()
}

/// Follows `Link: rel="next"` from `url`, returning every page's records.
async fn list(url: String) -> Vec<Vec<Value>> {
    let client = client();
    let mut pages = Vec::new();
    let mut next = Some(url);
    while let Some(url) = next {
        let answer = client
            .get(&url)
            .bearer_auth("sim-token")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{url}");
        next = answer
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.strip_prefix('<'))
            .and_then(|l| l.split_once(">; rel=\"next\""))
            .map(|(url, _)| url.to_string());
        pages.push(serde_json::from_slice::<Vec<Value>>(&answer.bytes().await.unwrap()).unwrap());
        assert!(pages.len() < 1000, "the listing does not end");
    }
    pages
}

fn millis(event: &Value) -> i64 {
    event["@timestamp"].as_i64().unwrap()
}

#[test]
fn events_have_the_documented_shape_and_unique_ids() {
    let cfg = config(5_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    let mut actions = HashSet::new();
    for i in (0..cfg.events).step_by(7) {
        let e = event(&cfg, i);
        assert_eq!(e["_document_id"], event_id(&cfg, i).as_str());
        assert_eq!(e["created_at"], e["@timestamp"]);
        assert_eq!(
            simulator::event_time(&cfg, i).timestamp_millis(),
            millis(&e)
        );
        assert_eq!(e["org"], "acme");
        let action = e["action"].as_str().unwrap().to_string();
        assert_eq!(action.starts_with("git."), events::is_git(cfg.seed, i));
        if action.starts_with("repo.") {
            assert!(e["repo"].as_str().unwrap().starts_with("acme/"));
        }
        actions.insert(action);
    }
    assert!(actions.len() >= 10, "{actions:?}");
}

#[tokio::test]
async fn an_ascending_range_of_all_events_is_served_exactly_through_links() {
    let cfg = config(1_000);
    let sim = start(cfg.clone()).await;
    // Events of [from, to] at whole seconds, both ends inclusive.
    let from = simulator::event_time(&cfg, 200);
    let to = simulator::event_time(&cfg, 700);
    let secs = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    let phrase = format!("created:{}..{}", secs(from), secs(to));
    let url = format!(
        "{}/orgs/acme/audit-log?{}",
        sim.base_url(),
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("phrase", &phrase)
            .append_pair("include", "all")
            .append_pair("order", "asc")
            .append_pair("per_page", "100")
            .finish()
    );
    let pages = list(url).await;
    assert!(pages.iter().all(|p| p.len() <= 100));
    let served: Vec<Value> = pages.into_iter().flatten().collect();
    let from_s = from.timestamp() * 1000;
    let to_s = to.timestamp() * 1000 + 1000;
    let expected: Vec<Value> = (0..cfg.events)
        .map(|i| event(&cfg, i))
        .filter(|e| (from_s..to_s).contains(&millis(e)))
        .collect();
    assert!(expected.len() > 400);
    assert_eq!(served, expected);
}

#[tokio::test]
async fn by_default_web_events_come_newest_first_thirty_a_page() {
    let cfg = config(300);
    let sim = start(cfg.clone()).await;
    let pages = list(format!("{}/orgs/acme/audit-log", sim.base_url())).await;
    assert_eq!(pages[0].len(), 30);
    let served: Vec<Value> = pages.into_iter().flatten().collect();
    let expected: Vec<Value> = (0..cfg.events)
        .rev()
        .filter(|i| !events::is_git(cfg.seed, *i))
        .map(|i| event(&cfg, i))
        .collect();
    assert!(
        expected.len() < cfg.events as usize,
        "some events are Git's"
    );
    assert_eq!(served, expected);
}

#[tokio::test]
async fn refusals_look_like_github() {
    let sim = start(config(10)).await;
    let base = format!("{}/orgs/acme/audit-log", sim.base_url());
    let plain = reqwest::Client::builder().no_proxy().build().unwrap();
    let no_agent = plain.get(&base).bearer_auth("sim-token").send().await;
    assert_eq!(no_agent.unwrap().status(), 403);
    let bad = client()
        .get(&base)
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let body: Value = serde_json::from_slice(&bad.bytes().await.unwrap()).unwrap();
    assert_eq!(body["message"], "Bad credentials");
    let old_scheme = client()
        .get(&base)
        .header("authorization", "token sim-token")
        .send()
        .await
        .unwrap();
    assert_eq!(old_scheme.status(), 200);
    for (url, status) in [
        (format!("{}/orgs/other/audit-log", sim.base_url()), 404),
        (format!("{base}?after=a1_00000000"), 422),
        (format!("{base}?phrase=actor:mona"), 422),
        (
            format!("{base}?phrase=created:2026-01-01T00:00:00+00:00..*"),
            422,
        ),
        (format!("{base}?include=everything"), 422),
        (format!("{base}?before=x"), 422),
    ] {
        let answer = client()
            .get(&url)
            .bearer_auth("sim-token")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{url}");
    }
}
