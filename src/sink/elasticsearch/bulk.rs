//! The `_bulk` wire format: NDJSON request lines, and the per-item results of a response.
//!
//! A request body is pairs of lines, each ending in `\n` (the last one too):
//!
//! ```text
//! {"create":{"_index":"logs-sluice.okta-default","_id":"<event_id>"}}
//! {"@timestamp":"...","event_time":"...","parse_time":"...","source":"okta","event_id":"...","data":{...}}
//! ```
//!
//! (`ocsf` follows `data` when the chain made an OCSF member.) With `payload = "ocsf"` or
//! `"raw"` the document is that object with `@timestamp` put first.
//!
//! The response says `"errors": true` when any item failed, and lists one result per item,
//! in request order: `{"create": {"status": 201}}`, or a status and an `error` object.

use std::collections::BTreeMap;
use std::io::Write;

use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::options::BulkCompression;
use crate::sink::Payload;
use crate::transform::{Envelope, EnvelopeTime, OcsfForm};

/// Longest error text kept from a response, so a huge reason cannot flood logs or the
/// dead-letter queue.
const MAX_REASON_CHARS: usize = 600;

/// One document on its way: the event (kept to report it if the cluster refuses it) and its
/// two NDJSON lines, encoded once and reused by every retry.
pub(crate) struct BulkItem {
    /// The event as the pipeline wrote it.
    pub event: Envelope,
    /// The action line and the document line, each ending in `\n`.
    pub lines: Vec<u8>,
}

#[derive(Serialize)]
struct Action<'a> {
    create: ActionMeta<'a>,
}

#[derive(Serialize)]
struct ActionMeta<'a> {
    #[serde(rename = "_index")]
    index: &'a str,
    #[serde(rename = "_id")]
    id: &'a str,
}

/// The envelope plus `@timestamp`, which data streams require and Kibana sorts by.
#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: &'a EnvelopeTime,
    event_time: &'a EnvelopeTime,
    parse_time: &'a EnvelopeTime,
    source: &'a str,
    event_id: &'a str,
    data: &'a crate::source::RawJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    ocsf: Option<&'a crate::source::RawJson>,
}

impl BulkItem {
    /// Encodes `event` for the index (or data stream) `index`. `create` with the event id as
    /// `_id` is what makes sending twice harmless: the second copy is refused with 409.
    pub fn new(event: &Envelope, index: &str, payload: Payload) -> Result<Self, serde_json::Error> {
        let mut lines = Vec::with_capacity(256);
        serde_json::to_writer(
            &mut lines,
            &Action {
                create: ActionMeta {
                    index,
                    id: &event.event_id,
                },
            },
        )?;
        lines.push(b'\n');
        match payload.part(event) {
            Some(part) => spliced(&mut lines, &event.event_time, part)?,
            None => serde_json::to_writer(
                &mut lines,
                &Document {
                    timestamp: &event.event_time,
                    event_time: &event.event_time,
                    parse_time: &event.parse_time,
                    source: &event.source,
                    event_id: &event.event_id,
                    data: &event.data,
                    ocsf: match &event.ocsf {
                        OcsfForm::Member(ocsf) => Some(ocsf),
                        OcsfForm::Absent | OcsfForm::InData => None,
                    },
                },
            )?,
        }
        lines.push(b'\n');
        Ok(BulkItem {
            event: event.clone(),
            lines,
        })
    }
}

/// Writes `part` (compact JSON) as a document with `@timestamp` first: an object's members
/// follow it, anything else (a record that is not an object) goes under `value`, as
/// documents must be objects.
fn spliced(out: &mut Vec<u8>, time: &EnvelopeTime, part: &str) -> Result<(), serde_json::Error> {
    out.extend_from_slice(b"{\"@timestamp\":");
    serde_json::to_writer(&mut *out, time)?;
    match part.strip_prefix('{') {
        Some("}") => out.push(b'}'),
        Some(members) => {
            out.push(b',');
            out.extend_from_slice(members.as_bytes());
        }
        None => {
            out.extend_from_slice(b",\"value\":");
            out.extend_from_slice(part.as_bytes());
            out.push(b'}');
        }
    }
    Ok(())
}

