//! Parquet lake objects (`format = "parquet"`, cargo feature `parquet`).
//!
//! One row per event, in five required columns:
//!
//! | column | Parquet type |
//! |---|---|
//! | `event_time`, `parse_time` | `INT64`, `TIMESTAMP(MICROS, isAdjustedToUTC = true)` |
//! | `source`, `event_id` | `BYTE_ARRAY`, `STRING` |
//! | `data` | `BYTE_ARRAY`, `STRING`: the event's JSON text, exactly as NDJSON lakes hold it |
//!
//! `data` stays JSON text rather than a nested schema: audit events of one API vary in shape,
//! and every reader (Snowflake `PARSE_JSON`, BigQuery `PARSE_JSON`, Athena `json_parse`,
//! DuckDB `::JSON`) turns text back into its semi-structured type.
//!
//! Rows are buffered per open object and written as a row group once
//! [`ROW_GROUP_BYTES`] of raw values are buffered, so memory per open object stays bounded
//! and the encoded bytes flow into the same [`Counted`] output (file or multipart upload) as
//! NDJSON objects do. Pages are zstd-compressed; the footer is written at `finish`.
//!
//! Written with parquet's low-level column writers: the Arrow crates would add much compile
//! time for five flat columns.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression as ParquetCompression, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::RowAccessor;
use parquet::schema::parser::parse_message_type;

use super::encode::Counted;
use crate::transform::Envelope;

/// The file's schema; see the module docs.
const SCHEMA: &str = "
message sluice_event {
  REQUIRED INT64 event_time (TIMESTAMP(MICROS, true));
  REQUIRED INT64 parse_time (TIMESTAMP(MICROS, true));
  REQUIRED BYTE_ARRAY source (STRING);
  REQUIRED BYTE_ARRAY event_id (STRING);
  REQUIRED BYTE_ARRAY data (STRING);
}";

/// Raw bytes of buffered rows that make a row group. Readers prune and parallelise by row
/// group; a few MiB of raw JSON compresses to row groups of about a MiB, and bounds the
/// memory of each open object (`max_open_partitions` of them per batch).
pub(crate) const ROW_GROUP_BYTES: usize = 8 * 1024 * 1024;

/// zstd's own default level, as for NDJSON objects.
const ZSTD_LEVEL: i32 = 3;

fn to_io(err: parquet::errors::ParquetError) -> io::Error {
    io::Error::other(err)
}

/// Rows not yet written, column by column.
#[derive(Default)]
struct Pending {
    event_time: Vec<i64>,
    parse_time: Vec<i64>,
    source: Vec<ByteArray>,
    event_id: Vec<ByteArray>,
    data: Vec<ByteArray>,
    bytes: usize,
}

/// A Parquet file being written into a [`Counted`] output.
pub(crate) struct ParquetEncoder {
    writer: SerializedFileWriter<Counted>,
    pending: Pending,
}

impl ParquetEncoder {
    /// Starts a file (its magic bytes go out with the first row group).
    pub fn new(out: Counted) -> io::Result<Self> {
        let schema = Arc::new(parse_message_type(SCHEMA).map_err(to_io)?);
        let level = ZstdLevel::try_new(ZSTD_LEVEL).map_err(to_io)?;
        let properties = WriterProperties::builder()
            .set_compression(ParquetCompression::ZSTD(level))
            .set_created_by(format!("sluice {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = SerializedFileWriter::new(out, schema, Arc::new(properties)).map_err(to_io)?;
        Ok(ParquetEncoder {
            writer,
            pending: Pending::default(),
        })
    }

    /// Buffers one event's row, writing a row group when enough is buffered.
    pub fn append(&mut self, event: &Envelope) -> io::Result<()> {
        let data = event.data.as_str().as_bytes().to_vec();
        let p = &mut self.pending;
        p.bytes += data.len() + event.event_id.len() + event.source.len() + 16;
        p.event_time.push(event.event_time.0.timestamp_micros());
        p.parse_time.push(event.parse_time.0.timestamp_micros());
        p.source.push(ByteArray::from(event.source.as_bytes()));
        p.event_id.push(ByteArray::from(event.event_id.as_bytes()));
        p.data.push(ByteArray::from(data));
        if p.bytes >= ROW_GROUP_BYTES {
            self.flush_row_group()?;
        }
        Ok(())
    }

    /// Raw bytes buffered and not yet encoded.
    pub fn pending_bytes(&self) -> usize {
        self.pending.bytes
    }

    fn flush_row_group(&mut self) -> io::Result<()> {
        if self.pending.event_time.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let mut group = self.writer.next_row_group().map_err(to_io)?;
        let mut index = 0;
        while let Some(mut column) = group.next_column().map_err(to_io)? {
            let written = match index {
                0 => column
                    .typed::<Int64Type>()
                    .write_batch(&pending.event_time, None, None),
                1 => column
                    .typed::<Int64Type>()
                    .write_batch(&pending.parse_time, None, None),
                2 => column
                    .typed::<ByteArrayType>()
                    .write_batch(&pending.source, None, None),
                3 => column
                    .typed::<ByteArrayType>()
                    .write_batch(&pending.event_id, None, None),
                _ => column
                    .typed::<ByteArrayType>()
                    .write_batch(&pending.data, None, None),
            };
            written.map_err(to_io)?;
            column.close().map_err(to_io)?;
            index += 1;
        }
        group.close().map_err(to_io)?;
        Ok(())
    }

    /// The output the encoded bytes went to.
    pub fn counted(&self) -> &Counted {
        self.writer.inner()
    }

    /// The output, to take the bytes already encoded (never to write to: see
    /// `SerializedFileWriter::inner_mut`).
    pub fn counted_mut(&mut self) -> &mut Counted {
        self.writer.inner_mut()
    }

    /// Writes the last row group and the footer, and returns the output.
    pub fn finish(mut self) -> io::Result<Counted> {
        self.flush_row_group()?;
        self.writer.into_inner().map_err(to_io)
    }
}

/// One row of a Parquet lake object, as [`super::LakeContents`] reads it.
pub(crate) struct ReadRow {
    pub event_time_micros: i64,
    pub source: String,
    pub event_id: String,
}

/// Reads every row of a Parquet lake object.
pub(crate) fn read_rows(object: &[u8]) -> io::Result<Vec<ReadRow>> {
    let reader = SerializedFileReader::new(Bytes::copy_from_slice(object)).map_err(to_io)?;
    let mut rows = Vec::new();
    for row in reader.get_row_iter(None).map_err(to_io)? {
        let row = row.map_err(to_io)?;
        rows.push(ReadRow {
            event_time_micros: row.get_timestamp_micros(0).map_err(to_io)?,
            source: row.get_string(2).map_err(to_io)?.clone(),
            event_id: row.get_string(3).map_err(to_io)?.clone(),
        });
    }
    Ok(rows)
}
