//! Helpers shared by the integration tests: a simulator, a config, and the real binary.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Output;

use sluice::simulator::{self, RunningSimulator, SimulatorConfig};

pub mod daemon;
pub mod fixture_server;
#[cfg(feature = "gcs")]
pub mod gcs;
pub mod kill;
pub mod lake;
pub mod logs;
pub mod own_process;
pub mod proxy;
pub mod receiver;
#[cfg(feature = "s3")]
pub mod s3;
pub mod skip;

/// Starts a simulator on an ephemeral loopback port.
pub async fn start_simulator(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("simulator starts on loopback")
}

/// Options for the config a test writes.
pub struct TestConfig<'a> {
    pub name: &'a str,
    pub base_url: &'a str,
    pub token: &'a str,
    pub limit: usize,
    pub roll_size: &'a str,
    pub extra_source: &'a str,
}

impl<'a> TestConfig<'a> {
    pub fn new(base_url: &'a str) -> Self {
        TestConfig {
            name: "okta",
            base_url,
            token: "sim-token",
            limit: 200,
            roll_size: "64MB",
            extra_source: "",
        }
    }

    /// The `[[sources]]` table alone.
    pub fn source_table(&self) -> String {
        format!(
            r#"
[[sources]]
name = "{name}"
base_url = "{base_url}"
path = "/api/v1/logs"
query = {{ since = "{{start}}", until = "{{end}}", limit = "{{limit}}" }}
page_size = {limit}
pagination = {{ kind = "link_header" }}
event_time = {{ path = "published" }}
event_id = {{ path = "uuid" }}
sinks = ["lake"]
auth = {{ kind = "bearer", prefix = "SSWS", token = "{token}" }}
window = {{ lookback = "1d", settle_delay = "1m" }}
http = {{ max_attempts = 30, max_backoff = "200ms", timeout = "5s" }}
{extra}
"#,
            name = self.name,
            base_url = self.base_url,
            limit = self.limit,
            token = self.token,
            extra = self.extra_source,
        )
    }

    /// Writes `sluice.toml` with this source plus `more_sources`, and returns its path.
    pub fn write(&self, dir: &Path, more_sources: &str) -> PathBuf {
        let text = format!(
            r#"
[state]
kind = "sqlite"
path = "state.db"
{source}
{more_sources}
[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
roll_size = "{roll_size}"
"#,
            source = self.source_table(),
            roll_size = self.roll_size,
        );
        let path = dir.join("sluice.toml");
        std::fs::write(&path, text).expect("temp dir is writable");
        path
    }
}

/// The `sluice` binary built for these tests.
pub fn sluice() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.env_remove("RUST_LOG");
    cmd.kill_on_drop(true);
    cmd
}

/// Runs `sluice <args>` to completion.
pub async fn run_sluice(args: &[&str]) -> Output {
    sluice()
        .args(args)
        .output()
        .await
        .expect("sluice binary runs")
}

/// Asserts the local lake holds exactly the simulator's events: each once, with the `data`
/// and `event_time` the simulator served, nothing left in any staging scope and no stray
/// file under the source's prefix (see [`lake`]).
pub fn assert_lake_exact(lake: &Path, source: &str, config: &SimulatorConfig) {
    lake::check_local(lake, source, config).assert_exact(
        config,
        &format!("lake {} differs from the simulator", lake.display()),
    );
}

/// A finished command's stdout and stderr, for assertions and failure messages.
pub fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `sluice run --once --config <config>` (with `envs`) until it exits 0, continuing
/// while it exits 3 (more pending). Panics on any other exit code, or when `max_runs` runs
/// do not catch up. Returns the number of runs and their concatenated output.
pub async fn run_until_caught_up(
    config: &str,
    max_runs: usize,
    envs: &[(&str, &str)],
) -> (usize, String) {
    let mut all = String::new();
    for run in 1..=max_runs {
        let out = sluice()
            .args(["run", "--once", "--config", config])
            .envs(envs.iter().copied())
            .output()
            .await
            .expect("sluice binary runs");
        let shown = output_text(&out);
        all.push_str(&shown);
        match out.status.code() {
            Some(0) => return (run, all),
            Some(3) => continue,
            other => panic!("run {run} exited {other:?}:\n{shown}"),
        }
    }
    panic!("not caught up after {max_runs} runs; last output:\n{all}");
}

/// How many lines each event id has in the local lake of `source`, after the checks of
/// [`lake::check_local`] (content, staging, strays) passed.
pub fn lake_id_counts(
    lake: &Path,
    source: &str,
    config: &SimulatorConfig,
) -> HashMap<String, usize> {
    lake::check_local(lake, source, config).counts
}

/// The events the checkpoints of `config` count as delivered, over every source (backfill
/// windows included), from `sluice status --json`.
pub async fn delivered(config: &str, envs: &[(&str, &str)]) -> u64 {
    let out = sluice()
        .args(["status", "--json", "--config", config])
        .envs(envs.iter().copied())
        .output()
        .await
        .expect("sluice binary runs");
    assert!(out.status.success(), "status: {}", output_text(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status prints JSON");
    rows.as_array()
        .expect("status prints a list")
        .iter()
        .map(|row| row["delivered"].as_u64().unwrap_or(0))
        .sum()
}

/// The sum of `key=N` over every "source run finished" line in `output` (human log format).
pub fn summary_total(output: &str, key: &str) -> u64 {
    let needle = format!("{key}=");
    output
        .lines()
        .filter(|line| line.contains("source run finished"))
        .filter_map(|line| {
            let at = line.find(&needle)? + needle.len();
            let digits: String = line[at..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            digits.parse::<u64>().ok()
        })
        .sum()
}

/// Runs `sluice lake verify --json` on `config` and asserts it finds the lake intact: exit 0,
/// no finding, some ledger records read. Returns the reports.
pub async fn assert_lake_verifies(config: &str) -> serde_json::Value {
    let out = run_sluice(&["lake", "verify", "--json", "--config", config]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "lake verify: {text}");
    let reports: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    for report in reports.as_array().expect("verify prints a list") {
        assert_eq!(report["findings"], serde_json::json!([]), "{text}");
        assert!(report["records"].as_u64() > Some(0), "{text}");
    }
    reports
}
