//! The sink's setting types that both the config loader and the sink use: authentication,
//! where documents go (and the names that gives), and body encoding. They live with the sink,
//! whose module is public, so code outside the crate can name them.

use std::fmt::{self, Write as _};

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;

use crate::model::Secret;

/// The only placeholder an index or data stream template may hold.
const SOURCE_PLACEHOLDER: &str = "{source}";

/// Longest index or data stream name Elasticsearch accepts, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// How bulk requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElasticsearchAuth {
    /// No `Authorization` header (a cluster without security, or a proxy that adds it).
    None,
    /// `Authorization: ApiKey <key>`: the `encoded` value Elasticsearch returns when the key
    /// is created. A value written as `id:api_key` is encoded by Sluice.
    ApiKey(Secret),
    /// HTTP Basic authentication.
    Basic {
        /// The user name (not secret; it may not contain `:`).
        username: String,
        /// The password.
        password: Secret,
    },
}

/// Where documents go: one named data stream, or indices named from each event's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexTarget {
    /// `data_stream = "logs-sluice.{source}-default"`: a data stream; the cluster rolls its
    /// backing indices over. Needs an index template with `data_stream` enabled for the name
    /// (Elasticsearch has one for `logs-*-*`).
    DataStream(String),
    /// `index = "sluice-{source}-%Y.%m.%d"`: strftime parts are taken from the event's time in
    /// UTC, so an event always lands in the same index, whenever it is (re)sent.
    Index(String),
}

/// Encoding of bulk request bodies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkCompression {
    /// `Content-Encoding: gzip` (Elasticsearch and OpenSearch accept it by default).
    #[default]
    Gzip,
    /// Plain NDJSON.
    None,
}

/// A mistake in the sink's settings: the key, what is wrong, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElasticsearchProblem {
    /// The key, e.g. `max_batch_events`.
    pub key: &'static str,
    /// What is wrong. Never contains a secret.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl fmt::Display for ElasticsearchProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The loader splits at " (hint: " to show the hint on its own line.
        write!(f, "`{}` {} (hint: {})", self.key, self.message, self.hint)
    }
}

impl std::error::Error for ElasticsearchProblem {}

/// A problem with `key`.
pub(crate) fn problem(
    key: &'static str,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> ElasticsearchProblem {
    ElasticsearchProblem {
        key,
        message: message.into(),
        hint: hint.into(),
    }
}

impl IndexTarget {
    /// The config key this target was written under.
    pub fn key(&self) -> &'static str {
        match self {
            IndexTarget::DataStream(_) => "data_stream",
            IndexTarget::Index(_) => "index",
        }
    }

    /// The template as written.
    pub fn template(&self) -> &str {
        match self {
            IndexTarget::DataStream(t) | IndexTarget::Index(t) => t,
        }
    }

    /// Prepares the names for `source`'s events, checking that every name the template can
    /// produce is one Elasticsearch accepts. `{source}` becomes the source name in lower case
    /// (index names must be lower case).
    pub fn compile(&self, source: &str) -> Result<IndexNamer, ElasticsearchProblem> {
        let key = self.key();
        let template = self.template();
        let rest = template.replace(SOURCE_PLACEHOLDER, "");
        if rest.contains(['{', '}']) {
            return Err(problem(
                key,
                format!("template `{template}` has a placeholder other than {{source}}"),
                "{source} is the only placeholder; date parts are strftime codes such as %Y.%m.%d",
            ));
        }
        let named = template.replace(SOURCE_PLACEHOLDER, &source.to_ascii_lowercase());
        let namer = match self {
            IndexTarget::DataStream(_) => {
                if named.contains('%') {
                    return Err(problem(
                        key,
                        format!("template `{template}` has a '%' date part"),
                        "data streams roll over by themselves; for one index per day use index = \"sluice-{source}-%Y.%m.%d\"",
                    ));
                }
                if named.starts_with(".ds-") {
                    return Err(problem(
                        key,
                        format!("template `{template}` starts with `.ds-`"),
                        "that prefix is reserved for backing indices",
                    ));
                }
                IndexNamer::Fixed(named)
            }
            IndexTarget::Index(_) if !named.contains('%') => IndexNamer::Fixed(named),
            IndexTarget::Index(_) => {
                let items = StrftimeItems::new(&named).parse_to_owned().map_err(|_| {
                    problem(
                        key,
                        format!("template `{template}` is not a valid strftime layout"),
                        "see https://docs.rs/chrono/latest/chrono/format/strftime/; a literal '%' is written %%",
                    )
                })?;
                IndexNamer::ByTime(items)
            }
        };
        // The last instant of a year: two-digit parts at their widest, month and day names
        // (which are capitalised) show up.
        let sample = Utc
            .with_ymd_and_hms(2026, 12, 31, 23, 59, 59)
            .single()
            .unwrap_or_default();
        let name = namer.name(sample).map_err(|_| {
            problem(
                key,
                format!("template `{template}` cannot be formatted"),
                "use date parts such as %Y, %m, %d and %H",
            )
        })?;
        check_name(&name).map_err(|why| {
            problem(
                key,
                format!("template `{template}` gives names like `{name}`, which {why}"),
                "index and data stream names are lower case, at most 255 bytes, without \\ / * ? \" < > | , # : or spaces, and do not start with - _ +",
            )
        })?;
        Ok(namer)
    }
}

