//! Logging setup: human-readable on a terminal, JSON lines on request.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines, coloured on a terminal.
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

static FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// The log format [`init`] installed (human before it was called).
pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or(LogFormat::Human)
}

/// Installs the global subscriber writing to stderr, every line scrubbed of registered
/// secrets (see [`crate::redact`]). `RUST_LOG` overrides the default level (`info`). Calling
/// it twice is harmless (the second call is ignored).
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::redact::StderrWriter);
    let _ = match format {
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init(),
        LogFormat::Json => {
            // Messages printed to stderr outside of tracing (the final error of a command, a
            // config error) become JSON lines too, so a log shipper never meets plain text.
            crate::redact::set_stderr_json(true);
            builder.json().flatten_event(true).try_init()
        }
    };
}
