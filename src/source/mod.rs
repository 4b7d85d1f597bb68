//! Sources: fetching pages of audit events from an HTTP API.
//!
//! [`HttpSource::fetch`] turns one request (a window plus a page reference) into a [`Page`]:
//! the records with their times and ids, and how to ask for the next page. It keeps no
//! position of its own; the runtime owns the checkpoint.

pub mod auth;
pub mod canary;
mod compact;
pub mod config;
mod cursor;
pub mod files;
pub(crate) mod http;
pub mod link_secrets;
pub mod metrics;
pub(crate) mod page;
pub(crate) mod pagination;
pub mod path;
mod rate_limit;
mod raw;
mod raw_path;
pub(crate) mod records;
pub mod request;
pub mod template;
pub mod window;

use url::Url;

pub use http::RetryWatch;
pub use raw::RawJson;
pub use records::{lookup, Record};

use crate::model::FailureKind;
use crate::state::{PageRef, Window};
use config::{RecordsMissing, SourceConfig};
use http::HttpClient;
use request::RequestBuilder;

/// Errors from fetching and reading a page. Each names the URL (without credentials).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source could not be set up from its config.
    #[error("{0}")]
    Setup(String),
    /// A setting the source's own checks refuse (its `auth` table), at its key path.
    #[error("{0}")]
    Invalid(#[from] crate::model::Problem),
    /// A saved next-page link that cannot be followed with the credentials the source has now.
    #[error("{0}")]
    SavedLink(#[from] link_secrets::LinkSecretsError),
    /// The connection failed or timed out.
    #[error("{url}: {detail} (hint: check base_url and that the host is reachable from here)")]
    Transport {
        /// Page URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The token endpoint could not be reached, or its answer not read.
    #[error("{url}: {detail} (hint: check auth.token_url (for Google, the key's token_uri) and that the token endpoint is reachable from here)")]
    TokenEndpoint {
        /// Token endpoint URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The API answered with an error status.
    #[error("{url}: HTTP {status}: {body}{}", status_hint(*status))]
    Status {
        /// Page URL.
        url: String,
        /// HTTP status code.
        status: u16,
        /// Start of the response body.
        body: String,
    },
    /// The API answered a rate-limit status other than 429 (a 403 with `Retry-After` or a
    /// remaining count of 0), waited out like a 429.
    #[error("{url}: HTTP {status} with rate-limit headers: {body} (hint: the API's rate limit is spent, not a permission missing; Sluice waits for its reset up to rate_limit.max_wait; set rate_limit.requests_per_minute to stay under the limit)")]
    RateLimited {
        /// Page URL.
        url: String,
        /// HTTP status code.
        status: u16,
        /// Start of the response body.
        body: String,
    },
    /// The body is not JSON.
    #[error("{url}: response is not JSON ({detail}); it starts with {preview:?} (hint: check base_url and path point at the API, not a web page)")]
    NotJson {
        /// Page URL.
        url: String,
        /// Parser message.
        detail: String,
        /// First bytes of the body.
        preview: String,
    },
    /// The body is larger than `http.max_response_size`.
    #[error("{url}: response is larger than {limit} (hint: lower the page size with the API's limit parameter, or raise http.max_response_size)")]
    TooLarge {
        /// Page URL.
        url: String,
        /// The cap.
        limit: String,
    },
    /// The API answered with a redirect, which is not followed.
    #[error("{url}: HTTP {status} redirect to {location} (hint: Sluice does not follow redirects, so the credential never leaves base_url; set base_url and path to the final location)")]
    Redirect {
        /// Page URL.
        url: String,
        /// HTTP status code (3xx).
        status: u16,
        /// Where the redirect points, without user info or query.
        location: String,
    },
    /// A pagination link points outside the configured origin.
    #[error("{url}: refusing to follow a next-page link outside {origin}, which the credential is configured for")]
    ForeignOrigin {
        /// The refused URL.
        url: String,
        /// The configured origin.
        origin: String,
    },
    /// The response does not have the shape the config describes.
    #[error("{url}: {detail}")]
    Shape {
        /// Page URL.
        url: String,
        /// What did not match, naming the config path.
        detail: String,
    },
    /// Every attempt failed.
    #[error("gave up after {attempts} attempts; last error: {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        last: Box<SourceError>,
    },
}

impl SourceError {
    /// What kind of failure this is, for the circuit breaker, metrics and `status`.
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            SourceError::Setup(_)
            | SourceError::Invalid(_)
            | SourceError::SavedLink(_)
            | SourceError::Redirect { .. } => FailureKind::Config,
            SourceError::Transport { .. } | SourceError::TokenEndpoint { .. } => {
                FailureKind::Network
            }
            SourceError::Status { status, .. } => match status {
                401 => FailureKind::Auth,
                403 => FailureKind::Permission,
                429 => FailureKind::RateLimited,
                500..=599 => FailureKind::Server,
                // A wrong path (404) or parameters the API refuses (400, 422): the config.
                _ => FailureKind::Config,
            },
            SourceError::RateLimited { .. } => FailureKind::RateLimited,
            SourceError::NotJson { .. }
            | SourceError::TooLarge { .. }
            | SourceError::ForeignOrigin { .. }
            | SourceError::Shape { .. } => FailureKind::BadResponse,
            SourceError::GaveUp { last, .. } => last.failure_kind(),
        }
    }
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 => " (hint: the credential was rejected; check the token and its auth prefix)",
        403 => " (hint: the credential lacks permission for this endpoint)",
        404 => " (hint: check base_url and path)",
        400 => " (hint: the API rejected the request parameters; check query and window settings)",
        _ => "",
    }
}

