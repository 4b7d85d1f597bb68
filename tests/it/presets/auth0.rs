//! The Auth0 preset, configured as docs/connectors/auth0.md shows (a Machine-to-Machine
//! application with read:logs), against the simulator's Auth0 profile: its token endpoint
//! checks the client and the Management API audience; the logs endpoint serves by checkpoint,
//! in log id order, naming the next request in the Link header, and `[]` (with the same URL
//! again) once caught up. The preset lists by position (`window.mode = "position"`): the next
//! URL is the checkpoint. Grove has no Auth0 pages; answers shaped as Auth0's docs show them
//! check what goes over the wire and that the position survives from one run to the next.

use sluice::simulator::auth0::{CLIENT_ID, LOGS_PATH, TOKEN_PATH};
use sluice::simulator::SimulatorConfig;

use super::common::{output_text, sluice, start_simulator};
use super::{
    exact_through_faults_and_kill_9, preset_source, refuses_a_wrong_credential_then_reads_exactly,
    write_config, TEST_BUDGET,
};

/// The Auth0 preset with the token endpoint and the API both at `api_url`, the client secret
/// from the environment.
pub(super) fn auth0_source(api_url: &str) -> String {
    let settings = format!(
        "domain = \"acme.us.auth0.com\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"${{env:AUTH0_CLIENT_SECRET}}\""
    );
    preset_source("auth0", &settings, "api_url", api_url) + TEST_BUDGET
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth0_preset_is_exact_through_faults_and_kill_9() {
    let mut sim_config = SimulatorConfig::auth0(6_000);
    // Pages of 100 at most (Auth0's), so a run makes enough requests for faults and kills.
    sim_config.max_page_size = 100;
    exact_through_faults_and_kill_9(
        "auth0",
        sim_config,
        auth0_source,
        [("AUTH0_CLIENT_SECRET", "sim-token")],
    )
    .await;
}

#[tokio::test]
async fn a_wrong_secret_fails_with_auth0s_words_then_every_log_is_read_once() {
    let sim_config = SimulatorConfig::auth0(1_000);
    let every = sluice::simulator::event_ids(&sim_config)
        .into_iter()
        .collect();
    let stats = refuses_a_wrong_credential_then_reads_exactly(
        sim_config,
        auth0_source,
        "AUTH0_CLIENT_SECRET",
        &["access_denied", TOKEN_PATH],
        vec![("auth0".to_string(), every)],
    )
    .await;
    assert_eq!(
        stats.events_served, 1_000,
        "nothing listed twice: {stats:?}"
    );
    // The right run: a token, ten pages of 100, and the empty page that ends it.
    assert_eq!(stats.tokens_issued, 1, "{stats:?}");
}

#[tokio::test]
async fn a_caught_up_run_asks_once_from_the_saved_position_and_delivers_nothing() {
    let sim = start_simulator(SimulatorConfig::auth0(250)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &auth0_source(&sim.base_url()));
    let run = || {
        let mut command = sluice();
        command
            .args(["run", "--once", "--config", config.to_str().unwrap()])
            .env("AUTH0_CLIENT_SECRET", "sim-token");
        command
    };
    let first = run().output().await.unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", output_text(&first));
    let before = sim.stats();
    assert_eq!(before.events_served, 250);
    let second = run().output().await.unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", output_text(&second));
    let after = sim.stats();
    assert_eq!(after.events_served, 250, "nothing is listed again");
    assert_eq!(
        after.requests - before.requests,
        1,
        "one request from the saved position (and its empty answer): {after:?}"
    );
    super::common::lake::check_local(&dir.path().join("lake"), "auth0", sim.config())
        .assert_holds_exactly(
            &sluice::simulator::event_ids(sim.config())
                .into_iter()
                .collect(),
            "the lake holds every log once",
        );
    sim.shutdown().await;
}

#[tokio::test]
async fn auth0_preset_sends_what_the_docs_describe_and_keeps_its_position_between_runs() {
    // Answers as Auth0's docs show them: the token, a page of two logs whose Link names the
    // next request (from the last log id), then `[]` naming that same request again. The
    // second run gets a token and the empty answer.
    let id_1 = "90020261207093015123000000000000000000000000000000000001";
    let id_2 = "90020261207093016456000000000000000000000000000000000002";
    let log = |id: &str, date: &str, kind: &str| {
        serde_json::json!({
            "date": date, "type": kind, "description": "", "connection": "Username-Password-Authentication",
            "client_id": "Vx3JqGZ9rLkz0c2YbXo8TtPq4wE1sRdA", "client_name": "Acme Web", "ip": "198.51.100.7",
            "user_agent": "Chrome 131.0.0 / Mac OS X 14.6.0", "user_id": "auth0|6393a1f2c0ffee0001a1b2c3",
            "user_name": "ada@acme.example", "log_id": id
        })
    };
    let logs = vec![
        log(id_1, "2026-12-07T09:30:15.123Z", "s"),
        // Ordered by log id, not by date: the second log is dated before the first.
        log(id_2, "2026-12-07T09:30:14.001Z", "f"),
    ];
    let token = r#"{"access_token": "eyJhbGciOiJSUzI1NiJ9.sim.sig", "scope": "read:logs", "expires_in": 86400, "token_type": "Bearer"}"#;
    let next = format!("<{{base}}{LOGS_PATH}?from={id_2}&take=100>; rel=\"next\"");
    let pages = vec![
        (token.to_string(), None),
        (
            serde_json::Value::Array(logs.clone()).to_string(),
            Some(next.clone()),
        ),
        ("[]".to_string(), Some(next.clone())),
        (token.to_string(), None),
        ("[]".to_string(), Some(next)),
    ];
    let server = super::common::fixture_server::serve(pages).await;
    let work = tempfile::tempdir().unwrap();
    let config = write_config(work.path(), &auth0_source(&server.base_url));
    for run in 0..2 {
        let out = sluice()
            .args(["run", "--once", "--config", config.to_str().unwrap()])
            .env("AUTH0_CLIENT_SECRET", "fixture-secret")
            .output()
            .await
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "run {run}: {}",
            output_text(&out)
        );
    }
    let stored = super::common::lake::envelopes(&work.path().join("lake"), "auth0");
    assert_eq!(stored.len(), 2);
    for (stored, served) in stored.iter().zip(&logs) {
        assert_eq!(stored["data"], *served);
        assert_eq!(stored["event_id"], served["log_id"]);
    }
    let requests = server.requests().await;
    let position = format!("{LOGS_PATH}?from={id_2}&take=100");
    assert_eq!(
        requests,
        [
            TOKEN_PATH.to_string(),
            format!("{LOGS_PATH}?take=100"),
            position.clone(),
            TOKEN_PATH.to_string(),
            position,
        ],
        "the first request carries no position; every later one is the Link's, also in the next run"
    );
    let form: Vec<(String, String)> =
        url::form_urlencoded::parse(server.bodies().await[0].as_bytes())
            .into_owned()
            .collect();
    for (key, value) in [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", "fixture-secret"),
        ("audience", "https://acme.us.auth0.com/api/v2/"),
    ] {
        assert!(
            form.contains(&(key.to_string(), value.to_string())),
            "{key} in the token request: {form:?}"
        );
    }
    let authorizations = server.authorizations().await;
    assert_eq!(authorizations[1], "Bearer eyJhbGciOiJSUzI1NiJ9.sim.sig");
}

