//! Reading a config file: TOML parsing, secret resolution and validation, with errors that
//! point at the file, line, column and key.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::preset::merge_tables;

use super::{
    Config, HttpMethod, PaginationConfig, SinkConfig, SourceConfig, StateConfig, TimeFormat,
};

/// A configuration mistake, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file that was read.
    pub file: PathBuf,
    /// 1-based line and column of the offending key or value, when known.
    pub position: Option<(usize, usize)>,
    /// Key path such as `sources[0].auth.token`, when known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads, parses and validates the config file at `path`. Relative paths inside it (state
/// file, lake root) are taken relative to the file's directory, so a config works the same
/// from any working directory.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, true)
}

/// Like [`load`], but leaves secret references unresolved: for commands that never send a
/// request (`sluice status`), so they work where the credentials are not set.
pub fn load_without_secrets(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, false)
}

fn load_with(path: &Path, resolve: bool) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
        file: path.to_path_buf(),
        position: None,
        key: None,
        message: format!("cannot read config file: {err}"),
        hint: Some("pass the right file with --config PATH".to_string()),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    // A fresh context per load: secret manager references are fetched again on every load,
    // so a reload picks up rotated secrets.
    let context = super::secret::ResolveContext::for_load(Some(base.to_path_buf()), resolve);
    let mut config = super::secret::with_context(context, || load_str(&text, path))?;
    config.make_paths_relative_to(base);
    Ok(config)
}

/// Parses and validates config `text`; `file` is only used to name the file in errors.
///
/// Secret manager references (`${aws-sm:...}`, `${gcp-sm:...}`, `${vault:...}`) are fetched
/// here, each secret once, on a thread of their own: this function blocks until they have
/// answered (or failed), so async callers should run it with `spawn_blocking`, though calling
/// it directly from a runtime thread is safe.
pub fn load_str(text: &str, file: &Path) -> Result<Config, ConfigError> {
    super::secret::with_session(|| parse_and_validate(text, file))
}

/// Like [`load_str`], but leaves secret references unresolved (as [`load_without_secrets`]):
/// nothing is read from the environment, secret files or secret managers. For the fuzz
/// targets, which must not reach outside the process.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn load_str_without_secrets(text: &str, file: &Path) -> Result<Config, ConfigError> {
    let context = super::secret::ResolveContext::for_load(None, false);
    super::secret::with_context(context, || load_str(text, file))
}

fn parse_and_validate(text: &str, file: &Path) -> Result<Config, ConfigError> {
    let locator = Locator::new(text);
    let parsed = match merge_connectors(text, file, &locator)? {
        Some(merged) => serde_path_to_error::deserialize(merged),
        None => serde_path_to_error::deserialize(toml::Deserializer::new(text)),
    };
    let config: Config = parsed.map_err(|err| {
        let mut key = path_string(err.path());
        let inner = err.into_inner();
        let (message, hint) = describe_toml_error(&inner);
        // Tagged tables (auth, pagination...) hide the inner key from serde's path; a secret
        // or path error quotes the value, which pinpoints it.
        let secret = locator
            .find_secret_reference(&message)
            .or_else(|| locator.find_json_path(&message));
        if let (Some((_, Some(name))), Some(k)) = (&secret, &mut key) {
            if !k.ends_with(name.as_str()) {
                *k = format!("{k}.{name}");
            }
        }
        // Internally tagged tables (`[state]`, auth, pagination, sinks) are buffered by serde
        // before their variant is read, which loses toml's spans and leaves the unknown key
        // out of the path: the error would point at the table (or at 1:1). Name the key and
        // find its own line.
        let mut unknown_at = None;
        if let (Some(field), Some(k)) = (unknown_field(&message), &mut key) {
            if !k.ends_with(&format!(".{field}")) && k != field {
                *k = format!("{k}.{field}");
            }
            unknown_at = locator.find_exact_key(k);
        }
        let position = secret
            .map(|(position, _)| position)
            .or(unknown_at)
            .or_else(|| inner.span().map(|span| locator.line_col(span.start)))
            .or_else(|| key.as_deref().and_then(|k| locator.find_key(k)));
        ConfigError {
            file: file.to_path_buf(),
            position,
            key,
            message,
            hint,
        }
    })?;
    validate(&config).map_err(|v| ConfigError {
        file: file.to_path_buf(),
        position: locator.find_key(&v.key),
        key: Some(v.key),
        message: v.message,
        hint: Some(v.hint),
    })?;
    Ok(config)
}

