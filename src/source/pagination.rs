//! Finding the next page of a window in a response, for every pagination kind.

use serde_json::Value;
use url::Url;

use super::cursor::{self, CursorError, CursorStyle};
use super::http::JsonResponse;
use super::link_secrets::{LinkSecrets, LinkSecretsError};
use super::path::{lookup, JsonPath};
use crate::source::config::PaginationConfig;
use crate::state::PageRef;

/// A response whose next page cannot be told, or cannot be followed. Each message names the
/// part of the response (a path, the `Link` header) and what it held; the source shows it
/// with the page URL and `(config: pagination)`. Ending the window instead would silently
/// lose the rest of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaginationError {
    /// The cursor cannot be sent back.
    #[error(transparent)]
    Cursor(#[from] CursorError),
    /// The next link carries a credential that cannot be stored.
    #[error(transparent)]
    Link(#[from] LinkSecretsError),
    /// The next URL at `path` does not resolve against the page's URL.
    #[error("next URL at `{path}` ({next:?}) is not a URL: {error}")]
    NextUrlInvalid {
        /// The configured path.
        path: String,
        /// The link as the API sent it.
        next: String,
        /// Why it is no URL.
        #[source]
        error: url::ParseError,
    },
    /// The value at `path` is not a string.
    #[error("next URL at `{path}` is {held}, not a URL (hint: check that pagination.path names the next page's link)")]
    NextUrlNotText {
        /// The configured path.
        path: String,
        /// The value, described and cut short.
        held: String,
    },
    /// The has-more flag says more, but there is no cursor.
    #[error("the has-more flag says more pages follow but there is no cursor at `{path}`{place}")]
    NoCursor {
        /// The configured cursor path.
        path: String,
        /// Where it was looked for, when not in the body (" in the page's last record").
        place: &'static str,
    },
    /// The next offset overflows (only a damaged checkpoint gets there).
    #[error("the offset after {listed} plus {records} records does not fit in 64 bits (hint: the saved page may be damaged; `sluice state reset` the source)")]
    OffsetOverflow {
        /// The offset listed.
        listed: u64,
        /// Records on the page.
        records: usize,
    },
    /// The next page number named by the response goes back.
    #[error(
        "the next page number at `{path}` is {page}, not after the page just read ({current})"
    )]
    PageNumberBack {
        /// The configured path.
        path: String,
        /// The number the response names.
        page: u64,
        /// The page just read.
        current: u64,
    },
    /// The value at `next_page_path` is not a page number.
    #[error("the next page number at `{path}` is {value}, not a whole number or null")]
    PageNumberInvalid {
        /// The configured path.
        path: String,
        /// The value as JSON.
        value: String,
    },
    /// The page number overflows.
    #[error("the page number after {current} does not fit in 64 bits (hint: check pagination.first; a saved page this far may be damaged)")]
    PageNumberOverflow {
        /// The page just read.
        current: u64,
    },
    /// The GraphQL `pageInfo` object is missing.
    #[error("no `{path}` (pageInfo) in the response")]
    NoPageInfo {
        /// The configured path.
        path: String,
    },
    /// `hasNextPage` is true without an `endCursor`.
    #[error("`hasNextPage` in `{path}` is true but `endCursor` is missing")]
    NoEndCursor {
        /// The configured path.
        path: String,
    },
    /// `hasNextPage` is not a boolean.
    #[error("`hasNextPage` in `{path}` is missing or not a boolean")]
    HasNextPage {
        /// The configured path.
        path: String,
    },
    /// The response names the page just fetched as its next one.
    #[error("the response names the page just fetched ({page:?}) as the next one")]
    SamePage {
        /// The page reference.
        page: Option<PageRef>,
    },
    /// The configured has-more flag is not a boolean.
    #[error("has-more flag at `{path}` is {value}, not a boolean")]
    HasMoreNotBool {
        /// The configured path.
        path: String,
        /// The value as JSON.
        value: String,
    },
    /// The configured has-more flag is missing.
    #[error("no has-more flag at `{path}` in the response")]
    NoHasMore {
        /// The configured path.
        path: String,
    },
    /// A `Link` header field is not text.
    #[error("the Link header is not readable: byte 0x{byte:02x} at position {at} is not text (hint: the API sent a malformed Link header; links are ASCII URIs)")]
    LinkNotText {
        /// The first byte that is not text.
        byte: u8,
        /// Its position.
        at: usize,
    },
    /// The `Link` header does not parse.
    #[error("the Link header does not parse ({detail}): {joined:?}")]
    LinkUnparsable {
        /// The parser's message.
        detail: String,
        /// The header's fields, joined.
        joined: String,
    },
    /// The `rel="next"` link does not resolve against the page's URL.
    #[error("next link {uri:?} is not a URL: {error}")]
    NextLinkInvalid {
        /// The link as written.
        uri: String,
        /// Why it is no URL.
        #[source]
        error: url::ParseError,
    },
}

