//! Deterministic Box enterprise events: every field is a pure function of `(seed, index)`.
//!
//! The shape follows the reference's `Event` resource as the `admin_logs` stream serves it:
//! `type` ("event"), `event_id`, `event_type` (one of the reference's enterprise event
//! types), `created_at` (whole seconds, in the enterprise's offset), `created_by` (a mini
//! user: `type`, `id`, `name`, `login`), `ip_address`, `session_id`, `source` (the file,
//! folder or user acted on, or null) and `additional_details`. The `event_id` is unique by
//! construction: its last twelve hex digits are the index.

use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};

use crate::rng::{domain, hash3, SplitMix64};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// The simulated enterprise's offset: Box writes `created_at` in the enterprise's time zone
/// (Pacific Standard Time here), not in UTC.
pub const OFFSET_SECONDS: i32 = -8 * 3600;

/// What an event acts on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Nothing but the session (logins).
    Session,
    /// A file in a folder.
    File,
    /// A folder.
    Folder,
    /// Another user (admin actions on accounts).
    User,
}

struct Kind {
    event_type: &'static str,
    target: Target,
    weight: u32,
}

const KINDS: &[Kind] = &[
    kind("LOGIN", Target::Session, 24),
    kind("FAILED_LOGIN", Target::Session, 5),
    kind("ADMIN_LOGIN", Target::Session, 2),
    kind("UPLOAD", Target::File, 12),
    kind("DOWNLOAD", Target::File, 16),
    kind("PREVIEW", Target::File, 16),
    kind("EDIT", Target::File, 6),
    kind("DELETE", Target::File, 3),
    kind("SHARE", Target::File, 4),
    kind("COLLABORATION_INVITE", Target::Folder, 4),
    kind("CHANGE_FOLDER_PERMISSION", Target::Folder, 1),
    kind("NEW_USER", Target::User, 2),
    kind("EDIT_USER", Target::User, 2),
    kind("DELETE_USER", Target::User, 1),
    kind("GROUP_ADD_USER", Target::User, 1),
    kind("CHANGE_ADMIN_ROLE", Target::User, 1),
];

const fn kind(event_type: &'static str, target: Target, weight: u32) -> Kind {
    Kind {
        event_type,
        target,
        weight,
    }
}

/// Users of the enterprise: id, name, login.
const USERS: &[(&str, &str, &str)] = &[
    ("11446498", "Ada Lovelace", "ada@acme.example"),
    ("11446499", "Grace Hopper", "grace@acme.example"),
    ("11446500", "Alan Turing", "alan@acme.example"),
    ("11446501", "Radia Perlman", "radia@acme.example"),
    ("11446502", "Ken Thompson", "ken@acme.example"),
    ("11446503", "Barbara Liskov", "barbara@acme.example"),
];

const FOLDERS: &[&str] = &["Finance", "Legal", "Engineering", "Board", "HR"];
const EXTENSIONS: &[&str] = &["pdf", "docx", "xlsx", "pptx", "txt"];

/// `seconds` (Unix time) as Box writes `created_at`: RFC 3339, whole seconds, the
/// enterprise's offset.
pub fn format_time(seconds: i64) -> String {
    let offset = FixedOffset::east_opt(OFFSET_SECONDS).expect("a valid offset");
    DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .with_timezone(&offset)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The `event_id` of event `index`: a UUID-shaped string whose last 48 bits are the index.
pub(super) fn uuid(seed: u64, index: u64) -> String {
    let high = hash3(seed, domain::UUID, index);
    let low = index & 0xffff_ffff_ffff;
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xfff,
        0x8000 | ((high >> 12) & 0x3fff),
        low
    )
}

/// The event of timeline index `index`.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let seconds = timeline.published_ms(index).div_euclid(1000);
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let kind = rng.pick_weighted(KINDS, |k| k.weight);
    let (id, name, login) = *rng.pick(USERS);
    let n = 1_000_000 + index;
    let folder = *rng.pick(FOLDERS);
    let folder_id = 90_000 + rng.below(900);
    let source = match kind.target {
        Target::Session => Value::Null,
        Target::File => json!({
            "item_type": "file",
            "item_id": (1_300_000_000_000 + n).to_string(),
            "item_name": format!("report-{n}.{}", rng.pick(EXTENSIONS)),
            "parent": { "type": "folder", "name": folder, "id": folder_id.to_string() },
            "owned_by": { "type": "user", "id": id, "name": name, "login": login },
        }),
        Target::Folder => json!({
            "item_type": "folder",
            "item_id": folder_id.to_string(),
            "item_name": folder,
            "parent": { "type": "folder", "name": "All Files", "id": "0" },
            "owned_by": { "type": "user", "id": id, "name": name, "login": login },
        }),
        Target::User => json!({
            "type": "user",
            "id": (20_000_000 + n).to_string(),
            "name": format!("Member {n}"),
            "login": format!("member{n}@acme.example"),
        }),
    };
    let additional_details = match kind.event_type {
        "COLLABORATION_INVITE" => json!({ "role": "editor", "is_performed_by_admin": false }),
        "SHARE" => json!({ "shared_link_id": format!("{:x}", hash3(seed, domain::OBJECT, index)) }),
        "FAILED_LOGIN" => json!({ "failure_reason": "invalid_password" }),
        _ => Value::Null,
    };
    let ip = rng.below(253) + 1;
    json!({
        "type": "event",
        "event_id": uuid(seed, index),
        "event_type": kind.event_type,
        "created_at": format_time(seconds),
        "created_by": { "type": "user", "id": id, "name": name, "login": login },
        "ip_address": format!("203.0.113.{ip}"),
        "session_id": null,
        "source": source,
        "additional_details": additional_details,
    })
}

/// Event `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The `event_id` of event `index`, without building the event.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    uuid(config.seed, index)
}
