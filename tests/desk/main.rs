//! The desk, where every rule is decided, on every backend: reset links,
//! Forgot Password, passwords, roles, operator keys, concurrency, outages,
//! secrets, random operation sequences, a load of reset sends, and the
//! customer-access commands of the real binary.
//!
//! One module per capability; the support tree is shared by every test
//! binary (tests/support).

#[path = "../support/mod.rs"]
mod support;

mod audit_view;
mod bulk;
mod cli;
mod concurrency;
mod delivery;
mod forgot;
mod load_resets;
mod operator_keys;
mod outage;
mod passwords;
mod profile;
mod profile_cli;
mod properties;
mod reset_links;
mod roles;
mod runbook;
mod secrets;
