//! Prometheus-style metrics of source runs, recorded through the `metrics` facade.
//!
//! Recording is free when no recorder is installed (`sluice run --once`); `sluice serve`
//! installs one and renders it at `/metrics`. Every metric carries a `source` label.
//! docs/deployment.md lists them; keep it in step with [`describe`].

use chrono::Utc;

use super::RunReport;

/// Events delivered (committed, and accepted by every sink).
pub const EVENTS_DELIVERED: &str = "sluice_events_delivered_total";
/// Events a sink refused (kept in the dead-letter queue), by sink.
pub const SINK_REFUSED: &str = "sluice_sink_refused_total";
/// Pages fetched.
pub const PAGES: &str = "sluice_pages_total";
/// Events dropped because they had been delivered already.
pub const DUPLICATES_DROPPED: &str = "sluice_duplicates_dropped_total";
/// Events a sink refused, kept in the dead-letter queue.
pub const DEAD_LETTERED: &str = "sluice_dead_lettered_total";
/// Events a transform step dropped, by `step`.
pub const EVENTS_DROPPED: &str = "sluice_events_dropped_total";
/// Events a transform step failed on (kept in the dead-letter queue when one is
/// configured), by `step`.
pub const TRANSFORM_FAILED: &str = "sluice_transform_failed_total";
/// Runs, labelled with their `outcome`: `ok`, `failed`, `skipped` (another worker held the
/// source) or `circuit_open` (the circuit breaker skipped it).
pub const RUNS: &str = "sluice_runs_total";
/// Runs that failed, and scheduled runs the circuit breaker skipped: a parked source keeps
/// counting, so an alert on this counter stays on while the source is dead.
pub const RUN_FAILURES: &str = "sluice_run_failures_total";
/// Unix time of the end of the last successful run.
pub const LAST_SUCCESS: &str = "sluice_last_success_timestamp_seconds";
/// Seconds between the end of the last run and the committed high-water event time.
pub const LAG: &str = "sluice_lag_seconds";
/// 1 while the source's circuit breaker is open (its runs are skipped), else 0.
pub const CIRCUIT_OPEN: &str = "sluice_circuit_open";
/// 1 while the source is silent past its `max_silence`, else 0.
pub const SILENT: &str = "sluice_silent";
/// Active canary requests sent, by `outcome` (`ok` or `failed`).
pub const CANARY_REQUESTS: &str = "sluice_canary_requests_total";
/// Active canary requests whose event was not delivered by their deadline.
pub const CANARY_MISSED: &str = "sluice_canary_missed_total";
/// Unix time of the newest delivered canary event (its event time).
pub const CANARY_LAST_SEEN: &str = "sluice_canary_last_seen_timestamp_seconds";
/// 1 while the active canary is overdue or its request fails, else 0.
pub const CANARY_FAILING: &str = "sluice_canary_failing";
/// How long runs take.
pub const RUN_DURATION: &str = "sluice_run_duration_seconds";

/// Events read from the API, before dedup and transforms (events in).
pub const EVENTS_RECEIVED: &str = "sluice_events_received_total";
/// Bytes of the objects (or requests) sinks published.
pub const BYTES_PUBLISHED: &str = "sluice_bytes_published_total";
/// The delivery-time breakdown, per event: its fetch time minus its event time (the vendor's
/// publication delay, plus the wait for the next scheduled run).
pub const FETCH_DELAY: &str = "sluice_event_fetch_delay_seconds";
/// Per event: the commit that delivered it minus its event time (end to end).
pub const DELIVERY_DELAY: &str = "sluice_event_delivery_delay_seconds";
/// Per page: from its answer to its events staged in every sink (dedup, wrap, stage).
pub const PAGE_PROCESSING: &str = "sluice_page_processing_seconds";
/// Per commit: sinks prepare, the intent is recorded, sinks publish, the checkpoint moves.
pub const COMMIT_DURATION: &str = "sluice_commit_duration_seconds";
/// Per scheduled run (`sluice serve`): how long after its planned time it started.
pub const SCHEDULE_WAIT: &str = "sluice_schedule_wait_seconds";

/// Buckets of the per-event delays ([`FETCH_DELAY`], [`DELIVERY_DELAY`]), in seconds: from a
/// second to a day.
pub const DELAY_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0,
    86400.0,
];

