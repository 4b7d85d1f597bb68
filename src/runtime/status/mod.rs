//! What `sluice status` and the daemon's status page show of each source: its position, its
//! health and why, its backfills' progress and its open alert incidents (and, for the page,
//! its volume per hour: [`hourly`]). Gathered here once, so the command and the page cannot
//! disagree.

mod health;
pub mod hourly;

use std::collections::HashSet;

use chrono::{DateTime, Utc};

pub use health::{Health, MISSED_RUNS};

use crate::config::Config;
use crate::state::{
    is_window_key, window_key, Backfill, Incident, SourceStatus, StateError, StateStore,
    WINDOW_KEY_SEPARATOR,
};

/// One source as the status shows it.
#[derive(Debug, Clone)]
pub struct SourceOverview {
    /// Its position and last runs (its backfill windows' deliveries counted in).
    pub status: SourceStatus,
    /// Its health; `None` for state the config no longer lists (shown, not judged).
    pub health: Option<Health>,
    /// Progress of each backfill in its checkpoint, in the checkpoint's order.
    pub backfills: Vec<BackfillProgress>,
    /// Its open alert incidents.
    pub incidents: Vec<Incident>,
    /// Its active canary, when the config gives it one.
    pub canary: Option<crate::runtime::canary::Canary>,
}

/// How far one backfill is.
#[derive(Debug, Clone, PartialEq)]
pub struct BackfillProgress {
    /// Start of the range.
    pub from: DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: DateTime<Utc>,
    /// Everything before this time is delivered.
    pub frontier: DateTime<Utc>,
    /// Length of each window.
    pub step: std::time::Duration,
    /// Its windows.
    pub windows: u64,
    /// Its windows that are finished, the ones past the frontier included (windows finish in
    /// any order, and the frontier moves only over a contiguous run of them).
    pub done: u64,
}

/// Every source the config or the store knows.
#[derive(Debug)]
pub struct Overview {
    /// Stored sources first (in the store's order), then configured sources that never ran.
    pub sources: Vec<SourceOverview>,
    /// Why the open incidents could not be read, if they could not (they then show as none:
    /// the rest of the status is still worth showing).
    pub incidents_error: Option<StateError>,
}

/// Reads the status of every source from `store` and judges the ones `config` lists, at
/// `now`. Fails only when the store cannot say where the sources are.
pub async fn overview(
    config: &Config,
    store: &dyn StateStore,
    now: DateTime<Utc>,
) -> Result<Overview, StateError> {
    let (windows, mut statuses): (Vec<_>, Vec<_>) = store
        .status()
        .await?
        .into_iter()
        .partition(|s| is_window_key(&s.source));
    // A source's backfill windows deliver on its behalf: count them in.
    for window in &windows {
        let owner = window
            .source
            .split(WINDOW_KEY_SEPARATOR)
            .next()
            .unwrap_or_default();
        if let Some(status) = statuses.iter_mut().find(|s| s.source == owner) {
            status.checkpoint.delivered += window.checkpoint.delivered;
        }
    }
    let finished: HashSet<&str> = windows
        .iter()
        .filter(|w| w.checkpoint.is_finished_window())
        .map(|w| w.source.as_str())
        .collect();
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
    let (incidents, incidents_error) = match store.incidents().await {
        Ok(incidents) => (incidents, None),
        Err(err) => (Vec::new(), Some(err)),
    };
    let mut sources = Vec::with_capacity(statuses.len());
    for status in statuses {
        let configured = config.sources.iter().find(|s| s.name == status.source);
        let health = match configured {
            Some(source) => Some(health::judge(config, source, &status, store, now).await),
            None => None,
        };
        let canary = configured
            .and_then(|source| source.canary.as_ref())
            .map(|canary| crate::runtime::canary::judge(canary, &status.checkpoint.canary, now));
        let backfills = status
            .checkpoint
            .backfills
            .iter()
            .map(|b| progress(&status.source, b, &finished))
            .collect();
        let incidents = incidents
            .iter()
            .filter(|i| i.source == status.source)
            .cloned()
            .collect();
        sources.push(SourceOverview {
            status,
            health,
            backfills,
            incidents,
            canary,
        });
    }
    Ok(Overview {
        sources,
        incidents_error,
    })
}

/// How far backfill `backfill` of `source` is, given the keys of its finished windows.
fn progress(source: &str, backfill: &Backfill, finished: &HashSet<&str>) -> BackfillProgress {
    let (mut windows, mut done) = (0, 0);
    for window in backfill.windows() {
        windows += 1;
        // Windows behind the frontier are done whether or not their keys are still stored;
        // only those past it need their key looked up.
        if window.range.end <= backfill.frontier
            || finished.contains(window_key(source, backfill.id, window.range.start).as_str())
        {
            done += 1;
        }
    }
    BackfillProgress {
        from: backfill.from,
        to: backfill.to,
        frontier: backfill.frontier,
        step: backfill.step,
        windows,
        done,
    }
}

