//! The Microsoft Entra ID preset, configured as docs/connectors/entra.md shows (a certificate,
//! or a client secret), against the simulator's Entra profile: its token endpoint verifies
//! the client's proof, Graph checks the token and lists both logs newest first through
//! `@odata.nextLink`. (Grove has no Entra fixtures, so there is no real-shaped page test.)

use std::collections::HashSet;
use std::path::PathBuf;

use sluice::simulator::entra::{stream_ids, Stream, CLIENT_ID, TENANT_ID};
use sluice::simulator::SimulatorConfig;

use super::common::{output_text, sluice, start_simulator};
use super::{exact_per_source_through_faults_and_kill_9, preset_source, write_config, TEST_BUDGET};

/// The simulator's certificate, as a deployment keeps one: a file the config reads.
fn certificate_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crates/sluice-simulator/src/entra/sim_cert.pem")
}

/// Both logs of the Entra preset with the app's certificate (its key from the environment,
/// the certificate from a file), with both the identity platform and Graph pointed at the
/// test server.
fn entra_certificate_source(base_url: &str) -> String {
    let settings = format!(
        "tenant = \"{TENANT_ID}\"\nclient_id = \"{CLIENT_ID}\"\nprivate_key = \"${{env:ENTRA_PRIVATE_KEY}}\"\ncertificate = \"${{file:{}}}\"\nlogin_url = \"{base_url}\"",
        certificate_path().display()
    );
    preset_source("entra", &settings, "graph_url", base_url) + TEST_BUDGET
}

/// Both logs with the app's client secret.
pub(super) fn entra_secret_source(base_url: &str) -> String {
    let settings = format!(
        "tenant = \"{TENANT_ID}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"${{env:ENTRA_CLIENT_SECRET}}\"\nlogin_url = \"{base_url}\""
    );
    preset_source("entra", &settings, "graph_url", base_url) + TEST_BUDGET
}

/// Each log's lake and the ids it must hold.
pub(super) fn lakes(sim_config: &SimulatorConfig) -> Vec<(String, HashSet<String>)> {
    [
        ("entra-signins", Stream::SignIns),
        ("entra-directoryaudits", Stream::DirectoryAudits),
    ]
    .into_iter()
    .map(|(name, stream)| {
        let ids = stream_ids(sim_config, stream).into_iter().collect();
        (name.to_string(), ids)
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_preset_is_exact_per_log_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::entra(8_000);
    // Small pages, so a run makes enough requests for faults and kills to land.
    sim_config.max_page_size = 100;
    let lakes = lakes(&sim_config);
    let key = sluice::simulator::entra::PRIVATE_KEY_PEM;
    let (stats, runs) = exact_per_source_through_faults_and_kill_9(
        "entra",
        sim_config,
        entra_certificate_source,
        [("ENTRA_PRIVATE_KEY", key)],
        lakes,
    )
    .await;
    eprintln!(
        "{} tokens issued for {runs} runs: {stats:?}",
        stats.tokens_issued
    );
    // Every run is a new process, and the two logs share its one token: at most one token a
    // run (a run killed before its first request fetches none), where a token per source would
    // be two. Every assertion verified, none refused.
    assert!(stats.tokens_issued >= 1, "{stats:?}");
    assert!(
        stats.tokens_issued as usize <= runs,
        "{} tokens for {runs} runs of 2 sources: {stats:?}",
        stats.tokens_issued
    );
    assert_eq!(stats.unauthorized, 0, "{stats:?}");
    assert_eq!(stats.bad_requests, 0, "{stats:?}");
}

#[tokio::test]
async fn entra_preset_with_a_client_secret_reads_both_logs_with_one_token() {
    let sim_config = SimulatorConfig::entra(3_000);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &entra_secret_source(&sim.base_url()));
    let out = sluice()
        .args(["run", "--once", "--config", config.to_str().unwrap()])
        .env("ENTRA_CLIENT_SECRET", "sim-token")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    for (source, expected) in lakes(&sim_config) {
        super::common::lake::check_local(&dir.path().join("lake"), &source, &sim_config)
            .assert_holds_exactly(&expected, &format!("lake of `{source}`"));
    }
    let stats = sim.stats();
    assert_eq!(stats.tokens_issued, 1, "one token for both logs: {stats:?}");
    assert_eq!(
        (stats.unauthorized, stats.bad_requests),
        (0, 0),
        "{stats:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_client_secret_fails_the_run_with_entras_reason() {
    let sim = start_simulator(SimulatorConfig::entra(10)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &entra_secret_source(&sim.base_url()));
    let out = sluice()
        .args(["run", "--once", "--config", config.to_str().unwrap()])
        .env("ENTRA_CLIENT_SECRET", "not-the-secret")
        .output()
        .await
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("AADSTS7000215"),
        "Entra's reason is shown: {text}"
    );
    assert!(
        text.contains("/oauth2/v2.0/token"),
        "the endpoint is named: {text}"
    );
    assert_eq!(sim.stats().tokens_issued, 0);
    sim.shutdown().await;
}
