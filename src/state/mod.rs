//! The daemon's durable state (`/var/lib/banjo/state.db`): the journal cursor, the
//! active bans, and how often each address was banned per jail (for bantime increment).
//!
//! What it guarantees: [`Store::commit`] writes bans, unbans and the cursor in one
//! SQLite transaction and returns only once it is fsync'd (WAL, `synchronous=FULL`), so
//! a ban is durable before anyone reports it done, and after a `kill -9` at any moment
//! the cursor and the decisions made from the entries before it are either both there
//! or both absent: nothing is lost and no journal entry is counted twice. At start a
//! corrupt file, or one written by a newer banjo, is moved aside and reported
//! ([`OpenOutcome::MovedAside`]) instead of failing the start. An advisory lock keeps a
//! second daemon off the same file.
//!
//! What it must not do: decide anything. It stores what the ban manager decided and
//! hands it back as recorded: expired bans are returned like any other, and the
//! firewall is not touched from here.
//!
//! Schema ([`SCHEMA_VERSION`] in `PRAGMA user_version`), readable with
//! `sqlite3 /var/lib/banjo/state.db 'select * from bans'`:
//! - `meta(key, value)`: `journal_cursor` is the cursor of the last entry whose
//!   consequences are recorded; `logfile_positions` the same for log files (JSON:
//!   per file device, inode, offset, first-line hash and warm-up offset).
//! - `bans(jail, addr, since_us, until_us, count, failures)`: one row per active ban;
//!   `addr` is an [`Addr`] as displayed (`192.0.2.1`, `2001:db8:1:2::/64`), times are
//!   microseconds since the Unix epoch, `until_us` NULL means permanent.
//! - `ban_counts(jail, addr, count, last_us)`: the highest ban count ever recorded for
//!   the address in the jail; it outlives the ban and is pruned by age.
//! - `firewall_objects(backend, kind, name, made_us)`: the kernel objects banjo made
//!   (owned.rs; its own migration step, outside the schema version).
//! - `totals(jail, bans)` (version 2): how many bans the jail has made durable, ever
//!   (`TOTAL BANNED` in `banjo status`), raised in the commit that records them.
//!
//! Older files are migrated at open, one step per version in [`MIGRATIONS`], all in one
//! transaction; a fresh file gets the version 1 tables and then the same steps, so a
//! migrated file and a new one are alike.
//!
//! [`Durable`] (durable.rs) is how the daemon uses a store: it survives a store that
//! cannot be opened or written, keeping the commits it could not make and retrying them.

mod durable;
mod lock;
mod owned;
mod recover;

pub use durable::{Durable, NotDurable, Opened, Retried, Trouble};
pub use owned::{read_objects, ObjectLog};

use crate::addr::Addr;
use recover::Probe;
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One step of the schema: from version `to - 1` to `to`.
pub(crate) struct Migration {
    pub to: i64,
    /// Tables the step creates (checked at open in files of version `to` or later).
    pub tables: &'static [&'static str],
    pub sql: &'static str,
}

/// Every step after version 1, in order. A new step goes at the end with the next
/// number; [`SCHEMA_VERSION`] follows.
pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    to: 2,
    tables: &["totals"],
    sql: "
CREATE TABLE totals(
  jail TEXT NOT NULL PRIMARY KEY,
  bans INTEGER NOT NULL       -- bans made durable, ever: TOTAL BANNED
) WITHOUT ROWID;
",
}];

/// The schema this banjo writes. A file with a higher `user_version` came from a newer
/// banjo and is moved aside rather than misread; a lower one is migrated.
pub const SCHEMA_VERSION: i64 = 1 + MIGRATIONS.len() as i64;

/// Key of the journal cursor in `meta`.
const CURSOR_KEY: &str = "journal_cursor";
/// Key of the log-file positions in `meta`.
const FILES_KEY: &str = "logfile_positions";

