//! AWS Secrets Manager: `GetSecretValue` over the JSON protocol, signed with SigV4.
//!
//! Credentials and region come from the standard environment variables only
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` or
//! `AWS_DEFAULT_REGION`); the endpoint from `AWS_ENDPOINT_URL_SECRETS_MANAGER` or
//! `AWS_ENDPOINT_URL` when set. Profiles, SSO, ECS task roles and instance metadata are not
//! read.

use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;
use url::Url;

use super::http::{self, excerpt, shown};
use super::sigv4::{self, Credentials, Scope};
use super::SecretError;
use crate::model::Secret;

const SERVICE: &str = "secretsmanager";
const TARGET: &str = "secretsmanager.GetSecretValue";
const CONTENT: &str = "application/x-amz-json-1.1";

/// Where credentials go missing, said once.
const CREDENTIALS_HINT: &str = "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials); sluice does not read ~/.aws profiles, SSO, ECS task roles or instance metadata, see docs/deployment.md";

/// A Secrets Manager client with the environment's credentials.
pub(super) struct Client {
    http: reqwest::Client,
    credentials: Credentials,
    region: Option<String>,
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER` or `AWS_ENDPOINT_URL`.
    endpoint: Option<Url>,
}

/// The environment variable named `name`, when set and not blank.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Client {
    /// Reads credentials, region and endpoint from the environment.
    pub(super) fn from_env() -> Result<Client, SecretError> {
        let (Some(access_key_id), Some(secret_access_key)) =
            (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
        else {
            return Err(SecretError::Setup(format!(
                "AWS credentials are not set: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are needed (hint: {CREDENTIALS_HINT})"
            )));
        };
        let endpoint = match ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"]
            .iter()
            .find_map(|name| var(name).map(|value| (*name, value)))
        {
            Some((name, value)) => Some(Url::parse(value.trim()).map_err(|err| {
                SecretError::Setup(format!("{name} `{value}` is not a URL: {err} (hint: write it like https://secretsmanager.eu-west-1.amazonaws.com)"))
            })?),
            None => None,
        };
        // Sluice's own credentials for the manager are scrubbed like the secrets it fetches.
        crate::redact::register(secret_access_key.trim());
        let session_token = var("AWS_SESSION_TOKEN");
        if let Some(token) = &session_token {
            crate::redact::register(token.trim());
        }
        Ok(Client {
            http: http::client(None)?,
            credentials: Credentials {
                access_key_id: access_key_id.trim().to_string(),
                secret_access_key: Secret::new(secret_access_key.trim()),
                session_token: session_token.map(|t| Secret::new(t.trim())),
            },
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            endpoint,
        })
    }

    /// The secret's `SecretString`.
    pub(super) async fn get_secret_value(&self, secret_id: &str) -> Result<Secret, SecretError> {
        // A secret named by ARN lives in the ARN's region, whatever the environment says.
        let region = region_of_arn(secret_id)
            .or(self.region.clone())
            .ok_or_else(|| {
                SecretError::Setup("no AWS region is set (hint: export AWS_REGION=eu-west-1 or the region that holds the secret, or name the secret by its ARN)".to_string())
            })?;
        let url = match &self.endpoint {
            Some(url) => url.clone(),
            None => default_endpoint(&region)?,
        };
        let shown_url = shown(&url);
        let host = host_header(&url).ok_or_else(|| {
            SecretError::Setup(format!("the endpoint {shown_url} has no host (hint: check AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL)"))
        })?;
        let body = serde_json::json!({ "SecretId": secret_id }).to_string();
        let answer = http::send(|| {
            let signed = sigv4::sign(
                &sigv4::Request {
                    method: "POST",
                    path: url.path(),
                    query: &[],
                    headers: &[
                        ("content-type", CONTENT),
                        ("host", &host),
                        ("x-amz-target", TARGET),
                    ],
                    payload: body.as_bytes(),
                },
                &self.credentials,
                &Scope {
                    region: &region,
                    service: SERVICE,
                },
                chrono::Utc::now(),
            );
            let mut request = self
                .http
                .post(url.clone())
                .header(CONTENT_TYPE, CONTENT)
                .header("x-amz-target", TARGET)
                .header("x-amz-date", signed.amz_date)
                .header(
                    reqwest::header::AUTHORIZATION,
                    sensitive(signed.authorization.expose())?,
                )
                .body(body.clone());
            if let Some(token) = &signed.session_token {
                request = request.header("x-amz-security-token", sensitive(token.expose())?);
            }
            Ok(request)
        })
        .await
        .map_err(|err| err.map_message(|detail| {
            format!("AWS Secrets Manager at {shown_url}: {detail} (hint: check the network path to the endpoint and the region {region}; AWS_ENDPOINT_URL_SECRETS_MANAGER overrides the endpoint)")
        }))?;
        if !answer.status.is_success() {
            return Err(refusal(&shown_url, &region, answer.status, &answer.body));
        }
        let value: SecretValue = serde_json::from_slice(&answer.body).map_err(|_| {
            SecretError::BadResponse(format!("AWS Secrets Manager at {shown_url} answered HTTP {} with a body that is not a GetSecretValue result (hint: check that the endpoint is Secrets Manager's)", answer.status.as_u16()))
        })?;
        match value {
            SecretValue {
                secret_string: Some(text),
                ..
            } => Ok(Secret::new(text)),
            SecretValue {
                secret_binary: Some(_),
                ..
            } => Err(SecretError::Unusable("the secret holds binary data (SecretBinary), not text (hint: store it as a secret string, JSON key/value pairs for #KEY)".into())),
            _ => Err(SecretError::BadResponse(format!("AWS Secrets Manager at {shown_url} returned no SecretString (hint: check that the secret has a current value)"))),
        }
    }
}

