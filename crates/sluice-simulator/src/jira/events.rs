//! Deterministic Jira and Confluence audit records: every field is a pure function of
//! `(seed, index)`.
//!
//! Jira records follow the reference's `AuditRecordBean` (`id`, `summary`, `remoteAddress`,
//! `authorAccountId`, `created`, `category`, `eventSource`, `description`, `objectItem`,
//! `changedValues`, `associatedItems`); Confluence records its `AuditRecord` (`author`,
//! `remoteAddress`, `creationDate`, `summary`, `description`, `category`, `sysAdmin`,
//! `superAdmin`, `affectedObject`, `changedValues`, `associatedObjects`), which has no id.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::Product;
use crate::rng::{domain, hash3, SplitMix64, HEX};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// (summary, category, object type, changed field) of Jira records.
const JIRA: &[(&str, &str, &str, &str)] = &[
    ("User added to group", "group management", "USER", "group"),
    (
        "User removed from group",
        "group management",
        "USER",
        "group",
    ),
    ("User created", "user management", "USER", "email"),
    ("Project created", "projects", "PROJECT", "name"),
    (
        "Permission scheme updated",
        "permissions",
        "SCHEME",
        "permission",
    ),
    ("Workflow updated", "workflows", "WORKFLOW", "status"),
    (
        "Global permission granted",
        "permissions",
        "GLOBAL_PERMISSION",
        "group",
    ),
];
/// (summary, category, affected object type) of Confluence records.
const CONFLUENCE: &[(&str, &str, &str)] = &[
    ("Space permission added", "Permissions", "Space"),
    ("Space exported", "Import/Export", "Space"),
    ("User added to group", "Users and groups", "Group"),
    ("App installed", "Apps", "App"),
    (
        "Global permission removed",
        "Global config and administration",
        "Global permission",
    ),
    ("Page restrictions changed", "Permissions", "Page"),
];
const PEOPLE: &[&str] = &[
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Radia Perlman",
];

fn rng(config: &SimulatorConfig, index: u64) -> SplitMix64 {
    SplitMix64::new(hash3(config.seed, domain::EVENT, index))
}

fn account_id(rng: &mut SplitMix64) -> String {
    format!("5b10a2844c20165700ede{}", rng.string(HEX, 3))
}

/// Jira's `created` layout: `2014-03-19T18:45:42.967+0000`.
fn jira_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
        .format("%Y-%m-%dT%H:%M:%S%.3f%z")
        .to_string()
}

/// Jira's integer `id` of record `index`.
fn jira_id(index: u64) -> u64 {
    10_000 + index
}

fn build(config: &SimulatorConfig, timeline: &Timeline, index: u64) -> Value {
    let mut rng = rng(config, index);
    let ms = timeline.published_ms(index);
    let person = *rng.pick(PEOPLE);
    let address = format!("203.0.113.{}", rng.below(254) + 1);
    match Product::of(index) {
        Product::Jira => {
            let (summary, category, kind, field) = *rng.pick(JIRA);
            let author = account_id(&mut rng);
            json!({
                "id": jira_id(index),
                "summary": summary,
                "remoteAddress": address,
                "authorKey": format!("ug:{}", rng.string(HEX, 8)),
                "authorAccountId": author,
                "created": jira_time(ms),
                "category": category,
                "eventSource": "",
                "objectItem": {
                    "id": rng.string(HEX, 12),
                    "name": person,
                    "typeName": kind,
                },
                "changedValues": [{
                    "fieldName": field,
                    "changedFrom": format!("old {field}"),
                    "changedTo": format!("new {field}"),
                }],
                "associatedItems": [{
                    "id": "jira-software-users",
                    "name": "jira-software-users",
                    "parentId": "1",
                    "parentName": "com.atlassian.crowd.directory.IdentityPlatformRemoteDirectory",
                    "typeName": "GROUP",
                }],
            })
        }
        Product::Confluence => {
            let (summary, category, kind) = *rng.pick(CONFLUENCE);
            let author = account_id(&mut rng);
            json!({
                "author": {
                    "type": "user",
                    "displayName": person,
                    "operations": null,
                    "accountId": author,
                    "accountType": "atlassian",
                    "isExternalCollaborator": false,
                    "publicName": person,
                },
                "remoteAddress": address,
                "creationDate": ms,
                "summary": summary,
                "description": "",
                "category": category,
                "sysAdmin": rng.percent(20),
                "superAdmin": false,
                "affectedObject": { "name": format!("{kind} {}", rng.string(HEX, 4)), "objectType": kind },
                "changedValues": [],
                "associatedObjects": [],
            })
        }
    }
}

/// Record `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config, &crate::timeline_of(config), index)
}

/// Sluice's id of record `index`: Jira's `id`; for Confluence, whose records have none, the
/// content id Sluice computes (the first 16 bytes of the SHA-256 of the record's compact JSON
/// with sorted keys, in hex), which includes the time, so it needs the server's `anchor`,
/// `span` and `events`.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    match Product::of(index) {
        Product::Jira => jira_id(index).to_string(),
        Product::Confluence => {
            let digest = Sha256::digest(event(config, index).to_string().as_bytes());
            digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
        }
    }
}

/// A page of `indices` in the product's answer.
pub(super) fn render_page(
    config: &SimulatorConfig,
    timeline: &Timeline,
    product: Product,
    indices: &[u64],
    offset: usize,
    limit: usize,
    total: usize,
) -> Vec<u8> {
    let records: Vec<Value> = indices
        .iter()
        .map(|i| build(config, timeline, *i))
        .collect();
    let body = match product {
        Product::Jira => json!({
            "offset": offset,
            "limit": limit,
            "total": total,
            "records": records,
        }),
        Product::Confluence => json!({
            "results": records,
            "start": offset,
            "limit": limit,
            "size": indices.len(),
            "_links": { "base": "", "context": "/wiki" },
        }),
    };
    body.to_string().into_bytes()
}
