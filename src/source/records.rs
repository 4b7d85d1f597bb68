//! Taking records out of a response body, and the event time and id out of each record.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use super::path::lookup;
use super::path::JsonPath;
use super::raw::RawJson;
use crate::source::config::{EventIdConfig, EventTimeConfig};

/// One event as the source read it: its time, its id and the raw record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Event time, from the configured path.
    pub time: DateTime<Utc>,
    /// Unique id, from the configured path or a content hash.
    pub id: String,
    /// The record exactly as the API sent it (whitespace between tokens removed).
    pub data: RawJson,
}

/// A response or record that does not have the shape the config describes. Each message
/// names the configured path and what is there instead (cut short: records hold personal
/// data); the source adds the page URL and the config keys to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordsError {
    /// Nothing at `records_path`.
    #[error("no `{path}` in the response body")]
    NoRecords {
        /// The configured path.
        path: String,
    },
    /// Something other than an array (or null) at `records_path`.
    #[error("`{at}` is {kind}, not an array of records")]
    NotAnArray {
        /// The path, or `the body` for the empty path.
        at: String,
        /// What is there, with its article.
        kind: &'static str,
    },
    /// The event time or id is not JSON that can be read.
    #[error("{what} at `{path}` cannot be read: {detail}")]
    Unreadable {
        /// `event time` or `event id`.
        what: &'static str,
        /// The configured path.
        path: String,
        /// The parser's message.
        detail: String,
    },
    /// No event time at its path.
    #[error("record has no event time at `{path}`")]
    NoTime {
        /// The configured path.
        path: String,
    },
    /// The event time does not parse in the configured format.
    #[error("event time at `{path}` is {held} and does not parse as {format}")]
    TimeFormat {
        /// The configured path.
        path: String,
        /// The value, cut short.
        held: String,
        /// The configured format, as the config spells it.
        format: String,
    },
    /// The event id is of a kind that cannot be an id.
    #[error("event id at `{path}` is {held}, not a string, number or non-empty object")]
    BadId {
        /// The configured path.
        path: String,
        /// The value, cut short.
        held: String,
    },
    /// No event id at its path.
    #[error("record has no event id at `{path}`")]
    NoId {
        /// The configured path.
        path: String,
    },
    /// A record without an id path that cannot be parsed to hash its content.
    #[error("record cannot be read to compute its content id: {0}")]
    Unhashable(String),
}

/// Moves the records array out of `body`. `Err` says what was found instead.
pub fn take_records(body: &mut Value, path: &JsonPath) -> Result<Vec<Value>, RecordsError> {
    let node = path
        .lookup_mut(body)
        .ok_or_else(|| RecordsError::NoRecords {
            path: path.to_string(),
        })?;
    match node.take() {
        Value::Array(items) => Ok(items),
        // Some APIs omit the array or send null when a window is empty.
        Value::Null => Ok(Vec::new()),
        other => Err(RecordsError::NotAnArray {
            at: if path.is_empty() {
                "the body".to_string()
            } else {
                path.as_str().to_string()
            },
            kind: kind(&other),
        }),
    }
}

/// Gives the second, third, ... record of one page with the same content id (a source without
/// an id path) the ids `<hash>-2`, `<hash>-3`, ...: two equal records in one answer are two
/// events (LastPass can log two identical failed logins in one second), not a repeat, which
/// APIs make across pages and windows only. The first keeps the plain hash, so re-reading the
/// same answer (an overlap, a retried page) numbers them alike and drops them as delivered.
pub fn number_repeats(records: &mut [Record]) {
    let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for record in records.iter_mut() {
        let count = seen.entry(record.id.clone()).or_insert(0);
        *count += 1;
        if *count > 1 {
            record.id = format!("{}-{count}", record.id);
        }
    }
}

