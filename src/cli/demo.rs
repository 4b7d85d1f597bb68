//! `sluice demo`: a simulated Okta, pulled into a local lake, verified and summarised.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::{shutdown_token, EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::simulator::{self, SimulatorConfig};

/// Arguments of `sluice demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Events the simulated Okta serves.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Directory for the config, state and lake (emptied of earlier demo output first).
    #[arg(long, default_value = "sluice-demo")]
    dir: PathBuf,
}

/// The config the demo runs, pointed at the simulator on `base_url`.
pub fn demo_config(base_url: &str, events: u64) -> String {
    format!(
        r#"# Written by `sluice demo`. To run the same job by hand, in one shell:
#   sluice simulate --vendor okta --events {events} --port 8080
# then set base_url below to http://127.0.0.1:8080 and, in another shell:
#   sluice run --once --config sluice-demo/sluice.toml
# (delete sluice-demo/lake and sluice-demo/sluice-state.db* first to start from scratch).

[state]
kind = "sqlite"
path = "sluice-state.db"

[[sources]]
name = "okta"
# The built-in Okta System Log connector (docs/connectors/okta.md; `sluice connectors show okta`).
connector = "okta"
domain = "acme.okta.com"
# The simulator instead of https://acme.okta.com.
base_url = "{base_url}"
# The simulator's token. A real config reads it from the environment: "${{env:OKTA_TOKEN}}".
token = "sim-token"
sinks = ["lake"]

[sources.window]
lookback = "1d"
max_window = "1d"
settle_delay = "1m"

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
roll_size = "64MB"
roll_age = "5m"
"#
    )
}

pub async fn demo(args: DemoArgs) -> u8 {
    match run_demo(&args).await {
        Ok(code) => code,
        Err(err) => {
            crate::errln!("error: {err}");
            EXIT_CONFIG
        }
    }
}

async fn run_demo(args: &DemoArgs) -> Result<u8, String> {
    let dir = &args.dir;
    reset_demo_dir(dir)?;
    let sim_config = SimulatorConfig::okta(args.events);
    let sim = simulator::start(
        sim_config.clone(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .map_err(|e| format!("cannot start the simulator: {e:#}"))?;
    let config_path = dir.join("sluice.toml");
    std::fs::write(&config_path, demo_config(&sim.base_url(), args.events))
        .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
    crate::outln!(
        "simulated Okta System Log at {} serving {} events",
        sim.base_url(),
        args.events
    );
    crate::outln!("config written to {}", config_path.display());

    let config = crate::config::load(&config_path).map_err(|e| e.to_string())?;
    let store = crate::state::open(&config.state)
        .await
        .map_err(|e| e.to_string())?;
    let reports = crate::runtime::run_once(&config, &store, shutdown_token()).await;
    sim.shutdown().await;
    let Some(report) = reports.into_iter().next() else {
        return Err("the demo config has no source".into());
    };

    let lake = dir.join("lake");
    let contents = crate::sink::lake::read_lake(&lake, "okta")
        .map_err(|e| format!("cannot read the lake: {e}"))?;
    let expected: HashSet<String> = simulator::event_ids(&sim_config).into_iter().collect();
    let delivered: HashSet<&str> = contents.event_ids.iter().map(String::as_str).collect();
    let duplicates = contents.event_ids.len() - delivered.len();
    let missing = expected
        .iter()
        .filter(|id| !delivered.contains(id.as_str()))
        .count();

    crate::outln!();
    crate::outln!("events      {}", report.events);
    crate::outln!("pages       {}", report.pages);
    crate::outln!("objects     {}", report.objects);
    crate::outln!(
        "bytes       {} ({})",
        report.bytes,
        bytesize::ByteSize::b(report.bytes)
    );
    crate::outln!("seconds     {:.2}", report.seconds);
    crate::outln!(
        "events/s    {:.0}",
        report.events as f64 / report.seconds.max(1e-9)
    );
    crate::outln!("lake        {}", lake.display());
    crate::outln!(
        "verified    {} unique events in the lake, {} missing, {} duplicated",
        delivered.len(),
        missing,
        duplicates
    );
    if let Some(error) = report.error {
        crate::errln!("error: source `okta` failed: {error}");
        return Ok(EXIT_SOURCE_FAILED);
    }
    if missing > 0 || duplicates > 0 {
        crate::errln!("error: the lake does not match the simulator's events");
        return Ok(EXIT_SOURCE_FAILED);
    }
    Ok(EXIT_OK)
}

/// Removes what an earlier demo left (only its own files), so every demo starts fresh.
fn reset_demo_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for name in [
        "lake",
        "sluice-state.db",
        "sluice-state.db-wal",
        "sluice-state.db-shm",
        "sluice.toml",
    ] {
        let path = dir.join(name);
        let result = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {}: {e}", path.display())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_config_is_a_valid_config() {
        let text = demo_config("http://127.0.0.1:1234", 10);
        let config = crate::config::load_str(&text, Path::new("sluice.toml")).unwrap();
        assert_eq!(config.sources[0].base_url, "http://127.0.0.1:1234");
    }
}
