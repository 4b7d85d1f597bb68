//! The dead-letter queue: events a sink refused for good, kept with the reason.
//!
//! Dead letters are written by a lake writer (same layout, same commit protocol) under the
//! `[dead_letter]` directory, in the same commit as the sinks' batch, so a refused event is
//! either in its sink or in the queue, never nowhere. Each line is an envelope whose `data`
//! holds the failure: `{"error", "sink", "commit", "event": <the original record>}`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::Rejected;
use crate::source::RawJson;
use crate::transform::{Envelope, EnvelopeTime};

/// A dead letter's `data`. Fields in this order (alphabetical, as earlier versions wrote
/// them); the event's record goes through as it is.
#[derive(Serialize)]
struct Letter<'a> {
    commit: u64,
    error: &'a str,
    event: RawJson,
    sink: &'a str,
}

/// The original record of a dead letter read back, kept as it was written.
#[derive(Deserialize)]
struct ReadBack {
    #[serde(default)]
    data: Option<ReadBackData>,
}

#[derive(Deserialize)]
struct ReadBackData {
    #[serde(default)]
    event: Option<RawJson>,
}

/// The name the dead-letter writer goes by in commit intents (reserved for sinks).
pub const SINK_NAME: &str = "dead_letter";

/// `[dead_letter]`: a local directory of lake-style objects holding refused events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterConfig {
    /// Root directory, relative to the config file's directory.
    pub path: PathBuf,
}

/// The `[dead_letter]` path cannot hold a lake (the lake's refusal says why).
#[derive(Debug, thiserror::Error)]
#[error("[dead_letter] path {}: {source}", path.display())]
pub struct DeadLetterError {
    /// The configured path.
    pub path: PathBuf,
    /// Why the lake settings built from it were refused.
    #[source]
    pub source: toml::de::Error,
}

impl DeadLetterConfig {
    /// The lake settings the dead-letter writer uses.
    pub fn as_lake(&self) -> Result<crate::sink::lake::config::LakeConfig, DeadLetterError> {
        // Built through the same deserializer as a `[[sinks]]` table, so the dead-letter
        // queue always gets the lake's defaults.
        let mut table = toml::Table::new();
        table.insert("name".into(), SINK_NAME.into());
        table.insert(
            "path".into(),
            self.path.to_string_lossy().into_owned().into(),
        );
        crate::sink::lake::config::LakeConfig::deserialize(toml::Value::Table(table)).map_err(
            |source| DeadLetterError {
                path: self.path.clone(),
                source,
            },
        )
    }
}

/// Wraps a refused event for the queue.
pub fn wrap(rejected: Rejected, sink: &str, commit: u64) -> Envelope {
    let Rejected { event, error } = rejected;
    // A sink's refusal may quote the request, credentials included.
    let error = crate::redact::scrub_string(error);
    Envelope {
        event_time: event.event_time,
        parse_time: EnvelopeTime(Utc::now()),
        source: event.source,
        event_id: event.event_id,
        data: letter_data(&Letter {
            commit,
            error: error.as_str(),
            event: event.data,
            sink,
        }),
        // A letter holds the vendor record; a replay sends it through no chain.
        ocsf: Default::default(),
    }
}

fn letter_data(letter: &Letter<'_>) -> RawJson {
    // A struct of strings, a number and valid JSON always serializes, compact.
    RawJson::owned(serde_json::to_string(letter).expect("a dead letter serializes"))
}

/// A dead letter read back: the original event and where it failed.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The event as it was offered to the sink.
    pub event: Envelope,
    /// The sink that refused it.
    pub sink: String,
    /// Why.
    pub error: String,
    /// The line as stored, written back unchanged when the letter stays in the queue.
    line: String,
}

/// One object of the queue, with its letters.
#[derive(Debug)]
pub struct DeadLetterObject {
    /// Path of the object.
    pub path: PathBuf,
    /// Its letters.
    pub letters: Vec<DeadLetter>,
}

