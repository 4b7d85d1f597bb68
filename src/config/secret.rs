//! Secret values: resolved from `${env:NAME}`, `${file:PATH}` or secret manager references
//! (`${aws-sm:...}`, `${gcp-sm:...}`, `${vault:...}`, see [`crate::secrets`]), never printed.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::{Deserialize, Deserializer};

use crate::model::Secret;
use crate::secrets::{Reference, Session};

/// How secrets are resolved while a config file is being read.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResolveContext {
    /// Directory that relative `${file:PATH}` references start from (the config file's).
    pub base_dir: Option<PathBuf>,
    /// `false` for commands that never use credentials (`sluice status`): references are
    /// kept unresolved, so a missing variable does not stop them.
    pub resolve: bool,
    /// The secret manager fetches of this load: each secret is fetched once per load, and a
    /// new load (a reload) fetches again. `None` outside a load: each reference then gets a
    /// session of its own.
    pub session: Option<Rc<Session>>,
}

impl ResolveContext {
    /// The context of one load, with a fresh secret manager session.
    pub(crate) fn for_load(base_dir: Option<PathBuf>, resolve: bool) -> Self {
        ResolveContext {
            base_dir,
            resolve,
            session: Some(Rc::new(Session::new())),
        }
    }
}

thread_local! {
    static CONTEXT: RefCell<ResolveContext> = const { RefCell::new(ResolveContext { base_dir: None, resolve: true, session: None }) };
}

/// Runs `f` (a config parse) inside a secret manager session: the current one when a load
/// has already opened one, else a fresh one for the duration of `f`.
pub(crate) fn with_session<T>(f: impl FnOnce() -> T) -> T {
    if CONTEXT.with(|c| c.borrow().session.is_some()) {
        return f();
    }
    let context = CONTEXT.with(|c| {
        let current = c.borrow();
        ResolveContext::for_load(current.base_dir.clone(), current.resolve)
    });
    with_context(context, f)
}

/// Runs `f` (a config parse) with `context` in force for the secrets it reads.
pub(crate) fn with_context<T>(context: ResolveContext, f: impl FnOnce() -> T) -> T {
    let previous = CONTEXT.with(|c| c.replace(context));
    let result = f();
    CONTEXT.with(|c| c.replace(previous));
    result
}

impl Secret {
    /// Resolves every `${env:NAME}`, `${file:PATH}` and secret manager reference in `raw`.
    /// Text outside references is kept as written, so `Basic ${env:CREDS}` works. Secret
    /// manager references make network requests (see [`crate::secrets`]).
    ///
    /// The value each reference resolves to, or the whole value when it has no reference (a
    /// credential written into the file), is registered with [`crate::redact`], so that it
    /// is scrubbed from everything Sluice prints or stores.
    pub fn resolve(raw: &str) -> Result<Secret, String> {
        let (value, references) = resolve_references(raw)?;
        if references == 0 {
            crate::redact::register(&value);
        }
        Ok(Secret::new(value))
    }

    /// Like [`Secret::resolve`] for a URL holding a secret (a database URL): the resolved
    /// references and the URL's password are registered for scrubbing, not the URL itself,
    /// which errors show (with the password hidden) to say what could not be reached.
    pub fn resolve_url(raw: &str) -> Result<Secret, String> {
        let (value, _) = resolve_references(raw)?;
        if let Ok(url) = url::Url::parse(&value) {
            if let Some(password) = url.password() {
                crate::redact::register(password);
                let decoded = percent_encoding::percent_decode_str(password).decode_utf8_lossy();
                crate::redact::register(&decoded);
            }
        }
        Ok(Secret::new(value))
    }
}

/// Resolves the references in `raw`, registering each value for scrubbing; returns the
/// value and how many references it had.
fn resolve_references(raw: &str) -> Result<(String, usize), String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    let mut references = 0;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        // The message quotes nothing of the value: the text around `${` may be a
        // credential. The loader names the key and its line.
        let end = after.find('}').ok_or_else(|| {
            "unclosed secret reference: `${` without a closing `}` (hint: write ${env:NAME}, ${file:PATH} or a secret manager reference, or move a literal value containing `${` into a file and use ${file:PATH})".to_string()
        })?;
        let reference = &after[..end];
        // The reference in the message lets the loader point at its line and column.
        let value =
            resolve_reference(reference).map_err(|e| format!("secret `${{{reference}}}`: {e}"))?;
        crate::redact::register(&value);
        out.push_str(&value);
        references += 1;
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok((out, references))
}

/// For commands that leave secrets unresolved (`sluice status`): registers for scrubbing
/// what can be had without a request or an error, so that text stored by an older version
/// is still scrubbed when shown: the literal value, and `${env:...}` and `${file:...}`
/// references that resolve. Secret manager references are not fetched.
fn register_without_resolving(raw: &str) {
    let mut rest = raw;
    let mut references = 0;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let reference = &after[..end];
        references += 1;
        let value = match reference.split_once(':') {
            Some(("env", _)) | Some(("file", _)) => resolve_reference(reference).ok(),
            _ => None,
        };
        if let Some(value) = value {
            crate::redact::register(&value);
        }
        rest = &after[end + 1..];
    }
    if references == 0 {
        crate::redact::register(raw);
    }
}

