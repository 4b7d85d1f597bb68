//! The Splunk HEC sink against a HEC look-alike: the token, gzip, the concatenated-JSON
//! framing, ackIds per channel and acknowledgement polls, with faults on demand (lost
//! acknowledgements, "server is busy", batches refused for a poison event). Most tests drive
//! the sink through the library; the last runs the real binary with a lake and a HEC sink.

use crate::common;
// Only the collector of the TLS servers is used here.
#[allow(dead_code)]
use crate::engine::tls;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use sluice::config::{HecConfig, Secret};
use sluice::simulator::{self, SimulatorConfig};
use sluice::sink::hec::{HecCompression, HecEventFormat, HecSink};
use sluice::sink::Sink;
use sluice::source::Record;
use sluice::transform::Envelope;

// ---------------------------------------------------------------------------------------
// A HEC look-alike
// ---------------------------------------------------------------------------------------

/// How the look-alike behaves.
#[derive(Debug, Clone, Default)]
struct Behaviour {
    /// The token has indexer acknowledgement on: a channel is required and ackIds are issued.
    acks: bool,
    /// Never acknowledge the first N batches accepted (their events did arrive).
    drop_acks_first: usize,
    /// Answer 503 "Server is busy" to the first N event requests.
    busy_first: usize,
    /// A batch holding an event with `"poison": true` is refused whole with a 400; this says
    /// whether the reply names the event (`invalid-event-number`), as Splunk does.
    name_invalid_event: bool,
    /// An ackId is reported indexed only once this long has passed since it was issued.
    ack_delay: Duration,
}

/// One accepted event request.
#[derive(Debug, Clone)]
struct Received {
    events: Vec<Value>,
    gzip: bool,
    /// Uncompressed body size.
    bytes: usize,
    channel: Option<String>,
    never_acked: bool,
}

#[derive(Debug, Default)]
struct Channel {
    next_ack: u64,
    /// Issued ackIds not yet reported indexed: when issued, and whether they never will be.
    outstanding: HashMap<u64, (Instant, bool)>,
}

#[derive(Debug, Default)]
struct HecState {
    event_requests: usize,
    busy_answers: usize,
    auth_failures: usize,
    refused: usize,
    accepted: Vec<Received>,
    channels: HashMap<String, Channel>,
    ack_polls: usize,
    /// The most ackIds awaiting acknowledgement on one channel, right after a batch was taken.
    max_outstanding: usize,
}

struct Hec {
    token: String,
    behaviour: Behaviour,
    state: Mutex<HecState>,
}

type Reply = (StatusCode, [(header::HeaderName, &'static str); 1], String);

fn reply(status: StatusCode, body: Value) -> Reply {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

fn hec_error(status: StatusCode, code: u64, text: &str) -> Reply {
    reply(status, json!({"text": text, "code": code}))
}

impl Hec {
    fn lock(&self) -> std::sync::MutexGuard<'_, HecState> {
        self.state
            .lock()
            .expect("no test thread panicked holding the lock")
    }

    fn check_token(&self, headers: &HeaderMap) -> Result<(), Reply> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            self.lock().auth_failures += 1;
            return Err(hec_error(StatusCode::UNAUTHORIZED, 2, "Token is required"));
        };
        if value.to_str().ok() != Some(format!("Splunk {}", self.token).as_str()) {
            self.lock().auth_failures += 1;
            return Err(hec_error(StatusCode::FORBIDDEN, 4, "Invalid token"));
        }
        Ok(())
    }
}

/// Parses HEC's batch framing strictly: JSON objects back to back (whitespace between them
/// allowed), each with a numeric `time`, a non-blank `event` and string-valued `fields`.
/// The error is HEC's code, text and the position of the bad event.
fn parse_events(body: &[u8]) -> Result<Vec<Value>, (u64, &'static str, usize)> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err((5, "No data", 0));
    }
    let mut events = Vec::new();
    for (i, item) in serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .enumerate()
    {
        let invalid = (6, "Invalid data format", i);
        let value = item.map_err(|_| invalid)?;
        let object = value.as_object().ok_or(invalid)?;
        match object.get("event") {
            None | Some(Value::Null) => return Err((12, "Event field is required", i)),
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Err((13, "Event field cannot be blank", i))
            }
            Some(_) => {}
        }
        if !object.get("time").is_some_and(Value::is_number) {
            return Err(invalid);
        }
        if let Some(fields) = object.get("fields") {
            let strings = fields
                .as_object()
                .is_some_and(|f| f.values().all(Value::is_string));
            if !strings {
                return Err((15, "Error in handling indexed fields", i));
            }
        }
        events.push(value);
    }
    Ok(events)
}

