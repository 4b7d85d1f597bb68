//! Hostile APIs: the real `sluice run --once` against a small HTTP server in the test that
//! loops, re-serves, sends odd Link headers, links elsewhere, trickles or never ends its body,
//! redirects, or is down at a deadline. Each case asserts the exit code, that the error names
//! the thing, that the lake holds no duplicate, and the checkpoint where it matters.

use crate::common;

#[path = "hostile/server.rs"]
mod server;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};
use sluice::simulator::{GenericProfile, SimPagination, SimulatorConfig};

use common::{assert_lake_exact, output_text, run_sluice, start_simulator};
use server::{record, Api, Mode};

// ---- config and assertions -----------------------------------------------------------------

/// Writes `sluice.toml` for source `api` against `base`: pages of 5, Link pagination.
/// `http_extra` goes into the `http` table (each key starting with `, `); `extra` after it.
fn write_config(dir: &Path, base: &str, http_extra: &str, extra: &str) -> PathBuf {
    let text = format!(
        r#"
[state]
kind = "sqlite"
path = "state.db"

[[sources]]
name = "api"
base_url = "{base}"
path = "/logs"
query = {{ since = "{{start}}", until = "{{end}}", limit = "{{limit}}" }}
page_size = 5
pagination = {{ kind = "link_header" }}
event_time = {{ path = "published" }}
event_id = {{ path = "id" }}
sinks = ["lake"]
auth = {{ kind = "bearer", token = "t0ken" }}
window = {{ lookback = "1d", settle_delay = "1m" }}
circuit_breaker = {{ failures = 0 }}
http = {{ max_attempts = 3, max_backoff = "100ms", timeout = "5s"{http_extra} }}

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
{extra}
"#
    );
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn run(config: &Path) -> (Option<i32>, String) {
    let out = run_sluice(&["run", "--once", "--config", config.to_str().unwrap()]).await;
    (out.status.code(), output_text(&out))
}

/// Every event id in the lake of `source`, asserting none is there twice. These servers are
/// not the simulator, so the lake is read with sluice's own reader (ids only).
fn lake_ids(dir: &Path, source: &str) -> BTreeSet<String> {
    let contents =
        sluice::sink::lake::read_lake(&dir.join("lake"), source).expect("lake is readable");
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    for id in contents.event_ids {
        *counts.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "duplicates in the lake: {twice:?}");
    counts.into_keys().collect()
}

fn ids(range: std::ops::Range<usize>) -> BTreeSet<String> {
    range.map(|i| format!("e{i}")).collect()
}

/// The stored checkpoint of `key`, from `sluice state export`.
async fn checkpoint(config: &Path, key: &str) -> Value {
    let out = run_sluice(&["state", "export", "--config", config.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let export: Value = serde_json::from_slice(&out.stdout).unwrap();
    export["checkpoints"][key].clone()
}

// ---- loops and re-served pages -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_page_link_loop_fails_without_duplicates_in_this_run_and_the_next() {
    let (api, base) = Api::new(Mode::LinkLoop, 10).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, "", "");
    let started = Instant::now();
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(started.elapsed() < Duration::from_secs(30), "{text}");
    assert!(
        text.contains("the API links back to a page already listed"),
        "{text}"
    );
    assert!(
        text.contains("leads back to page 1 of this listing"),
        "{text}"
    );
    assert!(text.contains("/logs?"), "the error names the page: {text}");
    assert_eq!(lake_ids(dir.path(), "api"), ids(0..5), "page A only, once");
    assert_eq!(
        api.requests(),
        2,
        "A, then B whose link loops: no third request"
    );
    let saved = checkpoint(&config, "api").await;
    assert!(
        saved["page"]["url"].as_str().unwrap().contains("after=5"),
        "the checkpoint stays after page A, at B: {saved}"
    );

    // The API still loops: the next run resumes at B and recognises the loop from the
    // checkpoint's trail instead of delivering A again.
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("an earlier run listed"), "{text}");
    assert_eq!(lake_ids(dir.path(), "api"), ids(0..5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_that_ignore_the_cursor_fail_on_the_first_repeat() {
    let (api, base) = Api::new(Mode::IgnoresCursor, 12).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, "", "");
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("serves exactly the records of page 1 of this listing"),
        "{text}"
    );
    assert!(
        text.contains("next link serves records already listed"),
        "{text}"
    );
    assert_eq!(lake_ids(dir.path(), "api"), ids(0..5));
    assert_eq!(api.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misnamed_offset_parameter_fails_naming_it_and_a_fixed_config_finishes_exactly() {
    let profile = GenericProfile {
        pagination: SimPagination::Offset,
        ..GenericProfile::default()
    };
    let sim_config = SimulatorConfig::generic(500, profile.clone());
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let format = profile.time_format.as_str();
    let write = |offset_param: &str| {
        let text = format!(
            r#"
[state]
kind = "sqlite"
path = "state.db"

[[sources]]
name = "gen"
base_url = "{base}"
path = "/v1/events"
query = {{ start = "{{start}}", end = "{{end}}", limit = "{{limit}}", {offset_param} = "{{offset}}" }}
records_path = "data"
pagination = {{ kind = "offset" }}
page_size = 100
event_time = {{ path = "time", format = "{format}" }}
event_id = {{ path = "id" }}
window = {{ lookback = "1d", settle_delay = "1m", max_window = "1d", format = "{format}" }}
circuit_breaker = {{ failures = 0 }}
auth = {{ kind = "bearer", token = "sim-token" }}
sinks = ["lake"]

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
"#,
            base = sim.base_url(),
        );
        let path = dir.path().join("sluice.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let config = write("skip");
    for attempt in 1..=2 {
        let (code, text) = run(&config).await;
        assert_eq!(code, Some(1), "run {attempt}: {text}");
        assert!(
            text.contains("check that `query.skip` is the API's offset parameter"),
            "run {attempt}: {text}"
        );
        assert!(!text.contains("settle_delay"), "run {attempt}: {text}");
        assert_eq!(
            lake_ids(dir.path(), "gen").len(),
            100,
            "run {attempt}: the first page once, nothing twice"
        );
    }
    // Fixed: the window goes on from where the last processed page left it.
    let config = write("offset");
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert_lake_exact(&dir.path().join("lake"), "gen", &sim_config);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_served_again_at_the_page_boundary_time_are_legitimate() {
    let (api, base) = Api::new(Mode::BoundaryOverlap, 23).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, "", "");
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(lake_ids(dir.path(), "api"), api.ids());
}

// ---- Link headers ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upper_case_next_relation_is_followed() {
    let (api, base) = Api::new(Mode::UpperCaseRel, 13).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, "", "");
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(lake_ids(dir.path(), "api"), api.ids(), "all three pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_header_with_a_non_ascii_byte_fails_naming_the_header() {
    let (_api, base) = Api::new(Mode::NonAsciiLink, 13).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, "", "");
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the Link header is not readable"), "{text}");
    assert!(text.contains("0xff"), "{text}");
    assert!(
        lake_ids(dir.path(), "api").is_empty(),
        "the page is not staged"
    );
    assert_eq!(
        checkpoint(&config, "api").await,
        Value::Null,
        "nothing was committed"
    );
}

// ---- a next link to another origin -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_next_link_is_never_saved_and_a_fixed_api_finishes_exactly() {
    let (api, base) = Api::new(Mode::ForeignLink, 15).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, "", "");
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("http://foreign.invalid:9/logs"),
        "the error names the link: {text}"
    );
    assert!(text.contains("refusing to follow"), "{text}");
    assert!(text.contains("the link was not saved"), "{text}");
    assert_eq!(lake_ids(dir.path(), "api"), ids(0..5));
    let saved = checkpoint(&config, "api").await;
    assert!(
        !saved.to_string().contains("foreign.invalid"),
        "the refused link is not in the checkpoint: {saved}"
    );
    assert!(
        saved["page"].is_null(),
        "listed again from the anchor: {saved}"
    );

    api.fix();
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(lake_ids(dir.path(), "api"), api.ids());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_link_saved_by_an_older_version_is_listed_again_from_the_anchor() {
    let (api, base) = Api::new(Mode::Honest, 15).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, ", max_pages = 1", "");
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(3), "{text}");
    // What an older Sluice committed after a refused link.
    let mut saved = checkpoint(&config, "api").await;
    let url = saved["page"]["url"].as_str().unwrap().to_string();
    saved["page"]["url"] = Value::from(url.replace(&base, "http://foreign.invalid:9"));
    let export = json!({ "sluice_state_export": 1, "exported_at": Utc::now(), "checkpoints": { "api": saved } });
    let file = dir.path().join("export.json");
    std::fs::write(&file, export.to_string()).unwrap();
    let config_text = config.to_str().unwrap();
    let out = run_sluice(&[
        "state",
        "import",
        "--config",
        config_text,
        file.to_str().unwrap(),
        "--force",
    ])
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace(", max_pages = 1", ""),
    )
    .unwrap();
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("the saved next page is outside the configured origin"),
        "{text}"
    );
    assert_eq!(lake_ids(dir.path(), "api"), api.ids());
}

