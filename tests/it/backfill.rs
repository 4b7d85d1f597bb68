//! Parallel windows: a backlog split among workers, `sluice backfill`, and the guarantees
//! (exact event set, every window finished, the frontier) under `kill -9`.

use crate::common;

use std::path::Path;
use std::time::Duration;

use sluice::simulator::SimulatorConfig;
use sluice::state::{SqliteStore, StateStore};

use common::kill::{assert_partly_done, Killer};
use common::lake::peek_local;
use common::{
    assert_lake_exact, delivered, output_text, run_sluice, run_until_caught_up, sluice,
    start_simulator, TestConfig,
};

/// A config whose source splits its backlog into 30-minute windows worked by `workers`.
fn write_config(dir: &Path, base_url: &str, workers: usize, lookback: &str) -> String {
    let mut test_config = TestConfig::new(base_url);
    test_config.limit = 100;
    test_config.roll_size = "32KB";
    let extra = format!("workers = {workers}");
    test_config.extra_source = &extra;
    let text = std::fs::read_to_string(test_config.write(dir, ""))
        .unwrap()
        .replace(
            r#"window = { lookback = "1d", settle_delay = "1m" }"#,
            &format!(
                r#"window = {{ lookback = "{lookback}", settle_delay = "1m", max_window = "30m" }}"#
            ),
        );
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

async fn store(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("state.db")).await.unwrap()
}

