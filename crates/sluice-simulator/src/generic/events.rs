//! Deterministic events of the generic profile: every field is a pure function of
//! `(seed, index)` (and, for `time`, of the timeline).
//!
//! The shape is a typical flattened audit record:
//!
//! ```json
//! {"id": "<uuid>", "time": "...", "action": "user.login", "category": "authentication",
//!  "outcome": "success", "severity": "info",
//!  "actor": {"id": "usr_...", "type": "user", "name": "...", "email": "..."},
//!  "target": [{"id": "...", "type": "...", "name": "..."}],
//!  "ip": "...", "user_agent": "...", "location": {"city": "...", "country": "..."},
//!  "request_id": "...", "session_id": "..."}
//! ```
//!
//! Rendered events weigh 400–600 bytes.

use serde::Serialize;

use super::timing::{GenericTimeline, TimeValue};
use crate::rng::{domain, hash3, unique_uuid, SplitMix64, ALNUM, HEX};

/// `(action, category, target type, weight)`.
const ACTIONS: &[(&str, &str, &str, u32)] = &[
    ("user.login", "authentication", "application", 30),
    ("user.logout", "authentication", "application", 10),
    ("user.mfa.challenge", "authentication", "authenticator", 12),
    ("user.password.reset", "account", "user", 3),
    ("user.created", "account", "user", 2),
    ("user.deactivated", "account", "user", 1),
    ("group.member.added", "access", "group", 4),
    ("group.member.removed", "access", "group", 2),
    ("app.access.granted", "access", "application", 5),
    ("api_key.created", "admin", "api_key", 1),
    ("policy.updated", "admin", "policy", 1),
    ("file.downloaded", "data", "file", 8),
    ("file.shared", "data", "file", 4),
    ("repo.cloned", "data", "repository", 5),
];

const FIRST: &[&str] = &[
    "ada", "grace", "alan", "linus", "margaret", "ken", "barbara", "dennis", "frances", "edsger",
    "hedy", "claude", "radia", "tim", "sophie", "john",
];
const LAST: &[&str] = &[
    "lovelace",
    "hopper",
    "turing",
    "torvalds",
    "hamilton",
    "thompson",
    "liskov",
    "ritchie",
    "allen",
    "dijkstra",
    "lamarr",
    "shannon",
    "perlman",
    "berners-lee",
    "wilson",
    "backus",
];
/// `(city, country, first IP octet)`.
const PLACES: &[(&str, &str, u8)] = &[
    ("Berlin", "DE", 84),
    ("Lisbon", "PT", 85),
    ("Toronto", "CA", 99),
    ("Austin", "US", 67),
    ("Seattle", "US", 73),
    ("Bangalore", "IN", 49),
    ("Sydney", "AU", 101),
    ("Sao Paulo", "BR", 177),
    ("Tokyo", "JP", 126),
    ("Nairobi", "KE", 105),
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "okta-sdk-go/2.20.0 go/1.22",
    "python-requests/2.32.3",
];
const TARGETS: &[&str] = &[
    "payroll",
    "wiki",
    "crm",
    "build-farm",
    "vpn",
    "billing",
    "design-docs",
    "hr-portal",
];

#[derive(Serialize)]
struct Event {
    id: String,
    time: TimeValue,
    action: &'static str,
    category: &'static str,
    outcome: &'static str,
    severity: &'static str,
    actor: Actor,
    target: Vec<Target>,
    ip: String,
    user_agent: &'static str,
    location: Location,
    request_id: String,
    session_id: String,
}

#[derive(Serialize)]
struct Actor {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    email: String,
}

#[derive(Serialize)]
struct Target {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
}

#[derive(Serialize)]
struct Location {
    city: &'static str,
    country: &'static str,
}

/// The seed of the generic profile's ids: distinct from the Okta profile's for one seed.
fn id_seed(seed: u64) -> u64 {
    hash3(seed, domain::GENERIC_SEED, 0)
}

/// The id of event `index`.
pub(crate) fn event_id(seed: u64, index: u64) -> String {
    unique_uuid(id_seed(seed), index).to_string()
}

fn build(seed: u64, timeline: &GenericTimeline, index: u64) -> Event {
    let mut rng = SplitMix64::new(hash3(seed, domain::GENERIC_EVENT, index));
    let (action, category, target_kind, _) = *rng.pick_weighted(ACTIONS, |a| a.3);
    let user = rng.below((FIRST.len() * LAST.len()) as u64) as usize;
    let (first, last) = (FIRST[user % FIRST.len()], LAST[user / FIRST.len()]);
    let (city, country, octet) = *rng.pick(PLACES);
    let failed = rng.percent(7);
    let target_name = *rng.pick(TARGETS);
    let target = Target {
        id: format!("{}_{}", &target_kind[..3], rng.string(ALNUM, 12)),
        kind: target_kind,
        name: target_name.to_string(),
    };
    let ip = format!(
        "{octet}.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    );
    let user_agent = *rng.pick(AGENTS);
    Event {
        id: event_id(seed, index),
        time: timeline.time_value(index),
        action,
        category,
        outcome: if failed { "failure" } else { "success" },
        severity: if failed { "warning" } else { "info" },
        actor: Actor {
            id: format!("usr_{}", base36(hash3(seed, domain::USER, user as u64))),
            kind: "user",
            name: format!("{} {}", capitalized(first), capitalized(last)),
            email: format!("{first}.{last}@example.com"),
        },
        target: vec![target],
        ip,
        user_agent,
        location: Location { city, country },
        request_id: rng.string(HEX, 32),
        session_id: format!("ses_{}", rng.string(ALNUM, 20)),
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn base36(mut value: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(13);
    loop {
        out.push(DIGITS[(value % 36) as usize]);
        value /= 36;
        if value == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Event `index` as a JSON value.
pub(crate) fn event(seed: u64, timeline: &GenericTimeline, index: u64) -> serde_json::Value {
    serde_json::to_value(build(seed, timeline, index)).expect("events always serialize")
}

/// Appends event `index`'s JSON to `out`.
pub(crate) fn write_event(out: &mut Vec<u8>, seed: u64, timeline: &GenericTimeline, index: u64) {
    // Writing into a Vec cannot fail and events contain only plain data.
    serde_json::to_writer(out, &build(seed, timeline, index)).expect("events always serialize");
}
