//! Reading a `[[sinks]] kind = "lake"` table into a [`LakeConfig`]: the keys that only mean
//! something together (`path` or `url`; `key_template` with `partition_by_class`; the
//! compression and its level) become the typed settings. What the settings are then worth is
//! judged by [`LakeConfig::validate`] (`check.rs`).

use std::path::PathBuf;

use super::{
    default_heads_every, with_class_segment, LakeConfig, LakeConfigError, LedgerSettings,
    RawLakeConfig, DEFAULT_GZIP_LEVEL, DEFAULT_ZSTD_LEVEL,
};
use crate::sink::lake::{
    parse_url, Compression, Format, KeyTemplate, LakeLocation, DEFAULT_KEY_TEMPLATE,
};

impl TryFrom<RawLakeConfig> for LakeConfig {
    type Error = LakeConfigError;

    fn try_from(mut raw: RawLakeConfig) -> Result<Self, LakeConfigError> {
        let name = raw.name.clone();
        let (path, url) =
            match (raw.path.take(), raw.url.take()) {
                (Some(path), None) => (path, None),
                (None, Some(url)) => {
                    let label = format!("lake `{name}`");
                    let parsed = crate::cloud::parse_config_url(&label, &url)
                        .map_err(|e| LakeConfigError::labelled(&name, "url", &e.to_string()))?;
                    let location = parse_url(&parsed)
                        .map_err(|e| LakeConfigError::worded(&name, "url", &e.to_string()))?;
                    match location {
                        LakeLocation::Directory(dir) => (dir, None),
                        LakeLocation::Store { .. } => (PathBuf::new(), Some(parsed)),
                    }
                }
                (Some(_), Some(_)) => {
                    return Err(LakeConfigError::new(
                        &name,
                        "url",
                        "set either `path` or `url`, not both",
                        "`path` is a local directory, `url` any location including file:///abs/dir",
                    ))
                }
                (None, None) => return Err(LakeConfigError::new(
                    &name,
                    "",
                    "missing `path` or `url`",
                    "path = \"lake\" for a local directory, url = \"s3://bucket/prefix\" for S3",
                )),
            };
        let written = raw.key_template.as_deref().unwrap_or(DEFAULT_KEY_TEMPLATE);
        let template = if raw.partition_by_class {
            with_class_segment(written)
        } else {
            written.to_string()
        };
        let key_template = KeyTemplate::parse(&template).map_err(|e| {
            LakeConfigError::new(
                &name,
                "key_template",
                format!("key_template `{template}`: {e}"),
                format!("the default is \"{DEFAULT_KEY_TEMPLATE}\""),
            )
        })?;
        if raw.format == Format::Parquet && raw.compression.is_some() {
            return Err(LakeConfigError::new(
                &name,
                "compression",
                "`compression` applies to NDJSON objects; Parquet objects compress each column with zstd",
                "remove `compression`",
            ));
        }
        check_levels(&raw)?;
        let ledger = raw.ledger.take().unwrap_or(LedgerSettings {
            heads_every: default_heads_every(),
            ..LedgerSettings::default()
        });
        let config = LakeConfig {
            name: raw.name,
            path,
            url,
            endpoint: raw.endpoint,
            region: raw.region,
            allow_http: raw.allow_http,
            access_key_id: raw.access_key_id,
            secret_access_key: raw.secret_access_key,
            object_lock: raw.object_lock,
            format: raw.format,
            compression: raw.compression.unwrap_or_default(),
            gzip_level: raw.gzip_level.unwrap_or(DEFAULT_GZIP_LEVEL),
            zstd_level: raw.zstd_level.unwrap_or(DEFAULT_ZSTD_LEVEL),
            key_template,
            payload: raw.payload,
            roll_size: raw.roll_size,
            roll_age: raw.roll_age,
            max_open_partitions: raw.max_open_partitions,
            part_size: raw.part_size,
            ledger,
        };
        Ok(config)
    }
}

/// The compression levels: in range, and each set only with its compression.
fn check_levels(raw: &RawLakeConfig) -> Result<(), LakeConfigError> {
    let name = &raw.name;
    let compression = match raw.format {
        Format::Parquet => None,
        Format::Ndjson => Some(raw.compression.unwrap_or_default()),
    };
    if let Some(level) = raw.gzip_level {
        if compression != Some(Compression::Gzip) {
            return Err(LakeConfigError::new(
                name,
                "gzip_level",
                format!(
                    "`gzip_level` applies to gzip NDJSON objects and this lake writes {}",
                    written(compression)
                ),
                "remove gzip_level, or use zstd_level with compression = \"zstd\"",
            ));
        }
        if !(1..=9).contains(&level) {
            return Err(LakeConfigError::new(
                name,
                "gzip_level",
                format!("gzip_level = {level} is out of range"),
                format!("1 is the fastest, 9 the smallest; the default is {DEFAULT_GZIP_LEVEL}"),
            ));
        }
    }
    if let Some(level) = raw.zstd_level {
        if compression != Some(Compression::Zstd) {
            return Err(LakeConfigError::new(
                name,
                "zstd_level",
                format!(
                    "`zstd_level` applies to zstd NDJSON objects and this lake writes {}",
                    written(compression)
                ),
                "set compression = \"zstd\", or remove zstd_level",
            ));
        }
        if !(1..=19).contains(&level) {
            return Err(LakeConfigError::new(
                name,
                "zstd_level",
                format!("zstd_level = {level} is out of range"),
                format!("1 is the fastest, 19 the smallest; the default is {DEFAULT_ZSTD_LEVEL}"),
            ));
        }
    }
    Ok(())
}

/// What a lake writes, for messages.
fn written(compression: Option<Compression>) -> &'static str {
    match compression {
        None => "Parquet",
        Some(Compression::Gzip) => "gzip",
        Some(Compression::Zstd) => "zstd",
    }
}
