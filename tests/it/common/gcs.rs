//! An in-process Google Cloud Storage emulator for the `gs://` tests, in memory on loopback.
//!
//! It answers the XML API requests that `object_store`'s GCS client sends (read from its
//! `gcp/client.rs`), as Google's Cloud Storage XML API reference describes them:
//!
//! - `PUT /<bucket>/<object>` (upload), honouring `x-goog-if-generation-match`: `0` holds only
//!   when there is no live object, `N` only when the live object's generation is `N`;
//!   otherwise `412 PreconditionFailed` and nothing is written.
//! - `PUT` with `x-goog-copy-source: <bucket>/<object>` (server-side copy), with the same
//!   precondition on the destination.
//! - `GET` / `HEAD`, whole or a `Range` (`206` with `Content-Range`, `416` outside the
//!   object), with `ETag`, `Last-Modified`, `x-goog-generation` and `x-goog-metageneration`.
//! - `DELETE` (`204`, or `404 NoSuchKey`).
//! - Multipart: `POST ?uploads`, `PUT ?partNumber=&uploadId=`, `POST ?uploadId=` with a
//!   `CompleteMultipartUpload` body (parts known, ascending, ETags matching, every part but
//!   the last at least 5 MiB), `DELETE ?uploadId=`.
//! - `GET /<bucket>?list-type=2` with `prefix`, `delimiter`, `max-keys`, `start-after` and
//!   `continuation-token`, pages of at most [`PAGE_SIZE`] entries so that listings in the
//!   tests span several pages.
//!
//! Requests it does not implement (other conditions such as `If-Match`, `generation=`,
//! other methods) are answered `501`, so a client that starts relying on them fails a test
//! instead of passing against an emulator that ignored them. Authentication is not checked:
//! the client runs with `disable_oauth` and sends an empty bearer token.
//!
//! One emulator serves a whole test binary ([`shared`]): the client finds it through the
//! service-account JSON in `GOOGLE_SERVICE_ACCOUNT_KEY`, one variable per process.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use object_store::ObjectStore;
use percent_encoding::percent_decode_str;
use sha2::Digest;

/// The emulator's only bucket.
pub const BUCKET: &str = "lake";

/// Entries per listing page (GCS allows up to 1000); small, so that continuation tokens are
/// exercised.
pub const PAGE_SIZE: usize = 7;

/// GCS's smallest multipart part, except for the last.
const MIN_PART: usize = 5 * 1024 * 1024;

/// A running emulator.
pub struct Gcs {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    state: Arc<Mutex<Store>>,
}

/// What the emulator holds.
#[derive(Default)]
struct Store {
    /// Live objects of [`BUCKET`] by name.
    objects: BTreeMap<String, Object>,
    /// Multipart uploads in progress by upload id.
    uploads: HashMap<String, Upload>,
    /// The generation the next write gets (GCS generations only grow).
    next_generation: i64,
    next_upload: u64,
    /// Objects another writer creates right after a `HEAD` found their name free: the race
    /// between a lookup and a create-only write.
    after_missed_head: HashMap<String, Bytes>,
}

struct Object {
    data: Bytes,
    generation: i64,
    etag: String,
    content_type: String,
    updated: DateTime<Utc>,
}

struct Upload {
    key: String,
    content_type: String,
    /// Part number to (ETag, bytes).
    parts: BTreeMap<u32, (String, Bytes)>,
}

static SHARED: OnceLock<Gcs> = OnceLock::new();

/// The emulator of this test binary, started on first use on a thread of its own (each
/// `#[tokio::test]` has a runtime that ends with the test).
pub fn shared() -> &'static Gcs {
    SHARED.get_or_init(Gcs::start)
}

