//! The generic HTTP sink: batches of envelopes POSTed to one URL, as NDJSON or a JSON array.
//!
//! Delivery is at least once: an endpoint has no idempotent write we could rely on, so a batch
//! sent just before a crash is sent again by the replay. Each envelope carries `event_id` for
//! receivers that deduplicate.

use std::io::Write;
use std::time::Duration;

use async_trait::async_trait;
use flate2::write::GzEncoder;
use reqwest::StatusCode;

use super::{Published, Rejected, Sink, SinkError};
pub mod config;

use crate::source::auth::Authenticator;
use crate::transform::Envelope;
use config::{BatchFormat, HttpSinkConfig};

/// The longest pause between two attempts, whatever the endpoint asks.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// A [`Sink`] POSTing batches to an HTTP endpoint.
pub struct HttpSink {
    config: HttpSinkConfig,
    url: url::Url,
    client: reqwest::Client,
    auth: Authenticator,
    batch: Vec<Envelope>,
    /// Each batched event serialized once, when written.
    lines: Vec<Vec<u8>>,
    batch_bytes: usize,
    sent: Published,
    rejected: Vec<Rejected>,
}

impl HttpSink {
    /// Builds the sink; fails on a bad URL or auth setting.
    pub fn new(config: &HttpSinkConfig) -> Result<Self, SinkError> {
        let fail = |detail: String| SinkError {
            sink: config.name.clone(),
            detail,
        };
        let url = url::Url::parse(&config.url).map_err(|e| {
            fail(format!(
                "url `{}` is not a URL: {e} (hint: write it like https://collector.example/ingest)",
                config.url
            ))
        })?;
        let mut options = crate::net::ClientOptions::new(config.timeout);
        options.ca_file = config.ca_file.clone();
        let client = options.build().map_err(|e| fail(e.to_string()))?;
        let auth =
            Authenticator::new(&config.auth, client.clone()).map_err(|e| fail(e.to_string()))?;
        Ok(HttpSink {
            config: config.clone(),
            url,
            client,
            auth,
            batch: Vec::new(),
            lines: Vec::new(),
            batch_bytes: 0,
            sent: Published::default(),
            rejected: Vec::new(),
        })
    }

    fn error(&self, detail: String) -> SinkError {
        SinkError {
            sink: self.config.name.clone(),
            detail,
        }
    }

    /// The request body for the current batch.
    fn body(&self) -> Result<Vec<u8>, SinkError> {
        let mut body = Vec::with_capacity(self.batch_bytes + self.batch.len() + 2);
        if self.config.format == BatchFormat::JsonArray {
            body.push(b'[');
        }
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 && self.config.format == BatchFormat::JsonArray {
                body.push(b',');
            }
            body.extend_from_slice(line);
            if self.config.format == BatchFormat::Ndjson {
                body.push(b'\n');
            }
        }
        if self.config.format == BatchFormat::JsonArray {
            body.push(b']');
        }
        if !self.config.gzip {
            return Ok(body);
        }
        let mut encoder = GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        encoder
            .write_all(&body)
            .and_then(|()| encoder.finish())
            .map_err(|e| self.error(format!("cannot compress a batch: {e}")))
    }

    /// Sends the current batch, retrying what may succeed later. A batch the endpoint refuses
    /// with a 4xx is rejected event by event (to the dead-letter queue); refused credentials
    /// stop the sink instead, since every later batch would fail the same way.
    async fn flush(&mut self) -> Result<(), SinkError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let body = self.body()?;
        let mut delays = crate::net::backoff(Duration::from_millis(200), MAX_PAUSE);
        let mut attempt = 1;
        let outcome = loop {
            let result = self.send_once(&body).await;
            let (retry, asked) = match &result {
                Ok((status, wait)) => (
                    *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
                    *wait,
                ),
                Err(_) => (true, None),
            };
            if !retry || attempt >= self.config.max_attempts {
                break result.map(|(status, _)| status);
            }
            // The endpoint's own `Retry-After` first, within the backoff's ceiling.
            let pause = asked
                .or_else(|| delays.next())
                .unwrap_or(MAX_PAUSE)
                .min(MAX_PAUSE);
            tokio::time::sleep(pause).await;
            attempt += 1;
        };
        let status = outcome.map_err(|detail| {
            self.error(format!(
                "{}: {detail} (gave up after {attempt} attempts)",
                self.url
            ))
        })?;
        match status {
            s if s.is_success() => {
                self.sent.objects += 1;
                self.sent.bytes += body.len() as u64;
            }
            StatusCode::TOO_MANY_REQUESTS => {
                // Throttled, not refused: the events are fine, so they must not go to the
                // dead-letter queue. The run fails and the next one sends them again.
                return Err(self.error(format!("{}: HTTP 429 Too Many Requests after {attempt} attempts; the checkpoint did not move, the next run sends these events again (hint: raise max_attempts, or ask for a higher limit at the endpoint)", self.url)))
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(self.error(format!("{}: HTTP {status}: the endpoint refused the credentials (hint: check the sink's auth)", self.url)))
            }
            s if s.is_client_error() => {
                let reason = format!("{}: HTTP {s}", self.url);
                self.rejected.extend(self.batch.drain(..).map(|event| Rejected { event, error: reason.clone() }));
            }
            other => {
                return Err(self.error(format!("{}: HTTP {other} after {attempt} attempts (hint: check the endpoint's health)", self.url)))
            }
        }
        self.batch.clear();
        self.lines.clear();
        self.batch_bytes = 0;
        Ok(())
    }

    /// One attempt: the status answered and the `Retry-After` it came with.
    async fn send_once(&self, body: &[u8]) -> Result<(StatusCode, Option<Duration>), SendError> {
        let content_type = match self.config.format {
            BatchFormat::Ndjson => "application/x-ndjson",
            BatchFormat::JsonArray => "application/json",
        };
        let mut builder = self
            .client
            .post(self.url.clone())
            .header("Content-Type", content_type);
        if self.config.gzip {
            builder = builder.header("Content-Encoding", "gzip");
        }
        for (name, value) in &self.config.headers {
            builder = builder.header(name, value);
        }
        let mut request = builder
            .body(body.to_vec())
            .build()
            .map_err(SendError::Request)?;
        self.auth
            .authorize(&mut request)
            .await
            .map_err(|e| SendError::Auth(e.to_string()))?;
        let response = self.client.execute(request).await.map_err(|e| {
            if e.is_timeout() {
                SendError::Timeout
            } else {
                SendError::Connect
            }
        })?;
        if response.status() == StatusCode::UNAUTHORIZED && self.auth.invalidate().await {
            return Err(SendError::TokenRejected);
        }
        Ok((
            response.status(),
            crate::net::retry_after(response.headers()),
        ))
    }
}

