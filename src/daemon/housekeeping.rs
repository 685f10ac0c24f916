//! Housekeeping: what an idle daemon does so that it stays small and its kernel copy
//! stays whole. Memory given back after a busy spell and once a day (glibc's freed
//! heap, the journal pages libsystemd left mapped), long bans re-added before ipset's
//! largest timeout runs out, old ban counts pruned, and systemd's watchdog fed.
//!
//! Owns when (with timers.rs) and how; must not decide bans.

use super::{kernel_entry, Daemon};
use crate::timefmt::{BanTime, Micros};
use std::time::{Duration, Instant};

/// When housekeeping was last done, and what has piled up since.
pub(crate) struct Housekeeping {
    /// Decisions since the heap was last trimmed.
    pub(crate) decisions_since_trim: usize,
    /// Decisions since code pages were last given back (codepages.rs): a ban runs
    /// cold paths (SQLite writes, the journal writer, the firewall's children, the
    /// capture twin's compile) once.
    pub(crate) decisions_since_release: usize,
    /// QUIET_AFTER past the last entry read: when to give memory back (see quiet()).
    pub(crate) quiet_at: Option<Instant>,
    pub(crate) last_refresh: Instant,
    pub(crate) last_watchdog: Instant,
}

impl Default for Housekeeping {
    fn default() -> Housekeeping {
        Housekeeping {
            decisions_since_trim: 0,
            decisions_since_release: 0,
            quiet_at: None,
            last_refresh: Instant::now(),
            last_watchdog: Instant::now(),
        }
    }
}

impl Housekeeping {
    /// Entries were read: memory is given back once they have stopped for a while.
    pub(crate) fn entries_read(&mut self) {
        self.quiet_at = Some(Instant::now() + QUIET_AFTER);
    }
}

/// Once the journal has been quiet this long, the journal pages just read are given
/// back, and after a burst (TRIM_AFTER decisions or more) the freed heap too: a
/// burst's transient buffers (read batches, held reports, the commit thread's arena)
/// would otherwise stay resident in an idle daemon.
pub(crate) const QUIET_AFTER: Duration = Duration::from_secs(2);
pub(crate) const TRIM_AFTER: usize = 1024;
/// ipset timeouts stop at 24.8 days; longer bans are re-added this often.
pub(crate) const REFRESH_EVERY: Duration = Duration::from_secs(24 * 3600);

impl Daemon {
    /// Re-add bans that outlast ipset's largest timeout, so the kernel keeps them.
    pub(crate) fn refresh_long_bans(&mut self) {
        self.housekeeping.last_refresh = Instant::now();
        let now = self.now_us();
        let horizon = now + (REFRESH_EVERY.as_micros() as Micros) * 2;
        for ji in 0..self.pipeline.jails.len() {
            let entries: Vec<crate::ban::BanEntry> = self
                .pipeline
                .bans
                .of_jail(ji)
                .filter(|b| b.until.is_some_and(|u| u > horizon))
                .map(|b| kernel_entry(b.addr, b.until, now))
                .collect();
            if !entries.is_empty() {
                let name = self.pipeline.jails[ji].config.name.clone();
                self.enforce(&name, &entries, "refreshing long");
            }
        }
    }

    /// Forget ban counts older than `[daemon] ban_count_max_age`, on disk and in
    /// memory, so that they do not pile up for every address ever banned (the same
    /// rule on both sides: not banned now, latest ban begun before the cutoff).
    pub(crate) fn forget_old_counts(&mut self, now: Micros) {
        let BanTime::Finite(age) = self.cfg.daemon.ban_count_max_age else {
            return;
        };
        let before = now.saturating_sub(age);
        let Some(store) = self.state.store_mut() else {
            self.pipeline.bans.forget_counts(before);
            return;
        };
        match store.prune_counts(before) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "forgot the ban counts of {n} addresses whose latest ban began over {} ago",
                self.cfg.daemon.ban_count_max_age
            ),
            // Only the increment of old offenders is at stake: carry on.
            Err(e) => tracing::error!("{e}"),
        }
        self.pipeline.bans.forget_counts(before);
    }

    /// Count decisions toward the next heap trim (see quiet()).
    pub(crate) fn note_decisions(&mut self, n: usize) {
        self.housekeeping.decisions_since_trim += n;
        self.housekeeping.decisions_since_release += n;
    }

    /// The journal has been quiet for QUIET_AFTER: drop the journal pages reading
    /// mapped, after any decision the code pages it ran, and after a burst the freed
    /// heap as well. One wake-up after each busy spell; none while entries keep
    /// coming, none on a host with nothing to read.
    pub(crate) fn quiet(&mut self) {
        self.housekeeping.quiet_at = None;
        if self.housekeeping.decisions_since_trim >= TRIM_AFTER {
            self.housekeeping.decisions_since_trim = 0;
            self.housekeeping.decisions_since_release = 0;
            give_back_memory();
        } else if self.housekeeping.decisions_since_release > 0 {
            self.housekeeping.decisions_since_release = 0;
            release_journal_pages();
            release_code_pages();
        } else {
            release_journal_pages();
        }
    }

    pub(crate) fn keepalive(&mut self) {
        if let Some(w) = self.notifier.watchdog {
            if self.housekeeping.last_watchdog.elapsed() >= w {
                self.notifier.notify("WATCHDOG=1");
                self.housekeeping.last_watchdog = Instant::now();
            }
        }
    }
}

/// What an idle daemon need not keep resident, given back after start-up, after a
/// burst (see TRIM_AFTER) and once a day:
/// - the heap that was freed (compiling every filter, the catch-up's batches, a burst's
///   buffers): glibc keeps freed pages mapped, and an idle daemon would carry them for
///   good (built-in config: heap 2.96 -> 2.40 MiB at idle);
/// - the journal pages libsystemd left mapped (see journal::mapped). This runs on the
///   main thread, which owns the journal reader, as that module requires;
/// - the page-table entries of code and read-only data that start-up or the burst ran
///   (see codepages.rs; no thread of the daemon loads or unloads a library).
pub(crate) fn give_back_memory() {
    // SAFETY: malloc_trim only returns free memory of glibc's own arenas to the kernel.
    unsafe {
        nix::libc::malloc_trim(0);
    }
    release_journal_pages();
    release_code_pages();
}

pub(crate) fn release_code_pages() {
    if let Err(e) = super::codepages::release_code_pages() {
        tracing::debug!("releasing code pages: {e}");
    }
}

pub(crate) fn release_journal_pages() {
    if let Err(e) = crate::journal::mapped::release_journal_pages() {
        tracing::debug!("releasing journal pages: {e}");
    }
}
