//! Encoding of lake objects: NDJSON compressed with gzip or zstd, or Parquet (see
//! `parquet.rs`), over an output that counts the encoded bytes.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

use serde::Deserialize;

use super::members::Members;
use crate::sink::Payload;
use crate::transform::Envelope;

/// How lake objects are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// gzip (`.ndjson.gz`): read by every loader and query engine.
    #[default]
    Gzip,
    /// Zstandard (`.ndjson.zst`): smaller and faster; read by Snowflake, DuckDB and Athena,
    /// not by BigQuery.
    Zstd,
}

impl Compression {
    /// The object name's extension, after the batch name.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Gzip => ".ndjson.gz",
            Compression::Zstd => ".ndjson.zst",
        }
    }

    /// The compression an object name's extension says, if it is a lake object.
    pub fn of_name(name: &str) -> Option<Compression> {
        [Compression::Gzip, Compression::Zstd]
            .into_iter()
            .find(|c| name.ends_with(c.extension()))
    }

    /// A reader of the uncompressed lines of an object.
    pub fn decoder<'r, R: io::BufRead + 'r>(self, reader: R) -> io::Result<Box<dyn Read + 'r>> {
        Ok(match self {
            // Multi-member: a gzip file may hold several concatenated streams.
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
        })
    }
}

/// What a lake's objects hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One JSON envelope per line, compressed as `compression` says.
    #[default]
    Ndjson,
    /// Parquet with typed columns and zstd pages (cargo feature `parquet`).
    Parquet,
}

/// What one lake object is: its name's extension says it, and says how to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// Compressed NDJSON (`.ndjson.gz`, `.ndjson.zst`).
    Ndjson(Compression),
    /// Parquet (`.parquet`).
    Parquet,
}

impl ObjectKind {
    /// The object name's extension, after the batch name.
    pub fn extension(self) -> &'static str {
        match self {
            ObjectKind::Ndjson(compression) => compression.extension(),
            ObjectKind::Parquet => ".parquet",
        }
    }

    /// The kind an object name's extension says, if it is a lake object. Parquet names are
    /// recognised even in builds that cannot read them, so listings never skip them.
    pub fn of_name(name: &str) -> Option<ObjectKind> {
        if name.ends_with(ObjectKind::Parquet.extension()) {
            return Some(ObjectKind::Parquet);
        }
        Compression::of_name(name).map(ObjectKind::Ndjson)
    }
}

/// Where an object's compressed bytes go while it is open.
pub(crate) enum Output {
    /// A staged file of a local lake.
    File(BufWriter<File>),
    /// Bytes not yet uploaded to an object store (at most about one part).
    Memory(Vec<u8>),
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::File(file) => file.write(buf),
            Output::Memory(bytes) => bytes.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File(file) => file.flush(),
            Output::Memory(_) => Ok(()),
        }
    }
}

/// An output and the compressed bytes written to it so far, to roll objects by size, with
/// their SHA-256 for the manifest ledger (every byte of an object passes here once, in
/// order, whether it goes to a file or to an upload's parts).
pub(crate) struct Counted {
    pub out: Output,
    pub count: u64,
    pub digest: sha2::Sha256,
}

