//! Catching an API that loops or re-serves within one listing of a window.
//!
//! A listing is one pass over a window (or over the part of it listed again after an expired
//! cursor), from its first page to its last. Within it an API must never hand out the same
//! page twice: a next link back to a page already listed (A → B → A), a page with exactly the
//! records of an earlier one (an offset or cursor parameter the API ignores), or a record the
//! listing already served, older than what the listing has reached since (mirrored for
//! newest-first). Any of these would otherwise deliver the same events again and again until
//! the run is killed. The guard fails such a page before anything of it is staged.
//!
//! One re-serve is not a loop: APIs that page by counting records (`offset`, `page_number`)
//! serve a page's last records again on the next page when records were inserted before the
//! position in between (a new event on top of a newest-first listing that has no end bound,
//! like Terraform Cloud's audit trail; a late event). Counting never skips a record that way,
//! it only repeats: such a source's guard ([`ListingGuard::for_source`]) lets a record the
//! previous page served pass, and the pipeline drops it by id as a re-served event.
//!
//! Memory is bounded: digests, never bodies. In memory, per listing, at most
//! [`PAGES_KEPT`] request digests and as many page digests, and [`IDS_KEPT`] record-id
//! digests (about 4 MB at most); the oldest are forgotten first, so a loop back to a page
//! more than that far behind is not recognised. The last [`PageTrail::KEPT`] request and
//! page digests are also kept in the checkpoint, so a run that resumes the listing where a
//! failed run stopped recognises the loop too instead of delivering its pages again.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::{PaginationConfig, SourceConfig};
use crate::model::SortOrder;
use crate::source::{Page, Record};
use crate::state::PageTrail;

/// Request and page digests remembered in memory per listing.
pub const PAGES_KEPT: usize = 10_000;
/// Record ids remembered in memory per listing.
pub const IDS_KEPT: usize = 100_000;

/// Page number standing for "a page an earlier run listed" (known from the checkpoint).
const EARLIER_RUN: u64 = 0;

/// What the guard found wrong with a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loop {
    /// The page's next link (or the page's own request) names a page already listed.
    LinksBack {
        /// Page number (in this run's listing) of the earlier request, or 0 for an earlier run.
        earlier: u64,
    },
    /// The page serves exactly the records of an earlier page.
    SamePage {
        /// Page number of the earlier page, or 0 for an earlier run.
        earlier: u64,
    },
    /// A record the listing already served, older than what the listing has reached since.
    Reserved {
        /// The record's id.
        id: String,
        /// Its event time.
        time: DateTime<Utc>,
        /// Page number it was first served on.
        earlier: u64,
        /// How far the listing had got (its newest time ascending, oldest newest-first).
        reached: DateTime<Utc>,
    },
}

/// A bounded set of digests, each with the page it was first seen on; the oldest entries
/// are forgotten first.
#[derive(Debug)]
struct Seen {
    order: VecDeque<u64>,
    pages: HashMap<u64, u64>,
    cap: usize,
}

impl Seen {
    fn new(cap: usize) -> Self {
        Seen {
            order: VecDeque::new(),
            pages: HashMap::new(),
            cap,
        }
    }

    fn get(&self, digest: u64) -> Option<u64> {
        self.pages.get(&digest).copied()
    }

    fn insert(&mut self, digest: u64, page: u64) {
        if self.pages.contains_key(&digest) {
            return;
        }
        self.pages.insert(digest, page);
        self.order.push_back(digest);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.pages.remove(&old);
            }
        }
    }

    /// As [`Seen::insert`], but a digest already seen takes `page` as its page.
    fn set(&mut self, digest: u64, page: u64) {
        match self.pages.get_mut(&digest) {
            Some(seen) => *seen = page,
            None => self.insert(digest, page),
        }
    }

    fn clear(&mut self) {
        self.order.clear();
        self.pages.clear();
    }
}

/// What one run knows about the listing in progress.
#[derive(Debug)]
pub struct ListingGuard {
    requests: Seen,
    contents: Seen,
    ids: Seen,
    /// Newest and oldest times served in this listing during this run.
    newest: Option<DateTime<Utc>>,
    oldest: Option<DateTime<Utc>>,
    /// Pages of this listing processed in this run.
    pages: u64,
    /// Whether the checkpoint's trail was taken in (once per listing and run).
    resumed: bool,
    /// Pages are found by counting records (offset, page number): a record the previous
    /// page served may be served again (see the module docs).
    positional: bool,
}

