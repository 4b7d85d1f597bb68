//! Turning the value an API hands back as its next-page cursor into the token Sluice sends
//! with the next request: strings and numbers as they are, arrays joined (Duo's
//! `["1700000000000", "txid"]` becomes `1700000000000,txid`), arrays and objects as JSON text
//! when the spec says so. A value that cannot be sent back fails the page, naming the field
//! and what it held: ending the window there would silently lose the rest of it.

use serde_json::Value;

use super::path::JsonPath;
use crate::source::config::CursorEncoding;

/// How a structured cursor is sent back.
#[derive(Debug, Clone, Copy)]
pub struct CursorStyle<'a> {
    /// Separator between the elements of an array cursor.
    pub join: &'a str,
    /// How arrays and objects are written.
    pub encoding: CursorEncoding,
}

impl Default for CursorStyle<'_> {
    fn default() -> Self {
        CursorStyle {
            join: ",",
            encoding: CursorEncoding::Text,
        }
    }
}

/// A cursor value that cannot be sent back. `field` names it ("cursor", or "`endCursor` of
/// the pageInfo") and `at` is its path; each message says what the value held and what to
/// configure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// `{}`: it names no page, yet is not the "no more pages" of an absent or empty value.
    #[error("{field} at `{at}` is an empty object, which names no page (hint: check that the path names the next page's cursor)")]
    EmptyObject {
        /// What the value is.
        field: String,
        /// Its path.
        at: String,
    },
    /// An object, without `cursor_encoding = "json"`.
    #[error("{field} at `{at}` is an object ({held}), which cannot be sent back as text (hint: set pagination.cursor_encoding = \"json\" if the API takes it back as JSON, or point the path at the token inside it)")]
    Object {
        /// What the value is.
        field: String,
        /// Its path.
        at: String,
        /// The value, described and cut short.
        held: String,
    },
    /// A boolean, or anything else that is no cursor.
    #[error("{field} at `{at}` is {held}, not a cursor (hint: check that the path names the next page's cursor; a has-more flag goes in has_more_path)")]
    NotACursor {
        /// What the value is.
        field: String,
        /// Its path.
        at: String,
        /// The value, described and cut short.
        held: String,
    },
    /// An array with an element that is neither a string nor a number.
    #[error("{field} at `{at}` is an array whose element {index} is {held}; only strings and numbers can be joined into a cursor (hint: set pagination.cursor_encoding = \"json\" if the API takes it back as JSON)")]
    Element {
        /// What the value is.
        field: String,
        /// Its path.
        at: String,
        /// The element's position, from 0.
        index: usize,
        /// The element, described and cut short.
        held: String,
    },
}

/// The token to send for the cursor value found at `at` (`field` names it in errors, e.g.
/// "cursor"). `Ok(None)` means there is no next page: the value is absent, `null`, `""` or
/// `[]`. `Err` says what the value held and what to configure.
pub fn token(
    value: Option<&Value>,
    at: &JsonPath,
    field: &str,
    style: CursorStyle<'_>,
) -> Result<Option<String>, CursorError> {
    let json = style.encoding == CursorEncoding::Json;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(Value::Array(items)) if items.is_empty() => Ok(None),
        Some(Value::Object(map)) if map.is_empty() => Err(CursorError::EmptyObject {
            field: field.to_string(),
            at: at.to_string(),
        }),
        Some(structured @ (Value::Array(_) | Value::Object(_))) if json => {
            Ok(Some(structured.to_string()))
        }
        Some(Value::Array(items)) => join(items, at, field, style.join).map(Some),
        Some(object @ Value::Object(_)) => Err(CursorError::Object {
            field: field.to_string(),
            at: at.to_string(),
            held: describe(object),
        }),
        Some(other) => Err(CursorError::NotACursor {
            field: field.to_string(),
            at: at.to_string(),
            held: describe(other),
        }),
    }
}

/// The elements of an array cursor, each a string or a number, joined by `separator`.
fn join(
    items: &[Value],
    at: &JsonPath,
    field: &str,
    separator: &str,
) -> Result<String, CursorError> {
    let parts = items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(text) => Ok(text.clone()),
            Value::Number(number) => Ok(number.to_string()),
            other => Err(CursorError::Element {
                field: field.to_string(),
                at: at.to_string(),
                index: i,
                held: describe(other),
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join(separator))
}

/// What a value is, and a short excerpt of it, for an error message.
pub fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".to_string(),
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    let text = value.to_string();
    let shown = if text.chars().count() > 60 {
        format!("{}...", text.chars().take(60).collect::<String>())
    } else {
        text
    };
    format!("{kind} {shown}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at() -> JsonPath {
        JsonPath::parse("metadata.next_offset").unwrap()
    }

    fn text(value: Value) -> Result<Option<String>, String> {
        token(Some(&value), &at(), "cursor", CursorStyle::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn strings_and_numbers_are_sent_as_they_are_and_empty_values_end_the_window() {
        assert_eq!(text(json!("abc")).unwrap().as_deref(), Some("abc"));
        assert_eq!(text(json!(42)).unwrap().as_deref(), Some("42"));
        for done in [json!(null), json!(""), json!([])] {
            assert_eq!(text(done.clone()).unwrap(), None, "{done}");
        }
        assert_eq!(
            token(None, &at(), "cursor", CursorStyle::default()).unwrap(),
            None
        );
    }

    #[test]
    fn array_cursors_are_joined_with_the_configured_separator() {
        assert_eq!(
            text(json!(["1700000000000", "txid"])).unwrap().as_deref(),
            Some("1700000000000,txid")
        );
        let style = CursorStyle {
            join: "|",
            ..CursorStyle::default()
        };
        assert_eq!(
            token(Some(&json!([1, "b"])), &at(), "cursor", style)
                .unwrap()
                .as_deref(),
            Some("1|b")
        );
    }

    #[test]
    fn json_encoding_sends_arrays_and_objects_as_json_text() {
        let style = CursorStyle {
            encoding: CursorEncoding::Json,
            ..CursorStyle::default()
        };
        let sent = |v: Value| token(Some(&v), &at(), "cursor", style).unwrap();
        assert_eq!(
            sent(json!({"t": 1, "id": "x"})).as_deref(),
            Some(r#"{"id":"x","t":1}"#)
        );
        assert_eq!(sent(json!([1, [2]])).as_deref(), Some("[1,[2]]"));
        assert_eq!(sent(json!("s")).as_deref(), Some("s"));
    }

    #[test]
    fn values_that_cannot_be_sent_back_fail_naming_the_field_and_what_it_held() {
        for (value, needle) in [
            (json!({}), "an empty object"),
            (json!({"a": 1}), "an object {\"a\":1}"),
            (json!(true), "a boolean true"),
            (json!(["a", {"b": 1}]), "element 1 is an object"),
            (json!([null]), "element 0 is null"),
        ] {
            let err = text(value.clone()).unwrap_err();
            assert!(
                err.contains("cursor at `metadata.next_offset`"),
                "{value}: {err}"
            );
            assert!(err.contains(needle), "{value}: {err}");
            assert!(err.contains("hint:"), "{value}: {err}");
        }
        let style = CursorStyle {
            encoding: CursorEncoding::Json,
            ..CursorStyle::default()
        };
        assert!(token(Some(&json!({})), &at(), "cursor", style).is_err());
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let shown = describe(&json!("x".repeat(500)));
        assert!(shown.len() < 80, "{shown}");
        assert!(shown.starts_with("a string \"xxx"), "{shown}");
    }
}
