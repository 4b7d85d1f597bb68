//! The signals `sluice serve` obeys: SIGHUP reloads the config, SIGTERM and SIGINT stop.

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// SIGHUP: re-read the config file.
    Reload,
    /// SIGTERM or SIGINT (Ctrl-C): stop.
    Stop,
}

/// The daemon's signal handlers. Created before anything else starts, so that a stop signal
/// that arrives early is seen instead of killing the process with the default action.
pub struct Signals {
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers.
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                hangup: signal(SignalKind::hangup())?,
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// Waits for the next signal.
    pub async fn next(&mut self) -> Request {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.hangup.recv() => Request::Reload,
                _ = self.terminate.recv() => Request::Stop,
                _ = self.interrupt.recv() => Request::Stop,
            }
        }
        #[cfg(not(unix))]
        {
            // No SIGHUP here: only Ctrl-C, which stops.
            let _ = tokio::signal::ctrl_c().await;
            Request::Stop
        }
    }
}
