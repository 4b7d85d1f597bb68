//! Transforms: what happens to an event between the source and the sinks.
//!
//! Every record is wrapped in the lake [`Envelope`]. Before that, a source's chain of steps
//! ([`Chain`], built from its `transforms` settings) may keep, change, drop or fail each
//! event, and each sink may run a chain of its own over its copy. Steps run synchronously on
//! the page being staged, so a page stays one unit of commit; the runtime counts drops and
//! sends failures to the dead-letter queue (`runtime::transforms`).
//!
//! A step kind is one module with its config struct beside its [`Step`], and one arm of
//! [`StepConfig`]. The presets' OCSF mappings and their schema validator are in [`ocsf`] (pure functions a
//! step calls). `geoip` and `intel` read files loaded once per process and kept fresh by
//! [`reload`].

mod chain;
mod config;
mod envelope;
pub mod field;
pub mod ocsf;
pub mod ocsf_step;
mod step;

pub mod cast;
pub mod copy;
pub mod filter;
pub mod geoip;
pub mod hash;
pub mod intel;
pub mod parse_time;
pub mod redact;
pub mod reload;
pub mod remove;
pub mod rename;
pub mod set;
pub mod vrl;

pub use chain::{Applied, Chain, ChainProblem, Outcome};
pub use config::StepConfig;
pub use envelope::{Envelope, EnvelopeTime, OcsfForm};
pub use step::{OcsfInto, Problem, Step, Verdict};
