//! Deterministic Auth0 tenant logs: every field is a pure function of `(seed, index)` and the
//! timeline.
//!
//! The shape follows Auth0's log event schema as `GET /api/v2/logs` serves it: `log_id`,
//! `date` (ISO 8601, milliseconds, UTC), `type` (an event type code from Auth0's "Log Event
//! Type Codes"), `description`, `client_id` and `client_name`, `ip`, `user_agent`,
//! `hostname`, `user_id` and `user_name`, `connection` and `connection_id`, `strategy` and
//! `strategy_type`, `isMobile`, `location_info`, and `details` (the request and response of
//! Management API operations, the failure of failed logins).
//!
//! A `log_id` is 56 digits, as Auth0's are ("90020211201185132572079310688835925971249535794074878050"):
//! `900`, then when the event became visible (20 digits of nanoseconds since the epoch), then
//! its index (33 digits). Ordered as text, ids follow the order events were *published*, not
//! their dates: Auth0 orders its checkpoint listing by `log_id` "rather than log generation
//! time, to prevent skipping past records due to Auth0 system delays", so a late event gets
//! an id after the ones already served.

use serde_json::{json, Value};

use crate::rng::{domain, hash3, SplitMix64};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// Digits of a `log_id`.
pub const LOG_ID_DIGITS: usize = 56;
/// Digits of the visibility time in a `log_id`, after its `900` prefix.
const TIME_DIGITS: usize = 20;

/// Where a log stands in the checkpoint listing: when it became visible, then its index.
pub(crate) type Key = (i128, u64);

/// The `log_id` of the log at `key`.
pub(crate) fn log_id(key: Key) -> String {
    let (visible_ns, index) = key;
    format!("900{:020}{index:033}", visible_ns.max(0))
}

/// The key a `from` value names: any 56 digits (a log id this tenant never issued still
/// orders among the others, as Auth0's do). `None` for anything else.
pub(crate) fn parse_log_id(text: &str) -> Option<Key> {
    if text.len() != LOG_ID_DIGITS || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let visible: i128 = text[3..3 + TIME_DIGITS].parse().ok()?;
    // 33 digits may not fit 64 bits: such an index lies past every log.
    let index: u64 = text[3 + TIME_DIGITS..].parse().unwrap_or(u64::MAX);
    Some((visible, index))
}

/// The key of log `index`.
pub(crate) fn key(timeline: &Timeline, index: u64) -> Key {
    (timeline.visible_at_ns(index), index)
}

struct Kind {
    code: &'static str,
    description: &'static str,
    weight: u32,
}

/// Event type codes from Auth0's table, with a weight each (how common it is here).
const KINDS: &[Kind] = &[
    kind("s", "Success Login", 30),
    kind("ssa", "Successful silent authentication", 8),
    kind("seccft", "Client Credentials for Access Token", 8),
    kind("slo", "User successfully logged out", 6),
    kind("f", "Wrong email or password.", 5),
    kind("fp", "Wrong email or password.", 4),
    kind("fu", "Invalid email or username", 2),
    kind("fsa", "Login required", 1),
    kind("ss", "Successful signup", 3),
    kind("fs", "Password is too weak", 1),
    kind("scp", "Change password", 2),
    kind("sv", "Email verified", 2),
    kind("gd_auth_succeed", "MFA Authentication success", 3),
    kind("gd_auth_failed", "MFA Authentication failed", 1),
    kind("limit_wc", "Blocked Account", 1),
    kind("sapi", "Update a User", 4),
    kind("sapi", "Create a role", 1),
    kind("fapi", "Update a client", 1),
    kind("du", "Deleted User", 1),
    kind("api_limit", "Global limit has been reached", 1),
];

const fn kind(code: &'static str, description: &'static str, weight: u32) -> Kind {
    Kind {
        code,
        description,
        weight,
    }
}

/// Users: id, email.
const USERS: &[(&str, &str)] = &[
    ("auth0|6393a1f2c0ffee0001a1b2c3", "ada@acme.example"),
    ("auth0|6393a1f2c0ffee0001a1b2c4", "grace@acme.example"),
    ("auth0|6393a1f2c0ffee0001a1b2c5", "alan@acme.example"),
    ("google-oauth2|104357812345678901234", "radia@acme.example"),
    ("auth0|6393a1f2c0ffee0001a1b2c7", "ken@acme.example"),
];

/// Applications: client id, name.
const CLIENTS: &[(&str, &str)] = &[
    ("Vx3JqGZ9rLkz0c2YbXo8TtPq4wE1sRdA", "Acme Web"),
    ("m1Qw2Er3Ty4Ui5Op6As7Df8Gh9Jk0LzX", "Acme Mobile"),
    ("Zs9Xa8Cd7Vf6Bg5Nh4Mj3Kl2Po1Iu0Yt", "Acme Admin Automation"),
];

