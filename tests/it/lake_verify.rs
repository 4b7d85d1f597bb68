//! The manifest ledger and `sluice lake verify`: a lake the binary wrote verifies intact, and
//! every kind of tampering is reported (exit 1) naming the object or record: one byte of an
//! object changed, an object deleted, an object added, a ledger record edited, a ledger
//! record deleted (in the middle of a chain and at its end), the whole ledger removed.

use crate::common;

use std::path::{Path, PathBuf};

use sluice::simulator::SimulatorConfig;

use common::{output_text, run_until_caught_up, start_simulator, TestConfig};

/// A lake of one source, with many small objects and commits, written by the binary.
struct Written {
    dir: tempfile::TempDir,
}

impl Written {
    async fn new(sim_config: &SimulatorConfig, base_url: &str) -> Written {
        let dir = tempfile::tempdir().unwrap();
        let mut test_config = TestConfig::new(base_url);
        test_config.roll_size = "16KB";
        test_config.write(dir.path(), "");
        let written = Written { dir };
        run_until_caught_up(&written.config(), 20, &[]).await;
        common::assert_lake_exact(&written.lake(), "okta", sim_config);
        written
    }

    fn config(&self) -> String {
        self.dir.path().join("sluice.toml").display().to_string()
    }

    fn lake(&self) -> PathBuf {
        self.dir.path().join("lake")
    }

