//! Enrichment through the real binary and the simulator (issue 14, parts 6 and 7): OCSF
//! events enriched by GeoIP and threat intel land in the lake and stay valid OCSF 1.7.0; a
//! broken database stops the run at start naming the file, key and line.
//!
//! The MaxMind test databases are `../shared/testdata/mmdb` and the OCSF schema
//! `../shared/ocsf` (relative to the project root, not committed); without them the tests that
//! need them say so and skip.

use crate::common;

use std::path::{Path, PathBuf};

use sluice::simulator::SimulatorConfig;
use sluice::transform::ocsf::Schema;

use common::lake::envelopes;
use common::{run_sluice, run_until_caught_up, start_simulator, TestConfig};

fn mmdb() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/mmdb");
    if dir.join("GeoIP2-City-Test.mmdb").exists() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: the MaxMind test databases {} are absent",
            dir.display()
        );
        None
    }
}

fn schema() -> Option<Schema> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/ocsf/ocsf-1.7.0-schema.json");
    if !path.exists() {
        eprintln!(
            "skipping the validation: the compiled OCSF schema {} is absent",
            path.display()
        );
        return None;
    }
    Some(Schema::load(&path).expect("the compiled OCSF schema loads"))
}

fn write_config(dir: &Path, source: &str, more: &str) -> PathBuf {
    let text = format!(
        "[state]\nkind = \"sqlite\"\npath = \"state.db\"\n{source}\n[[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"lake\"\n{more}\n"
    );
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsf_events_enriched_by_geoip_and_intel_land_in_the_lake_as_valid_ocsf() {
    let Some(mmdb) = mmdb() else { return };
    let sim_config = SimulatorConfig::okta(150);
    let sim = start_simulator(sim_config.clone()).await;
    let base_url = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("intel")).unwrap();
    std::fs::write(
        dir.path().join("intel/blocklist.txt"),
        "# test feed\n81.2.69.0/24\nnot an indicator\n",
    )
    .unwrap();
    // The simulator's addresses are random; a `set` step gives every event one the test
    // databases hold (London, flagged as a Tor exit).
    let chain = format!(
        r#"
[[sources.transforms]]
kind = "ocsf"
mapping = "okta"

[[sources.transforms]]
kind = "set"
field = "src_endpoint.ip"
value = "81.2.69.142"

[[sources.transforms]]
kind = "geoip"
fields = ["src_endpoint.ip"]
city = "{city}"
asn = "{asn}"
anonymous_ip = "{anon}"

[[sources.transforms]]
kind = "intel"
fields = ["src_endpoint.ip"]
feeds = [{{ path = "intel/blocklist.txt", confidence = 60 }}]
"#,
        city = mmdb.join("GeoIP2-City-Test.mmdb").display(),
        asn = mmdb.join("GeoLite2-ASN-Test.mmdb").display(),
        anon = mmdb.join("GeoIP2-Anonymous-IP-Test.mmdb").display(),
    );
    let source = TestConfig::new(&base_url).source_table() + &chain;
    let config = write_config(dir.path(), &source, "");
    let (_, output) = run_until_caught_up(config.to_str().unwrap(), 10, &[]).await;
    assert!(
        output.contains("blocklist.txt:3"),
        "the malformed line is logged: {output}"
    );

    let events = envelopes(&dir.path().join("lake"), "okta");
    assert_eq!(events.len(), 150);
    let schema = schema();
    for envelope in &events {
        let data = &envelope["data"];
        let endpoint = &data["src_endpoint"];
        assert_eq!(endpoint["location"]["country"], "GB", "{data}");
        assert_eq!(endpoint["location"]["city"], "London", "{data}");
        let enrichments = data["enrichments"].as_array().expect("enrichments");
        let kinds: Vec<&str> = enrichments
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["anonymous_ip", "threat_intel"], "{data}");
        assert_eq!(enrichments[1]["data"]["indicator"], "81.2.69.0/24");
        assert_eq!(enrichments[1]["data"]["confidence"], 60);
        assert_eq!(enrichments[1]["provider"], "blocklist");
        if let Some(schema) = &schema {
            let findings: Vec<String> = schema
                .validate(data)
                .iter()
                .map(|f| f.to_string())
                .collect();
            assert_eq!(findings, Vec::<String>::new(), "{data}");
        }
    }
}

#[tokio::test]
async fn a_corrupt_database_stops_the_run_at_start_naming_file_key_and_line() {
    let Some(mmdb) = mmdb() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corrupt = mmdb.join("GeoIP2-City-Test-Invalid-Node-Count.mmdb");
    let chain = format!(
        "\n[[sources.transforms]]\nkind = \"geoip\"\nfields = [\"client.ipAddress\"]\ncity = \"{}\"\n",
        corrupt.display()
    );
    let source = TestConfig::new("http://127.0.0.1:9").source_table() + &chain;
    let config = write_config(dir.path(), &source, "");
    let text = std::fs::read_to_string(&config).unwrap();
    let line = text.lines().position(|l| l.starts_with("city = ")).unwrap() + 1;
    let out = run_sluice(&["run", "--once", "--config", config.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("sluice.toml:{line}:")),
        "file and line: {stderr}"
    );
    assert!(stderr.contains("sources[0].transforms[0].city"), "{stderr}");
    assert!(
        stderr.contains("GeoIP2-City-Test-Invalid-Node-Count.mmdb"),
        "{stderr}"
    );
}
