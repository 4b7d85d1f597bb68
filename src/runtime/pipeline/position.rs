//! Position mode (`window.mode = "position"`): for APIs that list everything after a position
//! and take no time range (Auth0's logs by checkpoint, `from=<log id>`).
//!
//! The position is the checkpoint's next-page reference, the same one a time window keeps to
//! resume inside itself; here it simply never resets. Each page's next reference is staged
//! with the page and moves into the checkpoint in the same commit as the page's objects
//! (`commit.rs`), so a crash anywhere either delivered a page and its position or neither:
//! the next run asks for that page again, and nothing is lost or delivered twice. A run ends
//! at a page without records (Auth0 answers `[]` and names the same position again); that
//! page moves nothing, so the next run asks for it again. Event times only travel in the
//! envelope: a record is never out of a window here, however it is dated.

use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::state::Window;

use super::super::error::{FailureKind, RunError};
use super::super::listing_guard::ListingGuard;
use super::{prefetch, PageError, Pipeline, Stop, IDLE_COMMIT_INTERVAL};

/// The "window" a position listing is checked against: all of time, since it has none.
fn all_of_time() -> Window {
    Window {
        start: DateTime::<Utc>::MIN_UTC,
        end: DateTime::<Utc>::MAX_UTC,
    }
}

impl Pipeline<'_> {
    /// Lists on from the saved position until a page without records, the page cap, or a
    /// stop request; commits whenever a sink asks (the caller commits the rest).
    pub(super) async fn pull_positions(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Stop, PageError> {
        let config = self.source.config().clone();
        let max_pages = config.http.max_pages;
        let mut guard = ListingGuard::for_source(&config);
        let listing = all_of_time();
        // The next page, being fetched while this one is processed (see `prefetch.rs`).
        let mut ahead: Option<prefetch::Prefetch> = None;
        loop {
            if cancel.is_cancelled() {
                return Ok(Stop::Cancelled);
            }
            if max_pages > 0 && self.report.pages >= max_pages {
                return Ok(Stop::PageCap);
            }
            self.keep_lease().await.map_err(PageError::Sink)?;
            let position = self.pending.page.clone();
            let asked = Instant::now();
            let fetched = match prefetch::fetch(
                &self.source,
                &listing,
                position.as_ref(),
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
                // No time anchor to fall back on: a position the API refuses is a stop, loud.
                Err(error) if position.is_some() && error.is_rejected_request() => {
                    return Err(PageError::Source(RunError::source(&error).and(
                        "; the API refused the saved position (window.mode = \"position\" has no time range to list again from). If the position is older than the API keeps, `sluice state reset` the source to start again from the request without a position",
                    )))
                }
                Err(error) => return Err(PageError::Source(RunError::source(&error))),
            };
            self.report.pages += 1;
            self.report.stages.parse += page.parse;
            let answered = Instant::now();
            self.timings.page_received(page.records.len());
            if page.records.is_empty() {
                // Caught up: the position stays where the last delivered page left it.
                return Ok(Stop::CaughtUp);
            }
            if page.next.is_none() {
                // Without a next position the checkpoint would forget where this page ends,
                // and the next run would start over: refuse before anything is staged.
                return Err(PageError::Source(RunError::new(
                    FailureKind::BadResponse,
                    format!(
                        "{}: a page of {} records names no next position, which window.mode = \"position\" needs to go on from after it (hint: check that pagination names where the API puts the next page, e.g. the Link header or a cursor field)",
                        page.url,
                        page.records.len()
                    ),
                )));
            }
            // A refused next link would have a time window listed again from its anchor; a
            // position has none to fall back on, so it stays where it is.
            if let Err(error) =
                self.check_page(&page, &listing, listing, position.is_none(), &mut guard)
            {
                self.pending.page = position;
                self.pending.listing = None;
                return Err(error);
            }
            guard.record(&page, &mut self.pending.trail);
            // The next position is asked for while this page is staged.
            ahead = self.prefetch(&listing, &page);
            // Staging sets the pending position to the page's next: committed with the page.
            self.stage_timed(page, &listing).await?;
            self.timings.page_processed(answered.elapsed());
            let idle_progress =
                self.staged_since_commit == 0 && self.last_commit.elapsed() >= IDLE_COMMIT_INTERVAL;
            if idle_progress || self.sinks.iter().any(|s| s.wants_commit()) {
                self.commit().await.map_err(PageError::Sink)?;
            }
        }
    }
}
