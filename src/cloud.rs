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

/// Why an object store location or its options cannot be used, or its client cannot be
/// built. Every message names the setting (`label`) or the URL, and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// A `file://` URL that is not a local absolute path.
    #[error("url `{url}` is not a local absolute path ({})", URL_HINT)]
    NotALocalPath {
        /// The URL as written.
        url: url::Url,
    },
    /// A scheme that is no object store.
    #[error("url scheme `{scheme}:` is not {what} ({})", URL_HINT)]
    Scheme {
        /// The scheme written.
        scheme: String,
        /// What the URL is for, e.g. "a lake location".
        what: String,
    },
    /// A store URL without a bucket.
    #[error("url `{url}` names no bucket ({})", URL_HINT)]
    NoBucket {
        /// The URL as written.
        url: url::Url,
    },
    /// A store URL with a query or fragment.
    #[error(
        "url `{url}` has a query or fragment, which {what} cannot use ({})",
        URL_HINT
    )]
    QueryOrFragment {
        /// The URL as written.
        url: url::Url,
        /// What the URL is for.
        what: String,
    },
    /// A prefix segment that is no object key (`..`, control characters).
    #[error(
        "url `{url}`: prefix segment `{segment}` is not allowed in an object key ({})",
        URL_HINT
    )]
    Segment {
        /// The URL as written.
        url: url::Url,
        /// The segment refused, as written.
        segment: String,
    },
    /// Text that is not a URL.
    #[error("{label}: url `{text}` is not a URL: {reason} ({})", URL_HINT)]
    NotAUrl {
        /// The setting, e.g. "lake `raw`" or "[state]".
        label: String,
        /// The text written.
        text: String,
        /// The URL parser's complaint.
        reason: url::ParseError,
    },
    /// A URL holding a user name or password (never echoed).
    #[error("{label}: url must not hold credentials (hint: use access_key_id and secret_access_key with ${{env:...}}, or the store's usual environment variables)")]
    CredentialsInUrl {
        /// The setting.
        label: String,
    },
    /// A store whose client this build does not have.
    #[error("{label}: this build of sluice cannot use {}:// (hint: build it with `cargo build --release --features {}`)", scheme.as_str(), scheme.feature())]
    NotCompiledIn {
        /// The setting.
        label: String,
        /// The store.
        scheme: StoreScheme,
    },
    /// One of `access_key_id` and `secret_access_key` without the other.
    #[error("{label}: set access_key_id and secret_access_key together (hint: or neither, to use the environment's credentials)")]
    KeysApart {
        /// The setting.
        label: String,
    },
    /// An S3-only option on another store.
    #[error("{label}: `{key}` applies to s3:// locations only (hint: {}:// stores read their credentials from the environment, see docs/configuration.md)", scheme.as_str())]
    S3Only {
        /// The setting.
        label: String,
        /// The option's key.
        key: &'static str,
        /// The store it was set for.
        scheme: StoreScheme,
    },
    /// An `endpoint` for Google Cloud Storage.
    #[error("{label}: `endpoint` applies to s3:// and az:// locations only (hint: remove it)")]
    GcsEndpoint {
        /// The setting.
        label: String,
    },
    /// An `endpoint` that is not a URL.
    #[error(
        "{label}: endpoint `{endpoint}` is not a URL: {reason} (hint: e.g. http://127.0.0.1:9000)"
    )]
    BadEndpoint {
        /// The setting.
        label: String,
        /// The endpoint written.
        endpoint: String,
        /// The URL parser's complaint.
        reason: url::ParseError,
    },
    /// A plain `http://` endpoint without `allow_http`.
    #[error("{label}: endpoint `{endpoint}` is plain http (hint: add allow_http = true for a local test server; use https otherwise)")]
    PlainHttp {
        /// The setting.
        label: String,
        /// The endpoint written.
        endpoint: String,
    },
    /// The store's client could not be built (its configuration or environment).
    #[error(transparent)]
    Client(#[from] object_store::Error),
    /// [`connect`] for a store this build has no client for.
    #[error("this build has no {}:// support (rebuild with --features {})", scheme.as_str(), scheme.feature())]
    NoSupport {
        /// The store.
        scheme: StoreScheme,
    },
}

