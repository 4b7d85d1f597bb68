//! Deterministic Slack audit-log entries: every field is a pure function of `(seed, index)`.
//!
//! The shape follows Slack's documented entries: a UUID `id`, `date_create` in epoch seconds,
//! an `action` (`user_login`, `file_downloaded`, `app_installed`, ...), the `actor` (a user
//! with id, name and email), the `entity` acted on (a user, channel, file, app or workspace,
//! each under a key named after its type), and the `context` (location, user agent, IP
//! address, session).

use serde::Serialize;
use serde_json::{json, Value};

use crate::rng::{domain, hash3, unique_uuid, SplitMix64, ALNUM};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// The enterprise the profile serves.
const ENTERPRISE_ID: &str = "E0AB1CDE2";

/// An action and the type of entity it acts on.
struct ActionKind {
    action: &'static str,
    entity: &'static str,
    weight: u32,
}

const ACTIONS: &[ActionKind] = &[
    kind("user_login", "user", 40),
    kind("user_logout", "user", 10),
    kind("file_downloaded", "file", 15),
    kind("file_shared", "file", 6),
    kind("public_channel_created", "channel", 4),
    kind("private_channel_created", "channel", 3),
    kind("user_channel_join", "channel", 8),
    kind("app_installed", "app", 2),
    kind("app_scopes_expanded", "app", 1),
    kind("role_change_to_admin", "user", 1),
    kind("user_created", "user", 3),
    kind("pref.sso_setting_changed", "workspace", 1),
    kind("anomaly", "user", 1),
];

const fn kind(action: &'static str, entity: &'static str, weight: u32) -> ActionKind {
    ActionKind {
        action,
        entity,
        weight,
    }
}

const PEOPLE: &[(&str, &str)] = &[
    ("Ada Lovelace", "ada"),
    ("Grace Hopper", "grace"),
    ("Alan Turing", "alan"),
    ("Katherine Johnson", "katherine"),
    ("Linus Pauling", "linus"),
    ("Barbara Liskov", "barbara"),
    ("Ken Thompson", "ken"),
    ("Radia Perlman", "radia"),
];

const CHANNELS: &[&str] = &["general", "security", "eng-oncall", "sales", "random"];
const FILES: &[&str] = &["roadmap.pdf", "payroll.xlsx", "design.fig", "keys.txt"];
const APPS: &[&str] = &["Jira Cloud", "Google Drive", "PagerDuty", "Custom Bot"];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.36.140 Chrome/120.0.6099.109 Electron/28.1.0 Safari/537.36 Sonic Slack_SSB/4.36.140",
    "com.tinyspeck.chatlyio/24.01.10 (iPhone; iOS 17.2.1; Scale/3.00)",
    "Slack/24.01.10.0 (Android 14)",
];

#[derive(Serialize)]
struct Entry {
    id: String,
    date_create: i64,
    action: &'static str,
    actor: Value,
    entity: Value,
    context: Value,
}

fn action_of(seed: u64, index: u64) -> &'static ActionKind {
    SplitMix64::new(hash3(seed, domain::EVENT, index)).pick_weighted(ACTIONS, |a| a.weight)
}

fn user(rng: &mut SplitMix64) -> Value {
    let n = rng.below(PEOPLE.len() as u64) as usize;
    let (name, handle) = PEOPLE[n];
    json!({
        "id": format!("W0{}", 1_000_000 + n * 7_919),
        "name": name,
        "email": format!("{handle}@example.com"),
        "team": "T0ACME001",
    })
}

fn entity(kind: &ActionKind, rng: &mut SplitMix64) -> Value {
    let body = match kind.entity {
        "user" => user(rng),
        "channel" => json!({
            "id": format!("C0{}", rng.string(ALNUM, 8).to_uppercase()),
            "name": rng.pick(CHANNELS),
            "privacy": if kind.action.starts_with("private") { "private" } else { "public" },
            "is_shared": false,
            "is_org_shared": rng.percent(20),
        }),
        "file" => json!({
            "id": format!("F0{}", rng.string(ALNUM, 8).to_uppercase()),
            "name": rng.pick(FILES),
            "filetype": "binary",
            "title": rng.pick(FILES),
        }),
        "app" => json!({
            "id": format!("A0{}", rng.string(ALNUM, 8).to_uppercase()),
            "name": rng.pick(APPS),
            "is_distributed": true,
            "is_directory_approved": rng.percent(70),
            "scopes": ["channels:read", "users:read"],
        }),
        _ => json!({
            "id": "T0ACME001",
            "name": "Acme",
            "domain": "acme",
        }),
    };
    json!({ "type": kind.entity, kind.entity: body })
}

fn build_entry(seed: u64, timeline: &Timeline, index: u64) -> Entry {
    let kind = action_of(seed, index);
    let mut rng = SplitMix64::new(hash3(seed, domain::USER, index));
    let actor = json!({ "type": "user", "user": user(&mut rng) });
    let entity = entity(kind, &mut rng);
    let context = json!({
        "location": {
            "type": "enterprise",
            "id": ENTERPRISE_ID,
            "name": "Acme",
            "domain": "acme",
        },
        "ua": rng.pick(USER_AGENTS),
        "ip_address": format!("203.0.113.{}", rng.below(254) + 1),
        "session_id": format!("{}", 2_000_000_000 + rng.below(1_000_000_000)),
    });
    Entry {
        id: unique_uuid(seed, index).to_string(),
        date_create: timeline.published_ms(index).div_euclid(1000),
        action: kind.action,
        actor,
        entity,
        context,
    }
}

/// Entry `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    let timeline = crate::timeline_of(config);
    // Entry holds strings, numbers and JSON values: it always serializes.
    serde_json::to_value(build_entry(config.seed, &timeline, index))
        .expect("Entry always serializes")
}

/// The `id` of entry `index`, without building the rest.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    unique_uuid(config.seed, index).to_string()
}

/// `{"entries":[...],"response_metadata":{"next_cursor":"..."}}` for the entries at
/// `indices`, in that order.
pub(super) fn render_page(
    seed: u64,
    timeline: &Timeline,
    indices: impl Iterator<Item = u64>,
    next_cursor: &str,
) -> Vec<u8> {
    let mut body = b"{\"entries\":[".to_vec();
    for (n, index) in indices.enumerate() {
        if n > 0 {
            body.push(b',');
        }
        // Writing into a Vec cannot fail and Entry always serializes.
        serde_json::to_writer(&mut body, &build_entry(seed, timeline, index))
            .expect("Entry always serializes into a Vec");
    }
    body.extend_from_slice(b"],\"response_metadata\":");
    // A string always serializes.
    serde_json::to_writer(&mut body, &json!({ "next_cursor": next_cursor }))
        .expect("a string always serializes");
    body.push(b'}');
    body
}
