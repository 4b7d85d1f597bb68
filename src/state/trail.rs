//! The trail of a listing in progress: digests of the last pages it requested and of the
//! records they served, kept in the checkpoint so that an API that loops is caught even when
//! the loop spans two runs (see `runtime::listing_guard`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Digests of the last [`PageTrail::KEPT`] requests made and pages served in the listing in
/// progress. Digests only (8 bytes each, written as hex), never bodies, so a checkpoint stays
/// small: at most about 1.2 KB of trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageTrail {
    /// Requests of the pages fully processed, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "hex_list")]
    pub requests: Vec<u64>,
    /// The records those pages served (pages with at least one record), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "hex_list")]
    pub contents: Vec<u64>,
}

impl PageTrail {
    /// How many digests of each kind the checkpoint keeps. Loops that come back to one of the
    /// last this-many pages are caught across runs; within a run a much larger set in memory
    /// is used (see `runtime::listing_guard`).
    pub const KEPT: usize = 32;

    /// Whether the trail is empty (no listing in progress, or nothing processed yet).
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.contents.is_empty()
    }

    /// Remembers the request of a page just processed, forgetting the oldest beyond `KEPT`.
    pub fn push_request(&mut self, digest: u64) {
        push_bounded(&mut self.requests, digest);
    }

    /// Remembers the records of a page just processed, forgetting the oldest beyond `KEPT`.
    pub fn push_content(&mut self, digest: u64) {
        push_bounded(&mut self.contents, digest);
    }
}

fn push_bounded(list: &mut Vec<u64>, digest: u64) {
    list.push(digest);
    if list.len() > PageTrail::KEPT {
        let excess = list.len() - PageTrail::KEPT;
        list.drain(..excess);
    }
}

/// `Vec<u64>` as a list of 16-digit hex strings: JSON numbers above 2^53 lose precision in
/// some readers (and in PostgreSQL's `jsonb` round trip through floats elsewhere).
mod hex_list {
    use super::*;

    pub fn serialize<S: Serializer>(list: &[u64], serializer: S) -> Result<S::Ok, S::Error> {
        let text: Vec<String> = list.iter().map(|d| format!("{d:016x}")).collect();
        text.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
        let text: Vec<String> = Vec::deserialize(deserializer)?;
        text.iter()
            .map(|t| u64::from_str_radix(t, 16).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_digests_and_round_trips_as_hex() {
        let mut trail = PageTrail::default();
        assert!(trail.is_empty());
        for d in 0..(PageTrail::KEPT as u64 + 5) {
            trail.push_request(d);
        }
        trail.push_content(u64::MAX);
        assert_eq!(trail.requests.len(), PageTrail::KEPT);
        assert_eq!(trail.requests[0], 5, "the oldest are forgotten first");
        let text = serde_json::to_string(&trail).unwrap();
        assert!(text.contains("\"ffffffffffffffff\""), "{text}");
        assert_eq!(serde_json::from_str::<PageTrail>(&text).unwrap(), trail);
        assert_eq!(
            serde_json::from_str::<PageTrail>("{}").unwrap(),
            PageTrail::default()
        );
    }
}
