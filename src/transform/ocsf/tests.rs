//! The mapper's behaviour on small mapping files, and the validator's findings on a small
//! schema of the compiled schema's shape (the real schema is exercised by `tests/it/ocsf.rs`).

use std::sync::Arc;

use serde_json::{json, Value};

use super::*;

fn mapping(text: &str) -> Mapping {
    Mapping {
        preset: "acme",
        file: Arc::new(toml::from_str(text).expect("the test mapping parses")),
    }
}

const ACME: &str = r#"
product = { name = "Acme Audit", vendor_name = "Acme" }

uid = "id"
time = { field = "at", format = "rfc3339" }
severity = { field = "level", map = { info = 1, warn = 3 }, default = 1 }
status = { field = "result", map = { ok = 1, failed = 2 } }

[copy]
"actor.user.uid" = { from = "who.id", as = "string" }
"src_endpoint.ip" = { from = "from", as = "address_ip" }
"src_endpoint.port" = { from = "from", as = "address_port" }

[[events]]
when = { field = "kind", is = ["login", "logout"] }
class_uid = 3002
activity_id = { field = "kind", map = { login = 1, logout = 2 }, default = 99 }
copy = { "user.name" = "who.name", "is_mfa" = { from = "mfa", as = "boolean" } }
set = { "service.name" = "Acme" }

[[events]]
when = [{ field = "kind", prefix = ["user."] }, { field = "target", exists = true }]
class_uid = 3001
activity_id = { field = "kind", map = { "user.create" = 1 }, default = 99 }
copy = { "user.uid" = "target", "count" = { from = "n", as = "integer" }, "privileges" = { from = "role", as = "list" }, "start_time" = { from = "since", as = "time", format = "epoch_seconds" } }

[[events]]
when = { field = "kind", is = ["export"] }
class_uid = 6001
activity_id = 7
copy = { "web_resources.0.name" = { from = "what", map = { users = "user list" } } }

[[events]]
class_uid = 6003
activity_id = 99
"#;

fn login() -> Value {
    json!({
        "id": 42,
        "at": "2026-12-07T10:00:00.250Z",
        "kind": "login",
        "level": "warn",
        "result": "ok",
        "who": {"id": 7, "name": "ada", "dept": "eng"},
        "from": "198.51.100.7:51000",
        "mfa": "true",
        "extra": null,
    })
}

#[test]
fn a_login_becomes_an_authentication_with_the_common_attributes() {
    let ocsf = mapping(ACME).map(&login(), RawMode::Unmapped).unwrap();
    assert_eq!(ocsf["class_uid"], 3002);
    assert_eq!(ocsf["category_uid"], 3);
    assert_eq!(ocsf["activity_id"], 1);
    assert_eq!(ocsf["type_uid"], 300201);
    assert_eq!(ocsf["time"], 1_796_637_600_250_i64);
    assert_eq!(
        ocsf["metadata"],
        json!({"product": {"name": "Acme Audit", "vendor_name": "Acme"}, "version": "1.7.0", "uid": "42"})
    );
    assert_eq!(ocsf["severity_id"], 3);
    assert_eq!(ocsf["status_id"], 1);
    assert_eq!(ocsf["actor"]["user"]["uid"], "7");
    assert_eq!(ocsf["user"]["name"], "ada");
    assert_eq!(
        ocsf["src_endpoint"],
        json!({"ip": "198.51.100.7", "port": 51000})
    );
    assert_eq!(ocsf["is_mfa"], true);
    assert_eq!(ocsf["service"]["name"], "Acme");
    // Only what no copy read is left over; nulls are dropped.
    assert_eq!(ocsf["unmapped"], json!({"who": {"dept": "eng"}}));
    assert!(ocsf.get("raw_data").is_none());
}

#[test]
fn raw_mode_chooses_unmapped_raw_data_or_both() {
    let m = mapping(ACME);
    let raw = m.map(&login(), RawMode::RawData).unwrap();
    assert!(raw.get("unmapped").is_none());
    let text = raw["raw_data"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(text).unwrap(), login());
    let both = m.map(&login(), RawMode::Both).unwrap();
    assert!(both.get("unmapped").is_some() && both.get("raw_data").is_some());
}