/// The windows of `source` in the store, and how many are finished.
async fn windows(store: &SqliteStore, source: &str) -> (usize, usize) {
    let all = store
        .checkpoints_under(&format!("{source}@"))
        .await
        .unwrap();
    let finished = all.iter().filter(|(_, c)| c.is_finished_window()).count();
    (all.len(), finished)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_split_a_backlog_and_deliver_it_exactly_once() {
    let mut sim_config = SimulatorConfig::okta(12_000);
    sim_config.latency = Duration::from_millis(5);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url(), 4, "7h");

    let (_, output) = run_until_caught_up(&config, 3, &[]).await;
    assert!(
        output.contains("backlog split into backfill windows"),
        "{output}"
    );
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);

    let store = store(dir.path()).await;
    let (total, finished) = windows(&store, "okta").await;
    assert!(total >= 10, "7h of backlog in 30m windows: {total} windows");
    assert_eq!(finished, total, "every window is finished");
    let source = store.load("okta").await.unwrap().checkpoint;
    assert!(
        source.backfills.is_empty(),
        "the frontier passed every window, so the backfill is done: {:?}",
        source.backfills
    );

    // Status counts what the windows delivered as the source's.
    let status = run_sluice(&["status", "--json", "--config", &config]).await;
    let rows: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "windows are not listed as sources: {rows:?}");
    assert_eq!(rows[0]["delivered"], 12_000);

    // A later run delivers nothing new and splits nothing.
    let again = run_sluice(&["run", "--once", "--config", &config]).await;
    assert!(again.status.success(), "{}", output_text(&again));
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_windows_survive_repeated_kill_9() {
    const KILLS: usize = 10;
    // Big and slow enough that runs are still working when the kills land: with 15,000
    // events at 15 ms a page, once pages were parsed without trees (twice as fast), a run
    // sometimes finished first and only 9 of 10 kills landed in 40 runs.
    const EVENTS: u64 = 30_000;
    let dir = tempfile::tempdir().unwrap();
    let mut killer = Killer::new("backfill kill -9", &dir.path().join("runs"));
    let mut sim_config = SimulatorConfig::okta(EVENTS);
    sim_config.latency = Duration::from_millis(30);
    let sim = start_simulator(sim_config.clone()).await;
    let config = write_config(dir.path(), &sim.base_url(), 4, "7h");

    let start = || {
        let mut command = sluice();
        command.args(["run", "--once", "--config", &config]);
        command
    };
    // Every other kill lands 50-400 ms after the start (while the run plans windows and takes
    // leases), the others 0-300 ms after a window published an object.
    let lake = dir.path().join("lake");
    let published = || std::future::ready(common::lake::object_count(&lake, "okta"));
    killer
        .until_landed(start, KILLS, KILLS * 4, 50..400, published, 0..300)
        .await;
    assert_partly_done(
        delivered(&config, &[]).await,
        peek_local(&lake, "okta", &sim_config).events(),
        EVENTS as usize,
    );

    let finish = run_sluice(&["run", "--once", "--config", &config]).await;
    assert_eq!(
        finish.status.code(),
        Some(0),
        "final run: {}",
        output_text(&finish)
    );
    // Exact, and no staged object left by the tail or any window.
    assert_lake_exact(&lake, "okta", &sim_config);
    let (total, finished) = windows(&store(dir.path()).await, "okta").await;
    assert_eq!(finished, total);
    // The tail's and every window's ledger chain is whole, whatever the kills interrupted.
    common::assert_lake_verifies(&config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_command_pulls_a_past_range_and_the_tail_carries_on_after_it() {
    let sim_config = SimulatorConfig::okta(6_000);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    // One worker for scheduled runs: only `sluice backfill` works in parallel here.
    let config = write_config(dir.path(), &sim.base_url(), 1, "1d");
    let start = sim_config.anchor - chrono::Duration::from_std(sim_config.span).unwrap();
    let from = (start - chrono::Duration::minutes(10)).to_rfc3339();
    let to = (start + chrono::Duration::hours(4)).to_rfc3339();

    let out = run_sluice(&[
        "backfill",
        "--config",
        &config,
        "--source",
        "okta",
        "--from",
        &from,
        "--to",
        &to,
        "--workers",
        "4",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let store = store(dir.path()).await;
    let (total, finished) = windows(&store, "okta").await;
    assert_eq!((total, finished), (9, 9), "4h10m in 30m windows, all done");

    // The tail starts where the backfill ends: the rest arrives once, nothing twice.
    run_until_caught_up(&config, 3, &[]).await;
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    let source = store.load("okta").await.unwrap().checkpoint;
    assert!(source.backfills.is_empty(), "{:?}", source.backfills);

    // The same range again would put a second copy of each event in the lake: refused,
    // naming the part delivered before and the flag, and nothing is recorded. So is a range
    // that reaches into what was delivered: the message names only that part.
    let backfill = |from: &str, to: &str, redeliver: bool| {
        let mut args = vec![
            "backfill",
            "--config",
            &config,
            "--source",
            "okta",
            "--from",
            from,
            "--to",
            to,
            "--workers",
            "4",
        ]
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
        if redeliver {
            args.push("--redeliver".into());
        }
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_sluice(&args).await
        }
    };
    // As the command rounds the range: `--from` down to its second, `--to` up.
    let shown = |t: chrono::DateTime<chrono::Utc>, up: bool| {
        let secs = t.timestamp() + i64::from(up && t.timestamp_subsec_nanos() > 0);
        chrono::DateTime::from_timestamp(secs, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let (range_from, range_to) = (
        start - chrono::Duration::minutes(10),
        start + chrono::Duration::hours(4),
    );
    let earlier = (start - chrono::Duration::hours(2)).to_rfc3339();
    let partly_to = start + chrono::Duration::hours(1);
    for ((from, to), delivered) in [
        ((from.clone(), to.clone()), (range_from, range_to)),
        ((earlier, partly_to.to_rfc3339()), (range_from, partly_to)),
    ] {
        let refused = backfill(&from, &to, false).await;
        let text = output_text(&refused);
        assert_eq!(refused.status.code(), Some(2), "{text}");
        let part = format!(
            "{} .. {}",
            shown(delivered.0, false),
            shown(delivered.1, true)
        );
        for needed in ["source `okta`", &part, "--redeliver", "hint:"] {
            assert!(text.contains(needed), "{needed}: {text}");
        }
        assert_eq!(windows(&store, "okta").await, (9, 9), "nothing recorded");
    }

    // With --redeliver the same range is a new backfill with windows of its own: it delivers
    // the range again instead of finding the first backfill's windows finished.
    let again = backfill(&from, &to, true).await;
    assert_eq!(again.status.code(), Some(0), "{}", output_text(&again));
    assert_eq!(windows(&store, "okta").await, (18, 18));
    let counts = common::lake_id_counts(&dir.path().join("lake"), "okta", &sim_config);
    let twice = counts.values().filter(|n| **n == 2).count();
    let in_range = sluice::simulator::event_ids(&sim_config)
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            sluice::simulator::event_time(&sim_config, *i as u64)
                < start + chrono::Duration::hours(4)
        })
        .count();
    assert_eq!(
        twice, in_range,
        "every event of the range, and only those, twice"
    );
}

#[tokio::test]
async fn backfill_rejects_bad_arguments_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9", 1, "1d");
    // (source, from, to, workers, window) and the message expected.
    let cases = [
        (
            ("okta", "2024-05-01", "2024-05-02", "0", "1h"),
            "--workers 0 is out of range",
        ),
        (
            ("okta", "2024-05-02", "2024-05-01", "4", "1h"),
            "is not before --to",
        ),
        (
            ("okta", "2024-05-01", "2999-01-01", "4", "1h"),
            "later than",
        ),
        (
            ("nope", "2024-05-01", "2024-05-02", "4", "1h"),
            "--source `nope` is not in",
        ),
        (
            ("okta", "2024-05-01", "2024-05-02", "4", "0s"),
            "--window must be at least 1s",
        ),
    ];
    for ((source, from, to, workers, window), expected) in cases {
        let out = run_sluice(&[
            "backfill",
            "--config",
            &config,
            "--source",
            source,
            "--from",
            from,
            "--to",
            to,
            "--workers",
            workers,
            "--window",
            window,
        ])
        .await;
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{expected}: {text}");
        assert!(text.contains(expected), "{expected}: {text}");
        assert!(text.contains("hint"), "{expected}: {text}");
    }
    assert!(
        !dir.path().join("state.db").exists() || {
            let store = store(dir.path()).await;
            store
                .load("okta")
                .await
                .unwrap()
                .checkpoint
                .backfills
                .is_empty()
        }
    );
}

#[tokio::test]
async fn zero_workers_in_the_config_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9", 0, "1d");
    let out = run_sluice(&["run", "--once", "--config", &config]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let written = std::fs::read_to_string(&config).unwrap();
    let line = 1 + written
        .lines()
        .position(|l| l.starts_with("workers = 0"))
        .unwrap();
    assert!(
        text.contains(&format!("sluice.toml:{line}:")),
        "the line {line}: {text}"
    );
    assert!(
        text.contains("sources[0].workers: workers = 0 is out of range"),
        "{text}"
    );
    assert!(text.contains("hint:"), "{text}");
}

/// SHA-256 of every published object of `source` in the local lake at `root`, by key.
fn object_digests(root: &Path, source: &str) -> std::collections::BTreeMap<String, String> {
    use sha2::{Digest, Sha256};
    let contents = sluice::sink::lake::read_lake(root, source).unwrap();
    contents
        .keys
        .iter()
        .map(|key| {
            let bytes = std::fs::read(root.join(key)).unwrap();
            (key.clone(), format!("{:x}", Sha256::digest(&bytes)))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_killed_with_kill_9_leaves_exactly_two_copies_of_its_range() {
    const KILLS: usize = 6;
    const EVENTS: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let mut killer = Killer::new("redeliver kill -9", &dir.path().join("runs"));
    let mut sim_config = SimulatorConfig::okta(EVENTS);
    sim_config.latency = Duration::from_millis(30);
    let sim = start_simulator(sim_config.clone()).await;
    let config = write_config(dir.path(), &sim.base_url(), 4, "7h");
    let lake = dir.path().join("lake");
    run_until_caught_up(&config, 5, &[]).await;
    assert_lake_exact(&lake, "okta", &sim_config);
    let before = object_digests(&lake, "okta");

    // Five of the six hours delivered again.
    let start = sim_config.anchor - chrono::Duration::from_std(sim_config.span).unwrap();
    // A whole second, so the range the command rounds to is exactly this one.
    let range_end =
        chrono::DateTime::from_timestamp((start + chrono::Duration::hours(5)).timestamp(), 0)
            .unwrap();
    let (from, to) = (start.to_rfc3339(), range_end.to_rfc3339());
    let backfill = || {
        let mut command = sluice();
        command.args(["backfill", "--config", &config, "--source", "okta"]);
        command.args([
            "--from",
            &from,
            "--to",
            &to,
            "--workers",
            "4",
            "--redeliver",
        ]);
        command
    };
    let published = || std::future::ready(common::lake::object_count(&lake, "okta"));
    let store = store(dir.path()).await;
    let open_backfills = || async {
        let checkpoint = store.load("okta").await.unwrap().checkpoint;
        checkpoint
            .backfills
            .iter()
            .map(|b| b.id)
            .collect::<Vec<_>>()
    };
    // Killed once the redelivery published an object, so it is recorded and unfinished.
    while !killer
        .attempt_after_progress(backfill(), published, 0..300)
        .await
    {}
    let recorded = open_backfills().await;
    assert_eq!(recorded.len(), 1, "recorded, not finished: {recorded:?}");
    // The same command again resumes it (an unfinished range is never recorded twice).
    if killer
        .attempt_after_progress(backfill(), published, 0..300)
        .await
    {
        assert_eq!(open_backfills().await, recorded);
    }
    // Scheduled runs work its windows too: killed again and again.
    let run = || {
        let mut command = sluice();
        command.args(["run", "--once", "--config", &config]);
        command
    };
    killer
        .until_landed(run, KILLS, KILLS * 4, 50..400, published, 0..300)
        .await;
    run_until_caught_up(&config, 3, &[]).await;
    let source = store.load("okta").await.unwrap().checkpoint;
    assert!(source.backfills.is_empty(), "{:?}", source.backfills);

    // Exact: each event of the range twice (the first delivery and the redelivery), every
    // other event once, nothing a third time, whatever the kills interrupted.
    let counts = common::lake_id_counts(&lake, "okta", &sim_config);
    for (i, id) in sluice::simulator::event_ids(&sim_config).iter().enumerate() {
        let time = sluice::simulator::event_time(&sim_config, i as u64);
        let expected = if time < range_end { 2 } else { 1 };
        assert_eq!(counts.get(id), Some(&expected), "event {id} at {time}");
    }
    // No object of the first delivery was replaced or changed.
    let after = object_digests(&lake, "okta");
    for (key, digest) in &before {
        assert_eq!(after.get(key), Some(digest), "{key} changed");
    }
    common::assert_lake_verifies(&config).await;
    sim.shutdown().await;
}
