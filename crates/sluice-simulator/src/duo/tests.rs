use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;
use crate::{self as simulator, event, event_ids, RunningSimulator, SimulatorConfig};

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig::duo(events)
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// How a test request is signed.
struct Signing<'a> {
    ikey: &'a str,
    skey: &'a str,
    sha512: bool,
    date: String,
}

fn now_rfc2822() -> String {
    Utc::now().format("%a, %d %b %Y %H:%M:%S -0000").to_string()
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Signing {
            ikey: INTEGRATION_KEY,
            skey: "sim-token",
            sha512: true,
            date: now_rfc2822(),
        }
    }
}

/// A signed GET of `path` with `params`; the status and the parsed body.
async fn get(
    sim: &RunningSimulator,
    path: &str,
    params: &[(&str, String)],
    signing: Option<Signing<'_>>,
) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut url = url::Url::parse(&format!("{}{path}", sim.base_url())).unwrap();
    if !params.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
    }
    let mut request = client.get(url.clone());
    if let Some(s) = signing {
        let owned: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
        let canonical =
            canonical_request(s.sha512, &s.date, &Method::GET, &host, path, &owned, &[]);
        let signature = hmac_hex(s.sha512, s.skey, &canonical).unwrap();
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{signature}", s.ikey));
        request = request
            .header("Date", s.date)
            .header("Authorization", format!("Basic {basic}"));
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap(),
    )
}

fn ms(config: &SimulatorConfig, index: u64) -> i64 {
    simulator::event_time(config, index).timestamp_millis()
}

#[test]
fn the_canonical_request_matches_duos_published_vector() {
    // The version 2 test vector of Duo's Python client (tests/test_client.py): mixed-case
    // method and host are normalized, parameters encoded and sorted.
    let params = vec![
        (
            "\u{469a}\u{287b}\u{35d0}\u{8ef3}\u{6727}\u{502a}\u{0810}\u{d091}\u{c8}\u{c170}"
                .to_string(),
            "\u{0f45}\u{1a76}\u{341a}\u{654c}\u{c23f}\u{9b09}\u{abe2}\u{8343}\u{1b27}\u{60d0}"
                .to_string(),
        ),
        (
            "\u{7449}\u{7e4b}\u{ccfb}\u{59ff}\u{fe5f}\u{83b7}\u{adcc}\u{900c}\u{cfd1}\u{7813}"
                .to_string(),
            "\u{8db7}\u{5022}\u{92d3}\u{42ef}\u{207d}\u{8730}\u{acfe}\u{5617}\u{0946}\u{4e30}"
                .to_string(),
        ),
        (
            "\u{7470}\u{9314}\u{901c}\u{9eae}\u{40d8}\u{4201}\u{82d8}\u{8c70}\u{1d31}\u{a042}"
                .to_string(),
            "\u{17d9}\u{0ba8}\u{9358}\u{aadf}\u{a42a}\u{48be}\u{fb96}\u{6fe9}\u{b7ff}\u{32f3}"
                .to_string(),
        ),
        (
            "\u{c2c5}\u{2c1d}\u{2620}\u{3617}\u{96b3}F\u{8605}\u{20e8}\u{ac21}\u{5934}".to_string(),
            "\u{fba9}\u{41aa}\u{bd83}\u{840b}\u{2615}\u{3e6e}\u{652d}\u{a8b5}\u{d56b}U".to_string(),
        ),
    ];
    let canonical = canonical_request(
        false,
        "Fri, 07 Dec 2012 17:18:00 -0000",
        &Method::POST,
        "foO.BAr52.cOm",
        "/Foo/BaR2/qux",
        &params,
        &[],
    );
    assert_eq!(
        hmac_hex(
            false,
            "gtdfxv9YgVBYcF6dl2Eq17KUQJN2PLM2ODVTkvoT",
            &canonical
        )
        .unwrap(),
        "f01811cbbf9561623ab45b893096267fd46a5178"
    );
    // Version 5: the X-Duo header hash of that vector.
    let v5 = canonical_request(
        true,
        "Tue, 17 Nov 2020 14:12:00",
        &Method::GET,
        "h",
        "/p",
        &[],
        &[
            ("x-duo-A".to_string(), "header_value_1".to_string()),
            ("X-Duo-B".to_string(), "header_value_2".to_string()),
        ],
    );
    assert!(v5.ends_with("\n60be11a30e0756f2ee2afdce1db849b987dcf86c1133394bd7bbbc9877920330c4d78aceacbb377ab8cbd9a8efe6a410fed4047376635ac71226ab46ca10d2b1"), "{v5}");
}

