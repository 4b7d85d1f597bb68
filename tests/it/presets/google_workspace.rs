//! The Google Workspace preset, configured as docs/connectors/google_workspace.md says (a
//! service-account key file and the admin to act as), against the simulator's Reports API
//! and on grove's real-shaped `gsuite` pages.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sluice::simulator::google_workspace::{self, APPLICATIONS};
use sluice::simulator::SimulatorConfig;

use super::common::start_simulator;
use super::{exact_per_source_through_faults_and_kill_9, fixtures, preset_source, read_pages};

/// Writes the simulator's service-account key for the simulator at `base_url` to
/// `dir/key.json` and returns the `[[sources]]` table of the preset reading it: every default
/// stream, as the docs configure it.
pub(super) fn source(dir: &Path, base_url: &str, token_base: &str) -> String {
    let key = dir.join("key.json");
    std::fs::write(&key, google_workspace::service_account_json(token_base))
        .expect("temp dir is writable");
    let settings = format!(
        "credentials = \"${{file:{}}}\"\nsubject = \"{}\"",
        key.display(),
        google_workspace::ADMIN
    );
    preset_source("google_workspace", &settings, "base_url", base_url) + super::TEST_BUDGET
}

fn key_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_workspace_preset_is_exact_per_application_through_faults_and_kill_9() {
    let keys = key_dir();
    let mut sim_config = SimulatorConfig::google_workspace(6_000);
    // Small pages, so a run makes enough requests for faults and kills to land.
    sim_config.max_page_size = 60;
    // Every event older than the longest settle delay (Cloud Search's 4 h), so every stream
    // can list all of its events now.
    sim_config.anchor -= chrono::TimeDelta::hours(5);
    let lakes: Vec<(String, HashSet<String>)> = APPLICATIONS
        .iter()
        .map(|app| {
            let ids = google_workspace::stream_ids(&sim_config, app)
                .into_iter()
                .collect();
            (format!("google_workspace-{app}"), ids)
        })
        .collect();
    let sources = lakes.len();
    let (stats, runs) = exact_per_source_through_faults_and_kill_9(
        "google_workspace",
        sim_config,
        |base| source(keys.path(), base, base),
        // The key is a file; nothing needs the environment.
        [("SLUICE_TEST_GOOGLE", "unused")],
        lakes,
    )
    .await;
    // One service account, one token per process, shared by every stream: far fewer tokens
    // than streams times runs (a cache per source would take `sources` a run).
    eprintln!(
        "{} tokens issued for {sources} sources in {runs} runs",
        stats.tokens_issued
    );
    assert!(stats.tokens_issued >= 1);
    assert!(
        stats.tokens_issued <= 2 * runs as u64,
        "{} tokens for {runs} runs: the token is not shared by the streams",
        stats.tokens_issued
    );
    assert_eq!(
        stats.unauthorized, 0,
        "no request went without a valid token"
    );
    assert_eq!(
        stats.bad_requests, 0,
        "every request was one Google accepts"
    );
    assert!(
        stats.faults_429 > 0,
        "quota refusals (429 and 403) were waited out"
    );
}

/// The paths of grove's Google Workspace activity pages.
fn pages(dir: &Path, names: &[&str]) -> Vec<(PathBuf, serde_json::Value)> {
    names
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let page = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            (path, page)
        })
        .collect()
}

#[tokio::test]
async fn google_workspace_preset_reads_real_shaped_pages() {
    // Grove's `gsuite` activity pages, newest first as the API lists them: 001 names the next
    // page in `nextPageToken` ("AAAA"), 002 ends the listing without one. 003 is another
    // listing's last page. Their quirk: 002 and 003 hold two activities at the very same
    // millisecond, told apart only by `uniqueQualifier` (whose values are each other's
    // negation), which is why the preset keys on the whole `id` object.
    let Some(root) = fixtures("gsuite") else {
        return;
    };
    let dir = root.join("activities");
    // The token endpoint: the simulator's, so the assertion is really verified; the pages
    // come from the fixture server.
    let token_server = start_simulator(SimulatorConfig::google_workspace(0)).await;
    let keys = key_dir();
    let token_base = token_server.base_url();
    let make = |base: &str| source(keys.path(), base, &token_base);
    let extra = "streams = [\"admin\"]\n";
    let env = ("SLUICE_TEST_GOOGLE", "unused");

    let mut stored_ids = Vec::new();
    for names in [&["001.json", "002.json"][..], &["003.json"][..]] {
        let served = pages(&dir, names);
        let records: Vec<serde_json::Value> = served
            .iter()
            .flat_map(|(_, p)| p["items"].as_array().unwrap().clone())
            .collect();
        let read = read_pages(
            served.iter().map(|(_, p)| p.to_string()).collect(),
            make,
            extra,
            env,
            "google_workspace-admin",
        )
        .await;
        let what = format!("{names:?}: {}", read.text);
        assert_eq!(read.code, Some(0), "{what}");
        assert_eq!(read.stored.len(), records.len(), "{what}");
        for record in &records {
            let event = read
                .stored
                .iter()
                .find(|e| e["data"] == *record)
                .unwrap_or_else(|| panic!("{} is stored as served: {what}", record["id"]));
            // The id is the whole id object, canonical (keys sorted, no spaces).
            let id: serde_json::Value =
                serde_json::from_str(event["event_id"].as_str().unwrap()).unwrap();
            assert_eq!(id, record["id"], "{what}");
            assert_eq!(
                event["event_id"].as_str().unwrap(),
                record["id"].to_string(),
                "{what}"
            );
            assert_eq!(event["event_time"], record["id"]["time"], "{what}");
            stored_ids.push(event["event_id"].clone());
        }
        assert_eq!(
            read.requests.len(),
            names.len(),
            "{what}: {:?}",
            read.requests
        );
        let first = &read.requests[0];
        assert!(
            first.starts_with("/admin/reports/v1/activity/users/all/applications/admin?"),
            "{first}"
        );
        for part in ["startTime=", "endTime=", "maxResults=1000"] {
            assert!(first.contains(part), "{part} in {first}");
        }
        assert!(!first.contains("pageToken"), "{first}");
        if names.len() == 2 {
            assert!(
                read.requests[1].contains("pageToken=AAAA"),
                "the second page is asked with nextPageToken: {:?}",
                read.requests
            );
        }
        assert!(
            read.authorizations
                .iter()
                .all(|a| a.starts_with("Bearer ya29.")),
            "every page carries the access token the token endpoint issued: {:?}",
            read.authorizations
        );
    }
    // 002's and 003's activities share their time but not their id.
    assert_eq!(stored_ids.len(), 3);
    assert_eq!(
        stored_ids.iter().collect::<HashSet<_>>().len(),
        3,
        "{stored_ids:?}"
    );
    assert!(token_server.stats().tokens_issued >= 2, "one token a run");
    assert_eq!(token_server.stats().unauthorized, 0);
}
