//! `sluice lake ddl`: the SQL that loads or queries a lake, for its configured layout.
//!
//! For one source it prints a table (`event_time`, `parse_time`, `source`, `event_id`, the
//! event as `data` in the dialect's semi-structured type, and the key template's partition
//! columns), a latest-first view with typed columns, and what reads the objects:
//!
//! | dialect | reads objects with |
//! |---|---|
//! | Snowflake | an external stage and a Snowpipe whose `COPY INTO` uses a JSON file format |
//! | BigQuery | an external table with hive partitioning over `gs://` |
//! | Athena | an external table with partition projection over `s3://` |
//! | DuckDB | a view over `read_json_auto` with `hive_partitioning` |
//!
//! For Parquet lakes (`format = "parquet"`) each dialect reads Parquet instead: a Parquet file
//! format (Snowflake, with logical types), `format = 'PARQUET'` (BigQuery), the Parquet SerDe
//! (Athena), `read_parquet` (DuckDB). `data` is JSON text in Parquet objects, so the table
//! keeps it as a string where the dialect cannot convert on load, and the view parses it.
//!
//! Only the published layout is ever named: stages, tables and globs point at
//! `<prefix>/<static part of the template>`, which `_staging/` is outside of.
//!
//! The table holds every row of every object. The `_latest` view holds one row per
//! `(source, event_id)`, the copy with the newest `parse_time`: a range delivered again with
//! `sluice backfill --redeliver` sits in the lake twice (a published object is never
//! replaced), and the view shows it once. Snowflake, BigQuery and DuckDB keep the first row
//! of `ROW_NUMBER()` under `QUALIFY`; Athena (Trino has no `QUALIFY`) drops a row when a copy
//! with a later `parse_time` exists.

use std::fmt::Write as _;

use super::ddl_ocsf::{payload_columns, Kind as ColumnKind, PayloadColumn};
use super::{sanitize, Compression, LakeLocation, ObjectKind, Segment, SegmentKind, StoreScheme};
use crate::sink::config::LakeConfig;
use crate::transform::OcsfInto;

/// The SQL dialects `sluice lake ddl` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    /// Snowflake: stage, table, Snowpipe (`COPY INTO`), view.
    Snowflake,
    /// BigQuery: external table with hive partitioning, view.
    Bigquery,
    /// Amazon Athena: external table with partition projection, view.
    Athena,
    /// DuckDB: views over `read_json_auto`.
    Duckdb,
}

impl Dialect {
    fn title(self) -> &'static str {
        match self {
            Dialect::Snowflake => "Snowflake",
            Dialect::Bigquery => "BigQuery",
            Dialect::Athena => "Athena",
            Dialect::Duckdb => "DuckDB",
        }
    }
}

/// What to name the objects the DDL creates.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Table name; `<source>_events` when absent.
    pub table: Option<String>,
    /// Schema (dataset, database) the objects go in; BigQuery needs one (`sluice` default).
    pub schema: Option<String>,
}

/// A partition column of the layout.
struct Partition {
    column: String,
    kind: SegmentKind,
    /// Its segment's index in [`Layout::dynamic`].
    segment: usize,
}

/// What every dialect needs to know about the lake and the source.
struct Layout<'a> {
    config: &'a LakeConfig,
    kind: ObjectKind,
    /// The columns after the envelope's four: `data`, `ocsf`, the typed OCSF columns.
    payload: Vec<PayloadColumn>,
    /// Where the source's objects are: the lake root plus the template's static prefix,
    /// as a location for the dialect, ending in `/`.
    base: String,
    /// The template's segments after the static prefix.
    dynamic: Vec<Segment>,
    partitions: Vec<Partition>,
    table: String,
    view: String,
    ident: String,
}

/// The DDL for `source` of the lake `config`, in `dialect`. Errors say why the dialect cannot
/// read this lake, with a hint.
pub fn ddl(
    config: &LakeConfig,
    dialect: Dialect,
    source: &str,
    names: &Names,
) -> Result<String, String> {
    ddl_with_ocsf(config, dialect, source, names, None)
}

