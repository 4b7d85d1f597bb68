//! Paths into a JSON response: where the records, their times and ids, cursors, flags and links
//! are. Parsed once, when the config is loaded, so a malformed path is a config error and
//! looking a value up per record does no parsing.
//!
//! Two forms are accepted:
//!
//! * **Dotted**: `actor.id`, `items.0.id`; `""` is the value itself. A segment in double
//!   quotes is one key whatever it contains: `"@odata.nextLink"`, `value."a.b"`. Inside
//!   quotes, `\"` is a quote and `\\` a backslash.
//! * **JSON Pointer** (RFC 6901), for any key at all: it starts with `/`, segments are
//!   separated by `/`, and `~1` stands for `/`, `~0` for `~`: `/@odata.nextLink`,
//!   `/data/a~1b`.
//!
//! In both forms a segment of digits (`0`, `12`, not `01`) indexes an array; on an object
//! every segment is a key.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

/// What to write instead, shown with every path error.
const HINT: &str = "write keys separated by dots (actor.id), quote a key that contains a dot (\"@odata.nextLink\"), or use a JSON Pointer (/@odata.nextLink)";

/// One step of a path: an object key, which is also an array index when it is a number.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    /// The key, on an object.
    pub(crate) key: String,
    /// The index, on an array (`None` when the key is not a canonical index).
    pub(crate) index: Option<usize>,
}

impl Segment {
    fn new(key: String) -> Self {
        // RFC 6901: an index is `0` or digits without a leading zero.
        let canonical = key == "0"
            || (!key.is_empty()
                && !key.starts_with('0')
                && key.bytes().all(|b| b.is_ascii_digit()));
        let index = canonical.then(|| key.parse().ok()).flatten();
        Segment { key, index }
    }
}

/// A path that cannot be parsed: the path as written, what is wrong and, always, how to
/// write one (the ` (hint: ...)` the config loader shows apart).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path `{path}`: {problem} (hint: {})", HINT)]
pub struct PathError {
    /// The path as written.
    pub path: String,
    /// What is wrong with it.
    pub problem: PathProblem,
}

/// What is wrong in a path, naming the segment (counted from 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    /// A JSON Pointer `~` not followed by `0` or `1` (`after` is what follows, if anything).
    #[error("segment {segment} has `~{after}`; in a JSON Pointer `~` is written `~0` and `/` is written `~1`")]
    PointerEscape {
        /// The segment.
        segment: usize,
        /// The character after `~`, empty at the end.
        after: String,
    },
    /// A backslash inside quotes before something other than `"` or `\`.
    #[error("segment {0}: inside quotes, `\\` may only escape `\"` or `\\`")]
    QuotedEscape(usize),
    /// An opening quote without its closing one.
    #[error("segment {0}: the quote is never closed")]
    Unclosed(usize),
    /// Text right after a closing quote.
    #[error("segment {0}: a quoted key must be followed by `.` or the end of the path")]
    AfterQuote(usize),
    /// A quote in the middle of a plain key.
    #[error("segment {0}: a quote may only open a segment (quote the whole key)")]
    QuoteInside(usize),
    /// Nothing between two dots, or before the first, or after the last.
    #[error("segment {0} is empty")]
    Empty(usize),
}

/// A parsed path into a JSON value, as written in the config (see the module docs).
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

