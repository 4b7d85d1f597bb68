//! Deterministic Entra activity records: every field is a pure function of `(seed, index)`,
//! and the index decides the log ([`Stream::of`]).
//!
//! The shapes follow Graph v1.0's `signIn` and `directoryAudit` resources. A sign-in has a
//! GUID `id`, `createdDateTime`, the user (`userDisplayName`, `userPrincipalName`, `userId`),
//! the app and resource signed in to, the client, `status` (`errorCode` 0 on success), the
//! device, the location and the conditional access outcome. A directory audit has an opaque
//! `id`, `activityDateTime`, `category`, `activityDisplayName`, `operationType`, `result`,
//! `loggedByService`, `initiatedBy` (a user or an app) and `targetResources`. Times carry
//! seven fractional digits, as Graph writes them.

use serde_json::{json, Value};

use super::Stream;
use crate::rng::{domain, hash3, unique_uuid, SplitMix64, ALNUM};
use crate::timeline::{format_millis, Timeline};
use crate::SimulatorConfig;

const PEOPLE: &[(&str, &str)] = &[
    ("Adele Vance", "adelev"),
    ("Alex Wilber", "alexw"),
    ("Megan Bowen", "meganb"),
    ("Nestor Wilke", "nestorw"),
    ("Patti Fernandez", "pattif"),
    ("Lynne Robbins", "lynner"),
];

/// Apps users sign in to: display name and app id (the first-party ids Microsoft publishes).
const APPS: &[(&str, &str)] = &[
    (
        "Office 365 Exchange Online",
        "00000002-0000-0ff1-ce00-000000000000",
    ),
    ("Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264"),
    ("Azure Portal", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"),
    ("Graph Explorer", "de8bc8b5-d9f9-48b1-a8ad-b748da725064"),
    (
        "Office 365 SharePoint Online",
        "00000003-0000-0ff1-ce00-000000000000",
    ),
];

/// Sign-in outcomes: error code, failure reason, weight.
const OUTCOMES: &[(u32, Option<&str>, u32)] = &[
    (0, None, 85),
    (
        50126,
        Some("Error validating credentials due to invalid username or password."),
        8,
    ),
    (50074, Some("Strong Authentication is required."), 4),
    (
        53003,
        Some("Access has been blocked by Conditional Access policies."),
        2,
    ),
    (50053, Some("Account is locked."), 1),
];

const CLIENTS: &[&str] = &[
    "Browser",
    "Mobile Apps and Desktop clients",
    "Exchange ActiveSync",
];
const DEVICES: &[(&str, &str)] = &[
    ("Windows 10", "Edge 120.0.0"),
    ("MacOs", "Chrome 120.0.0"),
    ("Ios", "Mobile Safari"),
    ("Android", "Chrome Mobile 120.0.0"),
];
const PLACES: &[(&str, &str, &str, f64, f64)] = &[
    ("Redmond", "Washington", "US", 47.68, -122.12),
    ("Dublin", "Dublin", "IE", 53.35, -6.26),
    ("Singapore", "Singapore", "SG", 1.29, 103.85),
    ("Sao Paulo", "Sao Paulo", "BR", -23.55, -46.63),
];

/// Directory activities: category, activity, operation type, service, target type.
const ACTIVITIES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "UserManagement",
        "Update user",
        "Update",
        "Core Directory",
        "User",
    ),
    (
        "UserManagement",
        "Add user",
        "Add",
        "Core Directory",
        "User",
    ),
    (
        "GroupManagement",
        "Add member to group",
        "Assign",
        "Core Directory",
        "Group",
    ),
    (
        "RoleManagement",
        "Add member to role",
        "Assign",
        "Core Directory",
        "Role",
    ),
    (
        "ApplicationManagement",
        "Add service principal credentials",
        "Update",
        "Core Directory",
        "ServicePrincipal",
    ),
    (
        "Policy",
        "Update conditional access policy",
        "Update",
        "Conditional Access",
        "Policy",
    ),
    (
        "UserManagement",
        "Reset password (self-service)",
        "Update",
        "Self-service Password Management",
        "User",
    ),
];

/// A stable GUID for a related object (user, app, group): `n`-th of kind `what`.
fn related(seed: u64, what: u64, n: u64) -> String {
    unique_uuid(hash3(seed, domain::OBJECT, what), n).to_string()
}

/// A Graph time: UTC, seven fractional digits (the simulator's times are whole milliseconds).
fn graph_time(ms: i64) -> String {
    let millis = format_millis(ms);
    match millis.strip_suffix('Z') {
        Some(body) => format!("{body}0000Z"),
        None => millis,
    }
}

fn user_principal(login: &str) -> String {
    format!("{login}@contoso.onmicrosoft.com")
}