/// [`ddl`] for a source whose events reach the lake with an OCSF form made by an `ocsf` step
/// with `into` (`Config::ocsf_for`): the table gains `ocsf` and, in Parquet lakes, the typed
/// OCSF columns; `payload = "ocsf"` drops `data`.
pub fn ddl_with_ocsf(
    config: &LakeConfig,
    dialect: Dialect,
    source: &str,
    names: &Names,
    ocsf: Option<OcsfInto>,
) -> Result<String, String> {
    let mut layout = Layout::new(config, dialect, source, names)?;
    layout.payload = payload_columns(config, ocsf)?;
    let mut out = String::new();
    // Writing to a String cannot fail; `write!` results are ignored below for that reason.
    let _ = writeln!(
        out,
        "-- {}: lake sink `{}`, source `{}`, objects under {}",
        dialect.title(),
        config.name,
        source,
        layout.base
    );
    let _ = writeln!(
        out,
        "-- generated by `sluice lake ddl` for key_template \"{}\"",
        config.key_template.as_str()
    );
    match dialect {
        Dialect::Snowflake => snowflake(&layout, &mut out),
        Dialect::Bigquery => bigquery(&layout, &mut out),
        Dialect::Athena => athena(&layout, &mut out),
        Dialect::Duckdb => duckdb(&layout, &mut out),
    }
    Ok(out)
}

impl<'a> Layout<'a> {
    fn new(
        config: &'a LakeConfig,
        dialect: Dialect,
        source: &'a str,
        names: &Names,
    ) -> Result<Layout<'a>, String> {
        let safe = sanitize(source);
        let template = &config.key_template;
        let static_prefix = template.static_prefix(&safe);
        let segments = template.segments(&safe);
        let static_count = static_prefix.matches('/').count();
        let dynamic: Vec<Segment> = segments.into_iter().skip(static_count).collect();
        let root = root_location(config, dialect)?;
        let base = format!("{root}{static_prefix}");
        let mut partitions = Vec::new();
        for (i, segment) in dynamic.iter().enumerate() {
            if matches!(segment.kind, SegmentKind::Static(_)) {
                continue;
            }
            let column = match &segment.column {
                Some(column) => column.clone(),
                None if dialect == Dialect::Bigquery => {
                    return Err(format!(
                        "BigQuery's hive partitioning needs name=value segments, and key_template segment `{}` has no name (hint: write it as e.g. part={})",
                        segment.text, segment.text
                    ))
                }
                None => format!("part{i}"),
            };
            partitions.push(Partition {
                column: identifier(&column),
                kind: segment.kind.clone(),
                segment: i,
            });
        }
        if dialect == Dialect::Bigquery
            && config.object_kind() == ObjectKind::Ndjson(Compression::Zstd)
        {
            return Err("BigQuery reads gzip-compressed JSON only, and this lake writes zstd (hint: set compression = \"gzip\" on the sink)".into());
        }
        let ident = identifier(source);
        let table = names
            .table
            .clone()
            .unwrap_or_else(|| format!("{ident}_events"));
        let schema = names
            .schema
            .clone()
            .or_else(|| (dialect == Dialect::Bigquery).then(|| "sluice".to_string()));
        let qualify = |name: &str| match &schema {
            Some(schema) => format!("{schema}.{name}"),
            None => name.to_string(),
        };
        Ok(Layout {
            config,
            kind: config.object_kind(),
            payload: payload_columns(config, None)?,
            base,
            dynamic,
            partitions,
            table: qualify(&table),
            view: qualify(&format!("{table}_latest")),
            ident,
        })
    }

    /// The glob of the source's objects: dynamic segments become `*`.
    fn glob(&self) -> String {
        let mut glob = self.base.clone();
        for segment in &self.dynamic {
            match (&segment.kind, &segment.column) {
                (SegmentKind::Static(text), _) => glob.push_str(text),
                (_, Some(column)) => {
                    glob.push_str(column);
                    glob.push_str("=*");
                }
                (_, None) => glob.push('*'),
            }
            glob.push('/');
        }
        glob.push('*');
        glob.push_str(self.kind.extension());
        glob
    }
}

