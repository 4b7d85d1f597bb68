//! One table of every built-in connector: each preset, configured as its docs page shows, runs
//! once against its vendor's simulator profile and must deliver exactly that profile's
//! events, source by source. A change to the engine is so checked against every vendor at
//! once; the per-preset tests beside this one add faults, `kill -9`, late events and the
//! vendor's real-shaped pages.

use std::collections::HashSet;
use std::path::Path;

use sluice::simulator::{google_workspace, SimulatorConfig};

use super::common::{output_text, sluice, start_simulator};
use super::write_config;

/// The sources a preset expands into, each with the ids its lake must hold.
type Lakes = Vec<(String, HashSet<String>)>;

/// One row: a preset and how to run it against its profile.
struct Row {
    /// The preset's name (`connector = "..."`).
    preset: &'static str,
    /// The profile, with the events a single run right after start can list.
    sim: fn() -> SimulatorConfig,
    /// The `[[sources]]` table, as the docs page shows it, for a simulator at the URL; the
    /// directory is for files the preset reads (a key file).
    source: fn(&Path, &str) -> String,
    /// The credential the source reads from the environment.
    env: (&'static str, &'static str),
    /// Each source's expected ids.
    lakes: fn(&SimulatorConfig) -> Lakes,
}

/// Every event of the profile, in the one source named `name`.
fn one_lake(name: &str, sim: &SimulatorConfig) -> Lakes {
    let ids = sluice::simulator::event_ids(sim).into_iter().collect();
    vec![(name.to_string(), ids)]
}

const EVENTS: u64 = 600;

