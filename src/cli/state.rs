//! `sluice state show|export|import|reset|recover`: look at, move, reset and rebuild
//! checkpoints, on every kind of state store.
//!
//! Import and reset write through the same conditional, fenced path as a run: they take the
//! lease of every key they touch first (refusing while a run holds one), and each write is
//! conditional on the seq they read. They never lower a key's seq: lake objects are named
//! after the seq a batch starts from, so a seq used before must not be reused.

mod recover;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ConfigArg, EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::state::{Checkpoint, Lease, LeaseOutcome, PageRef, StateStore};
use crate::timefmt::rfc3339_millis;

/// Arguments of `sluice state`.
#[derive(Debug, clap::Args)]
pub struct StateArgs {
    #[command(subcommand)]
    command: StateCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StateCommand {
    /// Print each source's checkpoint (and its backfill windows').
    Show {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this source and its backfill windows.
        #[arg(long)]
        source: Option<String>,
    },
    /// Write every checkpoint as JSON, to standard output or a file.
    Export {
        #[command(flatten)]
        config: ConfigArg,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Read checkpoints written by `sluice state export` into the configured store.
    Import {
        #[command(flatten)]
        config: ConfigArg,
        /// The exported file; `-` reads standard input.
        input: PathBuf,
        /// Overwrite sources that already have a checkpoint.
        #[arg(long)]
        force: bool,
    },
    /// Forget where a source is: its next run starts again from its lookback.
    Reset {
        #[command(flatten)]
        config: ConfigArg,
        /// The source to reset (with its backfill windows).
        #[arg(long)]
        source: String,
        /// Confirms that the source's events will be delivered again.
        #[arg(long)]
        yes: bool,
        /// Also drop a commit in flight (one a crashed run left, not yet finished).
        #[arg(long)]
        force: bool,
    },
    /// Rebuild a source's checkpoint from what its lake holds, after the state store was
    /// lost or replaced: its next run goes on after the newest event there.
    Recover {
        #[command(flatten)]
        config: ConfigArg,
        /// The source to recover.
        #[arg(long)]
        source: String,
        /// Read the source's lake sink (the only way to recover, for now; required so the
        /// command says what it reads).
        #[arg(long, required = true)]
        from_lake: bool,
        /// The lake sink to read, when the source writes to several.
        #[arg(long)]
        sink: Option<String>,
        /// Replace a checkpoint the store has for the source (and drop a commit in flight),
        /// e.g. when the store was restored from an older backup than the lake.
        #[arg(long)]
        force: bool,
    },
}

/// The document `export` writes and `import` reads.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Export {
    /// Format version of this document.
    sluice_state_export: u64,
    exported_at: DateTime<Utc>,
    /// State key (source name or backfill window) → its committed checkpoint.
    checkpoints: BTreeMap<String, Checkpoint>,
}

/// The export format this build writes and reads.
const EXPORT_FORMAT: u64 = 1;

type Failure = (u8, String);

pub async fn state(args: StateArgs) -> u8 {
    let result = match args.command {
        StateCommand::Show { config, source } => show(&config, source.as_deref()).await,
        StateCommand::Export { config, output } => export(&config, output.as_deref()).await,
        StateCommand::Import {
            config,
            input,
            force,
        } => import(&config, &input, force).await,
        StateCommand::Reset {
            config,
            source,
            yes,
            force,
        } => reset(&config, &source, yes, force).await,
        StateCommand::Recover {
            config,
            source,
            from_lake: _,
            sink,
            force,
        } => {
            recover::recover(recover::Request {
                config: &config,
                source: &source,
                sink: sink.as_deref(),
                force,
            })
            .await
        }
    };
    match result {
        Ok(()) => EXIT_OK,
        Err((code, message)) => {
            crate::errln!("error: {message}");
            code
        }
    }
}

/// The config (no API credentials needed) and its state store, opened to write or to read.
async fn open_store(
    arg: &ConfigArg,
    write: bool,
) -> Result<(crate::config::Config, std::sync::Arc<dyn StateStore>), Failure> {
    let config = crate::config::load_without_secrets(&arg.config)
        .map_err(|err| (EXIT_CONFIG, err.to_string()))?;
    let store = if write {
        crate::state::open(&config.state).await
    } else {
        crate::state::open_read_only(&config.state).await
    };
    Ok((config, store.map_err(|err| (EXIT_CONFIG, err.to_string()))?))
}

async fn open(
    arg: &ConfigArg,
) -> Result<(crate::config::Config, std::sync::Arc<dyn StateStore>), Failure> {
    open_store(arg, true).await
}

fn failed(err: impl std::fmt::Display) -> Failure {
    (EXIT_SOURCE_FAILED, err.to_string())
}

async fn show(arg: &ConfigArg, source: Option<&str>) -> Result<(), Failure> {
    let (_, store) = open_store(arg, false).await?;
    let in_flight: Vec<String> = store
        .status()
        .await
        .map_err(failed)?
        .into_iter()
        .filter(|s| s.commit_in_flight)
        .map(|s| s.source)
        .collect();
    let mut keys = match source {
        Some(source) => {
            let mut keys = store.checkpoints_under(source).await.map_err(failed)?;
            // `okta` also matches `okta_eu`: keep the source and its windows only.
            keys.retain(|(key, _)| {
                key == source
                    || key.starts_with(&format!("{source}{}", crate::state::WINDOW_KEY_SEPARATOR))
            });
            keys
        }
        None => store.checkpoints_under("").await.map_err(failed)?,
    };
    if keys.is_empty() {
        crate::outln!(
            "no checkpoints{}",
            source
                .map(|s| format!(" for source `{s}`"))
                .unwrap_or_default()
        );
        return Ok(());
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = std::io::stdout().lock();
    for (key, checkpoint) in &keys {
        let _ = write!(
            out,
            "{}",
            describe(key, checkpoint, in_flight.contains(key))
        );
    }
    Ok(())
}

/// A checkpoint, readably.
fn describe(key: &str, c: &Checkpoint, in_flight: bool) -> String {
    let time = |t: Option<DateTime<Utc>>| t.map(rfc3339_millis).unwrap_or_else(|| "-".into());
    let mut text = format!("{key}\n");
    let mut line = |label: &str, value: String| text.push_str(&format!("  {label:<13}{value}\n"));
    line("commit", format!("{} (at {})", c.seq, time(c.committed_at)));
    match (c.window, c.listing) {
        (Some(w), listing) => {
            line(
                "window",
                format!(
                    "{} .. {} (in progress)",
                    rfc3339_millis(w.start),
                    rfc3339_millis(w.end)
                ),
            );
            if let Some(l) = listing.filter(|l| *l != w) {
                line(
                    "listing",
                    format!("{} .. {}", rfc3339_millis(l.start), rfc3339_millis(l.end)),
                );
            }
        }
        (None, _) => line("next window", format!("from {}", time(c.anchor))),
    }
    let page = match &c.page {
        None => "first".to_string(),
        Some(PageRef::Url(url)) => format!("url {url}"),
        Some(PageRef::Token(token)) => format!("cursor {token}"),
        Some(PageRef::Offset(offset)) => format!("offset {offset}"),
        Some(PageRef::Page(page)) => format!("page {page}"),
    };
    line("next page", page);
    line("high water", time(c.high_water));
    line("recent ids", format!("{} remembered", c.recent.len()));
    if let Some(floor) = c.floor {
        line("floor", rfc3339_millis(floor));
    }
    if let Some(until) = c.until {
        line(
            "until",
            format!(
                "{}{}",
                rfc3339_millis(until),
                if c.is_finished_window() {
                    " (finished)"
                } else {
                    ""
                }
            ),
        );
    }
    for b in &c.backfills {
        line(
            "backfill",
            format!(
                "{} .. {} in steps of {}, done up to {}",
                rfc3339_millis(b.from),
                rfc3339_millis(b.to),
                humantime::format_duration(b.step),
                rfc3339_millis(b.frontier)
            ),
        );
    }
    line("delivered", format!("{} events", c.delivered));
    if in_flight {
        line(
            "in flight",
            "a commit was interrupted; the next run finishes it".into(),
        );
    }
    text
}

async fn export(arg: &ConfigArg, output: Option<&Path>) -> Result<(), Failure> {
    let (_, store) = open_store(arg, false).await?;
    let checkpoints: BTreeMap<String, Checkpoint> = store
        .checkpoints_under("")
        .await
        .map_err(failed)?
        .into_iter()
        .collect();
    for status in store.status().await.map_err(failed)? {
        if status.commit_in_flight {
            crate::errln!(
                "warning: `{}` has a commit in flight; its last committed checkpoint is exported (hint: run `sluice run --once` first to finish the commit)",
                status.source
            );
        }
    }
    let document = Export {
        sluice_state_export: EXPORT_FORMAT,
        exported_at: Utc::now(),
        checkpoints,
    };
    let mut text = serde_json::to_string_pretty(&document).map_err(failed)?;
    text.push('\n');
    match output {
        Some(path) => std::fs::write(path, text).map_err(|e| {
            (
                EXIT_SOURCE_FAILED,
                format!("cannot write {}: {e}", path.display()),
            )
        })?,
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(failed)?,
    }
    crate::errln!("exported {} checkpoints", document.checkpoints.len());
    Ok(())
}

fn read_export(input: &Path) -> Result<Export, Failure> {
    let text = if input == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| (EXIT_CONFIG, format!("cannot read standard input: {e}")))?;
        text
    } else {
        std::fs::read_to_string(input)
            .map_err(|e| (EXIT_CONFIG, format!("cannot read {}: {e}", input.display())))?
    };
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("sluice_state_export").and_then(|v| v.as_u64()));
    if version.is_some_and(|v| v > EXPORT_FORMAT) {
        return Err((
            EXIT_CONFIG,
            format!(
                "{}: written by a newer sluice (export format {}, this one reads up to {EXPORT_FORMAT}) (hint: upgrade sluice)",
                input.display(),
                version.unwrap_or_default()
            ),
        ));
    }
    let document: Export = serde_json::from_str(&text).map_err(|e| {
        (
            EXIT_CONFIG,
            format!(
                "{}:{}:{}: not a state export: {e} (hint: import what `sluice state export` wrote)",
                input.display(),
                e.line(),
                e.column()
            ),
        )
    })?;
    for key in document.checkpoints.keys() {
        let (source, window) = key
            .split_once(crate::state::WINDOW_KEY_SEPARATOR)
            .unwrap_or((key, ""));
        let fine = |s: &str, extra: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c) || extra.contains(c))
        };
        if source.is_empty() || !fine(source, "") || !fine(window, ".:") {
            return Err((
                EXIT_CONFIG,
                format!(
                    "{}: `{key}` is not a source name or backfill window key (hint: source names use letters, digits, '-' and '_')",
                    input.display()
                ),
            ));
        }
    }
    Ok(document)
}

