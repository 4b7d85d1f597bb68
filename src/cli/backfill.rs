//! `sluice backfill --source S --from T1 --to T2 [--workers N]`: pull a past time range in
//! parallel windows.
//!
//! The range is recorded as a backfill of the source (in its checkpoint, under its lease), so
//! every worker of every process sharing the state store can take its windows; this command
//! then works them itself with `--workers` pipelines until none is left.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::{load_config, run::exit_code, shutdown_token, ConfigArg, EXIT_CONFIG};
use crate::config::MAX_WORKERS;
use crate::runtime::{backfill_step, work_source, Plan};
use crate::state::{Backfill, DedupSet, LeaseOutcome, StateStore};
use crate::timefmt::rfc3339_millis;

/// Arguments of `sluice backfill`.
#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The source to backfill.
    #[arg(long)]
    source: String,
    /// Start of the range: RFC 3339 (`2024-05-01T00:00:00Z`) or a UTC date (`2024-05-01`).
    #[arg(long, value_parser = parse_time)]
    from: DateTime<Utc>,
    /// End of the range (exclusive), in the same forms.
    #[arg(long, value_parser = parse_time)]
    to: DateTime<Utc>,
    /// Windows worked at once by this command (other processes sharing the state store may
    /// take windows too).
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Length of each window (default: the source's `window.max_window`).
    #[arg(long, value_parser = humantime::parse_duration)]
    window: Option<Duration>,
    #[command(flatten)]
    progress: super::progress::ProgressArgs,
    /// Deliver a range the source delivered before once more. Without it such a range is
    /// refused: each event would land in the lake twice. With it the lake keeps both copies
    /// (published objects are never replaced) and the views `sluice lake ddl` prints keep
    /// the newest copy of each event id.
    #[arg(long)]
    redeliver: bool,
    /// How a failed backfill maps to an exit code: `simple` (1) or `by-kind` (see
    /// `sluice run --help`).
    #[arg(long, value_enum, default_value = "simple")]
    exit_codes: super::exit::ExitCodes,
}

/// Why a backfill was not recorded.
#[derive(Debug)]
enum NotRecorded {
    /// The arguments ask for something the source's state rules out (exit 2).
    Refused(String),
    /// The state store failed or the source is busy (exit 1).
    Failed(String),
}

impl From<String> for NotRecorded {
    fn from(message: String) -> Self {
        NotRecorded::Failed(message)
    }
}

/// How long to wait for a source's lease held by a running worker before giving up.
const LEASE_PATIENCE: Duration = Duration::from_secs(60);

pub async fn backfill(args: BackfillArgs) -> u8 {
    let config = match load_config(&args.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let Some(source) = config.sources.iter().find(|s| s.name == args.source) else {
        let names: Vec<_> = config.sources.iter().map(|s| s.name.as_str()).collect();
        crate::errln!(
            "error: --source `{}` is not in {} (hint: configured sources: {})",
            args.source,
            args.config.config.display(),
            names.join(", ")
        );
        return EXIT_CONFIG;
    };
    let step = args.window.unwrap_or_else(|| backfill_step(&source.window));
    let range = match check_range(&args, source, step) {
        Ok(range) => range,
        Err(message) => {
            crate::errln!("error: {message}");
            return EXIT_CONFIG;
        }
    };
    let store = match crate::state::open(&config.state).await {
        Ok(store) => store,
        Err(err) => {
            crate::errln!("error: {err}");
            return EXIT_CONFIG;
        }
    };
    match record(store.as_ref(), &source.name, range, step, args.redeliver).await {
        Ok(()) => {}
        Err(NotRecorded::Refused(message)) => {
            crate::errln!("error: {message}");
            return EXIT_CONFIG;
        }
        Err(NotRecorded::Failed(message)) => {
            crate::errln!("error: {message}");
            return super::EXIT_SOURCE_FAILED;
        }
    }
    tracing::info!(
        source = %source.name,
        from = %rfc3339_millis(range.0),
        to = %rfc3339_millis(range.1),
        workers = args.workers,
        "backfill recorded; working its windows"
    );
    let plan = Plan {
        workers: args.workers,
        tail: false,
    };
    let shown = super::progress::show(&args.progress);
    let report = work_source(&config, source, &store, shutdown_token(), plan).await;
    if let Some(shown) = shown {
        shown.finish().await;
    }
    let code = exit_code(std::slice::from_ref(&report), args.exit_codes);
    if code == super::EXIT_MORE_PENDING {
        crate::errln!(
            "backfill windows remain: run `sluice backfill` again with the same range, or let `sluice run`/`sluice serve` finish them (exit code {code})"
        );
    }
    crate::errln!(
        "backfill of `{}`: {} events delivered in {:.1}s ({} pages, {} duplicates dropped)",
        report.source,
        report.events,
        report.seconds,
        report.pages,
        report.duplicates_dropped
    );
    code
}

/// A time argument that is neither an RFC 3339 time nor a date; clap prints it after
/// `invalid value '...' for '--from <FROM>'`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a time (hint: write 2024-05-01T00:00:00Z or 2024-05-01)")]
pub(super) struct BadTime(String);

/// Parses `2024-05-01T00:00:00Z` (any RFC 3339 offset) or `2024-05-01` (midnight UTC).
pub(super) fn parse_time(text: &str) -> Result<DateTime<Utc>, BadTime> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| BadTime(text.to_string()))
}

