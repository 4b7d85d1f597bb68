//! The store's statements, one function per call of [`StateStore`]: each runs on a client
//! (or in one transaction) and reports errors located later by the store.

use super::*;

pub(super) fn decode<T: serde::de::DeserializeOwned>(
    source: &str,
    what: &str,
    text: &str,
) -> Result<T, StateError> {
    serde_json::from_str(text).map_err(|err| StateError::Corrupt {
        source_name: source.to_string(),
        detail: format!("{what} does not parse: {err}"),
    })
}

pub(super) fn encode<T: serde::Serialize>(source: &str, value: &T) -> CallResult<String> {
    // Cannot fail for these plain records (no maps with non-string keys), but an error is
    // reported rather than a panic.
    serde_json::to_string(value).map_err(|e| {
        CallError::State(StateError::Corrupt {
            source_name: source.to_string(),
            detail: format!("cannot serialize a state record: {e}"),
        })
    })
}

/// A seq or token as stored (BIGINT).
pub(super) fn to_db(value: u64, source: &str, what: &str) -> CallResult<i64> {
    i64::try_from(value).map_err(|_| {
        CallError::State(StateError::Corrupt {
            source_name: source.to_string(),
            detail: format!("{what} {value} is past the largest storable value"),
        })
    })
}

pub(super) fn from_db(value: i64) -> u64 {
    // Stored values come from `to_db`, so they are never negative; a hand-edited negative
    // one reads as 0 rather than wrapping.
    u64::try_from(value).unwrap_or(0)
}

/// Checks the fencing token and locks the lease row until the transaction ends, so the lease
/// cannot change hands under a commit. Returns the lease's holder, if there is a lease.
pub(super) async fn check_fence(
    tx: &Transaction<'_>,
    source: &str,
    fence: u64,
) -> CallResult<Option<String>> {
    let row = tx
        .query_opt(
            "SELECT token, holder FROM leases WHERE source = $1 FOR SHARE",
            &[&source],
        )
        .await?;
    let (current, holder) = match row {
        Some(row) => (from_db(row.try_get(0)?), Some(row.try_get::<_, String>(1)?)),
        None => (0, None),
    };
    if current == fence {
        Ok(holder)
    } else {
        Err(StateError::Fenced {
            source_name: source.to_string(),
            held: fence,
            current,
        }
        .into())
    }
}

pub(super) fn check_seq(source: &str, found: u64, expected: u64) -> CallResult<()> {
    if found == expected {
        Ok(())
    } else {
        Err(StateError::Conflict {
            source_name: source.to_string(),
            expected,
            found,
        }
        .into())
    }
}

/// The stored seq of `source`, its row locked until the transaction ends; `None` if it has
/// no row.
pub(super) async fn locked_seq(tx: &Transaction<'_>, source: &str) -> CallResult<Option<u64>> {
    let row = tx
        .query_opt(
            "SELECT seq FROM checkpoints WHERE source = $1 FOR UPDATE",
            &[&source],
        )
        .await?;
    Ok(match row {
        Some(row) => Some(from_db(row.try_get(0)?)),
        None => None,
    })
}

/// A source's first row may be inserted by a concurrent writer between our look and our
/// insert; then the insert does nothing and we look again, now finding (and locking) it.
/// Rows are never deleted by sluice, so a second look always finds one; a third is allowed
/// for a row deleted by hand in between.
pub(super) const ROW_ATTEMPTS: usize = 3;

pub(super) async fn load(client: &Client, source: &str) -> CallResult<SourceState> {
    let row = client
        .query_opt(
            "SELECT doc, intent FROM checkpoints WHERE source = $1",
            &[&source],
        )
        .await?;
    let Some(row) = row else {
        return Ok(SourceState::default());
    };
    let doc: String = row.try_get(0)?;
    let intent: Option<String> = row.try_get(1)?;
    Ok(SourceState {
        checkpoint: decode(source, "checkpoint", &doc)?,
        intent: intent
            .map(|i| decode(source, "commit intent", &i))
            .transpose()?,
    })
}

