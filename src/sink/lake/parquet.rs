//! Parquet lake objects (`format = "parquet"`, cargo feature `parquet`).
//!
//! One row per event:
//!
//! | column | Parquet type |
//! |---|---|
//! | `event_time`, `parse_time` | `INT64`, `TIMESTAMP(MICROS, isAdjustedToUTC = true)` |
//! | `source`, `event_id` | `BYTE_ARRAY`, `STRING` |
//! | `data` | `BYTE_ARRAY`, `STRING`: the event's JSON text, exactly as NDJSON lakes hold it; absent with `payload = "ocsf"` |
//! | `ocsf` | optional `BYTE_ARRAY`, `STRING`: the OCSF event's JSON text, when the chain made an `ocsf` member (or `payload = "ocsf"`) |
//! | the typed OCSF columns | optional, one per entry of [`ocsf_columns::COLUMNS`] (`time`, `class_uid`, `actor_user_email_addr`, ...), when the events carry OCSF and the payload is not `raw` |
//!
//! The envelope's four columns are there whatever the `payload`: the lake's own readers
//! (`sluice lake verify`, `state recover --from-lake`) find events by them.
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
//! time for a few flat columns.

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

use std::fmt::Write as _;

use serde_json::Value;

use super::encode::{Contents, Counted};
use super::ocsf_columns::{self, Cell, ColumnType};
use crate::sink::Payload;
use crate::transform::Envelope;

/// The envelope's columns, always first; see the module docs.
const ENVELOPE_COLUMNS: &str = "
  REQUIRED INT64 event_time (TIMESTAMP(MICROS, true));
  REQUIRED INT64 parse_time (TIMESTAMP(MICROS, true));
  REQUIRED BYTE_ARRAY source (STRING);
  REQUIRED BYTE_ARRAY event_id (STRING);";

/// Raw bytes of buffered rows that make a row group. Readers prune and parallelise by row
/// group; a few MiB of raw JSON compresses to row groups of about a MiB, and bounds the
/// memory of each open object (`max_open_partitions` of them per batch).
pub(crate) const ROW_GROUP_BYTES: usize = 8 * 1024 * 1024;

/// zstd's own default level, as for NDJSON objects.
const ZSTD_LEVEL: i32 = 3;

fn to_io(err: parquet::errors::ParquetError) -> io::Error {
    io::Error::other(err)
}

/// Which columns after the envelope's an object has (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Columns {
    /// `data`: the vendor record (or the OCSF event that replaced it).
    pub data: bool,
    /// `ocsf`: the OCSF event's JSON text, when it is not already `data`.
    pub ocsf: bool,
    /// The typed OCSF columns ([`ocsf_columns::COLUMNS`]).
    pub typed: bool,
}

impl Columns {
    /// The columns of an object whose events hold `contents`.
    pub fn of(contents: Contents) -> Columns {
        let has_ocsf = contents.ocsf && contents.payload != Payload::Raw;
        Columns {
            data: contents.payload != Payload::Ocsf,
            ocsf: has_ocsf && (contents.payload == Payload::Ocsf || contents.member),
            typed: has_ocsf,
        }
    }

    /// The file's schema.
    pub fn schema(self) -> String {
        let mut schema = format!("message sluice_event {{{ENVELOPE_COLUMNS}");
        if self.data {
            schema.push_str("\n  REQUIRED BYTE_ARRAY data (STRING);");
        }
        if self.ocsf {
            schema.push_str("\n  OPTIONAL BYTE_ARRAY ocsf (STRING);");
        }
        if self.typed {
            for column in ocsf_columns::COLUMNS {
                let ty = match column.ty {
                    ColumnType::TimeMillis => "INT64",
                    ColumnType::Integer => "INT64",
                    ColumnType::Text => "BYTE_ARRAY",
                };
                let logical = match column.ty {
                    ColumnType::TimeMillis => " (TIMESTAMP(MILLIS, true))",
                    ColumnType::Integer => "",
                    ColumnType::Text => " (STRING)",
                };
                let _ = write!(schema, "\n  OPTIONAL {ty} {}{logical};", column.name);
            }
        }
        schema.push_str("\n}");
        schema
    }
}

