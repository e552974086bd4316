//! The security requirements (docs/SECURITY.md, OWASP ASVS) checked
//! against the real site, desk and store, hostile input, and the fuzz
//! targets as proptest properties.
//!
//! One module per capability; the support tree is shared by every test
//! binary (tests/support).

#[path = "../support/mod.rs"]
mod support;

mod access;
mod console_audit;
mod data;
mod doc;
mod encoding;
mod files;
mod fuzz;
mod headers;
mod hostile_input;
mod logging;
mod met;
mod passwords;
mod proxy;
mod sessions;
mod throttle_shared;
