//! BigQuery: an external table with hive partitioning over `gs://`, and the `_latest` view.

use std::fmt::Write as _;

use super::payload::Kind as ColumnKind;
use super::{quote, Layout, NEWEST_COPY};
use crate::sink::lake::{ObjectKind, SegmentKind};

pub(super) fn bigquery(layout: &Layout, out: &mut String) {
    let partitions: Vec<String> = layout
        .partitions
        .iter()
        .map(|p| {
            let ty = match p.kind {
                SegmentKind::Date => "DATE",
                SegmentKind::Hour | SegmentKind::Integer { .. } => "INT64",
                _ => "STRING",
            };
            format!("{} {ty}", p.column)
        })
        .collect();
    let with_partitions = if partitions.is_empty() {
        String::new()
    } else {
        format!("WITH PARTITION COLUMNS ({})\n", partitions.join(", "))
    };
    let prefix = layout.base.trim_end_matches('/');
    // Parquet objects hold JSON as text: a STRING column, parsed by the view.
    let parquet = layout.kind == ObjectKind::Parquet;
    let format = match layout.kind {
        ObjectKind::Parquet => "format = 'PARQUET'",
        ObjectKind::Ndjson(_) => "format = 'NEWLINE_DELIMITED_JSON',\n  compression = 'GZIP'",
    };
    let payload_types: String = layout
        .payload
        .iter()
        .map(|c| {
            let ty = match c.kind {
                ColumnKind::Json if parquet => "STRING",
                ColumnKind::Json => "JSON",
                ColumnKind::Time => "TIMESTAMP",
                ColumnKind::Integer => "INT64",
                ColumnKind::Text => "STRING",
            };
            format!(",\n  {} {ty}", c.name)
        })
        .collect();
    let data: Vec<String> = layout
        .payload
        .iter()
        .map(|c| match c.kind {
            ColumnKind::Json if parquet => format!("SAFE.PARSE_JSON({0}) AS {0}", c.name),
            _ => c.name.to_string(),
        })
        .collect();
    let data = data.join(",\n  ");
    let _ = writeln!(
        out,
        "-- Objects appear in the table as soon as sluice publishes them; nothing is loaded.\n\
         CREATE EXTERNAL TABLE IF NOT EXISTS `{table}` (\n  event_time TIMESTAMP,\n  parse_time TIMESTAMP,\n  source STRING,\n  event_id STRING{payload_types}\n)\n\
         {with_partitions}OPTIONS (\n  {format},\n  uris = [{uri}],\n  hive_partition_uri_prefix = {prefix},\n  require_hive_partition_filter = false\n);\n",
        table = layout.table,
        uri = quote(&format!("{}*{}", layout.base, layout.kind.extension())),
        prefix = quote(prefix),
    );
    let typed: String = layout
        .partitions
        .iter()
        .map(|p| format!("  {},\n", p.column))
        .collect();
    let _ = writeln!(
        out,
        "CREATE OR REPLACE VIEW `{}` AS\nSELECT\n  event_time,\n  parse_time,\n  source,\n  event_id,\n{typed}  {data}\nFROM `{}`\n-- BigQuery has asked for a WHERE beside QUALIFY.\nWHERE TRUE\n{NEWEST_COPY}\nORDER BY event_time DESC;",
        layout.view, layout.table
    );
}
