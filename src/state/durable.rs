//! The state as the daemon uses it: a [`Store`] while one can be opened and written,
//! and memory while not, with the commits that could not be made kept in order and
//! retried with backoff.
//!
//! What it guarantees: a commit is either durable when [`Durable::commit`] returns Ok,
//! or kept (with every later one) until [`Durable::retry`] makes them all durable in
//! one transaction, in order. So the saved journal cursor never passes a decision that
//! is not recorded: a restart re-reads what was not made durable and decides it again.
//! Nothing is dropped and nothing is recorded twice.
//!
//! What it must not do: decide or report anything. Whether a ban that is not durable
//! goes to the kernel, and what the journal says about it, is the daemon's business;
//! this only says whether the state holds it, and why not.

use super::{Batch, OpenOutcome, StateError, Store};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// First retry this long after a commit or an open failed; then twice as long each
/// time, up to RETRY_MAX. A full disk is usually freed by hand or by log rotation:
/// minutes, not milliseconds. A failed attempt costs one SQLite transaction (or open).
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Why the state is not durable, since when, and when the next attempt is.
#[derive(Debug, Clone)]
pub struct Trouble {
    /// The error of the last attempt (SQLite's or the file system's words).
    pub reason: String,
    /// Wall clock, µs since the epoch: when the state stopped being durable.
    pub since_us: i64,
    /// Failed attempts since then (the first failure included).
    pub attempts: u32,
    /// When [`Durable::retry`] tries again.
    pub retry_at: Instant,
}

/// A commit that was not made durable (it is kept and retried).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct NotDurable {
    pub reason: String,
}

/// What [`Durable::open`] found.
#[derive(Debug)]
pub enum Opened {
    /// A store, as [`Store::open`] opened it.
    Store(OpenOutcome),
    /// No store could be opened (full, read-only, unreadable, corrupt and not movable):
    /// running from memory; [`Durable::retry`] keeps trying.
    Memory(StateError),
}

/// What one [`Durable::retry`] did.
#[derive(Debug)]
pub enum Retried {
    /// Not time yet, or nothing is wrong.
    NotDue,
    /// Still not durable.
    Failed(String),
    /// Everything kept is durable now.
    Recovered {
        /// The store could not be opened before and was now, as found (with the kept
        /// commits applied on top): the caller reconciles memory with what it held.
        reopened: Option<OpenOutcome>,
        /// Bans among the commits made durable.
        bans: usize,
    },
}

/// The daemon's state: a store or none, and what it could not commit yet.
#[derive(Debug)]
pub struct Durable {
    path: PathBuf,
    store: Option<Store>,
    /// Commits not made durable, oldest first (empty while healthy).
    pending: Vec<Batch>,
    trouble: Option<Trouble>,
    /// The trouble has not been announced yet (see [`Durable::take_news`]).
    news: bool,
    /// What a late open found, until the commits kept are in it too (then returned by
    /// [`Retried::Recovered`]).
    reopened: Option<OpenOutcome>,
}

