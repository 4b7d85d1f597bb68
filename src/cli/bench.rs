//! `sluice bench`: times one backlog pulled with 1, 4, 8… workers, for docs/benchmarks.md.
//!
//! Each run starts from an empty state and lake in its own directory, pulls the whole backlog
//! from the built-in simulator (at a fixed latency per page, like a real API), and is checked
//! event by event before its time counts. Peak memory is the process's resident high-water
//! mark over the run (reset before it, read before the check; Linux), so it includes the
//! in-process simulator and the set of expected ids the check uses.
//!
//! `--shape p1` is the P1 benchmark's shape (`../shared/bench/p1.sh`): 100,000 Okta events,
//! 1,000 a page, no latency, one listing of the whole span, served by a `sluice simulate`
//! process of its own, so that CPU, memory and (under valgrind) instructions are the pull's.
//! Every run also prints where its time went, stage by stage ([`StageTimes`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::bench_server::BenchServer;
use super::{shutdown_token, EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::runtime::StageTimes;
use crate::simulator::{self, SimulatorConfig};

/// The backlog and server a bench pulls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// 1M events over 24 h at 100 ms a page, split into 30-minute windows among workers,
    /// from a simulator in this process.
    Windows,
    /// P1: 100k events at 1,000 a page without latency, one listing, from a `sluice
    /// simulate` process of its own.
    P1,
}

/// Arguments of `sluice bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The backlog and server: `windows` (the parallel-windows benchmark) or `p1`.
    #[arg(long, value_enum, default_value = "windows")]
    shape: Shape,
    /// Events in the backlog [default: 1000000; p1: 100000].
    #[arg(long)]
    events: Option<u64>,
    /// Delay the simulated API adds to every page [default: 100ms; p1: 0ms].
    #[arg(long, value_parser = humantime::parse_duration)]
    latency: Option<Duration>,
    /// Events per page.
    #[arg(long, default_value_t = 1000)]
    page_size: usize,
    /// Worker counts to time, comma-separated [default: 1,4,8; p1: 1].
    #[arg(long, value_delimiter = ',')]
    workers: Option<Vec<usize>>,
    /// Time span the backlog's events are spread over [default: 24h; p1: 6h].
    #[arg(long, value_parser = humantime::parse_duration)]
    span: Option<Duration>,
    /// Length of each backfill window [default: 30m; p1: the whole span].
    #[arg(long, value_parser = humantime::parse_duration)]
    window: Option<Duration>,
    /// Run each pull as `sluice run --once` under `valgrind --tool=callgrind` and print the
    /// instructions it executed per event instead of times (expect it to take 50× longer).
    #[arg(long)]
    callgrind: bool,
    /// With `--shape p1`: the port of the simulator process (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Directory for each run's config, state and lake (emptied first).
    #[arg(long, default_value = "sluice-bench")]
    dir: PathBuf,
    /// Instead of pulling: the CPU per event of the transform chain in this file
    /// (`[[transforms]]` steps), over `--events` simulated Okta events.
    #[arg(long)]
    transforms: Option<PathBuf>,
    /// With `--transforms`: addresses the events' `client.ipAddress` cycles through.
    #[arg(long, value_delimiter = ',')]
    ips: Vec<String>,
    /// With `--transforms`: after timing each prefix, run it once more, untimed, and print a
    /// SHA-256 of everything it produced (each event's output bytes, drop or failure), so a
    /// change meant to make a chain faster is checked to leave its output as it was.
    #[arg(long)]
    digest: bool,
}

/// The settings of one bench, its shape's defaults filled in.
struct Plan {
    shape: Shape,
    events: u64,
    latency: Duration,
    page_size: usize,
    workers: Vec<usize>,
    span: Duration,
    /// `None`: one listing of the whole span.
    window: Option<Duration>,
    /// Count instructions under callgrind instead of timing.
    callgrind: bool,
}

impl Plan {
    fn of(args: &BenchArgs) -> Plan {
        let p1 = args.shape == Shape::P1;
        let pick = |given: Option<Duration>, windows: Duration, p1_default: Duration| {
            given.unwrap_or(if p1 { p1_default } else { windows })
        };
        Plan {
            shape: args.shape,
            events: args.events.unwrap_or(if p1 { 100_000 } else { 1_000_000 }),
            latency: pick(args.latency, Duration::from_millis(100), Duration::ZERO),
            page_size: args.page_size,
            workers: args
                .workers
                .clone()
                .unwrap_or_else(|| if p1 { vec![1] } else { vec![1, 4, 8] }),
            span: pick(
                args.span,
                Duration::from_secs(24 * 3600),
                Duration::from_secs(6 * 3600),
            ),
            window: match (args.window, p1) {
                (Some(window), _) => Some(window),
                (None, true) => None,
                (None, false) => Some(Duration::from_secs(30 * 60)),
            },
            callgrind: args.callgrind,
        }
    }
}

/// One timed run.
struct Timing {
    workers: usize,
    seconds: f64,
    pages: u64,
    peak_rss_mb: Option<f64>,
    cpu_seconds: Option<f64>,
    stages: StageTimes,
    /// With `--callgrind`: the instructions the pull executed.
    instructions: Option<u64>,
}

