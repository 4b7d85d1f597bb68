//! Field paths into an event: where a step reads and writes.
//!
//! The syntax is the one every path of the config uses ([`JsonPath`]: `actor.id`,
//! `target.0.id`, `"a.b"` for a key holding a dot, or a JSON Pointer), less the empty path:
//! a step works on a field, never on the whole event (its `data` must stay one object).

use serde_json::{Map, Value};

use crate::source::path::{JsonPath, PathError};

/// Why a field path cannot be used: it is written wrong, or a write along it is blocked by
/// what the event holds. Messages name the path, never a value (events hold personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The path is not written right; the message quotes it and ends with a hint.
    #[error(transparent)]
    Syntax(#[from] PathError),
    /// The empty path, which names the whole event.
    #[error("the empty path names the whole event, which a step must keep an object (hint: name a field, e.g. actor.id)")]
    Empty,
    /// A write stops on the way: `at` (the event, or a path quoted) holds `found`.
    #[error("cannot write `{path}`: {at} holds {found}, which has no field `{field}`")]
    Blocked {
        /// The path written to.
        path: String,
        /// Where the way stops: `the event` or a quoted path.
        at: String,
        /// What is there instead, with its article (`a string`, `an array of 2`).
        found: String,
        /// The key that could not be reached.
        field: String,
    },
    /// Something other than an object where an object is written into.
    #[error("cannot write into `{path}`: it holds {found}, not an object")]
    NotAnObject {
        /// The path.
        path: String,
        /// What is there, with its article.
        found: &'static str,
    },
    /// Nothing to write into at the path, even after making it.
    #[error("cannot write into `{path}`")]
    CannotWriteInto {
        /// The path.
        path: String,
    },
    /// The way to a field is gone, so nothing can be written beside it.
    #[error("cannot write beside `{path}`: the way to it is gone")]
    WayGone {
        /// The path.
        path: String,
    },
    /// A field that sits in something other than an object.
    #[error("cannot write beside `{path}`: it sits in {found}, not an object (name an object with `to`)")]
    NotInAnObject {
        /// The path.
        path: String,
        /// What holds it, with its article.
        found: &'static str,
    },
    /// Something other than an array where an element is added.
    #[error("cannot add to `{path}`: it holds {found}, not an array")]
    NotAnArray {
        /// The path.
        path: String,
        /// What is there, with its article.
        found: &'static str,
    },
    /// Nothing to add to at the path, even after making it.
    #[error("cannot add to `{path}`")]
    CannotAddTo {
        /// The path.
        path: String,
    },
}

/// A path to one field of an event, parsed when the chain is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath(JsonPath);

impl FieldPath {
    /// Parses `text`; `Err` says what is wrong, quoting the path, with a hint after
    /// ` (hint: `.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let path = JsonPath::parse(text)?;
        if path.is_empty() {
            return Err(FieldError::Empty);
        }
        Ok(FieldPath(path))
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The value at the path, if there is one.
    pub fn get<'v>(&self, event: &'v Value) -> Option<&'v Value> {
        self.0.lookup(event)
    }

    /// The value at the path, mutable.
    pub fn get_mut<'v>(&self, event: &'v mut Value) -> Option<&'v mut Value> {
        self.0.lookup_mut(event)
    }

    /// Takes the value out of the event: a key leaves its object, an element its array (the
    /// elements after it move up). `None` when there is nothing there.
    pub fn take(&self, event: &mut Value) -> Option<Value> {
        let (last, parents) = self.0.segments().split_last()?;
        let parent = parents.iter().try_fold(event, |node, segment| match node {
            Value::Object(map) => map.get_mut(&segment.key),
            Value::Array(items) => segment.index.and_then(|i| items.get_mut(i)),
            _ => None,
        })?;
        match parent {
            Value::Object(map) => map.remove(&last.key),
            Value::Array(items) => match last.index {
                Some(i) if i < items.len() => Some(items.remove(i)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Writes `value` at the path, replacing what is there and making the objects on the way
    /// that are missing. `Err` when the way is blocked: a value on the way that is neither an
    /// object nor an array, or an array index past the end.
    pub fn put(&self, event: &mut Value, value: Value) -> Result<(), FieldError> {
        let (last, parents) = self
            .0
            .segments()
            .split_last()
            .expect("a field path has at least one segment (the empty path is refused)");
        let mut node = event;
        for (depth, segment) in parents.iter().enumerate() {
            node = match node {
                Value::Object(map) => map
                    .entry(segment.key.clone())
                    .or_insert_with(|| Value::Object(Map::new())),
                Value::Array(items) => {
                    let len = items.len();
                    match segment.index.and_then(|i| items.get_mut(i)) {
                        Some(item) => item,
                        None => return Err(self.blocked(depth, &format!("an array of {len}"))),
                    }
                }
                other => return Err(self.blocked(depth, kind_of(other))),
            };
        }
        match node {
            Value::Object(map) => {
                map.insert(last.key.clone(), value);
                Ok(())
            }
            Value::Array(items) => match last.index {
                Some(i) if i < items.len() => {
                    items[i] = value;
                    Ok(())
                }
                _ => Err(self.blocked(parents.len(), &format!("an array of {}", items.len()))),
            },
            other => Err(self.blocked(parents.len(), kind_of(other))),
        }
    }

    /// Why a write stops at segment `depth` (0-based) of the path, which holds `found`.
    fn blocked(&self, depth: usize, found: &str) -> FieldError {
        let segments = self.0.segments();
        let on_the_way: Vec<&str> = segments[..depth].iter().map(|s| s.key.as_str()).collect();
        let at = if on_the_way.is_empty() {
            "the event".to_string()
        } else {
            format!("`{}`", on_the_way.join("."))
        };
        FieldError::Blocked {
            path: self.as_str().to_string(),
            at,
            found: found.to_string(),
            field: segments[depth].key.clone(),
        }
    }
}

/// A JSON value's kind, with its article, for messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The object at `path`, made (empty, with the objects on the way) when nothing is there.
/// `Err` names the path when something else is there or the way is blocked.
pub(crate) fn object_at<'v>(
    path: &FieldPath,
    event: &'v mut Value,
) -> Result<&'v mut Map<String, Value>, FieldError> {
    if path.get(event).is_none() {
        path.put(event, Value::Object(Map::new()))?;
    }
    match path.get_mut(event) {
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(FieldError::NotAnObject {
            path: path.as_str().to_string(),
            found: kind_of(other),
        }),
        None => Err(FieldError::CannotWriteInto {
            path: path.as_str().to_string(),
        }),
    }
}

/// The object that holds the field at `path` (the event itself for a top-level field).
/// `Err` when the field sits in an array, or the way to it holds no object.
pub(crate) fn parent_object<'v>(
    path: &FieldPath,
    event: &'v mut Value,
) -> Result<&'v mut Map<String, Value>, FieldError> {
    let segments = path.0.segments();
    let parents = &segments[..segments.len().saturating_sub(1)];
    let mut node = event;
    for segment in parents {
        node = match node {
            Value::Object(map) => map.get_mut(&segment.key),
            Value::Array(items) => segment.index.and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| FieldError::WayGone {
            path: path.as_str().to_string(),
        })?;
    }
    match node {
        Value::Object(map) => Ok(map),
        other => Err(FieldError::NotInAnObject {
            path: path.as_str().to_string(),
            found: kind_of(other),
        }),
    }
}

