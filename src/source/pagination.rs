//! Building a page's request URL, and finding the next page in a response.

use url::Url;

use super::http::JsonResponse;
use super::records::lookup;
use super::SourceError;
use crate::config::{PaginationConfig, SourceConfig};
use crate::state::{PageRef, Window};
use crate::timefmt::format_param;

/// The URL of a window's page: the API's own next URL, or the endpoint with the window's
/// parameters (and the page token, for token pagination).
pub fn request_url(
    base: &Url,
    config: &SourceConfig,
    window: &Window,
    page: Option<&PageRef>,
) -> Result<Url, SourceError> {
    if let Some(PageRef::Url(next)) = page {
        return Url::parse(next).map_err(|err| {
            SourceError::Setup(format!("saved next-page URL does not parse: {err}"))
        });
    }
    let mut url = base
        .join(&config.path)
        .map_err(|err| SourceError::Setup(format!("path `{}`: {err}", config.path)))?;
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in &config.query {
            query.append_pair(key, value);
        }
        let format = &config.window.format;
        query.append_pair(
            &config.window.start_param,
            &format_param(window.start, format),
        );
        if !config.window.end_param.is_empty() {
            query.append_pair(&config.window.end_param, &format_param(window.end, format));
        }
        if let (Some(PageRef::Token(token)), PaginationConfig::BodyToken { param, .. }) =
            (page, &config.pagination)
        {
            query.append_pair(param, token);
        }
    }
    Ok(url)
}

/// The next page named by a response, or `None` when the window is done.
pub fn next_page(
    pagination: &PaginationConfig,
    response: &JsonResponse,
    current: &Url,
) -> Result<Option<PageRef>, String> {
    match pagination {
        PaginationConfig::LinkHeader => next_from_link_header(response, current),
        PaginationConfig::BodyToken { token_path, .. } => {
            Ok(match lookup(&response.body, token_path) {
                Some(serde_json::Value::String(token)) if !token.is_empty() => {
                    Some(PageRef::Token(token.clone()))
                }
                Some(serde_json::Value::Number(n)) => Some(PageRef::Token(n.to_string())),
                _ => None,
            })
        }
    }
}

fn next_from_link_header(
    response: &JsonResponse,
    current: &Url,
) -> Result<Option<PageRef>, String> {
    // RFC 8288 allows several Link header fields; they mean the same as one joined by commas.
    let joined = response
        .headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    if joined.is_empty() {
        return Ok(None);
    }
    let links = parse_link_header::parse_with_rel(&joined)
        .map_err(|err| format!("Link header does not parse ({err:?}): {joined:?}"))?;
    let Some(next) = links.get("next") else {
        return Ok(None);
    };
    let url = current
        .join(&next.raw_uri)
        .map_err(|err| format!("next link {:?} is not a URL: {err}", next.raw_uri))?;
    Ok(Some(PageRef::Url(url.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};
    use serde_json::json;

    fn response(links: &[&str], body: serde_json::Value) -> JsonResponse {
        let mut headers = HeaderMap::new();
        for link in links {
            headers.append("link", HeaderValue::from_str(link).unwrap());
        }
        JsonResponse { headers, body }
    }

    #[test]
    fn link_header_next_is_found_among_several_fields() {
        let current = Url::parse("https://x.okta.com/api/v1/logs?since=a").unwrap();
        let r = response(
            &[
                "<https://x.okta.com/api/v1/logs?since=a>; rel=\"self\"",
                "<https://x.okta.com/api/v1/logs?after=abc>; rel=\"next\"",
            ],
            json!([]),
        );
        let next = next_page(&PaginationConfig::LinkHeader, &r, &current).unwrap();
        assert_eq!(
            next,
            Some(PageRef::Url(
                "https://x.okta.com/api/v1/logs?after=abc".into()
            ))
        );
        let only_self = response(&["<https://x.okta.com/a>; rel=\"self\""], json!([]));
        assert_eq!(
            next_page(&PaginationConfig::LinkHeader, &only_self, &current).unwrap(),
            None
        );
    }

    #[test]
    fn relative_next_links_resolve_against_the_page() {
        let current = Url::parse("https://api.example.com/v1/events?page=1").unwrap();
        let r = response(&["</v1/events?page=2>; rel=\"next\""], json!([]));
        let next = next_page(&PaginationConfig::LinkHeader, &r, &current).unwrap();
        assert_eq!(
            next,
            Some(PageRef::Url(
                "https://api.example.com/v1/events?page=2".into()
            ))
        );
    }

    #[test]
    fn body_token_ends_on_empty_or_missing() {
        let p = PaginationConfig::BodyToken {
            token_path: "meta.next".into(),
            param: "cursor".into(),
        };
        let current = Url::parse("https://a.example/x").unwrap();
        let has = response(&[], json!({"meta": {"next": "t2"}}));
        assert_eq!(
            next_page(&p, &has, &current).unwrap(),
            Some(PageRef::Token("t2".into()))
        );
        for body in [
            json!({"meta": {"next": ""}}),
            json!({"meta": {"next": null}}),
            json!({}),
        ] {
            assert_eq!(next_page(&p, &response(&[], body), &current).unwrap(), None);
        }
    }
}
