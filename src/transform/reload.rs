//! Files a step loads when its chain is built and keeps fresh while the process runs: GeoIP
//! databases and threat intel feeds.
//!
//! A file is read once per process for the same settings: every chain that names it (each
//! run of each source builds its chains anew, and the loader builds them once more to check
//! them) shares one loaded copy, so a large feed is not parsed again per run. A background
//! thread per file looks at its modification time and length every `refresh` (a `stat`, no
//! read) and loads it again when they change; steps never do I/O on the event path. A new
//! version that cannot be loaded is logged and the copy already loaded stays in use, so a
//! half-written update never empties a database.

use std::any::Any;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

/// One loaded file, kept fresh by a background thread.
pub struct Reloading<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Reloading<T> {
    fn clone(&self) -> Self {
        Reloading {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<T> {
    current: RwLock<Arc<T>>,
}

/// What tells a changed file from the one loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path).ok().map(|meta| Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

/// Every file loaded in this process, by what it was loaded as (its kind, path, settings).
fn registry() -> &'static Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

impl<T: Send + Sync + 'static> Reloading<T> {
    /// The file at `path` loaded by `load`, or the copy this process loaded already under
    /// the same `key` (which must say everything `load` depends on besides the path).
    /// `Err` is `load`'s, for a file that is missing or cannot be read as one.
    /// `load` reads a file into its loaded form, `Err` saying what is wrong with it (the
    /// caller names the file and the step's key); the background thread calls it again.
    pub fn open<F, E>(key: &str, path: &Path, refresh: Duration, load: F) -> Result<Self, E>
    where
        F: Fn(&Path) -> Result<T, E> + Send + 'static,
        E: std::fmt::Display + 'static,
    {
        let key = format!(
            "{}\u{0}{key}\u{0}{}\u{0}{}",
            std::any::type_name::<T>(),
            path.display(),
            refresh.as_millis()
        );
        // A poisoned registry still holds whole entries: an entry is inserted in one step.
        let mut registry = registry().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = registry.get(&key) {
            if let Ok(shared) = found.clone().downcast::<Shared<T>>() {
                return Ok(Reloading { shared });
            }
        }
        let before = stamp(path);
        let value = load(path)?;
        let shared = Arc::new(Shared {
            current: RwLock::new(Arc::new(value)),
        });
        registry.insert(key, shared.clone());
        let watched = shared.clone();
        let path = path.to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("sluice-reload".into())
            .spawn(move || watch(&watched, &path, before, refresh, load));
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start the thread that reloads changed files; this file is not reloaded");
        }
        Ok(Reloading { shared })
    }

    /// The copy in use now. Cheap (a read lock and a reference count): steps take it per event.
    pub fn current(&self) -> Arc<T> {
        // A writer only swaps the Arc, so a poisoned lock still holds a whole value.
        self.shared
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The background loop: every `refresh`, loads `path` again if it changed since `last`.
fn watch<T, E: std::fmt::Display>(
    shared: &Shared<T>,
    path: &Path,
    mut last: Option<Stamp>,
    refresh: Duration,
    load: impl Fn(&Path) -> Result<T, E>,
) {
    loop {
        std::thread::sleep(refresh);
        let now = stamp(path);
        if now == last {
            continue;
        }
        last = now;
        if now.is_none() {
            tracing::warn!(file = %path.display(), "the file is gone or cannot be read; the copy loaded before stays in use until it is back");
            continue;
        }
        match load(path) {
            Ok(value) => {
                *shared.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(value);
                tracing::info!(file = %path.display(), "reloaded a changed enrichment file");
            }
            Err(error) => tracing::warn!(
                file = %path.display(),
                %error,
                "a changed enrichment file cannot be loaded; the copy loaded before stays in use (replace the file whole, e.g. write a new one and rename it over the old)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_lines(path: &Path) -> Result<usize, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        if text.contains("bad") {
            return Err("holds bad".into());
        }
        Ok(text.lines().count())
    }

    /// Waits (without a time limit that decides the test's outcome) for `f` to hold.
    fn eventually(f: impl Fn() -> bool) -> bool {
        for _ in 0..400 {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        f()
    }

    #[test]
    fn a_changed_file_is_loaded_again_and_a_bad_version_keeps_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed.txt");
        std::fs::write(&path, "a\n").unwrap();
        let every = Duration::from_millis(10);
        let file = Reloading::open("lines", &path, every, count_lines).unwrap();
        assert_eq!(*file.current(), 1);

        // Written whole elsewhere and renamed over the old one, as updaters do.
        let next = dir.path().join("feed.new");
        std::fs::write(&next, "a\nb\nc\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert!(
            eventually(|| *file.current() == 3),
            "the new version was not loaded"
        );

        // A version that fails to load is passed over: the old copy stays in use.
        std::fs::write(&next, "a\nbad\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(*file.current(), 3);
        // A later good one is taken.
        std::fs::write(&next, "1\n2\n3\n4\n5\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert!(eventually(|| *file.current() == 5));
    }

    #[test]
    fn one_file_is_loaded_once_per_process_and_errors_are_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed.txt");
        assert!(Reloading::open("lines", &path, Duration::from_secs(60), count_lines).is_err());
        std::fs::write(&path, "a\nb\n").unwrap();
        let first = Reloading::open("lines", &path, Duration::from_secs(60), count_lines).unwrap();
        let second = Reloading::open("lines", &path, Duration::from_secs(60), count_lines).unwrap();
        assert!(Arc::ptr_eq(&first.current(), &second.current()));
        let other = Reloading::open("other", &path, Duration::from_secs(60), count_lines).unwrap();
        assert!(!Arc::ptr_eq(&first.current(), &other.current()));
    }
}
