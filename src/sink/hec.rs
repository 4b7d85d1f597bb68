//! The Splunk HEC sink: events POSTed to the HTTP Event Collector's
//! `/services/collector/event`, in batches, with optional indexer acknowledgement.
//!
//! # Wire
//!
//! A request body is HEC event objects back to back (HEC's batch framing, not a JSON array),
//! gzip-compressed unless `compression = "none"`, with `Authorization: Splunk <token>` (the
//! header is marked sensitive; the token appears in no log or error). Each object is
//! `{"time", "host"?, "source", "sourcetype", "index"?, "event", "fields": {"event_id"}}`:
//! `time` is the event time in epoch seconds with milliseconds, `event` is the record as the
//! API sent it (or, as `payload` says, the whole envelope or the OCSF object), and `event_id`
//! is an indexed field.
//!
//! # Batching and back-pressure
//!
//! [`Sink::write`] encodes events into a buffer and sends it as soon as it holds
//! `max_batch_events` events or `max_batch_bytes` bytes; the last, partial batch goes out in
//! [`Sink::prepare`], which the runtime also calls when the oldest buffered event is
//! `max_batch_age` old ([`Sink::wants_commit`]). Without acknowledgements a request is
//! awaited before the next, so a slow collector slows the source. With them, up to
//! `max_unacked_batches` batches may await their acknowledgement; `write` then waits
//! (polling) before sending more, so memory stays bounded whatever the backlog.
//!
//! # When a batch counts as delivered
//!
//! Without acknowledgements: once HEC answered `200` with code `0`. With `acks = true`: once
//! `/services/collector/ack` reports its `ackId` indexed. Each request carries this sink's
//! channel (a random UUID) in `X-Splunk-Request-Channel`; acknowledgements are polled every
//! `ack_poll_interval`, and a batch still unacknowledged `ack_timeout` after it was sent is
//! sent again (new `ackId`; an acknowledgement of any of its sends counts), at most
//! `max_resends` times before the run fails. [`Sink::prepare`] returns only when every batch
//! of the commit is delivered, so the checkpoint never covers an event Splunk has not taken.
//!
//! # Failures
//!
//! Transport errors, 429 and 5xx (HEC code 9, "server is busy", is a 503) are retried with
//! exponential backoff and jitter (`Retry-After` is honoured, capped by `max_backoff`), up to
//! `max_attempts`. 401/403 (bad or disabled token), a wrong index, a channel mismatch, 404 or
//! a reply that is not HEC's fail the run with the sink's name, the URL and a hint.
//!
//! A `400` about the events themselves (codes 6, 12, 13, 15) is isolated, not fatal: when
//! HEC names the bad event (`invalid-event-number`), that event is rejected and the rest of
//! the batch sent again; when it does not, the batch is split in halves until the bad events
//! are alone (a `413` is split the same way). Rejected events go to the dead-letter queue via
//! [`Sink::take_rejected`]. Isolation is cheap for a few bad events (one request each, or a
//! logarithmic number of halvings) but not for a batch full of them, so it stops after
//! [`MAX_ISOLATION_REQUESTS`] extra requests per batch and rejects every event still
//! unplaced, with HEC's reason. Events whose `event` would be null or blank, which HEC always
//! refuses, are rejected before sending.
//!
//! # Guarantees
//!
//! HEC has no idempotent write: nothing lets a second send of the same events be recognised.
//! Delivery is therefore **at least once**: after a crash between Splunk taking a batch and
//! sluice moving its checkpoint, the replay sends those events again, and a retried request
//! or a resent unacknowledged batch may also have been indexed the first time. The lake's
//! exactly-once does not extend to Splunk. Every event carries its `event_id` as an indexed
//! field, so duplicates can be removed at search time: `... | dedup event_id`.

pub mod config;
mod settings;
mod wire;

#[cfg(test)]
mod tests;

pub use settings::{HecCompression, HecEventFormat, HecProblem};

use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use flate2::write::GzEncoder;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use url::Url;

