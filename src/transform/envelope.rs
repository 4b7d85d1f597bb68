//! The envelope every delivered event travels in.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::source::{RawJson, Record};

/// `{"event_time", "parse_time", "source", "event_id", "data"}`, plus `"ocsf"` when an `ocsf`
/// step with `into = "member"` ran: one line of the lake.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    /// When the event happened, per the API.
    pub event_time: EnvelopeTime,
    /// When Sluice read it.
    pub parse_time: EnvelopeTime,
    /// The source's name.
    pub source: Arc<str>,
    /// The event's unique id.
    pub event_id: String,
    /// The record exactly as the API sent it (whitespace between tokens removed).
    pub data: RawJson,
    /// Where the event's OCSF form is, if a chain made one.
    #[serde(rename = "ocsf", skip_serializing_if = "OcsfForm::is_not_member")]
    pub ocsf: OcsfForm,
}

/// Whether, and where, an envelope holds its event's OCSF form.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum OcsfForm {
    /// No chain made one.
    #[default]
    Absent,
    /// In the envelope's own `ocsf` member, beside the vendor record in `data`
    /// (`{ kind = "ocsf", into = "member" }`).
    Member(RawJson),
    /// In `data`, which the OCSF event replaced (`{ kind = "ocsf" }`, `into = "data"`).
    InData,
}

impl OcsfForm {
    fn is_not_member(&self) -> bool {
        !matches!(self, OcsfForm::Member(_))
    }
}

impl Serialize for OcsfForm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OcsfForm::Member(ocsf) => ocsf.serialize(serializer),
            // Skipped by the envelope (`is_not_member`); null if serialized alone.
            OcsfForm::Absent | OcsfForm::InData => serializer.serialize_none(),
        }
    }
}

/// A time that serializes as RFC 3339 UTC with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EnvelopeTime(pub DateTime<Utc>);

impl Serialize for EnvelopeTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::timefmt::rfc3339_millis(self.0))
    }
}

impl Envelope {
    /// Wraps a record read at `parse_time` from `source`.
    pub fn wrap(record: Record, source: &Arc<str>, parse_time: DateTime<Utc>) -> Self {
        Envelope {
            event_time: EnvelopeTime(record.time),
            parse_time: EnvelopeTime(parse_time),
            source: Arc::clone(source),
            event_id: record.id,
            data: record.data,
            ocsf: OcsfForm::Absent,
        }
    }

    /// The event's OCSF form: the `ocsf` member, or `data` when the OCSF event replaced it;
    /// `None` when no chain made one.
    pub fn ocsf(&self) -> Option<&RawJson> {
        match &self.ocsf {
            OcsfForm::Absent => None,
            OcsfForm::Member(ocsf) => Some(ocsf),
            OcsfForm::InData => Some(&self.data),
        }
    }

    /// Appends the envelope as one line of JSON (no line break) to `out`: the same bytes as
    /// serializing it, written by concatenation, the record's bytes copied through.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"event_time\":\"");
        out.extend_from_slice(crate::timefmt::rfc3339_millis(self.event_time.0).as_bytes());
        out.extend_from_slice(b"\",\"parse_time\":\"");
        out.extend_from_slice(crate::timefmt::rfc3339_millis(self.parse_time.0).as_bytes());
        out.extend_from_slice(b"\",\"source\":");
        write_json_string(out, &self.source);
        out.extend_from_slice(b",\"event_id\":");
        write_json_string(out, &self.event_id);
        out.extend_from_slice(b",\"data\":");
        out.extend_from_slice(self.data.as_str().as_bytes());
        if let OcsfForm::Member(ocsf) = &self.ocsf {
            out.extend_from_slice(b",\"ocsf\":");
            out.extend_from_slice(ocsf.as_str().as_bytes());
        }
        out.push(b'}');
    }
}

/// Appends `text` as a JSON string, escaped as serde_json escapes it.
fn write_json_string(out: &mut Vec<u8>, text: &str) {
    // Writing a string into a Vec cannot fail: serde_json's string serialization has no
    // error case and Vec's writes are infallible.
    serde_json::to_writer(&mut *out, text).expect("a string serializes into a Vec");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn serializes_in_the_documented_shape() {
        let record = Record {
            time: Utc.timestamp_millis_opt(1_700_000_000_123).unwrap(),
            id: "e1".into(),
            data: serde_json::json!({"k": "v"}).into(),
        };
        let env = Envelope::wrap(
            record,
            &Arc::from("okta"),
            Utc.timestamp_opt(1_700_000_001, 0).unwrap(),
        );
        let expected = r#"{"event_time":"2023-11-14T22:13:20.123Z","parse_time":"2023-11-14T22:13:21.000Z","source":"okta","event_id":"e1","data":{"k":"v"}}"#;
        assert_eq!(serde_json::to_string(&env).unwrap(), expected);
        let mut line = Vec::new();
        env.write_json(&mut line);
        assert_eq!(String::from_utf8(line).unwrap(), expected);
    }

    /// The record's bytes go through as the API sent them, and the concatenated line is the
    /// serialized envelope, escapes included.
    #[test]
    fn writes_the_record_through_and_escapes_like_serde() {
        let record = Record {
            time: Utc.timestamp_millis_opt(0).unwrap(),
            id: "e\"1\\\u{1}é".into(),
            data: RawJson::parse(r#"{"z":1.50,"a":"\u00e9","a":[1e2]}"#).unwrap(),
        };
        let env = Envelope::wrap(
            record,
            &Arc::from("ok\nta"),
            Utc.timestamp_opt(0, 0).unwrap(),
        );
        let mut line = Vec::new();
        env.write_json(&mut line);
        let line = String::from_utf8(line).unwrap();
        assert_eq!(line, serde_json::to_string(&env).unwrap());
        assert!(
            line.ends_with(r#","data":{"z":1.50,"a":"\u00e9","a":[1e2]}}"#),
            "{line}"
        );
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["event_id"], "e\"1\\\u{1}é");
        assert_eq!(back["source"], "ok\nta");
    }

    /// An OCSF member goes after `data`, concatenated and serialized alike; an OCSF event in
    /// `data` adds nothing.
    #[test]
    fn an_ocsf_member_follows_data() {
        let record = Record {
            time: Utc.timestamp_millis_opt(0).unwrap(),
            id: "e1".into(),
            data: serde_json::json!({"k": "v"}).into(),
        };
        let mut env = Envelope::wrap(record, &Arc::from("okta"), Utc.timestamp_opt(0, 0).unwrap());
        assert_eq!(env.ocsf(), None);
        env.ocsf = OcsfForm::Member(serde_json::json!({"class_uid": 3002}).into());
        let mut line = Vec::new();
        env.write_json(&mut line);
        let line = String::from_utf8(line).unwrap();
        assert!(
            line.ends_with(r#""data":{"k":"v"},"ocsf":{"class_uid":3002}}"#),
            "{line}"
        );
        assert_eq!(line, serde_json::to_string(&env).unwrap());
        assert_eq!(env.ocsf().unwrap().as_str(), r#"{"class_uid":3002}"#);
        env.ocsf = OcsfForm::InData;
        assert_eq!(env.ocsf().unwrap().as_str(), r#"{"k":"v"}"#);
        assert!(!serde_json::to_string(&env).unwrap().contains("ocsf"));
    }
}
