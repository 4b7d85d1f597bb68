//! Tests of loading and validating a config file.

use super::*;
use crate::config::PaginationConfig;

const GOOD: &str = r#"
[[sources]]
name = "okta"
base_url = "https://acme.okta.com"
path = "/api/v1/logs"
sinks = ["lake"]
query = { since = "{start}", until = "{end}" }
pagination = { kind = "link_header" }
event_time = { path = "published" }
event_id = { path = "uuid" }

[sources.auth]
kind = "bearer"
prefix = "SSWS"
token = "literal"

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
"#;

fn err(text: &str) -> ConfigError {
    load_str(text, Path::new("sluice.toml")).unwrap_err()
}

#[test]
fn good_config_loads() {
    let config = load_str(GOOD, Path::new("sluice.toml")).unwrap();
    assert_eq!(config.sources[0].name, "okta");
    assert_eq!(config.sinks_of(&config.sources[0]).len(), 1);
}

#[test]
fn malformed_toml_names_line_and_column() {
    let e = err("[[sources]]\nname = \"x\nbase_url = 1\n");
    assert_eq!(e.position.map(|p| p.0), Some(2), "{e}");
    assert!(e.to_string().starts_with("sluice.toml:2:"), "{e}");
}

/// Found by the config property test: toml has no message for a file that ends where a
/// value is expected, which printed `sluice.toml:3:7: ` and nothing more.
#[test]
fn a_file_ending_after_an_equals_sign_says_what_is_missing() {
    let e = err("[state]\nkind =");
    assert_eq!(e.position, Some((2, 7)), "{e}");
    assert!(e.message.contains("a value"), "{e}");
    assert!(
        e.hint.as_deref().unwrap_or_default().contains("key = "),
        "{e}"
    );
}

#[test]
fn unknown_key_is_an_error_with_its_path_and_line() {
    let text = GOOD.replace("prefix = \"SSWS\"", "prefix = \"SSWS\"\ntokn = \"x\"");
    let e = err(&text);
    assert!(e.message.contains("unknown field `tokn`"), "{e}");
    assert_eq!(e.key.as_deref(), Some("sources[0].auth.tokn"), "{e}");
    let line = text.lines().position(|l| l.starts_with("tokn")).unwrap() + 1;
    assert_eq!(e.position, Some((line, 1)), "{e}");
    assert!(e.hint.is_some());
}

#[test]
fn unknown_key_under_state_names_its_own_line() {
    for kind in ["sqlite", "postgres", "object"] {
        let state = match kind {
            "sqlite" => "[state]\nkind = \"sqlite\"\npath = \"s.db\"\npathh = \"x\"\n",
            "postgres" => {
                "[state]\nkind = \"postgres\"\nurl = \"postgres://db/s\"\npathh = \"x\"\n"
            }
            _ => "[state]\nkind = \"object\"\nurl = \"file:///tmp/s\"\npathh = \"x\"\n",
        };
        let text = format!("{GOOD}\n{state}");
        let line = text.lines().position(|l| l.starts_with("pathh")).unwrap() + 1;
        let e = err(&text);
        assert_eq!(e.position, Some((line, 1)), "{kind}: {e}");
        assert_eq!(e.key.as_deref(), Some("state.pathh"), "{kind}: {e}");
        assert!(
            e.to_string().starts_with(&format!(
                "sluice.toml:{line}:1: state.pathh: unknown field `pathh`"
            )),
            "{kind}: {e}"
        );
    }
}

#[test]
fn missing_secret_names_variable_key_and_line() {
    let text = GOOD.replace("\"literal\"", "\"${env:SLUICE_TEST_NOT_SET_EVER}\"");
    let e = err(&text);
    let shown = e.to_string();
    assert!(shown.contains("SLUICE_TEST_NOT_SET_EVER"), "{shown}");
    assert!(shown.contains("sources[0].auth.token"), "{shown}");
    assert_eq!(e.position, Some((15, 10)), "{shown}");
}

