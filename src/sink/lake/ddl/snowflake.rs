//! Snowflake: a file format, an external stage, the table, a Snowpipe whose `COPY INTO`
//! takes each partition value from the object's key, and the `_latest` view.

use std::fmt::Write as _;

use super::payload::Kind as ColumnKind;
use super::{quote, Layout, NEWEST_COPY};
use crate::sink::lake::{Compression, ObjectKind, SegmentKind};

pub(super) fn snowflake(layout: &Layout, out: &mut String) {
    let ident = &layout.ident;
    let (format_name, format_options, pattern) = match layout.kind {
        ObjectKind::Ndjson(Compression::Gzip) => (
            "sluice_ndjson_gzip",
            "TYPE = JSON\n  COMPRESSION = GZIP",
            ".*[.]ndjson[.]gz",
        ),
        ObjectKind::Ndjson(Compression::Zstd) => (
            "sluice_ndjson_zstd",
            "TYPE = JSON\n  COMPRESSION = ZSTD",
            ".*[.]ndjson[.]zst",
        ),
        // Logical types make the timestamp columns timestamps (not integers) in `$1`.
        ObjectKind::Parquet => (
            "sluice_parquet",
            "TYPE = PARQUET\n  USE_LOGICAL_TYPE = TRUE",
            ".*[.]parquet",
        ),
    };
    let parquet = layout.kind == ObjectKind::Parquet;
    let stage = format!("{ident}_lake_stage");
    let pipe = format!("{ident}_lake_pipe");
    let notify = !layout.base.starts_with("s3://");
    let _ = write!(
        out,
        "-- Needs a storage integration allowed on this location (CREATE STORAGE INTEGRATION,\n\
         -- an ACCOUNTADMIN task); sluice_lake is its assumed name.\n\
         -- Snowpipe AUTO_INGEST needs the bucket's object-created notifications sent to the pipe\n\
         -- (SHOW PIPES gives the channel), including copies: sluice publishes each object by a\n\
         -- server-side copy from _staging/, which is outside the stage, so staged objects never load.\n\
         -- Object names are fixed per batch, so Snowpipe's load history never loads one twice.\n\
         CREATE FILE FORMAT IF NOT EXISTS {format_name}\n  {format_options};\n\n\
         CREATE STAGE IF NOT EXISTS {stage}\n  URL = {url}\n  STORAGE_INTEGRATION = sluice_lake\n  FILE_FORMAT = (FORMAT_NAME = '{format_name}');\n\n",
        url = quote(&layout.base),
    );
    let _ = writeln!(out, "CREATE TABLE IF NOT EXISTS {} (", layout.table);
    let mut columns = vec![
        "  event_time TIMESTAMP_TZ".to_string(),
        "  parse_time TIMESTAMP_TZ".to_string(),
        "  source VARCHAR".to_string(),
        "  event_id VARCHAR".to_string(),
    ];
    for c in &layout.payload {
        let ty = match c.kind {
            ColumnKind::Json => "VARIANT",
            ColumnKind::Time => "TIMESTAMP_TZ",
            ColumnKind::Integer => "NUMBER(19,0)",
            ColumnKind::Text => "VARCHAR",
        };
        columns.push(format!("  {} {ty}", c.name));
    }
    for p in &layout.partitions {
        let ty = match p.kind {
            SegmentKind::Date => "DATE".to_string(),
            SegmentKind::Hour => "NUMBER(2,0)".to_string(),
            SegmentKind::Integer { digits, .. } => format!("NUMBER({digits},0)"),
            _ => "VARCHAR".to_string(),
        };
        columns.push(format!("  {} {ty}", p.column));
    }
    columns.push("  file_name VARCHAR".to_string());
    let _ = writeln!(out, "{}\n);\n", columns.join(",\n"));

    let mut names = vec!["event_time", "parse_time", "source", "event_id"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    let mut selects = vec![
        "$1:event_time::TIMESTAMP_TZ".to_string(),
        "$1:parse_time::TIMESTAMP_TZ".to_string(),
        "$1:source::VARCHAR".to_string(),
        "$1:event_id::VARCHAR".to_string(),
    ];
    for c in &layout.payload {
        names.push(c.name.to_string());
        let n = c.name;
        selects.push(match c.kind {
            // Parquet objects hold JSON as text.
            ColumnKind::Json if parquet => format!("PARSE_JSON($1:{n}::VARCHAR)"),
            ColumnKind::Json => format!("$1:{n}"),
            ColumnKind::Time => format!("$1:{n}::TIMESTAMP_TZ"),
            ColumnKind::Integer => format!("$1:{n}::NUMBER(19,0)"),
            ColumnKind::Text => format!("$1:{n}::VARCHAR"),
        });
    }
    for p in &layout.partitions {
        names.push(p.column.clone());
        // The partition value is taken from the object's key, as hive readers do.
        let value = format!(
            "REGEXP_SUBSTR(METADATA$FILENAME, {}, 1, 1, 'e', 2)",
            quote(&format!("(^|/){}=([^/]*)/", regex_escape(&p.column)))
        );
        selects.push(match p.kind {
            SegmentKind::Date => format!("TO_DATE({value})"),
            SegmentKind::Hour | SegmentKind::Integer { .. } => format!("TO_NUMBER({value})"),
            _ => value,
        });
    }
    names.push("file_name".into());
    selects.push("METADATA$FILENAME".into());
    let integration = if notify {
        "\n  INTEGRATION = 'SLUICE_LAKE_NOTIFICATIONS'"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "CREATE PIPE IF NOT EXISTS {pipe}\n  AUTO_INGEST = TRUE{integration}\nAS\nCOPY INTO {} ({})\nFROM (\n  SELECT\n    {}\n  FROM @{stage}\n)\nPATTERN = {}\nFILE_FORMAT = (FORMAT_NAME = {});\n",
        layout.table,
        names.join(", "),
        selects.join(",\n    "),
        quote(pattern),
        quote(format_name),
    );
    let partition_columns: String = layout
        .partitions
        .iter()
        .map(|p| format!("  {},\n", p.column))
        .collect();
    let payload: Vec<String> = layout.payload.iter().map(|c| c.name.to_string()).collect();
    let _ = writeln!(
        out,
        "CREATE OR REPLACE VIEW {} AS\nSELECT\n  event_time,\n  parse_time,\n  source,\n  event_id,\n{partition_columns}  {}\nFROM {}\n{NEWEST_COPY}\nORDER BY event_time DESC;",
        layout.view,
        payload.join(",\n  "),
        layout.table
    );
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_string()
            } else {
                format!("[{c}]")
            }
        })
        .collect()
}
