//! Deterministic Vicarius vRx incident events: every field is a pure function of
//! `(seed, index)`.
//!
//! The shape follows the recorded `incidentEvent/filter` answer in Vicarius's public
//! resources: `incidentEventIncidentEventType`, `incidentEventEndpoint` (with its
//! organization), `incidentEventOrganizationPublisherProducts` (publisher and product),
//! `incidentEventVulnerability` (summary, CVE, sensitivity level, CVSS v3 scores) for the
//! vulnerability events, the flat ids, `_id`, and the `analyticsEvent*` times: epoch
//! milliseconds in `analyticsEventCreatedAt`/`analyticsEventUpdatedAt` and epoch nanoseconds
//! in `analyticsEventCreatedAtNano`/`analyticsEventUpdatedAtNano`.

use serde_json::{json, Value};

use crate::rng::{domain, hash3, unique_uuid, SplitMix64, HEX};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// Event types and their weights; the first two carry a vulnerability.
const TYPES: &[(&str, u32)] = &[
    ("DetectedVulnerability", 45),
    ("MitigatedVulnerability", 35),
    ("NewPublisherProduct", 8),
    ("NewPublisherOperatingSystem", 3),
    ("NewEndpoint", 4),
    ("EndpointRemoved", 3),
    ("ImpersonationAttempt", 2),
];

const ENDPOINTS: &[&str] = &[
    "LAPTOP-ADA01",
    "LAPTOP-GRACE7",
    "SRV-DB-02",
    "SRV-WEB-11",
    "BUILD-AGENT-3",
    "KIOSK-LOBBY",
];
const PRODUCTS: &[(&str, &str)] = &[
    ("Microsoft", "Office"),
    ("Google", "Chrome"),
    ("Mozilla", "Firefox"),
    ("Oracle", "Java Runtime Environment"),
    ("Adobe", "Acrobat Reader"),
    ("OpenSSL Project", "OpenSSL"),
];
const SUMMARIES: &[&str] = &[
    "Remote Code Execution Vulnerability",
    "Elevation of Privilege Vulnerability",
    "Information Disclosure Vulnerability",
    "Security Feature Bypass Vulnerability",
    "Denial of Service Vulnerability",
];
const LEVELS: &[(&str, u32, f64)] = &[
    ("Critical", 4, 9.8),
    ("High", 3, 7.8),
    ("Medium", 2, 5.5),
    ("Low", 1, 3.1),
];
const ORGANIZATION: &str = "Acme";
const ORGANIZATION_PREFIX: &str = "acme";

/// The per-event random stream.
fn rng(config: &SimulatorConfig, index: u64) -> SplitMix64 {
    SplitMix64::new(hash3(config.seed, domain::EVENT, index))
}

/// The type of event `index` (its first draw, so filtering by type is cheap).
pub(crate) fn event_type(config: &SimulatorConfig, index: u64) -> &'static str {
    rng(config, index).pick_weighted(TYPES, |t| t.1).0
}

fn is_vulnerability(kind: &str) -> bool {
    kind.ends_with("Vulnerability")
}

/// The organization's unique identifier (32 hex digits).
fn organization_uid(seed: u64) -> String {
    SplitMix64::new(hash3(seed, domain::OBJECT, u64::MAX)).string(HEX, 32)
}

/// The time of event `index` in epoch nanoseconds: its millisecond on the timeline plus a
/// sub-millisecond part that keeps events of the same millisecond in index order: the
/// event's rank in its millisecond as microseconds, with arbitrary nanoseconds, for the first
/// 999; past them (only a dense test timeline has so many) one nanosecond apart, then equal.
pub(crate) fn time_ns(timeline: &Timeline, index: u64) -> i128 {
    let ms = timeline.published_ms(index);
    let rank = index - timeline.first_at_or_after(ms).min(index);
    let sub = if rank < 999 {
        rank * 1_000 + hash3(0, domain::SUB_MILLI, index) % 1_000
    } else {
        999_000 + (rank - 999).min(999)
    };
    i128::from(ms) * 1_000_000 + i128::from(sub)
}

/// The first index whose time in nanoseconds is at or after `ns`.
pub(crate) fn first_at_or_after_ns(timeline: &Timeline, ns: i128) -> u64 {
    let ms = ns.div_euclid(1_000_000);
    let ms = i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX });
    let mut index = timeline.first_at_or_after(ms);
    while index < timeline.len()
        && timeline.published_ms(index) == ms
        && time_ns(timeline, index) < ns
    {
        index += 1;
    }
    index
}