/// Sources may name a built-in connector (`connector = "okta"`, see [`crate::preset`]) or a
/// connector spec file (`connector = "okta.toml"`) holding the keys that describe the API; the
/// source's own keys are merged over it. A preset with several streams becomes several
/// sources. Returns the merged document, or `None` when no source names a connector (then
/// errors keep their exact positions).
fn merge_connectors(
    text: &str,
    file: &Path,
    locator: &Locator<'_>,
) -> Result<Option<toml::Value>, ConfigError> {
    let Ok(mut doc) = text.parse::<toml::Table>() else {
        // Syntax errors are reported by the regular parse, with their position.
        return Ok(None);
    };
    let Some(toml::Value::Array(sources)) = doc.get_mut("sources") else {
        return Ok(None);
    };
    let mut merged_any = false;
    let mut expanded = Vec::with_capacity(sources.len());
    for (i, source) in std::mem::take(sources).into_iter().enumerate() {
        let toml::Value::Table(mut table) = source else {
            expanded.push(source);
            continue;
        };
        let Some(connector) = table.remove("connector") else {
            expanded.push(toml::Value::Table(table));
            continue;
        };
        merged_any = true;
        let error = |key: &str, message: String, hint: String| {
            let key = format!("sources[{i}].{key}");
            ConfigError {
                file: file.to_path_buf(),
                position: locator.find_key(&key),
                key: Some(key),
                message,
                hint: Some(hint),
            }
        };
        let Some(name) = connector.as_str() else {
            return Err(error(
                "connector",
                "must be a built-in connector's name or the path of a connector file".into(),
                "write connector = \"okta\" (see `sluice connectors list`) or connector = \"connectors/okta.toml\"".into(),
            ));
        };
        if let Some(preset) = crate::preset::builtin(name) {
            let tables = crate::preset::expand(preset, table)
                .map_err(|e| error(&e.key, e.message, e.hint))?;
            expanded.extend(tables.into_iter().map(toml::Value::Table));
            continue;
        }
        if !name.contains(['/', '.']) {
            let near = crate::preset::closest(name, crate::preset::names());
            let hint = if near.is_empty() {
                "`sluice connectors list` shows the built-in connectors; a connector file's path contains a '.' or '/'".to_string()
            } else {
                format!(
                    "did you mean {}? `sluice connectors list` shows them all",
                    near.iter()
                        .map(|n| format!("\"{n}\""))
                        .collect::<Vec<_>>()
                        .join(" or ")
                )
            };
            return Err(error(
                "connector",
                format!("there is no built-in connector `{name}`"),
                hint,
            ));
        }
        let path =
            super::secret::base_dir().map_or_else(|| PathBuf::from(name), |base| base.join(name));
        let spec_text = std::fs::read_to_string(&path).map_err(|err| {
            error(
                "connector",
                format!("cannot read connector file {}: {err}", path.display()),
                "the path is relative to the config file's directory".into(),
            )
        })?;
        let spec: toml::Table = spec_text.parse().map_err(|err: toml::de::Error| {
            let message = err.message().trim().to_string();
            let line = err.span().map(|span| spec_text[..span.start].matches('\n').count() + 1);
            error(
                "connector",
                format!("connector file {}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default()),
                "a connector file holds the keys of a [[sources]] table (path, query, pagination, ...) at its top level".into(),
            )
        })?;
        expanded.push(toml::Value::Table(merge_tables(spec, table)));
    }
    *sources = expanded;
    Ok(merged_any.then_some(toml::Value::Table(doc)))
}

impl Config {
    fn make_paths_relative_to(&mut self, base: &Path) {
        if let StateConfig::Sqlite { path, .. } = &mut self.state {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
        for source in &mut self.sources {
            let http = &mut source.http;
            for file in [
                &mut http.ca_file,
                &mut http.client_cert,
                &mut http.client_key,
            ]
            .into_iter()
            .flatten()
            {
                if file.is_relative() {
                    *file = base.join(&*file);
                }
            }
        }
        if let Some(dead_letter) = &mut self.dead_letter {
            if dead_letter.path.is_relative() {
                dead_letter.path = base.join(&dead_letter.path);
            }
        }
        for sink in &mut self.sinks {
            let file = match sink {
                SinkConfig::Lake(lake) => Some(&mut lake.path),
                SinkConfig::Http(http) => http.ca_file.as_mut(),
                SinkConfig::SplunkHec(hec) => hec.ca_file.as_mut(),
                SinkConfig::Elasticsearch(es) => es.ca_file.as_mut(),
                _ => None,
            };
            if let Some(file) = file {
                if file.is_relative() {
                    *file = base.join(&*file);
                }
            }
        }
    }
}

/// The key an "unknown field `x`, expected ..." message names.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(field, _)| field)
}

/// `sources[0].auth` style key path from serde's path, or `None` at the root.
fn path_string(path: &serde_path_to_error::Path) -> Option<String> {
    let text = path.to_string();
    (text != ".").then_some(text)
}

/// Splits toml's message (which embeds a source excerpt) into a one-line message and a hint.
fn describe_toml_error(err: &toml::de::Error) -> (String, Option<String>) {
    let message = err.message().trim().to_string();
    // toml says nothing when the text ends where a value should follow (`key =` last).
    if message.is_empty() {
        return (
            "the file ends where a value is expected".to_string(),
            Some("give the last key a value, e.g. key = \"value\"".to_string()),
        );
    }
    if let Some((message, hint)) = message.split_once(" (hint: ") {
        return (
            message.to_string(),
            Some(hint.trim_end_matches(')').to_string()),
        );
    }
    let hint = if message.starts_with("unknown field") {
        Some("remove the key or fix its spelling; docs/configuration.md lists every key".into())
    } else if message.starts_with("missing field") {
        Some("add the key; docs/configuration.md describes it".into())
    } else if message.contains("unknown variant") {
        Some("use one of the kinds listed above".into())
    } else if message.contains("invalid type") {
        Some("check the value's type (strings need quotes, durations look like \"5m\")".into())
    } else {
        Some("see docs/configuration.md for the expected syntax".into())
    };
    (message, hint)
}

/// A semantic problem found after parsing.
pub(super) struct Invalid {
    pub(super) key: String,
    pub(super) message: String,
    pub(super) hint: String,
}

pub(super) fn invalid(key: String, message: impl Into<String>, hint: impl Into<String>) -> Invalid {
    Invalid {
        key,
        message: message.into(),
        hint: hint.into(),
    }
}

fn validate(config: &Config) -> Result<(), Invalid> {
    if let StateConfig::Object(object) = &config.state {
        object.location().map_err(|problem| {
            // `[state]: what is wrong (hint: what to do)` → message and hint.
            let problem = problem.trim_start_matches("[state]: ");
            let (message, hint) = problem
                .split_once(" (hint: ")
                .map_or((problem, "see docs/configuration.md, [state]"), |(m, h)| {
                    (m, h.trim_end_matches(')'))
                });
            invalid("state.url".to_string(), message, hint)
        })?;
        validate_state_apart_from_lakes(config, object)?;
    }
    let mut sink_names = HashSet::new();
    for (i, sink) in config.sinks.iter().enumerate() {
        if sink.name() == crate::sink::dead_letter::SINK_NAME {
            return Err(invalid(
                format!("sinks[{i}].name"),
                format!("`{}` is reserved for the [dead_letter] queue", sink.name()),
                "pick another name",
            ));
        }
        if !sink_names.insert(sink.name()) {
            return Err(invalid(
                format!("sinks[{i}].name"),
                format!("sink name `{}` is used twice", sink.name()),
                "give every sink its own name",
            ));
        }
        if let SinkConfig::Lake(lake) = sink {
            if lake.max_open_partitions == 0 {
                return Err(invalid(
                    format!("sinks[{i}].max_open_partitions"),
                    "must be at least 1",
                    "the default is 8",
                ));
            }
        }
    }
    let mut source_names = HashSet::new();
    for (i, source) in config.sources.iter().enumerate() {
        if !source_names.insert(source.name.as_str()) {
            return Err(invalid(
                format!("sources[{i}].name"),
                format!("source name `{}` is used twice", source.name),
                "give every source its own name: checkpoints are kept by name",
            ));
        }
        validate_source(i, source, &sink_names)?;
        if source.max_silence.is_some_and(|silence| silence.is_zero()) {
            return Err(invalid(
                format!("sources[{i}].max_silence"),
                "max_silence = \"0s\" would call the source silent at once",
                "give the longest time the API may go without an event, e.g. max_silence = \"6h\"; leave it out to watch no silence",
            ));
        }
        if let Some(schedule) = &source.schedule {
            validate_schedule(&format!("sources[{i}].schedule"), schedule)?;
        }
    }
    validate_serve(&config.serve)?;
    super::notify_check::validate(config)
}

/// `[serve]`: an address to listen on and a usable default schedule.
fn validate_serve(serve: &super::ServeConfig) -> Result<(), Invalid> {
    if let Err(err) = serve.listen.parse::<std::net::SocketAddr>() {
        return Err(invalid(
            "serve.listen".into(),
            format!("`{}` is not an address to listen on: {err}", serve.listen),
            "write IP:PORT, e.g. \"127.0.0.1:9464\", or \"0.0.0.0:9464\" to be reachable from other hosts (Kubernetes probes, Prometheus)",
        ));
    }
    if serve.max_connections == 0 {
        return Err(invalid(
            "serve.max_connections".into(),
            "must be at least 1",
            "leave it out for the default (64); probes and Prometheus need one or two",
        ));
    }
    if serve.idle_timeout.is_zero() {
        return Err(invalid(
            "serve.idle_timeout".into(),
            "must be longer than zero",
            "leave it out for the default (10s); a client must have time to send a request",
        ));
    }
    validate_schedule("serve.schedule", &serve.schedule)
}

fn validate_schedule(key: &str, schedule: &super::ScheduleConfig) -> Result<(), Invalid> {
    crate::model::schedule::Schedule::from_config(schedule)
        .map(|_| ())
        .map_err(|p| {
            let key = if p.field.is_empty() {
                key.to_string()
            } else {
                format!("{key}.{}", p.field)
            };
            invalid(key, p.message, p.hint)
        })
}

/// Object state must not live inside a lake: the lake's readers (`sluice lake ddl` tables,
/// loaders that ingest every new object) would pick the state documents up as data.
fn validate_state_apart_from_lakes(
    config: &Config,
    object: &super::ObjectStateConfig,
) -> Result<(), Invalid> {
    use crate::cloud::StoreLocation;
    let Ok(state) = object.location() else {
        return Ok(());
    };
    for sink in &config.sinks {
        let SinkConfig::Lake(lake) = sink else {
            continue;
        };
        let inside = match (&state, lake.location()) {
            (StoreLocation::Directory(state), StoreLocation::Directory(lake)) => {
                state.starts_with(&lake)
            }
            (
                StoreLocation::Store {
                    scheme,
                    bucket,
                    prefix,
                },
                StoreLocation::Store {
                    scheme: lake_scheme,
                    bucket: lake_bucket,
                    prefix: lake_prefix,
                },
            ) => {
                *scheme == lake_scheme
                    && *bucket == lake_bucket
                    && (lake_prefix.is_empty()
                        || *prefix == lake_prefix
                        || prefix.starts_with(&format!("{lake_prefix}/")))
            }
            _ => false,
        };
        if inside {
            return Err(invalid(
                "state.url".to_string(),
                format!(
                    "`{}` is inside lake `{}` ({}), whose readers would take the state objects for data",
                    object.url,
                    lake.name,
                    lake.display_location()
                ),
                "give the state a location of its own beside the lake, e.g. s3://bucket/sluice-state/ next to s3://bucket/lake/",
            ));
        }
    }
    Ok(())
}

/// The most windows of one source worked at once.
pub const MAX_WORKERS: usize = 64;

fn validate_source(i: usize, source: &SourceConfig, sinks: &HashSet<&str>) -> Result<(), Invalid> {
    let key = |field: &str| format!("sources[{i}].{field}");
    if source.name.is_empty()
        || !source
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            key("name"),
            format!("source name `{}` is not allowed", source.name),
            "use letters, digits, '-' and '_' only: the name becomes part of lake paths",
        ));
    }
    if source.workers == 0 || source.workers > MAX_WORKERS {
        return Err(invalid(
            key("workers"),
            format!("workers = {} is out of range", source.workers),
            format!("use 1 (one window at a time) up to {MAX_WORKERS}"),
        ));
    }
    match url::Url::parse(&source.base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        Ok(_) => {
            return Err(invalid(
                key("base_url"),
                format!("`{}` is not an http(s) URL", source.base_url),
                "write it like https://acme.okta.com",
            ))
        }
        Err(err) => {
            return Err(invalid(
                key("base_url"),
                format!("`{}` is not a URL: {err}", source.base_url),
                "write it like https://acme.okta.com",
            ))
        }
    }
    if !source.path.starts_with('/') {
        return Err(invalid(
            key("path"),
            format!("`{}` must start with '/'", source.path),
            "write it like /api/v1/logs",
        ));
    }
    if source.event_time.path.is_empty() {
        return Err(invalid(
            key("event_time.path"),
            "is empty",
            "name the field that holds each event's time, e.g. \"published\"",
        ));
    }
    // Without resolved secrets (`sluice status`) there is nothing to check in `auth`.
    if super::secret::resolving() {
        source
            .auth
            .problem()
            .map_err(|p| invalid(key(&format!("auth.{}", p.field)), p.message, p.hint))?;
    }
    validate_templates(source)
        .map_err(|(field, message, hint)| invalid(key(field), message, hint))?;
    if source.window.max_window.is_zero() || source.window.dedup_capacity == 0 {
        return Err(invalid(
            key("window"),
            "max_window and dedup_capacity must be greater than zero",
            "the defaults are \"1d\" and 10000",
        ));
    }
    if source.window.overlap >= source.window.max_window {
        return Err(invalid(
            key("window.overlap"),
            "must be shorter than window.max_window",
            "an overlap of a few minutes is typical; windows must move forward",
        ));
    }
    match (&source.http.client_cert, &source.http.client_key) {
        (Some(_), None) | (None, Some(_)) => {
            let missing = if source.http.client_key.is_none() {
                "client_key"
            } else {
                "client_cert"
            };
            return Err(invalid(
                key(&format!("http.{missing}")),
                "mutual TLS needs both http.client_cert and http.client_key",
                "give the client certificate and its private key as two PEM files",
            ));
        }
        _ => {}
    }
    if source.http.max_attempts == 0 {
        return Err(invalid(
            key("http.max_attempts"),
            "must be at least 1",
            "the default is 8",
        ));
    }
    if source.sinks.is_empty() {
        return Err(invalid(
            key("sinks"),
            "the source delivers to no sink",
            "list at least one [[sinks]] name, e.g. sinks = [\"lake\"]",
        ));
    }
    for (j, name) in source.sinks.iter().enumerate() {
        if !sinks.contains(name.as_str()) {
            return Err(invalid(
                key(&format!("sinks[{j}]")),
                format!("no sink is named `{name}`"),
                "add a [[sinks]] table with that name, or fix the spelling",
            ));
        }
    }
    Ok(())
}