/// The lake root as the dialect addresses it, ending in `/`.
fn root_location(config: &LakeConfig, dialect: Dialect) -> Result<String, String> {
    let (scheme, bucket, prefix) = match config.location() {
        LakeLocation::Directory(dir) => {
            if dialect != Dialect::Duckdb {
                return Err(format!(
                    "{} loads from cloud storage, and lake `{}` is the local directory {} (hint: use an s3://, gs:// or az:// url for the sink, or --dialect duckdb)",
                    dialect.title(),
                    config.name,
                    dir.display()
                ));
            }
            // Readers run elsewhere: a path relative to the config's directory would not do.
            let dir = std::path::absolute(&dir).unwrap_or(dir);
            let mut root = dir.display().to_string();
            if !root.ends_with('/') {
                root.push('/');
            }
            return Ok(root);
        }
        LakeLocation::Store {
            scheme,
            bucket,
            prefix,
        } => (scheme, bucket, prefix),
    };
    let path = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    let refuse = |wants: &str| {
        Err(format!(
            "{} reads {wants} only, and lake `{}` is at {} (hint: pick the dialect of the lake's cloud)",
            dialect.title(),
            config.name,
            config.display_location()
        ))
    };
    Ok(match (dialect, scheme) {
        (Dialect::Athena, StoreScheme::S3) => format!("s3://{bucket}/{path}"),
        (Dialect::Athena, _) => return refuse("s3://"),
        (Dialect::Bigquery, StoreScheme::Gcs) => format!("gs://{bucket}/{path}"),
        (Dialect::Bigquery, _) => return refuse("gs://"),
        (_, StoreScheme::S3) => format!("s3://{bucket}/{path}"),
        (Dialect::Snowflake, StoreScheme::Gcs) => format!("gcs://{bucket}/{path}"),
        (_, StoreScheme::Gcs) => format!("gs://{bucket}/{path}"),
        // The account is not part of an az:// URL (object_store takes it from the
        // environment); Snowflake needs it in the stage URL.
        (Dialect::Snowflake, StoreScheme::Azure) => {
            let account = std::env::var("AZURE_STORAGE_ACCOUNT_NAME")
                .unwrap_or_else(|_| "STORAGE_ACCOUNT".to_string());
            format!("azure://{account}.blob.core.windows.net/{bucket}/{path}")
        }
        (_, StoreScheme::Azure) => format!("az://{bucket}/{path}"),
    })
}

/// `name` as a plain SQL identifier: lowercase letters, digits and `_`, not starting with a
/// digit.
fn identifier(name: &str) -> String {
    let mut ident: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert(0, '_');
    }
    ident
}

/// Keeps one row per event in the `_latest` views: the copy parsed last (see the module docs).
const NEWEST_COPY: &str =
    "QUALIFY ROW_NUMBER() OVER (PARTITION BY source, event_id ORDER BY parse_time DESC) = 1";

/// A single-quoted SQL string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn snowflake(layout: &Layout, out: &mut String) {
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

