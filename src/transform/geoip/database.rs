//! The MaxMind databases a `geoip` step reads: opened memory-mapped and checked whole at
//! start, and each lookup turned into the OCSF objects the step writes.

use std::net::IpAddr;
use std::path::Path;

use maxminddb::{geoip2, Mmap, Reader};
use serde_json::{json, Map, Value};

/// Which of the three database kinds a file is given as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// GeoIP2 / GeoLite2 City (or Country, or Enterprise): where an address is.
    City,
    /// GeoLite2 ASN (or GeoIP2 ISP): the autonomous system that announces it.
    Asn,
    /// GeoIP2 Anonymous IP: VPN, hosting, proxy and Tor exit flags.
    AnonymousIp,
}

impl Kind {
    /// The step's key that names a file of this kind.
    pub fn key(self) -> &'static str {
        match self {
            Kind::City => "city",
            Kind::Asn => "asn",
            Kind::AnonymousIp => "anonymous_ip",
        }
    }

    /// Whether a database whose metadata says `database_type` holds records of this kind.
    fn accepts(self, database_type: &str) -> bool {
        let t = database_type.to_ascii_lowercase();
        match self {
            Kind::City => t.contains("city") || t.contains("country") || t.contains("enterprise"),
            Kind::Asn => t.contains("asn") || t.contains("isp"),
            Kind::AnonymousIp => t.contains("anonymous"),
        }
    }
}

/// Why a database cannot be opened as a kind, or a record in it cannot be read. An open
/// error leaves the path out and reads on from it (the caller names the file and the key).
#[derive(Debug, thiserror::Error)]
pub enum GeoipError {
    /// The file cannot be read (missing, no permission).
    #[error("cannot be read: {0}")]
    Unreadable(#[source] std::io::Error),
    /// The file is no MaxMind database.
    #[error("is not a MaxMind database: {0}")]
    NotADatabase(#[source] maxminddb::MaxMindDbError),
    /// The file's search tree or data section is damaged.
    #[error("is a corrupt MaxMind database: {0}")]
    Corrupt(#[source] maxminddb::MaxMindDbError),
    /// A database of another kind (an ASN file given as `city`).
    #[error("holds a {database_type} database, which has no {wanted} records")]
    WrongKind {
        /// The type its metadata says.
        database_type: String,
        /// The records the key needs.
        wanted: &'static str,
    },
    /// A record the database cannot decode, met at a lookup.
    #[error(transparent)]
    Record(#[from] maxminddb::MaxMindDbError),
}

/// One opened database.
pub struct Database {
    reader: Reader<Mmap>,
    kind: Kind,
}

/// Opens the file at `path` as a database of `kind`: memory-mapped, its search tree and
/// data section verified (a corrupt file is refused here, not met at the first lookup), and
/// its type checked against `kind`. `Err` says what is wrong, without the path (the caller
/// names the file and the key).
pub fn open(path: &Path, kind: Kind) -> Result<Database, GeoipError> {
    std::fs::metadata(path).map_err(GeoipError::Unreadable)?;
    // SAFETY: the map is only read. A database changed in place while mapped could be read
    // half old, half new; the docs (configuration.md, geoip) ask for updates by writing a new
    // file and renaming it over the old one, which leaves this map on the old file, and a
    // reload maps the new one.
    let reader = unsafe { Reader::open_mmap(path) }.map_err(GeoipError::NotADatabase)?;
    reader.verify().map_err(GeoipError::Corrupt)?;
    let database_type = reader.metadata().database_type.clone();
    if !kind.accepts(&database_type) {
        return Err(GeoipError::WrongKind {
            database_type,
            wanted: match kind {
                Kind::City => "city or country",
                Kind::Asn => "autonomous system",
                Kind::AnonymousIp => "anonymous IP",
            },
        });
    }
    Ok(Database { reader, kind })
}

/// What one database says about one address, as the JSON the step writes; `None` when the
/// address is in none of its networks, or its record has none of the fields used.
impl Database {
    /// The kind the database was opened as.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The record of `ip`: an OCSF `location` (city), `autonomous_system` (asn) or the
    /// anonymous IP flags that are set. `Err` for a record the database cannot decode.
    pub fn lookup(&self, ip: IpAddr) -> Result<Option<Map<String, Value>>, GeoipError> {
        let found = self.reader.lookup(ip)?;
        let map = match self.kind {
            Kind::City => found.decode::<geoip2::City>()?.map(|city| location(&city)),
            Kind::Asn => found.decode::<geoip2::Asn>()?.map(|asn| {
                let mut map = Map::new();
                if let Some(number) = asn.autonomous_system_number {
                    map.insert("number".into(), json!(number));
                }
                if let Some(name) = asn.autonomous_system_organization {
                    map.insert("name".into(), json!(name));
                }
                map
            }),
            Kind::AnonymousIp => found.decode::<geoip2::AnonymousIp>()?.map(|flags| {
                let mut map = Map::new();
                for (name, set) in [
                    ("is_anonymous", flags.is_anonymous),
                    ("is_anonymous_vpn", flags.is_anonymous_vpn),
                    ("is_hosting_provider", flags.is_hosting_provider),
                    ("is_public_proxy", flags.is_public_proxy),
                    ("is_residential_proxy", flags.is_residential_proxy),
                    ("is_tor_exit_node", flags.is_tor_exit_node),
                ] {
                    if set == Some(true) {
                        map.insert(name.into(), Value::Bool(true));
                    }
                }
                map
            }),
        };
        Ok(map.filter(|map| !map.is_empty()))
    }
}

/// An OCSF `location` object from a city record: ISO country code, English city and
/// continent names, the first subdivision's ISO code as `region`, postal code, coordinates.
fn location(city: &geoip2::City) -> Map<String, Value> {
    let mut map = Map::new();
    let mut text = |key: &str, value: Option<&str>| {
        if let Some(value) = value {
            map.insert(key.to_string(), json!(value));
        }
    };
    text("city", city.city.names.english);
    text("country", city.country.iso_code);
    text("continent", city.continent.names.english);
    text("region", city.subdivisions.first().and_then(|s| s.iso_code));
    text("postal_code", city.postal.code);
    for (key, value) in [
        ("lat", city.location.latitude),
        ("long", city.location.longitude),
    ] {
        if let Some(number) = value.and_then(serde_json::Number::from_f64) {
            map.insert(key.to_string(), Value::Number(number));
        }
    }
    map
}
