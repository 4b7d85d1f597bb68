//! A setting that cannot work, as a component's check reports it.

use std::fmt;

/// A problem in the settings: the key path where it is, what is wrong (never quoting a
/// secret) and what to do. A component's check gives the path inside its own table
/// (`token_url`); whoever holds the table puts it under its own key ([`Problem::under`]), and
/// the config loader turns the whole path into the file's line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path such as `sources[0].auth.token_url`; empty for the table as a whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(
        path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// The same problem, its path taken under `prefix` (`sources[0]` and `auth.token` give
    /// `sources[0].auth.token`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = match (prefix.is_empty(), self.path.is_empty()) {
            (true, _) => self.path,
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}.{}", self.path),
        };
        self
    }
}

/// `path: message (hint: hint)`, the form errors take outside the config loader.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{} (hint: {})", self.message, self.hint)
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_nest_and_show_with_the_hint() {
        let problem = Problem::new("token_url", "is not a URL", "write https://...")
            .under("auth")
            .under("sources[0]");
        assert_eq!(problem.path, "sources[0].auth.token_url");
        assert_eq!(
            problem.to_string(),
            "sources[0].auth.token_url: is not a URL (hint: write https://...)"
        );
        assert_eq!(
            Problem::new("", "m", "h").under("schedule").path,
            "schedule"
        );
    }
}
