//! Fault injection: configuration and the per-request decision.
//!
//! The decision is vendor-agnostic (what goes wrong); each vendor profile renders it
//! (what the failure looks like on the wire, e.g. Okta's E0000047 body for a 429).

use std::sync::Mutex;
use std::time::Duration;

use super::rng::SplitMix64;

/// Faults injected into vendor API requests (never into the `/_sim/*` endpoints).
///
/// `rate_429`, `rate_5xx` and `rate_truncate` are mutually exclusive outcomes drawn
/// from a single uniform number, in that priority order: with rates `a`, `b`, `c` a
/// request gets a 429 with probability `a`, a 5xx with probability `b`, and so on (if
/// they sum past 1, the later ones are squeezed out). `rate_slow` is independent and
/// can combine with any outcome.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Probability that a page request is answered with 429 Too Many Requests.
    pub rate_429: f64,
    /// Probability of a 500, 502 or 503 (equally likely) with a short body.
    pub rate_5xx: f64,
    /// Probability that an otherwise good 200 body is cut off mid-JSON. The
    /// `Content-Length` matches the cut body, so only JSON parsing notices.
    pub rate_truncate: f64,
    /// Probability of an extra delay of `slow` before responding.
    pub rate_slow: f64,
    /// The extra delay applied when the `rate_slow` fault fires.
    pub slow: Duration,
    /// Seed for the fault decisions; `None` draws one from the OS at start-up.
    ///
    /// With a fixed seed, the n-th request always receives the same decision. Under
    /// concurrent clients the assignment of decisions to requests depends on arrival
    /// order, which is as deterministic as the client makes it.
    pub seed: Option<u64>,
}

impl Faults {
    /// No faults at all (same as `Faults::default()`).
    pub fn none() -> Self {
        Self::default()
    }

    /// True when no fault can ever fire.
    pub fn is_none(&self) -> bool {
        self.rate_429 <= 0.0
            && self.rate_5xx <= 0.0
            && self.rate_truncate <= 0.0
            && (self.rate_slow <= 0.0 || self.slow.is_zero())
    }

    /// Rejects probabilities that are NaN, infinite or outside `[0, 1]`.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, rate) in [
            ("rate_429", self.rate_429),
            ("rate_5xx", self.rate_5xx),
            ("rate_truncate", self.rate_truncate),
            ("rate_slow", self.rate_slow),
        ] {
            anyhow::ensure!(
                (0.0..=1.0).contains(&rate),
                "fault probability {name} must be within [0, 1], got {rate}"
            );
        }
        Ok(())
    }
}

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// Serve normally.
    None,
    /// Answer 429 with exhausted rate-limit headers.
    RateLimit,
    /// Answer with this 5xx status.
    ServerError(u16),
    /// Serve a 200 whose body is cut; `fraction` in `[0, 1)` picks the cut point.
    Truncate { fraction: f64 },
}

/// The full decision for one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultPlan {
    /// What the request meets.
    pub kind: FaultKind,
    /// Extra delay from the `rate_slow` fault (zero when it did not fire).
    pub extra_delay: Duration,
}

const SERVER_ERRORS: [u16; 3] = [500, 502, 503];

/// Draws fault decisions from one seeded stream shared by all requests.
#[derive(Debug)]
pub struct FaultInjector {
    faults: Faults,
    rng: Mutex<SplitMix64>,
}

impl FaultInjector {
    /// An injector drawing from `faults.seed` (a random seed when unset).
    pub fn new(faults: Faults) -> Self {
        let seed = faults.seed.unwrap_or_else(rand::random);
        Self {
            faults,
            rng: Mutex::new(SplitMix64::new(seed)),
        }
    }

    /// Decides the fate of the next request.
    ///
    /// Always consumes exactly four draws so that the n-th decision depends only on the
    /// seed and `n`, never on which faults fired earlier.
    pub fn decide(&self) -> FaultPlan {
        let [outcome, status, cut, slow] = {
            // A poisoned lock only means another request panicked mid-draw; the
            // generator state is still a valid u64, so keep going.
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            [
                rng.unit_f64(),
                rng.unit_f64(),
                rng.unit_f64(),
                rng.unit_f64(),
            ]
        };
        FaultPlan {
            kind: self.outcome(outcome, status, cut),
            extra_delay: if slow < self.faults.rate_slow {
                self.faults.slow
            } else {
                Duration::ZERO
            },
        }
    }

    fn outcome(&self, roll: f64, status: f64, cut: f64) -> FaultKind {
        let f = &self.faults;
        if roll < f.rate_429 {
            FaultKind::RateLimit
        } else if roll < f.rate_429 + f.rate_5xx {
            let pick =
                ((status * SERVER_ERRORS.len() as f64) as usize).min(SERVER_ERRORS.len() - 1);
            FaultKind::ServerError(SERVER_ERRORS[pick])
        } else if roll < f.rate_429 + f.rate_5xx + f.rate_truncate {
            FaultKind::Truncate { fraction: cut }
        } else {
            FaultKind::None
        }
    }
}

