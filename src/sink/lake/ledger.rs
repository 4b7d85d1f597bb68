//! The manifest ledger: a record of every committed lake object, hash-chained per state key.
//!
//! Each commit of a lake sink that publishes objects publishes one record with them,
//! `_manifest/source=<scope>/<batch>.json`: every object of the batch with its key, SHA-256,
//! size, event count and first and last event time, the commit number the batch starts from,
//! and the SHA-256 of the scope's previous record (`prev`), so a scope's records form a
//! chain. `<scope>` is the staging scope: the source, or `<source>@<window>` for a backfill
//! window; each is a chain of its own, because windows commit in parallel under leases of
//! their own. Batch names start with the commit number in 10 digits, so a lexical listing of
//! a scope's directory is its chain in order.
//!
//! **Crashes.** The record is staged beside the objects, made durable by `prepare`, named in
//! the commit intent with them, and published *first*: an object is never visible without its
//! record, and a crash before the intent discards both. The next run reads the chain's head
//! back from the lake (the intent it finishes first publishes any record still pending), so
//! the chain never forks. The head's hash also goes into the key's checkpoint in the state
//! store (`Checkpoint::ledger`), so `sluice lake verify` notices records removed from the end.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Backend, LakeSink, PreparedObject};
use crate::sink::SinkError;

/// The directory (or key prefix) under the lake root that holds the ledger.
pub const MANIFEST_DIR: &str = "_manifest";

/// The record format written today.
pub const LEDGER_VERSION: u32 = 1;

/// One commit's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerRecord {
    /// [`LEDGER_VERSION`] when written.
    pub version: u32,
    /// The source (sanitized, as in keys).
    pub source: String,
    /// The chain: the source, or `<source>@<window>`.
    pub scope: String,
    /// The batch name, which names the commit's objects.
    pub batch: String,
    /// The commit number the batch starts from; its objects are delivered by commit
    /// `commit + 1` (the position range the record covers).
    pub commit: u64,
    /// SHA-256 (hex) of the scope's previous record's bytes; `None` for the first.
    pub prev: Option<String>,
    /// The batch's objects.
    pub objects: Vec<LedgerEntry>,
    /// Retention records only (chain `<source>@retention`, see `retention.rs`): objects
    /// deleted on purpose, as their own records listed them. Verify counts them as deleted,
    /// not missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<LedgerEntry>,
    /// Ed25519 signature (base64) over the record without this field, when the lake has
    /// `ledger.signing_key` (see `signing.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// One object of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerEntry {
    /// Key relative to the lake root.
    pub key: String,
    /// SHA-256 (hex) of the object's bytes.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Events (lines or rows) it holds.
    pub events: u64,
    /// Its earliest event time.
    pub first_event_time: Option<DateTime<Utc>>,
    /// Its latest event time.
    pub last_event_time: Option<DateTime<Utc>>,
}

