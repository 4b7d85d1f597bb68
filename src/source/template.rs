//! Request templates: `{start}`, `{end}`, `{limit}`, `{cursor}`, `{offset}` and `{page}` in
//! query values, headers and JSON bodies.
//!
//! Only these names are placeholders; any other brace (a GraphQL selection set, say) is text.

use serde_json::Value;

/// The names a template may use.
pub const PLACEHOLDERS: &[&str] = &["start", "end", "limit", "cursor", "offset", "page"];

/// Values for one request. A `None` placeholder renders as nothing, and a query parameter or
/// body field that is exactly that placeholder is left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vars {
    /// Window start, already formatted (a number for epoch formats).
    pub start: Option<Value>,
    /// Window end.
    pub end: Option<Value>,
    /// Page size.
    pub limit: Option<u64>,
    /// Pagination token.
    pub cursor: Option<String>,
    /// Records already listed in the window.
    pub offset: Option<u64>,
    /// Page number.
    pub page: Option<u64>,
}

impl Vars {
    fn get(&self, name: &str) -> Option<Value> {
        match name {
            "start" => self.start.clone(),
            "end" => self.end.clone(),
            "limit" => self.limit.map(Value::from),
            "cursor" => self.cursor.clone().map(Value::from),
            "offset" => self.offset.map(Value::from),
            "page" => self.page.map(Value::from),
            _ => None,
        }
    }
}

/// The placeholder names used in `template`, in order (unknown `{words}` included, so
/// validation can reject typos where only placeholders make sense).
pub fn words(template: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_word(&after[..close]) => {
                found.push(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    found
}

fn is_word(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

/// The template as one whole placeholder (`"{cursor}"`), if it is one.
fn whole_placeholder(template: &str) -> Option<&str> {
    let inner = template.strip_prefix('{')?.strip_suffix('}')?;
    PLACEHOLDERS.contains(&inner).then_some(inner)
}

/// Renders a text template. `None` when the template is exactly one placeholder that has no
/// value, so the caller leaves the parameter out.
pub fn render_str(template: &str, vars: &Vars) -> Option<String> {
    if let Some(name) = whole_placeholder(template) {
        return vars.get(name).map(|v| plain(&v));
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if PLACEHOLDERS.contains(&&after[..close]) => {
                if let Some(value) = vars.get(&after[..close]) {
                    out.push_str(&plain(&value));
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Renders a JSON template: strings that are exactly one placeholder become its typed value
/// (numbers stay numbers) or disappear when it has none; other strings are rendered as text.
pub fn render_json(template: &Value, vars: &Vars) -> Value {
    match template {
        Value::String(text) => match whole_placeholder(text) {
            Some(name) => vars.get(name).unwrap_or(Value::Null),
            None => Value::String(render_str(text, vars).unwrap_or_default()),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|item| !is_absent(item, vars))
                .map(|item| render_json(item, vars))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, item)| !is_absent(item, vars))
                .map(|(key, item)| (key.clone(), render_json(item, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A field that is exactly a placeholder without a value.
fn is_absent(item: &Value, vars: &Vars) -> bool {
    matches!(item, Value::String(text) if whole_placeholder(text).is_some_and(|name| vars.get(name).is_none()))
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        Vars {
            start: Some(json!("2026-01-01T00:00:00.000Z")),
            end: Some(json!(1_767_225_600)),
            limit: Some(100),
            cursor: None,
            offset: Some(200),
            page: None,
        }
    }

    #[test]
    fn text_templates_interpolate_and_omit() {
        let v = vars();
        assert_eq!(
            render_str("{start}", &v).unwrap(),
            "2026-01-01T00:00:00.000Z"
        );
        assert_eq!(
            render_str("ts>={end} and n={limit}", &v).unwrap(),
            "ts>=1767225600 and n=100"
        );
        assert_eq!(render_str("{cursor}", &v), None);
        assert_eq!(render_str("x{cursor}y", &v).unwrap(), "xy");
        assert_eq!(
            render_str("{ nodes { id } } {other}", &v).unwrap(),
            "{ nodes { id } } {other}"
        );
    }

    #[test]
    fn json_templates_keep_types_and_drop_absent_fields() {
        let template = json!({
            "query": "query($after: String) { logs(after: $after) { nodes { id } } }",
            "variables": {"after": "{cursor}", "first": "{limit}", "since": "{start}", "until": "{end}"},
            "range": ["{offset}", "{page}"]
        });
        let rendered = render_json(&template, &vars());
        assert_eq!(
            rendered,
            json!({
                "query": "query($after: String) { logs(after: $after) { nodes { id } } }",
                "variables": {"first": 100, "since": "2026-01-01T00:00:00.000Z", "until": 1_767_225_600},
                "range": [200]
            })
        );
        let with_cursor = Vars {
            cursor: Some("abc".into()),
            ..vars()
        };
        assert_eq!(
            render_json(&template, &with_cursor)["variables"]["after"],
            json!("abc")
        );
    }

    #[test]
    fn words_finds_placeholders_and_typos_but_not_graphql() {
        assert_eq!(
            words("a={start}&b={strat}&q={ nodes }"),
            vec!["start", "strat"]
        );
    }
}
