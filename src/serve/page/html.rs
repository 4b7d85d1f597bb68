//! The HTML status page: one card per source, inline CSS and SVG, no script, nothing
//! fetched from elsewhere, reloaded by `<meta http-equiv="refresh">`. Every text from the
//! outside (source names, error texts, incident details) goes through maud's escaping, and
//! is scrubbed of secrets before it is escaped (an escaped secret would no longer match the
//! scrubber's patterns).

use std::time::Duration;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{chart, count, Card, Snapshot, REFRESH};
use crate::runtime::status::{BackfillProgress, Health};
use crate::timefmt::rfc3339_millis;

/// The page's style: cards in a grid, a coloured band and badge per health.
const STYLE: &str = r#"
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --park: #8250df; --idle: #6e7781; --line: #d0d7de; --muted: #57606a; --card: #fff; --page: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --line: #30363d; --muted: #8b949e; --card: #161b22; --page: #0d1117; --ok: #3fb950; --bad: #f85149; --warn: #d29922; --park: #a371f7; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 1.5rem; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--page); }
header.top { display: flex; flex-wrap: wrap; align-items: baseline; gap: .4rem 1rem; margin-bottom: 1rem; }
header.top h1 { margin: 0; font-size: 1.4rem; }
header.top p { margin: 0; color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr)); gap: 1rem; align-items: start; }
.card { background: var(--card); border: 1px solid var(--line); border-top: 4px solid var(--idle); border-radius: 6px; padding: .8rem 1rem; overflow-wrap: anywhere; }
.card h2 { margin: 0; font-size: 1.1rem; flex: 1; }
.card > header { display: flex; align-items: center; gap: .5rem; }
.badge { font-size: .75rem; font-weight: 600; text-transform: uppercase; letter-spacing: .03em; padding: .1rem .5rem; border-radius: 1rem; color: #fff; background: var(--idle); }
.health-ok { border-top-color: var(--ok); } .health-ok .badge { background: var(--ok); }
.health-failing { border-top-color: var(--bad); } .health-failing .badge { background: var(--bad); }
.health-parked { border-top-color: var(--park); } .health-parked .badge { background: var(--park); }
.health-stale, .health-silent, .health-canary_missed { border-top-color: var(--warn); } .health-stale .badge, .health-silent .badge, .health-canary_missed .badge { background: var(--warn); }
.reason { margin: .5rem 0 0; color: var(--muted); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .8rem; margin: .6rem 0; }
dt { color: var(--muted); } dd { margin: 0; }
.open { color: var(--park); font-weight: 600; }
figure { margin: .4rem 0; } figcaption { color: var(--muted); font-size: .8rem; }
svg.chart { display: block; width: 100%; height: 3rem; }
svg.chart .bar { fill: var(--ok); } svg.chart .bar.failed { fill: var(--bad); }
svg.chart .empty { fill: transparent; } svg.chart .unknown { fill: url(#unknown); }
svg.chart .hatch { stroke: var(--idle); stroke-width: 1; } svg.chart .base { stroke: var(--line); }
progress { width: 100%; }
h3 { font-size: .85rem; margin: .6rem 0 .2rem; color: var(--muted); font-weight: 600; }
ul.incidents { margin: 0; padding-left: 1.1rem; }
pre.error { margin: 0; padding: .4rem .5rem; background: var(--page); border-radius: 4px; white-space: pre-wrap; font-size: .8rem; max-height: 10rem; overflow: auto; }
.note { color: var(--warn); }
"#;

/// The page.
pub fn render(snapshot: &Snapshot) -> String {
    let with_state = |state: &str| {
        snapshot
            .cards
            .iter()
            .filter(|c| c.source.health.as_ref().map(Health::state) == Some(state))
            .count()
    };
    let bad = snapshot
        .cards
        .iter()
        .filter(|c| c.source.health.as_ref().is_some_and(Health::is_bad))
        .count();
    let sources = count(snapshot.cards.len() as u64, "source");
    let title = match bad {
        0 => format!("sluice: {sources}, all well"),
        1 => format!("sluice: 1 of {sources} needs attention"),
        _ => format!("sluice: {bad} of {sources} need attention"),
    };
    let summary: Vec<String> = ["ok", "failing", "parked", "stale", "silent", "never_ran"]
        .iter()
        .filter_map(|state| {
            let n = with_state(state);
            (n > 0).then(|| format!("{n} {}", state.replace('_', " ")))
        })
        .collect();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content=(REFRESH.as_secs());
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.top {
                    h1 { "sluice" }
                    p {
                        (sources)
                        @if !summary.is_empty() { ": " (summary.join(", ")) }
                        " · as of " (rfc3339_millis(snapshot.now))
                        " · reloads every " (REFRESH.as_secs()) " s · "
                        a href="?format=text" { "text" } " · "
                        a href="status.json" { "JSON" }
                    }
                }
                @if let Some(err) = &snapshot.incidents_error {
                    p.note { "The open alert incidents cannot be read: " (shown(err)) }
                }
                @if snapshot.cards.is_empty() {
                    p { "No source is configured." }
                }
                main.cards {
                    @for card in &snapshot.cards {
                        (render_card(card, snapshot))
                    }
                }
            }
        }
    };
    page.into_string()
}

