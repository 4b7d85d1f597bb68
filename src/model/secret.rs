//! A credential that never prints itself.
//!
//! Reading one from the configuration (resolving `${env:…}`, `${file:…}` and secret manager
//! references, and registering the value for scrubbing) is the config loader's job: its
//! `secret` module implements `Deserialize` for [`Secret`] (an impl may live anywhere in the
//! crate), so this leaf stays free of I/O and of the modules above it.

use std::fmt;

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
