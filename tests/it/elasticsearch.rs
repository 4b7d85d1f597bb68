//! The Elasticsearch / OpenSearch sink against a `_bulk` look-alike: exactly-once delivery
//! under replays, item-level retries and rejections, index naming, auth, request splitting,
//! config errors, and one end-to-end run of the real binary with the simulator.

use crate::common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use sluice::config::ElasticsearchConfig;
use sluice::simulator::{self, SimulatorConfig};
use sluice::sink::elasticsearch::ElasticsearchSink;
use sluice::sink::Sink;
use sluice::transform::{Envelope, EnvelopeTime};

use common::{sluice, start_simulator, TestConfig};

// ---------------------------------------------------------------------------------------
// A `_bulk` look-alike
// ---------------------------------------------------------------------------------------

/// What the fake cluster holds and has seen, and the faults it was told to inject.
#[derive(Default)]
struct ClusterState {
    /// The expected `Authorization` header; `None` accepts anything.
    auth: Option<String>,
    /// index → `_id` → document.
    indices: BTreeMap<String, BTreeMap<String, Value>>,
    /// `_id` → `create` actions received for it.
    attempts: HashMap<String, u32>,
    /// The `_id`s of each request, in order (requests refused before parsing have none).
    requests: Vec<Vec<String>>,
    /// Uncompressed body size of each parsed request.
    body_sizes: Vec<usize>,
    /// Requests that came gzip-compressed, and plain.
    gzip_requests: u32,
    plain_requests: u32,
    /// Query parameters of the last request.
    last_query: HashMap<String, String>,
    /// Requests refused for bad credentials.
    auth_failures: u32,
    /// Anything that broke the protocol; must stay empty.
    protocol_errors: Vec<String>,
    // Faults.
    /// `_id`s answered 429 the first time they are seen, accepted afterwards.
    throttle_once: HashSet<String>,
    /// `_id`s always refused with 400 mapper_parsing_exception.
    poison: HashSet<String>,
    /// The next this-many requests are answered 503 as a whole.
    unavailable: u32,
    /// Bodies larger than this (uncompressed) are answered 413.
    max_body: Option<usize>,
}

#[derive(Clone, Default)]
struct Cluster(Arc<Mutex<ClusterState>>);

impl Cluster {
    fn state(&self) -> MutexGuard<'_, ClusterState> {
        self.0.lock().unwrap()
    }

    fn document_count(&self) -> usize {
        self.state().indices.values().map(BTreeMap::len).sum()
    }

    /// Every stored `_id`, with how many indices hold it.
    fn stored_ids(&self) -> HashMap<String, usize> {
        let mut ids = HashMap::new();
        for docs in self.state().indices.values() {
            for id in docs.keys() {
                *ids.entry(id.clone()).or_default() += 1;
            }
        }
        ids
    }

    fn assert_no_protocol_errors(&self) {
        let errors = &self.state().protocol_errors;
        assert!(errors.is_empty(), "protocol errors: {errors:?}");
    }
}

