//! The daemon's status page through the binary: in headless Chromium (every source has its
//! card, the failing one is marked failing, a hostile API's error text stays text; a
//! screenshot is kept under `target/test-artifacts/`), the token that guards it and
//! `/metrics`, and the refusal to listen beyond loopback without one.

use crate::common;

use std::path::{Path, PathBuf};

use sluice::simulator::SimulatorConfig;

use common::daemon::{Daemon, PATIENCE};
use common::{run_sluice, start_simulator, TestConfig};

/// Each source runs once at start, then not again during a test.
const SERVE_TABLE: &str = "\n[serve]\nschedule = { every = \"1h\", jitter = \"0s\" }\n";

/// What the hostile API answers: markup that would add an element and run script if the
/// page did not escape it.
const HOSTILE_BODY: &str = r#"<h1 id="injected">pwned</h1><img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>"#;

const TOKEN: &str = "status-page-token-0123456789abcdef";

fn write_config(dir: &Path, sources: &[TestConfig<'_>], serve_extra: &str) -> PathBuf {
    let more: String = sources[1..].iter().map(|s| s.source_table()).collect();
    let path = sources[0].write(dir, &more);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(SERVE_TABLE);
    text.push_str(serve_extra);
    std::fs::write(&path, text).unwrap();
    path
}

/// An API that refuses every request with 403 and [`HOSTILE_BODY`].
async fn hostile_api() -> String {
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::FORBIDDEN,
            [(axum::http::header::CONTENT_TYPE, "text/html")],
            HOSTILE_BODY,
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Whether Debian's `chromium` can be started; a recorded skip (or, with
/// `SLUICE_TEST_CHROMIUM=1`, a failure) when not.
async fn chromium_available() -> bool {
    let found = tokio::process::Command::new("chromium")
        .arg("--version")
        .output()
        .await
        .is_ok_and(|out| out.status.success());
    if !found {
        assert!(
            !common::skip::env_flag("SLUICE_TEST_CHROMIUM"),
            "SLUICE_TEST_CHROMIUM is set but `chromium --version` does not run (hint: apt-get install -y chromium)"
        );
        common::skip::skip(
            "Chromium",
            "`chromium` is not installed",
            "apt-get install -y chromium",
        );
    }
    found
}

/// Runs headless Chromium with `args` then `url`, and returns its stdout.
async fn chromium(profile: &Path, args: &[&str], url: &str) -> String {
    let mut command = tokio::process::Command::new("chromium");
    command
        .args([
            "--headless",
            // CI runs as root, where Chromium's sandbox cannot start.
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .kill_on_drop(true);
    let out = tokio::time::timeout(PATIENCE, command.output())
        .await
        .expect("chromium finishes")
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium {args:?} {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The opening tag of the element whose attributes include `needle`.
fn tag_with<'a>(dom: &'a str, needle: &str) -> &'a str {
    let at = dom
        .find(needle)
        .unwrap_or_else(|| panic!("no {needle} in the page:\n{dom}"));
    let start = dom[..at].rfind('<').expect("inside a tag");
    let end = at + dom[at..].find('>').expect("the tag closes");
    &dom[start..=end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_every_source_and_marks_the_failing_one() {
    if !chromium_available().await {
        return;
    }
    let sim = start_simulator(SimulatorConfig::okta(300)).await;
    let hostile = hostile_api().await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut broken = TestConfig::new(&hostile);
    broken.name = "broken";
    let config = write_config(dir.path(), &[TestConfig::new(&base_url), broken], "");

    let mut daemon = Daemon::start(&config, "127.0.0.1:0", &[]).await;
    daemon.wait_for_runs("okta", 1).await;
    daemon
        .wait_for_log(|l| l.contains("source run failed") && l.contains("source=broken "))
        .await;

    let url = format!("{}/", daemon.base);
    let profile = tempfile::tempdir().unwrap();
    let dom = chromium(profile.path(), &["--dump-dom"], &url).await;

    // Chromium asked for HTML and got the cards: one per source, each with its health.
    let okta = tag_with(&dom, "data-source=\"okta\"");
    assert!(okta.contains("data-health=\"ok\""), "{okta}\n{dom}");
    let failing = tag_with(&dom, "data-source=\"broken\"");
    assert!(
        failing.contains("data-health=\"failing\""),
        "{failing}\n{dom}"
    );
    assert_eq!(dom.matches("data-source=").count(), 2, "{dom}");
    let card = &dom[dom.find("data-source=\"broken\"").unwrap()..];
    assert!(
        card.contains("HTTP 403"),
        "the failing card says why: {card}"
    );
    // The healthy card has its chart and its numbers.
    let okta_card = &dom
        [dom.find("data-source=\"okta\"").unwrap()..dom.find("data-source=\"broken\"").unwrap()];
    assert!(okta_card.contains("<svg class=\"chart\""), "{okta_card}");
    assert!(okta_card.contains("300 events in"), "{okta_card}");

    // The API's markup is shown as text: no element it names exists, no script of it ran.
    assert_eq!(
        dom.matches("<h1").count(),
        1,
        "only the page's own heading: {dom}"
    );
    assert!(!dom.contains("<img"), "{dom}");
    assert!(
        dom.contains("&lt;h1 id=\"injected\"&gt;pwned&lt;/h1&gt;"),
        "{dom}"
    );
    assert!(!dom.contains("<title>pwned"), "{dom}");
    assert!(
        !dom.contains("<script"),
        "the page carries no script: {dom}"
    );

    // A screenshot, kept for a person to look at.
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        profile.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,900",
            "--hide-scrollbars",
        ],
        &url,
    )
    .await;
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
    assert!(
        png.starts_with(b"\x89PNG"),
        "{} is not a PNG",
        shot.display()
    );

    let (code, logs) = daemon.stop().await;
    assert_eq!(code, Some(0), "{logs}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_guards_the_page_and_metrics_but_not_the_probes() {
    let sim = start_simulator(SimulatorConfig::okta(50)).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let config = write_config(
        dir.path(),
        &[TestConfig::new(&base_url)],
        "token = \"${env:SLUICE_SERVE_TOKEN}\"\n",
    );
    // Reachable from other hosts: allowed, because a token is set.
    let mut daemon = Daemon::start(&config, "0.0.0.0:0", &[("SLUICE_SERVE_TOKEN", TOKEN)]).await;
    daemon.wait_for_runs("okta", 1).await;
    let http = reqwest::Client::new();
    let base = daemon.base.clone();
    let get = |path: &str, auth: Option<String>| {
        let mut request = http.get(format!("{base}{path}"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        async move {
            let response = request.send().await.expect("the daemon answers");
            let status = response.status().as_u16();
            let challenges: Vec<String> = response
                .headers()
                .get_all("www-authenticate")
                .iter()
                .map(|v| v.to_str().unwrap_or_default().to_string())
                .collect();
            (
                status,
                challenges,
                response.text().await.unwrap_or_default(),
            )
        }
    };
    let bearer = Some(format!("Bearer {TOKEN}"));
    for path in ["/", "/status.json", "/metrics", "/?format=html"] {
        let (status, challenges, body) = get(path, None).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert!(
            challenges.iter().any(|c| c.starts_with("Basic"))
                && challenges.iter().any(|c| c.starts_with("Bearer")),
            "{path}: {challenges:?}"
        );
        assert!(
            body.contains("hint:") && !body.contains("okta"),
            "{path}: {body}"
        );
        let (status, _, _) = get(path, Some("Bearer wrong-token-0123456789".into())).await;
        assert_eq!(status, 401, "{path}");
        let (status, _, body) = get(path, bearer.clone()).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body.contains("okta"), "{path}: {body}");
    }
    // A browser sends the token as the Basic password, with any user name.
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("me:{TOKEN}"));
    let (status, _, page) = get("/?format=html", Some(format!("Basic {basic}"))).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-source=\"okta\""), "{page}");
    // Probes need no token.
    assert_eq!(get("/healthz", None).await.0, 200);
    assert_eq!(get("/readyz", None).await.0, 200);
    // The token never shows.
    let (_, _, json) = get("/status.json", bearer.clone()).await;
    assert!(!json.contains(TOKEN), "{json}");
    let rows: serde_json::Value = serde_json::from_str(&json).expect("/status.json is JSON");
    assert_eq!(rows[0]["source"], "okta", "{json}");
    assert_eq!(rows[0]["health"], "ok", "{json}");

    // A reload that drops the token is refused while the daemon listens beyond loopback,
    // and the token stays in force.
    let text = std::fs::read_to_string(&config).unwrap();
    let serve_token = "token = \"${env:SLUICE_SERVE_TOKEN}\"";
    assert!(text.contains(serve_token), "{text}");
    std::fs::write(&config, text.replace(serve_token, "")).unwrap();
    daemon.signal("HUP");
    let refused = daemon
        .wait_for_log(|l| l.contains("config reload refused"))
        .await;
    assert!(refused.contains("serve.token: 0.0.0.0:"), "{refused}");
    assert!(
        daemon.logs().contains("hint: set token"),
        "{}",
        daemon.logs()
    );
    assert_eq!(get("/", None).await.0, 401);
    assert_eq!(get("/", bearer.clone()).await.0, 200);

    let (code, logs) = daemon.stop().await;
    assert_eq!(code, Some(0), "{logs}");
    assert!(!logs.contains(TOKEN), "{logs}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_beyond_loopback_without_a_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[TestConfig::new("http://127.0.0.1:9")], "");
    let path = config.to_str().unwrap();

    let out = run_sluice(&["serve", "--listen", "0.0.0.0:0", "--config", path]).await;
    let shown = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains(
            "--listen: 0.0.0.0:0 is reachable from other hosts, but [serve] token is not set"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("hint: set token = \"${env:SLUICE_SERVE_TOKEN}\""),
        "{shown}"
    );

    // Written in the file, the error names its line.
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace("[serve]\n", "[serve]\nlisten = \"[::]:0\"\n");
    std::fs::write(&config, &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("listen ="))
        .unwrap()
        + 1;
    let out = run_sluice(&["serve", "--config", path]).await;
    let shown = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains(&format!("sluice.toml:{line}:")), "{shown}");
    assert!(
        shown.contains("serve.listen: [::]:0 is reachable from other hosts"),
        "{shown}"
    );
    assert!(shown.contains("hint:"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_gets_text_and_a_browser_html_from_the_same_address() {
    let sim = start_simulator(SimulatorConfig::okta(20)).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let config = write_config(dir.path(), &[TestConfig::new(&base_url)], "");
    let mut daemon = Daemon::start(&config, "127.0.0.1:0", &[]).await;
    daemon.wait_for_runs("okta", 1).await;
    let http = reqwest::Client::new();
    let fetch = |accept: &'static str, path: &'static str| {
        let request = http
            .get(format!("{}{path}", daemon.base))
            .header("accept", accept);
        async move {
            let response = request.send().await.unwrap();
            let kind = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_string();
            let csp = response
                .headers()
                .get("content-security-policy")
                .map(|v| v.to_str().unwrap().to_string());
            (kind, csp, response.text().await.unwrap())
        }
    };
    let (kind, _, text) = fetch("*/*", "/").await;
    assert!(kind.starts_with("text/plain"), "{kind}");
    assert!(
        text.contains("okta\n  health       ok\n  delivered    20\n"),
        "{text}"
    );
    let (kind, csp, html) = fetch("text/html,*/*;q=0.8", "/").await;
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("data-health=\"ok\""), "{html}");
    assert!(csp.is_some_and(|csp| csp.contains("default-src 'none'")));
    let (kind, _, text) = fetch("text/html", "/?format=text").await;
    assert!(kind.starts_with("text/plain"), "{kind}: {text}");
    let (kind, _, json) = fetch("*/*", "/status.json").await;
    assert!(kind.starts_with("application/json"), "{kind}");
    assert!(json.contains("\"delivered\": 20"), "{json}");
    let response = http
        .get(format!("{}/?format=pdf", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let (code, logs) = daemon.stop().await;
    assert_eq!(code, Some(0), "{logs}");
    sim.shutdown().await;
}
