//! `sluice lake`: helpers for what reads the lake; `sluice lake verify`, which checks it
//! against its manifest ledger; `retain`, which deletes what is past its retention.

use super::{ConfigArg, EXIT_CONFIG, EXIT_OK};
use crate::config::{Config, LakeConfig, SinkConfig};
use crate::sink::lake::ddl::{self, Dialect, Names};

/// Arguments of `sluice lake`.
#[derive(Debug, clap::Args)]
pub struct LakeArgs {
    #[command(subcommand)]
    command: LakeCommand,
}

#[derive(Debug, clap::Subcommand)]
enum LakeCommand {
    /// Print the SQL (table, view, loader) that reads a source's objects in a warehouse.
    Ddl(DdlArgs),
    /// Re-read a source's objects and ledger records and report modified, missing and
    /// unlisted objects and broken chains; exits 1 on any finding.
    Verify(super::lake_verify::VerifyArgs),
    /// Check every OCSF event a lake holds against the compiled OCSF schema (`--ocsf`),
    /// counted per class with the first problems located by object and line; exits 1 on any
    /// invalid event.
    Validate(super::lake_validate::ValidateArgs),
    /// List the partitions older than each source's `retain`; with --apply, delete them
    /// (each deletion recorded in the manifest ledger, objects under Object Lock skipped).
    Retain(super::lake_retain::RetainArgs),
    /// Re-deliver a source's lake events of a time range to a SIEM sink (HEC,
    /// Elasticsearch, HTTP), with a checkpoint of its own; resumable.
    Replay(super::lake_replay::ReplayArgs),
}

/// Arguments of `sluice lake ddl`.
#[derive(Debug, clap::Args)]
struct DdlArgs {
    /// Which warehouse or engine the SQL is for.
    #[arg(long, value_enum)]
    dialect: Dialect,
    /// The source whose objects the SQL reads.
    #[arg(long)]
    source: String,
    #[command(flatten)]
    config: ConfigArg,
    /// The lake sink to describe, when the source writes to several.
    #[arg(long)]
    sink: Option<String>,
    /// Table name (default `<source>_events`; the view adds `_latest`).
    #[arg(long)]
    table: Option<String>,
    /// Schema, database or dataset to create the objects in (BigQuery default: `sluice`).
    #[arg(long)]
    schema: Option<String>,
}

/// Runs `sluice lake ...`.
pub async fn lake(args: LakeArgs) -> u8 {
    match args.command {
        LakeCommand::Ddl(args) => print_ddl(&args),
        LakeCommand::Verify(args) => super::lake_verify::verify(args).await,
        LakeCommand::Validate(args) => super::lake_validate::validate(args).await,
        LakeCommand::Retain(args) => super::lake_retain::retain(args).await,
        LakeCommand::Replay(args) => super::lake_replay::replay(args).await,
    }
}

fn print_ddl(args: &DdlArgs) -> u8 {
    // The DDL needs the layout, never the credentials.
    let config = match crate::config::load_without_secrets(&args.config.config) {
        Ok(config) => config,
        Err(err) => {
            crate::errln!("error: {err}");
            return EXIT_CONFIG;
        }
    };
    let lake = match pick_lake(&config, &args.source, args.sink.as_deref()) {
        Ok(lake) => lake,
        Err(err) => {
            crate::errln!("error: {err}");
            return EXIT_CONFIG;
        }
    };
    let names = Names {
        table: args.table.clone(),
        schema: args.schema.clone(),
    };
    // `pick_lake` found the source; its chains say whether the lake gets OCSF.
    let ocsf = match config.sources.iter().find(|s| s.name == args.source) {
        Some(source) => match config.ocsf_for(source, &lake.name) {
            Ok(into) => into,
            Err(err) => {
                crate::errln!("error: {err}");
                return EXIT_CONFIG;
            }
        },
        None => None,
    };
    match ddl::ddl_with_ocsf(lake, args.dialect, &args.source, &names, ocsf) {
        Ok(text) => {
            crate::out!("{text}");
            EXIT_OK
        }
        Err(err) => {
            crate::errln!("error: sink `{}`: {err}", lake.name);
            EXIT_CONFIG
        }
    }
}

/// The lake sink the DDL describes: `--sink`, else the source's only lake sink.
fn pick_lake<'c>(
    config: &'c Config,
    source: &str,
    sink: Option<&str>,
) -> Result<&'c LakeConfig, String> {
    let Some(source_config) = config.sources.iter().find(|s| s.name == source) else {
        let known: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
        return Err(format!(
            "source `{source}` is not in the config (hint: sources are: {})",
            known.join(", ")
        ));
    };
    let lakes: Vec<&LakeConfig> = config
        .sinks
        .iter()
        .filter_map(|s| match s {
            SinkConfig::Lake(lake) => Some(lake),
            _ => None,
        })
        .collect();
    if let Some(name) = sink {
        return lakes
            .into_iter()
            .find(|l| l.name == name)
            .ok_or_else(|| format!("sink `{name}` is not a lake sink of the config (hint: --sink names a [[sinks]] entry with kind = \"lake\")"));
    }
    let used: Vec<&LakeConfig> = lakes
        .into_iter()
        .filter(|l| source_config.sinks.contains(&l.name))
        .collect();
    match used.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "source `{source}` writes to no lake sink (hint: add a kind = \"lake\" sink to its sinks, or name one with --sink)"
        )),
        several => Err(format!(
            "source `{source}` writes to several lake sinks ({}) (hint: pick one with --sink NAME)",
            several.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}
