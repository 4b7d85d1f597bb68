//! The Elasticsearch / OpenSearch sink: events as documents, sent with the `_bulk` API.
//!
//! Each event becomes one document, the envelope plus `@timestamp` (the event time), sent as
//! `{"create": {"_index": <name>, "_id": <event_id>}}`. The name is a data stream
//! (`logs-sluice.{source}-default`) or an index named from the event's own time
//! (`sluice-{source}-%Y.%m.%d`), never from the clock, so an event always goes to the same
//! place.
//!
//! # Exactly once
//!
//! A bulk request is not a transaction and cannot be staged invisibly, so the two-step commit
//! of [`Sink`] maps onto it differently than onto the lake: documents become visible while
//! they are sent, before the checkpoint moves. What keeps delivery exact is that sending is
//! idempotent. `create` with the event id as `_id` stores a document only if none with that
//! id is there; a second copy is refused with 409 `version_conflict_engine_exception`, which
//! this sink counts as delivered. So a retried request, or a replay after a crash (the next
//! run fetches the uncommitted pages again and sends the same events, with the same ids, to
//! the same names), writes nothing twice.
//!
//! Two limits: with a data stream, `_id` is unique per backing
//! index, so a replay that straddles a rollover could store a second copy; and sources that
//! share an index must not share event ids (put `{source}` in the name).
//!
//! # The commit cycle
//!
//! - [`Sink::write`] encodes events into a batch and sends each batch as soon as it holds
//!   `max_batch_events` documents or `max_batch_bytes`; it awaits the answer, so a slow
//!   cluster slows the pipeline down instead of filling memory (one batch is held at a time).
//! - [`Sink::prepare`] sends the partial batch, returns once every document of the commit was
//!   stored, already there, or refused for good, and returns the counts as the payload.
//! - [`Sink::publish`] has nothing left to do; it reports the batches and bytes of the payload.
//! - [`Sink::take_rejected`] hands over the documents the cluster refused for good.
//! - [`Sink::discard_staged`] drops the unsent batch.
//!
//! # Failures
//!
//! | answer | what happens |
//! |---|---|
//! | item 201 / 409 | delivered |
//! | item 429, 5xx | that item alone is sent again, with backoff |
//! | item 400 and other 4xx (mapping errors) | rejected: [`Sink::take_rejected`], with the reason |
//! | item 401/403, missing index, missing pipeline | the run fails: every document would |
//! | request 429, 5xx, timeout, connection error | the request is sent again, with backoff |
//! | request 413 | the batch is split in halves; a single document that is too large is rejected |
//! | request 401/403, 404, other 4xx | the run fails, naming the sink and URL, with a hint |
//!
//! After `max_attempts` requests in a row that settle no document, the run fails; the
//! checkpoint has not moved, and the next run sends the same events again.

mod bulk;
mod client;
pub mod config;
pub mod options;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use options::{
    BulkCompression, ElasticsearchAuth, ElasticsearchProblem, IndexNamer, IndexTarget,
};

use self::bulk::{BulkItem, ItemResult};
use self::client::{BulkClient, Failure};
use super::{Published, Rejected, Sink, SinkError};
use crate::sink::config::ElasticsearchConfig;
use crate::transform::Envelope;

/// Shortest wait between attempts.
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// What happened to the events of one commit: the payload [`Sink::prepare`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct CommitCounts {
    /// Events written.
    events: u64,
    /// Documents stored by this commit.
    created: u64,
    /// Documents that were already there (409): sent by an earlier attempt or run.
    already_present: u64,
    /// Documents refused for good, handed over by [`Sink::take_rejected`].
    rejected: u64,
    /// Batches sent (a batch may take several requests).
    batches: u64,
    /// Bulk requests made, retries included.
    requests: u64,
    /// Items sent again after a 429 or 5xx answer for them.
    retried_items: u64,
    /// NDJSON bytes of the documents delivered (created or already present).
    bytes: u64,
}

/// A [`Sink`] sending one source's events to an Elasticsearch or OpenSearch cluster.
pub struct ElasticsearchSink {
    name: String,
    client: BulkClient,
    namer: IndexNamer,
    max_batch_bytes: usize,
    max_batch_events: usize,
    max_batch_age: Duration,
    max_attempts: u32,
    max_backoff: Duration,
    /// Encoded, not yet sent.
    batch: Vec<BulkItem>,
    /// NDJSON bytes in `batch`.
    batch_bytes: usize,
    /// When the first event since the last prepare was written.
    first_write: Option<Instant>,
    counts: CommitCounts,
    rejected: Vec<Rejected>,
    fail_when_refused: crate::sink::share::Share,
    payload: crate::sink::Payload,
}

