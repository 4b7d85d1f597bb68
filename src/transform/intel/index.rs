//! The indicators of one feed, indexed for lookups in constant time per event.
//!
//! Domains, URLs and file hashes are hash-set lookups. Addresses and networks are kept per
//! prefix length, each length a hash map from the masked network to the indicator: a lookup
//! masks the address once per length the feed holds (at most 33 for IPv4, 129 for IPv6), so
//! its cost is bounded whatever the feed's size, and the most specific network wins.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What an indicator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndicatorType {
    /// One address.
    Ip,
    /// A network, `10.0.0.0/8`.
    Cidr,
    /// A domain name: matches itself and its subdomains.
    Domain,
    /// A URL, matched as written.
    Url,
    /// An MD5, SHA-1 or SHA-256 digest in hex.
    Hash,
}

impl IndicatorType {
    /// The name the enrichment block and the CSV `type` column use.
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorType::Ip => "ip",
            IndicatorType::Cidr => "cidr",
            IndicatorType::Domain => "domain",
            IndicatorType::Url => "url",
            IndicatorType::Hash => "hash",
        }
    }
}

/// One parsed indicator, ready to be added to an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Indicator {
    /// An address or network: the address and the prefix length.
    Net(IpAddr, u8),
    /// A domain, lowercase without a trailing dot.
    Domain(String),
    /// A URL as written.
    Url(String),
    /// A digest, lowercase hex.
    Hash(String),
}

