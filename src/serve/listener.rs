//! The daemon's HTTP server: accepts connections on the status port and serves the router
//! on each, within limits that keep clients from holding the daemon.
//!
//! - At most `max_connections` are served at once. The permit is taken before `accept`, so
//!   connections beyond the cap wait in the kernel's listen queue and cost the process no
//!   file descriptor: idle clients cannot starve the runs of descriptors.
//! - A connection must send a request's headers within `idle_timeout` of opening or of its
//!   previous answer (hyper's header-read timeout): half-sent requests and idle keep-alive
//!   connections are closed.
//! - At a stop, the listener closes, idle connections close at once, answers in progress get
//!   `shutdown_timeout`, and whatever is still open then is dropped.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::ServeConfig;

/// How long to wait before accepting again after `accept` failed (out of descriptors):
/// retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(500);

/// The limits of the status port (from `[serve]`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time allowed to send a request's headers.
    pub idle_timeout: Duration,
    /// Time allowed to finish answering at a stop.
    pub shutdown_timeout: Duration,
}

impl Limits {
    /// The limits set in `[serve]`.
    pub fn of(config: &ServeConfig) -> Self {
        Limits {
            max_connections: config.max_connections.max(1),
            idle_timeout: config.idle_timeout,
            shutdown_timeout: config.shutdown_timeout,
        }
    }
}

/// Serves `router` on `listener` until `stop` is cancelled, then closes the connections
/// (see the module documentation) and returns.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, stop: CancellationToken) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let closing = CancellationToken::new();
    let mut connections = JoinSet::new();
    loop {
        // Finished connections are reaped here, so the set holds open ones only.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed; stop serving rather than spin if it were.
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
        };
        connections.spawn(connection(
            stream,
            router.clone(),
            permit,
            limits.idle_timeout,
            closing.clone(),
        ));
    }
    // No new connections from here: the port refuses them.
    drop(listener);
    closing.cancel();
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            shutdown_timeout = %humantime::format_duration(limits.shutdown_timeout),
            "closing HTTP connections still open after serve.shutdown_timeout"
        );
        connections.shutdown().await;
    }
}

/// Logs a failed `accept` and waits before the next: out of descriptors (EMFILE) it would
/// fail again at once. A connection reset before it was accepted is no problem at all.
async fn accept_failed(err: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    ) {
        tracing::debug!(error = %err, "a connection closed before it was accepted");
        return;
    }
    tracing::warn!(error = %err, "cannot accept a connection on the status port; retrying shortly (hint: `Too many open files` means the limit on open files is too low for the runs; raise it, e.g. LimitNOFILE= in systemd)");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}

/// Serves one connection until it closes, times out, or `closing` asks it to finish.
async fn connection(
    stream: TcpStream,
    router: Router,
    _permit: OwnedSemaphorePermit,
    idle_timeout: Duration,
    closing: CancellationToken,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(idle_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::pin!(conn);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    // Timeouts and clients that go away are routine.
                    tracing::debug!(error = %err, "HTTP connection ended");
                }
                return;
            }
            _ = closing.cancelled(), if !shutting_down => {
                // Idle: closes at once. Answering: closes after the answer.
                conn.as_mut().graceful_shutdown();
                shutting_down = true;
            }
        }
    }
}
