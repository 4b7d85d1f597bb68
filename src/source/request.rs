//! Building a page's request from the source's templates, window and page reference.

use serde_json::Value;
use url::Url;

use super::template::{self, Vars};
use super::SourceError;
use crate::model::TimeFormat;
use crate::source::config::{HttpMethod, PaginationConfig, SourceConfig};
use crate::state::{PageRef, Window};
use crate::timefmt::{format_bound, Bound};

/// A request ready to send (credentials are added by the HTTP client, per attempt).
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    /// GET or POST.
    pub method: HttpMethod,
    /// Full URL.
    pub url: Url,
    /// Extra headers from the spec.
    pub headers: Vec<(String, String)>,
    /// JSON body, for POST.
    pub body: Option<Vec<u8>>,
}

impl PageRequest {
    /// A digest of what the request asks for (method, URL and body; credentials are added
    /// later and are not part of it): two requests with the same digest ask for the same
    /// page. Stable across runs and versions, so it can be kept in a checkpoint.
    pub fn digest(&self) -> u64 {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(match self.method {
            HttpMethod::Get => b"GET ",
            HttpMethod::Post => b"POST",
        });
        hasher.update(self.url.as_str().as_bytes());
        hasher.update([0u8]);
        if let Some(body) = &self.body {
            hasher.update(body);
        }
        let digest = hasher.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }
}

/// Turns a source's spec into page requests.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    config: SourceConfig,
    endpoint: Url,
    body: Option<Value>,
    /// The body of every page after a window's first, when the spec has `next_body`.
    next_body: Option<Value>,
    /// The endpoint of every page after a window's first, when the spec has `next_path`.
    next_endpoint: Option<Url>,
}

impl RequestBuilder {
    /// Checks and prepares the spec once: the endpoint URL and the parsed body template.
    pub fn new(config: &SourceConfig) -> Result<Self, SourceError> {
        let base = Url::parse(&config.base_url)
            .map_err(|err| SourceError::Setup(format!("base_url `{}`: {err}", config.base_url)))?;
        let endpoint = base
            .join(&config.path)
            .map_err(|err| SourceError::Setup(format!("path `{}`: {err}", config.path)))?;
        let body = config
            .body
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|err| SourceError::Setup(format!("body is not a JSON template: {err}")))?;
        let next_body = config
            .next_body
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|err| {
                SourceError::Setup(format!("next_body is not a JSON template: {err}"))
            })?;
        let next_endpoint = config
            .next_path
            .as_deref()
            .map(|path| base.join(path))
            .transpose()
            .map_err(|err| SourceError::Setup(format!("next_path: {err}")))?;
        Ok(RequestBuilder {
            config: config.clone(),
            endpoint,
            body,
            next_body,
            next_endpoint,
        })
    }

    /// The request for a page of `listing`: its first page when `page` is `None`.
    pub fn build(
        &self,
        listing: &Window,
        page: Option<&PageRef>,
    ) -> Result<PageRequest, SourceError> {
        let vars = self.vars(listing, page);
        let url = match page {
            Some(PageRef::Url(next)) => Url::parse(next).map_err(|err| {
                SourceError::Setup(format!("saved next-page URL does not parse: {err}"))
            })?,
            // A later page of a cursor listing goes to `next_path` when the spec has one.
            Some(PageRef::Token(_)) => self.url(self.next_endpoint.as_ref(), &vars),
            _ => self.url(None, &vars),
        };
        let headers = self
            .config
            .headers
            .iter()
            .filter_map(|(name, value)| {
                template::render_str(value, &vars).map(|v| (name.clone(), v))
            })
            .collect();
        // A later page of a cursor listing (also one resumed from a checkpoint) is asked
        // with `next_body` when the spec has one: some APIs refuse a continuing request that
        // repeats the first one's range.
        let template = match (page, &self.next_body) {
            (Some(PageRef::Token(_)), Some(next)) => Some(next),
            _ => self.body.as_ref(),
        };
        let body = template.map(|t| {
            // Rendering a parsed JSON value back to bytes cannot fail.
            serde_json::to_vec(&template::render_json(t, &vars)).expect("JSON values serialize")
        });
        Ok(PageRequest {
            method: self.config.method,
            url,
            headers,
            body,
        })
    }

    /// The URL of a request to `endpoint` (the spec's `path` when `None`) with the query.
    fn url(&self, endpoint: Option<&Url>, vars: &Vars) -> Url {
        let mut url = endpoint.unwrap_or(&self.endpoint).clone();
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in &self.config.query {
                for template in value.templates() {
                    if let Some(rendered) = template::render_str(template, vars) {
                        query.append_pair(key, &rendered);
                    }
                }
            }
            if let (
                PaginationConfig::Cursor {
                    param: Some(param), ..
                },
                Some(cursor),
            ) = (&self.config.pagination, &vars.cursor)
            {
                query.append_pair(param, cursor);
            }
        }
        // An endpoint with no query at all should not end in a bare `?`.
        if url.query() == Some("") {
            url.set_query(None);
        }
        url
    }

    fn vars(&self, listing: &Window, page: Option<&PageRef>) -> Vars {
        let format = &self.config.window.format;
        let end = if self.config.window.end_inclusive {
            crate::timefmt::inclusive_end(listing.end, format)
        } else {
            listing.end
        };
        let first_page = match &self.config.pagination {
            PaginationConfig::PageNumber { first, .. } => Some(*first),
            _ => None,
        };
        Vars {
            start: Some(time_value(
                format_bound(listing.start, format, Bound::Start),
                format,
            )),
            end: Some(time_value(format_bound(end, format, Bound::End), format)),
            limit: self.config.page_size,
            cursor: match page {
                Some(PageRef::Token(token)) => Some(token.clone()),
                _ => None,
            },
            offset: match (page, &self.config.pagination) {
                (Some(PageRef::Offset(offset)), _) => Some(*offset),
                (None, PaginationConfig::Offset { .. }) => Some(0),
                _ => None,
            },
            page: match page {
                Some(PageRef::Page(number)) => Some(*number),
                _ => first_page,
            },
        }
    }
}