fn es_error(status: StatusCode, kind: &str, reason: &str) -> Response {
    let body = json!({
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status.as_u16()
    });
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn bulk(
    State(cluster): State<Cluster>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = cluster.state();
    state.last_query = query;
    if let Some(expected) = &state.auth {
        let given = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            state.auth_failures += 1;
            // Like Elasticsearch: the credential is never echoed.
            return es_error(
                StatusCode::UNAUTHORIZED,
                "security_exception",
                "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
            );
        }
    }
    if state.unavailable > 0 {
        state.unavailable -= 1;
        return es_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "cluster_block_exception",
            "blocked by: [SERVICE_UNAVAILABLE/2/no master];",
        );
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-ndjson") {
        state
            .protocol_errors
            .push(format!("content type {content_type:?}"));
    }
    let gzip = headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok()) == Some("gzip");
    let raw = if gzip {
        state.gzip_requests += 1;
        let mut out = Vec::new();
        if let Err(err) = flate2::read::MultiGzDecoder::new(&body[..]).read_to_end(&mut out) {
            state.protocol_errors.push(format!("bad gzip: {err}"));
            return es_error(StatusCode::BAD_REQUEST, "parse_exception", "bad gzip");
        }
        out
    } else {
        state.plain_requests += 1;
        body.to_vec()
    };
    if state.max_body.is_some_and(|max| raw.len() > max) {
        return es_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "content_too_long_exception",
            "request body is too large",
        );
    }
    let pairs = match parse_ndjson(&raw) {
        Ok(pairs) => pairs,
        Err(err) => {
            state.protocol_errors.push(err.clone());
            return es_error(StatusCode::BAD_REQUEST, "illegal_argument_exception", &err);
        }
    };
    state.body_sizes.push(raw.len());
    state
        .requests
        .push(pairs.iter().map(|(_, id, _)| id.clone()).collect());
    let mut errors = false;
    let mut items = Vec::new();
    for (index, id, doc) in pairs {
        *state.attempts.entry(id.clone()).or_default() += 1;
        let (status, error) = if state.throttle_once.remove(&id) {
            (
                429,
                Some(
                    json!({"type": "es_rejected_execution_exception", "reason": "rejected execution of coordinating operation"}),
                ),
            )
        } else if state.poison.contains(&id) {
            (
                400,
                Some(json!({
                    "type": "mapper_parsing_exception",
                    "reason": "failed to parse field [data.count] of type [long] in document with id 'x'",
                    "caused_by": {"type": "illegal_argument_exception", "reason": "For input string: \"many\""}
                })),
            )
        } else if index.starts_with("logs-") && !doc.get("@timestamp").is_some_and(Value::is_string)
        {
            // Data streams refuse documents without a timestamp.
            (
                400,
                Some(
                    json!({"type": "document_parsing_exception", "reason": "data stream timestamp field [@timestamp] is missing"}),
                ),
            )
        } else if state
            .indices
            .get(&index)
            .is_some_and(|docs| docs.contains_key(&id))
        {
            (
                409,
                Some(
                    json!({"type": "version_conflict_engine_exception", "reason": format!("[{id}]: version conflict, document already exists (current version [1])")}),
                ),
            )
        } else {
            state
                .indices
                .entry(index.clone())
                .or_default()
                .insert(id.clone(), doc);
            (201, None)
        };
        let mut item = json!({"_index": index, "_id": id, "status": status});
        match error {
            Some(error) => {
                errors = true;
                item["error"] = error;
            }
            None => {
                item["result"] = json!("created");
                item["_version"] = json!(1);
            }
        }
        items.push(json!({ "create": item }));
    }
    let body = json!({"took": 1, "errors": errors, "items": items});
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Strict NDJSON: every line ends in `\n`; lines pair up as a `create` action naming
/// `_index` and `_id` (nothing else), then a JSON object.
fn parse_ndjson(raw: &[u8]) -> Result<Vec<(String, String, Value)>, String> {
    let text = std::str::from_utf8(raw).map_err(|e| format!("not UTF-8: {e}"))?;
    let Some(text) = text.strip_suffix('\n') else {
        return Err("the body does not end with a newline".into());
    };
    let lines: Vec<&str> = text.split('\n').collect();
    if !lines.len().is_multiple_of(2) {
        return Err(format!(
            "{} lines: actions and sources do not pair up",
            lines.len()
        ));
    }
    let mut out = Vec::new();
    for pair in lines.chunks(2) {
        let action: Value =
            serde_json::from_str(pair[0]).map_err(|e| format!("action line: {e}: {}", pair[0]))?;
        let map = action.as_object().ok_or("action is not an object")?;
        if map.len() != 1 {
            return Err(format!("action has {} keys: {}", map.len(), pair[0]));
        }
        let meta = map
            .get("create")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("not a create action: {}", pair[0]))?;
        if meta.len() != 2 {
            return Err(format!("unexpected action metadata: {}", pair[0]));
        }
        let index = meta
            .get("_index")
            .and_then(Value::as_str)
            .ok_or("no _index")?;
        let id = meta.get("_id").and_then(Value::as_str).ok_or("no _id")?;
        if index.is_empty() || id.is_empty() {
            return Err(format!("empty _index or _id: {}", pair[0]));
        }
        let doc: Value = serde_json::from_str(pair[1]).map_err(|e| format!("source line: {e}"))?;
        if !doc.is_object() {
            return Err("source is not an object".into());
        }
        out.push((index.to_string(), id.to_string(), doc));
    }
    Ok(out)
}

