//! The events a simulator serves, computed without a server: ids, bodies, times, and when
//! each becomes visible, so tests and the demo can predict exactly what a client must receive.

use super::*;

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
    if config.vendor == Vendor::SalesforceEventLog {
        // Row numbers within files: counted file by file rather than event by event.
        return salesforce::event_log::event_ids(config);
    }
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
        Vendor::Kandji => kandji::event_id(config, index),
        Vendor::Workday => workday::event_id(config, index),
        Vendor::Tfc => tfc::event_id(config, index),
        Vendor::Tines => tines::event_id(config, index),
        Vendor::Salesforce => salesforce::event_id(config, index),
        Vendor::Auth0 => auth0::event_id(config, index),
        Vendor::SalesforceEventLog => salesforce::event_log::event_id(config, index),
        Vendor::Lastpass => lastpass::event_id(config, index),
        Vendor::SentinelOne => sentinelone::event_id(config, index),
        Vendor::Stripe => stripe::event_id(config, index),
        Vendor::Asana => asana::event_id(config, index),
        Vendor::LaunchDarkly => launchdarkly::event_id(config, index),
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
        Vendor::Kandji => kandji::event(config, index),
        Vendor::Workday => workday::event(config, index),
        Vendor::Tfc => tfc::event(config, index),
        Vendor::Tines => tines::event(config, index),
        Vendor::Salesforce => salesforce::event(config, index),
        Vendor::Auth0 => auth0::event(config, index),
        Vendor::SalesforceEventLog => salesforce::event_log::event(config, index),
        Vendor::Lastpass => lastpass::event(config, index),
        Vendor::SentinelOne => sentinelone::event(config, index),
        Vendor::Stripe => stripe::event(config, index),
        Vendor::Asana => asana::event(config, index),
        Vendor::LaunchDarkly => launchdarkly::event(config, index),
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
        | Vendor::Kandji
        | Vendor::LaunchDarkly
        | Vendor::Workday
        | Vendor::Tfc
        | Vendor::Auth0
        | Vendor::SalesforceEventLog
        | Vendor::SentinelOne
        | Vendor::Asana => {
            let ms = timeline_of(config).published_ms(index);
            DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
        }
        Vendor::Generic => generic::timing_to_datetime(generic::timeline_of(config).time_ns(index)),
        // Slack, Dropbox, Zoom, Cloudflare, Box, Zendesk, Tines, Salesforce and Stripe write
        // whole seconds.
        Vendor::Slack
        | Vendor::Dropbox
        | Vendor::Zoom
        | Vendor::Cloudflare
        | Vendor::Box
        | Vendor::Zendesk
        | Vendor::Tines
        | Vendor::Salesforce
        | Vendor::Stripe => {
            let seconds = timeline_of(config).published_ms(index).div_euclid(1000);
            DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
        }
        // Whole seconds of New York wall-clock time: an event of the repeated hour in
        // November shows a time that names two instants, and is read as the earlier one.
        Vendor::Lastpass => lastpass::shown_time(&timeline_of(config), index),
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
        | Vendor::Kandji
        | Vendor::LaunchDarkly
        | Vendor::Workday
        | Vendor::Tfc
        | Vendor::Tines
        | Vendor::Salesforce
        | Vendor::Auth0
        | Vendor::Lastpass
        | Vendor::SentinelOne
        | Vendor::Stripe
        | Vendor::Asana => {
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
        // When the file holding it is created.
        Vendor::SalesforceEventLog => {
            generic::timing_to_datetime(salesforce::event_log::visible_at_ns(config, index))
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
        | Vendor::Kandji
        | Vendor::LaunchDarkly
        | Vendor::Workday
        | Vendor::Tfc
        | Vendor::Auth0
        | Vendor::SalesforceEventLog
        | Vendor::SentinelOne
        | Vendor::Asana => timeline_of(config).first_at_or_after(timeline::ceil_millis(&t)),
        // The first entry whose whole second is at or after `t`.
        Vendor::Slack
        | Vendor::Dropbox
        | Vendor::Zoom
        | Vendor::Cloudflare
        | Vendor::Box
        | Vendor::Zendesk
        | Vendor::Tines
        | Vendor::Salesforce
        | Vendor::Lastpass
        | Vendor::Stripe => {
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
