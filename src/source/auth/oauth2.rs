//! OAuth 2.0 client credentials grant (RFC 6749 section 4.4), with the client proving itself
//! by a secret (HTTP Basic or form fields) or by a JWT signed with its private key
//! (`private_key_jwt`, RFC 7523 section 2.2).

use base64::Engine as _;
use reqwest::header::HeaderValue;
use serde::Serialize;
use url::Url;

use super::token::TokenRequest;
use crate::model::Secret;
use crate::source::auth::client_key::{ClientKey, ClientProof};
use crate::source::SourceError;

/// `client_assertion_type` of RFC 7523 section 2.2.
const JWT_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long a client assertion is valid: it is used at once, so a few minutes of clock skew
/// are all it needs to survive.
const ASSERTION_LIFETIME_SECS: i64 = 300;

/// The claims of a client assertion (RFC 7523 section 3; OpenID Connect Core section 9).
#[derive(Debug, Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// A configured client credentials grant.
pub(super) struct ClientCredentials {
    token_url: Url,
    /// The token URL as configured: the assertion's default audience, exactly as written.
    token_url_text: String,
    client_id: String,
    proof: ClientProof,
    /// Space-separated scopes, `None` when there are none (the field is then left out).
    scope: Option<String>,
    audience: Option<String>,
    /// The refresh token, when the grant is `refresh_token` (RFC 6749 section 6) rather than
    /// `client_credentials`.
    refresh_token: Option<Secret>,
    /// The `grant_type` field: `client_credentials` unless the provider names another.
    grant_type: String,
    /// Further form fields the provider wants (Zoom's `account_id`).
    extra: Vec<(String, String)>,
}

impl ClientCredentials {
    pub(super) fn new(
        token_url: Url,
        token_url_text: &str,
        client_id: &str,
        proof: ClientProof,
        scopes: &[String],
        audience: Option<&str>,
    ) -> Self {
        ClientCredentials {
            token_url,
            token_url_text: token_url_text.to_string(),
            client_id: client_id.to_string(),
            proof,
            scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
            audience: audience.map(str::to_string),
            refresh_token: None,
            grant_type: "client_credentials".to_string(),
            extra: Vec::new(),
        }
    }

    /// The same client, asking with the refresh token grant instead.
    pub(super) fn with_refresh_token(self, refresh_token: Secret) -> Self {
        ClientCredentials {
            refresh_token: Some(refresh_token),
            ..self
        }
    }

    /// The same grant with another `grant_type` and further form fields (checked at load
    /// not to repeat the standard ones).
    pub(super) fn with_grant(
        mut self,
        grant_type: &str,
        params: &std::collections::BTreeMap<String, String>,
    ) -> Self {
        self.grant_type = grant_type.to_string();
        self.extra = params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self
    }

    pub(super) fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// The client secret; `None` for a key.
    #[cfg(test)]
    pub(super) fn secret(&self) -> Option<&str> {
        match &self.proof {
            ClientProof::Basic(secret) | ClientProof::Body(secret) => Some(secret.expose()),
            ClientProof::PrivateKeyJwt(_) => None,
        }
    }

    /// Whether the client signs assertions rather than sending a secret.
    pub(super) fn uses_key(&self) -> bool {
        matches!(self.proof, ClientProof::PrivateKeyJwt(_))
    }

