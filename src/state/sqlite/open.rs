//! Opening the SQLite store: creating the file, WAL mode, migrations and the store id, with
//! processes that open a new file together waiting for each other.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::state::StateError;

/// Schema migrations, applied in order; `PRAGMA user_version` holds how many have run.
/// Append only: a released migration is never edited.
const MIGRATIONS: &[&str] = &[
    // 1: checkpoints with their in-flight intent, and run history.
    "CREATE TABLE checkpoints (
        source     TEXT PRIMARY KEY,
        seq        INTEGER NOT NULL,
        doc        TEXT NOT NULL,
        intent     TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        source      TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        error       TEXT,
        doc         TEXT NOT NULL
    );
    CREATE INDEX runs_by_source ON runs (source, id);",
    // 2: leases with fencing tokens.
    "CREATE TABLE leases (
        source     TEXT PRIMARY KEY,
        holder     TEXT NOT NULL,
        token      INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
    );",
    // 3: the store's random id (see `StateStore::store_id`), chosen once, when the store is
    // created (or first opened by a sluice that knows ids).
    "CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO meta (key, value) VALUES ('store_id', lower(hex(randomblob(8))));",
    // 4: open alert incidents (see `StateStore::open_incident`).
    "CREATE TABLE incidents (
        alert  TEXT NOT NULL,
        source TEXT NOT NULL,
        doc    TEXT NOT NULL,
        PRIMARY KEY (alert, source)
    );",
];

pub(super) fn backend(path: &Path, err: impl std::fmt::Display) -> StateError {
    StateError::Backend {
        location: path.display().to_string(),
        detail: err.to_string(),
    }
}

/// A SQLite error as a state error: a full disk (`SQLITE_FULL`) is [`StateError::DiskFull`],
/// which nobody waits out, anything else [`StateError::Backend`].
pub(super) fn db(path: &Path, err: rusqlite::Error) -> StateError {
    if err.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        return StateError::DiskFull {
            location: path.display().to_string(),
            detail: err.to_string(),
        };
    }
    backend(path, err)
}

/// How long opening waits for another process that holds the new database's lock while it
/// creates or migrates it (two first runs started together). Migrations take milliseconds.
const OPEN_BUSY_WAIT: Duration = Duration::from_secs(30);

/// Why one attempt at opening the database failed.
enum OpenError {
    /// SQLite refused, with what was being done; retried while it is only busy.
    Sqlite(rusqlite::Error, &'static str),
    /// Decided: the store cannot be used (too new, unreadable).
    State(StateError),
}

impl From<rusqlite::Error> for OpenError {
    fn from(err: rusqlite::Error) -> Self {
        OpenError::Sqlite(err, "")
    }
}

/// Whether SQLite only found the database locked by another connection.
fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Opens, migrates and reads the store id. Processes that open a new file together wait for
/// each other: setting WAL mode and migrating take the database's lock, and a step that finds
/// it taken can fail at once (`database is locked`) rather than wait in SQLite's busy
/// handler, so the whole open is tried again, for up to [`OPEN_BUSY_WAIT`].
pub(super) fn open_blocking(path: &Path) -> Result<(Connection, String), StateError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            let detail = format!("cannot create directory {}: {e}", dir.display());
            if e.kind() == std::io::ErrorKind::StorageFull {
                StateError::DiskFull {
                    location: path.display().to_string(),
                    detail,
                }
            } else {
                backend(path, detail)
            }
        })?;
    }
    let deadline = std::time::Instant::now() + OPEN_BUSY_WAIT;
    let mut delay = Duration::from_millis(5);
    loop {
        match open_once(path) {
            Ok(opened) => return Ok(opened),
            Err(OpenError::Sqlite(err, _))
                if is_busy(&err) && std::time::Instant::now() < deadline =>
            {
                // Jitter keeps two waiting processes from retrying in step.
                let jitter = Duration::from_millis(rand::random::<u64>() % 10);
                std::thread::sleep(delay + jitter);
                delay = (delay * 2).min(Duration::from_millis(250));
            }
            Err(OpenError::Sqlite(err, doing)) if is_busy(&err) => {
                return Err(backend(
                    path,
                    format!(
                        "{doing}{err}: another process kept the database locked for {}s (hint: check for a stuck sluice process or another program holding the file)",
                        OPEN_BUSY_WAIT.as_secs()
                    ),
                ))
            }
            Err(OpenError::Sqlite(err, doing)) => {
                return Err(match db(path, err) {
                    StateError::Backend { location, detail } => StateError::Backend {
                        location,
                        detail: format!("{doing}{detail}"),
                    },
                    other => other,
                })
            }
            Err(OpenError::State(err)) => return Err(err),
        }
    }
}

/// One attempt at [`open_blocking`].
fn open_once(path: &Path) -> Result<(Connection, String), OpenError> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // WAL lets `sluice status` read while a run writes; FULL makes every commit durable.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    migrate(&mut conn, path)?;
    let id: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'store_id'", [], |row| {
            row.get(0)
        })
        .map_err(|e| OpenError::Sqlite(e, "cannot read the store id: "))?;
    Ok((conn, id))
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(OpenError::State(StateError::TooNew {
            location: path.display().to_string(),
            found: version,
            supported: known,
        }));
    }
    for sql in MIGRATIONS.iter().skip(version as usize) {
        tx.execute_batch(sql)
            .map_err(|e| OpenError::Sqlite(e, "migrating the schema: "))?;
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_a_new_file_waits_for_another_process_creating_it() {
        // Another first run holds the new file's write lock (it is switching it to WAL or
        // migrating). Switching to WAL reads the header and then upgrades to a write lock; an
        // upgrade from a read lock gets no busy wait in SQLite (it could deadlock), so it
        // failed at once with "database is locked" (exit code 2, as for a config error).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            other.execute_batch("COMMIT").unwrap();
        });
        let started = std::time::Instant::now();
        let opened = open_blocking(&path);
        release.join().unwrap();
        let (_, id) = opened.unwrap_or_else(|e| panic!("after {:?}: {e}", started.elapsed()));
        assert_eq!(id.len(), 16);
        assert!(started.elapsed() >= Duration::from_millis(250), "it waited");
        // Opened by several at once, one store and one id.
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || open_blocking(&path).map(|(_, id)| id))
            })
            .collect();
        for opener in openers {
            assert_eq!(opener.join().unwrap().unwrap(), id);
        }
    }

    #[test]
    fn a_store_made_before_ids_gets_one_when_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            tx.execute_batch(MIGRATIONS[0]).unwrap();
            tx.execute_batch(MIGRATIONS[1]).unwrap();
            tx.pragma_update(None, "user_version", 2).unwrap();
            tx.commit().unwrap();
        }
        let (_, id) = open_blocking(&path).unwrap();
        assert_eq!(id.len(), 16);
        assert_eq!(open_blocking(&path).unwrap().1, id);
    }
}
