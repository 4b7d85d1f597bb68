//! `transforms`: the transform chains of sources and sinks, read in a pass of their own.
//!
//! A chain's steps are settings of the transform stage. The `[[sources]]` table that holds a
//! source's chain belongs to a layer below the stage and cannot name its types, so source
//! (and sink) tables take the key as [`crate::model::Deferred`], and this pass reads every
//! `transforms` key of the same document (after presets are expanded, so a source made from
//! a preset carries its chain like any other) into [`StepConfig`]s, keyed by their owner's
//! name. Reading the text itself, not a copy, keeps toml's positions for errors.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Config, SourceConfig};
use crate::model::Problem;
use crate::sink::Payload;
use crate::transform::{Chain, OcsfInto, StepConfig};

/// Every chain of the config.
#[derive(Debug, Clone, Default)]
pub struct Transforms {
    /// Each source's chain, by source name (sources without one are absent).
    pub sources: BTreeMap<String, Vec<StepConfig>>,
    /// Each sink's chain, by sink name: run after the source's, on that sink's copy only.
    pub sinks: BTreeMap<String, Vec<StepConfig>>,
}

/// The document seen through its `transforms` keys only (every other key is passed over).
#[derive(Deserialize)]
pub(super) struct Document {
    #[serde(default)]
    sources: Vec<Owner>,
    #[serde(default)]
    sinks: Vec<Owner>,
}

#[derive(Deserialize)]
struct Owner {
    #[serde(default)]
    transforms: Vec<StepConfig>,
}

impl Transforms {
    /// Takes every step's files relative to `base` (the config file's folder).
    pub(super) fn make_paths_relative_to(&mut self, base: &std::path::Path) {
        for step in self
            .sources
            .values_mut()
            .chain(self.sinks.values_mut())
            .flatten()
        {
            step.make_paths_relative_to(base);
        }
    }
}

impl Document {
    /// The chains, keyed by the names of the sources and sinks `config` read from the same
    /// document (in the same order).
    pub(super) fn keyed(self, config: &Config) -> Transforms {
        let by_name = |owners: Vec<Owner>, names: Vec<&str>| {
            owners
                .into_iter()
                .zip(names)
                .filter(|(owner, _)| !owner.transforms.is_empty())
                .map(|(owner, name)| (name.to_string(), owner.transforms))
                .collect()
        };
        Transforms {
            sources: by_name(
                self.sources,
                config.sources.iter().map(|s| s.name.as_str()).collect(),
            ),
            sinks: by_name(self.sinks, config.sinks.iter().map(|s| s.name()).collect()),
        }
    }
}

/// Every chain builds: paths parse, regular expressions compile, hash keys are long enough,
/// step names are unique. Skipped when secrets are not resolved (`sluice status`), as the
/// chains are not run then.
pub(super) fn validate(config: &Config, resolved: bool) -> Result<(), Problem> {
    check_payloads(config)?;
    if !resolved {
        return Ok(());
    }
    for (i, source) in config.sources.iter().enumerate() {
        check(&format!("sources[{i}]"), config.transforms_of(source), None)?;
    }
    for (i, sink) in config.sinks.iter().enumerate() {
        let steps = config.sink_transforms(sink.name());
        check(&format!("sinks[{i}]"), steps, Some(sink.name()))?;
    }
    Ok(())
}

/// Where the OCSF form of `source`'s events is when they reach `sink`: after the source's
/// chain and the sink's, `None` when no `ocsf` step runs. More than one `ocsf` step on that
/// way is an error naming the sink (the second would map an OCSF event).
pub fn ocsf_for(
    config: &Config,
    source: &SourceConfig,
    sink: &str,
) -> Result<Option<OcsfInto>, String> {
    let steps = config
        .transforms_of(source)
        .iter()
        .chain(config.sink_transforms(sink));
    let mut found: Vec<OcsfInto> = steps.filter_map(StepConfig::ocsf_into).collect();
    match found.len() {
        0 | 1 => Ok(found.pop()),
        n => Err(format!(
            "the events of source `{}` pass {n} `ocsf` steps on their way to sink `{sink}` (the source's chain and the sink's): map them once",
            source.name
        )),
    }
}

