//! S3 Object Lock retention on published lake objects (`object_lock = { ... }` on s3:// lakes).
//!
//! Retention belongs on the published object only: staged objects are deleted after the
//! copy, and a retained staged version would stay (and be billed) for the whole retention.
//! So the staging `PUT`s and multipart uploads carry no lock headers, and the publishing
//! `CopyObject` carries `x-amz-object-lock-mode` and `x-amz-object-lock-retain-until-date`
//! (retain-until = the copy's time + `retain_for`). S3 does not carry retention over from a
//! copy's source, so the copy is where it must be set.
//!
//! `object_store` has no per-request headers, and the headers of
//! `ClientOptions::with_default_headers` are added after its SigV4 signature is computed,
//! which S3 refuses for `x-amz-*` headers ("headers present in the request which were not
//! signed"). The copy is therefore sent here: built by hand, signed with `object_store`'s own
//! [`AwsAuthorizer`] and the store's credential provider (so every credential source it
//! supports works), and sent with the same endpoint and addressing style.
//!
//! Every upload of a lake with `object_lock` also sends a SHA-256 checksum, which S3 requires
//! (or Content-MD5) on uploads to a bucket with a default retention period.

use std::time::Duration;

use serde::Deserialize;

/// Object Lock retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    /// Users with `s3:BypassGovernanceRetention` can still shorten or remove the retention.
    Governance,
    /// Nobody, the root account included, can delete the object version before the date.
    Compliance,
}

impl LockMode {
    /// The value of `x-amz-object-lock-mode`.
    pub fn header_value(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }
}

/// `object_lock = { mode = "governance", retain_for = "90d" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectLock {
    /// Governance or compliance.
    pub mode: LockMode,
    /// How long each published object is retained, from the moment it is published.
    #[serde(with = "humantime_serde")]
    pub retain_for: Duration,
}

#[cfg(feature = "s3")]
pub(crate) use locked::LockedCopier;

