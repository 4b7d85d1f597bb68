//! Sources whose listing names files (`files`): each record a page lists is a file (its event
//! time and id are the listing's, which windows, dedup and the checkpoint work on), and the
//! rows of that file are the events delivered. Salesforce's EventLogFile is the case: a SOQL
//! query lists the files, each record's `LogFile` field is the path of a CSV whose rows are
//! the events.
//!
//! A file is read whole, under `files.max_size`, then its rows are parsed one at a time (see
//! [`FileRows`]), so memory holds one file's bytes and the rows being staged, never a page's
//! worth of files. A row's id is the file's id and the row's number (`<file id>:<n>`, from 1):
//! stable, because a published file never changes (a vendor publishing more rows for the
//! same period publishes another file, with another id).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::config::EventTimeConfig;
use super::path::JsonPath;
use super::raw::RawJson;
use super::records::Record;

/// `files`: each listed record names a file whose rows are the events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// Path, in each listed record, of the file's location: a path on `base_url`'s origin
    /// (`/services/data/v64.0/sobjects/EventLogFile/0AT.../LogFile`) or a full URL there.
    /// Credentials go with the request, so any other origin is refused.
    pub url_path: JsonPath,
    /// How the file is written.
    pub format: FileFormat,
    /// Where each row keeps its event time: `path` names the column.
    pub event_time: EventTimeConfig,
    /// Path, in each listed record, of the file's length in bytes (Salesforce's
    /// `LogFileLength`): a file that comes shorter or longer is taken as cut in transit and
    /// fetched again, then fails the run. A CSV cut at the end of a row still parses, so
    /// without a length a cut file could lose rows unnoticed.
    #[serde(default)]
    pub length_path: Option<JsonPath>,
    /// Largest file read; a larger one fails the run, naming the file.
    #[serde(default = "default_max_size")]
    pub max_size: bytesize::ByteSize,
}

/// `files.format`: how a file's rows are written.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// RFC 4180 CSV, UTF-8, a header row naming the columns; each row becomes a JSON object
    /// of column name to text.
    Csv,
}

fn default_max_size() -> bytesize::ByteSize {
    bytesize::ByteSize::mib(512)
}

/// A listed file that cannot be fetched or read as its config says. Each message names the
/// listed record or the row, and the config key to check; the caller adds the file's URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilesError {
    /// The header row is not CSV.
    #[error("its header row cannot be read as CSV: {0}")]
    Header(String),
    /// The header lacks the event time's column.
    #[error("its header has no column `{column}` (config: files.event_time.path); the columns are {columns}")]
    NoTimeColumn {
        /// The configured column.
        column: String,
        /// The columns there are, joined by `, `.
        columns: String,
    },
    /// A row is not CSV.
    #[error("row {row} cannot be read as CSV: {detail}")]
    Row {
        /// The row's number (the header is row 0).
        row: u64,
        /// The CSV reader's message.
        detail: String,
    },
    /// A row has no event time.
    #[error("row {row}: no time in column `{column}` (config: files.event_time)")]
    NoTime {
        /// The row's number.
        row: u64,
        /// The configured column.
        column: String,
    },
    /// A row's event time does not parse.
    #[error("row {row}: the time in column `{column}` is {shown:?} and does not parse as {format} (config: files.event_time)")]
    TimeFormat {
        /// The row's number.
        row: u64,
        /// The configured column.
        column: String,
        /// The value, cut short.
        shown: String,
        /// The configured format, as the config spells it.
        format: String,
    },
    /// The listed record's file location is not a non-empty string.
    #[error(
        "record {record} has no file location at `{path}`, but {held} (config: files.url_path)"
    )]
    LocationNotText {
        /// The listed record's id.
        record: String,
        /// `files.url_path`.
        path: String,
        /// What is there, cut short.
        held: String,
    },
    /// The listed record names no file.
    #[error("record {record} has no `{path}` naming its file (config: files.url_path)")]
    NoLocation {
        /// The listed record's id.
        record: String,
        /// `files.url_path`.
        path: String,
    },
    /// The listed length is a number, but not a whole number of bytes.
    #[error("record {record} gives its file a length of {length} at `{path}`, not a whole number of bytes (config: files.length_path)")]
    LengthNotWhole {
        /// The listed record's id.
        record: String,
        /// The number given.
        length: String,
        /// `files.length_path`.
        path: String,
    },
    /// The listed record gives no length.
    #[error("record {record} has no `{path}` giving its file's length (config: files.length_path; remove it if the API does not give lengths)")]
    NoLength {
        /// The listed record's id.
        record: String,
        /// `files.length_path`.
        path: String,
    },
    /// The listed length is not a number.
    #[error(
        "record {record} has {held} at `{path}`, not a length in bytes (config: files.length_path)"
    )]
    LengthNotNumber {
        /// The listed record's id.
        record: String,
        /// What is there, cut short.
        held: String,
        /// `files.length_path`.
        path: String,
    },
}

