//! The transform stage (issue 14, parts 1 and 2) through the real binary and the simulator:
//! a source's chain applied to every event of the lake, dropped events counted with the
//! checkpoint moved past them, an event a step fails on in the dead-letter queue with the
//! step's name while the rest is delivered, a sink's own chain changing only that sink's
//! copy, one keyed pseudonym for one email across two sources, and config mistakes located.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use sluice::simulator::{self, SimulatorConfig};

use common::lake::envelopes;
use common::{
    assert_lake_exact, output_text, run_sluice, run_until_caught_up, start_simulator,
    summary_total, TestConfig,
};

/// Writes `sluice.toml`: `sources` (whole `[[sources]]` tables with their chains) and
/// `sinks` (whole `[[sinks]]` tables), with a SQLite state.
fn write_config(dir: &Path, sources: &str, sinks: &str) -> PathBuf {
    let text = format!("[state]\nkind = \"sqlite\"\npath = \"state.db\"\n{sources}\n{sinks}\n");
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const LAKE: &str = "[[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"lake\"\n";

/// Every event the simulator serves, by id.
fn served(config: &SimulatorConfig) -> HashMap<String, Value> {
    let ids = simulator::event_ids(config);
    (0..ids.len() as u64)
        .map(|i| {
            let event = simulator::event(config, i);
            (event["uuid"].as_str().unwrap().to_string(), event)
        })
        .collect()
}

/// The `data` of every line in the lake at `root`, by event id, asserting each id once.
fn lake_data(root: &Path, source: &str) -> HashMap<String, Value> {
    let mut found = HashMap::new();
    for envelope in envelopes(root, source) {
        let id = envelope["event_id"].as_str().unwrap().to_string();
        assert!(
            found.insert(id.clone(), envelope["data"].clone()).is_none(),
            "{id} is in {} twice",
            root.display()
        );
    }
    found
}

fn ids(map: &HashMap<String, Value>) -> HashSet<String> {
    map.keys().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_chain_shapes_every_event_and_dropped_events_move_the_checkpoint() {
    let sim_config = SimulatorConfig::okta(400);
    let sim = start_simulator(sim_config.clone()).await;
    let base_url = sim.base_url();
    let chain = r#"
[[sources.transforms]]
name = "no-sign-ins"
kind = "filter"
action = "drop"
field = "eventType"
equals = "user.session.start"

[[sources.transforms]]
kind = "rename"
from = "client.ipAddress"
to = "src_ip"

[[sources.transforms]]
kind = "set"
field = "meta.tenant"
value = "acme"
"#;
    let dir = tempfile::tempdir().unwrap();
    let source = TestConfig::new(&base_url).source_table() + chain;
    let config = write_config(dir.path(), &source, LAKE);
    let config = config.to_str().unwrap();

    let (_, first) = run_until_caught_up(config, 10, &[]).await;

    let all = served(&sim_config);
    let kept: HashMap<&String, &Value> = all
        .iter()
        .filter(|(_, e)| e["eventType"] != "user.session.start")
        .collect();
    let dropped = all.len() - kept.len();
    assert!(
        dropped > 0 && !kept.is_empty(),
        "the filter must split the events: {dropped} of {}",
        all.len()
    );
    let lake = lake_data(&dir.path().join("lake"), "okta");
    let expected: HashSet<String> = kept.keys().map(|id| id.to_string()).collect();
    assert_eq!(
        ids(&lake),
        expected,
        "the lake holds exactly the events the filter keeps"
    );
    for (id, data) in &lake {
        let original = kept[id];
        let mut shaped = original.clone();
        let ip = shaped["client"]
            .as_object_mut()
            .unwrap()
            .remove("ipAddress")
            .unwrap();
        shaped["src_ip"] = ip;
        shaped["meta"] = serde_json::json!({"tenant": "acme"});
        assert_eq!(
            data, &shaped,
            "{id}: every step applied, nothing else changed"
        );
    }
    assert_eq!(
        summary_total(&first, "transform_dropped"),
        dropped as u64,
        "{first}"
    );
    assert!(first.contains("no-sign-ins dropped"), "{first}");
    assert_eq!(
        common::delivered(config, &[]).await,
        kept.len() as u64,
        "dropped events are not counted as delivered"
    );

    // The checkpoint moved past the dropped events: a second run fetches and drops nothing
    // again, and delivers nothing.
    let again = run_sluice(&["run", "--once", "--config", config]).await;
    let again_text = output_text(&again);
    assert_eq!(again.status.code(), Some(0), "{again_text}");
    assert_eq!(summary_total(&again_text, "events"), 0, "{again_text}");
    assert_eq!(
        summary_total(&again_text, "transform_dropped"),
        0,
        "{again_text}"
    );
    assert_eq!(ids(&lake_data(&dir.path().join("lake"), "okta")), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_a_step_fails_on_is_dead_lettered_with_the_step_and_the_rest_delivered() {
    let sim_config = SimulatorConfig::okta(400);
    let sim = start_simulator(sim_config.clone()).await;
    let base_url = sim.base_url();
    let chain = r#"
[[sources.transforms]]
name = "reason-code"
kind = "cast"
fields = ["outcome.reason"]
to = "int"
"#;
    let all = served(&sim_config);
    let failing: HashSet<String> = all
        .iter()
        .filter(|(_, e)| e["outcome"]["reason"].is_string())
        .map(|(id, _)| id.clone())
        .collect();
    let passing: HashSet<String> = ids(&all).difference(&failing).cloned().collect();
    assert!(
        !failing.is_empty() && !passing.is_empty(),
        "some events carry a reason"
    );

    for queue in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let source = TestConfig::new(&base_url).source_table() + chain;
        let sinks = if queue {
            format!("{LAKE}\n[dead_letter]\npath = \"dead-letter\"\n")
        } else {
            LAKE.to_string()
        };
        let config = write_config(dir.path(), &source, &sinks);
        let (_, output) = run_until_caught_up(config.to_str().unwrap(), 10, &[]).await;

        let lake = lake_data(&dir.path().join("lake"), "okta");
        assert_eq!(ids(&lake), passing, "queue {queue}: the rest is delivered");
        for (id, data) in &lake {
            assert_eq!(data, &all[id], "an event the step keeps keeps its content");
        }
        assert_eq!(
            summary_total(&output, "transform_failed"),
            failing.len() as u64,
            "{output}"
        );
        assert!(
            output.contains("a transform step failed on events"),
            "{output}"
        );
        assert!(output.contains("reason-code"), "{output}");
        if !queue {
            assert!(output.contains("add a [dead_letter] queue"), "{output}");
            continue;
        }
        assert_eq!(
            summary_total(&output, "dead_lettered"),
            failing.len() as u64,
            "{output}"
        );
        let letters = envelopes(&dir.path().join("dead-letter"), "okta");
        let mut lettered = HashSet::new();
        for letter in letters {
            let id = letter["event_id"].as_str().unwrap().to_string();
            let data = &letter["data"];
            assert_eq!(data["sink"], "transform");
            assert_eq!(
                data["error"],
                "transform step `reason-code`: field `outcome.reason` holds a string that cannot be cast to int"
            );
            assert_eq!(
                data["event"], all[&id],
                "the letter keeps the record as it came"
            );
            assert!(lettered.insert(id), "each failing event once");
        }
        assert_eq!(lettered, failing);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_chain_changes_only_that_sinks_copy() {
    let sim_config = SimulatorConfig::okta(300);
    let sim = start_simulator(sim_config.clone()).await;
    let base_url = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let source = TestConfig::new(&base_url)
        .source_table()
        .replace("sinks = [\"lake\"]", "sinks = [\"lake\", \"siem\"]");
    let sinks = format!(
        "{LAKE}\n{}",
        r#"
[[sinks]]
name = "siem"
kind = "lake"
path = "siem"

[[sinks.transforms]]
kind = "redact"
fields = ["client.ipAddress"]

[[sinks.transforms]]
name = "successes"
kind = "filter"
action = "keep"
field = "outcome.result"
equals = "SUCCESS"
"#
    );
    let config = write_config(dir.path(), &source, &sinks);
    let (_, output) = run_until_caught_up(config.to_str().unwrap(), 10, &[]).await;

    // The lake keeps everything, as the API sent it.
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    let all = served(&sim_config);
    let successes: HashSet<String> = all
        .iter()
        .filter(|(_, e)| e["outcome"]["result"] == "SUCCESS")
        .map(|(id, _)| id.clone())
        .collect();
    assert!(successes.len() < all.len(), "some events failed");
    let siem = lake_data(&dir.path().join("siem"), "okta");
    assert_eq!(ids(&siem), successes, "the siem gets successes only");
    for (id, data) in &siem {
        let mut expected = all[id].clone();
        expected["client"]["ipAddress"] = "[REDACTED]".into();
        assert_eq!(data, &expected, "{id}");
    }
    assert!(output.contains("siem/successes dropped"), "{output}");
    assert_eq!(
        summary_total(&output, "transform_dropped"),
        (all.len() - successes.len()) as u64,
        "{output}"
    );
}

/// The `ocsf` step on a SIEM's chain: the SIEM gets every event in its OCSF 1.7.0 form (the
/// same as the mapping gives, with the vendor's id in `metadata.uid`), the lake keeps the
/// vendor's events exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ocsf_step_on_a_sink_gives_that_sink_ocsf_and_the_lake_the_vendor_events() {
    let sim_config = SimulatorConfig::okta(300);
    let sim = start_simulator(sim_config.clone()).await;
    let base_url = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let source = TestConfig::new(&base_url)
        .source_table()
        .replace("sinks = [\"lake\"]", "sinks = [\"lake\", \"siem\"]");
    let sinks = format!(
        "{LAKE}\n{}",
        r#"
[[sinks]]
name = "siem"
kind = "lake"
path = "siem"
transforms = [{ kind = "ocsf", mapping = "okta" }]
"#
    );
    let config = write_config(dir.path(), &source, &sinks);
    run_until_caught_up(config.to_str().unwrap(), 10, &[]).await;

    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    let all = served(&sim_config);
    let siem = lake_data(&dir.path().join("siem"), "okta");
    assert_eq!(ids(&siem), ids(&all), "the siem gets every event");
    let mapping = sluice::transform::ocsf::Mapping::for_preset("okta").unwrap();
    for (id, data) in &siem {
        let expected = mapping
            .map(&all[id], sluice::transform::ocsf::RawMode::Unmapped)
            .unwrap();
        assert_eq!(data, &expected, "{id}");
        assert_eq!(data["metadata"]["uid"], id.as_str());
        assert!(data["class_uid"].as_i64().is_some(), "{data}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_email_gives_one_token_in_two_sources() {
    let sim_config = SimulatorConfig::okta(200);
    let sim = start_simulator(sim_config.clone()).await;
    let base_url = sim.base_url();
    let key = "test-key-0123456789abcdef0123456789";
    let hash = r#"
[[sources.transforms]]
kind = "hash"
fields = ["actor.alternateId"]
key = "${env:SLUICE_TEST_HASH_KEY}"
prefix = "h:"
"#;
    let dir = tempfile::tempdir().unwrap();
    let mut sources = String::new();
    for name in ["okta-a", "okta-b"] {
        let mut table = TestConfig::new(&base_url);
        table.name = name;
        sources.push_str(&(table.source_table() + hash));
    }
    let config = write_config(dir.path(), &sources, LAKE);
    let envs = [("SLUICE_TEST_HASH_KEY", key)];
    run_until_caught_up(config.to_str().unwrap(), 10, &envs).await;

    let all = served(&sim_config);
    let a = lake_data(&dir.path().join("lake"), "okta-a");
    let b = lake_data(&dir.path().join("lake"), "okta-b");
    assert_eq!(ids(&a), ids(&all));
    assert_eq!(ids(&b), ids(&all));
    let mut tokens_of_emails: HashMap<String, String> = HashMap::new();
    for (id, event) in &all {
        let email = event["actor"]["alternateId"].as_str().unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(email.as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let token = format!("h:{hex}");
        assert_eq!(a[id]["actor"]["alternateId"], token, "{id} in okta-a");
        assert_eq!(b[id]["actor"]["alternateId"], token, "{id} in okta-b");
        let previous = tokens_of_emails.insert(email.to_string(), token.clone());
        assert!(previous.is_none_or(|t| t == token), "one email, one token");
    }
    assert!(
        tokens_of_emails.len() > 1 && tokens_of_emails.len() < all.len(),
        "emails repeat across events, so tokens join them"
    );
}

#[tokio::test]
async fn config_mistakes_in_a_chain_name_the_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let source = TestConfig::new("https://acme.okta.com").source_table();
    let cases = [
        (
            "[[sources.transforms]]\nkind = \"filter\"\naction = \"drop\"\nfield = \"a\"\nmatches = '^(admin'\n",
            "matches = ",
            "sources[0].transforms[0].matches: `^(admin` is not a valid regular expression",
        ),
        (
            "[[sources.transforms]]\nkind = \"rename\"\nfrom = \"a..b\"\nto = \"c\"\n",
            "from = ",
            "sources[0].transforms[0].from: path `a..b`: segment 2 is empty",
        ),
        (
            "[[sources.transforms]]\nkind = \"hash\"\nfields = [\"email\"]\n",
            "[[sources.transforms]]",
            "sources[0].transforms[0]: missing field `key`",
        ),
        (
            "[[sources.transforms]]\nkind = \"remove\"\nfields = [\"a\"]\n[[sources.transforms]]\nkind = \"renam\"\n",
            "kind = \"renam\"",
            "unknown variant `renam`",
        ),
    ];
    for (chain, line_of, expected) in cases {
        let config = write_config(dir.path(), &(source.clone() + chain), LAKE);
        let text = std::fs::read_to_string(&config).unwrap();
        let line = text.lines().position(|l| l.starts_with(line_of)).unwrap() + 1;
        let out = run_sluice(&["check", "--config", config.to_str().unwrap()]).await;
        let shown = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{shown}");
        assert!(
            shown.contains(&format!("sluice.toml:{line}:")),
            "line {line} of {chain}: {shown}"
        );
        assert!(shown.contains(expected), "{expected}: {shown}");
        assert!(shown.contains("hint: "), "{shown}");
    }
}