/// Starts the fake cluster on loopback; returns its base URL.
async fn start_cluster(cluster: &Cluster) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/_bulk", post(bulk))
        .with_state(cluster.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Sink settings as a user writes them, plus `extra` keys.
fn config(url: &str, extra: &str) -> ElasticsearchConfig {
    let text = format!(
        "name = \"es\"\nurl = \"{url}\"\nmax_backoff = \"50ms\"\n{extra}\n{}",
        if extra.contains("index =") || extra.contains("data_stream =") {
            ""
        } else {
            "data_stream = \"logs-sluice.{source}-default\""
        }
    );
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn event_at(id: &str, time: DateTime<Utc>) -> Envelope {
    Envelope {
        event_time: EnvelopeTime(time),
        parse_time: EnvelopeTime(Utc::now()),
        source: Arc::from("okta"),
        event_id: id.to_string(),
        data: json!({"uuid": id, "eventType": "user.session.start", "count": 1}).into(),
        ocsf: Default::default(),
    }
}

fn events(n: usize) -> Vec<Envelope> {
    let start = Utc.with_ymd_and_hms(2023, 11, 14, 22, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            event_at(
                &format!("e-{i:04}"),
                start + chrono::Duration::seconds(i as i64),
            )
        })
        .collect()
}

/// Writes `events` in pages of `page`, then prepares and publishes, like one commit.
async fn commit(sink: &mut ElasticsearchSink, events: &[Envelope], page: usize) -> Value {
    for chunk in events.chunks(page) {
        sink.write(chunk).await.unwrap();
    }
    let payload = sink
        .prepare("0000000001-abcd")
        .await
        .unwrap()
        .expect("events were written");
    let published = sink.publish(&payload).await.unwrap();
    assert_eq!(published.objects, payload["batches"].as_u64().unwrap());
    assert_eq!(published.bytes, payload["bytes"].as_u64().unwrap());
    payload
}

// ---------------------------------------------------------------------------------------
// Library tests
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn replayed_events_are_stored_once() {
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    let config = config(&url, "max_batch_events = 100");
    let all = events(250);

    let mut sink = ElasticsearchSink::new(&config, "okta").unwrap();
    let first = commit(&mut sink, &all, 40).await;
    assert_eq!(first["events"], 250);
    assert_eq!(first["created"], 250);
    assert_eq!(first["already_present"], 0);
    assert_eq!(first["batches"], 3, "250 events at 100 a batch");

    // A crash before the checkpoint moved: the next run (a new sink) sends the same events.
    let mut again = ElasticsearchSink::new(&config, "okta").unwrap();
    again.discard_staged().await.unwrap();
    let second = commit(&mut again, &all, 50).await;
    assert_eq!(second["created"], 0);
    assert_eq!(second["already_present"], 250);
    assert!(again.take_rejected().is_empty());

    let stored = cluster.stored_ids();
    assert_eq!(stored.len(), 250);
    assert!(stored.values().all(|n| *n == 1), "no document twice");
    let state = cluster.state();
    assert_eq!(state.attempts.len(), 250);
    assert!(
        state.attempts.values().all(|n| *n == 2),
        "every event was sent twice, and stored once"
    );
    assert_eq!(state.attempts.values().sum::<u32>(), 500);
    assert!(
        state.gzip_requests > 0 && state.plain_requests == 0,
        "gzip is the default"
    );
    assert!(state.last_query.contains_key("filter_path"));
    drop(state);
    cluster.assert_no_protocol_errors();
}

#[tokio::test]
async fn throttled_items_alone_are_sent_again() {
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    let all = events(100);
    let throttled: HashSet<String> = all.iter().step_by(7).map(|e| e.event_id.clone()).collect();
    cluster.state().throttle_once = throttled.clone();

    let mut sink = ElasticsearchSink::new(&config(&url, "max_batch_events = 100"), "okta").unwrap();
    let payload = commit(&mut sink, &all, 100).await;
    assert_eq!(payload["created"], 100);
    assert_eq!(payload["retried_items"], throttled.len() as u64);
    assert_eq!(payload["requests"], 2);

    let state = cluster.state();
    assert_eq!(state.requests.len(), 2);
    assert_eq!(state.requests[0].len(), 100);
    let retried: HashSet<String> = state.requests[1].iter().cloned().collect();
    assert_eq!(
        retried, throttled,
        "only the throttled items are sent again"
    );
    for (id, n) in &state.attempts {
        assert_eq!(*n, if throttled.contains(id) { 2 } else { 1 }, "{id}");
    }
    drop(state);
    assert_eq!(cluster.document_count(), 100);
    cluster.assert_no_protocol_errors();
}

#[tokio::test]
async fn a_poison_document_is_rejected_with_its_reason_and_the_rest_stored() {
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    cluster.state().poison.insert("e-0013".into());

    let mut sink = ElasticsearchSink::new(&config(&url, ""), "okta").unwrap();
    let payload = commit(&mut sink, &events(40), 10).await;
    assert_eq!(payload["created"], 39);
    assert_eq!(payload["rejected"], 1);

    let rejected = sink.take_rejected();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].event.event_id, "e-0013");
    assert_eq!(
        rejected[0].event.data.to_value().unwrap()["uuid"],
        "e-0013",
        "the event as it was offered"
    );
    assert!(
        rejected[0]
            .error
            .contains("HTTP 400 mapper_parsing_exception"),
        "{}",
        rejected[0].error
    );
    assert!(
        rejected[0].error.contains("For input string"),
        "{}",
        rejected[0].error
    );
    assert!(sink.take_rejected().is_empty(), "handed over once");

    let stored = cluster.stored_ids();
    assert_eq!(stored.len(), 39);
    assert!(!stored.contains_key("e-0013"));
    assert_eq!(
        cluster.state().attempts["e-0013"],
        1,
        "a rejection is not retried"
    );
}

