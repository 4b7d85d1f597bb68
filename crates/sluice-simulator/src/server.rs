//! The server: shared request state and counters, the router, and starting and stopping it.

use super::*;

/// How long [`RunningSimulator::shutdown`] waits for in-flight requests before aborting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Request and fault counters since the server started.
///
/// Only vendor API requests are counted (not `/_sim/*`, not unknown paths). A page
/// counts as `pages_ok` (and its events as `events_served`) only when delivered intact;
/// a request can be both slow and faulted otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Vendor API requests received.
    pub requests: u64,
    /// Complete 200 pages served.
    pub pages_ok: u64,
    /// Injected 429 responses.
    pub faults_429: u64,
    /// Injected 500/502/503 responses.
    pub faults_5xx: u64,
    /// 200 responses whose body was cut short.
    pub faults_truncated: u64,
    /// Responses delayed by the `slow` fault.
    pub faults_slow: u64,
    /// Requests rejected for a missing or wrong token.
    pub unauthorized: u64,
    /// Requests rejected for invalid parameters.
    pub bad_requests: u64,
    /// Events contained in `pages_ok` pages.
    pub events_served: u64,
    /// Access tokens issued by the OAuth 2.0 token endpoint (generic and Google Workspace
    /// vendors).
    #[serde(default)]
    pub tokens_issued: u64,
    /// Requests refused because their cursor had expired (generic vendor; also counted
    /// in `bad_requests`).
    #[serde(default)]
    pub cursors_expired: u64,
    /// Late events (visible only some time after their event time) among
    /// `events_served` (generic vendor).
    #[serde(default)]
    pub late_events_served: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) pages_ok: AtomicU64,
    pub(crate) faults_429: AtomicU64,
    pub(crate) faults_5xx: AtomicU64,
    pub(crate) faults_truncated: AtomicU64,
    pub(crate) faults_slow: AtomicU64,
    pub(crate) unauthorized: AtomicU64,
    pub(crate) bad_requests: AtomicU64,
    pub(crate) events_served: AtomicU64,
    pub(crate) tokens_issued: AtomicU64,
    pub(crate) cursors_expired: AtomicU64,
    pub(crate) late_events_served: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> SimStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SimStats {
            requests: get(&self.requests),
            pages_ok: get(&self.pages_ok),
            faults_429: get(&self.faults_429),
            faults_5xx: get(&self.faults_5xx),
            faults_truncated: get(&self.faults_truncated),
            faults_slow: get(&self.faults_slow),
            unauthorized: get(&self.unauthorized),
            bad_requests: get(&self.bad_requests),
            events_served: get(&self.events_served),
            tokens_issued: get(&self.tokens_issued),
            cursors_expired: get(&self.cursors_expired),
            late_events_served: get(&self.late_events_served),
        }
    }
}

/// State shared by all request handlers of one server.
pub(crate) struct AppState {
    pub(crate) config: SimulatorConfig,
    pub(crate) timeline: Timeline,
    pub(crate) faults: FaultInjector,
    pub(crate) counters: Counters,
    /// Numbers vendor error ids so every error response gets a distinct one.
    pub(crate) error_seq: AtomicU64,
    /// `host:port` used in links when the request has no usable `Host` header.
    pub(crate) fallback_authority: String,
    /// State of the generic vendor (its timeline view and issued tokens).
    pub(crate) generic: generic::GenericState,
    /// State of the Entra vendor (its certificate and issued tokens).
    pub(crate) entra: entra::EntraState,
}

pub(crate) fn timeline_of(config: &SimulatorConfig) -> Timeline {
    Timeline::new(config.seed, config.events, config.anchor, config.span)
        .with_late(&config.late)
        .with_publication_delay(config.publication_delay)
}

/// `scheme://host[:port]` as the client addressed us, so links work through whatever
/// address the client used; falls back to the bound address for odd Host headers.
pub(crate) fn request_base(headers: &axum::http::HeaderMap, app: &AppState) -> String {
    let authority = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| is_plausible_authority(h))
        .unwrap_or(&app.fallback_authority);
    format!("http://{authority}")
}

/// Whether a `Host` header can stand in for the simulator's own address: plausible
/// characters, and a URL base that parses (`a:b:c` or a stray `[` do not), so that profiles
/// building links from [`request_base`] never meet an unparseable base.
pub(crate) fn is_plausible_authority(host: &str) -> bool {
    is_plausible_host_text(host) && url::Url::parse(&format!("http://{host}/")).is_ok()
}

fn is_plausible_host_text(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
}

