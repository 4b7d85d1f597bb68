//! The `sluice` command line.
//!
//! Exit codes (docs/configuration.md repeats them): 0 all sources succeeded; 1 a source
//! failed (the others still ran); 2 bad usage or configuration; 3 every source succeeded but
//! work remains (a page cap or a stop signal ended the run early).

mod backfill;
mod bench;
mod bench_callgrind;
mod bench_server;
mod bench_transforms;
mod canary;
mod check;
mod connectors;
mod demo;
mod demo_geoip;
mod dlq;
mod exit;
mod init;
mod lake;
mod lake_replay;
mod lake_retain;
mod lake_validate;
mod lake_verify;
mod progress;
mod run;
mod serve;
mod simulate;
mod state;
mod status;
mod vrl;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::telemetry::{self, LogFormat};

/// Exit code: every source succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit code: at least one source failed.
pub const EXIT_SOURCE_FAILED: u8 = 1;
/// Exit code: bad usage or configuration; nothing ran.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code: success so far, but more work is pending; run again.
pub const EXIT_MORE_PENDING: u8 = 3;

/// Pulls audit and security logs from SaaS APIs into a security data lake.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "human")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Pull every source once, until caught up, then exit.
    Run(run::RunArgs),
    /// Run every source on its schedule until SIGTERM; SIGHUP reloads the config; serves
    /// /healthz, /readyz and /metrics.
    Serve(serve::ServeArgs),
    /// Validate the config and make one request per source.
    Check(ConfigArg),
    /// Show each source's position, lag, last run and last error.
    Status(status::StatusArgs),
    /// Canaries: `sluice canary check` exits 1 when a source has gone silent.
    Canary(canary::CanaryArgs),
    /// Serve a vendor API look-alike with test data and faults.
    Simulate(simulate::SimulateArgs),
    /// Pull a simulated Okta into a local lake and show what happened.
    Demo(demo::DemoArgs),
    /// List or replay events that sinks refused (the dead-letter queue).
    Dlq(dlq::DlqArgs),
    /// Lake helpers: `sluice lake ddl` prints the SQL that reads a source's objects; `sluice
    /// lake verify` checks them against the manifest ledger.
    Lake(lake::LakeArgs),
    /// Pull a past time range of one source in parallel windows.
    Backfill(backfill::BackfillArgs),
    /// Time a simulated backlog pulled with 1, 4, 8… workers (for docs/benchmarks.md).
    Bench(bench::BenchArgs),
    /// Checkpoints: show, export, import, reset, recover from the lake (every kind of state
    /// store).
    State(state::StateArgs),
    /// Built-in vendor connectors: `list` them, `show` one's spec.
    Connectors(connectors::ConnectorsArgs),
    /// Write a starter config for built-in connectors: `sluice init --connector okta`.
    Init(init::InitArgs),
    /// VRL programs of `vrl` steps: `sluice vrl test --program F --event E.json` prints what
    /// one gives for an event.
    Vrl(vrl::VrlArgs),
}

/// The config file option shared by commands.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// Path of the config file.
    #[arg(long, short, default_value = "sluice.toml", env = "SLUICE_CONFIG")]
    pub config: PathBuf,
}

/// Parses the command line, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    // First: a panic anywhere later may quote a secret.
    crate::panic_hook::install();
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    raise_open_files_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            crate::errln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => run::run(args).await,
            Command::Serve(args) => serve::serve(args).await,
            Command::Check(args) => check::check(args).await,
            Command::Status(args) => status::status(args).await,
            Command::Canary(args) => canary::canary(args).await,
            Command::Simulate(args) => simulate::simulate(args).await,
            Command::Demo(args) => demo::demo(args).await,
            Command::Lake(args) => lake::lake(args).await,
            Command::Dlq(args) => dlq::dlq(args).await,
            Command::Backfill(args) => backfill::backfill(args).await,
            Command::Bench(args) => bench::bench(args).await,
            Command::State(args) => state::state(args).await,
            Command::Connectors(args) => connectors::connectors(args).await,
            Command::Init(args) => init::init(args).await,
            Command::Vrl(args) => vrl::vrl(args).await,
        }
    });
    ExitCode::from(code)
}

/// Raises the soft limit on open files to the hard limit: runs open files, sockets and
/// database handles, and a distribution's default soft limit (often 1024) is lower than
/// what the administrator allowed.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "limit on open files"),
        Err(err) => {
            tracing::debug!(error = %err, "cannot raise the limit on open files; keeping it")
        }
    }
}

/// Loads the config or prints why not.
fn load_config(arg: &ConfigArg) -> Result<crate::config::Config, u8> {
    crate::config::load(&arg.config).map_err(|err| {
        crate::errln!("error: {err}");
        EXIT_CONFIG
    })
}

/// A token cancelled by Ctrl-C or SIGTERM, so runs stop taking pages and commit.
fn shutdown_token() -> tokio_util::sync::CancellationToken {
    let token = tokio_util::sync::CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::warn!("stop requested: finishing the current page and committing");
        trigger.cancel();
    });
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
