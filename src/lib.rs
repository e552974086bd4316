//! keydesk: a keyboard-only console for a course platform's Contacts
//! dashboard, its customer site, and the rules between them.
//!
//! Front ends ([`tui`] and [`ssh`] for the console, [`site`] for
//! customers, [`cli`] for the shell) call [`desk`]; only `desk` decides.
//! [`store`] and [`mail`] do I/O and hold no rules. The map of modules and
//! what each may import is in `ARCHITECTURE.md`.

/// What `keydesk --version` prints: the version, the git commit ("unknown"
/// when built outside a git checkout) and the build date
/// (`SOURCE_DATE_EPOCH` when set), all from `build.rs`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("KEYDESK_GIT_COMMIT"),
    ", built ",
    env!("KEYDESK_BUILD_DATE"),
    ")"
);

pub mod cli;
pub mod clock;
pub mod desk;
pub mod diag;
pub mod doctor;
pub mod files;
pub mod import;
pub mod logging;
pub mod mail;
pub mod seed;
pub mod settings;
pub mod site;
pub mod ssh;
pub mod store;
pub mod tui;
