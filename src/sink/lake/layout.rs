//! Object keys: the key template, and the sanitizing that keeps every key inside the lake.
//!
//! A template such as `source={source}/dt=%Y-%m-%d/hr=%H/` is checked once, when the config
//! is read, and rendered per event. Its literal text may only use characters that are safe in
//! every store's keys and every reader's globs; the values put into it (the source name, an
//! event field) are percent-encoded with [`sanitize`], so no value can add a `/`, form a `..`
//! segment or carry a control character: a key can never leave the lake's prefix, whatever
//! an API sends.

use std::fmt::Write as _;

use chrono::format::{Item, Numeric, Pad, StrftimeItems};
use chrono::{DateTime, Utc};

use crate::source::path::JsonPath;
use crate::source::RawJson;
use crate::transform::Envelope;

mod read_back;

/// What a value renders to when it is missing, null or empty: the name Hive, Spark, Athena
/// and Trino read back as NULL.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Encoded values longer than this are cut and suffixed with a digest, to stay well inside
/// S3's 1024-byte key limit whatever the data holds.
const MAX_VALUE_LEN: usize = 128;

/// Why a key template cannot be used; each says what is wrong, without a hint (the config
/// check adds the key and the default).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template does not end in `/`.
    #[error("must end with `/` (objects are named <template><batch>.ndjson.gz)")]
    NoTrailingSlash,
    /// The template starts with `/`.
    #[error("must not start with `/`")]
    LeadingSlash,
    /// No `{source}` placeholder.
    #[error("must contain `{{source}}`: staging, locks and object names are per source")]
    NoSource,
    /// An empty, `.` or `..` segment.
    #[error("segment `{0}` is empty or a dot segment")]
    DotSegment(String),
    /// The first segment is sluice's staging directory.
    #[error("must not start with `_staging`, where sluice stages objects")]
    Staging,
    /// The first segment is the manifest ledger's directory.
    #[error("must not start with `_manifest`, where sluice keeps its manifest ledger")]
    Manifest,
    /// A `{` with no `}` after it, in the segment quoted.
    #[error("`{{` without `}}` in `{0}`")]
    Unclosed(String),
    /// A `}` with no `{` before it, in the text quoted.
    #[error("`}}` without `{{` in `{0}`")]
    Unopened(String),
    /// A placeholder other than `{source}`, `{class}` and `{data.FIELD}`.
    #[error("unknown placeholder `{{{0}}}` (use {{source}}, {{class}}, {{data.FIELD}} or strftime parts such as %Y)")]
    Placeholder(String),
    /// A `%` sequence chrono does not know.
    #[error("`{0}` has an unknown strftime specifier")]
    Specifier(String),
    /// A time part that is not a number, or is padded with spaces.
    #[error("`{0}`: only numeric date and time parts are allowed (%Y %m %d %H %M %S %j %F ...), without space padding")]
    NotNumeric(String),
    /// Literal text with a character keys may not hold.
    #[error("character {0:?} is not allowed in keys (use letters, digits and - _ . = +)")]
    Character(char),
    /// An event time the template's time parts cannot format.
    #[error("cannot format event time {0} with the key template")]
    Time(DateTime<Utc>),
}

/// A checked key template; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyTemplate {
    text: String,
    segments: Vec<Vec<Part>>,
    /// Seconds over which the rendered time parts stay constant (1, 60, 3600 or 86400), or
    /// `None` when the template uses no time at all.
    granularity: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Source,
    /// `{data.a.b}`: a value of the event's data, by object keys.
    Field(JsonPath),
    /// `{class}`: the OCSF class of the event's OCSF form (`authentication`).
    Class,
    Time(Vec<Item<'static>>),
}

/// What a template segment is, for readers that need to know the layout (see `ddl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The segment as written in the template, e.g. `dt=%Y-%m-%d`.
    pub text: String,
    /// The hive partition column, for `name=...` segments whose name is literal.
    pub column: Option<String>,
    /// The value the segment takes.
    pub kind: SegmentKind,
}

/// A segment's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentKind {
    /// The same for every object of a source: the segment rendered for it.
    Static(String),
    /// `%Y-%m-%d` (or `%F`): a date.
    Date,
    /// `%H`: the hour, two digits.
    Hour,
    /// Another single number, e.g. `%Y` or `%m`, with its digit count and range.
    Integer {
        /// Zero-padded width.
        digits: u32,
        /// Smallest value.
        min: u32,
        /// Largest value.
        max: u32,
    },
    /// Anything else (an event field, a mix of specifiers): text.
    Text,
}

