//! Time, injectable: the system clock in production, a settable one in
//! tests (a link works at 5h59m and not at 6h00m).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Where "now" comes from.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    fixed: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    /// The system clock.
    #[must_use]
    pub fn system() -> Self {
        Self { fixed: None }
    }

    /// A clock that stands still at `at` until advanced.
    #[must_use]
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self {
            fixed: Some(Arc::new(Mutex::new(truncate(at)))),
        }
    }

    /// Now, truncated to microseconds so it survives every backend's
    /// timestamp column unchanged.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        match &self.fixed {
            Some(at) => *at.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
            None => truncate(Utc::now()),
        }
    }

    /// Moves a fixed clock forward; does nothing to the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(at) = &self.fixed {
            let mut at = at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *at += TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        }
    }
}

fn truncate(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at)
}

/// Converts a settings duration into a chrono delta, saturating.
#[must_use]
pub fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}