/// The `id` of event `index`: sign-ins a GUID, directory audits Graph's
/// `Directory_<guid>_<5 characters>_<number>` form. Unique per index under one seed.
fn record_id(seed: u64, index: u64) -> String {
    let uuid = unique_uuid(seed, index);
    match Stream::of(index) {
        Stream::SignIns => uuid.to_string(),
        Stream::DirectoryAudits => {
            let mut rng = SplitMix64::new(hash3(seed, domain::SESSION, index));
            let suffix: String = rng.string(&ALNUM[10..36], 5);
            format!(
                "Directory_{uuid}_{suffix}_{}",
                10_000_000 + rng.below(90_000_000)
            )
        }
    }
}

/// The record of event `index`, as served.
pub(super) fn build(seed: u64, timeline: &Timeline, index: u64) -> Value {
    let time = graph_time(timeline.published_ms(index));
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let person = rng.below(PEOPLE.len() as u64);
    let (name, login) = PEOPLE[person as usize];
    let id = record_id(seed, index);
    let correlation = related(seed, 9, hash3(seed, domain::SESSION, index) % 100_000);
    match Stream::of(index) {
        Stream::SignIns => {
            let (app, app_id) = *rng.pick(APPS);
            let (code, reason, _) = *rng.pick_weighted(OUTCOMES, |o| o.2);
            let (os, browser) = *rng.pick(DEVICES);
            let (city, state, country, lat, lon) = *rng.pick(PLACES);
            let conditional = match code {
                53003 => "failure",
                0 if rng.percent(40) => "success",
                _ => "notApplied",
            };
            json!({
                "id": id,
                "createdDateTime": time,
                "userDisplayName": name,
                "userPrincipalName": user_principal(login),
                "userId": related(seed, 1, person),
                "appId": app_id,
                "appDisplayName": app,
                "ipAddress": format!("203.0.113.{}", rng.below(254) + 1),
                "clientAppUsed": *rng.pick(CLIENTS),
                "correlationId": correlation,
                "conditionalAccessStatus": conditional,
                "isInteractive": true,
                "riskDetail": "none",
                "riskLevelAggregated": "none",
                "riskLevelDuringSignIn": "none",
                "riskState": "none",
                "riskEventTypes_v2": [],
                "resourceDisplayName": "Microsoft Graph",
                "resourceId": "00000003-0000-0000-c000-000000000000",
                "status": {
                    "errorCode": code,
                    "failureReason": reason,
                    "additionalDetails": null,
                },
                "deviceDetail": {
                    "deviceId": "",
                    "displayName": null,
                    "operatingSystem": os,
                    "browser": browser,
                    "isCompliant": false,
                    "isManaged": false,
                    "trustType": null,
                },
                "location": {
                    "city": city,
                    "state": state,
                    "countryOrRegion": country,
                    "geoCoordinates": { "altitude": null, "latitude": lat, "longitude": lon },
                },
                "appliedConditionalAccessPolicies": [],
            })
        }
        Stream::DirectoryAudits => {
            let (category, activity, operation, service, target) = *rng.pick(ACTIVITIES);
            let succeeded = rng.percent(95);
            let initiated_by = if rng.percent(80) {
                json!({
                    "user": {
                        "id": related(seed, 1, person),
                        "displayName": name,
                        "userPrincipalName": user_principal(login),
                        "ipAddress": format!("198.51.100.{}", rng.below(254) + 1),
                        "userType": "Member",
                        "homeTenantId": null,
                        "homeTenantName": null,
                    },
                    "app": null,
                })
            } else {
                let (app, app_id) = *rng.pick(APPS);
                json!({
                    "user": null,
                    "app": {
                        "appId": app_id,
                        "displayName": app,
                        "servicePrincipalId": related(seed, 2, app_id.len() as u64),
                        "servicePrincipalName": null,
                    },
                })
            };
            let target_n = rng.below(40);
            json!({
                "id": id,
                "category": category,
                "correlationId": correlation,
                "result": if succeeded { "success" } else { "failure" },
                "resultReason": if succeeded { "" } else { "Microsoft.Online.Workflows.ObjectNotFoundException" },
                "activityDisplayName": activity,
                "activityDateTime": time,
                "loggedByService": service,
                "operationType": operation,
                "initiatedBy": initiated_by,
                "targetResources": [{
                    "id": related(seed, 3, target_n),
                    "displayName": format!("{target} {target_n}"),
                    "type": target,
                    "userPrincipalName": (target == "User").then(|| user_principal(PEOPLE[target_n as usize % PEOPLE.len()].1)),
                    "groupType": null,
                    "modifiedProperties": [],
                }],
                "additionalDetails": [],
            })
        }
    }
}

/// Event `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    build(config.seed, &crate::timeline_of(config), index)
}

/// The `id` of event `index`, without building the rest.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    record_id(config.seed, index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_times_have_seven_fractional_digits() {
        assert_eq!(
            graph_time(1_764_000_000_123),
            "2025-11-24T16:00:00.1230000Z"
        );
        let audit = record_id(42, 1);
        assert!(audit.starts_with("Directory_"), "{audit}");
        assert_eq!(record_id(42, 0).len(), 36);
    }
}
