//! The functions a `vrl` step adds to VRL's: `geoip(value, database: "city")` and
//! `intel_match(value)`, over the databases and feeds of the step's `geoip` and `intel`
//! tables.
//!
//! Both take any value and return null for one they cannot look up (not a string, not an
//! address) or that nothing matches, so a program calls them without error handling, as it
//! would read a field that may be missing. Calling one whose table the step lacks, or
//! naming a database it was not given, is a compile error.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ::vrl::compiler::prelude::*;
use ::vrl::diagnostic::Label;
use serde_json::Value as Json;

use crate::transform::geoip::database::{Database, Kind as DbKind};
use crate::transform::intel::{self, Feed};
use crate::transform::reload::Reloading;

/// The databases of a step's `geoip` table, by kind.
pub struct Databases(pub Vec<(DbKind, Reloading<Database>)>);

/// The feeds of a step's `intel` table.
pub struct Feeds(pub Vec<Feed>);

/// The step's own functions.
pub fn all(databases: Option<Arc<Databases>>, feeds: Option<Arc<Feeds>>) -> Vec<Box<dyn Function>> {
    vec![
        Box::new(Geoip { databases }),
        Box::new(IntelMatch { feeds }),
    ]
}

/// A compile error of a call to one of these functions that cannot work in this step.
#[derive(Debug)]
struct Unavailable {
    message: String,
    span: Span,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Unavailable {}

impl DiagnosticMessage for Unavailable {
    fn code(&self) -> usize {
        // Not one of VRL's own errors, so none of its codes.
        0
    }

    fn labels(&self) -> Vec<Label> {
        vec![Label::primary(self.message.clone(), self.span)]
    }
}

fn unavailable(ctx: &FunctionCompileContext, message: String) -> Box<dyn DiagnosticMessage> {
    Box::new(Unavailable {
        message,
        span: ctx.span(),
    })
}

/// The text of `value` when it is a string.
fn text(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    value.to_str_lossy()
}

/// A JSON object of what was found, as a VRL value.
fn from_map(map: serde_json::Map<String, Json>) -> Value {
    super::value::to_vrl(&Json::Object(map))
}

// ----------------------------------------------------------------------------- geoip

const DATABASES: &[(&str, DbKind)] = &[
    ("city", DbKind::City),
    ("asn", DbKind::Asn),
    ("anonymous_ip", DbKind::AnonymousIp),
];

#[derive(Clone)]
struct Geoip {
    databases: Option<Arc<Databases>>,
}

impl fmt::Debug for Geoip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("geoip")
    }
}

impl Function for Geoip {
    fn identifier(&self) -> &'static str {
        "geoip"
    }

    fn usage(&self) -> &'static str {
        "Looks an IP address up in the step's MaxMind databases: the OCSF `location` (city), `autonomous_system` (asn) or the anonymous IP flags that are set (anonymous_ip); without `database`, an object of each database's answer. Null for a value that is not an address, or one no database knows."
    }

    fn category(&self) -> &'static str {
        "Enrichment"
    }

    fn return_kind(&self) -> u16 {
        kind::OBJECT | kind::NULL
    }

    fn parameters(&self) -> &'static [Parameter] {
        const PARAMETERS: &[Parameter] = &[
            Parameter::required("value", kind::ANY, "The IP address to look up."),
            Parameter::optional(
                "database",
                kind::BYTES,
                "Which database: city, asn or anonymous_ip.",
            ),
        ];
        PARAMETERS
    }

    fn examples(&self) -> &'static [Example] {
        &[]
    }

    fn compile(
        &self,
        state: &TypeState,
        ctx: &mut FunctionCompileContext,
        arguments: ArgumentList,
    ) -> Compiled {
        let Some(databases) = self.databases.clone() else {
            return Err(unavailable(
                ctx,
                "this step has no GeoIP database: give it a `geoip` table, e.g. geoip = { city = \"GeoLite2-City.mmdb\" }".into(),
            ));
        };
        let value = arguments.required("value");
        let names: Vec<Value> = DATABASES
            .iter()
            .map(|(name, _)| Value::from(*name))
            .collect();
        let database = match arguments.optional_enum("database", &names, state)? {
            None => None,
            Some(name) => {
                let name = name
                    .to_str_lossy()
                    .map(|s| s.into_owned())
                    .unwrap_or_default();
                let kind = DATABASES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, kind)| *kind);
                let Some(index) =
                    kind.and_then(|kind| databases.0.iter().position(|(k, _)| *k == kind))
                else {
                    return Err(unavailable(
                        ctx,
                        format!("the step's `geoip` table has no `{name}` database: add {name} = \"<file>.mmdb\" to it"),
                    ));
                };
                Some(index)
            }
        };
        Ok(GeoipCall {
            value,
            databases,
            database,
        }
        .as_expr())
    }
}

