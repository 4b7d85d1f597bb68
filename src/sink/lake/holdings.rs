//! What a lake already holds of a source: whether it has published objects (checked before a
//! source whose state is empty starts, so a lost state store cannot make a run deliver
//! everything again), and its newest events (what `sluice state recover --from-lake` rebuilds
//! a checkpoint from).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use super::{sanitize, store, KeyTemplate, LakeContents, STAGING_DIR};
use crate::config::LakeConfig;
use crate::sink::SinkError;

/// A lake to look into: a local directory or an object store's prefix.
pub(super) enum Lake<'a> {
    Directory(&'a Path),
    Store(&'a store::Store),
}

/// The key of one published object of `source` (sanitized) in `lake`, if it holds any. Only
/// templates with a segment of the source's own can tell a source's objects apart by key;
/// with any other template this answers `None`.
pub(super) async fn first_published(
    lake: &Lake<'_>,
    template: &KeyTemplate,
    source: &str,
    sink: &str,
) -> Result<Option<String>, SinkError> {
    if !template.source_is_static() {
        return Ok(None);
    }
    let prefix = template.static_prefix(source);
    match lake {
        Lake::Directory(root) => Ok(local_keys(root, &prefix, sink)?
            .into_iter()
            .find(|key| template.holds(source, key))),
        Lake::Store(store) => {
            // The first match ends the listing: a large lake is not listed to the end.
            let mut listing = store.list_stream(&prefix)?;
            while let Some(meta) = listing.next().await {
                let meta = meta.map_err(|e| store.list_error(&prefix, e))?;
                let key = store.relative(&meta.location);
                if template.holds(source, key) {
                    return Ok(Some(key.to_string()));
                }
            }
            Ok(None)
        }
    }
}

/// The newest events of a source in a lake, as `sluice state recover --from-lake` needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct LakeTail {
    /// The latest event time found.
    pub high_water: DateTime<Utc>,
    /// The events at or after `high_water - overlap`: id and time.
    pub recent: Vec<(String, DateTime<Utc>)>,
    /// The key of an object holding an event at `high_water`.
    pub newest_key: String,
    /// Objects of the source in the lake.
    pub objects: usize,
    /// Objects read to find the above.
    pub read: usize,
    /// The largest commit number in the names of the source's objects, per store id (short
    /// form, see [`crate::state::short_store_id`]); names from before store ids are left out.
    pub last_commits: BTreeMap<String, u64>,
}

/// The commit number and store id of an object named `<commit>-<store>-<digest><ext>`.
fn commit_of(key: &str) -> Option<(u64, &str)> {
    let name = key.rsplit('/').next()?;
    let mut parts = name.splitn(3, '-');
    let (commit, store) = (parts.next()?, parts.next()?);
    parts.next()?;
    let hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
    (commit.len() == 10 && commit.chars().all(|c| c.is_ascii_digit()) && hex(store))
        .then(|| commit.parse().ok().map(|n| (n, store)))
        .flatten()
}