/// Reads every published dead-letter object of `source` (all sources when `None`).
pub fn read(root: &Path, source: Option<&str>) -> std::io::Result<Vec<DeadLetterObject>> {
    use std::io::BufRead;
    let mut files = Vec::new();
    for entry in read_dir_sorted(root)? {
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(found) = name.strip_prefix("source=") else {
            continue;
        };
        if source.is_none_or(|s| s == found) {
            collect(&entry, &mut files)?;
        }
    }
    let mut objects = Vec::new();
    for path in files {
        let file = std::fs::File::open(&path)?;
        let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(file));
        let mut letters = Vec::new();
        for line in reader.lines() {
            let line = line?;
            letters.push(parse_letter(&line).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?);
        }
        objects.push(DeadLetterObject { path, letters });
    }
    Ok(objects)
}

/// Why a line of a dead-letter object is not a letter (it is reported with the object's path).
#[derive(Debug, thiserror::Error)]
enum LetterError {
    /// Not JSON, or not of a letter's shape.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// A field every letter has is missing.
    #[error("no {0}")]
    Missing(&'static str),
}

fn parse_letter(line: &str) -> Result<DeadLetter, LetterError> {
    let value: serde_json::Value = serde_json::from_str(line)?;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let time = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| EnvelopeTime(t.with_timezone(&Utc)))
    };
    let data = &value["data"];
    let record = serde_json::from_str::<ReadBack>(line)?
        .data
        .and_then(|data| data.event)
        .unwrap_or_else(|| RawJson::from_value(&serde_json::Value::Null));
    Ok(DeadLetter {
        event: Envelope {
            event_time: time(&value["event_time"]).ok_or(LetterError::Missing("event_time"))?,
            parse_time: time(&value["parse_time"]).ok_or(LetterError::Missing("parse_time"))?,
            source: Arc::from(
                text(&value["source"])
                    .ok_or(LetterError::Missing("source"))?
                    .as_str(),
            ),
            event_id: text(&value["event_id"]).ok_or(LetterError::Missing("event_id"))?,
            data: record,
            ocsf: Default::default(),
        },
        sink: text(&data["sink"]).ok_or(LetterError::Missing("data.sink"))?,
        error: text(&data["error"]).unwrap_or_default(),
        line: line.to_string(),
    })
}

fn read_dir_sorted(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) => return Err(err),
    };
    paths.sort();
    Ok(paths)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for path in read_dir_sorted(dir)? {
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.to_string_lossy().ends_with(".ndjson.gz") {
            out.push(path);
        }
    }
    Ok(())
}

/// Moves a replayed object out of the queue, into `<root>/_replayed/` with the same layout,
/// so it is kept for audit but not replayed twice.
pub fn retire(root: &Path, object: &Path) -> std::io::Result<PathBuf> {
    let relative = object.strip_prefix(root).unwrap_or(object);
    let target = root.join("_replayed").join(relative);
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::rename(object, &target)?;
    Ok(target)
}

/// After a replay whose sink accepted some of an object's letters and refused the others
/// again: keeps the accepted ones under `<root>/_replayed/` (beside where [`retire`] would
/// put the whole object, under a name of their own), then replaces the object with the
/// letters `refused` says so, so an accepted letter is never sent again. Returns where the
/// accepted letters were kept.
pub fn retire_accepted(
    root: &Path,
    object: &DeadLetterObject,
    refused: impl Fn(&DeadLetter) -> bool,
) -> std::io::Result<PathBuf> {
    let (kept, accepted): (Vec<&DeadLetter>, Vec<&DeadLetter>) =
        object.letters.iter().partition(|letter| refused(letter));
    let relative = object.path.strip_prefix(root).unwrap_or(&object.path);
    let name = relative
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .trim_end_matches(".ndjson.gz")
                .to_string()
        })
        .unwrap_or_default();
    let audit = root
        .join("_replayed")
        .join(relative)
        .with_file_name(format!(
            "{name}.part-{}.ndjson.gz",
            Utc::now().timestamp_millis()
        ));
    // The accepted letters are kept first: a crash before the object is replaced sends them
    // again (as a crash between a sink's write and `retire` does), but never loses one.
    write_letters(&audit, &accepted)?;
    write_letters(&object.path, &kept)?;
    Ok(audit)
}

