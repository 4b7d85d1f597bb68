//! `sluice canary check`: whether any source has gone silent past its `max_silence`, or
//! missed its active canary (the event its canary request causes was not delivered in time,
//! or the request fails), as an exit code for cron and monitors.

use chrono::Utc;

use super::{ConfigArg, EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::model::schedule::Schedule;
use crate::runtime::canary::judge;
use crate::runtime::silence::silence;

/// Arguments of `sluice canary`.
#[derive(Debug, clap::Args)]
pub struct CanaryArgs {
    #[command(subcommand)]
    command: CanaryCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CanaryCommand {
    /// Exit 1 when a source's newest delivered event is older than its `max_silence` allows
    /// (plus its settle delay and one scheduled interval), or its active canary is overdue or
    /// failing; 0 when none is.
    Check {
        #[command(flatten)]
        config: ConfigArg,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
}

pub async fn canary(args: CanaryArgs) -> u8 {
    let CanaryCommand::Check { config, json } = args.command;
    // Like `status`, it reads the state store only: no credential is needed.
    let config = match crate::config::load_without_secrets(&config.config) {
        Ok(config) => config,
        Err(err) => {
            crate::errln!("error: {err}");
            return EXIT_CONFIG;
        }
    };
    let statuses = match crate::state::open_read_only(&config.state).await {
        Ok(store) => store.status().await,
        Err(err) => Err(err),
    };
    let statuses = match statuses {
        Ok(statuses) => statuses,
        Err(err) => {
            crate::errln!("error: {err}");
            return EXIT_CONFIG;
        }
    };
    let now = Utc::now();
    let mut rows = Vec::new();
    let mut silent = false;
    for source in config.sources.iter().filter(|s| s.max_silence.is_some()) {
        let high_water = statuses
            .iter()
            .find(|s| s.source == source.name)
            .and_then(|s| s.checkpoint.high_water);
        let period = Schedule::from_config(config.schedule_of(source))
            .map(|schedule| schedule.period(now))
            .unwrap_or_default();
        let found = silence(source, period, high_water, now);
        silent |= found.is_some();
        let (state, reason) = match (&found, high_water) {
            (Some(found), _) => ("silent", Some(found.reason(now))),
            (None, None) => (
                "waiting",
                Some("nothing delivered yet: silence counts from the first event".to_string()),
            ),
            (None, Some(_)) => ("ok", None),
        };
        if !json {
            match &reason {
                Some(reason) => crate::outln!("source {}: {state}: {reason}", source.name),
                None => crate::outln!("source {}: {state}", source.name),
            }
        }
        rows.push(serde_json::json!({
            "source": source.name,
            "check": "silence",
            "state": state,
            "reason": reason,
            "newest_event": high_water,
        }));
    }
    for source in &config.sources {
        let Some(canary) = &source.canary else {
            continue;
        };
        let state = statuses
            .iter()
            .find(|s| s.source == source.name)
            .map(|s| s.checkpoint.canary.clone())
            .unwrap_or_default();
        let judged = judge(canary, &state, now);
        silent |= judged.is_bad();
        if !json {
            crate::outln!(
                "source {}: canary {}: {}",
                source.name,
                judged.state(),
                judged.reason()
            );
        }
        rows.push(serde_json::json!({
            "source": source.name,
            "check": "canary",
            "state": judged.state(),
            "reason": judged.reason(),
            "triggered": state.triggered,
            "seen": state.seen,
        }));
    }
    if json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else if rows.is_empty() {
        crate::outln!("no source sets max_silence or a canary; nothing to check");
    }
    if silent {
        EXIT_SOURCE_FAILED
    } else {
        EXIT_OK
    }
}
