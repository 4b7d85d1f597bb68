//! The HEC wire format: how an envelope becomes a HEC event, how events make a batch, and
//! what the collector's replies mean.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::sink::Payload as SinkPayload;
use crate::transform::Envelope;

/// The metadata every event of one sink carries, and how its `event` field is filled.
#[derive(Debug, Clone)]
pub(super) struct Metadata {
    pub host: Option<String>,
    pub source: String,
    pub sourcetype: String,
    pub index: Option<String>,
    pub format: SinkPayload,
}

/// One HEC event object, as `/services/collector/event` reads it.
#[derive(Serialize)]
struct HecEvent<'a> {
    /// Epoch seconds with a millisecond fraction: HEC's own time format.
    time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    source: &'a str,
    sourcetype: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<&'a str>,
    event: Payload<'a>,
    /// Indexed fields: `event_id` is searchable without parsing `event`, so the duplicates a
    /// replay may deliver can be found (`| dedup event_id`).
    fields: Fields<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Payload<'a> {
    Data(&'a crate::source::RawJson),
    Envelope(&'a Envelope),
}

#[derive(Serialize)]
struct Fields<'a> {
    event_id: &'a str,
}

/// Why an envelope cannot become a HEC event.
#[derive(Debug)]
pub(super) enum EncodeError {
    /// HEC refuses a null or blank `event` (codes 12 and 13); no request needed to know.
    Blank,
    /// Serialization failed (not expected for JSON values).
    Json(serde_json::Error),
}

impl Metadata {
    /// Appends `event` as one HEC event object to `out`.
    pub fn encode(&self, event: &Envelope, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let payload = match self.format {
            SinkPayload::Raw | SinkPayload::Ocsf => {
                let part = match self.format {
                    SinkPayload::Ocsf => event.ocsf().unwrap_or(&event.data),
                    _ => &event.data,
                };
                // Only a string is parsed to look inside it; a record is an object.
                let text = part.as_str();
                let blank = text == "null"
                    || (text.starts_with('"')
                        && serde_json::from_str::<String>(text).is_ok_and(|s| s.trim().is_empty()));
                if blank {
                    return Err(EncodeError::Blank);
                }
                Payload::Data(part)
            }
            SinkPayload::Envelope => Payload::Envelope(event),
        };
        let hec = HecEvent {
            time: epoch_seconds(event),
            host: self.host.as_deref(),
            source: &self.source,
            sourcetype: &self.sourcetype,
            index: self.index.as_deref(),
            event: payload,
            fields: Fields {
                event_id: &event.event_id,
            },
        };
        serde_json::to_writer(out, &hec).map_err(EncodeError::Json)
    }
}

/// The event time in epoch seconds, to the millisecond. Dividing the integer milliseconds
/// gives the double nearest to the exact decimal, which JSON then prints with at most three
/// decimals (`1700000000.123`), never a binary artefact like `.12299999`.
pub(super) fn epoch_seconds(event: &Envelope) -> f64 {
    event.event_time.0.timestamp_millis() as f64 / 1000.0
}

/// Events and their encoded HEC objects, concatenated: the body of one request.
#[derive(Debug, Default)]
pub(super) struct Batch {
    events: Vec<Envelope>,
    body: Vec<u8>,
    /// `ends[i]` is where event `i`'s object ends in `body`, so a batch can be split without
    /// encoding anything again.
    ends: Vec<usize>,
}

