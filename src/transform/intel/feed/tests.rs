use std::io::Write;

use super::*;

fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn found(index: &Index, value: &str) -> Option<(String, Option<u8>)> {
    index
        .lookup(value)
        .map(|hit| (hit.indicator, hit.entry.confidence))
}

#[test]
fn a_text_feed_skips_comments_and_counts_malformed_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(
        &dir,
        "bad.txt",
        "# a feed\n\n198.51.100.7\n203.0.113.0/24  # scanners\nnot an indicator\nevil.example\n10.0.0.0/99\n",
    );
    let index = load(&path, Format::Text).unwrap();
    assert_eq!(index.len, 3);
    assert_eq!((index.malformed, index.first_malformed), (2, Some(5)));
    assert_eq!(
        found(&index, "203.0.113.9"),
        Some(("203.0.113.0/24".into(), None))
    );
    assert_eq!(
        found(&index, "www.evil.example"),
        Some(("evil.example".into(), None))
    );
}

#[test]
fn a_csv_feed_reads_its_columns_by_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(
        &dir,
        "feed.csv",
        "Type,Indicator,Confidence,Comment\nip,198.51.100.7,90,\"a, quoted comment\"\ndomain,evil.example,,\nsha256,e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,40,x\ndomain,198.51.100.8,50,type disagrees\nip,198.51.100.9,101,confidence too high\n",
    );
    let index = load(&path, Format::Csv).unwrap();
    assert_eq!(index.len, 3);
    assert_eq!((index.malformed, index.first_malformed), (2, Some(5)));
    assert_eq!(
        found(&index, "198.51.100.7"),
        Some(("198.51.100.7".into(), Some(90)))
    );
    assert_eq!(
        found(&index, "evil.example"),
        Some(("evil.example".into(), None))
    );
    assert_eq!(found(&index, "198.51.100.8"), None);

    let no_column = file(&dir, "other.csv", "address,score\n198.51.100.7,1\n");
    let error = load(&no_column, Format::Csv).unwrap_err();
    assert!(
        matches!(error, FeedError::NoIndicatorColumn { .. }),
        "{error:?}"
    );
    let error = error.to_string();
    assert!(
        error.contains("no `indicator` column") && error.contains("address, score"),
        "{error}"
    );
}

const BUNDLE: &str = r#"{
  "type": "bundle",
  "id": "bundle--1",
  "objects": [
    {"type": "identity", "id": "identity--1", "name": "us"},
    {"type": "indicator", "id": "indicator--a", "pattern_type": "stix", "confidence": 85,
     "pattern": "[ipv4-addr:value = '198.51.100.0/24' OR domain-name:value = 'evil.example']"},
    {"type": "indicator", "id": "indicator--b", "pattern_type": "stix",
     "pattern": "[file:hashes.'SHA-256' = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855'] OR [url:value = 'https://bad.example/a']"},
    {"type": "indicator", "id": "indicator--c", "pattern_type": "stix",
     "pattern": "[ipv4-addr:value = '192.0.2.1' AND network-traffic:dst_port = 443]"},
    {"type": "indicator", "id": "indicator--d", "pattern_type": "stix", "revoked": true,
     "pattern": "[ipv4-addr:value = '192.0.2.2']"},
    {"type": "indicator", "id": "indicator--e", "pattern_type": "stix",
     "valid_until": "2001-01-01T00:00:00Z", "pattern": "[ipv4-addr:value = '192.0.2.3']"},
    {"type": "indicator", "id": "indicator--f", "pattern_type": "sigma", "pattern": "title: x"},
    {"type": "indicator", "id": "indicator--g", "pattern_type": "stix",
     "pattern": "[domain-name:value = 'it\\'s.example']"}
  ]
}"#;

