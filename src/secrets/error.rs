//! Why a secret could not be had: what a reference, a manager's environment or a manager's
//! answer got wrong, kept apart so that the loader and logs can tell a typo in the config
//! from a manager that is down.

use crate::model::FailureKind;

/// Why a secret manager reference could not be resolved. Each variant carries the whole
/// message for the user: what failed, naming the reference, the manager's URL (without
/// credentials) or the environment variable, never a secret's value, and ` (hint: ...)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SecretError {
    /// The reference is written wrong (`${vault:secret#}`); nothing was asked.
    #[error("{0}")]
    Malformed(String),
    /// The manager's client cannot be set up from the environment: credentials, address,
    /// region or CA file missing or unusable.
    #[error("{0}")]
    Setup(String),
    /// The manager has no such secret or version, or the secret no such key.
    #[error("{0}")]
    NotFound(String),
    /// The manager refused the credentials (bad, expired or unsigned).
    #[error("{0}")]
    Auth(String),
    /// The credentials lack a permission on the secret (or its encryption key).
    #[error("{0}")]
    Permission(String),
    /// The manager could not be reached, or timed out, after the retries.
    #[error("{0}")]
    Unreachable(String),
    /// The manager failed on its side or throttled (5xx, 429) after the retries.
    #[error("{0}")]
    Server(String),
    /// The manager answered something that is not a secret (not JSON, too large, no value).
    #[error("{0}")]
    BadResponse(String),
    /// The secret holds what a config value cannot be: binary data, text that is not
    /// UTF-8, or something other than a JSON object where a `#KEY` picks from it.
    #[error("{0}")]
    Unusable(String),
    /// A bug: what cannot happen did.
    #[error("{0}")]
    Internal(String),
}

impl SecretError {
    /// The same kind of error with its message rewritten by `f` (which adds the manager's
    /// URL and a hint around a lower layer's detail).
    pub(crate) fn map_message(self, f: impl FnOnce(String) -> String) -> SecretError {
        use SecretError::*;
        match self {
            Malformed(m) => Malformed(f(m)),
            Setup(m) => Setup(f(m)),
            NotFound(m) => NotFound(f(m)),
            Auth(m) => Auth(f(m)),
            Permission(m) => Permission(f(m)),
            Unreachable(m) => Unreachable(f(m)),
            Server(m) => Server(f(m)),
            BadResponse(m) => BadResponse(f(m)),
            Unusable(m) => Unusable(f(m)),
            Internal(m) => Internal(f(m)),
        }
    }

    /// The error for a manager's non-2xx answer with `status`, by what the status means.
    /// Callers whose manager says more (AWS's `__type`) choose the variant themselves.
    pub(crate) fn from_status(status: reqwest::StatusCode, message: String) -> SecretError {
        match status.as_u16() {
            401 => SecretError::Auth(message),
            403 => SecretError::Permission(message),
            404 => SecretError::NotFound(message),
            429 | 500..=599 => SecretError::Server(message),
            _ => SecretError::BadResponse(message),
        }
    }

    /// What kind of failure this is, in the list metrics, `status` and the circuit breaker
    /// share: a config that cannot be loaded is [`FailureKind::Config`] unless the manager
    /// itself refused, failed or could not be reached.
    pub(crate) fn failure_kind(&self) -> FailureKind {
        match self {
            SecretError::Malformed(_)
            | SecretError::Setup(_)
            | SecretError::NotFound(_)
            | SecretError::Unusable(_) => FailureKind::Config,
            SecretError::Auth(_) => FailureKind::Auth,
            SecretError::Permission(_) => FailureKind::Permission,
            SecretError::Unreachable(_) => FailureKind::Network,
            SecretError::Server(_) => FailureKind::Server,
            SecretError::BadResponse(_) => FailureKind::BadResponse,
            SecretError::Internal(_) => FailureKind::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_failure_a_user_acts_on() {
        let kind = |status: u16| {
            SecretError::from_status(
                reqwest::StatusCode::from_u16(status).unwrap(),
                String::new(),
            )
            .failure_kind()
        };
        assert_eq!(kind(401), FailureKind::Auth);
        assert_eq!(kind(403), FailureKind::Permission);
        assert_eq!(kind(404), FailureKind::Config);
        assert_eq!(kind(429), FailureKind::Server);
        assert_eq!(kind(503), FailureKind::Server);
        assert_eq!(kind(400), FailureKind::BadResponse);
        let rewritten = SecretError::Unreachable("refused".into())
            .map_message(|detail| format!("Vault at https://v: {detail}"));
        assert_eq!(
            rewritten,
            SecretError::Unreachable("Vault at https://v: refused".into())
        );
    }
}