/// Takes the lease of every key, or none: a run working any of them makes the whole
/// operation refuse, before anything is written.
async fn lease_all(
    store: &dyn StateStore,
    keys: &[String],
    ttl: std::time::Duration,
) -> Result<Vec<Lease>, Failure> {
    let holder = crate::runtime::worker_identity();
    let mut leases = Vec::new();
    for key in keys {
        let outcome = store.acquire_lease(key, &holder, ttl).await;
        let refusal = match outcome {
            Ok(LeaseOutcome::Acquired(lease)) => {
                leases.push(lease);
                continue;
            }
            Ok(LeaseOutcome::HeldBy { holder, until, .. }) => format!(
                "`{key}` is leased by {holder} until {}: a run is working it; nothing was changed (hint: wait until it finishes, or for its lease to lapse)",
                rfc3339_millis(until)
            ),
            Err(err) => err.to_string(),
        };
        release_all(store, &leases).await;
        return Err((EXIT_SOURCE_FAILED, refusal));
    }
    Ok(leases)
}

async fn release_all(store: &dyn StateStore, leases: &[Lease]) {
    for lease in leases {
        if let Err(err) = store.release_lease(lease).await {
            tracing::warn!(source = %lease.source, error = %err, "could not release the lease; it lapses on its own");
        }
    }
}

