//! Sources whose listed records name files (`files`): a file that cannot be read fails the
//! run naming it and delivers nothing of its page; a file whose length differs from its
//! listing's is fetched again, then fails; a file elsewhere than `base_url` is never asked
//! for; a file over `files.max_size` fails naming the key.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::server::{json_response, Vendor};
use super::{lake_ids, run, write_config};

/// Two files listed two hours ago; `f2`'s CSV has a short row while `broken` is set.
struct Files {
    listed: DateTime<Utc>,
    broken: AtomicBool,
    /// Added to `f1`'s listed length.
    skew: std::sync::atomic::AtomicI64,
    /// Where `f1` is said to be.
    f1_location: std::sync::Mutex<String>,
    fetched: AtomicUsize,
}

impl Files {
    fn new() -> Arc<Files> {
        let listed = Utc::now() - TimeDelta::hours(2);
        Arc::new(Files {
            listed: DateTime::from_timestamp(listed.timestamp(), 0).unwrap(),
            broken: AtomicBool::new(false),
            skew: Default::default(),
            f1_location: std::sync::Mutex::new("/files/f1".into()),
            fetched: AtomicUsize::new(0),
        })
    }

    fn csv(&self, name: &str) -> String {
        let at = |s: i64| {
            sluice::timefmt::rfc3339_millis(
                self.listed - TimeDelta::minutes(30) + TimeDelta::seconds(s),
            )
        };
        match name {
            "f1" => format!(
                "\"EVENT_TYPE\",\"TIMESTAMP_DERIVED\",\"REQUEST_ID\"\n\"URI\",\"{}\",\"r1\"\n\"URI\",\"{}\",\"r1\"\n\"URI\",\"{}\",\"r2\"\n",
                at(1),
                at(2),
                at(3)
            ),
            _ if self.broken.load(Ordering::SeqCst) => format!(
                "\"EVENT_TYPE\",\"TIMESTAMP_DERIVED\",\"REQUEST_ID\"\n\"Login\",\"{}\",\"r3\"\n\"Login\",\"{}\"\n",
                at(4),
                at(5)
            ),
            _ => format!(
                "\"EVENT_TYPE\",\"TIMESTAMP_DERIVED\",\"REQUEST_ID\"\n\"Login\",\"{}\",\"r3\"\n\"Login\",\"{}\",\"r4\"\n",
                at(4),
                at(5)
            ),
        }
    }

    fn answer(&self, path: &str) -> Response {
        if path == "/list" {
            let time =
                |s: i64| sluice::timefmt::rfc3339_millis(self.listed + TimeDelta::seconds(s));
            let length = |name: &str| self.csv(name).len() as i64;
            let records = json!([
                {
                    "id": "f1",
                    "time": time(0),
                    "file": *self.f1_location.lock().unwrap(),
                    "length": length("f1") + self.skew.load(Ordering::SeqCst),
                },
                { "id": "f2", "time": time(1), "file": "/files/f2", "length": length("f2") },
            ]);
            return json_response(StatusCode::OK, &json!({ "records": records }));
        }
        let Some(name) = path.strip_prefix("/files/") else {
            return json_response(StatusCode::NOT_FOUND, &json!({ "error": "no such path" }));
        };
        self.fetched.fetch_add(1, Ordering::SeqCst);
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/octetstream")
            .body(Body::from(self.csv(name)))
            .unwrap()
    }
}

fn spec(base: &str, extra: &str) -> String {
    format!(
        r#"name = "logs"
base_url = "{base}"
path = "/list"
query = {{ since = "{{start}}", until = "{{end}}" }}
pagination = {{ kind = "none" }}
records_path = "records"
event_time = {{ path = "time" }}
event_id = {{ path = "id" }}
files = {{ url_path = "file", format = "csv", length_path = "length", event_time = {{ path = "TIMESTAMP_DERIVED" }}{extra} }}
window = {{ lookback = "1d", settle_delay = "1m" }}
http = {{ max_attempts = 3, max_backoff = "50ms", timeout = "5s" }}"#
    )
}

fn all_rows() -> BTreeSet<String> {
    ["f1:1", "f1:2", "f1:3", "f2:1", "f2:2"]
        .into_iter()
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_csv_fails_naming_it_and_delivers_nothing_of_its_page() {
    let files = Files::new();
    files.broken.store(true, Ordering::SeqCst);
    let api = files.clone();
    let (_vendor, base) = Vendor::start(move |seen| api.answer(&seen.path)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[spec(&base, "")]);
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    for words in ["/files/f2", "record f2", "row 2", "Csv"] {
        assert!(text.contains(words), "the failure names {words}: {text}");
    }
    // The first file's rows were staged before the second failed: none of them is published.
    assert!(lake_ids(dir.path(), "logs").is_empty(), "{text}");

    // Fixed, the next run delivers every row of both files once, each at its own time.
    files.broken.store(false, Ordering::SeqCst);
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(lake_ids(dir.path(), "logs"), all_rows(), "{text}");
    let lake = sluice::sink::lake::read_lake(&dir.path().join("lake"), "logs").unwrap();
    let at = lake.event_ids.iter().position(|id| id == "f1:1").unwrap();
    let time = lake.event_times[at].as_deref().expect("a time");
    assert_eq!(
        DateTime::parse_from_rfc3339(time).unwrap(),
        files.listed - TimeDelta::minutes(30) + TimeDelta::seconds(1),
        "a row's time is its TIMESTAMP_DERIVED, not its file's"
    );
    // Already delivered: listed again, not fetched again.
    let fetched = files.fetched.load(Ordering::SeqCst);
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(files.fetched.load(Ordering::SeqCst), fetched, "{text}");
    assert_eq!(lake_ids(dir.path(), "logs"), all_rows());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_shorter_than_its_listing_says_is_fetched_again_then_fails() {
    let files = Files::new();
    // The listing says one byte more: the body looks cut short every time.
    files.skew.store(1, Ordering::SeqCst);
    let api = files.clone();
    let (vendor, base) = Vendor::start(move |seen| api.answer(&seen.path)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[spec(&base, "")]);
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("files.length_path"), "{text}");
    assert!(text.contains("cut short"), "{text}");
    assert_eq!(
        vendor.requests("/files/f1").len(),
        3,
        "every attempt: {text}"
    );
    assert!(lake_ids(dir.path(), "logs").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_elsewhere_or_too_large_is_never_read() {
    let files = Files::new();
    *files.f1_location.lock().unwrap() = "https://attacker.example/steal".into();
    let api = files.clone();
    let (_vendor, base) = Vendor::start(move |seen| api.answer(&seen.path)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &[spec(&base, "")]);
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("attacker.example"), "{text}");
    assert!(text.contains("outside"), "{text}");

    *files.f1_location.lock().unwrap() = "/files/f1".into();
    let config = write_config(dir.path(), &[spec(&base, ", max_size = \"40B\"")]);
    let (code, text) = run(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("files.max_size"), "{text}");
    assert!(text.contains("/files/f1"), "{text}");
    assert!(lake_ids(dir.path(), "logs").is_empty());
}
