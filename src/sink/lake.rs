//! The lake sink: gzip NDJSON objects in a local directory, hive-partitioned by event time.
//!
//! Layout: `<root>/source=<name>/dt=YYYY-MM-DD/hr=HH/<batch>.ndjson.gz`. A batch is staged in
//! `<root>/_staging/source=<name>/` (same file system, so publishing is an atomic rename),
//! fsynced before its intent is recorded, and renamed into place on publish. Readers globbing
//! `source=*/dt=*/hr=*/*.ndjson.gz` never see a partial object.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};

use super::{Published, Sink, SinkError};
use crate::config::LakeConfig;
use crate::transform::Envelope;

const STAGING_DIR: &str = "_staging";
const SECONDS_PER_HOUR: i64 = 3600;

/// One object of a prepared batch: where it is staged and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PreparedObject {
    /// Path under the lake root while staged.
    staged: String,
    /// Final key under the lake root.
    key: String,
    /// Size in bytes.
    bytes: u64,
}

/// An object being written for one hour partition.
struct OpenObject {
    hour: i64,
    staged: PathBuf,
    encoder: GzEncoder<CountingWriter<BufWriter<File>>>,
}

/// A [`Sink`] writing one source's events into a local lake directory.
pub struct LakeSink {
    name: String,
    source: String,
    root: PathBuf,
    config: LakeConfig,
    open: Vec<OpenObject>,
    batch_started: Option<Instant>,
    /// Staged objects are numbered so a batch's files never collide before they are named.
    staged_counter: u64,
    /// Held while the sink exists: a second process on the same source and lake would
    /// otherwise clean this one's staging directory.
    _lock: File,
}

impl LakeSink {
    /// A lake sink for `source` under the configured root.
    pub fn new(config: &LakeConfig, source: &str) -> Result<Self, SinkError> {
        let lock = lock_source(config, source)?;
        Ok(LakeSink {
            name: config.name.clone(),
            source: source.to_string(),
            root: config.path.clone(),
            config: config.clone(),
            open: Vec::new(),
            batch_started: None,
            staged_counter: 0,
            _lock: lock,
        })
    }

    fn staging_dir(&self) -> PathBuf {
        self.root
            .join(STAGING_DIR)
            .join(format!("source={}", self.source))
    }

    fn error(&self, action: &str, path: &Path, err: impl std::fmt::Display) -> SinkError {
        SinkError {
            sink: self.name.clone(),
            detail: format!(
                "cannot {action} {}: {err} (hint: check free space and that sluice may write there)",
                path.display()
            ),
        }
    }

    /// The open object for `hour`, opening a new staged file if needed.
    fn object_for(&mut self, hour: i64) -> Result<&mut OpenObject, SinkError> {
        if let Some(i) = self.open.iter().position(|o| o.hour == hour) {
            return Ok(&mut self.open[i]);
        }
        let dir = self.staging_dir();
        fs::create_dir_all(&dir).map_err(|e| self.error("create directory", &dir, e))?;
        self.staged_counter += 1;
        let staged = dir.join(format!(
            "{:06}-{hour}.ndjson.gz.partial",
            self.staged_counter
        ));
        let file = File::create(&staged).map_err(|e| self.error("create", &staged, e))?;
        let writer = CountingWriter {
            inner: BufWriter::with_capacity(256 * 1024, file),
            count: 0,
        };
        self.open.push(OpenObject {
            hour,
            staged,
            encoder: GzEncoder::new(writer, Compression::default()),
        });
        Ok(self.open.last_mut().expect("just pushed"))
    }

    fn staged_bytes(&self) -> u64 {
        self.open.iter().map(|o| o.encoder.get_ref().count).sum()
    }

    /// Final key of a batch's object for an hour partition.
    fn key(&self, hour: i64, batch: &str) -> String {
        let start = DateTime::<Utc>::from_timestamp(hour * SECONDS_PER_HOUR, 0).unwrap_or_default();
        format!(
            "source={}/dt={}/hr={}/{batch}.ndjson.gz",
            self.source,
            start.format("%Y-%m-%d"),
            start.format("%H")
        )
    }

    fn publish_blocking(&self, objects: &[PreparedObject]) -> Result<Published, SinkError> {
        let mut published = Published::default();
        let mut dirs = HashSet::new();
        for object in objects {
            let staged = self.root.join(&object.staged);
            let key = self.root.join(&object.key);
            let dir = key.parent().unwrap_or(&self.root).to_path_buf();
            if staged.exists() {
                fs::create_dir_all(&dir).map_err(|e| self.error("create directory", &dir, e))?;
                fs::rename(&staged, &key).map_err(|e| self.error("publish", &key, e))?;
            } else if !key.exists() {
                return Err(SinkError {
                    sink: self.name.clone(),
                    detail: format!(
                        "object {} of an interrupted commit is neither staged nor published; something removed {}. The checkpoint was not moved and the commit stays pending; restore the file or ask for help before changing the state",
                        object.key,
                        staged.display()
                    ),
                });
            }
            dirs.insert(dir);
            published.objects += 1;
            published.bytes += object.bytes;
        }
        for dir in dirs {
            sync_dir(&dir).map_err(|e| self.error("sync directory", &dir, e))?;
        }
        Ok(published)
    }
}

