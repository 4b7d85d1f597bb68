//! What sinks refused in a run, and when that fails the run.
//!
//! A sink that refuses an event for good (a 4xx for its batch, a mapping error on one
//! document) hands it back; the commit puts it in the dead-letter queue, so nothing is lost
//! and the checkpoint moves on. That must not be quiet: a SIEM behind a wrong URL refuses
//! everything, and a run that "succeeds" while delivering nothing is the silent failure a
//! pipeline must never have. Each sink's `fail_when_refused` share says how much refusal
//! fails the run (every event, by default).

use std::collections::HashSet;

use super::error::{FailureKind, RunError};
use crate::config::Share;
use crate::sink::Rejected;

/// One sink's deliveries and refusals in a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SinkTally {
    /// The sink.
    pub sink: String,
    /// Events committed through the sink (accepted or refused).
    pub offered: u64,
    /// Events it refused, now in the dead-letter queue.
    pub refused: u64,
    /// The reason it gave for its first refusal.
    pub first_refusal: Option<String>,
    /// The share of refusals that fails the run.
    pub fail_when_refused: Share,
}

/// Refusals of one commit, counted once the commit is durable.
#[derive(Debug, Default)]
pub(super) struct CommitRefusals {
    tallies: Vec<SinkTally>,
    /// Ids of events that at least one sink refused.
    refused_ids: HashSet<String>,
}

impl CommitRefusals {
    /// Notes what `sink` refused of this commit's events.
    pub(super) fn note(&mut self, sink: &str, share: Share, rejected: &[Rejected]) {
        for r in rejected {
            self.refused_ids.insert(r.event.event_id.clone());
        }
        self.tallies.push(SinkTally {
            sink: sink.to_string(),
            offered: 0,
            refused: rejected.len() as u64,
            first_refusal: rejected.first().map(|r| r.error.clone()),
            fail_when_refused: share,
        });
    }

    /// Adds this commit of `offered` events to the run's tallies; returns how many distinct
    /// events some sink refused.
    pub(super) fn settle(self, offered: u64, run: &mut Vec<SinkTally>) -> u64 {
        for mut tally in self.tallies {
            tally.offered = offered;
            add(run, tally);
        }
        self.refused_ids.len() as u64
    }
}

/// Adds `tally` to the run's tally of the same sink.
pub(super) fn add(run: &mut Vec<SinkTally>, tally: SinkTally) {
    match run.iter_mut().find(|t| t.sink == tally.sink) {
        Some(total) => {
            total.offered += tally.offered;
            total.refused += tally.refused;
            if total.first_refusal.is_none() {
                total.first_refusal = tally.first_refusal;
            }
        }
        None => run.push(tally),
    }
}

/// The error that fails a run of `source` whose sinks refused too much, if any did.
pub fn refusal_error(source: &str, tallies: &[SinkTally]) -> Option<RunError> {
    let tally = tallies
        .iter()
        .find(|t| t.fail_when_refused.reached_by(t.refused, t.offered))?;
    let message = format!(
        "sink `{}` refused {} of the {} events offered in this run (first refusal: {}); that reaches its fail_when_refused = \"{}\". The refused events are kept in the dead-letter queue (hint: fix the sink, e.g. its URL, token or index, then `sluice dlq replay --source {source}`)",
        tally.sink,
        tally.refused,
        tally.offered,
        tally.first_refusal.as_deref().unwrap_or("no reason given"),
        tally.fail_when_refused,
    );
    Some(RunError::new(FailureKind::SinkRefused, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(sink: &str, offered: u64, refused: u64, share: &str) -> SinkTally {
        SinkTally {
            sink: sink.into(),
            offered,
            refused,
            first_refusal: (refused > 0).then(|| "http://siem/x: HTTP 404 Not Found".into()),
            fail_when_refused: share.parse().unwrap(),
        }
    }

    #[test]
    fn a_sink_refusing_everything_fails_the_run_by_default_and_names_itself() {
        let error = refusal_error(
            "okta",
            &[tally("lake", 50, 0, "100%"), tally("siem", 50, 50, "100%")],
        )
        .expect("the run fails");
        assert!(
            error.contains("sink `siem` refused 50 of the 50 events"),
            "{error}"
        );
        assert!(error.contains("HTTP 404"), "{error}");
        assert!(error.contains("sluice dlq replay --source okta"), "{error}");
        assert_eq!(
            refusal_error("okta", &[tally("siem", 50, 49, "100%")]),
            None
        );
        assert!(refusal_error("okta", &[tally("siem", 50, 1, "2%")]).is_some());
        assert_eq!(refusal_error("okta", &[tally("siem", 0, 0, "0%")]), None);
    }

    #[test]
    fn tallies_of_commits_and_workers_add_up_per_sink() {
        let mut run = Vec::new();
        add(&mut run, tally("siem", 10, 0, "100%"));
        add(&mut run, tally("siem", 5, 5, "100%"));
        add(&mut run, tally("lake", 15, 0, "100%"));
        assert_eq!(run.len(), 2);
        assert_eq!((run[0].offered, run[0].refused), (15, 5));
        assert!(run[0].first_refusal.is_some());
    }
}
