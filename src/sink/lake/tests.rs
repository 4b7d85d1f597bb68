use super::contents::read_store;
use super::*;
use crate::source::Record;
use chrono::{TimeZone, Utc};
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt};
use std::path::Path;
use std::sync::Arc;

fn config(root: &Path) -> LakeConfig {
    LakeConfig::local("lake", root)
}

fn event(id: &str, secs: i64) -> Envelope {
    let record = Record {
        time: Utc.timestamp_opt(secs, 0).unwrap(),
        id: id.into(),
        data: serde_json::json!({"id": id}).into(),
    };
    Envelope::wrap(record, &Arc::from("okta"), Utc::now())
}

/// An event whose data is `size` bytes of incompressible text.
fn big_event(id: &str, secs: i64, size: usize) -> Envelope {
    use rand::Rng;
    let mut rng = rand::rng();
    let noise: String = (0..size)
        .map(|_| char::from(b'!' + rng.random_range(0..90u8)))
        .map(|c| if c == '"' || c == '\\' { 'x' } else { c })
        .collect();
    let mut e = event(id, secs);
    e.data = serde_json::json!({"id": id, "noise": noise}).into();
    e
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
    let contents = read_lake(dir.path(), "okta").unwrap();
    assert_eq!(contents.event_ids, vec!["a", "b"]);
    assert_eq!(
        contents.min_event_time.as_deref(),
        Some("2023-11-14T22:13:20.000Z")
    );
    assert_eq!(
        contents.max_event_time.as_deref(),
        Some("2023-11-14T23:13:20.000Z")
    );
    // Publishing again (a crash after the renames) is harmless.
    assert_eq!(sink.publish(&payload).await.unwrap().objects, 2);
    assert_eq!(read_lake(dir.path(), "okta").unwrap().event_ids.len(), 2);
}

#[tokio::test]
async fn intents_recorded_by_the_previous_version_still_publish() {
    // The payload shape before object stores: no `parts`.
    let dir = tempfile::tempdir().unwrap();
    let staged = dir
        .path()
        .join("_staging/source=okta/000001-472222.ndjson.gz.partial");
    std::fs::create_dir_all(staged.parent().unwrap()).unwrap();
    std::fs::write(&staged, b"").unwrap();
    let payload = serde_json::json!([{
        "staged": "_staging/source=okta/000001-472222.ndjson.gz.partial",
        "key": "source=okta/dt=2023-11-14/hr=22/0000000001-abcd.ndjson.gz",
        "bytes": 0
    }]);
    let mut sink = LakeSink::new(&config(dir.path()), "okta").unwrap();
    assert_eq!(sink.publish(&payload).await.unwrap().objects, 1);
    assert!(dir
        .path()
        .join("source=okta/dt=2023-11-14/hr=22/0000000001-abcd.ndjson.gz")
        .exists());
}

#[tokio::test]
async fn a_second_writer_for_the_same_source_is_refused_at_its_first_touch() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = LakeSink::new(&config(dir.path()), "okta").unwrap();
    first.discard_staged().await.unwrap();
    // Building a sink touches nothing: a run that then finds the lease held elsewhere ends
    // cleanly. Its first file operation takes the lock.
    let mut second = LakeSink::new(&config(dir.path()), "okta").unwrap();
    let err = second.discard_staged().await.err().unwrap();
    assert!(err.to_string().contains("another sluice process"), "{err}");
    let mut other_source = LakeSink::new(&config(dir.path()), "github").unwrap();
    assert!(other_source.discard_staged().await.is_ok());
    // A backfill window of the same source has a lock of its own.
    let mut window =
        LakeSink::for_key(&config(dir.path()), "okta", "okta@20231114T220000.000Z").unwrap();
    assert!(window.discard_staged().await.is_ok());
    drop(first);
    let mut again = LakeSink::new(&config(dir.path()), "okta").unwrap();
    assert!(again.discard_staged().await.is_ok());
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

