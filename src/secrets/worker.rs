//! The thread that runs a load's secret manager pass for the synchronous loader.
//!
//! Loading is synchronous and is often called from async code (inside the caller's tokio
//! runtime). Blocking there on a nested runtime would panic, so [`fetch_all_blocking`] runs
//! [`super::fetch_all`] on a thread of its own, with a current-thread runtime created and
//! dropped on that thread, and waits for it.

use super::{fetch_all, Fetched, Location, SecretError};

/// [`fetch_all`], from synchronous code (inside a runtime or not). Nothing is started when
/// there is nothing to fetch.
pub(crate) fn fetch_all_blocking(locations: Vec<Location>) -> Fetched {
    if locations.is_empty() {
        return Fetched::new();
    }
    let failed = |locations: Vec<Location>, why: SecretError| -> Fetched {
        locations
            .into_iter()
            .map(|location| (location, Err(why.clone())))
            .collect()
    };
    let kept = locations.clone();
    let thread = std::thread::Builder::new()
        .name("sluice-secrets".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(fetch_all(locations)),
                Err(err) => failed(
                    locations,
                    SecretError::Internal(format!(
                        "cannot start the runtime that fetches secrets: {err}"
                    )),
                ),
            }
        });
    match thread {
        Ok(thread) => thread.join().unwrap_or_else(|_| {
            failed(
                kept,
                SecretError::Internal(
                    "the thread that fetches secrets stopped unexpectedly".into(),
                ),
            )
        }),
        Err(err) => failed(
            kept,
            SecretError::Internal(format!("cannot start the thread that fetches secrets: {err} (hint: the system is out of threads or memory)")),
        ),
    }
}
