//! A shared store: one PostgreSQL database, so workers on several machines can share sources.
//!
//! The records and rules are the SQLite store's (see `sqlite.rs`), with what a shared server
//! adds:
//!
//! - **Row locks.** Every conditional write is one transaction that first locks the source's
//!   lease row (`FOR SHARE`: the lease cannot change hands mid-commit) and then its checkpoint
//!   row (`FOR UPDATE`: commits of one source are serialized), checks the fencing token and the
//!   seq, then writes. Locks are always taken in that order, so two writers cannot deadlock.
//! - **Claims skip, never queue.** A lease is claimed with `FOR UPDATE SKIP LOCKED`: a worker
//!   looking for a backfill window passes over one that another worker is claiming or
//!   committing right now, and takes the next.
//! - **Server time.** Lease expiry is computed and compared with the server's `now()`, never a
//!   worker's clock, so clock skew between machines cannot hand a live lease to someone else.
//! - **A commit audit.** Every successful commit appends `(source, seq, fence, holder)` to
//!   `commit_audit`, in the same transaction, so a reader can prove no seq was committed twice.
//! - **Versioned migrations** in `schema_migrations`, run under an advisory lock so processes
//!   starting together do not race; a database from a newer sluice is refused untouched.
//!
//! One connection per store, behind a mutex (like the SQLite store): state writes are a few
//! statements per batch, far below what one connection serves, and one connection keeps the
//! failure model simple. A dead connection is replaced at the next call; a call that loses its
//! connection midway fails with [`StateError::Backend`] and its transaction is rolled back by
//! the server, so no commit is ever half done.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, MutexGuard};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::Severity;
use tokio_postgres::{Client, Config, NoTls, Transaction};

use super::{
    Checkpoint, Incident, Intent, Lease, LeaseOutcome, RunRecord, SourceState, SourceStatus,
    StateError, StateStore,
};
use crate::model::Secret;

