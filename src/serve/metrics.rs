//! The Prometheus recorder behind `/metrics`. What is recorded is in
//! [`crate::runtime::metrics`]; this only installs the recorder and keeps it tidy.

use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::runtime::metrics::{
    describe, COMMIT_DURATION, DELAY_BUCKETS, DELIVERY_DELAY, FETCH_DELAY, PAGE_PROCESSING,
    RUN_DURATION, RUN_DURATION_BUCKETS, SCHEDULE_WAIT, STEP_BUCKETS,
};

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process-wide recorder and starts its upkeep task; returns the handle that
/// renders the text format. Fails if a recorder is already installed.
pub fn install() -> Result<PrometheusHandle, String> {
    let mut builder = PrometheusBuilder::new();
    // Histograms without buckets would be rendered as summaries, which cannot be summed
    // across daemons.
    for (name, buckets) in [
        (RUN_DURATION, RUN_DURATION_BUCKETS),
        (FETCH_DELAY, DELAY_BUCKETS),
        (DELIVERY_DELAY, DELAY_BUCKETS),
        (PAGE_PROCESSING, STEP_BUCKETS),
        (COMMIT_DURATION, STEP_BUCKETS),
        (SCHEDULE_WAIT, STEP_BUCKETS),
        (crate::source::metrics::RATE_LIMIT_WAIT, STEP_BUCKETS),
    ] {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(name.to_string()), buckets)
            .map_err(|e| e.to_string())?;
    }
    let handle = builder.install_recorder().map_err(|e| e.to_string())?;
    describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}