/// The request body for `items`, gzip-compressed if asked.
pub(crate) fn body(items: &[BulkItem], compression: BulkCompression) -> std::io::Result<Vec<u8>> {
    let size: usize = items.iter().map(|i| i.lines.len()).sum();
    match compression {
        BulkCompression::None => {
            let mut body = Vec::with_capacity(size);
            for item in items {
                body.extend_from_slice(&item.lines);
            }
            Ok(body)
        }
        BulkCompression::Gzip => {
            // Audit JSON compresses about tenfold.
            let mut encoder = GzEncoder::new(
                Vec::with_capacity(size / 8 + 64),
                flate2::Compression::default(),
            );
            for item in items {
                encoder.write_all(&item.lines)?;
            }
            encoder.finish()
        }
    }
}

/// What the cluster did with one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ItemResult {
    /// Stored now.
    Created,
    /// A document with this `_id` was already there (409): stored by an earlier attempt or
    /// an earlier run, so this is delivered too.
    Exists,
    /// Refused for now (429, 5xx): send this item again.
    Retry(String),
    /// Refused for good because of the document itself (mapping errors...): dead-letter it.
    Reject(String),
    /// Refused because of the setup (credentials, missing index or pipeline): every other
    /// document would fail the same way, so stop instead of dead-lettering them all.
    Fatal(String),
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    errors: bool,
    #[serde(default)]
    items: Vec<BTreeMap<String, ItemStatus>>,
}

#[derive(Deserialize)]
struct ItemStatus {
    status: u16,
    #[serde(default, rename = "_index")]
    index: Option<String>,
    #[serde(default)]
    error: Option<Value>,
}

/// A 2xx answer to `_bulk` that cannot be read as one (a proxy's page, a cut body); the
/// request is sent again.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BulkResponseError {
    /// Not the JSON of a bulk response; the start of the body, for the operator.
    #[error("the response is not a bulk response ({error}): {preview}")]
    NotBulk {
        /// The parser's reason.
        error: serde_json::Error,
        /// The body's beginning, cut and made printable.
        preview: String,
    },
    /// A different number of items than documents sent.
    #[error("the response lists {listed} items for {sent} documents sent")]
    Count {
        /// Items in the response.
        listed: usize,
        /// Documents in the request.
        sent: usize,
    },
    /// An item with no action in it.
    #[error("the response has an empty item")]
    EmptyItem,
}

/// Reads a successful (2xx) response to a request of `sent` items.
pub(crate) fn parse_response(
    body: &[u8],
    sent: usize,
) -> Result<Vec<ItemResult>, BulkResponseError> {
    let response: Response =
        serde_json::from_slice(body).map_err(|error| BulkResponseError::NotBulk {
            error,
            preview: preview(body),
        })?;
    if !response.errors {
        // Without errors every item was created; items may even be filtered out.
        return Ok(vec![ItemResult::Created; sent]);
    }
    if response.items.len() != sent {
        return Err(BulkResponseError::Count {
            listed: response.items.len(),
            sent,
        });
    }
    response
        .items
        .into_iter()
        .map(|item| {
            // Each item is `{"<action>": {...}}`; the action is always `create` here.
            item.into_values()
                .next()
                .map(|status| {
                    classify(
                        status.status,
                        status.index.as_deref(),
                        status.error.as_ref(),
                    )
                })
                .ok_or(BulkResponseError::EmptyItem)
        })
        .collect()
}

/// Sorts an item's status into what to do with it.
fn classify(status: u16, index: Option<&str>, error: Option<&Value>) -> ItemResult {
    let reason = describe_error(status, error);
    let kind = error
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let index = index.unwrap_or("the target index");
    match status {
        200..=299 => ItemResult::Created,
        409 => ItemResult::Exists,
        408 | 429 | 500..=599 => ItemResult::Retry(reason),
        401 | 403 => ItemResult::Fatal(format!(
            "{reason} (hint: give the API key or user the `create_doc` privilege on `{index}`, and `auto_configure` if it must be created)"
        )),
        404 if kind == "index_not_found_exception" => ItemResult::Fatal(format!(
            "{reason} (hint: create `{index}` or an index template for it, or allow the cluster to create indices automatically)"
        )),
        // A missing ingest pipeline fails every document alike; it is the setup's fault.
        400 if reason.contains("pipeline with id") && reason.contains("does not exist") => {
            ItemResult::Fatal(format!(
                "{reason} (hint: create the ingest pipeline, or fix or remove `pipeline`)"
            ))
        }
        _ => ItemResult::Reject(reason),
    }
}