const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
];

const PLACES: &[(&str, &str, &str, f64, f64)] = &[
    (
        "US",
        "San Francisco",
        "America/Los_Angeles",
        37.7749,
        -122.4194,
    ),
    ("DE", "Berlin", "Europe/Berlin", 52.52, 13.405),
    ("JP", "Tokyo", "Asia/Tokyo", 35.6762, 139.6503),
];

/// The simulated tenant's domain, as `hostname` names it.
pub const TENANT_DOMAIN: &str = "acme.us.auth0.com";

/// The log of timeline index `index`.
pub(crate) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let ms = timeline.published_ms(index);
    let date = chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let kind = rng.pick_weighted(KINDS, |k| k.weight);
    let (user_id, email) = *rng.pick(USERS);
    let (client_id, client_name) = *rng.pick(CLIENTS);
    let agent = *rng.pick(AGENTS);
    let (country, city, zone, lat, lon) = *rng.pick(PLACES);
    let ip = format!("198.51.100.{}", rng.below(253) + 1);
    let social = user_id.starts_with("google-oauth2");
    let (connection, connection_id, strategy, strategy_type) = if social {
        (
            "google-oauth2",
            "con_g00gleC0nnect1",
            "google-oauth2",
            "social",
        )
    } else {
        (
            "Username-Password-Authentication",
            "con_Db4se0Conn3ct10n",
            "auth0",
            "database",
        )
    };
    let mut log = json!({
        "date": date,
        "type": kind.code,
        "description": kind.description,
        "client_id": client_id,
        "client_name": client_name,
        "ip": ip,
        "user_agent": agent,
        "hostname": TENANT_DOMAIN,
        "log_id": log_id(key(timeline, index)),
        "isMobile": agent.contains("iPhone"),
        "location_info": {
            "country_code": country, "city_name": city, "time_zone": zone,
            "latitude": lat, "longitude": lon,
        },
    });
    let fields = log.as_object_mut().expect("built as an object");
    match kind.code {
        // Machine-to-machine: no user, no connection.
        "seccft" | "api_limit" => {
            fields.insert("client_name".into(), json!("Acme Admin Automation"));
            fields.insert("user_agent".into(), json!("node-auth0/4.10.0"));
            fields.insert(
                "audience".into(),
                json!(format!("https://{TENANT_DOMAIN}/api/v2/")),
            );
            fields.insert("scope".into(), json!("read:users update:users"));
        }
        "sapi" | "fapi" | "du" => {
            let (method, path, status) = match (kind.code, kind.description) {
                ("sapi", "Create a role") => ("post", "/api/v2/roles".to_string(), 200),
                ("fapi", _) => ("patch", format!("/api/v2/clients/{client_id}"), 403),
                ("du", _) => ("delete", format!("/api/v2/users/{user_id}"), 204),
                _ => ("patch", format!("/api/v2/users/{user_id}"), 200),
            };
            fields.insert("details".into(), json!({
                "request": {
                    "method": method,
                    "path": path,
                    "channel": "https://manage.auth0.com/",
                    "ip": fields["ip"].clone(),
                    "auth": { "user": { "user_id": "google-oauth2|104357812345678901234", "email": "radia@acme.example" }, "strategy": "jwt", "credentials": { "jti": format!("{:032x}", hash3(seed, domain::SESSION, index)) } },
                },
                "response": { "statusCode": status, "body": {} },
            }));
            // Who acted; for a deleted user, Auth0 names the user deleted.
            let (user, name) = if kind.code == "du" {
                (user_id, email)
            } else {
                ("google-oauth2|104357812345678901234", "radia@acme.example")
            };
            fields.insert("user_id".into(), json!(user));
            fields.insert("user_name".into(), json!(name));
        }
        _ => {
            fields.insert("user_id".into(), json!(user_id));
            fields.insert("user_name".into(), json!(email));
            fields.insert("connection".into(), json!(connection));
            fields.insert("connection_id".into(), json!(connection_id));
            fields.insert("strategy".into(), json!(strategy));
            fields.insert("strategy_type".into(), json!(strategy_type));
            if kind.code.starts_with('f')
                || kind.code == "gd_auth_failed"
                || kind.code == "limit_wc"
            {
                fields.insert(
                    "details".into(),
                    json!({ "error": { "message": kind.description } }),
                );
            }
        }
    }
    log
}

/// Log `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The `log_id` of log `index`, without building the log.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    log_id(key(&crate::timeline_of(config), index))
}
