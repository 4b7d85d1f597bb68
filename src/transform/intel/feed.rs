//! Reading a feed file into an [`Index`]: plain text (one indicator a line), CSV with a
//! header, or a STIX 2.1 bundle.
//!
//! A line (or STIX indicator) that holds no indicator is skipped and counted, and the load
//! logs once how many were skipped and where the first is (`file:line`). A file that cannot
//! be a feed at all (missing, not text, a CSV without an indicator column, JSON that is not a
//! bundle, no line that is an indicator) is an error.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::index::{Entry, Index, Indicator, IndicatorType};

/// How a feed file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One indicator a line; blank lines and `#` comments are passed over.
    Text,
    /// A header row naming an `indicator` (or `value`) column, optionally `type` and
    /// `confidence`.
    Csv,
    /// A STIX 2.1 bundle of `indicator` objects with `[type:property = 'value']` patterns.
    Stix,
}

impl Format {
    /// The format a file's extension says: `.csv`, `.json` (STIX), anything else text.
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("csv") => Format::Csv,
            Some(ext) if ext.eq_ignore_ascii_case("json") => Format::Stix,
            _ => Format::Text,
        }
    }

    /// Its name in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Csv => "csv",
            Format::Stix => "stix",
        }
    }
}

/// Why a file cannot be a feed. The message leaves the path out and reads on from it (the
/// caller names the file and the step's key): `... feed.csv has no readable CSV header`.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The file cannot be read (missing, no permission).
    #[error("cannot be read: {0}")]
    Unreadable(#[source] std::io::Error),
    /// The file is not UTF-8 text; `at` is the byte where it stops being text.
    #[error("is not UTF-8 text (byte {at}): not a {} feed", format.as_str())]
    NotText {
        /// The offset of the first byte that is not UTF-8.
        at: usize,
        /// The format the file was read as.
        format: Format,
    },
    /// Every entry is malformed: the feed would match nothing.
    #[error("holds no indicator: all {malformed} entries are malformed, the first at line {line}")]
    NoIndicator {
        /// How many entries were malformed.
        malformed: usize,
        /// The line of the first.
        line: usize,
    },
    /// A CSV feed whose header cannot be read.
    #[error("has no readable CSV header: {0}")]
    CsvHeader(#[source] csv::Error),
    /// A CSV feed without an indicator column; `found` lists the header's columns.
    #[error("has no `indicator` column in its header (found: {found})")]
    NoIndicatorColumn {
        /// The header's columns, joined by `, `.
        found: String,
    },
    /// A STIX feed that is not JSON.
    #[error("is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// JSON that is not a STIX bundle.
    #[error("is not a STIX 2.1 bundle (no \"type\": \"bundle\" at its top)")]
    NotABundle,
    /// A STIX bundle without objects.
    #[error("is a STIX bundle without an `objects` array")]
    NoObjects,
}

/// Loads the feed at `path` written in `format`. `Err` says why the file cannot be a feed
/// (without the path: the caller names it and the key).
pub fn load(path: &Path, format: Format) -> Result<Index, FeedError> {
    let bytes = std::fs::read(path).map_err(FeedError::Unreadable)?;
    let text = String::from_utf8(bytes).map_err(|error| FeedError::NotText {
        at: error.utf8_error().valid_up_to(),
        format,
    })?;
    let index = match format {
        Format::Text => text_feed(&text),
        Format::Csv => csv_feed(&text)?,
        Format::Stix => stix_feed(&text)?,
    };
    if let Some(line) = index.first_malformed {
        if index.len == 0 {
            return Err(FeedError::NoIndicator {
                malformed: index.malformed,
                line,
            });
        }
        tracing::warn!(
            "{}:{line}: {} malformed indicator entr{} skipped in this feed (the first is at this line); the rest is loaded",
            path.display(),
            index.malformed,
            if index.malformed == 1 { "y" } else { "ies" }
        );
    }
    Ok(index)
}

fn text_feed(text: &str) -> Index {
    let mut index = Index::default();
    for (n, line) in text.lines().enumerate() {
        // `1.2.3.4  # why`: the comment is passed over.
        let line = line.split(" #").next().unwrap_or_default().trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match Indicator::parse(line) {
            Some(indicator) => index.add(indicator, Entry { confidence: None }),
            None => index.skip(n + 1),
        }
    }
    index
}

fn csv_feed(text: &str) -> Result<Index, FeedError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(FeedError::CsvHeader)?.clone();
    let column = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
    };
    let indicator =
        column(&["indicator", "value", "ioc"]).ok_or_else(|| FeedError::NoIndicatorColumn {
            found: headers.iter().collect::<Vec<_>>().join(", "),
        })?;
    let kind = column(&["type", "indicator_type"]);
    let confidence = column(&["confidence"]);
    let mut index = Index::default();
    for record in reader.records() {
        let (record, line) = match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                (record, line)
            }
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line() as usize);
                index.skip(line);
                continue;
            }
        };
        let parsed = record.get(indicator).and_then(Indicator::parse);
        let typed_ok = |i: &Indicator| match kind.and_then(|k| record.get(k)) {
            None | Some("") => true,
            Some(written) => type_agrees(written, i.kind()),
        };
        let conf = match confidence.and_then(|c| record.get(c)) {
            None | Some("") => Ok(None),
            Some(text) => text
                .parse::<u8>()
                .ok()
                .filter(|c| *c <= 100)
                .map(Some)
                .ok_or(()),
        };
        match (parsed, conf) {
            (Some(i), Ok(confidence)) if typed_ok(&i) => index.add(i, Entry { confidence }),
            _ => index.skip(line),
        }
    }
    Ok(index)
}

