//! The exactness proof under chaos: 100,000 events served with every fault on (429, 5xx,
//! truncated bodies, slow responses), events published late behind the frontier (within
//! `settle_delay`), and the process `kill -9`ed at random at least 50 times. The lake must end
//! equal to the simulator's event set, each event's `data` and time as served.
//!
//! Kill delays and fault decisions come from one seed, logged at the start (shown when the
//! test fails); `SLUICE_TEST_SEED=<seed>` replays them.

use crate::common;

use std::time::Duration;

use chrono::{SubsecRound, TimeDelta, Utc};
use sluice::simulator::{Faults, GenericProfile, LateEvents, SimPagination, SimulatorConfig};

use common::kill::{assert_partly_done, Killer};
use common::lake::object_count;
use common::{assert_lake_exact, delivered, output_text, run_sluice, sluice, start_simulator};

const EVENTS: u64 = 100_000;
const KILLS: usize = 50;
/// The latest an event is published after its time; the settle delay is longer.
const MAX_LATENESS: Duration = Duration::from_secs(2);
const SETTLE: &str = "3s";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_with_late_events_faults_and_kill_9_ends_exact() {
    let dir = tempfile::tempdir().unwrap();
    let mut killer = Killer::new("chaos", &dir.path().join("runs"));
    let profile = GenericProfile {
        pagination: SimPagination::Cursor,
        ..GenericProfile::default()
    };
    // Events run from 15 s ago to 45 s from now: most are published while the test runs,
    // partly late, so runs keep meeting new events behind and at their frontier.
    let anchor = (Utc::now() + TimeDelta::seconds(45)).trunc_subsecs(3);
    let mut sim_config = SimulatorConfig {
        late: LateEvents {
            fraction: 0.05,
            max_delay: MAX_LATENESS,
        },
        anchor,
        span: Duration::from_secs(60),
        ..SimulatorConfig::generic(EVENTS, profile)
    };
    // Pages take a while, as real APIs' do, so runs are still working when the kills land.
    sim_config.latency = Duration::from_millis(60);
    sim_config.faults = Faults {
        rate_429: 0.04,
        rate_5xx: 0.04,
        rate_truncate: 0.04,
        rate_slow: 0.02,
        slow: Duration::from_millis(300),
        seed: Some(killer.seed()),
    };
    let sim = start_simulator(sim_config.clone()).await;
    let config = format!(
        r#"
[state]
kind = "sqlite"
path = "state.db"

[[sources]]
name = "chaos"
base_url = "{base_url}"
path = "/v1/events"
query = {{ start = "{{start}}", end = "{{end}}", limit = "{{limit}}", cursor = "{{cursor}}" }}
records_path = "data"
page_size = 1000
pagination = {{ kind = "cursor", path = "meta.next_cursor" }}
event_time = {{ path = "time" }}
event_id = {{ path = "id" }}
auth = {{ kind = "bearer", token = "sim-token" }}
window = {{ lookback = "2m", max_window = "20s", settle_delay = "{SETTLE}" }}
http = {{ max_attempts = 50, max_backoff = "200ms", timeout = "5s" }}
sinks = ["lake"]

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
roll_size = "256KB"
"#,
        base_url = sim.base_url()
    );
    let config_path = dir.path().join("sluice.toml");
    std::fs::write(&config_path, config).unwrap();
    let config_arg = config_path.to_str().unwrap();

    // Everything is published (and settled) once the clock passes this.
    let all_settled = anchor + TimeDelta::from_std(MAX_LATENESS + Duration::from_secs(4)).unwrap();
    // Runs until KILLS kills have landed and every event is published and settled.
    let lake = dir.path().join("lake");
    let mut at_partial_kill = None;
    let mut lake_complete = false;
    while killer.landed < KILLS || Utc::now() < all_settled {
        assert!(
            killer.attempts < 400,
            "only {} kills landed in {} runs",
            killer.landed,
            killer.attempts
        );
        let mut run = sluice();
        run.args(["run", "--once", "--config", config_arg]);
        // Every other kill lands 30-500 ms after the start, the others 0-300 ms after the run
        // published an object (its first commit can take longer than 500 ms).
        let landed = if killer.attempts.is_multiple_of(2) {
            killer.attempt(run, 30..500).await
        } else {
            let published = || std::future::ready(object_count(&lake, "chaos"));
            killer.attempt_after_progress(run, published, 0..300).await
        };
        if landed && !lake_complete {
            let stored = common::lake::peek_local(&lake, "chaos", &sim_config).events();
            if stored < EVENTS as usize {
                at_partial_kill = Some((delivered(config_arg, &[]).await, stored));
            } else {
                lake_complete = true;
            }
        }
    }
    // The kills landed on work in progress: at the last kill that found the lake unfinished,
    // commits had happened and the lake was partly filled. (The loop goes on until every
    // event is published and settled, so on a fast machine the last of the 50 kills can
    // come after the runs between kills have caught up; those kills still land, on runs
    // that list and commit nothing new.)
    let (committed, stored) =
        at_partial_kill.expect("no kill landed while the lake was unfinished");
    assert_partly_done(committed, stored, EVENTS as usize);

    // Let every event be published and settle, then finish in one run.
    if let Ok(wait) = (all_settled - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
    let out = run_sluice(&["run", "--once", "--config", config_arg]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "final run: {}",
        output_text(&out)
    );
    assert_lake_exact(&dir.path().join("lake"), "chaos", &sim_config);
    let stats = sim.stats();
    assert!(
        stats.faults_429 > 0 && stats.faults_5xx > 0 && stats.faults_truncated > 0,
        "{stats:?}"
    );
    assert!(
        stats.late_events_served > 0,
        "late events were served: {stats:?}"
    );
    sim.shutdown().await;
}
