//! Dotted paths into JSON values: `actor.user.uid`, where a numeric segment indexes an array
//! (`target.0.id`). The mapping tables name both the vendor's fields and OCSF's this way. A key
//! that starts with a dot (Dropbox's `.tag`) is written after a double dot:
//! `event_type..tag` is `.tag` inside `event_type`. On the vendor's side a `key=value` segment
//! picks the first element of an array whose `key` is `value`: Google's
//! `events.0.parameters.name=doc_id.value`, wherever in the list that parameter is.

use serde_json::{Map, Value};

/// The keys of `path`, a `..` joining the dot to the key after it. Each key is a slice of
/// `path` itself (`.tag` of `event_type..tag` included, as the dot before it is in `path`),
/// so walking a path allocates nothing: the mappings walk dozens of paths per event.
fn segments(path: &str) -> impl Iterator<Item = &str> {
    let mut dotted = false;
    let mut offset = 0;
    path.split('.').filter_map(move |part| {
        let start = offset;
        offset += part.len() + 1;
        if part.is_empty() {
            dotted = true;
            None
        } else if std::mem::take(&mut dotted) {
            // `start >= 1`: an empty part, at least one dot, came before this one.
            Some(&path[start - 1..start + part.len()])
        } else {
            Some(part)
        }
    })
}

/// The value at `path`, if every step exists.
pub(super) fn get<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    segments(path).try_fold(value, |at, segment| match at {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => items.get(index(items, segment)?),
        _ => None,
    })
}

/// Which element of `items` a segment names: a number, or `key=value`.
fn index(items: &[Value], segment: &str) -> Option<usize> {
    match segment.split_once('=') {
        Some((key, wanted)) => items.iter().position(|item| {
            item.get(key).is_some_and(|v| match v {
                Value::String(s) => s == wanted,
                Value::Number(n) => n.to_string() == wanted,
                Value::Bool(b) => wanted.parse() == Ok(*b),
                _ => false,
            })
        }),
        None => segment.parse().ok(),
    }
}

/// Writes `new` at `path`, creating the objects (and, for a numeric segment, the array) on
/// the way. A step that holds a value of another shape is replaced: the mapping's later
/// writes win, as its docs say.
pub(super) fn set(target: &mut Value, path: &str, new: Value) {
    let mut at = target;
    let mut segments = path.split('.').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        let index = segment.parse::<usize>().ok();
        at = match index {
            Some(i) => {
                if !at.is_array() {
                    *at = Value::Array(Vec::new());
                }
                let Value::Array(items) = at else {
                    unreachable!("made an array just above")
                };
                // Indices in a mapping are written in order (0, then 1); a gap is filled
                // with nulls, which the validator then reports.
                while items.len() <= i {
                    items.push(Value::Null);
                }
                &mut items[i]
            }
            None => {
                if !at.is_object() {
                    *at = Value::Object(Map::new());
                }
                let Value::Object(map) = at else {
                    unreachable!("made an object just above")
                };
                // A lookup before an insert: most steps of a path already exist (`actor`
                // of `actor.user.uid`), and `entry` would allocate the key for each.
                if !map.contains_key(segment) {
                    map.insert(segment.to_string(), Value::Null);
                }
                map.get_mut(segment)
                    .unwrap_or_else(|| unreachable!("inserted just above when missing"))
            }
        };
        if last {
            *at = new;
            return;
        }
    }
}

/// Removes the value at `path`: an object's key goes, an array's element becomes `null`
/// (so the other elements keep their indices for the paths still to remove; [`prune`]
/// drops the nulls afterwards).
pub(super) fn take(value: &mut Value, path: &str) {
    let mut keys = segments(path).peekable();
    let mut at = value;
    while let Some(key) = keys.next() {
        if keys.peek().is_none() {
            match at {
                Value::Object(map) => {
                    map.remove(key);
                }
                Value::Array(items) => {
                    if let Some(i) = index(items, key) {
                        items[i] = Value::Null;
                    }
                }
                _ => {}
            }
            return;
        }
        let next = match at {
            Value::Object(map) => map.get_mut(key),
            Value::Array(items) => match index(items, key) {
                Some(i) => items.get_mut(i),
                None => None,
            },
            _ => None,
        };
        match next {
            Some(next) => at = next,
            None => return,
        }
    }
}

/// Drops nulls, and objects and arrays left empty, everywhere in `value`; true when `value`
/// itself is left with nothing in it.
pub(super) fn prune(value: &mut Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => {
            map.retain(|_, v| !prune(v));
            map.is_empty()
        }
        Value::Array(items) => {
            items.retain_mut(|v| !prune(v));
            items.is_empty()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn get_walks_objects_and_arrays() {
        let v = json!({"a": {"b": [{"c": 1}, {"c": 2}]}});
        assert_eq!(get(&v, "a.b.1.c"), Some(&json!(2)));
        assert_eq!(get(&v, "a.b.2.c"), None);
        assert_eq!(get(&v, "a.x"), None);
    }

    #[test]
    fn a_double_dot_names_a_key_that_starts_with_a_dot() {
        let mut v = json!({"event_type": {".tag": "login", "description": "d"}});
        assert_eq!(get(&v, "event_type..tag"), Some(&json!("login")));
        take(&mut v, "event_type..tag");
        assert_eq!(v, json!({"event_type": {"description": "d"}}));
    }

    #[test]
    fn a_key_value_segment_picks_the_element_wherever_it_is() {
        let mut v = json!({"p": [{"name": "a", "value": 1}, {"name": "doc_id", "value": "x"}]});
        assert_eq!(get(&v, "p.name=doc_id.value"), Some(&json!("x")));
        assert_eq!(get(&v, "p.name=nope.value"), None);
        take(&mut v, "p.name=doc_id.value");
        prune(&mut v);
        assert_eq!(
            v,
            json!({"p": [{"name": "a", "value": 1}, {"name": "doc_id"}]})
        );
    }

    #[test]
    fn set_creates_objects_and_arrays() {
        let mut v = json!({});
        set(&mut v, "web_resources.0.name", json!("x"));
        set(&mut v, "actor.user.uid", json!("u"));
        assert_eq!(
            v,
            json!({"web_resources": [{"name": "x"}], "actor": {"user": {"uid": "u"}}})
        );
    }

    #[test]
    fn take_then_prune_leaves_only_the_rest() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "t": [{"id": 1}, {"id": 2, "x": 3}], "n": null});
        take(&mut v, "a.b");
        take(&mut v, "t.0.id");
        take(&mut v, "t.1.id");
        prune(&mut v);
        assert_eq!(v, json!({"a": {"c": 2}, "t": [{"x": 3}]}));
    }
}