#[async_trait]
impl Sink for LakeSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&mut self, events: &[Envelope]) -> Result<(), SinkError> {
        if events.is_empty() {
            return Ok(());
        }
        self.batch_started.get_or_insert_with(Instant::now);
        for event in events {
            let hour = event.event_time.0.timestamp().div_euclid(SECONDS_PER_HOUR);
            let object = self.object_for(hour)?;
            let result = serde_json::to_writer(&mut object.encoder, event)
                .map_err(io::Error::from)
                .and_then(|()| object.encoder.write_all(b"\n"));
            if let Err(err) = result {
                let path = object.staged.clone();
                return Err(self.error("write", &path, err));
            }
        }
        Ok(())
    }

    fn wants_commit(&self) -> bool {
        !self.open.is_empty()
            && (self.staged_bytes() >= self.config.roll_size.as_u64()
                || self.open.len() >= self.config.max_open_partitions
                || self
                    .batch_started
                    .is_some_and(|t| t.elapsed() >= self.config.roll_age))
    }

    async fn prepare(&mut self, batch: &str) -> Result<Option<serde_json::Value>, SinkError> {
        if self.open.is_empty() {
            return Ok(None);
        }
        let mut prepared = Vec::with_capacity(self.open.len());
        for object in std::mem::take(&mut self.open) {
            let staged = object.staged.clone();
            let counter = object
                .encoder
                .finish()
                .map_err(|e| self.error("finish", &staged, e))?;
            let bytes = counter.count;
            let file = counter
                .inner
                .into_inner()
                .map_err(|e| self.error("flush", &staged, e.error().to_string()))?;
            file.sync_all()
                .map_err(|e| self.error("sync", &staged, e))?;
            prepared.push(PreparedObject {
                staged: relative(&self.root, &staged),
                key: self.key(object.hour, batch),
                bytes,
            });
        }
        let dir = self.staging_dir();
        sync_dir(&dir).map_err(|e| self.error("sync directory", &dir, e))?;
        self.batch_started = None;
        Ok(Some(
            serde_json::to_value(&prepared).expect("plain structs serialize"),
        ))
    }

    async fn publish(&mut self, payload: &serde_json::Value) -> Result<Published, SinkError> {
        let objects: Vec<PreparedObject> = serde_json::from_value(payload.clone()).map_err(|err| SinkError {
            sink: self.name.clone(),
            detail: format!("commit intent is not a lake object list ({err}); was the sink's kind changed while a commit was in flight?"),
        })?;
        self.publish_blocking(&objects)
    }

    async fn discard_staged(&mut self) -> Result<(), SinkError> {
        self.open.clear();
        self.batch_started = None;
        let dir = self.staging_dir();
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(self.error("clean staging directory", &dir, err)),
        }
    }
}

/// Takes the lake's lock for `source`, failing at once if another process holds it.
fn lock_source(config: &LakeConfig, source: &str) -> Result<File, SinkError> {
    let dir = config.path.join(STAGING_DIR);
    let path = dir.join(format!("source={source}.lock"));
    let fail = |detail: String| SinkError {
        sink: config.name.clone(),
        detail,
    };
    fs::create_dir_all(&dir).map_err(|e| {
        fail(format!(
            "cannot create directory {}: {e} (hint: check that sluice may write there)",
            dir.display()
        ))
    })?;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| fail(format!("cannot open lock file {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(fail(format!(
            "another sluice process is writing source `{source}` to this lake (lock {} is held); run one process per source",
            path.display()
        ))),
        Err(fs::TryLockError::Error(e)) => Err(fail(format!("cannot lock {}: {e}", path.display()))),
    }
}

/// `path` relative to `root`, with `/` separators (it is stored in the state).
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Makes a directory's entries (new names, renames) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Counts bytes on their way to the file, to roll objects by compressed size.
struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What a lake holds for one source, as an outside reader sees it.
#[derive(Debug, Default)]
pub struct LakeContents {
    /// Published objects.
    pub objects: u64,
    /// Compressed bytes of those objects.
    pub bytes: u64,
    /// Every line's `event_id`, in file order.
    pub event_ids: Vec<String>,
}

