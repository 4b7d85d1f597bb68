//! Late events through every preset: each vendor profile publishes a share of its events a
//! few seconds after their time, while runs keep pulling; the preset's window settings, with
//! the settle delay shortened to fit a test, must still deliver every event exactly once.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{SubsecRound, TimeDelta, Utc};
use sluice::simulator::{Faults, LateEvents, SimulatorConfig, Vendor};

use super::common::{output_text, sluice, start_simulator};
use super::{
    atlassian_source, github_source, okta_source, onepassword_lakes, onepassword_source,
    slack_source, write_config,
};

/// The latest an event is published after its time.
const MAX_LATENESS: Duration = Duration::from_secs(3);
/// The settle delay the test gives the preset (its own are minutes): longer than the
/// lateness, so nothing may be missed.
const SETTLE: Duration = Duration::from_secs(4);

/// Runs the preset source `source` against `sim_config` with events from 8 s ago to 12 s
/// from now, a fifth of them published up to [`MAX_LATENESS`] late, and light faults, once
/// a second until every event is published and settled, then once more. Each source's lake
/// must hold exactly its ids.
async fn exact_through_late_events(
    sim_config: SimulatorConfig,
    source: impl Fn(&str) -> String,
    envs: [(&str, &str); 1],
    lakes: impl Fn(&SimulatorConfig) -> Vec<(String, HashSet<String>)>,
) {
    let settle = format!(
        "window = {{ settle_delay = \"{}s\", overlap = \"0s\", lookback = \"1h\" }}\n",
        SETTLE.as_secs()
    );
    pull_while_late_events_arrive(sim_config, source, envs, lakes, &settle).await;
}

/// As [`exact_through_late_events`], with `window` (TOML lines) added to the source: a
/// preset listing by position has no settle delay or lookback to shorten.
async fn pull_while_late_events_arrive(
    mut sim_config: SimulatorConfig,
    source: impl Fn(&str) -> String,
    envs: [(&str, &str); 1],
    lakes: impl Fn(&SimulatorConfig) -> Vec<(String, HashSet<String>)>,
    window: &str,
) {
    let anchor = (Utc::now() + TimeDelta::seconds(12)).trunc_subsecs(3);
    sim_config.anchor = anchor;
    sim_config.span = Duration::from_secs(20);
    sim_config.late = LateEvents {
        fraction: 0.2,
        max_delay: MAX_LATENESS,
    };
    // An API's fixed buffer (Duo's two minutes) is shortened to fit the test, like the
    // settle delay that covers it.
    sim_config.publication_delay = Duration::ZERO;
    sim_config.faults = Faults {
        rate_429: 0.03,
        rate_5xx: 0.03,
        seed: Some(7),
        ..Faults::default()
    };
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &(source(&sim.base_url()) + window));
    let config = config_path.to_str().unwrap();

    // Salesforce lists event log files by their creation, up to two file intervals after
    // their rows are published (the generation ends, then each type's file a little later):
    // the last late row is listed only once its file exists and has settled.
    let file_lag = match sim_config.vendor {
        Vendor::SalesforceEventLog => 2 * sim_config.log_file_interval,
        _ => Duration::ZERO,
    };
    let settled = anchor
        + TimeDelta::from_std(SETTLE + MAX_LATENESS + file_lag + Duration::from_secs(1)).unwrap();
    let give_up = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut runs = 0;
    loop {
        let last = Utc::now() > settled;
        let run = sluice()
            .args(["run", "--once", "--config", config])
            .envs(envs)
            .output()
            .await
            .expect("sluice runs");
        assert_eq!(
            run.status.code(),
            Some(0),
            "run {runs}: {}",
            output_text(&run)
        );
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
        "only {runs} runs: the test did not pull while events arrived"
    );
    let stats = sim.stats();
    assert!(
        stats.late_events_served > 0,
        "the runs met no late event: {stats:?}"
    );
    let lake = dir.path().join("lake");
    // Some vendors' ids hold the event time, so they are computed for the final anchor.
    for (name, expected) in &lakes(&sim_config) {
        super::common::lake::check_local(&lake, name, &sim_config).assert_holds_exactly(
            expected,
            &format!("lake of `{name}` differs from the simulator"),
        );
    }
    sim.shutdown().await;
}

