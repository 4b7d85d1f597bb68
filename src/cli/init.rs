//! `sluice init`: write a starter config for one or more built-in connectors.

use std::path::PathBuf;

use super::{connectors, EXIT_CONFIG, EXIT_OK};

/// Arguments of `sluice init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// A built-in connector to include (repeat for several); `sluice connectors list` names them.
    #[arg(long = "connector", required = true)]
    connectors: Vec<String>,
    /// Write the config to this file (refused if it exists) instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub async fn init(args: InitArgs) -> u8 {
    let mut presets = Vec::new();
    for name in &args.connectors {
        match connectors::find(name) {
            Ok(preset) => presets.push(preset),
            Err(message) => {
                crate::errln!("error: {message}");
                return EXIT_CONFIG;
            }
        }
    }
    let text = crate::preset::starter_config(&presets);
    let Some(path) = args.output else {
        crate::out!("{text}");
        return EXIT_OK;
    };
    // create_new: an existing config is never overwritten.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()));
    match written {
        Ok(()) => {
            crate::errln!(
                "wrote {}; fill in the settings marked REQUIRED",
                path.display()
            );
            EXIT_OK
        }
        Err(err) => {
            crate::errln!("error: cannot write {}: {err}", path.display());
            EXIT_CONFIG
        }
    }
}
