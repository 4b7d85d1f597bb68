//! An active canary's settings (`canary = { ... }` on a source): a request that makes the
//! vendor log a known event (a test account's sign-in, say), how often to send it, how soon
//! the event must then be delivered, and how to recognise it among the source's events. The
//! runtime sends the request and judges the outcome (`runtime::canary`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::path::JsonPath;
use crate::model::Secret;

/// A source's active canary.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryConfig {
    /// The request that causes the known event at the vendor.
    pub request: CanaryRequest,
    /// How often the request is sent (by the first scheduled run after this much time).
    #[serde(with = "humantime_serde")]
    pub every: Duration,
    /// How soon after the request a matching event must be delivered.
    #[serde(with = "humantime_serde")]
    pub within: Duration,
    /// How the source's events are recognised as the canary's.
    #[serde(rename = "match")]
    pub matches: CanaryMatch,
}

/// The canary's HTTP request. Credentials go in `headers` or `body` (as `${env:...}` or secret
/// manager references): the URL appears in logs and alerts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryRequest {
    /// The HTTP method (default `POST`).
    #[serde(default)]
    pub method: CanaryMethod,
    /// The URL, `http://` or `https://`.
    pub url: String,
    /// Headers sent with it; values may hold secret references.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// The body sent as is; it may hold secret references.
    #[serde(default)]
    pub body: Option<Secret>,
    /// The longest the request may take (default 30s).
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// The canary request's method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CanaryMethod {
    /// GET.
    Get,
    /// POST (the default).
    #[default]
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl CanaryMethod {
    /// The method as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            CanaryMethod::Get => "GET",
            CanaryMethod::Post => "POST",
            CanaryMethod::Put => "PUT",
            CanaryMethod::Patch => "PATCH",
            CanaryMethod::Delete => "DELETE",
        }
    }
}

/// An event is the canary's when the value at `path` equals `equals`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryMatch {
    /// Where in the event (as the API serves it) to look.
    pub path: JsonPath,
    /// The value it must have (a string, number or boolean).
    pub equals: serde_json::Value,
}

impl CanaryMatch {
    /// Whether the raw event `data` is the canary's: the value at `path` parses and equals
    /// `equals`. Reads only that field.
    pub fn matches(&self, data: &super::RawJson) -> bool {
        data.lookup(&self.path)
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
            .is_some_and(|value| value == self.equals)
    }
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

/// What is wrong with a canary's settings, as (key under the canary, message, hint).
pub fn problem(canary: &CanaryConfig) -> Option<(&'static str, String, &'static str)> {
    if canary.every.is_zero() {
        return Some((
            "every",
            "every = \"0s\" would send the canary request on every run".into(),
            "give how often to cause the event, e.g. every = \"1h\"",
        ));
    }
    if canary.within.is_zero() || canary.within >= canary.every {
        return Some((
            "within",
            format!(
                "within ({}) must be longer than zero and shorter than every ({}): each request's deadline must pass before the next request",
                humantime::format_duration(canary.within),
                humantime::format_duration(canary.every)
            ),
            "give the vendor's usual delay plus the settle delay and one schedule interval, e.g. within = \"15m\" with every = \"1h\"",
        ));
    }
    if canary.request.timeout.is_zero() {
        return Some((
            "request.timeout",
            "timeout = \"0s\" leaves the request no time".into(),
            "leave it out for the default (30s)",
        ));
    }
    match url::Url::parse(&canary.request.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {}
        Ok(url) => {
            return Some((
                "request.url",
                format!("`{}` is not an http:// or https:// URL", url.scheme()),
                "write the full URL of the request that causes the event, e.g. \"https://acme.okta.com/api/v1/authn\"",
            ))
        }
        Err(err) => {
            return Some((
                "request.url",
                format!("not a URL: {err}"),
                "write the full URL of the request that causes the event, e.g. \"https://acme.okta.com/api/v1/authn\"",
            ))
        }
    }
    if canary.matches.path.is_empty() {
        return Some((
            "match.path",
            "the path is empty, so every event would match".into(),
            "name the field that tells the canary's event apart, e.g. path = \"actor.alternateId\"",
        ));
    }
    if canary.matches.equals.is_null()
        || canary.matches.equals.is_array()
        || canary.matches.equals.is_object()
    {
        return Some((
            "match.equals",
            "must be a string, number or boolean".into(),
            "write the value the field has in the canary's event, e.g. equals = \"canary@example.com\"",
        ));
    }
    None
}
