//! The HTTP client of a source: auth, origin safety, retries with backoff, rate-limit waits,
//! size caps and JSON decoding.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use super::auth::Authenticator;
use super::link_secrets::LinkSecrets;
use super::path::JsonPath;
use super::rate_limit::{
    forbidden_by_quota, none_remaining, rate_limited, reset_wait, retry_after, server_wait,
};
use super::raw::RawJson;
use super::request::PageRequest;
use super::SourceError;
use crate::model::FailureKind;
use crate::net::{self, BodyError, ClientOptions, NetError};
use crate::source::auth::config::AuthConfig;
use crate::source::config::{HttpConfig, HttpMethod, RateLimitConfig, RecordsShape};

/// A decoded response: headers for pagination, body as JSON.
#[derive(Debug)]
pub struct JsonResponse {
    /// Response headers.
    pub headers: HeaderMap,
    /// The parsed body; without its records when they were found (see [`PageBody`]).
    pub body: Value,
}

/// A page's response: the records, slices of the body, and the rest of it as a tree.
#[derive(Debug)]
pub struct PageBody {
    /// Headers, and the body with the records array (if found) replaced by `null`.
    pub response: JsonResponse,
    /// The records, when the records path holds an array.
    pub records: Option<Vec<RawJson>>,
    /// How long parsing the body took.
    pub parsed_in: Duration,
}

/// What went wrong with one attempt, and whether another may succeed.
enum Attempt {
    /// Worth retrying, after `wait` if the server said how long.
    Retry {
        error: SourceError,
        wait: Option<Duration>,
    },
    /// Will not get better by retrying.
    Fatal(SourceError),
}

/// What the attempts at one request have met so far, readable while the request is still
/// being retried: a run stopped (by `--deadline` or a signal) in the middle of retries must
/// report the outage as a failure, not as work left for later.
#[derive(Debug, Default)]
pub struct RetryWatch {
    failing: Mutex<Option<(FailureKind, String)>>,
}

impl RetryWatch {
    /// Notes a failed attempt that is about to be retried. Rate limiting (429) is the API
    /// working as agreed, not an outage, and is not noted.
    fn note(&self, error: &SourceError) {
        if matches!(
            error,
            SourceError::Status { status: 429, .. } | SourceError::RateLimited { .. }
        ) {
            return;
        }
        *self.failing.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((error.failure_kind(), error.to_string()));
    }

