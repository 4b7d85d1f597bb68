//! Deterministic LaunchDarkly audit log entries: every field is a pure function of
//! `(seed, index)`.
//!
//! The shape follows the reference's summary representation of an entry (`_links`, `_id`,
//! `_accountId`, `date` in Unix milliseconds, `accesses`, `kind`, `name`, `description`,
//! `shortDescription`, `comment`, `member` or `token`, `titleVerb`, `title`, `target`). The
//! `_id` is 24 hexadecimal digits, as the reference's examples; here it holds the index, so
//! ids are unique without depending on times.

use serde_json::{json, Value};

use crate::rng::{domain, hash3, SplitMix64};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// The simulated account's id.
pub const ACCOUNT_ID: &str = "5f0c8a1e2b3d4c5e6f708192";

/// Changes: the resource kind, the action (LaunchDarkly's role action names), and the verb of
/// the entry's title.
const CHANGES: &[(&str, &str, &str)] = &[
    ("flag", "createFlag", "created the flag"),
    ("flag", "updateOn", "turned on the flag"),
    (
        "flag",
        "updateRules",
        "updated the targeting rules of the flag",
    ),
    ("flag", "deleteFlag", "deleted the flag"),
    ("segment", "createSegment", "created the segment"),
    (
        "segment",
        "updateIncluded",
        "updated the targets of the segment",
    ),
    ("segment", "deleteSegment", "deleted the segment"),
    (
        "environment",
        "createEnvironment",
        "created the environment",
    ),
    ("project", "createProject", "created the project"),
    ("member", "createMember", "invited the member"),
    ("member", "updateRole", "changed the role of the member"),
    ("member", "deleteMember", "removed the member"),
    ("token", "createAccessToken", "created the access token"),
    ("token", "deleteAccessToken", "deleted the access token"),
    ("role", "createRole", "created the custom role"),
    (
        "role",
        "updatePolicy",
        "updated the policy of the custom role",
    ),
];

/// Members who make changes: id, email, first and last name.
const MEMBERS: &[(&str, &str, &str, &str)] = &[
    (
        "507f1f77bcf86cd799439011",
        "ariel@example.com",
        "Ariel",
        "Flores",
    ),
    (
        "507f1f77bcf86cd799439012",
        "grace@example.com",
        "Grace",
        "Hopper",
    ),
    (
        "507f1f77bcf86cd799439013",
        "alan@example.com",
        "Alan",
        "Turing",
    ),
    (
        "507f1f77bcf86cd799439014",
        "radia@example.com",
        "Radia",
        "Perlman",
    ),
];

/// Service tokens that make changes: id, name, last four characters.
const TOKENS: &[(&str, &str, &str)] = &[
    ("61a2b3c4d5e6f70819203a4b", "Terraform", "9f3c"),
    ("61a2b3c4d5e6f70819203a4c", "CI release job", "41d7"),
];

/// The `_id` of entry `index`: 24 hexadecimal digits, unique per index.
fn id(seed: u64, index: u64) -> String {
    let salt = (hash3(seed, domain::UUID, index) >> 32) as u32;
    format!("{salt:08x}{index:016x}")
}

/// The resource specifier and display name of the changed resource.
fn resource(kind: &str, rng: &mut SplitMix64) -> (String, String) {
    let key = format!(
        "{}-{}",
        rng.pick(&["checkout", "search", "billing", "onboarding"]),
        rng.below(100)
    );
    match kind {
        "flag" => (format!("proj/default:env/production:flag/{key}"), key),
        "segment" => (format!("proj/default:env/production:segment/{key}"), key),
        "environment" => (format!("proj/default:env/{key}"), key),
        "project" => (format!("proj/{key}"), key),
        "member" => {
            let (id, email, _, _) = *rng.pick(MEMBERS);
            (format!("member/{id}"), email.to_string())
        }
        "token" => (format!("member/*:token/{key}"), key),
        _ => (format!("role/{key}"), key),
    }
}

/// Entry `index` on `timeline`.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let (kind, action, verb) = *rng.pick(CHANGES);
    let (spec, name) = resource(kind, &mut rng);
    let id = id(seed, index);
    let comment = if rng.percent(30) {
        "Requested in the release review"
    } else {
        ""
    };
    let self_link = json!({ "href": format!("/api/v2/auditlog/{id}"), "type": "application/json" });
    let mut entry = json!({
        "_links": {
            "parent": { "href": "/api/v2/auditlog", "type": "application/json" },
            "self": self_link,
        },
        "_id": id,
        "_accountId": ACCOUNT_ID,
        "date": timeline.published_ms(index),
        "accesses": [{ "action": action, "resource": spec }],
        "kind": kind,
        "name": name,
        "description": format!("- {} `{name}`", capitalized(verb)),
        "shortDescription": format!("{} `{name}`", capitalized(verb)),
        "comment": comment,
        "titleVerb": verb,
    });
    // One change in five is made by a service token, the others by members.
    let who = if rng.percent(20) {
        let (token_id, token_name, ending) = *rng.pick(TOKENS);
        entry["token"] = json!({
            "_links": { "self": { "href": format!("/api/v2/tokens/{token_id}"), "type": "application/json" } },
            "_id": token_id,
            "name": token_name,
            "ending": ending,
            "serviceToken": true,
        });
        token_name.to_string()
    } else {
        let (member_id, email, first, last) = *rng.pick(MEMBERS);
        entry["member"] = json!({
            "_links": { "self": { "href": format!("/api/v2/members/{member_id}"), "type": "application/json" } },
            "_id": member_id,
            "email": email,
            "firstName": first,
            "lastName": last,
        });
        format!("{first} {last}")
    };
    entry["title"] = json!(format!("{who} {verb} {name}"));
    entry["target"] = json!(format!("[{who}] {verb} `{name}`"));
    entry
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Entry `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The id of entry `index`: its `_id`.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    id(config.seed, index)
}