#[tokio::test]
async fn a_503_for_the_whole_request_is_retried() {
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    cluster.state().unavailable = 1;

    let mut sink = ElasticsearchSink::new(&config(&url, ""), "okta").unwrap();
    let payload = commit(&mut sink, &events(10), 10).await;
    assert_eq!(payload["created"], 10);
    assert_eq!(payload["requests"], 2);
    assert_eq!(cluster.document_count(), 10);
    assert_eq!(cluster.state().unavailable, 0);
}

#[tokio::test]
async fn a_cluster_that_stays_down_fails_after_max_attempts() {
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    cluster.state().unavailable = 100;

    let mut sink = ElasticsearchSink::new(
        &config(&url, "max_attempts = 3\nmax_batch_events = 5"),
        "okta",
    )
    .unwrap();
    let err = sink.write(&events(5)).await.unwrap_err().to_string();
    assert!(err.contains("sink `es`"), "{err}");
    assert!(err.contains(&format!("{url}/_bulk")), "{err}");
    assert!(err.contains("gave up after 3 attempts"), "{err}");
    assert!(err.contains("HTTP 503 cluster_block_exception"), "{err}");
    assert!(err.contains("hint"), "{err}");
    assert_eq!(cluster.state().unavailable, 97, "three requests, no more");
}