// Version 1, as first released; later tables come from MIGRATIONS.
// WITHOUT ROWID: the (jail, addr) key *is* the table, so a ban costs one B-tree insert
// instead of a row plus a separate primary-key index. The comments are kept by SQLite
// and shown by `sqlite3 state.db .schema`.
const SCHEMA: &str = "
CREATE TABLE meta(
  key TEXT NOT NULL PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE bans(
  jail TEXT NOT NULL,
  addr TEXT NOT NULL,         -- 192.0.2.1, or an IPv6 prefix like 2001:db8:1:2::/64
  since_us INTEGER NOT NULL,  -- microseconds since the Unix epoch
  until_us INTEGER,           -- NULL: permanent
  count INTEGER NOT NULL,     -- this is the count-th ban of addr in jail
  failures INTEGER NOT NULL,  -- failures that led to it
  PRIMARY KEY(jail, addr)
) WITHOUT ROWID;
CREATE TABLE ban_counts(
  jail TEXT NOT NULL,
  addr TEXT NOT NULL,
  count INTEGER NOT NULL,     -- highest ban count recorded; survives the unban
  last_us INTEGER NOT NULL,   -- start of the latest ban; pruned by age
  PRIMARY KEY(jail, addr)
) WITHOUT ROWID;
CREATE INDEX ban_counts_last ON ban_counts(last_us);
";

const INSERT_BAN: &str =
    "INSERT OR REPLACE INTO bans(jail, addr, since_us, until_us, count, failures)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/// Bans per statement in a large commit: one statement carrying ROWS rows costs SQLite
/// one parse-free step, bind and reset instead of ROWS of them (measured: the
/// statement overhead was about a quarter of a 100k-ban commit). Rows apply in order,
/// so a key twice in one statement ends as it would row by row.
const ROWS: usize = 32;
// max(), not +1: the caller numbers its bans, and recording the same ban twice (a
// re-commit after a failed firewall call, a ban restored at start) must not inflate
// the count that the next bantime is computed from.
const BUMP_COUNT: &str =
    "INSERT INTO ban_counts(jail, addr, count, last_us) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT(jail, addr) DO UPDATE SET
       count = max(count, excluded.count),
       last_us = max(last_us, excluded.last_us)";
const ADD_TOTAL: &str = "INSERT INTO totals(jail, bans) VALUES (?1, ?2)
     ON CONFLICT(jail) DO UPDATE SET bans = bans + excluded.bans";
const ALL_TOTALS: &str = "SELECT jail, bans FROM totals";
const DELETE_BAN: &str = "DELETE FROM bans WHERE jail = ?1 AND addr = ?2";
const SET_CURSOR: &str = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)";
const GET_CURSOR: &str = "SELECT value FROM meta WHERE key = ?1";
const ALL_BANS: &str = "SELECT jail, addr, since_us, until_us, count, failures FROM bans";
const ALL_COUNTS: &str = "SELECT jail, addr, count, last_us FROM ban_counts";
// An address that is still banned keeps its count however old the ban is (a permanent
// ban from last year): forgetting it would restart its increment while it is banned.
const PRUNE_COUNTS: &str = "DELETE FROM ban_counts WHERE last_us < ?1
     AND NOT EXISTS (SELECT 1 FROM bans WHERE bans.jail = ban_counts.jail AND bans.addr = ban_counts.addr)";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state directory {} does not exist (systemd creates it from StateDirectory=banjo; create it or choose another state file)", .dir.display())]
    NoStateDir { dir: PathBuf },
    #[error("state file {} is in use by another banjo process{} (lock {}); two daemons cannot share one state file", .path.display(), .holder.map(|p| format!(" (pid {p})")).unwrap_or_default(), .lock.display())]
    Locked {
        path: PathBuf,
        lock: PathBuf,
        holder: Option<u32>,
    },
    #[error("state file {} is not a regular file", .path.display())]
    NotAFile { path: PathBuf },
    #[error("{what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {}: {what}: {source}", .path.display())]
    Sqlite {
        what: &'static str,
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("state file {} is unusable ({reason}) and cannot be moved aside to {}: {source}", .path.display(), .to.display())]
    MoveAside {
        path: PathBuf,
        to: PathBuf,
        reason: String,
        source: std::io::Error,
    },
}

/// One active ban as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBan {
    pub jail: String,
    pub addr: Addr,
    /// Microseconds since the Unix epoch.
    pub since_us: i64,
    /// `None`: permanent.
    pub until_us: Option<i64>,
    /// This is the `count`-th ban of `addr` in `jail` (1 for the first).
    pub count: u32,
    /// Failures that led to the ban.
    pub failures: u32,
}

