//! Retention of one source's lake objects (`retain = "400d"`), for `sluice lake retain` and
//! the daemon's `[serve] retain_every`. What is expired, and the record of a deletion, are
//! `sink::lake::retention`'s; this module orders the steps against the state store so a
//! crash anywhere leaves the ledger whole:
//!
//! 1. the lease on `<source>@retention` (one retention at a time per source; it never
//!    blocks the source's runs, which lease the source's own key);
//! 2. an intent on that key holding the deletion record and the new chain head;
//! 3. the record, written create-only to the retention chain;
//! 4. the deletes;
//! 5. the commit (the head into the key's checkpoint, the intent cleared).
//!
//! A run that finds an intent finishes it first (steps 3–5 again: each is idempotent).
//! Until step 5, `sluice lake verify` accepts both heads, as it does for a source's commit.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::sink::config::LakeConfig;
use crate::sink::lake::ledger::{self, LedgerRecord};
use crate::sink::lake::retention::{self, RetentionPlan};
use crate::sink::SinkError;
use crate::state::{Intent, SinkIntent, StateError, StateStore};

/// Why retention stopped; every message names the source or state key and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The lease on `<source>@retention` (another retention runs, or the store refused).
    #[error("{0}")]
    Lease(String),
    /// The state store.
    #[error(transparent)]
    State(#[from] StateError),
    /// Reading, writing or deleting in the lake.
    #[error(transparent)]
    Lake(#[from] SinkError),
    /// The lake's retention chain does not end where the state store says: something
    /// changed it, and nothing is deleted until verify says what.
    #[error("sink `{sink}`: the retention chain of source `{source_name}` ends in a record hashing to {lake_head} in the lake, but the state store's head for it is {store_head}; nothing was deleted (hint: run `sluice lake verify --source {source_name}` to see what changed)")]
    HeadMismatch {
        /// The lake sink.
        sink: String,
        /// The source.
        source_name: String,
        /// The newest record's hash in the lake, or `nothing`.
        lake_head: String,
        /// The state store's head, or `nothing`.
        store_head: String,
    },
    /// An unfinished retention names a lake sink the config no longer has.
    #[error("an unfinished retention of `{key}` was for lake sink `{sink}`, which the config no longer has (hint: put the sink back to let retention finish it)")]
    SinkGone {
        /// The state key.
        key: String,
        /// The lake sink it was for.
        sink: String,
    },
    /// An unfinished retention's intent does not read back.
    #[error("the unfinished retention intent of `{key}` is unreadable: {source}")]
    IntentUnreadable {
        /// The state key.
        key: String,
        /// Why.
        source: serde_json::Error,
    },
    /// An unfinished retention's intent holds no ledger record.
    #[error("the unfinished retention intent of `{key}` holds no record: {source}")]
    IntentNoRecord {
        /// The state key.
        key: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The intent could not be encoded (plain strings: not expected).
    #[error("{0}")]
    Encode(#[source] serde_json::Error),
}

/// What retention found, and did, in one lake.
#[derive(Debug, Clone)]
pub struct RetentionOutcome {
    /// What was expired.
    pub plan: RetentionPlan,
    /// Whether the expired objects were deleted (`--apply`), or only listed.
    pub applied: bool,
}

/// Runs retention of `source` (objects older than `retain` before `now`) in each of
/// `lakes`: lists it, and with `apply` deletes it. `holder` identifies this process for the
/// lease. Errors name the lake and what to do.
pub async fn retain(
    store: &dyn StateStore,
    source: &str,
    retain: Duration,
    lakes: &[&LakeConfig],
    apply: bool,
    now: DateTime<Utc>,
    holder: &str,
) -> Result<Vec<RetentionOutcome>, RetentionError> {
    let cutoff = now
        .checked_sub_signed(chrono::Duration::from_std(retain).unwrap_or(chrono::Duration::MAX))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let key = retention::retention_key(source);
    let lease = if apply {
        Some(
            super::side_lease::take(store, &key, holder, crate::state::DEFAULT_LEASE_TTL)
                .await
                .map_err(RetentionError::Lease)?,
        )
    } else {
        None
    };
    let result = async {
        let mut outcomes = Vec::new();
        for lake in lakes {
            if let Some(lease) = &lease {
                finish_intent(store, &key, lakes, lease.token).await?;
            }
            let plan = retention::plan(lake, source, cutoff, now).await?;
            if let Some(lease) = &lease {
                apply_plan(store, &key, lake, &plan, lease.token, now).await?;
            }
            outcomes.push(RetentionOutcome {
                plan,
                applied: apply,
            });
        }
        Ok::<_, RetentionError>(outcomes)
    }
    .await;
    if let Some(lease) = &lease {
        // The lease lapses anyway; releasing only lets the next run start at once.
        let _ = store.release_lease(lease).await;
    }
    result
}

/// The payload of a retention intent: the record and where it goes.
#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    key: String,
    record: String,
}

/// Deletes `plan`'s objects under a recorded intent, then commits the new chain head.
async fn apply_plan(
    store: &dyn StateStore,
    key: &str,
    lake: &LakeConfig,
    plan: &RetentionPlan,
    fence: u64,
    now: DateTime<Utc>,
) -> Result<(), RetentionError> {
    let state = store.load(key).await?;
    let known = state.checkpoint.ledger.get(&lake.name);
    if known != plan.head.as_ref() && known.is_some() {
        return Err(RetentionError::HeadMismatch {
            sink: lake.name.clone(),
            source_name: plan.source.clone(),
            lake_head: plan.head.as_deref().unwrap_or("nothing").to_string(),
            store_head: known.map(String::as_str).unwrap_or("nothing").to_string(),
        });
    }
    if plan.expired.is_empty() {
        // Left by a run that stopped between its record and its deletes.
        return Ok(retention::delete(lake, &plan.leftover).await?);
    }
    let seq = state.checkpoint.seq;
    let batch = format!(
        "{seq:010}-{}-{RETENTION}",
        crate::state::short_store_id(store.store_id()),
        RETENTION = retention::RETENTION_WINDOW
    );
    let mut record = plan.record(seq, &batch);
    crate::sink::lake::signing::sign_for(lake, &mut record)?;
    let bytes = record.encode();
    let mut next = state.checkpoint.clone();
    next.seq += 1;
    next.committed_at = Some(now);
    next.ledger
        .insert(lake.name.clone(), ledger::digest(&bytes));
    let payload = Payload {
        key: ledger::record_key(&record.scope, &batch),
        // Records are JSON: valid UTF-8.
        record: String::from_utf8_lossy(&bytes).into_owned(),
    };
    let intent = Intent {
        base_seq: seq,
        next: next.clone(),
        sinks: vec![SinkIntent {
            sink: lake.name.clone(),
            payload: serde_json::to_value(&payload).map_err(RetentionError::Encode)?,
        }],
    };
    store.prepare(key, &intent, fence).await?;
    let mut keys: Vec<String> = record.deleted.iter().map(|e| e.key.clone()).collect();
    keys.extend(plan.leftover.iter().cloned());
    publish(lake, &payload, &keys).await?;
    Ok(store.commit(key, &next, fence).await?)
}

/// Writes the record and deletes what it lists.
async fn publish(
    lake: &LakeConfig,
    payload: &Payload,
    keys: &[String],
) -> Result<(), RetentionError> {
    retention::write_record(lake, &payload.key, payload.record.as_bytes()).await?;
    Ok(retention::delete(lake, keys).await?)
}

/// Finishes the intent a stopped run left on `key`, if any.
async fn finish_intent(
    store: &dyn StateStore,
    key: &str,
    lakes: &[&LakeConfig],
    fence: u64,
) -> Result<(), RetentionError> {
    let state = store.load(key).await?;
    let Some(intent) = state.intent else {
        return Ok(());
    };
    for part in &intent.sinks {
        let Some(lake) = lakes.iter().find(|l| l.name == part.sink) else {
            return Err(RetentionError::SinkGone {
                key: key.to_string(),
                sink: part.sink.clone(),
            });
        };
        let payload: Payload = serde_json::from_value(part.payload.clone()).map_err(|source| {
            RetentionError::IntentUnreadable {
                key: key.to_string(),
                source,
            }
        })?;
        let record: LedgerRecord = serde_json::from_str(&payload.record).map_err(|source| {
            RetentionError::IntentNoRecord {
                key: key.to_string(),
                source,
            }
        })?;
        let keys: Vec<String> = record.deleted.iter().map(|e| e.key.clone()).collect();
        publish(lake, &payload, &keys).await?;
    }
    Ok(store.commit(key, &intent.next, fence).await?)
}
