//! The native journal through libsystemd: one reader for all jails.
//!
//! All jails' match groups are handed to sd_journal so entries no jail wants are never
//! decoded. Per entry we read MESSAGE with `get_data` (a C-string name: no allocation)
//! and the few other fields routing and filters need; with three or more fields one
//! `enumerate_data` pass is cheaper than repeated lookups (shared/JOURNAL.md).

use super::Entry;
use crate::route::MatchRules;
use std::ffi::CString;
use std::path::PathBuf;
use systemd::journal::{Journal, OpenDirectoryOptions, OpenFilesOptions, OpenOptions};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot open the journal {what}: {source}")]
    Open {
        what: String,
        source: systemd::Error,
    },
    #[error("journal read failed: {0}")]
    Read(systemd::Error),
    #[error("cannot seek to cursor {cursor:?}: {source}")]
    Seek {
        cursor: String,
        source: systemd::Error,
    },
    #[error("bad journal match {0:?}")]
    Match(String),
}

/// Which journal to read.
#[derive(Debug, Clone)]
pub enum Location {
    /// The system journal (as journalctl with no options, system units only).
    System,
    /// A directory of journal files (`journalctl --directory`).
    Directory(PathBuf),
    /// Specific files (`journalctl --file`).
    Files(Vec<PathBuf>),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::System => f.write_str("system journal"),
            Location::Directory(d) => write!(f, "directory {}", d.display()),
            Location::Files(fs) => write!(
                f,
                "files {}",
                fs.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// How the fields beyond MESSAGE are read.
enum FieldPlan {
    None,
    /// Few fields: one `get_data` each.
    Lookup(Vec<(String, CString)>),
    /// Many fields: one pass over the entry.
    Enumerate(Vec<String>),
}

pub struct JournalSource {
    journal: Journal,
    plan: FieldPlan,
    /// Read `_SOURCE_REALTIME_TIMESTAMP` (when the sender logged it) instead of the
    /// receive time. Costs one lookup per entry; replay and the daemon want it.
    pub precise_time: bool,
}

impl JournalSource {
    /// Open `loc` and restrict it to the union of `rules`. `fields` are read into
    /// [`Entry::fields`] for every entry.
    pub fn open(
        loc: &Location,
        rules: &[&MatchRules],
        fields: &[String],
    ) -> Result<Self, JournalError> {
        let open_err = |source| JournalError::Open {
            what: loc.to_string(),
            source,
        };
        let mut journal = match loc {
            Location::System => OpenOptions::default()
                .system(true)
                .local_only(false)
                .open()
                .map_err(open_err)?,
            Location::Directory(d) => OpenDirectoryOptions::default()
                .open_directory(d.to_string_lossy().as_ref())
                .map_err(open_err)?,
            Location::Files(fs) => {
                let names: Vec<String> = fs
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                OpenFilesOptions::default()
                    .open_files(names.iter().map(String::as_str))
                    .map_err(open_err)?
            }
        };
        // Fields larger than this are truncated by libsystemd before we see them:
        // a 100 MB MESSAGE costs no more than our matching cap.
        journal
            .set_data_threshold(super::MAX_MESSAGE + 64)
            .map_err(JournalError::Read)?;
        for r in rules {
            for g in &r.groups {
                for (field, values) in &g.terms {
                    for v in values {
                        journal.match_add(field, v.clone()).map_err(|_| {
                            JournalError::Match(format!("{field}={}", String::from_utf8_lossy(v)))
                        })?;
                    }
                }
                journal.match_or().map_err(JournalError::Read)?;
            }
        }
        let plan = match fields.len() {
            0 => FieldPlan::None,
            1 | 2 => FieldPlan::Lookup(
                fields
                    .iter()
                    .filter_map(|f| CString::new(f.as_str()).ok().map(|c| (f.clone(), c)))
                    .collect(),
            ),
            _ => FieldPlan::Enumerate(fields.to_vec()),
        };
        Ok(JournalSource {
            journal,
            plan,
            precise_time: false,
        })
    }

    pub fn seek_head(&mut self) -> Result<(), JournalError> {
        self.journal.seek_head().map_err(JournalError::Read)
    }

    /// Position after the newest entry: `next` returns only entries written later.
    pub fn seek_tail(&mut self) -> Result<(), JournalError> {
        self.journal.seek_tail().map_err(JournalError::Read)?;
        // sd_journal_seek_tail puts us *after* the last entry only once we step back.
        self.journal.previous().map_err(JournalError::Read)?;
        Ok(())
    }

    pub fn seek_realtime(&mut self, us: i64) -> Result<(), JournalError> {
        self.journal
            .seek_realtime_usec(us.max(0) as u64)
            .map_err(JournalError::Read)
    }

    /// Resume after the entry at `cursor`. Returns false when the cursor's entry is
    /// gone (vacuumed): we are then at the nearest later entry, which is read next.
    pub fn seek_after_cursor(&mut self, cursor: &str) -> Result<bool, JournalError> {
        let seek_err = |source| JournalError::Seek {
            cursor: cursor.to_owned(),
            source,
        };
        self.journal.seek_cursor(cursor).map_err(seek_err)?;
        if self.journal.next().map_err(JournalError::Read)? == 0 {
            return Ok(false);
        }
        if self.journal.test_cursor(cursor).map_err(seek_err)? {
            return Ok(true);
        }
        // Not the cursor's entry: step back so the next `next()` returns this one.
        self.journal.previous().map_err(JournalError::Read)?;
        Ok(false)
    }

    /// Time of the entry at `cursor`, if it still exists. Moves the read position.
    pub fn cursor_time(&mut self, cursor: &str) -> Result<Option<i64>, JournalError> {
        let seek_err = |source| JournalError::Seek {
            cursor: cursor.to_owned(),
            source,
        };
        self.journal.seek_cursor(cursor).map_err(seek_err)?;
        if self.journal.next().map_err(JournalError::Read)? == 0 {
            return Ok(None);
        }
        if !self.journal.test_cursor(cursor).map_err(seek_err)? {
            return Ok(None);
        }
        Ok(Some(
            self.journal.timestamp_usec().map_err(JournalError::Read)? as i64,
        ))
    }

    /// Is the entry last returned the one at `cursor`?
    pub fn at_cursor(&self, cursor: &str) -> bool {
        self.journal.test_cursor(cursor).unwrap_or(false)
    }

    /// The cursor of the entry last returned by [`next`](Self::next). Allocates: take
    /// it per batch, not per entry.
    pub fn cursor(&self) -> Result<String, JournalError> {
        self.journal.cursor().map_err(JournalError::Read)
    }

    /// Read the next entry into `entry`. Ok(false) at the end of the journal.
    pub fn next(&mut self, entry: &mut Entry) -> Result<bool, JournalError> {
        if self.journal.next().map_err(JournalError::Read)? == 0 {
            return Ok(false);
        }
        entry.clear();
        entry.time_us = self.journal.timestamp_usec().map_err(JournalError::Read)? as i64;
        // An entry without MESSAGE (or unreadable) is kept with an empty one:
        // routing and field-based filters may still want it.
        if let Ok(Some(f)) = self.journal.get_data(c"MESSAGE") {
            entry.set_message(f.value().unwrap_or(&[]));
        }
        match &self.plan {
            FieldPlan::None => {}
            FieldPlan::Lookup(list) => {
                for (name, c) in list {
                    if let Ok(Some(f)) = self.journal.get_data(c.as_c_str()) {
                        if let Some(v) = f.value() {
                            entry.fields.set(name, v);
                        }
                    }
                }
            }
            FieldPlan::Enumerate(names) => {
                self.journal.restart_data();
                while let Ok(Some(f)) = self.journal.enumerate_data() {
                    let (Ok(n), Some(v)) = (std::str::from_utf8(f.name()), f.value()) else {
                        continue;
                    };
                    if names.iter().any(|w| w == n) {
                        entry.fields.set(n, v);
                    }
                }
            }
        }
        if self.precise_time {
            if let Ok(Some(f)) = self.journal.get_data(c"_SOURCE_REALTIME_TIMESTAMP") {
                if let Some(t) = f
                    .value()
                    .and_then(|v| std::str::from_utf8(v).ok()?.parse::<i64>().ok())
                {
                    entry.time_us = t;
                }
            }
        }
        Ok(true)
    }

    /// Read one more field of the current entry into `entry` (if present).
    pub fn fetch_field(&mut self, entry: &mut Entry, name: &str) {
        let Ok(c) = CString::new(name) else { return };
        if let Ok(Some(f)) = self.journal.get_data(c.as_c_str()) {
            if let Some(v) = f.value() {
                entry.fields.set(name, v);
            }
        }
    }

    /// The raw journal, for waiting on new entries (daemon).
    pub fn journal_mut(&mut self) -> &mut Journal {
        &mut self.journal
    }
}
