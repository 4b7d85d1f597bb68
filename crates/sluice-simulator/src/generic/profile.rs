//! The generic API's settings: pagination kind, order, auth scheme, time format, cursor
//! lifetime, and what each accepts.

use super::*;

/// How the generic API behaves. The default: Link-header pagination, ascending,
/// `Authorization: Bearer sim-token`, RFC 3339 times, cursors that never expire, no late
/// events.
#[derive(Clone, Debug, PartialEq)]
pub struct GenericProfile {
    /// How the API pages.
    pub pagination: SimPagination,
    /// Order of events within a window.
    pub order: SimOrder,
    /// What requests must present.
    pub auth: SimAuth,
    /// How times are written: both the `start`/`end` the API accepts and the `time` of
    /// the events it serves.
    pub time_format: SimTimeFormat,
    /// Cursors and next-page URLs older than this answer 400 `cursor expired`.
    pub cursor_ttl: Option<Duration>,
}

impl Default for GenericProfile {
    fn default() -> Self {
        Self {
            pagination: SimPagination::default(),
            order: SimOrder::default(),
            auth: SimAuth::Bearer("sim-token".to_string()),
            time_format: SimTimeFormat::default(),
            cursor_ttl: None,
        }
    }
}

/// How the generic API pages (see the module docs for the wire format of each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SimPagination {
    /// The whole window in one response.
    None,
    /// `Link: <url>; rel="next"`.
    #[default]
    LinkHeader,
    /// `meta.next_url`.
    NextUrl,
    /// `meta.next_cursor`, empty at the end.
    Cursor,
    /// `meta.next_cursor` always set, `meta.has_more` decides.
    CursorHasMore,
    /// POST search with the cursor in the JSON body.
    CursorInBody,
    /// `offset` + `limit`, ends on a short page.
    Offset,
    /// `page` + `limit`, `meta.has_more`.
    PageNumber,
    /// GraphQL connection with `pageInfo`.
    Graphql,
}

impl SimPagination {
    /// Every kind.
    pub const ALL: &'static [SimPagination] = &[
        SimPagination::None,
        SimPagination::LinkHeader,
        SimPagination::NextUrl,
        SimPagination::Cursor,
        SimPagination::CursorHasMore,
        SimPagination::CursorInBody,
        SimPagination::Offset,
        SimPagination::PageNumber,
        SimPagination::Graphql,
    ];

    /// A snake_case name, e.g. for test labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            SimPagination::None => "none",
            SimPagination::LinkHeader => "link_header",
            SimPagination::NextUrl => "next_url",
            SimPagination::Cursor => "cursor",
            SimPagination::CursorHasMore => "cursor_has_more",
            SimPagination::CursorInBody => "cursor_in_body",
            SimPagination::Offset => "offset",
            SimPagination::PageNumber => "page_number",
            SimPagination::Graphql => "graphql",
        }
    }

    /// Whether the kind hands out cursors (directly or inside next-page URLs), to which
    /// `cursor_ttl` applies.
    pub const fn uses_cursors(self) -> bool {
        !matches!(
            self,
            SimPagination::None | SimPagination::Offset | SimPagination::PageNumber
        )
    }
}

/// Order of events within a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SimOrder {
    /// Oldest first; ties by index.
    #[default]
    Ascending,
    /// Newest first; ties by descending index.
    NewestFirst,
}

impl SimOrder {
    /// Both orders.
    pub const ALL: &'static [SimOrder] = &[SimOrder::Ascending, SimOrder::NewestFirst];

    /// The name a connector spec uses (`ascending`, `newest_first`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SimOrder::Ascending => "ascending",
            SimOrder::NewestFirst => "newest_first",
        }
    }
}

/// What the generic API requires of each events request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimAuth {
    /// Nothing.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `<header>: <key>`.
    ApiKeyHeader {
        /// Header name (case-insensitive).
        header: String,
        /// Expected value.
        key: String,
    },
    /// `?<param>=<key>` (exactly once).
    ApiKeyQuery {
        /// Query parameter name.
        param: String,
        /// Expected value.
        key: String,
        /// Repeat `<param>=<key>` in next-page URLs, as some APIs do: what the client
        /// stores of a link then holds the credential unless it takes it out.
        echo_in_links: bool,
    },
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>` with a token from `POST /oauth/token` (client
    /// credentials grant) that has not expired.
    OAuth2 {
        /// Expected client id.
        client_id: String,
        /// Expected client secret.
        client_secret: String,
        /// How long issued tokens are accepted (`expires_in` is its whole seconds).
        token_lifetime: Duration,
    },
}

/// How the generic API writes times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SimTimeFormat {
    /// `2026-11-23T10:00:00.123Z` (milliseconds, `Z`).
    #[default]
    Rfc3339,
    /// Integer seconds (event times floored to the second).
    EpochSeconds,
    /// Integer milliseconds.
    EpochMillis,
    /// Integer microseconds (with a sub-millisecond part).
    EpochMicros,
    /// Integer nanoseconds (with a sub-millisecond part).
    EpochNanos,
}

impl SimTimeFormat {
    /// Every format.
    pub const ALL: &'static [SimTimeFormat] = &[
        SimTimeFormat::Rfc3339,
        SimTimeFormat::EpochSeconds,
        SimTimeFormat::EpochMillis,
        SimTimeFormat::EpochMicros,
        SimTimeFormat::EpochNanos,
    ];

    /// The name a connector spec uses (`rfc3339`, `epoch_seconds`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            SimTimeFormat::Rfc3339 => "rfc3339",
            SimTimeFormat::EpochSeconds => "epoch_seconds",
            SimTimeFormat::EpochMillis => "epoch_millis",
            SimTimeFormat::EpochMicros => "epoch_micros",
            SimTimeFormat::EpochNanos => "epoch_nanos",
        }
    }
}

impl GenericProfile {
    /// Checks what [`crate::start`] would otherwise trip over.
    pub fn validate(&self) -> anyhow::Result<()> {
        match &self.auth {
            SimAuth::OAuth2 { token_lifetime, .. } => anyhow::ensure!(
                !token_lifetime.is_zero(),
                "the OAuth 2.0 token lifetime must be positive"
            ),
            SimAuth::ApiKeyHeader { header, .. } => anyhow::ensure!(
                axum::http::HeaderName::from_bytes(header.as_bytes()).is_ok(),
                "`{header}` is not a valid header name"
            ),
            _ => {}
        }
        Ok(())
    }
}
