//! Deterministic Stripe events: every field is a pure function of `(seed, index)`.
//!
//! The shape is the reference's Event object: `id` (`evt_` and 24 letters and digits, unique:
//! the index is written in it), `object` `"event"`, `account` left out (no Connect),
//! `api_version`, `created` (Unix seconds), `data.object` (the object the event is about,
//! abridged) and `data.previous_attributes` on updates, `livemode`, `pending_webhooks`,
//! `request` (`id` and `idempotency_key`; both null for events Stripe raised itself) and
//! `type`.

use serde_json::{json, Value};

use crate::rng::{domain, hash3, SplitMix64, ALNUM};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// The API version events are rendered in.
pub const API_VERSION: &str = "2026-11-17.acacia";

/// Digits of the index inside an id (base 62: eleven hold any `u64`).
const INDEX_DIGITS: usize = 11;

/// Event types: the object they carry and whether an API request made them.
const TYPES: &[(&str, &str, bool)] = &[
    ("customer.created", "customer", true),
    ("customer.updated", "customer", true),
    ("customer.deleted", "customer", true),
    ("charge.succeeded", "charge", true),
    ("charge.refunded", "charge", true),
    ("charge.dispute.created", "dispute", false),
    ("invoice.paid", "invoice", false),
    ("payment_intent.succeeded", "payment_intent", true),
    ("payout.paid", "payout", false),
    ("account.updated", "account", false),
];

fn base62(mut n: u64, digits: usize) -> String {
    let mut out = vec![b'0'; digits];
    for slot in out.iter_mut().rev() {
        *slot = ALNUM[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).unwrap_or_default()
}

fn suffix(seed: u64, index: u64) -> String {
    SplitMix64::new(hash3(seed, domain::UUID, index)).string(ALNUM, 24 - 1 - INDEX_DIGITS)
}

/// The id of event `index`: `evt_1`, the index in base 62, then letters and digits.
pub(crate) fn id(seed: u64, index: u64) -> String {
    format!(
        "evt_1{}{}",
        base62(index, INDEX_DIGITS),
        suffix(seed, index)
    )
}

/// The index of the event with id `id`, if it is one of this seed's.
pub fn index_of(seed: u64, id: &str) -> Option<u64> {
    let rest = id.strip_prefix("evt_1")?;
    let digits = rest.get(..INDEX_DIGITS)?;
    let mut index: u64 = 0;
    for byte in digits.bytes() {
        let digit = ALNUM.iter().position(|c| *c == byte)? as u64;
        index = index.checked_mul(62)?.checked_add(digit)?;
    }
    (rest.get(INDEX_DIGITS..)? == suffix(seed, index)).then_some(index)
}

/// The event of timeline index `index`.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let created = timeline.published_ms(index).div_euclid(1000);
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let (kind, object, by_request) = *rng.pick(TYPES);
    let n = 100_000 + index;
    let object_id = match object {
        "customer" => format!("cus_{}", rng.string(ALNUM, 14)),
        "charge" => format!("ch_{}", rng.string(ALNUM, 24)),
        "dispute" => format!("dp_{}", rng.string(ALNUM, 24)),
        "invoice" => format!("in_{}", rng.string(ALNUM, 24)),
        "payment_intent" => format!("pi_{}", rng.string(ALNUM, 24)),
        "payout" => format!("po_{}", rng.string(ALNUM, 24)),
        _ => format!("acct_{}", rng.string(ALNUM, 16)),
    };
    let mut data = json!({
        "object": {
            "id": object_id,
            "object": object,
            "created": created,
            "livemode": false,
            "description": format!("{object} {n}"),
        }
    });
    if kind.ends_with(".updated") {
        data["previous_attributes"] = json!({ "description": format!("{object} {}", n - 1) });
    }
    let request = if by_request {
        json!({
            "id": format!("req_{}", rng.string(ALNUM, 14)),
            "idempotency_key": format!("{:08x}-{:04x}", rng.next_u64() as u32, rng.below(65_536)),
        })
    } else {
        json!({ "id": null, "idempotency_key": null })
    };
    json!({
        "id": id(seed, index),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": data,
        "livemode": false,
        "pending_webhooks": rng.below(3),
        "request": request,
        "type": kind,
    })
}

/// Event `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The id of event `index`, as Sluice stores it.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    id(config.seed, index)
}
