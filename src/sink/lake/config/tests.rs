//! The lake sink's settings read from TOML: defaults, each check and its message.

use super::*;
use crate::sink::lake::StoreScheme;

/// The lake `text` (the keys of a `[[sinks]]` table) describes, read and checked as the
/// loader does, or the error shown for it.
fn parse(text: &str) -> Result<LakeConfig, String> {
    let table: toml::Table = text.parse().map_err(|e| format!("{e}"))?;
    let config = LakeConfig::deserialize(toml::Value::Table(table)).map_err(|e| e.to_string())?;
    config.check().map_err(|e| e.to_string())?;
    Ok(config)
}

#[test]
fn default_template_parses() {
    assert!(KeyTemplate::parse(DEFAULT_KEY_TEMPLATE).is_ok());
    assert_eq!(default_key_template().as_str(), DEFAULT_KEY_TEMPLATE);
}

#[test]
fn path_alone_is_a_local_lake_with_defaults() {
    let config = parse("name = \"lake\"\npath = \"lake\"").unwrap();
    assert_eq!(config.location(), LakeLocation::Directory("lake".into()));
    assert_eq!(config.compression, Compression::Gzip);
    assert_eq!(config.key_template.as_str(), DEFAULT_KEY_TEMPLATE);
    assert_eq!(config.roll_size, bytesize::ByteSize::mib(64));
}

#[test]
fn compression_levels_apply_to_their_own_compression_in_range() {
    let base = "name = \"lake\"\npath = \"lake\"\n";
    let config = parse(base).unwrap();
    assert_eq!(config.level(), DEFAULT_GZIP_LEVEL as i32);
    let config = parse(&format!("{base}gzip_level = 9")).unwrap();
    assert_eq!((config.compression, config.level()), (Compression::Gzip, 9));
    let config = parse(&format!("{base}compression = \"zstd\"\nzstd_level = 12")).unwrap();
    assert_eq!(
        (config.compression, config.level()),
        (Compression::Zstd, 12)
    );
    let config = parse(&format!("{base}compression = \"zstd\"")).unwrap();
    assert_eq!(config.level(), DEFAULT_ZSTD_LEVEL);
    for (extra, wanted) in [
        ("gzip_level = 0", "gzip_level = 0 is out of range (hint: 1 is the fastest"),
        ("gzip_level = 10", "gzip_level = 10 is out of range"),
        ("compression = \"zstd\"\nzstd_level = 20", "zstd_level = 20 is out of range"),
        ("compression = \"zstd\"\ngzip_level = 5", "`gzip_level` applies to gzip NDJSON objects and this lake writes zstd"),
        ("zstd_level = 5", "`zstd_level` applies to zstd NDJSON objects and this lake writes gzip (hint: set compression = \"zstd\""),
    ] {
        let err = parse(&format!("{base}{extra}")).unwrap_err();
        assert!(err.contains("lake `lake`: "), "{err}");
        assert!(err.contains(wanted), "{extra}: {err}");
    }
}

#[test]
fn file_url_is_a_local_lake() {
    let config = parse("name = \"lake\"\nurl = \"file:///var/lib/lake\"").unwrap();
    assert_eq!(
        config.location(),
        LakeLocation::Directory("/var/lib/lake".into())
    );
    assert!(config.url.is_none());
}

#[test]
fn path_and_url_exclude_each_other() {
    let err = parse("name = \"l\"\npath = \"a\"\nurl = \"file:///b\"").unwrap_err();
    assert!(err.contains("either `path` or `url`"), "{err}");
    let err = parse("name = \"l\"").unwrap_err();
    assert!(err.contains("missing `path` or `url`"), "{err}");
}

#[test]
fn bad_urls_are_refused_with_a_hint() {
    for (url, expected) in [
        ("ftp://x/y", "not a lake location"),
        ("s3://key:secret@bucket/p", "must not hold credentials"),
        ("s3:///prefix", "names no bucket"),
        ("s3://bucket/_staging/x", "cannot start with `_staging`"),
        ("s3://bucket/a%5Cb", "not allowed"),
    ] {
        let err = parse(&format!("name = \"l\"\nurl = \"{url}\"")).unwrap_err();
        assert!(err.contains(expected), "{url}: {err}");
        assert!(!err.contains("secret@"), "credentials echoed: {err}");
        assert!(err.contains("hint"), "{err}");
    }
}

#[test]
fn store_only_keys_are_refused_for_local_lakes() {
    let err = parse("name = \"l\"\npath = \"a\"\nregion = \"eu-west-1\"").unwrap_err();
    assert!(
        err.contains("`region` applies to object stores only"),
        "{err}"
    );
}

#[test]
fn bad_templates_and_part_sizes_are_refused() {
    let err = parse("name = \"l\"\npath = \"a\"\nkey_template = \"dt=%Y/\"").unwrap_err();
    assert!(err.contains("{source}"), "{err}");
    let err = parse("name = \"l\"\npath = \"a\"\npart_size = \"1MiB\"").unwrap_err();
    assert!(err.contains("5 MiB"), "{err}");
}

#[test]
fn partition_by_class_adds_a_class_segment_after_the_source() {
    let config = parse("name = \"l\"\npath = \"a\"\npartition_by_class = true").unwrap();
    assert_eq!(
        config.key_template.as_str(),
        "source={source}/class={class}/dt=%Y-%m-%d/hr=%H/"
    );
    let own = "name = \"l\"\npath = \"a\"\npartition_by_class = true\nkey_template = \"c={class}/s={source}/\"";
    assert_eq!(
        parse(own).unwrap().key_template.as_str(),
        "c={class}/s={source}/"
    );
    let config = parse("name = \"l\"\npath = \"a\"\npayload = \"ocsf\"").unwrap();
    assert_eq!(config.payload, crate::sink::Payload::Ocsf);
    let err = parse("name = \"l\"\npath = \"a\"\npayload = \"vendor\"").unwrap_err();
    assert!(err.contains("envelope"), "{err}");
}

