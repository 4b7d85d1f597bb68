//! Hostile-input checks: what Sluice must survive whatever it is given, and the entry points
//! the fuzz targets in `fuzz/` and the property tests call.
//!
//! Each `check_*` function takes one typed input (a config text, a response, a JSON value, a
//! stored checkpoint...), runs the code that handles such input in production, and panics
//! only when a property is broken: a panic inside Sluice, or an answer that contradicts
//! another (a next page equal to the page just fetched, an error without a position...). The
//! byte-level entry points ([`config`], [`pagination`], ...) turn arbitrary bytes into those
//! inputs with [`arbitrary`], so a coverage-guided fuzzer can reach every branch; the property
//! tests (`properties`, run by `cargo test`) draw structured inputs with proptest.
//!
//! Built for tests, and with the `fuzzing` feature for `fuzz/` (docs/guarantees.md says how to
//! run and replay both).

mod config;
mod simulator;
mod source;
mod state;

#[cfg(test)]
mod properties;

use crate::source::path::JsonPath;
use arbitrary::{Arbitrary, Unstructured};
use serde_json::Value;

pub use config::check_config;
pub use simulator::{check_faults, check_timeline, FaultsInput, TimelineInput};
pub use source::{
    check_link_header, check_next_page, check_records, check_time, PageInput, RecordsInput,
};
pub use state::check_checkpoint;

/// Config loading: the bytes as a config file's text.
pub fn config(data: &[u8]) {
    check_config(&String::from_utf8_lossy(data));
}

/// Every pagination kind's next-page finder on an arbitrary response.
pub fn pagination(data: &[u8]) {
    let mut u = Unstructured::new(data);
    if let Ok(input) = PageInput::arbitrary(&mut u) {
        check_next_page(&input);
    }
}

/// `Link` header parsing: the bytes split into header fields at newlines.
pub fn link_header(data: &[u8]) {
    let fields: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    check_link_header(&fields);
}

/// Time parsing and writing: a format and a value (JSON text, or a string or number).
pub fn time(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let (Ok(format), Ok(value)) = (source::time_format(&mut u), json_value(&mut u)) else {
        return;
    };
    check_time(&value, &format);
}

/// Record extraction: a records path, time and id settings, and a body.
pub fn records(data: &[u8]) {
    let mut u = Unstructured::new(data);
    if let Ok(input) = RecordsInput::arbitrary(&mut u) {
        check_records(input);
    }
}

/// Checkpoint decoding: the bytes as a stored checkpoint document.
pub fn checkpoint(data: &[u8]) {
    check_checkpoint(data);
}

/// The simulator's fault modes and timeline.
pub fn simulator(data: &[u8]) {
    let mut u = Unstructured::new(data);
    if let Ok(faults) = FaultsInput::arbitrary(&mut u) {
        check_faults(&faults);
    }
    if let Ok(timeline) = TimelineInput::arbitrary(&mut u) {
        check_timeline(&timeline);
    }
}

/// A JSON value: either JSON text (what an API sends, so a fuzzer's dictionary of JSON tokens
/// helps) or one built from the bytes, which reaches odd numbers and deep nesting sooner.
pub(crate) fn json_value(u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    if bool::arbitrary(u)? {
        let text = <&str>::arbitrary(u)?;
        Ok(serde_json::from_str(text).unwrap_or(Value::String(text.to_string())))
    } else {
        built_value(u, 4)
    }
}

fn built_value(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
    let kind = u.int_in_range(0..=if depth == 0 { 4 } else { 6 })?;
    Ok(match kind {
        0 => Value::Null,
        1 => Value::Bool(bool::arbitrary(u)?),
        2 => match u.int_in_range(0..=2)? {
            0 => i64::arbitrary(u)?.into(),
            1 => u64::arbitrary(u)?.into(),
            // Not finite: no JSON number, so null, as serde_json does.
            _ => {
                serde_json::Number::from_f64(f64::arbitrary(u)?).map_or(Value::Null, Value::Number)
            }
        },
        3 | 4 => Value::String(String::arbitrary(u)?),
        5 => Value::Array(
            (0..u.int_in_range(0..=4)?)
                .map(|_| built_value(u, depth - 1))
                .collect::<arbitrary::Result<_>>()?,
        ),
        _ => Value::Object(
            (0..u.int_in_range(0..=4)?)
                .map(|_| Ok((key(u)?, built_value(u, depth - 1)?)))
                .collect::<arbitrary::Result<_>>()?,
        ),
    })
}

/// An object key or path segment: mostly from a few names the paths below use, so bodies
/// and paths meet often.
pub(crate) fn key(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    const KEYS: &[&str] = &[
        "data",
        "items",
        "next",
        "cursor",
        "has_more",
        "pageInfo",
        "hasNextPage",
        "endCursor",
        "id",
        "time",
        "published",
        "0",
        "1",
        "",
    ];
    if u.ratio(3, 4)? {
        Ok((*u.choose(KEYS)?).to_string())
    } else {
        String::arbitrary(u)
    }
}

/// A dotted path of one to three [`key`]s, or the empty path, parsed as the config would
/// parse it (texts it refuses are not paths a loaded config can hold).
pub(crate) fn path(u: &mut Unstructured<'_>) -> arbitrary::Result<JsonPath> {
    let parts = u.int_in_range(0..=3)?;
    let text = (0..parts)
        .map(|_| key(u))
        .collect::<arbitrary::Result<Vec<_>>>()?
        .join(".");
    JsonPath::parse(&text).map_err(|_| arbitrary::Error::IncorrectFormat)
}
