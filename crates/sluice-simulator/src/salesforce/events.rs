//! Deterministic Setup Audit Trail records: every field is a pure function of `(seed, index)`
//! and the record's time.
//!
//! Records carry the fields the object reference lists (`Id`, `Action`, `Section`,
//! `CreatedDate`, `CreatedById`, `Display`, `DelegateUser`, `ResponsibleNamespacePrefix`,
//! `CreatedByContext`, `CreatedByIssuer`) and the `CreatedBy.Name` relationship the preset
//! selects, with the `attributes` object the REST API puts on every record.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::API_VERSION;
use crate::rng::{domain, hash3, SplitMix64};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// (Action, Section, what `Display` says, weight): Setup changes of the kinds the object
/// reference and Salesforce's "Monitor Setup Changes" list describe.
const ACTIONS: &[(&str, &str, &str, u32)] = &[
    (
        "PermSetCreate",
        "Manage Users",
        "Created permission set {item}: with user license Salesforce",
        6,
    ),
    (
        "PermSetAssign",
        "Manage Users",
        "Permission set {item}: assigned to user {user}",
        12,
    ),
    (
        "PermSetUnassign",
        "Manage Users",
        "Permission set {item}: unassigned from user {user}",
        5,
    ),
    ("createduser", "Manage Users", "Created new user {user}", 8),
    (
        "changedpassword",
        "Manage Users",
        "Changed password for user {user}",
        8,
    ),
    (
        "resetpassword",
        "Manage Users",
        "Reset password for user {user}",
        6,
    ),
    (
        "deactivateduser",
        "Manage Users",
        "Deactivated user {user}",
        4,
    ),
    ("frozeuser", "Manage Users", "Froze user {user}", 2),
    (
        "changedprofileforuser",
        "Manage Users",
        "Changed profile for user {user} from Standard User to {item}",
        5,
    ),
    (
        "suOrgAdminLogin",
        "Manage Users",
        "Logged in using Login-As access for {user}",
        6,
    ),
    (
        "suOrgAdminLogout",
        "Manage Users",
        "Logged out using Login-As access for {user}",
        5,
    ),
    (
        "changedPasswordPolicy",
        "Security Controls",
        "Changed password policy minimum length from 8 to 12",
        2,
    ),
    (
        "changedSessionSettings",
        "Session Settings",
        "Changed session timeout value from 2 hours to 1 hour",
        2,
    ),
    (
        "connectedAppCreate",
        "Connected Apps",
        "Created connected app {item}",
        3,
    ),
    (
        "changedValidationFormula",
        "Customize Accounts",
        "Changed validation formula on Account: {item}",
        6,
    ),
    (
        "createdApexClass",
        "Apex Class",
        "Created Apex class {item}",
        4,
    ),
];

/// (user id, name): the org's administrators.
const ADMINS: &[(&str, &str)] = &[
    ("0058c00000A1xQbAAJ", "Ada Lovelace"),
    ("0058c00000A1xQcAAJ", "Grace Hopper"),
    ("0058c00000A1xQdAAJ", "Alan Turing"),
];

/// Users the changes touch.
const USERS: &[&str] = &[
    "jdoe@acme.example",
    "msmith@acme.example",
    "integration@acme.example",
];

/// The whole second a record's time falls in: `CreatedDate` carries no fraction.
pub(crate) fn served_ms(timeline: &Timeline, index: u64) -> i64 {
    timeline.published_ms(index).div_euclid(1000) * 1000
}

/// `CreatedDate` as the REST API writes it: `2026-11-22T10:00:00.000+0000`.
pub fn format_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

/// The 18-character, case-insensitive form of a 15-character record id: a suffix of three
/// characters, each saying which of five characters are upper case.
fn with_suffix(id15: &str) -> String {
    const CODES: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let mut id = id15.to_string();
    for chunk in id15.as_bytes().chunks(5) {
        let bits = chunk
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |bits, (i, _)| bits | (1 << i));
        id.push(char::from(CODES[bits]));
    }
    id
}

/// The record id of record `index`: key prefix `0Ym` (SetupAuditTrail), a pod and the index.
fn record_id(index: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = index;
    let mut tail = [b'0'; 8];
    for slot in tail.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    // Eight base-62 digits hold far more than a simulator serves.
    let tail = String::from_utf8_lossy(&tail);
    with_suffix(&format!("0Ym8c{tail}00"))
}

/// The record at `index`.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let (action, section, display, _) = *rng.pick_weighted(ACTIONS, |a| a.3);
    let (admin_id, admin_name) = *rng.pick(ADMINS);
    let user = *rng.pick(USERS);
    let item = format!("Item_{}", 100 + rng.below(900));
    let display = display.replace("{item}", &item).replace("{user}", user);
    let delegate = (action != "suOrgAdminLogin" && rng.percent(10)).then_some(USERS[0]);
    let context = rng.percent(5).then_some("Einstein");
    let id = record_id(index);
    json!({
        "attributes": {
            "type": "SetupAuditTrail",
            "url": format!("/services/data/{API_VERSION}/sobjects/SetupAuditTrail/{id}"),
        },
        "Id": id,
        "Action": action,
        "Section": section,
        "CreatedDate": format_time(served_ms(timeline, index)),
        "CreatedById": admin_id,
        "CreatedBy": {
            "attributes": {
                "type": "User",
                "url": format!("/services/data/{API_VERSION}/sobjects/User/{admin_id}"),
            },
            "Name": admin_name,
        },
        "Display": display,
        "DelegateUser": delegate,
        "ResponsibleNamespacePrefix": Value::Null,
        "CreatedByContext": context,
        "CreatedByIssuer": Value::Null,
    })
}

/// Record `index` exactly as served.
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The `Id` of record `index`.
pub(crate) fn event_id(_config: &SimulatorConfig, index: u64) -> String {
    record_id(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_eighteen_characters_with_the_case_suffix_and_unique() {
        // The suffix of a documented example id: 001A0000006Vm9r → 001A0000006Vm9rIAC.
        assert_eq!(with_suffix("001A0000006Vm9r"), "001A0000006Vm9rIAC");
        let ids: std::collections::HashSet<String> = (0..5_000).map(record_id).collect();
        assert_eq!(ids.len(), 5_000);
        assert!(ids.iter().all(|id| id.len() == 18 && id.starts_with("0Ym")));
    }
}
