//! The hostile test server: an API that pages by `after` and misbehaves as its `Mode` says.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

/// How the server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Pages by `after` (records skipped), with a `Link: rel="next"` while more remain.
    Honest,
    /// Each page after the first starts with the last record of the page before, as APIs
    /// that page by time do: legitimate, dropped by id.
    BoundaryOverlap,
    /// Page B links back to page A's exact URL (A → B → A).
    LinkLoop,
    /// Ignores `after`: every page is the first one, with an ever-new next link.
    IgnoresCursor,
    /// `rel="NEXT"`.
    UpperCaseRel,
    /// A 0xff byte in the Link header.
    NonAsciiLink,
    /// Page B links to another origin until `fixed` is set.
    ForeignLink,
    /// Headers at once, then a body of one byte per second.
    SlowLoris,
    /// A body that never ends.
    EndlessBody,
    /// `302 Found` to another host, with a token in the query.
    Redirect,
    /// `503` for everything.
    Down,
    /// `200` with an error object that echoes the request instead of records.
    EchoedError,
    /// Honest pages, compressed with gzip and zstd in turn (`406` unless the request accepts
    /// gzip, br and zstd).
    Compressed,
    /// A small gzip body that decodes to 64 MiB.
    GzipBomb,
}

pub struct Inner {
    mode: Mode,
    /// `(id, time)` of the honest dataset, oldest first.
    records: Vec<(String, DateTime<Utc>)>,
    /// Records served on every first page whatever the requested range.
    extras: Vec<Value>,
    fixed: AtomicBool,
    requests: AtomicU64,
    base: OnceLock<String>,
}

#[derive(Clone)]
pub struct Api(Arc<Inner>);

impl Api {
    /// `count` records one second apart, starting two hours ago.
    pub fn new(mode: Mode, count: usize) -> Self {
        let start = Utc::now() - TimeDelta::hours(2);
        let start = DateTime::from_timestamp(start.timestamp(), 0).unwrap();
        Api(Arc::new(Inner {
            mode,
            records: (0..count)
                .map(|i| (format!("e{i}"), start + TimeDelta::seconds(i as i64)))
                .collect(),
            extras: Vec::new(),
            fixed: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            base: OnceLock::new(),
        }))
    }

    pub fn with_extras(mode: Mode, count: usize, extras: Vec<Value>) -> Self {
        let api = Api::new(mode, count);
        let mut inner = Arc::try_unwrap(api.0).ok().expect("not shared yet");
        inner.extras = extras;
        Api(Arc::new(inner))
    }

    pub fn ids(&self) -> BTreeSet<String> {
        self.0.records.iter().map(|(id, _)| id.clone()).collect()
    }

    pub fn fix(&self) {
        self.0.fixed.store(true, Ordering::SeqCst);
    }

    pub fn requests(&self) -> u64 {
        self.0.requests.load(Ordering::SeqCst)
    }

    pub async fn start(self) -> (Self, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        self.0.base.set(base.clone()).unwrap();
        let app = axum::Router::new().fallback(serve).with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (self, base)
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    sluice::timefmt::rfc3339_millis(t)
}

pub fn record(id: &str, t: DateTime<Utc>) -> Value {
    json!({ "id": id, "published": rfc3339(t), "actor": "someone" })
}

async fn serve(State(api): State<Api>, uri: Uri, headers: HeaderMap) -> Response {
    let inner = &api.0;
    inner.requests.fetch_add(1, Ordering::SeqCst);
    let base = inner.base.get().cloned().unwrap_or_default();
    let raw_query = uri.query().unwrap_or_default().to_string();
    let params: HashMap<String, String> = url::form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let time = |key: &str| {
        params
            .get(key)
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let (since, until) = (time("since"), time("until"));
    let limit: usize = params
        .get("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut after: usize = params
        .get("after")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // The query of the first page: this one without `after`.
    let first_query = raw_query
        .split('&')
        .filter(|part| !part.starts_with("after="))
        .collect::<Vec<_>>()
        .join("&");

    match inner.mode {
        Mode::Down => {
            return Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .body(Body::from("maintenance"))
                .unwrap()
        }
        Mode::Redirect => {
            return Response::builder()
                .status(StatusCode::FOUND)
                .header(
                    "location",
                    "http://elsewhere.invalid/api/v2/logs?token=SECRET123",
                )
                .body(Body::empty())
                .unwrap()
        }
        Mode::EchoedError => {
            let echo = json!({"errors": [{"message": "invalid request", "query": raw_query}]});
            return Response::builder()
                .header("content-type", "application/json")
                .body(Body::from(echo.to_string()))
                .unwrap();
        }
        Mode::SlowLoris => {
            let trickle = futures_util::stream::unfold(0u32, |n| async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                (n < 600).then(|| {
                    (
                        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b" ")),
                        n + 1,
                    )
                })
            });
            return Response::builder()
                .header("content-type", "application/json")
                .body(Body::from_stream(trickle))
                .unwrap();
        }
        Mode::GzipBomb => {
            let mut body = b"[".to_vec();
            body.resize(64 << 20, b' ');
            return Response::builder()
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body(Body::from(gzip(&body)))
                .unwrap();
        }
        Mode::Compressed => {
            let accepted = headers
                .get("accept-encoding")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !["gzip", "br", "zstd"].iter().all(|e| accepted.contains(e)) {
                return Response::builder()
                    .status(StatusCode::NOT_ACCEPTABLE)
                    .body(Body::from(format!(
                        "Accept-Encoding {accepted:?} lacks gzip, br or zstd"
                    )))
                    .unwrap();
            }
        }
        Mode::EndlessBody => {
            let chunk = bytes::Bytes::from(
                "{\"id\":\"x\",\"published\":\"2020-01-01T00:00:00Z\"},".repeat(400),
            );
            let endless = futures_util::stream::unfold(true, move |first| {
                let chunk = chunk.clone();
                async move {
                    let bytes = if first {
                        bytes::Bytes::from_static(b"[")
                    } else {
                        chunk
                    };
                    Some((Ok::<_, std::io::Error>(bytes), false))
                }
            });
            return Response::builder()
                .header("content-type", "application/json")
                .body(Body::from_stream(endless))
                .unwrap();
        }
        Mode::IgnoresCursor => after = 0,
        _ => {}
    }