#[tokio::test]
async fn zstd_and_a_custom_template_with_hostile_values_stay_inside_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    let mut cfg = config(&root);
    cfg.compression = Compression::Zstd;
    cfg.key_template = KeyTemplate::parse("source={source}/type={data.kind}/%Y/").unwrap();
    let mut sink = LakeSink::new(&cfg, "../okta").unwrap();
    let mut hostile = event("a", 0);
    hostile.data = serde_json::json!({"kind": "../../../escape"}).into();
    let mut plain = event("b", 0);
    plain.data = serde_json::json!({"kind": "user.login"}).into();
    sink.write(&[hostile, plain]).await.unwrap();
    let payload = sink.prepare("../batch").await.unwrap().unwrap();
    sink.publish(&payload).await.unwrap();
    let contents = read_lake_at(&cfg, "../okta").await.unwrap();
    assert_eq!(contents.objects, 2);
    assert_eq!(
        contents.keys,
        vec![
            "source=..%2Fokta/type=..%2F..%2F..%2Fescape/1970/..%2Fbatch.ndjson.zst",
            "source=..%2Fokta/type=user.login/1970/..%2Fbatch.ndjson.zst",
        ]
    );
    // Nothing was written outside the lake directory.
    let outside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("lake")]);
}

/// The lake objects of a prepared payload, without its ledger record.
fn data_objects(payload: &serde_json::Value) -> Vec<PreparedObject> {
    let all: Vec<PreparedObject> = serde_json::from_value(payload.clone()).unwrap();
    all.into_iter().filter(|o| !o.ledger).collect()
}

fn is_ledger(key: &str) -> bool {
    key.contains("_manifest/") || key.contains("-manifest-")
}

fn store_config() -> LakeConfig {
    let mut cfg = LakeConfig::local("lake", "/unused");
    cfg.part_size = bytesize::ByteSize::mib(5);
    cfg
}

/// The store's keys, without the manifest ledger's records (published or staged), which
/// `ledger_records_are_published_first_and_chained` checks.
async fn keys(store: &InMemory) -> Vec<String> {
    use futures_util::StreamExt;
    let mut keys: Vec<String> = store
        .list(None)
        .map(|m| m.unwrap().location.to_string())
        .filter(|k| std::future::ready(!is_ledger(k)))
        .collect()
        .await;
    keys.sort();
    keys
}

#[tokio::test]
async fn object_store_stages_then_publishes_by_copy_idempotently() {
    let memory = Arc::new(InMemory::new());
    let cfg = store_config();
    let mut sink = LakeSink::with_object_store(&cfg, "okta", memory.clone(), "raw/");
    sink.write(&[event("a", 1_700_000_000), event("b", 1_700_003_600)])
        .await
        .unwrap();
    // Nothing is sent before prepare for small objects.
    assert!(keys(&memory).await.is_empty());
    let payload = sink.prepare("0000000001-abcd").await.unwrap().unwrap();
    let staged = keys(&memory).await;
    assert_eq!(staged.len(), 2);
    assert!(
        staged.iter().all(
            |k| k.starts_with("raw/_staging/source=okta/") && k.ends_with(".ndjson.gz.partial")
        ),
        "{staged:?}"
    );
    let published = sink.publish(&payload).await.unwrap();
    assert_eq!(published.objects, 2);
    assert_eq!(
        keys(&memory).await,
        vec![
            "raw/source=okta/dt=2023-11-14/hr=22/0000000001-abcd.ndjson.gz",
            "raw/source=okta/dt=2023-11-14/hr=23/0000000001-abcd.ndjson.gz",
        ]
    );
    // A crash after the copies: publishing again finds nothing staged and the keys present.
    assert_eq!(sink.publish(&payload).await.unwrap().objects, 2);
    let store = store::Store::new(&cfg, memory.clone(), "raw");
    let contents = read_store(&store, &cfg, "okta").await.unwrap();
    assert_eq!(contents.event_ids, vec!["a", "b"]);

    // Both gone: an error that says so, and leaves the intent pending.
    memory
        .delete(&"raw/source=okta/dt=2023-11-14/hr=22/0000000001-abcd.ndjson.gz".into())
        .await
        .unwrap();
    let err = sink.publish(&payload).await.unwrap_err();
    assert!(
        err.to_string().contains("neither staged nor published"),
        "{err}"
    );
}

