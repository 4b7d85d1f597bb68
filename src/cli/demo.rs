//! `sluice demo`: a simulated vendor API (Okta unless `--connector` names another built-in
//! connector), pulled into a local lake, verified and summarised.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::{shutdown_token, EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::simulator::{self, SimulatorConfig};

/// Arguments of `sluice demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Events the simulated API serves.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Directory for the config, state and lake (emptied of earlier demo output first).
    #[arg(long, default_value = "sluice-demo")]
    dir: PathBuf,
    /// The built-in connector to run, against the simulator's emulation of its vendor.
    #[arg(long, default_value = "okta")]
    connector: String,
    /// Map every event to OCSF 1.7.0 on its way (the `ocsf` step, `into = "member"`): the lake
    /// keeps the vendor record in `data` and the OCSF event beside it, partitioned by class.
    #[arg(long)]
    ocsf: bool,
    /// With --ocsf: locate each event's source address (`src_endpoint.ip`) in this MaxMind
    /// GeoIP2 or GeoLite2 City database (a `geoip` step after the `ocsf` step).
    #[arg(long, value_name = "PATH", requires = "ocsf")]
    geoip: Option<PathBuf>,
    #[command(flatten)]
    progress: super::progress::ProgressArgs,
}

/// How the demo runs one built-in connector against the simulator.
struct DemoProfile {
    /// The preset's name.
    connector: &'static str,
    /// The simulator's emulation of that vendor.
    sim: fn(u64) -> SimulatorConfig,
    /// `[[sources]]` lines with the vendor's settings; `{base_url}` is the simulator and
    /// `{google_key}` the JSON key of the simulator's Google service account.
    settings: &'static str,
}

