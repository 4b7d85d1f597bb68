//! `kind = "rename"`: moves a field to another path.

use serde::Deserialize;
use serde_json::Value;

use super::field::FieldPath;
use super::step::{field_path, Problem, Step, Verdict};

/// `{ kind = "rename", from = "client.ipAddress", to = "src_ip" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameConfig {
    /// The step's name in counts, metrics and dead letters; default `rename#<position>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The field to move. An event without it is kept as it is.
    pub from: String,
    /// Where it goes: what is there is replaced, missing objects on the way are made.
    pub to: String,
}

impl RenameConfig {
    /// The compiled step.
    pub fn build(&self) -> Result<Rename, Problem> {
        Ok(Rename {
            from: field_path("from", &self.from)?,
            to: field_path("to", &self.to)?,
        })
    }
}

/// The compiled `rename` step.
pub struct Rename {
    from: FieldPath,
    to: FieldPath,
}

impl Step for Rename {
    fn apply(&self, event: &mut Value) -> Verdict {
        let Some(value) = self.from.take(event) else {
            return Verdict::Keep;
        };
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

    fn step(from: &str, to: &str) -> Rename {
        RenameConfig {
            name: None,
            from: from.into(),
            to: to.into(),
        }
        .build()
        .unwrap()
    }

    #[test]
    fn moves_the_field() {
        let mut event = json!({"client": {"ipAddress": "10.0.0.1", "zone": "x"}});
        assert_eq!(
            step("client.ipAddress", "src.ip").apply(&mut event),
            Verdict::Changed
        );
        assert_eq!(
            event,
            json!({"client": {"zone": "x"}, "src": {"ip": "10.0.0.1"}})
        );
    }

    #[test]
    fn keeps_an_event_without_the_field() {
        let mut event = json!({"a": 1});
        assert_eq!(step("b", "c").apply(&mut event), Verdict::Keep);
        assert_eq!(event, json!({"a": 1}));
    }

    #[test]
    fn fails_when_the_target_cannot_be_written() {
        let mut event = json!({"a": 1, "b": "text"});
        let Verdict::Fail(reason) = step("a", "b.c").apply(&mut event) else {
            panic!("expected a failure");
        };
        assert!(reason.contains("`b` holds a string"), "{reason}");
    }

    #[test]
    fn a_path_that_cannot_exist_is_a_problem_at_its_key() {
        let problem = RenameConfig {
            name: None,
            from: "a".into(),
            to: "x..y".into(),
        }
        .build()
        .err()
        .unwrap();
        assert_eq!(problem.path, "to");
        assert!(
            problem.message.contains("segment 2 is empty"),
            "{problem:?}"
        );
    }
}