/// One page of a window.
#[derive(Debug)]
pub struct Page {
    /// The URL fetched, without credentials, for logs and errors.
    pub url: String,
    /// [`request::PageRequest::digest`] of the request that fetched it, to recognise a page
    /// requested again.
    pub request: u64,
    /// Records in the order the API sent them.
    pub records: Vec<Record>,
    /// The next page of the window, or `None` when the window is done.
    pub next: Option<PageRef>,
    /// Time spent reading the body: finding the records and each one's time and id (for
    /// `sluice bench`'s stage times).
    pub parse: std::time::Duration,
}

/// A configured HTTP API.
pub struct HttpSource {
    config: SourceConfig,
    /// `base_url`, which file locations are taken from.
    base: Url,
    requests: RequestBuilder,
    client: HttpClient,
}

impl HttpSource {
    /// Builds the source from its config.
    pub fn new(config: &SourceConfig) -> Result<Self, SourceError> {
        let base = Url::parse(&config.base_url)
            .map_err(|err| SourceError::Setup(format!("base_url `{}`: {err}", config.base_url)))?;
        let client = HttpClient::new(&base, &config.auth, &config.http, &config.rate_limit)?
            .labelled(&config.name);
        Ok(HttpSource {
            base,
            config: config.clone(),
            requests: RequestBuilder::new(config)?,
            client,
        })
    }

    /// The source's config.
    pub fn config(&self) -> &SourceConfig {
        &self.config
    }

    /// Fetches one page of `listing`: its first page when `page` is `None`.
    pub async fn fetch(
        &self,
        listing: &Window,
        page: Option<&PageRef>,
    ) -> Result<Page, SourceError> {
        self.fetch_watched(listing, page, &RetryWatch::default())
            .await
    }

