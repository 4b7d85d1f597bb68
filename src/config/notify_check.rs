//! Checks of `[[notifiers]]` and `[[alerts]]` beyond their types: names that resolve, URLs
//! that can work, durations that mean something.

use std::collections::HashSet;

use url::Url;

use super::{AlertRule, Config, NotifierConfig, Secret};
use crate::model::Problem;

/// Checks the notifiers and alerts of `config`.
pub(super) fn validate(config: &Config) -> Result<(), Problem> {
    let mut names = HashSet::new();
    for (i, notifier) in config.notifiers.iter().enumerate() {
        let key = |k: &str| format!("notifiers[{i}].{k}");
        if notifier.name().is_empty() || !names.insert(notifier.name()) {
            return Err(Problem::new(
                key("name"),
                format!("notifier name `{}` is empty or used twice", notifier.name()),
                "give every notifier its own name; alerts refer to it in `notify`",
            ));
        }
        if notifier.attempts() == 0 {
            return Err(Problem::new(
                key("attempts"),
                "must be at least 1",
                "leave it out for the default (4)",
            ));
        }
        if notifier.timeout().is_zero() {
            return Err(Problem::new(
                key("timeout"),
                "must be longer than zero",
                "leave it out for the default (10s)",
            ));
        }
        match notifier {
            NotifierConfig::Slack(slack) => {
                check_slack_url(&slack.webhook_url, key("webhook_url"))?
            }
            NotifierConfig::Webhook(hook) => {
                check_url(&hook.url, key("url"))?;
                if hook.secret.expose().is_empty() {
                    return Err(Problem::new(
                        key("secret"),
                        "the signing key is empty",
                        "set secret = \"${env:SLUICE_WEBHOOK_KEY}\" to a long random value the receiver also knows",
                    ));
                }
            }
            NotifierConfig::Email(email) => check_email(email, &key)?,
            NotifierConfig::Pagerduty(pd) => {
                check_url(&Secret::new(pd.url.clone()), key("url"))?;
                if pd.routing_key.expose().is_empty() {
                    return Err(Problem::new(
                        key("routing_key"),
                        "the routing key is empty",
                        "copy the Integration Key of the service's Events API v2 integration, e.g. routing_key = \"${env:PAGERDUTY_ROUTING_KEY}\"",
                    ));
                }
            }
        }
    }
    let sources: HashSet<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    let mut alerts = HashSet::new();
    for (i, alert) in config.alerts.iter().enumerate() {
        let key = |k: &str| format!("alerts[{i}].{k}");
        if !alerts.insert(alert.name()) {
            return Err(Problem::new(
                key(if alert.name.is_some() { "name" } else { "rule" }),
                format!("alert name `{}` is used twice", alert.name()),
                "give each alert its own `name` (two alerts of one rule need names): open incidents are kept by it",
            ));
        }
        if alert.notify.is_empty() {
            return Err(Problem::new(
                key("notify"),
                "names no notifier",
                "list the [[notifiers]] to send to, e.g. notify = [\"slack\"]",
            ));
        }
        for name in &alert.notify {
            if config.notifier(name).is_none() {
                return Err(Problem::new(
                    key("notify"),
                    format!("no notifier is named `{name}`"),
                    known("[[notifiers]]", config.notifiers.iter().map(|n| n.name())),
                ));
            }
        }
        for name in &alert.sources {
            if !sources.contains(name.as_str()) {
                return Err(Problem::new(
                    key("sources"),
                    format!("no source is named `{name}`"),
                    known(
                        "[[sources]]",
                        config.sources.iter().map(|s| s.name.as_str()),
                    ),
                ));
            }
        }
        if alert.renotify.is_zero() {
            return Err(Problem::new(
                key("renotify"),
                "renotify = \"0s\" would send the alert again on every check",
                "give how often an open incident is repeated, e.g. renotify = \"4h\" (the default)",
            ));
        }
        let failing = alert.rule == AlertRule::Failing;
        if alert.runs == Some(0) || (!failing && alert.runs.is_some()) {
            return Err(Problem::new(
                key("runs"),
                "`runs` must be at least 1, and only the `failing` rule takes it",
                "write rule = \"failing\" with runs = 3, or leave runs out",
            ));
        }
        if alert.for_duration.is_some_and(|d| d.is_zero())
            || (!failing && alert.for_duration.is_some())
        {
            return Err(Problem::new(
                key("for"),
                "`for` must be longer than zero, and only the `failing` rule takes it",
                "write rule = \"failing\" with for = \"30m\", or leave `for` out",
            ));
        }
        let lag = alert.rule == AlertRule::Lag;
        match alert.sla {
            None if lag => {
                return Err(Problem::new(
                    key("rule"),
                    "the `lag` rule needs an `sla`",
                    "add sla = \"2h\": how far the newest delivered event may trail the clock (it includes the source's window.settle_delay)",
                ))
            }
            Some(sla) if !lag || sla.is_zero() => {
                return Err(Problem::new(
                    key("sla"),
                    "`sla` must be longer than zero, and only the `lag` rule takes it",
                    "write rule = \"lag\" with sla = \"2h\" (more than the source's window.settle_delay plus its schedule's interval)",
                ))
            }
            _ => {}
        }
        let volume = alert.rule == AlertRule::VolumeLow;
        if let Some(below) = alert.below {
            if !(volume && below > 0.0 && below < 1.0) {
                return Err(Problem::new(
                    key("below"),
                    "`below` must be a share between 0 and 1, and only the `volume_low` rule takes it",
                    "write rule = \"volume_low\" with below = 0.25 (an hour with under a quarter of its usual volume alerts)",
                ));
            }
        }
    }
    Ok(())
}

