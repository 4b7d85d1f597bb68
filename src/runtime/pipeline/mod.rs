//! One source's run: fetch a page, drop what was delivered, wrap, stage in every sink, and
//! commit (sinks first, checkpoint last) whenever a sink's batch is ready.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::model::SortOrder;
use crate::sink::{dead_letter, Published, Sink};
use crate::source::config::WindowMode;
use crate::source::{window, HttpSource, Page, SourceError};
use crate::state::{
    window_key, Backfill, BackfillWindow, Checkpoint, Intent, Lease, LeaseOutcome, PageTrail,
    SinkIntent, StateError, StateStore, Window,
};
use crate::timemath::{minus, plus};
use crate::transform::Envelope;

use super::error::{FailureKind, RunError};
use super::listing_guard::{self, ListingGuard};
use super::out_of_range;
use super::refusals::{CommitRefusals, SinkTally};
use super::split;
use super::transforms::{Stage, StepTally};

mod backfill;
mod canary;
mod commit;
#[cfg(test)]
mod commit_tests;
mod lease;
mod position;
mod prefetch;
#[cfg(test)]
mod prefetch_tests;
mod stage;

pub use backfill::{backfill_step, split_backlog, SplitPolicy};
pub use commit::batch_name;
pub(crate) use lease::holder_is_dead;
pub use lease::worker_identity;

/// What a source run did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Source name.
    pub source: String,
    /// Events delivered (committed) in this run.
    pub events: u64,
    /// Events dropped because they were already delivered.
    pub duplicates_dropped: u64,
    /// Events delivered with a time behind the high-water mark: late arrivals that the
    /// window overlap caught.
    pub late_events: u64,
    /// Records outside the requested time range, left for the window that covers them.
    pub out_of_window: u64,
    /// Records dated where no window of the source will ever list them (before its first
    /// window, or more than a day ahead of the clock): dead-lettered when a queue is
    /// configured, otherwise only counted (see `out_of_range.rs`).
    pub out_of_range: u64,
    /// Times a saved page reference was rejected and the window was listed again from its
    /// time anchor.
    pub relists: u64,
    /// Pages fetched.
    pub pages: u64,
    /// Objects published.
    pub objects: u64,
    /// Bytes published.
    pub bytes: u64,
    /// Events refused by a sink and kept in the dead-letter queue.
    pub dead_lettered: u64,
    /// Events a transform step dropped (a sink's chain: for that sink only).
    pub transform_dropped: u64,
    /// Events a transform step failed on: in the dead-letter queue when one is configured,
    /// else dropped and logged.
    pub transform_failed: u64,
    /// What each transform step dropped and failed on (every step of the source's chains).
    pub steps: Vec<StepTally>,
    /// What each sink was offered and refused in this run.
    pub sinks: Vec<SinkTally>,
    /// Events that at least one sink refused (they are in the dead-letter queue, not
    /// delivered to every sink).
    pub refused_events: u64,
    /// Why the run did nothing (another worker held the source), if it did nothing.
    pub skipped: Option<String>,
    /// Seconds the run took.
    pub seconds: f64,
    /// The committed high-water event time at the end.
    pub high_water: Option<DateTime<Utc>>,
    /// Whether work remains (a page cap or a stop request ended the run early).
    pub more_pending: bool,
    /// The error that stopped the run, if any.
    pub error: Option<RunError>,
    /// The active canary's record as committed at the end, for a run of a source's own key
    /// with a canary.
    pub canary: Option<crate::state::canary::CanaryState>,
    /// Where the run's time went, stage by stage (`sluice bench` prints it).
    pub stages: StageTimes,
}

/// Where a run's time went, summed over its pages and commits: an `Instant` per page and per
/// commit, never per event. Fetching and parsing the next page overlap the rest (see
/// `prefetch.rs`), so the stages do not add up to the run's seconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    /// Time the page loop waited for pages: the part of fetching (and parsing) that
    /// processing the previous page did not hide.
    pub fetch_wait: Duration,
    /// Time spent reading pages: finding the records in the body and each one's time and id
    /// (on the fetching task, overlapping the rest when the page was prefetched).
    pub parse: Duration,
    /// Time spent dropping re-served records, wrapping events and running transform chains.
    pub transform: Duration,
    /// Time the sinks took to take the events (a lake encodes lines here and hands full
    /// members to compression threads).
    pub encode: Duration,
    /// Time spent committing: sinks prepare (a lake waits for its compression threads and
    /// writes its objects), the intent, publishing and the checkpoint.
    pub commit: Duration,
}

