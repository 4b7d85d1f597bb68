//! `sluice run --once`.

use super::{load_config, shutdown_token, ConfigArg, EXIT_CONFIG, EXIT_MORE_PENDING, EXIT_OK};
use crate::runtime::{self, RunReport};

/// How long `run --once` waits at the end for its alerts to go out.
const ALERTS_AT_EXIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Arguments of `sluice run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Make one pass over every source and exit (the only mode of `run`; `sluice serve`
    /// runs continuously).
    #[arg(long)]
    once: bool,
    /// Stop taking new pages as this much time passes, commit, and exit with code 3 if work
    /// remains (for schedulers that kill jobs at a timeout: Lambda, Cloud Run, CronJobs).
    #[arg(long, value_parser = humantime::parse_duration)]
    deadline: Option<std::time::Duration>,
    #[command(flatten)]
    progress: super::progress::ProgressArgs,
    /// How failures map to exit codes: `simple` (1 for any failed source) or `by-kind`
    /// (77 credential, 78 config, 75 temporary, 73 sink refused, ...; docs/configuration.md).
    #[arg(long, value_enum, default_value = "simple")]
    exit_codes: super::exit::ExitCodes,
}

pub async fn run(args: RunArgs) -> u8 {
    if !args.once {
        crate::errln!("error: `sluice run` needs --once (one pass over every source, then exit); schedule it with cron or a CronJob, or run `sluice serve`");
        return EXIT_CONFIG;
    }
    let config = match load_config(&args.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let store = match crate::state::open(&config.state).await {
        Ok(store) => store,
        Err(err) => {
            crate::errln!("error: {err}");
            return EXIT_CONFIG;
        }
    };
    let cancel = shutdown_token();
    if let Some(deadline) = args.deadline {
        if let Err(message) = check_deadline(&config, deadline) {
            crate::errln!("error: {message}");
            return EXIT_CONFIG;
        }
        let reserve = commit_reserve(deadline);
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(deadline - reserve).await;
            tracing::info!(
                reserve_ms = reserve.as_millis() as u64,
                "deadline near: no new pages; committing"
            );
            trigger.cancel();
        });
    }
    let shown = super::progress::show(&args.progress);
    let reports = runtime::run_once(&config, &store, cancel).await;
    if let Some(shown) = shown {
        shown.finish().await;
    }
    if !config.alerts.is_empty() {
        // Sent after the runs, never holding the exit longer than the bound.
        let (alerts, sending) = crate::notify::Dispatcher::start();
        for report in &reports {
            crate::notify::after_run(&config, store.as_ref(), report, &alerts).await;
        }
        drop(alerts);
        sending.finish(ALERTS_AT_EXIT).await;
    }
    let code = exit_code(&reports, args.exit_codes);
    if code == EXIT_MORE_PENDING {
        crate::errln!(
            "more work is pending: run again to continue (exit code {EXIT_MORE_PENDING})"
        );
    }
    code
}

/// Time kept back from the deadline for the final commit (gzip trailers, fsyncs, renames and
/// the checkpoint write): a tenth of the deadline, between 1 and 30 seconds.
fn commit_reserve(deadline: std::time::Duration) -> std::time::Duration {
    (deadline / 10).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(30),
    )
}

/// A deadline must leave room for at least one page of every source.
fn check_deadline(
    config: &crate::config::Config,
    deadline: std::time::Duration,
) -> Result<(), String> {
    let reserve = commit_reserve(deadline);
    for source in &config.sources {
        if deadline <= reserve + source.http.timeout {
            return Err(format!(
                "--deadline {} leaves no time for one page of source `{}` (http.timeout = {}, plus {} kept for the final commit) (hint: raise the deadline or lower the source's http.timeout)",
                humantime::format_duration(deadline),
                source.name,
                humantime::format_duration(source.http.timeout),
                humantime::format_duration(reserve)
            ));
        }
    }
    Ok(())
}

/// Failure wins over pending work, which wins over success; `codes` says which code a failure
/// gets.
pub fn exit_code(reports: &[RunReport], codes: super::exit::ExitCodes) -> u8 {
    let failed: Vec<_> = reports.iter().filter(|r| r.error.is_some()).collect();
    for report in &failed {
        crate::errln!(
            "error: source `{}` failed: {}",
            report.source,
            report.error.as_deref().unwrap_or_default()
        );
    }
    if let Some(code) = super::exit::failure_code(reports, codes) {
        code
    } else if reports.iter().any(|r| r.more_pending) {
        EXIT_MORE_PENDING
    } else {
        EXIT_OK
    }
}