/// One source's card.
fn render_card(card: &Card, snapshot: &Snapshot) -> Markup {
    let source = &card.source;
    let status = &source.status;
    let checkpoint = &status.checkpoint;
    let state = source.health.as_ref().map_or("unknown", Health::state);
    let lag = source.lag_seconds(snapshot.now).map_or_else(
        || "- (nothing delivered yet)".to_string(),
        |lag| humantime::format_duration(Duration::from_secs(lag.max(0) as u64)).to_string(),
    );
    html! {
        section class=(format!("card health-{state}")) id=(format!("source-{}", status.source))
            data-source=(status.source) data-health=(state) {
            header {
                h2 { (status.source) }
                span.badge { (state.replace('_', " ")) }
            }
            @if let (Some(Health::Failing { .. }), Some(_)) = (&source.health, &status.last_error) {
                // The error itself is below, whole; once is enough on a card.
                p.reason { "the last run failed; its error is below" }
            } @else if let Some(reason) = source.health.as_ref().and_then(Health::reason) {
                p.reason { (shown(&reason)) }
            }
            dl {
                dt { "lag" } dd { (lag) }
                dt { "high water" } dd { (checkpoint.high_water.map_or_else(|| "-".into(), rfc3339_millis)) }
                dt { "last run" }
                dd {
                    @match &status.last_run {
                        Some(run) => {
                            (rfc3339_millis(run.finished_at)) " ("
                            (if run.error.is_some() { "failed" } else { "ok" })
                            ", " (count(run.events, "event")) ", " (count(run.pages, "page")) ")"
                        }
                        None => "never",
                    }
                }
                dt { "delivered" } dd { (count(checkpoint.delivered, "event")) " in " (count(checkpoint.seq, "commit")) }
                dt { "breaker" }
                dd {
                    @match &source.health {
                        Some(Health::Parked(parked)) => {
                            span.open { "open" } " until " (rfc3339_millis(parked.until))
                            " after " (count(parked.failures as u64, "failed run")) "; runs are skipped"
                        }
                        _ if !card.breaker_on => "off",
                        _ => "closed",
                    }
                }
                @if let Some(canary) = &source.canary {
                    dt { "canary" }
                    dd {
                        @if canary.is_bad() { span.open { (canary.state().replace('_', " ")) } } @else { (canary.state().replace('_', " ")) }
                        ": " (shown(&canary.reason()))
                    }
                }
                @if status.commit_in_flight {
                    dt { "in flight" } dd { "a commit was interrupted; the next run finishes it" }
                }
            }
            figure {
                @match &card.hourly {
                    Ok(hourly) => {
                        (chart::render(hourly))
                        figcaption {
                            @if hourly.total() == 0 {
                                "events per hour, last 24 h: none"
                            } @else {
                                "events per hour, last 24 h: " (hourly.total()) " (busiest hour " (hourly.peak()) ")"
                            }
                            @if let Some(from) = hourly.history_from {
                                "; run history kept from " (rfc3339_millis(from))
                            }
                        }
                    }
                    Err(err) => figcaption.note { (shown(&err.to_string())) },
                }
            }
            @if !source.backfills.is_empty() {
                h3 { "backfill" }
                @for backfill in &source.backfills {
                    (render_backfill(backfill))
                }
            }
            @if !source.incidents.is_empty() {
                h3 { "open alerts" }
                ul.incidents {
                    @for incident in &source.incidents {
                        li {
                            strong { (incident.alert) } " since " (rfc3339_millis(incident.opened_at))
                            " (sent " (count(u64::from(incident.notifications), "time")) "): " (shown(&incident.detail))
                        }
                    }
                }
            }
            @if let Some(run) = &status.last_error {
                h3 {
                    "last error, " (rfc3339_millis(run.finished_at))
                    @if let Some(kind) = run.kind { " (" (kind) ")" }
                }
                pre.error { (shown(run.error.as_deref().unwrap_or_default())) }
            }
        }
    }
}

fn render_backfill(b: &BackfillProgress) -> Markup {
    html! {
        div.backfill {
            progress value=(b.done) max=(b.windows.max(1)) {}
            div {
                (b.done) " of " (b.windows) " windows of "
                (humantime::format_duration(b.step)) " done; "
                (rfc3339_millis(b.from)) " .. " (rfc3339_millis(b.to))
                ", complete up to " (rfc3339_millis(b.frontier))
            }
        }
    }
}

