//! Signed ledger records and published heads (`ledger = { signing_key, heads }`): a lake
//! written with a key from the secret references verifies intact (with the configured key
//! and with `--public-key`), and the tampering that only a key or a write-once head can
//! reveal is reported: a ledger record edited, a ledger record deleted, the chain rewritten
//! without the key (every hash recomputed), signatures stripped, a foreign key.

use crate::common;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use sluice::simulator::SimulatorConfig;

use common::{output_text, run_until_caught_up, start_simulator, TestConfig};

/// An Ed25519 seed (any 32 bytes are one), base64.
const SEED: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn public_key() -> String {
    let seed: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(SEED)
        .unwrap()
        .try_into()
        .unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes())
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

/// The chain's records, in order.
fn records(lake: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(lake.join("_manifest/source=okta"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    found.sort();
    found
}

/// A config for a lake in `dir` whose heads go to `heads` (absolute), signed with the key in
/// `$LEDGER_KEY`.
fn write_config(dir: &Path, base_url: &str, heads: &Path) -> String {
    let test_config = {
        let mut c = TestConfig::new(base_url);
        c.roll_size = "16KB";
        c
    };
    let path = test_config.write(dir, "");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = format!(
        "{text}ledger = {{ signing_key = \"${{env:LEDGER_KEY}}\", heads = \"{}\", heads_every = \"1s\" }}\n",
        heads.display()
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

const ENV: &[(&str, &str)] = &[("LEDGER_KEY", SEED)];

/// `sluice lake verify --json` with the key in the environment: exit code and findings.
async fn verify(config: &str, extra: &[&str]) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let mut command = common::sluice();
    command
        .args(["lake", "verify", "--json", "--config", config])
        .args(extra)
        .envs(ENV.iter().copied());
    let out = command.output().await.unwrap();
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

fn has(findings: &[serde_json::Value], kind: &str, key_end: &str) -> bool {
    findings
        .iter()
        .any(|f| f["kind"] == kind && f["key"].as_str().unwrap().ends_with(key_end))
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_records_and_published_heads_reveal_what_the_hash_chain_alone_cannot() {
    let sim_config = SimulatorConfig::okta(3_000);
    let sim = start_simulator(sim_config.clone()).await;
    let base_url = sim.base_url();
    let written = tempfile::tempdir().unwrap();
    let heads = tempfile::tempdir().unwrap();
    let config = write_config(written.path(), &base_url, heads.path());
    run_until_caught_up(&config, 20, ENV).await;
    let lake = written.path().join("lake");
    let chain = records(&lake);
    assert!(chain.len() >= 4, "{chain:?}");
    let first: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&chain[0]).unwrap()).unwrap();
    assert!(first["signature"].is_string(), "{first}");
    let mut published = Vec::new();
    let mut stack = vec![heads.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                published.push(path);
            }
        }
    }
    assert!(!published.is_empty(), "no head was published");

    // Intact, with the configured key and with --public-key.
    let (code, findings, text) = verify(&config, &[]).await;
    assert_eq!((code, findings.len()), (Some(0), 0), "{text}");
    let (code, _, text) = verify(&config, &["--public-key", &public_key()]).await;
    assert_eq!(code, Some(0), "{text}");
    // A foreign key finds every signature bad.
    let foreign = base64::engine::general_purpose::STANDARD.encode(
        ed25519_dalek::SigningKey::from_bytes(&[9u8; 32])
            .verifying_key()
            .to_bytes(),
    );
    let (code, findings, text) = verify(&config, &["--public-key", &foreign]).await;
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(
        findings
            .iter()
            .filter(|f| f["kind"] == "bad_signature")
            .count(),
        chain.len(),
        "{text}"
    );

    // Each case works on a copy of the config, state, lake and heads.
    let tamper = |edit: &dyn Fn(&Path, &[PathBuf])| {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(written.path(), copy.path());
        let copied_heads = copy.path().join("heads");
        copy_dir(heads.path(), &copied_heads);
        let config = write_config(copy.path(), &base_url, &copied_heads);
        let lake = copy.path().join("lake");
        edit(&lake, &records(&lake));
        (copy, config)
    };

    // A ledger record edited (its events count): its signature no longer holds.
    let (_copy, edited) = tamper(&|_, chain| {
        let text = std::fs::read_to_string(&chain[1]).unwrap();
        let changed = text.replacen("\"events\":", "\"events\":1", 1);
        assert_ne!(text, changed);
        std::fs::write(&chain[1], changed).unwrap();
    });
    let (code, findings, text) = verify(&edited, &[]).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(has(&findings, "bad_signature", &name(&chain[1])), "{text}");

    // A ledger record deleted: the chain breaks after it, its objects are unlisted.
    let (_copy, deleted) = tamper(&|_, chain| std::fs::remove_file(&chain[1]).unwrap());
    let (code, findings, text) = verify(&deleted, &[]).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(has(&findings, "broken_chain", &name(&chain[2])), "{text}");
    assert!(findings.iter().any(|f| f["kind"] == "unlisted"), "{text}");

    // The chain rewritten without the key: an object changed, its record updated and every
    // `prev` after it recomputed, so the hash chain alone holds. The signatures do not, and
    // the head published to the write-once location is no longer in the chain.
    let (_copy, rewritten) = tamper(&|lake, chain| {
        let mut prev: Option<String> = None;
        for (i, path) in chain.iter().enumerate() {
            let mut record: serde_json::Value =
                serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            if i == 0 {
                let object = &mut record["objects"][0];
                let key = lake.join(object["key"].as_str().unwrap());
                let mut bytes = std::fs::read(&key).unwrap();
                bytes.extend_from_slice(b"\x1f\x8b");
                std::fs::write(&key, &bytes).unwrap();
                object["sha256"] = sha256_hex(&bytes).into();
                object["bytes"] = bytes.len().into();
            }
            record["prev"] = prev.clone().map_or(serde_json::Value::Null, Into::into);
            let mut bytes = serde_json::to_vec(&record).unwrap();
            bytes.push(b'\n');
            prev = Some(sha256_hex(&bytes));
            std::fs::write(path, bytes).unwrap();
        }
    });
    let (code, findings, text) = verify(&rewritten, &[]).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        !findings
            .iter()
            .any(|f| f["kind"] == "broken_chain" || f["kind"] == "modified"),
        "the rewrite keeps the hash chain whole: {text}"
    );
    assert!(has(&findings, "bad_signature", &name(&chain[0])), "{text}");
    assert!(findings.iter().any(|f| f["kind"] == "rewritten"), "{text}");

    // Signatures stripped as well: every record is reported unsigned.
    let (_copy, stripped) = tamper(&|_, chain| {
        for path in chain {
            let mut record: serde_json::Value =
                serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            record.as_object_mut().unwrap().remove("signature");
            std::fs::write(path, serde_json::to_vec(&record).unwrap()).unwrap();
        }
    });
    let (code, findings, text) = verify(&stripped, &[]).await;
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(
        findings.iter().filter(|f| f["kind"] == "unsigned").count(),
        chain.len(),
        "{text}"
    );

    // A key that does not read is refused when the config loads, naming the sink and key.
    let out = common::sluice()
        .args(["lake", "verify", "--config", &config])
        .env("LEDGER_KEY", "AAAA")
        .output()
        .await
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("ledger.signing_key") && text.contains("lake"),
        "{text}"
    );
    sim.shutdown().await;
}