fn bigquery(layout: &Layout, out: &mut String) {
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

fn athena(layout: &Layout, out: &mut String) {
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

fn duckdb(layout: &Layout, out: &mut String) {
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

#[cfg(test)]
#[path = "ddl_tests.rs"]
mod parsed;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::lake::KeyTemplate;

    fn lake(url: Option<&str>) -> LakeConfig {
        let mut config = LakeConfig::local("lake", "/data/lake");
        if let Some(url) = url {
            config.url = Some(url::Url::parse(url).unwrap());
        }
        config
    }

    fn sql(config: &LakeConfig, dialect: Dialect) -> String {
        ddl(config, dialect, "okta", &Names::default()).unwrap()
    }

    fn assert_columns(text: &str) {
        for column in [
            "event_time",
            "parse_time",
            "source",
            "event_id",
            "data",
            "dt",
            "hr",
        ] {
            assert!(text.contains(column), "{column} missing:\n{text}");
        }
    }

    // Snowflake's, BigQuery's and Athena's statements are parsed and checked in
    // `ddl_tests.rs`; here, the lakes they cannot read.

    #[test]
    fn bigquery_refuses_other_clouds_and_zstd() {
        let err = ddl(
            &lake(Some("s3://b")),
            Dialect::Bigquery,
            "okta",
            &Names::default(),
        )
        .unwrap_err();
        assert!(err.contains("gs://") && err.contains("hint"), "{err}");
        let mut zstd = lake(Some("gs://b"));
        zstd.compression = Compression::Zstd;
        let err = ddl(&zstd, Dialect::Bigquery, "okta", &Names::default()).unwrap_err();
        assert!(err.contains("gzip"), "{err}");
    }

    #[test]
    fn athena_refuses_a_local_lake() {
        let err = ddl(&lake(None), Dialect::Athena, "okta", &Names::default()).unwrap_err();
        assert!(
            err.contains("local directory") && err.contains("--dialect duckdb"),
            "{err}"
        );
    }

    #[test]
    fn duckdb_reads_the_local_glob_with_hive_partitioning() {
        let text = sql(&lake(None), Dialect::Duckdb);
        assert!(
            text.contains("'/data/lake/source=okta/dt=*/hr=*/*.ndjson.gz'"),
            "{text}"
        );
        assert!(text.contains("hive_partitioning = true"), "{text}");
        assert!(
            text.contains("hive_types = {'dt': 'DATE', 'hr': 'INTEGER'}"),
            "{text}"
        );
        assert!(
            text.contains("CREATE OR REPLACE VIEW okta_events AS"),
            "{text}"
        );
        assert_columns(&text);
        // The `_latest` view keeps the newest copy of each event (tests/lake_duckdb.rs runs
        // it over a range delivered twice).
        assert!(
            text.contains(&format!(
                "CREATE OR REPLACE VIEW okta_events_latest AS\nSELECT *\nFROM okta_events\n{NEWEST_COPY}\n"
            )),
            "{text}"
        );
        let s3 = sql(&lake(Some("s3://b/p")), Dialect::Duckdb);
        assert!(
            s3.contains("'s3://b/p/source=okta/dt=*/hr=*/*.ndjson.gz'"),
            "{s3}"
        );
        assert!(s3.contains("httpfs"), "{s3}");
    }

    #[test]
    fn parquet_lakes_are_read_with_read_parquet() {
        let mut local = lake(None);
        local.format = crate::sink::lake::Format::Parquet;
        let duck = sql(&local, Dialect::Duckdb);
        assert!(
            duck.contains("read_parquet(\n    '/data/lake/source=okta/dt=*/hr=*/*.parquet'"),
            "{duck}"
        );
        assert!(duck.contains("CAST(data AS JSON) AS data"), "{duck}");
        assert!(!duck.contains("read_json_auto"), "{duck}");
        assert_columns(&duck);
    }

    #[test]
    fn custom_templates_and_names_in_duckdb() {
        let mut config = lake(Some("s3://b"));
        config.key_template =
            KeyTemplate::parse("tenant=acme/source={source}/day=%F/type={data.eventType}/")
                .unwrap();
        config.compression = Compression::Zstd;
        let names = Names {
            table: Some("okta_raw".into()),
            schema: Some("security".into()),
        };
        let duck = ddl(&config, Dialect::Duckdb, "okta", &names).unwrap();
        assert!(
            duck.contains("'s3://b/tenant=acme/source=okta/day=*/type=*/*.ndjson.zst'"),
            "{duck}"
        );
        assert!(duck.contains("compression = 'zstd'"), "{duck}");
    }
}
