//! Exit codes of `run --once` and `backfill` by failure kind, when asked for with
//! `--exit-codes by-kind`: a scheduler can then retry a temporary failure and page someone
//! for a revoked credential. The default stays 1 for every failure, as scripts expect.
//!
//! The codes follow BSD's `sysexits.h`, which cron wrappers and systemd already know.

use crate::model::FailureKind;
use crate::runtime::RunReport;

/// How a failed run maps to an exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ExitCodes {
    /// 1 for any failed source (the default).
    #[default]
    Simple,
    /// A code per failure kind (see [`by_kind`]); 1 when failed sources differ in code.
    ByKind,
}

/// Exit code: the config does not fit the API (`EX_CONFIG`).
pub const EXIT_KIND_CONFIG: u8 = 78;
/// Exit code: the credential was refused or lacks a permission (`EX_NOPERM`).
pub const EXIT_KIND_AUTH: u8 = 77;
/// Exit code: the API answered something unreadable (`EX_PROTOCOL`).
pub const EXIT_KIND_BAD_RESPONSE: u8 = 76;
/// Exit code: a temporary failure, worth retrying (`EX_TEMPFAIL`): network, server, rate
/// limit, an open circuit breaker, a stop request.
pub const EXIT_KIND_TEMPORARY: u8 = 75;
/// Exit code: a sink or the dead-letter queue could not be written (`EX_IOERR`).
pub const EXIT_KIND_SINK_UNAVAILABLE: u8 = 74;
/// Exit code: a sink refused the events (`EX_CANTCREAT`).
pub const EXIT_KIND_SINK_REFUSED: u8 = 73;
/// Exit code: the state store failed (`EX_OSERR`).
pub const EXIT_KIND_STATE: u8 = 71;
/// Exit code: a bug (`EX_SOFTWARE`).
pub const EXIT_KIND_INTERNAL: u8 = 70;

/// The exit code of a run failed with `kind`, under `--exit-codes by-kind`.
pub fn by_kind(kind: FailureKind) -> u8 {
    match kind {
        FailureKind::Config => EXIT_KIND_CONFIG,
        FailureKind::Auth | FailureKind::Permission => EXIT_KIND_AUTH,
        FailureKind::BadResponse => EXIT_KIND_BAD_RESPONSE,
        FailureKind::Network
        | FailureKind::Server
        | FailureKind::RateLimited
        | FailureKind::CircuitOpen
        | FailureKind::Cancelled
        // Never a run's error (a lost lease is a skip), but temporary if it were.
        | FailureKind::HandedOver => EXIT_KIND_TEMPORARY,
        FailureKind::SinkUnavailable => EXIT_KIND_SINK_UNAVAILABLE,
        FailureKind::SinkRefused => EXIT_KIND_SINK_REFUSED,
        FailureKind::State => EXIT_KIND_STATE,
        FailureKind::Internal => EXIT_KIND_INTERNAL,
    }
}

/// The code for the failed `reports` under `codes`: each failed source's code when they all
/// agree, else 1. `None` when no source failed.
pub fn failure_code(reports: &[RunReport], codes: ExitCodes) -> Option<u8> {
    let mut failed = reports.iter().filter_map(|r| r.error.as_ref()).peekable();
    failed.peek()?;
    if codes == ExitCodes::Simple {
        return Some(super::EXIT_SOURCE_FAILED);
    }
    let mut kinds = failed.map(|error| by_kind(error.kind()));
    let first = kinds.next()?;
    Some(if kinds.all(|code| code == first) {
        first
    } else {
        super::EXIT_SOURCE_FAILED
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::RunError;

    fn failed(kind: FailureKind) -> RunReport {
        RunReport {
            error: Some(RunError::new(kind, "x")),
            ..RunReport::default()
        }
    }

    #[test]
    fn sources_that_fail_alike_give_their_code_and_mixed_failures_give_one() {
        let ok = RunReport::default();
        assert_eq!(
            failure_code(std::slice::from_ref(&ok), ExitCodes::ByKind),
            None
        );
        let auth = [ok.clone(), failed(FailureKind::Auth)];
        assert_eq!(failure_code(&auth, ExitCodes::Simple), Some(1));
        assert_eq!(failure_code(&auth, ExitCodes::ByKind), Some(77));
        let temporary = [failed(FailureKind::Server), failed(FailureKind::Network)];
        assert_eq!(failure_code(&temporary, ExitCodes::ByKind), Some(75));
        let mixed = [
            failed(FailureKind::Server),
            failed(FailureKind::SinkRefused),
        ];
        assert_eq!(failure_code(&mixed, ExitCodes::ByKind), Some(1));
    }
}
