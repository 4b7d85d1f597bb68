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

use super::{sanitize, Compression, LakeLocation, ObjectKind, Segment, SegmentKind, StoreScheme};
use payload::{payload_columns, PayloadColumn};

mod athena;
mod bigquery;
mod duckdb;
mod payload;
mod snowflake;
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

/// Why a dialect cannot read a lake; each says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DdlError {
    /// BigQuery's hive partitioning needs `name=value` segments.
    #[error("BigQuery's hive partitioning needs name=value segments, and key_template segment `{0}` has no name (hint: write it as e.g. part={0})")]
    UnnamedSegment(String),
    /// BigQuery reads gzip JSON only.
    #[error("BigQuery reads gzip-compressed JSON only, and this lake writes zstd (hint: set compression = \"gzip\" on the sink)")]
    Zstd,
    /// The dialect loads from cloud storage and the lake is a local directory.
    #[error("{} loads from cloud storage, and lake `{lake}` is the local directory {} (hint: use an s3://, gs:// or az:// url for the sink, or --dialect duckdb)", dialect.title(), dir.display())]
    LocalLake {
        /// The dialect asked for.
        dialect: Dialect,
        /// The lake sink's name.
        lake: String,
        /// Its directory.
        dir: std::path::PathBuf,
    },
    /// The dialect reads another cloud's storage.
    #[error("{} reads {wants} only, and lake `{lake}` is at {location} (hint: pick the dialect of the lake's cloud)", dialect.title())]
    OtherCloud {
        /// The dialect asked for.
        dialect: Dialect,
        /// The URL scheme it reads (`s3://`).
        wants: &'static str,
        /// The lake sink's name.
        lake: String,
        /// Where the lake is (never a credential).
        location: String,
    },
    /// NDJSON lines without the envelope, which no table of this shape reads.
    #[error("its NDJSON lines hold payload = \"{0}\", bare objects without the envelope's columns, which this DDL reads (hint: use format = \"parquet\", whose rows keep event_time, source and event_id whatever the payload, or payload = \"envelope\")")]
    BarePayload(&'static str),
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
) -> Result<String, DdlError> {
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
) -> Result<String, DdlError> {
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
        Dialect::Snowflake => snowflake::snowflake(&layout, &mut out),
        Dialect::Bigquery => bigquery::bigquery(&layout, &mut out),
        Dialect::Athena => athena::athena(&layout, &mut out),
        Dialect::Duckdb => duckdb::duckdb(&layout, &mut out),
    }
    Ok(out)
}

impl<'a> Layout<'a> {
    fn new(
        config: &'a LakeConfig,
        dialect: Dialect,
        source: &'a str,
        names: &Names,
    ) -> Result<Layout<'a>, DdlError> {
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
                    return Err(DdlError::UnnamedSegment(segment.text.clone()))
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
            return Err(DdlError::Zstd);
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
fn root_location(config: &LakeConfig, dialect: Dialect) -> Result<String, DdlError> {
    let (scheme, bucket, prefix) = match config.location() {
        LakeLocation::Directory(dir) => {
            if dialect != Dialect::Duckdb {
                return Err(DdlError::LocalLake {
                    dialect,
                    lake: config.name.clone(),
                    dir,
                });
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
    let refuse = |wants: &'static str| {
        Err(DdlError::OtherCloud {
            dialect,
            wants,
            lake: config.name.clone(),
            location: config.display_location(),
        })
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

#[cfg(test)]
mod parsed_tests;
#[cfg(test)]
mod tests;
