//! The reader: where the daemon's sources stand and how they are read. The main
//! source (the journal, or what a test feeds: source.rs) resumed after the saved
//! cursor with a warm-up (warmup.rs: each jail re-reads its own findtime of history,
//! counting only, so failure windows are whole again); the jails' log files from their
//! saved positions (journal::logfile re-reads a findtime before them); both saved with
//! the decisions they led to, or on their own every CURSOR_EVERY.
//!
//! Owns positions and batches of entries; must not commit decisions (backlog.rs does)
//! or apply them.

use super::source::CursorSource;
use super::{warmup, Daemon, RunOptions};
use crate::config::JailConfig;
use crate::journal::filesource::{LogFileSource, LogPath};
use crate::journal::logfile::{Positions, Start};
use crate::journal::sdjournal::{JournalSource, Location};
use crate::journal::source::{EntrySource, Position};
use crate::pipeline::Pipeline;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entries handled between two looks at signals and the socket.
pub(crate) const BATCH: usize = 4096;
/// With no decisions, the cursor is still saved this often.
pub(crate) const CURSOR_EVERY: Duration = Duration::from_secs(1);

impl Daemon {
    /// Resume after the saved cursor, each jail re-reading its own findtime of history
    /// first (counting only, see warmup.rs) so failure windows are whole again. With no
    /// saved cursor: `--since`, else (the state was lost) after the last entry banjo's
    /// previous run wrote, else the end of the journal.
    pub(crate) fn position_reader(&mut self, resume: Option<String>) -> anyhow::Result<()> {
        let stored = match self.state.store() {
            Some(s) => s.cursor()?,
            None => None,
        };
        let cursor = match (stored, self.opts.since, resume) {
            (Some(c), _, _) => Some(c),
            (None, Some(t), _) => {
                self.source.seek_realtime(t)?;
                return Ok(());
            }
            (None, None, Some(c)) => {
                tracing::warn!(
                    "no saved journal position: resuming after the last entry of banjo's previous run"
                );
                Some(c)
            }
            (None, None, None) => None,
        };
        let Some(c) = cursor else {
            self.source.seek_tail()?;
            // Save "the end of the journal now" at once: should we die within the
            // first second, the next start resumes here instead of at a later tail,
            // and misses nothing.
            if let Ok(c) = self.source.cursor() {
                let batch = crate::state::Batch {
                    cursor: Some(c),
                    ..Default::default()
                };
                if self.state.commit(&batch).is_err() {
                    self.announce_state();
                }
            }
            return Ok(());
        };
        match self.source.cursor_time(&c)? {
            Some(t) => {
                let Some(loc) = self.journal_at.clone() else {
                    self.source.seek_after_cursor(&c)?;
                    return Ok(());
                };
                match warmup::rebuild(&loc, &mut self.pipeline, &c, t) {
                    Ok(n) => tracing::info!(
                        "failure windows rebuilt from {n} entries (each jail its own findtime before the saved position)"
                    ),
                    // Windows start empty: a burst split by the restart may need its
                    // failures again. Not a reason to stay down.
                    Err(e) => tracing::error!("rebuilding failure windows: {e}"),
                }
            }
            None => tracing::warn!(
                "saved journal position is gone (journal vacuumed?); continuing at the next entry"
            ),
        }
        self.source.seek_after_cursor(&c)?;
        Ok(())
    }

    /// Follow the jails' logpaths: each file from its saved position (re-reading one
    /// findtime before it to rebuild windows, see logfile.rs), a file never seen from
    /// its end (`--since`: from its start, lines before that time read over). A file
    /// that cannot be followed is said and the rest run.
    pub(crate) fn open_files(&mut self, at_start: bool) {
        if self.pipeline.logpaths.is_empty() {
            self.files = None;
            return;
        }
        let saved = self.saved_file_positions();
        self.open_files_from(saved, at_start);
    }

    pub(crate) fn open_files_from(&mut self, saved: Positions, at_start: bool) {
        let paths: Vec<LogPath> = self
            .pipeline
            .logpaths
            .iter()
            .map(|p| LogPath {
                pattern: p.pattern.clone(),
                dates: p.datepattern.clone(),
            })
            .collect();
        if paths.is_empty() {
            self.files = None;
            return;
        }
        let first = at_start && saved.patterns.is_empty();
        let (start, since) = match self.opts.since {
            Some(t) if first => (Start::Beginning, Some(t)),
            _ => (Start::End, None),
        };
        let configs: Vec<Arc<JailConfig>> = self
            .pipeline
            .jails
            .iter()
            .map(|j| j.config.clone())
            .collect();
        let window = crate::pipeline::logfile_window(&configs);
        match LogFileSource::open(
            paths,
            &saved,
            start,
            since,
            window,
            &self.pipeline.wanted_fields(),
        ) {
            Ok(mut f) => {
                for n in f.take_notes() {
                    tracing::warn!("log files: {n}");
                }
                tracing::info!("following {} log files", f.open_files());
                self.files = Some(f);
                // As for the journal's tail: the positions of a first start are saved
                // at once, so a crash in the first second misses nothing.
                if first {
                    self.files_dirty = true;
                    self.commit_cursor();
                }
            }
            Err(e) => tracing::error!("log files: {e}; no log file is read"),
        }
    }

