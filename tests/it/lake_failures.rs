//! A local lake, or `file://` state, that cannot be written: a full disk and a denied write,
//! made real with mounts (sluice's tests run as root, where permission bits deny nothing): a
//! tiny tmpfs over the lake (or the state directory), and a read-only bind mount of it.
//! Through the binary, each run must fail with an error naming the sink (or the state store)
//! and the path, leave the checkpoint where it was, and once the
//! condition is fixed a rerun must deliver every event exactly once.
//!
//! Needs `mount` (root, or a user and mount namespace that allows it). Where mounting is not
//! permitted the tests record a skip and pass, unless `SLUICE_TEST_MOUNT=1` (set by `.ci/run`),
//! where that is a failure.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use sluice::simulator::SimulatorConfig;

use common::{
    assert_lake_exact, output_text, run_sluice, run_until_caught_up, start_simulator, TestConfig,
};

/// A mount over a test directory, unmounted when dropped (also when the test panics).
struct Mount {
    target: PathBuf,
}

impl Mount {
    /// Runs `mount args... target`; `None` (after saying why) where mounting is not allowed.
    fn new(args: &[&str], target: &Path) -> Option<Mount> {
        let out = Command::new("mount").args(args).arg(target).output();
        match out {
            Ok(out) if out.status.success() => Some(Mount {
                target: target.to_path_buf(),
            }),
            Ok(out) => {
                let said = String::from_utf8_lossy(&out.stderr).to_lowercase();
                // Only a refusal to mount at all skips; any other failure is a broken test.
                let refused = [
                    "permission denied",
                    "not permitted",
                    "superuser",
                    "only root",
                ]
                .iter()
                .any(|s| said.contains(s));
                assert!(
                    refused,
                    "mount {args:?} {} failed: {said}",
                    target.display()
                );
                mount_refused(&format!("mount is refused here ({})", said.trim()));
                None
            }
            Err(err) => {
                mount_refused(&format!("no `mount` command ({err})"));
                None
            }
        }
    }

    /// Makes this bind mount read-only; `None` (after saying why) where that is refused.
    fn read_only(self) -> Option<Mount> {
        let out = Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(&self.target)
            .output()
            .expect("mount runs");
        if !out.status.success() {
            mount_refused(&format!(
                "a bind mount cannot be made read-only here ({})",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            return None;
        }
        Some(self)
    }

    /// `mount -o remount,<options>` of this mount, e.g. to grow a tmpfs or make it writable.
    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.target)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "remount {options} of {}",
            self.target.display()
        );
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Lazy: a still-running child must not keep the mount (and the temp dir) alive.
        let _ = Command::new("umount").arg("-l").arg(&self.target).status();
    }
}

/// A test cannot mount: a failure with `SLUICE_TEST_MOUNT=1`, else a recorded skip.
fn mount_refused(reason: &str) {
    assert!(
        !common::skip::env_flag("SLUICE_TEST_MOUNT"),
        "SLUICE_TEST_MOUNT is set but {reason} (hint: run as root, or in a user and mount namespace)"
    );
    common::skip::skip(
        "mount",
        reason,
        "run as root, or in a namespace that allows mount",
    );
}

/// `sluice status --json`; it exits 1 exactly when a source is failing (or parked, stale).
async fn status(config: &str) -> serde_json::Value {
    let out = run_sluice(&["status", "--json", "--config", config]).await;
    let rows: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("status --json prints JSON");
    let bad = rows.as_array().unwrap().iter().any(|row| {
        matches!(
            row["health"].as_str(),
            Some("failing" | "parked" | "silent" | "stale")
        )
    });
    assert_eq!(
        out.status.code(),
        Some(i32::from(bad)),
        "{}",
        output_text(&out)
    );
    rows
}

/// One run that must fail because of the lake; returns its output.
async fn failing_run(config: &str) -> String {
    let out = run_sluice(&["run", "--once", "--config", config]).await;
    let shown = output_text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the run should fail with exit code 1:\n{shown}"
    );
    eprintln!("the failed run said:\n{shown}");
    shown
}

/// The lake of `dir`'s config, with the setup and checks both tests share.
struct Case {
    dir: tempfile::TempDir,
    lake: PathBuf,
    config: String,
}

fn case(base_url: &str) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestConfig::new(base_url);
    cfg.roll_size = "64KB";
    let config = cfg.write(dir.path(), "");
    let lake = dir.path().join("lake");
    std::fs::create_dir(&lake).unwrap();
    Case {
        config: config.to_str().unwrap().to_string(),
        lake,
        dir,
    }
}

