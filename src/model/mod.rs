//! The leaf of the crate: plain data every component shares (credentials, time formats and
//! arithmetic, the order of a listing, schedules, the kinds of failure, configuration problems). It imports nothing
//! else of the crate, so every other module may use it.

pub mod deferred;
pub mod failure;
pub mod order;
pub mod problem;
pub mod schedule;
pub mod secret;
pub mod timefmt;
pub mod timemath;
pub mod zoned;

pub use deferred::Deferred;
pub use failure::FailureKind;
pub use order::SortOrder;
pub use problem::Problem;
pub use secret::Secret;
pub use timefmt::TimeFormat;
