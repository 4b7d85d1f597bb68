//! A chain: the steps of a source (or of a sink) run in order over each event.
//!
//! The raw passthrough holds: an event that no step changes keeps the exact bytes the API
//! sent. An event a step changes is parsed once for the whole chain and written once at its
//! end, as compact JSON with its keys in alphabetical order (serde_json's map) and numbers in
//! their shortest form.

use serde_json::Value;

use super::config::StepConfig;
use super::envelope::{Envelope, OcsfForm};
use super::step::{OcsfInto, Step, Verdict};
use crate::source::RawJson;

/// The compiled steps of one chain, with their names.
pub struct Chain {
    steps: Vec<(String, Box<dyn Step>)>,
}

/// What a chain did to one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// No step changed it: the original bytes go on.
    Unchanged,
    /// Changed: the new `data`.
    Changed(RawJson),
    /// Step number `.0` (0-based) dropped it.
    Dropped(usize),
    /// Step number `.0` failed on it, for the reason `.1`.
    Failed(usize, String),
}

/// What a chain did to one envelope ([`Chain::apply_envelope`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Kept, changed or not (a change is in the envelope).
    Kept,
    /// Step number `.0` (0-based) dropped it.
    Dropped(usize),
    /// Step number `.0` failed on it, for the reason `.1`; the envelope is as it was.
    Failed(usize, String),
}

/// A chain that cannot be built: which step, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainProblem {
    /// The step's position in the chain (0-based, as in `transforms[0]`).
    pub step: usize,
    /// The step's key that is wrong.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl Chain {
    /// Builds the chain `configs` describe. Steps without a name are called
    /// `<kind>#<position>` (1-based); `scope` goes before every name (a sink's chain names
    /// its steps `<sink>/<name>`, so they are told from the source's in counts and metrics).
    pub fn build(configs: &[StepConfig], scope: Option<&str>) -> Result<Chain, ChainProblem> {
        let mut steps: Vec<(String, Box<dyn Step>)> = Vec::with_capacity(configs.len());
        for (i, config) in configs.iter().enumerate() {
            let problem = |field: &str, message: String, hint: String| ChainProblem {
                step: i,
                field: field.to_string(),
                message,
                hint,
            };
            let own =
                match config.name() {
                    Some(name) if name.trim().is_empty() => return Err(problem(
                        "name",
                        "is empty".into(),
                        "give the step a name, or leave `name` out for the default (kind#position)"
                            .into(),
                    )),
                    Some(name) => name.to_string(),
                    None => format!("{}#{}", config.kind(), i + 1),
                };
            let name = match scope {
                Some(scope) => format!("{scope}/{own}"),
                None => own,
            };
            if steps.iter().any(|(other, _)| *other == name) {
                return Err(problem(
                    "name",
                    format!("`{name}` names two steps of this chain"),
                    "give each step its own name: counts, metrics and dead letters tell steps apart by it".into(),
                ));
            }
            let step = config
                .build()
                .map_err(|p| problem(&p.path, p.message, p.hint))?;
            steps.push((name, step));
        }
        Ok(Chain { steps })
    }

    /// A chain without steps.
    pub fn empty() -> Chain {
        Chain { steps: Vec::new() }
    }

    /// Whether the chain has no step (then it is never run).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The name of step `index`.
    pub fn step_name(&self, index: usize) -> &str {
        &self.steps[index].0
    }

    /// The steps' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().map(|(name, _)| name.as_str())
    }

    /// Runs every step over one envelope, stopping at the first that drops or fails it.
    ///
    /// Steps work on `data` until an `ocsf` step with `into = "member"` maps it: from then on
    /// they work on the envelope's `ocsf` member, and `data` keeps the vendor record as it
    /// was at that point (its exact bytes, if no earlier step changed it). An envelope that
    /// reaches the chain with a member already (a sink's chain after its source's) is worked
    /// on through its member. On a failure the envelope is left as it was.
    pub fn apply_envelope(&self, envelope: &mut Envelope) -> Applied {
        if self.steps.is_empty() {
            return Applied::Kept;
        }
        let mut on_member = matches!(envelope.ocsf, OcsfForm::Member(_));
        let start = match &envelope.ocsf {
            OcsfForm::Member(ocsf) => ocsf,
            OcsfForm::Absent | OcsfForm::InData => &envelope.data,
        };
        let mut event = match parse_object(start) {
            Ok(event) => event,
            Err(reason) => return Applied::Failed(0, reason),
        };
        let mut changed = false;
        let mut in_data = false;
        // A step after the mapping changed the OCSF event: its observables are listed again.
        let mut ocsf_changed = false;
        let came_in_data = envelope.ocsf == OcsfForm::InData;
        // The vendor record as it stood when an `into = "member"` step forked the event, if
        // earlier steps had changed it.
        let mut forked_data = None;
        for (index, (_, step)) in self.steps.iter().enumerate() {
            let into = step.ocsf_into().filter(|_| !on_member);
            if into == Some(OcsfInto::Member) && changed {
                forked_data = Some(RawJson::from_value(&event));
            }
            let was_ocsf = on_member || in_data || came_in_data;
            match step.apply(&mut event) {
                Verdict::Keep => {}
                Verdict::Changed => {
                    changed = true;
                    ocsf_changed |= was_ocsf && step.ocsf_into().is_none();
                    match into {
                        Some(OcsfInto::Member) => on_member = true,
                        Some(OcsfInto::Data) => in_data = true,
                        None => {}
                    }
                }
                Verdict::Drop => return Applied::Dropped(index),
                Verdict::Fail(reason) => return Applied::Failed(index, reason),
            }
        }
        if !changed {
            return Applied::Kept;
        }
        if ocsf_changed {
            super::ocsf::refresh_observables(&mut event);
        }
        let written = RawJson::from_value(&event);
        if on_member {
            if let Some(data) = forked_data {
                envelope.data = data;
            }
            envelope.ocsf = OcsfForm::Member(written);
        } else {
            envelope.data = written;
            if in_data {
                envelope.ocsf = OcsfForm::InData;
            }
        }
        Applied::Kept
    }

    /// Runs every step over `data`, stopping at the first that drops or fails the event.
    pub fn apply(&self, data: &RawJson) -> Outcome {
        if self.steps.is_empty() {
            return Outcome::Unchanged;
        }
        let mut event = match parse_object(data) {
            Ok(event) => event,
            Err(reason) => return Outcome::Failed(0, reason),
        };
        let mut changed = false;
        for (index, (_, step)) in self.steps.iter().enumerate() {
            match step.apply(&mut event) {
                Verdict::Keep => {}
                Verdict::Changed => changed = true,
                Verdict::Drop => return Outcome::Dropped(index),
                Verdict::Fail(reason) => return Outcome::Failed(index, reason),
            }
        }
        if changed {
            Outcome::Changed(RawJson::from_value(&event))
        } else {
            Outcome::Unchanged
        }
    }
}

