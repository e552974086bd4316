//! Test support beyond the store harness in `tests/common`: a real SMTP
//! server ([`smtp`]) and outbox test data ([`outbox`]).

#![allow(dead_code)]

pub mod browser;
pub mod outbox;
pub mod pg_cluster;
pub mod process;
pub mod pty;
pub mod smtp;
pub mod tls;