/// Checks the arguments and returns the range in whole seconds (`from` rounded down, `to`
/// up), which every request time format can write exactly.
fn check_range(
    args: &BackfillArgs,
    source: &crate::config::SourceConfig,
    step: Duration,
) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    if source.window.mode == crate::config::WindowMode::Position {
        return Err(format!(
            "source `{}` lists by position (window.mode = \"position\"), and its API takes no time range to backfill (hint: every run already delivers everything after the saved position; to list again from the start, `sluice state reset` the source)",
            source.name
        ));
    }
    if args.workers == 0 || args.workers > MAX_WORKERS {
        return Err(format!(
            "--workers {} is out of range (hint: use 1 up to {MAX_WORKERS}; the API's rate limit is shared by all of them)",
            args.workers
        ));
    }
    if step < crate::state::MIN_BACKFILL_STEP {
        return Err("--window must be at least 1s (hint: e.g. --window 1h)".into());
    }
    if args.from >= args.to {
        return Err(format!(
            "--from {} is not before --to {} (hint: the range is [from, to); swap them)",
            rfc3339_millis(args.from),
            rfc3339_millis(args.to)
        ));
    }
    let horizon = crate::source::window::horizon(Utc::now(), &source.window);
    if args.to > horizon {
        return Err(format!(
            "--to {} is later than {} (now minus the source's window.settle_delay), which the API may not have settled yet (hint: the live tail covers recent events; use --to {} or earlier)",
            rfc3339_millis(args.to),
            rfc3339_millis(horizon),
            rfc3339_millis(horizon)
        ));
    }
    let from = DateTime::from_timestamp(args.from.timestamp(), 0).unwrap_or(args.from);
    let to_secs = args.to.timestamp() + i64::from(args.to.timestamp_subsec_nanos() > 0);
    let to = DateTime::from_timestamp(to_secs, 0).unwrap_or(args.to);
    Ok((from, to.min(horizon)))
}

