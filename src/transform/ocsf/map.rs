//! Applying a mapping file to one vendor event.

use std::net::SocketAddr;

use serde_json::{json, Map, Value};

use super::path;
use super::spec::{Activity, Condition, Conditions, Conv, Copy, CopySpec, Lookup, MappingFile};
use super::{MapError, MapProblem, RawMode, OCSF_VERSION};
use crate::model::timefmt;

/// The OCSF event for `event`, per `file`. The event is taken, not borrowed: what the mapping
/// does not move becomes `unmapped` without copying the event first (on an error the caller
/// still has the event as it was: the transform chain sets aside its own copy).
pub(super) fn apply(
    preset: &str,
    file: &MappingFile,
    event: Value,
    raw: RawMode,
) -> Result<Value, MapError> {
    let raw_data = matches!(raw, RawMode::RawData | RawMode::Both).then(|| event.to_string());
    let (mut out, consumed) = build(preset, file, &event)?;
    if matches!(raw, RawMode::Unmapped | RawMode::Both) {
        let mut rest = event;
        for field in &consumed {
            path::take(&mut rest, field);
        }
        if !path::prune(&mut rest) {
            out["unmapped"] = rest;
        }
    }
    if let Some(raw_data) = raw_data {
        out["raw_data"] = Value::String(raw_data);
    }
    Ok(out)
}

/// The OCSF event without `unmapped` and `raw_data`, and the vendor fields it moved.
fn build<'f>(
    preset: &str,
    file: &'f MappingFile,
    event: &Value,
) -> Result<(Value, Vec<&'f str>), MapError> {
    let fail = |field: &str, problem| MapError {
        preset: preset.to_string(),
        field: field.to_string(),
        problem,
    };
    if !event.is_object() {
        return Err(fail("", MapProblem::NotAnObject));
    }
    let Some(rule) = file.events.iter().find(|r| matches(&r.when, event)) else {
        return Err(fail("", MapProblem::NoRule));
    };
    // Vendor fields moved into the OCSF event; what is left goes to `unmapped`.
    let mut consumed: Vec<&str> = Vec::new();
    let mut out = Value::Object(Map::new());

    let found = file.time.iter().find_map(|t| {
        t.field.iter().find_map(|f| {
            path::get(event, f)
                .filter(|v| !v.is_null())
                .map(|v| (f, v, &t.format))
        })
    });
    let Some((time_field, value, format)) = found else {
        let fields: Vec<&str> = file.time.iter().flat_map(|t| t.field.iter()).collect();
        return Err(fail(&fields.join(" or "), MapProblem::MissingTime));
    };
    let time = timefmt::parse_value(value, format).ok_or_else(|| {
        fail(
            time_field,
            MapProblem::BadTime {
                value: short(value),
                format: format!("{format:?}"),
            },
        )
    })?;
    consumed.push(time_field);

    let mut activity_name = None;
    let activity_id = match &rule.activity_id {
        Activity::Fixed(n) => *n,
        Activity::Lookup {
            field,
            map,
            default,
        } => match path::get(event, field).filter(|v| !v.is_null()) {
            Some(v) => {
                consumed.push(field);
                with_text(v, |word| map.get(word).copied()).unwrap_or_else(|| {
                    // OCSF's convention for an activity it has no id for: the source's own
                    // word in `activity_name`.
                    activity_name = Some(text(v));
                    *default
                })
            }
            None => *default,
        },
    };
    // OCSF numbers classes within their category: class 3002 is category 3's.
    let category_uid = rule.class_uid / 1000;
    let mut metadata = json!({
        "product": {"name": file.product.name, "vendor_name": file.product.vendor_name},
        "version": OCSF_VERSION,
    });
    let uid = file
        .uid
        .iter()
        .flat_map(|p| p.iter())
        .find_map(|f| path::get(event, f).filter(|v| !v.is_null()).map(|v| (f, v)));
    if let Some((uid_field, uid)) = uid {
        metadata["uid"] = Value::String(text(uid));
        consumed.push(uid_field);
    }
    out["metadata"] = metadata;
    out["time"] = json!(time.timestamp_millis());
    out["class_uid"] = json!(rule.class_uid);
    out["category_uid"] = json!(category_uid);
    out["activity_id"] = json!(activity_id);
    out["type_uid"] = json!(rule.class_uid * 100 + activity_id);
    if let Some(name) = activity_name {
        out["activity_name"] = Value::String(name);
    }

    out["severity_id"] = json!(1);
    if let Some(lookup) = &file.severity {
        apply_lookup(
            lookup,
            event,
            &mut out,
            ("severity", "severity_id"),
            &mut consumed,
        );
    }
    if let Some(lookup) = &file.status {
        apply_lookup(
            lookup,
            event,
            &mut out,
            ("status", "status_id"),
            &mut consumed,
        );
    }

    copy_all(file.copy.iter(), event, &mut out, &mut consumed).map_err(|(f, p)| fail(f, p))?;
    copy_all(rule.copy.iter(), event, &mut out, &mut consumed).map_err(|(f, p)| fail(f, p))?;
    set_all(&file.set, &mut out);
    set_all(&rule.set, &mut out);
    // From the OCSF attributes only: before the vendor's leftovers join the event.
    super::observables::add(&mut out);
    Ok((out, consumed))
}

/// Whether every condition holds for `event`.
fn matches(when: &Conditions, event: &Value) -> bool {
    match when {
        Conditions::Always => true,
        Conditions::One(c) => holds(c, event),
        Conditions::All(cs) => cs.iter().all(|c| holds(c, event)),
    }
}

