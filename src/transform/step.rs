//! What every step kind implements, and how a step's settings are checked.

use serde_json::Value;

use super::field::FieldPath;

/// One compiled step of a chain: it looks at one event's `data` (always a JSON object) and
/// keeps it, changes it in place, drops it, or fails on it.
///
/// A step runs synchronously, once per event, on the page being staged: it must not block
/// (no I/O; what it needs is loaded when the chain is built) and must not panic on any input.
pub trait Step: Send + Sync {
    /// What the step does to `event`. On [`Verdict::Fail`] the event may be left half
    /// changed: the chain sets it aside as it was before the chain ran.
    fn apply(&self, event: &mut Value) -> Verdict;

    /// Where the step puts the event's OCSF form, for the one kind that makes it (`ocsf`):
    /// the chain then knows whether `data` became OCSF or the OCSF form is a member of its
    /// own beside the vendor record. `None` for every other step.
    fn ocsf_into(&self) -> Option<OcsfInto> {
        None
    }
}

/// Where an `ocsf` step puts the OCSF event (its `into` key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OcsfInto {
    /// Replaces the event: `data` becomes the OCSF event (the vendor record is gone, save
    /// what the mapping keeps in `unmapped` or `raw_data`).
    #[default]
    Data,
    /// Keeps the vendor record in `data` and adds the OCSF event as the envelope's `ocsf`
    /// member; the chain's later steps work on that member.
    Member,
}

/// What a step did to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Left as it was.
    Keep,
    /// Changed in place: the chain writes the event anew.
    Changed,
    /// Dropped: counted, not delivered, and the checkpoint moves past it.
    Drop,
    /// The step cannot process the event: it goes to the dead-letter queue with this reason
    /// (which names the field and never quotes its value, which may be personal data).
    Fail(String),
}

/// A step's settings that cannot work, found when the chain is built (at config load): the
/// one [`crate::model::Problem`] every component's check gives, its `path` the step's key
/// that is wrong (`from`, `matches`, `fields[1]`, ...).
pub use crate::model::Problem;

/// Parses the path written at the step's key `key`.
pub(crate) fn field_path(key: &str, text: &str) -> Result<FieldPath, Problem> {
    FieldPath::parse(text).map_err(|error| {
        let error = error.to_string();
        let (message, hint) = error
            .split_once(" (hint: ")
            .map_or((error.as_str(), "name a field, e.g. actor.id"), |(m, h)| {
                (m, h.trim_end_matches(')'))
            });
        Problem::new(key, message, hint)
    })
}

/// Parses the non-empty list of paths written at the step's key `key`.
pub(crate) fn field_paths(key: &str, texts: &[String]) -> Result<Vec<FieldPath>, Problem> {
    if texts.is_empty() {
        return Err(Problem::new(
            key,
            "lists no field",
            format!("name at least one, e.g. {key} = [\"actor.alternateId\"]"),
        ));
    }
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| field_path(&format!("{key}[{i}]"), text))
        .collect()
}