pub(super) async fn prepare(
    client: &mut Client,
    source: &str,
    intent: &Intent,
    fence: u64,
) -> CallResult<()> {
    let text = encode(source, intent)?;
    let tx = client.transaction().await?;
    check_fence(&tx, source, fence).await?;
    for _ in 0..ROW_ATTEMPTS {
        if let Some(found) = locked_seq(&tx, source).await? {
            check_seq(source, found, intent.base_seq)?;
            tx.execute(
                "UPDATE checkpoints SET intent = $2, updated_at = now() WHERE source = $1",
                &[&source, &text],
            )
            .await?;
            tx.commit().await?;
            return Ok(());
        }
        check_seq(source, 0, intent.base_seq)?;
        // First commit of a source: the row holds the initial checkpoint until then.
        let inserted = tx
            .execute(
                "INSERT INTO checkpoints (source, seq, doc, intent) VALUES ($1, 0, $2, $3)
                 ON CONFLICT (source) DO NOTHING",
                &[&source, &encode(source, &Checkpoint::default())?, &text],
            )
            .await?;
        if inserted == 1 {
            tx.commit().await?;
            return Ok(());
        }
    }
    Err(CallError::State(StateError::Backend {
        location: String::new(),
        detail: format!("the checkpoint row of `{source}` keeps appearing and vanishing"),
    }))
}