#[derive(Clone)]
struct GeoipCall {
    value: Box<dyn Expression>,
    databases: Arc<Databases>,
    /// The one database asked for (its index), or all.
    database: Option<usize>,
}

impl fmt::Debug for GeoipCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("geoip(...)")
    }
}

impl FunctionExpression for GeoipCall {
    fn resolve(&self, ctx: &mut Context) -> Resolved {
        let value = self.value.resolve(ctx)?;
        let Some(ip) = text(&value).and_then(|t| t.trim().parse::<IpAddr>().ok()) else {
            return Ok(Value::Null);
        };
        let failed = |error: crate::transform::geoip::GeoipError| -> ExpressionError {
            format!("the GeoIP database cannot read the record of the address: {error}").into()
        };
        match self.database {
            Some(index) => {
                let database = self.databases.0[index].1.current();
                Ok(database
                    .lookup(ip)
                    .map_err(failed)?
                    .map_or(Value::Null, from_map))
            }
            None => {
                let current: Vec<Arc<Database>> = self
                    .databases
                    .0
                    .iter()
                    .map(|(_, db)| db.current())
                    .collect();
                let found = crate::transform::geoip::lookup_all(&current, ip).map_err(failed)?;
                Ok(if found.is_empty() {
                    Value::Null
                } else {
                    from_map(found)
                })
            }
        }
    }

    fn type_def(&self, _: &TypeState) -> TypeDef {
        TypeDef::object(Collection::any()).or_null().infallible()
    }
}

// ----------------------------------------------------------------------------- intel_match

#[derive(Clone)]
struct IntelMatch {
    feeds: Option<Arc<Feeds>>,
}

impl fmt::Debug for IntelMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("intel_match")
    }
}

impl Function for IntelMatch {
    fn identifier(&self) -> &'static str {
        "intel_match"
    }

    fn usage(&self) -> &'static str {
        "Looks a value (an address, domain, URL, email address or file hash) up in the step's intel feeds: an array of one object per feed that matches (feed, indicator, indicator_type, confidence), or null when none does."
    }

    fn category(&self) -> &'static str {
        "Enrichment"
    }

    fn return_kind(&self) -> u16 {
        kind::ARRAY | kind::NULL
    }

    fn parameters(&self) -> &'static [Parameter] {
        const PARAMETERS: &[Parameter] = &[Parameter::required(
            "value",
            kind::ANY,
            "The value to look up.",
        )];
        PARAMETERS
    }

    fn examples(&self) -> &'static [Example] {
        &[]
    }

    fn compile(
        &self,
        _state: &TypeState,
        ctx: &mut FunctionCompileContext,
        arguments: ArgumentList,
    ) -> Compiled {
        let Some(feeds) = self.feeds.clone() else {
            return Err(unavailable(
                ctx,
                "this step has no intel feed: give it an `intel` table, e.g. intel = { feeds = [{ path = \"bad-ips.txt\" }] }".into(),
            ));
        };
        Ok(IntelCall {
            value: arguments.required("value"),
            feeds,
        }
        .as_expr())
    }
}

#[derive(Clone)]
struct IntelCall {
    value: Box<dyn Expression>,
    feeds: Arc<Feeds>,
}

impl fmt::Debug for IntelCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("intel_match(...)")
    }
}

impl FunctionExpression for IntelCall {
    fn resolve(&self, ctx: &mut Context) -> Resolved {
        let value = self.value.resolve(ctx)?;
        let Some(text) = text(&value) else {
            return Ok(Value::Null);
        };
        let found = intel::matches_in(&self.feeds.0, &text);
        if found.is_empty() {
            return Ok(Value::Null);
        }
        Ok(Value::Array(
            found.iter().map(|m| from_map(m.data())).collect(),
        ))
    }

    fn type_def(&self, _: &TypeState) -> TypeDef {
        TypeDef::array(Collection::any()).or_null().infallible()
    }
}