impl Batch {
    /// Adds an event and its encoded object.
    pub fn push(&mut self, event: Envelope, encoded: &[u8]) {
        self.body.extend_from_slice(encoded);
        self.ends.push(self.body.len());
        self.events.push(event);
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Uncompressed body size.
    pub fn bytes(&self) -> usize {
        self.body.len()
    }

    /// The request body: HEC objects back to back, HEC's batch framing.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    #[cfg(test)]
    pub fn events(&self) -> &[Envelope] {
        &self.events
    }

    pub fn into_events(self) -> Vec<Envelope> {
        self.events
    }

    /// Event `i`'s encoded object.
    fn object(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.body[start..self.ends[i]]
    }

    fn part(&self, range: std::ops::Range<usize>, skip: Option<usize>) -> Batch {
        let mut part = Batch::default();
        for i in range.filter(|i| Some(*i) != skip) {
            part.push(self.events[i].clone(), self.object(i));
        }
        part
    }

    /// The first and second halves (the first gets the smaller half of an odd count).
    pub fn split_half(self) -> (Batch, Batch) {
        let mid = self.len() / 2;
        (self.part(0..mid, None), self.part(mid..self.len(), None))
    }

    /// Takes event `index` out; the rest keep their order.
    pub fn remove(self, index: usize) -> (Envelope, Batch) {
        let rest = self.part(0..self.len(), Some(index));
        let mut events = self.events;
        (events.remove(index), rest)
    }

    /// `first … last` event ids, to name the batch in messages.
    pub fn describe(&self) -> String {
        match (self.events.first(), self.events.last()) {
            (Some(first), Some(last)) if self.len() > 1 => format!(
                "{} events, event_id {} … {}",
                self.len(),
                first.event_id,
                last.event_id
            ),
            (Some(only), _) => format!("1 event, event_id {}", only.event_id),
            _ => "no events".into(),
        }
    }
}

/// HEC's JSON reply: `{"text": "Success", "code": 0, "ackId": 7}` or an error such as
/// `{"text": "Event field is required", "code": 12, "invalid-event-number": 3}`.
#[derive(Debug, Deserialize)]
pub(super) struct Reply {
    #[serde(default)]
    pub text: String,
    pub code: Option<i64>,
    #[serde(rename = "ackId", default)]
    pub ack_id: Option<u64>,
    #[serde(rename = "invalid-event-number", default)]
    pub invalid_event: Option<i64>,
}

/// The reply to `/services/collector/ack`: `{"acks": {"0": true, "1": false}}`.
#[derive(Debug, Deserialize)]
pub(super) struct AckReply {
    pub acks: HashMap<String, bool>,
}

/// What one answer to an event POST means.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// HEC took the batch (`code` 0); with acknowledgements, `ack_id` tracks its indexing.
    Accepted { ack_id: Option<u64> },
    /// HEC refused events of the batch (codes 6, 12, 13, 15): the data, not the connection,
    /// is at fault. `event` is the batch position of the first bad event, when HEC said.
    Invalid {
        event: Option<usize>,
        reason: String,
    },
    /// The body is over the collector's size limit (413).
    TooLarge { reason: String },
    /// Worth another attempt: 429, 5xx (code 9 "server is busy" is a 503), transport errors.
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
    /// Retrying cannot help; the message carries a hint.
    Fatal { reason: String },
}

/// `HTTP 503, HEC code 9: Server is busy`, or the start of a non-HEC body.
pub(super) fn describe(status: StatusCode, reply: Option<&Reply>, body: &[u8]) -> String {
    match reply {
        Some(Reply {
            text,
            code: Some(code),
            ..
        }) => format!("HTTP {}, HEC code {code}: {text}", status.as_u16()),
        _ => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(200).collect();
            if text.is_empty() {
                format!("HTTP {}", status.as_u16())
            } else {
                format!("HTTP {}: {text}", status.as_u16())
            }
        }
    }
}

