//! An in-process HTTP server that emulates vendor audit-log APIs, with injectable faults.
//!
//! It backs the demo, the integration tests (including the kill -9 exactness test) and
//! the benchmarks, so two properties matter above all:
//!
//! * **Determinism.** Every event is a pure function of `(config, index)`; the set of
//!   ids a client should end up with is known up front via [`event_ids`].
//! * **Bounded memory.** Nothing is materialised: a page is rendered from its index
//!   range, and time → index lookups are a binary search over a closed-form timeline, so
//!   ten million events cost no more memory than ten.
//!
//! The server is stateless apart from statistics counters: pagination state lives only
//! in the `after` cursor, so a client that crashes and resumes from its own checkpoint
//! sees exactly the data it would have seen otherwise.
//!
//! Vendors are profiles selected by [`Vendor`]; each lives in its own module ([`okta`],
//! and [`generic`], a configurable API covering every pagination style, sort order, time
//! format and auth scheme a connector spec can describe) and supplies its routes and event
//! shape, while the timeline, fault decisions, statistics and server lifecycle here are
//! shared.
//!
//! Besides the vendor API the server answers `GET /_sim/health` (`ok`) and
//! `GET /_sim/stats` ([`SimStats`] as JSON); these are never faulted nor authenticated.

pub mod atlassian;
pub mod r#box;
pub mod cloudflare;
pub mod dropbox;
pub mod duo;
pub mod entra;
pub(crate) mod faults;
pub mod generic;
pub mod github;
pub mod google_workspace;
pub mod jira;
mod late;
mod listing;
pub mod okta;
pub mod onepassword;
pub mod pagerduty;
mod rng;
pub mod salesforce;
pub mod slack;
pub mod snyk;
pub mod tailscale;
pub mod tfc;
mod timeline;
pub mod tines;
pub mod vicarius;
pub mod workday;
pub mod zendesk;
pub mod zoom;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::Faults;
pub use generic::{GenericProfile, SimAuth, SimOrder, SimPagination, SimTimeFormat};
pub use late::LateEvents;

use faults::FaultInjector;
use timeline::Timeline;

/// How long [`RunningSimulator::shutdown`] waits for in-flight requests before aborting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Which vendor API the simulator emulates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Vendor {
    /// Okta System Log API (`GET /api/v1/logs`).
    #[default]
    Okta,
    /// A configurable API (see [`generic`] and [`SimulatorConfig::generic`]).
    Generic,
    /// GitHub organization audit log (`GET /orgs/acme/audit-log`).
    Github,
    /// Slack Audit Logs API (`GET /audit/v1/logs`).
    Slack,
    /// Atlassian organization audit log (`GET /admin/v1/orgs/{orgId}/events`).
    Atlassian,
    /// 1Password Events API (`POST /api/v1/{auditevents,itemusages,signinattempts}`).
    OnePassword,
    /// Duo Admin API logs (`GET /admin/v2/logs/{authentication,telephony}`,
    /// `GET /admin/v1/logs/administrator`).
    Duo,
    /// Microsoft Entra ID through Microsoft Graph (`GET /v1.0/auditLogs/{signIns,directoryAudits}`
    /// and the identity platform's token endpoint).
    Entra,
    /// Google Workspace Admin SDK Reports API (`activities.list` of every application,
    /// behind a service-account token endpoint).
    GoogleWorkspace,
    /// PagerDuty Audit Records API (`GET /audit/records`).
    PagerDuty,
    /// Dropbox team log (`POST /2/team_log/get_events` and `/continue`, and the OAuth token
    /// endpoint).
    Dropbox,
    /// Zoom account reports (`GET /v2/report/{operationlogs,activities}`, behind the OAuth
    /// server's Server-to-Server token endpoint).
    Zoom,
    /// Tailscale tailnet logs (`GET /api/v2/tailnet/{tailnet}/logging/{configuration,network}`,
    /// and the OAuth token endpoint).
    Tailscale,
    /// Cloudflare account audit logs, v2 (`GET /client/v4/accounts/{account_id}/logs/audit`).
    Cloudflare,
    /// Snyk audit logs, REST API (`GET /rest/{orgs,groups}/{id}/audit_logs/search`).
    Snyk,
    /// Box enterprise events (`GET /2.0/events?stream_type=admin_logs`, behind the Client
    /// Credentials Grant token endpoint `POST /oauth2/token`).
    Box,
    /// Zendesk Support audit logs (`GET /api/v2/audit_logs`, cursor pagination).
    Zendesk,
    /// Vicarius vRx External Data API incident events
    /// (`GET /vicarius-external-data-api/incidentEvent/filter`).
    Vicarius,
    /// Jira Cloud and Confluence Cloud audit records of one site
    /// (`GET /rest/api/3/auditing/record`, `GET /wiki/rest/api/audit`).
    Jira,
    /// Workday user activity logging (`GET /ccx/api/privacy/v1/{tenant}/activityLogging`, and
    /// the tenant's OAuth token endpoint).
    Workday,
    /// HCP Terraform (Terraform Cloud) organization audit trail
    /// (`GET /api/v2/organization/audit-trail`, page numbers, newest first).
    Tfc,
    /// Tines audit logs (`GET /api/v1/audit_logs`, page numbers, newest first).
    Tines,
    /// Salesforce Setup Audit Trail (`GET /services/data/vXX.X/query` with SOQL, batches
    /// through `nextRecordsUrl`, and the Client Credentials Flow token endpoint).
    Salesforce,
}