#[tokio::test]
async fn index_names_follow_the_template_and_the_event_time() {
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    let config = config(&url, "index = \"sluice-{source}-%Y.%m.%d\"");
    let times = [
        Utc.with_ymd_and_hms(2023, 11, 14, 23, 59, 59).unwrap()
            + chrono::Duration::milliseconds(999),
        Utc.with_ymd_and_hms(2023, 11, 15, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2024, 2, 29, 12, 0, 0).unwrap(),
    ];
    let batch: Vec<Envelope> = times
        .iter()
        .enumerate()
        .map(|(i, t)| event_at(&format!("t{i}"), *t))
        .collect();

    let mut sink = ElasticsearchSink::new(&config, "okta").unwrap();
    commit(&mut sink, &batch, 3).await;
    let state = cluster.state();
    let names: Vec<&String> = state.indices.keys().collect();
    assert_eq!(
        names,
        [
            "sluice-okta-2023.11.14",
            "sluice-okta-2023.11.15",
            "sluice-okta-2024.02.29"
        ]
    );
    assert!(state.indices["sluice-okta-2023.11.14"].contains_key("t0"));
    assert!(state.indices["sluice-okta-2024.02.29"].contains_key("t2"));
}

#[tokio::test]
async fn data_stream_documents_carry_timestamp_and_the_envelope() {
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    let time = Utc.timestamp_millis_opt(1_700_000_000_123).unwrap();

    let mut sink = ElasticsearchSink::new(&config(&url, ""), "okta").unwrap();
    commit(&mut sink, &[event_at("a1", time)], 1).await;
    let state = cluster.state();
    let doc = &state.indices["logs-sluice.okta-default"]["a1"];
    assert_eq!(doc["@timestamp"], "2023-11-14T22:13:20.123Z");
    assert_eq!(doc["event_time"], "2023-11-14T22:13:20.123Z");
    assert!(doc["parse_time"].is_string());
    assert_eq!(doc["source"], "okta");
    assert_eq!(doc["event_id"], "a1");
    assert_eq!(doc["data"]["eventType"], "user.session.start");
}

#[tokio::test]
async fn wrong_credentials_fail_at_once_naming_sink_and_url_but_not_the_secret() {
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    cluster.state().auth = Some("ApiKey right-key".into());

    for (auth, secrets) in [
        (
            "api_key = \"wrong-key-s3cr3t\"",
            vec!["wrong-key-s3cr3t".to_string()],
        ),
        (
            "username = \"sluice\"\npassword = \"pa55w0rd-s3cr3t\"",
            vec![
                "pa55w0rd-s3cr3t".to_string(),
                base64::engine::general_purpose::STANDARD.encode("sluice:pa55w0rd-s3cr3t"),
            ],
        ),
    ] {
        let before = cluster.state().auth_failures;
        let config = config(&url, &format!("{auth}\nmax_batch_events = 1"));
        assert!(
            !format!("{config:?}").contains("s3cr3t"),
            "Debug redacts secrets"
        );
        let mut sink = ElasticsearchSink::new(&config, "okta").unwrap();
        let err = sink.write(&events(1)).await.unwrap_err().to_string();
        assert!(err.contains("sink `es`"), "{err}");
        assert!(err.contains(&format!("{url}/_bulk")), "{err}");
        assert!(err.contains("HTTP 401 security_exception"), "{err}");
        assert!(
            err.contains("hint: check api_key, or username and password"),
            "{err}"
        );
        for secret in secrets {
            assert!(!err.contains(&secret), "{err}");
        }
        assert_eq!(
            cluster.state().auth_failures,
            before + 1,
            "401 is not retried"
        );
    }
    assert_eq!(cluster.document_count(), 0);
}

#[tokio::test]
async fn basic_auth_plain_bodies_and_the_pipeline_are_sent() {
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("sluice:pw")
    );
    cluster.state().auth = Some(header);

    let config = config(
        &url,
        "username = \"sluice\"\npassword = \"pw\"\ncompression = \"none\"\npipeline = \"audit-enrich\"",
    );
    let mut sink = ElasticsearchSink::new(&config, "okta").unwrap();
    commit(&mut sink, &events(20), 20).await;
    assert_eq!(cluster.document_count(), 20);
    let state = cluster.state();
    assert!(state.plain_requests > 0 && state.gzip_requests == 0);
    assert_eq!(
        state.last_query.get("pipeline").map(String::as_str),
        Some("audit-enrich")
    );
    drop(state);
    cluster.assert_no_protocol_errors();
}