impl Default for ListingGuard {
    fn default() -> Self {
        ListingGuard {
            requests: Seen::new(PAGES_KEPT),
            contents: Seen::new(PAGES_KEPT),
            ids: Seen::new(IDS_KEPT),
            newest: None,
            oldest: None,
            pages: 0,
            resumed: false,
            positional: false,
        }
    }
}

impl ListingGuard {
    /// The guard for listings of `config`'s source: shifts tolerated where its pagination
    /// counts records.
    pub fn for_source(config: &SourceConfig) -> Self {
        ListingGuard {
            positional: matches!(
                config.pagination,
                PaginationConfig::Offset { .. } | PaginationConfig::PageNumber { .. }
            ),
            ..ListingGuard::default()
        }
    }

    /// Forgets everything: a new listing starts (a window's first page, or a window listed
    /// again from its time anchor, which legitimately re-serves what it delivered before).
    pub fn reset(&mut self) {
        self.requests.clear();
        self.contents.clear();
        self.ids.clear();
        self.newest = None;
        self.oldest = None;
        self.pages = 0;
        self.resumed = true;
    }

    /// Takes in the trail the checkpoint keeps of a listing this run resumes.
    pub fn resume(&mut self, trail: &PageTrail) {
        if self.resumed {
            return;
        }
        self.resumed = true;
        for digest in &trail.requests {
            self.requests.insert(*digest, EARLIER_RUN);
        }
        for digest in &trail.contents {
            self.contents.insert(*digest, EARLIER_RUN);
        }
    }

    /// Pages of the listing processed in this run.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Checks a page before anything of it is staged. `next` is the digest of the request
    /// its next page would be fetched with.
    pub fn check(&self, page: &Page, next: Option<u64>, order: SortOrder) -> Result<(), Loop> {
        for request in std::iter::once(page.request).chain(next) {
            if let Some(earlier) = self.requests.get(request) {
                return Err(Loop::LinksBack { earlier });
            }
        }
        if next == Some(page.request) {
            return Err(Loop::LinksBack {
                earlier: self.pages + 1,
            });
        }
        if let Some(earlier) = content_digest(&page.records).and_then(|d| self.contents.get(d)) {
            return Err(Loop::SamePage { earlier });
        }
        for record in &page.records {
            let Some(earlier) = self.ids.get(id_digest(&record.id)) else {
                continue;
            };
            // Records inserted before a counted position since the previous page moved its
            // last records onto this one: a repeat, never a skip.
            if self.positional && earlier == self.pages {
                continue;
            }
            // Records at exactly the time reached may be served again at a page boundary by
            // APIs that page by time; they are dropped by id as re-served events.
            let reached = match order {
                SortOrder::Ascending => self.newest.filter(|newest| record.time < *newest),
                SortOrder::NewestFirst => self.oldest.filter(|oldest| record.time > *oldest),
            };
            if let Some(reached) = reached {
                return Err(Loop::Reserved {
                    id: record.id.clone(),
                    time: record.time,
                    earlier,
                    reached,
                });
            }
        }
        Ok(())
    }

    /// Remembers a page that passed [`ListingGuard::check`] and is being staged, here and in
    /// the checkpoint's `trail`.
    pub fn record(&mut self, page: &Page, trail: &mut PageTrail) {
        self.pages += 1;
        self.requests.insert(page.request, self.pages);
        trail.push_request(page.request);
        if let Some(digest) = content_digest(&page.records) {
            self.contents.insert(digest, self.pages);
            trail.push_content(digest);
        }
        for record in &page.records {
            if self.positional {
                // A record shifted again is still one the previous page served.
                self.ids.set(id_digest(&record.id), self.pages);
            } else {
                self.ids.insert(id_digest(&record.id), self.pages);
            }
            self.newest = self.newest.max(Some(record.time));
            self.oldest = Some(self.oldest.map_or(record.time, |o| o.min(record.time)));
        }
    }
}

/// A digest of the records a page serves (their times and ids, in order); `None` for a page
/// without records, which may legitimately repeat (an empty page with a next link).
fn content_digest(records: &[Record]) -> Option<u64> {
    if records.is_empty() {
        return None;
    }
    let mut hasher = Sha256::new();
    for record in records {
        hasher.update(record.time.timestamp_micros().to_be_bytes());
        hasher.update(record.id.as_bytes());
        hasher.update([0u8]);
    }
    Some(first_u64(&hasher.finalize()))
}

fn id_digest(id: &str) -> u64 {
    first_u64(&Sha256::digest(id.as_bytes()))
}