/// Why one attempt got no answer. The request is never quoted: it holds the credentials.
#[derive(Debug, thiserror::Error)]
enum SendError {
    /// The request could not be built (a header the settings hold is not valid).
    #[error("cannot build the request: {0}")]
    Request(reqwest::Error),
    /// The sink's auth could not sign the request (its own message, e.g. the token endpoint's).
    #[error("{0}")]
    Auth(String),
    /// The endpoint did not answer in time.
    #[error("timed out")]
    Timeout,
    /// The endpoint could not be reached.
    #[error("cannot connect or send")]
    Connect,
    /// The endpoint refused the access token, which was dropped for a new one.
    #[error("the access token was rejected; retrying with a new one")]
    TokenRejected,
}

#[async_trait]
impl Sink for HttpSink {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn write(&mut self, events: &[Envelope]) -> Result<(), SinkError> {
        for event in events {
            // Serialized size, to keep requests under max_batch_bytes; sending awaits, which
            // is the back-pressure a slow endpoint puts on the source.
            let mut line = Vec::with_capacity(event.data.as_str().len() + 160);
            self.config.payload.write(event, &mut line);
            if !self.batch.is_empty()
                && self.batch_bytes + line.len() > self.config.max_batch_bytes.as_u64() as usize
            {
                self.flush().await?;
            }
            self.batch_bytes += line.len();
            self.lines.push(line);
            self.batch.push(event.clone());
            if self.batch.len() >= self.config.max_batch_events {
                self.flush().await?;
            }
        }
        Ok(())
    }

    fn wants_commit(&self) -> bool {
        false
    }

    async fn prepare(&mut self, _batch: &str) -> Result<Option<serde_json::Value>, SinkError> {
        self.flush().await?;
        if self.sent == Published::default() {
            return Ok(None);
        }
        Ok(Some(
            serde_json::json!({ "requests": self.sent.objects, "bytes": self.sent.bytes }),
        ))
    }

    async fn publish(&mut self, _payload: &serde_json::Value) -> Result<Published, SinkError> {
        // Delivered during prepare; nothing to make visible.
        Ok(std::mem::take(&mut self.sent))
    }

    fn take_rejected(&mut self) -> Vec<Rejected> {
        std::mem::take(&mut self.rejected)
    }

    fn fail_when_refused(&self) -> crate::sink::share::Share {
        self.config.fail_when_refused
    }

    async fn discard_staged(&mut self) -> Result<(), SinkError> {
        self.batch.clear();
        self.lines.clear();
        self.batch_bytes = 0;
        self.sent = Published::default();
        Ok(())
    }
}
