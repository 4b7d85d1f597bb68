//! `sluice status`: where each source is.

use chrono::Utc;

use super::{ConfigArg, EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::runtime::status::{overview, Health, SourceOverview};
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
    let now = Utc::now();
    let overview = match overview(&config, store.as_ref(), now).await {
        Ok(overview) => overview,
        Err(err) => {
            crate::errln!("error: {err}");
            return EXIT_CONFIG;
        }
    };
    // Reading the incidents must not hide the rest of the status.
    if let Some(err) = &overview.incidents_error {
        crate::errln!("warning: cannot read the open alert incidents: {err}");
    }
    if args.json {
        let rows: Vec<_> = overview.sources.iter().map(|s| s.to_json(now)).collect();
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else {
        print_table(&overview.sources, now);
    }
    // Loud for scripts and monitors: any source failing, parked or stale is a non-zero exit.
    if overview
        .sources
        .iter()
        .filter_map(|s| s.health.as_ref())
        .any(Health::is_bad)
    {
        EXIT_SOURCE_FAILED
    } else {
        EXIT_OK
    }
}

fn print_table(sources: &[SourceOverview], now: chrono::DateTime<Utc>) {
    for source in sources {
        let (s, health) = (&source.status, &source.health);
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
        match source.lag_seconds(now) {
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
            // Runs recorded before kinds were stored have none.
            let kind = run.kind.map(|k| format!(" ({k})")).unwrap_or_default();
            crate::outln!(
                "  last error   {}{kind}: {}",
                rfc3339_millis(run.finished_at),
                run.error.as_deref().unwrap_or_default()
            );
        }
        if let Some(canary) = &source.canary {
            crate::outln!("  canary       {}: {}", canary.state(), canary.reason());
        }
        for incident in &source.incidents {
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
