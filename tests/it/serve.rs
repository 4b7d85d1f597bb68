//! `sluice serve` through the binary, against the simulator: the endpoints, metrics that
//! match the lake, SIGHUP reloads (refused and accepted), and SIGTERM in the middle of a run.

use crate::common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sluice::simulator::{self, SimulatorConfig};

use common::{assert_lake_exact, lake_id_counts, run_sluice, start_simulator, TestConfig};

/// Each source runs once at start, then not again during a test.
const SERVE_TABLE: &str = "\n[serve]\nschedule = { every = \"1h\", jitter = \"0s\" }\n";

use common::daemon::{Daemon, PATIENCE};

/// The value of `key=N` in the one "source run finished" line of `logs`.
fn summary_field(logs: &str, key: &str) -> u64 {
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("source run finished"))
        .collect();
    assert_eq!(lines.len(), 1, "one run finished: {logs}");
    let prefix = format!("{key}=");
    lines[0]
        .split_whitespace()
        .find_map(|word| word.strip_prefix(&prefix))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {}", lines[0]))
}

/// The value of the sample of metric `name` whose labels include every `labels` pair.
fn metric(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    body.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            return None;
        }
        let wanted = labels
            .iter()
            .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        if !wanted {
            return None;
        }
        rest.rsplit(' ').next()?.parse().ok()
    })
}