impl SourceOverview {
    /// Now minus the newest delivered event's time, in seconds.
    pub fn lag_seconds(&self, now: DateTime<Utc>) -> Option<i64> {
        self.status
            .checkpoint
            .high_water
            .map(|hw| (now - hw).num_seconds())
    }

    /// The source as `sluice status --json` prints it and the daemon's `/status.json` serves
    /// it.
    pub fn to_json(&self, now: DateTime<Utc>) -> serde_json::Value {
        let status = &self.status;
        let health = self.health.as_ref();
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
            "backfills": self.backfills.iter().map(|b| serde_json::json!({
                "from": b.from,
                "to": b.to,
                "frontier": b.frontier,
                "windows": b.windows,
                "windows_done": b.done,
            })).collect::<Vec<_>>(),
            "high_water": status.checkpoint.high_water,
            "lag_seconds": self.lag_seconds(now),
            "delivered": status.checkpoint.delivered,
            "commits": status.checkpoint.seq,
            "commit_in_flight": status.commit_in_flight,
            "last_run": status.last_run,
            "last_error": status.last_error,
            "canary": self.canary.as_ref().map(|canary| serde_json::json!({
                "state": canary.state(),
                "reason": canary.reason(),
                "triggered": status.checkpoint.canary.triggered,
                "seen": status.checkpoint.canary.seen,
            })),
            "incidents": self.incidents.iter().map(|i| serde_json::json!({
                "alert": i.alert,
                "opened_at": i.opened_at,
                "notified_at": i.notified_at,
                "notifications": i.notifications,
                "detail": i.detail,
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Checkpoint;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn backfill() -> Backfill {
        Backfill {
            id: 7,
            from: at("2026-01-01T00:00:00Z"),
            to: at("2026-01-01T05:00:00Z"),
            step: std::time::Duration::from_secs(3600),
            frontier: at("2026-01-01T02:00:00Z"),
            seed: Default::default(),
        }
    }

    #[test]
    fn backfill_progress_counts_windows_behind_the_frontier_and_finished_ones_past_it() {
        let b = backfill();
        // Window 4 (04:00) finished out of order; window 3 (03:00) has a key but is not
        // finished; windows 1 and 2 are behind the frontier.
        let done_key = window_key("okta", 7, at("2026-01-01T04:00:00Z"));
        let finished: HashSet<&str> = [done_key.as_str()].into_iter().collect();
        let p = progress("okta", &b, &finished);
        assert_eq!((p.windows, p.done), (5, 3));
        // Another backfill's finished window of the same start is not this one's.
        let other = window_key("okta", 8, at("2026-01-01T04:00:00Z"));
        let finished: HashSet<&str> = [other.as_str()].into_iter().collect();
        assert_eq!(progress("okta", &b, &finished).done, 2);
    }

    #[tokio::test]
    async fn overview_counts_window_deliveries_in_and_lists_sources_that_never_ran() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::state::SqliteStore::open(&dir.path().join("state.db"))
            .await
            .unwrap();
        let source = |name: &str| {
            format!("[[sources]]\nname = \"{name}\"\nbase_url = \"https://api.example.com\"\npath = \"/e\"\nquery = {{ since = \"{{start}}\" }}\npagination = {{ kind = \"none\" }}\nevent_time = {{ path = \"t\" }}\nsinks = [\"lake\"]\n")
        };
        let text = format!(
            "{}{}[[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"lake\"\n",
            source("okta"),
            source("idle")
        );
        let config = crate::config::load_str(&text, std::path::Path::new("t.toml"))
            .expect("the test config is valid");
        let own = Checkpoint {
            seq: 1,
            delivered: 10,
            ..Default::default()
        };
        store.commit("okta", &own, 0).await.unwrap();
        let window = Checkpoint {
            seq: 1,
            delivered: 5,
            ..Default::default()
        };
        let key = window_key("okta", 1, at("2026-01-01T00:00:00Z"));
        store.commit(&key, &window, 0).await.unwrap();

        let overview = overview(&config, &store, Utc::now()).await.unwrap();
        let names: Vec<&str> = overview
            .sources
            .iter()
            .map(|s| s.status.source.as_str())
            .collect();
        assert_eq!(names, ["okta", "idle"]);
        assert_eq!(overview.sources[0].status.checkpoint.delivered, 15);
        assert_eq!(overview.sources[1].health, Some(Health::NeverRan));
        assert!(overview.incidents_error.is_none());
    }
}
