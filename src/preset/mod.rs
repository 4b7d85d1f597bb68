//! Built-in vendor connectors ("presets"): connector specs kept as data under `presets/` at
//! the repository root and embedded in the binary.
//!
//! A user writes `connector = "okta"` and the vendor's own settings (`domain`, `token`); the
//! preset supplies everything about the API (endpoint, pagination, time parameters, record
//! layout, recommended windows). [`expand`] turns one such `[[sources]]` table into one
//! source table per stream, before the config is deserialized, so a preset is checked by
//! exactly the same validation as a hand-written spec.
//!
//! The preset file format:
//!
//! ```toml
//! [preset]                      # what it is (shown by `sluice connectors list`)
//! name = "okta"
//! product = "Okta System Log"
//! docs = "docs/connectors/okta.md"
//! reference = "https://developer.okta.com/docs/reference/api/system-log/"
//! checked = "2026-12-07"        # when its facts were checked against the reference
//!
//! [[settings]]                  # what the user writes in the [[sources]] table
//! name = "domain"
//! required = true
//! example = "acme.okta.com"
//! help = "your Okta org's domain"
//!
//! [[auth]]                      # credential variants; the first whose settings are all given wins
//! name = "api_token"
//! requires = ["token"]
//! spec = { kind = "bearer", prefix = "SSWS", token = "{{token}}" }
//!
//! [spec]                        # keys of a [[sources]] table; "{{setting}}" is substituted
//! base_url = "https://{{domain}}"
//!
//! [[streams]]                   # optional: one source per stream, each merged over [spec]
//! name = "login"
//! spec = { query = { application = "login" } }
//! ```

mod catalog;
mod expand;
mod merge;
mod starter;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use catalog::{builtin, catalog, closest, names, Catalog};
pub use expand::{expand, PresetError};
pub use merge::merge_tables;
pub use starter::starter_config;

/// One built-in connector, as read from its file under `presets/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// What the preset is.
    pub preset: About,
    /// Settings the user gives in the `[[sources]]` table, in the order they are documented.
    #[serde(default)]
    pub settings: Vec<Setting>,
    /// Credential variants, in order of preference.
    #[serde(default)]
    pub auth: Vec<AuthVariant>,
    /// The connector spec shared by every stream: keys of a `[[sources]]` table.
    pub spec: toml::Table,
    /// Endpoints or sub-feeds that become one source each; empty for a single-feed preset.
    #[serde(default)]
    pub streams: Vec<Stream>,
    /// The file's text, shown by `sluice connectors show`.
    #[serde(skip)]
    pub text: &'static str,
}

/// The `[preset]` table: what a preset pulls and where its facts come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct About {
    /// The name users write as `connector = "..."`.
    pub name: String,
    /// The vendor's product and log, e.g. "Okta System Log".
    pub product: String,
    /// The documentation page, relative to the repository root.
    pub docs: String,
    /// The vendor's API reference the preset was built from.
    pub reference: String,
    /// The date (YYYY-MM-DD) its facts were last checked against that reference.
    pub checked: String,
}

/// A value the user supplies for a preset (a domain, an org id, a credential).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    /// The key in the `[[sources]]` table.
    pub name: String,
    /// What it is and where to find it.
    pub help: String,
    /// A load error when absent.
    #[serde(default)]
    pub required: bool,
    /// A credential: the starter config reads it from the environment.
    #[serde(default)]
    pub secret: bool,
    /// A sample value for the starter config.
    #[serde(default)]
    pub example: Option<String>,
    /// The value used when the user gives none.
    #[serde(default)]
    pub default: Option<toml::Value>,
}

/// One way of authenticating, chosen when all of `requires` are given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthVariant {
    /// Short name, e.g. `api_token`.
    pub name: String,
    /// What credential this is and how to create it.
    pub help: String,
    /// Settings that select this variant.
    pub requires: Vec<String>,
    /// The `auth` table of the source, with `{{setting}}` placeholders.
    pub spec: toml::Table,
}

/// One feed of a multi-feed preset (a Google Workspace application, a 1Password endpoint).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// Appended to the source's name: `<name>-<stream>`.
    pub name: String,
    /// What the stream holds.
    pub help: String,
    /// Pulled when the user does not list `streams`.
    #[serde(default = "yes")]
    pub default: bool,
    /// Keys merged over the preset's `[spec]`.
    #[serde(default)]
    pub spec: toml::Table,
}

fn yes() -> bool {
    true
}

impl Preset {
    /// The settings by name.
    pub fn settings_by_name(&self) -> BTreeMap<&str, &Setting> {
        self.settings.iter().map(|s| (s.name.as_str(), s)).collect()
    }
}