fn first_u64(digest: &[u8]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The error for a page the guard refused: what was seen, the likely cause in terms of the
/// source's config, and what happens now.
pub fn describe(found: &Loop, page: &Page, page_number: u64, config: &SourceConfig) -> String {
    let earlier = |n: u64| {
        if n == EARLIER_RUN {
            "a page an earlier run listed".to_string()
        } else {
            format!("page {n} of this listing")
        }
    };
    let what = match found {
        Loop::LinksBack { earlier: n } => format!(
            "page {page_number} of this listing leads back to {} (the next page named is one already requested)",
            earlier(*n)
        ),
        Loop::SamePage { earlier: n } => format!(
            "page {page_number} of this listing serves exactly the records of {}",
            earlier(*n)
        ),
        Loop::Reserved {
            id,
            time,
            earlier: n,
            reached,
        } => format!(
            "page {page_number} of this listing serves record `{id}` ({}) again, first served on {}, although the listing has already reached {}",
            crate::timefmt::rfc3339_millis(*time),
            earlier(*n),
            crate::timefmt::rfc3339_millis(*reached)
        ),
    };
    format!(
        "{url}: the API repeats pages: {what}. Likely cause: {cause}. Nothing of this page was delivered and the checkpoint stays after the last page processed (hint: fix the request parameters, then run again; the window goes on from there)",
        url = page.url,
        cause = likely_cause(found, config)
    )
}

/// Names the parameter an API seems to ignore, from the source's config.
fn likely_cause(found: &Loop, config: &SourceConfig) -> String {
    let links_back = matches!(found, Loop::LinksBack { .. });
    match &config.pagination {
        PaginationConfig::LinkHeader {} | PaginationConfig::NextUrl { .. } => {
            if links_back {
                "the API links back to a page already listed".to_string()
            } else {
                "the API's next link serves records already listed (it ignores a parameter of its own link, or the window's time parameters)".to_string()
            }
        }
        PaginationConfig::Cursor {
            path,
            param: Some(param),
            ..
        } if links_back => format!(
            "the API hands back a cursor already used: check that `pagination.path` (\"{path}\") names the next page's cursor and `pagination.param` (\"{param}\") is the API's cursor parameter"
        ),
        PaginationConfig::Cursor {
            param: Some(param), ..
        } => format!(
            "the API ignores a parameter: check that `pagination.param` (\"{param}\") is the API's cursor parameter"
        ),
        PaginationConfig::Cursor { path, .. } if links_back => format!(
            "the API hands back a cursor already used: check that `pagination.path` (\"{path}\") names the next page's cursor, and that {} is the API's cursor parameter",
            placeholder_site(config, "cursor")
        ),
        PaginationConfig::None {} => "the API ignores the window's time parameters".to_string(),
        other => {
            let (placeholder, role) = match other {
                PaginationConfig::Offset { .. } => ("offset", "offset"),
                PaginationConfig::PageNumber { .. } => ("page", "page-number"),
                _ => ("cursor", "cursor"),
            };
            format!(
                "the API ignores a parameter: check that {} is the API's {role} parameter",
                placeholder_site(config, placeholder)
            )
        }
    }
}

/// Where the config sends `{placeholder}`: `query.skip`, `headers.X`, or the body.
fn placeholder_site(config: &SourceConfig, placeholder: &str) -> String {
    let needle = format!("{{{placeholder}}}");
    let sites: Vec<String> = config
        .query
        .iter()
        .filter(|(_, value)| value.templates().iter().any(|t| t.contains(&needle)))
        .map(|(key, _)| format!("`query.{key}`"))
        .chain(
            config
                .headers
                .iter()
                .filter(|(_, value)| value.contains(&needle))
                .map(|(key, _)| format!("`headers.{key}`")),
        )
        .chain(
            config
                .body
                .as_deref()
                .filter(|body| body.contains(&needle))
                .map(|_| format!("the field of `body` holding `{needle}`")),
        )
        .chain(
            config
                .next_body
                .as_deref()
                .filter(|body| body.contains(&needle))
                .map(|_| format!("the field of `next_body` holding `{needle}`")),
        )
        .collect();
    if sites.is_empty() {
        format!("a request parameter carrying `{needle}` (none does)")
    } else {
        sites.join(" or ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn page(request: u64, records: &[(i64, &str)]) -> Page {
        Page {
            url: format!("https://api.example.com/logs?p={request}"),
            request,
            records: records
                .iter()
                .map(|(s, id)| Record {
                    time: t(*s),
                    id: id.to_string(),
                    data: serde_json::json!({}).into(),
                })
                .collect(),
            next: None,
            parse: std::time::Duration::ZERO,
        }
    }

    fn pass(guard: &mut ListingGuard, trail: &mut PageTrail, p: &Page, next: Option<u64>) {
        guard.check(p, next, SortOrder::Ascending).unwrap();
        guard.record(p, trail);
    }

    #[test]
    fn a_link_back_to_a_listed_page_is_caught() {
        let (mut guard, mut trail) = (ListingGuard::default(), PageTrail::default());
        let a = page(1, &[(1, "a1"), (2, "a2")]);
        pass(&mut guard, &mut trail, &a, Some(2));
        let b = page(2, &[(3, "b1")]);
        // B links back to A's request.
        assert_eq!(
            guard.check(&b, Some(1), SortOrder::Ascending),
            Err(Loop::LinksBack { earlier: 1 })
        );
        // A page naming itself as next.
        assert_eq!(
            guard.check(&b, Some(2), SortOrder::Ascending),
            Err(Loop::LinksBack { earlier: 2 })
        );
    }

    #[test]
    fn a_page_with_the_records_of_an_earlier_one_is_caught_but_empty_pages_may_repeat() {
        let (mut guard, mut trail) = (ListingGuard::default(), PageTrail::default());
        pass(&mut guard, &mut trail, &page(1, &[]), Some(2));
        pass(&mut guard, &mut trail, &page(2, &[]), Some(3));
        pass(
            &mut guard,
            &mut trail,
            &page(3, &[(1, "a"), (2, "b")]),
            Some(4),
        );
        assert_eq!(
            guard.check(
                &page(4, &[(1, "a"), (2, "b")]),
                Some(5),
                SortOrder::Ascending
            ),
            Err(Loop::SamePage { earlier: 3 })
        );
    }

    #[test]
    fn a_reserved_record_older_than_the_listing_reached_is_caught_but_not_at_the_edge() {
        let (mut guard, mut trail) = (ListingGuard::default(), PageTrail::default());
        pass(
            &mut guard,
            &mut trail,
            &page(1, &[(1, "a"), (2, "b"), (2, "c")]),
            Some(2),
        );
        // At exactly the newest time: an API paging by time re-serves that millisecond.
        pass(
            &mut guard,
            &mut trail,
            &page(2, &[(2, "c"), (3, "d")]),
            Some(3),
        );
        let found = guard.check(
            &page(3, &[(2, "b"), (4, "e")]),
            Some(4),
            SortOrder::Ascending,
        );
        assert_eq!(
            found,
            Err(Loop::Reserved {
                id: "b".into(),
                time: t(2),
                earlier: 1,
                reached: t(3)
            })
        );
        // New records older than the listing reached are late events, not loops.
        assert!(guard
            .check(
                &page(3, &[(1, "late"), (4, "e")]),
                Some(4),
                SortOrder::Ascending
            )
            .is_ok());
    }

    #[test]
    fn newest_first_mirrors_the_reserved_check() {
        let (mut guard, mut trail) = (ListingGuard::default(), PageTrail::default());
        let first = page(1, &[(9, "x"), (8, "y")]);
        guard
            .check(&first, Some(2), SortOrder::NewestFirst)
            .unwrap();
        guard.record(&first, &mut trail);
        assert!(guard
            .check(
                &page(2, &[(8, "y"), (7, "z")]),
                Some(3),
                SortOrder::NewestFirst
            )
            .is_ok());
        assert!(matches!(
            guard.check(&page(2, &[(9, "x")]), Some(3), SortOrder::NewestFirst),
            Err(Loop::Reserved { .. })
        ));
    }

    /// A guard for a source paging with `page[number]`.
    fn counting() -> ListingGuard {
        let text = "[[sources]]\nname = \"s\"\nbase_url = \"https://api.example.com\"\npath = \"/e\"\nquery = { since = \"{start}\", page = \"{page}\", size = \"{limit}\" }\npage_size = 2\npagination = { kind = \"page_number\" }\norder = \"newest_first\"\nevent_time = { path = \"t\" }\nsinks = [\"lake\"]\n[[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"lake\"\n";
        let config = crate::config::load_str(text, std::path::Path::new("t.toml"))
            .expect("a valid source")
            .sources
            .remove(0);
        ListingGuard::for_source(&config)
    }

    #[test]
    fn counted_pages_may_repeat_the_previous_pages_records_after_an_insert_on_top() {
        let (mut guard, mut trail) = (counting(), PageTrail::default());
        let order = SortOrder::NewestFirst;
        let first = page(1, &[(9, "x"), (8, "y")]);
        guard.check(&first, Some(2), order).unwrap();
        guard.record(&first, &mut trail);
        // Two events arrived on top: page 2 now starts with page 1's records.
        let second = page(2, &[(9, "x"), (8, "y")]);
        assert!(
            matches!(
                guard.check(&second, Some(3), order),
                Err(Loop::SamePage { .. })
            ),
            "a page of nothing but the previous page's records is still a loop"
        );
        let second = page(2, &[(8, "y"), (7, "z")]);
        guard.check(&second, Some(3), order).unwrap();
        guard.record(&second, &mut trail);
        // Shifted again: `y` is served a third time, still one page behind.
        let third = page(3, &[(8, "y"), (6, "w")]);
        guard.check(&third, Some(4), order).unwrap();
        guard.record(&third, &mut trail);
        // A record from further back is no shift: counting moves records by less than a page.
        assert!(matches!(
            guard.check(&page(4, &[(9, "x"), (5, "v")]), Some(5), order),
            Err(Loop::Reserved { earlier: 1, .. })
        ));
        // Without counted positions the same repeat is a loop.
        let (mut cursor, mut trail) = (ListingGuard::default(), PageTrail::default());
        cursor.check(&first, Some(2), order).unwrap();
        cursor.record(&first, &mut trail);
        assert!(matches!(
            cursor.check(&page(2, &[(9, "x"), (7, "z")]), Some(3), order),
            Err(Loop::Reserved { .. })
        ));
    }

    #[test]
    fn the_checkpoint_trail_catches_a_loop_in_the_next_run_and_a_reset_forgets() {
        let (mut guard, mut trail) = (ListingGuard::default(), PageTrail::default());
        let a = page(1, &[(1, "a")]);
        pass(&mut guard, &mut trail, &a, Some(2));
        // The next run resumes the listing from the checkpoint.
        let mut next_run = ListingGuard::default();
        next_run.resume(&trail);
        let again = page(7, &[(1, "a")]);
        assert_eq!(
            next_run.check(&again, None, SortOrder::Ascending),
            Err(Loop::SamePage {
                earlier: EARLIER_RUN
            })
        );
        assert_eq!(
            next_run.check(&page(8, &[(5, "n")]), Some(1), SortOrder::Ascending),
            Err(Loop::LinksBack {
                earlier: EARLIER_RUN
            })
        );
        // A relist starts a new listing, which may serve the same records again.
        next_run.reset();
        assert!(next_run
            .check(&again, Some(1), SortOrder::Ascending)
            .is_ok());
    }

    #[test]
    fn memory_is_bounded_by_forgetting_the_oldest() {
        let mut seen = Seen::new(3);
        for d in 0..5 {
            seen.insert(d, d);
        }
        assert_eq!(seen.get(0), None);
        assert_eq!(seen.get(4), Some(4));
        assert_eq!(seen.order.len(), 3);
        assert_eq!(seen.pages.len(), 3);
    }

    fn config(extra: &str) -> SourceConfig {
        let text = format!(
            r#"
[[sources]]
name = "s"
base_url = "https://api.example.com"
path = "/v1/events"
event_time = {{ path = "t" }}
sinks = ["lake"]
page_size = 100
{extra}
[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
"#
        );
        crate::config::load_str(&text, std::path::Path::new("t.toml"))
            .unwrap()
            .sources
            .remove(0)
    }

    #[test]
    fn the_message_names_the_parameter_the_api_ignores() {
        let skip = config(
            "query = { since = \"{start}\", skip = \"{offset}\" }\npagination = { kind = \"offset\" }",
        );
        let p = page(2, &[(1, "a")]);
        let text = describe(&Loop::SamePage { earlier: 1 }, &p, 2, &skip);
        assert!(text.contains("`query.skip`"), "{text}");
        assert!(text.contains("offset parameter"), "{text}");
        assert!(text.contains("https://api.example.com/logs?p=2"), "{text}");
        assert!(text.contains("page 1 of this listing"), "{text}");
        let link =
            config("query = { since = \"{start}\" }\npagination = { kind = \"link_header\" }");
        let text = describe(&Loop::LinksBack { earlier: 1 }, &p, 2, &link);
        assert!(
            text.contains("links back to a page already listed"),
            "{text}"
        );
        let cursor = config(
            "query = { since = \"{start}\", c = \"{cursor}\" }\npagination = { kind = \"cursor\", path = \"meta.cursor\" }",
        );
        let text = describe(&Loop::LinksBack { earlier: 0 }, &p, 1, &cursor);
        assert!(text.contains("`pagination.path`"), "{text}");
        assert!(text.contains("`query.c`"), "{text}");
        assert!(text.contains("an earlier run"), "{text}");
    }
}
