//! `[state]`: which checkpoint store, and its settings.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::model::Secret;

/// `[state]`: the checkpoint store.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StateConfig {
    /// An embedded SQLite file (the default).
    Sqlite {
        /// Path of the database file, relative to the config file's directory.
        #[serde(default = "default_state_path")]
        path: PathBuf,
        /// How long a run's lease on a source lasts without renewal; a paused or dead worker
        /// loses the source after this long.
        #[serde(default = "default_lease_ttl", with = "humantime_serde")]
        lease_ttl: Duration,
    },
    /// A PostgreSQL database, shared by workers on several machines.
    Postgres {
        /// Connection URL, e.g. `postgres://sluice:${env:PGPASSWORD}@db:5432/sluice?sslmode=require`
        /// (`sslmode=disable` or unset: plain TCP; `require`: TLS with the certificate verified).
        /// Secret references are resolved even for `sluice status`, which needs the store.
        url: Secret,
        /// As for `sqlite`.
        #[serde(default = "default_lease_ttl", with = "humantime_serde")]
        lease_ttl: Duration,
    },
    /// A bucket (or a local directory): one JSON document per source, written with
    /// conditional requests; for scheduled containers and functions with no disk.
    Object(ObjectStateConfig),
}

/// `[state] kind = "object"`: checkpoints and leases as objects under a URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectStateConfig {
    /// `s3://bucket/prefix/`, `gs://bucket/prefix/`, `az://container/prefix/` or
    /// `file:///abs/dir/`. Checked by the config loader (see `load.rs`).
    pub url: String,
    /// As for a lake sink: endpoint of an S3-compatible or emulated store.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// As for a lake sink: S3 region.
    #[serde(default)]
    pub region: Option<String>,
    /// As for a lake sink: allow a plain `http://` endpoint.
    #[serde(default)]
    pub allow_http: bool,
    /// As for a lake sink: S3 access key id (resolved even for `sluice status`).
    #[serde(default)]
    pub access_key_id: Option<Secret>,
    /// As for a lake sink: S3 secret access key.
    #[serde(default)]
    pub secret_access_key: Option<Secret>,
    /// As for `sqlite`.
    #[serde(default = "default_lease_ttl", with = "humantime_serde")]
    pub lease_ttl: Duration,
}

/// Why `[state] url` (with the store's options) names no location the store can use. The
/// message starts with `[state]: ` and ends with a hint.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    /// The URL or an option (its message names `[state]` already).
    #[error(transparent)]
    Setting(crate::cloud::CloudError),
    /// The URL parses but is no location a store can be in.
    #[error("[state]: {0}")]
    Location(crate::cloud::CloudError),
    /// An object store option for a local directory.
    #[error("[state]: `{0}` applies to object stores only and this state store is a local directory (hint: remove it, or use url = \"s3://bucket/prefix/\")")]
    DirectoryOption(&'static str),
}

impl ObjectStateConfig {
    /// The store's location; `Err` (with a hint) for a URL the store cannot use.
    pub fn location(&self) -> Result<crate::cloud::StoreLocation, LocationError> {
        let label = "[state]";
        let url =
            crate::cloud::parse_config_url(label, &self.url).map_err(LocationError::Setting)?;
        let location = crate::cloud::parse_location(&url, "a state store location")
            .map_err(LocationError::Location)?;
        match &location {
            crate::cloud::StoreLocation::Directory(_) => {
                if let Some(key) = self.options().first_set() {
                    return Err(LocationError::DirectoryOption(key));
                }
            }
            crate::cloud::StoreLocation::Store { scheme, .. } => {
                self.options()
                    .check(label, *scheme)
                    .map_err(LocationError::Setting)?;
            }
        }
        Ok(location)
    }

    /// How to reach the store (endpoint, region, credentials).
    pub fn options(&self) -> crate::cloud::StoreOptions {
        crate::cloud::StoreOptions {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            allow_http: self.allow_http,
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
        }
    }
}

impl StateConfig {
    /// How long a lease lasts without renewal.
    pub fn lease_ttl(&self) -> Duration {
        match self {
            StateConfig::Sqlite { lease_ttl, .. } | StateConfig::Postgres { lease_ttl, .. } => {
                *lease_ttl
            }
            StateConfig::Object(object) => object.lease_ttl,
        }
    }
}

fn default_lease_ttl() -> Duration {
    super::DEFAULT_LEASE_TTL
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig::Sqlite {
            path: default_state_path(),
            lease_ttl: default_lease_ttl(),
        }
    }
}

fn default_state_path() -> PathBuf {
    PathBuf::from("sluice-state.db")
}
