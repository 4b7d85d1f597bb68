//! What a source's checkpoint keeps of its active canary: when the request last caused the
//! event, when a matching event was last delivered, and a failed request. Moved only by the
//! source's own runs, under its lease, like the rest of the checkpoint.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The active canary's record in a source's checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CanaryState {
    /// When the canary request last succeeded (the vendor then logs the event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered: Option<DateTime<Utc>>,
    /// The event time of the newest delivered event that matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<DateTime<Utc>>,
    /// The last request, when it failed (cleared by a request that succeeds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<CanaryFailure>,
    /// The request (its `triggered` time) already counted as missed, so a miss is counted
    /// and logged once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<DateTime<Utc>>,
}

impl CanaryState {
    /// Whether nothing is recorded (a source without a canary).
    pub fn is_empty(&self) -> bool {
        *self == CanaryState::default()
    }
}

/// A canary request that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryFailure {
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// Why it failed: the URL (without credentials) and the answer or transport error.
    pub error: String,
}
