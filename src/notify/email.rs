//! Email over SMTP (lettre, rustls): a plain-text message per alert, tried again with backoff
//! on transient failures (4xx replies, lost connections), given up at once on permanent ones.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::message::Message;
use crate::config::{EmailConfig, SmtpSecurity};

/// The message as an email body.
fn text(message: &Message) -> String {
    format!(
        "{summary}\n\nSource:  {source}\nRule:    {rule} (alert `{alert}`)\nSince:   {since}\nState:   {state}\n\n{detail}\n\nLook closer: `sluice status` (runs, errors and breaker of `{source}`), the daemon's page and /metrics.\nIncident: {key}\n",
        summary = message.summary(),
        source = message.source,
        rule = message.rule.as_str(),
        alert = message.alert,
        since = crate::timefmt::rfc3339_millis(message.opened_at),
        state = message.kind.as_str(),
        detail = message.detail,
        key = message.dedup_key,
    )
}

fn transport(email: &EmailConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let mut builder = match email.security {
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&email.host)
            .map_err(|e| e.to_string())?
            .port(email.port.unwrap_or(587)),
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&email.host)
            .map_err(|e| e.to_string())?
            .port(email.port.unwrap_or(465)),
        // The loader allows this only towards the loopback interface.
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&email.host)
            .port(email.port.unwrap_or(25)),
    };
    if let (Some(user), Some(password)) = (&email.username, &email.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose().to_string(),
        ));
    }
    Ok(builder.timeout(Some(email.timeout)).build())
}

/// Sends `message` to the notifier's recipients; logs the outcome (never the password).
pub(super) async fn deliver(email: &EmailConfig, message: &Message) {
    let name = email.name.as_str();
    let built = (|| {
        let mut builder = lettre::Message::builder()
            .from(email.from.parse().map_err(|e| format!("from: {e}"))?)
            .subject(message.summary())
            .header(ContentType::TEXT_PLAIN);
        for to in &email.to {
            builder = builder.to(to.parse().map_err(|e| format!("to: {e}"))?);
        }
        builder.body(text(message)).map_err(|e| e.to_string())
    })();
    let (mail, transport) = match built.and_then(|mail| Ok((mail, transport(email)?))) {
        Ok(ready) => ready,
        Err(err) => {
            tracing::error!(notifier = %name, error = %err, "alert not sent: the email cannot be built");
            return;
        }
    };
    let mut delays = crate::net::backoff(Duration::from_millis(500), Duration::from_secs(30));
    let attempts = email.attempts.max(1);
    for attempt in 1..=attempts {
        let err = match transport.send(mail.clone()).await {
            Ok(_) => {
                tracing::info!(notifier = %name, alert = %message.alert, source = %message.source, event = message.kind.as_str(), "alert sent");
                return;
            }
            Err(err) => err,
        };
        let problem = crate::redact::scrub(&err.to_string()).into_owned();
        if err.is_permanent() {
            tracing::error!(notifier = %name, alert = %message.alert, source = %message.source, error = %problem, "alert refused by the mail server; not retried (hint: check from, to and the login)");
            return;
        }
        if attempt == attempts {
            tracing::error!(notifier = %name, alert = %message.alert, source = %message.source, attempts, error = %problem, "alert not sent: the mail server could not be reached");
            return;
        }
        let delay = delays.next().unwrap_or(Duration::from_secs(30));
        tracing::warn!(notifier = %name, alert = %message.alert, attempt, error = %problem, retry_in_ms = delay.as_millis() as u64, "alert not sent yet; retrying");
        tokio::time::sleep(delay).await;
    }
}
