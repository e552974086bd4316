//! Whole-system fault tests: several `keydesk` processes (consoles in
//! ptys, `serve`, `worker`) on one store, through a PostgreSQL restart and
//! on one SQLite file.
//!
//! One module per capability; the support tree is shared by every test
//! binary (tests/support).

#[path = "../support/mod.rs"]
mod support;

mod pg_restart;
mod sqlite_processes;
