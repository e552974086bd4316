//! The console: screens as insta snapshots, output-size budgets, the real
//! binary in a pseudo-terminal, faults (signals, a panic, resizes),
//! hostile contact data, and a first delivery held by the relay.
//!
//! One module per capability; the support tree is shared by every test
//! binary (tests/support).

#[path = "../support/mod.rs"]
mod support;

mod audit_screen;
mod audit_snapshots;
mod delivery_wait;
mod faults;
mod hostile_console;
mod oncall;
mod operators_screen;
mod operators_snapshots;
mod output_bytes;
mod profile_snapshots;
mod profile_walkthrough;
mod pty;
mod snapshots;
