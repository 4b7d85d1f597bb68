//! Object stores (S3 and S3-compatible stores, Google Cloud Storage, Azure Blob Storage):
//! reading their URLs, checking their options and building their clients. Shared by the lake
//! sink and the object state store, so both accept the same URLs and options.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;

use crate::model::Secret;

/// The object stores sluice can use.
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

/// Where something lives: a local directory, or a bucket and prefix of an object store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A local directory.
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

/// The hint every URL error carries.
pub const URL_HINT: &str =
    "hint: write file:///abs/dir, s3://bucket/prefix, gs://bucket/prefix or az://container/prefix";

/// Reads `file:///abs/dir`, `s3://bucket/prefix`, `gs://…` or `az://…` into a location;
/// `what` names the setting in errors (e.g. "a lake location").
pub fn parse_location(url: &url::Url, what: &str) -> Result<StoreLocation, String> {
    let scheme = match url.scheme() {
        "file" => {
            let dir = url
                .to_file_path()
                .map_err(|()| format!("url `{url}` is not a local absolute path ({URL_HINT})"))?;
            return Ok(StoreLocation::Directory(dir));
        }
        "s3" | "s3a" => StoreScheme::S3,
        "gs" => StoreScheme::Gcs,
        "az" | "azure" => StoreScheme::Azure,
        other => return Err(format!("url scheme `{other}:` is not {what} ({URL_HINT})")),
    };
    let bucket = url.host_str().unwrap_or_default().to_string();
    if bucket.is_empty() {
        return Err(format!("url `{url}` names no bucket ({URL_HINT})"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "url `{url}` has a query or fragment, which {what} cannot use ({URL_HINT})"
        ));
    }
    let mut segments = Vec::new();
    for segment in url.path().split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        if decoded == "." || decoded == ".." || decoded.chars().any(|c| c.is_control() || c == '\\')
        {
            return Err(format!(
                "url `{url}`: prefix segment `{segment}` is not allowed in an object key ({URL_HINT})"
            ));
        }
        segments.push(decoded.into_owned());
    }
    Ok(StoreLocation::Store {
        scheme,
        bucket,
        prefix: segments.join("/"),
    })
}

/// Parses a URL from the config, refusing credentials inside it (never echoing it then).
/// `label` names the setting, e.g. "lake `raw`" or "[state]".
pub fn parse_config_url(label: &str, text: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(text)
        .map_err(|e| format!("{label}: url `{text}` is not a URL: {e} ({URL_HINT})"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("{label}: url must not hold credentials (hint: use access_key_id and secret_access_key with ${{env:...}}, or the store's usual environment variables)"));
    }
    Ok(parsed)
}

/// How to reach an object store, beyond its URL: the options a `[[sinks]]` lake and
/// `[state] kind = "object"` share.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// S3 or Azure endpoint of an S3-compatible or emulated store, e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    /// S3 region (the environment's `AWS_REGION` otherwise).
    pub region: Option<String>,
    /// Allow plain `http://` endpoints (local S3-compatible servers, emulators).
    pub allow_http: bool,
    /// S3 access key id; the environment's credential chain is used when absent.
    pub access_key_id: Option<Secret>,
    /// S3 secret access key, given together with `access_key_id`.
    pub secret_access_key: Option<Secret>,
}