use self::wire::{AckVerdict, Batch, EncodeError, Metadata, Verdict};
use super::{Published, Rejected, Sink, SinkError};
use crate::net::ClientOptions;
use crate::sink::config::HecConfig;
use crate::transform::Envelope;

/// Extra requests spent isolating a batch's invalid events before the rest of that batch is
/// rejected whole.
pub const MAX_ISOLATION_REQUESTS: u32 = 32;

/// The header carrying the channel that acknowledgements are tracked on.
const CHANNEL_HEADER: &str = "x-splunk-request-channel";

/// HEC replies are a few dozen bytes; a larger body is a proxy's page, shown truncated.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// A [`Sink`] sending one source's events to a Splunk HTTP Event Collector.
pub struct HecSink {
    config: HecConfig,
    meta: Metadata,
    client: reqwest::Client,
    event_url: Url,
    ack_url: Url,
    /// `Splunk <token>`, marked sensitive so no debug output shows it.
    authorization: HeaderValue,
    /// Present when acknowledgements are on.
    channel: Option<HeaderValue>,
    /// Events not sent yet, and when the oldest arrived.
    buffer: Batch,
    buffer_since: Option<Instant>,
    /// Sent batches awaiting their acknowledgement, oldest first.
    unacked: Vec<Unacked>,
    last_poll: Instant,
    /// When acknowledgement queries started failing, if the last one failed.
    polls_failing_since: Option<Instant>,
    /// What this commit has delivered so far.
    stats: Stats,
    rejected: Vec<Rejected>,
}

/// A batch HEC took, waiting for an acknowledgement.
struct Unacked {
    batch: Batch,
    /// The ackIds of every send of this batch: an acknowledgement of any one will do.
    ack_ids: Vec<u64>,
    sent: Instant,
    resends: u32,
}

/// Counts for the commit in progress; they become the prepare payload.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    batches: u64,
    events: u64,
    bytes: u64,
    resent: u64,
    rejected: u64,
}

/// The outcome of one batch's POST, retries done.
enum Answer {
    Accepted {
        ack_id: Option<u64>,
        bytes: u64,
    },
    Invalid {
        event: Option<usize>,
        reason: String,
    },
    TooLarge {
        reason: String,
    },
}

impl HecSink {
    /// A HEC sink for the events of `source`. Fails on a setting that cannot work (checked
    /// again here for configs built in code), an unreadable `ca_file`, or a token that is
    /// not a valid header value.
    pub fn new(config: &HecConfig, source: &str) -> Result<Self, SinkError> {
        let fail = |detail: String| SinkError {
            sink: config.name.clone(),
            detail,
        };
        config.check().map_err(|p| fail(p.to_string()))?;
        let (event_url, ack_url) = endpoints(&config.url)
            .map_err(|e| fail(format!("`url` `{}` is not a URL: {e}", config.url)))?;
        let mut authorization = HeaderValue::from_str(&format!("Splunk {}", config.token.expose()))
            .map_err(|_| {
                fail("`token` contains characters not allowed in an HTTP header (hint: check the secret for stray quotes or line breaks)".into())
            })?;
        authorization.set_sensitive(true);
        let mut options = ClientOptions::new(config.timeout);
        options.ca_file = config.ca_file.clone();
        options.insecure_skip_verify = config.insecure_skip_verify;
        if config.insecure_skip_verify {
            tracing::warn!(sink = %config.name, url = %event_url, "TLS certificate verification is OFF for this sink (insecure_skip_verify): anyone on the network path can read its token");
        }
        // Redirects are not followed: one could carry the token to another host.
        let client = options.build().map_err(|e| fail(e.to_string()))?;
        let channel = if config.acks {
            let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
            // A hyphenated UUID is plain ASCII: always a valid header value.
            Some(HeaderValue::from_str(&id.to_string()).map_err(|e| fail(e.to_string()))?)
        } else {
            None
        };
        let mut ack_url = ack_url;
        if let Some(channel) = &channel {
            let id = channel.to_str().unwrap_or_default();
            ack_url.query_pairs_mut().append_pair("channel", id);
        }
        Ok(HecSink {
            meta: Metadata {
                host: config.host.clone(),
                source: config.source.clone().unwrap_or_else(|| source.to_string()),
                sourcetype: config
                    .sourcetype
                    .clone()
                    .unwrap_or_else(|| format!("sluice:{source}")),
                index: config.index.clone(),
                format: config.payload(),
            },
            config: config.clone(),
            client,
            event_url,
            ack_url,
            authorization,
            channel,
            buffer: Batch::default(),
            buffer_since: None,
            unacked: Vec::new(),
            last_poll: Instant::now(),
            polls_failing_since: None,
            stats: Stats::default(),
            rejected: Vec::new(),
        })
    }

