//! `kind = "vrl"`: a program in the Vector Remap Language over each event.
//!
//! The program is given inline (`source`) or in a file (`file`, relative to the config file)
//! and compiled once, when the chain is built (at config load): a compile error is a config
//! error with the program's line and column. Each event's `data` is the program's `.`; what
//! `.` holds when the program ends replaces the event (`Changed` only when it differs),
//! `abort` or a program that empties the event drops it, and a runtime error fails it (to
//! the dead-letter queue). Programs run in UTC, with VRL's standard library less the
//! functions that reach outside the process (environment, host, network), plus `geoip` and
//! `intel_match`, which read the MaxMind databases and intel feeds given in the step's
//! `geoip` and `intel` tables (loaded and reloaded like the `geoip` and `intel` steps', and
//! shared with them when they name the same files).
//!
//! The compiler is behind the cargo feature `vrl`; without it the step's settings still
//! parse, and building the step says to build with the feature.

#[cfg(feature = "vrl")]
mod functions;
#[cfg(feature = "vrl")]
mod program;
#[cfg(feature = "vrl")]
mod run;
#[cfg(all(test, feature = "vrl"))]
mod tests;
#[cfg(feature = "vrl")]
mod value;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::intel::FeedConfig;
use super::step::{Problem, Step};

#[cfg(feature = "vrl")]
pub use run::Vrl;

/// `{ kind = "vrl", source = "..." }` or `{ kind = "vrl", file = "enrich.vrl" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrlConfig {
    /// The step's name in counts, metrics and dead letters; default `vrl#<position>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The program, inline.
    #[serde(default)]
    pub source: Option<String>,
    /// The file that holds the program; a relative path is taken relative to the config file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// The MaxMind databases the program's `geoip` function reads.
    #[serde(default)]
    pub geoip: Option<GeoipTable>,
    /// The intel feeds the program's `intel_match` function reads.
    #[serde(default)]
    pub intel: Option<IntelTable>,
}

/// A `vrl` step's `geoip` table: the databases of the `geoip` function, at least one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoipTable {
    /// A GeoIP2 / GeoLite2 City (or Country) database: `geoip(ip, database: "city")`.
    #[serde(default)]
    pub city: Option<PathBuf>,
    /// A GeoLite2 ASN (or GeoIP2 ISP) database: `geoip(ip, database: "asn")`.
    #[serde(default)]
    pub asn: Option<PathBuf>,
    /// A GeoIP2 Anonymous IP database: `geoip(ip, database: "anonymous_ip")`.
    #[serde(default)]
    pub anonymous_ip: Option<PathBuf>,
    /// How often each file's modification time is looked at; a changed file is loaded again.
    #[serde(default = "default_refresh", with = "humantime_serde")]
    pub refresh: Duration,
}

/// A `vrl` step's `intel` table: the feeds of the `intel_match` function.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelTable {
    /// The feed files, as the `intel` step takes them.
    pub feeds: Vec<FeedConfig>,
    /// How often each feed file's modification time is looked at.
    #[serde(default = "default_refresh", with = "humantime_serde")]
    pub refresh: Duration,
}

fn default_refresh() -> Duration {
    Duration::from_secs(300)
}

/// What to do when the binary has no VRL compiler.
#[cfg(not(feature = "vrl"))]
const BUILD_WITH_VRL: &str = "build sluice with the `vrl` feature (`cargo build --release --features vrl`), or use the other step kinds";

impl VrlConfig {
    /// Takes the program file, the databases and the feeds relative to `base` (the config
    /// file's folder).
    pub fn make_paths_relative_to(&mut self, base: &Path) {
        let mut paths: Vec<&mut PathBuf> = Vec::new();
        paths.extend(self.file.as_mut());
        if let Some(geoip) = &mut self.geoip {
            paths.extend(
                [&mut geoip.city, &mut geoip.asn, &mut geoip.anonymous_ip]
                    .into_iter()
                    .flatten(),
            );
        }
        if let Some(intel) = &mut self.intel {
            paths.extend(intel.feeds.iter_mut().map(|feed| &mut feed.path));
        }
        for path in paths {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }

    /// The program's text and where it comes from (for error locations): the `source`, or
    /// the file read now. `Err` when neither or both are given, or the file cannot be read.
    pub fn program_text(&self) -> Result<(String, Origin), Problem> {
        match (&self.source, &self.file) {
            (Some(source), None) => Ok((source.clone(), Origin::Inline)),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map(|text| (text, Origin::File(file.clone())))
                .map_err(|error| {
                    Problem::new(
                        "file",
                        format!("the program {} cannot be read: {error}", file.display()),
                        "give the path of a VRL program file; a relative path is taken relative to the config file",
                    )
                }),
            (None, None) => Err(Problem::new(
                "source",
                "the step has no program",
                "give the program inline, source = '''...''', or in a file, file = \"enrich.vrl\"",
            )),
            (Some(_), Some(_)) => Err(Problem::new(
                "file",
                "is given beside `source`",
                "give the program either inline (`source`) or in a file (`file`), not both",
            )),
        }
    }

    /// The compiled step: the program read and compiled, its databases and feeds loaded.
    #[cfg(feature = "vrl")]
    pub fn build(&self) -> Result<Box<dyn Step>, Problem> {
        Ok(Box::new(Vrl::build(self)?))
    }

    /// Without the `vrl` feature there is no compiler: the step is refused, saying so.
    #[cfg(not(feature = "vrl"))]
    pub fn build(&self) -> Result<Box<dyn Step>, Problem> {
        Err(Problem::new(
            "kind",
            "this sluice was built without VRL, so `vrl` steps cannot run",
            BUILD_WITH_VRL,
        ))
    }
}

/// Where a program's text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The step's `source` key.
    Inline,
    /// A file.
    File(PathBuf),
}

