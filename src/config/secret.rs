//! The secret fields of a config document, and their references resolved in one pass.
//!
//! Loading never does I/O inside serde. Before the document is deserialized, the loader
//! collects every key that holds a secret ([`fields`]: the keys of [`RULES`], the list
//! docs/configuration.md gives users) with its `${env:NAME}`, `${file:PATH}` and secret manager
//! references (`${aws-sm:...}`, `${gcp-sm:...}`, `${vault:...}`, see [`crate::secrets`]).
//! [`resolve`] reads the variables and files and fetches every manager's secrets together
//! (one client per manager, bounded concurrency); the loader puts the values in place of the
//! references, and deserializing a [`crate::model::Secret`] then only takes text.
//!
//! References are resolved only in these keys: elsewhere (`query`, `headers`, a user name)
//! `${env:X}` is sent as written.

use std::path::Path;

use crate::secrets::{Location, Reference};

/// One step of a key path in the document: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// A key of a table.
    Key(String),
    /// An element of an array (of tables).
    Index(usize),
}

/// A key of the document that holds a secret, with the text written there.
#[derive(Debug)]
pub(super) struct Field {
    /// The key as errors show it, e.g. `sources[0].auth.token`.
    key: String,
    /// Where it is in the document.
    steps: Vec<Step>,
    /// The text written, references and all.
    raw: String,
    /// Resolved even by commands that leave secrets alone (the state store's).
    always: bool,
    /// A URL holding a secret: its password is scrubbed, not the whole URL.
    url: bool,
}

/// Which keys hold secrets: in the tables `tables` names (`name[]` is each table of an
/// array) whose `kind` is one of `kinds` (any table when empty), the keys `fields`.
struct Rule {
    tables: &'static str,
    kinds: &'static [&'static str],
    fields: &'static [&'static str],
    always: bool,
    url: bool,
}

impl Rule {
    const fn new(
        tables: &'static str,
        kinds: &'static [&'static str],
        fields: &'static [&'static str],
    ) -> Rule {
        Rule {
            tables,
            kinds,
            fields,
            always: false,
            url: false,
        }
    }
}

/// The secret keys of every kind of `auth` (a source's, an `http` sink's).
const AUTH: &[&str] = &[
    "token",
    "key",
    "password",
    "client_secret",
    "private_key",
    "certificate",
    "refresh_token",
    "credentials",
    "secret_key",
];

/// Every key that holds a [`crate::model::Secret`], in the order the settings are read.
/// A new secret setting adds its key here (and to docs/configuration.md's list); the
/// `every_secret_setting_is_resolved` test fails until it does.
const RULES: &[Rule] = &[
    Rule {
        always: true,
        url: true,
        ..Rule::new("state", &["postgres"], &["url"])
    },
    Rule {
        always: true,
        ..Rule::new(
            "state",
            &["object"],
            &["access_key_id", "secret_access_key"],
        )
    },
    Rule::new("sources[].auth", &[], AUTH),
    Rule::new(
        "sinks[]",
        &["lake"],
        &["access_key_id", "secret_access_key"],
    ),
    Rule::new("sinks[]", &["splunk_hec"], &["token"]),
    Rule::new("sinks[]", &["elasticsearch"], &["api_key", "password"]),
    Rule::new("sinks[].auth", &[], AUTH),
    Rule::new("serve", &[], &["token"]),
    Rule::new("notifiers[]", &["slack"], &["webhook_url"]),
    Rule::new("notifiers[]", &["webhook"], &["url", "secret"]),
    Rule::new("notifiers[]", &["pagerduty"], &["routing_key"]),
    Rule::new("notifiers[]", &["email"], &["password"]),
    Rule::new("sources[].canary.request", &[], &["body"]),
    Rule::new("sources[].canary.request.headers", &[], &["*"]),
    Rule::new("sinks[].ledger", &[], &["signing_key"]),
    Rule::new("sources[].transforms[]", &["hash"], &["key"]),
    Rule::new("sinks[].transforms[]", &["hash"], &["key"]),
];

/// Every secret key `document` holds with a text value, in the order of [`RULES`]. (A value
/// of another type is left to deserialization, which says what type it needs.)
pub(super) fn fields(document: &toml::Table) -> Vec<Field> {
    let mut found = Vec::new();
    for rule in RULES {
        for (key, steps, table) in tables(document, rule.tables) {
            let kind = table.get("kind").and_then(toml::Value::as_str);
            if !rule.kinds.is_empty() && !kind.is_some_and(|kind| rule.kinds.contains(&kind)) {
                continue;
            }
            for name in rule.fields {
                // `*`: every key of the table (a map of secrets, like a request's headers).
                let named: Vec<(&String, &toml::Value)> = match *name {
                    "*" => table.iter().collect(),
                    name => table.get_key_value(name).into_iter().collect(),
                };
                for (name, value) in named {
                    let toml::Value::String(raw) = value else {
                        continue;
                    };
                    let mut steps = steps.clone();
                    steps.push(Step::Key(name.to_string()));
                    found.push(Field {
                        key: format!("{key}.{name}"),
                        steps,
                        raw: raw.clone(),
                        always: rule.always,
                        url: rule.url,
                    });
                }
            }
        }
    }
    found
}