impl Vendor {
    /// Every supported vendor, e.g. for CLI help or `possible_values`.
    pub const ALL: &'static [Vendor] = &[
        Vendor::Okta,
        Vendor::Generic,
        Vendor::Github,
        Vendor::Slack,
        Vendor::Atlassian,
        Vendor::OnePassword,
        Vendor::Duo,
        Vendor::Entra,
        Vendor::GoogleWorkspace,
        Vendor::PagerDuty,
        Vendor::Dropbox,
        Vendor::Zoom,
        Vendor::Tailscale,
        Vendor::Cloudflare,
        Vendor::Snyk,
        Vendor::Box,
        Vendor::Zendesk,
        Vendor::Vicarius,
        Vendor::Jira,
        Vendor::Workday,
        Vendor::Tfc,
        Vendor::Tines,
        Vendor::Salesforce,
    ];

    /// The lowercase name used in configuration and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Vendor::Okta => "okta",
            Vendor::Generic => "generic",
            Vendor::Github => "github",
            Vendor::Slack => "slack",
            Vendor::Atlassian => "atlassian",
            Vendor::OnePassword => "onepassword",
            Vendor::Duo => "duo",
            Vendor::Entra => "entra",
            Vendor::GoogleWorkspace => "google_workspace",
            Vendor::PagerDuty => "pagerduty",
            Vendor::Dropbox => "dropbox",
            Vendor::Zoom => "zoom",
            Vendor::Tailscale => "tailscale",
            Vendor::Cloudflare => "cloudflare",
            Vendor::Snyk => "snyk",
            Vendor::Box => "box",
            Vendor::Zendesk => "zendesk",
            Vendor::Vicarius => "vicarius",
            Vendor::Jira => "jira",
            Vendor::Workday => "workday",
            Vendor::Tfc => "tfc",
            Vendor::Tines => "tines",
            Vendor::Salesforce => "salesforce",
        }
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when parsing an unknown vendor name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown simulator vendor `{0}` (supported: okta, generic, github, slack, atlassian, onepassword, duo, entra, google_workspace, pagerduty, dropbox, zoom, tailscale, cloudflare, snyk, box, zendesk, vicarius, jira, workday, tfc, tines, salesforce)")]
pub struct UnknownVendor(pub String);

impl FromStr for Vendor {
    type Err = UnknownVendor;

    /// Case-insensitive, surrounding whitespace ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Vendor::ALL
            .iter()
            .copied()
            .find(|v| v.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownVendor(s.to_string()))
    }
}

/// Everything that determines what the simulator serves and how it misbehaves.
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    /// Which vendor API to emulate.
    pub vendor: Vendor,
    /// Total number of events served.
    pub events: u64,
    /// Seed for event content, timestamps and ids.
    pub seed: u64,
    /// Time of the last event (truncated to whole milliseconds).
    pub anchor: DateTime<Utc>,
    /// Events are spread evenly over `[anchor - span, anchor]`.
    pub span: Duration,
    /// Page size when the request has no `limit`.
    pub default_page_size: usize,
    /// Larger `limit`s are clamped to this.
    pub max_page_size: usize,
    /// Delay added to every vendor API response.
    pub latency: Duration,
    /// Expected API token (`Authorization: SSWS <token>` for Okta).
    pub token: String,
    /// Injected faults.
    pub faults: Faults,
    /// Events the API publishes some time after their event time (none by default).
    pub late: LateEvents,
    /// How long after its time the API publishes every event (an API's documented buffer,
    /// such as Duo's two minutes); zero by default.
    pub publication_delay: Duration,
    /// How the generic vendor behaves (ignored by the other vendors).
    pub generic: GenericProfile,
}