impl ElasticsearchSink {
    /// A sink for `source`'s events. Checks the settings (again, for configs built in code)
    /// and that the index template gives valid names for this source.
    pub fn new(config: &ElasticsearchConfig, source: &str) -> Result<Self, SinkError> {
        let invalid = |problem: ElasticsearchProblem| SinkError {
            sink: config.name.clone(),
            detail: problem.to_string(),
        };
        config.check().map_err(invalid)?;
        let namer = config
            .target()
            .and_then(|target| target.compile(source))
            .map_err(invalid)?;
        Ok(ElasticsearchSink {
            name: config.name.clone(),
            fail_when_refused: config.fail_when_refused,
            payload: config.payload,
            client: BulkClient::new(config)?,
            namer,
            max_batch_bytes: usize::try_from(config.max_batch_bytes.as_u64()).unwrap_or(usize::MAX),
            max_batch_events: config.max_batch_events,
            max_batch_age: config.max_batch_age,
            max_attempts: config.max_attempts,
            max_backoff: config.max_backoff,
            batch: Vec::new(),
            batch_bytes: 0,
            first_write: None,
            counts: CommitCounts::default(),
            rejected: Vec::new(),
        })
    }

    fn error(&self, detail: String) -> SinkError {
        SinkError {
            sink: self.name.clone(),
            detail: format!("{}: {detail}", self.client.shown_url()),
        }
    }

    /// Sends the batch being filled, if any.
    async fn flush(&mut self) -> Result<(), SinkError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let items = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        self.counts.batches += 1;
        self.deliver(items).await
    }

    /// Sends `items` until each is stored, already there, or refused for good. Items the
    /// cluster refuses for now are sent again alone; a batch too large for the cluster is
    /// split. Gives up after `max_attempts` requests in a row that settle nothing.
    async fn deliver(&mut self, items: Vec<BulkItem>) -> Result<(), SinkError> {
        let started = Instant::now();
        let total = items.len();
        // Groups still to send, last first; splitting a group pushes its halves.
        let mut groups = vec![items];
        let mut failures = 0u32;
        let mut delays = self.backoff();
        while let Some(group) = groups.pop() {
            if group.is_empty() {
                continue;
            }
            self.counts.requests += 1;
            let (error, wait) = match self.client.send(&group).await {
                Ok(results) => {
                    let sent = group.len();
                    let retry = self.settle(group, results)?;
                    if retry.items.len() < sent {
                        // Progress: the attempt budget and the backoff start over.
                        failures = 0;
                        delays = self.backoff();
                    }
                    if retry.items.is_empty() {
                        continue;
                    }
                    self.counts.retried_items += retry.items.len() as u64;
                    let error = format!(
                        "{} of {sent} documents refused for now, e.g. {}",
                        retry.items.len(),
                        retry.reason
                    );
                    groups.push(retry.items);
                    (error, None)
                }
                Err(Failure::TooLarge(reason)) if group.len() > 1 => {
                    let mut first = group;
                    let second = first.split_off(first.len() / 2);
                    tracing::info!(sink = %self.name, documents = first.len() + second.len(), reason = %reason, "the cluster refused the bulk request as too large; sending it in halves");
                    groups.push(second);
                    groups.push(first);
                    continue;
                }
                Err(Failure::TooLarge(reason)) => {
                    // One document alone is too large: it is the document's fault.
                    self.reject(group, &format!("{reason} (the document alone is larger than the cluster accepts: http.max_content_length)"));
                    continue;
                }
                Err(Failure::Fatal(detail)) => return Err(self.error(detail)),
                Err(Failure::Retry { error, wait }) => {
                    groups.push(group);
                    (error, wait)
                }
            };
            failures += 1;
            if failures >= self.max_attempts {
                return Err(self.error(format!(
                    "gave up after {failures} attempts in a row that stored nothing; last: {error} (hint: the checkpoint did not move, so the next run sends these events again and nothing is stored twice; check the cluster's health, or raise max_attempts)"
                )));
            }
            let delay = wait
                .unwrap_or_else(|| delays.next().unwrap_or(self.max_backoff))
                .min(self.max_backoff);
            tracing::warn!(sink = %self.name, url = %self.client.shown_url(), attempt = failures, delay_ms = delay.as_millis() as u64, error = %error, "bulk request not (fully) accepted; sending the rest again");
            tokio::time::sleep(delay).await;
        }
        tracing::debug!(sink = %self.name, documents = total, ms = started.elapsed().as_millis() as u64, "batch delivered");
        Ok(())
    }

    /// Counts each item's result; returns the items to send again, or the error that stops
    /// the run.
    fn settle(
        &mut self,
        group: Vec<BulkItem>,
        results: Vec<ItemResult>,
    ) -> Result<RetryItems, SinkError> {
        let mut retry = RetryItems::default();
        for (item, result) in group.into_iter().zip(results) {
            match result {
                ItemResult::Created => {
                    self.counts.created += 1;
                    self.counts.bytes += item.lines.len() as u64;
                }
                ItemResult::Exists => {
                    self.counts.already_present += 1;
                    self.counts.bytes += item.lines.len() as u64;
                }
                ItemResult::Retry(reason) => {
                    if retry.items.is_empty() {
                        retry.reason = self.client.redact(&reason);
                    }
                    retry.items.push(item);
                }
                ItemResult::Reject(reason) => self.reject(vec![item], &reason),
                ItemResult::Fatal(reason) => {
                    let detail = format!(
                        "document `{}` was refused: {}",
                        item.event.event_id,
                        self.client.redact(&reason)
                    );
                    return Err(self.error(detail));
                }
            }
        }
        Ok(retry)
    }

    fn reject(&mut self, items: Vec<BulkItem>, reason: &str) {
        let reason = self.client.redact(reason);
        for item in items {
            self.counts.rejected += 1;
            self.rejected.push(Rejected {
                event: item.event,
                error: reason.clone(),
            });
        }
    }

    fn backoff(&self) -> backon::ExponentialBackoff {
        crate::net::backoff(MIN_BACKOFF, self.max_backoff)
    }
}

