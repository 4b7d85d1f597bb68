//! Secrets echoed back by the servers Sluice talks to appear in nothing Sluice prints or
//! stores: an API that answers 401 quoting the `Authorization` header (bearer, Basic and an
//! OAuth2 access token), a token endpoint that quotes the client secret, and a Splunk HEC
//! collector that refuses events quoting its token. Checked through the binary: stderr at
//! `RUST_LOG=trace`, the state database, `sluice status`, the daemon's `/` page and the
//! dead-letter queue.

use crate::common;

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use serde_json::json;
use sluice::simulator::SimulatorConfig;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The bearer token (`/`, `+` and `=` make its encoded forms differ from it).
const BEARER: &str = "00Bearer/Tok+en=Redaction-7f3a";
const BASIC_USER: &str = "svc-reader";
const BASIC_PASSWORD: &str = "Basic/Pass+word=Redaction-91c2";
const CLIENT_SECRET: &str = "Client/Sec+ret=Redaction-4be0";
/// What the token endpoint issues: a secret obtained at runtime, not configured anywhere.
const ACCESS_TOKEN: &str = "eyAccess/Tok+en=Redaction-d51e";
const HEC_TOKEN: &str = "hec-token-Redaction-0a9b";

/// Every form of every secret that must appear nowhere.
fn forbidden() -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let url = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pct = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let mut all = Vec::new();
    for secret in [
        BEARER,
        BASIC_PASSWORD,
        CLIENT_SECRET,
        ACCESS_TOKEN,
        HEC_TOKEN,
    ] {
        all.extend([secret.to_string(), b64(secret), url(secret), pct(secret)]);
    }
    all.push(b64(&format!("{BASIC_USER}:{BASIC_PASSWORD}")));
    all.push(b64(&format!("SSWS {BEARER}")));
    all
}

fn assert_clean(what: &str, text: &str) {
    for secret in forbidden() {
        assert!(
            !text.contains(&secret),
            "{what} shows the secret form `{secret}`:\n{text}"
        );
    }
}

/// The echo in every form a server might use: as sent, base64 and URL-encoded.
fn echo(what: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(what);
    let url: String = url::form_urlencoded::byte_serialize(what.as_bytes()).collect();
    format!("Invalid token provided: {what} (base64 {b64}, encoded {url})")
}

fn authorization(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The indiscreet servers: an API that answers 401 quoting the credentials it got, a token
/// endpoint that issues [`ACCESS_TOKEN`] (and one that refuses, quoting the request), and a
/// HEC collector that refuses every event quoting its token.
async fn start_echo_server() -> String {
    async fn refuse(headers: HeaderMap) -> impl IntoResponse {
        let auth = authorization(&headers);
        // Basic: the decoded user:password too, as some APIs do.
        let decoded = auth
            .strip_prefix("Basic ")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|d| String::from_utf8_lossy(&d).into_owned())
            .unwrap_or_default();
        (
            StatusCode::UNAUTHORIZED,
            json!({"errorCode": "E0000011", "errorSummary": echo(&auth), "decoded": decoded})
                .to_string(),
        )
    }
    async fn token() -> impl IntoResponse {
        (
            [(header::CONTENT_TYPE, "application/json")],
            json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600})
                .to_string(),
        )
    }
    async fn refuse_token(body: Bytes) -> impl IntoResponse {
        let form = String::from_utf8_lossy(&body).into_owned();
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "error_description": format!("bad request {form}")})
                .to_string(),
        )
    }
    async fn hec(headers: HeaderMap) -> impl IntoResponse {
        let text = format!("Invalid data format; sent with {}", authorization(&headers));
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"text": text, "code": 6, "invalid-event-number": 0}).to_string(),
        )
    }
    let app = Router::new()
        .route("/bearer/logs", get(refuse))
        .route("/basic/logs", get(refuse))
        .route("/oauth/logs", get(refuse))
        .route("/token", post(token))
        .route("/token-refused", post(refuse_token))
        .route("/services/collector/event", post(hec));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

