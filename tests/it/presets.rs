//! Built-in connectors (presets), each configured as its docs page says, against the
//! simulator's profile of that vendor, and on the real-shaped pages of
//! `../shared/testdata/grove-fixtures` where that vendor has some.

use crate::common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sluice::simulator::{Faults, SimulatorConfig};

use common::kill::{assert_partly_done, Killer};
use common::lake::object_count;
use common::{assert_lake_exact, delivered, output_text, run_sluice, sluice, start_simulator};

/// A config holding `source` (a `[[sources]]` table) with SQLite state and a local lake of
/// small objects, written to `dir/sluice.toml`.
fn write_config(dir: &Path, source: &str) -> PathBuf {
    let text = format!(
        r#"[state]
kind = "sqlite"
path = "state.db"

{source}

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
roll_size = "24KB"
"#
    );
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).expect("temp dir is writable");
    path
}

/// A `[[sources]]` table of built-in connector `name` as its docs page configures it: the
/// vendor's `settings` (TOML lines, the credential read from the environment), with
/// `url_key` pointed at the test server (the one override a test needs) and retries quick
/// enough for a test.
fn preset_source(name: &str, settings: &str, url_key: &str, url: &str) -> String {
    format!(
        r#"[[sources]]
name = "{name}"
connector = "{name}"
{settings}
sinks = ["lake"]
{url_key} = "{url}"
http = {{ max_attempts = 30, max_backoff = "200ms", timeout = "5s" }}
"#
    )
}

/// A request budget a test can afford, for presets that pace themselves below their vendor's
/// limit (GitHub's 29 a minute, Slack's 50, 1Password's 160 per stream).
const TEST_BUDGET: &str = "rate_limit = { requests_per_minute = 60000, burst = 100 }\n";

fn okta_source(base_url: &str) -> String {
    let settings = "domain = \"acme.okta.com\"\ntoken = \"${env:OKTA_TOKEN}\"";
    preset_source("okta", settings, "base_url", base_url)
}

fn github_source(api_url: &str) -> String {
    let settings = "org = \"acme\"\ntoken = \"${env:GITHUB_TOKEN}\"";
    preset_source("github", settings, "api_url", api_url) + TEST_BUDGET
}

fn slack_source(base_url: &str) -> String {
    let settings = "token = \"${env:SLACK_TOKEN}\"";
    preset_source("slack", settings, "base_url", base_url) + TEST_BUDGET
}

fn atlassian_source(base_url: &str) -> String {
    let settings = format!(
        "org_id = \"{}\"\napi_key = \"${{env:ATLASSIAN_API_KEY}}\"",
        sluice::simulator::atlassian::ORG_ID
    );
    preset_source("atlassian", &settings, "base_url", base_url)
}

/// All three streams of the 1Password preset.
fn onepassword_source(base_url: &str) -> String {
    let settings = "token = \"${env:OP_EVENTS_TOKEN}\"";
    preset_source("onepassword", settings, "base_url", base_url) + TEST_BUDGET
}

/// Runs the preset source `source` (named `name`, credential in `envs`) against a simulator
/// of `sim_config` with 429s, 5xx and cut bodies, killing runs until commits have landed,
/// then lets one run finish: the lake must hold every event exactly once.
async fn exact_through_faults_and_kill_9(
    name: &str,
    sim_config: SimulatorConfig,
    source: impl Fn(&str) -> String,
    envs: [(&str, &str); 1],
) {
    let every = sluice::simulator::event_ids(&sim_config)
        .into_iter()
        .collect();
    exact_per_source_through_faults_and_kill_9(
        name,
        sim_config,
        source,
        envs,
        vec![(name.to_string(), every)],
    )
    .await;
}

/// Every event of `sim_config`, in the one source `name`.
fn every_event_in(name: &str, sim_config: &SimulatorConfig) -> Vec<(String, HashSet<String>)> {
    let ids = sluice::simulator::event_ids(sim_config)
        .into_iter()
        .collect();
    vec![(name.to_string(), ids)]
}