/// The tables `pattern` (`sources[].auth`) names in `document`, with their key and steps.
fn tables<'d>(
    document: &'d toml::Table,
    pattern: &str,
) -> Vec<(String, Vec<Step>, &'d toml::Table)> {
    let mut current = vec![(String::new(), Vec::new(), document)];
    for part in pattern.split('.') {
        let (name, each) = match part.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (part, false),
        };
        let mut next = Vec::new();
        for (key, steps, table) in current {
            let Some(value) = table.get(name) else {
                continue;
            };
            let key = if key.is_empty() {
                name.to_string()
            } else {
                format!("{key}.{name}")
            };
            let mut steps = steps;
            steps.push(Step::Key(name.to_string()));
            match value {
                toml::Value::Array(items) if each => {
                    for (i, item) in items.iter().enumerate() {
                        if let toml::Value::Table(table) = item {
                            let mut steps = steps.clone();
                            steps.push(Step::Index(i));
                            next.push((format!("{key}[{i}]"), steps, table));
                        }
                    }
                }
                toml::Value::Table(table) if !each => next.push((key, steps, table)),
                _ => {}
            }
        }
        current = next;
    }
    current
}

/// A secret key's resolved value, to put in the document in place of what was written.
#[derive(Debug)]
pub(super) struct Resolved {
    /// Where it goes.
    pub(super) steps: Vec<Step>,
    /// The value (a secret: never shown).
    pub(super) value: String,
}

/// Why a secret key could not be resolved.
#[derive(Debug)]
pub(super) struct Unresolved {
    /// The key, e.g. `sources[0].auth.token`.
    pub(super) key: String,
    /// What went wrong, quoting the reference (never a value), then ` (hint: …)`.
    pub(super) message: String,
}

/// A reference as written between `${` and `}`, and what it names.
enum Target {
    Env(String),
    File(String),
    Manager(Reference),
    /// Malformed or unknown: why.
    Invalid(String),
}

/// One piece of a secret's text.
enum Piece {
    Text(String),
    Reference { written: String, target: Target },
}

/// Splits `raw` into text and references. The error quotes nothing of the value: the text
/// around `${` may be a credential.
fn pieces(raw: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        pieces.push(Piece::Text(rest[..start].to_string()));
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| {
            "unclosed secret reference: `${` without a closing `}` (hint: write ${env:NAME}, ${file:PATH} or a secret manager reference, or move a literal value containing `${` into a file and use ${file:PATH})".to_string()
        })?;
        let written = &after[..end];
        pieces.push(Piece::Reference {
            written: written.to_string(),
            target: target(written),
        });
        rest = &after[end + 1..];
    }
    pieces.push(Piece::Text(rest.to_string()));
    Ok(pieces)
}

fn target(reference: &str) -> Target {
    match reference.split_once(':') {
        Some(("env", name)) => Target::Env(name.to_string()),
        Some(("file", path)) => Target::File(path.to_string()),
        Some((scheme, body)) => match Reference::parse(scheme, body) {
            Some(Ok(reference)) => Target::Manager(reference),
            Some(Err(problem)) => Target::Invalid(problem.to_string()),
            None => Target::Invalid(unknown(reference)),
        },
        None => Target::Invalid(unknown(reference)),
    }
}

fn unknown(reference: &str) -> String {
    format!(
        "unknown secret reference `${{{reference}}}` (hint: use ${{env:NAME}}, ${{file:PATH}}, ${{aws-sm:NAME#KEY}}, ${{gcp-sm:projects/P/secrets/S/versions/V}} or ${{vault:PATH#KEY}})"
    )
}

