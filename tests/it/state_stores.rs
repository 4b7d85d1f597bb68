//! The state store contract: one suite, run against every store.
//!
//! SQLite, the object store on `file://` and, with the `gcs` feature, on `gs://` (the
//! in-process emulator of `tests/it/common/gcs.rs`) always run. The object store on S3 runs against
//! moto's S3 server (`tests/it/common/s3.rs` starts it), all its contract tests in one test on one
//! server. Not s3s-fs: it honours `If-Match` and `If-None-Match` one request at a time (so the
//! store's start-up probe accepts it), but not atomically under concurrent writers, where the
//! racing test saw two writers win the same commit. PostgreSQL runs when `SLUICE_TEST_POSTGRES_URL` names a database, e.g.
//! `SLUICE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo test --test state_stores`;
//! each test works in a schema of its own (dropped when it passes), so tests run in parallel
//! against one database. Those tests connect without TLS: use `sslmode=disable` or `prefer`.

// The S3 server helper and skip records; the rest of `common` is for other tests.
use crate::common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use rand::{Rng, SeedableRng};
use sluice::config::{ObjectStateConfig, Secret, StateConfig};
use sluice::state::{
    Checkpoint, DedupSet, Incident, Intent, Lease, LeaseOutcome, PostgresStore, RunRecord,
    SinkIntent, SourceState, SqliteStore, StateError, StateStore, Window,
};

const POSTGRES_URL_VAR: &str = "SLUICE_TEST_POSTGRES_URL";

/// A fresh, empty store of one kind, and the raw access a few checks need.
#[async_trait]
trait Harness: Send + Sync {
    /// Opens (again) the store; every call sees the same data.
    async fn open(&self) -> Result<Box<dyn StateStore>, StateError>;
    /// Overwrites the stored checkpoint document of `source` (its row must exist).
    async fn write_raw_doc(&self, source: &str, doc: &str);
    /// The stored checkpoint document of `source`.
    async fn raw_doc(&self, source: &str) -> Option<String>;
    /// Marks the store as migrated by a future sluice.
    async fn set_schema_version(&self, version: i64);
    /// The store's schema version.
    async fn schema_version(&self) -> i64;
}

// ---------------------------------------------------------------------------------------------
// SQLite

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl SqliteHarness {
    fn new() -> Self {
        SqliteHarness {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("state.db")
    }

    fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path()).expect("open the SQLite file")
    }
}

#[async_trait]
impl Harness for SqliteHarness {
    async fn open(&self) -> Result<Box<dyn StateStore>, StateError> {
        Ok(Box::new(SqliteStore::open(&self.path()).await?))
    }

    async fn write_raw_doc(&self, source: &str, doc: &str) {
        let changed = self
            .raw()
            .execute(
                "UPDATE checkpoints SET doc = ?2 WHERE source = ?1",
                rusqlite::params![source, doc],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }

    async fn raw_doc(&self, source: &str) -> Option<String> {
        use rusqlite::OptionalExtension;
        self.raw()
            .query_row(
                "SELECT doc FROM checkpoints WHERE source = ?1",
                [source],
                |r| r.get(0),
            )
            .optional()
            .unwrap()
    }

    async fn set_schema_version(&self, version: i64) {
        self.raw()
            .pragma_update(None, "user_version", version)
            .unwrap();
    }

    async fn schema_version(&self) -> i64 {
        self.raw()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

struct PgHarness {
    url: String,
    schema: String,
    admin: tokio_postgres::Client,
}

/// The test database's URL, or `None` (after recording the skip) when PostgreSQL tests are
/// off.
fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            common::skip::skip(
                "PostgreSQL",
                &format!("{POSTGRES_URL_VAR} is not set"),
                &format!("{POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/test"),
            );
            None
        }
    }
}

/// A name no other test (in this or another process) uses.
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = Utc::now().timestamp_subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with one more query parameter.
fn with_param(url: &str, param: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{param}")
}

async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR} is set but PostgreSQL is unreachable: {e}"));
    tokio::spawn(connection);
    client
}

impl PgHarness {
    async fn new() -> Option<Self> {
        let url = postgres_url()?;
        let schema = unique_name("sluice_test");
        let admin = pg_connect(&url).await;
        Some(PgHarness { url, schema, admin })
    }

    /// The store's URL: its sessions are named after the schema, so a test can find them.
    fn store_url(&self) -> String {
        with_param(&self.url, &format!("application_name={}", self.schema))
    }

    async fn open_pg(&self) -> Result<PostgresStore, StateError> {
        PostgresStore::open_in_schema(&Secret::new(self.store_url()), &self.schema).await
    }

    fn table(&self, name: &str) -> String {
        format!("\"{}\".{name}", self.schema)
    }

    async fn cleanup(self) {
        let _ = self
            .admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                self.schema
            ))
            .await;
    }
}

#[async_trait]
impl Harness for PgHarness {
    async fn open(&self) -> Result<Box<dyn StateStore>, StateError> {
        Ok(Box::new(self.open_pg().await?))
    }

    async fn write_raw_doc(&self, source: &str, doc: &str) {
        let sql = format!(
            "UPDATE {} SET doc = $2 WHERE source = $1",
            self.table("checkpoints")
        );
        let changed = self.admin.execute(&sql, &[&source, &doc]).await.unwrap();
        assert_eq!(changed, 1);
    }

    async fn raw_doc(&self, source: &str) -> Option<String> {
        let sql = format!(
            "SELECT doc FROM {} WHERE source = $1",
            self.table("checkpoints")
        );
        self.admin
            .query_opt(&sql, &[&source])
            .await
            .unwrap()
            .map(|row| row.get(0))
    }

    async fn set_schema_version(&self, version: i64) {
        let sql = format!(
            "INSERT INTO {} (version) VALUES ($1)",
            self.table("schema_migrations")
        );
        self.admin.execute(&sql, &[&version]).await.unwrap();
    }

    async fn schema_version(&self) -> i64 {
        let sql = format!(
            "SELECT COALESCE(MAX(version), 0) FROM {}",
            self.table("schema_migrations")
        );
        self.admin.query_one(&sql, &[]).await.unwrap().get(0)
    }
}

// ---------------------------------------------------------------------------------------------
// Objects: a local directory (file://) or a bucket on the test S3 server

/// Behind the object store's back: its directory, or a client of its bucket.
enum Raw {
    Dir(std::path::PathBuf),
    Bucket(Arc<dyn ObjectStore>),
}

