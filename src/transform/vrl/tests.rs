use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::*;
use crate::transform::step::Verdict;

fn inline(source: &str) -> VrlConfig {
    VrlConfig {
        name: None,
        source: Some(source.to_string()),
        file: None,
        geoip: None,
        intel: None,
    }
}

fn step(source: &str) -> Vrl {
    Vrl::build(&inline(source)).unwrap_or_else(|p| panic!("{source}: {p:?}"))
}

fn apply(source: &str, event: Value) -> (Verdict, Value) {
    let mut event = event;
    let verdict = step(source).apply(&mut event);
    (verdict, event)
}

#[test]
fn a_program_that_changes_nothing_keeps_the_event() {
    let event = json!({"level": "info", "n": 1.5, "big": 18446744073709551615u64});
    let (verdict, after) = apply("if .level == \"debug\" { abort }\nx = .n\nx", event.clone());
    assert_eq!(verdict, Verdict::Keep);
    // A number VRL has no integer for is kept as it came when the program leaves it alone.
    assert_eq!(after, event);
}

#[test]
fn the_program_result_replaces_the_event() {
    let (verdict, after) = apply(
        ".user = downcase(string!(.user))\n.tags = push(array!(.tags), \"seen\")\ndel(.debug)\n.count = to_int!(.count) + 1",
        json!({"user": "ADA", "tags": ["a"], "debug": {"x": 1}, "count": "41"}),
    );
    assert_eq!(verdict, Verdict::Changed);
    assert_eq!(
        after,
        json!({"user": "ada", "tags": ["a", "seen"], "count": 42})
    );
}

#[test]
fn abort_and_an_emptied_event_drop_it() {
    let event = json!({"level": "debug"});
    assert_eq!(
        apply("if .level == \"debug\" { abort }", event.clone()).0,
        Verdict::Drop
    );
    assert_eq!(apply("del(.)", event.clone()).0, Verdict::Drop);
    assert_eq!(apply(". = {}", event.clone()).0, Verdict::Drop);
    // An event that came empty and is left so is kept, not dropped.
    assert_eq!(apply("del(.)", json!({})).0, Verdict::Keep);
}

#[test]
fn a_runtime_error_fails_the_event_with_vrls_message_and_where() {
    let (verdict, _) = apply(
        ".ok = true\n.payload = parse_json!(.payload)",
        json!({"payload": "{not json"}),
    );
    let Verdict::Fail(reason) = verdict else {
        panic!("{verdict:?}")
    };
    assert!(reason.contains("line 2, column 12 of `source`"), "{reason}");
    assert!(reason.contains("unable to parse json"), "{reason}");
    // The same program keeps an event it can read.
    let (verdict, after) = apply(
        ".ok = true\n.payload = parse_json!(.payload)",
        json!({"payload": "{\"a\":1}"}),
    );
    assert_eq!(verdict, Verdict::Changed);
    assert_eq!(after, json!({"ok": true, "payload": {"a": 1}}));
}

#[test]
fn an_event_set_to_something_else_than_an_object_fails() {
    for (program, kind) in [(". = [1, 2]", "an array"), (". = \"text\"", "a string")] {
        match Vrl::build(&inline(program)) {
            // VRL may refuse it at compile time already; then nothing runs.
            Err(problem) => assert_eq!(problem.path, "source", "{program}"),
            Ok(step) => {
                let mut event = json!({"a": 1});
                let verdict = step.apply(&mut event);
                assert!(
                    matches!(&verdict, Verdict::Fail(r) if r.contains(kind) && r.contains("not an object")),
                    "{program}: {verdict:?}"
                );
            }
        }
    }
}

#[test]
fn values_json_has_no_form_for_are_written_as_text_or_fail() {
    let (verdict, after) = apply(
        ".t = parse_timestamp!(\"2021-02-03 10:00\", \"%Y-%m-%d %H:%M\")\n.r = r'^a+$'",
        json!({}),
    );
    assert_eq!(verdict, Verdict::Changed);
    // Parsed in UTC whatever the host's zone.
    assert_eq!(after["t"], "2021-02-03T10:00:00Z");
    assert_eq!(after["r"], "^a+$");

    let (verdict, _) = apply(".x.y = decode_base64!(\"/w==\")", json!({"a": 1}));
    assert!(
        matches!(&verdict, Verdict::Fail(r) if r.contains("not UTF-8") && r.contains("`.x.y`")),
        "{verdict:?}"
    );
}