impl Case {
    /// The failed run's error names the sink and a path inside the lake, says what to check,
    /// and the source's checkpoint has not moved.
    async fn assert_failed_cleanly(&self, shown: &str, cause: &str, sim_config: &SimulatorConfig) {
        assert!(shown.contains("sink `lake`"), "no sink named:\n{shown}");
        assert!(
            shown.contains(&self.lake.display().to_string()),
            "no lake path named:\n{shown}"
        );
        assert!(
            shown.contains(cause),
            "the cause `{cause}` is not said:\n{shown}"
        );
        assert!(shown.contains("hint:"), "no hint:\n{shown}");
        let status = status(&self.config).await;
        let source = &status[0];
        assert!(
            source["high_water"].is_null(),
            "the checkpoint moved past a page that was not committed: {source}"
        );
        let leftovers = common::lake::peek_local(&self.lake, "okta", sim_config);
        assert_eq!(leftovers.lines, 0, "events were published by a failed run");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_run_and_a_rerun_delivers_exactly_once() {
    let sim_config = SimulatorConfig::okta(2_000);
    let sim = start_simulator(sim_config.clone()).await;
    let base_url = sim.base_url();
    let case = case(&base_url);
    // 16 KiB: room for the lock file, not for the first 64 KB object.
    let Some(disk) = Mount::new(&["-t", "tmpfs", "-o", "size=16k", "tmpfs"], &case.lake) else {
        return;
    };
    let shown = failing_run(&case.config).await;
    case.assert_failed_cleanly(&shown, "No space left on device", &sim_config)
        .await;

    // Free space, and the next runs pick up where the checkpoint is.
    disk.remount("size=64m");
    run_until_caught_up(&case.config, 20, &[]).await;
    assert_lake_exact(&case.lake, "okta", &sim_config);
    drop(disk);
    drop(case.dir);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_write_fails_the_run_and_a_rerun_delivers_exactly_once() {
    let sim_config = SimulatorConfig::okta(2_000);
    let sim = start_simulator(sim_config.clone()).await;
    let base_url = sim.base_url();
    let case = case(&base_url);
    // The lake's directory, bound onto itself read-only: every write into it is refused,
    // for root too.
    let lake = case.lake.to_str().unwrap();
    let Some(bind) = Mount::new(&["--bind", lake], &case.lake).and_then(Mount::read_only) else {
        return;
    };
    let shown = failing_run(&case.config).await;
    case.assert_failed_cleanly(&shown, "Read-only file system", &sim_config)
        .await;

    bind.remount("bind,rw");
    run_until_caught_up(&case.config, 20, &[]).await;
    assert_lake_exact(&case.lake, "okta", &sim_config);
    drop(bind);
    drop(case.dir);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_denied_at_publish_keeps_the_commit_pending_until_fixed() {
    let sim_config = SimulatorConfig::okta(2_000);
    let sim = start_simulator(sim_config.clone()).await;
    let base_url = sim.base_url();
    let case = case(&base_url);
    // Staging is writable, the source's published partitions are not: the batch is staged
    // and its commit intent recorded, then the publish is refused.
    let published = case.lake.join("source=okta");
    std::fs::create_dir(&published).unwrap();
    let target = published.to_str().unwrap();
    let Some(bind) = Mount::new(&["--bind", target], &published).and_then(Mount::read_only) else {
        return;
    };
    let shown = failing_run(&case.config).await;
    case.assert_failed_cleanly(&shown, "Read-only file system", &sim_config)
        .await;
    assert!(
        shown.contains(&format!("{target}/dt=")),
        "the partition is not named:\n{shown}"
    );

    // Unmounted (a rename cannot cross into another mount, even a writable one): the next
    // run finishes the pending commit first, then carries on.
    drop(bind);
    run_until_caught_up(&case.config, 20, &[]).await;
    assert_lake_exact(&case.lake, "okta", &sim_config);
    drop(case.dir);
    sim.shutdown().await;
}

/// The object state store on a local directory (`file://`) whose disk fills up: the run
/// fails at once with the disk error naming the store (a full disk is not an outage, and
/// waiting it out for two minutes as "unreachable" helps nobody), and once space is freed
/// the reruns deliver every event exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_file_state_is_reported_as_such_and_a_rerun_is_exact() {
    let sim_config = SimulatorConfig::okta(2_000);
    let sim = start_simulator(sim_config.clone()).await;
    let base_url = sim.base_url();
    let case = case(&base_url);
    let state = case.dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let url = format!("file://{}/", state.display());
    let text = std::fs::read_to_string(&case.config).unwrap();
    let text = text.replace(
        "[state]\nkind = \"sqlite\"\npath = \"state.db\"\n",
        &format!("[state]\nkind = \"object\"\nurl = \"{url}\"\n"),
    );
    assert!(text.contains(&url), "the state table was replaced");
    std::fs::write(&case.config, text).unwrap();
    // Two pages: room for the store's marker and its start-up probe, not for the source's
    // first checkpoint.
    let Some(disk) = Mount::new(&["-t", "tmpfs", "-o", "size=8k", "tmpfs"], &state) else {
        return;
    };
    let out = run_sluice(&["run", "--once", "--config", &case.config]).await;
    let shown = output_text(&out);
    eprintln!("the run on a full disk said:\n{shown}");
    assert!(!out.status.success(), "the run succeeded:\n{shown}");
    assert!(
        shown.contains(&format!("state store {url}: the disk is full")),
        "the full disk under the state store is not reported as such:\n{shown}"
    );
    assert!(shown.contains("No space left on device"), "{shown}");
    assert!(
        !shown.contains("unreachable"),
        "a full disk was waited out as an outage:\n{shown}"
    );
    assert!(shown.contains("hint: free space"), "no hint:\n{shown}");

    disk.remount("size=64m");
    run_until_caught_up(&case.config, 20, &[]).await;
    assert_lake_exact(&case.lake, "okta", &sim_config);
    drop(disk);
    drop(case.dir);
    sim.shutdown().await;
}