async fn import(arg: &ConfigArg, input: &Path, force: bool) -> Result<(), Failure> {
    let document = read_export(input)?;
    let (config, store) = open(arg).await?;
    let keys: Vec<String> = document.checkpoints.keys().cloned().collect();
    let leases = lease_all(&*store, &keys, config.state.lease_ttl()).await?;
    let result = import_leased(&*store, &document, &leases, force).await;
    release_all(&*store, &leases).await;
    let imported = result?;
    crate::errln!("imported {imported} checkpoints");
    Ok(())
}

async fn import_leased(
    store: &dyn StateStore,
    document: &Export,
    leases: &[Lease],
    force: bool,
) -> Result<usize, Failure> {
    // Every key is checked before any is written.
    let mut current = Vec::new();
    for lease in leases {
        let state = store.load(&lease.source).await.map_err(failed)?;
        let exists = state.checkpoint.seq > 0 || state.intent.is_some();
        if exists && !force {
            return Err((
                EXIT_SOURCE_FAILED,
                format!(
                    "`{}` already has a checkpoint here (commit {}{}); nothing was imported (hint: add --force to overwrite it)",
                    lease.source,
                    state.checkpoint.seq,
                    if state.intent.is_some() { ", and a commit in flight" } else { "" }
                ),
            ));
        }
        current.push(state.checkpoint.seq);
    }
    for (lease, stored_seq) in leases.iter().zip(current) {
        let mut checkpoint = document.checkpoints[&lease.source].clone();
        if stored_seq > 0 {
            // Never reuse a seq: lake objects are named after it.
            checkpoint.seq = checkpoint.seq.max(stored_seq + 1);
        }
        store
            .replace_checkpoint(&lease.source, &checkpoint, stored_seq, lease.token)
            .await
            .map_err(failed)?;
    }
    Ok(leases.len())
}

