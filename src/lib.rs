//! Sluice pulls audit and security logs from SaaS APIs into a security data lake, checkpointed
//! so that a crash at any instant loses nothing and duplicates nothing.
//!
//! The path of one event is a straight line through the modules:
//! [`source`] (HTTP, pagination, records) → [`transform`] (envelope) → [`sink`] (lake objects)
//! → [`state`] (checkpoint), driven by [`runtime`]. [`config`] reads the TOML file, [`cli`]
//! is the `sluice` command and [`simulator`] emulates vendor APIs for the demo and tests.
//! `docs/architecture.md` walks through it.

// Output goes through the secret scrubber: `crate::outln!`, `crate::errln!` and `crate::out!`
// (see [`redact`]), never straight to stdout or stderr.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod cloud;
pub mod config;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod model;
pub mod net;
pub mod notify;
pub mod panic_hook;
pub mod preset;
pub mod redact;
pub mod runtime;
mod secrets;
pub mod serve;
/// The vendor API simulator, a crate of its own (`crates/sluice-simulator`) so it cannot reach
/// into the product; re-exported so `sluice::simulator::…` paths keep working.
pub use sluice_simulator as simulator;
pub mod sink;
pub mod source;
pub mod state;
pub mod telemetry;
pub use model::{timefmt, timemath};
pub mod transform;