#[tokio::test]
async fn object_store_never_replaces_a_published_object() {
    let memory = Arc::new(InMemory::new());
    let cfg = store_config();
    let key = "source=okta/dt=1970-01-01/hr=00/0000000007-beef.ndjson.gz";
    let mut first = LakeSink::with_object_store(&cfg, "okta", memory.clone(), "");
    first.write(&[event("a", 0), event("b", 1)]).await.unwrap();
    let payload = first.prepare("0000000007-beef").await.unwrap().unwrap();
    first.publish(&payload).await.unwrap();
    let before = memory
        .get(&key.into())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();

    // Another batch under the same name (a state store that lost its position): refused,
    // the published object untouched, the staged one kept for the pending commit.
    let mut second = LakeSink::with_object_store(&cfg, "okta", memory.clone(), "");
    second.write(&[event("c", 2)]).await.unwrap();
    let payload = second.prepare("0000000007-beef").await.unwrap().unwrap();
    let err = second.publish(&payload).await.unwrap_err().to_string();
    assert!(
        err.contains(key) && err.contains("never replaces") && err.contains("state recover"),
        "{err}"
    );
    let after = memory
        .get(&key.into())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(before, after);
    assert!(
        keys(&memory)
            .await
            .iter()
            .any(|k| k.starts_with("_staging/")),
        "the staged object stays"
    );

    // The same bytes already at the key (a crash between copy and delete): accepted.
    let mut third = LakeSink::with_object_store(&cfg, "okta", memory.clone(), "");
    third.discard_staged().await.unwrap();
    third.write(&[event("d", 3)]).await.unwrap();
    let payload = third.prepare("0000000008-beef").await.unwrap().unwrap();
    let objects = data_objects(&payload);
    memory
        .copy(
            &objects[0].staged.as_str().into(),
            &objects[0].key.as_str().into(),
        )
        .await
        .unwrap();
    assert_eq!(third.publish(&payload).await.unwrap().objects, 1);
    assert!(!keys(&memory)
        .await
        .iter()
        .any(|k| k.starts_with("_staging/")));
    let store = store::Store::new(&cfg, memory.clone(), "");
    let contents = read_store(&store, &cfg, "okta").await.unwrap();
    assert_eq!(contents.event_ids, vec!["a", "b", "d"]);
}

#[tokio::test]
async fn local_lake_never_replaces_a_published_object() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir
        .path()
        .join("source=okta/dt=1970-01-01/hr=00/0000000007-beef.ndjson.gz");
    {
        let mut first = LakeSink::new(&config(dir.path()), "okta").unwrap();
        first.write(&[event("a", 0), event("b", 1)]).await.unwrap();
        let payload = first.prepare("0000000007-beef").await.unwrap().unwrap();
        first.publish(&payload).await.unwrap();
    }
    let before = std::fs::read(&key).unwrap();

    let mut second = LakeSink::new(&config(dir.path()), "okta").unwrap();
    second.write(&[event("c", 2)]).await.unwrap();
    let payload = second.prepare("0000000007-beef").await.unwrap().unwrap();
    let err = second.publish(&payload).await.unwrap_err().to_string();
    assert!(
        err.contains("0000000007-beef.ndjson.gz")
            && err.contains("never replaces")
            && err.contains("--source okta"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&key).unwrap(),
        before,
        "the object is untouched"
    );
    let objects: Vec<PreparedObject> = serde_json::from_value(payload).unwrap();
    assert!(dir.path().join(&objects[0].staged).exists(), "staged kept");
    drop(second);

    // The same bytes at the key already (a crash between link and unlink): accepted.
    let mut third = LakeSink::new(&config(dir.path()), "okta").unwrap();
    third.discard_staged().await.unwrap();
    third.write(&[event("d", 3)]).await.unwrap();
    let payload = third.prepare("0000000008-beef").await.unwrap().unwrap();
    let objects = data_objects(&payload);
    let target = dir.path().join(&objects[0].key);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::hard_link(dir.path().join(&objects[0].staged), &target).unwrap();
    assert_eq!(third.publish(&payload).await.unwrap().objects, 1);
    assert!(!dir.path().join(&objects[0].staged).exists());
    let contents = read_lake(dir.path(), "okta").unwrap();
    assert_eq!(contents.event_ids, vec!["a", "b", "d"]);
}

#[test]
fn publish_no_replace_moves_once_and_compares_what_it_finds() {
    let dir = tempfile::tempdir().unwrap();
    let (staged, key) = (dir.path().join("staged"), dir.path().join("key"));
    std::fs::write(&staged, b"one").unwrap();
    local::publish_no_replace(&staged, &key).unwrap();
    assert!(!staged.exists());
    assert_eq!(std::fs::read(&key).unwrap(), b"one");
    std::fs::write(&staged, b"two").unwrap();
    assert!(matches!(
        local::publish_no_replace(&staged, &key),
        Err(local::Refused::Different)
    ));
    assert_eq!(std::fs::read(&key).unwrap(), b"one");
    assert!(staged.exists());
    std::fs::write(&staged, b"one").unwrap();
    local::publish_no_replace(&staged, &key).unwrap();
    assert!(!staged.exists());
}