struct ObjectHarness {
    config: ObjectStateConfig,
    /// The same objects, reached behind the store's back.
    raw: Raw,
    /// Where the store's objects are in `raw`, `""` or ending in `/`.
    prefix: String,
    _dir: Option<tempfile::TempDir>,
}

fn object_config(url: String) -> ObjectStateConfig {
    ObjectStateConfig {
        url,
        endpoint: None,
        region: None,
        allow_http: false,
        access_key_id: None,
        secret_access_key: None,
        lease_ttl: MINUTE,
    }
}

impl ObjectHarness {
    /// A store in a new temporary directory, as `file:///tmp/.../state/`.
    fn file() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let root = dir.path().join("state");
        std::fs::create_dir_all(&root).unwrap();
        ObjectHarness {
            config: object_config(format!("file://{}/", root.display())),
            raw: Raw::Dir(root),
            prefix: String::new(),
            _dir: Some(dir),
        }
    }

    /// A store under a prefix of its own in the test server's bucket.
    #[cfg(feature = "s3")]
    fn s3(server: &common::s3::S3Server) -> Self {
        use common::s3::{ACCESS_KEY, BUCKET, REGION, SECRET_KEY};
        let prefix = unique_name("state");
        let mut config = object_config(format!("s3://{BUCKET}/{prefix}/"));
        config.endpoint = Some(server.endpoint.clone());
        config.allow_http = true;
        config.region = Some(REGION.into());
        config.access_key_id = Some(Secret::new(ACCESS_KEY));
        config.secret_access_key = Some(Secret::new(SECRET_KEY));
        ObjectHarness {
            config,
            raw: Raw::Bucket(server.client()),
            prefix: format!("{prefix}/"),
            _dir: None,
        }
    }

    /// A store under a prefix of its own in the bucket of the in-process GCS emulator
    /// (`tests/it/common/gcs.rs`), which keeps GCS's generation preconditions.
    #[cfg(feature = "gcs")]
    fn gcs() -> Self {
        let gcs = common::gcs::shared();
        gcs.set_env();
        let prefix = unique_name("state");
        let mut config = object_config(format!("gs://{}/{prefix}/", common::gcs::BUCKET));
        config.allow_http = true;
        ObjectHarness {
            config,
            raw: Raw::Bucket(gcs.client()),
            prefix: format!("{prefix}/"),
            _dir: None,
        }
    }

    fn key(&self, name: &str) -> StorePath {
        StorePath::from(format!("{}{name}", self.prefix))
    }

    async fn get(&self, name: &str) -> Option<String> {
        match &self.raw {
            Raw::Dir(root) => std::fs::read_to_string(root.join(name)).ok(),
            Raw::Bucket(bucket) => match bucket.get(&self.key(name)).await {
                Ok(found) => {
                    Some(String::from_utf8(found.bytes().await.unwrap().to_vec()).unwrap())
                }
                Err(object_store::Error::NotFound { .. }) => None,
                Err(err) => panic!("{name}: {err}"),
            },
        }
    }

    async fn put(&self, name: &str, text: &str) {
        match &self.raw {
            Raw::Dir(root) => std::fs::write(root.join(name), text).unwrap(),
            Raw::Bucket(bucket) => {
                bucket
                    .put(&self.key(name), PutPayload::from(text.to_string()))
                    .await
                    .unwrap();
            }
        }
    }
}

#[async_trait]
impl Harness for ObjectHarness {
    async fn open(&self) -> Result<Box<dyn StateStore>, StateError> {
        Ok(Box::new(
            sluice::state::ObjectStateStore::open(&self.config).await?,
        ))
    }

    async fn write_raw_doc(&self, source: &str, doc: &str) {
        let name = format!("checkpoints/{source}.json");
        assert!(self.get(&name).await.is_some(), "{name} exists");
        self.put(&name, doc).await;
    }

    async fn raw_doc(&self, source: &str) -> Option<String> {
        self.get(&format!("checkpoints/{source}.json")).await
    }

    async fn set_schema_version(&self, version: i64) {
        let marker = format!("{{\"format\": {version}, \"created_at\": \"2030-01-01T00:00:00Z\"}}");
        self.put("sluice-state.json", &marker).await;
    }