/// The fields of a `GetSecretValue` result that matter here.
#[derive(Deserialize)]
struct SecretValue {
    #[serde(rename = "SecretString")]
    secret_string: Option<String>,
    #[serde(rename = "SecretBinary")]
    secret_binary: Option<serde_json::Value>,
}

/// A header value carrying a secret: marked sensitive so that it stays out of debug output.
fn sensitive(text: &str) -> Result<reqwest::header::HeaderValue, SecretError> {
    let mut value = reqwest::header::HeaderValue::from_str(text).map_err(|_| {
        SecretError::Setup("the AWS credentials contain characters not allowed in an HTTP header (hint: check AWS_SESSION_TOKEN and AWS_ACCESS_KEY_ID for stray quotes or newlines)".to_string())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// The region part of `arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME`.
fn region_of_arn(secret_id: &str) -> Option<String> {
    let mut parts = secret_id.split(':');
    (parts.next() == Some("arn"))
        .then(|| parts.nth(2))
        .flatten()
        .filter(|region| !region.is_empty())
        .map(str::to_string)
}

/// `https://secretsmanager.REGION.amazonaws.com` (`.amazonaws.com.cn` in China).
fn default_endpoint(region: &str) -> Result<Url, SecretError> {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Url::parse(&format!("https://{SERVICE}.{region}.{suffix}/")).map_err(|err| {
        SecretError::Setup(format!("region `{region}` does not make an endpoint URL: {err} (hint: check AWS_REGION, e.g. eu-west-1)"))
    })
}

/// The `Host` header the HTTP client sends for `url`: the port only when it is not the
/// scheme's default (the URL type already drops a default port).
fn host_header(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// The error for a non-2xx answer: the status, AWS's error type and message, and a hint;
/// its variant by AWS's error type (AWS answers 400 for most refusals), else by the status.
fn refusal(shown_url: &str, region: &str, status: reqwest::StatusCode, body: &[u8]) -> SecretError {
    let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    // `__type` may be namespaced: `com.amazonaws.secretsmanager#ResourceNotFoundException`.
    let kind = parsed["__type"]
        .as_str()
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
        .unwrap_or_default();
    let message = parsed["message"]
        .as_str()
        .or(parsed["Message"].as_str())
        .map(excerpt)
        .unwrap_or_else(|| excerpt(&String::from_utf8_lossy(body)));
    let hint = match kind.as_str() {
        "ResourceNotFoundException" => format!("check the secret's name (or use its ARN) and that it lives in region {region}"),
        "AccessDeniedException" => "allow secretsmanager:GetSecretValue on this secret (and kms:Decrypt on its KMS key) for the credentials in use".into(),
        "UnrecognizedClientException" | "InvalidSignatureException" | "IncompleteSignatureException" | "SignatureDoesNotMatch" => format!("AWS refused the credentials: {CREDENTIALS_HINT}"),
        "ExpiredTokenException" => "the temporary credentials have expired: refresh AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN".into(),
        "DecryptionFailure" => "Secrets Manager cannot decrypt the secret with its KMS key: allow kms:Decrypt for the credentials in use".into(),
        "InvalidRequestException" => "the secret may be scheduled for deletion or have no current version".into(),
        _ if status.is_server_error() || status.as_u16() == 429 => "Secrets Manager is failing or throttling; try again later".into(),
        _ => format!("check the credentials, the region {region} and the secret's name"),
    };
    let shown_kind = if kind.is_empty() {
        String::new()
    } else {
        format!(" {kind}")
    };
    let text = format!(
        "AWS Secrets Manager at {shown_url} answered HTTP {}{shown_kind}: {message} (hint: {hint})",
        status.as_u16()
    );
    match kind.as_str() {
        "ResourceNotFoundException" | "InvalidRequestException" => SecretError::NotFound(text),
        "AccessDeniedException" | "DecryptionFailure" => SecretError::Permission(text),
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignatureException"
        | "SignatureDoesNotMatch"
        | "ExpiredTokenException" => SecretError::Auth(text),
        _ => SecretError::from_status(status, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arn_names_its_region() {
        assert_eq!(
            region_of_arn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:okta-AbCdEf")
                .as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_of_arn("prod/okta"), None);
        assert_eq!(region_of_arn("arn:aws"), None);
    }

    #[test]
    fn endpoints_follow_the_region_and_host_headers_keep_explicit_ports() {
        assert_eq!(
            default_endpoint("eu-west-1").unwrap().as_str(),
            "https://secretsmanager.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            default_endpoint("cn-north-1").unwrap().host_str(),
            Some("secretsmanager.cn-north-1.amazonaws.com.cn")
        );
        let local = Url::parse("http://127.0.0.1:4566").unwrap();
        assert_eq!(host_header(&local).as_deref(), Some("127.0.0.1:4566"));
        let default_port = Url::parse("https://example.com:443/").unwrap();
        assert_eq!(host_header(&default_port).as_deref(), Some("example.com"));
    }

    #[test]
    fn refusals_carry_status_type_message_and_a_hint() {
        let body = br#"{"__type":"com.amazonaws.secretsmanager#AccessDeniedException","Message":"User: arn:aws:iam::1:user/x is not authorized"}"#;
        let err = refusal(
            "https://sm/",
            "eu-west-1",
            reqwest::StatusCode::BAD_REQUEST,
            body,
        );
        assert!(matches!(err, SecretError::Permission(_)), "{err:?}");
        let err = err.to_string();
        assert!(
            err.contains(
                "HTTP 400 AccessDeniedException: User: arn:aws:iam::1:user/x is not authorized"
            ),
            "{err}"
        );
        assert!(
            err.contains("hint: allow secretsmanager:GetSecretValue"),
            "{err}"
        );
    }
}
