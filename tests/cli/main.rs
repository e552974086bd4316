//! The real binary's foundations: `config`, `migrate`, `import`, bad
//! settings, and every settings key by name and origin.
//!
//! One module per capability; the support tree is shared by every test
//! binary (tests/support).

#[path = "../support/mod.rs"]
mod support;

mod foundation;
mod settings_keys;
