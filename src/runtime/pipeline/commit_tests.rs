//! The commit protocol under crashes: fake sinks over a fake lake and an in-memory state store
//! whose every side effect (stage, prepare, intent, publish, checkpoint, clean-up) is a
//! numbered step. Each scenario lets a commit run up to step `k` and interrupts it there, for
//! every `k`: the future is dropped before or after the step lands (a `kill -9`: no clean-up
//! code runs), or the step fails before or after it lands (an error reply, or a reply lost
//! after the write). A new pipeline over what survived (the lake, the store) then recovers and
//! delivers the rest; in the killed cases it is itself killed at each of its own steps first.
//! After each scenario every event is published exactly once, no published object was
//! replaced, and at no time was the checkpoint ahead of what the lake shows.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::Notify;

use super::*;
use crate::sink::SinkError;
use crate::source::config::SourceConfig;
use crate::source::Record;
use crate::state::{Incident, ObjectStateStore, RunRecord, SourceState, SourceStatus};

/// Events of the fake source: a first commit delivers `0..FIRST_BATCH`, the interrupted one
/// the rest.
const FIRST_BATCH: u64 = 4;
const ALL_EVENTS: u64 = 10;
const SINKS: [&str; 2] = ["lake-a", "lake-b"];

/// How the chosen step is interrupted.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Crash {
    /// The process dies before the step's effect.
    KillBefore,
    /// The process dies right after the effect landed, before it hears so.
    KillAfter,
    /// The step fails without effect (an error reply).
    FailBefore,
    /// The effect landed but the caller gets an error (a lost reply).
    FailAfter,
}

const CRASHES: [Crash; 4] = [
    Crash::KillBefore,
    Crash::KillAfter,
    Crash::FailBefore,
    Crash::FailAfter,
];

/// Numbers the side effects and interrupts the chosen one.
#[derive(Default)]
struct Steps {
    inner: Mutex<StepsInner>,
    /// Told when a kill stops the caller: the test then drops the run's future.
    killed: Notify,
}

#[derive(Default)]
struct StepsInner {
    /// Every step of the scenario, in order, for failure messages.
    log: Vec<String>,
    /// The step to interrupt (1-based, counted from the last `arm`) and how.
    crash: Option<(usize, Crash)>,
    /// Steps since the last `arm`.
    counted: usize,
    /// Whether the chosen step was reached.
    hit: bool,
}

/// A step failed (with or without its effect).
struct Failed;

impl Steps {
    fn lock(&self) -> std::sync::MutexGuard<'_, StepsInner> {
        // why: nothing panics while holding the lock but a failed assertion, which ends the test
        self.inner.lock().unwrap()
    }

    fn arm(&self, crash: Option<(usize, Crash)>) {
        let mut inner = self.lock();
        inner.log.push(format!("[{crash:?}]"));
        inner.crash = crash;
        inner.counted = 0;
        inner.hit = false;
    }

    fn hit(&self) -> bool {
        self.lock().hit
    }

    fn log(&self) -> String {
        self.lock().log.join(" ")
    }

    /// Runs `effect` as step `name`, interrupted when it is the chosen one. A kill never
    /// returns: the test drops the future awaiting it.
    async fn step<T>(&self, name: String, effect: impl Future<Output = T>) -> Result<T, Failed> {
        let crash = {
            let mut inner = self.lock();
            inner.counted += 1;
            inner.log.push(name);
            match inner.crash {
                Some((at, crash)) if at == inner.counted => {
                    inner.hit = true;
                    Some(crash)
                }
                _ => None,
            }
        };
        match crash {
            None => Ok(effect.await),
            Some(Crash::KillBefore) => self.die().await,
            Some(Crash::FailBefore) => Err(Failed),
            Some(Crash::KillAfter) => {
                effect.await;
                self.die().await
            }
            Some(Crash::FailAfter) => {
                effect.await;
                Err(Failed)
            }
        }
    }

    async fn die<T>(&self) -> T {
        self.killed.notify_one();
        std::future::pending().await
    }
}

