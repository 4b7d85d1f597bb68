//! Alerts end to end: the real binary, the simulator as the vendor, and a local receiver as
//! Slack, PagerDuty and a webhook. Each `sluice run --once` is a separate process, so these
//! also prove that incidents survive a restart through the state store.

use crate::common;

use std::time::{Duration, Instant};

use common::{receiver, start_simulator, TestConfig};
use sluice::simulator::SimulatorConfig;

const WEBHOOK_KEY: &str = "webhook-signing-key";

/// `[[notifiers]]` pointing at `base` and one `failing` alert over `runs` runs.
fn alerting(base: &str, runs: u32) -> String {
    format!(
        r#"
[[notifiers]]
name = "slack"
kind = "slack"
webhook_url = "{base}/services/T0/B0/secret"
attempts = 2

[[notifiers]]
name = "pd"
kind = "pagerduty"
routing_key = "${{env:SLUICE_TEST_PD_KEY}}"
url = "{base}/pd"
attempts = 2

[[notifiers]]
name = "hook"
kind = "webhook"
url = "{base}/hook"
secret = "${{env:SLUICE_TEST_HOOK_KEY}}"
attempts = 2

[[alerts]]
rule = "failing"
runs = {runs}
notify = ["slack", "pd", "hook"]
renotify = "1h"
"#
    )
}

