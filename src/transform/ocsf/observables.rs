//! OCSF `observables`: the pivot values of a mapped event (addresses, emails, user names,
//! hostnames, URLs, hashes), listed once each as `{name, type_id, type, value}` so a SIEM
//! finds every event that mentions one value without knowing where each class keeps it.
//!
//! They are found in the mapped event itself, never listed per preset: an attribute is an
//! observable by its OCSF dictionary type (`ip_t` → 2 IP Address, `email_t` → 5, ...),
//! which in OCSF 1.7.0 follows from the attribute's name (every `ip` is an `ip_t`, every
//! `email_addr` an `email_t`), or, for `name`, from the object it belongs to (a user's
//! `name` is a `username_t`, a file's is not). Hashes are the `value` of a fingerprint
//! object (one with an `algorithm_id`). The type ids are the `observable` object's
//! `type_id` enum.

use serde_json::{Map, Value};

/// At most this many observables per event: a mapped event is small, but a vendor array
/// copied whole could list thousands of addresses.
const MAX_OBSERVABLES: usize = 64;

/// Attributes not searched: the vendor's leftovers are not OCSF attributes, and the
/// enrichments and observables are derived values.
const SKIPPED: &[&str] = &[
    "unmapped",
    "raw_data",
    "observables",
    "enrichments",
    "metadata",
];

/// Objects whose `name` is a user name (`username_t`): the `user` object wherever it sits.
const USER_OBJECTS: &[&str] = &[
    "user",
    "users",
    "owner",
    "creator",
    "modifier",
    "accessor",
    "accessors",
    "manager",
];

/// The observable type (`type_id`, caption) of attribute `key` of the object under
/// `parent`, when it is one.
fn type_of(parent: Option<&str>, key: &str) -> Option<(u8, &'static str)> {
    Some(match key {
        "hostname" => (1, "Hostname"),
        "ip" | "intermediate_ips" | "x_forwarded_for" | "x_originating_ip" => (2, "IP Address"),
        "mac" => (3, "MAC Address"),
        "name" if parent.is_some_and(|p| USER_OBJECTS.contains(&p)) => (4, "User Name"),
        "email_addr" | "email_addrs" | "forward_addr" => (5, "Email Address"),
        "url_string" | "uri" => (6, "URL String"),
        _ => return None,
    })
}

/// One observable found, before it becomes its JSON object: the walk compares and collects
/// these without building a tree per candidate.
struct Found<'e> {
    name: String,
    type_id: u8,
    caption: &'static str,
    value: &'e str,
}

/// Adds `observables` to the mapped OCSF event `event` (after any a mapping set itself);
/// leaves it without one when it holds no observable value.
pub(super) fn add(event: &mut Value) {
    let Some(object) = event.as_object() else {
        return;
    };
    let mut found: Vec<Found> = Vec::new();
    // One buffer holds the path of the attribute being looked at, grown and cut back as the
    // walk goes down and up: most attributes are not observables, and formatting a path
    // for each cost more than the rest of the walk.
    let mut name = String::new();
    for (key, value) in object {
        if !SKIPPED.contains(&key.as_str()) {
            name.clear();
            name.push_str(key);
            walk(None, key, &mut name, value, &mut found);
        }
    }
    if found.is_empty() {
        return;
    }
    let found: Vec<Value> = found
        .into_iter()
        .map(|o| {
            let mut object = Map::new();
            object.insert("name".into(), Value::String(o.name));
            object.insert("type".into(), Value::String(o.caption.into()));
            object.insert("type_id".into(), Value::from(o.type_id));
            object.insert("value".into(), Value::String(o.value.into()));
            Value::Object(object)
        })
        .collect();
    match event.get_mut("observables") {
        Some(Value::Array(list)) => list.extend(found),
        _ => event["observables"] = Value::Array(found),
    }
}

/// Lists `event`'s observables again, after steps that ran after the mapping changed it (a
/// `hash` or `redact` step on an email must not leave the email in `observables`). Only an
/// event the mapping gave observables is touched.
pub(super) fn refresh(event: &mut Value) {
    let Some(object) = event.as_object_mut() else {
        return;
    };
    if object.remove("observables").is_some() {
        add(event);
    }
}