fn source(name: &str, base_url: &str, path: &str, auth: &str, sinks: &str) -> String {
    format!(
        r#"
[[sources]]
name = "{name}"
base_url = "{base_url}"
path = "{path}"
query = {{ since = "{{start}}", until = "{{end}}", limit = "{{limit}}" }}
page_size = 100
pagination = {{ kind = "link_header" }}
event_time = {{ path = "published" }}
event_id = {{ path = "uuid" }}
sinks = {sinks}
auth = {auth}
window = {{ lookback = "1d", settle_delay = "1m" }}
http = {{ max_attempts = 2, max_backoff = "50ms", timeout = "5s" }}
"#
    )
}

/// A config with one source per way of leaking, and the secrets in the environment.
fn write_config(dir: &Path, echo_url: &str, simulator_url: &str) -> std::path::PathBuf {
    let mut text = String::from(
        "[state]\nkind = \"sqlite\"\npath = \"state.db\"\n\n[dead_letter]\npath = \"dlq\"\n\n[serve]\nschedule = { every = \"1h\", jitter = \"0s\" }\n",
    );
    let lake = r#"["lake"]"#;
    text += &source(
        "bearer",
        echo_url,
        "/bearer/logs",
        r#"{ kind = "bearer", prefix = "SSWS", token = "${env:REDACTION_BEARER}" }"#,
        lake,
    );
    text += &source(
        "basic",
        echo_url,
        "/basic/logs",
        &format!(
            r#"{{ kind = "basic", username = "{BASIC_USER}", password = "${{env:REDACTION_PASSWORD}}" }}"#
        ),
        lake,
    );
    text += &source(
        "oauth",
        echo_url,
        "/oauth/logs",
        &format!(
            r#"{{ kind = "oauth2_client_credentials", token_url = "{echo_url}/token", client_id = "sluice", client_secret = "${{env:REDACTION_CLIENT_SECRET}}" }}"#
        ),
        lake,
    );
    text += &source(
        "oauth_refused",
        echo_url,
        "/oauth/logs",
        &format!(
            r#"{{ kind = "oauth2_client_credentials", token_url = "{echo_url}/token-refused", client_id = "sluice", client_secret = "${{env:REDACTION_CLIENT_SECRET}}", client_auth = "body" }}"#
        ),
        lake,
    );
    // A healthy API whose events the collector refuses.
    text += &source(
        "okta",
        simulator_url,
        "/api/v1/logs",
        r#"{ kind = "bearer", prefix = "SSWS", token = "sim-token" }"#,
        r#"["splunk"]"#,
    );
    text += &format!(
        r#"
[[sinks]]
name = "lake"
kind = "lake"
path = "lake"

[[sinks]]
name = "splunk"
kind = "splunk_hec"
url = "{echo_url}"
token = "${{env:REDACTION_HEC_TOKEN}}"
"#
    );
    let path = dir.join("sluice.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn secrets_env() -> [(&'static str, &'static str); 4] {
    [
        ("REDACTION_BEARER", BEARER),
        ("REDACTION_PASSWORD", BASIC_PASSWORD),
        ("REDACTION_CLIENT_SECRET", CLIENT_SECRET),
        ("REDACTION_HEC_TOKEN", HEC_TOKEN),
    ]
}

/// Every text value of every table of the SQLite state database.
fn database_text(path: &Path) -> String {
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut text = String::new();
    for table in tables {
        let mut statement = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = statement.column_count();
        let mut rows = statement.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                if let Ok(Some(value)) = row.get::<_, Option<String>>(i) {
                    text.push_str(&format!("{table}: {value}\n"));
                }
            }
        }
    }
    text
}