/// Schema migrations, applied in order; `schema_migrations` holds the version of each one
/// applied. Append only: a released migration is never edited.
const MIGRATIONS: &[&str] = &[
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
const MIGRATION_LOCK: i64 = 0x736c_7569_6365_216d;

/// Runs kept per source for `sluice status` (as in the SQLite store).
const RUNS_KEPT: i64 = 100;

/// How long a connection attempt may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one store call may take before its connection is given up. A call blocks at most
/// on another writer's row lock, held for one short transaction; this is far beyond that.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Set on every session: a worker paused mid-transaction (SIGSTOP, a VM freeze) holds row
/// locks; the server ends its session after this long, so the other workers are not blocked
/// for long (they give up a call after [`CALL_TIMEOUT`] and retry at their next run).
const SESSION_SETUP: &str = "SET idle_in_transaction_session_timeout = '60s'";

/// A [`StateStore`] in a PostgreSQL database.
pub struct PostgresStore {
    /// The URL without its password, for messages.
    location: String,
    config: Config,
    /// `Some` when TLS is required (`sslmode=require`).
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// The schema holding the tables, when not the search path's first.
    schema: Option<String>,
    /// See [`StateStore::store_id`]; read once migrated.
    id: String,
    /// The connection; `None` after it failed, until the next call reconnects.
    client: Mutex<Option<Client>>,
}

/// A failure inside one call: either a decided answer, or the database failed.
enum CallError {
    State(StateError),
    Db(tokio_postgres::Error),
}

impl From<StateError> for CallError {
    fn from(err: StateError) -> Self {
        CallError::State(err)
    }
}

impl From<tokio_postgres::Error> for CallError {
    fn from(err: tokio_postgres::Error) -> Self {
        CallError::Db(err)
    }
}

type CallResult<T> = Result<T, CallError>;

/// Runs `$body` (a future using `$client: &mut Client`) on a live connection, within
/// [`CALL_TIMEOUT`], and turns its outcome into the call's result.
macro_rules! with_client {
    ($store:ident, $client:ident => $body:expr) => {{
        let mut slot = $store.connected().await?;
        let outcome = match slot.as_mut() {
            Some($client) => tokio::time::timeout(CALL_TIMEOUT, $body).await,
            // `connected` only returns a filled slot.
            None => return Err($store.backend("not connected")),
        };
        $store.settle(&mut slot, outcome)
    }};
}

impl PostgresStore {
    /// Connects to the database `url` names and migrates it. Tables live in the first schema
    /// of the session's search path (`public` unless the URL says otherwise, e.g. with
    /// `options=-csearch_path%3Dsluice`).
    ///
    /// Fails at once, naming the URL without its password, if the server cannot be reached;
    /// with [`StateError::TooNew`] if a newer sluice migrated the database (nothing is
    /// changed then).
    pub async fn open(url: &Secret) -> Result<Self, StateError> {
        Self::open_with(url, None).await
    }

    /// Like [`PostgresStore::open`], but keeps every table in `schema`, creating it if
    /// needed: several deployments, or tests, can then share one database.
    pub async fn open_in_schema(url: &Secret, schema: &str) -> Result<Self, StateError> {
        Self::open_with(url, Some(schema.to_string())).await
    }

    /// Where the store is: its URL without the password.
    pub fn location(&self) -> &str {
        &self.location
    }

    async fn open_with(url: &Secret, schema: Option<String>) -> Result<Self, StateError> {
        let location = redact_url(url.expose());
        let location = match &schema {
            Some(schema) => format!("{location} (schema {schema})"),
            None => location,
        };
        let fail = |detail: String| StateError::Backend {
            location: location.clone(),
            detail,
        };
        let mut config: Config = url.expose().parse().map_err(|e| {
            fail(format!(
                "{} (hint: write postgres://USER:PASSWORD@HOST:PORT/DATABASE)",
                describe(&e)
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("sluice");
        }
        let tls = match config.get_ssl_mode() {
            SslMode::Require => Some(tls_connector().map_err(fail)?),
            _ => {
                // `prefer` (the default) would try TLS whenever the server offers it, and
                // fail outright against the self-signed certificate a default server install
                // has; encryption is only attempted when required.
                config.ssl_mode(SslMode::Disable);
                if !is_local(&config) {
                    tracing::warn!(store = %location, "the state store connection is not encrypted; add sslmode=require to the URL");
                }
                None
            }
        };
        let mut store = PostgresStore {
            location,
            config,
            tls,
            schema,
            id: String::new(),
            client: Mutex::new(None),
        };
        store.id = store.migrate_waiting_out_outages().await?;
        Ok(store)
    }

    /// Connects and migrates. A server that cannot be reached at all fails at once (a wrong
    /// URL should say so now, not in two minutes); once it has answered, a connection lost
    /// while migrating (a restart, a failover, a session cut) is waited out like any other
    /// state call ([`super::retry::backoff`]). Migrations run in a transaction under an
    /// advisory lock, so one cut short is simply run again. Returns the store id.
    async fn migrate_waiting_out_outages(&self) -> Result<String, StateError> {
        let mut delays = super::retry::backoff();
        let mut reached = false;
        loop {
            let attempt = async {
                let mut slot = self.connected().await?;
                reached = true;
                let outcome = match slot.as_mut() {
                    Some(client) => {
                        tokio::time::timeout(
                            CALL_TIMEOUT,
                            migrate(client, self.schema.as_deref(), &self.location),
                        )
                        .await
                    }
                    None => return Err(self.backend("not connected")),
                };
                self.settle(&mut slot, outcome)
            }
            .await;
            match attempt {
                Err(err @ StateError::Backend { .. }) if reached => match delays.next() {
                    Some(delay) => {
                        tracing::warn!(store = %self.location, error = %err, retry_in_ms = delay.as_millis() as u64, "state store connection lost while migrating; retrying");
                        tokio::time::sleep(delay).await;
                    }
                    None => return Err(err),
                },
                other => return other,
            }
        }
    }

    /// The connection, opened anew if there is none or it died since the last call.
    async fn connected(&self) -> Result<MutexGuard<'_, Option<Client>>, StateError> {
        let mut slot = self.client.lock().await;
        if slot.as_ref().is_none_or(Client::is_closed) {
            *slot = None;
            *slot = Some(self.connect().await?);
        }
        Ok(slot)
    }

    async fn connect(&self) -> Result<Client, StateError> {
        let connect_error = |e: tokio_postgres::Error| {
            let detail = describe(&e);
            let hint = if detail.contains("TLS") {
                "with sslmode=require the server's certificate must be trusted (system roots, or the file SSL_CERT_FILE names) and valid for the URL's host name"
            } else {
                "check that PostgreSQL runs and the URL's host, port, user and database"
            };
            self.backend(format!("cannot connect: {detail} (hint: {hint})"))
        };
        let client = match &self.tls {
            Some(tls) => {
                let (client, connection) = self
                    .config
                    .connect(tls.clone())
                    .await
                    .map_err(connect_error)?;
                self.drive(connection);
                client
            }
            None => {
                let (client, connection) =
                    self.config.connect(NoTls).await.map_err(connect_error)?;
                self.drive(connection);
                client
            }
        };
        let mut setup = SESSION_SETUP.to_string();
        if let Some(schema) = &self.schema {
            setup.push_str(&format!("; SET search_path TO {}", quote_ident(schema)));
        }
        client
            .batch_execute(&setup)
            .await
            .map_err(|e| self.backend(describe(&e)))?;
        Ok(client)
    }

    /// Runs the connection's I/O in its own task, as tokio-postgres requires.
    fn drive<F>(&self, connection: F)
    where
        F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
    {
        let location = self.location.clone();
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                // The next call sees the client closed and reconnects.
                tracing::warn!(store = %location, error = %describe(&err), "state store connection lost");
            }
        });
    }

    /// The call's result; drops the connection when it may be unusable (I/O error, closed,
    /// timed out mid-call), so the next call starts on a fresh one.
    fn settle<T>(
        &self,
        slot: &mut Option<Client>,
        outcome: Result<CallResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, StateError> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(CallError::State(err))) => Err(err),
            Ok(Err(CallError::Db(err))) => {
                let connection_broken =
                    ends_session(&err) || slot.as_ref().is_none_or(Client::is_closed);
                if connection_broken {
                    *slot = None;
                }
                let code = err.as_db_error().map(|db| db.code().code());
                Err(classify(&self.location, code, describe(&err)))
            }
            Err(_) => {
                // The call may be stuck anywhere, even inside COMMIT: closing the connection
                // makes the server roll back whatever it has not committed.
                *slot = None;
                Err(self.backend(format!(
                    "no answer within {}s; the connection was closed and the call's transaction rolled back",
                    CALL_TIMEOUT.as_secs()
                )))
            }
        }
    }

    fn backend(&self, detail: impl Into<String>) -> StateError {
        StateError::Backend {
            location: self.location.clone(),
            detail: detail.into(),
        }
    }
}

