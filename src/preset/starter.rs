//! `sluice init`: a commented starter config for one or more presets.

use std::fmt::Write as _;

use super::Preset;

/// A complete config (SQLite state, a local gzip lake, one source per preset) in which every
/// setting of each preset is written out with its help: required ones set to their example,
/// optional ones commented out, credentials read from the environment.
pub fn starter_config(presets: &[&Preset]) -> String {
    let mut out = String::from(
        "# Written by `sluice init`. Fill in the settings marked REQUIRED, export the\n\
         # credentials named below, then: sluice check && sluice run --once\n\
         # docs/configuration.md lists every key; each source's docs page is named above it.\n\n\
         [state]\nkind = \"sqlite\"\npath = \"sluice-state.db\"\n\n\
         [[sinks]]\nname = \"lake\"\nkind = \"lake\"\npath = \"lake\"\n",
    );
    for preset in presets {
        let about = &preset.preset;
        // Infallible: writing to a String cannot fail.
        let _ = write!(
            out,
            "\n# {product}: {docs}\n[[sources]]\nname = \"{name}\"\nconnector = \"{name}\"\nsinks = [\"lake\"]\n",
            product = about.product,
            docs = about.docs,
            name = about.name,
        );
        if !preset.streams.is_empty() {
            let all: Vec<String> = preset
                .streams
                .iter()
                .map(|s| format!("\"{}\"", s.name))
                .collect();
            let _ = writeln!(
                out,
                "# streams = [{}]   # default: every stream marked default",
                all.join(", ")
            );
        }
        for setting in &preset.settings {
            let credential_of: Vec<&str> = preset
                .auth
                .iter()
                .filter(|a| a.requires.contains(&setting.name))
                .map(|a| a.name.as_str())
                .collect();
            let value = if setting.secret {
                format!(
                    "\"${{env:{}_{}}}\"",
                    env_prefix(&about.name),
                    setting.name.to_ascii_uppercase()
                )
            } else if let Some(example) = &setting.example {
                format!("\"{example}\"")
            } else if let Some(default) = &setting.default {
                default.to_string()
            } else {
                "\"\"".to_string()
            };
            let mark = if setting.required {
                "REQUIRED: "
            } else if !credential_of.is_empty() {
                "credential: "
            } else {
                ""
            };
            let _ = writeln!(out, "# {mark}{}", setting.help);
            // The first credential variant is written out; the others stay commented.
            let first_credential = preset
                .auth
                .first()
                .is_some_and(|a| a.requires.contains(&setting.name));
            let comment = if setting.required || first_credential {
                ""
            } else {
                "# "
            };
            let _ = writeln!(out, "{comment}{} = {value}", setting.name);
        }
    }
    out
}

/// `google-workspace` → `GOOGLE_WORKSPACE`, for environment variable names.
fn env_prefix(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}
