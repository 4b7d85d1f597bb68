//! Reading a config file: TOML parsing, secret resolution and validation, with errors that
//! point at the file, line, column and key.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::preset::merge_tables;

use super::document::{Document, Failure};
use super::locate::Locator;
use super::validate::validate;
use super::Config;

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

impl ConfigError {
    /// An error at `key` of the config file at `path`, for what only a command can judge
    /// (`sluice serve` checks `serve.listen` against `serve.token`). The file is read again
    /// for the key's line; when it cannot be, the error names the file and key alone.
    pub fn at_key(path: &Path, key: &str, message: String, hint: String) -> ConfigError {
        let position = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| Locator::new(&text).find_key(key));
        ConfigError {
            file: path.to_path_buf(),
            position,
            key: Some(key.to_string()),
            message,
            hint: Some(hint),
        }
    }
}

/// Reads, parses and validates the config file at `path`. Relative paths inside it (state
/// file, lake root, CA files, `${file:PATH}` secrets, connector files) are taken relative to
/// the file's directory, so a config works the same from any working directory.
///
/// Secret manager references are fetched on a thread of their own while this function
/// waits, so it may be called from async code (though `spawn_blocking` lets other tasks run).
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
    let mut config = parse_and_validate(&text, path, Some(base), resolve)?;
    super::paths::make_relative(&mut config, base);
    Ok(config)
}

/// Parses and validates config `text`; `file` is only used to name the file in errors, and
/// relative paths stay as written.
///
/// Secret manager references (`${aws-sm:...}`, `${gcp-sm:...}`, `${vault:...}`) are fetched
/// here, each secret once, on a thread of their own: this function blocks until they have
/// answered (or failed), so async callers should run it with `spawn_blocking`, though calling
/// it directly from a runtime thread is safe.
pub fn load_str(text: &str, file: &Path) -> Result<Config, ConfigError> {
    parse_and_validate(text, file, None, true)
}

/// Like [`load_str`], but leaves secret references unresolved (as [`load_without_secrets`]):
/// nothing is read from the environment, secret files or secret managers. For the fuzz
/// targets, which must not reach outside the process.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn load_str_without_secrets(text: &str, file: &Path) -> Result<Config, ConfigError> {
    parse_and_validate(text, file, None, false)
}

/// The load: parse (and merge connectors), read the settings as plain data, resolve the
/// secrets in one pass and put them in the document, read the settings again with them,
/// validate. `base` is the config file's directory; `resolve` is `false` for commands that
/// leave secrets alone.
fn parse_and_validate(
    text: &str,
    file: &Path,
    base: Option<&Path>,
    resolve: bool,
) -> Result<Config, ConfigError> {
    let locator = Locator::new(text);
    let mut document = parse(text, file, &locator, base)?;
    let locate = |err| located(err, file, &locator);
    // The file's shape first: a mistake in it is reported before any secret is read.
    let mut config: Config = document.deserialize().map_err(locate)?;
    // The transform chains, in a pass of their own over the same document (see
    // `transforms.rs`).
    let mut steps: super::transforms::Document = document.deserialize().map_err(locate)?;
    let fields = document
        .plain()
        .map(super::secret::fields)
        .unwrap_or_default();
    let resolved = super::secret::resolve(fields, resolve, base)
        .map_err(|unresolved| unresolved_error(unresolved, file, &locator))?;
    if !resolved.is_empty() {
        for secret in &resolved {
            document.set(&secret.steps, &secret.value);
        }
        config = document.deserialize().map_err(locate)?;
        steps = document.deserialize().map_err(locate)?;
    }
    config.transforms = steps.keyed(&config);
    // Step files (GeoIP databases, intel feeds) are taken from the config's folder before the
    // chains are built (and their files opened) to check them; the other paths follow in
    // `paths::make_relative` once the config is valid.
    config
        .transforms
        .make_paths_relative_to(file.parent().unwrap_or(Path::new("")));
    validate(&config, resolve).map_err(|problem| ConfigError {
        file: file.to_path_buf(),
        position: in_inline_program(&problem, &locator).or_else(|| locator.find_key(&problem.path)),
        key: Some(problem.path),
        message: problem.message,
        hint: Some(problem.hint),
    })?;
    Ok(config)
}

