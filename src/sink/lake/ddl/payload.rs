//! The columns of a lake after the envelope's four, for `sluice lake ddl`: `data` unless
//! `payload = "ocsf"`, `ocsf` when the OCSF event is not already `data`, and in Parquet lakes
//! the typed OCSF columns ([`crate::sink::lake::ocsf_columns`]).

use super::DdlError;
use crate::sink::config::LakeConfig;
use crate::sink::lake::ocsf_columns::{self, ColumnType};
use crate::sink::lake::ObjectKind;
use crate::sink::Payload;
use crate::transform::OcsfInto;

/// What a column holds, for each dialect to name its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// JSON (text in Parquet objects): `data`, `ocsf`.
    Json,
    /// A UTC time.
    Time,
    /// A 64-bit integer.
    Integer,
    /// Text.
    Text,
}

/// One column after the envelope's four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PayloadColumn {
    pub name: &'static str,
    pub kind: Kind,
}

/// The columns the lake `config` holds after the envelope's four when its events reach it
/// with an OCSF form made `into` (or none). NDJSON lines hold the envelope only with
/// `payload = "envelope"`; other payloads are bare objects no table of this shape reads.
pub(super) fn payload_columns(
    config: &LakeConfig,
    into: Option<OcsfInto>,
) -> Result<Vec<PayloadColumn>, DdlError> {
    let parquet = config.object_kind() == ObjectKind::Parquet;
    if !parquet && config.payload != Payload::Envelope {
        return Err(DdlError::BarePayload(config.payload.as_str()));
    }
    let has_ocsf = into.is_some() && config.payload != Payload::Raw;
    let mut columns = Vec::new();
    if config.payload != Payload::Ocsf {
        columns.push(PayloadColumn {
            name: "data",
            kind: Kind::Json,
        });
    }
    if has_ocsf && (config.payload == Payload::Ocsf || into == Some(OcsfInto::Member)) {
        columns.push(PayloadColumn {
            name: "ocsf",
            kind: Kind::Json,
        });
    }
    if has_ocsf && parquet {
        columns.extend(ocsf_columns::COLUMNS.iter().map(|c| PayloadColumn {
            name: c.name,
            kind: match c.ty {
                ColumnType::TimeMillis => Kind::Time,
                ColumnType::Integer => Kind::Integer,
                ColumnType::Text => Kind::Text,
            },
        }));
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::lake::ddl::{ddl_with_ocsf, Dialect, Names};

    fn parquet(payload: Payload) -> LakeConfig {
        let mut config = LakeConfig::local("lake", "/data/lake");
        config.format = crate::sink::lake::Format::Parquet;
        config.payload = payload;
        config
    }

    fn names(config: &LakeConfig, into: Option<OcsfInto>) -> Vec<&'static str> {
        payload_columns(config, into)
            .unwrap()
            .iter()
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn columns_follow_the_payload_and_the_ocsf_form() {
        let member = Some(OcsfInto::Member);
        let all = names(&parquet(Payload::Envelope), member);
        assert_eq!(&all[..3], ["data", "ocsf", "time"]);
        assert!(all.contains(&"actor_user_email_addr"));
        assert_eq!(names(&parquet(Payload::Envelope), None), ["data"]);
        let replaced = names(&parquet(Payload::Envelope), Some(OcsfInto::Data));
        assert_eq!(&replaced[..2], ["data", "time"], "the OCSF event is `data`");
        assert_eq!(
            &names(&parquet(Payload::Ocsf), member)[..2],
            ["ocsf", "time"]
        );
        assert_eq!(names(&parquet(Payload::Raw), member), ["data"]);
        let mut ndjson = LakeConfig::local("lake", "/data/lake");
        assert_eq!(names(&ndjson, member), ["data", "ocsf"], "no typed columns");
        ndjson.payload = Payload::Ocsf;
        let err = payload_columns(&ndjson, member).unwrap_err().to_string();
        assert!(err.contains("format = \"parquet\""), "{err}");
    }

    /// Every dialect's DDL names the typed columns with their types, and `payload = "ocsf"`
    /// leaves `data` out.
    #[test]
    fn every_dialect_declares_the_typed_columns() {
        let mut config = parquet(Payload::Ocsf);
        config.url = Some(url::Url::parse("gs://bucket/lake").unwrap());
        for (dialect, typed) in [
            (Dialect::Duckdb, "class_uid"),
            (Dialect::Bigquery, "class_uid INT64"),
        ] {
            let sql = ddl_with_ocsf(
                &config,
                dialect,
                "okta",
                &Names::default(),
                Some(OcsfInto::Member),
            )
            .unwrap();
            assert!(sql.contains(typed), "{dialect:?}:\n{sql}");
            assert!(sql.contains("src_endpoint_location_country"), "{sql}");
            assert!(!sql.contains(" data"), "{dialect:?} names data:\n{sql}");
        }
        config.url = Some(url::Url::parse("s3://bucket/lake").unwrap());
        for (dialect, typed) in [
            (Dialect::Athena, "time timestamp"),
            (Dialect::Snowflake, "actor_user_email_addr VARCHAR"),
        ] {
            let sql = ddl_with_ocsf(
                &config,
                dialect,
                "okta",
                &Names::default(),
                Some(OcsfInto::Member),
            )
            .unwrap();
            assert!(sql.contains(typed), "{dialect:?}:\n{sql}");
            assert!(
                sql.contains("json_parse(ocsf)") || dialect != Dialect::Athena,
                "{sql}"
            );
        }
    }
}
