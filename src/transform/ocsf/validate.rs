//! Checks an OCSF event against the compiled OCSF schema (the JSON the OCSF server exports,
//! e.g. `ocsf-1.7.0-schema.json`): the class and category exist and agree, `type_uid` is
//! `class_uid * 100 + activity_id`, required attributes are present, every value has its
//! attribute's type (objects recursively, arrays element by element), enum values are among
//! the allowed ones, and no attribute is one the class or object does not define. Every
//! finding is returned, each with its JSON path.
//!
//! Types are checked by their JSON kind (and `port_t`'s range, `ip_t` as an address);
//! the schema's other regular expressions (email, hostname) are not applied. The schema's
//! `at_least_one`/`just_one` constraints are not checked.
//!
//! Profiles: the compiled schema marks an attribute with a profile both when only the profile
//! adds it (`cloud`) and when the class defines it too (API Activity's `actor` and `api`, which
//! the host and cloud profiles also add), so an attribute a profile marks is always allowed.
//! A required one is required when the class requires it more strongly than the profile does
//! (then the class defines it), or when `metadata.profiles` names the profile.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

/// The compiled schema, loaded once.
#[derive(Debug, Deserialize)]
pub struct Schema {
    /// The schema's version, e.g. `1.7.0`.
    pub version: String,
    classes: HashMap<String, Class>,
    objects: HashMap<String, Object>,
    types: HashMap<String, Type>,
    categories: HashMap<String, Category>,
    #[serde(default)]
    profiles: HashMap<String, Profile>,
}

#[derive(Debug, Deserialize)]
struct Profile {
    attributes: HashMap<String, ProfileAttribute>,
}

#[derive(Debug, Deserialize)]
struct ProfileAttribute {
    requirement: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Class {
    uid: i64,
    category: Option<String>,
    attributes: HashMap<String, Attribute>,
}

#[derive(Debug, Deserialize)]
struct Object {
    attributes: HashMap<String, Attribute>,
}

#[derive(Debug, Deserialize)]
struct Attribute {
    #[serde(rename = "type")]
    kind: String,
    requirement: Option<String>,
    #[serde(default)]
    is_array: bool,
    #[serde(rename = "enum")]
    values: Option<HashMap<String, Value>>,
    profile: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Type {
    /// The primitive a named type refines (`port_t` → `integer_t`).
    #[serde(rename = "type")]
    base: Option<String>,
    range: Option<(i64, i64)>,
}

#[derive(Debug, Deserialize)]
struct Category {
    uid: i64,
}

/// The schema file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// Reading the file failed.
    #[error("cannot read the OCSF schema {}: {source} (hint: export it from the OCSF server, `/export/schema`)", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a compiled OCSF schema.
    #[error("{} is not a compiled OCSF schema: {source} (hint: use the OCSF server's `/export/schema` output)", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

/// One problem with an event: where (a JSON path such as `actor.user.uid` or
/// `web_resources[0].name`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The JSON path of the attribute at fault (empty for the event itself).
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

impl Schema {
    /// Reads the compiled schema at `path`.
    pub fn load(path: &Path) -> Result<Schema, SchemaError> {
        let text = std::fs::read(path).map_err(|source| SchemaError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|source| SchemaError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Every problem with `event`; empty when it is a valid event of its class.
    pub fn validate(&self, event: &Value) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut find = |path: &str, problem: String| {
            out.push(Finding {
                path: path.to_string(),
                problem,
            })
        };
        let Some(fields) = event.as_object() else {
            find("", "the event is not a JSON object".to_string());
            return out;
        };
        let Some(class_uid) = fields.get("class_uid").and_then(Value::as_i64) else {
            find("class_uid", "missing or not an integer".to_string());
            return out;
        };
        let Some(class) = self.classes.values().find(|c| c.uid == class_uid) else {
            find(
                "class_uid",
                format!("{class_uid} is no class of OCSF {}", self.version),
            );
            return out;
        };
        let category = class
            .category
            .as_deref()
            .and_then(|c| self.categories.get(c));
        if let (Some(category), Some(found)) =
            (category, fields.get("category_uid").and_then(Value::as_i64))
        {
            if category.uid != found {
                find(
                    "category_uid",
                    format!(
                        "{found}, but class {class_uid} belongs to category {}",
                        category.uid
                    ),
                );
            }
        }
        let activity = fields.get("activity_id").and_then(Value::as_i64);
        let type_uid = fields.get("type_uid").and_then(Value::as_i64);
        if let (Some(activity), Some(type_uid)) = (activity, type_uid) {
            let expected = class_uid * 100 + activity;
            if type_uid != expected {
                find(
                    "type_uid",
                    format!("{type_uid}, but class_uid * 100 + activity_id is {expected}"),
                );
            }
        }
        let profiles: Vec<&str> = fields
            .get("metadata")
            .and_then(|m| m.get("profiles"))
            .and_then(Value::as_array)
            .map(|ps| ps.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let walk = Walk {
            schema: self,
            profiles,
        };
        walk.object("", &class.attributes, fields, &mut out);
        out
    }
}

/// One event's walk: the schema and the profiles the event declares.
struct Walk<'a> {
    schema: &'a Schema,
    profiles: Vec<&'a str>,
}

impl Walk<'_> {
    /// Whether a required `attribute` (named `name`) must be present in this event.
    fn demanded(&self, name: &str, attribute: &Attribute) -> bool {
        let Some(profile) = attribute.profile.as_deref() else {
            return true;
        };
        if self.profiles.contains(&profile) {
            return true;
        }
        // The class requires it more strongly than the profile: the class defines it.
        let by_profile = self
            .schema
            .profiles
            .get(profile)
            .and_then(|p| p.attributes.get(name))
            .and_then(|a| a.requirement.as_deref());
        by_profile != Some("required")
    }

