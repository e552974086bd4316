//! The event loop. Input events, a tick and the results of tasks arrive as
//! [`Msg`]s; `update` turns each into state and [`Cmd`]s; each `Cmd` runs
//! in a spawned task (the loop never awaits the database, mail or
//! argon2); the screen is drawn only when something changed.
//!
//! Input and output are generic: any `Stream` of crossterm events and any
//! ratatui `Backend` that can also pass raw bytes through (for OSC 52), so
//! an SSH session can feed its own keys and write to its own channel.

use std::future::Future;
use std::io::{self, Write};
use std::pin::pin;
use std::time::Duration;

use base64::Engine;
use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend, TestBackend};
use ratatui::crossterm::event::Event;
use ratatui::layout::Rect;
use tokio::sync::mpsc;

use super::app::App;
use super::msg::{Cmd, Msg, TaskError};
use super::services::Services;
use super::update::{init, update};
use super::{view, wire};

/// How often time moves on screen (spinner, "expires in").
pub const TICK: Duration = Duration::from_millis(250);

/// A backend that can also write raw bytes to the terminal (OSC 52).
pub trait RawOutput {
    /// Writes bytes as they are, after the current frame.
    ///
    /// # Errors
    /// When the output is gone.
    fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// The terminal is now `size`, for backends that cannot ask it.
    fn set_size(&mut self, _size: ratatui::layout::Size) {}
}

impl<W: Write> RawOutput for CrosstermBackend<W> {
    fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)?;
        Write::flush(self)
    }
}

impl<W: Write> RawOutput for wire::LeanBackend<W> {
    fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let out = self.writer_mut();
        out.write_all(bytes)?;
        out.flush()
    }

    fn set_size(&mut self, size: ratatui::layout::Size) {
        wire::LeanBackend::set_size(self, size);
    }
}

impl RawOutput for TestBackend {
    fn write_raw(&mut self, _bytes: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// Why the console stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The user quit.
    Quit,
    /// The input ended (the terminal or SSH channel closed).
    InputClosed,
    /// A signal or the caller asked to stop.
    Shutdown,
}

/// What can end the loop with an error.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Drawing or reading the terminal failed.
    #[error("terminal: {0}")]
    Terminal(String),
}

/// The OSC 52 sequence that puts `text` on the clipboard of the terminal
/// the user sits at (it travels over SSH like any output).
#[must_use]
pub fn osc52(text: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    format!("\x1b]52;c;{b64}\x1b\\")
}

/// Reads that a newer request replaces.
struct Pending {
    search: Latest,
    profile: Latest,
}

impl Pending {
    fn new() -> Self {
        Self {
            search: Latest::new("search"),
            profile: Latest::new("profile load"),
        }
    }
}

/// One kind of read that a newer request of its kind replaces: one runs at
/// a time and, of those waiting, only the newest starts. A running one is
/// never aborted: cancelling a database call mid-query closes its pooled
/// connection, and on PostgreSQL the next query then waits for a new one
/// (some 100 ms a key). Its stale answer is dropped by its generation.
struct Latest {
    jobs: mpsc::UnboundedSender<BoxFuture<'static, ()>>,
}

impl Latest {
    /// Starts the queue's task; it ends with the console (the sender's drop).
    fn new(what: &'static str) -> Self {
        let (jobs, mut queue) = mpsc::unbounded_channel::<BoxFuture<'static, ()>>();
        tokio::spawn(async move {
            while let Some(mut job) = queue.recv().await {
                while let Ok(newer) = queue.try_recv() {
                    job = newer;
                }
                // In a task of its own, so a panic ends this job, not the queue.
                if let Err(err) = tokio::spawn(job).await {
                    tracing::error!(error = %err, "a console {what} failed");
                }
            }
        });
        Self { jobs }
    }

    fn submit(&self, job: impl Future<Output = ()> + Send + 'static) {
        // Fails only once the queue's task is gone, with the console.
        let _ = self.jobs.send(Box::pin(job));
    }
}