    /// The endpoint events are POSTed to.
    pub fn event_url(&self) -> &Url {
        &self.event_url
    }

    /// The channel id sent with every request, when acknowledgements are on.
    pub fn channel(&self) -> Option<&str> {
        self.channel.as_ref().and_then(|c| c.to_str().ok())
    }

    /// An error of this sink. Server-provided text is included in details, so the token is
    /// scrubbed from them in case a collector (or something posing as one) echoes it.
    fn error(&self, detail: String) -> SinkError {
        let token = self.config.token.expose();
        let detail = if token.len() >= 6 {
            detail.replace(token, "[redacted]")
        } else {
            detail
        };
        SinkError {
            sink: self.config.name.clone(),
            detail,
        }
    }

    fn max_batch_bytes(&self) -> usize {
        usize::try_from(self.config.max_batch_bytes.as_u64()).unwrap_or(usize::MAX)
    }

    fn reject(&mut self, event: Envelope, error: String) {
        tracing::warn!(sink = %self.config.name, event_id = %event.event_id, error = %error, "HEC refused an event; it goes to the dead-letter queue");
        self.stats.rejected += 1;
        self.rejected.push(Rejected { event, error });
    }

    fn delivered(&mut self, batch: &Batch) {
        self.stats.batches += 1;
        self.stats.events += batch.len() as u64;
    }

