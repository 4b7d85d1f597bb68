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
