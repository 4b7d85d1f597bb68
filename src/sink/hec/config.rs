//! `kind = "splunk_hec"`: Splunk HTTP Event Collector (`/services/collector/event`).
//!
//! ```toml
//! [[sinks]]
//! name = "splunk"
//! kind = "splunk_hec"
//! url = "https://splunk.example.com:8088"
//! token = "${env:SPLUNK_HEC_TOKEN}"
//! index = "audit"
//! acks = true
//! ```
//!
//! The table is read as plain data; [`HecConfig::validate`] then judges it, each problem at its
//! key (the loader adds the file, line and `sinks[i]`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::model::{Problem, Secret};
// These live with the sink, where they can be named (`sluice::sink::hec::...`): this module
// is private to the config module, which re-exports only `HecConfig`.
use crate::sink::hec::{HecCompression, HecEventFormat, HecProblem};

/// Settings of a Splunk HEC sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HecConfig {
    /// Unique name that sources refer to.
    pub name: String,
    /// Base URL of the collector, e.g. `https://splunk.example.com:8088` (a path prefix is
    /// kept, for collectors behind a proxy). Events go to `<url>/services/collector/event`;
    /// a URL that already ends in `/services/collector` or `/services/collector/event` is
    /// accepted as is.
    pub url: String,
    /// The HEC token, sent as `Authorization: Splunk <token>`. Use `${env:NAME}` or
    /// `${file:PATH}`.
    pub token: Secret,
    /// Splunk index; none means the token's default index.
    #[serde(default)]
    pub index: Option<String>,
    /// `source` of every event; default: the sluice source's name.
    #[serde(default)]
    pub source: Option<String>,
    /// `sourcetype` of every event; default: `sluice:<source name>`.
    #[serde(default)]
    pub sourcetype: Option<String>,
    /// `host` of every event; none lets Splunk pick (the collector's host).
    #[serde(default)]
    pub host: Option<String>,
    /// What goes into each HEC event's `event` field.
    #[serde(default)]
    pub event_format: HecEventFormat,
    /// What each HEC event's `event` field holds: `raw` (the vendor record), `envelope` or
    /// `ocsf`. Unset: what `event_format` says (`raw` by default, as Splunk's sourcetypes
    /// expect the vendor's own event).
    #[serde(default)]
    pub payload: Option<crate::sink::Payload>,
    /// How request bodies are compressed.
    #[serde(default)]
    pub compression: HecCompression,
    /// A batch is sent once it holds this many bytes of HEC JSON (before compression).
    #[serde(default = "default_max_batch_bytes")]
    pub max_batch_bytes: bytesize::ByteSize,
    /// A batch is sent once it holds this many events.
    #[serde(default = "default_max_batch_events")]
    pub max_batch_events: usize,
    /// Events waiting longer than this for their batch to fill ask the runtime for a commit,
    /// which sends them.
    #[serde(default = "default_max_batch_age", with = "humantime_serde")]
    pub max_batch_age: Duration,
    /// Use indexer acknowledgement: a batch counts as delivered only once Splunk says it is
    /// indexed. The token must have indexer acknowledgement enabled.
    #[serde(default)]
    pub acks: bool,
    /// How often acknowledgements are asked for (`/services/collector/ack`).
    #[serde(default = "default_ack_poll_interval", with = "humantime_serde")]
    pub ack_poll_interval: Duration,
    /// A batch not acknowledged this long after it was sent is sent again.
    #[serde(default = "default_ack_timeout", with = "humantime_serde")]
    pub ack_timeout: Duration,
    /// How many times one batch is sent again for want of an acknowledgement before the
    /// run fails.
    #[serde(default = "default_max_resends")]
    pub max_resends: u32,
    /// Batches that may await acknowledgement at once; past it, writing waits (back-pressure
    /// from a slow Splunk reaches the source).
    #[serde(default = "default_max_unacked_batches")]
    pub max_unacked_batches: usize,
    /// Time allowed for one request.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per request for transport errors, 429 and 5xx (HEC "server is busy").
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The longest wait between attempts (`Retry-After` included).
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
    /// PEM file of a CA to trust besides the system's (HEC often runs with Splunk's own
    /// certificate authority); relative to the config file's directory.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification. Dangerous: anyone on the path can read the token.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// The run fails when the sink refused at least this share of the events offered to it
    /// in the run (they are in the dead-letter queue): `"100%"`, the default, when it refused
    /// every one; `"0%"` on any refusal.
    #[serde(default)]
    pub fail_when_refused: crate::sink::share::Share,
    /// `transforms`: this sink's own transform chain, read by the loader into
    /// `Config::transforms` (see [`crate::model::deferred`]).
    #[serde(default)]
    pub transforms: crate::model::Deferred,
}