/// The connectors the simulator can stand in for.
const PROFILES: &[DemoProfile] = &[
    DemoProfile {
        connector: "okta",
        sim: SimulatorConfig::okta,
        settings: r#"domain = "acme.okta.com"
# The simulator instead of https://acme.okta.com.
base_url = "{base_url}"
# The simulator's token. A real config reads it from the environment: "${env:OKTA_TOKEN}".
token = "sim-token""#,
    },
    DemoProfile {
        connector: "github",
        sim: SimulatorConfig::github,
        settings: r#"org = "acme"
# The simulator instead of https://api.github.com.
api_url = "{base_url}"
# The simulator's token. A real config reads it from the environment: "${env:GITHUB_TOKEN}".
token = "sim-token"
# The simulator has no hourly budget to share; GitHub's is 29 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "github_enterprise",
        sim: SimulatorConfig::github,
        settings: r#"enterprise = "acme"
# The simulator instead of https://api.github.com.
api_url = "{base_url}"
# The simulator's token. A real config reads it from the environment.
token = "sim-token"
# The simulator has no hourly budget to share; GitHub's is 29 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "slack",
        sim: SimulatorConfig::slack,
        settings: r#"# The simulator instead of https://api.slack.com.
base_url = "{base_url}"
# The simulator's token. A real config reads it from the environment: "${env:SLACK_TOKEN}".
token = "sim-token"
# The simulator has no organization-wide budget to share; Slack's is 50 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "pagerduty",
        sim: SimulatorConfig::pagerduty,
        settings: r#"# The simulator instead of https://api.pagerduty.com.
base_url = "{base_url}"
# The simulator's API key. A real config reads it from the environment: "${env:PAGERDUTY_TOKEN}".
token = "sim-token"
# The simulator has no account-wide budget to share; a PagerDuty API key's is 960 requests a
# minute, of which the preset uses 900.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "cloudflare",
        sim: SimulatorConfig::cloudflare,
        settings: r#"account_id = "7c5dae5552338874e5053f2534d2767a"
# The simulator instead of https://api.cloudflare.com.
base_url = "{base_url}"
# The simulator's API token. A real config reads it from the environment:
# "${env:CLOUDFLARE_API_TOKEN}".
token = "sim-token"
# The simulator has no user-wide budget to share; a Cloudflare user's is 1,200 requests per five
# minutes, of which the preset uses 120 a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "snyk",
        sim: SimulatorConfig::snyk,
        settings: r#"org_id = "4a72d1db-b465-4764-99e1-ecedad03b06a"
# The simulator instead of https://api.snyk.io.
api_url = "{base_url}"
# The simulator's API token. A real config reads it from the environment: "${env:SNYK_TOKEN}".
token = "sim-token"
# The simulator has no key-wide budget to share; a Snyk API key's is 1,620 requests a minute,
# of which the preset uses 160.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "snyk_group",
        sim: SimulatorConfig::snyk,
        settings: r#"group_id = "e661d4ef-5ad5-4cef-ad16-5157cefa83f5"
# The simulator instead of https://api.snyk.io.
api_url = "{base_url}"
# The simulator's API token. A real config reads it from the environment: "${env:SNYK_TOKEN}".
token = "sim-token"
# The simulator has no key-wide budget to share; a Snyk API key's is 1,620 requests a minute,
# of which the preset uses 160.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "vicarius",
        sim: SimulatorConfig::vicarius,
        settings: r#"dashboard = "acme.vicarius.cloud"
# The simulator instead of https://acme.vicarius.cloud.
base_url = "{base_url}"
# The simulator's API key. A real config reads it from the environment: "${env:VICARIUS_TOKEN}".
token = "sim-token"
# The simulator has no budget to share; the preset asks a real dashboard for 60 a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "jira",
        sim: SimulatorConfig::jira,
        settings: r#"site = "acme.atlassian.net"
# The simulator instead of https://acme.atlassian.net.
base_url = "{base_url}"
# The simulator's account and API token. A real config reads the token from the environment:
# "${env:ATLASSIAN_API_TOKEN}".
email = "audit-bot@acme.example"
token = "sim-token"
# The simulator has no site-wide budget to share; the preset asks a real site for 100 a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "kandji",
        sim: SimulatorConfig::kandji,
        settings: r#"# The simulator instead of https://acme.api.kandji.io.
api_url = "{base_url}"
# The simulator's API token. A real config reads it from the environment: "${env:KANDJI_TOKEN}".
token = "sim-token"
# The simulator has no tenant budget to share; the preset keeps to 80 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "launchdarkly",
        sim: SimulatorConfig::launchdarkly,
        settings: r#"# The simulator instead of https://app.launchdarkly.com.
api_url = "{base_url}"
# The simulator's access token. A real config reads it from the environment:
# "${env:LAUNCHDARKLY_TOKEN}".
token = "sim-token"
# The simulator has no account budget to share; the preset keeps to 120 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "onepassword",
        sim: SimulatorConfig::onepassword,
        settings: r#"# The simulator instead of https://events.1password.com.
base_url = "{base_url}"
# The simulator's token. A real config reads it from the environment: "${env:OP_EVENTS_TOKEN}".
token = "sim-token""#,
    },
    DemoProfile {
        connector: "duo",
        sim: SimulatorConfig::duo,
        settings: r#"api_hostname = "api-XXXXXXXX.duosecurity.com"
# The simulator instead of https://api-XXXXXXXX.duosecurity.com (it verifies the signatures).
base_url = "{base_url}"
# The simulator's keys. A real config reads the secret key from the environment:
# "${env:DUO_SECRET_KEY}".
integration_key = "DIWJ8X6AEYOR5OMC6TQ1"
secret_key = "sim-token"
# The simulator has no account to share a budget with; Duo asks for a log to be polled at
# most once a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "entra",
        sim: SimulatorConfig::entra,
        settings: r#"tenant = "5f8c2b1e-3d4a-4c6b-9e7f-0a1b2c3d4e5f"
client_id = "8d2f4c6a-1b3e-4f5a-9c7d-2e4f6a8b0c1d"
# The simulator instead of https://login.microsoftonline.com and https://graph.microsoft.com.
login_url = "{base_url}"
graph_url = "{base_url}"
# The simulator's client secret. A real config reads it from the environment:
# "${env:ENTRA_CLIENT_SECRET}" (or uses a certificate: private_key and certificate).
client_secret = "sim-token"
# The simulator has no tenant-wide budget to share; Graph's reports APIs allow 30 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "google_workspace",
        sim: SimulatorConfig::google_workspace,
        settings: r#"# The simulator instead of https://admin.googleapis.com.
base_url = "{base_url}"
# The simulator's service-account key (a public, simulator-only key whose token_uri is the
# simulator). A real config reads Google's JSON key file: "${file:/etc/sluice/google-key.json}".
credentials = '''{google_key}'''
subject = "admin@acme.example"
# The simulator has no project quota to share; the preset keeps each application to 30 a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "zoom",
        sim: SimulatorConfig::zoom,
        settings: r#"account_id = "SimAcct0zoom00000001"
client_id = "simZoomClient0001"
# The simulator instead of https://zoom.us and https://api.zoom.us.
oauth_url = "{base_url}"
api_url = "{base_url}"
# The simulator's client secret. A real config reads it from the environment:
# "${env:ZOOM_CLIENT_SECRET}".
client_secret = "sim-token"
# The simulator has no account-wide budget to share; the preset keeps each report to 10 a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "stripe",
        sim: SimulatorConfig::stripe,
        settings: r#"# The simulator instead of https://api.stripe.com.
base_url = "{base_url}"
# The simulator's key. A real config reads a restricted key (Read on Events) from the
# environment: "${env:STRIPE_API_KEY}".
api_key = "sim-token"
# The simulator carries no payments to protect; the preset keeps to 300 a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "tailscale",
        sim: SimulatorConfig::tailscale,
        settings: r#"tailnet = "TSim1234CNTRL"
# Both logs (network flow logs are off unless listed: they need a Premium or Enterprise plan).
streams = ["configuration", "network"]
# The simulator instead of https://api.tailscale.com (it also issues the OAuth access tokens).
api_url = "{base_url}"
# The simulator's OAuth client. A real config reads the secret from the environment:
# "${env:TAILSCALE_CLIENT_SECRET}" (or uses an API access token: token = "${env:TAILSCALE_TOKEN}").
client_id = "kSimOAuth11CNTRL"
client_secret = "sim-token"
# The simulator has no budget to share; the preset keeps each log to 30 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "tfc",
        sim: SimulatorConfig::tfc,
        settings: r#"# The simulator instead of https://app.terraform.io.
api_url = "{base_url}"
# The simulator's organization token. A real config reads it from the environment:
# "${env:TFC_TOKEN}".
token = "sim-token"
# The simulator has no per-user budget to share; the preset keeps to 180 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "tines",
        sim: SimulatorConfig::tines,
        settings: r#"tenant_domain = "acme-1234.tines.com"
# The simulator instead of https://acme-1234.tines.com.
base_url = "{base_url}"
# The simulator's API key. A real config reads it from the environment: "${env:TINES_API_KEY}".
token = "sim-token"
# The simulator has no per-key budget to share; the preset keeps to 500 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "lastpass",
        sim: SimulatorConfig::lastpass,
        settings: r#"# The simulator instead of https://lastpass.com.
api_url = "{base_url}"
cid = 8771312
# The simulator's provisioning hash. A real config reads it from the environment:
# "${env:LASTPASS_PROVHASH}".
provhash = "sim-token"
# The simulator has no rate limit to share; the preset keeps to 30 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "sentinelone",
        sim: SimulatorConfig::sentinelone,
        settings: r#"# The simulator instead of your console (https://usea1-acme.sentinelone.net).
console_url = "{base_url}"
# The simulator's API token. A real config reads it from the environment:
# "${env:SENTINELONE_API_TOKEN}".
token = "sim-token"
# The simulator has no per-token limit to share; the preset keeps to 60 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "salesforce",
        sim: SimulatorConfig::salesforce,
        settings: r#"# The simulator instead of https://acme.my.salesforce.com (it also issues the tokens).
my_domain_url = "{base_url}"
client_id = "3MVG9simulatedSalesforceConsumerKey.0000000000000000000001"
# The simulator's consumer secret. A real config reads it from the environment:
# "${env:SALESFORCE_CLIENT_SECRET}".
client_secret = "sim-token"
# The simulator has no daily allowance to share; the preset keeps to 30 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "salesforce_event_log",
        sim: SimulatorConfig::salesforce_event_log,
        settings: r#"# The simulator instead of https://acme.my.salesforce.com (it also issues the tokens and
# serves the log files).
my_domain_url = "{base_url}"
client_id = "3MVG9simulatedSalesforceConsumerKey.0000000000000000000001"
# The simulator's consumer secret. A real config reads it from the environment:
# "${env:SALESFORCE_CLIENT_SECRET}".
client_secret = "sim-token"
# The simulator has no daily allowance to share; the preset keeps to 60 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "box",
        sim: SimulatorConfig::r#box,
        settings: r#"enterprise_id = "987654321"
client_id = "simboxclient0000000000000000000001"
# The simulator instead of https://api.box.com (it also issues the access tokens).
api_url = "{base_url}"
# The simulator's client secret. A real config reads it from the environment:
# "${env:BOX_CLIENT_SECRET}".
client_secret = "sim-token"
# The simulator has no Service Account budget to share; the preset keeps to 240 a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "zendesk",
        sim: SimulatorConfig::zendesk,
        settings: r#"subdomain = "acme"
# The simulator instead of https://acme.zendesk.com.
base_url = "{base_url}"
# The simulator's admin and API token. A real config reads the token from the environment:
# "${env:ZENDESK_API_TOKEN}".
email = "admin@acme.example"
api_token = "sim-token"
# The simulator has no account-wide budget to share; the preset keeps to 100 a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "workday",
        sim: SimulatorConfig::workday,
        settings: r#"tenant = "acme"
# The simulator instead of your tenant's host, e.g. https://wd5-services1.workday.com (it also
# issues the access tokens).
api_url = "{base_url}"
# The simulator's API client and refresh token. A real config reads the secrets from the
# environment: "${env:WORKDAY_CLIENT_SECRET}", "${env:WORKDAY_REFRESH_TOKEN}".
client_id = "sim-workday-client"
client_secret = "sim-workday-secret"
refresh_token = "sim-token"
# The simulator has no tenant-wide budget to share; the preset keeps to 60 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "asana",
        sim: SimulatorConfig::asana,
        settings: r#"workspace_gid = "1199906290951705"
# The simulator instead of https://app.asana.com.
base_url = "{base_url}"
# The simulator's service account token. A real config reads it from the environment:
# "${env:ASANA_TOKEN}".
token = "sim-token"
# The simulator has no per-token budget to share; the preset keeps to 300 a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "atlassian",
        sim: SimulatorConfig::atlassian,
        settings: r#"org_id = "a1b2c3d4-0000-4000-8000-0123456789ab"
# The simulator instead of https://api.atlassian.com.
base_url = "{base_url}"
# The simulator's key. A real config reads it from the environment: "${env:ATLASSIAN_API_KEY}".
api_key = "sim-token""#,
    },
    DemoProfile {
        connector: "dropbox",
        sim: SimulatorConfig::dropbox,
        settings: r#"# The simulator instead of https://api.dropboxapi.com (it also issues the access tokens).
api_url = "{base_url}"
# The simulator's app and refresh token. A real config reads the secrets from the
# environment: "${env:DROPBOX_APP_SECRET}", "${env:DROPBOX_REFRESH_TOKEN}".
app_key = "sim-dropbox-app"
app_secret = "sim-dropbox-secret"
refresh_token = "sim-token"
# The simulator has no team-wide budget to share; the preset keeps to 120 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
    DemoProfile {
        connector: "auth0",
        sim: SimulatorConfig::auth0,
        settings: r#"domain = "acme.us.auth0.com"
# The simulator instead of https://acme.us.auth0.com (it also issues the access tokens).
api_url = "{base_url}"
client_id = "SimAuth0M2MClient000000000000001"
# The simulator's client secret. A real config reads it from the environment:
# "${env:AUTH0_CLIENT_SECRET}".
client_secret = "sim-token"
# The simulator has no tenant-wide budget to share; the preset keeps to 60 requests a minute.
rate_limit = { requests_per_minute = 60000, burst = 100 }"#,
    },
];

fn profile(connector: &str) -> Result<&'static DemoProfile, String> {
    PROFILES
        .iter()
        .find(|p| p.connector == connector)
        .ok_or_else(|| {
            let names: Vec<&str> = PROFILES.iter().map(|p| p.connector).collect();
            format!(
                "the demo has no simulator for connector `{connector}` (it has: {}; `sluice connectors list` shows every built-in connector)",
                names.join(", ")
            )
        })
}

