//! Connector specs end to end: the real `sluice` binary against the simulator's generic
//! vendor, for every pagination kind in both orders, every time format, every static auth
//! scheme and OAuth 2.0, expired cursors, and late events with and without overlap.
//!
//! Every test ends by comparing the lake with the simulator's events: nothing missing,
//! nothing twice, each event's data and time as served, nothing left in staging (or, where
//! events are expected to be lost, only those that the guarantees allow).

use crate::common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{SubsecRound, TimeDelta, Utc};
use sluice::simulator::{
    self, Faults, GenericProfile, LateEvents, RunningSimulator, SimAuth, SimOrder, SimPagination,
    SimTimeFormat, SimulatorConfig,
};

use common::{
    assert_lake_exact, lake_id_counts, output_text, run_until_caught_up, start_simulator,
    summary_total,
};

// ---- config building -----------------------------------------------------------------

/// One `[[sources]]` entry against the generic simulator.
struct Source {
    name: String,
    base_url: String,
    pagination: SimPagination,
    order: SimOrder,
    format: SimTimeFormat,
    page_size: u64,
    /// The inside of the `window = { ... }` table.
    window: String,
    /// Extra keys of the `http = { ... }` table, each starting with `, `.
    http_extra: String,
    /// The `auth = { ... }` table.
    auth: String,
}

impl Source {
    fn new(name: &str, sim: &RunningSimulator, profile: &GenericProfile) -> Self {
        Source {
            name: name.to_string(),
            base_url: sim.base_url(),
            pagination: profile.pagination,
            order: profile.order,
            format: profile.time_format,
            page_size: 100,
            window: window("1d", "1m", "0s", "2h"),
            http_extra: String::new(),
            auth: "{ kind = \"bearer\", token = \"sim-token\" }".to_string(),
        }
    }

    fn toml(&self) -> String {
        let format = self.format.as_str();
        format!(
            r#"
[[sources]]
name = "{name}"
base_url = "{base_url}"
{request}
page_size = {page_size}
order = "{order}"
event_time = {{ path = "time", format = "{format}" }}
event_id = {{ path = "id" }}
window = {{ {window}, format = "{format}" }}
http = {{ max_attempts = 30, max_backoff = "200ms", timeout = "5s"{http_extra} }}
auth = {auth}
sinks = ["lake"]
"#,
            name = self.name,
            base_url = self.base_url,
            request = request_spec(self.pagination),
            page_size = self.page_size,
            order = self.order.as_str(),
            window = self.window,
            http_extra = self.http_extra,
            auth = self.auth,
        )
    }
}

/// The inside of a `window` table (without `format`).
fn window(lookback: &str, settle: &str, overlap: &str, max_window: &str) -> String {
    format!(
        "lookback = \"{lookback}\", settle_delay = \"{settle}\", overlap = \"{overlap}\", max_window = \"{max_window}\""
    )
}