/// Every line of every dead-letter object under `root` (gzip, published or not).
fn dead_letters(root: &Path) -> String {
    let mut text = String::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.to_string_lossy().ends_with(".gz") {
                let file = std::fs::File::open(&path).unwrap();
                let mut decoder = flate2::read::MultiGzDecoder::new(file);
                decoder.read_to_string(&mut text).unwrap();
            }
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_secrets_reach_no_log_store_status_page_or_dead_letter() {
    let echo_url = start_echo_server().await;
    let sim_config = SimulatorConfig::okta(30);
    let sim = common::start_simulator(sim_config).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &echo_url, &sim.base_url());
    let config_arg = config.to_str().unwrap();

    // `sluice run`, at the most verbose log level.
    let out = common::sluice()
        .args(["run", "--once", "--config", config_arg])
        .envs(secrets_env())
        .env("RUST_LOG", "trace")
        .output()
        .await
        .unwrap();
    let shown = common::output_text(&out);
    assert_eq!(out.status.code(), Some(1), "four sources fail:\n{shown}");
    // The servers did echo, and what they echoed was scrubbed.
    assert!(
        shown.contains("Invalid token provided: SSWS [REDACTED]"),
        "{shown}"
    );
    assert!(shown.contains("Bearer [REDACTED]"), "{shown}");
    assert!(shown.contains("client_secret=[REDACTED]"), "{shown}");
    assert_clean("sluice run's output", &shown);

    // The runs table, and everything else the state database holds.
    let stored = database_text(&dir.path().join("state.db"));
    assert!(stored.contains("[REDACTED]"), "{stored}");
    assert_clean("the state database", &stored);

    // `sluice status`, where no credential is set (as it needs none) and where they are.
    for with_secrets in [false, true] {
        for json in [false, true] {
            let mut command = common::sluice();
            command.args(["status", "--config", config_arg]);
            if json {
                command.arg("--json");
            }
            if with_secrets {
                command.envs(secrets_env());
            }
            let out = command.output().await.unwrap();
            let shown = common::output_text(&out);
            // The runs above failed on purpose (every API refused its echoed credential), so
            // `status` reports failing sources with exit 1.
            assert_eq!(out.status.code(), Some(1), "{shown}");
            assert!(shown.contains("[REDACTED]"), "{shown}");
            assert_clean("sluice status", &shown);
        }
    }

    // The dead-letter queue, read directly and through `sluice dlq list`.
    let letters = dead_letters(&dir.path().join("dlq"));
    assert!(letters.contains("Splunk [REDACTED]"), "{letters}");
    assert_clean("the dead-letter queue", &letters);
    let out = common::sluice()
        .args(["dlq", "list", "--config", config_arg])
        .envs(secrets_env())
        .output()
        .await
        .unwrap();
    assert_clean("sluice dlq list", &common::output_text(&out));

    // The daemon: its logs and its status page after a scheduled run of every source.
    let mut child = common::sluice()
        .args(["serve", "--listen", "127.0.0.1:0", "--config", config_arg])
        .envs(secrets_env())
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut logs = String::new();
    let mut address = None;
    let mut finished = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while finished < 5 {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("the daemon's runs did not finish:\n{logs}"))
            .unwrap()
            .unwrap_or_else(|| panic!("the daemon exited:\n{logs}"));
        if address.is_none() {
            address = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("listen="))
                .map(str::to_string);
        }
        if line.contains("source run f") {
            finished += 1;
        }
        logs.push_str(&line);
        logs.push('\n');
    }
    let address = address.expect("the daemon logs its address");
    let page = reqwest::get(format!("http://{address}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("[REDACTED]"), "{page}");
    assert_clean("the daemon's / page", &page);
    // The same page as a browser gets it, and as JSON: texts are scrubbed before they are
    // escaped, so no encoding of the page lets a secret through.
    for (accept, path) in [("text/html", "/"), ("*/*", "/status.json")] {
        let shown = reqwest::Client::new()
            .get(format!("http://{address}{path}"))
            .header("accept", accept)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(shown.contains("[REDACTED]"), "{shown}");
        assert_clean(&format!("the daemon's {path} as {accept}"), &shown);
    }
    let metrics = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_clean("the daemon's /metrics", &metrics);
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-s", "TERM", &pid])
        .status()
        .unwrap();
    let rest = tokio::time::timeout(Duration::from_secs(60), async {
        let mut rest = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push_str(&line);
            rest.push('\n');
        }
        rest
    })
    .await
    .expect("the daemon stops");
    logs.push_str(&rest);
    assert!(logs.contains("[REDACTED]"), "{logs}");
    assert_clean("sluice serve's logs", &logs);
    child.wait().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_literal_value_with_an_unclosed_reference_is_named_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.toml");
    std::fs::write(
        &path,
        source(
            "okta",
            "https://example.okta.com",
            "/api/v1/logs",
            r#"{ kind = "bearer", token = "LITERALSECRET-5150${env:OKTA" }"#,
            r#"["lake"]"#,
        ) + "\n[[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"lake\"\n",
    )
    .unwrap();
    // (`sluice status` leaves secrets unresolved, so it does not read the value at all.)
    for command in ["check", "run"] {
        let mut args = vec![command, "--config", path.to_str().unwrap()];
        if command == "run" {
            args.push("--once");
        }
        let out = common::run_sluice(&args).await;
        let shown = common::output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {shown}");
        assert!(!shown.contains("LITERALSECRET"), "{command}: {shown}");
        assert!(!shown.contains("5150"), "{command}: {shown}");
        assert!(
            shown.contains("sluice.toml:") && shown.contains("sources[0].auth"),
            "{command}: the error names the file, line and key: {shown}"
        );
        assert!(
            shown.contains("unclosed secret reference"),
            "{command}: {shown}"
        );
    }
}