#[test]
fn rules_match_in_order_on_values_prefixes_and_presence() {
    let m = mapping(ACME);
    let mut event = login();
    event["kind"] = json!("user.create");
    // `target` absent: the second rule does not hold, the catch-all does.
    assert_eq!(m.map(&event, RawMode::Unmapped).unwrap()["class_uid"], 6003);
    event["target"] = json!("u-1");
    event["n"] = json!("12");
    event["role"] = json!("admin");
    event["since"] = json!(1_796_637_600);
    let ocsf = m.map(&event, RawMode::Unmapped).unwrap();
    assert_eq!(ocsf["class_uid"], 3001);
    assert_eq!(ocsf["type_uid"], 300101);
    assert_eq!(ocsf["count"], 12);
    assert_eq!(ocsf["privileges"], json!(["admin"]));
    assert_eq!(ocsf["start_time"], 1_796_637_600_000_i64);
}

#[test]
fn a_word_the_tables_lack_is_other_with_the_word_kept() {
    let mut event = login();
    event["kind"] = json!("logout");
    event["result"] = json!("pending");
    event["level"] = json!("loud");
    let ocsf = mapping(ACME).map(&event, RawMode::Unmapped).unwrap();
    assert_eq!(ocsf["activity_id"], 2);
    assert_eq!(
        (ocsf["status_id"].clone(), ocsf["status"].clone()),
        (json!(99), json!("pending"))
    );
    assert_eq!(
        (ocsf["severity_id"].clone(), ocsf["severity"].clone()),
        (json!(99), json!("loud"))
    );

    let m = mapping(&ACME.replace("login = 1, logout = 2", "login = 1"));
    let ocsf = m.map(&event, RawMode::Unmapped).unwrap();
    assert_eq!(ocsf["activity_id"], 99);
    assert_eq!(ocsf["activity_name"], "logout");
    assert_eq!(ocsf["type_uid"], 300299);
}

#[test]
fn a_mapped_value_uses_the_table() {
    let event = json!({"at": "2026-12-07T10:00:00Z", "kind": "export", "what": "users"});
    let ocsf = mapping(ACME).map(&event, RawMode::Unmapped).unwrap();
    assert_eq!(ocsf["web_resources"], json!([{"name": "user list"}]));
}

fn problem(event: Value) -> MapError {
    mapping(ACME).map(&event, RawMode::Unmapped).unwrap_err()
}

#[test]
fn errors_name_the_field_and_say_what_to_do() {
    let mut event = login();
    event.as_object_mut().unwrap().remove("at");
    let err = problem(event);
    assert_eq!(
        (err.field.as_str(), &err.problem),
        ("at", &MapProblem::MissingTime)
    );
    assert!(
        err.to_string().contains("preset `acme`, field `at`"),
        "{err}"
    );
    assert!(err.to_string().contains("(hint: "), "{err}");

    let mut event = login();
    event["at"] = json!("yesterday");
    let err = problem(event);
    assert_eq!(err.field, "at");
    assert!(matches!(err.problem, MapProblem::BadTime { .. }), "{err}");

    let mut event = login();
    event["mfa"] = json!("maybe");
    let err = problem(event);
    assert_eq!(err.field, "mfa");
    assert!(
        matches!(err.problem, MapProblem::Convert { to: "boolean", .. }),
        "{err}"
    );

    let mut event = login();
    event["from"] = json!("not an address");
    assert_eq!(problem(event).field, "from");

    let event = json!({"at": "2026-12-07T10:00:00Z", "kind": "export", "what": "groups"});
    let err = problem(event);
    assert_eq!(err.field, "what");
    assert!(matches!(err.problem, MapProblem::NotInMap { .. }), "{err}");
    assert!(err.to_string().contains("presets/ocsf/acme.toml"), "{err}");

    assert_eq!(problem(json!([1, 2])).problem, MapProblem::NotAnObject);
    let strict = mapping(&ACME.replace("[[events]]\nclass_uid = 6003\nactivity_id = 99\n", ""));
    let err = strict.map(
        &json!({"at": "2026-12-07T10:00:00Z", "kind": "other"}),
        RawMode::Unmapped,
    );
    assert_eq!(err.unwrap_err().problem, MapProblem::NoRule);
}

