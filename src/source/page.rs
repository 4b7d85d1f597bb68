//! Reading a page's body: where each record is in it, and the rest of it as a tree.
//!
//! The body is read once into one buffer, which the records then share ([`RawJson`] slices):
//! no tree is built for them and nothing is copied. What is around the records (cursors,
//! flags, links) is small and parsed into a tree for the pagination logic, with the records
//! array replaced by `null`. A body that is not JSON is refused with the very error a full
//! parse gives (same message, same position), since records are only checked for syntax on
//! the way and a full parse decides whenever anything is in doubt.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::compact;
use super::config::RecordsShape;
use super::path::{JsonPath, Segment};
use super::raw::RawJson;
use super::raw_path::Key;

/// A body read as JSON.
#[derive(Debug)]
pub struct ParsedBody {
    /// The body without its records: the records array, if there is one at the records
    /// path, is replaced by `null`. Anything else at that path is left in place.
    pub rest: Value,
    /// The records, when the records path holds an array.
    pub records: Option<Vec<RawJson>>,
}

/// Why a body is not JSON, as a full parse says it.
#[derive(Debug)]
pub struct NotJson {
    /// serde_json's message, with line and column.
    pub detail: String,
    /// The first bytes of the body.
    pub preview: String,
}

/// Reads `body`, finding the records at `records_path`. `Err` is what a full parse of the
/// body reports. (Pages go through [`parse_shaped`]; this array-only form serves the tests and
/// the fuzz targets.)
#[cfg(any(test, feature = "fuzzing"))]
pub fn parse(body: Vec<u8>, records_path: &JsonPath) -> Result<ParsedBody, NotJson> {
    parse_shaped(body, records_path, RecordsShape::Array)
}

/// Reads `body`, finding the records at `records_path`, shaped as `shape` says: with
/// [`RecordsShape::ObjectValues`], the values of the object at the path are the records, in
/// the order the body lists them (a tree would sort its keys: `Event10` before `Event2`).
pub fn parse_shaped(
    body: Vec<u8>,
    records_path: &JsonPath,
    shape: RecordsShape,
) -> Result<ParsedBody, NotJson> {
    let text = match String::from_utf8(body) {
        Ok(text) => Arc::new(text),
        Err(err) => return Err(refusal(err.as_bytes(), None)),
    };
    let (rest, ranges) = match walk(&text, records_path, shape) {
        Ok(walked) => walked,
        Err(err) => return Err(refusal(text.as_bytes(), Some(err))),
    };
    let Some(ranges) = ranges else {
        return Ok(ParsedBody {
            rest,
            records: None,
        });
    };
    // Records start inside the containers of their path and their array.
    let depth = records_path.segments().len() + 1;
    let mut fully_checked = false;
    let mut records = Vec::with_capacity(ranges.len());
    for range in ranges {
        let scan = compact::scan(&text.as_bytes()[range.clone()], depth);
        if scan.doubtful && !fully_checked {
            if let Err(err) = serde_json::from_slice::<Checked>(text.as_bytes()) {
                return Err(refusal(text.as_bytes(), Some(err)));
            }
            fully_checked = true;
        }
        let record = match scan
            .spaced
            .then(|| compact::without_whitespace(&text[range.clone()]))
            .flatten()
        {
            Some(compacted) => RawJson::owned(compacted),
            None => RawJson::in_page(&text, range),
        };
        records.push(record);
    }
    Ok(ParsedBody {
        rest,
        records: Some(records),
    })
}

/// The error a full parse of `body` gives; `fallback` if it gives none.
fn refusal(body: &[u8], fallback: Option<serde_json::Error>) -> NotJson {
    let detail = match (serde_json::from_slice::<Checked>(body), fallback) {
        (Err(err), _) | (Ok(Checked), Some(err)) => err.to_string(),
        (Ok(Checked), None) => "not JSON".to_string(),
    };
    NotJson {
        detail,
        preview: String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned(),
    }
}

/// Any JSON value, read by a full parse (strings decoded, numbers converted, nesting
/// counted) and kept nowhere: it refuses exactly what parsing into a `Value` refuses.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// What a walk found in one value: the value as a tree (records left out) and the records'
/// byte ranges in the body, if the records array is in it.
type Walked = (Value, Option<Vec<Range<usize>>>);

/// Reads `text` as a tree, except for the array at `path`, whose elements are only located.
fn walk(text: &str, path: &JsonPath, shape: RecordsShape) -> Result<Walked, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let walked = Walk {
        steps: path.segments(),
        body: text,
        values: shape == RecordsShape::ObjectValues,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(walked)
}

/// Reads one value with `steps` of the records path left to follow.
#[derive(Clone, Copy)]
struct Walk<'p, 'b> {
    steps: &'p [Segment],
    body: &'b str,
    /// The records are the values of an object at the path (or the elements of an array).
    values: bool,
}

