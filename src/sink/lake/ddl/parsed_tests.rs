//! `sluice lake ddl` output parsed with each engine's dialect of `sqlparser`, statement by
//! statement, and checked clause by clause: table names, columns and their types, partition
//! columns, locations, file formats and options, as configuration.md and the module docs
//! describe them. Text that does not parse fails here, whatever it contains.
//!
//! `sqlparser` lacks two clauses the engines have: Snowflake's `CREATE PIPE … AS` and
//! BigQuery's `WITH PARTITION COLUMNS`. Those statements are read with the parser's own
//! pieces (keywords, names, column lists, `OPTIONS`), and the pipe's `COPY INTO` as a statement.

use std::collections::BTreeMap;

use sqlparser::ast::helpers::key_value_options::KeyValueOptions;
use sqlparser::ast::{
    ColumnDef, CreateTableOptions, Expr, HiveDistributionStyle, HiveIOFormat, HiveRowFormat,
    ObjectName, SetExpr, SqlOption, Statement, Value,
};
use sqlparser::dialect::{BigQueryDialect, Dialect as SqlDialect, HiveDialect, SnowflakeDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use super::*;
use crate::sink::lake::{Format, KeyTemplate};

/// One statement of the output.
#[derive(Debug)]
enum Parsed {
    Statement(Box<Statement>),
    /// Snowflake `CREATE PIPE IF NOT EXISTS name AUTO_INGEST = TRUE [INTEGRATION = '…'] AS copy`.
    Pipe {
        name: String,
        auto_ingest: bool,
        integration: Option<String>,
        copy: Box<Statement>,
    },
    /// BigQuery `CREATE EXTERNAL TABLE IF NOT EXISTS name (columns) [WITH PARTITION COLUMNS
    /// (columns)] OPTIONS (…)`.
    BigQueryExternal {
        name: String,
        columns: Vec<(String, String)>,
        partitions: Vec<(String, String)>,
        options: BTreeMap<String, String>,
    },
}

/// Every statement of `sql`, in order.
fn parse_all(dialect: &dyn SqlDialect, sql: &str) -> Vec<Parsed> {
    let fail = |e: ParserError| -> ! { panic!("does not parse: {e}\n{sql}") };
    let mut parser = match Parser::new(dialect).try_with_sql(sql) {
        Ok(parser) => parser,
        Err(e) => fail(e),
    };
    let word = |token: &Token, text: &str| matches!(token, Token::Word(w) if w.value.eq_ignore_ascii_case(text));
    let mut parsed = Vec::new();
    loop {
        while parser.consume_token(&Token::SemiColon) {}
        let [first, second] = parser.peek_tokens::<2>();
        if first == Token::EOF {
            return parsed;
        }
        let statement = if word(&first, "CREATE") && word(&second, "PIPE") {
            parser.next_token();
            parser.next_token();
            pipe(&mut parser)
        } else if dialect.is::<BigQueryDialect>()
            && parser.parse_keywords(&[Keyword::CREATE, Keyword::EXTERNAL, Keyword::TABLE])
        {
            bigquery_external(&mut parser)
        } else {
            parser
                .parse_statement()
                .map(|s| Parsed::Statement(Box::new(s)))
        };
        match statement {
            Ok(statement) => parsed.push(statement),
            Err(e) => fail(e),
        }
    }
}

/// The rest of a `CREATE PIPE` (after those two words).
fn pipe(parser: &mut Parser) -> Result<Parsed, ParserError> {
    parser.expect_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS])?;
    let name = parser.parse_object_name(false)?.to_string();
    let mut auto_ingest = false;
    let mut integration = None;
    loop {
        if parser.parse_keyword(Keyword::AS) {
            break;
        }
        let key = parser.parse_identifier()?.value.to_uppercase();
        parser.expect_token(&Token::Eq)?;
        match key.as_str() {
            "AUTO_INGEST" => auto_ingest = parser.parse_keyword(Keyword::TRUE),
            "INTEGRATION" => integration = Some(parser.parse_literal_string()?),
            other => return Err(ParserError::ParserError(format!("pipe option {other}"))),
        }
    }
    let copy = Box::new(parser.parse_statement()?);
    Ok(Parsed::Pipe {
        name,
        auto_ingest,
        integration,
        copy,
    })
}

