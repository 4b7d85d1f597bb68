//! The MaxMind databases a `geoip` step reads: opened memory-mapped and checked whole at
//! start, and each lookup turned into the OCSF objects the step writes.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;

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
    /// Records already decoded, by where they are in the data section.
    cache: RecordCache,
}

/// How many decoded records a database keeps ([`RecordCache`]).
const CACHE_SLOTS: usize = 1024;

/// What one record decoded to: the JSON the step writes, `None` for a record without any of
/// the fields used.
type Decoded = Option<Map<String, Value>>;

/// One slot of the cache: the offset of the record it holds, and what it decoded to.
type Slot = Mutex<Option<(usize, Decoded)>>;

/// The last records decoded, by their offset in the data section: many addresses share a
/// record (every address of a network, and every network of a city), and decoding one
/// (a City record walks names in eight languages for each place) costs many times a copy of
/// what it decodes to. Direct-mapped: an offset has one slot, and a new record replaces
/// the one there, so the cache stays bounded without bookkeeping. A slot has its own lock,
/// so workers mapping events side by side rarely wait on each other. The cache lives in the
/// [`Database`], so a reloaded file starts with an empty one.
struct RecordCache {
    slots: Box<[Slot]>,
}

impl RecordCache {
    fn new() -> Self {
        RecordCache {
            slots: (0..CACHE_SLOTS).map(|_| Mutex::new(None)).collect(),
        }
    }

    fn slot(&self, offset: usize) -> &Slot {
        // Records are laid out one after another; a multiplicative hash spreads neighbours.
        let hash = (offset as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        &self.slots[hash as usize % CACHE_SLOTS]
    }

    /// The record at `offset`, decoded by `decode` unless it is in the cache.
    fn get_or_decode(
        &self,
        offset: usize,
        decode: impl FnOnce() -> Result<Decoded, GeoipError>,
    ) -> Result<Decoded, GeoipError> {
        let slot = self.slot(offset);
        // A poisoned slot still holds a whole entry or none: it is set in one step.
        if let Some((at, decoded)) = &*slot.lock().unwrap_or_else(|p| p.into_inner()) {
            if *at == offset {
                return Ok(decoded.clone());
            }
        }
        // Decoded without the lock held: a decode is the slow part, and two workers
        // decoding the same record both get the same answer.
        let decoded = decode()?;
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some((offset, decoded.clone()));
        Ok(decoded)
    }
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
    Ok(Database {
        reader,
        kind,
        cache: RecordCache::new(),
    })
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
        let Some(offset) = found.offset() else {
            return Ok(None);
        };
        self.cache.get_or_decode(offset, || self.decode(&found))
    }

    /// Decodes the record `found` points to into what the step writes.
    fn decode(&self, found: &maxminddb::LookupResult<'_, Mmap>) -> Result<Decoded, GeoipError> {
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

#[cfg(test)]
mod cache_tests {
    use super::*;

    fn record(city: &str) -> Decoded {
        let mut map = Map::new();
        map.insert("city".into(), json!(city));
        Some(map)
    }

    /// Two records whose offsets share a slot: each lookup gets its own record, never the
    /// other's, and a record in the cache is not decoded again.
    #[test]
    fn a_cached_record_is_only_ever_the_one_at_its_offset() {
        let cache = RecordCache::new();
        let first = 40;
        let second = (first + 1..)
            .find(|&o| std::ptr::eq(cache.slot(o), cache.slot(first)))
            .unwrap();
        let decode = |city: &'static str| move || Ok::<_, GeoipError>(record(city));
        assert_eq!(
            cache.get_or_decode(first, decode("A")).unwrap(),
            record("A")
        );
        let not_again = || -> Result<Decoded, GeoipError> { panic!("decoded again") };
        assert_eq!(cache.get_or_decode(first, not_again).unwrap(), record("A"));
        assert_eq!(
            cache.get_or_decode(second, decode("B")).unwrap(),
            record("B")
        );
        assert_eq!(
            cache.get_or_decode(first, decode("A")).unwrap(),
            record("A")
        );
        assert_eq!(cache.get_or_decode(7, || Ok(None)).unwrap(), None);
    }

    /// Addresses that share a record answer alike with the cache warm, and as the first
    /// lookup did.
    #[test]
    fn lookups_through_the_cache_answer_as_the_database_does() {
        let Some(dir) = super::super::tests::mmdb() else {
            return;
        };
        let city = open(&dir.join("GeoIP2-City-Test.mmdb"), Kind::City).unwrap();
        for ip in [
            "81.2.69.142",
            "81.2.69.143",
            "216.160.83.56",
            "2.125.160.216",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let cold = city.decode(&city.reader.lookup(ip).unwrap()).unwrap();
            assert_eq!(city.lookup(ip).unwrap(), cold, "{ip}");
            assert_eq!(city.lookup(ip).unwrap(), cold, "{ip}, again");
        }
        assert_eq!(city.lookup("10.0.0.1".parse().unwrap()).unwrap(), None);
    }
}
