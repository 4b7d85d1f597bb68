//! The one place secrets are scrubbed from what Sluice prints or stores.
//!
//! A [`Secret`](crate::model::Secret) never prints its value, but a value can still travel
//! as plain text: an API that answers 401 with `Invalid token provided: SSWS 00abc…` puts the
//! token in an error message, and from there into logs, the runs table, `sluice status`, the
//! daemon's status page and dead-letter reasons. So every secret value is registered here when
//! it is resolved (config load) or obtained (an access token from a token endpoint), and every
//! text is scrubbed at the boundary where it leaves the process or enters storage:
//!
//! - log lines: [`StderrWriter`], the writer of the tracing subscriber;
//! - direct output of the commands: [`outln!`](crate::outln), [`errln!`](crate::errln) and
//!   [`out!`](crate::out) (clippy refuses `println!` and friends in the library, see
//!   `lib.rs`);
//! - run records (`runtime::run_source`), the daemon's pages (`serve::http`) and dead-letter
//!   reasons (`sink::dead_letter::wrap`): [`scrub`].
//!
//! Besides the value itself, its encoded forms are scrubbed: base64 (standard and URL-safe,
//! alone or inside a longer encoded text, as in `Basic base64(user:password)`), percent- and
//! form-encoding, and JSON/Rust string escaping. Values shorter than [`MIN_SECRET_LEN`] bytes
//! are not registered: scrubbing every `abc` from every line would mangle logs, and a
//! credential that short is not a credential.

use std::borrow::Cow;
use std::collections::{BTreeSet, VecDeque};
use std::io::Write;
use std::sync::RwLock;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;

/// What a scrubbed secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Shorter values (in bytes) are not scrubbed; see the module documentation.
pub const MIN_SECRET_LEN: usize = 4;

/// Shorter registered values (in bytes) are not looked for by [`in_url`].
pub const MIN_URL_SECRET_LEN: usize = 8;

/// Access tokens obtained at runtime are kept this many at a time: a daemon refreshes its
/// tokens for months, and an expired token is worth nothing.
const MAX_TOKENS: usize = 64;

/// The registered secrets and the automaton that finds their forms.
struct Registry {
    /// Values from the config and secret managers, kept for the life of the process.
    secrets: BTreeSet<String>,
    /// Tokens obtained at runtime, newest last.
    tokens: VecDeque<String>,
    /// Finds every form of every value; `None` while nothing is registered.
    automaton: Option<AhoCorasick>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry {
    secrets: BTreeSet::new(),
    tokens: VecDeque::new(),
    automaton: None,
});

/// Registers a secret value (and its encoded forms) for scrubbing, for the life of the
/// process. Values shorter than [`MIN_SECRET_LEN`] bytes are ignored.
pub fn register(secret: &str) {
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    let rebuilt = {
        let mut registry = write();
        if !registry.secrets.insert(secret.to_string()) {
            return;
        }
        registry.rebuild()
    };
    report(rebuilt);
}

/// Registers a credential obtained at runtime (an OAuth2 access token): like [`register`],
/// but only the latest [`MAX_TOKENS`] are kept, so a long-running daemon does not grow.
pub fn register_token(token: &str) {
    if token.len() < MIN_SECRET_LEN {
        return;
    }
    let rebuilt = {
        let mut registry = write();
        if registry.tokens.iter().any(|t| t == token) || registry.secrets.contains(token) {
            return;
        }
        registry.tokens.push_back(token.to_string());
        while registry.tokens.len() > MAX_TOKENS {
            registry.tokens.pop_front();
        }
        registry.rebuild()
    };
    report(rebuilt);
}

/// Logs a failed rebuild, once the registry's lock is released: the log writer scrubs, so
/// logging with the lock held would wait on itself.
fn report(rebuilt: Result<(), aho_corasick::BuildError>) {
    if let Err(err) = rebuilt {
        tracing::error!(error = %err, "cannot build the secret scrubber; newly registered secrets are not scrubbed");
    }
}

/// `text` with every form of every registered secret replaced by [`REDACTED`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    match &registry.automaton {
        Some(automaton) if automaton.is_match(text) => {
            let mut out = String::with_capacity(text.len());
            automaton.replace_all_with(text, &mut out, |_, _, out| {
                out.push_str(REDACTED);
                true
            });
            Cow::Owned(out)
        }
        _ => Cow::Borrowed(text),
    }
}

/// [`scrub`] for an owned string, which is moved through when nothing matches.
pub fn scrub_string(text: String) -> String {
    match scrub(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(scrubbed) => scrubbed,
    }
}

