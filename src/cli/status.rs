//! `sluice status`: where each source is.

use chrono::Utc;

mod health;

use health::Health;

use super::{ConfigArg, EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::state::{Incident, SourceStatus};
use crate::timefmt::rfc3339_millis;

/// Arguments of `sluice status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn status(args: StatusArgs) -> u8 {
    // Status never calls an API, so it must not need the credentials.
    let config = match crate::config::load_without_secrets(&args.config.config) {
        Ok(config) => config,
        Err(err) => {
            crate::errln!("error: {err}");
            return EXIT_CONFIG;
        }
    };
    let store = match crate::state::open_read_only(&config.state).await {
        Ok(store) => store,
        Err(err) => {
            crate::errln!("error: {err}");
            return EXIT_CONFIG;
        }
    };
    let statuses = store.status().await;
    let (windows, mut statuses): (Vec<_>, Vec<_>) = match statuses {
        Ok(statuses) => statuses
            .into_iter()
            .partition(|s| crate::state::is_window_key(&s.source)),
        Err(err) => {
            crate::errln!("error: {err}");
            return EXIT_CONFIG;
        }
    };
    // A source's backfill windows deliver on its behalf: count them in.
    for window in &windows {
        let owner = window
            .source
            .split(crate::state::WINDOW_KEY_SEPARATOR)
            .next()
            .unwrap_or_default();
        if let Some(status) = statuses.iter_mut().find(|s| s.source == owner) {
            status.checkpoint.delivered += window.checkpoint.delivered;
        }
    }
    // Configured sources that never ran are worth showing too.
    for source in &config.sources {
        if !statuses.iter().any(|s| s.source == source.name) {
            statuses.push(SourceStatus {
                source: source.name.clone(),
                checkpoint: Default::default(),
                commit_in_flight: false,
                last_run: None,
                last_error: None,
            });
        }
    }
    let now = Utc::now();
    let mut healths = Vec::with_capacity(statuses.len());
    for status in &statuses {
        let health = match config.sources.iter().find(|s| s.name == status.source) {
            Some(source) => Some(health::judge(&config, source, status, store.as_ref(), now).await),
            // State of a source the config no longer lists: shown, not judged.
            None => None,
        };
        healths.push(health);
    }
    // Open alert incidents, by source. Reading them must not hide the rest of the status.
    let incidents = match store.incidents().await {
        Ok(incidents) => incidents,
        Err(err) => {
            crate::errln!("warning: cannot read the open alert incidents: {err}");
            Vec::new()
        }
    };
    let open_for = |source: &str| -> Vec<&Incident> {
        incidents.iter().filter(|i| i.source == source).collect()
    };
    if args.json {
        let rows: Vec<_> = statuses
            .iter()
            .zip(&healths)
            .map(|(status, health)| json_row(status, health.as_ref(), &open_for(&status.source)))
            .collect();
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else {
        print_table(&statuses, &healths, &open_for);
    }
    // Loud for scripts and monitors: any source failing, parked or stale is a non-zero exit.
    if healths.iter().flatten().any(Health::is_bad) {
        EXIT_SOURCE_FAILED
    } else {
        EXIT_OK
    }
}

fn lag_seconds(status: &SourceStatus) -> Option<i64> {
    status
        .checkpoint
        .high_water
        .map(|hw| (Utc::now() - hw).num_seconds())
}

fn json_row(
    status: &SourceStatus,
    health: Option<&Health>,
    incidents: &[&Incident],
) -> serde_json::Value {
    serde_json::json!({
        "source": status.source,
        "health": health.map(Health::state),
        "health_reason": health.and_then(Health::reason),
        "parked_until": match health {
            Some(Health::Parked(parked)) => Some(parked.until),
            _ => None,
        },
        "window": status.checkpoint.window,
        "anchor": status.checkpoint.anchor,
        "frontier": status.checkpoint.frontier(),
        "backfills": status.checkpoint.backfills.iter().map(|b| serde_json::json!({
            "from": b.from,
            "to": b.to,
            "frontier": b.frontier,
            "windows": b.windows().count(),
        })).collect::<Vec<_>>(),
        "high_water": status.checkpoint.high_water,
        "lag_seconds": lag_seconds(status),
        "delivered": status.checkpoint.delivered,
        "commits": status.checkpoint.seq,
        "commit_in_flight": status.commit_in_flight,
        "last_run": status.last_run,
        "last_error": status.last_error,
        "incidents": incidents.iter().map(|i| serde_json::json!({
            "alert": i.alert,
            "opened_at": i.opened_at,
            "notified_at": i.notified_at,
            "notifications": i.notifications,
            "detail": i.detail,
        })).collect::<Vec<_>>(),
    })
}

fn print_table<'a>(
    statuses: &[SourceStatus],
    healths: &[Option<Health>],
    open_for: &dyn Fn(&str) -> Vec<&'a Incident>,
) {
    for (s, health) in statuses.iter().zip(healths) {
        let c = &s.checkpoint;
        let time =
            |t: Option<chrono::DateTime<Utc>>| t.map(rfc3339_millis).unwrap_or_else(|| "-".into());
        crate::outln!("source {}", s.source);
        match health {
            Some(health) => match health.reason() {
                Some(reason) => crate::outln!("  health       {}: {reason}", health.state()),
                None => crate::outln!("  health       {}", health.state()),
            },
            None => crate::outln!("  health       - (not in the config)"),
        }
        match c.window {
            Some(w) => crate::outln!(
                "  window       {} .. {} (in progress)",
                rfc3339_millis(w.start),
                rfc3339_millis(w.end)
            ),
            None => crate::outln!("  next window  from {}", time(c.anchor)),
        }
        crate::outln!("  high water   {}", time(c.high_water));
        for b in &c.backfills {
            crate::outln!(
                "  backfill     {} .. {}: complete up to {} ({} windows of {})",
                rfc3339_millis(b.from),
                rfc3339_millis(b.to),
                rfc3339_millis(b.frontier),
                b.windows().count(),
                humantime::format_duration(b.step)
            );
        }
        match lag_seconds(s) {
            Some(lag) => crate::outln!(
                "  lag          {}",
                humantime::format_duration(std::time::Duration::from_secs(lag.max(0) as u64))
            ),
            None => crate::outln!("  lag          - (nothing delivered yet)"),
        }
        crate::outln!("  delivered    {} events in {} commits", c.delivered, c.seq);
        if s.commit_in_flight {
            crate::outln!("  in flight    a commit was interrupted; the next run finishes it");
        }
        match &s.last_run {
            Some(run) => crate::outln!(
                "  last run     {} ({}, {} events, {} pages)",
                rfc3339_millis(run.finished_at),
                if run.error.is_some() { "failed" } else { "ok" },
                run.events,
                run.pages
            ),
            None => crate::outln!("  last run     never"),
        }
        if let Some(run) = &s.last_error {
            crate::outln!(
                "  last error   {}: {}",
                rfc3339_millis(run.finished_at),
                run.error.as_deref().unwrap_or_default()
            );
        }
        for incident in open_for(&s.source) {
            crate::outln!(
                "  alert        {} open since {} (sent {} times): {}",
                incident.alert,
                rfc3339_millis(incident.opened_at),
                incident.notifications,
                incident.detail
            );
        }
    }
}
