//! Where a lake lives: a local directory or a bucket and prefix of an object store.

use std::path::PathBuf;

/// Where a lake lives, resolved from `path` or `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LakeLocation {
    /// A local directory, written with fsync and atomic renames.
    Directory(PathBuf),
    /// A bucket (or container) of an object store, and a key prefix inside it.
    Store {
        /// Which object store.
        scheme: StoreScheme,
        /// Bucket or container name.
        bucket: String,
        /// Key prefix without leading or trailing `/`; empty for the bucket's root.
        prefix: String,
    },
}

/// The object stores a lake can live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreScheme {
    /// Amazon S3 or an S3-compatible store (`s3://`).
    S3,
    /// Google Cloud Storage (`gs://`).
    Gcs,
    /// Azure Blob Storage (`az://`).
    Azure,
}

impl StoreScheme {
    /// The URL scheme, as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreScheme::S3 => "s3",
            StoreScheme::Gcs => "gs",
            StoreScheme::Azure => "az",
        }
    }

    /// The cargo feature that compiles this store's client in.
    pub fn feature(self) -> &'static str {
        match self {
            StoreScheme::S3 => "s3",
            StoreScheme::Gcs => "gcs",
            StoreScheme::Azure => "azure",
        }
    }

    /// Whether this build has the store's client.
    pub fn compiled_in(self) -> bool {
        match self {
            StoreScheme::S3 => cfg!(feature = "s3"),
            StoreScheme::Gcs => cfg!(feature = "gcs"),
            StoreScheme::Azure => cfg!(feature = "azure"),
        }
    }
}

/// Reads a lake URL into a location, refusing what it cannot write to safely.
pub fn parse_url(url: &url::Url) -> Result<LakeLocation, String> {
    let hint = "hint: write file:///abs/dir, s3://bucket/prefix, gs://bucket/prefix or az://container/prefix";
    let scheme = match url.scheme() {
        "file" => {
            let dir = url
                .to_file_path()
                .map_err(|()| format!("url `{url}` is not a local absolute path ({hint})"))?;
            return Ok(LakeLocation::Directory(dir));
        }
        "s3" | "s3a" => StoreScheme::S3,
        "gs" => StoreScheme::Gcs,
        "az" | "azure" => StoreScheme::Azure,
        other => {
            return Err(format!(
                "url scheme `{other}:` is not a lake location ({hint})"
            ))
        }
    };
    let bucket = url.host_str().unwrap_or_default().to_string();
    if bucket.is_empty() {
        return Err(format!("url `{url}` names no bucket ({hint})"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "url `{url}` has a query or fragment, which a lake location cannot use ({hint})"
        ));
    }
    let mut segments = Vec::new();
    for segment in url.path().split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        if decoded == "." || decoded == ".." || decoded.chars().any(|c| c.is_control() || c == '\\')
        {
            return Err(format!(
                "url `{url}`: prefix segment `{segment}` is not allowed in an object key ({hint})"
            ));
        }
        segments.push(decoded.into_owned());
    }
    if segments.first().is_some_and(|s| s == super::STAGING_DIR) {
        return Err(format!("url `{url}`: the prefix cannot start with `_staging`, where sluice stages objects ({hint})"));
    }
    Ok(LakeLocation::Store {
        scheme,
        bucket,
        prefix: segments.join("/"),
    })
}