    /// The last failure of an attempt that is being retried, if any, with its kind.
    pub fn failing(&self) -> Option<(FailureKind, String)> {
        self.failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// An HTTP client bound to one source's origin and credential, with the source's request
/// budget and retry budget.
pub struct HttpClient {
    client: reqwest::Client,
    origin: url::Origin,
    auth: Authenticator,
    /// Query parameters that carry a secret (an API key), hidden when URLs are shown.
    secret_params: Vec<String>,
    config: HttpConfig,
    rate: RateLimitConfig,
    limiter: Option<DefaultDirectRateLimiter>,
    /// Retries left in this run, over all pages.
    retries_left: AtomicU32,
    /// Set when the API said no requests remain until its reset.
    paused_until: Mutex<Option<Instant>>,
    /// The source's name, which labels the client's metrics.
    label: String,
}

impl HttpClient {
    /// Builds the client; `base_url` fixes the only origin credentials are sent to.
    pub fn new(
        base_url: &Url,
        auth: &AuthConfig,
        config: &HttpConfig,
        rate: &RateLimitConfig,
    ) -> Result<Self, SourceError> {
        let options = ClientOptions {
            connect_timeout: config.connect_timeout,
            timeout: config.timeout,
            ca_file: config.ca_file.clone(),
            roots: Vec::new(),
            identity: config.client_cert.clone().zip(config.client_key.clone()),
            insecure_skip_verify: config.insecure_skip_verify,
        };
        if config.insecure_skip_verify {
            tracing::warn!(base_url = %base_url, "TLS certificate verification is OFF for this source (http.insecure_skip_verify): anyone on the network path can read its credential");
        }
        let client = options.build().map_err(|err| match err {
            NetError::Build(_) => SourceError::Setup(err.to_string()),
            _ => SourceError::Setup(format!("http.{err}")),
        })?;
        // Sources that share a credential and connect alike share its token.
        let transport = format!(
            "ca_file={:?} insecure={} client_cert={:?} client_key={:?}",
            config.ca_file, config.insecure_skip_verify, config.client_cert, config.client_key
        );
        let auth = Authenticator::shared(auth, client.clone(), &transport)?;
        let secret_params = auth.secret_query_params();
        let limiter = match rate.requests_per_minute.and_then(NonZeroU32::new) {
            Some(per_minute) => {
                let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
                Some(RateLimiter::direct(
                    Quota::per_minute(per_minute).allow_burst(burst),
                ))
            }
            None => None,
        };
        Ok(HttpClient {
            client,
            origin: base_url.origin(),
            auth,
            secret_params,
            config: config.clone(),
            rate: rate.clone(),
            limiter,
            retries_left: AtomicU32::new(config.max_retries_per_run),
            paused_until: Mutex::new(None),
            label: String::new(),
        })
    }

    /// The same client, its metrics labelled with source `name` (registered at zero).
    pub fn labelled(mut self, name: &str) -> Self {
        super::metrics::register(name);
        self.label = name.to_string();
        self
    }

    /// Sends a page request and decodes its JSON body, finding the records at
    /// `records_path`, retrying what is worth retrying. Refuses any URL outside the
    /// configured origin, so a hostile next link never receives the credential.
    pub async fn send(
        &self,
        request: &PageRequest,
        records: (&JsonPath, RecordsShape),
        watch: &RetryWatch,
    ) -> Result<PageBody, SourceError> {
        let limit = self.config.max_response_size.as_u64();
        self.send_reading(request, limit, watch, |shown, headers, body| {
            json_page(shown, headers, body, records)
        })
        .await
    }

    /// Sends a request for a file a listed record names (`files` sources) and returns its
    /// bytes, read under `limit` (a larger body is [`SourceError::TooLarge`]), with the same
    /// origin check, credentials, retries and rate-limit waits as a page. A cut body is
    /// retried like any transport failure: one shorter or longer than `expected` (the length
    /// its listing gave), or, without one, a body cut in transit.
    pub async fn fetch_file(
        &self,
        request: &PageRequest,
        limit: u64,
        expected: Option<u64>,
        watch: &RetryWatch,
    ) -> Result<Vec<u8>, SourceError> {
        self.send_reading(request, limit, watch, |shown, _, body| match expected {
            Some(length) if body.len() as u64 != length => Err(Attempt::Retry {
                error: SourceError::Shape {
                    url: shown,
                    detail: format!(
                        "the file came as {} bytes, but its listing gives {length} (files.length_path): cut short in transit?",
                        body.len()
                    ),
                },
                wait: None,
            }),
            _ => Ok(body),
        })
        .await
    }

    /// The retry loop of [`HttpClient::send`] and [`HttpClient::fetch_file`]: `read` turns a
    /// successful body (read under `limit`) into the answer, or asks for a retry.
    async fn send_reading<T>(
        &self,
        request: &PageRequest,
        limit: u64,
        watch: &RetryWatch,
        read: impl Fn(String, HeaderMap, Vec<u8>) -> Result<T, Attempt>,
    ) -> Result<T, SourceError> {
        let url = &request.url;
        self.check_origin(url)?;
        let mut delays = net::backoff(Duration::from_millis(200), self.config.max_backoff);
        let mut attempt = 1;
        let mut refreshed = false;
        loop {
            self.wait_for_budget().await;
            match self.attempt(request, limit, &read).await {
                Ok(response) => return Ok(response),
                // A token the API no longer accepts is replaced exactly once per page.
                Err(Attempt::Fatal(SourceError::Status { status: 401, .. }))
                    if !refreshed && self.auth.invalidate().await =>
                {
                    tracing::info!(url = %self.display(url), "the API rejected the access token; fetching a new one");
                    refreshed = true;
                }
                Err(Attempt::Fatal(error)) => return Err(error),
                Err(Attempt::Retry { error, wait }) => {
                    watch.note(&error);
                    if attempt >= self.config.max_attempts {
                        return Err(SourceError::GaveUp {
                            attempts: attempt,
                            last: Box::new(error),
                        });
                    }
                    if self
                        .retries_left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_err()
                    {
                        return Err(SourceError::GaveUp {
                            attempts: attempt,
                            last: Box::new(SourceError::Setup(format!(
                                "{error}; and the run's retry budget (http.max_retries_per_run = {}) is spent, so the source waits for the next run",
                                self.config.max_retries_per_run
                            ))),
                        });
                    }
                    let delay = match wait {
                        Some(wait) if wait > self.rate.max_wait => {
                            return Err(SourceError::Setup(format!(
                                "{error}; the API asks to wait {}, longer than rate_limit.max_wait ({}); the source waits for the next run",
                                humantime::format_duration(wait),
                                humantime::format_duration(self.rate.max_wait)
                            )))
                        }
                        Some(wait) => wait,
                        None => delays.next().unwrap_or(self.config.max_backoff),
                    };
                    tracing::warn!(url = %self.display(url), attempt, delay_ms = delay.as_millis() as u64, error = %error, "request failed; retrying");
                    super::metrics::retry(&self.label);
                    if wait.is_some() {
                        super::metrics::rate_limit_wait(&self.label, delay);
                    }
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// The source's credentials as next-page links may carry them.
    pub fn link_secrets(&self) -> &LinkSecrets {
        self.auth.link_secrets()
    }

    /// Refuses a URL outside the configured origin: credentials go nowhere else.
    pub fn check_origin(&self, url: &Url) -> Result<(), SourceError> {
        if url.origin() == self.origin {
            return Ok(());
        }
        Err(SourceError::ForeignOrigin {
            url: self.display(url),
            origin: self.origin.ascii_serialization(),
        })
    }

    /// A URL fit for logs and errors: no user info, no secret query parameters.
    pub fn display(&self, url: &Url) -> String {
        if self.secret_params.is_empty() {
            return net::display_url(url);
        }
        let mut shown = url.clone();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let hidden = self.secret_params.iter().any(|p| *p == k);
                (
                    k.into_owned(),
                    if hidden {
                        "[redacted]".to_string()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
        net::display_url(&shown)
    }

    /// Waits out a rate-limit pause the API announced, then takes a token from the budget.
    async fn wait_for_budget(&self) {
        let started = Instant::now();
        self.wait_for_budget_unmeasured().await;
        super::metrics::rate_limit_wait(&self.label, started.elapsed());
    }

    async fn wait_for_budget_unmeasured(&self) {
        let pause = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = pause {
            tokio::time::sleep_until(until.into()).await;
        }
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
    }

    fn build(&self, request: &PageRequest) -> Result<reqwest::Request, Attempt> {
        let mut builder = match request.method {
            HttpMethod::Get => self.client.get(request.url.clone()),
            HttpMethod::Post => self.client.post(request.url.clone()),
        };
        // A configured `Accept` (a versioned media type, e.g. PagerDuty's) replaces the
        // default instead of going out as a second, conflicting value.
        if !request
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("accept"))
        {
            builder = builder.header("Accept", "application/json");
        }
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder
                .header("Content-Type", "application/json")
                .body(body.clone());
        }
        builder.build().map_err(|err| {
            Attempt::Fatal(SourceError::Setup(format!(
                "cannot build a request to {}: {} (hint: check header names and values)",
                self.display(&request.url),
                net::describe(&err)
            )))
        })
    }

    async fn attempt<T>(
        &self,
        request: &PageRequest,
        limit: u64,
        read: &impl Fn(String, HeaderMap, Vec<u8>) -> Result<T, Attempt>,
    ) -> Result<T, Attempt> {
        let shown = self.display(&request.url);
        let mut built = self.build(request)?;
        // Credentials go on last, per attempt: signatures cover the time and the final URL.
        self.auth
            .authorize(&mut built)
            .await
            .map_err(|error| match error {
                SourceError::Setup(_) | SourceError::Invalid(_) | SourceError::SavedLink(_) => {
                    Attempt::Fatal(error)
                }
                other => Attempt::Retry {
                    error: other,
                    wait: None,
                },
            })?;
        let mut response = self.client.execute(built).await.map_err(|err| {
            super::metrics::request(&self.label, None);
            Attempt::Retry {
                error: SourceError::Transport {
                    url: shown.clone(),
                    detail: net::describe(&err),
                },
                wait: None,
            }
        })?;
        let status = response.status();
        super::metrics::request(&self.label, Some(status.as_u16()));
        if status.is_redirection() {
            // Not followed: a redirect could carry the credential to another host.
            return Err(Attempt::Fatal(SourceError::Redirect {
                url: shown,
                status: status.as_u16(),
                location: redirect_target(&request.url, response.headers()),
            }));
        }
        if !status.is_success() {
            let body = net::read_excerpt(&mut response, 2048)
                .await
                .unwrap_or_default();
            let limited = rate_limited(status, response.headers(), &self.rate)
                || forbidden_by_quota(status, &body, &self.rate);
            // A rate-limit reset tells when a rate limit clears; for a 5xx only Retry-After
            // counts (APIs send their reset header on every response, and it says nothing of
            // outages).
            let wait = if limited {
                server_wait(response.headers(), &self.rate)
            } else {
                retry_after(response.headers())
            };
            let (url, code, body) = (
                shown,
                status.as_u16(),
                String::from_utf8_lossy(&body).chars().take(300).collect(),
            );
            // A 403 that carries rate-limit headers (GitHub) is a rate limit, not a missing
            // permission: it is waited out like a 429.
            let error = if limited && status != StatusCode::TOO_MANY_REQUESTS {
                SourceError::RateLimited {
                    url,
                    status: code,
                    body,
                }
            } else {
                SourceError::Status {
                    url,
                    status: code,
                    body,
                }
            };
            return Err(if limited || retryable(status) {
                Attempt::Retry { error, wait }
            } else {
                Attempt::Fatal(error)
            });
        }
        self.note_remaining(response.headers(), &shown);
        let headers = response.headers().clone();
        let body = match net::read_capped(&mut response, limit as usize).await {
            Ok(body) => {
                super::metrics::response_bytes(&self.label, body.len());
                body
            }
            Err(BodyError::TooLarge(_)) => {
                return Err(Attempt::Fatal(SourceError::TooLarge {
                    url: shown,
                    limit: bytesize::ByteSize::b(limit).to_string(),
                }))
            }
            Err(BodyError::Transport(detail)) => {
                return Err(Attempt::Retry {
                    error: SourceError::Transport { url: shown, detail },
                    wait: None,
                })
            }
        };
        read(shown, headers, body)
    }

    /// When the API says no requests remain, pause until its reset (at most `max_wait`).
    fn note_remaining(&self, headers: &HeaderMap, url: &str) {
        if !none_remaining(headers, &self.rate) {
            return;
        }
        let until_reset = reset_wait(headers, &self.rate).unwrap_or(Duration::from_secs(1));
        let wait = until_reset.min(self.rate.max_wait);
        if until_reset > self.rate.max_wait {
            // Said out loud: the next request comes before the reset and may well be refused.
            tracing::warn!(
                url,
                reset_in_s = until_reset.as_secs(),
                max_wait = %humantime::format_duration(self.rate.max_wait),
                "the API says no requests remain until its rate limit resets, later than rate_limit.max_wait; pausing max_wait only (hint: raise rate_limit.max_wait, or set rate_limit.requests_per_minute to stay under the limit)"
            );
        } else {
            tracing::info!(
                url,
                wait_ms = wait.as_millis() as u64,
                "rate limit reached; pausing until it resets"
            );
        }
        *self.paused_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + wait);
    }
}

/// A page's body read as JSON, its records found at `records_path`. A body that is not JSON
/// is retried: truncation in transit looks the same as a server that answers HTML, and only
/// a retry tells them apart. Nesting deeper than 128 levels is refused, which caps hostile
/// bodies.
fn json_page(
    shown: String,
    headers: HeaderMap,
    body: Vec<u8>,
    (records_path, shape): (&JsonPath, RecordsShape),
) -> Result<PageBody, Attempt> {
    let parsing = Instant::now();
    let parsed =
        super::page::parse_shaped(body, records_path, shape).map_err(|err| Attempt::Retry {
            error: SourceError::NotJson {
                url: shown,
                detail: err.detail,
                preview: err.preview,
            },
            wait: None,
        })?;
    Ok(PageBody {
        response: JsonResponse {
            headers,
            body: parsed.rest,
        },
        records: parsed.records,
        parsed_in: parsing.elapsed(),
    })
}

/// Where a redirect points, for the error: resolved against the request, without user info,
/// query or fragment (they may carry tokens).
fn redirect_target(request: &Url, headers: &HeaderMap) -> String {
    let Some(location) = headers.get(reqwest::header::LOCATION) else {
        return "nowhere (no Location header)".to_string();
    };
    let Some(mut target) = std::str::from_utf8(location.as_bytes())
        .ok()
        .and_then(|text| request.join(text.trim()).ok())
    else {
        return "an unreadable Location header".to_string();
    };
    let had_query = target.query().is_some();
    target.set_query(None);
    target.set_fragment(None);
    let shown = net::display_url(&target);
    if had_query {
        format!("{shown} (query not shown)")
    } else {
        shown
    }
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[tokio::test]
    async fn credentials_are_never_sent_to_another_origin() {
        // Nothing listens on these ports: the refusal must come before any connection.
        let base = Url::parse("http://127.0.0.1:9/api").unwrap();
        let auth = AuthConfig::Bearer {
            token: crate::model::Secret::new("t"),
            prefix: "Bearer".into(),
        };
        let client = HttpClient::new(
            &base,
            &auth,
            &HttpConfig::default(),
            &RateLimitConfig::default(),
        )
        .unwrap();
        for foreign in [
            "http://127.0.0.1:10/api?after=x",
            "https://127.0.0.1:9/api",
            "http://evil.example:9/api",
        ] {
            let request = PageRequest {
                method: HttpMethod::Get,
                url: Url::parse(foreign).unwrap(),
                headers: Vec::new(),
                body: None,
            };
            let err = client
                .send(
                    &request,
                    (&JsonPath::default(), RecordsShape::Array),
                    &RetryWatch::default(),
                )
                .await
                .unwrap_err();
            assert!(
                matches!(err, SourceError::ForeignOrigin { .. }),
                "{foreign}: {err}"
            );
        }
    }

    #[test]
    fn a_redirect_target_is_shown_without_secrets() {
        let request = Url::parse("https://api.example.com/v1/logs?token=s3cret").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "location",
            HeaderValue::from_static("https://user:pw@new.example.com/api/logs?key=s3cret#x"),
        );
        let shown = redirect_target(&request, &headers);
        assert_eq!(shown, "https://new.example.com/api/logs (query not shown)");
        headers.insert("location", HeaderValue::from_static("/v2/logs"));
        assert_eq!(
            redirect_target(&request, &headers),
            "https://api.example.com/v2/logs"
        );
        assert!(redirect_target(&request, &HeaderMap::new()).contains("no Location"));
    }

    #[test]
    fn a_retry_watch_notes_outages_but_not_rate_limits() {
        let watch = RetryWatch::default();
        watch.note(&SourceError::Status {
            url: "u".into(),
            status: 429,
            body: String::new(),
        });
        assert_eq!(watch.failing(), None);
        watch.note(&SourceError::Status {
            url: "u".into(),
            status: 503,
            body: "down".into(),
        });
        assert!(watch.failing().unwrap().1.contains("HTTP 503"));
    }

    #[test]
    fn a_configured_accept_replaces_the_default() {
        let base = Url::parse("http://127.0.0.1:9/api").unwrap();
        let auth = AuthConfig::Bearer {
            token: crate::model::Secret::new("t"),
            prefix: "Bearer".into(),
        };
        let client = HttpClient::new(
            &base,
            &auth,
            &HttpConfig::default(),
            &RateLimitConfig::default(),
        )
        .unwrap();
        let mut request = PageRequest {
            method: HttpMethod::Get,
            url: base.clone(),
            headers: Vec::new(),
            body: None,
        };
        let accepts = |request: &PageRequest| -> Vec<String> {
            let built = client.build(request).map_err(|_| "builds").unwrap();
            built
                .headers()
                .get_all("accept")
                .iter()
                .map(|v| v.to_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(accepts(&request), ["application/json"]);
        let versioned = "application/vnd.pagerduty+json;version=2";
        request.headers = vec![("ACCEPT".into(), versioned.into())];
        assert_eq!(accepts(&request), [versioned]);
    }

    #[test]
    fn which_statuses_are_retried() {
        assert!(retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(retryable(StatusCode::BAD_GATEWAY));
        assert!(!retryable(StatusCode::UNAUTHORIZED));
        assert!(!retryable(StatusCode::NOT_FOUND));
    }
}
