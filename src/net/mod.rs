//! The one HTTP transport of Sluice, shared by sources, sinks and secret managers: how a
//! client is built ([`client`]: rustls, the whole CA bundle, no redirects, timeouts, proxies
//! from the environment), how long to wait before trying again ([`retry`]: `Retry-After` as
//! seconds or an HTTP date, exponential backoff with jitter), how a body is read without
//! trusting its size ([`body`]), and how a transport failure or a URL is shown without its
//! secrets ([`shown`]).
//!
//! This layer knows nothing of the configuration: callers translate their settings into a
//! [`ClientOptions`].

pub mod body;
pub mod client;
pub mod retry;
pub mod shown;

pub use body::{read_capped, read_excerpt, BodyError};
pub use client::{ClientOptions, NetError};
pub use retry::{backoff, retry_after};
pub use shown::{describe, display_url};
