//! OCSF 1.7.0: each preset's events mapped to one OCSF event, and a validator that checks an
//! event against the compiled schema.
//!
//! The mappings are data, one file per preset in `presets/ocsf/` (the format is in
//! [`spec`](self) and `docs/ocsf.md`), compiled into the binary like the presets. This module
//! is pure: the transform stage calls [`Mapping::map`] on each event.

mod catalog;
mod classes;
mod map;
mod observables;
mod path;
mod spec;
mod validate;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde_json::Value;

pub use classes::class_name;
pub use validate::{Finding, Schema, SchemaError};

/// The OCSF version every mapping targets (`metadata.version`).
pub const OCSF_VERSION: &str = "1.7.0";

/// Where the vendor's own fields go in the OCSF event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawMode {
    /// The vendor fields no mapping moved, as an object in `unmapped` (nulls and empty
    /// objects left out).
    #[default]
    Unmapped,
    /// The whole vendor event, as JSON text, in `raw_data`.
    RawData,
    /// Both.
    Both,
}

/// One preset's mapping to OCSF, parsed once.
#[derive(Clone, Debug)]
pub struct Mapping {
    preset: &'static str,
    file: Arc<spec::MappingFile>,
}

impl Mapping {
    /// The built-in mapping of preset `name`, if it has one.
    pub fn for_preset(name: &str) -> Option<Mapping> {
        catalog::get(name)
    }

    /// The presets that ship a mapping, in name order.
    pub fn presets() -> Vec<&'static str> {
        catalog::names()
    }

    /// Mapping files that do not parse, with the error (a build defect the catalog test
    /// catches).
    pub fn broken() -> Vec<(&'static str, String)> {
        catalog::broken()
    }

    /// The preset this mapping is for.
    pub fn preset(&self) -> &'static str {
        self.preset
    }

    /// The OCSF event for one vendor event. Fails, naming the vendor field, when the event
    /// has no usable time, no rule matches it, or a value cannot be converted.
    pub fn map(&self, event: &Value, raw: RawMode) -> Result<Value, MapError> {
        self.map_owned(event.clone(), raw)
    }

    /// [`Mapping::map`] of an event the caller gives up: its fields that the mapping does
    /// not move become `unmapped` without a copy of the event being made.
    pub fn map_owned(&self, event: Value, raw: RawMode) -> Result<Value, MapError> {
        map::apply(self.preset, &self.file, event, raw)
    }
}

/// Lists a mapped OCSF event's `observables` again from its attributes as they are now: the
/// chain calls it after later steps changed the event, so a value a step pseudonymized or
/// redacted does not stay behind in `observables`. An event without `observables` (not
/// mapped, or with none) is left alone.
pub fn refresh_observables(event: &mut Value) {
    observables::refresh(event);
}

/// Why an event could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OCSF mapping of preset `{preset}`{}: {problem} (hint: {})", field_part(.field), hint(.preset, .problem))]
pub struct MapError {
    /// The preset whose mapping failed.
    pub preset: String,
    /// The vendor field at fault (empty when the event as a whole is).
    pub field: String,
    /// What is wrong with it.
    pub problem: MapProblem,
}

/// What is wrong with the event or its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapProblem {
    /// The event is not a JSON object.
    #[error("the event is not a JSON object")]
    NotAnObject,
    /// No rule of the mapping matches (a mapping ends with a catch-all rule, so this is a
    /// defect of the mapping file).
    #[error("no rule of the mapping matches the event")]
    NoRule,
    /// The time field is absent or null.
    #[error("the event has no time")]
    MissingTime,
    /// The time field does not parse in the mapping's format.
    #[error("time {value} is not in format {format}")]
    BadTime {
        /// The value, shortened.
        value: String,
        /// The format expected.
        format: String,
    },
    /// A value cannot be converted to what its OCSF attribute holds.
    #[error("value {value} cannot be read as {to}")]
    Convert {
        /// The value, shortened.
        value: String,
        /// The conversion.
        to: &'static str,
    },
    /// A value the copy's `map` has no entry for, and no `default`.
    #[error("value {value} has no entry in the mapping's table")]
    NotInMap {
        /// The value, shortened.
        value: String,
    },
}

fn field_part(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!(", field `{field}`")
    }
}

fn hint(preset: &str, problem: &MapProblem) -> String {
    match problem {
        MapProblem::NotAnObject | MapProblem::MissingTime | MapProblem::BadTime { .. } => {
            "the event is not one the vendor's API documents; it goes to the dead-letter queue, \
             check the source's connector"
                .to_string()
        }
        _ => format!(
            "add the case to presets/ocsf/{preset}.toml, or map this source with a VRL step"
        ),
    }
}
