//! `sluice bench`: times one backlog pulled with 1, 4, 8… workers, for docs/benchmarks.md.
//!
//! Each run starts from an empty state and lake in its own directory, pulls the whole backlog
//! from the built-in simulator (at a fixed latency per page, like a real API), and is checked
//! event by event before its time counts. Peak memory is the process's resident high-water
//! mark over the run (reset before it, read before the check; Linux), so it includes the
//! in-process simulator and the set of expected ids the check uses.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{shutdown_token, EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::simulator::{self, SimulatorConfig};

/// Arguments of `sluice bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Events in the backlog.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Delay the simulated API adds to every page.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    latency: Duration,
    /// Events per page.
    #[arg(long, default_value_t = 1000)]
    page_size: usize,
    /// Worker counts to time, comma-separated.
    #[arg(long, default_value = "1,4,8", value_delimiter = ',')]
    workers: Vec<usize>,
    /// Time span the backlog's events are spread over.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    span: Duration,
    /// Length of each backfill window.
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    window: Duration,
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

/// One timed run.
struct Timing {
    workers: usize,
    seconds: f64,
    pages: u64,
    peak_rss_mb: Option<f64>,
    cpu_seconds: Option<f64>,
}

pub async fn bench(args: BenchArgs) -> u8 {
    if let Some(file) = &args.transforms {
        // CPU-bound and synchronous, as the page loop runs a chain.
        let (file, events, ips, digest) =
            (file.clone(), args.events, args.ips.clone(), args.digest);
        return tokio::task::spawn_blocking(move || {
            super::bench_transforms::run(&file, events, &ips, digest)
        })
        .await
        .unwrap_or(EXIT_SOURCE_FAILED);
    }
    if args.workers.is_empty()
        || args
            .workers
            .iter()
            .any(|w| *w == 0 || *w > crate::config::MAX_WORKERS)
    {
        crate::errln!(
            "error: --workers {:?} must list counts from 1 to {} (hint: --workers 1,4,8)",
            args.workers,
            crate::config::MAX_WORKERS
        );
        return EXIT_CONFIG;
    }
    if args.page_size == 0 || args.events == 0 {
        crate::errln!("error: --events and --page-size must be at least 1 (hint: --events 1000000 --page-size 1000)");
        return EXIT_CONFIG;
    }
    let mut sim_config = SimulatorConfig::okta(args.events);
    sim_config.latency = args.latency;
    sim_config.span = args.span;
    sim_config.max_page_size = args.page_size.max(sim_config.max_page_size);
    let sim = match simulator::start(
        sim_config.clone(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    {
        Ok(sim) => sim,
        Err(err) => {
            crate::errln!("error: cannot start the simulator: {err:#}");
            return EXIT_CONFIG;
        }
    };
    let expected: HashSet<String> = simulator::event_ids(&sim_config).into_iter().collect();
    crate::outln!(
        "backlog: {} events over {}, {} per page ({} pages), {} latency per page",
        args.events,
        humantime::format_duration(args.span),
        args.page_size,
        args.events.div_ceil(args.page_size as u64),
        humantime::format_duration(args.latency)
    );
    let mut timings = Vec::new();
    for &workers in &args.workers {
        let dir = args.dir.join(format!("workers-{workers}"));
        match time_run(&args, &sim.base_url(), &dir, workers, &expected).await {
            Ok(timing) => {
                crate::outln!(
                    "workers {:>2}: {:>8.1} s, {:>9.0} events/s, {} pages, peak RSS {}, CPU {} ({} µs/event)",
                    timing.workers,
                    timing.seconds,
                    args.events as f64 / timing.seconds,
                    timing.pages,
                    timing
                        .peak_rss_mb
                        .map_or("-".into(), |mb| format!("{mb:.0} MB")),
                    timing
                        .cpu_seconds
                        .map_or("-".into(), |s| format!("{s:.1} s")),
                    per_event(timing.cpu_seconds, args.events),
                );
                timings.push(timing);
            }
            Err(err) => {
                crate::errln!("error: the run with {workers} workers failed: {err}");
                sim.shutdown().await;
                return EXIT_SOURCE_FAILED;
            }
        }
    }
    sim.shutdown().await;
    print_table(&args, &timings);
    EXIT_OK
}

async fn time_run(
    args: &BenchArgs,
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
    let lookback = args.span + Duration::from_secs(3600);
    let text = bench_config(base_url, args.page_size, workers, lookback, args.window);
    std::fs::write(&config_path, text)
        .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
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
    Ok(Timing {
        workers,
        seconds: report.seconds,
        pages: report.pages,
        peak_rss_mb,
        cpu_seconds: cpu,
    })
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

fn print_table(args: &BenchArgs, timings: &[Timing]) {
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
            args.events as f64 / t.seconds,
            base.seconds / t.seconds,
            t.peak_rss_mb.map_or("-".into(), |mb| format!("{mb:.0} MB")),
            t.cpu_seconds.map_or("-".into(), |s| format!("{s:.1}")),
            per_event(t.cpu_seconds, args.events),
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
