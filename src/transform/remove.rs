//! `kind = "remove"`: takes fields out of the event.

use serde::Deserialize;
use serde_json::Value;

use super::field::FieldPath;
use super::step::{field_paths, Problem, Step, Verdict};

/// `{ kind = "remove", fields = ["debugContext", "request.ipChain"] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveConfig {
    /// The step's name in counts, metrics and dead letters; default `remove#<position>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The fields to remove; those an event does not have are passed over.
    pub fields: Vec<String>,
}

impl RemoveConfig {
    /// The compiled step.
    pub fn build(&self) -> Result<Remove, Problem> {
        Ok(Remove {
            fields: field_paths("fields", &self.fields)?,
        })
    }
}

/// The compiled `remove` step.
pub struct Remove {
    fields: Vec<FieldPath>,
}

impl Step for Remove {
    fn apply(&self, event: &mut Value) -> Verdict {
        let mut changed = false;
        for field in &self.fields {
            changed |= field.take(event).is_some();
        }
        if changed {
            Verdict::Changed
        } else {
            Verdict::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(fields: &[&str]) -> Remove {
        RemoveConfig {
            name: None,
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }
        .build()
        .unwrap()
    }

    #[test]
    fn removes_the_fields_it_finds() {
        let mut event = json!({"a": 1, "b": {"c": 2, "d": 3}});
        assert_eq!(
            step(&["a", "b.c", "x.y"]).apply(&mut event),
            Verdict::Changed
        );
        assert_eq!(event, json!({"b": {"d": 3}}));
    }

    #[test]
    fn keeps_an_event_without_them() {
        let mut event = json!({"a": 1});
        assert_eq!(step(&["b"]).apply(&mut event), Verdict::Keep);
    }

    #[test]
    fn an_empty_list_is_a_problem() {
        let problem = RemoveConfig {
            name: None,
            fields: vec![],
        }
        .build()
        .err()
        .unwrap();
        assert_eq!(problem.path, "fields");
    }
}