    async fn schema_version(&self) -> i64 {
        let marker = self
            .get("sluice-state.json")
            .await
            .expect("the store has a marker");
        let marker: serde_json::Value = serde_json::from_str(&marker).unwrap();
        marker["format"].as_i64().unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// The contract

/// A checkpoint as the pipeline would commit it at `seq`.
fn next(seq: u64) -> Checkpoint {
    let t = Utc.timestamp_opt(1_700_000_000 + seq as i64, 0).unwrap();
    let mut recent = DedupSet::default();
    recent.insert(&format!("id{seq}"), t);
    Checkpoint {
        seq,
        window: Some(Window { start: t, end: t }),
        high_water: Some(t),
        recent,
        delivered: seq * 10,
        ..Checkpoint::default()
    }
}

fn intent(base_seq: u64) -> Intent {
    Intent {
        base_seq,
        next: next(base_seq + 1),
        sinks: vec![SinkIntent {
            sink: "lake".into(),
            payload: serde_json::json!([["staged/a", "final/a"]]),
        }],
    }
}

fn run(source: &str, n: u64, error: Option<&str>) -> RunRecord {
    let t = Utc.timestamp_opt(1_700_000_000 + n as i64, 0).unwrap();
    RunRecord {
        kind: None,
        source: source.into(),
        started_at: t,
        finished_at: t,
        error: error.map(str::to_string),
        events: n,
        pages: 1,
    }
}

async fn acquired(store: &dyn StateStore, source: &str, holder: &str, ttl: Duration) -> Lease {
    match store.acquire_lease(source, holder, ttl).await.unwrap() {
        LeaseOutcome::Acquired(lease) => lease,
        other => panic!("{holder} should get the lease on {source}: {other:?}"),
    }
}

const MINUTE: Duration = Duration::from_secs(60);

mod contract {
    use super::*;

    pub async fn unknown_source_loads_the_default(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        assert_eq!(store.load("never").await.unwrap(), SourceState::default());
        assert!(store.recent_runs("never", 10).await.unwrap().is_empty());
        assert!(store.status().await.unwrap().is_empty());
    }

    /// Lake objects are named with it: kept by the store, and another store's differs.
    pub async fn the_store_id_is_kept_and_unique(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        let id = store.store_id().to_string();
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        let again = h.open().await.unwrap();
        assert_eq!(again.store_id(), id, "read back at open");
        drop((store, again));
        assert_eq!(h.open().await.unwrap().store_id(), id);
        let other = SqliteHarness::new();
        assert_ne!(other.open().await.unwrap().store_id(), id);
    }

    pub async fn commits_persist_across_reopen(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        store.commit("okta", &next(1), 0).await.unwrap();
        store.commit("okta", &next(2), 0).await.unwrap();
        drop(store);
        let store = h.open().await.unwrap();
        let state = store.load("okta").await.unwrap();
        assert_eq!(state.checkpoint, next(2));
        assert_eq!(state.intent, None);
        store.commit("okta", &next(3), 0).await.unwrap();
    }

    pub async fn a_stale_seq_conflicts(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        store.commit("okta", &next(1), 0).await.unwrap();
        // A writer that read seq 0 must not overwrite seq 1.
        let err = store.commit("okta", &next(1), 0).await.unwrap_err();
        assert!(
            matches!(
                err,
                StateError::Conflict {
                    expected: 0,
                    found: 1,
                    ..
                }
            ),
            "{err}"
        );
        // Nor may one skip a seq.
        let err = store.commit("okta", &next(3), 0).await.unwrap_err();
        assert!(
            matches!(
                err,
                StateError::Conflict {
                    expected: 2,
                    found: 1,
                    ..
                }
            ),
            "{err}"
        );
        let err = store.prepare("okta", &intent(0), 0).await.unwrap_err();
        assert!(
            matches!(
                err,
                StateError::Conflict {
                    expected: 0,
                    found: 1,
                    ..
                }
            ),
            "{err}"
        );
        // A source that never committed is at seq 0.
        let err = store.commit("fresh", &next(2), 0).await.unwrap_err();
        assert!(
            matches!(
                err,
                StateError::Conflict {
                    expected: 1,
                    found: 0,
                    ..
                }
            ),
            "{err}"
        );
        let state = store.load("okta").await.unwrap();
        assert_eq!(state.checkpoint, next(1));
        assert_eq!(state.intent, None);
        assert_eq!(store.load("fresh").await.unwrap(), SourceState::default());
    }

    pub async fn commit_clears_a_prepared_intent(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        // First commit of a source: prepared before any checkpoint exists.
        store.prepare("okta", &intent(0), 0).await.unwrap();
        let state = store.load("okta").await.unwrap();
        assert_eq!(state.intent, Some(intent(0)));
        assert_eq!(state.checkpoint, Checkpoint::default());
        let status = store.status().await.unwrap();
        assert_eq!(status.len(), 1);
        assert!(status[0].commit_in_flight);
        store.commit("okta", &next(1), 0).await.unwrap();
        assert_eq!(store.load("okta").await.unwrap().intent, None);
        assert!(!store.status().await.unwrap()[0].commit_in_flight);
        // Later commits: the intent sits beside the checkpoint it builds on.
        store.prepare("okta", &intent(1), 0).await.unwrap();
        let state = store.load("okta").await.unwrap();
        assert_eq!(state.checkpoint, next(1));
        assert_eq!(state.intent, Some(intent(1)));
        store.commit("okta", &next(2), 0).await.unwrap();
        let state = store.load("okta").await.unwrap();
        assert_eq!(state.checkpoint, next(2));
        assert_eq!(state.intent, None);
    }

    pub async fn a_lease_is_exclusive(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        let a = acquired(&*store, "okta", "a", MINUTE).await;
        assert_eq!(a.token, 1);
        match store.acquire_lease("okta", "b", MINUTE).await.unwrap() {
            LeaseOutcome::HeldBy {
                holder,
                token,
                until,
            } => {
                assert_eq!(holder, "a");
                assert_eq!(token, a.token);
                assert_eq!(until, a.expires_at);
            }
            other => panic!("a live lease is not taken: {other:?}"),
        }
        // The holder acquiring again keeps its token; other sources are independent.
        let again = acquired(&*store, "okta", "a", MINUTE).await;
        assert_eq!(again.token, a.token);
        let other = acquired(&*store, "duo", "b", MINUTE).await;
        assert_eq!(other.token, 1);
        let renewed = store.renew_lease(&again, MINUTE).await.unwrap();
        assert_eq!(renewed.token, a.token);
        assert!(renewed.expires_at >= again.expires_at);
        store.commit("okta", &next(1), a.token).await.unwrap();
    }

    /// `lease_ttl` is not bounded: one past the calendar's end (`lease_ttl = "300000y"`,
    /// found by the fuzzing work) made acquiring a lease panic. Leases last a century at most.
    pub async fn a_lease_ttl_past_the_calendar_lasts_a_century(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        let eons = Duration::from_secs(300_000 * 366 * 86_400);
        let a = acquired(&*store, "okta", "a", eons).await;
        let century = Utc::now() + sluice::state::MAX_LEASE_TTL;
        let within = century - chrono::TimeDelta::minutes(1)..=century;
        assert!(within.contains(&a.expires_at), "{a:?}");
        let renewed = store.renew_lease(&a, eons).await.unwrap();
        assert_eq!(renewed.token, a.token);
        assert!(matches!(
            store.acquire_lease("okta", "b", MINUTE).await.unwrap(),
            LeaseOutcome::HeldBy { .. }
        ));
        store.commit("okta", &next(1), a.token).await.unwrap();
        store.release_lease(&renewed).await.unwrap();
        acquired(&*store, "okta", "b", MINUTE).await;
    }

    pub async fn an_expired_lease_is_taken_over_with_a_larger_token(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        let a = acquired(&*store, "okta", "a", Duration::from_millis(300)).await;
        assert!(matches!(
            store.acquire_lease("okta", "b", MINUTE).await.unwrap(),
            LeaseOutcome::HeldBy { .. }
        ));
        tokio::time::sleep(Duration::from_millis(600)).await;
        let b = acquired(&*store, "okta", "b", MINUTE).await;
        assert!(b.token > a.token, "{b:?} after {a:?}");
        // And a lease that lapsed at once, for the next holder.
        let c_expired = acquired(&*store, "duo", "c", Duration::ZERO).await;
        let d = acquired(&*store, "duo", "d", MINUTE).await;
        assert!(d.token > c_expired.token);
    }

    pub async fn renewing_after_a_takeover_is_fenced(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        let a = acquired(&*store, "okta", "a", Duration::ZERO).await;
        let b = acquired(&*store, "okta", "b", MINUTE).await;
        let err = store.renew_lease(&a, MINUTE).await.unwrap_err();
        assert!(
            matches!(&err, StateError::Fenced { held, current, .. } if *held == a.token && *current == b.token),
            "{err}"
        );
        // The taken-over lease keeps its new holder.
        match store.acquire_lease("okta", "a", MINUTE).await.unwrap() {
            LeaseOutcome::HeldBy { holder, .. } => assert_eq!(holder, "b"),
            other => panic!("b holds the lease: {other:?}"),
        }
    }

    pub async fn writing_with_a_stale_token_is_fenced(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        let a = acquired(&*store, "okta", "a", Duration::ZERO).await;
        store.commit("okta", &next(1), a.token).await.unwrap();
        let b = acquired(&*store, "okta", "b", MINUTE).await;
        // `a` stalled past its lease: neither its prepare nor its commit may land.
        let err = store
            .prepare("okta", &intent(1), a.token)
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::Fenced { .. }), "{err}");
        let err = store.commit("okta", &next(2), a.token).await.unwrap_err();
        assert!(
            matches!(&err, StateError::Fenced { held, current, .. } if *held == a.token && *current == b.token),
            "commit with a stale token: {err}"
        );
        let state = store.load("okta").await.unwrap();
        assert_eq!(state.checkpoint, next(1));
        assert_eq!(state.intent, None);
        // A token from the future is refused too, and so is none on a leased source.
        let err = store
            .commit("okta", &next(2), b.token + 1)
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::Fenced { .. }), "{err}");
        let err = store.commit("okta", &next(2), 0).await.unwrap_err();
        assert!(matches!(err, StateError::Fenced { .. }), "{err}");
        store.prepare("okta", &intent(1), b.token).await.unwrap();
        store.commit("okta", &next(2), b.token).await.unwrap();
    }

    pub async fn releasing_lets_the_next_holder_in(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        let a = acquired(&*store, "okta", "a", MINUTE).await;
        store.release_lease(&a).await.unwrap();
        let b = acquired(&*store, "okta", "b", MINUTE).await;
        assert!(b.token > a.token);
        // Releasing a lease one no longer holds changes nothing.
        store.release_lease(&a).await.unwrap();
        assert!(matches!(
            store.acquire_lease("okta", "c", MINUTE).await.unwrap(),
            LeaseOutcome::HeldBy { ref holder, .. } if holder == "b"
        ));
    }

    pub async fn incidents_open_once_update_and_close_across_reopen(h: &dyn Harness) {
        let at = |minute| Utc.with_ymd_and_hms(2026, 12, 7, 12, minute, 0).unwrap();
        let incident = |alert: &str, source: &str, opened| Incident {
            alert: alert.into(),
            source: source.into(),
            opened_at: at(opened),
            notified_at: at(opened),
            notifications: 1,
            detail: "HTTP 503".into(),
        };
        let store = h.open().await.unwrap();
        assert_eq!(store.incidents().await.unwrap(), []);
        let first = incident("failing", "okta", 1);
        assert!(store.open_incident(&first).await.unwrap());
        // The same call again (a retry whose reply was lost) is still ours; another opening
        // of the same alert and source is not.
        assert!(store.open_incident(&first).await.unwrap());
        assert!(!store
            .open_incident(&incident("failing", "okta", 2))
            .await
            .unwrap());
        assert!(store
            .open_incident(&incident("failing", "duo", 3))
            .await
            .unwrap());
        let mut renotified = first.clone();
        renotified.notified_at = at(30);
        renotified.notifications = 2;
        store.update_incident(&renotified).await.unwrap();
        // Updating a closed incident does not reopen it.
        store
            .update_incident(&incident("silence", "okta", 4))
            .await
            .unwrap();
        drop(store);

        let store = h.open().await.unwrap();
        assert_eq!(
            store.incidents().await.unwrap(),
            [incident("failing", "duo", 3), renotified]
        );
        assert!(store.close_incident("failing", "okta").await.unwrap());
        assert!(!store.close_incident("failing", "okta").await.unwrap());
        assert_eq!(
            store.incidents().await.unwrap(),
            [incident("failing", "duo", 3)]
        );
    }

    pub async fn run_history_is_newest_first_and_pruned(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        store.record_run(&run("other", 1, None)).await.unwrap();
        store
            .record_run(&run("other", 2, Some("boom")))
            .await
            .unwrap();
        for n in 1..=105 {
            store.record_run(&run("okta", n, None)).await.unwrap();
        }
        let latest = store.recent_runs("okta", 3).await.unwrap();
        let events: Vec<u64> = latest.iter().map(|r| r.events).collect();
        assert_eq!(events, [105, 104, 103]);
        assert_eq!(latest[0], run("okta", 105, None));
        // 100 runs are kept per source.
        let all = store.recent_runs("okta", 1000).await.unwrap();
        assert_eq!(all.len(), 100);
        assert_eq!(all.last().map(|r| r.events), Some(6));
        let other = store.recent_runs("other", 10).await.unwrap();
        assert_eq!(
            other,
            [run("other", 2, Some("boom")), run("other", 1, None)]
        );
    }

    pub async fn status_lists_sources_that_only_ran(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        store.commit("committed", &next(1), 0).await.unwrap();
        store
            .record_run(&run("ran-only", 1, Some("boom")))
            .await
            .unwrap();
        store.record_run(&run("ran-only", 2, None)).await.unwrap();
        let status = store.status().await.unwrap();
        let names: Vec<&str> = status.iter().map(|s| s.source.as_str()).collect();
        assert_eq!(names, ["committed", "ran-only"]);
        assert_eq!(status[0].checkpoint, next(1));
        assert_eq!(status[0].last_run, None);
        assert_eq!(status[1].checkpoint, Checkpoint::default());
        assert!(!status[1].commit_in_flight);
        assert_eq!(status[1].last_run, Some(run("ran-only", 2, None)));
        assert_eq!(status[1].last_error, Some(run("ran-only", 1, Some("boom"))));
    }

    pub async fn a_corrupt_checkpoint_is_reported_and_left_alone(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        store.commit("okta", &next(1), 0).await.unwrap();
        store.commit("duo", &next(1), 0).await.unwrap();
        h.write_raw_doc("okta", "{\"seq\": 1, trailing garbage")
            .await;
        let err = store.load("okta").await.unwrap_err();
        assert!(
            matches!(&err, StateError::Corrupt { source_name, .. } if source_name == "okta"),
            "{err}"
        );
        let err = store.status().await.unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        assert_eq!(
            h.raw_doc("okta").await.as_deref(),
            Some("{\"seq\": 1, trailing garbage")
        );
        // Other sources are unaffected.
        assert_eq!(store.load("duo").await.unwrap().checkpoint, next(1));
    }

    pub async fn a_newer_schema_is_refused_untouched(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        store.commit("okta", &next(1), 0).await.unwrap();
        drop(store);
        let doc = h.raw_doc("okta").await;
        h.set_schema_version(99).await;
        let err = h.open().await.err().expect("a newer schema is refused");
        assert!(matches!(err, StateError::TooNew { found: 99, .. }), "{err}");
        assert!(err.to_string().contains("upgrade sluice"), "{err}");
        assert_eq!(h.schema_version().await, 99);
        assert_eq!(h.raw_doc("okta").await, doc);
    }
    pub async fn replacing_a_checkpoint_is_conditional_and_fenced(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        store.commit("okta", &next(1), 0).await.unwrap();
        store.prepare("okta", &intent(1), 0).await.unwrap();
        // Import/reset: any seq may be written over the expected one; the intent goes.
        let imported = next(7);
        store
            .replace_checkpoint("okta", &imported, 1, 0)
            .await
            .unwrap();
        let state = store.load("okta").await.unwrap();
        assert_eq!(state.checkpoint, imported);
        assert_eq!(state.intent, None);
        let err = store
            .replace_checkpoint("okta", &next(9), 1, 0)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StateError::Conflict {
                    expected: 1,
                    found: 7,
                    ..
                }
            ),
            "{err}"
        );
        // A key that never committed is at seq 0.
        store
            .replace_checkpoint("new", &next(3), 0, 0)
            .await
            .unwrap();
        assert_eq!(store.load("new").await.unwrap().checkpoint, next(3));
        // Under a lease, only its holder may.
        let a = acquired(&*store, "okta", "a", MINUTE).await;
        let err = store
            .replace_checkpoint("okta", &next(8), 7, 0)
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::Fenced { .. }), "{err}");
        store
            .replace_checkpoint("okta", &next(8), 7, a.token)
            .await
            .unwrap();
        assert_eq!(store.load("okta").await.unwrap().checkpoint, next(8));
    }

    pub async fn checkpoints_under_lists_windows_and_an_empty_prefix_lists_all(h: &dyn Harness) {
        let store = h.open().await.unwrap();
        let start = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let windows: Vec<String> = (0..3)
            .map(|i| sluice::state::window_key("okta", 1, start + chrono::Duration::hours(i)))
            .collect();
        for key in windows.iter().rev() {
            store.commit(key, &next(1), 0).await.unwrap();
        }
        store.commit("okta", &next(1), 0).await.unwrap();
        store.commit("okta_2", &next(1), 0).await.unwrap();
        // A lease alone is no checkpoint.
        acquired(&*store, "duo", "a", MINUTE).await;
        let under: Vec<String> = store
            .checkpoints_under("okta@")
            .await
            .unwrap()
            .into_iter()
            .map(|(key, checkpoint)| {
                assert_eq!(checkpoint, next(1));
                key
            })
            .collect();
        assert_eq!(under, windows);
        let all: Vec<String> = store
            .checkpoints_under("")
            .await
            .unwrap()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        let mut expected = vec!["okta".to_string(), "okta_2".to_string()];
        expected.extend(windows);
        expected.sort();
        assert_eq!(all, expected);
    }

    /// Four workers, each with its own store handle, race to commit seq 1..=LAST of one
    /// source, passing the lease around (released, or left to lapse) and now and then writing
    /// with a token they no longer hold. Every seq must be won exactly once.
    pub async fn racing_workers_commit_each_seq_exactly_once(h: &dyn Harness) {
        const WORKERS: u64 = 4;
        const LAST: u64 = 30;
        let source = "race";
        drop(h.open().await.unwrap());
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut workers = Vec::new();
        for id in 0..WORKERS {
            let store = h.open().await.unwrap();
            workers.push(tokio::spawn(async move {
                let name = format!("worker-{id}");
                let mut rng = rand::rngs::StdRng::seed_from_u64(id);
                let mut won = Vec::new();
                let mut stale: Option<(Lease, u64)> = None;
                while Instant::now() < deadline {
                    let lease = match store
                        .acquire_lease(source, &name, Duration::from_millis(200))
                        .await
                    {
                        Ok(LeaseOutcome::Acquired(lease)) => lease,
                        Ok(LeaseOutcome::HeldBy { .. }) | Err(StateError::Fenced { .. }) => {
                            if let Some((old, seen)) = &stale {
                                if *seen < LAST && rng.random_bool(0.5) {
                                    let outcome =
                                        store.commit(source, &next(seen + 1), old.token).await;
                                    if outcome.is_ok() {
                                        won.push(seen + 1);
                                    }
                                }
                            }
                            tokio::time::sleep(Duration::from_millis(rng.random_range(1..10)))
                                .await;
                            continue;
                        }
                        Err(other) => panic!("{name}: {other}"),
                    };
                    let mut seq = store.load(source).await.unwrap().checkpoint.seq;
                    if seq >= LAST {
                        store.release_lease(&lease).await.unwrap();
                        break;
                    }
                    for _ in 0..rng.random_range(1..=3) {
                        if seq >= LAST {
                            break;
                        }
                        match store.commit(source, &next(seq + 1), lease.token).await {
                            Ok(()) => {
                                seq += 1;
                                won.push(seq);
                            }
                            Err(StateError::Conflict { .. } | StateError::Fenced { .. }) => break,
                            Err(other) => panic!("{name}: {other}"),
                        }
                    }
                    if rng.random_bool(0.7) {
                        store.release_lease(&lease).await.unwrap();
                    }
                    stale = Some((lease, seq));
                    tokio::time::sleep(Duration::from_millis(rng.random_range(0..5))).await;
                }
                won
            }));
        }
        let mut won = Vec::new();
        for worker in workers {
            won.extend(worker.await.unwrap());
        }
        won.sort_unstable();
        let expected: Vec<u64> = (1..=LAST).collect();
        assert_eq!(won, expected, "every seq committed exactly once");
        let store = h.open().await.unwrap();
        assert_eq!(store.load(source).await.unwrap().checkpoint, next(LAST));
    }
}

