//! Objects in a local directory (`file:///abs/dir/`), with the conditional writes that
//! `object_store`'s local backend lacks (it cannot update conditionally).
//!
//! How a conditional write is made safe:
//!
//! 1. **Lock.** The writer takes an exclusive `flock` on `<dir>/.lock` (`File::lock`), so
//!    writers of every process using the directory go one at a time. The kernel drops the
//!    lock when its holder dies, even by `kill -9`, so a crash never leaves it stuck.
//! 2. **Check.** Under the lock, it reads the object's current content. Its version is the
//!    SHA-256 of that content; the write goes ahead only if that is the version the writer
//!    read (or, for a create, if there is no object). Equal content means equal state, so a
//!    content digest is as good a version as a counter here.
//! 3. **Write.** The new content goes to a temporary file beside the object, is fsynced, and
//!    renamed over the object (atomic on one file system); then the directory is fsynced.
//!
//! Readers take no lock: a rename replaces the whole file at once, so a reader sees either
//! the old content or the new one. A temporary file left by a crash mid-write ends in
//! `.tmp` and is ignored, and removed by the next open (under the lock, when no write is in
//! flight).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::backend::{Condition, Found, ObjectError, Objects, PutError, Version};

/// The lock file every writer holds while it checks and writes.
const LOCK_FILE: &str = ".lock";

/// A directory of objects.
pub(super) struct Directory {
    root: PathBuf,
}

impl Directory {
    /// Creates the directory if needed and removes temporary files a crash left. Fails with
    /// [`PutError::DiskFull`] when the disk is full, else [`PutError::Failed`].
    pub fn open(root: &Path) -> Result<Self, PutError> {
        std::fs::create_dir_all(root).map_err(|e| io_error("create directory", root, e))?;
        let dir = Directory {
            root: root.to_path_buf(),
        };
        let _lock = dir.lock()?;
        for sub in ["", "checkpoints", "leases", "runs", "probes"] {
            let Ok(entries) = std::fs::read_dir(root.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().ends_with(".tmp") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(dir)
    }

    fn lock(&self) -> Result<File, PutError> {
        let path = self.root.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_error("open lock file", &path, e))?;
        file.lock().map_err(|e| io_error("lock", &path, e))?;
        Ok(file)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn read(&self, name: &str) -> Result<Option<Found>, ObjectError> {
        let path = self.file(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(Found {
                version: digest(&bytes),
                bytes,
            })),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ObjectError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    fn write(&self, name: &str, bytes: &[u8], condition: Condition<'_>) -> Result<(), PutError> {
        let target = self.file(name);
        let parent = target
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        std::fs::create_dir_all(&parent).map_err(|e| io_error("create", &parent, e))?;
        // Held until this function returns (dropping the file releases the lock).
        let _lock = self.lock()?;
        let current = self
            .read(name)
            .map_err(|err| PutError::Failed(err.to_string()))?;
        let holds = match (condition, &current) {
            (Condition::Create, None) => true,
            (Condition::Match(version), Some(found)) => *version == found.version,
            _ => false,
        };
        if !holds {
            return Err(PutError::Lost);
        }
        let temp = target.with_extension(format!("{}.tmp", std::process::id()));
        let mut file = File::create(&temp).map_err(|e| io_error("create", &temp, e))?;
        if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
            // A partial temporary file would hold on to the space a full disk lacks.
            drop(file);
            let _ = std::fs::remove_file(&temp);
            return Err(io_error("write", &temp, e));
        }
        drop(file);
        std::fs::rename(&temp, &target).map_err(|e| io_error("rename into", &target, e))?;
        File::open(&parent)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| io_error("sync", &parent, e))?;
        Ok(())
    }
}

/// A failed file operation: [`PutError::DiskFull`] when the file system is out of space
/// (`ENOSPC`; waiting would not help), else [`PutError::Failed`]. Both name the path.
fn io_error(what: &str, path: &Path, e: std::io::Error) -> PutError {
    let detail = format!("cannot {what} {}: {e}", path.display());
    if e.kind() == std::io::ErrorKind::StorageFull {
        PutError::DiskFull(detail)
    } else {
        PutError::Failed(detail)
    }
}

fn digest(bytes: &[u8]) -> Version {
    let hash = Sha256::digest(bytes);
    Version {
        e_tag: Some(hash.iter().map(|b| format!("{b:02x}")).collect()),
        version: None,
    }
}

#[async_trait]
impl Objects for Directory {
    async fn get(&self, name: &str) -> Result<Option<Found>, ObjectError> {
        let (dir, name) = (self.clone_ref(), name.to_string());
        tokio::task::spawn_blocking(move || dir.read(&name)).await?
    }

