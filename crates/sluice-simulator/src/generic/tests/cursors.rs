//! Cursors: their lifetime, and positions that hold while events become visible.

use super::*;

async fn first_cursor(sim: &RunningSimulator, cfg: &SimulatorConfig) -> String {
    let response = client()
        .get(format!("{}{EVENTS_PATH}", sim.base_url()))
        .query(&[
            ("start", "2025-01-01T00:00:00Z"),
            ("end", "2026-01-01T00:00:00Z"),
            ("limit", "10"),
        ])
        .bearer_auth("sim-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = json_body(response).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 10);
    assert_eq!(body["data"][0]["id"], event_id(cfg, 0).as_str());
    body["meta"]["next_cursor"].as_str().unwrap().to_string()
}

async fn follow(sim: &RunningSimulator, cursor: &str) -> reqwest::Response {
    client()
        .get(format!("{}{EVENTS_PATH}", sim.base_url()))
        .query(&[
            ("start", "2025-01-01T00:00:00Z"),
            ("end", "2026-01-01T00:00:00Z"),
            ("limit", "10"),
            ("cursor", cursor),
        ])
        .bearer_auth("sim-token")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cursors_expire_after_their_ttl() {
    let p = GenericProfile {
        pagination: SimPagination::Cursor,
        cursor_ttl: Some(Duration::from_millis(300)),
        ..GenericProfile::default()
    };
    let cfg = config(100, p);
    let sim = start(cfg.clone()).await;
    let cursor = first_cursor(&sim, &cfg).await;
    let fresh = follow(&sim, &cursor).await;
    assert_eq!(fresh.status(), 200);
    let body: Value = json_body(fresh).await;
    assert_eq!(body["data"][0]["id"], event_id(&cfg, 10).as_str());
    tokio::time::sleep(Duration::from_millis(600)).await;
    let stale = follow(&sim, &cursor).await;
    assert_eq!(stale.status(), 400);
    let body: Value = json_body(stale).await;
    assert_eq!(body["error"], "cursor expired");
    let stats = sim.stats();
    assert_eq!((stats.cursors_expired, stats.bad_requests), (1, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn only_visible_events_are_served() {
    // Events spread over the next 2 s: none visible yet, then more and more.
    let p = GenericProfile {
        pagination: SimPagination::Cursor,
        ..GenericProfile::default()
    };
    let now = Utc::now();
    let cfg = SimulatorConfig {
        late: LateEvents {
            fraction: 0.5,
            max_delay: Duration::from_secs(1),
        },
        anchor: now + chrono::TimeDelta::milliseconds(1500),
        span: Duration::from_millis(2000),
        ..SimulatorConfig::generic(200, p.clone())
    };
    let sim = start(cfg.clone()).await;
    let window = (
        now - chrono::TimeDelta::seconds(10),
        now + chrono::TimeDelta::seconds(10),
    );
    let first = walk(&sim, &p, window.0, window.1, 1000).await;
    let visible_now: HashSet<String> = (0..cfg.events)
        .filter(|i| visible_at(&cfg, *i) <= Utc::now())
        .map(|i| event_id(&cfg, i))
        .collect();
    assert!(
        first.len() < cfg.events as usize,
        "future events are hidden"
    );
    assert!(first.iter().all(|id| visible_now.contains(id)));
    tokio::time::sleep(Duration::from_millis(2700)).await;
    let all = walk(&sim, &p, window.0, window.1, 1000).await;
    assert_same(
        &all,
        &event_ids(&cfg),
        "everything is visible in the end".into(),
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn cursors_are_positions_not_offsets_into_the_visible_list() {
    // Every event is late by up to 1 s: the first page sees a scattered subset.
    let p = GenericProfile {
        pagination: SimPagination::Cursor,
        ..GenericProfile::default()
    };
    let now = Utc::now();
    let cfg = SimulatorConfig {
        late: LateEvents {
            fraction: 1.0,
            max_delay: Duration::from_secs(1),
        },
        anchor: now - chrono::TimeDelta::milliseconds(100),
        span: Duration::from_millis(1000),
        ..SimulatorConfig::generic(100, p)
    };
    let sim = start(cfg.clone()).await;
    let ids = event_ids(&cfg);
    let index_of = |id: &str| ids.iter().position(|x| x == id).unwrap();
    let response = client()
        .get(format!("{}{EVENTS_PATH}", sim.base_url()))
        .query(&[
            ("start", "2025-01-01T00:00:00Z"),
            ("end", "2099-01-01T00:00:00Z"),
            ("limit", "3"),
        ])
        .bearer_auth("sim-token")
        .send()
        .await
        .unwrap();
    let body: Value = json_body(response).await;
    let page: Vec<usize> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| index_of(e["id"].as_str().unwrap()))
        .collect();
    assert_eq!(page.len(), 3, "{body}");
    assert!(page.windows(2).all(|w| w[0] < w[1]));
    let cursor = body["meta"]["next_cursor"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let next = client()
        .get(format!("{}{EVENTS_PATH}", sim.base_url()))
        .query(&[
            ("start", "2025-01-01T00:00:00Z"),
            ("end", "2099-01-01T00:00:00Z"),
            ("limit", "3"),
            ("cursor", &cursor),
        ])
        .bearer_auth("sim-token")
        .send()
        .await
        .unwrap();
    let next = json_body(next).await;
    // Everything is visible now; the page continues right after the last one served,
    // and events that appeared behind it stay behind it.
    let first = index_of(next["data"][0]["id"].as_str().unwrap());
    assert_eq!(first, page[2] + 1);
    sim.shutdown().await;
}