/// The config the demo of `profile` runs, pointed at the simulator on `base_url`.
fn connector_config(
    profile: &DemoProfile,
    base_url: &str,
    events: u64,
    ocsf: bool,
    geoip: Option<&Path>,
) -> String {
    let connector = profile.connector;
    let vendor = (profile.sim)(0).vendor;
    let settings = profile
        .settings
        .replace(
            "{google_key}",
            &simulator::google_workspace::service_account_json(base_url),
        )
        .replace("{base_url}", base_url);
    let (transforms, by_class) = if ocsf {
        (
            format!(
                r#"
# Each event mapped to OCSF 1.7.0 (presets/ocsf/{connector}.toml), kept beside the vendor's
# record as the envelope's `ocsf` member.
[[sources.transforms]]
kind = "ocsf"
mapping = "{connector}"
into = "member"
{geoip}"#,
                geoip = geoip.map(super::demo_geoip::step).unwrap_or_default()
            ),
            "\n# source={connector}/class=<OCSF class>/dt=.../hr=.../\npartition_by_class = true",
        )
    } else {
        (String::new(), "")
    };
    // A listing by position (Auth0's checkpoint) has no time windows to set.
    let window = if vendor == simulator::Vendor::Auth0 {
        ""
    } else {
        "\n[sources.window]\nlookback = \"1d\"\nmax_window = \"1d\"\nsettle_delay = \"1m\"\n"
    };
    format!(
        r#"# Written by `sluice demo --connector {connector}`. To run the same job by hand, in one shell:
#   sluice simulate --vendor {vendor} --events {events} --port 8080
# then point the simulator's URL below at http://127.0.0.1:8080 and, in another shell:
#   sluice run --once --config sluice-demo/sluice.toml
# (delete sluice-demo/lake and sluice-demo/sluice-state.db* first to start from scratch).

[state]
kind = "sqlite"
path = "sluice-state.db"

[[sources]]
name = "{connector}"
# The built-in connector (docs/connectors/; `sluice connectors show {connector}`).
connector = "{connector}"
{settings}
sinks = ["lake"]
{window}{transforms}
[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
roll_size = "64MB"
roll_age = "5m"{by_class}
"#
    )
}

pub async fn demo(args: DemoArgs) -> u8 {
    match run_demo(&args).await {
        Ok(code) => code,
        Err(err) => {
            crate::errln!("error: {err}");
            EXIT_CONFIG
        }
    }
}

async fn run_demo(args: &DemoArgs) -> Result<u8, String> {
    let profile = profile(&args.connector)?;
    let name = profile.connector;
    let dir = &args.dir;
    let geoip = match &args.geoip {
        Some(path) => Some(super::demo_geoip::database(path)?),
        None => None,
    };
    reset_demo_dir(dir)?;
    let sim_config = (profile.sim)(args.events);
    let sim = simulator::start(
        sim_config.clone(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .map_err(|e| format!("cannot start the simulator: {e:#}"))?;
    let config_path = dir.join("sluice.toml");
    std::fs::write(
        &config_path,
        connector_config(
            profile,
            &sim.base_url(),
            args.events,
            args.ocsf,
            geoip.as_deref(),
        ),
    )
    .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
    crate::outln!(
        "simulated {} API ({name}) at {} serving {} events",
        sim_config.vendor,
        sim.base_url(),
        args.events
    );
    crate::outln!("config written to {}", config_path.display());

    let config = crate::config::load(&config_path).map_err(|e| e.to_string())?;
    let store = crate::state::open(&config.state)
        .await
        .map_err(|e| e.to_string())?;
    let shown = super::progress::show(&args.progress);
    let reports = crate::runtime::run_once(&config, &store, shutdown_token()).await;
    if let Some(shown) = shown {
        shown.finish().await;
    }
    sim.shutdown().await;
    if reports.is_empty() {
        return Err("the demo config has no source".into());
    }

    // A preset with several streams expands into one source each; together they hold every
    // event the simulator serves (its profile deals each event to one stream).
    let lake = dir.join("lake");
    let mut delivered: HashSet<String> = HashSet::new();
    let mut duplicates = 0;
    for source in &config.sources {
        let contents = crate::sink::lake::read_lake(&lake, &source.name)
            .map_err(|e| format!("cannot read the lake: {e}"))?;
        for id in contents.event_ids {
            if !delivered.insert(id) {
                duplicates += 1;
            }
        }
    }
    // Snyk's Organization search serves the Organization's items only (the Group's serves all).
    let expected: HashSet<String> = if name == "snyk" {
        simulator::snyk::search_ids(&sim_config, simulator::snyk::Level::Org)
    } else {
        simulator::event_ids(&sim_config)
    }
    .into_iter()
    .collect();
    let missing = expected.difference(&delivered).count();
    let sum = |f: fn(&crate::runtime::RunReport) -> u64| reports.iter().map(f).sum::<u64>();
    let bytes = sum(|r| r.bytes);
    let events = sum(|r| r.events);
    let seconds = reports.iter().map(|r| r.seconds).fold(0.0, f64::max);

    crate::outln!();
    crate::outln!("events      {events}");
    crate::outln!("pages       {}", sum(|r| r.pages));
    crate::outln!("objects     {}", sum(|r| r.objects));
    crate::outln!("bytes       {bytes} ({})", bytesize::ByteSize::b(bytes));
    crate::outln!("seconds     {seconds:.2}");
    crate::outln!("events/s    {:.0}", events as f64 / seconds.max(1e-9));
    crate::outln!("lake        {}", lake.display());
    crate::outln!(
        "verified    {} unique events in the lake, {} missing, {} duplicated",
        delivered.len(),
        missing,
        duplicates
    );
    if args.ocsf {
        show_ocsf(&config, &lake, geoip.as_deref()).await?;
    }
    let mut failed = false;
    for (source, report) in config.sources.iter().zip(&reports) {
        if let Some(error) = &report.error {
            crate::errln!("error: source `{}` failed: {error}", source.name);
            failed = true;
        }
    }
    if failed {
        return Ok(EXIT_SOURCE_FAILED);
    }
    if missing > 0 || duplicates > 0 {
        crate::errln!("error: the lake does not match the simulator's events");
        return Ok(EXIT_SOURCE_FAILED);
    }
    Ok(EXIT_OK)
}

/// Prints how many of the lake's events carry an OCSF member, by class.
async fn show_ocsf(
    config: &crate::config::Config,
    lake: &Path,
    geoip: Option<&Path>,
) -> Result<(), String> {
    use crate::sink::lake::scan::{self, Part};
    let crate::config::SinkConfig::Lake(lake_config) = &config.sinks[0] else {
        return Err("the demo's sink is not its lake".into());
    };
    let mut classes: std::collections::BTreeMap<String, u64> = Default::default();
    let mut without = 0;
    let (mut with_ip, mut located) = (0u64, 0u64);
    for source in &config.sources {
        let count = |event: scan::Located| {
            let ocsf = event.json.ok();
            if let Some(ocsf) = &ocsf {
                with_ip += u64::from(ocsf.pointer("/src_endpoint/ip").is_some());
                located += u64::from(super::demo_geoip::located(ocsf));
            }
            match ocsf.and_then(|o| o.get("class_uid").and_then(serde_json::Value::as_i64)) {
                Some(uid) => {
                    let name = crate::transform::ocsf::class_name(uid);
                    *classes.entry(format!("{name} ({uid})")).or_default() += 1;
                }
                None => without += 1,
            }
        };
        scan::scan(lake_config, &source.name, Part::Member("ocsf"), count)
            .await
            .map_err(|e| format!("cannot read the lake: {e}"))?;
    }
    let classes: Vec<String> = classes
        .iter()
        .map(|(class, n)| format!("{class} {n}"))
        .collect();
    crate::outln!("ocsf        {}", classes.join(", "));
    crate::outln!(
        "            under {}/source=*/class=*/; check them: sluice lake validate --ocsf --schema ocsf-1.7.0-schema.json -c {}",
        lake.display(),
        lake.with_file_name("sluice.toml").display()
    );
    if let Some(database) = geoip {
        crate::outln!(
            "geoip       {located} of {with_ip} events with a source address located by {} (src_endpoint.location)",
            database.display()
        );
    }
    if without > 0 {
        return Err(format!("{without} events in the lake have no OCSF member"));
    }
    Ok(())
}

/// Removes what an earlier demo left (only its own files), so every demo starts fresh.
fn reset_demo_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for name in [
        "lake",
        "sluice-state.db",
        "sluice-state.db-wal",
        "sluice-state.db-shm",
        "sluice.toml",
    ] {
        let path = dir.join(name);
        let result = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {}: {e}", path.display())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_config_is_a_valid_config() {
        for profile in PROFILES {
            let text = connector_config(profile, "http://127.0.0.1:1234", 10, false, None);
            let config = crate::config::load_str(&text, Path::new("sluice.toml"))
                .unwrap_or_else(|e| panic!("{}: {e}", profile.connector));
            assert_eq!(config.sources[0].base_url, "http://127.0.0.1:1234");
            assert!(crate::preset::builtin(profile.connector).is_some());
            // With --ocsf: the preset's mapping, as a member, and the lake by class.
            let text = connector_config(profile, "http://127.0.0.1:1234", 10, true, None);
            let config = crate::config::load_str(&text, Path::new("sluice.toml"))
                .unwrap_or_else(|e| panic!("{} --ocsf: {e}", profile.connector));
            assert!(!text.contains("geoip"), "no geoip step unless asked");
            let into = config.ocsf_for(&config.sources[0], "lake").unwrap();
            assert_eq!(
                into,
                Some(crate::transform::OcsfInto::Member),
                "{}",
                profile.connector
            );
            let crate::config::SinkConfig::Lake(lake) = &config.sinks[0] else {
                panic!("the demo's sink is its lake")
            };
            assert!(lake.key_template.as_str().contains("class={class}/"));
        }
    }

    #[test]
    fn the_duo_demo_signs_with_the_simulators_integration_key() {
        let duo = profile("duo").unwrap();
        assert!(duo
            .settings
            .contains(crate::simulator::duo::INTEGRATION_KEY));
    }

    #[test]
    fn the_cloudflare_demo_reads_the_simulators_account() {
        let cloudflare = profile("cloudflare").unwrap();
        assert!(cloudflare
            .settings
            .contains(crate::simulator::cloudflare::ACCOUNT_ID));
    }

    #[test]
    fn the_snyk_demos_read_the_simulators_organization_and_group() {
        let org = profile("snyk").unwrap();
        assert!(org.settings.contains(crate::simulator::snyk::ORG_ID));
        let group = profile("snyk_group").unwrap();
        assert!(group.settings.contains(crate::simulator::snyk::GROUP_ID));
    }

    #[test]
    fn a_connector_without_a_simulator_is_named_with_the_ones_that_have_one() {
        let err = profile("azure").err().unwrap();
        assert!(
            err.contains("`azure`") && err.contains("okta, github"),
            "{err}"
        );
    }
}