/// Appends `value` to the array at `path`, made when nothing is there. `Err` names the path
/// when something other than an array is there.
pub(crate) fn push(path: &FieldPath, event: &mut Value, value: Value) -> Result<(), FieldError> {
    if path.get(event).is_none() {
        path.put(event, Value::Array(Vec::new()))?;
    }
    match path.get_mut(event) {
        Some(Value::Array(items)) => {
            items.push(value);
            Ok(())
        }
        Some(other) => Err(FieldError::NotAnArray {
            path: path.as_str().to_string(),
            found: kind_of(other),
        }),
        None => Err(FieldError::CannotAddTo {
            path: path.as_str().to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(text: &str) -> FieldPath {
        FieldPath::parse(text).unwrap()
    }

    #[test]
    fn paths_that_cannot_name_a_field_are_refused() {
        let err = |text: &str| FieldPath::parse(text).unwrap_err().to_string();
        assert_eq!(FieldPath::parse(""), Err(FieldError::Empty));
        assert!(err("").contains("whole event"));
        assert!(err("a..b").contains("segment 2 is empty"));
        assert!(err("a.").contains("hint:"));
    }

    #[test]
    fn put_makes_the_objects_on_the_way_and_replaces_values() {
        let mut event = json!({"a": {"b": 1}, "list": [{"x": 1}]});
        path("a.b").put(&mut event, json!(2)).unwrap();
        path("c.d.e").put(&mut event, json!("new")).unwrap();
        path("list.0.y").put(&mut event, json!(true)).unwrap();
        assert_eq!(
            event,
            json!({"a": {"b": 2}, "c": {"d": {"e": "new"}}, "list": [{"x": 1, "y": true}]})
        );
    }

    #[test]
    fn put_says_where_the_way_is_blocked() {
        let mut event = json!({"a": "text", "list": [1]});
        let err = path("a.b").put(&mut event, json!(1)).unwrap_err();
        assert!(
            matches!(&err, FieldError::Blocked { field, .. } if field == "b"),
            "{err:?}"
        );
        let err = err.to_string();
        assert!(err.contains("`a` holds a string"), "{err}");
        let err = path("list.3")
            .put(&mut event, json!(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`list` holds an array of 1"), "{err}");
        let err = path("list.0.x")
            .put(&mut event, json!(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`list.0` holds a number"), "{err}");
        assert_eq!(event, json!({"a": "text", "list": [1]}), "nothing written");
    }

    #[test]
    fn take_removes_keys_and_elements() {
        let mut event = json!({"a": {"b": 1, "c": 2}, "list": [1, 2, 3]});
        assert_eq!(path("a.b").take(&mut event), Some(json!(1)));
        assert_eq!(path("list.0").take(&mut event), Some(json!(1)));
        assert_eq!(path("a.missing").take(&mut event), None);
        assert_eq!(path("list.9").take(&mut event), None);
        assert_eq!(path("a.c.deeper").take(&mut event), None);
        assert_eq!(event, json!({"a": {"c": 2}, "list": [2, 3]}));
    }
}
