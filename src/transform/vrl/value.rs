//! Events to VRL values and back.
//!
//! JSON maps onto VRL's values one to one, but for integers beyond the signed 64-bit range,
//! which VRL has no type for: they reach the program as the string of their digits (as
//! VRL's own conversion does), so nothing is rounded. Back, the few VRL values JSON has no
//! form for are written as text (timestamps as RFC 3339 UTC, regular expressions as their
//! pattern), and those that cannot be written at all (bytes that are not UTF-8, an infinite
//! float, a value nested deeper than a record can be) fail the event with the path that
//! holds them.

use ::vrl::compiler::prelude::NotNan;
use ::vrl::value::Value;
use chrono::SecondsFormat;
use serde_json::Value as Json;

/// How deep a value the program leaves may nest: the depth serde_json reads back (a deeper
/// event could be written, but no later step or sink could parse it).
const MAX_DEPTH: usize = 127;

/// The VRL value of a JSON value.
pub fn to_vrl(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Integer(i)
            } else if let (Some(f), false) = (n.as_f64(), n.is_u64()) {
                // JSON has no NaN; a float that somehow is one becomes null, not a panic.
                NotNan::new(f).map_or(Value::Null, Value::Float)
            } else {
                Value::from(n.to_string())
            }
        }
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::Array(items.iter().map(to_vrl).collect()),
        Json::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.as_str().into(), to_vrl(value)))
                .collect(),
        ),
    }
}

/// The JSON value of what the program left, or why it cannot be written: the path (`.a.b[2]`)
/// and the kind of value, never the value.
pub fn to_json(value: Value) -> Result<Json, String> {
    convert(value, &mut Vec::new())
}

fn convert(value: Value, path: &mut Vec<String>) -> Result<Json, String> {
    if path.len() > MAX_DEPTH {
        return Err(format!(
            "the program left a value nested deeper than {MAX_DEPTH} levels at `{}`",
            shown(path)
        ));
    }
    Ok(match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(b),
        Value::Integer(i) => Json::from(i),
        Value::Float(f) => {
            let f = f.into_inner();
            serde_json::Number::from_f64(f)
                .map(Json::Number)
                .ok_or_else(|| {
                    format!(
                        "the program left an infinite number at `{}`, which JSON cannot hold",
                        shown(path)
                    )
                })?
        }
        Value::Bytes(bytes) => match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Json::String(text),
            Err(_) => {
                return Err(format!(
                    "the program left bytes that are not UTF-8 text at `{}` (encode them, e.g. with encode_base64)",
                    shown(path)
                ))
            }
        },
        Value::String(text) => Json::String(text.to_string()),
        Value::Regex(regex) => Json::String(regex.as_str().to_string()),
        Value::Timestamp(time) => {
            Json::String(time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                path.push(format!("[{i}]"));
                out.push(convert(item, path)?);
                path.pop();
            }
            Json::Array(out)
        }
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, item) in map {
                path.push(format!(".{}", key.as_str()));
                let item = convert(item, path)?;
                path.pop();
                out.insert(key.into(), item);
            }
            Json::Object(out)
        }
    })
}

fn shown(path: &[String]) -> String {
    if path.is_empty() {
        ".".to_string()
    } else {
        path.concat()
    }
}

/// What kind of value `value` is, for messages (never the value).
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "a bool",
        Value::Integer(_) | Value::Float(_) => "a number",
        Value::Bytes(_) | Value::String(_) | Value::Regex(_) => "a string",
        Value::Timestamp(_) => "a timestamp",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