impl HecConfig {
    /// A config with every default, for `url` and `token`.
    pub fn new(name: impl Into<String>, url: impl Into<String>, token: Secret) -> Self {
        HecConfig {
            name: name.into(),
            url: url.into(),
            token,
            index: None,
            source: None,
            sourcetype: None,
            host: None,
            event_format: HecEventFormat::default(),
            payload: None,
            compression: HecCompression::default(),
            max_batch_bytes: default_max_batch_bytes(),
            max_batch_events: default_max_batch_events(),
            max_batch_age: default_max_batch_age(),
            acks: false,
            ack_poll_interval: default_ack_poll_interval(),
            ack_timeout: default_ack_timeout(),
            max_resends: default_max_resends(),
            max_unacked_batches: default_max_unacked_batches(),
            timeout: default_timeout(),
            max_attempts: default_max_attempts(),
            max_backoff: default_max_backoff(),
            ca_file: None,
            insecure_skip_verify: false,
            fail_when_refused: crate::sink::share::Share::ALL,
            transforms: crate::model::Deferred,
        }
    }

    /// What each event's `event` field holds: `payload`, else what `event_format` says.
    pub fn payload(&self) -> crate::sink::Payload {
        self.payload.unwrap_or(self.event_format.into())
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

    /// The first setting that cannot work, if any ([`crate::sink::hec::HecSink::new`] checks
    /// again, for configs built in code).
    pub fn check(&self) -> Result<(), HecProblem> {
        let problem = |key, message: &str, hint: &str| {
            Err(HecProblem {
                key,
                message: message.to_string(),
                hint: hint.to_string(),
            })
        };
        if let Some(message) = url_problem(&self.url) {
            return problem(
                "url",
                &message,
                "write the collector's base URL, e.g. https://splunk.example.com:8088",
            );
        }
        // Secrets are left unresolved (`${env:...}`) for commands that send nothing; only an
        // empty value is certainly wrong.
        if self.token.expose().trim().is_empty() {
            return problem(
                "token",
                "is empty",
                "set the HEC token, e.g. token = \"${env:SPLUNK_HEC_TOKEN}\"",
            );
        }
        for (key, value) in [
            ("index", &self.index),
            ("source", &self.source),
            ("sourcetype", &self.sourcetype),
            ("host", &self.host),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return problem(key, "is empty", "remove the key to use the default");
            }
        }
        if self.payload.is_some_and(|p| {
            self.event_format != HecEventFormat::Data && p != self.event_format.into()
        }) {
            return problem(
                "payload",
                "disagrees with `event_format`",
                "keep `payload` (raw, envelope or ocsf) and remove `event_format`, its older spelling",
            );
        }
        if self.max_batch_bytes.as_u64() == 0 {
            return problem(
                "max_batch_bytes",
                "must be greater than zero",
                "the default is \"1MiB\"",
            );
        }
        if self.max_batch_events == 0 {
            return problem(
                "max_batch_events",
                "must be at least 1",
                "the default is 1000",
            );
        }
        if self.max_batch_age.is_zero() {
            return problem(
                "max_batch_age",
                "must be greater than zero",
                "the default is \"10s\"",
            );
        }
        if self.ack_poll_interval.is_zero() {
            return problem(
                "ack_poll_interval",
                "must be greater than zero",
                "the default is \"1s\"",
            );
        }
        if self.ack_timeout < self.ack_poll_interval {
            return problem(
                "ack_timeout",
                "must be at least ack_poll_interval",
                "the default is \"60s\": indexing can take tens of seconds under load",
            );
        }
        if self.max_unacked_batches == 0 {
            return problem(
                "max_unacked_batches",
                "must be at least 1",
                "the default is 4",
            );
        }
        if self.max_attempts == 0 {
            return problem("max_attempts", "must be at least 1", "the default is 8");
        }
        if self.timeout.is_zero() {
            return problem(
                "timeout",
                "must be greater than zero",
                "the default is \"30s\"",
            );
        }
        Ok(())
    }
}

