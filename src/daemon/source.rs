//! The daemon's main source: what it resumes by a cursor saved in the state. The
//! journal in `banjo run`; in the in-process tests, entries a test hands over
//! ([`Feed`]). Log files are the other kind of source (`journal::filesource`), with
//! positions of their own.
//!
//! Owns the seam (`CursorSource`) and the fed source; must not decide anything.

use crate::journal::sdjournal::JournalSource;
use crate::journal::source::{EntrySource, Position};
use crate::journal::Entry;
use crate::timefmt::Micros;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;

/// A source positioned by a cursor the state saves.
pub trait CursorSource: EntrySource {
    /// The fd to sleep on; failing ends the loop (no way to wait for entries).
    fn wait_fd(&mut self) -> anyhow::Result<RawFd>;
    /// Read on from the newest entry.
    fn seek_tail(&mut self) -> anyhow::Result<()>;
    /// Read on from the first entry at or after `us`.
    fn seek_realtime(&mut self, us: Micros) -> anyhow::Result<()>;
    /// Read on after `cursor`; whether it was found.
    fn seek_after_cursor(&mut self, cursor: &str) -> anyhow::Result<bool>;
    /// Where reading stands.
    fn cursor(&self) -> anyhow::Result<String>;
    /// The time of the entry at `cursor`, if it is still there.
    fn cursor_time(&mut self, cursor: &str) -> anyhow::Result<Option<Micros>>;
}

impl CursorSource for JournalSource {
    fn wait_fd(&mut self) -> anyhow::Result<RawFd> {
        Ok(self.journal_mut().fd()?)
    }
    fn seek_tail(&mut self) -> anyhow::Result<()> {
        Ok(JournalSource::seek_tail(self)?)
    }
    fn seek_realtime(&mut self, us: Micros) -> anyhow::Result<()> {
        Ok(JournalSource::seek_realtime(self, us)?)
    }
    fn seek_after_cursor(&mut self, cursor: &str) -> anyhow::Result<bool> {
        Ok(JournalSource::seek_after_cursor(self, cursor)?)
    }
    fn cursor(&self) -> anyhow::Result<String> {
        Ok(JournalSource::cursor(self)?)
    }
    fn cursor_time(&mut self, cursor: &str) -> anyhow::Result<Option<Micros>> {
        Ok(JournalSource::cursor_time(self, cursor)?)
    }
}

/// The sending end: entries go to the daemon in the order sent, each send wakes it.
#[derive(Clone)]
pub struct Feed {
    tx: mpsc::Sender<Entry>,
    wake: std::sync::Arc<UnixStream>,
}

impl Feed {
    /// Hand `entry` to the daemon; false once the daemon's source is gone.
    pub fn send(&self, entry: Entry) -> bool {
        let sent = self.tx.send(entry).is_ok();
        // A full buffer already holds a wake-up.
        let _ = (&*self.wake).write(&[1]);
        sent
    }
}

/// Entries handed over through a [`Feed`]. The cursor counts the entries read
/// (`fed:N`); there is no history to seek in, so a cursor names no time.
pub struct FedSource {
    rx: mpsc::Receiver<Entry>,
    wake: UnixStream,
    read: u64,
}

impl FedSource {
    pub fn new() -> std::io::Result<(Feed, FedSource)> {
        let (tx, rx) = mpsc::channel();
        let (a, b) = UnixStream::pair()?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        let feed = Feed {
            tx,
            wake: std::sync::Arc::new(a),
        };
        Ok((
            feed,
            FedSource {
                rx,
                wake: b,
                read: 0,
            },
        ))
    }
}

impl EntrySource for FedSource {
    fn name(&self) -> &'static str {
        "fed entries"
    }
    fn poll_fd(&mut self) -> Option<RawFd> {
        Some(self.wake.as_raw_fd())
    }
    fn readable(&mut self) {
        let mut buf = [0u8; 256];
        while matches!((&self.wake).read(&mut buf), Ok(n) if n > 0) {}
    }
    fn read_batch(&mut self, max: usize, sink: &mut dyn FnMut(&Entry)) -> usize {
        let mut n = 0;
        while n < max {
            let Ok(e) = self.rx.try_recv() else { break };
            self.read += 1;
            n += 1;
            sink(&e);
        }
        n
    }
    fn position(&mut self) -> Option<Position> {
        Some(Position::Journal(self.cursor_text()))
    }
}

impl FedSource {
    fn cursor_text(&self) -> String {
        format!("fed:{}", self.read)
    }
}

impl CursorSource for FedSource {
    fn wait_fd(&mut self) -> anyhow::Result<RawFd> {
        Ok(self.wake.as_raw_fd())
    }
    fn seek_tail(&mut self) -> anyhow::Result<()> {
        // Nothing is sent before the daemon is ready (the tests wait for its socket),
        // so there is nothing to pass over.
        Ok(())
    }
    fn seek_realtime(&mut self, _us: Micros) -> anyhow::Result<()> {
        Ok(())
    }
    fn seek_after_cursor(&mut self, _cursor: &str) -> anyhow::Result<bool> {
        Ok(false)
    }
    fn cursor(&self) -> anyhow::Result<String> {
        Ok(self.cursor_text())
    }
    fn cursor_time(&mut self, _cursor: &str) -> anyhow::Result<Option<Micros>> {
        Ok(None)
    }
}
