//! Reading a source's events back out of the lake, for `sluice lake replay`: which objects
//! hold events of a time range (from the manifest ledger, so only objects sluice committed,
//! and never ones retention deleted), and each object's events as a stream of envelopes,
//! from NDJSON lines or Parquet rows alike (see `parquet::EnvelopeRows` for how a row
//! becomes the envelope its NDJSON line would be).
//!
//! Memory: the list holds one ledger entry per object in the range (a few hundred bytes);
//! an object is read line by line through its decompressor, or a Parquet row group at a
//! time (an object in a store is copied to a temporary file first), so no object is ever
//! held whole.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::ledger::{LedgerEntry, LedgerRecord};
use super::reader::Reader;
use super::{sanitize, Compression, ObjectKind};
use crate::sink::config::LakeConfig;
use crate::sink::SinkError;
use crate::source::RawJson;
use crate::transform::{Envelope, EnvelopeTime, OcsfForm};

/// The objects of `source` in the lake `config` describes that may hold events in
/// `[from, to)`, in key order (partition time, then batch): the ledger's objects, minus
/// those retention deleted.
pub async fn objects_in_range(
    config: &LakeConfig,
    source: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<LedgerEntry>, SinkError> {
    let fail = |detail: String| SinkError {
        sink: config.name.clone(),
        detail,
    };
    let lake = Reader::open(config)?;
    let chains = lake
        .chains(&sanitize(source))
        .await
        .map_err(|e| fail(e.to_string()))?;
    if chains.is_empty() {
        return Err(fail(format!(
            "lake {} has no manifest ledger for source `{source}`, so replay cannot tell which objects are sluice's (hint: objects committed from now on are recorded; check --source and the sink)",
            config.display_location()
        )));
    }
    let mut objects = Vec::new();
    let mut deleted: HashSet<String> = HashSet::new();
    for key in chains.into_values().flatten() {
        let bytes = lake.read(&key).await.map_err(|e| fail(e.to_string()))?;
        let record: LedgerRecord = serde_json::from_slice(&bytes).map_err(|e| {
            fail(format!(
                "ledger record {key} is unreadable ({e}) (hint: run `sluice lake verify --source {source}`)"
            ))
        })?;
        deleted.extend(record.deleted.into_iter().map(|e| e.key));
        objects.extend(record.objects.into_iter().filter(|o| o.overlaps(from, to)));
    }
    objects.retain(|o| !deleted.contains(&o.key));
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    objects.dedup_by(|a, b| a.key == b.key);
    Ok(objects)
}

/// One lake object's events, line by line (NDJSON) or row by row (Parquet).
pub struct ObjectEvents {
    key: String,
    sink: String,
    rows: Rows,
    /// Lines (or rows) read so far.
    line: u64,
}

/// Where an object's events come from.
enum Rows {
    /// NDJSON lines through their decompressor.
    Lines {
        lines: BufReader<Box<dyn Read + Send>>,
        buffer: String,
    },
    /// Parquet rows, a row group at a time.
    #[cfg(feature = "parquet")]
    Parquet(Box<super::parquet::EnvelopeRows>),
}

/// One line of an object as written (`Envelope::write_json`); other fields are ignored.
#[derive(serde::Deserialize)]
struct Line {
    event_time: DateTime<Utc>,
    parse_time: DateTime<Utc>,
    source: String,
    event_id: String,
    data: RawJson,
    /// The OCSF member, in lakes written by a chain with an `ocsf` step `into = "member"`.
    #[serde(default)]
    ocsf: Option<RawJson>,
}

impl ObjectEvents {
    /// Opens object `key` of the lake `config` describes; `None` when it is not there.
    pub async fn open(config: &LakeConfig, key: &str) -> Result<Option<ObjectEvents>, SinkError> {
        let fail = |detail: String| SinkError {
            sink: config.name.clone(),
            detail,
        };
        let Some(kind) = ObjectKind::of_name(key) else {
            return Err(fail(format!("{key} is not a lake object")));
        };
        let lake = Reader::open(config)?;
        let Some(file) = lake
            .open_object(key)
            .await
            .map_err(|e| fail(e.to_string()))?
        else {
            return Ok(None);
        };
        let rows = match kind {
            ObjectKind::Ndjson(compression) => {
                let decoded: Box<dyn Read + Send> = match compression {
                    Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
                    Compression::Zstd => Box::new(
                        zstd::stream::read::Decoder::new(file)
                            .map_err(|e| fail(format!("cannot read {key}: {e}")))?,
                    ),
                };
                Rows::Lines {
                    lines: BufReader::with_capacity(256 * 1024, decoded),
                    buffer: String::new(),
                }
            }
            #[cfg(feature = "parquet")]
            ObjectKind::Parquet => Rows::Parquet(Box::new(
                super::parquet::EnvelopeRows::open(file).map_err(|e| {
                    fail(format!(
                        "{key} is not a readable Parquet object: {e} (hint: `sluice lake verify` tells whether the object was changed)"
                    ))
                })?,
            )),
            #[cfg(not(feature = "parquet"))]
            ObjectKind::Parquet => {
                return Err(fail(format!(
                    "{key} is a Parquet object and this build cannot read Parquet (hint: rebuild with --features parquet)"
                )))
            }
        };
        Ok(Some(ObjectEvents {
            key: key.to_string(),
            sink: config.name.clone(),
            rows,
            line: 0,
        }))
    }

    /// Lines (or rows) read so far.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The next event, `None` at the end. An unreadable line or row fails, naming the
    /// object and its line or row.
    pub fn next_event(&mut self) -> Result<Option<Envelope>, SinkError> {
        let fail = |detail: String| SinkError {
            sink: self.sink.clone(),
            detail,
        };
        match &mut self.rows {
            Rows::Lines { lines, buffer } => {
                buffer.clear();
                let read = lines.read_line(buffer).map_err(|e| {
                    fail(format!(
                        "cannot read {} after line {}: {e}",
                        self.key, self.line
                    ))
                })?;
                if read == 0 {
                    return Ok(None);
                }
                self.line += 1;
                let line: Line = serde_json::from_str(buffer.trim_end()).map_err(|e| {
                    fail(format!(
                        "{}:{}: not a lake envelope: {e} (hint: `sluice lake verify` tells whether the object was changed)",
                        self.key, self.line
                    ))
                })?;
                Ok(Some(Envelope {
                    event_time: EnvelopeTime(line.event_time),
                    parse_time: EnvelopeTime(line.parse_time),
                    source: Arc::from(line.source.as_str()),
                    event_id: line.event_id,
                    data: line.data,
                    ocsf: line.ocsf.map_or(OcsfForm::Absent, OcsfForm::Member),
                }))
            }
            #[cfg(feature = "parquet")]
            Rows::Parquet(rows) => {
                let row = self.line + 1;
                let event = rows.next_envelope().map_err(|e| {
                    fail(format!(
                        "{} row {row}: not a lake row: {e} (hint: `sluice lake verify` tells whether the object was changed)",
                        self.key
                    ))
                })?;
                if event.is_some() {
                    self.line = row;
                }
                Ok(event)
            }
        }
    }
}
