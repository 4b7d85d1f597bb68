//! What the object state store needs from where it keeps its objects: read with a version,
//! write only if the version is still the one read (or only if nothing is there), list and
//! delete. Two implementations: a bucket through `object_store` (here) and a local directory
//! (`local.rs`), which `object_store` cannot update conditionally.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};

/// The version of an object as read: an ETag and/or a generation, opaque to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Version {
    pub e_tag: Option<String>,
    pub version: Option<String>,
}

/// An object's content and the version it had when read.
pub(super) struct Found {
    pub bytes: Vec<u8>,
    pub version: Version,
}

/// The condition of a write.
#[derive(Debug, Clone, Copy)]
pub(super) enum Condition<'a> {
    /// Only if no object exists at the name (`If-None-Match: *`).
    Create,
    /// Only if the object is still at this version (`If-Match`, generation match).
    Match(&'a Version),
}

/// Why a write did not happen.
#[derive(Debug)]
pub(super) enum PutError {
    /// Its condition did not hold: someone else wrote first.
    Lost,
    /// The store failed or refused; the message says why.
    Failed(String),
    /// The disk under a local directory is full (`ENOSPC`): waiting does not help, so it
    /// becomes [`crate::state::StateError::DiskFull`], which nobody retries.
    DiskFull(String),
}

impl PutError {
    /// The message of a failure, prefixed by `what` was being done.
    fn context(self, what: impl FnOnce(String) -> String) -> PutError {
        match self {
            PutError::Lost => PutError::Lost,
            PutError::Failed(detail) => PutError::Failed(what(detail)),
            PutError::DiskFull(detail) => PutError::DiskFull(what(detail)),
        }
    }
}

impl std::fmt::Display for PutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PutError::Lost => f.write_str("another writer changed the object first"),
            PutError::Failed(detail) | PutError::DiskFull(detail) => f.write_str(detail),
        }
    }
}

/// Why an object could not be read, listed or deleted. The store adds the object's URL and a
/// hint when it reports one.
#[derive(Debug, thiserror::Error)]
pub(super) enum ObjectError {
    /// A name that is no valid key in the store.
    #[error("`{key}` is not a valid object key: {source}")]
    Key {
        key: String,
        source: object_store::path::Error,
    },
    /// The object store failed or refused.
    #[error(transparent)]
    Store(#[from] object_store::Error),
    /// A file operation in a local directory failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The blocking task doing a file operation stopped unexpectedly.
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
}

/// Objects under one prefix, named by relative names such as `checkpoints/okta.json`.
#[async_trait]
pub(super) trait Objects: Send + Sync {
    /// The object `name`, or `None` if there is none.
    async fn get(&self, name: &str) -> Result<Option<Found>, ObjectError>;
    /// Writes `bytes` at `name` if `condition` holds, atomically.
    async fn put(
        &self,
        name: &str,
        bytes: Vec<u8>,
        condition: Condition<'_>,
    ) -> Result<(), PutError>;
    /// The names of the objects directly under `dir` (ending in `/`), relative to `dir`.
    async fn list(&self, dir: &str) -> Result<Vec<String>, ObjectError>;
    /// Deletes `name` (no error if it is gone). Only the start-up probe deletes.
    async fn delete(&self, name: &str) -> Result<(), ObjectError>;
    /// The URL of `name`, for messages.
    fn url_of(&self, name: &str) -> String;
}

/// A bucket (or container) and prefix of an object store.
pub(super) struct Bucket {
    store: Arc<dyn ObjectStore>,
    /// `""` or `a/b/`.
    prefix: String,
    /// `s3://bucket/a/b/`, for messages.
    url: String,
}

impl Bucket {
    /// Objects under `prefix` of `store`; `url` is the location as configured.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, url: &str) -> Self {
        let prefix = prefix.trim_matches('/');
        let url = url.trim_end_matches('/');
        Bucket {
            store,
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            url: format!("{url}/"),
        }
    }

    fn path(&self, name: &str) -> Result<StorePath, ObjectError> {
        let full = format!("{}{name}", self.prefix);
        StorePath::parse(&full).map_err(|source| ObjectError::Key { key: full, source })
    }
}

#[async_trait]
impl Objects for Bucket {
    async fn get(&self, name: &str) -> Result<Option<Found>, ObjectError> {
        let path = self.path(name)?;
        let result = match self.store.get(&path).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let version = Version {
            e_tag: result.meta.e_tag.clone(),
            version: result.meta.version.clone(),
        };
        let bytes = result.bytes().await?;
        Ok(Some(Found {
            bytes: bytes.to_vec(),
            version,
        }))
    }

    async fn put(
        &self,
        name: &str,
        bytes: Vec<u8>,
        condition: Condition<'_>,
    ) -> Result<(), PutError> {
        let path = self
            .path(name)
            .map_err(|err| PutError::Failed(err.to_string()))?;
        let mode = match condition {
            Condition::Create => PutMode::Create,
            Condition::Match(version) => PutMode::Update(UpdateVersion {
                e_tag: version.e_tag.clone(),
                version: version.version.clone(),
            }),
        };
        let options = PutOptions {
            mode,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(bytes), options)
            .await
        {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Err(PutError::Lost),
            Err(object_store::Error::NotImplemented { .. }) => Err(PutError::Failed(
                "this store does not do conditional writes".into(),
            )),
            Err(err) => Err(PutError::Failed(err.to_string())),
        }
    }