/// Runs the preset `source` (configured as its docs page shows) once with a wrong credential
/// in `env`, which must fail the run showing each of `refusal` (the vendor's status and
/// words), then once with the right one (`sim-token`), which must deliver each of `lakes`
/// exactly, with no request the vendor would refuse. Returns the simulator's statistics for
/// the vendor's own bounds.
async fn refuses_a_wrong_credential_then_reads_exactly(
    sim_config: SimulatorConfig,
    source: impl Fn(&str) -> String,
    env: &str,
    refusal: &[&str],
    lakes: Vec<(String, HashSet<String>)>,
) -> sluice::simulator::SimStats {
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &source(&sim.base_url()));
    let config = config.to_str().unwrap();
    let wrong = sluice()
        .args(["run", "--once", "--config", config])
        .env(env, "not-the-credential")
        .output()
        .await
        .unwrap();
    let text = output_text(&wrong);
    assert_eq!(wrong.status.code(), Some(1), "{text}");
    for words in refusal {
        assert!(
            text.contains(words),
            "the vendor's refusal ({words}) is shown: {text}"
        );
    }
    let out = sluice()
        .args(["run", "--once", "--config", config])
        .env(env, "sim-token")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    for (name, expected) in lakes {
        common::lake::check_local(&dir.path().join("lake"), &name, &sim_config)
            .assert_holds_exactly(&expected, &format!("lake of `{name}`"));
    }
    let stats = sim.stats();
    assert_eq!(
        stats.bad_requests, 0,
        "every request as the vendor documents it: {stats:?}"
    );
    sim.shutdown().await;
    stats
}

