//! An in-process HTTP server that emulates vendor audit-log APIs, with injectable faults.
//!
//! It backs the demo, the integration tests (including the kill -9 exactness test) and
//! the benchmarks, so two properties matter above all:
//!
//! * **Determinism.** Every event is a pure function of `(config, index)`; the set of
//!   ids a client should end up with is known up front via [`event_ids`].
//! * **Bounded memory.** Nothing is materialised: a page is rendered from its index
//!   range, and time → index lookups are a binary search over a closed-form timeline, so
//!   ten million events cost no more memory than ten.
//!
//! The server is stateless apart from statistics counters: pagination state lives only
//! in the `after` cursor, so a client that crashes and resumes from its own checkpoint
//! sees exactly the data it would have seen otherwise.
//!
//! Vendors are profiles selected by [`Vendor`]; each lives in its own module ([`okta`],
//! and [`generic`], a configurable API covering every pagination style, sort order, time
//! format and auth scheme a connector spec can describe) and supplies its routes and event
//! shape, while the timeline, fault decisions, statistics and server lifecycle here are
//! shared.
//!
//! Besides the vendor API the server answers `GET /_sim/health` (`ok`) and
//! `GET /_sim/stats` ([`SimStats`] as JSON); these are never faulted nor authenticated.
//!
//! A crate of its own in Sluice's workspace, with no dependency on the product: it emulates
//! vendors as they document their APIs, never as Sluice happens to read them. The product
//! re-exports it as `sluice::simulator`.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod asana;
pub mod atlassian;
pub mod auth0;
pub mod r#box;
pub mod cloudflare;
pub mod dropbox;
pub mod duo;
pub mod entra;
/// Fault decisions; public for the fuzz targets (`sluice::fuzzing`), which check them.
pub mod faults;
pub mod generic;
pub mod github;
pub mod google_workspace;
pub mod jira;
pub mod kandji;
pub mod lastpass;
mod late;
pub mod launchdarkly;
mod listing;
pub mod okta;
pub mod onepassword;
pub mod pagerduty;
mod rng;
pub mod salesforce;
mod sealed;
pub mod sentinelone;
pub mod slack;
pub mod snyk;
pub mod stripe;
pub mod tailscale;
pub mod tfc;
mod timeline;
pub mod tines;
pub mod vicarius;
pub mod workday;
pub mod zendesk;
pub mod zoom;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::Faults;
pub use generic::{GenericProfile, SimAuth, SimOrder, SimPagination, SimTimeFormat};
pub use late::LateEvents;

use faults::FaultInjector;
use timeline::Timeline;

mod config;
mod dataset;
mod server;
mod vendor;

pub use config::SimulatorConfig;
pub use dataset::{event, event_id, event_ids, event_time, first_index_at_or_after, visible_at};
pub(crate) use server::{request_base, timeline_of, AppState};
pub use server::{start, RunningSimulator, SimStats};
pub use vendor::{UnknownVendor, Vendor};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{dialable, is_plausible_authority};

    #[test]
    fn a_host_header_that_makes_no_url_is_not_taken_as_the_base() {
        for host in ["127.0.0.1:8080", "localhost", "[::1]:9000", "sim.example_1"] {
            assert!(is_plausible_authority(host), "{host}");
        }
        // Characters the simple check lets through, but no URL base.
        for host in ["a:b:c", "[", "host:port", ":"] {
            assert!(!is_plausible_authority(host), "{host}");
        }
    }

    #[test]
    fn vendor_names_round_trip() {
        for v in Vendor::ALL {
            assert_eq!(v.as_str().parse::<Vendor>(), Ok(*v));
            assert_eq!(v.to_string(), v.as_str());
        }
        assert_eq!(" OKTA ".parse::<Vendor>(), Ok(Vendor::Okta));
        assert!("azure".parse::<Vendor>().is_err());
    }

    #[test]
    fn okta_defaults() {
        let c = SimulatorConfig::okta(10);
        assert_eq!(
            (c.seed, c.default_page_size, c.max_page_size),
            (42, 100, 1000)
        );
        assert_eq!(c.anchor.timestamp_subsec_nanos() % 1_000_000, 0);
        assert!(c.anchor < Utc::now());
        assert!(c.validate().is_ok());
        let bad = SimulatorConfig {
            max_page_size: 0,
            ..c
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn dialable_replaces_unspecified_ip() {
        let addr: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(dialable(addr).to_string(), "127.0.0.1:8080");
        let addr: SocketAddr = "[::]:80".parse().unwrap();
        assert_eq!(dialable(addr).to_string(), "[::1]:80");
    }

    #[tokio::test]
    async fn health_stats_and_shutdown() {
        let sim = start(SimulatorConfig::okta(5), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let base = sim.base_url();
        let health = client
            .get(format!("{base}/_sim/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        assert_eq!(health.text().await.unwrap(), "ok");
        let stats = client
            .get(format!("{base}/_sim/stats"))
            .send()
            .await
            .unwrap();
        let stats: SimStats = serde_json::from_slice(&stats.bytes().await.unwrap()).unwrap();
        assert_eq!(stats, SimStats::default());
        sim.shutdown().await;
        assert!(client
            .get(format!("{base}/_sim/health"))
            .send()
            .await
            .is_err());
    }
}
