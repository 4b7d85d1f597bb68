//! Deterministic 1Password events: every field is a pure function of `(seed, index)`, and
//! the index decides the kind ([`Stream::of`]).
//!
//! The shapes follow the Events API reference: every item has a `uuid` (26 characters of
//! base32) and a `timestamp`; audit events name the actor, the action and the object acted
//! on with the session and location; item usages the item, vault, user and client; sign-in
//! attempts the category and type of the attempt, the target user, the client and country.

use serde_json::{json, Value};

use super::Stream;
use crate::rng::{domain, hash3, unique_uuid, SplitMix64};
use crate::timeline::{format_millis, Timeline};
use crate::SimulatorConfig;

const PEOPLE: &[(&str, &str)] = &[
    ("Wendy Appleseed", "wendy_appleseed@acme.example"),
    ("Ada Lovelace", "ada@acme.example"),
    ("Grace Hopper", "grace@acme.example"),
    ("Alan Turing", "alan@acme.example"),
    ("Radia Perlman", "radia@acme.example"),
];

const AUDIT_ACTIONS: &[(&str, &str)] = &[
    ("join", "user"),
    ("suspend", "user"),
    ("grant", "vault"),
    ("revoke", "vault"),
    ("create", "vault"),
    ("update", "policy"),
    ("delete", "item"),
    ("verify", "user"),
];

const ITEM_ACTIONS: &[&str] = &[
    "fill",
    "reveal",
    "secure-copy",
    "enter-item-edit-mode",
    "export",
];

const SIGNIN_OUTCOMES: &[(&str, &str, u32)] = &[
    ("success", "credentials_ok", 70),
    ("success", "mfa_ok", 15),
    ("credentials_failed", "password_secret_bad", 8),
    ("mfa_failed", "totp_bad", 4),
    ("firewall_failed", "country_blocked", 2),
    ("modern_version_failed", "modern_version_old", 1),
];

const CLIENTS: &[(&str, &str, &str)] = &[
    ("1Password Extension", "Chrome", "MacOSX"),
    ("1Password for Windows", "Windows", "Windows"),
    ("1Password CLI", "Go", "Linux"),
];

const PLACES: &[(&str, &str, &str)] = &[
    ("Canada", "Ontario", "Toronto"),
    ("France", "Ile-de-France", "Paris"),
    ("Japan", "Tokyo", "Tokyo"),
];

/// RFC 4648 base32 without padding, the alphabet of 1Password's UUIDs.
const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// 128 bits as 26 base32 characters (the last one carries two bits of padding).
fn base32(bytes: [u8; 16]) -> String {
    let value = u128::from_be_bytes(bytes);
    (0..26)
        .map(|k| {
            // 130 bits in all: the value shifted left by 2, read 5 bits at a time.
            let shift: i32 = 125 - 5 * k;
            let chunk = if shift >= 2 {
                (value >> (shift - 2)) & 31
            } else {
                (value << (2 - shift)) & 31
            };
            BASE32[chunk as usize] as char
        })
        .collect()
}

/// A 1Password-style UUID, unique for each `index` under one seed.
fn op_uuid(seed: u64, index: u64) -> String {
    base32(*unique_uuid(seed, index).as_bytes())
}

/// A UUID for a related object (user, vault, session): stable, not unique per event.
fn related(seed: u64, what: u64, n: u64) -> String {
    base32(*unique_uuid(hash3(seed, domain::OBJECT, what), n).as_bytes())
}

fn user(seed: u64, n: u64) -> Value {
    let (name, email) = PEOPLE[n as usize % PEOPLE.len()];
    json!({ "uuid": related(seed, 1, n), "name": name, "email": email })
}

fn client(rng: &mut SplitMix64) -> Value {
    let (app, platform, os) = *rng.pick(CLIENTS);
    json!({
        "app_name": app,
        "app_version": format!("{}", 20_100 + rng.below(60)),
        "platform_name": platform,
        "platform_version": format!("{}.0", 100 + rng.below(30)),
        "os_name": os,
        "os_version": format!("{}.{}", 10 + rng.below(5), rng.below(10)),
        "ip_address": format!("192.0.2.{}", rng.below(254) + 1),
    })
}

fn location(rng: &mut SplitMix64) -> Value {
    let (country, region, city) = *rng.pick(PLACES);
    json!({
        "country": country,
        "region": region,
        "city": city,
        "latitude": 43.5991,
        "longitude": -79.4988,
    })
}

/// The item of event `index` of `stream`, as served.
pub(super) fn build(seed: u64, timeline: &Timeline, stream: Stream, index: u64) -> Value {
    let uuid = op_uuid(seed, index);
    let timestamp = format_millis(timeline.published_ms(index));
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let actor = rng.below(PEOPLE.len() as u64);
    match stream {
        Stream::AuditEvents => {
            let (action, object_type) = *rng.pick(AUDIT_ACTIONS);
            json!({
                "uuid": uuid,
                "timestamp": timestamp,
                "actor_uuid": related(seed, 1, actor),
                "actor_details": user(seed, actor),
                "action": action,
                "object_type": object_type,
                "object_uuid": related(seed, 2, rng.below(50)),
                "aux_id": rng.below(1000),
                "aux_uuid": related(seed, 3, rng.below(50)),
                "aux_info": "",
                "session": {
                    "uuid": related(seed, 4, rng.below(200)),
                    "login_time": timestamp,
                    "device_uuid": related(seed, 5, actor),
                    "ip": format!("198.51.100.{}", rng.below(254) + 1),
                },
                "location": location(&mut rng),
            })
        }
        Stream::ItemUsages => json!({
            "uuid": uuid,
            "timestamp": timestamp,
            "used_version": rng.below(12),
            "vault_uuid": related(seed, 6, rng.below(8)),
            "item_uuid": related(seed, 7, rng.below(300)),
            "action": *rng.pick(ITEM_ACTIONS),
            "user": user(seed, actor),
            "client": client(&mut rng),
            "location": location(&mut rng),
        }),
        Stream::SignInAttempts => {
            let (category, kind, _) = *rng.pick_weighted(SIGNIN_OUTCOMES, |o| o.2);
            let details = match category {
                "firewall_failed" => json!({ "value": "Europe" }),
                _ => Value::Null,
            };
            json!({
                "uuid": uuid,
                "session_uuid": related(seed, 4, rng.below(200)),
                "timestamp": timestamp,
                "category": category,
                "type": kind,
                "country": rng.pick(PLACES).0,
                "details": details,
                "target_user": user(seed, actor),
                "client": client(&mut rng),
                "location": location(&mut rng),
            })
        }
    }
}

/// Event `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(
        config.seed,
        &crate::timeline_of(config),
        Stream::of(index),
        index,
    )
}

/// The `uuid` of event `index`, without building the rest.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    op_uuid(config.seed, index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_26_base32_characters_and_keep_every_bit() {
        assert_eq!(base32([0; 16]), "A".repeat(26));
        assert_eq!(base32([0xFF; 16]), format!("{}4", "7".repeat(25)));
        let mut one = [0u8; 16];
        one[15] = 1;
        // The lowest bit lands in the last character, shifted by the two padding bits.
        assert_eq!(base32(one), format!("{}E", "A".repeat(25)));
        let id = op_uuid(42, 7);
        assert_eq!(id.len(), 26);
        assert!(id.bytes().all(|b| BASE32.contains(&b)), "{id}");
    }
}