/// `HTTP 400 mapper_parsing_exception: failed to parse ... (caused by ...)`.
pub(crate) fn describe_error(status: u16, error: Option<&Value>) -> String {
    let mut text = format!("HTTP {status}");
    match error {
        Some(Value::Object(error)) => {
            let field = |e: &serde_json::Map<String, Value>, k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            text.push_str(&format!(
                " {}: {}",
                field(error, "type"),
                field(error, "reason")
            ));
            if let Some(Value::Object(cause)) = error.get("caused_by") {
                text.push_str(&format!(
                    " (caused by {}: {})",
                    field(cause, "type"),
                    field(cause, "reason")
                ));
            }
        }
        Some(Value::String(reason)) => text.push_str(&format!(" {reason}")),
        _ => {}
    }
    truncate(text)
}

/// The error of a whole-request failure, from its body (`{"error": {...}, "status": N}`), or
/// the start of the body when it is not one.
pub(crate) fn describe_body(status: u16, body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.get("error").is_some() => describe_error(status, value.get("error")),
        _ if body.is_empty() => format!("HTTP {status}"),
        _ => truncate(format!("HTTP {status}: {}", preview(body))),
    }
}

fn preview(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)])
        .trim()
        .to_string()
}

fn truncate(text: String) -> String {
    if text.chars().count() <= MAX_REASON_CHARS {
        return text;
    }
    let mut short: String = text.chars().take(MAX_REASON_CHARS).collect();
    short.push_str("...");
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Record;
    use chrono::{TimeZone, Utc};
    use serde_json::json;
    use std::sync::Arc;

    fn event(id: &str) -> Envelope {
        let record = Record {
            time: Utc.timestamp_millis_opt(1_700_000_000_123).unwrap(),
            id: id.into(),
            data: json!({"k": "v"}).into(),
        };
        Envelope::wrap(
            record,
            &Arc::from("okta"),
            Utc.timestamp_opt(1_700_000_001, 0).unwrap(),
        )
    }

    /// The document line each payload makes: the envelope with its OCSF member, the OCSF
    /// object or the vendor record with `@timestamp` first.
    #[test]
    fn each_payload_makes_its_document() {
        let mut e = event("e1");
        e.ocsf = OcsfForm::Member(json!({"class_uid": 3002}).into());
        let document = |e: &Envelope, payload| {
            let item = BulkItem::new(e, "i", payload).unwrap();
            let text = String::from_utf8(item.lines).unwrap();
            text.lines().nth(1).unwrap().to_string()
        };
        let envelope = document(&e, Payload::Envelope);
        assert!(
            envelope.ends_with(r#""data":{"k":"v"},"ocsf":{"class_uid":3002}}"#),
            "{envelope}"
        );
        assert_eq!(
            document(&e, Payload::Ocsf),
            r#"{"@timestamp":"2023-11-14T22:13:20.123Z","class_uid":3002}"#
        );
        assert_eq!(
            document(&e, Payload::Raw),
            r#"{"@timestamp":"2023-11-14T22:13:20.123Z","k":"v"}"#
        );
        e.data = json!([1]).into();
        assert_eq!(
            document(&e, Payload::Raw),
            r#"{"@timestamp":"2023-11-14T22:13:20.123Z","value":[1]}"#
        );
        e.data = json!({}).into();
        assert_eq!(
            document(&e, Payload::Raw),
            r#"{"@timestamp":"2023-11-14T22:13:20.123Z"}"#
        );
    }

    #[test]
    fn an_item_is_an_action_line_and_a_document_line() {
        let item = BulkItem::new(
            &event("e\"1"),
            "logs-sluice.okta-default",
            Payload::Envelope,
        )
        .unwrap();
        let text = String::from_utf8(item.lines).unwrap();
        assert_eq!(
            text,
            "{\"create\":{\"_index\":\"logs-sluice.okta-default\",\"_id\":\"e\\\"1\"}}\n\
             {\"@timestamp\":\"2023-11-14T22:13:20.123Z\",\"event_time\":\"2023-11-14T22:13:20.123Z\",\"parse_time\":\"2023-11-14T22:13:21.000Z\",\"source\":\"okta\",\"event_id\":\"e\\\"1\",\"data\":{\"k\":\"v\"}}\n"
        );
    }

    #[test]
    fn gzip_bodies_decompress_to_the_ndjson() {
        let items = vec![
            BulkItem::new(&event("a"), "i", Payload::Envelope).unwrap(),
            BulkItem::new(&event("b"), "i", Payload::Envelope).unwrap(),
        ];
        let plain = body(&items, BulkCompression::None).unwrap();
        let zipped = body(&items, BulkCompression::Gzip).unwrap();
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&zipped[..]),
            &mut unzipped,
        )
        .unwrap();
        assert_eq!(unzipped, plain);
        assert_eq!(plain.iter().filter(|b| **b == b'\n').count(), 4);
    }

    #[test]
    fn item_results_are_sorted_by_status() {
        let response = json!({
            "took": 3,
            "errors": true,
            "items": [
                {"create": {"_index": "i", "_id": "1", "status": 201, "result": "created"}},
                {"create": {"_index": "i", "_id": "2", "status": 409, "error": {"type": "version_conflict_engine_exception", "reason": "[2]: version conflict, document already exists (current version [1])"}}},
                {"create": {"_index": "i", "_id": "3", "status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "rejected execution"}}},
                {"create": {"_index": "i", "_id": "4", "status": 400, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [n]", "caused_by": {"type": "illegal_argument_exception", "reason": "For input string: \"x\""}}}},
                {"create": {"_index": "i", "_id": "5", "status": 503, "error": {"type": "unavailable_shards_exception", "reason": "primary shard is not active"}}},
                {"create": {"_index": "i", "_id": "6", "status": 403, "error": {"type": "security_exception", "reason": "action [indices:data/write/bulk[s]] is unauthorized"}}},
                {"create": {"_index": "i", "_id": "7", "status": 404, "error": {"type": "index_not_found_exception", "reason": "no such index [i]"}}},
                {"create": {"_index": "i", "_id": "8", "status": 400, "error": {"type": "illegal_argument_exception", "reason": "pipeline with id [p] does not exist"}}}
            ]
        });
        let results = parse_response(response.to_string().as_bytes(), 8).unwrap();
        assert_eq!(results[0], ItemResult::Created);
        assert_eq!(results[1], ItemResult::Exists);
        assert!(
            matches!(&results[2], ItemResult::Retry(r) if r.contains("429 es_rejected_execution_exception"))
        );
        assert!(
            matches!(&results[3], ItemResult::Reject(r) if r == "HTTP 400 mapper_parsing_exception: failed to parse field [n] (caused by illegal_argument_exception: For input string: \"x\")"),
            "{:?}",
            results[3]
        );
        assert!(matches!(&results[4], ItemResult::Retry(_)));
        assert!(matches!(&results[5], ItemResult::Fatal(r) if r.contains("create_doc")));
        assert!(matches!(&results[6], ItemResult::Fatal(r) if r.contains("index template")));
        assert!(matches!(&results[7], ItemResult::Fatal(r) if r.contains("ingest pipeline")));
    }

    #[test]
    fn a_response_without_errors_is_all_created_and_a_mismatch_is_an_error() {
        let ok = parse_response(br#"{"errors":false}"#, 3).unwrap();
        assert_eq!(ok, vec![ItemResult::Created; 3]);
        let short = json!({"errors": true, "items": [{"create": {"status": 201}}]});
        assert!(parse_response(short.to_string().as_bytes(), 2).is_err());
        assert!(parse_response(b"<html>", 1)
            .unwrap_err()
            .to_string()
            .contains("<html>"));
    }

    #[test]
    fn whole_request_errors_are_described_from_the_body() {
        let body = br#"{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}"#;
        assert_eq!(
            describe_body(401, body),
            "HTTP 401 security_exception: missing authentication credentials"
        );
        assert_eq!(describe_body(502, b"Bad Gateway"), "HTTP 502: Bad Gateway");
        assert_eq!(describe_body(503, b""), "HTTP 503");
        let long = "x".repeat(5000);
        assert!(describe_body(500, long.as_bytes()).len() < 700);
    }
}