/// The rest of a BigQuery `CREATE EXTERNAL TABLE` (after those three words).
fn bigquery_external(parser: &mut Parser) -> Result<Parsed, ParserError> {
    parser.expect_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS])?;
    let name = name(&parser.parse_object_name(false)?);
    let (columns, _) = parser.parse_columns()?;
    let partitions =
        if parser.parse_keywords(&[Keyword::WITH, Keyword::PARTITION, Keyword::COLUMNS]) {
            parser.parse_columns()?.0
        } else {
            Vec::new()
        };
    let options = parser.parse_options(Keyword::OPTIONS)?;
    Ok(Parsed::BigQueryExternal {
        name,
        columns: column_types(&columns),
        partitions: column_types(&partitions),
        options: option_map(&options),
    })
}

fn column_types(columns: &[ColumnDef]) -> Vec<(String, String)> {
    columns
        .iter()
        .map(|c| (c.name.value.clone(), c.data_type.to_string()))
        .collect()
}

/// A literal's text (strings unquoted), any other expression as SQL.
fn literal(expr: &Expr) -> String {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        Expr::Array(array) => array.elem.iter().map(literal).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn option_map(options: &[SqlOption]) -> BTreeMap<String, String> {
    options
        .iter()
        .map(|o| match o {
            SqlOption::KeyValue { key, value } => (unquote(&key.to_string()), literal(value)),
            other => panic!("unexpected option {other}"),
        })
        .collect()
}

/// Snowflake `KEY = value` options as `KEY=value` texts, values unquoted.
fn key_values(options: &KeyValueOptions) -> Vec<String> {
    options
        .options
        .iter()
        .map(|o| unquote(&o.to_string()))
        .collect()
}

fn unquote(text: &str) -> String {
    text.replace('\'', "")
}

/// A name's parts joined with `.`, unquoted (BigQuery's `` `a.b` `` is two parts).
fn name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|part| {
            part.as_ident()
                .map_or_else(|| part.to_string(), |i| i.value.clone())
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The output's statements: a table statement, checked by the caller.
fn create_table(parsed: &Parsed) -> &sqlparser::ast::CreateTable {
    match parsed {
        Parsed::Statement(s) => match s.as_ref() {
            Statement::CreateTable(table) => table,
            other => panic!("expected CREATE TABLE, got {other}"),
        },
        other => panic!("expected CREATE TABLE, got {other:?}"),
    }
}

/// A view's name, its columns (as written), what it reads and how it is ordered.
fn view(parsed: &Parsed) -> (String, Vec<String>, String, Vec<String>) {
    let Parsed::Statement(statement) = parsed else {
        panic!("expected a view, got {parsed:?}")
    };
    let Statement::CreateView(view) = statement.as_ref() else {
        panic!("expected a view, got {statement}")
    };
    assert!(view.or_replace, "{statement}");
    let SetExpr::Select(select) = view.query.body.as_ref() else {
        panic!("expected a SELECT: {statement}")
    };
    let projection = select.projection.iter().map(|p| p.to_string()).collect();
    assert_eq!(select.from.len(), 1, "{statement}");
    let from = select.from[0].relation.to_string();
    let order = view
        .query
        .order_by
        .as_ref()
        .map(|o| o.to_string())
        .into_iter()
        .collect();
    (name(&view.name), projection, from, order)
}

/// How a `_latest` view keeps one copy of each event: its `QUALIFY` and `WHERE` clauses, as
/// the parser prints them (empty when absent).
fn newest_copy(parsed: &Parsed) -> (String, String) {
    let Parsed::Statement(statement) = parsed else {
        panic!("expected a view, got {parsed:?}")
    };
    let Statement::CreateView(view) = statement.as_ref() else {
        panic!("expected a view, got {statement}")
    };
    let SetExpr::Select(select) = view.query.body.as_ref() else {
        panic!("expected a SELECT: {statement}")
    };
    let text = |e: &Option<Expr>| e.as_ref().map(|e| e.to_string()).unwrap_or_default();
    (text(&select.qualify), text(&select.selection))
}

/// The `QUALIFY` every dialect with one uses: the newest parse of each event id.
const QUALIFY: &str =
    "ROW_NUMBER() OVER (PARTITION BY source, event_id ORDER BY parse_time DESC) = 1";

fn lake(url: &str) -> LakeConfig {
    let mut config = LakeConfig::local("lake", "/data/lake");
    config.url = Some(url::Url::parse(url).expect("a valid test URL"));
    config
}

fn sql(config: &LakeConfig, dialect: Dialect) -> String {
    ddl(config, dialect, "okta", &Names::default()).expect("the dialect reads this lake")
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

const ENVELOPE: [&str; 5] = ["event_time", "parse_time", "source", "event_id", "data"];

#[test]
fn snowflake_ddl_parses_into_format_stage_table_pipe_and_view() {
    for (url, format, kind, pattern, data, integration) in [
        (
            "s3://sec-lake/raw",
            Format::Ndjson,
            vec!["TYPE=JSON", "COMPRESSION=GZIP"],
            ".*[.]ndjson[.]gz",
            "$1:data",
            None,
        ),
        (
            "gs://sec-lake/raw",
            Format::Parquet,
            vec!["TYPE=PARQUET", "USE_LOGICAL_TYPE=true"],
            ".*[.]parquet",
            "PARSE_JSON($1:data::VARCHAR)",
            Some("SLUICE_LAKE_NOTIFICATIONS"),
        ),
    ] {
        let mut config = lake(url);
        config.format = format;
        let text = sql(&config, Dialect::Snowflake);
        let parsed = parse_all(&SnowflakeDialect {}, &text);
        assert_eq!(parsed.len(), 5, "{text}");
        let format_name = match format {
            Format::Parquet => "sluice_parquet",
            _ => "sluice_ndjson_gzip",
        };

        let Parsed::Statement(s) = &parsed[0] else {
            panic!("{text}")
        };
        let Statement::CreateFileFormat {
            if_not_exists,
            name: file_format,
            options,
            ..
        } = s.as_ref()
        else {
            panic!("expected CREATE FILE FORMAT: {s}")
        };
        assert!(if_not_exists);
        assert_eq!(file_format.to_string(), format_name);
        assert_eq!(key_values(options), kind, "{text}");

        let Parsed::Statement(s) = &parsed[1] else {
            panic!("{text}")
        };
        let Statement::CreateStage {
            if_not_exists,
            name: stage,
            stage_params,
            file_format,
            ..
        } = s.as_ref()
        else {
            panic!("expected CREATE STAGE: {s}")
        };
        assert!(if_not_exists);
        assert_eq!(stage.to_string(), "okta_lake_stage");
        // The source's published prefix: never _staging/, which is outside it.
        let scheme = if url.starts_with("gs://") {
            "gcs"
        } else {
            "s3"
        };
        assert_eq!(
            stage_params.url.as_deref(),
            Some(format!("{scheme}://sec-lake/raw/source=okta/").as_str())
        );
        assert_eq!(
            stage_params.storage_integration.as_deref(),
            Some("sluice_lake")
        );
        assert_eq!(
            key_values(file_format),
            [format!("FORMAT_NAME={format_name}")],
            "{text}"
        );

        let table = create_table(&parsed[2]);
        assert!(table.if_not_exists);
        assert_eq!(name(&table.name), "okta_events");
        assert_eq!(
            column_types(&table.columns),
            pairs(&[
                ("event_time", "TIMESTAMP_TZ"),
                ("parse_time", "TIMESTAMP_TZ"),
                ("source", "VARCHAR"),
                ("event_id", "VARCHAR"),
                ("data", "VARIANT"),
                ("dt", "DATE"),
                ("hr", "NUMBER(2, 0)"),
                ("file_name", "VARCHAR"),
            ]),
            "{text}"
        );

        let Parsed::Pipe {
            name: pipe,
            auto_ingest,
            integration: pipe_integration,
            copy,
        } = &parsed[3]
        else {
            panic!("expected CREATE PIPE: {text}")
        };
        assert_eq!(pipe, "okta_lake_pipe");
        assert!(auto_ingest);
        // S3 notifies pipes through SQS; GCS and Azure through a notification integration.
        assert_eq!(pipe_integration.as_deref(), integration);
        let Statement::CopyIntoSnowflake {
            into,
            into_columns,
            from_obj,
            from_transformations,
            from_query,
            pattern: copy_pattern,
            file_format,
            ..
        } = copy.as_ref()
        else {
            panic!("expected COPY INTO: {copy}")
        };
        assert_eq!(name(into), "okta_events");
        // Every column of the table is loaded, in its order.
        let loaded: Vec<String> = into_columns
            .iter()
            .flatten()
            .map(|c| c.value.clone())
            .collect();
        let table_columns: Vec<String> =
            table.columns.iter().map(|c| c.name.value.clone()).collect();
        assert_eq!(loaded, table_columns);
        assert_eq!(
            from_obj.as_ref().map(name).as_deref(),
            Some("@okta_lake_stage")
        );
        assert!(from_query.is_none(), "{copy}");
        let selected: Vec<String> = from_transformations
            .iter()
            .flatten()
            .map(|t| t.to_string())
            .collect();
        assert_eq!(selected.len(), loaded.len(), "{copy}");
        assert_eq!(selected[4], data, "{copy}");
        assert_eq!(selected[7], "METADATA$FILENAME", "{copy}");
        // Partition values come from the object's key, as a hive reader takes them.
        assert_eq!(
            selected[5],
            "TO_DATE(REGEXP_SUBSTR(METADATA$FILENAME, '(^|/)dt=([^/]*)/', 1, 1, 'e', 2))"
        );
        assert_eq!(copy_pattern.as_deref(), Some(pattern));
        assert_eq!(
            key_values(file_format),
            [format!("FORMAT_NAME={format_name}")],
            "{copy}"
        );

        let (view_name, columns, from, order) = view(&parsed[4]);
        assert_eq!(view_name, "okta_events_latest");
        let mut expected: Vec<&str> = ENVELOPE[..4].to_vec();
        expected.extend(["dt", "hr", "data"]);
        assert_eq!(columns, expected);
        assert_eq!(from, "okta_events");
        assert_eq!(order, ["ORDER BY event_time DESC"]);
        // A range delivered twice (`sluice backfill --redeliver`) reads as one copy.
        assert_eq!(
            newest_copy(&parsed[4]),
            (QUALIFY.to_string(), String::new())
        );
    }
}

#[test]
fn bigquery_ddl_parses_into_an_external_table_with_hive_partitions_and_a_view() {
    for (format, data_type, options, view_data) in [
        (
            Format::Ndjson,
            "JSON",
            vec![
                ("compression", "GZIP"),
                ("format", "NEWLINE_DELIMITED_JSON"),
                ("uris", "gs://sec-lake/source=okta/*.ndjson.gz"),
            ],
            "data",
        ),
        (
            Format::Parquet,
            "STRING",
            vec![
                ("format", "PARQUET"),
                ("uris", "gs://sec-lake/source=okta/*.parquet"),
            ],
            "SAFE.PARSE_JSON(data) AS data",
        ),
    ] {
        let mut config = lake("gs://sec-lake");
        config.format = format;
        let text = sql(&config, Dialect::Bigquery);
        let parsed = parse_all(&BigQueryDialect {}, &text);
        assert_eq!(parsed.len(), 2, "{text}");
        let Parsed::BigQueryExternal {
            name: table,
            columns,
            partitions,
            options: table_options,
        } = &parsed[0]
        else {
            panic!("expected CREATE EXTERNAL TABLE: {text}")
        };
        assert_eq!(table, "sluice.okta_events");
        assert_eq!(
            columns,
            &pairs(&[
                ("event_time", "TIMESTAMP"),
                ("parse_time", "TIMESTAMP"),
                ("source", "STRING"),
                ("event_id", "STRING"),
                ("data", data_type),
            ])
        );
        assert_eq!(partitions, &pairs(&[("dt", "DATE"), ("hr", "INT64")]));
        let mut expected: BTreeMap<String, String> = options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        expected.insert(
            "hive_partition_uri_prefix".into(),
            "gs://sec-lake/source=okta".into(),
        );
        expected.insert("require_hive_partition_filter".into(), "false".into());
        assert_eq!(table_options, &expected, "{text}");

        let (view_name, projection, from, order) = view(&parsed[1]);
        assert_eq!(view_name, "sluice.okta_events_latest");
        let mut expected: Vec<&str> = ENVELOPE[..4].to_vec();
        expected.extend(["dt", "hr", view_data]);
        assert_eq!(projection, expected);
        assert_eq!(from, "`sluice`.`okta_events`");
        assert_eq!(order, ["ORDER BY event_time DESC"]);
        assert_eq!(
            newest_copy(&parsed[1]),
            (QUALIFY.to_string(), "true".to_string())
        );
    }
}

#[test]
fn athena_ddl_parses_into_a_projected_external_table_and_a_view() {
    for (format, time_type) in [(Format::Ndjson, "STRING"), (Format::Parquet, "TIMESTAMP")] {
        let mut config = lake("s3://sec-lake/raw/");
        config.format = format;
        let text = sql(&config, Dialect::Athena);
        let parsed = parse_all(&HiveDialect {}, &text);
        assert_eq!(parsed.len(), 2, "{text}");
        let table = create_table(&parsed[0]);
        assert!(table.external && table.if_not_exists, "{text}");
        assert_eq!(name(&table.name), "okta_events");
        assert_eq!(
            column_types(&table.columns),
            pairs(&[
                ("event_time", time_type),
                ("parse_time", time_type),
                ("source", "STRING"),
                ("event_id", "STRING"),
                ("data", "STRING"),
            ]),
            "{text}"
        );
        let HiveDistributionStyle::PARTITIONED { columns } = &table.hive_distribution else {
            panic!("not partitioned: {text}")
        };
        assert_eq!(
            column_types(columns),
            pairs(&[("dt", "STRING"), ("hr", "STRING")])
        );
        let formats = table.hive_formats.as_ref().expect("storage clauses");
        assert_eq!(
            formats.location.as_deref(),
            Some("s3://sec-lake/raw/source=okta/")
        );
        match format {
            Format::Parquet => {
                assert!(formats.row_format.is_none(), "{text}");
                assert!(
                    matches!(
                        formats.storage,
                        Some(HiveIOFormat::FileFormat {
                            format: sqlparser::ast::FileFormat::PARQUET
                        })
                    ),
                    "{text}"
                );
            }
            _ => {
                assert!(
                    matches!(&formats.row_format, Some(HiveRowFormat::SERDE { class }) if class == "org.openx.data.jsonserde.JsonSerDe"),
                    "{text}"
                );
                let Some(HiveIOFormat::IOF {
                    input_format,
                    output_format,
                }) = &formats.storage
                else {
                    panic!("no input and output formats: {text}")
                };
                assert_eq!(
                    (literal(input_format), literal(output_format)),
                    (
                        "org.apache.hadoop.mapred.TextInputFormat".to_string(),
                        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat".to_string()
                    )
                );
            }
        }
        let CreateTableOptions::TableProperties(properties) = &table.table_options else {
            panic!("no TBLPROPERTIES: {text}")
        };
        let expected: BTreeMap<String, String> = [
            ("projection.enabled", "true"),
            ("projection.dt.type", "date"),
            ("projection.dt.format", "yyyy-MM-dd"),
            ("projection.dt.range", "NOW-3YEARS,NOW+1DAYS"),
            ("projection.dt.interval", "1"),
            ("projection.dt.interval.unit", "DAYS"),
            ("projection.hr.type", "integer"),
            ("projection.hr.range", "0,23"),
            ("projection.hr.digits", "2"),
            (
                "storage.location.template",
                "s3://sec-lake/raw/source=okta/dt=${dt}/hr=${hr}/",
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(option_map(properties), expected, "{text}");

        let (view_name, projection, from, order) = view(&parsed[1]);
        assert_eq!(view_name, "okta_events_latest");
        let times: [&str; 2] = match format {
            Format::Parquet => ["event_time", "parse_time"],
            _ => [
                "from_iso8601_timestamp(event_time) AS event_time",
                "from_iso8601_timestamp(parse_time) AS parse_time",
            ],
        };
        let mut expected: Vec<&str> = times.to_vec();
        expected.extend([
            "source",
            "event_id",
            "CAST(dt AS DATE) AS dt",
            "CAST(hr AS INTEGER) AS hr",
            "json_parse(data) AS data",
        ]);
        assert_eq!(projection, expected);
        assert_eq!(from, "okta_events");
        assert_eq!(order, ["ORDER BY event_time DESC"]);
        // Trino has no QUALIFY: a row goes when a copy parsed later exists.
        assert_eq!(
            newest_copy(&parsed[1]),
            (
                String::new(),
                "NOT EXISTS (SELECT 1 FROM okta_events AS newer WHERE newer.source = okta_events.source AND newer.event_id = okta_events.event_id AND newer.parse_time > okta_events.parse_time)".to_string()
            )
        );
    }
}

#[test]
fn custom_templates_and_names_parse_in_every_dialect() {
    let mut config = lake("s3://b");
    config.key_template =
        KeyTemplate::parse("tenant=acme/source={source}/day=%F/type={data.eventType}/hour=%H/")
            .expect("a valid template");
    let names = Names {
        table: Some("okta_raw".into()),
        schema: Some("security".into()),
    };
    let athena = ddl(&config, Dialect::Athena, "okta", &names).expect("Athena reads s3://");
    let parsed = parse_all(&HiveDialect {}, &athena);
    let table = create_table(&parsed[0]);
    assert_eq!(name(&table.name), "security.okta_raw");
    let HiveDistributionStyle::PARTITIONED { columns } = &table.hive_distribution else {
        panic!("not partitioned: {athena}")
    };
    assert_eq!(
        column_types(columns),
        pairs(&[("day", "STRING"), ("type", "STRING"), ("hour", "STRING")])
    );
    let CreateTableOptions::TableProperties(properties) = &table.table_options else {
        panic!("no TBLPROPERTIES: {athena}")
    };
    let properties = option_map(properties);
    assert_eq!(properties["projection.type.type"], "injected");
    assert_eq!(
        properties["storage.location.template"],
        "s3://b/tenant=acme/source=okta/day=${day}/type=${type}/hour=${hour}/"
    );
    assert_eq!(view(&parsed[1]).0, "security.okta_raw_latest");

    let snowflake =
        ddl(&config, Dialect::Snowflake, "okta", &names).expect("Snowflake reads s3://");
    let parsed = parse_all(&SnowflakeDialect {}, &snowflake);
    let table = create_table(&parsed[2]);
    assert_eq!(name(&table.name), "security.okta_raw");
    let columns = column_types(&table.columns);
    assert_eq!(
        columns[5..].to_vec(),
        pairs(&[
            ("day", "DATE"),
            ("type", "VARCHAR"),
            ("hour", "NUMBER(2, 0)"),
            ("file_name", "VARCHAR")
        ])
    );

    let mut gcs = config.clone();
    gcs.url = Some(url::Url::parse("gs://b").expect("a valid test URL"));
    let bigquery = ddl(&gcs, Dialect::Bigquery, "okta", &names).expect("BigQuery reads gs://");
    let parsed = parse_all(&BigQueryDialect {}, &bigquery);
    let Parsed::BigQueryExternal {
        name: table,
        partitions,
        options,
        ..
    } = &parsed[0]
    else {
        panic!("expected CREATE EXTERNAL TABLE: {bigquery}")
    };
    assert_eq!(table, "security.okta_raw");
    assert_eq!(
        partitions,
        &pairs(&[("day", "DATE"), ("type", "STRING"), ("hour", "INT64")])
    );
    assert_eq!(
        options["hive_partition_uri_prefix"],
        "gs://b/tenant=acme/source=okta"
    );
}
