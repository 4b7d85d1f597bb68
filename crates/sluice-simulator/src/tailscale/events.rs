//! Deterministic Tailscale log records: every field is a pure function of `(seed, index)`.
//!
//! Configuration audit records follow the reference's `ConfigurationAuditLog` (`eventTime`,
//! `type`, `deferredAt`, `eventGroupID`, `origin`, `actor`, `target`, `action`, `old`,
//! `new`); network flow records its `NetworkFlowLog` (`logged`, `nodeId`, `start`, `end`,
//! traffic arrays of `ConnectionCounts`). Neither has a unique id, so Sluice keys records on
//! their content: every record here names something unique to its index (a target node, a
//! source port), so no two are equal.

use chrono::{DateTime, SecondsFormat, TimeDelta};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::Stream;
use crate::rng::{domain, hash3, SplitMix64, ALNUM, HEX};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// (login name, display name, user id)
const ADMINS: &[(&str, &str, &str)] = &[
    ("ada@example.com", "Ada Lovelace", "uAdaL0velace1CNTRL"),
    ("grace@example.com", "Grace Hopper", "uGraceH0pper1CNTRL"),
    ("alan@example.com", "Alan Turing", "uAlanTur1ng11CNTRL"),
];

/// (origin, action, target type, property, event weight)
const CHANGES: &[(&str, &str, &str, &str, u32)] = &[
    ("ADMIN_CONSOLE", "UPDATE", "TAILNET", "ACL", 15),
    ("CONTROL", "CREATE", "NODE", "", 20),
    ("ADMIN_CONSOLE", "APPROVE", "NODE", "", 10),
    ("ADMIN_CONSOLE", "UPDATE", "NODE", "ACL_TAGS", 10),
    ("CONFIG_API", "UPDATE", "NODE", "KEY_EXPIRY_TIME", 8),
    ("ADMIN_CONSOLE", "DELETE", "NODE", "", 5),
    ("ADMIN_CONSOLE", "CREATE", "API_KEY", "", 8),
    ("ADMIN_CONSOLE", "UPDATE", "USER", "USER_ROLE", 7),
    ("IDENTITY_PROVIDER", "CREATE", "USER", "", 7),
    ("ADMIN_CONSOLE", "LOGIN", "ADMIN_CONSOLE", "", 10),
];

const PROTOS: &[&str] = &["tcp", "udp", "icmp"];

/// An RFC 3339 time with microseconds, as Tailscale writes them, from whole milliseconds.
fn micros(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A Tailscale-style stable id: a prefix, random letters and digits, then `CNTRL`.
fn stable_id(rng: &mut SplitMix64, prefix: &str) -> String {
    format!("{prefix}{}CNTRL", rng.string(ALNUM, 12))
}

/// The record of event `index` (which log it belongs to is [`Stream::of`]).
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let ms = timeline.published_ms(index);
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    // A number unique to the record, so equal records cannot occur.
    let n = 10_000 + index;
    match Stream::of(index) {
        Stream::Configuration => {
            let (origin, action, target_type, property, _) = *rng.pick_weighted(CHANGES, |c| c.4);
            let (login, display, user_id) = *rng.pick(ADMINS);
            let actor = if origin == "CONTROL" {
                json!({ "id": stable_id(&mut rng, "n"), "type": "NODE", "tags": ["tag:server"] })
            } else {
                json!({ "id": user_id, "type": "USER", "loginName": login, "displayName": display })
            };
            let target = match target_type {
                "TAILNET" => {
                    json!({ "id": "TSim1234CNTRL", "name": "example.com", "type": "TAILNET" })
                }
                "NODE" => json!({
                    "id": stable_id(&mut rng, "n"),
                    "name": format!("host-{n}.tail1234.ts.net"),
                    "type": "NODE",
                    "isEphemeral": rng.percent(10),
                }),
                "USER" => {
                    json!({ "id": format!("u{n}CNTRL"), "name": format!("user{n}@example.com"), "type": "USER" })
                }
                "API_KEY" => {
                    json!({ "id": format!("k{n}CNTRL"), "name": format!("k{n}CNTRL"), "type": "API_KEY" })
                }
                _ => json!({ "id": format!("s{n}"), "name": "admin console", "type": target_type }),
            };
            let mut record = json!({
                "eventTime": micros(ms),
                "type": "CONFIG",
                "deferredAt": "0001-01-01T00:00:00Z",
                "eventGroupID": rng.string(HEX, 32),
                "origin": origin,
                "actor": actor,
                "target": target,
                "action": action,
            });
            if !property.is_empty() {
                record["target"]["property"] = json!(property);
                let (old, new) = match property {
                    "ACL_TAGS" => (json!(["tag:dev"]), json!(["tag:dev", "tag:prod"])),
                    "USER_ROLE" => (json!("member"), json!("admin")),
                    "KEY_EXPIRY_TIME" => (json!(micros(ms)), json!(micros(ms + 86_400_000))),
                    _ => (
                        json!(format!("// policy revision {n}")),
                        json!(format!("// policy revision {}", n + 1)),
                    ),
                };
                record["old"] = old;
                record["new"] = new;
            }
            record
        }
        Stream::Network => {
            // The node reports a sample period ending a little before the server logs it.
            let end = ms - 200 - rng.below(1_800) as i64;
            let start = end - TimeDelta::seconds(5).num_milliseconds();
            let node = 1 + rng.below(40);
            let peer = 1 + rng.below(40);
            let traffic = |rng: &mut SplitMix64, src: String, dst: String| {
                json!({
                    "proto": rng.pick(PROTOS),
                    "src": src,
                    "dst": dst,
                    "txPkts": 1 + rng.below(500),
                    "txBytes": 100 + rng.below(500_000),
                    "rxPkts": rng.below(500),
                    "rxBytes": rng.below(500_000),
                })
            };
            let port = 1024 + (n % 60_000);
            let virtual_traffic = traffic(
                &mut rng,
                format!("100.64.0.{node}:{port}"),
                format!("100.64.0.{peer}:443"),
            );
            let physical = traffic(
                &mut rng,
                format!("100.64.0.{node}:0"),
                format!("192.0.2.{peer}:41641"),
            );
            let mut record = json!({
                "logged": micros(ms),
                "nodeId": format!("nSimNode{node:04}CNTRL"),
                "start": micros(start),
                "end": micros(end),
                "virtualTraffic": [virtual_traffic],
                "physicalTraffic": [physical],
            });
            if rng.percent(20) {
                record["exitTraffic"] = json!([traffic(
                    &mut rng,
                    format!("100.64.0.{node}:{port}"),
                    "203.0.113.7:443".to_string(),
                )]);
            }
            record
        }
    }
}

/// Record `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The id Sluice gives record `index`: its content id (the records have none), the first 16
/// bytes of the SHA-256 of its compact JSON, in hex.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    let digest = Sha256::digest(event(config, index).to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
