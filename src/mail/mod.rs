//! Mail: messages rendered from templates (`compose`), the transports that
//! hand them to the world (SMTP, a folder of `.eml` files, the local MTA),
//! the durable outbox queue they read from, and the worker that delivers it.
//!
//! `desk` writes one outbox row per email inside its own transaction;
//! [`worker::Worker`] claims due rows, sends them through
//! [`transport::Transport`], and records the outcome. Nothing here decides
//! *whether* to send: that is `desk`'s job.

pub mod admin;
pub mod backoff;
pub mod compose;
pub mod delivery_state;
pub mod queue;
mod smtp;
pub mod transport;
pub mod worker;