impl StoreOptions {
    /// The first option set, by its config key: for locations that are local directories,
    /// where none applies.
    pub fn first_set(&self) -> Option<&'static str> {
        [
            ("endpoint", self.endpoint.is_some()),
            ("region", self.region.is_some()),
            ("allow_http", self.allow_http),
            ("access_key_id", self.access_key_id.is_some()),
            ("secret_access_key", self.secret_access_key.is_some()),
        ]
        .into_iter()
        .find_map(|(key, set)| set.then_some(key))
    }

    /// Refuses options that `scheme` does not understand rather than ignoring them, and
    /// checks the endpoint. `label` names the setting in errors.
    pub fn check(&self, label: &str, scheme: StoreScheme) -> Result<(), String> {
        if !scheme.compiled_in() {
            return Err(format!(
                "{label}: this build of sluice cannot use {}:// (hint: build it with `cargo build --release --features {}`)",
                scheme.as_str(),
                scheme.feature()
            ));
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return Err(format!("{label}: set access_key_id and secret_access_key together (hint: or neither, to use the environment's credentials)"));
        }
        let s3_only = [
            ("region", self.region.is_some()),
            ("access_key_id", self.access_key_id.is_some()),
        ];
        if scheme != StoreScheme::S3 {
            if let Some((key, _)) = s3_only.iter().find(|(_, set)| *set) {
                return Err(format!("{label}: `{key}` applies to s3:// locations only (hint: {}:// stores read their credentials from the environment, see docs/configuration.md)", scheme.as_str()));
            }
        }
        if scheme == StoreScheme::Gcs && self.endpoint.is_some() {
            return Err(format!(
                "{label}: `endpoint` applies to s3:// and az:// locations only (hint: remove it)"
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            let parsed = url::Url::parse(endpoint).map_err(|e| {
                format!("{label}: endpoint `{endpoint}` is not a URL: {e} (hint: e.g. http://127.0.0.1:9000)")
            })?;
            if parsed.scheme() == "http" && !self.allow_http {
                return Err(format!("{label}: endpoint `{endpoint}` is plain http (hint: add allow_http = true for a local test server; use https otherwise)"));
            }
        }
        Ok(())
    }
}

/// The S3 client builder of `bucket` with `options` applied, for callers that configure more
/// (the lake's Object Lock); [`connect`] builds it as is.
#[cfg(feature = "s3")]
pub fn s3_builder(bucket: &str, options: &StoreOptions) -> object_store::aws::AmazonS3Builder {
    let mut builder = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch);
    if let Some(endpoint) = &options.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &options.region {
        builder = builder.with_region(region);
    }
    if options.allow_http {
        builder = builder.with_allow_http(true);
    }
    if let (Some(key), Some(secret)) = (&options.access_key_id, &options.secret_access_key) {
        builder = builder
            .with_access_key_id(key.expose())
            .with_secret_access_key(secret.expose());
    }
    builder
}

/// Builds the client of `bucket` in `scheme`. Credentials come from the environment (each
/// builder's `from_env`) unless the options give S3 keys. Nothing is sent yet.
///
/// S3 clients send conditional writes as `If-Match` / `If-None-Match: *`
/// (`S3ConditionalPut::ETagMatch`), which AWS S3 and most compatible stores honour.
#[allow(unused_variables)] // without cloud features every arm is the same error
pub fn connect(
    scheme: StoreScheme,
    bucket: &str,
    options: &StoreOptions,
) -> Result<Arc<dyn ObjectStore>, String> {
    match scheme {
        #[cfg(feature = "s3")]
        StoreScheme::S3 => Ok(Arc::new(
            s3_builder(bucket, options)
                .build()
                .map_err(|e| e.to_string())?,
        )),
        #[cfg(feature = "gcs")]
        StoreScheme::Gcs => {
            let mut builder =
                object_store::gcp::GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket);
            if options.allow_http {
                builder = builder
                    .with_client_options(object_store::ClientOptions::new().with_allow_http(true));
            }
            Ok(Arc::new(builder.build().map_err(|e| e.to_string())?))
        }
        #[cfg(feature = "azure")]
        StoreScheme::Azure => {
            let mut builder =
                object_store::azure::MicrosoftAzureBuilder::from_env().with_container_name(bucket);
            if let Some(endpoint) = &options.endpoint {
                builder = builder.with_endpoint(endpoint.clone());
            }
            if options.allow_http {
                builder = builder.with_allow_http(true);
            }
            Ok(Arc::new(builder.build().map_err(|e| e.to_string())?))
        }
        #[allow(unreachable_patterns)] // reached only in builds without that store's feature
        other => Err(format!(
            "this build has no {}:// support (rebuild with --features {})",
            other.as_str(),
            other.feature()
        )),
    }
}