/// What outlives a crash on the sinks' side: their prepared (staged) objects and the
/// published ones, each a list of event ids.
#[derive(Default)]
struct Lake {
    staged: BTreeMap<String, Vec<u64>>,
    published: BTreeMap<String, Vec<u64>>,
    /// Violations seen as they happened.
    violations: Vec<String>,
}

impl Lake {
    /// Every published event, with repeats.
    fn events(&self, sink: &str) -> Vec<u64> {
        let prefix = format!("{sink}/");
        let mut events: Vec<u64> = self
            .published
            .iter()
            .filter(|(name, _)| name.starts_with(&prefix))
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        events.sort_unstable();
        events
    }
}

/// A sink staging event ids in memory (lost with the process) until `prepare` makes them a
/// durable staged object named after the batch, which `publish` makes visible.
struct FakeSink {
    name: String,
    lake: Arc<Mutex<Lake>>,
    steps: Arc<Steps>,
    buffer: Vec<u64>,
}

fn sink_error(sink: &str, what: &str) -> SinkError {
    SinkError {
        sink: sink.to_string(),
        detail: format!("injected failure: {what}"),
    }
}

#[async_trait]
impl Sink for FakeSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&mut self, events: &[Envelope]) -> Result<(), SinkError> {
        let ids: Vec<u64> = events
            .iter()
            .map(|e| {
                e.event_id
                    .parse()
                    .expect("the fake source's ids are numbers")
            })
            .collect();
        let buffer = &mut self.buffer;
        self.steps
            .step(format!("{}.stage", self.name), async { buffer.extend(ids) })
            .await
            .map_err(|_| sink_error(&self.name, "stage"))
    }

    fn wants_commit(&self) -> bool {
        false
    }

    async fn prepare(&mut self, batch: &str) -> Result<Option<serde_json::Value>, SinkError> {
        if self.buffer.is_empty() {
            return Ok(None);
        }
        let object = format!("{}/{batch}", self.name);
        let (lake, buffer) = (&self.lake, &mut self.buffer);
        self.steps
            .step(format!("{}.prepare", self.name), async {
                let ids = std::mem::take(buffer);
                lake.lock().unwrap().staged.insert(object.clone(), ids); // why: see Steps::lock
            })
            .await
            .map_err(|_| sink_error(&self.name, "prepare"))?;
        Ok(Some(json!({ "object": object })))
    }

    async fn publish(&mut self, payload: &serde_json::Value) -> Result<Published, SinkError> {
        let object = payload["object"].as_str().unwrap_or_default().to_string();
        let lake = &self.lake;
        let found = self
            .steps
            .step(format!("{}.publish", self.name), async {
                let mut lake = lake.lock().unwrap(); // why: see Steps::lock
                let staged = lake.staged.remove(&object);
                match (staged, lake.published.get(&object).cloned()) {
                    // Published now.
                    (Some(ids), None) => {
                        lake.published.insert(object.clone(), ids);
                        true
                    }
                    // Published before: a replay, as a lake's no-replace rename finds it.
                    (Some(ids), Some(before)) => {
                        if ids != before {
                            lake.violations
                                .push(format!("{object} published again with other events"));
                        }
                        true
                    }
                    (None, Some(_)) => true,
                    (None, None) => false,
                }
            })
            .await
            .map_err(|_| sink_error(&self.name, "publish"))?;
        if !found {
            return Err(sink_error(
                &self.name,
                &format!("{object} is neither staged nor published"),
            ));
        }
        Ok(Published {
            objects: 1,
            bytes: 0,
        })
    }

    async fn discard_staged(&mut self) -> Result<(), SinkError> {
        let prefix = format!("{}/", self.name);
        let (lake, buffer) = (&self.lake, &mut self.buffer);
        self.steps
            .step(format!("{}.discard", self.name), async {
                buffer.clear();
                let mut lake = lake.lock().unwrap(); // why: see Steps::lock
                lake.staged.retain(|name, _| !name.starts_with(&prefix));
            })
            .await
            .map_err(|_| sink_error(&self.name, "discard"))
    }
}

