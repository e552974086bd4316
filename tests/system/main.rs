//! Whole-system fault tests: several `keydesk` processes (consoles in
//! ptys, `serve`, `worker`) on one store, through a PostgreSQL restart and
//! on one SQLite file; the diagnostics endpoint of `serve`, `worker` and
//! `ssh-serve` (`/readyz` across a PostgreSQL restart, `/metrics` checked by
//! promtool); a SQLite backup taken under load and restored; the
//! architecture itself (no import cycles in `src`, front ends off the
//! store, every audit name documented).
//!
//! One module per capability; the support tree is shared by every test
//! binary (tests/support).

#[path = "../support/mod.rs"]
mod support;

mod architecture;
mod backup;
mod diag;
mod pg_restart;
mod sqlite_processes;
