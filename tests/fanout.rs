//! Fan-out to several sinks, the checkpoint waiting for all of them, and the dead-letter
//! queue: the real binary, the simulator, a lake and an HTTP receiver.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use sluice::simulator::{self, SimulatorConfig};

use common::{assert_lake_exact, run_sluice, start_simulator, TestConfig};

/// An HTTP endpoint that records NDJSON events, refuses batches holding a poison id (400) or,
/// when `down`, every batch (503).
#[derive(Clone, Default)]
struct Receiver {
    ids: Arc<Mutex<Vec<String>>>,
    poison: Arc<Mutex<HashSet<String>>>,
    down: Arc<Mutex<bool>>,
}

async fn ingest(State(receiver): State<Receiver>, body: Bytes) -> StatusCode {
    if *receiver.down.lock().unwrap() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let text = String::from_utf8_lossy(&body);
    let ids: Vec<String> = text
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let poison = receiver.poison.lock().unwrap();
    if ids.iter().any(|id| poison.contains(id)) {
        return StatusCode::BAD_REQUEST;
    }
    receiver.ids.lock().unwrap().extend(ids);
    StatusCode::OK
}

async fn start_receiver(receiver: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/ingest", post(ingest))
        .with_state(receiver);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/ingest")
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_waits_for_every_sink_and_refused_events_reach_the_dead_letter_queue() {
    let sim_config = SimulatorConfig::okta(600);
    let sim = start_simulator(sim_config.clone()).await;
    let receiver = Receiver::default();
    let endpoint = start_receiver(receiver.clone()).await;
    let all_ids = simulator::event_ids(&sim_config);
    let poison: HashSet<String> = all_ids.iter().step_by(97).cloned().collect();
    receiver
        .poison
        .lock()
        .unwrap()
        .extend(poison.iter().cloned());

    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut cfg = TestConfig::new(&base_url);
    cfg.roll_size = "16KB";
    let path = cfg.write(dir.path(), "");
    let config_text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("sinks = [\"lake\"]", "sinks = [\"lake\", \"receiver\"]")
        + &format!(
            "\n[[sinks]]\nname = \"receiver\"\nkind = \"http\"\nurl = \"{endpoint}\"\nmax_batch_events = 1\nmax_attempts = 2\n\n[dead_letter]\npath = \"dead-letter\"\n"
        );
    std::fs::write(&path, &config_text).unwrap();
    let config = path.to_str().unwrap();

    // While the receiver is down, nothing is committed: the lake stays empty too.
    *receiver.down.lock().unwrap() = true;
    let out = run_sluice(&["run", "--once", "--config", config]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("sink `receiver`"), "{}", text(&out));
    let lake = sluice::sink::lake::read_lake(&dir.path().join("lake"), "okta").unwrap();
    assert!(
        lake.event_ids.is_empty(),
        "the checkpoint must wait for every sink"
    );
    let status = run_sluice(&["status", "--json", "--config", config]).await;
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status[0]["commits"], 0, "nothing committed: {status}");

    *receiver.down.lock().unwrap() = false;
    let out = run_sluice(&["run", "--once", "--config", config]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("dead_lettered={}", poison.len())),
        "{}",
        text(&out)
    );
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    let received: HashSet<String> = receiver.ids.lock().unwrap().iter().cloned().collect();
    let expected: HashSet<String> = all_ids
        .iter()
        .filter(|id| !poison.contains(*id))
        .cloned()
        .collect();
    assert_eq!(
        received, expected,
        "the receiver has every event but the refused ones"
    );

    let out = run_sluice(&["dlq", "list", "--json", "--config", config]).await;
    assert!(out.status.success(), "{}", text(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let queued: u64 = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["events"].as_u64().unwrap())
        .sum();
    assert_eq!(queued, poison.len() as u64);
    assert!(listed[0]["reasons"][0]["error"]
        .as_str()
        .unwrap()
        .contains("400"));

    // Once the receiver accepts them, a replay empties the queue.
    receiver.poison.lock().unwrap().clear();
    let out = run_sluice(&["dlq", "replay", "--source", "okta", "--config", config]).await;
    assert!(out.status.success(), "{}", text(&out));
    let mut counts: HashMap<String, usize> = HashMap::new();
    for id in receiver.ids.lock().unwrap().iter() {
        *counts.entry(id.clone()).or_default() += 1;
    }
    assert_eq!(
        counts.len(),
        all_ids.len(),
        "every event reached the receiver"
    );
    assert!(counts.values().all(|n| *n == 1), "none twice");
    let out = run_sluice(&["dlq", "list", "--json", "--config", config]).await;
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        listed.as_array().unwrap().len(),
        0,
        "replayed objects leave the queue"
    );
    assert!(dir.path().join("dead-letter/_replayed").exists());
    sim.shutdown().await;
}