/// SQLSTATE `disk_full` (class 53, insufficient resources): the server could not extend a
/// file of the database or its write-ahead log.
const DISK_FULL: &str = "53100";

/// A failed call as a state error, by the SQLSTATE the server answered (`None` when it did
/// not answer): a full disk under the server is [`StateError::DiskFull`], reported at once
/// because waiting does not free space; anything else is [`StateError::Backend`], which the
/// runtime waits out as an outage. Other class-53 codes (out of memory, too many connections)
/// pass with time, so they stay outages.
fn classify(location: &str, code: Option<&str>, detail: String) -> StateError {
    if code == Some(DISK_FULL) {
        return StateError::DiskFull {
            location: location.to_string(),
            detail: format!("{detail}; the database server's disk is out of space"),
        };
    }
    StateError::Backend {
        location: location.to_string(),
        detail,
    }
}

/// Whether the connection is unusable after `err`: anything but an error the server answered
/// on a live session (I/O, closed, protocol), a FATAL or PANIC error (the server ends the
/// session, e.g. `pg_terminate_backend`), or a connection-class SQLSTATE. The client may not
/// have noticed the socket closing yet, so this is decided from the error itself.
fn ends_session(err: &tokio_postgres::Error) -> bool {
    let Some(db) = err.as_db_error() else {
        return true;
    };
    let code = db.code().code();
    matches!(
        db.parsed_severity(),
        Some(Severity::Fatal | Severity::Panic)
    ) || code.starts_with("08")
        || code.starts_with("57P")
}