/// Where an error in an inline VRL program (a `vrl` step's `source`, which the message
/// places by its own line and column) is in the config file.
fn in_inline_program(
    problem: &crate::model::Problem,
    locator: &Locator<'_>,
) -> Option<(usize, usize)> {
    if !problem.path.ends_with(".source") {
        return None;
    }
    let (line, column) = crate::transform::vrl::position_in_source(&problem.message)?;
    locator.find_in_string(&problem.path, line, column)
}

/// The document of `text`, with connectors merged into its sources.
fn parse<'t>(
    text: &'t str,
    file: &Path,
    locator: &Locator<'_>,
    base: Option<&Path>,
) -> Result<Document<'t>, ConfigError> {
    let (Ok(plain), Ok(tree)) = (
        text.parse::<toml::Table>(),
        toml_edit::ImDocument::parse(text),
    ) else {
        // Syntax errors are reported by the regular parse, with their position.
        return Ok(Document::Unparsed(text));
    };
    Ok(
        match merge_connectors(plain.clone(), file, locator, base)? {
            Some(merged) => Document::Merged(merged),
            None => Document::Text {
                tree: tree.into_table(),
                plain,
            },
        },
    )
}

/// A secret that could not be resolved, located by the reference it quotes (or its key).
fn unresolved_error(
    unresolved: super::secret::Unresolved,
    file: &Path,
    locator: &Locator<'_>,
) -> ConfigError {
    let (message, hint) = split_hint(&unresolved.message);
    let position = locator
        .find_secret_reference(&message)
        .map(|(position, _)| position)
        .or_else(|| locator.find_key(&unresolved.key));
    ConfigError {
        file: file.to_path_buf(),
        position,
        key: Some(unresolved.key),
        message,
        hint,
    }
}

/// `what is wrong (hint: what to do)` → the message and the hint.
fn split_hint(message: &str) -> (String, Option<String>) {
    match message.split_once(" (hint: ") {
        Some((message, hint)) => (
            message.to_string(),
            Some(hint.trim_end_matches(')').to_string()),
        ),
        None => (message.to_string(), None),
    }
}

/// A serde error of the file, with its key path, position and hint.
fn located(err: Failure, file: &Path, locator: &Locator<'_>) -> ConfigError {
    let mut key = path_string(err.path());
    let inner = err.into_inner();
    let (message, hint) = describe_toml_error(inner.message());
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
}

/// Sources may name a built-in connector (`connector = "okta"`, see [`crate::preset`]) or a
/// connector spec file (`connector = "okta.toml"`) holding the keys that describe the API; the
/// source's own keys are merged over it. A preset with several streams becomes several
/// sources. Returns the merged document, or `None` when no source names a connector (then
/// errors keep their exact positions).
fn merge_connectors(
    mut doc: toml::Table,
    file: &Path,
    locator: &Locator<'_>,
    base: Option<&Path>,
) -> Result<Option<toml::Table>, ConfigError> {
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
        let path = super::paths::from_config_dir(base, Path::new(name));
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
    Ok(merged_any.then_some(doc))
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
fn describe_toml_error(message: &str) -> (String, Option<String>) {
    let message = message.trim().to_string();
    // toml says nothing when the text ends where a value should follow (`key =` last).
    if message.is_empty() {
        return (
            "the file ends where a value is expected".to_string(),
            Some("give the last key a value, e.g. key = \"value\"".to_string()),
        );
    }
    if message.contains(" (hint: ") {
        return split_hint(&message);
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

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
