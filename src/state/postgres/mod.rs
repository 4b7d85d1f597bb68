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

mod connect;
mod migrate;
mod queries;

use connect::*;
use migrate::*;
use queries::*;

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
            SslMode::Require => Some(tls_connector().map_err(|e| fail(e.to_string()))?),
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
    /// URL should say so now, not in two minutes), and so does an error it answers (no schema
    /// to create the tables in); once it has answered, a connection lost while migrating (a
    /// restart, a failover, a session cut) is waited out like any other state call
    /// ([`super::retry::backoff`]). Migrations run in a transaction under an advisory lock,
    /// so one cut short is simply run again. Returns the store id.
    async fn migrate_waiting_out_outages(&self) -> Result<String, StateError> {
        let mut delays = super::retry::backoff();
        let mut reached = false;
        loop {
            // Whether the attempt failed for want of a connection. An error the server
            // answered on a live session (no schema to create the tables in, a statement
            // refused) is no outage: waiting would only delay the same answer by minutes.
            let mut lost = true;
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
                let settled = self.settle(&mut slot, outcome);
                // `settle` drops a connection that broke or timed out.
                lost = slot.is_none();
                settled
            }
            .await;
            match attempt {
                Err(err @ StateError::Backend { .. }) if reached && lost => match delays.next() {
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