#[tokio::test]
async fn object_store_streams_large_objects_as_multipart_uploads() {
    let memory = Arc::new(InMemory::new());
    let cfg = store_config();
    let mut sink = LakeSink::with_object_store(&cfg, "okta", memory.clone(), "p");
    // About 12 MiB of incompressible-ish data in one partition: three 5 MiB parts.
    let mut ids = Vec::new();
    for page in 0..12 {
        let events: Vec<Envelope> = (0..8)
            .map(|i| big_event(&format!("e{page}-{i}"), 0, 160 * 1024))
            .collect();
        ids.extend(events.iter().map(|e| e.event_id.clone()));
        sink.write(&events).await.unwrap();
        // Memory stays bounded: never much more than one part is buffered.
        let Output::Memory(buffer) = &sink.open[0].encoder.counted().out else {
            panic!("object stores buffer in memory")
        };
        assert!(buffer.len() < 6 * 1024 * 1024, "{}", buffer.len());
    }
    let payload = sink.prepare("0000000001-abcd").await.unwrap().unwrap();
    let objects = data_objects(&payload);
    assert_eq!(objects.len(), 1);
    assert!(objects[0].parts >= 2, "{objects:?}");
    assert!(objects[0].bytes > 10 * 1024 * 1024, "{objects:?}");
    sink.publish(&payload).await.unwrap();
    let store = store::Store::new(&cfg, memory.clone(), "p");
    let contents = read_store(&store, &cfg, "okta").await.unwrap();
    assert_eq!(contents.event_ids, ids);
    assert_eq!(contents.bytes, objects[0].bytes);
}

#[tokio::test]
async fn object_store_discard_deletes_staged_objects_of_its_source_only() {
    let memory = Arc::new(InMemory::new());
    let cfg = store_config();
    let mut okta = LakeSink::with_object_store(&cfg, "okta", memory.clone(), "");
    let mut github = LakeSink::with_object_store(&cfg, "github", memory.clone(), "");
    okta.write(&[event("a", 0)]).await.unwrap();
    github.write(&[event("b", 0)]).await.unwrap();
    okta.prepare("x").await.unwrap().unwrap();
    github.prepare("x").await.unwrap().unwrap();
    // A crashed run's staged object, and this run's open one.
    okta.write(&[event("c", 0)]).await.unwrap();
    okta.discard_staged().await.unwrap();
    let left = keys(&memory).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("_staging/source=github/"), "{left:?}");
    assert!(okta.prepare("y").await.unwrap().is_none());
}

#[cfg(feature = "parquet")]
#[tokio::test]
async fn parquet_lake_rolls_stages_and_publishes_like_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.format = Format::Parquet;
    let mut sink = LakeSink::new(&cfg, "okta").unwrap();
    sink.write(&[event("a", 1_700_000_000), event("b", 1_700_003_600)])
        .await
        .unwrap();
    let payload = sink.prepare("0000000001-abcd").await.unwrap().unwrap();
    assert_eq!(read_lake(dir.path(), "okta").unwrap().event_ids.len(), 0);
    assert_eq!(sink.publish(&payload).await.unwrap().objects, 2);
    let contents = read_lake(dir.path(), "okta").unwrap();
    assert_eq!(
        contents.keys,
        vec![
            "source=okta/dt=2023-11-14/hr=22/0000000001-abcd.parquet",
            "source=okta/dt=2023-11-14/hr=23/0000000001-abcd.parquet"
        ]
    );
    assert_eq!(contents.event_ids, vec!["a", "b"]);
    assert_eq!(
        contents.min_event_time.as_deref(),
        Some("2023-11-14T22:13:20.000Z")
    );
    assert_eq!(
        contents.max_event_time.as_deref(),
        Some("2023-11-14T23:13:20.000Z")
    );
}