/// One column's buffered values (and definition levels, for optional columns: 1 where a row
/// has a value, 0 where it is null).
enum Buffer {
    Int {
        values: Vec<i64>,
        defs: Option<Vec<i16>>,
    },
    Bytes {
        values: Vec<ByteArray>,
        defs: Option<Vec<i16>>,
    },
}

impl Buffer {
    fn int(optional: bool) -> Buffer {
        Buffer::Int {
            values: Vec::new(),
            defs: optional.then(Vec::new),
        }
    }

    fn bytes(optional: bool) -> Buffer {
        Buffer::Bytes {
            values: Vec::new(),
            defs: optional.then(Vec::new),
        }
    }

    fn push_int(&mut self, value: Option<i64>) {
        if let Buffer::Int { values, defs } = self {
            values.extend(value);
            if let Some(defs) = defs {
                defs.push(i16::from(value.is_some()));
            }
        }
    }

    fn push_bytes(&mut self, value: Option<&[u8]>) {
        if let Buffer::Bytes { values, defs } = self {
            if let Some(value) = value {
                values.push(ByteArray::from(value.to_vec()));
            }
            if let Some(defs) = defs {
                defs.push(i16::from(value.is_some()));
            }
        }
    }
}

/// A Parquet file being written into a [`Counted`] output.
pub(crate) struct ParquetEncoder {
    writer: SerializedFileWriter<Counted>,
    columns: Columns,
    /// Rows not yet written, column by column, in schema order.
    pending: Vec<Buffer>,
    /// Raw bytes buffered.
    bytes: usize,
    rows: usize,
}

