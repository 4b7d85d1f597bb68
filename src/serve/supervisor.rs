//! One task per source, each running its source on its schedule; reloads hand every task
//! the new config, add tasks for new sources and retire those of removed ones.
//!
//! Tasks share nothing but the stop token, so a slow or failing source never delays
//! another, and a task awaits its run before planning the next, so a source's runs never
//! overlap.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Generation;
use crate::model::schedule::Schedule;
use crate::model::schedule::ScheduleConfig;
use crate::runtime;

/// The running source tasks.
pub struct Supervisor {
    /// Cancelled on SIGTERM/SIGINT: no new runs, and in-flight runs commit and return.
    stop: CancellationToken,
    tasks: HashMap<String, SourceTask>,
    /// Tasks of removed sources, finishing a run that was in flight, by source name.
    retired: Vec<(String, JoinHandle<()>)>,
    /// Where alerts judged after each run are queued.
    alerts: crate::notify::Dispatcher,
}

struct SourceTask {
    generation: watch::Sender<Arc<Generation>>,
    /// Cancelled when the source leaves the config: no more runs, the current one finishes.
    retire: CancellationToken,
    handle: JoinHandle<()>,
}

impl Supervisor {
    /// A supervisor with no sources yet; `stop` ends them all; alerts go to `alerts`.
    pub fn new(stop: CancellationToken, alerts: crate::notify::Dispatcher) -> Self {
        Supervisor {
            stop,
            tasks: HashMap::new(),
            retired: Vec::new(),
            alerts,
        }
    }

    /// Runs the sources of `generation`: new ones start, kept ones take the new config
    /// for their next run (a run in flight finishes on the config it started with), and
    /// removed ones stop after any run in flight.
    pub fn apply(&mut self, generation: &Arc<Generation>) {
        let names: Vec<&str> = generation
            .config
            .sources
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        let removed: Vec<String> = self
            .tasks
            .keys()
            .filter(|name| !names.contains(&name.as_str()))
            .cloned()
            .collect();
        for name in removed {
            if let Some(task) = self.tasks.remove(&name) {
                tracing::info!(source = %name, "source removed from the config: no more runs (a run in flight finishes)");
                task.retire.cancel();
                self.retired.push((name, task.handle));
            }
        }
        for name in names {
            if let Some(task) = self.tasks.get(name) {
                // Fails only if the task has ended, which it does only on stop or retire.
                let _ = task.generation.send(Arc::clone(generation));
                continue;
            }
            // A source removed and added back may still be finishing its old run: the new
            // task waits for it, so the source's runs never overlap.
            let (previous, others): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retired)
                .into_iter()
                .partition(|(retired, _)| retired == name);
            self.retired = others;
            let (sender, receiver) = watch::channel(Arc::clone(generation));
            let retire = CancellationToken::new();
            let handle = tokio::spawn(source_loop(
                name.to_string(),
                previous.into_iter().map(|(_, handle)| handle).collect(),
                receiver,
                self.stop.clone(),
                retire.clone(),
                self.alerts.clone(),
            ));
            tracing::info!(source = %name, "source scheduled");
            self.tasks.insert(
                name.to_string(),
                SourceTask {
                    generation: sender,
                    retire,
                    handle,
                },
            );
        }
        self.retired.retain(|(_, handle)| !handle.is_finished());
    }

    /// Waits until every task has ended (after the stop token was cancelled).
    pub async fn join(self) {
        let handles = self
            .tasks
            .into_values()
            .map(|task| task.handle)
            .chain(self.retired.into_iter().map(|(_, handle)| handle));
        for handle in handles {
            if let Err(err) = handle.await {
                tracing::error!(error = %err, "a source task ended abnormally");
            }
        }
    }
}

/// The next start of a source: its schedule (kept while the config's schedule is
/// unchanged) and when.
struct Plan {
    config: ScheduleConfig,
    nominal: DateTime<Utc>,
    at: DateTime<Utc>,
}