    /// As [`HttpSource::fetch`], noting failed attempts in `watch` while they are retried.
    pub async fn fetch_watched(
        &self,
        listing: &Window,
        page: Option<&PageRef>,
        watch: &RetryWatch,
    ) -> Result<Page, SourceError> {
        let request = self.requests.build(listing, page)?;
        let shown = self.client.display(&request.url);
        let http::PageBody {
            mut response,
            records,
            parsed_in,
        } = self
            .client
            .send(
                &request,
                (&self.config.records_path, self.config.records_shape),
                watch,
            )
            .await?;
        let reading = std::time::Instant::now();
        let shape = |detail: String| SourceError::Shape {
            url: shown.clone(),
            detail,
        };
        // The records stay slices of the body; pagination reads only what is around them
        // (cursors, flags, links, with the records array as null) and their count.
        let raw = match records {
            Some(records) => records,
            None => page_records(
                &mut response.body,
                &self.config.records_path,
                self.config.records_missing,
            )
            .map_err(shape)?,
        };
        // Parsed only when the cursor is read from it (Stripe's `starting_after`).
        let last_record = match &self.config.pagination {
            config::PaginationConfig::Cursor {
                from_last_record: true,
                ..
            } => raw
                .last()
                .map(|record| record.to_value())
                .transpose()
                .map_err(|err| shape(format!("the last record is not JSON: {err}")))?,
            _ => None,
        };
        let fetched = pagination::Fetched {
            response: &response,
            url: &request.url,
            page,
            records: raw.len(),
            page_size: self.config.page_size,
            secrets: self.client.link_secrets(),
            last_record: last_record.as_ref(),
        };
        let next = pagination::next_page(&self.config.pagination, &fetched)
            .map_err(|detail| shape(format!("{detail} (config: pagination)")))?;
        let mut records =
            raw.into_iter()
                .enumerate()
                .map(|(index, data)| {
                    records::to_record(data, &self.config.event_time, &self.config.event_id)
                        .map_err(|detail| {
                            shape(format!(
                                "record {index}: {detail} (config: event_time / event_id)"
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
        if self.config.event_id.path.is_none() && self.config.event_id.distinct_equal_records {
            records::number_repeats(&mut records);
        }
        Ok(Page {
            url: shown,
            request: request.digest(),
            records,
            next,
            parse: parsed_in + reading.elapsed(),
        })
    }

    /// Fetches the file the listed `file` names (`files` sources): its URL, without
    /// credentials, and its bytes. Only `base_url`'s origin is asked, with the source's
    /// credentials, retries and rate limit; a file over `files.max_size` fails.
    pub async fn fetch_file(
        &self,
        file: &Record,
        watch: &RetryWatch,
    ) -> Result<(String, Vec<u8>), SourceError> {
        let Some(files) = &self.config.files else {
            return Err(SourceError::Setup(format!(
                "source `{}` lists no files (no `files` key)",
                self.config.name
            )));
        };
        let shape = |detail: String| SourceError::Shape {
            url: self.client.display(&self.base),
            detail,
        };
        let location =
            files::location(file, &files.url_path).map_err(|error| shape(error.to_string()))?;
        let url = self.base.join(&location).map_err(|err| {
            shape(format!(
                "record {}: the file location at `{}` is not a URL or path ({err}) (config: files.url_path)",
                file.id, files.url_path
            ))
        })?;
        let request = request::PageRequest {
            method: config::HttpMethod::Get,
            url,
            headers: vec![("Accept".to_string(), "text/csv, */*".to_string())],
            body: None,
        };
        let expected = match &files.length_path {
            Some(path) => {
                files::expected_length(file, path).map_err(|error| shape(error.to_string()))?
            }
            None => None,
        };
        let shown = self.client.display(&request.url);
        match self
            .client
            .fetch_file(&request, files.max_size.as_u64(), expected, watch)
            .await
        {
            Ok(body) => Ok((shown, body)),
            Err(SourceError::TooLarge { url, limit }) => Err(SourceError::Shape {
                url,
                detail: format!(
                    "the file of record {} is larger than files.max_size ({limit}) (hint: raise files.max_size; a run holds one file in memory at a time)",
                    file.id
                ),
            }),
            Err(error) => Err(error),
        }
    }

    /// The URL of the first page of `listing`, without credentials, for messages.
    pub fn shown_url(&self, listing: &Window) -> Option<String> {
        let request = self.requests.build(listing, None).ok()?;
        Some(self.client.display(&request.url))
    }

    /// The [`request::PageRequest::digest`] of the request that would fetch `next` in
    /// `listing`, after checking that it goes to the configured origin (a link elsewhere is
    /// [`SourceError::ForeignOrigin`], before anything is saved or sent).
    pub fn next_request(&self, listing: &Window, next: &PageRef) -> Result<u64, SourceError> {
        let request = self.requests.build(listing, Some(next))?;
        self.client.check_origin(&request.url)?;
        Ok(request.digest())
    }
}

/// Moves the records out of `body`, a tree in which the page parse found no records array.
/// `Err` names `records_path` and, when the array alone is missing, says how to accept that.
fn page_records(
    body: &mut serde_json::Value,
    records_path: &path::JsonPath,
    missing: RecordsMissing,
) -> Result<Vec<RawJson>, String> {
    let only_array_missing = records_path.only_last_key_missing(body);
    if missing == RecordsMissing::Empty && only_array_missing {
        return Ok(Vec::new());
    }
    let records = records::take_records(body, records_path).map_err(|detail| {
        let hint = if only_array_missing {
            " (hint: if the API leaves the array out when there are no records, set records_missing = \"empty\")"
        } else {
            ""
        };
        // What the body holds instead (an API's error document sent with HTTP 200, such as
        // LastPass's `{"status": "FAIL", "error": [...]}`), short.
        let held: String = body.to_string().chars().take(200).collect();
        format!("{detail} (config: records_path = {records_path:?}){hint}; the body holds {held}")
    })?;
    Ok(records.iter().map(RawJson::from_value).collect())
}

impl SourceError {
    /// Whether the message names the URL that failed (a page, a next link or the token
    /// endpoint).
    pub fn names_url(&self) -> bool {
        match self {
            SourceError::Setup(text) => text.contains("://"),
            SourceError::Invalid(_) | SourceError::SavedLink(_) => false,
            SourceError::GaveUp { last, .. } => last.names_url(),
            _ => true,
        }
    }

    /// Whether the API rejected the request itself (4xx other than auth and rate limits):
    /// for a saved page reference, the sign of an expired or invalid cursor.
    pub fn is_rejected_request(&self) -> bool {
        let status = match self {
            SourceError::Status { status, .. } => *status,
            SourceError::GaveUp { last, .. } => return last.is_rejected_request(),
            _ => return false,
        };
        (400..500).contains(&status) && ![401, 403, 407, 408, 429].contains(&status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_auth_setting_or_a_saved_link_the_auth_cannot_fill_is_a_config_failure() {
        // Not retried, and `status` and the exit code say "config", as before they were
        // typed; neither names a URL, so `check` adds the source's.
        let auth = auth::config::AuthConfig::Bearer {
            token: crate::model::Secret::new(""),
            prefix: "Bearer".into(),
        };
        let invalid = SourceError::from(auth.validate().unwrap_err());
        assert!(invalid.to_string().starts_with("auth.token: "), "{invalid}");
        let gone = SourceError::from(link_secrets::LinkSecretsError::Gone {
            role: "auth.key".into(),
        });
        for error in [invalid, gone] {
            assert_eq!(error.failure_kind(), FailureKind::Config, "{error}");
            assert!(!error.names_url(), "{error}");
        }
    }

    #[test]
    fn a_missing_records_array_is_an_empty_page_only_when_configured() {
        let path = path::JsonPath::parse("items").unwrap();
        // Google Workspace Reports leaves `items` out of an empty window's answer.
        let quiet = json!({"kind": "admin#reports#activities", "etag": "\"x\""});
        let err = page_records(&mut quiet.clone(), &path, RecordsMissing::Error).unwrap_err();
        assert!(err.contains("no `items`"), "{err}");
        assert!(err.contains("records_missing = \"empty\""), "{err}");
        assert!(
            page_records(&mut quiet.clone(), &path, RecordsMissing::Empty)
                .unwrap()
                .is_empty()
        );
        // A body of another shape altogether still fails, "empty" or not.
        let nested = path::JsonPath::parse("data.items").unwrap();
        let error_doc = json!({"errors": [{"message": "denied"}]});
        for missing in [RecordsMissing::Error, RecordsMissing::Empty] {
            let err = page_records(&mut error_doc.clone(), &nested, missing).unwrap_err();
            assert!(err.contains("no `data.items`"), "{err}");
            assert!(!err.contains("records_missing"), "{err}");
        }
        // Records that are there are taken either way; a wrong type is still an error.
        let full = json!({"items": [{"a": 1}]});
        assert_eq!(
            page_records(&mut full.clone(), &path, RecordsMissing::Empty)
                .unwrap()
                .len(),
            1
        );
        assert!(page_records(&mut json!({"items": 3}), &path, RecordsMissing::Empty).is_err());
    }
}
