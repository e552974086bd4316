//! The real binary's foundations: `config`, `migrate`, `import`, bad
//! settings, and every settings key by name and origin; the operator's
//! command line (quiet commands, one-line errors, exit 78, JSON logs,
//! `--version`, completions, `migrate --status`, `database.auto_migrate`,
//! a newer schema refused, `--json` outputs, `contacts`) and `doctor`.
//!
//! One module per capability; the support tree is shared by every test
//! binary (tests/support).

#[path = "../support/mod.rs"]
mod support;

mod doctor;
mod foundation;
mod ops;
mod settings_keys;