type TemplateProblem = (&'static str, String, String);

/// `next_body` (the body of every page after a window's first) is JSON, is sent by a POST
/// source with cursor pagination, and carries the cursor back.
fn validate_next_body(source: &SourceConfig, next_body: &str) -> Result<(), TemplateProblem> {
    use crate::source::template::words;
    let problem =
        |message: &str, hint: &str| Err(("next_body", message.to_string(), hint.to_string()));
    if let Err(err) = serde_json::from_str::<serde_json::Value>(next_body) {
        return problem(
            &format!("is not JSON: {err}"),
            "write it as JSON with the placeholder inside a string, e.g. '{\"cursor\": \"{cursor}\"}'",
        );
    }
    if source.method != HttpMethod::Post {
        return problem(
            "a body is only sent with method = \"POST\"",
            "add method = \"POST\" or remove next_body",
        );
    }
    if !matches!(source.pagination, PaginationConfig::Cursor { .. }) {
        return problem(
            "is the body of the pages after the first, which only cursor pagination has",
            "use pagination = { kind = \"cursor\", path = \"...\" } or remove next_body",
        );
    }
    if !words(next_body).contains(&"cursor") {
        return problem(
            "does not send the cursor back: it has no {cursor} placeholder",
            "add the field the API reads the cursor from, e.g. '{\"cursor\": \"{cursor}\"}'",
        );
    }
    Ok(())
}

/// The request templates can work: known placeholders only, `{start}` somewhere, the
/// placeholder the pagination kind needs, a JSON body, valid time layouts.
fn validate_templates(source: &SourceConfig) -> Result<(), TemplateProblem> {
    use crate::source::template::{words, PLACEHOLDERS};
    let problem =
        |field: &'static str, message: String, hint: &str| Err((field, message, hint.to_string()));
    let mut used: Vec<&str> = Vec::new();
    let query = source
        .query
        .iter()
        .flat_map(|(name, value)| value.templates().iter().map(move |t| (name, t)));
    let headers = source.headers.iter();
    let sites: Vec<(&'static str, &String, &String)> = query
        .map(|(name, t)| ("query", name, t))
        .chain(headers.map(|(name, t)| ("headers", name, t)))
        .collect();
    for (field, name, template) in sites {
        {
            for word in words(template) {
                if !PLACEHOLDERS.contains(&word) {
                    return problem(
                        field,
                        format!("`{name}` uses unknown placeholder {{{word}}}"),
                        "placeholders are {start}, {end}, {limit}, {cursor}, {offset} and {page}",
                    );
                }
                used.push(word);
            }
        }
    }
    if let Some(body) = &source.body {
        if let Err(err) = serde_json::from_str::<serde_json::Value>(body) {
            return problem("body", format!("is not JSON: {err}"), "write the body as JSON with placeholders inside strings, e.g. {\"after\": \"{cursor}\"}");
        }
        used.extend(words(body).into_iter().filter(|w| PLACEHOLDERS.contains(w)));
        if source.method != HttpMethod::Post {
            return problem(
                "body",
                "a body is only sent with method = \"POST\"".into(),
                "add method = \"POST\" or remove the body",
            );
        }
    }
    if let Some(next_body) = &source.next_body {
        validate_next_body(source, next_body)?;
        used.push("cursor");
    }
    if source.next_path.is_some() && !matches!(source.pagination, PaginationConfig::Cursor { .. }) {
        return problem(
            "next_path",
            "is the path of the pages after the first, which only cursor pagination has".into(),
            "use pagination = { kind = \"cursor\", path = \"...\" } or remove next_path",
        );
    }
    if !used.contains(&"start") {
        return problem(
            "query",
            "no request parameter carries the window start {start}".into(),
            "every request must be bounded in time, e.g. query = { since = \"{start}\", until = \"{end}\" }",
        );
    }
    if let Some(needed) = source.pagination.placeholder() {
        if !used.contains(&needed) {
            return problem(
                "pagination",
                format!("this pagination kind needs a {{{needed}}} placeholder in query, headers or body"),
                "send the value back, e.g. query = { cursor = \"{cursor}\" } (cursor pagination may use param = \"cursor\" instead)",
            );
        }
    }
    let needs_page_size = matches!(
        source.pagination,
        PaginationConfig::Offset {
            has_more_path: None
        } | PaginationConfig::PageNumber {
            has_more_path: None,
            ..
        }
    );
    if needs_page_size && source.page_size.is_none() {
        return problem(
            "page_size",
            "offset and page-number pagination without has_more_path need page_size to see the last page".into(),
            "set page_size to the API's page size and send it as {limit}",
        );
    }
    if let PaginationConfig::Cursor { path, .. } | PaginationConfig::NextUrl { path } =
        &source.pagination
    {
        if path.is_empty() {
            return problem(
                "pagination.path",
                "is empty".into(),
                "name where the response keeps the next cursor or URL, e.g. \"meta.next_cursor\"",
            );
        }
    }
    for (field, format) in [
        ("window.format", &source.window.format),
        ("event_time.format", &source.event_time.format),
    ] {
        if let TimeFormat::Strftime(layout) = format {
            crate::timefmt::check_strftime(layout).map_err(|e| {
                (
                    field,
                    e,
                    "see https://docs.rs/chrono/latest/chrono/format/strftime/".to_string(),
                )
            })?;
        }
    }
    Ok(())
}

/// Finds where keys are in the original text, for error positions.
struct Locator<'a> {
    text: &'a str,
    doc: Option<toml_edit::ImDocument<&'a str>>,
}

impl<'a> Locator<'a> {
    fn new(text: &'a str) -> Self {
        Locator {
            text,
            doc: toml_edit::ImDocument::parse(text).ok(),
        }
    }

    /// 1-based line and column of a byte offset.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// Position of the secret reference quoted in an error message (`${env:X}`), with the
    /// key it is assigned to when the line reads `key = "..."`.
    fn find_secret_reference(&self, message: &str) -> Option<((usize, usize), Option<String>)> {
        let start = message.find("`${")? + 1;
        let len = message[start..].find("}`")? + 1;
        let offset = self.text.find(&message[start..start + len])?;
        Some(self.value_at(offset))
    }

    /// Position and key of the malformed path a [`crate::source::path::JsonPath`] error
    /// quotes (`path `a..b`: ...`), when the file holds it as a quoted value of a `*path` key.
    fn find_json_path(&self, message: &str) -> Option<((usize, usize), Option<String>)> {
        let rest = message.strip_prefix("path `")?;
        let path = &rest[..rest.find("`: ")?];
        [format!("\"{path}\""), format!("'{path}'")]
            .iter()
            .flat_map(|quoted| self.text.match_indices(quoted.as_str()))
            .map(|(offset, _)| self.value_at(offset + 1))
            .find(|(_, key)| key.as_deref().is_some_and(|k| k.ends_with("path")))
    }

    /// Line and column of the value at `offset`, with the key it is assigned to.
    fn value_at(&self, offset: usize) -> ((usize, usize), Option<String>) {
        let line_start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        // `key = "${...}"`, possibly inside an inline table: the key is the last word
        // before the `=` that precedes the value.
        let before = self.text[line_start..offset]
            .trim_end()
            .trim_end_matches(['"', '\'']);
        let key = before
            .trim_end()
            .strip_suffix('=')
            .and_then(|b| b.trim_end().rsplit([',', '{', ' ', '\t']).next())
            .map(|k| k.trim_matches('"').to_string())
            .filter(|k| !k.is_empty());
        (self.line_col(offset), key)
    }

    /// Position of `key` (like `state.pathh`) when every part of it exists in the file.
    fn find_exact_key(&self, key: &str) -> Option<(usize, usize)> {
        let doc = self.doc.as_ref()?;
        let mut node = Some(Node::Table(doc.as_table()));
        let mut at = None;
        for segment in parse_key_path(key) {
            // A value (the last segment's) has no children: any segment after it is missing.
            let current = node.take()?;
            at = None;
            node = match (&current, &segment) {
                (Node::Table(t), Segment::Key(k)) => {
                    at = t.key(k).and_then(|k| k.span());
                    t.get(k).and_then(Node::from_item)
                }
                (Node::Inline(t), Segment::Key(k)) => {
                    at = t.key(k).and_then(|k| k.span());
                    t.get(k).and_then(Node::from_value)
                }
                (Node::Tables(a), Segment::Index(i)) => a.get(*i).map(Node::Table),
                (Node::Array(a), Segment::Index(i)) => a.get(*i).and_then(Node::from_value),
                _ => None,
            };
        }
        at.map(|span| self.line_col(span.start))
    }

    /// Position of the deepest part of `key` (like `sources[1].auth.token`) that exists.
    fn find_key(&self, key: &str) -> Option<(usize, usize)> {
        let doc = self.doc.as_ref()?;
        let mut best: Option<Range<usize>> = doc.as_table().span();
        let mut node = Node::Table(doc.as_table());
        for segment in parse_key_path(key) {
            let next = match (&node, &segment) {
                (Node::Table(t), Segment::Key(k)) => {
                    if let Some(span) = t.key(k).and_then(|k| k.span()) {
                        best = Some(span);
                    }
                    t.get(k).and_then(Node::from_item)
                }
                (Node::Inline(t), Segment::Key(k)) => {
                    if let Some(span) = t.key(k).and_then(|k| k.span()) {
                        best = Some(span);
                    }
                    t.get(k).and_then(Node::from_value)
                }
                (Node::Tables(a), Segment::Index(i)) => a.get(*i).map(Node::Table),
                (Node::Array(a), Segment::Index(i)) => a.get(*i).and_then(Node::from_value),
                _ => None,
            };
            let Some(next) = next else { break };
            if let Some(span) = next.span() {
                best = Some(span);
            }
            node = next;
        }
        best.map(|span| self.line_col(span.start))
    }
}

enum Segment {
    Key(String),
    Index(usize),
}

fn parse_key_path(key: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    for part in key.split('.') {
        let (name, indexes) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if !name.is_empty() {
            segments.push(Segment::Key(name.to_string()));
        }
        for index in indexes.split('[') {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                segments.push(Segment::Index(i));
            }
        }
    }
    segments
}

enum Node<'d> {
    Table(&'d toml_edit::Table),
    Tables(&'d toml_edit::ArrayOfTables),
    Inline(&'d toml_edit::InlineTable),
    Array(&'d toml_edit::Array),
    Scalar(&'d toml_edit::Value),
}

impl<'d> Node<'d> {
    fn from_item(item: &'d toml_edit::Item) -> Option<Self> {
        match item {
            toml_edit::Item::Table(t) => Some(Node::Table(t)),
            toml_edit::Item::ArrayOfTables(a) => Some(Node::Tables(a)),
            toml_edit::Item::Value(v) => Node::from_value(v),
            toml_edit::Item::None => None,
        }
    }

    fn from_value(value: &'d toml_edit::Value) -> Option<Self> {
        Some(match value {
            toml_edit::Value::InlineTable(t) => Node::Inline(t),
            toml_edit::Value::Array(a) => Node::Array(a),
            other => Node::Scalar(other),
        })
    }

    fn span(&self) -> Option<Range<usize>> {
        match self {
            Node::Table(t) => t.span(),
            Node::Tables(a) => a.span(),
            Node::Inline(t) => t.span(),
            Node::Array(a) => a.span(),
            Node::Scalar(v) => v.span(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