/// Items to send again, and why the first of them was refused.
#[derive(Default)]
struct RetryItems {
    items: Vec<BulkItem>,
    reason: String,
}

#[async_trait]
impl Sink for ElasticsearchSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&mut self, events: &[Envelope]) -> Result<(), SinkError> {
        if events.is_empty() {
            return Ok(());
        }
        self.first_write.get_or_insert_with(Instant::now);
        for event in events {
            let index = self.namer.name(event.event_time.0).map_err(|_| {
                self.error(format!(
                    "cannot format the index name for event `{}`",
                    event.event_id
                ))
            })?;
            let item = BulkItem::new(event, &index, self.payload).map_err(|e| {
                self.error(format!("cannot encode event `{}`: {e}", event.event_id))
            })?;
            // A document that does not fit goes into the next batch; one larger than a whole
            // batch is sent alone.
            if !self.batch.is_empty() && self.batch_bytes + item.lines.len() > self.max_batch_bytes
            {
                self.flush().await?;
            }
            self.batch_bytes += item.lines.len();
            self.batch.push(item);
            self.counts.events += 1;
            if self.batch.len() >= self.max_batch_events || self.batch_bytes >= self.max_batch_bytes
            {
                self.flush().await?;
            }
        }
        Ok(())
    }

    fn wants_commit(&self) -> bool {
        // Sending needs no commit, so only latency (a partial batch waiting) and the memory
        // that refused documents hold until the commit hands them over count here.
        self.first_write
            .is_some_and(|t| t.elapsed() >= self.max_batch_age)
            || self.counts.rejected >= self.max_batch_events as u64
    }

    async fn prepare(&mut self, batch: &str) -> Result<Option<serde_json::Value>, SinkError> {
        if self.counts.events == 0 {
            return Ok(None);
        }
        self.flush().await?;
        let counts = std::mem::take(&mut self.counts);
        self.first_write = None;
        if counts.rejected > 0 {
            let first = self
                .rejected
                .last()
                .map(|r| r.error.as_str())
                .unwrap_or_default();
            tracing::warn!(sink = %self.name, rejected = counts.rejected, error = %first, "the cluster refused documents for good; they go to the dead-letter queue");
        }
        tracing::debug!(sink = %self.name, batch, events = counts.events, created = counts.created, already_present = counts.already_present, rejected = counts.rejected, requests = counts.requests, "commit's documents delivered");
        let payload = serde_json::to_value(&counts)
            .map_err(|e| self.error(format!("cannot record the commit's counts: {e}")))?;
        Ok(Some(payload))
    }

    async fn publish(&mut self, payload: &serde_json::Value) -> Result<Published, SinkError> {
        // Everything was stored before the commit's intent was recorded; a replayed intent
        // from a crashed run has nothing to do either.
        let counts: CommitCounts = serde_json::from_value(payload.clone()).map_err(|err| SinkError {
            sink: self.name.clone(),
            detail: format!("commit intent is not an Elasticsearch commit summary ({err}); was the sink's kind changed while a commit was in flight?"),
        })?;
        Ok(Published {
            objects: counts.batches,
            bytes: counts.bytes,
        })
    }

    fn take_rejected(&mut self) -> Vec<Rejected> {
        std::mem::take(&mut self.rejected)
    }

    fn fail_when_refused(&self) -> crate::sink::share::Share {
        self.fail_when_refused
    }

    async fn discard_staged(&mut self) -> Result<(), SinkError> {
        // Documents already sent stay in the cluster; the replay that follows a discard
        // meets them as 409s. Refusals of the discarded commit are dropped too: the replay
        // refuses those events again and reports them then.
        self.batch.clear();
        self.batch_bytes = 0;
        self.first_write = None;
        self.counts = CommitCounts::default();
        self.rejected.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Record;
    use chrono::{TimeZone, Utc};
    use std::sync::Arc;

    /// A sink whose cluster is never reached: nothing here fills a batch.
    fn sink(extra: &str) -> ElasticsearchSink {
        let text = format!(
            "name = \"es\"\nurl = \"http://127.0.0.1:9\"\ndata_stream = \"logs-sluice.{{source}}-default\"\n{extra}"
        );
        let config: ElasticsearchConfig = toml::from_str(&text).unwrap();
        ElasticsearchSink::new(&config, "okta").unwrap()
    }

    fn event(id: &str) -> Envelope {
        let record = Record {
            time: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            id: id.into(),
            data: serde_json::json!({"id": id}).into(),
        };
        Envelope::wrap(record, &Arc::from("okta"), Utc::now())
    }

    #[tokio::test]
    async fn a_partial_batch_asks_for_a_commit_once_it_is_old() {
        let mut fresh = sink("");
        assert!(!fresh.wants_commit());
        fresh.write(&[event("a")]).await.unwrap();
        assert!(!fresh.wants_commit(), "30s have not passed");

        let mut eager = sink("max_batch_age = \"0s\"");
        assert!(!eager.wants_commit(), "nothing written");
        eager.write(&[event("a")]).await.unwrap();
        assert!(eager.wants_commit());
        eager.discard_staged().await.unwrap();
        assert!(!eager.wants_commit());
    }

    #[tokio::test]
    async fn publish_reports_the_payload_and_refuses_another_kinds() {
        let mut sink = sink("");
        let counts = CommitCounts {
            events: 3,
            created: 3,
            batches: 2,
            requests: 2,
            bytes: 900,
            ..CommitCounts::default()
        };
        let payload = serde_json::to_value(&counts).unwrap();
        let published = sink.publish(&payload).await.unwrap();
        assert_eq!(
            published,
            Published {
                objects: 2,
                bytes: 900
            }
        );
        // Publishing again (a replayed intent) is the same no-op.
        assert_eq!(sink.publish(&payload).await.unwrap(), published);
        let lake_payload = serde_json::json!([{"staged": "a", "key": "b", "bytes": 1}]);
        let err = sink.publish(&lake_payload).await.unwrap_err();
        assert!(err.to_string().contains("kind changed"), "{err}");
    }

    #[test]
    fn a_source_that_makes_a_bad_index_name_is_refused_when_the_sink_is_built() {
        let config: ElasticsearchConfig =
            toml::from_str("name = \"es\"\nurl = \"http://127.0.0.1:9\"\nindex = \"{source}-%Y\"")
                .unwrap();
        let err = ElasticsearchSink::new(&config, "_okta").err().unwrap();
        assert!(err.to_string().contains("sink `es`"), "{err}");
        assert!(err.to_string().contains("`index`"), "{err}");
    }
}