/// What the child of [`a_panic_report_through_the_installed_hook_is_scrubbed`] panics with.
const PANIC_SECRET: &str = "Panic/Sec+ret=Redaction-3c7d";

/// An API's refusal that echoes the token, as an error value.
fn refused_by_the_api() -> Result<(), String> {
    Err(format!(
        "HTTP 401: Invalid token provided: SSWS {PANIC_SECRET}"
    ))
}

/// A panic whose message quotes a secret (an `expect` on an error that echoes a credential)
/// is reported on stderr with the secret scrubbed, by the hook the `sluice` command installs
/// first thing; the report still says where it panicked. No command of the binary panics on
/// purpose, so the hook is exercised in a child process of this test: this test binary run
/// again for this test alone (`common::own_process`).
#[test]
fn a_panic_report_through_the_installed_hook_is_scrubbed() {
    const TEST: &str = "redaction::a_panic_report_through_the_installed_hook_is_scrubbed";
    if common::own_process::is_child(TEST) {
        sluice::redact::register(PANIC_SECRET);
        sluice::panic_hook::install();
        refused_by_the_api().expect("the API accepted the token");
        return;
    }
    let out = common::own_process::run_alone(TEST, &[("RUST_BACKTRACE", "0")]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        !out.status.success(),
        "the child did not panic:\n{stdout}\n{stderr}"
    );
    assert_clean("the panic report", &stderr);
    assert_clean("the test harness's output", &stdout);
    for form in [
        PANIC_SECRET.to_string(),
        url::form_urlencoded::byte_serialize(PANIC_SECRET.as_bytes()).collect(),
    ] {
        assert!(
            !stderr.contains(&form) && !stdout.contains(&form),
            "{stderr}\n{stdout}"
        );
    }
    assert!(
        stderr.contains("panicked at tests/it/redaction.rs:")
            && stderr.contains(
                "the API accepted the token: \"HTTP 401: Invalid token provided: SSWS [REDACTED]\""
            ),
        "the report does not say where and what:\n{stderr}"
    );
}

/// The query-parameter key the API below takes, and echoes in its next-page links (`/`, `+`
/// and `=` make its encoded forms differ from it).
const LINK_KEY: &str = "Link/Key+echo=Redaction-6e21";
/// The key after it was rotated.
const ROTATED_KEY: &str = "Rotated/Key+echo=Redaction-0f4b";

/// Every form in which a URL or a stored document could hold `key`.
fn key_forms(key: &str) -> Vec<String> {
    vec![
        key.to_string(),
        url::form_urlencoded::byte_serialize(key.as_bytes()).collect(),
        percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC).to_string(),
        // As JSON writes it inside a string.
        serde_json::to_string(key)
            .unwrap()
            .trim_matches('"')
            .to_string(),
    ]
}

/// Every byte of the SQLite state database, its write-ahead log and shared memory: freed
/// pages still hold what was deleted (old intents), so this is more than what a query shows.
fn raw_state_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["state.db", "state.db-wal", "state.db-shm"] {
        if let Ok(mut file) = std::fs::File::open(dir.join(name)) {
            file.read_to_end(&mut bytes).unwrap();
        }
    }
    assert!(!bytes.is_empty(), "no state database in {}", dir.display());
    bytes
}

fn assert_no_key_bytes(what: &str, bytes: &[u8], key: &str) {
    for form in key_forms(key) {
        let found = bytes
            .windows(form.len())
            .any(|window| window == form.as_bytes());
        assert!(!found, "{what} holds the key in the form `{form}`");
    }
}

