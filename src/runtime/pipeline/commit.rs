//! The commit protocol: recovery of an interrupted commit, then stage → prepare → intent →
//! publish → checkpoint, so that a crash between any two steps loses and repeats nothing.

use super::*;

impl<'a> Pipeline<'a> {
    /// Finishes a commit a crashed run left half done, then clears leftover staging.
    pub(super) async fn recover(&mut self) -> Result<(), RunError> {
        let state = self.store.load(&self.key).await?;
        if self.backfill_window.is_none() && state.checkpoint.seq == 0 && state.intent.is_none() {
            self.refuse_if_published_before().await?;
        }
        self.committed = state.checkpoint;
        if let Some(intent) = state.intent {
            tracing::info!(source = %self.name, commit = intent.next.seq, "finishing a commit interrupted by a crash");
            self.publish(&intent).await?;
            // Waits out an unreachable store like any commit: this roll-forward runs first
            // thing, often while the store that just failed is still coming back.
            self.commit_checkpoint(&intent.next).await?;
            self.committed = intent.next;
        }
        for sink in self.sinks.iter_mut().chain(self.dead_letter.iter_mut()) {
            sink.discard_staged()
                .await
                .map_err(|e| RunError::sink(&e))?;
        }
        self.pending = self.committed.clone();
        if let Some((window, seed)) = &self.backfill_window {
            if self.committed.until.is_none() {
                // A window nobody worked yet (or reset by `sluice state reset`): it starts (and stays) at its start, and ends at
                // its end.
                self.pending.anchor = Some(window.range.start);
                self.pending.floor = Some(window.range.start);
                self.pending.until = Some(window.range.end);
                self.pending.recent = seed.clone();
            }
        }
        Ok(())
    }

    /// A source the state store knows nothing of must not start over a lake that already
    /// holds its objects: that happens when the state store was lost or replaced, and
    /// starting again from the lookback would deliver every event a second time. The run
    /// fails, pointing to `sluice state recover --from-lake`.
    pub(super) async fn refuse_if_published_before(&mut self) -> Result<(), RunError> {
        for sink in &mut self.sinks {
            let found = sink
                .published_before()
                .await
                .map_err(|e| RunError::sink(&e))?;
            if let Some(found) = found {
                return Err(RunError::new(FailureKind::State, format!(
                    "source `{name}`: the state store has no checkpoint for it, but {found}; starting from the lookback would deliver its events again. If the state store was lost or replaced, rebuild the checkpoint from the lake with `sluice state recover --from-lake --source {name}`, then run again (hint: to deliver everything again on purpose, move the source's objects out of the lake first)",
                    name = self.name
                )));
            }
        }
        Ok(())
    }

    /// Commits everything staged: sinks prepare, the intent is recorded, sinks publish, and
    /// only then does the checkpoint move.
    pub(super) async fn commit(&mut self) -> Result<(), RunError> {
        if self.pending == self.committed {
            return Ok(());
        }
        let started = Instant::now();
        let mut next = self.pending.clone();
        next.seq = self.committed.seq + 1;
        next.committed_at = Some(Utc::now());
        if self.backfill_window.is_none() {
            // Only the source's own key learns its usual volume: windows deliver the past.
            next.volume
                .add(Utc::now(), next.delivered - self.committed.delivered);
        }
        let batch = batch_name(self.store.store_id(), &self.key, &self.committed);
        let mut sinks = Vec::new();
        let mut letters = Vec::new();
        let mut refusals = CommitRefusals::default();
        for sink in &mut self.sinks {
            if let Some(payload) = sink.prepare(&batch).await.map_err(|e| RunError::sink(&e))? {
                sinks.push(SinkIntent {
                    sink: sink.name().to_string(),
                    payload,
                });
            }
            let name = sink.name().to_string();
            if let Some(head) = sink.ledger_head() {
                next.ledger.insert(name.clone(), head);
            }
            let rejected = sink.take_rejected();
            refusals.note(&name, sink.fail_when_refused(), &rejected);
            letters.extend(
                rejected
                    .into_iter()
                    .map(|r| dead_letter::wrap(r, &name, next.seq)),
            );
        }
        if !letters.is_empty() || self.letters_staged > 0 {
            sinks.extend(self.dead_letter(&letters, &batch).await?);
        }
        if !sinks.is_empty() {
            let intent = Intent {
                base_seq: self.committed.seq,
                next: next.clone(),
                sinks,
            };
            // Set before the state store answers: a failed `prepare` may still have
            // recorded the intent, and keeping staged objects is always safe (the next run
            // publishes them, or cleans them when no intent was recorded).
            self.intent_recorded = true;
            self.store.prepare(&self.key, &intent, self.fence()).await?;
            self.publish(&intent).await?;
        }
        self.keep_lease().await?;
        self.commit_checkpoint(&next).await?;
        self.intent_recorded = false;
        let offered = next.delivered - self.committed.delivered;
        self.report.events += offered;
        super::super::progress::committed(&self.name, offered, next.high_water);
        self.report.refused_events += refusals.settle(offered, &mut self.report.sinks);
        tracing::debug!(source = %self.name, commit = next.seq, delivered = next.delivered, "checkpoint committed");
        self.committed = next;
        self.pending.seq = self.committed.seq;
        self.pending.committed_at = self.committed.committed_at;
        self.pending.ledger = self.committed.ledger.clone();
        self.last_commit = Instant::now();
        self.staged_since_commit = 0;
        self.timings.committed(started.elapsed(), Utc::now());
        self.report.stages.commit += started.elapsed();
        Ok(())
    }

