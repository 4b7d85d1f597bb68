//! Several workers on one PostgreSQL state store: losing the database mid-run, and (with
//! `sluice serve`) several processes sharing a backfill while one is killed and another
//! paused past its lease.
//!
//! These tests run when `SLUICE_TEST_POSTGRES_URL` names a database, e.g.
//! `SLUICE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo test --test scale_out`;
//! `.ci/run` sets it. Each test works in a schema of its own.

use crate::common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sluice::simulator::SimulatorConfig;

use common::{assert_lake_exact, output_text, run_until_caught_up, sluice, start_simulator};

const POSTGRES_URL_VAR: &str = "SLUICE_TEST_POSTGRES_URL";

/// The test database's URL, or `None` (with a note) when PostgreSQL tests are off.
fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            common::skip::skip(
                "PostgreSQL",
                &format!("{POSTGRES_URL_VAR} is not set"),
                &format!("{POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/test"),
            );
            None
        }
    }
}

/// A schema of the test's own, and an admin connection to look at it.
struct Database {
    url: String,
    schema: String,
    admin: tokio_postgres::Client,
}

impl Database {
    async fn new() -> Option<Database> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let url = postgres_url()?;
        let schema = format!(
            "sluice_scale_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR} is set but unreachable: {e}"));
        tokio::spawn(connection);
        admin
            .batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
            .await
            .unwrap();
        Some(Database { url, schema, admin })
    }

    /// The URL sluice uses: tables in the test's schema, sessions named after it.
    fn store_url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-csearch_path%3D{schema}&application_name={schema}",
            self.url,
            schema = self.schema
        )
    }

    /// Ends every session sluice has open on the test's schema; returns how many.
    async fn terminate_sessions(&self) -> i64 {
        let row = self
            .admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                &[&self.schema],
            )
            .await
            .unwrap();
        row.get(0)
    }

    /// Commits recorded twice for the same key and seq (must be none).
    async fn double_commits(&self) -> Vec<(String, i64, i64)> {
        self.admin
            .query(
                &format!(
                    "SELECT source, seq, count(*) FROM \"{}\".commit_audit GROUP BY 1, 2 HAVING count(*) > 1",
                    self.schema
                ),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    async fn drop(self) {
        let _ = self
            .admin
            .batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", self.schema))
            .await;
    }
}

/// A config with PostgreSQL state and a local lake; the source splits its backlog into
/// 30-minute windows worked by `workers`.
fn write_config(
    dir: &Path,
    base_url: &str,
    state_url: &str,
    workers: usize,
    extra: &str,
) -> String {
    let text = format!(
        r#"
[state]
kind = "postgres"
url = "{state_url}"
lease_ttl = "3s"
{extra}
[[sources]]
name = "okta"
base_url = "{base_url}"
path = "/api/v1/logs"
query = {{ since = "{{start}}", until = "{{end}}", limit = "{{limit}}" }}
page_size = 100
pagination = {{ kind = "link_header" }}
event_time = {{ path = "published" }}
event_id = {{ path = "uuid" }}
sinks = ["lake"]
auth = {{ kind = "bearer", prefix = "SSWS", token = "sim-token" }}
window = {{ lookback = "7h", settle_delay = "1m", max_window = "30m" }}
http = {{ max_attempts = 30, max_backoff = "200ms", timeout = "5s" }}
workers = {workers}

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
roll_size = "32KB"
"#
    );
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_database_mid_run_never_commits_a_page_twice() {
    let Some(db) = Database::new().await else {
        return;
    };
    let mut sim_config = SimulatorConfig::okta(20_000);
    sim_config.latency = Duration::from_millis(10);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url(), &db.store_url(), 4, "");

    let mut child = sluice()
        .args(["run", "--once", "--config", &config])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once it works (its backfill windows are planned; on a loaded machine opening the store
    // can take a while), drop every connection sluice has, again and again.
    let started = std::time::Instant::now();
    while window_progress(&db).await.0 == 0 && child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run never planned its windows"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut terminated = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        if child.try_wait().unwrap().is_some() {
            break;
        }
        terminated += db.terminate_sessions().await;
    }
    let first = child.wait_with_output().await.unwrap();
    assert!(
        terminated >= 3,
        "only {terminated} sessions were cut; make the job bigger:\n{}",
        output_text(&first)
    );

    assert!(
        matches!(first.status.code(), Some(0 | 3)),
        "the run waits out the outages instead of failing:\n{}",
        output_text(&first)
    );
    assert!(
        output_text(&first).contains("waiting for it")
            || output_text(&first).contains("commits wait"),
        "the run said it waited for the database ({terminated} sessions cut):\n{}",
        output_text(&first)
    );
    run_until_caught_up(&config, 5, &[]).await;
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    assert_eq!(db.double_commits().await, vec![], "a commit was made twice");
    db.drop().await;
}

