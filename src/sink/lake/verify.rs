//! `sluice lake verify`: the lake checked against its manifest ledger (see `ledger.rs`).
//!
//! For one source: every chain of it (the source's own, and each backfill window's) is read
//! in order and each record's `prev` checked against the hash of the record before it; the
//! newest record of each chain is checked against the head the state store keeps; every
//! object a record lists (in the time range asked for) is read again as a stream, its size
//! and SHA-256 compared; and every object under the source's prefix that no record lists is
//! reported. With a public key, each record's Ed25519 signature is checked (`signing.rs`);
//! with `ledger.heads`, the newest head published to the write-once location must be one of
//! its chain's records (`heads.rs`).
//!
//! Records and objects are read [`IN_FLIGHT`] at a time (in order for records, so the chain
//! is checked as it streams), each object as a stream of chunks: memory holds the ledger's
//! entries (a few hundred bytes per object) and a read buffer per read in flight, never an
//! object, whatever the lake's size.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;

use super::ledger::{self, LedgerEntry, LedgerRecord};
use super::reader::Reader;
use super::{sanitize, ObjectKind, STAGING_DIR};
use crate::sink::config::LakeConfig;
use crate::sink::SinkError;

/// What is wrong, one thing at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `modified`, `missing`, `unlisted`, `broken_chain`, `head_mismatch`, `rewritten`,
    /// `unsigned`, `bad_signature`, `unreadable` or `no_ledger`.
    pub kind: &'static str,
    /// The object or record concerned, relative to the lake root.
    pub key: String,
    /// What was found, and what was expected.
    pub detail: String,
}

/// What verifying one source found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// The source.
    pub source: String,
    /// The lake sink.
    pub sink: String,
    /// Ledger records read, over every chain.
    pub records: u64,
    /// Objects re-read and hashed.
    pub objects: u64,
    /// Bytes re-read.
    pub bytes: u64,
    /// Objects in the range that retention deleted, as its ledger records say (expected,
    /// not missing).
    pub deleted: u64,
    /// Everything that does not match; empty when the lake is intact.
    pub findings: Vec<Finding>,
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct VerifyScope {
    /// Only objects with events at or after this time are re-read.
    pub from: Option<DateTime<Utc>>,
    /// Only objects with events before this time are re-read.
    pub to: Option<DateTime<Utc>>,
    /// Per chain (the scope: `source` or `source@window`), the record hashes the state store
    /// accepts as its head: the committed one, and a commit's in flight. A chain missing here
    /// is not checked against the state store.
    pub heads: BTreeMap<String, BTreeSet<String>>,
    /// The key record signatures are checked with; `None`: signatures are not checked.
    pub public_key: Option<ed25519_dalek::VerifyingKey>,
}

/// Ledger records and objects read at once: enough to keep an object store's latency
/// covered (and a local disk's queue full) while memory stays at that many read buffers.
const IN_FLIGHT: usize = 8;

/// The scope (ledger chain) of state key `key` of `source`: its staging scope.
pub fn chain_of_key(source: &str, key: &str) -> String {
    super::staging_scope(source, key)
}