/// Method, path, templates, records path and pagination of each kind, as a spec writer
/// would describe the simulator's API.
fn request_spec(pagination: SimPagination) -> String {
    const QUERY: &str = r#"start = "{start}", end = "{end}", limit = "{limit}""#;
    let get = |extra_query: &str, pagination: &str| {
        format!(
            "path = \"/v1/events\"\nquery = {{ {QUERY}{extra_query} }}\nrecords_path = \"data\"\npagination = {pagination}"
        )
    };
    match pagination {
        SimPagination::None => get("", r#"{ kind = "none" }"#),
        SimPagination::LinkHeader => get("", r#"{ kind = "link_header" }"#),
        SimPagination::NextUrl => get("", r#"{ kind = "next_url", path = "meta.next_url" }"#),
        SimPagination::Cursor => get(
            r#", cursor = "{cursor}""#,
            r#"{ kind = "cursor", path = "meta.next_cursor" }"#,
        ),
        // The `param` shorthand instead of a `{cursor}` template.
        SimPagination::CursorHasMore => get(
            "",
            r#"{ kind = "cursor", path = "meta.next_cursor", param = "cursor", has_more_path = "meta.has_more" }"#,
        ),
        SimPagination::Offset => get(r#", offset = "{offset}""#, r#"{ kind = "offset" }"#),
        SimPagination::PageNumber => get(
            r#", page = "{page}""#,
            r#"{ kind = "page_number", first = 1, has_more_path = "meta.has_more" }"#,
        ),
        SimPagination::CursorInBody => r#"method = "POST"
path = "/v1/events/search"
body = '{"start": "{start}", "end": "{end}", "limit": "{limit}", "cursor": "{cursor}"}'
records_path = "data"
pagination = { kind = "cursor", path = "meta.next_cursor" }"#
            .to_string(),
        SimPagination::Graphql => r#"method = "POST"
path = "/graphql"
body = '{"query": "query Events($start: String!, $end: String!, $first: Int, $after: String) { events(start: $start, end: $end, first: $first, after: $after) { nodes { id time actor { email } } pageInfo { endCursor hasNextPage } } }", "variables": {"start": "{start}", "end": "{end}", "first": "{limit}", "after": "{cursor}"}}'
records_path = "data.events.nodes"
pagination = { kind = "graphql", page_info_path = "data.events.pageInfo" }"#
            .to_string(),
    }
}

/// Writes `sluice.toml` in `dir` with `sources` and one lake sink; returns its path.
fn write_config(dir: &Path, sources: &[&Source]) -> PathBuf {
    let mut text = String::from("[state]\nkind = \"sqlite\"\npath = \"state.db\"\n");
    for source in sources {
        text.push_str(&source.toml());
    }
    text.push_str(
        "\n[[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"lake\"\nroll_size = \"32KB\"\n",
    );
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).expect("temp dir is writable");
    path
}

fn faults(seed: u64) -> Faults {
    Faults {
        rate_429: 0.05,
        rate_5xx: 0.05,
        rate_truncate: 0.05,
        seed: Some(seed),
        ..Faults::none()
    }
}

/// Wall-clock budget for loops that wait on time, so a stuck test fails with a message.
fn deadline(after: Duration) -> tokio::time::Instant {
    tokio::time::Instant::now() + after
}

// ---- 1. every pagination kind in both orders ------------------------------------------

struct KindCase {
    events: u64,
    page_size: u64,
    faults: bool,
    max_pages: u64,
}

/// Runs `pagination` in `order` to completion and checks the lake is exact.
async fn exercise(pagination: SimPagination, order: SimOrder, case: KindCase) {
    let profile = GenericProfile {
        pagination,
        order,
        ..GenericProfile::default()
    };
    let mut sim_config = SimulatorConfig::generic(case.events, profile.clone());
    if case.faults {
        sim_config.faults = faults(7 + case.events);
    }
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut source = Source::new("gen", &sim, &profile);
    source.page_size = case.page_size;
    if case.max_pages > 0 {
        source.http_extra = format!(", max_pages = {}", case.max_pages);
    }
    let config = write_config(dir.path(), &[&source]);
    let (runs, output) = run_until_caught_up(config.to_str().unwrap(), 60, &[]).await;
    if case.max_pages > 0 {
        assert!(
            runs > 2,
            "{pagination:?} {order:?}: max_pages should take several runs, took {runs}"
        );
    }
    assert!(
        !output.contains("ERROR"),
        "{pagination:?} {order:?}:\n{output}"
    );
    assert_lake_exact(&dir.path().join("lake"), "gen", &sim_config);
    let stats = sim.stats();
    if case.faults {
        assert!(
            stats.faults_429 + stats.faults_5xx + stats.faults_truncated > 0,
            "{pagination:?} {order:?}: no fault fired: {stats:?}"
        );
    }
    sim.shutdown().await;
}

macro_rules! kind_test {
    ($(#[$attr:meta])* $name:ident: $kind:ident, $order:ident, events = $events:expr, page_size = $page:expr, faults = $faults:expr, max_pages = $max_pages:expr) => {
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            exercise(
                SimPagination::$kind,
                SimOrder::$order,
                KindCase {
                    events: $events,
                    page_size: $page,
                    faults: $faults,
                    max_pages: $max_pages,
                },
            )
            .await;
        }
    };
}

kind_test!(none_ascending: None, Ascending, events = 800, page_size = 100, faults = true, max_pages = 0);
kind_test!(none_newest_first: None, NewestFirst, events = 800, page_size = 100, faults = false, max_pages = 5);
kind_test!(link_header_ascending: LinkHeader, Ascending, events = 1200, page_size = 100, faults = true, max_pages = 6);
kind_test!(link_header_newest_first: LinkHeader, NewestFirst, events = 1000, page_size = 100, faults = false, max_pages = 0);
kind_test!(next_url_ascending: NextUrl, Ascending, events = 1000, page_size = 50, faults = false, max_pages = 7);
kind_test!(next_url_newest_first: NextUrl, NewestFirst, events = 1000, page_size = 50, faults = true, max_pages = 7);
kind_test!(cursor_ascending: Cursor, Ascending, events = 1500, page_size = 100, faults = true, max_pages = 0);
kind_test!(cursor_newest_first: Cursor, NewestFirst, events = 1500, page_size = 100, faults = false, max_pages = 6);
kind_test!(cursor_has_more_ascending: CursorHasMore, Ascending, events = 900, page_size = 50, faults = false, max_pages = 5);
kind_test!(cursor_has_more_newest_first: CursorHasMore, NewestFirst, events = 900, page_size = 50, faults = true, max_pages = 0);
kind_test!(cursor_in_body_ascending: CursorInBody, Ascending, events = 1000, page_size = 75, faults = true, max_pages = 6);
kind_test!(cursor_in_body_newest_first: CursorInBody, NewestFirst, events = 1000, page_size = 75, faults = false, max_pages = 6);
kind_test!(offset_ascending: Offset, Ascending, events = 1200, page_size = 100, faults = true, max_pages = 5);
kind_test!(offset_newest_first: Offset, NewestFirst, events = 1200, page_size = 100, faults = true, max_pages = 0);
kind_test!(page_number_ascending: PageNumber, Ascending, events = 700, page_size = 50, faults = false, max_pages = 0);
kind_test!(page_number_newest_first: PageNumber, NewestFirst, events = 700, page_size = 50, faults = true, max_pages = 5);
kind_test!(graphql_ascending: Graphql, Ascending, events = 1100, page_size = 100, faults = true, max_pages = 5);
kind_test!(graphql_newest_first: Graphql, NewestFirst, events = 1100, page_size = 100, faults = false, max_pages = 0);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newest_first_in_one_window() {
    // One window over the whole dataset (7 h lookback, 1 d max window), listed newest
    // first across several page-capped runs.
    for (n, pagination) in SimPagination::ALL.iter().copied().enumerate() {
        let profile = GenericProfile {
            pagination,
            order: SimOrder::NewestFirst,
            ..GenericProfile::default()
        };
        let mut sim_config = SimulatorConfig::generic(600, profile.clone());
        if n % 2 == 0 {
            sim_config.faults = faults(100 + n as u64);
        }
        let sim = start_simulator(sim_config.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let mut source = Source::new("gen", &sim, &profile);
        source.page_size = 50;
        source.window = window("7h", "1m", "0s", "1d");
        source.http_extra = ", max_pages = 4".into();
        let config = write_config(dir.path(), &[&source]);
        let (runs, output) = run_until_caught_up(config.to_str().unwrap(), 30, &[]).await;
        assert!(!output.contains("ERROR"), "{pagination:?}:\n{output}");
        if pagination != SimPagination::None {
            assert!(runs >= 3, "{pagination:?}: {runs} runs");
        }
        assert_lake_exact(&dir.path().join("lake"), "gen", &sim_config);
        sim.shutdown().await;
    }
}

// ---- 2. every time format ------------------------------------------------------------

/// 1500 events in 30 min (whole seconds hold several, so epoch_seconds windows re-read
/// shared seconds), 10 min windows, page-capped runs.
async fn time_format_case(format: SimTimeFormat, pagination: SimPagination) {
    let profile = GenericProfile {
        pagination,
        time_format: format,
        ..GenericProfile::default()
    };
    let sim_config = SimulatorConfig {
        span: Duration::from_secs(30 * 60),
        ..SimulatorConfig::generic(1500, profile.clone())
    };
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut source = Source::new("gen", &sim, &profile);
    source.window = window("2h", "1m", "0s", "10m");
    source.http_extra = ", max_pages = 8".into();
    let config = write_config(dir.path(), &[&source]);
    let (_, output) = run_until_caught_up(config.to_str().unwrap(), 60, &[]).await;
    assert!(!output.contains("ERROR"), "{format:?}:\n{output}");
    assert_eq!(
        sim.stats().bad_requests,
        0,
        "{format:?}: the API refused some bounds"
    );
    assert_lake_exact(&dir.path().join("lake"), "gen", &sim_config);
    sim.shutdown().await;
}

// Each format also uses a different pagination kind, so epoch numbers travel in query
// strings, next-page URLs and JSON bodies (as typed numbers).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_format_rfc3339() {
    time_format_case(SimTimeFormat::Rfc3339, SimPagination::NextUrl).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_format_epoch_seconds() {
    time_format_case(SimTimeFormat::EpochSeconds, SimPagination::Cursor).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_format_epoch_millis() {
    time_format_case(SimTimeFormat::EpochMillis, SimPagination::Offset).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_format_epoch_micros() {
    time_format_case(SimTimeFormat::EpochMicros, SimPagination::Graphql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_format_epoch_nanos() {
    time_format_case(SimTimeFormat::EpochNanos, SimPagination::CursorInBody).await;
}

// ---- 3. auth -------------------------------------------------------------------------

const BEARER: &str = "bt-51c0ffee9a";
const HEADER_KEY: &str = "hk-77d1e5a3b2";
const QUERY_KEY: &str = "qk-5e1f9d2c7a";
const PASSWORD: &str = "pw-3b8e6f0d41";
const CLIENT_SECRET: &str = "cs-9a4c2e7f15";

fn auth_profile(auth: SimAuth) -> GenericProfile {
    GenericProfile {
        pagination: SimPagination::LinkHeader,
        auth,
        ..GenericProfile::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_auth_schemes_work_and_stay_out_of_debug_logs() {
    let schemes = [
        (
            "bearer",
            SimAuth::Bearer(BEARER.into()),
            format!("{{ kind = \"bearer\", token = \"{BEARER}\" }}"),
        ),
        (
            "header-key",
            SimAuth::ApiKeyHeader {
                header: "X-API-Key".into(),
                key: HEADER_KEY.into(),
            },
            format!("{{ kind = \"api_key\", key = \"{HEADER_KEY}\", header = \"X-API-Key\" }}"),
        ),
        (
            "query-key",
            SimAuth::ApiKeyQuery {
                param: "api_key".into(),
                key: QUERY_KEY.into(),
                echo_in_links: false,
            },
            format!("{{ kind = \"api_key\", key = \"{QUERY_KEY}\", query = \"api_key\" }}"),
        ),
        (
            "basic",
            SimAuth::Basic {
                user: "auditor".into(),
                password: PASSWORD.into(),
            },
            format!("{{ kind = \"basic\", username = \"auditor\", password = \"{PASSWORD}\" }}"),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut sims = Vec::new();
    let mut sources = Vec::new();
    for (name, auth, table) in schemes {
        let profile = auth_profile(auth);
        let sim_config = SimulatorConfig::generic(600, profile.clone());
        let sim = start_simulator(sim_config.clone()).await;
        let mut source = Source::new(name, &sim, &profile);
        source.auth = table;
        // A few runs, so saved next-page URLs (which carry no key) get the key again.
        source.http_extra = ", max_pages = 6".into();
        sources.push(source);
        sims.push((name, sim, sim_config));
    }
    let config = write_config(dir.path(), &sources.iter().collect::<Vec<_>>());
    let (_, output) =
        run_until_caught_up(config.to_str().unwrap(), 30, &[("RUST_LOG", "debug")]).await;
    assert!(output.contains("source run finished"), "{output}");
    for secret in [BEARER, HEADER_KEY, QUERY_KEY, PASSWORD] {
        assert!(
            !output.contains(secret),
            "secret {secret} leaked into debug output"
        );
    }
    for (name, sim, sim_config) in sims {
        assert_eq!(sim.stats().unauthorized, 0, "{name}");
        assert_lake_exact(&dir.path().join("lake"), name, &sim_config);
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_tokens_are_refreshed_during_a_long_run() {
    // Tokens live 2 s; ~35 pages at 150 ms each keep one run busy for about 5 s.
    for client_auth in ["basic", "body"] {
        let profile = auth_profile(SimAuth::OAuth2 {
            client_id: "sluice client".into(),
            client_secret: CLIENT_SECRET.into(),
            token_lifetime: Duration::from_secs(2),
        });
        let sim_config = SimulatorConfig {
            latency: Duration::from_millis(150),
            ..SimulatorConfig::generic(1200, profile.clone())
        };
        let sim = start_simulator(sim_config.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let mut source = Source::new("oauth", &sim, &profile);
        source.page_size = 50;
        source.auth = format!(
            "{{ kind = \"oauth2_client_credentials\", token_url = \"{}/oauth/token\", client_id = \"sluice client\", client_secret = \"{CLIENT_SECRET}\", scopes = [\"audit.read\"], client_auth = \"{client_auth}\" }}",
            sim.base_url()
        );
        let config = write_config(dir.path(), &[&source]);
        let started = std::time::Instant::now();
        let (runs, output) =
            run_until_caught_up(config.to_str().unwrap(), 5, &[("RUST_LOG", "debug")]).await;
        let elapsed = started.elapsed();
        assert_eq!(runs, 1, "{output}");
        assert!(!output.contains(CLIENT_SECRET), "the client secret leaked");
        let stats = sim.stats();
        assert!(
            elapsed > Duration::from_secs(3),
            "the run was too quick ({elapsed:?}) to outlive a token"
        );
        assert!(
            stats.tokens_issued > 1,
            "{client_auth}: one token for a {elapsed:?} run with 2 s tokens: {stats:?}"
        );
        assert_lake_exact(&dir.path().join("lake"), "oauth", &sim_config);
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_the_run_with_exit_1() {
    let cases = [
        (
            "bearer",
            SimAuth::Bearer(BEARER.into()),
            "{ kind = \"bearer\", token = \"not-the-token\" }".to_string(),
        ),
        (
            "header-key",
            SimAuth::ApiKeyHeader {
                header: "X-API-Key".into(),
                key: HEADER_KEY.into(),
            },
            "{ kind = \"api_key\", key = \"wrong\", header = \"X-API-Key\" }".to_string(),
        ),
        (
            "query-key",
            SimAuth::ApiKeyQuery {
                param: "api_key".into(),
                key: QUERY_KEY.into(),
                echo_in_links: false,
            },
            "{ kind = \"api_key\", key = \"wrong\", query = \"api_key\" }".to_string(),
        ),
        (
            "basic",
            SimAuth::Basic {
                user: "auditor".into(),
                password: PASSWORD.into(),
            },
            "{ kind = \"basic\", username = \"auditor\", password = \"wrong\" }".to_string(),
        ),
        (
            "oauth",
            SimAuth::OAuth2 {
                client_id: "sluice client".into(),
                client_secret: CLIENT_SECRET.into(),
                token_lifetime: Duration::from_secs(60),
            },
            String::new(),
        ),
    ];
    for (name, auth, table) in cases {
        let profile = auth_profile(auth);
        let sim_config = SimulatorConfig::generic(100, profile.clone());
        let sim = start_simulator(sim_config.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let mut source = Source::new(name, &sim, &profile);
        source.auth = if table.is_empty() {
            format!(
                "{{ kind = \"oauth2_client_credentials\", token_url = \"{}/oauth/token\", client_id = \"sluice client\", client_secret = \"wrong\" }}",
                sim.base_url()
            )
        } else {
            table
        };
        let config = write_config(dir.path(), &[&source]);
        let out =
            common::run_sluice(&["run", "--once", "--config", config.to_str().unwrap()]).await;
        let shown = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {shown}");
        assert!(shown.contains("401"), "{name}: {shown}");
        assert!(
            lake_id_counts(&dir.path().join("lake"), name, &sim_config).is_empty(),
            "{name}: nothing is delivered"
        );
        assert_eq!(sim.stats().events_served, 0, "{name}");
        sim.shutdown().await;
    }
}

// ---- 4. expired cursors --------------------------------------------------------------

/// Cursors live 1 s; runs stop mid-window (3 pages per run, 4+ pages per window) and the
/// next run starts 1.5 s later, so its saved cursor has expired and the window is listed
/// again from its time anchor. `window` is the inside of the window table.
async fn expired_cursor_case(order: SimOrder, window_spec: String) {
    let profile = GenericProfile {
        pagination: SimPagination::Cursor,
        order,
        cursor_ttl: Some(Duration::from_secs(1)),
        ..GenericProfile::default()
    };
    let sim_config = SimulatorConfig {
        latency: Duration::from_millis(50),
        ..SimulatorConfig::generic(600, profile.clone())
    };
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut source = Source::new("gen", &sim, &profile);
    source.page_size = 50;
    source.window = window_spec;
    source.http_extra = ", max_pages = 3".into();
    let config = write_config(dir.path(), &[&source]);
    let config = config.to_str().unwrap();
    let mut output = String::new();
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs <= 40, "{order:?}: never caught up:\n{output}");
        let out = common::run_sluice(&["run", "--once", "--config", config]).await;
        let shown = output_text(&out);
        output.push_str(&shown);
        match out.status.code() {
            Some(0) => break,
            Some(3) => tokio::time::sleep(Duration::from_millis(1500)).await,
            other => panic!("{order:?}: run {runs} exited {other:?}:\n{shown}"),
        }
    }
    assert!(
        output.contains("listing the window again"),
        "{order:?}: no relist in {runs} runs:\n{output}"
    );
    assert!(summary_total(&output, "relists") > 0, "{order:?}");
    assert!(sim.stats().cursors_expired > 0, "{order:?}");
    assert_lake_exact(&dir.path().join("lake"), "gen", &sim_config);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_cursors_relist_the_window_ascending() {
    // 2 h windows of ~200 events: 4 or more pages each.
    expired_cursor_case(SimOrder::Ascending, window("1d", "1m", "0s", "2h")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_cursors_relist_the_window_newest_first() {
    // One window of 600 events (12 pages): the relist starts over from the window's top.
    expired_cursor_case(SimOrder::NewestFirst, window("7h", "1m", "0s", "1d")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_cursors_relist_the_window_newest_first_across_windows() {
    expired_cursor_case(SimOrder::NewestFirst, window("1d", "1m", "0s", "2h")).await;
}

// ---- 5. late events ------------------------------------------------------------------

const LATE_FRACTION: f64 = 0.2;
const MAX_DELAY: Duration = Duration::from_secs(3);

/// Events over 20 s centred on now (anchor now + 10 s), a fifth of them published up to
/// 3 s late. Runs `sluice` about every second until every event is visible and the
/// horizon has passed the last one, then once more. Returns the simulator config, the lake
/// path and all run output.
async fn run_through_late_events(
    settle: &str,
    overlap: &str,
) -> (SimulatorConfig, tempfile::TempDir, String) {
    let profile = GenericProfile {
        pagination: SimPagination::Cursor,
        ..GenericProfile::default()
    };
    let anchor = (Utc::now() + TimeDelta::seconds(10)).trunc_subsecs(3);
    let sim_config = SimulatorConfig {
        late: LateEvents {
            fraction: LATE_FRACTION,
            max_delay: MAX_DELAY,
        },
        anchor,
        span: Duration::from_secs(20),
        ..SimulatorConfig::generic(400, profile.clone())
    };
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut source = Source::new("late", &sim, &profile);
    source.window = window("1m", settle, overlap, "1h");
    let config = write_config(dir.path(), &[&source]);
    let config = config.to_str().unwrap();
    let settle_delay = humantime::parse_duration(settle).unwrap();
    let done_after =
        anchor + TimeDelta::from_std(settle_delay + MAX_DELAY + Duration::from_secs(1)).unwrap();
    let give_up = deadline(Duration::from_secs(90));
    let mut output = String::new();
    let mut runs = 0;
    loop {
        let last = Utc::now() > done_after;
        let (_, shown) = run_until_caught_up(config, 3, &[]).await;
        output.push_str(&shown);
        runs += 1;
        if last {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "late-event runs did not finish in time ({runs} runs)"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        runs >= 5,
        "only {runs} runs: the test did not poll while events arrived"
    );
    assert_eq!(sim.stats().bad_requests, 0);
    sim.shutdown().await;
    (sim_config, dir, output)
}

/// Ids of events that became visible more than `settle` after their event time.
fn later_than(config: &SimulatorConfig, settle: Duration) -> HashSet<String> {
    let settle = TimeDelta::from_std(settle).unwrap();
    (0..config.events)
        .filter(|i| simulator::visible_at(config, *i) - simulator::event_time(config, *i) > settle)
        .map(|i| simulator::event_id(config, i))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settle_delay_longer_than_the_lateness_misses_nothing() {
    let (config, dir, output) = run_through_late_events("5s", "0s").await;
    assert!(
        later_than(&config, Duration::ZERO).len() > 40,
        "the dataset has late events"
    );
    assert_lake_exact(&dir.path().join("lake"), "late", &config);
    assert_eq!(
        summary_total(&output, "late_events"),
        0,
        "nothing arrives behind the frontier"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_settle_delay_misses_only_events_later_than_it() {
    let settle = Duration::from_secs(1);
    let (config, dir, _) = run_through_late_events("1s", "0s").await;
    // Every stored event is as served, and staging is empty.
    let counts = lake_id_counts(&dir.path().join("lake"), "late", &config);
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicates: {duplicated:?}");
    let all: HashSet<String> = simulator::event_ids(&config).into_iter().collect();
    assert!(
        counts.keys().all(|id| all.contains(id)),
        "unknown ids in the lake"
    );
    let allowed = later_than(&config, settle);
    let missing: Vec<&String> = all.iter().filter(|id| !counts.contains_key(*id)).collect();
    let unexpected: Vec<&&String> = missing
        .iter()
        .filter(|id| !allowed.contains(**id))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} missing events were published within the settle delay: {:?}",
        unexpected.len(),
        unexpected.iter().take(5).collect::<Vec<_>>()
    );
    // The settle delay really was too short: the test proves nothing if nothing is missed.
    assert!(
        !missing.is_empty(),
        "no event was missed, though {} were published later than the 1 s settle delay",
        allowed.len()
    );
    eprintln!(
        "short settle delay: {} of {} events missing, all among the {} later than 1 s",
        missing.len(),
        all.len(),
        allowed.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlap_catches_events_later_than_the_settle_delay() {
    let (config, dir, output) = run_through_late_events("1s", "5s").await;
    assert_lake_exact(&dir.path().join("lake"), "late", &config);
    let late = summary_total(&output, "late_events");
    assert!(late > 0, "no run reported late_events:\n{output}");
}

// ---- whole-second APIs polled often ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epoch_seconds_sparse_events_polled_often() {
    // Six events 2 s apart, starting 2 s from now, in an API that writes whole seconds;
    // polled every ~300 ms with a 100 ms settle delay, so most runs' windows are empty and
    // end at a horizon in the middle of a second.
    let profile = GenericProfile {
        pagination: SimPagination::Cursor,
        time_format: SimTimeFormat::EpochSeconds,
        ..GenericProfile::default()
    };
    let anchor = (Utc::now() + TimeDelta::seconds(12)).trunc_subsecs(3);
    let sim_config = SimulatorConfig {
        anchor,
        span: Duration::from_secs(10),
        ..SimulatorConfig::generic(6, profile.clone())
    };
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut source = Source::new("sparse", &sim, &profile);
    source.window = window("1m", "100ms", "0s", "1h");
    let config = write_config(dir.path(), &[&source]);
    let config = config.to_str().unwrap();
    let done_after = anchor + TimeDelta::seconds(2);
    let give_up = deadline(Duration::from_secs(60));
    let mut output = String::new();
    loop {
        let last = Utc::now() > done_after;
        let (_, shown) = run_until_caught_up(config, 3, &[]).await;
        output.push_str(&shown);
        if last {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "polling did not finish"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let counts = lake_id_counts(&dir.path().join("lake"), "sparse", &sim_config);
    let missing: Vec<String> = (0..sim_config.events)
        .filter(|i| !counts.contains_key(&simulator::event_id(&sim_config, *i)))
        .map(|i| simulator::event_time(&sim_config, i).to_rfc3339())
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} events never delivered (times {missing:?}); out_of_window total {}",
        missing.len(),
        sim_config.events,
        summary_total(&output, "out_of_window")
    );
    assert_lake_exact(&dir.path().join("lake"), "sparse", &sim_config);
    sim.shutdown().await;
}
