//! The object state store through the real binary: resume after `kill -9` with state on
//! `file://`, two overlapping runs of one source with state and lake on the test S3 server,
//! and `sluice state show|export|import|reset`.

use crate::common;

use std::path::Path;
use std::time::Duration;

use sluice::simulator::{Faults, SimulatorConfig};

use common::kill::{assert_partly_done, Killer};
use common::{
    assert_lake_exact, delivered, output_text, run_sluice, run_until_caught_up, sluice,
    start_simulator, TestConfig,
};

/// `sluice.toml` in `dir` for the simulated Okta into a local lake, with `state` as the
/// `[state]` table.
fn write_config(dir: &Path, base_url: &str, roll_size: &str, state: &str) -> String {
    let mut test = TestConfig::new(base_url);
    test.roll_size = roll_size;
    let path = test.write(dir, "");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("[state]\nkind = \"sqlite\"\npath = \"state.db\"\n", state);
    assert!(text.contains(state), "the state table was replaced");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn file_state(dir: &Path) -> String {
    format!(
        "[state]\nkind = \"object\"\nurl = \"file://{}/state/\"\n",
        dir.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_state_on_file_is_exact_after_repeated_kill_9() {
    const KILLS: usize = 10;
    // Big and slow enough that runs are still working when the kills land (pages are
    // parsed twice as fast as when these numbers were 12,000 events at 5 ms).
    const EVENTS: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let mut killer = Killer::new("object state kill -9", &dir.path().join("runs"));
    let mut sim_config = SimulatorConfig::okta(EVENTS);
    sim_config.latency = Duration::from_millis(10);
    sim_config.faults = Faults {
        rate_429: 0.02,
        rate_5xx: 0.02,
        seed: Some(killer.seed()),
        ..Faults::default()
    };
    let sim = start_simulator(sim_config.clone()).await;
    // Small objects: many commits per run, so kills land in every phase of a commit.
    let config = write_config(dir.path(), &sim.base_url(), "16KB", &file_state(dir.path()));
    let start = || {
        let mut command = sluice();
        command.args(["run", "--once", "--config", &config]);
        command
    };
    // Every other kill lands 30-300 ms after the start, the others 0-300 ms after the run
    // published an object.
    let lake = dir.path().join("lake");
    let published = || std::future::ready(common::lake::object_count(&lake, "okta"));
    killer
        .until_landed(start, KILLS, KILLS * 5, 30..300, published, 0..300)
        .await;
    assert_partly_done(
        delivered(&config, &[]).await,
        common::lake::peek_local(&lake, "okta", &sim_config).events(),
        EVENTS as usize,
    );
    let finish = run_sluice(&["run", "--once", "--config", &config]).await;
    assert_eq!(
        finish.status.code(),
        Some(0),
        "final run: {}",
        output_text(&finish)
    );
    assert_lake_exact(&lake, "okta", &sim_config);
    // The state lives in objects only: no SQLite file was made.
    assert!(!dir.path().join("state.db").exists());
    assert!(dir.path().join("state/checkpoints/okta.json").exists());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_commands_show_export_import_and_reset() {
    let sim_config = SimulatorConfig::okta(1_500);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let object = write_config(dir.path(), &sim.base_url(), "64MB", &file_state(dir.path()));
    let out = run_sluice(&["run", "--once", "--config", &object]).await;
    assert!(out.status.success(), "{}", output_text(&out));

    let show = run_sluice(&["state", "show", "--config", &object]).await;
    let text = String::from_utf8_lossy(&show.stdout).to_string();
    assert!(show.status.success(), "{}", output_text(&show));
    assert!(text.starts_with("okta\n"), "{text}");
    assert!(text.contains("delivered    1500 events"), "{text}");

    // Export from the object store, import into a SQLite store elsewhere.
    let export = dir.path().join("export.json");
    let out = run_sluice(&[
        "state",
        "export",
        "--config",
        &object,
        "--output",
        export.to_str().unwrap(),
    ])
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    let exported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    assert_eq!(exported["checkpoints"]["okta"]["delivered"], 1500);
    let other = tempfile::tempdir().unwrap();
    let sqlite = write_config(
        other.path(),
        &sim.base_url(),
        "64MB",
        "[state]\nkind = \"sqlite\"\npath = \"state.db\"\n",
    );
    let import = |config: String, force: bool| {
        let export = export.to_str().unwrap().to_string();
        async move {
            let mut args = vec!["state", "import", "--config", &config, &export];
            if force {
                args.push("--force");
            }
            run_sluice(&args).await
        }
    };
    let out = import(sqlite.clone(), false).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let show = run_sluice(&["state", "show", "--config", &sqlite]).await;
    assert_eq!(
        String::from_utf8_lossy(&show.stdout),
        text,
        "the same checkpoint in the other store"
    );
    // An existing source is overwritten only with --force.
    let out = import(sqlite.clone(), false).await;
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("--force"),
        "{}",
        output_text(&out)
    );
    // A run picking up from the imported checkpoint finds nothing new: it resumed.
    let out = run_sluice(&["run", "--once", "--config", &sqlite]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        !other.path().join("lake/source=okta").exists(),
        "no event delivered again after the import"
    );

    // Never while a run holds the lease.
    {
        let config = sluice::config::load_without_secrets(Path::new(&object)).unwrap();
        let store = sluice::state::open(&config.state).await.unwrap();
        let lease = match store
            .acquire_lease("okta", "elsewhere/1/run", Duration::from_secs(60))
            .await
            .unwrap()
        {
            sluice::state::LeaseOutcome::Acquired(lease) => lease,
            other => panic!("{other:?}"),
        };
        let out = import(object.clone(), true).await;
        assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
        assert!(
            output_text(&out).contains("is leased by elsewhere/1/run"),
            "{}",
            output_text(&out)
        );
        let out = run_sluice(&[
            "state", "reset", "--config", &object, "--source", "okta", "--yes",
        ])
        .await;
        assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
        store.release_lease(&lease).await.unwrap();
    }

    // --force overwrites, and moves the commit number on rather than back (lake objects are
    // named after it).
    let commit = |show: &std::process::Output| -> u64 {
        let text = String::from_utf8_lossy(&show.stdout).to_string();
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("commit"))
            .unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let before = commit(&run_sluice(&["state", "show", "--config", &object]).await);
    let out = import(object.clone(), true).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let show = run_sluice(&["state", "show", "--config", &object]).await;
    assert_eq!(commit(&show), before + 1);
    assert!(String::from_utf8_lossy(&show.stdout).contains("delivered    1500 events"));

    // Reset: explained and refused without --yes, then done.
    let out = run_sluice(&["state", "reset", "--config", &object, "--source", "okta"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(output_text(&out).contains("--yes"), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("delivers those events again"),
        "{}",
        output_text(&out)
    );
    let out = run_sluice(&["state", "reset", "--config", &object, "--yes"]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "--source is required: {}",
        output_text(&out)
    );
    let out = run_sluice(&[
        "state", "reset", "--config", &object, "--source", "nope", "--yes",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let out = run_sluice(&[
        "state", "reset", "--config", &object, "--source", "okta", "--yes",
    ])
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    let show = run_sluice(&["state", "show", "--config", &object]).await;
    let text = String::from_utf8_lossy(&show.stdout).to_string();
    assert!(text.contains("delivered    0 events"), "{text}");
    assert!(text.contains("next window  from -"), "{text}");
    sim.shutdown().await;
}

#[cfg(feature = "s3")]
mod s3 {
    use super::*;
    use common::s3::{start_moto, S3Server, ACCESS_KEY, BUCKET, REGION, SECRET_KEY};
    use std::collections::HashSet;

    fn s3_state(server: &S3Server, prefix: &str) -> String {
        format!(
            "[state]\nkind = \"object\"\nurl = \"s3://{BUCKET}/{prefix}/\"\nendpoint = \"{}\"\nallow_http = true\nlease_ttl = \"30s\"\n",
            server.endpoint
        )
    }

    fn run(config: &str) -> tokio::process::Command {
        common::s3::sluice_with_keys(&["run", "--once", "--config", config])
    }

    /// Two `sluice run --once` of one source at the same time, state in the bucket: one
    /// works the source, the other finds the lease held and ends cleanly (or is fenced), and
    /// the lake ends up with exactly the simulator's events.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_overlapping_runs_on_one_source_deliver_exactly_once() {
        let Some(server) = start_moto().await else {
            return;
        };
        let mut sim_config = SimulatorConfig::okta(6_000);
        sim_config.latency = Duration::from_millis(5);
        let sim = start_simulator(sim_config.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(
            dir.path(),
            &sim.base_url(),
            "32KB",
            &s3_state(&server, "overlap"),
        );
        // The lake in the bucket too: like a serverless job, nothing on local disk.
        let lake_table = format!(
            "url = \"s3://{BUCKET}/overlap-lake\"\nendpoint = \"{}\"\nallow_http = true\n",
            server.endpoint
        );
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(&config, text.replace("path = \"lake\"\n", &lake_table)).unwrap();
        let (a, b) = tokio::join!(run(&config).output(), run(&config).output());
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut skipped = 0;
        for out in [&a, &b] {
            let text = output_text(out);
            match out.status.code() {
                Some(0) | Some(3) => {}
                // Fenced or lost a race: a clean refusal, nothing committed.
                Some(1) => assert!(
                    text.contains("taken over") || text.contains("changed under us"),
                    "{text}"
                ),
                other => panic!("exit {other:?}: {text}"),
            }
            if text.contains("source skipped") {
                skipped += 1;
            }
        }
        assert!(
            skipped >= 1 || !a.status.success() || !b.status.success(),
            "the runs did not overlap on the lease:\n{}\n{}",
            output_text(&a),
            output_text(&b)
        );
        let keys = [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_REGION", REGION),
        ];
        run_until_caught_up(&config, 20, &keys).await;
        // Read back through a client of the test's own: exact, with every event's data and
        // time as served, nothing left in staging.
        common::lake::check_store(&*server.client(), "overlap-lake", "okta", &sim_config)
            .await
            .assert_exact(
                &sim_config,
                "the lake in the bucket differs from the simulator",
            );
        assert!(!dir.path().join("lake").exists(), "nothing on local disk");
        // The checkpoint is in the bucket, readable by `sluice state show`.
        let show = common::s3::sluice_with_keys(&["state", "show", "--config", &config])
            .output()
            .await
            .unwrap();
        assert!(
            String::from_utf8_lossy(&show.stdout).contains("delivered    6000 events"),
            "{}",
            output_text(&show)
        );
        let keys: HashSet<String> = {
            use futures_util::StreamExt;
            server
                .client()
                .list(Some(&object_store::path::Path::from("overlap")))
                .map(|m| m.unwrap().location.to_string())
                .collect()
                .await
        };
        for expected in [
            "overlap/sluice-state.json",
            "overlap/checkpoints/okta.json",
            "overlap/leases/okta.json",
            "overlap/runs/okta.json",
        ] {
            assert!(keys.contains(expected), "{expected} in {keys:?}");
        }
        sim.shutdown().await;
    }
}

/// Parallel backfill windows keep their checkpoints and leases as objects of their own
/// (`okta@<start>`), and the backlog is delivered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_backfill_windows_with_object_state_deliver_exactly_once() {
    let mut sim_config = SimulatorConfig::okta(8_000);
    sim_config.latency = Duration::from_millis(5);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut test = TestConfig::new(&base_url);
    test.limit = 100;
    test.roll_size = "32KB";
    test.extra_source = "workers = 4";
    let path = test.write(dir.path(), "");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "[state]\nkind = \"sqlite\"\npath = \"state.db\"\n",
            &file_state(dir.path()),
        )
        .replace(
            r#"window = { lookback = "1d", settle_delay = "1m" }"#,
            r#"window = { lookback = "7h", settle_delay = "1m", max_window = "30m" }"#,
        );
    std::fs::write(&path, text).unwrap();
    let config = path.to_str().unwrap().to_string();
    let (_, output) = run_until_caught_up(&config, 3, &[]).await;
    assert!(
        output.contains("backlog split into backfill windows"),
        "{output}"
    );
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    let windows = std::fs::read_dir(dir.path().join("state/checkpoints"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("okta@"))
        .count();
    assert!(windows >= 10, "7h in 30m windows: {windows} window objects");
    assert!(!dir.path().join("state.db").exists());
    sim.shutdown().await;
}
