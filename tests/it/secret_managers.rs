//! Secrets from AWS Secrets Manager, Google Secret Manager and HashiCorp Vault, end to end
//! through the `sluice` binary, against look-alikes of the three on loopback that check what
//! the real ones check: the AWS one recomputes every SigV4 signature, the Google one verifies
//! the service account's JWT at its token endpoint and the bearer token on every access, the
//! Vault one checks the token and the namespace. The fetched value is the simulator's API
//! token, so a source that answers proves the right value reached the wire.

#[path = "secret_managers/aws.rs"]
mod aws;
use crate::common;
#[path = "secret_managers/gcp.rs"]
mod gcp;
#[path = "secret_managers/keys.rs"]
mod keys;
#[path = "secret_managers/vault.rs"]
mod vault;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use sluice::simulator::SimulatorConfig;

use common::{output_text, start_simulator, TestConfig};

/// The value every manager holds: the simulator's API token.
const API_TOKEN: &str = "okta-api-token-5c1e7d";

const AWS_JSON: &str = "sluice/okta";
const AWS_PLAIN: &str = "plain-okta";
const AWS_DENIED: &str = "sluice/forbidden";
const GCP_NAME: &str = "projects/test-project/secrets/okta/versions/latest";
const GCP_DENIED: &str = "projects/test-project/secrets/forbidden/versions/1";
const VAULT_PATH: &str = "sluice/okta";

/// The three look-alikes, and a directory for the key file and `HOME`.
struct Managers {
    aws: Arc<aws::State>,
    aws_url: String,
    gcp: Arc<gcp::State>,
    gcp_url: String,
    vault: Arc<vault::State>,
    vault_url: String,
    dir: tempfile::TempDir,
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

/// A loopback URL where nothing listens.
async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

impl Managers {
    async fn start() -> Managers {
        let aws = Arc::new(aws::State::default());
        aws.secrets.lock().unwrap().extend([
            (
                AWS_JSON.to_string(),
                serde_json::json!({ "token": API_TOKEN, "other": "second-value-b7" }).to_string(),
            ),
            (AWS_PLAIN.to_string(), API_TOKEN.to_string()),
            (AWS_DENIED.to_string(), API_TOKEN.to_string()),
        ]);
        aws.denied.lock().unwrap().push(AWS_DENIED.into());
        let gcp = Arc::new(gcp::State::default());
        gcp.secrets.lock().unwrap().extend([
            // Uploaded from a file with a final newline, as `gcloud secrets create
            // --data-file` often is.
            (GCP_NAME.to_string(), format!("{API_TOKEN}\n")),
            (GCP_DENIED.to_string(), API_TOKEN.to_string()),
        ]);
        gcp.denied.lock().unwrap().push(GCP_DENIED.into());
        let vault = Arc::new(vault::State::default());
        vault.secrets.lock().unwrap().insert(
            VAULT_PATH.into(),
            serde_json::json!({ "token": API_TOKEN, "user": "svc-sluice" }),
        );
        let aws_url = serve(aws::router(aws.clone())).await;
        let gcp_url = serve(gcp::router(gcp.clone())).await;
        *gcp.base.lock().unwrap() = gcp_url.clone();
        let vault_url = serve(vault::router(vault.clone())).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sa.json"),
            gcp::key_file(&gcp_url, keys::PRIVATE_KEY),
        )
        .unwrap();
        Managers {
            aws,
            aws_url,
            gcp,
            gcp_url,
            vault,
            vault_url,
            dir,
        }
    }

    fn key_file(&self) -> PathBuf {
        self.dir.path().join("sa.json")
    }

