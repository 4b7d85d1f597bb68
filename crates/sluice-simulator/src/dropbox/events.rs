//! Deterministic Dropbox team events: every field is a pure function of `(seed, index)`.
//!
//! The shape follows the reference's `TeamEvent`: `timestamp` (whole seconds, `Z`),
//! `event_category` and `event_type` (tagged unions, the type with its `description`),
//! `details` (tagged `<event type>_details`), `actor` and `context` (who, tagged by kind),
//! `origin` (access method and geolocation), `involve_non_team_member`, and, for sharing
//! and file events, `participants` and `assets`. There is no id: Sluice identifies events by
//! their content, so every event carries its own web session id in `origin`, as real events
//! differ in their session, path or time.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::rng::{domain, hash3, SplitMix64, ALNUM};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// An event type: its category, its tag and the reference's description of it.
struct Kind {
    category: &'static str,
    tag: &'static str,
    description: &'static str,
    /// Whether the event names a file (sharing and file operations do).
    file: bool,
    weight: u32,
}

const KINDS: &[Kind] = &[
    kind("logins", "login_success", "(logins) Signed in", false, 30),
    kind(
        "logins",
        "login_fail",
        "(logins) Failed to sign in",
        false,
        6,
    ),
    kind("logins", "logout", "(logins) Signed out", false, 8),
    kind(
        "file_operations",
        "file_download",
        "(file_operations) Downloaded files and/or folders",
        true,
        20,
    ),
    kind(
        "file_operations",
        "file_preview",
        "(file_operations) Previewed files and/or folders",
        true,
        12,
    ),
    kind(
        "sharing",
        "shared_content_download",
        "(sharing) Downloaded shared file/folder",
        true,
        8,
    ),
    kind(
        "sharing",
        "shared_link_create",
        "(sharing) Created shared link",
        true,
        6,
    ),
    kind(
        "devices",
        "device_link_success",
        "(devices) Linked device",
        false,
        3,
    ),
    kind(
        "apps",
        "app_link_team",
        "(apps) Linked app for team",
        false,
        1,
    ),
    kind(
        "members",
        "member_add_name",
        "(members) Added team member name",
        false,
        2,
    ),
    kind(
        "tfa",
        "tfa_change_status",
        "(tfa) Enabled/disabled/changed two-step verification setting",
        false,
        1,
    ),
    kind(
        "team_policies",
        "sharing_change_link_policy",
        "(team_policies) Changed whether members can share links outside team",
        false,
        1,
    ),
];

const fn kind(
    category: &'static str,
    tag: &'static str,
    description: &'static str,
    file: bool,
    weight: u32,
) -> Kind {
    Kind {
        category,
        tag,
        description,
        file,
        weight,
    }
}

const PEOPLE: &[(&str, &str)] = &[
    ("Ada Lovelace", "ada"),
    ("Grace Hopper", "grace"),
    ("Alan Turing", "alan"),
    ("Katherine Johnson", "katherine"),
    ("Barbara Liskov", "barbara"),
    ("Radia Perlman", "radia"),
];

const FILES: &[(&str, &str)] = &[
    ("/Finance/budget-2027.xlsx", "budget-2027.xlsx"),
    ("/Legal/contract-draft.docx", "contract-draft.docx"),
    ("/Engineering/design.pdf", "design.pdf"),
    ("/Sales/pipeline.csv", "pipeline.csv"),
];

const CITIES: &[(&str, &str, &str)] = &[
    ("San Francisco", "California", "US"),
    ("Dublin", "Leinster", "IE"),
    ("Tokyo", "Tokyo", "JP"),
];

/// A team member, as `actor.user` and `context` write one.
fn member(rng: &mut SplitMix64) -> Value {
    let n = rng.below(PEOPLE.len() as u64) as usize;
    let (name, handle) = PEOPLE[n];
    json!({
        ".tag": "team_member",
        "account_id": format!("dbid:AAD{:0>40}", n * 7_919),
        "display_name": name,
        "email": format!("{handle}@example.com"),
        "team_member_id": format!("dbmid:AAC{:0>40}", n * 104_729),
    })
}

/// The path of a file, with the namespace it lives in.
fn asset(rng: &mut SplitMix64) -> Value {
    let (path, name) = *rng.pick(FILES);
    json!({
        ".tag": "file",
        "display_name": name,
        "file_id": format!("id:{}", rng.string(ALNUM, 22)),
        "path": {
            "contextual": path,
            "namespace_relative": {
                "is_shared_namespace": false,
                "ns_id": format!("{}", 1_000 + rng.below(9_000)),
                "relative_path": path,
            },
        },
    })
}

/// Event `index` as served: its time is its timeline time cut to the second.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let kind = rng.pick_weighted(KINDS, |k| k.weight);
    let seconds = timeline.published_ms(index).div_euclid(1000);
    let actor = member(&mut rng);
    let (city, region, country) = *rng.pick(CITIES);
    // The web session id makes each event's content unique (see the module docs).
    let session = format!(
        "dbwsid:{:0>39}",
        hash3(seed, domain::SESSION, index) % 10u64.pow(19)
    );
    let mut event = json!({
        "timestamp": super::format_time(seconds),
        "event_category": { ".tag": kind.category },
        "event_type": { ".tag": kind.tag, "description": kind.description },
        "details": { ".tag": format!("{}_details", kind.tag) },
        "actor": { ".tag": "user", "user": actor.clone() },
        "context": actor,
        "origin": {
            "access_method": {
                ".tag": "end_user",
                "end_user": { ".tag": "web", "session_id": session },
            },
            "geo_location": {
                "city": city,
                "region": region,
                "country": country,
                "ip_address": format!("198.51.100.{}", rng.below(254) + 1),
            },
        },
        "involve_non_team_member": false,
    });
    if kind.file {
        let outsider = kind.category == "sharing" && rng.percent(40);
        event["involve_non_team_member"] = Value::Bool(outsider);
        event["assets"] = json!([asset(&mut rng)]);
        event["participants"] = json!([{ ".tag": "user", "user": member(&mut rng) }]);
    }
    event
}

/// Event `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The id Sluice stores for event `index`: Dropbox events have none, so it is the content id
/// Sluice gives records without one (the first 16 bytes of the SHA-256 of the record's
/// compact JSON with sorted keys, in hex). It includes the time, so it needs the server's
/// `anchor`, `span` and `events`.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    let record = event(config, index);
    let digest = Sha256::digest(record.to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
