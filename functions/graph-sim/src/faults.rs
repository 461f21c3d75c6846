//! Per-tenant fault injection. Fraction-based decisions hash (seed, tenant, kind, method, url, attempt number),
//! so a given request sequence fails the same way on every run, whatever the interleaving, and a retry of the
//! same request gets a fresh draw.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::rng::{hash_parts, unit};

/// Faults for one tenant. `Default` is "no faults". Also the JSON body of `PUT /_sim/tenants/{tenant}/faults`
/// (snake_case fields, all optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// 429 on every Nth request and/or a fraction of requests (batch items count one by one).
    pub throttle: Option<Throttle>,
    /// A real sliding-window limiter, like Intune's published limits: per service, per app and
    /// for all apps of the tenant (see [`crate::families::throttle_service`]).
    pub rate_limit: Option<RateLimit>,
    /// 5xx on top-level Graph requests (including the outer `$batch` request).
    pub server_errors: Option<ServerErrors>,
    /// 5xx on individual `$batch` items (the outer batch still answers 200).
    pub batch_item_errors: Option<ServerErrors>,
    /// Slow responses. The operation runs first, then the response waits: a client that times out and
    /// retries a POST creates a duplicate, as it would against Graph.
    pub delay: Option<Delay>,
    /// Broken paging on every paged list of the tenant (or of `paging_families`).
    pub paging: Option<PagingFault>,
    /// The page (1-based) that `paging` breaks; `None`: the first.
    pub paging_page: Option<usize>,
    /// Family names whose lists `paging` breaks; empty: every paged list.
    pub paging_families: Vec<String>,
    /// Lists answer without `@odata.count` even when asked, as a collection that ignores `$count`
    /// would: only the missing objects' own GETs can then tell a short list from deletions.
    pub no_count: bool,
    /// Token endpoint: 401 `invalid_client` (AADSTS7000229); Graph: 401 for every token of the tenant.
    /// Unlike [`crate::SimHandle::revoke`] this leaves the grant in place, so clearing the fault restores it.
    pub consent_revoked: bool,
    /// Family names (`configurationPolicies`, `groups`, …) answered with 403 whatever the token's roles.
    pub forbidden_families: Vec<String>,
    /// Multi Admin Approval (graph-brief §4.3) on Intune writes: 400 without `x-msft-approval-justification`,
    /// 403 `ApprovalRequired` with `x-msft-approval-code` with it.
    pub approval_required: bool,
    /// Multi Admin Approval access policies in the tenant, by `policyType` (`compliancePolicy`,
    /// `configurationPolicy`, `script`, …): writes to the families they protect need approval as with
    /// `approval_required`, and `GET deviceManagement/operationApprovalPolicies` lists them.
    pub approval_policies: Vec<String>,
    /// ID tokens are signed with a key the tenant does not publish at `/{tenant}/discovery/v2.0/keys`
    /// (a forged token, as a relying party sees it).
    pub unpublished_signing_key: bool,
    /// A test hook, not Graph behaviour: every answer waits until this many Graph requests of the
    /// tenant are in flight at once (then the gate stays open until faults are set again), or
    /// [`GATE_MAX_WAIT`] at most. A client that reads side by side opens it at once; one that sends
    /// a request at a time waits the maximum, and [`crate::Stats::recorded`] shows no overlap.
    pub hold_until_in_flight: Option<u64>,
}

/// The longest [`Faults::hold_until_in_flight`] holds an answer.
pub const GATE_MAX_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Throttle {
    /// Every Nth request (counted per tenant, from the time the fault was set) gets a 429.
    pub every_nth: Option<u64>,
    /// Fraction of requests (0.0–1.0) that get a 429, decided deterministically from the seed.
    pub fraction: f64,
    /// `Retry-After` in seconds: integers are sent as `2`, others as `2.128`. `None`: no header.
    pub retry_after: Option<f64>,
    /// Only POST/PUT/PATCH/DELETE are throttled ("writes can be throttled while reads still pass").
    pub writes_only: bool,
    /// Only requests (or `$batch` items) whose URL contains one of these are throttled: one hot
    /// object that keeps answering 429 while its neighbours pass. Empty: every request.
    pub paths: Vec<String>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            every_nth: None,
            fraction: 0.0,
            retry_after: Some(1.0),
            writes_only: false,
            paths: Vec::new(),
        }
    }
}

