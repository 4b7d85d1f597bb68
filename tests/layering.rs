//! The layers of `src/` only point down: each module imports only modules of the layers below
//! it, so `docs/architecture.md`'s picture is the code's. This test reads every `crate::…`
//! path outside comments and test code and fails on one that points up or sideways, naming
//! the file, the line and the two modules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may import the modules of lower layers only (not those
/// of its own layer). A new top-level module must be placed here.
const LAYERS: &[&[&str]] = &[
    // Plain data every component shares: secrets, time formats, order, schedules.
    &["model"],
    // Output scrubbing and the process's logging and panic hooks.
    &["redact"],
    &["panic_hook", "telemetry"],
    // Transports: HTTP, object stores. The vendor API simulator stands beside them: it is a
    // crate of its own (crates/sluice-simulator, re-exported as `crate::simulator`) that
    // cannot reach into the product (see the test below).
    &["net", "cloud", "simulator"],
    // Components, in the order a page meets them, the checkpoint store first (sources read
    // its window types).
    &["state"],
    &["source"],
    &["transform"],
    &["sink"],
    &["secrets"],
    // The config loader builds the components' settings from TOML and presets.
    &["preset"],
    &["config"],
    &["runtime"],
    // Alerts: judged after runs, sent by notifiers.
    &["notify"],
    &["serve"],
    &["cli"],
    // Test and fuzzing entry points may use everything.
    &["fuzzing"],
];

/// Names the crate root re-exports from a lower module (`pub use model::{timefmt, ...}`).
const ALIASES: &[(&str, &str)] = &[("timefmt", "model"), ("timemath", "model")];

/// Crate-root items that are not modules (macros defined in `redact`).
const ROOT_MACROS: &[(&str, &str)] = &[("outln", "redact"), ("errln", "redact"), ("out", "redact")];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn resolve(name: &str) -> &str {
    ALIASES
        .iter()
        .chain(ROOT_MACROS)
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, module)| module)
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether a file holds only test code (`tests.rs`, `*_tests.rs`, anything under `tests/`).
fn test_file(relative: &Path) -> bool {
    let name = relative.file_name().unwrap().to_string_lossy();
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || relative.components().any(|c| c.as_os_str() == "tests")
}

/// The text without comments and without `#[cfg(test)] mod … { … }` blocks, line numbers kept
/// (removed text becomes spaces).
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let blank = |b: u8| if b == b'\n' { b'\n' } else { b' ' };
    while i < bytes.len() {
        if bytes[i..].starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
            continue;
        }
        if bytes[i..].starts_with(b"#[cfg(test)]") {
            // Skip the attribute and the item it guards, up to its matching closing brace
            // (or `;` for `mod tests;`).
            let start = i;
            let mut depth = 0usize;
            let mut j = i + "#[cfg(test)]".len();
            while j < bytes.len() {
                match bytes[j] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            j += 1;
                            break;
                        }
                    }
                    b';' if depth == 0 => {
                        j += 1;
                        break;
                    }
                    _ => {}
                }
                j += 1;
            }
            out.extend(bytes[start..j].iter().map(|b| blank(*b)));
            i = j;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The top-level modules a file's code names through `crate::`, with their line numbers.
fn imports(code: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in code.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                // `use crate::{a::X, b};`: the group may span lines; take what this line has.
                for part in group.split(',') {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        found.push((number + 1, name));
                    }
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push((number + 1, name));
                }
            }
            rest = &rest[at + "crate::".len()..];
        }
    }
    found
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    let mut unplaced = BTreeMap::new();
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap();
        let first = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" || test_file(relative) {
            continue;
        }
        let Some(layer) = layer_of(&module) else {
            unplaced.insert(module, relative.display().to_string());
            continue;
        };
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        for (line, name) in imports(&code) {
            let target = resolve(&name);
            if target == module {
                continue;
            }
            match layer_of(target) {
                Some(target_layer) if target_layer < layer => {}
                Some(_) => upward.push(format!(
                    "src/{}:{line}: `{module}` imports `crate::{name}`, which is not below it",
                    relative.display()
                )),
                // `crate::SomeItem` re-exported at the root, or a macro: not a module.
                None => {}
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "top-level modules missing from LAYERS in tests/layering.rs (place each in its layer): {unplaced:?}"
    );
    assert!(
        upward.is_empty(),
        "imports that point up or sideways (move the item down to its owner, or to `model`, \
         or hand the value in from above):\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_reader_sees_imports_and_skips_comments_and_tests() {
    let code = code_only(
        "use crate::source::X;\n// crate::runtime in a comment\n#[cfg(test)]\nmod tests {\n    use crate::cli::Y;\n    fn f() { {} }\n}\nuse crate::{state::S,\n    sink};\nfn g() { crate::net::describe(); }\n",
    );
    let found: Vec<(usize, String)> = imports(&code);
    assert_eq!(
        found,
        vec![
            (1, "source".to_string()),
            (8, "state".to_string()),
            (10, "net".to_string())
        ]
    );
}

/// The simulator is a crate of the workspace that depends on nothing of the product: it
/// emulates vendors as they document their APIs, never through the product's own code.
#[test]
fn the_simulator_crate_does_not_depend_on_the_product() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/sluice-simulator/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let table: toml::Table = text.parse().unwrap();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(deps) = table.get(section).and_then(|d| d.as_table()) else {
            continue;
        };
        for (name, spec) in deps {
            let package = spec.get("package").and_then(|p| p.as_str()).unwrap_or(name);
            assert_ne!(
                package,
                "sluice",
                "{}: [{section}] lists the product crate; the simulator must not depend on it",
                manifest.display()
            );
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/sluice-simulator/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(!files.is_empty(), "no sources under {}", src.display());
    for file in files {
        let code = code_only(&std::fs::read_to_string(&file).unwrap());
        for (number, line) in code.lines().enumerate() {
            assert!(
                !line.contains("sluice::"),
                "{}:{}: the simulator names the product (`sluice::`); it must not depend on it",
                file.display(),
                number + 1
            );
        }
    }
}
