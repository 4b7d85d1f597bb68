//! `kind = "set"`: writes a fixed value into a field.

use serde::Deserialize;
use serde_json::Value;

use super::field::FieldPath;
use super::step::{field_path, Problem, Step, Verdict};

/// `{ kind = "set", field = "tenant", value = "acme" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetConfig {
    /// The step's name in counts, metrics and dead letters; default `set#<position>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The field to write: what is there is replaced, missing objects on the way are made.
    pub field: String,
    /// The value, any TOML value (a string, number, bool, array or table).
    pub value: Value,
}

impl SetConfig {
    /// The compiled step.
    pub fn build(&self) -> Result<Set, Problem> {
        Ok(Set {
            field: field_path("field", &self.field)?,
            value: self.value.clone(),
        })
    }
}

/// The compiled `set` step.
pub struct Set {
    field: FieldPath,
    value: Value,
}

impl Step for Set {
    fn apply(&self, event: &mut Value) -> Verdict {
        if self.field.get(event) == Some(&self.value) {
            return Verdict::Keep;
        }
        match self.field.put(event, self.value.clone()) {
            Ok(()) => Verdict::Changed,
            Err(reason) => Verdict::Fail(reason.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(field: &str, value: Value) -> Set {
        SetConfig {
            name: None,
            field: field.into(),
            value,
        }
        .build()
        .unwrap()
    }

    #[test]
    fn writes_the_value_making_objects_on_the_way() {
        let mut event = json!({"a": 1});
        assert_eq!(
            step("meta.tenant", json!("acme")).apply(&mut event),
            Verdict::Changed
        );
        assert_eq!(step("a", json!([1, 2])).apply(&mut event), Verdict::Changed);
        assert_eq!(event, json!({"a": [1, 2], "meta": {"tenant": "acme"}}));
    }

    #[test]
    fn keeps_an_event_that_already_holds_the_value() {
        let mut event = json!({"tenant": "acme"});
        assert_eq!(
            step("tenant", json!("acme")).apply(&mut event),
            Verdict::Keep
        );
    }

    #[test]
    fn fails_when_the_way_is_blocked() {
        let mut event = json!({"meta": 5});
        assert!(matches!(
            step("meta.tenant", json!("acme")).apply(&mut event),
            Verdict::Fail(reason) if reason.contains("`meta` holds a number")
        ));
    }
}