/// The in-memory object state store, its intent and checkpoint writes made steps; after each
/// checkpoint write it checks the checkpoint against the lake.
struct FakeStore {
    inner: ObjectStateStore,
    steps: Arc<Steps>,
    lake: Arc<Mutex<Lake>>,
}

fn store_error() -> StateError {
    StateError::Backend {
        location: "memory://state/".into(),
        detail: "injected failure".into(),
    }
}

#[async_trait]
impl StateStore for FakeStore {
    fn store_id(&self) -> &str {
        self.inner.store_id()
    }
    async fn load(&self, source: &str) -> Result<SourceState, StateError> {
        self.inner.load(source).await
    }
    async fn prepare(&self, source: &str, intent: &Intent, fence: u64) -> Result<(), StateError> {
        let write = self.inner.prepare(source, intent, fence);
        self.steps
            .step("store.intent".into(), write)
            .await
            .map_err(|_| store_error())?
    }
    async fn commit(&self, source: &str, next: &Checkpoint, fence: u64) -> Result<(), StateError> {
        let write = async {
            let result = self.inner.commit(source, next, fence).await;
            if result.is_ok() {
                let mut lake = self.lake.lock().unwrap(); // why: see Steps::lock
                for sink in SINKS {
                    let shown: BTreeSet<u64> = lake.events(sink).into_iter().collect();
                    if let Some(missing) = (0..next.delivered).find(|e| !shown.contains(e)) {
                        lake.violations.push(format!(
                            "checkpoint {} says {} events are delivered, but {sink} does not show event {missing}",
                            next.seq, next.delivered
                        ));
                    }
                }
            }
            result
        };
        self.steps
            .step("store.checkpoint".into(), write)
            .await
            .map_err(|_| store_error())?
    }
    async fn replace_checkpoint(
        &self,
        key: &str,
        checkpoint: &Checkpoint,
        expected_seq: u64,
        fence: u64,
    ) -> Result<(), StateError> {
        self.inner
            .replace_checkpoint(key, checkpoint, expected_seq, fence)
            .await
    }
    async fn acquire_lease(
        &self,
        source: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StateError> {
        self.inner.acquire_lease(source, holder, ttl).await
    }
    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StateError> {
        self.inner.renew_lease(lease, ttl).await
    }
    async fn release_lease(&self, lease: &Lease) -> Result<(), StateError> {
        self.inner.release_lease(lease).await
    }
    async fn record_run(&self, run: &RunRecord) -> Result<(), StateError> {
        self.inner.record_run(run).await
    }
    async fn recent_runs(&self, source: &str, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        self.inner.recent_runs(source, limit).await
    }
    async fn status(&self) -> Result<Vec<SourceStatus>, StateError> {
        self.inner.status().await
    }
    async fn checkpoints_under(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, Checkpoint)>, StateError> {
        self.inner.checkpoints_under(prefix).await
    }
    async fn incidents(&self) -> Result<Vec<Incident>, StateError> {
        self.inner.incidents().await
    }
    async fn open_incident(&self, incident: &Incident) -> Result<bool, StateError> {
        self.inner.open_incident(incident).await
    }
    async fn update_incident(&self, incident: &Incident) -> Result<(), StateError> {
        self.inner.update_incident(incident).await
    }
    async fn close_incident(&self, alert: &str, source: &str) -> Result<bool, StateError> {
        self.inner.close_incident(alert, source).await
    }
}

fn source() -> HttpSource {
    // Never contacted: the tests drive the commit, not the page loop.
    let config: SourceConfig = toml::from_str(
        r#"
name = "acme"
base_url = "http://127.0.0.1:9"
path = "/logs"
query = { since = "{start}", until = "{end}" }
pagination = { kind = "link_header" }
event_time = { path = "time" }
event_id = { path = "id" }
sinks = ["lake-a", "lake-b"]
"#,
    )
    .expect("the test source's config parses");
    HttpSource::new(&config).expect("the test source builds")
}

/// A process of the scenario: a pipeline over the surviving lake and store, with sinks whose
/// unprepared stage died with the last one.
fn process<'a>(world: &'a World, holder: &str) -> Pipeline<'a> {
    let sinks: Vec<Box<dyn Sink>> = SINKS
        .iter()
        .map(|name| {
            Box::new(FakeSink {
                name: name.to_string(),
                lake: Arc::clone(&world.lake),
                steps: Arc::clone(&world.steps),
                buffer: Vec::new(),
            }) as Box<dyn Sink>
        })
        .collect();
    let mut pipeline = Pipeline::new(world.source.clone(), sinks, &world.store);
    pipeline.holder = holder.to_string();
    pipeline
}

