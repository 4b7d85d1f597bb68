//! The delivery guarantee under `kill -9`: the real binary is killed at random moments,
//! restarted each time, and the lake must end up holding exactly the simulator's events.
//!
//! Kill delays and fault decisions come from one seed, logged at the start (shown when the
//! test fails); `SLUICE_TEST_SEED=<seed>` replays them.

use crate::common;

use std::time::Duration;

use sluice::simulator::{Faults, SimulatorConfig};

use common::kill::{assert_partly_done, Killer};
use common::lake::object_count;
use common::{
    assert_lake_exact, delivered, output_text, run_sluice, sluice, start_simulator, TestConfig,
};

/// Kills that must land while the process is still working.
const KILLS: usize = 25;
const EVENTS: u64 = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lake_is_exact_after_repeated_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut killer = Killer::new("kill9", &dir.path().join("runs"));
    let mut sim_config = SimulatorConfig::okta(EVENTS);
    sim_config.latency = Duration::from_millis(10);
    sim_config.faults = Faults {
        rate_429: 0.03,
        rate_5xx: 0.03,
        rate_truncate: 0.03,
        seed: Some(killer.seed()),
        ..Faults::default()
    };
    let sim = start_simulator(sim_config.clone()).await;
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
    // Every other kill lands 20-250 ms after the start (while the run starts, finishes an
    // interrupted commit, fetches), the others 0-300 ms after the run published an object
    // (while it commits and works on; its first commit can take longer than 250 ms).
    let lake = dir.path().join("lake");
    let published = || std::future::ready(object_count(&lake, "okta"));
    killer
        .until_landed(start, KILLS, KILLS * 4, 20..250, published, 0..300)
        .await;
    assert_partly_done(
        delivered(config, &[]).await,
        common::lake::peek_local(&lake, "okta", &sim_config).events(),
        EVENTS as usize,
    );

    let finish = run_sluice(&["run", "--once", "--config", config]).await;
    assert_eq!(
        finish.status.code(),
        Some(0),
        "final run: {}",
        output_text(&finish)
    );
    assert_lake_exact(&lake, "okta", &sim_config);

    // A further run finds nothing new and changes nothing.
    let again = run_sluice(&["run", "--once", "--config", config]).await;
    assert_eq!(again.status.code(), Some(0), "{}", output_text(&again));
    assert_lake_exact(&lake, "okta", &sim_config);
    // Every object has its ledger record, unbroken chains, heads as the state store has them.
    common::assert_lake_verifies(config).await;
    sim.shutdown().await;
}
