//! `sluice lake verify [--source S] [--sink L] [--from T --to T] [--json]`: each source's lake
//! objects and ledger records re-read and checked (see `sink::lake::verify`), the chain heads
//! against the state store's.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{load_config, ConfigArg, EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::config::{Config, LakeConfig, SinkConfig};
use crate::sink::lake::verify::{self, VerifyReport, VerifyScope};
use crate::state::StateStore;

/// Arguments of `sluice lake verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The source to verify (default: every source that writes to a lake).
    #[arg(long)]
    source: Option<String>,
    /// The lake sink to verify, when a source writes to several (default: all of them).
    #[arg(long)]
    sink: Option<String>,
    /// Re-read only objects with events at or after this time (RFC 3339 or a UTC date);
    /// chains are always checked whole.
    #[arg(long, value_parser = super::backfill::parse_time)]
    from: Option<DateTime<Utc>>,
    /// Re-read only objects with events before this time.
    #[arg(long, value_parser = super::backfill::parse_time)]
    to: Option<DateTime<Utc>>,
    /// Print the reports as JSON (one array) instead of lines.
    #[arg(long)]
    json: bool,
    /// The Ed25519 public key to check ledger record signatures with: a file holding it
    /// (PEM or base64), or the base64 itself (default: the lake's `ledger.public_key`, or
    /// the public half of its `ledger.signing_key`).
    #[arg(long)]
    public_key: Option<String>,
}

/// Runs `sluice lake verify`: exit 0 when every lake checked is intact, 1 on any finding.
pub async fn verify(args: VerifyArgs) -> u8 {
    let config = match load_config(&args.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let targets = match targets(&config, &args) {
        Ok(targets) => targets,
        Err(message) => {
            crate::errln!("error: {message}");
            return EXIT_CONFIG;
        }
    };
    let store = match crate::state::open(&config.state).await {
        Ok(store) => store,
        Err(err) => {
            crate::errln!("error: {err} (hint: verify compares each ledger's newest record with the head the state store keeps)");
            return EXIT_CONFIG;
        }
    };
    let mut reports = Vec::new();
    for (source, lake) in targets {
        let heads = match heads(store.as_ref(), &source, &lake.name).await {
            Ok(heads) => heads,
            Err(message) => {
                crate::errln!("error: {message}");
                return EXIT_SOURCE_FAILED;
            }
        };
        let public_key = match public_key(&args, lake) {
            Ok(key) => key,
            Err(message) => {
                crate::errln!("error: {message}");
                return EXIT_CONFIG;
            }
        };
        let scope = VerifyScope {
            from: args.from,
            to: args.to,
            heads,
            public_key,
        };
        match verify::verify(lake, &source, &scope).await {
            Ok(report) => reports.push(report),
            Err(err) => {
                crate::errln!("error: {err}");
                return EXIT_SOURCE_FAILED;
            }
        }
    }
    if args.json {
        // Reports are plain strings and numbers: serializing cannot fail.
        crate::outln!("{}", serde_json::to_string(&reports).unwrap_or_default());
    } else {
        for report in &reports {
            show(report);
        }
    }
    if reports.iter().any(|r| !r.findings.is_empty()) {
        EXIT_SOURCE_FAILED
    } else {
        EXIT_OK
    }
}

/// The key signatures are checked with: `--public-key`, else the lake's configured one.
fn public_key(
    args: &VerifyArgs,
    lake: &LakeConfig,
) -> Result<Option<ed25519_dalek::VerifyingKey>, String> {
    use crate::sink::lake::signing;
    match &args.public_key {
        Some(given) => {
            let path = std::path::Path::new(given);
            let text = if path.is_file() {
                std::fs::read_to_string(path)
                    .map_err(|e| format!("--public-key {given}: cannot read it: {e}"))?
            } else {
                given.clone()
            };
            signing::verifying_key(&text)
                .map(Some)
                .map_err(|e| format!("--public-key: {e}"))
        }
        None => signing::configured_public_key(lake)
            .map_err(|e| format!("sink `{}`: ledger: {e}", lake.name)),
    }
}

/// The (source, lake sink) pairs to verify.
fn targets<'c>(
    config: &'c Config,
    args: &VerifyArgs,
) -> Result<Vec<(String, &'c LakeConfig)>, String> {
    if let (Some(from), Some(to)) = (args.from, args.to) {
        if from >= to {
            return Err(format!(
                "--from {} is not before --to {} (hint: the range is [from, to); swap them)",
                crate::timefmt::rfc3339_millis(from),
                crate::timefmt::rfc3339_millis(to)
            ));
        }
    }
    let mut targets = Vec::new();
    for source in &config.sources {
        if args.source.as_ref().is_some_and(|s| *s != source.name) {
            continue;
        }
        for sink in &config.sinks {
            let SinkConfig::Lake(lake) = sink else {
                continue;
            };
            let named = args.sink.as_ref().is_none_or(|s| *s == lake.name);
            if named && source.sinks.contains(&lake.name) {
                targets.push((source.name.clone(), lake));
            }
        }
    }
    if let Some(source) = &args.source {
        if !config.sources.iter().any(|s| s.name == *source) {
            let known: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
            return Err(format!(
                "--source `{source}` is not in {} (hint: configured sources: {})",
                args.config.config.display(),
                known.join(", ")
            ));
        }
    }
    if targets.is_empty() {
        return Err(format!(
            "nothing to verify: no source{} writes to a lake sink{} in {} (hint: --source and --sink name a source and one of its kind = \"lake\" sinks)",
            args.source.as_ref().map(|s| format!(" `{s}`")).unwrap_or_default(),
            args.sink.as_ref().map(|s| format!(" `{s}`")).unwrap_or_default(),
            args.config.config.display()
        ));
    }
    Ok(targets)
}

/// Per chain of `source` in lake sink `sink`, the heads the state store accepts: the
/// committed checkpoint's, and the next one's while a commit is in flight.
async fn heads(
    store: &dyn StateStore,
    source: &str,
    sink: &str,
) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let mut keys = vec![source.to_string()];
    let windows = store
        .checkpoints_under(&format!("{source}{}", crate::state::WINDOW_KEY_SEPARATOR))
        .await
        .map_err(|e| e.to_string())?;
    keys.extend(windows.into_iter().map(|(key, _)| key));
    let mut heads: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for key in keys {
        let state = store.load(&key).await.map_err(|e| e.to_string())?;
        let accepted: BTreeSet<String> = std::iter::once(&state.checkpoint)
            .chain(state.intent.as_ref().map(|i| &i.next))
            .filter_map(|c| c.ledger.get(sink).cloned())
            .collect();
        if !accepted.is_empty() {
            heads.insert(verify::chain_of_key(source, &key), accepted);
        }
    }
    Ok(heads)
}

/// Prints one report as lines: each finding, then a summary.
fn show(report: &VerifyReport) {
    for finding in &report.findings {
        crate::outln!(
            "{}: {}: {}",
            finding.kind.to_uppercase(),
            finding.key,
            finding.detail
        );
    }
    let verdict = if report.findings.is_empty() {
        "intact".to_string()
    } else {
        format!("{} findings", report.findings.len())
    };
    let deleted = if report.deleted > 0 {
        format!(", {} deleted by retention as recorded", report.deleted)
    } else {
        String::new()
    };
    crate::outln!(
        "source `{}`, lake `{}`: {} ledger records, {} objects ({} bytes) re-read{deleted}: {verdict}",
        report.source,
        report.sink,
        report.records,
        report.objects,
        report.bytes
    );
}
