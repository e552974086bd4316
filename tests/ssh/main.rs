//! `keydesk ssh-serve` with the real OpenSSH client.
//!
//! One module per capability; the support tree is shared by every test
//! binary (tests/support).

#[path = "../support/mod.rs"]
mod support;

mod front_door;
mod profile;
mod serve;