/// What a receiver does (docs/deployment.md): HMAC-SHA256 over `"<timestamp>.<body>"`,
/// compared in constant time with the hex of `X-Sluice-Signature: sha256=<hex>`.
fn verifies(key: &[u8], timestamp: i64, body: &[u8], header: &str) -> bool {
    use hmac::{Hmac, Mac};
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Some(expected) = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Runs `sluice run --once` on `config` and returns its exit code and output.
async fn run_once(config: &std::path::Path) -> (Option<i32>, String) {
    let out = common::sluice()
        .args(["run", "--once", "--config"])
        .arg(config)
        .env("SLUICE_TEST_PD_KEY", "pd-routing-key")
        .env("SLUICE_TEST_HOOK_KEY", WEBHOOK_KEY)
        .output()
        .await
        .expect("sluice binary runs");
    (out.status.code(), common::output_text(&out))
}

fn write(dir: &std::path::Path, base_url: &str, token: &str, alerts: &str) -> std::path::PathBuf {
    let mut config = TestConfig::new(base_url);
    config.token = token;
    // Every failure is a run (no breaker skips), so runs are easy to count.
    config.extra_source = "circuit_breaker = { failures = 0 }";
    config.write(dir, alerts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_source_alerts_once_across_processes_then_recovers_once() {
    let sim = start_simulator(SimulatorConfig::okta(50)).await;
    let rx = receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let alerts = alerting(&rx.base_url, 2);

    // A wrong token: every run fails (401).
    let broken = write(dir.path(), &sim.base_url(), "wrong-token", &alerts);
    let (code, out) = run_once(&broken).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        rx.at("/services/T0/B0/secret").await.is_empty(),
        "one failure is below runs = 2"
    );
    for _ in 0..3 {
        let (code, out) = run_once(&broken).await;
        assert_eq!(code, Some(1), "{out}");
    }
    let slack = rx.at("/services/T0/B0/secret").await;
    assert_eq!(
        slack.len(),
        1,
        "one message for three runs over the threshold, in three processes"
    );
    let opened = slack[0].json();
    assert!(
        opened["text"]
            .as_str()
            .unwrap()
            .contains("`okta` is failing"),
        "{opened}"
    );
    let blocks = opened["blocks"].to_string();
    assert!(blocks.contains("sluice status"), "{blocks}");
    assert!(blocks.contains("401"), "the error is shown: {blocks}");

    let pd = rx.at("/pd").await;
    assert_eq!(pd.len(), 1);
    let trigger = pd[0].json();
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["routing_key"], "pd-routing-key");
    let dedup_key = trigger["dedup_key"].as_str().unwrap().to_string();

    let hooks = rx.at("/hook").await;
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    let timestamp: i64 = hook.header("x-sluice-timestamp").unwrap().parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 300);
    let signed = hook.header("x-sluice-signature").unwrap();
    assert!(
        verifies(WEBHOOK_KEY.as_bytes(), timestamp, &hook.body, signed),
        "the signature verifies with the key"
    );
    assert!(
        !verifies(b"another key", timestamp, &hook.body, signed),
        "and not with another"
    );
    assert!(
        !verifies(WEBHOOK_KEY.as_bytes(), timestamp - 1, &hook.body, signed),
        "nor with another timestamp"
    );
    assert_eq!(hook.json()["event"], "opened");

    // `status` shows the open incident, in both forms.
    let status = |json: bool| {
        let config = broken.clone();
        async move {
            let mut args = vec!["status", "--config", config.to_str().unwrap()];
            if json {
                args.push("--json");
            }
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
                .args(&args)
                .output()
                .await
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let rows: serde_json::Value = serde_json::from_str(&status(true).await).unwrap();
    let incidents = &rows[0]["incidents"];
    assert_eq!(incidents.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(incidents[0]["notifications"], 1, "{rows}");
    assert!(
        incidents[0]["detail"].as_str().unwrap().contains("401"),
        "{rows}"
    );
    assert!(
        status(false).await.contains("  alert        "),
        "the table shows it"
    );

    // Fixed: the next run succeeds and sends one recovery; the one after sends nothing.
    let fixed = write(dir.path(), &sim.base_url(), "sim-token", &alerts);
    for _ in 0..2 {
        let (code, out) = run_once(&fixed).await;
        assert_eq!(code, Some(0), "{out}");
    }
    let slack = rx.at("/services/T0/B0/secret").await;
    assert_eq!(slack.len(), 2, "one recovery message");
    assert!(slack[1].json()["text"]
        .as_str()
        .unwrap()
        .contains("recovered"));
    let pd = rx.at("/pd").await;
    assert_eq!(pd.len(), 2);
    assert_eq!(pd[1].json()["event_action"], "resolve");
    assert_eq!(
        pd[1].json()["dedup_key"],
        dedup_key.as_str(),
        "the same incident"
    );
    assert_eq!(rx.at("/hook").await[1].json()["event"], "resolved");
    let rows: serde_json::Value = serde_json::from_str(&status(true).await).unwrap();
    assert_eq!(
        rows[0]["incidents"],
        serde_json::json!([]),
        "closed: {rows}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_notifier_changes_neither_the_exit_code_nor_the_time_much() {
    let sim = start_simulator(SimulatorConfig::okta(50)).await;
    // A port nobody listens on: connections are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        &sim.base_url(),
        "wrong-token",
        &alerting(&base, 1),
    );
    let started = Instant::now();
    let (code, out) = run_once(&config).await;
    let took = started.elapsed();
    assert_eq!(
        code,
        Some(1),
        "the source's failure, as without alerts: {out}"
    );
    assert!(out.contains("alert not sent"), "logged: {out}");
    assert!(took < Duration::from_secs(15), "took {took:?}");

    // A healthy run with an unreachable notifier still exits 0.
    let fixed = write(
        dir.path(),
        &sim.base_url(),
        "sim-token",
        &alerting(&base, 1),
    );
    let (code, out) = run_once(&fixed).await;
    assert_eq!(code, Some(0), "{out}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_bad_slack_url_an_unknown_rule_and_an_unknown_notifier_fail_at_load_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let base = "http://127.0.0.1:9";
    let cases = [
        (
            alerting(base, 2).replace("/services/T0/B0/secret", "/not-a-webhook"),
            "is not a Slack incoming webhook URL",
        ),
        (
            alerting(base, 2).replace("rule = \"failing\"", "rule = \"failnig\""),
            "unknown variant `failnig`",
        ),
        (
            alerting(base, 2).replace("notify = [\"slack\",", "notify = [\"slak\","),
            "no notifier is named `slak`",
        ),
        (
            alerting(base, 2).replace("renotify = \"1h\"", "renotify = \"0s\""),
            "renotify",
        ),
        (
            alerting(base, 2).replace(
                "rule = \"failing\"\nruns = 2",
                "rule = \"lag\"\nsla = \"0s\"",
            ),
            "`sla` must be longer than zero",
        ),
        (
            alerting(base, 2).replace(
                "rule = \"failing\"\nruns = 2",
                "rule = \"volume_low\"\nbelow = 1.5",
            ),
            "`below` must be a share between 0 and 1",
        ),
    ];
    for (alerts, expected) in cases {
        let config = write(dir.path(), "http://127.0.0.1:9", "t", &alerts);
        let out = common::sluice()
            .args(["check", "--config", config.to_str().unwrap()])
            .env("SLUICE_TEST_PD_KEY", "k")
            .env("SLUICE_TEST_HOOK_KEY", "k")
            .output()
            .await
            .unwrap();
        let text = common::output_text(&out);
        assert!(!out.status.success(), "{text}");
        assert!(text.contains(expected), "{expected}: {text}");
        assert!(text.contains("sluice.toml:"), "names file and line: {text}");
        assert!(text.contains("hint"), "{text}");
    }
}

/// Starts `sluice serve` on `config`, its log in `log`.
fn serve(config: &std::path::Path, log: &std::path::Path) -> tokio::process::Child {
    let log = std::fs::File::create(log).unwrap();
    common::sluice()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .env("SLUICE_TEST_PD_KEY", "pd-routing-key")
        .env("SLUICE_TEST_HOOK_KEY", WEBHOOK_KEY)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("sluice serve starts")
}

/// Waits until `log` has `count` lines containing `needle`.
async fn wait_for_lines(log: &std::path::Path, needle: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.lines().filter(|l| l.contains(needle)).count() >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "waited for {count} × {needle}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_alerts_once_across_a_restart_and_recovers_once() {
    let sim = start_simulator(SimulatorConfig::okta(20)).await;
    let rx = receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let alerts = format!(
        "[serve]\nschedule = {{ every = \"1s\", jitter = \"0s\" }}\n{}",
        alerting(&rx.base_url, 2)
    );
    let slack = "/services/T0/B0/secret";
    let broken = write(dir.path(), &sim.base_url(), "wrong-token", &alerts);
    let first_log = dir.path().join("first.log");
    let mut daemon = serve(&broken, &first_log);
    wait_for_lines(&first_log, "source run failed", 4).await;
    // A crash (SIGKILL) and a restart: the open incident is remembered.
    daemon.kill().await.unwrap();
    let second_log = dir.path().join("second.log");
    let mut daemon = serve(&broken, &second_log);
    wait_for_lines(&second_log, "source run failed", 3).await;
    assert_eq!(
        rx.at(slack).await.len(),
        1,
        "one alert for 7 failed runs and a restart"
    );
    daemon.kill().await.unwrap();

    let fixed = write(dir.path(), &sim.base_url(), "sim-token", &alerts);
    let third_log = dir.path().join("third.log");
    let mut daemon = serve(&fixed, &third_log);
    wait_for_lines(&third_log, "source run finished", 3).await;
    // The recovery goes out from the dispatcher's task: give it a moment.
    wait_for_lines(&third_log, "alert sent", 3).await;
    daemon.kill().await.unwrap();
    let sent = rx.at(slack).await;
    assert_eq!(sent.len(), 2, "one recovery");
    assert!(sent[1].json()["text"]
        .as_str()
        .unwrap()
        .contains("recovered"));
    sim.shutdown().await;
}

/// A minimal SMTP server on loopback that accepts every message and keeps its DATA.
async fn fake_smtp() -> (u16, std::sync::Arc<tokio::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&mails);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let kept = std::sync::Arc::clone(&kept);
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake ESMTP\r\n").await.ok()?;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            kept.lock().await.push(data.take().unwrap_or_default());
                            write.write_all(b"250 queued\r\n").await.ok()?;
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => b"221 bye\r\n",
                        _ => b"250 OK\r\n",
                    };
                    write.write_all(answer).await.ok()?;
                    if verb == "QUIT" {
                        break;
                    }
                }
                Some(())
            });
        }
    });
    (port, mails)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_notifier_sends_the_alert_over_smtp() {
    let sim = start_simulator(SimulatorConfig::okta(20)).await;
    let (port, mails) = fake_smtp().await;
    let dir = tempfile::tempdir().unwrap();
    let alerts = format!(
        r#"
[[notifiers]]
name = "mail"
kind = "email"
host = "127.0.0.1"
port = {port}
security = "none"
from = "Sluice <sluice@example.com>"
to = ["secops@example.com"]

[[alerts]]
rule = "failing"
runs = 1
notify = ["mail"]
"#
    );
    let config = write(dir.path(), &sim.base_url(), "wrong-token", &alerts);
    let (code, out) = run_once(&config).await;
    assert_eq!(code, Some(1), "{out}");
    let mails = mails.lock().await.clone();
    assert_eq!(mails.len(), 1, "{out}");
    assert!(mails[0].contains("secops@example.com"), "{}", mails[0]);
    assert!(mails[0].contains("is failing"), "{}", mails[0]);
    assert!(mails[0].contains("sluice status"), "{}", mails[0]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_incident_is_repeated_after_renotify_and_a_refusing_notifier_is_tried_once() {
    let sim = start_simulator(SimulatorConfig::okta(20)).await;
    let rx = receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let alerts = format!(
        r#"
[[notifiers]]
name = "hook"
kind = "webhook"
url = "{base}/hook"
secret = "k"

[[notifiers]]
name = "refusing"
kind = "webhook"
url = "{base}/refuse"
secret = "k"

[[alerts]]
rule = "failing"
runs = 1
renotify = "2s"
notify = ["hook", "refusing"]
"#,
        base = rx.base_url
    );
    let config = write(dir.path(), &sim.base_url(), "wrong-token", &alerts);
    let (_, out) = run_once(&config).await;
    assert!(out.contains("alert refused by the notifier"), "{out}");
    assert!(out.contains("status=403"), "logged with its answer: {out}");
    assert_eq!(rx.at("/refuse").await.len(), 1, "a 4xx is not tried again");
    // Inside the interval: suppressed.
    run_once(&config).await;
    assert_eq!(rx.at("/hook").await.len(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    run_once(&config).await;
    let sent = rx.at("/hook").await;
    assert_eq!(sent.len(), 2, "repeated once the interval passed");
    assert_eq!(sent[1].json()["event"], "reminder");
    assert_eq!(sent[1].json()["incident"], sent[0].json()["incident"]);
    sim.shutdown().await;
}
