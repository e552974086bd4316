//! One console per SSH session: the same [`crate::tui::runtime::run`] the
//! local terminal uses, fed by the channel's parsed keys and drawing into
//! the channel. Each session has its own size, theme, state and tasks.
//!
//! The session ends when the agent quits, the channel or connection goes
//! (the event stream ends), the idle timeout or the maximum length passes,
//! or the server stops. A panic inside the console is caught here: it is
//! logged and ends this session only. On every path the client's terminal
//! is given back (main screen, cursor shown, bracketed paste off) before
//! the channel is closed.

use std::future::Future;
use std::io::{self, Write};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use ratatui::crossterm::event::Event;
use ratatui::layout::{Rect, Size};
use ratatui::{Terminal, TerminalOptions, Viewport};
use russh::ChannelId;
use russh::server::Handle;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::desk::Searcher;
use crate::desk::{Desk, Identity};
use crate::settings::ThemeName;
use crate::tui::runtime::{self, Exit};
use crate::tui::services::Services;
use crate::tui::theme::Theme;
use crate::tui::wire::LeanBackend;

/// Console mode on: alternate screen, bracketed paste, cursor hidden, clear.
pub const ENTER: &[u8] = b"\x1b[?1049h\x1b[?2004h\x1b[?25l\x1b[2J";
/// Console mode off: attributes reset, bracketed paste off, main screen,
/// cursor shown.
pub const LEAVE: &[u8] = b"\x1b[0m\x1b[?2004l\x1b[?1049l\x1b[?25h";

/// What every session of one server shares.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The desk every operation goes through.
    pub desk: Desk,
    /// One in-memory search index for all sessions.
    pub searcher: Searcher,
    /// The mail transport's label for the status line.
    pub transport_label: String,
    /// `ssh.idle_timeout`.
    pub idle_timeout: Duration,
    /// `ssh.max_session`.
    pub max_session: Duration,
    /// Sessions running now.
    pub active: Arc<AtomicUsize>,
    /// Becomes `true` when the server stops.
    pub stopping: watch::Receiver<bool>,
}

/// Who and what one session is for.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The operator the key signed in as.
    pub operator: String,
    /// `ssh ADDRESS:PORT` of the client.
    pub source: String,
    /// Columns and rows from the pty request.
    pub size: (u16, u16),
    /// `TERM` from the pty request.
    pub term: String,
    /// `NO_COLOR` was set (non-empty) in the session's environment.
    pub no_color: bool,
}

/// Why a session ended, as the agent is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The agent quit.
    Quit,
    /// The channel closed.
    Closed,
    /// No input for `ssh.idle_timeout`.
    Idle,
    /// `ssh.max_session` passed.
    MaxLength,
    /// The server is stopping.
    ServerStopping,
    /// The console failed (the output went away, or a panic).
    Failed,
}

impl End {
    /// The line shown on the client's terminal after the console is gone.
    #[must_use]
    pub fn farewell(self) -> Option<&'static str> {
        match self {
            Self::Quit | Self::Closed => None,
            Self::Idle => Some("keydesk: session ended after being idle (ssh.idle_timeout)"),
            Self::MaxLength => {
                Some("keydesk: session reached its maximum length (ssh.max_session)")
            }
            Self::ServerStopping => Some("keydesk: the server is stopping"),
            Self::Failed => {
                Some("keydesk: the console hit an internal error; this session has ended")
            }
        }
    }

    /// The reason desk's sign-in audit records.
    #[must_use]
    pub fn audit_reason(self) -> crate::desk::ConsoleEnd {
        use crate::desk::ConsoleEnd;
        match self {
            Self::Quit => ConsoleEnd::Quit,
            Self::Closed => ConsoleEnd::Dropped,
            Self::Idle => ConsoleEnd::Idle,
            Self::MaxLength => ConsoleEnd::MaxSession,
            Self::ServerStopping => ConsoleEnd::ServerStop,
            Self::Failed => ConsoleEnd::Failed,
        }
    }

    /// A short name for the log.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quit => "quit",
            Self::Closed => "closed",
            Self::Idle => "idle",
            Self::MaxLength => "max_session",
            Self::ServerStopping => "server_stopping",
            Self::Failed => "failed",
        }
    }
}

/// The theme for a client terminal: `NO_COLOR` or `TERM=dumb` give mono;
/// a terminal that does not say it has 256 colours gets `ansi16` instead
/// of the 256-colour default.
#[must_use]
pub fn theme_for(setting: ThemeName, term: &str, no_color: bool) -> Theme {
    let term = term.to_ascii_lowercase();
    if no_color || term.is_empty() || term == "dumb" {
        return Theme::pick(ThemeName::Mono, false);
    }
    let rich = [
        "256color",
        "truecolor",
        "24bit",
        "direct",
        "kitty",
        "alacritty",
        "wezterm",
    ]
    .iter()
    .any(|t| term.contains(t));
    let name = match setting {
        ThemeName::Default if !rich => ThemeName::Ansi16,
        other => other,
    };
    Theme::pick(name, false)
}