/// Reads `file:///abs/dir`, `s3://bucket/prefix`, `gs://…` or `az://…` into a location;
/// `what` names the setting in errors (e.g. "a lake location").
pub fn parse_location(url: &url::Url, what: &str) -> Result<StoreLocation, CloudError> {
    let scheme = match url.scheme() {
        "file" => {
            let dir = url
                .to_file_path()
                .map_err(|()| CloudError::NotALocalPath { url: url.clone() })?;
            return Ok(StoreLocation::Directory(dir));
        }
        "s3" | "s3a" => StoreScheme::S3,
        "gs" => StoreScheme::Gcs,
        "az" | "azure" => StoreScheme::Azure,
        other => {
            return Err(CloudError::Scheme {
                scheme: other.to_string(),
                what: what.to_string(),
            })
        }
    };
    let bucket = url.host_str().unwrap_or_default().to_string();
    if bucket.is_empty() {
        return Err(CloudError::NoBucket { url: url.clone() });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(CloudError::QueryOrFragment {
            url: url.clone(),
            what: what.to_string(),
        });
    }
    let mut segments = Vec::new();
    for segment in url.path().split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        if decoded == "." || decoded == ".." || decoded.chars().any(|c| c.is_control() || c == '\\')
        {
            return Err(CloudError::Segment {
                url: url.clone(),
                segment: segment.to_string(),
            });
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
pub fn parse_config_url(label: &str, text: &str) -> Result<url::Url, CloudError> {
    let parsed = url::Url::parse(text).map_err(|reason| CloudError::NotAUrl {
        label: label.to_string(),
        text: text.to_string(),
        reason,
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(CloudError::CredentialsInUrl {
            label: label.to_string(),
        });
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
    pub fn check(&self, label: &str, scheme: StoreScheme) -> Result<(), CloudError> {
        let label = || label.to_string();
        if !scheme.compiled_in() {
            return Err(CloudError::NotCompiledIn {
                label: label(),
                scheme,
            });
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return Err(CloudError::KeysApart { label: label() });
        }
        let s3_only = [
            ("region", self.region.is_some()),
            ("access_key_id", self.access_key_id.is_some()),
        ];
        if scheme != StoreScheme::S3 {
            if let Some((key, _)) = s3_only.iter().find(|(_, set)| *set) {
                return Err(CloudError::S3Only {
                    label: label(),
                    key,
                    scheme,
                });
            }
        }
        if scheme == StoreScheme::Gcs && self.endpoint.is_some() {
            return Err(CloudError::GcsEndpoint { label: label() });
        }
        if let Some(endpoint) = &self.endpoint {
            let parsed = url::Url::parse(endpoint).map_err(|reason| CloudError::BadEndpoint {
                label: label(),
                endpoint: endpoint.clone(),
                reason,
            })?;
            if parsed.scheme() == "http" && !self.allow_http {
                return Err(CloudError::PlainHttp {
                    label: label(),
                    endpoint: endpoint.clone(),
                });
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
) -> Result<Arc<dyn ObjectStore>, CloudError> {
    match scheme {
        #[cfg(feature = "s3")]
        StoreScheme::S3 => Ok(Arc::new(s3_builder(bucket, options).build()?)),
        #[cfg(feature = "gcs")]
        StoreScheme::Gcs => {
            let mut builder =
                object_store::gcp::GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket);
            if options.allow_http {
                builder = builder
                    .with_client_options(object_store::ClientOptions::new().with_allow_http(true));
            }
            Ok(Arc::new(builder.build()?))
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
            Ok(Arc::new(builder.build()?))
        }
        #[allow(unreachable_patterns)] // reached only in builds without that store's feature
        other => Err(CloudError::NoSupport { scheme: other }),
    }
}
