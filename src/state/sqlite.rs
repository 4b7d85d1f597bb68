//! The embedded default store: one SQLite file, WAL mode, fully synchronous commits.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{params, Connection, OptionalExtension};

use super::{
    Checkpoint, Incident, Intent, Lease, LeaseOutcome, RunRecord, SourceState, SourceStatus,
    StateError, StateStore,
};

mod open;

use open::{backend, db, open_blocking};

fn millis(ms: i64) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Runs kept per source for `sluice status`.
const RUNS_KEPT: i64 = 100;

/// A [`StateStore`] in a SQLite file.
pub struct SqliteStore {
    path: PathBuf,
    /// See [`StateStore::store_id`].
    id: String,
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub async fn open(path: &Path) -> Result<Self, StateError> {
        let owned = path.to_path_buf();
        let (conn, id) = tokio::task::spawn_blocking(move || open_blocking(&owned))
            .await
            .map_err(|err| backend(path, err))??;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            id,
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection off the async threads; SQLite calls block on fsync.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Path) -> Result<T, StateError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            // A poisoned lock means another call panicked mid-transaction; SQLite rolled that
            // transaction back, so the connection is still consistent.
            let mut guard = conn.lock().unwrap_or_else(|poison| poison.into_inner());
            f(&mut guard, &path)
        })
        .await
        .map_err(|err| backend(&self.path, err))?
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    source: &str,
    what: &str,
    text: &str,
) -> Result<T, StateError> {
    serde_json::from_str(text).map_err(|err| StateError::Corrupt {
        source_name: source.to_string(),
        detail: format!("{what} does not parse: {err}"),
    })
}

fn encode<T: serde::Serialize>(value: &T) -> String {
    // Serializing these plain data types cannot fail: no maps with non-string keys, no
    // custom serializers that error.
    serde_json::to_string(value).expect("state records always serialize")
}

/// The stored seq of `source`, or `None` if it has no row.
fn stored_seq(
    tx: &rusqlite::Transaction<'_>,
    source: &str,
    path: &Path,
) -> Result<Option<u64>, StateError> {
    tx.query_row(
        "SELECT seq FROM checkpoints WHERE source = ?1",
        [source],
        |row| row.get::<_, i64>(0),
    )
    .optional()
    .map(|seq| seq.map(|s| s as u64))
    .map_err(|e| db(path, e))
}

/// The current lease token of `source` must be `fence`.
fn check_fence(
    tx: &rusqlite::Transaction<'_>,
    source: &str,
    fence: u64,
    path: &Path,
) -> Result<(), StateError> {
    let current: Option<i64> = tx
        .query_row(
            "SELECT token FROM leases WHERE source = ?1",
            [source],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| db(path, e))?;
    let current = current.unwrap_or(0) as u64;
    if current == fence {
        Ok(())
    } else {
        Err(StateError::Fenced {
            source_name: source.to_string(),
            held: fence,
            current,
        })
    }
}

fn check_seq(source: &str, found: Option<u64>, expected: u64) -> Result<(), StateError> {
    let found = found.unwrap_or(0);
    if found == expected {
        Ok(())
    } else {
        Err(StateError::Conflict {
            source_name: source.to_string(),
            expected,
            found,
        })
    }
}

#[async_trait]
impl StateStore for SqliteStore {
    fn store_id(&self) -> &str {
        &self.id
    }

