//! `payload`: what a sink sends of each event, the same key for every sink kind.

use serde::Deserialize;

use crate::transform::Envelope;

/// What a sink sends of each event (`payload = "envelope" | "ocsf" | "raw"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// The envelope: `event_time`, `parse_time`, `source`, `event_id`, `data`, and `ocsf`
    /// when the chain made an OCSF member.
    #[default]
    Envelope,
    /// The event's OCSF object alone. The loader refuses it for a sink whose events go
    /// through no `ocsf` step.
    Ocsf,
    /// The vendor record's bytes, as the API sent them unless a step changed them. The
    /// loader refuses it for a sink whose chain replaces the record with OCSF.
    Raw,
}

impl Payload {
    /// The value as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Payload::Envelope => "envelope",
            Payload::Ocsf => "ocsf",
            Payload::Raw => "raw",
        }
    }

    /// The JSON text this payload sends for `event`, when it is a part of the envelope
    /// (`None` for the envelope itself, which is written by [`Envelope::write_json`]). An
    /// event without an OCSF form (a dead letter replayed, which passes no chain) sends its
    /// record under `ocsf`.
    pub fn part(self, event: &Envelope) -> Option<&str> {
        match self {
            Payload::Envelope => None,
            Payload::Ocsf => Some(event.ocsf().unwrap_or(&event.data).as_str()),
            Payload::Raw => Some(event.data.as_str()),
        }
    }

    /// Appends what this payload sends of `event` to `out`, as one JSON value without a line
    /// break: by concatenation, the record's bytes copied through.
    pub fn write(self, event: &Envelope, out: &mut Vec<u8>) {
        match self.part(event) {
            Some(part) => out.extend_from_slice(part.as_bytes()),
            None => event.write_json(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::OcsfForm;
    use chrono::{TimeZone, Utc};
    use std::sync::Arc;

    fn event() -> Envelope {
        let record = crate::source::Record {
            time: Utc.timestamp_opt(0, 0).unwrap(),
            id: "e1".into(),
            data: crate::source::RawJson::parse(r#"{"a": 1.50}"#).unwrap(),
        };
        Envelope::wrap(record, &Arc::from("okta"), Utc.timestamp_opt(0, 0).unwrap())
    }

    fn written(payload: Payload, event: &Envelope) -> String {
        let mut out = Vec::new();
        payload.write(event, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn each_payload_writes_its_part() {
        let mut event = event();
        event.ocsf = OcsfForm::Member(serde_json::json!({"class_uid": 3002}).into());
        let envelope = written(Payload::Envelope, &event);
        assert!(envelope.starts_with(r#"{"event_time":"#), "{envelope}");
        assert!(envelope.ends_with(r#""data":{"a":1.50},"ocsf":{"class_uid":3002}}"#));
        assert_eq!(written(Payload::Ocsf, &event), r#"{"class_uid":3002}"#);
        assert_eq!(written(Payload::Raw, &event), r#"{"a":1.50}"#, "bytes kept");
        event.ocsf = OcsfForm::InData;
        assert_eq!(written(Payload::Ocsf, &event), r#"{"a":1.50}"#);
    }
}