impl JsonPath {
    /// Parses `text`. `Err` says what is wrong, quoting the path, and ends with a hint in the
    /// ` (hint: ...)` form the config loader shows apart.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let segments = if let Some(pointer) = text.strip_prefix('/') {
            parse_pointer(pointer)
        } else {
            parse_dotted(text)
        }
        .map_err(|problem| PathError {
            path: text.to_string(),
            problem,
        })?;
        Ok(JsonPath {
            text: text.to_string(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A path of object keys only (no step indexes an array), as a lake key template's
    /// `{data.a.b}` names a field.
    pub(crate) fn of_keys(keys: &[String]) -> Self {
        JsonPath {
            text: keys.join("."),
            segments: keys
                .iter()
                .map(|key| Segment {
                    key: key.clone(),
                    index: None,
                })
                .collect(),
        }
    }

    /// The steps of the path, in order.
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether this is the empty path: the value itself.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The value at this path, if there is one.
    pub fn lookup<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.segments
            .iter()
            .try_fold(value, |node, segment| match node {
                Value::Object(map) => map.get(&segment.key),
                Value::Array(items) => segment.index.and_then(|i| items.get(i)),
                _ => None,
            })
    }

    /// The value at this path, mutable (to move records out of a body without copying).
    pub fn lookup_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        self.segments
            .iter()
            .try_fold(value, |node, segment| match node {
                Value::Object(map) => map.get_mut(&segment.key),
                Value::Array(items) => segment.index.and_then(|i| items.get_mut(i)),
                _ => None,
            })
    }

    /// Whether the path ends in a key that is missing from an object that is there: the
    /// shape of an API that leaves an empty array out, as opposed to a body of another shape
    /// altogether (an error document), whose parent object is missing too.
    pub fn only_last_key_missing(&self, value: &Value) -> bool {
        let Some((last, parent)) = self.segments.split_last() else {
            return false;
        };
        let parent = JsonPath {
            text: String::new(),
            segments: parent.to_vec(),
        };
        matches!(parent.lookup(value), Some(Value::Object(map)) if !map.contains_key(&last.key))
    }
}

/// Follows `path` in `value`; see [`JsonPath::lookup`].
pub fn lookup<'v>(value: &'v Value, path: &JsonPath) -> Option<&'v Value> {
    path.lookup(value)
}

impl TryFrom<String> for JsonPath {
    type Error = PathError;

    fn try_from(text: String) -> Result<Self, PathError> {
        JsonPath::parse(&text)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

/// RFC 6901 after the leading `/`: segments split on `/`, then `~1` → `/` and `~0` → `~`
/// (in that order, so `~01` is `~1`).
fn parse_pointer(pointer: &str) -> Result<Vec<Segment>, PathProblem> {
    pointer
        .split('/')
        .enumerate()
        .map(|(n, raw)| {
            let mut key = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    key.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => key.push('~'),
                    Some('1') => key.push('/'),
                    other => {
                        return Err(PathProblem::PointerEscape {
                            segment: n + 1,
                            after: other.map(String::from).unwrap_or_default(),
                        })
                    }
                }
            }
            Ok(Segment::new(key))
        })
        .collect()
}