fn channel_of(headers: &HeaderMap, query: &HashMap<String, String>) -> Option<String> {
    headers
        .get("x-splunk-request-channel")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| query.get("channel").cloned())
}

async fn event_endpoint(
    State(hec): State<Arc<Hec>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    if let Err(refusal) = hec.check_token(&headers) {
        return refusal;
    }
    {
        let mut state = hec.lock();
        state.event_requests += 1;
        if state.busy_answers < hec.behaviour.busy_first {
            state.busy_answers += 1;
            return hec_error(StatusCode::SERVICE_UNAVAILABLE, 9, "Server is busy");
        }
    }
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v == "gzip");
    let body = if gzip {
        let mut plain = Vec::new();
        if flate2::read::MultiGzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .is_err()
        {
            return hec_error(StatusCode::BAD_REQUEST, 6, "Invalid data format");
        }
        plain
    } else {
        body.to_vec()
    };
    let events = match parse_events(&body) {
        Ok(events) => events,
        Err((code, text, i)) => {
            return reply(
                StatusCode::BAD_REQUEST,
                json!({"text": text, "code": code, "invalid-event-number": i}),
            )
        }
    };
    if let Some(i) = events.iter().position(|e| e["event"]["poison"] == true) {
        hec.lock().refused += 1;
        let mut answer = json!({"text": "Invalid data format", "code": 6});
        if hec.behaviour.name_invalid_event {
            answer["invalid-event-number"] = json!(i);
        }
        return reply(StatusCode::BAD_REQUEST, answer);
    }
    let channel = channel_of(&headers, &query);
    let mut state = hec.lock();
    let state = &mut *state;
    let mut received = Received {
        events,
        gzip,
        bytes: body.len(),
        channel: channel.clone(),
        never_acked: false,
    };
    if !hec.behaviour.acks {
        state.accepted.push(received);
        return reply(StatusCode::OK, json!({"text": "Success", "code": 0}));
    }
    let Some(channel) = channel else {
        return hec_error(StatusCode::BAD_REQUEST, 10, "Data channel is missing");
    };
    received.never_acked = state.accepted.len() < hec.behaviour.drop_acks_first;
    let ch = state.channels.entry(channel).or_default();
    let ack_id = ch.next_ack;
    ch.next_ack += 1;
    ch.outstanding
        .insert(ack_id, (Instant::now(), received.never_acked));
    let outstanding = ch.outstanding.len();
    state.max_outstanding = state.max_outstanding.max(outstanding);
    state.accepted.push(received);
    reply(
        StatusCode::OK,
        json!({"text": "Success", "code": 0, "ackId": ack_id}),
    )
}

