//! Fan-out to several sinks, the checkpoint waiting for all of them, and the dead-letter
//! queue: the real binary, the simulator, a lake and an HTTP receiver.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use sluice::simulator::{self, SimulatorConfig};

use common::{assert_lake_exact, run_sluice, start_simulator, TestConfig};

/// An HTTP endpoint that records NDJSON events, refuses batches holding a poison id (400),
/// every batch when `down` (503), or every batch with `refuse_all` (a wrong URL's 404, say).
#[derive(Clone, Default)]
struct Receiver {
    ids: Arc<Mutex<Vec<String>>>,
    poison: Arc<Mutex<HashSet<String>>>,
    down: Arc<Mutex<bool>>,
    refuse_all: Arc<Mutex<Option<StatusCode>>>,
}

async fn ingest(State(receiver): State<Receiver>, body: Bytes) -> StatusCode {
    if *receiver.down.lock().unwrap() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if let Some(status) = *receiver.refuse_all.lock().unwrap() {
        return status;
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
    // Two neighbouring events of one page and one hour, so one dead-letter object holds both
    // and a replay can accept one and refuse the other. The simulator's timeline ends five
    // minutes before now, so which neighbours share an hour depends on the clock: search the
    // first page (200 events) for a pair instead of fixing the indexes.
    let hour = |i| {
        simulator::event_time(&sim_config, i)
            .format("%F %H")
            .to_string()
    };
    let pair = (0..199u64)
        .find(|&i| hour(i) == hour(i + 1))
        .expect("200 events over 6 h: some neighbours share an hour");
    let (first, second) = (
        all_ids[pair as usize].clone(),
        all_ids[pair as usize + 1].clone(),
    );
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

/// A config with a lake and the HTTP sink `receiver` at `endpoint` (with `sink_extra` lines),
/// and a dead-letter queue.
fn lake_and_receiver(
    dir: &std::path::Path,
    base_url: &str,
    endpoint: &str,
    sink_extra: &str,
) -> String {
    let cfg = TestConfig::new(base_url);
    let path = cfg.write(dir, "");
    let config_text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("sinks = [\"lake\"]", "sinks = [\"lake\", \"receiver\"]")
        + &format!(
            "\n[[sinks]]\nname = \"receiver\"\nkind = \"http\"\nurl = \"{endpoint}\"\nmax_attempts = 2\n{sink_extra}\n\n[dead_letter]\npath = \"dead-letter\"\n"
        );
    std::fs::write(&path, &config_text).unwrap();
    path.to_str().unwrap().to_string()
}

/// A SIEM behind a wrong URL refuses every batch: the events are kept in the dead-letter
/// queue, but the run fails, naming the sink and what it answered; `status` says the source
/// is failing; and with `--log-format json` every line of the output is JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_refusing_every_event_fails_the_run_loudly() {
    let sim_config = SimulatorConfig::okta(300);
    let sim = start_simulator(sim_config.clone()).await;
    let receiver = Receiver::default();
    *receiver.refuse_all.lock().unwrap() = Some(StatusCode::NOT_FOUND);
    let endpoint = start_receiver(receiver.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = lake_and_receiver(dir.path(), &sim.base_url(), &endpoint, "");

    let out = run_sluice(&["run", "--once", "--log-format", "json", "--config", &config]).await;
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("sink `receiver` refused 300 of the 300 events")
            && shown.contains("HTTP 404"),
        "the error names the sink and its answer: {shown}"
    );
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "a log line is not JSON: {line}");
    }
    // Nothing is lost: the lake has every event and the queue every refused one.
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    assert_eq!(queued(&config).await, 300);

    let status = run_sluice(&["status", "--config", &config]).await;
    assert_eq!(status.status.code(), Some(1), "{}", text(&status));
    assert!(
        text(&status)
            .contains("health       failing: the last run failed: sink `receiver` refused"),
        "{}",
        text(&status)
    );
    sim.shutdown().await;
}

/// Some refusals are normal (one bad document); how many fail a run is the sink's
/// `fail_when_refused`: by default only a sink refusing everything does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_when_refused_sets_how_much_refusal_fails_a_run() {
    let sim_config = SimulatorConfig::okta(300);
    let all_ids = simulator::event_ids(&sim_config);
    for (share, fails) in [("100%", false), ("1%", true)] {
        let sim = start_simulator(sim_config.clone()).await;
        let receiver = Receiver::default();
        // One batch in ten refused (every event of it: one id poisons the whole batch).
        let poison = all_ids.iter().step_by(100).cloned();
        receiver.poison.lock().unwrap().extend(poison);
        let endpoint = start_receiver(receiver.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let extra = format!("max_batch_events = 10\nfail_when_refused = \"{share}\"");
        let config = lake_and_receiver(dir.path(), &sim.base_url(), &endpoint, &extra);
        let out = run_sluice(&["run", "--once", "--config", &config]).await;
        let shown = text(&out);
        let expected = if fails { Some(1) } else { Some(0) };
        assert_eq!(
            out.status.code(),
            expected,
            "fail_when_refused = {share}: {shown}"
        );
        if fails {
            assert!(shown.contains("fail_when_refused = \"1%\""), "{shown}");
        }
        assert_eq!(queued(&config).await, 30, "{shown}");
        assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
        sim.shutdown().await;
    }
}

/// A SIEM that keeps answering 429 is throttling, not refusing: the events must not go to the
/// dead-letter queue; the run fails and the checkpoint stays, so the next run sends them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_throttling_past_its_retries_fails_the_run_without_dead_lettering() {
    let sim_config = SimulatorConfig::okta(100);
    let sim = start_simulator(sim_config.clone()).await;
    let receiver = Receiver::default();
    *receiver.refuse_all.lock().unwrap() = Some(StatusCode::TOO_MANY_REQUESTS);
    let endpoint = start_receiver(receiver.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = lake_and_receiver(dir.path(), &sim.base_url(), &endpoint, "");
    let out = run_sluice(&["run", "--once", "--config", &config]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("HTTP 429"), "{}", text(&out));
    assert_eq!(
        queued(&config).await,
        0,
        "throttled events are not refused ones"
    );
    *receiver.refuse_all.lock().unwrap() = None;
    let out = run_sluice(&["run", "--once", "--config", &config]).await;
    assert!(out.status.success(), "{}", text(&out));
    let received: HashSet<String> = receiver.ids.lock().unwrap().iter().cloned().collect();
    assert_eq!(received.len(), 100, "the next run delivered them all");
    sim.shutdown().await;
}
