use std::path::{Path, PathBuf};

use serde_json::json;

use super::*;

/// `../shared/testdata/mmdb` (MaxMind's test databases), or `None` with a message when the
/// folder is absent (it is not committed).
pub(crate) fn mmdb() -> Option<PathBuf> {
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

fn config(dir: &Path, fields: &[&str]) -> GeoipConfig {
    GeoipConfig {
        name: None,
        fields: fields.iter().map(|f| f.to_string()).collect(),
        to: Vec::new(),
        city: Some(dir.join("GeoIP2-City-Test.mmdb")),
        asn: Some(dir.join("GeoLite2-ASN-Test.mmdb")),
        anonymous_ip: Some(dir.join("GeoIP2-Anonymous-IP-Test.mmdb")),
        refresh: default_refresh(),
        enrichments: default_enrichments(),
    }
}

#[test]
fn an_ocsf_endpoint_gets_location_autonomous_system_and_anonymous_flags() {
    let Some(dir) = mmdb() else { return };
    let step = config(&dir, &["src_endpoint.ip", "dst_endpoint.ip"])
        .build()
        .unwrap();
    let mut event = json!({
        "src_endpoint": {"ip": "81.2.69.142"},
        "dst_endpoint": {"ip": "216.160.83.56", "location": {"desc": "kept"}},
    });
    assert_eq!(step.apply(&mut event), Verdict::Changed);
    let src = &event["src_endpoint"];
    assert_eq!(src["location"]["country"], "GB");
    assert_eq!(src["location"]["city"], "London");
    assert_eq!(src["location"]["continent"], "Europe");
    assert!(src["location"]["lat"].is_f64() && src["location"]["long"].is_f64());
    let dst = &event["dst_endpoint"];
    assert_eq!(dst["location"]["city"], "Milton");
    assert_eq!(dst["location"]["country"], "US");
    assert_eq!(dst["location"]["region"], "WA");
    assert_eq!(
        dst["location"]["desc"], "kept",
        "merged into what was there"
    );
    assert_eq!(dst["autonomous_system"], json!({"number": 209}));
    // 81.2.69.142 is flagged in the Anonymous IP test database (a Tor exit, among others).
    let enrichments = event["enrichments"].as_array().unwrap();
    assert_eq!(enrichments.len(), 1);
    assert_eq!(enrichments[0]["name"], "src_endpoint.ip");
    assert_eq!(enrichments[0]["value"], "81.2.69.142");
    assert_eq!(enrichments[0]["type"], "anonymous_ip");
    assert_eq!(enrichments[0]["data"]["is_tor_exit_node"], true);
}

#[test]
fn a_raw_field_writes_beside_itself_or_where_to_says() {
    let Some(dir) = mmdb() else { return };
    let mut config = config(&dir, &["client.ipAddress", "ip"]);
    config.anonymous_ip = None;
    let mut event = json!({"client": {"ipAddress": "2001:218::1"}, "ip": "89.160.20.112"});
    assert_eq!(config.build().unwrap().apply(&mut event), Verdict::Changed);
    assert_eq!(event["client"]["location"]["country"], "JP");
    assert_eq!(
        event["location"]["city"], "Linköping",
        "a top-level field: the event"
    );

    config.to = vec!["client.geo".into(), "geo".into()];
    let mut event = json!({"client": {"ipAddress": "81.2.69.142"}, "ip": "175.16.199.0"});
    assert_eq!(config.build().unwrap().apply(&mut event), Verdict::Changed);
    assert_eq!(event["client"]["geo"]["location"]["city"], "London");
    assert_eq!(event["geo"]["location"]["city"], "Changchun");
    assert!(event["client"].get("location").is_none());
}

#[test]
fn addresses_in_no_network_and_values_that_are_no_address_add_nothing() {
    let Some(dir) = mmdb() else { return };
    let step = config(&dir, &["a", "b", "c", "d"]).build().unwrap();
    let mut event = json!({"a": "10.0.0.1", "b": "not an address", "c": 42, "d": null});
    let before = event.clone();
    assert_eq!(step.apply(&mut event), Verdict::Keep);
    assert_eq!(event, before);
}

#[test]
fn a_blocked_destination_fails_the_event_naming_the_field() {
    let Some(dir) = mmdb() else { return };
    let mut config = config(&dir, &["ip"]);
    config.to = vec!["geo".into()];
    let mut event = json!({"ip": "81.2.69.142", "geo": "somewhere"});
    let Verdict::Fail(reason) = config.build().unwrap().apply(&mut event) else {
        panic!("expected a failure");
    };
    assert!(
        reason.contains("`geo`") && reason.contains("a string"),
        "{reason}"
    );
    assert!(
        !reason.contains("81.2.69.142"),
        "the value is never quoted: {reason}"
    );

    let config = self::config(&dir, &["ip"]);
    let mut event = json!({"ip": "81.2.69.142", "enrichments": {"not": "an array"}});
    let Verdict::Fail(reason) = config.build().unwrap().apply(&mut event) else {
        panic!("expected a failure");
    };
    assert!(reason.contains("`enrichments`"), "{reason}");
}

fn problem(config: GeoipConfig) -> Problem {
    match config.build() {
        Ok(_) => panic!("expected a problem"),
        Err(problem) => problem,
    }
}

#[test]
fn a_missing_or_corrupt_database_is_a_problem_naming_the_file_and_key() {
    let Some(dir) = mmdb() else { return };
    let mut missing = config(&dir, &["ip"]);
    missing.asn = Some(dir.join("GeoLite2-ASN-Gone.mmdb"));
    let p = problem(missing);
    assert_eq!(p.path, "asn");
    assert!(p.message.contains("GeoLite2-ASN-Gone.mmdb"), "{p:?}");
    assert!(p.message.contains("cannot be read"), "{p:?}");

    for corrupt in [
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
    ] {
        let mut config = config(&dir, &["ip"]);
        config.city = Some(dir.join(corrupt));
        let p = problem(config);
        assert_eq!(p.path, "city", "{corrupt}");
        assert!(p.message.contains(corrupt), "{p:?}");
        assert!(p.message.contains("MaxMind database"), "{p:?}");
    }

    // A file that is no database at all.
    let mut text = config(&dir, &["ip"]);
    text.anonymous_ip = Some(dir.join("README.md"));
    let p = problem(text);
    assert_eq!(p.path, "anonymous_ip");
    assert!(
        p.message.contains("README.md") && p.message.contains("not a MaxMind database"),
        "{p:?}"
    );
}

#[test]
fn a_database_of_another_kind_is_a_problem() {
    let Some(dir) = mmdb() else { return };
    let mut swapped = config(&dir, &["ip"]);
    swapped.city = Some(dir.join("GeoLite2-ASN-Test.mmdb"));
    let p = problem(swapped);
    assert_eq!(p.path, "city");
    assert!(p.message.contains("GeoLite2-ASN database"), "{p:?}");
}

#[test]
fn settings_that_cannot_work_are_problems() {
    let none = GeoipConfig {
        city: None,
        asn: None,
        anonymous_ip: None,
        ..config(Path::new("."), &["ip"])
    };
    assert_eq!(problem(none).path, "city");
    let Some(dir) = mmdb() else { return };
    let mut uneven = config(&dir, &["a", "b"]);
    uneven.to = vec!["x".into()];
    assert_eq!(problem(uneven).path, "to");
    assert_eq!(problem(config(&dir, &[])).path, "fields");
    assert_eq!(problem(config(&dir, &["a..b"])).path, "fields[0]");
}
