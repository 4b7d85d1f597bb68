//! `sluice dlq list` and `sluice dlq replay`: look at and resend dead letters.

use std::collections::BTreeMap;

use super::{load_config, ConfigArg, EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::sink::dead_letter::{self, DeadLetterObject};

/// Arguments of `sluice dlq`.
#[derive(Debug, clap::Args)]
pub struct DlqArgs {
    #[command(subcommand)]
    command: DlqCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DlqCommand {
    /// List dead-letter objects with their counts and reasons.
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this source.
        #[arg(long)]
        source: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Send a source's dead letters to their sink again; what is accepted leaves the queue
    /// (kept under `_replayed/`).
    Replay {
        #[command(flatten)]
        config: ConfigArg,
        /// The source whose letters to replay.
        #[arg(long)]
        source: String,
        /// Send to this sink instead of the one that refused them.
        #[arg(long)]
        sink: Option<String>,
    },
}

pub async fn dlq(args: DlqArgs) -> u8 {
    let result = match args.command {
        DlqCommand::List {
            config,
            source,
            json,
        } => list(&config, source.as_deref(), json),
        DlqCommand::Replay {
            config,
            source,
            sink,
        } => replay(&config, &source, sink.as_deref()).await,
    };
    result.unwrap_or_else(|(code, message)| {
        crate::errln!("error: {message}");
        code
    })
}

type Failure = (u8, String);

fn queue_root(arg: &ConfigArg) -> Result<(crate::config::Config, std::path::PathBuf), Failure> {
    let config = load_config(arg).map_err(|code| (code, "the config is not valid".to_string()))?;
    let root = config.dead_letter.as_ref().map(|d| d.path.clone()).ok_or((
        EXIT_CONFIG,
        format!(
            "{} has no [dead_letter] table (hint: add [dead_letter] path = \"dead-letter\")",
            arg.config.display()
        ),
    ))?;
    Ok((config, root))
}

fn read(root: &std::path::Path, source: Option<&str>) -> Result<Vec<DeadLetterObject>, Failure> {
    dead_letter::read(root, source).map_err(|e| {
        (
            EXIT_SOURCE_FAILED,
            format!("cannot read the dead-letter queue {}: {e}", root.display()),
        )
    })
}

fn list(arg: &ConfigArg, source: Option<&str>, json: bool) -> Result<u8, Failure> {
    let (_, root) = queue_root(arg)?;
    let objects = read(&root, source)?;
    let rows: Vec<_> = objects
        .iter()
        .map(|object| {
            let mut reasons: BTreeMap<(String, String), usize> = BTreeMap::new();
            for letter in &object.letters {
                *reasons.entry((letter.sink.clone(), letter.error.clone())).or_default() += 1;
            }
            serde_json::json!({
                "object": object.path.display().to_string(),
                "source": object.letters.first().map(|l| l.event.source.to_string()),
                "events": object.letters.len(),
                "reasons": reasons.into_iter().map(|((sink, error), count)| serde_json::json!({"sink": sink, "error": error, "events": count})).collect::<Vec<_>>(),
            })
        })
        .collect();
    if json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else if rows.is_empty() {
        crate::outln!("the dead-letter queue {} is empty", root.display());
    } else {
        for row in &rows {
            crate::outln!(
                "{} ({} events)",
                row["object"].as_str().unwrap_or_default(),
                row["events"]
            );
            for reason in row["reasons"].as_array().into_iter().flatten() {
                crate::outln!(
                    "  {} x sink {}: {}",
                    reason["events"],
                    reason["sink"].as_str().unwrap_or_default(),
                    reason["error"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(EXIT_OK)
}

async fn replay(arg: &ConfigArg, source: &str, sink_override: Option<&str>) -> Result<u8, Failure> {
    let (config, root) = queue_root(arg)?;
    let mut still_refused = 0;
    let mut replayed = 0;
    for object in read(&root, Some(source))? {
        let mut by_sink: BTreeMap<String, Vec<crate::transform::Envelope>> = BTreeMap::new();
        for letter in &object.letters {
            let target = sink_override.unwrap_or(&letter.sink).to_string();
            by_sink
                .entry(target)
                .or_default()
                .push(letter.event.clone());
        }
        let batch = format!(
            "replay-{}",
            object
                .path
                .file_name()
                .map(|n| n
                    .to_string_lossy()
                    .trim_end_matches(".ndjson.gz")
                    .to_string())
                .unwrap_or_default()
        );
        let mut refused = 0;
        for (name, events) in by_sink {
            let sink_config = config
                .sinks
                .iter()
                .find(|s| s.name() == name)
                .ok_or((EXIT_CONFIG, format!("dead letters name sink `{name}`, which the config does not have (hint: pass --sink NAME)")))?;
            let mut sink = crate::sink::build(sink_config, source)
                .map_err(|e| (EXIT_CONFIG, e.to_string()))?;
            let fail = |e: crate::sink::SinkError| (EXIT_SOURCE_FAILED, e.to_string());
            sink.write(&events).await.map_err(fail)?;
            let payload = sink.prepare(&batch).await.map_err(fail)?;
            refused += sink.take_rejected().len();
            if let Some(payload) = payload {
                sink.publish(&payload).await.map_err(fail)?;
            }
        }
        if refused == 0 {
            let moved = dead_letter::retire(&root, &object.path).map_err(|e| {
                (
                    EXIT_SOURCE_FAILED,
                    format!(
                        "replayed, but cannot move {} out of the queue: {e}",
                        object.path.display()
                    ),
                )
            })?;
            replayed += object.letters.len();
            crate::outln!(
                "replayed {} events from {} (kept as {})",
                object.letters.len(),
                object.path.display(),
                moved.display()
            );
        } else {
            still_refused += refused;
            crate::outln!(
                "{} of {} events from {} were refused again; the object stays in the queue",
                refused,
                object.letters.len(),
                object.path.display()
            );
        }
    }
    crate::outln!("replayed {replayed} events; {still_refused} refused again");
    Ok(if still_refused == 0 {
        EXIT_OK
    } else {
        EXIT_SOURCE_FAILED
    })
}