/// Checks an index or data stream name against Elasticsearch's rules.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name == "." || name == ".." {
        return Err("is empty, `.` or `..`");
    }
    if name.len() > MAX_NAME_BYTES {
        return Err("is longer than 255 bytes");
    }
    if name.chars().any(|c| c.is_uppercase()) {
        return Err("has upper-case letters (%b and %a give month and day names)");
    }
    if name.contains(['\\', '/', '*', '?', '"', '<', '>', '|', ',', '#', ':', ' ']) {
        return Err("has a character names may not hold");
    }
    if name.starts_with(['-', '_', '+']) {
        return Err("starts with - _ or +");
    }
    Ok(())
}

/// Produces the index or data stream name of each event.
#[derive(Debug, Clone)]
pub enum IndexNamer {
    /// Every event goes to the same name.
    Fixed(String),
    /// The name is the event time (UTC) formatted with these strftime items.
    ByTime(Vec<Item<'static>>),
}

impl IndexNamer {
    /// The name for an event at `time`. Fails only if the layout cannot be formatted, which
    /// [`IndexTarget::compile`] has ruled out.
    pub fn name(&self, time: DateTime<Utc>) -> Result<String, fmt::Error> {
        match self {
            IndexNamer::Fixed(name) => Ok(name.clone()),
            IndexNamer::ByTime(items) => {
                let mut out = String::with_capacity(64);
                write!(out, "{}", time.format_with_items(items.iter()))?;
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_event_time_and_lower_cased_source() {
        let target = IndexTarget::Index("sluice-{source}-%Y.%m.%d".into());
        let namer = target.compile("Okta_Prod").unwrap();
        let time = Utc.with_ymd_and_hms(2023, 11, 14, 22, 13, 20).unwrap();
        assert_eq!(namer.name(time).unwrap(), "sluice-okta_prod-2023.11.14");
        let stream = IndexTarget::DataStream("logs-sluice.{source}-default".into());
        assert_eq!(
            stream.compile("okta").unwrap().name(time).unwrap(),
            "logs-sluice.okta-default"
        );
        let fixed = IndexTarget::Index("audit".into());
        assert_eq!(fixed.compile("okta").unwrap().name(time).unwrap(), "audit");
    }

    #[test]
    fn templates_that_give_bad_names_are_refused() {
        let cases = [
            (IndexTarget::Index("Sluice".into()), "upper-case"),
            (IndexTarget::Index("a-{date}".into()), "other than {source}"),
            (IndexTarget::Index("a-%b".into()), "upper-case"),
            (IndexTarget::Index("a-%Q".into()), "strftime"),
            (IndexTarget::Index("a b".into()), "character"),
            (IndexTarget::Index("a:%Y".into()), "character"),
            (IndexTarget::Index("-a".into()), "starts with"),
            (IndexTarget::Index("x".repeat(256)), "255"),
            (IndexTarget::DataStream("logs-%Y".into()), "'%'"),
            (IndexTarget::DataStream(".ds-x".into()), ".ds-"),
        ];
        for (target, expected) in cases {
            let err = target.compile("okta").unwrap_err();
            assert_eq!(err.key, target.key());
            assert!(err.to_string().contains(expected), "{target:?}: {err}");
        }
        // A source that would make a bad name is caught when the sink is built.
        let leading = IndexTarget::Index("{source}-%Y".into());
        assert!(leading.compile("okta").is_ok());
        assert!(leading.compile("_okta").is_err());
    }
}
