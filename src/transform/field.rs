//! Field paths into an event: where a step reads and writes.
//!
//! The syntax is the one every path of the config uses ([`JsonPath`]: `actor.id`,
//! `target.0.id`, `"a.b"` for a key holding a dot, or a JSON Pointer), less the empty path:
//! a step works on a field, never on the whole event (its `data` must stay one object).

use serde_json::{Map, Value};

use crate::source::path::JsonPath;

/// A path to one field of an event, parsed when the chain is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath(JsonPath);

impl FieldPath {
    /// Parses `text`; `Err` says what is wrong, quoting the path, with a hint after
    /// ` (hint: `.
    pub fn parse(text: &str) -> Result<Self, String> {
        let path = JsonPath::parse(text)?;
        if path.is_empty() {
            return Err(
                "the empty path names the whole event, which a step must keep an object (hint: name a field, e.g. actor.id)"
                    .to_string(),
            );
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
    pub fn put(&self, event: &mut Value, value: Value) -> Result<(), String> {
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
    fn blocked(&self, depth: usize, found: &str) -> String {
        let segments = self.0.segments();
        let on_the_way: Vec<&str> = segments[..depth].iter().map(|s| s.key.as_str()).collect();
        let at = if on_the_way.is_empty() {
            "the event".to_string()
        } else {
            format!("`{}`", on_the_way.join("."))
        };
        format!(
            "cannot write `{}`: {at} holds {found}, which has no field `{}`",
            self.as_str(),
            segments[depth].key
        )
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
) -> Result<&'v mut Map<String, Value>, String> {
    if path.get(event).is_none() {
        path.put(event, Value::Object(Map::new()))?;
    }
    match path.get_mut(event) {
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(format!(
            "cannot write into `{}`: it holds {}, not an object",
            path.as_str(),
            kind_of(other)
        )),
        None => Err(format!("cannot write into `{}`", path.as_str())),
    }
}

/// The object that holds the field at `path` (the event itself for a top-level field).
/// `Err` when the field sits in an array, or the way to it holds no object.
pub(crate) fn parent_object<'v>(
    path: &FieldPath,
    event: &'v mut Value,
) -> Result<&'v mut Map<String, Value>, String> {
    let segments = path.0.segments();
    let parents = &segments[..segments.len().saturating_sub(1)];
    let mut node = event;
    for segment in parents {
        node = match node {
            Value::Object(map) => map.get_mut(&segment.key),
            Value::Array(items) => segment.index.and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| {
            format!(
                "cannot write beside `{}`: the way to it is gone",
                path.as_str()
            )
        })?;
    }
    match node {
        Value::Object(map) => Ok(map),
        other => Err(format!(
            "cannot write beside `{}`: it sits in {}, not an object (name an object with `to`)",
            path.as_str(),
            kind_of(other)
        )),
    }
}

/// Appends `value` to the array at `path`, made when nothing is there. `Err` names the path
/// when something other than an array is there.
pub(crate) fn push(path: &FieldPath, event: &mut Value, value: Value) -> Result<(), String> {
    if path.get(event).is_none() {
        path.put(event, Value::Array(Vec::new()))?;
    }
    match path.get_mut(event) {
        Some(Value::Array(items)) => {
            items.push(value);
            Ok(())
        }
        Some(other) => Err(format!(
            "cannot add to `{}`: it holds {}, not an array",
            path.as_str(),
            kind_of(other)
        )),
        None => Err(format!("cannot add to `{}`", path.as_str())),
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
        assert!(FieldPath::parse("").unwrap_err().contains("whole event"));
        assert!(FieldPath::parse("a..b")
            .unwrap_err()
            .contains("segment 2 is empty"));
        assert!(FieldPath::parse("a.").unwrap_err().contains("hint:"));
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
        assert!(err.contains("`a` holds a string"), "{err}");
        let err = path("list.3").put(&mut event, json!(1)).unwrap_err();
        assert!(err.contains("`list` holds an array of 1"), "{err}");
        let err = path("list.0.x").put(&mut event, json!(1)).unwrap_err();
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
