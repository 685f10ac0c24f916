//! The failure windows' upkeep in the daemon (jail/tracker.rs holds them): say once in
//! the journal that the memory budget made banjo forget windows, and hand the memory
//! of expired windows back to the kernel, also on a host where nothing else happens.

use super::housekeeping::{give_back_memory, TRIM_AFTER};
use super::{log, Daemon};

/// Freed window memory worth a `malloc_trim`: a spray's windows that expired.
const TRIM_BYTES: usize = 1 << 20;

impl Daemon {
    /// After each round of the loop (the pipeline sweeps expired windows on time).
    pub(crate) fn tend_windows(&mut self) {
        let t = &mut self.pipeline.tracker;
        if let Some(n) = t.take_notice() {
            let jail = self
                .pipeline
                .jails
                .get(n.jail)
                .map_or("?", |j| j.config.name.as_str());
            log::tracker_full(jail, n.failures, n.budget);
        }
        if t.freed() >= TRIM_BYTES {
            t.take_freed();
            if self.housekeeping.quiet_at.is_none() {
                // Nothing is being read: give it back now (the windows expired on a
                // quiet host, where no burst's end will trim for us).
                give_back_memory();
            } else {
                // Entries are flowing: at the next quiet spell, as after a burst.
                self.housekeeping.decisions_since_trim =
                    self.housekeeping.decisions_since_trim.max(TRIM_AFTER);
            }
        }
    }
}
