//! `transforms`: the transform chains of sources and sinks, read in a pass of their own.
//!
//! A chain's steps are settings of the transform stage. The `[[sources]]` table that holds a
//! source's chain belongs to a layer below the stage and cannot name its types, so source
//! (and sink) tables take the key as [`crate::model::Deferred`], and this pass reads every
//! `transforms` key of the same document (after presets are expanded, so a source made from
//! a preset carries its chain like any other) into [`StepConfig`]s, keyed by their owner's
//! name. Reading the text itself, not a copy, keeps toml's positions for errors.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::load::{invalid, Invalid};
use super::Config;
use crate::transform::{Chain, StepConfig};

/// Every chain of the config.
#[derive(Debug, Clone, Default)]
pub struct Transforms {
    /// Each source's chain, by source name (sources without one are absent).
    pub sources: BTreeMap<String, Vec<StepConfig>>,
    /// Each sink's chain, by sink name: run after the source's, on that sink's copy only.
    pub sinks: BTreeMap<String, Vec<StepConfig>>,
}

/// The document seen through its `transforms` keys only (every other key is passed over).
#[derive(Deserialize)]
pub(super) struct Document {
    #[serde(default)]
    sources: Vec<Owner>,
    #[serde(default)]
    sinks: Vec<Owner>,
}

#[derive(Deserialize)]
struct Owner {
    #[serde(default)]
    transforms: Vec<StepConfig>,
}

impl Document {
    /// The chains, keyed by the names of the sources and sinks `config` read from the same
    /// document (in the same order).
    pub(super) fn keyed(self, config: &Config) -> Transforms {
        let by_name = |owners: Vec<Owner>, names: Vec<&str>| {
            owners
                .into_iter()
                .zip(names)
                .filter(|(owner, _)| !owner.transforms.is_empty())
                .map(|(owner, name)| (name.to_string(), owner.transforms))
                .collect()
        };
        Transforms {
            sources: by_name(
                self.sources,
                config.sources.iter().map(|s| s.name.as_str()).collect(),
            ),
            sinks: by_name(self.sinks, config.sinks.iter().map(|s| s.name()).collect()),
        }
    }
}

/// Every chain builds: paths parse, regular expressions compile, hash keys are long enough,
/// step names are unique. Skipped when secrets are not resolved (`sluice status`), as the
/// chains are not run then.
pub(super) fn validate(config: &Config) -> Result<(), Invalid> {
    if !super::secret::resolving() {
        return Ok(());
    }
    for (i, source) in config.sources.iter().enumerate() {
        check(&format!("sources[{i}]"), config.transforms_of(source), None)?;
    }
    for (i, sink) in config.sinks.iter().enumerate() {
        let steps = config.sink_transforms(sink.name());
        check(&format!("sinks[{i}]"), steps, Some(sink.name()))?;
    }
    Ok(())
}

fn check(owner: &str, steps: &[StepConfig], scope: Option<&str>) -> Result<(), Invalid> {
    Chain::build(steps, scope).map(|_| ()).map_err(|p| {
        invalid(
            format!("{owner}.transforms[{}].{}", p.step, p.field),
            p.message,
            p.hint,
        )
    })
}
