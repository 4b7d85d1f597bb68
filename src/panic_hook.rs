//! A panic report scrubbed of secrets.
//!
//! Rust's default panic hook writes the panic's message and location to stderr as they are,
//! and a message can carry a secret: `expect` on an error that quotes an API's answer, or a
//! `format!` of a request. [`install`] replaces the hook with one that says the same thing
//! (thread, location, message, and the backtrace when `RUST_BACKTRACE` asks for one) with
//! every registered secret scrubbed by [`crate::redact::scrub`]. The `sluice` command
//! installs it first thing, before any secret is resolved.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::io::Write;
use std::panic::PanicHookInfo;

/// Replaces the process's panic hook with the scrubbing one (see the module docs).
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        let backtrace = Backtrace::capture();
        let report = render(
            std::thread::current().name().unwrap_or("<unnamed>"),
            info,
            &backtrace,
        );
        // Nowhere to report a failed write to stderr while panicking.
        let _ = std::io::stderr().lock().write_all(report.as_bytes());
    }));
}

/// The text the hook writes: the default hook's layout, scrubbed.
fn render(thread: &str, info: &PanicHookInfo<'_>, backtrace: &Backtrace) -> String {
    let location = info
        .location()
        .map_or_else(|| "an unknown location".to_string(), ToString::to_string);
    report(thread, &location, message(info), backtrace)
}

/// The panic's message: the text given to `panic!` (or `expect`, `unwrap`...), which is a
/// `&str` or a `String`; any other payload has no text.
fn message<'a>(info: &'a PanicHookInfo<'_>) -> &'a str {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>")
}

/// The report for a panic of `thread` at `location` with `message`, every part scrubbed. The
/// backtrace is shown when it was captured (`RUST_BACKTRACE=1` or `full`), else a note says
/// how to get one, as the default hook does.
fn report(thread: &str, location: &str, message: &str, backtrace: &Backtrace) -> String {
    let mut text = format!("\nthread '{thread}' panicked at {location}:\n{message}\n");
    match backtrace.status() {
        BacktraceStatus::Captured => text.push_str(&format!("stack backtrace:\n{backtrace}\n")),
        BacktraceStatus::Disabled => text.push_str(
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
        ),
        // Unsupported on this platform: nothing to add.
        _ => {}
    }
    crate::redact::scrub_string(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_and_location_lose_their_secrets() {
        let secret = "panic-hook-secret-8d1e/x+y";
        crate::redact::register(secret);
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let text = report(
            "worker-3",
            &format!("src/{secret}.rs:10:5"),
            &format!("called `Result::unwrap()` on an `Err` value: HTTP 401: bad token {secret} (url ?key={encoded})"),
            &Backtrace::disabled(),
        );
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains(&encoded), "{text}");
        assert!(
            text.contains("thread 'worker-3' panicked at src/[REDACTED].rs:10:5"),
            "{text}"
        );
        assert!(text.contains("HTTP 401: bad token [REDACTED]"), "{text}");
        assert!(text.contains("RUST_BACKTRACE=1"), "{text}");
    }

    #[test]
    fn a_captured_backtrace_is_shown() {
        let text = report("main", "src/x.rs:1:1", "boom", &Backtrace::force_capture());
        assert!(text.contains("stack backtrace:"), "{text}");
        assert!(!text.contains("RUST_BACKTRACE=1"), "{text}");
    }
}
