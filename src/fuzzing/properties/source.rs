//! Responses: every pagination kind, Link headers, times, records; and the simulator's faults.

use std::time::Duration;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{json, key, path, text};
use crate::config::{EventIdConfig, EventTimeConfig, PaginationConfig};
use crate::fuzzing::{
    check_faults, check_link_header, check_next_page, check_records, check_time, FaultsInput,
    PageInput, RecordsInput,
};
use crate::model::TimeFormat;
use crate::simulator::Faults;
use crate::source::path::JsonPath;
use crate::state::PageRef;

/// A path the config accepts, from a literal.
fn jpath(text: &str) -> JsonPath {
    JsonPath::parse(text).unwrap_or_else(|e| panic!("{text:?} is a path: {e}"))
}

/// One [`key`] as a path, when the config would accept it.
fn key_path() -> impl Strategy<Value = JsonPath> {
    key().prop_filter_map("a key the config accepts", |k| JsonPath::parse(&k).ok())
}

fn pagination() -> impl Strategy<Value = PaginationConfig> {
    let flag = || prop::option::of(path());
    prop_oneof![
        Just(PaginationConfig::None {}),
        Just(PaginationConfig::LinkHeader {}),
        path().prop_map(|path| PaginationConfig::NextUrl { path }),
        (path(), flag()).prop_map(|(path, has_more_path)| PaginationConfig::Cursor {
            path,
            param: None,
            has_more_path,
            cursor_join: ",".to_string(),
            cursor_encoding: Default::default(),
            empty_page_ends: false,
            from_last_record: false,
        }),
        flag().prop_map(|has_more_path| PaginationConfig::Offset { has_more_path }),
        (any::<u64>(), flag(), flag()).prop_map(|(first, has_more_path, next_page_path)| {
            PaginationConfig::PageNumber {
                first,
                has_more_path,
                next_page_path,
            }
        }),
        path().prop_map(|page_info_path| PaginationConfig::Graphql { page_info_path }),
    ]
}

fn page_ref() -> impl Strategy<Value = Option<PageRef>> {
    prop::option::of(prop_oneof![
        text().prop_map(PageRef::Url),
        text().prop_map(PageRef::Token),
        any::<u64>().prop_map(PageRef::Offset),
        any::<u64>().prop_map(PageRef::Page),
        prop::sample::select(vec![u64::MAX, u64::MAX - 1, 0]).prop_map(PageRef::Page),
        prop::sample::select(vec![u64::MAX, u64::MAX - 1, 0]).prop_map(PageRef::Offset),
    ])
}

/// Bodies shaped like each kind's: a next value, a has-more flag, a pageInfo, at the paths.
fn paged_body() -> impl Strategy<Value = Value> {
    (json(), json(), json()).prop_map(|(next, more, end)| {
        json!({
            "next": next, "has_more": more, "cursor": end,
            "data": {"next": next, "pageInfo": {"hasNextPage": more, "endCursor": end}},
        })
    })
}