    async fn list(&self, dir: &str) -> Result<Vec<String>, ObjectError> {
        let path = self.path(dir.trim_end_matches('/'))?;
        let mut listing = self.store.list(Some(&path));
        let mut names = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let full: &str = meta.location.as_ref();
            let under = format!("{}{}", self.prefix, dir);
            if let Some(rest) = full.strip_prefix(&under) {
                // Directly under `dir` only.
                if !rest.contains('/') {
                    names.push(rest.to_string());
                }
            }
        }
        Ok(names)
    }

    async fn delete(&self, name: &str) -> Result<(), ObjectError> {
        let path = self.path(name)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    fn url_of(&self, name: &str) -> String {
        format!("{}{name}", self.url)
    }
}

/// Checks that `objects` honours write conditions, with a scratch object: creating it twice
/// must fail the second time, and an update against a version that is no longer current must
/// fail. A store that ignores either (an old S3-compatible server, a proxy dropping headers)
/// would let two runs overwrite each other's checkpoints, so it is refused.
///
/// A full disk comes back as [`PutError::DiskFull`]; every other problem as
/// [`PutError::Failed`] with its message.
pub(super) async fn probe(objects: &dyn Objects) -> Result<(), PutError> {
    let name = format!("probes/{:016x}.json", rand::random::<u64>());
    let result = probe_at(objects, &name).await;
    // Best effort: a probe object left behind is harmless (nothing reads `probes/`).
    let _ = objects.delete(&name).await;
    result
}

async fn probe_at(objects: &dyn Objects, name: &str) -> Result<(), PutError> {
    let need = "hint: sluice needs conditional writes (If-None-Match: * and If-Match on PUT, as AWS S3, GCS and Azure do); use a store that supports them, or kind = \"sqlite\" / \"postgres\"";
    let refused = |text: String| Err(PutError::Failed(text));
    // A full disk passes through as it is; other failures are explained.
    let failed = |err: PutError| err.context(|detail| format!("{detail} ({need})"));
    let put = |content: &'static str, condition| objects.put(name, content.into(), condition);
    match put("{\"probe\":1}", Condition::Create).await {
        Ok(()) => {}
        Err(PutError::Lost) => {
            return refused(format!(
                "a create-only write of the new object {} was refused as if it existed ({need})",
                objects.url_of(name)
            ))
        }
        Err(err) => {
            return Err(err.context(|detail| format!(
                "cannot write {}: {detail} (hint: check the credentials' permissions on the bucket and that the endpoint is reachable)",
                objects.url_of(name)
            )))
        }
    }
    match put("{\"probe\":2}", Condition::Create).await {
        Err(PutError::Lost) => {}
        Ok(()) => {
            return refused(format!(
                "the store ignored a create-only condition (If-None-Match: *): writing {} twice succeeded ({need})",
                objects.url_of(name)
            ))
        }
        Err(err) => return Err(failed(err)),
    }
    let first = objects
        .get(name)
        .await
        .map_err(|err| PutError::Failed(err.to_string()))?
        .ok_or_else(|| {
            PutError::Failed(format!(
                "{} vanished after it was written",
                objects.url_of(name)
            ))
        })?;
    match put("{\"probe\":3}", Condition::Match(&first.version)).await {
        Ok(()) => {}
        Err(PutError::Lost) => {
            return refused(format!(
                "an update conditional on the version just read was refused ({need})"
            ))
        }
        Err(err) => return Err(failed(err)),
    }
    match put("{\"probe\":4}", Condition::Match(&first.version)).await {
        Err(PutError::Lost) => Ok(()),
        Ok(()) => refused(format!(
            "the store ignored a version condition (If-Match): an update against a stale version of {} succeeded ({need})",
            objects.url_of(name)
        )),
        Err(err) => Err(failed(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that drops update conditions (and create-only ones too unless `.1`), like an
    /// S3-compatible server without conditional writes: it must be refused.
    struct Careless(Bucket, bool);

    #[async_trait]
    impl Objects for Careless {
        async fn get(&self, name: &str) -> Result<Option<Found>, ObjectError> {
            self.0.get(name).await
        }
        async fn put(
            &self,
            name: &str,
            bytes: Vec<u8>,
            condition: Condition<'_>,
        ) -> Result<(), PutError> {
            if self.1 && matches!(condition, Condition::Create) {
                return self.0.put(name, bytes, condition).await;
            }
            let path = self
                .0
                .path(name)
                .map_err(|e| PutError::Failed(e.to_string()))?;
            self.0
                .store
                .put(&path, PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(|e| PutError::Failed(e.to_string()))
        }
        async fn list(&self, dir: &str) -> Result<Vec<String>, ObjectError> {
            self.0.list(dir).await
        }
        async fn delete(&self, name: &str) -> Result<(), ObjectError> {
            self.0.delete(name).await
        }
        fn url_of(&self, name: &str) -> String {
            self.0.url_of(name)
        }
    }

    fn memory() -> Bucket {
        Bucket::new(
            Arc::new(object_store::memory::InMemory::new()),
            "state",
            "memory://bucket/state",
        )
    }

    #[tokio::test]
    async fn a_store_with_conditional_writes_passes_and_leaves_nothing() {
        let bucket = memory();
        probe(&bucket).await.unwrap();
        assert!(bucket.list("probes/").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_store_that_ignores_conditions_is_refused_with_what_it_needs() {
        let err = probe(&Careless(memory(), false))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("If-None-Match"), "{err}");
        assert!(
            err.contains("hint: sluice needs conditional writes"),
            "{err}"
        );
        assert!(err.contains("memory://bucket/state/probes/"), "{err}");
        // Create-only honoured, If-Match ignored: refused too.
        let err = probe(&Careless(memory(), true))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("If-Match"), "{err}");
        assert!(err.contains("stale version"), "{err}");
    }
}
