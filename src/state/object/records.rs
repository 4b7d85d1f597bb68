//! The objects' JSON documents, and reading them strictly: a document from a newer format is
//! refused with its key and version, one that does not parse is reported as corrupt; neither
//! is ever overwritten.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::state::{Checkpoint, Intent, RunRecord, StateError};

/// The format this build writes and the newest it reads. Bump it (and keep reading the older
/// ones) when a document changes incompatibly.
pub(super) const FORMAT: u64 = 1;

/// `sluice-state.json`: marks the prefix as a sluice state store, with its format and id.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Marker {
    pub format: u64,
    pub created_at: DateTime<Utc>,
    /// The store id (see `StateStore::store_id`); absent in stores made before ids, which
    /// get one the next time they are opened to write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// `checkpoints/<key>.json`: a key's checkpoint, its commit in flight and the fencing token
/// of the lease holder allowed to write it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct CheckpointDoc {
    pub format: u64,
    /// The state key (source name or backfill window).
    pub key: String,
    /// The token of the lease holder that may write; 0 before any lease was taken.
    pub fence: u64,
    /// `None` until the first commit (the document may exist earlier, to hold the fence).
    #[serde(default)]
    pub checkpoint: Option<Checkpoint>,
    /// A prepared commit not yet finished.
    #[serde(default)]
    pub intent: Option<Intent>,
    pub updated_at: DateTime<Utc>,
}

impl CheckpointDoc {
    /// A document of `key` with nothing committed yet.
    pub fn empty(key: &str) -> Self {
        CheckpointDoc {
            format: FORMAT,
            key: key.to_string(),
            fence: 0,
            checkpoint: None,
            intent: None,
            updated_at: Utc::now(),
        }
    }

    /// The committed seq (0 before the first commit).
    pub fn seq(&self) -> u64 {
        self.checkpoint.as_ref().map_or(0, |c| c.seq)
    }

    /// Whether the key has state the other stores would show: a commit or one in flight.
    pub fn has_state(&self) -> bool {
        self.checkpoint.is_some() || self.intent.is_some()
    }
}

/// `leases/<key>.json`: who may work a key, until when, with which fencing token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct LeaseDoc {
    pub format: u64,
    pub holder: String,
    pub token: u64,
    pub expires_at: DateTime<Utc>,
}

/// `runs/<key>.json`: the latest runs, oldest first, at most [`super::RUNS_KEPT`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct RunsDoc {
    pub format: u64,
    pub runs: Vec<RunRecord>,
}

/// `incidents.json`: the open alert incidents of every source.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct IncidentsDoc {
    pub format: u64,
    pub incidents: Vec<super::super::Incident>,
}

/// Serializes a document. These plain records always serialize (no maps with non-string
/// keys, no failing custom serializers); an error is still reported, not a panic.
pub(super) fn encode<T: Serialize>(key: &str, value: &T) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec_pretty(value).map_err(|e| StateError::Corrupt {
        source_name: key.to_string(),
        detail: format!("cannot serialize a state record: {e}"),
    })
}

/// Reads the document of `key` stored at `url`: its format first (refusing a newer one),
/// then its fields.
pub(super) fn decode<T: DeserializeOwned>(
    key: &str,
    url: &str,
    bytes: &[u8],
) -> Result<T, StateError> {
    let corrupt = |detail: String| StateError::Corrupt {
        source_name: key.to_string(),
        detail: format!("object {url} {detail}"),
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| corrupt(format!("is not JSON: {e}")))?;
    let format = value
        .get("format")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| corrupt("has no format version".into()))?;
    if format > FORMAT {
        return Err(StateError::TooNew {
            location: url.to_string(),
            found: i64::try_from(format).unwrap_or(i64::MAX),
            supported: FORMAT as i64,
        });
    }
    serde_json::from_value(value).map_err(|e| corrupt(format!("does not parse: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_and_corrupt_documents_are_refused_with_their_key() {
        let url = "s3://b/state/checkpoints/okta.json";
        let newer = br#"{"format": 7, "something": "else"}"#;
        let err = decode::<CheckpointDoc>("okta", url, newer).unwrap_err();
        assert!(
            matches!(&err, StateError::TooNew { location, found: 7, supported: 1 } if location == url),
            "{err}"
        );
        for bad in [&b"{\"format\": 1, trailing"[..], b"{\"seq\": 1}", b"[]"] {
            let err = decode::<CheckpointDoc>("okta", url, bad).unwrap_err();
            assert!(
                matches!(&err, StateError::Corrupt { source_name, detail } if source_name == "okta" && detail.contains(url)),
                "{err}"
            );
        }
        let doc = CheckpointDoc::empty("okta");
        let back: CheckpointDoc = decode("okta", url, &encode("okta", &doc).unwrap()).unwrap();
        assert_eq!(back.key, "okta");
        assert!(!back.has_state());
    }
}