/// Whether a CSV `type` cell agrees with the indicator read from the row.
fn type_agrees(written: &str, kind: IndicatorType) -> bool {
    let written = written.to_ascii_lowercase();
    match kind {
        IndicatorType::Ip => [
            "ip",
            "ipv4",
            "ipv6",
            "ip-dst",
            "ip-src",
            "ipv4-addr",
            "ipv6-addr",
        ]
        .contains(&written.as_str()),
        IndicatorType::Cidr => [
            "cidr",
            "network",
            "ip",
            "ipv4",
            "ipv6",
            "ipv4-addr",
            "ipv6-addr",
        ]
        .contains(&written.as_str()),
        IndicatorType::Domain => {
            ["domain", "hostname", "domain-name", "fqdn"].contains(&written.as_str())
        }
        IndicatorType::Url => ["url", "uri"].contains(&written.as_str()),
        IndicatorType::Hash => ["hash", "md5", "sha1", "sha-1", "sha256", "sha-256", "file"]
            .contains(&written.as_str()),
    }
}

fn stix_feed(text: &str) -> Result<Index, FeedError> {
    let bundle: Value = serde_json::from_str(text).map_err(FeedError::NotJson)?;
    if bundle.get("type").and_then(Value::as_str) != Some("bundle") {
        return Err(FeedError::NotABundle);
    }
    let objects = bundle
        .get("objects")
        .and_then(Value::as_array)
        .ok_or(FeedError::NoObjects)?;
    let now = chrono::Utc::now();
    let mut index = Index::default();
    for object in objects {
        if object.get("type").and_then(Value::as_str) != Some("indicator")
            || object.get("revoked").and_then(Value::as_bool) == Some(true)
        {
            continue;
        }
        let expired = object
            .get("valid_until")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|until| until < now);
        if expired {
            continue;
        }
        let confidence = match object.get("confidence") {
            None => Some(None),
            Some(c) => c.as_u64().filter(|c| *c <= 100).map(|c| Some(c as u8)),
        };
        let stix = object
            .get("pattern_type")
            .and_then(Value::as_str)
            .is_none_or(|t| t == "stix");
        let found = object
            .get("pattern")
            .and_then(Value::as_str)
            .filter(|_| stix)
            .and_then(pattern);
        match (found, confidence) {
            (Some(indicators), Some(confidence)) if !indicators.is_empty() => {
                for indicator in indicators {
                    index.add(indicator, Entry { confidence });
                }
            }
            _ => index.skip(line_of(text, object)),
        }
    }
    Ok(index)
}

/// The line where `object` starts in `text`: where its `id` first appears (1 when it has
/// none, or it cannot be found).
fn line_of(text: &str, object: &Value) -> usize {
    object
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| text.find(&format!("\"{id}\"")))
        .map_or(1, |at| text[..at].matches('\n').count() + 1)
}

/// The indicators of a STIX pattern made of equality comparisons joined by `OR`
/// (`[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'evil.example']`, or several
/// such brackets joined by `OR`). `None` for a pattern that says more (`AND`, other
/// operators, qualifiers), which a lookup of one value cannot decide, or that names no
/// indicator this step knows.
fn pattern(text: &str) -> Option<Vec<Indicator>> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    loop {
        let inner = rest.strip_prefix('[')?;
        let close = closing(inner)?;
        for comparison in split_or(&inner[..close])? {
            out.push(comparison_indicator(comparison)?);
        }
        rest = inner[close + 1..].trim_start();
        if rest.is_empty() {
            return Some(out);
        }
        rest = rest.strip_prefix("OR")?.trim_start();
    }
}

/// The index of the `]` that closes a bracket, quotes skipped.
fn closing(text: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '\'' => quoted = !quoted,
            ']' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// The comparisons of one bracket, split at ` OR ` outside quotes; `None` on `AND`.
fn split_or(text: &str) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if escaped {
            escaped = false;
        } else if quoted && c == b'\\' {
            escaped = true;
        } else if c == b'\'' {
            quoted = !quoted;
        } else if !quoted && c.is_ascii_whitespace() {
            let word = text[i..].trim_start();
            let word_end = word.find(char::is_whitespace).unwrap_or(word.len());
            match &word[..word_end] {
                "OR" => {
                    parts.push(text[start..i].trim());
                    let skip = text[i..].len() - word.len() + word_end;
                    i += skip;
                    start = i;
                    continue;
                }
                "AND" | "FOLLOWEDBY" => return None,
                _ => {}
            }
        }
        i += 1;
    }
    parts.push(text[start..].trim());
    Some(parts)
}

/// `ipv4-addr:value = '198.51.100.1'` as the indicator it names.
fn comparison_indicator(text: &str) -> Option<Indicator> {
    let (path, value) = text.split_once('=')?;
    let (path, value) = (path.trim(), value.trim());
    if path.ends_with(['!', '<', '>']) {
        return None;
    }
    let value = value.strip_prefix('\'')?.strip_suffix('\'')?;
    let value = value.replace("\\'", "'").replace("\\\\", "\\");
    let indicator = Indicator::parse(&value)?;
    let kind = indicator.kind();
    let agrees = match path {
        "ipv4-addr:value" | "ipv6-addr:value" => {
            matches!(kind, IndicatorType::Ip | IndicatorType::Cidr)
        }
        "domain-name:value" => kind == IndicatorType::Domain,
        "url:value" => kind == IndicatorType::Url,
        _ => {
            let hash = path.strip_prefix("file:hashes.")?.trim_matches('\'');
            ["MD5", "SHA-1", "SHA1", "SHA-256", "SHA256"]
                .contains(&hash.to_ascii_uppercase().as_str())
                && kind == IndicatorType::Hash
        }
    };
    agrees.then_some(indicator)
}

#[cfg(test)]
mod tests;
