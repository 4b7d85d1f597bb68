//! The docs name test files and tests as the proof of what they promise (`docs/guarantees.md`,
//! the connector pages, `docs/contributing.md`'s commands). Every name must exist, so a test
//! moved or renamed cannot leave a promise pointing at nothing.

use std::path::{Path, PathBuf};

/// The vendor the docs use as the example of a new connector: its files do not exist.
const EXAMPLE_VENDOR: &str = "acme";

/// Every `.md` file under `dir`.
fn pages(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            pages(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// Whether a function `name` is defined in `file`, or in the files of its `#[path]` modules
/// (the folder named after it).
fn defines(file: &Path, name: &str) -> bool {
    let needle = format!("fn {name}(");
    let mut files = vec![file.to_path_buf()];
    let folder = file.with_extension("");
    if let Ok(entries) = std::fs::read_dir(&folder) {
        files.extend(entries.flatten().map(|e| e.path()));
    }
    files
        .iter()
        .any(|f| std::fs::read_to_string(f).is_ok_and(|text| text.contains(&needle)))
}

#[test]
fn every_test_file_and_test_the_docs_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    pages(&root.join("docs"), &mut files);
    // `tests/x.rs`, `tests/x/` or `tests/x.rs::module::test_name`.
    let named = regex::Regex::new(r"tests/[A-Za-z0-9_/]+(\.rs(::[A-Za-z0-9_:]*[A-Za-z0-9_])?|/)")
        .expect("the pattern is valid");
    let mut missing = Vec::new();
    for page in &files {
        let text = std::fs::read_to_string(page).unwrap();
        for (number, line) in text.lines().enumerate() {
            for found in named.find_iter(line) {
                let (path, test) = match found.as_str().split_once("::") {
                    Some((path, test)) => (path, test.rsplit("::").next()),
                    None => (found.as_str(), None),
                };
                if path.contains(EXAMPLE_VENDOR) {
                    continue;
                }
                let file = root.join(path);
                let exists = file.exists() && test.is_none_or(|name| defines(&file, name));
                if !exists {
                    missing.push(format!(
                        "{}:{}: `{}`",
                        page.strip_prefix(root).unwrap_or(page).display(),
                        number + 1,
                        found.as_str()
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the docs name tests that do not exist (moved or renamed? fix the docs):\n{}",
        missing.join("\n")
    );
}