/// A simulator serving in the background on the current tokio runtime.
///
/// Dropping it also stops the server (without waiting); call [`shutdown`] to wait
/// until it has stopped.
///
/// [`shutdown`]: RunningSimulator::shutdown
pub struct RunningSimulator {
    /// The bound address (with the real port when bound to port 0).
    pub addr: SocketAddr,
    pub(crate) state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningSimulator {
    /// `http://IP:PORT` of the server; an unspecified bind address (`0.0.0.0`, `::`) is
    /// reported as loopback, which is what a local client must dial.
    pub fn base_url(&self) -> String {
        format!("http://{}", dialable(self.addr))
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        self.state.counters.snapshot()
    }

    /// The configuration being served.
    pub fn config(&self) -> &SimulatorConfig {
        &self.state.config
    }

    /// Stops accepting connections, lets in-flight requests finish (up to 10 s, then
    /// aborts them) and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl fmt::Debug for RunningSimulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningSimulator")
            .field("addr", &self.addr)
            .field("vendor", &self.state.config.vendor)
            .finish_non_exhaustive()
    }
}

/// `addr` with an unspecified IP replaced by the matching loopback address.
pub(crate) fn dialable(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// Binds `addr` (port 0 picks a free port), spawns the server on the current tokio
/// runtime and returns immediately.
///
/// Must be called from within a tokio runtime. Fails if the configuration is invalid
/// (see [`SimulatorConfig::validate`]) or the address cannot be bound.
pub async fn start(config: SimulatorConfig, addr: SocketAddr) -> anyhow::Result<RunningSimulator> {
    config.validate()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding simulator to {addr}"))?;
    let addr = listener.local_addr().context("reading simulator address")?;
    let state = Arc::new(AppState {
        timeline: timeline_of(&config),
        faults: FaultInjector::new(config.faults.clone()),
        counters: Counters::default(),
        error_seq: AtomicU64::new(0),
        fallback_authority: dialable(addr).to_string(),
        generic: generic::GenericState::new(&config),
        entra: entra::EntraState::new(),
        config,
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let server = axum::serve(listener, router(Arc::clone(&state)))
        // A dropped sender (the RunningSimulator was dropped) also means "stop".
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    let task = tokio::spawn(async move {
        if let Err(error) = server.await {
            tracing::warn!(%error, "simulator server failed");
        }
    });
    tracing::debug!(%addr, vendor = %state.config.vendor, events = state.config.events, "simulator started");
    Ok(RunningSimulator {
        addr,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

fn router(state: Arc<AppState>) -> Router {
    let vendor = match state.config.vendor {
        Vendor::Okta => okta::routes(),
        Vendor::Generic => generic::routes(&state.config.generic),
        Vendor::Github => github::routes(),
        Vendor::Slack => slack::routes(),
        Vendor::Atlassian => atlassian::routes(),
        Vendor::OnePassword => onepassword::routes(),
        Vendor::Duo => duo::routes(),
        Vendor::Entra => entra::routes(),
        Vendor::GoogleWorkspace => google_workspace::routes(),
        Vendor::PagerDuty => pagerduty::routes(),
        Vendor::Dropbox => dropbox::routes(),
        Vendor::Zoom => zoom::routes(),
        Vendor::Tailscale => tailscale::routes(),
        Vendor::Cloudflare => cloudflare::routes(),
        Vendor::Snyk => snyk::routes(),
        Vendor::Box => r#box::routes(),
        Vendor::Zendesk => zendesk::routes(),
        Vendor::Vicarius => vicarius::routes(),
        Vendor::Jira => jira::routes(),
        Vendor::Kandji => kandji::routes(),
        Vendor::Workday => workday::routes(),
        Vendor::Tfc => tfc::routes(),
        Vendor::Tines => tines::routes(),
        Vendor::Salesforce | Vendor::SalesforceEventLog => salesforce::routes(),
        Vendor::Auth0 => auth0::routes(),
        Vendor::Lastpass => lastpass::routes(),
        Vendor::SentinelOne => sentinelone::routes(),
        Vendor::Stripe => stripe::routes(),
        Vendor::Asana => asana::routes(),
        Vendor::LaunchDarkly => launchdarkly::routes(),
    };
    Router::new()
        .route("/_sim/health", get(|| async { "ok" }))
        .route("/_sim/stats", get(stats_handler))
        .merge(vendor)
        .with_state(state)
}

async fn stats_handler(State(state): State<Arc<AppState>>) -> Response {
    match serde_json::to_vec(&state.counters.snapshot()) {
        Ok(body) => (
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