#[test]
fn a_hostile_value_is_cut_short_in_the_error() {
    let mut event = login();
    event["at"] = json!("x".repeat(10_000));
    let err = problem(event).to_string();
    assert!(err.len() < 400, "{err}");
}

#[test]
fn every_built_in_mapping_parses() {
    assert_eq!(Mapping::broken(), Vec::<(&str, String)>::new());
    // Every preset has one: tests/it/ocsf.rs checks the list against the preset catalog.
    assert!(!Mapping::presets().is_empty());
    for name in Mapping::presets() {
        assert_eq!(Mapping::for_preset(name).map(|m| m.preset()), Some(name));
    }
    assert!(Mapping::for_preset("nope").is_none());
}

// ---- the validator ----

fn schema() -> Schema {
    serde_json::from_value(json!({
        "version": "1.7.0",
        "categories": {"iam": {"uid": 3}},
        "types": {
            "string_t": {}, "integer_t": {}, "long_t": {}, "float_t": {}, "boolean_t": {},
            "timestamp_t": {"type": "long_t"},
            "ip_t": {"type": "string_t"},
            "port_t": {"type": "integer_t", "range": [0, 65535]},
        },
        "profiles": {"cloud": {"attributes": {
            "cloud": {"requirement": "required"},
            "api": {"requirement": "optional"},
        }}},
        "objects": {
            "metadata": {"attributes": {
                "version": {"type": "string_t", "requirement": "required"},
                "profiles": {"type": "string_t", "is_array": true},
            }},
            "user": {"attributes": {"uid": {"type": "string_t"}, "name": {"type": "string_t"}}},
            "endpoint": {"attributes": {"ip": {"type": "ip_t"}, "port": {"type": "port_t"}}},
        },
        "classes": {"authentication": {"uid": 3002, "category": "iam", "attributes": {
            "class_uid": {"type": "integer_t", "requirement": "required", "enum": {"3002": {}}},
            "category_uid": {"type": "integer_t", "requirement": "required", "enum": {"3": {}}},
            "activity_id": {"type": "integer_t", "requirement": "required", "enum": {"1": {}, "2": {}, "99": {}}},
            "type_uid": {"type": "long_t", "requirement": "required"},
            "time": {"type": "timestamp_t", "requirement": "required"},
            "metadata": {"type": "metadata", "requirement": "required"},
            "user": {"type": "user", "requirement": "required"},
            "src_endpoint": {"type": "endpoint"},
            "privileges": {"type": "string_t", "is_array": true},
            "is_mfa": {"type": "boolean_t"},
            "cloud": {"type": "object", "requirement": "required", "profile": "cloud"},
            "api": {"type": "object", "requirement": "required", "profile": "cloud"},
            "unmapped": {"type": "object"},
        }}},
    }))
    .expect("the test schema parses")
}

fn valid() -> Value {
    json!({
        "class_uid": 3002, "category_uid": 3, "activity_id": 1, "type_uid": 300201,
        "time": 1_796_637_600_000_i64,
        "metadata": {"version": "1.7.0"},
        "user": {"uid": "u1"},
        "src_endpoint": {"ip": "2001:db8::1", "port": 443},
        "privileges": ["admin"],
        "unmapped": {"anything": [1, "two"]},
        "api": {"operation": "login"},
    })
}

