//! `sluice bench` as CI runs it: a small backlog, to check that the bench completes, that its
//! lakes are exact, and that bad arguments never print a speed. Speed itself is measured by
//! hand (docs/benchmarks.md), never asserted here.

use crate::common;

use std::collections::HashMap;

use common::{output_text, run_sluice};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_bench_completes_with_exact_lakes_and_prints_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("bench");
    let out = run_sluice(&[
        "bench",
        "--events",
        "3000",
        "--latency",
        "0ms",
        "--page-size",
        "250",
        "--workers",
        "1,2",
        "--span",
        "2h",
        "--dir",
        out_dir.to_str().unwrap(),
    ])
    .await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for workers in [1, 2] {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("workers {workers:>2}:")))
            .unwrap_or_else(|| panic!("no row for {workers} workers: {text}"));
        assert!(
            row.contains("events/s") && row.contains("µs/event"),
            "{row}"
        );
        // The bench checked its lake; read it again here, id by id.
        let lake = out_dir.join(format!("workers-{workers}")).join("lake");
        let contents = sluice::sink::lake::read_lake(&lake, "okta").unwrap();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for id in &contents.event_ids {
            *counts.entry(id).or_default() += 1;
        }
        assert_eq!(counts.len(), 3000, "{row}");
        assert!(
            counts.values().all(|n| *n == 1),
            "a duplicate in {}",
            lake.display()
        );
    }
}

#[tokio::test]
async fn bad_arguments_say_so_and_print_no_speed() {
    for args in [
        &["bench", "--events", "0"][..],
        &["bench", "--workers", "0"][..],
        &["bench", "--page-size", "0"][..],
    ] {
        let out = run_sluice(args).await;
        let text = output_text(&out);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {text}");
        assert!(text.contains("hint:"), "{args:?}: {text}");
        assert!(!text.contains("events/s"), "{args:?}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_p1_shape_pulls_from_a_simulator_process_and_prints_its_stages() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("bench");
    let out = run_sluice(&[
        "bench",
        "--shape",
        "p1",
        "--events",
        "2000",
        "--page-size",
        "500",
        "--dir",
        out_dir.to_str().unwrap(),
    ])
    .await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("served by a `sluice simulate` process"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("workers  1:"))
        .unwrap_or_else(|| panic!("no row for one worker: {text}"));
    assert!(row.contains("events/s") && row.contains("4 pages"), "{row}");
    let stages = text
        .lines()
        .find(|l| l.trim_start().starts_with("stages:"))
        .unwrap_or_else(|| panic!("no stage times: {text}"));
    for stage in ["fetch wait", "parse", "transform", "encode", "commit"] {
        assert!(stages.contains(stage), "{stage} missing: {stages}");
    }
    // One listing of the whole span, as P1 pulls it; the lake holds every event once.
    let lake = out_dir.join("workers-1").join("lake");
    let contents = sluice::sink::lake::read_lake(&lake, "okta").unwrap();
    let unique: std::collections::HashSet<&String> = contents.event_ids.iter().collect();
    assert_eq!(contents.event_ids.len(), 2000, "{text}");
    assert_eq!(unique.len(), 2000, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p1_bench_whose_server_cannot_start_says_so_and_prints_no_speed() {
    // The port is taken: the simulator process cannot listen on it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = run_sluice(&[
        "bench",
        "--shape",
        "p1",
        "--events",
        "100",
        "--port",
        &port,
        "--dir",
        dir.path().join("bench").to_str().unwrap(),
    ])
    .await;
    let text = output_text(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("simulator process"), "{text}");
    assert!(text.contains(&port), "{text}");
    assert!(text.contains("hint:"), "{text}");
    assert!(!text.contains("events/s"), "{text}");
    drop(taken);
}
