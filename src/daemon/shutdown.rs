//! Asking a running daemon to stop, from outside its loop (as mini-redis passes its
//! shutdown signal into `server::run`): `banjo run` triggers it on SIGTERM and SIGINT,
//! an in-process test when it is done. Owns nothing else.

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A shared token: any clone triggers it, the daemon's loop polls its fd.
#[derive(Clone)]
pub struct Shutdown(Arc<Inner>);

struct Inner {
    asked: AtomicBool,
    tx: UnixStream,
    rx: UnixStream,
}

impl Shutdown {
    pub fn new() -> std::io::Result<Shutdown> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(Shutdown(Arc::new(Inner {
            asked: AtomicBool::new(false),
            tx,
            rx,
        })))
    }

    /// Ask the daemon to stop; it finishes the step it is in, then shuts down cleanly.
    pub fn trigger(&self) {
        self.0.asked.store(true, Ordering::SeqCst);
        let _ = (&self.0.tx).write(&[1]);
    }

    pub fn is_triggered(&self) -> bool {
        self.0.asked.load(Ordering::SeqCst)
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.0.rx.as_fd()
    }

    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 16];
        while matches!((&self.0.rx).read(&mut buf), Ok(n) if n > 0) {}
    }
}