/// TLS with certificate and host name verification. Roots: the system's (including the file
/// `SSL_CERT_FILE` names, for a private CA) and Mozilla's.
fn tls_connector() -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    for err in &native.errors {
        tracing::debug!(error = %err, "some system certificates could not be loaded");
    }
    // A system certificate rustls cannot parse is skipped, as browsers do.
    let (_added, _skipped) = roots.add_parsable_certificates(native.certs);
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("cannot set up TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Whether every host is a Unix socket or a loopback address, where plain TCP is fine.
fn is_local(config: &Config) -> bool {
    config.get_hosts().iter().all(|host| match host {
        Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    })
}

/// The URL with its password replaced by `***`, from the user info or a `password=` query
/// parameter; a `key=value` connection string has its `password` value replaced.
pub(crate) fn redact_url(raw: &str) -> String {
    const MASK: &str = "***";
    let Some((scheme, rest)) = raw.split_once("://") else {
        return redact_key_values(raw, MASK);
    };
    // The user info ends at the last `@` before the query: a password may hold `/` or `@`.
    let query_start = rest.find('?').unwrap_or(rest.len());
    let (authority, tail) = match rest[..query_start].rfind('@') {
        Some(at) => {
            let (userinfo, hosts_and_path) = rest.split_at(at);
            let user = userinfo
                .split_once(':')
                .map_or(userinfo, |(user, _password)| user);
            let masked = if userinfo.contains(':') {
                format!("{user}:{MASK}")
            } else {
                user.to_string()
            };
            let path_start = hosts_and_path
                .find(['/', '?'])
                .unwrap_or(hosts_and_path.len());
            let (hosts, tail) = hosts_and_path.split_at(path_start);
            (format!("{masked}{hosts}"), tail)
        }
        None => {
            let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
            let (hosts, tail) = rest.split_at(path_start);
            (hosts.to_string(), tail)
        }
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key == "password" => format!("{key}={MASK}"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// `host=db password='a b' user=x` → `host=db password=*** user=x`.
fn redact_key_values(raw: &str, mask: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find("password") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let after_key = &after["password".len()..];
        let trimmed = after_key.trim_start();
        let starts_key = before.is_empty() || before.ends_with(char::is_whitespace);
        let Some(value) = trimmed.strip_prefix('=').filter(|_| starts_key) else {
            out.push_str("password");
            rest = after_key;
            continue;
        };
        out.push_str("password=");
        out.push_str(mask);
        let value = value.trim_start();
        rest = if let Some(quoted) = value.strip_prefix('\'') {
            // A quoted value ends at the first quote not escaped by a backslash.
            let mut escaped = false;
            let end = quoted
                .char_indices()
                .find(|&(_, c)| {
                    let closes = c == '\'' && !escaped;
                    escaped = c == '\\' && !escaped;
                    closes
                })
                .map_or(quoted.len(), |(i, _)| i + 1);
            &quoted[end..]
        } else {
            let end = value.find(char::is_whitespace).unwrap_or(value.len());
            &value[end..]
        };
    }
    out.push_str(rest);
    out
}

/// An identifier quoted for SQL: `"a""b"` for `a"b`.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The error with its causes and, for a server error, its code, detail and hint.
fn describe(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut text = format!("{} ({}): {}", db.severity(), db.code().code(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!("; {detail}"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!(" (hint: {hint})"));
        }
        return text;
    }
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(inner) = cause {
        text.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    text
}

/// Migrates the schema and returns the store id.
async fn migrate(client: &mut Client, schema: Option<&str>, location: &str) -> CallResult<String> {
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

fn decode<T: serde::de::DeserializeOwned>(
    source: &str,
    what: &str,
    text: &str,
) -> Result<T, StateError> {
    serde_json::from_str(text).map_err(|err| StateError::Corrupt {
        source_name: source.to_string(),
        detail: format!("{what} does not parse: {err}"),
    })
}

fn encode<T: serde::Serialize>(source: &str, value: &T) -> CallResult<String> {
    // Cannot fail for these plain records (no maps with non-string keys), but an error is
    // reported rather than a panic.
    serde_json::to_string(value).map_err(|e| {
        CallError::State(StateError::Corrupt {
            source_name: source.to_string(),
            detail: format!("cannot serialize a state record: {e}"),
        })
    })
}

/// A seq or token as stored (BIGINT).
fn to_db(value: u64, source: &str, what: &str) -> CallResult<i64> {
    i64::try_from(value).map_err(|_| {
        CallError::State(StateError::Corrupt {
            source_name: source.to_string(),
            detail: format!("{what} {value} is past the largest storable value"),
        })
    })
}

fn from_db(value: i64) -> u64 {
    // Stored values come from `to_db`, so they are never negative; a hand-edited negative
    // one reads as 0 rather than wrapping.
    u64::try_from(value).unwrap_or(0)
}

/// Checks the fencing token and locks the lease row until the transaction ends, so the lease
/// cannot change hands under a commit. Returns the lease's holder, if there is a lease.
async fn check_fence(tx: &Transaction<'_>, source: &str, fence: u64) -> CallResult<Option<String>> {
    let row = tx
        .query_opt(
            "SELECT token, holder FROM leases WHERE source = $1 FOR SHARE",
            &[&source],
        )
        .await?;
    let (current, holder) = match row {
        Some(row) => (from_db(row.try_get(0)?), Some(row.try_get::<_, String>(1)?)),
        None => (0, None),
    };
    if current == fence {
        Ok(holder)
    } else {
        Err(StateError::Fenced {
            source_name: source.to_string(),
            held: fence,
            current,
        }
        .into())
    }
}

fn check_seq(source: &str, found: u64, expected: u64) -> CallResult<()> {
    if found == expected {
        Ok(())
    } else {
        Err(StateError::Conflict {
            source_name: source.to_string(),
            expected,
            found,
        }
        .into())
    }
}

/// The stored seq of `source`, its row locked until the transaction ends; `None` if it has
/// no row.
async fn locked_seq(tx: &Transaction<'_>, source: &str) -> CallResult<Option<u64>> {
    let row = tx
        .query_opt(
            "SELECT seq FROM checkpoints WHERE source = $1 FOR UPDATE",
            &[&source],
        )
        .await?;
    Ok(match row {
        Some(row) => Some(from_db(row.try_get(0)?)),
        None => None,
    })
}

/// A source's first row may be inserted by a concurrent writer between our look and our
/// insert; then the insert does nothing and we look again, now finding (and locking) it.
/// Rows are never deleted by sluice, so a second look always finds one; a third is allowed
/// for a row deleted by hand in between.
const ROW_ATTEMPTS: usize = 3;

async fn load(client: &Client, source: &str) -> CallResult<SourceState> {
    let row = client
        .query_opt(
            "SELECT doc, intent FROM checkpoints WHERE source = $1",
            &[&source],
        )
        .await?;
    let Some(row) = row else {
        return Ok(SourceState::default());
    };
    let doc: String = row.try_get(0)?;
    let intent: Option<String> = row.try_get(1)?;
    Ok(SourceState {
        checkpoint: decode(source, "checkpoint", &doc)?,
        intent: intent
            .map(|i| decode(source, "commit intent", &i))
            .transpose()?,
    })
}

async fn prepare(client: &mut Client, source: &str, intent: &Intent, fence: u64) -> CallResult<()> {
    let text = encode(source, intent)?;
    let tx = client.transaction().await?;
    check_fence(&tx, source, fence).await?;
    for _ in 0..ROW_ATTEMPTS {
        if let Some(found) = locked_seq(&tx, source).await? {
            check_seq(source, found, intent.base_seq)?;
            tx.execute(
                "UPDATE checkpoints SET intent = $2, updated_at = now() WHERE source = $1",
                &[&source, &text],
            )
            .await?;
            tx.commit().await?;
            return Ok(());
        }
        check_seq(source, 0, intent.base_seq)?;
        // First commit of a source: the row holds the initial checkpoint until then.
        let inserted = tx
            .execute(
                "INSERT INTO checkpoints (source, seq, doc, intent) VALUES ($1, 0, $2, $3)
                 ON CONFLICT (source) DO NOTHING",
                &[&source, &encode(source, &Checkpoint::default())?, &text],
            )
            .await?;
        if inserted == 1 {
            tx.commit().await?;
            return Ok(());
        }
    }
    Err(CallError::State(StateError::Backend {
        location: String::new(),
        detail: format!("the checkpoint row of `{source}` keeps appearing and vanishing"),
    }))
}

/// Writes `next` as the checkpoint of `source` and clears its intent, if the stored seq is
/// `expected` and `fence` the lease's token (commit, and import/reset).
async fn commit(
    client: &mut Client,
    source: &str,
    next: &Checkpoint,
    expected: u64,
    fence: u64,
) -> CallResult<()> {
    let doc = encode(source, next)?;
    let seq = to_db(next.seq, source, "seq")?;
    let fence_db = to_db(fence, source, "fencing token")?;
    let tx = client.transaction().await?;
    let holder = check_fence(&tx, source, fence).await?;
    let mut written = false;
    for _ in 0..ROW_ATTEMPTS {
        if let Some(found) = locked_seq(&tx, source).await? {
            check_seq(source, found, expected)?;
            tx.execute(
                "UPDATE checkpoints SET seq = $2, doc = $3, intent = NULL, updated_at = now() WHERE source = $1",
                &[&source, &seq, &doc],
            )
            .await?;
            written = true;
            break;
        }
        check_seq(source, 0, expected)?;
        let inserted = tx
            .execute(
                "INSERT INTO checkpoints (source, seq, doc, intent) VALUES ($1, $2, $3, NULL)
                 ON CONFLICT (source) DO NOTHING",
                &[&source, &seq, &doc],
            )
            .await?;
        if inserted == 1 {
            written = true;
            break;
        }
    }
    if !written {
        return Err(CallError::State(StateError::Backend {
            location: String::new(),
            detail: format!("the checkpoint row of `{source}` keeps appearing and vanishing"),
        }));
    }
    tx.execute(
        "INSERT INTO commit_audit (source, seq, fence, holder) VALUES ($1, $2, $3, $4)",
        &[&source, &seq, &fence_db, &holder],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn acquire_lease(
    client: &mut Client,
    source: &str,
    holder: &str,
    ttl: Duration,
) -> CallResult<LeaseOutcome> {
    let ttl_secs = ttl.min(super::MAX_LEASE_TTL).as_secs_f64();
    let tx = client.transaction().await?;
    // Expiry is the server's clock plus the TTL, in milliseconds like the SQLite store; the
    // rules are the SQLite store's: the same holder keeps its token, anyone else gets the
    // lease once it expired, with the next token.
    let expiry = "date_trunc('milliseconds', now() + make_interval(secs => $3))";
    for _ in 0..ROW_ATTEMPTS {
        let row = tx
            .query_opt(
                "SELECT holder, token, expires_at, expires_at > now() FROM leases WHERE source = $1 FOR UPDATE SKIP LOCKED",
                &[&source],
            )
            .await?;
        let written = match row {
            Some(row) => {
                let current: String = row.try_get(0)?;
                let token: i64 = row.try_get(1)?;
                let expires_at: DateTime<Utc> = row.try_get(2)?;
                let live: bool = row.try_get(3)?;
                let token = if current == holder {
                    token
                } else if live {
                    tx.rollback().await?;
                    return Ok(LeaseOutcome::HeldBy {
                        holder: current,
                        token: from_db(token),
                        until: expires_at,
                    });
                } else {
                    token + 1
                };
                // The row is locked since the SELECT: it is exactly as we saw it.
                tx.query_opt(
                    &format!("UPDATE leases SET holder = $2, expires_at = {expiry}, token = $4 WHERE source = $1 RETURNING token, expires_at"),
                    &[&source, &holder, &ttl_secs, &token],
                )
                .await?
            }
            // No row, or one another worker is claiming right now (SKIP LOCKED passes over
            // it: workers looking for a window never queue behind each other). Try a first
            // lease; if a row is there, it is being claimed: report it held.
            None => {
                let inserted = tx
                    .query_opt(
                        &format!(
                            "INSERT INTO leases (source, holder, expires_at, token) VALUES ($1, $2, {expiry}, 1)
                             ON CONFLICT (source) DO NOTHING RETURNING token, expires_at"
                        ),
                        &[&source, &holder, &ttl_secs],
                    )
                    .await?;
                if inserted.is_none() {
                    let claimed = tx
                        .query_opt(
                            "SELECT holder, token, expires_at FROM leases WHERE source = $1",
                            &[&source],
                        )
                        .await?;
                    if let Some(row) = claimed {
                        // Locked by a claim in flight, possibly under this same holder name
                        // (two pipelines of one worker): held, for now, either way.
                        let current: String = row.try_get(0)?;
                        let token: i64 = row.try_get(1)?;
                        let expires_at: DateTime<Utc> = row.try_get(2)?;
                        tx.rollback().await?;
                        return Ok(LeaseOutcome::HeldBy {
                            holder: current,
                            token: from_db(token),
                            until: expires_at,
                        });
                    }
                }
                inserted
            }
        };
        if let Some(row) = written {
            let token: i64 = row.try_get(0)?;
            let expires_at: DateTime<Utc> = row.try_get(1)?;
            tx.commit().await?;
            return Ok(LeaseOutcome::Acquired(Lease {
                source: source.to_string(),
                holder: holder.to_string(),
                token: from_db(token),
                expires_at,
            }));
        }
    }
    Err(CallError::State(StateError::Backend {
        location: String::new(),
        detail: format!("the lease row of `{source}` keeps changing"),
    }))
}

async fn renew_lease(client: &Client, lease: &Lease, ttl: Duration) -> CallResult<Lease> {
    let token = to_db(lease.token, &lease.source, "fencing token")?;
    let row = client
        .query_opt(
            "UPDATE leases SET expires_at = date_trunc('milliseconds', now() + make_interval(secs => $3))
             WHERE source = $1 AND token = $2 RETURNING expires_at",
            &[&lease.source, &token, &ttl.min(super::MAX_LEASE_TTL).as_secs_f64()],
        )
        .await?;
    if let Some(row) = row {
        return Ok(Lease {
            expires_at: row.try_get(0)?,
            ..lease.clone()
        });
    }
    let current = client
        .query_opt(
            "SELECT token FROM leases WHERE source = $1",
            &[&lease.source],
        )
        .await?
        .map(|row| row.try_get::<_, i64>(0))
        .transpose()?
        .map_or(0, from_db);
    Err(StateError::Fenced {
        source_name: lease.source.clone(),
        held: lease.token,
        current,
    }
    .into())
}

async fn release_lease(client: &Client, lease: &Lease) -> CallResult<()> {
    let token = to_db(lease.token, &lease.source, "fencing token")?;
    // The token stays: the next holder gets a larger one.
    client
        .execute(
            "UPDATE leases SET expires_at = 'epoch' WHERE source = $1 AND token = $2",
            &[&lease.source, &token],
        )
        .await?;
    Ok(())
}

async fn record_run(client: &mut Client, run: &RunRecord) -> CallResult<()> {
    let doc = encode(&run.source, run)?;
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO runs (source, started_at, finished_at, error, doc) VALUES ($1, $2, $3, $4, $5)",
        &[&run.source, &run.started_at, &run.finished_at, &run.error, &doc],
    )
    .await?;
    // Keeps exactly the newest RUNS_KEPT of this source, whatever other sources add.
    tx.execute(
        "DELETE FROM runs WHERE source = $1 AND id < (
             SELECT id FROM runs WHERE source = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)",
        &[&run.source, &(RUNS_KEPT - 1)],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn incidents(client: &Client) -> CallResult<Vec<Incident>> {
    let rows = client
        .query(
            "SELECT source, doc FROM incidents ORDER BY alert COLLATE \"C\", source COLLATE \"C\"",
            &[],
        )
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let (source, doc): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        found.push(decode(&source, "incident", &doc)?);
    }
    Ok(found)
}

async fn open_incident(client: &Client, incident: &Incident) -> CallResult<bool> {
    let doc = encode(&incident.source, incident)?;
    let inserted = client
        .execute(
            "INSERT INTO incidents (alert, source, doc) VALUES ($1, $2, $3)
             ON CONFLICT (alert, source) DO NOTHING",
            &[&incident.alert, &incident.source, &doc],
        )
        .await?;
    if inserted == 1 {
        return Ok(true);
    }
    // Already open: ours if a retried call had recorded it (same opening time).
    let row = client
        .query_opt(
            "SELECT doc FROM incidents WHERE alert = $1 AND source = $2",
            &[&incident.alert, &incident.source],
        )
        .await?;
    let Some(row) = row else {
        // Closed in between: another process owns this change; leave it to it.
        return Ok(false);
    };
    let stored: Incident = decode(&incident.source, "incident", &row.try_get::<_, String>(0)?)?;
    Ok(stored.opened_at == incident.opened_at)
}

async fn update_incident(client: &Client, incident: &Incident) -> CallResult<()> {
    let doc = encode(&incident.source, incident)?;
    client
        .execute(
            "UPDATE incidents SET doc = $3 WHERE alert = $1 AND source = $2",
            &[&incident.alert, &incident.source, &doc],
        )
        .await?;
    Ok(())
}

async fn close_incident(client: &Client, alert: &str, source: &str) -> CallResult<bool> {
    let deleted = client
        .execute(
            "DELETE FROM incidents WHERE alert = $1 AND source = $2",
            &[&alert, &source],
        )
        .await?;
    Ok(deleted == 1)
}

async fn recent_runs(client: &Client, source: &str, limit: usize) -> CallResult<Vec<RunRecord>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT doc FROM runs WHERE source = $1 ORDER BY id DESC LIMIT $2",
            &[&source, &limit],
        )
        .await?;
    let mut runs = Vec::with_capacity(rows.len());
    for row in rows {
        let doc: String = row.try_get(0)?;
        runs.push(decode(source, "run record", &doc)?);
    }
    Ok(runs)
}

async fn checkpoints_under(client: &Client, prefix: &str) -> CallResult<Vec<(String, Checkpoint)>> {
    // A range, not LIKE: `_` in source names is a LIKE wildcard. `COLLATE "C"` compares
    // bytewise, as the range assumes. An empty prefix has no upper bound.
    let high = super::prefix_end(prefix);
    let rows = client
        .query(
            "SELECT source, doc FROM checkpoints
             WHERE source COLLATE \"C\" >= $1 AND ($2 = '' OR source COLLATE \"C\" < $2)
             ORDER BY source COLLATE \"C\"",
            &[&prefix, &high],
        )
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let key: String = row.try_get(0)?;
        let doc: String = row.try_get(1)?;
        let checkpoint = decode(&key, "checkpoint", &doc)?;
        found.push((key, checkpoint));
    }
    Ok(found)
}

async fn status(client: &Client) -> CallResult<Vec<SourceStatus>> {
    // One statement, so one snapshot. `COLLATE "C"` orders names bytewise, as SQLite does.
    let rows = client
        .query(
            "SELECT s.source, c.doc, c.intent IS NOT NULL, last_run.doc, last_error.doc
             FROM (SELECT source FROM checkpoints UNION SELECT source FROM runs) s
             LEFT JOIN checkpoints c ON c.source = s.source
             LEFT JOIN LATERAL (
                 SELECT doc FROM runs r WHERE r.source = s.source ORDER BY id DESC LIMIT 1
             ) last_run ON true
             LEFT JOIN LATERAL (
                 SELECT doc FROM runs r WHERE r.source = s.source AND error IS NOT NULL
                 ORDER BY id DESC LIMIT 1
             ) last_error ON true
             ORDER BY s.source COLLATE \"C\"",
            &[],
        )
        .await?;
    let mut statuses = Vec::with_capacity(rows.len());
    for row in rows {
        let source: String = row.try_get(0)?;
        // Sources that ran but never committed have runs and no checkpoint.
        let doc: Option<String> = row.try_get(1)?;
        let in_flight: Option<bool> = row.try_get(2)?;
        let last_run: Option<String> = row.try_get(3)?;
        let last_error: Option<String> = row.try_get(4)?;
        statuses.push(SourceStatus {
            checkpoint: doc
                .map(|d| decode(&source, "checkpoint", &d))
                .transpose()?
                .unwrap_or_default(),
            commit_in_flight: in_flight.unwrap_or(false),
            last_run: last_run
                .map(|d| decode(&source, "run record", &d))
                .transpose()?,
            last_error: last_error
                .map(|d| decode(&source, "run record", &d))
                .transpose()?,
            source,
        });
    }
    Ok(statuses)
}

impl PostgresStore {
    /// Fills in the location of errors raised by the free functions above.
    fn located<T>(&self, result: Result<T, StateError>) -> Result<T, StateError> {
        result.map_err(|err| match err {
            StateError::Backend { location, detail } if location.is_empty() => self.backend(detail),
            other => other,
        })
    }
}

#[async_trait]
impl StateStore for PostgresStore {
    fn store_id(&self) -> &str {
        &self.id
    }

    async fn load(&self, source: &str) -> Result<SourceState, StateError> {
        let result = with_client!(self, client => load(client, source));
        self.located(result)
    }

    async fn prepare(&self, source: &str, intent: &Intent, fence: u64) -> Result<(), StateError> {
        let result = with_client!(self, client => prepare(client, source, intent, fence));
        self.located(result)
    }

    async fn commit(&self, source: &str, next: &Checkpoint, fence: u64) -> Result<(), StateError> {
        let expected = next.seq.saturating_sub(1);
        let result = with_client!(self, client => commit(client, source, next, expected, fence));
        self.located(result)
    }

    async fn replace_checkpoint(
        &self,
        key: &str,
        checkpoint: &Checkpoint,
        expected_seq: u64,
        fence: u64,
    ) -> Result<(), StateError> {
        let result =
            with_client!(self, client => commit(client, key, checkpoint, expected_seq, fence));
        self.located(result)
    }

    async fn acquire_lease(
        &self,
        source: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StateError> {
        let result = with_client!(self, client => acquire_lease(client, source, holder, ttl));
        self.located(result)
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StateError> {
        let result = with_client!(self, client => renew_lease(client, lease, ttl));
        self.located(result)
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StateError> {
        let result = with_client!(self, client => release_lease(client, lease));
        self.located(result)
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StateError> {
        let result = with_client!(self, client => record_run(client, run));
        self.located(result)
    }

    async fn recent_runs(&self, source: &str, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let result = with_client!(self, client => recent_runs(client, source, limit));
        self.located(result)
    }

    async fn checkpoints_under(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, Checkpoint)>, StateError> {
        let result = with_client!(self, client => checkpoints_under(client, prefix));
        self.located(result)
    }

    async fn status(&self) -> Result<Vec<SourceStatus>, StateError> {
        let result = with_client!(self, client => status(client));
        self.located(result)
    }

    async fn incidents(&self) -> Result<Vec<Incident>, StateError> {
        let result = with_client!(self, client => incidents(client));
        self.located(result)
    }

    async fn open_incident(&self, incident: &Incident) -> Result<bool, StateError> {
        let result = with_client!(self, client => open_incident(client, incident));
        self.located(result)
    }

    async fn update_incident(&self, incident: &Incident) -> Result<(), StateError> {
        let result = with_client!(self, client => update_incident(client, incident));
        self.located(result)
    }

    async fn close_incident(&self, alert: &str, source: &str) -> Result<bool, StateError> {
        let result = with_client!(self, client => close_incident(client, alert, source));
        self.located(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        for (raw, shown) in [
            (
                "postgres://sluice:hunter2@db.internal:5432/state?sslmode=require",
                "postgres://sluice:***@db.internal:5432/state?sslmode=require",
            ),
            (
                "postgresql://u:p%40ss@h1,h2/db",
                "postgresql://u:***@h1,h2/db",
            ),
            (
                "postgres://u@h/db?password=hunter2&sslmode=disable",
                "postgres://u@h/db?password=***&sslmode=disable",
            ),
            ("postgres://h/db", "postgres://h/db"),
            ("postgres://u:hunter2@h", "postgres://u:***@h"),
            (
                "host=h user=u password=hunter2 dbname=d",
                "host=h user=u password=*** dbname=d",
            ),
            (
                "host=h password = 'hun ter\\'2' dbname=d",
                "host=h password=*** dbname=d",
            ),
            ("host=h passwordless=1", "host=h passwordless=1"),
            ("postgres://u:pa/ss@w@h/db", "postgres://u:***@h/db"),
        ] {
            assert_eq!(redact_url(raw), shown, "{raw}");
        }
    }

    /// A real full disk under a PostgreSQL server cannot be made here, so the mapping from the
    /// SQLSTATE the server sends is tested: `disk_full` is a disk error (not waited out),
    /// every other code, and no answer at all, an outage.
    #[test]
    fn the_disk_full_sqlstate_is_a_disk_error_and_others_are_outages() {
        let location = "postgres://sluice:***@db:5432/state";
        let detail =
            "ERROR (53100): could not extend file \"base/16384/16402\": No space left on device";
        match classify(location, Some("53100"), detail.into()) {
            StateError::DiskFull {
                location: at,
                detail: said,
            } => {
                assert_eq!(at, location);
                assert!(said.starts_with(detail), "{said}");
            }
            other => panic!("53100 is not a disk error: {other:?}"),
        }
        let full = classify(location, Some(DISK_FULL), detail.into()).to_string();
        assert!(
            full.contains("the disk is full") && full.contains("hint:"),
            "{full}"
        );
        // Out of memory, too many connections, a connection failure, a conflict, no answer.
        for code in [
            Some("53200"),
            Some("53300"),
            Some("08006"),
            Some("40001"),
            None,
        ] {
            assert!(
                matches!(
                    classify(location, code, "x".into()),
                    StateError::Backend { .. }
                ),
                "{code:?}"
            );
        }
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("sluice"), "\"sluice\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn loopback_and_sockets_are_local() {
        let local: Config = "postgres://u@127.0.0.1,localhost,[::1]/db".parse().unwrap();
        assert!(is_local(&local));
        let remote: Config = "postgres://u@127.0.0.1,db.example.com/db".parse().unwrap();
        assert!(!is_local(&remote));
    }
}
