//! An outside reader: DuckDB reads the lakes the real binary wrote (hive partitioning, gzip
//! and zstd NDJSON, and Parquet in builds with the `parquet` feature), by glob and through the
//! views `sluice lake ddl --dialect duckdb` prints, and must see exactly what sluice wrote.
//!
//! Needs Python's `duckdb` (`pip install duckdb`). Without it the test says so and passes,
//! unless `SLUICE_TEST_DUCKDB` is set (as `.ci/run` does), where it fails.

use crate::common;

use std::path::Path;
use std::process::Stdio;

use sluice::simulator::SimulatorConfig;

use common::{assert_lake_exact, run_until_caught_up, sluice, start_simulator, TestConfig};

fn duckdb_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import duckdb"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn millis(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .expect("sluice writes RFC 3339 times")
        .timestamp_millis()
}

/// Runs the DuckDB reader script; returns its JSON.
async fn read_with_duckdb(glob: &str, ddl_file: &Path, table: &str) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/duckdb_lake.py");
    let out = tokio::process::Command::new("python3")
        .arg(&script)
        .arg(glob)
        .arg(ddl_file)
        .arg(table)
        .output()
        .await
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the DuckDB reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the reader prints JSON")
}

/// Whether DuckDB can be run; skips (or, with `SLUICE_TEST_DUCKDB` set, fails) without it.
fn duckdb_ready() -> bool {
    if duckdb_available() {
        return true;
    }
    assert!(
        !common::skip::env_flag("SLUICE_TEST_DUCKDB"),
        "SLUICE_TEST_DUCKDB is set but Python's duckdb is not importable (hint: pip install duckdb)"
    );
    common::skip::skip(
        "DuckDB",
        "Python's duckdb is not importable",
        "pip install duckdb",
    );
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_reads_exactly_what_sluice_wrote() {
    if !duckdb_ready() {
        return;
    }
    let sim_config = SimulatorConfig::okta(6_000);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    // One source fanned out to a gzip lake, a zstd lake and a Parquet lake, in small objects.
    let parquet = cfg!(feature = "parquet");
    let sinks = if parquet {
        r#"sinks = ["lake", "lake_zstd", "lake_parquet"]"#
    } else {
        common::skip::skip(
            "the `parquet` feature",
            "the Parquet lake is not checked",
            "cargo test --all-features",
        );
        r#"sinks = ["lake", "lake_zstd"]"#
    };
    let source = TestConfig::new(&base_url)
        .source_table()
        .replace(r#"sinks = ["lake"]"#, sinks);
    let parquet_sink = if parquet {
        format!(
            "[[sinks]]\nname = \"lake_parquet\"\nkind = \"lake\"\nurl = \"file://{}/lake-parquet\"\nformat = \"parquet\"\nroll_size = \"64KB\"\n",
            dir.path().display()
        )
    } else {
        String::new()
    };
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
name = "lake_zstd"
kind = "lake"
url = "file://{dir}/lake-zstd"
compression = "zstd"
roll_size = "64KB"

{parquet_sink}"#,
        dir = dir.path().display()
    );
    let config_path = dir.path().join("sluice.toml");
    std::fs::write(&config_path, text).unwrap();
    let config = config_path.to_str().unwrap();
    run_until_caught_up(config, 20, &[]).await;

    let mut lakes = vec![
        ("lake", dir.path().join("lake"), ".ndjson.gz"),
        ("lake_zstd", dir.path().join("lake-zstd"), ".ndjson.zst"),
    ];
    if parquet {
        lakes.push(("lake_parquet", dir.path().join("lake-parquet"), ".parquet"));
    }
    for (sink, lake, extension) in lakes {
        assert_lake_exact(&lake, "okta", &sim_config);
        let written = sluice::sink::lake::read_lake(&lake, "okta").unwrap();
        let min_ms = millis(written.min_event_time.as_deref().unwrap());
        let max_ms = millis(written.max_event_time.as_deref().unwrap());
        assert!(
            written.keys.iter().all(|k| k.ends_with(extension)),
            "{:?}",
            written.keys
        );

        let ddl = sluice()
            .args(["lake", "ddl", "--dialect", "duckdb", "--source", "okta"])
            .args(["--config", config, "--sink", sink])
            .output()
            .await
            .unwrap();
        assert!(
            ddl.status.success(),
            "{}",
            String::from_utf8_lossy(&ddl.stderr)
        );
        let ddl_file = dir.path().join(format!("{sink}.sql"));
        std::fs::write(&ddl_file, &ddl.stdout).unwrap();

        let glob = format!("{}/source=*/dt=*/hr=*/*{extension}", lake.display());
        let seen = read_with_duckdb(&glob, &ddl_file, "okta_events").await;
        for reader in ["glob", "ddl"] {
            let facts = &seen[reader];
            let context = format!("{sink}, {reader}: {facts}");
            assert_eq!(facts["count"], written.event_ids.len(), "{context}");
            assert_eq!(facts["distinct_ids"], facts["count"], "{context}");
            assert_eq!(facts["min_ms"], min_ms, "{context}");
            assert_eq!(facts["max_ms"], max_ms, "{context}");
            assert_eq!(facts["sources"], serde_json::json!(["okta"]), "{context}");
            assert_eq!(
                facts["misplaced"], 0,
                "rows outside their dt/hr partition: {context}"
            );
        }
        assert_eq!(
            seen["latest"]["event_time_ms"], max_ms,
            "the _latest view is latest first"
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_range_reads_as_one_copy_through_the_latest_view() {
    if !duckdb_ready() {
        return;
    }
    let sim_config = SimulatorConfig::okta(3_000);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut test_config = TestConfig::new(&base_url);
    test_config.roll_size = "64KB";
    let config_path = test_config.write(dir.path(), "");
    let config = config_path.to_str().unwrap();
    run_until_caught_up(config, 20, &[]).await;
    let lake = dir.path().join("lake");
    assert_lake_exact(&lake, "okta", &sim_config);

    // The first half of the events delivered again, on purpose.
    let start = sim_config.anchor - chrono::Duration::from_std(sim_config.span).unwrap();
    let half =
        chrono::DateTime::from_timestamp((start + chrono::Duration::hours(3)).timestamp(), 0)
            .unwrap();
    let again = sluice()
        .args([
            "backfill",
            "--config",
            config,
            "--source",
            "okta",
            "--redeliver",
        ])
        .args(["--from", &start.to_rfc3339(), "--to", &half.to_rfc3339()])
        .output()
        .await
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        common::output_text(&again)
    );
    let twice = (0..sim_config.events)
        .filter(|i| sluice::simulator::event_time(&sim_config, *i) < half)
        .count();
    assert!(twice > 0 && twice < sim_config.events as usize, "{twice}");

    let ddl = sluice()
        .args(["lake", "ddl", "--dialect", "duckdb", "--source", "okta"])
        .args(["--config", config])
        .output()
        .await
        .unwrap();
    assert!(
        ddl.status.success(),
        "{}",
        String::from_utf8_lossy(&ddl.stderr)
    );
    let ddl_file = dir.path().join("lake.sql");
    std::fs::write(&ddl_file, &ddl.stdout).unwrap();
    let glob = format!("{}/source=*/dt=*/hr=*/*.ndjson.gz", lake.display());
    let seen = read_with_duckdb(&glob, &ddl_file, "okta_events").await;
    let all = sim_config.events as usize;
    // The objects hold both copies (none was replaced)...
    for reader in ["glob", "ddl"] {
        let facts = &seen[reader];
        assert_eq!(facts["count"], all + twice, "{reader}: {facts}");
        assert_eq!(facts["distinct_ids"], all, "{reader}: {facts}");
    }
    // ...and the view shows each event once: its newest copy, in its partition.
    let latest = &seen["ddl_latest"];
    assert_eq!(latest["count"], all, "{latest}");
    assert_eq!(latest["distinct_ids"], all, "{latest}");
    assert_eq!(
        latest["stale"], 0,
        "a row with a newer copy was kept: {latest}"
    );
    assert_eq!(latest["misplaced"], 0, "{latest}");
    sim.shutdown().await;
}

/// Runs `query` in DuckDB after the DDL in `ddl_file`; returns its rows.
#[cfg(feature = "parquet")]
async fn query_with_duckdb(ddl_file: &Path, query: &str) -> Vec<Vec<serde_json::Value>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/duckdb_query.py");
    let out = tokio::process::Command::new("python3")
        .arg(&script)
        .arg(ddl_file)
        .arg(query)
        .output()
        .await
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the DuckDB query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the query prints JSON")
}

/// A Parquet lake with OCSF has typed columns: DuckDB filters on `class_uid` and
/// `actor_user_email_addr` (no JSON parsing), through the view `sluice lake ddl` prints, and
/// finds exactly the events whose OCSF member says so.
#[cfg(feature = "parquet")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_filters_a_parquet_ocsf_lake_on_its_typed_columns() {
    if !duckdb_ready() {
        return;
    }
    let sim_config = SimulatorConfig::okta(800);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let source = TestConfig::new(&base_url)
        .source_table()
        .replace(r#"sinks = ["lake"]"#, r#"sinks = ["lake", "lake_parquet"]"#);
    let text = format!(
        r#"
[state]
kind = "sqlite"
path = "state.db"
{source}
[[sources.transforms]]
kind = "ocsf"
mapping = "okta"
into = "member"

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"

[[sinks]]
name = "lake_parquet"
kind = "lake"
path = "lake-parquet"
format = "parquet"
partition_by_class = true
"#
    );
    let config_path = dir.path().join("sluice.toml");
    std::fs::write(&config_path, text).unwrap();
    let config = config_path.to_str().unwrap();
    run_until_caught_up(config, 20, &[]).await;
    sim.shutdown().await;
    assert_lake_exact(&dir.path().join("lake-parquet"), "okta", &sim_config);

    // What the NDJSON lake's OCSF members say, counted by sluice's own reader.
    let mut authentications = 0;
    let mut with_email = std::collections::BTreeSet::new();
    let mut scanned = 0;
    let lake_config = sluice::config::load(&config_path).unwrap();
    let sluice::config::SinkConfig::Lake(lake) = &lake_config.sinks[0] else {
        panic!("the first sink is the NDJSON lake")
    };
    sluice::sink::lake::scan::scan(
        lake,
        "okta",
        sluice::sink::lake::scan::Part::Member("ocsf"),
        |l| {
            let ocsf = l.json.unwrap();
            scanned += 1;
            if ocsf["class_uid"] == 3002 {
                authentications += 1;
            }
            if let Some(email) = ocsf["actor"]["user"]["email_addr"].as_str() {
                with_email.insert(email.to_string());
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(scanned, 800);
    assert!(authentications > 0 && !with_email.is_empty());
    let email = with_email.iter().next().unwrap().clone();
    let expected_for_email = {
        let mut n = 0;
        sluice::sink::lake::scan::scan(
            lake,
            "okta",
            sluice::sink::lake::scan::Part::Member("ocsf"),
            |l| {
                if l.json.unwrap()["actor"]["user"]["email_addr"] == email.as_str() {
                    n += 1;
                }
            },
        )
        .await
        .unwrap();
        n
    };

    let ddl = sluice()
        .args(["lake", "ddl", "--dialect", "duckdb", "--source", "okta"])
        .args(["--config", config, "--sink", "lake_parquet"])
        .output()
        .await
        .unwrap();
    assert!(
        ddl.status.success(),
        "{}",
        String::from_utf8_lossy(&ddl.stderr)
    );
    let sql = String::from_utf8(ddl.stdout).unwrap();
    assert!(
        sql.contains("class_uid") && sql.contains("class=*"),
        "{sql}"
    );
    let ddl_file = dir.path().join("parquet.sql");
    std::fs::write(&ddl_file, &sql).unwrap();

    let types = query_with_duckdb(
        &ddl_file,
        "SELECT column_name, column_type FROM (DESCRIBE okta_events) \
         WHERE column_name IN ('class_uid', 'time', 'actor_user_email_addr', 'class')",
    )
    .await;
    let types: std::collections::BTreeMap<String, String> = types
        .into_iter()
        .map(|row| {
            (
                row[0].as_str().unwrap().to_string(),
                row[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(types["class_uid"], "BIGINT", "{types:?}");
    assert_eq!(types["time"], "TIMESTAMP WITH TIME ZONE", "{types:?}");
    assert_eq!(types["actor_user_email_addr"], "VARCHAR", "{types:?}");
    assert_eq!(types["class"], "VARCHAR", "the class partition: {types:?}");

    let rows = query_with_duckdb(
        &ddl_file,
        &format!(
            "SELECT \
               count(*) FILTER (WHERE class_uid = 3002 AND class = 'authentication'), \
               count(*) FILTER (WHERE actor_user_email_addr = '{email}'), \
               count(*) FILTER (WHERE epoch_ms(time) <> epoch_ms(event_time)), \
               count(*) FILTER (WHERE type_uid <> class_uid * 100 + activity_id), \
               count(*) \
             FROM okta_events"
        ),
    )
    .await;
    let row = &rows[0];
    assert_eq!(row[0], authentications, "class_uid = 3002: {row:?}");
    assert_eq!(row[1], expected_for_email, "by email: {row:?}");
    assert_eq!(row[2], 0, "OCSF time is the event time: {row:?}");
    assert_eq!(row[3], 0, "type_uid: {row:?}");
    assert_eq!(row[4], 800);
}
