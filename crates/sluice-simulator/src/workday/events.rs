//! Deterministic Workday user activity entries: every field is a pure function of
//! `(seed, index)`.
//!
//! The shape follows the reference's activity log entry (and grove's recorded pages):
//! `requestTime` (ISO 8601, milliseconds, `Z`), `systemAccount` (who), `sessionId` (the
//! sign-on the request was made in), `ipAddress`, `deviceType` and `userAgent` (of that
//! sign-on), `taskId` and `taskDisplayName` (the task run), `activityAction` (`READ`,
//! `WRITE`, `DOWNLOAD`) and, when the task worked on an instance, `target` (`descriptor`,
//! `id`). Entries have no id, so Sluice keys them on their content: every entry here has a
//! `target` with a Workday ID unique to its index, so no two are equal.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::rng::{domain, hash3, unique_uuid, SplitMix64};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

const ACCOUNTS: &[&str] = &[
    "ada.lovelace",
    "grace.hopper",
    "alan.turing",
    "radia.perlman",
    "ISU_Payroll_Integration",
];

/// Task display names, what they act on, and the action.
const TASKS: &[(&str, &str, &str)] = &[
    ("Home", "Home", "READ"),
    ("View Worker", "Worker", "READ"),
    ("My Payslips", "Payslip", "READ"),
    ("Change Job", "Job Change", "WRITE"),
    ("Edit Tenant Setup - Security", "Tenant Setup", "WRITE"),
    (
        "Maintain Permissions for Security Group",
        "Security Group",
        "WRITE",
    ),
    ("View API Clients", "API Client", "READ"),
    ("Export to Excel", "Report", "DOWNLOAD"),
];

const DEVICES: &[(&str, &str)] = &[
    (
        "Desktop",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    ),
    (
        "Desktop",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    ),
    ("Phone", "Workday/2024.2 (iPhone; iOS 17.2)"),
    ("Tablet", "Workday/2024.2 (iPad; iOS 17.2)"),
];

/// A Workday ID: 32 lower-case hex digits.
fn workday_id(seed: u64, index: u64) -> String {
    unique_uuid(seed, index).simple().to_string()
}

/// Entry `index`.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let ms = timeline.published_ms(index);
    let time = chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // Entries come in sessions of a few requests: one account, address and device.
    let session = index / 4;
    let mut session_rng = SplitMix64::new(hash3(seed, domain::SESSION, session));
    let account = *session_rng.pick(ACCOUNTS);
    let (device, agent) = *session_rng.pick(DEVICES);
    let address = format!("203.0.113.{}", 1 + session_rng.below(254));
    let session_id = format!("{:08x}", hash3(seed, domain::SESSION, session) as u32);
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let task = rng.below(TASKS.len() as u64) as usize;
    let (task_name, target_kind, action) = TASKS[task];
    json!({
        "requestTime": time,
        "userAgent": agent,
        "taskDisplayName": task_name,
        "taskId": format!(
            "{:016x}{:016x}",
            hash3(seed, domain::OBJECT, task as u64),
            hash3(seed, domain::OBJECT, !(task as u64))
        ),
        "target": {
            "descriptor": format!("{target_kind} {}", 1000 + index),
            "id": workday_id(seed, index),
        },
        "ipAddress": address,
        "deviceType": device,
        "activityAction": action,
        "systemAccount": account,
        "sessionId": session_id,
    })
}

/// Entry `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The id Sluice gives entry `index`: its content id (entries have none), the first 16 bytes
/// of the SHA-256 of its compact JSON with sorted keys, in hex. It includes the time, so it
/// needs the server's `anchor`, `span` and `events`.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    let digest = Sha256::digest(event(config, index).to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
