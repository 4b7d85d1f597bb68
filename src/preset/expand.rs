//! Turning a `[[sources]]` table that names a preset into the source tables it stands for.

use std::collections::BTreeMap;

use super::{closest, merge_tables, Preset};

/// Keys of a `[[sources]]` table (fields of `config::SourceConfig`). A user's key that is
/// neither one of these nor a setting of the preset is reported with the closest names; the
/// `source_keys_match_the_source_config` test keeps this list in step with the struct.
pub const SOURCE_KEYS: &[&str] = &[
    "name",
    "base_url",
    "method",
    "path",
    "query",
    "headers",
    "body",
    "next_body",
    "next_path",
    "page_size",
    "auth",
    "pagination",
    "order",
    "records_path",
    "files",
    "records_missing",
    "records_shape",
    "event_time",
    "event_id",
    "window",
    "http",
    "rate_limit",
    "circuit_breaker",
    "workers",
    "sinks",
    "schedule",
    "max_silence",
    "canary",
    "retain",
    "transforms",
];

/// The user key that selects a multi-stream preset's streams.
const STREAMS_KEY: &str = "streams";

/// Why a source table naming a preset cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetError {
    /// The key in the source table the problem is about (`domain`, `streams`, `auth`).
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// What to do, ending with the preset's docs page.
    pub hint: String,
}

/// Expands `user` (a `[[sources]]` table with its `connector` key already removed) into one
/// table per selected stream of `preset`: the preset's spec, the stream's keys, the chosen
/// credential variant, the settings substituted for `{{name}}`, then the user's own source
/// keys over all of it (so any key of the spec can still be overridden).
pub fn expand(preset: &Preset, mut user: toml::Table) -> Result<Vec<toml::Table>, PresetError> {
    let about = &preset.preset;
    let docs = format!("see {} for its settings", about.docs);
    let err = |key: &str, message: String, hint: String| PresetError {
        key: key.to_string(),
        message,
        hint,
    };
    let declared = preset.settings_by_name();

    // Split the user's keys into preset settings and ordinary source keys.
    let selection = user.remove(STREAMS_KEY);
    let mut given: BTreeMap<String, toml::Value> = BTreeMap::new();
    let mut own = toml::Table::new();
    for (key, value) in user {
        if declared.contains_key(key.as_str()) {
            given.insert(key, value);
        } else if SOURCE_KEYS.contains(&key.as_str()) {
            own.insert(key, value);
        } else {
            let candidates = declared.keys().copied().chain(SOURCE_KEYS.iter().copied());
            let near = closest(&key, candidates);
            let mean = if near.is_empty() {
                String::new()
            } else {
                format!("did you mean `{}`? ", near.join("`, `"))
            };
            let settings: Vec<&str> = declared.keys().copied().collect();
            return Err(err(
                &key,
                format!("the {} connector takes no setting `{key}`", about.name),
                format!("{mean}its settings are {}; {docs}", settings.join(", ")),
            ));
        }
    }
    for setting in &preset.settings {
        if setting.required && !given.contains_key(&setting.name) {
            return Err(err(
                &setting.name,
                format!(
                    "the {} connector needs `{}`: {}",
                    about.name, setting.name, setting.help
                ),
                format!(
                    "add {} = \"{}\" to this source; {docs}",
                    setting.name,
                    setting.example.as_deref().unwrap_or("...")
                ),
            ));
        }
    }

    // The credential: the user's own `auth` table wins; else the first complete variant.
    let auth = if own.contains_key("auth") || preset.auth.is_empty() {
        None
    } else {
        let chosen = preset
            .auth
            .iter()
            .find(|v| v.requires.iter().all(|r| given.contains_key(r)));
        match chosen {
            Some(variant) => Some(variant.spec.clone()),
            None => {
                let ways: Vec<String> = preset
                    .auth
                    .iter()
                    .map(|v| format!("{} ({})", v.requires.join(" + "), v.help))
                    .collect();
                return Err(err(
                    "auth",
                    format!("the {} connector needs a credential", about.name),
                    format!("give {}; {docs}", ways.join(", or ")),
                ));
            }
        }
    };

    let streams = select_streams(preset, selection.as_ref())
        .map_err(|(message, hint)| err(STREAMS_KEY, message, format!("{hint}; {docs}")))?;

    let mut values = given;
    for setting in &preset.settings {
        if let (false, Some(default)) = (values.contains_key(&setting.name), &setting.default) {
            let mut default = default.clone();
            // A default may be written from settings listed before it: Auth0's API is at
            // "https://{{domain}}" unless the user points it elsewhere.
            if let toml::Value::String(text) = &mut default {
                *text = interpolate(text, &values, &declared).map_err(|message| {
                    err(
                        &setting.name,
                        format!(
                            "the built-in {} connector is inconsistent: {message}",
                            about.name
                        ),
                        "this is a defect in Sluice; please report it".into(),
                    )
                })?;
            }
            values.insert(setting.name.clone(), default);
        }
    }
    let base_name = own
        .get("name")
        .and_then(toml::Value::as_str)
        .unwrap_or(&about.name)
        .to_string();

    let mut tables = Vec::new();
    for stream in streams {
        let mut table = preset.spec.clone();
        let mut name = base_name.clone();
        if let Some(stream) = stream {
            table = merge_tables(table, stream.spec.clone());
            name = format!("{base_name}-{}", stream.name);
        }
        if let Some(auth) = &auth {
            table.insert("auth".into(), toml::Value::Table(auth.clone()));
        }
        let mut value = toml::Value::Table(table);
        substitute(&mut value, &values, &declared).map_err(|message| {
            err(
                "connector",
                format!(
                    "the built-in {} connector is inconsistent: {message}",
                    about.name
                ),
                "this is a defect in Sluice; please report it".into(),
            )
        })?;
        let toml::Value::Table(table) = value else {
            unreachable!("substitution keeps a table a table");
        };
        let mut table = merge_tables(table, own.clone());
        table.insert("name".into(), toml::Value::String(name));
        tables.push(table);
    }
    Ok(tables)
}