fn check_email(email: &super::EmailConfig, key: &dyn Fn(&str) -> String) -> Result<(), Problem> {
    if email.to.is_empty() {
        return Err(Problem::new(
            key("to"),
            "names no recipient",
            "list the addresses to write to, e.g. to = [\"secops@example.com\"]",
        ));
    }
    for (field, address) in
        std::iter::once(("from", &email.from)).chain(email.to.iter().map(|a| ("to", a)))
    {
        if address.parse::<lettre::message::Mailbox>().is_err() {
            return Err(Problem::new(
                key(field),
                format!("`{address}` is not an email address"),
                "write an address such as \"sluice@example.com\" or \"Sluice <sluice@example.com>\"",
            ));
        }
    }
    let loopback = email.host == "localhost"
        || email
            .host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if email.security == super::SmtpSecurity::None && !loopback {
        return Err(Problem::new(
            key("security"),
            format!("security = \"none\" would send alerts (and any password) to `{}` unencrypted", email.host),
            "use security = \"starttls\" (port 587) or \"tls\" (port 465); \"none\" is for a relay on 127.0.0.1 only",
        ));
    }
    if email.username.is_some() != email.password.is_some() {
        return Err(Problem::new(
            key(if email.username.is_some() { "password" } else { "username" }),
            "`username` and `password` go together",
            "set both (password = \"${env:SMTP_PASSWORD}\"), or neither for a relay that needs no login",
        ));
    }
    Ok(())
}

fn known<'a>(what: &str, names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        format!("the config has no {what}; add one")
    } else {
        format!("{what} here: {}", names.join(", "))
    }
}

fn parse(secret: &Secret, key: &str) -> Result<Option<Url>, Problem> {
    if secret.is_unresolved() {
        return Ok(None);
    }
    // The URL may hold a token: the error names the key, never the value.
    match Url::parse(secret.expose()) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.host_str().is_some() => {
            Ok(Some(url))
        }
        _ => Err(Problem::new(
            key.to_string(),
            "is not an http(s) URL",
            "write the whole URL, starting with https://",
        )),
    }
}

fn check_url(secret: &Secret, key: String) -> Result<(), Problem> {
    parse(secret, &key).map(|_| ())
}

/// A Slack incoming webhook is `https://hooks.slack.com/services/T…/B…/…`. A test receiver on
/// the loopback interface may use plain HTTP, but keeps the `/services/` path.
fn check_slack_url(secret: &Secret, key: String) -> Result<(), Problem> {
    let Some(url) = parse(secret, &key)? else {
        return Ok(());
    };
    let loopback = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || url.host_str() == Some("localhost");
    let slack_host = url.scheme() == "https" && url.host_str() == Some("hooks.slack.com");
    if !(slack_host || loopback) || !url.path().starts_with("/services/") {
        return Err(Problem::new(
            key,
            "is not a Slack incoming webhook URL",
            "create an incoming webhook in the Slack app's settings and copy its URL, https://hooks.slack.com/services/T…/B…/…",
        ));
    }
    Ok(())
}
