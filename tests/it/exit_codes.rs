//! Failure kinds seen from outside: `--exit-codes by-kind` gives a failed run the code of its
//! kind (the default stays 1), and `sluice status` shows the last failure's kind.

use crate::common;

use std::net::{Ipv4Addr, SocketAddr};

use common::{run_sluice, start_simulator, TestConfig};
use sluice::simulator::SimulatorConfig;

fn text(output: &std::process::Output) -> String {
    common::output_text(output)
}

/// `run --once` with `extra` arguments; the exit code and the output.
async fn run(config: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["run", "--once", "--config", config];
    args.extend_from_slice(extra);
    let out = run_sluice(&args).await;
    (out.status.code(), text(&out))
}

async fn status(config: &str) -> (String, serde_json::Value) {
    let shown = run_sluice(&["status", "--config", config]).await;
    let json = run_sluice(&["status", "--json", "--config", config]).await;
    let rows = serde_json::from_slice(&json.stdout)
        .unwrap_or_else(|e| panic!("status --json is JSON ({e}): {}", text(&json)));
    (text(&shown), rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_credential_exits_77_by_kind_and_status_shows_auth() {
    let sim = start_simulator(SimulatorConfig::okta(20)).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut cfg = TestConfig::new(&base_url);
    cfg.token = "wrong-token";
    let path = cfg.write(dir.path(), "");
    let config = path.to_str().unwrap();

    let (code, out) = run(config, &[]).await;
    assert_eq!(code, Some(1), "the default is unchanged: {out}");
    let (code, out) = run(config, &["--exit-codes", "by-kind"]).await;
    assert_eq!(code, Some(77), "{out}");

    let (shown, rows) = status(config).await;
    assert_eq!(rows[0]["last_error"]["kind"], "auth", "{rows}");
    assert_eq!(rows[0]["last_run"]["kind"], "auth", "{rows}");
    assert!(shown.contains("(auth): "), "{shown}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_the_api_does_not_have_exits_78_by_kind() {
    let sim = start_simulator(SimulatorConfig::okta(20)).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let path = TestConfig::new(&base_url).write(dir.path(), "");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("path = \"/api/v1/logs\"", "path = \"/api/v1/no-such-logs\"");
    std::fs::write(&path, text).unwrap();
    let config = path.to_str().unwrap();

    let (code, out) = run(config, &["--exit-codes", "by-kind"]).await;
    assert_eq!(code, Some(78), "{out}");
    let (shown, rows) = status(config).await;
    assert_eq!(rows[0]["last_error"]["kind"], "config", "{rows}");
    assert!(shown.contains("(config): "), "{shown}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_refuses_every_event_exits_73_by_kind() {
    let sim = start_simulator(SimulatorConfig::okta(20)).await;
    // An endpoint that refuses every batch as malformed.
    let app =
        axum::Router::new().fallback(|| async { (axum::http::StatusCode::BAD_REQUEST, "bad") });
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let endpoint = format!("http://{}/ingest", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let path = TestConfig::new(&base_url).write(dir.path(), "");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("sinks = [\"lake\"]", "sinks = [\"lake\", \"siem\"]")
        + &format!(
            "\n[[sinks]]\nname = \"siem\"\nkind = \"http\"\nurl = \"{endpoint}\"\nmax_attempts = 1\n\n[dead_letter]\npath = \"dead-letter\"\n"
        );
    std::fs::write(&path, text).unwrap();
    let config = path.to_str().unwrap();

    let (code, out) = run(config, &["--exit-codes", "by-kind"]).await;
    assert_eq!(code, Some(73), "{out}");
    assert!(out.contains("sink `siem`"), "{out}");
    let (_, rows) = status(config).await;
    assert_eq!(rows[0]["last_error"]["kind"], "sink_refused", "{rows}");
    sim.shutdown().await;
}
