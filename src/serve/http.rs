//! The daemon's HTTP endpoints: `/healthz`, `/readyz`, `/metrics`, and the status page at `/`
//! and `/status.json` (see `page`). With `[serve] token` set, the status page and `/metrics`
//! need it (see `access`).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

use super::access::{require_token, Access};
use super::Generation;

/// How long `/readyz` waits for the state store to answer.
const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The state store did not answer a read the daemon's pages make.
#[derive(Debug, thiserror::Error)]
#[error("state store does not answer: {0}")]
pub struct StoreDown(#[from] pub crate::state::StateError);

/// Why the daemon is not ready: what `/readyz` answers after `not ready: `.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// The daemon is draining.
    #[error("shutting down: in-flight runs are finishing their page and committing")]
    Stopping,
    /// The state store is not open yet.
    #[error("starting: the state store is not open yet")]
    Starting,
    /// The state store did not answer within the time given.
    #[error("state store did not answer within {}", humantime::format_duration(*.0))]
    StoreSlow(Duration),
    /// The state store answered with an error.
    #[error(transparent)]
    Store(#[from] StoreDown),
    /// Sources parked by their circuit breaker, each described with a hint.
    #[error("circuit breaker open: {}", .0.join("; "))]
    CircuitOpen(Vec<String>),
}

/// What `/readyz` reports on: the config and store in use, and whether the daemon is
/// stopping.
#[derive(Default)]
pub struct Health {
    generation: RwLock<Option<Arc<Generation>>>,
    stopping: std::sync::atomic::AtomicBool,
}

impl Health {
    /// The config and store now in use (after start, and after each accepted reload).
    pub fn set_generation(&self, generation: Arc<Generation>) {
        // A poisoned lock only means a panic elsewhere while it was held; the value (an
        // `Option<Arc>`) cannot be left half-written, so it is safe to keep using.
        *self.generation.write().unwrap_or_else(|e| e.into_inner()) = Some(generation);
    }

    /// From now on `/readyz` answers 503: the daemon is draining.
    pub fn set_stopping(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The config and store now in use, once the store is open.
    pub(super) fn generation(&self) -> Option<Arc<Generation>> {
        self.generation
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `Ok` when ready to work, else why not: starting, stopping, a state store that does
    /// not answer, or a source its circuit breaker parks (its runs are skipped until a
    /// time; see [`crate::runtime::parked`]).
    pub async fn readiness(&self) -> Result<(), NotReady> {
        if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(NotReady::Stopping);
        }
        let Some(generation) = self.generation() else {
            return Err(NotReady::Starting);
        };
        match tokio::time::timeout(STORE_CHECK_TIMEOUT, check(&generation)).await {
            Ok(result) => result,
            Err(_) => Err(NotReady::StoreSlow(STORE_CHECK_TIMEOUT)),
        }
    }
}

/// The store answers, and no source is parked by its circuit breaker.
async fn check(generation: &Generation) -> Result<(), NotReady> {
    let store = generation.store.as_ref();
    // A cheap read that goes all the way to the store (a query, not a cached value).
    store.recent_runs("", 1).await.map_err(StoreDown)?;
    let mut parked = Vec::new();
    for source in &generation.config.sources {
        if let Some(p) = crate::runtime::parked(source, store)
            .await
            .map_err(StoreDown)?
        {
            parked.push(describe_parked(&p));
        }
    }
    if parked.is_empty() {
        return Ok(());
    }
    Err(NotReady::CircuitOpen(parked))
}

/// One parked source, for `/readyz` and the status page.
fn describe_parked(parked: &crate::runtime::Parked) -> String {
    format!(
        "source `{}` is parked until {} after {} failed runs in a row (last error: {}) (hint: fix the cause; the first run after that time tries again, or lower circuit_breaker.cooldown)",
        parked.source,
        crate::timefmt::rfc3339_millis(parked.until),
        parked.failures,
        parked.last_error
    )
}

/// What the handlers share.
#[derive(Clone)]
pub(super) struct AppState {
    /// The config and store in use, and whether the daemon is stopping.
    pub(super) health: Arc<Health>,
    prometheus: Option<PrometheusHandle>,
    access: Arc<Access>,
}

/// The router; `prometheus` is `None` when no recorder could be installed (then `/metrics`
/// answers 503). `access` guards `/`, `/status.json` and `/metrics`.
pub fn router(
    health: Arc<Health>,
    prometheus: Option<PrometheusHandle>,
    access: Arc<Access>,
) -> Router {
    let guarded = Router::new()
        .route("/metrics", get(metrics))
        .route("/", get(super::page::index))
        .route("/status.json", get(super::page::status_json))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&access),
            require_token,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(guarded)
        .with_state(AppState {
            health,
            prometheus,
            access,
        })
}

/// A plain-text answer, scrubbed of secrets (run errors may quote an API that echoed one).
fn text(status: StatusCode, body: String) -> Response {
    let body = crate::redact::scrub_string(body);
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// 200 while the process is up and serving requests.
async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n".into())
}

/// 200 once the config is loaded and the store answers; 503 with the reason otherwise. The
/// reason names sources and quotes their errors: with a token configured, only callers that
/// send it see it (probes need only the status code).
async fn readyz(State(app): State<AppState>, headers: HeaderMap) -> Response {
    match app.health.readiness().await {
        Ok(()) => text(StatusCode::OK, "ready\n".into()),
        Err(_) if !app.access.allows(&headers) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready (send the [serve] token to see why)\n".into(),
        ),
        Err(reason) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        ),
    }
}

