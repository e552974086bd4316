//! The gate in front of key exchange: which new connections `ssh-serve`
//! lets reach russh at all.
//!
//! Key exchange costs the server real work (an ML-KEM decapsulation and an
//! X25519 multiplication, a signature) before anyone is authenticated, so
//! a flood of new connections is a denial of service (DHEat,
//! CVE-2002-20001). Three limits, checked in the accept loop before a
//! single byte is written, each in settings:
//! - `ssh.per_address_rate`: new connections a second from one address (a
//!   token bucket holding that many, refilled at that rate);
//! - `ssh.max_startups_per_address`: connections from one address that
//!   have not authenticated yet, so one address cannot fill the next cap;
//! - `ssh.max_startups`: unauthenticated connections in all, as OpenSSH's
//!   `MaxStartups`.
//!
//! A connection that passes holds a [`Startup`] until it authenticates (or
//! ends); `ssh.login_grace` then bounds how long it may hold it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::watch;

/// Addresses whose rate is remembered at most; past this, addresses whose
/// bucket has refilled are forgotten first, so a flood of addresses cannot
/// grow memory without bound.
pub const MAX_ADDRESSES: usize = 10_000;

/// The limits, from `[ssh]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// New connections a second from one address.
    pub per_address_rate: u32,
    /// Unauthenticated connections from one address.
    pub max_startups_per_address: usize,
    /// Unauthenticated connections in all.
    pub max_startups: usize,
}

/// Why a connection was closed before key exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Over `ssh.per_address_rate`.
    Rate,
    /// Over `ssh.max_startups_per_address`.
    AddressStartups,
    /// Over `ssh.max_startups`.
    Startups,
}

impl Refusal {
    /// The setting that refused, for the log.
    #[must_use]
    pub fn setting(self) -> &'static str {
        match self {
            Self::Rate => "ssh.per_address_rate",
            Self::AddressStartups => "ssh.max_startups_per_address",
            Self::Startups => "ssh.max_startups",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Default)]
struct State {
    buckets: HashMap<IpAddr, Bucket>,
    startups: HashMap<IpAddr, usize>,
    startups_total: usize,
}

/// The gate; one per server.
#[derive(Debug)]
pub struct Gate {
    limits: Limits,
    state: Mutex<State>,
}

impl Gate {
    /// A gate with these limits.
    #[must_use]
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            state: Mutex::new(State::default()),
        })
    }

    /// Decides on a new connection from `ip` at `now`: a [`Startup`] to
    /// hold until it authenticates, or why it is refused.
    ///
    /// # Errors
    /// The [`Refusal`] when a limit is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, now: Instant) -> Result<Startup, Refusal> {
        let Ok(mut state) = self.state.lock() else {
            return Err(Refusal::Startups);
        };
        if state.startups_total >= self.limits.max_startups {
            return Err(Refusal::Startups);
        }
        if state.startups.get(&ip).copied().unwrap_or(0) >= self.limits.max_startups_per_address {
            return Err(Refusal::AddressStartups);
        }
        let rate = f64::from(self.limits.per_address_rate.max(1));
        if state.buckets.len() >= MAX_ADDRESSES && !state.buckets.contains_key(&ip) {
            state
                .buckets
                .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < rate);
        }
        let bucket = state.buckets.entry(ip).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        let refilled =
            bucket.tokens + now.saturating_duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = refilled.min(rate);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return Err(Refusal::Rate);
        }
        bucket.tokens -= 1.0;
        *state.startups.entry(ip).or_insert(0) += 1;
        state.startups_total += 1;
        drop(state);
        let (authenticated, _) = watch::channel(false);
        Ok(Startup {
            gate: Arc::clone(self),
            ip,
            held: true,
            authenticated,
        })
    }

    /// Unauthenticated connections now (all, and from `ip`).
    #[must_use]
    pub fn startups(&self, ip: IpAddr) -> (usize, usize) {
        self.state.lock().map_or((0, 0), |s| {
            (s.startups_total, s.startups.get(&ip).copied().unwrap_or(0))
        })
    }

    fn release(&self, ip: IpAddr) {
        if let Ok(mut state) = self.state.lock() {
            state.startups_total = state.startups_total.saturating_sub(1);
            if let Some(n) = state.startups.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    state.startups.remove(&ip);
                }
            }
        }
    }
}

/// One admitted connection's place among the unauthenticated ones; given
/// back when it authenticates or ends.
#[derive(Debug)]
pub struct Startup {
    gate: Arc<Gate>,
    ip: IpAddr,
    held: bool,
    authenticated: watch::Sender<bool>,
}

impl Startup {
    /// The connection authenticated: its place is free for another, and
    /// `ssh.login_grace` no longer applies.
    pub fn authenticated(&mut self) {
        if self.held {
            self.held = false;
            self.gate.release(self.ip);
        }
        self.authenticated.send_replace(true);
    }

    /// Becomes `true` when the connection authenticates.
    #[must_use]
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.authenticated.subscribe()
    }
}

impl Drop for Startup {
    fn drop(&mut self) {
        if self.held {
            self.gate.release(self.ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn gate(rate: u32, per_address: usize, total: usize) -> Arc<Gate> {
        Gate::new(Limits {
            per_address_rate: rate,
            max_startups_per_address: per_address,
            max_startups: total,
        })
    }

    #[test]
    fn one_address_gets_its_rate_and_another_is_untouched() {
        let g = gate(5, 1000, 1000);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let t0 = Instant::now();
        let mut held = Vec::new();
        let mut admitted = 0;
        // 100 attempts within one second.
        for i in 0..100u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 10);
            if let Ok(s) = g.admit(a, now) {
                admitted += 1;
                held.push(s);
            }
        }
        // The burst of 5, plus 5 a second refilled over the second.
        assert!((9..=10).contains(&admitted), "{admitted}");
        let end = t0 + Duration::from_millis(991);
        assert_eq!(g.admit(a, end).unwrap_err(), Refusal::Rate);
        assert!(g.admit(b, end).is_ok());
        // Later, the address may connect again.
        assert!(g.admit(a, t0 + Duration::from_secs(3)).is_ok());
    }

    #[test]
    fn unauthenticated_caps_hold_until_sign_in_or_close() {
        let g = gate(100, 2, 3);
        let now = Instant::now();
        let (a, b, c): (IpAddr, IpAddr, IpAddr) = (
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            "192.0.2.3".parse().unwrap(),
        );
        let mut a1 = g.admit(a, now).unwrap();
        let a2 = g.admit(a, now).unwrap();
        assert_eq!(g.admit(a, now).unwrap_err(), Refusal::AddressStartups);
        let _b1 = g.admit(b, now).unwrap();
        assert_eq!(g.admit(c, now).unwrap_err(), Refusal::Startups);
        // Signing in frees the place (once), closing frees it too.
        let seen = a1.watch();
        a1.authenticated();
        a1.authenticated();
        assert!(*seen.borrow());
        assert_eq!(g.startups(a), (2, 1));
        let _c1 = g.admit(c, now).unwrap();
        drop(a1);
        drop(a2);
        assert_eq!(g.startups(a), (2, 0));
    }
}
