//! The envelope every delivered event travels in.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::source::Record;

/// `{"event_time", "parse_time", "source", "event_id", "data"}`: one line of the lake.
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
    /// The record exactly as the API sent it.
    pub data: serde_json::Value,
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
        }
    }
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
            data: serde_json::json!({"k": "v"}),
        };
        let env = Envelope::wrap(
            record,
            &Arc::from("okta"),
            Utc.timestamp_opt(1_700_000_001, 0).unwrap(),
        );
        assert_eq!(
            serde_json::to_string(&env).unwrap(),
            r#"{"event_time":"2023-11-14T22:13:20.123Z","parse_time":"2023-11-14T22:13:21.000Z","source":"okta","event_id":"e1","data":{"k":"v"}}"#
        );
    }
}
