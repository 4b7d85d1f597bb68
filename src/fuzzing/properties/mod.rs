//! Property tests: the `check_*` properties over inputs drawn by proptest, run by `cargo test`.
//!
//! Each property draws 256 inputs by default; `PROPTEST_CASES=N` draws N (the nightly job,
//! `.ci/fuzz`, draws far more). A failure prints the smallest input proptest could shrink it
//! to, and the seed is kept under `proptest-regressions/` so the next run tries it first.
//! Besides structured inputs, every fuzz target's byte entry point gets raw bytes here too, so
//! `cargo test` covers the fuzz targets' input decoding.

mod config;
mod source;
mod state;

use proptest::prelude::*;
use serde_json::Value;

/// JSON values with the odd corners APIs reach: huge and negative numbers, floats, empty and
/// non-ASCII strings, nesting. Keys come mostly from the names the paths use.
pub(super) fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Strings: mostly short, sometimes anything.
pub(super) fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9 _.:/?=&%-]{0,12}",
        1 => any::<String>(),
    ]
}

/// Keys and path segments that bodies and paths share.
pub(super) fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "data", "items", "next", "cursor", "has_more", "pageInfo", "hasNextPage",
            "endCursor", "id", "time", "0", "1", "",
        ])
        .prop_map(str::to_string),
        1 => text(),
    ]
}

/// A dotted path of up to three keys.
pub(super) fn path() -> impl Strategy<Value = crate::source::path::JsonPath> {
    prop::collection::vec(key(), 0..4).prop_filter_map("a path the config accepts", |parts| {
        crate::source::path::JsonPath::parse(&parts.join(".")).ok()
    })
}

/// Raw bytes for the fuzz targets' entry points.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..512)
}

proptest! {
    #[test]
    fn the_fuzz_targets_survive_raw_bytes(data in bytes()) {
        super::config(&data);
        super::pagination(&data);
        super::link_header(&data);
        super::time(&data);
        super::records(&data);
        super::checkpoint(&data);
        super::simulator(&data);
    }
}
