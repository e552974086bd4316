//! Log lines caught in memory: a [`Buffer`] any tracing subscriber can
//! write to, and [`captured`], the process-wide subscriber that keeps
//! every line of the test binary at every level (for the checks that no
//! secret is ever logged). tracing allows one global subscriber a process:
//! every test of a binary that calls [`captured`] shares it, and sees the
//! lines of every other test too, which only makes its check wider.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Log output kept in memory; clones share it.
#[derive(Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    /// Everything written so far; the log must be UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes()).expect("UTF-8 log")
    }

    /// Everything written so far, byte for byte.
    pub fn bytes(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Every log line of this test process, at every level, without colour:
/// installs the global subscriber on first use.
pub fn captured() -> &'static Buffer {
    static LOG: OnceLock<Buffer> = OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        buffer
    })
}
