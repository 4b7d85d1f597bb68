//! `kind = "parse_time"`: rewrites a time field as RFC 3339 or as epoch milliseconds.

use serde::Deserialize;
use serde_json::Value;

use super::field::{kind_of, FieldPath};
use super::step::{field_path, Problem, Step, Verdict};
use crate::model::TimeFormat;

/// `{ kind = "parse_time", field = "created", format = "epoch_seconds", to = "rfc3339" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseTimeConfig {
    /// The step's name in counts, metrics and dead letters; default `parse_time#<position>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The field holding the time. An event without it (or with null) is kept as it is.
    pub field: String,
    /// How the field writes the time: the time formats of `event_time.format`.
    #[serde(default)]
    pub format: TimeFormat,
    /// What to write.
    #[serde(default)]
    pub to: TimeOutput,
    /// Where to write it; default: over `field`.
    #[serde(default)]
    pub target: Option<String>,
}

/// What `parse_time` writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeOutput {
    /// A string, RFC 3339 UTC with milliseconds: `2026-11-23T10:00:00.123Z`.
    #[default]
    Rfc3339,
    /// A number: milliseconds since the Unix epoch.
    EpochMillis,
}

impl ParseTimeConfig {
    /// The compiled step.
    pub fn build(&self) -> Result<ParseTime, Problem> {
        if let TimeFormat::Strftime(layout) = &self.format {
            crate::timefmt::check_strftime(layout).map_err(|error| {
                Problem::new(
                    "format",
                    error.to_string(),
                    "see https://docs.rs/chrono/latest/chrono/format/strftime/",
                )
            })?;
        }
        let field = field_path("field", &self.field)?;
        let target = match &self.target {
            Some(target) => field_path("target", target)?,
            None => field.clone(),
        };
        Ok(ParseTime {
            field,
            format: self.format.clone(),
            to: self.to,
            target,
        })
    }
}

/// The compiled `parse_time` step.
pub struct ParseTime {
    field: FieldPath,
    format: TimeFormat,
    to: TimeOutput,
    target: FieldPath,
}

impl Step for ParseTime {
    fn apply(&self, event: &mut Value) -> Verdict {
        let value = match self.field.get(event) {
            None | Some(Value::Null) => return Verdict::Keep,
            Some(value) => value,
        };
        let Some(time) = crate::timefmt::parse_value(value, &self.format) else {
            // The value is not quoted: it may be anything, personal data included.
            return Verdict::Fail(format!(
                "field `{}` holds {} that is not a time in the configured format ({})",
                self.field.as_str(),
                kind_of(value),
                format_name(&self.format)
            ));
        };
        let written = match self.to {
            TimeOutput::Rfc3339 => Value::String(crate::timefmt::rfc3339_millis(time)),
            TimeOutput::EpochMillis => Value::from(time.timestamp_millis()),
        };
        if self.target.get(event) == Some(&written) {
            return Verdict::Keep;
        }
        match self.target.put(event, written) {
            Ok(()) => Verdict::Changed,
            Err(reason) => Verdict::Fail(reason.to_string()),
        }
    }
}

/// The format's name as the config writes it.
fn format_name(format: &TimeFormat) -> String {
    match format {
        TimeFormat::Rfc3339 => "rfc3339".into(),
        TimeFormat::EpochSeconds => "epoch_seconds".into(),
        TimeFormat::EpochMillis => "epoch_millis".into(),
        TimeFormat::EpochMicros => "epoch_micros".into(),
        TimeFormat::EpochNanos => "epoch_nanos".into(),
        TimeFormat::Strftime(layout) => format!("strftime `{layout}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(text: &str) -> ParseTime {
        toml::from_str::<ParseTimeConfig>(text)
            .unwrap()
            .build()
            .unwrap()
    }

    #[test]
    fn epoch_seconds_become_rfc3339_in_place() {
        let mut event = json!({"created": 1_700_000_000});
        let verdict = step("field = \"created\"\nformat = \"epoch_seconds\"").apply(&mut event);
        assert_eq!(verdict, Verdict::Changed);
        assert_eq!(event, json!({"created": "2023-11-14T22:13:20.000Z"}));
    }

    #[test]
    fn an_offset_time_becomes_epoch_millis_in_another_field() {
        let mut event = json!({"t": "2023-11-14T23:13:20.5+01:00"});
        let verdict =
            step("field = \"t\"\nto = \"epoch_millis\"\ntarget = \"t_ms\"").apply(&mut event);
        assert_eq!(verdict, Verdict::Changed);
        assert_eq!(
            event,
            json!({"t": "2023-11-14T23:13:20.5+01:00", "t_ms": 1_700_000_000_500_i64})
        );
    }

    #[test]
    fn a_strftime_layout_is_read_as_utc() {
        let mut event = json!({"when": "2023-11-14 22:13:20"});
        let config = "field = \"when\"\nformat = { strftime = \"%Y-%m-%d %H:%M:%S\" }";
        assert_eq!(step(config).apply(&mut event), Verdict::Changed);
        assert_eq!(event["when"], "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn keeps_an_event_without_the_field_or_already_in_form() {
        let mut event = json!({"t": null, "u": "2023-11-14T22:13:20.000Z"});
        assert_eq!(step("field = \"t\"").apply(&mut event), Verdict::Keep);
        assert_eq!(step("field = \"missing\"").apply(&mut event), Verdict::Keep);
        assert_eq!(step("field = \"u\"").apply(&mut event), Verdict::Keep);
    }

    #[test]
    fn fails_on_a_value_that_is_not_a_time_without_quoting_it() {
        let mut event = json!({"t": "alice@example.com"});
        let Verdict::Fail(reason) = step("field = \"t\"").apply(&mut event) else {
            panic!("expected a failure");
        };
        assert!(reason.contains("field `t` holds a string"), "{reason}");
        assert!(reason.contains("rfc3339"), "{reason}");
        assert!(!reason.contains("alice"), "{reason}");
    }

    #[test]
    fn a_bad_layout_is_a_problem_at_format() {
        let problem =
            toml::from_str::<ParseTimeConfig>("field = \"t\"\nformat = { strftime = \"%Q\" }")
                .unwrap()
                .build()
                .err()
                .unwrap();
        assert_eq!(problem.path, "format");
    }
}