#[tokio::test]
async fn a_start_position_is_sent_as_from_on_the_first_request() {
    let sim = start_simulator(SimulatorConfig::auth0(300)).await;
    let dir = tempfile::tempdir().unwrap();
    // Start after the 100th log: the lake holds the 200 after it.
    let start = sluice::simulator::event_id(sim.config(), 99);
    let source = auth0_source(&sim.base_url()) + &format!("start_from = \"{start}\"\n");
    let config = write_config(dir.path(), &source);
    let out = sluice()
        .args(["run", "--once", "--config", config.to_str().unwrap()])
        .env("AUTH0_CLIENT_SECRET", "sim-token")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let expected = (100..300)
        .map(|i| sluice::simulator::event_id(sim.config(), i))
        .collect();
    super::common::lake::check_local(&dir.path().join("lake"), "auth0", sim.config())
        .assert_holds_exactly(&expected, "the logs after start_from");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_page_without_a_next_position_fails_the_run_before_anything_is_delivered() {
    // An answer to the request without `from` shaped as a search (no Link header): going on
    // would start over every run, so the run fails and delivers nothing.
    let token = r#"{"access_token": "eyJhbGciOiJSUzI1NiJ9.sim.sig", "expires_in": 86400, "token_type": "Bearer"}"#;
    let logs = r#"[{"date": "2026-12-07T09:30:15.123Z", "type": "s", "log_id": "90020261207093015123000000000000000000000000000000000001"}]"#;
    let server = super::common::fixture_server::serve(vec![
        (token.to_string(), None),
        (logs.to_string(), None),
    ])
    .await;
    let work = tempfile::tempdir().unwrap();
    let config = write_config(work.path(), &auth0_source(&server.base_url));
    let out = sluice()
        .args(["run", "--once", "--config", config.to_str().unwrap()])
        .env("AUTH0_CLIENT_SECRET", "fixture-secret")
        .output()
        .await
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("names no next position"), "{text}");
    assert!(text.contains(LOGS_PATH), "the request is named: {text}");
    let stored = super::common::lake::envelopes(&work.path().join("lake"), "auth0");
    assert!(stored.is_empty(), "{stored:?}");
}