/// Adds the backfill to the source's checkpoint, under the source's lease.
async fn record(
    store: &dyn StateStore,
    source: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    step: Duration,
    redeliver: bool,
) -> Result<(), NotRecorded> {
    let holder = format!("sluice-backfill/{}", std::process::id());
    let waited = std::time::Instant::now();
    let lease = loop {
        match store
            .acquire_lease(source, &holder, Duration::from_secs(30))
            .await
            .map_err(|e| e.to_string())?
        {
            LeaseOutcome::Acquired(lease) => break lease,
            LeaseOutcome::HeldBy { holder, until, .. } => {
                if waited.elapsed() >= LEASE_PATIENCE {
                    return Err(NotRecorded::Failed(format!(
                        "source `{source}` is being worked by {holder} until {} (hint: retry when that run ends; backfills are recorded between runs)",
                        rfc3339_millis(until)
                    )));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let result = add_backfill(store, source, lease.token, (from, to), step, redeliver).await;
    if let Err(err) = store.release_lease(&lease).await {
        tracing::warn!(source, error = %err, "could not release the lease; it lapses on its own");
    }
    result
}

async fn add_backfill(
    store: &dyn StateStore,
    source: &str,
    fence: u64,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    step: Duration,
    redeliver: bool,
) -> Result<(), NotRecorded> {
    let state = store.load(source).await.map_err(|e| e.to_string())?;
    if state.intent.is_some() {
        return Err(NotRecorded::Failed(format!(
            "source `{source}` has an interrupted commit (hint: run `sluice run --once` first, which finishes it)"
        )));
    }
    let current = state.checkpoint;
    if current
        .backfills
        .iter()
        .any(|b| !b.is_done() && b.from == from && b.to == to)
    {
        // The same range again, after a run that stopped or was killed: work what is left of
        // the backfill already recorded (its finished windows stay finished).
        tracing::info!(
            source,
            "this backfill is recorded already; working its remaining windows"
        );
        return Ok(());
    }
    if let Some(open) = current
        .backfills
        .iter()
        .find(|b| !b.is_done() && b.from < to && from < b.to)
    {
        return Err(NotRecorded::Refused(format!(
            "source `{source}` already has a backfill over {} .. {} (complete up to {}) that overlaps this range (hint: let it finish — `sluice status` shows it, and `sluice backfill` with exactly its range resumes it — then backfill what remains)",
            rfc3339_millis(open.from),
            rfc3339_millis(open.to),
            rfc3339_millis(open.frontier)
        )));
    }
    let moves_tail = current.anchor.is_none_or(|anchor| anchor < to);
    if moves_tail && (current.window.is_some() || current.page.is_some()) {
        return Err(NotRecorded::Refused(format!(
            "source `{source}` is in the middle of a window below --to {} (hint: run `sluice run --once` to finish it, or end the backfill at {} or earlier)",
            rfc3339_millis(to),
            current.anchor.map(rfc3339_millis).unwrap_or_else(|| "its start".into())
        )));
    }
    if let Some((start, end)) = delivered_part(&current, (from, to)) {
        if !redeliver {
            let rest = if start > from {
                format!(
                    "backfill only what was not delivered with --to {}",
                    rfc3339_millis(start)
                )
            } else if end < to {
                format!(
                    "backfill only what was not delivered with --from {}",
                    rfc3339_millis(end)
                )
            } else {
                "nothing of this range is new".to_string()
            };
            return Err(NotRecorded::Refused(format!(
                "source `{source}` has delivered {} .. {} of this range before; backfilling it again would put a second copy of each of its events in the lake (hint: to deliver it again on purpose, add --redeliver: the lake keeps both copies and the views of `sluice lake ddl` keep the newest; else {rest})",
                rfc3339_millis(start),
                rfc3339_millis(end),
            )));
        }
        tracing::warn!(
            source,
            from = %rfc3339_millis(start),
            to = %rfc3339_millis(end),
            "--redeliver: this part of the range is delivered again; the lake keeps both copies, and the views of `sluice lake ddl` keep the newest copy of each event id"
        );
    }
    let mut next = current.clone();
    if moves_tail {
        // The backfill covers the range up to `to`: the live tail carries on from there.
        next.anchor = Some(to);
        next.floor = Some(to);
    }
    // Nothing before the backfill's start is listed by any window of the source.
    next.listed_from = match current.listed_from {
        Some(earliest) => Some(earliest.min(from)),
        None if current.anchor.is_none() => Some(from),
        None => None,
    };
    next.backfills.push(Backfill {
        // This commit records it.
        id: current.seq + 1,
        from,
        to,
        step,
        frontier: from,
        seed: DedupSet::default(),
    });
    next.seq = current.seq + 1;
    next.committed_at = Some(Utc::now());
    store
        .commit(source, &next, fence)
        .await
        .map_err(|e| NotRecorded::Failed(e.to_string()))
}

/// The part of `[from, to)` the source has delivered: from where its listing started
/// (`listed_from`; the range's start for checkpoints written before Sluice kept it) to its
/// anchor. `None` when nothing of the range was delivered.
fn delivered_part(
    checkpoint: &crate::state::Checkpoint,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let anchor = checkpoint.anchor?;
    let start = checkpoint
        .listed_from
        .map_or(from, |listed| listed.max(from));
    let end = anchor.min(to);
    (start < end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Checkpoint;

    fn at(hour: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2024, 5, 1)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .map(|t| t.and_utc())
            .expect("a valid time")
    }

    #[test]
    fn the_delivered_part_runs_from_the_first_listing_to_the_anchor() {
        let fresh = Checkpoint::default();
        assert_eq!(delivered_part(&fresh, (at(1), at(5))), None);
        let ran = Checkpoint {
            anchor: Some(at(10)),
            listed_from: Some(at(4)),
            ..Checkpoint::default()
        };
        assert_eq!(delivered_part(&ran, (at(1), at(5))), Some((at(4), at(5))));
        assert_eq!(delivered_part(&ran, (at(5), at(12))), Some((at(5), at(10))));
        assert_eq!(
            delivered_part(&ran, (at(1), at(4))),
            None,
            "before the first listing"
        );
        assert_eq!(
            delivered_part(&ran, (at(10), at(12))),
            None,
            "after the anchor"
        );
        // Checkpoints from before `listed_from`: everything below the anchor counts.
        let old = Checkpoint {
            anchor: Some(at(10)),
            ..Checkpoint::default()
        };
        assert_eq!(delivered_part(&old, (at(1), at(5))), Some((at(1), at(5))));
    }
}
