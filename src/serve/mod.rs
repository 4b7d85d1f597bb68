//! `sluice serve`: the daemon. It runs every source on its schedule until SIGTERM or
//! SIGINT, reloads its config on SIGHUP, and answers `/healthz`, `/readyz`, `/metrics` and
//! its status page (`/`, `/status.json`).
//!
//! - when a source runs (interval or cron, plus jitter) is [`crate::model::schedule`];
//! - `supervisor`: one task per source, rebuilt on reload;
//! - `signals`: SIGHUP, SIGTERM and SIGINT;
//! - `http` and `metrics`: the endpoints and the Prometheus recorder;
//! - `page`: the status page; `access`: its token, and the refusal to listen beyond
//!   loopback without one;
//! - `listener`: the HTTP server, with its connection cap and timeouts.
//!
//! A reload reads and checks the whole file (secrets included) and opens its state store
//! before anything changes; a file that fails keeps the daemon on the old config. A stop
//! lets in-flight runs commit what they fetched (a request in flight is abandoned); a second stop signal exits at once,
//! which loses nothing because checkpoints move only on commit.

mod access;
mod http;
mod listener;
mod metrics;
mod page;
mod retention;
mod signals;
mod supervisor;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use crate::model::schedule::{Schedule, ScheduleProblem};

use crate::config::{Config, ConfigError};
use crate::state::StateStore;
use signals::{Request, Signals};

/// Exit code when a second stop signal cut the drain short (128 + SIGINT, as shells report
/// an interrupted command).
pub const EXIT_FORCED: u8 = 130;

/// How long alerts still queued at exit may take to go out.
const ALERTS_AT_EXIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How the daemon was started.
#[derive(Debug, Clone)]
pub struct Options {
    /// The config file, read at start and on every SIGHUP.
    pub config: PathBuf,
    /// Overrides `[serve] listen`.
    pub listen: Option<SocketAddr>,
}

/// A config and the state store it names, used together by every run started under them.
pub struct Generation {
    /// The checked config.
    pub config: Config,
    /// Its open state store.
    pub store: Arc<dyn StateStore>,
}

/// How the daemon ended; the command maps it to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Told to stop, it let the runs in flight commit and stopped.
    Stopped,
    /// The config, the listen address or the state store was unusable at start (the error
    /// is logged).
    CannotStart,
}

/// Runs the daemon until it is told to stop. (A second stop signal exits the process at once
/// with [`EXIT_FORCED`], since returning would wait for the runs in flight.)
pub async fn serve(options: Options) -> Outcome {
    // First, so that an early SIGTERM is handled rather than killing the process outright.
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(err) => {
            crate::errln!("error: cannot install signal handlers: {err}");
            return Outcome::CannotStart;
        }
    };
    let config = match load_config(&options.config).await {
        Ok(config) => config,
        Err(err) => {
            crate::errln!("error: {err}");
            return Outcome::CannotStart;
        }
    };
    let listen = match options.listen {
        Some(listen) => listen,
        None => match config.serve.listen.parse() {
            Ok(listen) => listen,
            // The loader checked it; this only guards against that check changing.
            Err(err) => {
                crate::errln!("error: {}: serve.listen: {err}", options.config.display());
                return Outcome::CannotStart;
            }
        },
    };
    if let Err((message, hint)) = access::check_exposure(listen, config.serve.token.as_ref()) {
        let err = match options.listen {
            Some(_) => format!("--listen: {message}\n  hint: {hint}"),
            None => {
                crate::config::ConfigError::at_key(&options.config, "serve.listen", message, hint)
                    .to_string()
            }
        };
        crate::errln!("error: {err}");
        return Outcome::CannotStart;
    }
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(err) => {
            crate::errln!("error: cannot listen on {listen}: {err}\n  hint: pick a free address with --listen IP:PORT or [serve] listen");
            return Outcome::CannotStart;
        }
    };
    let prometheus = match metrics::install() {
        Ok(handle) => Some(handle),
        Err(err) => {
            tracing::warn!(error = %err, "metrics recorder not installed; /metrics answers 503");
            None
        }
    };
    let health = Arc::new(http::Health::default());
    let access = Arc::new(access::Access::new(config.serve.token.as_ref()));
    let http_stop = CancellationToken::new();
    let address = listener.local_addr().unwrap_or(listen);
    // The limits in force at start stay until a restart, like the address.
    let limits = listener::Limits::of(&config.serve);
    let server = tokio::spawn(listener::serve(
        listener,
        http::router(Arc::clone(&health), prometheus, Arc::clone(&access)),
        limits,
        http_stop.clone(),
    ));
    tracing::info!(
        listen = %address,
        token = access.required(),
        "serving /healthz, /readyz, /metrics and the status page / on http://{address}"
    );

    let store = match crate::state::open(&config.state).await {
        Ok(store) => store,
        Err(err) => {
            crate::errln!("error: {err}");
            return Outcome::CannotStart;
        }
    };
    let mut generation = Arc::new(Generation { config, store });
    register_series(&generation).await;
    health.set_generation(Arc::clone(&generation));
    let stop = CancellationToken::new();
    let (alerts, sending) = crate::notify::Dispatcher::start();
    let mut supervisor = supervisor::Supervisor::new(stop.clone(), alerts);
    supervisor.apply(&generation);
    let (retention_generation, watched) = tokio::sync::watch::channel(Arc::clone(&generation));
    let retention = tokio::spawn(retention::retention_loop(watched, stop.clone()));
    tracing::info!(
        config = %options.config.display(),
        sources = generation.config.sources.len(),
        "sluice serve started; SIGHUP reloads the config, SIGTERM or SIGINT stops"
    );

    // Reloads until a stop signal.
    while let Request::Reload = signals.next().await {
        if let Some(next) = reload(&options.config, &generation.config, address).await {
            access.set(next.config.serve.token.as_ref());
            register_series(&next).await;
            health.set_generation(Arc::clone(&next));
            supervisor.apply(&next);
            // Fails only if the retention task has ended, which it does only on stop.
            let _ = retention_generation.send(Arc::clone(&next));
            generation = next;
        }
    }

    health.set_stopping();
    stop.cancel();
    tracing::warn!("stop requested: no new runs; runs in flight commit what they fetched and return (a second signal exits at once)");
    let drained = async {
        supervisor.join().await;
        if let Err(err) = retention.await {
            tracing::error!(error = %err, "the retention task ended abnormally");
        }
    };
    tokio::pin!(drained);
    loop {
        tokio::select! {
            _ = &mut drained => break,
            request = signals.next() => match request {
                Request::Stop => {
                    tracing::warn!("second stop signal: exiting at once; uncommitted pages are fetched again by the next run, nothing is lost");
                    // At once means now: returning would drop the async runtime, which waits
                    // for the runs in flight.
                    std::process::exit(i32::from(EXIT_FORCED));
                }
                Request::Reload => tracing::info!("reload ignored: the daemon is stopping"),
            },
        }
    }
    // Every dispatcher handle went with the supervisor: alerts of the last runs go out,
    // within a bound.
    sending.finish(ALERTS_AT_EXIT).await;
    // Answers in progress get serve.shutdown_timeout; a client cannot hold the exit longer.
    http_stop.cancel();
    if let Err(err) = server.await {
        tracing::warn!(error = %err, "HTTP server task ended abnormally");
    }
    tracing::info!("all runs committed; sluice serve stopped");
    Outcome::Stopped
}

