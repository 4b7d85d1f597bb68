//! Reading a page request: query parameters or a JSON body (search, GraphQL), the window's
//! bounds in the profile's time format, and the cursor.

use super::*;

pub(super) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of parameter `name`.
pub(super) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

// ---- request parsing -----------------------------------------------------------------

/// A page request with the raw bounds the client sent (repeated in next-page URLs).
pub(super) struct Request {
    pub(super) query: PageQuery,
    pub(super) raw_start: String,
    pub(super) raw_end: String,
    pub(super) raw_limit: Option<String>,
    /// The page number asked for (`PageNumber`).
    pub(super) page: u64,
    /// The offset asked for (`Offset`).
    pub(super) offset: u64,
}

pub(super) fn missing(name: &str) -> ApiError {
    ApiError::bad_request("missing parameter", format!("{name} is required"))
}

pub(super) fn bad_time(app: &AppState, name: &str) -> ApiError {
    ApiError::bad_request(
        "invalid parameter",
        format!(
            "{name} must be {}",
            timing::format_hint(app.config.generic.time_format)
        ),
    )
}

pub(super) fn cursor_position(app: &AppState, cursor: Option<&str>) -> Result<Position, ApiError> {
    match cursor.filter(|c| !c.is_empty()) {
        None => Ok(Position::First),
        Some(cursor) => paging::decode_cursor(
            app.config.seed,
            app.config.generic.order,
            app.config.events,
            app.config.generic.cursor_ttl,
            cursor,
        )
        .map(Position::Boundary),
    }
}

pub(super) fn parse_get(app: &AppState, pairs: &[(String, String)]) -> Result<Request, ApiError> {
    let format = app.config.generic.time_format;
    let raw_start = param(pairs, "start").ok_or_else(|| missing("start"))?;
    let raw_end = param(pairs, "end").ok_or_else(|| missing("end"))?;
    let start_ns =
        timing::parse_time_text(format, raw_start).ok_or_else(|| bad_time(app, "start"))?;
    let end_ns = timing::parse_time_text(format, raw_end).ok_or_else(|| bad_time(app, "end"))?;
    let raw_limit = param(pairs, "limit");
    let limit = paging::parse_limit(
        raw_limit,
        app.config.default_page_size,
        app.config.max_page_size,
    )?;
    let (mut page, mut offset) = (1, 0);
    let position = match app.config.generic.pagination {
        SimPagination::None => Position::First,
        SimPagination::Offset => {
            offset = match param(pairs, "offset") {
                Some(raw) => paging::parse_count("offset", raw, 0)?,
                None => 0,
            };
            Position::Skip(offset)
        }
        SimPagination::PageNumber => {
            page = match param(pairs, "page") {
                Some(raw) => paging::parse_count("page", raw, 1)?,
                None => 1,
            };
            Position::Skip((page - 1).saturating_mul(limit))
        }
        _ => cursor_position(app, param(pairs, "cursor"))?,
    };
    Ok(Request {
        query: PageQuery {
            start_ns,
            end_ns,
            limit,
            position,
        },
        raw_start: raw_start.to_string(),
        raw_end: raw_end.to_string(),
        raw_limit: raw_limit.map(str::to_string),
        page,
        offset,
    })
}

/// Parses `start`, `end`, a limit field and a cursor field of a JSON object.
pub(super) fn parse_json_fields(
    app: &AppState,
    fields: &serde_json::Map<String, Value>,
    limit_key: &str,
    cursor_key: &str,
) -> Result<Request, ApiError> {
    let format = app.config.generic.time_format;
    let time = |name: &str| -> Result<(i128, String), ApiError> {
        let value = fields
            .get(name)
            .filter(|v| !v.is_null())
            .ok_or_else(|| missing(name))?;
        let ns = timing::parse_time_json(format, value).ok_or_else(|| bad_time(app, name))?;
        Ok((ns, plain(value)))
    };
    let (start_ns, raw_start) = time("start")?;
    let (end_ns, raw_end) = time("end")?;
    let raw_limit = match fields.get(limit_key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid limit",
                format!("{limit_key} must be a positive integer"),
            ))
        }
    };
    let limit = paging::parse_limit(
        raw_limit.as_deref(),
        app.config.default_page_size,
        app.config.max_page_size,
    )?;
    let cursor = match fields.get(cursor_key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid cursor",
                format!("{cursor_key} must be a string"),
            ))
        }
    };
    Ok(Request {
        query: PageQuery {
            start_ns,
            end_ns,
            limit,
            position: cursor_position(app, cursor)?,
        },
        raw_start,
        raw_end,
        raw_limit,
        page: 1,
        offset: 0,
    })
}

pub(super) fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::bad_request(
            "invalid body",
            "the body must be a JSON object",
        )),
    }
}
