//! `sluice check`: validate the config and make one request per source.

use chrono::Utc;

use super::{load_config, ConfigArg, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::config::WindowConfig;
use crate::source::{window, HttpSource};
use crate::state::Window;
use crate::timefmt::rfc3339_millis;

pub async fn check(args: ConfigArg) -> u8 {
    let config = match load_config(&args) {
        Ok(config) => config,
        Err(code) => return code,
    };
    crate::outln!(
        "{}: config is valid ({} sources, {} sinks)",
        args.config.display(),
        config.sources.len(),
        config.sinks.len()
    );
    let mut failed = 0;
    for source in &config.sources {
        match probe(source).await {
            Ok(found) => crate::outln!("{}: ok: {found}", source.name),
            Err(err) => {
                failed += 1;
                crate::outln!("{}: FAILED: {err}", source.name);
            }
        }
    }
    if failed == 0 {
        EXIT_OK
    } else {
        EXIT_SOURCE_FAILED
    }
}

/// Requests the first page of the newest settled window: the one most likely to hold
/// events, so "0 records" says something about the spec.
async fn probe(config: &crate::config::SourceConfig) -> Result<String, String> {
    let mut config = config.clone();
    // One quick answer beats a thorough one here.
    config.http.max_attempts = config.http.max_attempts.min(2);
    let source = HttpSource::new(&config).map_err(|e| e.to_string())?;
    let window = newest_window(&config.window, Utc::now());
    let page = source.fetch(&window, None).await.map_err(|e| {
        // Name the page's URL (credentials hidden) unless the error names the one that
        // failed, such as the token endpoint's.
        match source.shown_url(&window) {
            Some(url) if !e.names_url() => format!("{url}: {e}"),
            _ => e.to_string(),
        }
    })?;
    let times = page.records.iter().map(|r| r.time);
    let span = match (times.clone().min(), times.max()) {
        (Some(first), Some(last)) => format!(
            ", event times {} .. {}",
            rfc3339_millis(first),
            rfc3339_millis(last)
        ),
        _ => String::new(),
    };
    // A position listing's request has no time range: it is a source's first request.
    let asked = if config.window.mode == crate::config::WindowMode::Position {
        "a first request, without a saved position".to_string()
    } else {
        format!(
            "newest settled window {} .. {}",
            rfc3339_millis(window.start),
            rfc3339_millis(window.end)
        )
    };
    Ok(format!(
        "{} returned {} records{span} ({asked}); {}",
        page.url,
        page.records.len(),
        if page.next.is_some() {
            "more pages follow"
        } else {
            "no next page"
        }
    ))
}

/// The newest window a run at `now` would list: ending at the horizon, as long as
/// `max_window` (or `lookback`, when shorter), its end cut to what `window.format` writes.
fn newest_window(config: &WindowConfig, now: chrono::DateTime<Utc>) -> Window {
    let horizon = window::horizon(now, config);
    let end = crate::timefmt::truncate(horizon, &config.format);
    let span = config.max_window.min(config.lookback);
    let start = chrono::Duration::from_std(span).map_or(end, |span| end - span);
    Window { start, end }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_probe_lists_the_newest_settled_window() {
        let config = WindowConfig {
            lookback: Duration::from_secs(7 * 86_400),
            max_window: Duration::from_secs(3600),
            settle_delay: Duration::from_secs(60),
            format: crate::model::TimeFormat::EpochSeconds,
            ..WindowConfig::default()
        };
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-01T12:00:30.500Z")
            .unwrap()
            .with_timezone(&Utc);
        let w = newest_window(&config, now);
        assert_eq!(rfc3339_millis(w.end), "2026-03-01T11:59:30.000Z");
        assert_eq!(rfc3339_millis(w.start), "2026-03-01T10:59:30.000Z");
        let short = WindowConfig {
            lookback: Duration::from_secs(600),
            ..config
        };
        assert_eq!(
            rfc3339_millis(newest_window(&short, now).start),
            "2026-03-01T11:49:30.000Z"
        );
    }
}
