//! The JSON a lake holds for each event of one source, read object by object with where it
//! was found (object key and line or row), for `sluice lake validate`.

use std::io::{self, BufRead};
use std::path::Path;

use serde_json::Value;

use super::{local, sanitize, store, Compression, LakeLocation, ObjectKind, STAGING_DIR};
use crate::sink::config::LakeConfig;
use crate::sink::SinkError;

/// Which JSON of each event to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The envelope's member (NDJSON) or the column (Parquet) of this name: `ocsf`, `data`.
    Member(&'static str),
    /// The whole line (NDJSON lakes with a bare payload); Parquet rows keep it as `ocsf`.
    Whole,
}

/// Why the JSON of one event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    /// An NDJSON line that does not parse.
    #[error("the line is not JSON: {0}")]
    Line(#[source] serde_json::Error),
    /// An envelope without the member asked for.
    #[error("the envelope has no `{0}` object")]
    NoMember(&'static str),
    /// A Parquet column whose text does not parse.
    #[error("`{name}` is not JSON: {source}")]
    Column {
        /// The column.
        name: &'static str,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A Parquet row with the column null or absent.
    #[error("the row has no `{0}` value")]
    NoColumn(&'static str),
}

/// One event read from the lake.
#[derive(Debug)]
pub struct Located {
    /// The object's key, relative to the lake root.
    pub key: String,
    /// The 1-based line (NDJSON) or row (Parquet) in the object.
    pub line: usize,
    /// The envelope's `event_id`, when the object holds envelopes.
    pub event_id: Option<String>,
    /// The JSON read, or why there is none.
    pub json: Result<Value, Unreadable>,
}

/// Calls `visit` for each event of `source` in the lake `config` describes, in key order,
/// reading `part` of each; returns the number of objects read.
pub async fn scan(
    config: &LakeConfig,
    source: &str,
    part: Part,
    mut visit: impl FnMut(Located),
) -> Result<u64, SinkError> {
    let fail = |detail: String| SinkError {
        sink: config.name.clone(),
        detail,
    };
    let prefix = config.key_template.static_prefix(&sanitize(source));
    let mut objects = 0;
    match config.location() {
        LakeLocation::Directory(root) => {
            let mut files = Vec::new();
            local::collect_objects(&root.join(&prefix), &mut files).map_err(|e| {
                fail(format!(
                    "cannot list {}: {e} (hint: check the lake's path)",
                    root.display()
                ))
            })?;
            let mut keyed: Vec<(String, std::path::PathBuf)> = files
                .into_iter()
                .map(|path| (key_of(&root, &path), path))
                .collect();
            keyed.sort();
            for (key, path) in keyed {
                let bytes = std::fs::read(&path)
                    .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
                read_object(&key, &bytes, source, part, &mut visit)
                    .map_err(|e| fail(format!("object {key} is not readable: {e}")))?;
                objects += 1;
            }
        }
        LakeLocation::Store { .. } => {
            let store = store::Store::build(config)?;
            let mut listed: Vec<(String, object_store::ObjectMeta)> = store
                .list(&prefix)
                .await?
                .into_iter()
                .map(|meta| (store.relative(&meta.location).to_string(), meta))
                .filter(|(key, _)| {
                    !key.starts_with(&format!("{STAGING_DIR}/"))
                        && ObjectKind::of_name(key).is_some()
                })
                .collect();
            listed.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, meta) in listed {
                let bytes = store.get(&meta.location).await?;
                read_object(&key, &bytes, source, part, &mut visit)
                    .map_err(|e| fail(format!("object {key} is not readable: {e}")))?;
                objects += 1;
            }
        }
    }
    Ok(objects)
}

/// `path` relative to `root`, with `/` between segments.
fn key_of(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn read_object(
    key: &str,
    bytes: &[u8],
    source: &str,
    part: Part,
    visit: &mut impl FnMut(Located),
) -> io::Result<()> {
    match ObjectKind::of_name(key) {
        Some(ObjectKind::Ndjson(compression)) => {
            read_ndjson(key, bytes, compression, source, part, visit)
        }
        Some(ObjectKind::Parquet) => read_parquet(key, bytes, source, part, visit),
        None => Ok(()),
    }
}

fn read_ndjson(
    key: &str,
    bytes: &[u8],
    compression: Compression,
    source: &str,
    part: Part,
    visit: &mut impl FnMut(Located),
) -> io::Result<()> {
    let reader = io::BufReader::new(compression.decoder(bytes)?);
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        let mut event_id = None;
        let json = match serde_json::from_str::<Value>(&line) {
            Err(e) => Err(Unreadable::Line(e)),
            Ok(value) => match part {
                Part::Whole => Ok(value),
                Part::Member(name) => {
                    if value["source"].as_str().is_some_and(|s| s != source) {
                        continue;
                    }
                    event_id = value["event_id"].as_str().map(str::to_string);
                    match value.get(name) {
                        Some(member) if member.is_object() => Ok(member.clone()),
                        _ => Err(Unreadable::NoMember(name)),
                    }
                }
            },
        };
        visit(Located {
            key: key.to_string(),
            line: index + 1,
            event_id,
            json,
        });
    }
    Ok(())
}

#[cfg(feature = "parquet")]
fn read_parquet(
    key: &str,
    bytes: &[u8],
    source: &str,
    part: Part,
    visit: &mut impl FnMut(Located),
) -> io::Result<()> {
    let name = match part {
        Part::Member(name) => name,
        Part::Whole => "ocsf",
    };
    for (index, row) in super::parquet::read_column(bytes, name)?
        .into_iter()
        .enumerate()
    {
        if row.source != source {
            continue;
        }
        let json = match row.text {
            Some(text) => {
                serde_json::from_str(&text).map_err(|source| Unreadable::Column { name, source })
            }
            None => Err(Unreadable::NoColumn(name)),
        };
        visit(Located {
            key: key.to_string(),
            line: index + 1,
            event_id: Some(row.event_id),
            json,
        });
    }
    Ok(())
}

#[cfg(not(feature = "parquet"))]
fn read_parquet(
    _key: &str,
    _bytes: &[u8],
    _source: &str,
    _part: Part,
    _visit: &mut impl FnMut(Located),
) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "this build cannot read Parquet objects (hint: rebuild with --features parquet)",
    ))
}