#[test]
fn malformed_manager_reference_is_located_before_any_request() {
    // No `#KEY`: refused while parsing the reference, so no Vault address is needed.
    let text = GOOD.replace("\"literal\"", "\"${vault:secret/sluice/okta}\"");
    let e = err(&text);
    let shown = e.to_string();
    assert!(shown.contains("${vault:secret/sluice/okta}"), "{shown}");
    assert_eq!(e.key.as_deref(), Some("sources[0].auth.token"), "{shown}");
    assert_eq!(e.position, Some((15, 10)), "{shown}");
    assert!(
        e.hint.as_deref().is_some_and(|h| h.contains("#KEY")),
        "{shown}"
    );
}

#[test]
fn sink_reference_must_exist() {
    let text = GOOD.replace("sinks = [\"lake\"]", "sinks = [\"lak\"]");
    let e = err(&text);
    assert_eq!(e.key.as_deref(), Some("sources[0].sinks[0]"));
    assert_eq!(e.position.map(|p| p.0), Some(6), "{e}");
}

#[test]
fn sources_inherit_a_connector_file_and_override_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("okta.toml"),
        r#"
path = "/api/v1/logs"
query = { since = "{start}", until = "{end}", limit = "{limit}" }
page_size = 1000
pagination = { kind = "link_header" }
event_time = { path = "published" }
event_id = { path = "uuid" }
window = { settle_delay = "2m", lookback = "7d" }
"#,
    )
    .unwrap();
    let config_text = r#"
[[sources]]
name = "okta"
connector = "okta.toml"
base_url = "https://acme.okta.com"
page_size = 200
window = { lookback = "1d" }
sinks = ["lake"]

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
"#;
    let path = dir.path().join("sluice.toml");
    std::fs::write(&path, config_text).unwrap();
    let config = load(&path).unwrap();
    let source = &config.sources[0];
    assert_eq!(source.path, "/api/v1/logs");
    assert_eq!(source.page_size, Some(200), "the source's own key wins");
    assert_eq!(
        source.window.lookback,
        std::time::Duration::from_secs(86_400)
    );
    assert_eq!(
        source.window.settle_delay,
        std::time::Duration::from_secs(120),
        "tables merge key by key"
    );

    std::fs::write(&path, config_text.replace("okta.toml", "missing.toml")).unwrap();
    let err = load(&path).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("sources[0].connector"));
    assert!(err.message.contains("missing.toml"), "{err}");
}