/// Each sink's `payload` can be made from what its chains produce: `ocsf` needs an `ocsf`
/// step on the way from every source that writes to it, `raw` needs the vendor record kept
/// (no `ocsf` step with `into = "data"`).
fn check_payloads(config: &Config) -> Result<(), Problem> {
    for (i, sink) in config.sinks.iter().enumerate() {
        let payload = sink.payload();
        let key = format!("sinks[{i}].payload");
        for source in config
            .sources
            .iter()
            .filter(|s| s.sinks.iter().any(|n| n == sink.name()))
        {
            let into = ocsf_for(config, source, sink.name()).map_err(|message| {
                Problem::new(format!("sinks[{i}].transforms"), message, "keep one `ocsf` step: on the source for every sink, or on each sink that wants OCSF")
            })?;
            match (payload, into) {
                (Payload::Ocsf, None) => return Err(Problem::new(
                    key,
                    format!("is \"ocsf\", but the events of source `{}` pass no `ocsf` step on their way to sink `{}`", source.name, sink.name()),
                    format!("add {{ kind = \"ocsf\", mapping = \"<preset>\" }} to the transforms of source `{}` or of sink `{}`", source.name, sink.name()),
                )),
                (Payload::Raw, Some(OcsfInto::Data)) => return Err(Problem::new(
                    key,
                    format!("is \"raw\", but an `ocsf` step replaces the vendor record of source `{}` on its way to sink `{}`", source.name, sink.name()),
                    "give that step into = \"member\", which keeps the vendor record in `data`",
                )),
                _ => {}
            }
        }
    }
    Ok(())
}