fn holds(c: &Condition, event: &Value) -> bool {
    let value = path::get(event, &c.field).filter(|v| !v.is_null());
    if let Some(exists) = c.exists {
        if exists != value.is_some() {
            return false;
        }
    }
    if c.is.is_empty() && c.prefix.is_empty() {
        return true;
    }
    let Some(value) = value else { return false };
    with_text(value, |value| {
        c.is.iter().any(|is| is == value) || c.prefix.iter().any(|p| value.starts_with(p.as_str()))
    })
}

/// `severity_id`/`status_id` from the vendor's word; a word the table lacks is 99 (Other),
/// with the word in `severity`/`status` so nothing is lost.
fn apply_lookup<'a>(
    lookup: &'a Lookup,
    event: &Value,
    out: &mut Value,
    (name, id): (&str, &str),
    consumed: &mut Vec<&'a str>,
) {
    let found = lookup
        .field
        .as_deref()
        .and_then(|f| path::get(event, f).filter(|v| !v.is_null()).map(|v| (f, v)));
    match found {
        Some((field, value)) => {
            consumed.push(field);
            match with_text(value, |word| lookup.map.get(word)) {
                Some(n) => out[id] = json!(n),
                None => {
                    out[id] = json!(99);
                    out[name] = Value::String(text(value));
                }
            }
        }
        None => {
            if let Some(n) = lookup.default {
                out[id] = json!(n);
            }
        }
    }
}

fn copy_all<'a>(
    copies: impl Iterator<Item = (&'a String, &'a Copy)>,
    event: &Value,
    out: &mut Value,
    consumed: &mut Vec<&'a str>,
) -> Result<(), (&'a str, MapProblem)> {
    for (to, copy) in copies {
        let (found, spec) = match copy {
            Copy::Path(p) => (first_present(event, std::iter::once(p.as_str())), None),
            Copy::Spec(s) => (first_present(event, s.from.iter()), Some(s)),
        };
        let Some((field, value)) = found else {
            if let Some(default) = spec.and_then(|s| s.default.clone()) {
                path::set(out, to, default);
            }
            continue;
        };
        let converted = match spec {
            None => value.clone(),
            Some(spec) => convert(spec, value).map_err(|problem| (field, problem))?,
        };
        path::set(out, to, converted);
        if !spec.is_some_and(|s| s.keep) {
            consumed.push(field);
        }
    }
    Ok(())
}

/// The first of `paths` present (and not null) in `event`, with its value.
fn first_present<'p, 'e>(
    event: &'e Value,
    mut paths: impl Iterator<Item = &'p str>,
) -> Option<(&'p str, &'e Value)> {
    paths.find_map(|f| path::get(event, f).filter(|v| !v.is_null()).map(|v| (f, v)))
}

fn convert(spec: &CopySpec, value: &Value) -> Result<Value, MapProblem> {
    if let Some(map) = &spec.map {
        return match (with_text(value, |word| map.get(word)), &spec.default) {
            (Some(v), _) | (None, Some(v)) => Ok(v.clone()),
            (None, None) => Err(MapProblem::NotInMap {
                value: short(value),
            }),
        };
    }
    let bad = |to: &'static str| MapProblem::Convert {
        value: short(value),
        to,
    };
    Ok(match spec.conv {
        Conv::Copy => value.clone(),
        Conv::String => Value::String(text(value)),
        Conv::Integer => match value {
            Value::Number(n) if n.is_i64() => value.clone(),
            Value::Number(n) => {
                json!(n.as_f64().map(|f| f.trunc() as i64).ok_or(bad("integer"))?)
            }
            Value::String(s) => json!(s.trim().parse::<i64>().map_err(|_| bad("integer"))?),
            _ => return Err(bad("integer")),
        },
        Conv::Boolean => match value {
            Value::Bool(_) => value.clone(),
            Value::String(s) if s.eq_ignore_ascii_case("true") => json!(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => json!(false),
            _ => return Err(bad("boolean")),
        },
        Conv::Time => json!(timefmt::parse_value(value, &spec.format)
            .ok_or(bad("time"))?
            .timestamp_millis()),
        Conv::List => match value {
            Value::Array(_) => value.clone(),
            _ => json!([value]),
        },
        Conv::AddressIp | Conv::AddressPort => {
            let address: SocketAddr = value
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or(bad("an address:port"))?;
            match spec.conv {
                Conv::AddressIp => json!(address.ip().to_string()),
                _ => json!(address.port()),
            }
        }
    })
}

fn set_all(set: &std::collections::BTreeMap<String, Value>, out: &mut Value) {
    for (to, value) in set {
        path::set(out, to, value.clone());
    }
}

/// A value as text: a string as it is, anything else as its JSON.
fn text(value: &Value) -> String {
    with_text(value, str::to_string)
}

/// `f` of the value as text, without copying a string (most tested values are strings).
fn with_text<R>(value: &Value, f: impl FnOnce(&str) -> R) -> R {
    match value {
        Value::String(s) => f(s),
        other => f(&other.to_string()),
    }
}

/// A value for an error message, cut so a hostile event cannot fill the log.
fn short(value: &Value) -> String {
    let mut s = value.to_string();
    if s.len() > 80 {
        let cut = (0..=80).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        s.truncate(cut);
        s.push('…');
    }
    s
}
