//! The lake sink's checks: what a [`LakeConfig`] must hold before anything is built, each
//! refusal a [`LakeConfigError`] naming the key and saying what to do. The config loader
//! calls [`LakeConfig::validate`] once the settings are read and their secrets resolved.

use super::{LakeConfig, LedgerSettings, MAX_COPY_SIZE, MIN_PART_SIZE};
use crate::model::Problem;
use crate::sink::lake::{parse_url, Format, LakeLocation, ObjectLock, StoreScheme};

/// A lake sink setting that cannot work: the lake, the key inside its table, what is wrong
/// and what to do. Shown as `lake `<name>`: <message> (hint: <hint>)`, the form the config
/// loader splits into its message and hint lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lake `{lake}`: {message}{}", hint.as_ref().map(|h| format!(" (hint: {h})")).unwrap_or_default())]
pub struct LakeConfigError {
    /// The lake sink's name.
    pub lake: String,
    /// The key inside the sink's table (`url`, `ledger.signing_key`), empty for the table.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it, when there is something to say.
    pub hint: Option<String>,
}

impl LakeConfigError {
    /// A problem of lake `lake` at `key`.
    pub(crate) fn new(
        lake: &str,
        key: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        LakeConfigError {
            lake: lake.to_string(),
            key: key.to_string(),
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A problem another component words, `what is wrong (hint: what to do)` (or without
    /// the hint), taken apart so it shows the same under the lake's name.
    pub(crate) fn worded(lake: &str, key: &str, text: &str) -> Self {
        let (message, hint) = match text.split_once(" (hint: ") {
            Some((message, hint)) if hint.ends_with(')') => (
                message.to_string(),
                Some(hint[..hint.len() - 1].to_string()),
            ),
            _ => (text.to_string(), None),
        };
        LakeConfigError {
            lake: lake.to_string(),
            key: key.to_string(),
            message,
            hint,
        }
    }

    /// A problem the object-store layer worded under the label `lake `<name>``, without
    /// that label (the error puts it back).
    pub(crate) fn labelled(lake: &str, key: &str, text: &str) -> Self {
        let label = format!("lake `{lake}`: ");
        Self::worded(lake, key, text.strip_prefix(&label).unwrap_or(text))
    }
}

impl From<LakeConfigError> for Problem {
    fn from(error: LakeConfigError) -> Problem {
        let hint = error
            .hint
            .unwrap_or_else(|| "see docs/configuration.md for the expected syntax".to_string());
        Problem::new(
            error.key,
            format!("lake `{}`: {}", error.lake, error.message),
            hint,
        )
    }
}

impl LakeConfig {
    /// The settings that cannot work, each at its key inside the sink's table.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems: Vec<Problem> =
            self.check().err().map(Problem::from).into_iter().collect();
        if self.max_open_partitions == 0 {
            problems.push(Problem::new(
                "max_open_partitions",
                "must be at least 1",
                "the default is 8",
            ));
        }
        problems
    }

    /// The first setting that cannot work: store options the location does not take, sizes
    /// the store refuses, a build without the format, ledger keys that do not read, a heads
    /// location that cannot be written.
    pub fn check(&self) -> Result<(), LakeConfigError> {
        let name = &self.name;
        match &self.url {
            Some(url) => {
                // The URL was read into a location when the table was; a URL set in code
                // that does not read is the sink's to refuse.
                if let Ok(LakeLocation::Store { scheme, .. }) = parse_url(url) {
                    let label = format!("lake `{name}`");
                    self.store_options().check(&label, scheme).map_err(|e| {
                        let text = e.to_string();
                        LakeConfigError::labelled(name, store_key(&text), &text)
                    })?;
                    check_object_lock(name, scheme, self.object_lock.as_ref())?;
                }
                if self.roll_size.as_u64() > MAX_COPY_SIZE {
                    return Err(LakeConfigError::new(
                        name,
                        "roll_size",
                        format!("roll_size {} is too large for an object store, which publishes each object with one server-side copy (at most 5 GB on S3)", self.roll_size),
                        "the default is 64MiB; 10 to 100 MB suits loaders best",
                    ));
                }
            }
            None => {
                let stray = self
                    .store_options()
                    .first_set()
                    .or(self.object_lock.is_some().then_some("object_lock"));
                if let Some(key) = stray {
                    return Err(LakeConfigError::new(
                        name,
                        key,
                        format!("`{key}` applies to object stores only and this lake is a local directory"),
                        "remove it, or use url = \"s3://bucket/prefix\"",
                    ));
                }
            }
        }
        if self.format == Format::Parquet && !cfg!(feature = "parquet") {
            return Err(LakeConfigError::new(
                name,
                "format",
                "format = \"parquet\" needs a build with the `parquet` feature",
                "build sluice with `cargo build --release --features parquet`, or use format = \"ndjson\"",
            ));
        }
        if self.part_size.as_u64() < MIN_PART_SIZE {
            return Err(LakeConfigError::new(
                name,
                "part_size",
                format!(
                    "part_size {} is below 5 MiB, the smallest part S3 accepts",
                    self.part_size
                ),
                "the default is 8MiB",
            ));
        }
        check_ledger(name, &self.ledger)?;
        crate::sink::lake::heads::heads_config(self)?;
        Ok(())
    }
}

/// The store option a refusal of the object-store layer names (its message quotes the
/// key), for the error's key; empty when it names none (the scheme itself).
fn store_key(text: &str) -> &'static str {
    const KEYS: [&str; 5] = [
        "access_key_id",
        "secret_access_key",
        "endpoint",
        "region",
        "allow_http",
    ];
    KEYS.into_iter()
        .map(|key| (key, text.find(key)))
        .filter_map(|(key, at)| at.map(|at| (at, key)))
        .min()
        .map_or("", |(_, key)| key)
}

/// Keys that do not read are refused when the config loads, not at the first commit.
fn check_ledger(name: &str, ledger: &LedgerSettings) -> Result<(), LakeConfigError> {
    let key_error = |key: &str, e: crate::sink::lake::signing::KeyError| {
        LakeConfigError::worded(name, key, &format!("{key}: {e}"))
    };
    // A reference is checked once the loader has resolved it (see `Secret::is_unresolved`).
    if let Some(key) = ledger
        .signing_key
        .as_ref()
        .filter(|key| !key.is_unresolved())
    {
        crate::sink::lake::signing::signing_key(key.expose())
            .map_err(|e| key_error("ledger.signing_key", e))?;
    }
    if let Some(key) = &ledger.public_key {
        crate::sink::lake::signing::verifying_key(key)
            .map_err(|e| key_error("ledger.public_key", e))?;
    }
    if ledger.heads_every.is_zero() {
        return Err(LakeConfigError::new(
            name,
            "ledger.heads_every",
            "ledger.heads_every must be longer than zero",
            "the default is \"1h\"",
        ));
    }
    Ok(())
}

/// The lake's own store option, Object Lock, which only S3 lakes understand.
fn check_object_lock(
    name: &str,
    scheme: StoreScheme,
    object_lock: Option<&ObjectLock>,
) -> Result<(), LakeConfigError> {
    if object_lock.is_some() && scheme != StoreScheme::S3 {
        return Err(LakeConfigError::new(
            name,
            "object_lock",
            "`object_lock` applies to s3:// lakes only",
            "remove it; see docs/configuration.md",
        ));
    }
    if let Some(lock) = object_lock {
        if lock.retain_for.is_zero() {
            return Err(LakeConfigError::new(
                name,
                "object_lock.retain_for",
                "object_lock.retain_for must be longer than zero",
                "e.g. retain_for = \"90d\"; remove object_lock for no retention",
            ));
        }
    }
    Ok(())
}