/// Reads every published object of `source` under `root` (staging is skipped, as any reader
/// of the hive layout would). Used by `sluice demo` and the tests to check exactness.
pub fn read_lake(root: &Path, source: &str) -> io::Result<LakeContents> {
    use std::io::BufRead;
    let mut contents = LakeContents::default();
    let mut files = Vec::new();
    collect_objects(&root.join(format!("source={source}")), &mut files)?;
    files.sort();
    for path in files {
        contents.objects += 1;
        contents.bytes += fs::metadata(&path)?.len();
        let reader = io::BufReader::new(flate2::read::MultiGzDecoder::new(File::open(&path)?));
        for line in reader.lines() {
            let line = line?;
            let value: serde_json::Value = serde_json::from_str(&line).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            let id = value["event_id"].as_str().unwrap_or_default().to_string();
            contents.event_ids.push(id);
        }
    }
    Ok(contents)
}

fn collect_objects(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect_objects(&path, out)?;
        } else if path.to_string_lossy().ends_with(".ndjson.gz") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Record;
    use chrono::TimeZone;
    use std::sync::Arc;

    fn config(root: &Path) -> LakeConfig {
        LakeConfig {
            name: "lake".into(),
            path: root.to_path_buf(),
            roll_size: bytesize::ByteSize::mib(64),
            roll_age: std::time::Duration::from_secs(300),
            max_open_partitions: 8,
        }
    }

    fn event(id: &str, secs: i64) -> Envelope {
        let record = Record {
            time: Utc.timestamp_opt(secs, 0).unwrap(),
            id: id.into(),
            data: serde_json::json!({"id": id}),
        };
        Envelope::wrap(record, &Arc::from("okta"), Utc::now())
    }

    #[tokio::test]
    async fn batch_is_invisible_until_published_then_partitioned_by_hour() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = LakeSink::new(&config(dir.path()), "okta").unwrap();
        // 2023-11-14 22:13:20 and one hour later.
        sink.write(&[event("a", 1_700_000_000), event("b", 1_700_003_600)])
            .await
            .unwrap();
        let payload = sink.prepare("0000000001-abcd").await.unwrap().unwrap();
        assert_eq!(read_lake(dir.path(), "okta").unwrap().event_ids.len(), 0);
        let published = sink.publish(&payload).await.unwrap();
        assert_eq!(published.objects, 2);
        assert!(dir
            .path()
            .join("source=okta/dt=2023-11-14/hr=22/0000000001-abcd.ndjson.gz")
            .exists());
        assert!(dir
            .path()
            .join("source=okta/dt=2023-11-14/hr=23/0000000001-abcd.ndjson.gz")
            .exists());
        assert_eq!(
            read_lake(dir.path(), "okta").unwrap().event_ids,
            vec!["a", "b"]
        );
        // Publishing again (a crash after the renames) is harmless.
        assert_eq!(sink.publish(&payload).await.unwrap().objects, 2);
        assert_eq!(read_lake(dir.path(), "okta").unwrap().event_ids.len(), 2);
    }

    #[test]
    fn a_second_writer_for_the_same_source_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = LakeSink::new(&config(dir.path()), "okta").unwrap();
        let err = LakeSink::new(&config(dir.path()), "okta").err().unwrap();
        assert!(err.to_string().contains("another sluice process"), "{err}");
        assert!(LakeSink::new(&config(dir.path()), "github").is_ok());
        drop(first);
        assert!(LakeSink::new(&config(dir.path()), "okta").is_ok());
    }

    #[tokio::test]
    async fn discard_drops_unprepared_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = LakeSink::new(&config(dir.path()), "okta").unwrap();
        sink.write(&[event("a", 1_700_000_000)]).await.unwrap();
        sink.discard_staged().await.unwrap();
        assert!(sink.prepare("b").await.unwrap().is_none());
        assert!(!dir.path().join(STAGING_DIR).join("source=okta").exists());
    }

    #[tokio::test]
    async fn rolls_when_partitions_or_size_pass_the_limits() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        cfg.max_open_partitions = 2;
        let mut sink = LakeSink::new(&cfg, "okta").unwrap();
        sink.write(&[event("a", 0)]).await.unwrap();
        assert!(!sink.wants_commit());
        sink.write(&[event("b", 3600)]).await.unwrap();
        assert!(sink.wants_commit());

        cfg.max_open_partitions = 8;
        cfg.roll_size = bytesize::ByteSize::b(1);
        let mut small = LakeSink::new(&cfg, "other").unwrap();
        assert!(!small.wants_commit());
        small.write(&[event("a", 0)]).await.unwrap();
        small.open[0].encoder.flush().unwrap();
        assert!(small.wants_commit());
    }

    #[tokio::test]
    async fn missing_staged_and_final_object_is_an_error_not_a_silent_skip() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = LakeSink::new(&config(dir.path()), "okta").unwrap();
        sink.write(&[event("a", 0)]).await.unwrap();
        let payload = sink.prepare("x").await.unwrap().unwrap();
        sink.discard_staged().await.unwrap();
        let err = sink.publish(&payload).await.unwrap_err();
        assert!(
            err.to_string().contains("neither staged nor published"),
            "{err}"
        );
    }
}
