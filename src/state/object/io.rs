//! Reading and writing the store's documents: versioned reads, conditional writes, the fence
//! check every checkpoint write makes, and object names per key.

use super::*;

impl ObjectStateStore {
    pub(super) fn backend(&self, detail: impl Into<String>) -> StateError {
        StateError::Backend {
            location: self.location.clone(),
            detail: detail.into(),
        }
    }

    /// Reads and decodes `name` (the document of `key`), with its version.
    pub(super) async fn read_versioned<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        name: &str,
    ) -> Result<Option<(T, Found)>, StateError> {
        let found = self.objects.get(name).await.map_err(|e| {
            self.backend(format!(
                "cannot read {}: {e} (hint: check the credentials' permissions and that the endpoint is reachable)",
                self.objects.url_of(name)
            ))
        })?;
        match found {
            None => Ok(None),
            Some(found) => {
                let doc = decode(key, &self.objects.url_of(name), &found.bytes)?;
                Ok(Some((doc, found)))
            }
        }
    }

    pub(super) async fn read<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        name: &str,
    ) -> Result<Option<T>, StateError> {
        Ok(self.read_versioned(key, name).await?.map(|(doc, _)| doc))
    }

    /// Writes `doc` at `name` if the object is still as read (`read` is `None`: absent).
    /// `Ok(false)`: the race was lost, nothing was written.
    pub(super) async fn write<T: serde::Serialize>(
        &self,
        key: &str,
        name: &str,
        doc: &T,
        read: Option<&Found>,
    ) -> Result<bool, StateError> {
        let condition = match read {
            None => Condition::Create,
            Some(found) => Condition::Match(&found.version),
        };
        match self.objects.put(name, encode(key, doc)?, condition).await {
            Ok(()) => Ok(true),
            Err(PutError::Lost) => Ok(false),
            Err(PutError::DiskFull(detail)) => Err(put_error(&self.location, PutError::DiskFull(detail))),
            Err(PutError::Failed(e)) => Err(self.backend(format!(
                "cannot write {}: {e} (hint: check the credentials' permissions and that the endpoint is reachable)",
                self.objects.url_of(name)
            ))),
        }
    }

    pub(super) fn checkpoint_name(&self, key: &str) -> Result<String, StateError> {
        Ok(format!("checkpoints/{}.json", self.checked(key)?))
    }

    pub(super) fn lease_name(&self, key: &str) -> Result<String, StateError> {
        Ok(format!("leases/{}.json", self.checked(key)?))
    }

    pub(super) fn runs_name(&self, key: &str) -> Result<String, StateError> {
        Ok(format!("runs/{}.json", self.checked(key)?))
    }

    /// Keys become object names: only characters that are the same in every store's keys
    /// and every file system (source names and window keys use no others).
    pub(super) fn checked<'k>(&self, key: &'k str) -> Result<&'k str, StateError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_@.:".contains(c);
        if key.is_empty() || key.starts_with('.') || !key.chars().all(allowed) {
            return Err(self.backend(format!(
                "state key `{key}` cannot be an object name (hint: source names use letters, digits, '-' and '_' only)"
            )));
        }
        Ok(key)
    }

    /// The checkpoint document of `key` and its version; an empty one if none is stored.
    pub(super) async fn doc(
        &self,
        key: &str,
    ) -> Result<(CheckpointDoc, Option<Found>), StateError> {
        let name = self.checkpoint_name(key)?;
        Ok(
            match self.read_versioned::<CheckpointDoc>(key, &name).await? {
                Some((doc, found)) => (doc, Some(found)),
                None => (CheckpointDoc::empty(key), None),
            },
        )
    }

    /// The conditional write of a checkpoint document behind prepare, commit and replace:
    /// the stored fence must be `fence` and the stored seq `expected`, on the very version
    /// that is replaced. A lost race is re-read only to say what changed, never retried.
    pub(super) async fn write_checkpoint(
        &self,
        key: &str,
        fence: u64,
        expected: u64,
        change: impl Fn(&mut CheckpointDoc),
    ) -> Result<(), StateError> {
        let name = self.checkpoint_name(key)?;
        let (mut doc, found) = self.doc(key).await?;
        check(key, &doc, fence, expected)?;
        change(&mut doc);
        doc.format = FORMAT;
        doc.updated_at = Utc::now();
        if self.write(key, &name, &doc, found.as_ref()).await? {
            return Ok(());
        }
        let (now, _) = self.doc(key).await?;
        check(key, &now, fence, expected)?;
        // Same fence and seq: another writer with our token prepared or imported meanwhile.
        Err(StateError::Conflict {
            source_name: key.to_string(),
            expected,
            found: now.seq(),
        })
    }

    /// Makes the checkpoint document's fence `token` (a new holder's), so writers with an
    /// older token are refused from now on.
    pub(super) async fn move_fence(&self, key: &str, token: u64) -> Result<(), StateError> {
        let name = self.checkpoint_name(key)?;
        for _ in 0..ATTEMPTS {
            let (mut doc, found) = self.doc(key).await?;
            if doc.fence == token {
                return Ok(());
            }
            if doc.fence > token {
                // A later holder moved it: our lease was taken over already.
                return Err(StateError::Fenced {
                    source_name: key.to_string(),
                    held: token,
                    current: doc.fence,
                });
            }
            doc.fence = token;
            doc.format = FORMAT;
            doc.updated_at = Utc::now();
            if self.write(key, &name, &doc, found.as_ref()).await? {
                return Ok(());
            }
        }
        Err(self.busy(key, "checkpoint"))
    }

    pub(super) fn busy(&self, key: &str, what: &str) -> StateError {
        self.backend(format!(
            "the {what} object of `{key}` kept changing while {ATTEMPTS} writes were tried; another process writes it in a loop (hint: run only one sluice per source)"
        ))
    }

    /// Reads `incidents.json`, lets `change` edit it (it says whether it changed anything),
    /// and writes it back if it is still as read, reading anew after a lost race.
    pub(super) async fn change_incidents(
        &self,
        mut change: impl FnMut(&mut IncidentsDoc) -> bool,
    ) -> Result<(), StateError> {
        for _ in 0..ATTEMPTS {
            let current = self
                .read_versioned::<IncidentsDoc>("incidents", INCIDENTS)
                .await?;
            let (mut doc, found) = match current {
                Some((doc, found)) => (doc, Some(found)),
                None => (IncidentsDoc::default(), None),
            };
            if !change(&mut doc) {
                return Ok(());
            }
            doc.format = FORMAT;
            if self
                .write("incidents", INCIDENTS, &doc, found.as_ref())
                .await?
            {
                return Ok(());
            }
        }
        Err(self.busy("incidents", "incidents"))
    }

    /// The keys with an object under `dir` (`checkpoints/`, `runs/`).
    pub(super) async fn keys_in(&self, dir: &str) -> Result<Vec<String>, StateError> {
        let names = self.objects.list(dir).await.map_err(|e| {
            self.backend(format!(
                "cannot list {}: {e} (hint: the credentials need permission to list the bucket)",
                self.objects.url_of(dir)
            ))
        })?;
        Ok(names
            .into_iter()
            .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
            .collect())
    }
}

/// A failed write as a state error: a full disk is [`StateError::DiskFull`] (reported at
/// once; waiting does not free space), anything else [`StateError::Backend`].
pub(super) fn put_error(location: &str, err: PutError) -> StateError {
    match err {
        PutError::DiskFull(detail) => StateError::DiskFull {
            location: location.to_string(),
            detail,
        },
        other => StateError::Backend {
            location: location.to_string(),
            detail: other.to_string(),
        },
    }
}

/// The document allows a write by the holder of `fence` that builds on seq `expected`.
fn check(key: &str, doc: &CheckpointDoc, fence: u64, expected: u64) -> Result<(), StateError> {
    if doc.fence != fence {
        return Err(StateError::Fenced {
            source_name: key.to_string(),
            held: fence,
            current: doc.fence,
        });
    }
    if doc.seq() != expected {
        return Err(StateError::Conflict {
            source_name: key.to_string(),
            expected,
            found: doc.seq(),
        });
    }
    Ok(())
}

/// Lease expiries are kept to the millisecond, as in the SQL stores.
pub(super) fn expiry(ttl: Duration) -> DateTime<Utc> {
    let at = Utc::now() + ttl.min(crate::state::MAX_LEASE_TTL);
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}
