//! Checks of a parsed config that serde cannot make: names that refer to each other,
//! templates and their placeholders, schedules, state stores apart from lakes.

use std::collections::HashSet;

use super::{
    Config, HttpMethod, PaginationConfig, SinkConfig, SourceConfig, StateConfig, TimeFormat,
    WindowMode,
};
use crate::model::Problem;

/// `resolved` is `false` when secrets were left unresolved (`sluice status`): what only
/// resolved secrets can show is not checked then.
pub(super) fn validate(config: &Config, resolved: bool) -> Result<(), Problem> {
    if let StateConfig::Object(object) = &config.state {
        object.location().map_err(|problem| {
            // `[state]: what is wrong (hint: what to do)` → message and hint.
            let problem = problem.to_string();
            let problem = problem.trim_start_matches("[state]: ");
            let (message, hint) = problem
                .split_once(" (hint: ")
                .map_or((problem, "see docs/configuration.md, [state]"), |(m, h)| {
                    (m, h.trim_end_matches(')'))
                });
            Problem::new("state.url".to_string(), message, hint)
        })?;
        validate_state_apart_from_lakes(config, object)?;
    }
    let mut sink_names = HashSet::new();
    for (i, sink) in config.sinks.iter().enumerate() {
        if sink.name() == crate::sink::dead_letter::SINK_NAME {
            return Err(Problem::new(
                format!("sinks[{i}].name"),
                format!("`{}` is reserved for the [dead_letter] queue", sink.name()),
                "pick another name",
            ));
        }
        if !sink_names.insert(sink.name()) {
            return Err(Problem::new(
                format!("sinks[{i}].name"),
                format!("sink name `{}` is used twice", sink.name()),
                "give every sink its own name",
            ));
        }
        // Each kind judges its own settings; serde only read them.
        if let Some(problem) = sink.validate().into_iter().next() {
            return Err(problem.under(&format!("sinks[{i}]")));
        }
    }
    let mut source_names = HashSet::new();
    for (i, source) in config.sources.iter().enumerate() {
        if !source_names.insert(source.name.as_str()) {
            return Err(Problem::new(
                format!("sources[{i}].name"),
                format!("source name `{}` is used twice", source.name),
                "give every source its own name: checkpoints are kept by name",
            ));
        }
        validate_source(i, source, &sink_names, resolved)?;
        if source.max_silence.is_some_and(|silence| silence.is_zero()) {
            return Err(Problem::new(
                format!("sources[{i}].max_silence"),
                "max_silence = \"0s\" would call the source silent at once",
                "give the longest time the API may go without an event, e.g. max_silence = \"6h\"; leave it out to watch no silence",
            ));
        }
        if source.retain.is_some_and(|retain| retain.is_zero()) {
            return Err(Problem::new(
                format!("sources[{i}].retain"),
                "retain = \"0s\" would make every lake object expired at once",
                "give how long objects are kept, e.g. retain = \"400d\"; leave it out to keep them forever",
            ));
        }
        if let Some(schedule) = &source.schedule {
            validate_schedule(&format!("sources[{i}].schedule"), schedule)?;
        }
        if let Some(canary) = &source.canary {
            if let Some((key, message, hint)) = crate::source::canary::problem(canary) {
                return Err(Problem::new(
                    format!("sources[{i}].canary.{key}"),
                    message,
                    hint,
                ));
            }
        }
    }
    validate_serve(&config.serve)?;
    super::transforms::validate(config, resolved)?;
    super::notify_check::validate(config)
}

/// `[serve]`: an address to listen on and a usable default schedule.
fn validate_serve(serve: &super::ServeConfig) -> Result<(), Problem> {
    if let Err(err) = serve.listen.parse::<std::net::SocketAddr>() {
        return Err(Problem::new(
            "serve.listen",
            format!("`{}` is not an address to listen on: {err}", serve.listen),
            "write IP:PORT, e.g. \"127.0.0.1:9464\", or \"0.0.0.0:9464\" to be reachable from other hosts (Kubernetes probes, Prometheus)",
        ));
    }
    if serve.retain_every.is_some_and(|every| every.is_zero()) {
        return Err(Problem::new(
            "serve.retain_every",
            "must be longer than zero",
            "write how often the daemon applies each source's `retain`, e.g. retain_every = \"24h\"; leave it out to apply it only with `sluice lake retain --apply`",
        ));
    }
    if serve.max_connections == 0 {
        return Err(Problem::new(
            "serve.max_connections",
            "must be at least 1",
            "leave it out for the default (64); probes and Prometheus need one or two",
        ));
    }
    if serve.idle_timeout.is_zero() {
        return Err(Problem::new(
            "serve.idle_timeout",
            "must be longer than zero",
            "leave it out for the default (10s); a client must have time to send a request",
        ));
    }
    if serve
        .token
        .as_ref()
        .is_some_and(|t| t.expose().trim().is_empty())
    {
        return Err(Problem::new(
            "serve.token",
            "the token is empty, which would let anyone in",
            "set it to a long random value, e.g. token = \"${env:SLUICE_SERVE_TOKEN}\" with the variable set to the output of `openssl rand -hex 32`",
        ));
    }
    validate_schedule("serve.schedule", &serve.schedule)
}