/// The streams to expand: `None` for a single-feed preset, else the user's selection (or the
/// default streams).
fn select_streams<'p>(
    preset: &'p Preset,
    selection: Option<&toml::Value>,
) -> Result<Vec<Option<&'p super::Stream>>, (String, String)> {
    let name = &preset.preset.name;
    let all: Vec<&str> = preset.streams.iter().map(|s| s.name.as_str()).collect();
    let Some(selection) = selection else {
        if preset.streams.is_empty() {
            return Ok(vec![None]);
        }
        return Ok(preset
            .streams
            .iter()
            .filter(|s| s.default)
            .map(Some)
            .collect());
    };
    if preset.streams.is_empty() {
        return Err((
            format!("the {name} connector has a single stream"),
            "remove `streams`".into(),
        ));
    }
    let list = selection
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            (
                "must be a non-empty list of stream names".to_string(),
                format!("write streams = [\"{}\"]", all.join("\", \"")),
            )
        })?;
    let mut chosen = Vec::new();
    for item in list {
        let wanted = item.as_str().unwrap_or_default();
        match preset.streams.iter().find(|s| s.name == wanted) {
            Some(stream)
                if !chosen
                    .iter()
                    .any(|c: &Option<&super::Stream>| c.is_some_and(|c| c.name == wanted)) =>
            {
                chosen.push(Some(stream))
            }
            Some(_) => {
                return Err((
                    format!("stream `{wanted}` is listed twice"),
                    "list each stream once".into(),
                ))
            }
            None => {
                return Err((
                    format!("the {name} connector has no stream `{item}`"),
                    format!("its streams are {}", all.join(", ")),
                ))
            }
        }
    }
    Ok(chosen)
}

/// Replaces `{{setting}}` in every string of `value`. A string that is exactly one
/// placeholder takes the setting's value with its type (a number stays a number) and is
/// removed when an optional setting has no value; inside longer text the value is written as
/// text. A placeholder naming no declared setting is an error.
fn substitute(
    value: &mut toml::Value,
    values: &BTreeMap<String, toml::Value>,
    declared: &BTreeMap<&str, &super::Setting>,
) -> Result<bool, String> {
    match value {
        toml::Value::Table(table) => {
            let keys: Vec<String> = table.keys().cloned().collect();
            for key in keys {
                // The key was just listed from the table, so it is present.
                let keep = substitute(table.get_mut(&key).expect("listed key"), values, declared)?;
                if !keep {
                    table.remove(&key);
                }
            }
        }
        toml::Value::Array(items) => {
            let mut kept = Vec::with_capacity(items.len());
            for mut item in std::mem::take(items) {
                if substitute(&mut item, values, declared)? {
                    kept.push(item);
                }
            }
            *items = kept;
        }
        toml::Value::String(text) => {
            if let Some(name) = sole_placeholder(text) {
                if !declared.contains_key(name) {
                    return Err(format!("`{{{{{name}}}}}` names no setting"));
                }
                match values.get(name) {
                    Some(v) => *value = v.clone(),
                    None => return Ok(false),
                }
                return Ok(true);
            }
            *text = interpolate(text, values, declared)?;
        }
        _ => {}
    }
    Ok(true)
}

fn sole_placeholder(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains('{') && !inner.contains('}')).then_some(inner.trim())
}

fn interpolate(
    text: &str,
    values: &BTreeMap<String, toml::Value>,
    declared: &BTreeMap<&str, &super::Setting>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| format!("unclosed `{{{{` in `{text}`"))?;
        let name = after[..close].trim();
        if !declared.contains_key(name) {
            return Err(format!("`{{{{{name}}}}}` names no setting"));
        }
        match values.get(name) {
            Some(toml::Value::String(s)) => out.push_str(s),
            Some(other) => out.push_str(&other.to_string()),
            None => {}
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests;
