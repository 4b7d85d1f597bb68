//! The transform stage in the page loop: a source's chain over each page's events, then
//! each sink's own chain over that sink's copy, before anything is staged (so a page stays
//! one unit of commit).
//!
//! A dropped event is counted against its step and not delivered (by a sink's chain: not to
//! that sink); the checkpoint moves past it all the same. An event a step fails on goes to
//! the dead-letter queue with the step's name and the reason, as a letter of the sink
//! [`SINK`] (no sink refused it; `sluice dlq replay --sink NAME` sends it on, untransformed);
//! without a queue it is counted and the run's log says why, once per step. Neither ever
//! stops the source.

use crate::config::{Config, SourceConfig};
use crate::sink::{dead_letter, Rejected};
use crate::transform::{Applied, Chain, Envelope};

use super::pipeline::RunReport;

/// The name dead letters of events a transform step failed on carry as their sink.
pub const SINK: &str = "transform";

/// The chains one source's events go through.
#[derive(Debug)]
pub struct Stage {
    /// The source's own chain.
    source: Chain,
    /// Each sink's chain, in the order of the pipeline's sinks (`Config::sinks_of`).
    sinks: Vec<Chain>,
}

/// What one step did in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepTally {
    /// The step's name (`<kind>#<position>` unless named; `<sink>/...` in a sink's chain).
    pub step: String,
    /// Events it dropped.
    pub dropped: u64,
    /// Events it failed on.
    pub failed: u64,
    /// Why it failed, the first time in the run.
    pub reason: Option<String>,
}

impl Stage {
    /// The chains of `source` and of its sinks; `None` when no chain has a step (the page
    /// loop then does no transform work at all). `Err` says which chain cannot be built,
    /// which the loader's checks make unlikely.
    pub fn build(config: &Config, source: &SourceConfig) -> Result<Option<Stage>, String> {
        let failed = |owner: String, p: crate::transform::ChainProblem| {
            format!(
                "{owner}.transforms[{}].{}: {} (hint: {})",
                p.step, p.field, p.message, p.hint
            )
        };
        let own = Chain::build(config.transforms_of(source), None)
            .map_err(|p| failed(format!("source `{}`", source.name), p))?;
        let sinks = config
            .sinks_of(source)
            .into_iter()
            .map(|sink| {
                Chain::build(config.sink_transforms(sink.name()), Some(sink.name()))
                    .map_err(|p| failed(format!("sink `{}`", sink.name()), p))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if own.is_empty() && sinks.iter().all(Chain::is_empty) {
            return Ok(None);
        }
        Ok(Some(Stage { source: own, sinks }))
    }

    /// A zero tally for every step, so a run reports (and the metrics register) each one.
    pub fn tallies(&self) -> Vec<StepTally> {
        std::iter::once(&self.source)
            .chain(&self.sinks)
            .flat_map(Chain::names)
            .map(|step| StepTally {
                step: step.to_string(),
                ..StepTally::default()
            })
            .collect()
    }

    /// Runs the source's chain over a page's events and returns those it keeps (changed or
    /// not). Failed events become `letters` of commit `commit` when a queue is configured.
    pub(super) fn run_source(
        &self,
        events: Vec<Envelope>,
        report: &mut RunReport,
        letters: Option<&mut Vec<Envelope>>,
        commit: u64,
    ) -> Vec<Envelope> {
        if self.source.is_empty() {
            return events;
        }
        let mut pass = Pass {
            chain: &self.source,
            report,
            letters,
            commit,
        };
        events
            .into_iter()
            .filter_map(|event| pass.run(event))
            .collect()
    }

    /// The copy of `events` sink number `index` gets, through its own chain; `None` when it
    /// has none (it gets `events` as they are).
    pub(super) fn run_sink(
        &self,
        index: usize,
        events: &[Envelope],
        report: &mut RunReport,
        letters: Option<&mut Vec<Envelope>>,
        commit: u64,
    ) -> Option<Vec<Envelope>> {
        let chain = self.sinks.get(index).filter(|chain| !chain.is_empty())?;
        let mut pass = Pass {
            chain,
            report,
            letters,
            commit,
        };
        Some(
            events
                .iter()
                .filter_map(|event| pass.run(event.clone()))
                .collect(),
        )
    }
}

/// Runs `chain` alone over `events` (what `sluice lake replay` does with the target sink's
/// chain: lake events already went through the source's), counting drops and failures per
/// step in `report` and, with a queue, making failed events `letters` of commit `commit`,
/// as a live run does.
pub(super) fn run_chain(
    chain: &Chain,
    events: Vec<Envelope>,
    report: &mut RunReport,
    letters: Option<&mut Vec<Envelope>>,
    commit: u64,
) -> Vec<Envelope> {
    if chain.is_empty() {
        return events;
    }
    let mut pass = Pass {
        chain,
        report,
        letters,
        commit,
    };
    events
        .into_iter()
        .filter_map(|event| pass.run(event))
        .collect()
}

/// One chain's pass over a page.
struct Pass<'a> {
    chain: &'a Chain,
    report: &'a mut RunReport,
    letters: Option<&'a mut Vec<Envelope>>,
    commit: u64,
}

impl Pass<'_> {
    /// The event after the chain, or `None` when a step dropped or failed it.
    fn run(&mut self, mut event: Envelope) -> Option<Envelope> {
        // On a failure the chain leaves the envelope as it was, for the letter.
        match self.chain.apply_envelope(&mut event) {
            Applied::Kept => Some(event),
            Applied::Dropped(step) => {
                self.report.transform_dropped += 1;
                self.tally(step).dropped += 1;
                None
            }
            Applied::Failed(step, reason) => {
                self.report.transform_failed += 1;
                let name = self.chain.step_name(step).to_string();
                let tally = self.tally(step);
                tally.failed += 1;
                tally.reason.get_or_insert_with(|| reason.clone());
                if let Some(letters) = self.letters.as_deref_mut() {
                    // The letter keeps the event as it reached the chain.
                    let error = format!("transform step `{name}`: {reason}");
                    letters.push(dead_letter::wrap(
                        Rejected { event, error },
                        SINK,
                        self.commit,
                    ));
                }
                None
            }
        }
    }

