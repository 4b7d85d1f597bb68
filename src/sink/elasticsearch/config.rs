//! `kind = "elasticsearch"`: the Elasticsearch / OpenSearch `_bulk` API.
//!
//! ```toml
//! [[sinks]]
//! name = "siem"
//! kind = "elasticsearch"
//! url = "https://es.example:9200"
//! api_key = "${env:ES_API_KEY}"                # or username = "..." + password = "${env:...}"
//! data_stream = "logs-sluice.{source}-default"  # or index = "sluice-{source}-%Y.%m.%d"
//! ```
//!
//! The table is flat and read as written. Everything, the keys that only mean something
//! together included (exactly one of `index` and `data_stream`; `api_key` or `username` +
//! `password`, not both), is judged by [`ElasticsearchConfig::validate`], which the loader
//! calls once the settings are read and secrets resolved, each problem at its key's
//! file:line, and by [`ElasticsearchConfig::check`] again for configs built or changed in
//! code.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::model::{Problem, Secret};
// The setting types live with the sink, whose module is public, so they can be named outside
// the crate (this module is private to the config loader).
use crate::sink::elasticsearch::options::problem;
use crate::sink::elasticsearch::{
    BulkCompression, ElasticsearchAuth, ElasticsearchProblem, IndexTarget,
};

/// Settings of the sink: the table as written. The loader judges them with
/// [`ElasticsearchConfig::validate`], each problem at its key; code that changes the fields
/// afterwards gets the same checks from [`ElasticsearchConfig::check`], which
/// [`crate::sink::elasticsearch::ElasticsearchSink::new`] runs again. The keys that only mean
/// something together are read through [`ElasticsearchConfig::base_url`],
/// [`ElasticsearchConfig::auth`] and [`ElasticsearchConfig::target`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticsearchConfig {
    /// Unique name that sources refer to.
    pub name: String,
    /// Base URL of the cluster, e.g. `https://es.example:9200`; `_bulk` is appended to its
    /// path, so a cluster behind a path prefix (`https://proxy/es/`) works. It carries no
    /// credentials, query or fragment.
    pub url: String,
    /// Encoded API key; excludes `username` and `password`.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// Basic-auth user; needs `password`.
    #[serde(default)]
    pub username: Option<String>,
    /// Basic-auth password; needs `username`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Data stream name template; excludes `index`.
    #[serde(default)]
    pub data_stream: Option<String>,
    /// Index name template; excludes `data_stream`.
    #[serde(default)]
    pub index: Option<String>,
    /// Largest uncompressed NDJSON body of one bulk request; a single larger document is
    /// sent alone.
    #[serde(default = "default_max_batch_bytes")]
    pub max_batch_bytes: bytesize::ByteSize,
    /// Most documents in one bulk request.
    #[serde(default = "default_max_batch_events")]
    pub max_batch_events: usize,
    /// A commit is asked for once the first event written since the last one is this old, so
    /// a partial batch waits at most about this long before it is sent.
    #[serde(default = "default_max_batch_age", with = "humantime_serde")]
    pub max_batch_age: Duration,
    /// How request bodies are encoded.
    #[serde(default)]
    pub compression: BulkCompression,
    /// Ingest pipeline to run on every document (`?pipeline=`).
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Time allowed for one bulk request, response included.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Time allowed to open a connection.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Requests of one batch that may fail in a row (nothing accepted) before the sink gives
    /// up and the run fails.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The longest wait between attempts.
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Extra CA certificates (PEM) to trust, e.g. the `http_ca.crt` a fresh Elasticsearch 8
    /// install generates; relative to the config file's directory (the loader makes it so).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The run fails when the sink refused at least this share of the events offered to it
    /// in the run (they are in the dead-letter queue); every one by default.
    #[serde(default)]
    pub fail_when_refused: crate::sink::share::Share,
    /// What each document holds besides `@timestamp`: the envelope (the default), the OCSF
    /// object, or the raw vendor record.
    #[serde(default)]
    pub payload: crate::sink::payload::Payload,
    /// `transforms`: this sink's own transform chain, read by the loader into
    /// `Config::transforms` (see [`crate::model::deferred`]).
    #[serde(default)]
    pub transforms: crate::model::Deferred,
}

fn default_max_batch_bytes() -> bytesize::ByteSize {
    bytesize::ByteSize::mib(5)
}
fn default_max_batch_events() -> usize {
    1000
}
fn default_max_batch_age() -> Duration {
    Duration::from_secs(30)
}
fn default_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_attempts() -> u32 {
    8
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(30)
}

impl ElasticsearchConfig {
    /// `url`, parsed and checked: an http(s) URL with a host, without credentials, query or
    /// fragment.
    pub fn base_url(&self) -> Result<Url, ElasticsearchProblem> {
        let url = Url::parse(&self.url).map_err(|err| {
            // A URL with '@' may hold a password: it is not repeated.
            let shown = if self.url.contains('@') {
                String::new()
            } else {
                format!(": `{}`", self.url)
            };
            problem(
                "url",
                format!("is not a URL ({err}){shown}"),
                "write the cluster's base URL, e.g. https://es.example:9200",
            )
        })?;
        check_url(&url)?;
        Ok(url)
    }

