//! What one request of the generic profile asks for, and which events answer it.
//!
//! Positions never index into the visible list: a cursor holds a *boundary* in the full
//! (time, index) order — "indices from `b` on" when ascending, "indices below `b`" when
//! newest first — so newly visible events never shift a cursor. They appear behind it
//! when their time is before it, exactly like late events on a real API. Offsets and page
//! numbers, in contrast, count visible events and may shift as more become visible.

use std::time::Duration;

use chrono::Utc;

use super::timing::{to_nanos, GenericTimeline};
use super::{SimOrder, NONE_MAX_EVENTS};
use crate::rng::{domain, hash3};

/// A 4xx answer: status, short error code and a message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) error: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn bad_request(error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            error,
            message: message.into(),
        }
    }

    pub(crate) fn is_expired_cursor(&self) -> bool {
        self.error == "cursor expired"
    }
}

/// Where in the window a request starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Position {
    /// The window's first page.
    First,
    /// After a cursor: its boundary in the (time, index) order.
    Boundary(u64),
    /// Skip this many visible events.
    Skip(u64),
}

/// A parsed request for one page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PageQuery {
    pub(crate) start_ns: i128,
    pub(crate) end_ns: i128,
    /// Page size after defaulting and clamping.
    pub(crate) limit: u64,
    pub(crate) position: Position,
}

/// The events of one page and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selection {
    /// Indices in serving order.
    pub(crate) indices: Vec<u64>,
    /// Whether more visible events of the window follow this page.
    pub(crate) more: bool,
    /// Boundary a cursor for the next page carries.
    pub(crate) boundary: u64,
}

/// Parses a `limit` given as text: a positive integer (clamped to `max`), or the default.
pub(crate) fn parse_limit(raw: Option<&str>, default: usize, max: usize) -> Result<u64, ApiError> {
    let Some(raw) = raw else {
        return Ok(default.min(max) as u64);
    };
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(
            "invalid limit",
            "limit must be a positive integer",
        ));
    }
    let n = raw.parse::<u64>().unwrap_or(u64::MAX);
    if n == 0 {
        return Err(ApiError::bad_request(
            "invalid limit",
            "limit must be greater than 0",
        ));
    }
    Ok(n.min(max as u64))
}

/// Parses a non-negative integer parameter (`offset`) or a positive one (`page`).
pub(crate) fn parse_count(name: &str, raw: &str, minimum: u64) -> Result<u64, ApiError> {
    let raw = raw.trim();
    let parsed = (!raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()))
        .then(|| raw.parse::<u64>().ok())
        .flatten()
        .filter(|n| *n >= minimum);
    parsed.ok_or_else(|| {
        ApiError::bad_request(
            "invalid parameter",
            format!("{name} must be an integer of at least {minimum}"),
        )
    })
}

/// Opaque cursors: `<boundary hex>.<issue time in ms, hex>.<check>`. The check binds both
/// numbers to the seed and the order, so edited or foreign cursors are refused.
pub(crate) fn encode_cursor(seed: u64, order: SimOrder, boundary: u64, issued_ms: i64) -> String {
    format!(
        "{boundary:x}.{:x}.{:08x}",
        issued_ms as u64,
        check(seed, order, boundary, issued_ms)
    )
}

fn check(seed: u64, order: SimOrder, boundary: u64, issued_ms: i64) -> u32 {
    let tag = match order {
        SimOrder::Ascending => 0,
        SimOrder::NewestFirst => 1,
    };
    hash3(
        seed,
        domain::GENERIC_CURSOR,
        boundary.rotate_left(17) ^ (issued_ms as u64).wrapping_mul(3) ^ tag,
    ) as u32
}

