use std::path::Path;

use super::*;
use crate::model::Secret;

/// `raw` as the value of `[serve] token`, resolved as a load does.
fn resolve_one(raw: &str, all: bool, base: Option<&Path>) -> Result<String, String> {
    let mut document = toml::Table::new();
    let mut serve = toml::Table::new();
    serve.insert("token".into(), toml::Value::String(raw.into()));
    document.insert("serve".into(), toml::Value::Table(serve));
    let fields = fields(&document);
    assert_eq!(fields.len(), 1, "{fields:?}");
    let resolved = resolve(fields, all, base).map_err(|u| {
        assert_eq!(u.key, "serve.token");
        u.message
    })?;
    Ok(resolved
        .into_iter()
        .next()
        .map_or_else(|| raw.to_string(), |r| r.value))
}

#[test]
fn debug_and_display_redact() {
    let secret = Secret::new("hunter2");
    assert_eq!(format!("{secret:?}"), "[redacted]");
    assert_eq!(format!("{secret}"), "[redacted]");
    assert_eq!(secret.expose(), "hunter2");
}

#[test]
fn resolves_env_and_file_references_inside_text() {
    std::env::set_var("SLUICE_TEST_SECRET_A", "abc");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "from-file\n").unwrap();
    let raw = format!(
        "x ${{env:SLUICE_TEST_SECRET_A}} ${{file:{}}}",
        file.display()
    );
    assert_eq!(resolve_one(&raw, true, None).unwrap(), "x abc from-file");
}

#[test]
fn missing_env_names_the_variable_and_not_the_value() {
    let err = resolve_one("${env:SLUICE_TEST_SURELY_UNSET}", true, None).unwrap_err();
    assert!(err.contains("SLUICE_TEST_SURELY_UNSET"), "{err}");
    assert!(err.contains("hint"), "{err}");
}

#[test]
fn relative_files_are_read_from_the_config_directory_and_status_needs_none() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "t0k\n").unwrap();
    let secret = resolve_one("${file:token}", true, Some(dir.path())).unwrap();
    assert_eq!(secret, "t0k");
    let unresolved = resolve_one("${env:SLUICE_TEST_NEVER_SET}", false, None);
    assert_eq!(unresolved.unwrap(), "${env:SLUICE_TEST_NEVER_SET}");
}

#[test]
fn unknown_scheme_is_rejected() {
    assert!(resolve_one("${vaults:x}", true, None).is_err());
    assert!(
        resolve_one("${vault:x}", true, None).is_err(),
        "no mount/path: refused before any request"
    );
    assert!(resolve_one("${env:X", true, None).is_err());
}

#[test]
fn only_secret_keys_of_the_right_kind_are_collected() {
    let document: toml::Table = r#"
[state]
kind = "object"
url = "s3://b/${env:NOT_A_SECRET}"
access_key_id = "${env:KEY_ID}"

[[sources]]
name = "a"
query = { q = "${env:NOT_A_SECRET}" }
auth = { kind = "bearer", token = "${env:TOKEN}" }
transforms = [{ kind = "hash", key = "${env:HASH}" }, { kind = "set", key = "x" }]
canary = { request = { url = "https://x/${env:NOT_A_SECRET}", headers = { Authorization = "${env:CANARY}" } } }

[[notifiers]]
kind = "pagerduty"
url = "https://events.example/${env:NOT_A_SECRET}"
routing_key = "${env:ROUTING}"
"#
    .parse()
    .unwrap();
    let found: Vec<(String, bool)> = fields(&document)
        .into_iter()
        .map(|f| (f.key, f.always))
        .collect();
    assert_eq!(
        found,
        [
            ("state.access_key_id".to_string(), true),
            ("sources[0].auth.token".to_string(), false),
            ("notifiers[0].routing_key".to_string(), false),
            (
                "sources[0].canary.request.headers.Authorization".to_string(),
                false
            ),
            ("sources[0].transforms[0].key".to_string(), false),
        ]
    );
}

/// Every setting of type `Secret` (or `Option<Secret>`) in a deserialized type of `src/`
/// is named by a rule of [`RULES`]: otherwise its `${…}` would reach the wire as written.
#[test]
fn every_secret_setting_is_resolved() {
    let known: Vec<&str> = RULES
        .iter()
        .flat_map(|r| r.fields.iter().copied())
        .collect();
    let mut missing = Vec::new();
    let mut seen = 0;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Inside an item that derives `Deserialize`: from its derive to the `}` that
            // closes it at the start of a line.
            let mut deserialized = false;
            for line in text.lines() {
                if line.trim_start().starts_with("#[derive(") && line.contains("Deserialize") {
                    deserialized = true;
                } else if line.starts_with('}') {
                    deserialized = false;
                } else if deserialized {
                    let field = line.trim().trim_start_matches("pub ");
                    if let Some((name, ty)) = field.split_once(": ") {
                        let ty = ty.trim_end_matches(',');
                        if ty == "Secret" || ty == "Option<Secret>" {
                            seen += 1;
                            if !known.contains(&name) {
                                missing.push(format!("{}: {name}", path.display()));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(seen >= 20, "the scan found only {seen} secret settings");
    assert!(
        missing.is_empty(),
        "secret settings no rule of config/secret.rs names: {missing:?}"
    );
}

const SOURCE: &str = r#"
[[sources]]
name = "okta"
base_url = "https://acme.okta.com"
path = "/api/v1/logs"
sinks = ["lake"]
query = { since = "{start}", until = "{end}" }
pagination = { kind = "link_header" }
event_time = { path = "published" }
event_id = { path = "uuid" }
auth = { kind = "bearer", token = "literal-token-1" }

[[sources.transforms]]
kind = "hash"
fields = ["actor"]
key = "${env:SLUICE_TEST_UNSET_HASH_KEY}"

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
"#;

/// Line and column (1-based) of the first `needle` in `text`.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).expect("in the text");
    let line = text[..offset].matches('\n').count() + 1;
    let column = offset - text[..offset].rfind('\n').map_or(0, |n| n + 1) + 1;
    (line, column)
}

#[test]
fn an_unresolvable_reference_names_its_file_line_and_key() {
    let e = crate::config::load_str(SOURCE, Path::new("sluice.toml")).unwrap_err();
    let (line, column) = position_of(SOURCE, "${env:SLUICE_TEST_UNSET_HASH_KEY}");
    assert_eq!(
        e.to_string(),
        format!(
            "sluice.toml:{line}:{column}: sources[0].transforms[0].key: secret `${{env:SLUICE_TEST_UNSET_HASH_KEY}}`: environment variable SLUICE_TEST_UNSET_HASH_KEY is not set\n  hint: export SLUICE_TEST_UNSET_HASH_KEY=... before starting sluice, or use ${{file:PATH}}"
        )
    );
}

#[test]
fn the_state_stores_secrets_are_resolved_even_without_secrets() {
    let text = format!(
        "[state]\nkind = \"postgres\"\nurl = \"postgres://sluice:${{env:SLUICE_TEST_UNSET_PG}}@db/sluice\"\n{SOURCE}"
    );
    let e = crate::config::load_str_without_secrets(&text, Path::new("sluice.toml")).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("state.url"), "{e}");
    assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
    assert!(e.message.contains("SLUICE_TEST_UNSET_PG is not set"), "{e}");
    // The other secrets (the hash key) are left alone: nothing else is wrong.
    let text = text.replace("${env:SLUICE_TEST_UNSET_PG}", "pw-literal-77");
    if let Err(e) = crate::config::load_str_without_secrets(&text, Path::new("sluice.toml")) {
        panic!("{e}");
    }
}
