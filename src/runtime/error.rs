//! Why a run failed, as a kind the circuit breaker, metrics and logs tell apart.
//!
//! Error policy: every failure of a run is a [`RunError`], made where the failure is known
//! (the source's answer, a sink, the state store) and carried up unchanged; its message is
//! what the user reads, its [`FailureKind`] what the program decides on. A lost lease is not a
//! failure of the source: [`FailureKind::HandedOver`] never reaches a run's report as an
//! error (the pipeline reports it as a skip, and the new owner carries on).

use std::fmt;

pub use crate::model::FailureKind;
use crate::sink::SinkError;
use crate::source::SourceError;
use crate::state::StateError;

/// A run's failure: what happened, for the user, and its kind, for the program.
#[derive(Debug, Clone, PartialEq)]
pub struct RunError {
    kind: FailureKind,
    message: String,
}

impl RunError {
    /// A failure of `kind`, described by `message` (which names the thing and what to do).
    pub fn new(kind: FailureKind, message: impl Into<String>) -> RunError {
        RunError {
            kind,
            message: message.into(),
        }
    }

    /// A failed request to the source's API.
    pub fn source(error: &SourceError) -> RunError {
        RunError::new(error.failure_kind(), error.to_string())
    }

    /// A sink (or the dead-letter queue) that could not be written.
    pub fn sink(error: &SinkError) -> RunError {
        RunError::new(FailureKind::SinkUnavailable, error.to_string())
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// What the user reads.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same failure, with `context` before its message.
    pub fn context(self, context: impl fmt::Display) -> RunError {
        RunError {
            message: format!("{context}{}", self.message),
            kind: self.kind,
        }
    }

    /// The same failure, with `more` after its message.
    pub fn and(self, more: impl fmt::Display) -> RunError {
        RunError {
            message: format!("{}{more}", self.message),
            kind: self.kind,
        }
    }
}

impl From<StateError> for RunError {
    fn from(error: StateError) -> RunError {
        let kind = match error {
            StateError::Fenced { .. } => FailureKind::HandedOver,
            _ => FailureKind::State,
        };
        RunError::new(kind, error.to_string())
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RunError {}

/// The message, so a report's `error.as_deref()` reads as text.
impl std::ops::Deref for RunError {
    type Target = str;

    fn deref(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> SourceError {
        SourceError::Status {
            url: "https://api.example.com/logs".into(),
            status,
            body: String::new(),
        }
    }

    #[test]
    fn the_answer_of_the_api_gives_the_kind() {
        let kind = |e: &SourceError| e.failure_kind().as_str();
        assert_eq!(kind(&status(401)), "auth");
        assert_eq!(kind(&status(403)), "permission");
        assert_eq!(kind(&status(429)), "rate_limited");
        assert_eq!(kind(&status(503)), "server");
        assert_eq!(kind(&status(404)), "config");
        let gave_up = SourceError::GaveUp {
            attempts: 5,
            last: Box::new(status(502)),
        };
        assert_eq!(kind(&gave_up), "server");
        let timeout = SourceError::Transport {
            url: "https://api.example.com/logs".into(),
            detail: "timed out".into(),
        };
        assert_eq!(kind(&timeout), "network");
    }

    #[test]
    fn a_lost_lease_is_a_handover_and_other_store_errors_are_state() {
        let fenced = StateError::Fenced {
            source_name: "okta".into(),
            held: 1,
            current: 2,
        };
        assert_eq!(RunError::from(fenced).kind(), FailureKind::HandedOver);
        let conflict = StateError::Conflict {
            source_name: "okta".into(),
            expected: 1,
            found: 2,
        };
        assert_eq!(RunError::from(conflict).kind(), FailureKind::State);
    }
}
