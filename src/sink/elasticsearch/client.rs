//! One `POST /_bulk` request: URL, credentials, body encoding, and what the answer means.
//! Retrying is the caller's job, because only it knows which items to send again.

use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::StatusCode;
use url::Url;

use super::bulk::{self, BulkItem, ItemResult};
use super::options::{BulkCompression, ElasticsearchAuth};
use crate::net::{ClientOptions, NetError};
use crate::sink::config::ElasticsearchConfig;
use crate::sink::SinkError;

/// Largest response body read. A response lists a few hundred bytes per item at most.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Only what the sink reads from a response, which keeps big responses small. Elasticsearch
/// and OpenSearch both support `filter_path`.
const FILTER_PATH: &str = "errors,items.*.status,items.*._index,items.*.error";

/// Why a request did not give item results.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Worth another attempt (429, 5xx, timeouts, connection errors, unreadable answers),
    /// after `wait` if the server said how long.
    Retry {
        error: String,
        wait: Option<Duration>,
    },
    /// The body is larger than the cluster or a proxy accepts (413): send fewer documents.
    TooLarge(String),
    /// Will not get better by retrying (credentials, wrong URL): stops the run.
    Fatal(String),
}

/// Sends bulk requests to one cluster with one credential.
pub(crate) struct BulkClient {
    http: reqwest::Client,
    /// `<base>/_bulk?filter_path=...[&pipeline=...]`.
    url: Url,
    /// The `_bulk` URL without query, for messages.
    shown: String,
    authorization: Option<HeaderValue>,
    /// Every form of the credential, removed from any text the server sends back before it
    /// reaches a message or a log.
    secrets: Vec<String>,
    compression: BulkCompression,
}

impl BulkClient {
    /// A client for the configured cluster. Fails on what cannot work: an unreadable CA file,
    /// a TLS setup the HTTP library refuses.
    pub fn new(config: &ElasticsearchConfig) -> Result<Self, SinkError> {
        let fail = |detail: String| SinkError {
            sink: config.name.clone(),
            detail,
        };
        let mut base = config.base_url().map_err(|p| fail(p.to_string()))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut url = base
            .join("_bulk")
            .map_err(|e| fail(format!("cannot build the _bulk URL from {base}: {e}")))?;
        let shown = url.to_string();
        url.query_pairs_mut()
            .append_pair("filter_path", FILTER_PATH);
        if let Some(pipeline) = &config.pipeline {
            url.query_pairs_mut().append_pair("pipeline", pipeline);
        }

        let auth = config.auth().map_err(|p| fail(p.to_string()))?;
        let (authorization, secrets) = authorization(&auth).map_err(|()| {
            fail("the credential cannot be sent in an HTTP header (hint: check api_key, or username and password, for control characters)".into())
        })?;

        let mut options = ClientOptions::new(config.timeout);
        options.connect_timeout = config.connect_timeout;
        options.ca_file = config.ca_file.clone();
        // A redirect could carry the credential elsewhere, and a redirected POST may lose its
        // body: `url` must point at the cluster itself (the client follows none).
        let http = options.build().map_err(|e| match e {
            NetError::CaFile { .. } => fail(format!(
                "{e} (hint: Elasticsearch 8 writes its CA to config/certs/http_ca.crt)"
            )),
            _ => fail(e.to_string()),
        })?;
        Ok(BulkClient {
            http,
            url,
            shown,
            authorization,
            secrets,
            compression: config.compression,
        })
    }

    /// The `_bulk` URL as shown in messages (no credentials, no query).
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// `text` with every form of the credential replaced by `[redacted]`. Server messages do
    /// not normally echo credentials; this makes sure.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.secrets {
            if !secret.is_empty() {
                text = text.replace(secret.as_str(), "[redacted]");
            }
        }
        text
    }

    /// Sends `items` as one bulk request and returns one result per item, in order.
    pub async fn send(&self, items: &[BulkItem]) -> Result<Vec<ItemResult>, Failure> {
        let body = bulk::body(items, self.compression)
            .map_err(|e| Failure::Fatal(format!("cannot compress the request body: {e}")))?;
        let mut request = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/x-ndjson")
            .header("Accept", "application/json");
        if self.compression == BulkCompression::Gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let mut response = request
            .body(body)
            .send()
            .await
            .map_err(|err| Failure::Retry {
                error: self.redact(&describe_reqwest(&err)),
                wait: None,
            })?;
        let status = response.status();
        let wait = crate::net::retry_after(response.headers());
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = crate::net::read_capped(&mut response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|error| Failure::Retry {
                error: self.redact(&error.to_string()),
                wait: None,
            })?;
        if status.is_success() {
            // An unreadable answer is retried: truncation in transit looks the same as a
            // proxy's error page, and resending is harmless (`create` is idempotent).
            return bulk::parse_response(&body, items.len()).map_err(|error| Failure::Retry {
                error: self.redact(&error.to_string()),
                wait: None,
            });
        }
        let reason = self.redact(&bulk::describe_body(status.as_u16(), &body));
        Err(classify_status(status, reason, wait, location))
    }
}

/// What a whole-request status means.
fn classify_status(
    status: StatusCode,
    reason: String,
    wait: Option<Duration>,
    location: Option<String>,
) -> Failure {
    match status.as_u16() {
        401 | 403 => Failure::Fatal(format!(
            "{reason} (hint: check api_key, or username and password; the credential needs the `create_doc` privilege on the target, and `auto_configure` if the index or data stream must be created)"
        )),
        413 => Failure::TooLarge(reason),
        408 | 429 | 500 | 502..=599 => Failure::Retry {
            error: reason,
            wait,
        },
        300..=399 => Failure::Fatal(format!(
            "{reason}, redirecting to {} (hint: set `url` to the address the cluster answers on)",
            location.as_deref().unwrap_or("an unnamed location")
        )),
        404 | 405 => Failure::Fatal(format!(
            "{reason} (hint: is `url` the Elasticsearch or OpenSearch address, not Kibana's or a proxy's?)"
        )),
        _ => Failure::Fatal(format!(
            "{reason} (hint: the cluster refused the whole request; check `pipeline` and the cluster's logs)"
        )),
    }
}

