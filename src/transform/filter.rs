//! `kind = "filter"`: drops events on a condition, or keeps only those that meet it.

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::field::FieldPath;
use super::step::{field_path, Problem, Step, Verdict};

/// `{ kind = "filter", action = "drop", field = "eventType", one_of = ["user.session.access"] }`.
/// The condition is exactly one of `exists`, `equals`, `one_of` and `matches`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// The step's name in counts, metrics and dead letters; default `filter#<position>`.
    #[serde(default)]
    pub name: Option<String>,
    /// What happens to an event that meets the condition.
    pub action: FilterAction,
    /// The field the condition looks at.
    pub field: String,
    /// Met when the field is there (`true`, even holding null) or is not (`false`).
    #[serde(default)]
    pub exists: Option<bool>,
    /// Met when the field holds this value (numbers compare by value: 5 equals 5.0).
    #[serde(default)]
    pub equals: Option<Value>,
    /// Met when the field holds one of these values.
    #[serde(default)]
    pub one_of: Option<Vec<Value>>,
    /// Met when the field holds a string this regular expression (`regex` crate syntax)
    /// finds a match in; anchor it with `^...$` to match the whole string.
    #[serde(default)]
    pub matches: Option<String>,
}

/// What a filter does with the events that meet its condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterAction {
    /// Drop them, keep the rest.
    Drop,
    /// Keep them, drop the rest.
    Keep,
}

impl FilterConfig {
    /// The compiled step.
    pub fn build(&self) -> Result<Filter, Problem> {
        let field = field_path("field", &self.field)?;
        let hint = "give exactly one of exists = true, equals = VALUE, one_of = [VALUES] or matches = \"REGEX\"";
        let mut conditions = Vec::new();
        if let Some(exists) = self.exists {
            conditions.push(Condition::Exists(exists));
        }
        if let Some(value) = &self.equals {
            conditions.push(Condition::OneOf(vec![value.clone()]));
        }
        if let Some(values) = &self.one_of {
            if values.is_empty() {
                return Err(Problem::new(
                    "one_of",
                    "lists no value, so no event would ever meet it",
                    "list the values, e.g. one_of = [\"debug\", \"trace\"]",
                ));
            }
            conditions.push(Condition::OneOf(values.clone()));
        }
        if let Some(pattern) = &self.matches {
            let regex = Regex::new(pattern).map_err(|error| {
                // The regex crate's message spans lines (the pattern, a caret, the error):
                // its last line says what is wrong.
                let text = error.to_string();
                let what = text.lines().last().unwrap_or("").trim_start_matches("error: ");
                Problem::new(
                    "matches",
                    format!("`{pattern}` is not a valid regular expression: {what}"),
                    "see https://docs.rs/regex/latest/regex/#syntax; in a TOML basic string a backslash is written \\\\, or use a literal string 'like\\.this'",
                )
            })?;
            conditions.push(Condition::Matches(regex));
        }
        if conditions.len() != 1 {
            let message = if conditions.is_empty() {
                "has no condition"
            } else {
                "has more than one condition"
            };
            return Err(Problem::new("field", message, hint));
        }
        Ok(Filter {
            action: self.action,
            field,
            condition: conditions.remove(0),
        })
    }
}

/// A filter's condition on its field.
enum Condition {
    Exists(bool),
    OneOf(Vec<Value>),
    Matches(Regex),
}

/// The compiled `filter` step.
pub struct Filter {
    action: FilterAction,
    field: FieldPath,
    condition: Condition,
}

impl Filter {
    fn met(&self, event: &Value) -> bool {
        let found = self.field.get(event);
        match (&self.condition, found) {
            (Condition::Exists(wanted), found) => found.is_some() == *wanted,
            (Condition::OneOf(values), Some(found)) => values.iter().any(|v| same(v, found)),
            (Condition::Matches(regex), Some(Value::String(text))) => regex.is_match(text),
            _ => false,
        }
    }
}

