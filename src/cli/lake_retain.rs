//! `sluice lake retain [--source S] [--apply] [--json]`: the partitions older than each
//! source's `retain`, listed, and with `--apply` deleted, each deletion recorded in the
//! manifest ledger (see `runtime::retention`).

use chrono::Utc;
use serde_json::json;

use super::{load_config, ConfigArg, EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::config::{Config, LakeConfig, SinkConfig};
use crate::runtime::retention::{self, RetentionOutcome};

/// Arguments of `sluice lake retain`.
#[derive(Debug, clap::Args)]
pub struct RetainArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The source to apply retention to (default: every source with `retain` that writes
    /// to a lake).
    #[arg(long)]
    source: Option<String>,
    /// Delete the expired objects (without it, they are only listed).
    #[arg(long)]
    apply: bool,
    /// Print the outcome as JSON (one array, one entry per source and lake) instead of lines.
    #[arg(long)]
    json: bool,
}

/// Runs `sluice lake retain`: exit 0 when every listed (or applied) retention succeeded.
pub async fn retain(args: RetainArgs) -> u8 {
    let config = match load_config(&args.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let targets = match targets(&config, &args) {
        Ok(targets) => targets,
        Err(message) => {
            crate::errln!("error: {message}");
            return EXIT_CONFIG;
        }
    };
    let store = match crate::state::open(&config.state).await {
        Ok(store) => store,
        Err(err) => {
            crate::errln!(
                "error: {err} (hint: retention keeps its ledger head in the state store)"
            );
            return EXIT_CONFIG;
        }
    };
    let holder = crate::runtime::worker_identity();
    let mut outcomes = Vec::new();
    let mut failed = false;
    for (source, retain, lakes) in targets {
        let Some(retain) = retain else {
            if !args.json {
                crate::outln!("source `{source}`: no `retain`, its objects are kept forever");
            }
            continue;
        };
        match retention::retain(
            store.as_ref(),
            &source,
            retain,
            &lakes,
            args.apply,
            Utc::now(),
            &holder,
        )
        .await
        {
            Ok(done) => outcomes.extend(done),
            Err(message) => {
                crate::errln!("error: source `{source}`: {message}");
                failed = true;
            }
        }
    }
    if args.json {
        let shown: Vec<serde_json::Value> = outcomes.iter().map(as_json).collect();
        crate::outln!("{}", serde_json::Value::Array(shown));
    } else {
        for outcome in &outcomes {
            show(outcome);
        }
    }
    if failed {
        EXIT_SOURCE_FAILED
    } else {
        EXIT_OK
    }
}

/// The sources to look at, with their `retain` and lake sinks.
type Target<'c> = (String, Option<std::time::Duration>, Vec<&'c LakeConfig>);

fn targets<'c>(config: &'c Config, args: &RetainArgs) -> Result<Vec<Target<'c>>, String> {
    let file = args.config.config.display();
    if let Some(source) = &args.source {
        if !config.sources.iter().any(|s| s.name == *source) {
            let known: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
            return Err(format!(
                "--source `{source}` is not in {file} (hint: configured sources: {})",
                known.join(", ")
            ));
        }
    }
    let mut targets = Vec::new();
    for source in &config.sources {
        if args.source.as_ref().is_some_and(|s| *s != source.name) {
            continue;
        }
        let lakes: Vec<&LakeConfig> = config
            .sinks
            .iter()
            .filter_map(|sink| match sink {
                SinkConfig::Lake(lake) if source.sinks.contains(&lake.name) => Some(lake),
                _ => None,
            })
            .collect();
        if lakes.is_empty() {
            if args.source.is_some() {
                return Err(format!(
                    "source `{}` writes to no lake sink in {file}: retention deletes lake objects only (hint: --source names a source with a kind = \"lake\" sink)",
                    source.name
                ));
            }
            continue;
        }
        if args.apply && source.retain.is_none() && args.source.is_some() {
            return Err(format!(
                "--apply: source `{}` has no `retain` in {file}, so nothing can expire (hint: add retain = \"400d\" (or how long its objects must be kept) to its [[sources]] table)",
                source.name
            ));
        }
        targets.push((source.name.clone(), source.retain, lakes));
    }
    if args.apply && targets.iter().all(|(_, retain, _)| retain.is_none()) {
        return Err(format!(
            "--apply: no source with a lake sink has `retain` in {file}, so nothing can expire (hint: add retain = \"400d\" (or how long objects must be kept) to a [[sources]] table)"
        ));
    }
    Ok(targets)
}

fn as_json(outcome: &RetentionOutcome) -> serde_json::Value {
    let plan = &outcome.plan;
    json!({
        "source": plan.source,
        "sink": plan.sink,
        "cutoff": crate::timefmt::rfc3339_millis(plan.cutoff),
        "applied": outcome.applied,
        "partitions": plan.partitions().iter().map(|(dir, objects, bytes)| json!({
            "partition": dir, "objects": objects, "bytes": bytes,
        })).collect::<Vec<_>>(),
        "expired": plan.expired.iter().map(|e| &e.key).collect::<Vec<_>>(),
        "locked": plan.locked.iter().map(|l| json!({
            "key": l.entry.key,
            "until": crate::timefmt::rfc3339_millis(l.until),
        })).collect::<Vec<_>>(),
        "absent": plan.absent,
        "leftover": plan.leftover,
    })
}

fn show(outcome: &RetentionOutcome) {
    let plan = &outcome.plan;
    let verb = if outcome.applied {
        "deleted"
    } else {
        "expired"
    };
    for (dir, objects, bytes) in plan.partitions() {
        crate::outln!("{verb}: {dir}/ ({objects} objects, {bytes} bytes)");
    }
    for locked in &plan.locked {
        crate::outln!(
            "skipped: {} is under Object Lock retention until {}",
            locked.entry.key,
            crate::timefmt::rfc3339_millis(locked.until)
        );
    }
    for key in &plan.absent {
        crate::outln!(
            "missing: {key} is expired but already gone, with no retention record (`sluice lake verify` reports it)"
        );
    }
    let hint = if outcome.applied || plan.expired.is_empty() {
        String::new()
    } else {
        " (run again with --apply to delete them)".to_string()
    };
    crate::outln!(
        "source `{}`, lake `{}`: {} objects in {} partitions older than {} {verb}, {} under Object Lock skipped{hint}",
        plan.source,
        plan.sink,
        plan.expired.len(),
        plan.partitions().len(),
        crate::timefmt::rfc3339_millis(plan.cutoff),
        plan.locked.len()
    );
}
