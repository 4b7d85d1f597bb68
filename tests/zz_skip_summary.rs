//! One line at the end of a test run saying which tests skipped for a missing service, and
//! how to run them (see `tests/it/common/skip.rs`). Named to run last under `cargo test`, which
//! runs test binaries in name order; `.config/nextest.toml` runs it last and alone under
//! nextest. With `SLUICE_TEST_REQUIRE_ALL=1` (set by `.ci/run`) any skip fails the run.

// Only the skip records' module of the tests' helpers, not the whole of `tests/it/common/`.
#[path = "it/common/skip.rs"]
#[allow(dead_code)] // `skip` itself: this binary reads the records, it writes none
mod skip;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, SystemTime};

use skip::{env_flag, record_file, records_dir};

/// Record files older than this belong to finished runs and are removed.
const STALE: Duration = Duration::from_secs(24 * 3600);

#[test]
fn skipped_tests_are_summarised() {
    let file = record_file();
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    // Per service: the tests that skipped, and what runs them.
    let mut services: BTreeMap<&str, (Vec<&str>, &str)> = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        let (Some(service), Some(test), Some(_reason), Some(how)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let entry = services.entry(service).or_insert((Vec::new(), how));
        entry.0.push(test);
    }
    remove_stale_records();
    if services.is_empty() {
        return;
    }
    // Kept for reading, under a name no later run (whose key could reuse a pid) appends to.
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let kept = file.with_extension(format!("{stamp}.done"));
    let shown = match std::fs::rename(&file, &kept) {
        Ok(()) => kept,
        Err(_) => file.clone(),
    };
    let total: usize = services.values().map(|(tests, _)| tests.len()).sum();
    let parts: Vec<String> = services
        .iter()
        .map(|(service, (tests, how))| format!("{} need {service} ({how})", tests.len()))
        .collect();
    let line = format!(
        "note: {total} tests skipped: {}; each test and reason: {}; .ci/run runs them all",
        parts.join("; "),
        shown.display()
    );
    // Straight to the terminal: libtest captures `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "{line}");
    assert!(
        !env_flag("SLUICE_TEST_REQUIRE_ALL"),
        "SLUICE_TEST_REQUIRE_ALL is set, but {line}\n{text}"
    );
}

fn remove_stale_records() {
    let Ok(entries) = std::fs::read_dir(records_dir()) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|modified| now.duration_since(modified).unwrap_or_default() > STALE);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