    let in_range: Vec<&(String, DateTime<Utc>)> = inner
        .records
        .iter()
        .filter(|(_, t)| since.is_none_or(|s| *t >= s) && until.is_none_or(|u| *t < u))
        .collect();
    let requested_after: usize = params
        .get("after")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let start = if inner.mode == Mode::BoundaryOverlap && after > 0 {
        after - 1
    } else {
        after
    };
    let page: Vec<Value> = in_range
        .iter()
        .skip(start)
        .take(limit)
        .map(|(id, t)| record(id, *t))
        .collect();
    let mut body: Vec<Value> = Vec::new();
    if requested_after == 0 {
        body.extend(inner.extras.iter().cloned());
    }
    body.extend(page);
    let more = after + limit < in_range.len();
    let next_after = requested_after + limit;
    let honest_next = format!("{base}/logs?{first_query}&after={next_after}");
    let link: Option<Vec<u8>> = match inner.mode {
        Mode::LinkLoop if requested_after > 0 => {
            Some(format!("<{base}/logs?{first_query}>; rel=\"next\"").into_bytes())
        }
        Mode::IgnoresCursor => Some(format!("<{honest_next}>; rel=\"next\"").into_bytes()),
        _ if !more => None,
        Mode::UpperCaseRel => Some(format!("<{honest_next}>; rel=\"NEXT\"").into_bytes()),
        Mode::NonAsciiLink => {
            let mut bytes = format!("<{honest_next}&x=").into_bytes();
            bytes.push(0xff);
            bytes.extend_from_slice(b">; rel=\"next\"");
            Some(bytes)
        }
        Mode::ForeignLink if requested_after > 0 && !inner.fixed.load(Ordering::SeqCst) => Some(
            format!(
                "<http://foreign.invalid:9/logs?{first_query}&after={next_after}>; rel=\"next\""
            )
            .into_bytes(),
        ),
        _ => Some(format!("<{honest_next}>; rel=\"next\"").into_bytes()),
    };
    let mut response = Response::builder().header("content-type", "application/json");
    if let Some(link) = link {
        response = response.header("link", HeaderValue::from_bytes(&link).unwrap());
    }
    let mut body = serde_json::to_vec(&body).unwrap();
    if inner.mode == Mode::Compressed {
        // Pages take the three encodings in turn.
        let (name, encoded) = match (requested_after / limit.max(1)) % 3 {
            0 => ("gzip", gzip(&body)),
            1 => ("br", brotli_encode(&body)),
            _ => ("zstd", zstd::encode_all(&body[..], 3).unwrap()),
        };
        response = response.header("content-encoding", name);
        body = encoded;
    }
    response.body(Body::from(body)).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn brotli_encode(bytes: &[u8]) -> Vec<u8> {
    let mut encoded = Vec::new();
    let params = brotli::enc::BrotliEncoderParams::default();
    brotli::BrotliCompress(&mut &bytes[..], &mut encoded, &params).unwrap();
    encoded
}
