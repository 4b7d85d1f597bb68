//! Credentials in next-page links: kept out of everything stored, put back when the link is
//! followed.
//!
//! Some APIs echo the credential in the links they hand out (`?api_key=KEY&page=2` with the
//! key in the query, an access token in Facebook-style `paging.next` URLs). A next-page link
//! is saved in the checkpoint, so verbatim it would put the credential in the state store,
//! `sluice state export`, commit intents and status pages. So the moment a link is read from
//! a response, [`LinkSecrets::conceal`] replaces each of the source's own credentials in it
//! by a placeholder naming the credential's role, `<sluice-secret:auth.key>`; the link then
//! travels and is stored in that form only. When a request is about to be sent,
//! [`LinkSecrets::reveal`] puts the live value back: the value the config holds now, so a
//! saved link still works after the secret was rotated, and the access token in hand now.
//!
//! A placeholder cannot occur in a link naturally: links are stored as the `url` crate
//! writes them, which percent-encodes `<`, `>` and spaces everywhere in a URL. (Once parsed
//! again for a request, a placeholder reads `%3Csluice-secret:auth.key%3E`; it is put back
//! only in requests to the source's own origin, which receive the credential anyway.)
//!
//! A registered secret that is not the source's own (another source's key, a token of
//! another credential) cannot be put back, so a link that holds one is refused, neither
//! followed nor saved. A credential the config does not know (a session id the API minted)
//! cannot be told from any other parameter and is kept as the API sent it; docs/guarantees.md
//! says so.

use url::Url;

use crate::model::Secret;
use crate::source::auth::config::AuthConfig;

/// How a placeholder starts; the role and [`PLACEHOLDER_END`] follow.
pub const PLACEHOLDER_START: &str = "<sluice-secret:";
/// How a placeholder ends.
pub const PLACEHOLDER_END: &str = ">";

/// The role of the access token that token kinds (`oauth2_client_credentials`,
/// `google_service_account`) obtain at runtime.
const ACCESS_TOKEN: &str = "access_token";

/// A next-page link that cannot be stored or followed. Messages never hold a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkSecretsError {
    /// The link holds a registered secret that is not the source's own.
    #[error("the next-page link holds a credential that is not this source's own (another source's secret or token, registered for redaction); it is neither followed nor saved (hint: the API hands out links carrying foreign credentials; check base_url and auth, or report it to the API's vendor)")]
    Foreign,
    /// A saved link names a credential the source's auth no longer has.
    #[error("the saved next-page link needs the credential `{role}`, which this source's auth no longer has (hint: auth changed since the link was saved; `sluice state reset` the source, or restore its auth)")]
    Gone {
        /// The placeholder's role, such as `auth.key`.
        role: String,
    },
    /// The link with its credentials put back is no URL.
    #[error("the next-page link with its credential put back does not parse: {0}")]
    Unparsable(#[source] url::ParseError),
}

/// The source's credentials that a link may carry, by role.
#[derive(Clone, Default)]
pub struct LinkSecrets {
    /// Configured secrets: the config key each comes from, and its current value.
    configured: Vec<(&'static str, Secret)>,
    /// Whether the source obtains access tokens at runtime.
    tokens: bool,
}

impl std::fmt::Debug for LinkSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let roles: Vec<&str> = self.configured.iter().map(|(role, _)| *role).collect();
        f.debug_struct("LinkSecrets")
            .field("roles", &roles)
            .field("tokens", &self.tokens)
            .finish()
    }
}

impl LinkSecrets {
    /// The credentials of a source authenticated by `auth`.
    pub fn new(auth: &AuthConfig) -> Self {
        let mut configured = Vec::new();
        let mut tokens = false;
        match auth {
            AuthConfig::None => {}
            AuthConfig::Bearer { token, .. } => configured.push(("auth.token", token.clone())),
            AuthConfig::ApiKey(api_key) => configured.push(("auth.key", api_key.key.clone())),
            AuthConfig::Basic { password, .. } => {
                configured.push(("auth.password", password.clone()))
            }
            AuthConfig::Oauth2ClientCredentials { client_secret, .. } => {
                if let Some(secret) = client_secret {
                    configured.push(("auth.client_secret", secret.clone()));
                }
                tokens = true;
            }
            AuthConfig::Oauth2RefreshToken {
                client_secret,
                refresh_token,
                ..
            } => {
                configured.push(("auth.client_secret", client_secret.clone()));
                configured.push(("auth.refresh_token", refresh_token.clone()));
                tokens = true;
            }
            AuthConfig::GoogleServiceAccount { .. } => tokens = true,
            AuthConfig::DuoHmac { secret_key, .. } => {
                configured.push(("auth.secret_key", secret_key.clone()))
            }
        }
        // Longest first: a secret that contains another is replaced whole.
        configured.sort_by_key(|(_, secret)| std::cmp::Reverse(secret.expose().len()));
        LinkSecrets { configured, tokens }
    }

    /// `link` with each of the source's credentials in it replaced by its placeholder. `Err`
    /// (why, without the value) when it still holds a registered secret that is not the
    /// source's own: that one could not be put back, and must not be stored.
    pub fn conceal(&self, link: &str) -> Result<String, LinkSecretsError> {
        let mut concealed = link.to_string();
        for (role, secret) in &self.configured {
            concealed = replace_forms(&concealed, secret.expose(), role);
        }
        if self.tokens {
            let mut tokens = crate::redact::tokens();
            tokens.sort_by_key(|t| std::cmp::Reverse(t.len()));
            for token in tokens {
                concealed = replace_forms(&concealed, &token, ACCESS_TOKEN);
            }
        }
        if crate::redact::in_url(&without_placeholders(&concealed)) {
            return Err(LinkSecretsError::Foreign);
        }
        Ok(concealed)
    }

