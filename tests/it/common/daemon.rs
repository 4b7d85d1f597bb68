//! A `sluice serve` started through the binary, with its stderr collected, for tests that
//! talk to its endpoints.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

/// How long any one thing a test waits for may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running `sluice serve`.
pub struct Daemon {
    child: tokio::process::Child,
    logs: Arc<Mutex<String>>,
    /// The task collecting stderr; it ends when the daemon's stderr closes.
    reader: tokio::task::JoinHandle<()>,
    /// `http://IP:PORT` of its endpoints, reached over loopback.
    pub base: String,
}

impl Daemon {
    /// Starts `sluice serve --listen LISTEN --config CONFIG` with `envs`, and waits until it
    /// listens. A wildcard address (`0.0.0.0`) is reached over 127.0.0.1.
    pub async fn start(config: &Path, listen: &str, envs: &[(&str, &str)]) -> Daemon {
        let mut child = super::sluice()
            .args(["serve", "--listen", listen, "--config"])
            .arg(config)
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sluice binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&logs);
        let reader = tokio::spawn(async move {
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
            reader,
            base: String::new(),
        };
        let line = daemon.wait_for_log(|l| l.contains("listen=")).await;
        let addr = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("listen="))
            .expect("the listen line names the address");
        daemon.base = format!("http://{}", addr.replace("0.0.0.0", "127.0.0.1"));
        daemon
    }

    /// `GET path`: the status code and the body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}; logs:\n{}", self.logs()));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Every line logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits for a log line matching `pred`, and returns it.
    pub async fn wait_for_log(&mut self, pred: impl Fn(&str) -> bool) -> String {
        self.wait_for_logs(1, pred).await
    }

    /// Waits until `count` log lines match `pred`, and returns the last.
    pub async fn wait_for_logs(&mut self, count: usize, pred: impl Fn(&str) -> bool) -> String {
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

    /// Waits until source `name` has finished `count` runs.
    pub async fn wait_for_runs(&mut self, name: &str, count: usize) {
        let needle = format!("source={name} ");
        self.wait_for_logs(count, |l| {
            l.contains("source run finished") && l.contains(&needle)
        })
        .await;
    }

    /// Sends signal `name` (`HUP`, `TERM`) to the daemon.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().expect("the daemon is running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-s", name, &pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {name} {pid} failed");
    }

    /// Sends SIGTERM and returns the exit code and every line the daemon logged.
    pub async fn stop(mut self) -> (Option<i32>, String) {
        self.signal("TERM");
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("no exit after SIGTERM; logs:\n{}", self.logs()))
            .expect("wait works");
        // The reader ends at the end of stderr: after it, the logs are complete.
        tokio::time::timeout(PATIENCE, &mut self.reader)
            .await
            .unwrap_or_else(|_| panic!("stderr stayed open after the exit; logs:\n{}", self.logs()))
            .expect("the log reader does not panic");
        (status.code(), self.logs())
    }
}
