//! The API a `sluice bench` pulls from: the built-in Okta simulator in the bench's own
//! process, or (`--shape p1`) a `sluice simulate` process of its own, so that the CPU time,
//! peak memory and instruction counts the bench reports are the pull's alone, as in the P1
//! benchmark (`../shared/bench/p1.sh`, where nginx serves static pages).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::simulator::{self, RunningSimulator, SimulatorConfig};

/// How long a simulator process may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running API for the bench.
pub(super) enum BenchServer {
    /// The simulator, in this process.
    InProcess(RunningSimulator),
    /// A `sluice simulate` process (killed when dropped).
    Process {
        child: tokio::process::Child,
        base_url: String,
    },
}

impl BenchServer {
    /// Starts the simulator in this process, on a free loopback port.
    pub(super) async fn in_process(config: SimulatorConfig) -> Result<Self, String> {
        simulator::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .map(BenchServer::InProcess)
            .map_err(|err| format!("cannot start the simulator: {err:#}"))
    }

    /// Starts `sluice simulate` (this executable) serving the Okta events of `config` on
    /// `port` (0: a free one), and waits until it says where it listens. `Err` says why it
    /// did not start, with what it wrote on stderr.
    pub(super) async fn process(config: &SimulatorConfig, port: u16) -> Result<Self, String> {
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find this program to start `sluice simulate`: {e}"))?;
        let mut child = tokio::process::Command::new(&exe)
            .args(["simulate", "--vendor", "okta"])
            .args(["--events", &config.events.to_string()])
            .args(["--page-size", &config.default_page_size.to_string()])
            .args(["--seed", &config.seed.to_string()])
            .args(["--token", &config.token])
            .args(["--port", &port.to_string()])
            .arg("--span")
            .arg(humantime::format_duration(config.span).to_string())
            .arg("--latency")
            .arg(humantime::format_duration(config.latency).to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start `{} simulate`: {e}", exe.display()))?;
        let Some(stdout) = child.stdout.take() else {
            return Err("the simulator process has no standard output".into());
        };
        let mut lines = BufReader::new(stdout).lines();
        let started = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = listening_at(&line) {
                    return Some(url);
                }
            }
            None
        })
        .await;
        let base_url = match started {
            Ok(Some(url)) => url,
            Ok(None) => {
                let mut stderr = String::new();
                if let Some(mut err) = child.stderr.take() {
                    let _ = err.read_to_string(&mut stderr).await;
                }
                let status = child.wait().await.map(|s| s.to_string()).unwrap_or_default();
                return Err(format!(
                    "the simulator process (`sluice simulate --port {port}`) exited ({status}) before serving: {}",
                    stderr.trim()
                ));
            }
            Err(_) => {
                return Err(format!(
                    "the simulator process (`sluice simulate --port {port}`) did not say where it listens within {}",
                    humantime::format_duration(START_TIMEOUT)
                ))
            }
        };
        // Its later output is not read: keep the pipe drained so it never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(BenchServer::Process { child, base_url })
    }

    /// `http://127.0.0.1:PORT`.
    pub(super) fn base_url(&self) -> String {
        match self {
            BenchServer::InProcess(sim) => sim.base_url(),
            BenchServer::Process { base_url, .. } => base_url.clone(),
        }
    }

    /// Stops the server.
    pub(super) async fn shutdown(self) {
        match self {
            BenchServer::InProcess(sim) => sim.shutdown().await,
            BenchServer::Process { mut child, .. } => {
                let _ = child.kill().await;
            }
        }
    }
}

/// The base URL in `sluice simulate`'s first line ("serving a simulated okta API at
/// http://127.0.0.1:PORT with ...").
fn listening_at(line: &str) -> Option<String> {
    let rest = line.strip_prefix("serving a simulated ")?;
    let (_, after) = rest.split_once(" at ")?;
    let url = after.split_whitespace().next()?;
    url.starts_with("http://").then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_url_is_read_from_the_simulators_first_line() {
        assert_eq!(
            listening_at("serving a simulated okta API at http://127.0.0.1:41234 with 100 events (token: sim-token); Ctrl-C to stop").as_deref(),
            Some("http://127.0.0.1:41234")
        );
        assert_eq!(listening_at("error: cannot serve on 127.0.0.1:80"), None);
    }
}
