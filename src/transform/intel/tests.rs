use serde_json::json;

use super::*;

fn feed(dir: &tempfile::TempDir, name: &str, text: &str) -> FeedConfig {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    FeedConfig {
        name: None,
        path,
        format: None,
        confidence: None,
    }
}

fn config(fields: &[&str], feeds: Vec<FeedConfig>) -> IntelConfig {
    IntelConfig {
        name: None,
        fields: fields.iter().map(|f| f.to_string()).collect(),
        feeds,
        refresh: default_refresh(),
        enrichments: super::super::geoip::default_enrichments(),
    }
}

#[test]
fn a_match_adds_an_enrichment_naming_indicator_feed_and_confidence() {
    let dir = tempfile::tempdir().unwrap();
    let mut ips = feed(&dir, "scanners.txt", "203.0.113.0/24\n");
    ips.confidence = Some(70);
    let csv = feed(
        &dir,
        "domains.csv",
        "indicator,confidence\nevil.example,95\n203.0.113.9,20\n",
    );
    let step = config(
        &["src_endpoint.ip", "actor.user.email_addr", "urls"],
        vec![ips, csv],
    )
    .build()
    .unwrap();
    let mut event = json!({
        "src_endpoint": {"ip": "203.0.113.9"},
        "actor": {"user": {"email_addr": "eve@mail.evil.example"}},
        "urls": ["https://ok.example/", "https://www.evil.example/x"],
        "enrichments": [{"name": "earlier", "value": "x", "data": {}}],
    });
    assert_eq!(step.apply(&mut event), Verdict::Changed);
    let blocks = event["enrichments"].as_array().unwrap();
    assert_eq!(blocks.len(), 5, "{blocks:#?}");
    assert_eq!(blocks[0]["name"], "earlier", "what was there is kept");
    assert_eq!(
        blocks[1],
        json!({
            "name": "src_endpoint.ip",
            "value": "203.0.113.9",
            "type": "threat_intel",
            "provider": "scanners",
            "data": {"feed": "scanners", "indicator": "203.0.113.0/24", "indicator_type": "cidr", "confidence": 70},
        })
    );
    assert_eq!(
        blocks[2]["provider"], "domains",
        "the second feed matches too"
    );
    assert_eq!(blocks[2]["data"]["indicator_type"], "ip");
    assert_eq!(
        blocks[2]["data"]["confidence"], 20,
        "the indicator's own confidence"
    );
    assert_eq!(blocks[3]["name"], "actor.user.email_addr");
    assert_eq!(blocks[3]["data"]["indicator"], "evil.example");
    assert_eq!(blocks[4]["value"], "https://www.evil.example/x");
}

#[test]
fn no_match_keeps_the_event_and_a_blocked_array_fails_it() {
    let dir = tempfile::tempdir().unwrap();
    let step = config(&["ip"], vec![feed(&dir, "f.txt", "198.51.100.7\n")])
        .build()
        .unwrap();
    let mut event = json!({"ip": "198.51.100.8", "other": 1});
    assert_eq!(step.apply(&mut event), Verdict::Keep);
    let mut event = json!({"ip": 42});
    assert_eq!(step.apply(&mut event), Verdict::Keep);
    let mut event = json!({"ip": "198.51.100.7", "enrichments": "none"});
    let Verdict::Fail(reason) = step.apply(&mut event) else {
        panic!("expected a failure")
    };
    assert!(
        reason.contains("`enrichments`") && reason.contains("a string"),
        "{reason}"
    );
    assert!(!reason.contains("198.51.100.7"), "{reason}");
}

fn problem(config: IntelConfig) -> Problem {
    match config.build() {
        Ok(_) => panic!("expected a problem"),
        Err(problem) => problem,
    }
}

#[test]
fn a_missing_or_malformed_feed_is_a_problem_naming_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = feed(&dir, "good.txt", "198.51.100.7\n");
    let mut gone = good.clone();
    gone.path = dir.path().join("gone.txt");
    let p = problem(config(&["ip"], vec![good.clone(), gone]));
    assert_eq!(p.path, "feeds[1].path");
    assert!(
        p.message.contains("gone.txt") && p.message.contains("cannot be read"),
        "{p:?}"
    );

    let mut csv = feed(&dir, "list.txt", "address\n198.51.100.7\n");
    csv.format = Some(Format::Csv);
    let p = problem(config(&["ip"], vec![csv]));
    assert_eq!(p.path, "feeds[0].path");
    assert!(
        p.message.contains("csv feed") && p.message.contains("`indicator` column"),
        "{p:?}"
    );

    let mut high = good.clone();
    high.confidence = Some(101);
    assert_eq!(
        problem(config(&["ip"], vec![high])).path,
        "feeds[0].confidence"
    );
    assert_eq!(problem(config(&["ip"], Vec::new())).path, "feeds");
    assert_eq!(problem(config(&[], vec![good])).path, "fields");
}