    /// Sends the buffered events, after waiting for room among unacknowledged batches.
    async fn flush(&mut self) -> Result<(), SinkError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.buffer);
        self.buffer_since = None;
        if self.config.acks {
            // Back-pressure: a collector that indexes slowly holds the source here.
            self.wait_for_acks(self.config.max_unacked_batches.saturating_sub(1))
                .await?;
        }
        self.send(batch, Vec::new(), 0).await
    }

    /// Sends `batch` until each of its events is accepted or rejected. `ack_ids` and
    /// `resends` carry the history of a batch sent again for want of an acknowledgement.
    async fn send(
        &mut self,
        batch: Batch,
        ack_ids: Vec<u64>,
        resends: u32,
    ) -> Result<(), SinkError> {
        let mut queue = VecDeque::from([(batch, ack_ids)]);
        let mut isolation_requests = 0;
        while let Some((batch, mut ack_ids)) = queue.pop_front() {
            let answer = self.post(&batch).await?;
            let reason = match answer {
                Answer::Accepted { ack_id, bytes } => {
                    self.stats.bytes += bytes;
                    if !self.config.acks {
                        self.delivered(&batch);
                        continue;
                    }
                    let Some(ack_id) = ack_id else {
                        return Err(self.error(format!(
                            "{}: acks = true but the collector returned no ackId, so indexer acknowledgement is off for this token (hint: enable it for the token, or set acks = false)",
                            self.event_url
                        )));
                    };
                    ack_ids.push(ack_id);
                    tracing::debug!(sink = %self.config.name, ack_id, batch = %batch.describe(), "batch sent; awaiting acknowledgement");
                    self.unacked.push(Unacked {
                        batch,
                        ack_ids,
                        sent: Instant::now(),
                        resends,
                    });
                    continue;
                }
                Answer::Invalid { event, reason }
                    if isolation_requests < MAX_ISOLATION_REQUESTS =>
                {
                    isolation_requests += 1;
                    match event {
                        Some(i) if i < batch.len() => {
                            let (bad, rest) = batch.remove(i);
                            self.reject(bad, reason);
                            if !rest.is_empty() {
                                queue.push_front((rest, Vec::new()));
                            }
                            continue;
                        }
                        _ => reason,
                    }
                }
                Answer::TooLarge { reason } if isolation_requests < MAX_ISOLATION_REQUESTS => {
                    isolation_requests += 1;
                    reason
                }
                Answer::Invalid { reason, .. } | Answer::TooLarge { reason } => {
                    // Isolation got too expensive: reject what is left of this batch.
                    let reason = format!("{reason} (this event's batch held several invalid events; isolating each was abandoned after {MAX_ISOLATION_REQUESTS} requests)");
                    for (rest, _) in std::iter::once((batch, ack_ids)).chain(queue.drain(..)) {
                        for event in rest.into_events() {
                            self.reject(event, reason.clone());
                        }
                    }
                    return Ok(());
                }
            };
            // HEC did not say which event is bad (or the body is too large): halve.
            if batch.len() == 1 {
                for event in batch.into_events() {
                    self.reject(event, reason.clone());
                }
            } else {
                let (first, second) = batch.split_half();
                queue.push_front((second, Vec::new()));
                queue.push_front((first, Vec::new()));
            }
        }
        Ok(())
    }

    /// POSTs a batch, retrying what is worth retrying.
    async fn post(&self, batch: &Batch) -> Result<Answer, SinkError> {
        let body = match self.config.compression {
            HecCompression::Gzip => gzip(batch.body())
                .map_err(|e| self.error(format!("cannot compress a batch: {e}")))?,
            HecCompression::None => batch.body().to_vec(),
        };
        let bytes = body.len() as u64;
        let mut delays = crate::net::backoff(Duration::from_millis(100), self.config.max_backoff);
        let url = self.event_url.as_str();
        let mut attempt = 1;
        loop {
            let mut request = self
                .client
                .post(self.event_url.clone())
                .header(AUTHORIZATION, self.authorization.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
            if self.config.compression == HecCompression::Gzip {
                request = request.header(CONTENT_ENCODING, "gzip");
            }
            if let Some(channel) = &self.channel {
                request = request.header(CHANNEL_HEADER, channel.clone());
            }
            let verdict = match request.send().await {
                Ok(mut response) => {
                    let status = response.status();
                    let retry_after = crate::net::retry_after(response.headers());
                    match crate::net::read_excerpt(&mut response, MAX_REPLY_BYTES).await {
                        Ok(reply) => wire::classify(status, &reply, retry_after, url),
                        Err(e) => Verdict::Retry {
                            reason: format!("cannot read the reply: {e}"),
                            wait: None,
                        },
                    }
                }
                Err(e) => Verdict::Retry {
                    reason: chain(&e.without_url()),
                    wait: None,
                },
            };
            match verdict {
                Verdict::Accepted { ack_id } => return Ok(Answer::Accepted { ack_id, bytes }),
                Verdict::Invalid { event, reason } => return Ok(Answer::Invalid { event, reason }),
                Verdict::TooLarge { reason } => return Ok(Answer::TooLarge { reason }),
                Verdict::Fatal { reason } => return Err(self.error(reason)),
                Verdict::Retry { reason, wait } => {
                    if attempt >= self.config.max_attempts {
                        return Err(self.error(format!(
                            "{url}: gave up after {attempt} attempts: {reason} (hint: check that the collector is up and reachable; raise max_attempts to wait longer)"
                        )));
                    }
                    let delay = wait
                        .or_else(|| delays.next())
                        .unwrap_or(self.config.max_backoff)
                        .min(self.config.max_backoff);
                    tracing::warn!(sink = %self.config.name, url, attempt, delay_ms = delay.as_millis() as u64, error = %reason, "HEC request failed; retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Polls until at most `limit` batches await acknowledgement.
    async fn wait_for_acks(&mut self, limit: usize) -> Result<(), SinkError> {
        while self.unacked.len() > limit {
            let due = self.last_poll + self.config.ack_poll_interval;
            tokio::time::sleep_until(due.into()).await;
            self.poll_acks().await?;
        }
        Ok(())
    }

    /// Asks which batches are indexed, then sends again those waiting past `ack_timeout`.
    async fn poll_acks(&mut self) -> Result<(), SinkError> {
        self.last_poll = Instant::now();
        if self.unacked.is_empty() {
            return Ok(());
        }
        let ids: Vec<u64> = self
            .unacked
            .iter()
            .flat_map(|u| u.ack_ids.iter().copied())
            .collect();
        match self.query_acks(&ids).await {
            AckVerdict::Acked(acked) => {
                self.polls_failing_since = None;
                let acked: HashSet<u64> = acked.into_iter().collect();
                let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.unacked)
                    .into_iter()
                    .partition(|u| u.ack_ids.iter().any(|id| acked.contains(id)));
                self.unacked = waiting;
                for u in done {
                    tracing::debug!(sink = %self.config.name, batch = %u.batch.describe(), "batch acknowledged");
                    self.delivered(&u.batch);
                }
            }
            AckVerdict::Fatal(detail) => return Err(self.error(detail)),
            AckVerdict::Transient(reason) => {
                let since = *self.polls_failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= self.config.ack_timeout {
                    return Err(self.error(format!(
                        "{}: acknowledgements could not be read for {}: {reason} (hint: check the collector's health; the unacknowledged events are sent again by the next run)",
                        self.ack_url,
                        humantime::format_duration(since.elapsed())
                    )));
                }
                tracing::warn!(sink = %self.config.name, url = %self.ack_url, error = %reason, "cannot read acknowledgements; asking again at the next poll");
                // Not resending on a failed poll: the batches may well be indexed.
                return Ok(());
            }
        }
        let timeout = self.config.ack_timeout;
        let (late, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.unacked)
            .into_iter()
            .partition(|u| u.sent.elapsed() >= timeout);
        self.unacked = waiting;
        for u in late {
            if u.resends >= self.config.max_resends {
                return Err(self.error(format!(
                    "{}: a batch ({}) was not acknowledged after {} sends, each waiting ack_timeout = {} (hint: check the indexers' health and queues; raise ack_timeout or max_resends)",
                    self.event_url,
                    u.batch.describe(),
                    u.resends + 1,
                    humantime::format_duration(timeout)
                )));
            }
            tracing::warn!(sink = %self.config.name, batch = %u.batch.describe(), ack_ids = ?u.ack_ids, "batch not acknowledged within ack_timeout; sending it again (if it was indexed after all, its events arrive twice)");
            self.stats.resent += 1;
            self.send(u.batch, u.ack_ids, u.resends + 1).await?;
        }
        Ok(())
    }

    /// One acknowledgement query for `ids`.
    async fn query_acks(&self, ids: &[u64]) -> AckVerdict {
        let body = serde_json::json!({ "acks": ids }).to_string();
        let mut request = self
            .client
            .post(self.ack_url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(channel) = &self.channel {
            request = request.header(CHANNEL_HEADER, channel.clone());
        }
        match request.send().await {
            Ok(mut response) => {
                let status = response.status();
                match crate::net::read_excerpt(&mut response, MAX_REPLY_BYTES).await {
                    Ok(reply) => wire::classify_ack(status, &reply, self.ack_url.as_str()),
                    Err(e) => AckVerdict::Transient(format!("cannot read the reply: {e}")),
                }
            }
            Err(e) => AckVerdict::Transient(chain(&e.without_url())),
        }
    }
}

#[async_trait]
impl Sink for HecSink {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn write(&mut self, events: &[Envelope]) -> Result<(), SinkError> {
        let max_bytes = self.max_batch_bytes();
        let mut encoded = Vec::new();
        for event in events {
            encoded.clear();
            match self.meta.encode(event, &mut encoded) {
                Ok(()) => {}
                Err(EncodeError::Blank) => {
                    self.reject(
                        event.clone(),
                        "the record is null or blank, and HEC refuses an empty `event` (HEC codes 12 and 13)".into(),
                    );
                    continue;
                }
                Err(EncodeError::Json(e)) => {
                    return Err(self.error(format!(
                        "cannot encode event {} as JSON: {e}",
                        event.event_id
                    )))
                }
            }
            // An event larger than a whole batch still goes, alone: the collector's own limit
            // (800 MB by default) is far above any sensible max_batch_bytes.
            if !self.buffer.is_empty() && self.buffer.bytes() + encoded.len() > max_bytes {
                self.flush().await?;
            }
            self.buffer_since.get_or_insert_with(Instant::now);
            self.buffer.push(event.clone(), &encoded);
            if self.buffer.len() >= self.config.max_batch_events || self.buffer.bytes() >= max_bytes
            {
                self.flush().await?;
            }
        }
        // Keep the unacknowledged set short between commits.
        if !self.unacked.is_empty() && self.last_poll.elapsed() >= self.config.ack_poll_interval {
            self.poll_acks().await?;
        }
        Ok(())
    }

    fn wants_commit(&self) -> bool {
        let stale = self
            .buffer_since
            .is_some_and(|t| t.elapsed() >= self.config.max_batch_age);
        // A commit waits for the acknowledgements and moves the checkpoint past them, so a
        // crash replays (and duplicates) less.
        let backlog = self.config.acks && self.unacked.len() >= self.config.max_unacked_batches;
        stale || backlog
    }

    async fn prepare(&mut self, batch: &str) -> Result<Option<serde_json::Value>, SinkError> {
        self.flush().await?;
        self.wait_for_acks(0).await?;
        let stats = std::mem::take(&mut self.stats);
        if stats.batches == 0 {
            return Ok(None);
        }
        tracing::debug!(sink = %self.config.name, batch, batches = stats.batches, events = stats.events, resent = stats.resent, rejected = stats.rejected, "every batch of the commit is delivered");
        Ok(Some(serde_json::json!({
            "batch": batch,
            "url": self.event_url.as_str(),
            "batches": stats.batches,
            "events": stats.events,
            "bytes": stats.bytes,
            "resent": stats.resent,
            "rejected": stats.rejected,
        })))
    }

    /// Nothing to do: the events were delivered during prepare. Reports what was sent.
    async fn publish(&mut self, payload: &serde_json::Value) -> Result<Published, SinkError> {
        Ok(Published {
            objects: payload["batches"].as_u64().unwrap_or(0),
            bytes: payload["bytes"].as_u64().unwrap_or(0),
        })
    }

    fn take_rejected(&mut self) -> Vec<Rejected> {
        std::mem::take(&mut self.rejected)
    }

    fn fail_when_refused(&self) -> crate::sink::share::Share {
        self.config.fail_when_refused
    }

    /// Drops unsent events and forgets batches awaiting acknowledgement: the checkpoint does
    /// not cover them, so the next run fetches and sends them again.
    async fn discard_staged(&mut self) -> Result<(), SinkError> {
        self.buffer = Batch::default();
        self.buffer_since = None;
        self.unacked.clear();
        self.polls_failing_since = None;
        self.stats = Stats::default();
        self.rejected.clear();
        Ok(())
    }
}

/// The event and acknowledgement endpoints under the configured base URL. A URL that already
/// names an endpoint is taken back to its base, so either form works.
fn endpoints(raw: &str) -> Result<(Url, Url), url::ParseError> {
    let base = Url::parse(raw)?;
    let path = base.path().trim_end_matches('/');
    let prefix = path
        .strip_suffix("/services/collector/event")
        .or_else(|| path.strip_suffix("/services/collector"))
        .unwrap_or(path)
        .to_string();
    let mut event = base.clone();
    event.set_path(&format!("{prefix}/services/collector/event"));
    let mut ack = base;
    ack.set_path(&format!("{prefix}/services/collector/ack"));
    Ok((event, ack))
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::default(),
    );
    encoder.write_all(body)?;
    encoder.finish()
}

/// An error and its causes, `a: b: c` (reqwest's own message hides the cause, such as
/// "connection refused").
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