/// Buckets of the per-page and per-commit steps ([`PAGE_PROCESSING`], [`COMMIT_DURATION`],
/// [`SCHEDULE_WAIT`]), in seconds.
pub const STEP_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Buckets of [`RUN_DURATION`], in seconds: from a caught-up run's one page to a backfill.
pub const RUN_DURATION_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// Registers the help text of every metric with the installed recorder.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        EVENTS_DELIVERED,
        "Events committed and accepted by every sink of the source."
    );
    describe_counter!(
        SINK_REFUSED,
        "Events a sink refused for good; they are kept in the dead-letter queue."
    );
    describe_counter!(PAGES, "Pages fetched from the source's API.");
    describe_counter!(
        DUPLICATES_DROPPED,
        "Events dropped because they had already been delivered."
    );
    describe_counter!(
        DEAD_LETTERED,
        "Events a sink refused, kept in the dead-letter queue."
    );
    describe_counter!(
        EVENTS_DROPPED,
        "Events a transform step dropped, by step (a sink's chain: for that sink only)."
    );
    describe_counter!(
        TRANSFORM_FAILED,
        "Events a transform step failed on, by step; kept in the dead-letter queue when one is configured."
    );
    describe_counter!(
        RUNS,
        "Source runs, by outcome (ok, failed, skipped, circuit_open)."
    );
    describe_counter!(
        RUN_FAILURES,
        "Source runs that ended with an error, and runs the circuit breaker skipped."
    );
    describe_gauge!(
        LAST_SUCCESS,
        Unit::Seconds,
        "Unix time at which the last successful run of the source ended."
    );
    describe_gauge!(
        LAG,
        Unit::Seconds,
        "At the end of the last run: now minus the newest delivered event time."
    );
    describe_histogram!(RUN_DURATION, Unit::Seconds, "How long source runs take.");
    describe_counter!(
        EVENTS_RECEIVED,
        "Events read from the source's API, before dedup and transforms."
    );
    describe_counter!(
        BYTES_PUBLISHED,
        Unit::Bytes,
        "Bytes of the objects or requests the source's sinks published."
    );
    describe_histogram!(
        FETCH_DELAY,
        Unit::Seconds,
        "Per event: fetch time minus event time (the vendor's publication delay plus the wait for the next run)."
    );
    describe_histogram!(
        DELIVERY_DELAY,
        Unit::Seconds,
        "Per event: the time of the commit that delivered it minus its event time."
    );
    describe_histogram!(
        PAGE_PROCESSING,
        Unit::Seconds,
        "Per page: from the API's answer to its events staged in every sink."
    );
    describe_histogram!(
        COMMIT_DURATION,
        Unit::Seconds,
        "Per commit: sinks prepare and publish, then the checkpoint moves."
    );
    describe_histogram!(
        SCHEDULE_WAIT,
        Unit::Seconds,
        "Per scheduled run: how long after its planned time it started."
    );
    crate::source::metrics::describe();
    describe_gauge!(
        SILENT,
        "1 while the source's newest delivered event is older than its max_silence allows, else 0 (as of its last run)."
    );
    describe_counter!(
        CANARY_REQUESTS,
        "Active canary requests sent, by outcome (ok, failed)."
    );
    describe_counter!(
        CANARY_MISSED,
        "Active canary requests whose event was not delivered within the canary's `within`."
    );
    describe_gauge!(
        CANARY_LAST_SEEN,
        Unit::Seconds,
        "Event time of the newest delivered canary event, as Unix time."
    );
    describe_gauge!(
        CANARY_FAILING,
        "1 while the active canary is overdue or its request fails, else 0 (as of the source's last run)."
    );
    describe_gauge!(
        CIRCUIT_OPEN,
        "1 while the source's circuit breaker is open and its runs are skipped, else 0 (as of its last scheduled run)."
    );
}