fn write_config(dir: &Path, sources: &[TestConfig<'_>]) -> std::path::PathBuf {
    let more: String = sources[1..].iter().map(|s| s.source_table()).collect();
    let path = sources[0].write(dir, &more);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(SERVE_TABLE);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_answer_and_metrics_match_the_lake_after_a_scheduled_run() {
    let sim_config = SimulatorConfig::okta(1_500);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let config = write_config(dir.path(), &[TestConfig::new(&base_url)]);

    let mut daemon = Daemon::start(&config, "127.0.0.1:0", &[]).await;
    assert_eq!(daemon.get("/healthz").await.0, 200);
    daemon.wait_for_runs("okta", 1).await;
    let (status, body) = daemon.get("/readyz").await;
    assert_eq!(status, 200, "{body}");

    let (status, metrics) = daemon.get("/metrics").await;
    assert_eq!(status, 200);
    let lake = lake_id_counts(&dir.path().join("lake"), "okta", &sim_config);
    let lake_lines: usize = lake.values().sum();
    assert_eq!(lake_lines, 1_500);
    let delivered = metric(
        &metrics,
        "sluice_events_delivered_total",
        &[("source", "okta")],
    );
    assert_eq!(delivered, Some(lake_lines as f64), "{metrics}");
    let pages = metric(&metrics, "sluice_pages_total", &[("source", "okta")]).unwrap_or(0.0);
    assert!(pages >= 8.0, "1500 events at 200 a page: {metrics}");
    assert_eq!(
        metric(
            &metrics,
            "sluice_runs_total",
            &[("source", "okta"), ("outcome", "ok")]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "sluice_run_failures_total", &[("source", "okta")]),
        Some(0.0),
        "{metrics}"
    );
    let last_success = metric(
        &metrics,
        "sluice_last_success_timestamp_seconds",
        &[("source", "okta")],
    )
    .expect("last success is recorded");
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        (now - last_success).abs() < 120.0,
        "{last_success} vs {now}"
    );
    // The simulator's newest event is five minutes old.
    let lag = metric(&metrics, "sluice_lag_seconds", &[("source", "okta")]).unwrap();
    assert!((250.0..400.0).contains(&lag), "lag {lag}: {metrics}");
    assert_eq!(
        metric(
            &metrics,
            "sluice_run_duration_seconds_count",
            &[("source", "okta")]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(metrics.contains("# HELP sluice_events_delivered_total"));

    let (status, page) = daemon.get("/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("okta") && page.contains("delivered    1500"),
        "{page}"
    );

    let (code, logs) = daemon.stop().await;
    assert_eq!(code, Some(0), "{logs}");
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_commits_what_it_fetched_and_exits_0() {
    let mut sim_config = SimulatorConfig::okta(8_000);
    sim_config.latency = Duration::from_millis(25);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut source = TestConfig::new(&base_url);
    source.limit = 100;
    let config = write_config(dir.path(), &[source]);
    let config_arg = config.to_str().unwrap();

    let mut daemon = Daemon::start(&config, "127.0.0.1:0", &[]).await;
    // Stop once the run is well under way (80 pages in all).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while sim.stats().pages_ok < 10 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run never got going"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    daemon
        .wait_for_log(|l| l.contains("sluice serve started"))
        .await;
    let (code, logs) = daemon.stop().await;
    assert_eq!(code, Some(0), "{logs}");
    assert!(logs.contains("stop requested"), "{logs}");
    assert!(logs.contains("more_pending=true"), "{logs}");
    assert!(logs.contains("sluice serve stopped"), "{logs}");

    // What was fetched before the stop is committed: every page the run fetched (100
    // events each) is in the lake once, with the data served, staging is empty, and the
    // checkpoint counts exactly that.
    let committed = summary_field(&logs, "events");
    let pages = summary_field(&logs, "pages");
    assert!(
        committed > 0 && committed < 8_000,
        "stopped mid-run with {committed} events committed: {logs}"
    );
    assert_eq!(
        committed,
        pages * 100,
        "every fetched page is committed: {logs}"
    );
    let lake = dir.path().join("lake");
    let first: HashSet<String> = (0..committed)
        .map(|i| simulator::event_id(&sim_config, i))
        .collect();
    common::lake::check_local(&lake, "okta", &sim_config)
        .assert_holds_exactly(&first, "the lake after SIGTERM holds the fetched pages");
    let out = run_sluice(&["status", "--json", "--config", config_arg]).await;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status[0]["delivered"], committed);

    // The next run carries on from the checkpoint: the exact event set.
    let (_, output) = common::run_until_caught_up(config_arg, 5, &[]).await;
    assert!(!output.contains("panicked"), "{output}");
    assert_lake_exact(&lake, "okta", &sim_config);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_broken_config_keeps_serving_and_names_the_line() {
    let sim = start_simulator(SimulatorConfig::okta(300)).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let config = write_config(dir.path(), &[TestConfig::new(&base_url)]);
    let mut daemon = Daemon::start(&config, "127.0.0.1:0", &[]).await;
    daemon.wait_for_runs("okta", 1).await;

    let good = std::fs::read_to_string(&config).unwrap();
    let broken = good.replacen("page_size = 200", "page_size = 200\npaeg_size = 1", 1);
    let line = broken
        .lines()
        .position(|l| l.starts_with("paeg_size"))
        .unwrap()
        + 1;
    std::fs::write(&config, &broken).unwrap();
    daemon.signal("HUP");
    let refused = daemon
        .wait_for_log(|l| l.contains("config reload refused"))
        .await;
    let logs = daemon.logs();
    assert!(
        logs.contains(&format!("sluice.toml:{line}:")) && logs.contains("paeg_size"),
        "the error names file:line and key: {refused}\n{logs}"
    );
    assert!(logs.contains("hint:"), "{logs}");
    assert_eq!(daemon.get("/healthz").await.0, 200);
    let (status, body) = daemon.get("/readyz").await;
    assert_eq!(status, 200, "{body}");

    // Still on the old config: a valid reload afterwards is taken.
    std::fs::write(&config, &good).unwrap();
    daemon.signal("HUP");
    daemon.wait_for_log(|l| l.contains("config reloaded")).await;
    let (code, logs) = daemon.stop().await;
    assert_eq!(code, Some(0), "{logs}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_that_adds_a_source_starts_running_it_and_keeps_the_others_schedule() {
    let sim_config = SimulatorConfig::okta(700);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let first = TestConfig::new(&base_url);
    let config = write_config(dir.path(), &[TestConfig::new(&base_url)]);
    let mut daemon = Daemon::start(&config, "127.0.0.1:0", &[]).await;
    daemon.wait_for_runs("okta", 1).await;

    let mut second = TestConfig::new(&base_url);
    second.name = "okta-two";
    write_config(dir.path(), &[first, second]);
    daemon.signal("HUP");
    daemon.wait_for_runs("okta-two", 1).await;

    let (_, metrics) = daemon.get("/metrics").await;
    assert_eq!(
        metric(
            &metrics,
            "sluice_events_delivered_total",
            &[("source", "okta-two")]
        ),
        Some(700.0),
        "{metrics}"
    );
    // The kept source's hourly schedule was not restarted by the reload.
    assert_eq!(
        metric(
            &metrics,
            "sluice_runs_total",
            &[("source", "okta"), ("outcome", "ok")]
        ),
        Some(1.0),
        "{metrics}"
    );

    // Removing it again stops its schedule; the other source keeps going.
    write_config(dir.path(), &[TestConfig::new(&base_url)]);
    daemon.signal("HUP");
    daemon
        .wait_for_log(|l| l.contains("source removed") && l.contains("source=okta-two"))
        .await;
    let (code, logs) = daemon.stop().await;
    assert_eq!(code, Some(0), "{logs}");
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    assert_lake_exact(&dir.path().join("lake"), "okta-two", &sim_config);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_source_does_not_delay_another() {
    let fast = start_simulator(SimulatorConfig::okta(200)).await;
    let mut slow_config = SimulatorConfig::okta(2_000);
    slow_config.latency = Duration::from_millis(300);
    let slow = start_simulator(slow_config).await;
    let dir = tempfile::tempdir().unwrap();
    let (fast_url, slow_url) = (fast.base_url(), slow.base_url());
    let mut slow_source = TestConfig::new(&slow_url);
    slow_source.name = "slow";
    slow_source.limit = 50;
    let mut fast_source = TestConfig::new(&fast_url);
    fast_source.name = "fast";
    // The slow source first, and a fast one that runs every second.
    let config = write_config(dir.path(), &[slow_source, fast_source]);
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "name = \"fast\"",
        "name = \"fast\"\nschedule = { every = \"1s\" }",
        1,
    );
    std::fs::write(&config, text).unwrap();

    let mut daemon = Daemon::start(&config, "127.0.0.1:0", &[]).await;
    // 40 pages at 300 ms: the slow run takes 12 s; the fast source runs again and again.
    daemon.wait_for_runs("fast", 3).await;
    let slow_finished = daemon
        .logs()
        .lines()
        .any(|l| l.contains("source run finished") && l.contains("source=slow "));
    assert!(
        !slow_finished,
        "the slow run had already finished; the test proves nothing"
    );
    let (code, logs) = daemon.stop().await;
    assert_eq!(code, Some(0), "{logs}");
    fast.shutdown().await;
    slow.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_schedule_at_start_exits_2_with_file_line_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[TestConfig::new("http://127.0.0.1:9")]);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("every = \"1h\"", "cron = \"0 25 * * *\"");
    std::fs::write(&config, &text).unwrap();
    let line = text.lines().position(|l| l.contains("cron =")).unwrap() + 1;
    let out = run_sluice(&["serve", "--config", config.to_str().unwrap()]).await;
    let shown = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains(&format!("sluice.toml:{line}:")), "{shown}");
    assert!(shown.contains("serve.schedule.cron"), "{shown}");
    assert!(shown.contains("hint:"), "{shown}");
}

/// An HTTP endpoint whose first request takes `first_delay` to answer; later ones answer at
/// once. Returns its URL and the number of requests that have arrived.
async fn slow_endpoint(first_delay: Duration) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let arrived = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&arrived);
    let app = axum::Router::new().route(
        "/ingest",
        axum::routing::post(move || {
            let counter = Arc::clone(&counter);
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(first_delay).await;
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/ingest"), arrived)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stop_signal_exits_at_once_and_loses_nothing() {
    let sim_config = SimulatorConfig::okta(300);
    let sim = start_simulator(sim_config.clone()).await;
    // A second sink whose first delivery, made while committing, hangs for 20 s: the stop
    // waits for that commit; the second signal does not.
    let (endpoint, arrived) = slow_endpoint(Duration::from_secs(20)).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let config = write_config(dir.path(), &[TestConfig::new(&base_url)]);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("sinks = [\"lake\"]", "sinks = [\"lake\", \"slow\"]")
        + &format!("\n[[sinks]]\nname = \"slow\"\nkind = \"http\"\nurl = \"{endpoint}\"\n");
    std::fs::write(&config, text).unwrap();

    let mut daemon = Daemon::start(&config, "127.0.0.1:0", &[]).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while arrived.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the commit never reached the slow sink; logs:\n{}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    daemon.signal("TERM");
    daemon.wait_for_log(|l| l.contains("stop requested")).await;
    let started = std::time::Instant::now();
    let (code, logs) = daemon.stop().await;
    assert_eq!(code, Some(130), "{logs}");
    assert!(logs.contains("second stop signal"), "{logs}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "exited after {:?}",
        started.elapsed()
    );
    // The logs are complete (read to the end of stderr) and the state is read back: no run
    // finished and nothing was committed.
    assert!(!logs.contains("source run finished"), "{logs}");
    let out = run_sluice(&["status", "--json", "--config", config.to_str().unwrap()]).await;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status[0]["commits"], 0, "nothing committed: {status}");
    assert_eq!(status[0]["delivered"], 0, "nothing committed: {status}");

    // The next run delivers everything, once.
    common::run_until_caught_up(config.to_str().unwrap(), 5, &[]).await;
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    sim.shutdown().await;
}

/// A source whose API keeps failing is parked by its circuit breaker: from then on `/readyz`
/// answers 503 naming it and until when (the daemon is alive, so `/healthz` stays 200: a
/// restart would not mend the API), the status page says the circuit is open, and
/// `sluice_circuit_open` is 1 for it and 0 for the healthy source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_parked_by_its_circuit_breaker_makes_readyz_503_naming_it() {
    let sim_config = SimulatorConfig::okta(200);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut broken = TestConfig::new(&base_url);
    broken.name = "broken";
    // The simulator refuses this token: every run fails at its first page.
    broken.token = "revoked-token";
    broken.extra_source =
        "circuit_breaker = { failures = 2, cooldown = \"1h\" }\nschedule = { every = \"1s\" }";
    let config = write_config(dir.path(), &[TestConfig::new(&base_url), broken]);

    let mut daemon = Daemon::start(&config, "127.0.0.1:0", &[]).await;
    daemon.wait_for_runs("okta", 1).await;
    // Two failed runs open the circuit; the third scheduled run is skipped.
    daemon
        .wait_for_log(|l| l.contains("circuit breaker open") && l.contains("source=broken"))
        .await;

    let (status, body) = daemon.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("source `broken` is parked until ")
            && body.contains("after 2 failed runs")
            && body.contains("HTTP 401"),
        "/readyz does not name the parked source, until when and why: {body}"
    );
    assert!(
        !body.contains("`okta`"),
        "the healthy source is named: {body}"
    );
    assert_eq!(daemon.get("/healthz").await.0, 200);

    let (status, page) = daemon.get("/").await;
    assert_eq!(status, 200);
    let broken_part = page.split("broken\n").nth(1).unwrap_or_default();
    assert!(
        broken_part.contains("circuit      open until "),
        "the status page does not show the open circuit: {page}"
    );
    let okta_part = page.split("okta\n").nth(1).unwrap_or_default();
    assert!(okta_part.contains("circuit      closed"), "{page}");

    let (_, metrics) = daemon.get("/metrics").await;
    assert_eq!(
        metric(&metrics, "sluice_circuit_open", &[("source", "broken")]),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "sluice_circuit_open", &[("source", "okta")]),
        Some(0.0),
        "{metrics}"
    );
    // Skipped runs count as failures, so an alert on the failure rate stays on while the
    // source is parked; and a source that never succeeded has its last-success series (at 0).
    let failures = metric(
        &metrics,
        "sluice_run_failures_total",
        &[("source", "broken")],
    );
    assert!(failures >= Some(3.0), "2 failures and a skip: {metrics}");
    let skips = metric(
        &metrics,
        "sluice_runs_total",
        &[("source", "broken"), ("outcome", "circuit_open")],
    );
    assert!(skips >= Some(1.0), "{metrics}");
    assert_eq!(
        metric(
            &metrics,
            "sluice_last_success_timestamp_seconds",
            &[("source", "broken")]
        ),
        Some(0.0),
        "{metrics}"
    );

    let (code, logs) = daemon.stop().await;
    assert_eq!(code, Some(0), "{logs}");
    sim.shutdown().await;
}