/// Every preset. `every_preset_is_in_the_matrix` fails when one is missing.
const MATRIX: &[Row] = &[
    Row {
        preset: "asana",
        sim: || SimulatorConfig::asana(EVENTS),
        source: |_, url| super::asana::asana_source(url),
        env: ("ASANA_TOKEN", "sim-token"),
        lakes: |sim| one_lake("asana", sim),
    },
    Row {
        preset: "atlassian",
        sim: || SimulatorConfig::atlassian(EVENTS),
        source: |_, url| super::atlassian_source(url),
        env: ("ATLASSIAN_API_KEY", "sim-token"),
        lakes: |sim| one_lake("atlassian", sim),
    },
    Row {
        preset: "auth0",
        sim: || SimulatorConfig::auth0(EVENTS),
        source: |_, url| super::auth0::auth0_source(url),
        env: ("AUTH0_CLIENT_SECRET", "sim-token"),
        lakes: |sim| one_lake("auth0", sim),
    },
    Row {
        preset: "box",
        sim: || SimulatorConfig::r#box(EVENTS),
        source: |_, url| super::r#box::box_source(url),
        env: ("BOX_CLIENT_SECRET", "sim-token"),
        lakes: |sim| one_lake("box", sim),
    },
    Row {
        preset: "cloudflare",
        sim: || SimulatorConfig::cloudflare(EVENTS),
        source: |_, url| super::cloudflare::cloudflare_source(url),
        env: ("CLOUDFLARE_API_TOKEN", "sim-token"),
        lakes: |sim| one_lake("cloudflare", sim),
    },
    Row {
        preset: "dropbox",
        sim: || SimulatorConfig::dropbox(EVENTS),
        source: |_, url| super::dropbox::dropbox_source(url),
        env: ("DROPBOX_REFRESH_TOKEN", "sim-token"),
        lakes: super::dropbox::lakes,
    },
    Row {
        preset: "duo",
        sim: || SimulatorConfig::duo(EVENTS),
        source: |_, url| super::duo::duo_source(url),
        env: ("DUO_SECRET_KEY", "sim-token"),
        lakes: super::duo::lakes,
    },
    Row {
        preset: "entra",
        sim: || SimulatorConfig::entra(EVENTS),
        source: |_, url| super::entra::entra_secret_source(url),
        env: ("ENTRA_CLIENT_SECRET", "sim-token"),
        lakes: super::entra::lakes,
    },
    Row {
        preset: "github",
        sim: || SimulatorConfig::github(EVENTS),
        source: |_, url| super::github_source(url),
        env: ("GITHUB_TOKEN", "sim-token"),
        lakes: |sim| one_lake("github", sim),
    },
    Row {
        preset: "github_enterprise",
        sim: || SimulatorConfig::github(EVENTS),
        source: |_, url| {
            super::github_source(url)
                .replace(
                    "connector = \"github\"",
                    "connector = \"github_enterprise\"",
                )
                .replace("org = \"acme\"", "enterprise = \"acme\"")
        },
        env: ("GITHUB_TOKEN", "sim-token"),
        // The table keeps the source's name, `github`.
        lakes: |sim| one_lake("github", sim),
    },
    Row {
        preset: "google_workspace",
        sim: || {
            let mut sim = SimulatorConfig::google_workspace(EVENTS);
            // Older than the longest settle delay (Cloud Search's 4 h).
            sim.anchor -= chrono::TimeDelta::hours(5);
            sim
        },
        source: |dir, url| super::google_workspace::source(dir, url, url),
        env: ("SLUICE_TEST_GOOGLE", "unused"),
        lakes: |sim| {
            google_workspace::APPLICATIONS
                .iter()
                .map(|app| {
                    let ids = google_workspace::stream_ids(sim, app).into_iter().collect();
                    (format!("google_workspace-{app}"), ids)
                })
                .collect()
        },
    },
    Row {
        preset: "jira",
        sim: || SimulatorConfig::jira(EVENTS),
        source: |_, url| super::jira::jira_source(url),
        env: ("ATLASSIAN_API_TOKEN", "sim-token"),
        lakes: super::jira::lakes,
    },
    Row {
        preset: "kandji",
        sim: || SimulatorConfig::kandji(EVENTS),
        source: |_, url| super::kandji::kandji_source(url),
        env: ("KANDJI_TOKEN", "sim-token"),
        lakes: |sim| one_lake("kandji", sim),
    },
    Row {
        preset: "lastpass",
        sim: || SimulatorConfig::lastpass(EVENTS),
        source: |_, url| super::lastpass::lastpass_source(url),
        env: ("LASTPASS_PROVHASH", "sim-token"),
        lakes: |sim| one_lake("lastpass", sim),
    },
    Row {
        preset: "launchdarkly",
        sim: || SimulatorConfig::launchdarkly(EVENTS),
        source: |_, url| super::launchdarkly::launchdarkly_source(url),
        env: ("LAUNCHDARKLY_TOKEN", "sim-token"),
        lakes: |sim| one_lake("launchdarkly", sim),
    },
    Row {
        preset: "okta",
        sim: || SimulatorConfig::okta(EVENTS),
        source: |_, url| super::okta_source(url),
        env: ("OKTA_TOKEN", "sim-token"),
        lakes: |sim| one_lake("okta", sim),
    },
    Row {
        preset: "onepassword",
        sim: || SimulatorConfig::onepassword(EVENTS),
        source: |_, url| super::onepassword_source(url),
        env: ("OP_EVENTS_TOKEN", "sim-token"),
        lakes: super::onepassword_lakes,
    },
    Row {
        preset: "pagerduty",
        sim: || SimulatorConfig::pagerduty(EVENTS),
        source: |_, url| super::pagerduty::pagerduty_source(url),
        env: ("PAGERDUTY_TOKEN", "sim-token"),
        lakes: |sim| one_lake("pagerduty", sim),
    },
    Row {
        preset: "salesforce",
        sim: || SimulatorConfig::salesforce(EVENTS),
        source: |_, url| super::salesforce::salesforce_source(url),
        env: ("SALESFORCE_CLIENT_SECRET", "sim-token"),
        lakes: |sim| one_lake("salesforce", sim),
    },
    Row {
        preset: "salesforce_event_log",
        sim: || SimulatorConfig::salesforce_event_log(EVENTS),
        source: |_, url| super::salesforce::salesforce_event_log_source(url),
        env: ("SALESFORCE_CLIENT_SECRET", "sim-token"),
        lakes: |sim| one_lake("salesforce_event_log", sim),
    },
    Row {
        preset: "sentinelone",
        sim: || SimulatorConfig::sentinelone(EVENTS),
        source: |_, url| super::sentinelone::sentinelone_source(url),
        env: ("SENTINELONE_API_TOKEN", "sim-token"),
        lakes: |sim| one_lake("sentinelone", sim),
    },
    Row {
        preset: "slack",
        sim: || SimulatorConfig::slack(EVENTS),
        source: |_, url| super::slack_source(url),
        env: ("SLACK_TOKEN", "sim-token"),
        lakes: |sim| one_lake("slack", sim),
    },
    Row {
        preset: "snyk",
        sim: || SimulatorConfig::snyk(EVENTS),
        source: |_, url| super::snyk::snyk_source(url),
        env: ("SNYK_TOKEN", "sim-token"),
        lakes: super::snyk::org_lake,
    },
    Row {
        preset: "snyk_group",
        sim: || SimulatorConfig::snyk(EVENTS),
        source: |_, url| super::snyk::snyk_group_source(url),
        env: ("SNYK_TOKEN", "sim-token"),
        lakes: |sim| one_lake("snyk_group", sim),
    },
    Row {
        preset: "stripe",
        sim: || SimulatorConfig::stripe(EVENTS),
        source: |_, url| super::stripe::stripe_source(url),
        env: ("STRIPE_API_KEY", "sim-token"),
        lakes: |sim| one_lake("stripe", sim),
    },
    Row {
        preset: "tailscale",
        sim: || SimulatorConfig::tailscale(EVENTS),
        source: |_, url| super::tailscale::tailscale_source(url),
        env: ("TAILSCALE_CLIENT_SECRET", "sim-token"),
        lakes: super::tailscale::lakes,
    },
    Row {
        preset: "tfc",
        sim: || SimulatorConfig::tfc(EVENTS),
        source: |_, url| super::tfc::tfc_source(url),
        env: ("TFC_TOKEN", "sim-token"),
        lakes: |sim| one_lake("tfc", sim),
    },
    Row {
        preset: "tines",
        sim: || SimulatorConfig::tines(EVENTS),
        source: |_, url| super::tines::tines_source(url),
        env: ("TINES_API_KEY", "sim-token"),
        lakes: |sim| one_lake("tines", sim),
    },
    Row {
        preset: "vicarius",
        sim: || SimulatorConfig::vicarius(EVENTS),
        source: |_, url| super::vicarius::vicarius_source(url),
        env: ("VICARIUS_TOKEN", "sim-token"),
        lakes: |sim| one_lake("vicarius", sim),
    },
    Row {
        preset: "workday",
        sim: || SimulatorConfig::workday(EVENTS),
        source: |_, url| super::workday::workday_source(url),
        env: ("WORKDAY_REFRESH_TOKEN", "sim-token"),
        lakes: super::workday::lakes,
    },
    Row {
        preset: "zendesk",
        sim: || SimulatorConfig::zendesk(EVENTS),
        source: |_, url| super::zendesk::zendesk_source(url),
        env: ("ZENDESK_API_TOKEN", "sim-token"),
        lakes: |sim| one_lake("zendesk", sim),
    },
    Row {
        preset: "zoom",
        sim: || SimulatorConfig::zoom(EVENTS),
        source: |_, url| super::zoom::zoom_source(url),
        env: ("ZOOM_CLIENT_SECRET", "sim-token"),
        lakes: super::zoom::lakes,
    },
];