    /// How requests authenticate: `api_key`, or `username` with `password`, or neither;
    /// each value checked to fit in an HTTP header.
    pub fn auth(&self) -> Result<ElasticsearchAuth, ElasticsearchProblem> {
        let auth = match (&self.api_key, &self.username, &self.password) {
            (None, None, None) => ElasticsearchAuth::None,
            (Some(key), None, None) => ElasticsearchAuth::ApiKey(key.clone()),
            (Some(_), _, _) => {
                return Err(problem(
                    "api_key",
                    "is set together with `username`/`password`",
                    "use either an API key or a user name and password, not both",
                ))
            }
            (None, Some(username), Some(password)) => ElasticsearchAuth::Basic {
                username: username.clone(),
                password: password.clone(),
            },
            (None, Some(_), None) => {
                return Err(problem(
                    "password",
                    "is missing: `username` needs it",
                    "add password = \"${env:ES_PASSWORD}\", or remove username",
                ))
            }
            (None, None, Some(_)) => {
                return Err(problem(
                    "username",
                    "is missing: `password` needs it",
                    "add username = \"...\", or remove password",
                ))
            }
        };
        check_auth(&auth)?;
        Ok(auth)
    }

    /// Where each document goes: exactly one of `data_stream` and `index`.
    pub fn target(&self) -> Result<IndexTarget, ElasticsearchProblem> {
        match (&self.data_stream, &self.index) {
            (Some(name), None) => Ok(IndexTarget::DataStream(name.clone())),
            (None, Some(name)) => Ok(IndexTarget::Index(name.clone())),
            (Some(_), Some(_)) => Err(problem(
                "index",
                "and `data_stream` are both set",
                "keep one: data_stream = \"logs-sluice.{source}-default\" or index = \"sluice-{source}-%Y.%m.%d\"",
            )),
            (None, None) => Err(problem(
                "data_stream",
                "is missing: set `data_stream` or `index`",
                "e.g. data_stream = \"logs-sluice.{source}-default\" or index = \"sluice-{source}-%Y.%m.%d\"",
            )),
        }
    }

    /// The settings that cannot work, each at its key (the config loader calls it; the
    /// message names the key too, as the sink's own errors do).
    pub fn validate(&self) -> Vec<Problem> {
        self.check()
            .err()
            .map(|problem| {
                Problem::new(
                    problem.key,
                    format!("`{}` {}", problem.key, problem.message),
                    problem.hint,
                )
            })
            .into_iter()
            .collect()
    }

