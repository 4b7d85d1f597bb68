//! `sluice dlq list` and `sluice dlq replay`: look at and resend dead letters.

use std::collections::{BTreeMap, HashSet};

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
        let mut refused: Vec<crate::sink::Rejected> = Vec::new();
        for (name, events) in by_sink {
            let sink_config = config
                .sinks
                .iter()
                .find(|s| s.name() == name)
                .ok_or((EXIT_CONFIG, format!("dead letters name sink `{name}`, which the config does not have (hint: pass --sink NAME)")))?;
            let mut sink = crate::sink::build(sink_config, source)
                .map_err(|e| (EXIT_CONFIG, e.to_string()))?;
            let fail = |e: crate::sink::SinkError| {
                (
                    EXIT_SOURCE_FAILED,
                    format!(
                        "{e}; the {} dead letters of {} stay in the queue (hint: run `sluice dlq replay` again once sink `{name}` accepts them)",
                        object.letters.len(),
                        object.path.display()
                    ),
                )
            };
            sink.write(&events).await.map_err(fail)?;
            let payload = sink.prepare(&batch).await.map_err(fail)?;
            refused.extend(sink.take_rejected());
            if let Some(payload) = payload {
                sink.publish(&payload).await.map_err(fail)?;
            }
        }
        if refused.is_empty() {
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
            // Only the refused letters stay: the accepted ones reached their sink and must
            // not be sent again by the next replay.
            let ids: HashSet<&str> = refused.iter().map(|r| r.event.event_id.as_str()).collect();
            let kept =
                |letter: &dead_letter::DeadLetter| ids.contains(letter.event.event_id.as_str());
            let stays = object.letters.iter().filter(|l| kept(l)).count();
            let accepted = object.letters.len() - stays;
            if accepted > 0 {
                let moved = dead_letter::retire_accepted(&root, &object, kept).map_err(|e| {
                    (
                        EXIT_SOURCE_FAILED,
                        format!(
                            "replayed {accepted} events of {}, but cannot take them out of the queue: {e} (hint: the next replay sends them again)",
                            object.path.display()
                        ),
                    )
                })?;
                replayed += accepted;
                crate::outln!(
                    "replayed {accepted} events from {} (kept as {})",
                    object.path.display(),
                    moved.display()
                );
            }
            still_refused += stays;
            crate::outln!(
                "{} of {} events from {} were refused again; they stay in the queue",
                stays,
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