/// Epoch times are numbers in JSON bodies; everything else is a string.
fn time_value(text: String, format: &TimeFormat) -> Value {
    match format {
        TimeFormat::Rfc3339 | TimeFormat::Strftime(_) => Value::String(text),
        _ => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn source(extra: &str) -> SourceConfig {
        let text = format!(
            r#"
[[sources]]
name = "s"
base_url = "https://api.example.com"
path = "/v1/events"
event_time = {{ path = "t" }}
sinks = ["lake"]
{extra}
[[sinks]]
name = "lake"
kind = "lake"
path = "lake"
"#
        );
        crate::config::load_str(&text, std::path::Path::new("t.toml"))
            .unwrap()
            .sources
            .remove(0)
    }

    fn window() -> Window {
        Window {
            start: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            end: Utc.timestamp_opt(1_700_003_600, 0).unwrap(),
        }
    }

    #[test]
    fn query_templates_render_window_and_cursor() {
        let config = source(
            "query = { since = \"{start}\", until = \"{end}\", limit = \"{limit}\", cursor = \"{cursor}\" }\npage_size = 50\npagination = { kind = \"cursor\", path = \"next\" }",
        );
        let builder = RequestBuilder::new(&config).unwrap();
        let first = builder.build(&window(), None).unwrap();
        assert_eq!(
            first.url.as_str(),
            "https://api.example.com/v1/events?cursor=&limit=50&since=2023-11-14T22%3A13%3A20.000Z&until=2023-11-14T23%3A13%3A20.000Z"
                .replace("cursor=&", "")
        );
        let next = builder
            .build(&window(), Some(&PageRef::Token("abc".into())))
            .unwrap();
        assert!(next.url.as_str().contains("cursor=abc"), "{}", next.url);
        assert_ne!(first.digest(), next.digest());
        let again = builder
            .build(&window(), Some(&PageRef::Token("abc".into())))
            .unwrap();
        assert_eq!(next.digest(), again.digest(), "same page, same digest");
    }

    #[test]
    fn an_array_query_value_sends_the_parameter_once_per_element_in_order() {
        // Zendesk's audit logs take a range as `filter[created_at][]` given twice.
        let config = source(
            "query = { \"filter[created_at][]\" = [\"{start}\", \"{end}\"], sort = \"created_at\" }\npagination = { kind = \"link_header\" }",
        );
        let first = RequestBuilder::new(&config)
            .unwrap()
            .build(&window(), None)
            .unwrap();
        let pairs: Vec<(String, String)> = first.url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("filter[created_at][]", "2023-11-14T22:13:20.000Z"),
                ("filter[created_at][]", "2023-11-14T23:13:20.000Z"),
                ("sort", "created_at"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        // `{start}` in an element counts: the spec is valid.
        let text = r#"[[sources]]
name = "z"
base_url = "https://a.example"
path = "/x"
query = { "r[]" = ["{start}", "{end}"] }
pagination = { kind = "link_header" }
event_time = { path = "t" }
sinks = ["l"]
[[sinks]]
name = "l"
kind = "lake"
path = "lake"
"#;
        crate::config::load_str(text, std::path::Path::new("s.toml")).unwrap();
        let bad = text.replace("{end}", "{ned}");
        let err = crate::config::load_str(&bad, std::path::Path::new("s.toml"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("{ned}"), "{err}");
    }

    #[test]
    fn post_body_with_epoch_nanos_and_graphql_cursor() {
        let config = source(
            r#"method = "POST"
body = '{"query": "{ logs(after: $after) { nodes { id } } }", "variables": {"after": "{cursor}", "from": "{start}"}}'
window = { format = "epoch_nanos" }
pagination = { kind = "graphql", page_info_path = "data.logs.pageInfo" }"#,
        );
        let builder = RequestBuilder::new(&config).unwrap();
        let first = builder.build(&window(), None).unwrap();
        let body: Value = serde_json::from_slice(first.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            body["variables"],
            serde_json::json!({"from": 1_700_000_000_000_000_000i64})
        );
        assert_eq!(first.method, HttpMethod::Post);
        let next = builder
            .build(&window(), Some(&PageRef::Token("c1".into())))
            .unwrap();
        let body: Value = serde_json::from_slice(next.body.as_ref().unwrap()).unwrap();
        assert_eq!(body["variables"]["after"], "c1");
        // Every page of a POST API has the same URL: the body tells them apart.
        assert_eq!(first.url, next.url);
        assert_ne!(first.digest(), next.digest());
    }

    #[test]
    fn next_body_is_sent_for_every_page_after_the_first() {
        let config = source(
            r#"method = "POST"
body = '{"limit": "{limit}", "start_time": "{start}", "end_time": "{end}"}'
next_body = '{"cursor": "{cursor}"}'
page_size = 1000
pagination = { kind = "cursor", path = "cursor", has_more_path = "has_more" }"#,
        );
        let builder = RequestBuilder::new(&config).unwrap();
        let body_of = |request: PageRequest| -> Value {
            serde_json::from_slice(request.body.as_ref().unwrap()).unwrap()
        };
        let first = body_of(builder.build(&window(), None).unwrap());
        assert_eq!(
            first,
            serde_json::json!({"limit": 1000, "start_time": "2023-11-14T22:13:20.000Z", "end_time": "2023-11-14T23:13:20.000Z"})
        );
        // A later page, and a page resumed from a checkpoint alike: nothing but the cursor.
        let next = body_of(
            builder
                .build(&window(), Some(&PageRef::Token("c2".into())))
                .unwrap(),
        );
        assert_eq!(next, serde_json::json!({"cursor": "c2"}));
    }

    #[test]
    fn next_path_is_the_endpoint_of_every_page_after_the_first() {
        let config = source(
            r#"method = "POST"
body = '{"limit": "{limit}", "time": {"start_time": "{start}", "end_time": "{end}"}}'
next_body = '{"cursor": "{cursor}"}'
next_path = "/v1/events/continue"
page_size = 1000
pagination = { kind = "cursor", path = "cursor", has_more_path = "has_more" }"#,
        );
        let builder = RequestBuilder::new(&config).unwrap();
        let first = builder.build(&window(), None).unwrap();
        assert_eq!(first.url.as_str(), "https://api.example.com/v1/events");
        // A later page, and a page resumed from a checkpoint alike, go to `next_path`.
        let next = builder
            .build(&window(), Some(&PageRef::Token("c2".into())))
            .unwrap();
        assert_eq!(
            next.url.as_str(),
            "https://api.example.com/v1/events/continue"
        );
        let body: Value = serde_json::from_slice(next.body.as_ref().unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({"cursor": "c2"}));
    }

    #[test]
    fn offset_and_page_number_start_at_their_first_value() {
        let offset = source("query = { since = \"{start}\", offset = \"{offset}\", limit = \"{limit}\" }\npage_size = 10\npagination = { kind = \"offset\" }");
        let url = RequestBuilder::new(&offset)
            .unwrap()
            .build(&window(), None)
            .unwrap()
            .url;
        assert_eq!(
            url.query(),
            Some("limit=10&offset=0&since=2023-11-14T22%3A13%3A20.000Z")
        );
        let pages = source("query = { page = \"{page}\", since = \"{start}\" }\npage_size = 10\npagination = { kind = \"page_number\", first = 0 }");
        let builder = RequestBuilder::new(&pages).unwrap();
        let query = |page| {
            builder
                .build(&window(), page)
                .unwrap()
                .url
                .query()
                .unwrap()
                .to_string()
        };
        assert!(query(None).starts_with("page=0&"));
        assert!(query(Some(&PageRef::Page(3))).starts_with("page=3&"));
    }
}
