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
