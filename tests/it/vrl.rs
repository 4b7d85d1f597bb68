//! `kind = "vrl"` steps (issue 14 §3) through the real binary: a program from a file,
//! against the simulator, changes, drops and dead-letters exactly the events it should;
//! `sluice vrl test` prints what a program gives; compile errors are located at the
//! program's line, in the config file for an inline program.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sluice::simulator::{self, SimulatorConfig};

use common::lake::envelopes;
use common::{
    output_text, run_sluice, run_until_caught_up, start_simulator, summary_total, TestConfig,
};

const LAKE: &str = "[[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"lake\"\n";

fn write_config(dir: &Path, sources: &str, rest: &str) -> PathBuf {
    let text = format!("[state]\nkind = \"sqlite\"\npath = \"state.db\"\n{sources}\n{rest}\n");
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path
}

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

const PROGRAM: &str = r#"# Drop sign-ins, move the client's address, read the reason code.
if .eventType == "user.session.start" { abort }
.src_ip = del(.client.ipAddress)
if is_string(.outcome.reason) { .reason_code = to_int!(.outcome.reason) }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_changes_drops_and_dead_letters_exactly_the_events_it_should() {
    let sim_config = SimulatorConfig::okta(400);
    let sim = start_simulator(sim_config.clone()).await;
    let base_url = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("programs")).unwrap();
    std::fs::write(dir.path().join("programs/enrich.vrl"), PROGRAM).unwrap();
    let chain = "\n[[sources.transforms]]\nname = \"enrich\"\nkind = \"vrl\"\nfile = \"programs/enrich.vrl\"\n";
    let source = TestConfig::new(&base_url).source_table() + chain;
    let config = write_config(
        dir.path(),
        &source,
        &format!("{LAKE}\n[dead_letter]\npath = \"dead-letter\"\n"),
    );
    // Run from elsewhere: the program's path is the config file's.
    let (_, output) = run_until_caught_up(config.to_str().unwrap(), 10, &[]).await;

    let all = served(&sim_config);
    let dropped: HashSet<&String> = all
        .iter()
        .filter(|(_, e)| e["eventType"] == "user.session.start")
        .map(|(id, _)| id)
        .collect();
    let failing: HashSet<&String> = all
        .iter()
        .filter(|(id, e)| !dropped.contains(id) && e["outcome"]["reason"].is_string())
        .map(|(id, _)| id)
        .collect();
    assert!(
        !dropped.is_empty() && !failing.is_empty() && dropped.len() + failing.len() < all.len(),
        "the program must split the events: {} dropped, {} failing of {}",
        dropped.len(),
        failing.len(),
        all.len()
    );

    let mut lake = HashMap::new();
    for envelope in envelopes(&dir.path().join("lake"), "okta") {
        let id = envelope["event_id"].as_str().unwrap().to_string();
        assert!(
            lake.insert(id.clone(), envelope["data"].clone()).is_none(),
            "{id} twice"
        );
    }
    let kept: HashSet<&String> = all
        .keys()
        .filter(|id| !dropped.contains(id) && !failing.contains(id))
        .collect();
    assert_eq!(
        lake.keys().collect::<HashSet<_>>(),
        kept,
        "exactly the kept events are delivered"
    );
    for (id, data) in &lake {
        let mut expected = all[id].clone();
        let ip = expected["client"]
            .as_object_mut()
            .unwrap()
            .remove("ipAddress")
            .unwrap();
        expected["src_ip"] = ip;
        assert_eq!(
            data, &expected,
            "{id}: the program's result replaces the event"
        );
    }
    assert_eq!(
        summary_total(&output, "transform_dropped"),
        dropped.len() as u64,
        "{output}"
    );
    assert_eq!(
        summary_total(&output, "transform_failed"),
        failing.len() as u64,
        "{output}"
    );
    assert!(output.contains("enrich dropped"), "{output}");

    let mut lettered = HashSet::new();
    for letter in envelopes(&dir.path().join("dead-letter"), "okta") {
        let id = letter["event_id"].as_str().unwrap().to_string();
        let error = letter["data"]["error"].as_str().unwrap();
        assert!(
            error.starts_with("transform step `enrich`: the VRL program failed at "),
            "{error}"
        );
        assert!(error.contains("programs/enrich.vrl:4:"), "{error}");
        assert!(error.contains("to_int"), "{error}");
        assert_eq!(
            letter["data"]["event"], all[&id],
            "the letter keeps the record as it came"
        );
        assert!(lettered.insert(id), "each failing event once");
    }
    assert_eq!(lettered.iter().collect::<HashSet<_>>(), failing);
}