impl Gcs {
    fn start() -> Gcs {
        let listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .expect("loopback has a free port");
        let address = listener
            .local_addr()
            .expect("a bound socket has an address");
        listener
            .set_nonblocking(true)
            .expect("a socket can be non-blocking");
        let state = Arc::new(Mutex::new(Store {
            next_generation: Utc::now().timestamp_micros(),
            ..Store::default()
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::disable())
            .with_state(Arc::clone(&state));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the emulator");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                axum::serve(listener, app)
                    .await
                    .expect("the emulator serves");
            });
        });
        Gcs {
            base_url: format!("http://{address}"),
            state,
        }
    }

    /// A service-account key that points `object_store` at this emulator without OAuth
    /// (the fields `object_store` requires are present; the key is never used).
    pub fn service_account_key(&self) -> String {
        serde_json::json!({
            "private_key": "unused",
            "private_key_id": "unused",
            "client_email": "sluice-test@example.iam.gserviceaccount.com",
            "gcs_base_url": self.base_url,
            "disable_oauth": true,
        })
        .to_string()
    }

    /// Environment variables that make `GoogleCloudStorageBuilder::from_env` (as sluice uses
    /// it) connect here.
    pub fn env(&self) -> [(&'static str, String); 1] {
        [("GOOGLE_SERVICE_ACCOUNT_KEY", self.service_account_key())]
    }

    /// Sets [`Gcs::env`] in this process, for sinks and readers the test runs in-process.
    /// Once per process: the values never change (one emulator per process, [`shared`]), and
    /// the tests of other groups run beside it, so the environment is written as little as
    /// possible.
    pub fn set_env(&self) {
        static SET: std::sync::Once = std::sync::Once::new();
        SET.call_once(|| {
            for name in [
                "GOOGLE_SERVICE_ACCOUNT",
                "GOOGLE_SERVICE_ACCOUNT_PATH",
                "SERVICE_ACCOUNT",
            ] {
                std::env::remove_var(name);
            }
            for (name, value) in self.env() {
                std::env::set_var(name, value);
            }
        });
    }

    /// A client of the bucket of the test's own, to look behind sluice's back.
    pub fn client(&self) -> Arc<dyn ObjectStore> {
        Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::new()
                .with_bucket_name(BUCKET)
                .with_service_account_key(self.service_account_key())
                .with_client_options(object_store::ClientOptions::new().with_allow_http(true))
                .build()
                .expect("the emulator's client builds"),
        )
    }

    /// Arranges that the first `HEAD` of `key` that finds nothing is followed at once by
    /// another writer creating `key` with `data`: what a concurrent writer does between a
    /// lookup and a create-only write.
    pub fn create_after_missed_head(&self, key: &str, data: &[u8]) {
        self.lock()
            .after_missed_head
            .insert(key.to_string(), Bytes::copy_from_slice(data));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        lock(&self.state)
    }
}

/// The store, even after a test thread panicked holding it (the data is still consistent:
/// every change is made whole under the lock).
fn lock(state: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Conditions this emulator does not implement: refused, never ignored.
const UNSUPPORTED_HEADERS: [&str; 7] = [
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "x-goog-if-generation-not-match",
    "x-goog-if-metageneration-match",
    "x-goog-if-metageneration-not-match",
];

async fn handle(
    State(state): State<Arc<Mutex<Store>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) => (bucket, Some(key)),
        None => (path, None),
    };
    let Some(bucket) = decode(bucket) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidURI",
            "The bucket name is not UTF-8.",
        );
    };
    let key = match key.map(decode) {
        Some(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidURI",
                "The object name is not UTF-8.",
            )
        }
        Some(Some(key)) if !key.is_empty() => Some(key),
        _ => None,
    };
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    if let Some(name) = UNSUPPORTED_HEADERS
        .iter()
        .find(|h| headers.contains_key(**h))
    {
        return not_implemented(&format!("the {name} header"));
    }
    if query.contains_key("generation") {
        return not_implemented("the generation parameter");
    }
    if bucket != BUCKET {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist.",
        );
    }
    let mut store = lock(&state);
    let Some(key) = key else {
        return match method {
            Method::GET if query.get("list-type").map(String::as_str) == Some("2") => {
                store.list(&query)
            }
            _ => not_implemented(&format!("{method} on a bucket")),
        };
    };
    match method {
        Method::PUT if query.contains_key("uploadId") => store.put_part(&key, &query, body),
        Method::PUT if headers.contains_key("x-goog-copy-source") => store.copy(&key, &headers),
        Method::PUT => store.put(&key, &headers, body),
        Method::POST if query.contains_key("uploads") => store.initiate(&key, &headers),
        Method::POST if query.contains_key("uploadId") => store.complete(&key, &query, &body),
        Method::DELETE if query.contains_key("uploadId") => store.abort(&key, &query),
        Method::DELETE => store.delete(&key),
        Method::GET | Method::HEAD => store.get(&key, &headers, method == Method::HEAD),
        _ => not_implemented(&format!("{method} on an object")),
    }
}

impl Store {
    /// A new object under `key` from `data`, with the next generation.
    fn insert(&mut self, key: &str, data: Bytes, etag: String, content_type: String) -> &Object {
        let generation = self.next_generation;
        self.next_generation += 1;
        self.objects.insert(
            key.to_string(),
            Object {
                data,
                generation,
                etag,
                content_type,
                updated: Utc::now(),
            },
        );
        &self.objects[key]
    }

