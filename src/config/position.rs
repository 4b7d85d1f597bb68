//! Checks of a source in position mode (`window.mode = "position"`): the settings that only
//! make sense for time windows, and the ones a single open-ended listing cannot honour.

use super::{PaginationConfig, SourceConfig, WindowConfig, WindowMode};
use crate::model::SortOrder;

/// A problem: the key under the source, what is wrong, what to do.
type PositionProblem = (String, String, String);

/// `Err` naming the first key that does not fit position mode; `Ok` for time windows.
pub(super) fn validate(source: &SourceConfig) -> Result<(), PositionProblem> {
    if source.window.mode != WindowMode::Position {
        return Ok(());
    }
    let problem =
        |key: &str, message: String, hint: &str| Err((key.to_string(), message, hint.to_string()));
    if source.workers > 1 {
        return problem(
            "workers",
            format!(
                "workers = {} with window.mode = \"position\": a position is one listing, each page asked from where the last one ended, so it cannot be split among workers",
                source.workers
            ),
            "set workers = 1 (or leave it out)",
        );
    }
    // Settings of time windows, which a position listing never plans. Compared with their
    // defaults: a default written out changes nothing and is let through.
    let defaults = WindowConfig::default();
    let window = &source.window;
    let time_only = [
        ("window.lookback", window.lookback != defaults.lookback),
        (
            "window.max_window",
            window.max_window != defaults.max_window,
        ),
        (
            "window.settle_delay",
            window.settle_delay != defaults.settle_delay,
        ),
        ("window.end_inclusive", window.end_inclusive),
        ("window.format", window.format != defaults.format),
    ];
    if let Some((key, _)) = time_only.iter().find(|(_, set)| *set) {
        return problem(
            key,
            format!("{key} plans time windows, which window.mode = \"position\" does not have"),
            "remove it: a position listing starts where the last delivered page ended (the first run starts where the request without a position starts)",
        );
    }
    match source.pagination {
        PaginationConfig::None {}
        | PaginationConfig::Offset { .. }
        | PaginationConfig::PageNumber { .. } => {
            return problem(
                "pagination",
                "window.mode = \"position\" keeps the API's next-page reference as its position, and this pagination kind has none that lasts (it counts records or pages of one listing)".into(),
                "use a pagination kind that carries a position: link_header, next_url, cursor or graphql",
            );
        }
        _ => {}
    }
    if source.order == SortOrder::NewestFirst {
        return problem(
            "order",
            "order = \"newest_first\" with window.mode = \"position\": a position listing goes on from the last delivered page to newer ones".into(),
            "remove order (position listings are oldest first)",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(extra: &str) -> SourceConfig {
        let text = format!(
            r#"
name = "p"
base_url = "https://api.example.com"
path = "/logs"
query = {{ take = "{{limit}}" }}
pagination = {{ kind = "link_header" }}
event_time = {{ path = "date" }}
sinks = ["lake"]
{extra}
"#
        );
        toml::from_str(&text).unwrap()
    }

    fn key_of(extra: &str) -> Option<String> {
        validate(&source(extra)).err().map(|(key, _, _)| key)
    }

    #[test]
    fn position_mode_refuses_what_it_cannot_honour_and_names_the_key() {
        let position = "window = { mode = \"position\" }";
        assert_eq!(key_of(position), None);
        assert_eq!(key_of(&format!("{position}\nworkers = 1")), None);
        assert_eq!(
            key_of(&format!("{position}\nworkers = 4")).as_deref(),
            Some("workers")
        );
        for key in [
            "lookback = \"30d\"",
            "max_window = \"1h\"",
            "settle_delay = \"5m\"",
            "end_inclusive = true",
            "format = \"epoch_seconds\"",
        ] {
            let name = key.split(' ').next().unwrap();
            let text = format!("window = {{ mode = \"position\", {key} }}");
            assert_eq!(key_of(&text), Some(format!("window.{name}")), "{key}");
        }
        // What governs the dedup set still applies.
        assert_eq!(
            key_of("window = { mode = \"position\", overlap = \"1m\", dedup_capacity = 5000 }"),
            None
        );
        let mut counting = source(position);
        counting.pagination = PaginationConfig::Offset {
            has_more_path: None,
        };
        assert_eq!(validate(&counting).unwrap_err().0, "pagination");
        let text = "window = { mode = \"position\" }\norder = \"newest_first\"";
        assert_eq!(key_of(text).as_deref(), Some("order"));
        // Time windows are not this check's business.
        assert_eq!(key_of("workers = 4\nwindow = { lookback = \"30d\" }"), None);
    }
}