/// Runs source `name` on its schedule until `stop` or `retire`, once the tasks in
/// `previous` (of the same source, removed earlier) have ended.
async fn source_loop(
    name: String,
    previous: Vec<JoinHandle<()>>,
    mut generations: watch::Receiver<Arc<Generation>>,
    stop: CancellationToken,
    retire: CancellationToken,
    alerts: crate::notify::Dispatcher,
) {
    for handle in previous {
        if let Err(err) = handle.await {
            tracing::error!(source = %name, error = %err, "an earlier task of this source ended abnormally");
        }
    }
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let mut plan: Option<Plan> = None;
    let mut last_nominal: Option<DateTime<Utc>> = None;
    loop {
        let generation = Arc::clone(&generations.borrow_and_update());
        let Some(source) = generation.config.sources.iter().find(|s| s.name == name) else {
            return;
        };
        let wanted = generation.config.schedule_of(source);
        if plan.as_ref().map(|p| &p.config) != Some(wanted) {
            plan = next_plan(&name, wanted, last_nominal, &mut rng);
        }
        let wait = plan
            .as_ref()
            .map(|p| (p.at - Utc::now()).to_std().unwrap_or_default());
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = retire.cancelled() => return,
            changed = generations.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
            _ = sleep_or_forever(wait) => {}
        }
        let Some(started) = plan.take() else { continue };
        runtime::metrics::record_schedule_wait(&name, started.at);
        let pending = run(&name, &generation, stop.child_token(), &alerts).await;
        last_nominal = Some(started.nominal);
        if pending {
            // Work remains (a page cap): go on at once rather than wait for the schedule.
            plan = Some(Plan {
                at: Utc::now(),
                ..started
            });
        }
    }
}

/// Plans the next start, logging it; `None` (logged) when the schedule has no future time.
fn next_plan(
    name: &str,
    config: &ScheduleConfig,
    last_nominal: Option<DateTime<Utc>>,
    rng: &mut impl rand::Rng,
) -> Option<Plan> {
    let schedule = match Schedule::from_config(config) {
        Ok(schedule) => schedule,
        Err(problem) => {
            // The loader checks every schedule, so a config that gets here has none bad.
            tracing::error!(source = %name, error = %problem.message, "invalid schedule; the source will not run");
            return None;
        }
    };
    let now = Utc::now();
    let nominal = match last_nominal {
        None => schedule.first(now),
        Some(previous) => schedule.after(previous, now),
    };
    let Some(nominal) = nominal else {
        tracing::warn!(source = %name, "the source's schedule has no future start time; it will not run");
        return None;
    };
    let jitter = chrono::TimeDelta::from_std(schedule.jitter(rng)).unwrap_or_default();
    let at = nominal.checked_add_signed(jitter).unwrap_or(nominal);
    tracing::debug!(source = %name, next_run = %crate::timefmt::rfc3339_millis(at), "next run planned");
    Some(Plan {
        config: config.clone(),
        nominal,
        at,
    })
}