/// Verifies `source`'s objects in the lake `config` describes. Errors are for a lake that
/// cannot be read at all; everything else is a finding.
pub async fn verify(
    config: &LakeConfig,
    source: &str,
    scope: &VerifyScope,
) -> Result<VerifyReport, SinkError> {
    let lake = Reader::open(config)?;
    let fail = |detail: String| SinkError {
        sink: config.name.clone(),
        detail,
    };
    let safe = sanitize(source);
    let mut report = VerifyReport {
        source: source.to_string(),
        sink: config.name.clone(),
        ..VerifyReport::default()
    };
    // Every record of the source's chains, by chain, in key (commit) order.
    let chains = lake.chains(&safe).await.map_err(|e| fail(e.to_string()))?;
    if chains.is_empty() {
        report.findings.push(Finding {
            kind: "no_ledger",
            key: ledger::scope_dir(&safe),
            detail: format!(
                "lake `{}` at {} has no manifest ledger for source `{source}`: nothing can be verified (hint: objects published before sluice kept a ledger have none; every commit from now on records one)",
                config.name,
                config.display_location()
            ),
        });
    }
    let present: BTreeSet<String> = chains.keys().cloned().collect();
    let mut listed: HashMap<String, LedgerEntry> = HashMap::new();
    // Objects retention deleted on purpose (see `retention.rs`).
    let mut deleted: HashSet<String> = HashSet::new();
    // The hashes of each chain's records, to find the published heads among.
    let mut hashes: HashMap<String, HashSet<String>> = HashMap::new();
    for (chain, keys) in chains {
        let mut prev: Option<String> = None;
        // Read ahead in parallel, checked in order.
        let mut reads = futures_util::stream::iter(keys)
            .map(|key| {
                let lake = &lake;
                async move { (lake.read(&key).await, key) }
            })
            .buffered(IN_FLIGHT);
        while let Some((bytes, key)) = reads.next().await {
            let bytes = bytes.map_err(|e| fail(e.to_string()))?;
            report.records += 1;
            let hash = ledger::digest(&bytes);
            let record: LedgerRecord = match serde_json::from_slice(&bytes) {
                Ok(record) => record,
                Err(err) => {
                    report.findings.push(Finding {
                        kind: "unreadable",
                        key: key.clone(),
                        detail: format!("not a ledger record: {err}"),
                    });
                    prev = Some(hash);
                    continue;
                }
            };
            if record.prev != prev {
                report.findings.push(Finding {
                    kind: "broken_chain",
                    key: key.clone(),
                    detail: format!(
                        "its prev is {}, but the record before it in chain `{chain}` hashes to {} (a record before it was edited, removed or inserted)",
                        record.prev.as_deref().unwrap_or("none"),
                        prev.as_deref().unwrap_or("none (it would be the first)")
                    ),
                });
            }
            if record.scope != chain || ledger::record_key(&record.scope, &record.batch) != key {
                report.findings.push(Finding {
                    kind: "broken_chain",
                    key: key.clone(),
                    detail: format!(
                        "the record names chain `{}` and batch `{}`, which is not where it is stored",
                        record.scope, record.batch
                    ),
                });
            }
            if let Some(key_to_check) = &scope.public_key {
                check_signature(&record, key_to_check, &key, &mut report);
            }
            for entry in record.objects {
                listed.insert(entry.key.clone(), entry);
            }
            deleted.extend(record.deleted.into_iter().map(|e| e.key));
            hashes
                .entry(chain.clone())
                .or_default()
                .insert(hash.clone());
            prev = Some(hash);
        }
        if let (Some(accepted), Some(head)) = (scope.heads.get(&chain), &prev) {
            if !accepted.contains(head) {
                report.findings.push(Finding {
                    kind: "head_mismatch",
                    key: ledger::scope_dir(&chain),
                    detail: format!(
                        "the newest record of chain `{chain}` hashes to {head}, but the state store's head for it is {} (records were removed from, added to or rewritten at its end)",
                        accepted.iter().cloned().collect::<Vec<_>>().join(" or ")
                    ),
                });
            }
        }
    }
    // Chains the state store knows whose records are all gone.
    for (chain, accepted) in &scope.heads {
        if !present.contains(chain) && !accepted.is_empty() {
            report.findings.push(Finding {
                kind: "head_mismatch",
                key: ledger::scope_dir(chain),
                detail: format!(
                    "the state store's head for chain `{chain}` is {}, and the lake holds none of its records",
                    accepted.iter().cloned().collect::<Vec<_>>().join(" or ")
                ),
            });
        }
    }
    // Heads published to the write-once location must be records of their chains.
    for (chain, (key, published)) in super::heads::latest(config, &safe).await? {
        let known = hashes
            .get(&chain)
            .is_some_and(|h| h.contains(&published.head));
        if !known {
            report.findings.push(Finding {
                kind: "rewritten",
                key,
                detail: format!(
                    "the head of chain `{chain}` published to the write-once location at {} (commit {}) hashes to {}, and no record of the chain in the lake does (the chain was rewritten or cut short after it was published)",
                    crate::timefmt::rfc3339_millis(published.published_at),
                    published.commit,
                    published.head
                ),
            });
        }
    }
    // Every listed object in the range, re-read, several at once.
    let mut keys: Vec<&String> = listed
        .iter()
        .filter(|(_, entry)| entry.overlaps(scope.from, scope.to))
        .map(|(key, _)| key)
        .collect();
    keys.sort();
    let mut digests = futures_util::stream::iter(keys)
        .map(|key| {
            let lake = &lake;
            async move { (lake.digest(key).await, key) }
        })
        .buffered(IN_FLIGHT);
    while let Some((digest, key)) = digests.next().await {
        let entry = &listed[key];
        match digest.map_err(|e| fail(e.to_string()))? {
            None if deleted.contains(key) => report.deleted += 1,
            None => report.findings.push(Finding {
                kind: "missing",
                key: key.clone(),
                detail: format!(
                    "listed in the ledger ({} bytes, {} events) and not in the lake",
                    entry.bytes, entry.events
                ),
            }),
            Some((sha256, bytes)) => {
                report.objects += 1;
                report.bytes += bytes;
                if sha256 != entry.sha256 || bytes != entry.bytes {
                    report.findings.push(Finding {
                        kind: "modified",
                        key: key.clone(),
                        detail: format!(
                            "holds {bytes} bytes with SHA-256 {sha256}; the ledger recorded {} bytes with SHA-256 {}",
                            entry.bytes, entry.sha256
                        ),
                    });
                }
            }
        }
    }
    drop(digests);
    // Objects under the source's prefix that no record lists.
    let prefix = config.key_template.static_prefix(&safe);
    for key in lake.list(&prefix).await.map_err(|e| fail(e.to_string()))? {
        let in_staging = key.starts_with(&format!("{STAGING_DIR}/"));
        if !in_staging
            && ObjectKind::of_name(&key).is_some()
            && config.key_template.holds(&safe, &key)
            && !listed.contains_key(&key)
        {
            report.findings.push(Finding {
                kind: "unlisted",
                key,
                detail: "in the lake, and in no ledger record (added by something else than sluice, or published before the ledger)".into(),
            });
        }
    }
    Ok(report)
}

/// Reports a record whose signature is missing or not `key`'s.
fn check_signature(
    record: &LedgerRecord,
    key: &ed25519_dalek::VerifyingKey,
    at: &str,
    report: &mut VerifyReport,
) {
    use super::signing::{check, Checked};
    let (kind, detail) = match check(record, key) {
        Checked::Good => return,
        Checked::Missing => ("unsigned", "the record carries no signature, and a public key was given (signed before `ledger.signing_key` was set, or the signature was stripped)"),
        Checked::Bad => ("bad_signature", "the record's signature is not the key's over this record (edited, or signed with another key)"),
    };
    report.findings.push(Finding {
        kind,
        key: at.to_string(),
        detail: detail.into(),
    });
}