impl SimulatorConfig {
    /// An Okta System Log with `events` events and Okta's paging defaults: seed 42,
    /// anchor five minutes ago (whole milliseconds), 6 h span, pages of 100 (max 1000),
    /// no latency, token `sim-token`, no faults.
    pub fn okta(events: u64) -> Self {
        Self {
            vendor: Vendor::Okta,
            events,
            seed: 42,
            anchor: (Utc::now() - chrono::TimeDelta::minutes(5)).trunc_subsecs(3),
            span: Duration::from_secs(6 * 3600),
            default_page_size: 100,
            max_page_size: 1000,
            latency: Duration::ZERO,
            token: "sim-token".to_string(),
            faults: Faults::none(),
            late: LateEvents::default(),
            publication_delay: Duration::ZERO,
            generic: GenericProfile::default(),
        }
    }

    /// A generic API with `events` events behaving as `profile`, with the same defaults
    /// as [`SimulatorConfig::okta`] otherwise (seed 42, anchor five minutes ago, 6 h span,
    /// pages of 100 up to 1000, no latency, no faults).
    pub fn generic(events: u64, profile: GenericProfile) -> Self {
        Self {
            vendor: Vendor::Generic,
            generic: profile,
            ..Self::okta(events)
        }
    }

    /// A GitHub organization audit log (org `acme`) with `events` events and GitHub's page
    /// sizes (30 by default, at most 100), otherwise as [`SimulatorConfig::okta`].
    pub fn github(events: u64) -> Self {
        Self {
            vendor: Vendor::Github,
            default_page_size: github::DEFAULT_PER_PAGE,
            max_page_size: github::MAX_PER_PAGE,
            ..Self::okta(events)
        }
    }

    /// A Slack Enterprise organization's audit logs with `events` entries and Slack's page
    /// sizes (100 without `limit`, at most 9999), otherwise as [`SimulatorConfig::okta`].
    pub fn slack(events: u64) -> Self {
        Self {
            vendor: Vendor::Slack,
            default_page_size: slack::DEFAULT_LIMIT,
            max_page_size: slack::MAX_LIMIT,
            ..Self::okta(events)
        }
    }

    /// An Atlassian organization's audit log with `events` events in pages of 100, otherwise
    /// as [`SimulatorConfig::okta`].
    pub fn atlassian(events: u64) -> Self {
        Self {
            vendor: Vendor::Atlassian,
            default_page_size: atlassian::PAGE_SIZE,
            max_page_size: atlassian::PAGE_SIZE,
            ..Self::okta(events)
        }
    }

    /// A 1Password account's Events API with `events` events dealt across its three
    /// endpoints ([`onepassword::Stream::of`]), pages of 100 without `limit` and at most
    /// 1000, otherwise as [`SimulatorConfig::okta`].
    pub fn onepassword(events: u64) -> Self {
        Self {
            vendor: Vendor::OnePassword,
            default_page_size: onepassword::DEFAULT_LIMIT,
            max_page_size: onepassword::MAX_LIMIT,
            ..Self::okta(events)
        }
    }

    /// A Duo account's Admin API logs with `events` entries dealt across its three logs
    /// ([`duo::Stream::of`]), v2 pages of 100 without `limit` and at most 1000, otherwise as
    /// [`SimulatorConfig::okta`]. The secret key is `token`; the integration key is
    /// [`duo::INTEGRATION_KEY`].
    pub fn duo(events: u64) -> Self {
        Self {
            vendor: Vendor::Duo,
            default_page_size: duo::DEFAULT_LIMIT,
            max_page_size: duo::MAX_LIMIT,
            publication_delay: duo::PUBLICATION_DELAY,
            ..Self::okta(events)
        }
    }

    /// A Microsoft Entra tenant ([`entra::TENANT_ID`]) with `events` activity records dealt
    /// across sign-ins and directory audits ([`entra::Stream::of`]), Graph's page size (1000
    /// without `$top`, at most 1000) and the app [`entra::CLIENT_ID`] whose client secret is
    /// `token`, otherwise as [`SimulatorConfig::okta`].
    pub fn entra(events: u64) -> Self {
        Self {
            vendor: Vendor::Entra,
            default_page_size: entra::MAX_TOP,
            max_page_size: entra::MAX_TOP,
            ..Self::okta(events)
        }
    }