impl Indicator {
    /// Reads one indicator as a feed writes it: an address, a network, a digest (32, 40 or
    /// 64 hex digits), a URL (with `://`) or a domain name. `None` for anything else.
    pub fn parse(text: &str) -> Option<Indicator> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            let ip = canonical(ip);
            return Some(Indicator::Net(ip, max_prefix(ip)));
        }
        if let Some((address, prefix)) = text.split_once('/') {
            if let (Ok(ip), Ok(prefix)) = (address.parse::<IpAddr>(), prefix.parse::<u8>()) {
                return (prefix <= max_prefix(ip)).then_some(Indicator::Net(ip, prefix));
            }
        }
        if is_digest(text) {
            return Some(Indicator::Hash(text.to_ascii_lowercase()));
        }
        if let Some((scheme, rest)) = text.split_once("://") {
            let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            let has_host = rest
                .split(['/', '?', '#'])
                .next()
                .is_some_and(|h| !h.is_empty());
            return (scheme_ok && has_host && !text.contains(char::is_whitespace))
                .then(|| Indicator::Url(text.to_string()));
        }
        let domain = text.trim_end_matches('.').to_ascii_lowercase();
        is_domain(&domain).then_some(Indicator::Domain(domain))
    }

    /// Its type.
    pub fn kind(&self) -> IndicatorType {
        match self {
            Indicator::Net(ip, prefix) if *prefix == max_prefix(*ip) => IndicatorType::Ip,
            Indicator::Net(..) => IndicatorType::Cidr,
            Indicator::Domain(_) => IndicatorType::Domain,
            Indicator::Url(_) => IndicatorType::Url,
            Indicator::Hash(_) => IndicatorType::Hash,
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

fn is_digest(text: &str) -> bool {
    matches!(text.len(), 32 | 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A host name of at least two labels: letters, digits, `-` and `_`, 253 characters at most.
fn is_domain(text: &str) -> bool {
    text.len() <= 253
        && text.contains('.')
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// What the feed says about one indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Its confidence, 0 to 100, when the feed gives one.
    pub confidence: Option<u8>,
}

/// A match: which indicator, of which type, with the feed's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The indicator as the index holds it (`10.0.0.0/8`, `evil.example`).
    pub indicator: String,
    /// Its type.
    pub kind: IndicatorType,
    /// What the feed says about it.
    pub entry: Entry,
}

/// The indicators of one feed.
#[derive(Debug, Default)]
pub struct Index {
    domains: HashMap<Box<str>, Entry>,
    urls: HashMap<Box<str>, Entry>,
    hashes: HashMap<Box<str>, Entry>,
    /// By prefix length, longest first.
    v4: Vec<(u8, HashMap<u32, Entry>)>,
    v6: Vec<(u8, HashMap<u128, Entry>)>,
    /// Indicators held.
    pub len: usize,
    /// Lines (or STIX objects) skipped as malformed.
    pub malformed: usize,
    /// The first of them: its line in the file.
    pub first_malformed: Option<usize>,
}

fn mask4(ip: Ipv4Addr, prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::from(ip) & (u32::MAX << (32 - u32::from(prefix)))
    }
}

fn mask6(ip: Ipv6Addr, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::from(ip) & (u128::MAX << (128 - u32::from(prefix)))
    }
}

impl Index {
    /// Adds `indicator`; a second entry for the same indicator replaces the first.
    pub fn add(&mut self, indicator: Indicator, entry: Entry) {
        let new = match indicator {
            Indicator::Domain(d) => self.domains.insert(d.into(), entry).is_none(),
            Indicator::Url(u) => self.urls.insert(u.into(), entry).is_none(),
            Indicator::Hash(h) => self.hashes.insert(h.into(), entry).is_none(),
            Indicator::Net(IpAddr::V4(ip), prefix) => level(&mut self.v4, prefix)
                .insert(mask4(ip, prefix), entry)
                .is_none(),
            Indicator::Net(IpAddr::V6(ip), prefix) => level(&mut self.v6, prefix)
                .insert(mask6(ip, prefix), entry)
                .is_none(),
        };
        if new {
            self.len += 1;
        }
    }

    /// Counts a malformed line (or object) at `line`.
    pub fn skip(&mut self, line: usize) {
        self.malformed += 1;
        self.first_malformed.get_or_insert(line);
    }

    /// The indicator `value` matches, if any: an address (in a network), a digest, a URL (or
    /// its host), an email address's domain, or a domain (or one of its parents).
    pub fn lookup(&self, value: &str) -> Option<Hit> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        if let Ok(ip) = value.parse::<IpAddr>() {
            return self.lookup_ip(canonical(ip));
        }
        if is_digest(value) {
            let key = value.to_ascii_lowercase();
            return self.hashes.get(key.as_str()).map(|entry| Hit {
                indicator: key,
                kind: IndicatorType::Hash,
                entry: *entry,
            });
        }
        if let Some((_, rest)) = value.split_once("://") {
            if let Some(entry) = self.urls.get(value) {
                return Some(Hit {
                    indicator: value.to_string(),
                    kind: IndicatorType::Url,
                    entry: *entry,
                });
            }
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let host = match host.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or_default(),
                None => host.split(':').next().unwrap_or_default(),
            };
            return match host.parse::<IpAddr>() {
                Ok(ip) => self.lookup_ip(canonical(ip)),
                Err(_) => self.lookup_domain(host),
            };
        }
        let domain = value.rsplit_once('@').map_or(value, |(_, d)| d);
        self.lookup_domain(domain)
    }

    fn lookup_ip(&self, ip: IpAddr) -> Option<Hit> {
        let found = match ip {
            IpAddr::V4(v4) => self.v4.iter().find_map(|(prefix, nets)| {
                let net = mask4(v4, *prefix);
                nets.get(&net)
                    .map(|e| (IpAddr::V4(Ipv4Addr::from(net)), *prefix, *e))
            }),
            IpAddr::V6(v6) => self.v6.iter().find_map(|(prefix, nets)| {
                let net = mask6(v6, *prefix);
                nets.get(&net)
                    .map(|e| (IpAddr::V6(Ipv6Addr::from(net)), *prefix, *e))
            }),
        };
        found.map(|(net, prefix, entry)| {
            let (indicator, kind) = if prefix == max_prefix(net) {
                (net.to_string(), IndicatorType::Ip)
            } else {
                (format!("{net}/{prefix}"), IndicatorType::Cidr)
            };
            Hit {
                indicator,
                kind,
                entry,
            }
        })
    }

    fn lookup_domain(&self, domain: &str) -> Option<Hit> {
        if self.domains.is_empty() {
            return None;
        }
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        // The name itself, then each parent: `a.evil.example`, `evil.example`, `example`.
        let mut rest = domain.as_str();
        loop {
            if let Some(entry) = self.domains.get(rest) {
                return Some(Hit {
                    indicator: rest.to_string(),
                    kind: IndicatorType::Domain,
                    entry: *entry,
                });
            }
            rest = rest.split_once('.')?.1;
        }
    }
}