/// The event as a tree, or why steps cannot work on it.
fn parse_object(data: &RawJson) -> Result<Value, String> {
    match data.to_value() {
        Ok(event @ Value::Object(_)) => Ok(event),
        Ok(other) => Err(format!(
            "the record is {}, not a JSON object: steps work on fields",
            super::field::kind_of(&other)
        )),
        // Only a value nested past serde_json's limit gets here.
        Err(error) => Err(format!("the record cannot be read: {error}")),
    }
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(text: &str, scope: Option<&str>) -> Result<Chain, ChainProblem> {
        #[derive(serde::Deserialize)]
        struct Table {
            transforms: Vec<StepConfig>,
        }
        let table: Table = toml::from_str(text).unwrap();
        Chain::build(&table.transforms, scope)
    }

    const CHAIN: &str = r#"
[[transforms]]
kind = "filter"
action = "drop"
field = "level"
equals = "debug"

[[transforms]]
kind = "rename"
from = "ip"
to = "client.ip"

[[transforms]]
name = "when"
kind = "parse_time"
field = "t"
format = "epoch_millis"
"#;

    #[test]
    fn steps_are_named_by_kind_and_position_unless_named() {
        let names: Vec<String> = chain(CHAIN, None)
            .unwrap()
            .names()
            .map(String::from)
            .collect();
        assert_eq!(names, ["filter#1", "rename#2", "when"]);
        let scoped = chain(CHAIN, Some("siem")).unwrap();
        assert_eq!(scoped.step_name(2), "siem/when");
    }

    #[test]
    fn an_event_no_step_changes_keeps_its_exact_bytes() {
        let data = RawJson::parse(r#"{"z":1.50,"level":"info","a":"\u00e9"}"#).unwrap();
        assert_eq!(chain(CHAIN, None).unwrap().apply(&data), Outcome::Unchanged);
    }

    #[test]
    fn a_changed_event_is_written_once_after_every_step() {
        let data = RawJson::parse(r#"{"t":1700000000000,"ip":"10.0.0.1","level":"info"}"#).unwrap();
        let Outcome::Changed(out) = chain(CHAIN, None).unwrap().apply(&data) else {
            panic!("expected a change");
        };
        assert_eq!(
            out.as_str(),
            r#"{"client":{"ip":"10.0.0.1"},"level":"info","t":"2023-11-14T22:13:20.000Z"}"#
        );
    }

    #[test]
    fn the_first_step_that_drops_or_fails_decides() {
        let chain = chain(CHAIN, None).unwrap();
        let debug = RawJson::parse(r#"{"level":"debug","t":"not a time"}"#).unwrap();
        assert_eq!(chain.apply(&debug), Outcome::Dropped(0));
        let bad = RawJson::parse(r#"{"level":"info","t":"not a time"}"#).unwrap();
        assert!(matches!(chain.apply(&bad), Outcome::Failed(2, reason) if reason.contains("`t`")));
    }

    #[test]
    fn a_record_that_is_not_an_object_fails_at_the_first_step() {
        let chain = chain(CHAIN, None).unwrap();
        let array = RawJson::parse("[1,2]").unwrap();
        assert!(
            matches!(chain.apply(&array), Outcome::Failed(0, reason) if reason.contains("an array"))
        );
        // Without steps nothing is looked at.
        assert_eq!(Chain::empty().apply(&array), Outcome::Unchanged);
    }

    #[test]
    fn names_must_be_unique_and_not_empty() {
        let twice = "[[transforms]]\nname = \"x\"\nkind = \"remove\"\nfields = [\"a\"]\n[[transforms]]\nname = \"x\"\nkind = \"remove\"\nfields = [\"b\"]\n";
        let problem = chain(twice, None).unwrap_err();
        assert_eq!((problem.step, problem.field.as_str()), (1, "name"));
        let empty = "[[transforms]]\nname = \" \"\nkind = \"remove\"\nfields = [\"a\"]\n";
        assert_eq!(chain(empty, None).unwrap_err().field, "name");
    }

    #[test]
    fn a_step_problem_carries_its_position() {
        let bad = "[[transforms]]\nkind = \"remove\"\nfields = [\"a\"]\n[[transforms]]\nkind = \"filter\"\naction = \"drop\"\nfield = \"a\"\nmatches = \"(\"\n";
        let problem = chain(bad, None).unwrap_err();
        assert_eq!((problem.step, problem.field.as_str()), (1, "matches"));
    }

    fn okta_envelope(data: &str) -> Envelope {
        use chrono::TimeZone;
        let record = crate::source::Record {
            time: chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            id: "e1".into(),
            data: RawJson::parse(data).unwrap(),
        };
        let epoch = chrono::Utc.timestamp_opt(0, 0).unwrap();
        Envelope::wrap(record, &std::sync::Arc::from("okta"), epoch)
    }

    fn okta_event() -> String {
        let config = crate::simulator::SimulatorConfig::okta(10);
        serde_json::to_string(&crate::simulator::event(&config, 3)).unwrap()
    }

    const MEMBER: &str = r#"
[[transforms]]
kind = "ocsf"
mapping = "okta"
into = "member"

[[transforms]]
kind = "set"
field = "metadata.tenant_uid"
value = "t1"
"#;

    /// `into = "member"` keeps the vendor record's exact bytes in `data`, adds the OCSF
    /// event beside it, and later steps change the member, not the record.
    #[test]
    fn a_member_ocsf_step_forks_the_event_and_later_steps_work_on_the_member() {
        let chain = chain(MEMBER, None).unwrap();
        let raw = okta_event();
        let mut envelope = okta_envelope(&raw);
        assert_eq!(chain.apply_envelope(&mut envelope), Applied::Kept);
        assert_eq!(
            envelope.data.as_str(),
            RawJson::parse(&raw).unwrap().as_str()
        );
        let OcsfForm::Member(ocsf) = &envelope.ocsf else {
            panic!("no member: {:?}", envelope.ocsf)
        };
        let ocsf = ocsf.to_value().unwrap();
        assert_eq!(ocsf["metadata"]["version"], "1.7.0");
        assert_eq!(ocsf["metadata"]["tenant_uid"], "t1");
        assert!(envelope.data.to_value().unwrap().get("metadata").is_none());
        // A second chain (a sink's) works on the member too.
        let more = "[[transforms]]\nkind = \"remove\"\nfields = [\"metadata.tenant_uid\"]\n";
        assert_eq!(
            self::chain(more, None)
                .unwrap()
                .apply_envelope(&mut envelope),
            Applied::Kept
        );
        let ocsf = envelope.ocsf().unwrap().to_value().unwrap();
        assert!(ocsf["metadata"].get("tenant_uid").is_none());
    }

    /// Steps before the fork change the vendor record the envelope keeps; the default
    /// `into = "data"` replaces the record and says so.
    #[test]
    fn steps_before_the_fork_change_data_and_into_data_replaces_it() {
        let before =
            format!("[[transforms]]\nkind = \"set\"\nfield = \"marker\"\nvalue = 1\n{MEMBER}");
        let mut envelope = okta_envelope(&okta_event());
        assert_eq!(
            chain(&before, None).unwrap().apply_envelope(&mut envelope),
            Applied::Kept
        );
        assert_eq!(envelope.data.to_value().unwrap()["marker"], 1);
        assert!(matches!(envelope.ocsf, OcsfForm::Member(_)));

        let replace = "[[transforms]]\nkind = \"ocsf\"\nmapping = \"okta\"\n";
        let mut envelope = okta_envelope(&okta_event());
        assert_eq!(
            chain(replace, None).unwrap().apply_envelope(&mut envelope),
            Applied::Kept
        );
        assert_eq!(envelope.ocsf, OcsfForm::InData);
        assert_eq!(
            envelope.data.to_value().unwrap()["metadata"]["version"],
            "1.7.0"
        );
    }

    /// A step after the mapping that pseudonymizes an attribute (here in a second chain, a
    /// sink's) leaves no raw value behind in `observables`.
    #[test]
    fn observables_follow_what_later_steps_did_to_the_ocsf_event() {
        let mut envelope = okta_envelope(&okta_event());
        assert_eq!(
            chain(MEMBER, None).unwrap().apply_envelope(&mut envelope),
            Applied::Kept
        );
        let email = |envelope: &Envelope| {
            let ocsf = envelope.ocsf().unwrap().to_value().unwrap();
            let observed = ocsf["observables"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["name"] == "actor.user.email_addr")
                .map(|o| o["value"].clone());
            (ocsf["actor"]["user"]["email_addr"].clone(), observed)
        };
        let (raw, observed) = email(&envelope);
        assert!(raw.as_str().unwrap().contains('@'));
        assert_eq!(observed, Some(raw.clone()));
        let hash = "[[transforms]]\nkind = \"hash\"\nfields = [\"actor.user.email_addr\", \"actor.user.name\"]\nkey = \"a-chain-test-key-of-32-bytes-ok!!\"\n";
        assert_eq!(
            chain(hash, None).unwrap().apply_envelope(&mut envelope),
            Applied::Kept
        );
        let (hashed, observed) = email(&envelope);
        assert_ne!(hashed, raw);
        assert_eq!(observed, Some(hashed), "the observable is the hashed value");
    }

    #[test]
    fn a_failed_envelope_is_left_as_it_was() {
        let chain = chain(MEMBER, None).unwrap();
        let mut envelope = okta_envelope(r#"{"uuid":"x"}"#);
        let before = envelope.clone();
        assert!(matches!(
            chain.apply_envelope(&mut envelope),
            Applied::Failed(0, _)
        ));
        assert_eq!(envelope.data, before.data);
        assert_eq!(envelope.ocsf, OcsfForm::Absent);
    }
}