/// Gives every source its metric series before its first run ends (see
/// [`crate::runtime::metrics::register_source`]), with its last success from the stored runs.
async fn register_series(generation: &Generation) {
    /// Runs looked back through for the last success.
    const HISTORY: usize = 100;
    for source in &generation.config.sources {
        let last_success = match generation.store.recent_runs(&source.name, HISTORY).await {
            Ok(runs) => runs
                .iter()
                .find(|run| run.error.is_none())
                .map(|run| run.finished_at),
            Err(err) => {
                tracing::warn!(source = %source.name, error = %err, "cannot read run history; last success reported as never");
                None
            }
        };
        crate::runtime::metrics::register_source(&source.name, last_success);
        let parked = crate::runtime::parked(source, generation.store.as_ref()).await;
        crate::runtime::metrics::record_circuit(&source.name, matches!(parked, Ok(Some(_))));
    }
}

/// Reads and checks the config file off the async threads (it reads files and may wait
/// on secret stores).
async fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let owned = path.to_path_buf();
    match tokio::task::spawn_blocking(move || crate::config::load(&owned)).await {
        Ok(result) => result,
        Err(err) => Err(ConfigError {
            file: path.to_path_buf(),
            position: None,
            key: None,
            message: format!("reading the config failed: {err}"),
            hint: Some("this is a bug in sluice; please report it".into()),
        }),
    }
}

/// The config after SIGHUP, with its store open; `None` (logged) when the file or the store
/// is unusable, so the daemon keeps the config it has.
async fn reload(path: &Path, current: &Config, listening: SocketAddr) -> Option<Arc<Generation>> {
    tracing::info!(config = %path.display(), "SIGHUP: reloading the config");
    let config = match load_config(path).await {
        Ok(config) => config,
        Err(err) => {
            tracing::error!(error = %err, "config reload refused: the file is invalid; still running the previous config");
            return None;
        }
    };
    // The address stays until a restart: a reload must not drop the token it needs.
    if let Err((message, hint)) = access::check_exposure(listening, config.serve.token.as_ref()) {
        let err = crate::config::ConfigError::at_key(path, "serve.token", message, hint);
        tracing::error!(error = %err, "config reload refused: the daemon listens beyond loopback and the new config has no token; still running the previous config");
        return None;
    }
    let store = match crate::state::open(&config.state).await {
        Ok(store) => store,
        Err(err) => {
            tracing::error!(error = %err, "config reload refused: its state store cannot be opened; still running the previous config");
            return None;
        }
    };
    if config.serve.listen != current.serve.listen {
        tracing::warn!(
            listen = %config.serve.listen,
            "serve.listen changed: the HTTP endpoints stay where they are until a restart"
        );
    }
    let (old, new) = (&current.serve, &config.serve);
    if (old.max_connections, old.idle_timeout, old.shutdown_timeout)
        != (new.max_connections, new.idle_timeout, new.shutdown_timeout)
    {
        tracing::warn!("serve.max_connections, idle_timeout or shutdown_timeout changed: they apply from the next restart");
    }
    tracing::info!(
        sources = config.sources.len(),
        "config reloaded; runs in flight finish on the previous config"
    );
    Some(Arc::new(Generation { config, store }))
}
