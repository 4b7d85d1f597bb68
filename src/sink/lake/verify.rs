//! `sluice lake verify`: the lake checked against its manifest ledger (see `ledger.rs`).
//!
//! For one source: every chain of it (the source's own, and each backfill window's) is read
//! in order and each record's `prev` checked against the hash of the record before it; the
//! newest record of each chain is checked against the head the state store keeps; every
//! object a record lists (in the time range asked for) is read again as a stream, its size
//! and SHA-256 compared; and every object under the source's prefix that no record lists is
//! reported. Memory holds the ledger's entries (a few hundred bytes per object), never an
//! object.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ledger::{self, LedgerEntry, LedgerRecord, MANIFEST_DIR};
use super::{sanitize, store, LakeLocation, ObjectKind, STAGING_DIR};
use crate::sink::config::LakeConfig;
use crate::sink::SinkError;

/// What is wrong, one thing at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `modified`, `missing`, `unlisted`, `broken_chain`, `head_mismatch`, `unreadable` or
    /// `no_ledger`.
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
}

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
    let lake = match config.location() {
        LakeLocation::Directory(root) => Reader::Local(root),
        LakeLocation::Store { .. } => Reader::Store(Box::new(store::Store::build(config)?)),
    };
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
    let mut chains: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in lake
        .list(&format!("{MANIFEST_DIR}/"))
        .await
        .map_err(&fail)?
    {
        let Some((dir, _)) = key
            .strip_prefix(&format!("{MANIFEST_DIR}/"))
            .and_then(|rest| rest.split_once('/'))
        else {
            continue;
        };
        let Some(chain) = ledger::scope_of_dir(dir) else {
            continue;
        };
        if ledger::source_of_scope(chain) == safe && key.ends_with(".json") {
            chains.entry(chain.to_string()).or_default().push(key);
        }
    }
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
    for (chain, mut keys) in chains {
        keys.sort();
        let mut prev: Option<String> = None;
        for key in keys {
            let bytes = lake.read(&key).await.map_err(&fail)?;
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
            for entry in record.objects {
                listed.insert(entry.key.clone(), entry);
            }
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
    // Every listed object in the range, re-read.
    let mut keys: Vec<&String> = listed.keys().collect();
    keys.sort();
    for key in keys {
        let entry = &listed[key];
        if !entry.overlaps(scope.from, scope.to) {
            continue;
        }
        match lake.digest(key).await.map_err(&fail)? {
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
    // Objects under the source's prefix that no record lists.
    let prefix = config.key_template.static_prefix(&safe);
    for key in lake.list(&prefix).await.map_err(&fail)? {
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

/// Reads a lake, local or in an object store.
enum Reader {
    Local(std::path::PathBuf),
    Store(Box<store::Store>),
}

impl Reader {
    /// Every file or object under `dir` (relative to the root, ending in `/` or empty),
    /// recursively, as keys relative to the root.
    async fn list(&self, dir: &str) -> Result<Vec<String>, String> {
        match self {
            Reader::Local(root) => {
                let mut keys = Vec::new();
                walk(root, &root.join(dir), &mut keys)
                    .map_err(|e| format!("cannot list {}{dir}: {e}", root.display()))?;
                Ok(keys)
            }
            Reader::Store(store) => Ok(store
                .list(dir)
                .await
                .map_err(|e| e.detail)?
                .iter()
                .map(|meta| store.relative(&meta.location).to_string())
                .collect()),
        }
    }

    /// The whole content of a (small) ledger record.
    async fn read(&self, key: &str) -> Result<Vec<u8>, String> {
        match self {
            Reader::Local(root) => std::fs::read(root.join(key))
                .map_err(|e| format!("cannot read {}: {e}", root.join(key).display())),
            Reader::Store(store) => Ok(store.get_rel(key).await.map_err(|e| e.detail)?.to_vec()),
        }
    }

    /// SHA-256 and size of an object, streamed; `None` when it is not there.
    async fn digest(&self, key: &str) -> Result<Option<(String, u64)>, String> {
        match self {
            Reader::Local(root) => digest_file(&root.join(key))
                .map_err(|e| format!("cannot read {}: {e}", root.join(key).display())),
            Reader::Store(store) => store.digest_rel(key).await.map_err(|e| e.detail),
        }
    }
}

/// Every file under `dir`, as keys relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &path, out)?;
        } else {
            let key = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push(key);
        }
    }
    Ok(())
}

/// SHA-256 and size of a file, read in chunks; `None` when it does not exist.
fn digest_file(path: &Path) -> std::io::Result<Option<(String, u64)>> {
    use sha2::Digest;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buffer[..n]);
                size += n as u64;
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(Some((ledger::hex(&hasher.finalize()), size)))
}
