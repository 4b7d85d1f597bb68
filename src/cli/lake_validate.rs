//! `sluice lake validate --ocsf [--source S] [--sink L] [--schema FILE] [--json]`: every OCSF
//! event a lake holds (the envelope's `ocsf` member, `data` replaced by OCSF, or the bare
//! payload) checked against the compiled OCSF schema by the same validator the tests use,
//! counted per class, with the first problems of each class located by object key and line.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::{load_config, ConfigArg, EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::config::{Config, LakeConfig, SinkConfig};
use crate::sink::lake::scan::{self, Located, Part};
use crate::sink::Payload;
use crate::transform::ocsf::{class_name, Schema};
use crate::transform::OcsfInto;

/// Arguments of `sluice lake validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Validate the OCSF events (the only check so far; required, so later checks can be
    /// added beside it).
    #[arg(long, required = true)]
    ocsf: bool,
    /// The compiled OCSF 1.7.0 schema (the OCSF server's `/export/schema` output).
    #[arg(long, env = "SLUICE_OCSF_SCHEMA")]
    schema: Option<PathBuf>,
    /// The source to validate (default: every source whose events reach a lake as OCSF).
    #[arg(long)]
    source: Option<String>,
    /// The lake sink to validate, when a source writes to several (default: all of them).
    #[arg(long)]
    sink: Option<String>,
    /// Problems shown per class.
    #[arg(long, default_value_t = 5)]
    max_problems: usize,
    /// Print the reports as JSON (one array) instead of lines.
    #[arg(long)]
    json: bool,
}

/// What one (source, lake) holds.
#[derive(Debug, Serialize)]
struct Report {
    source: String,
    sink: String,
    objects: u64,
    events: u64,
    invalid: u64,
    /// By class uid; `null` for events with no readable class.
    classes: Vec<ClassReport>,
}

#[derive(Debug, Default, Serialize)]
struct ClassReport {
    class_uid: Option<i64>,
    class_name: String,
    events: u64,
    invalid: u64,
    /// The first `--max-problems` invalid events.
    problems: Vec<Problem>,
}

#[derive(Debug, Serialize)]
struct Problem {
    key: String,
    line: usize,
    event_id: Option<String>,
    findings: Vec<String>,
}