impl StageTimes {
    /// Adds `other`'s times to these (the reports of several workers).
    pub fn add(&mut self, other: &StageTimes) {
        self.fetch_wait += other.fetch_wait;
        self.parse += other.parse;
        self.transform += other.transform;
        self.encode += other.encode;
        self.commit += other.commit;
    }
}

/// Everything a source run needs.
pub struct Pipeline<'a> {
    source: Arc<HttpSource>,
    /// The state key worked: the source's name, or one of its backfill windows.
    key: String,
    /// Backfill windows: the window (its key's checkpoint starts at its start and ends at
    /// its end) and the ids to drop at its start.
    backfill_window: Option<(BackfillWindow, crate::state::DedupSet)>,
    /// Sources: how to split a backlog among workers, if at all.
    split: Option<SplitPolicy>,
    /// Sources: told once backfills are planned, so workers can start on their windows.
    organized: Option<tokio::sync::watch::Sender<bool>>,
    /// Only plan backfills (move their frontiers), then stop.
    organize_only: bool,
    sinks: Vec<Box<dyn Sink>>,
    /// Where events the sinks refuse go, if configured.
    dead_letter: Option<Box<dyn Sink>>,
    /// The transform chains of the source and its sinks, if any has a step.
    transforms: Option<Arc<Stage>>,
    /// Who this worker is, for leases.
    holder: String,
    /// The lease on the source while the run works it.
    lease: Option<Lease>,
    /// How long a lease lasts without renewal.
    lease_ttl: Duration,
    /// When the lease was last renewed.
    renewed: Instant,
    /// When the checkpoint was last committed (or the run started).
    last_commit: Instant,
    /// Events staged in the sinks since that commit.
    staged_since_commit: u64,
    /// Dead letters staged in the queue since that commit, outside of sink refusals.
    letters_staged: u64,
    /// A commit intent is recorded and not yet committed: its prepared objects are staged
    /// and must survive until a run publishes them.
    intent_recorded: bool,
    store: &'a dyn StateStore,
    name: Arc<str>,
    /// The last checkpoint known to be durable.
    committed: Checkpoint,
    /// Where the run is: `committed` plus the pages staged since.
    pending: Checkpoint,
    report: RunReport,
    /// The delivery-time breakdown's recorders.
    timings: super::metrics::Timings,
    /// The source's active canary, when this run sends it and watches for its event.
    canary: Option<Arc<crate::source::canary::CanaryConfig>>,
    /// The run's stop request (a signal or `--deadline`), for the waits outside the page
    /// loop.
    stop: CancellationToken,
}

/// Why the page loop stopped.
enum Stop {
    CaughtUp,
    PageCap,
    Cancelled,
}

impl<'a> Pipeline<'a> {
    /// Wires `source` to its `sinks` and the state store.
    pub fn new(
        source: impl Into<Arc<HttpSource>>,
        sinks: Vec<Box<dyn Sink>>,
        store: &'a dyn StateStore,
    ) -> Self {
        let source = source.into();
        let name: Arc<str> = Arc::from(source.config().name.as_str());
        Pipeline {
            key: name.to_string(),
            backfill_window: None,
            split: None,
            organized: None,
            organize_only: false,
            source,
            sinks,
            dead_letter: None,
            transforms: None,
            holder: worker_identity(),
            lease: None,
            lease_ttl: crate::state::DEFAULT_LEASE_TTL,
            renewed: Instant::now(),
            last_commit: Instant::now(),
            staged_since_commit: 0,
            letters_staged: 0,
            intent_recorded: false,
            store,
            report: RunReport {
                source: name.to_string(),
                ..RunReport::default()
            },
            timings: super::metrics::Timings::new(&name),
            name,
            committed: Checkpoint::default(),
            pending: Checkpoint::default(),
            canary: None,
            stop: CancellationToken::new(),
        }
    }