/// Frame bytes a client may leave unread before its session ends: a
/// client that stops reading (suspended, or hostile) must not make the
/// server hold its frames without end. A full 200x50 frame is about 8 KB.
const MAX_UNSENT: usize = 1 << 20;

/// How long the goodbye (the terminal restored) may take to go out when a
/// session ends; a client that takes none of it is simply closed.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(5);

/// Collects a frame's bytes and hands them to the channel writer on flush.
struct ChannelWriter {
    buf: Vec<u8>,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    /// Bytes handed to the writer and not yet taken by the channel.
    unsent: Arc<AtomicUsize>,
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.unsent.load(Ordering::SeqCst) > MAX_UNSENT {
            return Err(io::Error::other(
                "the SSH client has stopped reading (over 1 MiB of frames unsent)",
            ));
        }
        let frame = std::mem::take(&mut self.buf);
        self.unsent.fetch_add(frame.len(), Ordering::SeqCst);
        self.tx
            .send(frame)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the SSH channel is gone"))
    }
}

/// Sends queued frames to the channel, several at once when they pile up.
async fn write_frames(
    handle: Handle,
    channel: ChannelId,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    unsent: Arc<AtomicUsize>,
) {
    while let Some(mut bytes) = rx.recv().await {
        while let Ok(more) = rx.try_recv() {
            bytes.extend_from_slice(&more);
        }
        let n = bytes.len();
        let sent = handle.data(channel, bytes).await;
        unsent.fetch_sub(n, Ordering::SeqCst);
        if sent.is_err() {
            break;
        }
    }
}

/// Counts a running session; the count drops when this does, on every path.
struct ActiveGuard(Arc<AtomicUsize>);

impl ActiveGuard {
    fn new(active: &Arc<AtomicUsize>) -> Self {
        active.fetch_add(1, Ordering::SeqCst);
        crate::diag::metrics::metrics().ssh_sessions_open.inc();
        Self(Arc::clone(active))
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        crate::diag::metrics::metrics().ssh_sessions_open.dec();
    }
}

/// Runs `fut`, turning a panic inside it into `Err` with the panic's text.
///
/// # Errors
/// The panic message when `fut` panicked.
pub async fn guarded<F: Future>(fut: F) -> Result<F::Output, String> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(|payload| {
            payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned())
        })
}