    fn tally(&mut self, step: usize) -> &mut StepTally {
        let name = self.chain.step_name(step);
        let steps = &mut self.report.steps;
        let at = match steps.iter().position(|t| t.step == name) {
            Some(at) => at,
            None => {
                steps.push(StepTally {
                    step: name.to_string(),
                    ..StepTally::default()
                });
                steps.len() - 1
            }
        };
        &mut steps[at]
    }
}

/// Adds `tally` into `tallies` (one entry per step).
pub(super) fn add(tallies: &mut Vec<StepTally>, tally: StepTally) {
    match tallies.iter_mut().find(|t| t.step == tally.step) {
        Some(total) => {
            total.dropped += tally.dropped;
            total.failed += tally.failed;
            if total.reason.is_none() {
                total.reason = tally.reason;
            }
        }
        None => tallies.push(tally),
    }
}

/// `filter#1 dropped 3, cast#2 failed 1`, for the run summary; `-` when no step did anything.
pub fn describe(tallies: &[StepTally]) -> String {
    let parts: Vec<String> = tallies
        .iter()
        .flat_map(|t| {
            let dropped = (t.dropped > 0).then(|| format!("{} dropped {}", t.step, t.dropped));
            let failed = (t.failed > 0).then(|| format!("{} failed {}", t.step, t.failed));
            dropped.into_iter().chain(failed)
        })
        .collect();
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(", ")
    }
}

