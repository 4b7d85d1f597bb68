//! OCSF 1.7.0 for every preset: each preset ships a mapping, and every event its simulator
//! profile produces maps to an event the compiled OCSF schema accepts (class and category,
//! required attributes, types, enums, no attribute the class does not define).
//!
//! The schema is `../shared/ocsf/ocsf-1.7.0-schema.json` (relative to the project root, not
//! committed); without it the validation test says so and skips.

use std::path::Path;

use sluice::simulator::{event, SimulatorConfig};
use sluice::transform::ocsf::{Mapping, RawMode, Schema};

/// Events mapped per preset: past the first few hundred every profile repeats its mix.
const EVENTS: u64 = 500;

/// A simulator profile's constructor, given the number of events.
type Profile = fn(u64) -> SimulatorConfig;

/// Every preset and the simulator profile that serves its API. A preset missing here fails
/// `every_preset_has_a_mapping_and_a_profile`.
const PROFILES: &[(&str, Profile)] = &[
    ("asana", SimulatorConfig::asana),
    ("atlassian", SimulatorConfig::atlassian),
    ("auth0", SimulatorConfig::auth0),
    ("box", SimulatorConfig::r#box),
    ("cloudflare", SimulatorConfig::cloudflare),
    ("dropbox", SimulatorConfig::dropbox),
    ("duo", SimulatorConfig::duo),
    ("entra", SimulatorConfig::entra),
    ("github", SimulatorConfig::github),
    ("github_enterprise", SimulatorConfig::github),
    ("google_workspace", SimulatorConfig::google_workspace),
    ("jira", SimulatorConfig::jira),
    ("kandji", SimulatorConfig::kandji),
    ("okta", SimulatorConfig::okta),
    ("onepassword", SimulatorConfig::onepassword),
    ("pagerduty", SimulatorConfig::pagerduty),
    ("salesforce", SimulatorConfig::salesforce),
    (
        "salesforce_event_log",
        SimulatorConfig::salesforce_event_log,
    ),
    ("lastpass", SimulatorConfig::lastpass),
    ("sentinelone", SimulatorConfig::sentinelone),
    ("launchdarkly", SimulatorConfig::launchdarkly),
    ("slack", SimulatorConfig::slack),
    ("snyk", SimulatorConfig::snyk),
    ("snyk_group", SimulatorConfig::snyk),
    ("stripe", SimulatorConfig::stripe),
    ("tailscale", SimulatorConfig::tailscale),
    ("tfc", SimulatorConfig::tfc),
    ("tines", SimulatorConfig::tines),
    ("vicarius", SimulatorConfig::vicarius),
    ("workday", SimulatorConfig::workday),
    ("zendesk", SimulatorConfig::zendesk),
    ("zoom", SimulatorConfig::zoom),
];

fn schema() -> Option<Schema> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/ocsf/ocsf-1.7.0-schema.json");
    if !path.exists() {
        eprintln!(
            "skipping: the compiled OCSF schema {} is absent",
            path.display()
        );
        return None;
    }
    Some(Schema::load(&path).expect("the compiled OCSF schema loads"))
}

#[test]
fn every_preset_has_a_mapping_and_a_profile() {
    assert_eq!(
        Mapping::broken(),
        Vec::new(),
        "mapping files that do not parse"
    );
    for name in sluice::preset::names() {
        assert!(
            Mapping::for_preset(name).is_some(),
            "preset `{name}` has no OCSF mapping (add presets/ocsf/{name}.toml)"
        );
        assert!(
            PROFILES.iter().any(|(p, _)| *p == name),
            "preset `{name}` has no simulator profile in tests/it/ocsf.rs"
        );
    }
}