/// The daemon's canary: a source whose newest delivered event is older than its `max_silence`
/// allows is logged as silent and `sluice_silent` is 1 for it, 0 for a source that is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_source_is_logged_and_flagged_by_the_daemon() {
    // The newest event is five minutes old: past 1 s + the 1 m settle delay + 1 s schedule,
    // within 1 h + the rest.
    let sim = start_simulator(SimulatorConfig::okta(50)).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut quiet = TestConfig::new(&base_url);
    quiet.name = "quiet";
    quiet.extra_source = "max_silence = \"1s\"\nschedule = { every = \"1s\" }";
    let mut watched = TestConfig::new(&base_url);
    watched.extra_source = "max_silence = \"1h\"\nschedule = { every = \"1s\" }";
    let config = write_config(dir.path(), &[watched, quiet]);

    let mut daemon = Daemon::start(&config, "127.0.0.1:0", &[]).await;
    daemon
        .wait_for_log(|l| l.contains("source is silent") && l.contains("source=quiet"))
        .await;
    // The gauges are set just after each run's summary line: poll until both are.
    let give_up = tokio::time::Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        let (_, metrics) = daemon.get("/metrics").await;
        let both = ["quiet", "okta"]
            .iter()
            .all(|s| metric(&metrics, "sluice_silent", &[("source", s)]).is_some());
        if both || tokio::time::Instant::now() > give_up {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        metric(&metrics, "sluice_silent", &[("source", "quiet")]),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "sluice_silent", &[("source", "okta")]),
        Some(0.0),
        "{metrics}"
    );
    let (code, logs) = daemon.stop().await;
    assert_eq!(code, Some(0), "{logs}");
    sim.shutdown().await;
}