/// An API that authenticates with `?api_key=KEY` and echoes the key in its next-page links
/// (Link header): the links are saved in the checkpoint, yet no byte of the state database
/// and nothing `sluice state export` writes holds the key; the saved link holds a placeholder.
/// After the key is rotated (API and config), the run resumes from the saved link with the
/// new key, and the lake is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_echoed_in_next_links_never_reaches_the_state_and_resume_uses_the_live_key() {
    use sluice::simulator::{GenericProfile, SimAuth, SimPagination};

    let profile = |key: &str| GenericProfile {
        pagination: SimPagination::LinkHeader,
        auth: SimAuth::ApiKeyQuery {
            param: "api_key".into(),
            key: key.into(),
            echo_in_links: true,
        },
        ..GenericProfile::default()
    };
    let sim_config = SimulatorConfig::generic(1_500, profile(LINK_KEY));
    let sim = common::start_simulator(sim_config.clone()).await;
    let address = sim.addr;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[state]
kind = "sqlite"
path = "state.db"

[[sources]]
name = "echo"
base_url = "{base_url}"
path = "/v1/events"
query = {{ start = "{{start}}", end = "{{end}}", limit = "{{limit}}" }}
records_path = "data"
pagination = {{ kind = "link_header" }}
page_size = 100
event_time = {{ path = "time" }}
event_id = {{ path = "id" }}
window = {{ lookback = "7h", settle_delay = "1m", overlap = "0s", max_window = "8h" }}
http = {{ max_attempts = 30, max_backoff = "200ms", timeout = "5s", max_pages = 3 }}
auth = {{ kind = "api_key", query = "api_key", key = "${{env:SLUICE_TEST_LINK_KEY}}" }}
sinks = ["lake"]

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
roll_size = "32KB"
"#,
            base_url = sim.base_url()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();

    // One window of 15 pages: three, then the run stops mid-listing and the next page's
    // link is saved.
    let with_key = |args: &[&str]| {
        let mut command = common::sluice();
        command
            .args(args)
            .args(["--config", &config])
            .env("SLUICE_TEST_LINK_KEY", LINK_KEY);
        command
    };
    let out = with_key(&["run", "--once"]).output().await.unwrap();
    let shown = common::output_text(&out);
    assert_eq!(out.status.code(), Some(3), "more is pending:\n{shown}");
    assert!(
        sim.stats().pages_ok >= 3 && sim.stats().unauthorized == 0,
        "{shown}"
    );

    assert_no_key_bytes("the state database", &raw_state_bytes(dir.path()), LINK_KEY);
    let export = with_key(&["state", "export"]).output().await.unwrap();
    assert!(export.status.success(), "{}", common::output_text(&export));
    let exported = String::from_utf8_lossy(&export.stdout);
    assert_no_key_bytes("`sluice state export`", exported.as_bytes(), LINK_KEY);
    assert!(
        exported.contains("api_key=<sluice-secret:auth.key>"),
        "the saved next-page link is not in the export, or its key is not a placeholder:\n{exported}"
    );
    let status = with_key(&["status"]).output().await.unwrap();
    assert!(status.status.success(), "{}", common::output_text(&status));
    assert_no_key_bytes("`sluice status`", &status.stdout, LINK_KEY);

    // The key is rotated: the API takes only the new one, the config holds the new one.
    sim.shutdown().await;
    let mut rotated_config = sim_config.clone();
    rotated_config.generic = profile(ROTATED_KEY);
    let rotated = sluice::simulator::start(rotated_config, address)
        .await
        .expect("the simulator starts again on its port");
    common::run_until_caught_up(&config, 40, &[("SLUICE_TEST_LINK_KEY", ROTATED_KEY)]).await;
    let stats = rotated.stats();
    assert_eq!(
        stats.unauthorized, 0,
        "a request went out without the live key: {stats:?}"
    );
    common::assert_lake_exact(&dir.path().join("lake"), "echo", &sim_config);
    let bytes = raw_state_bytes(dir.path());
    assert_no_key_bytes("the state database", &bytes, LINK_KEY);
    assert_no_key_bytes("the state database", &bytes, ROTATED_KEY);
    rotated.shutdown().await;
}