    /// The first setting the types allow but the sink cannot work with. The problem names
    /// its key.
    pub fn check(&self) -> Result<(), ElasticsearchProblem> {
        self.base_url()?;
        self.auth()?;
        // A sample source checks the template's own text; the sink checks again with the
        // real source name when it is built.
        self.target()?.compile("source")?;
        if self.max_batch_bytes.as_u64() == 0 {
            return Err(problem(
                "max_batch_bytes",
                "must be greater than zero",
                "the default is \"5MiB\"; Elasticsearch refuses requests over http.max_content_length, 100MB by default",
            ));
        }
        if self.max_batch_events == 0 {
            return Err(problem(
                "max_batch_events",
                "must be at least 1",
                "the default is 1000",
            ));
        }
        if self.max_attempts == 0 {
            return Err(problem(
                "max_attempts",
                "must be at least 1",
                "the default is 8",
            ));
        }
        for (key, value) in [
            ("timeout", self.timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if value.is_zero() {
                return Err(problem(
                    key,
                    "must be greater than zero",
                    "write a duration such as \"30s\"",
                ));
            }
        }
        if let Some(pipeline) = &self.pipeline {
            if pipeline.trim().is_empty() {
                return Err(problem(
                    "pipeline",
                    "is empty",
                    "name an ingest pipeline, or remove the key",
                ));
            }
        }
        Ok(())
    }
}

fn check_url(url: &Url) -> Result<(), ElasticsearchProblem> {
    let hint = "write the cluster's base URL, e.g. https://es.example:9200";
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(problem(
            "url",
            format!(
                "must be an http(s) URL with a host, not `{}`",
                shown_url(url)
            ),
            hint,
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Never echo the URL here: it holds the credentials.
        return Err(problem(
            "url",
            "contains a user name or password",
            "URLs end up in logs; use api_key, or username and password, instead",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(problem(
            "url",
            format!("must not have a query or fragment: `{url}`"),
            "give the base URL only; the ingest pipeline has its own key, `pipeline`",
        ));
    }
    Ok(())
}

/// A URL fit for messages: without credentials.
fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    // These fail only for URLs that cannot have credentials, which then have none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

fn check_auth(auth: &ElasticsearchAuth) -> Result<(), ElasticsearchProblem> {
    let header_safe =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b == b'\t' || (b' '..0x7f).contains(&b));
    match auth {
        ElasticsearchAuth::None => Ok(()),
        ElasticsearchAuth::ApiKey(key) => {
            if header_safe(key.expose().trim()) {
                Ok(())
            } else {
                Err(problem(
                    "api_key",
                    "is empty or holds characters an HTTP header cannot carry",
                    "use the `encoded` value Elasticsearch returned when the key was created",
                ))
            }
        }
        ElasticsearchAuth::Basic { username, password } => {
            if username.is_empty() || username.contains(':') || !header_safe(username) {
                // RFC 7617: the first ':' ends the user name.
                return Err(problem(
                    "username",
                    "is empty or contains ':' or control characters",
                    "write the Elasticsearch user name, e.g. username = \"sluice_writer\"",
                ));
            }
            if password.expose().is_empty() {
                return Err(problem(
                    "password",
                    "is empty",
                    "check the variable or file it is read from",
                ));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table `text` read and judged as the loader does, or the first mistake as shown.
    fn read(text: &str) -> Result<ElasticsearchConfig, String> {
        let config =
            toml::from_str::<ElasticsearchConfig>(text).map_err(|e| e.message().to_string())?;
        match config.validate().into_iter().next() {
            Some(problem) => Err(format!("{} (hint: {})", problem.message, problem.hint)),
            None => Ok(config),
        }
    }

    fn parse(extra: &str) -> Result<ElasticsearchConfig, String> {
        read(&format!(
            "name = \"es\"\nurl = \"https://es.example:9200\"\n{extra}"
        ))
    }

    #[test]
    fn defaults_and_auth_forms() {
        let config = parse("data_stream = \"logs-sluice.{source}-default\"").unwrap();
        assert_eq!(config.auth().unwrap(), ElasticsearchAuth::None);
        assert_eq!(config.max_batch_bytes, bytesize::ByteSize::mib(5));
        assert_eq!(config.max_batch_events, 1000);
        assert_eq!(config.compression, BulkCompression::Gzip);
        let config = parse("index = \"x\"\napi_key = \"abc\"\ncompression = \"none\"").unwrap();
        assert_eq!(
            config.auth().unwrap(),
            ElasticsearchAuth::ApiKey(Secret::new("abc"))
        );
        assert_eq!(config.compression, BulkCompression::None);
        let config = parse("index = \"x\"\nusername = \"u\"\npassword = \"p\"").unwrap();
        assert!(matches!(
            config.auth().unwrap(),
            ElasticsearchAuth::Basic { .. }
        ));
    }

    #[test]
    fn mistakes_name_their_key() {
        let cases = [
            ("", "`data_stream` is missing"),
            (
                "index = \"a\"\ndata_stream = \"b\"",
                "`index` and `data_stream`",
            ),
            (
                "index = \"a\"\napi_key = \"k\"\nusername = \"u\"",
                "`api_key`",
            ),
            ("index = \"a\"\nusername = \"u\"", "`password` is missing"),
            ("index = \"a\"\nmax_batch_events = 0", "`max_batch_events`"),
            ("index = \"a\"\nmax_batch_bytes = 0", "`max_batch_bytes`"),
            ("index = \"a\"\nmax_attempts = 0", "`max_attempts`"),
            ("index = \"a\"\ntimeout = \"0s\"", "`timeout`"),
            ("index = \"Sluice\"", "`index`"),
            ("index = \"a-{date}\"", "other than {source}"),
            ("index = \"a-%b\"", "upper-case"),
            ("index = \"a-%Q\"", "strftime"),
            ("data_stream = \"logs-%Y\"", "'%'"),
            ("index = \"a\"\npipeline = \"\"", "`pipeline`"),
        ];
        for (extra, expected) in cases {
            let err = parse(extra).unwrap_err();
            assert!(err.contains(expected), "{extra:?}: {err}");
            assert!(err.contains("(hint: "), "{extra:?}: {err}");
        }
    }

    #[test]
    fn urls_must_be_plain_http_base_urls_and_credentials_are_not_echoed() {
        for (url, expected) in [
            ("es.example:9200", "http(s)"),
            ("not a url", "not a URL"),
            ("https://es.example:9200/?x=1", "query"),
        ] {
            let text = format!("name = \"es\"\nurl = \"{url}\"\nindex = \"a\"");
            let err = read(&text).unwrap_err();
            assert!(err.contains(expected), "{url}: {err}");
            assert!(err.contains("`url`"), "{url}: {err}");
        }
        let text = "name = \"es\"\nurl = \"https://elastic:hunter2@es.example\"\nindex = \"a\"";
        let err = read(text).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("user name or password"), "{err}");
        let text =
            "name = \"es\"\nurl = \"https://elastic:hunter2@es.example:99999\"\nindex = \"a\"";
        let err = read(text).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("not a URL"), "{err}");
    }
}