/// Resolves when the session has had no input for `idle`, has lasted
/// `max`, or the server stops; records which.
async fn limits(
    last_input: Arc<Mutex<Instant>>,
    idle: Duration,
    max: Duration,
    mut stopping: watch::Receiver<bool>,
    reason: Arc<Mutex<Option<End>>>,
) {
    let started = Instant::now();
    let idle_watch = async {
        loop {
            let last = last_input.lock().map_or_else(|_| Instant::now(), |t| *t);
            let deadline = last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    };
    let end = tokio::select! {
        () = idle_watch => End::Idle,
        () = tokio::time::sleep_until(started + max) => End::MaxLength,
        _ = stopping.wait_for(|s| *s) => End::ServerStopping,
    };
    if let Ok(mut r) = reason.lock() {
        *r = Some(end);
    }
}

/// Runs one console on `channel` until it ends, then restores the client's
/// terminal and closes the channel. `events` carries the parsed keys and
/// resizes; it ends when the channel or connection goes.
pub async fn run(
    shared: Shared,
    spec: Spec,
    handle: Handle,
    channel: ChannelId,
    events: mpsc::UnboundedReceiver<Event>,
) -> End {
    let _active = ActiveGuard::new(&shared.active);
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let unsent = Arc::new(AtomicUsize::new(0));
    let mut writer = tokio::spawn(write_frames(
        handle.clone(),
        channel,
        out_rx,
        Arc::clone(&unsent),
    ));
    // Everything queued is counted, so the writer's count never goes below.
    let queue = |bytes: Vec<u8>| {
        unsent.fetch_add(bytes.len(), Ordering::SeqCst);
        let _ = out_tx.send(bytes);
    };
    queue(ENTER.to_vec());

    let end = console(&shared, &spec, out_tx.clone(), Arc::clone(&unsent), events).await;

    let mut goodbye = LEAVE.to_vec();
    if let Some(line) = end.farewell() {
        goodbye.extend_from_slice(line.as_bytes());
        goodbye.extend_from_slice(b"\r\n");
    }
    queue(goodbye);
    drop(out_tx);
    // Every frame and the restore sequence go out before the close, unless
    // the client takes none of them.
    if tokio::time::timeout(GOODBYE_TIMEOUT, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
        tracing::info!(operator = %spec.operator, source = %spec.source, "ssh session: the client took no output; closed");
    }
    let status = u32::from(end == End::Failed);
    let _ = handle.exit_status_request(channel, status).await;
    let _ = handle.eof(channel).await;
    let _ = handle.close(channel).await;
    end
}

/// The console itself; returns why it stopped.
async fn console(
    shared: &Shared,
    spec: &Spec,
    out: mpsc::UnboundedSender<Vec<u8>>,
    unsent: Arc<AtomicUsize>,
    mut events: mpsc::UnboundedReceiver<Event>,
) -> End {
    let settings = shared.desk.settings();
    let (w, h) = (spec.size.0.max(1), spec.size.1.max(1));
    let mut app = match crate::tui::new_app(&shared.desk, (w, h), spec.no_color) {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(error = %err, "ssh session: the console could not start");
            return End::Failed;
        }
    };
    app.theme = theme_for(settings.ui.theme, &spec.term, spec.no_color);
    app.config.transport.clone_from(&shared.transport_label);
    let identity = Identity {
        name: spec.operator.clone(),
        source: spec.source.clone(),
    };
    let services = Services::with_searcher(shared.desk.clone(), identity, shared.searcher.clone());
    // The same lean writer as the local console: fewer bytes per frame.
    let backend = LeanBackend::new(
        ChannelWriter {
            buf: Vec::with_capacity(16 * 1024),
            tx: out,
            unsent,
        },
        Size::new(w, h),
    );
    let mut terminal = match Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
        },
    ) {
        Ok(t) => t,
        Err(err) => {
            tracing::error!(error = %err, "ssh session: no terminal");
            return End::Failed;
        }
    };

    let last_input = Arc::new(Mutex::new(Instant::now()));
    let reason = Arc::new(Mutex::new(None));
    let touch = Arc::clone(&last_input);
    let stream = futures_util::stream::poll_fn(move |cx| events.poll_recv(cx)).map(move |e| {
        if let Ok(mut t) = touch.lock() {
            *t = Instant::now();
        }
        Ok::<Event, io::Error>(e)
    });
    let stop = limits(
        last_input,
        shared.idle_timeout,
        shared.max_session,
        shared.stopping.clone(),
        Arc::clone(&reason),
    );
    let outcome = guarded(runtime::run(&mut terminal, stream, stop, services, app)).await;
    match outcome {
        Ok(Ok(Exit::Quit)) => End::Quit,
        Ok(Ok(Exit::InputClosed)) => End::Closed,
        Ok(Ok(Exit::Shutdown)) => reason
            .lock()
            .ok()
            .and_then(|r| *r)
            .unwrap_or(End::ServerStopping),
        Ok(Err(err)) => {
            // Usually the output went away with the client.
            tracing::info!(operator = %spec.operator, source = %spec.source, error = %err, "ssh session: terminal gone");
            End::Closed
        }
        Err(panic) => {
            tracing::error!(operator = %spec.operator, source = %spec.source, panic = %panic, "ssh session: the console panicked; this session ends, others go on");
            End::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_caught_as_an_error_with_its_message() {
        let caught = guarded(async {
            panic!("boom in one session");
        })
        .await;
        assert_eq!(caught.unwrap_err(), "boom in one session");
        assert_eq!(guarded(async { 7 }).await, Ok(7));
    }

    #[test]
    fn the_theme_follows_term_and_no_color() {
        assert_eq!(
            theme_for(ThemeName::Default, "xterm-256color", false).name,
            ThemeName::Default
        );
        assert_eq!(
            theme_for(ThemeName::Default, "xterm", false).name,
            ThemeName::Ansi16
        );
        assert_eq!(
            theme_for(ThemeName::Default, "dumb", false).name,
            ThemeName::Mono
        );
        assert_eq!(
            theme_for(ThemeName::Default, "xterm-256color", true).name,
            ThemeName::Mono
        );
        assert_eq!(
            theme_for(ThemeName::Ansi16, "xterm-256color", false).name,
            ThemeName::Ansi16
        );
    }

    #[test]
    fn a_client_that_stops_reading_ends_its_session_instead_of_growing_it() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let unsent = Arc::new(AtomicUsize::new(0));
        let mut w = ChannelWriter {
            buf: Vec::new(),
            tx,
            unsent: Arc::clone(&unsent),
        };
        let frame = vec![b'x'; 8 * 1024];
        let mut flushed = 0;
        // Nobody takes the frames off the channel.
        let err = loop {
            w.write_all(&frame).unwrap();
            match w.flush() {
                Ok(()) => flushed += 1,
                Err(err) => break err,
            }
            assert!(flushed < 1000, "the writer never refused");
        };
        assert!(err.to_string().contains("stopped reading"), "{err}");
        assert!(unsent.load(Ordering::SeqCst) <= MAX_UNSENT + frame.len());
        assert_eq!(flushed, MAX_UNSENT / frame.len() + 1);
        // Once the client reads again, frames flow.
        while rx.try_recv().is_ok() {}
        unsent.store(0, Ordering::SeqCst);
        w.write_all(&frame).unwrap();
        w.flush().unwrap();
    }

    #[test]
    fn leaving_undoes_entering() {
        for (on, off) in [("?1049h", "?1049l"), ("?2004h", "?2004l"), ("?25l", "?25h")] {
            assert!(String::from_utf8_lossy(ENTER).contains(on));
            assert!(String::from_utf8_lossy(LEAVE).contains(off));
        }
    }
}
