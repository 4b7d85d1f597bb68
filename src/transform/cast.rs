//! `kind = "cast"`: converts the values of fields to a string, integer, float or bool.

use serde::Deserialize;
use serde_json::{Number, Value};

use super::field::{kind_of, FieldPath};
use super::step::{field_paths, Problem, Step, Verdict};

/// `{ kind = "cast", fields = ["outcome.code"], to = "int" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CastConfig {
    /// The step's name in counts, metrics and dead letters; default `cast#<position>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The fields to convert; those an event does not have, or that hold null, are passed
    /// over.
    pub fields: Vec<String>,
    /// The type to convert to.
    pub to: CastType,
}

/// What `cast` converts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CastType {
    /// Numbers as their JSON text, bools as `true`/`false`.
    String,
    /// Whole numbers (`5.0` too), strings of digits (with a sign), bools as 1 and 0.
    Int,
    /// Numbers, and strings that read as a finite number.
    Float,
    /// `true`/`false` (any case) and `1`/`0`, as strings or numbers.
    Bool,
}

impl CastConfig {
    /// The compiled step.
    pub fn build(&self) -> Result<Cast, Problem> {
        Ok(Cast {
            fields: field_paths("fields", &self.fields)?,
            to: self.to,
        })
    }
}

/// The compiled `cast` step.
pub struct Cast {
    fields: Vec<FieldPath>,
    to: CastType,
}

impl Step for Cast {
    fn apply(&self, event: &mut Value) -> Verdict {
        let mut changed = false;
        for field in &self.fields {
            let Some(value) = field.get_mut(event) else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            match convert(value, self.to) {
                Some(converted) => {
                    if converted != *value {
                        *value = converted;
                        changed = true;
                    }
                }
                None => {
                    // The value is not quoted: it may be anything, personal data included.
                    return Verdict::Fail(format!(
                        "field `{}` holds {} that cannot be cast to {}",
                        field.as_str(),
                        kind_of(value),
                        type_name(self.to)
                    ));
                }
            }
        }
        if changed {
            Verdict::Changed
        } else {
            Verdict::Keep
        }
    }
}

fn type_name(to: CastType) -> &'static str {
    match to {
        CastType::String => "string",
        CastType::Int => "int",
        CastType::Float => "float",
        CastType::Bool => "bool",
    }
}

/// `value` as `to`, or `None` when it has no such reading.
fn convert(value: &Value, to: CastType) -> Option<Value> {
    match to {
        CastType::String => match value {
            Value::String(_) => Some(value.clone()),
            Value::Number(n) => Some(Value::String(n.to_string())),
            Value::Bool(b) => Some(Value::String(b.to_string())),
            _ => None,
        },
        CastType::Int => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(value.clone()),
            Value::Number(n) => n.as_f64().and_then(whole).map(Value::from),
            Value::String(s) => {
                let s = s.trim();
                s.parse::<i64>()
                    .map(Value::from)
                    .or_else(|_| s.parse::<u64>().map(Value::from))
                    .ok()
            }
            Value::Bool(b) => Some(Value::from(i64::from(*b))),
            _ => None,
        },
        CastType::Float => match value {
            Value::Number(n) => n.as_f64().and_then(Number::from_f64).map(Value::Number),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number),
            _ => None,
        },
        CastType::Bool => match value {
            Value::Bool(_) => Some(value.clone()),
            Value::Number(n) => match n.as_f64() {
                Some(1.0) => Some(Value::Bool(true)),
                Some(0.0) => Some(Value::Bool(false)),
                _ => None,
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(Value::Bool(true)),
                "false" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            _ => None,
        },
    }
}

/// A float with no fraction, as an integer (within i64).
fn whole(x: f64) -> Option<i64> {
    // i64::MAX as f64 rounds up to 2^63, which does not fit: stay strictly below it.
    (x.fract() == 0.0 && x >= i64::MIN as f64 && x < i64::MAX as f64).then_some(x as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cast(to: CastType, value: Value) -> Result<Value, String> {
        let step = CastConfig {
            name: None,
            fields: vec!["v".into()],
            to,
        }
        .build()
        .unwrap();
        let mut event = json!({ "v": value });
        match step.apply(&mut event) {
            Verdict::Fail(reason) => Err(reason),
            _ => Ok(event["v"].clone()),
        }
    }

    #[test]
    fn to_string() {
        assert_eq!(cast(CastType::String, json!(42)), Ok(json!("42")));
        assert_eq!(cast(CastType::String, json!(1.5)), Ok(json!("1.5")));
        assert_eq!(cast(CastType::String, json!(true)), Ok(json!("true")));
        assert!(cast(CastType::String, json!({"a": 1})).is_err());
    }

    #[test]
    fn to_int() {
        assert_eq!(cast(CastType::Int, json!(" -42 ")), Ok(json!(-42)));
        assert_eq!(
            cast(CastType::Int, json!("18446744073709551615")),
            Ok(json!(u64::MAX))
        );
        assert_eq!(cast(CastType::Int, json!(5.0)), Ok(json!(5)));
        assert_eq!(cast(CastType::Int, json!(false)), Ok(json!(0)));
        assert!(cast(CastType::Int, json!(5.5)).is_err());
        assert!(cast(CastType::Int, json!(1e300)).is_err());
        assert!(cast(CastType::Int, json!("4x")).is_err());
    }

    #[test]
    fn to_float() {
        assert_eq!(cast(CastType::Float, json!("2.5")), Ok(json!(2.5)));
        assert_eq!(cast(CastType::Float, json!(3)), Ok(json!(3.0)));
        assert!(cast(CastType::Float, json!("NaN")).is_err());
        assert!(cast(CastType::Float, json!(true)).is_err());
    }

    #[test]
    fn to_bool() {
        assert_eq!(cast(CastType::Bool, json!("TRUE")), Ok(json!(true)));
        assert_eq!(cast(CastType::Bool, json!(0)), Ok(json!(false)));
        assert!(cast(CastType::Bool, json!("yes")).is_err());
    }

    #[test]
    fn keeps_an_event_without_the_field_or_already_of_the_type() {
        let step = CastConfig {
            name: None,
            fields: vec!["n".into(), "missing".into(), "nothing".into()],
            to: CastType::Int,
        }
        .build()
        .unwrap();
        let mut event = json!({"n": 3, "nothing": null});
        assert_eq!(step.apply(&mut event), Verdict::Keep);
        assert_eq!(event, json!({"n": 3, "nothing": null}));
    }

    #[test]
    fn a_failure_names_the_field_and_never_quotes_the_value() {
        let reason = cast(CastType::Int, json!("alice@example.com")).unwrap_err();
        assert!(reason.contains("field `v` holds a string"), "{reason}");
        assert!(!reason.contains("alice"), "{reason}");
    }
}
