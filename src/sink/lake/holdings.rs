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
use crate::sink::config::LakeConfig;
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
    let built = match config.location() {
        super::LakeLocation::Directory(root) => Built::Directory(root),
        super::LakeLocation::Store { .. } => Built::Store(store::Store::build(config)?),
    };
    newest_events_in(&built.lake(), config, source, overlap).await
}

/// [`newest_events`] in `lake`, laid out as `config` says.
pub(super) async fn newest_events_in(
    lake: &Lake<'_>,
    config: &LakeConfig,
    source: &str,
    overlap: Duration,
) -> Result<Option<LakeTail>, SinkError> {
    let name = sanitize(source);
    let template = &config.key_template;
    let prefix = template.static_prefix(&name);
    let keys: Vec<String> = match lake {
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
            let bytes = read_object(lake, &key, &config.name).await?;
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
    use super::super::{LakeSink, Sink};
    use super::*;
    use crate::source::Record;
    use crate::transform::Envelope;
    use std::sync::Arc;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn event(id: &str, time: &str) -> Envelope {
        let record = Record {
            time: at(time),
            id: id.into(),
            data: serde_json::json!({"id": id, "kind": "k"}).into(),
        };
        Envelope::wrap(record, &Arc::from("okta"), Utc::now())
    }

    fn events() -> Vec<Envelope> {
        vec![
            event("old", "2023-11-14T20:10:00Z"),
            event("x", "2023-11-14T21:59:59Z"),
            event("w", "2023-11-14T22:00:00.100Z"),
            event("z", "2023-11-14T22:00:00.500Z"),
            event("y", "2023-11-14T22:00:00.500Z"),
        ]
    }

    async fn publish(sink: &mut LakeSink, batch: &str, events: &[Envelope]) {
        sink.write(events).await.unwrap();
        let payload = sink.prepare(batch).await.unwrap().unwrap();
        sink.publish(&payload).await.unwrap();
    }

    #[tokio::test]
    async fn only_the_partitions_the_overlap_reaches_are_read() {
        let memory = Arc::new(object_store::memory::InMemory::new());
        let mut cfg = LakeConfig::local("lake", "/unused");
        cfg.part_size = bytesize::ByteSize::mib(5);
        let mut sink = LakeSink::with_object_store(&cfg, "okta", memory.clone(), "raw");
        publish(&mut sink, "0000000003-ab12cd34-0badf00d", &events()).await;
        publish(
            &mut sink,
            "0000000001-ffffffff-0badf00d",
            &[event("older", "2023-11-14T19:00:00Z")],
        )
        .await;
        let store = store::Store::new(&cfg, memory, "raw");
        let tail = newest_events_in(&Lake::Store(&store), &cfg, "okta", Duration::from_secs(2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(tail.high_water, at("2023-11-14T22:00:00.500Z"));
        let ids: Vec<&str> = tail.recent.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["x", "w", "y", "z"],
            "the overlap, by time then id"
        );
        assert_eq!((tail.objects, tail.read), (4, 2), "hours 22 and 21 only");
        assert!(tail.newest_key.contains("hr=22/"), "{}", tail.newest_key);
        assert_eq!(tail.last_commits.get("ab12cd34"), Some(&3));
        assert_eq!(tail.last_commits.get("ffffffff"), Some(&1));
        // No overlap: the newest partition alone, and only the ids at the latest time.
        let tail = newest_events_in(&Lake::Store(&store), &cfg, "okta", Duration::ZERO)
            .await
            .unwrap()
            .unwrap();
        let ids: Vec<&str> = tail.recent.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, vec!["y", "z"]);
        assert_eq!(tail.read, 1);
        // Another source: nothing.
        let none = newest_events_in(&Lake::Store(&store), &cfg, "github", Duration::ZERO)
            .await
            .unwrap();
        assert!(none.is_none());
    }

    #[tokio::test]
    async fn a_template_without_time_parts_is_read_whole_and_found_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = LakeConfig::local("lake", dir.path());
        cfg.key_template = KeyTemplate::parse("source={source}/t={data.kind}/").unwrap();
        let mut sink = LakeSink::new(&cfg, "okta").unwrap();
        assert_eq!(sink.published_before().await.unwrap(), None);
        publish(&mut sink, "0000000001-ab12cd34-0badf00d", &events()[..2]).await;
        publish(&mut sink, "0000000002-ab12cd34-0badf00d", &events()[2..]).await;
        let found = sink.published_before().await.unwrap().unwrap();
        assert!(
            found.contains("lake `lake`") && found.contains("(e.g. source=okta/t=k/000000000"),
            "{found}"
        );
        let tail = newest_events_in(
            &Lake::Directory(dir.path()),
            &cfg,
            "okta",
            Duration::from_secs(1),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!((tail.objects, tail.read), (2, 2));
        assert_eq!(tail.high_water, at("2023-11-14T22:00:00.500Z"));
        assert_eq!(tail.recent.len(), 3);
        let mut other = LakeSink::new(&cfg, "github").unwrap();
        assert_eq!(other.published_before().await.unwrap(), None);
    }

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