/// The rows of one CSV file as events, parsed one at a time from the file's bytes.
pub struct FileRows<'a> {
    reader: csv::Reader<&'a [u8]>,
    columns: Vec<String>,
    file_id: &'a str,
    time: &'a EventTimeConfig,
    record: csv::StringRecord,
    /// The number of the last row read (the header is row 0).
    row: u64,
}

impl<'a> FileRows<'a> {
    /// Reads the header of `body`, the file of the listed record `file_id`. `Err` says what
    /// is wrong with it (the caller names the file).
    pub fn csv(
        body: &'a [u8],
        file_id: &'a str,
        time: &'a EventTimeConfig,
    ) -> Result<Self, FilesError> {
        // A byte-order mark is not part of the first column's name.
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(body);
        let columns: Vec<String> = reader
            .headers()
            .map_err(|err| FilesError::Header(err.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        // An empty file (no header at all) has no rows; a header without the time column
        // cannot give any row a time.
        if !columns.is_empty() && !columns.iter().any(|c| time.path.as_str() == c) {
            return Err(FilesError::NoTimeColumn {
                column: time.path.to_string(),
                columns: columns.join(", "),
            });
        }
        Ok(FileRows {
            reader,
            columns,
            file_id,
            time,
            record: csv::StringRecord::new(),
            row: 0,
        })
    }

    /// The next row as an event, `None` after the last. `Err` names the row and what is
    /// wrong with it.
    pub fn next_row(&mut self) -> Option<Result<Record, FilesError>> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                self.row += 1;
                Some(self.to_record())
            }
            Err(err) => Some(Err(FilesError::Row {
                row: self.row + 1,
                detail: err.to_string(),
            })),
        }
    }

    fn to_record(&self) -> Result<Record, FilesError> {
        let mut object = Map::with_capacity(self.columns.len());
        for (column, value) in self.columns.iter().zip(self.record.iter()) {
            object.insert(column.clone(), Value::String(value.to_string()));
        }
        let value = Value::Object(object);
        let time = row_time(&value, self.time, self.row)?;
        Ok(Record {
            time,
            id: format!("{}:{}", self.file_id, self.row),
            data: RawJson::from_value(&value),
        })
    }
}

/// The event time of row number `n`, from its column `time.path`.
fn row_time(row: &Value, time: &EventTimeConfig, n: u64) -> Result<DateTime<Utc>, FilesError> {
    let column = time.path.as_str();
    let text = match row.get(column) {
        Some(Value::String(text)) if !text.is_empty() => text,
        _ => {
            return Err(FilesError::NoTime {
                row: n,
                column: column.to_string(),
            })
        }
    };
    crate::timefmt::parse_value(&Value::String(text.clone()), &time.format).ok_or_else(|| {
        FilesError::TimeFormat {
            row: n,
            column: column.to_string(),
            shown: text.chars().take(40).collect(),
            format: format!("{:?}", time.format),
        }
    })
}

/// The location of the file that the listed `record` names, at `url_path`. `Err` says what is
/// there instead.
pub fn location(record: &Record, url_path: &JsonPath) -> Result<String, FilesError> {
    match record.data.lookup(url_path).map(|raw| raw.get()) {
        Some(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(Value::String(text)) if !text.is_empty() => Ok(text),
            _ => Err(FilesError::LocationNotText {
                record: record.id.clone(),
                path: url_path.to_string(),
                held: raw.chars().take(60).collect(),
            }),
        },
        None => Err(FilesError::NoLocation {
            record: record.id.clone(),
            path: url_path.to_string(),
        }),
    }
}