#[test]
fn every_simulated_event_of_every_preset_is_valid_ocsf() {
    let Some(schema) = schema() else { return };
    assert_eq!(schema.version, "1.7.0");
    let mut failures = Vec::new();
    for (preset, profile) in PROFILES {
        let Some(mapping) = Mapping::for_preset(preset) else {
            failures.push(format!("{preset}: no mapping"));
            continue;
        };
        let sim = profile(EVENTS);
        let mut shown = 0;
        for index in 0..EVENTS {
            let raw = event(&sim, index);
            let problems = match mapping.map(&raw, RawMode::Unmapped) {
                Ok(ocsf) => schema
                    .validate(&ocsf)
                    .iter()
                    .map(|f| format!("{f} (class {})", ocsf["class_uid"]))
                    .collect(),
                Err(err) => vec![err.to_string()],
            };
            if !problems.is_empty() && shown < 3 {
                shown += 1;
                failures.push(format!("{preset} event {index}: {problems:#?}\n{raw}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The validator on a real mapped event: each kind of fault is found, at its path.
#[test]
fn the_validator_finds_each_kind_of_fault_in_a_mapped_event() {
    let Some(schema) = schema() else { return };
    let mapping = Mapping::for_preset("okta").expect("okta has a mapping");
    let sim = SimulatorConfig::okta(1);
    let good = mapping.map(&event(&sim, 0), RawMode::Both).unwrap();
    assert_eq!(schema.validate(&good), Vec::new());
    let found = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut bad = good.clone();
        change(&mut bad);
        let findings: Vec<String> = schema
            .validate(&bad)
            .iter()
            .map(|f| f.to_string())
            .collect();
        findings
    };
    let one = |change: &dyn Fn(&mut serde_json::Value), expected: &str| {
        let findings = found(change);
        assert!(
            findings.len() == 1 && findings[0].starts_with(expected),
            "expected one finding starting {expected:?}, got {findings:?}"
        );
    };
    one(
        &|e| e["time"] = "yesterday".into(),
        "time: expected timestamp_t, found a string",
    );
    one(
        &|e| e["actor"]["user"]["shoe_size"] = 44.into(),
        "actor.user.shoe_size: attribute not defined",
    );
    one(
        &|e| {
            e["metadata"].as_object_mut().unwrap().remove("product");
        },
        "metadata.product: required attribute missing",
    );
    one(
        &|e| e["severity_id"] = 42.into(),
        "severity_id: 42 is not among the allowed values",
    );
    let type_uid = found(&|e| e["type_uid"] = 300_203.into());
    assert!(
        type_uid
            .iter()
            .any(|f| f.starts_with("type_uid: 300203, but class_uid * 100 + activity_id is")),
        "{type_uid:?}"
    );
    one(
        &|e| e["src_endpoint"]["ip"] = "999.1.1.1".into(),
        "src_endpoint.ip: \"999.1.1.1\" is not an IP address",
    );
    let class = found(&|e| e["class_uid"] = 3005.into());
    assert!(
        class.iter().any(|f| f.starts_with("type_uid:")),
        "{class:?}"
    );
}

/// Every mapped event lists the pivot values it holds in `observables`: an Okta sign-in
/// with a client address and an email address carries both, typed as the OCSF `observable`
/// object's `type_id` enum says (2 IP Address, 5 Email Address), and stays valid OCSF.
#[test]
fn a_mapped_event_lists_its_addresses_and_emails_as_observables() {
    let mapping = Mapping::for_preset("okta").expect("okta has a mapping");
    let sim = SimulatorConfig::okta(50);
    let (raw, ocsf) = (0..50)
        .map(|index| event(&sim, index))
        .find_map(|raw| {
            let ocsf = mapping.map(&raw, RawMode::Unmapped).unwrap();
            let both = ocsf["src_endpoint"]["ip"].is_string()
                && ocsf["actor"]["user"]["email_addr"].is_string();
            both.then_some((raw, ocsf))
        })
        .expect("an Okta event with a client address and an actor's email");
    let observables = ocsf["observables"].as_array().expect("observables");
    let has = |name: &str, type_id: u64, value: &serde_json::Value| {
        observables
            .iter()
            .any(|o| o["name"] == name && o["type_id"] == type_id && o["value"] == *value)
    };
    assert!(
        has("src_endpoint.ip", 2, &raw["client"]["ipAddress"]),
        "{observables:#?}"
    );
    assert!(
        has("actor.user.email_addr", 5, &raw["actor"]["alternateId"]),
        "{observables:#?}"
    );
    if let Some(schema) = schema() {
        assert_eq!(schema.validate(&ocsf), Vec::new());
    }
}