impl Step for Filter {
    fn apply(&self, event: &mut Value) -> Verdict {
        let drop = match self.action {
            FilterAction::Drop => self.met(event),
            FilterAction::Keep => !self.met(event),
        };
        if drop {
            Verdict::Drop
        } else {
            Verdict::Keep
        }
    }
}

/// Equal values; numbers by value, whatever their spelling (an API's `5.0` is `5`).
fn same(wanted: &Value, found: &Value) -> bool {
    match (wanted, found) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => match (a.as_u64(), b.as_u64()) {
                (Some(a), Some(b)) => a == b,
                _ => a.as_f64() == b.as_f64(),
            },
        },
        _ => wanted == found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filter(text: &str) -> Result<Filter, Problem> {
        toml::from_str::<FilterConfig>(text).unwrap().build()
    }

    fn verdict(text: &str, mut event: Value) -> Verdict {
        filter(text).unwrap().apply(&mut event)
    }

    #[test]
    fn drop_removes_the_events_that_meet_the_condition() {
        let step = "action = \"drop\"\nfield = \"level\"\none_of = [\"debug\", \"trace\"]";
        assert_eq!(verdict(step, json!({"level": "debug"})), Verdict::Drop);
        assert_eq!(verdict(step, json!({"level": "info"})), Verdict::Keep);
        assert_eq!(verdict(step, json!({})), Verdict::Keep);
    }

    #[test]
    fn keep_drops_the_events_that_do_not() {
        let step = "action = \"keep\"\nfield = \"actor.type\"\nequals = \"User\"";
        assert_eq!(
            verdict(step, json!({"actor": {"type": "User"}})),
            Verdict::Keep
        );
        assert_eq!(
            verdict(step, json!({"actor": {"type": "App"}})),
            Verdict::Drop
        );
        assert_eq!(verdict(step, json!({"actor": {}})), Verdict::Drop);
    }

    #[test]
    fn exists_tells_a_missing_field_from_a_null_one() {
        let step = "action = \"drop\"\nfield = \"debug\"\nexists = true";
        assert_eq!(verdict(step, json!({"debug": null})), Verdict::Drop);
        assert_eq!(verdict(step, json!({"other": 1})), Verdict::Keep);
        let step = "action = \"drop\"\nfield = \"debug\"\nexists = false";
        assert_eq!(verdict(step, json!({"other": 1})), Verdict::Drop);
    }

    #[test]
    fn matches_looks_at_strings_only() {
        let step = "action = \"drop\"\nfield = \"path\"\nmatches = '^/health(z)?$'";
        assert_eq!(verdict(step, json!({"path": "/healthz"})), Verdict::Drop);
        assert_eq!(
            verdict(step, json!({"path": "/api/healthz"})),
            Verdict::Keep
        );
        assert_eq!(verdict(step, json!({"path": 5})), Verdict::Keep);
    }

    #[test]
    fn numbers_compare_by_value() {
        let step = "action = \"drop\"\nfield = \"code\"\nequals = 5";
        assert_eq!(verdict(step, json!({"code": 5.0})), Verdict::Drop);
        assert_eq!(verdict(step, json!({"code": 5})), Verdict::Drop);
        assert_eq!(verdict(step, json!({"code": "5"})), Verdict::Keep);
    }

    #[test]
    fn a_bad_regex_or_condition_count_is_a_problem() {
        let problem = filter("action = \"drop\"\nfield = \"a\"\nmatches = 'a(b'")
            .err()
            .unwrap();
        assert_eq!(problem.path, "matches");
        assert!(problem.message.contains("unclosed group"), "{problem:?}");
        let problem = filter("action = \"drop\"\nfield = \"a\"").err().unwrap();
        assert!(problem.message.contains("no condition"), "{problem:?}");
        let problem = filter("action = \"drop\"\nfield = \"a\"\nexists = true\nequals = 1")
            .err()
            .unwrap();
        assert!(problem.message.contains("more than one"), "{problem:?}");
        let problem = filter("action = \"keep\"\nfield = \"a\"\none_of = []")
            .err()
            .unwrap();
        assert_eq!(problem.path, "one_of");
    }
}