pub async fn bench(args: BenchArgs) -> u8 {
    let plan = Plan::of(&args);
    if let Some(file) = &args.transforms {
        // CPU-bound and synchronous, as the page loop runs a chain.
        let (file, events, ips, digest) =
            (file.clone(), plan.events, args.ips.clone(), args.digest);
        return tokio::task::spawn_blocking(move || {
            super::bench_transforms::run(&file, events, &ips, digest)
        })
        .await
        .unwrap_or(EXIT_SOURCE_FAILED);
    }
    if plan.workers.is_empty()
        || plan
            .workers
            .iter()
            .any(|w| *w == 0 || *w > crate::config::MAX_WORKERS)
    {
        crate::errln!(
            "error: --workers {:?} must list counts from 1 to {} (hint: --workers 1,4,8)",
            plan.workers,
            crate::config::MAX_WORKERS
        );
        return EXIT_CONFIG;
    }
    if plan.page_size == 0 || plan.events == 0 {
        crate::errln!("error: --events and --page-size must be at least 1 (hint: --events 1000000 --page-size 1000)");
        return EXIT_CONFIG;
    }
    let mut sim_config = SimulatorConfig::okta(plan.events);
    sim_config.latency = plan.latency;
    sim_config.span = plan.span;
    sim_config.max_page_size = plan.page_size.max(sim_config.max_page_size);
    sim_config.default_page_size = plan.page_size;
    let server = match plan.shape {
        Shape::Windows => BenchServer::in_process(sim_config.clone()).await,
        Shape::P1 => BenchServer::process(&sim_config, args.port).await,
    };
    let server = match server {
        Ok(server) => server,
        Err(err) => {
            crate::errln!("error: {err} (hint: the bench measures nothing without its server; with --shape p1, pick another --port or leave it at 0)");
            return EXIT_CONFIG;
        }
    };
    let expected: HashSet<String> = simulator::event_ids(&sim_config).into_iter().collect();
    crate::outln!(
        "backlog: {} events over {}, {} per page ({} pages), {} latency per page, served {}",
        plan.events,
        humantime::format_duration(plan.span),
        plan.page_size,
        plan.events.div_ceil(plan.page_size as u64),
        humantime::format_duration(plan.latency),
        match plan.shape {
            Shape::Windows => "in this process",
            Shape::P1 => "by a `sluice simulate` process",
        }
    );
    let mut timings = Vec::new();
    for &workers in &plan.workers {
        let dir = args.dir.join(format!("workers-{workers}"));
        match time_run(&plan, &server.base_url(), &dir, workers, &expected).await {
            Ok(Timing {
                instructions: Some(instructions),
                ..
            }) => {
                crate::outln!(
                    "workers {workers:>2}: {instructions} instructions under callgrind, {:.0} per event (the lake checked exact)",
                    instructions as f64 / plan.events as f64
                );
            }
            Ok(timing) => {
                crate::outln!(
                    "workers {:>2}: {:>8.1} s, {:>9.0} events/s, {} pages, peak RSS {}, CPU {} ({} µs/event)",
                    timing.workers,
                    timing.seconds,
                    plan.events as f64 / timing.seconds,
                    timing.pages,
                    timing
                        .peak_rss_mb
                        .map_or("-".into(), |mb| format!("{mb:.0} MB")),
                    timing
                        .cpu_seconds
                        .map_or("-".into(), |s| format!("{s:.1} s")),
                    per_event(timing.cpu_seconds, plan.events),
                );
                crate::outln!(
                    "            stages: {}",
                    stages_line(&timing.stages, plan.events)
                );
                timings.push(timing);
            }
            Err(err) => {
                crate::errln!("error: the run with {workers} workers failed: {err}; no speed is reported for it");
                server.shutdown().await;
                return EXIT_SOURCE_FAILED;
            }
        }
    }
    server.shutdown().await;
    if !plan.callgrind {
        print_table(&plan, &timings);
    }
    EXIT_OK
}

/// Each stage's seconds and microseconds per event, summed over the run's workers.
fn stages_line(stages: &StageTimes, events: u64) -> String {
    let one = |name: &str, time: Duration| {
        format!(
            "{name} {:.2} s ({:.1} µs/event)",
            time.as_secs_f64(),
            time.as_secs_f64() * 1e6 / events as f64
        )
    };
    [
        one("fetch wait", stages.fetch_wait),
        one("parse", stages.parse),
        one("transform", stages.transform),
        one("encode", stages.encode),
        one("commit", stages.commit),
    ]
    .join(", ")
}

