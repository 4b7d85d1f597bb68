//! `sluice simulate`: serve a vendor API look-alike.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::{EXIT_CONFIG, EXIT_OK};
use crate::simulator::{self, Faults, LateEvents, SimulatorConfig, Vendor};

/// Arguments of `sluice simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Which API to emulate.
    #[arg(long, default_value = "okta")]
    vendor: Vendor,
    /// Events to serve.
    #[arg(long, default_value_t = 10_000)]
    events: u64,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Records per page when the client sends no limit.
    #[arg(long, default_value_t = 100)]
    page_size: usize,
    /// Delay added to every page.
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    latency: Duration,
    /// Time span the events are spread over, ending a few minutes ago [default: the
    /// vendor's, 6h for most].
    #[arg(long, value_parser = humantime::parse_duration)]
    span: Option<Duration>,
    /// API token clients must send.
    #[arg(long, default_value = "sim-token")]
    token: String,
    /// Seed of the event data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of requests answered 429 with a rate-limit reset.
    #[arg(long, default_value_t = 0.0)]
    fault_429: f64,
    /// Share of requests answered 5xx.
    #[arg(long, default_value_t = 0.0)]
    fault_5xx: f64,
    /// Share of responses cut off mid-body.
    #[arg(long, default_value_t = 0.0)]
    fault_truncate: f64,
    /// Share of responses delayed by --slow.
    #[arg(long, default_value_t = 0.0)]
    fault_slow: f64,
    /// Extra delay of a slow response.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    slow: Duration,
    /// Share of events published late (after their event time), to try a settle delay.
    #[arg(long, default_value_t = 0.0)]
    late_fraction: f64,
    /// Longest delay of a late event.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    late_max_delay: Duration,
}

impl SimulateArgs {
    fn simulator_config(&self) -> SimulatorConfig {
        // Zoom's reports take whole days: its data must lie in days already over. Box's
        // preset settles for fifteen minutes: its data ends twenty minutes ago, and its pages
        // hold at most 500 events.
        let mut config = match self.vendor {
            Vendor::Zoom => SimulatorConfig::zoom(self.events),
            Vendor::Box => SimulatorConfig::r#box(self.events),
            // Auth0 serves at most 100 logs a page.
            Vendor::Auth0 => SimulatorConfig::auth0(self.events),
            Vendor::Zendesk => SimulatorConfig::zendesk(self.events),
            // Workday's preset settles for ten minutes: its newest entry is older.
            Vendor::Workday => SimulatorConfig::workday(self.events),
            // Salesforce's preset settles for five minutes on whole seconds: as Workday.
            Vendor::Salesforce => SimulatorConfig::salesforce(self.events),
            // Its files are generated every hour: its newest row is two hours old.
            Vendor::SalesforceEventLog => SimulatorConfig::salesforce_event_log(self.events),
            // LastPass's preset settles for five minutes on whole seconds: as Workday.
            Vendor::Lastpass => SimulatorConfig::lastpass(self.events),
            // SentinelOne's pages: 10 without `limit`, at most 1000.
            Vendor::SentinelOne => SimulatorConfig::sentinelone(self.events),
            // Stripe's preset settles for five minutes on whole seconds; Asana's for five.
            Vendor::Stripe => SimulatorConfig::stripe(self.events),
            Vendor::Asana => SimulatorConfig::asana(self.events),
            _ => SimulatorConfig::okta(self.events),
        };
        config.vendor = self.vendor;
        config.seed = self.seed;
        config.default_page_size = self.page_size;
        config.latency = self.latency;
        if let Some(span) = self.span {
            config.span = span;
        }
        config.token = self.token.clone();
        config.faults = Faults {
            rate_429: self.fault_429,
            rate_5xx: self.fault_5xx,
            rate_truncate: self.fault_truncate,
            rate_slow: self.fault_slow,
            slow: self.slow,
            seed: None,
        };
        config.late = LateEvents {
            fraction: self.late_fraction,
            max_delay: self.late_max_delay,
        };
        config
    }
}

