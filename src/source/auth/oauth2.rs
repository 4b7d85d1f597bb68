//! OAuth 2.0 client credentials grant (RFC 6749 section 4.4).

use base64::Engine as _;
use reqwest::header::HeaderValue;
use url::Url;

use super::token::TokenRequest;
use crate::config::Secret;
use crate::source::SourceError;

/// A configured client credentials grant.
pub(super) struct ClientCredentials {
    token_url: Url,
    client_id: String,
    client_secret: Secret,
    /// Space-separated scopes, `None` when there are none (the field is then left out).
    scope: Option<String>,
    audience: Option<String>,
    /// `client_secret_post` when true, `client_secret_basic` otherwise.
    credentials_in_body: bool,
}

impl ClientCredentials {
    pub(super) fn new(
        token_url: Url,
        client_id: &str,
        client_secret: &Secret,
        scopes: &[String],
        audience: Option<&str>,
        credentials_in_body: bool,
    ) -> Self {
        ClientCredentials {
            token_url,
            client_id: client_id.to_string(),
            client_secret: client_secret.clone(),
            scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
            audience: audience.map(str::to_string),
            credentials_in_body,
        }
    }

    pub(super) fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// The token request: `grant_type=client_credentials`, scope and audience, and the client
    /// credentials either as HTTP Basic or as form fields.
    pub(super) fn request(&self) -> Result<TokenRequest, SourceError> {
        let mut form = vec![("grant_type", "client_credentials".to_string())];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.clone()));
        }
        if let Some(audience) = &self.audience {
            form.push(("audience", audience.clone()));
        }
        let authorization = if self.credentials_in_body {
            form.push(("client_id", self.client_id.clone()));
            form.push(("client_secret", self.client_secret.expose().to_string()));
            None
        } else {
            Some(self.basic_authorization()?)
        };
        Ok(TokenRequest {
            form,
            authorization,
        })
    }

    /// `client_secret_basic`: RFC 6749 section 2.3.1 form-encodes the id and secret before
    /// joining them, so a `:` or `%` in either survives the trip.
    fn basic_authorization(&self) -> Result<HeaderValue, SourceError> {
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!(
            "{}:{}",
            encode(&self.client_id),
            encode(self.client_secret.expose())
        );
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
        ClientCredentials::new(
            Url::parse("https://idp.example/token").unwrap(),
            "my client",
            &Secret::new("p:w%d"),
            &["a".to_string(), "b.read".to_string()],
            Some("https://api.example"),
            credentials_in_body,
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
    fn no_scopes_means_no_scope_field() {
        let grant = ClientCredentials::new(
            Url::parse("https://idp.example/token").unwrap(),
            "id",
            &Secret::new("s"),
            &[],
            None,
            false,
        );
        let form = grant.request().unwrap().form;
        assert_eq!(form, vec![("grant_type", "client_credentials".to_string())]);
    }
}
