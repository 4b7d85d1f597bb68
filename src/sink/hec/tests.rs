//! Unit tests of the HEC sink's pieces; the protocol end to end is in `tests/it/hec.rs`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::wire::{classify, classify_ack, AckVerdict, Batch, EncodeError, Metadata, Verdict};
use super::*;
use crate::model::Secret;
use crate::source::Record;

fn event(id: &str, millis: i64, data: Value) -> Envelope {
    let record = Record {
        time: Utc.timestamp_millis_opt(millis).unwrap(),
        id: id.into(),
        data: data.into(),
    };
    Envelope::wrap(
        record,
        &Arc::from("okta"),
        Utc.timestamp_opt(1_700_000_100, 0).unwrap(),
    )
}

fn meta(format: HecEventFormat) -> Metadata {
    Metadata {
        host: None,
        source: "okta".into(),
        sourcetype: "sluice:okta".into(),
        index: None,
        format: format.into(),
    }
}

fn encode(meta: &Metadata, event: &Envelope) -> Value {
    let mut out = Vec::new();
    meta.encode(event, &mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// Splits a body on HEC's framing: JSON objects back to back.
fn objects(body: &[u8]) -> Vec<Value> {
    serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn an_event_carries_time_in_epoch_seconds_with_millis_metadata_and_its_id() {
    let e = event("e1", 1_700_000_000_123, json!({"actor": "alice"}));
    let mut out = Vec::new();
    meta(HecEventFormat::Data).encode(&e, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with(r#"{"time":1700000000.123,"#), "{text}");
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["source"], "okta");
    assert_eq!(value["sourcetype"], "sluice:okta");
    assert_eq!(value["event"], json!({"actor": "alice"}));
    assert_eq!(value["fields"], json!({"event_id": "e1"}));
    assert!(
        value.get("host").is_none() && value.get("index").is_none(),
        "unset keys are left to Splunk: {value}"
    );

    // Whole seconds and the first millisecond keep their exact value.
    let whole = encode(
        &meta(HecEventFormat::Data),
        &event("e2", 1_700_000_000_000, json!(1)),
    );
    assert_eq!(whole["time"].as_f64(), Some(1_700_000_000.0));
    let one = encode(
        &meta(HecEventFormat::Data),
        &event("e3", 1_700_000_000_001, json!(1)),
    );
    assert_eq!(one["time"].to_string(), "1700000000.001");
}

#[test]
fn configured_metadata_and_the_envelope_format() {
    let m = Metadata {
        host: Some("sluice-1".into()),
        source: "okta-prod".into(),
        sourcetype: "okta:system".into(),
        index: Some("audit".into()),
        format: HecEventFormat::Envelope.into(),
    };
    let value = encode(&m, &event("e1", 1_700_000_000_123, json!({"k": "v"})));
    assert_eq!(value["host"], "sluice-1");
    assert_eq!(value["index"], "audit");
    assert_eq!(value["source"], "okta-prod");
    assert_eq!(value["sourcetype"], "okta:system");
    assert_eq!(value["event"]["event_id"], "e1");
    assert_eq!(value["event"]["event_time"], "2023-11-14T22:13:20.123Z");
    assert_eq!(value["event"]["data"], json!({"k": "v"}));
}

#[test]
fn blank_records_are_refused_before_sending() {
    let m = meta(HecEventFormat::Data);
    for data in [Value::Null, json!(""), json!("  \n")] {
        let mut out = Vec::new();
        assert!(
            matches!(
                m.encode(&event("e", 0, data.clone()), &mut out),
                Err(EncodeError::Blank)
            ),
            "{data}"
        );
    }
    // The envelope around a blank record is not blank.
    let mut out = Vec::new();
    meta(HecEventFormat::Envelope)
        .encode(&event("e", 0, Value::Null), &mut out)
        .unwrap();
}

fn batch(n: usize) -> Batch {
    let m = meta(HecEventFormat::Data);
    let mut batch = Batch::default();
    for i in 0..n {
        let e = event(
            &format!("e{i}"),
            1_700_000_000_000 + i as i64,
            json!({"i": i}),
        );
        let mut out = Vec::new();
        m.encode(&e, &mut out).unwrap();
        batch.push(e, &out);
    }
    batch
}

fn ids_in_body(batch: &Batch) -> Vec<String> {
    objects(batch.body())
        .iter()
        .map(|o| o["fields"]["event_id"].as_str().unwrap().to_string())
        .collect()
}

fn ids(batch: &Batch) -> Vec<String> {
    batch.events().iter().map(|e| e.event_id.clone()).collect()
}

#[test]
fn batches_split_and_lose_an_event_without_reencoding_and_stay_aligned() {
    let b = batch(5);
    assert_eq!(ids_in_body(&b), ids(&b));
    let (first, second) = b.split_half();
    assert_eq!(ids(&first), ["e0", "e1"]);
    assert_eq!(ids(&second), ["e2", "e3", "e4"]);
    assert_eq!(ids_in_body(&first), ids(&first));
    assert_eq!(ids_in_body(&second), ids(&second));
    let (bad, rest) = second.remove(1);
    assert_eq!(bad.event_id, "e3");
    assert_eq!(ids(&rest), ["e2", "e4"]);
    assert_eq!(ids_in_body(&rest), ids(&rest));
    assert_eq!(rest.describe(), "2 events, event_id e2 … e4");
}

const URL: &str = "https://splunk.example.com:8088/services/collector/event";

fn reply(status: u16, body: &str) -> Verdict {
    classify(
        StatusCode::from_u16(status).unwrap(),
        body.as_bytes(),
        None,
        URL,
    )
}

#[test]
fn replies_are_classified_by_status_and_hec_code() {
    assert_eq!(
        reply(200, r#"{"text":"Success","code":0,"ackId":7}"#),
        Verdict::Accepted { ack_id: Some(7) }
    );
    assert_eq!(
        reply(200, r#"{"text":"Success","code":0}"#),
        Verdict::Accepted { ack_id: None }
    );
    // Only HEC's own success counts as delivered.
    assert!(matches!(
        reply(200, "<html>login</html>"),
        Verdict::Fatal { .. }
    ));
    assert!(matches!(
        reply(200, r#"{"text":"HEC is healthy","code":17}"#),
        Verdict::Fatal { .. }
    ));
    for (status, body) in [
        (503, r#"{"text":"Server is busy","code":9}"#),
        (500, r#"{"text":"Internal server error","code":8}"#),
        (429, ""),
        (502, "bad gateway"),
    ] {
        assert!(
            matches!(reply(status, body), Verdict::Retry { .. }),
            "{status}"
        );
    }
    let busy = classify(
        StatusCode::SERVICE_UNAVAILABLE,
        b"{}",
        Some(Duration::from_secs(3)),
        URL,
    );
    assert!(matches!(busy, Verdict::Retry { wait: Some(w), .. } if w == Duration::from_secs(3)));
    assert_eq!(
        reply(
            400,
            r#"{"text":"Event field is required","code":12,"invalid-event-number":3}"#
        ),
        Verdict::Invalid {
            event: Some(3),
            reason: "HTTP 400, HEC code 12: Event field is required".into()
        }
    );
    assert!(matches!(
        reply(400, r#"{"text":"Invalid data format","code":6}"#),
        Verdict::Invalid { event: None, .. }
    ));
    assert!(matches!(reply(413, "too large"), Verdict::TooLarge { .. }));
    for (status, body, needle) in [
        (403, r#"{"text":"Invalid token","code":4}"#, "token"),
        (401, r#"{"text":"Token is required","code":2}"#, "token"),
        (403, r#"{"text":"Token disabled","code":1}"#, "enabled"),
        (400, r#"{"text":"Incorrect index","code":7}"#, "`index`"),
        (
            400,
            r#"{"text":"Data channel is missing","code":10}"#,
            "acks = true",
        ),
        (
            400,
            r#"{"text":"ACK is disabled","code":14}"#,
            "acks = false",
        ),
        (404, "not found", "HEC is enabled"),
        (302, "", "redirect"),
    ] {
        let Verdict::Fatal { reason } = reply(status, body) else {
            panic!("{status} {body} is not fatal")
        };
        assert!(reason.contains(URL), "{reason}");
        assert!(reason.contains("hint:"), "{reason}");
        assert!(reason.contains(needle), "{needle}: {reason}");
    }
}

#[test]
fn acknowledgement_replies() {
    let ok = classify_ack(
        StatusCode::OK,
        br#"{"acks":{"0":true,"1":false,"2":true}}"#,
        URL,
    );
    let AckVerdict::Acked(mut acked) = ok else {
        panic!("{ok:?}")
    };
    acked.sort_unstable();
    assert_eq!(acked, [0, 2]);
    assert!(matches!(
        classify_ack(StatusCode::SERVICE_UNAVAILABLE, b"", URL),
        AckVerdict::Transient(_)
    ));
    assert!(matches!(
        classify_ack(
            StatusCode::BAD_REQUEST,
            br#"{"text":"Invalid data channel","code":11}"#,
            URL
        ),
        AckVerdict::Transient(_)
    ));
    assert!(matches!(
        classify_ack(
            StatusCode::BAD_REQUEST,
            br#"{"text":"ACK is disabled","code":14}"#,
            URL
        ),
        AckVerdict::Fatal(_)
    ));
    assert!(matches!(
        classify_ack(StatusCode::FORBIDDEN, b"", URL),
        AckVerdict::Fatal(_)
    ));
}

#[test]
fn the_url_may_be_the_base_or_an_endpoint() {
    for raw in [
        "https://splunk:8088",
        "https://splunk:8088/",
        "https://splunk:8088/services/collector",
        "https://splunk:8088/services/collector/event",
        "https://splunk:8088/services/collector/event/",
    ] {
        let (event, ack) = endpoints(raw).unwrap();
        assert_eq!(
            event.as_str(),
            "https://splunk:8088/services/collector/event",
            "{raw}"
        );
        assert_eq!(
            ack.as_str(),
            "https://splunk:8088/services/collector/ack",
            "{raw}"
        );
    }
    let (event, _) = endpoints("https://proxy.example.com/splunk/").unwrap();
    assert_eq!(
        event.as_str(),
        "https://proxy.example.com/splunk/services/collector/event"
    );
}

fn config(acks: bool) -> HecConfig {
    let mut c = HecConfig::new(
        "splunk",
        "http://127.0.0.1:9",
        Secret::new("s3cret-token-123"),
    );
    c.acks = acks;
    c
}

#[test]
fn defaults_follow_the_source_and_acks_bring_a_channel() {
    let sink = HecSink::new(&config(false), "okta").unwrap();
    assert_eq!(sink.meta.source, "okta");
    assert_eq!(sink.meta.sourcetype, "sluice:okta");
    assert!(sink.channel().is_none());
    let sink = HecSink::new(&config(true), "okta").unwrap();
    let channel = sink.channel().unwrap();
    assert_eq!(uuid::Uuid::parse_str(channel).unwrap().get_version_num(), 4);
    assert!(sink
        .ack_url
        .as_str()
        .ends_with(&format!("/services/collector/ack?channel={channel}")));
    let other = HecSink::new(&config(true), "okta").unwrap();
    assert_ne!(
        other.channel(),
        Some(channel),
        "each sink has its own channel"
    );
}

#[test]
fn construction_errors_name_the_key_and_never_the_token() {
    let mut c = config(false);
    c.max_batch_events = 0;
    let err = HecSink::new(&c, "okta").err().unwrap();
    assert_eq!(err.sink, "splunk");
    assert!(err.detail.contains("`max_batch_events`"), "{err}");

    let mut c = config(false);
    c.token = Secret::new("bad\ntoken-value");
    let err = HecSink::new(&c, "okta").err().unwrap().to_string();
    assert!(
        err.contains("`token`") && !err.contains("token-value"),
        "{err}"
    );

    let mut c = config(false);
    c.ca_file = Some("/nonexistent/ca.pem".into());
    let err = HecSink::new(&c, "okta").err().unwrap().to_string();
    assert!(
        err.contains("ca_file") && err.contains("/nonexistent/ca.pem"),
        "{err}"
    );

    // Text a server sends back is scrubbed of the token.
    let sink = HecSink::new(&config(false), "okta").unwrap();
    let err = sink.error("echo: s3cret-token-123".into());
    assert_eq!(err.detail, "echo: [redacted]");
}

#[tokio::test]
async fn a_buffer_asks_for_a_commit_once_it_is_old_and_discard_drops_it() {
    let mut c = config(false);
    c.max_batch_age = Duration::from_millis(20);
    let mut sink = HecSink::new(&c, "okta").unwrap();
    assert!(!sink.wants_commit());
    // Fewer events than a batch: nothing is sent (the URL is closed anyway).
    sink.write(&[event("e1", 0, json!({"a": 1}))])
        .await
        .unwrap();
    assert!(!sink.wants_commit());
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(sink.wants_commit());
    sink.discard_staged().await.unwrap();
    assert!(!sink.wants_commit());
    assert_eq!(sink.prepare("0000000001-abcd").await.unwrap(), None);
}

#[tokio::test]
async fn blank_records_are_rejected_without_a_request_and_publish_reports_the_payload() {
    let mut sink = HecSink::new(&config(false), "okta").unwrap();
    sink.write(&[event("blank", 0, Value::Null)]).await.unwrap();
    assert_eq!(sink.prepare("b").await.unwrap(), None, "nothing was sent");
    let rejected = sink.take_rejected();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].event.event_id, "blank");
    assert!(rejected[0].error.contains("blank"), "{}", rejected[0].error);
    assert!(sink.take_rejected().is_empty());

    let published = sink
        .publish(&json!({"batches": 3, "bytes": 1234, "events": 20}))
        .await
        .unwrap();
    assert_eq!(
        published,
        Published {
            objects: 3,
            bytes: 1234
        }
    );
}

/// `payload = "ocsf"` sends the OCSF object as `event`; the envelope carries its member.
#[test]
fn the_ocsf_payload_is_the_event() {
    use crate::sink::Payload;
    use crate::transform::OcsfForm;
    let mut e = event("e1", 1_700_000_000_123, json!({"k": "v"}));
    e.ocsf = OcsfForm::Member(json!({"class_uid": 3002}).into());
    let mut m = meta(HecEventFormat::Data);
    m.format = Payload::Ocsf;
    assert_eq!(encode(&m, &e)["event"], json!({"class_uid": 3002}));
    m.format = Payload::Raw;
    assert_eq!(encode(&m, &e)["event"], json!({"k": "v"}));
    m.format = Payload::Envelope;
    assert_eq!(encode(&m, &e)["event"]["ocsf"], json!({"class_uid": 3002}));
}