/// The length in bytes the listed `record` gives its file at `length_path`, if it gives one
/// (`null` gives none). `Err` says what is there instead.
pub fn expected_length(record: &Record, length_path: &JsonPath) -> Result<Option<u64>, FilesError> {
    let raw = record.data.lookup(length_path).map(|raw| raw.get());
    let value = raw.map(serde_json::from_str::<Value>);
    match value {
        Some(Ok(Value::Null)) => Ok(None),
        Some(Ok(Value::Number(n))) => match n.as_f64() {
            Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 9.0e15 => Ok(Some(f as u64)),
            _ => Err(FilesError::LengthNotWhole {
                record: record.id.clone(),
                length: n.to_string(),
                path: length_path.to_string(),
            }),
        },
        None => Err(FilesError::NoLength {
            record: record.id.clone(),
            path: length_path.to_string(),
        }),
        Some(_) => Err(FilesError::LengthNotNumber {
            record: record.id.clone(),
            held: raw.unwrap_or_default().chars().take(60).collect(),
            path: length_path.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TimeFormat;

    fn time() -> EventTimeConfig {
        EventTimeConfig {
            path: JsonPath::parse("TIMESTAMP_DERIVED").unwrap(),
            format: TimeFormat::Rfc3339,
        }
    }

    fn all(body: &[u8]) -> Result<Vec<Record>, String> {
        let time = time();
        let mut rows = FileRows::csv(body, "0ATx", &time).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next_row() {
            out.push(row.map_err(|e| e.to_string())?);
        }
        Ok(out)
    }

    #[test]
    fn each_row_is_an_object_of_column_to_text_identified_by_file_and_row() {
        let body = b"\xEF\xBB\xBF\"EVENT_TYPE\",\"TIMESTAMP_DERIVED\",\"URI\"\n\"URI\",\"2026-12-07T10:00:01.250Z\",\"/home, \"\"quoted\"\"\"\n\"URI\",\"2026-12-07T10:00:02.000Z\",\"\"\n";
        let rows = all(body).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, "0ATx:1");
        assert_eq!(rows[1].id, "0ATx:2");
        assert_eq!(rows[0].time.to_rfc3339(), "2026-12-07T10:00:01.250+00:00");
        let first = rows[0].data.to_value().unwrap();
        assert_eq!(first["URI"], "/home, \"quoted\"");
        assert_eq!(first["EVENT_TYPE"], "URI");
        assert_eq!(rows[1].data.to_value().unwrap()["URI"], "");
    }

    #[test]
    fn an_empty_file_has_no_rows() {
        assert!(all(b"").unwrap().is_empty());
        assert!(all(b"\"EVENT_TYPE\",\"TIMESTAMP_DERIVED\"\n")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_bad_file_names_the_row_column_and_key() {
        let err = all(b"\"EVENT_TYPE\",\"TIMESTAMP\"\n\"URI\",\"x\"\n").unwrap_err();
        assert!(err.contains("no column `TIMESTAMP_DERIVED`"), "{err}");
        assert!(err.contains("files.event_time.path"), "{err}");
        let err = all(b"\"A\",\"TIMESTAMP_DERIVED\"\n\"1\",\"2026-12-07T10:00:00Z\"\n\"2\"\n")
            .unwrap_err();
        assert!(err.contains("row 2 cannot be read as CSV"), "{err}");
        let err = all(b"\"A\",\"TIMESTAMP_DERIVED\"\n\"1\",\"yesterday\"\n").unwrap_err();
        assert!(err.contains("row 1"), "{err}");
        assert!(err.contains("\"yesterday\""), "{err}");
        assert!(err.contains("files.event_time"), "{err}");
        let err = all(b"\"A\",\"TIMESTAMP_DERIVED\"\n\"1\",\"\"\n").unwrap_err();
        assert!(err.contains("no time in column"), "{err}");
        let err =
            all(b"\"A\",\"TIMESTAMP_DERIVED\"\n\"\xff\",\"2026-12-07T10:00:00Z\"\n").unwrap_err();
        assert!(err.contains("row 1 cannot be read as CSV"), "{err}");
    }

    #[test]
    fn the_location_is_a_non_empty_string() {
        let record = |json: &str| Record {
            time: Utc::now(),
            id: "0AT1".into(),
            data: RawJson::parse(json).unwrap(),
        };
        let length = JsonPath::parse("LogFileLength").unwrap();
        let of = |json: &str| expected_length(&record(json), &length);
        assert_eq!(of(r#"{"LogFileLength":1234.0}"#).unwrap(), Some(1234));
        assert_eq!(of(r#"{"LogFileLength":77}"#).unwrap(), Some(77));
        assert_eq!(of(r#"{"LogFileLength":null}"#).unwrap(), None);
        for bad in [
            r#"{"LogFileLength":1.5}"#,
            r#"{"LogFileLength":"9"}"#,
            r#"{}"#,
        ] {
            let err = of(bad).unwrap_err().to_string();
            assert!(
                err.contains("0AT1") && err.contains("files.length_path"),
                "{err}"
            );
        }
        let path = JsonPath::parse("LogFile").unwrap();
        assert_eq!(
            location(&record(r#"{"LogFile":"/x/LogFile"}"#), &path).unwrap(),
            "/x/LogFile"
        );
        for bad in [
            r#"{"LogFile":null}"#,
            r#"{"LogFile":""}"#,
            r#"{"Id":"0AT1"}"#,
        ] {
            let err = location(&record(bad), &path).unwrap_err().to_string();
            assert!(
                err.contains("0AT1") && err.contains("files.url_path"),
                "{err}"
            );
        }
    }
}