/// Runs the console until the user quits, the input ends or `shutdown`
/// resolves. The caller owns the terminal's modes (see `terminal.rs`).
///
/// # Errors
/// When drawing fails (the output is gone).
pub async fn run<B, E, S>(
    terminal: &mut Terminal<B>,
    events: E,
    shutdown: S,
    services: Services,
    mut app: App,
) -> Result<Exit, RuntimeError>
where
    B: Backend + RawOutput,
    B::Error: std::fmt::Display,
    E: Stream<Item = io::Result<Event>>,
    S: Future<Output = ()>,
{
    let mut events = pin!(events);
    let mut shutdown = pin!(shutdown);
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let pending = Pending::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    resize(terminal, app.size)?;
    let first = init(&mut app);
    spawn_operator(&services, &tx);
    for cmd in first {
        execute(cmd, &services, &tx, &pending, terminal)?;
    }
    draw(terminal, &mut app)?;

    loop {
        let msg = tokio::select! {
            biased;
            () = &mut shutdown => return Ok(Exit::Shutdown),
            event = events.next() => match event {
                Some(Ok(event)) => from_event(event),
                Some(Err(err)) => return Err(RuntimeError::Terminal(err.to_string())),
                None => return Ok(Exit::InputClosed),
            },
            Some(msg) = rx.recv() => Some(msg),
            _ = tick.tick() => Some(Msg::Tick(services.clock().now())),
        };
        let mut batch: Vec<Msg> = msg.into_iter().collect();
        // Take whatever else is already waiting before drawing once. The
        // stream is polled with this task's own waker: `now_or_never` would
        // hand it a no-op one, and crossterm's EventStream keeps the waker
        // of the poll that found nothing, so the next key would then wait
        // for the tick.
        while let Some(Some(event)) = ready_now(events.as_mut()).await {
            match event {
                Ok(event) => batch.extend(from_event(event)),
                Err(err) => return Err(RuntimeError::Terminal(err.to_string())),
            }
        }
        while let Ok(msg) = rx.try_recv() {
            batch.push(msg);
        }
        for msg in batch {
            if let Msg::Resize(w, h) = msg {
                resize(terminal, (w, h))?;
            }
            for cmd in update(&mut app, msg) {
                execute(cmd, &services, &tx, &pending, terminal)?;
            }
            if app.quit {
                return Ok(Exit::Quit);
            }
        }
        if app.dirty {
            draw(terminal, &mut app)?;
        }
    }
}