fn resolve_reference(reference: &str) -> Result<String, String> {
    match reference.split_once(':') {
        Some(("env", name)) => std::env::var(name).map_err(|_| {
            format!(
                "environment variable {name} is not set (hint: export {name}=... before starting sluice, or use ${{file:PATH}})"
            )
        }),
        Some(("file", path)) => std::fs::read_to_string(relative_to_config(path))
            .map(|text| text.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|err| {
                format!("cannot read secret file {path}: {err} (hint: check the path and its permissions)")
            }),
        Some((scheme, body)) => match Reference::parse(scheme, body) {
            Some(Ok(reference)) => {
                let session = CONTEXT.with(|c| c.borrow().session.clone());
                let result = match session {
                    Some(session) => session.resolve(&reference),
                    None => Session::new().resolve(&reference),
                };
                if result.is_ok() {
                    // The reference names the secret, never its value.
                    tracing::debug!(reference = %format!("${{{scheme}:{body}}}"), "resolved a secret from its manager");
                }
                result
            }
            Some(Err(problem)) => Err(problem),
            None => Err(unknown(reference)),
        },
        None => Err(unknown(reference)),
    }
}

fn unknown(reference: &str) -> String {
    format!(
        "unknown secret reference `${{{reference}}}` (hint: use ${{env:NAME}}, ${{file:PATH}}, ${{aws-sm:NAME#KEY}}, ${{gcp-sm:projects/P/secrets/S/versions/V}} or ${{vault:PATH#KEY}})"
    )
}

/// Whether secrets are being resolved (not in `sluice status`).
pub(crate) fn resolving() -> bool {
    CONTEXT.with(|c| c.borrow().resolve)
}

/// The config file's directory, while a config is being read.
pub(crate) fn base_dir() -> Option<PathBuf> {
    CONTEXT.with(|c| c.borrow().base_dir.clone())
}

/// A relative `${file:PATH}` is read from the config file's directory, like other paths.
fn relative_to_config(path: &str) -> PathBuf {
    let path = Path::new(path);
    match CONTEXT.with(|c| c.borrow().base_dir.clone()) {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.to_path_buf(),
    }
}

/// Readers of a secret that every command needs (the state store's URL and keys), so that its
/// references are resolved even by commands that otherwise leave secrets alone. Named in
/// `deserialize_with` by the settings that hold such secrets.
impl Secret {
    /// Reads and resolves a secret.
    pub fn always_resolved<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Secret, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Secret::resolve(&raw).map_err(serde::de::Error::custom)
    }

    /// As [`Secret::always_resolved`], for a URL holding a secret (see
    /// [`Secret::resolve_url`]).
    pub fn always_resolved_url<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Secret, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Secret::resolve_url(&raw).map_err(serde::de::Error::custom)
    }

    /// As [`Secret::always_resolved`], for an optional secret.
    pub fn always_resolved_option<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Secret>, D::Error> {
        Secret::always_resolved(deserializer).map(Some)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        if !CONTEXT.with(|c| c.borrow().resolve) {
            register_without_resolving(&raw);
            return Ok(Secret::new(raw));
        }
        Secret::resolve(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn resolves_env_and_file_references_inside_text() {
        std::env::set_var("SLUICE_TEST_SECRET_A", "abc");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let raw = format!(
            "x ${{env:SLUICE_TEST_SECRET_A}} ${{file:{}}}",
            file.display()
        );
        assert_eq!(Secret::resolve(&raw).unwrap().expose(), "x abc from-file");
    }

    #[test]
    fn missing_env_names_the_variable_and_not_the_value() {
        let err = Secret::resolve("${env:SLUICE_TEST_SURELY_UNSET}").unwrap_err();
        assert!(err.contains("SLUICE_TEST_SURELY_UNSET"), "{err}");
        assert!(err.contains("hint"), "{err}");
    }

    #[test]
    fn relative_files_are_read_from_the_config_directory_and_status_needs_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "t0k\n").unwrap();
        let context = ResolveContext::for_load(Some(dir.path().to_path_buf()), true);
        let secret = with_context(context, || {
            serde_json::from_str::<Secret>("\"${file:token}\"")
        })
        .unwrap();
        assert_eq!(secret.expose(), "t0k");
        let lazy = ResolveContext::for_load(None, false);
        let unresolved = with_context(lazy, || {
            serde_json::from_str::<Secret>("\"${env:SLUICE_TEST_NEVER_SET}\"")
        });
        assert!(unresolved.is_ok());
    }

    #[test]
    fn unknown_scheme_is_rejected() {
        assert!(Secret::resolve("${vaults:x}").is_err());
        assert!(
            Secret::resolve("${vault:x}").is_err(),
            "no mount/path: refused before any request"
        );
        assert!(Secret::resolve("${env:X").is_err());
    }
}
