//! The compiled `vrl` step, and running it over one event.

use std::path::Path;
use std::sync::Arc;

use ::vrl::compiler::runtime::{Runtime, Terminate};
use ::vrl::compiler::{ExpressionError, Program, TargetValue, TimeZone};
use ::vrl::value::{Secrets, Value};
use serde_json::Value as Json;

use super::functions::{self, Databases, Feeds};
use super::program::{self, line_column};
use super::{Origin, Outcome, TestError, VrlConfig};
use crate::transform::geoip::database::Kind as DbKind;
use crate::transform::step::{Problem, Step, Verdict};

/// How long a reason may be: VRL's messages are short, but `abort` takes the program's own.
const MAX_REASON: usize = 512;

/// The compiled `vrl` step.
pub struct Vrl {
    program: Program,
    text: Arc<str>,
    origin: Origin,
    timezone: TimeZone,
}

impl std::fmt::Debug for Vrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vrl").field("origin", &self.origin).finish()
    }
}

impl Vrl {
    /// The step `config` describes: its program read and compiled with the functions over
    /// its databases and feeds, which are loaded (or found loaded) here.
    pub fn build(config: &VrlConfig) -> Result<Vrl, Problem> {
        let (text, origin) = config.program_text()?;
        let own = functions::all(databases(config)?, feeds(config)?);
        let program = program::compile(&text, &origin, own).map_err(|error| {
            let key = match origin {
                Origin::Inline => "source",
                Origin::File(_) => "file",
            };
            Problem::new(key, error.message, error.hint)
        })?;
        Ok(Vrl::new(program, text, origin))
    }

    fn new(program: Program, text: String, origin: Origin) -> Vrl {
        Vrl {
            program,
            text: text.into(),
            origin,
            // Programs run in UTC whatever the host's zone, so a result never depends on
            // where sluice runs. "UTC" is in every time zone database.
            timezone: TimeZone::parse("UTC").unwrap_or_default(),
        }
    }

    /// Runs the program over `event` (which is left as it was).
    pub fn run(&self, event: &Json) -> Outcome {
        let before = super::value::to_vrl(event);
        let mut target = TargetValue {
            value: before.clone(),
            metadata: Value::Object(Default::default()),
            secrets: Secrets::default(),
        };
        // A function of VRL's that panicked on some input would take the pipeline down:
        // the event fails instead (the panic hook has logged where, scrubbed).
        let resolved = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Runtime::default().resolve(&mut target, &self.program, &self.timezone)
        }));
        match resolved {
            Ok(Ok(_)) => {}
            Ok(Err(Terminate::Abort(ExpressionError::Abort { .. }))) => return Outcome::Dropped,
            Ok(Err(terminate)) => return Outcome::Failed(self.reason(&terminate)),
            Err(_) => return Outcome::Failed(
                "the VRL program panicked on this event (a bug in VRL or sluice: please report it)"
                    .to_string(),
            ),
        }
        let after = target.value;
        if after == before {
            return Outcome::Kept;
        }
        match after {
            // `. = null`, `del(.)`: the program removed the event.
            Value::Null => Outcome::Dropped,
            Value::Object(map) if map.is_empty() => Outcome::Dropped,
            Value::Object(_) => match super::value::to_json(after) {
                Ok(json) => Outcome::Changed(json),
                Err(reason) => Outcome::Failed(reason),
            },
            other => Outcome::Failed(format!(
                "the program set `.` to {}, not an object: an event is one JSON object (write fields, e.g. .message = ...)",
                super::value::kind_of(&other)
            )),
        }
    }

    /// Why the program stopped, with where: VRL's message, cut to a bounded length.
    fn reason(&self, terminate: &Terminate) -> String {
        let error = match terminate {
            Terminate::Abort(error) | Terminate::Error(error) => Some(error),
            Terminate::Interrupted => None,
        };
        let span = error.and_then(|error| match error {
            ExpressionError::Abort { span, .. }
            | ExpressionError::Fallible { span }
            | ExpressionError::Missing { span, .. } => Some(*span),
            ExpressionError::Error { labels, .. } => labels
                .iter()
                .find(|label| label.primary)
                .or_else(|| labels.first())
                .map(|label| label.span),
            _ => None,
        });
        let mut reason = match span {
            Some(span) => {
                let (line, column) = line_column(&self.text, span.start());
                format!(
                    "the VRL program failed at {}: {terminate}",
                    self.origin.at(line, column)
                )
            }
            None => format!("the VRL program failed: {terminate}"),
        };
        if reason.len() > MAX_REASON {
            let mut end = MAX_REASON;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            reason.push('…');
        }
        reason
    }
}