/// What [`Store::open`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenOutcome {
    /// There was no state: a new store was created (first start, or an empty file from
    /// a first start that was interrupted).
    Fresh,
    /// The existing state was read and passed its integrity check.
    Loaded,
    /// The old file was unreadable, corrupt or from a newer banjo and was renamed to
    /// `path` (its `-wal`/`-shm` with it); a fresh store was created.
    MovedAside { path: PathBuf, reason: String },
}

/// Everything one [`Store::commit`] makes durable at once.
///
/// Unbans are applied before bans, so a key in both lists ends up banned (an expired ban
/// followed by a new ban of the same address). A caller that bans and then unbans within
/// one batch should drop the ban from `bans` instead.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Inserted, or replacing the row of the same (jail, addr); each also raises the
    /// address's ban count in the jail to `count`.
    pub bans: Vec<StoredBan>,
    /// (jail, addr) rows to delete; the ban count stays.
    pub unbans: Vec<(String, Addr)>,
    /// Ban counts to raise (to at least `count`, latest ban at least `last_us`) without
    /// a ban row: addresses banned before, learnt from the journal after a state loss.
    pub counts: Vec<(String, Addr, u32, i64)>,
    /// Added to each jail's total of bans: the new decisions among `bans` (a ban
    /// restored or recorded again is not counted twice).
    pub totals: Vec<(String, u64)>,
    /// The cursor of the last journal entry these decisions account for.
    pub cursor: Option<String>,
    /// The log-file positions (opaque text from the source) these decisions account
    /// for: after the last line read.
    pub files: Option<String>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.bans.is_empty()
            && self.unbans.is_empty()
            && self.counts.is_empty()
            && self.totals.is_empty()
            && self.cursor.is_none()
            && self.files.is_none()
    }

    /// Only positions (a cursor, file positions): nothing decided.
    pub fn is_cursor_only(&self) -> bool {
        (self.cursor.is_some() || self.files.is_some())
            && self.bans.is_empty()
            && self.unbans.is_empty()
            && self.counts.is_empty()
            && self.totals.is_empty()
    }
}

