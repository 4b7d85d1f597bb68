//! Fetching a listing's next page while the current one is processed.
//!
//! Every pagination kind names the next page in the response alone (a `Link` header, a next
//! URL, a cursor, an offset or page number read from the body: `source::pagination`), so the
//! next request is known as soon as a page is fetched and checked, before its records are
//! deduplicated, transformed and staged. The page loop starts that request on a task of its
//! own ([`Prefetch::start`]) and takes its answer on its next turn ([`fetch`]) if, and only if,
//! that turn asks for exactly the same request: a window that ended, was split or listed again
//! asks for something else, and the prefetch is dropped unused.
//!
//! What it does not change: the request goes through the source's one client (the same rate
//! limiter, retries and retry budget); at most one page is ahead, so memory holds at most two
//! pages; nothing of a prefetched page is staged or committed before the loop takes it, so the
//! commit protocol and checkpoints are those of a loop without prefetch; an error of the
//! prefetched page is handled where the loop would have met it; and a prefetch the loop does
//! not take (a stop request, a failure, the end of the run) is aborted when dropped.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::source::{HttpSource, Page, RetryWatch, SourceError};
use crate::state::{PageRef, Window};

use super::super::error::RunError;
use super::{PageError, Stop};

/// The next page of a listing, being fetched on its own task.
pub(super) struct Prefetch {
    listing: Window,
    page: PageRef,
    /// Failed attempts of the request while it is retried, for a stop in the middle.
    watch: Arc<RetryWatch>,
    task: JoinHandle<Result<Page, SourceError>>,
}

impl Prefetch {
    /// Starts fetching `page` of `listing`. The caller has checked that the request goes to
    /// the configured origin (`Pipeline::check_page`), as for any next page.
    pub(super) fn start(source: &Arc<HttpSource>, listing: Window, page: PageRef) -> Self {
        let watch = Arc::new(RetryWatch::default());
        let task = tokio::spawn({
            let (source, watch, page) = (Arc::clone(source), Arc::clone(&watch), page.clone());
            async move { source.fetch_watched(&listing, Some(&page), &watch).await }
        });
        Prefetch {
            listing,
            page,
            watch,
            task,
        }
    }

    /// A handle that tells whether the fetching task has ended.
    #[cfg(test)]
    pub(super) fn abort_handle(&self) -> tokio::task::AbortHandle {
        self.task.abort_handle()
    }

    /// Whether this is the request for `page` of `listing`.
    fn is_for(&self, listing: &Window, page: Option<&PageRef>) -> bool {
        self.listing == *listing && Some(&self.page) == page
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        // A prefetch nobody takes must not go on using the API's budget; aborting a finished
        // task does nothing.
        self.task.abort();
    }
}

/// What asking for a page gave.
pub(super) enum Fetch {
    /// The API's answer (or the error of its last attempt).
    Answer(Result<Page, SourceError>),
    /// The run was stopped while the request was in flight: how the page loop ends.
    Stopped(Result<Stop, PageError>),
}

/// Fetches `page` of `listing`: the answer of `ahead` when it is that request, else a request
/// made now (`ahead`, if any, is dropped). A stop while the request is being retried after
/// failures is the outage's error, as without prefetch.
pub(super) async fn fetch(
    source: &HttpSource,
    listing: &Window,
    page: Option<&PageRef>,
    ahead: Option<Prefetch>,
    cancel: &CancellationToken,
) -> Fetch {
    if let Some(mut ahead) = ahead.filter(|ahead| ahead.is_for(listing, page)) {
        tokio::select! {
            joined = &mut ahead.task => match joined {
                Ok(answer) => return Fetch::Answer(answer),
                // The task panicked: the page loop panics as it would have.
                Err(joined) if joined.is_panic() => std::panic::resume_unwind(joined.into_panic()),
                // Aborted, which only dropping it does: ask again below.
                Err(_) => {}
            },
            () = cancel.cancelled() => return Fetch::Stopped(stopped(ahead.watch.failing())),
        }
    }
    let watch = RetryWatch::default();
    tokio::select! {
        page = source.fetch_watched(listing, page, &watch) => Fetch::Answer(page),
        () = cancel.cancelled() => Fetch::Stopped(stopped(watch.failing())),
    }
}

/// How the page loop ends when the run is stopped while a request is in flight: stopped
/// (deadline or signal) while the request was failing and being retried, that is an outage,
/// and the run reports it.
fn stopped(failing: Option<(crate::model::FailureKind, String)>) -> Result<Stop, PageError> {
    match failing {
        Some((kind, error)) => Err(PageError::Source(RunError::new(kind, format!(
            "{error} (the run was stopped while this request was being retried; the API is failing, so the run is too)"
        )))),
        None => Ok(Stop::Cancelled),
    }
}