/// Whether `text` (a URL) holds a registered value in a form a URL carries it: as is,
/// percent-encoded or form-encoded. Unlike [`scrub`], base64 fragments are not looked for: a
/// URL's cursor is often base64, and a false match here refuses a link rather than hiding a
/// few characters of a log line. For the same reason values shorter than
/// [`MIN_URL_SECRET_LEN`] bytes are not looked for (`2024` is in every dated URL).
pub fn in_url(text: &str) -> bool {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    registry
        .secrets
        .iter()
        .chain(registry.tokens.iter())
        .filter(|value| value.len() >= MIN_URL_SECRET_LEN)
        .flat_map(|value| url_forms(value))
        .any(|form| text.contains(&form))
}

/// The access tokens obtained at runtime (see [`register_token`]) and still remembered,
/// newest last.
pub fn tokens() -> Vec<String> {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    registry.tokens.iter().cloned().collect()
}

/// The texts `value` may appear as in a URL: as is, and percent- or form-encoded. Longest
/// first, so that a replacement of one never leaves part of another.
pub fn url_forms(value: &str) -> Vec<String> {
    let mut forms = vec![
        value.to_string(),
        percent_encoding::utf8_percent_encode(value, URI_COMPONENT).to_string(),
        percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
    ];
    forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    forms.dedup();
    forms
}

/// `value` encoded for any part of a URL (`encodeURIComponent`): it decodes to `value` under
/// both percent- and form-decoding.
pub fn url_component(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, URI_COMPONENT).to_string()
}

/// A registry lock that a panic elsewhere cannot make unusable: the registry is only ever
/// replaced whole (sets and automaton), so it is never seen half-updated.
fn write() -> std::sync::RwLockWriteGuard<'static, Registry> {
    REGISTRY.write().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    /// Rebuilds the automaton from the registered values. On failure (only an automaton too
    /// large for memory fails to build) the previous one is kept rather than scrub nothing.
    fn rebuild(&mut self) -> Result<(), aho_corasick::BuildError> {
        let forms: BTreeSet<String> = self
            .secrets
            .iter()
            .chain(self.tokens.iter())
            .flat_map(|secret| forms(secret))
            .filter(|form| form.len() >= MIN_SECRET_LEN)
            .collect();
        // Leftmost-longest: where a value and one of its encoded fragments both match, the
        // whole match is replaced.
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&forms)?;
        self.automaton = Some(automaton);
        Ok(())
    }
}

/// The texts a secret may appear as in a message.
fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    // As an API may echo it back in a URL, a form body or a JSON document.
    forms.push(percent_encoding::utf8_percent_encode(secret, URI_COMPONENT).to_string());
    forms.push(
        percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
    );
    forms.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
    if let Ok(json) = serde_json::to_string(secret) {
        forms.push(json.trim_matches('"').to_string());
    }
    forms.push(format!("{secret:?}").trim_matches('"').to_string());
    // Base64 of the value alone, and of the value inside a longer text (`user:password` in
    // a Basic header): at each of the three byte alignments, the characters that encode the
    // value's bits only.
    for engine in [
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        forms.push(engine.encode(secret));
        for offset in 1..3 {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(secret.as_bytes());
            let encoded = engine.encode(&bytes);
            let start = (8 * offset).div_ceil(6);
            let end = 8 * (offset + secret.len()) / 6;
            if let Some(fragment) = encoded.get(start..end) {
                forms.push(fragment.to_string());
            }
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

/// What `encodeURIComponent` leaves alone: letters, digits and `-_.!~*'()`.
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// The log writer: each log line goes to stderr scrubbed. The tracing subscriber writes a
/// line through one writer, so a secret is never split between two writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for StderrWriter {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(Vec::new())
    }
}

/// One log line being written; scrubbed and written to stderr when dropped.
#[derive(Debug)]
pub struct LineWriter(Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        // Nowhere to report a failed write to stderr.
        write_stderr(scrub(&text).as_bytes());
    }
}

/// Progress bars a command draws on the terminal, if any: stderr lines go above them.
static BARS: RwLock<Option<indicatif::MultiProgress>> = RwLock::new(None);

/// Sets (or, with `None`, clears) the progress bars that stderr lines are written above.
pub fn set_progress_bars(bars: Option<indicatif::MultiProgress>) {
    *BARS.write().unwrap_or_else(|e| e.into_inner()) = bars;
}

/// Writes `bytes` to stderr, above the progress bars when some are drawn. A failed write
/// (a closed pipe) is ignored: there is nowhere to report it.
fn write_stderr(bytes: &[u8]) {
    let bars = BARS.read().unwrap_or_else(|e| e.into_inner()).clone();
    let write = || {
        let _ = std::io::stderr().lock().write_all(bytes);
    };
    match bars {
        Some(bars) => bars.suspend(write),
        None => write(),
    }
}

