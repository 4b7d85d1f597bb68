//! An outside reader of lakes for the exactness checks, written apart from sluice's own
//! reader so that a bug in one cannot hide a bug in the other.
//!
//! It lists every file of the lake (a directory, or a bucket prefix through a separate
//! client) and fails on:
//! - anything left under `_staging/` (any scope: a source, a backfill window `source=x@…`),
//!   lock files of local lakes excepted;
//! - any file under the source's prefix that is not a lake object;
//! - any stored line whose `source` is another, whose `event_id` the simulator never served,
//!   whose `data` differs from the simulator's own rendering of that event (compared as
//!   parsed JSON, so key order and whitespace do not matter), whose `event_time` differs from
//!   the event's time (at the precision the format stores: milliseconds in NDJSON,
//!   microseconds in Parquet), or that sits in another `dt=`/`hr=` partition than its time.
//!
//! What is left to a test is which events it expects and how often: see [`LakeReport`].

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use chrono::{DateTime, Utc};
use sluice::simulator::{self, SimulatorConfig};

/// The directory (key prefix) where a lake stages batches.
const STAGING: &str = "_staging/";

/// How many problems a failure lists.
const SHOWN: usize = 8;

/// Every line of one source in a lake, checked against the simulator.
#[derive(Debug, Default)]
pub struct LakeReport {
    /// Lines per event id (every id is one the simulator serves).
    pub counts: HashMap<String, usize>,
    /// Lines read in all.
    pub lines: usize,
    /// The source's objects, relative to the lake root, sorted.
    pub keys: Vec<String>,
}

impl LakeReport {
    /// Distinct events stored.
    pub fn events(&self) -> usize {
        self.counts.len()
    }

    /// Asserts the lake holds each of `expected` once and nothing else.
    pub fn assert_holds_exactly(&self, expected: &HashSet<String>, what: &str) {
        let duplicated: Vec<_> = self
            .counts
            .iter()
            .filter(|(_, n)| **n > 1)
            .take(SHOWN)
            .collect();
        let missing: Vec<_> = expected
            .iter()
            .filter(|id| !self.counts.contains_key(*id))
            .take(SHOWN)
            .collect();
        let extra: Vec<_> = self
            .counts
            .keys()
            .filter(|id| !expected.contains(*id))
            .take(SHOWN)
            .collect();
        assert!(
            duplicated.is_empty() && missing.is_empty() && extra.is_empty(),
            "{what}: {} lines, {} distinct events, {} expected; duplicated {duplicated:?}, missing {missing:?}, extra {extra:?}",
            self.lines,
            self.counts.len(),
            expected.len(),
        );
    }

    /// Asserts the lake holds every event of the simulator once and nothing else.
    pub fn assert_exact(&self, config: &SimulatorConfig, what: &str) {
        let expected: HashSet<String> = simulator::event_ids(config).into_iter().collect();
        self.assert_holds_exactly(&expected, what);
    }
}

/// Reads and checks the local lake at `root` for `source` (see the module docs).
pub fn check_local(root: &Path, source: &str, config: &SimulatorConfig) -> LakeReport {
    read_local(root, source, config, Depth::Full)
}

/// The events in the local lake at `root` without the staging and content checks, for a
/// quick look at a lake a killed run may have left mid-commit.
pub fn peek_local(root: &Path, source: &str, config: &SimulatorConfig) -> LakeReport {
    read_local(root, source, config, Depth::Peek)
}

/// How much is checked.
#[derive(Clone, Copy, PartialEq)]
enum Depth {
    /// Everything the module docs list.
    Full,
    /// Strays and ids only: staging may hold a killed run's batch, and content is checked
    /// at the end of the test.
    Peek,
}

fn read_local(root: &Path, source: &str, config: &SimulatorConfig, depth: Depth) -> LakeReport {
    let mut keys = Vec::new();
    list_local(root, root, &mut keys);
    keys.sort();
    check(
        root.display().to_string(),
        &keys,
        source,
        config,
        depth,
        |key| std::fs::read(root.join(key)).unwrap_or_else(|e| panic!("reading {key}: {e}")),
    )
}