async fn ack_endpoint(
    State(hec): State<Arc<Hec>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    if let Err(refusal) = hec.check_token(&headers) {
        return refusal;
    }
    if !hec.behaviour.acks {
        return hec_error(StatusCode::BAD_REQUEST, 14, "ACK is disabled");
    }
    let Some(channel) = channel_of(&headers, &query) else {
        return hec_error(StatusCode::BAD_REQUEST, 10, "Data channel is missing");
    };
    let Ok(asked) = serde_json::from_slice::<Value>(&body) else {
        return hec_error(StatusCode::BAD_REQUEST, 6, "Invalid data format");
    };
    let Some(ids) = asked["acks"].as_array() else {
        return hec_error(StatusCode::BAD_REQUEST, 6, "Invalid data format");
    };
    let mut state = hec.lock();
    state.ack_polls += 1;
    let Some(ch) = state.channels.get_mut(&channel) else {
        return hec_error(StatusCode::BAD_REQUEST, 11, "Invalid data channel");
    };
    let mut acks = serde_json::Map::new();
    for id in ids.iter().filter_map(Value::as_u64) {
        let indexed = match ch.outstanding.get(&id) {
            Some((issued, never)) => !never && issued.elapsed() >= hec.behaviour.ack_delay,
            None => false,
        };
        if indexed {
            // Like Splunk, an ackId reported indexed is forgotten.
            ch.outstanding.remove(&id);
        }
        acks.insert(id.to_string(), Value::Bool(indexed));
    }
    reply(StatusCode::OK, json!({ "acks": acks }))
}

/// A running look-alike on a loopback port.
struct Receiver {
    url: String,
    hec: Arc<Hec>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Receiver {
    async fn start(token: &str, behaviour: Behaviour) -> Receiver {
        let hec = Arc::new(Hec {
            token: token.to_string(),
            behaviour,
            state: Mutex::new(HecState::default()),
        });
        let app = Router::new()
            .route("/services/collector/event", post(event_endpoint))
            .route("/services/collector/ack", post(ack_endpoint))
            .with_state(Arc::clone(&hec));
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("loopback port");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("receiver serves");
        });
        Receiver { url, hec, server }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, HecState> {
        self.hec.lock()
    }

