//! `sluice state recover --from-lake --source NAME`: rebuilds a source's checkpoint from the
//! newest objects its lake holds, after the state store was lost or replaced.
//!
//! The lake's envelopes hold each event's time and id. The checkpoint written says that
//! everything up to the latest event time found is delivered (anchor and high-water mark
//! there) and remembers the ids at or after that time minus the source's `window.overlap`,
//! so the next run lists again from there and drops what the lake already holds. It is
//! written like `state import`: under the source's lease, conditional on the stored commit,
//! and with a commit number never used before in this store.

use crate::cli::{ConfigArg, EXIT_CONFIG, EXIT_SOURCE_FAILED};
use crate::config::SinkConfig;
use crate::model::SortOrder;
use crate::state::{Checkpoint, DedupSet, StateStore};
use crate::timefmt::rfc3339_millis;

use super::{failed, lease_all, open, release_all, Failure};

/// What to recover, as the command line gives it.
pub(super) struct Request<'a> {
    pub config: &'a ConfigArg,
    pub source: &'a str,
    pub sink: Option<&'a str>,
    pub force: bool,
}

pub(super) async fn recover(request: Request<'_>) -> Result<(), Failure> {
    let Request {
        config: arg,
        source,
        sink,
        force,
    } = request;
    let (config, store) = open(arg).await?;
    let Some(source_config) = config.sources.iter().find(|s| s.name == source) else {
        return Err((
            EXIT_CONFIG,
            format!(
                "no source `{source}` in {} (hint: name a source of the config)",
                arg.config.display()
            ),
        ));
    };
    let lakes: Vec<_> = config
        .sinks_of(source_config)
        .into_iter()
        .filter_map(|s| match s {
            SinkConfig::Lake(lake) => Some(lake),
            _ => None,
        })
        .filter(|lake| sink.is_none_or(|name| lake.name == name))
        .collect();
    let lake = match (lakes.as_slice(), sink) {
        ([lake], _) => *lake,
        ([], Some(name)) => {
            return Err((
                EXIT_CONFIG,
                format!("source `{source}` has no lake sink `{name}` (hint: name one of its sinks of kind \"lake\")"),
            ))
        }
        ([], None) => {
            return Err((
                EXIT_CONFIG,
                format!("source `{source}` writes to no lake sink, and only a lake can be read back (hint: restore the state from an export with `sluice state import`)"),
            ))
        }
        (_, _) => {
            return Err((
                EXIT_CONFIG,
                format!("source `{source}` writes to several lakes (hint: pick the one to read with --sink NAME)"),
            ))
        }
    };
    let window = &source_config.window;
    crate::errln!(
        "reading the newest objects of `{source}` in {} ...",
        lake.display_location()
    );
    let tail = crate::sink::lake::newest_events(lake, source, window.overlap)
        .await
        .map_err(failed)?;
    let Some(tail) = tail else {
        crate::outln!(
            "lake `{}` holds no events of source `{source}`: nothing to recover; its next run starts from its lookback",
            lake.name
        );
        return Ok(());
    };
    let leases = lease_all(&*store, &[source.to_string()], config.state.lease_ttl()).await?;
    let result = write(&*store, &leases[0], &tail, window.dedup_capacity, force).await;
    release_all(&*store, &leases).await;
    let seq = result?;
    crate::outln!(
        "recovered source `{source}` from lake `{}`: high water {} (in {}), {} ids remembered, from {} of its {} objects; commit {seq}. Its next run lists from {} on",
        lake.name,
        rfc3339_millis(tail.high_water),
        tail.newest_key,
        tail.recent.len(),
        tail.read,
        tail.objects,
        rfc3339_millis(tail.high_water - chrono::Duration::from_std(window.overlap).unwrap_or_default()),
    );
    if source_config.order == SortOrder::NewestFirst {
        crate::errln!("warning: `{source}` lists newest first: if a window was in progress when the state was lost, the events below the oldest one it delivered are not fetched (hint: run `sluice backfill --source {source}` over that range; see docs/guarantees.md)");
    }
    Ok(())
}

/// Writes the recovered checkpoint; returns its commit number.
async fn write(
    store: &dyn StateStore,
    lease: &crate::state::Lease,
    tail: &crate::sink::lake::LakeTail,
    capacity: usize,
    force: bool,
) -> Result<u64, Failure> {
    let key = &lease.source;
    let state = store.load(key).await.map_err(failed)?;
    let exists = state.checkpoint.seq > 0 || state.intent.is_some();
    if exists && !force {
        return Err((
            EXIT_SOURCE_FAILED,
            format!(
                "`{key}` already has a checkpoint here (commit {}{}); nothing was changed (hint: `sluice state show --source {key}`; add --force to replace it with what the lake holds)",
                state.checkpoint.seq,
                if state.intent.is_some() { ", and a commit in flight" } else { "" }
            ),
        ));
    }
    let mut recent = DedupSet::default();
    for (id, time) in &tail.recent {
        recent.insert(id, *time);
    }
    // Every id is in the overlap already (sorted by time): only capacity can drop some.
    let cutoff = tail.recent.first().map_or(tail.high_water, |(_, t)| *t);
    let dropped = recent.prune(cutoff, capacity);
    if dropped > 0 {
        crate::errln!("warning: {dropped} ids in the overlap were not remembered (window.dedup_capacity = {capacity}); those events may be delivered again");
    }
    let stored = state.checkpoint.seq;
    // Never a commit number used before in this store (lake objects are named after it), and
    // past every one its names in the lake show, so names keep sorting by commit.
    let named = tail
        .last_commits
        .get(crate::state::short_store_id(store.store_id()))
        .map_or(0, |last| last + 1);
    let checkpoint = Checkpoint {
        seq: (stored + 1).max(named),
        anchor: Some(tail.high_water),
        high_water: Some(tail.high_water),
        recent,
        committed_at: Some(chrono::Utc::now()),
        ..Checkpoint::default()
    };
    store
        .replace_checkpoint(key, &checkpoint, stored, lease.token)
        .await
        .map_err(failed)?;
    Ok(checkpoint.seq)
}
