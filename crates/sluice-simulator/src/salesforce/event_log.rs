//! Salesforce event log files (the `salesforce_event_log` vendor): the EventLogFile object,
//! listed by SOQL through the same query resource as the Setup Audit Trail, and each file's
//! CSV at `GET /services/data/vXX.X/sobjects/EventLogFile/<Id>/LogFile`.
//!
//! Built from Salesforce's references, read 2026-12-07: the Object Reference's
//! "EventLogFile" (and the Field Reference's), "EventLogFile Supported Event Types", and the
//! REST API Developer Guide's "Query or View Hourly Event Log Files", "Differences Between
//! Hourly and 24-Hour Event Logs" and "Get Event Monitoring Content from a Record":
//!
//! * Each record is one file: `Id` (key prefix `0AT`), `EventType`, `LogDate` (the start of
//!   the hour the file covers), `Interval` (`Hourly` or `Daily`), `Sequence`, `CreatedDate`
//!   (when the file was generated), `LogFileLength` (bytes, a double), `LogFile` (the path
//!   of its content), `LogFileContentType`, `LogFileFieldNames`, `LogFileFieldTypes`,
//!   `ApiVersion`, with the `attributes` object of every record.
//! * The content is a CSV whose header names the type's columns; it is served as
//!   `application/octetstream`, not JSON.
//! * An event reaches a file hours after it happened; when an hour's events arrive late, a
//!   new file is created for that type and hour, with a later `CreatedDate` and a higher
//!   `Sequence`, holding only the new events. Salesforce advises selecting files by
//!   `CreatedDate`, which is what the preset's windows are on.
//!
//! # Model and simplifications
//!
//! * The timeline's events are the rows. Event `i` has a type ([`rows::kind_of`]) and an
//!   hour (its time's). The org generates files every [`SimulatorConfig::log_file_interval`]
//!   (an hour by default): the generation at `G` holds, per type and hour, the events that
//!   became visible (their time plus the publication delay and any lateness) since the
//!   generation before. Its files are created at `G` plus a few minutes per type
//!   (whole seconds), and none is listed or served before it is created.
//! * `Sequence` counts generations since the hour began (so it grows with every later file
//!   of the same hour, but may skip numbers). Only hourly files exist: a query for
//!   `Interval = 'Daily'` finds none.
//! * The queries understood: `SELECT <fields> FROM EventLogFile`, an optional `WHERE` of
//!   `CreatedDate` comparisons and `Interval = '<value>'` joined by `AND`, and an optional
//!   `ORDER BY CreatedDate [ASC], Id [ASC]`; anything else is `MALFORMED_QUERY`. A query is
//!   a snapshot, paged by a locator like the Setup Audit Trail's.
//! * An event's id is its file's id and its row number (`<file id>:<n>`, rows in time order
//!   from 1), which is what a client reading the files can name it by: [`event_id`].

mod rows;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::soql::{literal, words};
use super::{api_error, bad_request, events::format_time, json_response, API_VERSION};
use crate::faults::{admit, deliver, FaultKind};
use crate::late::now_ns;
use crate::rng::{domain, hash3, mix64};
use crate::timeline::Timeline;
use crate::{AppState, SimulatorConfig};

/// Key prefix of EventLogFile ids.
pub const FILE_PREFIX: &str = "0AT";
/// Milliseconds in an hour: files cover one hour each.
const HOUR_MS: i64 = 3_600_000;

/// Fields of EventLogFile.
const FIELDS: &[&str] = &[
    "id",
    "eventtype",
    "logdate",
    "interval",
    "sequence",
    "createddate",
    "logfilelength",
    "logfile",
    "logfilecontenttype",
    "logfilefieldnames",
    "logfilefieldtypes",
    "apiversion",
    "createdbyid",
    "lastmodifieddate",
    "lastmodifiedbyid",
    "systemmodstamp",
    "isdeleted",
];

/// One file: the generation that made it, the hour it covers and the type of its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct FileKey {
    /// Index of its generation (its time divided by the generation interval).
    generation: i64,
    /// Index of the hour it covers (hours since the epoch).
    hour: i64,
    /// Index into [`rows::KINDS`].
    kind: usize,
}

/// What the files of one simulator are made of: its timeline and settings.
struct Files<'a> {
    seed: u64,
    timeline: &'a Timeline,
    interval_ms: i64,
    /// The most an event becomes visible after its time (publication delay and lateness).
    max_delay_ms: i64,
}