/// Events in the dead-letter queue, as `sluice dlq list --json` counts them.
async fn queued(config: &str) -> u64 {
    let out = run_sluice(&["dlq", "list", "--json", "--config", config]).await;
    assert!(out.status.success(), "{}", text(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["events"].as_u64().unwrap())
        .sum()
}

/// How often each id reached the receiver.
fn received(receiver: &Receiver) -> HashMap<String, usize> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for id in receiver.ids.lock().unwrap().iter() {
        *counts.entry(id.clone()).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_keep_what_is_refused_again_and_never_send_an_event_twice() {
    let sim_config = SimulatorConfig::okta(300);
    let sim = start_simulator(sim_config.clone()).await;
    let receiver = Receiver::default();
    let endpoint = start_receiver(receiver.clone()).await;
    let all_ids = simulator::event_ids(&sim_config);
    // Two events of one page and one hour, so one dead-letter object holds both and a replay
    // can accept one and refuse the other.
    let (first, second) = (all_ids[10].clone(), all_ids[11].clone());
    let hour = |i| {
        simulator::event_time(&sim_config, i)
            .format("%F %H")
            .to_string()
    };
    assert_eq!(hour(10), hour(11));
    receiver
        .poison
        .lock()
        .unwrap()
        .extend([first.clone(), second.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let path = TestConfig::new(&base_url).write(dir.path(), "");
    let config_text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("sinks = [\"lake\"]", "sinks = [\"lake\", \"receiver\"]")
        + &format!(
            "\n[[sinks]]\nname = \"receiver\"\nkind = \"http\"\nurl = \"{endpoint}\"\nmax_batch_events = 1\nmax_attempts = 2\n\n[dead_letter]\npath = \"dead-letter\"\n"
        );
    std::fs::write(&path, &config_text).unwrap();
    let config = path.to_str().unwrap();
    let out = run_sluice(&["run", "--once", "--config", config]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("dead_lettered=2"), "{}", text(&out));
    let out = run_sluice(&["dlq", "list", "--json", "--config", config]).await;
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "one object: {listed}");
    assert_eq!(listed[0]["events"], 2, "{listed}");
    let replay = ["dlq", "replay", "--source", "okta", "--config", config];
    let sent_before = receiver.ids.lock().unwrap().len();

    // A sink that is down: exit 1 naming it, both letters stay.
    *receiver.down.lock().unwrap() = true;
    let out = run_sluice(&replay).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("sink `receiver`") && text(&out).contains("stay in the queue"),
        "{}",
        text(&out)
    );
    assert_eq!(queued(config).await, 2);
    *receiver.down.lock().unwrap() = false;

    // A sink that still refuses both: exit 1, it says so, both stay, nothing delivered.
    let out = run_sluice(&replay).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("replayed 0 events; 2 refused again"),
        "{}",
        text(&out)
    );
    assert_eq!(queued(config).await, 2);
    assert_eq!(receiver.ids.lock().unwrap().len(), sent_before);

    // It accepts one and refuses the other: only the refused one stays.
    receiver.poison.lock().unwrap().remove(&first);
    let out = run_sluice(&replay).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        queued(config).await,
        1,
        "the accepted letter left the queue"
    );
    assert_eq!(received(&receiver).get(&first), Some(&1));
    assert!(
        text(&out).contains("replayed 1 events; 1 refused again"),
        "{}",
        text(&out)
    );

    // It accepts the other: the queue empties and the first is not sent again.
    receiver.poison.lock().unwrap().clear();
    let out = run_sluice(&replay).await;
    assert!(out.status.success(), "{}", text(&out));
    let after_replay = received(&receiver);
    assert_eq!(after_replay.get(&first), Some(&1), "sent once, not again");
    assert_eq!(after_replay.get(&second), Some(&1));

    // A second replay after a successful one sends nothing.
    let out = run_sluice(&replay).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("replayed 0 events; 0 refused again"),
        "{}",
        text(&out)
    );
    assert_eq!(
        received(&receiver),
        after_replay,
        "a second replay sends nothing"
    );
    assert_eq!(queued(config).await, 0);
    let expected: HashMap<String, usize> = all_ids.iter().map(|id| (id.clone(), 1)).collect();
    assert_eq!(
        after_replay, expected,
        "every event reached the receiver once"
    );
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_events_without_a_dead_letter_queue_stop_the_run() {
    let sim = start_simulator(SimulatorConfig::okta(50)).await;
    let receiver = Receiver::default();
    let endpoint = start_receiver(receiver.clone()).await;
    receiver.poison.lock().unwrap().extend(
        simulator::event_ids(&SimulatorConfig::okta(50))
            .into_iter()
            .take(1),
    );
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let path = TestConfig::new(&base_url).write(dir.path(), "");
    let config_text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("sinks = [\"lake\"]", "sinks = [\"lake\", \"receiver\"]")
        + &format!("\n[[sinks]]\nname = \"receiver\"\nkind = \"http\"\nurl = \"{endpoint}\"\nmax_batch_events = 1\n");
    std::fs::write(&path, config_text).unwrap();
    let out = run_sluice(&["run", "--once", "--config", path.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("no [dead_letter] queue is configured"),
        "{}",
        text(&out)
    );
    let lake = sluice::sink::lake::read_lake(&dir.path().join("lake"), "okta").unwrap();
    assert!(
        lake.event_ids.is_empty(),
        "nothing is committed past a refused event"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stdout_sink_writes_one_envelope_per_line() {
    let sim_config = SimulatorConfig::okta(300);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let path = TestConfig::new(&base_url).write(dir.path(), "");
    let config_text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("sinks = [\"lake\"]", "sinks = [\"lake\", \"out\"]")
        + "\n[[sinks]]\nname = \"out\"\nkind = \"stdout\"\n";
    std::fs::write(&path, config_text).unwrap();
    let out = run_sluice(&["run", "--once", "--config", path.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out));
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let envelope: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(envelope["source"], "okta");
            assert!(envelope["data"]["uuid"].is_string());
            envelope["event_id"].as_str().unwrap().to_string()
        })
        .collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), 300);
    assert_eq!(unique.len(), 300);
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    sim.shutdown().await;
}
