//! Alerts: after each run of a source, every `[[alerts]]` rule watching it is judged
//! ([`rules`]); an incident opens once, is sent again every `renotify` while it stays open,
//! and closes with a recovery message. Open incidents live in the state store, so a restart
//! of `sluice serve` (or the next `sluice run`) neither repeats nor forgets one. Messages go
//! out on a task of their own ([`Dispatcher`]), so a slow or unreachable notifier never
//! holds up or fails a run.
//!
//! An incident is recorded before it is sent: a crash between the two loses that one
//! message rather than sending it twice (the next re-notification still goes out).

mod email;
pub mod message;
pub mod rules;
mod send;

use std::sync::Arc;

use chrono::Utc;

pub use message::{signature, Kind, Message};
pub use send::{Dispatcher, Sending};

use crate::config::{AlertConfig, AlertRule, Config, NotifierConfig};
use crate::model::schedule::Schedule;
use crate::runtime::RunReport;
use crate::state::{Incident, StateStore};
use rules::{Observation, Step};

/// Runs looked back through for a failing streak (the stores keep 100).
const HISTORY: usize = 100;

/// Judges every alert watching the source of `report` after its run, records what changed
/// in `store`, and queues the messages on `dispatcher`. Store failures are logged: alerting
/// never fails a run.
pub async fn after_run(
    config: &Config,
    store: &dyn StateStore,
    report: &RunReport,
    dispatcher: &Dispatcher,
) {
    let name = report.source.as_str();
    let alerts: Vec<&AlertConfig> = config.alerts.iter().filter(|a| a.watches(name)).collect();
    let Some(source) = config.sources.iter().find(|s| s.name == name) else {
        return;
    };
    if alerts.is_empty() {
        return;
    }
    let now = Utc::now();
    let looked = async {
        let runs = store.recent_runs(name, HISTORY).await?;
        let volume = if alerts.iter().any(|a| a.rule == AlertRule::VolumeLow) {
            store.load(name).await?.checkpoint.volume.last_hour(now)
        } else {
            None
        };
        let parked = crate::runtime::parked(source, store).await?;
        let open: Vec<Incident> = store
            .incidents()
            .await?
            .into_iter()
            .filter(|i| i.source == name)
            .collect();
        Ok::<_, crate::state::StateError>((runs, volume, parked, open))
    };
    let (runs, volume, parked, open) = match looked.await {
        Ok(found) => found,
        Err(err) => {
            tracing::warn!(source = %name, error = %err, "alerts not checked: cannot read the state store");
            return;
        }
    };
    let period = Schedule::from_config(config.schedule_of(source))
        .map(|schedule| schedule.period(now))
        .unwrap_or_default();
    let silence = source.max_silence.map(|_| {
        crate::runtime::silence::silence(source, period, report.high_water, now)
            .map(|s| s.reason(now))
    });
    let canary = source
        .canary
        .as_ref()
        .zip(report.canary.as_ref())
        .map(|(config, state)| crate::runtime::canary::judge(config, state, now));
    let seen = Observation {
        source: name,
        report: Some(report),
        runs: &runs,
        parked: parked.as_ref(),
        silence: silence.as_ref().map(|s| s.as_deref()),
        canary: canary.as_ref(),
        volume,
        now,
    };
    for alert in alerts {
        let condition = rules::condition(alert, &seen);
        let incident = open.iter().find(|i| i.alert == alert.name());
        let step = rules::step(alert, name, incident, &condition, now);
        if let Err(err) = act(config, store, alert, step, dispatcher).await {
            tracing::warn!(source = %name, alert = %alert.name(), error = %err, "alert state not recorded; it is judged again after the next run");
        }
    }
}

/// Records `step` in the store and queues its messages.
async fn act(
    config: &Config,
    store: &dyn StateStore,
    alert: &AlertConfig,
    step: Step,
    dispatcher: &Dispatcher,
) -> Result<(), crate::state::StateError> {
    let (kind, incident) = match step {
        Step::Nothing => return Ok(()),
        Step::Open(incident) => {
            if !store.open_incident(&incident).await? {
                // Another process opened it first and sends it.
                return Ok(());
            }
            (Kind::Opened, incident)
        }
        Step::Renotify(incident) => {
            store.update_incident(&incident).await?;
            (Kind::Reminder, incident)
        }
        Step::Resolve(incident) => {
            if !store
                .close_incident(&incident.alert, &incident.source)
                .await?
            {
                return Ok(());
            }
            (Kind::Resolved, incident)
        }
    };
    let level = if kind == Kind::Resolved {
        "resolved"
    } else {
        "firing"
    };
    tracing::warn!(alert = %incident.alert, source = %incident.source, state = level, detail = %incident.detail, "alert");
    let message = Arc::new(Message {
        kind,
        alert: incident.alert.clone(),
        rule: alert.rule,
        source: incident.source.clone(),
        detail: incident.detail.clone(),
        opened_at: incident.opened_at,
        at: Utc::now(),
        dedup_key: dedup_key(store, &incident),
    });
    for name in &alert.notify {
        let Some(notifier) = config.notifier(name) else {
            continue;
        };
        // PagerDuty always hears the resolve, or its incident would stay open for ever.
        let wanted = kind != Kind::Resolved
            || alert.recovery
            || matches!(notifier, NotifierConfig::Pagerduty(_));
        if wanted {
            dispatcher.send(notifier, Arc::clone(&message));
        }
    }
    Ok(())
}

/// The key that names one incident everywhere (PagerDuty's `dedup_key`): the store, the
/// alert, the source and the opening time, so a later incident of the same alert is new.
pub fn dedup_key(store: &dyn StateStore, incident: &Incident) -> String {
    format!(
        "sluice/{}/{}/{}/{}",
        crate::state::short_store_id(store.store_id()),
        incident.alert,
        incident.source,
        incident.opened_at.timestamp_millis()
    )
}