impl<'a> Files<'a> {
    fn new(config: &SimulatorConfig, timeline: &'a Timeline) -> Self {
        let delay = config.publication_delay
            + if config.late.fraction > 0.0 {
                config.late.max_delay
            } else {
                std::time::Duration::ZERO
            };
        Files {
            seed: config.seed,
            timeline,
            interval_ms: (config.log_file_interval.as_millis() as i64).max(1000),
            // Saturating: a configured delay beyond i64 milliseconds is "forever" all the same.
            max_delay_ms: i64::try_from(delay.as_millis())
                .unwrap_or(i64::MAX)
                .saturating_add(1),
        }
    }

    /// The file event `index` is in.
    fn key_of(&self, index: u64) -> FileKey {
        let visible_ms = self.timeline.visible_at_ns(index).div_euclid(1_000_000) as i64 + 1;
        let generation = (visible_ms + self.interval_ms - 1).div_euclid(self.interval_ms);
        FileKey {
            generation,
            hour: self.timeline.published_ms(index).div_euclid(HOUR_MS),
            kind: rows::kind_of(self.seed, index),
        }
    }

    /// When the files of `key` were created: their generation plus a few minutes per type
    /// (a sixteenth of the interval each), in whole seconds.
    fn created_ms(&self, key: &FileKey) -> i64 {
        let offset = self.interval_ms * (key.kind as i64 + 1) / 16;
        (key.generation * self.interval_ms + offset).div_euclid(1000) * 1000
    }

    /// Indices of events that can be in files of generation `generation`.
    fn candidates(&self, generation: i64) -> std::ops::Range<u64> {
        let end_ms = generation * self.interval_ms;
        let lo = self.timeline.first_at_or_after(
            end_ms
                .saturating_sub(self.interval_ms)
                .saturating_sub(self.max_delay_ms)
                .saturating_sub(1),
        );
        let hi = self.timeline.first_at_or_after(end_ms.saturating_add(1));
        lo..hi.max(lo)
    }

    /// The events of file `key`, in time order.
    fn rows_of(&self, key: &FileKey) -> Vec<u64> {
        self.candidates(key.generation)
            .filter(|i| self.key_of(*i) == *key)
            .collect()
    }

    /// Files created in `[lo_ms, hi_ms)` and at or before `now_ms`, ordered by `CreatedDate`
    /// then `Id`.
    fn listed(&self, lo_ms: i64, hi_ms: i64, now_ms: i64) -> Vec<FileKey> {
        let first = (lo_ms - self.interval_ms).div_euclid(self.interval_ms);
        let last = hi_ms.div_euclid(self.interval_ms) + 1;
        let range = self.candidates(first).start..self.candidates(last).end;
        let mut files = BTreeMap::new();
        for index in range {
            let key = self.key_of(index);
            let created = self.created_ms(&key);
            if (lo_ms..hi_ms).contains(&created) && created <= now_ms {
                files.insert((created, self.id(&key)), key);
            }
        }
        files.into_values().collect()
    }

    /// The 18-character id of file `key`: the prefix, then the hour (20 bits: until 2089),
    /// generation (34 bits), type (4 bits) and a check value (22 bits), in 15 base-62 digits.
    fn id(&self, key: &FileKey) -> String {
        let body = (u128::from(key.hour as u64 & 0xf_ffff) << 60)
            | (u128::from(key.generation as u64 & 0x3_ffff_ffff) << 26)
            | ((key.kind as u128) << 22)
            | u128::from(self.check(key));
        let mut digits = [b'0'; 15];
        let mut n = body;
        for slot in digits.iter_mut().rev() {
            *slot = crate::rng::ALNUM[(n % 62) as usize];
            n /= 62;
        }
        format!("{FILE_PREFIX}{}", String::from_utf8_lossy(&digits))
    }

    fn check(&self, key: &FileKey) -> u32 {
        let mixed = mix64(key.hour as u64 ^ mix64(key.generation as u64 ^ key.kind as u64));
        (hash3(self.seed, domain::CURSOR, mixed) & 0x3f_ffff) as u32
    }

    /// The file an id names, if this simulator made it.
    fn parse_id(&self, id: &str) -> Option<FileKey> {
        let digits = id.strip_prefix(FILE_PREFIX)?;
        if digits.len() != 15 {
            return None;
        }
        let mut n: u128 = 0;
        for c in digits.bytes() {
            let digit = crate::rng::ALNUM.iter().position(|d| *d == c)?;
            n = n * 62 + digit as u128;
        }
        let key = FileKey {
            hour: ((n >> 60) & 0xf_ffff) as i64,
            generation: ((n >> 26) & 0x3_ffff_ffff) as i64,
            kind: ((n >> 22) & 0xf) as usize,
        };
        let valid = key.kind < rows::KINDS.len() && (n & 0x3f_ffff) as u32 == self.check(&key);
        valid.then_some(key)
    }