/// The names of the `sluice_*` metrics in `text` (a PromQL expression, or a scrape), with a
/// histogram's `_bucket`, `_sum` and `_count` series named after the histogram.
fn sluice_metric_names(text: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("sluice_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        names.insert(base.to_string());
        rest = &tail[end..];
    }
    names
}

/// The Grafana dashboard and the Prometheus alert rules shipped in `deploy/` query only
/// metrics a daemon exports: each name in them is in a real scrape, after a run through
/// rate limits and retries, so a renamed metric cannot leave a dashboard panel empty or an
/// alert silent. With `promtool` on the PATH, the rules file must also pass its check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_dashboard_and_alert_rules_query_metrics_a_daemon_exports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let rules = std::fs::read_to_string(root.join("prometheus/sluice-alerts.yml")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("grafana/sluice-dashboard.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let panels = dashboard["panels"]
        .as_array()
        .expect("the dashboard has panels");
    let mut queried = Vec::new();
    for panel in panels {
        let targets = panel["targets"].as_array().expect("each panel has targets");
        for target in targets {
            let expr = target["expr"].as_str().expect("each target has an expr");
            queried.push((format!("panel {:?}", panel["title"]), expr.to_string()));
        }
    }
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    let exprs: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr: "))
        .collect();
    assert!(alerts.len() >= 5, "{alerts:?}");
    assert_eq!(alerts.len(), exprs.len(), "one expr per alert rule");
    for (alert, expr) in alerts.iter().zip(&exprs) {
        queried.push((format!("alert {alert}"), expr.to_string()));
    }

    let mut sim_config = SimulatorConfig::okta(1_500);
    // Rate-limit answers, so retries and rate-limit waits are exported too.
    sim_config.faults.rate_429 = 0.5;
    sim_config.faults.seed = Some(3);
    let sim = start_simulator(sim_config).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut source = TestConfig::new(&base_url);
    source.extra_source = "max_silence = \"30d\"\n";
    let config = write_config(dir.path(), &[source]);
    let mut daemon = Daemon::start(&config, "127.0.0.1:0", &[]).await;
    daemon.wait_for_runs("okta", 1).await;
    let (status, scrape) = daemon.get("/metrics").await;
    assert_eq!(status, 200);
    let exported = sluice_metric_names(&scrape);
    // Every delivered event is in the delivery-time breakdown once; the 429s were retried.
    for histogram in [
        "sluice_event_fetch_delay_seconds_count",
        "sluice_event_delivery_delay_seconds_count",
    ] {
        assert_eq!(
            metric(&scrape, histogram, &[("source", "okta")]),
            Some(1_500.0),
            "{scrape}"
        );
    }
    assert!(
        metric(&scrape, "sluice_http_retries_total", &[("source", "okta")]) > Some(0.0),
        "{scrape}"
    );
    for (what, expr) in &queried {
        let names = sluice_metric_names(expr);
        assert!(!names.is_empty(), "{what} queries no sluice metric: {expr}");
        for name in names {
            assert!(
                exported.contains(&name),
                "{what} queries `{name}`, which the daemon does not export: {expr}\nexported: {exported:?}"
            );
        }
    }
    daemon.stop().await;

    match std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(root.join("prometheus/sluice-alerts.yml"))
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool check rules: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("note: promtool is not installed; the rules' PromQL was not parsed"),
    }
}
