//! The object-store backend (S3 and S3-compatible stores, GCS, Azure), over `object_store`.
//!
//! - **Stage**: each open object is compressed into memory and, once it holds `part_size`
//!   bytes, becomes a multipart upload to `<prefix>_staging/source=<name>/<run>-<n>.partial`,
//!   fed part by part with at most [`PARTS_IN_FLIGHT`] parts uploading. Memory per open object
//!   stays near `part_size × (1 + PARTS_IN_FLIGHT)`, however large the object grows. Smaller
//!   objects are sent with one `PUT` at prepare.
//! - **Prepare**: the last part is sent and the upload completed (or the single `PUT` made).
//!   A completed upload is durable, and invisible to readers of the layout: it is outside
//!   `source=*/` and its name ends in `.partial`.
//! - **Publish**: a create-only server-side copy to the final key (`If-None-Match: *` on S3
//!   and Azure, `x-goog-if-generation-match: 0` on GCS; see [`CreateCopy`]), then the staged
//!   object is deleted. Idempotent: a staged object that is gone while its final key exists
//!   means a previous publish got that far, and a key that already holds the staged bytes (a
//!   crash between copy and delete) is accepted. A key holding anything else is never
//!   replaced: the publish fails.
//!
//! Unfinished multipart uploads (a crash mid-upload) cannot be listed through `object_store`:
//! a bucket lifecycle rule "abort incomplete multipart uploads after 1 day" removes their parts.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::{PreparedObject, STAGING_DIR};
use crate::sink::config::LakeConfig;
use crate::sink::lake::LakeLocation;
use crate::sink::{Published, SinkError};

/// Parts of one object uploading at once; the next part waits (back pressure on the pages).
pub(crate) const PARTS_IN_FLIGHT: usize = 2;

/// Bytes read from each side at a time when an object found at a key is compared with the
/// staged one.
const COMPARE_CHUNK: u64 = 8 * 1024 * 1024;

/// A bucket and prefix of an object store.
pub(crate) struct Store {
    sink: String,
    store: Arc<dyn ObjectStore>,
    /// `""` or `a/b/`: what every key is under.
    prefix: String,
    /// The lake's URL, for messages.
    url: String,
    part_size: usize,
    /// How the client is asked for a create-only copy.
    create_copy: CreateCopy,
    /// s3:// lakes with `object_lock`: publishes by a copy that sets the retention.
    #[cfg(feature = "s3")]
    locked: Option<super::object_lock::LockedCopier>,
}

/// How a create-only copy is asked of the store's client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CreateCopy {
    /// `copy_if_not_exists`: the client sends the store's own precondition.
    IfNotExists,
    /// `copy`, on GCS: `object_store` 0.13's GCS client has the two calls swapped (its
    /// `copy_opts` passes `CopyMode::Overwrite` as "if not exists", upstream
    /// apache/arrow-rs-object-store#712), so `copy` is the one that sends
    /// `x-goog-if-generation-match: 0` and `copy_if_not_exists` sends no precondition at
    /// all. `tests/it/lake_gcs.rs` (a writer racing the copy, against an emulator that honours
    /// the precondition) fails when an upgrade swaps them back; use `IfNotExists` then.
    GcsSwapped,
}

/// A staged object's upload, once it outgrew one part.
pub(crate) type Upload = WriteMultipart;

impl Store {
    /// Connects to the store the config's `url` names. Nothing is sent until the first write.
    pub fn build(config: &LakeConfig) -> Result<Store, SinkError> {
        let LakeLocation::Store {
            scheme,
            bucket,
            prefix,
        } = config.location()
        else {
            return Err(SinkError {
                sink: config.name.clone(),
                detail: "internal error: an object store was asked for a local lake".into(),
            });
        };
        let connected = connect(config, scheme, &bucket).map_err(|err| SinkError {
            sink: config.name.clone(),
            detail: format!(
                "cannot set up {}: {err} (hint: check the url, endpoint, region and the store's credentials in the environment)",
                config.display_location()
            ),
        })?;
        let mut store = Store::new(config, connected.store, &prefix);
        if scheme == super::StoreScheme::Gcs {
            store.create_copy = CreateCopy::GcsSwapped;
        }
        #[cfg(feature = "s3")]
        {
            store.locked = connected.locked;
        }
        Ok(store)
    }

    /// A backend over an existing store (tests use `object_store::memory::InMemory`).
    pub fn new(config: &LakeConfig, store: Arc<dyn ObjectStore>, prefix: &str) -> Store {
        let prefix = prefix.trim_matches('/');
        Store {
            sink: config.name.clone(),
            store,
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            url: config.display_location(),
            part_size: usize::try_from(config.part_size.as_u64()).unwrap_or(usize::MAX),
            create_copy: CreateCopy::IfNotExists,
            #[cfg(feature = "s3")]
            locked: None,
        }
    }

