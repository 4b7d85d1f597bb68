//! Responses an API may send: next-page finding, Link headers, times and records.

use arbitrary::{Arbitrary, Unstructured};
use chrono::{DateTime, Datelike, Utc};
use reqwest::header::{HeaderMap, HeaderValue, LINK};
use serde_json::Value;
use url::Url;

use super::{json_value, key, path};
use crate::config::{EventIdConfig, EventTimeConfig, PaginationConfig};
use crate::model::TimeFormat;
use crate::source::http::JsonResponse;
use crate::source::link_secrets::LinkSecrets;
use crate::source::page;
use crate::source::pagination::{next_page, Fetched};
use crate::source::path::JsonPath;
use crate::source::records::{take_records, to_record};
use crate::state::PageRef;
use crate::timefmt;

/// The URL every fuzzed page came from.
const PAGE_URL: &str = "https://api.example.com/v1/events?since=2026-01-01T00:00:00Z";

/// One fetched page as the next-page finder sees it.
#[derive(Debug)]
pub struct PageInput {
    /// How the source pages.
    pub pagination: PaginationConfig,
    /// `Link` header fields, as raw bytes.
    pub links: Vec<Vec<u8>>,
    /// The response body.
    pub body: Value,
    /// The page that was requested (`None`: the window's first).
    pub page: Option<PageRef>,
    /// Records on the page.
    pub records: usize,
    /// The configured page size.
    pub page_size: Option<u64>,
}

impl<'a> Arbitrary<'a> for PageInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let has_more =
            |u: &mut Unstructured<'a>| -> arbitrary::Result<Option<crate::source::path::JsonPath>> {
                if bool::arbitrary(u)? {
                    path(u).map(Some)
                } else {
                    Ok(None)
                }
            };
        let pagination = match u.int_in_range(0..=6)? {
            0 => PaginationConfig::None {},
            1 => PaginationConfig::LinkHeader {},
            2 => PaginationConfig::NextUrl { path: path(u)? },
            3 => PaginationConfig::Cursor {
                path: path(u)?,
                param: None,
                has_more_path: has_more(u)?,
                cursor_join: ",".to_string(),
                cursor_encoding: Default::default(),
                empty_page_ends: false,
                from_last_record: false,
            },
            4 => PaginationConfig::Offset {
                has_more_path: has_more(u)?,
            },
            5 => PaginationConfig::PageNumber {
                first: u64::arbitrary(u)?,
                has_more_path: has_more(u)?,
                next_page_path: has_more(u)?,
            },
            _ => PaginationConfig::Graphql {
                page_info_path: path(u)?,
            },
        };
        let page = match u.int_in_range(0..=4)? {
            0 => None,
            1 => Some(PageRef::Url(String::arbitrary(u)?)),
            2 => Some(PageRef::Token(String::arbitrary(u)?)),
            3 => Some(PageRef::Offset(u64::arbitrary(u)?)),
            _ => Some(PageRef::Page(u64::arbitrary(u)?)),
        };
        Ok(PageInput {
            pagination,
            links: Vec::arbitrary(u)?,
            body: json_value(u)?,
            page,
            records: usize::arbitrary(u)?,
            page_size: Option::arbitrary(u)?,
        })
    }
}

/// Header fields as the HTTP client would hand them over: bytes it cannot carry in a header
/// (control characters) never arrive, so such fields are left out.
fn link_headers<B: AsRef<[u8]>>(fields: &[B]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for field in fields {
        if let Ok(value) = HeaderValue::from_bytes(field.as_ref()) {
            headers.append(LINK, value);
        }
    }
    headers
}