// ---- slow, endless and redirected responses ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_body_ends_at_the_total_timeout_naming_the_url() {
    let (_api, base) = Api::new(Mode::SlowLoris, 5).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, "", "");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "max_attempts = 3, max_backoff = \"100ms\", timeout = \"5s\"",
        "max_attempts = 1, timeout = \"2s\"",
    );
    std::fs::write(&config, text).unwrap();
    let started = Instant::now();
    let (code, text) = run(&config).await;
    let took = started.elapsed();
    assert_eq!(code, Some(1), "{text}");
    assert!(took < Duration::from_secs(20), "took {took:?}: {text}");
    assert!(text.contains(&format!("{base}/logs?")), "{text}");
    assert!(text.contains("timed out"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_stops_at_max_response_size() {
    let (_api, base) = Api::new(Mode::EndlessBody, 5).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, ", max_response_size = \"256KiB\"", "");
    let started = Instant::now();
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(text.contains("response is larger than 256.0 KiB"), "{text}");
    assert!(text.contains(&format!("{base}/logs?")), "{text}");
    assert!(lake_ids(dir.path(), "api").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_body_is_capped_by_its_decoded_size() {
    // 64 KiB on the wire, 64 MiB decoded: the cap counts what it decodes to.
    let (_api, base) = Api::new(Mode::GzipBomb, 5).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, ", max_response_size = \"1MiB\"", "");
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("response is larger than 1.0 MiB"), "{text}");
    assert!(text.contains(&format!("{base}/logs?")), "{text}");
    assert!(lake_ids(dir.path(), "api").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_brotli_and_zstd_bodies_are_asked_for_and_read() {
    let (api, base) = Api::new(Mode::Compressed, 23).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, "", "");
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(lake_ids(dir.path(), "api"), api.ids());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_and_the_hint_names_its_target_without_secrets() {
    let (api, base) = Api::new(Mode::Redirect, 5).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, "", "");
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "HTTP 302 redirect to http://elsewhere.invalid/api/v2/logs (query not shown)"
        ),
        "{text}"
    );
    assert!(
        text.contains("set base_url and path to the final location"),
        "{text}"
    );
    assert!(!text.contains("SECRET123"), "{text}");
    assert_eq!(api.requests(), 1, "not retried, not followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_answer_echoing_an_error_fails_without_committing() {
    let (api, base) = Api::new(Mode::EchoedError, 5).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, "", "");
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("not an array of records"), "{text}");
    assert!(
        text.contains(&format!("{base}/logs?")),
        "the error names the page: {text}"
    );
    assert_eq!(api.requests(), 1, "a malformed answer is not retried");
    assert!(lake_ids(dir.path(), "api").is_empty());
    assert!(checkpoint(&config, "api").await["page"].is_null());
}

