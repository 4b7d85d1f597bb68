//! `sluice bench --transforms FILE`: the CPU a transform chain costs per event, for
//! docs/benchmarks.md.
//!
//! FILE holds `[[transforms]]` steps as a source's chain writes them (paths relative to
//! FILE). The events are the simulated Okta backlog's, built before the clock starts; with
//! `--ips` their `client.ipAddress` cycles through the given addresses, so a GeoIP or intel
//! step meets the addresses its databases hold. Each prefix of the chain is timed over every
//! event (the first step, the first two, ...), so each step's own cost is the difference. No
//! chain at all costs nothing per event: the page loop does not even parse the event. With
//! `--digest` each prefix is run once more, untimed, and a SHA-256 of what it produced is
//! printed: the same events give the same digest exactly when the chain's output is the same.

use std::path::Path;

use super::{EXIT_CONFIG, EXIT_OK};
use crate::simulator::{self, SimulatorConfig};
use crate::source::RawJson;
use crate::transform::{Chain, Outcome, StepConfig};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainFile {
    transforms: Vec<StepConfig>,
}

/// Runs the measurement; the exit code.
pub fn run(file: &Path, events: u64, ips: &[String], digest: bool) -> u8 {
    let chain = match read(file) {
        Ok(chain) => chain,
        Err(error) => {
            crate::errln!("error: {}: {error}", file.display());
            return EXIT_CONFIG;
        }
    };
    let sim = SimulatorConfig::okta(events);
    let records: Vec<RawJson> = (0..events)
        .map(|i| {
            let mut event = simulator::event(&sim, i);
            if !ips.is_empty() {
                event["client"]["ipAddress"] = ips[i as usize % ips.len()].clone().into();
            }
            RawJson::from_value(&event)
        })
        .collect();
    crate::outln!(
        "{} events, {} build; CPU per event of each prefix of the chain in {}:",
        records.len(),
        if cfg!(debug_assertions) {
            "DEBUG (unoptimised)"
        } else {
            "release"
        },
        file.display()
    );
    crate::outln!(
        "{:<40} {:>12} {:>12} {:>10} {:>8} {:>8}",
        "steps",
        "cpu us/event",
        "wall us/event",
        "changed",
        "dropped",
        "failed"
    );
    for len in 1..=chain.len() {
        let prefix = match Chain::build(&chain[..len], None) {
            Ok(prefix) => prefix,
            Err(problem) => {
                crate::errln!(
                    "error: {}: transforms[{}].{}: {} (hint: {})",
                    file.display(),
                    problem.step,
                    problem.field,
                    problem.message,
                    problem.hint
                );
                return EXIT_CONFIG;
            }
        };
        let (mut changed, mut dropped, mut failed) = (0u64, 0u64, 0u64);
        let cpu_before = super::bench::cpu_seconds();
        let started = std::time::Instant::now();
        for record in &records {
            match prefix.apply(record) {
                Outcome::Unchanged => {}
                Outcome::Changed(_) => changed += 1,
                Outcome::Dropped(_) => dropped += 1,
                Outcome::Failed(..) => failed += 1,
            }
        }
        let wall = started.elapsed().as_secs_f64();
        let cpu = super::bench::cpu_seconds()
            .zip(cpu_before)
            .map(|(after, before)| after - before);
        let per_event = |seconds: f64| seconds * 1e6 / records.len().max(1) as f64;
        let names: Vec<&str> = prefix.names().collect();
        crate::outln!(
            "{:<40} {:>12} {:>12.2} {:>10} {:>8} {:>8}",
            names.join(" + "),
            cpu.map_or("-".to_string(), |c| format!("{:.2}", per_event(c))),
            per_event(wall),
            changed,
            dropped,
            failed
        );
        if digest {
            crate::outln!(
                "{:<40} output sha256 {}",
                "",
                output_digest(&prefix, &records)
            );
        }
    }
    EXIT_OK
}

/// The SHA-256 of what `chain` makes of each record, in order: the bytes of a changed event,
/// or which step dropped or failed it (and why).
fn output_digest(chain: &Chain, records: &[RawJson]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for record in records {
        match chain.apply(record) {
            Outcome::Unchanged => hasher.update(b"unchanged"),
            Outcome::Changed(out) => hasher.update(out.as_str()),
            Outcome::Dropped(step) => hasher.update(format!("dropped by {step}")),
            Outcome::Failed(step, reason) => hasher.update(format!("failed at {step}: {reason}")),
        }
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn read(file: &Path) -> Result<Vec<StepConfig>, String> {
    let text =
        std::fs::read_to_string(file).map_err(|e| format!("cannot read the chain file: {e}"))?;
    let parsed: ChainFile = toml::from_str(&text).map_err(|e| {
        format!("is not a chain file ([[transforms]] steps as a source writes them): {e}")
    })?;
    if parsed.transforms.is_empty() {
        return Err("holds no [[transforms]] step".into());
    }
    let base = file.parent().unwrap_or(Path::new(""));
    Ok(parsed
        .transforms
        .into_iter()
        .map(|mut step| {
            step.make_paths_relative_to(base);
            step
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_file_is_read_with_its_paths_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("chain.toml");
        std::fs::write(
            &file,
            "[[transforms]]\nkind = \"intel\"\nfields = [\"ip\"]\nfeeds = [{ path = \"feed.txt\" }]\n",
        )
        .unwrap();
        let steps = read(&file).unwrap();
        let StepConfig::Intel(intel) = &steps[0] else {
            panic!("an intel step")
        };
        assert_eq!(intel.feeds[0].path, dir.path().join("feed.txt"));

        std::fs::write(&file, "transforms = []\n").unwrap();
        assert!(read(&file).unwrap_err().contains("no [[transforms]] step"));
        std::fs::write(&file, "[[transforms]]\nkind = \"nope\"\n").unwrap();
        assert!(read(&file).unwrap_err().contains("not a chain file"));
        assert!(read(&dir.path().join("gone.toml"))
            .unwrap_err()
            .contains("cannot read"));
    }

    /// The digest is the same for the same output and differs for another: what a faster
    /// chain is checked with.
    #[test]
    fn the_output_digest_follows_the_output() {
        let chain = |value: &str| {
            let text = format!(
                "[[transforms]]\nkind = \"set\"\nfield = \"tenant\"\nvalue = \"{value}\"\n"
            );
            let table: ChainFile = toml::from_str(&text).unwrap();
            Chain::build(&table.transforms, None).unwrap()
        };
        let records: Vec<RawJson> = ["{\"a\":1}", "{\"a\":2,\"tenant\":\"x\"}"]
            .iter()
            .map(|json| RawJson::parse(json).unwrap())
            .collect();
        let digest = output_digest(&chain("x"), &records);
        assert_eq!(digest.len(), 64);
        assert_eq!(digest, output_digest(&chain("x"), &records));
        assert_ne!(digest, output_digest(&chain("y"), &records));
        assert_ne!(digest, output_digest(&chain("x"), &records[..1]));
    }

    #[test]
    fn a_chain_that_cannot_be_built_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("chain.toml");
        std::fs::write(
            &file,
            "[[transforms]]\nkind = \"intel\"\nfields = [\"ip\"]\nfeeds = [{ path = \"gone.txt\" }]\n",
        )
        .unwrap();
        assert_eq!(run(&file, 10, &[], false), EXIT_CONFIG);
        std::fs::write(
            &file,
            "[[transforms]]\nkind = \"remove\"\nfields = [\"debugContext\"]\n",
        )
        .unwrap();
        assert_eq!(run(&file, 10, &[], true), EXIT_OK);
    }
}