impl Counted {
    pub(crate) fn new(out: Output) -> Counted {
        Counted {
            out,
            count: 0,
            digest: sha2::Sha256::default(),
        }
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use sha2::Digest;
        let n = self.out.write(buf)?;
        self.count += n as u64;
        self.digest.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// What an object's lines or rows hold: the sink's `payload`, and whether its events carry
/// an OCSF form (Parquet then adds the OCSF columns; see `parquet.rs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Contents {
    pub payload: Payload,
    /// The events carry an OCSF form.
    pub ocsf: bool,
    /// That form is the envelope's `ocsf` member (not `data`).
    pub member: bool,
}

/// An encoder of envelopes into one object, over a [`Counted`] output.
pub(crate) enum Encoder {
    /// Compressed NDJSON, in independent members (see `members.rs`).
    Lines(Box<Members>),
    #[cfg(feature = "parquet")]
    Parquet(Box<super::parquet::ParquetEncoder>),
}

impl Encoder {
    /// An encoder of `kind` objects into `out` whose events hold `contents` (Parquet's
    /// columns depend on it); `level` is the compression's level (gzip 1–9, zstd 1–19),
    /// unused by Parquet.
    pub fn new(
        kind: ObjectKind,
        level: i32,
        out: Output,
        contents: Contents,
    ) -> io::Result<Encoder> {
        // Only Parquet's columns depend on it.
        #[cfg(not(feature = "parquet"))]
        let _ = contents;
        let counted = Counted::new(out);
        let compression = match kind {
            ObjectKind::Ndjson(compression) => compression,
            #[cfg(feature = "parquet")]
            ObjectKind::Parquet => {
                return Ok(Encoder::Parquet(Box::new(
                    super::parquet::ParquetEncoder::new(counted, contents)?,
                )))
            }
            // The config refuses `format = "parquet"` in such builds; this is a backstop.
            #[cfg(not(feature = "parquet"))]
            ObjectKind::Parquet => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "this build has no Parquet support (rebuild with --features parquet)",
                ))
            }
        };
        Ok(Encoder::Lines(Box::new(Members::new(
            compression,
            level,
            counted,
        ))))
    }

    /// Adds one event: a JSON line, or a Parquet row. A JSON line is written into `line`
    /// first (by concatenation, the record's bytes copied through), so the compressor gets
    /// one write per event rather than one per JSON token (which halves the CPU per event).
    pub fn append(
        &mut self,
        event: &Envelope,
        contents: Contents,
        line: &mut Vec<u8>,
    ) -> io::Result<()> {
        match self {
            Encoder::Lines(e) => {
                line.clear();
                contents.payload.write(event, line);
                line.push(b'\n');
                e.write_line(line)
            }
            #[cfg(feature = "parquet")]
            Encoder::Parquet(e) => e.append(event),
        }
    }

    #[cfg(test)]
    pub fn counted(&self) -> &Counted {
        match self {
            Encoder::Lines(e) => e.counted(),
            #[cfg(feature = "parquet")]
            Encoder::Parquet(e) => e.counted(),
        }
    }

    pub fn counted_mut(&mut self) -> &mut Counted {
        match self {
            Encoder::Lines(e) => e.counted_mut(),
            #[cfg(feature = "parquet")]
            Encoder::Parquet(e) => e.counted_mut(),
        }
    }

    /// The object's size so far, to roll by size: encoded bytes, plus the raw bytes of
    /// lines or Parquet rows not yet encoded (an overestimate, so objects roll early rather
    /// than late).
    pub fn size(&self) -> u64 {
        match self {
            Encoder::Lines(e) => e.size(),
            #[cfg(feature = "parquet")]
            Encoder::Parquet(e) => e.counted().count + e.pending_bytes() as u64,
        }
    }

    /// Waits until at most `limit` members of the object are being compressed (see
    /// `Members::settle`); Parquet encodes as it goes.
    pub async fn settle(&mut self, limit: usize) -> io::Result<()> {
        match self {
            Encoder::Lines(e) => e.settle(limit).await,
            #[cfg(feature = "parquet")]
            Encoder::Parquet(_) => Ok(()),
        }
    }

    /// Pushes what the compressor holds to the output (NDJSON only; Parquet writes whole
    /// row groups).
    #[cfg(test)]
    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Lines(e) => e.flush(),
            #[cfg(feature = "parquet")]
            Encoder::Parquet(_) => Ok(()),
        }
    }

    /// Ends the object (compressed stream, or Parquet footer) and returns the output.
    pub async fn finish(self) -> io::Result<Counted> {
        match self {
            Encoder::Lines(e) => e.finish().await,
            #[cfg(feature = "parquet")]
            Encoder::Parquet(e) => e.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::EnvelopeTime;
    use chrono::{TimeZone, Utc};

    fn event_at(id: &str, micros: i64, data: serde_json::Value) -> Envelope {
        Envelope {
            // A fixed, valid instant: `timestamp_micros_opt` is `Single` for it.
            event_time: EnvelopeTime(Utc.timestamp_micros(micros).unwrap()),
            parse_time: EnvelopeTime(Utc.timestamp_micros(1_700_000_100_000_000).unwrap()),
            source: "okta".into(),
            event_id: id.to_string(),
            data: data.into(),
            ocsf: Default::default(),
        }
    }

    fn event() -> Envelope {
        event_at("e1", 1_700_000_000_123_000, serde_json::json!({"a": 1}))
    }

    #[tokio::test]
    async fn both_compressions_round_trip_through_their_decoder() {
        for compression in [Compression::Gzip, Compression::Zstd] {
            let kind = ObjectKind::Ndjson(compression);
            let mut encoder =
                Encoder::new(kind, 3, Output::Memory(Vec::new()), Contents::default()).unwrap();
            encoder
                .append(&event(), Contents::default(), &mut Vec::new())
                .unwrap();
            let counted = encoder.finish().await.unwrap();
            let Output::Memory(bytes) = counted.out else {
                panic!("memory output")
            };
            assert_eq!(counted.count, bytes.len() as u64);
            let name = format!("x{}", compression.extension());
            assert_eq!(Compression::of_name(&name), Some(compression));
            let mut text = String::new();
            compression
                .decoder(&bytes[..])
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            assert_eq!(
                text,
                format!("{}\n", serde_json::to_string(&event()).unwrap())
            );
        }
        assert_eq!(Compression::of_name("x.ndjson.gz.partial"), None);
        assert_eq!(ObjectKind::of_name("x.ndjson.gz.partial"), None);
        assert_eq!(ObjectKind::of_name("b.parquet"), Some(ObjectKind::Parquet));
        assert_eq!(
            ObjectKind::of_name("b.ndjson.zst"),
            Some(ObjectKind::Ndjson(Compression::Zstd))
        );
    }

    #[cfg(feature = "parquet")]
    #[tokio::test]
    async fn parquet_rows_round_trip_across_row_groups() {
        use super::super::parquet::{read_rows, ROW_GROUP_BYTES};
        let mut encoder = Encoder::new(
            ObjectKind::Parquet,
            0,
            Output::Memory(Vec::new()),
            Contents::default(),
        )
        .unwrap();
        // Incompressible padding, so row groups outgrow the writer's buffer.
        let pad_len = 4096;
        // Enough rows for more than two row groups, so rows flow out before `finish`.
        let rows = 2 * ROW_GROUP_BYTES / pad_len + 100;
        let base = 1_700_000_000_000_000_i64;
        for i in 0..rows {
            let pad: String = (0..pad_len / 16)
                .map(|_| format!("{:016x}", rand::random::<u64>()))
                .collect();
            let data = serde_json::json!({"n": i, "pad": pad});
            encoder
                .append(
                    &event_at(&format!("e{i}"), base + i as i64 * 1_001, data),
                    Contents::default(),
                    &mut Vec::new(),
                )
                .unwrap();
        }
        assert!(
            encoder.counted().count > 0,
            "full row groups are written early"
        );
        assert!(encoder.size() > encoder.counted().count);
        let counted = encoder.finish().await.unwrap();
        let Output::Memory(bytes) = counted.out else {
            panic!("memory output")
        };
        assert_eq!(counted.count, bytes.len() as u64);
        assert_eq!(&bytes[..4], b"PAR1");
        let read = read_rows(&bytes).unwrap();
        assert_eq!(read.len(), rows);
        for (i, row) in read.iter().enumerate() {
            assert_eq!(row.event_id, format!("e{i}"));
            assert_eq!(row.event_time_micros, base + i as i64 * 1_001);
            assert_eq!(row.source, "okta");
        }
    }
}
