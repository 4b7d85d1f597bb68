//! Config files: any text loads or is refused with a located error, and what loads can run.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::{load_str_without_secrets, Config, ConfigError};
use crate::model::schedule::Schedule;
use crate::source::request::RequestBuilder;
use crate::source::window::{horizon, next_window};
use crate::state::{Checkpoint, PageRef, Window};
use crate::timefmt;

/// The name fuzzed config texts are loaded under.
const FILE: &str = "fuzz.toml";

/// Loading `text` gives a config or an error naming the file and, when it has one, a line and
/// column inside the text. A config that loads can plan its first window (today, or on a machine whose
/// clock reads 1970) build its first requests,
/// and schedule its runs.
///
/// Secrets are left unresolved: a fuzzer must not read the environment or call a secret
/// manager. Connector files named in the text are read relative to the working directory.
pub fn check_config(text: &str) {
    match load_str_without_secrets(text, Path::new(FILE)) {
        Ok(config) => check_loaded(&config),
        Err(err) => check_error(text, &err),
    }
}

fn check_error(text: &str, err: &ConfigError) {
    assert_eq!(err.file, Path::new(FILE));
    assert!(!err.message.trim().is_empty(), "an error without a message");
    if let Some((line, column)) = err.position {
        let lines = text.split('\n').count();
        assert!(
            (1..=lines).contains(&line) && column >= 1,
            "position {line}:{column} is outside the text's {lines} lines: {err}"
        );
    }
    assert!(err.to_string().starts_with(FILE), "{err}");
}

fn check_loaded(config: &Config) {
    // Today, and a machine whose clock was never set.
    let nows = [
        DateTime::<Utc>::from_timestamp(1_798_761_600, 0).unwrap_or_default(),
        DateTime::<Utc>::UNIX_EPOCH,
    ];
    let schedules = config.sources.iter().filter_map(|s| s.schedule.as_ref());
    for schedule in std::iter::once(&config.serve.schedule).chain(schedules) {
        let schedule = Schedule::from_config(schedule)
            .unwrap_or_else(|p| panic!("a schedule loaded but does not build: {}", p.message));
        for now in nows {
            let first = schedule.first(now);
            let _ = schedule.after(first.unwrap_or(now), now);
        }
    }
    for source in &config.sources {
        let _ = source.auth.problem();
        let builder = RequestBuilder::new(source).unwrap_or_else(|e| {
            panic!(
                "source `{}` loaded but cannot build requests: {e}",
                source.name
            )
        });
        for now in nows {
            let horizon = horizon(now, &source.window);
            let first = next_window(&Checkpoint::default(), &source.window, horizon);
            let later = Checkpoint {
                anchor: Some(now),
                ..Checkpoint::default()
            };
            let next = next_window(&later, &source.window, horizon);
            for window in [first, next].into_iter().flatten() {
                check_window(&builder, &window, source);
            }
        }
    }
}

fn check_window(builder: &RequestBuilder, window: &Window, source: &crate::config::SourceConfig) {
    assert!(window.start < window.end, "empty window {window:?}");
    let _ = timefmt::format_param(window.start, &source.window.format);
    let pages = [
        None,
        Some(PageRef::Token("t".into())),
        Some(PageRef::Offset(u64::MAX)),
        Some(PageRef::Page(u64::MAX)),
    ];
    for page in &pages {
        builder
            .build(window, page.as_ref())
            .unwrap_or_else(|e| panic!("source `{}`: no request for {window:?}: {e}", source.name));
    }
}
