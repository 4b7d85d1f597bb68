//! Transforms: what happens to an event between the source and the sinks.
//!
//! Today: wrapping each record in the lake [`Envelope`], and the OCSF mappings of the presets
//! with their schema validator ([`ocsf`], pure functions the transform stage calls).
//! Enrichment and filters will slot in here as further steps over the same events.

mod envelope;
pub mod ocsf;

pub use envelope::{Envelope, EnvelopeTime};
