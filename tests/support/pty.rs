//! A program in a real pseudo-terminal (portable-pty) whose output feeds a
//! vt100 parser: the one piece behind the console in a pty
//! ([`super::console`]), the OpenSSH client in a pty ([`super::ssh`]) and
//! the hostile-data console that records what the output asks of the
//! terminal (vt100 [`vt100::Callbacks`]: title, clipboard, bell). Every
//! byte read is kept too, so a test can look for sequences the screen
//! model does not show. The program is killed when the terminal is dropped.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// How long [`Terminal::wait_for`] and [`Terminal::wait_until`] wait.
pub const WAIT: Duration = Duration::from_secs(20);

/// How long [`Terminal::wait_exit`] waits for the program to end.
const EXIT_WAIT: Duration = Duration::from_secs(15);

/// A program running in a pty, its screen read by a vt100 parser with
/// callbacks `C` (`()` records nothing).
pub struct Terminal<C: vt100::Callbacks + Send + 'static = ()> {
    /// The program.
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    /// The pause after each [`Terminal::send`], so that one write reaches
    /// the program as one read (an Esc followed at once by a key is one
    /// Alt-key to a terminal program).
    pub pause: Duration,
    name: String,
    writer: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser<C>>>,
    raw: Arc<Mutex<Vec<u8>>>,
    /// Set once the reader has read everything the program wrote (end of
    /// file, or EIO once the program and its pty side are gone).
    drained: Arc<std::sync::atomic::AtomicBool>,
    master: Box<dyn portable_pty::MasterPty + Send>,
}

fn size(cols: u16, rows: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

fn non_zero(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).expect("a terminal is at least 1x1")
}

/// Locks a mutex the reader thread shares; a panic elsewhere does not
/// hide what was read.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Terminal<()> {
    /// Starts `cmd` (with `TERM=xterm-256color`) at `cols` x `rows`.
    pub fn start(cmd: CommandBuilder, cols: u16, rows: u16) -> Self {
        Self::start_with(cmd, cols, rows, ())
    }
}