/// Reads time and id from a raw record, parsing only the two fields. `Err` names the field
/// and what is wrong with it.
pub fn to_record(
    data: RawJson,
    time: &EventTimeConfig,
    id: &EventIdConfig,
) -> Result<Record, RecordsError> {
    let mut paths = vec![&time.path];
    paths.extend(id.path.as_ref());
    let mut found = super::raw_path::find(data.as_str(), &paths).into_iter();
    let (raw_time, raw_id) = (found.next().flatten(), found.next().flatten());
    let field = |raw: Option<&serde_json::value::RawValue>, what: &'static str, path: &JsonPath| {
        raw.map(|raw| {
            serde_json::from_str::<Value>(raw.get()).map_err(|err| RecordsError::Unreadable {
                what,
                path: path.to_string(),
                detail: err.to_string(),
            })
        })
        .transpose()
    };
    let raw_time =
        field(raw_time, "event time", &time.path)?.ok_or_else(|| RecordsError::NoTime {
            path: time.path.to_string(),
        })?;
    let raw_time = &raw_time;
    let parsed = crate::timefmt::parse_value(raw_time, &time.format).ok_or_else(|| {
        RecordsError::TimeFormat {
            path: time.path.to_string(),
            held: short(raw_time),
            format: format!("{:?}", time.format),
        }
    })?;
    let id = match &id.path {
        Some(path) => match field(raw_id, "event id", path)? {
            Some(Value::String(s)) if !s.is_empty() => s,
            Some(Value::Number(n)) => n.to_string(),
            // A compound id (Google Reports' `id {time, uniqueQualifier, applicationName,
            // customerId}`): the object itself, written canonically so key order and spacing
            // in the API's answer do not change it.
            Some(compound @ (Value::Object(_) | Value::Array(_))) if !is_empty(&compound) => {
                canonical(&compound)
            }
            Some(other) => {
                return Err(RecordsError::BadId {
                    path: path.to_string(),
                    held: short(&other),
                })
            }
            None => {
                return Err(RecordsError::NoId {
                    path: path.to_string(),
                })
            }
        },
        None => content_hash(&data)?,
    };
    Ok(Record {
        time: parsed,
        id,
        data,
    })
}