impl Step for Vrl {
    fn apply(&self, event: &mut Json) -> Verdict {
        match self.run(event) {
            Outcome::Kept => Verdict::Keep,
            Outcome::Changed(json) => {
                *event = json;
                Verdict::Changed
            }
            Outcome::Dropped => Verdict::Drop,
            Outcome::Failed(reason) => Verdict::Fail(reason),
        }
    }
}

/// The databases of the step's `geoip` table, loaded (or found loaded).
fn databases(config: &VrlConfig) -> Result<Option<Arc<Databases>>, Problem> {
    let Some(table) = &config.geoip else {
        return Ok(None);
    };
    if table.refresh.is_zero() {
        return Err(Problem::new(
            "geoip.refresh",
            "is zero",
            "give how often to look for a changed file, e.g. refresh = \"5m\"",
        ));
    }
    let mut databases = Vec::new();
    for (kind, path) in [
        (DbKind::City, &table.city),
        (DbKind::Asn, &table.asn),
        (DbKind::AnonymousIp, &table.anonymous_ip),
    ] {
        if let Some(path) = path {
            let database = crate::transform::geoip::open(kind, path, table.refresh)
                .map_err(|p| p.under("geoip"))?;
            databases.push((kind, database));
        }
    }
    if databases.is_empty() {
        return Err(Problem::new(
            "geoip",
            "names no database",
            "name at least one MaxMind DB file: geoip = { city = \"GeoLite2-City.mmdb\", asn = \"GeoLite2-ASN.mmdb\" }",
        ));
    }
    Ok(Some(Arc::new(Databases(databases))))
}

/// The feeds of the step's `intel` table, loaded (or found loaded).
fn feeds(config: &VrlConfig) -> Result<Option<Arc<Feeds>>, Problem> {
    let Some(table) = &config.intel else {
        return Ok(None);
    };
    let feeds = crate::transform::intel::load_feeds(&table.feeds, table.refresh)
        .map_err(|p| p.under("intel"))?;
    Ok(Some(Arc::new(Feeds(feeds))))
}

/// `sluice vrl test`: the program in the file `program` (with `step`'s databases and
/// feeds) over the event in `event_text`.
pub fn test_program(
    program: &Path,
    event_text: &str,
    step: Option<&VrlConfig>,
) -> Result<Outcome, TestError> {
    let text = std::fs::read_to_string(program).map_err(|error| {
        TestError::Setup(format!(
            "the program {} cannot be read: {error}",
            program.display()
        ))
    })?;
    let event: Json = serde_json::from_str(event_text)
        .map_err(|error| TestError::Setup(format!("the event is not JSON: {error}")))?;
    if !event.is_object() {
        return Err(TestError::Setup(format!(
            "the event is {}, not a JSON object: give one event's record (the envelope's `data`)",
            crate::transform::field::kind_of(&event)
        )));
    }
    let config = match step {
        Some(step) => step.clone(),
        None => VrlConfig {
            name: None,
            source: None,
            file: None,
            geoip: None,
            intel: None,
        },
    };
    let setup =
        |p: Problem| TestError::Setup(format!("{}: {} (hint: {})", p.path, p.message, p.hint));
    let origin = Origin::File(program.to_path_buf());
    let own = functions::all(
        databases(&config).map_err(setup)?,
        feeds(&config).map_err(setup)?,
    );
    let compiled = program::compile(&text, &origin, own).map_err(|error| TestError::Compile {
        message: format!("{} (hint: {})", error.message, error.hint),
        diagnostic: error.diagnostic,
    })?;
    Ok(Vrl::new(compiled, text, origin).run(&event))
}