#[test]
fn a_compile_error_names_the_line_and_column_of_the_program() {
    let problem = Vrl::build(&inline("x = 1\n.a = parse_json(.b)\n")).unwrap_err();
    assert_eq!(problem.path, "source");
    assert!(problem.message.contains("does not compile"), "{problem:?}");
    assert!(problem.message.contains("E103"), "{problem:?}");
    assert_eq!(
        position_in_source(&problem.message),
        Some((2, 6)),
        "{problem:?}"
    );
    assert!(problem.hint.contains("sluice vrl test"), "{problem:?}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("enrich.vrl");
    std::fs::write(&file, "# enrich\n.a = 1\n.b = nope(.a)\n").unwrap();
    let config = VrlConfig {
        source: None,
        file: Some(file.clone()),
        ..inline("")
    };
    let problem = Vrl::build(&config).unwrap_err();
    assert_eq!(problem.path, "file");
    assert!(
        problem.message.contains(&format!("{}:3:6", file.display())),
        "{problem:?}"
    );
    assert!(
        problem.message.contains("undefined function"),
        "{problem:?}"
    );
}

#[test]
fn a_step_takes_one_program_from_source_or_file() {
    let neither = VrlConfig {
        source: None,
        ..inline("")
    };
    assert_eq!(Vrl::build(&neither).unwrap_err().path, "source");
    let both = VrlConfig {
        file: Some(PathBuf::from("x.vrl")),
        ..inline(".a = 1")
    };
    assert_eq!(Vrl::build(&both).unwrap_err().path, "file");
    let missing = VrlConfig {
        source: None,
        file: Some(PathBuf::from("/nonexistent/x.vrl")),
        ..inline("")
    };
    let problem = Vrl::build(&missing).unwrap_err();
    assert_eq!(problem.path, "file");
    assert!(
        problem.message.contains("/nonexistent/x.vrl"),
        "{problem:?}"
    );
}

#[test]
fn functions_that_reach_outside_the_process_are_not_there() {
    for call in [
        "get_env_var!(\"HOME\")",
        "get_hostname!()",
        "dns_lookup!(\"example.com\")",
    ] {
        let problem = Vrl::build(&inline(&format!(".x = {call}"))).unwrap_err();
        assert!(
            problem.message.contains("undefined function"),
            "{call}: {problem:?}"
        );
    }
}

fn mmdb() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/mmdb");
    if dir.join("GeoIP2-City-Test.mmdb").exists() {
        Some(dir)
    } else {
        crate::errln!(
            "skipping: the MaxMind test databases {} are absent",
            dir.display()
        );
        None
    }
}

fn with_geoip(source: &str, dir: &Path) -> VrlConfig {
    VrlConfig {
        geoip: Some(GeoipTable {
            city: Some(dir.join("GeoIP2-City-Test.mmdb")),
            asn: Some(dir.join("GeoLite2-ASN-Test.mmdb")),
            anonymous_ip: None,
            refresh: default_refresh(),
        }),
        ..inline(source)
    }
}

#[test]
fn geoip_looks_addresses_up_in_the_steps_databases() {
    let Some(dir) = mmdb() else { return };
    let program = ".src.location = geoip(.src.ip, database: \"city\")\n.all = geoip(.src.ip)\n.none = geoip(.other)\n.text = geoip(\"not an address\")";
    let step = Vrl::build(&with_geoip(program, &dir)).unwrap();
    let mut event = json!({"src": {"ip": "81.2.69.142"}, "other": "10.0.0.1"});
    assert_eq!(step.apply(&mut event), Verdict::Changed);
    assert_eq!(event["src"]["location"]["country"], "GB");
    assert_eq!(event["src"]["location"]["city"], "London");
    assert_eq!(event["all"]["location"]["city"], "London");
    assert!(event["all"].get("autonomous_system").is_none(), "{event}");
    assert_eq!(event["none"], Value::Null);
    assert_eq!(event["text"], Value::Null);

    let mut asn = json!({"ip": "1.128.0.0"});
    let step = Vrl::build(&with_geoip(".as = geoip(.ip, database: \"asn\")", &dir)).unwrap();
    assert_eq!(step.apply(&mut asn), Verdict::Changed);
    assert_eq!(asn["as"]["number"], 1221);

    // A database the table does not name, and a step without the table, do not compile.
    let problem = Vrl::build(&with_geoip(
        ".x = geoip(.ip, database: \"anonymous_ip\")",
        &dir,
    ))
    .unwrap_err();
    assert!(
        problem.message.contains("no `anonymous_ip` database"),
        "{problem:?}"
    );
    let problem = Vrl::build(&inline(".x = geoip(.ip)")).unwrap_err();
    assert!(problem.message.contains("no GeoIP database"), "{problem:?}");
    assert!(problem.message.contains("line 1, column 6"), "{problem:?}");
}