/// A text from outside, scrubbed of secrets (maud escapes it when it is spliced in).
fn shown(text: &str) -> String {
    crate::redact::scrub_string(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::status::hourly::hourly;
    use crate::runtime::status::SourceOverview;
    use crate::state::{Incident, RunRecord, SourceStatus};
    use chrono::Utc;

    const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&";

    fn card(name: &str, health: Health, error: Option<&str>) -> Card {
        let now = Utc::now();
        let run = RunRecord {
            kind: None,
            source: name.into(),
            started_at: now,
            finished_at: now,
            error: error.map(str::to_string),
            events: 3,
            pages: 1,
        };
        Card {
            source: SourceOverview {
                status: SourceStatus {
                    source: name.into(),
                    checkpoint: Default::default(),
                    commit_in_flight: false,
                    last_run: Some(run.clone()),
                    last_error: error.is_some().then_some(run),
                },
                health: Some(health),
                backfills: vec![],
                incidents: vec![Incident {
                    alert: format!("alert{HOSTILE}"),
                    source: name.into(),
                    opened_at: now,
                    notified_at: now,
                    notifications: 1,
                    detail: format!("detail{HOSTILE}"),
                }],
                canary: None,
            },
            hourly: Ok(hourly(&[], false, now)),
            breaker_on: true,
        }
    }

    #[test]
    fn hostile_names_and_texts_are_escaped_everywhere() {
        let error = format!("HTTP 401 {HOSTILE}");
        let snapshot = Snapshot {
            now: Utc::now(),
            cards: vec![
                card(
                    &format!("evil{HOSTILE}"),
                    Health::Failing {
                        error: error.clone(),
                    },
                    Some(&error),
                ),
                // No last error recorded: the reason carries the error text.
                card("other", Health::Failing { error }, None),
            ],
            incidents_error: Some(format!("store{HOSTILE}")),
        };
        let page = render(&snapshot);
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(
            !page.contains("\"'&"),
            "a raw quote could end an attribute: {page}"
        );
        // Each text is there, escaped: the name (heading, id, data attribute), the last error,
        // the other card's reason, both cards' incidents (alert and detail), the store's error.
        let escaped =
            "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;'&amp;";
        assert_eq!(page.matches(escaped).count(), 10, "{page}");
        assert!(
            page.contains(&format!("data-source=\"evil{escaped}\"")),
            "{page}"
        );
        assert!(page.contains("data-health=\"failing\""), "{page}");
    }

    #[test]
    fn secrets_in_texts_are_scrubbed_before_they_are_escaped() {
        // A secret with characters HTML escapes: once escaped it would no longer match.
        let secret = "tok<en>&sec\"ret-0123456789";
        crate::redact::register(secret);
        let error = format!("HTTP 401 echoed {secret}");
        let snapshot = Snapshot {
            now: Utc::now(),
            cards: vec![card(
                "okta",
                Health::Failing {
                    error: error.clone(),
                },
                Some(&error),
            )],
            incidents_error: None,
        };
        let page = render(&snapshot);
        assert!(page.contains("echoed [REDACTED]"), "{page}");
        assert!(!page.contains("sec&quot;ret-0123456789"), "{page}");
        assert!(!page.contains("ret-0123456789"), "{page}");
    }

    #[test]
    fn a_card_shows_every_part() {
        let mut healthy = card("okta", Health::Healthy, None);
        healthy.source.backfills.push(BackfillProgress {
            from: "2026-01-01T00:00:00Z".parse().unwrap(),
            to: "2026-01-02T00:00:00Z".parse().unwrap(),
            frontier: "2026-01-01T06:00:00Z".parse().unwrap(),
            step: Duration::from_secs(3600),
            windows: 24,
            done: 9,
        });
        let snapshot = Snapshot {
            now: Utc::now(),
            cards: vec![healthy],
            incidents_error: None,
        };
        let page = render(&snapshot);
        for part in [
            "data-health=\"ok\"",
            "<dt>lag</dt>",
            "<dt>last run</dt>",
            "(ok, 3 events, 1 page)",
            "<dt>breaker</dt><dd>closed</dd>",
            "<svg class=\"chart\"",
            "events per hour, last 24 h: none",
            "<progress value=\"9\" max=\"24\">",
            "9 of 24 windows of 1h done",
            "open alerts",
            "http-equiv=\"refresh\" content=\"15\"",
            "<title>sluice: 1 source, all well</title>",
        ] {
            assert!(page.contains(part), "no {part:?} in {page}");
        }
        assert!(!page.contains("last error"), "{page}");
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("src=\"http"), "no external asset: {page}");
    }
}