#[test]
fn events_are_dealt_to_the_three_logs_with_unique_ids() {
    let cfg = config(3_000);
    let ids = event_ids(&cfg);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    let mut dealt: Vec<String> = Stream::ALL
        .iter()
        .flat_map(|s| stream_ids(&cfg, *s))
        .collect();
    dealt.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(dealt, all, "every event is in exactly one log");
    for i in (0..cfg.events).step_by(7) {
        let e = event(&cfg, i);
        let time = simulator::event_time(&cfg, i);
        match Stream::of(i) {
            Stream::Authentication => {
                assert_eq!(e["txid"], ids[i as usize]);
                let iso = DateTime::parse_from_rfc3339(e["isotimestamp"].as_str().unwrap());
                assert_eq!(iso.unwrap().to_utc(), time);
                assert_eq!(e["timestamp"], time.timestamp());
            }
            Stream::Administrator => {
                assert_eq!(e["timestamp"], time.timestamp());
                assert_eq!(time.timestamp_subsec_millis(), 0, "whole seconds");
                assert!(e.get("txid").is_none(), "no id: {e}");
            }
            Stream::Telephony => {
                assert_eq!(e["telephony_id"], ids[i as usize]);
                let ts = DateTime::parse_from_rfc3339(e["ts"].as_str().unwrap());
                assert_eq!(ts.unwrap().to_utc(), time);
            }
        }
    }
}

/// Every record of a v2 log between `from` and `to` (inclusive), page by page.
async fn list_v2(
    sim: &RunningSimulator,
    stream: Stream,
    from: i64,
    to: i64,
    sort: Option<&str>,
) -> (Vec<Value>, usize) {
    let mut served = Vec::new();
    let mut offset: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = vec![
            ("mintime", from.to_string()),
            ("maxtime", to.to_string()),
            ("limit", "70".to_string()),
        ];
        if let Some(sort) = sort {
            params.push(("sort", sort.to_string()));
        }
        if let Some(offset) = &offset {
            params.push(("next_offset", offset.clone()));
        }
        let (status, page) = get(sim, stream.path(), &params, Some(Signing::default())).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["stat"], "OK");
        pages += 1;
        served.extend(
            page["response"][stream.records_key()]
                .as_array()
                .unwrap()
                .iter()
                .cloned(),
        );
        offset = match &page["response"]["metadata"]["next_offset"] {
            Value::Null => break,
            Value::Array(parts) => {
                assert_eq!(stream, Stream::Authentication, "an array: {page}");
                Some(format!(
                    "{},{}",
                    parts[0].as_str().unwrap(),
                    parts[1].as_str().unwrap()
                ))
            }
            Value::String(text) => {
                assert_eq!(stream, Stream::Telephony, "a string: {page}");
                Some(text.clone())
            }
            other => panic!("next_offset {other}"),
        };
    }
    (served, pages)
}

#[tokio::test]
async fn v2_logs_page_by_next_offset_in_either_order_with_both_ends_inclusive() {
    let cfg = config(2_000);
    let sim = start(cfg.clone()).await;
    for stream in [Stream::Authentication, Stream::Telephony] {
        let (from, to) = (ms(&cfg, 300), ms(&cfg, 1_700));
        let expected: Vec<Value> = (0..cfg.events)
            .filter(|i| Stream::of(*i) == stream)
            .filter(|i| (from..=to).contains(&ms(&cfg, *i)))
            .map(|i| event(&cfg, i))
            .collect();
        assert!(expected.len() > 400, "{}", expected.len());
        let (ascending, pages) = list_v2(&sim, stream, from, to, Some("ts:asc")).await;
        assert!(pages > 5);
        assert_eq!(ascending, expected, "{stream:?}: ts:asc is oldest first");
        let (default, _) = list_v2(&sim, stream, from, to, None).await;
        let mut newest_first = expected.clone();
        newest_first.reverse();
        assert_eq!(default, newest_first, "{stream:?}: ts:desc by default");
    }
}