/// The `Authorization` header value and the strings that must never be shown.
fn authorization(auth: &ElasticsearchAuth) -> Result<(Option<HeaderValue>, Vec<String>), ()> {
    let engine = base64::engine::general_purpose::STANDARD;
    let (value, secrets) = match auth {
        ElasticsearchAuth::None => return Ok((None, Vec::new())),
        ElasticsearchAuth::ApiKey(key) => {
            let key = key.expose().trim();
            // The `encoded` form is base64, which has no ':'; `id:api_key` is encoded here.
            let encoded = if key.contains(':') {
                engine.encode(key)
            } else {
                key.to_string()
            };
            let mut secrets = vec![key.to_string(), encoded.clone()];
            if let Some((_, api_key)) = key.split_once(':') {
                secrets.push(api_key.to_string());
            }
            (format!("ApiKey {encoded}"), secrets)
        }
        ElasticsearchAuth::Basic { username, password } => {
            let encoded = engine.encode(format!("{username}:{}", password.expose()));
            (
                format!("Basic {encoded}"),
                vec![password.expose().to_string(), encoded],
            )
        }
    };
    let mut header = HeaderValue::from_str(&value).map_err(|_| ())?;
    // Kept out of HTTP-library debug output.
    header.set_sensitive(true);
    Ok((Some(header), secrets))
}

/// reqwest's error with its causes (see [`crate::net::describe`]), plus what to do
/// about a timeout on a bulk request.
fn describe_reqwest(err: &reqwest::Error) -> String {
    let text = crate::net::describe(err);
    if err.is_timeout() {
        format!("{text} (hint: raise `timeout`, or lower max_batch_bytes)")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Secret;

    #[test]
    fn api_keys_are_sent_encoded_and_marked_sensitive() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("key-id:key-secret");
        let (header, secrets) =
            authorization(&ElasticsearchAuth::ApiKey(Secret::new(encoded.clone()))).unwrap();
        let header = header.unwrap();
        assert!(header.is_sensitive());
        assert_eq!(header.to_str().unwrap(), format!("ApiKey {encoded}"));
        assert_eq!(secrets, vec![encoded.clone(), encoded.clone()]);
        // `id:api_key` is encoded: the same header as above.
        let (header, secrets) =
            authorization(&ElasticsearchAuth::ApiKey(Secret::new("key-id:key-secret"))).unwrap();
        assert_eq!(
            header.unwrap().to_str().unwrap(),
            format!("ApiKey {encoded}")
        );
        assert!(secrets.contains(&"key-secret".to_string()));
        assert!(secrets.contains(&encoded));
    }

    #[test]
    fn redaction_removes_every_form_of_the_credential() {
        let config: ElasticsearchConfig = toml::from_str(
            "name = \"es\"\nurl = \"http://127.0.0.1:9\"\nindex = \"a\"\nusername = \"u\"\npassword = \"s3cr3t-pw\"",
        )
        .unwrap();
        let client = BulkClient::new(&config).unwrap();
        let basic = base64::engine::general_purpose::STANDARD.encode("u:s3cr3t-pw");
        let shown = client.redact(&format!("bad password s3cr3t-pw in Basic {basic}"));
        assert_eq!(shown, "bad password [redacted] in Basic [redacted]");
    }

    #[test]
    fn basic_auth_is_user_colon_password_in_base64() {
        let (header, _) = authorization(&ElasticsearchAuth::Basic {
            username: "Aladdin".into(),
            password: Secret::new("open sesame"),
        })
        .unwrap();
        assert_eq!(
            header.unwrap().to_str().unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn the_bulk_url_keeps_a_path_prefix_and_carries_the_pipeline() {
        let config: ElasticsearchConfig = toml::from_str(
            "name = \"es\"\nurl = \"https://proxy.example/es\"\nindex = \"a\"\npipeline = \"enrich\"",
        )
        .unwrap();
        let client = BulkClient::new(&config).unwrap();
        assert_eq!(client.shown_url(), "https://proxy.example/es/_bulk");
        assert_eq!(client.url.path(), "/es/_bulk");
        let query: Vec<(String, String)> = client.url.query_pairs().into_owned().collect();
        assert!(
            query.contains(&("pipeline".into(), "enrich".into())),
            "{query:?}"
        );
        assert!(query.iter().any(|(k, _)| k == "filter_path"), "{query:?}");
    }

    #[test]
    fn whole_request_statuses() {
        let f = |code: u16| {
            classify_status(
                StatusCode::from_u16(code).unwrap(),
                format!("HTTP {code}"),
                None,
                None,
            )
        };
        assert!(matches!(f(401), Failure::Fatal(r) if r.contains("hint")));
        assert!(matches!(f(403), Failure::Fatal(_)));
        assert!(matches!(f(413), Failure::TooLarge(_)));
        assert!(matches!(f(429), Failure::Retry { .. }));
        assert!(matches!(f(503), Failure::Retry { .. }));
        assert!(matches!(f(501), Failure::Fatal(_)));
        assert!(matches!(f(404), Failure::Fatal(r) if r.contains("Kibana")));
        assert!(matches!(f(400), Failure::Fatal(_)));
    }
}