/// The open state file. Owned by one thread (the ban manager); not `Sync`.
#[derive(Debug)]
pub struct Store {
    // Field order matters: the connection must close (and checkpoint its WAL) before the
    // lock is released, or a starting daemon could open the file mid-checkpoint.
    conn: Connection,
    _lock: lock::StateLock,
    path: PathBuf,
    warnings: RefCell<Vec<String>>,
    /// `firewall_objects` was created by this open (see owned.rs).
    objects_new: bool,
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

impl Store {
    /// Open (or create) the state file at `path`. Its directory must already exist
    /// (systemd's `StateDirectory=` makes it, with the right owner and mode).
    pub fn open(path: &Path) -> Result<(Store, OpenOutcome), StateError> {
        let dir = parent_dir(path);
        if !dir.is_dir() {
            return Err(StateError::NoStateDir {
                dir: dir.to_path_buf(),
            });
        }
        let lock = lock::acquire(path)?;
        lean_page_cache();
        let mut warnings = Vec::new();
        let (conn, outcome) = match recover::probe(path)? {
            Probe::Ready(conn, version) => {
                let conn = configure(conn, path, &mut warnings)?;
                if version < SCHEMA_VERSION {
                    migrate(&conn, path, version)?;
                    warnings.push(format!(
                        "state file {}: schema migrated from version {version} to {SCHEMA_VERSION}",
                        path.display()
                    ));
                }
                (conn, OpenOutcome::Loaded)
            }
            Probe::Blank(conn) => {
                warnings.push(format!(
                    "state file {} existed but held no state (a first start that was interrupted?); initialised it",
                    path.display()
                ));
                let conn = configure(conn, path, &mut warnings)?;
                init_schema(&conn, path)?;
                (conn, OpenOutcome::Fresh)
            }
            Probe::Missing => {
                if let Some(to) = recover::move_orphans(path)? {
                    warnings.push(format!(
                        "found {}-wal/-shm without the database; moved them to {}-wal/-shm",
                        path.display(),
                        to.display()
                    ));
                }
                (create(path, &mut warnings)?, OpenOutcome::Fresh)
            }
            Probe::Unusable(bad) => {
                let to = recover::move_aside(path, &bad)?;
                let conn = create(path, &mut warnings)?;
                let outcome = OpenOutcome::MovedAside {
                    path: to,
                    reason: bad.reason,
                };
                (conn, outcome)
            }
        };
        let objects_new = owned::migrate(&conn, path)?;
        let store = Store {
            conn,
            _lock: lock,
            path: path.to_path_buf(),
            warnings: RefCell::new(warnings),
            objects_new,
        };
        Ok((store, outcome))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Problems that did not stop anything (rows that could not be read and were
    /// skipped, an empty file initialised, WAL unavailable), for the caller to log.
    /// Each is returned once.
    pub fn take_warnings(&self) -> Vec<String> {
        self.warnings.take()
    }

    fn warn(&self, msg: String) {
        self.warnings.borrow_mut().push(msg);
    }

    fn sql(&self, what: &'static str) -> impl FnOnce(rusqlite::Error) -> StateError + '_ {
        move |source| StateError::Sqlite {
            what,
            path: self.path.clone(),
            source,
        }
    }

    /// The log-file positions whose lines' consequences are recorded (opaque text).
    pub fn file_positions(&self) -> Result<Option<String>, StateError> {
        let mut st = self
            .conn
            .prepare_cached(GET_CURSOR)
            .map_err(self.sql("reading the log-file positions"))?;
        let mut rows = st
            .query(params![FILES_KEY])
            .map_err(self.sql("reading the log-file positions"))?;
        match rows
            .next()
            .map_err(self.sql("reading the log-file positions"))?
        {
            None => Ok(None),
            Some(row) => Ok(row.get::<_, String>(0).ok()),
        }
    }

    /// The cursor of the last journal entry whose consequences are recorded.
    pub fn cursor(&self) -> Result<Option<String>, StateError> {
        let mut st = self
            .conn
            .prepare_cached(GET_CURSOR)
            .map_err(self.sql("reading the cursor"))?;
        let mut rows = st
            .query(params![CURSOR_KEY])
            .map_err(self.sql("reading the cursor"))?;
        match rows.next().map_err(self.sql("reading the cursor"))? {
            None => Ok(None),
            Some(row) => match row.get::<_, String>(0) {
                Ok(cursor) => Ok(Some(cursor)),
                Err(e) => {
                    // Starting from the journal's tail is recoverable; refusing to start is not.
                    self.warn(format!("ignoring the stored journal cursor: {e}"));
                    Ok(None)
                }
            },
        }
    }

    /// Every recorded ban, expired or not. Rows that do not decode are skipped and
    /// reported through [`Store::take_warnings`].
    pub fn active_bans(&self) -> Result<Vec<StoredBan>, StateError> {
        let mut st = self
            .conn
            .prepare_cached(ALL_BANS)
            .map_err(self.sql("reading bans"))?;
        let mut rows = st.query([]).map_err(self.sql("reading bans"))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(self.sql("reading bans"))? {
            match decode_ban(row) {
                Ok(ban) => out.push(ban),
                Err(why) => self.warn(format!("skipping a stored ban: {why}")),
            }
        }
        Ok(out)
    }

    /// (jail, addr, count, start of its latest ban in µs) for every address with a ban
    /// count, banned now or not.
    pub fn ban_counts(&self) -> Result<Vec<(String, Addr, u32, i64)>, StateError> {
        let mut st = self
            .conn
            .prepare_cached(ALL_COUNTS)
            .map_err(self.sql("reading ban counts"))?;
        let mut rows = st.query([]).map_err(self.sql("reading ban counts"))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(self.sql("reading ban counts"))? {
            let decoded = (|| -> Result<_, String> {
                let jail: String = row.get(0).map_err(|e| e.to_string())?;
                let addr = parse_addr(row.get_ref(1).map_err(|e| e.to_string())?)?;
                let count = int::<u32>(row, 2, "count")?;
                let last = int::<i64>(row, 3, "last_us")?;
                Ok((jail, addr, count, last))
            })();
            match decoded {
                Ok(item) => out.push(item),
                Err(why) => self.warn(format!("skipping a stored ban count: {why}")),
            }
        }
        Ok(out)
    }

    /// One transaction: record `batch.bans` (insert or replace, raising their ban
    /// counts), delete `batch.unbans`, raise `batch.counts` and `batch.totals`, set the
    /// cursor if given. Durable when it returns Ok (the WAL is fsync'd); on error
    /// nothing of the batch is recorded.
    pub fn commit(&mut self, batch: &Batch) -> Result<(), StateError> {
        self.commit_all(std::slice::from_ref(batch))
    }

    /// [`Store::commit`] of several batches in order, in one transaction: all of them
    /// or none (the commits a full disk refused, once there is room again).
    pub fn commit_all(&mut self, batches: &[Batch]) -> Result<(), StateError> {
        if batches.iter().all(Batch::is_empty) {
            return Ok(());
        }
        let path = &self.path;
        let sql = |what: &'static str| {
            move |source| StateError::Sqlite {
                what,
                path: path.clone(),
                source,
            }
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("starting a commit"))?;
        for batch in batches {
            write_batch(&tx, batch).map_err(|(what, e)| sql(what)(e))?;
        }
        tx.commit().map_err(sql("committing"))
    }

    /// Each jail's total of bans made durable (TOTAL BANNED).
    pub fn totals(&self) -> Result<Vec<(String, u64)>, StateError> {
        let mut st = self
            .conn
            .prepare_cached(ALL_TOTALS)
            .map_err(self.sql("reading totals"))?;
        let mut rows = st.query([]).map_err(self.sql("reading totals"))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(self.sql("reading totals"))? {
            let decoded = (|| -> Result<_, String> {
                let jail: String = row.get(0).map_err(|e| e.to_string())?;
                Ok((jail, int::<u64>(row, 1, "bans")?))
            })();
            match decoded {
                Ok(t) => out.push(t),
                Err(why) => self.warn(format!("skipping a stored total: {why}")),
            }
        }
        Ok(out)
    }

    /// Forget ban counts whose latest ban started before `older_than_us`, except for
    /// addresses still banned. Returns how many were forgotten.
    pub fn prune_counts(&mut self, older_than_us: i64) -> Result<usize, StateError> {
        self.conn
            .prepare_cached(PRUNE_COUNTS)
            .and_then(|mut st| st.execute(params![older_than_us]))
            .map_err(self.sql("pruning ban counts"))
    }
}

/// The statements of one batch inside a commit's transaction; on error, what failed.
fn write_batch(
    tx: &rusqlite::Transaction<'_>,
    batch: &Batch,
) -> Result<(), (&'static str, rusqlite::Error)> {
    let at = |what: &'static str| move |e| (what, e);
    if !batch.unbans.is_empty() {
        let mut del = tx.prepare_cached(DELETE_BAN).map_err(at("unbanning"))?;
        for (jail, addr) in &batch.unbans {
            del.execute(params![jail, addr.to_string()])
                .map_err(at("unbanning"))?;
        }
    }
    if !batch.bans.is_empty() {
        write_bans(tx, &batch.bans)?;
    }
    if !batch.counts.is_empty() {
        let mut bump = tx
            .prepare_cached(BUMP_COUNT)
            .map_err(at("recording a ban count"))?;
        for (jail, addr, count, last) in &batch.counts {
            bump.execute(params![jail, addr.to_string(), count, last])
                .map_err(at("recording a ban count"))?;
        }
    }
    if !batch.totals.is_empty() {
        let mut add = tx.prepare_cached(ADD_TOTAL).map_err(at("counting bans"))?;
        for (jail, n) in &batch.totals {
            add.execute(params![jail, *n as i64])
                .map_err(at("counting bans"))?;
        }
    }
    if let Some(cursor) = &batch.cursor {
        tx.prepare_cached(SET_CURSOR)
            .and_then(|mut st| st.execute(params![CURSOR_KEY, cursor]))
            .map_err(at("saving the cursor"))?;
    }
    if let Some(files) = &batch.files {
        tx.prepare_cached(SET_CURSOR)
            .and_then(|mut st| st.execute(params![FILES_KEY, files]))
            .map_err(at("saving the log-file positions"))?;
    }
    Ok(())
}

/// Ban rows and their count bumps, ROWS per statement while there are that many.
fn write_bans(
    tx: &rusqlite::Transaction<'_>,
    bans: &[StoredBan],
) -> Result<(), (&'static str, rusqlite::Error)> {
    let at = |what: &'static str| move |e| (what, e);
    let mut chunks = bans.chunks_exact(ROWS);
    if bans.len() >= ROWS {
        let mut ins = tx
            .prepare_cached(&many_rows(INSERT_BAN, ROWS))
            .map_err(at("recording a ban"))?;
        let mut bump = tx
            .prepare_cached(&many_rows(BUMP_COUNT, ROWS))
            .map_err(at("recording a ban"))?;
        for chunk in chunks.by_ref() {
            let addrs: Vec<String> = chunk.iter().map(|b| b.addr.to_string()).collect();
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(ROWS * 6);
            for (b, addr) in chunk.iter().zip(&addrs) {
                values.extend([
                    &b.jail as &dyn rusqlite::ToSql,
                    addr,
                    &b.since_us,
                    &b.until_us,
                    &b.count,
                    &b.failures,
                ]);
            }
            ins.execute(&*values).map_err(at("recording a ban"))?;
            values.clear();
            for (b, addr) in chunk.iter().zip(&addrs) {
                values.extend([&b.jail as &dyn rusqlite::ToSql, addr, &b.count, &b.since_us]);
            }
            bump.execute(&*values)
                .map_err(at("recording a ban count"))?;
        }
    }
    let mut ins = tx
        .prepare_cached(INSERT_BAN)
        .map_err(at("recording a ban"))?;
    let mut bump = tx
        .prepare_cached(BUMP_COUNT)
        .map_err(at("recording a ban"))?;
    for b in chunks.remainder() {
        let addr = b.addr.to_string();
        ins.execute(params![
            b.jail, addr, b.since_us, b.until_us, b.count, b.failures
        ])
        .map_err(at("recording a ban"))?;
        bump.execute(params![b.jail, addr, b.count, b.since_us])
            .map_err(at("recording a ban count"))?;
    }
    Ok(())
}

/// `stmt` (one `VALUES (?1, …, ?k)` row, maybe an upsert clause after it) carrying
/// `rows` rows: `VALUES (?1, …, ?k), (?k+1, …, ?2k), …`.
fn many_rows(stmt: &str, rows: usize) -> String {
    let open = stmt.find("VALUES (").map(|i| i + "VALUES ".len());
    let close = open.and_then(|o| stmt[o..].find(')').map(|c| o + c + 1));
    let (Some(open), Some(close)) = (open, close) else {
        return stmt.to_owned();
    };
    let k = stmt[open..close].matches('?').count();
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=k).map(|i| format!("?{}", r * k + i)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!("{}{}{}", &stmt[..open], values.join(", "), &stmt[close..])
}

fn decode_ban(row: &rusqlite::Row<'_>) -> Result<StoredBan, String> {
    let jail: String = row.get(0).map_err(|e| e.to_string())?;
    let addr = parse_addr(row.get_ref(1).map_err(|e| e.to_string())?)
        .map_err(|e| format!("jail {jail}: {e}"))?;
    let bad = |e: String| format!("jail {jail}, {addr}: {e}");
    Ok(StoredBan {
        since_us: row.get(2).map_err(|e| bad(e.to_string()))?,
        until_us: row.get(3).map_err(|e| bad(e.to_string()))?,
        count: int(row, 4, "count").map_err(bad)?,
        failures: int(row, 5, "failures").map_err(bad)?,
        addr,
        jail,
    })
}

fn parse_addr(v: rusqlite::types::ValueRef<'_>) -> Result<Addr, String> {
    let text = v
        .as_str()
        .map_err(|_| format!("addr is {:?}, not text", v.data_type()))?;
    text.parse::<Addr>()
}

/// A non-negative integer column that must fit `T` (a negative count is damage, not
/// something to wrap around).
fn int<T: TryFrom<i64>>(row: &rusqlite::Row<'_>, idx: usize, name: &str) -> Result<T, String> {
    let v: i64 = row.get(idx).map_err(|e| format!("{name}: {e}"))?;
    T::try_from(v).map_err(|_| format!("{name} {v} is out of range"))
}

/// Stop SQLite from carving its first 20 cache pages (~87 KB of heap, all touched) out
/// of one bulk allocation when the first transaction starts: the state file's few hot
/// pages are then allocated one by one as they are read. Part of the idle-memory budget
/// (bench/idle-memory.sh). It must precede sqlite3_initialize, which the first open
/// calls; later calls return SQLITE_MISUSE and change nothing, so it is safe to repeat.
fn lean_page_cache() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: SQLITE_CONFIG_PAGECACHE takes (void *buf, int sz, int n); a null
        // buffer with n = 0 only sets the bulk-allocation size. sqlite3_config is not
        // thread-safe, but Once serialises this caller and no other code calls it.
        unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_PAGECACHE,
                std::ptr::null_mut::<std::ffi::c_void>(),
                0 as std::ffi::c_int,
                0 as std::ffi::c_int,
            );
        }
    });
}

