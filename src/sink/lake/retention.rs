//! Retention: finding a source's lake objects older than its `retain`, and deleting them so
//! that the ledger still accounts for every object.
//!
//! An object is expired when its newest event is older than the cutoff (`now - retain`): its
//! whole partition then is too, since objects are partitioned by event time. Only objects a
//! ledger record lists are considered (objects from before the ledger, or put there by
//! something else, are verify's "unlisted" and never touched).
//!
//! Each deletion is recorded first: a ledger record in the source's retention chain,
//! `_manifest/source=<source>@retention/<commit>-<store>-retention.json`, whose `deleted`
//! lists the objects with their original entries, chained like any other record (its head
//! goes into the state store under key `<source>@retention`). `sluice lake verify` then
//! counts those objects as deleted, not missing. The runtime (`runtime/retention.rs`) orders
//! the steps with a commit intent, so a crash anywhere is finished by the next run.
//!
//! Objects under S3 Object Lock retention (the lake's `object_lock`: published
//! `retain_for` ago or less) are skipped and reported: deleting one would only hide it
//! behind a delete marker while the locked version stays.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::ledger::{self, LedgerEntry, LedgerRecord, LEDGER_VERSION};
use super::reader::Reader;
use super::sanitize;
use crate::sink::config::LakeConfig;
use crate::sink::SinkError;

/// The window part of the retention chain's scope and state key (`<source>@retention`).
pub const RETENTION_WINDOW: &str = "retention";

/// The state key that keeps `source`'s retention chain head (one per source, every lake
/// sink's head in its `ledger` map).
pub fn retention_key(source: &str) -> String {
    format!(
        "{source}{}{RETENTION_WINDOW}",
        crate::state::WINDOW_KEY_SEPARATOR
    )
}

/// An expired object under Object Lock retention, skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// The object's ledger entry.
    pub entry: LedgerEntry,
    /// Until when the lock holds it.
    pub until: DateTime<Utc>,
}

/// What retention would do (or did) to one source in one lake.
#[derive(Debug, Clone, Default)]
pub struct RetentionPlan {
    /// The source.
    pub source: String,
    /// The lake sink.
    pub sink: String,
    /// Objects whose newest event is before this are expired.
    pub cutoff: DateTime<Utc>,
    /// Expired objects to delete, in key order.
    pub expired: Vec<LedgerEntry>,
    /// Expired objects under Object Lock retention: skipped.
    pub locked: Vec<Locked>,
    /// Expired objects already gone without a retention record (verify reports them
    /// missing): not recorded as deleted.
    pub absent: Vec<String>,
    /// Objects a retention record already lists that are still there (a run that stopped
    /// between record and delete): deleted without a new record.
    pub leftover: Vec<String>,
    /// The hash of the retention chain's newest record in the lake, `None` for none.
    pub head: Option<String>,
}

impl RetentionPlan {
    /// The partitions (key directories) the expired objects are in, with how many objects
    /// and bytes each, in key order.
    pub fn partitions(&self) -> Vec<(String, u64, u64)> {
        let mut out: Vec<(String, u64, u64)> = Vec::new();
        for entry in &self.expired {
            let dir = entry
                .key
                .rsplit_once('/')
                .map_or("", |(d, _)| d)
                .to_string();
            match out.last_mut() {
                Some(last) if last.0 == dir => {
                    last.1 += 1;
                    last.2 += entry.bytes;
                }
                _ => out.push((dir, 1, entry.bytes)),
            }
        }
        out
    }

    /// The record that deletes [`RetentionPlan::expired`], as commit `commit` of the chain,
    /// in batch `batch`.
    pub fn record(&self, commit: u64, batch: &str) -> LedgerRecord {
        let safe = sanitize(&self.source);
        LedgerRecord {
            version: LEDGER_VERSION,
            source: safe.clone(),
            scope: retention_scope(&safe),
            batch: batch.to_string(),
            commit,
            prev: self.head.clone(),
            objects: Vec::new(),
            deleted: self.expired.clone(),
            signature: None,
        }
    }
}

/// The retention chain's scope for sanitized source `safe`.
pub fn retention_scope(safe: &str) -> String {
    format!(
        "{safe}{}{RETENTION_WINDOW}",
        crate::state::WINDOW_KEY_SEPARATOR
    )
}