    /// The staging "directory" of `source` (sanitized), relative to the prefix.
    pub fn staging_rel(source: &str) -> String {
        format!("{STAGING_DIR}/source={source}/")
    }

    /// The full key of `rel` (a key relative to the lake's prefix).
    fn path(&self, rel: &str) -> Result<StorePath, SinkError> {
        let full = format!("{}{rel}", self.prefix);
        StorePath::parse(&full).map_err(|err| self.error("use key", &full, err))
    }

    fn error(&self, action: &str, key: &str, err: impl std::fmt::Display) -> SinkError {
        SinkError {
            sink: self.sink.clone(),
            detail: format!(
                "cannot {action} {key} in {}: {err} (hint: check the credentials' permissions on the bucket, and that the endpoint is reachable)",
                self.url
            ),
        }
    }

    /// Whether an open object holds a full part to send.
    pub fn part_ready(&self, buffered: usize) -> bool {
        buffered >= self.part_size
    }

    /// Sends `bytes` (a full part or more) of the staged object `staged`, starting its
    /// multipart upload if needed, and waits while too many parts are in flight.
    pub async fn send_part(
        &self,
        staged: &str,
        upload: &mut Option<Upload>,
        bytes: Vec<u8>,
    ) -> Result<(), SinkError> {
        if upload.is_none() {
            let path = self.path(staged)?;
            let multipart = self
                .store
                .put_multipart(&path)
                .await
                .map_err(|e| self.error("start upload of", path.as_ref(), e))?;
            *upload = Some(WriteMultipart::new_with_chunk_size(
                multipart,
                self.part_size,
            ));
        }
        if let Some(writer) = upload.as_mut() {
            writer.put(Bytes::from(bytes));
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(|e| self.error("upload a part of", staged, e))?;
        }
        Ok(())
    }

    /// Finishes the staged object `staged` with its last `rest` bytes: completes its upload,
    /// or puts it whole. Afterwards the object is durable.
    pub async fn seal(
        &self,
        staged: &str,
        upload: Option<Upload>,
        rest: Vec<u8>,
    ) -> Result<(), SinkError> {
        match upload {
            Some(mut writer) => {
                writer.put(Bytes::from(rest));
                writer
                    .finish()
                    .await
                    .map_err(|e| self.error("complete the upload of", staged, e))?;
            }
            None => {
                let path = self.path(staged)?;
                self.store
                    .put(&path, PutPayload::from(rest))
                    .await
                    .map_err(|e| self.error("upload", staged, e))?;
            }
        }
        Ok(())
    }