/// Resolves `fields` in one pass: every variable and file is read and every manager's
/// secrets are fetched together (see [`crate::secrets`]); then each key's value is put
/// together in order, and the first key that cannot be is the error. `all` is `false` for
/// commands that never use credentials (`sluice status`): only the keys every command needs
/// (the state store's) are resolved, and the others are registered for scrubbing as far as
/// that needs no request. `base` is the config file's directory, for relative files.
///
/// Every value a reference resolves to, and the whole value of a key without references (a
/// credential written into the file), is registered with [`crate::redact`].
pub(super) fn resolve(
    fields: Vec<Field>,
    all: bool,
    base: Option<&Path>,
) -> Result<Vec<Resolved>, Unresolved> {
    let mut parsed = Vec::with_capacity(fields.len());
    for field in fields {
        if !(all || field.always) {
            register_without_resolving(&field.raw, base);
            continue;
        }
        let pieces = pieces(&field.raw);
        parsed.push((field, pieces));
    }
    let locations: Vec<Location> = parsed
        .iter()
        .filter_map(|(_, pieces)| pieces.as_ref().ok())
        .flatten()
        .filter_map(|piece| match piece {
            Piece::Reference {
                target: Target::Manager(reference),
                ..
            } => Some(reference.location.clone()),
            _ => None,
        })
        .collect();
    let fetched = crate::secrets::fetch_all_blocking(locations);
    let mut resolved = Vec::new();
    for (field, pieces) in parsed {
        let unresolved = |message: String| Unresolved {
            key: field.key.clone(),
            message,
        };
        let pieces = pieces.map_err(unresolved)?;
        let mut value = String::with_capacity(field.raw.len());
        let mut references = 0;
        for piece in pieces {
            match piece {
                Piece::Text(text) => value.push_str(&text),
                Piece::Reference { written, target } => {
                    let one = read(&target, &fetched, base)
                        .map_err(|e| unresolved(format!("secret `${{{written}}}`: {e}")))?;
                    if matches!(target, Target::Manager(_)) {
                        // The reference names the secret, never its value.
                        tracing::debug!(reference = %format!("${{{written}}}"), "resolved a secret from its manager");
                    }
                    crate::redact::register(&one);
                    value.push_str(&one);
                    references += 1;
                }
            }
        }
        if field.url {
            register_url_password(&value);
        } else if references == 0 {
            crate::redact::register(&value);
        }
        if references > 0 {
            resolved.push(Resolved {
                steps: field.steps,
                value,
            });
        }
    }
    Ok(resolved)
}

/// The value one reference names.
fn read(
    target: &Target,
    fetched: &crate::secrets::Fetched,
    base: Option<&Path>,
) -> Result<String, String> {
    match target {
        Target::Env(name) => std::env::var(name).map_err(|_| {
            format!(
                "environment variable {name} is not set (hint: export {name}=... before starting sluice, or use ${{file:PATH}})"
            )
        }),
        Target::File(path) => {
            std::fs::read_to_string(super::paths::from_config_dir(base, Path::new(path)))
                .map(|text| text.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|err| {
                    format!("cannot read secret file {path}: {err} (hint: check the path and its permissions)")
                })
        }
        Target::Manager(reference) => match fetched.get(&reference.location) {
            Some(Ok(whole)) => reference.pick(whole).map_err(|err| err.to_string()),
            Some(Err(err)) => {
                // The kind tells a manager that is down from a reference that is wrong;
                // the message (the config error) says which.
                tracing::debug!(kind = %err.failure_kind(), "a secret manager could not give a secret");
                Err(err.to_string())
            }
            // Cannot happen: every manager reference's secret was asked for.
            None => Err("internal error: the secret was not fetched".to_string()),
        },
        Target::Invalid(problem) => Err(problem.clone()),
    }
}

/// For a URL holding a secret (a database URL): its password is registered for scrubbing,
/// not the URL itself, which errors show (with the password hidden) to say what could not be
/// reached.
fn register_url_password(value: &str) {
    if let Ok(url) = url::Url::parse(value) {
        if let Some(password) = url.password() {
            crate::redact::register(password);
            let decoded = percent_encoding::percent_decode_str(password).decode_utf8_lossy();
            crate::redact::register(&decoded);
        }
    }
}

/// For commands that leave secrets unresolved (`sluice status`): registers for scrubbing
/// what can be had without a request or an error, so that text stored by an older version
/// is still scrubbed when shown: the literal value, and `${env:...}` and `${file:...}`
/// references that resolve. Secret manager references are not fetched.
fn register_without_resolving(raw: &str, base: Option<&Path>) {
    let Ok(pieces) = pieces(raw) else {
        // `${` without `}`: no reference, so the text may be a credential.
        crate::redact::register(raw);
        return;
    };
    let mut references = 0;
    for piece in pieces {
        if let Piece::Reference { target, .. } = piece {
            references += 1;
            if matches!(target, Target::Env(_) | Target::File(_)) {
                if let Ok(value) = read(&target, &crate::secrets::Fetched::new(), base) {
                    crate::redact::register(&value);
                }
            }
        }
    }
    if references == 0 {
        crate::redact::register(raw);
    }
}

#[cfg(test)]
#[path = "secret_tests.rs"]
mod tests;

/// For unit tests of the modules below the loader that read an `auth` table on their own:
/// the table with its secret keys resolved (and registered for scrubbing) as a load does.
#[cfg(test)]
pub(crate) fn resolved_auth(text: &str) -> toml::Table {
    let auth: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{text}\n{e}"));
    let mut source = toml::Table::new();
    source.insert("auth".into(), toml::Value::Table(auth));
    let mut document = toml::Table::new();
    document.insert(
        "sources".into(),
        toml::Value::Array(vec![toml::Value::Table(source)]),
    );
    let resolved = resolve(fields(&document), true, None)
        .unwrap_or_else(|u| panic!("{}: {}", u.key, u.message));
    let mut document = super::document::Document::Merged(document);
    for secret in &resolved {
        document.set(&secret.steps, &secret.value);
    }
    document
        .plain()
        .and_then(|d| d["sources"][0]["auth"].as_table().cloned())
        .unwrap_or_default()
}
