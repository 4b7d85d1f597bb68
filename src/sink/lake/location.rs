//! Where a lake lives: a local directory or a bucket and prefix of an object store.

pub use crate::cloud::{StoreLocation as LakeLocation, StoreScheme};

/// Why a URL cannot be a lake's location; each says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// Not a location the object-store layer reads (its own message, with a hint).
    #[error("{0}")]
    Store(String),
    /// The prefix starts with sluice's staging directory.
    #[error("url `{url}`: the prefix cannot start with `_staging`, where sluice stages objects ({hint})", hint = crate::cloud::URL_HINT)]
    Staging {
        /// The URL as written (it holds no credential: those are refused first).
        url: url::Url,
    },
}

/// Reads a lake URL into a location, refusing what it cannot write to safely.
pub fn parse_url(url: &url::Url) -> Result<LakeLocation, LocationError> {
    let location = crate::cloud::parse_location(url, "a lake location")
        .map_err(|e| LocationError::Store(e.to_string()))?;
    if let LakeLocation::Store { prefix, .. } = &location {
        if prefix.split('/').next() == Some(super::STAGING_DIR) {
            return Err(LocationError::Staging { url: url.clone() });
        }
    }
    Ok(location)
}