    /// Sets how long the source's lease lasts without renewal.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Works one window of a backfill of the source instead of the source's live tail; `seed`
    /// holds ids to drop at the window's start (see [`Backfill::seed`]).
    pub fn for_backfill_window(
        mut self,
        window: BackfillWindow,
        seed: crate::state::DedupSet,
    ) -> Self {
        self.key = window_key(&self.name, window.backfill, window.range.start);
        self.backfill_window = Some((window, seed));
        self
    }

    /// Splits a backlog of the source into backfill windows when `policy` says so, and moves
    /// the frontiers of backfills in progress, before pulling. `organized` is told when that
    /// is done (or could not be), so workers can start on the windows.
    pub fn with_backfill_planning(
        mut self,
        policy: SplitPolicy,
        organized: tokio::sync::watch::Sender<bool>,
    ) -> Self {
        self.split = Some(policy);
        self.organized = Some(organized);
        self
    }

    /// Only plans: moves backfill frontiers (and splits a backlog), commits, and stops.
    pub fn only_plan(mut self) -> Self {
        self.organize_only = true;
        self
    }

    /// Sends the source's active canary request when it is due, and watches for its event
    /// (scheduled runs of the source's own key).
    pub fn with_canary(mut self, canary: Arc<crate::source::canary::CanaryConfig>) -> Self {
        self.canary = Some(canary);
        self
    }

    /// The state key this pipeline works.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Sends events the sinks refuse to `queue` (without one, a refusal fails the run).
    pub fn with_dead_letter(mut self, queue: Box<dyn Sink>) -> Self {
        self.dead_letter = Some(queue);
        self
    }

    /// Runs `stage`'s chains over every page before it is staged.
    pub fn with_transforms(mut self, stage: Arc<Stage>) -> Self {
        self.report.steps = stage.tallies();
        self.transforms = Some(stage);
        self
    }

    /// Runs until the source is caught up to the horizon (`now - settle_delay`), the page cap
    /// is hit, `cancel` fires, or something fails. Never returns an error: failures are in the
    /// report, and whatever was fully processed before a source failure is committed.
    pub async fn run(mut self, cancel: CancellationToken) -> RunReport {
        let started = Instant::now();
        self.stop = cancel.clone();
        let result = self.run_inner(&cancel).await;
        match result {
            Err(error) if error.kind() == FailureKind::HandedOver => {
                // Not a failure of the source: the new owner carries on from the last commit.
                tracing::warn!(source = %self.name, reason = %error, "lease taken over by another worker; this run stops");
                self.report.skipped = Some(error.to_string());
            }
            Err(error) => self.report.error = Some(error),
            Ok(()) => {}
        }
        if self.report.out_of_range > 0 {
            let kept = if self.dead_letter.is_some() {
                "they are kept in the dead-letter queue with the reason (`sluice dlq list`)"
            } else {
                "they are dropped: add a [dead_letter] queue to keep them"
            };
            tracing::warn!(source = %self.name, out_of_range = self.report.out_of_range, "records dated where no window of this source will list them (before its first window, or more than a day ahead of the clock): {kept}");
        }
        super::transforms::warn_failures(
            &self.name,
            &self.report.steps,
            self.dead_letter.is_some(),
        );
        if let Some(organized) = self.organized.take() {
            // Workers waiting for the plan go on with what is stored, whatever happened here.
            organized.send_replace(true);
        }
        // The sinks go first: a local lake's lock is held while its sink exists, and the next
        // holder of the lease must find it free.
        self.sinks.clear();
        self.dead_letter = None;
        if let Some(lease) = self.lease.take() {
            if let Err(err) = self.store.release_lease(&lease).await {
                tracing::warn!(source = %self.name, error = %err, "could not release the lease; it lapses on its own");
            }
        }
        self.report.seconds = started.elapsed().as_secs_f64();
        self.report.high_water = self.committed.high_water;
        if self.canary.is_some() && self.backfill_window.is_none() {
            self.report.canary = Some(self.committed.canary.clone());
        }
        self.report
    }