    /// A Zoom account ([`zoom::ACCOUNT_ID`]) with `events` report records dealt across
    /// operation logs and sign-in / sign-out activities ([`zoom::Stream::of`]) over the last
    /// 20 hours of the last day that ended 65 minutes ago, pages of 30 without `page_size` and
    /// at most 300, and the Server-to-Server OAuth app [`zoom::CLIENT_ID`] whose client
    /// secret is `token`; otherwise as [`SimulatorConfig::okta`].
    pub fn zoom(events: u64) -> Self {
        // Zoom's reports take whole days: the data ends a second before the last day that
        // ended 65 minutes ago, so it lies wholly in days a run with the preset's hour of
        // settle delay lists, and (20 hours of it, after 01:05 UTC) in the one day the demo's
        // lookback reaches.
        let day = (Utc::now() - chrono::TimeDelta::minutes(65)).date_naive();
        let anchor = day
            .and_hms_opt(0, 0, 0)
            .map_or_else(Utc::now, |t| t.and_utc())
            - chrono::TimeDelta::seconds(1);
        Self {
            vendor: Vendor::Zoom,
            anchor,
            span: Duration::from_secs(20 * 3600),
            default_page_size: zoom::DEFAULT_PAGE_SIZE,
            max_page_size: zoom::MAX_PAGE_SIZE,
            ..Self::okta(events)
        }
    }

    /// A Google Workspace customer's Reports API with `events` activities dealt across its
    /// applications ([`google_workspace::app_of`]), pages of 1000 without `maxResults` and at
    /// most 1000, otherwise as [`SimulatorConfig::okta`]. Clients authenticate with the
    /// service-account key of [`google_workspace::service_account_json`].
    pub fn google_workspace(events: u64) -> Self {
        Self {
            vendor: Vendor::GoogleWorkspace,
            default_page_size: google_workspace::DEFAULT_MAX_RESULTS,
            max_page_size: google_workspace::MAX_RESULTS,
            ..Self::okta(events)
        }
    }

    /// A PagerDuty account's audit records with `events` records, pages of 25 without
    /// `limit` and at most 100 ([`pagerduty::DEFAULT_LIMIT`], [`pagerduty::MAX_LIMIT`]); the
    /// account API key is `token`. Otherwise as [`SimulatorConfig::okta`].
    pub fn pagerduty(events: u64) -> Self {
        Self {
            vendor: Vendor::PagerDuty,
            default_page_size: pagerduty::DEFAULT_LIMIT,
            max_page_size: pagerduty::MAX_LIMIT,
            ..Self::okta(events)
        }
    }

    /// A Dropbox team's activity log with `events` events, pages of 1000 without `limit` and
    /// at most 1000, otherwise as [`SimulatorConfig::okta`]. `token` is both the refresh
    /// token and a long-lived access token; the app is [`dropbox::APP_KEY`] /
    /// [`dropbox::APP_SECRET`]. The newest event is ten minutes old: the preset settles for
    /// five minutes and writes whole seconds, so with Okta's five minutes the newest second
    /// would be listed only by a run that starts more than a second later.
    pub fn dropbox(events: u64) -> Self {
        let base = Self::okta(events);
        Self {
            vendor: Vendor::Dropbox,
            default_page_size: dropbox::MAX_LIMIT,
            max_page_size: dropbox::MAX_LIMIT,
            anchor: base.anchor - chrono::TimeDelta::minutes(5),
            ..base
        }
    }

    /// A tailnet's configuration audit logs and network flow logs with `events` records dealt
    /// across them ([`tailscale::Stream::of`]), answered whole (Tailscale does not paginate);
    /// the API access token and the OAuth client [`tailscale::CLIENT_ID`]'s secret are both
    /// `token`. Otherwise as [`SimulatorConfig::okta`].
    pub fn tailscale(events: u64) -> Self {
        Self {
            vendor: Vendor::Tailscale,
            default_page_size: tailscale::NO_PAGING,
            max_page_size: tailscale::NO_PAGING,
            ..Self::okta(events)
        }
    }

    /// An HCP Terraform organization's audit trail with `events` events, pages of 1000 without
    /// `page[size]` and at most 1000 ([`tfc::MAX_PAGE_SIZE`]); the organization token is
    /// `token`. Otherwise as [`SimulatorConfig::okta`].
    pub fn tfc(events: u64) -> Self {
        Self {
            vendor: Vendor::Tfc,
            default_page_size: tfc::MAX_PAGE_SIZE,
            max_page_size: tfc::MAX_PAGE_SIZE,
            ..Self::okta(events)
        }
    }

