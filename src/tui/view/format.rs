//! Dates, durations and counts as the console writes them. UTC, because
//! agents on different jump boxes must read the same times.

use chrono::{DateTime, Utc};

/// `2025-03-01`.
#[must_use]
pub fn date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// `2025-03-01 14:05 UTC`.
#[must_use]
pub fn datetime(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A span of seconds in the largest two units: `5 h 59 min`, `2 min`, `40 s`.
#[must_use]
pub fn span(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if d > 0 {
        if h > 0 {
            format!("{d} d {h} h")
        } else {
            format!("{d} d")
        }
    } else if h > 0 {
        if m > 0 {
            format!("{h} h {m} min")
        } else {
            format!("{h} h")
        }
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{s} s")
    }
}

/// `3 min ago`, `just now`.
#[must_use]
pub fn ago(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    if secs < 60 {
        "just now".into()
    } else {
        format!("{} ago", span(secs))
    }
}

/// `in 5 h 59 min`, or `now` once due.
#[must_use]
pub fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    if secs <= 0 {
        "now".into()
    } else {
        format!("in {}", span(secs))
    }
}

/// `1,234,567`.
#[must_use]
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_spans() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(span(21_540), "5 h 59 min");
        assert_eq!(span(7200), "2 h");
        assert_eq!(span(125), "2 min");
        assert_eq!(span(40), "40 s");
        assert_eq!(span(-5), "0 s");
        assert_eq!(span(90_000), "1 d 1 h");
    }
}
