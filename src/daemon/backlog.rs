//! The backlog: reading everything available now, in batches, deciding as it goes.
//! Outside a backlog a batch is read, decided, committed and applied in turn. A full
//! batch means a backlog (a flood, a catch-up after downtime): then batch k's commit
//! runs on a scoped thread while batch k+1 is read, and its bans go to the kernel in
//! the background once that commit is done (`Firewall::ban_start`). Reading, SQLite and
//! ipset overlap, and the order state -> kernel -> journal entry still holds for every
//! ban: nothing of batch k+1 is committed or applied before batch k.
//!
//! Owns that pipelining; the batches are the reader's, the order of side effects
//! apply.rs's.

use super::reader::{Reader, Which, BATCH};
use super::{apply, log, Daemon};
use crate::state::Durable;

impl Daemon {
    /// Read every entry available now, in batches, deciding as we go.
    ///
    /// A full batch means a backlog. Then each batch's commit runs on a second thread
    /// while the next batch is read, and its bans go to the kernel in the background
    /// once that commit is done (`Firewall::ban_start`): reading, SQLite and ipset
    /// overlap, and the order state → kernel → journal entry still holds for every
    /// ban. Nothing of batch k+1 is committed or applied before batch k.
    pub(crate) fn drain_sources(&mut self) -> anyhow::Result<()> {
        self.drain(Which::Journal)?;
        if self.files.is_some() {
            self.drain(Which::Files)?;
        }
        Ok(())
    }

    /// [`Daemon::drain_sources`] for one source. Each batch's decisions are committed
    /// with that source's position.
    pub(crate) fn drain(&mut self, which: Which) -> anyhow::Result<()> {
        // Batch k, decided, its commit not yet started.
        let mut decided: Option<apply::Prepared> = None;
        loop {
            let mut events = Vec::new();
            // Shared by the commit thread and its fallback, which the borrow checker
            // cannot tell apart.
            let store = &std::sync::Mutex::new(&mut self.state);
            let Some(source) = which.of(&mut self.source, &mut self.files) else {
                return Ok(());
            };
            let mut reader = Reader {
                source,
                pipeline: &mut self.pipeline,
            };
            let (read, committed) = std::thread::scope(|s| {
                let batch = decided.as_ref().map(|p| &p.batch).filter(|b| !b.is_empty());
                let Some(batch) = batch else {
                    return (reader.read_batch(&mut events), None);
                };
                let spawned = std::thread::Builder::new()
                    .name("state-commit".into())
                    .spawn_scoped(s, || commit_shared(store, batch));
                match spawned {
                    Ok(h) => {
                        let read = reader.read_batch(&mut events);
                        let committed = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                        (read, Some(committed))
                    }
                    // No thread to be had (TasksMax): commit first, then read, as
                    // outside a backlog.
                    Err(e) => {
                        tracing::warn!("no thread for the state commit ({e}); committing inline");
                        let committed = commit_shared(store, batch);
                        (reader.read_batch(&mut events), Some(committed))
                    }
                }
            });
            if let Some(p) = decided.take() {
                self.carry_out(p, committed.unwrap_or(Ok(())), true);
            }
            let (n, taken, notes) = read;
            for note in notes {
                tracing::warn!("{}: {note}", which.name());
            }
            match which {
                Which::Journal => {
                    self.metrics.entries_read += n as u64;
                    if n > 0 {
                        self.metrics.journal_lag_us = self.now_us() - self.pipeline.now;
                    }
                }
                Which::Files => self.metrics.lines_read += n as u64,
            }
            self.say_notices();
            if n == 0 {
                self.report();
                return Ok(());
            }
            self.housekeeping.entries_read();
            // Only entries a jail cares about arm the quick polling: unrelated chatter
            // in the journal must not keep an idle banjo awake.
            if taken > 0 {
                self.wakeup.entries_taken();
            }
            // A full batch means a backlog: more entries are probably waiting.
            let more_coming = n == BATCH;
            match which {
                Which::Journal => self.cursor_dirty = true,
                Which::Files => self.files_dirty = true,
            }
            let cursor = if events.is_empty() {
                None
            } else {
                which
                    .of(&mut self.source, &mut self.files)
                    .and_then(|s| s.position())
            };
            let p = self.prepare(events, cursor);
            if more_coming {
                decided = Some(p);
            } else {
                let committed = self.state.commit(&p.batch);
                self.carry_out(p, committed, false);
            }
            if !more_coming {
                self.report();
                return Ok(());
            }
            // A long catch-up (a flood, a restart after downtime) must not look like a
            // hang to systemd's watchdog.
            self.keepalive();
        }
    }

    /// Say, once per jail and kind, that a failure's address cannot be banned.
    pub(crate) fn say_notices(&mut self) {
        for n in std::mem::take(&mut self.pipeline.notices) {
            log::unbannable(&n.jail, &n.ip.to_string(), n.why.as_str());
        }
        for n in std::mem::take(&mut self.pipeline.escalation_notices) {
            log::escalation_refused(&n.jail, &n.net.to_string(), &n.why.to_string());
        }
    }
}

pub(crate) fn commit_shared(
    store: &std::sync::Mutex<&mut Durable>,
    batch: &crate::state::Batch,
) -> Result<(), crate::state::NotDurable> {
    match store.lock() {
        Ok(mut st) => st.commit(batch),
        Err(poisoned) => poisoned.into_inner().commit(batch),
    }
}