/// Rendered time parts of the last bucket of event time seen, reused while events stay in it.
#[derive(Debug, Default)]
pub(crate) struct RenderCache {
    bucket: Option<i64>,
    times: Vec<String>,
}

impl KeyTemplate {
    /// Checks `text` and compiles it. Errors say what is wrong, without a hint (the caller
    /// adds the key and the default).
    pub fn parse(text: &str) -> Result<KeyTemplate, TemplateError> {
        if !text.ends_with('/') {
            return Err(TemplateError::NoTrailingSlash);
        }
        if text.starts_with('/') {
            return Err(TemplateError::LeadingSlash);
        }
        if !text.contains("{source}") {
            return Err(TemplateError::NoSource);
        }
        let mut segments = Vec::new();
        let mut granularity: Option<i64> = None;
        for (i, raw) in text[..text.len() - 1].split('/').enumerate() {
            if raw.is_empty() || raw == "." || raw == ".." {
                return Err(TemplateError::DotSegment(raw.to_string()));
            }
            if i == 0 && raw == super::STAGING_DIR {
                return Err(TemplateError::Staging);
            }
            if i == 0 && raw == super::ledger::MANIFEST_DIR {
                return Err(TemplateError::Manifest);
            }
            let parts = parse_segment(raw)?;
            for part in &parts {
                if let Part::Time(items) = part {
                    for item in items {
                        if let Item::Numeric(numeric, _) = item {
                            let g = numeric_granularity(numeric);
                            granularity = Some(granularity.map_or(g, |old| old.min(g)));
                        }
                    }
                }
            }
            segments.push(parts);
        }
        Ok(KeyTemplate {
            text: text.to_string(),
            segments,
            granularity,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The key prefix for `event` of source `source` (already [`sanitize`]d), ending in `/`.
    pub(crate) fn render(
        &self,
        source: &str,
        event: &Envelope,
        cache: &mut RenderCache,
        out: &mut String,
    ) -> Result<(), TemplateError> {
        out.clear();
        let time = event.event_time.0;
        let bucket = self.granularity.map(|g| time.timestamp().div_euclid(g));
        if cache.bucket != bucket || cache.times.is_empty() {
            cache.times.clear();
            for part in self.segments.iter().flatten() {
                if let Part::Time(items) = part {
                    cache.times.push(format_time(time, items)?);
                }
            }
            cache.bucket = bucket;
        }
        let mut times = cache.times.iter();
        for segment in &self.segments {
            for part in segment {
                match part {
                    Part::Literal(text) => out.push_str(text),
                    Part::Source => out.push_str(source),
                    Part::Field(path) => out.push_str(&sanitize(&field_text(&event.data, path))),
                    Part::Class => out.push_str(&sanitize(&class_text(event))),
                    Part::Time(_) => {
                        out.push_str(times.next().map(String::as_str).unwrap_or_default())
                    }
                }
            }
            out.push('/');
        }
        Ok(())
    }

    /// The template's segments as seen for `source` (already [`sanitize`]d).
    pub fn segments(&self, source: &str) -> Vec<Segment> {
        let raw_segments = self.text[..self.text.len() - 1].split('/');
        raw_segments
            .zip(&self.segments)
            .map(|(raw, parts)| describe_segment(raw, parts, source))
            .collect()
    }

    /// The leading segments that are the same for every object of `source`, joined and
    /// ending in `/` (`source=okta/` for the default template), or `""`. Everything the
    /// source publishes is under it.
    pub fn static_prefix(&self, source: &str) -> String {
        let mut prefix = String::new();
        for segment in self.segments(source) {
            match segment.kind {
                SegmentKind::Static(text) => {
                    prefix.push_str(&text);
                    prefix.push('/');
                }
                _ => break,
            }
        }
        prefix
    }
}

fn parse_segment(raw: &str) -> Result<Vec<Part>, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let Some(open) = rest.find('{') else {
            parse_chunk(rest, &mut parts)?;
            break;
        };
        parse_chunk(&rest[..open], &mut parts)?;
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| TemplateError::Unclosed(raw.to_string()))?;
        let name = &after[..close];
        match name {
            "source" => parts.push(Part::Source),
            "class" => parts.push(Part::Class),
            _ => match name.strip_prefix("data.") {
                Some(path) if !path.is_empty() && path.split('.').all(|k| !k.is_empty()) => {
                    let keys: Vec<String> = path.split('.').map(str::to_string).collect();
                    parts.push(Part::Field(JsonPath::of_keys(&keys)))
                }
                _ => return Err(TemplateError::Placeholder(name.to_string())),
            },
        }
        rest = &after[close + 1..];
    }
    Ok(parts)
}