/// Logs, once per step and run, why a step failed on events and where they went.
pub(super) fn warn_failures(source: &str, tallies: &[StepTally], queued: bool) {
    let kept = if queued {
        "they are kept in the dead-letter queue with the reason (`sluice dlq list`)"
    } else {
        "they are dropped: add a [dead_letter] queue to keep them"
    };
    for tally in tallies.iter().filter(|t| t.failed > 0) {
        tracing::warn!(
            source = %source,
            step = %tally.step,
            failed = tally.failed,
            reason = tally.reason.as_deref().unwrap_or("-"),
            "a transform step failed on events; {kept}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};

    use crate::source::{RawJson, Record};

    const CONFIG: &str = r#"
[[sources]]
name = "okta"
base_url = "https://acme.okta.com"
path = "/api/v1/logs"
sinks = ["lake", "siem"]
query = { since = "{start}" }
pagination = { kind = "link_header" }
event_time = { path = "published" }

[[sources.transforms]]
kind = "filter"
action = "drop"
field = "level"
equals = "debug"

[[sources.transforms]]
kind = "cast"
fields = ["code"]
to = "int"

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"

[[sinks]]
name = "siem"
kind = "stdout"

[[sinks.transforms]]
kind = "redact"
fields = ["ip"]

[[sinks.transforms]]
kind = "filter"
action = "keep"
field = "important"
exists = true
"#;

    fn stage() -> Stage {
        let config = crate::config::load_str(CONFIG, Path::new("sluice.toml")).unwrap();
        Stage::build(&config, &config.sources[0]).unwrap().unwrap()
    }

    fn event(id: &str, data: &str) -> Envelope {
        let record = Record {
            time: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            id: id.into(),
            data: RawJson::parse(data).unwrap(),
        };
        Envelope::wrap(record, &Arc::from("okta"), Utc.timestamp_opt(0, 0).unwrap())
    }

    fn page() -> Vec<Envelope> {
        vec![
            event(
                "kept",
                r#"{"level":"info", "code":"7","ip":"10.0.0.1","important":1}"#,
            ),
            event("untouched", r#"{"level":"info","ip":"10.0.0.2"}"#),
            event("dropped", r#"{"level":"debug"}"#),
            event("failed", r#"{"level":"info","code":"seven"}"#),
        ]
    }

    #[test]
    fn the_source_chain_keeps_changes_drops_and_dead_letters() {
        let stage = stage();
        let mut report = RunReport {
            steps: stage.tallies(),
            ..RunReport::default()
        };
        let mut letters = Vec::new();
        let kept = stage.run_source(page(), &mut report, Some(&mut letters), 5);
        let ids: Vec<&str> = kept.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, ["kept", "untouched"]);
        assert_eq!(
            kept[0].data.as_str(),
            r#"{"code":7,"important":1,"ip":"10.0.0.1","level":"info"}"#
        );
        assert_eq!(
            kept[1].data.as_str(),
            r#"{"level":"info","ip":"10.0.0.2"}"#,
            "bytes kept"
        );
        assert_eq!((report.transform_dropped, report.transform_failed), (1, 1));
        assert_eq!(report.steps[0].step, "filter#1");
        assert_eq!(report.steps[0].dropped, 1);
        assert_eq!(report.steps[1].failed, 1);
        assert!(report.steps[1]
            .reason
            .as_deref()
            .unwrap()
            .contains("`code`"));
        assert_eq!(letters.len(), 1);
        let letter = letters[0].data.to_value().unwrap();
        assert_eq!(letter["sink"], SINK);
        assert_eq!(letter["commit"], 5);
        assert!(letter["error"]
            .as_str()
            .unwrap()
            .starts_with("transform step `cast#2`: "));
        assert_eq!(
            letter["event"],
            serde_json::json!({"level":"info","code":"seven"})
        );
        assert_eq!(letters[0].event_id, "failed");
    }

    #[test]
    fn without_a_queue_failures_are_counted_only() {
        let stage = stage();
        let mut report = RunReport::default();
        let kept = stage.run_source(page(), &mut report, None, 1);
        assert_eq!(kept.len(), 2);
        assert_eq!(report.transform_failed, 1);
        assert_eq!(report.steps.iter().map(|t| t.failed).sum::<u64>(), 1);
    }

    #[test]
    fn a_sink_chain_changes_only_that_sinks_copy() {
        let stage = stage();
        let mut report = RunReport::default();
        let kept = stage.run_source(page(), &mut report, None, 1);
        assert!(
            stage.run_sink(0, &kept, &mut report, None, 1).is_none(),
            "the lake has no chain"
        );
        let siem = stage.run_sink(1, &kept, &mut report, None, 1).unwrap();
        assert_eq!(siem.len(), 1, "the siem keeps only important events");
        assert_eq!(siem[0].data.to_value().unwrap()["ip"], "[REDACTED]");
        assert_eq!(
            kept[0].data.to_value().unwrap()["ip"],
            "10.0.0.1",
            "the source's copy is unchanged"
        );
        let siem_filter = report
            .steps
            .iter()
            .find(|t| t.step == "siem/filter#2")
            .unwrap();
        assert_eq!(siem_filter.dropped, 1);
    }

    #[test]
    fn no_chain_no_stage() {
        let text = CONFIG.split("[[sources.transforms]]").next().unwrap().to_string()
            + "\n[[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"lake\"\n[[sinks]]\nname = \"siem\"\nkind = \"stdout\"\n";
        let config = crate::config::load_str(&text, Path::new("sluice.toml")).unwrap();
        assert!(Stage::build(&config, &config.sources[0]).unwrap().is_none());
    }

    #[test]
    fn tallies_add_up_by_step_and_describe_themselves() {
        let mut total = vec![StepTally {
            step: "a".into(),
            dropped: 1,
            ..StepTally::default()
        }];
        add(
            &mut total,
            StepTally {
                step: "a".into(),
                dropped: 2,
                failed: 1,
                reason: Some("why".into()),
            },
        );
        add(
            &mut total,
            StepTally {
                step: "b".into(),
                ..StepTally::default()
            },
        );
        assert_eq!(total.len(), 2);
        assert_eq!((total[0].dropped, total[0].failed), (3, 1));
        assert_eq!(describe(&total), "a dropped 3, a failed 1");
        assert_eq!(describe(&total[1..]), "-");
    }
}
