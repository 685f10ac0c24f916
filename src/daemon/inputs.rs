//! The daemon's inputs: every fd the loop sleeps on (the main source, the log files,
//! the shutdown token, the signals, the virtual clock, address changes, the wake-up
//! listener, drift announcements, /metrics scrapes, the control socket and its
//! clients), the one poll(2) over them until the earliest deadline (timers.rs), and
//! taking what each ready one says before the sources are read.
//!
//! Owns waiting and the inputs' own events; reading entries is the reader's, serving
//! control requests control/'s.

use super::Daemon;
use crate::journal::source::EntrySource;
use nix::poll::{PollFd, PollFlags};
use nix::sys::signal::Signal;
use std::os::fd::{AsFd, BorrowedFd};

/// Which inputs poll found ready.
#[derive(Debug, Default)]
pub(crate) struct Ready {
    pub(crate) source: bool,
    pub(crate) shutdown: bool,
    pub(crate) control: bool,
    pub(crate) signals: bool,
    pub(crate) clock: bool,
    pub(crate) ifwatch: bool,
    pub(crate) wakeup: bool,
    pub(crate) drift: bool,
    pub(crate) scrape: bool,
    pub(crate) files: bool,
}

impl Daemon {
    /// Sleep until an input is ready or the earliest deadline has come.
    pub(crate) fn wait(&mut self) -> anyhow::Result<Ready> {
        // Nothing is logged per round: the journal would feed it back to us.
        let timeout = self.deadlines().timeout();
        // Asked each round: a reload may have opened a new reader.
        let raw = self.source.wait_fd()?;
        // Safety: the source owns this fd and is not replaced while `fds` lives.
        let jfd = unsafe { BorrowedFd::borrow_raw(raw) };
        let mut fds = vec![
            PollFd::new(jfd, PollFlags::POLLIN),
            PollFd::new(self.shutdown.fd(), PollFlags::POLLIN),
        ];
        let signal_at = self.signals.as_ref().map(|s| {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let clock_at = self.clock.fd().map(|fd| {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
            fds.len() - 1
        });
        let if_at = self.ifwatch.as_ref().map(|w| {
            fds.push(PollFd::new(w.fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let wake_at = self.wakeup.fd().map(|fd| {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
            fds.len() - 1
        });
        let drift_at = self.drift.fd().map(|fd| {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
            fds.len() - 1
        });
        let scrape_at = self.endpoint.as_ref().map(|m| {
            fds.push(PollFd::new(m.fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let files_fd = self.files.as_mut().and_then(|f| f.poll_fd());
        // Safety: the follower owns this fd and is not replaced while `fds` lives.
        let files_at = files_fd.map(|raw| {
            fds.push(PollFd::new(
                unsafe { BorrowedFd::borrow_raw(raw) },
                PollFlags::POLLIN,
            ));
            fds.len() - 1
        });
        let base = fds.len();
        let ctl = self.server.poll_fds();
        let nctl = ctl.len();
        for (fd, write) in ctl {
            let flags = if write {
                PollFlags::POLLOUT
            } else {
                PollFlags::POLLIN
            };
            fds.push(PollFd::new(fd, flags));
        }
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        let source = fds[0].revents().is_some_and(|r| !r.is_empty());
        let shutdown = fds[1].revents().is_some_and(|r| !r.is_empty());
        let control = fds[base..base + nctl]
            .iter()
            .any(|f| f.revents().is_some_and(|r| !r.is_empty()));
        let ready =
            |at: Option<usize>| at.is_some_and(|i| fds[i].revents().is_some_and(|r| !r.is_empty()));
        let r = Ready {
            source,
            shutdown,
            control,
            signals: ready(signal_at),
            clock: ready(clock_at),
            ifwatch: ready(if_at),
            wakeup: ready(wake_at),
            drift: ready(drift_at),
            scrape: ready(scrape_at),
            files: ready(files_at),
        };
        drop(fds);
        Ok(r)
    }

    /// Take what the ready inputs say (stop, reload, wake-ups, address changes, the
    /// sources' own events) before the sources are read.
    pub(crate) fn take_inputs(&mut self, r: &Ready) {
        if r.shutdown {
            self.shutdown.drain();
        }
        if r.clock {
            self.clock.drain();
        }

        if r.drift {
            self.drift.readable();
        }

        if r.wakeup {
            self.wakeup.readable();
        }

        if r.ifwatch && self.ifwatch.as_ref().is_some_and(|w| w.drain()) {
            let addrs = crate::addr::local_addresses();
            for j in &mut self.pipeline.jails {
                j.set_self_addrs(&addrs);
            }
            tracing::info!(
                "this host's addresses changed; ignoreself now covers {} addresses",
                addrs.len()
            );
        }

        if r.signals {
            while let Some(info) = self
                .signals
                .as_ref()
                .and_then(|s| s.read_signal().ok().flatten())
            {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGTERM) | Ok(Signal::SIGINT) => self.stop = true,
                    Ok(Signal::SIGHUP) => {
                        let r = self.reload();
                        if let Err(e) = r {
                            tracing::error!("reload: {e:#}");
                        }
                    }
                    _ => {}
                }
            }
        }
        if r.source {
            // Consume the inotify events (rotation, new files) before reading on.
            self.source.readable();
        }
        if r.files {
            if let Some(f) = self.files.as_mut() {
                f.readable();
            }
        }
    }
}
