//! The SOQL this profile understands: `SELECT <fields> FROM SetupAuditTrail`, an optional
//! `WHERE` of `CreatedDate` comparisons joined by `AND`, and an optional `ORDER BY
//! CreatedDate[, Id]` (see the profile's simplifications). Literals are read as the SOQL and
//! SOSL Reference writes dateTime values: unquoted, whole seconds, `Z` or an offset.

use chrono::{DateTime, Utc};

use crate::listing::Direction;
use crate::timeline::Timeline;

/// Fields of SetupAuditTrail (and the `CreatedBy` relationship's `Name`).
const FIELDS: &[&str] = &[
    "id",
    "action",
    "section",
    "createddate",
    "createdbyid",
    "createdby.name",
    "display",
    "delegateuser",
    "responsiblenamespaceprefix",
    "createdbycontext",
    "createdbyissuer",
    "systemmodstamp",
];

/// A parsed query: records with `CreatedDate` in `[lo, hi)` (timeline indices) in `direction`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Soql {
    pub(super) lo: u64,
    pub(super) hi: u64,
    pub(super) direction: Direction,
}

/// A dateTime literal: whole seconds, `Z` or an offset.
pub(super) fn literal(text: &str) -> Result<DateTime<Utc>, String> {
    let parsed = DateTime::parse_from_rfc3339(text)
        .map_err(|_| format!("value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes: {text}"))?;
    if text.contains('.') {
        return Err(format!(
            "the simulator reads dateTime literals in whole seconds only: {text}"
        ));
    }
    Ok(parsed.to_utc())
}

/// The words of a query, with comparison operators split from what they touch.
pub(super) fn words(soql: &str) -> Vec<String> {
    let mut spaced = String::with_capacity(soql.len() + 16);
    let mut chars = soql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' | '>' => {
                spaced.push(' ');
                spaced.push(c);
                if chars.peek() == Some(&'=') {
                    spaced.push('=');
                    chars.next();
                }
                spaced.push(' ');
            }
            ',' => spaced.push_str(" , "),
            _ => spaced.push(c),
        }
    }
    spaced.split_whitespace().map(str::to_string).collect()
}

/// Reads a query this profile understands (see the module's simplifications).
pub(super) fn parse_soql(timeline: &Timeline, soql: &str) -> Result<Soql, (&'static str, String)> {
    let malformed = |message: String| ("MALFORMED_QUERY", message);
    let words = words(soql);
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let at = |keyword: &str| upper.iter().position(|w| w == keyword);
    if upper.first().map(String::as_str) != Some("SELECT") {
        return Err(malformed(
            "unexpected token: the query must start with SELECT".into(),
        ));
    }
    let from = at("FROM").ok_or_else(|| malformed("unexpected end of query: no FROM".into()))?;
    for field in words[1..from].iter().filter(|w| *w != ",") {
        if !FIELDS.contains(&field.to_ascii_lowercase().as_str()) {
            return Err((
                "INVALID_FIELD",
                format!("No such column '{field}' on entity 'SetupAuditTrail'"),
            ));
        }
    }
    match words.get(from + 1) {
        Some(object) if object.eq_ignore_ascii_case("SetupAuditTrail") => {}
        Some(object) => {
            return Err((
                "INVALID_TYPE",
                format!("sObject type '{object}' is not supported by the simulator"),
            ))
        }
        None => return Err(malformed("unexpected end of query after FROM".into())),
    }
    let mut rest = &upper[from + 2..];
    let mut original = &words[from + 2..];
    let (mut start, mut end): (Option<i64>, Option<i64>) = (None, None);
    if rest.first().map(String::as_str) == Some("WHERE") {
        let mut i = 1;
        loop {
            let (Some(field), Some(op), Some(value)) =
                (rest.get(i), rest.get(i + 1), original.get(i + 2))
            else {
                return Err(malformed("unexpected end of WHERE clause".into()));
            };
            if field != "CREATEDDATE" {
                return Err(malformed(format!(
                    "the simulator filters on CreatedDate only, not {}",
                    original[i]
                )));
            }
            // Whole seconds: `> t` admits from the next second, `<= t` up to the next.
            let ms = literal(value).map_err(malformed)?.timestamp_millis();
            match op.as_str() {
                ">=" => start = Some(start.map_or(ms, |s| s.max(ms))),
                ">" => start = Some(start.map_or(ms + 1000, |s| s.max(ms + 1000))),
                "<" => end = Some(end.map_or(ms, |e| e.min(ms))),
                "<=" => end = Some(end.map_or(ms + 1000, |e| e.min(ms + 1000))),
                other => {
                    return Err(malformed(format!(
                        "the simulator compares CreatedDate with >, >=, < or <=, not {other}"
                    )))
                }
            }
            i += 3;
            match rest.get(i).map(String::as_str) {
                Some("AND") => i += 1,
                _ => break,
            }
        }
        rest = &rest[i..];
        original = &original[i..];
    }
    let mut direction = Direction::Ascending;
    if rest.first().map(String::as_str) == Some("ORDER") {
        if rest.get(1).map(String::as_str) != Some("BY")
            || rest.get(2).map(String::as_str) != Some("CREATEDDATE")
        {
            return Err(malformed(
                "the simulator orders by CreatedDate (then Id) only".into(),
            ));
        }
        let mut i = 3;
        match rest.get(i).map(String::as_str) {
            Some("ASC") => i += 1,
            Some("DESC") => {
                direction = Direction::Descending;
                i += 1;
            }
            _ => {}
        }
        // Ids grow with time here, so `, Id` in the same direction changes nothing.
        if rest.get(i).map(String::as_str) == Some(",") {
            if rest.get(i + 1).map(String::as_str) != Some("ID") {
                return Err(malformed(
                    "the simulator orders by CreatedDate, Id only".into(),
                ));
            }
            i += 2;
            if matches!(rest.get(i).map(String::as_str), Some("ASC" | "DESC")) {
                i += 1;
            }
        }
        original = &original[i..];
    }
    if let Some(word) = original.first() {
        return Err(malformed(format!(
            "unexpected token: '{word}' (the simulator does not understand it here)"
        )));
    }
    let lo = start.map_or(0, |ms| timeline.first_at_or_after(ceil_second(ms)));
    let hi = end
        .map_or(timeline.len(), |ms| {
            timeline.first_at_or_after(ceil_second(ms))
        })
        .max(lo);
    Ok(Soql { lo, hi, direction })
}

/// The first whole second at or after `ms`: served times are whole seconds.
fn ceil_second(ms: i64) -> i64 {
    (ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)).saturating_mul(1000)
}