/// Literal text and strftime specifiers between placeholders.
fn parse_chunk(chunk: &str, parts: &mut Vec<Part>) -> Result<(), TemplateError> {
    if chunk.is_empty() {
        return Ok(());
    }
    if chunk.contains('}') {
        return Err(TemplateError::Unopened(chunk.to_string()));
    }
    if !chunk.contains('%') {
        check_literal(chunk)?;
        parts.push(Part::Literal(chunk.to_string()));
        return Ok(());
    }
    let items = StrftimeItems::new(chunk)
        .parse_to_owned()
        .map_err(|_| TemplateError::Specifier(chunk.to_string()))?;
    for item in &items {
        match item {
            Item::Literal(text) => check_literal(text)?,
            Item::OwnedLiteral(text) => check_literal(text)?,
            Item::Numeric(numeric, pad) if *pad != Pad::Space && numeric_allowed(numeric) => {}
            _ => return Err(TemplateError::NotNumeric(chunk.to_string())),
        }
    }
    parts.push(Part::Time(items));
    Ok(())
}

fn check_literal(text: &str) -> Result<(), TemplateError> {
    match text.chars().find(|c| !is_safe_char(*c) && *c != '=') {
        Some(c) => Err(TemplateError::Character(c)),
        None => Ok(()),
    }
}

fn numeric_allowed(numeric: &Numeric) -> bool {
    matches!(
        numeric,
        Numeric::Year
            | Numeric::YearDiv100
            | Numeric::YearMod100
            | Numeric::IsoYear
            | Numeric::IsoYearDiv100
            | Numeric::IsoYearMod100
            | Numeric::Quarter
            | Numeric::Month
            | Numeric::Day
            | Numeric::WeekFromSun
            | Numeric::WeekFromMon
            | Numeric::IsoWeek
            | Numeric::NumDaysFromSun
            | Numeric::WeekdayFromMon
            | Numeric::Ordinal
            | Numeric::Hour
            | Numeric::Minute
            | Numeric::Second
            | Numeric::Timestamp
    )
}

fn numeric_granularity(numeric: &Numeric) -> i64 {
    match numeric {
        Numeric::Second | Numeric::Timestamp => 1,
        Numeric::Minute => 60,
        Numeric::Hour => 3600,
        _ => 86_400,
    }
}

