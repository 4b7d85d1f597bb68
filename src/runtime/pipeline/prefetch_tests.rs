//! The next page is fetched while the current one is staged, and a prefetched page that fails
//! fails the run as fetching it afterwards would have.
//!
//! The proof of overlap is an order, not a time: the sink staging page N does not return
//! until the API has received the request for page N+1. Without prefetch that request is only
//! sent after staging returns, so the sink gives up (after a generous wait) and the run fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use tokio::sync::watch;

use super::*;
use crate::sink::SinkError;
use crate::source::config::SourceConfig;
use crate::state::{ObjectStateStore, PageRef};

/// Records per page of the test API.
const PER_PAGE: usize = 3;

/// An API of `pages` pages chained by `Link` headers; the page numbered `failing` answers 403,
/// the one numbered `held` never answers.
struct Api {
    base: String,
    pages: usize,
    failing: Option<usize>,
    held: Option<usize>,
    /// Times of the records, one per record, all inside the run's first window.
    times: Vec<DateTime<Utc>>,
    /// The highest page number requested so far.
    requested: watch::Sender<usize>,
}

#[derive(serde::Deserialize)]
struct Asked {
    after: Option<usize>,
}

async fn answer(State(api): State<Arc<Api>>, Query(asked): Query<Asked>) -> Response {
    // `after` counts pages: the first page has none.
    let page = asked.after.unwrap_or(0) + 1;
    api.requested
        .send_modify(|highest| *highest = (*highest).max(page));
    if api.failing == Some(page) {
        return (StatusCode::FORBIDDEN, "{\"error\":\"denied\"}").into_response();
    }
    if api.held == Some(page) {
        std::future::pending::<()>().await;
    }
    let records: Vec<serde_json::Value> = (0..PER_PAGE)
        .map(|i| {
            let n = (page - 1) * PER_PAGE + i;
            json!({ "id": n.to_string(), "time": crate::timefmt::rfc3339_millis(api.times[n]) })
        })
        .collect();
    let mut response = (
        [("content-type", "application/json")],
        serde_json::Value::from(records).to_string(),
    )
        .into_response();
    if page < api.pages {
        let link = format!("<{}/logs?after={page}>; rel=\"next\"", api.base);
        response.headers_mut().insert(
            "link",
            HeaderValue::from_str(&link).expect("the link is ASCII"),
        );
    }
    response
}

/// Starts the API; its requests are counted in the returned receiver.
async fn start_api(
    pages: usize,
    failing: Option<usize>,
    held: Option<usize>,
) -> (Arc<Api>, watch::Receiver<usize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("a bound address"));
    let start = Utc::now() - TimeDelta::minutes(30);
    let (requested, seen) = watch::channel(0);
    let api = Arc::new(Api {
        base,
        pages,
        failing,
        held,
        times: (0..pages * PER_PAGE)
            .map(|n| start + TimeDelta::seconds(n as i64))
            .collect(),
        requested,
    });
    let app = axum::Router::new()
        .route("/logs", axum::routing::get(answer))
        .with_state(Arc::clone(&api));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (api, seen)
}

fn source(base: &str) -> HttpSource {
    let config: SourceConfig = toml::from_str(&format!(
        r#"
name = "acme"
base_url = "{base}"
path = "/logs"
query = {{ since = "{{start}}" }}
pagination = {{ kind = "link_header" }}
event_time = {{ path = "time" }}
event_id = {{ path = "id" }}
window = {{ lookback = "1h", settle_delay = "1m", max_window = "2h" }}
http = {{ max_attempts = 1 }}
sinks = ["gate"]
"#
    ))
    .expect("the test source's config parses");
    HttpSource::new(&config).expect("the test source builds")
}

/// A sink whose `write` of page N waits until the API has been asked for page N+1 (when the
/// API has one), and which publishes ids into `published`.
struct GateSink {
    requested: watch::Receiver<usize>,
    pages: usize,
    writes: usize,
    buffer: Vec<String>,
    published: Arc<Mutex<Vec<String>>>,
    /// Stops the run once the first page's write has seen the second page asked for.
    stop_after_first: Option<CancellationToken>,
}

#[async_trait]
impl Sink for GateSink {
    fn name(&self) -> &str {
        "gate"
    }

    async fn write(&mut self, events: &[Envelope]) -> Result<(), SinkError> {
        self.writes += 1;
        let (page, next) = (self.writes, self.writes + 1);
        if next <= self.pages {
            // Far longer than a loopback request takes: only a request never sent waits it out.
            let asked = matches!(
                tokio::time::timeout(
                    Duration::from_secs(10),
                    self.requested.wait_for(|highest| *highest >= next),
                )
                .await,
                Ok(Ok(_))
            );
            if !asked {
                return Err(SinkError {
                    sink: "gate".into(),
                    detail: format!("page {next} was not requested while page {page} was staged"),
                });
            }
        }
        self.buffer
            .extend(events.iter().map(|event| event.event_id.to_string()));
        if let Some(stop) = &self.stop_after_first {
            stop.cancel();
        }
        Ok(())
    }