struct World {
    source: Arc<HttpSource>,
    store: FakeStore,
    lake: Arc<Mutex<Lake>>,
    steps: Arc<Steps>,
}

impl World {
    async fn new() -> World {
        let lake = Arc::new(Mutex::new(Lake::default()));
        let steps = Arc::new(Steps::default());
        World {
            source: Arc::new(source()),
            store: FakeStore {
                inner: ObjectStateStore::in_memory()
                    .await
                    .expect("an in-memory store opens"),
                steps: Arc::clone(&steps),
                lake: Arc::clone(&lake),
            },
            lake,
            steps,
        }
    }
}

/// What one process did.
enum Ended {
    /// It delivered up to `ALL_EVENTS` and committed.
    Done,
    /// A step failed; the run ended with an error (and let its lease go, as a run does).
    Failed(RunError),
    /// It was killed.
    Killed,
}

/// One process: take the lease, recover, stage the events after the checkpoint up to `to`
/// (what the page loop would fetch again) and commit them.
async fn run_process(world: &World, holder: &str, to: u64) -> Ended {
    let mut pipeline = process(world, holder);
    let work = async {
        assert!(pipeline.take_lease().await?, "the lease is free");
        pipeline.recover().await?;
        let from = pipeline.committed.delivered;
        let time = |e: u64| {
            chrono::DateTime::from_timestamp(1_700_000_000 + e as i64, 0)
                .expect("a fixed time is in range")
        };
        let events: Vec<Envelope> = (from..to)
            .map(|e| {
                let record = Record {
                    time: time(e),
                    id: e.to_string(),
                    data: json!({ "id": e.to_string() }).into(),
                };
                Envelope::wrap(record, &pipeline.name, Utc::now())
            })
            .collect();
        for sink in &mut pipeline.sinks {
            sink.write(&events).await.map_err(|e| RunError::sink(&e))?;
        }
        pipeline.pending.delivered = to;
        if to > from {
            pipeline.pending.high_water = Some(time(to - 1));
        }
        pipeline.commit().await
    };
    let ended = tokio::select! {
        biased;
        () = world.steps.killed.notified() => Ended::Killed,
        result = work => match result {
            Ok(()) => Ended::Done,
            Err(error) => Ended::Failed(error),
        },
    };
    // A killed process leaves its lease to lapse; a failed run gives it up. Either way the
    // next process gets it (a lapsed lease, for the test, is one released).
    if let Some(lease) = pipeline.lease.take() {
        world
            .store
            .inner
            .release_lease(&lease)
            .await
            .expect("the in-memory store releases a lease");
    }
    ended
}

/// Checks what survived: every event published once in every sink, no object replaced, the
/// checkpoint at the end, no intent left, nothing left staged.
async fn assert_exactly_once(world: &World, scenario: &str) {
    let state = world
        .store
        .inner
        .load("acme")
        .await
        .expect("the store loads");
    let lake = world.lake.lock().unwrap(); // why: see Steps::lock
    let log = world.steps.log();
    assert!(
        lake.violations.is_empty(),
        "{scenario}: {:?}\nsteps: {log}",
        lake.violations
    );
    for sink in SINKS {
        assert_eq!(
            lake.events(sink),
            (0..ALL_EVENTS).collect::<Vec<_>>(),
            "{scenario}: {sink} does not hold every event exactly once\nsteps: {log}"
        );
    }
    assert_eq!(
        state.checkpoint.delivered, ALL_EVENTS,
        "{scenario}\nsteps: {log}"
    );
    assert!(
        state.intent.is_none(),
        "{scenario}: an intent is left\nsteps: {log}"
    );
    assert!(
        lake.staged.is_empty(),
        "{scenario}: staged objects are left: {:?}\nsteps: {log}",
        lake.staged.keys()
    );
}