/// The map of prefix length `prefix` in `levels` (kept longest first), made when missing.
fn level<K>(levels: &mut Vec<(u8, HashMap<K, Entry>)>, prefix: u8) -> &mut HashMap<K, Entry> {
    let at = match levels.binary_search_by(|(p, _)| prefix.cmp(p)) {
        Ok(at) => at,
        Err(at) => {
            levels.insert(at, (prefix, HashMap::new()));
            at
        }
    };
    &mut levels[at].1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(lines: &[&str]) -> Index {
        let mut index = Index::default();
        for (i, line) in lines.iter().enumerate() {
            match Indicator::parse(line) {
                Some(indicator) => index.add(
                    indicator,
                    Entry {
                        confidence: Some(i as u8),
                    },
                ),
                None => index.skip(i + 1),
            }
        }
        index
    }

    #[test]
    fn each_kind_of_indicator_is_read() {
        let cases = [
            ("198.51.100.7", IndicatorType::Ip),
            ("::ffff:198.51.100.7", IndicatorType::Ip),
            ("2001:db8::1", IndicatorType::Ip),
            ("10.0.0.0/8", IndicatorType::Cidr),
            ("2001:db8::/32", IndicatorType::Cidr),
            ("Evil.Example.", IndicatorType::Domain),
            ("https://evil.example/x?y=1", IndicatorType::Url),
            ("d41d8cd98f00b204e9800998ecf8427e", IndicatorType::Hash),
            (
                "da39a3ee5e6b4b0d3255bfef95601890afd80709",
                IndicatorType::Hash,
            ),
            (
                "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                IndicatorType::Hash,
            ),
        ];
        for (text, kind) in cases {
            assert_eq!(
                Indicator::parse(text).map(|i| i.kind()),
                Some(kind),
                "{text}"
            );
        }
        for bad in [
            "",
            "nodot",
            "10.0.0.0/33",
            "a..b",
            "http://",
            "has space.example",
            "1.2.3.4/x",
            "-://x",
        ] {
            assert_eq!(Indicator::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn addresses_match_the_most_specific_network() {
        let index = index(&[
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.3",
            "2001:db8::/32",
            "0.0.0.0/0",
        ]);
        let hit = |v: &str| index.lookup(v).map(|h| (h.indicator, h.kind.as_str()));
        assert_eq!(hit("10.1.2.3"), Some(("10.1.2.3".into(), "ip")));
        assert_eq!(hit("10.1.9.9"), Some(("10.1.0.0/16".into(), "cidr")));
        assert_eq!(hit("10.200.0.1"), Some(("10.0.0.0/8".into(), "cidr")));
        assert_eq!(hit("::ffff:10.1.2.3"), Some(("10.1.2.3".into(), "ip")));
        assert_eq!(
            hit("2001:db8:ffff::1"),
            Some(("2001:db8::/32".into(), "cidr"))
        );
        assert_eq!(hit("192.0.2.1"), Some(("0.0.0.0/0".into(), "cidr")));
        assert_eq!(hit("2001:db9::1"), None);
    }

    #[test]
    fn domains_urls_hashes_and_emails_match() {
        let index = index(&[
            "evil.example",
            "https://bad.example/payload.exe",
            "d41d8cd98f00b204e9800998ecf8427e",
            "203.0.113.0/24",
        ]);
        let hit = |v: &str| index.lookup(v).map(|h| h.indicator);
        assert_eq!(hit("EVIL.example"), Some("evil.example".into()));
        assert_eq!(hit("login.evil.example."), Some("evil.example".into()));
        assert_eq!(hit("notevil.example"), None);
        assert_eq!(
            hit("mallory@mail.evil.example"),
            Some("evil.example".into())
        );
        assert_eq!(
            hit("https://bad.example/payload.exe"),
            Some("https://bad.example/payload.exe".into())
        );
        assert_eq!(hit("https://bad.example/other"), None);
        assert_eq!(
            hit("http://user@www.evil.example:8080/a"),
            Some("evil.example".into())
        );
        assert_eq!(hit("http://203.0.113.9/x"), Some("203.0.113.0/24".into()));
        assert_eq!(
            hit("D41D8CD98F00B204E9800998ECF8427E"),
            Some("d41d8cd98f00b204e9800998ecf8427e".into())
        );
        assert_eq!(hit(""), None);
        assert_eq!(
            index.lookup("evil.example").unwrap().entry.confidence,
            Some(0)
        );
    }

    #[test]
    fn malformed_lines_are_counted_with_the_first_line() {
        let index = index(&["evil.example", "not an indicator", "1.2.3.4", "300.1.1.1/8"]);
        assert_eq!(
            (index.len, index.malformed, index.first_malformed),
            (2, 2, Some(2))
        );
    }
}
