//! Window lengths for APIs without pagination (`pagination = { kind = "none" }`): such an API
//! answers a window in one response, which it may cut at `page_size` records with no way to
//! ask for the rest. A full response makes the pipeline list the window again in halves; this
//! keeps the windows of the rest of the run about as short as the half that was needed, and
//! lets them grow back, up to `window.max_window`, while responses stay far from full.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{PaginationConfig, SourceConfig, WindowConfig};
use crate::model::SortOrder;
use crate::source::Record;
use crate::state::Window;

/// Whether a response of `records` to a request for `listing` may have been cut inside it: the
/// spec has no pagination, the response holds `page_size` records or more, and, for an API
/// that lists oldest first, none of them is dated at or after the listing's end. Such an API
/// answering past the end served everything before it: that is how an API taking only a start
/// time (Duo's administrator log: "the 1000 earliest events from mintime") answers every
/// window, and halving the window would send the same request again.
pub(super) fn is_full(config: &SourceConfig, records: &[Record], listing: &Window) -> bool {
    matches!(config.pagination, PaginationConfig::None {})
        && config
            .page_size
            .is_some_and(|size| records.len() as u64 >= size)
        && !(config.order == SortOrder::Ascending
            && records.iter().any(|record| record.time >= listing.end))
}

/// Up to when a cut response is complete: for an API that lists oldest first, the time of its
/// latest record (everything before it was served); `None` for other orders, which are split
/// in the middle.
pub(super) fn complete_until(config: &SourceConfig, records: &[Record]) -> Option<DateTime<Utc>> {
    (config.order == SortOrder::Ascending)
        .then(|| records.iter().map(|record| record.time).max())
        .flatten()
}

/// The window settings new windows of this run are planned with.
pub(super) struct Planning {
    window: WindowConfig,
    /// The configured `max_window`, which windows never exceed.
    ceiling: Duration,
}

impl Planning {
    pub(super) fn new(config: &WindowConfig) -> Self {
        Planning {
            window: config.clone(),
            ceiling: config.max_window,
        }
    }

    /// The settings to plan the next window with.
    pub(super) fn window(&self) -> &WindowConfig {
        &self.window
    }

    /// A window was split into `half`, planned from `anchor`: new windows cover no more new
    /// time than it does. Windows start `overlap` before their anchor, so the overlap comes on
    /// top, and every window still moves the anchor on.
    pub(super) fn narrow(&mut self, half: &Window, anchor: Option<DateTime<Utc>>) {
        let new_from = anchor.map_or(half.start, |a| a.max(half.start));
        let new_part = (half.end - new_from).to_std().unwrap_or_default();
        self.window.max_window = self.window.max_window.min(new_part + self.window.overlap);
    }

    /// A response of `records` records came in whole: when it was less than half full, the
    /// next windows may be twice as long (up to `max_window`), so a quiet stretch after a busy
    /// one is not listed in the busy stretch's small steps.
    pub(super) fn widen(&mut self, config: &SourceConfig, records: usize) {
        let sparse = matches!(config.pagination, PaginationConfig::None {})
            && config
                .page_size
                .is_some_and(|size| (records as u64) * 2 < size);
        if sparse && self.window.max_window < self.ceiling {
            self.window.max_window = (self.window.max_window * 2).min(self.ceiling);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).unwrap()
    }

    fn source(pagination: &str) -> SourceConfig {
        let text = format!(
            "[[sources]]\nname = \"s\"\nbase_url = \"https://api.example.com\"\npath = \"/e\"\nquery = {{ since = \"{{start}}\", offset = \"{{offset}}\" }}\npage_size = 10\npagination = {pagination}\nevent_time = {{ path = \"t\" }}\nsinks = [\"lake\"]\n[[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"lake\"\n"
        );
        crate::config::load_str(&text, std::path::Path::new("t.toml"))
            .unwrap()
            .sources
            .remove(0)
    }

    fn records(times: &[i64]) -> Vec<Record> {
        times
            .iter()
            .enumerate()
            .map(|(i, s)| Record {
                time: t(*s),
                id: i.to_string(),
                data: crate::source::RawJson::from_value(&serde_json::json!({ "i": i })),
            })
            .collect()
    }

    #[test]
    fn only_full_responses_without_pagination_are_full() {
        let listing = Window {
            start: t(0),
            end: t(100),
        };
        let none = source("{ kind = \"none\" }");
        assert!(is_full(&none, &records(&[1; 10]), &listing));
        assert!(is_full(&none, &records(&[1; 11]), &listing));
        assert!(!is_full(&none, &records(&[1; 9]), &listing));
        let offset = source("{ kind = \"offset\" }");
        assert!(
            !is_full(&offset, &records(&[1; 10]), &listing),
            "paginated APIs ask for the next page instead"
        );
    }

    #[test]
    fn an_oldest_first_answer_reaching_past_the_end_is_complete_for_the_window() {
        let listing = Window {
            start: t(0),
            end: t(100),
        };
        let none = source("{ kind = \"none\" }");
        let past = records(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 100]);
        assert!(!is_full(&none, &past, &listing), "served beyond the end");
        let inside = records(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 40]);
        assert!(is_full(&none, &inside, &listing));
        assert_eq!(complete_until(&none, &inside), Some(t(40)));
        let newest_first = source("{ kind = \"none\" }\norder = \"newest_first\"");
        assert!(
            is_full(&newest_first, &past, &listing),
            "a newest-first cut keeps the newest: nothing says the oldest were served"
        );
        assert_eq!(complete_until(&newest_first, &inside), None);
    }

    #[test]
    fn windows_narrow_to_the_half_needed_and_grow_back_when_sparse() {
        let config = source("{ kind = \"none\" }");
        let mut planning = Planning::new(&WindowConfig {
            max_window: Duration::from_secs(1000),
            overlap: Duration::from_secs(10),
            ..WindowConfig::default()
        });
        // Planned from anchor 100 (starting at 90): the half covers 100..150 of new time.
        let half = Window {
            start: t(90),
            end: t(150),
        };
        planning.narrow(&half, Some(t(100)));
        assert_eq!(planning.window().max_window, Duration::from_secs(60));
        planning.widen(&config, 5);
        assert_eq!(
            planning.window().max_window,
            Duration::from_secs(60),
            "half full is not sparse"
        );
        planning.widen(&config, 4);
        assert_eq!(planning.window().max_window, Duration::from_secs(120));
        for _ in 0..10 {
            planning.widen(&config, 0);
        }
        assert_eq!(planning.window().max_window, Duration::from_secs(1000));
    }
}