/// Collects the observables of attribute `key` (its path in `name`, in the object under
/// `parent`). `name` is left as it was given.
fn walk<'e>(
    parent: Option<&str>,
    key: &str,
    name: &mut String,
    value: &'e Value,
    found: &mut Vec<Found<'e>>,
) {
    if found.len() >= MAX_OBSERVABLES {
        return;
    }
    match value {
        Value::String(text) => {
            if let Some((type_id, caption)) = type_of(parent, key) {
                push(found, name, type_id, caption, text);
            }
        }
        Value::Array(items) => {
            // OCSF's notation for any element of an array attribute: `resources[].uid`.
            let len = name.len();
            name.push_str("[]");
            for item in items {
                walk(parent, key, name, item, found);
            }
            name.truncate(len);
        }
        Value::Object(fields) => object(key, name, fields, found),
        _ => {}
    }
}

fn object<'e>(
    key: &str,
    name: &mut String,
    fields: &'e Map<String, Value>,
    found: &mut Vec<Found<'e>>,
) {
    let len = name.len();
    // A fingerprint: `{algorithm_id, value}`, its value a hash.
    if fields.contains_key("algorithm_id") {
        if let Some(Value::String(hash)) = fields.get("value") {
            name.push_str(".value");
            push(found, name, 8, "Hash", hash);
            name.truncate(len);
        }
    }
    for (inner, value) in fields {
        name.push('.');
        name.push_str(inner);
        walk(Some(key), inner, name, value, found);
        name.truncate(len);
    }
}

fn push<'e>(
    found: &mut Vec<Found<'e>>,
    name: &str,
    type_id: u8,
    caption: &'static str,
    value: &'e str,
) {
    if value.is_empty() || found.len() >= MAX_OBSERVABLES {
        return;
    }
    let seen = found
        .iter()
        .any(|o| o.name == name && o.value == value && o.type_id == type_id);
    if !seen {
        found.push(Found {
            name: name.to_string(),
            type_id,
            caption,
            value,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn observables(event: Value) -> Vec<(String, u64, String)> {
        let mut event = event;
        add(&mut event);
        event["observables"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|o| {
                        (
                            o["name"].as_str().unwrap().to_string(),
                            o["type_id"].as_u64().unwrap(),
                            o["value"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn row(name: &str, type_id: u64, value: &str) -> (String, u64, String) {
        (name.to_string(), type_id, value.to_string())
    }

    #[test]
    fn addresses_emails_user_names_hostnames_urls_and_hashes_are_found_by_attribute() {
        let found = observables(json!({
            "class_uid": 3002,
            "src_endpoint": {"ip": "192.0.2.7", "hostname": "laptop-7", "port": 443},
            "actor": {"user": {"name": "ana", "email_addr": "ana@example.com", "uid": "u1"}},
            "web_resources": [{"url_string": "https://example.com/a", "name": "a report"}],
            "file": {"name": "a.txt", "hashes": [{"algorithm_id": 3, "value": "ab12"}]},
            "unmapped": {"ip": "198.51.100.1"},
            "metadata": {"product": {"name": "Okta"}}
        }));
        assert_eq!(
            found,
            vec![
                row("actor.user.email_addr", 5, "ana@example.com"),
                row("actor.user.name", 4, "ana"),
                row("file.hashes[].value", 8, "ab12"),
                row("src_endpoint.hostname", 1, "laptop-7"),
                row("src_endpoint.ip", 2, "192.0.2.7"),
                row("web_resources[].url_string", 6, "https://example.com/a"),
            ]
        );
    }

    #[test]
    fn a_refresh_lists_the_values_as_later_steps_left_them() {
        let mut event = json!({"actor": {"user": {"email_addr": "ana@example.com"}}});
        add(&mut event);
        event["actor"]["user"]["email_addr"] = json!("pii:0a1b");
        refresh(&mut event);
        assert_eq!(event["observables"][0]["value"], "pii:0a1b", "{event}");
        assert_eq!(event["observables"].as_array().unwrap().len(), 1);
        let mut plain = json!({"ip": "10.0.0.1"});
        refresh(&mut plain);
        assert!(
            plain.get("observables").is_none(),
            "only mapped events get them"
        );
    }

    #[test]
    fn an_event_without_such_values_gets_no_observables_and_repeats_are_listed_once() {
        let mut event = json!({"class_uid": 3004, "entity": {"name": "policy"}});
        add(&mut event);
        assert!(event.get("observables").is_none(), "{event}");
        let ips: Vec<Value> = (0..200).map(|i| json!(format!("10.0.0.{i}"))).collect();
        let found = observables(json!({
            "dst_endpoint": {"intermediate_ips": ips},
            "src_endpoint": {"ip": "10.0.0.1"}
        }));
        assert_eq!(found.len(), MAX_OBSERVABLES, "bounded");
        let found = observables(
            json!({"device": {"ip": "10.0.0.1"}, "x": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.1"}]}),
        );
        assert_eq!(found.len(), 2, "{found:?}");
    }
}