    /// The environment a deployment would set for all three managers.
    fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", aws::ACCESS_KEY_ID.to_string()),
            ("AWS_SECRET_ACCESS_KEY", aws::SECRET_ACCESS_KEY.to_string()),
            ("AWS_SESSION_TOKEN", aws::SESSION_TOKEN.to_string()),
            ("AWS_REGION", aws::REGION.to_string()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", self.aws_url.clone()),
            (
                "GOOGLE_APPLICATION_CREDENTIALS",
                self.key_file().display().to_string(),
            ),
            (
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER",
                self.gcp_url.clone(),
            ),
            ("VAULT_ADDR", self.vault_url.clone()),
            ("VAULT_TOKEN", vault::TOKEN.to_string()),
            ("VAULT_NAMESPACE", vault::NAMESPACE.to_string()),
            ("HOME", self.dir.path().display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// Runs `sluice <args>` with only `PATH` and `env` in its environment, so the machine's own
/// cloud credentials can neither help nor interfere.
async fn run_with(args: &[&str], env: &[(String, String)]) -> Output {
    let mut command = common::sluice();
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .expect("sluice binary runs")
}

/// `env` with `name` set to `value` (or removed when `None`).
fn with(env: &[(String, String)], name: &str, value: Option<&str>) -> Vec<(String, String)> {
    let mut env: Vec<_> = env.iter().filter(|(k, _)| k != name).cloned().collect();
    if let Some(value) = value {
        env.push((name.to_string(), value.to_string()));
    }
    env
}

/// A config with one source per `(name, token reference)`, all against `base_url`.
fn write_config(dir: &Path, base_url: &str, sources: &[(&str, &str)]) -> PathBuf {
    let mut first = TestConfig::new(base_url);
    first.name = sources[0].0;
    first.token = sources[0].1;
    let more: String = sources[1..]
        .iter()
        .map(|(name, token)| {
            let mut cfg = TestConfig::new(base_url);
            cfg.name = name;
            cfg.token = token;
            cfg.source_table()
        })
        .collect();
    first.write(dir, &more)
}

/// The 1-based line of the config that holds `needle`.
fn line_of(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .position(|line| line.contains(needle))
        .expect("the reference is in the config")
        + 1
}

const ALL_SOURCES: [(&str, &str); 5] = [
    ("okta-aws", "${aws-sm:sluice/okta#token}"),
    ("okta-aws-again", "${aws-sm:sluice/okta#token}"),
    ("okta-aws-plain", "${aws-sm:plain-okta}"),
    (
        "okta-gcp",
        "${gcp-sm:projects/test-project/secrets/okta/versions/latest}",
    ),
    ("okta-vault", "${vault:kv/sluice/okta#token}"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_manager_serves_its_secret_once_per_load() {
    let managers = Managers::start().await;
    let mut sim_config = SimulatorConfig::okta(300);
    sim_config.token = API_TOKEN.into();
    let sim = start_simulator(sim_config).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url(), &ALL_SOURCES);
    let config = config.to_str().unwrap();

    for load in 1..=2 {
        let out = run_with(&["check", "--config", config], &managers.env()).await;
        let shown = output_text(&out);
        assert!(out.status.success(), "{shown}");
        for (name, _) in ALL_SOURCES {
            // The simulator accepts only API_TOKEN: each source sent the fetched value.
            assert!(shown.contains(&format!("{name}: ok:")), "{name}: {shown}");
        }
        // Two references to one AWS secret, one fetch; and every load fetches afresh.
        assert_eq!(managers.aws.fetches_of(AWS_JSON), load, "{shown}");
        assert_eq!(managers.aws.fetches_of(AWS_PLAIN), load);
        assert_eq!(managers.aws.refused.load(Ordering::SeqCst), 0);
        assert_eq!(managers.gcp.tokens_granted.load(Ordering::SeqCst), load);
        assert_eq!(managers.gcp.accesses_of(GCP_NAME), load);
        assert_eq!(managers.vault.reads_of(VAULT_PATH), load);
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_server_provides_the_google_token_without_a_key_file() {
    let managers = Managers::start().await;
    let mut sim_config = SimulatorConfig::okta(100);
    sim_config.token = API_TOKEN.into();
    let sim = start_simulator(sim_config).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url(), &ALL_SOURCES[3..4]);
    let env = with(&managers.env(), "GOOGLE_APPLICATION_CREDENTIALS", None);
    let env = with(
        &env,
        "GCE_METADATA_HOST",
        Some(managers.gcp_url.trim_start_matches("http://")),
    );
    let out = run_with(&["check", "--config", config.to_str().unwrap()], &env).await;
    let shown = output_text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("okta-gcp: ok:"), "{shown}");
    assert_eq!(managers.gcp.metadata_tokens.load(Ordering::SeqCst), 1);
    assert_eq!(managers.gcp.tokens_granted.load(Ordering::SeqCst), 0);
    sim.shutdown().await;
}

/// Loads a config with one bad reference (or a bad environment) and returns the error shown.
async fn load_error(reference: &str, env: &[(String, String)]) -> (String, usize) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9", &[("okta", reference)]);
    let out = run_with(&["check", "--config", config.to_str().unwrap()], env).await;
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{reference}: {shown}");
    (shown, line_of(&config, reference))
}

/// Every load error names the file and line, the field and the reference, has a hint, and
/// holds no secret.
fn assert_located(shown: &str, line: usize, reference: &str) {
    assert!(shown.contains(&format!("sluice.toml:{line}:")), "{shown}");
    assert!(shown.contains("sources[0].auth.token"), "{shown}");
    assert!(shown.contains(reference), "{shown}");
    assert!(shown.contains("hint:"), "{shown}");
    for secret in [
        API_TOKEN,
        "second-value-b7",
        aws::SECRET_ACCESS_KEY,
        aws::SESSION_TOKEN,
        vault::TOKEN,
        "ya29.test-",
    ] {
        assert!(!shown.contains(secret), "`{secret}` leaked into: {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_keys_and_secrets_and_refused_access_are_explained() {
    let managers = Managers::start().await;
    let env = managers.env();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "${aws-sm:sluice/okta#tokn}",
            vec!["no key `tokn`", "its keys are other, token"],
        ),
        (
            "${aws-sm:no/such/secret}",
            vec![
                &managers.aws_url,
                "HTTP 400 ResourceNotFoundException: Secrets Manager can't find the specified secret.",
                "region eu-west-3",
            ],
        ),
        (
            "${aws-sm:sluice/forbidden}",
            vec![
                "HTTP 400 AccessDeniedException: User: arn:aws:iam::123456789012:user/sluice is not authorized",
                "allow secretsmanager:GetSecretValue",
            ],
        ),
        (
            "${gcp-sm:projects/test-project/secrets/forbidden/versions/1}",
            vec![
                &managers.gcp_url,
                "HTTP 403 PERMISSION_DENIED: Permission 'secretmanager.versions.access' denied",
                "roles/secretmanager.secretAccessor",
            ],
        ),
        (
            "${gcp-sm:projects/test-project/secrets/okta/versions/7}",
            vec!["HTTP 404 NOT_FOUND", "check the project, the secret's name and the version"],
        ),
        (
            "${vault:kv/sluice/okta#password}",
            vec!["no key `password`", "its keys are token, user"],
        ),
        (
            "${vault:kv/sluice/nothing#token}",
            vec![
                &managers.vault_url,
                "/v1/kv/data/sluice/nothing answered HTTP 404",
                "vault kv get",
            ],
        ),
    ];
    for (reference, needles) in cases {
        let (shown, line) = load_error(reference, &env).await;
        assert_located(&shown, line, reference);
        for needle in needles {
            assert!(
                shown.contains(needle),
                "{reference}: no `{needle}` in {shown}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_refused_by_the_managers_checks() {
    let managers = Managers::start().await;
    let env = managers.env();

    // A wrong secret key signs differently: the AWS look-alike's own check refuses it.
    let reference = "${aws-sm:sluice/okta#token}";
    let wrong_key = with(&env, "AWS_SECRET_ACCESS_KEY", Some("not-the-key"));
    let (shown, line) = load_error(reference, &wrong_key).await;
    assert_located(&shown, line, reference);
    assert!(shown.contains("HTTP 400 InvalidSignatureException: The request signature we calculated does not match"), "{shown}");
    assert!(shown.contains("AWS refused the credentials"), "{shown}");
    assert!(!shown.contains("not-the-key"), "{shown}");
    assert_eq!(managers.aws.refused.load(Ordering::SeqCst), 1);

    // Without credentials nothing is sent.
    let no_keys = with(&env, "AWS_ACCESS_KEY_ID", None);
    let (shown, line) = load_error(reference, &no_keys).await;
    assert_located(&shown, line, reference);
    assert!(shown.contains("AWS_ACCESS_KEY_ID"), "{shown}");

    // An assertion signed with another key is refused at the token endpoint.
    let other_key = managers.dir.path().join("other.json");
    std::fs::write(
        &other_key,
        gcp::key_file(&managers.gcp_url, keys::OTHER_PRIVATE_KEY),
    )
    .unwrap();
    let reference = "${gcp-sm:projects/test-project/secrets/okta/versions/latest}";
    let env_other = with(
        &env,
        "GOOGLE_APPLICATION_CREDENTIALS",
        Some(other_key.to_str().unwrap()),
    );
    let (shown, line) = load_error(reference, &env_other).await;
    assert_located(&shown, line, reference);
    assert!(shown.contains("HTTP 400"), "{shown}");
    assert!(shown.contains("Invalid JWT Signature"), "{shown}");
    assert!(shown.contains("other.json"), "{shown}");
    assert_eq!(managers.gcp.assertions_refused.load(Ordering::SeqCst), 1);
    assert_eq!(managers.gcp.accesses_of(GCP_NAME), 0);

    // Vault: a wrong token, and the right token in the wrong namespace.
    let reference = "${vault:kv/sluice/okta#token}";
    for env in [
        with(&env, "VAULT_TOKEN", Some("hvs.wrong")),
        with(&env, "VAULT_NAMESPACE", None),
    ] {
        let (shown, line) = load_error(reference, &env).await;
        assert_located(&shown, line, reference);
        assert!(shown.contains("HTTP 403: permission denied"), "{shown}");
        assert!(shown.contains("VAULT_NAMESPACE"), "{shown}");
        assert!(!shown.contains("hvs.wrong"), "{shown}");
    }
    assert_eq!(managers.vault.reads_of(VAULT_PATH), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_managers_are_named_by_url() {
    let managers = Managers::start().await;
    let closed = closed_port_url().await;
    let cases = [
        (
            "${aws-sm:sluice/okta#token}",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        ),
        (
            "${gcp-sm:projects/test-project/secrets/okta/versions/latest}",
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER",
        ),
        ("${vault:kv/sluice/okta#token}", "VAULT_ADDR"),
    ];
    for (reference, variable) in cases {
        let env = with(&managers.env(), variable, Some(&closed));
        let started = std::time::Instant::now();
        let (shown, line) = load_error(reference, &env).await;
        assert_located(&shown, line, reference);
        assert!(shown.contains(&closed), "{shown}");
        assert!(shown.contains("cannot connect"), "{shown}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "gave up after {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_values_never_reach_the_logs_at_trace() {
    let managers = Managers::start().await;
    let mut sim_config = SimulatorConfig::okta(300);
    sim_config.token = API_TOKEN.into();
    let sim = start_simulator(sim_config).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url(), &ALL_SOURCES);
    let config = config.to_str().unwrap();
    let private_key_line = keys::PRIVATE_KEY.lines().nth(5).unwrap();
    let env = with(&managers.env(), "RUST_LOG", Some("trace"));
    for format in ["human", "json"] {
        let out = run_with(
            &["run", "--once", "--log-format", format, "--config", config],
            &env,
        )
        .await;
        let shown = output_text(&out);
        assert!(out.status.success(), "{shown}");
        assert!(
            shown.contains("resolved a secret from its manager"),
            "the fetches are logged (without values): {shown}"
        );
        assert!(shown.contains("TRACE"), "trace logging is on");
        for secret in [
            API_TOKEN,
            "second-value-b7",
            aws::SECRET_ACCESS_KEY,
            aws::SESSION_TOKEN,
            vault::TOKEN,
            "ya29.test-",
            private_key_line,
        ] {
            assert!(
                !shown.contains(secret),
                "`{secret}` leaked into the {format} logs"
            );
        }
    }
    sim.shutdown().await;
}

/// A config's secrets are fetched in one pass: all of them at once, by one client per
/// manager (one Google token for the whole load), not one after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loads_secrets_are_fetched_together_by_one_client() {
    const SECRETS: usize = 4;
    let managers = Managers::start().await;
    let names: Vec<String> = (0..SECRETS)
        .map(|i| format!("projects/test-project/secrets/okta-{i}/versions/1"))
        .collect();
    managers.gcp.secrets.lock().unwrap().extend(
        names
            .iter()
            .map(|name| (name.clone(), API_TOKEN.to_string())),
    );
    // Each access is held until all of them have arrived: a client that asked one at a
    // time would have only one in flight.
    managers.gcp.hold_until.store(SECRETS, Ordering::SeqCst);
    let mut sim_config = SimulatorConfig::okta(100);
    sim_config.token = API_TOKEN.into();
    let sim = start_simulator(sim_config).await;
    let references: Vec<(String, String)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| (format!("okta-{i}"), format!("${{gcp-sm:{name}}}")))
        .collect();
    let sources: Vec<(&str, &str)> = references
        .iter()
        .map(|(source, reference)| (source.as_str(), reference.as_str()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url(), &sources);
    let out = run_with(
        &["check", "--config", config.to_str().unwrap()],
        &managers.env(),
    )
    .await;
    let shown = output_text(&out);
    assert!(out.status.success(), "{shown}");
    for (source, _) in &references {
        assert!(
            shown.contains(&format!("{source}: ok:")),
            "{source}: {shown}"
        );
    }
    for name in &names {
        assert_eq!(managers.gcp.accesses_of(name), 1, "{name}");
    }
    assert_eq!(
        managers.gcp.most_in_flight.load(Ordering::SeqCst),
        SECRETS,
        "every secret was asked for at once"
    );
    assert_eq!(
        managers.gcp.tokens_granted.load(Ordering::SeqCst),
        1,
        "one client, one token for the load"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_asks_no_manager() {
    let managers = Managers::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9", &ALL_SOURCES);
    // No credentials and no addresses at all: status must not need them.
    let out = run_with(
        &["status", "--json", "--config", config.to_str().unwrap()],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(managers.aws.fetches_of(AWS_JSON), 0);
    assert_eq!(managers.vault.reads_of(VAULT_PATH), 0);
}

/// The daemon reloads on SIGHUP through `config::load`, from async code. Loading twice in one
/// process, from a runtime thread, must fetch twice and see a rotated secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_in_the_same_process_sees_rotated_secrets() {
    // The managers' credentials and addresses are set in the loading process's own
    // environment (the other tests here pass them to the binary in a cleared one), so the
    // loading process is a child of its own: the tests beside this one share this process.
    const TEST: &str = "secret_managers::a_reload_in_the_same_process_sees_rotated_secrets";
    if !common::own_process::is_child(TEST) {
        let out = common::own_process::run_alone(TEST, &[]);
        assert!(out.status.success(), "{}", output_text(&out));
        return;
    }
    let managers = Managers::start().await;
    for (name, value) in managers.env() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "http://127.0.0.1:9",
        &[
            ("okta-aws", "${aws-sm:sluice/okta#token}"),
            ("okta-vault", "${vault:kv/sluice/okta#token}"),
        ],
    );
    let tokens = |config: &sluice::config::Config| -> Vec<String> {
        config
            .sources
            .iter()
            .map(|s| match &s.auth {
                sluice::config::AuthConfig::Bearer { token, .. } => token.expose().to_string(),
                other => panic!("unexpected auth {other:?}"),
            })
            .collect()
    };
    // Called directly on a runtime thread, as a daemon's reload handler might.
    let first = sluice::config::load(&config).expect("loads");
    assert_eq!(tokens(&first), [API_TOKEN, API_TOKEN]);

    let rotated = "rotated-token-91f0";
    managers.aws.secrets.lock().unwrap().insert(
        AWS_JSON.into(),
        serde_json::json!({ "token": rotated }).to_string(),
    );
    managers
        .vault
        .secrets
        .lock()
        .unwrap()
        .insert(VAULT_PATH.into(), serde_json::json!({ "token": rotated }));
    let path = config.clone();
    let second = tokio::task::spawn_blocking(move || sluice::config::load(&path))
        .await
        .unwrap()
        .expect("reloads");
    assert_eq!(tokens(&second), [rotated, rotated]);
    assert_eq!(managers.aws.fetches_of(AWS_JSON), 2);
    assert_eq!(managers.vault.reads_of(VAULT_PATH), 2);
}
