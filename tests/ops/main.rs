//! Operations, through the real binary: a quiet command line with one-line
//! errors and exit 78, `--version`, completions, `migrate --status` and
//! `database.auto_migrate` with a migration left pending, the refusal of a
//! newer schema, `--json` outputs and `contacts` ([`cli`]); `/healthz`,
//! `/readyz` across a PostgreSQL restart and `/metrics` checked by
//! promtool ([`diag`]); `keydesk doctor` ([`doctor`]); and a SQLite backup
//! taken under load that restores into a store a customer signs in to
//! ([`backup`]).

#[path = "../common/mod.rs"]
mod common;
#[path = "../site_support/mod.rs"]
mod site_support;
#[path = "../ssh_support/mod.rs"]
mod ssh_support;
#[path = "../support/mod.rs"]
mod support;

mod backup;
mod cli;
mod diag;
mod doctor;
mod run;