#[test]
fn parquet_format_is_its_own_object_kind() {
    let result = parse("name = \"l\"\npath = \"a\"\nformat = \"parquet\"");
    if cfg!(feature = "parquet") {
        let config = result.unwrap();
        assert_eq!(config.object_kind(), ObjectKind::Parquet);
        assert_eq!(config.object_kind().extension(), ".parquet");
    } else {
        let err = result.unwrap_err();
        assert!(err.contains("--features parquet"), "{err}");
        assert!(err.contains("lake `l`"), "{err}");
    }
    let err = parse("name = \"l\"\npath = \"a\"\nformat = \"parquet\"\ncompression = \"zstd\"")
        .unwrap_err();
    if cfg!(feature = "parquet") {
        assert!(err.contains("remove `compression`"), "{err}");
    }
    let config = parse("name = \"l\"\npath = \"a\"\ncompression = \"zstd\"").unwrap();
    assert_eq!(config.object_kind(), ObjectKind::Ndjson(Compression::Zstd));
    let err = parse("name = \"l\"\npath = \"a\"\nformat = \"csv\"").unwrap_err();
    assert!(err.contains("parquet"), "{err}");
}

#[cfg(feature = "s3")]
#[test]
fn s3_url_with_endpoint_and_keys() {
    let config = parse(
        r#"
name = "lake"
url = "s3://bucket/some/prefix/"
endpoint = "http://127.0.0.1:9000"
allow_http = true
region = "us-east-1"
access_key_id = "AKIA"
secret_access_key = "s3cr3t"
compression = "zstd"
"#,
    )
    .unwrap();
    assert_eq!(
        config.location(),
        LakeLocation::Store {
            scheme: StoreScheme::S3,
            bucket: "bucket".into(),
            prefix: "some/prefix".into()
        }
    );
    assert_eq!(config.compression.extension(), ".ndjson.zst");
    assert!(!format!("{config:?}").contains("s3cr3t"));

    let err =
        parse("name = \"l\"\nurl = \"s3://b\"\nendpoint = \"http://127.0.0.1:9000\"").unwrap_err();
    assert!(err.contains("allow_http"), "{err}");
    let err = parse("name = \"l\"\nurl = \"s3://b\"\naccess_key_id = \"a\"").unwrap_err();
    assert!(err.contains("together"), "{err}");
    let err = parse("name = \"l\"\nurl = \"s3://b\"\nroll_size = \"6GiB\"").unwrap_err();
    assert!(err.contains("server-side copy"), "{err}");
    assert!(parse("name = \"l\"\npath = \"a\"\nroll_size = \"6GiB\"").is_ok());
}

#[cfg(feature = "s3")]
#[test]
fn object_lock_is_for_s3_lakes_with_a_mode_and_a_retention() {
    use crate::sink::lake::LockMode;
    let config = parse(
        "name = \"l\"\nurl = \"s3://b/p\"\nobject_lock = { mode = \"compliance\", retain_for = \"90d\" }",
    )
    .unwrap();
    let lock = config.object_lock.unwrap();
    assert_eq!(lock.mode, LockMode::Compliance);
    assert_eq!(lock.retain_for, Duration::from_secs(90 * 86_400));
    for (text, expected) in [
        (
            "path = \"a\"\nobject_lock = { mode = \"governance\", retain_for = \"1d\" }",
            "applies to object stores only",
        ),
        (
            "url = \"s3://b\"\nobject_lock = { mode = \"legal\", retain_for = \"1d\" }",
            "governance",
        ),
        (
            "url = \"s3://b\"\nobject_lock = { mode = \"governance\" }",
            "retain_for",
        ),
        (
            "url = \"s3://b\"\nobject_lock = { mode = \"governance\", retain_for = \"0s\" }",
            "longer than zero",
        ),
    ] {
        let err = parse(&format!("name = \"l\"\n{text}")).unwrap_err();
        assert!(err.contains(expected), "{text}: {err}");
    }
}

#[cfg(not(feature = "s3"))]
#[test]
fn s3_url_without_the_feature_names_it() {
    let err = parse("name = \"l\"\nurl = \"s3://b/p\"").unwrap_err();
    assert!(err.contains("--features s3"), "{err}");
}

#[test]
fn the_loader_shows_each_problem_at_its_key() {
    let base = "[[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"lake\"\n";
    for (extra, key, expected) in [
        (
            "part_size = \"1MiB\"\n",
            "part_size",
            "is below 5 MiB, the smallest part S3 accepts",
        ),
        (
            "region = \"eu-west-1\"\n",
            "region",
            "`region` applies to object stores only",
        ),
        (
            "max_open_partitions = 0\n",
            "max_open_partitions",
            "must be at least 1",
        ),
        (
            "ledger = { public_key = \"AAAA\" }\n",
            "ledger.public_key",
            "lake `lake`: ledger.public_key: the base64 holds 3 bytes",
        ),
    ] {
        let text = format!("{base}{extra}");
        let err = crate::config::load_str(&text, std::path::Path::new("sluice.toml")).unwrap_err();
        assert_eq!(err.key, Some(format!("sinks[0].{key}")), "{err}");
        assert_eq!(err.position.map(|(line, _)| line), Some(5), "{err}");
        assert!(err.message.contains(expected), "{err}");
        assert!(err.hint.is_some(), "{err}");
    }
}
