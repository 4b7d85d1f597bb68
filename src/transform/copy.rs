//! `kind = "copy"`: copies a field to another path, keeping the original.

use serde::Deserialize;
use serde_json::Value;

use super::field::FieldPath;
use super::step::{field_path, Problem, Step, Verdict};

/// `{ kind = "copy", from = "actor.alternateId", to = "user.email" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyConfig {
    /// The step's name in counts, metrics and dead letters; default `copy#<position>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The field to copy. An event without it is kept as it is.
    pub from: String,
    /// Where the copy goes: what is there is replaced, missing objects on the way are made.
    pub to: String,
}

impl CopyConfig {
    /// The compiled step.
    pub fn build(&self) -> Result<CopyField, Problem> {
        Ok(CopyField {
            from: field_path("from", &self.from)?,
            to: field_path("to", &self.to)?,
        })
    }
}

/// The compiled `copy` step.
pub struct CopyField {
    from: FieldPath,
    to: FieldPath,
}

impl Step for CopyField {
    fn apply(&self, event: &mut Value) -> Verdict {
        let Some(value) = self.from.get(event).cloned() else {
            return Verdict::Keep;
        };
        if self.to.get(event) == Some(&value) {
            return Verdict::Keep;
        }
        match self.to.put(event, value) {
            Ok(()) => Verdict::Changed,
            Err(reason) => Verdict::Fail(reason.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(from: &str, to: &str) -> CopyField {
        CopyConfig {
            name: None,
            from: from.into(),
            to: to.into(),
        }
        .build()
        .unwrap()
    }

    #[test]
    fn copies_and_keeps_the_original() {
        let mut event = json!({"actor": {"id": "u1"}, "list": [{"k": 1}]});
        assert_eq!(step("actor", "who").apply(&mut event), Verdict::Changed);
        assert_eq!(
            step("list.0.k", "first").apply(&mut event),
            Verdict::Changed
        );
        assert_eq!(
            event,
            json!({"actor": {"id": "u1"}, "who": {"id": "u1"}, "list": [{"k": 1}], "first": 1})
        );
    }

    #[test]
    fn keeps_an_event_without_the_field_or_with_the_same_copy() {
        let mut event = json!({"a": 1, "b": 1});
        assert_eq!(step("missing", "c").apply(&mut event), Verdict::Keep);
        assert_eq!(step("a", "b").apply(&mut event), Verdict::Keep);
        assert_eq!(event, json!({"a": 1, "b": 1}));
    }

    #[test]
    fn fails_when_the_target_cannot_be_written() {
        let mut event = json!({"a": 1, "b": [1]});
        assert!(matches!(
            step("a", "b.5").apply(&mut event),
            Verdict::Fail(_)
        ));
    }
}
