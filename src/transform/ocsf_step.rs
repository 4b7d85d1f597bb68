//! `kind = "ocsf"`: maps the event to its OCSF 1.7.0 form, by a preset's mapping
//! ([`super::ocsf`]). With `into = "data"` (the default) the OCSF event replaces the vendor
//! record; with `into = "member"` the vendor record stays in `data` and the OCSF event is the
//! envelope's `ocsf` member (see [`super::Chain::apply_envelope`]). On a sink's chain, that
//! sink gets OCSF while the others keep the vendor's events.

use serde::Deserialize;
use serde_json::Value;

use super::ocsf::{Mapping, RawMode};
use super::step::{OcsfInto, Problem, Step, Verdict};

/// `{ kind = "ocsf", mapping = "okta", raw = "unmapped" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OcsfConfig {
    /// The step's name in counts, metrics and dead letters; default `ocsf#<position>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The built-in mapping: a preset's name (a source made from a preset writes that name).
    pub mapping: String,
    /// Where the vendor's own fields go: `unmapped` (those no mapping moved, the default),
    /// `raw_data` (the whole event as JSON text) or `both`.
    #[serde(default)]
    pub raw: RawMode,
    /// Where the OCSF event goes: `data` (replaces the vendor record, the default) or
    /// `member` (the envelope's `ocsf` member, beside the vendor record).
    #[serde(default)]
    pub into: OcsfInto,
}

impl OcsfConfig {
    /// The compiled step: the mapping, parsed once.
    pub fn build(&self) -> Result<OcsfStep, Problem> {
        match Mapping::for_preset(&self.mapping) {
            Some(mapping) => Ok(OcsfStep {
                mapping,
                raw: self.raw,
                into: self.into,
            }),
            None => Err(Problem::new(
                "mapping",
                format!("no built-in OCSF mapping is named `{}`", self.mapping),
                format!(
                    "name one of the presets that have one: {}",
                    Mapping::presets().join(", ")
                ),
            )),
        }
    }
}

/// The compiled `ocsf` step.
pub struct OcsfStep {
    mapping: Mapping,
    raw: RawMode,
    into: OcsfInto,
}

impl Step for OcsfStep {
    fn apply(&self, event: &mut Value) -> Verdict {
        // Taken, not copied: on a failure the chain sets aside the event as it was before
        // the chain ran, not what a step left of it (see `Step::apply`).
        match self.mapping.map_owned(std::mem::take(event), self.raw) {
            Ok(ocsf) => {
                *event = ocsf;
                Verdict::Changed
            }
            // The error names the vendor field and why, never its value.
            Err(error) => Verdict::Fail(error.to_string()),
        }
    }

    fn ocsf_into(&self) -> Option<OcsfInto> {
        Some(self.into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::SimulatorConfig;

    fn step(mapping: &str) -> Result<OcsfStep, Problem> {
        OcsfConfig {
            name: None,
            mapping: mapping.into(),
            raw: RawMode::Unmapped,
            into: OcsfInto::Data,
        }
        .build()
    }

    #[test]
    fn an_okta_event_becomes_its_ocsf_form() {
        let step = step("okta").unwrap();
        let config = SimulatorConfig::okta(10);
        let mut event = crate::simulator::event(&config, 3);
        let uuid = event["uuid"].clone();
        assert_eq!(step.apply(&mut event), Verdict::Changed);
        assert_eq!(event["metadata"]["version"], "1.7.0");
        assert_eq!(event["metadata"]["uid"], uuid);
        let class = event["class_uid"].as_i64().unwrap();
        let activity = event["activity_id"].as_i64().unwrap();
        assert_eq!(event["type_uid"].as_i64(), Some(class * 100 + activity));
    }

    #[test]
    fn an_event_the_mapping_cannot_read_fails_and_an_unknown_mapping_is_a_problem() {
        let okta = step("okta").unwrap();
        let mut event = serde_json::json!({ "uuid": "x" });
        assert!(matches!(okta.apply(&mut event), Verdict::Fail(_)));
        let problem = step("oktta").err().unwrap();
        assert_eq!(problem.path, "mapping");
        assert!(problem.hint.contains("okta"), "{problem:?}");
    }
}
