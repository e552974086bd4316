//! A bound on concurrent password hashing, so that a login flood cannot
//! exhaust memory or starve every other request.
//!
//! Each argon2id computation takes `password.argon2.m_cost` KiB (19 MiB
//! by default) for ~17 ms of one core. Handlers that hash (log in, reset,
//! change password) first take one of `site.max_concurrent_hashes` permits.
//! A request that finds none waits up to `site.hash_queue_timeout`, then
//! gets 429 with `Retry-After`. The number of requests waiting at once is
//! bounded too ([`MAX_WAITING`]): past it, 429 comes at once, so a flood
//! costs a parked task per connection and no more.
//!
//! One client address may hold at most `site.max_hashes_per_client` of
//! those places (running or waiting) at once; its next request gets 429
//! at once. Without this, a single flooding address fills the queue and
//! every other customer's login waits out the queue timeout and gets 429
//! too (`tests/site/floods.rs`). The per-address counts live only while a
//! request holds a place, so the table is bounded by the places.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Requests that may wait for a hashing slot at once; more are refused
/// straight away. At ~60-90 hashes a second on two cores, 1024 waiters is
/// far more than can be served within any sensible queue timeout.
pub const MAX_WAITING: usize = 1024;

/// No hashing slot came free in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many sign-ins at once; retry in {retry_after_secs}s")]
pub struct Busy {
    /// What `Retry-After` says.
    pub retry_after_secs: u64,
}

/// The hashing bound, shared by every handler.
#[derive(Debug, Clone)]
pub struct HashLimiter {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    wait: Duration,
    max_waiting: usize,
    per_client: usize,
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// A place in the hashing bound: hold it while the hashing call runs.
#[derive(Debug)]
pub struct HashPermit {
    _permit: OwnedSemaphorePermit,
    _client: Option<ClientPlace>,
}

/// One of a client address's places; given back on drop.
#[derive(Debug)]
struct ClientPlace {
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl Drop for ClientPlace {
    fn drop(&mut self) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = clients.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                clients.remove(&self.ip);
            }
        }
    }
}

/// Decrements the waiting count however the wait ends (permit, timeout,
/// or the client hanging up and the future being dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashLimiter {
    /// `slots` concurrent hashes; a request waits at most `wait` for one.
    #[must_use]
    pub fn new(slots: usize, wait: Duration) -> Self {
        Self::with_max_waiting(slots, wait, MAX_WAITING)
    }

    /// As [`HashLimiter::new`] with an explicit bound on waiters (tests).
    #[must_use]
    pub fn with_max_waiting(slots: usize, wait: Duration, max_waiting: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(slots.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            wait,
            max_waiting,
            per_client: 0,
            clients: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// At most `places` requests from one client address at once
    /// (running or waiting); 0 for no such limit.
    #[must_use]
    pub fn per_client(mut self, places: usize) -> Self {
        self.per_client = places;
        self
    }

    /// Takes one of `ip`'s places, if it has one left: `None` when it has
    /// none, `Some(None)` when places are not counted per client.
    #[expect(
        clippy::option_option,
        reason = "three answers: refused, not counted, a place held"
    )]
    fn client_place(&self, ip: IpAddr) -> Option<Option<ClientPlace>> {
        if self.per_client == 0 {
            return Some(None);
        }
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        let held = clients.entry(ip).or_insert(0);
        if *held >= self.per_client {
            return None;
        }
        *held += 1;
        Some(Some(ClientPlace {
            clients: Arc::clone(&self.clients),
            ip,
        }))
    }

    /// Takes a hashing slot for a request from `client`, waiting up to the
    /// queue timeout. Hold the permit for as long as the hashing call runs.
    ///
    /// # Errors
    /// [`Busy`] when `client` already holds all its places, no slot came
    /// free in time, or too many already wait.
    pub async fn acquire(&self, client: IpAddr) -> Result<HashPermit, Busy> {
        let busy = Busy {
            retry_after_secs: self.wait.as_secs().max(1),
        };
        let place = self.client_place(client).ok_or(busy)?;
        let permit = self.slot(busy).await?;
        Ok(HashPermit {
            _permit: permit,
            _client: place,
        })
    }

    async fn slot(&self, busy: Busy) -> Result<OwnedSemaphorePermit, Busy> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(busy);
        }
        let _waiting = Waiting(&self.waiting);
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // A closed semaphore (never closed here) or the timeout.
            Ok(Err(_)) | Err(_) => Err(busy),
        }
    }

    /// Requests waiting for a slot right now.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Slots free right now.
    #[must_use]
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Client addresses holding a place right now.
    #[must_use]
    pub fn clients(&self) -> usize {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const FLOOD: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[tokio::test]
    async fn one_address_cannot_take_every_slot() {
        let limiter = HashLimiter::new(4, Duration::from_secs(5)).per_client(2);
        let a = limiter.acquire(FLOOD).await.unwrap();
        let b = limiter.acquire(FLOOD).await.unwrap();
        let started = std::time::Instant::now();
        assert!(
            limiter.acquire(FLOOD).await.is_err(),
            "a third place is refused"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "at once, not after the wait"
        );
        let mine = limiter
            .acquire(ME)
            .await
            .expect("another address still gets a slot");
        assert_eq!(limiter.clients(), 2);
        drop((a, mine));
        let c = limiter
            .acquire(FLOOD)
            .await
            .expect("a place given back is free again");
        drop((b, c));
        assert_eq!(limiter.clients(), 0, "no entry outlives its requests");
        assert_eq!(limiter.available(), 4);
    }

    #[tokio::test]
    async fn excess_requests_wait_then_are_refused() {
        let limiter = HashLimiter::new(2, Duration::from_millis(50));
        let a = limiter.acquire(ME).await.unwrap();
        let _b = limiter.acquire(ME).await.unwrap();
        assert_eq!(limiter.available(), 0);
        let started = std::time::Instant::now();
        let refused = limiter.acquire(ME).await.unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(refused.retry_after_secs, 1);
        assert_eq!(limiter.waiting(), 0);
        // A slot freed while waiting is taken.
        let waiter = {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.acquire(ME).await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(a);
        assert!(waiter.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn too_many_waiters_are_refused_at_once() {
        let limiter = HashLimiter::with_max_waiting(1, Duration::from_secs(5), 1);
        let _held = limiter.acquire(ME).await.unwrap();
        let first = {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.acquire(ME).await.map(drop) })
        };
        while limiter.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        let started = std::time::Instant::now();
        assert!(limiter.acquire(ME).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(1));
        first.abort();
        let _ = first.await;
        assert_eq!(
            limiter.waiting(),
            0,
            "a dropped waiter is no longer counted"
        );
    }
}
