//! Publishing each ledger chain's head to a write-once location (`ledger.heads`), and
//! reading the newest one back for `sluice lake verify`.
//!
//! The state store keeps each chain's head too, but whoever controls both the lake and the
//! state store can rewrite a chain and its head together. A head published where nobody can
//! delete or replace it (an S3 bucket or prefix with Object Lock: `ledger.heads_object_lock`
//! sets the retention of each head, through the same signed copy lake objects use, see
//! `object_lock.rs`) pins the chain up to that record: verify reports a chain in which the
//! newest published head is not one of the records.
//!
//! A head is published after the commit whose record it names was published, at the first
//! commit of each run and then at most every `ledger.heads_every`; a failure to publish is
//! logged and tried again at the next commit (the lake's own commit never waits on it).
//! Heads are `_heads/lake=<sink>/source=<chain>/<commit>-<time>.json` (lexical order is
//! commit order).
//!
//! A local directory (`ledger.heads = "/path"`) is create-only, not write-once: anyone with
//! write access to it can delete a head. It is a place for a WORM mount or a directory other
//! users cannot write, nothing more; see docs/configuration.md.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::reader::Reader;
use super::{LakeLocation, PreparedObject};
use crate::sink::config::LakeConfig;
use crate::sink::lake::config::LakeConfigError;
use crate::sink::SinkError;

/// The directory (or prefix) of the heads location that holds heads.
pub const HEADS_DIR: &str = "_heads";

/// One published head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedHead {
    /// The lake sink whose chain this is.
    pub lake: String,
    /// The chain (`<source>` or `<source>@<window>`).
    pub scope: String,
    /// The commit number of the record it names.
    pub commit: u64,
    /// SHA-256 of that record's bytes.
    pub head: String,
    /// When it was published.
    pub published_at: DateTime<Utc>,
}

/// The lake config of `lake`'s heads location, `None` without `ledger.heads`: the lake's
/// settings (endpoint, credentials) with the heads' place and Object Lock.
pub fn heads_config(lake: &LakeConfig) -> Result<Option<LakeConfig>, LakeConfigError> {
    let Some(place) = &lake.ledger.heads else {
        return Ok(None);
    };
    const KEY: &str = "ledger.heads";
    let refuse = |message: String, hint: &str| LakeConfigError::new(&lake.name, KEY, message, hint);
    let mut heads = lake.clone();
    heads.name = format!("{} heads", lake.name);
    heads.ledger = Default::default();
    heads.object_lock = lake.ledger.heads_object_lock;
    if place.contains("://") {
        let label = format!("lake `{}`: {KEY}", lake.name);
        let url = crate::cloud::parse_config_url(&label, place)
            .map_err(|e| LakeConfigError::labelled(&lake.name, KEY, &e.to_string()))?;
        let location = super::parse_url(&url)
            .map_err(|e| LakeConfigError::worded(&lake.name, KEY, &format!("{KEY}: {e}")))?;
        match location {
            LakeLocation::Directory(dir) => {
                heads.path = dir;
                heads.url = None;
            }
            LakeLocation::Store { scheme, .. } => {
                if heads.object_lock.is_some() && scheme != super::StoreScheme::S3 {
                    return Err(refuse(
                        format!("{KEY}: heads_object_lock applies to s3:// locations only"),
                        "remove it",
                    ));
                }
                heads.url = Some(url);
            }
        }
    } else {
        heads.path = std::path::PathBuf::from(place);
        heads.url = None;
        if !heads.path.is_absolute() {
            return Err(refuse(
                format!("{KEY}: `{place}` is not an absolute path or a URL"),
                "write /var/lib/sluice/heads, file:///..., or s3://bucket/prefix",
            ));
        }
    }
    if heads.url.is_none() && heads.object_lock.is_some() {
        return Err(refuse(
            format!("{KEY}: heads_object_lock applies to s3:// locations only"),
            "remove it",
        ));
    }
    Ok(Some(heads))
}

/// The directory of `scope`'s heads of lake `lake`.
fn heads_dir(lake: &str, scope: &str) -> String {
    format!("{HEADS_DIR}/lake={lake}/source={scope}/")
}

/// When a sink last published its chain's head, and the head of the record it prepared.
#[derive(Debug, Default)]
pub(super) struct HeadPublisher {
    last: Option<Instant>,
    /// The commit and hash of the record the sink prepared last.
    prepared: Option<(u64, String)>,
}