/// Reads and checks the lake under `prefix` of a bucket, through `store` (a client of the
/// test's own, not the sink's), for `source`. Staging is checked by listing the bucket.
pub async fn check_store(
    store: &dyn object_store::ObjectStore,
    prefix: &str,
    source: &str,
    config: &SimulatorConfig,
) -> LakeReport {
    read_store(store, prefix, source, config, Depth::Full).await
}

/// The events in the lake under `prefix` of a bucket without the staging and content
/// checks, for a quick look at a lake a killed run may have left mid-commit.
pub async fn peek_store(
    store: &dyn object_store::ObjectStore,
    prefix: &str,
    source: &str,
    config: &SimulatorConfig,
) -> LakeReport {
    read_store(store, prefix, source, config, Depth::Peek).await
}

async fn read_store(
    store: &dyn object_store::ObjectStore,
    prefix: &str,
    source: &str,
    config: &SimulatorConfig,
    depth: Depth,
) -> LakeReport {
    use futures_util::StreamExt;
    use object_store::ObjectStoreExt;
    let prefix = prefix.trim_matches('/');
    let location = object_store::path::Path::from(prefix);
    let listed: Vec<_> = store
        .list((!prefix.is_empty()).then_some(&location))
        .map(|meta| meta.expect("the bucket can be listed").location)
        .collect()
        .await;
    let relative = |location: &object_store::path::Path| -> String {
        let full = location.to_string();
        match prefix {
            "" => full,
            _ => full
                .strip_prefix(&format!("{prefix}/"))
                .unwrap_or(&full)
                .to_string(),
        }
    };
    let mut keys: Vec<String> = listed.iter().map(relative).collect();
    keys.sort();
    let wanted = source_prefix(source);
    let mut objects = HashMap::new();
    for location in &listed {
        let key = relative(location);
        if key.starts_with(&wanted) {
            let bytes = store
                .get(location)
                .await
                .unwrap_or_else(|e| panic!("GET {location}: {e}"))
                .bytes()
                .await
                .unwrap_or_else(|e| panic!("reading {location}: {e}"));
            objects.insert(key, bytes.to_vec());
        }
    }
    let lake = format!("bucket prefix `{prefix}`");
    check(lake, &keys, source, config, depth, |key| {
        objects
            .remove(key)
            .expect("every key under the prefix was read")
    })
}

/// How many objects of `source` the local lake at `root` has published: a cheap measure of
/// a run's progress.
pub fn object_count(root: &Path, source: &str) -> usize {
    let mut keys = Vec::new();
    list_local(root, &root.join(source_prefix(source)), &mut keys);
    keys.iter().filter(|k| encoding(k).is_some()).count()
}

/// Every published NDJSON envelope of `source` in the local lake at `root`, whole, in key
/// order then line order: for tests whose events do not come from the simulator.
pub fn envelopes(root: &Path, source: &str) -> Vec<serde_json::Value> {
    let mut keys = Vec::new();
    list_local(root, &root.join(source_prefix(source)), &mut keys);
    keys.sort();
    let mut all = Vec::new();
    for key in keys {
        let bytes = std::fs::read(root.join(&key)).unwrap_or_else(|e| panic!("reading {key}: {e}"));
        let text: Box<dyn Read + '_> = match encoding(&key) {
            Some(Encoding::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(&bytes[..])),
            Some(Encoding::Zstd) => Box::new(
                zstd::stream::read::Decoder::new(&bytes[..])
                    .unwrap_or_else(|e| panic!("{key}: not zstd: {e}")),
            ),
            _ => continue,
        };
        for line in BufReader::new(text).lines() {
            let line = line.unwrap_or_else(|e| panic!("{key}: cannot decompress: {e}"));
            all.push(
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{key}: not JSON ({e})")),
            );
        }
    }
    all
}