/// Link header fields: well-formed ones with odd URIs and relations, and noise.
fn link_field() -> impl Strategy<Value = Vec<u8>> {
    let uri = prop_oneof![
        Just("https://api.example.com/v1/events?after=2".to_string()),
        Just("/v1/events?after=2".to_string()),
        Just("//other.example.com/x".to_string()),
        Just("".to_string()),
        text(),
    ];
    let rel = prop::sample::select(vec![
        "next",
        "NEXT",
        "Next",
        "prev",
        "next prev",
        "",
        "\"next\"",
    ]);
    let well_formed =
        (uri, rel, any::<bool>(), "[ ;,=\"a-z]{0,8}").prop_map(|(uri, rel, quoted, tail)| {
            let rel = if quoted {
                format!("\"{rel}\"")
            } else {
                rel.to_string()
            };
            format!("<{uri}>; rel={rel}{tail}").into_bytes()
        });
    prop_oneof![
        4 => well_formed,
        1 => "[ -~]{0,40}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ]
}

fn time_format() -> impl Strategy<Value = TimeFormat> {
    let piece = prop::sample::select(vec![
        "%Y", "%m", "%d", "%H", "%M", "%S", "%.f", "%.3f", "%f", "%z", "%:z", "%Z", "%s", "%j",
        "%b", "%e", "%y", "%C", "%G", "%V", "%u", "%+", "%%", "%", "%#z", "%3f", "T", "-", ":",
        " ", ".", "/",
    ]);
    prop_oneof![
        Just(TimeFormat::Rfc3339),
        Just(TimeFormat::EpochSeconds),
        Just(TimeFormat::EpochMillis),
        Just(TimeFormat::EpochMicros),
        Just(TimeFormat::EpochNanos),
        prop::collection::vec(piece, 0..8).prop_map(|p| TimeFormat::Strftime(p.concat().into())),
    ]
}

/// Times as APIs write them, and the limits of every number type.
fn time_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-100_000_000_000i64..100_000_000_000).prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<i64>().prop_map(|n| Value::String(n.to_string())),
        "[ +-]?[0-9]{1,25}(\\.[0-9]{0,12})?".prop_map(Value::String),
        "[0-9+-]{1,7}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|[+-][0-9]{2}:?[0-9]{2})?"
            .prop_map(Value::String),
        "[0-9]{2}/[0-9]{2}/[0-9]{4} [0-9]{2}:[0-9]{2} [+-][0-9]{4}".prop_map(Value::String),
        json(),
    ]
}

proptest! {
    #[test]
    fn every_pagination_kind_finds_a_later_page_or_none_or_an_error(
        pagination in pagination(),
        links in prop::collection::vec(link_field(), 0..3),
        body in prop_oneof![json(), paged_body()],
        page in page_ref(),
        records in prop_oneof![any::<usize>(), 0usize..200],
        page_size in prop::option::of(prop_oneof![any::<u64>(), 0u64..200]),
    ) {
        check_next_page(&PageInput { pagination, links, body, page, records, page_size });
    }

    #[test]
    fn link_headers_name_an_absolute_next_url_or_none_or_an_error(
        fields in prop::collection::vec(link_field(), 0..4),
    ) {
        check_link_header(&fields);
    }

    #[test]
    fn times_read_write_back_and_cut_consistently(
        value in time_value(),
        format in time_format(),
    ) {
        check_time(&value, &format);
    }

    #[test]
    fn records_come_out_with_their_time_and_a_stable_id(
        body in prop_oneof![
            json(),
            prop::collection::vec(json(), 0..4).prop_map(|items| json!({"data": {"items": items}})),
            prop::collection::vec(time_value(), 0..4).prop_map(|times| {
                Value::Array(times.into_iter().map(|t| json!({"time": t, "id": t})).collect())
            }),
        ],
        records_path in prop_oneof![Just(jpath("")), Just(jpath("data.items")), path()],
        time_path in key_path(),
        format in time_format(),
        id_path in prop::option::of(key_path()),
    ) {
        check_records(RecordsInput {
            body,
            records_path,
            time: EventTimeConfig { path: time_path, format },
            id: EventIdConfig {
                path: id_path,
                ..Default::default()
            },
        });
    }

    #[test]
    fn simulator_faults_fire_as_configured_and_cut_bodies_never_parse(
        rates in prop::array::uniform4(prop_oneof![
            Just(0.0), Just(1.0), 0.0f64..=1.0, any::<f64>(),
        ]),
        slow_ms in 0u64..10_000,
        seed in any::<u64>(),
        records in prop::collection::vec(json(), 0..4),
    ) {
        let faults = Faults {
            rate_429: rates[0],
            rate_5xx: rates[1],
            rate_truncate: rates[2],
            rate_slow: rates[3],
            slow: Duration::from_millis(slow_ms),
            seed: Some(seed),
        };
        check_faults(&FaultsInput { faults, records });
    }
}