    /// Puts the live value of each credential back into `url`, where a placeholder stands
    /// (as a parsed URL writes it, `%3Csluice-secret:ROLE%3E`). `access_token` is the token
    /// in hand for this request, for token kinds. `Err` names a placeholder whose credential
    /// this source does not have now (its auth kind changed since the link was saved).
    pub fn reveal(
        &self,
        url: &mut Url,
        access_token: Option<&Secret>,
    ) -> Result<(), LinkSecretsError> {
        let text = url.as_str();
        let encoded_start = encode(PLACEHOLDER_START);
        if !text.contains(&encoded_start) {
            return Ok(());
        }
        let mut revealed = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(&encoded_start) {
            revealed.push_str(&rest[..at]);
            let after = &rest[at + encoded_start.len()..];
            let end = encode(PLACEHOLDER_END);
            let Some(close) = after.find(&end) else {
                // An opening without an end is not a placeholder; keep it as it is.
                revealed.push_str(&rest[at..]);
                rest = "";
                break;
            };
            let role = &after[..close];
            let value = self
                .value(role, access_token)
                .ok_or_else(|| LinkSecretsError::Gone {
                    role: role.to_string(),
                })?;
            revealed.push_str(&crate::redact::url_component(value));
            rest = &after[close + end.len()..];
        }
        revealed.push_str(rest);
        *url = Url::parse(&revealed).map_err(LinkSecretsError::Unparsable)?;
        Ok(())
    }

    /// The live value of `role`.
    fn value<'a>(&'a self, role: &str, access_token: Option<&'a Secret>) -> Option<&'a str> {
        if role == ACCESS_TOKEN {
            return access_token.map(Secret::expose);
        }
        self.configured
            .iter()
            .find(|(name, _)| *name == role)
            .map(|(_, secret)| secret.expose())
    }
}

/// The placeholder of `role`.
pub fn placeholder(role: &str) -> String {
    format!("{PLACEHOLDER_START}{role}{PLACEHOLDER_END}")
}

/// `text` with every URL form of `value` replaced by the placeholder of `role`.
fn replace_forms(text: &str, value: &str, role: &str) -> String {
    if value.is_empty() {
        return text.to_string();
    }
    let mut out = text.to_string();
    for form in crate::redact::url_forms(value) {
        if out.contains(&form) {
            out = out.replace(&form, &placeholder(role));
        }
    }
    out
}

/// `text` without its placeholders, so that a role name is never taken for a secret.
fn without_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(PLACEHOLDER_START) {
        out.push_str(&rest[..at]);
        match rest[at..].find(PLACEHOLDER_END) {
            Some(end) => rest = &rest[at + end + PLACEHOLDER_END.len()..],
            None => {
                rest = &rest[at..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` as a parsed URL writes it: `<` and `>` percent-encoded.
fn encode(text: &str) -> String {
    text.replace('<', "%3C").replace('>', "%3E")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_key(key: &str) -> AuthConfig {
        AuthConfig::ApiKey(crate::source::auth::config::ApiKeyConfig {
            key: Secret::new(key),
            location: crate::source::auth::config::ApiKeyLocation::Query {
                name: "api_key".into(),
            },
        })
    }

    #[test]
    fn the_key_is_concealed_and_the_live_value_put_back() {
        let links = LinkSecrets::new(&api_key("link-key/0a9+b"));
        let link = "https://api.example.com/v1/events?api_key=link-key%2F0a9%2Bb&page=2";
        let concealed = links.conceal(link).unwrap();
        assert_eq!(
            concealed,
            "https://api.example.com/v1/events?api_key=<sluice-secret:auth.key>&page=2"
        );
        let mut url = Url::parse(&concealed).unwrap();
        links.reveal(&mut url, None).unwrap();
        assert_eq!(url.as_str(), link);

        // Rotated: the value the config holds now goes out.
        let rotated = LinkSecrets::new(&api_key("rotated-key-77c1"));
        let mut url = Url::parse(&concealed).unwrap();
        rotated.reveal(&mut url, None).unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.example.com/v1/events?api_key=rotated-key-77c1&page=2"
        );
    }

    #[test]
    fn a_link_without_credentials_is_left_alone() {
        let links = LinkSecrets::new(&api_key("link-key-unused-1"));
        let link = "https://api.example.com/v1/events?after=abc%3C&page=2";
        assert_eq!(links.conceal(link).unwrap(), link);
        let mut url = Url::parse(link).unwrap();
        links.reveal(&mut url, None).unwrap();
        assert_eq!(url.as_str(), link);
    }

    #[test]
    fn a_registered_secret_of_another_source_refuses_the_link() {
        crate::redact::register("foreign-secret-5d2e");
        let links = LinkSecrets::new(&api_key("link-key-own-2b"));
        let err = links
            .conceal("https://api.example.com/v1/events?other=foreign-secret-5d2e")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not this source's own"), "{err}");
        assert!(!err.contains("foreign-secret-5d2e"), "{err}");
    }

    #[test]
    fn a_placeholder_whose_credential_is_gone_is_an_error() {
        let none = LinkSecrets::new(&AuthConfig::None);
        let mut url =
            Url::parse("https://api.example.com/v1?k=<sluice-secret:auth.key>&p=2").unwrap();
        let err = none.reveal(&mut url, None).unwrap_err().to_string();
        assert!(err.contains("`auth.key`") && err.contains("hint:"), "{err}");
    }
}
