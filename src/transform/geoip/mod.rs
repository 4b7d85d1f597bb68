//! `kind = "geoip"`: adds where an IP address is, and who announces it, from MaxMind DB files.
//!
//! For each configured IP field, the object that holds it (or the one `to` names) gets an
//! OCSF `location` (from a City database) and `autonomous_system` (from an ASN database): the
//! OCSF endpoint layout, so `src_endpoint.ip` enriches `src_endpoint.location.country`. The
//! Anonymous IP database's flags, which OCSF has no endpoint attribute for, go into the
//! event's `enrichments` array as an enrichment of type `anonymous_ip`.
//!
//! The databases are memory-mapped, checked whole at start and reloaded when they change
//! ([`super::reload`]).

pub mod database;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};

pub use self::database::GeoipError;
use self::database::{Database, Kind};
use super::field::FieldPath;
use super::reload::Reloading;
use super::step::{field_path, field_paths, Problem, Step, Verdict};

/// `{ kind = "geoip", fields = ["src_endpoint.ip"], city = "GeoLite2-City.mmdb", asn = ... }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoipConfig {
    /// The step's name in counts, metrics and dead letters; default `geoip#<position>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The fields that hold IP addresses (text, IPv4 or IPv6).
    pub fields: Vec<String>,
    /// Where each field's results go, one object path per field; default: the object that
    /// holds the field (the event itself for a top-level field).
    #[serde(default)]
    pub to: Vec<String>,
    /// A GeoIP2 / GeoLite2 City (or Country) database: `location`.
    #[serde(default)]
    pub city: Option<PathBuf>,
    /// A GeoLite2 ASN (or GeoIP2 ISP) database: `autonomous_system`.
    #[serde(default)]
    pub asn: Option<PathBuf>,
    /// A GeoIP2 Anonymous IP database: an `anonymous_ip` enrichment.
    #[serde(default)]
    pub anonymous_ip: Option<PathBuf>,
    /// How often each file's modification time is looked at; a changed file is loaded again.
    #[serde(default = "default_refresh", with = "humantime_serde")]
    pub refresh: Duration,
    /// The array enrichments (anonymous IP flags) are appended to.
    #[serde(default = "default_enrichments")]
    pub enrichments: String,
}

fn default_refresh() -> Duration {
    Duration::from_secs(300)
}

pub(crate) fn default_enrichments() -> String {
    "enrichments".to_string()
}