impl HeadPublisher {
    /// The sink staged the record of `commit`, hashing to `hash`.
    pub fn prepared(&mut self, commit: u64, hash: String) {
        self.prepared = Some((commit, hash));
    }

    /// After a publish of `objects`: publishes the head if the publish held the record last
    /// prepared and one is due. Failures are logged, and tried again at the next commit.
    pub async fn after_publish(
        &mut self,
        lake: &LakeConfig,
        scope: &str,
        objects: &[PreparedObject],
    ) {
        let Some((commit, hash)) = self.prepared.clone() else {
            return;
        };
        let due = self
            .last
            .is_none_or(|last| last.elapsed() >= lake.ledger.heads_every);
        let ours = objects
            .iter()
            .any(|o| o.ledger && super::ledger::commit_of(&batch_of(&o.key)) == commit);
        if !due || !ours {
            return;
        }
        let head = PublishedHead {
            lake: lake.name.clone(),
            scope: scope.to_string(),
            commit,
            head: hash,
            published_at: Utc::now(),
        };
        match publish(lake, &head).await {
            Ok(true) => self.last = Some(Instant::now()),
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(sink = %lake.name, chain = %scope, error = %err, "could not publish the ledger head; trying again at the next commit")
            }
        }
    }
}

/// The batch name of a ledger record key.
fn batch_of(key: &str) -> String {
    key.rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".json")
        .to_string()
}

/// Publishes `head` to `lake`'s heads location; `false` without one.
pub async fn publish(lake: &LakeConfig, head: &PublishedHead) -> Result<bool, SinkError> {
    let fail = |detail: String| SinkError {
        sink: lake.name.clone(),
        detail,
    };
    let Some(heads) = heads_config(lake).map_err(|e| fail(e.to_string()))? else {
        return Ok(false);
    };
    // Plain strings and numbers: serializing cannot fail.
    let mut bytes = serde_json::to_vec(head).unwrap_or_default();
    bytes.push(b'\n');
    let key = format!(
        "{}{:010}-{}.json",
        heads_dir(&head.lake, &head.scope),
        head.commit,
        head.published_at.format("%Y%m%dT%H%M%S%.3fZ")
    );
    match heads.location() {
        LakeLocation::Directory(_) => {
            Reader::open(&heads)?
                .put_new(&key, &bytes)
                .await
                .map_err(|e| fail(e.to_string()))?;
        }
        LakeLocation::Store { .. } => {
            // Staged, then copied create-only: with heads_object_lock the copy carries the
            // retention (see object_lock.rs).
            let store = super::store::Store::build(&heads)?;
            let staged = format!(
                "{}{:016x}.json.partial",
                super::store::Store::staging_rel("heads"),
                rand::random::<u64>()
            );
            store.seal(&staged, None, bytes.clone()).await?;
            let object = PreparedObject {
                staged,
                key,
                bytes: bytes.len() as u64,
                parts: 0,
                ledger: false,
            };
            store.publish(&[object], "heads").await?;
        }
    }
    Ok(true)
}

/// The newest head of each chain of `source` (sanitized) published for lake `lake`, by
/// chain; empty without a heads location.
pub async fn latest(
    lake: &LakeConfig,
    safe: &str,
) -> Result<std::collections::BTreeMap<String, (String, PublishedHead)>, SinkError> {
    let fail = |detail: String| SinkError {
        sink: lake.name.clone(),
        detail,
    };
    let mut found = std::collections::BTreeMap::new();
    let Some(heads) = heads_config(lake).map_err(|e| fail(e.to_string()))? else {
        return Ok(found);
    };
    let reader = Reader::open(&heads)?;
    let mut newest: std::collections::BTreeMap<String, String> = Default::default();
    for key in reader
        .list(&format!("{HEADS_DIR}/lake={}/", lake.name))
        .await
        .map_err(|e| fail(e.to_string()))?
    {
        let Some(scope) = key.split('/').nth(2).and_then(super::ledger::scope_of_dir) else {
            continue;
        };
        if super::ledger::source_of_scope(scope) != safe || !key.ends_with(".json") {
            continue;
        }
        let entry = newest.entry(scope.to_string()).or_default();
        if key > *entry {
            *entry = key;
        }
    }
    for (scope, key) in newest {
        let bytes = reader.read(&key).await.map_err(|e| fail(e.to_string()))?;
        let head: PublishedHead = serde_json::from_slice(&bytes)
            .map_err(|e| fail(format!("published head {key} is unreadable: {e}")))?;
        found.insert(scope, (key, head));
    }
    Ok(found)
}