/// Runs each contract test against SQLite, the object store on `file://`, and, when
/// configured, PostgreSQL; and all of them, one after the other, against the object store on
/// the test S3 server.
macro_rules! contract_suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let harness = super::SqliteHarness::new();
                    super::contract::$test(&harness).await;
                }
            )*
        }

        mod object_file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let harness = super::ObjectHarness::file();
                    super::contract::$test(&harness).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(harness) = super::PgHarness::new().await else { return };
                    super::contract::$test(&harness).await;
                    harness.cleanup().await;
                }
            )*
        }

        #[cfg(feature = "gcs")]
        mod object_gcs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let harness = super::ObjectHarness::gcs();
                    super::contract::$test(&harness).await;
                }
            )*
        }

        /// One server for the whole suite; each test in a prefix of its own.
        #[cfg(feature = "s3")]
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn object_s3_contract() {
            let Some(server) = common::s3::start_moto().await else { return };
            $(
                eprintln!("object store on {}: {}", server.kind, stringify!($test));
                contract::$test(&ObjectHarness::s3(&server)).await;
            )*
        }
    };
}

contract_suite!(
    unknown_source_loads_the_default,
    the_store_id_is_kept_and_unique,
    commits_persist_across_reopen,
    a_stale_seq_conflicts,
    commit_clears_a_prepared_intent,
    a_lease_is_exclusive,
    a_lease_ttl_past_the_calendar_lasts_a_century,
    an_expired_lease_is_taken_over_with_a_larger_token,
    renewing_after_a_takeover_is_fenced,
    writing_with_a_stale_token_is_fenced,
    releasing_lets_the_next_holder_in,
    run_history_is_newest_first_and_pruned,
    incidents_open_once_update_and_close_across_reopen,
    status_lists_sources_that_only_ran,
    a_corrupt_checkpoint_is_reported_and_left_alone,
    a_newer_schema_is_refused_untouched,
    replacing_a_checkpoint_is_conditional_and_fenced,
    checkpoints_under_lists_windows_and_an_empty_prefix_lists_all,
    racing_workers_commit_each_seq_exactly_once,
);