/// What the pagination logic needs to know about the page just fetched.
pub struct Fetched<'a> {
    /// The response.
    pub response: &'a JsonResponse,
    /// The URL it came from.
    pub url: &'a Url,
    /// The page reference that was requested (`None` for a window's first page).
    pub page: Option<&'a PageRef>,
    /// Records on the page.
    pub records: usize,
    /// The configured page size.
    pub page_size: Option<u64>,
    /// The page's last record, for a cursor read from it (`from_last_record`); `None` when
    /// the page has none or the cursor is in the body.
    pub last_record: Option<&'a Value>,
    /// The source's credentials, concealed in a next-page link before it goes anywhere.
    pub secrets: &'a LinkSecrets,
}

/// The next page named by a response, or `None` when the window is done. `Err` says which
/// part of the response did not match the spec.
pub fn next_page(
    pagination: &PaginationConfig,
    fetched: &Fetched<'_>,
) -> Result<Option<PageRef>, PaginationError> {
    let body = &fetched.response.body;
    let next = match pagination {
        PaginationConfig::None {} => None,
        PaginationConfig::LinkHeader {} => next_from_link_header(fetched)?,
        PaginationConfig::NextUrl { path } => match lookup(body, path) {
            None | Some(Value::Null) => None,
            Some(Value::String(next)) if next.is_empty() => None,
            Some(Value::String(next)) => Some(PageRef::Url(
                fetched.secrets.conceal(
                    fetched
                        .url
                        .join(next)
                        .map_err(|error| PaginationError::NextUrlInvalid {
                            path: path.to_string(),
                            next: next.clone(),
                            error,
                        })?
                        .as_str(),
                )?,
            )),
            // A next page the API names in a form that cannot be followed must not end the
            // window as if there were none.
            Some(other) => {
                return Err(PaginationError::NextUrlNotText {
                    path: path.to_string(),
                    held: cursor::describe(other),
                })
            }
        },
        PaginationConfig::Cursor {
            path,
            has_more_path,
            cursor_join,
            cursor_encoding,
            empty_page_ends,
            from_last_record,
            ..
        } => match has_more(body, has_more_path.as_ref())? {
            Some(false) => None,
            _ if *empty_page_ends && fetched.records == 0 => None,
            more => {
                let style = CursorStyle {
                    join: cursor_join,
                    encoding: *cursor_encoding,
                };
                let (holder, what) = if *from_last_record {
                    (fetched.last_record, "cursor in the last record")
                } else {
                    (Some(body), "cursor")
                };
                let found = holder.and_then(|holder| lookup(holder, path));
                match (more, cursor::token(found, path, what, style)?) {
                    // "More pages" without a way to ask for them must not end the window
                    // quietly.
                    (Some(true), None) => {
                        return Err(PaginationError::NoCursor {
                            path: path.to_string(),
                            place: if *from_last_record {
                                " in the page's last record"
                            } else {
                                ""
                            },
                        })
                    }
                    (_, next) => next.map(PageRef::Token),
                }
            }
        },
        PaginationConfig::Offset { has_more_path } => {
            let done = page_is_last(body, has_more_path.as_ref(), fetched)?;
            let listed = match fetched.page {
                Some(PageRef::Offset(offset)) => *offset,
                _ => 0,
            };
            if done {
                None
            } else {
                // Only a damaged checkpoint can be this far; wrapping would list page 1 again.
                let next = listed.checked_add(fetched.records as u64).ok_or(
                    PaginationError::OffsetOverflow {
                        listed,
                        records: fetched.records,
                    },
                )?;
                Some(PageRef::Offset(next))
            }
        }
        PaginationConfig::PageNumber {
            first,
            next_page_path: Some(path),
            ..
        } => match lookup(body, path) {
            None | Some(Value::Null) => None,
            Some(value) => {
                let current = match fetched.page {
                    Some(PageRef::Page(page)) => *page,
                    _ => *first,
                };
                match value
                    .as_u64()
                    .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                {
                    Some(page) if page > current => Some(PageRef::Page(page)),
                    // Going back would list pages again, forever.
                    Some(page) => {
                        return Err(PaginationError::PageNumberBack {
                            path: path.to_string(),
                            page,
                            current,
                        })
                    }
                    None => {
                        return Err(PaginationError::PageNumberInvalid {
                            path: path.to_string(),
                            value: value.to_string(),
                        })
                    }
                }
            }
        },
        PaginationConfig::PageNumber {
            first,
            has_more_path,
            next_page_path: None,
        } => {
            let done = page_is_last(body, has_more_path.as_ref(), fetched)?;
            let current = match fetched.page {
                Some(PageRef::Page(page)) => *page,
                _ => *first,
            };
            if done {
                None
            } else {
                let next = current
                    .checked_add(1)
                    .ok_or(PaginationError::PageNumberOverflow { current })?;
                Some(PageRef::Page(next))
            }
        }
        PaginationConfig::Graphql { page_info_path } => {
            let info = lookup(body, page_info_path).ok_or_else(|| PaginationError::NoPageInfo {
                path: page_info_path.to_string(),
            })?;
            match info.get("hasNextPage") {
                Some(Value::Bool(true)) => Some(PageRef::Token(
                    cursor::token(
                        info.get("endCursor"),
                        page_info_path,
                        "`endCursor` of the pageInfo",
                        CursorStyle::default(),
                    )?
                    .ok_or_else(|| PaginationError::NoEndCursor {
                        path: page_info_path.to_string(),
                    })?,
                )),
                Some(Value::Bool(false)) => None,
                _ => {
                    return Err(PaginationError::HasNextPage {
                        path: page_info_path.to_string(),
                    })
                }
            }
        }
    };
    // An API that hands back the page just fetched would keep us here forever. An empty page
    // whose `Link` names itself says "nothing more yet, ask here again" (Auth0's checkpoint
    // listing once caught up): the listing ends there. A cursor handed back stays an error
    // unless the source says empty pages end (`empty_page_ends`, handled above).
    if next.is_some() && next.as_ref() == fetched.page {
        if fetched.records == 0 && matches!(pagination, PaginationConfig::LinkHeader {}) {
            return Ok(None);
        }
        return Err(PaginationError::SamePage {
            page: fetched.page.cloned(),
        });
    }
    Ok(next)
}