/// Writes `next` as the checkpoint of `source` and clears its intent, if the stored seq is
/// `expected` and `fence` the lease's token (commit, and import/reset).
pub(super) async fn commit(
    client: &mut Client,
    source: &str,
    next: &Checkpoint,
    expected: u64,
    fence: u64,
) -> CallResult<()> {
    let doc = encode(source, next)?;
    let seq = to_db(next.seq, source, "seq")?;
    let fence_db = to_db(fence, source, "fencing token")?;
    let tx = client.transaction().await?;
    let holder = check_fence(&tx, source, fence).await?;
    let mut written = false;
    for _ in 0..ROW_ATTEMPTS {
        if let Some(found) = locked_seq(&tx, source).await? {
            check_seq(source, found, expected)?;
            tx.execute(
                "UPDATE checkpoints SET seq = $2, doc = $3, intent = NULL, updated_at = now() WHERE source = $1",
                &[&source, &seq, &doc],
            )
            .await?;
            written = true;
            break;
        }
        check_seq(source, 0, expected)?;
        let inserted = tx
            .execute(
                "INSERT INTO checkpoints (source, seq, doc, intent) VALUES ($1, $2, $3, NULL)
                 ON CONFLICT (source) DO NOTHING",
                &[&source, &seq, &doc],
            )
            .await?;
        if inserted == 1 {
            written = true;
            break;
        }
    }
    if !written {
        return Err(CallError::State(StateError::Backend {
            location: String::new(),
            detail: format!("the checkpoint row of `{source}` keeps appearing and vanishing"),
        }));
    }
    tx.execute(
        "INSERT INTO commit_audit (source, seq, fence, holder) VALUES ($1, $2, $3, $4)",
        &[&source, &seq, &fence_db, &holder],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn acquire_lease(
    client: &mut Client,
    source: &str,
    holder: &str,
    ttl: Duration,
) -> CallResult<LeaseOutcome> {
    let ttl_secs = ttl.min(crate::state::MAX_LEASE_TTL).as_secs_f64();
    let tx = client.transaction().await?;
    // Expiry is the server's clock plus the TTL, in milliseconds like the SQLite store; the
    // rules are the SQLite store's: the same holder keeps its token, anyone else gets the
    // lease once it expired, with the next token.
    let expiry = "date_trunc('milliseconds', now() + make_interval(secs => $3))";
    for _ in 0..ROW_ATTEMPTS {
        let row = tx
            .query_opt(
                "SELECT holder, token, expires_at, expires_at > now() FROM leases WHERE source = $1 FOR UPDATE SKIP LOCKED",
                &[&source],
            )
            .await?;
        let written = match row {
            Some(row) => {
                let current: String = row.try_get(0)?;
                let token: i64 = row.try_get(1)?;
                let expires_at: DateTime<Utc> = row.try_get(2)?;
                let live: bool = row.try_get(3)?;
                let token = if current == holder {
                    token
                } else if live {
                    tx.rollback().await?;
                    return Ok(LeaseOutcome::HeldBy {
                        holder: current,
                        token: from_db(token),
                        until: expires_at,
                    });
                } else {
                    token + 1
                };
                // The row is locked since the SELECT: it is exactly as we saw it.
                tx.query_opt(
                    &format!("UPDATE leases SET holder = $2, expires_at = {expiry}, token = $4 WHERE source = $1 RETURNING token, expires_at"),
                    &[&source, &holder, &ttl_secs, &token],
                )
                .await?
            }
            // No row, or one another worker is claiming right now (SKIP LOCKED passes over
            // it: workers looking for a window never queue behind each other). Try a first
            // lease; if a row is there, it is being claimed: report it held.
            None => {
                let inserted = tx
                    .query_opt(
                        &format!(
                            "INSERT INTO leases (source, holder, expires_at, token) VALUES ($1, $2, {expiry}, 1)
                             ON CONFLICT (source) DO NOTHING RETURNING token, expires_at"
                        ),
                        &[&source, &holder, &ttl_secs],
                    )
                    .await?;
                if inserted.is_none() {
                    let claimed = tx
                        .query_opt(
                            "SELECT holder, token, expires_at FROM leases WHERE source = $1",
                            &[&source],
                        )
                        .await?;
                    if let Some(row) = claimed {
                        // Locked by a claim in flight, possibly under this same holder name
                        // (two pipelines of one worker): held, for now, either way.
                        let current: String = row.try_get(0)?;
                        let token: i64 = row.try_get(1)?;
                        let expires_at: DateTime<Utc> = row.try_get(2)?;
                        tx.rollback().await?;
                        return Ok(LeaseOutcome::HeldBy {
                            holder: current,
                            token: from_db(token),
                            until: expires_at,
                        });
                    }
                }
                inserted
            }
        };
        if let Some(row) = written {
            let token: i64 = row.try_get(0)?;
            let expires_at: DateTime<Utc> = row.try_get(1)?;
            tx.commit().await?;
            return Ok(LeaseOutcome::Acquired(Lease {
                source: source.to_string(),
                holder: holder.to_string(),
                token: from_db(token),
                expires_at,
            }));
        }
    }
    Err(CallError::State(StateError::Backend {
        location: String::new(),
        detail: format!("the lease row of `{source}` keeps changing"),
    }))
}

pub(super) async fn renew_lease(
    client: &Client,
    lease: &Lease,
    ttl: Duration,
) -> CallResult<Lease> {
    let token = to_db(lease.token, &lease.source, "fencing token")?;
    let row = client
        .query_opt(
            "UPDATE leases SET expires_at = date_trunc('milliseconds', now() + make_interval(secs => $3))
             WHERE source = $1 AND token = $2 RETURNING expires_at",
            &[&lease.source, &token, &ttl.min(crate::state::MAX_LEASE_TTL).as_secs_f64()],
        )
        .await?;
    if let Some(row) = row {
        return Ok(Lease {
            expires_at: row.try_get(0)?,
            ..lease.clone()
        });
    }
    let current = client
        .query_opt(
            "SELECT token FROM leases WHERE source = $1",
            &[&lease.source],
        )
        .await?
        .map(|row| row.try_get::<_, i64>(0))
        .transpose()?
        .map_or(0, from_db);
    Err(StateError::Fenced {
        source_name: lease.source.clone(),
        held: lease.token,
        current,
    }
    .into())
}

pub(super) async fn release_lease(client: &Client, lease: &Lease) -> CallResult<()> {
    let token = to_db(lease.token, &lease.source, "fencing token")?;
    // The token stays: the next holder gets a larger one.
    client
        .execute(
            "UPDATE leases SET expires_at = 'epoch' WHERE source = $1 AND token = $2",
            &[&lease.source, &token],
        )
        .await?;
    Ok(())
}

pub(super) async fn record_run(client: &mut Client, run: &RunRecord) -> CallResult<()> {
    let doc = encode(&run.source, run)?;
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO runs (source, started_at, finished_at, error, doc) VALUES ($1, $2, $3, $4, $5)",
        &[&run.source, &run.started_at, &run.finished_at, &run.error, &doc],
    )
    .await?;
    // Keeps exactly the newest RUNS_KEPT of this source, whatever other sources add.
    tx.execute(
        "DELETE FROM runs WHERE source = $1 AND id < (
             SELECT id FROM runs WHERE source = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)",
        &[&run.source, &(RUNS_KEPT - 1)],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn incidents(client: &Client) -> CallResult<Vec<Incident>> {
    let rows = client
        .query(
            "SELECT source, doc FROM incidents ORDER BY alert COLLATE \"C\", source COLLATE \"C\"",
            &[],
        )
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let (source, doc): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        found.push(decode(&source, "incident", &doc)?);
    }
    Ok(found)
}

pub(super) async fn open_incident(client: &Client, incident: &Incident) -> CallResult<bool> {
    let doc = encode(&incident.source, incident)?;
    let inserted = client
        .execute(
            "INSERT INTO incidents (alert, source, doc) VALUES ($1, $2, $3)
             ON CONFLICT (alert, source) DO NOTHING",
            &[&incident.alert, &incident.source, &doc],
        )
        .await?;
    if inserted == 1 {
        return Ok(true);
    }
    // Already open: ours if a retried call had recorded it (same opening time).
    let row = client
        .query_opt(
            "SELECT doc FROM incidents WHERE alert = $1 AND source = $2",
            &[&incident.alert, &incident.source],
        )
        .await?;
    let Some(row) = row else {
        // Closed in between: another process owns this change; leave it to it.
        return Ok(false);
    };
    let stored: Incident = decode(&incident.source, "incident", &row.try_get::<_, String>(0)?)?;
    Ok(stored.opened_at == incident.opened_at)
}

pub(super) async fn update_incident(client: &Client, incident: &Incident) -> CallResult<()> {
    let doc = encode(&incident.source, incident)?;
    client
        .execute(
            "UPDATE incidents SET doc = $3 WHERE alert = $1 AND source = $2",
            &[&incident.alert, &incident.source, &doc],
        )
        .await?;
    Ok(())
}

pub(super) async fn close_incident(client: &Client, alert: &str, source: &str) -> CallResult<bool> {
    let deleted = client
        .execute(
            "DELETE FROM incidents WHERE alert = $1 AND source = $2",
            &[&alert, &source],
        )
        .await?;
    Ok(deleted == 1)
}

pub(super) async fn recent_runs(
    client: &Client,
    source: &str,
    limit: usize,
) -> CallResult<Vec<RunRecord>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT doc FROM runs WHERE source = $1 ORDER BY id DESC LIMIT $2",
            &[&source, &limit],
        )
        .await?;
    let mut runs = Vec::with_capacity(rows.len());
    for row in rows {
        let doc: String = row.try_get(0)?;
        runs.push(decode(source, "run record", &doc)?);
    }
    Ok(runs)
}