/// Reads `source`'s ledger in the lake `config` describes and finds what is older than
/// `cutoff`, as of `now` (for Object Lock).
pub async fn plan(
    config: &LakeConfig,
    source: &str,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<RetentionPlan, SinkError> {
    let fail = |detail: String| SinkError {
        sink: config.name.clone(),
        detail,
    };
    let lake = Reader::open(config)?;
    let safe = sanitize(source);
    let retention = retention_scope(&safe);
    let mut plan = RetentionPlan {
        source: source.to_string(),
        sink: config.name.clone(),
        cutoff,
        ..RetentionPlan::default()
    };
    let mut candidates: Vec<LedgerEntry> = Vec::new();
    let mut deleted: HashSet<String> = HashSet::new();
    for (chain, keys) in lake.chains(&safe).await.map_err(|e| fail(e.to_string()))? {
        for key in keys {
            let bytes = lake.read(&key).await.map_err(|e| fail(e.to_string()))?;
            let record: LedgerRecord = serde_json::from_slice(&bytes).map_err(|e| {
                fail(format!(
                    "ledger record {key} is unreadable ({e}); retention deletes nothing while the ledger is damaged (hint: run `sluice lake verify --source {source}`)"
                ))
            })?;
            if chain == retention {
                deleted.extend(record.deleted.into_iter().map(|e| e.key));
                plan.head = Some(ledger::digest(&bytes));
            } else {
                candidates.extend(
                    record
                        .objects
                        .into_iter()
                        .filter(|e| e.last_event_time.is_some_and(|last| last < cutoff)),
                );
            }
        }
    }
    candidates.sort_by(|a, b| a.key.cmp(&b.key));
    candidates.dedup_by(|a, b| a.key == b.key);
    for entry in candidates {
        let written = lake
            .modified(&entry.key)
            .await
            .map_err(|e| fail(e.to_string()))?;
        match written {
            Some(_) if deleted.contains(&entry.key) => plan.leftover.push(entry.key),
            None if deleted.contains(&entry.key) => {}
            None => plan.absent.push(entry.key),
            Some(written) => match locked_until(config, written) {
                Some(until) if until > now => plan.locked.push(Locked { entry, until }),
                _ => plan.expired.push(entry),
            },
        }
    }
    Ok(plan)
}

/// When Object Lock releases an object written at `written`: the lock is set at publish
/// time for `retain_for` (see `object_lock.rs`). `None` for a lake without `object_lock`.
fn locked_until(config: &LakeConfig, written: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let lock = config.object_lock?;
    let retain = chrono::Duration::from_std(lock.retain_for).unwrap_or(chrono::Duration::MAX);
    Some(
        written
            .checked_add_signed(retain)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

/// Writes a retention record at `key`, create-only; a record already there with the same
/// bytes (an earlier attempt) is fine, with other bytes an error.
pub async fn write_record(config: &LakeConfig, key: &str, bytes: &[u8]) -> Result<(), SinkError> {
    let fail = |detail: String| SinkError {
        sink: config.name.clone(),
        detail,
    };
    let lake = Reader::open(config)?;
    if lake
        .put_new(key, bytes)
        .await
        .map_err(|e| fail(e.to_string()))?
    {
        return Ok(());
    }
    let there = lake.read(key).await.map_err(|e| fail(e.to_string()))?;
    if there == bytes {
        Ok(())
    } else {
        Err(fail(format!(
            "ledger record {key} already exists in {} with other content; retention never replaces a record (hint: run `sluice lake verify` to see what happened to the retention chain)",
            config.display_location()
        )))
    }
}

/// Deletes `keys` from the lake (objects already gone are fine).
pub async fn delete(config: &LakeConfig, keys: &[String]) -> Result<(), SinkError> {
    let lake = Reader::open(config)?;
    for key in keys {
        lake.delete(key).await.map_err(|e| SinkError {
            sink: config.name.clone(),
            detail: e.to_string(),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, bytes: u64) -> LedgerEntry {
        LedgerEntry {
            key: key.into(),
            sha256: ledger::digest(key.as_bytes()),
            bytes,
            events: 1,
            first_event_time: None,
            last_event_time: None,
        }
    }

    #[test]
    fn partitions_group_expired_objects_by_directory() {
        let plan = RetentionPlan {
            expired: vec![
                entry("source=okta/dt=2023-01-01/hr=00/a.ndjson.gz", 10),
                entry("source=okta/dt=2023-01-01/hr=00/b.ndjson.gz", 5),
                entry("source=okta/dt=2023-01-01/hr=01/c.ndjson.gz", 7),
            ],
            ..RetentionPlan::default()
        };
        assert_eq!(
            plan.partitions(),
            vec![
                ("source=okta/dt=2023-01-01/hr=00".to_string(), 2, 15),
                ("source=okta/dt=2023-01-01/hr=01".to_string(), 1, 7),
            ]
        );
    }

    #[test]
    fn object_lock_holds_an_object_for_retain_for_after_it_was_written() {
        let mut config = LakeConfig::local("lake", "/tmp/none");
        let written: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(locked_until(&config, written), None);
        config.object_lock = Some(super::super::ObjectLock {
            mode: super::super::LockMode::Compliance,
            retain_for: std::time::Duration::from_secs(86_400),
        });
        assert_eq!(
            locked_until(&config, written),
            "2024-01-02T00:00:00Z".parse().ok()
        );
    }

    #[test]
    fn the_retention_chain_is_a_scope_of_its_source() {
        assert_eq!(retention_key("okta"), "okta@retention");
        assert_eq!(ledger::source_of_scope(&retention_scope("okta")), "okta");
    }
}