/// Registers every series of `source` at its current value, so that it exists from the
/// start: an alert on a rate, or on the age of the last success, works before the first
/// run ends. `last_success` is when the source last succeeded, per its stored runs; a source
/// that never did reports 0 (1970), which an age alert treats as long ago.
pub fn register_source(source: &str, last_success: Option<chrono::DateTime<Utc>>) {
    let source = source.to_string();
    for name in [
        EVENTS_DELIVERED,
        PAGES,
        DUPLICATES_DROPPED,
        DEAD_LETTERED,
        RUN_FAILURES,
        EVENTS_RECEIVED,
        BYTES_PUBLISHED,
    ] {
        metrics::counter!(name, "source" => source.clone()).increment(0);
    }
    let seconds = last_success.map_or(0.0, |t| t.timestamp_millis() as f64 / 1000.0);
    metrics::gauge!(LAST_SUCCESS, "source" => source).set(seconds);
}

/// Records a scheduled run of `source` that its open circuit breaker skipped: counted as a
/// failure, since the source is failing.
pub fn record_circuit_skip(source: &str) {
    let source = source.to_string();
    metrics::counter!(RUNS, "source" => source.clone(), "outcome" => "circuit_open").increment(1);
    metrics::counter!(RUN_FAILURES, "source" => source).increment(1);
}

/// Records whether `source` is silent past its `max_silence`.
pub fn record_silence(source: &str, silent: bool) {
    metrics::gauge!(SILENT, "source" => source.to_string()).set(if silent { 1.0 } else { 0.0 });
}

/// Records an active canary request of `source` and whether it succeeded.
pub fn record_canary_request(source: &str, ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    metrics::counter!(CANARY_REQUESTS, "source" => source.to_string(), "outcome" => outcome)
        .increment(1);
}

/// Records a canary request of `source` whose event missed its deadline.
pub fn record_canary_missed(source: &str) {
    metrics::counter!(CANARY_MISSED, "source" => source.to_string()).increment(1);
}

/// Records where `source`'s active canary stands after a run (`state` as committed).
pub fn record_canary(
    source: &str,
    canary: &super::canary::Canary,
    state: &crate::state::canary::CanaryState,
) {
    let source = source.to_string();
    // Registered at zero, so a rate alert on a miss works before the first one.
    metrics::counter!(CANARY_MISSED, "source" => source.clone()).increment(0);
    if let Some(seen) = state.seen {
        metrics::gauge!(CANARY_LAST_SEEN, "source" => source.clone())
            .set(seen.timestamp_millis() as f64 / 1000.0);
    }
    metrics::gauge!(CANARY_FAILING, "source" => source).set(if canary.is_bad() {
        1.0
    } else {
        0.0
    });
}

/// Records whether `source`'s circuit breaker is open, as found at its scheduled run.
pub fn record_circuit(source: &str, open: bool) {
    metrics::gauge!(CIRCUIT_OPEN, "source" => source.to_string()).set(if open { 1.0 } else { 0.0 });
}

/// Records one finished run of a source.
pub fn record_run(report: &RunReport) {
    let source = report.source.clone();
    let outcome = if report.error.is_some() {
        "failed"
    } else if report.skipped.is_some() {
        "skipped"
    } else {
        "ok"
    };
    match &report.error {
        // Failed runs say why, so a dashboard tells a revoked token from a full disk.
        Some(error) => metrics::counter!(RUNS, "source" => source.clone(), "outcome" => outcome, "kind" => error.kind().as_str()),
        None => metrics::counter!(RUNS, "source" => source.clone(), "outcome" => outcome),
    }
    .increment(1);
    metrics::counter!(EVENTS_DELIVERED, "source" => source.clone())
        .increment(report.events.saturating_sub(report.refused_events));
    for tally in &report.sinks {
        metrics::counter!(SINK_REFUSED, "source" => source.clone(), "sink" => tally.sink.clone())
            .increment(tally.refused);
    }
    metrics::counter!(PAGES, "source" => source.clone()).increment(report.pages);
    metrics::counter!(BYTES_PUBLISHED, "source" => source.clone()).increment(report.bytes);
    metrics::counter!(DUPLICATES_DROPPED, "source" => source.clone())
        .increment(report.duplicates_dropped);
    metrics::counter!(DEAD_LETTERED, "source" => source.clone()).increment(report.dead_lettered);
    // Every step of the source's chains is in the report (at zero when it did nothing), so
    // each series exists from the first run.
    for tally in &report.steps {
        let step = tally.step.clone();
        metrics::counter!(EVENTS_DROPPED, "source" => source.clone(), "step" => step.clone())
            .increment(tally.dropped);
        metrics::counter!(TRANSFORM_FAILED, "source" => source.clone(), "step" => step)
            .increment(tally.failed);
    }
    // Registered at zero, so an alert on its rate works before the first failure.
    let failures = metrics::counter!(RUN_FAILURES, "source" => source.clone());
    if report.error.is_some() {
        failures.increment(1);
    }
    if report.skipped.is_none() {
        metrics::histogram!(RUN_DURATION, "source" => source.clone()).record(report.seconds);
    }
    let now = Utc::now();
    if outcome == "ok" {
        metrics::gauge!(LAST_SUCCESS, "source" => source.clone())
            .set(now.timestamp_millis() as f64 / 1000.0);
    }
    if let Some(high_water) = report.high_water {
        let lag = (now - high_water).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::gauge!(LAG, "source" => source).set(lag);
    }
}