/// Whether [`errln!`] writes JSON lines (`--log-format json`).
static STDERR_JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes [`errln!`] write each message as one JSON object per line, like the JSON log
/// lines, instead of plain text.
pub fn set_stderr_json(on: bool) {
    STDERR_JSON.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// `text` (one message, maybe of several lines) as a JSON log line: its level from its
/// `error:`/`warning:` prefix, `info` otherwise.
fn json_line(text: &str) -> String {
    let message = text.trim_end_matches('\n');
    let (level, message) = if let Some(rest) = message.strip_prefix("error: ") {
        ("ERROR", rest)
    } else if let Some(rest) = message.strip_prefix("warning: ") {
        ("WARN", rest)
    } else {
        ("INFO", message)
    };
    let line = serde_json::json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": level,
        "message": message,
        "target": "sluice",
    });
    format!("{line}\n")
}

/// Writes `args` to stdout (`stderr` false) or stderr, scrubbed. Write errors (a closed
/// pipe, as in `sluice status | head`) are ignored: there is nowhere to report them.
#[doc(hidden)]
pub fn print(stderr: bool, args: std::fmt::Arguments<'_>) {
    let text = args.to_string();
    let text = scrub(&text);
    if stderr {
        let text = if STDERR_JSON.load(std::sync::atomic::Ordering::Relaxed) {
            std::borrow::Cow::Owned(json_line(&text))
        } else {
            text
        };
        write_stderr(text.as_bytes());
    } else {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
}

/// `println!`, scrubbed of secrets (see [`crate::redact`]).
#[macro_export]
macro_rules! outln {
    () => { $crate::redact::print(false, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::redact::print(false, format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!`, scrubbed of secrets (see [`crate::redact`]).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::redact::print(false, format_args!($($arg)*)) };
}

/// `eprintln!`, scrubbed of secrets (see [`crate::redact`]).
#[macro_export]
macro_rules! errln {
    () => { $crate::redact::print(true, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::redact::print(true, format_args!("{}\n", format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {

    #[test]
    fn messages_become_json_lines_with_their_level() {
        let line = json_line("error: source `a` failed\n  hint: check base_url\n");
        assert!(
            line.ends_with('\n') && line.matches('\n').count() == 1,
            "{line}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["level"], "ERROR");
        assert_eq!(
            parsed["message"],
            "source `a` failed\n  hint: check base_url"
        );
        let parsed: serde_json::Value = serde_json::from_str(&json_line("warning: x\n")).unwrap();
        assert_eq!(parsed["level"], "WARN");
        let parsed: serde_json::Value = serde_json::from_str(&json_line("done\n")).unwrap();
        assert_eq!(parsed["level"], "INFO");
    }
    use super::*;

    // The registry is process-wide: each test uses values of its own.

    #[test]
    fn a_registered_secret_and_its_encodings_are_scrubbed() {
        let secret = "00Tst-secret/with+odd chars";
        register(secret);
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let url = percent_encoding::utf8_percent_encode(secret, URI_COMPONENT).to_string();
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for text in [
            format!("Invalid token provided: SSWS {secret}"),
            format!("echo: {b64}"),
            format!("https://api.example/x?key={url}&y=1"),
            format!("token={form}"),
        ] {
            let scrubbed = scrub(&text);
            assert!(scrubbed.contains(REDACTED), "{text} -> {scrubbed}");
            assert!(
                !scrubbed.contains(secret) && !scrubbed.contains(&b64) && !scrubbed.contains(&url),
                "{text} -> {scrubbed}"
            );
        }
        assert_eq!(
            scrub("Invalid token provided: SSWS 00Tst-secret/with+odd chars."),
            "Invalid token provided: SSWS [REDACTED]."
        );
    }

    #[test]
    fn base64_of_a_longer_text_holding_the_secret_is_scrubbed() {
        let secret = "pass-word-4711";
        register(secret);
        for user in ["u", "us", "use", "user"] {
            let basic =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
            let scrubbed = scrub(&basic);
            assert!(scrubbed.contains(REDACTED), "{user}: {basic} -> {scrubbed}");
            // What is left encodes the user name and at most two bytes of the password at
            // each end (a character or two, and the padding).
            let kept = scrubbed.replace(REDACTED, "");
            assert!(kept.len() <= user.len() * 4 / 3 + 6, "{user}: {scrubbed}");
        }
    }

    #[test]
    fn short_values_and_unrelated_text_are_left_alone() {
        register("abc");
        assert_eq!(scrub("abc def"), "abc def");
        assert!(matches!(scrub("nothing secret here"), Cow::Borrowed(_)));
    }

    #[test]
    fn tokens_are_kept_only_while_recent() {
        let first = "token-number-first-000";
        register_token(first);
        assert_eq!(scrub(first), REDACTED);
        for i in 0..MAX_TOKENS {
            register_token(&format!("token-number-{i:04}-xyz"));
        }
        assert_eq!(scrub(first), first);
        assert_eq!(scrub("token-number-0063-xyz"), REDACTED);
    }
}
