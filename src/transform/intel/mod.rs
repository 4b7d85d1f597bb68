//! `kind = "intel"`: matches field values against threat intel indicators and adds an
//! enrichment block per match.
//!
//! Indicators (addresses and networks, domains, URLs, file hashes) come from local feed
//! files ([`feed`]), each indexed for lookups in bounded time ([`index`]) and reloaded when
//! it changes ([`super::reload`]). A match appends an OCSF `enrichment` object to the event's
//! `enrichments` array (for a vendor's raw event too, where the array is a member of its
//! own): `name` the field, `value` its value, `type` `threat_intel`, `provider` the feed, and
//! `data` the indicator, its type, the feed and the confidence.

pub mod feed;
pub mod index;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};

pub use self::feed::FeedError;
use self::feed::Format;
use self::index::{Hit, Index};
use super::field::FieldPath;
use super::reload::Reloading;
use super::step::{field_path, field_paths, Problem, Step, Verdict};

/// `{ kind = "intel", fields = ["src_endpoint.ip"], feeds = [{ path = "bad-ips.txt" }] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelConfig {
    /// The step's name in counts, metrics and dead letters; default `intel#<position>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The fields whose values are looked up (strings; an array's string elements too).
    pub fields: Vec<String>,
    /// The feed files.
    pub feeds: Vec<FeedConfig>,
    /// How often each feed file's modification time is looked at; a changed file is loaded
    /// again.
    #[serde(default = "default_refresh", with = "humantime_serde")]
    pub refresh: Duration,
    /// The array match blocks are appended to.
    #[serde(default = "super::geoip::default_enrichments")]
    pub enrichments: String,
}

/// One feed file of an `intel` step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// The feed's name in match blocks; default the file's name without its extension.
    #[serde(default)]
    pub name: Option<String>,
    /// The file; a relative path is taken relative to the config file.
    pub path: PathBuf,
    /// `text`, `csv` or `stix`; default by the extension (`.csv`, `.json`, else text).
    #[serde(default)]
    pub format: Option<Format>,
    /// The confidence (0 to 100) of indicators the file gives none for.
    #[serde(default)]
    pub confidence: Option<u8>,
}

fn default_refresh() -> Duration {
    Duration::from_secs(300)
}

impl IntelConfig {
    /// Takes the feed paths relative to `base` (the config file's folder).
    pub fn make_paths_relative_to(&mut self, base: &Path) {
        for feed in &mut self.feeds {
            if feed.path.is_relative() {
                feed.path = base.join(&feed.path);
            }
        }
    }

    /// The compiled step: paths parsed, every feed loaded (or found loaded).
    pub fn build(&self) -> Result<Intel, Problem> {
        let fields = field_paths("fields", &self.fields)?;
        if self.feeds.is_empty() {
            return Err(Problem::new(
                "feeds",
                "lists no feed",
                "name at least one file, e.g. feeds = [{ path = \"bad-ips.txt\" }]",
            ));
        }
        if self.refresh.is_zero() {
            return Err(Problem::new(
                "refresh",
                "is zero",
                "give how often to look for a changed file, e.g. refresh = \"5m\"",
            ));
        }
        let feeds = load_feeds(&self.feeds, self.refresh)?;
        Ok(Intel {
            fields,
            feeds,
            enrichments: field_path("enrichments", &self.enrichments)?,
        })
    }
}