#[test]
fn specs_that_cannot_work_are_rejected_with_the_key_and_a_hint() {
    let cases = [
        (
            "pagination = { kind = \"link_header\" }",
            "pagination = { kind = \"cursor\", path = \"next\" }",
            "sources[0].pagination",
            "{cursor}",
        ),
        (
            "query = { since = \"{start}\", until = \"{end}\" }",
            "query = { until = \"{end}\" }",
            "sources[0].query",
            "{start}",
        ),
        (
            "query = { since = \"{start}\", until = \"{end}\" }",
            "query = { since = \"{strat}\" }",
            "sources[0].query",
            "{strat}",
        ),
        (
            "pagination = { kind = \"link_header\" }",
            "pagination = { kind = \"offset\" }\nheaders = { X-Offset = \"{offset}\" }",
            "sources[0].page_size",
            "page_size",
        ),
        (
            "pagination = { kind = \"link_header\" }",
            "pagination = { kind = \"link_header\" }\nbody = '{\"a\": \"{cursor}\"}'",
            "sources[0].body",
            "POST",
        ),
        (
            "pagination = { kind = \"link_header\" }",
            "pagination = { kind = \"cursor\", path = \"c\", param = \"c\" }\nnext_body = '{\"c\": \"{cursor}\"}'",
            "sources[0].next_body",
            "POST",
        ),
        (
            "pagination = { kind = \"link_header\" }",
            "method = \"POST\"\npagination = { kind = \"link_header\" }\nnext_body = '{\"c\": \"{cursor}\"}'",
            "sources[0].next_body",
            "only cursor pagination",
        ),
        (
            "pagination = { kind = \"link_header\" }",
            "pagination = { kind = \"link_header\" }\nnext_path = \"/v1/more\"",
            "sources[0].next_path",
            "only cursor pagination",
        ),
        (
            "pagination = { kind = \"link_header\" }",
            "method = \"POST\"\npagination = { kind = \"cursor\", path = \"c\", param = \"c\" }\nnext_body = '{\"c\": \"{limit}\"}'",
            "sources[0].next_body",
            "{cursor}",
        ),
        (
            "pagination = { kind = \"link_header\" }",
            "method = \"POST\"\npagination = { kind = \"cursor\", path = \"c\", param = \"c\" }\nnext_body = '{\"c\": {cursor}}'",
            "sources[0].next_body",
            "not JSON",
        ),
        (
            "pagination = { kind = \"link_header\" }",
            "pagination = { kind = \"link_header\", bogus = 1 }",
            "sources[0].pagination.bogus",
            "unknown field",
        ),
    ];
    for (from, to, key, needle) in cases {
        let text = GOOD.replacen(from, to, 1);
        let e = err(&text);
        assert_eq!(e.key.as_deref(), Some(key), "{to}: {e}");
        assert!(e.to_string().contains(needle), "{to}: {e}");
        assert!(e.hint.is_some(), "{to}: {e}");
    }
}

#[test]
fn schedules_load_with_a_default_and_per_source_overrides() {
    let config = load_str(GOOD, Path::new("sluice.toml")).unwrap();
    let default = config.schedule_of(&config.sources[0]);
    assert_eq!(default.every, Some(std::time::Duration::from_secs(300)));
    assert_eq!(default.jitter, std::time::Duration::from_secs(30));

    let text = format!(
        "[serve]\nlisten = \"0.0.0.0:9000\"\nschedule = {{ every = \"1m\", jitter = \"5s\" }}\n{}",
        GOOD.replace(
            "sinks = [\"lake\"]\nquery",
            "sinks = [\"lake\"]\nschedule = { cron = \"0 */5 * * * *\" }\nquery"
        )
    );
    let config = load_str(&text, Path::new("sluice.toml")).unwrap();
    assert_eq!(config.serve.listen, "0.0.0.0:9000");
    assert_eq!(
        config.serve.schedule.every,
        Some(std::time::Duration::from_secs(60))
    );
    let own = config.schedule_of(&config.sources[0]);
    assert_eq!(own.cron.as_deref(), Some("0 */5 * * * *"));
    assert_eq!(own.every, None);
}