/// Decodes a cursor and enforces its time to live.
pub(crate) fn decode_cursor(
    seed: u64,
    order: SimOrder,
    events: u64,
    ttl: Option<Duration>,
    cursor: &str,
) -> Result<u64, ApiError> {
    let invalid = || ApiError::bad_request("invalid cursor", "the cursor is not valid");
    let mut parts = cursor.split('.');
    let (Some(boundary), Some(issued), Some(sum), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if boundary.len() > 16 || issued.len() > 16 || sum.len() != 8 {
        return Err(invalid());
    }
    let boundary = u64::from_str_radix(boundary, 16).map_err(|_| invalid())?;
    let issued = u64::from_str_radix(issued, 16).map_err(|_| invalid())? as i64;
    let sum = u32::from_str_radix(sum, 16).map_err(|_| invalid())?;
    if boundary > events || sum != check(seed, order, boundary, issued) {
        return Err(invalid());
    }
    if let Some(ttl) = ttl {
        let age_ms = Utc::now().timestamp_millis().saturating_sub(issued);
        if age_ms > i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX) {
            return Err(ApiError::bad_request(
                "cursor expired",
                format!("the cursor was issued {age_ms} ms ago; cursors live {ttl:?}"),
            ));
        }
    }
    Ok(boundary)
}

/// Current wall-clock time in nanoseconds.
pub(crate) fn now_ns() -> i128 {
    to_nanos(&Utc::now())
}

/// Picks the events of one page. `all_at_once` is the `None` pagination: every visible
/// event of the window, refused beyond [`NONE_MAX_EVENTS`].
pub(crate) fn select(
    timeline: &GenericTimeline,
    order: SimOrder,
    query: &PageQuery,
    all_at_once: bool,
    now_ns: i128,
) -> Result<Selection, ApiError> {
    let lo = timeline.first_at_or_after(query.start_ns);
    let hi = timeline.first_at_or_after(query.end_ns).max(lo);
    // No event is visible before its time, so nothing after `now` needs looking at.
    let hi_visible = hi.min(timeline.first_at_or_after(now_ns.saturating_add(1)).max(lo));
    let (skip, boundary) = match query.position {
        Position::First => (0, None),
        Position::Boundary(b) => (0, Some(b)),
        Position::Skip(n) => (n, None),
    };
    let take = if all_at_once {
        NONE_MAX_EVENTS + 1
    } else {
        usize::try_from(query.limit)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
    };
    let (indices, scan_start) = match order {
        SimOrder::Ascending => {
            let from = boundary.map_or(lo, |b| b.clamp(lo, hi_visible.max(lo)));
            let range = from..hi_visible.max(from);
            (collect(timeline, range, skip, take, now_ns), from)
        }
        SimOrder::NewestFirst => {
            let to = boundary.map_or(hi_visible, |b| b.clamp(lo, hi_visible));
            let range = (lo..to).rev();
            (collect(timeline, range, skip, take, now_ns), to)
        }
    };
    let mut indices = indices;
    if all_at_once {
        if indices.len() > NONE_MAX_EVENTS {
            return Err(ApiError::bad_request(
                "window too large",
                format!(
                    "the window holds more than {NONE_MAX_EVENTS} events; ask for a shorter one"
                ),
            ));
        }
        return Ok(Selection {
            boundary: scan_start,
            indices,
            more: false,
        });
    }
    let more = indices.len() as u64 > query.limit;
    indices.truncate(query.limit as usize);
    let boundary = match (order, indices.last()) {
        (SimOrder::Ascending, Some(last)) => last + 1,
        (SimOrder::NewestFirst, Some(last)) => *last,
        (_, None) => scan_start,
    };
    Ok(Selection {
        indices,
        more,
        boundary,
    })
}

/// Up to `take` visible indices of `range` after skipping `skip` visible ones.
fn collect<I>(
    timeline: &GenericTimeline,
    range: I,
    skip: u64,
    take: usize,
    now_ns: i128,
) -> Vec<u64>
where
    I: Iterator<Item = u64>,
{
    let skip = usize::try_from(skip).unwrap_or(usize::MAX);
    if timeline.has_late_events() {
        range
            .filter(|i| timeline.is_visible(*i, now_ns))
            .skip(skip)
            .take(take)
            .collect()
    } else {
        // Without late events everything up to `now` is visible: skipping is O(1).
        range.skip(skip).take(take).collect()
    }
}