async fn time_run(
    plan: &Plan,
    base_url: &str,
    dir: &Path,
    workers: usize,
    expected: &HashSet<String>,
) -> Result<Timing, String> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot empty {}: {e}", dir.display())),
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let config_path = dir.join("sluice.toml");
    let lookback = plan.span + Duration::from_secs(3600);
    let window = plan.window.unwrap_or(lookback);
    let text = bench_config(base_url, plan.page_size, workers, lookback, window);
    std::fs::write(&config_path, text)
        .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
    if plan.callgrind {
        let instructions = super::bench_callgrind::instructions(&config_path, dir).await?;
        check_lake(dir, expected)?;
        return Ok(Timing {
            workers,
            seconds: 0.0,
            pages: 0,
            peak_rss_mb: None,
            cpu_seconds: None,
            stages: StageTimes::default(),
            instructions: Some(instructions),
        });
    }
    let config = crate::config::load(&config_path).map_err(|e| e.to_string())?;
    let store = crate::state::open(&config.state)
        .await
        .map_err(|e| e.to_string())?;
    reset_peak_rss();
    let cpu_before = cpu_seconds();
    let reports = crate::runtime::run_once(&config, &store, shutdown_token()).await;
    let cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    // Before the check below, which holds every id of the lake in memory.
    let peak_rss_mb = peak_rss_mb();
    let report = reports
        .into_iter()
        .next()
        .ok_or("the bench config has no source")?;
    if let Some(error) = report.error {
        return Err(error.to_string());
    }
    check_lake(dir, expected)?;
    Ok(Timing {
        workers,
        seconds: report.seconds,
        pages: report.pages,
        peak_rss_mb,
        cpu_seconds: cpu,
        stages: report.stages,
        instructions: None,
    })
}

/// `Err` unless the lake in `dir` holds every expected event exactly once: a pull that
/// missed or repeated an event has no speed worth printing.
fn check_lake(dir: &Path, expected: &HashSet<String>) -> Result<(), String> {
    let contents = crate::sink::lake::read_lake(&dir.join("lake"), "okta")
        .map_err(|e| format!("cannot read the lake: {e}"))?;
    let delivered: HashSet<&str> = contents.event_ids.iter().map(String::as_str).collect();
    if contents.event_ids.len() != expected.len()
        || !expected.iter().all(|id| delivered.contains(id.as_str()))
    {
        return Err(format!(
            "the lake holds {} lines ({} unique) for {} events",
            contents.event_ids.len(),
            delivered.len(),
            expected.len()
        ));
    }
    Ok(())
}

fn bench_config(
    base_url: &str,
    page_size: usize,
    workers: usize,
    lookback: Duration,
    window: Duration,
) -> String {
    format!(
        r#"# Written by `sluice bench`.
[state]
kind = "sqlite"
path = "state.db"

[[sources]]
name = "okta"
base_url = "{base_url}"
path = "/api/v1/logs"
query = {{ since = "{{start}}", until = "{{end}}", limit = "{{limit}}" }}
page_size = {page_size}
pagination = {{ kind = "link_header" }}
event_time = {{ path = "published" }}
event_id = {{ path = "uuid" }}
sinks = ["lake"]
workers = {workers}
auth = {{ kind = "bearer", prefix = "SSWS", token = "sim-token" }}
window = {{ lookback = "{lookback}", max_window = "{window}", settle_delay = "1m" }}

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
"#,
        lookback = humantime::format_duration(lookback),
        window = humantime::format_duration(window),
    )
}

fn print_table(plan: &Plan, timings: &[Timing]) {
    let Some(base) = timings.first() else {
        return;
    };
    crate::outln!();
    crate::outln!(
        "| workers | seconds | events/s | speed-up vs {} | peak RSS | CPU seconds | CPU per event |",
        base.workers
    );
    crate::outln!("|---:|---:|---:|---:|---:|---:|---:|");
    for t in timings {
        crate::outln!(
            "| {} | {:.1} | {:.0} | {:.1}× | {} | {} | {} µs |",
            t.workers,
            t.seconds,
            plan.events as f64 / t.seconds,
            base.seconds / t.seconds,
            t.peak_rss_mb.map_or("-".into(), |mb| format!("{mb:.0} MB")),
            t.cpu_seconds.map_or("-".into(), |s| format!("{s:.1}")),
            per_event(t.cpu_seconds, plan.events),
        );
    }
    crate::outln!();
    crate::outln!("Seconds per stage, summed over workers (fetching overlaps the rest):");
    crate::outln!();
    crate::outln!("| workers | fetch wait | parse | transform | encode | commit |");
    crate::outln!("|---:|---:|---:|---:|---:|---:|");
    for t in timings {
        let s = &t.stages;
        crate::outln!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            t.workers,
            s.fetch_wait.as_secs_f64(),
            s.parse.as_secs_f64(),
            s.transform.as_secs_f64(),
            s.encode.as_secs_f64(),
            s.commit.as_secs_f64(),
        );
    }
}

/// CPU microseconds per event (including the in-process simulator), or `-` where the OS
/// does not report CPU time.
fn per_event(cpu_seconds: Option<f64>, events: u64) -> String {
    cpu_seconds.map_or("-".into(), |s| format!("{:.1}", s * 1e6 / events as f64))
}

/// Resets the resident-set high-water mark (Linux: writing 5 to clear_refs).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The resident-set high-water mark in MB, where the OS reports it.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// User plus system CPU seconds of this process so far, where the OS reports them.
pub(super) fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // Linux reports in clock ticks of 1/100 s on every platform it runs on today.
    Some(ticks / 100.0)
}