    /// `x-goog-if-generation-match` against the live object at `key`.
    /// A refusal is boxed: a `Response` is large.
    fn generation_holds(&self, key: &str, headers: &HeaderMap) -> Result<(), Box<Response>> {
        let Some(value) = headers.get("x-goog-if-generation-match") else {
            return Ok(());
        };
        let Some(wanted) = value.to_str().ok().and_then(|v| v.parse::<i64>().ok()) else {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "x-goog-if-generation-match is not a number.",
            )));
        };
        let holds = match self.objects.get(key) {
            None => wanted == 0,
            Some(live) => live.generation == wanted,
        };
        if holds {
            Ok(())
        } else {
            Err(Box::new(error(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold.",
            )))
        }
    }

    fn put(&mut self, key: &str, headers: &HeaderMap, body: Bytes) -> Response {
        if let Err(refused) = self.generation_holds(key, headers) {
            return *refused;
        }
        let etag = etag_of(&body);
        let object = self.insert(key, body, etag, content_type(headers));
        written(object, Body::empty())
    }

    fn copy(&mut self, key: &str, headers: &HeaderMap) -> Response {
        let source = headers
            .get("x-goog-copy-source")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let source = source.trim_start_matches('/');
        let Some((bucket, name)) = source.split_once('/') else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "x-goog-copy-source is not <bucket>/<object>.",
            );
        };
        let (Some(bucket), Some(name)) = (decode(bucket), decode(name)) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "The copy source is not UTF-8.",
            );
        };
        let Some(from) = self.objects.get(&name).filter(|_| bucket == BUCKET) else {
            return error(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            );
        };
        let (data, etag, content_type) = (
            from.data.clone(),
            from.etag.clone(),
            from.content_type.clone(),
        );
        if let Err(refused) = self.generation_holds(key, headers) {
            return *refused;
        }
        let object = self.insert(key, data, etag, content_type);
        let body = format!(
            "<?xml version='1.0' encoding='UTF-8'?><CopyObjectResult><LastModified>{}</LastModified><ETag>{}</ETag></CopyObjectResult>",
            xml_time(object.updated),
            escape(&object.etag)
        );
        written(object, Body::from(body))
    }

    fn get(&mut self, key: &str, headers: &HeaderMap, head: bool) -> Response {
        let Some(object) = self.objects.get(key) else {
            if head {
                if let Some(data) = self.after_missed_head.remove(key) {
                    let etag = etag_of(&data);
                    self.insert(key, data, etag, "application/octet-stream".into());
                }
            }
            return error(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            );
        };
        let size = object.data.len() as u64;
        let range = match headers.get("range").map(|v| v.to_str().unwrap_or_default()) {
            None => None,
            Some(value) => match parse_range(value, size) {
                Some(range) => Some(range),
                None => {
                    return error(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "InvalidRange",
                        "The requested range cannot be satisfied.",
                    )
                }
            },
        };
        let (status, data) = match range {
            Some((first, last)) => (
                StatusCode::PARTIAL_CONTENT,
                object.data.slice(first as usize..=last as usize),
            ),
            None => (StatusCode::OK, object.data.clone()),
        };
        let mut response = Response::builder()
            .status(status)
            .header("content-type", &object.content_type)
            .header("content-length", data.len())
            .header("etag", &object.etag)
            .header(
                "last-modified",
                object
                    .updated
                    .format("%a, %d %b %Y %H:%M:%S GMT")
                    .to_string(),
            )
            .header("x-goog-generation", object.generation)
            .header("x-goog-metageneration", 1)
            .header("x-goog-stored-content-length", size)
            .header("accept-ranges", "bytes");
        if let Some((first, last)) = range {
            response = response.header("content-range", format!("bytes {first}-{last}/{size}"));
        }
        let body = if head {
            Body::empty()
        } else {
            Body::from(data)
        };
        response.body(body).expect("valid response headers")
    }

    fn delete(&mut self, key: &str) -> Response {
        match self.objects.remove(key) {
            Some(_) => no_content(),
            None => error(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            ),
        }
    }

    fn initiate(&mut self, key: &str, headers: &HeaderMap) -> Response {
        self.next_upload += 1;
        let id = format!("upload-{}", self.next_upload);
        self.uploads.insert(
            id.clone(),
            Upload {
                key: key.to_string(),
                content_type: content_type(headers),
                parts: BTreeMap::new(),
            },
        );
        xml(
            StatusCode::OK,
            format!(
                "<InitiateMultipartUploadResult><Bucket>{BUCKET}</Bucket><Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
                escape(key)
            ),
        )
    }

    /// The upload `uploadId` names, if it is one of `key`'s.
    fn upload_of(
        &mut self,
        key: &str,
        query: &HashMap<String, String>,
    ) -> Result<&mut Upload, Box<Response>> {
        let id = query
            .get("uploadId")
            .map(String::as_str)
            .unwrap_or_default();
        self.uploads
            .get_mut(id)
            .filter(|upload| upload.key == key)
            .ok_or_else(|| {
                Box::new(error(
                    StatusCode::NOT_FOUND,
                    "NoSuchUpload",
                    "The requested upload was not found.",
                ))
            })
    }

    fn put_part(&mut self, key: &str, query: &HashMap<String, String>, body: Bytes) -> Response {
        let number = query
            .get("partNumber")
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (1..=10_000).contains(n));
        let Some(number) = number else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "partNumber must be an integer from 1 to 10000.",
            );
        };
        let upload = match self.upload_of(key, query) {
            Ok(upload) => upload,
            Err(refused) => return *refused,
        };
        let etag = etag_of(&body);
        upload.parts.insert(number, (etag.clone(), body));
        Response::builder()
            .status(StatusCode::OK)
            .header("etag", etag)
            .body(Body::empty())
            .expect("valid response headers")
    }

    fn complete(&mut self, key: &str, query: &HashMap<String, String>, body: &[u8]) -> Response {
        let listed = match parse_completion(body) {
            Some(listed) if !listed.is_empty() => listed,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "MalformedCompleteMultipartUploadRequest",
                    "The XML you provided was not well-formed or did not validate.",
                )
            }
        };
        let upload = match self.upload_of(key, query) {
            Ok(upload) => upload,
            Err(refused) => return *refused,
        };
        let mut data = Vec::new();
        let mut previous = 0;
        for (index, (number, etag)) in listed.iter().enumerate() {
            if *number <= previous {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidPartOrder",
                    "The list of parts was not in ascending order.",
                );
            }
            previous = *number;
            let Some((_, bytes)) = upload.parts.get(number).filter(|(e, _)| e == etag) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidPart",
                    "One or more of the specified parts could not be found.",
                );
            };
            if index + 1 < listed.len() && bytes.len() < MIN_PART {
                return error(
                    StatusCode::BAD_REQUEST,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed object size.",
                );
            }
            data.extend_from_slice(bytes);
        }
        let id = query.get("uploadId").cloned().unwrap_or_default();
        let Some(upload) = self.uploads.remove(&id) else {
            unreachable!("upload_of found it under the lock");
        };
        let etag = format!("\"{}-{}\"", etag_of(&data).trim_matches('"'), listed.len());
        let object = self.insert(key, Bytes::from(data), etag, upload.content_type);
        let body = format!(
            "<?xml version='1.0' encoding='UTF-8'?><CompleteMultipartUploadResult><Location>/{BUCKET}/{key}</Location><Bucket>{BUCKET}</Bucket><Key>{key}</Key><ETag>{etag}</ETag></CompleteMultipartUploadResult>",
            key = escape(key),
            etag = escape(&object.etag)
        );
        written(object, Body::from(body))
    }

    fn abort(&mut self, key: &str, query: &HashMap<String, String>) -> Response {
        if let Err(refused) = self.upload_of(key, query) {
            return *refused;
        }
        let id = query.get("uploadId").cloned().unwrap_or_default();
        self.uploads.remove(&id);
        no_content()
    }

    fn list(&self, query: &HashMap<String, String>) -> Response {
        let prefix = query.get("prefix").cloned().unwrap_or_default();
        let delimiter = query.get("delimiter").filter(|d| !d.is_empty());
        let max_keys = query
            .get("max-keys")
            .and_then(|m| m.parse::<usize>().ok())
            .unwrap_or(PAGE_SIZE)
            .min(PAGE_SIZE);
        // Where the previous page ended: an object name, or a common prefix whose names
        // were all rolled up into it.
        let after = match query.get("continuation-token") {
            Some(token) => match decode_token(token) {
                Some(after) => Some(after),
                None => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "InvalidArgument",
                        "The continuation token is not valid.",
                    )
                }
            },
            None => query.get("start-after").cloned(),
        };
        let mut entries: Vec<String> = Vec::new();
        let mut contents = String::new();
        let mut prefixes = String::new();
        let mut truncated = false;
        for (name, object) in self.objects.range(prefix.clone()..) {
            if !name.starts_with(&prefix) {
                break;
            }
            if let Some(after) = &after {
                let rolled_up = delimiter.is_some_and(|d| after.ends_with(d.as_str()))
                    && name.starts_with(after.as_str());
                if name <= after || rolled_up {
                    continue;
                }
            }
            let common = delimiter.and_then(|d| {
                name[prefix.len()..]
                    .find(d.as_str())
                    .map(|at| name[..prefix.len() + at + d.len()].to_string())
            });
            let entry = common.clone().unwrap_or_else(|| name.clone());
            if entries.last() == Some(&entry) {
                continue;
            }
            if entries.len() == max_keys {
                truncated = true;
                break;
            }
            match common {
                Some(common) => prefixes.push_str(&format!(
                    "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
                    escape(&common)
                )),
                None => contents.push_str(&format!(
                    "<Contents><Key>{}</Key><Generation>{}</Generation><MetaGeneration>1</MetaGeneration><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size></Contents>",
                    escape(name),
                    object.generation,
                    xml_time(object.updated),
                    escape(&object.etag),
                    object.data.len()
                )),
            }
            entries.push(entry);
        }
        let next = match (truncated, entries.last()) {
            (true, Some(last)) => format!(
                "<NextContinuationToken>{}</NextContinuationToken>",
                encode_token(last)
            ),
            _ => String::new(),
        };
        xml(
            StatusCode::OK,
            format!(
                "<?xml version='1.0' encoding='UTF-8'?><ListBucketResult xmlns='http://doc.s3.amazonaws.com/2006-03-01'><Name>{BUCKET}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{max_keys}</MaxKeys><IsTruncated>{truncated}</IsTruncated>{contents}{prefixes}{next}</ListBucketResult>",
                escape(&prefix),
                entries.len()
            ),
        )
    }
}