#[test]
fn a_stix_bundle_gives_the_indicators_of_its_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(&dir, "bundle.json", BUNDLE);
    let index = load(&path, Format::Stix).unwrap();
    assert_eq!(index.len, 4);
    assert_eq!(
        found(&index, "198.51.100.20"),
        Some(("198.51.100.0/24".into(), Some(85)))
    );
    assert_eq!(
        found(&index, "evil.example"),
        Some(("evil.example".into(), Some(85)))
    );
    assert!(found(
        &index,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    .is_some());
    assert!(found(&index, "https://bad.example/a").is_some());
    // AND (a lookup of one value cannot decide it), another pattern language and a value
    // that is no indicator are skipped; revoked and expired ones are left out uncounted.
    assert_eq!(index.malformed, 3);
    assert_eq!(index.first_malformed, Some(10), "the line of indicator--c");
    assert_eq!(found(&index, "192.0.2.2"), None);
    assert_eq!(found(&index, "192.0.2.3"), None);
}

#[test]
fn files_that_cannot_be_feeds_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let error = load(&dir.path().join("gone.txt"), Format::Text).unwrap_err();
    assert!(matches!(error, FeedError::Unreadable(_)), "{error:?}");
    let error = error.to_string();
    assert!(error.contains("cannot be read"), "{error}");
    let binary = dir.path().join("bin.txt");
    std::fs::write(&binary, [0x31, 0x0a, 0xff, 0xfe]).unwrap();
    assert!(load(&binary, Format::Text)
        .unwrap_err()
        .to_string()
        .contains("not UTF-8"));
    let junk = file(&dir, "junk.txt", "hello world\nthis is prose\n");
    let error = load(&junk, Format::Text).unwrap_err().to_string();
    assert!(
        error.contains("no indicator") && error.contains("line 1"),
        "{error}"
    );
    let not_json = file(&dir, "x.json", "{\"type\": \"bundle\",");
    assert!(load(&not_json, Format::Stix)
        .unwrap_err()
        .to_string()
        .contains("not JSON"));
    let not_bundle = file(&dir, "y.json", "{\"type\": \"indicator\"}");
    assert!(load(&not_bundle, Format::Stix)
        .unwrap_err()
        .to_string()
        .contains("not a STIX 2.1 bundle"));
    let no_objects = file(&dir, "z.json", "{\"type\": \"bundle\"}");
    assert!(load(&no_objects, Format::Stix)
        .unwrap_err()
        .to_string()
        .contains("`objects`"));
    // An empty feed is a feed (a list emptied by its publisher).
    let empty = file(&dir, "empty.txt", "# nothing today\n");
    assert_eq!(load(&empty, Format::Text).unwrap().len, 0);
}

#[test]
fn the_format_follows_the_extension() {
    assert_eq!(Format::of(Path::new("a.CSV")), Format::Csv);
    assert_eq!(Format::of(Path::new("a.json")), Format::Stix);
    assert_eq!(Format::of(Path::new("a.txt")), Format::Text);
    assert_eq!(Format::of(Path::new("a")), Format::Text);
}

/// A million indicators load and match. The time is printed for docs/benchmarks.md, never
/// asserted.
#[test]
fn a_million_indicators_load_and_match() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("million.txt");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0u32..1_000_000 {
        let [a, b, c, d] = i.to_be_bytes();
        match i % 4 {
            0 => writeln!(out, "{}.{b}.{c}.{d}", a + 11),
            1 => writeln!(out, "{}.{b}.{c}.{}/30", a + 100, d & 0xfc),
            2 => writeln!(out, "host{i}.bad{}.example", i % 1000),
            _ => writeln!(out, "{:064x}", u128::from(i) * 7919),
        }
        .unwrap();
    }
    drop(out);
    let started = std::time::Instant::now();
    let index = load(&path, Format::Text).unwrap();
    crate::errln!(
        "loaded {} indicators in {:?} ({} build)",
        index.len,
        started.elapsed(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    assert_eq!(index.malformed, 0);
    assert_eq!(index.len, 1_000_000);
    assert!(index.lookup("11.0.0.4").is_some());
    assert_eq!(
        index.lookup("100.0.0.77").unwrap().indicator,
        "100.0.0.76/30"
    );
    assert!(index.lookup("www.host6.bad6.example").is_some());
    assert!(index.lookup(&format!("{:064x}", 3u128 * 7919)).is_some());
    assert!(index.lookup("11.0.0.5").is_none());
}