    /// `Sequence`: generations since the hour began.
    fn sequence(&self, key: &FileKey) -> i64 {
        ((key.generation * self.interval_ms - key.hour * HOUR_MS) / self.interval_ms).max(1)
    }

    /// The CSV of file `key` and the events in it.
    fn csv(&self, key: &FileKey) -> (Vec<u8>, Vec<u64>) {
        let indices = self.rows_of(key);
        let mut out = line(rows::columns(key.kind).into_iter());
        for index in &indices {
            let ms = self.timeline.published_ms(*index);
            let values = rows::values(self.seed, *index, key.kind, ms);
            out.push_str(&line(values.iter().map(String::as_str)));
        }
        (out.into_bytes(), indices)
    }

    /// The record of file `key`, as the query resource serves it.
    fn record(&self, key: &FileKey) -> Value {
        let id = self.id(key);
        let (body, _) = self.csv(key);
        let columns = rows::columns(key.kind);
        let created = format_time(self.created_ms(key));
        json!({
            "attributes": {
                "type": "EventLogFile",
                "url": format!("/services/data/{API_VERSION}/sobjects/EventLogFile/{id}"),
            },
            "Id": id,
            "EventType": rows::KINDS[key.kind].0,
            "LogDate": format_time(key.hour * HOUR_MS),
            "Interval": "Hourly",
            "Sequence": self.sequence(key),
            "CreatedDate": created,
            "LogFileLength": body.len() as f64,
            "LogFile": format!("/services/data/{API_VERSION}/sobjects/EventLogFile/{id}/LogFile"),
            "LogFileContentType": "CSV",
            "LogFileFieldNames": columns.join(","),
            "LogFileFieldTypes": columns.iter().map(|_| "String").collect::<Vec<_>>().join(","),
            "ApiVersion": 64.0,
        })
    }
}

/// One CSV line, every field quoted.
fn line<'s>(fields: impl Iterator<Item = &'s str>) -> String {
    let quoted: Vec<String> = fields
        .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
        .collect();
    quoted.join(",") + "\n"
}

/// A parsed EventLogFile query: files created in `[lo_ms, hi_ms)`; `hourly` is false when it
/// asks for daily files only (none exist here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ElfQuery {
    lo_ms: i64,
    hi_ms: i64,
    hourly: bool,
}

/// Whether `soql` selects from EventLogFile.
pub(super) fn is_event_log_query(soql: &str) -> bool {
    let words = words(soql);
    words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("FROM"))
        .and_then(|at| words.get(at + 1))
        .is_some_and(|object| object.eq_ignore_ascii_case("EventLogFile"))
}