    /// The token request: `grant_type=client_credentials`, scope and audience, and the client
    /// credential: HTTP Basic, form fields, or a freshly signed client assertion.
    pub(super) fn request(&self) -> Result<TokenRequest, SourceError> {
        let mut form = match &self.refresh_token {
            Some(token) => vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", token.expose().to_string()),
            ],
            None => vec![("grant_type", self.grant_type.clone())],
        };
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.clone()));
        }
        if let Some(audience) = &self.audience {
            form.push(("audience", audience.clone()));
        }

        let authorization = match &self.proof {
            ClientProof::Basic(secret) => Some(self.basic_authorization(secret)?),
            ClientProof::Body(secret) => {
                form.push(("client_id", self.client_id.clone()));
                form.push(("client_secret", secret.expose().to_string()));
                None
            }
            ClientProof::PrivateKeyJwt(key) => {
                form.push(("client_id", self.client_id.clone()));
                form.push(("client_assertion_type", JWT_ASSERTION.to_string()));
                form.push((
                    "client_assertion",
                    self.assertion(key, chrono::Utc::now().timestamp())?,
                ));
                None
            }
        };
        Ok(TokenRequest {
            form,
            extra: self.extra.clone(),
            authorization,
        })
    }

    /// A client assertion for `now` (seconds since the epoch): issuer and subject are the
    /// client id, the audience the token URL, and a random `jti` makes each one unique.
    fn assertion(&self, key: &ClientKey, now: i64) -> Result<String, SourceError> {
        let claims = AssertionClaims {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: key.audience.as_deref().unwrap_or(&self.token_url_text),
            jti: format!("{:032x}", rand::random::<u128>()),
            iat: now,
            nbf: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&key.header(), &claims, &key.key).map_err(|err| {
            SourceError::Setup(format!(
                "auth.private_key: cannot sign the client assertion: {err} (hint: check that the key matches auth.algorithm)"
            ))
        })
    }

    /// `client_secret_basic`: RFC 6749 section 2.3.1 form-encodes the id and secret before
    /// joining them, so a `:` or `%` in either survives the trip.
    fn basic_authorization(&self, secret: &Secret) -> Result<HeaderValue, SourceError> {
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", encode(&self.client_id), encode(secret.expose()));
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        crate::redact::register(&encoded);
        // Base64 output is always a valid header value; the error arm is for completeness.
        let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|_| {
            SourceError::Setup("auth: cannot build the token request's Authorization header".into())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(credentials_in_body: bool) -> ClientCredentials {
        let secret = Secret::new("p:w%d");
        ClientCredentials::new(
            Url::parse("https://idp.example/token").unwrap(),
            "https://idp.example/token",
            "my client",
            if credentials_in_body {
                ClientProof::Body(secret)
            } else {
                ClientProof::Basic(secret)
            },
            &["a".to_string(), "b.read".to_string()],
            Some("https://api.example"),
        )
    }

    #[test]
    fn basic_client_auth_form_encodes_id_and_secret() {
        let request = grant(false).request().unwrap();
        let header = request.authorization.unwrap();
        assert!(header.is_sensitive());
        let encoded = header.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, b"my+client:p%3Aw%25d");
        assert_eq!(
            request.form,
            vec![
                ("grant_type", "client_credentials".to_string()),
                ("scope", "a b.read".to_string()),
                ("audience", "https://api.example".to_string()),
            ]
        );
    }

    #[test]
    fn body_client_auth_sends_form_fields_and_no_header() {
        let request = grant(true).request().unwrap();
        assert!(request.authorization.is_none());
        assert!(request
            .form
            .contains(&("client_id", "my client".to_string())));
        assert!(request
            .form
            .contains(&("client_secret", "p:w%d".to_string())));
    }

    #[test]
    fn private_key_jwt_sends_a_signed_assertion_instead_of_a_secret() {
        use crate::source::auth::tests::keys;
        use jsonwebtoken::{Algorithm, DecodingKey, Validation};
        let config: crate::source::auth::config::AuthConfig = toml::from_str(&format!(
            "kind = \"oauth2_client_credentials\"\ntoken_url = \"https://idp.example/oauth2/v1/token\"\nclient_id = \"0oa-client\"\nclient_auth = \"private_key_jwt\"\nkey_id = \"k1\"\nprivate_key = '''{}'''\ncertificate = '''{}'''",
            keys::PRIVATE_KEY,
            keys::CERTIFICATE
        ))
        .unwrap();
        let proof = config.client_proof().unwrap().unwrap();
        let grant = ClientCredentials::new(
            Url::parse("https://idp.example/oauth2/v1/token").unwrap(),
            "https://idp.example/oauth2/v1/token",
            "0oa-client",
            proof,
            &["okta.logs.read".to_string()],
            None,
        );
        assert!(grant.uses_key());
        assert_eq!(grant.secret(), None);
        let request = grant.request().unwrap();
        assert!(request.authorization.is_none());
        let field = |name: &str| {
            request
                .form
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no {name} in {:?}", request.form))
        };
        assert_eq!(field("client_id"), "0oa-client");
        assert_eq!(field("client_assertion_type"), JWT_ASSERTION);
        assert!(!request.form.iter().any(|(k, _)| *k == "client_secret"));
        let jwt = field("client_assertion");
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some("k1"));
        assert_eq!(header.x5t_s256.as_deref(), Some(keys::CERTIFICATE_X5T_S256));
        assert!(header.x5t.is_some());
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["https://idp.example/oauth2/v1/token"]);
        validation.set_issuer(&["0oa-client"]);
        validation.sub = Some("0oa-client".into());
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            &jwt,
            &DecodingKey::from_rsa_pem(keys::PUBLIC_KEY.as_bytes()).unwrap(),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            300
        );
        // Every assertion is unique.
        let again = grant.request().unwrap();
        assert_ne!(
            again.form.iter().find(|(k, _)| *k == "client_assertion"),
            request.form.iter().find(|(k, _)| *k == "client_assertion")
        );
    }

    #[test]
    fn refresh_token_grant_sends_the_refresh_token_and_the_client_secret() {
        let config: crate::source::auth::config::AuthConfig = toml::from_str(
            "kind = \"oauth2_refresh_token\"\ntoken_url = \"https://api.example/oauth2/token\"\nclient_id = \"app\"\nclient_secret = \"s3cret\"\nrefresh_token = \"r-token\"\nclient_auth = \"body\"",
        )
        .unwrap();
        assert!(config.validate().is_ok());
        let grant = ClientCredentials::new(
            Url::parse("https://api.example/oauth2/token").unwrap(),
            "https://api.example/oauth2/token",
            "app",
            ClientProof::Body(Secret::new("s3cret")),
            &[],
            None,
        )
        .with_refresh_token(Secret::new("r-token"));
        let request = grant.request().unwrap();
        assert!(request.authorization.is_none());
        assert_eq!(
            request.form,
            vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", "r-token".to_string()),
                ("client_id", "app".to_string()),
                ("client_secret", "s3cret".to_string()),
            ]
        );
        // A key cannot prove a refresh-token client, and an empty refresh token is refused.
        for (bad, field) in [
            ("client_auth = \"private_key_jwt\"", "auth.client_auth"),
            (
                "client_auth = \"basic\"\nrefresh_token = \"\"",
                "auth.refresh_token",
            ),
        ] {
            let text = format!(
                "kind = \"oauth2_refresh_token\"\ntoken_url = \"https://api.example/oauth2/token\"\nclient_id = \"app\"\nclient_secret = \"s\"\n{}{bad}",
                if bad.contains("refresh_token") { "" } else { "refresh_token = \"r\"\n" }
            );
            let config: crate::source::auth::config::AuthConfig = toml::from_str(&text).unwrap();
            let err = config.validate().unwrap_err().to_string();
            assert!(err.starts_with(field), "{err}");
        }
    }

    #[test]
    fn another_grant_type_and_extra_fields_are_sent() {
        let params =
            std::collections::BTreeMap::from([("account_id".to_string(), "A1".to_string())]);
        let grant = ClientCredentials::new(
            Url::parse("https://idp.example/token").unwrap(),
            "https://idp.example/token",
            "id",
            ClientProof::Basic(Secret::new("s")),
            &[],
            None,
        )
        .with_grant("account_credentials", &params);
        let request = grant.request().unwrap();
        assert_eq!(
            request.form,
            vec![("grant_type", "account_credentials".to_string())]
        );
        assert_eq!(
            request.extra,
            vec![("account_id".to_string(), "A1".to_string())]
        );
    }

    #[test]
    fn no_scopes_means_no_scope_field() {
        let grant = ClientCredentials::new(
            Url::parse("https://idp.example/token").unwrap(),
            "https://idp.example/token",
            "id",
            ClientProof::Basic(Secret::new("s")),
            &[],
            None,
        );
        let form = grant.request().unwrap().form;
        assert_eq!(form, vec![("grant_type", "client_credentials".to_string())]);
    }
}
