//! Config loading over arbitrary and mutated config files.

use proptest::prelude::*;

use crate::fuzzing::check_config;

/// Valid configs to mutate, between them using every section and most kinds.
const VALID: &[&str] = &[
    r#"
[state]
kind = "sqlite"
path = "state.db"

[[sources]]
name = "okta"
base_url = "https://acme.okta.com"
path = "/api/v1/logs"
query = { since = "{start}", until = "{end}", limit = "{limit}" }
page_size = 1000
pagination = { kind = "link_header" }
event_time = { path = "published" }
event_id = { path = "uuid" }
auth = { kind = "bearer", prefix = "SSWS", token = "${env:OKTA_TOKEN}" }
window = { lookback = "7d", max_window = "1d", settle_delay = "1m", overlap = "30s", dedup_capacity = 100 }
http = { timeout = "60s", max_attempts = 8, max_backoff = "60s", max_response_size = "64MiB" }
rate_limit = { requests_per_minute = 600, burst = 5, max_wait = "5m" }
circuit_breaker = { failures = 5, cooldown = "15m" }
schedule = { every = "5m", jitter = "30s" }
sinks = ["lake"]

[[sinks]]
name = "lake"
kind = "lake"
path = "lake"

[serve]
listen = "127.0.0.1:9464"
schedule = { cron = "0 */5 * * * *" }
"#,
    r#"
[[sources]]
name = "api"
base_url = "http://127.0.0.1:8080"
path = "/v1/search"
method = "POST"
body = "{\"from\": \"{start}\", \"to\": \"{end}\", \"page\": \"{page}\", \"size\": \"{limit}\"}"
page_size = 50
pagination = { kind = "page_number", first = 0, has_more_path = "meta.more" }
records_path = "data.items"
order = "newest_first"
event_time = { path = "ts", format = "epoch_millis" }
window = { format = { strftime = "%Y-%m-%d %H:%M:%S" }, lookback = "2h", max_window = "1h" }
auth = { kind = "api_key", key = "k", query = "api_key" }
workers = 4
sinks = ["out"]

[[sinks]]
name = "out"
kind = "stdout"
"#,
    r#"
[state]
kind = "object"
url = "file:///var/lib/sluice-state/"

[[sources]]
name = "gql"
base_url = "https://api.example.com"
path = "/graphql"
method = "POST"
body = "{\"query\": \"q\", \"variables\": {\"after\": \"{cursor}\", \"since\": \"{start}\"}}"
pagination = { kind = "graphql", page_info_path = "data.logs.pageInfo" }
records_path = "data.logs.nodes"
event_time = { path = "at", format = "epoch_nanos" }
auth = { kind = "oauth2_client_credentials", token_url = "https://login.example.com/token", client_id = "c", client_secret = "s" }
sinks = ["hec"]

[[sources]]
name = "cur"
base_url = "https://api.example.com"
path = "/events"
query = { start = "{start}", end = "{end}" }
pagination = { kind = "cursor", path = "next", param = "cursor", has_more_path = "has_more" }
event_time = { path = "time", format = "epoch_seconds" }
auth = { kind = "basic", username = "u", password = "p" }
sinks = ["hec"]

[[sinks]]
name = "hec"
kind = "splunk_hec"
url = "https://splunk.example.com:8088"
token = "t"

[dead_letter]
path = "dlq"
"#,
];

/// Values a mutation puts in place of another: wrong types, limits of every type, durations
/// from zero to longer than the calendar, odd strings.
const HOSTILE: &[&str] = &[
    "0",
    "-1",
    "1",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "nan",
    "inf",
    "true",
    "\"\"",
    "\" \"",
    "\"0s\"",
    "\"1ns\"",
    "\"1s\"",
    "\"300000y\"",
    "\"584942417355y\"",
    "\"18446744073709551615s\"",
    "\"0B\"",
    "\"16EiB\"",
    "[]",
    "{}",
    "[1, \"a\"]",
    "{ kind = \"x\" }",
    "\"%\"",
    "\"%Q\"",
    "\"%Y\"",
    "\"{start}\"",
    "\"{nope}\"",
    "\"${env:X}\"",
    "\"${\"",
    "\"\\u0000\"",
    "\"é\"",
    "\"http://\"",
    "\"/\"",
    "\"* * * * *\"",
    "\"0 0 30 2 *\"",
    "\"@yearly\"",
    "1979-05-27T07:32:00Z",
    "\"0.0.0.0:0\"",
];

/// Replaces a value, removes or repeats a line, or inserts text.
#[derive(Debug, Clone)]
enum Mutation {
    Value(prop::sample::Index, String),
    Remove(prop::sample::Index),
    Repeat(prop::sample::Index),
    Insert(prop::sample::Index, String),
    Cut(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let value = prop_oneof![
        3 => prop::sample::select(HOSTILE).prop_map(str::to_string),
        1 => "[ -~]{0,16}",
    ];
    prop_oneof![
        4 => (any::<prop::sample::Index>(), value).prop_map(|(i, v)| Mutation::Value(i, v)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Remove),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Repeat),
        1 => (any::<prop::sample::Index>(), "[ -~\n]{0,24}").prop_map(|(i, t)| Mutation::Insert(i, t)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Cut),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return text.to_string();
    }
    match mutation {
        Mutation::Value(i, value) => {
            let at = i.index(lines.len());
            let line = &mut lines[at];
            // Inline tables hold several values: replace one of them.
            let equals: Vec<usize> = line.match_indices('=').map(|(at, _)| at).collect();
            if !equals.is_empty() {
                let at = equals[i.index(equals.len())];
                let end = line[at..]
                    .find([',', '}'])
                    .map_or(line.len(), |offset| at + offset);
                line.replace_range(at + 1..end, &format!(" {value}"));
            }
        }
        Mutation::Remove(i) => {
            let at = i.index(lines.len());
            lines.remove(at);
        }
        Mutation::Repeat(i) => {
            let at = i.index(lines.len());
            lines.insert(at, lines[at].clone());
        }
        Mutation::Insert(i, inserted) => lines.insert(i.index(lines.len()), inserted.clone()),
        Mutation::Cut(i) => {
            let joined = lines.join("\n");
            let mut at = i.index(joined.len().max(1));
            while !joined.is_char_boundary(at) {
                at -= 1;
            }
            return joined[..at].to_string();
        }
    }
    lines.join("\n")
}

proptest! {
    #[test]
    fn any_text_loads_or_is_refused_with_a_located_error(text in "[ -~\n\t]{0,300}") {
        check_config(&text);
    }

    #[test]
    fn mutated_configs_load_and_run_or_are_refused(
        base in prop::sample::select(VALID),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut text = base.to_string();
        for mutation in &mutations {
            text = apply(&text, mutation);
        }
        check_config(&text);
    }
}

#[test]
fn the_valid_configs_load() {
    for text in VALID {
        crate::config::load_str_without_secrets(text, std::path::Path::new("valid.toml"))
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        check_config(text);
    }
}
