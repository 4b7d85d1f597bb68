//! Reading (and, for retention, pruning) a lake outside a commit, local or in an object
//! store: what `sluice lake verify`, `retain` and `replay` share. Listing, small reads
//! (ledger records), streamed digests and copies of objects, create-only writes of ledger
//! records, deletes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::ledger::{self, MANIFEST_DIR};
use super::{store, LakeLocation};
use crate::sink::config::LakeConfig;
use crate::sink::SinkError;

/// Why reading (or pruning) a lake failed: what was done to which file, or the object
/// store's own account (which names the URL).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// A local file or directory.
    #[error("cannot {action} {path}: {source}")]
    File {
        /// What was being done: `list`, `read`, `write`, `delete`.
        action: &'static str,
        /// The file's path.
        path: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// The temporary file an object is copied into.
    #[error("cannot make a temporary file to read {key}: {source}")]
    TempFile {
        /// The object's key.
        key: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// Reading back the temporary copy of an object.
    #[error("cannot read back {key}: {source}")]
    ReadBack {
        /// The object's key.
        key: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// The object store (its detail names the object and says what to do).
    #[error("{0}")]
    Store(String),
}

impl ReadError {
    fn file(action: &'static str, path: &Path, source: std::io::Error) -> ReadError {
        ReadError::File {
            action,
            path: path.display().to_string(),
            source,
        }
    }

    fn store(err: SinkError) -> ReadError {
        ReadError::Store(err.detail)
    }
}

/// A lake, local or in an object store, read by key relative to its root.
pub(super) enum Reader {
    Local(PathBuf),
    Store(Box<store::Store>),
}

impl Reader {
    /// The reader of the lake `config` describes (nothing is sent until it is used).
    pub fn open(config: &LakeConfig) -> Result<Reader, SinkError> {
        Ok(match config.location() {
            LakeLocation::Directory(root) => Reader::Local(root),
            LakeLocation::Store { .. } => Reader::Store(Box::new(store::Store::build(config)?)),
        })
    }

    /// Every file or object under `dir` (relative to the root, ending in `/` or empty),
    /// recursively, as keys relative to the root.
    pub async fn list(&self, dir: &str) -> Result<Vec<String>, ReadError> {
        match self {
            Reader::Local(root) => {
                let mut keys = Vec::new();
                walk(root, &root.join(dir), &mut keys).map_err(|source| ReadError::File {
                    action: "list",
                    path: format!("{}{dir}", root.display()),
                    source,
                })?;
                Ok(keys)
            }
            Reader::Store(store) => Ok(store
                .list(dir)
                .await
                .map_err(ReadError::store)?
                .iter()
                .map(|meta| store.relative(&meta.location).to_string())
                .collect()),
        }
    }

    /// The whole content of a (small) ledger record.
    pub async fn read(&self, key: &str) -> Result<Vec<u8>, ReadError> {
        match self {
            Reader::Local(root) => std::fs::read(root.join(key))
                .map_err(|e| ReadError::file("read", &root.join(key), e)),
            Reader::Store(store) => {
                Ok(store.get_rel(key).await.map_err(ReadError::store)?.to_vec())
            }
        }
    }

    /// SHA-256 and size of an object, streamed; `None` when it is not there.
    pub async fn digest(&self, key: &str) -> Result<Option<(String, u64)>, ReadError> {
        match self {
            Reader::Local(root) => {
                // On a thread of its own, so that several files are read at once.
                let path = root.join(key);
                let shown = path.clone();
                tokio::task::spawn_blocking(move || digest_file(&path))
                    .await
                    .map_err(|e| ReadError::file("read", &shown, std::io::Error::other(e)))?
                    .map_err(|e| ReadError::file("read", &shown, e))
            }
            Reader::Store(store) => store.digest_rel(key).await.map_err(ReadError::store),
        }
    }

    /// When the object at `key` was last written; `None` when it is not there.
    pub async fn modified(&self, key: &str) -> Result<Option<DateTime<Utc>>, ReadError> {
        match self {
            Reader::Local(root) => match std::fs::metadata(root.join(key)) {
                Ok(meta) => Ok(meta.modified().ok().map(DateTime::<Utc>::from)),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(err) => Err(ReadError::file("read", &root.join(key), err)),
            },
            Reader::Store(store) => Ok(store
                .head_rel(key)
                .await
                .map_err(ReadError::store)?
                .map(|meta| meta.last_modified)),
        }
    }

    /// Opens the object at `key` for reading as a stream of its bytes: a local file as it
    /// is, an object copied first into an anonymous temporary file (so memory never holds
    /// it). `None` when it is not there.
    pub async fn open_object(&self, key: &str) -> Result<Option<std::fs::File>, ReadError> {
        match self {
            Reader::Local(root) => match std::fs::File::open(root.join(key)) {
                Ok(file) => Ok(Some(file)),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(err) => Err(ReadError::file("read", &root.join(key), err)),
            },
            Reader::Store(store) => {
                use std::io::Seek;
                let mut file = anonymous_file().map_err(|source| ReadError::TempFile {
                    key: key.to_string(),
                    source,
                })?;
                if !store
                    .download_rel(key, &mut file)
                    .await
                    .map_err(ReadError::store)?
                {
                    return Ok(None);
                }
                file.rewind().map_err(|source| ReadError::ReadBack {
                    key: key.to_string(),
                    source,
                })?;
                Ok(Some(file))
            }
        }
    }

    /// Writes `bytes` at `key` unless something is there: `false` when something is (and
    /// then nothing was written). Local files appear whole (written aside, then linked).
    pub async fn put_new(&self, key: &str, bytes: &[u8]) -> Result<bool, ReadError> {
        match self {
            Reader::Local(root) => put_new_file(root, key, bytes)
                .map_err(|e| ReadError::file("write", &root.join(key), e)),
            Reader::Store(store) => store
                .put_new_rel(key, bytes.to_vec())
                .await
                .map_err(ReadError::store),
        }
    }

    /// Deletes the object at `key`; one already gone is no error.
    pub async fn delete(&self, key: &str) -> Result<(), ReadError> {
        match self {
            Reader::Local(root) => match std::fs::remove_file(root.join(key)) {
                Ok(()) => Ok(()),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(err) => Err(ReadError::file("delete", &root.join(key), err)),
            },
            Reader::Store(store) => store.delete_rel(key).await.map_err(ReadError::store),
        }
    }

    /// The ledger records of every chain of source `safe` (sanitized), by chain, each
    /// chain's keys in order (records sort by commit).
    pub async fn chains(&self, safe: &str) -> Result<BTreeMap<String, Vec<String>>, ReadError> {
        let mut chains: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for key in self.list(&format!("{MANIFEST_DIR}/")).await? {
            let Some((dir, _)) = key
                .strip_prefix(&format!("{MANIFEST_DIR}/"))
                .and_then(|rest| rest.split_once('/'))
            else {
                continue;
            };
            let Some(chain) = ledger::scope_of_dir(dir) else {
                continue;
            };
            if ledger::source_of_scope(chain) == safe && key.ends_with(".json") {
                chains.entry(chain.to_string()).or_default().push(key);
            }
        }
        for keys in chains.values_mut() {
            keys.sort();
        }
        Ok(chains)
    }
}

/// Writes `bytes` to a temporary file beside `key`, fsyncs it, and links it to `key`
/// (which fails if `key` exists): a reader never sees half a record.
fn put_new_file(root: &Path, key: &str, bytes: &[u8]) -> std::io::Result<bool> {
    use std::io::Write;
    let path = root.join(key);
    let dir = path.parent().unwrap_or(root);
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".{:016x}.tmp", rand::random::<u64>()));
    let linked = (|| {
        let mut file = std::fs::File::create_new(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        match std::fs::hard_link(&temp, &path) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(err) => Err(err),
        }
    })();
    let _ = std::fs::remove_file(&temp);
    let done = linked?;
    if let Ok(dir) = std::fs::File::open(dir) {
        // A directory fsync makes the new name durable; file systems that refuse it
        // (some network mounts) still hold the file.
        let _ = dir.sync_all();
    }
    Ok(done)
}

/// A new file in the temporary directory, already unlinked: it is gone when closed, even
/// after a crash.
fn anonymous_file() -> std::io::Result<std::fs::File> {
    let path = std::env::temp_dir().join(format!("sluice-{:016x}.tmp", rand::random::<u64>()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    // On Unix the open file outlives its name; elsewhere the name stays until removed by
    // the system's temporary-file cleanup.
    let _ = std::fs::remove_file(&path);
    Ok(file)
}

/// Every file under `dir`, as keys relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &path, out)?;
        } else {
            let key = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push(key);
        }
    }
    Ok(())
}

/// SHA-256 and size of a file, read in chunks; `None` when it does not exist.
fn digest_file(path: &Path) -> std::io::Result<Option<(String, u64)>> {
    use sha2::Digest;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buffer[..n]);
                size += n as u64;
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(Some((ledger::hex(&hasher.finalize()), size)))
}
