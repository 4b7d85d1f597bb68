//! One source's run: fetch a page, drop what was delivered, wrap, stage in every sink, and
//! commit (sinks first, checkpoint last) whenever a sink's batch is ready.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::model::SortOrder;
use crate::sink::{dead_letter, Published, Sink};
use crate::source::{window, HttpSource, Page, RetryWatch, SourceError};
use crate::state::{
    window_key, Backfill, BackfillWindow, Checkpoint, Intent, Lease, LeaseOutcome, PageTrail,
    SinkIntent, StateError, StateStore, Window,
};
use crate::timemath::{minus, plus};
use crate::transform::Envelope;

use super::listing_guard::{self, ListingGuard};
use super::out_of_range;
use super::refusals::{CommitRefusals, SinkTally};
use super::split;

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
    pub error: Option<String>,
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
            name,
            committed: Checkpoint::default(),
            pending: Checkpoint::default(),
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

    /// The state key this pipeline works.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Sends events the sinks refuse to `queue` (without one, a refusal fails the run).
    pub fn with_dead_letter(mut self, queue: Box<dyn Sink>) -> Self {
        self.dead_letter = Some(queue);
        self
    }

    /// Runs until the source is caught up to the horizon (`now - settle_delay`), the page cap
    /// is hit, `cancel` fires, or something fails. Never returns an error: failures are in the
    /// report, and whatever was fully processed before a source failure is committed.
    pub async fn run(mut self, cancel: CancellationToken) -> RunReport {
        let started = Instant::now();
        let result = self.run_inner(&cancel).await;
        if let Err(error) = result {
            self.report.error = Some(error);
        }
        if self.report.out_of_range > 0 {
            let kept = if self.dead_letter.is_some() {
                "they are kept in the dead-letter queue with the reason (`sluice dlq list`)"
            } else {
                "they are dropped: add a [dead_letter] queue to keep them"
            };
            tracing::warn!(source = %self.name, out_of_range = self.report.out_of_range, "records dated where no window of this source will list them (before its first window, or more than a day ahead of the clock): {kept}");
        }
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
        self.report
    }

    async fn run_inner(&mut self, cancel: &CancellationToken) -> Result<(), String> {
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
        let stop = match self.pull(horizon, cancel).await {
            Ok(stop) => stop,
            Err(PageError::Source(error)) => {
                // Pages before the failing one were fully processed: keep them.
                self.commit().await.map_err(|commit| {
                    format!("{error}; and committing the pages before it failed: {commit}")
                })?;
                return Err(error);
            }
            Err(PageError::Sink(error)) if self.intent_recorded => {
                // Publishing a recorded commit failed (e.g. a full disk or a refused write):
                // its prepared objects stay staged, and the next run publishes them before
                // it cleans staging. The checkpoint stays where it was.
                return Err(error);
            }
            Err(PageError::Sink(error)) => {
                // A sink failed mid-page: its staged batch is incomplete, drop it. The
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

    /// Claims the source for this run. `false` when another worker holds it: this run then
    /// does nothing and ends cleanly.
    async fn take_lease(&mut self) -> Result<bool, String> {
        let outcome = self
            .store
            .acquire_lease(&self.key, &self.holder, self.lease_ttl)
            .await
            .map_err(|e| e.to_string())?;
        match outcome {
            LeaseOutcome::Acquired(lease) => {
                self.lease = Some(lease);
                self.renewed = Instant::now();
                Ok(true)
            }
            LeaseOutcome::HeldBy {
                holder,
                token,
                until,
            } if holder_is_dead(&holder) => {
                // A crashed run on this host (kill -9, OOM) left its lease behind: free it
                // rather than wait out the TTL. Its commits are fenced by the new token.
                tracing::info!(source = %self.name, holder = %holder, "taking over the lease of a process that no longer runs");
                let stale = Lease {
                    source: self.key.clone(),
                    holder,
                    token,
                    expires_at: until,
                };
                self.store
                    .release_lease(&stale)
                    .await
                    .map_err(|e| e.to_string())?;
                Box::pin(self.take_lease()).await
            }
            LeaseOutcome::HeldBy { holder, until, .. } => {
                self.report.skipped = Some(format!(
                    "another worker ({holder}) holds this source until {}",
                    crate::timefmt::rfc3339_millis(until)
                ));
                Ok(false)
            }
        }
    }

    /// Renews the lease once a third of its time has passed, so a live worker never loses it
    /// and a paused one loses it within `lease_ttl`.
    async fn keep_lease(&mut self) -> Result<(), String> {
        let Some(lease) = &self.lease else {
            return Ok(());
        };
        if self.renewed.elapsed() < self.lease_ttl / 3 {
            return Ok(());
        }
        match self.store.renew_lease(lease, self.lease_ttl).await {
            Ok(renewed) => {
                self.lease = Some(renewed);
                self.renewed = Instant::now();
                Ok(())
            }
            // The lease still runs for a while: try again at the next page. Commits are
            // fenced, so even a lease lost meanwhile cannot commit over a new owner.
            Err(err @ StateError::Backend { .. })
                if self.renewed.elapsed() < self.lease_ttl * 2 / 3 =>
            {
                tracing::warn!(source = %self.name, error = %err, "could not renew the lease; retrying at the next page");
                Ok(())
            }
            Err(err) => Err(err.to_string()),
        }
    }

    /// The fencing token every state write carries.
    fn fence(&self) -> u64 {
        self.lease.as_ref().map_or(0, |l| l.token)
    }

    /// Finishes a commit a crashed run left half done, then clears leftover staging.
    async fn recover(&mut self) -> Result<(), String> {
        let state = self
            .store
            .load(&self.key)
            .await
            .map_err(|e| e.to_string())?;
        if self.backfill_window.is_none() && state.checkpoint.seq == 0 && state.intent.is_none() {
            self.refuse_if_published_before().await?;
        }
        self.committed = state.checkpoint;
        if let Some(intent) = state.intent {
            tracing::info!(source = %self.name, commit = intent.next.seq, "finishing a commit interrupted by a crash");
            self.publish(&intent).await?;
            // Waits out an unreachable store like any commit: this roll-forward runs first
            // thing, often while the store that just failed is still coming back.
            self.commit_checkpoint(&intent.next).await?;
            self.committed = intent.next;
        }
        for sink in self.sinks.iter_mut().chain(self.dead_letter.iter_mut()) {
            sink.discard_staged().await.map_err(|e| e.to_string())?;
        }
        self.pending = self.committed.clone();
        if let Some((window, seed)) = &self.backfill_window {
            if self.committed.until.is_none() {
                // A window nobody worked yet (or reset by `sluice state reset`): it starts (and stays) at its start, and ends at
                // its end.
                self.pending.anchor = Some(window.range.start);
                self.pending.floor = Some(window.range.start);
                self.pending.until = Some(window.range.end);
                self.pending.recent = seed.clone();
            }
        }
        Ok(())
    }

    /// A source the state store knows nothing of must not start over a lake that already
    /// holds its objects: that happens when the state store was lost or replaced, and
    /// starting again from the lookback would deliver every event a second time. The run
    /// fails, pointing to `sluice state recover --from-lake`.
    async fn refuse_if_published_before(&mut self) -> Result<(), String> {
        for sink in &mut self.sinks {
            let found = sink.published_before().await.map_err(|e| e.to_string())?;
            if let Some(found) = found {
                return Err(format!(
                    "source `{name}`: the state store has no checkpoint for it, but {found}; starting from the lookback would deliver its events again. If the state store was lost or replaced, rebuild the checkpoint from the lake with `sluice state recover --from-lake --source {name}`, then run again (hint: to deliver everything again on purpose, move the source's objects out of the lake first)",
                    name = self.name
                ));
            }
        }
        Ok(())
    }

    /// Moves the frontier of each backfill in progress over its finished windows (dropping
    /// finished backfills), then splits a new backlog into windows if the policy asks for
    /// it; commits the plan.
    async fn plan_backfills(&mut self, horizon: DateTime<Utc>) -> Result<(), String> {
        let Some(policy) = self.split else {
            return Ok(());
        };
        if !self.pending.backfills.is_empty() {
            let finished = crate::state::finished_windows(self.store, &self.name)
                .await
                .map_err(|e| e.to_string())?;
            let name = self.name.clone();
            for backfill in &mut self.pending.backfills {
                backfill
                    .advance(|w| finished.contains(&window_key(&name, w.backfill, w.range.start)));
            }
            self.pending.backfills.retain(|b| !b.is_done());
        }
        if policy.workers > 1 {
            let config = self.source.config();
            if let Some(backfill) =
                split_backlog(&self.pending, &config.window, horizon, policy.step)
            {
                tracing::info!(
                    source = %self.name,
                    from = %crate::timefmt::rfc3339_millis(backfill.from),
                    to = %crate::timefmt::rfc3339_millis(backfill.to),
                    windows = backfill.windows().count(),
                    workers = policy.workers,
                    "backlog split into backfill windows for parallel workers"
                );
                if self.pending.anchor.is_none() {
                    // The source's first listing starts with this backfill.
                    self.pending.listed_from.get_or_insert(backfill.from);
                }
                self.pending.anchor = Some(backfill.to);
                self.pending.floor = Some(backfill.to);
                self.pending.backfills.push(Backfill {
                    // The commit below records it.
                    id: self.committed.seq + 1,
                    ..backfill
                });
            }
        }
        self.commit().await
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
        let mut guard = ListingGuard::default();
        // Windows planned in this run: shorter than `max_window` once an API without
        // pagination answered a full page, so later windows do not split all over again.
        let mut planning = split::Planning::new(&config.window);
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
            let watch = RetryWatch::default();
            let fetched = tokio::select! {
                page = self.source.fetch_watched(&listing, page_ref.as_ref(), &watch) => page,
                // Stopped (deadline or signal) while the request was failing and being
                // retried: that is an outage, and the run reports it.
                () = cancel.cancelled() => return match watch.failing() {
                    Some(error) => Err(PageError::Source(format!(
                        "{error} (the run was stopped while this request was being retried; the API is failing, so the run is too)"
                    ))),
                    None => Ok(Stop::Cancelled),
                },
            };
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
                Err(error) => return Err(PageError::Source(error.to_string())),
            };
            self.report.pages += 1;
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
            self.stage(page, &listing).await?;
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
            return Err(PageError::Source(format!(
                "{}: a full page ({} records, page_size = {}) for the window {} .. {}, which is as short as window.format can write; the API holds more events there than one answer carries and has no pagination to ask for the rest (hint: raise page_size and the limit sent, up to the API's maximum)",
                page.url,
                page.records.len(),
                config.page_size.unwrap_or_default(),
                crate::timefmt::rfc3339_millis(listing.start),
                crate::timefmt::rfc3339_millis(listing.end),
            )));
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
                    return Err(PageError::Source(format!(
                        "{}: {error}; the link was not saved, and the next run lists the window again from its time anchor (hint: if the API moved, set base_url to its new origin)",
                        page.url
                    )));
                }
                Err(error) => return Err(PageError::Source(format!("{}: {error}", page.url))),
            },
        };
        guard.check(page, next, order).map_err(|found| {
            PageError::Source(listing_guard::describe(
                &found,
                page,
                guard.pages() + 1,
                self.source.config(),
            ))
        })
    }

    /// Drops re-served and out-of-range events, wraps the rest and stages them in every sink.
    async fn stage(&mut self, page: Page, listing: &Window) -> Result<(), PageError> {
        let parse_time = Utc::now();
        let config = self.source.config();
        let (order, overlap, capacity) = (
            config.order,
            config.window.overlap,
            config.window.dedup_capacity,
        );
        let frontier = self.pending.high_water;
        let relisting = self.pending.listing.is_some();
        let mut events = Vec::with_capacity(page.records.len());
        let mut letters = Vec::new();
        for record in page.records {
            if record.time < listing.start || record.time >= listing.end {
                match out_of_range::reason(record.time, self.pending.listed_from, parse_time) {
                    Some(reason) => {
                        self.report.out_of_range += 1;
                        if self.dead_letter.is_some() {
                            letters.push(out_of_range::letter(
                                record,
                                &self.name,
                                reason,
                                parse_time,
                                self.committed.seq + 1,
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
            events.push(Envelope::wrap(record, &self.name, parse_time));
        }
        let forgotten = self
            .pending
            .prune_recent(overlap, capacity, order, listing.start);
        if forgotten > 0 {
            tracing::warn!(source = %self.name, forgotten, capacity, "more events fall in the dedup range than window.dedup_capacity; raise it to keep dedup exact");
        }
        self.pending.page = page.next;
        self.staged_since_commit += events.len() as u64;
        for sink in &mut self.sinks {
            sink.write(&events)
                .await
                .map_err(|e| PageError::Sink(e.to_string()))?;
        }
        if let (Some(queue), false) = (self.dead_letter.as_mut(), letters.is_empty()) {
            queue
                .write(&letters)
                .await
                .map_err(|e| PageError::Sink(e.to_string()))?;
            self.letters_staged += letters.len() as u64;
            self.report.dead_lettered += letters.len() as u64;
        }
        Ok(())
    }

    /// Commits everything staged: sinks prepare, the intent is recorded, sinks publish, and
    /// only then does the checkpoint move.
    async fn commit(&mut self) -> Result<(), String> {
        if self.pending == self.committed {
            return Ok(());
        }
        let mut next = self.pending.clone();
        next.seq = self.committed.seq + 1;
        next.committed_at = Some(Utc::now());
        let batch = batch_name(self.store.store_id(), &self.key, &self.committed);
        let mut sinks = Vec::new();
        let mut letters = Vec::new();
        let mut refusals = CommitRefusals::default();
        for sink in &mut self.sinks {
            if let Some(payload) = sink.prepare(&batch).await.map_err(|e| e.to_string())? {
                sinks.push(SinkIntent {
                    sink: sink.name().to_string(),
                    payload,
                });
            }
            let name = sink.name().to_string();
            let rejected = sink.take_rejected();
            refusals.note(&name, sink.fail_when_refused(), &rejected);
            letters.extend(
                rejected
                    .into_iter()
                    .map(|r| dead_letter::wrap(r, &name, next.seq)),
            );
        }
        if !letters.is_empty() || self.letters_staged > 0 {
            sinks.extend(self.dead_letter(&letters, &batch).await?);
        }
        if !sinks.is_empty() {
            let intent = Intent {
                base_seq: self.committed.seq,
                next: next.clone(),
                sinks,
            };
            // Set before the state store answers: a failed `prepare` may still have
            // recorded the intent, and keeping staged objects is always safe (the next run
            // publishes them, or cleans them when no intent was recorded).
            self.intent_recorded = true;
            self.store
                .prepare(&self.key, &intent, self.fence())
                .await
                .map_err(|e| e.to_string())?;
            self.publish(&intent).await?;
        }
        self.keep_lease().await?;
        self.commit_checkpoint(&next).await?;
        self.intent_recorded = false;
        let offered = next.delivered - self.committed.delivered;
        self.report.events += offered;
        self.report.refused_events += refusals.settle(offered, &mut self.report.sinks);
        tracing::debug!(source = %self.name, commit = next.seq, delivered = next.delivered, "checkpoint committed");
        self.committed = next;
        self.pending.seq = self.committed.seq;
        self.pending.committed_at = self.committed.committed_at;
        self.last_commit = Instant::now();
        self.staged_since_commit = 0;
        Ok(())
    }

    /// Moves the checkpoint to `next`, waiting out a state store that is briefly unreachable.
    /// A write whose reply was lost may have landed: a retry that finds exactly `next`
    /// stored counts as done, so nothing is committed (or published) twice.
    async fn commit_checkpoint(&mut self, next: &Checkpoint) -> Result<(), String> {
        let mut delays = crate::state::retry::backoff();
        let mut unsure = false;
        loop {
            match self.store.commit(&self.key, next, self.fence()).await {
                Ok(()) => return Ok(()),
                Err(StateError::Conflict { found, .. }) if unsure && found == next.seq => {
                    let stored = self
                        .store
                        .load(&self.key)
                        .await
                        .map_err(|e| e.to_string())?;
                    if stored.checkpoint == *next && stored.intent.is_none() {
                        return Ok(());
                    }
                    return Err(format!(
                        "source `{}`: commit {} was made by another worker while the state store was unreachable; this worker stops without committing",
                        self.name, next.seq
                    ));
                }
                Err(err @ StateError::Backend { .. }) => {
                    self.store_pause(err, &mut delays).await?;
                    unsure = true;
                }
                Err(err) => return Err(err.to_string()),
            }
        }
    }

    /// Waits before retrying a state write that failed because the store is unreachable; an
    /// error once the retries are used up.
    async fn store_pause(
        &mut self,
        err: StateError,
        delays: &mut impl Iterator<Item = Duration>,
    ) -> Result<(), String> {
        let Some(delay) = delays.next() else {
            return Err(format!(
                "{err} (gave up after retrying for {}s; nothing past the last commit was recorded, the next run resumes there)",
                crate::state::retry::RETRY_FOR.as_secs()
            ));
        };
        tracing::warn!(source = %self.name, error = %err, retry_in_ms = delay.as_millis() as u64, "state store unreachable; commits wait for it");
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// Stages refused events in the dead-letter queue and prepares the queue's batch (with
    /// any dead letters staged since the last commit), as part of the commit being made.
    async fn dead_letter(
        &mut self,
        letters: &[Envelope],
        batch: &str,
    ) -> Result<Option<SinkIntent>, String> {
        let first = letters
            .first()
            .and_then(|letter| letter.data.to_value().ok())
            .and_then(|data| data["error"].as_str().map(str::to_string))
            .unwrap_or_default();
        let queue = match self.dead_letter.as_mut() {
            Some(queue) => queue,
            None if letters.is_empty() => return Ok(None),
            None => return Err(format!(
                "{} events were refused by a sink (first: {first}) and no [dead_letter] queue is configured; the checkpoint was not moved (hint: add [dead_letter] path = \"dead-letter\" to keep them, then run again)",
                letters.len()
            )),
        };
        if !letters.is_empty() {
            tracing::warn!(source = %self.name, events = letters.len(), first_error = %first, "events refused by a sink go to the dead-letter queue");
            queue.write(letters).await.map_err(|e| e.to_string())?;
            self.report.dead_lettered += letters.len() as u64;
        }
        self.letters_staged = 0;
        let payload = queue.prepare(batch).await.map_err(|e| e.to_string())?;
        Ok(payload.map(|payload| SinkIntent {
            sink: dead_letter::SINK_NAME.to_string(),
            payload,
        }))
    }

    async fn publish(&mut self, intent: &Intent) -> Result<(), String> {
        for part in &intent.sinks {
            let sink = self
                .sinks
                .iter_mut()
                .chain(self.dead_letter.iter_mut())
                .find(|s| s.name() == part.sink)
                .ok_or_else(|| {
                    format!(
                        "an interrupted commit needs sink `{}`, which the config no longer lists for this source; put it back for one run so the commit can finish",
                        part.sink
                    )
                })?;
            let Published { objects, bytes } = sink
                .publish(&part.payload)
                .await
                .map_err(|e| e.to_string())?;
            self.report.objects += objects;
            self.report.bytes += bytes;
        }
        Ok(())
    }
}

/// When a source's backlog is split into backfill windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitPolicy {
    /// Workers that will take the windows; below 2 nothing is split.
    pub workers: usize,
    /// Length of each window.
    pub step: Duration,
}

/// The backfill a backlog splits into: whole windows of `step` from where the source's next
/// window would start, up to the last whole window before `horizon` (the tail keeps the
/// rest). `None` when a window is in progress or fewer than two whole windows are behind.
pub fn split_backlog(
    checkpoint: &Checkpoint,
    config: &crate::config::WindowConfig,
    horizon: DateTime<Utc>,
    step: Duration,
) -> Option<Backfill> {
    if checkpoint.window.is_some() || checkpoint.page.is_some() || checkpoint.listing.is_some() {
        return None;
    }
    let from = window::next_window(checkpoint, config, horizon)?.start;
    let step_chrono = chrono::Duration::from_std(step).ok()?;
    // Inner window bounds are whole seconds from the second `from` falls in (see
    // `Backfill::windows`), which every request time format can write exactly.
    let base = DateTime::from_timestamp(from.timestamp(), 0)?;
    let whole = (horizon - base).num_milliseconds() / step_chrono.num_milliseconds().max(1);
    if whole < 2 {
        return None;
    }
    let to = base + step_chrono * i32::try_from(whole).ok()?;
    Some(Backfill {
        id: 0,
        from,
        to,
        step,
        frontier: from,
        seed: checkpoint.recent.clone(),
    })
}

/// The window length a source's backlog is split into: its `max_window`, in whole seconds.
pub fn backfill_step(config: &crate::config::WindowConfig) -> Duration {
    Duration::from_secs(config.max_window.as_secs().max(1))
}

/// How often progress through pages without events is committed.
const IDLE_COMMIT_INTERVAL: Duration = Duration::from_secs(2);

/// This process, for lease holders: `host/pid/random` (a restarted process that reuses a pid
/// is still a different holder).
pub fn worker_identity() -> String {
    format!(
        "{}/{}/{:08x}",
        host_name(),
        std::process::id(),
        rand::random::<u32>()
    )
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".to_string())
}

/// Whether a lease holder is a process on this host that has exited. Holders on other hosts,
/// or whose process may still run, are assumed alive: only their lease's expiry frees them.
fn holder_is_dead(holder: &str) -> bool {
    let mut parts = holder.split('/');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if host != host_name() || pid == std::process::id() {
        return false;
    }
    !std::path::Path::new(&format!("/proc/{pid}")).exists() && cfg!(target_os = "linux")
}

enum PageError {
    /// The API or its data failed: what is staged so far is sound.
    Source(String),
    /// A sink failed: what is staged is not.
    Sink(String),
}

/// The name of the batch that starts at checkpoint `base` of state key `key`, in the store
/// whose id is `store_id`: its commit number (so names sort by commit), the store id's
/// short form (so a state store created anew, which counts commits from 1 again, never
/// names a batch as the lost one did), then a digest of the whole position, so a replay
/// from the same checkpoint writes the same object names.
pub fn batch_name(store_id: &str, key: &str, base: &Checkpoint) -> String {
    let mut hasher = Sha256::new();
    hasher.update(key.as_bytes());
    hasher.update(serde_json::to_vec(base).unwrap_or_default());
    let digest = hasher.finalize();
    let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let store = crate::state::short_store_id(store_id);
    if store.is_empty() {
        return format!("{:010}-{short}", base.seq);
    }
    format!("{:010}-{store}-{short}", base.seq)
}