    async fn run_inner(&mut self, cancel: &CancellationToken) -> Result<(), RunError> {
        if !self.take_lease().await? {
            return Ok(());
        }
        self.recover().await?;
        let mut horizon = window::horizon(Utc::now(), &self.source.config().window);
        if self.split.is_some() {
            self.plan_backfills(horizon).await?;
            if let Some(organized) = self.organized.take() {
                organized.send_replace(true);
            }
            if self.organize_only {
                return Ok(());
            }
        }
        if let Some((window, _)) = &self.backfill_window {
            horizon = horizon.min(window.range.end);
        }
        // After the horizon is fixed, so the event it causes is listed by a later run rather
        // than appearing behind this run's listing.
        self.canary_request().await;
        let pulled = if self.source.config().window.mode == WindowMode::Position {
            self.pull_positions(cancel).await
        } else {
            self.pull(horizon, cancel).await
        };
        self.canary_check();
        let stop = match pulled {
            Ok(stop) => stop,
            Err(PageError::Source(error)) => {
                // Pages before the failing one were fully processed: keep them.
                if let Err(commit) = self.commit().await {
                    return Err(error.and(format_args!(
                        "; and committing the pages before it failed: {commit}"
                    )));
                }
                return Err(error);
            }
            Err(PageError::Sink(error)) if self.intent_recorded => {
                // Publishing a recorded commit failed (e.g. a full disk or a refused write):
                // its prepared objects stay staged, and the next run publishes them before
                // it cleans staging. The checkpoint stays where it was.
                return Err(error);
            }
            Err(PageError::Sink(error) | PageError::Incomplete(error)) => {
                // A sink failed mid-page (or a file of the page could not be read): its staged batch is incomplete, drop it. The
                // checkpoint stays where it was and the next run fetches those pages again.
                for sink in self.sinks.iter_mut().chain(self.dead_letter.iter_mut()) {
                    if let Err(discard) = sink.discard_staged().await {
                        tracing::warn!(source = %self.name, error = %discard, "could not clean staged objects");
                    }
                }
                return Err(error);
            }
        };
        self.commit().await?;
        self.report.more_pending = !matches!(stop, Stop::CaughtUp);
        Ok(())
    }