/// Reads an EventLogFile query (see the module's simplifications).
pub(super) fn parse(soql: &str) -> Result<ElfQuery, (&'static str, String)> {
    let malformed = |message: String| ("MALFORMED_QUERY", message);
    let words = words(soql);
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let from = upper
        .iter()
        .position(|w| w == "FROM")
        .ok_or_else(|| malformed("unexpected end of query: no FROM".into()))?;
    if upper.first().map(String::as_str) != Some("SELECT") {
        return Err(malformed("the query must start with SELECT".into()));
    }
    for field in words[1..from].iter().filter(|w| *w != ",") {
        if !FIELDS.contains(&field.to_ascii_lowercase().as_str()) {
            return Err((
                "INVALID_FIELD",
                format!("No such column '{field}' on entity 'EventLogFile'"),
            ));
        }
    }
    let mut query = ElfQuery {
        lo_ms: i64::MIN / 4,
        hi_ms: i64::MAX / 4,
        hourly: true,
    };
    let mut i = from + 2;
    if upper.get(i).map(String::as_str) == Some("WHERE") {
        i += 1;
        loop {
            let (Some(field), Some(op), Some(value)) =
                (upper.get(i), upper.get(i + 1), words.get(i + 2))
            else {
                return Err(malformed("unexpected end of WHERE clause".into()));
            };
            match (field.as_str(), op.as_str()) {
                ("CREATEDDATE", op) => {
                    let ms = literal(value).map_err(malformed)?.timestamp_millis();
                    match op {
                        ">=" => query.lo_ms = query.lo_ms.max(ms),
                        ">" => query.lo_ms = query.lo_ms.max(ms + 1000),
                        "<" => query.hi_ms = query.hi_ms.min(ms),
                        "<=" => query.hi_ms = query.hi_ms.min(ms + 1000),
                        other => {
                            return Err(malformed(format!(
                            "the simulator compares CreatedDate with >, >=, < or <=, not {other}"
                        )))
                        }
                    }
                }
                ("INTERVAL", "=") => match value.as_str() {
                    "'Hourly'" => {}
                    "'Daily'" => query.hourly = false,
                    other => {
                        return Err((
                            "INVALID_QUERY_FILTER_OPERATOR",
                            format!("bad value for restricted picklist field: {other}"),
                        ))
                    }
                },
                _ => {
                    return Err(malformed(format!(
                    "the simulator filters EventLogFile on CreatedDate and Interval only, not {}",
                    words[i]
                )))
                }
            }
            i += 3;
            match upper.get(i).map(String::as_str) {
                Some("AND") => i += 1,
                _ => break,
            }
        }
    }
    if upper.get(i).map(String::as_str) == Some("ORDER") {
        let order: Vec<&str> = upper[i..].iter().map(String::as_str).collect();
        let understood = [
            &["ORDER", "BY", "CREATEDDATE"][..],
            &["ORDER", "BY", "CREATEDDATE", "ASC"],
            &["ORDER", "BY", "CREATEDDATE", ",", "ID"],
            &["ORDER", "BY", "CREATEDDATE", "ASC", ",", "ID"],
            &["ORDER", "BY", "CREATEDDATE", "ASC", ",", "ID", "ASC"],
            &["ORDER", "BY", "CREATEDDATE", ",", "ID", "ASC"],
        ];
        if !understood.contains(&order.as_slice()) {
            return Err(malformed(
                "the simulator orders EventLogFile by CreatedDate ASC, Id ASC only".into(),
            ));
        }
        i = upper.len();
    }
    if let Some(word) = words.get(i) {
        return Err(malformed(format!(
            "unexpected token: '{word}' (the simulator does not understand it here)"
        )));
    }
    Ok(query)
}

/// A query locator of an EventLogFile query: its range, filter and time, and a check value.
fn encode_locator(seed: u64, query: &ElfQuery, queried_ms: i64, next: usize) -> String {
    let fields = format!(
        "{:x}g{:x}g{}g{:x}",
        query.lo_ms,
        query.hi_ms,
        u8::from(query.hourly),
        queried_ms
    );
    let check = hash3(
        seed,
        domain::CURSOR,
        mix64(fields.len() as u64) ^ hash_text(&fields),
    );
    format!("01gE{fields}g{:x}-{next}", check & 0xffff_ffff)
}

fn hash_text(text: &str) -> u64 {
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| mix64(h ^ u64::from(b)))
}

fn decode_locator(seed: u64, text: &str) -> Option<(ElfQuery, i64, usize)> {
    let (head, next) = text.strip_prefix("01gE")?.split_once('-')?;
    let (fields, check) = head.rsplit_once('g')?;
    let expected = hash3(
        seed,
        domain::CURSOR,
        mix64(fields.len() as u64) ^ hash_text(fields),
    );
    if u64::from_str_radix(check, 16).ok()? != expected & 0xffff_ffff {
        return None;
    }
    let parts: Vec<&str> = fields.split('g').collect();
    let [lo, hi, hourly, queried] = parts.as_slice() else {
        return None;
    };
    let query = ElfQuery {
        lo_ms: i64::from_str_radix(lo, 16).ok()?,
        hi_ms: i64::from_str_radix(hi, 16).ok()?,
        hourly: *hourly == "1",
    };
    Some((
        query,
        i64::from_str_radix(queried, 16).ok()?,
        next.parse().ok()?,
    ))
}

/// One batch of `query`, as listed at `queried_ms`, from position `next`.
pub(super) fn batch(
    app: &AppState,
    fault: FaultKind,
    query: ElfQuery,
    queried_ms: i64,
    next: usize,
    size: usize,
) -> Response {
    let files = Files::new(&app.config, &app.timeline);
    let listed = if query.hourly {
        files.listed(query.lo_ms, query.hi_ms, queried_ms)
    } else {
        Vec::new()
    };
    let size = size.min(app.config.max_page_size.max(1));
    let end = (next + size).min(listed.len());
    let records: Vec<Value> = listed
        .get(next..end)
        .unwrap_or_default()
        .iter()
        .map(|key| files.record(key))
        .collect();
    let mut body = json!({
        "totalSize": listed.len(),
        "done": end >= listed.len(),
        "records": records,
    });
    if end < listed.len() {
        body["nextRecordsUrl"] = json!(format!(
            "/services/data/{API_VERSION}/query/{}",
            encode_locator(app.config.seed, &query, queried_ms, end)
        ));
    }
    // The listing holds files, not events: events are counted when a file is served.
    let body = deliver(app, fault, body.to_string().into_bytes(), &[]);
    json_response(StatusCode::OK, body)
}

