//! HashiCorp Vault, KV secrets engine version 2: `GET /v1/<mount>/data/<path>` with
//! `X-Vault-Token`; the keys are in `data.data`.
//!
//! Configured like the `vault` CLI: `VAULT_ADDR`, `VAULT_TOKEN` (or the `~/.vault-token` file
//! that `vault login` writes), `VAULT_NAMESPACE` (Vault Enterprise / HCP) and `VAULT_CACERT`
//! (a PEM file of CA certificates to trust).

use reqwest::header::HeaderValue;
use url::Url;

use super::http::{self, excerpt, shown};
use super::SecretError;
use crate::model::Secret;

/// A Vault client with the environment's address and token.
pub(super) struct Client {
    http: reqwest::Client,
    address: Url,
    token: HeaderValue,
    namespace: Option<HeaderValue>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Client {
    /// Reads address, token, namespace and CA certificates from the environment.
    pub(super) fn from_env() -> Result<Client, SecretError> {
        let address = var("VAULT_ADDR").ok_or_else(|| {
            SecretError::Setup(
                "VAULT_ADDR is not set (hint: export VAULT_ADDR=https://vault.example.com:8200)"
                    .to_string(),
            )
        })?;
        let address = Url::parse(address.trim()).map_err(|err| {
            SecretError::Setup(format!("VAULT_ADDR `{address}` is not a URL: {err} (hint: write it like https://vault.example.com:8200)"))
        })?;
        let token = match var("VAULT_TOKEN") {
            Some(token) => token,
            None => token_file()?,
        };
        // Sluice's own credential for the manager is scrubbed like the secrets it fetches.
        crate::redact::register(token.trim());
        let mut token = HeaderValue::from_str(token.trim()).map_err(|_| {
            SecretError::Setup("the Vault token contains characters not allowed in an HTTP header (hint: check VAULT_TOKEN or ~/.vault-token for stray quotes)".to_string())
        })?;
        token.set_sensitive(true);
        let namespace = match var("VAULT_NAMESPACE") {
            Some(ns) => Some(HeaderValue::from_str(ns.trim()).map_err(|_| {
                SecretError::Setup(format!("VAULT_NAMESPACE `{ns}` is not a valid header value (hint: write the namespace path, e.g. admin/team)"))
            })?),
            None => None,
        };
        let ca_file = var("VAULT_CACERT").map(std::path::PathBuf::from);
        let http = http::client(ca_file)
            .map_err(|err| err.map_message(|e| format!("VAULT_CACERT: {e}")))?;
        Ok(Client {
            http,
            address,
            token,
            namespace,
        })
    }

    /// The secret's current version's keys, as a JSON object.
    pub(super) async fn read(&self, mount: &str, path: &str) -> Result<Secret, SecretError> {
        let url = self.data_url(mount, path)?;
        let shown_url = shown(&url);
        let answer = http::send(|| {
            let mut request = self
                .http
                .get(url.clone())
                .header("X-Vault-Token", self.token.clone());
            if let Some(namespace) = &self.namespace {
                request = request.header("X-Vault-Namespace", namespace.clone());
            }
            Ok(request)
        })
        .await
        .map_err(|err| err.map_message(|detail| {
            format!("Vault at {shown_url}: {detail} (hint: check VAULT_ADDR and that Vault is reachable and unsealed; VAULT_CACERT names a CA to trust)")
        }))?;
        if !answer.status.is_success() {
            return Err(refusal(
                &shown_url,
                mount,
                path,
                answer.status,
                &answer.body,
            ));
        }
        let parsed: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|_| {
            SecretError::BadResponse(format!("Vault at {shown_url} answered with a body that is not JSON (hint: check that VAULT_ADDR is Vault's address)"))
        })?;
        match &parsed["data"]["data"] {
            data @ serde_json::Value::Object(_) => Ok(Secret::new(data.to_string())),
            _ => Err(SecretError::BadResponse(format!(
                "Vault at {shown_url} answered without data.data (hint: the mount `{mount}` may be a KV version 1 engine or the secret's current version deleted; sluice reads KV version 2)"
            ))),
        }
    }

