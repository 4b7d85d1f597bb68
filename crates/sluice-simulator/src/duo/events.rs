//! Deterministic Duo log records: every field is a pure function of `(seed, index)`, and the
//! index decides the log ([`Stream::of`]).
//!
//! The shapes follow Duo's Admin API reference: an authentication log entry (v2) has a `txid`,
//! `timestamp` (Unix seconds) and `isotimestamp` (ISO 8601 with microseconds and `+00:00`), the
//! user, application, access and authentication devices, factor, result and reason; an
//! administrator log entry (v1) has `timestamp` (seconds), `isotimestamp` (whole seconds),
//! `username`, `action`, `object` and `description` (a JSON object written as a string), and no
//! id; a telephony log entry (v2) has `telephony_id`, `txid`, `ts` (ISO 8601), `context`,
//! `credits`, `phone` and `type`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::Stream;
use crate::rng::{domain, hash3, unique_uuid, SplitMix64, ALNUM};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

const PEOPLE: &[(&str, &str)] = &[
    ("ada", "Ada Lovelace"),
    ("grace", "Grace Hopper"),
    ("alan", "Alan Turing"),
    ("radia", "Radia Perlman"),
    ("barbara", "Barbara Liskov"),
    ("ken", "Ken Thompson"),
];

const APPLICATIONS: &[&str] = &[
    "Microsoft 365",
    "Cisco AnyConnect VPN",
    "Okta SSO",
    "Jira Cloud",
    "Linux SSH",
];

/// Factor, result, reason and weight of an authentication.
const OUTCOMES: &[(&str, &str, &str, u32)] = &[
    ("duo_push", "success", "user_approved", 60),
    ("passcode", "success", "valid_passcode", 10),
    ("remembered_device", "success", "trusted_network", 12),
    ("duo_push", "denied", "user_mistake", 6),
    ("duo_push", "denied", "user_marked_fraud", 1),
    ("phone_call", "success", "user_approved", 4),
    ("sms_passcode", "failure", "invalid_passcode", 4),
    ("not_available", "denied", "deny_unenrolled_user", 3),
];

const PLACES: &[(&str, &str, &str)] = &[
    ("Ann Arbor", "Michigan", "United States"),
    ("Austin", "Texas", "United States"),
    ("London", "England", "United Kingdom"),
    ("Toronto", "Ontario", "Canada"),
];

const BROWSERS: &[(&str, &str, &str)] = &[
    ("Chrome", "Windows", "10"),
    ("Safari", "Mac OS X", "14.2"),
    ("Firefox", "Linux", "6.5"),
    ("Edge", "Windows", "11"),
];

/// Administrator actions and the kind of object each acts on.
const ADMIN_ACTIONS: &[(&str, &str)] = &[
    ("admin_login", "admin"),
    ("user_update", "user"),
    ("user_create", "user"),
    ("user_delete", "user"),
    ("phone_update", "phone"),
    ("group_update", "group"),
    ("integration_update", "integration"),
    ("bypass_create", "user"),
];

/// ISO 8601 with microseconds and a `+00:00` offset, as Duo writes `isotimestamp` and `ts`.
pub(super) fn iso_micros(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// ISO 8601 in whole seconds with `+00:00`, as the administrator log writes `isotimestamp`.
fn iso_seconds(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The `txid` of authentication `index` (and the id a telephony entry is known by).
pub(super) fn txid(seed: u64, index: u64) -> String {
    unique_uuid(seed, index).to_string()
}

/// A Duo object key: `DU` (user), `DI` (integration) or `DP` (phone) and 18 characters.
fn key(seed: u64, prefix: &str, what: u64, n: u64) -> String {
    let mut rng = SplitMix64::new(hash3(seed, domain::OBJECT, what.wrapping_mul(1_000) + n));
    format!("{prefix}{}", rng.string(&ALNUM[..36], 18))
}

fn location(rng: &mut SplitMix64) -> Value {
    let (city, state, country) = *rng.pick(PLACES);
    json!({ "city": city, "state": state, "country": country })
}

/// The record of event `index` of `stream`, as served.
pub(super) fn build(seed: u64, timeline: &Timeline, stream: Stream, index: u64) -> Value {
    let ms = timeline.published_ms(index);
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let person = rng.below(PEOPLE.len() as u64);
    let (username, realname) = PEOPLE[person as usize];
    match stream {
        Stream::Authentication => {
            let (factor, result, reason, _) = *rng.pick_weighted(OUTCOMES, |o| o.3);
            let app = rng.below(APPLICATIONS.len() as u64);
            let (browser, os, os_version) = *rng.pick(BROWSERS);
            let access_ip = format!("198.51.100.{}", rng.below(254) + 1);
            json!({
                "access_device": {
                    "browser": browser,
                    "browser_version": format!("{}.0.{}", 110 + rng.below(15), rng.below(9000)),
                    "ip": access_ip,
                    "location": location(&mut rng),
                    "os": os,
                    "os_version": os_version,
                },
                "alias": "",
                "application": {
                    "key": key(seed, "DI", 1, app),
                    "name": APPLICATIONS[app as usize],
                },
                "auth_device": {
                    "ip": format!("192.0.2.{}", rng.below(254) + 1),
                    "location": location(&mut rng),
                    "name": format!("+1 503-555-{:04}", 100 + person),
                },
                "email": format!("{username}@acme.example"),
                "event_type": "authentication",
                "factor": factor,
                "isotimestamp": iso_micros(ms),
                "reason": reason,
                "result": result,
                "timestamp": ms.div_euclid(1000),
                "txid": txid(seed, index),
                "user": {
                    "groups": ["Engineering"],
                    "key": key(seed, "DU", 2, person),
                    "name": username,
                },
            })
        }
        Stream::Administrator => {
            let seconds = ms.div_euclid(1000);
            let (action, object_kind) = *rng.pick(ADMIN_ACTIONS);
            let (object, _) = PEOPLE[rng.below(PEOPLE.len() as u64) as usize];
            // The administrator log has no id: what tells two entries apart is their content,
            // so each description carries the request's own id (as a real one differs in the
            // fields changed and their values).
            let description = json!({
                "realname": realname,
                "object_kind": object_kind,
                "request_id": unique_uuid(hash3(seed, domain::SESSION, 3), index).to_string(),
            });
            json!({
                "action": action,
                "description": description.to_string(),
                "isotimestamp": iso_seconds(seconds),
                "object": object,
                "timestamp": seconds,
                "username": format!("{realname} (admin)"),
            })
        }
        Stream::Telephony => {
            let sms = rng.percent(70);
            json!({
                "context": if rng.percent(85) { "authentication" } else { "enrollment" },
                "credits": if sms { 1 } else { 2 },
                "phone": format!("+1503555{:04}", 100 + person),
                "telephony_id": txid(seed, index),
                "ts": iso_micros(ms),
                "txid": unique_uuid(hash3(seed, domain::SESSION, 4), index).to_string(),
                "type": if sms { "sms" } else { "phone" },
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

/// The id Sluice stores for event `index`: the `txid` of an authentication, the
/// `telephony_id` of a telephony entry, and, for an administrator entry (which has no id),
/// the content id Sluice gives records without one: the first 16 bytes of the SHA-256 of the
/// record's compact JSON with sorted keys, in hex.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    match Stream::of(index) {
        Stream::Authentication | Stream::Telephony => txid(config.seed, index),
        Stream::Administrator => {
            let record = event(config, index);
            let digest = Sha256::digest(record.to_string().as_bytes());
            digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
        }
    }
}