#[tokio::test]
async fn api_keys_written_as_id_colon_key_are_encoded() {
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    let encoded = base64::engine::general_purpose::STANDARD.encode("key-id:key-secret");
    cluster.state().auth = Some(format!("ApiKey {encoded}"));
    for written in ["key-id:key-secret", encoded.as_str()] {
        let config = config(&url, &format!("api_key = \"{written}\""));
        let mut sink = ElasticsearchSink::new(&config, "okta").unwrap();
        commit(&mut sink, &events(3), 3).await;
    }
    assert_eq!(cluster.state().auth_failures, 0);
    assert_eq!(cluster.document_count(), 3);
}

#[tokio::test]
async fn batches_stay_under_the_byte_limit() {
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    let config = config(&url, "max_batch_bytes = \"4KiB\"");
    let all = events(60);

    let mut sink = ElasticsearchSink::new(&config, "okta").unwrap();
    let payload = commit(&mut sink, &all, 60).await;
    assert_eq!(payload["created"], 60);
    let state = cluster.state();
    assert!(
        state.requests.len() > 3,
        "{} requests",
        state.requests.len()
    );
    assert!(
        state.body_sizes.iter().all(|size| *size <= 4096),
        "{:?}",
        state.body_sizes
    );
    assert_eq!(payload["batches"], state.requests.len() as u64);
}

#[tokio::test]
async fn too_large_requests_are_split_and_an_oversized_document_is_rejected() {
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    cluster.state().max_body = Some(2000);
    let mut batch = events(12);
    batch[5].data = json!({"blob": "x".repeat(3000)}).into();

    let mut sink = ElasticsearchSink::new(&config(&url, ""), "okta").unwrap();
    let payload = commit(&mut sink, &batch, 12).await;
    assert_eq!(payload["created"], 11);
    assert_eq!(payload["rejected"], 1);
    assert_eq!(payload["batches"], 1, "one batch, sent in smaller requests");
    let rejected = sink.take_rejected();
    assert_eq!(rejected[0].event.event_id, batch[5].event_id);
    assert!(rejected[0].error.contains("413"), "{}", rejected[0].error);
    assert_eq!(cluster.document_count(), 11);
    let stored = cluster.stored_ids();
    assert!(stored.values().all(|n| *n == 1));
}

#[tokio::test]
async fn discarded_events_are_never_sent() {
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    let mut sink = ElasticsearchSink::new(&config(&url, ""), "okta").unwrap();
    sink.write(&events(5)).await.unwrap();
    sink.discard_staged().await.unwrap();
    assert!(sink.prepare("b").await.unwrap().is_none());
    assert!(cluster.state().requests.is_empty());
}

#[test]
fn a_ca_file_is_read_from_the_config_directory_and_must_hold_certificates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
    let path = dir.path().join("sluice.toml");
    std::fs::write(
        &path,
        "[[sinks]]\nname = \"es\"\nkind = \"elasticsearch\"\nurl = \"https://es.example:9200\"\nindex = \"a\"\nca_file = \"ca.pem\"\n",
    )
    .unwrap();
    let config = sluice::config::load(&path).unwrap();
    let err = sluice::sink::build(&config.sinks[0], "okta")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("sink `es`"), "{err}");
    assert!(err.contains("ca_file"), "{err}");
    assert!(
        err.contains(&dir.path().join("ca.pem").display().to_string()),
        "{err}"
    );
}