/// The `_id` of event `index`: `<type>_<organization uid>_<endpoint hash>_<suffix>`, where the
/// suffix is the vulnerability id of a vulnerability event and a unique hex string otherwise;
/// unique because the endpoint hash is the index's unique UUID.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    let kind = event_type(config, index);
    let hash = unique_uuid(config.seed, index).simple().to_string();
    format!(
        "{kind}_{}_{hash}_{}",
        organization_uid(config.seed),
        vulnerability_id(config, index)
    )
}

fn vulnerability_id(config: &SimulatorConfig, index: u64) -> u64 {
    300_000 + hash3(config.seed, domain::USER, index) % 100_000
}

fn build(config: &SimulatorConfig, timeline: &Timeline, index: u64) -> Value {
    let mut rng = rng(config, index);
    let kind = rng.pick_weighted(TYPES, |t| t.1).0;
    let endpoint_name = *rng.pick(ENDPOINTS);
    let endpoint_id = 239_000 + rng.below(1_000);
    let (publisher, product) = *rng.pick(PRODUCTS);
    let publisher_id = 20_000 + rng.below(100);
    let product_id = 43_000 + rng.below(1_000);
    let org_uid = organization_uid(config.seed);
    let endpoint_hash = unique_uuid(config.seed, index).simple().to_string();
    let ns = time_ns(timeline, index);
    let ms = i64::try_from(ns.div_euclid(1_000_000)).unwrap_or(i64::MIN);
    let ns = i64::try_from(ns).unwrap_or(i64::MIN);
    let organization = json!({
        "organizationUniqueIdentifier": org_uid,
        "organizationDomainPrefix": ORGANIZATION_PREFIX,
        "organizationName": ORGANIZATION,
        "organizationId": 2472,
    });
    let mut event = json!({
        "incidentEventIncidentEventType": kind,
        "incidentEventEndpoint": {
            "endpointId": endpoint_id,
            "endpointName": endpoint_name,
            "endpointHash": endpoint_hash,
            "endpointAlive": kind != "EndpointRemoved",
            "endpointOrganization": organization,
            "organizationId": 2472,
        },
        "incidentEventOrganizationPublisherProducts": {
            "organizationId": 2472,
            "publisherId": publisher_id,
            "productId": product_id,
            "organizationPublisherProductsPublisher": { "publisherId": publisher_id, "publisherName": publisher },
            "organizationPublisherProductsProduct": { "productId": product_id, "productName": product },
        },
        "organizationId": 2472,
        "endpointId": endpoint_id,
        "publisherId": publisher_id,
        "productId": product_id,
        "_id": event_id(config, index),
        "analyticsEventUpdatedAt": ms,
        "analyticsEventCreatedAt": ms,
        "analyticsEventUpdatedAtNano": ns,
        "analyticsEventCreatedAtNano": ns,
        "analyticsEventAnalyticsEventPair": {
            "analyticsEventPairAnalyticsEventAction": "IncidentEvent",
            "analyticsEventPairMessage": "Stored incident event.",
        },
    });
    if is_vulnerability(kind) {
        let (level, rank, score) = *rng.pick(LEVELS);
        let year = 2022 + rng.below(4);
        let cve = format!("CVE-{year}-{}", 10_000 + rng.below(40_000));
        let vulnerability_id = vulnerability_id(config, index);
        event["incidentEventVulnerability"] = json!({
            "vulnerabilityId": vulnerability_id,
            "vulnerabilitySummary": format!("{publisher} {product} {}", rng.pick(SUMMARIES)),
            "vulnerabilitySensitivityLevel": { "sensitivityLevelName": level, "sensitivityLevelRank": rank },
            "vulnerabilityExternalReference": { "externalReferenceExternalId": cve },
            "vulnerabilityV3BaseScore": score,
            "vulnerabilityV3ExploitabilityLevel": 1.8,
        });
        event["vulnerabilityId"] = json!(vulnerability_id);
        if kind == "MitigatedVulnerability" {
            event["incidentEventDetecetdDate"] = json!(ms - 86_400_000);
        }
    }
    event
}

/// Event `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config, &crate::timeline_of(config), index)
}

/// `{"serverResponseResult":{...},"serverResponseObject":[...]}` for the events at
/// `indices`, in that order.
pub(super) fn render_page(
    config: &SimulatorConfig,
    timeline: &Timeline,
    indices: &[u64],
) -> Vec<u8> {
    let mut body = br#"{"serverResponseResult":{"serverResponseResultCode":"SUCCESS","serverResponseResultExecutionTime":3},"serverResponseObject":["#.to_vec();
    for (n, index) in indices.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        // Writing a JSON value into a Vec cannot fail.
        serde_json::to_writer(&mut body, &build(config, timeline, *index))
            .expect("a JSON value always serializes into a Vec");
    }
    body.extend_from_slice(b"]}");
    body
}
