//! A record's JSON kept as the bytes the API sent, instead of a parsed tree.
//!
//! Parsing every record into a `serde_json::Value` and serializing it again for the sinks
//! cost about half the CPU per event and many times the page's size in memory. A
//! [`RawJson`] is a slice of the page the record came from (shared, not copied): sinks write
//! those bytes through, and only what Sluice must read (event time, id, fields a path names)
//! is looked up, by a borrowing walk over the bytes ([`RawJson::lookup`]). A consumer that
//! needs a tree parses one on demand ([`RawJson::to_value`]) and pays for it alone.
//!
//! The bytes are the record exactly as sent, except for whitespace between tokens, which is
//! removed (an NDJSON line cannot hold a line break, and a pretty-printed API should not
//! bloat the lake): key order, duplicate keys, number spelling and `\u` escapes are kept.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

use super::path::JsonPath;

/// One JSON value as text: a range of a shared buffer (the page it came from), always valid,
/// compact JSON.
#[derive(Clone)]
pub struct RawJson {
    buf: Arc<String>,
    start: usize,
    end: usize,
}

impl RawJson {
    /// The value at `range` of `page`, sharing the page's buffer. The caller has checked
    /// that the range holds one valid JSON value without whitespace between tokens.
    pub(crate) fn in_page(page: &Arc<String>, range: Range<usize>) -> Self {
        debug_assert!(page.get(range.clone()).is_some());
        RawJson {
            buf: Arc::clone(page),
            start: range.start,
            end: range.end,
        }
    }

    /// A value in a buffer of its own. The caller has checked that `json` is one valid JSON
    /// value without whitespace between tokens.
    pub(crate) fn owned(json: String) -> Self {
        let end = json.len();
        RawJson {
            buf: Arc::new(json),
            start: 0,
            end,
        }
    }

    /// The compact JSON text of `value`.
    pub fn from_value(value: &Value) -> Self {
        RawJson::owned(value.to_string())
    }

    /// One valid JSON value given as text (from a file read back, or a test), with any
    /// whitespace between tokens removed. `Err` says why the text is not JSON.
    pub fn parse(json: &str) -> Result<Self, serde_json::Error> {
        let raw: &RawValue = serde_json::from_str(json)?;
        let text = raw.get();
        Ok(RawJson::owned(
            super::compact::without_whitespace(text).unwrap_or_else(|| text.to_string()),
        ))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.buf[self.start..self.end]
    }

    /// The value parsed into a tree, for consumers that need one. It fails only for a value
    /// nested deeper than serde_json's limit of 128, which a page never holds (pages are
    /// refused beyond it) but a value built in code can.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(self.as_str())
    }

    /// The raw JSON at `path`, if there is one: a slice of this value, found without
    /// building a tree. Duplicate keys resolve as in a parsed tree (the last one wins).
    pub fn lookup(&self, path: &JsonPath) -> Option<&RawValue> {
        super::raw_path::find(self.as_str(), &[path])
            .pop()
            .flatten()
    }

    /// Whether both values are slices of one buffer (records of the same page share it).
    pub fn shares_buffer_with(&self, other: &RawJson) -> bool {
        Arc::ptr_eq(&self.buf, &other.buf)
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Equal text: the same bytes, key order and spelling included.
impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// Equal as parsed values (key order and number spelling aside), as a test compares a record
/// with the value it expects.
impl PartialEq<Value> for RawJson {
    fn eq(&self, other: &Value) -> bool {
        self.to_value().is_ok_and(|value| value == *other)
    }
}

impl PartialEq<RawJson> for Value {
    fn eq(&self, other: &RawJson) -> bool {
        other == self
    }
}

impl From<Value> for RawJson {
    fn from(value: Value) -> Self {
        RawJson::from_value(&value)
    }
}

/// Written through as it is by serde_json (through its raw-value support), so a sink that
/// serializes a struct holding the record sends the API's bytes.
impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Re-reading the text only finds where it ends (no tree is built); it cannot fail,
        // since the text is one valid JSON value by construction.
        let raw: &RawValue =
            serde_json::from_str(self.as_str()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        Ok(RawJson::owned(
            super::compact::without_whitespace(text).unwrap_or_else(|| String::from(text)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_kept_as_sent_and_compared_by_value_against_trees() {
        let raw = RawJson::parse("{ \"b\": 1.0, \"a\": \"\\u00e9\" }").unwrap();
        assert_eq!(raw.as_str(), r#"{"b":1.0,"a":"\u00e9"}"#);
        assert_eq!(raw, json!({"a": "é", "b": 1.0}));
        assert_ne!(raw, json!({"a": "é", "b": 2.0}));
        assert_eq!(
            serde_json::to_string(&json!({"x": raw})).unwrap(),
            r#"{"x":{"a":"é","b":1.0}}"#,
            "a tree built from it is a tree"
        );
        #[derive(Serialize)]
        struct Holder<'a> {
            data: &'a RawJson,
        }
        assert_eq!(
            serde_json::to_string(&Holder { data: &raw }).unwrap(),
            r#"{"data":{"b":1.0,"a":"\u00e9"}}"#,
            "serialized through, not re-rendered"
        );
        let back: RawJson = serde_json::from_str(" [1, {\"k\" : null}] ").unwrap();
        assert_eq!(back.as_str(), r#"[1,{"k":null}]"#);
        assert!(RawJson::parse("{").is_err());
    }

    #[test]
    fn lookups_borrow_from_the_text_and_the_last_duplicate_wins() {
        let raw = RawJson::parse(r#"{"a":{"b":[10,{"c":"x"}]},"d":1,"d":2}"#).unwrap();
        let path = |p: &str| JsonPath::parse(p).unwrap();
        assert_eq!(raw.lookup(&path("a.b.1.c")).unwrap().get(), r#""x""#);
        assert_eq!(raw.lookup(&path("d")).unwrap().get(), "2");
        assert!(raw.lookup(&path("a.z")).is_none());
        let found = raw.lookup(&path("a.b")).unwrap().get();
        let range = raw.as_str().as_bytes().as_ptr_range();
        assert!(range.contains(&found.as_ptr()), "a slice, not a copy");
    }
}