    /// `<VAULT_ADDR>/v1/<mount>/data/<path>`, each path segment encoded.
    fn data_url(&self, mount: &str, path: &str) -> Result<Url, SecretError> {
        let mut url = self.address.clone();
        url.path_segments_mut()
            .map_err(|_| {
                SecretError::Setup(format!("VAULT_ADDR {} cannot take a path (hint: write it like https://vault.example.com:8200)", shown(&self.address)))
            })?
            .pop_if_empty()
            .extend(["v1", mount, "data"])
            .extend(path.split('/').filter(|s| !s.is_empty()));
        Ok(url)
    }
}

/// The token `vault login` saved in `~/.vault-token`.
fn token_file() -> Result<String, SecretError> {
    let missing = || {
        SecretError::Setup("no Vault token: VAULT_TOKEN is not set and ~/.vault-token does not exist (hint: export VAULT_TOKEN, or run `vault login` as the user that runs sluice)".to_string())
    };
    let home = std::env::var_os("HOME").ok_or_else(missing)?;
    let file = std::path::Path::new(&home).join(".vault-token");
    match std::fs::read_to_string(&file) {
        Ok(token) if !token.trim().is_empty() => Ok(token),
        Ok(_) => Err(SecretError::Setup(format!(
            "{} is empty (hint: export VAULT_TOKEN, or run `vault login` again)",
            file.display()
        ))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(missing()),
        Err(err) => Err(SecretError::Setup(format!(
            "cannot read {}: {err} (hint: export VAULT_TOKEN instead)",
            file.display()
        ))),
    }
}

/// The error for a non-2xx answer: Vault's `errors`, and a hint.
fn refusal(
    shown_url: &str,
    mount: &str,
    path: &str,
    status: reqwest::StatusCode,
    body: &[u8],
) -> SecretError {
    let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let errors: Vec<&str> = parsed["errors"]
        .as_array()
        .map(|list| list.iter().filter_map(|e| e.as_str()).collect())
        .unwrap_or_default();
    let message = if errors.is_empty() {
        match excerpt(&String::from_utf8_lossy(body)) {
            text if text.is_empty() || text == "{\"errors\":[]}" => "no message".to_string(),
            text => text,
        }
    } else {
        excerpt(&errors.join("; "))
    };
    let hint = match status.as_u16() {
        403 => format!("the token may have expired, lack a policy with `read` on {mount}/data/{path}, or belong to another namespace (VAULT_NAMESPACE)"),
        404 => format!("no secret at {mount}/{path}: write the path as `vault kv get` takes it (mount/path, without /data/), check that `{mount}` is a KV version 2 mount, and VAULT_NAMESPACE"),
        503 => "Vault is sealed or in standby; unseal it or point VAULT_ADDR at the active node".to_string(),
        429 | 500..=599 => "Vault is failing; try again later".to_string(),
        _ => "check the path, the token and VAULT_NAMESPACE".to_string(),
    };
    // Vault answers 403 for a bad or expired token as for a missing policy: both are the
    // credential's permission, which the hint spells out.
    SecretError::from_status(
        status,
        format!(
            "Vault at {shown_url} answered HTTP {}: {message} (hint: {hint})",
            status.as_u16()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_put_data_after_the_mount() {
        let client = Client {
            http: reqwest::Client::new(),
            address: Url::parse("https://vault.example.com:8200").unwrap(),
            token: HeaderValue::from_static("t"),
            namespace: None,
        };
        assert_eq!(
            client.data_url("secret", "sluice/okta").unwrap().as_str(),
            "https://vault.example.com:8200/v1/secret/data/sluice/okta"
        );
    }

    #[test]
    fn refusals_quote_vault_and_hint_at_the_policy() {
        let err = refusal(
            "https://v/v1/secret/data/x",
            "secret",
            "x",
            reqwest::StatusCode::FORBIDDEN,
            br#"{"errors":["permission denied"]}"#,
        );
        assert!(matches!(err, SecretError::Permission(_)), "{err:?}");
        let err = err.to_string();
        assert!(err.contains("HTTP 403: permission denied"), "{err}");
        assert!(err.contains("`read` on secret/data/x"), "{err}");
    }
}