/// Runs processes until one delivers everything, the `first` one interrupted as `crash` says
/// and the second (when the first was killed) killed at step `second` of its own. `None`
/// when the chosen step lies past the end of the process's work (the scenario is the
/// uninterrupted one, already covered).
async fn scenario(crash: Crash, first: usize, second: Option<usize>) -> Option<(World, String)> {
    let world = World::new().await;
    let name = format!(
        "{crash:?} at step {first} of the commit, then killed at step {second:?} of the recovery"
    );
    world.steps.arm(None);
    assert!(
        matches!(run_process(&world, "w0", FIRST_BATCH).await, Ended::Done),
        "{name}: the first commit, uninterrupted, fails\nsteps: {}",
        world.steps.log()
    );
    world.steps.arm(Some((first, crash)));
    let ended = run_process(&world, "w1", ALL_EVENTS).await;
    if !world.steps.hit() {
        assert!(matches!(ended, Ended::Done), "{name}");
        return None;
    }
    match (&ended, crash) {
        (Ended::Killed, Crash::KillBefore | Crash::KillAfter) => {}
        // A lost reply of the checkpoint write is found landed when retried; anything else
        // that fails ends the run with the error.
        (Ended::Done, Crash::FailAfter) => {}
        (Ended::Failed(_), Crash::FailBefore | Crash::FailAfter) => {}
        // A failed checkpoint write is retried and lands.
        (Ended::Done, Crash::FailBefore) => {}
        _ => panic!(
            "{name}: the process ended unexpectedly\nsteps: {}",
            world.steps.log()
        ),
    }
    if let Some(second) = second {
        world.steps.arm(Some((second, Crash::KillBefore)));
        let ended = run_process(&world, "w2", ALL_EVENTS).await;
        if !world.steps.hit() {
            assert!(matches!(ended, Ended::Done), "{name}");
            return None;
        }
    }
    world.steps.arm(None);
    for holder in ["w3", "w4"] {
        // The second run after the recovery finds nothing to repeat.
        match run_process(&world, holder, ALL_EVENTS).await {
            Ended::Done => {}
            Ended::Failed(error) => panic!(
                "{name}: run {holder} failed: {error}\nsteps: {}",
                world.steps.log()
            ),
            Ended::Killed => unreachable!("no crash is armed"),
        }
    }
    Some((world, name))
}

#[tokio::test]
async fn an_interrupted_commit_loses_and_repeats_nothing() {
    let mut covered = 0;
    for crash in CRASHES {
        for first in 1.. {
            let Some((world, name)) = scenario(crash, first, None).await else {
                break;
            };
            assert_exactly_once(&world, &name).await;
            covered += 1;
        }
    }
    // Two sinks staged, prepared and published, the intent and the checkpoint: at least
    // eight steps, each interrupted four ways.
    assert!(covered >= 32, "only {covered} scenarios ran");
}

#[tokio::test]
async fn a_recovery_killed_at_any_step_still_loses_and_repeats_nothing() {
    let mut covered = 0;
    for crash in [Crash::KillBefore, Crash::KillAfter] {
        for first in 1.. {
            if scenario(crash, first, None).await.is_none() {
                break;
            }
            for second in 1.. {
                let Some((world, name)) = scenario(crash, first, Some(second)).await else {
                    break;
                };
                assert_exactly_once(&world, &name).await;
                covered += 1;
            }
        }
    }
    assert!(covered >= 16, "only {covered} scenarios ran");
}
