//! The terminal guard: owns raw mode, the alternate screen and bracketed
//! paste for the local terminal, and gives them back on every exit path.
//! `Drop` restores (logging, never panicking); the panic hook restores
//! first, then lets the previous hook print the report on a sane screen.
//! Signals (SIGTERM, SIGHUP) end the event loop, so the guard drops too.

use std::io::{self, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::crossterm::{cursor, execute};

/// Whether this process currently holds the terminal (so the panic hook
/// knows whether there is anything to restore).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Holds the local terminal in console mode while it lives.
#[derive(Debug)]
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    /// Enters raw mode, the alternate screen and bracketed paste.
    ///
    /// # Errors
    /// When the terminal refuses (not a tty); whatever was switched on is
    /// switched off again before returning.
    pub fn enter() -> io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = Self { _private: () };
        execute!(
            io::stdout(),
            EnterAlternateScreen,
            EnableBracketedPaste,
            cursor::Hide
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if let Err(err) = restore() {
            // The terminal may be gone (SSH dropped); nothing more to do.
            tracing::warn!(error = %err, "restoring the terminal");
        }
    }
}

/// Leaves console mode: bracketed paste off, main screen, cursor shown,
/// raw mode off. Safe to call twice; only the first call after `enter`
/// does anything.
///
/// # Errors
/// The first write or mode change that failed (the rest are still tried).
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let mut out = io::stdout();
    let written = execute!(
        out,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    )
    .and_then(|()| out.flush());
    let raw = disable_raw_mode();
    written.and(raw)
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Restore first, so the report lands on a normal screen.
            let _ = restore();
            previous(info);
        }));
    });
}