impl Origin {
    /// Line `line`, column `column` of the program, as an error says it:
    /// `enrich.vrl:3:9`, or `line 3, column 9 of `source`` (which
    /// [`position_in_source`] reads back).
    pub fn at(&self, line: usize, column: usize) -> String {
        match self {
            Origin::Inline => format!("line {line}, column {column} of `source`"),
            Origin::File(path) => format!("{}:{line}:{column}", path.display()),
        }
    }
}

/// The line and column inside an inline program that `message` (a problem of a `vrl`
/// step's `source`) points at, as [`Origin::at`] wrote them; the config loader turns them
/// into the config file's own line and column.
pub fn position_in_source(message: &str) -> Option<(usize, usize)> {
    let end = message.find(" of `source`")?;
    let before = &message[..end];
    let start = before.rfind("line ")?;
    let (line, column) = before[start + "line ".len()..].split_once(", column ")?;
    Some((line.parse().ok()?, column.parse().ok()?))
}

/// What `sluice vrl test` shows: the program at `program` run over the event in
/// `event_text`, with the databases and feeds of `step` (a `vrl` step of the config that
/// reads this file) when given. `Err` is a message for the user: the program does not
/// compile, the event is not a JSON object, or this build has no VRL.
#[cfg(feature = "vrl")]
pub fn test_program(
    program: &Path,
    event_text: &str,
    step: Option<&VrlConfig>,
) -> Result<Outcome, TestError> {
    run::test_program(program, event_text, step)
}

/// Without the `vrl` feature: the error saying to build with it.
#[cfg(not(feature = "vrl"))]
pub fn test_program(
    _program: &Path,
    _event_text: &str,
    _step: Option<&VrlConfig>,
) -> Result<Outcome, TestError> {
    Err(TestError::Setup(format!(
        "this sluice was built without VRL (hint: {BUILD_WITH_VRL})"
    )))
}

/// What `sluice vrl test` could not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestError {
    /// The program, the event or the step cannot be used: nothing ran.
    Setup(String),
    /// The program does not compile: the one-line error and VRL's full diagnostic.
    Compile {
        /// `file:line:column: message`.
        message: String,
        /// VRL's diagnostic, with the program's lines.
        diagnostic: String,
    },
}

/// What a program did to one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The program left the event as it was.
    Kept,
    /// The program changed the event: the new one.
    Changed(serde_json::Value),
    /// The program aborted, or emptied the event.
    Dropped,
    /// The program failed on the event, for this reason.
    Failed(String),
}

#[cfg(all(test, not(feature = "vrl")))]
mod without_vrl {
    use super::*;

    #[test]
    fn a_vrl_step_says_to_build_with_the_feature() {
        let config = VrlConfig {
            name: None,
            source: Some(".a = 1".into()),
            file: None,
            geoip: None,
            intel: None,
        };
        let Err(problem) = config.build() else {
            panic!("built without VRL")
        };
        assert_eq!(problem.path, "kind");
        assert!(problem.hint.contains("--features vrl"), "{problem:?}");
    }
}

#[cfg(test)]
mod origin_tests {
    use super::*;

    #[test]
    fn an_inline_programs_place_is_read_back_from_the_message() {
        let at = Origin::Inline.at(3, 14);
        let message = format!("the program does not compile at {at}: undefined function");
        assert_eq!(position_in_source(&message), Some((3, 14)));
        let file = Origin::File(PathBuf::from("enrich.vrl")).at(3, 14);
        assert_eq!(file, "enrich.vrl:3:14");
        assert_eq!(position_in_source(&format!("failed at {file}")), None);
    }
}
