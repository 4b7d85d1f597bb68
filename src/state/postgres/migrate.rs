//! Versioned schema migrations, applied under an advisory lock so processes starting
//! together do not race; a database from a newer sluice is refused untouched.

use super::*;

/// Schema migrations, applied in order; `schema_migrations` holds the version of each one
/// applied. Append only: a released migration is never edited.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the SQLite store's records (checkpoints with their intent, runs, leases), plus the
    // audit of commits. Documents are TEXT, not JSONB: JSONB refuses `\u0000` in strings (an
    // API may put one in an event id), and a document that does not parse must be reported
    // as Corrupt by load, not refused by the server at commit time.
    "CREATE TABLE checkpoints (
        source     TEXT PRIMARY KEY,
        seq        BIGINT NOT NULL,
        doc        TEXT NOT NULL,
        intent     TEXT,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE runs (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        source      TEXT NOT NULL,
        started_at  TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ NOT NULL,
        error       TEXT,
        doc         TEXT NOT NULL
    );
    CREATE INDEX runs_by_source ON runs (source, id);
    CREATE TABLE leases (
        source     TEXT PRIMARY KEY,
        holder     TEXT NOT NULL,
        token      BIGINT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE commit_audit (
        id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        source       TEXT NOT NULL,
        seq          BIGINT NOT NULL,
        fence        BIGINT NOT NULL,
        holder       TEXT,
        committed_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE INDEX commit_audit_by_source ON commit_audit (source, seq);",
    // 2: the store's random id (see `StateStore::store_id`), chosen once.
    "CREATE TABLE store_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO store_meta (key, value)
        VALUES ('store_id', substr(md5(random()::text || clock_timestamp()::text), 1, 16));",
    // 3: open alert incidents (see `StateStore::open_incident`).
    "CREATE TABLE incidents (
        alert  TEXT NOT NULL,
        source TEXT NOT NULL,
        doc    TEXT NOT NULL,
        PRIMARY KEY (alert, source)
    );",
];

/// Key of the advisory lock held while migrating. One key for the whole database: migrations
/// take milliseconds, and a per-schema key would need the schema's name hashed into 64 bits.
/// (The bytes spell "sluice!m".)
pub(super) const MIGRATION_LOCK: i64 = 0x736c_7569_6365_216d;

/// Migrates the schema and returns the store id.
pub(super) async fn migrate(
    client: &mut Client,
    schema: Option<&str>,
    location: &str,
) -> CallResult<String> {
    let tx = client.transaction().await?;
    // Held until the transaction ends. Under READ COMMITTED each statement after it sees
    // what a process that migrated before us committed.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    if let Some(schema) = schema {
        // Under the lock: concurrent `CREATE SCHEMA IF NOT EXISTS` can still collide.
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            quote_ident(schema)
        ))
        .await?;
    }
    let current: Option<String> = tx.query_one("SELECT current_schema()", &[]).await?.get(0);
    if current.is_none() {
        return Err(StateError::Backend {
            location: location.to_string(),
            detail: "no schema of the search path exists to create the tables in (hint: create it, or fix options=-csearch_path=... in the URL)".into(),
        }
        .into());
    }
    let exists: bool = tx
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?
        .get(0);
    let version: i64 = if exists {
        tx.query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0)
    } else {
        0
    };
    let known = MIGRATIONS.len() as i64;
    if version > known {
        tx.rollback().await?;
        return Err(StateError::TooNew {
            location: location.to_string(),
            found: version,
            supported: known,
        }
        .into());
    }
    if !exists {
        tx.batch_execute(
            "CREATE TABLE schema_migrations (
                version    BIGINT PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await?;
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let number = index as i64 + 1;
        tx.batch_execute(sql)
            .await
            .map_err(|e| StateError::Backend {
                location: location.to_string(),
                detail: format!("migration {number}: {}", describe(&e)),
            })?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&number],
        )
        .await?;
    }
    let id: String = tx
        .query_one("SELECT value FROM store_meta WHERE key = 'store_id'", &[])
        .await?
        .get(0);
    tx.commit().await?;
    Ok(id)
}
