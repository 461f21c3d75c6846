//! How times, durations and operation types are written for operators.

use yew::prelude::*;

/// `2026-11-26 06:43:12 UTC`: one unambiguous form, to the second.
pub fn time(ms: i64) -> String {
    let iso = String::from(js_sys::Date::new(&(ms as f64).into()).to_iso_string());
    format!("{} {} UTC", &iso[..10], &iso[11..19])
}

pub fn time_opt(ms: Option<i64>) -> String {
    ms.map(time).unwrap_or_else(|| "\u{2014}".into())
}

/// `2026-11-26 07:43:12 (UTC+01:00)`: the exact time in the browser's time zone.
pub fn local(ms: i64) -> String {
    let d = js_sys::Date::new(&(ms as f64).into());
    // getTimezoneOffset is minutes *behind* UTC: Berlin in winter answers -60.
    let offset = -(d.get_timezone_offset() as i64);
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.abs();
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02} (UTC{sign}{:02}:{:02})",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds(),
        offset / 60,
        offset % 60
    )
}

/// `just now`, `45 s ago`, `3 min ago`, `2 h ago`, `5 days ago`; `in 3 min` for a future time.
pub fn relative(delta_ms: i64) -> String {
    let ahead = delta_ms < 0;
    let s = delta_ms.abs() / 1000;
    let span = if s < 5 {
        return "just now".into();
    } else if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else if s < 86_400 {
        format!("{} h", s / 3600)
    } else {
        let days = s / 86_400;
        format!("{days} day{}", if days == 1 { "" } else { "s" })
    };
    if ahead {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// A time as operators read it (issue 19 item 2): relative ("3 min ago"), the exact time with
/// seconds in the browser's time zone on hover, the instant in `datetime`.
pub fn when(ms: i64) -> Html {
    let iso = String::from(js_sys::Date::new(&(ms as f64).into()).to_iso_string());
    html! { <time datetime={iso} title={local(ms)}>{ relative(now_ms() - ms) }</time> }
}

/// [`when`], or a dash when there is no time.
pub fn when_opt(ms: Option<i64>) -> Html {
    match ms {
        Some(ms) => when(ms),
        None => html! { { "\u{2014}" } },
    }
}

/// When a ULID (the ids of runs and backup sets, any case) was made: its first ten characters
/// are the milliseconds in Crockford base32. `None` for anything else.
pub fn ulid_ms(id: &str) -> Option<i64> {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    if id.len() != 26 {
        return None;
    }
    let mut ms: i64 = 0;
    for c in id.bytes().take(10) {
        let digit = ALPHABET.iter().position(|a| *a == c.to_ascii_lowercase())?;
        ms = ms * 32 + digit as i64;
    }
    Some(ms)
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

#[cfg(test)]
mod tests {
    use super::{relative, ulid_ms};

    #[test]
    fn a_ulid_says_when_it_was_made() {
        // 2016-07-30T22:36:16.385Z, the ULID spec's example.
        assert_eq!(ulid_ms("01ARYZ6S41TSV4RRFFQ69G5FAV"), Some(1_469_918_176_385));
        assert_eq!(ulid_ms("01aryz6s41tsv4rrffq69g5fav"), Some(1_469_918_176_385));
        assert_eq!(ulid_ms("set-0001"), None);
        assert_eq!(ulid_ms("01ARYZ6S4!TSV4RRFFQ69G5FAV"), None);
    }

    #[test]
    fn relative_times_read_as_words() {
        assert_eq!(relative(1_000), "just now");
        assert_eq!(relative(45_000), "45 s ago");
        assert_eq!(relative(3 * 60_000 + 5_000), "3 min ago");
        assert_eq!(relative(2 * 3_600_000), "2 h ago");
        assert_eq!(relative(86_400_000), "1 day ago");
        assert_eq!(relative(5 * 86_400_000), "5 days ago");
        assert_eq!(relative(-3 * 60_000), "in 3 min");
    }
}
