//! The engine against vendor-shaped APIs (issue 12): the real `sluice` binary follows Graph's
//! `@odata.nextLink`, sends Duo's array offsets back, reads Google Reports' quiet windows,
//! waits out GitHub's 403 rate limits, lists an API without pagination exactly by splitting
//! full windows, fails on a next page it cannot follow, shares one OAuth token between the
//! sources of a credential, probes the newest window in `sluice check`, and presents client
//! certificates. Each case asserts the exit code, the message, and the lake.

use crate::common;

#[path = "engine/server.rs"]
mod server;

#[path = "engine/tls.rs"]
pub(crate) mod tls;

#[path = "engine/files.rs"]
mod files;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};

use sluice::simulator::SimulatorConfig;

use common::proxy::{Action, Proxy};
use common::{output_text, run_sluice, start_simulator, TestConfig};
use server::{between, events, json_response, record, Seen, Vendor};

// ---- config and assertions -----------------------------------------------------------------

/// Writes `sluice.toml` with `sources` (each a `[[sources]]` table without `sinks`, which is
/// added) and a local lake.
fn write_config(dir: &Path, sources: &[String]) -> PathBuf {
    let mut text = String::from("[state]\nkind = \"sqlite\"\npath = \"state.db\"\n");
    for source in sources {
        text.push_str(&format!(
            "\n[[sources]]\n{source}\nsinks = [\"lake\"]\ncircuit_breaker = {{ failures = 0 }}\n"
        ));
    }
    text.push_str("\n[[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"lake\"\n");
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn run(config: &Path) -> (Option<i32>, String) {
    let out = run_sluice(&["run", "--once", "--config", config.to_str().unwrap()]).await;
    (out.status.code(), output_text(&out))
}

/// Every event id in the lake of `source`, asserting none is there twice.
fn lake_ids(dir: &Path, source: &str) -> BTreeSet<String> {
    let contents =
        sluice::sink::lake::read_lake(&dir.join("lake"), source).expect("lake is readable");
    let mut ids = BTreeSet::new();
    for id in contents.event_ids {
        assert!(ids.insert(id.clone()), "{id} is in the lake twice");
    }
    ids
}

fn ids_of(events: &[(String, chrono::DateTime<Utc>)]) -> BTreeSet<String> {
    events.iter().map(|(id, _)| id.clone()).collect()
}

/// The common part of a source: name, base URL, times and window.
fn source(name: &str, base: &str, rest: &str) -> String {
    format!(
        "name = \"{name}\"\nbase_url = \"{base}\"\nevent_time = {{ path = \"time\" }}\nevent_id = {{ path = \"id\" }}\nwindow = {{ lookback = \"1d\", settle_delay = \"1m\" }}\nhttp = {{ max_attempts = 3, max_backoff = \"100ms\", timeout = \"5s\" }}\n{rest}"
    )
}

// ---- paths that address any key -------------------------------------------------------------

/// Microsoft Graph: records in `value`, the next page's URL in `@odata.nextLink`.
fn graph(data: Vec<(String, chrono::DateTime<Utc>)>) -> impl Fn(&Seen) -> axum::response::Response {
    move |seen| {
        let range = between(&data, seen.time("since"), seen.time("until"));
        let skip = seen.number("skip").unwrap_or(0);
        let top = seen.number("top").unwrap_or(5);
        let page: Vec<Value> = range
            .iter()
            .skip(skip)
            .take(top)
            .map(|(id, t)| record(id, *t))
            .collect();
        let mut body =
            json!({ "@odata.context": "https://graph/$metadata#auditLogs", "value": page });
        if skip + top < range.len() {
            let mut next = url::Url::parse(&format!("{}{}", seen.base, seen.path)).unwrap();
            next.query_pairs_mut()
                .append_pair("since", &seen.query["since"])
                .append_pair("until", &seen.query["until"])
                .append_pair("top", &top.to_string())
                .append_pair("skip", &(skip + top).to_string());
            body["@odata.nextLink"] = json!(next.to_string());
        }
        json_response(StatusCode::OK, &body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_in_a_key_with_a_dot_is_followed_in_both_path_forms() {
    let data = events(23, TimeDelta::seconds(1));
    let (_api, base) = Vendor::start(graph(data.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = |name: &str, path: &str| {
        source(
            name,
            &base,
            &format!(
                "path = \"/v1.0/auditLogs/directoryAudits\"\nquery = {{ since = \"{{start}}\", until = \"{{end}}\", top = \"{{limit}}\" }}\npage_size = 5\nrecords_path = \"value\"\npagination = {{ kind = \"next_url\", path = {path} }}"
            ),
        )
    };
    let config = write_config(
        dir.path(),
        &[
            spec("quoted", "'\"@odata.nextLink\"'"),
            spec("pointer", "\"/@odata.nextLink\""),
        ],
    );
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    for name in ["quoted", "pointer"] {
        assert_eq!(lake_ids(dir.path(), name), ids_of(&data), "{name}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_that_cannot_be_followed_fails_naming_the_field_and_its_value() {
    let data = events(8, TimeDelta::seconds(1));
    let (_api, base) = Vendor::start(move |seen| {
        let page: Vec<Value> = between(&data, seen.time("since"), seen.time("until"))
            .iter()
            .take(5)
            .map(|(id, t)| record(id, *t))
            .collect();
        // The link wrapped in an object: present, but not a URL.
        json_response(
            StatusCode::OK,
            &json!({ "value": page, "links": { "next": { "href": "/audit?skip=5" } } }),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &[source(
            "api",
            &base,
            "path = \"/audit\"\nquery = { since = \"{start}\", until = \"{end}\" }\nrecords_path = \"value\"\npagination = { kind = \"next_url\", path = \"links.next\" }",
        )],
    );
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("next URL at `links.next` is an object"),
        "{text}"
    );
    assert!(text.contains("/audit?skip=5"), "what it held: {text}");
    assert!(
        lake_ids(dir.path(), "api").is_empty(),
        "nothing of the page is staged"
    );
}

// ---- cursors that are arrays -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duo_array_offsets_are_joined_and_sent_back() {
    let data = events(17, TimeDelta::seconds(1));
    let served = data.clone();
    let (api, base) = Vendor::start(move |seen| {
        let millis = |key: &str| {
            seen.query
                .get(key)
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(chrono::DateTime::from_timestamp_millis)
        };
        let range = between(&served, millis("mintime"), millis("maxtime"));
        // `next_offset=<millis>,<txid>`: continue after that event.
        let after = match seen.query.get("next_offset") {
            None => 0,
            Some(offset) => {
                let (_, txid) = offset.split_once(',').expect("two parts joined by a comma");
                range.iter().position(|(id, _)| id == txid).unwrap() + 1
            }
        };
        let page: Vec<_> = range.iter().skip(after).take(5).collect();
        let next = match page.last() {
            Some((id, t)) if after + page.len() < range.len() => {
                json!([t.timestamp_millis().to_string(), id])
            }
            _ => Value::Null,
        };
        let items: Vec<Value> = page.iter().map(|(id, t)| record(id, *t)).collect();
        json_response(
            StatusCode::OK,
            &json!({"stat": "OK", "response": {"authlogs": items, "metadata": {"next_offset": next}}}),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &[source(
            "duo",
            &base,
            "path = \"/admin/v2/logs/authentication\"\nquery = { mintime = \"{start}\", maxtime = \"{end}\", limit = \"{limit}\" }\npage_size = 5\nrecords_path = \"response.authlogs\"\npagination = { kind = \"cursor\", path = \"response.metadata.next_offset\", param = \"next_offset\" }\nwindow = { lookback = \"1d\", settle_delay = \"1m\", format = \"epoch_millis\" }",
        )
        .replace(
            "window = { lookback = \"1d\", settle_delay = \"1m\" }\n",
            "",
        )],
    );
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(lake_ids(dir.path(), "duo"), ids_of(&data), "{text}");
    let offsets: Vec<String> = api
        .requests("/admin/v2/logs/authentication")
        .iter()
        .filter_map(|s| s.query.get("next_offset").cloned())
        .collect();
    assert_eq!(
        offsets.len(),
        3,
        "pages 2 to 4 follow the array cursor: {offsets:?}"
    );
    assert!(offsets[0].ends_with(",e4"), "{offsets:?}");
}

// ---- a body for the first page, another for the rest ----------------------------------------

/// 1Password's Events API: a window's first request sends a "reset cursor" (`limit`,
/// `start_time`, `end_time`), every later one ONLY `{"cursor": ...}`; a body mixing them is
/// refused with 400, as the real API refuses what it cannot read.
fn events_api(
    data: Vec<(String, chrono::DateTime<Utc>)>,
) -> impl Fn(&Seen) -> axum::response::Response {
    move |seen| {
        let refuse = |why: &str| {
            json_response(
                StatusCode::BAD_REQUEST,
                &json!({"Error": {"Code": 400, "Message": why}}),
            )
        };
        let Some(Value::Object(body)) = &seen.body else {
            return refuse("no JSON body");
        };
        let time = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        // The cursor is "<offset> <start> <end>": opaque to the client.
        let (offset, start, end, limit) = match body.get("cursor") {
            Some(cursor) if body.len() == 1 => {
                let text = cursor.as_str().unwrap_or_default();
                let parts: Vec<&str> = text.split(' ').collect();
                let (Some(offset), Some(start), Some(end)) = (
                    parts.first().and_then(|o| o.parse::<usize>().ok()),
                    time(parts.get(1).map(|t| json!(t)).as_ref()),
                    time(parts.get(2).map(|t| json!(t)).as_ref()),
                ) else {
                    return refuse("invalid cursor");
                };
                (offset, start, end, 5)
            }
            Some(_) => return refuse("a cursor request takes nothing but the cursor"),
            None => match (time(body.get("start_time")), time(body.get("end_time"))) {
                (Some(start), Some(end)) => {
                    let limit = body.get("limit").and_then(Value::as_u64).unwrap_or(100);
                    (0, start, end, limit.min(5) as usize)
                }
                _ => return refuse("start_time and end_time are RFC 3339 times"),
            },
        };
        let range = between(&data, Some(start), Some(end));
        let page: Vec<Value> = range
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(id, t)| record(id, *t))
            .collect();
        let next = offset + page.len();
        let cursor = format!(
            "{next} {} {}",
            sluice::timefmt::rfc3339_millis(start),
            sluice::timefmt::rfc3339_millis(end)
        );
        json_response(
            StatusCode::OK,
            &json!({"cursor": cursor, "has_more": next < range.len(), "items": page}),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_body_carries_only_the_cursor_and_a_resumed_window_sends_it() {
    let data = events(13, TimeDelta::seconds(1));
    let (api, base) = Vendor::start(events_api(data.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    // One page a run: every run after the first resumes a window from its saved cursor.
    let config = write_config(
        dir.path(),
        &[source(
            "events",
            &base,
            "method = \"POST\"\npath = \"/api/v1/auditevents\"\nbody = '{\"limit\": \"{limit}\", \"start_time\": \"{start}\", \"end_time\": \"{end}\"}'\nnext_body = '{\"cursor\": \"{cursor}\"}'\npage_size = 5\nrecords_path = \"items\"\npagination = { kind = \"cursor\", path = \"cursor\", has_more_path = \"has_more\" }",
        )
        .replace("timeout = \"5s\" }", "timeout = \"5s\", max_pages = 1 }")],
    );
    let mut resumed_with_cursor = 0;
    for attempt in 0.. {
        assert!(attempt < 20, "the runs end");
        let before = api.requests("/api/v1/auditevents").len();
        let (code, text) = run(&config).await;
        let requests = api.requests("/api/v1/auditevents");
        let first = requests[before].body.clone().unwrap();
        if first.get("cursor").is_some() {
            resumed_with_cursor += 1;
        }
        match code {
            Some(3) => continue,
            Some(0) => break,
            other => panic!("run {attempt} exited {other:?}: {text}"),
        }
    }
    assert_eq!(lake_ids(dir.path(), "events"), ids_of(&data));
    assert!(
        resumed_with_cursor >= 2,
        "runs resumed the window with next_body and the saved cursor ({resumed_with_cursor})"
    );
    let requests = api.requests("/api/v1/auditevents");
    for seen in &requests {
        let body = seen.body.as_ref().unwrap();
        match body.get("cursor") {
            Some(_) => assert_eq!(body.as_object().unwrap().len(), 1, "{body}"),
            None => assert!(body.get("start_time").is_some(), "{body}"),
        }
    }
}

// ---- records left out of quiet windows --------------------------------------------------------

/// Google Workspace Reports: `items` is left out when there is nothing in the range.
fn reports(
    data: Vec<(String, chrono::DateTime<Utc>)>,
) -> impl Fn(&Seen) -> axum::response::Response {
    move |seen| {
        let range = between(&data, seen.time("startTime"), seen.time("endTime"));
        let mut body = json!({"kind": "admin#reports#activities", "etag": "\"e\""});
        if !range.is_empty() {
            body["items"] = range.iter().map(|(id, t)| record(id, *t)).collect();
        }
        json_response(StatusCode::OK, &body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_windows_without_items_are_empty_pages_when_configured() {
    // Events only in the last two hours; the first windows of the day-long lookback are quiet.
    let data = events(6, TimeDelta::minutes(10));
    let (_api, base) = Vendor::start(reports(data.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = |name: &str, extra: &str| {
        source(
            name,
            &base,
            &format!(
                "path = \"/admin/reports/v1/activity/users/all/applications/admin\"\nquery = {{ startTime = \"{{start}}\", endTime = \"{{end}}\" }}\nrecords_path = \"items\"\npagination = {{ kind = \"cursor\", path = \"nextPageToken\", param = \"pageToken\" }}\n{extra}"
            ),
        )
        .replace("lookback = \"1d\"", "lookback = \"1d\", max_window = \"6h\"")
    };
    let config = write_config(
        dir.path(),
        &[
            spec("quiet", "records_missing = \"empty\""),
            spec("strict", ""),
        ],
    );
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "the strict source fails: {text}");
    assert_eq!(lake_ids(dir.path(), "quiet"), ids_of(&data), "{text}");
    assert!(text.contains("no `items` in the response body"), "{text}");
    assert!(
        text.contains("set records_missing = \\\"empty\\\"")
            || text.contains("set records_missing = \"empty\""),
        "{text}"
    );
}

// ---- 403 rate limits ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_with_rate_limit_headers_is_waited_out_like_a_429() {
    let data = events(12, TimeDelta::seconds(1));
    let expected = ids_of(&data);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let (_api, base) = Vendor::start(move |seen| {
        if counted.fetch_add(1, Ordering::SeqCst) == 1 {
            // GitHub: the primary rate limit is spent until the reset (epoch seconds).
            let reset = (Utc::now().timestamp() + 1).to_string();
            return axum::response::Response::builder()
                .status(StatusCode::FORBIDDEN)
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", reset)
                .body(axum::body::Body::from(
                    r#"{"message": "API rate limit exceeded"}"#,
                ))
                .unwrap();
        }
        let range = between(&data, seen.time("since"), seen.time("until"));
        let skip = seen.number("skip").unwrap_or(0);
        let page: Vec<Value> = range
            .iter()
            .skip(skip)
            .take(5)
            .map(|(id, t)| record(id, *t))
            .collect();
        let next = (skip + 5 < range.len()).then(|| {
            format!(
                "{}/audit-log?since={}&until={}&skip={}",
                seen.base,
                urlencode(&seen.query["since"]),
                urlencode(&seen.query["until"]),
                skip + 5
            )
        });
        json_response(StatusCode::OK, &json!({ "events": page, "next": next }))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &[source(
            "github",
            &base,
            "path = \"/audit-log\"\nquery = { since = \"{start}\", until = \"{end}\" }\nrecords_path = \"events\"\npagination = { kind = \"next_url\", path = \"next\" }",
        )],
    );
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(lake_ids(dir.path(), "github"), expected, "{text}");
    assert!(!text.contains("lacks permission"), "{text}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "3 pages and the refused attempt"
    );
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_without_rate_limit_headers_is_a_permission_problem() {
    let (_api, base) = Vendor::start(|_| {
        json_response(
            StatusCode::FORBIDDEN,
            &json!({"message": "Must have admin rights"}),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &[source(
            "github",
            &base,
            "path = \"/audit-log\"\nquery = { since = \"{start}\" }\npagination = { kind = \"none\" }",
        )],
    );
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("lacks permission"), "{text}");
}

// ---- spent rate limits and max_wait (the simulator behind a proxy) -----------------------------

/// The Okta simulator's source, reached through `proxy`, with pages of 100 and `extra` in its
/// table.
fn proxied_config(dir: &Path, proxy: &Proxy, extra: &'static str) -> PathBuf {
    let mut cfg = TestConfig::new(&proxy.base_url);
    cfg.limit = 100;
    cfg.extra_source = extra;
    cfg.write(dir, "")
}

/// Runs `sluice run --once`, failing the test when the run is still going after two minutes:
/// it is then waiting out an hour-long reset that `rate_limit.max_wait` should refuse or cut.
async fn run_bounded(config: &Path) -> (Option<i32>, String) {
    tokio::time::timeout(std::time::Duration::from_secs(120), run(config))
        .await
        .expect("the run waited past rate_limit.max_wait (still running after 120 s)")
}

/// Rate-limit headers saying no request remains until `reset` (epoch seconds).
fn spent(reset: i64) -> Vec<(String, String)> {
    vec![
        ("x-rate-limit-remaining".into(), "0".into()),
        ("x-rate-limit-reset".into(), reset.to_string()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_rate_limit_holds_the_next_request_until_its_reset() {
    let sim_config = SimulatorConfig::okta(1_000);
    let sim = start_simulator(sim_config.clone()).await;
    let proxy = Proxy::start(&sim.base_url()).await;
    // The third page says that no request remains until the second after next.
    let reset = Arc::new(std::sync::Mutex::new(None));
    let noted = reset.clone();
    proxy.script(move |n| {
        if n != 2 {
            return Action::Forward;
        }
        let at = Utc::now().timestamp() + 2;
        *noted.lock().unwrap() = Some(at);
        Action::ForwardWithHeaders(spent(at))
    });
    let dir = tempfile::tempdir().unwrap();
    let config = proxied_config(dir.path(), &proxy, "");
    let (code, text) = run_bounded(&config).await;
    assert_eq!(code, Some(0), "{text}");
    common::assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    let log = proxy.log();
    assert!(log.len() > 3, "{} requests", log.len());
    let reset = reset.lock().unwrap().expect("the third page was served");
    let reset = chrono::DateTime::from_timestamp(reset, 0).unwrap();
    assert!(
        log[3].arrived >= reset,
        "the request after the spent rate limit came at {}, before its reset at {reset}",
        log[3].arrived
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_reset_past_max_wait_fails_the_run_at_once_naming_max_wait() {
    let sim_config = SimulatorConfig::okta(1_000);
    let sim = start_simulator(sim_config.clone()).await;
    let proxy = Proxy::start(&sim.base_url()).await;
    // The third request is refused with a 429 whose reset is an hour away.
    proxy.script(|n| {
        if n != 2 {
            return Action::Forward;
        }
        Action::Answer {
            status: 429,
            headers: spent(Utc::now().timestamp() + 3600),
            body: r#"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}"#.into(),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = proxied_config(dir.path(), &proxy, "rate_limit = { max_wait = \"2s\" }");
    let (code, text) = run_bounded(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("source `okta` failed"), "{text}");
    assert!(text.contains("HTTP 429"), "{text}");
    assert!(
        text.contains("the API asks to wait")
            && text.contains("longer than rate_limit.max_wait (2s)"),
        "{text}"
    );
    let log = proxy.log();
    assert_eq!(log.len(), 3, "no request after the refused one");
    // The two pages before it are committed, and a later run finishes exactly.
    let served: HashSet<String> = log.iter().flat_map(|e| e.served_ids("uuid")).collect();
    assert_eq!(served.len(), 200);
    common::lake::check_local(&dir.path().join("lake"), "okta", &sim_config)
        .assert_holds_exactly(&served, "the lake after the refused wait");
    proxy.script(|_| Action::Forward);
    let (code, text) = run_bounded(&config).await;
    assert_eq!(code, Some(0), "{text}");
    common::assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_rate_limit_resetting_past_max_wait_pauses_max_wait_and_says_so() {
    let sim_config = SimulatorConfig::okta(1_000);
    let sim = start_simulator(sim_config.clone()).await;
    let proxy = Proxy::start(&sim.base_url()).await;
    // A successful third page says that no request remains for an hour.
    proxy.script(|n| {
        if n == 2 {
            Action::ForwardWithHeaders(spent(Utc::now().timestamp() + 3600))
        } else {
            Action::Forward
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = proxied_config(dir.path(), &proxy, "rate_limit = { max_wait = \"2s\" }");
    let (code, text) = run_bounded(&config).await;
    assert_eq!(code, Some(0), "{text}");
    common::assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    assert!(
        text.contains("later than rate_limit.max_wait") && text.contains("max_wait=2s"),
        "the shortened pause is announced: {text}"
    );
    let log = proxy.log();
    assert!(log.len() > 3, "{} requests", log.len());
    let paused = log[3].arrived - log[2].arrived;
    assert!(
        paused >= TimeDelta::seconds(2),
        "the next request waited max_wait, not {paused}"
    );
    sim.shutdown().await;
}

// ---- APIs without pagination --------------------------------------------------------------------

/// An API without pagination that answers at most `limit` events of the range, silently
/// leaving out the rest.
fn capped(
    data: Vec<(String, chrono::DateTime<Utc>)>,
) -> impl Fn(&Seen) -> axum::response::Response {
    move |seen| {
        let limit = seen.number("limit").unwrap_or(10);
        let page: Vec<Value> = between(&data, seen.time("since"), seen.time("until"))
            .iter()
            .take(limit)
            .map(|(id, t)| record(id, *t))
            .collect();
        json_response(StatusCode::OK, &Value::Array(page))
    }
}

const CAPPED_SPEC: &str = "path = \"/events\"\nquery = { since = \"{start}\", until = \"{end}\", limit = \"{limit}\" }\npage_size = 10\npagination = { kind = \"none\" }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_pages_without_pagination_split_the_window_until_every_page_is_short() {
    let data = events(95, TimeDelta::seconds(7));
    let (api, base) = Vendor::start(capped(data.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[source("flat", &base, CAPPED_SPEC)]);
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(lake_ids(dir.path(), "flat"), ids_of(&data), "{text}");
    let requests = api.requests("/events").len();
    assert!(
        requests < 60,
        "splitting stays proportionate: {requests} requests"
    );
    // A second run has nothing left to list.
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(lake_ids(dir.path(), "flat"), ids_of(&data));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_page_in_the_shortest_window_fails_loudly() {
    // Twelve events in one millisecond: no window holds fewer than a full page of 10.
    let (_api, base) = Vendor::start(capped(events(12, TimeDelta::zero()))).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[source("flat", &base, CAPPED_SPEC)]);
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("a full page (10 records, page_size = 10)"),
        "{text}"
    );
    assert!(
        text.contains("as short as window.format can write"),
        "{text}"
    );
    assert!(text.contains("hint: raise page_size"), "{text}");
    assert!(
        lake_ids(dir.path(), "flat").is_empty(),
        "nothing of the over-full millisecond is delivered as if complete"
    );
}

// ---- one token per credential ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_sharing_a_credential_fetch_one_token_over_several_runs() {
    let data = events(4, TimeDelta::seconds(1));
    let expected = ids_of(&data);
    let tokens = Arc::new(AtomicUsize::new(0));
    let issued = tokens.clone();
    let (api, base) = Vendor::start(move |seen| {
        if seen.path == "/oauth2/v1/token" {
            issued.fetch_add(1, Ordering::SeqCst);
            return json_response(
                StatusCode::OK,
                &json!({"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600}),
            );
        }
        if seen
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            != Some("Bearer at-1")
        {
            return json_response(StatusCode::UNAUTHORIZED, &json!({"error": "no token"}));
        }
        let page: Vec<Value> = between(&data, seen.time("since"), seen.time("until"))
            .iter()
            .map(|(id, t)| record(id, *t))
            .collect();
        json_response(StatusCode::OK, &Value::Array(page))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let auth = format!(
        "auth = {{ kind = \"oauth2_client_credentials\", token_url = \"{base}/oauth2/v1/token\", client_id = \"c1\", client_secret = \"s1\", scopes = [\"logs.read\"] }}"
    );
    let sources: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|name| {
            source(
                name,
                &base,
                &format!("path = \"/{name}\"\nquery = {{ since = \"{{start}}\", until = \"{{end}}\" }}\npagination = {{ kind = \"none\" }}\n{auth}"),
            )
        })
        .collect();
    let path = write_config(dir.path(), &sources);
    let config = sluice::config::load(&path).unwrap();
    let store = sluice::state::open(&config.state).await.unwrap();
    for round in 0..3 {
        let reports =
            sluice::runtime::run_once(&config, &store, tokio_util::sync::CancellationToken::new())
                .await;
        for report in &reports {
            assert_eq!(report.error, None, "round {round}: {report:?}");
        }
    }
    assert_eq!(
        tokens.load(Ordering::SeqCst),
        1,
        "three sources, three runs, one token"
    );
    assert!(api.requests("/a").len() >= 3);
    for name in ["a", "b", "c"] {
        assert_eq!(lake_ids(dir.path(), name), expected);
    }
}

// ---- sluice check ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_probes_the_newest_settled_window_and_names_a_failing_token_url() {
    let (api, base) = Vendor::start(|_| json_response(StatusCode::OK, &json!([]))).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = "path = \"/events\"\nquery = { since = \"{start}\", until = \"{end}\" }\npagination = { kind = \"none\" }";
    let config = write_config(
        dir.path(),
        &[
            source("newest", &base, spec).replace("lookback = \"1d\"", "lookback = \"7d\", max_window = \"1h\""),
            source(
                "tokenless",
                &base,
                &format!("{spec}\nauth = {{ kind = \"oauth2_client_credentials\", token_url = \"http://127.0.0.1:9/oauth2/token\", client_id = \"c\", client_secret = \"s3cr3t\" }}"),
            ),
        ],
    );
    let before = Utc::now();
    let out = run_sluice(&["check", "--config", config.to_str().unwrap()]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let probe = &api.requests("/events")[0];
    let since = probe.time("since").unwrap();
    let until = probe.time("until").unwrap();
    let horizon = before - TimeDelta::minutes(1);
    assert!(
        (until - horizon).num_seconds().abs() < 30,
        "ends at the horizon: {until}"
    );
    assert_eq!(until - since, TimeDelta::hours(1), "one max_window long");
    assert!(text.contains("newest: ok:"), "{text}");
    assert!(text.contains("tokenless: FAILED:"), "{text}");
    assert!(text.contains("http://127.0.0.1:9/oauth2/token"), "{text}");
    assert!(text.contains("check auth.token_url"), "{text}");
    assert!(!text.contains("check base_url"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
}

// ---- mutual TLS -----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_presented_to_an_api_that_requires_one() {
    let (served, base) = tls::start().await;
    let dir = tempfile::tempdir().unwrap();
    let fixture = |name: &str| tls::fixture(name).display().to_string();
    let spec =
        |name: &str, client: &str| {
            source(
            name,
            &base,
            "path = \"/events\"\nquery = { since = \"{start}\" }\npagination = { kind = \"none\" }",
        )
        .replace(
            "timeout = \"5s\" }",
            &format!("timeout = \"5s\", ca_file = \"{}\"{client} }}", fixture("ca.pem")),
        )
        };
    let with_cert = format!(
        ", client_cert = \"{}\", client_key = \"{}\"",
        fixture("client.pem"),
        fixture("client-key.pem")
    );
    let config = write_config(
        dir.path(),
        &[spec("mtls", &with_cert), spec("anonymous", "")],
    );
    let out = run_sluice(&["check", "--config", config.to_str().unwrap()]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("mtls: ok:"), "{text}");
    assert!(text.contains("anonymous: FAILED"), "{text}");
    assert_eq!(
        served.load(Ordering::SeqCst),
        1,
        "only the client with a certificate got in"
    );

    // A key without its certificate is a config error naming the key to add.
    let half = format!(", client_key = \"{}\"", fixture("client-key.pem"));
    let config = write_config(dir.path(), &[spec("half", &half)]);
    let out = run_sluice(&["check", "--config", config.to_str().unwrap()]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("sources[0].http.client_cert"), "{text}");
}

// ---- one CA bundle, every client ------------------------------------------------------------------------

/// A sink built from its TOML table, as a user writes it.
fn sink_config<T: serde::de::DeserializeOwned>(text: &str) -> T {
    toml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// One event for the sinks below.
fn one_event() -> Vec<sluice::transform::Envelope> {
    let record = sluice::source::Record {
        time: Utc::now(),
        id: "evt-1".into(),
        data: json!({"n": 1}).into(),
    };
    vec![sluice::transform::Envelope::wrap(
        record,
        &Arc::from("api"),
        Utc::now(),
    )]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_http_client_trusts_every_certificate_of_a_ca_bundle() {
    use sluice::sink::Sink;
    // Each server's certificate is signed by the test CA, the SECOND certificate of the
    // bundle: a client that kept only the first could reach none of them.
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.pem");
    let other = std::fs::read_to_string(tls::fixture("client.pem")).unwrap();
    let ca = std::fs::read_to_string(tls::fixture("ca.pem")).unwrap();
    std::fs::write(&bundle, other + &ca).unwrap();
    let bundle_text = bundle.display().to_string();

    // A source (`http.ca_file`) whose token comes from a Vault behind the same private CA
    // (`VAULT_CACERT`).
    let (api_served, api) = tls::start_answering(false, "[]").await;
    let (vault_served, vault) = tls::start_answering(
        false,
        r#"{"data":{"data":{"token":"from-vault"},"metadata":{"version":1}}}"#,
    )
    .await;
    let spec = source(
        "api",
        &api,
        "path = \"/events\"\nquery = { since = \"{start}\" }\npagination = { kind = \"none\" }\nauth = { kind = \"bearer\", token = \"${vault:secret/sluice/api#token}\" }",
    )
    .replace(
        "timeout = \"5s\" }",
        &format!("timeout = \"5s\", ca_file = \"{bundle_text}\" }}"),
    );
    let config = write_config(dir.path(), &[spec]);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["check", "--config", config.to_str().unwrap()])
        .env("VAULT_ADDR", &vault)
        .env("VAULT_TOKEN", "vault-test-token")
        .env("VAULT_CACERT", &bundle)
        .output()
        .await
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("api: ok:"), "{text}");
    assert!(
        vault_served.load(Ordering::SeqCst) >= 1,
        "Vault was reached"
    );
    assert!(
        api_served.load(Ordering::SeqCst) >= 1,
        "the API was reached"
    );

    // The HTTP sink.
    let (http_served, endpoint) = tls::start_answering(false, "{}").await;
    let config: sluice::config::HttpSinkConfig = sink_config(&format!(
        "name = \"collector\"\nurl = \"{endpoint}/ingest\"\nca_file = \"{bundle_text}\"\nmax_attempts = 1\n"
    ));
    let mut sink = sluice::sink::http::HttpSink::new(&config).unwrap();
    sink.write(&one_event()).await.unwrap();
    sink.prepare("b")
        .await
        .expect("the HTTP endpoint is trusted");
    assert_eq!(http_served.load(Ordering::SeqCst), 1);

    // The Elasticsearch sink.
    let (es_served, cluster) = tls::start_answering(
        false,
        r#"{"errors":false,"items":[{"create":{"status":201,"_index":"audit"}}]}"#,
    )
    .await;
    let config: sluice::config::ElasticsearchConfig = sink_config(&format!(
        "name = \"es\"\nurl = \"{cluster}\"\nindex = \"audit\"\nca_file = \"{bundle_text}\"\nmax_attempts = 1\n"
    ));
    let mut sink = sluice::sink::elasticsearch::ElasticsearchSink::new(&config, "api").unwrap();
    sink.write(&one_event()).await.unwrap();
    sink.prepare("b").await.expect("the cluster is trusted");
    assert!(es_served.load(Ordering::SeqCst) >= 1);
    // (Splunk HEC: tests/it/hec.rs, every_certificate_of_a_ca_file_bundle_is_trusted.)
}