/// Reads the answer to an event POST to `url`. `retry_after` is the server's
/// `Retry-After`, if any.
pub(super) fn classify(
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
    url: &str,
) -> Verdict {
    let reply: Option<Reply> = serde_json::from_slice(body).ok();
    let shown = describe(status, reply.as_ref(), body);
    let code = reply.as_ref().and_then(|r| r.code);
    let fatal = |what: &str, hint: &str| Verdict::Fatal {
        reason: format!("{url}: {what} ({shown}) (hint: {hint})"),
    };
    match status.as_u16() {
        200..=299 => match (&reply, code) {
            (Some(reply), Some(0)) => Verdict::Accepted {
                ack_id: reply.ack_id,
            },
            // A 2xx that is not HEC's success reply (a proxy's page, the health endpoint)
            // proves nothing about the events: never count it as delivered.
            _ => fatal(
                "the reply is not a HEC success reply",
                "point url at the HTTP Event Collector itself, e.g. https://splunk.example.com:8088",
            ),
        },
        401 | 403 => fatal(
            "the collector refused the token",
            "check the sink's token, and that the token exists and is enabled in Splunk (Settings > Data inputs > HTTP Event Collector)",
        ),
        404 => fatal(
            "no HTTP Event Collector here",
            "url is the collector's base URL (port 8088 by default); check that HEC is enabled",
        ),
        413 => Verdict::TooLarge { reason: shown },
        429 | 500..=599 => Verdict::Retry {
            reason: shown,
            wait: retry_after,
        },
        400 => match code {
            // Invalid data format, event field required, event field blank, bad indexed
            // fields: about the events themselves.
            Some(6 | 12 | 13 | 15) => Verdict::Invalid {
                event: reply
                    .as_ref()
                    .and_then(|r| r.invalid_event)
                    .and_then(|n| usize::try_from(n).ok()),
                reason: shown,
            },
            Some(7) => fatal(
                "the index is not allowed for this token",
                "set `index` to an index the token may write to, or allow it on the token",
            ),
            Some(10) => fatal(
                "the token requires a data channel (indexer acknowledgement is on for it)",
                "set acks = true on the sink, or turn indexer acknowledgement off for the token",
            ),
            Some(14) => fatal(
                "indexer acknowledgement is disabled for this token",
                "set acks = false on the sink, or enable indexer acknowledgement for the token",
            ),
            _ => fatal(
                "the collector refused the request",
                "see Splunk's HEC status codes; this is not a problem retrying can fix",
            ),
        },
        300..=399 => fatal(
            "the collector answered with a redirect, which sluice does not follow (the token must not travel elsewhere)",
            "set url to the final address",
        ),
        _ => fatal(
            "unexpected answer",
            "check that url points at the HTTP Event Collector",
        ),
    }
}

/// What an answer to an acknowledgement query means.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AckVerdict {
    /// The ackIds Splunk reports as indexed.
    Acked(Vec<u64>),
    /// Try again at the next poll: the batches stay unacknowledged meanwhile.
    Transient(String),
    /// Polling cannot work.
    Fatal(String),
}

/// Reads the answer to an acknowledgement query sent to `url`.
pub(super) fn classify_ack(status: StatusCode, body: &[u8], url: &str) -> AckVerdict {
    let reply: Option<Reply> = serde_json::from_slice(body).ok();
    let shown = describe(status, reply.as_ref(), body);
    let fatal = |what: &str, hint: &str| {
        AckVerdict::Fatal(format!("{url}: {what} ({shown}) (hint: {hint})"))
    };
    match status.as_u16() {
        200..=299 => match serde_json::from_slice::<AckReply>(body) {
            Ok(reply) => AckVerdict::Acked(
                reply
                    .acks
                    .into_iter()
                    .filter(|(_, acked)| *acked)
                    .filter_map(|(id, _)| id.parse().ok())
                    .collect(),
            ),
            Err(err) => AckVerdict::Transient(format!("unreadable acknowledgement reply: {err}")),
        },
        401 | 403 => fatal(
            "the collector refused the token",
            "check the sink's token, and that it is enabled in Splunk",
        ),
        400 if reply.as_ref().and_then(|r| r.code) == Some(14) => fatal(
            "indexer acknowledgement is disabled for this token",
            "set acks = false on the sink, or enable indexer acknowledgement for the token",
        ),
        404 => fatal(
            "this collector does not offer indexer acknowledgement",
            "set acks = false (Splunk Cloud supports it only for some inputs)",
        ),
        // An unknown channel (code 11) means Splunk forgot ours, e.g. after a restart: the
        // batches on it are resent once their ack_timeout passes.
        _ => AckVerdict::Transient(shown),
    }
}
