//! Deterministic Okta `LogEvent`s: every field is a pure function of `(seed, index)`.

use serde::Serialize;

use super::data::{
    City, EventKind, Targets, APPS, AUTHENTICATORS, AUTOMATION_AGENT, BEHAVIORS, CITIES,
    DATACENTER, EVENT_KINDS, FIRST_NAMES, GROUPS, LAST_NAMES, POLICIES, USER_AGENTS,
};
use crate::rng::{domain, hash3, unique_uuid, SplitMix64, ALNUM, B64URL, HEX};
use crate::timeline::{format_millis, Timeline};
use crate::SimulatorConfig;

/// Number of events after which a user's session id rolls over, so consecutive events
/// of one user look like one sign-in session, as they do in a real org.
const SESSION_WINDOW: u64 = 5_000;
/// The first few users double as administrators for admin-only event types.
const ADMINS: u64 = 6;

/// `null` in JSON; Okta emits many always-null fields and clients must tolerate them.
#[derive(Serialize)]
struct Null;

/// `{}` in JSON.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogEvent {
    uuid: String,
    published: String,
    event_type: &'static str,
    version: &'static str,
    severity: &'static str,
    legacy_event_type: Option<&'static str>,
    display_message: &'static str,
    actor: Actor,
    client: Client,
    device: Null,
    authentication_context: AuthenticationContext,
    security_context: SecurityContext,
    outcome: Outcome,
    target: Vec<Target>,
    transaction: Transaction,
    debug_context: DebugContext,
    request: Request,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Actor {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    alternate_id: String,
    display_name: String,
    detail_entry: Null,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Client {
    user_agent: UserAgent,
    zone: &'static str,
    device: &'static str,
    id: Null,
    ip_address: String,
    geographical_context: GeoContext,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserAgent {
    raw_user_agent: &'static str,
    os: &'static str,
    browser: &'static str,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct GeoContext {
    city: &'static str,
    state: &'static str,
    country: &'static str,
    postal_code: &'static str,
    geolocation: Geolocation,
}

#[derive(Clone, Serialize)]
struct Geolocation {
    lat: f64,
    lon: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthenticationContext {
    authentication_provider: Option<&'static str>,
    credential_provider: Null,
    credential_type: Option<&'static str>,
    issuer: Null,
    interface: Null,
    authentication_step: u32,
    external_session_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecurityContext {
    as_number: u32,
    as_org: &'static str,
    isp: &'static str,
    domain: &'static str,
    is_proxy: bool,
}

#[derive(Serialize)]
struct Outcome {
    result: &'static str,
    reason: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    alternate_id: String,
    display_name: String,
    detail_entry: Option<DetailEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DetailEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    sign_on_mode_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method_type_used: Option<&'static str>,
}

#[derive(Serialize)]
struct Transaction {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    detail: Empty,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DebugContext {
    debug_data: DebugData,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DebugData {
    request_id: String,
    request_uri: &'static str,
    url: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dt_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    risk: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    behaviors: Option<&'static str>,
    threat_suspected: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    ip_chain: Vec<IpChainEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IpChainEntry {
    ip: String,
    geographical_context: GeoContext,
    version: &'static str,
    source: Null,
}

/// A member of the simulated org, derived from `(seed, number)` alone.
struct User {
    number: u64,
    id: String,
    email: String,
    display_name: String,
    home: &'static City,
    agent: (&'static str, &'static str, &'static str, &'static str),
    home_ip: String,
}

const USERS: u64 = (FIRST_NAMES.len() * LAST_NAMES.len()) as u64;

impl User {
    fn new(seed: u64, number: u64) -> Self {
        let mut rng = SplitMix64::new(hash3(seed, domain::USER, number));
        // (first, last) is a bijection of `number < USERS`, so emails are unique.
        let first = FIRST_NAMES[(number % FIRST_NAMES.len() as u64) as usize];
        let last =
            LAST_NAMES[(number / FIRST_NAMES.len() as u64 % LAST_NAMES.len() as u64) as usize];
        let home = rng.pick(CITIES);
        let agent = *rng.pick(USER_AGENTS);
        let home_ip = ip_in(home, &mut rng);
        Self {
            number,
            id: okta_id("00u", &mut rng),
            email: format!(
                "{}.{}@acme.example",
                first.to_lowercase(),
                last.to_lowercase()
            ),
            display_name: format!("{first} {last}"),
            home,
            agent,
            home_ip,
        }
    }

    fn as_target(&self) -> Target {
        Target {
            id: self.id.clone(),
            kind: "User",
            alternate_id: self.email.clone(),
            display_name: self.display_name.clone(),
            detail_entry: None,
        }
    }
}

/// A 20-character Okta object id such as `00u1a2B3c4D5e6F7g8H9`.
fn okta_id(prefix: &str, rng: &mut SplitMix64) -> String {
    let mut id = String::with_capacity(20);
    id.push_str(prefix);
    id.push_str(&rng.string(ALNUM, 20 - prefix.len()));
    id
}

fn ip_in(city: &City, rng: &mut SplitMix64) -> String {
    let [a, b] = city.ip_prefix;
    format!("{a}.{b}.{}.{}", rng.below(256), 1 + rng.below(254))
}

fn geo(city: &City) -> GeoContext {
    GeoContext {
        city: city.city,
        state: city.state,
        country: city.country,
        postal_code: city.postal_code,
        geolocation: Geolocation {
            lat: city.lat,
            lon: city.lon,
        },
    }
}

/// Where an event originated from.
struct Origin {
    city: &'static City,
    agent: (&'static str, &'static str, &'static str, &'static str),
    ip: String,
}

fn origin(kind: &EventKind, user: &User, rng: &mut SplitMix64) -> Origin {
    if matches!(kind.targets, Targets::Token) || (kind.admin_only && rng.percent(30)) {
        let ip = ip_in(&DATACENTER, rng);
        return Origin {
            city: &DATACENTER,
            agent: AUTOMATION_AGENT,
            ip,
        };
    }
    if rng.percent(8) {
        // Travelling or on a VPN: a different place than usual.
        let city = rng.pick(CITIES);
        let ip = ip_in(city, rng);
        return Origin {
            city,
            agent: user.agent,
            ip,
        };
    }
    Origin {
        city: user.home,
        agent: user.agent,
        ip: user.home_ip.clone(),
    }
}

/// A stable id for an org object, unique per `(prefix, number)`; the prefix takes part
/// in the hash so an app and a policy with the same number do not share id characters.
fn object_id(seed: u64, prefix: &str, number: u64) -> String {
    let tag = prefix.bytes().fold(0u64, |acc, b| acc << 8 | u64::from(b));
    okta_id(
        prefix,
        &mut SplitMix64::new(hash3(seed ^ tag, domain::OBJECT, number)),
    )
}

/// A target naming a shared org object (app, policy, group, ...).
fn named(seed: u64, prefix: &str, number: u64, kind: &'static str, name: &str) -> Target {
    Target {
        id: object_id(seed, prefix, number),
        kind,
        alternate_id: name.to_string(),
        display_name: name.to_string(),
        detail_entry: None,
    }
}

fn enrollment(seed: u64, prefix: &str, number: u64, name: &str, method: &'static str) -> Target {
    Target {
        detail_entry: Some(DetailEntry {
            sign_on_mode_type: None,
            method_type_used: Some(method),
        }),
        ..named(seed, prefix, number, "AuthenticatorEnrollment", name)
    }
}

fn app_targets(seed: u64, user: &User, rng: &mut SplitMix64) -> Vec<Target> {
    let n = rng.below(APPS.len() as u64);
    let (label, name, mode) = APPS[n as usize];
    let app = Target {
        alternate_id: name.to_string(),
        detail_entry: Some(DetailEntry {
            sign_on_mode_type: Some(mode),
            method_type_used: None,
        }),
        ..named(seed, "0oa", n, "AppInstance", label)
    };
    let app_user = Target {
        id: object_id(seed, "0ua", n * USERS + user.number),
        kind: "AppUser",
        alternate_id: user.email.clone(),
        display_name: user.display_name.clone(),
        detail_entry: None,
    };
    vec![app, app_user]
}

fn targets(kind: &EventKind, seed: u64, user: &User, rng: &mut SplitMix64) -> Vec<Target> {
    let mut pick = |len: usize| rng.below(len as u64);
    match kind.targets {
        Targets::Password => vec![enrollment(seed, "lae", user.number, "Password", "password")],
        Targets::App => app_targets(seed, user, rng),
        Targets::AuthServer => {
            let n = pick(APPS.len());
            vec![
                named(seed, "aus", 0, "AuthorizationServer", "default"),
                named(seed, "0oa", n, "AppInstance", APPS[n as usize].0),
            ]
        }
        Targets::Policy => {
            let n = pick(POLICIES.len());
            let (policy, rule) = POLICIES[n as usize];
            vec![
                named(seed, "00p", n, "PolicyEntity", policy),
                named(seed, "0pr", n, "PolicyRule", rule),
            ]
        }
        Targets::Authenticator => {
            let n = pick(AUTHENTICATORS.len());
            let (name, method) = AUTHENTICATORS[n as usize];
            let number = user.number * AUTHENTICATORS.len() as u64 + n;
            vec![enrollment(seed, "pfd", number, name, method)]
        }
        Targets::Membership => {
            let n = pick(GROUPS.len());
            let member = User::new(seed, pick(USERS as usize));
            vec![
                member.as_target(),
                named(seed, "00g", n, "UserGroup", GROUPS[n as usize]),
            ]
        }
        Targets::SelfUser => vec![user.as_target()],
        Targets::OtherUser => vec![User::new(seed, pick(USERS as usize)).as_target()],
        Targets::Token => vec![Target {
            display_name: format!("automation-{}", rng.string(HEX, 6)),
            ..named(seed, "00T", rng.next_u64(), "Token", "unknown")
        }],
    }
}

fn build_event(seed: u64, timeline: &Timeline, index: u64) -> LogEvent {
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let kind = rng.pick_weighted(EVENT_KINDS, |k| k.weight);
    let result = rng.pick_weighted(kind.outcomes, |o| o.weight);
    let users = if kind.admin_only { ADMINS } else { USERS };
    let user = User::new(seed, rng.below(users));
    let from = origin(kind, &user, &mut rng);
    let request = request(&from, &mut rng);
    let request_id = rng.string(B64URL, 27);
    LogEvent {
        uuid: unique_uuid(seed, index).to_string(),
        published: format_millis(timeline.published_ms(index)),
        event_type: kind.event_type,
        version: "0",
        severity: result.severity,
        legacy_event_type: result.legacy.or(kind.legacy),
        display_message: kind.message,
        actor: Actor {
            id: user.id.clone(),
            kind: "User",
            alternate_id: user.email.clone(),
            display_name: user.display_name.clone(),
            detail_entry: Null,
        },
        client: client(&from),
        device: Null,
        authentication_context: authentication_context(kind, seed, index, &user),
        security_context: SecurityContext {
            as_number: from.city.as_number,
            as_org: from.city.as_org,
            isp: from.city.isp,
            domain: from.city.domain,
            is_proxy: request.ip_chain.len() > 1,
        },
        outcome: Outcome {
            result: result.result,
            reason: result.reason,
        },
        target: targets(kind, seed, &user, &mut rng),
        transaction: Transaction {
            kind: "WEB",
            id: request_id.clone(),
            detail: Empty {},
        },
        debug_context: debug_context(kind, request_id, &mut rng),
        request,
    }
}

fn client(from: &Origin) -> Client {
    let (raw_user_agent, os, browser, device) = from.agent;
    Client {
        user_agent: UserAgent {
            raw_user_agent,
            os,
            browser,
        },
        zone: "null",
        device,
        id: Null,
        ip_address: from.ip.clone(),
        geographical_context: geo(from.city),
    }
}

/// The client's address, sometimes followed by the corporate proxy it came through.
fn request(from: &Origin, rng: &mut SplitMix64) -> Request {
    let hop = |ip| IpChainEntry {
        ip,
        geographical_context: geo(from.city),
        version: "V4",
        source: Null,
    };
    let mut ip_chain = vec![hop(from.ip.clone())];
    if rng.percent(10) {
        let proxy = format!(
            "10.{}.{}.{}",
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        );
        ip_chain.push(hop(proxy));
    }
    Request { ip_chain }
}

fn is_sign_in(kind: &EventKind) -> bool {
    matches!(
        kind.event_type,
        "user.session.start" | "policy.evaluate_sign_on" | "user.mfa.factor.verify"
    )
}

fn authentication_context(
    kind: &EventKind,
    seed: u64,
    index: u64,
    user: &User,
) -> AuthenticationContext {
    // One session per user per window of events, so a user's consecutive events share
    // a session id as they would in a real org.
    let session = hash3(seed, domain::SESSION, index / SESSION_WINDOW) ^ user.number;
    let password_login = kind.event_type == "user.session.start";
    AuthenticationContext {
        authentication_provider: password_login.then_some("OKTA_AUTHENTICATION_PROVIDER"),
        credential_provider: Null,
        credential_type: password_login.then_some("PASSWORD"),
        issuer: Null,
        interface: Null,
        authentication_step: 0,
        external_session_id: format!("102{}", base62_of(session, 22)),
    }
}

fn debug_context(kind: &EventKind, request_id: String, rng: &mut SplitMix64) -> DebugContext {
    // Okta attaches risk scoring and behavior detection to sign-in flows only.
    let sign_in = is_sign_in(kind);
    let risk = if rng.percent(5) {
        "{reasons=Anomalous Location, level=MEDIUM}"
    } else {
        "{level=LOW}"
    };
    DebugContext {
        debug_data: DebugData {
            request_id,
            request_uri: kind.request_uri,
            url: kind.url,
            dt_hash: sign_in.then(|| rng.string(HEX, 64)),
            risk: sign_in.then_some(risk),
            behaviors: sign_in.then_some(BEHAVIORS),
            threat_suspected: "false",
        },
    }
}

/// `len` base-62 characters determined by `value`.
pub(super) fn base62_of(value: u64, len: usize) -> String {
    SplitMix64::new(value).string(ALNUM, len)
}

/// Event `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> serde_json::Value {
    let timeline = crate::timeline_of(config);
    // LogEvent contains only strings, numbers, bools and nested structs, so
    // serialization into a Value cannot fail.
    serde_json::to_value(build_event(config.seed, &timeline, index))
        .expect("LogEvent always serializes")
}

/// The `uuid` of event `index`, without building the rest of the event.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    unique_uuid(config.seed, index).to_string()
}

/// Events `indices` serialized as one JSON array.
pub(super) fn render_page(seed: u64, timeline: &Timeline, indices: &[u64]) -> Vec<u8> {
    // Events average ~2 KB; the cap keeps a misconfigured huge page from reserving
    // memory up front (it can still grow as it is actually written).
    let mut body = Vec::with_capacity(indices.len().min(4096) * 2048 + 2);
    body.push(b'[');
    for (n, &index) in indices.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        // Writing into a Vec cannot fail and LogEvent always serializes.
        serde_json::to_writer(&mut body, &build_event(seed, timeline, index))
            .expect("LogEvent always serializes into a Vec");
    }
    body.push(b']');
    body
}