/// The next-page finder answers every response with a next page or an error, and a next page
/// is always a step forward: never the page just fetched, a URL that parses, an offset past
/// the records listed, a later page number.
pub fn check_next_page(input: &PageInput) {
    let response = JsonResponse {
        headers: link_headers(&input.links),
        body: input.body.clone(),
    };
    let url = Url::parse(PAGE_URL).expect("the page URL is a constant that parses");
    let fetched = Fetched {
        response: &response,
        url: &url,
        page: input.page.as_ref(),
        records: input.records,
        page_size: input.page_size,
        secrets: &LinkSecrets::default(),
        last_record: None,
    };
    let Ok(Some(next)) = next_page(&input.pagination, &fetched) else {
        return;
    };
    assert_ne!(
        Some(&next),
        input.page.as_ref(),
        "the next page is this one"
    );
    match (&next, &input.pagination, &input.page) {
        (PageRef::Url(next), _, _) => {
            Url::parse(next).unwrap_or_else(|e| panic!("next URL {next:?} does not parse: {e}"));
        }
        (PageRef::Offset(next), _, Some(PageRef::Offset(listed))) => {
            assert_eq!(*next, listed + input.records as u64)
        }
        // The API's own next page number, later than the current page.
        (
            PageRef::Page(next),
            PaginationConfig::PageNumber {
                first,
                next_page_path: Some(_),
                ..
            },
            current,
        ) => {
            let current = match current {
                Some(PageRef::Page(page)) => *page,
                _ => *first,
            };
            assert!(*next > current, "page {next} does not come after {current}")
        }
        (PageRef::Page(next), _, Some(PageRef::Page(current)))
        | (PageRef::Page(next), PaginationConfig::PageNumber { first: current, .. }, None) => {
            assert_eq!(*next, current + 1)
        }
        _ => {}
    }
}

/// `Link` header fields: the finder names a next page that is an absolute URL, or none, or
/// an error. Relations are case-insensitive: upper-casing the field's `rel` changes nothing.
pub fn check_link_header<B: AsRef<[u8]>>(fields: &[B]) {
    let input = PageInput {
        pagination: PaginationConfig::LinkHeader {},
        links: fields.iter().map(|f| f.as_ref().to_vec()).collect(),
        body: Value::Null,
        page: None,
        records: 0,
        page_size: None,
    };
    check_next_page(&input);
}

/// A time format drawn from the bytes; strftime layouts are mostly made of real specifiers.
pub(crate) fn time_format(u: &mut Unstructured<'_>) -> arbitrary::Result<TimeFormat> {
    const PIECES: &[&str] = &[
        "%Y", "%m", "%d", "%H", "%M", "%S", "%.f", "%.3f", "%f", "%z", "%:z", "%Z", "%s", "%j",
        "%b", "%e", "%y", "%C", "%G", "%V", "%u", "%+", "%%", "%", "%#z", "%3f", "T", "-", ":",
        " ", ".", "/",
    ];
    Ok(match u.int_in_range(0..=5)? {
        0 => TimeFormat::Rfc3339,
        1 => TimeFormat::EpochSeconds,
        2 => TimeFormat::EpochMillis,
        3 => TimeFormat::EpochMicros,
        4 => TimeFormat::EpochNanos,
        _ => {
            let mut layout = String::new();
            for _ in 0..u.int_in_range(0..=8)? {
                if u.ratio(4, 5)? {
                    layout.push_str(u.choose(PIECES)?);
                } else {
                    layout.push(char::arbitrary(u)?);
                }
            }
            // A named zone now and then: local times, daylight saving and its edge hours.
            let time_zone = u.ratio(1, 4)?.then_some(chrono_tz::America::New_York);
            TimeFormat::Strftime(crate::timefmt::Layout {
                pattern: layout,
                time_zone,
            })
        }
    })
}

