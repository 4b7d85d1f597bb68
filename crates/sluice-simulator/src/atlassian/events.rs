//! Deterministic Atlassian organization audit events, as JSON:API resources: every field is
//! a pure function of `(seed, index)`.
//!
//! The shape follows the Organizations REST API's event resources: `id`, `type: "events"`,
//! `attributes` with `time` (ISO 8601 UTC), `action`, the `actor` (id, name, link), the
//! `context` and `container` lists (what was acted on, and in which site or product), and the
//! `location` (IP address and country); a `links.self`.

use serde_json::{json, Value};

use crate::rng::{domain, hash3, unique_uuid, SplitMix64};
use crate::timeline::{format_millis, Timeline};
use crate::SimulatorConfig;

/// The organization the profile serves.
pub const ORG_ID: &str = "a1b2c3d4-0000-4000-8000-0123456789ab";

const ACTIONS: &[(&str, u32)] = &[
    ("user_logged_in", 40),
    ("user_login_failed", 8),
    ("user_added_to_group", 6),
    ("user_removed_from_group", 3),
    ("api_token_created", 3),
    ("api_token_revoked", 1),
    ("product_access_granted", 4),
    ("product_access_revoked", 2),
    ("policy_updated", 1),
    ("user_invited", 5),
    ("two_step_verification_disabled", 1),
    ("audit_log_exported", 1),
];

const PEOPLE: &[&str] = &[
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Katherine Johnson",
    "Barbara Liskov",
    "Radia Perlman",
];

const SITES: &[(&str, &str)] = &[
    ("acme.atlassian.net", "jira-software"),
    ("acme.atlassian.net", "confluence"),
    ("acme-dev.atlassian.net", "jira-software"),
];

const COUNTRIES: &[&str] = &["US", "DE", "GB", "AU", "IN", "BR"];

/// ISO 8601 UTC with milliseconds, or without a fraction on a whole second, as the API
/// writes both (`2022-05-12T19:13:13Z`, `2022-05-12T19:13:03.343Z`).
fn time_text(ms: i64) -> String {
    let text = format_millis(ms);
    if ms.rem_euclid(1000) == 0 {
        text.replace(".000Z", "Z")
    } else {
        text
    }
}

fn account_id(n: u64) -> String {
    format!("5b10ac8d82e05b22cc7d{:04x}", 0x4a00 + n)
}

fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let id = unique_uuid(seed, index).to_string();
    let mut pick = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let action = pick.pick_weighted(ACTIONS, |a| a.1).0;
    let mut rng = SplitMix64::new(hash3(seed, domain::USER, index));
    let actor = rng.below(PEOPLE.len() as u64);
    let target = rng.below(PEOPLE.len() as u64);
    let (site, product) = *rng.pick(SITES);
    let ip = format!("198.51.100.{}", rng.below(254) + 1);
    json!({
        "id": id,
        "type": "events",
        "attributes": {
            "time": time_text(timeline.published_ms(index)),
            "action": action,
            "actor": {
                "id": account_id(actor),
                "name": PEOPLE[actor as usize],
                "links": {
                    "self": format!("https://api.atlassian.com/users/{}/manage/profile", account_id(actor)),
                },
            },
            "context": [{
                "id": account_id(target),
                "type": "users",
                "attributes": { "name": PEOPLE[target as usize] },
            }],
            "container": [{
                "id": ORG_ID,
                "type": "organizations",
                "attributes": { "siteHostName": site, "productName": product },
            }],
            "location": {
                "ip": ip,
                "geo": rng.pick(COUNTRIES),
                "countryName": null,
            },
        },
        "links": {
            "self": format!("https://api.atlassian.com/admin/v1/orgs/{ORG_ID}/events/{id}"),
        },
    })
}

/// Event `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The `id` of event `index`, without building the rest.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    unique_uuid(config.seed, index).to_string()
}

/// A JSON:API page: `{"data":[...],"meta":{...},"links":{...}}` for the events at
/// `indices`, in that order; `next` is the cursor of the next page and `next_url` its link.
pub(super) fn render_page(
    seed: u64,
    timeline: &Timeline,
    indices: impl Iterator<Item = u64>,
    next: Option<(&str, &str)>,
    self_url: &str,
) -> Vec<u8> {
    let data: Vec<Value> = indices.map(|i| build(seed, timeline, i)).collect();
    let page_size = data.len();
    let mut links = json!({ "self": self_url });
    if let Some((_, url)) = next {
        links["next"] = json!(url);
    }
    let body = json!({
        "data": data,
        "meta": { "next": next.map(|(cursor, _)| cursor), "page_size": page_size },
        "links": links,
    });
    body.to_string().into_bytes()
}