fn findings(event: &Value) -> Vec<String> {
    schema()
        .validate(event)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_valid_event_has_no_findings() {
    assert_eq!(findings(&valid()), Vec::<String>::new());
}

#[test]
fn the_validator_finds_a_wrong_type_with_its_path() {
    let mut event = valid();
    event["user"]["uid"] = json!(7);
    event["time"] = json!("10:00");
    event["is_mfa"] = json!("yes");
    assert_eq!(
        findings(&event),
        [
            "is_mfa: expected boolean_t, found a string",
            "time: expected timestamp_t, found a string",
            "user.uid: expected string_t, found an integer",
        ]
    );
}

#[test]
fn the_validator_finds_arrays_and_objects_of_the_wrong_shape() {
    let mut event = valid();
    event["privileges"] = json!("admin");
    event["user"] = json!("ada");
    event["src_endpoint"]["port"] = json!(70_000);
    event["src_endpoint"]["ip"] = json!("not-an-ip");
    let mut got = findings(&event);
    got.sort();
    assert_eq!(
        got,
        [
            "privileges: expected an array of string_t, found a string",
            "src_endpoint.ip: \"not-an-ip\" is not an IP address",
            "src_endpoint.port: 70000 is outside port_t's range 0..=65535",
            "user: expected a `user` object, found a string",
        ]
    );
    let mut event = valid();
    event["privileges"] = json!(["admin", 3]);
    assert_eq!(
        findings(&event),
        ["privileges[1]: expected string_t, found an integer"]
    );
}

#[test]
fn the_validator_finds_an_unknown_attribute() {
    let mut event = valid();
    event["colour"] = json!("red");
    event["user"]["shoe_size"] = json!(44);
    let mut got = findings(&event);
    got.sort();
    assert_eq!(
        got,
        [
            "colour: attribute not defined here by the schema",
            "user.shoe_size: attribute not defined here by the schema",
        ]
    );
}

#[test]
fn the_validator_finds_a_missing_required_attribute() {
    let mut event = valid();
    event.as_object_mut().unwrap().remove("user");
    event["metadata"] = json!({});
    let mut got = findings(&event);
    got.sort();
    assert_eq!(
        got,
        [
            "metadata.version: required attribute missing",
            "user: required attribute missing",
        ]
    );
}

#[test]
fn the_validator_finds_a_value_outside_the_enum() {
    let mut event = valid();
    event["activity_id"] = json!(7);
    event["type_uid"] = json!(300207);
    let got = findings(&event);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("activity_id: 7 is not among the allowed values"),
        "{got:?}"
    );
}

#[test]
fn the_validator_finds_a_wrong_type_uid_class_or_category() {
    let mut event = valid();
    event["type_uid"] = json!(300299);
    assert_eq!(
        findings(&event),
        ["type_uid: 300299, but class_uid * 100 + activity_id is 300201"]
    );
    let mut event = valid();
    event["category_uid"] = json!(6);
    let got = findings(&event);
    assert!(
        got.contains(&"category_uid: 6, but class 3002 belongs to category 3".to_string()),
        "{got:?}"
    );
    let mut event = valid();
    event["class_uid"] = json!(9999);
    assert_eq!(
        findings(&event),
        ["class_uid: 9999 is no class of OCSF 1.7.0"]
    );
    assert_eq!(findings(&json!("x")), ["the event is not a JSON object"]);
}

#[test]
fn a_profile_attribute_is_required_only_when_the_profile_is_named_or_the_class_defines_it() {
    let mut event = valid();
    // `cloud` comes from the profile alone (the profile requires it as the class does).
    event["cloud"] = json!({"provider": "x"});
    assert_eq!(findings(&event), Vec::<String>::new());
    event.as_object_mut().unwrap().remove("cloud");
    assert_eq!(findings(&event), Vec::<String>::new());
    event["metadata"]["profiles"] = json!(["cloud"]);
    assert_eq!(findings(&event), ["cloud: required attribute missing"]);
    // `api`: the class requires it, the profile only offers it, so the class defines it.
    let mut event = valid();
    event.as_object_mut().unwrap().remove("api");
    assert_eq!(findings(&event), ["api: required attribute missing"]);
}