/// Reading a time never panics; a time that was read can be written back in its format (what
/// a window bound needs) and cut to it; written back and read again, it is the same time cut
/// to what the format can carry.
pub fn check_time(value: &Value, format: &TimeFormat) {
    if let TimeFormat::Strftime(layout) = format {
        // Layouts that cannot write a time are refused when the config loads.
        if timefmt::check_strftime(layout).is_err() {
            let _ = timefmt::parse_value(value, format);
            return;
        }
    }
    let Some(time) = timefmt::parse_value(value, format) else {
        return;
    };
    let written = timefmt::format_param(time, format);
    let cut = timefmt::truncate(time, format);
    assert!(cut <= time, "truncating {time} moved it later, to {cut}");
    let _ = timefmt::rfc3339_millis(time);
    let back = match format {
        TimeFormat::Strftime(_) => return,
        // RFC 3339 has four-digit years only.
        TimeFormat::Rfc3339 if !(0..=9999).contains(&time.year()) => return,
        TimeFormat::Rfc3339 => Value::String(written.clone()),
        _ => Value::Number(
            written
                .parse::<i64>()
                .expect("epoch times are integers")
                .into(),
        ),
    };
    let read = timefmt::parse_value(&back, format)
        .unwrap_or_else(|| panic!("{written:?} (written for {time}) does not read back"));
    assert!(
        read <= time && time - read < chrono::TimeDelta::seconds(1),
        "{time} written as {written:?} reads back as {read}"
    );
    if !matches!(format, TimeFormat::EpochMicros | TimeFormat::EpochNanos) {
        assert_eq!(read, cut, "{time} written as {written:?}");
    }
}

/// A body and the settings that take records out of it.
#[derive(Debug)]
pub struct RecordsInput {
    /// The response body.
    pub body: Value,
    /// `records_path`.
    pub records_path: JsonPath,
    /// `event_time`.
    pub time: EventTimeConfig,
    /// `event_id`.
    pub id: EventIdConfig,
}

impl<'a> Arbitrary<'a> for RecordsInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let key_path = |u: &mut Unstructured<'a>| {
            JsonPath::parse(&key(u)?).map_err(|_| arbitrary::Error::IncorrectFormat)
        };
        let time_path = key_path(u)?;
        let id_path = if bool::arbitrary(u)? {
            Some(key_path(u)?)
        } else {
            None
        };
        Ok(RecordsInput {
            records_path: path(u)?,
            time: EventTimeConfig {
                path: time_path,
                format: time_format(u)?,
            },
            id: EventIdConfig {
                path: id_path,
                ..Default::default()
            },
            body: json_value(u)?,
        })
    }
}

/// Records come out of any body as records or as an error naming the path, the same ones a
/// parsed tree holds there, the rest of the body as the tree without them; each record has a
/// non-empty id, the time its field holds, and is kept exactly as sent. Content ids are stable.
pub fn check_records(input: RecordsInput) {
    // What the API sends is text; earlier versions parsed it into a tree.
    let text = input.body.to_string();
    let parsed = page::parse(text.clone().into_bytes(), &input.records_path);
    let (parsed, mut body) = match (parsed, serde_json::from_str::<Value>(&text)) {
        (Ok(parsed), Ok(tree)) => (parsed, tree),
        (Err(err), Ok(_)) => panic!("a JSON body was refused: {}", err.detail),
        (Ok(_), Err(err)) => panic!("a body a tree parse refuses was read: {err}"),
        // Refused by both (nesting past serde_json's limit).
        (Err(_), Err(_)) => return,
    };
    let expected = take_records(&mut body, &input.records_path);
    let (Some(found), Ok(records)) = (parsed.records, expected.as_ref()) else {
        assert!(
            expected.is_err() || expected.as_ref().is_ok_and(Vec::is_empty),
            "the page parse missed a records array"
        );
        return;
    };
    assert_eq!(parsed.rest, body, "the rest of the body");
    assert_eq!(found.len(), records.len(), "the number of records");
    for (data, raw) in found.into_iter().zip(records.iter().cloned()) {
        assert_eq!(data, raw, "the record changed");
        let Ok(record) = to_record(data.clone(), &input.time, &input.id) else {
            continue;
        };
        assert!(!record.id.is_empty(), "empty id for {raw}");
        assert_eq!(record.data, raw, "the record changed");
        let time: Option<DateTime<Utc>> = crate::source::lookup(&raw, &input.time.path)
            .and_then(|t| timefmt::parse_value(t, &input.time.format));
        assert_eq!(Some(record.time), time);
        if input.id.path.is_none() {
            let again = to_record(data, &input.time, &input.id).expect("it read once");
            assert_eq!(again.id, record.id, "content ids are stable");
        }
    }
}
