//! The local-directory backend: staged files, fsync, a create-only atomic rename, a lock per
//! source.
//!
//! Kept rather than object_store's `LocalFileSystem`, which writes through a temporary file
//! and a rename but never fsyncs: after a power loss a "prepared" object could be gone while
//! its intent is recorded, and that commit could never finish. Here a staged file and its
//! directory are fsynced before `prepare` returns, and renames are fsynced on publish.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::encode::Output;
use super::{PreparedObject, STAGING_DIR};
use crate::sink::{Published, SinkError};

/// A local lake directory, locked for one source (or one backfill window of it).
pub(crate) struct Local {
    sink: String,
    root: PathBuf,
    /// `_staging/source=<scope>` under the root.
    staging_rel: String,
    /// The sanitized source, or `<source>@<window>`.
    scope: String,
    /// Taken before the first file operation and held while the sink exists: a second
    /// process on the same source and lake would otherwise clean this one's staging
    /// directory. Not taken at open, so a run that finds the source's lease held elsewhere
    /// ends cleanly without touching the lake.
    lock: OnceLock<File>,
}

impl Local {
    /// The lake at `root` for `scope` (a sanitized source, or `<source>@<window>`).
    pub fn open(sink: &str, root: &Path, scope: &str) -> Local {
        Local {
            sink: sink.to_string(),
            root: root.to_path_buf(),
            staging_rel: format!("{STAGING_DIR}/source={scope}"),
            scope: scope.to_string(),
            lock: OnceLock::new(),
        }
    }

    /// The lake's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the scope's lock unless held already.
    fn ensure_locked(&self) -> Result<(), SinkError> {
        if self.lock.get().is_none() {
            let file = lock_scope(&self.sink, &self.root, &self.scope)?;
            // Only this sink's own (sequential) calls get here, so the cell is still empty.
            let _ = self.lock.set(file);
        }
        Ok(())
    }

    /// The staged object's path relative to the root, for an object numbered `n`.
    pub fn staged_name(&self, n: u64, extension: &str) -> String {
        format!("{}/{n:06}{extension}.partial", self.staging_rel)
    }

    fn error(&self, action: &str, path: &Path, err: impl std::fmt::Display) -> SinkError {
        SinkError {
            sink: self.sink.clone(),
            detail: format!(
                "cannot {action} {}: {err} (hint: check free space and that sluice may write there)",
                path.display()
            ),
        }
    }

    /// Creates the staged file `staged` (relative to the root).
    pub fn create(&self, staged: &str) -> Result<Output, SinkError> {
        self.ensure_locked()?;
        let dir = self.root.join(&self.staging_rel);
        fs::create_dir_all(&dir).map_err(|e| self.error("create directory", &dir, e))?;
        let path = self.root.join(staged);
        let file = File::create(&path).map_err(|e| self.error("create", &path, e))?;
        Ok(Output::File(BufWriter::with_capacity(256 * 1024, file)))
    }

    /// Writes `bytes` as the staged file `name` in the scope's staging directory and fsyncs
    /// it; returns its path relative to the root. (`sync_staging` makes its name durable.)
    pub fn stage_bytes(&self, name: &str, bytes: &[u8]) -> Result<String, SinkError> {
        use std::io::Write;
        self.ensure_locked()?;
        let dir = self.root.join(&self.staging_rel);
        fs::create_dir_all(&dir).map_err(|e| self.error("create directory", &dir, e))?;
        let staged = format!("{}/{name}.partial", self.staging_rel);
        let path = self.root.join(&staged);
        let mut file = File::create(&path).map_err(|e| self.error("create", &path, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| self.error("write", &path, e))?;
        Ok(staged)
    }

    /// The bytes of the file under `dir` (relative to the root) whose name ends in `suffix`
    /// and sorts last before `before`; `None` when there is none.
    pub fn newest_file(
        &self,
        dir: &str,
        suffix: &str,
        before: &str,
    ) -> Result<Option<Vec<u8>>, SinkError> {
        let dir = self.root.join(dir);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(self.error("list", &dir, err)),
        };
        let mut newest: Option<String> = None;
        for entry in entries {
            let entry = entry.map_err(|e| self.error("list", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(suffix)
                && name.as_str() < before
                && newest.as_ref().is_none_or(|n| name > *n)
            {
                newest = Some(name);
            }
        }
        let Some(name) = newest else {
            return Ok(None);
        };
        let path = dir.join(name);
        fs::read(&path)
            .map(Some)
            .map_err(|e| self.error("read", &path, e))
    }

    /// Flushes and fsyncs a finished staged file.
    pub fn seal(&self, staged: &str, out: Output) -> Result<(), SinkError> {
        let path = self.root.join(staged);
        if let Output::File(writer) = out {
            let file = writer
                .into_inner()
                .map_err(|e| self.error("flush", &path, e.error().to_string()))?;
            file.sync_all().map_err(|e| self.error("sync", &path, e))?;
        }
        Ok(())
    }

    /// Makes the staged files' names durable.
    pub fn sync_staging(&self) -> Result<(), SinkError> {
        let dir = self.root.join(&self.staging_rel);
        sync_dir(&dir).map_err(|e| self.error("sync directory", &dir, e))
    }

    /// Moves each staged file to its key without ever replacing a file there (see
    /// [`publish_no_replace`]); a staged file already gone whose key exists was published by
    /// an earlier attempt.
    pub fn publish(&self, objects: &[PreparedObject]) -> Result<Published, SinkError> {
        self.ensure_locked()?;
        let mut published = Published::default();
        let mut dirs = HashSet::new();
        for object in objects {
            let staged = self.root.join(&object.staged);
            let key = self.root.join(&object.key);
            let dir = key.parent().unwrap_or(&self.root).to_path_buf();
            if staged.exists() {
                fs::create_dir_all(&dir).map_err(|e| self.error("create directory", &dir, e))?;
                match publish_no_replace(&staged, &key) {
                    Ok(()) => {}
                    Err(Refused::Different) => {
                        return Err(super::overwrite_refused(
                            &self.sink,
                            &object.key,
                            &self.root.display().to_string(),
                            &self.scope,
                        ))
                    }
                    Err(Refused::Io(e)) => return Err(self.error("publish", &key, e)),
                }
            } else if !key.exists() {
                return Err(SinkError {
                    sink: self.sink.clone(),
                    detail: format!(
                        "object {} of an interrupted commit is neither staged nor published; something removed {}. The checkpoint was not moved and the commit stays pending; restore the file or ask for help before changing the state",
                        object.key,
                        staged.display()
                    ),
                });
            }
            dirs.insert(dir);
            published.objects += 1;
            published.bytes += object.bytes;
        }
        for dir in dirs {
            sync_dir(&dir).map_err(|e| self.error("sync directory", &dir, e))?;
        }
        Ok(published)
    }

    /// Deletes the source's staging directory.
    pub fn discard(&self) -> Result<(), SinkError> {
        self.ensure_locked()?;
        let dir = self.root.join(&self.staging_rel);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(self.error("clean staging directory", &dir, err)),
        }
    }
}

/// Takes the lake's lock for `source` (or a window of it), failing at once if another process
/// holds it.
fn lock_scope(sink: &str, root: &Path, source: &str) -> Result<File, SinkError> {
    let dir = root.join(STAGING_DIR);
    let path = dir.join(format!("source={source}.lock"));
    let fail = |detail: String| SinkError {
        sink: sink.to_string(),
        detail,
    };
    fs::create_dir_all(&dir).map_err(|e| {
        fail(format!(
            "cannot create directory {}: {e} (hint: check that sluice may write there)",
            dir.display()
        ))
    })?;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| fail(format!("cannot open lock file {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(fail(format!(
            "another sluice process is writing source `{source}` to this lake (lock {} is held); run one process per source",
            path.display()
        ))),
        Err(fs::TryLockError::Error(e)) => {
            Err(fail(format!("cannot lock {}: {e}", path.display())))
        }
    }
}

