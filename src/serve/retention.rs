//! `[serve] retain_every`: the daemon applies every source's `retain` to its lake sinks on an
//! interval, as `sluice lake retain --apply` does (see `runtime::retention`). Each pass
//! follows the config of the latest reload; a pass in flight at a stop is left to finish
//! its current lake (every step of it is idempotent, so a cut pass is finished by the next).

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Generation;
use crate::config::{LakeConfig, SinkConfig};

/// Runs retention passes on the interval the current generation's config sets, until `stop`.
pub async fn retention_loop(
    mut generation: watch::Receiver<Arc<Generation>>,
    stop: CancellationToken,
) {
    let holder = crate::runtime::worker_identity();
    loop {
        let every = generation.borrow().config.serve.retain_every;
        let wait = async {
            match every {
                Some(every) => tokio::time::sleep(every).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = generation.changed() => {
                if changed.is_err() {
                    return;
                }
                // A reload: start the interval again on its settings.
                continue;
            }
            _ = wait => {}
        }
        let current = Arc::clone(&*generation.borrow());
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = pass(&current, &holder) => {}
        }
    }
}

/// One pass over every source with `retain`.
async fn pass(generation: &Generation, holder: &str) {
    let config = &generation.config;
    for source in &config.sources {
        let Some(retain) = source.retain else {
            continue;
        };
        let lakes: Vec<&LakeConfig> = config
            .sinks
            .iter()
            .filter_map(|sink| match sink {
                SinkConfig::Lake(lake) if source.sinks.contains(&lake.name) => Some(lake),
                _ => None,
            })
            .collect();
        if lakes.is_empty() {
            continue;
        }
        match crate::runtime::retention::retain(
            generation.store.as_ref(),
            &source.name,
            retain,
            &lakes,
            true,
            chrono::Utc::now(),
            holder,
        )
        .await
        {
            Ok(outcomes) => {
                for outcome in outcomes {
                    let plan = &outcome.plan;
                    tracing::info!(
                        source = %plan.source,
                        sink = %plan.sink,
                        deleted = plan.expired.len(),
                        partitions = plan.partitions().len(),
                        locked = plan.locked.len(),
                        cutoff = %crate::timefmt::rfc3339_millis(plan.cutoff),
                        "retention applied"
                    );
                }
            }
            Err(err) => {
                tracing::warn!(source = %source.name, error = %err, "retention failed; it is tried again at the next interval");
            }
        }
    }
}