/// As [`exact_through_faults_and_kill_9`] for a preset that expands into several sources
/// (one per stream): each source's lake must hold exactly its `lakes` ids, once each. Returns
/// the simulator's statistics at the end and how many runs (processes) were started.
async fn exact_per_source_through_faults_and_kill_9(
    name: &str,
    mut sim_config: SimulatorConfig,
    source: impl Fn(&str) -> String,
    envs: [(&str, &str); 1],
    lakes: Vec<(String, HashSet<String>)>,
) -> (sluice::simulator::SimStats, usize) {
    let events = sim_config.events;
    let dir = tempfile::tempdir().unwrap();
    let mut killer = Killer::new(&format!("presets-{name}"), &dir.path().join("runs"));
    // Pages slow enough, and jobs big enough, that runs are still working when the kills
    // land (with 6,000 GitHub events at 10 ms a page, a run sometimes finished the job first).
    sim_config.latency = Duration::from_millis(25);
    sim_config.faults = Faults {
        rate_429: 0.03,
        rate_5xx: 0.03,
        rate_truncate: 0.03,
        seed: Some(killer.seed()),
        ..Faults::default()
    };
    let sim = start_simulator(sim_config.clone()).await;
    let config_path = write_config(dir.path(), &source(&sim.base_url()));
    let config = config_path.to_str().unwrap();

    let start = || {
        let mut command = sluice();
        command
            .args(["run", "--once", "--config", config])
            .envs(envs);
        command
    };
    let lake = dir.path().join("lake");
    let published = || {
        let objects = lakes.iter().map(|(n, _)| object_count(&lake, n)).sum();
        std::future::ready(objects)
    };
    killer
        .until_landed(start, 6, 30, 20..250, published, 0..300)
        .await;
    // Distinct events across the lakes: a stream that served another's events must not
    // make the lake look complete.
    let stored = lakes
        .iter()
        .flat_map(|(n, _)| {
            common::lake::peek_local(&lake, n, &sim_config)
                .counts
                .into_keys()
        })
        .collect::<HashSet<_>>()
        .len();
    assert_partly_done(delivered(config, &envs).await, stored, events as usize);

    let finish = start().output().await.expect("sluice runs");
    assert_eq!(
        finish.status.code(),
        Some(0),
        "final run: {}",
        output_text(&finish)
    );
    for (source, expected) in &lakes {
        common::lake::check_local(&lake, source, &sim_config).assert_holds_exactly(
            expected,
            &format!("lake of `{source}` differs from the simulator"),
        );
    }
    let stats = sim.stats();
    sim.shutdown().await;
    (stats, killer.attempts + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_preset_is_exact_through_faults_and_kill_9() {
    exact_through_faults_and_kill_9(
        "okta",
        SimulatorConfig::okta(12_000),
        okta_source,
        [("OKTA_TOKEN", "sim-token")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_preset_is_exact_through_faults_and_kill_9() {
    exact_through_faults_and_kill_9(
        "github",
        SimulatorConfig::github(15_000),
        github_source,
        [("GITHUB_TOKEN", "sim-token")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_preset_is_exact_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::slack(15_000);
    // Small pages, so a run makes enough requests for faults and kills to land.
    sim_config.max_page_size = 200;
    exact_through_faults_and_kill_9(
        "slack",
        sim_config,
        slack_source,
        [("SLACK_TOKEN", "sim-token")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atlassian_preset_is_exact_through_faults_and_kill_9() {
    exact_through_faults_and_kill_9(
        "atlassian",
        SimulatorConfig::atlassian(12_000),
        atlassian_source,
        [("ATLASSIAN_API_KEY", "sim-token")],
    )
    .await;
}

/// Each 1Password stream's source and the ids its lake must hold.
fn onepassword_lakes(sim_config: &SimulatorConfig) -> Vec<(String, HashSet<String>)> {
    use sluice::simulator::onepassword::{stream_ids, Stream};
    [
        ("onepassword-auditevents", Stream::AuditEvents),
        ("onepassword-itemusages", Stream::ItemUsages),
        ("onepassword-signinattempts", Stream::SignInAttempts),
    ]
    .into_iter()
    .map(|(name, stream)| {
        let ids = stream_ids(sim_config, stream).into_iter().collect();
        (name.to_string(), ids)
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onepassword_preset_is_exact_per_stream_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::onepassword(6_000);
    // Small pages, so a run makes enough requests for faults and kills to land.
    sim_config.max_page_size = 100;
    let lakes = onepassword_lakes(&sim_config);
    exact_per_source_through_faults_and_kill_9(
        "onepassword",
        sim_config,
        onepassword_source,
        [("OP_EVENTS_TOKEN", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test]
async fn github_enterprise_preset_reads_the_enterprise_audit_log_exactly() {
    let sim_config = SimulatorConfig::github(1_500);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let source = github_source(&sim.base_url())
        .replace(
            "connector = \"github\"",
            "connector = \"github_enterprise\"",
        )
        .replace("org = \"acme\"", "enterprise = \"acme\"");
    let config = write_config(dir.path(), &source);
    let out = sluice()
        .args(["run", "--once", "--config", config.to_str().unwrap()])
        .env("GITHUB_TOKEN", "sim-token")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_lake_exact(&dir.path().join("lake"), "github", &sim_config);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_preset_missing_a_setting_names_it_and_its_docs_page() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[[sources]]\nname = \"okta\"\nconnector = \"okta\"\ntoken = \"t\"\nsinks = [\"lake\"]\n",
    );
    let out = run_sluice(&["check", "--config", config.to_str().unwrap()]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("sluice.toml:5:1: sources[0].domain"),
        "file:line and key: {text}"
    );
    assert!(text.contains("needs `domain`"), "{text}");
    assert!(text.contains("docs/connectors/okta.md"), "{text}");
}

#[tokio::test]
async fn an_unknown_setting_or_connector_suggests_the_closest_names() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[[sources]]\nname = \"okta\"\nconnector = \"okta\"\ndomian = \"a.okta.com\"\ntoken = \"t\"\nsinks = [\"lake\"]\n",
    );
    let out = run_sluice(&["check", "--config", config.to_str().unwrap()]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("sources[0].domian"), "{text}");
    assert!(text.contains("did you mean `domain`"), "{text}");

    let config = write_config(
        dir.path(),
        "[[sources]]\nname = \"okta\"\nconnector = \"otka\"\nsinks = [\"lake\"]\n",
    );
    let out = run_sluice(&["check", "--config", config.to_str().unwrap()]).await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("no built-in connector `otka`"), "{text}");
    assert!(text.contains("did you mean \"okta\""), "{text}");
}

#[tokio::test]
async fn connectors_list_show_and_init_describe_every_preset() {
    let list = run_sluice(&["connectors", "list"]).await;
    let text = output_text(&list);
    assert!(list.status.success(), "{text}");
    for (name, product) in [
        ("okta", "Okta System Log"),
        ("github", "GitHub organization audit log"),
        ("slack", "Slack Enterprise audit logs"),
        ("atlassian", "Atlassian organization audit log"),
        ("google_workspace", "Google Workspace audit activities"),
        ("pagerduty", "PagerDuty audit records"),
        (
            "tailscale",
            "Tailscale configuration audit logs and network flow logs",
        ),
        ("cloudflare", "Cloudflare account audit logs"),
        ("snyk", "Snyk Organization audit logs"),
        ("box", "Box enterprise events"),
        ("zendesk", "Zendesk Support audit logs"),
        ("vicarius", "Vicarius vRx incident events"),
        ("jira", "Jira Cloud and Confluence Cloud audit records"),
        ("workday", "Workday user activity logging"),
        ("tfc", "HCP Terraform (Terraform Cloud) audit trails"),
        ("tines", "Tines audit logs"),
        ("salesforce", "Salesforce Setup Audit Trail"),
        ("kandji", "Kandji (Iru) audit log events"),
        ("lastpass", "LastPass Enterprise API event reporting"),
        ("sentinelone", "SentinelOne activities"),
        ("asana", "Asana audit log events"),
        ("stripe", "Stripe events"),
        ("launchdarkly", "LaunchDarkly audit log (change history)"),
    ] {
        assert!(text.contains(name) && text.contains(product), "{text}");
        let page = format!("docs/connectors/{name}.md");
        assert!(text.contains(&page), "{text}");
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(&page).is_file(),
            "{page} exists"
        );
    }

    let show = run_sluice(&["connectors", "show", "okta"]).await;
    assert!(show.status.success());
    let spec: toml::Table = String::from_utf8_lossy(&show.stdout)
        .parse()
        .expect("show prints the preset's TOML");
    assert_eq!(spec["spec"]["path"].as_str(), Some("/api/v1/logs"));

    // The starter config, with its REQUIRED setting filled in, loads as written.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.toml");
    let init = run_sluice(&[
        "init",
        "--connector",
        "okta",
        "--output",
        path.to_str().unwrap(),
    ])
    .await;
    assert!(init.status.success(), "{}", output_text(&init));
    let again = run_sluice(&[
        "init",
        "--connector",
        "okta",
        "--output",
        path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing config is never overwritten"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("domain = \"acme.okta.com\""), "{text}");
    assert!(text.contains("token = \"${env:OKTA_TOKEN}\""), "{text}");
    let status = sluice()
        .args(["status", "--config", path.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(
        status.status.success(),
        "the starter config loads: {}",
        output_text(&status)
    );
}

/// The grove fixture directory of `vendor`, or `None` (with a recorded skip) when the shared
/// test data is absent.
fn fixtures(vendor: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata/grove-fixtures")
        .join(vendor);
    if dir.is_dir() {
        Some(dir)
    } else {
        common::skip::skip(
            "grove-fixtures",
            &format!("{} is absent", dir.display()),
            "place the shared test data beside the project (../shared/testdata)",
        );
        None
    }
}

#[tokio::test]
async fn okta_preset_reads_real_shaped_pages() {
    let Some(dir) = fixtures("okta/system_log") else {
        return;
    };
    let page: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("001.json")).unwrap()).unwrap();
    let records = page.as_array().expect("Okta serves an array").clone();
    // One page, no next link: the whole window.
    let read = read_pages(
        vec![page.to_string()],
        okta_source,
        "",
        ("OKTA_TOKEN", "fixture-token"),
        "okta",
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    let stored = read.stored;
    assert_eq!(stored.len(), records.len());
    for (event, record) in stored.iter().zip(&records) {
        assert_eq!(event["data"], *record, "the record is stored as served");
        assert_eq!(event["event_id"], record["uuid"]);
    }
    let requests = read.requests;
    assert!(requests[0].contains("/api/v1/logs?"), "{requests:?}");
    assert!(requests[0].contains("sortOrder=ASCENDING") && requests[0].contains("limit=1000"));
    assert!(
        read.authorizations
            .iter()
            .all(|a| a == "SSWS fixture-token"),
        "the token goes as Okta's SSWS scheme"
    );
}

#[tokio::test]
async fn github_preset_reads_real_shaped_pages() {
    // Grove's Git-event page: four entries, newest first as GitHub lists by default. (Its
    // web-event pages give every entry one redacted `_document_id`, so read as GitHub's ids
    // they are one event; they are not used here.)
    let Some(dir) = fixtures("github/git") else {
        return;
    };
    let page: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("001.json")).unwrap()).unwrap();
    let records = page.as_array().expect("GitHub serves an array").clone();
    let read = read_pages(
        vec![page.to_string()],
        github_source,
        "",
        ("GITHUB_TOKEN", "fixture-token"),
        "github",
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    let mut stored = read.stored;
    assert_eq!(stored.len(), records.len());
    stored.sort_by_key(|e| e["data"]["@timestamp"].as_i64());
    let mut served = records.clone();
    served.sort_by_key(|r| r["@timestamp"].as_i64());
    for (event, record) in stored.iter().zip(&served) {
        assert_eq!(event["data"], *record, "the record is stored as served");
        assert_eq!(event["event_id"], record["_document_id"]);
        let millis = record["@timestamp"].as_i64().unwrap();
        let time = chrono::DateTime::from_timestamp_millis(millis).unwrap();
        assert_eq!(
            event["event_time"],
            time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
    }
    let requests = read.requests;
    let first = &requests[0];
    assert!(first.starts_with("/orgs/acme/audit-log?"), "{requests:?}");
    for part in [
        "include=all",
        "order=asc",
        "per_page=100",
        "phrase=created%3A",
    ] {
        assert!(first.contains(part), "{part} in {first}");
    }
    assert!(
        first.contains("%2B00%3A00..") || first.contains("%2B00%3A00%2E%2E"),
        "the offset's + is encoded, not sent as a space: {first}"
    );
    assert!(
        read.authorizations
            .iter()
            .all(|a| a == "Bearer fixture-token"),
        "the token goes as a bearer token"
    );
}

#[tokio::test]
async fn slack_preset_reads_real_shaped_pages() {
    // Grove's first two Slack pages: one entry each, linked by `next_cursor`, the second
    // ending the listing with an empty `response_metadata`. (Its third page repeats one id
    // nineteen times, so read as Slack's ids it is one entry; it is not used here.)
    let Some(dir) = fixtures("slack/audit") else {
        return;
    };
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
    };
    let pages = [read("001.json"), read("002.json")];
    let records: Vec<serde_json::Value> = pages
        .iter()
        .flat_map(|p| p["entries"].as_array().unwrap().clone())
        .collect();
    let read = read_pages(
        pages.iter().map(|p| p.to_string()).collect(),
        slack_source,
        "",
        ("SLACK_TOKEN", "xoxp-fixture"),
        "slack",
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.text);
    let stored = read.stored;
    assert_eq!(stored.len(), records.len());
    for record in &records {
        let event = stored
            .iter()
            .find(|e| e["event_id"] == record["id"])
            .unwrap_or_else(|| panic!("{} is stored", record["id"]));
        assert_eq!(event["data"], *record, "the record is stored as served");
        let time = chrono::DateTime::from_timestamp(record["date_create"].as_i64().unwrap(), 0);
        assert_eq!(
            event["event_time"],
            time.unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
    }
    let requests = read.requests;
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(requests[0].starts_with("/audit/v1/logs?") && requests[0].contains("limit=1000"));
    assert!(requests[0].contains("oldest=") && requests[0].contains("latest="));
    assert!(
        requests[1].contains("cursor=CURSOR_VALUE"),
        "the second page is asked with the first page's next_cursor: {requests:?}"
    );
    assert!(
        read.authorizations
            .iter()
            .all(|a| a == "Bearer xoxp-fixture"),
        "the token goes as a bearer token"
    );
}

#[tokio::test]
async fn atlassian_preset_reads_real_shaped_pages() {
    // Grove's two Atlassian pages: the first names its next page in `meta.next`, the second
    // ends with `meta.next: null`. Every event carries the placeholder id `test_id`, so, read
    // as the API's ids, the first page holds one event; and the second page serves that same
    // record again after the listing had moved on to older ones. An API doing that is looping
    // or ignoring the cursor: Sluice keeps the first page, refuses the second naming the
    // record, and fails the run.
    let Some(dir) = fixtures("atlassian/event_audit") else {
        return;
    };
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
    };
    let pages = [read("001.json"), read("002.json")];
    let first = pages[0]["data"][0].clone();
    let read = read_pages(
        pages.iter().map(|p| p.to_string()).collect(),
        atlassian_source,
        "",
        ("ATLASSIAN_API_KEY", "fixture-key"),
        "atlassian",
    )
    .await;
    let text = read.text;
    assert_eq!(read.code, Some(1), "{text}");
    assert!(
        text.contains("the API repeats pages") && text.contains("`test_id`"),
        "{text}"
    );
    let stored = read.stored;
    assert_eq!(stored.len(), 1, "the first page is kept: {stored:?}");
    assert_eq!(stored[0]["data"], first);
    assert_eq!(stored[0]["event_id"], "test_id");
    assert_eq!(stored[0]["event_time"], "2022-05-12T19:13:13.000Z");
    let requests = read.requests;
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(requests[0].starts_with(&format!(
        "/admin/v1/orgs/{}/events?",
        sluice::simulator::atlassian::ORG_ID
    )));
    assert!(requests[0].contains("from=") && requests[0].contains("to="));
    assert!(
        requests[1].contains("cursor=CURSOR_VAULE"),
        "the second page is asked with meta.next: {requests:?}"
    );
    assert!(read
        .authorizations
        .iter()
        .all(|a| a == "Bearer fixture-key"));
}

/// What one run of a preset over recorded pages did.
struct FixtureRead {
    code: Option<i32>,
    text: String,
    stored: Vec<serde_json::Value>,
    requests: Vec<String>,
    bodies: Vec<String>,
    authorizations: Vec<String>,
}

/// Serves `pages` (response bodies) in order to the preset source `source` builds for the
/// server's URL, plus `extra` lines, reaching back far enough for the fixtures' old events,
/// and runs it once with the credential `env`; reads back the lake of source `lake`.
async fn read_pages(
    pages: Vec<String>,
    source: impl Fn(&str) -> String,
    extra: &str,
    env: (&str, &str),
    lake: &str,
) -> FixtureRead {
    let server =
        common::fixture_server::serve(pages.into_iter().map(|page| (page, None)).collect()).await;
    let work = tempfile::tempdir().unwrap();
    let source = format!(
        "{}{extra}window = {{ lookback = \"20000d\", max_window = \"20000d\" }}\n",
        source(&server.base_url)
    );
    let config = write_config(work.path(), &source);
    let out = sluice()
        .args(["run", "--once", "--config", config.to_str().unwrap()])
        .env(env.0, env.1)
        .output()
        .await
        .unwrap();
    FixtureRead {
        code: out.status.code(),
        text: output_text(&out),
        stored: common::lake::envelopes(&work.path().join("lake"), lake),
        requests: server.requests().await,
        bodies: server.bodies().await,
        authorizations: server.authorizations().await,
    }
}

/// The 1Password preset limited to `stream`, over grove's `pages` of that stream in `dir`.
async fn read_onepassword_pages(dir: &Path, stream: &str, pages: &[&str]) -> FixtureRead {
    let pages = pages
        .iter()
        .map(|name| std::fs::read_to_string(dir.join(name)).unwrap())
        .collect();
    let extra = format!("streams = [\"{stream}\"]\n");
    let lake = format!("onepassword-{stream}");
    let env = ("OP_EVENTS_TOKEN", "fixture-token");
    read_pages(pages, onepassword_source, &extra, env, &lake).await
}

/// The body of request `n`, parsed.
fn body(read: &FixtureRead, n: usize) -> serde_json::Value {
    serde_json::from_str(&read.bodies[n]).expect("Sluice sends JSON bodies")
}

fn page_items(dir: &Path, name: &str) -> Vec<serde_json::Value> {
    let page: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn onepassword_preset_reads_real_shaped_pages() {
    // Grove's 1Password pages, three per endpoint: 001 a whole listing (`has_more: false`),
    // 002 then 003 a listing of two pages. Their quirks: times carry a -03:00 offset (stored
    // as UTC); ids are placeholders, so one `uuid` stands for several items (audit 001 has
    // three items with one id, item usages 001 two with another): read as the API's ids they
    // are one event each, and the first is kept; every page names the same cursor; and audit
    // 003 serves exactly 002's record again, which is an API ignoring its cursor: Sluice keeps
    // the first page and fails the run naming `next_body`'s cursor field.
    let Some(root) = fixtures("onepassword") else {
        return;
    };
    let utc = |t: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap())
            .unwrap()
            .to_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    for (dir, stream) in [
        ("events_audit", "auditevents"),
        ("events_itemusages", "itemusages"),
        ("events_signinattempts", "signinattempts"),
    ] {
        let dir = root.join(dir);
        for pages in [&["001.json"][..], &["002.json", "003.json"][..]] {
            let read = read_onepassword_pages(&dir, stream, pages).await;
            let what = format!("{stream} {pages:?}: {}", read.text);
            let items: Vec<serde_json::Value> =
                pages.iter().flat_map(|p| page_items(&dir, p)).collect();
            // The first item of each uuid, in order.
            let mut seen = std::collections::HashSet::new();
            let mut expected: Vec<serde_json::Value> = items
                .iter()
                .filter(|item| seen.insert(item["uuid"].clone()))
                .cloned()
                .collect();
            if stream == "auditevents" && pages.len() == 2 {
                assert_eq!(read.code, Some(1), "{what}");
                assert!(
                    read.text.contains("the API repeats pages")
                        && read.text.contains("`next_body`"),
                    "{what}"
                );
                expected.truncate(1);
            } else {
                assert_eq!(read.code, Some(0), "{what}");
            }
            if pages.len() == 1 && stream != "signinattempts" {
                assert!(
                    expected.len() < items.len(),
                    "the page repeats a uuid: {what}"
                );
            }
            assert_eq!(read.stored.len(), expected.len(), "{what}");
            for (event, item) in read.stored.iter().zip(&expected) {
                assert_eq!(event["data"], *item, "stored as served: {what}");
                assert_eq!(event["event_id"], item["uuid"]);
                assert_eq!(event["event_time"], utc(&item["timestamp"]), "{what}");
            }
            let path = format!("/api/v1/{stream}");
            assert_eq!(read.requests.len(), pages.len(), "{what}");
            assert!(
                read.requests.iter().all(|r| *r == path),
                "{:?}",
                read.requests
            );
            let first = body(&read, 0);
            let first = first.as_object().unwrap();
            let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(
                keys,
                ["end_time", "limit", "start_time"],
                "a reset cursor first"
            );
            assert_eq!(first["limit"], 1000);
            if pages.len() == 2 {
                let cursor = serde_json::from_str::<serde_json::Value>(
                    &std::fs::read_to_string(dir.join(pages[0])).unwrap(),
                )
                .unwrap()["cursor"]
                    .clone();
                assert_eq!(
                    body(&read, 1),
                    serde_json::json!({ "cursor": cursor }),
                    "then only the cursor of the page before"
                );
            }
            assert!(read
                .authorizations
                .iter()
                .all(|a| a == "Bearer fixture-token"));
        }
    }
}

#[path = "presets/asana.rs"]
mod asana;
#[path = "presets/auth0.rs"]
mod auth0;
#[path = "presets/box.rs"]
mod r#box;
#[path = "presets/cloudflare.rs"]
mod cloudflare;
#[path = "presets/dropbox.rs"]
mod dropbox;
#[path = "presets/duo.rs"]
mod duo;
#[path = "presets/entra.rs"]
mod entra;
#[path = "presets/google_workspace.rs"]
mod google_workspace;
#[path = "presets/jira.rs"]
mod jira;
#[path = "presets/kandji.rs"]
mod kandji;
#[path = "presets/lastpass.rs"]
mod lastpass;
#[path = "presets/late_events.rs"]
mod late_events;
#[path = "presets/launchdarkly.rs"]
mod launchdarkly;
#[path = "presets/matrix.rs"]
mod matrix;
#[path = "presets/pagerduty.rs"]
mod pagerduty;
#[path = "presets/salesforce.rs"]
mod salesforce;
#[path = "presets/sentinelone.rs"]
mod sentinelone;
#[path = "presets/snyk.rs"]
mod snyk;
#[path = "presets/stripe.rs"]
mod stripe;
#[path = "presets/tailscale.rs"]
mod tailscale;
#[path = "presets/tfc.rs"]
mod tfc;
#[path = "presets/tines.rs"]
mod tines;
#[path = "presets/vicarius.rs"]
mod vicarius;
#[path = "presets/workday.rs"]
mod workday;
#[path = "presets/zendesk.rs"]
mod zendesk;
#[path = "presets/zoom.rs"]
mod zoom;