/// Dotted keys, each plain or in double quotes.
fn parse_dotted(text: &str) -> Result<Vec<Segment>, PathProblem> {
    let mut segments = Vec::new();
    if text.is_empty() {
        return Ok(segments);
    }
    let mut chars = text.chars().peekable();
    loop {
        let n = segments.len() + 1;
        let key = if chars.peek() == Some(&'"') {
            chars.next();
            let mut key = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\')) => key.push(c),
                        _ => return Err(PathProblem::QuotedEscape(n)),
                    },
                    Some(c) => key.push(c),
                    None => return Err(PathProblem::Unclosed(n)),
                }
            }
            match chars.peek() {
                None | Some('.') => {}
                Some(_) => return Err(PathProblem::AfterQuote(n)),
            }
            key
        } else {
            let mut key = String::new();
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                if c == '"' {
                    return Err(PathProblem::QuoteInside(n));
                }
                key.push(c);
                chars.next();
            }
            if key.is_empty() {
                return Err(PathProblem::Empty(n));
            }
            key
        };
        segments.push(Segment::new(key));
        match chars.next() {
            None => return Ok(segments),
            // A trailing dot leaves an empty segment, reported on the next turn.
            Some(_) => {
                if chars.peek().is_none() {
                    return Err(PathProblem::Empty(n + 1));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(text: &str) -> JsonPath {
        JsonPath::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn dotted_paths_walk_objects_and_arrays() {
        let v = json!({"a": {"b": [{"c": 1}]}});
        assert_eq!(path("a.b.0.c").lookup(&v), Some(&json!(1)));
        assert_eq!(path("a.x").lookup(&v), None);
        assert_eq!(path("").lookup(&v), Some(&v));
        assert!(path("").is_empty());
        // Not canonical array indexes.
        assert_eq!(path("a.b.00.c").lookup(&v), None);
        assert_eq!(path("a.b.+0.c").lookup(&v), None);
        // On an object, digits are a key.
        assert_eq!(path("7").lookup(&json!({"7": true})), Some(&json!(true)));
    }

    #[test]
    fn keys_with_dots_are_reached_quoted_or_by_pointer() {
        let v = json!({
            "@odata.nextLink": "https://graph/next",
            "value": [{"a.b": {"c/d": {"~e": 5}}}],
            "": {"x": 1}
        });
        for text in ["\"@odata.nextLink\"", "/@odata.nextLink"] {
            assert_eq!(
                path(text).lookup(&v),
                Some(&json!("https://graph/next")),
                "{text}"
            );
        }
        for text in ["value.0.\"a.b\".\"c/d\".\"~e\"", "/value/0/a.b/c~1d/~0e"] {
            assert_eq!(path(text).lookup(&v), Some(&json!(5)), "{text}");
        }
        // `/` is the pointer to the key "" (RFC 6901), and quotes can say it too.
        assert_eq!(path("/").lookup(&v), Some(&json!({"x": 1})));
        assert_eq!(path("\"\".x").lookup(&v), Some(&json!(1)));
        assert_eq!(
            path(r#""say \"hi\"\\""#).lookup(&json!({"say \"hi\"\\": 2})),
            Some(&json!(2))
        );
        assert_eq!(path("/~01").lookup(&json!({"~1": 3})), Some(&json!(3)));
    }

    #[test]
    fn malformed_paths_are_refused_naming_the_path_and_the_fix() {
        for (text, needle) in [
            ("a..b", "segment 2 is empty"),
            (".a", "segment 1 is empty"),
            ("a.", "segment 2 is empty"),
            ("a.\"b", "never closed"),
            ("a.\"b\"c", "followed by"),
            ("a\"b\"", "quote may only open"),
            ("\"a\\n\"", "may only escape"),
            ("/a/~2", "`~2`"),
            ("/a~", "`~`"),
        ] {
            let err = JsonPath::parse(text).unwrap_err().to_string();
            assert!(err.contains(&format!("path `{text}`")), "{text}: {err}");
            assert!(err.contains(needle), "{text}: {err}");
            assert!(err.contains("(hint: "), "{text}: {err}");
        }
    }

    #[test]
    fn mutable_lookup_and_missing_last_key() {
        let mut v = json!({"d": {"items": [1, 2]}});
        path("d.items").lookup_mut(&mut v).unwrap().take();
        assert_eq!(v, json!({"d": {"items": null}}));
        assert!(path("d.other").only_last_key_missing(&v));
        assert!(!path("d.items").only_last_key_missing(&v));
        assert!(!path("x.items").only_last_key_missing(&v), "parent missing");
        assert!(!path("").only_last_key_missing(&v));
    }

    #[test]
    fn paths_deserialize_from_strings_and_show_as_written() {
        #[derive(Deserialize)]
        struct T {
            p: JsonPath,
        }
        let t: T = toml::from_str("p = '\"@odata.nextLink\"'").unwrap();
        assert_eq!(t.p.to_string(), "\"@odata.nextLink\"");
        assert_eq!(format!("{:?}", t.p), "\"\\\"@odata.nextLink\\\"\"");
        let err = toml::from_str::<T>("p = \"a..b\"")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("segment 2 is empty"), "{err}");
    }
}