impl ParquetEncoder {
    /// Starts a file for events holding `contents` (its magic bytes go out with the first
    /// row group).
    pub fn new(out: Counted, contents: Contents) -> io::Result<Self> {
        let columns = Columns::of(contents);
        let schema = Arc::new(parse_message_type(&columns.schema()).map_err(to_io)?);
        let level = ZstdLevel::try_new(ZSTD_LEVEL).map_err(to_io)?;
        let properties = WriterProperties::builder()
            .set_compression(ParquetCompression::ZSTD(level))
            .set_created_by(format!("sluice {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = SerializedFileWriter::new(out, schema, Arc::new(properties)).map_err(to_io)?;
        let mut encoder = ParquetEncoder {
            writer,
            columns,
            pending: Vec::new(),
            bytes: 0,
            rows: 0,
        };
        encoder.pending = encoder.empty_buffers();
        Ok(encoder)
    }

    fn empty_buffers(&self) -> Vec<Buffer> {
        let mut buffers = vec![
            Buffer::int(false),
            Buffer::int(false),
            Buffer::bytes(false),
            Buffer::bytes(false),
        ];
        if self.columns.data {
            buffers.push(Buffer::bytes(false));
        }
        if self.columns.ocsf {
            buffers.push(Buffer::bytes(true));
        }
        if self.columns.typed {
            for column in ocsf_columns::COLUMNS {
                buffers.push(match column.ty {
                    ColumnType::Text => Buffer::bytes(true),
                    ColumnType::TimeMillis | ColumnType::Integer => Buffer::int(true),
                });
            }
        }
        buffers
    }

    /// Buffers one event's row, writing a row group when enough is buffered.
    pub fn append(&mut self, event: &Envelope) -> io::Result<()> {
        let mut buffers = self.pending.iter_mut();
        let mut next = || {
            buffers
                .next()
                .ok_or_else(|| io::Error::other("a Parquet column has no buffer"))
        };
        next()?.push_int(Some(event.event_time.0.timestamp_micros()));
        next()?.push_int(Some(event.parse_time.0.timestamp_micros()));
        next()?.push_bytes(Some(event.source.as_bytes()));
        next()?.push_bytes(Some(event.event_id.as_bytes()));
        let mut bytes = event.event_id.len() + event.source.len() + 16;
        if self.columns.data {
            next()?.push_bytes(Some(event.data.as_str().as_bytes()));
            bytes += event.data.as_str().len();
        }
        let ocsf = event.ocsf();
        if self.columns.ocsf {
            next()?.push_bytes(ocsf.map(|o| o.as_str().as_bytes()));
            bytes += ocsf.map_or(0, |o| o.as_str().len());
        }
        if self.columns.typed {
            // Parsed once per event, only in lakes that asked for OCSF columns.
            let tree = ocsf.and_then(|o| o.to_value().ok()).unwrap_or(Value::Null);
            for column in ocsf_columns::COLUMNS {
                let buffer = next()?;
                match column.cell(&tree) {
                    Cell::Null => {
                        buffer.push_int(None);
                        buffer.push_bytes(None);
                    }
                    Cell::Integer(n) => buffer.push_int(Some(n)),
                    Cell::Text(text) => {
                        bytes += text.len();
                        buffer.push_bytes(Some(text.as_bytes()));
                    }
                }
                bytes += 8;
            }
        }
        self.bytes += bytes;
        self.rows += 1;
        if self.bytes >= ROW_GROUP_BYTES {
            self.flush_row_group()?;
        }
        Ok(())
    }

    /// Raw bytes buffered and not yet encoded.
    pub fn pending_bytes(&self) -> usize {
        self.bytes
    }

    fn flush_row_group(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let fresh = self.empty_buffers();
        let pending = std::mem::replace(&mut self.pending, fresh);
        self.bytes = 0;
        self.rows = 0;
        let mut group = self.writer.next_row_group().map_err(to_io)?;
        let mut buffers = pending.into_iter();
        while let Some(mut column) = group.next_column().map_err(to_io)? {
            let written = match buffers.next() {
                Some(Buffer::Int { values, defs }) => {
                    column
                        .typed::<Int64Type>()
                        .write_batch(&values, defs.as_deref(), None)
                }
                Some(Buffer::Bytes { values, defs }) => column
                    .typed::<ByteArrayType>()
                    .write_batch(&values, defs.as_deref(), None),
                None => return Err(io::Error::other("a Parquet column has no buffer")),
            };
            written.map_err(to_io)?;
            column.close().map_err(to_io)?;
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

/// One row's envelope columns and the text of one other column (`None` when null or absent
/// from the file), as `sluice lake validate` reads them.
pub(crate) struct ColumnRow {
    pub source: String,
    pub event_id: String,
    pub text: Option<String>,
}

/// Every row of a Parquet lake object with the column `name`.
pub(crate) fn read_column(object: &[u8], name: &str) -> io::Result<Vec<ColumnRow>> {
    use parquet::record::Field;
    let reader = SerializedFileReader::new(Bytes::copy_from_slice(object)).map_err(to_io)?;
    let mut rows = Vec::new();
    for row in reader.get_row_iter(None).map_err(to_io)? {
        let row = row.map_err(to_io)?;
        let text = row
            .get_column_iter()
            .find_map(|(column, field)| match field {
                Field::Str(text) if column == name => Some(text.clone()),
                _ => None,
            });
        rows.push(ColumnRow {
            source: row.get_string(2).map_err(to_io)?.clone(),
            event_id: row.get_string(3).map_err(to_io)?.clone(),
            text,
        });
    }
    Ok(rows)
}

/// A Parquet lake object's rows as the envelopes they were written from, for `sluice lake
/// replay`: read one row group at a time (a few MiB of raw JSON, [`ROW_GROUP_BYTES`]), so
/// an object is never held whole.
///
/// The envelope comes back as an NDJSON line of the same lake gives it: `data` the same
/// text, the `ocsf` column as the envelope's `ocsf` member, and the times at the
/// millisecond (NDJSON lines hold milliseconds). Rows of `payload = "ocsf"` have no `data`:
/// their OCSF event comes back as `data`, marked as the event's OCSF form.
pub(crate) struct EnvelopeRows {
    reader: SerializedFileReader<std::fs::File>,
    next_group: usize,
    buffered: std::collections::VecDeque<Envelope>,
}

impl EnvelopeRows {
    /// Reads the footer of the Parquet file `file`.
    pub fn open(file: std::fs::File) -> io::Result<EnvelopeRows> {
        Ok(EnvelopeRows {
            reader: SerializedFileReader::new(file).map_err(to_io)?,
            next_group: 0,
            buffered: Default::default(),
        })
    }

    /// The next row's envelope, `None` after the last; `Err` for a row that is not one the
    /// lake writes (its position is the caller's to name).
    pub fn next_envelope(&mut self) -> io::Result<Option<Envelope>> {
        while self.buffered.is_empty() {
            if self.next_group >= self.reader.metadata().num_row_groups() {
                return Ok(None);
            }
            let group = self.reader.get_row_group(self.next_group).map_err(to_io)?;
            self.next_group += 1;
            for row in group.get_row_iter(None).map_err(to_io)? {
                self.buffered.push_back(envelope_of(&row.map_err(to_io)?)?);
            }
        }
        Ok(self.buffered.pop_front())
    }
}

/// The envelope one row holds (see [`EnvelopeRows`]).
fn envelope_of(row: &parquet::record::Row) -> io::Result<Envelope> {
    use crate::source::RawJson;
    use crate::transform::{EnvelopeTime, OcsfForm};
    use parquet::record::Field;
    let (mut event_time, mut parse_time, mut source, mut event_id) = (None, None, None, None);
    let (mut data, mut ocsf) = (None, None);
    for (name, field) in row.get_column_iter() {
        match (name.as_str(), field) {
            ("event_time", Field::TimestampMicros(v) | Field::Long(v)) => event_time = Some(*v),
            ("parse_time", Field::TimestampMicros(v) | Field::Long(v)) => parse_time = Some(*v),
            ("source", Field::Str(text)) => source = Some(text.as_str()),
            ("event_id", Field::Str(text)) => event_id = Some(text.as_str()),
            ("data", Field::Str(text)) => data = Some(text.as_str()),
            ("ocsf", Field::Str(text)) => ocsf = Some(text.as_str()),
            _ => {}
        }
    }
    let missing = |column: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the row has no `{column}` value"),
        )
    };
    // NDJSON lines keep milliseconds: replay gives the same instants from either format.
    let time = |micros: Option<i64>, column: &str| {
        micros
            .and_then(|m| chrono::DateTime::from_timestamp_millis(m.div_euclid(1000)))
            .map(EnvelopeTime)
            .ok_or_else(|| missing(column))
    };
    let json = |text: &str, column: &str| {
        RawJson::parse(text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("`{column}` is not JSON: {e}"),
            )
        })
    };
    let (data, ocsf) = match (data, ocsf) {
        (Some(data), Some(ocsf)) => (json(data, "data")?, OcsfForm::Member(json(ocsf, "ocsf")?)),
        (Some(data), None) => (json(data, "data")?, OcsfForm::Absent),
        // `payload = "ocsf"`: the OCSF event is all the row holds.
        (None, Some(ocsf)) => (json(ocsf, "ocsf")?, OcsfForm::InData),
        (None, None) => return Err(missing("data")),
    };
    Ok(Envelope {
        event_time: time(event_time, "event_time")?,
        parse_time: time(parse_time, "parse_time")?,
        source: Arc::from(source.ok_or_else(|| missing("source"))?),
        event_id: event_id.ok_or_else(|| missing("event_id"))?.to_string(),
        data,
        ocsf,
    })
}