fn validate_schedule(key: &str, schedule: &super::ScheduleConfig) -> Result<(), Problem> {
    crate::model::schedule::Schedule::from_config(schedule)
        .map(|_| ())
        .map_err(|problem| problem.under(key))
}

/// Object state must not live inside a lake: the lake's readers (`sluice lake ddl` tables,
/// loaders that ingest every new object) would pick the state documents up as data.
fn validate_state_apart_from_lakes(
    config: &Config,
    object: &super::ObjectStateConfig,
) -> Result<(), Problem> {
    use crate::cloud::StoreLocation;
    let Ok(state) = object.location() else {
        return Ok(());
    };
    for sink in &config.sinks {
        let SinkConfig::Lake(lake) = sink else {
            continue;
        };
        let inside = match (&state, lake.location()) {
            (StoreLocation::Directory(state), StoreLocation::Directory(lake)) => {
                state.starts_with(&lake)
            }
            (
                StoreLocation::Store {
                    scheme,
                    bucket,
                    prefix,
                },
                StoreLocation::Store {
                    scheme: lake_scheme,
                    bucket: lake_bucket,
                    prefix: lake_prefix,
                },
            ) => {
                *scheme == lake_scheme
                    && *bucket == lake_bucket
                    && (lake_prefix.is_empty()
                        || *prefix == lake_prefix
                        || prefix.starts_with(&format!("{lake_prefix}/")))
            }
            _ => false,
        };
        if inside {
            return Err(Problem::new(
                "state.url".to_string(),
                format!(
                    "`{}` is inside lake `{}` ({}), whose readers would take the state objects for data",
                    object.url,
                    lake.name,
                    lake.display_location()
                ),
                "give the state a location of its own beside the lake, e.g. s3://bucket/sluice-state/ next to s3://bucket/lake/",
            ));
        }
    }
    Ok(())
}

/// The most windows of one source worked at once.
pub const MAX_WORKERS: usize = 64;