    async fn put(
        &self,
        name: &str,
        bytes: Vec<u8>,
        condition: Condition<'_>,
    ) -> Result<(), PutError> {
        let (dir, name) = (self.clone_ref(), name.to_string());
        let version = match condition {
            Condition::Create => None,
            Condition::Match(version) => Some(version.clone()),
        };
        tokio::task::spawn_blocking(move || {
            let condition = match &version {
                None => Condition::Create,
                Some(version) => Condition::Match(version),
            };
            dir.write(&name, &bytes, condition)
        })
        .await
        .map_err(|e| PutError::Failed(e.to_string()))?
    }

    async fn list(&self, dir: &str) -> Result<Vec<String>, ObjectError> {
        let path = self.file(dir);
        let cannot_list = |source| ObjectError::Io {
            action: "list",
            path: path.clone(),
            source,
        };
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(cannot_list(err)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(cannot_list)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".tmp") && entry.file_type().is_ok_and(|t| t.is_file()) {
                names.push(name);
            }
        }
        Ok(names)
    }

    async fn delete(&self, name: &str) -> Result<(), ObjectError> {
        let path = self.file(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(ObjectError::Io {
                action: "delete",
                path,
                source,
            }),
        }
    }

    fn url_of(&self, name: &str) -> String {
        format!("file://{}", self.file(name).display())
    }
}

impl Directory {
    /// A handle for a blocking task (the directory is just its path).
    fn clone_ref(&self) -> Directory {
        Directory {
            root: self.root.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_are_conditional_on_the_content_read() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Directory::open(temp.path()).unwrap();
        dir.put("a/x.json", b"1".to_vec(), Condition::Create)
            .await
            .unwrap();
        assert!(matches!(
            dir.put("a/x.json", b"2".to_vec(), Condition::Create).await,
            Err(PutError::Lost)
        ));
        let first = dir.get("a/x.json").await.unwrap().unwrap();
        dir.put("a/x.json", b"2".to_vec(), Condition::Match(&first.version))
            .await
            .unwrap();
        // The version read before the last write is stale now.
        assert!(matches!(
            dir.put("a/x.json", b"3".to_vec(), Condition::Match(&first.version))
                .await,
            Err(PutError::Lost)
        ));
        assert_eq!(dir.get("a/x.json").await.unwrap().unwrap().bytes, b"2");
        assert_eq!(dir.list("a/").await.unwrap(), ["x.json"]);
        super::super::backend::probe(&dir).await.unwrap();
    }

    /// `ENOSPC` without a mount: the write's temporary file is a link to `/dev/full`, which
    /// answers every write with it. The write is a disk error, and nothing is left behind.
    #[tokio::test]
    async fn a_full_disk_is_a_disk_error_not_a_failure() {
        assert!(
            Path::new("/dev/full").exists(),
            "/dev/full is missing (hint: this test needs Linux)"
        );
        let temp = tempfile::tempdir().unwrap();
        let dir = Directory::open(temp.path()).unwrap();
        let temp_file = temp.path().join(format!("x.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink("/dev/full", &temp_file).unwrap();
        match dir.put("x.json", b"1".to_vec(), Condition::Create).await {
            Err(PutError::DiskFull(detail)) => {
                assert!(
                    detail.contains(&temp_file.display().to_string()),
                    "{detail}"
                );
                assert!(detail.contains("No space left on device"), "{detail}");
            }
            other => panic!("not a disk error: {other:?}"),
        }
        assert!(!temp_file.exists(), "the temporary file was left behind");
        assert!(dir.get("x.json").await.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_writers_never_both_win() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().to_path_buf();
        Directory::open(&root)
            .unwrap()
            .put("n.json", b"0".to_vec(), Condition::Create)
            .await
            .unwrap();
        // Eight writers each add one to a counter 25 times, re-reading after a lost race:
        // with every write conditional, no increment is lost.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let root = root.clone();
                tokio::spawn(async move {
                    let dir = Directory::open(&root).unwrap();
                    for _ in 0..25 {
                        loop {
                            let found = dir.get("n.json").await.unwrap().unwrap();
                            let n: u64 = String::from_utf8(found.bytes).unwrap().parse().unwrap();
                            let next = (n + 1).to_string().into_bytes();
                            match dir
                                .put("n.json", next, Condition::Match(&found.version))
                                .await
                            {
                                Ok(()) => break,
                                Err(PutError::Lost) => continue,
                                Err(e) => panic!("{e}"),
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let dir = Directory::open(&root).unwrap();
        assert_eq!(dir.get("n.json").await.unwrap().unwrap().bytes, b"200");
    }
}
