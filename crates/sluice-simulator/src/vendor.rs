//! Which vendor API a simulator emulates, and its names on the command line.

use super::*;

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
    /// Kandji (Iru Endpoint Management) audit log events (`GET /api/v1/audit/events`, the
    /// next page's absolute URL in `next`, oldest first).
    Kandji,
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
    /// Auth0 tenant logs by checkpoint (`GET /api/v2/logs?from=<log_id>&take=<n>`, the next
    /// request in the `Link` header, and the Client Credentials token endpoint).
    Auth0,
    /// Salesforce event log files (EventLogFile listed by SOQL, each file's CSV at
    /// `/services/data/vXX.X/sobjects/EventLogFile/<Id>/LogFile`), on the Setup Audit
    /// Trail's routes and token endpoint.
    SalesforceEventLog,
    /// LastPass Enterprise API event reporting (`POST /enterpriseapi.php`, `cmd = reporting`,
    /// US/Eastern local times, events as an object's values, newest first through `next`).
    Lastpass,
    /// SentinelOne activities (`GET /web/api/v2.1/activities`, `ApiToken`, cursor pages).
    SentinelOne,
    /// Stripe events (`GET /v1/events`, newest first, `starting_after=<last id>` while
    /// `has_more`).
    Stripe,
    /// Asana audit log events (`GET /api/1.0/workspaces/{workspace_gid}/audit_log_events`,
    /// oldest first, an offset token sent on every page).
    Asana,
    /// LaunchDarkly audit log (`GET /api/v2/auditlog`, `after`/`before` in milliseconds, the
    /// next page in `_links.next.href`, newest first).
    LaunchDarkly,
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
        Vendor::Kandji,
        Vendor::Workday,
        Vendor::Tfc,
        Vendor::Tines,
        Vendor::Salesforce,
        Vendor::Auth0,
        Vendor::SalesforceEventLog,
        Vendor::Lastpass,
        Vendor::SentinelOne,
        Vendor::Stripe,
        Vendor::Asana,
        Vendor::LaunchDarkly,
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
            Vendor::Kandji => "kandji",
            Vendor::Workday => "workday",
            Vendor::Tfc => "tfc",
            Vendor::Tines => "tines",
            Vendor::Salesforce => "salesforce",
            Vendor::Auth0 => "auth0",
            Vendor::SalesforceEventLog => "salesforce_event_log",
            Vendor::Lastpass => "lastpass",
            Vendor::SentinelOne => "sentinelone",
            Vendor::Stripe => "stripe",
            Vendor::Asana => "asana",
            Vendor::LaunchDarkly => "launchdarkly",
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
#[error("unknown simulator vendor `{0}` (supported: okta, generic, github, slack, atlassian, onepassword, duo, entra, google_workspace, pagerduty, dropbox, zoom, tailscale, cloudflare, snyk, box, zendesk, vicarius, jira, kandji, workday, tfc, tines, salesforce, auth0, salesforce_event_log, lastpass, launchdarkly, sentinelone, stripe, asana)")]
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