/// Runs `sluice lake validate`: exit 0 when every event read is valid OCSF, 1 on any invalid
/// event, 2 on a bad config, schema or lake.
pub async fn validate(args: ValidateArgs) -> u8 {
    debug_assert!(args.ocsf, "clap requires --ocsf");
    let Some(schema_path) = &args.schema else {
        crate::errln!("error: no OCSF schema: pass --schema FILE (or set SLUICE_OCSF_SCHEMA) (hint: the compiled schema is the OCSF server's /export/schema output, e.g. ocsf-1.7.0-schema.json)");
        return EXIT_CONFIG;
    };
    let schema = match Schema::load(schema_path) {
        Ok(schema) => schema,
        Err(err) => {
            crate::errln!("error: {err}");
            return EXIT_CONFIG;
        }
    };
    let config = match load_config(&args.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let targets = match targets(&config, &args) {
        Ok(targets) => targets,
        Err(message) => {
            crate::errln!("error: {message}");
            return EXIT_CONFIG;
        }
    };
    let mut reports = Vec::new();
    for (source, lake, part) in targets {
        let mut classes: BTreeMap<Option<i64>, ClassReport> = BTreeMap::new();
        let visit = |located: Located| judge(&schema, located, &mut classes, args.max_problems);
        let objects = match scan::scan(lake, &source, part, visit).await {
            Ok(objects) => objects,
            Err(err) => {
                crate::errln!("error: {err}");
                return EXIT_CONFIG;
            }
        };
        let classes: Vec<ClassReport> = classes.into_values().collect();
        reports.push(Report {
            source,
            sink: lake.name.clone(),
            objects,
            events: classes.iter().map(|c| c.events).sum(),
            invalid: classes.iter().map(|c| c.invalid).sum(),
            classes,
        });
    }
    if args.json {
        // Reports are plain strings and numbers: serializing cannot fail.
        crate::outln!("{}", serde_json::to_string(&reports).unwrap_or_default());
    } else {
        reports.iter().for_each(show);
    }
    if reports.iter().any(|r| r.invalid > 0) {
        EXIT_SOURCE_FAILED
    } else {
        EXIT_OK
    }
}

/// Validates one event and counts it under its class.
fn judge(
    schema: &Schema,
    located: Located,
    classes: &mut BTreeMap<Option<i64>, ClassReport>,
    max_problems: usize,
) {
    let (uid, findings) = match &located.json {
        Ok(event) => {
            let uid = event.get("class_uid").and_then(serde_json::Value::as_i64);
            let findings: Vec<String> = schema
                .validate(event)
                .iter()
                .map(ToString::to_string)
                .collect();
            (uid, findings)
        }
        Err(why) => (None, vec![why.to_string()]),
    };
    let class = classes.entry(uid).or_insert_with(|| ClassReport {
        class_uid: uid,
        class_name: uid.map_or_else(|| "(no class)".to_string(), |u| class_name(u).into_owned()),
        ..ClassReport::default()
    });
    class.events += 1;
    if findings.is_empty() {
        return;
    }
    class.invalid += 1;
    if class.problems.len() < max_problems {
        class.problems.push(Problem {
            key: located.key,
            line: located.line,
            event_id: located.event_id,
            findings,
        });
    }
}

/// The (source, lake, where its OCSF is) triples to validate.
fn targets<'c>(
    config: &'c Config,
    args: &ValidateArgs,
) -> Result<Vec<(String, &'c LakeConfig, Part)>, String> {
    if let Some(source) = &args.source {
        if !config.sources.iter().any(|s| s.name == *source) {
            let known: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
            return Err(format!(
                "--source `{source}` is not in {} (hint: configured sources: {})",
                args.config.config.display(),
                known.join(", ")
            ));
        }
    }
    let mut targets = Vec::new();
    for source in &config.sources {
        if args.source.as_ref().is_some_and(|s| *s != source.name) {
            continue;
        }
        for sink in &config.sinks {
            let SinkConfig::Lake(lake) = sink else {
                continue;
            };
            let named = args.sink.as_ref().is_none_or(|s| *s == lake.name);
            if !named || !source.sinks.contains(&lake.name) {
                continue;
            }
            let part = match (lake.payload, config.ocsf_for(source, &lake.name)?) {
                (Payload::Ocsf, _) => Part::Whole,
                (Payload::Envelope, Some(OcsfInto::Member)) => Part::Member("ocsf"),
                (Payload::Envelope, Some(OcsfInto::Data)) => Part::Member("data"),
                // No OCSF reaches this lake: nothing to validate, unless it was asked for.
                _ if args.source.is_some() && args.sink.is_some() => {
                    return Err(format!(
                        "source `{}` writes no OCSF to lake `{}` (hint: add {{ kind = \"ocsf\", mapping = \"<preset>\", into = \"member\" }} to its transforms)",
                        source.name, lake.name
                    ))
                }
                _ => continue,
            };
            targets.push((source.name.clone(), lake, part));
        }
    }
    if targets.is_empty() {
        return Err(format!(
            "nothing to validate: no source{} writes OCSF to a lake sink{} in {} (hint: a source's or a lake's transforms need an `ocsf` step, and the lake a payload other than \"raw\")",
            args.source.as_ref().map(|s| format!(" `{s}`")).unwrap_or_default(),
            args.sink.as_ref().map(|s| format!(" `{s}`")).unwrap_or_default(),
            args.config.config.display()
        ));
    }
    Ok(targets)
}

/// Prints one report as lines: each class, its first problems, then a summary.
fn show(report: &Report) {
    for class in &report.classes {
        let uid = class
            .class_uid
            .map_or_else(|| "-".to_string(), |u| u.to_string());
        crate::outln!(
            "class {uid} {}: {} events, {} invalid",
            class.class_name,
            class.events,
            class.invalid
        );
        for problem in &class.problems {
            let id = problem
                .event_id
                .as_deref()
                .map(|id| format!(" (event {id})"))
                .unwrap_or_default();
            crate::outln!(
                "  INVALID: {}:{}{id}: {}",
                problem.key,
                problem.line,
                problem.findings.join("; ")
            );
        }
    }
    let verdict = if report.invalid == 0 {
        "valid".to_string()
    } else {
        format!("{} invalid", report.invalid)
    };
    crate::outln!(
        "source `{}`, lake `{}`: {} OCSF events in {} objects: {verdict}",
        report.source,
        report.sink,
        report.events,
        report.objects
    );
}
