//! Transport failures and URLs as they may appear in logs and errors: causes spelled out,
//! credentials left out.

use url::Url;

/// reqwest's error with its causes, without the URL (callers print their own, redacted).
/// Every HTTP client in Sluice words transport errors this way.
pub fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A URL fit for logs: no user name or password.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    // Setting these fails only for URLs that cannot have credentials, which then have none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials_for_display() {
        let url = Url::parse("https://user:pw@example.com/x?y=1").unwrap();
        assert_eq!(display_url(&url), "https://example.com/x?y=1");
    }
}
