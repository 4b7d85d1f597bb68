//! The `sluice` binary end to end against the simulator: runs, resumes, bad input, isolation
//! between sources, status, check, and secrets kept out of logs.

use crate::common;

use std::collections::HashSet;

use sluice::simulator::SimulatorConfig;

use common::proxy::{Action, Proxy};
use common::{assert_lake_exact, run_sluice, start_simulator, TestConfig};

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `sluice status --json`, checking that it exits 1 exactly when a source is failing, silent,
/// parked or stale, 0 otherwise.
async fn status_json(config: &str) -> serde_json::Value {
    let out = run_sluice(&["status", "--json", "--config", config]).await;
    let rows: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("status --json prints JSON");
    let bad = rows.as_array().unwrap().iter().any(|row| {
        matches!(
            row["health"].as_str(),
            Some("failing" | "parked" | "silent" | "stale")
        )
    });
    assert_eq!(out.status.code(), Some(i32::from(bad)), "{}", text(&out));
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_capped_run_resumes_without_loss_or_duplicates() {
    let sim_config = SimulatorConfig::okta(3_000);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut cfg = TestConfig::new(&base_url);
    cfg.limit = 100;
    cfg.roll_size = "16KB";
    cfg.extra_source = "";
    let config_path = cfg.write(dir.path(), "");
    // Cap pages per run via the source's http table.
    let text_cfg = std::fs::read_to_string(&config_path)
        .unwrap()
        .replace("timeout = \"5s\" }", "timeout = \"5s\", max_pages = 7 }");
    std::fs::write(&config_path, text_cfg).unwrap();
    let config = config_path.to_str().unwrap();

    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs < 20, "never caught up");
        let out = run_sluice(&["run", "--once", "--config", config]).await;
        match out.status.code() {
            Some(3) => {
                assert!(text(&out).contains("more_pending=true"), "{}", text(&out));
                continue;
            }
            Some(0) => break,
            other => panic!("unexpected exit {other:?}: {}", text(&out)),
        }
    }
    assert!(
        runs >= 4,
        "3000 events at 100 a page and 7 pages a run need several runs"
    );
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    let status = status_json(config).await;
    assert_eq!(status[0]["delivered"], 3_000);
    assert!(status[0]["high_water"].is_string());
    assert!(status[0]["last_error"].is_null());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_source_does_not_stop_the_others() {
    let sim_config = SimulatorConfig::okta(500);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let good = TestConfig::new(&base_url);
    let mut bad = TestConfig::new(&base_url);
    bad.name = "okta-bad-token";
    bad.token = "wrong";
    let config_path = good.write(dir.path(), &bad.source_table());
    let config = config_path.to_str().unwrap();

    let out = run_sluice(&["run", "--once", "--config", config]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("source `okta-bad-token` failed"), "{shown}");
    assert!(shown.contains("HTTP 401"), "{shown}");
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);

    let status = status_json(config).await;
    let bad_status = status
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "okta-bad-token")
        .unwrap();
    assert_eq!(bad_status["delivered"], 0);
    assert!(bad_status["last_error"]["error"]
        .as_str()
        .unwrap()
        .contains("401"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_failing_mid_run_keeps_its_commits_and_stops_no_other() {
    let sim_config = SimulatorConfig::okta(3_000);
    let sim = start_simulator(sim_config.clone()).await;
    let proxy = Proxy::start(&sim.base_url()).await;
    // The flaky source's API answers 6 pages, then 503 to everything.
    proxy.script(|n| {
        if n < 7 {
            Action::Forward
        } else {
            Action::Answer {
                status: 503,
                headers: Vec::new(),
                body: "upstream unavailable".into(),
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut good = TestConfig::new(&base_url);
    good.limit = 100;
    // Objects of about two pages: commits happen while the flaky source fetches, and the
    // outage after its seventh page finds a page staged that only its failure commits.
    good.roll_size = "48KB";
    let mut flaky = TestConfig::new(&proxy.base_url);
    flaky.name = "okta-flaky";
    flaky.limit = 100;
    // Three attempts a page, so the outage fails the run within a second.
    let flaky_table = flaky
        .source_table()
        .replace("max_attempts = 30", "max_attempts = 3");
    let config_path = good.write(dir.path(), &flaky_table);
    let config = config_path.to_str().unwrap();
    let lake = dir.path().join("lake");

    let out = run_sluice(&["run", "--once", "--config", config]).await;
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("source `okta-flaky` failed"), "{shown}");
    assert!(shown.contains("HTTP 503"), "{shown}");
    assert!(!shown.contains("source `okta` failed"), "{shown}");
    // The other source delivered everything.
    assert_lake_exact(&lake, "okta", &sim_config);
    // The failing source kept what it committed before the outage: exactly the events of
    // the pages served, in several commits.
    let served: HashSet<String> = proxy
        .log()
        .iter()
        .flat_map(|exchange| exchange.served_ids("uuid"))
        .collect();
    assert!(
        !served.is_empty() && served.len() < 3_000,
        "{} events served before the outage",
        served.len()
    );
    let report = common::lake::check_local(&lake, "okta-flaky", &sim_config);
    report.assert_holds_exactly(&served, "the failing source's lake after the outage");
    assert!(
        report.keys.len() >= 2,
        "several commits before the outage: {:?}",
        report.keys
    );
    let status = status_json(config).await;
    let flaky_status = status
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "okta-flaky")
        .unwrap();
    assert_eq!(flaky_status["delivered"], served.len() as u64, "{status}");
    assert!(flaky_status["last_error"]["error"]
        .as_str()
        .unwrap()
        .contains("503"));

    // Healed, the next run completes it exactly, and the other source stays exact.
    proxy.script(|_| Action::Forward);
    let out = run_sluice(&["run", "--once", "--config", config]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_lake_exact(&lake, "okta-flaky", &sim_config);
    assert_lake_exact(&lake, "okta", &sim_config);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_responses_and_records_stop_the_source_without_moving_its_checkpoint() {
    let sim = start_simulator(SimulatorConfig::okta(50)).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let cases = [
        // A page that is not JSON (the simulator's health check answers plain text).
        (
            "not-json",
            "path = \"/api/v1/logs\"",
            "path = \"/_sim/health\"",
            "not JSON",
        ),
        // Records without the configured time field.
        (
            "no-time",
            "event_time = { path = \"published\" }",
            "event_time = { path = \"occurredAt\" }",
            "no event time at `occurredAt`",
        ),
    ];
    for (name, from, to, expected) in cases {
        let mut cfg = TestConfig::new(&base_url);
        cfg.name = name;
        let source = cfg
            .source_table()
            .replace(from, to)
            .replace("max_attempts = 30", "max_attempts = 2");
        let case_dir = dir.path().join(name);
        std::fs::create_dir_all(&case_dir).unwrap();
        let mut placeholder = TestConfig::new(&base_url);
        placeholder.name = "placeholder";
        let path = placeholder.write(&case_dir, &source);
        // Only the broken source matters here; drop the placeholder from the file.
        let only_broken =
            std::fs::read_to_string(&path)
                .unwrap()
                .replacen(&placeholder.source_table(), "", 1);
        std::fs::write(&path, only_broken).unwrap();
        let config = path.to_str().unwrap();

        let out = run_sluice(&["run", "--once", "--config", config]).await;
        let shown = text(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {shown}");
        assert!(
            shown.contains(&format!("source `{name}` failed")),
            "{name}: {shown}"
        );
        assert!(shown.contains(expected), "{name}: {shown}");
        assert!(
            shown.contains(&base_url),
            "{name}: the error names the URL: {shown}"
        );
        assert!(!shown.contains("panicked"), "{shown}");
        let status = status_json(config).await;
        assert_eq!(status[0]["delivered"], 0, "{name}");
        assert_eq!(
            status[0]["commits"], 0,
            "{name}: the checkpoint did not move"
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_fails_with_its_url() {
    let dir = tempfile::tempdir().unwrap();
    // Port 9 (discard) is closed on loopback here: connections are refused at once.
    let cfg = TestConfig::new("http://127.0.0.1:9");
    let path = cfg.write(dir.path(), "");
    let text_cfg = std::fs::read_to_string(&path)
        .unwrap()
        .replace("max_attempts = 30", "max_attempts = 2");
    std::fs::write(&path, text_cfg).unwrap();
    let out = run_sluice(&["run", "--once", "--config", path.to_str().unwrap()]).await;
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("http://127.0.0.1:9/api/v1/logs"), "{shown}");
    assert!(shown.contains("cannot connect"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_name_file_line_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TestConfig::new("http://127.0.0.1:9");
    let path = cfg.write(dir.path(), "");
    let config = path.to_str().unwrap();
    let original = std::fs::read_to_string(&path).unwrap();

    // The 1-based line of `text` that starts with `start`.
    let line_of = |text: &str, start: &str| {
        1 + text
            .lines()
            .position(|l| l.starts_with(start))
            .expect("the line is in the config")
    };

    let unknown = original.replace(
        "path = \"/api/v1/logs\"",
        "path = \"/api/v1/logs\"\npaht = 1",
    );
    std::fs::write(&path, &unknown).unwrap();
    let out = run_sluice(&["run", "--once", "--config", config]).await;
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    let line = line_of(&unknown, "paht = 1");
    assert!(
        shown.contains(&format!(
            "sluice.toml:{line}:1: sources[0].paht: unknown field `paht`"
        )),
        "file:line:column, key path and cause: {shown}"
    );
    assert!(shown.contains("hint:"), "{shown}");

    let unset = original.replace(
        "token = \"sim-token\"",
        "token = \"${env:SLUICE_TEST_UNSET_TOKEN}\"",
    );
    std::fs::write(&path, &unset).unwrap();
    let out = run_sluice(&["check", "--config", config]).await;
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    let line = line_of(&unset, "auth = ");
    assert!(
        shown.contains(&format!("sluice.toml:{line}:")),
        "the token's line {line}: {shown}"
    );
    assert!(
        shown.contains("sources[0].auth.token: secret `${env:SLUICE_TEST_UNSET_TOKEN}`"),
        "{shown}"
    );
    assert!(
        shown.contains("SLUICE_TEST_UNSET_TOKEN is not set"),
        "{shown}"
    );
    assert!(shown.contains("hint:"), "{shown}");

    let out = run_sluice(&["run", "--config", config]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "run without --once is refused: {}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_makes_one_request_per_source_and_reports_it() {
    let sim = start_simulator(SimulatorConfig::okta(500)).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let path = TestConfig::new(&base_url).write(dir.path(), "");
    let out = run_sluice(&["check", "--config", path.to_str().unwrap()]).await;
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("okta: ok:"), "{shown}");
    assert!(shown.contains("returned 200 records"), "{shown}");
    assert!(shown.contains("more pages follow"), "{shown}");
    assert_eq!(sim.stats().pages_ok, 1, "check makes exactly one request");
    assert!(!dir.path().join("lake").exists(), "check writes nothing");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_logs_or_errors() {
    const GOOD: &str = "sim-token";
    const WRONG: &str = "wrong-token-7f3a9c";
    let mut sim_config = SimulatorConfig::okta(300);
    sim_config.token = GOOD.into();
    let sim = start_simulator(sim_config).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut good = TestConfig::new(&base_url);
    good.token = "${env:SLUICE_TEST_GOOD_TOKEN}";
    let mut bad = TestConfig::new(&base_url);
    bad.name = "bad";
    bad.token = "${env:SLUICE_TEST_WRONG_TOKEN}";
    let path = good.write(dir.path(), &bad.source_table());
    let config = path.to_str().unwrap();

    for format in ["human", "json"] {
        let out = common::sluice()
            .args(["run", "--once", "--log-format", format, "--config", config])
            .env("SLUICE_TEST_GOOD_TOKEN", GOOD)
            .env("SLUICE_TEST_WRONG_TOKEN", WRONG)
            .env("RUST_LOG", "trace")
            .output()
            .await
            .unwrap();
        let shown = text(&out);
        assert_eq!(out.status.code(), Some(1), "{shown}");
        assert!(shown.contains("source run finished"), "{shown}");
        assert!(
            !shown.contains(GOOD),
            "the good token leaked into {format} logs"
        );
        assert!(
            !shown.contains(WRONG),
            "the wrong token leaked into {format} logs"
        );
    }
    // Status needs no credentials: it runs with the variables unset (and exits 1, since the
    // last run failed).
    let out = run_sluice(&["status", "--json", "--config", config]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["health"], "failing", "{rows}");
    assert!(!text(&out).contains(WRONG) && !text(&out).contains(GOOD));
    sim.shutdown().await;
}

/// One run of the breaker test with the API token `token`: its exit code, whether it was
/// skipped with the circuit open, how many requests reached the API, and its output.
async fn breaker_run(
    sim: &sluice::simulator::RunningSimulator,
    config: &str,
    token: &str,
) -> (Option<i32>, bool, u64, String) {
    let before = sim.stats().requests;
    let out = common::sluice()
        .args(["run", "--once", "--config", config])
        .env("SLUICE_TEST_OKTA_TOKEN", token)
        .output()
        .await
        .unwrap();
    let shown = text(&out);
    let open = shown.contains("circuit open: the last 2 runs failed");
    (
        out.status.code(),
        open,
        sim.stats().requests - before,
        shown,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_breaker_opens_waits_out_its_cooldown_and_a_success_resets_it() {
    // Long enough for the next run to start inside it on a loaded machine, short enough to
    // wait out twice.
    const COOLDOWN: std::time::Duration = std::time::Duration::from_secs(3);
    let sim_config = SimulatorConfig::okta(50);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut cfg = TestConfig::new(&base_url);
    cfg.token = "${env:SLUICE_TEST_OKTA_TOKEN}";
    cfg.extra_source = "circuit_breaker = { failures = 2, cooldown = \"3s\" }";
    let path = cfg.write(dir.path(), "");
    let config = path.to_str().unwrap();
    let (good, wrong) = ("sim-token", "wrong-token");

    // Two failed runs in a row, each reaching the API.
    for run in 1..=2 {
        let (code, open, requests, shown) = breaker_run(&sim, config, wrong).await;
        assert_eq!(code, Some(1), "run {run}: {shown}");
        assert!(!open && requests > 0, "run {run} reaches the API: {shown}");
        assert!(shown.contains("HTTP 401"), "run {run}: {shown}");
    }
    let second_failure = std::time::Instant::now();
    // Open: the source is skipped, exit 1, and no request reaches the API.
    let (code, open, requests, shown) = breaker_run(&sim, config, wrong).await;
    assert_eq!(code, Some(1), "{shown}");
    assert!(open, "the circuit opens after 2 failed runs: {shown}");
    assert!(
        shown.contains("source `okta` failed") && shown.contains("next attempt after"),
        "{shown}"
    );
    assert_eq!(requests, 0, "an open circuit sends no request: {shown}");
    // `status` says so, and exits non-zero for scripts and monitors.
    let status = run_sluice(&["status", "--config", config]).await;
    let shown = text(&status);
    assert_eq!(status.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("health       parked: circuit open: the last 2 runs failed"),
        "{shown}"
    );

    // After the cooldown one run probes the API again; it still fails, so the circuit opens
    // again for a whole cooldown, even though the API is healed meanwhile.
    tokio::time::sleep_until((second_failure + COOLDOWN).into()).await;
    let (code, open, requests, shown) = breaker_run(&sim, config, wrong).await;
    assert_eq!(code, Some(1), "{shown}");
    assert!(
        !open && requests > 0,
        "after the cooldown the API is probed: {shown}"
    );
    assert!(shown.contains("HTTP 401"), "{shown}");
    let failed_probe = std::time::Instant::now();
    let (code, open, requests, shown) = breaker_run(&sim, config, good).await;
    assert_eq!(code, Some(1), "{shown}");
    assert!(open && requests == 0, "a failed probe reopens it: {shown}");

    // The next probe succeeds and delivers everything.
    tokio::time::sleep_until((failed_probe + COOLDOWN).into()).await;
    let (code, open, requests, shown) = breaker_run(&sim, config, good).await;
    assert_eq!(code, Some(0), "{shown}");
    assert!(!open && requests > 0, "{shown}");
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    let status = run_sluice(&["status", "--config", config]).await;
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    assert!(
        text(&status).contains("health       ok"),
        "{}",
        text(&status)
    );

    // The success reset the count: it takes 2 new failures, not 1, to open the circuit.
    for run in 1..=2 {
        let (code, open, requests, shown) = breaker_run(&sim, config, wrong).await;
        assert_eq!(code, Some(1), "failure {run} after the success: {shown}");
        assert!(
            !open && requests > 0,
            "failure {run} after a success reaches the API: {shown}"
        );
        assert!(shown.contains("HTTP 401"), "{shown}");
    }
    let (code, open, requests, shown) = breaker_run(&sim, config, wrong).await;
    assert_eq!(code, Some(1), "{shown}");
    assert!(
        open && requests == 0,
        "open again after 2 new failures: {shown}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_runs_commit_in_time_and_chain_without_loss() {
    let mut sim_config = SimulatorConfig::okta(3_000);
    sim_config.latency = std::time::Duration::from_millis(100);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut cfg = TestConfig::new(&base_url);
    cfg.limit = 100;
    let path = cfg.write(dir.path(), "");
    let text_cfg = std::fs::read_to_string(&path)
        .unwrap()
        .replace("timeout = \"5s\"", "timeout = \"1s\"");
    std::fs::write(&path, text_cfg).unwrap();
    let config = path.to_str().unwrap();

    let out = run_sluice(&["run", "--once", "--deadline", "1500ms", "--config", config]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "a deadline shorter than a page is refused: {}",
        text(&out)
    );
    assert!(text(&out).contains("http.timeout"), "{}", text(&out));

    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs <= 10, "never finished");
        let started = std::time::Instant::now();
        let out = run_sluice(&["run", "--once", "--deadline", "2500ms", "--config", config]).await;
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_millis(4000),
            "a 2.5 s deadline run took {took:?}"
        );
        match out.status.code() {
            Some(3) => assert!(
                text(&out).contains("more work is pending"),
                "{}",
                text(&out)
            ),
            Some(0) => break,
            other => panic!("exit {other:?}: {}", text(&out)),
        }
    }
    assert!(runs >= 2, "3 s of pages cannot fit one 2.5 s run");
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    sim.shutdown().await;
}

/// Writes a one-source config whose `http` table gets `http_extra` and which has `extra`
/// appended to the source table.
fn limited_config(dir: &std::path::Path, base_url: &str, http_extra: &str, extra: &str) -> String {
    let mut cfg = TestConfig::new(base_url);
    cfg.limit = 100;
    let path = cfg.write(dir, "");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "timeout = \"5s\" }",
        &format!("timeout = \"5s\"{http_extra} }}\n{extra}"),
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_budget_spaces_requests_out() {
    let sim_config = SimulatorConfig::okta(500);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    // 120 requests a minute, no burst: 5 pages need at least 4 gaps of 0.5 s.
    let config = limited_config(
        dir.path(),
        &sim.base_url(),
        "",
        "rate_limit = { requests_per_minute = 120, burst = 1 }",
    );
    let started = std::time::Instant::now();
    let out = run_sluice(&["run", "--once", "--config", &config]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sim.stats().pages_ok, 5);
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_and_the_retry_budget_stop_a_run_with_a_clear_error() {
    let mut sim_config = SimulatorConfig::okta(500);
    sim_config.faults.rate_5xx = 1.0;
    let failing = start_simulator(sim_config).await;
    let dir = tempfile::tempdir().unwrap();
    let config = limited_config(
        dir.path(),
        &failing.base_url(),
        ", max_retries_per_run = 3",
        "",
    );
    let out = run_sluice(&["run", "--once", "--config", &config]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("retry budget"), "{}", text(&out));
    assert_eq!(
        failing.stats().requests,
        4,
        "one try and three retries, then stop"
    );
    failing.shutdown().await;

    let sim = start_simulator(SimulatorConfig::okta(500)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = limited_config(
        dir.path(),
        &sim.base_url(),
        ", max_response_size = \"4KB\"",
        "",
    );
    let out = run_sluice(&["run", "--once", "--config", &config]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("larger than"), "{}", text(&out));
    assert_eq!(sim.stats().requests, 1, "a too-large body is not retried");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipping_tls_verification_is_announced_on_every_run() {
    let sim = start_simulator(SimulatorConfig::okta(10)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = limited_config(
        dir.path(),
        &sim.base_url(),
        ", insecure_skip_verify = true",
        "",
    );
    let out = run_sluice(&["run", "--once", "--config", &config]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("TLS certificate verification is OFF"),
        "{}",
        text(&out)
    );
    sim.shutdown().await;
}

/// `sluice status --json | head -c 1`: the reader goes away before the output is written. The
/// command ends quietly with its usual exit code, never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_status_and_dlq_list_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TestConfig::new("http://127.0.0.1:9");
    let path = cfg.write(dir.path(), "\n[dead_letter]\npath = \"dead-letter\"\n");
    let config = path.to_str().unwrap();
    for args in [
        vec!["status", "--json", "--config", config],
        vec!["dlq", "list", "--json", "--config", config],
    ] {
        let mut child = common::sluice()
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Closed before the command writes a byte.
        drop(child.stdout.take());
        let out = child.wait_with_output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
        assert!(out.status.code().is_some(), "{args:?} was killed: {stderr}");
    }
}

/// A canary: a source whose newest delivered event is older than its `max_silence` allows
/// (plus its settle delay and one scheduled interval) is silent. `sluice canary check` exits 1
/// naming it, and `status` calls it silent; with a longer `max_silence` both are content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_silent_past_its_max_silence_fails_the_canary_check() {
    // The newest event is five minutes old; 1 m settle delay + 1 s schedule + 1 s silence.
    let sim = start_simulator(SimulatorConfig::okta(50)).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let write = |max_silence: &str| {
        let mut cfg = TestConfig::new(&base_url);
        let extra = format!("max_silence = \"{max_silence}\"\nschedule = {{ every = \"1s\" }}");
        cfg.extra_source = Box::leak(extra.into_boxed_str());
        cfg.write(dir.path(), "")
    };
    let path = write("1s");
    let config = path.to_str().unwrap();
    let before = run_sluice(&["canary", "check", "--config", config]).await;
    assert_eq!(before.status.code(), Some(0), "{}", text(&before));
    assert!(
        text(&before).contains("nothing delivered yet"),
        "{}",
        text(&before)
    );
    let run = run_sluice(&["run", "--once", "--config", config]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));

    let check = run_sluice(&["canary", "check", "--config", config]).await;
    let shown = text(&check);
    assert_eq!(check.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("source okta: silent: the newest delivered event is from"),
        "{shown}"
    );
    let rows = status_json(config).await;
    assert_eq!(rows[0]["health"], "silent", "{rows}");

    write("1h");
    let check = run_sluice(&["canary", "check", "--json", "--config", config]).await;
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let rows: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(rows[0]["state"], "ok", "{rows}");
    assert_eq!(status_json(config).await[0]["health"], "ok");

    let zero = write("0s");
    let out = run_sluice(&["canary", "check", "--config", zero.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("sources[0].max_silence"),
        "{}",
        text(&out)
    );
    sim.shutdown().await;
}

/// Outside a terminal (a CI log, a file), a run logs each source's progress at the interval
/// asked, with its events so far; `--quiet` shows none, and the delivery is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_logs_its_progress_and_quiet_silences_it() {
    for quiet in [false, true] {
        let mut sim_config = SimulatorConfig::okta(2_000);
        // 20 pages at 50 ms: a run long enough for several progress lines at 100 ms.
        sim_config.latency = std::time::Duration::from_millis(50);
        let sim = start_simulator(sim_config.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let base_url = sim.base_url();
        let mut cfg = TestConfig::new(&base_url);
        cfg.limit = 100;
        let path = cfg.write(dir.path(), "");
        let config = path.to_str().unwrap();
        let mut args = vec![
            "run",
            "--once",
            "--progress-every",
            "100ms",
            "--config",
            config,
        ];
        if quiet {
            args.push("--quiet");
        }
        let out = run_sluice(&args).await;
        let log = text(&out);
        assert_eq!(out.status.code(), Some(0), "{log}");
        let progress: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(" progress ") || l.ends_with(" progress"))
            .collect();
        if quiet {
            assert_eq!(progress, Vec::<&str>::new(), "--quiet shows no progress");
        } else {
            assert!(progress.len() >= 2, "progress lines while it ran:\n{log}");
            assert!(
                progress
                    .iter()
                    .all(|l| l.contains("source=okta") && l.contains("events=")),
                "{progress:?}"
            );
            // The count grows while pages are read (the lake commits once, at the end).
            assert!(
                progress.iter().any(|l| !l.contains("events=0 ")),
                "{progress:?}"
            );
        }
        assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
        sim.shutdown().await;
    }
}

/// Relative paths of a config (the state file, the lake, a `${file:PATH}` secret) are taken
/// from the config file's directory, once, whatever the working directory: run with a
/// relative `--config` from another directory, everything lands beside the config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_paths_are_taken_from_the_config_directory_once() {
    let sim = start_simulator(SimulatorConfig::okta(50)).await;
    let work = tempfile::tempdir().unwrap();
    let conf = work.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(conf.join("token.txt"), "sim-token\n").unwrap();
    let base_url = sim.base_url();
    let mut cfg = TestConfig::new(&base_url);
    cfg.token = "${file:token.txt}";
    cfg.write(&conf, "");
    let out = common::sluice()
        .current_dir(work.path())
        .args(["run", "--once", "--config", "conf/sluice.toml"])
        .output()
        .await
        .expect("sluice binary runs");
    assert!(out.status.success(), "{}", text(&out));
    assert!(conf.join("state.db").is_file(), "{}", text(&out));
    assert!(
        conf.join("lake").join("source=okta").is_dir(),
        "{}",
        text(&out)
    );
    let beside: Vec<String> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(beside, ["conf"], "nothing lands in the working directory");
    assert!(
        !conf.join("conf").exists(),
        "no path is taken from the directory twice"
    );
    sim.shutdown().await;
}

/// `sluice demo --ocsf`: the demo's lake keeps each vendor record with its OCSF event beside
/// it, filed by class, and the demo says how many events each class holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ocsf_demo_fills_a_lake_by_ocsf_class() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let out = run_sluice(&[
        "demo",
        "--ocsf",
        "--events",
        "400",
        "--dir",
        demo_dir.to_str().unwrap(),
    ])
    .await;
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("400 unique events in the lake, 0 missing, 0 duplicated"),
        "{shown}"
    );
    let ocsf_line = shown
        .lines()
        .find(|l| l.starts_with("ocsf "))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(ocsf_line.contains("authentication (3002)"), "{ocsf_line}");
    // The counts per class add up to every event.
    let total: u64 = ocsf_line
        .split(", ")
        .map(|part| part.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 400, "{ocsf_line}");
    let classes: Vec<String> = std::fs::read_dir(demo_dir.join("lake/source=okta"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        classes.iter().all(|c| c.starts_with("class=")),
        "{classes:?}"
    );
    assert!(
        classes.contains(&"class=authentication".to_string()),
        "{classes:?}"
    );
}

/// `sluice demo --ocsf --geoip PATH`: a `geoip` step after the `ocsf` step locates each
/// event's `src_endpoint.ip` in the MaxMind database given, and the demo says how many it
/// located; a database that is not there is refused naming it, and `--geoip` without
/// `--ocsf` is refused by the argument parser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ocsf_demo_locates_source_addresses_with_a_given_geoip_database() {
    let mmdb = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata/mmdb/GeoIP2-City-Test.mmdb");
    if !mmdb.exists() {
        common::skip::skip(
            "mmdb",
            &format!("the MaxMind test database {} is absent", mmdb.display()),
            "put MaxMind's test databases in ../shared/testdata/mmdb",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let demo = |geoip: &std::path::Path, ocsf: bool| {
        let mut args = vec!["demo".to_string()];
        if ocsf {
            args.push("--ocsf".into());
        }
        args.extend([
            "--geoip".to_string(),
            geoip.display().to_string(),
            "--events".into(),
            "300".into(),
            "--dir".into(),
            demo_dir.display().to_string(),
        ]);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_sluice(&args).await
        }
    };

    let out = demo(&mmdb, true).await;
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    let config = std::fs::read_to_string(demo_dir.join("sluice.toml")).unwrap();
    assert!(
        config.contains("kind = \"geoip\"")
            && config.contains("fields = [\"src_endpoint.ip\"]")
            && config.contains(&mmdb.canonicalize().unwrap().display().to_string()),
        "{config}"
    );
    // Every OCSF event went through the step: those whose address the database knows
    // carry the continent only the step sets, and the demo counts exactly those.
    let events = common::lake::envelopes(&demo_dir.join("lake"), "okta");
    assert_eq!(events.len(), 300);
    let with_ip = events
        .iter()
        .filter(|e| e["ocsf"]["src_endpoint"]["ip"].is_string())
        .count();
    let located: Vec<&serde_json::Value> = events
        .iter()
        .map(|e| &e["ocsf"]["src_endpoint"]["location"])
        .filter(|l| l["continent"].is_string())
        .collect();
    for location in &located {
        assert_eq!(
            location["country"].as_str().map(str::len),
            Some(2),
            "the database's ISO code replaces the vendor's country name: {location}"
        );
    }
    let line = shown
        .lines()
        .find(|l| l.starts_with("geoip "))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(
        line.contains(&format!(
            "{} of {with_ip} events with a source address located by",
            located.len()
        )),
        "{line}"
    );

    let missing = dir.path().join("GeoLite2-City.mmdb");
    let out = demo(&missing, true).await;
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains(&format!("--geoip {}", missing.display())) && shown.contains(".mmdb"),
        "{shown}"
    );
    let out = demo(&mmdb, false).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--ocsf"), "{}", text(&out));
}
