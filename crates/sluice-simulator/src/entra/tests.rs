use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};

use super::*;
use crate::{self as simulator, event, event_ids, RunningSimulator, SimulatorConfig};

fn config(events: u64) -> SimulatorConfig {
    SimulatorConfig {
        anchor: DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc),
        ..SimulatorConfig::entra(events)
    }
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn token_url(sim: &RunningSimulator, tenant: &str) -> String {
    format!("{}/{tenant}/oauth2/v2.0/token", sim.base_url())
}

/// Posts a token request; the answer's status and JSON.
async fn post_token(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let answer = client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap(),
    )
}

fn secret_form<'a>(scope: &'a str, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", secret),
        ("scope", scope),
    ]
}

async fn access_token(sim: &RunningSimulator) -> String {
    let (status, answer) = post_token(
        &token_url(sim, TENANT_ID),
        &secret_form("https://graph.microsoft.com/.default", "sim-token"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    answer["access_token"].as_str().unwrap().to_string()
}

async fn get(url: &str, token: Option<&str>) -> (u16, HeaderMap, Value) {
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    (
        status,
        headers,
        serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap(),
    )
}

fn rfc3339(config: &SimulatorConfig, index: u64) -> String {
    simulator::event_time(config, index).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn filter_url(sim: &RunningSimulator, stream: Stream, filter: &str, top: &str) -> String {
    let filter: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    format!(
        "{}{}?$filter={filter}&$top={top}",
        sim.base_url(),
        stream.path()
    )
}

/// Asserts Entra's error JSON with AADSTS `code` and OAuth `error`.
fn assert_entra_error(answer: &Value, error: &str, code: u64) {
    assert_eq!(answer["error"], error, "{answer}");
    assert_eq!(answer["error_codes"], json!([code]), "{answer}");
    let description = answer["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    assert!(description.contains("Trace ID: "), "{description}");
    for key in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(answer[key].is_string(), "{key} in {answer}");
    }
}

/// Asserts Graph's error object with `code`.
fn assert_graph_error(answer: &Value, code: &str) {
    assert_eq!(answer["error"]["code"], code, "{answer}");
    assert!(answer["error"]["message"].is_string(), "{answer}");
    assert!(
        answer["error"]["innerError"]["request-id"].is_string(),
        "{answer}"
    );
}

#[test]
fn records_are_dealt_to_the_two_logs_with_unique_ids() {
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
    assert_eq!(dealt, all, "every record is in exactly one log");
    for i in (0..cfg.events).step_by(7) {
        let record = event(&cfg, i);
        assert_eq!(record["id"], ids[i as usize]);
        let stream = Stream::of(i);
        let time = record[stream.time_property()].as_str().unwrap();
        assert_eq!(time.len(), "2026-11-23T10:00:00.1230000Z".len(), "{time}");
        let parsed = DateTime::parse_from_rfc3339(time).unwrap();
        assert_eq!(parsed.with_timezone(&Utc), simulator::event_time(&cfg, i));
        let key = match stream {
            Stream::SignIns => "userPrincipalName",
            Stream::DirectoryAudits => "activityDisplayName",
        };
        assert!(record.get(key).is_some(), "{key} in {record}");
    }
}

#[tokio::test]
async fn the_token_endpoint_refuses_as_entra_does() {
    let sim = start(config(10)).await;
    let graph = "https://graph.microsoft.com/.default";
    let url = token_url(&sim, TENANT_ID);
    let (status, answer) = post_token(&url, &secret_form(graph, "wrong")).await;
    assert_eq!(status, 401);
    assert_entra_error(&answer, "invalid_client", 7000215);

    let (status, answer) = post_token(
        &token_url(&sim, "other.onmicrosoft.com"),
        &secret_form(graph, "sim-token"),
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&answer, "invalid_request", 90002);

    let mut form = secret_form(graph, "sim-token");
    form[1] = ("client_id", "00000000-0000-0000-0000-000000000001");
    let (status, answer) = post_token(&url, &form).await;
    assert_eq!(status, 400);
    assert_entra_error(&answer, "unauthorized_client", 700016);

    let (status, answer) = post_token(
        &url,
        &secret_form("https://graph.microsoft.com/AuditLog.Read.All", "sim-token"),
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&answer, "invalid_scope", 1002012);

    let (status, answer) = post_token(
        &url,
        &secret_form("https://management.azure.com/.default", "sim-token"),
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&answer, "invalid_resource", 500011);

    let (status, answer) = post_token(&url, &secret_form(graph, "sim-token")[1..]).await;
    assert_eq!(status, 400);
    assert_entra_error(&answer, "invalid_request", 900144);

    let form: Vec<(&str, &str)> = secret_form(graph, "sim-token")
        .into_iter()
        .filter(|(k, _)| *k != "client_secret")
        .collect();
    let (status, answer) = post_token(&url, &form).await;
    assert_eq!(status, 401);
    assert_entra_error(&answer, "invalid_client", 7000216);

    // The tenant's domain names it too, and the simulator's own URL is Graph's resource.
    let own = format!("{}/.default", sim.base_url());
    let (status, answer) = post_token(
        &token_url(&sim, TENANT_DOMAIN),
        &secret_form(&own, "sim-token"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], 3599);
    let stats = sim.stats();
    assert_eq!((stats.tokens_issued, stats.unauthorized), (1, 7));
}

/// A client assertion as Entra documents it, signed with `key` and naming `thumbprint`, with
/// `claims` merged over the correct ones.
fn assertion(key: &str, thumbprint: &str, audience: &str, changes: Value) -> String {
    let now = Utc::now().timestamp();
    let mut claims = json!({
        "aud": audience,
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "jti": "6f2d0d36-8f39-4a8e-9d0b-3b3c1f9f2a11",
        "nbf": now,
        "iat": now,
        "exp": now + 600,
    });
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.x5t_s256 = Some(thumbprint.to_string());
    let key = EncodingKey::from_rsa_pem(key.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

fn thumbprint_s256(certificate_pem: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let der = pem::parse(certificate_pem).unwrap();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der.contents()))
}

#[tokio::test]
async fn client_assertions_are_verified_against_the_registered_certificate() {
    let sim = start(config(10)).await;
    let url = token_url(&sim, TENANT_ID);
    let registered = thumbprint_s256(CERTIFICATE_PEM);
    assert_eq!(registered, sim.state.entra.thumbprint_s256());
    let other_key = include_str!("other_key.pem");
    let other = thumbprint_s256(include_str!("other_cert.pem"));
    let send = |assertion: String| {
        let url = url.clone();
        async move {
            post_token(
                &url,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", CLIENT_ID),
                    ("scope", "https://graph.microsoft.com/.default"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &assertion),
                ],
            )
            .await
        }
    };
    let (status, answer) = send(assertion(PRIVATE_KEY_PEM, &registered, &url, json!({}))).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["access_token"].is_string());

    for (assertion, code) in [
        // Another key, claiming the registered certificate: the signature does not verify.
        (assertion(other_key, &registered, &url, json!({})), 700027),
        // A certificate that is not registered on the app.
        (assertion(other_key, &other, &url, json!({})), 700027),
        (
            assertion(
                PRIVATE_KEY_PEM,
                &registered,
                "https://login.microsoftonline.com/x/oauth2/v2.0/token",
                json!({}),
            ),
            700023,
        ),
        (
            assertion(
                PRIVATE_KEY_PEM,
                &registered,
                &url,
                json!({"iss": "someone-else"}),
            ),
            700021,
        ),
        (
            assertion(PRIVATE_KEY_PEM, &registered, &url, json!({"sub": null})),
            700021,
        ),
        (
            assertion(
                PRIVATE_KEY_PEM,
                &registered,
                &url,
                json!({"exp": Utc::now().timestamp() - 5}),
            ),
            700024,
        ),
        (
            assertion(
                PRIVATE_KEY_PEM,
                &registered,
                &url,
                json!({"nbf": Utc::now().timestamp() + 3600}),
            ),
            700024,
        ),
        (
            assertion(PRIVATE_KEY_PEM, &registered, &url, json!({"jti": null})),
            50027,
        ),
        ("not.a.jwt".to_string(), 50027),
    ] {
        let (status, answer) = send(assertion).await;
        assert_eq!(status, 401, "{answer}");
        assert_entra_error(&answer, "invalid_client", code);
    }
    assert_eq!(sim.stats().tokens_issued, 1);
}

#[tokio::test]
async fn graph_refuses_missing_unknown_and_expired_tokens() {
    let cfg = config(10);
    let sim = start(cfg.clone()).await;
    let url = format!("{}{}", sim.base_url(), Stream::SignIns.path());
    let expired = sim.state.entra.issue(cfg.seed, Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(5)).await;
    for (token, message) in [
        (None, "Access token is empty."),
        (
            Some("eyJ0.forged.token"),
            "Access token validation failure. Invalid audience.",
        ),
        (
            Some(expired.as_str()),
            "Lifetime validation failed, the token is expired.",
        ),
    ] {
        let (status, headers, answer) = get(&url, token).await;
        assert_eq!(status, 401, "{answer}");
        assert_graph_error(&answer, "InvalidAuthenticationToken");
        assert_eq!(answer["error"]["message"], message);
        assert!(headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer "));
    }
    let token = access_token(&sim).await;
    let (status, _, answer) = get(&url, Some(&token)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(sim.stats().unauthorized, 3);
}

#[tokio::test]
async fn bad_query_parameters_are_refused_with_graphs_error_object() {
    let cfg = config(100);
    let sim = start(cfg.clone()).await;
    let token = access_token(&sim).await;
    let t = rfc3339(&cfg, 50);
    let signins = Stream::SignIns;
    let mut urls = vec![
        filter_url(&sim, signins, &format!("createdDateTime gt {t}"), "10"),
        filter_url(&sim, signins, &format!("createdDateTime lt {t}"), "10"),
        filter_url(&sim, signins, &format!("activityDateTime ge {t}"), "10"),
        filter_url(&sim, signins, "startswith(appDisplayName,'Graph')", "10"),
        filter_url(
            &sim,
            signins,
            &format!("createdDateTime ge {t} or createdDateTime le {t}"),
            "10",
        ),
        filter_url(&sim, signins, &format!("createdDateTime ge {t} and"), "10"),
        filter_url(&sim, signins, "createdDateTime ge 2026-11-23", "10"),
        filter_url(
            &sim,
            signins,
            "createdDateTime ge '2026-11-23T10:00:00Z'",
            "10",
        ),
        filter_url(&sim, signins, &format!("createdDateTime ge {t}"), "0"),
        filter_url(&sim, signins, &format!("createdDateTime ge {t}"), "1001"),
        filter_url(&sim, signins, &format!("createdDateTime ge {t}"), "ten"),
        format!("{}{}?$skiptoken=garbage", sim.base_url(), signins.path()),
        format!(
            "{}{}?$orderby=createdDateTime%20asc",
            sim.base_url(),
            signins.path()
        ),
    ];
    // A skiptoken of the other log is refused too.
    let audits = filter_url(
        &sim,
        Stream::DirectoryAudits,
        &format!("activityDateTime le {t}"),
        "2",
    );
    let (status, _, page) = get(&audits, Some(&token)).await;
    assert_eq!(status, 200, "{page}");
    let next = page["@odata.nextLink"].as_str().unwrap();
    urls.push(
        next.replace(Stream::DirectoryAudits.path(), signins.path())
            .replace("activityDateTime", "createdDateTime"),
    );
    for url in &urls {
        let (status, _, answer) = get(url, Some(&token)).await;
        assert_eq!(status, 400, "{url}: {answer}");
        assert!(
            ["BadRequest", "Request_UnsupportedQuery"]
                .contains(&answer["error"]["code"].as_str().unwrap()),
            "{url}: {answer}"
        );
        assert_graph_error(&answer, answer["error"]["code"].as_str().unwrap());
    }
    assert_eq!(sim.stats().bad_requests, urls.len() as u64);
}

#[tokio::test]
async fn a_window_is_listed_newest_first_through_next_links_with_both_bounds_inclusive() {
    let cfg = config(2_000);
    let sim = start(cfg.clone()).await;
    let token = access_token(&sim).await;
    for stream in Stream::ALL {
        let property = stream.time_property();
        let (start, end) = (rfc3339(&cfg, 300), rfc3339(&cfg, 1_701));
        let filter = format!("{property} ge {start} and {property} le {end}");
        let mut url = filter_url(&sim, stream, &filter, "70");
        let mut served = Vec::new();
        let mut pages = 0;
        loop {
            let (status, _, page) = get(&url, Some(&token)).await;
            assert_eq!(status, 200, "{page}");
            pages += 1;
            let records = page["value"].as_array().unwrap();
            assert!(records.len() <= 70);
            served.extend(records.iter().cloned());
            assert!(page["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/v1.0/$metadata#{}", stream.context())));
            match page.get("@odata.nextLink") {
                Some(next) => {
                    let next = next.as_str().unwrap();
                    assert!(next.starts_with(&format!("{}{}?", sim.base_url(), stream.path())));
                    assert!(
                        next.contains("$skiptoken=") && next.contains("$top=70"),
                        "{next}"
                    );
                    url = next.to_string();
                }
                None => break,
            }
        }
        let (from, to) = (
            simulator::event_time(&cfg, 300),
            simulator::event_time(&cfg, 1_701),
        );
        let mut expected: Vec<Value> = (0..cfg.events)
            .filter(|i| Stream::of(*i) == stream)
            .filter(|i| (from..=to).contains(&simulator::event_time(&cfg, *i)))
            .map(|i| event(&cfg, i))
            .collect();
        expected.reverse();
        assert!(expected.len() > 600, "{}", expected.len());
        assert_eq!(pages, expected.len().div_ceil(70));
        assert_eq!(
            served, expected,
            "{stream:?}: newest first, both ends inclusive"
        );
    }
}

#[tokio::test]
async fn an_empty_window_is_an_empty_value_without_a_next_link() {
    let cfg = config(100);
    let sim = start(cfg.clone()).await;
    let token = access_token(&sim).await;
    let before = "2020-01-01T00:00:00Z";
    let url = filter_url(
        &sim,
        Stream::DirectoryAudits,
        &format!("activityDateTime ge 2019-01-01T00:00:00Z and activityDateTime le {before}"),
        "1000",
    );
    let (status, headers, page) = get(&url, Some(&token)).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(
        page,
        json!({
            "@odata.context": format!("{}/v1.0/$metadata#auditLogs/directoryAudits", sim.base_url()),
            "value": [],
        })
    );
}

#[tokio::test]
async fn faults_are_worded_as_graph_words_them() {
    let mut cfg = config(10);
    cfg.faults = crate::Faults {
        rate_429: 1.0,
        seed: Some(1),
        ..crate::Faults::none()
    };
    let sim = start(cfg).await;
    let token = access_token(&sim).await;
    let url = format!("{}{}", sim.base_url(), Stream::SignIns.path());
    let (status, headers, answer) = get(&url, Some(&token)).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "1");
    assert_graph_error(&answer, "TooManyRequests");
}

/// One page of `stream` in `[lo, before)`, newest first, with everything published.
fn page(stream: Stream, lo: u64, before: u64, top: usize) -> (Vec<u64>, bool) {
    use crate::listing::{Direction, Listing};
    let timeline = crate::timeline_of(&SimulatorConfig::entra(10));
    let listing = Listing::at(&timeline, lo..before, Direction::Descending, i128::MAX);
    let page = listing.page(before, top, |i| Stream::of(i) == stream);
    (page.indices, page.next.is_some())
}

#[test]
fn pages_walk_one_log_down_from_the_top() {
    assert_eq!(page(Stream::SignIns, 0, 7, 2), (vec![6, 4], true));
    assert_eq!(page(Stream::DirectoryAudits, 0, 7, 2), (vec![5, 3], true));
    assert_eq!(page(Stream::DirectoryAudits, 2, 4, 5), (vec![3], false));
    assert_eq!(page(Stream::SignIns, 3, 4, 5), (vec![], false));
    assert_eq!(page(Stream::DirectoryAudits, 0, 1, 5), (vec![], false));
    assert_eq!(page(Stream::SignIns, 0, 0, 5), (vec![], false));
}
