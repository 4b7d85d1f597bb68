//! Transforms: what happens to an event between the source and the sinks.
//!
//! Today one step: wrapping each record in the lake [`Envelope`]. Normalization (OCSF),
//! enrichment and filters will slot in here as further steps over the same events.

mod envelope;

pub use envelope::{Envelope, EnvelopeTime};