    /// A Tines tenant's audit logs with `events` logs, pages of 20 without `per_page` and at
    /// most 500 ([`tines::DEFAULT_PER_PAGE`], [`tines::MAX_PER_PAGE`]); the API key is
    /// `token`. Otherwise as [`SimulatorConfig::okta`].
    pub fn tines(events: u64) -> Self {
        Self {
            vendor: Vendor::Tines,
            default_page_size: tines::DEFAULT_PER_PAGE,
            max_page_size: tines::MAX_PER_PAGE,
            ..Self::okta(events)
        }
    }

    /// A Salesforce org's Setup Audit Trail with `events` records, batches of up to 2,000
    /// ([`salesforce::MAX_BATCH`]); the External Client App [`salesforce::CLIENT_ID`]'s
    /// consumer secret is `token`. The newest record is ten minutes old: the preset settles
    /// for five minutes and writes whole seconds (as [`SimulatorConfig::dropbox`]).
    /// Otherwise as [`SimulatorConfig::okta`].
    pub fn salesforce(events: u64) -> Self {
        let base = Self::okta(events);
        Self {
            vendor: Vendor::Salesforce,
            default_page_size: salesforce::MAX_BATCH,
            max_page_size: salesforce::MAX_BATCH,
            anchor: base.anchor - chrono::TimeDelta::minutes(5),
            ..base
        }
    }

    /// A Vicarius vRx dashboard's incident events with `events` events, pages of 100 without
    /// `size` and at most 500 ([`vicarius::DEFAULT_SIZE`], [`vicarius::MAX_SIZE`]); the API key
    /// (`Vicarius-Token`) is `token`. Otherwise as [`SimulatorConfig::okta`].
    pub fn vicarius(events: u64) -> Self {
        Self {
            vendor: Vendor::Vicarius,
            default_page_size: vicarius::DEFAULT_SIZE,
            max_page_size: vicarius::MAX_SIZE,
            ..Self::okta(events)
        }
    }

    /// A Cloudflare account's audit logs (v2) with `events` logs, pages of 100 without `limit`
    /// and at most 1000 ([`cloudflare::DEFAULT_LIMIT`], [`cloudflare::MAX_LIMIT`]); the API
    /// token is `token` and the account is [`cloudflare::ACCOUNT_ID`]. Otherwise as
    /// [`SimulatorConfig::okta`].
    pub fn cloudflare(events: u64) -> Self {
        Self {
            vendor: Vendor::Cloudflare,
            default_page_size: cloudflare::DEFAULT_LIMIT,
            max_page_size: cloudflare::MAX_LIMIT,
            ..Self::okta(events)
        }
    }

    /// An Atlassian site's Jira and Confluence audit records with `events` records dealt across
    /// the two products ([`jira::Product::of`]), pages of at most 1000 ([`jira::MAX_LIMIT`]);
    /// the account [`jira::EMAIL`]'s API token is `token`. Otherwise as
    /// [`SimulatorConfig::okta`].
    pub fn jira(events: u64) -> Self {
        Self {
            vendor: Vendor::Jira,
            default_page_size: jira::MAX_LIMIT,
            max_page_size: jira::MAX_LIMIT,
            ..Self::okta(events)
        }
    }

    /// A Snyk Group ([`snyk::GROUP_ID`]) and its Organization ([`snyk::ORG_ID`]) with `events`
    /// audit log items dealt across the two levels ([`snyk::Level::of`]), pages of 100
    /// without `size` and at most 100 ([`snyk::MAX_SIZE`]); the API token is `token`.
    /// Otherwise as [`SimulatorConfig::okta`].
    pub fn snyk(events: u64) -> Self {
        Self {
            vendor: Vendor::Snyk,
            default_page_size: snyk::MAX_SIZE,
            max_page_size: snyk::MAX_SIZE,
            ..Self::okta(events)
        }
    }

