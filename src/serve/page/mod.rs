//! The status page at `/`: one card per configured source (health, lag, last run, events per
//! hour over the last day, open incidents, circuit breaker, backfill progress, last error),
//! as HTML for browsers, as plain text for `curl` and scripts, and as JSON at `/status.json`.
//!
//! - `html`: the page (inline CSS, no script, no external asset; every text escaped);
//! - `chart`: the events-per-hour chart, inline SVG;
//! - `text`: the plain-text form.
//!
//! Which form `/` answers: `?format=html|text|json` if given, else HTML when the client's
//! `Accept` names `text/html` (browsers), else text (`curl`, probes, scripts), which is what
//! the page was before it was HTML.

mod chart;
mod html;
mod text;

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::http::{AppState, StoreDown};
use super::Generation;
use crate::runtime::status::hourly::{events_per_hour, Hourly};
use crate::runtime::status::{overview, SourceOverview};

/// How often the HTML page reloads itself.
pub const REFRESH: Duration = Duration::from_secs(15);

/// What the page shows: every configured source, as of `now`.
pub struct Snapshot {
    /// When it was read.
    pub now: DateTime<Utc>,
    /// One card per configured source, in config order.
    pub cards: Vec<Card>,
    /// Why the open incidents could not be read, if they could not.
    pub incidents_error: Option<String>,
}

/// The run history behind a card's chart could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the run history: {0}")]
pub struct HistoryUnreadable(#[from] pub crate::state::StateError);

/// One source's card.
pub struct Card {
    /// Its status and health.
    pub source: SourceOverview,
    /// Its events per hour, or why they could not be read.
    pub hourly: Result<Hourly, HistoryUnreadable>,
    /// Whether its circuit breaker is on (`circuit_breaker.failures` above 0).
    pub breaker_on: bool,
}

/// Reads the snapshot from the generation's store.
async fn snapshot(generation: &Generation) -> Result<Snapshot, StoreDown> {
    let now = Utc::now();
    let store = generation.store.as_ref();
    let config = &generation.config;
    let overview = overview(config, store, now).await?;
    let mut by_name = overview.sources;
    let mut cards = Vec::with_capacity(config.sources.len());
    // Config order, configured sources only: state of sources removed from the config is
    // for `sluice status`, not for the page people watch.
    for source in &config.sources {
        let Some(at) = by_name.iter().position(|s| s.status.source == source.name) else {
            continue;
        };
        let overview = by_name.swap_remove(at);
        let hourly = events_per_hour(store, &source.name, now)
            .await
            .map_err(HistoryUnreadable);
        cards.push(Card {
            source: overview,
            hourly,
            breaker_on: source.circuit_breaker.failures > 0,
        });
    }
    Ok(Snapshot {
        now,
        cards,
        incidents_error: overview.incidents_error.map(|e| e.to_string()),
    })
}

/// `n` and `noun`, in the plural unless `n` is 1: "1 run", "3 runs".
pub(super) fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The forms `/` can answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The HTML page.
    Html,
    /// The plain-text page.
    Text,
    /// The JSON of `/status.json`.
    Json,
}

/// `?format=...` of `/`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct FormatQuery {
    format: Option<Format>,
}

/// The form to answer in: the query's, else by `Accept`.
fn negotiate(query: &FormatQuery, headers: &HeaderMap) -> Format {
    if let Some(format) = query.format {
        return format;
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let html = accept
        .split(',')
        .any(|part| part.trim().to_ascii_lowercase().starts_with("text/html"));
    if html {
        Format::Html
    } else {
        Format::Text
    }
}

/// `/`: the status page, in the form the client asked for.
pub async fn index(
    State(app): State<AppState>,
    query: Result<Query<FormatQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Query(query)) = query else {
        return answer(
            StatusCode::BAD_REQUEST,
            Format::Text,
            "unknown format (hint: ?format=html, ?format=text or ?format=json)\n".into(),
        );
    };
    respond(&app, negotiate(&query, &headers)).await
}

/// `/status.json`: every configured source as `sluice status --json` prints it.
pub async fn status_json(State(app): State<AppState>) -> Response {
    respond(&app, Format::Json).await
}

async fn respond(app: &AppState, format: Format) -> Response {
    let Some(generation) = app.health.generation() else {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            Format::Text,
            "starting\n".into(),
        );
    };
    let snapshot = match snapshot(&generation).await {
        Ok(snapshot) => snapshot,
        Err(reason) => {
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                Format::Text,
                format!("{reason}\n"),
            )
        }
    };
    let body = match format {
        Format::Html => html::render(&snapshot),
        Format::Text => text::render(&snapshot),
        Format::Json => {
            let rows: Vec<_> = snapshot
                .cards
                .iter()
                .map(|card| card.source.to_json(snapshot.now))
                .collect();
            // Serializing a `serde_json::Value` cannot fail.
            serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n"
        }
    };
    answer(StatusCode::OK, format, body)
}

/// An answer in `format`, scrubbed of secrets (run errors may quote an API that echoed one).
fn answer(status: StatusCode, format: Format, body: String) -> Response {
    let content_type = match format {
        Format::Html => "text/html; charset=utf-8",
        Format::Text => "text/plain; charset=utf-8",
        Format::Json => "application/json",
    };
    (
        status,
        [
            (header::CONTENT_TYPE, content_type),
            // A status page is stale the moment it is drawn.
            (header::CACHE_CONTROL, "no-store"),
            // Read-only and self-contained: no script, no frame, nothing fetched from
            // elsewhere, even if a hostile text got past the escaping.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        crate::redact::scrub_string(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value.parse().unwrap());
        headers
    }

    #[test]
    fn browsers_get_html_and_everyone_else_text_unless_they_ask() {
        let none = FormatQuery::default();
        let chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(negotiate(&none, &accept(chrome)), Format::Html);
        assert_eq!(negotiate(&none, &accept("*/*")), Format::Text);
        assert_eq!(negotiate(&none, &HeaderMap::new()), Format::Text);
        assert_eq!(negotiate(&none, &accept("application/json")), Format::Text);
        let text = FormatQuery {
            format: Some(Format::Text),
        };
        assert_eq!(negotiate(&text, &accept(chrome)), Format::Text);
        let html = FormatQuery {
            format: Some(Format::Html),
        };
        assert_eq!(negotiate(&html, &accept("*/*")), Format::Html);
    }
}
