//! Connecting: TLS, what a server's errors mean (an outage, a full disk), and URLs and
//! errors made fit for messages.

use super::*;

/// SQLSTATE `disk_full` (class 53, insufficient resources): the server could not extend a
/// file of the database or its write-ahead log.
pub(super) const DISK_FULL: &str = "53100";

/// A failed call as a state error, by the SQLSTATE the server answered (`None` when it did
/// not answer): a full disk under the server is [`StateError::DiskFull`], reported at once
/// because waiting does not free space; anything else is [`StateError::Backend`], which the
/// runtime waits out as an outage. Other class-53 codes (out of memory, too many connections)
/// pass with time, so they stay outages.
pub(super) fn classify(location: &str, code: Option<&str>, detail: String) -> StateError {
    if code == Some(DISK_FULL) {
        return StateError::DiskFull {
            location: location.to_string(),
            detail: format!("{detail}; the database server's disk is out of space"),
        };
    }
    StateError::Backend {
        location: location.to_string(),
        detail,
    }
}

/// Whether the connection is unusable after `err`: anything but an error the server answered
/// on a live session (I/O, closed, protocol), a FATAL or PANIC error (the server ends the
/// session, e.g. `pg_terminate_backend`), or a connection-class SQLSTATE. The client may not
/// have noticed the socket closing yet, so this is decided from the error itself.
pub(super) fn ends_session(err: &tokio_postgres::Error) -> bool {
    let Some(db) = err.as_db_error() else {
        return true;
    };
    let code = db.code().code();
    matches!(
        db.parsed_severity(),
        Some(Severity::Fatal | Severity::Panic)
    ) || code.starts_with("08")
        || code.starts_with("57P")
}

/// TLS could not be set up on this machine (no protocol version the crypto provider offers).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up TLS: {0}")]
pub(super) struct TlsSetupError(#[from] rustls::Error);

/// TLS with certificate and host name verification. Roots: the system's (including the file
/// `SSL_CERT_FILE` names, for a private CA) and Mozilla's.
pub(super) fn tls_connector() -> Result<tokio_postgres_rustls::MakeRustlsConnect, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    for err in &native.errors {
        tracing::debug!(error = %err, "some system certificates could not be loaded");
    }
    // A system certificate rustls cannot parse is skipped, as browsers do.
    let (_added, _skipped) = roots.add_parsable_certificates(native.certs);
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Whether every host is a Unix socket or a loopback address, where plain TCP is fine.
pub(super) fn is_local(config: &Config) -> bool {
    config.get_hosts().iter().all(|host| match host {
        Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    })
}

/// The URL with its password replaced by `***`, from the user info or a `password=` query
/// parameter; a `key=value` connection string has its `password` value replaced.
pub(crate) fn redact_url(raw: &str) -> String {
    const MASK: &str = "***";
    let Some((scheme, rest)) = raw.split_once("://") else {
        return redact_key_values(raw, MASK);
    };
    // The user info ends at the last `@` before the query: a password may hold `/` or `@`.
    let query_start = rest.find('?').unwrap_or(rest.len());
    let (authority, tail) = match rest[..query_start].rfind('@') {
        Some(at) => {
            let (userinfo, hosts_and_path) = rest.split_at(at);
            let user = userinfo
                .split_once(':')
                .map_or(userinfo, |(user, _password)| user);
            let masked = if userinfo.contains(':') {
                format!("{user}:{MASK}")
            } else {
                user.to_string()
            };
            let path_start = hosts_and_path
                .find(['/', '?'])
                .unwrap_or(hosts_and_path.len());
            let (hosts, tail) = hosts_and_path.split_at(path_start);
            (format!("{masked}{hosts}"), tail)
        }
        None => {
            let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
            let (hosts, tail) = rest.split_at(path_start);
            (hosts.to_string(), tail)
        }
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key == "password" => format!("{key}={MASK}"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// `host=db password='a b' user=x` → `host=db password=*** user=x`.
pub(super) fn redact_key_values(raw: &str, mask: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find("password") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let after_key = &after["password".len()..];
        let trimmed = after_key.trim_start();
        let starts_key = before.is_empty() || before.ends_with(char::is_whitespace);
        let Some(value) = trimmed.strip_prefix('=').filter(|_| starts_key) else {
            out.push_str("password");
            rest = after_key;
            continue;
        };
        out.push_str("password=");
        out.push_str(mask);
        let value = value.trim_start();
        rest = if let Some(quoted) = value.strip_prefix('\'') {
            // A quoted value ends at the first quote not escaped by a backslash.
            let mut escaped = false;
            let end = quoted
                .char_indices()
                .find(|&(_, c)| {
                    let closes = c == '\'' && !escaped;
                    escaped = c == '\\' && !escaped;
                    closes
                })
                .map_or(quoted.len(), |(i, _)| i + 1);
            &quoted[end..]
        } else {
            let end = value.find(char::is_whitespace).unwrap_or(value.len());
            &value[end..]
        };
    }
    out.push_str(rest);
    out
}

/// An identifier quoted for SQL: `"a""b"` for `a"b`.
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The error with its causes and, for a server error, its code, detail and hint.
pub(super) fn describe(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut text = format!("{} ({}): {}", db.severity(), db.code().code(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!("; {detail}"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!(" (hint: {hint})"));
        }
        return text;
    }
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(inner) = cause {
        text.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    text
}