fn format_time(time: DateTime<Utc>, items: &[Item<'static>]) -> Result<String, TemplateError> {
    let mut out = String::new();
    write!(out, "{}", time.format_with_items(items.iter()))
        .map_err(|_| TemplateError::Time(time))?;
    Ok(out)
}

/// The text of the value at `path` in `data`: strings as they are, other scalars as JSON,
/// objects and arrays as compact JSON, missing and null as [`NULL_PARTITION`].
fn field_text(data: &RawJson, path: &JsonPath) -> String {
    // Only the field is parsed, never the record.
    let Some(value) = data
        .lookup(path)
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
    else {
        return String::new();
    };
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// The OCSF class name of `event` (`authentication`), or empty (the null partition) when it
/// has no OCSF form or no `class_uid`.
fn class_text(event: &Envelope) -> String {
    let uid = event.ocsf().and_then(|ocsf| {
        let raw = ocsf.lookup(&JsonPath::of_keys(&["class_uid".to_string()]))?;
        raw.get().parse::<i64>().ok()
    });
    uid.map_or_else(String::new, |uid| {
        crate::transform::ocsf::class_name(uid).into_owned()
    })
}

fn describe_segment(raw: &str, parts: &[Part], source: &str) -> Segment {
    let dynamic = parts
        .iter()
        .any(|p| matches!(p, Part::Time(_) | Part::Field(_) | Part::Class));
    // `name=...` with a literal name (no placeholder, no specifier) is a hive column.
    let column = raw
        .split_once('=')
        .map(|(name, _)| name)
        .filter(|name| !name.is_empty() && name.chars().all(is_safe_char))
        .map(str::to_string);
    let kind = if !dynamic {
        let mut text = String::new();
        for part in parts {
            match part {
                Part::Literal(t) => text.push_str(t),
                Part::Source => text.push_str(source),
                // `dynamic` is false: no other part is here.
                Part::Field(_) | Part::Class | Part::Time(_) => {}
            }
        }
        SegmentKind::Static(text)
    } else {
        let value = raw.split_once('=').map_or(raw, |(_, value)| value);
        match value {
            "%Y-%m-%d" | "%F" => SegmentKind::Date,
            "%H" => SegmentKind::Hour,
            "%Y" => SegmentKind::Integer {
                digits: 4,
                min: 1970,
                max: 2100,
            },
            "%m" => SegmentKind::Integer {
                digits: 2,
                min: 1,
                max: 12,
            },
            "%d" => SegmentKind::Integer {
                digits: 2,
                min: 1,
                max: 31,
            },
            "%M" => SegmentKind::Integer {
                digits: 2,
                min: 0,
                max: 59,
            },
            _ => SegmentKind::Text,
        }
    };
    Segment {
        text: raw.to_string(),
        column,
        kind,
    }
}

fn is_safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+')
}

/// Makes `value` safe as (part of) one key segment: every byte outside `A-Z a-z 0-9 - _ . +`
/// is percent-encoded (as Hive escapes partition values, so `/`, `=`, `%`, `\` and control
/// characters cannot survive), a value made only of dots is encoded whole (no `.` or `..`
/// segments), an empty value becomes [`NULL_PARTITION`], and long values are cut and
/// suffixed with a digest so distinct values stay distinct.
pub fn sanitize(value: &str) -> String {
    if value.is_empty() {
        return NULL_PARTITION.to_string();
    }
    let only_dots = value.chars().all(|c| c == '.');
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if is_safe_char(c) && !only_dots {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    if out.len() > MAX_VALUE_LEN {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(value.as_bytes());
        let mut cut = MAX_VALUE_LEN - 17;
        // Do not split a %XX escape (the text is ASCII, so any index is a char boundary).
        while out.as_bytes()[..cut]
            .iter()
            .rev()
            .take(2)
            .any(|b| *b == b'%')
        {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('_');
        for byte in &digest[..8] {
            let _ = write!(out, "{byte:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Record;
    use chrono::TimeZone;
    use std::sync::Arc;

    fn event(secs: i64, data: serde_json::Value) -> Envelope {
        let record = Record {
            time: Utc.timestamp_opt(secs, 0).unwrap(),
            id: "e".into(),
            data: data.into(),
        };
        Envelope::wrap(record, &Arc::from("okta"), Utc::now())
    }

    fn render(template: &str, secs: i64, data: serde_json::Value) -> String {
        let template = KeyTemplate::parse(template).unwrap();
        let mut out = String::new();
        template
            .render(
                "okta",
                &event(secs, data),
                &mut RenderCache::default(),
                &mut out,
            )
            .unwrap();
        out
    }

    #[test]
    fn default_template_renders_hive_partitions_of_the_event_time() {
        assert_eq!(
            render(
                super::super::DEFAULT_KEY_TEMPLATE,
                1_700_000_000,
                serde_json::json!({})
            ),
            "source=okta/dt=2023-11-14/hr=22/"
        );
    }

    #[test]
    fn fields_are_sanitized_and_cannot_escape() {
        let t = "source={source}/type={data.kind}/";
        for (value, expected) in [
            (serde_json::json!("user.login"), "type=user.login"),
            (serde_json::json!("../../etc"), "type=..%2F..%2Fetc"),
            (serde_json::json!(".."), "type=%2E%2E"),
            (serde_json::json!("a/b\u{0}c"), "type=a%2Fb%00c"),
            (serde_json::json!("é=x"), "type=%C3%A9%3Dx"),
            (serde_json::json!(null), "type=__HIVE_DEFAULT_PARTITION__"),
            (serde_json::json!(7), "type=7"),
        ] {
            let key = render(t, 0, serde_json::json!({ "kind": value }));
            assert_eq!(key, format!("source=okta/{expected}/"), "{value}");
        }
        let bare = render(
            "source={source}/{data.kind}/",
            0,
            serde_json::json!({"kind": ".."}),
        );
        assert_eq!(bare, "source=okta/%2E%2E/");
        let missing = render(t, 0, serde_json::json!({}));
        assert_eq!(missing, "source=okta/type=__HIVE_DEFAULT_PARTITION__/");
    }

    #[test]
    fn long_values_are_cut_with_a_digest() {
        let a = sanitize(&"/".repeat(300));
        let b = sanitize(&format!("{}x", "/".repeat(299)));
        assert!(a.len() <= MAX_VALUE_LEN && b.len() <= MAX_VALUE_LEN, "{a}");
        assert_ne!(a, b);
        assert!(!a.contains('/'));
        let cut = a.split('_').next().unwrap();
        assert!(cut.len().is_multiple_of(3), "no split escape: {a}");
    }

    #[test]
    fn sanitized_source_names_stay_one_segment() {
        assert_eq!(sanitize("okta"), "okta");
        assert_eq!(sanitize("okta-prod_2"), "okta-prod_2");
        assert_eq!(sanitize("../x"), "..%2Fx");
        assert_eq!(sanitize(""), NULL_PARTITION);
    }

    #[test]
    fn unsafe_templates_are_refused() {
        for (template, expected) in [
            ("source={source}/dt=%Y", "end with `/`"),
            ("/source={source}/", "start with `/`"),
            ("dt=%Y/", "{source}"),
            ("source={source}//", "empty"),
            ("source={source}/../", "dot segment"),
            ("_staging/source={source}/", "_staging"),
            ("_manifest/source={source}/", "_manifest"),
            ("source={source}/x y/", "not allowed"),
            ("source={source}/%c/", "only numeric"),
            ("source={source}/%e/", "only numeric"),
            ("source={source}/%Q/", "unknown strftime"),
            ("source={source}/{event_id}/", "unknown placeholder"),
            ("source={source}/{data.}/", "unknown placeholder"),
            ("source={source}/a}/", "without"),
            ("source={source}/{data.x/", "without"),
        ] {
            let err = KeyTemplate::parse(template).unwrap_err().to_string();
            assert!(err.contains(expected), "{template}: {err}");
        }
    }

    #[test]
    fn cache_follows_the_time_bucket() {
        let template = KeyTemplate::parse("source={source}/dt=%Y-%m-%d/hr=%H/m=%M/").unwrap();
        let mut cache = RenderCache::default();
        let mut out = String::new();
        template
            .render(
                "okta",
                &event(0, serde_json::json!({})),
                &mut cache,
                &mut out,
            )
            .unwrap();
        assert_eq!(out, "source=okta/dt=1970-01-01/hr=00/m=00/");
        template
            .render(
                "okta",
                &event(59, serde_json::json!({})),
                &mut cache,
                &mut out,
            )
            .unwrap();
        assert_eq!(out, "source=okta/dt=1970-01-01/hr=00/m=00/");
        template
            .render(
                "okta",
                &event(61, serde_json::json!({})),
                &mut cache,
                &mut out,
            )
            .unwrap();
        assert_eq!(out, "source=okta/dt=1970-01-01/hr=00/m=01/");
        template
            .render(
                "okta",
                &event(-1, serde_json::json!({})),
                &mut cache,
                &mut out,
            )
            .unwrap();
        assert_eq!(out, "source=okta/dt=1969-12-31/hr=23/m=59/");
    }

    #[test]
    fn segments_describe_the_layout() {
        let template = KeyTemplate::parse("source={source}/dt=%Y-%m-%d/hr=%H/t={data.k}/").unwrap();
        let segments = template.segments("okta");
        assert_eq!(segments[0].kind, SegmentKind::Static("source=okta".into()));
        assert_eq!(segments[0].column.as_deref(), Some("source"));
        assert_eq!(segments[1].kind, SegmentKind::Date);
        assert_eq!(segments[1].column.as_deref(), Some("dt"));
        assert_eq!(segments[2].kind, SegmentKind::Hour);
        assert_eq!(segments[3].kind, SegmentKind::Text);
        assert_eq!(template.static_prefix("okta"), "source=okta/");
        let flat = KeyTemplate::parse("%Y/{source}/").unwrap();
        assert_eq!(flat.static_prefix("okta"), "");
        assert_eq!(flat.segments("okta")[0].column, None);
    }
}
