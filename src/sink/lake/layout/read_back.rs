//! Reading a key back: which source's objects a key is laid out as, and which time range its
//! partition stands for (for the lake's start check and `sluice state recover --from-lake`).

use chrono::format::Item;
use chrono::{DateTime, Utc};

use super::{KeyTemplate, Part, SegmentKind};

impl KeyTemplate {
    /// Whether some segment is the source's alone (the source and literal text, no time or
    /// field part): then every object of a source sits under segments no other source's
    /// objects share, so a listing can tell them apart by key.
    pub fn source_is_static(&self) -> bool {
        self.segments.iter().any(|parts| {
            parts.iter().any(|p| matches!(p, Part::Source))
                && parts
                    .iter()
                    .all(|p| matches!(p, Part::Source | Part::Literal(_)))
        })
    }

    /// Whether `key` (relative to the lake root) is laid out as an object of `source`
    /// (already [`sanitize`]d): one segment per template segment plus the file name, each
    /// segment that is the same for every object of the source equal to it, and a lake
    /// object's extension.
    pub fn holds(&self, source: &str, key: &str) -> bool {
        let parts: Vec<&str> = key.split('/').collect();
        if parts.len() != self.segments.len() + 1
            || super::super::ObjectKind::of_name(parts[parts.len() - 1]).is_none()
        {
            return false;
        }
        self.segments(source)
            .iter()
            .zip(&parts)
            .all(|(segment, part)| match &segment.kind {
                SegmentKind::Static(text) => text == part,
                _ => true,
            })
    }

    /// How long a partition lasts, in seconds: the finest time part of the template, or
    /// `None` when it has none.
    pub fn granularity(&self) -> Option<i64> {
        self.granularity
    }

    /// The start of the time range the partition of `key` (an object's key, relative to the
    /// lake root) stands for, read back from its segments with the template's time parts:
    /// every event of the object is at or after it, and before it plus [`Self::granularity`].
    /// `None` when the template has no time part, a segment mixes time with the source or an
    /// event field, or the key does not fit the template.
    pub fn partition_start(&self, key: &str) -> Option<DateTime<Utc>> {
        use chrono::format::{parse, Parsed};
        self.granularity?;
        let parts: Vec<&str> = key.split('/').collect();
        if parts.len() != self.segments.len() + 1 {
            return None;
        }
        let mut parsed = Parsed::new();
        for (segment, text) in self.segments.iter().zip(&parts) {
            if !segment.iter().any(|p| matches!(p, Part::Time(_))) {
                continue;
            }
            let mut items: Vec<Item<'static>> = Vec::new();
            for part in segment {
                match part {
                    Part::Literal(literal) => {
                        items.push(Item::OwnedLiteral(literal.clone().into_boxed_str()))
                    }
                    Part::Time(time) => items.extend(time.iter().cloned()),
                    Part::Source | Part::Field(_) | Part::Class => return None,
                }
            }
            parse(&mut parsed, text, items.iter()).ok()?;
        }
        if let Some(seconds) = parsed.timestamp() {
            return DateTime::from_timestamp(seconds, 0);
        }
        if parsed.hour_div_12().is_none() {
            parsed.set_hour(0).ok()?;
        }
        if parsed.minute().is_none() {
            parsed.set_minute(0).ok()?;
        }
        if parsed.second().is_none() {
            parsed.set_second(0).ok()?;
        }
        let date = parsed.to_naive_date().ok()?;
        let time = parsed.to_naive_time().ok()?;
        Some(date.and_time(time).and_utc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_read_back_as_the_start_of_their_time_range() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let default = KeyTemplate::parse(super::super::super::DEFAULT_KEY_TEMPLATE).unwrap();
        assert_eq!(default.granularity(), Some(3600));
        let key = "source=okta/dt=2023-11-14/hr=22/0000000003-ab12cd34-9f00aa11.ndjson.gz";
        assert_eq!(
            default.partition_start(key),
            Some(t("2023-11-14T22:00:00Z"))
        );
        assert!(default.holds("okta", key));
        assert!(!default.holds("github", key));
        assert!(!default.holds("okta", "source=okta/dt=2023-11-14/hr=22/x.json"));
        assert!(!default.holds("okta", "source=okta/dt=2023-11-14/x.ndjson.gz"));
        assert!(default.source_is_static());
        let fields = KeyTemplate::parse("{source}/%Y/%m/t={data.kind}/%d/").unwrap();
        assert_eq!(
            fields.partition_start("okta/2024/02/t=login/29/x.parquet"),
            Some(t("2024-02-29T00:00:00Z"))
        );
        assert_eq!(
            fields.partition_start("okta/2024/13/t=x/01/x.parquet"),
            None
        );
        let mixed = KeyTemplate::parse("{source}-%Y/").unwrap();
        assert!(!mixed.source_is_static());
        assert_eq!(mixed.partition_start("okta-2024/x.ndjson.gz"), None);
        let timeless = KeyTemplate::parse("{source}/t={data.kind}/").unwrap();
        assert_eq!(timeless.partition_start("okta/t=a/x.ndjson.gz"), None);
    }
}