    /// Copies each staged object to its key, create-only, then deletes the staged one.
    /// Idempotent, and never replaces a published object: an object already at the key is
    /// accepted only when it holds the staged bytes (an earlier attempt copied it), or when
    /// the staged one is gone (an earlier attempt copied and deleted it). `scope` is the
    /// staging scope, for messages.
    pub async fn publish(
        &self,
        objects: &[PreparedObject],
        scope: &str,
    ) -> Result<Published, SinkError> {
        let mut published = Published::default();
        for object in objects {
            let staged = self.path(&object.staged)?;
            let key = self.path(&object.key)?;
            // Looked up first as well: some S3-compatible stores ignore `If-None-Match` on a
            // copy, and the lookup keeps them from replacing an object in all but a race
            // that the source's lease already rules out.
            let mut exists = self.exists(&key).await?;
            if !exists {
                match self.copy_create(&staged, &key).await {
                    Ok(()) => {}
                    Err(object_store::Error::AlreadyExists { .. }) => exists = true,
                    Err(object_store::Error::NotFound { .. }) => {
                        // Gone from staging: published already, if the key is there now.
                        if !self.exists(&key).await? {
                            return Err(SinkError {
                                sink: self.sink.clone(),
                                detail: format!(
                                    "object {} of an interrupted commit is neither staged nor published in {}; something removed {}. The checkpoint was not moved and the commit stays pending; restore the object or ask for help before changing the state",
                                    key, self.url, staged
                                ),
                            });
                        }
                    }
                    Err(err) => return Err(self.error("publish (copy to)", key.as_ref(), err)),
                }
            }
            if exists {
                match self.same_content(&staged, &key).await? {
                    // The staged object is gone: an earlier attempt copied and deleted it.
                    None | Some(true) => {}
                    Some(false) => {
                        return Err(super::overwrite_refused(
                            &self.sink,
                            key.as_ref(),
                            &self.url,
                            scope,
                        ))
                    }
                }
            }
            match self.store.delete(&staged).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(self.error("delete staged", staged.as_ref(), err)),
            }
            published.objects += 1;
            published.bytes += object.bytes;
        }
        Ok(published)
    }

    /// Whether an object is at `key`.
    async fn exists(&self, key: &StorePath) -> Result<bool, SinkError> {
        match self.store.head(key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(self.error("check", key.as_ref(), err)),
        }
    }

    /// Whether the staged object holds the same bytes as the one at `key`; `None` when the
    /// staged object is gone. Compared range by range, so memory stays bounded.
    async fn same_content(
        &self,
        staged: &StorePath,
        key: &StorePath,
    ) -> Result<Option<bool>, SinkError> {
        let ours = match self.store.head(staged).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(self.error("check", staged.as_ref(), err)),
        };
        let theirs = self
            .store
            .head(key)
            .await
            .map_err(|e| self.error("check", key.as_ref(), e))?;
        if ours.size != theirs.size {
            return Ok(Some(false));
        }
        let mut start = 0u64;
        while start < ours.size {
            let end = (start + COMPARE_CHUNK).min(ours.size);
            let (a, b) = futures_util::try_join!(
                self.store.get_range(staged, start..end),
                self.store.get_range(key, start..end)
            )
            .map_err(|e| self.error("compare", key.as_ref(), e))?;
            if a != b {
                return Ok(Some(false));
            }
            start = end;
        }
        Ok(Some(true))
    }

    /// Copies a staged object to its final key unless an object is there
    /// ([`object_store::Error::AlreadyExists`] then): with the lake's Object Lock retention
    /// when it has one, else by the store's own create-only copy (see [`CreateCopy`]).
    async fn copy_create(&self, staged: &StorePath, key: &StorePath) -> object_store::Result<()> {
        #[cfg(feature = "s3")]
        if let Some(locked) = &self.locked {
            return locked.copy(staged, key).await;
        }
        match self.create_copy {
            CreateCopy::IfNotExists => self.store.copy_if_not_exists(staged, key).await,
            CreateCopy::GcsSwapped => self.store.copy(staged, key).await,
        }
    }

    /// Deletes every staged object of `source` (sanitized).
    pub async fn discard(&self, source: &str) -> Result<(), SinkError> {
        let rel = Store::staging_rel(source);
        for meta in self.list(&rel).await? {
            match self.store.delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(self.error("delete staged", meta.location.as_ref(), err)),
            }
        }
        Ok(())
    }

    /// Every object under `rel` (relative to the prefix, ending in `/` or empty).
    pub async fn list(&self, rel: &str) -> Result<Vec<object_store::ObjectMeta>, SinkError> {
        let dir = self.path(rel)?;
        let mut listing = self.store.list(Some(&dir));
        let mut found = Vec::new();
        while let Some(meta) = listing.next().await {
            found.push(meta.map_err(|e| self.error("list", dir.as_ref(), e))?);
        }
        Ok(found)
    }

    /// The objects under `rel`, as they are listed (for callers that may stop early).
    pub fn list_stream(
        &self,
        rel: &str,
    ) -> Result<
        futures_util::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>>,
        SinkError,
    > {
        let dir = self.path(rel)?;
        Ok(self.store.list(Some(&dir)))
    }

    /// The error of a listing of `rel` that failed.
    pub fn list_error(&self, rel: &str, err: object_store::Error) -> SinkError {
        self.error("list", &format!("{}{rel}", self.prefix), err)
    }

    /// The whole content of the object at `rel` (relative to the prefix).
    pub async fn get_rel(&self, rel: &str) -> Result<Bytes, SinkError> {
        let path = self.path(rel)?;
        self.get(&path).await
    }

    /// SHA-256 (hex) and size of the object at `rel`, read as a stream (memory stays at
    /// one chunk whatever its size); `None` when there is no object there.
    pub async fn digest_rel(&self, rel: &str) -> Result<Option<(String, u64)>, SinkError> {
        use sha2::Digest;
        let path = self.path(rel)?;
        let result = match self.store.get(&path).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(self.error("read", rel, err)),
        };
        let mut stream = result.into_stream();
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.error("read", rel, e))?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok(Some((super::ledger::hex(&hasher.finalize()), size)))
    }

    /// Puts `bytes` at `rel` unless an object is there already: `false` (and nothing
    /// written) when one is. Used for ledger records written outside a commit (retention).
    pub async fn put_new_rel(&self, rel: &str, bytes: Vec<u8>) -> Result<bool, SinkError> {
        let path = self.path(rel)?;
        let options = object_store::PutOptions {
            mode: object_store::PutMode::Create,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(bytes.clone()), options)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            // A store without conditional puts: look first (a race is caught by the
            // record's chain, which verify checks).
            Err(object_store::Error::NotImplemented { .. }) => {
                if self.head_rel(rel).await?.is_some() {
                    return Ok(false);
                }
                self.store
                    .put(&path, PutPayload::from(bytes))
                    .await
                    .map_err(|e| self.error("upload", rel, e))?;
                Ok(true)
            }
            Err(err) => Err(self.error("upload", rel, err)),
        }
    }

    /// Deletes the object at `rel`; one already gone is no error.
    pub async fn delete_rel(&self, rel: &str) -> Result<(), SinkError> {
        let path = self.path(rel)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(self.error("delete", rel, err)),
        }
    }

    /// The object at `rel`'s listing entry (size, last write); `None` when it is not there.
    pub async fn head_rel(&self, rel: &str) -> Result<Option<object_store::ObjectMeta>, SinkError> {
        let path = self.path(rel)?;
        match self.store.head(&path).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(self.error("read", rel, err)),
        }
    }

    /// Copies the object at `rel` into `out` chunk by chunk (memory stays at one chunk);
    /// `false` when there is no object there.
    pub async fn download_rel(
        &self,
        rel: &str,
        out: &mut impl std::io::Write,
    ) -> Result<bool, SinkError> {
        let path = self.path(rel)?;
        let result = match self.store.get(&path).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(err) => return Err(self.error("read", rel, err)),
        };
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.error("read", rel, e))?;
            out.write_all(&chunk)
                .map_err(|e| self.error("copy to a local file", rel, e))?;
        }
        Ok(true)
    }

    /// A key relative to the prefix, for a listed object.
    pub fn relative<'a>(&self, location: &'a StorePath) -> &'a str {
        let full: &str = location.as_ref();
        full.strip_prefix(&self.prefix).unwrap_or(full)
    }

    /// The whole content of a listed object.
    pub async fn get(&self, location: &StorePath) -> Result<Bytes, SinkError> {
        let result = self
            .store
            .get(location)
            .await
            .map_err(|e| self.error("read", location.as_ref(), e))?;
        result
            .bytes()
            .await
            .map_err(|e| self.error("read", location.as_ref(), e))
    }
}