impl Walk<'_, '_> {
    /// Where `raw`, a slice of the body, lies in it.
    fn range_of<E: de::Error>(&self, raw: &str) -> Result<Range<usize>, E> {
        let start = (raw.as_ptr() as usize).wrapping_sub(self.body.as_ptr() as usize);
        let range = start..start + raw.len();
        // A borrowed raw value is a slice of the text being read; check rather than trust.
        match self.body.get(range.clone()) {
            Some(slice) if std::ptr::eq(slice, raw) => Ok(range),
            _ => Err(E::custom("a record is not a slice of the page")),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = Walked;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Walked, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = Walked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Walked, E> {
        Ok((Value::Bool(v), None))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Walked, E> {
        Ok((Value::from(v), None))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Walked, E> {
        Ok((Value::from(v), None))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Walked, E> {
        Ok((Value::from(v), None))
    }

    fn visit_str<E>(self, v: &str) -> Result<Walked, E> {
        Ok((Value::String(v.to_string()), None))
    }

    fn visit_string<E>(self, v: String) -> Result<Walked, E> {
        Ok((Value::String(v), None))
    }

    fn visit_unit<E>(self) -> Result<Walked, E> {
        Ok((Value::Null, None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Walked, A::Error> {
        let Some((step, rest)) = self.steps.split_first() else {
            // The records array: each element located, none read.
            let mut ranges = Vec::new();
            while let Some(raw) = seq.next_element::<&'de RawValue>()? {
                ranges.push(self.range_of(raw.get())?);
            }
            return Ok((Value::Null, Some(ranges)));
        };
        let inner = Walk {
            steps: rest,
            ..self
        };
        let (mut items, mut found) = (Vec::new(), None);
        loop {
            let next = if step.index == Some(items.len()) {
                seq.next_element_seed(inner)?
            } else {
                seq.next_element::<Value>()?.map(|v| (v, None))
            };
            let Some((value, records)) = next else {
                return Ok((Value::Array(items), found));
            };
            items.push(value);
            if records.is_some() {
                found = records;
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Walked, A::Error> {
        let Some((step, rest)) = self.steps.split_first() else {
            if self.values {
                // The records object: each value located, in the body's order, none read.
                let mut ranges = Vec::new();
                while map.next_key::<de::IgnoredAny>()?.is_some() {
                    let raw = map.next_value::<&'de RawValue>()?;
                    ranges.push(self.range_of(raw.get())?);
                }
                return Ok((Value::Null, Some(ranges)));
            }
            let value = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
            return Ok((value, None));
        };
        let inner = Walk {
            steps: rest,
            ..self
        };
        let (mut object, mut found) = (Map::new(), None);
        while let Some(Key(key)) = map.next_key()? {
            if *key == step.key {
                let (value, records) = map.next_value_seed(inner)?;
                object.insert(key.into_owned(), value);
                // A repeated key replaces its first occurrence, records included.
                found = records;
            } else {
                let value = map.next_value::<Value>()?;
                object.insert(key.into_owned(), value);
            }
        }
        Ok((Value::Object(object), found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(text: &str) -> JsonPath {
        JsonPath::parse(text).unwrap()
    }

    fn records(parsed: &ParsedBody) -> Vec<&str> {
        parsed
            .records
            .as_ref()
            .unwrap()
            .iter()
            .map(RawJson::as_str)
            .collect()
    }

    #[test]
    fn records_are_located_and_the_rest_is_a_tree_with_null_in_their_place() {
        let body = r#"{"next":"c2","data":{"items":[{"b":1,"a":"\u00e9"},7,[]],"n":2}}"#;
        let parsed = parse(body.as_bytes().to_vec(), &path("data.items")).unwrap();
        assert_eq!(records(&parsed), [r#"{"b":1,"a":"\u00e9"}"#, "7", "[]"]);
        assert_eq!(
            parsed.rest,
            json!({"next": "c2", "data": {"items": null, "n": 2}})
        );
        let root = parse(
            b" [ {\"a\": [1, 2]} ,{\"b\":\"x y\"} ] ".to_vec(),
            &path(""),
        )
        .unwrap();
        assert_eq!(records(&root), [r#"{"a":[1,2]}"#, r#"{"b":"x y"}"#]);
        assert_eq!(root.rest, Value::Null);
        let indexed = parse(br#"{"d":[{"r":[1]},{"r":[2]}]}"#.to_vec(), &path("d.1.r")).unwrap();
        assert_eq!(records(&indexed), ["2"]);
        // As in a tree, a repeated key counts once, the last time.
        let repeated = parse(br#"{"r":[1],"r":[2,3]}"#.to_vec(), &path("r")).unwrap();
        assert_eq!(records(&repeated), ["2", "3"]);
        let replaced = parse(br#"{"r":[1],"r":5}"#.to_vec(), &path("r")).unwrap();
        assert!(replaced.records.is_none());
        assert_eq!(replaced.rest, json!({"r": 5}));
        let elsewhere = parse(br#"{"x":[1]}"#.to_vec(), &path("r")).unwrap();
        assert!(elsewhere.records.is_none());
        assert_eq!(elsewhere.rest, json!({"x": [1]}));
    }

    /// LastPass answers `{"data": {"Event1": {...}, "Event2": {...}}}`: the records are the
    /// values, in the body's order (not the sorted order of a tree, where `Event10` comes
    /// before `Event2`), and PHP's empty object, `[]`, is an empty page.
    #[test]
    fn object_values_are_the_records_in_body_order() {
        let body = r#"{"status":"OK","next":"x","data":{"Event2":{"t":2},"Event10":{"t":10},"Event1":{"t": 1}}}"#;
        let parsed = parse_shaped(
            body.as_bytes().to_vec(),
            &path("data"),
            RecordsShape::ObjectValues,
        )
        .unwrap();
        assert_eq!(
            records(&parsed),
            [r#"{"t":2}"#, r#"{"t":10}"#, r#"{"t":1}"#]
        );
        assert_eq!(
            parsed.rest,
            json!({"status": "OK", "next": "x", "data": null})
        );
        for empty in [r#"{"data":[]}"#, r#"{"data":{}}"#] {
            let parsed = parse_shaped(
                empty.as_bytes().to_vec(),
                &path("data"),
                RecordsShape::ObjectValues,
            )
            .unwrap();
            assert!(records(&parsed).is_empty(), "{empty}");
        }
        // An array's elements are records too; an array shape leaves an object as a tree.
        let array = parse_shaped(
            br#"{"data":[{"t":1}]}"#.to_vec(),
            &path("data"),
            RecordsShape::ObjectValues,
        )
        .unwrap();
        assert_eq!(records(&array), [r#"{"t":1}"#]);
        let tree = parse(br#"{"data":{"Event1":{"t":1}}}"#.to_vec(), &path("data")).unwrap();
        assert!(tree.records.is_none());
        // Bodies that are not JSON are refused as a full parse refuses them.
        let bad = parse_shaped(
            br#"{"data":{"Event1":{"t":1},}}"#.to_vec(),
            &path("data"),
            RecordsShape::ObjectValues,
        );
        assert!(bad.is_err());
    }

    /// The records of a page are slices of one buffer, the body's: not copies, not trees.
    #[test]
    fn records_share_the_page_buffer() {
        let body = br#"{"items":[{"id":"a"},{"id":"b"},{"id": "spaced"}]}"#.to_vec();
        let body_at = body.as_ptr();
        let parsed = parse(body, &path("items")).unwrap();
        let list = parsed.records.unwrap();
        assert!(list[0].shares_buffer_with(&list[1]));
        // The body was moved into the buffer, not copied: the record points into it.
        assert_eq!(list[0].as_str().as_ptr(), body_at.wrapping_add(10));
        // A record with whitespace between tokens is compacted into a buffer of its own.
        assert_eq!(list[2].as_str(), r#"{"id":"spaced"}"#);
        assert!(!list[2].shares_buffer_with(&list[0]));
    }

    /// Whatever a body holds, it is refused exactly when, and with exactly the message
    /// that, parsing it into a `serde_json::Value` gives.
    #[test]
    fn bodies_that_are_not_json_are_refused_with_the_full_parse_error() {
        let deep = format!("{{\"items\":[{}{}]}}", "[".repeat(130), "]".repeat(130));
        let deep_ok = format!("{{\"items\":[{}{}]}}", "[".repeat(120), "]".repeat(120));
        let mut bad_utf8 = br#"{"items":[{"a":"x"#.to_vec();
        bad_utf8.extend_from_slice(&[0xff, b'"', b'}', b']', b'}']);
        let mut bad_utf8_outside = br#"{"items":[1,"#.to_vec();
        bad_utf8_outside.extend_from_slice(&[0xc3, 0xa9, b']', b'}']);
        let bodies: Vec<Vec<u8>> = [
            r#"{"items":[{"a":1},]}"#,
            r#"{"items":[{"a":01}]}"#,
            r#"{"items":[{"a":1.}]}"#,
            r#"{"items":[{"a":"\x"}]}"#,
            "{\"items\":[{\"a\":\"tab\there\"}]}",
            r#"{"items":[{"a":"\ud800"}]}"#,
            r#"{"items":[{"a":"\udc00\ud800"}]}"#,
            r#"{"items":[{"a":"\ud83d\ude00"}]}"#,
            r#"{"items":[{"a":1e400}]}"#,
            r#"{"items":[{"a":-1e308}]}"#,
            r#"{"items":[{"a":1}]} x"#,
            r#"{"items":[{"a":1}"#,
            r#"{"items":[{"a" 1}]}"#,
            r#"{"next":"\ud800","items":[]}"#,
            r#"{"items":[1]}"#,
            "<html>",
            "",
            &deep,
            &deep_ok,
        ]
        .iter()
        .map(|b| b.as_bytes().to_vec())
        .chain([bad_utf8, bad_utf8_outside])
        .collect();
        for body in bodies {
            let shown = String::from_utf8_lossy(&body).into_owned();
            let expected = serde_json::from_slice::<Value>(&body)
                .err()
                .map(|e| e.to_string());
            let got = parse(body, &path("items")).err().map(|e| e.detail);
            assert_eq!(got, expected, "{shown}");
        }
    }
}
