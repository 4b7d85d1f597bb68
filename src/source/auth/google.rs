//! Google service account tokens: a JWT signed with the account's RSA key is exchanged for an
//! access token (the JWT bearer grant, RFC 7523).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use url::Url;

use super::token::TokenRequest;
use crate::source::SourceError;

/// The grant type of RFC 7523 section 2.1.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Google accepts assertions valid for at most an hour.
const ASSERTION_LIFETIME_SECS: i64 = 3600;

/// The claims Google reads from the assertion.
#[derive(Debug, Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
}

/// What identifies a service account, from its JSON key.
pub(super) struct AccountKey<'a> {
    /// `client_email`.
    pub client_email: &'a str,
    /// `private_key` (PEM).
    pub private_key_pem: &'a str,
    /// `private_key_id`.
    pub key_id: Option<&'a str>,
    /// `token_uri`.
    pub token_uri: &'a str,
}

/// A configured service account grant.
pub(super) struct ServiceAccount {
    key: EncodingKey,
    key_id: Option<String>,
    client_email: String,
    /// The JWT audience: the key's `token_uri`, even when requests go to `token_url`.
    audience: String,
    token_url: Url,
    scope: String,
    subject: Option<String>,
}

impl ServiceAccount {
    /// `token_url` overrides where the token request goes; `None` means the key's `token_uri`.
    pub(super) fn new(
        account: AccountKey<'_>,
        token_url: Option<&str>,
        scopes: &[String],
        subject: Option<&str>,
    ) -> Result<Self, SourceError> {
        // Errors name the field, never the key material.
        let key = EncodingKey::from_rsa_pem(account.private_key_pem.as_bytes()).map_err(|_| {
            SourceError::Setup(
                "auth.credentials: the key's `private_key` is not a PEM RSA private key (hint: use the JSON key file exactly as Google issued it)".into(),
            )
        })?;
        let target = token_url.unwrap_or(account.token_uri);
        let token_url = Url::parse(target).map_err(|err| {
            SourceError::Setup(format!(
                "auth: token URL `{target}` is not a URL: {err} (hint: write it like https://oauth2.googleapis.com/token)"
            ))
        })?;
        Ok(ServiceAccount {
            key,
            key_id: account.key_id.map(str::to_string),
            client_email: account.client_email.to_string(),
            audience: account.token_uri.to_string(),
            token_url,
            scope: scopes.join(" "),
            subject: subject.map(str::to_string),
        })
    }

    pub(super) fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// The token request: a freshly signed assertion.
    pub(super) fn request(&self) -> Result<TokenRequest, SourceError> {
        let assertion = self.assertion(chrono::Utc::now().timestamp())?;
        Ok(TokenRequest {
            form: vec![
                ("grant_type", JWT_BEARER.to_string()),
                ("assertion", assertion),
            ],
            extra: Vec::new(),
            authorization: None,
        })
    }

    /// The RS256 JWT for `now` (seconds since the epoch).
    fn assertion(&self, now: i64) -> Result<String, SourceError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        let claims = Claims {
            iss: &self.client_email,
            scope: &self.scope,
            aud: &self.audience,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
            sub: self.subject.as_deref(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|err| {
            SourceError::Setup(format!(
                "auth: cannot sign the service account assertion: {err} (hint: check that the key is an RSA key)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::auth::tests::keys;
    use jsonwebtoken::{DecodingKey, Validation};

    fn account(subject: Option<&str>) -> ServiceAccount {
        ServiceAccount::new(
            AccountKey {
                client_email: "reader@proj.iam.gserviceaccount.com",
                private_key_pem: keys::PRIVATE_KEY,
                key_id: Some("kid-1"),
                token_uri: "https://oauth2.googleapis.com/token",
            },
            None,
            &["s1".to_string(), "s2".to_string()],
            subject,
        )
        .unwrap()
    }

    #[test]
    fn assertion_is_signed_and_carries_the_claims() {
        let now = chrono::Utc::now().timestamp();
        let jwt = account(Some("admin@example.com")).assertion(now).unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some("kid-1"));
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["https://oauth2.googleapis.com/token"]);
        validation.set_issuer(&["reader@proj.iam.gserviceaccount.com"]);
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &jwt,
            &DecodingKey::from_rsa_pem(keys::PUBLIC_KEY.as_bytes()).unwrap(),
            &validation,
        )
        .unwrap();
        let claims = decoded.claims;
        assert_eq!(claims["scope"], "s1 s2");
        assert_eq!(claims["sub"], "admin@example.com");
        assert_eq!(claims["iat"], now);
        assert_eq!(claims["exp"], now + 3600);
    }

    #[test]
    fn no_subject_means_no_sub_claim() {
        let jwt = account(None).assertion(0).unwrap();
        let payload = jwt.split('.').nth(1).unwrap();
        let json =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert!(claims.get("sub").is_none(), "{claims}");
    }

    #[test]
    fn a_bad_key_is_a_setup_error_that_does_not_quote_it() {
        let err = ServiceAccount::new(
            AccountKey {
                client_email: "a@b",
                private_key_pem: "-----BEGIN PRIVATE KEY-----\nNOTAKEY\n-----END PRIVATE KEY-----",
                key_id: None,
                token_uri: "https://oauth2.googleapis.com/token",
            },
            None,
            &["s".to_string()],
            None,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("private_key"), "{err}");
        assert!(!err.contains("NOTAKEY"), "{err}");
    }
}