/// A connected store, and what publishes into it with Object Lock retention.
struct Connected {
    store: Arc<dyn ObjectStore>,
    #[cfg(feature = "s3")]
    locked: Option<super::object_lock::LockedCopier>,
}

/// Why a lake's store client could not be set up.
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    /// The object-store layer refused the settings.
    #[error("{0}")]
    Store(String),
    /// The client of Object Lock copies could not be built.
    #[cfg(feature = "s3")]
    #[error("Object Lock copies: {0}")]
    Copier(#[from] crate::net::NetError),
}

/// Builds the client for `scheme` (see [`crate::cloud::connect`]); an S3 lake with Object
/// Lock also gets what copies into the bucket with retention.
fn connect(
    config: &LakeConfig,
    scheme: super::StoreScheme,
    bucket: &str,
) -> Result<Connected, ConnectError> {
    let store = |e: &dyn std::fmt::Display| ConnectError::Store(e.to_string());
    let options = config.store_options();
    #[cfg(feature = "s3")]
    if let (super::StoreScheme::S3, Some(lock)) = (scheme, config.object_lock) {
        // S3 requires a checksum (or Content-MD5) on uploads to buckets with a default
        // retention; see object_lock.rs.
        let builder = crate::cloud::s3_builder(bucket, &options)
            .with_checksum_algorithm(object_store::aws::Checksum::SHA256);
        let s3 = Arc::new(builder.clone().build().map_err(|e| store(&e))?);
        let locked =
            super::object_lock::LockedCopier::new(&builder, Arc::clone(&s3), bucket, lock)?;
        return Ok(Connected {
            store: s3,
            locked: Some(locked),
        });
    }
    #[cfg(feature = "s3")]
    if scheme == super::StoreScheme::S3 {
        // Create-only copies as `CopyObject` with `If-None-Match: *`, which S3 answers with
        // 412 when the key exists (object_store then reports `AlreadyExists`).
        let builder = crate::cloud::s3_builder(bucket, &options).with_copy_if_not_exists(
            object_store::aws::S3CopyIfNotExists::Header("If-None-Match".into(), "*".into()),
        );
        return Ok(Connected {
            store: Arc::new(builder.build().map_err(|e| store(&e))?),
            locked: None,
        });
    }
    Ok(Connected {
        store: crate::cloud::connect(scheme, bucket, &options).map_err(|e| store(&e))?,
        #[cfg(feature = "s3")]
        locked: None,
    })
}