/// Writes `letters` as a gzip NDJSON object at `path`, replacing it at once (through a
/// temporary file in the same directory, synced, then renamed).
fn write_letters(path: &Path, letters: &[&DeadLetter]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let file = std::fs::File::create(&temporary)?;
    let mut gzip = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    for letter in letters {
        gzip.write_all(letter.line.as_bytes())?;
        gzip.write_all(b"\n")?;
    }
    gzip.finish()?.sync_all()?;
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Record;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn a_wrapped_letter_reads_back_as_the_original_event() {
        let record = Record {
            time: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            id: "e1".into(),
            data: json!({"k": 1}).into(),
        };
        let event = Envelope::wrap(record, &Arc::from("okta"), Utc::now());
        let letter = wrap(
            Rejected {
                event: event.clone(),
                error: "mapper_parsing_exception".into(),
            },
            "es",
            7,
        );
        let line = serde_json::to_string(&letter).unwrap();
        let back = parse_letter(&line).unwrap();
        assert_eq!(back.sink, "es");
        assert_eq!(back.error, "mapper_parsing_exception");
        assert_eq!(back.event.event_id, "e1");
        assert_eq!(back.event.data, json!({"k": 1}));
        assert_eq!(back.event.event_time, event.event_time);
        assert_eq!(letter.data.to_value().unwrap()["commit"], 7);
        // The same bytes earlier versions wrote (keys in order), the record inside as sent.
        assert_eq!(
            letter.data.as_str(),
            r#"{"commit":7,"error":"mapper_parsing_exception","event":{"k":1},"sink":"es"}"#
        );
    }

    /// A record goes into the queue and comes back out byte for byte, key order and number
    /// spelling included, so a replay sends what the API sent.
    #[test]
    fn a_dead_letter_keeps_the_record_bytes() {
        let sent = r#"{"z":1.50,"a":"\u00e9","n":1e2}"#;
        let record = Record {
            time: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            id: "e1".into(),
            data: RawJson::parse(sent).unwrap(),
        };
        let event = Envelope::wrap(record, &Arc::from("okta"), Utc::now());
        let letter = wrap(
            Rejected {
                event,
                error: "refused".into(),
            },
            "hec",
            1,
        );
        let mut line = Vec::new();
        letter.write_json(&mut line);
        let back = parse_letter(std::str::from_utf8(&line).unwrap()).unwrap();
        assert_eq!(back.event.data.as_str(), sent);
    }

    #[test]
    fn retiring_the_accepted_letters_leaves_only_the_refused_ones_queued() {
        let root = tempfile::tempdir().unwrap();
        let object = root
            .path()
            .join("source=okta/dt=2024-01-01/1-abc.ndjson.gz");
        let letters: Vec<DeadLetter> = ["e1", "e2", "e3"]
            .into_iter()
            .map(|id| {
                let record = Record {
                    time: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
                    id: id.into(),
                    data: json!({ "id": id }).into(),
                };
                let event = Envelope::wrap(record, &Arc::from("okta"), Utc::now());
                let error = "HTTP 400".to_string();
                let line = serde_json::to_string(&wrap(Rejected { event, error }, "http", 3));
                parse_letter(&line.unwrap()).unwrap()
            })
            .collect();
        write_letters(&object, &letters.iter().collect::<Vec<_>>()).unwrap();
        let queued = read(root.path(), Some("okta")).unwrap();
        let ids = |objects: &[DeadLetterObject]| -> Vec<String> {
            objects
                .iter()
                .flat_map(|o| o.letters.iter().map(|l| l.event.event_id.clone()))
                .collect()
        };
        assert_eq!(ids(&queued), ["e1", "e2", "e3"]);

        let kept = retire_accepted(root.path(), &queued[0], |l| l.event.event_id == "e2").unwrap();
        let queued = read(root.path(), Some("okta")).unwrap();
        assert_eq!(ids(&queued), ["e2"]);
        assert_eq!(queued[0].path, object, "the object keeps its name");
        assert_eq!(queued[0].letters[0].error, "HTTP 400");
        assert_eq!(queued[0].letters[0].sink, "http");
        let replayed = read(&root.path().join("_replayed"), Some("okta")).unwrap();
        assert_eq!(ids(&replayed), ["e1", "e3"]);
        assert_eq!(replayed[0].path, kept);
        assert!(kept.starts_with(root.path().join("_replayed/source=okta/dt=2024-01-01")));
    }
}
