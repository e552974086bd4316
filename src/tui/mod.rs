//! The console: the Contacts dashboard in the terminal.
//!
//! Elm-shaped: [`app::App`] is the state, [`update::update`] the only
//! place it changes (pure: keys in, state and commands out), `view` a pure
//! function of the state, and [`runtime::run`] the loop that turns
//! commands into tasks and their results back into messages. The event
//! source and the output are generic: [`run_local`] wires it to this
//! process's terminal, `ssh-serve` to each SSH channel. Everything the
//! console reads or changes goes through desk ([`services::Services`]);
//! it names no store type.

pub mod app;
pub mod audit_screen;
pub mod audit_state;
pub mod commands;
pub mod contact_form;
pub mod dialog_keys;
pub mod dialogs;
pub mod fault;
pub mod keymap;
pub mod msg;
pub mod note_editor;
pub mod offer_picker;
pub mod oncall;
pub mod oncall_state;
pub mod operators_screen;
pub mod operators_state;
pub mod profile_extra;
pub mod profile_keys;
mod profile_services;
pub mod profile_view;
pub mod runtime;
pub mod sanitize;
pub mod services;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod update_actions;
pub mod view;
pub mod wire;

use std::io::{self, BufWriter};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use futures_util::FutureExt;
use ratatui::crossterm::event::EventStream;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use crate::desk::{ConsoleEnd, Desk};

pub use runtime::Exit;

/// What can stop the console from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// A bad `[ui.keys]` setting.
    #[error(transparent)]
    Keys(#[from] keymap::KeymapError),
    /// The terminal could not be set up or used.
    #[error("terminal: {0}")]
    Io(#[from] io::Error),
    /// The loop failed.
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
}

/// The console's own settings, from the global ones.
#[must_use]
pub fn ui_config(desk: &Desk) -> app::UiConfig {
    let settings = desk.settings();
    app::UiConfig {
        link_ttl: settings.reset.link_ttl,
        min_password_length: settings.password.min_length,
        temporary_ttl: settings.password.temporary_ttl,
        backend: desk.backend_name().to_owned(),
        transport: format!("{:?}", settings.mail.transport).to_lowercase(),
        site: None,
        bulk_confirm_over: settings.bulk.confirm_over,
    }
}

/// The delivery worker, run inside the console process so that what the
/// console queues is delivered while it is open. Returns its handle and
/// the transport's label for the status line.
///
/// # Errors
/// When the transport cannot be set up from the settings.
pub fn spawn_worker(
    desk: &Desk,
) -> Result<(crate::mail::worker::WorkerHandle, String), crate::mail::transport::SetupError> {
    let worker = desk.outbox_worker()?;
    let label = worker.transport_label().to_owned();
    Ok((worker.spawn(), label))
}

/// A fresh App for this desk's settings at `size`.
///
/// # Errors
/// A bad `[ui.keys]` setting.
pub fn new_app(desk: &Desk, size: (u16, u16), no_color: bool) -> Result<app::App, ConsoleError> {
    let settings = desk.settings();
    let keymap = keymap::Keymap::with_overrides(&settings.ui.keys)?;
    let theme = theme::Theme::pick(settings.ui.theme, no_color);
    Ok(app::App::new(
        ui_config(desk),
        keymap,
        theme,
        size,
        desk.clock().now(),
    ))
}

/// Resolves when SIGTERM or SIGHUP arrives (the SSH link dropped), or
/// never if signals cannot be watched; records which, for the audit.
async fn terminate_or_hangup(seen: Arc<OnceLock<ConsoleEnd>>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    let end = tokio::select! {
        _ = term.recv() => ConsoleEnd::ServerStop,
        _ = hup.recv() => ConsoleEnd::Dropped,
    };
    let _ = seen.set(end);
}

/// Why a local console ended, for the sign-in audit.
fn local_end(
    result: &Result<Exit, runtime::RuntimeError>,
    signal: Option<ConsoleEnd>,
) -> ConsoleEnd {
    match result {
        Ok(Exit::Quit) => ConsoleEnd::Quit,
        Ok(Exit::InputClosed) => ConsoleEnd::Dropped,
        Ok(Exit::Shutdown) => signal.unwrap_or(ConsoleEnd::ServerStop),
        Err(_) => ConsoleEnd::Failed,
    }
}

/// Runs the console on this process's terminal until the user quits, the
/// terminal goes away, or SIGTERM/SIGHUP arrives. The terminal is restored
/// on every path (the guard's `Drop`, and the panic hook).
///
/// # Errors
/// A bad `[ui.keys]` setting (before the terminal is touched), or a
/// terminal failure.
pub async fn run_local(
    desk: crate::desk::Desk,
    transport_label: Option<String>,
    site_address: Option<String>,
) -> Result<Exit, ConsoleError> {
    let (w, h) = ratatui::crossterm::terminal::size()?;
    let identity = crate::desk::Identity::from_os().map_err(|e| io::Error::other(e.to_string()))?;
    let mut app = new_app(&desk, (w, h), theme::Theme::no_color_from_env())?;
    if let Some(label) = transport_label {
        app.config.transport = label;
    }
    app.config.site = site_address;
    // The search index starts loading first: mapping its file (a tenth of
    // a second at ten million contacts) overlaps the audit's round trips.
    let services = services::Services::new(desk.clone(), identity.clone());
    // The sign-in audit: this session's start now, its end below.
    let audit = desk
        .console_started(&identity, crate::desk::ConsoleVia::Local)
        .await;
    let guard = terminal::TerminalGuard::enter()?;
    let backend = wire::LeanBackend::new(
        BufWriter::with_capacity(64 * 1024, io::stdout()),
        ratatui::layout::Size::new(w, h),
    );
    let mut term = Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
        },
    )?;
    let signal = Arc::new(OnceLock::new());
    // A panic (the hook has restored the terminal) is caught only to
    // audit the session's end, then goes on as it was.
    let result = AssertUnwindSafe(runtime::run(
        &mut term,
        EventStream::new(),
        terminate_or_hangup(Arc::clone(&signal)),
        services,
        app,
    ))
    .catch_unwind()
    .await;
    drop(term);
    drop(guard);
    let result = match result {
        Ok(result) => result,
        Err(panic) => {
            desk.console_ended(&audit, ConsoleEnd::Failed).await;
            std::panic::resume_unwind(panic);
        }
    };
    desk.console_ended(&audit, local_end(&result, signal.get().copied()))
        .await;
    Ok(result?)
}

#[cfg(test)]
mod audit_tests;
#[cfg(test)]
mod oncall_tests;
#[cfg(test)]
mod operators_tests;
#[cfg(test)]
mod profile_tests;
#[cfg(test)]
mod update_tests;
