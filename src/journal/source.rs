//! The seam between where entries come from and the pipeline: [`EntrySource`].
//!
//! Owns the trait every source implements (the journal, log files), the position a
//! source hands out to be committed with the decisions its entries led to, and
//! [`Origin`], which says on an entry where it came from so routing can tell a journal
//! entry from a file line. Must not know jails, filters or the state: a position is
//! opaque text to everything above.

use super::Entry;
use std::os::fd::RawFd;
use std::time::Instant;

/// Where an entry came from. Routing goes by it: journal entries by `journalmatch`, file
/// lines by the logpaths of the file they were read from. A file line can never pass
/// for a journal entry (no field of the line sets this), nor the other way round.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Origin {
    #[default]
    Journal,
    /// A log-file line; bit i: the file matches logpath pattern i of the reader's
    /// combined list (`Pipeline::logpaths`).
    Logs(u64),
}

/// Where a source stands, to be committed in the same transaction as the decisions
/// made from the entries before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// A journal cursor.
    Journal(String),
    /// Log-file positions, serialized (journal::logfile::Positions as JSON).
    Files(String),
}

/// Something the daemon's loop reads entries from.
pub trait EntrySource {
    /// For messages: "journal", "log files".
    fn name(&self) -> &'static str;
    /// The fd to poll for readability (asked each round: a source may reopen).
    fn poll_fd(&mut self) -> Option<RawFd>;
    /// The fd was readable: take its events (rotations, new files) before reading.
    fn readable(&mut self);
    /// When to be looked at without any event (a rotated file being drained).
    fn deadline(&self) -> Option<Instant> {
        None
    }
    /// Read up to `max` entries available now, handing each to `sink`; how many were
    /// read. A bad entry is skipped, never the end of reading.
    fn read_batch(&mut self, max: usize, sink: &mut dyn FnMut(&Entry)) -> usize;
    /// Where reading stands now (after the last entry handed to a sink).
    fn position(&mut self) -> Option<Position>;
    /// Messages worth logging once (a rotated copy recovered, a file gone).
    fn take_notes(&mut self) -> Vec<String> {
        Vec::new()
    }
}