    /// A Box enterprise's event stream (`admin_logs`) with `events` events, pages of 100
    /// without `limit` and at most 500 ([`r#box::DEFAULT_LIMIT`], [`r#box::MAX_LIMIT`]), and
    /// the Client Credentials Grant app [`r#box::CLIENT_ID`] of enterprise
    /// [`r#box::ENTERPRISE_ID`] whose client secret is `token`; otherwise as
    /// [`SimulatorConfig::okta`]. The newest event is twenty minutes old: the preset settles
    /// for fifteen minutes in whole seconds, so a single run right after start lists it.
    pub fn r#box(events: u64) -> Self {
        let base = Self::okta(events);
        Self {
            vendor: Vendor::Box,
            default_page_size: r#box::DEFAULT_LIMIT,
            max_page_size: r#box::MAX_LIMIT,
            anchor: base.anchor - chrono::TimeDelta::minutes(15),
            ..base
        }
    }

    /// A Zendesk account's audit logs with `events` records, pages of at most 100
    /// ([`zendesk::MAX_PAGE_SIZE`]); the admin [`zendesk::ADMIN_EMAIL`]'s API token (and an
    /// OAuth token) is `token`. Otherwise as [`SimulatorConfig::okta`], but the newest record
    /// is ten minutes old: the preset settles for five minutes in whole seconds, so a single
    /// run right after start lists it.
    pub fn zendesk(events: u64) -> Self {
        let base = Self::okta(events);
        Self {
            vendor: Vendor::Zendesk,
            default_page_size: zendesk::MAX_PAGE_SIZE,
            max_page_size: zendesk::MAX_PAGE_SIZE,
            anchor: base.anchor - chrono::TimeDelta::minutes(5),
            ..base
        }
    }

    /// A Workday tenant's ([`workday::TENANT`]) user activity log with `events` entries, 20
    /// a page without `limit` and at most 1000 ([`workday::DEFAULT_LIMIT`],
    /// [`workday::MAX_LIMIT`]); `token` is both the refresh token and a long-lived access
    /// token; the API client is [`workday::CLIENT_ID`] / [`workday::CLIENT_SECRET`].
    /// The newest entry is fifteen minutes old: the preset settles for ten minutes and
    /// writes whole seconds. Otherwise as [`SimulatorConfig::okta`].
    pub fn workday(events: u64) -> Self {
        let base = Self::okta(events);
        Self {
            vendor: Vendor::Workday,
            default_page_size: workday::DEFAULT_LIMIT,
            max_page_size: workday::MAX_LIMIT,
            anchor: base.anchor - chrono::TimeDelta::minutes(10),
            ..base
        }
    }

    /// Checks the settings [`start`] would otherwise trip over.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.default_page_size > 0,
            "default_page_size must be at least 1"
        );
        anyhow::ensure!(self.max_page_size > 0, "max_page_size must be at least 1");
        self.generic.validate()?;
        self.late.validate()?;
        self.faults.validate()
    }
}

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