    fn wants_commit(&self) -> bool {
        false
    }

    async fn prepare(&mut self, _batch: &str) -> Result<Option<serde_json::Value>, SinkError> {
        Ok((!self.buffer.is_empty()).then(|| json!(std::mem::take(&mut self.buffer))))
    }

    async fn publish(&mut self, payload: &serde_json::Value) -> Result<Published, SinkError> {
        let ids: Vec<String> = serde_json::from_value(payload.clone()).unwrap_or_default();
        self.published.lock().expect("not poisoned").extend(ids);
        Ok(Published {
            objects: 1,
            bytes: 0,
        })
    }

    async fn discard_staged(&mut self) -> Result<(), SinkError> {
        self.buffer.clear();
        Ok(())
    }
}

/// Runs the pipeline over the API once; what the run reported and what the sink published.
async fn run(
    source: Arc<HttpSource>,
    seen: watch::Receiver<usize>,
    pages: usize,
    stop_after_first: bool,
) -> (RunReport, Vec<String>) {
    let store = ObjectStateStore::in_memory()
        .await
        .expect("an in-memory store opens");
    let published = Arc::new(Mutex::new(Vec::new()));
    let cancel = CancellationToken::new();
    let sink = GateSink {
        requested: seen,
        pages,
        writes: 0,
        buffer: Vec::new(),
        published: Arc::clone(&published),
        stop_after_first: stop_after_first.then(|| cancel.clone()),
    };
    let report = Pipeline::new(source, vec![Box::new(sink) as Box<dyn Sink>], &store)
        .run(cancel)
        .await;
    let published = published.lock().expect("not poisoned").clone();
    (report, published)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_page_is_requested_while_the_current_one_is_staged() {
    let pages = 4;
    let (api, seen) = start_api(pages, None, None).await;
    let (report, published) = run(Arc::new(source(&api.base)), seen, pages, false).await;
    assert!(report.error.is_none(), "{:?}", report.error);
    assert_eq!(report.pages, pages as u64);
    let mut ids: Vec<u64> = published.iter().map(|id| id.parse().unwrap()).collect();
    ids.sort_unstable();
    let all: Vec<u64> = (0..(pages * PER_PAGE) as u64).collect();
    assert_eq!(ids, all, "every event exactly once");
    assert_eq!(report.events, all.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_prefetched_page_fails_the_run_as_fetching_it_afterwards_would() {
    let pages = 3;
    let (api, seen) = start_api(pages, Some(2), None).await;
    let source = Arc::new(source(&api.base));
    let (report, published) = run(Arc::clone(&source), seen.clone(), pages, false).await;
    // The error a request for page 2 gives on its own.
    let listing = Window {
        start: Utc::now() - TimeDelta::hours(1),
        end: Utc::now(),
    };
    let second = PageRef::Url(format!("{}/logs?after=1", api.base));
    let alone = match source.fetch(&listing, Some(&second)).await {
        Err(error) => RunError::source(&error),
        Ok(page) => panic!("page 2 answered {} records", page.records.len()),
    };
    let error = report.error.expect("the run fails");
    assert_eq!(error.to_string(), alone.to_string());
    assert_eq!(error.kind(), FailureKind::Permission);
    // Page 1 was processed before page 2 failed: it is committed, and nothing after it.
    let mut ids = published;
    ids.sort();
    assert_eq!(ids, ["0", "1", "2"]);
    assert_eq!(report.events, PER_PAGE as u64);
    // Page 3 was never asked for: the failing page names no next one.
    assert_eq!(*seen.borrow(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_with_a_prefetch_in_flight_commits_nothing_of_it() {
    // Page 2 never answers: its prefetch is in flight when the run is stopped.
    let pages = 3;
    let (api, seen) = start_api(pages, None, Some(2)).await;
    let (report, published) = run(Arc::new(source(&api.base)), seen, pages, true).await;
    assert!(report.error.is_none(), "{:?}", report.error);
    assert!(report.more_pending, "a stopped run has work left");
    let mut ids = published;
    ids.sort();
    assert_eq!(ids, ["0", "1", "2"], "page 1 only");
    assert_eq!(report.pages, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_prefetch_stops_asking() {
    // A server that accepts and never answers: the request stays in flight until aborted.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("a bound address"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let source = Arc::new(source(&base));
    let listing = Window {
        start: Utc::now() - TimeDelta::hours(1),
        end: Utc::now(),
    };
    let ahead = prefetch::Prefetch::start(
        &source,
        listing,
        PageRef::Url(format!("{base}/logs?after=1")),
    );
    let task = ahead.abort_handle();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!task.is_finished(), "the request is in flight");
    drop(ahead);
    for _ in 0..200 {
        if task.is_finished() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the dropped prefetch is still running");
}