/// The lake of the single source `name`, holding every event.
fn every_event(name: &'static str) -> impl Fn(&SimulatorConfig) -> Vec<(String, HashSet<String>)> {
    move |sim_config| {
        let ids = sluice::simulator::event_ids(sim_config)
            .into_iter()
            .collect();
        vec![(name.to_string(), ids)]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_preset_is_exact_through_late_events() {
    let sim_config = SimulatorConfig::okta(1_500);
    let lakes = every_event("okta");
    exact_through_late_events(
        sim_config,
        okta_source,
        [("OKTA_TOKEN", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_preset_is_exact_through_late_events() {
    let sim_config = SimulatorConfig::github(1_500);
    let lakes = every_event("github");
    exact_through_late_events(
        sim_config,
        github_source,
        [("GITHUB_TOKEN", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_preset_is_exact_through_late_events() {
    let sim_config = SimulatorConfig::slack(1_500);
    let lakes = every_event("slack");
    exact_through_late_events(
        sim_config,
        slack_source,
        [("SLACK_TOKEN", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atlassian_preset_is_exact_through_late_events() {
    let sim_config = SimulatorConfig::atlassian(1_500);
    let lakes = every_event("atlassian");
    exact_through_late_events(
        sim_config,
        atlassian_source,
        [("ATLASSIAN_API_KEY", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onepassword_preset_is_exact_per_stream_through_late_events() {
    let sim_config = SimulatorConfig::onepassword(1_500);
    let lakes = onepassword_lakes;
    exact_through_late_events(
        sim_config,
        onepassword_source,
        [("OP_EVENTS_TOKEN", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duo_preset_is_exact_per_log_through_late_events() {
    let sim_config = SimulatorConfig::duo(1_500);
    let lakes = super::duo::lakes;
    exact_through_late_events(
        sim_config,
        super::duo::duo_source,
        [("DUO_SECRET_KEY", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_preset_is_exact_per_log_through_late_events() {
    let sim_config = SimulatorConfig::entra(1_500);
    let lakes = super::entra::lakes;
    exact_through_late_events(
        sim_config,
        super::entra::entra_secret_source,
        [("ENTRA_CLIENT_SECRET", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_preset_is_exact_through_late_events() {
    let sim_config = SimulatorConfig::pagerduty(1_500);
    let lakes = every_event("pagerduty");
    exact_through_late_events(
        sim_config,
        super::pagerduty::pagerduty_source,
        [("PAGERDUTY_TOKEN", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tailscale_preset_is_exact_per_log_through_late_events() {
    exact_through_late_events(
        SimulatorConfig::tailscale(1_500),
        super::tailscale::tailscale_source,
        [("TAILSCALE_CLIENT_SECRET", "sim-token")],
        super::tailscale::lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_preset_is_exact_per_product_through_late_events() {
    exact_through_late_events(
        SimulatorConfig::jira(1_500),
        super::jira::jira_source,
        [("ATLASSIAN_API_TOKEN", "sim-token")],
        super::jira::lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudflare_preset_is_exact_through_late_events() {
    let sim_config = SimulatorConfig::cloudflare(1_500);
    let lakes = every_event("cloudflare");
    exact_through_late_events(
        sim_config,
        super::cloudflare::cloudflare_source,
        [("CLOUDFLARE_API_TOKEN", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinelone_preset_is_exact_through_late_events() {
    let sim_config = SimulatorConfig::sentinelone(1_500);
    let lakes = every_event("sentinelone");
    exact_through_late_events(
        sim_config,
        super::sentinelone::sentinelone_source,
        [("SENTINELONE_API_TOKEN", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vicarius_preset_is_exact_through_late_events() {
    let sim_config = SimulatorConfig::vicarius(1_500);
    let lakes = every_event("vicarius");
    exact_through_late_events(
        sim_config,
        super::vicarius::vicarius_source,
        [("VICARIUS_TOKEN", "sim-token")],
        lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snyk_preset_is_exact_through_late_events() {
    exact_through_late_events(
        SimulatorConfig::snyk(1_500),
        super::snyk::snyk_source,
        [("SNYK_TOKEN", "sim-token")],
        super::snyk::org_lake,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workday_preset_is_exact_through_late_events() {
    exact_through_late_events(
        SimulatorConfig::workday(1_500),
        super::workday::workday_source,
        [("WORKDAY_REFRESH_TOKEN", "sim-token")],
        super::workday::lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_workspace_preset_is_exact_per_application_through_late_events() {
    use sluice::simulator::google_workspace::{stream_ids, APPLICATIONS};
    let keys = tempfile::tempdir().unwrap();
    let lakes = |sim_config: &SimulatorConfig| {
        APPLICATIONS
            .iter()
            .map(|app| {
                let ids = stream_ids(sim_config, app).into_iter().collect();
                (format!("google_workspace-{app}"), ids)
            })
            .collect()
    };
    exact_through_late_events(
        SimulatorConfig::google_workspace(1_500),
        |base| super::google_workspace::source(keys.path(), base, base),
        // The key is a file; nothing needs the environment.
        [("SLUICE_TEST_GOOGLE", "unused")],
        lakes,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropbox_preset_is_exact_through_late_events() {
    exact_through_late_events(
        SimulatorConfig::dropbox(1_500),
        super::dropbox::dropbox_source,
        [("DROPBOX_REFRESH_TOKEN", "sim-token")],
        super::dropbox::lakes,
    )
    .await;
}

/// Auth0 lists by position: a late log gets a log id after the ones already served, so the
/// next run's listing from the saved position finds it; nothing to settle, nothing re-read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth0_preset_is_exact_through_late_events() {
    pull_while_late_events_arrive(
        SimulatorConfig::auth0(1_500),
        super::auth0::auth0_source,
        [("AUTH0_CLIENT_SECRET", "sim-token")],
        every_event("auth0"),
        "",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn box_preset_is_exact_through_late_events() {
    exact_through_late_events(
        SimulatorConfig::r#box(1_500),
        super::r#box::box_source,
        [("BOX_CLIENT_SECRET", "sim-token")],
        every_event("box"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_preset_is_exact_through_late_events() {
    exact_through_late_events(
        SimulatorConfig::zendesk(1_500),
        super::zendesk::zendesk_source,
        [("ZENDESK_API_TOKEN", "sim-token")],
        every_event("zendesk"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoom_preset_lists_a_day_only_once_it_has_settled() {
    // Zoom's reports take whole days, so the shared harness (events from 8 s ago to 12 s
    // ahead, a 4 s settle delay) cannot apply: no request can ask for part of today. Instead
    // events run from yesterday into the next seconds, a fifth of them published late, and
    // runs with the preset's own window settings must deliver exactly the events of the days
    // that ended the settle delay (an hour) ago, and nothing of the day still open, however
    // much of it the API already serves.
    let mut sim_config = SimulatorConfig::zoom(3_000);
    sim_config.anchor = (Utc::now() + TimeDelta::seconds(12)).trunc_subsecs(3);
    sim_config.span = Duration::from_secs(36 * 3600);
    sim_config.late = LateEvents {
        fraction: 0.2,
        max_delay: MAX_LATENESS,
    };
    sim_config.faults = Faults {
        rate_429: 0.03,
        rate_5xx: 0.03,
        seed: Some(7),
        ..Faults::default()
    };
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &super::zoom::zoom_source(&sim.base_url()));
    let config = config_path.to_str().unwrap();
    for run in 0..3 {
        let out = sluice()
            .args(["run", "--once", "--config", config])
            .env("ZOOM_CLIENT_SECRET", "sim-token")
            .output()
            .await
            .expect("sluice runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "run {run}: {}",
            output_text(&out)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // The last midnight at least an hour ago.
    let settled = (Utc::now() - TimeDelta::hours(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let open_day = (0..sim_config.events)
        .filter(|i| sluice::simulator::event_time(&sim_config, *i) >= settled)
        .count();
    assert!(open_day > 0, "some events lie in the day still open");
    for (name, stream) in [
        (
            "zoom-operation_logs",
            sluice::simulator::zoom::Stream::OperationLogs,
        ),
        (
            "zoom-activities",
            sluice::simulator::zoom::Stream::Activities,
        ),
    ] {
        let expected: HashSet<String> = (0..sim_config.events)
            .filter(|i| sluice::simulator::zoom::Stream::of(*i) == stream)
            .filter(|i| sluice::simulator::event_time(&sim_config, *i) < settled)
            .map(|i| sluice::simulator::event_id(&sim_config, i))
            .collect();
        super::common::lake::check_local(&dir.path().join("lake"), name, &sim_config)
            .assert_holds_exactly(&expected, &format!("lake of `{name}`: settled days only"));
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tfc_preset_is_exact_through_late_events() {
    // Newest first with no upper bound: a late event lands below the top of the listing and
    // pushes the older ones down a page while a run counts pages.
    exact_through_late_events(
        SimulatorConfig::tfc(1_500),
        super::tfc::tfc_source,
        [("TFC_TOKEN", "sim-token")],
        every_event("tfc"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tines_preset_is_exact_through_late_events() {
    exact_through_late_events(
        SimulatorConfig::tines(1_500),
        super::tines::tines_source,
        [("TINES_API_KEY", "sim-token")],
        every_event("tines"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kandji_preset_is_exact_through_late_events() {
    // Oldest first through cursors: a late event lands behind a listing that moved past it,
    // and only a later listing of its window finds it.
    exact_through_late_events(
        SimulatorConfig::kandji(1_500),
        super::kandji::kandji_source,
        [("KANDJI_TOKEN", "sim-token")],
        every_event("kandji"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launchdarkly_preset_is_exact_through_late_events() {
    // Newest first in pages of 20 through `_links.next.href`: a late entry lands above a
    // listing that moved past it, and only a later listing of its window finds it.
    exact_through_late_events(
        SimulatorConfig::launchdarkly(1_500),
        super::launchdarkly::launchdarkly_source,
        [("LAUNCHDARKLY_TOKEN", "sim-token")],
        every_event("launchdarkly"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_preset_is_exact_through_late_events() {
    // Oldest first through query locators that snapshot the query: a record published late
    // is not in a locator's later batches, only in a later listing of its window.
    exact_through_late_events(
        SimulatorConfig::salesforce(1_500),
        super::salesforce::salesforce_source,
        [("SALESFORCE_CLIENT_SECRET", "sim-token")],
        every_event("salesforce"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_event_log_preset_is_exact_through_late_events() {
    // Files generated every second: a row published late lands in a later file of its type
    // and hour (a higher Sequence, a later CreatedDate), listed by a later window.
    let sim_config = SimulatorConfig {
        log_file_interval: Duration::from_secs(1),
        ..SimulatorConfig::salesforce_event_log(1_500)
    };
    exact_through_late_events(
        sim_config,
        super::salesforce::salesforce_event_log_source,
        [("SALESFORCE_CLIENT_SECRET", "sim-token")],
        every_event("salesforce_event_log"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lastpass_preset_is_exact_through_late_events() {
    // Newest first through `next` times: a report's later pages never return above where
    // they are, so an event published late is found by the overlap of a later window.
    exact_through_late_events(
        SimulatorConfig::lastpass(1_500),
        super::lastpass::lastpass_source,
        [("LASTPASS_PROVHASH", "sim-token")],
        every_event("lastpass"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asana_preset_is_exact_through_late_events() {
    exact_through_late_events(
        SimulatorConfig::asana(1_500),
        super::asana::asana_source,
        [("ASANA_TOKEN", "sim-token")],
        every_event("asana"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_preset_is_exact_through_late_events() {
    exact_through_late_events(
        SimulatorConfig::stripe(1_500),
        super::stripe::stripe_source,
        [("STRIPE_API_KEY", "sim-token")],
        every_event("stripe"),
    )
    .await;
}