    fn object(
        &self,
        at: &str,
        attributes: &HashMap<String, Attribute>,
        fields: &Map<String, Value>,
        out: &mut Vec<Finding>,
    ) {
        let mut find = |path: String, problem: String| out.push(Finding { path, problem });
        for (name, attribute) in attributes {
            let required = attribute.requirement.as_deref() == Some("required");
            let absent = fields.get(name).is_none_or(Value::is_null);
            if required && absent && self.demanded(name, attribute) {
                find(join(at, name), "required attribute missing".to_string());
            }
        }
        // Sorted, so findings come in a stable order.
        let mut names: Vec<&String> = fields.keys().collect();
        names.sort();
        for name in names {
            let path = join(at, name);
            let value = &fields[name];
            let Some(attribute) = attributes.get(name) else {
                out.push(Finding {
                    path,
                    problem: "attribute not defined here by the schema".to_string(),
                });
                continue;
            };
            if value.is_null() {
                continue;
            }
            if attribute.is_array {
                match value {
                    Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            self.value(&format!("{path}[{i}]"), attribute, item, out);
                        }
                    }
                    _ => out.push(Finding {
                        path,
                        problem: format!(
                            "expected an array of {}, found {}",
                            attribute.kind,
                            kind(value)
                        ),
                    }),
                }
            } else {
                self.value(&path, attribute, value, out);
            }
        }
    }

    fn value(&self, path: &str, attribute: &Attribute, value: &Value, out: &mut Vec<Finding>) {
        let mut find = |problem: String| {
            out.push(Finding {
                path: path.to_string(),
                problem,
            })
        };
        let name = attribute.kind.as_str();
        if let Some(primitive) = self.schema.types.get(name) {
            let base = primitive.base.as_deref().unwrap_or(name);
            if let Some(problem) = primitive_problem(name, base, primitive.range, value) {
                find(problem);
                return;
            }
            if let Some(values) = &attribute.values {
                let key = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if !values.contains_key(&key) {
                    let mut allowed: Vec<&String> = values.keys().collect();
                    allowed.sort();
                    find(format!("{key} is not among the allowed values {allowed:?}"));
                }
            }
            return;
        }
        if name == "object" {
            if !value.is_object() {
                find(format!("expected an object, found {}", kind(value)));
            }
            return;
        }
        let Some(object) = self.schema.objects.get(name) else {
            find(format!("the schema has no type or object `{name}`"));
            return;
        };
        match value {
            Value::Object(fields) => self.object(path, &object.attributes, fields, out),
            other => find(format!("expected a `{name}` object, found {}", kind(other))),
        }
    }
}

/// Why `value` is not of primitive type `name` (refining `base`), if it is not.
fn primitive_problem(
    name: &str,
    base: &str,
    range: Option<(i64, i64)>,
    value: &Value,
) -> Option<String> {
    let ok = match base {
        "string_t" => value.is_string(),
        "integer_t" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "long_t" | "timestamp_t" => value.is_i64() || value.is_u64(),
        "float_t" => value.is_number(),
        "boolean_t" => value.is_boolean(),
        // json_t holds anything.
        _ => true,
    };
    if !ok {
        return Some(format!("expected {name}, found {}", kind(value)));
    }
    if let (Some((low, high)), Some(n)) = (range, value.as_i64()) {
        if n < low || n > high {
            return Some(format!("{n} is outside {name}'s range {low}..={high}"));
        }
    }
    if name == "ip_t" {
        let s = value.as_str().unwrap_or_default();
        if s.parse::<IpAddr>().is_err() {
            return Some(format!("{s:?} is not an IP address"));
        }
    }
    None
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a float",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn join(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_string()
    } else {
        format!("{at}.{name}")
    }
}