#[tokio::test]
async fn the_administrator_log_serves_the_1000_earliest_from_mintime_in_seconds() {
    let cfg = config(6_000);
    let sim = start(cfg.clone()).await;
    let path = Stream::Administrator.path();
    let from = simulator::event_time(&cfg, 301).timestamp();
    let (status, page) = get(
        &sim,
        path,
        &[("mintime", from.to_string())],
        Some(Signing::default()),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let records = page["response"].as_array().unwrap();
    let expected: Vec<Value> = (0..cfg.events)
        .filter(|i| Stream::of(*i) == Stream::Administrator)
        .filter(|i| simulator::event_time(&cfg, *i).timestamp() >= from)
        .take(MAX_LIMIT)
        .map(|i| event(&cfg, i))
        .collect();
    assert_eq!(records.len(), MAX_LIMIT);
    assert_eq!(
        *records, expected,
        "inclusive mintime, oldest first, capped"
    );
    // The last second may hold more entries than were served: asking again from it serves
    // them (and the ones of that second already served).
    let last = records[MAX_LIMIT - 1]["timestamp"].as_i64().unwrap();
    let (_, again) = get(
        &sim,
        path,
        &[("mintime", last.to_string())],
        Some(Signing::default()),
    )
    .await;
    assert_eq!(again["response"][0]["timestamp"], last);
    let (_, none) = get(
        &sim,
        path,
        &[("mintime", (last + 86_400).to_string())],
        Some(Signing::default()),
    )
    .await;
    assert_eq!(none, json!({"stat": "OK", "response": []}));
}

#[tokio::test]
async fn an_empty_window_is_answered_as_duo_writes_it() {
    let cfg = config(300);
    let sim = start(cfg.clone()).await;
    // After the newest entry: nothing there.
    let from = ms(&cfg, 299) + 1;
    let params = [
        ("mintime", from.to_string()),
        ("maxtime", (from + 60_000).to_string()),
    ];
    let (status, auth) = get(
        &sim,
        Stream::Authentication.path(),
        &params,
        Some(Signing::default()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        auth,
        json!({"stat": "OK", "response": {"authlogs": [], "metadata": {"next_offset": null, "total_objects": 0}}})
    );
    let (_, phone) = get(
        &sim,
        Stream::Telephony.path(),
        &params,
        Some(Signing::default()),
    )
    .await;
    assert_eq!(
        phone,
        json!({"stat": "OK", "response": {"items": [], "metadata": {"next_offset": null, "total_objects": {"relation": "eq", "value": 0}}}})
    );
}

#[tokio::test]
async fn credentials_are_verified_and_refused_in_duos_words() {
    let cfg = config(30);
    let sim = start(cfg.clone()).await;
    let path = Stream::Authentication.path();
    let params = [
        ("mintime", ms(&cfg, 0).to_string()),
        ("maxtime", ms(&cfg, 29).to_string()),
    ];
    let refused =
        |code: u32, message: &str| json!({"stat": "FAIL", "code": code, "message": message});
    let cases = [
        (None, refused(40101, "Missing request credentials")),
        (
            Some(Signing {
                ikey: "DIXXXXXXXXXXXXXXXXXX",
                ..Signing::default()
            }),
            refused(40102, "Invalid integration key in request credentials"),
        ),
        (
            Some(Signing {
                skey: "another-secret",
                ..Signing::default()
            }),
            refused(40103, "Invalid signature in request credentials"),
        ),
        (
            Some(Signing {
                date: "Fri, 07 Dec 2012 17:18:00 -0000".into(),
                ..Signing::default()
            }),
            refused(40105, "Request has expired"),
        ),
    ];
    for (signing, expected) in cases {
        let (status, body) = get(&sim, path, &params, signing).await;
        assert_eq!((status, body), (401, expected));
    }
    for sha512 in [true, false] {
        let (status, body) = get(
            &sim,
            path,
            &params,
            Some(Signing {
                sha512,
                ..Signing::default()
            }),
        )
        .await;
        assert_eq!(status, 200, "signature v5 and v2: {body}");
    }
    assert_eq!(sim.stats().unauthorized, 4);
}

/// Query parameters of a test request.
type Params = Vec<(&'static str, String)>;

#[tokio::test]
async fn bad_parameters_are_refused_naming_them() {
    let cfg = config(30);
    let sim = start(cfg.clone()).await;
    let (from, to) = (ms(&cfg, 0), ms(&cfg, 29));
    let good = |extra: &[(&'static str, String)]| {
        let mut p = vec![("mintime", from.to_string()), ("maxtime", to.to_string())];
        p.extend(extra.iter().cloned());
        p
    };
    let old = Utc::now().timestamp_millis() - 181 * 86_400_000;
    let cases: Vec<(Params, u32, &str)> = vec![
        (vec![("mintime", from.to_string())], 40001, "maxtime"),
        (
            vec![("mintime", to.to_string()), ("maxtime", from.to_string())],
            40002,
            "mintime must be less than maxtime",
        ),
        (
            vec![("mintime", old.to_string()), ("maxtime", to.to_string())],
            40002,
            "mintime must be within the past 180 days",
        ),
        (good(&[("limit", "0".into())]), 40002, "limit"),
        (good(&[("limit", "1001".into())]), 40002, "limit"),
        (good(&[("sort", "asc".into())]), 40002, "sort"),
        (
            good(&[("next_offset", "nonsense".into())]),
            40002,
            "next_offset",
        ),
        (
            good(&[("next_offset", format!("{from},not-a-txid"))]),
            40002,
            "next_offset",
        ),
        (good(&[("since", "1".into())]), 40002, "since"),
        (
            vec![("mintime", "yesterday".into()), ("maxtime", to.to_string())],
            40002,
            "mintime",
        ),
    ];
    for (params, code, detail) in cases {
        let (status, body) = get(
            &sim,
            Stream::Authentication.path(),
            &params,
            Some(Signing::default()),
        )
        .await;
        assert_eq!(status, 400, "{params:?}: {body}");
        assert_eq!(body["stat"], "FAIL");
        assert_eq!(body["code"], code, "{params:?}: {body}");
        assert_eq!(body["message_detail"], detail, "{params:?}: {body}");
    }
    let (status, body) = get(
        &sim,
        Stream::Administrator.path(),
        &[("limit", "10".into())],
        Some(Signing::default()),
    )
    .await;
    assert_eq!(
        (status, &body["message_detail"]),
        (400, &json!("limit")),
        "v1 takes only mintime: {body}"
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_use_duos_envelope() {
    let mut cfg = config(30);
    cfg.faults = crate::Faults {
        rate_429: 1.0,
        seed: Some(1),
        ..Default::default()
    };
    let sim = start(cfg.clone()).await;
    let params = [("mintime", "0".to_string())];
    let (status, body) = get(
        &sim,
        Stream::Administrator.path(),
        &params,
        Some(Signing::default()),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            429,
            json!({"stat": "FAIL", "code": 42901, "message": "Too Many Requests"})
        )
    );
    cfg.faults.rate_429 = 0.0;
    cfg.faults.rate_5xx = 1.0;
    let sim = start(cfg).await;
    let (status, body) = get(
        &sim,
        Stream::Administrator.path(),
        &params,
        Some(Signing::default()),
    )
    .await;
    assert!(status >= 500, "{status}");
    assert_eq!(body["stat"], "FAIL");
    assert_eq!(body["code"], u64::from(status) * 100 + 1);
}