    /// Moves the checkpoint to `next`, waiting out a state store that is briefly unreachable.
    /// A write whose reply was lost may have landed: a retry that finds exactly `next`
    /// stored counts as done, so nothing is committed (or published) twice.
    pub(super) async fn commit_checkpoint(&mut self, next: &Checkpoint) -> Result<(), RunError> {
        let mut delays = crate::state::retry::backoff();
        let mut unsure = false;
        // A commit that starts after the stop request (the run's final commit, in the time a
        // deadline keeps for it) waits the store out; one that a stop request interrupts
        // does not.
        let stoppable = !self.stop.is_cancelled();
        loop {
            match self.store.commit(&self.key, next, self.fence()).await {
                Ok(()) => return Ok(()),
                Err(StateError::Conflict { found, .. }) if unsure && found == next.seq => {
                    let stored = self.store.load(&self.key).await?;
                    if stored.checkpoint == *next && stored.intent.is_none() {
                        return Ok(());
                    }
                    // The other worker owns the source now, as when a lease is taken over.
                    return Err(RunError::new(FailureKind::HandedOver, format!(
                        "source `{}`: commit {} was made by another worker while the state store was unreachable; this worker stops without committing",
                        self.name, next.seq
                    )));
                }
                Err(err @ StateError::Backend { .. }) => {
                    self.store_pause(err, &mut delays, stoppable).await?;
                    unsure = true;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Waits before retrying a state write that failed because the store is unreachable; an
    /// error once the retries are used up, or when `stoppable` and a stop request arrives.
    pub(super) async fn store_pause(
        &mut self,
        err: StateError,
        delays: &mut impl Iterator<Item = Duration>,
        stoppable: bool,
    ) -> Result<(), RunError> {
        let Some(delay) = delays.next() else {
            return Err(RunError::new(FailureKind::State, format!(
                "{err} (gave up after retrying for {}s; nothing past the last commit was recorded, the next run resumes there)",
                crate::state::retry::RETRY_FOR.as_secs()
            )));
        };
        tracing::warn!(source = %self.name, error = %err, retry_in_ms = delay.as_millis() as u64, "state store unreachable; commits wait for it");
        if !stoppable {
            tokio::time::sleep(delay).await;
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => Ok(()),
            // A stop request must not wait out the store's outage (minutes): stopping here is
            // as safe as a crash, and the next run finishes or repeats this commit.
            () = self.stop.cancelled() => Err(RunError::new(FailureKind::Cancelled, format!(
                "{err} (the run was stopped while its commit waited for the state store; nothing past the last commit was recorded, the next run resumes there)"
            ))),
        }
    }

    /// Stages refused events in the dead-letter queue and prepares the queue's batch (with
    /// any dead letters staged since the last commit), as part of the commit being made.
    pub(super) async fn dead_letter(
        &mut self,
        letters: &[Envelope],
        batch: &str,
    ) -> Result<Option<SinkIntent>, RunError> {
        let first = letters
            .first()
            .and_then(|letter| letter.data.to_value().ok())
            .and_then(|data| data["error"].as_str().map(str::to_string))
            .unwrap_or_default();
        let queue = match self.dead_letter.as_mut() {
            Some(queue) => queue,
            None if letters.is_empty() => return Ok(None),
            None => return Err(RunError::new(FailureKind::SinkRefused, format!(
                "{} events were refused by a sink (first: {first}) and no [dead_letter] queue is configured; the checkpoint was not moved (hint: add [dead_letter] path = \"dead-letter\" to keep them, then run again)",
                letters.len()
            ))),
        };
        if !letters.is_empty() {
            tracing::warn!(source = %self.name, events = letters.len(), first_error = %first, "events refused by a sink go to the dead-letter queue");
            queue.write(letters).await.map_err(|e| RunError::sink(&e))?;
            self.report.dead_lettered += letters.len() as u64;
        }
        self.letters_staged = 0;
        let payload = queue.prepare(batch).await.map_err(|e| RunError::sink(&e))?;
        Ok(payload.map(|payload| SinkIntent {
            sink: dead_letter::SINK_NAME.to_string(),
            payload,
        }))
    }

    pub(super) async fn publish(&mut self, intent: &Intent) -> Result<(), RunError> {
        for part in &intent.sinks {
            let sink = self
                .sinks
                .iter_mut()
                .chain(self.dead_letter.iter_mut())
                .find(|s| s.name() == part.sink)
                .ok_or_else(|| {
                    RunError::new(FailureKind::Config, format!(
                        "an interrupted commit needs sink `{}`, which the config no longer lists for this source; put it back for one run so the commit can finish",
                        part.sink
                    ))
                })?;
            let Published { objects, bytes } = sink
                .publish(&part.payload)
                .await
                .map_err(|e| RunError::sink(&e))?;
            self.report.objects += objects;
            self.report.bytes += bytes;
        }
        Ok(())
    }
}

/// The name of the batch that starts at checkpoint `base` of state key `key`, in the store
/// whose id is `store_id`: its commit number (so names sort by commit), the store id's
/// short form (so a state store created anew, which counts commits from 1 again, never
/// names a batch as the lost one did), then a digest of the whole position, so a replay
/// from the same checkpoint writes the same object names.
pub fn batch_name(store_id: &str, key: &str, base: &Checkpoint) -> String {
    let mut hasher = Sha256::new();
    hasher.update(key.as_bytes());
    hasher.update(serde_json::to_vec(base).unwrap_or_default());
    let digest = hasher.finalize();
    let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let store = crate::state::short_store_id(store_id);
    if store.is_empty() {
        return format!("{:010}-{short}", base.seq);
    }
    format!("{:010}-{store}-{short}", base.seq)
}