impl Durable {
    /// Open the store at `path`. Only a lock held by another banjo is an error (two
    /// daemons must not run); any other failure means running from memory.
    pub fn open(path: &Path) -> Result<(Durable, Opened), StateError> {
        let mut d = Durable {
            path: path.to_path_buf(),
            store: None,
            pending: Vec::new(),
            trouble: None,
            news: false,
            reopened: None,
        };
        match Store::open(path) {
            Ok((store, outcome)) => {
                d.store = Some(store);
                Ok((d, Opened::Store(outcome)))
            }
            Err(e @ StateError::Locked { .. }) => Err(e),
            Err(e) => {
                d.fail(e.to_string());
                Ok((d, Opened::Memory(e)))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open store, if there is one (it may still be failing to commit).
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    pub fn store_mut(&mut self) -> Option<&mut Store> {
        self.store.as_mut()
    }

    /// Is everything committed so far durable?
    pub fn is_durable(&self) -> bool {
        self.trouble.is_none()
    }

    pub fn trouble(&self) -> Option<&Trouble> {
        self.trouble.as_ref()
    }

    /// "durable", "not-writable" (a store that refuses commits) or "memory" (none).
    pub fn mode(&self) -> &'static str {
        match (&self.trouble, &self.store) {
            (None, _) => "durable",
            (Some(_), Some(_)) => "not-writable",
            (Some(_), None) => "memory",
        }
    }

    /// Bans in the commits kept for later.
    pub fn pending_bans(&self) -> usize {
        self.pending.iter().map(|b| b.bans.len()).sum()
    }

    /// When the next retry is due, while not durable.
    pub fn retry_at(&self) -> Option<Instant> {
        self.trouble.as_ref().map(|t| t.retry_at)
    }

    /// The reason, once, after the state stopped being durable: for the one journal
    /// entry that says so.
    pub fn take_news(&mut self) -> Option<String> {
        if !std::mem::take(&mut self.news) {
            return None;
        }
        self.trouble.as_ref().map(|t| t.reason.clone())
    }

    /// Make `batch` durable now, or keep it (after every commit kept before it) for a
    /// later retry. While not durable, nothing is attempted here: the next attempt is
    /// the retry's, with backoff.
    pub fn commit(&mut self, batch: &Batch) -> Result<(), NotDurable> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.trouble.is_none() {
            let done = match self.store.as_mut() {
                Some(store) => store.commit(batch).map_err(|e| e.to_string()),
                // Cannot happen (healthy means a store); kept rather than lost.
                None => Err("no state file is open".to_owned()),
            };
            match done {
                Ok(()) => return Ok(()),
                Err(reason) => self.fail(reason),
            }
        }
        self.keep(batch)
    }

    /// Ok while durable, else the reason.
    fn not_durable(&self) -> Result<(), NotDurable> {
        match &self.trouble {
            None => Ok(()),
            Some(t) => Err(NotDurable {
                reason: t.reason.clone(),
            }),
        }
    }

    fn keep(&mut self, batch: &Batch) -> Result<(), NotDurable> {
        match self.pending.last_mut() {
            // A cursor alone only moves the position the kept commits end at: one
            // batch, not one per second of a long outage.
            Some(last) if batch.is_cursor_only() => {
                if batch.cursor.is_some() {
                    last.cursor.clone_from(&batch.cursor);
                }
                if batch.files.is_some() {
                    last.files.clone_from(&batch.files);
                }
            }
            _ => self.pending.push(batch.clone()),
        }
        self.not_durable()
    }

    /// Record a failed attempt and schedule the next.
    fn fail(&mut self, reason: String) {
        let now = Instant::now();
        match &mut self.trouble {
            Some(t) => {
                t.attempts += 1;
                let wait = RETRY_FIRST
                    .saturating_mul(1 << t.attempts.min(16).saturating_sub(1))
                    .min(RETRY_MAX);
                t.retry_at = now + wait;
                t.reason = reason;
            }
            None => {
                self.news = true;
                self.trouble = Some(Trouble {
                    reason,
                    since_us: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_micros() as i64),
                    attempts: 1,
                    retry_at: now + RETRY_FIRST,
                });
            }
        }
    }

    /// If a retry is due at `now`: open the store if there is none, then commit every
    /// kept batch in one transaction.
    pub fn retry(&mut self, now: Instant) -> Retried {
        if self.trouble.as_ref().is_none_or(|t| t.retry_at > now) {
            return Retried::NotDue;
        }
        self.retry_now()
    }

    /// [`Durable::retry`] whether due or not (a clean stop's last chance).
    pub fn retry_now(&mut self) -> Retried {
        if self.trouble.is_none() {
            return Retried::NotDue;
        }
        if self.store.is_none() {
            match Store::open(&self.path) {
                Ok((store, outcome)) => {
                    self.store = Some(store);
                    self.reopened = Some(outcome);
                }
                Err(e) => {
                    self.fail(e.to_string());
                    return Retried::Failed(e.to_string());
                }
            }
        }
        let done = match self.store.as_mut() {
            Some(store) => store.commit_all(&self.pending).map_err(|e| e.to_string()),
            None => Err("no state file is open".to_owned()),
        };
        if let Err(reason) = done {
            // An opened store that refuses the commits stays open (and locked).
            self.fail(reason.clone());
            return Retried::Failed(reason);
        }
        let bans = self.pending_bans();
        self.pending.clear();
        self.pending.shrink_to_fit();
        self.trouble = None;
        self.news = false;
        Retried::Recovered {
            reopened: self.reopened.take(),
            bans,
        }
    }
}