#[cfg(feature = "parquet")]
#[tokio::test]
async fn parquet_objects_stream_to_object_stores_as_multipart_uploads() {
    let memory = Arc::new(InMemory::new());
    let mut cfg = store_config();
    cfg.format = Format::Parquet;
    let mut sink = LakeSink::with_object_store(&cfg, "okta", memory.clone(), "p");
    // About 15 MiB of incompressible data in one partition: a full row group goes out as
    // parts before the batch is prepared.
    let mut ids = Vec::new();
    for page in 0..12 {
        let events: Vec<Envelope> = (0..8)
            .map(|i| big_event(&format!("e{page}-{i}"), 0, 160 * 1024))
            .collect();
        ids.extend(events.iter().map(|e| e.event_id.clone()));
        sink.write(&events).await.unwrap();
        let Output::Memory(buffer) = &sink.open[0].encoder.counted().out else {
            panic!("object stores buffer in memory")
        };
        assert!(buffer.len() < 6 * 1024 * 1024, "{}", buffer.len());
    }
    let payload = sink.prepare("0000000002-abcd").await.unwrap().unwrap();
    let objects = data_objects(&payload);
    assert_eq!(objects.len(), 1);
    assert!(objects[0].parts >= 2, "{objects:?}");
    assert_eq!(
        objects[0].key,
        "source=okta/dt=1970-01-01/hr=00/0000000002-abcd.parquet"
    );
    sink.publish(&payload).await.unwrap();
    let store = store::Store::new(&cfg, memory.clone(), "p");
    let contents = read_store(&store, &cfg, "okta").await.unwrap();
    assert_eq!(contents.event_ids, ids);
    assert_eq!(contents.bytes, objects[0].bytes);
}

#[tokio::test]
async fn ledger_records_are_published_first_and_chained() {
    let dir = tempfile::tempdir().unwrap();
    let record_at = |batch: &str| dir.path().join(ledger::record_key("okta", batch));
    let mut sink = LakeSink::new(&config(dir.path()), "okta").unwrap();
    sink.write(&[
        event("a", 1_700_000_000),
        event("b", 1_700_000_100),
        event("c", 1_700_003_600),
    ])
    .await
    .unwrap();
    let payload = sink.prepare("0000000001-abcd").await.unwrap().unwrap();
    let all: Vec<PreparedObject> = serde_json::from_value(payload.clone()).unwrap();
    assert!(
        // Listed after the objects, published before them (checked below).
        all[2].ledger && all[..2].iter().all(|o| !o.ledger),
        "{all:?}"
    );
    // Counted as the objects of the lake only.
    assert_eq!(sink.publish(&payload).await.unwrap().objects, 2);
    let first_bytes = std::fs::read(record_at("0000000001-abcd")).unwrap();
    let first: ledger::LedgerRecord = serde_json::from_slice(&first_bytes).unwrap();
    assert_eq!((first.commit, first.prev.as_deref()), (1, None));
    assert_eq!(first.scope, "okta");
    assert_eq!(first.objects.len(), 2);
    for entry in &first.objects {
        let bytes = std::fs::read(dir.path().join(&entry.key)).unwrap();
        assert_eq!(entry.sha256, ledger::digest(&bytes), "{}", entry.key);
        assert_eq!(entry.bytes, bytes.len() as u64);
    }
    let hour_22 = &first.objects[0];
    assert_eq!(hour_22.events, 2);
    assert_eq!(
        hour_22.first_event_time,
        Utc.timestamp_opt(1_700_000_000, 0).single()
    );
    assert_eq!(
        hour_22.last_event_time,
        Utc.timestamp_opt(1_700_000_100, 0).single()
    );
    assert_eq!(sink.ledger_head(), Some(ledger::digest(&first_bytes)));
    drop(sink);

    // The next run reads the head back from the lake and chains to it.
    let mut next = LakeSink::new(&config(dir.path()), "okta").unwrap();
    assert_eq!(
        next.ledger_head(),
        None,
        "not read before the first prepare"
    );
    next.write(&[event("d", 1_700_003_700)]).await.unwrap();
    let payload = next.prepare("0000000002-abcd").await.unwrap().unwrap();
    let staged: Vec<PreparedObject> = serde_json::from_value(payload.clone()).unwrap();
    // A publish that fails on the record publishes no object: the record goes first.
    std::fs::rename(dir.path().join(&staged[1].staged), dir.path().join("aside")).unwrap();
    let err = next.publish(&payload).await.unwrap_err().to_string();
    assert!(err.contains("neither staged nor published"), "{err}");
    assert!(
        !dir.path().join(&staged[0].key).exists(),
        "published without its record"
    );
    std::fs::rename(dir.path().join("aside"), dir.path().join(&staged[1].staged)).unwrap();
    next.publish(&payload).await.unwrap();
    let second_bytes = std::fs::read(record_at("0000000002-abcd")).unwrap();
    let second: ledger::LedgerRecord = serde_json::from_slice(&second_bytes).unwrap();
    assert_eq!(second.prev, Some(ledger::digest(&first_bytes)));
    assert_eq!(next.ledger_head(), Some(ledger::digest(&second_bytes)));
    // Readers of the layout never see the ledger.
    assert_eq!(
        read_lake(dir.path(), "okta").unwrap().event_ids,
        ["a", "b", "c", "d"]
    );
}
