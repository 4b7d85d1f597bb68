//! Staging one page: drop re-served and out-of-range records, wrap the rest, run the
//! transform chains and write what they keep to every sink. For a source whose records name
//! files (`files`), each new file is fetched and its rows are staged in its place.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::model::SortOrder;
use crate::source::files::{FileRows, FilesError};
use crate::source::{Page, Record, RetryWatch};
use crate::state::Window;
use crate::transform::Envelope;

use super::{out_of_range, FailureKind, PageError, Pipeline, RunError};

/// Rows of a file staged at once: a file's rows go to the sinks in batches of this many, so
/// memory holds the file's bytes and one batch of events, whatever the file's length.
const FILE_BATCH: usize = 5_000;

impl Pipeline<'_> {
    /// [`Pipeline::stage`], its time counted in the report's stages: the sinks' part as
    /// encoding, the rest as transforming.
    pub(super) async fn stage_timed(
        &mut self,
        page: Page,
        listing: &Window,
    ) -> Result<(), PageError> {
        let (began, encoding) = (Instant::now(), self.report.stages.encode);
        let staged = self.stage(page, listing).await;
        let in_sinks = self.report.stages.encode.saturating_sub(encoding);
        self.report.stages.transform += began.elapsed().saturating_sub(in_sinks);
        staged
    }

    /// Drops re-served and out-of-range events, wraps the rest, runs the transform chains
    /// and stages what they keep in every sink.
    pub(super) async fn stage(&mut self, page: Page, listing: &Window) -> Result<(), PageError> {
        let parse_time = Utc::now();
        let source = Arc::clone(&self.source);
        let config = source.config();
        let (order, overlap, capacity) = (
            config.order,
            config.window.overlap,
            config.window.dedup_capacity,
        );
        let frontier = self.pending.high_water;
        let relisting = self.pending.listing.is_some();
        let mut events = Vec::with_capacity(page.records.len());
        let mut letters = Vec::new();
        let commit = self.committed.seq + 1;
        for record in page.records {
            if record.time < listing.start || record.time >= listing.end {
                match out_of_range::reason(record.time, self.pending.listed_from, parse_time) {
                    Some(reason) => {
                        self.report.out_of_range += 1;
                        if self.dead_letter.is_some() {
                            letters.push(out_of_range::letter(
                                record, &self.name, reason, parse_time, commit,
                            ));
                        }
                    }
                    // Left for the window that lists it.
                    None => self.report.out_of_window += 1,
                }
                continue;
            }
            // While a newest-first window is listed again, everything newer than its oldest
            // delivered time was delivered before the cursor expired.
            let above_low = relisting
                && self
                    .pending
                    .window_low
                    .as_ref()
                    .is_some_and(|low| record.time > low.time);
            if above_low || self.pending.already_delivered(record.time, &record.id) {
                self.report.duplicates_dropped += 1;
                continue;
            }
            if order == SortOrder::Ascending && frontier.is_some_and(|hw| record.time < hw) {
                self.report.late_events += 1;
            }
            self.pending.observe(record.time, &record.id, order);
            self.canary_observe(&record);
            if config.files.is_some() {
                // Its rows are the events. The file counts as delivered through its rows.
                self.pending.delivered = self.pending.delivered.saturating_sub(1);
                self.stage_file(record, &page.url, parse_time, commit, &mut letters)
                    .await?;
                continue;
            }
            events.push(Envelope::wrap(record, &self.name, parse_time));
        }
        let forgotten = self
            .pending
            .prune_recent(overlap, capacity, order, listing.start);
        if forgotten > 0 {
            tracing::warn!(source = %self.name, forgotten, capacity, "more events fall in the dedup range than window.dedup_capacity; raise it to keep dedup exact");
        }
        self.pending.page = page.next;
        self.deliver(events, &mut letters, parse_time, commit).await
    }

    /// Fetches the file the listed `file` names and stages its rows, a batch at a time. A file
    /// that cannot be fetched or read fails the page as [`PageError::Incomplete`]: part of the
    /// page is staged, so nothing of it may be committed, and the next run reads it again.
    async fn stage_file(
        &mut self,
        file: Record,
        page_url: &str,
        parse_time: DateTime<Utc>,
        commit: u64,
        letters: &mut Vec<Envelope>,
    ) -> Result<(), PageError> {
        let source = Arc::clone(&self.source);
        let Some(files) = &source.config().files else {
            return Ok(());
        };
        let (url, body) = source
            .fetch_file(&file, &RetryWatch::default())
            .await
            .map_err(|error| {
                PageError::Incomplete(RunError::source(&error).context(format_args!(
                    "the file of record {} listed by {page_url}: ",
                    file.id
                )))
            })?;
        let unreadable = |detail: FilesError| {
            PageError::Incomplete(RunError::new(
                FailureKind::BadResponse,
                format!(
                    "{url}: the file of record {} (listed by {page_url}) is not {:?} as files.format says: {detail}; no row of this page is delivered, and every run stops here until the file can be read",
                    file.id, files.format
                ),
            ))
        };
        let mut rows = FileRows::csv(&body, &file.id, &files.event_time).map_err(&unreadable)?;
        let mut events = Vec::with_capacity(FILE_BATCH.min(body.len() / 64 + 1));
        while let Some(row) = rows.next_row() {
            events.push(Envelope::wrap(
                row.map_err(&unreadable)?,
                &self.name,
                parse_time,
            ));
            if events.len() == FILE_BATCH {
                let batch = std::mem::replace(&mut events, Vec::with_capacity(FILE_BATCH));
                self.pending.delivered += batch.len() as u64;
                self.deliver(batch, letters, parse_time, commit).await?;
            }
        }
        self.pending.delivered += events.len() as u64;
        self.deliver(events, letters, parse_time, commit).await
    }

    /// Runs the transform chains over `events` and writes what they keep to every sink, and
    /// `letters` (then emptied) to the dead-letter queue.
    async fn deliver(
        &mut self,
        mut events: Vec<Envelope>,
        letters: &mut Vec<Envelope>,
        parse_time: DateTime<Utc>,
        commit: u64,
    ) -> Result<(), PageError> {
        let queue = self.dead_letter.is_some();
        if let Some(stage) = &self.transforms {
            let before = events.len();
            events = stage.run_source(
                events,
                &mut self.report,
                queue.then_some(&mut *letters),
                commit,
            );
            // What the source's chain dropped or failed on is passed, not delivered.
            let passed = (before - events.len()) as u64;
            self.pending.delivered = self.pending.delivered.saturating_sub(passed);
        }
        // Only what goes on to the sinks is timed as delivered.
        for event in &events {
            self.timings.event_staged(event.event_time.0, parse_time);
        }
        self.staged_since_commit += events.len() as u64;
        super::super::progress::staged(&self.name, events.len() as u64);
        for (index, sink) in self.sinks.iter_mut().enumerate() {
            let own = self.transforms.as_ref().and_then(|stage| {
                let letters = queue.then_some(&mut *letters);
                stage.run_sink(index, &events, &mut self.report, letters, commit)
            });
            let writing = Instant::now();
            let written = sink.write(own.as_deref().unwrap_or(&events)).await;
            self.report.stages.encode += writing.elapsed();
            written.map_err(|e| PageError::Sink(RunError::sink(&e)))?;
        }
        if let (Some(queue), false) = (self.dead_letter.as_mut(), letters.is_empty()) {
            queue
                .write(letters)
                .await
                .map_err(|e| PageError::Sink(RunError::sink(&e)))?;
            self.letters_staged += letters.len() as u64;
            self.report.dead_lettered += letters.len() as u64;
            letters.clear();
        }
        Ok(())
    }
}
