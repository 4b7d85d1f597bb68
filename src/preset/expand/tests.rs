use super::*;

const PRESET: &str = r#"
[preset]
name = "acme"
product = "Acme Audit"
docs = "docs/connectors/acme.md"
reference = "https://acme.example/api"
checked = "2026-12-07"

[[settings]]
name = "domain"
help = "your Acme domain"
required = true
example = "corp.acme.example"

[[settings]]
name = "token"
help = "an API token"
secret = true

[[settings]]
name = "client_id"
help = "OAuth client id"

[[settings]]
name = "client_secret"
help = "OAuth client secret"
secret = true

[[settings]]
name = "limit"
help = "page size"
default = 500

[[settings]]
name = "region"
help = "optional region header"

[[auth]]
name = "token"
help = "API token"
requires = ["token"]
spec = { kind = "bearer", token = "{{token}}" }

[[auth]]
name = "oauth"
help = "OAuth client"
requires = ["client_id", "client_secret"]
spec = { kind = "oauth2", token_url = "https://{{domain}}/token", client_id = "{{client_id}}", client_secret = "{{client_secret}}" }

[spec]
base_url = "https://{{domain}}"
path = "/audit"
page_size = "{{limit}}"
headers = { x-region = "{{region}}", x-note = "domain {{domain}} region {{region}}" }

[[streams]]
name = "login"
help = "sign-ins"
spec = { query = { app = "login" } }

[[streams]]
name = "admin"
help = "admin changes"
spec = { query = { app = "admin" } }

[[streams]]
name = "rare"
help = "off by default"
default = false
spec = { query = { app = "rare" } }
"#;

fn preset() -> Preset {
    toml::from_str(PRESET).expect("test preset parses")
}

fn user(text: &str) -> toml::Table {
    text.parse().expect("test table parses")
}

#[test]
fn settings_fill_the_spec_with_their_types_and_streams_become_sources() {
    let tables = expand(
        &preset(),
        user(
            r#"name = "a"
domain = "x.acme.example"
token = "${env:T}"
sinks = ["lake"]"#,
        ),
    )
    .unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["a-login", "a-admin"],
        "default streams only, named <name>-<stream>"
    );
    let t = &tables[0];
    assert_eq!(t["base_url"].as_str(), Some("https://x.acme.example"));
    assert_eq!(
        t["page_size"].as_integer(),
        Some(500),
        "a sole placeholder keeps the type"
    );
    assert_eq!(t["auth"]["kind"].as_str(), Some("bearer"));
    assert_eq!(
        t["auth"]["token"].as_str(),
        Some("${env:T}"),
        "secret references pass through"
    );
    assert_eq!(t["query"]["app"].as_str(), Some("login"));
    assert_eq!(t["sinks"].as_array().map(Vec::len), Some(1));
    assert!(
        t["headers"].get("x-region").is_none(),
        "an absent optional sole placeholder is removed"
    );
    assert_eq!(
        t["headers"]["x-note"].as_str(),
        Some("domain x.acme.example region ")
    );
}

#[test]
fn the_first_complete_credential_variant_is_chosen() {
    let tables = expand(
        &preset(),
        user(
            r#"domain = "d"
client_id = "id"
client_secret = "s"
streams = ["rare"]"#,
        ),
    )
    .unwrap();
    assert_eq!(tables.len(), 1);
    assert_eq!(
        tables[0]["name"].as_str(),
        Some("acme-rare"),
        "the name defaults to the preset's"
    );
    assert_eq!(tables[0]["auth"]["kind"].as_str(), Some("oauth2"));
    assert_eq!(
        tables[0]["auth"]["token_url"].as_str(),
        Some("https://d/token")
    );
}

#[test]
fn the_users_own_keys_override_the_spec() {
    let tables = expand(
        &preset(),
        user(
            r#"domain = "d"
token = "t"
base_url = "http://127.0.0.1:8080"
streams = ["admin"]
[window]
lookback = "1h""#,
        ),
    )
    .unwrap();
    assert_eq!(
        tables[0]["base_url"].as_str(),
        Some("http://127.0.0.1:8080")
    );
    assert_eq!(tables[0]["window"]["lookback"].as_str(), Some("1h"));
}

#[test]
fn a_missing_setting_is_named_with_an_example_and_the_docs_page() {
    let e = expand(&preset(), user(r#"token = "t""#)).unwrap_err();
    assert_eq!(e.key, "domain");
    assert!(e.message.contains("needs `domain`"), "{e:?}");
    assert!(e.hint.contains("domain = \"corp.acme.example\""), "{e:?}");
    assert!(e.hint.contains("docs/connectors/acme.md"), "{e:?}");
}

#[test]
fn an_unknown_key_suggests_the_closest_setting() {
    let e = expand(
        &preset(),
        user(
            r#"domian = "d"
token = "t""#,
        ),
    )
    .unwrap_err();
    assert_eq!(e.key, "domian");
    assert!(e.hint.contains("did you mean `domain`"), "{e:?}");
    assert!(e.hint.contains("docs/connectors/acme.md"), "{e:?}");
}

#[test]
fn no_credential_lists_every_way_to_give_one() {
    let e = expand(
        &preset(),
        user(
            r#"domain = "d"
client_id = "only-half""#,
        ),
    )
    .unwrap_err();
    assert_eq!(e.key, "auth");
    assert!(e.hint.contains("token (API token)"), "{e:?}");
    assert!(e.hint.contains("client_id + client_secret"), "{e:?}");
}

#[test]
fn an_unknown_or_repeated_stream_is_refused() {
    let e = expand(
        &preset(),
        user(
            r#"domain = "d"
token = "t"
streams = ["logins"]"#,
        ),
    )
    .unwrap_err();
    assert_eq!(e.key, "streams");
    assert!(e.hint.contains("login, admin, rare"), "{e:?}");
    let e = expand(
        &preset(),
        user(
            r#"domain = "d"
token = "t"
streams = ["login", "login"]"#,
        ),
    )
    .unwrap_err();
    assert!(e.message.contains("twice"), "{e:?}");
}

#[test]
fn a_placeholder_naming_no_setting_is_a_preset_defect() {
    let mut p = preset();
    p.spec
        .insert("path".into(), toml::Value::String("/x/{{tenant}}".into()));
    let e = expand(
        &p,
        user(
            r#"domain = "d"
token = "t""#,
        ),
    )
    .unwrap_err();
    assert!(e.message.contains("{{tenant}}"), "{e:?}");
}

#[test]
fn source_keys_match_the_source_config() {
    // serde lists the expected fields when it meets an unknown one: that list is the truth.
    let err = toml::from_str::<crate::config::SourceConfig>("not_a_field = 1")
        .unwrap_err()
        .to_string();
    let listed: Vec<&str> = err
        .split("expected one of ")
        .nth(1)
        .expect("serde lists the fields")
        .split(',')
        .map(|f| f.trim().trim_matches('`').trim_end_matches('`'))
        .filter(|f| !f.is_empty())
        .collect();
    let mut listed: Vec<&str> = listed
        .iter()
        .map(|f| f.split('`').next().unwrap_or(f))
        .collect();
    listed.sort_unstable();
    let mut ours = SOURCE_KEYS.to_vec();
    ours.sort_unstable();
    assert_eq!(listed, ours, "update SOURCE_KEYS in src/preset/expand.rs");
}
