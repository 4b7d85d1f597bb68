//! `sluice run --once`.

use super::{
    load_config, shutdown_token, ConfigArg, EXIT_CONFIG, EXIT_MORE_PENDING, EXIT_OK,
    EXIT_SOURCE_FAILED,
};
use crate::runtime::{self, RunReport};

/// Arguments of `sluice run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Make one pass over every source and exit (the only mode of `run`; `sluice serve`
    /// will run continuously).
    #[arg(long)]
    once: bool,
}

pub async fn run(args: RunArgs) -> u8 {
    if !args.once {
        eprintln!("error: `sluice run` needs --once (one pass over every source, then exit); schedule it with cron or a CronJob");
        return EXIT_CONFIG;
    }
    let config = match load_config(&args.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let store = match crate::state::open(&config.state).await {
        Ok(store) => store,
        Err(err) => {
            eprintln!("error: {err}");
            return EXIT_CONFIG;
        }
    };
    let reports = runtime::run_once(&config, store.as_ref(), shutdown_token()).await;
    exit_code(&reports)
}

/// Failure wins over pending work, which wins over success.
pub fn exit_code(reports: &[RunReport]) -> u8 {
    let failed: Vec<_> = reports.iter().filter(|r| r.error.is_some()).collect();
    for report in &failed {
        eprintln!(
            "error: source `{}` failed: {}",
            report.source,
            report.error.as_deref().unwrap_or_default()
        );
    }
    if !failed.is_empty() {
        EXIT_SOURCE_FAILED
    } else if reports.iter().any(|r| r.more_pending) {
        EXIT_MORE_PENDING
    } else {
        EXIT_OK
    }
}
