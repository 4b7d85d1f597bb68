//! A key of a config table that a later pass of the loader reads.
//!
//! The loader reads each table into the struct of the component that owns it. A few keys hold
//! settings of a component in a higher layer than the table's owner: a source's (or a sink's)
//! `transforms` chain belongs to the transform stage, which sits above the source. The
//! table's struct cannot name those types, so it takes the key as [`Deferred`] (any value,
//! nothing kept) and the loader reads the key again, into the right types, in a pass of its
//! own (`config::transforms`).

use serde::{Deserialize, Deserializer};

/// A key accepted here and read elsewhere (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deferred;

impl<'de> Deserialize<'de> for Deferred {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer)?;
        Ok(Deferred)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Table {
        #[allow(dead_code)]
        #[serde(default)]
        later: Deferred,
    }

    #[test]
    fn any_value_is_accepted_and_other_keys_are_still_refused() {
        toml::from_str::<Table>("later = [{ kind = \"x\", n = 1 }]").unwrap();
        toml::from_str::<Table>("").unwrap();
        assert!(toml::from_str::<Table>("other = 1").is_err());
    }
}