/// Backfill windows of `okta` in the store, and how many are finished ((0, 0) until the
/// daemons have created the tables).
async fn window_progress(db: &Database) -> (i64, i64) {
    let row = db
        .admin
        .query_one(
            &format!(
                "SELECT count(*),
                        count(*) FILTER (WHERE (doc::jsonb->>'anchor')::timestamptz
                                            >= (doc::jsonb->>'until')::timestamptz
                                         AND doc::jsonb->'window' = 'null'::jsonb)
                 FROM \"{}\".checkpoints WHERE source LIKE 'okta@%'",
                db.schema
            ),
            &[],
        )
        .await;
    row.map_or((0, 0), |row| (row.get(0), row.get(1)))
}

/// Whether the source's checkpoint still lists a backfill (its frontier has not passed every
/// window yet).
async fn backfill_open(db: &Database) -> bool {
    let row = db
        .admin
        .query_opt(
            &format!(
                "SELECT coalesce(jsonb_array_length(doc::jsonb->'backfills'), 0)
                 FROM \"{}\".checkpoints WHERE source = 'okta'",
                db.schema
            ),
            &[],
        )
        .await
        .unwrap();
    row.is_none_or(|r| r.get::<_, i32>(0) > 0)
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_daemons_share_a_backfill_through_a_kill_and_a_pause() {
    let Some(db) = Database::new().await else {
        return;
    };
    let mut sim_config = SimulatorConfig::okta(200_000);
    sim_config.latency = Duration::from_millis(20);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let serve = "[serve]\nlisten = \"127.0.0.1:0\"\nschedule = { every = \"1s\" }\n";
    let config = write_config(dir.path(), &sim.base_url(), &db.store_url(), 2, serve);
    // Smaller windows and bigger pages than the other test: more windows to share.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("max_window = \"30m\"", "max_window = \"10m\"")
        .replace("page_size = 100", "page_size = 500");
    std::fs::write(&config, text).unwrap();

    let mut daemons: Vec<_> = (0..3)
        .map(|i| {
            let log = std::fs::File::create(dir.path().join(format!("daemon-{i}.log"))).unwrap();
            sluice()
                .args(["serve", "--config", &config])
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap()
        })
        .collect();
    let logs = |dir: &Path| {
        (0..3)
            .map(|i| {
                std::fs::read_to_string(dir.join(format!("daemon-{i}.log"))).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n----\n")
    };

    // Mid-way: one daemon is killed outright, another paused past its lease, then resumed.
    let give_up = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        let (total, finished) = window_progress(&db).await;
        if total > 0 && finished * 4 >= total {
            break;
        }
        assert!(
            std::time::Instant::now() < give_up,
            "no progress:\n{}",
            logs(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    daemons[0].start_kill().unwrap(); // SIGKILL
    daemons[0].wait().await.unwrap();
    let paused = daemons[1].id().unwrap();
    signal(paused, "STOP");
    tokio::time::sleep(Duration::from_secs(6)).await; // twice the 3 s lease
    signal(paused, "CONT");

    loop {
        let (total, finished) = window_progress(&db).await;
        if total > 0 && finished == total && !backfill_open(&db).await {
            break;
        }
        assert!(
            std::time::Instant::now() < give_up,
            "windows not finished ({finished}/{total}):\n{}",
            logs(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for daemon in &mut daemons[1..] {
        signal(daemon.id().unwrap(), "TERM");
        let status = tokio::time::timeout(Duration::from_secs(60), daemon.wait())
            .await
            .expect("a daemon stops within a minute of SIGTERM")
            .unwrap();
        assert!(status.success(), "exit {status:?}:\n{}", logs(dir.path()));
    }

    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    assert_eq!(db.double_commits().await, vec![], "a commit was made twice");
    let holders: i64 = db
        .admin
        .query_one(
            &format!(
                "SELECT count(DISTINCT split_part(holder, '/', 2)) FROM \"{}\".commit_audit WHERE source LIKE 'okta@%'",
                db.schema
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        holders >= 2,
        "the windows were shared by the daemons: {holders} processes committed windows"
    );
    db.drop().await;
}