#[test]
fn bad_schedules_name_file_line_key_and_hint() {
    let with_schedule = |schedule: &str| {
        GOOD.replace(
            "sinks = [\"lake\"]\nquery",
            &format!("sinks = [\"lake\"]\nschedule = {schedule}\nquery"),
        )
    };
    let cases = [
        (
            with_schedule("{ cron = \"0 */5 * * *\" , jitter = \"1m\", every = \"5m\" }"),
            "sources[0].schedule",
            7,
            "both",
        ),
        (
            with_schedule("{ cron = \"0 25 * * *\" }"),
            "sources[0].schedule.cron",
            7,
            "not a cron expression",
        ),
        (
            with_schedule("{ every = \"1m\", jitter = \"2m\" }"),
            "sources[0].schedule.jitter",
            7,
            "not shorter",
        ),
        (
            format!("[serve]\nschedule = {{ every = \"1m\", jitter = \"1m\" }}\n{GOOD}"),
            "serve.schedule.jitter",
            2,
            "not shorter",
        ),
        (
            format!("[serve]\nlisten = \"localhost\"\n{GOOD}"),
            "serve.listen",
            2,
            "not an address",
        ),
        (
            format!("[serve]\nmax_connections = 0\n{GOOD}"),
            "serve.max_connections",
            2,
            "at least 1",
        ),
        (
            format!("[serve]\nidle_timeout = \"0s\"\n{GOOD}"),
            "serve.idle_timeout",
            2,
            "longer than zero",
        ),
        (
            format!("[serve]\nlisten = \"0.0.0.0:9464\"\ntoken = \" \"\n{GOOD}"),
            "serve.token",
            3,
            "empty",
        ),
    ];
    for (text, key, line, needle) in cases {
        let e = err(&text);
        assert_eq!(e.key.as_deref(), Some(key), "{e}");
        assert_eq!(e.position.map(|p| p.0), Some(line), "{e}");
        assert!(e.message.contains(needle), "{e}");
        assert!(e.hint.is_some(), "{e}");
    }
    let e = err(&format!("[serve]\nlisen = \"0.0.0.0:1\"\n{GOOD}"));
    assert!(e.message.contains("unknown field `lisen`"), "{e}");
    assert_eq!(e.position.map(|p| p.0), Some(2), "{e}");
    let e = err(&with_schedule("{ evry = \"5m\" }"));
    assert!(e.message.contains("unknown field `evry`"), "{e}");
    assert_eq!(e.key.as_deref(), Some("sources[0].schedule.evry"), "{e}");
    assert_eq!(e.position.map(|p| p.0), Some(7), "{e}");
}

#[test]
fn malformed_paths_name_their_key_line_and_the_fix() {
    let cases = [
        (
            "pagination = { kind = \"link_header\" }",
            "pagination = { kind = \"next_url\", path = \"a..b\" }",
            "sources[0].pagination.path",
            8,
        ),
        (
            "pagination = { kind = \"link_header\" }",
            "pagination = { kind = \"cursor\", path = \"n\", param = \"c\", has_more_path = '\"x' }",
            "sources[0].pagination.has_more_path",
            8,
        ),
        (
            "event_time = { path = \"published\" }",
            "event_time = { path = \"/a/~2\" }",
            "sources[0].event_time.path",
            9,
        ),
        (
            "event_id = { path = \"uuid\" }",
            "event_id = { path = \"uuid\" }\nrecords_path = \"data.\"",
            "sources[0].records_path",
            11,
        ),
    ];
    for (from, to, key, line) in cases {
        let e = err(&GOOD.replacen(from, to, 1));
        assert_eq!(e.key.as_deref(), Some(key), "{to}: {e}");
        assert_eq!(e.position.map(|p| p.0), Some(line), "{to}: {e}");
        assert!(e.message.starts_with("path `"), "{to}: {e}");
        assert!(
            e.hint
                .as_deref()
                .is_some_and(|h| h.contains("/@odata.nextLink")),
            "{to}: {e}"
        );
    }
    // Keys with dots, quoted or as a JSON Pointer, load.
    for path in ["'\"@odata.nextLink\"'", "\"/@odata.nextLink\""] {
        let text = GOOD.replacen(
            "pagination = { kind = \"link_header\" }",
            &format!("pagination = {{ kind = \"next_url\", path = {path} }}"),
            1,
        );
        let config = load_str(&text, Path::new("sluice.toml")).unwrap();
        let PaginationConfig::NextUrl { path } = &config.sources[0].pagination else {
            panic!("{:?}", config.sources[0].pagination)
        };
        let body = serde_json::json!({"@odata.nextLink": "u"});
        assert_eq!(path.lookup(&body), Some(&serde_json::json!("u")));
    }
}

#[test]
fn bad_base_url_is_rejected() {
    let e = err(&GOOD.replace("https://acme.okta.com", "acme.okta.com"));
    assert_eq!(e.key.as_deref(), Some("sources[0].base_url"));
}
