//! The retry delay after a temporary failure: exponential from
//! `outbox.backoff_base`, capped at `outbox.backoff_max`, with jitter so a
//! relay that comes back is not hit by every queued message at once.

use std::time::Duration;

use rand::RngExt;

use crate::settings::OutboxSettings;

/// The ceiling for attempt `attempt` (1 for the first failure):
/// `base * 2^(attempt-1)`, at most `max`.
#[must_use]
pub fn ceiling(settings: &OutboxSettings, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(32);
    settings
        .backoff_base
        .checked_mul(1u32 << doublings.min(31))
        .unwrap_or(settings.backoff_max)
        .min(settings.backoff_max)
}

/// The delay before the next try after failed attempt `attempt`: drawn
/// uniformly from `[ceiling/2, ceiling]` ("equal jitter"). Each attempt's
/// shortest delay is the previous one's longest, so delays never shrink
/// until the cap, and the cap is never exceeded.
#[must_use]
pub fn delay(settings: &OutboxSettings, attempt: u32) -> Duration {
    delay_with(settings, attempt, &mut rand::rng())
}

/// [`delay`] with a given random source (tests).
pub fn delay_with(settings: &OutboxSettings, attempt: u32, rng: &mut impl rand::Rng) -> Duration {
    let top = ceiling(settings, attempt);
    let half = top / 2;
    let span = u64::try_from(top.saturating_sub(half).as_micros()).unwrap_or(u64::MAX);
    let extra = if span == 0 {
        0
    } else {
        rng.random_range(0..=span)
    };
    half + Duration::from_micros(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(base: u64, max: u64) -> OutboxSettings {
        OutboxSettings {
            poll_interval: Duration::from_secs(5),
            backoff_base: Duration::from_secs(base),
            backoff_max: Duration::from_secs(max),
            max_attempts: 12,
            claim_timeout: Duration::from_secs(120),
        }
    }

    #[test]
    fn grows_with_jitter_and_caps_at_the_maximum() {
        let s = settings(30, 1800);
        let mut rng = rand::rng();
        let mut previous_top = Duration::ZERO;
        for attempt in 1..=20 {
            let samples: Vec<Duration> = (0..200)
                .map(|_| delay_with(&s, attempt, &mut rng))
                .collect();
            let lo = *samples.iter().min().unwrap();
            let hi = *samples.iter().max().unwrap();
            let top = ceiling(&s, attempt);
            assert!(
                lo >= top / 2 && hi <= top,
                "attempt {attempt}: {lo:?}..{hi:?}"
            );
            assert!(hi <= s.backoff_max, "never above backoff_max");
            assert!(lo < hi, "attempt {attempt}: jitter spreads the delays");
            assert!(
                top >= previous_top,
                "attempt {attempt}: the ceiling never shrinks"
            );
            if top < s.backoff_max {
                assert_eq!(top, previous_top.max(s.backoff_base / 2) * 2, "doubles");
            }
            previous_top = top;
        }
        assert_eq!(ceiling(&s, 1), Duration::from_secs(30));
        assert_eq!(ceiling(&s, 2), Duration::from_secs(60));
        assert_eq!(ceiling(&s, 6), Duration::from_secs(960));
        assert_eq!(ceiling(&s, 7), Duration::from_secs(1800), "capped");
        assert_eq!(ceiling(&s, 40), Duration::from_secs(1800), "no overflow");
        assert_eq!(ceiling(&s, u32::MAX), Duration::from_secs(1800));
    }
}