    /// A copy of the config, state and lake to tamper with.
    fn copy(&self) -> tempfile::TempDir {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(self.dir.path(), copy.path());
        copy
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir` whose name ends in `suffix`, sorted.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Runs `sluice lake verify --json` in `dir`; returns its exit code, findings and output.
async fn verify(dir: &Path) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let config = dir.join("sluice.toml");
    let out = common::run_sluice(&[
        "lake",
        "verify",
        "--json",
        "--config",
        config.to_str().unwrap(),
    ])
    .await;
    let text = output_text(&out);
    let reports: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    let findings = reports
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["findings"].as_array().cloned().unwrap_or_default())
        .collect();
    (out.status.code(), findings, text)
}

/// Asserts verify exits 1 with exactly one finding of `kind` whose key ends with `key`.
async fn assert_found(dir: &Path, kind: &str, key: &str) {
    let (code, findings, text) = verify(dir).await;
    assert_eq!(code, Some(1), "{kind}: {text}");
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == kind && f["key"].as_str().unwrap().ends_with(key)),
        "expected {kind} for {key}: {text}"
    );
    assert!(
        findings.iter().all(|f| f["kind"] == kind),
        "only {kind} expected: {text}"
    );
}

fn key_of(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_on_an_intact_lake_and_reports_every_kind_of_tampering() {
    let sim_config = SimulatorConfig::okta(3_000);
    let sim = start_simulator(sim_config.clone()).await;
    let written = Written::new(&sim_config, &sim.base_url()).await;
    let lake = written.lake();
    let objects = files(&lake.join("source=okta"), ".ndjson.gz");
    let records = files(&lake.join("_manifest/source=okta"), ".json");
    assert!(
        objects.len() >= 4 && records.len() >= 3,
        "{objects:?} {records:?}"
    );

    // Intact: every object re-read, every record read.
    let reports = common::assert_lake_verifies(&written.config()).await;
    assert_eq!(reports[0]["objects"], objects.len());
    assert_eq!(reports[0]["records"], records.len());
    let human = common::run_sluice(&["lake", "verify", "--config", &written.config()]).await;
    assert_eq!(human.status.code(), Some(0), "{}", output_text(&human));
    assert!(
        output_text(&human).contains("intact"),
        "{}",
        output_text(&human)
    );

    // One byte of an object changed.
    let copy = written.copy();
    let object = copy.path().join(key_of(written.dir.path(), &objects[1]));
    let mut bytes = std::fs::read(&object).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&object, bytes).unwrap();
    assert_found(copy.path(), "modified", &key_of(&lake, &objects[1])).await;
    // Outside --from/--to no object is re-read (chains and listings are still checked).
    let config = copy.path().join("sluice.toml");
    let before_all = common::run_sluice(&[
        "lake",
        "verify",
        "--json",
        "--config",
        config.to_str().unwrap(),
        "--to",
        "2000-01-01",
    ])
    .await;
    let text = output_text(&before_all);
    assert_eq!(before_all.status.code(), Some(0), "{text}");
    let reports: serde_json::Value = serde_json::from_slice(&before_all.stdout).unwrap();
    assert_eq!(reports[0]["objects"], 0, "{text}");

    // An object deleted.
    let copy = written.copy();
    std::fs::remove_file(copy.path().join(key_of(written.dir.path(), &objects[2]))).unwrap();
    assert_found(copy.path(), "missing", &key_of(&lake, &objects[2])).await;

    // An object added, beside the others in a partition.
    let copy = written.copy();
    let added = copy
        .path()
        .join(key_of(written.dir.path(), &objects[0]))
        .with_file_name("9999999999-deadbeef-00000000.ndjson.gz");
    std::fs::copy(
        copy.path().join(key_of(written.dir.path(), &objects[0])),
        &added,
    )
    .unwrap();
    assert_found(
        copy.path(),
        "unlisted",
        "9999999999-deadbeef-00000000.ndjson.gz",
    )
    .await;

    // A ledger record edited (an object's event count), in the middle of the chain: the
    // next record's link no longer matches.
    let copy = written.copy();
    let record = copy.path().join(key_of(written.dir.path(), &records[0]));
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let events = value["objects"][0]["events"].as_u64().unwrap();
    value["objects"][0]["events"] = serde_json::json!(events + 1);
    let mut edited = serde_json::to_vec(&value).unwrap();
    edited.push(b'\n');
    std::fs::write(&record, edited).unwrap();
    assert_found(copy.path(), "broken_chain", &key_of(&lake, &records[1])).await;

    // The newest record edited: no record follows it, the state store's head tells.
    let copy = written.copy();
    let newest = records.last().unwrap();
    let record = copy.path().join(key_of(written.dir.path(), newest));
    let text = std::fs::read_to_string(&record).unwrap();
    std::fs::write(&record, text.replacen("\"events\":", "\"events\": ", 1)).unwrap();
    assert_found(copy.path(), "head_mismatch", "_manifest/source=okta/").await;

    // A ledger record deleted in the middle of the chain: its objects are unlisted now, and
    // the next record's link breaks.
    let copy = written.copy();
    std::fs::remove_file(copy.path().join(key_of(written.dir.path(), &records[1]))).unwrap();
    let (code, findings, text) = verify(copy.path()).await;
    assert_eq!(code, Some(1), "{text}");
    let next = key_of(&lake, &records[2]);
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == "broken_chain" && f["key"] == next.as_str()),
        "{text}"
    );
    assert!(findings.iter().any(|f| f["kind"] == "unlisted"), "{text}");

    // The newest ledger record deleted, with its objects: a shorter chain that is whole in
    // itself, caught by the state store's head.
    let copy = written.copy();
    let newest_record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(newest).unwrap()).unwrap();
    for object in newest_record["objects"].as_array().unwrap() {
        std::fs::remove_file(
            copy.path()
                .join("lake")
                .join(object["key"].as_str().unwrap()),
        )
        .unwrap();
    }
    std::fs::remove_file(copy.path().join(key_of(written.dir.path(), newest))).unwrap();
    assert_found(copy.path(), "head_mismatch", "_manifest/source=okta/").await;

    // No ledger at all: said so, exit 1.
    let copy = written.copy();
    std::fs::remove_dir_all(copy.path().join("lake/_manifest")).unwrap();
    let (code, findings, text) = verify(copy.path()).await;
    assert_eq!(code, Some(1), "{text}");
    let none = findings
        .iter()
        .find(|f| f["kind"] == "no_ledger")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        none["detail"]
            .as_str()
            .unwrap()
            .contains("no manifest ledger for source `okta`"),
        "{text}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn verify_refuses_unknown_sources_and_inverted_ranges_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new("http://127.0.0.1:9").write(dir.path(), "");
    let config = config.to_str().unwrap();
    for (args, expected) in [
        (vec!["--source", "nope"], "--source `nope` is not in"),
        (
            vec!["--from", "2024-05-02", "--to", "2024-05-01"],
            "is not before --to",
        ),
    ] {
        let mut all = vec!["lake", "verify", "--config", config];
        all.extend(args);
        let out = common::run_sluice(&all).await;
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(text.contains(expected) && text.contains("hint"), "{text}");
    }
}
