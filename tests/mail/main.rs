//! Mail from the outbox to a real SMTP server (aiosmtpd): the queue, the
//! worker, SMTP and STARTTLS, relay faults, several workers, the shared
//! rate limit, and desk to inbox end to end.
//!
//! One module per capability; the support tree is shared by every test
//! binary (tests/support).

#[path = "../support/mod.rs"]
mod support;

mod bulk_10k;
mod e2e;
mod faults;
mod outbox;
mod rate;
mod smtp;
mod workers;