#[tokio::test]
async fn vrl_test_prints_the_event_a_program_gives() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("p.vrl");
    let event = dir.path().join("e.json");
    let run = |program: &Path, event: &Path| {
        let (program, event) = (program.to_path_buf(), event.to_path_buf());
        async move {
            run_sluice(&[
                "vrl",
                "test",
                "--program",
                program.to_str().unwrap(),
                "--event",
                event.to_str().unwrap(),
            ])
            .await
        }
    };
    std::fs::write(&event, r#"{"user": "ADA", "level": "info"}"#).unwrap();

    std::fs::write(&program, ".user = downcase!(.user)\n.seen = true\n").unwrap();
    let out = run(&program, &event).await;
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed,
        json!({"user": "ada", "level": "info", "seen": true})
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\n  \""),
        "pretty JSON"
    );

    std::fs::write(&program, "if .level == \"info\" { abort }\n").unwrap();
    let out = run(&program, &event).await;
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "dropped");

    std::fs::write(&program, ".a = 1\n.n = to_int!(.user)\n").unwrap();
    let out = run(&program, &event).await;
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains(&format!("{}:2:6", program.display())),
        "{shown}"
    );

    std::fs::write(&program, ".a = 1\n.n = to_int(.user\n").unwrap();
    let out = run(&program, &event).await;
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains(&format!("{}:3:", program.display())),
        "{shown}"
    );
    assert!(shown.contains("does not compile"), "{shown}");

    std::fs::write(&event, "[1]").unwrap();
    let out = run(&program, &event).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(output_text(&out).contains("not a JSON object"));
}

/// With `--config`, the program gets the `geoip` and `intel` tables of the step that runs it.
#[tokio::test]
async fn vrl_test_takes_the_lookups_of_the_step_that_runs_the_program() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.txt"), "198.51.100.7\n").unwrap();
    std::fs::write(dir.path().join("p.vrl"), ".intel = intel_match(.ip)\n").unwrap();
    std::fs::write(dir.path().join("e.json"), r#"{"ip": "198.51.100.7"}"#).unwrap();
    let source = TestConfig::new("https://acme.okta.com").source_table()
        + "\n[[sources.transforms]]\nkind = \"vrl\"\nfile = \"p.vrl\"\nintel = { feeds = [{ path = \"bad.txt\" }] }\n";
    let config = write_config(dir.path(), &source, LAKE);
    let program = dir.path().join("p.vrl");
    let event = dir.path().join("e.json");
    let args = |with_config: bool| {
        let mut args = vec![
            "vrl".to_string(),
            "test".into(),
            "--program".into(),
            program.to_str().unwrap().into(),
            "--event".into(),
            event.to_str().unwrap().into(),
        ];
        if with_config {
            args.extend(["--config".into(), config.to_str().unwrap().into()]);
        }
        args
    };
    let with: Vec<String> = args(true);
    let out = run_sluice(&with.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["intel"][0]["feed"], "bad");

    let without: Vec<String> = args(false);
    let out = run_sluice(&without.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("no intel feed"), "{shown}");
}

#[tokio::test]
async fn a_compile_error_is_a_config_error_at_the_programs_line() {
    let dir = tempfile::tempdir().unwrap();
    let source = TestConfig::new("https://acme.okta.com").source_table();
    // Inline: the error's own line of the config file.
    let inline = "\n[[sources.transforms]]\nname = \"shape\"\nkind = \"vrl\"\nsource = '''\n.a = 1\n.b = parse_json(.c)\n'''\n";
    let config = write_config(dir.path(), &(source.clone() + inline), LAKE);
    let text = std::fs::read_to_string(&config).unwrap();
    let line = text.lines().position(|l| l.starts_with(".b = ")).unwrap() + 1;
    let out = run_sluice(&["check", "--config", config.to_str().unwrap()]).await;
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains(&format!("sluice.toml:{line}:6: sources[0].transforms[0].source: the program does not compile at line 2, column 6 of `source`")), "{shown}");
    assert!(shown.contains("E103"), "{shown}");
    assert!(shown.contains("hint: "), "{shown}");

    // A file: the file's line and column, the step's `file` key in the config.
    std::fs::write(dir.path().join("p.vrl"), "\n\n  .x = nope()\n").unwrap();
    let from_file = "\n[[sources.transforms]]\nkind = \"vrl\"\nfile = \"p.vrl\"\n";
    let config = write_config(dir.path(), &(source + from_file), LAKE);
    let out = run_sluice(&["check", "--config", config.to_str().unwrap()]).await;
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("sources[0].transforms[0].file"), "{shown}");
    assert!(
        shown.contains(&format!("{}:3:", dir.path().join("p.vrl").display())),
        "{shown}"
    );
    assert!(shown.contains("undefined function"), "{shown}");
}
