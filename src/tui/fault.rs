//! Test hooks that inject faults into the console. They exist only in
//! debug builds (`cfg!(debug_assertions)`): a release binary ignores them.
//!
//! `KEYDESK_FAULT=panic-in-view` makes the view panic on the first frame
//! drawn while an action the agent confirmed is running (say, Reset
//! Password after `Send email`), so a test in a pty can check that the
//! panic hook gives the terminal back and that the action's transaction
//! is either whole or absent (`tests/tui/faults.rs`, in `cargo test --test tui`).

use std::sync::OnceLock;

/// The environment variable that names the fault to inject.
pub const ENV: &str = "KEYDESK_FAULT";

/// The fault that panics inside `view::draw`.
pub const PANIC_IN_VIEW: &str = "panic-in-view";

/// Whether the fault `name` is armed. Always false in release builds; in
/// debug builds the variable is read once per process.
#[must_use]
pub fn armed(name: &str) -> bool {
    if !cfg!(debug_assertions) {
        return false;
    }
    static FAULT: OnceLock<Option<String>> = OnceLock::new();
    FAULT.get_or_init(|| std::env::var(ENV).ok()).as_deref() == Some(name)
}