    async fn pull(
        &mut self,
        horizon: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<Stop, PageError> {
        let config = self.source.config().clone();
        let max_pages = config.http.max_pages;
        // A window is listed again from its anchor at most once per run: a second rejection
        // is not an expired cursor but a broken request.
        let mut relisted: Option<Window> = None;
        let mut guard = ListingGuard::for_source(&config);
        // Windows planned in this run: shorter than `max_window` once an API without
        // pagination answered a full page, so later windows do not split all over again.
        let mut planning = split::Planning::new(&config.window);
        // The next page, being fetched while this one is processed (dropped, and so aborted,
        // whenever the loop ends).
        let mut ahead: Option<prefetch::Prefetch> = None;
        loop {
            if cancel.is_cancelled() {
                return Ok(Stop::Cancelled);
            }
            if max_pages > 0 && self.report.pages >= max_pages {
                return Ok(Stop::PageCap);
            }
            let Some(window) = window::next_window(&self.pending, planning.window(), horizon)
            else {
                return Ok(Stop::CaughtUp);
            };
            self.keep_lease().await.map_err(PageError::Sink)?;
            let listing = self.pending.listing.unwrap_or(window);
            let page_ref = self.pending.page.clone();
            let asked = Instant::now();
            let fetched = match prefetch::fetch(
                &self.source,
                &listing,
                page_ref.as_ref(),
                ahead.take(),
                cancel,
            )
            .await
            {
                prefetch::Fetch::Answer(page) => page,
                prefetch::Fetch::Stopped(stop) => return stop,
            };
            self.report.stages.fetch_wait += asked.elapsed();
            let page = match fetched {
                Ok(page) => page,
                Err(error @ SourceError::ForeignOrigin { .. }) if page_ref.is_some() => {
                    // Only a checkpoint written by an older Sluice holds a refused link (it is
                    // never saved now): list the window again from its time anchor.
                    tracing::warn!(source = %self.name, error = %error, "the saved next page is outside the configured origin; listing the window again from its time anchor");
                    self.relist(window, config.order);
                    self.report.relists += 1;
                    continue;
                }
                Err(error)
                    if page_ref.is_some()
                        && error.is_rejected_request()
                        && relisted != Some(window) =>
                {
                    tracing::warn!(source = %self.name, error = %error, "the API rejected the saved page reference (expired cursor?); listing the window again from its time anchor");
                    self.relist(window, config.order);
                    self.report.relists += 1;
                    relisted = Some(window);
                    continue;
                }
                Err(error) => return Err(PageError::Source(RunError::source(&error))),
            };
            self.report.pages += 1;
            self.report.stages.parse += page.parse;
            let answered = Instant::now();
            self.timings.page_received(page.records.len());
            if let Some(half) = self.split_if_full(&page, &listing)? {
                planning.narrow(&half, self.pending.anchor);
                continue;
            }
            planning.widen(&config, page.records.len());
            self.check_page(&page, &listing, window, page_ref.is_none(), &mut guard)?;
            if self.pending.anchor.is_none() && self.backfill_window.is_none() {
                // The source's first window: nothing before it is ever listed.
                self.pending.listed_from.get_or_insert(window.start);
            }
            guard.record(&page, &mut self.pending.trail);
            let window_done = page.next.is_none();
            // The next page of this window is asked for while this one is staged; the next
            // window's first page depends on what this one delivers (its anchor).
            ahead = self.prefetch(&listing, &page);
            self.stage_timed(page, &listing).await?;
            self.timings.page_processed(answered.elapsed());
            self.pending.window = Some(window);
            if window_done {
                let mut after = window::anchor_after_listing(
                    &window,
                    self.pending.high_water,
                    self.pending.anchor,
                    &config.window.format,
                );
                if let Some((backfill, _)) = &self.backfill_window {
                    // A backfill window lies wholly in the past: once listed to its end it is
                    // finished (no event can still arrive at its high-water time).
                    if window.end >= backfill.range.end {
                        after = backfill.range.end;
                    }
                }
                self.pending.anchor = Some(self.pending.anchor.map_or(after, |a| a.max(after)));
                self.pending.window = None;
                self.pending.listing = None;
                self.pending.page = None;
                self.pending.window_low = None;
                self.pending.trail = PageTrail::default();
            }
            // Pages without events (a backfill through quiet windows) give sinks nothing to
            // roll, so their progress is committed on a timer; a crash then repeats seconds of
            // listing, not hours.
            let idle_progress =
                self.staged_since_commit == 0 && self.last_commit.elapsed() >= IDLE_COMMIT_INTERVAL;
            if idle_progress || self.sinks.iter().any(|s| s.wants_commit()) {
                self.commit().await.map_err(PageError::Sink)?;
            }
            // The window that reached the horizon is the run's last: listing again from its
            // high-water time would only re-read what was just delivered.
            if window_done && window.end >= horizon {
                return Ok(Stop::CaughtUp);
            }
        }
    }

    /// Starts fetching the page after `page` of `listing`, when it has one and the page cap
    /// leaves room for it. Called once `page` is checked (its next link is in the origin and
    /// does not repeat the listing) and before it is staged.
    fn prefetch(&self, listing: &Window, page: &Page) -> Option<prefetch::Prefetch> {
        let max_pages = self.source.config().http.max_pages;
        if max_pages > 0 && self.report.pages >= max_pages {
            return None;
        }
        let next = page.next.clone()?;
        Some(prefetch::Prefetch::start(&self.source, *listing, next))
    }

    /// An API without pagination has no way to serve the rest of a full page (as many
    /// records as `page_size`): the page is dropped and the window becomes its first half,
    /// listed next; the second half is planned once that is delivered. `Err` when the window
    /// is already as short as the request format can write.
    fn split_if_full(
        &mut self,
        page: &Page,
        listing: &Window,
    ) -> Result<Option<Window>, PageError> {
        let config = self.source.config();
        if !split::is_full(config, &page.records, listing) {
            return Ok(None);
        }
        let Some(half) = window::first_part(
            listing,
            self.pending.anchor,
            &config.window.format,
            split::complete_until(config, &page.records),
        ) else {
            return Err(PageError::Source(RunError::new(FailureKind::BadResponse, format!(
                "{}: a full page ({} records, page_size = {}) for the window {} .. {}, which is as short as window.format can write; the API holds more events there than one answer carries and has no pagination to ask for the rest (hint: raise page_size and the limit sent, up to the API's maximum)",
                page.url,
                page.records.len(),
                config.page_size.unwrap_or_default(),
                crate::timefmt::rfc3339_millis(listing.start),
                crate::timefmt::rfc3339_millis(listing.end),
            ))));
        };
        tracing::info!(
            source = %self.name,
            records = page.records.len(),
            from = %crate::timefmt::rfc3339_millis(half.start),
            to = %crate::timefmt::rfc3339_millis(half.end),
            "a full page without pagination: listing the window again in parts (halves, or up to the latest record of an oldest-first answer)"
        );
        self.pending.window = Some(half);
        self.pending.listing = None;
        self.pending.page = None;
        self.pending.trail = PageTrail::default();
        Ok(Some(half))
    }

    /// Narrows the window in progress to what is not yet delivered, and lists it from its
    /// first page: ascending windows from `high-water - overlap` (the ids there are
    /// remembered), newest-first windows up to and including the oldest time delivered.
    fn relist(&mut self, window: Window, order: SortOrder) {
        let listing = self.pending.listing.unwrap_or(window);
        let overlap = self.source.config().window.overlap;
        let narrowed = match (order, self.pending.high_water, &self.pending.window_low) {
            (SortOrder::Ascending, Some(hw), _) if minus(hw, overlap) > listing.start => Window {
                start: minus(hw, overlap).min(listing.end),
                end: listing.end,
            },
            (SortOrder::NewestFirst, _, Some(low)) => Window {
                start: listing.start,
                end: plus(low.time, std::time::Duration::from_millis(1)).min(listing.end),
            },
            _ => listing,
        };
        self.pending.listing = Some(narrowed);
        self.pending.page = None;
        self.pending.trail = PageTrail::default();
    }

    /// Refuses a page, before anything of it is staged, when its next link leaves the
    /// configured origin (the link is never saved: the window is listed again from its time
    /// anchor next run) or when it repeats what this listing already served (see
    /// `listing_guard`). The checkpoint stays where the last processed page left it.
    fn check_page(
        &mut self,
        page: &Page,
        listing: &Window,
        window: Window,
        first_page: bool,
        guard: &mut ListingGuard,
    ) -> Result<(), PageError> {
        let order = self.source.config().order;
        if first_page {
            guard.reset();
            self.pending.trail = PageTrail::default();
        } else {
            guard.resume(&self.pending.trail);
        }
        let next = match &page.next {
            None => None,
            Some(next) => match self.source.next_request(listing, next) {
                Ok(digest) => Some(digest),
                Err(error @ SourceError::ForeignOrigin { .. }) => {
                    if !first_page {
                        self.relist(window, order);
                    }
                    return Err(PageError::Source(RunError::new(FailureKind::BadResponse, format!(
                        "{}: {error}; the link was not saved, and the next run lists the window again from its time anchor (hint: if the API moved, set base_url to its new origin)",
                        page.url
                    ))));
                }
                Err(error) => {
                    return Err(PageError::Source(
                        RunError::source(&error).context(format_args!("{}: ", page.url)),
                    ))
                }
            },
        };
        guard.check(page, next, order).map_err(|found| {
            PageError::Source(RunError::new(
                FailureKind::BadResponse,
                listing_guard::describe(&found, page, guard.pages() + 1, self.source.config()),
            ))
        })
    }
}

/// How often progress through pages without events is committed.
const IDLE_COMMIT_INTERVAL: Duration = Duration::from_secs(2);

enum PageError {
    /// The API or its data failed: what is staged so far is sound.
    Source(RunError),
    /// A sink failed: what is staged is not.
    Sink(RunError),
    /// The API or its data failed part-way through a page whose records name files: what
    /// is staged holds part of the page, so it is dropped like a sink's failed batch.
    Incomplete(RunError),
}
