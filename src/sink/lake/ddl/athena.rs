//! Athena: an external table with partition projection over `s3://` (no crawler, no
//! `MSCK REPAIR`), and the `_latest` view (Trino has no `QUALIFY`).

use std::fmt::Write as _;

use super::payload::Kind as ColumnKind;
use super::{quote, Layout};
use crate::sink::lake::{ObjectKind, SegmentKind};

pub(super) fn athena(layout: &Layout, out: &mut String) {
    let mut properties = vec![("projection.enabled".to_string(), "true".to_string())];
    let mut location_template = layout.base.clone();
    for (i, segment) in layout.dynamic.iter().enumerate() {
        let Some(p) = layout.partitions.iter().find(|p| p.segment == i) else {
            // A static segment after a dynamic one is part of every key.
            if let SegmentKind::Static(text) = &segment.kind {
                location_template.push_str(text);
                location_template.push('/');
            }
            continue;
        };
        let column = &p.column;
        let key = |name: &str| format!("projection.{column}.{name}");
        match &p.kind {
            SegmentKind::Date => {
                properties.push((key("type"), "date".into()));
                properties.push((key("format"), "yyyy-MM-dd".into()));
                properties.push((key("range"), "NOW-3YEARS,NOW+1DAYS".into()));
                properties.push((key("interval"), "1".into()));
                properties.push((key("interval.unit"), "DAYS".into()));
            }
            SegmentKind::Hour => {
                properties.push((key("type"), "integer".into()));
                properties.push((key("range"), "0,23".into()));
                properties.push((key("digits"), "2".into()));
            }
            SegmentKind::Integer { digits, min, max } => {
                properties.push((key("type"), "integer".into()));
                properties.push((key("range"), format!("{min},{max}")));
                properties.push((key("digits"), digits.to_string()));
            }
            _ => properties.push((key("type"), "injected".into())),
        }
        match &segment.column {
            Some(name) => {
                let _ = write!(location_template, "{name}=${{{column}}}/");
            }
            None => {
                let _ = write!(location_template, "${{{column}}}/");
            }
        }
    }
    properties.push(("storage.location.template".into(), location_template));
    let partitions: Vec<String> = layout
        .partitions
        .iter()
        .map(|p| format!("{} string", p.column))
        .collect();
    let partitioned = if partitions.is_empty() {
        String::new()
    } else {
        format!("PARTITIONED BY ({})\n", partitions.join(", "))
    };
    let properties: Vec<String> = properties
        .iter()
        .map(|(k, v)| format!("  {} = {}", quote(k), quote(v)))
        .collect();
    let payload_types: String = layout
        .payload
        .iter()
        .map(|c| {
            let ty = match c.kind {
                ColumnKind::Json | ColumnKind::Text => "string",
                ColumnKind::Time => "timestamp",
                ColumnKind::Integer => "bigint",
            };
            format!(",\n  {} {ty}", c.name)
        })
        .collect();
    let data: Vec<String> = layout
        .payload
        .iter()
        .map(|c| match c.kind {
            ColumnKind::Json => format!("json_parse({0}) AS {0}", c.name),
            _ => c.name.to_string(),
        })
        .collect();
    let data = data.join(",\n  ");
    let (time_type, data_note, storage) = match layout.kind {
        ObjectKind::Parquet => ("timestamp", "", "STORED AS PARQUET"),
        ObjectKind::Ndjson(_) => (
            "string",
            " (the OpenX SerDe keeps nested objects as text)",
            "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'\n\
             STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'\n\
             OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'",
        ),
    };
    let _ = writeln!(
        out,
        "-- Partition projection: no crawler and no MSCK REPAIR; new objects are queryable at once.\n\
         -- The dt range is relative to today; widen it for older backfills.\n\
         -- `data` (and `ocsf`) is the event's JSON text{data_note}.\n\
         CREATE EXTERNAL TABLE IF NOT EXISTS {table} (\n  event_time {time_type},\n  parse_time {time_type},\n  source string,\n  event_id string{payload_types}\n)\n\
         {partitioned}{storage}\n\
         LOCATION {location}\n\
         TBLPROPERTIES (\n{properties}\n);\n",
        table = layout.table,
        location = quote(&layout.base),
        properties = properties.join(",\n"),
    );
    let (event_time, parse_time) = match layout.kind {
        ObjectKind::Parquet => ("event_time", "parse_time"),
        ObjectKind::Ndjson(_) => (
            "from_iso8601_timestamp(event_time) AS event_time",
            "from_iso8601_timestamp(parse_time) AS parse_time",
        ),
    };
    let typed: String = layout
        .partitions
        .iter()
        .map(|p| match p.kind {
            SegmentKind::Date => format!("  CAST({0} AS date) AS {0},\n", p.column),
            SegmentKind::Hour | SegmentKind::Integer { .. } => {
                format!("  CAST({0} AS integer) AS {0},\n", p.column)
            }
            _ => format!("  {},\n", p.column),
        })
        .collect();
    let _ = writeln!(
        out,
        "CREATE OR REPLACE VIEW {} AS\nSELECT\n  {event_time},\n  {parse_time},\n  source,\n  event_id,\n{typed}  {data}\nFROM {table}\n\
         WHERE NOT EXISTS (\n  SELECT 1\n  FROM {table} AS newer\n  WHERE newer.source = {table}.source\n    AND newer.event_id = {table}.event_id\n    AND newer.parse_time > {table}.parse_time\n)\n\
         ORDER BY event_time DESC;",
        layout.view,
        table = layout.table
    );
}