/// The feed files `configs` name, each loaded (or found loaded); a problem names the key
/// `feeds[i].<key>`. Shared by the `intel` step and the `intel_match` function of `vrl` steps.
pub fn load_feeds(configs: &[FeedConfig], refresh: Duration) -> Result<Vec<Feed>, Problem> {
    let mut feeds = Vec::with_capacity(configs.len());
    for (i, config) in configs.iter().enumerate() {
        let key = |k: &str| format!("feeds[{i}].{k}");
        if config.confidence.is_some_and(|c| c > 100) {
            return Err(Problem::new(
                key("confidence"),
                "is over 100",
                "give a confidence from 0 to 100",
            ));
        }
        let name = match &config.name {
            Some(name) if name.trim().is_empty() => {
                return Err(Problem::new(
                    key("name"),
                    "is empty",
                    "name the feed, or leave `name` out for the file's name",
                ))
            }
            Some(name) => name.clone(),
            None => config.path.file_stem().map_or_else(
                || format!("feed{}", i + 1),
                |s| s.to_string_lossy().into_owned(),
            ),
        };
        let format = config.format.unwrap_or_else(|| Format::of(&config.path));
        let index = open(&config.path, format, refresh).map_err(|error| {
            Problem::new(
                key("path"),
                format!("the {} feed {} {error}", format.as_str(), config.path.display()),
                "give a feed file: one indicator a line (text), a CSV with an `indicator` column, or a STIX 2.1 bundle (.json); set `format` when the extension does not say which",
            )
        })?;
        feeds.push(Feed {
            name,
            confidence: config.confidence,
            index,
        });
    }
    Ok(feeds)
}

/// Loads (or finds loaded) the feed at `path`.
pub fn open(path: &Path, format: Format, refresh: Duration) -> Result<Reloading<Index>, FeedError> {
    Reloading::open(format.as_str(), path, refresh, move |path| {
        feed::load(path, format)
    })
}

/// One loaded feed of a step.
pub struct Feed {
    name: String,
    confidence: Option<u8>,
    index: Reloading<Index>,
}

/// The compiled `intel` step.
pub struct Intel {
    fields: Vec<FieldPath>,
    feeds: Vec<Feed>,
    enrichments: FieldPath,
}

/// A match of one value in one feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The feed's name.
    pub feed: String,
    /// The indicator matched.
    pub hit: Hit,
    /// Its confidence: the indicator's own, else the feed's.
    pub confidence: Option<u8>,
}

impl Match {
    /// The `data` of its enrichment block.
    pub fn data(&self) -> Map<String, Value> {
        let mut data = Map::new();
        data.insert("feed".into(), json!(self.feed));
        data.insert("indicator".into(), json!(self.hit.indicator));
        data.insert("indicator_type".into(), json!(self.hit.kind.as_str()));
        if let Some(confidence) = self.confidence {
            data.insert("confidence".into(), json!(confidence));
        }
        data
    }
}

impl Intel {
    /// Every feed's match for `value`.
    pub fn matches(&self, value: &str) -> Vec<Match> {
        matches_in(&self.feeds, value)
    }
}

/// Every match of `value` in `feeds`, one per feed that has it.
pub fn matches_in(feeds: &[Feed], value: &str) -> Vec<Match> {
    feeds
        .iter()
        .filter_map(|feed| {
            let index: Arc<Index> = feed.index.current();
            index.lookup(value).map(|hit| Match {
                feed: feed.name.clone(),
                confidence: hit.entry.confidence.or(feed.confidence),
                hit,
            })
        })
        .collect()
}

impl Step for Intel {
    fn apply(&self, event: &mut Value) -> Verdict {
        let mut blocks = Vec::new();
        for field in &self.fields {
            let values: Vec<&str> = match field.get(event) {
                Some(Value::String(text)) => vec![text.as_str()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => continue,
            };
            for value in values {
                for found in self.matches(value) {
                    blocks.push(json!({
                        "name": field.as_str(),
                        "value": value,
                        "type": "threat_intel",
                        "provider": found.feed,
                        "data": found.data(),
                    }));
                }
            }
        }
        if blocks.is_empty() {
            return Verdict::Keep;
        }
        for block in blocks {
            if let Err(reason) = super::field::push(&self.enrichments, event, block) {
                return Verdict::Fail(reason.to_string());
            }
        }
        Verdict::Changed
    }
}

#[cfg(test)]
mod tests;
