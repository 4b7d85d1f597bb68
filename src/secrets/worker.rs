//! The thread that talks to secret managers during one config load.
//!
//! Loading is synchronous and is often called from async code (inside the caller's tokio
//! runtime). Blocking there on a nested runtime would panic, so the requests run on this
//! thread, which owns a current-thread runtime, the HTTP clients and the tokens of one load;
//! the loader sends it one secret at a time and waits for the answer. The runtime is created
//! and dropped on this thread only.

use std::sync::mpsc;
use std::thread::JoinHandle;

use super::{aws, gcp, vault, Location};
use crate::model::Secret;

/// A request for one secret, and where to send its value.
struct Job {
    location: Location,
    reply: mpsc::Sender<Result<Secret, String>>,
}

/// The running thread. Dropping it stops the thread.
pub(super) struct Worker {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread.
    pub(super) fn start() -> Result<Worker, String> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("sluice-secrets".into())
            .spawn(move || serve(queue))
            .map_err(|err| {
                format!("cannot start the thread that fetches secrets: {err} (hint: the system is out of threads or memory)")
            })?;
        Ok(Worker {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Fetches one secret's whole value, waiting for it.
    pub(super) fn fetch(&self, location: Location) -> Result<Secret, String> {
        let stopped = || "the thread that fetches secrets stopped unexpectedly".to_string();
        let (reply, answer) = mpsc::channel();
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(Job { location, reply })
            .map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop; it is idle (every fetch waited for its
        // answer), so joining returns at once.
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread's body: answer jobs until the queue closes.
fn serve(queue: mpsc::Receiver<Job>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            for job in queue {
                let _ = job.reply.send(Err(format!(
                    "cannot start the runtime that fetches secrets: {err}"
                )));
            }
            return;
        }
    };
    let mut clients = Clients::default();
    for job in queue {
        let result = runtime.block_on(clients.fetch(&job.location));
        // The loader waits for every answer; if it went away there is no one to tell.
        let _ = job.reply.send(result);
    }
}

/// One client per manager, built on first use from the environment.
#[derive(Default)]
struct Clients {
    aws: Option<aws::Client>,
    gcp: Option<gcp::Client>,
    vault: Option<vault::Client>,
}

impl Clients {
    async fn fetch(&mut self, location: &Location) -> Result<Secret, String> {
        // Each client is built on first use, so a config that names one manager needs only
        // that manager's environment.
        match location {
            Location::Aws { secret_id } => {
                if self.aws.is_none() {
                    self.aws = Some(aws::Client::from_env()?);
                }
                let Some(client) = &self.aws else {
                    return Err(NOT_BUILT.into());
                };
                client.get_secret_value(secret_id).await
            }
            Location::Gcp { name } => {
                if self.gcp.is_none() {
                    self.gcp = Some(gcp::Client::from_env()?);
                }
                let Some(client) = &mut self.gcp else {
                    return Err(NOT_BUILT.into());
                };
                client.access(name).await
            }
            Location::Vault { mount, path } => {
                if self.vault.is_none() {
                    self.vault = Some(vault::Client::from_env()?);
                }
                let Some(client) = &self.vault else {
                    return Err(NOT_BUILT.into());
                };
                client.read(mount, path).await
            }
        }
    }
}

/// Cannot happen (each client is set just before); an error rather than a panic all the same.
const NOT_BUILT: &str = "internal error: the secret manager client was not built";
