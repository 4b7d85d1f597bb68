//! The plain-text form of the status page, for `curl` and scripts: per source, its health,
//! position, lag, last run, circuit breaker, backfills and open incidents.

use std::time::Duration;

use super::Snapshot;
use crate::runtime::status::Health;
use crate::timefmt::rfc3339_millis;

/// The page as text.
pub fn render(snapshot: &Snapshot) -> String {
    let mut page = String::from("sluice serve\n\n");
    for card in &snapshot.cards {
        let source = &card.source;
        let checkpoint = &source.status.checkpoint;
        let lag = source
            .lag_seconds(snapshot.now)
            .map(|lag| {
                humantime::format_duration(Duration::from_secs(lag.max(0) as u64)).to_string()
            })
            .unwrap_or_else(|| "-".into());
        let health = match &source.health {
            Some(health) => match health.reason() {
                Some(reason) => format!("{}: {reason}", health.state()),
                None => health.state().to_string(),
            },
            None => "-".to_string(),
        };
        let circuit = match &source.health {
            Some(Health::Parked(parked)) => format!(
                "open until {} ({} failed runs in a row; runs are skipped)",
                rfc3339_millis(parked.until),
                parked.failures
            ),
            _ => "closed".to_string(),
        };
        let last = source.status.last_run.as_ref().map_or_else(
            || "never".to_string(),
            |run| {
                format!(
                    "{} ({} events{})",
                    rfc3339_millis(run.finished_at),
                    run.events,
                    run.error
                        .as_deref()
                        .map(|e| format!(", failed: {e}"))
                        .unwrap_or_default()
                )
            },
        );
        page.push_str(&format!(
            "{name}\n  health       {health}\n  delivered    {delivered}\n  high water   {high}\n  lag          {lag}\n  last run     {last}\n  circuit      {circuit}\n",
            name = source.status.source,
            delivered = checkpoint.delivered,
            high = checkpoint
                .high_water
                .map_or_else(|| "-".into(), rfc3339_millis),
        ));
        for b in &source.backfills {
            page.push_str(&format!(
                "  backfill     {} .. {}: {} of {} windows done, complete up to {}\n",
                rfc3339_millis(b.from),
                rfc3339_millis(b.to),
                b.done,
                b.windows,
                rfc3339_millis(b.frontier)
            ));
        }
        for incident in &source.incidents {
            page.push_str(&format!(
                "  alert        {} open since {}: {}\n",
                incident.alert,
                rfc3339_millis(incident.opened_at),
                incident.detail
            ));
        }
    }
    if let Some(err) = &snapshot.incidents_error {
        page.push_str(&format!(
            "\nwarning: cannot read the open alert incidents: {err}\n"
        ));
    }
    page
}