fn check(owner: &str, steps: &[StepConfig], scope: Option<&str>) -> Result<(), Problem> {
    Chain::build(steps, scope).map(|_| ()).map_err(|p| {
        Problem::new(
            format!("{owner}.transforms[{}].{}", p.step, p.field),
            p.message,
            p.hint,
        )
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{load_str, ConfigError};

    const SOURCE: &str = r#"
[[sources]]
name = "okta"
base_url = "https://acme.okta.com"
path = "/api/v1/logs"
sinks = ["lake", "siem"]
query = { since = "{start}" }
pagination = { kind = "link_header" }
event_time = { path = "published" }
"#;

    const SINKS: &str = r#"
[[sinks]]
name = "lake"
kind = "lake"
path = "lake"

[[sinks]]
name = "siem"
kind = "stdout"
"#;

    fn load(text: &str) -> Result<crate::config::Config, ConfigError> {
        load_str(text, Path::new("sluice.toml"))
    }

    /// The 1-based line of the first line of `text` that starts with `start`.
    fn line_of(text: &str, start: &str) -> usize {
        text.lines()
            .position(|l| l.trim_start().starts_with(start))
            .unwrap()
            + 1
    }

    #[test]
    fn chains_of_sources_and_sinks_are_read_by_their_owners_names() {
        let text = format!(
            "{SOURCE}\n[[sources.transforms]]\nkind = \"remove\"\nfields = [\"debugContext\"]\n{SINKS}\n[[sinks.transforms]]\nkind = \"redact\"\nfields = [\"client.ipAddress\"]\n"
        );
        let config = load(&text).unwrap();
        let steps = config.transforms_of(&config.sources[0]);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].kind(), "remove");
        assert!(config.sink_transforms("lake").is_empty());
        assert_eq!(config.sink_transforms("siem")[0].kind(), "redact");
    }

    #[test]
    fn a_source_made_from_a_preset_carries_its_chain() {
        let text = format!(
            "[[sources]]\nname = \"okta\"\nconnector = \"okta\"\ndomain = \"acme.okta.com\"\ntoken = \"t\"\nsinks = [\"lake\"]\n\n[[sources.transforms]]\nkind = \"filter\"\naction = \"drop\"\nfield = \"eventType\"\nequals = \"user.session.start\"\n{SINKS}"
        );
        let config = load(&text).unwrap();
        assert_eq!(config.transforms_of(&config.sources[0])[0].kind(), "filter");

        // Every stream's source of a preset with several runs the chain.
        let streams = format!(
            "[[sources]]\nname = \"ts\"\nconnector = \"tailscale\"\ntoken = \"t\"\nstreams = [\"configuration\", \"network\"]\nsinks = [\"lake\"]\n\n[[sources.transforms]]\nkind = \"remove\"\nfields = [\"a\"]\n{SINKS}"
        );
        let config = load(&streams).unwrap();
        assert_eq!(config.sources.len(), 2);
        for source in &config.sources {
            assert_eq!(config.transforms_of(source).len(), 1, "{}", source.name);
        }
    }

    #[test]
    fn a_step_that_cannot_work_is_located_at_its_key() {
        let text = format!(
            "{SOURCE}\n[[sources.transforms]]\nkind = \"remove\"\nfields = [\"a\"]\n\n[[sources.transforms]]\nkind = \"filter\"\naction = \"drop\"\nfield = \"a\"\nmatches = '^(admin'\n{SINKS}"
        );
        let e = load(&text).unwrap_err();
        assert_eq!(
            e.key.as_deref(),
            Some("sources[0].transforms[1].matches"),
            "{e}"
        );
        assert_eq!(
            e.position.map(|p| p.0),
            Some(line_of(&text, "matches")),
            "{e}"
        );
        assert!(e.message.contains("unclosed group"), "{e}");
        assert!(e.hint.is_some(), "{e}");
    }

    #[test]
    fn a_bad_path_in_a_sinks_chain_is_located_at_its_element() {
        let text = format!(
            "{SOURCE}{SINKS}\n[[sinks.transforms]]\nkind = \"redact\"\nfields = [\"ok\",\n  \"a..b\"]\n"
        );
        let e = load(&text).unwrap_err();
        assert_eq!(
            e.key.as_deref(),
            Some("sinks[1].transforms[0].fields[1]"),
            "{e}"
        );
        assert_eq!(
            e.position.map(|p| p.0),
            Some(line_of(&text, "\"a..b\"")),
            "{e}"
        );
        assert!(e.message.contains("segment 2 is empty"), "{e}");
    }

    #[test]
    fn unknown_kinds_keys_and_missing_keys_name_the_step() {
        let unknown_kind = format!("{SOURCE}\n[[sources.transforms]]\nkind = \"renam\"\n{SINKS}");
        let e = load(&unknown_kind).unwrap_err();
        assert!(e.message.contains("unknown variant `renam`"), "{e}");
        assert!(
            e.key
                .as_deref()
                .unwrap()
                .starts_with("sources[0].transforms[0]"),
            "{e}"
        );
        assert_eq!(
            e.position.map(|p| p.0),
            Some(line_of(&unknown_kind, "kind = \"renam\"")),
            "{e}"
        );

        let unknown_key = format!(
            "{SOURCE}\n[[sources.transforms]]\nkind = \"remove\"\nfields = [\"a\"]\nfeilds = 1\n{SINKS}"
        );
        let e = load(&unknown_key).unwrap_err();
        assert_eq!(
            e.key.as_deref(),
            Some("sources[0].transforms[0].feilds"),
            "{e}"
        );
        assert_eq!(
            e.position.map(|p| p.0),
            Some(line_of(&unknown_key, "feilds")),
            "{e}"
        );

        let no_key = format!(
            "{SOURCE}\n[[sources.transforms]]\nkind = \"hash\"\nfields = [\"email\"]\n{SINKS}"
        );
        let e = load(&no_key).unwrap_err();
        assert!(e.message.contains("missing field `key`"), "{e}");
        assert_eq!(e.key.as_deref(), Some("sources[0].transforms[0]"), "{e}");
        assert_eq!(
            e.position.map(|p| p.0),
            Some(line_of(&no_key, "[[sources.transforms]]")),
            "{e}"
        );
    }

    #[test]
    fn a_hash_key_comes_from_a_secret_reference_and_is_checked() {
        let chain = "\n[[sources.transforms]]\nkind = \"hash\"\nfields = [\"email\"]\nkey = \"${env:SLUICE_TEST_TRANSFORM_KEY}\"\n";
        let text = format!("{SOURCE}{chain}{SINKS}");
        std::env::set_var("SLUICE_TEST_TRANSFORM_KEY", "short");
        let e = load(&text).unwrap_err();
        assert_eq!(
            e.key.as_deref(),
            Some("sources[0].transforms[0].key"),
            "{e}"
        );
        assert!(e.message.contains("at least 16"), "{e}");
        assert!(
            !e.to_string().contains("short"),
            "the key is never shown: {e}"
        );
        std::env::remove_var("SLUICE_TEST_TRANSFORM_KEY");
        let e = load(&text).unwrap_err();
        assert!(e.message.contains("SLUICE_TEST_TRANSFORM_KEY"), "{e}");
        assert_eq!(
            e.position.map(|p| p.0),
            Some(line_of(&text, "key = ")),
            "{e}"
        );
    }

    #[test]
    fn step_names_are_unique_per_chain() {
        let step = "\n[[sources.transforms]]\nname = \"x\"\nkind = \"remove\"\nfields = [\"a\"]\n";
        let text = format!("{SOURCE}{step}{step}{SINKS}");
        let e = load(&text).unwrap_err();
        assert_eq!(
            e.key.as_deref(),
            Some("sources[0].transforms[1].name"),
            "{e}"
        );
    }

    /// `payload = "ocsf"` needs an `ocsf` step on the way, `raw` needs the vendor record,
    /// and two `ocsf` steps on one way are refused; each error names the sink's key.
    #[test]
    fn payloads_are_checked_against_the_chains() {
        let ocsf_sink = format!("{SOURCE}{SINKS}payload = \"ocsf\"\n");
        let e = load(&ocsf_sink).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("sinks[1].payload"), "{e}");
        assert!(e.message.contains("no `ocsf` step"), "{e}");
        assert!(
            e.hint.as_deref().unwrap().contains("kind = \"ocsf\""),
            "{e}"
        );

        let member =
            "\n[[sinks.transforms]]\nkind = \"ocsf\"\nmapping = \"okta\"\ninto = \"member\"\n";
        let config = load(&format!("{ocsf_sink}{member}")).unwrap();
        assert_eq!(
            config.ocsf_for(&config.sources[0], "siem").unwrap(),
            Some(crate::transform::OcsfInto::Member)
        );
        assert_eq!(config.ocsf_for(&config.sources[0], "lake").unwrap(), None);

        let replace = "\n[[sinks.transforms]]\nkind = \"ocsf\"\nmapping = \"okta\"\n";
        let raw = format!("{SOURCE}{SINKS}payload = \"raw\"\n{replace}");
        let e = load(&raw).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("sinks[1].payload"), "{e}");
        assert!(
            e.hint.as_deref().unwrap().contains("into = \"member\""),
            "{e}"
        );
        assert!(load(&format!("{SOURCE}{SINKS}payload = \"raw\"\n{member}")).is_ok());

        // The source maps, and the stdout sink maps again.
        let twice = format!("{SOURCE}{replace}{SINKS}{replace}").replacen(
            "\n[[sinks.transforms]]",
            "\n[[sources.transforms]]",
            1,
        );
        let e = load(&twice).unwrap_err();
        assert!(e.message.contains("2 `ocsf` steps"), "{e}");
    }

    #[test]
    fn feed_and_database_files_are_read_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("conf/intel")).unwrap();
        std::fs::write(dir.path().join("conf/intel/bad.txt"), "198.51.100.7\n").unwrap();
        let chain = "\n[[sources.transforms]]\nkind = \"intel\"\nfields = [\"ip\"]\nfeeds = [{ path = \"intel/bad.txt\" }]\n";
        let path = dir.path().join("conf/sluice.toml");
        std::fs::write(&path, format!("{SOURCE}{chain}{SINKS}")).unwrap();
        // The working directory is not the config's folder.
        let config = crate::config::load(&path).unwrap();
        let crate::transform::StepConfig::Intel(intel) =
            &config.transforms_of(&config.sources[0])[0]
        else {
            panic!("an intel step");
        };
        assert_eq!(intel.feeds[0].path, dir.path().join("conf/intel/bad.txt"));

        let missing = chain.replace("bad.txt", "gone.txt");
        let text = format!("{SOURCE}{missing}{SINKS}");
        std::fs::write(&path, &text).unwrap();
        let e = crate::config::load(&path).unwrap_err();
        assert_eq!(
            e.key.as_deref(),
            Some("sources[0].transforms[0].feeds[0].path"),
            "{e}"
        );
        assert_eq!(
            e.position.map(|p| p.0),
            Some(line_of(&text, "feeds = ")),
            "{e}"
        );
        assert!(e.message.contains("gone.txt"), "{e}");
    }
}