fn validate_source(
    i: usize,
    source: &SourceConfig,
    sinks: &HashSet<&str>,
    resolved: bool,
) -> Result<(), Problem> {
    let key = |field: &str| format!("sources[{i}].{field}");
    if source.name.is_empty()
        || !source
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Problem::new(
            key("name"),
            format!("source name `{}` is not allowed", source.name),
            "use letters, digits, '-' and '_' only: the name becomes part of lake paths",
        ));
    }
    if source.workers == 0 || source.workers > MAX_WORKERS {
        return Err(Problem::new(
            key("workers"),
            format!("workers = {} is out of range", source.workers),
            format!("use 1 (one window at a time) up to {MAX_WORKERS}"),
        ));
    }
    match url::Url::parse(&source.base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        Ok(_) => {
            return Err(Problem::new(
                key("base_url"),
                format!("`{}` is not an http(s) URL", source.base_url),
                "write it like https://acme.okta.com",
            ))
        }
        Err(err) => {
            return Err(Problem::new(
                key("base_url"),
                format!("`{}` is not a URL: {err}", source.base_url),
                "write it like https://acme.okta.com",
            ))
        }
    }
    if !source.path.starts_with('/') {
        return Err(Problem::new(
            key("path"),
            format!("`{}` must start with '/'", source.path),
            "write it like /api/v1/logs",
        ));
    }
    if source.event_time.path.is_empty() {
        return Err(Problem::new(
            key("event_time.path"),
            "is empty",
            "name the field that holds each event's time, e.g. \"published\"",
        ));
    }
    if let Some(files) = &source.files {
        if files.url_path.is_empty() {
            return Err(Problem::new(
                key("files.url_path"),
                "is empty",
                "name the field of each listed record that holds its file's URL, e.g. \"LogFile\"",
            ));
        }
        if files.event_time.path.is_empty() {
            return Err(Problem::new(
                key("files.event_time.path"),
                "is empty",
                "name the column that holds each row's time, e.g. \"TIMESTAMP_DERIVED\"",
            ));
        }
        if files.max_size.as_u64() == 0 {
            return Err(Problem::new(
                key("files.max_size"),
                "must be greater than zero",
                "the default is \"512 MiB\"; set it above the largest file the API serves",
            ));
        }
    }
    // Without resolved secrets (`sluice status`) there is nothing to check in `auth`.
    if resolved {
        source
            .auth
            .problem()
            .map_err(|problem| problem.under(&key("auth")))?;
    }
    validate_templates(source)
        .map_err(|(field, message, hint)| Problem::new(key(field), message, hint))?;
    super::position::validate(source)
        .map_err(|(field, message, hint)| Problem::new(key(&field), message, hint))?;
    if source.window.max_window.is_zero() || source.window.dedup_capacity == 0 {
        return Err(Problem::new(
            key("window"),
            "max_window and dedup_capacity must be greater than zero",
            "the defaults are \"1d\" and 10000",
        ));
    }
    if source.window.overlap >= source.window.max_window {
        return Err(Problem::new(
            key("window.overlap"),
            "must be shorter than window.max_window",
            "an overlap of a few minutes is typical; windows must move forward",
        ));
    }
    match (&source.http.client_cert, &source.http.client_key) {
        (Some(_), None) | (None, Some(_)) => {
            let missing = if source.http.client_key.is_none() {
                "client_key"
            } else {
                "client_cert"
            };
            return Err(Problem::new(
                key(&format!("http.{missing}")),
                "mutual TLS needs both http.client_cert and http.client_key",
                "give the client certificate and its private key as two PEM files",
            ));
        }
        _ => {}
    }
    if source.http.max_attempts == 0 {
        return Err(Problem::new(
            key("http.max_attempts"),
            "must be at least 1",
            "the default is 8",
        ));
    }
    if source.sinks.is_empty() {
        return Err(Problem::new(
            key("sinks"),
            "the source delivers to no sink",
            "list at least one [[sinks]] name, e.g. sinks = [\"lake\"]",
        ));
    }
    for (j, name) in source.sinks.iter().enumerate() {
        if !sinks.contains(name.as_str()) {
            return Err(Problem::new(
                key(&format!("sinks[{j}]")),
                format!("no sink is named `{name}`"),
                "add a [[sinks]] table with that name, or fix the spelling",
            ));
        }
    }
    Ok(())
}

