//! `sluice vrl test`: runs a VRL program over one event and prints what it gives, to write
//! and debug the program of a `vrl` step before a run meets it.

use std::path::{Path, PathBuf};

use super::{EXIT_CONFIG, EXIT_OK, EXIT_SOURCE_FAILED};
use crate::config::Config;
use crate::transform::vrl::{self as program, Outcome, TestError, VrlConfig};
use crate::transform::StepConfig;

/// Arguments of `sluice vrl`.
#[derive(Debug, clap::Args)]
pub struct VrlArgs {
    #[command(subcommand)]
    command: VrlCommand,
}

#[derive(Debug, clap::Subcommand)]
enum VrlCommand {
    /// Run a program over one event: prints the event it gives as JSON, or `dropped`; a
    /// compile or runtime error is printed with the program's file:line:column and exits
    /// non-zero (2 for a compile error, 1 for a runtime error).
    Test {
        /// The program file.
        #[arg(long)]
        program: PathBuf,
        /// A file holding one event's record (the envelope's `data`) as a JSON object.
        #[arg(long)]
        event: PathBuf,
        /// A config with a `vrl` step whose `file` is this program: its `geoip` and `intel`
        /// tables give the program's lookups, as in a run.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

pub async fn vrl(args: VrlArgs) -> u8 {
    let VrlCommand::Test {
        program,
        event,
        config,
    } = args.command;
    let step = match config.as_deref().map(|c| step_of(c, &program)).transpose() {
        Ok(step) => step,
        Err(message) => {
            crate::errln!("error: {message}");
            return EXIT_CONFIG;
        }
    };
    let event_text = match std::fs::read_to_string(&event) {
        Ok(text) => text,
        Err(error) => {
            crate::errln!(
                "error: the event {} cannot be read: {error}",
                event.display()
            );
            return EXIT_CONFIG;
        }
    };
    match program::test_program(&program, &event_text, step.as_ref()) {
        Ok(Outcome::Kept) => {
            // The event as it came, pretty (it parsed as JSON in test_program).
            let shown = serde_json::from_str::<serde_json::Value>(&event_text)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or(event_text);
            crate::outln!("{shown}");
            EXIT_OK
        }
        Ok(Outcome::Changed(changed)) => {
            let shown = serde_json::to_string_pretty(&changed).unwrap_or_default();
            crate::outln!("{shown}");
            EXIT_OK
        }
        Ok(Outcome::Dropped) => {
            crate::outln!("dropped");
            EXIT_OK
        }
        Ok(Outcome::Failed(reason)) => {
            crate::errln!("error: {reason}");
            EXIT_SOURCE_FAILED
        }
        Err(TestError::Setup(message)) => {
            crate::errln!("error: {message}");
            EXIT_CONFIG
        }
        Err(TestError::Compile {
            message,
            diagnostic,
        }) => {
            crate::errln!("error: {message}\n\n{diagnostic}");
            EXIT_CONFIG
        }
    }
}

/// The `vrl` step of the config at `config` that reads the program at `program`.
fn step_of(config: &Path, program: &Path) -> Result<VrlConfig, String> {
    // Secrets are not needed to find a step, and the chains are not built here.
    let config_read: Config =
        crate::config::load_without_secrets(config).map_err(|e| e.to_string())?;
    let wanted = std::fs::canonicalize(program)
        .map_err(|error| format!("the program {} cannot be read: {error}", program.display()))?;
    let steps = config_read
        .transforms
        .sources
        .values()
        .chain(config_read.transforms.sinks.values())
        .flatten();
    for step in steps {
        if let StepConfig::Vrl(vrl) = step {
            let reads = vrl
                .file
                .as_deref()
                .and_then(|f| std::fs::canonicalize(f).ok());
            if reads.as_deref() == Some(wanted.as_path()) {
                return Ok(vrl.clone());
            }
        }
    }
    Err(format!(
        "no `vrl` step of {} has file = \"{}\" (hint: --config gives the `geoip` and `intel` tables of the step that runs this program; leave it out to run the program without them)",
        config.display(),
        program.display()
    ))
}
