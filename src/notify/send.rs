//! Sending: one bounded queue drained by one task, off the runs' tasks. A notifier that
//! cannot be reached is tried again with backoff and logged; one that refuses (a 4xx other
//! than 429) is logged once with its answer and not tried again. Nothing here can fail or
//! hold up a run: a full queue drops the message, loudly.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::message::{signature, Message};
use crate::config::NotifierConfig;
use crate::net::ClientOptions;

/// Messages waiting to be sent at most; more are dropped (and logged).
const QUEUE: usize = 256;
/// Messages being sent at once.
const IN_FLIGHT: usize = 4;
/// The most of a refusing answer that is logged.
const ANSWER_EXCERPT: usize = 512;

struct Job {
    notifier: NotifierConfig,
    message: Arc<Message>,
}

/// A handle on the sending task; cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    queue: mpsc::Sender<Job>,
}

/// The sending task, to wait for at exit.
pub struct Sending {
    task: tokio::task::JoinHandle<()>,
}

impl Dispatcher {
    /// Starts the sending task.
    pub fn start() -> (Dispatcher, Sending) {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let task = tokio::spawn(drain(jobs));
        (Dispatcher { queue }, Sending { task })
    }

    /// Queues `message` for `notifier`; never waits.
    pub fn send(&self, notifier: &NotifierConfig, message: Arc<Message>) {
        let job = Job {
            notifier: notifier.clone(),
            message,
        };
        if let Err(err) = self.queue.try_send(job) {
            let job = match err {
                mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job) => {
                    job
                }
            };
            tracing::error!(notifier = %job.notifier.name(), alert = %job.message.alert, source = %job.message.source, "alert dropped: the notification queue is full (notifiers are too slow or unreachable)");
        }
    }
}

impl Sending {
    /// Waits up to `bound` for the queued messages to be sent, once every [`Dispatcher`] is
    /// dropped; messages still unsent then are abandoned (and logged).
    pub async fn finish(self, bound: Duration) {
        let abort = self.task.abort_handle();
        if tokio::time::timeout(bound, self.task).await.is_err() {
            abort.abort();
            tracing::warn!(
                waited_ms = bound.as_millis() as u64,
                "alerts still being sent were abandoned at exit"
            );
        }
    }
}

async fn drain(mut jobs: mpsc::Receiver<Job>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut sending = JoinSet::new();
    while let Some(job) = jobs.recv().await {
        // The semaphore is never closed, so acquiring cannot fail.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        sending.spawn(async move {
            deliver(&job.notifier, &job.message).await;
            drop(slot);
        });
        // Reap finished sends so the set does not grow.
        while sending.try_join_next().is_some() {}
    }
    while sending.join_next().await.is_some() {}
}

/// One request, ready to send.
struct Request {
    url: String,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

fn request(notifier: &NotifierConfig, message: &Message) -> Request {
    // Serializing a `serde_json::Value` cannot fail.
    let to_vec = |v: serde_json::Value| serde_json::to_vec(&v).expect("JSON values serialize");
    match notifier {
        NotifierConfig::Slack(slack) => Request {
            url: slack.webhook_url.expose().to_string(),
            body: to_vec(message.slack()),
            headers: Vec::new(),
        },
        NotifierConfig::Webhook(hook) => {
            let body = to_vec(message.webhook());
            let timestamp = chrono::Utc::now().timestamp();
            let signed = signature(hook.secret.expose().as_bytes(), timestamp, &body);
            Request {
                url: hook.url.expose().to_string(),
                body,
                headers: vec![
                    ("x-sluice-timestamp", timestamp.to_string()),
                    ("x-sluice-signature", signed),
                ],
            }
        }
        // Sent by `email.rs`, never as an HTTP request.
        NotifierConfig::Email(_) => Request {
            url: String::new(),
            body: Vec::new(),
            headers: Vec::new(),
        },
        NotifierConfig::Pagerduty(pd) => Request {
            url: pd.url.clone(),
            body: to_vec(message.pagerduty(pd.routing_key.expose())),
            headers: Vec::new(),
        },
    }
}

/// Sends one message, trying again as the notifier allows; logs the outcome. The URL is
/// never logged: Slack's and many webhooks' URLs are credentials.
async fn deliver(notifier: &NotifierConfig, message: &Message) {
    if let NotifierConfig::Email(email) = notifier {
        return super::email::deliver(email, message).await;
    }
    let name = notifier.name();
    let client = match ClientOptions::new(notifier.timeout()).build() {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(notifier = %name, error = %err, "alert not sent: cannot build the HTTP client");
            return;
        }
    };
    let request = request(notifier, message);
    let mut delays = crate::net::backoff(Duration::from_millis(500), Duration::from_secs(30));
    let attempts = notifier.attempts().max(1);
    for attempt in 1..=attempts {
        let mut call = client
            .post(&request.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(request.body.clone());
        for (header, value) in &request.headers {
            call = call.header(*header, value);
        }
        let (problem, wait) = match call.send().await {
            Ok(mut response) => {
                let status = response.status();
                if status.is_success() {
                    tracing::info!(notifier = %name, alert = %message.alert, source = %message.source, event = message.kind.as_str(), "alert sent");
                    return;
                }
                let answer = crate::net::read_excerpt(&mut response, ANSWER_EXCERPT)
                    .await
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let answer = crate::redact::scrub(&answer).into_owned();
                if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
                    // A refusal does not pass by waiting: a revoked webhook, a wrong key.
                    tracing::error!(notifier = %name, alert = %message.alert, source = %message.source, status = status.as_u16(), answer = %answer, "alert refused by the notifier; not retried (hint: check the notifier's URL or key)");
                    return;
                }
                (
                    format!("HTTP {status}: {answer}"),
                    crate::net::retry_after(response.headers()),
                )
            }
            Err(err) => (crate::net::describe(&err), None),
        };
        if attempt == attempts {
            tracing::error!(notifier = %name, alert = %message.alert, source = %message.source, attempts, error = %problem, "alert not sent: the notifier could not be reached");
            return;
        }
        let delay = wait
            .unwrap_or_else(|| delays.next().unwrap_or(Duration::from_secs(30)))
            .min(Duration::from_secs(60));
        tracing::warn!(notifier = %name, alert = %message.alert, attempt, error = %problem, retry_in_ms = delay.as_millis() as u64, "alert not sent yet; retrying");
        tokio::time::sleep(delay).await;
    }
}
