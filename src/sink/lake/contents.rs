//! Reading a lake back as an outside reader sees it: every published object of a source,
//! its events' ids and times (`sluice demo`, the tests' exactness checks, `lake verify`).

use std::io;
use std::path::Path;

use super::{
    local, sanitize, store, Compression, KeyTemplate, LakeLocation, ObjectKind,
    DEFAULT_KEY_TEMPLATE, STAGING_DIR,
};
use crate::sink::config::LakeConfig;
use crate::sink::SinkError;

/// What a lake holds for one source, as an outside reader sees it.
#[derive(Debug, Default)]
pub struct LakeContents {
    /// Published objects.
    pub objects: u64,
    /// Compressed bytes of those objects.
    pub bytes: u64,
    /// Every line's `event_id`, in key order then line order.
    pub event_ids: Vec<String>,
    /// Every line's `event_time` as written (RFC 3339), in the same order as `event_ids`.
    pub event_times: Vec<Option<String>>,
    /// Keys of the objects read, relative to the lake root, sorted.
    pub keys: Vec<String>,
    /// The earliest `event_time` read (RFC 3339, as written).
    pub min_event_time: Option<String>,
    /// The latest `event_time` read.
    pub max_event_time: Option<String>,
}

impl LakeContents {
    /// Adds the events of one object, keeping those of `source`.
    pub(super) fn add_object(&mut self, key: &str, object: &[u8], source: &str) -> io::Result<()> {
        self.objects += 1;
        self.bytes += object.len() as u64;
        self.keys.push(key.to_string());
        match ObjectKind::of_name(key) {
            Some(ObjectKind::Parquet) => self.add_parquet(object, source),
            Some(ObjectKind::Ndjson(compression)) => {
                self.add_ndjson(key, object, compression, source)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{key} is not a lake object (its name has no lake extension)"),
            )),
        }
    }

    fn add_event(&mut self, event_id: String, event_time: Option<String>) {
        self.event_ids.push(event_id);
        self.event_times.push(event_time.clone());
        if let Some(time) = event_time {
            if self
                .min_event_time
                .as_deref()
                .is_none_or(|min| time.as_str() < min)
            {
                self.min_event_time = Some(time.clone());
            }
            if self
                .max_event_time
                .as_deref()
                .is_none_or(|max| time.as_str() > max)
            {
                self.max_event_time = Some(time);
            }
        }
    }

    fn add_ndjson(
        &mut self,
        key: &str,
        compressed: &[u8],
        compression: Compression,
        source: &str,
    ) -> io::Result<()> {
        use io::BufRead;
        let reader = io::BufReader::new(compression.decoder(compressed)?);
        for line in reader.lines() {
            let line = line?;
            let value: serde_json::Value = serde_json::from_str(&line)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{key}: {e}")))?;
            if value["source"].as_str().is_some_and(|s| s != source) {
                continue;
            }
            let id = value["event_id"].as_str().unwrap_or_default().to_string();
            self.add_event(id, value["event_time"].as_str().map(str::to_string));
        }
        Ok(())
    }

    #[cfg(feature = "parquet")]
    fn add_parquet(&mut self, object: &[u8], source: &str) -> io::Result<()> {
        for row in super::parquet::read_rows(object)? {
            if row.source != source {
                continue;
            }
            // The same RFC 3339 text NDJSON objects hold, so times compare alike.
            let time = chrono::DateTime::from_timestamp_micros(row.event_time_micros)
                .map(crate::timefmt::rfc3339_millis);
            self.add_event(row.event_id, time);
        }
        Ok(())
    }

    #[cfg(not(feature = "parquet"))]
    fn add_parquet(&mut self, _object: &[u8], _source: &str) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this build cannot read Parquet objects (hint: rebuild with --features parquet)",
        ))
    }
}

/// Reads every published object of `source` in the local lake at `root`, laid out with the
/// default key template (staging is skipped, as any reader of the hive layout would). Used
/// by `sluice demo` and the tests to check exactness.
pub fn read_lake(root: &Path, source: &str) -> io::Result<LakeContents> {
    let template = KeyTemplate::parse(DEFAULT_KEY_TEMPLATE)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    read_local(root, source, &template)
}

fn read_local(root: &Path, source: &str, template: &KeyTemplate) -> io::Result<LakeContents> {
    let mut contents = LakeContents::default();
    let mut files = Vec::new();
    local::collect_objects(
        &root.join(template.static_prefix(&sanitize(source))),
        &mut files,
    )?;
    let mut keyed: Vec<(String, std::path::PathBuf)> = files
        .into_iter()
        .map(|path| {
            let key = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            (key, path)
        })
        .collect();
    keyed.sort();
    for (key, path) in keyed {
        let bytes = std::fs::read(&path)?;
        contents.add_object(&key, &bytes, source)?;
    }
    Ok(contents)
}

/// Reads every published object of `source` in the lake `config` describes, local or in an
/// object store, following its key template. Lines of other sources (possible when the
/// template does not start with `{source}`) are left out.
pub async fn read_lake_at(config: &LakeConfig, source: &str) -> Result<LakeContents, SinkError> {
    let fail = |err: io::Error| SinkError {
        sink: config.name.clone(),
        detail: format!(
            "cannot read the lake at {}: {err} (hint: check the location and permissions)",
            config.display_location()
        ),
    };
    match config.location() {
        LakeLocation::Directory(root) => {
            read_local(&root, source, &config.key_template).map_err(fail)
        }
        LakeLocation::Store { .. } => {
            let store = store::Store::build(config)?;
            read_store(&store, config, source).await
        }
    }
}

pub(super) async fn read_store(
    store: &store::Store,
    config: &LakeConfig,
    source: &str,
) -> Result<LakeContents, SinkError> {
    let listed = store
        .list(&config.key_template.static_prefix(&sanitize(source)))
        .await?;
    let mut keyed: Vec<(String, object_store::ObjectMeta)> = listed
        .into_iter()
        .map(|meta| (store.relative(&meta.location).to_string(), meta))
        .filter(|(key, _)| {
            !key.starts_with(&format!("{STAGING_DIR}/")) && ObjectKind::of_name(key).is_some()
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut contents = LakeContents::default();
    for (key, meta) in keyed {
        let bytes = store.get(&meta.location).await?;
        contents
            .add_object(&key, &bytes, source)
            .map_err(|e| SinkError {
                sink: config.name.clone(),
                detail: format!(
                    "object {key} in {} is not readable: {e} (hint: was it written by sluice?)",
                    config.display_location()
                ),
            })?;
    }
    Ok(contents)
}
