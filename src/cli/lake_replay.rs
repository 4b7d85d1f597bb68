//! `sluice lake replay --source S --from T --to T --sink X`: a source's lake events of a
//! range re-delivered to a SIEM sink, resumable (see `runtime::replay`).

use chrono::{DateTime, Utc};

use super::{load_config, shutdown_token, ConfigArg, EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::config::{Config, LakeConfig, SinkConfig};
use crate::runtime::replay::{self, ReplayRequest};

/// Arguments of `sluice lake replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The source whose events are replayed.
    #[arg(long)]
    source: String,
    /// Events at or after this time (RFC 3339 or a UTC date).
    #[arg(long, value_parser = super::backfill::parse_time)]
    from: DateTime<Utc>,
    /// Events before this time.
    #[arg(long, value_parser = super::backfill::parse_time)]
    to: DateTime<Utc>,
    /// The sink to deliver to (a [[sinks]] name: HEC, Elasticsearch, HTTP or stdout).
    #[arg(long)]
    sink: String,
    /// The lake sink to read, when the source writes to several.
    #[arg(long)]
    lake: Option<String>,
    /// Start over, even if a replay of this source to this sink is in progress or done.
    #[arg(long)]
    restart: bool,
    /// Events per batch sent and committed.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    batch: u64,
    #[command(flatten)]
    progress: super::progress::ProgressArgs,
}

/// Runs `sluice lake replay`: exit 0 when the range was delivered (or had been), 1 when it
/// stopped short or the sink refused events, 2 on bad arguments.
pub async fn replay(args: ReplayArgs) -> u8 {
    let config = match load_config(&args.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let (lake, sink) = match pick(&config, &args) {
        Ok(picked) => picked,
        Err(message) => {
            crate::errln!("error: {message}");
            return EXIT_CONFIG;
        }
    };
    let store = match crate::state::open(&config.state).await {
        Ok(store) => store,
        Err(err) => {
            crate::errln!("error: {err} (hint: a replay keeps its position in the state store)");
            return EXIT_CONFIG;
        }
    };
    let request = ReplayRequest {
        source: &args.source,
        from: args.from,
        to: args.to,
        lake,
        sink,
        restart: args.restart,
        batch_events: usize::try_from(args.batch).unwrap_or(1000),
        transforms: config.sink_transforms(sink.name()),
        dead_letter: config.dead_letter.as_ref(),
    };
    let stop = shutdown_token();
    let shown = super::progress::show(&args.progress);
    let holder = crate::runtime::worker_identity();
    let result = replay::replay(store.as_ref(), &request, &holder, &stop).await;
    if let Some(shown) = shown {
        shown.finish().await;
    }
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(message) => {
            crate::errln!(
                "error: replay of source `{}` to sink `{}`: {message}",
                args.source,
                args.sink
            );
            return EXIT_SOURCE_FAILED;
        }
    };
    let range = format!(
        "[{}, {})",
        crate::timefmt::rfc3339_millis(args.from),
        crate::timefmt::rfc3339_millis(args.to)
    );
    if outcome.already_done {
        crate::outln!(
            "source `{}` {range} was already replayed to sink `{}` ({} events); nothing sent (hint: --restart sends it again)",
            args.source,
            args.sink,
            outcome.total
        );
        return EXIT_OK;
    }
    for refusal in &outcome.refusals {
        crate::outln!("refused: {refusal}");
    }
    let transformed = if outcome.dropped + outcome.failed > 0 {
        format!(
            ", sink transforms: {}{}",
            crate::runtime::transforms::describe(&outcome.steps),
            if outcome.failed > outcome.dead_lettered {
                " (failed events not kept: add a [dead_letter] queue)"
            } else if outcome.dead_lettered > 0 {
                " (failed events in the dead-letter queue: sluice dlq list)"
            } else {
                ""
            }
        )
    } else {
        String::new()
    };
    crate::outln!(
        "source `{}` {range} from lake `{}` to sink `{}`: {} events sent by this run ({} in all), {} objects read{}{transformed}{}",
        args.source,
        lake.name,
        args.sink,
        outcome.events,
        outcome.total,
        outcome.objects,
        if outcome.refused > 0 {
            format!(", {} refused by the sink", outcome.refused)
        } else {
            String::new()
        },
        if outcome.finished {
            ": done"
        } else {
            ": stopped; run the same command again to resume"
        }
    );
    if outcome.finished && outcome.refused == 0 {
        EXIT_OK
    } else {
        EXIT_SOURCE_FAILED
    }
}

/// The lake read and the sink delivered to.
fn pick<'c>(
    config: &'c Config,
    args: &ReplayArgs,
) -> Result<(&'c LakeConfig, &'c SinkConfig), String> {
    let file = args.config.config.display();
    if args.from >= args.to {
        return Err(format!(
            "--from {} is not before --to {} (hint: the range is [from, to); swap them)",
            crate::timefmt::rfc3339_millis(args.from),
            crate::timefmt::rfc3339_millis(args.to)
        ));
    }
    let Some(source) = config.sources.iter().find(|s| s.name == args.source) else {
        let known: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
        return Err(format!(
            "--source `{}` is not in {file} (hint: configured sources: {})",
            args.source,
            known.join(", ")
        ));
    };
    let Some(sink) = config.sinks.iter().find(|s| s.name() == args.sink) else {
        let known: Vec<String> = config
            .sinks
            .iter()
            .filter(|s| !matches!(s, SinkConfig::Lake(_)))
            .map(|s| format!("`{}`", s.name()))
            .collect();
        return Err(format!(
            "--sink `{}` is not a sink in {file} (hint: sinks that can take a replay: {})",
            args.sink,
            if known.is_empty() {
                "none; add a kind = \"splunk_hec\", \"elasticsearch\" or \"http\" [[sinks]] table"
                    .to_string()
            } else {
                known.join(", ")
            }
        ));
    };
    if matches!(sink, SinkConfig::Lake(_)) {
        return Err(format!(
            "--sink `{}` is a lake sink; replay reads a lake and delivers to a SIEM sink (hint: name a kind = \"splunk_hec\", \"elasticsearch\" or \"http\" sink)",
            args.sink
        ));
    }
    let lakes: Vec<&LakeConfig> = config
        .sinks
        .iter()
        .filter_map(|s| match s {
            SinkConfig::Lake(lake) => Some(lake),
            _ => None,
        })
        .filter(|lake| match &args.lake {
            Some(name) => lake.name == *name,
            None => source.sinks.contains(&lake.name),
        })
        .collect();
    match lakes.as_slice() {
        [one] => Ok((one, sink)),
        [] => Err(match &args.lake {
            Some(name) => format!("--lake `{name}` is not a lake sink in {file} (hint: --lake names a kind = \"lake\" [[sinks]] table)"),
            None => format!("source `{}` writes to no lake sink in {file}, so there is nothing to replay (hint: name one with --lake)", args.source),
        }),
        several => Err(format!(
            "source `{}` writes to several lake sinks ({}) (hint: pick the one to read with --lake NAME)",
            args.source,
            several.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}