/// Cuts a serialized body so it is guaranteed to be invalid JSON.
///
/// Any strict, non-empty prefix of a JSON array is invalid (the closing `]` is gone), so
/// the cut point is drawn from `[1, len - 1]`.
pub fn truncate_body(mut body: Vec<u8>, fraction: f64) -> Vec<u8> {
    if body.len() >= 2 {
        let room = (body.len() - 1) as f64;
        let cut = 1 + ((fraction.clamp(0.0, 1.0) * room) as usize).min(body.len() - 2);
        body.truncate(cut);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn injector(faults: Faults) -> FaultInjector {
        FaultInjector::new(Faults {
            seed: Some(9),
            ..faults
        })
    }

    #[test]
    fn no_faults_never_fire() {
        let inj = injector(Faults::none());
        assert!(Faults::none().is_none());
        for _ in 0..1000 {
            assert_eq!(
                inj.decide(),
                FaultPlan {
                    kind: FaultKind::None,
                    extra_delay: Duration::ZERO
                }
            );
        }
    }

    #[test]
    fn certain_faults_always_fire() {
        let inj = injector(Faults {
            rate_429: 1.0,
            rate_slow: 1.0,
            slow: Duration::from_millis(5),
            ..Faults::none()
        });
        for _ in 0..100 {
            let plan = inj.decide();
            assert_eq!(plan.kind, FaultKind::RateLimit);
            assert_eq!(plan.extra_delay, Duration::from_millis(5));
        }
    }

    #[test]
    fn rates_are_roughly_honoured_and_reproducible() {
        let faults = Faults {
            rate_429: 0.1,
            rate_5xx: 0.2,
            rate_truncate: 0.3,
            ..Faults::none()
        };
        let (a, b) = (injector(faults.clone()), injector(faults));
        let plans: Vec<FaultPlan> = (0..20_000).map(|_| a.decide()).collect();
        assert!(plans.iter().all(|p| *p == b.decide()));
        let count = |pred: fn(&FaultKind) -> bool| plans.iter().filter(|p| pred(&p.kind)).count();
        let near = |n: usize, expected: usize| n.abs_diff(expected) < expected / 10;
        assert!(near(count(|k| *k == FaultKind::RateLimit), 2000));
        assert!(near(
            count(|k| matches!(k, FaultKind::ServerError(_))),
            4000
        ));
        assert!(near(
            count(|k| matches!(k, FaultKind::Truncate { .. })),
            6000
        ));
        for code in SERVER_ERRORS {
            assert!(plans.iter().any(|p| p.kind == FaultKind::ServerError(code)));
        }
    }

    #[test]
    fn validate_rejects_bad_rates() {
        assert!(Faults::none().validate().is_ok());
        for bad in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            let f = Faults {
                rate_5xx: bad,
                ..Faults::none()
            };
            assert!(f.validate().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn truncated_bodies_are_strict_prefixes() {
        let body = br#"[{"a":1},{"b":2}]"#.to_vec();
        for fraction in [0.0, 0.3, 0.999_999, 1.0] {
            let cut = truncate_body(body.clone(), fraction);
            assert!(!cut.is_empty() && cut.len() < body.len());
            assert!(body.starts_with(&cut));
            assert!(serde_json::from_slice::<serde_json::Value>(&cut).is_err());
        }
        assert_eq!(truncate_body(b"[".to_vec(), 0.5), b"[");
    }
}

/// A fault that replaces the page: each vendor profile answers it in its own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The rate limit is spent.
    RateLimit,
    /// A server error with this status.
    ServerError(u16),
}

/// What every vendor handler does first: counts the request, waits the configured latency
/// (plus the slow fault's delay) and draws the request's fault. `Ok` says how to serve the
/// page ([`FaultKind::None`] or [`FaultKind::Truncate`], for [`deliver`]); `Err` is a refusal
/// to answer instead, already counted.
pub(crate) async fn admit(app: &super::AppState) -> Result<FaultKind, Refusal> {
    use std::sync::atomic::Ordering::Relaxed;
    let counters = &app.counters;
    counters.requests.fetch_add(1, Relaxed);
    let plan = app.faults.decide();
    if !plan.extra_delay.is_zero() {
        counters.faults_slow.fetch_add(1, Relaxed);
    }
    let delay = app.config.latency.saturating_add(plan.extra_delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match plan.kind {
        FaultKind::RateLimit => {
            counters.faults_429.fetch_add(1, Relaxed);
            Err(Refusal::RateLimit)
        }
        FaultKind::ServerError(status) => {
            counters.faults_5xx.fetch_add(1, Relaxed);
            Err(Refusal::ServerError(status))
        }
        kind @ (FaultKind::None | FaultKind::Truncate { .. }) => Ok(kind),
    }
}

/// The body of a page holding the events `indices`, as [`admit`] decided: cut short (and
/// counted as such) under a truncation fault, else counted as a good page, with its events
/// and, among them, the late ones.
pub(crate) fn deliver(
    app: &super::AppState,
    fault: FaultKind,
    body: Vec<u8>,
    indices: &[u64],
) -> Vec<u8> {
    use std::sync::atomic::Ordering::Relaxed;
    let counters = &app.counters;
    if let FaultKind::Truncate { fraction } = fault {
        counters.faults_truncated.fetch_add(1, Relaxed);
        truncate_body(body, fraction)
    } else {
        counters.pages_ok.fetch_add(1, Relaxed);
        counters
            .events_served
            .fetch_add(indices.len() as u64, Relaxed);
        let lateness = app.timeline.lateness();
        if lateness.any() {
            let late = indices
                .iter()
                .filter(|i| lateness.delay_ns(**i) > 0)
                .count();
            counters.late_events_served.fetch_add(late as u64, Relaxed);
        }
        body
    }
}