/// The Prometheus text format.
async fn metrics(State(app): State<AppState>) -> Response {
    match &app.prometheus {
        Some(handle) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            crate::redact::scrub_string(handle.render()),
        )
            .into_response(),
        None => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are unavailable: another metrics recorder was installed first\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{
        Checkpoint, Incident, Intent, Lease, LeaseOutcome, RunRecord, SourceState, SourceStatus,
        StateError, StateStore,
    };

    /// A store whose every call fails, as a database that went away does.
    struct DownStore;

    fn down() -> StateError {
        StateError::Backend {
            location: "postgres://db:5432/sluice".into(),
            detail: "connection refused".into(),
        }
    }

    #[async_trait::async_trait]
    impl StateStore for DownStore {
        fn store_id(&self) -> &str {
            "down"
        }
        async fn load(&self, _: &str) -> Result<SourceState, StateError> {
            Err(down())
        }
        async fn prepare(&self, _: &str, _: &Intent, _: u64) -> Result<(), StateError> {
            Err(down())
        }
        async fn commit(&self, _: &str, _: &Checkpoint, _: u64) -> Result<(), StateError> {
            Err(down())
        }
        async fn replace_checkpoint(
            &self,
            _: &str,
            _: &Checkpoint,
            _: u64,
            _: u64,
        ) -> Result<(), StateError> {
            Err(down())
        }
        async fn acquire_lease(
            &self,
            _: &str,
            _: &str,
            _: Duration,
        ) -> Result<LeaseOutcome, StateError> {
            Err(down())
        }
        async fn renew_lease(&self, _: &Lease, _: Duration) -> Result<Lease, StateError> {
            Err(down())
        }
        async fn release_lease(&self, _: &Lease) -> Result<(), StateError> {
            Err(down())
        }
        async fn record_run(&self, _: &RunRecord) -> Result<(), StateError> {
            Err(down())
        }
        async fn recent_runs(&self, _: &str, _: usize) -> Result<Vec<RunRecord>, StateError> {
            Err(down())
        }
        async fn status(&self) -> Result<Vec<SourceStatus>, StateError> {
            Err(down())
        }
        async fn checkpoints_under(
            &self,
            _: &str,
        ) -> Result<Vec<(String, Checkpoint)>, StateError> {
            Err(down())
        }
        async fn incidents(&self) -> Result<Vec<Incident>, StateError> {
            Err(down())
        }
        async fn open_incident(&self, _: &Incident) -> Result<bool, StateError> {
            Err(down())
        }
        async fn update_incident(&self, _: &Incident) -> Result<(), StateError> {
            Err(down())
        }
        async fn close_incident(&self, _: &str, _: &str) -> Result<bool, StateError> {
            Err(down())
        }
    }

    fn generation(store: Arc<dyn StateStore>) -> Arc<Generation> {
        let config = crate::config::load_str("", std::path::Path::new("sluice.toml"))
            .expect("an empty config is valid");
        Arc::new(Generation { config, store })
    }

    #[tokio::test]
    async fn readiness_follows_start_store_health_and_shutdown() {
        let health = Health::default();
        let starting = health.readiness().await.unwrap_err();
        assert!(matches!(starting, NotReady::Starting), "{starting:?}");
        let starting = starting.to_string();
        assert!(starting.contains("starting"), "{starting}");

        let dir = tempfile::tempdir().unwrap();
        let sqlite = crate::state::SqliteStore::open(&dir.path().join("state.db"))
            .await
            .unwrap();
        health.set_generation(generation(Arc::new(sqlite)));
        assert!(health.readiness().await.is_ok());

        health.set_generation(generation(Arc::new(DownStore)));
        let failing = health.readiness().await.unwrap_err().to_string();
        assert!(
            failing.contains("state store") && failing.contains("connection refused"),
            "{failing}"
        );

        health.set_stopping();
        let stopping = health.readiness().await.unwrap_err().to_string();
        assert!(stopping.contains("shutting down"), "{stopping}");
    }
}