#[test]
fn intel_match_gives_each_feeds_match_or_null() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("bad-ips.txt");
    std::fs::write(&feed, "198.51.100.0/24\nevil.example\n").unwrap();
    let config = VrlConfig {
        intel: Some(IntelTable {
            feeds: vec![FeedConfig {
                name: None,
                path: feed,
                format: None,
                confidence: Some(70),
            }],
            refresh: default_refresh(),
        }),
        ..inline(".hit = intel_match(.ip)\n.domain = intel_match(.host)\n.miss = intel_match(.other)\n.num = intel_match(.n)")
    };
    let step = Vrl::build(&config).unwrap();
    let mut event =
        json!({"ip": "198.51.100.7", "host": "a.evil.example", "other": "192.0.2.1", "n": 5});
    assert_eq!(step.apply(&mut event), Verdict::Changed);
    assert_eq!(
        event["hit"],
        json!([{"feed": "bad-ips", "indicator": "198.51.100.0/24", "indicator_type": "cidr", "confidence": 70}])
    );
    assert_eq!(event["domain"][0]["indicator"], "evil.example");
    assert_eq!(event["miss"], Value::Null);
    assert_eq!(event["num"], Value::Null);

    let problem = Vrl::build(&inline(".x = intel_match(.ip)")).unwrap_err();
    assert!(problem.message.contains("no intel feed"), "{problem:?}");
}

/// After an `ocsf` step with `into = "member"`, a `vrl` step works on the OCSF member, as
/// every later step does, and `data` keeps the vendor record.
#[test]
fn after_a_member_ocsf_step_the_program_sees_the_ocsf_event() {
    use crate::transform::{Applied, Chain, Envelope, OcsfForm, StepConfig};
    #[derive(serde::Deserialize)]
    struct Table {
        transforms: Vec<StepConfig>,
    }
    let text = "[[transforms]]\nkind = \"ocsf\"\nmapping = \"okta\"\ninto = \"member\"\n\n[[transforms]]\nkind = \"vrl\"\nsource = '.metadata.tenant_uid = \"t1\"'\n";
    let table: Table = toml::from_str(text).unwrap();
    let chain = Chain::build(&table.transforms, None).unwrap();
    let sim = crate::simulator::SimulatorConfig::okta(10);
    let raw = serde_json::to_string(&crate::simulator::event(&sim, 3)).unwrap();
    let record = crate::source::Record {
        time: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        id: "e1".into(),
        data: crate::source::RawJson::parse(&raw).unwrap(),
    };
    let epoch = chrono::DateTime::from_timestamp(0, 0).unwrap();
    let mut envelope = Envelope::wrap(record, &std::sync::Arc::from("okta"), epoch);
    let before = envelope.data.clone();
    assert_eq!(chain.apply_envelope(&mut envelope), Applied::Kept);
    assert_eq!(envelope.data, before, "the vendor record keeps its bytes");
    let OcsfForm::Member(ocsf) = &envelope.ocsf else {
        panic!("no member: {:?}", envelope.ocsf)
    };
    let ocsf = ocsf.to_value().unwrap();
    assert_eq!(ocsf["metadata"]["tenant_uid"], "t1");
    assert_eq!(ocsf["metadata"]["version"], "1.7.0");
}

/// Hostile events (deep, wide, odd keys, extreme numbers, any text) never make a program
/// panic: each is kept, changed, dropped or failed.
#[test]
fn hostile_events_never_panic() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let programs = [
        ".a = downcase(string(.a) ?? \"\")\n.n = to_int(.n) ?? 0\n.m = merge(object(.o) ?? {}, {\"x\": 1})",
        "for_each(.) -> |k, _v| { .seen = push(array(.seen) ?? [], k) }",
        ". = map_values(.) -> |v| { to_string(v) ?? \"?\" }",
        ". = flatten(.)",
        ".j = parse_json(string(.s) ?? \"\") ?? null\n.e = encode_json(.)\n.k = keys(.)",
        "if length(.) > 3 { abort }\n.u = upcase(string(.s) ?? \"\")",
        ".x = parse_json!(string!(.s))",
    ];
    let steps: Vec<Vrl> = programs.iter().map(|p| step(p)).collect();

    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let event = prop::collection::btree_map(".{0,12}", value, 0..10)
        .prop_map(|m| Value::Object(m.into_iter().collect()));
    let mut runner = TestRunner::new(Config {
        cases: 200,
        ..Config::default()
    });
    runner
        .run(&event, |event| {
            for step in &steps {
                let mut copy = event.clone();
                let verdict = step.apply(&mut copy);
                if verdict == Verdict::Changed {
                    prop_assert!(copy.is_object());
                }
            }
            Ok(())
        })
        .unwrap();

    // Nesting at the depth a record can have, and one key that is everything at once.
    let mut deep = json!(1);
    for _ in 0..126 {
        deep = json!({"a": [deep]});
    }
    let odd = json!({"": {"\u{0}": "\u{feff}", "a.b": "\"", "é": -0.0, "x": 1e308}, "deep": deep});
    for step in &steps {
        let mut copy = odd.clone();
        let _ = step.apply(&mut copy);
    }
}