/// The has-more flag, when one is configured. A configured flag that is missing is an error:
/// guessing "no more" would silently end the window early.
fn has_more(body: &Value, path: Option<&JsonPath>) -> Result<Option<bool>, PaginationError> {
    let Some(path) = path else { return Ok(None) };
    match lookup(body, path) {
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(other) => Err(PaginationError::HasMoreNotBool {
            path: path.to_string(),
            value: other.to_string(),
        }),
        None => Err(PaginationError::NoHasMore {
            path: path.to_string(),
        }),
    }
}

/// Whether an offset or page-number page is the window's last.
fn page_is_last(
    body: &Value,
    has_more_path: Option<&JsonPath>,
    fetched: &Fetched<'_>,
) -> Result<bool, PaginationError> {
    if let Some(flag) = has_more(body, has_more_path)? {
        return Ok(!flag);
    }
    Ok(fetched.records == 0
        || fetched
            .page_size
            .is_some_and(|size| (fetched.records as u64) < size))
}

fn next_from_link_header(fetched: &Fetched<'_>) -> Result<Option<PageRef>, PaginationError> {
    // RFC 8288 allows several Link header fields; they mean the same as one joined by commas.
    // A field that is not text is an error: skipping it could end the window silently.
    let mut fields = Vec::new();
    for value in fetched.response.headers.get_all(reqwest::header::LINK) {
        let text = std::str::from_utf8(value.as_bytes()).map_err(|err| {
            let at = err.valid_up_to();
            PaginationError::LinkNotText {
                byte: value.as_bytes()[at],
                at,
            }
        })?;
        fields.push(text);
    }
    let joined = fields.join(", ");
    if joined.trim().is_empty() {
        return Ok(None);
    }
    let links =
        parse_link_header::parse(&joined).map_err(|err| PaginationError::LinkUnparsable {
            detail: err.to_string(),
            joined: joined.clone(),
        })?;
    // Relation names and parameter names are case-insensitive (RFC 8288 sections 2.1.1, 3).
    let next = links.values().find(|link| {
        link.params
            .iter()
            .any(|(name, rel)| name.eq_ignore_ascii_case("rel") && rel.eq_ignore_ascii_case("next"))
    });
    let Some(next) = next else {
        return Ok(None);
    };
    let url =
        fetched
            .url
            .join(&next.raw_uri)
            .map_err(|error| PaginationError::NextLinkInvalid {
                uri: next.raw_uri.clone(),
                error,
            })?;
    Ok(Some(PageRef::Url(fetched.secrets.conceal(url.as_str())?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};
    use serde_json::json;

    fn jp(text: &str) -> JsonPath {
        JsonPath::parse(text).unwrap()
    }

    fn response(links: &[&str], body: Value) -> JsonResponse {
        let mut headers = HeaderMap::new();
        for link in links {
            headers.append("link", HeaderValue::from_bytes(link.as_bytes()).unwrap());
        }
        JsonResponse { headers, body }
    }

    fn next(
        p: &PaginationConfig,
        r: &JsonResponse,
        page: Option<&PageRef>,
        records: usize,
    ) -> Result<Option<PageRef>, String> {
        let url = Url::parse("https://api.example.com/v1/events?page=1").unwrap();
        next_page(
            p,
            &Fetched {
                response: r,
                url: &url,
                page,
                records,
                page_size: Some(100),
                secrets: &LinkSecrets::default(),
                last_record: None,
            },
        )
        .map_err(|err| err.to_string())
    }

    #[test]
    fn link_header_next_is_found_among_several_fields_and_resolved() {
        let p = PaginationConfig::LinkHeader {};
        let r = response(
            &[
                "<https://api.example.com/v1/events?page=1>; rel=\"self\"",
                "</v1/events?after=abc>; rel=\"next\"",
            ],
            json!([]),
        );
        assert_eq!(
            next(&p, &r, None, 0).unwrap(),
            Some(PageRef::Url(
                "https://api.example.com/v1/events?after=abc".into()
            ))
        );
        let only_self = response(&["<https://api.example.com/a>; rel=\"self\""], json!([]));
        assert_eq!(next(&p, &only_self, None, 0).unwrap(), None);
    }

    #[test]
    fn link_relations_are_case_insensitive() {
        let p = PaginationConfig::LinkHeader {};
        for field in [
            "</v1/events?after=abc>; rel=\"NEXT\"",
            "</v1/events?after=abc>; REL=Next",
            "</v1/events?page=9>; rel=\"last\", </v1/events?after=abc>; rel=\"next\"; title=\"more\"",
        ] {
            let r = response(&[field], json!([]));
            assert_eq!(
                next(&p, &r, None, 0).unwrap(),
                Some(PageRef::Url(
                    "https://api.example.com/v1/events?after=abc".into()
                )),
                "{field}"
            );
        }
    }

    #[test]
    fn an_unreadable_link_header_is_an_error_naming_it() {
        let p = PaginationConfig::LinkHeader {};
        let mut headers = HeaderMap::new();
        headers.append(
            "link",
            HeaderValue::from_bytes(b"</v1/events?after=\xff>; rel=\"next\"").unwrap(),
        );
        let r = JsonResponse {
            headers,
            body: json!([]),
        };
        let err = next(&p, &r, None, 0).unwrap_err();
        assert!(err.contains("Link header"), "{err}");
        assert!(err.contains("0xff"), "{err}");
        // UTF-8 text is readable: a non-ASCII link is followed, percent-encoded (RFC 3987).
        let r = response(&["</v1/events?after=caf\u{e9}>; rel=\"next\""], json!([]));
        assert_eq!(
            next(&p, &r, None, 0).unwrap(),
            Some(PageRef::Url(
                "https://api.example.com/v1/events?after=caf%C3%A9".into()
            ))
        );
    }

    #[test]
    fn next_url_in_body() {
        let p = PaginationConfig::NextUrl {
            path: jp("links.next"),
        };
        let r = response(
            &[],
            json!({"links": {"next": "https://api.example.com/v1/events?p=2"}}),
        );
        assert_eq!(
            next(&p, &r, None, 5).unwrap(),
            Some(PageRef::Url("https://api.example.com/v1/events?p=2".into()))
        );
        assert_eq!(
            next(
                &p,
                &response(&[], json!({"links": {"next": null}})),
                None,
                5
            )
            .unwrap(),
            None
        );
    }

    #[test]
    fn cursor_ends_on_empty_token_or_has_more_false() {
        let p = PaginationConfig::Cursor {
            path: jp("meta.next"),
            param: None,
            has_more_path: Some(jp("has_more")),
            cursor_join: ",".into(),
            cursor_encoding: Default::default(),
            empty_page_ends: false,
            from_last_record: false,
        };
        let more = response(&[], json!({"meta": {"next": "t2"}, "has_more": true}));
        assert_eq!(
            next(&p, &more, None, 5).unwrap(),
            Some(PageRef::Token("t2".into()))
        );
        let done = response(&[], json!({"meta": {"next": "t3"}, "has_more": false}));
        assert_eq!(next(&p, &done, None, 5).unwrap(), None);
        let missing_flag = response(&[], json!({"meta": {"next": "t3"}}));
        assert!(next(&p, &missing_flag, None, 5)
            .unwrap_err()
            .contains("has_more"));
        let plain = PaginationConfig::Cursor {
            path: jp("meta.next"),
            param: None,
            has_more_path: None,
            cursor_join: ",".into(),
            cursor_encoding: Default::default(),
            empty_page_ends: false,
            from_last_record: false,
        };
        for body in [
            json!({"meta": {"next": ""}}),
            json!({"meta": {"next": null}}),
            json!({}),
        ] {
            assert_eq!(next(&plain, &response(&[], body), None, 5).unwrap(), None);
        }
    }

    #[test]
    fn a_cursor_from_the_last_record_is_its_id_until_has_more_is_false() {
        // Stripe: the next page is `starting_after=<id of the last object listed>`.
        let p = PaginationConfig::Cursor {
            path: jp("id"),
            param: Some("starting_after".into()),
            has_more_path: Some(jp("has_more")),
            cursor_join: ",".into(),
            cursor_encoding: Default::default(),
            empty_page_ends: false,
            from_last_record: true,
        };
        let url = Url::parse("https://api.example.com/v1/events").unwrap();
        let at = |body: serde_json::Value, last: Option<&Value>, records: usize| {
            next_page(
                &p,
                &Fetched {
                    response: &response(&[], body),
                    url: &url,
                    page: None,
                    records,
                    page_size: Some(100),
                    secrets: &LinkSecrets::default(),
                    last_record: last,
                },
            )
        };
        let last = json!({"id": "evt_2", "object": "event"});
        // The body's own `id` (none here) is not what is read.
        assert_eq!(
            at(json!({"object": "list", "has_more": true}), Some(&last), 2).unwrap(),
            Some(PageRef::Token("evt_2".into()))
        );
        assert_eq!(
            at(json!({"has_more": false}), Some(&last), 2).unwrap(),
            None
        );
        // More promised but no record to go on from: an error, not a quiet end.
        let err = at(json!({"has_more": true}), None, 0).unwrap_err();
        assert!(err.to_string().contains("last record"), "{err}");
        assert_eq!(at(json!({"has_more": false}), None, 0).unwrap(), None);
    }

    fn cursor_at(path: &str) -> PaginationConfig {
        PaginationConfig::Cursor {
            path: jp(path),
            param: Some("next_offset".into()),
            has_more_path: None,
            cursor_join: ",".into(),
            cursor_encoding: Default::default(),
            empty_page_ends: false,
            from_last_record: false,
        }
    }

    #[test]
    fn an_array_cursor_is_joined_and_sent_back() {
        // Duo's authentication log: `next_offset` is `[millis, txid]`.
        let p = cursor_at("response.metadata.next_offset");
        let r = response(
            &[],
            json!({"response": {"metadata": {"next_offset": ["1700000000000", "af0b"]}}}),
        );
        assert_eq!(
            next(&p, &r, None, 5).unwrap(),
            Some(PageRef::Token("1700000000000,af0b".into()))
        );
        let done = response(
            &[],
            json!({"response": {"metadata": {"next_offset": null}}}),
        );
        assert_eq!(next(&p, &done, None, 5).unwrap(), None);
    }

    #[test]
    fn a_next_page_indicator_that_cannot_be_followed_fails_the_page() {
        let cursor = cursor_at("next");
        for body in [
            json!({"next": {}}),
            json!({"next": {"a": 1}}),
            json!({"next": true}),
            json!({"next": [[1]]}),
        ] {
            let err = next(&cursor, &response(&[], body.clone()), None, 5).unwrap_err();
            assert!(err.contains("cursor at `next`"), "{body}: {err}");
        }
        let link = PaginationConfig::NextUrl {
            path: jp("\"@odata.nextLink\""),
        };
        for body in [
            json!({"@odata.nextLink": 7}),
            json!({"@odata.nextLink": {"href": "/x"}}),
            json!({"@odata.nextLink": ["/x"]}),
        ] {
            let err = next(&link, &response(&[], body.clone()), None, 5).unwrap_err();
            assert!(
                err.contains("next URL at `\"@odata.nextLink\"`"),
                "{body}: {err}"
            );
        }
        let graph = response(
            &[],
            json!({"value": [], "@odata.nextLink": "https://api.example.com/v1/events?$skiptoken=x"}),
        );
        assert_eq!(
            next(&link, &graph, None, 5).unwrap(),
            Some(PageRef::Url(
                "https://api.example.com/v1/events?$skiptoken=x".into()
            ))
        );
        let gql = PaginationConfig::Graphql {
            page_info_path: jp("data.logs.pageInfo"),
        };
        let odd = response(
            &[],
            json!({"data": {"logs": {"pageInfo": {"hasNextPage": true, "endCursor": {}}}}}),
        );
        let err = next(&gql, &odd, None, 5).unwrap_err();
        assert!(err.contains("endCursor"), "{err}");
        // A has-more flag that says "done" wins over an odd cursor.
        let flagged = PaginationConfig::Cursor {
            path: jp("next"),
            param: None,
            has_more_path: Some(jp("more")),
            cursor_join: ",".into(),
            cursor_encoding: Default::default(),
            empty_page_ends: false,
            from_last_record: false,
        };
        let done = response(&[], json!({"next": {}, "more": false}));
        assert_eq!(next(&flagged, &done, None, 5).unwrap(), None);
    }

    #[test]
    fn an_empty_page_ends_the_window_when_configured_whatever_its_cursor() {
        // Box's admin_logs: every answer names a `next_stream_position`, even the empty one
        // that marks the end of the listing, where it may be the position just sent.
        let stream = |empty_page_ends| PaginationConfig::Cursor {
            path: jp("next_stream_position"),
            param: Some("stream_position".into()),
            has_more_path: None,
            cursor_join: ",".into(),
            cursor_encoding: Default::default(),
            empty_page_ends,
            from_last_record: false,
        };
        let at = PageRef::Token("1152922976252290886".into());
        let end = response(
            &[],
            json!({"chunk_size": 0, "entries": [], "next_stream_position": "1152922976252290886"}),
        );
        assert_eq!(next(&stream(true), &end, Some(&at), 0).unwrap(), None);
        assert_eq!(next(&stream(true), &end, None, 0).unwrap(), None);
        // Without the setting the same answer is a cursor handed back, an error.
        assert!(next(&stream(false), &end, Some(&at), 0).is_err());
        // A page with records, however short, goes on.
        let short = response(
            &[],
            json!({"chunk_size": 2, "entries": [{}, {}], "next_stream_position": "1152922976252290999"}),
        );
        assert_eq!(
            next(&stream(true), &short, Some(&at), 2).unwrap(),
            Some(PageRef::Token("1152922976252290999".into()))
        );
    }

    #[test]
    fn a_cursor_that_does_not_move_is_an_error() {
        let p = PaginationConfig::Cursor {
            path: jp("next"),
            param: None,
            has_more_path: None,
            cursor_join: ",".into(),
            cursor_encoding: Default::default(),
            empty_page_ends: false,
            from_last_record: false,
        };
        let same = PageRef::Token("t".into());
        assert!(next(&p, &response(&[], json!({"next": "t"})), Some(&same), 5).is_err());
    }

    #[test]
    fn offset_and_page_number_end_on_a_short_page() {
        let offset = PaginationConfig::Offset {
            has_more_path: None,
        };
        let r = response(&[], json!([]));
        assert_eq!(
            next(&offset, &r, None, 100).unwrap(),
            Some(PageRef::Offset(100))
        );
        assert_eq!(
            next(&offset, &r, Some(&PageRef::Offset(100)), 100).unwrap(),
            Some(PageRef::Offset(200))
        );
        assert_eq!(
            next(&offset, &r, Some(&PageRef::Offset(200)), 42).unwrap(),
            None
        );
        let pages = PaginationConfig::PageNumber {
            first: 1,
            has_more_path: None,
            next_page_path: None,
        };
        assert_eq!(next(&pages, &r, None, 100).unwrap(), Some(PageRef::Page(2)));
        assert_eq!(next(&pages, &r, Some(&PageRef::Page(2)), 0).unwrap(), None);
    }

    #[test]
    fn a_page_number_the_api_gives_decides_where_the_window_ends() {
        let pages = PaginationConfig::PageNumber {
            first: 1,
            has_more_path: None,
            next_page_path: Some(jp("pagination.next_page")),
        };
        // A page shorter than page_size with a next page (an API serving fewer than asked).
        let more = response(&[], json!({ "pagination": { "next_page": 3 } }));
        assert_eq!(
            next(&pages, &more, Some(&PageRef::Page(2)), 7).unwrap(),
            Some(PageRef::Page(3))
        );
        let text = response(&[], json!({ "pagination": { "next_page": "2" } }));
        assert_eq!(
            next(&pages, &text, None, 7).unwrap(),
            Some(PageRef::Page(2))
        );
        // A full page that is the last.
        for last in [
            json!({ "pagination": { "next_page": null } }),
            json!({ "meta": {} }),
        ] {
            assert_eq!(next(&pages, &response(&[], last), None, 100).unwrap(), None);
        }
        let err = next(
            &pages,
            &response(&[], json!({ "pagination": { "next_page": "two" } })),
            None,
            100,
        )
        .unwrap_err();
        assert!(err.contains("pagination.next_page"), "{err}");
        // A next page that is not after the current one would loop.
        let back = response(&[], json!({ "pagination": { "next_page": 2 } }));
        let err = next(&pages, &back, Some(&PageRef::Page(2)), 100).unwrap_err();
        assert!(err.contains("not after the page just read (2)"), "{err}");
    }

    /// Found by the pagination property test: an offset or page number at the top of `u64`
    /// (a damaged or hand-edited checkpoint) overflowed, a panic in debug builds and a jump
    /// back to the first page in release builds.
    #[test]
    fn offsets_and_page_numbers_that_would_overflow_are_errors() {
        let r = response(&[], json!([]));
        let offset = PaginationConfig::Offset {
            has_more_path: None,
        };
        let err = next(&offset, &r, Some(&PageRef::Offset(u64::MAX - 10)), 100).unwrap_err();
        assert!(err.contains("offset"), "{err}");
        let pages = PaginationConfig::PageNumber {
            first: 1,
            has_more_path: None,
            next_page_path: None,
        };
        let err = next(&pages, &r, Some(&PageRef::Page(u64::MAX)), 100).unwrap_err();
        assert!(err.contains("page number"), "{err}");
        let from_max = PaginationConfig::PageNumber {
            first: u64::MAX,
            has_more_path: None,
            next_page_path: None,
        };
        assert!(next(&from_max, &r, None, 100).is_err());
    }

    #[test]
    fn graphql_page_info() {
        let p = PaginationConfig::Graphql {
            page_info_path: jp("data.logs.pageInfo"),
        };
        let more = response(
            &[],
            json!({"data": {"logs": {"pageInfo": {"hasNextPage": true, "endCursor": "c2"}}}}),
        );
        assert_eq!(
            next(&p, &more, None, 5).unwrap(),
            Some(PageRef::Token("c2".into()))
        );
        let done = response(
            &[],
            json!({"data": {"logs": {"pageInfo": {"hasNextPage": false, "endCursor": "c2"}}}}),
        );
        assert_eq!(next(&p, &done, None, 5).unwrap(), None);
        assert!(next(&p, &response(&[], json!({"data": {}})), None, 5).is_err());
    }
}
