//! `sluice lake replay`: a source's lake events of a range re-delivered to an HTTP sink with
//! a checkpoint of its own. Killed with `kill -9` again and again, it still delivers every
//! event of the range (and none outside it) once resumed to the end; a finished replay sends
//! nothing more; the source's own checkpoint is untouched; an unknown sink is refused naming
//! the sinks that exist.

use crate::common;

use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use sluice::simulator::SimulatorConfig;

use common::kill::Killer;
use common::{output_text, run_sluice, run_until_caught_up, sluice, start_simulator, TestConfig};

/// Event ids received, with how many times each.
type Seen = Arc<Mutex<HashMap<String, usize>>>;

/// An HTTP endpoint that takes NDJSON batches and counts each event id.
async fn receiver() -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let url = format!("http://{}/ingest", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .fallback(take)
        .with_state(Arc::clone(&seen));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

async fn take(State(seen): State<Seen>, request: Request) -> StatusCode {
    let Ok(body) = axum::body::to_bytes(request.into_body(), 64 << 20).await else {
        return StatusCode::BAD_REQUEST;
    };
    let mut seen = seen.lock().unwrap();
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let event: serde_json::Value = serde_json::from_slice(line).unwrap();
        *seen
            .entry(event["event_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    StatusCode::OK
}

/// Every (event id, event time) in the local lake of `okta`.
fn lake_events(lake: &std::path::Path) -> Vec<(String, DateTime<Utc>)> {
    common::lake::envelopes(lake, "okta")
        .iter()
        .map(|e| {
            (
                e["event_id"].as_str().unwrap().to_string(),
                e["event_time"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_delivers_every_event_of_the_range_after_repeated_kill_9() {
    let sim_config = SimulatorConfig::okta(24_000);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = receiver().await;
    let base_url = sim.base_url();
    let mut test_config = TestConfig::new(&base_url);
    test_config.roll_size = "16KB";
    let siem = format!(
        "\n[[sinks]]\nname = \"siem\"\nkind = \"http\"\nurl = \"{url}\"\nmax_attempts = 2\n"
    );
    let config_path = test_config.write(dir.path(), "");
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(&config_path, format!("{text}{siem}")).unwrap();
    let config = config_path.to_str().unwrap().to_string();
    run_until_caught_up(&config, 20, &[]).await;
    let lake = dir.path().join("lake");
    let events = lake_events(&lake);

    // A range cutting through the middle of the lake: a tenth of the events on each side
    // stays out.
    let mut times: Vec<DateTime<Utc>> = events.iter().map(|(_, t)| *t).collect();
    times.sort();
    let from = times[times.len() / 10];
    let to = times[times.len() * 9 / 10];
    let expected: BTreeSet<String> = events
        .iter()
        .filter(|(_, t)| *t >= from && *t < to)
        .map(|(id, _)| id.clone())
        .collect();
    let source_before = state_of(&config, "okta").await;

    // An unknown sink names the sinks that can take a replay.
    let (from_arg, to_arg) = (from.to_rfc3339(), to.to_rfc3339());
    let replay_args = |sink: &str| {
        vec![
            "lake".to_string(),
            "replay".into(),
            "--source".into(),
            "okta".into(),
            "--from".into(),
            from_arg.clone(),
            "--to".into(),
            to_arg.clone(),
            "--sink".into(),
            sink.into(),
            "--batch".into(),
            "40".into(),
            "--config".into(),
            config.clone(),
        ]
    };
    let args = replay_args("splunk");
    let out = run_sluice(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("`splunk`") && text.contains("`siem`"),
        "{text}"
    );
    assert!(seen.lock().unwrap().is_empty());

    let mut killer = Killer::new("lake_replay", &dir.path().join("runs"));
    let start = || {
        let mut command = sluice();
        command.args(replay_args("siem")).arg("--quiet");
        command
    };
    let received = || std::future::ready(seen.lock().unwrap().len());
    killer
        .until_landed(start, 12, 60, 20..200, received, 0..150)
        .await;
    let before_final = seen.lock().unwrap().len();
    assert!(
        before_final > 0 && before_final < expected.len(),
        "the kills landed before any batch or after the last: {before_final} of {}",
        expected.len()
    );

    let args = replay_args("siem");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let finish = run_sluice(&args).await;
    let text = output_text(&finish);
    assert_eq!(finish.status.code(), Some(0), "final run: {text}");
    assert!(text.contains("done"), "{text}");
    let got: BTreeSet<String> = seen.lock().unwrap().keys().cloned().collect();
    assert_eq!(got.len(), expected.len(), "{text}");
    assert_eq!(
        got, expected,
        "the receiver holds exactly the range's events"
    );
    // At least once: a batch sent just before a kill may come again, but only such batches.
    let repeated: usize = seen.lock().unwrap().values().map(|n| n - 1).sum();
    assert!(
        repeated <= 40 * killer.landed,
        "{repeated} repeats for {} kills",
        killer.landed
    );

    // Finished: running it again sends nothing.
    let again = run_sluice(&args).await;
    let text = output_text(&again);
    assert_eq!(again.status.code(), Some(0), "{text}");
    assert!(text.contains("already replayed"), "{text}");
    let total: usize = seen.lock().unwrap().values().sum();
    assert_eq!(total, expected.len() + repeated);

    // The source's own checkpoint did not move.
    assert_eq!(state_of(&config, "okta").await, source_before);
    sim.shutdown().await;
}

/// The checkpoint of state key `key`, from `sluice state export`.
async fn state_of(config: &str, key: &str) -> serde_json::Value {
    let out = run_sluice(&["state", "export", "--config", config]).await;
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let exported: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    exported["checkpoints"][key].clone()
}

/// Each event line received, by event id (the last copy).
type Lines = Arc<Mutex<HashMap<String, serde_json::Value>>>;

/// An HTTP endpoint that takes NDJSON batches and keeps each event whole.
async fn keeper() -> (String, Lines) {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let url = format!("http://{}/ingest", listener.local_addr().unwrap());
    let lines: Lines = Arc::default();
    let app = axum::Router::new()
        .fallback(keep)
        .with_state(Arc::clone(&lines));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, lines)
}

async fn keep(State(lines): State<Lines>, request: Request) -> StatusCode {
    let Ok(body) = axum::body::to_bytes(request.into_body(), 64 << 20).await else {
        return StatusCode::BAD_REQUEST;
    };
    let mut lines = lines.lock().unwrap();
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let event: serde_json::Value = serde_json::from_slice(line).unwrap();
        lines.insert(event["event_id"].as_str().unwrap().to_string(), event);
    }
    StatusCode::OK
}

/// `sluice lake replay --source okta` of the whole lake (a day back to an hour ahead) to
/// `sink`, from `lake`; exits 0.
async fn replay_all(config: &str, sink: &str, lake: &str) -> String {
    let from = (Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let to = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let out = run_sluice(&[
        "lake", "replay", "--source", "okta", "--from", &from, "--to", &to, "--sink", sink,
        "--lake", lake, "--config", config,
    ])
    .await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "replay to {sink}: {text}");
    text
}

/// A source writing the same events, mapped to OCSF as an `ocsf` member, to an NDJSON lake
/// and to a Parquet lake (with its typed OCSF columns): replayed from either lake, a SIEM
/// receives the same envelopes, `data` and `ocsf` member alike.
#[cfg(feature = "parquet")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_from_a_parquet_lake_sends_what_the_ndjson_lake_sends() {
    let sim_config = SimulatorConfig::okta(1_500);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let (from_ndjson, ndjson_lines) = keeper().await;
    let (from_parquet, parquet_lines) = keeper().await;
    let base_url = sim.base_url();
    let mut test_config = TestConfig::new(&base_url);
    test_config.roll_size = "64KB";
    test_config.extra_source =
        "\n[[sources.transforms]]\nkind = \"ocsf\"\nmapping = \"okta\"\ninto = \"member\"\n";
    let source = test_config
        .source_table()
        .replace("sinks = [\"lake\"]", "sinks = [\"lake\", \"pq\"]");
    let text = format!(
        r#"
[state]
kind = "sqlite"
path = "state.db"
{source}
[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
roll_size = "64KB"

[[sinks]]
name = "pq"
kind = "lake"
path = "pq"
format = "parquet"
roll_size = "64KB"

[[sinks]]
name = "siem_ndjson"
kind = "http"
url = "{from_ndjson}"

[[sinks]]
name = "siem_parquet"
kind = "http"
url = "{from_parquet}"
"#
    );
    let config_path = dir.path().join("sluice.toml");
    std::fs::write(&config_path, text).unwrap();
    let config = config_path.to_str().unwrap().to_string();
    run_until_caught_up(&config, 20, &[]).await;
    sim.shutdown().await;
    let parquet_objects = walkdir(&dir.path().join("pq/source=okta"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .count();
    assert!(parquet_objects > 1, "{parquet_objects} Parquet objects");

    replay_all(&config, "siem_ndjson", "lake").await;
    let shown = replay_all(&config, "siem_parquet", "pq").await;
    assert!(shown.contains("1500 events sent"), "{shown}");
    let ndjson = ndjson_lines.lock().unwrap().clone();
    let parquet = parquet_lines.lock().unwrap().clone();
    assert_eq!(ndjson.len(), 1_500);
    assert_eq!(parquet.len(), ndjson.len());
    for (id, event) in &ndjson {
        assert!(event["ocsf"]["class_uid"].is_number(), "{event}");
        assert_eq!(parquet.get(id), Some(event), "event {id}");
    }
}

/// Every file under `dir`, recursively.
#[cfg(feature = "parquet")]
fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walkdir(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The target sink's own chain runs on replayed events as on live ones: its `hash` step
/// replaces the actor's email by a keyed token (the lake keeps the email), its `filter`
/// step drops sign-outs (counted in the summary, not sent), and a step that fails on an
/// event sends it to the dead-letter queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_runs_the_target_sinks_transforms() {
    let sim_config = SimulatorConfig::okta(1_000);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let (url, lines) = keeper().await;
    let base_url = sim.base_url();
    let mut test_config = TestConfig::new(&base_url);
    test_config.roll_size = "64KB";
    let config_path = test_config.write(dir.path(), "");
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        format!(
            r#"{text}
[dead_letter]
path = "dead-letter"

[[sinks]]
name = "siem"
kind = "http"
url = "{url}"

[[sinks.transforms]]
kind = "filter"
action = "drop"
field = "eventType"
equals = "user.session.end"

[[sinks.transforms]]
kind = "hash"
fields = ["actor.alternateId"]
key = "a-replay-test-key-of-32-bytes-ok!"
prefix = "pii:"

[[sinks.transforms]]
kind = "cast"
fields = ["outcome.reason"]
to = "int"
"#
        ),
    )
    .unwrap();
    let config = config_path.to_str().unwrap().to_string();
    run_until_caught_up(&config, 20, &[]).await;
    sim.shutdown().await;
    let lake = common::lake::envelopes(&dir.path().join("lake"), "okta");
    assert_eq!(lake.len(), 1_000);
    assert!(
        lake.iter().all(|e| e["data"]["actor"]["alternateId"]
            .as_str()
            .unwrap()
            .contains('@')),
        "the lake keeps the emails"
    );
    let sign_outs = lake
        .iter()
        .filter(|e| e["data"]["eventType"] == "user.session.end")
        .count();
    let failing = lake
        .iter()
        .filter(|e| e["data"]["eventType"] != "user.session.end")
        .filter(|e| e["data"]["outcome"]["reason"].is_string())
        .count();
    assert!(
        sign_outs > 0 && failing > 0,
        "{sign_outs} sign-outs, {failing} with a reason"
    );

    let shown = replay_all(&config, "siem", "lake").await;
    let received = lines.lock().unwrap().clone();
    assert_eq!(received.len(), 1_000 - sign_outs - failing, "{shown}");
    for event in received.values() {
        let actor = event["data"]["actor"]["alternateId"].as_str().unwrap();
        assert!(
            actor.starts_with("pii:") && !actor.contains('@'),
            "replayed with the raw email: {event}"
        );
        assert_ne!(event["data"]["eventType"], "user.session.end");
    }
    assert!(
        shown.contains(&format!("siem/filter#1 dropped {sign_outs}"))
            && shown.contains(&format!("siem/cast#3 failed {failing}")),
        "{shown}"
    );
    let letters = common::lake::envelopes(&dir.path().join("dead-letter"), "okta");
    assert_eq!(letters.len(), failing, "{shown}");
    assert!(letters.iter().all(|l| l["data"]["error"]
        .as_str()
        .unwrap()
        .starts_with("transform step `siem/cast#3`")));
}