async fn sleep_or_forever(wait: Option<std::time::Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// One run of source `name` on `generation`, as a task of its own so that a panic in it is
/// reported and the schedule goes on (checkpoints move only on commit, so nothing is lost).
/// Then judges the source's alerts. Returns whether work is pending.
async fn run(
    name: &str,
    generation: &Arc<Generation>,
    cancel: CancellationToken,
    alerts: &crate::notify::Dispatcher,
) -> bool {
    let generation_for_silence = Arc::clone(generation);
    let generation = Arc::clone(generation);
    let task_name = name.to_string();
    let handle = tokio::spawn(async move {
        let source = generation
            .config
            .sources
            .iter()
            .find(|s| s.name == task_name)?;
        Some(runtime::run_source(&generation.config, source, &generation.store, cancel).await)
    });
    match handle.await {
        Ok(Some(report)) => {
            watch_silence(name, &generation_for_silence, &report);
            // Store reads and a queue push: the sending itself happens on the dispatcher's
            // task.
            crate::notify::after_run(
                &generation_for_silence.config,
                generation_for_silence.store.as_ref(),
                &report,
                alerts,
            )
            .await;
            report.more_pending && report.error.is_none() && report.skipped.is_none()
        }
        Ok(None) => false,
        Err(err) => {
            tracing::error!(source = %name, error = %err, "source run panicked; the next run follows its schedule");
            false
        }
    }
}

/// The daemon's canary: after each run, whether the source has gone silent past its
/// `max_silence` (the `sluice_silent` gauge, and an error when it is).
fn watch_silence(name: &str, generation: &Generation, report: &runtime::RunReport) {
    let Some(source) = generation.config.sources.iter().find(|s| s.name == name) else {
        return;
    };
    if source.max_silence.is_none() || report.skipped.is_some() {
        return;
    }
    let now = chrono::Utc::now();
    let period = Schedule::from_config(generation.config.schedule_of(source))
        .map(|schedule| schedule.period(now))
        .unwrap_or_default();
    let silent = runtime::silence::silence(source, period, report.high_water, now);
    if let Some(silent) = &silent {
        tracing::error!(source = %name, reason = %silent.reason(now), "source is silent");
    }
    runtime::metrics::record_silence(name, silent.is_some());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr};
    use std::time::Duration;

    use crate::simulator::{self, SimulatorConfig};
    use crate::state::StateStore;

    fn config(dir: &std::path::Path, base_url: &str, with_source: bool) -> crate::config::Config {
        let source = format!(
            r#"
[[sources]]
name = "a"
base_url = "{base_url}"
path = "/api/v1/logs"
query = {{ since = "{{start}}", until = "{{end}}", limit = "{{limit}}" }}
page_size = 100
pagination = {{ kind = "link_header" }}
event_time = {{ path = "published" }}
event_id = {{ path = "uuid" }}
auth = {{ kind = "bearer", prefix = "SSWS", token = "sim-token" }}
window = {{ lookback = "1d", settle_delay = "1m" }}
sinks = ["lake"]
"#
        );
        let text = format!(
            r#"
[serve]
schedule = {{ every = "1h", jitter = "0s" }}
{source}
[[sinks]]
name = "lake"
kind = "lake"
path = "{lake}"
"#,
            source = if with_source { source.as_str() } else { "" },
            lake = dir.join("lake").display(),
        );
        crate::config::load_str(&text, std::path::Path::new("sluice.toml"))
            .expect("the test config is valid")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_source_removed_and_added_back_waits_for_its_old_run() {
        let mut sim_config = SimulatorConfig::okta(800);
        sim_config.latency = Duration::from_millis(60);
        let sim = simulator::start(sim_config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn StateStore> = Arc::new(
            crate::state::SqliteStore::open(&dir.path().join("state.db"))
                .await
                .unwrap(),
        );
        let generation = |with_source| {
            Arc::new(Generation {
                config: config(dir.path(), &sim.base_url(), with_source),
                store: Arc::clone(&store),
            })
        };
        let stop = CancellationToken::new();
        let (alerts, _sending) = crate::notify::Dispatcher::start();
        let mut supervisor = Supervisor::new(stop.clone(), alerts);
        supervisor.apply(&generation(true));
        while sim.stats().pages_ok < 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Removed mid-run (the run goes on), then added back at once.
        supervisor.apply(&generation(false));
        supervisor.apply(&generation(true));

        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let runs = loop {
            let runs = store.recent_runs("a", 2).await.unwrap();
            if runs.len() == 2 {
                break runs;
            }
            assert!(tokio::time::Instant::now() < deadline, "runs: {runs:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let (old, new) = (&runs[1], &runs[0]);
        assert_eq!(old.events, 800, "{old:?}");
        assert!(
            new.started_at >= old.finished_at,
            "the runs overlapped: {old:?} {new:?}"
        );
        stop.cancel();
        supervisor.join().await;
        sim.shutdown().await;
    }
}