    /// Every accepted event's `event_id` and how many times it arrived.
    fn id_counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for batch in &self.state().accepted {
            for event in &batch.events {
                let id = event["fields"]["event_id"]
                    .as_str()
                    .expect("event_id field");
                *counts.entry(id.to_string()).or_insert(0) += 1;
            }
        }
        counts
    }

    fn events(&self) -> Vec<Value> {
        self.state()
            .accepted
            .iter()
            .flat_map(|b| b.events.clone())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const TOKEN: &str = "hec-test-token-4b1e9f";

/// Event `i`: a millisecond-precise time, id `evt-00042`, and a record.
fn envelope(i: usize, poison: bool) -> Envelope {
    let mut data = json!({"n": i, "actor": {"login": format!("user{}@example.com", i % 7)}});
    if poison {
        data["poison"] = json!(true);
    }
    let record = Record {
        time: Utc
            .timestamp_millis_opt(1_767_225_600_000 + i as i64 * 1_237)
            .single()
            .expect("valid time"),
        id: format!("evt-{i:05}"),
        data: data.into(),
    };
    Envelope::wrap(record, &Arc::from("okta"), Utc::now())
}

fn envelopes(n: usize) -> Vec<Envelope> {
    (0..n).map(|i| envelope(i, false)).collect()
}

fn config(url: &str) -> HecConfig {
    let mut c = HecConfig::new("splunk", url, Secret::new(TOKEN));
    c.ack_poll_interval = Duration::from_millis(20);
    c.max_backoff = Duration::from_millis(50);
    c
}

/// Writes `events` in pages, as the pipeline does.
async fn write_pages(sink: &mut HecSink, events: &[Envelope], page: usize) {
    for chunk in events.chunks(page) {
        sink.write(chunk).await.expect("write succeeds");
    }
}

fn assert_exactly_once(receiver: &Receiver, expected: &[Envelope]) {
    let counts = receiver.id_counts();
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
    let missing: Vec<_> = expected
        .iter()
        .filter(|e| !counts.contains_key(&e.event_id))
        .take(5)
        .map(|e| &e.event_id)
        .collect();
    assert!(
        twice.is_empty() && missing.is_empty() && counts.len() == expected.len(),
        "{} distinct ids for {} events; duplicated {twice:?}, missing {missing:?}",
        counts.len(),
        expected.len()
    );
}

// ---------------------------------------------------------------------------------------
// Library tests
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn with_acks_every_event_arrives_exactly_once_with_the_configured_metadata() {
    let hec = Receiver::start(
        TOKEN,
        Behaviour {
            acks: true,
            ..Behaviour::default()
        },
    )
    .await;
    let mut c = config(&hec.url);
    c.acks = true;
    c.max_batch_events = 300;
    c.index = Some("okta_audit".into());
    c.host = Some("sluice-test".into());
    c.source = Some("okta-prod".into());
    c.sourcetype = Some("okta:im2".into());
    let mut sink = HecSink::new(&c, "okta").unwrap();
    let events = envelopes(2_500);

    write_pages(&mut sink, &events[..2_000], 100).await;
    let payload = sink
        .prepare("0000000001-aaaa")
        .await
        .unwrap()
        .expect("something was sent");
    assert_eq!(payload["events"], 2_000);
    assert_eq!(payload["batches"], 7, "6 full batches of 300 and the rest");
    assert_eq!(payload["resent"], 0);
    let published = sink.publish(&payload).await.unwrap();
    assert_eq!(published.objects, 7);
    assert_eq!(Some(published.bytes), payload["bytes"].as_u64());
    assert!(sink.take_rejected().is_empty());

    // A second commit reports only its own batches.
    write_pages(&mut sink, &events[2_000..], 100).await;
    let payload = sink.prepare("0000000002-bbbb").await.unwrap().unwrap();
    assert_eq!(payload["events"], 500);
    assert_eq!(payload["batches"], 2);
    assert_eq!(sink.prepare("0000000003-cccc").await.unwrap(), None);

    assert_exactly_once(&hec, &events);
    let by_id: HashMap<&str, &Envelope> = events.iter().map(|e| (e.event_id.as_str(), e)).collect();
    for event in hec.events() {
        let id = event["fields"]["event_id"].as_str().unwrap();
        let sent = by_id[id];
        let millis = sent.event_time.0.timestamp_millis();
        // Epoch seconds with the milliseconds as a fraction, and no more digits than that.
        assert_eq!(event["time"].as_f64(), Some(millis as f64 / 1000.0));
        let time = event["time"].to_string();
        let decimals = time.split_once('.').map_or(0, |(_, f)| f.len());
        assert!(decimals <= 3, "{time}");
        assert_eq!(event["index"], "okta_audit");
        assert_eq!(event["host"], "sluice-test");
        assert_eq!(event["source"], "okta-prod");
        assert_eq!(event["sourcetype"], "okta:im2");
        assert_eq!(event["event"], sent.data, "the record as the API sent it");
    }
    let state = hec.state();
    assert!(state.accepted.iter().all(|b| b.gzip), "gzip by default");
    let channel = sink.channel().unwrap();
    assert!(state
        .accepted
        .iter()
        .all(|b| b.channel.as_deref() == Some(channel)));
    assert!(state.channels[channel].outstanding.is_empty());
    assert!(state.ack_polls > 0);
}

#[tokio::test]
async fn without_acks_defaults_plain_bodies_the_envelope_format_and_byte_batching() {
    let hec = Receiver::start(TOKEN, Behaviour::default()).await;
    let mut c = config(&hec.url);
    c.compression = HecCompression::None;
    c.event_format = HecEventFormat::Envelope;
    c.max_batch_bytes = bytesize::ByteSize::kib(8);
    let mut sink = HecSink::new(&c, "okta").unwrap();
    assert!(sink.channel().is_none());
    let events = envelopes(400);
    write_pages(&mut sink, &events, 50).await;
    let payload = sink.prepare("b").await.unwrap().unwrap();
    assert_eq!(payload["events"], 400);
    assert_exactly_once(&hec, &events);

    let state = hec.state();
    assert!(
        state.accepted.len() > 10,
        "8 KiB batches: {}",
        state.accepted.len()
    );
    assert_eq!(payload["batches"], state.accepted.len());
    for batch in &state.accepted {
        assert!(!batch.gzip);
        assert!(batch.channel.is_none());
        assert!(batch.bytes <= 8 * 1024, "a batch of {} bytes", batch.bytes);
    }
    let first = &state.accepted[0].events[0];
    assert_eq!(first["source"], "okta", "default source: the sluice source");
    assert_eq!(first["sourcetype"], "sluice:okta");
    assert!(first.get("index").is_none() && first.get("host").is_none());
    assert_eq!(
        first["event"]["event_id"], "evt-00000",
        "the whole envelope"
    );
    assert_eq!(first["event"]["source"], "okta");
    assert_eq!(first["event"]["data"], events[0].data);
}

#[tokio::test]
async fn unacknowledged_batches_are_sent_again_and_only_they_arrive_twice() {
    let hec = Receiver::start(
        TOKEN,
        Behaviour {
            acks: true,
            drop_acks_first: 2,
            ..Behaviour::default()
        },
    )
    .await;
    let mut c = config(&hec.url);
    c.acks = true;
    c.max_batch_events = 100;
    c.ack_timeout = Duration::from_millis(300);
    let mut sink = HecSink::new(&c, "okta").unwrap();
    let events = envelopes(1_000);
    write_pages(&mut sink, &events, 100).await;
    let payload = sink.prepare("b").await.unwrap().unwrap();
    assert_eq!(payload["resent"], 2);
    assert_eq!(payload["events"], 1_000);
    assert_eq!(payload["batches"], 10);

    let counts = hec.id_counts();
    assert!(
        events.iter().all(|e| counts.contains_key(&e.event_id)),
        "every event arrived at least once"
    );
    let lost_acks: HashSet<String> = hec
        .state()
        .accepted
        .iter()
        .filter(|b| b.never_acked)
        .flat_map(|b| b.events.iter())
        .map(|e| e["fields"]["event_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(lost_acks.len(), 200);
    let duplicated: HashSet<String> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(
        duplicated, lost_acks,
        "duplicates are exactly the events of the batches whose acks were lost"
    );
    assert!(counts.values().all(|n| *n <= 2));
}

#[tokio::test]
async fn a_batch_never_acknowledged_fails_the_commit_after_max_resends() {
    let hec = Receiver::start(
        TOKEN,
        Behaviour {
            acks: true,
            drop_acks_first: usize::MAX,
            ..Behaviour::default()
        },
    )
    .await;
    let mut c = config(&hec.url);
    c.acks = true;
    c.ack_timeout = Duration::from_millis(100);
    c.max_resends = 2;
    let mut sink = HecSink::new(&c, "okta").unwrap();
    sink.write(&envelopes(10)).await.unwrap();
    let err = sink.prepare("b").await.unwrap_err().to_string();
    assert!(err.contains("sink `splunk`"), "{err}");
    assert!(err.contains("not acknowledged after 3 sends"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(hec.state().accepted.len(), 3);
}

#[tokio::test]
async fn a_busy_collector_is_retried() {
    let hec = Receiver::start(
        TOKEN,
        Behaviour {
            busy_first: 3,
            ..Behaviour::default()
        },
    )
    .await;
    let mut c = config(&hec.url);
    c.max_batch_events = 100;
    let mut sink = HecSink::new(&c, "okta").unwrap();
    let events = envelopes(500);
    write_pages(&mut sink, &events, 100).await;
    sink.prepare("b").await.unwrap().unwrap();
    assert_exactly_once(&hec, &events);
    let state = hec.state();
    assert_eq!(state.busy_answers, 3);
    assert_eq!(state.event_requests, 5 + 3);
}

#[tokio::test]
async fn a_collector_busy_for_too_long_fails_with_the_url_and_a_hint() {
    let hec = Receiver::start(
        TOKEN,
        Behaviour {
            busy_first: usize::MAX,
            ..Behaviour::default()
        },
    )
    .await;
    let mut c = config(&hec.url);
    c.max_attempts = 3;
    let mut sink = HecSink::new(&c, "okta").unwrap();
    sink.write(&envelopes(5)).await.unwrap();
    let err = sink.prepare("b").await.unwrap_err().to_string();
    assert!(err.contains("gave up after 3 attempts"), "{err}");
    assert!(err.contains("HEC code 9: Server is busy"), "{err}");
    assert!(
        err.contains(&format!("{}/services/collector/event", hec.url)),
        "{err}"
    );
    assert_eq!(hec.state().event_requests, 3);
}

/// 300 events, poison at 17, 150 and 151, batches of 100.
async fn poison_run(
    name_invalid_event: bool,
) -> (Receiver, Vec<Envelope>, Vec<sluice::sink::Rejected>) {
    let hec = Receiver::start(
        TOKEN,
        Behaviour {
            acks: true,
            name_invalid_event,
            ..Behaviour::default()
        },
    )
    .await;
    let mut c = config(&hec.url);
    c.acks = true;
    c.max_batch_events = 100;
    let mut sink = HecSink::new(&c, "okta").unwrap();
    let poison = [17, 150, 151];
    let events: Vec<Envelope> = (0..300).map(|i| envelope(i, poison.contains(&i))).collect();
    write_pages(&mut sink, &events, 60).await;
    let payload = sink.prepare("b").await.unwrap().unwrap();
    assert_eq!(payload["rejected"], 3);
    assert_eq!(payload["events"], 297);
    let rejected = sink.take_rejected();
    (hec, events, rejected)
}

fn assert_poison_isolated(
    hec: &Receiver,
    events: &[Envelope],
    rejected: &[sluice::sink::Rejected],
) {
    let mut rejected_ids: Vec<&str> = rejected.iter().map(|r| r.event.event_id.as_str()).collect();
    rejected_ids.sort_unstable();
    assert_eq!(rejected_ids, ["evt-00017", "evt-00150", "evt-00151"]);
    for r in rejected {
        assert!(r.error.contains("HEC code 6"), "{}", r.error);
        assert_eq!(r.event.data.to_value().unwrap()["poison"], true);
    }
    let good: Vec<Envelope> = events
        .iter()
        .filter(|e| e.data.to_value().unwrap().get("poison").is_none())
        .cloned()
        .collect();
    assert_exactly_once(hec, &good);
}

#[tokio::test]
async fn poison_events_named_by_hec_are_rejected_and_the_rest_delivered() {
    let (hec, events, rejected) = poison_run(true).await;
    assert_poison_isolated(&hec, &events, &rejected);
    // One refusal per poison event: each resend leaves one out.
    assert_eq!(hec.state().refused, 3);
}

#[tokio::test]
async fn poison_events_hec_does_not_name_are_isolated_by_halving() {
    let (hec, events, rejected) = poison_run(false).await;
    assert_poison_isolated(&hec, &events, &rejected);
    let refused = hec.state().refused;
    assert!(
        refused > 3 && refused < 40,
        "halving took {refused} refusals"
    );
}

#[tokio::test]
async fn a_batch_full_of_poison_is_rejected_whole_after_a_bounded_number_of_requests() {
    let hec = Receiver::start(TOKEN, Behaviour::default()).await;
    let mut c = config(&hec.url);
    c.max_batch_events = 100;
    let mut sink = HecSink::new(&c, "okta").unwrap();
    let mut events: Vec<Envelope> = (0..100).map(|i| envelope(i, true)).collect();
    events.push(envelope(100, false));
    write_pages(&mut sink, &events, 101).await;
    let payload = sink.prepare("b").await.unwrap().unwrap();
    assert_eq!(payload["events"], 1);
    let rejected = sink.take_rejected();
    assert_eq!(rejected.len(), 100);
    assert!(rejected.iter().any(|r| r.error.contains("abandoned")));
    let refused = hec.state().refused;
    assert!(
        refused <= 1 + sluice::sink::hec::MAX_ISOLATION_REQUESTS as usize,
        "{refused} refused requests"
    );
    assert_eq!(hec.id_counts().keys().collect::<Vec<_>>(), ["evt-00100"]);
}

#[tokio::test]
async fn a_slow_collector_holds_writes_back() {
    let hec = Receiver::start(
        TOKEN,
        Behaviour {
            acks: true,
            ack_delay: Duration::from_millis(150),
            ..Behaviour::default()
        },
    )
    .await;
    let mut c = config(&hec.url);
    c.acks = true;
    c.max_batch_events = 50;
    c.max_unacked_batches = 2;
    let mut sink = HecSink::new(&c, "okta").unwrap();
    let events = envelopes(500);
    let started = Instant::now();
    write_pages(&mut sink, &events, 50).await;
    let writing = started.elapsed();
    assert!(sink.wants_commit(), "two batches await acknowledgement");
    sink.prepare("b").await.unwrap().unwrap();
    assert_exactly_once(&hec, &events);
    assert_eq!(
        hec.state().max_outstanding,
        2,
        "never more than max_unacked_batches in flight"
    );
    // 10 batches, 2 at a time, each pair acknowledged after 150 ms.
    assert!(
        writing >= Duration::from_millis(500),
        "writes waited for acknowledgements: {writing:?}"
    );
}

#[tokio::test]
async fn mismatched_acknowledgement_settings_fail_with_a_hint() {
    // The token requires a channel, the sink does not use acknowledgements.
    let hec = Receiver::start(
        TOKEN,
        Behaviour {
            acks: true,
            ..Behaviour::default()
        },
    )
    .await;
    let mut sink = HecSink::new(&config(&hec.url), "okta").unwrap();
    sink.write(&envelopes(3)).await.unwrap();
    let err = sink.prepare("b").await.unwrap_err().to_string();
    assert!(
        err.contains("HEC code 10") && err.contains("set acks = true"),
        "{err}"
    );

    // The sink asks for acknowledgements, the token has them off.
    let hec = Receiver::start(TOKEN, Behaviour::default()).await;
    let mut c = config(&hec.url);
    c.acks = true;
    let mut sink = HecSink::new(&c, "okta").unwrap();
    sink.write(&envelopes(3)).await.unwrap();
    let err = sink.prepare("b").await.unwrap_err().to_string();
    assert!(
        err.contains("no ackId") && err.contains("acks = false"),
        "{err}"
    );
}

#[tokio::test]
async fn the_token_never_appears_in_logs_or_errors() {
    const WRONG: &str = "wrong-hec-token-77aa31";
    // Everything logged, at every level, from every crate. The test's runtime has one
    // thread: the sink and the look-alike both log here.
    let (captured, _guard) = common::logs::capture(tracing::Level::TRACE);

    let hec = Receiver::start(
        TOKEN,
        Behaviour {
            acks: true,
            busy_first: 2,
            drop_acks_first: 1,
            ..Behaviour::default()
        },
    )
    .await;
    let mut c = config(&hec.url);
    c.acks = true;
    c.max_batch_events = 20;
    c.ack_timeout = Duration::from_millis(100);
    let mut sink = HecSink::new(&c, "okta").unwrap();
    let events = envelopes(100);
    write_pages(&mut sink, &events, 25).await;
    sink.prepare("b").await.unwrap().unwrap();

    let mut wrong = config(&hec.url);
    wrong.token = Secret::new(WRONG);
    wrong.name = "splunk-wrong".into();
    let mut sink = HecSink::new(&wrong, "okta").unwrap();
    sink.write(&envelopes(3)).await.unwrap();
    let err = sink.prepare("b").await.unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("sink `splunk-wrong`"), "{shown}");
    assert!(
        shown.contains(&format!("{}/services/collector/event", hec.url)),
        "{shown}"
    );
    assert!(
        shown.contains("HTTP 403, HEC code 4: Invalid token"),
        "{shown}"
    );
    assert!(shown.contains("hint: check the sink's token"), "{shown}");
    assert!(!shown.contains(WRONG) && !shown.contains(TOKEN), "{shown}");
    assert_eq!(
        hec.state().auth_failures,
        1,
        "a refused token is not retried"
    );
    assert!(!format!("{wrong:?}").contains(WRONG));

    let logs = captured.text();
    assert!(
        logs.contains("retrying") && logs.contains("sending it again"),
        "the faults were logged: {logs}"
    );
    assert!(!logs.contains(TOKEN), "the token leaked into the logs");
    assert!(
        !logs.contains(WRONG),
        "the wrong token leaked into the logs"
    );
}

// ---------------------------------------------------------------------------------------
// The binary, end to end
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_delivers_the_simulator_to_a_lake_and_to_hec() {
    const E2E_TOKEN: &str = "e2e-hec-token-0c7d22f1";
    let sim_config = SimulatorConfig::okta(2_000);
    let sim = common::start_simulator(sim_config.clone()).await;
    let hec = Receiver::start(
        E2E_TOKEN,
        Behaviour {
            acks: true,
            ..Behaviour::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let path = common::TestConfig::new(&base_url).write(dir.path(), "");
    let original = std::fs::read_to_string(&path).unwrap();
    assert!(original.contains("sinks = [\"lake\"]"));
    let text = original.replace("sinks = [\"lake\"]", "sinks = [\"lake\", \"splunk\"]")
        + &format!(
            r#"
[[sinks]]
name = "splunk"
kind = "splunk_hec"
url = "{url}"
token = "${{env:SLUICE_TEST_HEC_TOKEN}}"
index = "okta_audit"
acks = true
ack_poll_interval = "20ms"
max_batch_events = 150
"#,
            url = hec.url
        );
    std::fs::write(&path, text).unwrap();

    let out = common::sluice()
        .args(["run", "--once", "--config", path.to_str().unwrap()])
        .env("SLUICE_TEST_HEC_TOKEN", E2E_TOKEN)
        .env("RUST_LOG", "trace")
        .output()
        .await
        .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        &shown[shown.len().saturating_sub(4000)..]
    );
    assert!(
        !shown.contains(E2E_TOKEN),
        "the HEC token leaked into the logs"
    );

    common::assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    let expected: HashSet<String> = simulator::event_ids(&sim_config).into_iter().collect();
    let counts = hec.id_counts();
    assert_eq!(counts.len(), expected.len());
    assert!(counts.keys().all(|id| expected.contains(id)));
    assert!(counts.values().all(|n| *n == 1), "each event arrived once");
    for event in hec.events() {
        assert_eq!(event["index"], "okta_audit");
        assert_eq!(event["sourcetype"], "sluice:okta");
        assert_eq!(event["source"], "okta");
        let published = chrono::DateTime::parse_from_rfc3339(
            event["event"]["published"]
                .as_str()
                .expect("okta records have `published`"),
        )
        .unwrap();
        assert_eq!(
            (event["time"].as_f64().unwrap() * 1000.0).round() as i64,
            published.timestamp_millis()
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn every_certificate_of_a_ca_file_bundle_is_trusted() {
    // The collector's certificate is signed by the test CA, which is the SECOND certificate
    // of the bundle: a client that keeps only the first cannot reach it.
    let (served, base) = tls::start_answering(false, r#"{"text":"Success","code":0}"#).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.pem");
    let other = std::fs::read_to_string(tls::fixture("client.pem")).unwrap();
    let ca = std::fs::read_to_string(tls::fixture("ca.pem")).unwrap();
    std::fs::write(&bundle, other + &ca).unwrap();
    let mut c = config(&base);
    c.ca_file = Some(bundle.clone());
    c.max_attempts = 1;
    let mut sink = HecSink::new(&c, "okta").unwrap();
    write_pages(&mut sink, &envelopes(3), 3).await;
    let payload = sink.prepare("b").await.expect("the collector is trusted");
    assert_eq!(payload.unwrap()["events"], 3);
    assert!(served.load(std::sync::atomic::Ordering::SeqCst) >= 1);

    // A file without a certificate is refused when the sink is made, naming it.
    std::fs::write(&bundle, "not a certificate\n").unwrap();
    let err = HecSink::new(&c, "okta").err().expect("refused").to_string();
    assert!(
        err.contains("ca_file") && err.contains(&bundle.display().to_string()),
        "{err}"
    );
}
