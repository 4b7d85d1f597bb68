//! OCSF in the lake, end to end through the binary: an `ocsf` step with `into = "member"`
//! keeps the vendor record in `data` and adds the OCSF event beside it, `partition_by_class`
//! files each event under its class, `payload = "ocsf"` writes the OCSF object alone (NDJSON)
//! or with typed columns (Parquet), and `sluice lake validate --ocsf` checks what the lake
//! holds against the compiled schema, locating each bad event by object key and line.

use crate::common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sluice::simulator::SimulatorConfig;

use common::{
    assert_lake_exact, output_text, run_until_caught_up, sluice, start_simulator, TestConfig,
};

/// The compiled OCSF schema the tests validate against, when the shared folder has it.
fn schema() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/ocsf/ocsf-1.7.0-schema.json");
    if path.exists() {
        return Some(path);
    }
    common::skip::skip(
        "the OCSF schema",
        "../shared/ocsf/ocsf-1.7.0-schema.json is absent: lake validation is not checked",
        "put the compiled OCSF 1.7.0 schema there",
    );
    None
}

/// Every line of every `.ndjson.gz` object under `dir`, with its key relative to `root`.
fn lines(root: &Path) -> Vec<(String, serde_json::Value)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("_staging") && !path.ends_with("_manifest") {
                    walk(&path, out);
                }
            } else if path.to_string_lossy().ends_with(".ndjson.gz") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(root, &mut files);
    let mut out = Vec::new();
    for file in files {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&file).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let key = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        for line in text.lines() {
            out.push((key.clone(), serde_json::from_str(line).unwrap()));
        }
    }
    out
}

async fn validate(config: &str, schema: &Path) -> (Option<i32>, serde_json::Value, String) {
    let out = sluice()
        .args(["lake", "validate", "--ocsf", "--json", "--config", config])
        .arg("--schema")
        .arg(schema)
        .output()
        .await
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), report, output_text(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ocsf_member_lake_by_class_holds_the_vendor_record_and_validates() {
    let sim_config = SimulatorConfig::okta(600);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let source = TestConfig::new(&base_url)
        .source_table()
        .replace(r#"sinks = ["lake"]"#, r#"sinks = ["lake", "bare"]"#);
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
partition_by_class = true

[[sinks]]
name = "bare"
kind = "lake"
path = "bare"
payload = "ocsf"
"#
    );
    let config_path = dir.path().join("sluice.toml");
    std::fs::write(&config_path, text).unwrap();
    let config = config_path.to_str().unwrap();
    run_until_caught_up(config, 20, &[]).await;
    sim.shutdown().await;

    // The vendor's records, exactly, each once: `data` is untouched by the mapping.
    let lake = dir.path().join("lake");
    assert_lake_exact(&lake, "okta", &sim_config);
    let enveloped = lines(&lake);
    assert_eq!(enveloped.len(), 600);
    let mut classes = std::collections::BTreeSet::new();
    for (key, line) in &enveloped {
        let ocsf = &line["ocsf"];
        assert_eq!(ocsf["metadata"]["version"], "1.7.0", "{key}: {line}");
        assert_eq!(ocsf["metadata"]["uid"], line["data"]["uuid"], "{key}");
        let uid = ocsf["class_uid"].as_i64().unwrap();
        let class = sluice::transform::ocsf::class_name(uid);
        assert!(
            key.starts_with(&format!("source=okta/class={class}/dt=")),
            "{key}"
        );
        classes.insert(class.to_string());
    }
    assert!(classes.len() > 1, "the profile spans classes: {classes:?}");

    // `payload = "ocsf"`: each line is the OCSF object, the same one.
    let bare = lines(&dir.path().join("bare"));
    assert_eq!(bare.len(), 600);
    let mut members: Vec<String> = enveloped
        .iter()
        .map(|(_, l)| l["ocsf"].to_string())
        .collect();
    let mut objects: Vec<String> = bare.iter().map(|(_, l)| l.to_string()).collect();
    members.sort();
    objects.sort();
    assert_eq!(members, objects);

    let Some(schema) = schema() else { return };
    let (code, report, shown) = validate(config, &schema).await;
    assert_eq!(code, Some(0), "{shown}");
    let reports = report.as_array().unwrap();
    assert_eq!(reports.len(), 2, "both lakes: {report}");
    for report in reports {
        assert_eq!(report["events"], 600, "{report}");
        assert_eq!(report["invalid"], 0, "{report}");
    }

    // One event that is not valid OCSF, planted in the lake: found, named by key and line.
    let bad_dir = lake.join("source=okta/class=authentication/dt=2020-01-01/hr=00");
    std::fs::create_dir_all(&bad_dir).unwrap();
    let (_, good) = &enveloped[0];
    let mut bad = good.clone();
    bad["event_id"] = "planted".into();
    bad["ocsf"]["type_uid"] = 1.into();
    bad["ocsf"]["not_an_attribute"] = true.into();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    writeln!(gz, "{good}\n{bad}").unwrap();
    std::fs::write(bad_dir.join("planted.ndjson.gz"), gz.finish().unwrap()).unwrap();
    let (code, report, shown) = validate(config, &schema).await;
    assert_eq!(code, Some(1), "{shown}");
    let lake_report = &report.as_array().unwrap()[0];
    assert_eq!(lake_report["sink"], "lake");
    assert_eq!(lake_report["invalid"], 1, "{lake_report}");
    let class = lake_report["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["invalid"] == 1)
        .unwrap();
    let problem = &class["problems"][0];
    assert_eq!(
        problem["key"],
        "source=okta/class=authentication/dt=2020-01-01/hr=00/planted.ndjson.gz"
    );
    assert_eq!(problem["line"], 2);
    assert_eq!(problem["event_id"], "planted");
    let findings = problem["findings"].to_string();
    assert!(
        findings.contains("type_uid") && findings.contains("not_an_attribute"),
        "{findings}"
    );

    // The text form names the object and line too.
    let out = sluice()
        .args([
            "lake", "validate", "--ocsf", "--config", config, "--sink", "lake",
        ])
        .arg("--schema")
        .arg(&schema)
        .output()
        .await
        .unwrap();
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("planted.ndjson.gz:2 (event planted)"),
        "{shown}"
    );
    assert!(shown.contains("1 invalid"), "{shown}");
}

/// A sink that asks for OCSF from events that pass no `ocsf` step is refused at start,
/// naming the key; so is a missing schema for `lake validate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_ocsf_without_an_ocsf_step_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let source = TestConfig::new("http://127.0.0.1:9").source_table();
    let text = format!(
        "[state]\nkind = \"sqlite\"\npath = \"state.db\"\n{source}\n[[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"lake\"\npayload = \"ocsf\"\n"
    );
    let config_path = dir.path().join("sluice.toml");
    std::fs::write(&config_path, text).unwrap();
    let config = config_path.to_str().unwrap();
    let out = sluice()
        .args(["run", "--once", "--config", config])
        .output()
        .await
        .unwrap();
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("payload"), "{shown}");
    assert!(shown.contains("kind = \"ocsf\""), "{shown}");
    assert!(!dir.path().join("lake").exists());

    let out = sluice()
        .args(["lake", "validate", "--ocsf", "--config", config])
        .env_remove("SLUICE_OCSF_SCHEMA")
        .output()
        .await
        .unwrap();
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("--schema"), "{shown}");
}