/// [`object_count`] for the lake under `prefix` of a bucket.
pub async fn store_object_count(
    store: &dyn object_store::ObjectStore,
    prefix: &str,
    source: &str,
) -> usize {
    use futures_util::StreamExt;
    let location = object_store::path::Path::from(format!(
        "{}/{}",
        prefix.trim_matches('/'),
        source_prefix(source)
    ));
    store
        .list(Some(&location))
        .filter(|meta| {
            let counts = meta
                .as_ref()
                .is_ok_and(|m| encoding(m.location.as_ref()).is_some());
            std::future::ready(counts)
        })
        .count()
        .await
}

/// `source=<source>/`, where the default key template puts a source's objects.
fn source_prefix(source: &str) -> String {
    format!("source={source}/")
}

/// Every file under `dir`, as keys relative to `root` joined with `/`.
fn list_local(root: &Path, dir: &Path, keys: &mut Vec<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return,
        Err(err) => panic!("listing {}: {err}", dir.display()),
    };
    for entry in entries {
        let entry = entry.expect("directory entries are readable");
        let path = entry.path();
        if entry.file_type().expect("file types are readable").is_dir() {
            list_local(root, &path, keys);
        } else {
            let key = path
                .strip_prefix(root)
                .expect("listed under the root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            keys.push(key);
        }
    }
}

/// A local lake's lock file (`_staging/source=<scope>.lock`): kept between runs on purpose.
fn is_lock_file(key: &str) -> bool {
    key.strip_prefix(STAGING)
        .is_some_and(|rest| !rest.contains('/') && rest.ends_with(".lock"))
}

/// How a lake object is encoded, by its name.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Encoding {
    Gzip,
    Zstd,
    Parquet,
}

fn encoding(key: &str) -> Option<Encoding> {
    [
        (".ndjson.gz", Encoding::Gzip),
        (".ndjson.zst", Encoding::Zstd),
        (".parquet", Encoding::Parquet),
    ]
    .into_iter()
    .find(|(extension, _)| key.ends_with(extension))
    .map(|(_, encoding)| encoding)
}

/// An event's time as stored.
#[derive(Clone, Copy, Debug)]
enum StoredTime {
    /// NDJSON: RFC 3339 text with milliseconds.
    Millis(i64),
    /// Parquet: `TIMESTAMP(MICROS)`.
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    Micros(i64),
}

impl StoredTime {
    /// Whether `time` (the simulator's, possibly finer) is this at the stored precision.
    fn matches(self, time: DateTime<Utc>) -> bool {
        match self {
            StoredTime::Millis(ms) => ms == time.timestamp_millis(),
            StoredTime::Micros(us) => us == time.timestamp_micros(),
        }
    }

    fn datetime(self) -> Option<DateTime<Utc>> {
        match self {
            StoredTime::Millis(ms) => DateTime::from_timestamp_millis(ms),
            StoredTime::Micros(us) => DateTime::from_timestamp_micros(us),
        }
    }
}

/// One stored line.
struct Row {
    event_time: Option<StoredTime>,
    source: String,
    event_id: String,
    data: serde_json::Value,
}

fn decode(key: &str, encoding: Encoding, bytes: &[u8]) -> Vec<Row> {
    let text: Box<dyn Read + '_> = match encoding {
        Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(bytes)),
        Encoding::Zstd => Box::new(
            zstd::stream::read::Decoder::new(bytes)
                .unwrap_or_else(|e| panic!("{key}: not zstd: {e}")),
        ),
        Encoding::Parquet => return parquet_rows(key, bytes),
    };
    BufReader::new(text)
        .lines()
        .map(|line| {
            let line = line.unwrap_or_else(|e| panic!("{key}: cannot decompress: {e}"));
            let mut value: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{key}: a line is not JSON ({e}): {line}"));
            let text = |field: &str| value[field].as_str().unwrap_or_default().to_string();
            let event_time = value["event_time"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| StoredTime::Millis(t.timestamp_millis()));
            let (source, event_id) = (text("source"), text("event_id"));
            Row {
                event_time,
                source,
                event_id,
                data: value["data"].take(),
            }
        })
        .collect()
}