/// The first batch of `query`, listed now.
pub(super) fn first_batch(
    app: &AppState,
    fault: FaultKind,
    query: ElfQuery,
    size: usize,
) -> Response {
    batch(app, fault, query, (now_ns() / 1_000_000) as i64, 0, size)
}

/// The next batch named by `locator`, or the refusal of a locator that is not one or has
/// expired.
pub(super) fn next_batch(app: &AppState, fault: FaultKind, locator: &str, size: usize) -> Response {
    let Some((query, queried_ms, next)) = decode_locator(app.config.seed, locator) else {
        return bad_request(app, "INVALID_QUERY_LOCATOR", "invalid query locator");
    };
    if (now_ns() / 1_000_000) as i64 - queried_ms > super::LOCATOR_SECONDS * 1000 {
        app.counters.cursors_expired.fetch_add(1, Ordering::Relaxed);
        return bad_request(app, "INVALID_QUERY_LOCATOR", "invalid query locator");
    }
    batch(app, fault, query, queried_ms, next, size)
}

/// `GET /services/data/vXX.X/sobjects/EventLogFile/<Id>/LogFile`: the file's CSV.
pub(super) async fn log_file(
    State(app): State<Arc<AppState>>,
    Path((version, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let fault = match admit(&app).await {
        Ok(fault) => fault,
        Err(refused) => return super::refusal(refused),
    };
    if let Some(refused) =
        super::version_refusal(&version).or_else(|| super::session_refusal(&app, &headers))
    {
        return refused;
    }
    let files = Files::new(&app.config, &app.timeline);
    let now_ms = (now_ns() / 1_000_000) as i64;
    let key = files.parse_id(&id).filter(|key| {
        files.created_ms(key) <= now_ms && app.config.vendor == crate::Vendor::SalesforceEventLog
    });
    let Some(key) = key else {
        return api_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        );
    };
    let (body, indices) = files.csv(&key);
    let body = deliver(&app, fault, body, &indices);
    let headers = [(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octetstream"),
    )];
    (StatusCode::OK, headers, body).into_response()
}

/// Event `index` (a row) as Sluice reads it: an object of column to text.
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> Value {
    let timeline = crate::timeline_of(config);
    let kind = rows::kind_of(config.seed, index);
    let ms = timeline.published_ms(index);
    let values = rows::values(config.seed, index, kind, ms);
    let object: serde_json::Map<String, Value> = rows::columns(kind)
        .into_iter()
        .zip(values)
        .map(|(column, value)| (column.to_string(), Value::String(value)))
        .collect();
    Value::Object(object)
}

/// The id of event `index`: its file's id and its row number there.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    let timeline = crate::timeline_of(config);
    let files = Files::new(config, &timeline);
    let key = files.key_of(index);
    let row = files
        .candidates(key.generation)
        .take_while(|i| *i <= index)
        .filter(|i| files.key_of(*i) == key)
        .count();
    format!("{}:{row}", files.id(&key))
}

/// The ids of every event, computed file by file (much cheaper than [`event_id`] each).
pub(crate) fn event_ids(config: &SimulatorConfig) -> Vec<String> {
    let timeline = crate::timeline_of(config);
    let files = Files::new(config, &timeline);
    let mut rows: std::collections::HashMap<FileKey, usize> = std::collections::HashMap::new();
    (0..config.events)
        .map(|index| {
            let key = files.key_of(index);
            let row = rows.entry(key).or_default();
            *row += 1;
            format!("{}:{row}", files.id(&key))
        })
        .collect()
}

/// When event `index` can first be read: when its file is created.
pub(crate) fn visible_at_ns(config: &SimulatorConfig, index: u64) -> i128 {
    let timeline = crate::timeline_of(config);
    let files = Files::new(config, &timeline);
    i128::from(files.created_ms(&files.key_of(index))) * 1_000_000
}

#[cfg(test)]
mod tests;