/// Per-connection settings; `journal_mode` is stored in the file, the rest is not.
fn configure(
    conn: Connection,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<Connection, StateError> {
    let sql = |what: &'static str| {
        move |source| StateError::Sqlite {
            what,
            path: path.to_path_buf(),
            source,
        }
    };
    // Someone inspecting the file with sqlite3 may briefly hold a lock; wait rather
    // than fail a commit.
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(sql("setting busy_timeout"))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(sql("setting journal_mode=WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // The rollback journal with synchronous=FULL is just as durable, only slower.
        warnings.push(format!(
            "state file {}: the filesystem does not support WAL; using journal_mode={mode}",
            path.display()
        ));
    }
    // FULL, not WAL's usual NORMAL: NORMAL may lose the last commits on power loss, and
    // a commit here is a ban someone was told about.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql("setting synchronous=FULL"))?;
    Ok(conn)
}

/// Tables and version in one transaction: a start killed halfway leaves a blank file
/// (see [`Probe::Blank`]), never a half-made schema.
fn init_schema(conn: &Connection, path: &Path) -> Result<(), StateError> {
    let tx = conn.unchecked_transaction();
    tx.and_then(|tx| {
        tx.execute_batch(SCHEMA)?;
        for m in MIGRATIONS {
            tx.execute_batch(m.sql)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()
    })
    .map_err(|source| StateError::Sqlite {
        what: "creating the schema",
        path: path.to_path_buf(),
        source,
    })
}

/// Take a file of schema version `from` to [`SCHEMA_VERSION`], every step in one
/// transaction: a start killed halfway leaves the file at `from`, migrated again next
/// time. Needs a writable file: a full or read-only disk fails the open (the daemon
/// then runs from memory and retries).
fn migrate(conn: &Connection, path: &Path, from: i64) -> Result<(), StateError> {
    let tx = conn.unchecked_transaction();
    tx.and_then(|tx| {
        for m in MIGRATIONS.iter().filter(|m| m.to > from) {
            tx.execute_batch(m.sql)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()
    })
    .map_err(|source| StateError::Sqlite {
        what: "migrating the schema",
        path: path.to_path_buf(),
        source,
    })
}

fn create(path: &Path, warnings: &mut Vec<String>) -> Result<Connection, StateError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|source| StateError::Sqlite {
        what: "cannot create",
        path: path.to_path_buf(),
        source,
    })?;
    let conn = configure(conn, path, warnings)?;
    init_schema(&conn, path)?;
    // SQLite syncs the file's contents, not the directory entry naming it.
    recover::sync_dir(path)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_rows_numbers_every_row_and_keeps_the_upsert() {
        assert_eq!(
            many_rows("INSERT INTO t(a, b) VALUES (?1, ?2)", 2),
            "INSERT INTO t(a, b) VALUES (?1, ?2), (?3, ?4)"
        );
        let bump = many_rows(BUMP_COUNT, 3);
        assert!(
            bump.contains("VALUES (?1, ?2, ?3, ?4), (?5, ?6, ?7, ?8), (?9, ?10, ?11, ?12)\n"),
            "{bump}"
        );
        assert!(
            bump.ends_with("last_us = max(last_us, excluded.last_us)"),
            "{bump}"
        );
    }
}