impl<C: vt100::Callbacks + Send + 'static> Terminal<C> {
    /// Starts `cmd` at `cols` x `rows`, its output parsed with `callbacks`.
    pub fn start_with(mut cmd: CommandBuilder, cols: u16, rows: u16, callbacks: C) -> Self {
        let name = cmd
            .get_argv()
            .first()
            .and_then(|p| std::path::Path::new(p).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        cmd.env("TERM", "xterm-256color");
        let pty = native_pty_system()
            .openpty(size(cols, rows))
            .expect("open a pty");
        let child = pty
            .slave
            .spawn_command(cmd)
            .unwrap_or_else(|e| panic!("start {name} in a pty: {e}"));
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("pty reader");
        let writer = pty.master.take_writer().expect("pty writer");
        let parser = Arc::new(Mutex::new(vt100::Parser::new_with_callbacks(
            non_zero(rows),
            non_zero(cols),
            0,
            callbacks,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let drained = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, r, d) = (Arc::clone(&parser), Arc::clone(&raw), Arc::clone(&drained));
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                lock(&p).process(&buf[..n]);
                lock(&r).extend_from_slice(&buf[..n]);
            }
            d.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        Self {
            child,
            pause: Duration::from_millis(60),
            name,
            writer,
            parser,
            raw,
            drained,
            master: pty.master,
        }
    }

    /// The parser, locked: the screen, and what the callbacks recorded.
    pub fn parser(&self) -> MutexGuard<'_, vt100::Parser<C>> {
        lock(&self.parser)
    }

    /// The screen's text.
    pub fn screen(&self) -> String {
        self.parser().screen().contents()
    }

    /// The screen's rows, each as text.
    pub fn lines(&self) -> Vec<String> {
        let parser = self.parser();
        let (_, cols) = parser.screen().size();
        parser.screen().rows(0, cols.get()).collect()
    }

    /// Row `n` of the screen as text.
    pub fn row(&self, n: u16) -> String {
        self.lines()
            .into_iter()
            .nth(usize::from(n))
            .unwrap_or_default()
    }

    /// Reads the screen with `read` until its text (the first of the pair)
    /// holds every one of `texts`, for `within` at most; returns the rest.
    fn wait_read<T>(
        &self,
        texts: &[&str],
        within: Duration,
        read: impl Fn(&Self) -> (String, T),
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            let (screen, value) = read(self);
            if texts.iter().all(|t| screen.contains(t)) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {texts:?}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (up to `within`) until the screen shows every one of `texts`.
    pub fn wait_within(&self, texts: &[&str], within: Duration) -> String {
        self.wait_read(texts, within, |t| {
            let screen = t.screen();
            (screen.clone(), screen)
        })
    }

    /// Waits up to 20 s until the screen's rows show every one of `texts`
    /// (none split across two rows); returns the rows.
    pub fn wait_lines(&self, texts: &[&str]) -> Vec<String> {
        self.wait_read(texts, WAIT, |t| {
            let lines = t.lines();
            (lines.join("\n"), lines)
        })
    }

    /// Waits up to 20 s until the screen shows every one of `texts`.
    pub fn wait_for(&self, texts: &[&str]) -> String {
        self.wait_within(texts, WAIT)
    }

    /// Waits up to 20 s until `check` holds; `what` names it on failure.
    pub fn wait_until(&self, what: &str, check: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !check(self) {
            assert!(
                Instant::now() < deadline,
                "waited for {what}; the screen shows:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `keys`, then pauses (see [`Terminal::pause`]).
    pub fn send(&mut self, keys: &str) {
        self.writer
            .write_all(keys.as_bytes())
            .expect("write to the pty");
        self.writer.flush().expect("flush the pty");
        std::thread::sleep(self.pause);
    }

    /// Resizes the pty (the kernel sends SIGWINCH) and the screen model
    /// with it.
    pub fn resize(&self, cols: u16, rows: u16) {
        self.parser()
            .screen_mut()
            .set_size(non_zero(rows), non_zero(cols));
        self.master
            .resize(size(cols, rows))
            .expect("resize the pty");
    }

    /// Whether the pty is in raw mode (no canonical input, no echo).
    pub fn raw_mode(&self) -> bool {
        let termios = self.master.get_termios().expect("read the pty's termios");
        let lflag = termios.local_flags.bits();
        lflag & (nix::libc::ICANON | nix::libc::ECHO) == 0
    }

    /// The process id.
    pub fn pid(&self) -> nix::unistd::Pid {
        let pid = self.child.process_id().expect("the program has a pid");
        nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid fits i32"))
    }

    /// Sends a signal to the program.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), signal)
            .unwrap_or_else(|e| panic!("signal {}: {e}", self.name));
    }

    /// Whether the program still runs.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits (15 s at most) for the program to end, then lets the reader
    /// thread take the last bytes.
    pub fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + EXIT_WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Everything it wrote before exiting is read, however slow
                // the machine (a fixed pause lost the last frame under load).
                while !self.drained.load(std::sync::atomic::Ordering::SeqCst)
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit; screen:\n{}",
                self.name,
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the program wrote, byte for byte.
    pub fn raw_bytes(&self) -> Vec<u8> {
        lock(&self.raw).clone()
    }

    /// Everything the program wrote, lossily decoded.
    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&lock(&self.raw)).into_owned()
    }

    /// The screen is back as it was before console mode: main screen,
    /// cursor shown, and the sequences that undo console mode (bracketed
    /// paste off, main screen, cursor shown) came after entering it.
    pub fn assert_screen_restored(&self) {
        let parser = self.parser();
        let screen = parser.screen();
        assert!(!screen.alternate_screen(), "still on the alternate screen");
        assert!(!screen.hide_cursor(), "the cursor is still hidden");
        drop(parser);
        let raw = self.raw();
        let tail = &raw[raw
            .rfind("\x1b[?1049h")
            .expect("entered the alternate screen")..];
        for seq in ["\x1b[?2004l", "\x1b[?1049l", "\x1b[?25h"] {
            assert!(tail.contains(seq), "{seq:?} missing after the console ran");
        }
    }
}

impl<C: vt100::Callbacks + Send + 'static> Drop for Terminal<C> {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