    /// After a reload: follow the new set of logpaths, if it changed, from where the
    /// old follower stood. No warm-up: the failure windows were carried over.
    pub(crate) fn reopen_files(&mut self) {
        let now: Vec<&str> = self
            .pipeline
            .logpaths
            .iter()
            .map(|p| p.pattern.as_str())
            .collect();
        let was: Vec<&str> = match &self.files {
            Some(f) => f.patterns().iter().map(|p| p.pattern.as_str()).collect(),
            None => Vec::new(),
        };
        if now == was {
            return;
        }
        self.files_dirty = true;
        let mut saved = self
            .files
            .as_ref()
            .map(|f| f.positions())
            .unwrap_or_default();
        for p in &mut saved.files {
            p.warm = p.offset;
        }
        self.files = None;
        self.open_files_from(saved, false);
    }

    pub(crate) fn saved_file_positions(&self) -> Positions {
        let text = match self.state.store().map(|s| s.file_positions()) {
            Some(Ok(Some(t))) => t,
            Some(Err(e)) => {
                tracing::error!("{e}; log files start at their end");
                return Positions::default();
            }
            _ => return Positions::default(),
        };
        LogFileSource::parse_positions(&text).unwrap_or_else(|e| {
            tracing::error!(
                "stored log-file positions unreadable ({e}); log files start at their end"
            );
            Positions::default()
        })
    }

    /// Save where the sources stand (nothing decided since the last save).
    pub(crate) fn commit_cursor(&mut self) {
        let batch = crate::state::Batch {
            cursor: self.source.cursor().ok().filter(|_| self.cursor_dirty),
            files: match (&mut self.files, self.files_dirty) {
                (Some(f), true) => match f.position() {
                    Some(Position::Files(t)) => Some(t),
                    _ => None,
                },
                _ => None,
            },
            ..Default::default()
        };
        if batch.is_empty() {
            return;
        }
        if self.state.commit(&batch).is_err() {
            // Kept with the decisions that are not durable; said once, when it began.
            self.announce_state();
        }
        self.cursor_dirty = false;
        self.files_dirty = false;
        self.last_cursor_commit = Instant::now();
    }
}

/// The parts of the daemon that reading a batch touches, apart from the state, so a
/// commit can run beside it.
pub(crate) struct Reader<'a> {
    pub(crate) source: &'a mut dyn EntrySource,
    pub(crate) pipeline: &'a mut Pipeline,
}

/// Which of the daemon's sources a drain reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Which {
    Journal,
    Files,
}

impl Which {
    pub(crate) fn of<'a>(
        self,
        journal: &'a mut Box<dyn CursorSource>,
        files: &'a mut Option<LogFileSource>,
    ) -> Option<&'a mut dyn EntrySource> {
        match self {
            Which::Journal => Some(&mut **journal as &mut dyn EntrySource),
            Which::Files => files.as_mut().map(|f| f as &mut dyn EntrySource),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Which::Journal => "journal",
            Which::Files => "log files",
        }
    }
}

impl Reader<'_> {
    /// Read and decide up to BATCH entries; (entries read, entries a jail took, the
    /// source's notes).
    pub(crate) fn read_batch(
        &mut self,
        events: &mut Vec<crate::events::Event>,
    ) -> (usize, usize, Vec<String>) {
        let mut taken = 0;
        let pipeline = &mut *self.pipeline;
        let n = self.source.read_batch(BATCH, &mut |entry| {
            if pipeline.feed(entry, &mut |ev| events.push(ev)) {
                taken += 1;
            }
        });
        (n, taken, self.source.take_notes())
    }
}

pub(crate) fn open_source(opts: &RunOptions, p: &Pipeline) -> anyhow::Result<JournalSource> {
    let loc = opts.journal.clone().unwrap_or(Location::System);
    // No sd_journal matches when following (see JournalSource::open): every entry is
    // read and the pipeline routes it.
    let mut s = JournalSource::open(&loc, &[], &p.wanted_fields())?;
    s.precise_time = true;
    Ok(s)
}
