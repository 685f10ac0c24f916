//! The loop's timers: one deadline type ([`Deadlines`]) for everything it must do without an
//! event (unbans, failure windows, cursor saves, long-ban refreshes, housekeeping, the
//! watchdog, retries), and the earliest of them as poll(2)'s timeout. With nothing due
//! the loop sleeps until an fd wakes it: idle costs nothing.
//!
//! Owns when; what is done when a deadline comes is each part's own (the loop asks
//! each whether it is due). Must not do any of it.

use super::housekeeping::REFRESH_EVERY;
use super::reader::CURSOR_EVERY;
use super::Daemon;
use crate::journal::source::EntrySource;
use crate::timefmt::Micros;
use nix::poll::PollTimeout;
use std::time::{Duration, Instant};

/// The earliest of the deadlines offered, as a time left from now.
#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    next: Option<Duration>,
}

/// A deadline on a clock is met a millisecond late rather than a moment early: a
/// wake-up just before it would find nothing due and sleep 0 ms again.
const LATE: Duration = Duration::from_millis(1);

impl Deadlines {
    pub(crate) fn after(&mut self, after: Duration) {
        if self.next.is_none_or(|n| after < n) {
            self.next = Some(after);
        }
    }

    /// At `at` on the loop's monotonic clock.
    pub(crate) fn at(&mut self, at: Instant, now: Instant) {
        self.after(at.saturating_duration_since(now) + LATE);
    }

    /// At `at` on the daemon's wall clock (µs since the epoch).
    pub(crate) fn at_wall(&mut self, at: Micros, now: Micros) {
        let left = (at - now).max(0) as u64;
        self.after(Duration::from_micros(left) + LATE);
    }

    #[cfg(test)]
    fn next(&self) -> Option<Duration> {
        self.next
    }

    /// poll(2)'s timeout: the earliest deadline, or none (sleep until an fd wakes us).
    pub(crate) fn timeout(&self) -> PollTimeout {
        match self.next {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::MAX),
        }
    }
}

impl Daemon {
    /// Every deadline the daemon's parts have now.
    pub(crate) fn deadlines(&self) -> Deadlines {
        let mut d = Deadlines::default();
        let (now, wall) = (Instant::now(), self.now_us());
        if let Some(at) = self.pipeline.bans.next_deadline() {
            d.at_wall(at, wall);
        }
        // Expired failure windows are swept on time, not only when failures come.
        if let Some(at) = self.pipeline.tracker.due() {
            d.at_wall(at, wall);
        }
        if let Some(w) = self.notifier.watchdog {
            d.after(w);
        }
        if self.actions.busy() {
            d.after(Duration::from_millis(50));
        }
        if let Some(at) = self.server.next_deadline() {
            d.at(at, now);
        }
        if self.cursor_dirty || self.files_dirty {
            d.after(CURSOR_EVERY);
        }
        // A rotated file being drained is looked at without events (logfile.rs).
        if let Some(at) = self.files.as_ref().and_then(|f| f.deadline()) {
            d.at(at, now);
        }
        if let Some(at) = self.state.retry_at() {
            d.at(at, now);
        }
        if let Some(every) = self.wakeup.poll_every() {
            d.after(every);
        }
        if let Some(at) = self.housekeeping.quiet_at {
            d.after(at.saturating_duration_since(now));
        }
        if let Some(after) = self.drift.timeout() {
            d.after(after);
        }
        if let Some(after) = self.metrics_timeout() {
            d.after(after);
        }
        if let Some(after) = self.health_timeout() {
            d.after(after);
        }
        d.after(REFRESH_EVERY.saturating_sub(self.housekeeping.last_refresh.elapsed()));
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_deadline_is_the_timeout() {
        let mut d = Deadlines::default();
        assert_eq!(d.timeout(), PollTimeout::NONE);
        d.after(Duration::from_secs(3600));
        d.after(Duration::from_secs(1));
        d.after(Duration::from_millis(50));
        d.after(Duration::from_secs(2));
        assert_eq!(d.next(), Some(Duration::from_millis(50)));
        assert_eq!(d.timeout(), PollTimeout::from(50u16));
    }

    #[test]
    fn clock_deadlines_are_met_a_moment_late_and_never_negative() {
        let mut d = Deadlines::default();
        // An unban already past is due now (plus the millisecond), not in the past.
        d.at_wall(1_000, 5_000_000);
        assert_eq!(d.next().unwrap(), LATE);
        let mut d = Deadlines::default();
        d.at_wall(3_000_000, 1_000_000);
        assert_eq!(d.next().unwrap(), Duration::from_secs(2) + LATE);
        let now = Instant::now();
        let mut d = Deadlines::default();
        d.at(now + Duration::from_millis(20), now);
        assert_eq!(d.next().unwrap(), Duration::from_millis(21));
    }

    #[test]
    fn a_week_long_deadline_fits_poll() {
        let mut d = Deadlines::default();
        d.after(Duration::from_secs(86_400 * 365 * 100));
        assert_eq!(d.timeout(), PollTimeout::MAX);
    }
}