/// Finds the latest event time of `source` in the lake `config` describes, and the events at
/// or after that time minus `overlap` (the range the source's next window lists again).
/// `None` when the lake holds no object of the source.
///
/// With a template whose time parts can be read back from keys (the default
/// `dt=%Y-%m-%d/hr=%H/`, or any of numeric date and time parts), only the newest partitions
/// are read: the latest event is in the partition whose time range starts last, and the
/// overlap reaches back only as far as it does. Otherwise every object of the source is read.
pub async fn newest_events(
    config: &LakeConfig,
    source: &str,
    overlap: Duration,
) -> Result<Option<LakeTail>, SinkError> {
    let name = sanitize(source);
    let template = &config.key_template;
    let built;
    let lake = match config.location() {
        super::LakeLocation::Directory(root) => {
            built = Built::Directory(root);
            built.lake()
        }
        super::LakeLocation::Store { .. } => {
            built = Built::Store(store::Store::build(config)?);
            built.lake()
        }
    };
    let prefix = template.static_prefix(&name);
    let keys: Vec<String> = match &lake {
        Lake::Directory(root) => local_keys(root, &prefix, &config.name)?,
        Lake::Store(store) => store
            .list(&prefix)
            .await?
            .iter()
            .map(|meta| store.relative(&meta.location).to_string())
            .filter(|key| !key.starts_with(&format!("{STAGING_DIR}/")))
            .collect(),
    };
    let keys: Vec<String> = keys
        .into_iter()
        .filter(|key| !template.source_is_static() || template.holds(&name, key))
        .collect();
    if keys.is_empty() {
        return Ok(None);
    }
    let mut last_commits: BTreeMap<String, u64> = BTreeMap::new();
    for (commit, store) in keys.iter().filter_map(|k| commit_of(k)) {
        let last = last_commits.entry(store.to_string()).or_default();
        *last = (*last).max(commit);
    }
    let overlap = chrono::Duration::from_std(overlap).unwrap_or(chrono::Duration::MAX);
    // Partitions, newest first; every key in one group when keys do not tell times.
    let starts: Option<Vec<DateTime<Utc>>> =
        keys.iter().map(|k| template.partition_start(k)).collect();
    let granularity = template.granularity().map(chrono::Duration::seconds);
    let mut groups: BTreeMap<Option<DateTime<Utc>>, Vec<String>> = BTreeMap::new();
    match (&starts, granularity) {
        (Some(starts), Some(_)) => {
            for (key, start) in keys.iter().zip(starts) {
                groups.entry(Some(*start)).or_default().push(key.clone());
            }
        }
        _ => {
            tracing::info!(source = %source, objects = keys.len(), "the key template does not tell event times apart: reading every object of the source");
            groups.insert(None, keys.clone());
        }
    }
    let mut tail: Option<LakeTail> = None;
    let mut events: Vec<(String, DateTime<Utc>)> = Vec::new();
    let mut read = 0;
    for (start, mut group) in groups.into_iter().rev() {
        if let (Some(start), Some(granularity), Some(tail)) = (start, granularity, &tail) {
            // Partitions that end before the overlap begins hold nothing the next window
            // lists again, and every older one ends earlier still.
            if start + granularity <= tail.high_water - overlap {
                break;
            }
        }
        group.sort();
        for key in group {
            let bytes = read_object(&lake, &key, &config.name).await?;
            let mut contents = LakeContents::default();
            contents
                .add_object(&key, &bytes, source)
                .map_err(|e| SinkError {
                    sink: config.name.clone(),
                    detail: format!(
                        "object {key} in {} is not readable: {e} (hint: was it written by sluice?)",
                        config.display_location()
                    ),
                })?;
            read += 1;
            for (id, time) in contents.event_ids.into_iter().zip(contents.event_times) {
                let Some(time) = time
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                else {
                    continue;
                };
                if tail.as_ref().is_none_or(|t| time > t.high_water) {
                    tail = Some(LakeTail {
                        high_water: time,
                        recent: Vec::new(),
                        newest_key: key.clone(),
                        objects: keys.len(),
                        read: 0,
                        last_commits: BTreeMap::new(),
                    });
                }
                events.push((id, time));
            }
            if let Some(tail) = &tail {
                let cutoff = tail.high_water - overlap;
                events.retain(|(_, time)| *time >= cutoff);
            }
        }
    }
    Ok(tail.map(|mut tail| {
        let cutoff = tail.high_water - overlap;
        events.retain(|(_, time)| *time >= cutoff);
        events.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        events.dedup();
        tail.recent = events;
        tail.read = read;
        tail.last_commits = last_commits;
        tail
    }))
}

/// Owns what a [`Lake`] borrows.
enum Built {
    Directory(std::path::PathBuf),
    Store(store::Store),
}

impl Built {
    fn lake(&self) -> Lake<'_> {
        match self {
            Built::Directory(root) => Lake::Directory(root),
            Built::Store(store) => Lake::Store(store),
        }
    }
}

/// Keys (relative to `root`) of the lake objects under `prefix`, staging left out.
fn local_keys(root: &Path, prefix: &str, sink: &str) -> Result<Vec<String>, SinkError> {
    let mut files = Vec::new();
    super::local::collect_objects(&root.join(prefix), &mut files).map_err(|e| SinkError {
        sink: sink.to_string(),
        detail: format!(
            "cannot list {}: {e} (hint: check that sluice may read the lake)",
            root.join(prefix).display()
        ),
    })?;
    Ok(files
        .iter()
        .map(|path| {
            path.strip_prefix(root)
                .unwrap_or(path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect())
}

async fn read_object(lake: &Lake<'_>, key: &str, sink: &str) -> Result<Vec<u8>, SinkError> {
    match lake {
        Lake::Directory(root) => {
            let path = root.join(key);
            std::fs::read(&path).map_err(|e| SinkError {
                sink: sink.to_string(),
                detail: format!(
                    "cannot read {}: {e} (hint: check that sluice may read the lake)",
                    path.display()
                ),
            })
        }
        Lake::Store(store) => Ok(store.get_rel(key).await?.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_numbers_and_store_ids_are_read_from_names() {
        assert_eq!(
            commit_of("source=okta/dt=2023-11-14/hr=22/0000000042-ab12cd34-9f00aa11.ndjson.gz"),
            Some((42, "ab12cd34"))
        );
        // Names from before store ids, and other names, are not.
        assert_eq!(commit_of("a/0000000042-9f00aa11.ndjson.gz"), None);
        assert_eq!(commit_of("a/replay-x-y.ndjson.gz"), None);
    }
}