fn timeline_of(config: &SimulatorConfig) -> Timeline {
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
fn is_plausible_authority(host: &str) -> bool {
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
    state: Arc<AppState>,
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
fn dialable(addr: SocketAddr) -> SocketAddr {
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
        Vendor::Workday => workday::routes(),
        Vendor::Tfc => tfc::routes(),
        Vendor::Tines => tines::routes(),
        Vendor::Salesforce => salesforce::routes(),
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

/// The ids of every event the simulator serves, in serving order (ascending by time,
/// i.e. by index). Ids are unique by construction.
///
/// Ids depend only on `vendor`, `seed` and the index — not on `anchor`, `span` or
/// `events` — so a test can recompute them even when the simulator runs in another
/// process with a different anchor, and a smaller dataset's ids are a prefix of a
/// larger one's. The exceptions are Duo's administrator log, which has no ids (its ids are
/// Sluice's content ids of the entries, which include their times), Dropbox, whose events
/// have no ids either (content ids likewise), Tailscale and Workday (content ids likewise), Snyk (content ids of items that hold
/// their times), Confluence's audit records (of the `jira` vendor; content ids
/// likewise), and Google Workspace, whose activities are
/// identified by their whole `id` object, time included: their ids need the same `anchor`,
/// `span` and `events` as the server's.
///
/// This allocates one string per event; for very large datasets prefer iterating
/// [`event_id`] over `0..config.events`.
pub fn event_ids(config: &SimulatorConfig) -> Vec<String> {
    (0..config.events).map(|i| event_id(config, i)).collect()
}

/// The id of event `index` (Okta: its `uuid`; generic: its `id`), much cheaper than
/// building the event.
pub fn event_id(config: &SimulatorConfig, index: u64) -> String {
    match config.vendor {
        Vendor::Okta => okta::event_id(config, index),
        Vendor::Generic => generic::event_id(config, index),
        Vendor::Github => github::event_id(config, index),
        Vendor::Slack => slack::event_id(config, index),
        Vendor::Atlassian => atlassian::event_id(config, index),
        Vendor::OnePassword => onepassword::event_id(config, index),
        Vendor::Duo => duo::event_id(config, index),
        Vendor::Entra => entra::event_id(config, index),
        Vendor::GoogleWorkspace => google_workspace::event_id(config, index),
        Vendor::PagerDuty => pagerduty::event_id(config, index),
        Vendor::Dropbox => dropbox::event_id(config, index),
        Vendor::Zoom => zoom::event_id(config, index),
        Vendor::Tailscale => tailscale::event_id(config, index),
        Vendor::Cloudflare => cloudflare::event_id(config, index),
        Vendor::Snyk => snyk::event_id(config, index),
        Vendor::Box => r#box::event_id(config, index),
        Vendor::Zendesk => zendesk::event_id(config, index),
        Vendor::Vicarius => vicarius::event_id(config, index),
        Vendor::Jira => jira::event_id(config, index),
        Vendor::Workday => workday::event_id(config, index),
        Vendor::Tfc => tfc::event_id(config, index),
        Vendor::Tines => tines::event_id(config, index),
        Vendor::Salesforce => salesforce::event_id(config, index),
    }
}

/// Event number `index` (0-based, ascending time) exactly as the server serializes it.
///
/// Computed independently of every other event. Indices `>= config.events` yield an
/// event that is never served (its time is clamped to `anchor`).
pub fn event(config: &SimulatorConfig, index: u64) -> serde_json::Value {
    match config.vendor {
        Vendor::Okta => okta::event(config, index),
        Vendor::Generic => generic::event(config, index),
        Vendor::Github => github::event(config, index),
        Vendor::Slack => slack::event(config, index),
        Vendor::Atlassian => atlassian::event(config, index),
        Vendor::OnePassword => onepassword::event(config, index),
        Vendor::Duo => duo::event(config, index),
        Vendor::Entra => entra::event(config, index),
        Vendor::GoogleWorkspace => google_workspace::event(config, index),
        Vendor::PagerDuty => pagerduty::event(config, index),
        Vendor::Dropbox => dropbox::event(config, index),
        Vendor::Zoom => zoom::event(config, index),
        Vendor::Tailscale => tailscale::event(config, index),
        Vendor::Cloudflare => cloudflare::event(config, index),
        Vendor::Snyk => snyk::event(config, index),
        Vendor::Box => r#box::event(config, index),
        Vendor::Zendesk => zendesk::event(config, index),
        Vendor::Vicarius => vicarius::event(config, index),
        Vendor::Jira => jira::event(config, index),
        Vendor::Workday => workday::event(config, index),
        Vendor::Tfc => tfc::event(config, index),
        Vendor::Tines => tines::event(config, index),
        Vendor::Salesforce => salesforce::event(config, index),
    }
}

/// The time of event `index` exactly as served (generic: at the precision of the
/// profile's time format, e.g. whole seconds for `EpochSeconds`).
pub fn event_time(config: &SimulatorConfig, index: u64) -> DateTime<Utc> {
    match config.vendor {
        Vendor::Okta
        | Vendor::Github
        | Vendor::Atlassian
        | Vendor::OnePassword
        | Vendor::Entra
        | Vendor::GoogleWorkspace
        | Vendor::PagerDuty
        | Vendor::Tailscale
        | Vendor::Snyk
        | Vendor::Jira
        | Vendor::Workday
        | Vendor::Tfc => {
            let ms = timeline_of(config).published_ms(index);
            DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
        }
        Vendor::Generic => generic::timing_to_datetime(generic::timeline_of(config).time_ns(index)),
        // Slack, Dropbox, Zoom, Cloudflare, Box, Zendesk, Tines and Salesforce write whole
        // seconds.
        Vendor::Slack
        | Vendor::Dropbox
        | Vendor::Zoom
        | Vendor::Cloudflare
        | Vendor::Box
        | Vendor::Zendesk
        | Vendor::Tines
        | Vendor::Salesforce => {
            let seconds = timeline_of(config).published_ms(index).div_euclid(1000);
            DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
        }
        // Nanoseconds.
        Vendor::Vicarius => {
            generic::timing_to_datetime(vicarius::time_ns(&timeline_of(config), index))
        }
        // The administrator log writes whole seconds, the others milliseconds.
        Vendor::Duo => {
            let ms = duo::served_ms(&timeline_of(config), index);
            DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
        }
    }
}

/// When event `index` becomes visible to clients: its [`event_time`] plus its delay (see
/// [`LateEvents`]). No profile serves an event before then.
pub fn visible_at(config: &SimulatorConfig, index: u64) -> DateTime<Utc> {
    match config.vendor {
        Vendor::Okta
        | Vendor::Github
        | Vendor::Slack
        | Vendor::Atlassian
        | Vendor::OnePassword
        | Vendor::Duo
        | Vendor::Entra
        | Vendor::GoogleWorkspace
        | Vendor::PagerDuty
        | Vendor::Dropbox
        | Vendor::Zoom
        | Vendor::Tailscale
        | Vendor::Cloudflare
        | Vendor::Snyk
        | Vendor::Box
        | Vendor::Zendesk
        | Vendor::Jira
        | Vendor::Workday
        | Vendor::Tfc
        | Vendor::Tines
        | Vendor::Salesforce => {
            let ns = timeline_of(config).visible_at_ns(index);
            generic::timing_to_datetime(ns)
        }
        // Its times carry nanoseconds past the timeline's millisecond: visible no earlier.
        Vendor::Vicarius => {
            let timeline = timeline_of(config);
            let ns = timeline
                .visible_at_ns(index)
                .max(vicarius::time_ns(&timeline, index));
            generic::timing_to_datetime(ns)
        }
        Vendor::Generic => {
            generic::timing_to_datetime(generic::timeline_of(config).visible_at_ns(index))
        }
    }
}

/// The index of the first event published at or after `t` (`config.events` if none),
/// i.e. what a `since=t` (or `start=t`) query starts with. Useful for predicting bounded
/// queries.
pub fn first_index_at_or_after(config: &SimulatorConfig, t: DateTime<Utc>) -> u64 {
    match config.vendor {
        // Duo: by the millisecond timeline (the administrator log's whole seconds aside).
        Vendor::Okta
        | Vendor::Github
        | Vendor::Atlassian
        | Vendor::OnePassword
        | Vendor::Duo
        | Vendor::Entra
        | Vendor::GoogleWorkspace
        | Vendor::PagerDuty
        | Vendor::Tailscale
        | Vendor::Snyk
        | Vendor::Jira
        | Vendor::Workday
        | Vendor::Tfc => timeline_of(config).first_at_or_after(timeline::ceil_millis(&t)),
        // The first entry whose whole second is at or after `t`.
        Vendor::Slack
        | Vendor::Dropbox
        | Vendor::Zoom
        | Vendor::Cloudflare
        | Vendor::Box
        | Vendor::Zendesk
        | Vendor::Tines
        | Vendor::Salesforce => {
            let ms = timeline::ceil_millis(&t);
            let second = ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0);
            timeline_of(config).first_at_or_after(second.saturating_mul(1000))
        }
        Vendor::Generic => {
            generic::timeline_of(config).first_at_or_after(generic::timing_to_nanos(&t))
        }
        Vendor::Vicarius => {
            vicarius::first_at_or_after_ns(&timeline_of(config), generic::timing_to_nanos(&t))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_header_that_makes_no_url_is_not_taken_as_the_base() {
        for host in ["127.0.0.1:8080", "localhost", "[::1]:9000", "sim.example_1"] {
            assert!(is_plausible_authority(host), "{host}");
        }
        // Characters the simple check lets through, but no URL base.
        for host in ["a:b:c", "[", "host:port", ":"] {
            assert!(!is_plausible_authority(host), "{host}");
        }
    }

    #[test]
    fn vendor_names_round_trip() {
        for v in Vendor::ALL {
            assert_eq!(v.as_str().parse::<Vendor>(), Ok(*v));
            assert_eq!(v.to_string(), v.as_str());
        }
        assert_eq!(" OKTA ".parse::<Vendor>(), Ok(Vendor::Okta));
        assert!("azure".parse::<Vendor>().is_err());
    }

    #[test]
    fn okta_defaults() {
        let c = SimulatorConfig::okta(10);
        assert_eq!(
            (c.seed, c.default_page_size, c.max_page_size),
            (42, 100, 1000)
        );
        assert_eq!(c.anchor.timestamp_subsec_nanos() % 1_000_000, 0);
        assert!(c.anchor < Utc::now());
        assert!(c.validate().is_ok());
        let bad = SimulatorConfig {
            max_page_size: 0,
            ..c
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn dialable_replaces_unspecified_ip() {
        let addr: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(dialable(addr).to_string(), "127.0.0.1:8080");
        let addr: SocketAddr = "[::]:80".parse().unwrap();
        assert_eq!(dialable(addr).to_string(), "[::1]:80");
    }

    #[tokio::test]
    async fn health_stats_and_shutdown() {
        let sim = start(SimulatorConfig::okta(5), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let base = sim.base_url();
        let health = client
            .get(format!("{base}/_sim/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        assert_eq!(health.text().await.unwrap(), "ok");
        let stats = client
            .get(format!("{base}/_sim/stats"))
            .send()
            .await
            .unwrap();
        let stats: SimStats = serde_json::from_slice(&stats.bytes().await.unwrap()).unwrap();
        assert_eq!(stats, SimStats::default());
        sim.shutdown().await;
        assert!(client
            .get(format!("{base}/_sim/health"))
            .send()
            .await
            .is_err());
    }
}
