//! When to retry and how long to wait.
//!
//! The server's `Retry-After` wins; without it we use exponential backoff with *full* jitter
//! (`uniform(0, min(cap, base·2^attempt))`, AWS architecture blog "Exponential Backoff And Jitter").
//! `backon` (the maintained crate; `backoff` is unmaintained, RUSTSEC-2025-0012) only offers additive
//! jitter (`d + uniform(0, d)`, which can exceed the cap) and wraps a whole future, while we need to
//! re-send a subset of `$batch` items and to let each response's `Retry-After` override the schedule;
//! the schedule is one line, so it lives here.

use std::time::{Duration, SystemTime};

use reqwest::Method;

/// Longest `Retry-After` we take literally; larger values are clamped (a day is already absurd).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses a `Retry-After` value: integer or fractional seconds (Graph sends `2.128`), or an HTTP-date.
/// Returns `None` for anything else, so the caller falls back to backoff.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = value.parse().ok()?;
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        return Some(Duration::try_from_secs_f64(secs).map_or(MAX_RETRY_AFTER, |d| d.min(MAX_RETRY_AFTER)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO).min(MAX_RETRY_AFTER))
}

/// Full-jitter backoff for retry number `attempt` (0 for the first retry).
pub fn full_jitter(attempt: u32, base: Duration, cap: Duration) -> Duration {
    full_jitter_with(attempt, base, cap, fastrand::f64())
}

/// [`full_jitter`] with the random draw (`unit` in `[0, 1)`) passed in, for tests.
pub fn full_jitter_with(attempt: u32, base: Duration, cap: Duration, unit: f64) -> Duration {
    let ceiling = base.saturating_mul(2u32.saturating_pow(attempt.min(31))).min(cap);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

/// Statuses worth another try. 429 and 503 mean "not processed, come back later" for every request;
/// 500/502/504 may hide a write that happened, so only a repeatable request is sent again on them.
pub(crate) fn is_retryable_status(status: u16, repeatable: bool) -> bool {
    match status {
        429 | 503 => true,
        500 | 502 | 504 => repeatable,
        _ => false,
    }
}

/// Whether sending the request twice does no more than sending it once. POST creates and runs actions;
/// PATCH and PUT carry the full desired state, DELETE of a deleted object is a 404.
pub(crate) fn is_repeatable(method: &Method) -> bool {
    *method != Method::POST
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn retry_after_integer_and_fractional_seconds() {
        assert_eq!(parse_retry_after("3", now()), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now()), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("2.128", now()), Some(Duration::from_millis(2128)));
        assert_eq!(parse_retry_after("0.25", now()), Some(Duration::from_millis(250)));
    }

    #[test]
    fn retry_after_http_date() {
        let base = httpdate::fmt_http_date(now());
        let later = httpdate::fmt_http_date(now() + Duration::from_secs(7));
        assert_eq!(parse_retry_after(&later, now()), Some(Duration::from_secs(7)));
        // A date in the past means "now".
        assert_eq!(
            parse_retry_after(&base, now() + Duration::from_secs(5)),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_rejects_junk_and_clamps_huge_values() {
        for junk in ["", "soon", "-1", "1e3", "1.2.3", "NaN"] {
            assert_eq!(parse_retry_after(junk, now()), None, "{junk:?}");
        }
        assert_eq!(parse_retry_after("99999999999999999999", now()), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn full_jitter_stays_within_the_exponential_ceiling_and_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        assert_eq!(full_jitter_with(0, base, cap, 0.0), Duration::ZERO);
        assert_eq!(full_jitter_with(0, base, cap, 1.0), base);
        assert_eq!(full_jitter_with(3, base, cap, 1.0), Duration::from_millis(800));
        assert_eq!(full_jitter_with(10, base, cap, 1.0), cap);
        assert_eq!(full_jitter_with(u32::MAX, base, cap, 1.0), cap);
        for attempt in 0..40 {
            let ceiling = base.saturating_mul(2u32.saturating_pow(attempt.min(31))).min(cap);
            for _ in 0..200 {
                let d = full_jitter(attempt, base, cap);
                assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
            }
        }
    }

    #[test]
    fn full_jitter_spreads_out() {
        let samples: Vec<_> = (0..500)
            .map(|_| full_jitter(4, Duration::from_millis(100), Duration::from_secs(60)))
            .collect();
        let low = samples.iter().filter(|d| **d < Duration::from_millis(800)).count();
        // uniform(0, 1.6 s): about half fall below 0.8 s.
        assert!((150..350).contains(&low), "{low} of 500 below the midpoint");
    }

    #[test]
    fn retryable_statuses_depend_on_whether_the_request_is_repeatable() {
        for m in [Method::GET, Method::PATCH, Method::PUT, Method::DELETE, Method::POST] {
            let r = is_repeatable(&m);
            assert!(is_retryable_status(429, r));
            assert!(is_retryable_status(503, r));
            for status in [400, 401, 403, 404, 409, 501] {
                assert!(!is_retryable_status(status, r), "{status}");
            }
        }
        assert!(is_retryable_status(500, is_repeatable(&Method::GET)));
        assert!(is_retryable_status(504, is_repeatable(&Method::PATCH)));
        assert!(!is_retryable_status(502, is_repeatable(&Method::POST)));
    }
}