// ---- a deadline during an outage ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_during_an_outage_is_a_failure() {
    let (api, base) = Api::new(Mode::Down, 5).start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, ", max_retries_per_run = 10000", "");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "max_attempts = 3, max_backoff = \"100ms\", timeout = \"5s\"",
        "max_attempts = 10000, max_backoff = \"200ms\", timeout = \"1s\"",
    );
    std::fs::write(&config, text).unwrap();
    let config_text = config.to_str().unwrap();
    let out = run_sluice(&["run", "--once", "--deadline", "3s", "--config", config_text]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("HTTP 503"), "{text}");
    assert!(!text.contains("more work is pending"), "{text}");
    assert!(
        api.requests() > 2,
        "the request was retried until the deadline"
    );
    let out = run_sluice(&["status", "--json", "--config", config_text]).await;
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = status[0]["last_run"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("HTTP 503"),
        "the run is recorded as failed: {status}"
    );
}

// ---- records no window lists ---------------------------------------------------------------------

fn out_of_range_extras() -> Vec<Value> {
    let now = Utc::now();
    vec![
        record("far-future", now + TimeDelta::days(30)),
        record("before-lookback", now - TimeDelta::days(3)),
        // Inside what later windows list: left for them, neither delivered nor dead-lettered.
        record("soon", now + TimeDelta::hours(1)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_no_window_lists_go_to_the_dead_letter_queue_with_the_reason() {
    let (api, base) = Api::with_extras(Mode::Honest, 12, out_of_range_extras())
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &base,
        "",
        "\n[dead_letter]\npath = \"dead-letter\"\n",
    );
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("WARN"), "{text}");
    assert!(text.contains("out_of_range=2"), "{text}");
    assert!(text.contains("source=api"), "{text}");
    assert!(text.contains("dead-letter queue"), "{text}");
    assert_eq!(lake_ids(dir.path(), "api"), api.ids());
    let letters = sluice::sink::dead_letter::read(&dir.path().join("dead-letter"), Some("api"))
        .unwrap()
        .into_iter()
        .flat_map(|o| o.letters)
        .map(|l| (l.event.event_id, l.error))
        .collect::<HashMap<_, _>>();
    assert_eq!(letters.len(), 2, "{letters:?}");
    assert!(
        letters["far-future"].contains("more than 1 day after"),
        "{letters:?}"
    );
    assert!(
        letters["before-lookback"].contains("first window started"),
        "{letters:?}"
    );
    let out = run_sluice(&["dlq", "list", "--config", config.to_str().unwrap()]).await;
    assert!(
        output_text(&out).contains("first window started"),
        "{}",
        output_text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_no_window_lists_without_a_queue_are_counted_and_warned_about() {
    let (api, base) = Api::with_extras(Mode::Honest, 12, out_of_range_extras())
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base, "", "");
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("out_of_range=2"), "{text}");
    assert!(
        text.contains("add a [dead_letter] queue to keep them"),
        "{text}"
    );
    assert_eq!(lake_ids(dir.path(), "api"), api.ids());
}
