//! Where a lake lives: a local directory or a bucket and prefix of an object store.

pub use crate::cloud::{StoreLocation as LakeLocation, StoreScheme};

/// Reads a lake URL into a location, refusing what it cannot write to safely.
pub fn parse_url(url: &url::Url) -> Result<LakeLocation, String> {
    let location = crate::cloud::parse_location(url, "a lake location")?;
    if let LakeLocation::Store { prefix, .. } = &location {
        if prefix.split('/').next() == Some(super::STAGING_DIR) {
            return Err(format!("url `{url}`: the prefix cannot start with `_staging`, where sluice stages objects ({})", crate::cloud::URL_HINT));
        }
    }
    Ok(location)
}
