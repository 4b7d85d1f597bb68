//! The mapping file format (`presets/ocsf/<preset>.toml`): how one vendor's events become
//! OCSF events, as data. Read top to bottom:
//!
//! ```toml
//! product = { name = "Okta System Log", vendor_name = "Okta" }   # → metadata.product
//!
//! uid = "uuid"                   # the vendor's event id → metadata.uid
//! time = { field = "published", format = "rfc3339" }   # → time (ms); any TimeFormat
//! severity = { field = "severity", map = { INFO = 1, WARN = 3 }, default = 1 }
//! status = { field = "outcome.result", map = { SUCCESS = 1, FAILURE = 2 } }
//!
//! [copy]                         # for every event: OCSF path = vendor path (or a table)
//! "src_endpoint.ip" = "client.ipAddress"
//! "actor.user.email_addr" = { from = ["actor.email", "actor.login"], as = "string" }
//!
//! [[events]]                     # rules, first match wins; the last has no `when`
//! when = { field = "eventType", is = ["user.session.start"] }
//! class_uid = 3002
//! activity_id = 1             # or { field = "action", map = { add = 1 }, default = 99 }
//! copy = { "user.uid" = "actor.id" }
//! set = { "auth_protocol_id" = 99 }
//! ```
//!
//! A copy's table form: `from` (one path, or several of which the first present is used),
//! `as` (`copy`, `string`, `integer`, `boolean`, `time` with `format`, `list`, `address_ip`,
//! `address_port`), `map` (vendor
//! value → OCSF value, with `default` for the others) and `keep = true` to leave the vendor
//! field in `unmapped` as well. Every vendor field a copy reads leaves `unmapped`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::model::TimeFormat;

/// One mapping file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MappingFile {
    pub product: Product,
    /// The vendor's event id, copied to `metadata.uid` (as a string); of several paths the
    /// first present.
    pub uid: Option<Paths>,
    /// Where the time is: one table, or several (streams that write it differently), the
    /// first whose field is present used.
    pub time: Times,
    pub severity: Option<Lookup>,
    pub status: Option<Lookup>,
    /// Copies made for every event, before the rule's own.
    #[serde(default)]
    pub copy: BTreeMap<String, Copy>,
    /// Constants set on every event, before the rule's own.
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
    /// The rules choosing class and activity, first match wins.
    pub events: Vec<Rule>,
}

/// `metadata.product`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Product {
    pub name: String,
    pub vendor_name: String,
}

/// One time table or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Times {
    One(TimeField),
    First(Vec<TimeField>),
}

impl Times {
    pub fn iter(&self) -> impl Iterator<Item = &TimeField> {
        match self {
            Times::One(t) => std::slice::from_ref(t).iter(),
            Times::First(ts) => ts.iter(),
        }
    }
}

/// Where the event's time is, and how it is written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TimeField {
    /// Of several paths (a preset whose streams name the time differently) the first present.
    pub field: Paths,
    #[serde(default)]
    pub format: TimeFormat,
}

/// A vendor field looked up in a table of OCSF enum ids (`severity_id`, `status_id`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Lookup {
    /// Absent: every event gets `default`.
    pub field: Option<String>,
    #[serde(default)]
    pub map: BTreeMap<String, i64>,
    /// The id when the field is absent; a value the map lacks becomes 99 (Other) with the
    /// vendor's word in the sibling string attribute.
    pub default: Option<i64>,
}

/// One rule: which events, and the class and activity they get.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Rule {
    /// All conditions must hold; none matches every event.
    #[serde(default)]
    pub when: Conditions,
    pub class_uid: i64,
    /// A number, or a lookup of a vendor field (`{ field, map, default }`).
    pub activity_id: Activity,
    #[serde(default)]
    pub copy: BTreeMap<String, Copy>,
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
}

/// A rule's activity: fixed, or looked up from a vendor field.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Activity {
    Fixed(i64),
    Lookup {
        field: String,
        map: BTreeMap<String, i64>,
        /// For a value the map lacks, or an absent field (usually 99, Other).
        default: i64,
    },
}

/// One condition or a list of them.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
pub(super) enum Conditions {
    #[default]
    Always,
    One(Condition),
    All(Vec<Condition>),
}

/// A test of one vendor field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Condition {
    pub field: String,
    /// The field's value (numbers compared as their text) is one of these.
    #[serde(default)]
    pub is: Vec<String>,
    /// The field's value starts with one of these.
    #[serde(default)]
    pub prefix: Vec<String>,
    /// The field is present and not null (true) or absent or null (false).
    pub exists: Option<bool>,
}

/// A copy from the vendor's event into the OCSF event.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Copy {
    Path(String),
    Spec(CopySpec),
}

/// The table form of a copy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CopySpec {
    pub from: Paths,
    #[serde(rename = "as", default)]
    pub conv: Conv,
    /// For `as = "time"`.
    #[serde(default)]
    pub format: TimeFormat,
    pub map: Option<BTreeMap<String, Value>>,
    pub default: Option<Value>,
    /// Leave the vendor field in `unmapped` too.
    #[serde(default)]
    pub keep: bool,
}

/// One vendor path or several, the first present used.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Paths {
    One(String),
    First(Vec<String>),
}

impl Paths {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        match self {
            Paths::One(p) => std::slice::from_ref(p).iter(),
            Paths::First(ps) => ps.iter(),
        }
        .map(String::as_str)
    }
}

/// How a copied value is converted.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Conv {
    /// As it is.
    #[default]
    Copy,
    /// Text: strings as they are, numbers and booleans written out, others as JSON.
    String,
    /// An integer, from a number or a numeric string.
    Integer,
    /// A boolean, from a boolean or `"true"`/`"false"`.
    Boolean,
    /// Milliseconds since the epoch, from a time in `format`.
    Time,
    /// An array: the value itself if it is one, else a one-element array.
    List,
    /// The IP address of an `address:port` text (`[v6]:port` for IPv6).
    AddressIp,
    /// The port of an `address:port` text.
    AddressPort,
}