async fn reset(arg: &ConfigArg, source: &str, yes: bool, force: bool) -> Result<(), Failure> {
    let (config, store) = open(arg).await?;
    let windows_prefix = format!("{source}{}", crate::state::WINDOW_KEY_SEPARATOR);
    let mut keys: Vec<(String, Checkpoint)> = store
        .checkpoints_under(source)
        .await
        .map_err(failed)?
        .into_iter()
        .filter(|(key, _)| key == source || key.starts_with(&windows_prefix))
        .collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    let configured = config.sources.iter().any(|s| s.name == source);
    if keys.is_empty() {
        return if configured {
            crate::outln!("source `{source}` has no checkpoint: nothing to reset");
            Ok(())
        } else {
            Err((
                EXIT_CONFIG,
                format!("no source `{source}` in {} or in the state store (hint: `sluice state show` lists them)", arg.config.display()),
            ))
        };
    }
    let windows = keys.iter().filter(|(k, _)| k != source).count();
    if !yes {
        let (seq, high_water) = keys
            .iter()
            .find(|(k, _)| k == source)
            .map(|(_, c)| (c.seq, c.high_water))
            .unwrap_or_default();
        return Err((
            EXIT_CONFIG,
            format!(
                "this forgets where source `{source}` is (commit {seq}, high water {}){}; its next run starts again from its lookback and delivers those events again (hint: add --yes to reset it)",
                high_water.map(rfc3339_millis).unwrap_or_else(|| "-".into()),
                if windows > 0 { format!(" and its {windows} backfill windows") } else { String::new() }
            ),
        ));
    }
    let names: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
    let leases = lease_all(&*store, &names, config.state.lease_ttl()).await?;
    let result = reset_leased(&*store, &leases, force).await;
    release_all(&*store, &leases).await;
    result?;
    crate::outln!(
        "reset source `{source}`{}; its next run starts from its lookback",
        if windows > 0 {
            format!(" and {windows} backfill windows")
        } else {
            String::new()
        }
    );
    Ok(())
}

async fn reset_leased(
    store: &dyn StateStore,
    leases: &[Lease],
    force: bool,
) -> Result<(), Failure> {
    let mut current = Vec::new();
    for lease in leases {
        let state = store.load(&lease.source).await.map_err(failed)?;
        if state.intent.is_some() && !force {
            return Err((
                EXIT_SOURCE_FAILED,
                format!(
                    "`{}` has a commit in flight that a run would finish; nothing was reset (hint: run `sluice run --once` first, or add --force to drop it)",
                    lease.source
                ),
            ));
        }
        current.push(state.checkpoint.seq);
    }
    for (lease, seq) in leases.iter().zip(current) {
        // A fresh position, under a seq never used before (lake objects are named after it).
        let fresh = Checkpoint {
            seq: seq + 1,
            ..Checkpoint::default()
        };
        store
            .replace_checkpoint(&lease.source, &fresh, seq, lease.token)
            .await
            .map_err(failed)?;
    }
    Ok(())
}