/// Why a staged file was not published.
#[derive(Debug)]
pub(crate) enum Refused {
    /// Its key holds a file with other content, which is never replaced.
    Different,
    /// The file system failed.
    Io(io::Error),
}

/// Moves `staged` to `key` unless a file is at `key`: a published object is never replaced.
/// When one is there already with the same bytes (an earlier attempt got that far), the
/// staged copy is dropped and this succeeds; with other bytes it is [`Refused::Different`]
/// and both files stay.
///
/// Linux renames with `RENAME_NOREPLACE` (one atomic step); where the file system does not
/// support it, and elsewhere, the file is hard-linked to its key (which fails if the key
/// exists) and then unlinked from staging. A crash between the two leaves both names on one
/// file, which the next attempt finds identical.
pub(crate) fn publish_no_replace(staged: &Path, key: &Path) -> Result<(), Refused> {
    match rename_no_replace(staged, key) {
        Ok(()) => return Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            return settle_existing(staged, key)
        }
        Err(err) if !unsupported(&err) => return Err(Refused::Io(err)),
        Err(_) => {}
    }
    match fs::hard_link(staged, key) {
        Ok(()) => remove_staged(staged),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => settle_existing(staged, key),
        Err(err) => Err(Refused::Io(err)),
    }
}

/// `key` exists: the publish is done if it holds `staged`'s bytes, refused otherwise.
fn settle_existing(staged: &Path, key: &Path) -> Result<(), Refused> {
    if same_content(staged, key).map_err(Refused::Io)? {
        remove_staged(staged)
    } else {
        Err(Refused::Different)
    }
}

fn remove_staged(staged: &Path) -> Result<(), Refused> {
    match fs::remove_file(staged) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(Refused::Io(err)),
    }
}

#[cfg(target_os = "linux")]
fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn rename_no_replace(_from: &Path, _to: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Whether a `RENAME_NOREPLACE` failure means the file system (or kernel) lacks it.
fn unsupported(err: &io::Error) -> bool {
    const EINVAL: i32 = 22;
    const ENOSYS: i32 = 38;
    const EOPNOTSUPP: i32 = 95;
    err.kind() == io::ErrorKind::Unsupported
        || matches!(err.raw_os_error(), Some(EINVAL | ENOSYS | EOPNOTSUPP))
}

/// Whether two files hold the same bytes (the same file under two names does).
pub(crate) fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut a, mut b) = (File::open(a)?, File::open(b)?);
    if a.metadata()?.len() != b.metadata()?.len() {
        return Ok(false);
    }
    let (mut left, mut right) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = read_full(&mut a, &mut left)?;
        let m = read_full(&mut b, &mut right)?;
        if n != m || left[..n] != right[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the file ends; the count read.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// Makes a directory's entries (new names, renames) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Every lake object (by extension) under `dir`, recursively; `_staging` is skipped.
pub(crate) fn collect_objects(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            if entry.file_name() != STAGING_DIR {
                collect_objects(&path, out)?;
            }
        } else if super::ObjectKind::of_name(&entry.file_name().to_string_lossy()).is_some() {
            out.push(path);
        }
    }
    Ok(())
}