impl GeoipConfig {
    /// Takes the database paths relative to `base` (the config file's folder).
    pub fn make_paths_relative_to(&mut self, base: &Path) {
        for file in [&mut self.city, &mut self.asn, &mut self.anonymous_ip]
            .into_iter()
            .flatten()
        {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
    }

    /// The compiled step: paths parsed, every database opened and verified.
    pub fn build(&self) -> Result<Geoip, Problem> {
        let fields = field_paths("fields", &self.fields)?;
        let to = if self.to.is_empty() {
            vec![None; fields.len()]
        } else if self.to.len() != fields.len() {
            return Err(Problem::new(
                "to",
                format!(
                    "lists {} objects for {} fields",
                    self.to.len(),
                    fields.len()
                ),
                "give one object path per field, in the same order, or leave `to` out to write beside each field",
            ));
        } else {
            self.to
                .iter()
                .enumerate()
                .map(|(i, text)| field_path(&format!("to[{i}]"), text).map(Some))
                .collect::<Result<_, _>>()?
        };
        if self.refresh.is_zero() {
            return Err(Problem::new(
                "refresh",
                "is zero",
                "give how often to look for a changed file, e.g. refresh = \"5m\"",
            ));
        }
        let mut databases = Vec::new();
        for (kind, path) in [
            (Kind::City, &self.city),
            (Kind::Asn, &self.asn),
            (Kind::AnonymousIp, &self.anonymous_ip),
        ] {
            if let Some(path) = path {
                databases.push(open(kind, path, self.refresh)?);
            }
        }
        if databases.is_empty() {
            return Err(Problem::new(
                "city",
                "no database is given",
                "name at least one MaxMind DB file: city = \"GeoLite2-City.mmdb\", asn = \"GeoLite2-ASN.mmdb\" or anonymous_ip = \"GeoIP2-Anonymous-IP.mmdb\"",
            ));
        }
        Ok(Geoip {
            fields: fields.into_iter().zip(to).collect(),
            databases,
            enrichments: field_path("enrichments", &self.enrichments)?,
        })
    }
}

/// Opens (or finds already open) the database of `kind` at `path`.
pub fn open(kind: Kind, path: &Path, refresh: Duration) -> Result<Reloading<Database>, Problem> {
    Reloading::open(kind.key(), path, refresh, move |path| database::open(path, kind)).map_err(|error| {
        Problem::new(
            kind.key(),
            format!("the file {} {error}", path.display()),
            "give a MaxMind DB file (.mmdb) of that kind, e.g. from geoipupdate; a path is taken relative to the config file",
        )
    })
}

/// The compiled `geoip` step.
pub struct Geoip {
    /// Each IP field and the object its results go to (`None`: the object holding it).
    fields: Vec<(FieldPath, Option<FieldPath>)>,
    databases: Vec<Reloading<Database>>,
    enrichments: FieldPath,
}

/// What every database says about one address, keyed by what the step writes.
pub fn lookup_all(
    databases: &[Arc<Database>],
    ip: IpAddr,
) -> Result<Map<String, Value>, GeoipError> {
    let mut out = Map::new();
    for database in databases {
        if let Some(found) = database.lookup(ip)? {
            let key = match database.kind() {
                Kind::City => "location",
                Kind::Asn => "autonomous_system",
                Kind::AnonymousIp => "anonymous_ip",
            };
            out.insert(key.to_string(), Value::Object(found));
        }
    }
    Ok(out)
}

impl Geoip {
    /// The databases in use now.
    pub fn current(&self) -> Vec<Arc<Database>> {
        self.databases.iter().map(Reloading::current).collect()
    }
}

impl Step for Geoip {
    fn apply(&self, event: &mut Value) -> Verdict {
        let databases = self.current();
        let mut changed = false;
        for (field, to) in &self.fields {
            // Not an address (absent, null, a host name, another type): nothing to add.
            let Some(ip) = field
                .get(event)
                .and_then(Value::as_str)
                .and_then(|text| text.trim().parse::<IpAddr>().ok())
            else {
                continue;
            };
            let mut found = match lookup_all(&databases, ip) {
                Ok(found) if found.is_empty() => continue,
                Ok(found) => found,
                Err(error) => {
                    return Verdict::Fail(format!(
                        "the GeoIP database cannot read the record of the address in `{}`: {error}",
                        field.as_str()
                    ))
                }
            };
            if let Some(Value::Object(flags)) = found.remove("anonymous_ip") {
                let enrichment = json!({
                    "name": field.as_str(),
                    "value": ip.to_string(),
                    "type": "anonymous_ip",
                    "provider": "MaxMind",
                    "data": flags,
                });
                if let Err(reason) = super::field::push(&self.enrichments, event, enrichment) {
                    return Verdict::Fail(reason.to_string());
                }
                changed = true;
            }
            if found.is_empty() {
                continue;
            }
            let target = match to {
                Some(to) => super::field::object_at(to, event),
                None => super::field::parent_object(field, event),
            };
            let target = match target {
                Ok(target) => target,
                Err(reason) => return Verdict::Fail(reason.to_string()),
            };
            for (key, value) in found {
                // Merged into an object already there (a mapping may have set part of it).
                match (target.get_mut(&key), value) {
                    (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
                    (_, value) => {
                        target.insert(key, value);
                    }
                }
            }
            changed = true;
        }
        if changed {
            Verdict::Changed
        } else {
            Verdict::Keep
        }
    }
}

#[cfg(test)]
mod tests;