pub async fn simulate(args: SimulateArgs) -> u8 {
    let config = args.simulator_config();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let running = match simulator::start(config.clone(), addr).await {
        Ok(running) => running,
        Err(err) => {
            crate::errln!("error: cannot serve on {addr}: {err:#} (hint: pick another --port)");
            return EXIT_CONFIG;
        }
    };
    // Duo requests are signed with two keys; Google Workspace clients get their tokens from
    // the simulator's token endpoint; every other vendor takes one token.
    let credentials = match args.vendor {
        simulator::Vendor::Duo => format!(
            "integration key: {}, secret key: {}",
            simulator::duo::INTEGRATION_KEY,
            config.token
        ),
        simulator::Vendor::GoogleWorkspace => {
            "tokens from POST /token, with the key below".to_string()
        }
        simulator::Vendor::Zendesk => format!(
            "API token {} of {} (or the same as an OAuth bearer token)",
            config.token,
            simulator::zendesk::ADMIN_EMAIL
        ),
        simulator::Vendor::Dropbox => format!(
            "access token or refresh token: {}, app key: {}, app secret: {}",
            config.token,
            simulator::dropbox::APP_KEY,
            simulator::dropbox::APP_SECRET
        ),
        simulator::Vendor::Cloudflare => format!(
            "API token: {}, account id: {}",
            config.token,
            simulator::cloudflare::ACCOUNT_ID
        ),
        simulator::Vendor::Snyk => format!(
            "API token: {}, organization id: {}, group id: {}",
            config.token,
            simulator::snyk::ORG_ID,
            simulator::snyk::GROUP_ID
        ),
        simulator::Vendor::Tfc => format!(
            "organization token: {} (organization {})",
            config.token,
            simulator::tfc::ORGANIZATION_ID
        ),
        simulator::Vendor::Salesforce | simulator::Vendor::SalesforceEventLog => format!(
            "consumer key: {}, consumer secret: {} (tokens from POST {})",
            simulator::salesforce::CLIENT_ID,
            config.token,
            simulator::salesforce::TOKEN_PATH
        ),
        simulator::Vendor::Lastpass => format!(
            "account number (cid): {}, provisioning hash: {} (POST {})",
            simulator::lastpass::CID,
            config.token,
            simulator::lastpass::PATH
        ),
        simulator::Vendor::Asana => format!(
            "service account token: {} (workspace {})",
            config.token,
            simulator::asana::WORKSPACE_GID
        ),
        simulator::Vendor::Stripe => format!("secret or restricted key: {}", config.token),
        simulator::Vendor::Tines => format!(
            "API key: {} (tenant {})",
            config.token,
            simulator::tines::TENANT_ID
        ),
        simulator::Vendor::Workday => format!(
            "tenant: {}, refresh token or access token: {}, client id: {}, client secret: {}",
            simulator::workday::TENANT,
            config.token,
            simulator::workday::CLIENT_ID,
            simulator::workday::CLIENT_SECRET
        ),
        simulator::Vendor::SentinelOne => format!("API token: {} (ApiToken)", config.token),
        _ => format!("token: {}", config.token),
    };
    crate::outln!(
        "serving a simulated {} API at {} with {} events ({credentials}); Ctrl-C to stop",
        args.vendor.as_str(),
        running.base_url(),
        args.events,
    );
    if args.vendor == Vendor::Entra {
        // Entra clients need more than a token: the tenant, the app and its credential.
        crate::outln!(
            "{}",
            simulator::entra::credentials_note(&config, &running.base_url())
        );
    }
    if args.vendor == Vendor::Zoom {
        // Zoom clients need the account id and the app's client id besides the secret.
        crate::outln!(
            "{}",
            simulator::zoom::credentials_note(&config, &running.base_url())
        );
    }
    if args.vendor == Vendor::Tailscale {
        // Tailscale clients use an API access token or an OAuth client, and a tailnet.
        crate::outln!(
            "{}",
            simulator::tailscale::credentials_note(&config, &running.base_url())
        );
    }
    if args.vendor == Vendor::Auth0 {
        // Auth0 clients need the application's client id and the tenant's audience.
        crate::outln!(
            "{}",
            simulator::auth0::credentials_note(&config, &running.base_url())
        );
    }
    if args.vendor == Vendor::Box {
        // Box clients need the enterprise id and the app's client id besides the secret.
        crate::outln!(
            "{}",
            simulator::r#box::credentials_note(&config, &running.base_url())
        );
    }
    if args.vendor == Vendor::GoogleWorkspace {
        // Clients sign their token requests with this (public, simulator-only) key.
        crate::outln!(
            "service-account key (save it as a file for `credentials`; subject = \"{}\"):\n{}",
            simulator::google_workspace::ADMIN,
            simulator::google_workspace::service_account_json(&running.base_url())
        );
    }
    super::wait_for_signal().await;
    let stats = running.stats();
    running.shutdown().await;
    crate::outln!("stopped: {stats:?}");
    EXIT_OK
}