// ---------------------------------------------------------------------------------------------
// PostgreSQL only

mod postgres_only {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_server_fails_fast_without_showing_the_password() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let config = StateConfig::Postgres {
            url: Secret::new("postgres://sluice:hunter2@127.0.0.1:1/state?sslmode=disable"),
            lease_ttl: MINUTE,
        };
        let started = Instant::now();
        let err = sluice::state::open(&config)
            .await
            .err()
            .expect("nothing listens on port 1");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "took {:?}",
            started.elapsed()
        );
        let shown = err.to_string();
        assert!(matches!(err, StateError::Backend { .. }), "{shown}");
        assert!(
            shown.contains("postgres://sluice:***@127.0.0.1:1/state?sslmode=disable"),
            "{shown}"
        );
        assert!(shown.contains("cannot connect"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
        assert!(!format!("{config:?}").contains("hunter2"), "{config:?}");

        // A URL that does not parse is refused before any connection, also redacted.
        let err = PostgresStore::open(&Secret::new("postgres://sluice:hunter2@h/db?sslmode=bogus"))
            .await
            .err()
            .expect("an invalid sslmode is refused");
        let shown = err.to_string();
        assert!(shown.contains("postgres://sluice:***@h/db"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[tokio::test]
    async fn required_tls_is_never_given_up() {
        // A server that answers the TLS request with "no": the store must refuse to go on in
        // plain text rather than send credentials unencrypted.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 8];
            socket.read_exact(&mut request).await.unwrap();
            assert_eq!(
                request[4..],
                [0x04, 0xd2, 0x16, 0x2f],
                "an SSLRequest comes first"
            );
            socket.write_all(b"N").await.unwrap();
            // Whatever follows would be plain text: there must be nothing.
            let mut rest = Vec::new();
            let _ = socket.read_to_end(&mut rest).await;
            rest
        });
        let url = format!("postgres://sluice:hunter2@127.0.0.1:{port}/state?sslmode=require");
        let err = PostgresStore::open(&Secret::new(url))
            .await
            .err()
            .expect("no TLS, no connection");
        let shown = err.to_string();
        assert!(shown.contains("TLS"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            server.await.unwrap().is_empty(),
            "nothing sent in plain text"
        );
    }

    /// TLS end to end, when `SLUICE_TEST_POSTGRES_TLS_URL` names a server whose certificate
    /// the system trusts (or `SSL_CERT_FILE` names), e.g. on Debian's default install:
    /// `SSL_CERT_FILE=/etc/ssl/certs/ssl-cert-snakeoil.pem
    /// SLUICE_TEST_POSTGRES_TLS_URL='postgres://postgres@localhost/test?sslmode=require'`.
    #[tokio::test]
    async fn tls_connections_work() {
        let Some(url) = std::env::var("SLUICE_TEST_POSTGRES_TLS_URL")
            .ok()
            .filter(|url| !url.is_empty())
        else {
            common::skip::skip(
                "PostgreSQL with TLS",
                "SLUICE_TEST_POSTGRES_TLS_URL is not set",
                "SSL_CERT_FILE=/etc/ssl/certs/ssl-cert-snakeoil.pem SLUICE_TEST_POSTGRES_TLS_URL='postgres://postgres@localhost/test?sslmode=require'",
            );
            return;
        };
        let schema = unique_name("sluice_test_tls");
        let store = PostgresStore::open_in_schema(&Secret::new(url.clone()), &schema)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        store.commit("okta", &next(1), 0).await.unwrap();
        assert_eq!(store.load("okta").await.unwrap().checkpoint, next(1));
        drop(store);
        let admin = pg_connect(
            &std::env::var(POSTGRES_URL_VAR)
                .ok()
                .filter(|plain| !plain.is_empty())
                .unwrap_or(url.replace("sslmode=require", "sslmode=disable")),
        )
        .await;
        let _ = admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await;
    }

    #[test]
    fn the_config_names_a_postgres_store() {
        std::env::set_var("SLUICE_TEST_STATE_URL", "postgres://sluice:pw@db/state");
        let toml = "[state]\nkind = \"postgres\"\nurl = \"${env:SLUICE_TEST_STATE_URL}\"\n";
        let config = sluice::config::load_str(toml, std::path::Path::new("sluice.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        match &config.state {
            StateConfig::Postgres { url, lease_ttl } => {
                assert_eq!(url.expose(), "postgres://sluice:pw@db/state");
                assert_eq!(*lease_ttl, sluice::runtime::DEFAULT_LEASE_TTL);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(config.state.lease_ttl(), sluice::runtime::DEFAULT_LEASE_TTL);
        let toml =
            "[state]\nkind = \"postgres\"\nurl = \"postgres://db/state\"\nlease_ttl = \"90s\"\n";
        let config = sluice::config::load_str(toml, std::path::Path::new("sluice.toml")).unwrap();
        assert_eq!(config.state.lease_ttl(), Duration::from_secs(90));
    }

    #[tokio::test]
    async fn a_search_path_in_the_url_picks_the_schema() {
        let Some(h) = PgHarness::new().await else {
            return;
        };
        let url = with_param(&h.url, &format!("options=-csearch_path%3D{}", h.schema));
        let config = StateConfig::Postgres {
            url: Secret::new(url.clone()),
            lease_ttl: MINUTE,
        };
        // The schema must exist: sluice does not guess where to create one. That answer is no
        // outage: it is given at once, not after minutes of waiting for the server.
        let (logs, guard) = common::logs::capture(tracing::Level::WARN);
        let err = sluice::state::open(&config)
            .await
            .err()
            .expect("no such schema yet");
        drop(guard);
        assert!(err.to_string().contains("no schema"), "{err}");
        assert!(!logs.text().contains("retrying"), "{}", logs.text());
        h.admin
            .batch_execute(&format!("CREATE SCHEMA \"{}\"", h.schema))
            .await
            .unwrap();
        let store = sluice::state::open(&config).await.unwrap();
        store.commit("okta", &next(1), 0).await.unwrap();
        assert!(h.raw_doc("okta").await.is_some());
        h.cleanup().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn processes_starting_together_migrate_once() {
        let Some(h) = PgHarness::new().await else {
            return;
        };
        let h = Arc::new(h);
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let h = Arc::clone(&h);
                tokio::spawn(async move { h.open_pg().await.map(|_| ()) })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let sql = format!(
            "SELECT version, count(*) FROM {} GROUP BY version ORDER BY version",
            h.table("schema_migrations")
        );
        let rows = h.admin.query(&sql, &[]).await.unwrap();
        assert!(!rows.is_empty());
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.get::<_, i64>(0), i as i64 + 1);
            assert_eq!(row.get::<_, i64>(1), 1, "migration {} applied once", i + 1);
        }
        if let Ok(h) = Arc::try_unwrap(h) {
            h.cleanup().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_lost_mid_commit_is_a_backend_error_and_commits_nothing() {
        let Some(h) = PgHarness::new().await else {
            return;
        };
        let store = Arc::new(h.open_pg().await.unwrap());
        store.commit("okta", &next(1), 0).await.unwrap();

        // Hold the checkpoint row so the store's commit waits inside its transaction.
        let mut blocker = pg_connect(&h.url).await;
        let tx = blocker.transaction().await.unwrap();
        tx.execute(
            &format!(
                "SELECT 1 FROM {} WHERE source = 'okta' FOR UPDATE",
                h.table("checkpoints")
            ),
            &[],
        )
        .await
        .unwrap();
        let committing = {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.commit("okta", &next(2), 0).await })
        };
        // Wait until the store's session waits on the lock, then kill that session.
        let deadline = Instant::now() + Duration::from_secs(20);
        let pid: i32 = loop {
            let row = h
                .admin
                .query_opt(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
                    &[&h.schema],
                )
                .await
                .unwrap();
            if let Some(row) = row {
                break row.get(0);
            }
            assert!(
                Instant::now() < deadline,
                "the store's commit never waited on the row lock"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        h.admin
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .unwrap();
        let err = committing.await.unwrap().unwrap_err();
        assert!(matches!(err, StateError::Backend { .. }), "{err}");
        tx.rollback().await.unwrap();

        // Nothing of that commit landed; the next call reconnects and carries on.
        assert_eq!(store.load("okta").await.unwrap().checkpoint, next(1));
        let audited: i64 = h
            .admin
            .query_one(
                &format!("SELECT count(*) FROM {}", h.table("commit_audit")),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(audited, 1);
        store.commit("okta", &next(2), 0).await.unwrap();
        h.cleanup().await;
    }

    /// Eight workers, each on its own connection, race to take seq 1..=50 of one source,
    /// passing the lease around (released, or left to expire), two by two sharing a holder
    /// name (and so a token), and now and then writing with a token they no longer hold. The
    /// audit must show every seq committed exactly once, each by a holder whose token was
    /// current, with tokens never going back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_workers_commit_each_seq_exactly_once() {
        const WORKERS: u64 = 8;
        const LAST: u64 = 50;
        let Some(h) = PgHarness::new().await else {
            return;
        };
        let source = "race";
        // Migrate once up front, so the workers race on commits only.
        drop(h.open_pg().await.unwrap());
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut workers = Vec::new();
        for id in 0..WORKERS {
            let store = h.open_pg().await.unwrap();
            workers.push(tokio::spawn(async move {
                // Two tasks per holder name: like two pipelines of one process, they share a
                // lease and token, so only the seq check keeps them apart.
                let name = format!("worker-{}", id % (WORKERS / 2));
                let mut rng = rand::rngs::StdRng::seed_from_u64(id);
                let mut stats = BTreeMap::<&str, u64>::new();
                let mut stale: Option<(Lease, u64)> = None;
                while Instant::now() < deadline {
                    let lease = match store
                        .acquire_lease(source, &name, Duration::from_millis(300))
                        .await
                        .unwrap()
                    {
                        LeaseOutcome::Acquired(lease) => lease,
                        LeaseOutcome::HeldBy { .. } => {
                            // A zombie: write with the last token this worker held.
                            if let Some((old, seen)) = &stale {
                                if *seen < LAST && rng.random_bool(0.5) {
                                    let outcome =
                                        store.commit(source, &next(seen + 1), old.token).await;
                                    *stats.entry(outcome_name(&outcome)).or_default() += 1;
                                }
                            }
                            tokio::time::sleep(Duration::from_millis(rng.random_range(1..10)))
                                .await;
                            continue;
                        }
                    };
                    let mut seq = store.load(source).await.unwrap().checkpoint.seq;
                    if seq >= LAST {
                        store.release_lease(&lease).await.unwrap();
                        break;
                    }
                    for _ in 0..rng.random_range(1..=3) {
                        if seq >= LAST {
                            break;
                        }
                        let outcome = store.commit(source, &next(seq + 1), lease.token).await;
                        *stats.entry(outcome_name(&outcome)).or_default() += 1;
                        match outcome {
                            Ok(()) => seq += 1,
                            Err(StateError::Conflict { .. } | StateError::Fenced { .. }) => break,
                            Err(other) => panic!("{name}: {other}"),
                        }
                    }
                    if rng.random_bool(0.7) {
                        store.release_lease(&lease).await.unwrap();
                    } // else: the worker "stalls" and its lease lapses.
                    stale = Some((lease, seq));
                    tokio::time::sleep(Duration::from_millis(rng.random_range(0..5))).await;
                }
                stats
            }));
        }
        let mut totals = BTreeMap::<&str, u64>::new();
        for worker in workers {
            for (outcome, count) in worker.await.unwrap() {
                *totals.entry(outcome).or_default() += count;
            }
        }
        println!("commit outcomes: {totals:?}");

        let store = h.open_pg().await.unwrap();
        assert_eq!(store.load(source).await.unwrap().checkpoint, next(LAST));
        let sql = format!(
            "SELECT seq, fence, holder FROM {} WHERE source = $1 ORDER BY seq, id",
            h.table("commit_audit")
        );
        let rows = h.admin.query(&sql, &[&source]).await.unwrap();
        let seqs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let expected: Vec<i64> = (1..=LAST as i64).collect();
        assert_eq!(seqs, expected, "every seq committed exactly once");
        let mut last_fence = 0;
        let mut holders = std::collections::BTreeSet::new();
        for row in &rows {
            let fence: i64 = row.get(1);
            let holder: Option<String> = row.get(2);
            assert!(
                fence >= last_fence,
                "tokens never go back: {fence} after {last_fence}"
            );
            last_fence = fence;
            holders.insert(holder.expect("every commit was made under a lease"));
        }
        assert!(
            holders.len() >= 2,
            "the lease was passed around: {holders:?}"
        );
        h.cleanup().await;
    }

    fn outcome_name(outcome: &Result<(), StateError>) -> &'static str {
        match outcome {
            Ok(()) => "committed",
            Err(StateError::Conflict { .. }) => "conflict",
            Err(StateError::Fenced { .. }) => "fenced",
            Err(_) => "other error",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Object store only

mod object_only {
    use super::*;

    #[tokio::test]
    async fn a_document_from_a_newer_sluice_is_refused_with_its_key_and_version() {
        let h = ObjectHarness::file();
        let store = h.open().await.unwrap();
        store.commit("okta", &next(1), 0).await.unwrap();
        let newer = r#"{"format": 42, "key": "okta", "fence": 0, "what": "is this"}"#;
        h.write_raw_doc("okta", newer).await;
        for err in [
            store.load("okta").await.unwrap_err(),
            store.commit("okta", &next(2), 0).await.unwrap_err(),
            store.status().await.unwrap_err(),
        ] {
            assert!(
                matches!(&err, StateError::TooNew { location, found: 42, .. } if location.ends_with("/checkpoints/okta.json")),
                "{err}"
            );
            assert!(err.to_string().contains("upgrade sluice"), "{err}");
        }
        // Neither a lease change nor a reopen writes over it.
        assert!(store.acquire_lease("okta", "a", MINUTE).await.is_err());
        drop(store);
        h.open().await.unwrap();
        assert_eq!(h.raw_doc("okta").await.as_deref(), Some(newer));
    }

    #[test]
    fn the_config_names_an_object_store_and_refuses_what_it_cannot_use() {
        let file = std::path::Path::new("sluice.toml");
        let toml = "[state]\nkind = \"object\"\nurl = \"s3://bucket/sluice/state/\"\nregion = \"eu-west-1\"\nlease_ttl = \"2m\"\n";
        let config = sluice::config::load_str(toml, file).unwrap_or_else(|e| panic!("{e}"));
        match &config.state {
            StateConfig::Object(object) => {
                assert_eq!(object.url, "s3://bucket/sluice/state/");
                assert_eq!(object.region.as_deref(), Some("eu-west-1"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(config.state.lease_ttl(), Duration::from_secs(120));
        // Beside a lake in the same bucket is fine.
        let beside = "[state]\nkind = \"object\"\nurl = \"s3://b/raw-state/\"\n[[sinks]]\nname = \"lake\"\nkind = \"lake\"\nurl = \"s3://b/raw\"\n";
        sluice::config::load_str(beside, file).unwrap_or_else(|e| panic!("{e}"));
        for (body, expected) in [
            ("url = \"ftp://host/x\"", "not a state store location"),
            (
                "url = \"s3://key:secret@bucket/x\"",
                "must not hold credentials",
            ),
            ("url = \"s3:///x\"", "names no bucket"),
            (
                "url = \"file:///var/lib/sluice/state\"\nregion = \"eu-west-1\"",
                "applies to object stores only",
            ),
            (
                "url = \"s3://b/x\"\nendpoint = \"http://127.0.0.1:9000\"",
                "allow_http",
            ),
            (
                "url = \"gs://b/x\"\nregion = \"eu\"",
                "s3:// locations only",
            ),
            ("url = \"s3://b/x\"\naccess_key_id = \"a\"", "together"),
            (
                "url = \"s3://lake-bucket/raw/state/\"\n[[sinks]]\nname = \"lake\"\nkind = \"lake\"\nurl = \"s3://lake-bucket/raw\"",
                "inside lake `lake`",
            ),
            (
                "url = \"file:///srv/lake/state/\"\n[[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"/srv/lake\"",
                "inside lake `lake`",
            ),
        ] {
            let toml = format!("[state]\nkind = \"object\"\n{body}\n");
            let err = sluice::config::load_str(&toml, file).unwrap_err();
            let shown = err.to_string();
            assert!(shown.contains(expected), "{body}: {shown}");
            assert!(shown.contains("state.url"), "{body}: {shown}");
            assert!(shown.contains("hint:"), "{body}: {shown}");
            assert!(!shown.contains("secret@"), "{shown}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_bucket_is_named_without_its_keys() {
        // Port 1 on loopback: nothing listens.
        let mut config = object_config("s3://bucket/state/".into());
        config.endpoint = Some("http://127.0.0.1:1".into());
        config.allow_http = true;
        config.region = Some("us-east-1".into());
        config.access_key_id = Some(Secret::new("AKIAEXAMPLE"));
        config.secret_access_key = Some(Secret::new("hunter2"));
        let err = sluice::state::open(&StateConfig::Object(config))
            .await
            .err()
            .expect("nothing listens on port 1");
        let shown = err.to_string();
        assert!(shown.contains("s3://bucket/state/"), "{shown}");
        assert!(shown.contains("hint:"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
