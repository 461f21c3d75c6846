//! How times, durations and operation types are written for operators.

/// `2026-11-26 06:43 UTC`: one unambiguous form everywhere.
pub fn time(ms: i64) -> String {
    let iso = String::from(js_sys::Date::new(&(ms as f64).into()).to_iso_string());
    format!("{} {} UTC", &iso[..10], &iso[11..16])
}

pub fn time_opt(ms: Option<i64>) -> String {
    ms.map(time).unwrap_or_else(|| "\u{2014}".into())
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// `4.2 s`, `3 min 5 s`, `2 h 10 min`.
pub fn duration(ms: i64) -> String {
    let s = ms / 1000;
    if ms < 60_000 {
        // Tenths of a second, rounded, in integers: no float formatting code in the bundle.
        let tenths = (ms + 50) / 100;
        format!("{}.{} s", tenths / 10, tenths % 10)
    } else if s < 3600 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    }
}

/// Time from now until `ms`, as `in 3 min 5 s` or `expired`.
pub fn until(ms: i64) -> String {
    let left = ms - now_ms();
    if left <= 0 {
        "expired".into()
    } else {
        format!("in {}", duration(left))
    }
}
