//! Opening a store: the configured location, the check that it honours conditional writes,
//! and the store marker (format version and store id).

use super::*;

impl ObjectStateStore {
    /// Opens the store the config names: checks its marker (refusing a newer format), checks
    /// that the store enforces conditional writes, and marks a new store.
    pub async fn open(config: &ObjectStateConfig) -> Result<Self, StateError> {
        Self::open_with(config, true).await
    }

    /// Opens the store to read it only (`sluice status`, `sluice state show`): the marker is
    /// checked but nothing is written, so read-only credentials suffice.
    pub async fn open_read_only(config: &ObjectStateConfig) -> Result<Self, StateError> {
        Self::open_with(config, false).await
    }

    pub(super) async fn open_with(
        config: &ObjectStateConfig,
        writable: bool,
    ) -> Result<Self, StateError> {
        let fail = |detail: String| StateError::Backend {
            location: config.url.clone(),
            detail,
        };
        let objects: Box<dyn Objects> = match config
            .location()
            .map_err(|err| fail(err.to_string()))?
        {
            StoreLocation::Directory(dir) => {
                Box::new(local::Directory::open(&dir).map_err(|err| put_error(&config.url, err))?)
            }
            StoreLocation::Store {
                scheme,
                bucket,
                prefix,
            } => {
                let store = crate::cloud::connect(scheme, &bucket, &config.options()).map_err(|e| {
                    fail(format!("cannot set up the client: {e} (hint: check the url, endpoint, region and the store's credentials in the environment)"))
                })?;
                Box::new(backend::Bucket::new(store, &prefix, &config.url))
            }
        };
        Self::open_objects(objects, config.url.clone(), writable).await
    }

    /// A store over objects in memory (for tests of code that needs a store).
    pub async fn in_memory() -> Result<Self, StateError> {
        let memory = std::sync::Arc::new(object_store::memory::InMemory::new());
        let objects = Box::new(backend::Bucket::new(memory, "", "memory://state"));
        Self::open_objects(objects, "memory://state/".into(), true).await
    }

    pub(super) async fn open_objects(
        objects: Box<dyn Objects>,
        location: String,
        writable: bool,
    ) -> Result<Self, StateError> {
        let mut store = ObjectStateStore {
            objects,
            location,
            id: String::new(),
        };
        // The marker is read before anything is written: a newer store is left untouched.
        let marker = store
            .read_versioned::<Marker>("(store marker)", MARKER)
            .await?;
        if !writable {
            store.id = marker.and_then(|(m, _)| m.id).unwrap_or_default();
            return Ok(store);
        }
        backend::probe(&*store.objects)
            .await
            .map_err(|err| put_error(&store.location, err))?;
        store.id = store.mark(marker).await?;
        Ok(store)
    }

    /// Makes sure the marker exists and holds a store id (a new store's, or one added to a
    /// store made before ids), and returns the id. A race with another process doing the
    /// same is lost gracefully: its id is read back and used.
    pub(super) async fn mark(
        &self,
        mut marker: Option<(Marker, Found)>,
    ) -> Result<String, StateError> {
        for _ in 0..ATTEMPTS {
            let (doc, condition) = match &marker {
                Some((existing, _)) if existing.id.is_some() => {
                    return Ok(existing.id.clone().unwrap_or_default())
                }
                Some((existing, found)) => (
                    Marker {
                        format: existing.format,
                        created_at: existing.created_at,
                        id: Some(crate::state::new_store_id()),
                    },
                    Condition::Match(&found.version),
                ),
                None => (
                    Marker {
                        format: FORMAT,
                        created_at: Utc::now(),
                        id: Some(crate::state::new_store_id()),
                    },
                    Condition::Create,
                ),
            };
            let bytes = encode("(store marker)", &doc)?;
            match self.objects.put(MARKER, bytes, condition).await {
                Ok(()) => return Ok(doc.id.unwrap_or_default()),
                // Lost: another process marked it first; use what it wrote.
                Err(PutError::Lost) => {}
                Err(err) => return Err(put_error(&self.location, err)),
            }
            marker = self
                .read_versioned::<Marker>("(store marker)", MARKER)
                .await?;
        }
        Err(self.busy("(store marker)", "marker"))
    }
}