#[cfg(feature = "parquet")]
fn parquet_rows(key: &str, bytes: &[u8]) -> Vec<Row> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let reader = SerializedFileReader::new(bytes::Bytes::copy_from_slice(bytes))
        .unwrap_or_else(|e| panic!("{key}: not Parquet: {e}"));
    let rows = reader
        .get_row_iter(None)
        .unwrap_or_else(|e| panic!("{key}: rows: {e}"));
    rows.map(|row| {
        let row = row.unwrap_or_else(|e| panic!("{key}: a row: {e}"));
        let mut out = Row {
            event_time: None,
            source: String::new(),
            event_id: String::new(),
            data: serde_json::Value::Null,
        };
        for (name, field) in row.get_column_iter() {
            match (name.as_str(), field) {
                ("event_time", Field::TimestampMicros(us)) => {
                    out.event_time = Some(StoredTime::Micros(*us))
                }
                ("source", Field::Str(s)) => out.source = s.clone(),
                ("event_id", Field::Str(s)) => out.event_id = s.clone(),
                ("data", Field::Str(s)) => {
                    out.data = serde_json::from_str(s)
                        .unwrap_or_else(|e| panic!("{key}: `data` is not JSON ({e}): {s}"))
                }
                _ => {}
            }
        }
        out
    })
    .collect()
}

#[cfg(not(feature = "parquet"))]
fn parquet_rows(key: &str, _bytes: &[u8]) -> Vec<Row> {
    panic!("{key} is Parquet, which this build cannot read (hint: cargo test --all-features)")
}

/// `dt=YYYY-MM-DD` and `hr=HH` of a key, when it has them.
fn partition(key: &str) -> (Option<&str>, Option<&str>) {
    let mut dt = None;
    let mut hr = None;
    for part in key.split('/') {
        if let Some(value) = part.strip_prefix("dt=") {
            dt = Some(value);
        } else if let Some(value) = part.strip_prefix("hr=") {
            hr = Some(value);
        }
    }
    (dt, hr)
}

