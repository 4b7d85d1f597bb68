//! `sluice check`: validate the config and make one request per source.

use chrono::Utc;

use super::{load_config, ConfigArg, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::source::{window, HttpSource};
use crate::state::{Checkpoint, Window};
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

/// Requests the first page of the first window a fresh run would ask for.
async fn probe(config: &crate::config::SourceConfig) -> Result<String, String> {
    let mut config = config.clone();
    // One quick answer beats a thorough one here.
    config.http.max_attempts = config.http.max_attempts.min(2);
    let source = HttpSource::new(&config).map_err(|e| e.to_string())?;
    let horizon = window::horizon(Utc::now(), &config.window);
    let window =
        window::next_window(&Checkpoint::default(), &config.window, horizon).unwrap_or(Window {
            start: horizon,
            end: horizon,
        });
    let page = source
        .fetch(&window, None)
        .await
        .map_err(|e| e.to_string())?;
    let times = page.records.iter().map(|r| r.time);
    let span = match (times.clone().min(), times.max()) {
        (Some(first), Some(last)) => format!(
            ", event times {} .. {}",
            rfc3339_millis(first),
            rfc3339_millis(last)
        ),
        _ => String::new(),
    };
    Ok(format!(
        "{} returned {} records{span}; {}",
        page.url,
        page.records.len(),
        if page.next.is_some() {
            "more pages follow"
        } else {
            "no next page"
        }
    ))
}
