//! `transforms`: one step of a chain as the config writes it, `kind` saying which.

use serde::Deserialize;

use super::cast::CastConfig;
use super::copy::CopyConfig;
use super::filter::FilterConfig;
use super::geoip::GeoipConfig;
use super::hash::HashConfig;
use super::intel::IntelConfig;
use super::ocsf_step::OcsfConfig;
use super::parse_time::ParseTimeConfig;
use super::redact::RedactConfig;
use super::remove::RemoveConfig;
use super::rename::RenameConfig;
use super::set::SetConfig;
use super::step::{Problem, Step};
use super::vrl::VrlConfig;

/// One `[[sources.transforms]]` (or a sink's `transforms`) entry. A new kind is one module
/// with its config struct and its [`Step`], and one arm here and in each `match` below.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepConfig {
    /// Move a field.
    Rename(RenameConfig),
    /// Copy a field.
    Copy(CopyConfig),
    /// Write a fixed value.
    Set(SetConfig),
    /// Remove fields.
    Remove(RemoveConfig),
    /// Drop events on a condition, or keep only those that meet it.
    Filter(FilterConfig),
    /// Replace values with a marker.
    Redact(RedactConfig),
    /// Replace values with a keyed pseudonym (HMAC-SHA256).
    Hash(HashConfig),
    /// Rewrite a time as RFC 3339 or epoch milliseconds.
    ParseTime(ParseTimeConfig),
    /// Convert values to a string, integer, float or bool.
    Cast(CastConfig),
    /// Replace the event with its OCSF 1.7.0 form, by a preset's mapping.
    Ocsf(OcsfConfig),
    /// Add location and autonomous system of IP addresses from MaxMind DB files.
    Geoip(GeoipConfig),
    /// Match values against threat intel indicators.
    Intel(IntelConfig),
    /// Run a VRL program (with the cargo feature `vrl`).
    Vrl(VrlConfig),
}

impl StepConfig {
    /// The kind, as the config writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            StepConfig::Rename(_) => "rename",
            StepConfig::Copy(_) => "copy",
            StepConfig::Set(_) => "set",
            StepConfig::Remove(_) => "remove",
            StepConfig::Filter(_) => "filter",
            StepConfig::Redact(_) => "redact",
            StepConfig::Hash(_) => "hash",
            StepConfig::ParseTime(_) => "parse_time",
            StepConfig::Cast(_) => "cast",
            StepConfig::Ocsf(_) => "ocsf",
            StepConfig::Geoip(_) => "geoip",
            StepConfig::Intel(_) => "intel",
            StepConfig::Vrl(_) => "vrl",
        }
    }

    /// The name the config gives the step, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            StepConfig::Rename(c) => c.name.as_deref(),
            StepConfig::Copy(c) => c.name.as_deref(),
            StepConfig::Set(c) => c.name.as_deref(),
            StepConfig::Remove(c) => c.name.as_deref(),
            StepConfig::Filter(c) => c.name.as_deref(),
            StepConfig::Redact(c) => c.name.as_deref(),
            StepConfig::Hash(c) => c.name.as_deref(),
            StepConfig::ParseTime(c) => c.name.as_deref(),
            StepConfig::Cast(c) => c.name.as_deref(),
            StepConfig::Ocsf(c) => c.name.as_deref(),
            StepConfig::Geoip(c) => c.name.as_deref(),
            StepConfig::Intel(c) => c.name.as_deref(),
            StepConfig::Vrl(c) => c.name.as_deref(),
        }
    }

    /// Where the step puts the event's OCSF form, for an `ocsf` step; `None` for the others
    /// (so the loader can tell, before anything runs, which sinks get OCSF).
    pub fn ocsf_into(&self) -> Option<super::OcsfInto> {
        match self {
            StepConfig::Ocsf(c) => Some(c.into),
            _ => None,
        }
    }

    /// The compiled step: paths parsed, regular expressions compiled, keys checked.
    pub fn build(&self) -> Result<Box<dyn Step>, Problem> {
        Ok(match self {
            StepConfig::Rename(c) => Box::new(c.build()?),
            StepConfig::Copy(c) => Box::new(c.build()?),
            StepConfig::Set(c) => Box::new(c.build()?),
            StepConfig::Remove(c) => Box::new(c.build()?),
            StepConfig::Filter(c) => Box::new(c.build()?),
            StepConfig::Redact(c) => Box::new(c.build()?),
            StepConfig::Hash(c) => Box::new(c.build()?),
            StepConfig::ParseTime(c) => Box::new(c.build()?),
            StepConfig::Cast(c) => Box::new(c.build()?),
            StepConfig::Ocsf(c) => Box::new(c.build()?),
            StepConfig::Geoip(c) => Box::new(c.build()?),
            StepConfig::Intel(c) => Box::new(c.build()?),
            StepConfig::Vrl(c) => c.build()?,
        })
    }

    /// Takes the files the step reads (GeoIP databases, intel feeds) relative to `base`, the
    /// config file's folder, so a config works the same from any working directory.
    pub fn make_paths_relative_to(&mut self, base: &std::path::Path) {
        match self {
            StepConfig::Geoip(c) => c.make_paths_relative_to(base),
            StepConfig::Intel(c) => c.make_paths_relative_to(base),
            StepConfig::Vrl(c) => c.make_paths_relative_to(base),
            _ => {}
        }
    }
}