/// The answer to a write: the new object's ETag and generation.
fn written(object: &Object, body: Body) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header("etag", &object.etag)
        .header("x-goog-generation", object.generation)
        .header("x-goog-metageneration", 1)
        .body(body)
        .expect("valid response headers")
}

fn no_content() -> Response {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .expect("a valid response")
}

fn xml(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/xml; charset=UTF-8")
        .body(Body::from(body))
        .expect("a valid response")
}

/// GCS's XML error document.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    xml(
        status,
        format!("<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"),
    )
}

fn not_implemented(what: &str) -> Response {
    error(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        &format!("The test emulator does not implement {what}."),
    )
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string()
}

/// A quoted, content-derived ETag. GCS uses the MD5 of the bytes; clients treat it as
/// opaque, so a digest truncated to the same length serves.
fn etag_of(data: &[u8]) -> String {
    let digest = sha2::Sha256::digest(data);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn decode(text: &str) -> Option<String> {
    percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn xml_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A continuation token: the last entry of a page, hex-encoded (opaque to clients).
fn encode_token(last: &str) -> String {
    last.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(token: &str) -> Option<String> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(token.get(at..at + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` as the first and last byte, or `None` when the
/// range does not fit the object.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    let (first, last) = spec.split_once('-')?;
    if size == 0 {
        return None;
    }
    if first.is_empty() {
        let suffix: u64 = last.parse().ok()?;
        return (suffix > 0).then(|| (size.saturating_sub(suffix), size - 1));
    }
    let first: u64 = first.parse().ok()?;
    let last: u64 = match last {
        "" => size - 1,
        last => last.parse::<u64>().ok()?.min(size - 1),
    };
    (first < size && first <= last).then_some((first, last))
}

/// The `(PartNumber, ETag)` pairs of a `CompleteMultipartUpload` document, in order.
fn parse_completion(body: &[u8]) -> Option<Vec<(u32, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    let inner = |part: &str, tag: &str| -> Option<String> {
        let open = format!("<{tag}>");
        let start = part.find(&open)? + open.len();
        let end = start + part[start..].find(&format!("</{tag}>"))?;
        Some(part[start..end].replace("&quot;", "\""))
    };
    text.split("<Part>")
        .skip(1)
        .map(|part| {
            let part = part.split("</Part>").next()?;
            Some((
                inner(part, "PartNumber")?.trim().parse().ok()?,
                inner(part, "ETag")?,
            ))
        })
        .collect()
}