/// A stable id for records without one: SHA-256 of the record parsed and serialized again.
/// serde_json keeps object keys sorted (no `preserve_order`), so equal records hash equally
/// whatever their key order or spelling, and ids stay those earlier versions gave. Only
/// sources without an id path pay for this parse.
fn content_hash(data: &RawJson) -> Result<String, RecordsError> {
    let tree = data
        .to_value()
        .map_err(|err| RecordsError::Unhashable(err.to_string()))?;
    let digest = Sha256::digest(tree.to_string().as_bytes());
    Ok(digest.iter().take(16).map(|b| format!("{b:02x}")).collect())
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Compact JSON text with object keys sorted at every level, whatever order the API wrote
/// them in (and whichever map `serde_json` is built with).
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for an error message: short, so a huge or sensitive field is not dumped.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}...", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn equal_records_of_one_page_get_numbered_ids() {
        let time = EventTimeConfig {
            path: JsonPath::parse("Time").unwrap(),
            format: crate::timefmt::TimeFormat::Strftime("%Y-%m-%d %H:%M:%S".into()),
        };
        let id = EventIdConfig::default();
        let read = |text: &str| to_record(RawJson::parse(text).unwrap(), &time, &id).unwrap();
        let same = r#"{"Time":"2026-11-01 01:30:00","Action":"Failed Login Attempt"}"#;
        let other = r#"{"Time":"2026-11-01 01:30:00","Action":"Log in"}"#;
        let mut page = vec![read(same), read(other), read(same), read(same)];
        let (plain, different) = (page[0].id.clone(), page[1].id.clone());
        number_repeats(&mut page);
        let ids: Vec<String> = page.iter().map(|r| r.id.clone()).collect();
        assert_eq!(
            ids,
            vec![
                plain.clone(),
                different.clone(),
                format!("{plain}-2"),
                format!("{plain}-3")
            ]
        );
        assert_ne!(different, plain);
    }

    use super::*;
    use crate::model::TimeFormat;
    use serde_json::json;

    fn p(text: &str) -> JsonPath {
        JsonPath::parse(text).unwrap()
    }

    fn time_cfg(path: &str) -> EventTimeConfig {
        EventTimeConfig {
            path: p(path),
            format: TimeFormat::Rfc3339,
        }
    }

    #[test]
    fn records_from_root_or_nested_path() {
        assert_eq!(take_records(&mut json!([1, 2]), &p("")).unwrap().len(), 2);
        assert_eq!(
            take_records(&mut json!({"d": {"items": [1]}}), &p("d.items"))
                .unwrap()
                .len(),
            1
        );
        assert!(take_records(&mut json!({"d": null}), &p("d"))
            .unwrap()
            .is_empty());
        let err = take_records(&mut json!({"d": 3}), &p("d"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("a number"), "{err}");
        assert!(take_records(&mut json!({}), &p("items"))
            .unwrap_err()
            .to_string()
            .contains("items"));
    }

    #[test]
    fn record_time_and_id_are_extracted() {
        let r = to_record(
            json!({"published": "2026-01-01T00:00:00Z", "uuid": "u1"}).into(),
            &time_cfg("published"),
            &EventIdConfig {
                path: Some(p("uuid")),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.id, "u1");
        assert_eq!(
            crate::timefmt::rfc3339_millis(r.time),
            "2026-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn an_object_id_is_its_canonical_json() {
        let id = |record: Value| {
            to_record(
                record.into(),
                &time_cfg("t"),
                &EventIdConfig {
                    path: Some(p("id")),
                    ..Default::default()
                },
            )
        };
        let a = id(json!({"t": "2026-01-01T00:00:00Z", "id": {"time": "2026-01-01T00:00:00Z", "uniqueQualifier": "-7", "app": "admin"}}))
            .unwrap();
        let b = id(serde_json::from_str(
            r#"{"t": "2026-01-01T00:00:00Z", "id": { "uniqueQualifier": "-7", "app": "admin", "time": "2026-01-01T00:00:00Z" }}"#,
        )
        .unwrap())
        .unwrap();
        assert_eq!(
            a.id,
            r#"{"app":"admin","time":"2026-01-01T00:00:00Z","uniqueQualifier":"-7"}"#
        );
        assert_eq!(a.id, b.id, "key order and spacing do not matter");
        let other = id(json!({"t": "2026-01-01T00:00:00Z", "id": {"time": "2026-01-01T00:00:01Z", "uniqueQualifier": "-7", "app": "admin"}}))
            .unwrap();
        assert_ne!(a.id, other.id, "any part of the object tells events apart");
        let err = id(json!({"t": "2026-01-01T00:00:00Z", "id": {}}))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`id`") && err.contains("non-empty object"),
            "{err}"
        );
    }

    #[test]
    fn missing_time_names_the_field() {
        let err = to_record(
            json!({"x": 1}).into(),
            &time_cfg("published"),
            &EventIdConfig::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`published`"), "{err}");
        let err = to_record(
            json!({"published": "soon"}).into(),
            &time_cfg("published"),
            &EventIdConfig::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("\"soon\""), "{err}");
    }

    #[test]
    fn content_hash_is_stable_and_distinguishes_records() {
        let cfg = EventIdConfig::default();
        let a = to_record(
            json!({"t": "2026-01-01T00:00:00Z", "k": 1}).into(),
            &time_cfg("t"),
            &cfg,
        )
        .unwrap();
        let b = to_record(
            json!({"k": 1, "t": "2026-01-01T00:00:00Z"}).into(),
            &time_cfg("t"),
            &cfg,
        )
        .unwrap();
        let c = to_record(
            json!({"k": 2, "t": "2026-01-01T00:00:00Z"}).into(),
            &time_cfg("t"),
            &cfg,
        )
        .unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
    }

    /// Records sent with their keys in another order or spelled otherwise get the id that
    /// hashing the parsed tree gave before records were kept raw, so ids do not change
    /// across an upgrade and dedup keeps working.
    #[test]
    fn content_ids_of_raw_records_are_those_of_their_tree() {
        let cfg = EventIdConfig::default();
        let id = |text: &str| {
            to_record(RawJson::parse(text).unwrap(), &time_cfg("t"), &cfg)
                .unwrap()
                .id
        };
        let tree = json!({"t": "2026-01-01T00:00:00Z", "k": "é"}).to_string();
        let digest = Sha256::digest(tree.as_bytes());
        let expected: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        assert_eq!(id(r#"{"t":"2026-01-01T00:00:00Z","k":"é"}"#), expected);
        assert_eq!(
            id(r#"{"k":"\u00e9", "t":"2026-01-01T00:00:00Z"}"#),
            expected
        );
    }
}