#[test]
fn every_preset_is_in_the_matrix() {
    let listed: Vec<&str> = MATRIX.iter().map(|row| row.preset).collect();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(listed, sorted, "one row per preset, in name order");
    let presets: Vec<&str> = sluice::preset::names();
    let missing: Vec<&&str> = presets.iter().filter(|p| !listed.contains(p)).collect();
    let unknown: Vec<&&str> = listed.iter().filter(|p| !presets.contains(p)).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "presets without a row in tests/it/presets/matrix.rs: {missing:?}; rows naming no preset: {unknown:?}"
    );
}

/// Runs `row`'s preset once against its profile; returns what went wrong, if anything.
async fn check(row: &Row) -> Result<(), String> {
    let sim_config = (row.sim)();
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = write_config(dir.path(), &(row.source)(dir.path(), &sim.base_url()));
    let out = sluice()
        .args([
            "run",
            "--once",
            "--config",
            config.to_str().unwrap_or_default(),
        ])
        .env(row.env.0, row.env.1)
        .output()
        .await
        .map_err(|e| e.to_string())?;
    let stats = sim.stats();
    sim.shutdown().await;
    if out.status.code() != Some(0) {
        return Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            output_text(&out)
        ));
    }
    if stats.bad_requests != 0 {
        return Err(format!(
            "{} requests the vendor would refuse",
            stats.bad_requests
        ));
    }
    for (source, expected) in (row.lakes)(&sim_config) {
        let held = sluice::sink::lake::read_lake(&dir.path().join("lake"), &source)
            .map_err(|e| format!("{source}: lake unreadable: {e}"))?;
        let ids: HashSet<String> = held.event_ids.iter().cloned().collect();
        if ids.len() != held.event_ids.len() {
            return Err(format!("{source}: an event is in the lake twice"));
        }
        if ids != expected {
            let missing = expected.difference(&ids).count();
            let extra = ids.difference(&expected).count();
            return Err(format!(
                "{source}: {missing} of {} events missing, {extra} not of this source",
                expected.len()
            ));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_preset_delivers_exactly_its_profiles_events() {
    // Rows run a few at a time: each is a process and a simulator.
    let mut failures = Vec::new();
    for rows in MATRIX.chunks(4) {
        let results = futures_util::future::join_all(rows.iter().map(check)).await;
        for (row, result) in rows.iter().zip(results) {
            if let Err(why) = result {
                failures.push(format!("{}: {why}", row.preset));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