pub(super) async fn checkpoints_under(
    client: &Client,
    prefix: &str,
) -> CallResult<Vec<(String, Checkpoint)>> {
    // A range, not LIKE: `_` in source names is a LIKE wildcard. `COLLATE "C"` compares
    // bytewise, as the range assumes. An empty prefix has no upper bound.
    let high = crate::state::prefix_end(prefix);
    let rows = client
        .query(
            "SELECT source, doc FROM checkpoints
             WHERE source COLLATE \"C\" >= $1 AND ($2 = '' OR source COLLATE \"C\" < $2)
             ORDER BY source COLLATE \"C\"",
            &[&prefix, &high],
        )
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let key: String = row.try_get(0)?;
        let doc: String = row.try_get(1)?;
        let checkpoint = decode(&key, "checkpoint", &doc)?;
        found.push((key, checkpoint));
    }
    Ok(found)
}

pub(super) async fn status(client: &Client) -> CallResult<Vec<SourceStatus>> {
    // One statement, so one snapshot. `COLLATE "C"` orders names bytewise, as SQLite does.
    let rows = client
        .query(
            "SELECT s.source, c.doc, c.intent IS NOT NULL, last_run.doc, last_error.doc
             FROM (SELECT source FROM checkpoints UNION SELECT source FROM runs) s
             LEFT JOIN checkpoints c ON c.source = s.source
             LEFT JOIN LATERAL (
                 SELECT doc FROM runs r WHERE r.source = s.source ORDER BY id DESC LIMIT 1
             ) last_run ON true
             LEFT JOIN LATERAL (
                 SELECT doc FROM runs r WHERE r.source = s.source AND error IS NOT NULL
                 ORDER BY id DESC LIMIT 1
             ) last_error ON true
             ORDER BY s.source COLLATE \"C\"",
            &[],
        )
        .await?;
    let mut statuses = Vec::with_capacity(rows.len());
    for row in rows {
        let source: String = row.try_get(0)?;
        // Sources that ran but never committed have runs and no checkpoint.
        let doc: Option<String> = row.try_get(1)?;
        let in_flight: Option<bool> = row.try_get(2)?;
        let last_run: Option<String> = row.try_get(3)?;
        let last_error: Option<String> = row.try_get(4)?;
        statuses.push(SourceStatus {
            checkpoint: doc
                .map(|d| decode(&source, "checkpoint", &d))
                .transpose()?
                .unwrap_or_default(),
            commit_in_flight: in_flight.unwrap_or(false),
            last_run: last_run
                .map(|d| decode(&source, "run record", &d))
                .transpose()?,
            last_error: last_error
                .map(|d| decode(&source, "run record", &d))
                .transpose()?,
            source,
        });
    }
    Ok(statuses)
}
