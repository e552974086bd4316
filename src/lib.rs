//! keydesk: a keyboard-only console for a course platform's Contacts
//! dashboard, its customer site, and the rules between them.
//!
//! Front ends (`cli`, later `tui` and `site`) call [`desk`]; only `desk`
//! decides. [`store`] and [`mail`] do I/O and hold no rules.

#![forbid(unsafe_code)]

pub mod cli;
pub mod clock;
pub mod desk;
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
