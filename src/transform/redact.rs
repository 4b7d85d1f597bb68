//! `kind = "redact"`: replaces the values of fields with a fixed marker.

use serde::Deserialize;
use serde_json::Value;

use super::field::FieldPath;
use super::step::{field_paths, Problem, Step, Verdict};

/// `{ kind = "redact", fields = ["client.ipAddress"], marker = "[REDACTED]" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// The step's name in counts, metrics and dead letters; default `redact#<position>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The fields whose values are replaced, whatever they hold (objects and arrays too);
    /// those an event does not have are passed over (nothing is added).
    pub fields: Vec<String>,
    /// What replaces each value.
    #[serde(default = "default_marker")]
    pub marker: String,
}

fn default_marker() -> String {
    "[REDACTED]".to_string()
}

impl RedactConfig {
    /// The compiled step.
    pub fn build(&self) -> Result<Redact, Problem> {
        Ok(Redact {
            fields: field_paths("fields", &self.fields)?,
            marker: Value::String(self.marker.clone()),
        })
    }
}

/// The compiled `redact` step.
pub struct Redact {
    fields: Vec<FieldPath>,
    marker: Value,
}

impl Step for Redact {
    fn apply(&self, event: &mut Value) -> Verdict {
        let mut changed = false;
        for field in &self.fields {
            if let Some(value) = field.get_mut(event) {
                if *value != self.marker {
                    *value = self.marker.clone();
                    changed = true;
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(fields: &[&str], marker: Option<&str>) -> Redact {
        RedactConfig {
            name: None,
            fields: fields.iter().map(|f| f.to_string()).collect(),
            marker: marker.map_or_else(default_marker, str::to_string),
        }
        .build()
        .unwrap()
    }

    #[test]
    fn replaces_every_value_it_finds() {
        let mut event = json!({"ip": "10.0.0.1", "geo": {"city": "Oslo"}, "list": [{"u": "a"}]});
        let verdict = step(&["ip", "geo", "list.0.u", "missing"], None).apply(&mut event);
        assert_eq!(verdict, Verdict::Changed);
        assert_eq!(
            event,
            json!({"ip": "[REDACTED]", "geo": "[REDACTED]", "list": [{"u": "[REDACTED]"}]})
        );
    }

    #[test]
    fn keeps_an_event_without_the_fields_and_adds_nothing() {
        let mut event = json!({"a": 1});
        assert_eq!(step(&["b"], Some("***")).apply(&mut event), Verdict::Keep);
        assert_eq!(event, json!({"a": 1}));
    }
}
