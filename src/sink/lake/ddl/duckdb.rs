//! DuckDB: views over `read_json_auto` or `read_parquet` with `hive_partitioning`.

use std::fmt::Write as _;

use super::payload::Kind as ColumnKind;
use super::{quote, Layout, NEWEST_COPY};
use crate::sink::lake::{Compression, LakeLocation, ObjectKind, SegmentKind, StoreScheme};

pub(super) fn duckdb(layout: &Layout, out: &mut String) {
    let remote = match layout.config.location() {
        LakeLocation::Directory(_) => "",
        LakeLocation::Store { scheme: StoreScheme::Azure, .. } => {
            "-- Needs DuckDB's azure extension and a CREATE SECRET (TYPE azure) for the account.\n"
        }
        LakeLocation::Store { .. } => {
            "-- Needs DuckDB's httpfs extension and a CREATE SECRET (TYPE s3 or gcs) for the bucket.\n"
        }
    };
    let hive_types: Vec<String> = layout
        .partitions
        .iter()
        .map(|p| {
            let ty = match p.kind {
                SegmentKind::Date => "DATE",
                SegmentKind::Hour | SegmentKind::Integer { .. } => "INTEGER",
                _ => "VARCHAR",
            };
            format!("{}: {}", quote(&p.column), quote(ty))
        })
        .collect();
    let hive_types = if hive_types.is_empty() {
        String::new()
    } else {
        format!(",\n    hive_types = {{{}}}", hive_types.join(", "))
    };
    let partition_columns: String = layout
        .partitions
        .iter()
        .map(|p| format!("  {},\n", p.column))
        .collect();
    let glob = quote(&layout.glob());
    let parquet = layout.kind == ObjectKind::Parquet;
    let data: Vec<String> = layout
        .payload
        .iter()
        .map(|c| match c.kind {
            // Parquet objects hold JSON as text.
            ColumnKind::Json if parquet => format!("CAST({0} AS JSON) AS {0}", c.name),
            _ => c.name.to_string(),
        })
        .collect();
    let data = data.join(",\n  ");
    let json_columns: String = layout
        .payload
        .iter()
        .map(|c| format!(", {}: 'JSON'", quote(c.name)))
        .collect();
    let reader = match layout.kind {
        // Parquet's timestamps are UTC-adjusted (TIMESTAMPTZ to DuckDB).
        ObjectKind::Parquet => {
            format!("read_parquet(\n    {glob},\n    hive_partitioning = true{hive_types}\n)")
        }
        ObjectKind::Ndjson(compression) => {
            let compression = match compression {
                Compression::Gzip => "gzip",
                Compression::Zstd => "zstd",
            };
            // NDJSON lakes hold JSON columns only (`data`, `ocsf`).
            format!(
                "read_json_auto(\n    {glob},\n    format = 'newline_delimited',\n    compression = {},\n    hive_partitioning = true,\n    \
                 columns = {{'event_time': 'TIMESTAMPTZ', 'parse_time': 'TIMESTAMPTZ', 'source': 'VARCHAR', 'event_id': 'VARCHAR'{json_columns}}}{hive_types}\n)",
                quote(compression)
            )
        }
    };
    let _ = writeln!(
        out,
        "{remote}-- The view reads the published objects at query time; _staging/ is never matched.\n\
         -- (DuckDB refuses to create it before the first object of the source is published.)\n\
         CREATE OR REPLACE VIEW {table} AS\nSELECT\n  event_time,\n  parse_time,\n  source,\n  event_id,\n{partition_columns}  {data}\n\
         FROM {reader};\n",
        table = layout.table,
    );
    let _ = writeln!(
        out,
        "CREATE OR REPLACE VIEW {} AS\nSELECT *\nFROM {}\n{NEWEST_COPY}\nORDER BY event_time DESC;",
        layout.view, layout.table
    );
}
