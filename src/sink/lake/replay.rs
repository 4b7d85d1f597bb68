//! Reading a source's events back out of the lake, for `sluice lake replay`: which objects
//! hold events of a time range (from the manifest ledger, so only objects sluice committed,
//! and never ones retention deleted), and each object's events as a stream of envelopes.
//!
//! Memory: the list holds one ledger entry per object in the range (a few hundred bytes);
//! an object is read line by line through its decompressor (an object in a store is copied
//! to a temporary file first), so no object is ever held whole.

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
    let chains = lake.chains(&sanitize(source)).await.map_err(&fail)?;
    if chains.is_empty() {
        return Err(fail(format!(
            "lake {} has no manifest ledger for source `{source}`, so replay cannot tell which objects are sluice's (hint: objects committed from now on are recorded; check --source and the sink)",
            config.display_location()
        )));
    }
    let mut objects = Vec::new();
    let mut deleted: HashSet<String> = HashSet::new();
    for key in chains.into_values().flatten() {
        let bytes = lake.read(&key).await.map_err(&fail)?;
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

/// One lake object's events, line by line.
pub struct ObjectEvents {
    key: String,
    sink: String,
    lines: BufReader<Box<dyn Read + Send>>,
    /// Lines read so far.
    line: u64,
    buffer: String,
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
        let compression = match ObjectKind::of_name(key) {
            Some(ObjectKind::Ndjson(compression)) => compression,
            Some(ObjectKind::Parquet) => {
                return Err(fail(format!(
                    "{key} is a Parquet object; replay reads NDJSON objects only (hint: replay a range written with format = \"ndjson\")"
                )))
            }
            None => return Err(fail(format!("{key} is not a lake object"))),
        };
        let lake = Reader::open(config)?;
        let Some(file) = lake.open_object(key).await.map_err(&fail)? else {
            return Ok(None);
        };
        let decoded: Box<dyn Read + Send> = match compression {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::new(file)
                    .map_err(|e| fail(format!("cannot read {key}: {e}")))?,
            ),
        };
        Ok(Some(ObjectEvents {
            key: key.to_string(),
            sink: config.name.clone(),
            lines: BufReader::with_capacity(256 * 1024, decoded),
            line: 0,
            buffer: String::new(),
        }))
    }

    /// Lines read so far.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The next event, `None` at the end. An unreadable line fails, naming the object and
    /// line.
    pub fn next_event(&mut self) -> Result<Option<Envelope>, SinkError> {
        self.buffer.clear();
        let read = self
            .lines
            .read_line(&mut self.buffer)
            .map_err(|e| SinkError {
                sink: self.sink.clone(),
                detail: format!("cannot read {} after line {}: {e}", self.key, self.line),
            })?;
        if read == 0 {
            return Ok(None);
        }
        self.line += 1;
        let line: Line = serde_json::from_str(self.buffer.trim_end()).map_err(|e| SinkError {
            sink: self.sink.clone(),
            detail: format!(
                "{}:{}: not a lake envelope: {e} (hint: `sluice lake verify` tells whether the object was changed)",
                self.key, self.line
            ),
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
}