/// The checks of the module docs over a listing of `keys` (relative to the lake root);
/// `read` returns an object's bytes.
fn check(
    lake: String,
    keys: &[String],
    source: &str,
    config: &SimulatorConfig,
    depth: Depth,
    mut read: impl FnMut(&str) -> Vec<u8>,
) -> LakeReport {
    let staged: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with(STAGING) && !is_lock_file(k))
        .filter(|_| depth == Depth::Full)
        .collect();
    assert!(
        staged.is_empty(),
        "staging in {lake} is not empty: {} files left, e.g. {:?}",
        staged.len(),
        &staged[..staged.len().min(SHOWN)]
    );
    let wanted = source_prefix(source);
    let strays: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with(&wanted) && encoding(k).is_none())
        .collect();
    assert!(
        strays.is_empty(),
        "files that are not lake objects under {wanted} in {lake}: {strays:?}"
    );

    let index_of: HashMap<String, u64> = (0..config.events)
        .map(|i| (simulator::event_id(config, i), i))
        .collect();
    let mut report = LakeReport::default();
    let mut problems: Vec<String> = Vec::new();
    let mut problem_count = 0usize;
    let mut problem = |text: String| {
        problem_count += 1;
        if problems.len() < SHOWN {
            problems.push(text);
        }
    };
    for key in keys.iter().filter(|k| k.starts_with(&wanted)) {
        let Some(encoding) = encoding(key) else {
            continue;
        };
        report.keys.push(key.clone());
        let (dt, hr) = partition(key);
        for row in decode(key, encoding, &read(key)) {
            report.lines += 1;
            if row.source != source {
                problem(format!("{key}: a line of source `{}`", row.source));
                continue;
            }
            let Some(&index) = index_of.get(&row.event_id) else {
                problem(format!(
                    "{key}: event id `{}` is not one the simulator serves",
                    row.event_id
                ));
                continue;
            };
            *report.counts.entry(row.event_id.clone()).or_default() += 1;
            if depth == Depth::Peek {
                continue;
            }
            let expected = simulator::event(config, index);
            if row.data != expected {
                problem(format!(
                    "{key}: `data` of {} differs from what the simulator served:\nstored:   {}\nexpected: {expected}",
                    row.event_id, row.data
                ));
            }
            let time = simulator::event_time(config, index);
            match row.event_time {
                Some(stored) if stored.matches(time) => {}
                other => problem(format!(
                    "{key}: `event_time` of {} is {other:?}, the event's time is {time:?}",
                    row.event_id
                )),
            }
            if let Some(stored) = row.event_time.and_then(StoredTime::datetime) {
                let in_dt = dt.is_none_or(|dt| dt == stored.format("%Y-%m-%d").to_string());
                let in_hr = hr.is_none_or(|hr| hr == stored.format("%H").to_string());
                if !(in_dt && in_hr) {
                    problem(format!(
                        "{key}: event {} at {stored} is outside its partition",
                        row.event_id
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{problem_count} stored lines in {lake} do not match the simulator:\n{}",
        problems.join("\n")
    );
    report
}

/// Record `id` at `secs` (read at a fixed time) holding `data`, as a source hands it to the
/// sinks.
pub fn envelope(id: &str, secs: i64, data: serde_json::Value) -> sluice::transform::Envelope {
    use chrono::TimeZone;
    use sluice::transform::{Envelope, EnvelopeTime};
    Envelope {
        event_time: EnvelopeTime(Utc.timestamp_opt(secs, 0).unwrap()),
        parse_time: EnvelopeTime(Utc.timestamp_opt(1_700_000_000, 0).unwrap()),
        source: std::sync::Arc::from("okta"),
        event_id: id.to_string(),
        data: data.into(),
        ocsf: Default::default(),
    }
}

/// The no-overwrite rule of a bucket lake (`config`, reached directly through `client`):
/// the same batch published twice with the same bytes is accepted (a publish finished
/// again); other bytes under that published name are refused, and the object keeps its
/// first bytes. `prefix` is the lake's key prefix in the bucket (`replay/`). Returns the
/// object's key; the sinks' staging is discarded.
pub async fn assert_a_published_object_is_never_replaced(
    config: &sluice::config::LakeConfig,
    client: &dyn object_store::ObjectStore,
    prefix: &str,
) -> object_store::path::Path {
    use object_store::ObjectStoreExt;
    use sluice::sink::lake::LakeSink;
    use sluice::sink::Sink;
    let events = [
        envelope("a", 1_700_000_000, serde_json::json!({"n": 1})),
        envelope("b", 1_700_000_001, serde_json::json!({"n": 2})),
    ];
    let key = object_store::path::Path::from(format!(
        "{prefix}source=okta/dt=2023-11-14/hr=22/0000000009-beef.ndjson.zst"
    ));
    let mut contents = Vec::new();
    for _ in 0..2 {
        let mut sink = LakeSink::new(config, "okta").unwrap();
        sink.write(&events).await.unwrap();
        let payload = sink.prepare("0000000009-beef").await.unwrap().unwrap();
        sink.publish(&payload).await.unwrap();
        contents.push(client.get(&key).await.unwrap().bytes().await.unwrap());
    }
    assert_eq!(contents[0], contents[1], "same content");
    let mut sink = LakeSink::new(config, "okta").unwrap();
    sink.discard_staged().await.unwrap();
    let other = envelope("c", 1_700_000_002, serde_json::json!({"n": 3}));
    sink.write(&[other]).await.unwrap();
    let payload = sink.prepare("0000000009-beef").await.unwrap().unwrap();
    let err = sink.publish(&payload).await.unwrap_err().to_string();
    assert!(err.contains("never replaces a published object"), "{err}");
    assert_eq!(
        client.get(&key).await.unwrap().bytes().await.unwrap(),
        contents[0]
    );
    sink.discard_staged().await.unwrap();
    key
}

/// Whether `key` is a record of the manifest ledger (`_manifest/…`), or one staged
/// (`…-manifest-….json.partial`), rather than a lake object.
pub fn is_ledger(key: &str) -> bool {
    key.contains("_manifest/") || key.contains("-manifest-")
}
