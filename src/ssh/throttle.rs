//! Slows down repeated sign-in failures from one address.
//!
//! Each refused attempt (an unknown key, a password, keyboard-interactive)
//! counts against the client's IP address; past [`FREE_FAILURES`] in a
//! window every further attempt from that address waits, doubling up to
//! [`MAX_DELAY`]. A successful sign-in clears the address. This is on top
//! of russh's constant rejection time, and it costs an attacker time
//! without ever locking an operator out for good.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed in a window before attempts are slowed.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait before an attempt is answered.
pub const MAX_DELAY: Duration = Duration::from_secs(8);
/// Failures older than this are forgotten.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Addresses remembered at most (oldest forgotten first), so a flood of
/// addresses cannot grow memory without bound.
pub const MAX_ADDRESSES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    since: Instant,
}

/// Failure counts by client address.
#[derive(Debug, Default)]
pub struct AuthThrottle {
    records: Mutex<HashMap<IpAddr, Record>>,
}

impl AuthThrottle {
    /// An empty throttle.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How long to wait before answering an attempt from `ip` now.
    #[must_use]
    pub fn delay(&self, ip: IpAddr, now: Instant) -> Duration {
        let Ok(records) = self.records.lock() else {
            return MAX_DELAY;
        };
        match records.get(&ip) {
            Some(r) if now.duration_since(r.since) < WINDOW => delay_for(r.failures),
            _ => Duration::ZERO,
        }
    }

    /// Counts a refused attempt from `ip`; returns the failures in the window.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> u32 {
        let Ok(mut records) = self.records.lock() else {
            return u32::MAX;
        };
        if records.len() >= MAX_ADDRESSES && !records.contains_key(&ip) {
            records.retain(|_, r| now.duration_since(r.since) < WINDOW);
            if records.len() >= MAX_ADDRESSES
                && let Some(oldest) = records.iter().min_by_key(|(_, r)| r.since).map(|(k, _)| *k)
            {
                records.remove(&oldest);
            }
        }
        let record = records.entry(ip).or_insert(Record {
            failures: 0,
            since: now,
        });
        if now.duration_since(record.since) >= WINDOW {
            *record = Record {
                failures: 0,
                since: now,
            };
        }
        record.failures = record.failures.saturating_add(1);
        record.failures
    }

    /// Forgets `ip`'s failures after a successful sign-in.
    pub fn succeeded(&self, ip: IpAddr) {
        if let Ok(mut records) = self.records.lock() {
            records.remove(&ip);
        }
    }
}

/// The wait after `failures` refusals: none for the first few, then
/// 250 ms doubling to [`MAX_DELAY`].
#[must_use]
pub fn delay_for(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let steps = (failures - FREE_FAILURES).min(10);
    Duration::from_millis(250)
        .saturating_mul(1 << steps)
        .min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_the_free_failures_and_grow_to_a_cap() {
        assert_eq!(delay_for(0), Duration::ZERO);
        assert_eq!(delay_for(FREE_FAILURES - 1), Duration::ZERO);
        assert_eq!(delay_for(FREE_FAILURES), Duration::from_millis(250));
        assert_eq!(delay_for(FREE_FAILURES + 1), Duration::from_millis(500));
        assert_eq!(delay_for(FREE_FAILURES + 30), MAX_DELAY);
    }

    #[test]
    fn one_address_is_slowed_another_is_not_and_success_clears() {
        let t = AuthThrottle::new();
        let now = Instant::now();
        let (bad, good): (IpAddr, IpAddr) =
            ("192.0.2.7".parse().unwrap(), "192.0.2.8".parse().unwrap());
        for _ in 0..FREE_FAILURES + 2 {
            t.failed(bad, now);
        }
        assert!(t.delay(bad, now) >= Duration::from_millis(500));
        assert_eq!(t.delay(good, now), Duration::ZERO);
        // The window passes: forgotten.
        assert_eq!(t.delay(bad, now + WINDOW), Duration::ZERO);
        t.succeeded(bad);
        assert_eq!(t.delay(bad, now), Duration::ZERO);
    }
}