#[test]
fn config_errors_are_clear_and_name_the_key() {
    let base = "[[sinks]]\nname = \"es\"\nkind = \"elasticsearch\"\n";
    let cases = [
        (
            "url = \"https://es.example:9200\"\n",
            "`data_stream` is missing",
        ),
        (
            "url = \"https://es.example:9200\"\nindex = \"a\"\ndata_stream = \"logs-a-b\"\n",
            "`index` and `data_stream` are both set",
        ),
        ("url = \"es.example:9200\"\nindex = \"a\"\n", "`url`"),
        (
            "url = \"https://es.example\"\nindex = \"a\"\nmax_batch_bytes = 0\n",
            "`max_batch_bytes` must be greater than zero",
        ),
        (
            "url = \"https://es.example\"\nindex = \"a\"\nmax_batch_events = 0\n",
            "`max_batch_events` must be at least 1",
        ),
        (
            "url = \"https://es.example\"\nindex = \"Sluice-{source}\"\n",
            "upper-case",
        ),
        (
            "url = \"https://es.example\"\nindex = \"a\"\nusername = \"u\"\n",
            "`password` is missing",
        ),
        (
            "url = \"https://es.example\"\nindex = \"a\"\nindx = \"b\"\n",
            "unknown field `indx`",
        ),
    ];
    for (keys, expected) in cases {
        let text = format!("{base}{keys}");
        let err = sluice::config::load_str(&text, std::path::Path::new("sluice.toml")).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains(expected), "{keys}: {shown}");
        assert!(shown.contains("sinks[0]"), "{keys}: {shown}");
        assert!(err.hint.is_some(), "{keys}: {shown}");
        assert!(err.position.is_some(), "{keys}: {shown}");
    }
}

/// The checks of keys that only mean something together (`index` or `data_stream`, an API key
/// or a user name and password) and of the URL point at the key's own line, not at the
/// table's.
#[test]
fn mistakes_across_keys_are_shown_at_the_key() {
    let base = "[[sinks]]\nname = \"es\"\nkind = \"elasticsearch\"\n";
    let url = "url = \"https://es.example:9200\"\n";
    let cases = [
        (
            format!("{url}index = \"a\"\ndata_stream = \"logs-a-b\"\n"),
            "sinks[0].index",
            5,
        ),
        (
            format!("{url}index = \"a\"\nusername = \"u\"\napi_key = \"k\"\n"),
            "sinks[0].api_key",
            7,
        ),
        (
            "url = \"not a url\"\nindex = \"a\"\n".to_string(),
            "sinks[0].url",
            4,
        ),
    ];
    for (keys, key, line) in cases {
        let text = format!("{base}{keys}");
        let err = sluice::config::load_str(&text, std::path::Path::new("sluice.toml")).unwrap_err();
        let shown = err.to_string();
        assert_eq!(err.key.as_deref(), Some(key), "{keys}: {shown}");
        assert_eq!(err.position.map(|(l, _)| l), Some(line), "{keys}: {shown}");
        assert!(err.hint.is_some(), "{keys}: {shown}");
    }
}

// ---------------------------------------------------------------------------------------
// The binary, end to end
// ---------------------------------------------------------------------------------------

fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_delivers_the_simulator_exactly_once_even_when_replayed() {
    const API_KEY: &str = "c2x1aWNlLWUyZS1rZXktZG8tbm90LWxvZw==";
    let sim_config = SimulatorConfig::okta(600);
    let sim = start_simulator(sim_config.clone()).await;
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    cluster.state().auth = Some(format!("ApiKey {API_KEY}"));
    let expected: HashSet<String> = simulator::event_ids(&sim_config).into_iter().collect();
    // A fifth of the items are throttled on their first attempt.
    cluster.state().throttle_once = expected.iter().step_by(5).cloned().collect();

    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let source = TestConfig::new(&base_url)
        .source_table()
        .replace("sinks = [\"lake\"]", "sinks = [\"es\"]");
    let text = format!(
        "[state]\nkind = \"sqlite\"\npath = \"state.db\"\n{source}\n[[sinks]]\nname = \"es\"\nkind = \"elasticsearch\"\nurl = \"{url}\"\napi_key = \"${{env:SLUICE_TEST_ES_API_KEY}}\"\ndata_stream = \"logs-sluice.{{source}}-default\"\nmax_batch_events = 64\nmax_backoff = \"50ms\"\n"
    );
    let config_path = dir.path().join("sluice.toml");
    std::fs::write(&config_path, text).unwrap();
    let config = config_path.to_str().unwrap();

    let run = || async {
        sluice()
            .args(["run", "--once", "--config", config])
            .env("SLUICE_TEST_ES_API_KEY", API_KEY)
            .env("RUST_LOG", "debug")
            .output()
            .await
            .unwrap()
    };
    let out = run().await;
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        !shown.contains(API_KEY),
        "the key leaked into the output:\n{shown}"
    );
    let stored = cluster.stored_ids();
    assert_eq!(stored.keys().cloned().collect::<HashSet<_>>(), expected);
    assert!(stored.values().all(|n| *n == 1));
    assert_eq!(
        cluster.state().indices.keys().collect::<Vec<_>>(),
        ["logs-sluice.okta-default"]
    );

    // Lose the checkpoint: the next run fetches and sends everything again.
    std::fs::remove_file(dir.path().join("state.db")).unwrap();
    let out = run().await;
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        !shown.contains(API_KEY),
        "the key leaked into the output:\n{shown}"
    );
    let stored = cluster.stored_ids();
    assert_eq!(
        stored.len(),
        expected.len(),
        "the replay stored nothing twice"
    );
    assert!(stored.values().all(|n| *n == 1));
    {
        let state = cluster.state();
        assert!(
            expected
                .iter()
                .all(|id| state.attempts.get(id).is_some_and(|n| *n >= 2)),
            "every event was sent again"
        );
        assert_eq!(state.auth_failures, 0);
    }
    cluster.assert_no_protocol_errors();
    sim.shutdown().await;
}

/// `sluice lake replay` to an Elasticsearch sink is exactly once: the lake's events of the
/// range go out as `create` actions with the event id as `_id`, so replaying the same range
/// again (`--restart`, as after a lost replay checkpoint) sends every event a second time and
/// stores none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lake_replay_to_elasticsearch_stores_each_event_once_even_when_repeated() {
    let sim_config = SimulatorConfig::okta(500);
    let sim = start_simulator(sim_config.clone()).await;
    let cluster = Cluster::default();
    let url = start_cluster(&cluster).await;
    let expected: HashSet<String> = simulator::event_ids(&sim_config).into_iter().collect();

    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let config_path = TestConfig::new(&base_url).write(dir.path(), "");
    let text = std::fs::read_to_string(&config_path).unwrap();
    // The source writes to the lake only; the cluster is a replay's target.
    let es = format!(
        "\n[[sinks]]\nname = \"es\"\nkind = \"elasticsearch\"\nurl = \"{url}\"\ndata_stream = \"logs-sluice.{{source}}-default\"\nmax_batch_events = 64\nmax_backoff = \"50ms\"\n"
    );
    std::fs::write(&config_path, format!("{text}{es}")).unwrap();
    let config = config_path.to_str().unwrap();
    let out = common::run_sluice(&["run", "--once", "--config", config]).await;
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(
        cluster.document_count(),
        0,
        "the source does not write to the cluster"
    );

    let replay = |restart: bool| {
        let mut args = vec![
            "lake",
            "replay",
            "--source",
            "okta",
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
            "--sink",
            "es",
            "--quiet",
            "--config",
            config,
        ];
        if restart {
            args.push("--restart");
        }
        async move { common::run_sluice(&args).await }
    };
    let out = replay(false).await;
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let stored = cluster.stored_ids();
    assert_eq!(stored.keys().cloned().collect::<HashSet<_>>(), expected);

    let out = replay(true).await;
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let stored = cluster.stored_ids();
    assert_eq!(
        stored.len(),
        expected.len(),
        "the second replay stored nothing twice"
    );
    assert!(stored.values().all(|n| *n == 1));
    {
        let state = cluster.state();
        assert!(
            expected.iter().all(|id| state.attempts.get(id) == Some(&2)),
            "every event was sent by both replays"
        );
    }
    cluster.assert_no_protocol_errors();
    sim.shutdown().await;
}