#[cfg(feature = "s3")]
mod locked {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::{SecondsFormat, Utc};
    use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, AwsAuthorizer};
    use object_store::client::{HttpRequest, HttpRequestBody};
    use object_store::path::Path as StorePath;
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

    use super::ObjectLock;

    /// What S3 keeps unencoded in a path segment; everything else is percent-encoded, as
    /// SigV4's canonical URI expects.
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');

    /// Attempts of one copy before its error is returned (transient failures only).
    const ATTEMPTS: u32 = 4;

    /// Sends `CopyObject` requests that set Object Lock retention on the copy.
    pub(crate) struct LockedCopier {
        s3: Arc<AmazonS3>,
        http: reqwest::Client,
        /// `https://host[:port]/bucket` (path style) or `https://bucket.host` (virtual host).
        bucket_url: String,
        /// The bucket, for `x-amz-copy-source`.
        bucket: String,
        region: String,
        lock: ObjectLock,
    }

    impl LockedCopier {
        /// A copier for the store `builder` built (the same endpoint, region, addressing and
        /// credentials).
        pub fn new(
            builder: &AmazonS3Builder,
            s3: Arc<AmazonS3>,
            bucket: &str,
            lock: ObjectLock,
        ) -> Result<LockedCopier, crate::net::NetError> {
            let value = |key| builder.get_config_value(&key).filter(|v| !v.is_empty());
            let region = value(AmazonS3ConfigKey::Region).unwrap_or_else(|| "us-east-1".into());
            let virtual_hosted = value(AmazonS3ConfigKey::VirtualHostedStyleRequest)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let bucket_url = match (value(AmazonS3ConfigKey::Endpoint), virtual_hosted) {
                // As object_store does: a virtual-hosted endpoint already names the bucket.
                (Some(endpoint), true) => endpoint.trim_end_matches('/').to_string(),
                (Some(endpoint), false) => {
                    format!("{}/{bucket}", endpoint.trim_end_matches('/'))
                }
                (None, true) => format!("https://{bucket}.s3.{region}.amazonaws.com"),
                (None, false) => format!("https://s3.{region}.amazonaws.com/{bucket}"),
            };
            let http = crate::net::ClientOptions::new(Duration::from_secs(60)).build()?;
            Ok(LockedCopier {
                s3,
                http,
                bucket_url,
                bucket: bucket.to_string(),
                region,
                lock,
            })
        }

        /// The retain-until date for an object published now.
        pub fn retain_until(&self) -> chrono::DateTime<Utc> {
            let retain_for =
                chrono::Duration::from_std(self.lock.retain_for).unwrap_or(chrono::Duration::MAX);
            Utc::now()
                .checked_add_signed(retain_for)
                .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC)
        }

        fn encode(key: &StorePath) -> String {
            key.as_ref()
                .split('/')
                .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
                .collect::<Vec<_>>()
                .join("/")
        }

        /// Copies `from` to `to` unless an object is at `to` (`AlreadyExists` then),
        /// retaining the copy until now + `retain_for`. Errors are `object_store` errors, so
        /// callers treat them like any other store error.
        pub async fn copy(&self, from: &StorePath, to: &StorePath) -> object_store::Result<()> {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.try_copy(from, to).await {
                    Ok(()) => return Ok(()),
                    Err((err, transient)) if !transient || attempt >= ATTEMPTS => return Err(err),
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    }
                }
            }
        }

        /// One copy; on failure the error and whether it is worth retrying.
        async fn try_copy(
            &self,
            from: &StorePath,
            to: &StorePath,
        ) -> Result<(), (object_store::Error, bool)> {
            let fail = |detail: String, transient: bool| {
                (
                    object_store::Error::Generic {
                        store: "S3",
                        source: detail.into(),
                    },
                    transient,
                )
            };
            let credential = self
                .s3
                .credentials()
                .get_credential()
                .await
                .map_err(|e| (e, true))?;
            let url = format!("{}/{}", self.bucket_url, Self::encode(to));
            let until = self
                .retain_until()
                .to_rfc3339_opts(SecondsFormat::Secs, true);
            let mut request: HttpRequest = http::Request::builder()
                .method(http::Method::PUT)
                .uri(&url)
                .header(
                    "x-amz-copy-source",
                    format!("{}/{}", self.bucket, Self::encode(from)),
                )
                // Create-only: S3 answers 412 when the key exists, so a published (and
                // retained) object is never replaced by a new version.
                .header("if-none-match", "*")
                .header("x-amz-object-lock-mode", self.lock.mode.header_value())
                .header("x-amz-object-lock-retain-until-date", until)
                // The copy gets a SHA-256 checksum of its own, as the uploads have. The SDK
                // header is what S3-compatible stores (moto) check for on locked writes.
                .header("x-amz-checksum-algorithm", "SHA256")
                .header("x-amz-sdk-checksum-algorithm", "SHA256")
                .body(HttpRequestBody::from(Vec::new()))
                .map_err(|e| fail(format!("cannot build the copy request: {e}"), false))?;
            AwsAuthorizer::new(&credential, "s3", &self.region).authorize(&mut request, None);
            let mut send = self.http.put(&url).header("content-length", "0");
            for (name, value) in request.headers() {
                send = send.header(name, value);
            }
            let mut response = send.send().await.map_err(|e| {
                fail(
                    format!("Object Lock copy to {to}: {}", crate::net::describe(&e)),
                    true,
                )
            })?;
            let status = response.status();
            // An answer is an XML document of a few hundred bytes; the rest is not read.
            let body = crate::net::read_excerpt(&mut response, 64 * 1024)
                .await
                .unwrap_or_default();
            let body = String::from_utf8_lossy(&body);
            // CopyObject can fail after a 200 status, with an <Error> body.
            if status.is_success() && !body.contains("<Error>") {
                return Ok(());
            }
            if status == reqwest::StatusCode::PRECONDITION_FAILED {
                return Err((
                    object_store::Error::AlreadyExists {
                        path: to.to_string(),
                        source: format!("Object Lock copy: {status}").into(),
                    },
                    false,
                ));
            }
            if status == reqwest::StatusCode::NOT_FOUND && body.contains("NoSuchKey") {
                return Err((
                    object_store::Error::NotFound {
                        path: from.to_string(),
                        source: format!("Object Lock copy: {status}").into(),
                    },
                    false,
                ));
            }
            let code = between(&body, "<Code>", "</Code>").unwrap_or("");
            let message = between(&body, "<Message>", "</Message>").unwrap_or("");
            let transient = status.is_server_error()
                || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                || code == "InternalError"
                || code == "SlowDown";
            Err(fail(
                format!("Object Lock copy returned {status} {code} {message}")
                    .trim()
                    .to_string(),
                transient,
            ))
        }
    }

    fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
        let start = text.find(open)? + open.len();
        let end = text[start..].find(close)? + start;
        Some(&text[start..end])
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn keys_are_encoded_per_segment() {
            let key = StorePath::parse("source=okta/dt=2023-11-14/a b%2Fc.parquet").unwrap();
            let encoded = LockedCopier::encode(&key);
            assert_eq!(encoded, "source%3Dokta/dt%3D2023-11-14/a%20b%252Fc.parquet");
        }
    }
}