    async fn load(&self, source: &str) -> Result<SourceState, StateError> {
        let source = source.to_string();
        self.with_conn(move |conn, path| {
            let row: Option<(String, Option<String>)> = conn
                .query_row(
                    "SELECT doc, intent FROM checkpoints WHERE source = ?1",
                    [&source],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(|e| db(path, e))?;
            let Some((doc, intent)) = row else {
                return Ok(SourceState::default());
            };
            Ok(SourceState {
                checkpoint: decode(&source, "checkpoint", &doc)?,
                intent: intent
                    .map(|i| decode(&source, "commit intent", &i))
                    .transpose()?,
            })
        })
        .await
    }

    async fn prepare(&self, source: &str, intent: &Intent, fence: u64) -> Result<(), StateError> {
        let source = source.to_string();
        let text = encode(intent);
        let base = intent.base_seq;
        self.with_conn(move |conn, path| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| db(path, e))?;
            check_fence(&tx, &source, fence, path)?;
            let found = stored_seq(&tx, &source, path)?;
            check_seq(&source, found, base)?;
            if found.is_none() {
                // First commit of a source: the row holds the initial checkpoint until then.
                tx.execute(
                    "INSERT INTO checkpoints (source, seq, doc, intent, updated_at) VALUES (?1, 0, ?2, ?3, ?4)",
                    params![source, encode(&Checkpoint::default()), text, Utc::now().to_rfc3339()],
                )
            } else {
                tx.execute(
                    "UPDATE checkpoints SET intent = ?2, updated_at = ?3 WHERE source = ?1",
                    params![source, text, Utc::now().to_rfc3339()],
                )
            }
            .map_err(|e| db(path, e))?;
            tx.commit().map_err(|e| db(path, e))
        })
        .await
    }

    async fn commit(&self, source: &str, next: &Checkpoint, fence: u64) -> Result<(), StateError> {
        let source = source.to_string();
        let doc = encode(next);
        let seq = next.seq;
        self.with_conn(move |conn, path| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| db(path, e))?;
            check_fence(&tx, &source, fence, path)?;
            check_seq(&source, stored_seq(&tx, &source, path)?, seq.saturating_sub(1))?;
            tx.execute(
                "INSERT INTO checkpoints (source, seq, doc, intent, updated_at) VALUES (?1, ?2, ?3, NULL, ?4)
                 ON CONFLICT (source) DO UPDATE SET seq = ?2, doc = ?3, intent = NULL, updated_at = ?4",
                params![source, seq as i64, doc, Utc::now().to_rfc3339()],
            )
            .map_err(|e| db(path, e))?;
            tx.commit().map_err(|e| db(path, e))
        })
        .await
    }

    async fn replace_checkpoint(
        &self,
        key: &str,
        checkpoint: &Checkpoint,
        expected_seq: u64,
        fence: u64,
    ) -> Result<(), StateError> {
        let key = key.to_string();
        let doc = encode(checkpoint);
        let seq = checkpoint.seq;
        self.with_conn(move |conn, path| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| db(path, e))?;
            check_fence(&tx, &key, fence, path)?;
            check_seq(&key, stored_seq(&tx, &key, path)?, expected_seq)?;
            tx.execute(
                "INSERT INTO checkpoints (source, seq, doc, intent, updated_at) VALUES (?1, ?2, ?3, NULL, ?4)
                 ON CONFLICT (source) DO UPDATE SET seq = ?2, doc = ?3, intent = NULL, updated_at = ?4",
                params![key, seq as i64, doc, Utc::now().to_rfc3339()],
            )
            .map_err(|e| db(path, e))?;
            tx.commit().map_err(|e| db(path, e))
        })
        .await
    }

    async fn acquire_lease(
        &self,
        source: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StateError> {
        let (source, holder) = (source.to_string(), holder.to_string());
        let ttl = ttl.min(super::MAX_LEASE_TTL);
        self.with_conn(move |conn, path| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| db(path, e))?;
            let now = Utc::now();
            let row: Option<(String, i64, i64)> = tx
                .query_row(
                    "SELECT holder, token, expires_ms FROM leases WHERE source = ?1",
                    [&source],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(|e| db(path, e))?;
            let token = match row {
                Some((current, token, _)) if current == holder => token,
                Some((current, token, expires_ms)) if expires_ms > now.timestamp_millis() => {
                    return Ok(LeaseOutcome::HeldBy {
                        holder: current,
                        token: token as u64,
                        until: millis(expires_ms),
                    });
                }
                Some((_, token, _)) => token + 1,
                None => 1,
            };
            let expires_at = now + ttl;
            tx.execute(
                "INSERT INTO leases (source, holder, token, expires_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (source) DO UPDATE SET holder = ?2, token = ?3, expires_ms = ?4",
                params![source, holder, token, expires_at.timestamp_millis()],
            )
            .map_err(|e| db(path, e))?;
            tx.commit().map_err(|e| db(path, e))?;
            Ok(LeaseOutcome::Acquired(Lease {
                source,
                holder,
                token: token as u64,
                expires_at: millis(expires_at.timestamp_millis()),
            }))
        })
        .await
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StateError> {
        let lease = lease.clone();
        self.with_conn(move |conn, path| {
            let expires_at =
                millis((Utc::now() + ttl.min(super::MAX_LEASE_TTL)).timestamp_millis());
            let changed = conn
                .execute(
                    "UPDATE leases SET expires_ms = ?3 WHERE source = ?1 AND token = ?2",
                    params![
                        lease.source,
                        lease.token as i64,
                        expires_at.timestamp_millis()
                    ],
                )
                .map_err(|e| db(path, e))?;
            if changed == 0 {
                let current: Option<i64> = conn
                    .query_row(
                        "SELECT token FROM leases WHERE source = ?1",
                        [&lease.source],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(|e| db(path, e))?;
                return Err(StateError::Fenced {
                    source_name: lease.source,
                    held: lease.token,
                    current: current.unwrap_or(0) as u64,
                });
            }
            Ok(Lease {
                expires_at,
                ..lease
            })
        })
        .await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StateError> {
        let lease = lease.clone();
        self.with_conn(move |conn, path| {
            // The token stays: the next holder gets a larger one.
            conn.execute(
                "UPDATE leases SET expires_ms = 0 WHERE source = ?1 AND token = ?2",
                params![lease.source, lease.token as i64],
            )
            .map_err(|e| db(path, e))?;
            Ok(())
        })
        .await
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StateError> {
        let run = run.clone();
        self.with_conn(move |conn, path| {
            let tx = conn.transaction().map_err(|e| db(path, e))?;
            tx.execute(
                "INSERT INTO runs (source, started_at, finished_at, error, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    run.source,
                    run.started_at.to_rfc3339(),
                    run.finished_at.to_rfc3339(),
                    run.error,
                    encode(&run)
                ],
            )
            .map_err(|e| db(path, e))?;
            tx.execute(
                "DELETE FROM runs WHERE source = ?1 AND id NOT IN
                   (SELECT id FROM runs WHERE source = ?1 ORDER BY id DESC LIMIT ?2)",
                params![run.source, RUNS_KEPT],
            )
            .map_err(|e| db(path, e))?;
            tx.commit().map_err(|e| db(path, e))
        })
        .await
    }

    async fn recent_runs(&self, source: &str, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let source = source.to_string();
        self.with_conn(move |conn, path| {
            let mut stmt = conn
                .prepare("SELECT doc FROM runs WHERE source = ?1 ORDER BY id DESC LIMIT ?2")
                .map_err(|e| db(path, e))?;
            let docs = stmt
                .query_map(params![source, limit as i64], |row| row.get::<_, String>(0))
                .map_err(|e| db(path, e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| db(path, e))?;
            docs.iter()
                .map(|d| decode(&source, "run record", d))
                .collect()
        })
        .await
    }

    async fn checkpoints_under(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, Checkpoint)>, StateError> {
        let (low, high) = (prefix.to_string(), super::prefix_end(prefix));
        self.with_conn(move |conn, path| {
            // A range, not LIKE: `_` in source names is a LIKE wildcard. An empty prefix has
            // no upper bound.
            let mut stmt = conn
                .prepare(
                    "SELECT source, doc FROM checkpoints WHERE source >= ?1 AND (?2 = '' OR source < ?2)
                     ORDER BY source",
                )
                .map_err(|e| db(path, e))?;
            let rows = stmt
                .query_map([&low, &high], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(|e| db(path, e))?;
            let mut found = Vec::new();
            for row in rows {
                let (key, doc) = row.map_err(|e| db(path, e))?;
                let checkpoint = decode(&key, "checkpoint", &doc)?;
                found.push((key, checkpoint));
            }
            Ok(found)
        })
        .await
    }

    async fn status(&self) -> Result<Vec<SourceStatus>, StateError> {
        self.with_conn(move |conn, path| {
            let mut rows = Vec::new();
            {
                let mut stmt = conn
                    .prepare(
                        "SELECT s.source, c.doc, c.intent IS NOT NULL FROM
                           (SELECT source FROM checkpoints UNION SELECT source FROM runs) s
                         LEFT JOIN checkpoints c ON c.source = s.source ORDER BY s.source",
                    )
                    .map_err(|e| db(path, e))?;
                let mut query = stmt.query([]).map_err(|e| db(path, e))?;
                while let Some(row) = query.next().map_err(|e| db(path, e))? {
                    let source: String = row.get(0).map_err(|e| db(path, e))?;
                    // Sources that ran but never committed have runs and no checkpoint.
                    let doc: Option<String> = row.get(1).map_err(|e| db(path, e))?;
                    let in_flight: Option<bool> = row.get(2).map_err(|e| db(path, e))?;
                    rows.push((source, doc, in_flight.unwrap_or(false)));
                }
            }
            let mut statuses = Vec::new();
            for (source, doc, commit_in_flight) in rows {
                let last = |filter: &str| -> Result<Option<RunRecord>, StateError> {
                    let sql = format!(
                        "SELECT doc FROM runs WHERE source = ?1 {filter} ORDER BY id DESC LIMIT 1"
                    );
                    let doc: Option<String> = conn
                        .query_row(&sql, [&source], |row| row.get(0))
                        .optional()
                        .map_err(|e| db(path, e))?;
                    doc.map(|d| decode(&source, "run record", &d)).transpose()
                };
                statuses.push(SourceStatus {
                    checkpoint: doc
                        .map(|d| decode(&source, "checkpoint", &d))
                        .transpose()?
                        .unwrap_or_default(),
                    commit_in_flight,
                    last_run: last("")?,
                    last_error: last("AND error IS NOT NULL")?,
                    source,
                });
            }
            Ok(statuses)
        })
        .await
    }

    async fn incidents(&self) -> Result<Vec<Incident>, StateError> {
        self.with_conn(move |conn, path| {
            let mut stmt = conn
                .prepare("SELECT source, doc FROM incidents ORDER BY alert, source")
                .map_err(|e| db(path, e))?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(|e| db(path, e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| db(path, e))?;
            rows.iter()
                .map(|(source, doc)| decode(source, "incident", doc))
                .collect()
        })
        .await
    }

    async fn open_incident(&self, incident: &Incident) -> Result<bool, StateError> {
        let incident = incident.clone();
        self.with_conn(move |conn, path| {
            let tx = conn.transaction().map_err(|e| db(path, e))?;
            let inserted = tx
                .execute(
                    "INSERT INTO incidents (alert, source, doc) VALUES (?1, ?2, ?3)
                     ON CONFLICT (alert, source) DO NOTHING",
                    params![incident.alert, incident.source, encode(&incident)],
                )
                .map_err(|e| db(path, e))?;
            let ours = if inserted == 1 {
                true
            } else {
                let doc: String = tx
                    .query_row(
                        "SELECT doc FROM incidents WHERE alert = ?1 AND source = ?2",
                        params![incident.alert, incident.source],
                        |row| row.get(0),
                    )
                    .map_err(|e| db(path, e))?;
                let stored: Incident = decode(&incident.source, "incident", &doc)?;
                stored.opened_at == incident.opened_at
            };
            tx.commit().map_err(|e| db(path, e))?;
            Ok(ours)
        })
        .await
    }

    async fn update_incident(&self, incident: &Incident) -> Result<(), StateError> {
        let incident = incident.clone();
        self.with_conn(move |conn, path| {
            conn.execute(
                "UPDATE incidents SET doc = ?3 WHERE alert = ?1 AND source = ?2",
                params![incident.alert, incident.source, encode(&incident)],
            )
            .map_err(|e| db(path, e))?;
            Ok(())
        })
        .await
    }

    async fn close_incident(&self, alert: &str, source: &str) -> Result<bool, StateError> {
        let (alert, source) = (alert.to_string(), source.to_string());
        self.with_conn(move |conn, path| {
            let deleted = conn
                .execute(
                    "DELETE FROM incidents WHERE alert = ?1 AND source = ?2",
                    params![alert, source],
                )
                .map_err(|e| db(path, e))?;
            Ok(deleted == 1)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{SinkIntent, Window};
    use chrono::TimeZone;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("state.db"))
            .await
            .unwrap();
        (dir, store)
    }

    fn next(seq: u64) -> Checkpoint {
        let t = Utc.timestamp_opt(1_700_000_000 + seq as i64, 0).unwrap();
        Checkpoint {
            seq,
            window: Some(Window { start: t, end: t }),
            high_water: Some(t),
            recent: {
                let mut recent = crate::state::DedupSet::default();
                recent.insert(&format!("id{seq}"), t);
                recent
            },
            ..Checkpoint::default()
        }
    }

    #[tokio::test]
    async fn commits_persist_and_are_conditional_on_seq() {
        let (dir, store) = store().await;
        assert_eq!(store.load("okta").await.unwrap(), SourceState::default());
        store.commit("okta", &next(1), 0).await.unwrap();
        store.commit("okta", &next(2), 0).await.unwrap();
        // A writer that read seq 1 must not overwrite seq 2.
        let err = store.commit("okta", &next(2), 0).await.unwrap_err();
        assert!(
            matches!(
                err,
                StateError::Conflict {
                    expected: 1,
                    found: 2,
                    ..
                }
            ),
            "{err}"
        );
        drop(store);
        let reopened = SqliteStore::open(&dir.path().join("state.db"))
            .await
            .unwrap();
        assert_eq!(reopened.load("okta").await.unwrap().checkpoint, next(2));
    }

    #[tokio::test]
    async fn intent_is_kept_until_commit_clears_it() {
        let (_dir, store) = store().await;
        let intent = Intent {
            base_seq: 0,
            next: next(1),
            sinks: vec![SinkIntent {
                sink: "lake".into(),
                payload: serde_json::json!(["a"]),
            }],
        };
        store.prepare("okta", &intent, 0).await.unwrap();
        let state = store.load("okta").await.unwrap();
        assert_eq!(state.intent, Some(intent));
        assert_eq!(state.checkpoint, Checkpoint::default());
        store.commit("okta", &next(1), 0).await.unwrap();
        assert_eq!(store.load("okta").await.unwrap().intent, None);
    }

    #[tokio::test]
    async fn leases_exclude_other_workers_and_fence_a_lost_holder() {
        let (_dir, store) = store().await;
        let ttl = Duration::from_secs(60);
        let LeaseOutcome::Acquired(a) = store.acquire_lease("okta", "a", ttl).await.unwrap() else {
            panic!("a free lease is acquired");
        };
        assert!(matches!(
            store.acquire_lease("okta", "b", ttl).await.unwrap(),
            LeaseOutcome::HeldBy { ref holder, .. } if holder == "a"
        ));
        store.commit("okta", &next(1), a.token).await.unwrap();
        // `a` stalls past its lease; `b` takes over with a larger token.
        store
            .acquire_lease("okta", "a", Duration::ZERO)
            .await
            .unwrap();
        let LeaseOutcome::Acquired(b) = store.acquire_lease("okta", "b", ttl).await.unwrap() else {
            panic!("an expired lease is taken over");
        };
        assert!(b.token > a.token);
        let err = store.commit("okta", &next(2), a.token).await.unwrap_err();
        assert!(matches!(err, StateError::Fenced { .. }), "{err}");
        assert!(matches!(
            store.renew_lease(&a, ttl).await.unwrap_err(),
            StateError::Fenced { .. }
        ));
        store.commit("okta", &next(2), b.token).await.unwrap();
        store.release_lease(&b).await.unwrap();
        assert!(matches!(
            store.acquire_lease("okta", "c", ttl).await.unwrap(),
            LeaseOutcome::Acquired(_)
        ));
    }

    #[tokio::test]
    async fn newer_schema_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(SqliteStore::open(&path).await.unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = SqliteStore::open(&path).await.err().unwrap();
        assert!(matches!(err, StateError::TooNew { found: 99, .. }), "{err}");
        let version: i64 = Connection::open(&path)
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 99);
    }

    #[tokio::test]
    async fn a_full_disk_is_reported_at_once_naming_the_file() {
        let (dir, store) = store().await;
        store.commit("okta", &next(1), 0).await.unwrap();
        // SQLite answers SQLITE_FULL past `max_page_count`, as on a full disk.
        {
            let conn = store.conn.lock().unwrap();
            let pages: i64 = conn
                .pragma_query_value(None, "page_count", |r| r.get(0))
                .unwrap();
            conn.pragma_update(None, "max_page_count", pages).unwrap();
        }
        let mut big = next(2);
        for i in 0..20_000 {
            big.recent
                .insert(&format!("{i:0>64}"), Utc.timestamp_opt(i, 0).unwrap());
        }
        let started = std::time::Instant::now();
        let err = store.commit("okta", &big, 0).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(err, StateError::DiskFull { .. }), "{err:?}");
        let shown = err.to_string();
        assert!(
            shown.contains(&dir.path().join("state.db").display().to_string())
                && shown.contains("free space"),
            "{shown}"
        );
        // Through the wrapper that waits out outages, it is not waited out either.
        let retrying = crate::state::retry::Retrying::new(store);
        let started = std::time::Instant::now();
        let intent = Intent {
            base_seq: 1,
            next: big,
            sinks: Vec::new(),
        };
        let err = retrying.prepare("okta", &intent, 0).await.unwrap_err();
        assert!(matches!(err, StateError::DiskFull { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn the_store_id_is_kept_across_opens() {
        let (dir, first) = store().await;
        let id = first.store_id().to_string();
        assert_eq!(id.len(), 16, "{id}");
        drop(first);
        let reopened = SqliteStore::open(&dir.path().join("state.db"))
            .await
            .unwrap();
        assert_eq!(reopened.store_id(), id);
        let (_other_dir, other) = store().await;
        assert_ne!(other.store_id(), id, "another store, another id");
    }

    #[tokio::test]
    async fn status_shows_last_run_and_last_error() {
        let (_dir, store) = store().await;
        store.commit("okta", &next(1), 0).await.unwrap();
        let run = |error: Option<&str>| RunRecord {
            kind: None,
            source: "okta".into(),
            started_at: Utc::now(),
            finished_at: Utc::now(),
            error: error.map(str::to_string),
            events: 3,
            pages: 1,
        };
        store.record_run(&run(Some("boom"))).await.unwrap();
        store.record_run(&run(None)).await.unwrap();
        let status = store.status().await.unwrap();
        assert_eq!(status.len(), 1);
        assert_eq!(status[0].last_run.as_ref().unwrap().error, None);
        assert_eq!(
            status[0].last_error.as_ref().unwrap().error.as_deref(),
            Some("boom")
        );
    }
}