/// The stream's next item if it is ready now (`None` if not), polled with
/// the calling task's waker so a stream that is not ready wakes this task.
async fn ready_now<E: Stream + ?Sized>(
    mut events: std::pin::Pin<&mut E>,
) -> Option<Option<E::Item>> {
    std::future::poll_fn(|cx| match events.as_mut().poll_next(cx) {
        std::task::Poll::Ready(item) => std::task::Poll::Ready(Some(item)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await
}

fn from_event(event: Event) -> Option<Msg> {
    match event {
        Event::Key(key) => Some(Msg::Key(key)),
        Event::Paste(text) => Some(Msg::Paste(text)),
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        _ => None,
    }
}

fn resize<B: Backend + RawOutput>(
    terminal: &mut Terminal<B>,
    (w, h): (u16, u16),
) -> Result<(), RuntimeError>
where
    B::Error: std::fmt::Display,
{
    terminal
        .backend_mut()
        .set_size(ratatui::layout::Size::new(w, h));
    terminal
        .resize(Rect::new(0, 0, w, h))
        .map_err(|e| RuntimeError::Terminal(e.to_string()))
}

/// Draws a frame now.
///
/// # Errors
/// When the output is gone.
pub fn draw<B: Backend>(terminal: &mut Terminal<B>, app: &mut App) -> Result<(), RuntimeError>
where
    B::Error: std::fmt::Display,
{
    terminal
        .draw(|frame| {
            view::draw(app, frame);
            wire::plain_blanks(frame.buffer_mut());
        })
        .map_err(|e| RuntimeError::Terminal(e.to_string()))?;
    app.dirty = false;
    Ok(())
}

fn spawn_operator(services: &Services, tx: &mpsc::UnboundedSender<Msg>) {
    let (s, tx) = (services.clone(), tx.clone());
    tokio::spawn(async move {
        let result = s.operator().await.map_err(TaskError::from);
        let _ = tx.send(Msg::OperatorResolved(result));
    });
}

/// Starts one command. Only OSC 52 touches the terminal here; everything
/// else becomes a task.
fn execute<B: Backend + RawOutput>(
    cmd: Cmd,
    services: &Services,
    tx: &mpsc::UnboundedSender<Msg>,
    pending: &Pending,
    terminal: &mut Terminal<B>,
) -> Result<(), RuntimeError> {
    let s = services.clone();
    let tx = tx.clone();
    match cmd {
        Cmd::Search {
            generation,
            query,
            append,
        } => {
            let job = async move {
                let result = s.search(&query).await;
                let _ = tx.send(Msg::SearchDone {
                    generation,
                    append,
                    result,
                });
            };
            if append {
                // The next page of the search on screen: nothing replaces it.
                tokio::spawn(job);
            } else {
                pending.search.submit(job);
            }
        }
        Cmd::LoadProfile {
            generation,
            contact_id,
        } => {
            pending.profile.submit(async move {
                let result = s.profile(contact_id).await.map(Box::new);
                let _ = tx.send(Msg::ProfileLoaded { generation, result });
            });
        }
        Cmd::Act { contact_id, action } => {
            // Never aborted: an action, once confirmed, runs to its end.
            let kind = action.action();
            tokio::spawn(async move {
                let outcome = s.act(contact_id, action).await;
                let _ = tx.send(Msg::ActionDone {
                    contact_id,
                    action: kind,
                    outcome,
                });
            });
        }
        Cmd::GeneratePassword => {
            tokio::spawn(async move {
                let _ = tx.send(Msg::PasswordGenerated(s.generate_password()));
            });
        }
        Cmd::CheckPassword {
            generation,
            password,
            context,
        } => {
            // zxcvbn is CPU work: keep it off the async threads.
            tokio::task::spawn_blocking(move || {
                let feedback = s.check_password(&password, &context);
                let _ = tx.send(Msg::PolicyChecked {
                    generation,
                    feedback,
                });
            });
        }
        Cmd::Copy(secret) => {
            terminal
                .backend_mut()
                .write_raw(osc52(secret.expose()).as_bytes())
                .map_err(|e| RuntimeError::Terminal(e.to_string()))?;
        }
        Cmd::RefreshStatus => {
            tokio::spawn(async move {
                let result = s.outbox_counts().await.map_err(TaskError::from);
                let _ = tx.send(Msg::StatusLoaded(result));
            });
        }
        Cmd::Ping => {
            tokio::spawn(async move {
                let result = s.ping().await.map_err(TaskError::from);
                let _ = tx.send(Msg::Pinged(result));
            });
        }
        Cmd::LoadPickerOffers { contact_id, held } => {
            tokio::spawn(async move {
                let result = s.picker_offers(contact_id, held).await;
                let _ = tx.send(Msg::PickerOffersLoaded { contact_id, result });
            });
        }
        Cmd::LoadFilterSet {
            generation,
            filters,
        } => {
            tokio::spawn(async move {
                let result = s.filter_set(&filters).await;
                let _ = tx.send(Msg::FilterSetLoaded { generation, result });
            });
        }
        Cmd::LoadOffers => {
            tokio::spawn(async move {
                let _ = tx.send(Msg::OffersLoaded(s.offers().await));
            });
        }
        Cmd::LoadLockouts(ids) => {
            tokio::spawn(async move {
                let _ = tx.send(Msg::LockoutsLoaded(s.lockouts(&ids).await));
            });
        }
        Cmd::SelectAll(query) => {
            tokio::spawn(async move {
                let _ = tx.send(Msg::AllMatching(s.all_matching(query).await));
            });
        }
        Cmd::PlanBulk {
            action,
            contact_ids,
        } => {
            tokio::spawn(async move {
                let _ = tx.send(Msg::BulkPlanned(s.plan_bulk(action, &contact_ids).await));
            });
        }
        Cmd::RunBulk(plan) => {
            // Never aborted: the console stays usable while it runs; `x`
            // cancels it through desk, between two contacts.
            tokio::spawn(async move {
                let (started, progress) = (tx.clone(), tx.clone());
                let result = s
                    .run_bulk(
                        &plan,
                        move |id| {
                            let _ = started.send(Msg::BulkStarted(id));
                        },
                        move |p| {
                            let _ = progress.send(Msg::BulkProgress(p));
                        },
                    )
                    .await;
                let _ = tx.send(Msg::BulkDone(result));
            });
        }
        Cmd::LoadOperators { generation } => {
            tokio::spawn(async move {
                let result = s.operators().await;
                let _ = tx.send(Msg::OperatorsLoaded { generation, result });
            });
        }
        Cmd::ChangeOperator(change) => {
            // Never aborted: a confirmed change runs to its end.
            tokio::spawn(async move {
                let _ = tx.send(Msg::OperatorChanged(s.change_operator(change).await));
            });
        }
        Cmd::LoadAudit { generation, filter } => {
            let newer = filter.after_id.is_some();
            tokio::spawn(async move {
                let result = s.audit(&filter).await;
                let _ = tx.send(Msg::AuditLoaded {
                    generation,
                    newer,
                    result,
                });
            });
        }
        Cmd::CancelBulk(job) => {
            // The runner notices between two contacts and reports the end.
            tokio::spawn(async move {
                if let Err(err) = s.cancel_bulk(job).await {
                    tracing::warn!(job, error = ?err, "cancelling a bulk job failed");
                }
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::sync::oneshot;

    /// Records `name` when it starts and when it ends (after `gate`).
    fn job(
        log: &Arc<Mutex<Vec<String>>>,
        name: &'static str,
        gate: Option<oneshot::Receiver<()>>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let log = Arc::clone(log);
        async move {
            log.lock().expect("log").push(format!("{name} started"));
            if let Some(gate) = gate {
                let _ = gate.await;
            }
            log.lock().expect("log").push(format!("{name} ended"));
        }
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_running_read_ends_and_only_the_newest_waiting_one_starts() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let latest = Latest::new("test");
        let (open, gate) = oneshot::channel();
        latest.submit(job(&log, "first", Some(gate)));
        settle().await;
        latest.submit(job(&log, "second", None));
        latest.submit(job(&log, "third", None));
        settle().await;
        assert_eq!(*log.lock().expect("log"), ["first started"]);
        open.send(()).expect("first is waiting");
        settle().await;
        assert_eq!(
            *log.lock().expect("log"),
            [
                "first started",
                "first ended",
                "third started",
                "third ended"
            ],
            "the running one is never aborted; the superseded waiting one never starts"
        );
    }

    #[tokio::test]
    async fn a_read_that_panics_does_not_stop_the_next() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let latest = Latest::new("test");
        latest.submit(async { panic!("a failing read") });
        settle().await;
        latest.submit(job(&log, "next", None));
        settle().await;
        assert_eq!(*log.lock().expect("log"), ["next started", "next ended"]);
    }

    #[test]
    fn osc52_encodes_base64_and_ends_with_st() {
        assert_eq!(
            osc52("ada@example.com"),
            "\x1b]52;c;YWRhQGV4YW1wbGUuY29t\x1b\\"
        );
        // Control characters cannot escape the sequence: they are base64 too.
        let seq = osc52("\x1b]0;x\x07");
        assert_eq!(seq.matches('\x1b').count(), 2);
        assert!(!seq.contains('\x07'));
    }
}