impl LedgerRecord {
    /// The record's bytes as stored: compact JSON and a newline. Its hash is over these.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain strings and numbers cannot fail.
        let mut bytes = serde_json::to_vec(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Whether any object of the record has events in `[from, to)` (unbounded sides match).
    pub fn overlaps(&self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> bool {
        self.objects.iter().any(|o| o.overlaps(from, to))
    }
}

impl LedgerEntry {
    /// Whether its events may fall in `[from, to)`; an object without event times matches.
    pub fn overlaps(&self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> bool {
        let after_from = match (from, self.last_event_time) {
            (Some(from), Some(last)) => last >= from,
            _ => true,
        };
        let before_to = match (to, self.first_event_time) {
            (Some(to), Some(first)) => first < to,
            _ => true,
        };
        after_from && before_to
    }
}

/// SHA-256 of `bytes`, in lowercase hex.
pub fn digest(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The directory of a scope's chain, relative to the lake root, ending in `/`.
pub fn scope_dir(scope: &str) -> String {
    format!("{MANIFEST_DIR}/source={scope}/")
}

/// The key of the record of `batch` in `scope`'s chain.
pub fn record_key(scope: &str, batch: &str) -> String {
    format!("{}{batch}.json", scope_dir(scope))
}

/// The commit number a batch name starts with (see `runtime::pipeline::batch_name`); 0 for
/// a name without one (only tests name batches so).
pub fn commit_of(batch: &str) -> u64 {
    batch
        .split('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The scope a chain directory name `source=<scope>` stands for.
pub fn scope_of_dir(name: &str) -> Option<&str> {
    name.strip_prefix("source=")
}

/// The source a scope belongs to.
pub fn source_of_scope(scope: &str) -> &str {
    scope
        .split(crate::state::WINDOW_KEY_SEPARATOR)
        .next()
        .unwrap_or(scope)
}

/// What an open object has seen, for its ledger entry.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    pub events: u64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

impl Tally {
    /// Counts one event at `time`.
    pub fn add(&mut self, time: DateTime<Utc>) {
        self.events += 1;
        self.first = Some(self.first.map_or(time, |t| t.min(time)));
        self.last = Some(self.last.map_or(time, |t| t.max(time)));
    }
}

impl LakeSink {
    /// Stages the commit's ledger record (chained to the scope's head, read back from the
    /// lake the first time) and makes it the head. Durable once `prepare` returns.
    pub(super) async fn stage_record(
        &mut self,
        batch: &str,
        objects: Vec<LedgerEntry>,
    ) -> Result<PreparedObject, SinkError> {
        let prev = match self.head.clone() {
            Some(head) => head,
            None => read_head(&self.backend, &self.scope, batch).await?,
        };
        let record = LedgerRecord {
            version: LEDGER_VERSION,
            source: self.source.clone(),
            scope: self.scope.clone(),
            batch: batch.to_string(),
            commit: commit_of(batch),
            prev,
            objects,
            deleted: Vec::new(),
            signature: None,
        };
        let mut record = record;
        super::signing::sign_for(&self.config, &mut record)?;
        let bytes = record.encode();
        let staged = match &self.backend {
            Backend::Local(local) => {
                local.stage_bytes(&format!("manifest-{batch}.json"), &bytes)?
            }
            Backend::Store(store) => {
                let staged = format!(
                    "{}{}-manifest-{batch}.json.partial",
                    super::store::Store::staging_rel(&self.scope),
                    self.run_tag
                );
                store.seal(&staged, None, bytes.clone()).await?;
                staged
            }
        };
        self.head = Some(Some(digest(&bytes)));
        self.heads.prepared(record.commit, digest(&bytes));
        Ok(PreparedObject {
            staged,
            key: record_key(&self.scope, batch),
            bytes: bytes.len() as u64,
            parts: 0,
            ledger: true,
        })
    }
}

/// The hash of the record `batch` chains to: the newest record of this scope's chain in
/// the lake whose name sorts before the batch's (records sort by commit), `None` when there
/// is none. A batch prepared again from the same checkpoint (its record already published by
/// an earlier attempt) so gets the same record. (A free function: a `&LakeSink` held across
/// an await would make `prepare`'s future not `Send`.)
async fn read_head(
    backend: &Backend,
    scope: &str,
    batch: &str,
) -> Result<Option<String>, SinkError> {
    let dir = scope_dir(scope);
    let mine = format!("{batch}.json");
    let newest = match backend {
        Backend::Local(local) => local.newest_file(&dir, ".json", &mine)?,
        Backend::Store(store) => {
            let listed = store.list(&dir).await?;
            let name = |m: &object_store::ObjectMeta| {
                m.location.filename().unwrap_or_default().to_string()
            };
            match listed
                .into_iter()
                .filter(|m| {
                    let name = name(m);
                    name.ends_with(".json") && name < mine
                })
                .max_by_key(|m| name(m))
            {
                Some(meta) => Some(store.get(&meta.location).await?.to_vec()),
                None => None,
            }
        }
    };
    Ok(newest.map(|bytes| digest(&bytes)))
}

/// A publish that failed on the record (it goes first, so a batch name already taken fails
/// there) names the batch's objects too: what the operator looks for.
pub(super) fn name_batch_objects(mut err: SinkError, objects: &[PreparedObject]) -> SinkError {
    if let Some(record) = objects
        .iter()
        .find(|o| o.ledger && err.detail.contains(&o.key))
    {
        let keys: Vec<&str> = objects
            .iter()
            .filter(|o| !o.ledger)
            .map(|o| o.key.as_str())
            .collect();
        err.detail = err.detail.replacen(
            &record.key,
            &format!("{} (the ledger record of {})", record.key, keys.join(", ")),
            1,
        );
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(prev: Option<String>) -> LedgerRecord {
        LedgerRecord {
            version: LEDGER_VERSION,
            source: "okta".into(),
            scope: "okta".into(),
            batch: "0000000041-9c1e07d2-4901e57b".into(),
            commit: 41,
            prev,
            objects: vec![LedgerEntry {
                key: "source=okta/dt=2023-11-14/hr=22/0000000041-9c1e07d2-4901e57b.ndjson.gz"
                    .into(),
                sha256: digest(b"x"),
                bytes: 1,
                events: 2,
                first_event_time: "2023-11-14T22:00:00Z".parse().ok(),
                last_event_time: "2023-11-14T22:30:00Z".parse().ok(),
            }],
            deleted: Vec::new(),
            signature: None,
        }
    }

    #[test]
    fn a_record_round_trips_and_its_hash_covers_every_field() {
        let first = record(None);
        let bytes = first.encode();
        assert!(bytes.ends_with(b"\n"));
        let back: LedgerRecord = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, first);
        let chained = record(Some(digest(&bytes)));
        assert_ne!(digest(&chained.encode()), digest(&bytes));
        let mut edited = first.clone();
        edited.objects[0].events = 3;
        assert_ne!(digest(&edited.encode()), digest(&bytes));
    }

    #[test]
    fn names_sort_by_commit_and_say_their_scope() {
        assert_eq!(commit_of("0000000041-9c1e07d2-4901e57b"), 41);
        assert!(record_key("okta", "0000000009-a-b") < record_key("okta", "0000000010-a-b"));
        assert_eq!(
            record_key("okta@20231114T220000.000Z", "0000000001-a-b"),
            "_manifest/source=okta@20231114T220000.000Z/0000000001-a-b.json"
        );
        assert_eq!(source_of_scope("okta@20231114T220000.000Z"), "okta");
        assert_eq!(scope_of_dir("source=okta"), Some("okta"));
    }

    #[test]
    fn a_time_range_matches_the_objects_it_touches() {
        let r = record(None);
        let t = |s: &str| s.parse::<DateTime<Utc>>().ok();
        assert!(r.overlaps(None, None));
        assert!(r.overlaps(t("2023-11-14T22:30:00Z"), None));
        assert!(!r.overlaps(t("2023-11-14T22:30:00.001Z"), None));
        assert!(!r.overlaps(None, t("2023-11-14T22:00:00Z")));
        assert!(r.overlaps(None, t("2023-11-14T22:00:00.001Z")));
    }
}