/// Intune's published limits are per service ("Intune device configuration service limits", …):
/// per app per tenant `max_requests` and `max_writes` per window, for all apps of the tenant twice
/// that; the devices service (scripts, managed devices) allows twice as much again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimit {
    pub window_ms: u64,
    /// Requests of any kind per app per service per window.
    pub max_requests: u32,
    /// Writes per app per service per window.
    pub max_writes: u32,
    /// Send `Retry-After` with millisecond precision (`1.234`) instead of whole seconds (rounded up).
    pub fractional_retry_after: bool,
}

impl Default for RateLimit {
    /// Intune's per app per tenant limits of one service: 1,000 requests and 100 writes per 20 s.
    fn default() -> Self {
        RateLimit {
            window_ms: 20_000,
            max_requests: 1000,
            max_writes: 100,
            fractional_retry_after: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerErrors {
    pub every_nth: Option<u64>,
    pub fraction: f64,
    /// Statuses to use, cycled through (500, 502, 503, 504).
    pub statuses: Vec<u16>,
    /// `Retry-After` on 503 answers.
    pub retry_after: Option<f64>,
    /// Only POST/PUT/PATCH/DELETE fail; reads pass.
    pub writes_only: bool,
}

impl Default for ServerErrors {
    fn default() -> Self {
        ServerErrors {
            every_nth: None,
            fraction: 0.0,
            statuses: vec![503],
            retry_after: None,
            writes_only: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Delay {
    pub ms: u64,
    /// Fraction of requests delayed (1.0: all).
    pub fraction: f64,
    /// Also delay the token endpoint.
    pub token_endpoint: bool,
}

impl Default for Delay {
    fn default() -> Self {
        Delay {
            ms: 0,
            fraction: 1.0,
            token_endpoint: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PagingFault {
    /// The first page carries an `@odata.nextLink` whose skip token is dead: following it returns 404.
    DeadNextLink,
    /// The page has no `@odata.nextLink` although more items exist (`@odata.count` still tells the truth).
    MissingNextLink,
    /// The page leaves out the second half of its items (at least one) while its `@odata.nextLink`
    /// goes on after them, so the pages together hold fewer items than `@odata.count`.
    ShortPage,
}

impl Faults {
    /// 429 on every `n`th request with the given `Retry-After`.
    pub fn throttle_every(n: u64, retry_after: Option<f64>) -> Self {
        Faults {
            throttle: Some(Throttle {
                every_nth: Some(n),
                retry_after,
                ..Throttle::default()
            }),
            ..Faults::default()
        }
    }

    /// 429 on a fraction of requests with the given `Retry-After`.
    pub fn throttle_fraction(fraction: f64, retry_after: Option<f64>) -> Self {
        Faults {
            throttle: Some(Throttle {
                fraction,
                retry_after,
                ..Throttle::default()
            }),
            ..Faults::default()
        }
    }
}

/// What the fault layer decided for one request.
#[derive(Debug)]
pub(crate) enum Injected {
    Throttled { retry_after: Option<String> },
    ServerError { status: u16, retry_after: Option<String> },
}

/// Mutable bookkeeping behind the faults.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    throttle_count: u64,
    error_count: u64,
    item_error_count: u64,
    attempts: HashMap<String, u64>,
    /// Admitted requests per limiter key (`app|service` and `*|service`): when, and whether a write.
    windows: HashMap<String, VecDeque<(Instant, bool)>>,
    /// [`Faults::hold_until_in_flight`] was reached since the faults were set.
    pub(crate) gate_open: bool,
}

impl FaultState {
    pub(crate) fn reset(&mut self) {
        *self = FaultState::default();
    }
}

/// `2` for whole seconds, otherwise up to millisecond precision (`1.5`, `2.128`).
pub(crate) fn format_retry_after(secs: f64) -> String {
    if secs.fract() == 0.0 {
        return format!("{}", secs as u64);
    }
    let s = format!("{secs:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub(crate) struct Draw<'a> {
    pub seed: u64,
    pub tenant: &'a str,
    pub method: &'a str,
    pub url: &'a str,
    pub is_write: bool,
    pub batch_item: bool,
    /// The caller's client id.
    pub app: &'a str,
    /// The Intune service the request counts against, and its scale (2 for devices).
    pub service: (&'a str, u32),
}

impl Faults {
    /// Throttling and 5xx decisions for one Graph request (or batch item). Call once per request.
    /// The outer `$batch` request passes `allow_throttle = false`: Graph throttles its items one by one.
    pub(crate) fn decide(&self, st: &mut FaultState, d: &Draw<'_>, allow_throttle: bool) -> Option<Injected> {
        let key = format!("{} {}", d.method, d.url);
        let attempt = {
            let n = st.attempts.entry(key).or_insert(0);
            *n += 1;
            n.to_string()
        };
        let draw = |kind: &str| unit(hash_parts(d.seed, &[d.tenant, kind, d.method, d.url, &attempt]));

        if let Some(t) = &self.throttle
            && allow_throttle
            && (!t.writes_only || d.is_write)
            && (t.paths.is_empty() || t.paths.iter().any(|p| d.url.contains(p.as_str())))
        {
            st.throttle_count += 1;
            let nth = t
                .every_nth
                .is_some_and(|n| n > 0 && st.throttle_count.is_multiple_of(n));
            if nth || (t.fraction > 0.0 && draw("throttle") < t.fraction) {
                return Some(Injected::Throttled {
                    retry_after: t.retry_after.map(format_retry_after),
                });
            }
        }
        if let Some(r) = &self.rate_limit
            && allow_throttle
            && let Some(wait) = rate_limited(st, r, d)
        {
            let secs = wait.as_secs_f64();
            let v = if r.fractional_retry_after {
                format!("{:.3}", secs.max(0.001))
            } else {
                format!("{}", secs.ceil().max(1.0))
            };
            return Some(Injected::Throttled { retry_after: Some(v) });
        }
        let (errors, counter, kind) = if d.batch_item {
            (&self.batch_item_errors, &mut st.item_error_count, "item-error")
        } else {
            (&self.server_errors, &mut st.error_count, "error")
        };
        if let Some(e) = errors.as_ref().filter(|e| !e.writes_only || d.is_write) {
            *counter += 1;
            let nth = e.every_nth.is_some_and(|n| n > 0 && counter.is_multiple_of(n));
            if nth || (e.fraction > 0.0 && draw(kind) < e.fraction) {
                let statuses = if e.statuses.is_empty() {
                    &[503][..]
                } else {
                    &e.statuses[..]
                };
                let status = statuses[(*counter as usize) % statuses.len()];
                let retry_after = if status == 503 {
                    e.retry_after.map(format_retry_after)
                } else {
                    None
                };
                return Some(Injected::ServerError { status, retry_after });
            }
        }
        None
    }

    /// The delay for one request, if any.
    pub(crate) fn delay_for(&self, d: &Draw<'_>, token_endpoint: bool) -> Option<Duration> {
        let delay = self.delay.as_ref()?;
        if delay.ms == 0 || (token_endpoint && !delay.token_endpoint) {
            return None;
        }
        let hit =
            delay.fraction >= 1.0 || unit(hash_parts(d.seed, &[d.tenant, "delay", d.method, d.url])) < delay.fraction;
        hit.then(|| Duration::from_millis(delay.ms))
    }

    /// The paging fault for page `page_no` (1-based) of a list of `family`, if it breaks that page.
    pub(crate) fn paging_for(&self, family: &str, page_no: usize) -> Option<PagingFault> {
        let fault = self.paging?;
        let on_family =
            self.paging_families.is_empty() || self.paging_families.iter().any(|f| f.eq_ignore_ascii_case(family));
        (on_family && page_no == self.paging_page.unwrap_or(1).max(1)).then_some(fault)
    }

    pub(crate) fn forbids(&self, family: &str) -> bool {
        self.forbidden_families.iter().any(|f| f.eq_ignore_ascii_case(family))
    }
}

/// The limiter window of `app` (`*`: all apps) at `service`.
fn limiter_key(app: &str, service: &str) -> String {
    format!("{app}|{service}")
}

/// Admits the request under both of its service's windows (the app's and all apps'), or says
/// how long until the fuller one has room.
fn rate_limited(st: &mut FaultState, r: &RateLimit, d: &Draw<'_>) -> Option<Duration> {
    let now = Instant::now();
    let window = Duration::from_millis(r.window_ms);
    let (service, scale) = d.service;
    // One app's allowance and all apps' (twice as much) at the service.
    let keys = [
        (limiter_key(&d.app.to_ascii_lowercase(), service), scale),
        (limiter_key("*", service), 2 * scale),
    ];
    let mut wait: Option<Duration> = None;
    for (key, factor) in &keys {
        let log = st.windows.entry(key.clone()).or_default();
        while log.front().is_some_and(|(t, _)| now.duration_since(*t) >= window) {
            log.pop_front();
        }
        let oldest = |only_writes: bool| {
            log.iter()
                .find(|(_, w)| !only_writes || *w)
                .map(|(t, _)| window.saturating_sub(now.duration_since(*t)))
        };
        let full = if log.len() >= (r.max_requests * factor) as usize {
            oldest(false)
        } else if d.is_write && log.iter().filter(|(_, w)| *w).count() >= (r.max_writes * factor) as usize {
            oldest(true)
        } else {
            None
        };
        if let Some(w) = full {
            wait = Some(wait.map_or(w, |x| x.max(w)));
        }
    }
    if wait.is_some() {
        return wait;
    }
    for (key, _) in keys {
        st.windows.entry(key).or_default().push_back((now, d.is_write));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw<'a>(url: &'a str) -> Draw<'a> {
        Draw {
            seed: 1,
            tenant: "t",
            method: "GET",
            url,
            is_write: false,
            batch_item: false,
            app: "app",
            service: ("device_configuration", 1),
        }
    }

    #[test]
    fn every_nth_throttles_deterministically() {
        let f = Faults::throttle_every(3, Some(2.128));
        let mut st = FaultState::default();
        let hits: Vec<bool> = (0..6).map(|_| f.decide(&mut st, &draw("/x"), true).is_some()).collect();
        assert_eq!(hits, [false, false, true, false, false, true]);
    }

    #[test]
    fn fraction_is_reproducible_and_roughly_right() {
        let f = Faults::throttle_fraction(0.3, None);
        let run = || {
            let mut st = FaultState::default();
            (0..1000)
                .filter(|i| f.decide(&mut st, &draw(&format!("/x/{i}")), true).is_some())
                .count()
        };
        let n = run();
        assert_eq!(n, run());
        assert!((200..400).contains(&n), "{n}");
    }

    #[test]
    fn paging_faults_break_the_chosen_page_of_the_chosen_families() {
        let f = Faults {
            paging: Some(PagingFault::ShortPage),
            paging_page: Some(2),
            paging_families: vec!["deviceConfigurations".into()],
            ..Faults::default()
        };
        assert_eq!(f.paging_for("deviceConfigurations", 2), Some(PagingFault::ShortPage));
        assert_eq!(f.paging_for("deviceConfigurations", 1), None);
        assert_eq!(f.paging_for("configurationPolicies", 2), None);
        let all = Faults {
            paging: Some(PagingFault::MissingNextLink),
            ..Faults::default()
        };
        assert_eq!(all.paging_for("groups", 1), Some(PagingFault::MissingNextLink));
        assert_eq!(all.paging_for("groups", 2), None);
        let parsed: Faults =
            serde_json::from_str(r#"{"paging":"short_page","paging_page":3,"no_count":true}"#).unwrap();
        assert_eq!(
            (parsed.paging, parsed.paging_page, parsed.no_count),
            (Some(PagingFault::ShortPage), Some(3), true)
        );
    }

    #[test]
    fn a_path_throttle_hits_only_its_paths() {
        let f = Faults {
            throttle: Some(Throttle {
                fraction: 1.0,
                paths: vec!["/scripts/hot".into()],
                ..Throttle::default()
            }),
            ..Faults::default()
        };
        let mut st = FaultState::default();
        for _ in 0..3 {
            assert!(
                f.decide(&mut st, &draw("/beta/scripts/hot?$expand=assignments"), true)
                    .is_some()
            );
            assert!(f.decide(&mut st, &draw("/beta/scripts/cool"), true).is_none());
        }
    }

    #[test]
    fn retry_after_formats() {
        assert_eq!(format_retry_after(2.0), "2");
        assert_eq!(format_retry_after(2.128), "2.128");
        assert_eq!(format_retry_after(1.5), "1.5");
    }
}
