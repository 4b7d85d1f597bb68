//! The lakes a dialect cannot read, and DuckDB's statements (Snowflake's, BigQuery's and
//! Athena's are parsed and checked in `parsed_tests.rs`).

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
    .unwrap_err()
    .to_string();
    assert!(err.contains("gs://") && err.contains("hint"), "{err}");
    let mut zstd = lake(Some("gs://b"));
    zstd.compression = Compression::Zstd;
    let err = ddl(&zstd, Dialect::Bigquery, "okta", &Names::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("gzip"), "{err}");
}

#[test]
fn athena_refuses_a_local_lake() {
    let err = ddl(&lake(None), Dialect::Athena, "okta", &Names::default())
        .unwrap_err()
        .to_string();
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
    // The `_latest` view keeps the newest copy of each event (tests/it/lake_duckdb.rs runs
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
        KeyTemplate::parse("tenant=acme/source={source}/day=%F/type={data.eventType}/").unwrap();
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
