//! The daemon's wall clock: the system's, or a virtual one a test moves.
//!
//! Owns what "now" is for decisions (ban deadlines, expiry, ban counts' age), so the
//! daemon can run in-process on a virtual clock. The loop's own pacing (cursor saves,
//! quick polls, the watchdog) goes by `Instant` and is not virtual. Must not decide
//! anything.

use crate::timefmt::Micros;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Now, in microseconds since the Unix epoch.
#[derive(Clone, Default)]
pub enum Clock {
    #[default]
    System,
    Virtual(Arc<VirtualClock>),
}

impl Clock {
    pub fn now_us(&self) -> Micros {
        match self {
            Clock::System => system_now_us(),
            Clock::Virtual(v) => v.now.load(Ordering::SeqCst),
        }
    }

    /// What the loop polls so that moving the clock wakes it (a virtual clock only).
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Clock::System => None,
            Clock::Virtual(v) => Some(v.rx.as_fd()),
        }
    }

    /// Take the wake-ups a move of the clock left.
    pub(crate) fn drain(&self) {
        if let Clock::Virtual(v) = self {
            let mut buf = [0u8; 64];
            while matches!((&v.rx).read(&mut buf), Ok(n) if n > 0) {}
        }
    }
}

/// A clock that stands still until moved; each move wakes the daemon that reads it.
pub struct VirtualClock {
    now: AtomicI64,
    tx: UnixStream,
    rx: UnixStream,
}

impl VirtualClock {
    pub fn new(now: Micros) -> std::io::Result<Arc<VirtualClock>> {
        let (tx, rx) = UnixStream::pair()?;
        rx.set_nonblocking(true)?;
        tx.set_nonblocking(true)?;
        Ok(Arc::new(VirtualClock {
            now: AtomicI64::new(now),
            tx,
            rx,
        }))
    }

    pub fn now_us(&self) -> Micros {
        self.now.load(Ordering::SeqCst)
    }

    /// Move the clock forward by `us` and wake the daemon.
    pub fn advance(&self, us: Micros) {
        self.now.fetch_add(us, Ordering::SeqCst);
        // A full buffer already holds a wake-up.
        let _ = (&self.tx).write(&[1]);
    }
}

pub fn system_now_us() -> Micros {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as Micros)
        .unwrap_or(0)
}
