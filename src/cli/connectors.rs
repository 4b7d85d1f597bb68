//! `sluice connectors`: the built-in vendor connectors (presets).

use super::{EXIT_CONFIG, EXIT_OK};
use crate::preset::{self, Preset};

/// Arguments of `sluice connectors`.
#[derive(Debug, clap::Args)]
pub struct ConnectorsArgs {
    #[command(subcommand)]
    command: ConnectorsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ConnectorsCommand {
    /// Every built-in connector: name, product, streams, credentials and docs page.
    List,
    /// The full spec of one connector, to read or to copy into a connector file and change.
    Show {
        /// The connector's name, as written in `connector = "..."`.
        name: String,
    },
}

pub async fn connectors(args: ConnectorsArgs) -> u8 {
    match args.command {
        ConnectorsCommand::List => {
            crate::out!("{}", list_table(&preset::catalog().presets));
            EXIT_OK
        }
        ConnectorsCommand::Show { name } => match find(&name) {
            Ok(preset) => {
                crate::out!("{}", preset.text);
                EXIT_OK
            }
            Err(message) => {
                crate::errln!("error: {message}");
                EXIT_CONFIG
            }
        },
    }
}

/// The preset called `name`, or an error naming the closest ones.
pub fn find(name: &str) -> Result<&'static Preset, String> {
    preset::builtin(name).ok_or_else(|| {
        let near = preset::closest(name, preset::names());
        if near.is_empty() {
            format!("there is no built-in connector `{name}`; `sluice connectors list` shows them")
        } else {
            format!(
                "there is no built-in connector `{name}`; did you mean {}?",
                near.join(" or ")
            )
        }
    })
}

fn list_table(presets: &[Preset]) -> String {
    let rows: Vec<[String; 5]> = presets
        .iter()
        .map(|p| {
            let streams = if p.streams.is_empty() {
                "-".to_string()
            } else {
                p.streams
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let auth = p
                .auth
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(",");
            [
                p.preset.name.clone(),
                p.preset.product.clone(),
                streams,
                auth,
                p.preset.docs.clone(),
            ]
        })
        .collect();
    let header = ["NAME", "PRODUCT", "STREAMS", "AUTH", "DOCS"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
