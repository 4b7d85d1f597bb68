//! What a simulator serves and how it misbehaves: the settings and each vendor's defaults.

use super::*;

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
    /// Profiles that publish log files (Salesforce's event log files): a generation of files
    /// every this long, each holding what became visible since the one before; an hour by
    /// default, as Salesforce's hourly files.
    pub log_file_interval: Duration,
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
            log_file_interval: Duration::from_secs(3600),
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

    /// A Kandji tenant's audit log with `events` events, pages of at most 500
    /// ([`kandji::MAX_LIMIT`], also the size without `limit`); the API token is `token`.
    /// Otherwise as [`SimulatorConfig::okta`].
    pub fn kandji(events: u64) -> Self {
        Self {
            vendor: Vendor::Kandji,
            default_page_size: kandji::MAX_LIMIT,
            max_page_size: kandji::MAX_LIMIT,
            ..Self::okta(events)
        }
    }

    /// A LaunchDarkly account's audit log with `events` entries, pages of 10 without `limit`
    /// and at most 20 ([`launchdarkly::DEFAULT_LIMIT`], [`launchdarkly::MAX_LIMIT`]); the
    /// access token (the whole `Authorization` header) is `token`. Otherwise as
    /// [`SimulatorConfig::okta`].
    pub fn launchdarkly(events: u64) -> Self {
        Self {
            vendor: Vendor::LaunchDarkly,
            default_page_size: launchdarkly::DEFAULT_LIMIT,
            max_page_size: launchdarkly::MAX_LIMIT,
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

    /// An Auth0 tenant's logs with `events` logs, 50 a page without `take` and at most 100
    /// ([`auth0::DEFAULT_TAKE`], [`auth0::MAX_TAKE`]), and the machine-to-machine application
    /// [`auth0::CLIENT_ID`] whose client secret is `token`. Otherwise as
    /// [`SimulatorConfig::okta`]: a listing by checkpoint has no time range, so the newest log
    /// is served as soon as it is visible.
    pub fn auth0(events: u64) -> Self {
        Self {
            vendor: Vendor::Auth0,
            default_page_size: auth0::DEFAULT_TAKE,
            max_page_size: auth0::MAX_TAKE,
            ..Self::okta(events)
        }
    }

    /// A Salesforce org's event log files holding `events` rows (the rows of hourly files,
    /// a generation of files every hour), listed in batches of up to 2,000 as
    /// [`SimulatorConfig::salesforce`]. The newest row is two hours old, so its file,
    /// created at the next hour plus up to nineteen minutes, is older than the preset's
    /// fifteen minutes of settling. Otherwise as [`SimulatorConfig::okta`].
    pub fn salesforce_event_log(events: u64) -> Self {
        let base = Self::salesforce(events);
        Self {
            vendor: Vendor::SalesforceEventLog,
            anchor: base.anchor - chrono::TimeDelta::minutes(110),
            ..base
        }
    }

    /// A LastPass Business account's event report with `events` events, answers of up to
    /// 10,000 ([`lastpass::MAX_EVENTS`]); the provisioning hash is `token`, the account number
    /// [`lastpass::CID`]. The newest event is ten minutes old: the preset settles for five
    /// minutes and writes whole seconds (as [`SimulatorConfig::salesforce`]). Otherwise as
    /// [`SimulatorConfig::okta`].
    pub fn lastpass(events: u64) -> Self {
        let base = Self::okta(events);
        Self {
            vendor: Vendor::Lastpass,
            default_page_size: lastpass::MAX_EVENTS,
            max_page_size: lastpass::MAX_EVENTS,
            anchor: base.anchor - chrono::TimeDelta::minutes(5),
            ..base
        }
    }

    /// A SentinelOne console's activities with `events` activities, pages of 10 without
    /// `limit` and at most 1000 ([`sentinelone::DEFAULT_LIMIT`], [`sentinelone::MAX_LIMIT`]);
    /// the API token (`ApiToken`) is `token`. Otherwise as [`SimulatorConfig::okta`].
    pub fn sentinelone(events: u64) -> Self {
        Self {
            vendor: Vendor::SentinelOne,
            default_page_size: sentinelone::DEFAULT_LIMIT,
            max_page_size: sentinelone::MAX_LIMIT,
            ..Self::okta(events)
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

    /// A Stripe account's events with `events` events, pages of 10 without `limit` and at
    /// most 100 ([`stripe::DEFAULT_LIMIT`], [`stripe::MAX_LIMIT`]); the secret or restricted
    /// key is `token`. Otherwise as [`SimulatorConfig::okta`], but the newest event is ten
    /// minutes old: the preset settles for five minutes in whole seconds, so a single run
    /// right after start lists it.
    pub fn stripe(events: u64) -> Self {
        let base = Self::okta(events);
        Self {
            vendor: Vendor::Stripe,
            default_page_size: stripe::DEFAULT_LIMIT,
            max_page_size: stripe::MAX_LIMIT,
            anchor: base.anchor - chrono::TimeDelta::minutes(5),
            ..base
        }
    }

    /// An Asana domain's audit log (workspace [`asana::WORKSPACE_GID`]) with `events`
    /// events, pages of at most 100 ([`asana::MAX_LIMIT`]); the service account token is
    /// `token`. Otherwise as [`SimulatorConfig::okta`], but the newest event is ten minutes
    /// old: the preset settles for five minutes, so a single run right after start lists it.
    pub fn asana(events: u64) -> Self {
        let base = Self::okta(events);
        Self {
            vendor: Vendor::Asana,
            default_page_size: asana::MAX_LIMIT,
            max_page_size: asana::MAX_LIMIT,
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