/// Why `url` cannot be a collector URL, if it cannot.
fn url_problem(raw: &str) -> Option<String> {
    let url = match url::Url::parse(raw) {
        Ok(url) => url,
        Err(e) => return Some(format!("`{raw}` is not a URL: {e}")),
    };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Some(format!("`{raw}` is not an http(s) URL"));
    }
    // Credentials in the URL would be shown wherever the URL is (errors, logs).
    if !url.username().is_empty() || url.password().is_some() {
        return Some("must not contain a user name or password".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Some(format!(
            "`{raw}` must not have a query or fragment (the token goes in `token`, never in the URL)"
        ));
    }
    None
}

fn default_max_batch_bytes() -> bytesize::ByteSize {
    bytesize::ByteSize::mib(1)
}
fn default_max_batch_events() -> usize {
    1000
}
fn default_max_batch_age() -> Duration {
    Duration::from_secs(10)
}
fn default_ack_poll_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_ack_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_max_resends() -> u32 {
    5
}
fn default_max_unacked_batches() -> usize {
    4
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_attempts() -> u32 {
    8
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(30)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;
    use crate::sink::config::SinkConfig;
    use std::path::Path;

    const BASE: &str = r#"
[[sinks]]
name = "splunk"
kind = "splunk_hec"
url = "https://splunk.example.com:8088"
token = "t0k3n"
"#;

    fn hec(text: &str) -> Result<HecConfig, crate::config::ConfigError> {
        let config = load_str(text, Path::new("sluice.toml"))?;
        match config.sinks.into_iter().next() {
            Some(SinkConfig::SplunkHec(c)) => Ok(c),
            other => panic!("not a HEC sink: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = hec(BASE).unwrap();
        assert_eq!(c.max_batch_bytes, bytesize::ByteSize::mib(1));
        assert_eq!(c.max_batch_events, 1000);
        assert_eq!(c.compression, HecCompression::Gzip);
        assert_eq!(c.event_format, HecEventFormat::Data);
        assert!(!c.acks);
        assert_eq!(c.ack_poll_interval, Duration::from_secs(1));
        assert_eq!(c.ack_timeout, Duration::from_secs(60));
        assert_eq!(c.token.expose(), "t0k3n");
        assert_eq!(
            format!("{c:?}").matches("t0k3n").count(),
            0,
            "Debug redacts the token"
        );
    }

    #[test]
    fn every_key_parses() {
        let text = format!(
            "{BASE}index = \"audit\"\nsource = \"okta-prod\"\nsourcetype = \"okta:system\"\nhost = \"sluice-1\"\nevent_format = \"envelope\"\ncompression = \"none\"\nmax_batch_bytes = \"256KiB\"\nmax_batch_events = 50\nmax_batch_age = \"2s\"\nacks = true\nack_poll_interval = \"250ms\"\nack_timeout = \"30s\"\nmax_resends = 2\nmax_unacked_batches = 8\ntimeout = \"5s\"\nmax_attempts = 3\nmax_backoff = \"1s\"\nca_file = \"/etc/ssl/splunk-ca.pem\"\ninsecure_skip_verify = false\n"
        );
        let c = hec(&text).unwrap();
        assert_eq!(c.index.as_deref(), Some("audit"));
        assert_eq!(c.event_format, HecEventFormat::Envelope);
        assert_eq!(c.compression, HecCompression::None);
        assert_eq!(c.max_batch_bytes, bytesize::ByteSize::kib(256));
        assert!(c.acks);
        assert_eq!(c.ack_poll_interval, Duration::from_millis(250));
        assert_eq!(c.ca_file, Some(PathBuf::from("/etc/ssl/splunk-ca.pem")));
    }

    #[test]
    fn mistakes_name_the_key_and_hint() {
        let cases = [
            (
                "url = \"https://splunk.example.com:8088\"",
                "url = \"splunk.example.com\"",
                "`url`",
            ),
            (
                "url = \"https://splunk.example.com:8088\"",
                "url = \"ftp://splunk\"",
                "`url`",
            ),
            (
                "url = \"https://splunk.example.com:8088\"",
                "url = \"https://u:p@splunk:8088\"",
                "`url`",
            ),
            (
                "url = \"https://splunk.example.com:8088\"",
                "url = \"https://splunk:8088/?token=x\"",
                "`url`",
            ),
            ("token = \"t0k3n\"", "token = \"\"", "`token`"),
            (
                "token = \"t0k3n\"",
                "token = \"t0k3n\"\nmax_batch_events = 0",
                "`max_batch_events`",
            ),
            (
                "token = \"t0k3n\"",
                "token = \"t0k3n\"\nmax_batch_bytes = 0",
                "`max_batch_bytes`",
            ),
            (
                "token = \"t0k3n\"",
                "token = \"t0k3n\"\nmax_batch_age = \"0s\"",
                "`max_batch_age`",
            ),
            (
                "token = \"t0k3n\"",
                "token = \"t0k3n\"\nack_poll_interval = \"5s\"\nack_timeout = \"1s\"",
                "`ack_timeout`",
            ),
            (
                "token = \"t0k3n\"",
                "token = \"t0k3n\"\nmax_unacked_batches = 0",
                "`max_unacked_batches`",
            ),
            (
                "token = \"t0k3n\"",
                "token = \"t0k3n\"\nindex = \"\"",
                "`index`",
            ),
        ];
        for (from, to, key) in cases {
            let text = BASE.replace(from, to);
            let err = hec(&text).unwrap_err();
            let shown = err.to_string();
            assert!(shown.contains(key), "{to}: {shown}");
            assert!(shown.contains("sinks[0]"), "{to}: {shown}");
            assert!(err.hint.is_some(), "{to}: {shown}");
            // The error is at the key itself, on its own line.
            let name = key.trim_matches('`');
            assert_eq!(err.key, Some(format!("sinks[0].{name}")), "{shown}");
            let line = text
                .lines()
                .position(|l| l.starts_with(&format!("{name} =")))
                .map(|i| i + 1);
            assert_eq!(err.position.map(|(line, _)| line), line, "{shown}");
        }
        let err = hec(&format!("{BASE}compresion = \"gzip\"\n")).unwrap_err();
        assert!(err.message.contains("unknown field `compresion`"), "{err}");
        let err = hec(&format!("{BASE}compression = \"zstd\"\n")).unwrap_err();
        assert!(err.message.contains("zstd"), "{err}");
    }

    #[test]
    fn ca_file_is_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sluice.toml");
        std::fs::write(&path, format!("{BASE}ca_file = \"splunk-ca.pem\"\n")).unwrap();
        let config = crate::config::load(&path).unwrap();
        let SinkConfig::SplunkHec(c) = &config.sinks[0] else {
            panic!("not a HEC sink")
        };
        assert_eq!(
            c.ca_file.as_deref(),
            Some(dir.path().join("splunk-ca.pem").as_path())
        );
    }
}
