//! What kind of failure stopped a run: the one list the circuit breaker, metric labels,
//! `status` and logs share. The source classifies its own errors into it
//! (`SourceError::failure_kind`); the runtime carries it in its `RunError`.

/// What kind of failure stopped a run. Stored with each run record (as its `as_str` name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The API refused the credential (401), here or at its token endpoint.
    Auth,
    /// The credential lacks a permission (403).
    Permission,
    /// The API's rate limit outlasted the retries.
    RateLimited,
    /// The API failed on its side (5xx).
    Server,
    /// The API or the token endpoint could not be reached, or timed out.
    Network,
    /// The API answered something the config cannot read (not JSON, wrong shape, too large,
    /// a listing that cannot be followed to its end).
    BadResponse,
    /// A sink refused (too much of) what it was offered.
    SinkRefused,
    /// A sink or the dead-letter queue could not be written.
    SinkUnavailable,
    /// The state store failed, or disagrees with the lake.
    State,
    /// The config does not fit the API (a wrong path, a redirect, a refused parameter) or
    /// could not be built into a source or sink.
    Config,
    /// Another worker took this run's lease over; it carries on from the last commit.
    HandedOver,
    /// A worker stopped unexpectedly (a bug: please report it).
    Internal,
    /// The circuit breaker parks the source after failed runs in a row; the run was skipped.
    CircuitOpen,
    /// A stop request (SIGTERM, Ctrl-C, `--deadline`) cut the run short before it could
    /// finish what it had started; it carries on from its last commit next time.
    Cancelled,
}

impl FailureKind {
    /// The kind as a metric label and in JSON: `auth`, `rate_limited`, `sink_refused`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Auth => "auth",
            FailureKind::Permission => "permission",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::Server => "server",
            FailureKind::Network => "network",
            FailureKind::BadResponse => "bad_response",
            FailureKind::SinkRefused => "sink_refused",
            FailureKind::SinkUnavailable => "sink_unavailable",
            FailureKind::State => "state",
            FailureKind::Config => "config",
            FailureKind::HandedOver => "handed_over",
            FailureKind::Internal => "internal",
            FailureKind::CircuitOpen => "circuit_open",
            FailureKind::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
