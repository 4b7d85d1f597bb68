//! The delivery guarantee under `kill -9`: the real binary is killed at random moments,
//! restarted each time, and the lake must end up holding exactly the simulator's events.

mod common;

use std::time::Duration;

use sluice::simulator::{Faults, SimulatorConfig};

use common::{
    assert_lake_exact, kill_9_repeatedly, run_sluice, sluice, start_simulator, TestConfig,
};

/// Kills that must land while the process is still working.
const KILLS: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lake_is_exact_after_repeated_kill_9() {
    let mut sim_config = SimulatorConfig::okta(30_000);
    sim_config.latency = Duration::from_millis(10);
    sim_config.faults = Faults {
        rate_429: 0.03,
        rate_5xx: 0.03,
        rate_truncate: 0.03,
        ..Faults::default()
    };
    let sim = start_simulator(sim_config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = sim.base_url();
    let mut test_config = TestConfig::new(&base_url);
    // Small objects: many commits per run, so kills land in every phase of a commit.
    test_config.roll_size = "24KB";
    let config_path = test_config.write(dir.path(), "");
    let config = config_path.to_str().unwrap();

    let start = || {
        let mut command = sluice();
        command.args(["run", "--once", "--config", config]);
        command
    };
    kill_9_repeatedly(start, KILLS, KILLS * 4, 20..250).await;

    let finish = run_sluice(&["run", "--once", "--config", config]).await;
    assert!(
        finish.status.success(),
        "final run failed: {}",
        String::from_utf8_lossy(&finish.stderr)
    );
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);

    // A further run finds nothing new and changes nothing.
    let again = run_sluice(&["run", "--once", "--config", config]).await;
    assert!(again.status.success());
    assert_lake_exact(&dir.path().join("lake"), "okta", &sim_config);
    sim.shutdown().await;
}
