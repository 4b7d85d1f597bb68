//! The status port of `sluice serve` cannot be used to hold the daemon: a half-sent request
//! does not delay its exit past `serve.shutdown_timeout`, idle connections are closed after
//! `serve.idle_timeout`, and hundreds of idle connections under a low limit on open files
//! leave the runs the descriptors they need.

use crate::common;

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice::simulator::SimulatorConfig;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use common::{assert_lake_exact, start_simulator, TestConfig};

/// How long any one thing a test waits for may take before it fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running `sluice serve` with its stderr collected.
struct Daemon {
    child: tokio::process::Child,
    logs: Arc<Mutex<String>>,
    address: String,
}

impl Daemon {
    /// Starts `sluice serve` on a free port, with `limit_open_files` as both the soft and
    /// the hard limit on open files when given, and waits until it listens.
    async fn start(config: &Path, limit_open_files: Option<u64>) -> Daemon {
        let mut command = common::sluice();
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(limit) = limit_open_files {
            // SAFETY: runs in the forked child before exec; setrlimit is async-signal-safe
            // and nothing here allocates or takes a lock.
            unsafe {
                command.pre_exec(move || rlimit::setrlimit(rlimit::Resource::NOFILE, limit, limit));
            }
        }
        let mut child = command.spawn().expect("sluice binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&logs);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut logs = sink.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let mut daemon = Daemon {
            child,
            logs,
            address: String::new(),
        };
        let line = daemon.wait_for_logs(1, |l| l.contains("listen=")).await;
        daemon.address = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("listen="))
            .expect("the listen line names the address")
            .to_string();
        daemon
    }

    fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until `count` log lines match `pred`, and returns the last.
    async fn wait_for_logs(&mut self, count: usize, pred: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let logs = self.logs();
            let matching: Vec<&str> = logs.lines().filter(|l| pred(l)).collect();
            if matching.len() >= count {
                return matching[count - 1].to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sluice serve exited ({status}) while waiting; logs:\n{logs}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {count} matching log lines; logs:\n{logs}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().expect("the daemon is running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-s", name, &pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {name} {pid} failed");
    }

    async fn healthz(&self) -> u16 {
        reqwest::get(format!("http://{}/healthz", self.address))
            .await
            .unwrap_or_else(|e| panic!("GET /healthz: {e}; logs:\n{}", self.logs()))
            .status()
            .as_u16()
    }
}

/// A config with the simulator's source and `serve` as the `[serve]` table.
fn write_config(dir: &Path, base_url: &str, serve: &str) -> std::path::PathBuf {
    let path = TestConfig::new(base_url).write(dir, "");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!("\n[serve]\n{serve}\n"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Opens a connection and sends a request without its final blank line.
async fn half_request(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    stream
}

/// Whether the server closed `stream` within `within` (reading to the end).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_does_not_hold_the_exit_past_the_shutdown_timeout() {
    let sim = start_simulator(SimulatorConfig::okta(200)).await;
    let dir = tempfile::tempdir().unwrap();
    // The idle timeout is far longer than the test: only the shutdown deadline can end it.
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        "schedule = { every = \"1h\", jitter = \"0s\" }\nidle_timeout = \"10m\"\nshutdown_timeout = \"2s\"",
    );
    let mut daemon = Daemon::start(&config, None).await;
    daemon
        .wait_for_logs(1, |l| l.contains("source run finished"))
        .await;
    let _held = half_request(&daemon.address).await;
    // The daemon is serving it (its headers are being read) before the stop.
    assert_eq!(daemon.healthz().await, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let stopped = tokio::time::Instant::now();
    daemon.signal("TERM");
    let status = tokio::time::timeout(Duration::from_secs(10), daemon.child.wait())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "still running 10 s after SIGTERM with shutdown_timeout = 2s; logs:\n{}",
                daemon.logs()
            )
        })
        .unwrap();
    let took = stopped.elapsed();
    assert_eq!(status.code(), Some(0), "{}", daemon.logs());
    assert!(
        took >= Duration::from_secs(2),
        "{took:?}: the request was not waited for"
    );
    assert!(took < Duration::from_secs(6), "exit took {took:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        daemon.logs().contains("after serve.shutdown_timeout"),
        "{}",
        daemon.logs()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_and_idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let sim = start_simulator(SimulatorConfig::okta(10)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        "schedule = { every = \"1h\", jitter = \"0s\" }\nidle_timeout = \"1s\"",
    );
    let daemon = Daemon::start(&config, None).await;
    let mut half = half_request(&daemon.address).await;
    // A whole request on a keep-alive connection, then nothing.
    let mut idle = TcpStream::connect(&daemon.address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 512];
    let n = idle.read(&mut answer).await.unwrap();
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    assert!(
        closed_within(&mut half, Duration::from_secs(5)).await,
        "a half-sent request was kept open"
    );
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)).await,
        "an idle keep-alive connection was kept open"
    );
    assert_eq!(daemon.healthz().await, 200);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_idle_connections_under_a_low_file_limit_do_not_stop_a_run() {
    const IDLE: usize = 400;
    let mut sim_config = SimulatorConfig::okta(3_000);
    sim_config.latency = Duration::from_millis(5);
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let serve = "schedule = { every = \"1h\", jitter = \"0s\" }\nidle_timeout = \"1s\"";
    // No source at first: the idle connections are in place before the run starts.
    let config = write_config(dir.path(), &sim.base_url(), serve);
    let with_source = std::fs::read_to_string(&config).unwrap();
    let without: String = {
        let start = with_source.find("[[sources]]").unwrap();
        let end = with_source.find("[[sinks]]").unwrap();
        format!("{}{}", &with_source[..start], &with_source[end..])
    };
    std::fs::write(&config, &without).unwrap();

    let mut daemon = Daemon::start(&config, Some(256)).await;
    // Connections past the cap wait in the listen queue, so every connect succeeds.
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        let connect = TcpStream::connect(&daemon.address);
        if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(2), connect).await {
            idle.push(stream);
        }
    }
    let connected = idle.len();
    tokio::time::sleep(Duration::from_millis(300)).await;

    std::fs::write(&config, &with_source).unwrap();
    daemon.signal("HUP");
    daemon
        .wait_for_logs(1, |l| {
            l.contains("source run finished") || l.contains("source run failed")
        })
        .await;
    let logs = daemon.logs();
    assert!(
        logs.contains("source run finished") && !logs.contains("Too many open files"),
        "{logs}"
    );
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    assert_eq!(connected, IDLE, "connections refused or timed out");

    // Every idle connection is closed in turn, and the port answers again.
    let closers = idle.into_iter().map(|mut stream| {
        tokio::spawn(async move { closed_within(&mut stream, Duration::from_secs(40)).await })
    });
    let mut still_open = 0;
    for closer in closers {
        if !closer.await.unwrap() {
            still_open += 1;
        }
    }
    assert_eq!(
        still_open,
        0,
        "idle connections left open; logs:\n{}",
        daemon.logs()
    );
    assert_eq!(daemon.healthz().await, 200);
    sim.shutdown().await;
}