/// The delivery-time recorders of one pipeline, looked up once rather than per event.
pub struct Timings {
    received: metrics::Counter,
    fetch_delay: metrics::Histogram,
    delivery_delay: metrics::Histogram,
    page: metrics::Histogram,
    commit: metrics::Histogram,
    /// Event times (Unix ms) staged since the last commit, for [`DELIVERY_DELAY`].
    staged: Vec<i64>,
}

impl Timings {
    /// The recorders of `source`.
    pub fn new(source: &str) -> Timings {
        let label = || ("source", source.to_string());
        let (k, v) = label();
        Timings {
            received: metrics::counter!(EVENTS_RECEIVED, k => v.clone()),
            fetch_delay: metrics::histogram!(FETCH_DELAY, k => v.clone()),
            delivery_delay: metrics::histogram!(DELIVERY_DELAY, k => v.clone()),
            page: metrics::histogram!(PAGE_PROCESSING, k => v.clone()),
            commit: metrics::histogram!(COMMIT_DURATION, k => v),
            staged: Vec::new(),
        }
    }

    /// A page of `records` events answered.
    pub fn page_received(&self, records: usize) {
        self.received.increment(records as u64);
    }

    /// An event of time `event` fetched at `fetched`, staged for the next commit.
    pub fn event_staged(&mut self, event: chrono::DateTime<Utc>, fetched: chrono::DateTime<Utc>) {
        self.fetch_delay.record(seconds_between(event, fetched));
        self.staged.push(event.timestamp_millis());
    }

    /// A page processed in `took` (from its answer to staged).
    pub fn page_processed(&self, took: std::time::Duration) {
        self.page.record(took.as_secs_f64());
    }

    /// A commit made in `took`, at `now`: the events staged since the last one are delivered.
    pub fn committed(&mut self, took: std::time::Duration, now: chrono::DateTime<Utc>) {
        self.commit.record(took.as_secs_f64());
        let now = now.timestamp_millis();
        for event in self.staged.drain(..) {
            self.delivery_delay
                .record((now - event).max(0) as f64 / 1000.0);
        }
    }
}

/// Seconds from `from` to `to`, never negative (an event stamped ahead of our clock).
fn seconds_between(from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds().max(0) as f64 / 1000.0
}

/// Records how long after its planned time a scheduled run of `source` started.
pub fn record_schedule_wait(source: &str, planned: chrono::DateTime<Utc>) {
    metrics::histogram!(SCHEDULE_WAIT, "source" => source.to_string())
        .record(seconds_between(planned, Utc::now()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::StepTally;

    #[test]
    fn every_step_has_its_dropped_and_failed_series() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let report = RunReport {
            source: "okta".into(),
            steps: vec![
                StepTally {
                    step: "filter#1".into(),
                    dropped: 3,
                    ..StepTally::default()
                },
                StepTally {
                    step: "siem/cast#2".into(),
                    failed: 2,
                    reason: Some("why".into()),
                    ..StepTally::default()
                },
            ],
            ..RunReport::default()
        };
        metrics::with_local_recorder(&recorder, || record_run(&report));
        let text = handle.render();
        for line in [
            r#"sluice_events_dropped_total{source="okta",step="filter#1"} 3"#,
            r#"sluice_transform_failed_total{source="okta",step="filter#1"} 0"#,
            r#"sluice_events_dropped_total{source="okta",step="siem/cast#2"} 0"#,
            r#"sluice_transform_failed_total{source="okta",step="siem/cast#2"} 2"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }
}
