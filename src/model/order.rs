//! The order in which an API lists a window's events.

use serde::Deserialize;

/// Order of events across a window's pages.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Oldest first. Events that arrive behind the high-water time are counted as late.
    #[default]
    Ascending,
    /// Newest first. As for every order, the anchor moves only when a window is done; what
    /// differs is recovery from an expired cursor, which lists the window again only up to the
    /// oldest time already delivered.
    NewestFirst,
}