type TemplateProblem = (&'static str, String, String);

/// `next_body` (the body of every page after a window's first) is JSON, is sent by a POST
/// source with cursor pagination, and carries the cursor back.
fn validate_next_body(source: &SourceConfig, next_body: &str) -> Result<(), TemplateProblem> {
    use crate::source::template::words;
    let problem =
        |message: &str, hint: &str| Err(("next_body", message.to_string(), hint.to_string()));
    if let Err(err) = serde_json::from_str::<serde_json::Value>(next_body) {
        return problem(
            &format!("is not JSON: {err}"),
            "write it as JSON with the placeholder inside a string, e.g. '{\"cursor\": \"{cursor}\"}'",
        );
    }
    if source.method != HttpMethod::Post {
        return problem(
            "a body is only sent with method = \"POST\"",
            "add method = \"POST\" or remove next_body",
        );
    }
    if !matches!(source.pagination, PaginationConfig::Cursor { .. }) {
        return problem(
            "is the body of the pages after the first, which only cursor pagination has",
            "use pagination = { kind = \"cursor\", path = \"...\" } or remove next_body",
        );
    }
    if !words(next_body).contains(&"cursor") {
        return problem(
            "does not send the cursor back: it has no {cursor} placeholder",
            "add the field the API reads the cursor from, e.g. '{\"cursor\": \"{cursor}\"}'",
        );
    }
    Ok(())
}

/// The request templates can work: known placeholders only, `{start}` somewhere, the
/// placeholder the pagination kind needs, a JSON body, valid time layouts.
fn validate_templates(source: &SourceConfig) -> Result<(), TemplateProblem> {
    use crate::source::template::{words, PLACEHOLDERS};
    let problem =
        |field: &'static str, message: String, hint: &str| Err((field, message, hint.to_string()));
    let mut used: Vec<&str> = Vec::new();
    let query = source
        .query
        .iter()
        .flat_map(|(name, value)| value.templates().iter().map(move |t| (name, t)));
    let headers = source.headers.iter();
    let sites: Vec<(&'static str, &String, &String)> = query
        .map(|(name, t)| ("query", name, t))
        .chain(headers.map(|(name, t)| ("headers", name, t)))
        .collect();
    for (field, name, template) in sites {
        {
            for word in words(template) {
                if !PLACEHOLDERS.contains(&word) {
                    return problem(
                        field,
                        format!("`{name}` uses unknown placeholder {{{word}}}"),
                        "placeholders are {start}, {end}, {limit}, {cursor}, {offset} and {page}",
                    );
                }
                used.push(word);
            }
        }
    }
    if let Some(body) = &source.body {
        if let Err(err) = serde_json::from_str::<serde_json::Value>(body) {
            return problem("body", format!("is not JSON: {err}"), "write the body as JSON with placeholders inside strings, e.g. {\"after\": \"{cursor}\"}");
        }
        used.extend(words(body).into_iter().filter(|w| PLACEHOLDERS.contains(w)));
        if source.method != HttpMethod::Post {
            return problem(
                "body",
                "a body is only sent with method = \"POST\"".into(),
                "add method = \"POST\" or remove the body",
            );
        }
    }
    if let Some(next_body) = &source.next_body {
        validate_next_body(source, next_body)?;
        used.push("cursor");
    }
    if let crate::source::auth::config::AuthConfig::ApiKey(key) = &source.auth {
        if let Some(field) = key.body_field() {
            let objects = [source.body.as_deref(), source.next_body.as_deref()]
                .into_iter()
                .flatten()
                .all(|body| {
                    serde_json::from_str::<serde_json::Value>(body).is_ok_and(|v| v.is_object())
                });
            if source.body.is_none() || !objects {
                return problem(
                    "auth.body",
                    format!("the key goes in JSON body field `{field}`, but the source has no body that is a JSON object"),
                    "set method = \"POST\" and a body template that is a JSON object, e.g. body = '{\"from\": \"{start}\"}'",
                );
            }
        }
    }
    if source.next_path.is_some() && !matches!(source.pagination, PaginationConfig::Cursor { .. }) {
        return problem(
            "next_path",
            "is the path of the pages after the first, which only cursor pagination has".into(),
            "use pagination = { kind = \"cursor\", path = \"...\" } or remove next_path",
        );
    }
    if source.window.mode == WindowMode::Position {
        if let Some(word) = used.iter().find(|w| matches!(**w, "start" | "end")) {
            return problem(
                "query",
                format!("window.mode = \"position\" lists from a saved position, not a time window, so no request has a {{{word}}}"),
                "remove the time parameters, or use window.mode = \"time\" for an API that takes a time range",
            );
        }
    } else if !used.contains(&"start") {
        return problem(
            "query",
            "no request parameter carries the window start {start}".into(),
            "every request must be bounded in time, e.g. query = { since = \"{start}\", until = \"{end}\" }",
        );
    }
    if let Some(needed) = source.pagination.placeholder() {
        if !used.contains(&needed) {
            return problem(
                "pagination",
                format!("this pagination kind needs a {{{needed}}} placeholder in query, headers or body"),
                "send the value back, e.g. query = { cursor = \"{cursor}\" } (cursor pagination may use param = \"cursor\" instead)",
            );
        }
    }
    let needs_page_size = matches!(
        source.pagination,
        PaginationConfig::Offset {
            has_more_path: None
        } | PaginationConfig::PageNumber {
            has_more_path: None,
            next_page_path: None,
            ..
        }
    );
    if needs_page_size && source.page_size.is_none() {
        return problem(
            "page_size",
            "offset and page-number pagination without has_more_path need page_size to see the last page".into(),
            "set page_size to the API's page size and send it as {limit}",
        );
    }
    if let PaginationConfig::Cursor { path, .. } | PaginationConfig::NextUrl { path } =
        &source.pagination
    {
        if path.is_empty() {
            return problem(
                "pagination.path",
                "is empty".into(),
                "name where the response keeps the next cursor or URL, e.g. \"meta.next_cursor\"",
            );
        }
    }
    for (field, format) in [
        ("window.format", &source.window.format),
        ("event_time.format", &source.event_time.format),
    ] {
        if let TimeFormat::Strftime(layout) = format {
            crate::timefmt::check_strftime(layout).map_err(|e| {
                (
                    field,
                    e.to_string(),
                    "see https://docs.rs/chrono/latest/chrono/format/strftime/".to_string(),
                )
            })?;
        }
        if let Some(problem) = crate::timefmt::zone_problem(format) {
            return Err((
                field,
                problem,
                "write the time of day too (e.g. \"%Y-%m-%d %H:%M:%S\"), or leave out time_zone to use UTC dates".to_string(),
            ));
        }
    }
    Ok(())
}
