//! Progress of `run --once`, `backfill` and `demo`, from [`crate::runtime::progress`]: one
//! bar per source on a terminal (indicatif: events, events per second, backfill windows done
//! of planned and their ETA); on anything else (a CI log, a file, `--log-format json`) one
//! log line per source every `--progress-every`; nothing with `--quiet`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::runtime::progress::{self, SourceProgress};
use crate::telemetry::LogFormat;

/// The progress switches every long command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ProgressArgs {
    /// Show no progress (bars on a terminal, periodic lines otherwise).
    #[arg(long)]
    quiet: bool,
    /// When stderr is not a terminal: how often to log each source's progress.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    progress_every: Duration,
}

/// Progress being shown until [`Shown::finish`].
pub struct Shown {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// Starts showing progress as `args` and the log format say; `None` with `--quiet`.
pub fn show(args: &ProgressArgs) -> Option<Shown> {
    let format = crate::telemetry::format();
    if args.quiet {
        return None;
    }
    let stop = CancellationToken::new();
    let bars = format == LogFormat::Human && std::io::stderr().is_terminal();
    let task = if bars {
        tokio::spawn(draw_bars(stop.clone()))
    } else {
        tokio::spawn(log_lines(stop.clone(), args.progress_every))
    };
    Some(Shown { stop, task })
}

impl Shown {
    /// Stops showing progress (bars are cleared, so the summary that follows stands alone).
    pub async fn finish(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// How often bars are redrawn from the board.
const REDRAW: Duration = Duration::from_millis(200);

async fn draw_bars(stop: CancellationToken) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    crate::redact::set_progress_bars(Some(multi.clone()));
    let mut bars: Vec<(String, ProgressBar)> = Vec::new();
    loop {
        for (source, now) in progress::snapshot() {
            let bar = match bars.iter().find(|(name, _)| *name == source) {
                Some((_, bar)) => bar.clone(),
                None => {
                    let bar = multi.add(ProgressBar::new(0));
                    bars.push((source.clone(), bar.clone()));
                    bar
                }
            };
            draw(&bar, &source, &now);
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(REDRAW) => {}
        }
    }
    for (_, bar) in &bars {
        bar.finish_and_clear();
    }
    let _ = multi.clear();
    crate::redact::set_progress_bars(None);
}

/// One source's bar: windows done of planned (with an ETA) while a backfill runs, a spinner
/// with the event count otherwise.
fn draw(bar: &ProgressBar, source: &str, now: &SourceProgress) {
    let newest = now
        .high_water
        .map(crate::timefmt::rfc3339_millis)
        .unwrap_or_else(|| "-".into());
    if now.windows_total > 0 {
        bar.set_style(
            // The template is a constant that parses: tested below.
            ProgressStyle::with_template(BAR_TEMPLATE).expect("the bar template parses"),
        );
        bar.set_length(now.windows_total);
        bar.set_position(now.windows_done);
    } else {
        bar.set_style(
            ProgressStyle::with_template(SPINNER_TEMPLATE).expect("the spinner template parses"),
        );
        bar.tick();
    }
    bar.set_message(format!(
        "{source}: {} events read, {} committed, newest {newest}",
        now.events, now.committed
    ));
}

const BAR_TEMPLATE: &str = "{spinner} {msg} [{bar:30}] {pos}/{len} windows, ETA {eta} ({elapsed})";
const SPINNER_TEMPLATE: &str = "{spinner} {msg} ({elapsed})";

async fn log_lines(stop: CancellationToken, every: Duration) {
    let started = Instant::now();
    let every = every.max(Duration::from_millis(100));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let seconds = started.elapsed().as_secs_f64().max(0.001);
        for (source, now) in progress::snapshot() {
            tracing::info!(
                source = %source,
                events = now.events,
                committed = now.committed,
                events_per_second = (now.events as f64 / seconds).round() as u64,
                windows_done = now.windows_done,
                windows_total = now.windows_total,
                newest = %now.high_water.map(crate::timefmt::rfc3339_millis).unwrap_or_else(|| "-".into()),
                "progress"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_parse() {
        assert!(ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
        assert!(ProgressStyle::with_template(SPINNER_TEMPLATE).is_ok());
    }
}
