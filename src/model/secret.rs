//! A credential that never prints itself.
//!
//! Resolving the `${env:…}`, `${file:…}` and secret manager references of a config file, and
//! registering the values for scrubbing, is the config loader's job, done on the document
//! before it is deserialized (`config/secret.rs`). Deserializing a [`Secret`] only takes the
//! text it is given: plain data, no I/O.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A credential. `Debug` and `Display` print `[redacted]`; only [`Secret::expose`] gives the
/// value, so a secret reaches a log only if someone writes `expose()` into a log call.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps an already-resolved value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for putting on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Still a `${...}` reference: the loader reads the settings once before it resolves
    /// references (shape errors first), and commands such as `sluice status` never resolve
    /// them, so a check of the value must wait for (or go without) the resolved text.
    pub fn is_unresolved(&self) -> bool {
        self.0.contains("${")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}
