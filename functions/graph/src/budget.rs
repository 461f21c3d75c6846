//! Client-side request budgets: we slow ourselves down before Graph throttles us.
//!
//! A sliding-window log per key (tenant, app and Intune service; see `services.rs`). A log, not a token
//! bucket, because Intune's limits are stated as "N per 20 s" windows and a log never lets N+1 through
//! in any 20 s span.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most `limit` takes in any `window`.
#[derive(Debug)]
pub struct SlidingWindow {
    limit: u32,
    window: Duration,
    taken: VecDeque<Instant>,
}

impl SlidingWindow {
    pub fn new(limit: u32, window: Duration) -> Self {
        SlidingWindow {
            limit: limit.max(1),
            window,
            taken: VecDeque::new(),
        }
    }

    /// Takes `n` slots at `now`, or says how long until they are free. `n` above the limit is treated
    /// as the limit (a 20-write batch against a 10-write budget waits for an empty window, then goes).
    pub fn try_take(&mut self, n: u32, now: Instant) -> Result<(), Duration> {
        let n = n.clamp(1, self.limit) as usize;
        while let Some(first) = self.taken.front() {
            if now.saturating_duration_since(*first) >= self.window {
                self.taken.pop_front();
            } else {
                break;
            }
        }
        let limit = self.limit as usize;
        if self.taken.len() + n <= limit {
            self.taken.extend(std::iter::repeat_n(now, n));
            return Ok(());
        }
        // The slot that must expire for `n` more to fit.
        let must_expire = self.taken[self.taken.len() + n - limit - 1];
        Err((must_expire + self.window).saturating_duration_since(now))
    }

    pub fn in_window(&self, now: Instant) -> usize {
        self.taken
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < self.window)
            .count()
    }
}

/// One [`SlidingWindow`] per key; each key's limit is given when it is first used (a key is one
/// app's allowance at one Intune service, whose limits differ by service).
#[derive(Debug)]
pub(crate) struct Budget {
    window: Duration,
    windows: Mutex<HashMap<String, SlidingWindow>>,
}

impl Budget {
    pub fn new(window: Duration) -> Self {
        Budget {
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until `n` slots are free under `key` (at most `limit` per window), takes them, and
    /// returns how long it waited.
    pub async fn acquire(&self, key: &str, n: u32, limit: u32) -> Duration {
        let started = Instant::now();
        loop {
            let wait = {
                let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
                let window = windows
                    .entry(key.to_owned())
                    .or_insert_with(|| SlidingWindow::new(limit, self.window));
                match window.try_take(n, Instant::now()) {
                    Ok(()) => return started.elapsed(),
                    Err(wait) => wait,
                }
            };
            tracing::debug!(
                budget_key = key,
                wait_ms = wait.as_millis() as u64,
                "request budget exhausted; waiting"
            );
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }
}

/// The budget key of one app's allowance at one Intune service (`tenant|client id|service`).
pub(crate) fn service_key(app_key: &str, service: &str) -> String {
    format!("{app_key}|{service}")
}

/// A budget several processes share (step Lambdas writing to one tenant side by side), kept
/// outside them. `take` takes `units` from `key`'s allowance of `limit` for the fixed slot of
/// length `slot` containing now, or says how long until the next slot.
pub trait SharedBudget: Send + Sync {
    fn take<'a>(
        &'a self,
        key: &'a str,
        units: u32,
        limit: u32,
        slot: std::time::Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), std::time::Duration>> + Send + 'a>>;
}

/// A sliding window of `window` meets at most `SHARED_SLOTS + 1` fixed slots of
/// `window / SHARED_SLOTS`, and one more when requests arrive up to a slot late; giving each slot
/// `limit / (SHARED_SLOTS + 2)` keeps any window of arrivals at or under `limit`, at 80 % of its
/// throughput.
pub const SHARED_SLOTS: u32 = 8;

/// Takes `units` from a shared per-window `limit`, waiting for later slots as needed.
pub(crate) async fn take_shared(
    shared: &dyn SharedBudget,
    key: &str,
    units: u32,
    limit: u32,
    window: std::time::Duration,
) {
    let slot = window / SHARED_SLOTS;
    let per_slot = (limit / (SHARED_SLOTS + 2)).max(units);
    while let Err(wait) = shared.take(key, units, per_slot, slot).await {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_up_to_the_limit_then_waits_for_the_oldest_to_expire() {
        let t0 = Instant::now();
        let w = Duration::from_secs(20);
        let mut win = SlidingWindow::new(3, w);
        assert_eq!(win.try_take(1, t0), Ok(()));
        assert_eq!(win.try_take(1, t0 + Duration::from_secs(5)), Ok(()));
        assert_eq!(win.try_take(1, t0 + Duration::from_secs(10)), Ok(()));
        assert_eq!(win.in_window(t0 + Duration::from_secs(10)), 3);
        // Full: the first slot frees at t0+20.
        assert_eq!(
            win.try_take(1, t0 + Duration::from_secs(12)),
            Err(Duration::from_secs(8))
        );
        assert_eq!(win.try_take(1, t0 + Duration::from_secs(20)), Ok(()));
        // Two more need the slots taken at t0+5 and t0+10 to expire: wait until t0+30.
        assert_eq!(
            win.try_take(2, t0 + Duration::from_secs(21)),
            Err(Duration::from_secs(9))
        );
        assert_eq!(win.try_take(2, t0 + Duration::from_secs(30)), Ok(()));
        assert_eq!(win.in_window(t0 + Duration::from_secs(30)), 3);
    }

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        let t0 = Instant::now();
        let w = Duration::from_millis(200);
        let mut win = SlidingWindow::new(5, w);
        let mut granted = Vec::new();
        let mut now = t0;
        for _ in 0..100 {
            match win.try_take(1, now) {
                Ok(()) => granted.push(now),
                Err(wait) => now += wait,
            }
            now += Duration::from_millis(7);
        }
        for (i, t) in granted.iter().enumerate() {
            let in_span = granted[i..].iter().take_while(|u| u.duration_since(*t) < w).count();
            assert!(in_span <= 5, "{in_span} takes within one window");
        }
        assert!(granted.len() > 5);
    }

    #[test]
    fn oversized_takes_are_clamped_to_the_limit() {
        let t0 = Instant::now();
        let mut win = SlidingWindow::new(10, Duration::from_secs(20));
        assert_eq!(win.try_take(1, t0), Ok(()));
        assert_eq!(win.try_take(20, t0), Err(Duration::from_secs(20)));
        assert_eq!(win.try_take(20, t0 + Duration::from_secs(20)), Ok(()));
        assert_eq!(win.in_window(t0 + Duration::from_secs(20)), 10);
    }

    #[tokio::test]
    async fn budget_acquire_waits_when_the_window_is_full() {
        let budget = Budget::new(Duration::from_millis(150));
        assert!(budget.acquire("t", 1, 2).await < Duration::from_millis(50));
        assert!(budget.acquire("t", 1, 2).await < Duration::from_millis(50));
        // Another key has its own window.
        assert!(budget.acquire("other", 2, 2).await < Duration::from_millis(50));
        let waited = budget.acquire("t", 1, 2).await;
        assert!(waited >= Duration::from_millis(100), "waited only {waited:?}");
    }
}
