//! The object store's own properties, beyond the contract every store meets
//! (`tests/it/state_stores.rs`).

use super::*;
use std::sync::{Arc, Mutex};

type Hook = futures_util::future::BoxFuture<'static, ()>;

/// Objects that run the hook in `hook` once, just before the next write of a checkpoint
/// document: another worker acting between a writer's read and its write.
struct Interposed {
    inner: backend::Bucket,
    hook: Arc<Mutex<Option<Hook>>>,
}

#[async_trait]
impl Objects for Interposed {
    async fn get(&self, name: &str) -> Result<Option<Found>, backend::ObjectError> {
        self.inner.get(name).await
    }
    async fn put(
        &self,
        name: &str,
        bytes: Vec<u8>,
        condition: Condition<'_>,
    ) -> Result<(), PutError> {
        if name.starts_with("checkpoints/") {
            let hook = self.hook.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(hook) = hook {
                hook.await;
            }
        }
        self.inner.put(name, bytes, condition).await
    }
    async fn list(&self, dir: &str) -> Result<Vec<String>, backend::ObjectError> {
        self.inner.list(dir).await
    }
    async fn delete(&self, name: &str) -> Result<(), backend::ObjectError> {
        self.inner.delete(name).await
    }
    fn url_of(&self, name: &str) -> String {
        self.inner.url_of(name)
    }
}

#[tokio::test]
async fn a_takeover_between_read_and_write_fences_the_write() {
    let memory = Arc::new(object_store::memory::InMemory::new());
    let bucket = || backend::Bucket::new(memory.clone(), "s", "memory://b/s");
    let b = Arc::new(
        ObjectStateStore::open_objects(Box::new(bucket()), "b".into(), true)
            .await
            .unwrap(),
    );
    let hook = Arc::new(Mutex::new(None));
    let objects = Interposed {
        inner: bucket(),
        hook: Arc::clone(&hook),
    };
    let a_store = ObjectStateStore::open_objects(Box::new(objects), "a".into(), true)
        .await
        .unwrap();
    let LeaseOutcome::Acquired(a) = a_store
        .acquire_lease("okta", "a", Duration::ZERO)
        .await
        .unwrap()
    else {
        panic!("a free lease is acquired");
    };
    // `a` reads the document (fence = its token), then `b` takes the lapsed lease over
    // and moves the fence, then `a` writes: the write must fail on the version.
    let taker = Arc::clone(&b);
    let takeover: Hook = Box::pin(async move {
        let outcome = taker
            .acquire_lease("okta", "b", Duration::from_secs(60))
            .await
            .unwrap();
        assert!(matches!(outcome, LeaseOutcome::Acquired(_)), "{outcome:?}");
    });
    *hook.lock().unwrap() = Some(takeover);
    let next = Checkpoint {
        seq: 1,
        ..Checkpoint::default()
    };
    let err = a_store.commit("okta", &next, a.token).await.unwrap_err();
    assert!(
        matches!(err, StateError::Fenced { held, current, .. } if held == a.token && current == a.token + 1),
        "{err}"
    );
    assert!(hook.lock().unwrap().is_none(), "the takeover ran");
    assert_eq!(b.load("okta").await.unwrap(), SourceState::default());
}

#[tokio::test]
async fn keys_that_are_not_safe_object_names_are_refused() {
    let store = ObjectStateStore::in_memory().await.unwrap();
    for key in ["", "../x", "a/b", ".hidden", "a b"] {
        let err = store.load(key).await.unwrap_err();
        assert!(
            err.to_string().contains("cannot be an object name"),
            "{key}: {err}"
        );
    }
    let window = crate::state::window_key("okta", 1, Utc::now());
    store
        .commit(
            &window,
            &Checkpoint {
                seq: 1,
                ..Checkpoint::default()
            },
            0,
        )
        .await
        .unwrap();
    let under = store.checkpoints_under("okta@").await.unwrap();
    assert_eq!(under.len(), 1);
    assert_eq!(under[0].0, window);
}

#[tokio::test]
async fn a_lease_alone_is_not_state() {
    let store = ObjectStateStore::in_memory().await.unwrap();
    let LeaseOutcome::Acquired(_) = store
        .acquire_lease("okta", "a", Duration::from_secs(60))
        .await
        .unwrap()
    else {
        panic!("a free lease is acquired");
    };
    assert!(store.status().await.unwrap().is_empty());
    assert!(store.checkpoints_under("").await.unwrap().is_empty());
    assert_eq!(store.load("okta").await.unwrap(), SourceState::default());
}

#[tokio::test]
async fn a_store_made_before_ids_gets_one_at_its_next_writable_open() {
    let memory = Arc::new(object_store::memory::InMemory::new());
    let bucket = || Box::new(backend::Bucket::new(memory.clone(), "s", "memory://b/s"));
    let old = r#"{"format": 1, "created_at": "2025-01-01T00:00:00Z"}"#;
    bucket()
        .put(MARKER, old.as_bytes().to_vec(), Condition::Create)
        .await
        .unwrap();
    let reader = ObjectStateStore::open_objects(bucket(), "b".into(), false)
        .await
        .unwrap();
    assert_eq!(reader.store_id(), "", "a reader writes nothing");
    let store = ObjectStateStore::open_objects(bucket(), "b".into(), true)
        .await
        .unwrap();
    let id = store.store_id().to_string();
    assert_eq!(id.len(), 16);
    let marker: Marker = store.read("(store marker)", MARKER).await.unwrap().unwrap();
    assert_eq!(marker.id.as_deref(), Some(id.as_str()));
    assert_eq!(marker.created_at.to_rfc3339(), "2025-01-01T00:00:00+00:00");
    let again = ObjectStateStore::open_objects(bucket(), "b".into(), true)
        .await
        .unwrap();
    assert_eq!(again.store_id(), id);
}
