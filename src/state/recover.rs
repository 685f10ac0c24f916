//! Deciding, at start, whether the file at the state path can be used, and moving it
//! aside when it cannot.
//!
//! Only corruption and files from a newer banjo are moved aside. Environment trouble
//! (permission denied, read-only or full disk, I/O errors) is returned as an error
//! instead: moving a healthy database away because the disk hiccuped would throw away
//! every ban.

use super::{StateError, MIGRATIONS, SCHEMA_VERSION};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The 16 bytes every SQLite 3 database file starts with.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The tables of schema version 1; later versions add those of their [`MIGRATIONS`].
const TABLES: [&str; 3] = ["meta", "bans", "ban_counts"];

/// What was found at the state path.
pub(super) enum Probe {
    /// No file: create one.
    Missing,
    /// Our schema at the version given (ours, or an older one to migrate), passed
    /// `quick_check`.
    Ready(Connection, i64),
    /// A valid SQLite file with no tables and version 0: what a first start killed
    /// before its schema transaction committed leaves behind. Nothing to lose in it.
    Blank(Connection),
    /// Corrupt, not SQLite, someone else's database, or written by a newer banjo.
    Unusable(Unusable),
}

pub(super) struct Unusable {
    pub kind: Kind,
    pub reason: String,
}

pub(super) enum Kind {
    Corrupt,
    Future(i64),
}

impl Unusable {
    fn corrupt(reason: impl Into<String>) -> Probe {
        Probe::Unusable(Unusable {
            kind: Kind::Corrupt,
            reason: reason.into(),
        })
    }
}

/// Errors SQLite uses for "these bytes are not a sound database" (as opposed to "the
/// disk or the permissions are in the way").
fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

pub(super) fn probe(path: &Path) -> Result<Probe, StateError> {
    let io_err = |what: &'static str| {
        move |source: io::Error| StateError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    };
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Probe::Missing),
        Err(e) => return Err(io_err("cannot read the state file")(e)),
    };
    if !meta.is_file() {
        return Err(StateError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    // Check the header ourselves first: SQLite's own answer for a file of random bytes
    // is a terse "file is not a database", and only on the first query.
    if meta.len() > 0 {
        let mut head = Vec::with_capacity(100);
        File::open(path)
            .and_then(|f| f.take(100).read_to_end(&mut head))
            .map_err(io_err("cannot read the state file"))?;
        if !head.starts_with(SQLITE_MAGIC) {
            return Ok(Unusable::corrupt(
                "not an SQLite database (the file does not start with the SQLite header)",
            ));
        }
        if head.len() < 100 {
            return Ok(Unusable::corrupt(format!(
                "truncated: {} bytes, shorter than the 100-byte SQLite header",
                head.len()
            )));
        }
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match Connection::open_with_flags(path, flags) {
        Ok(conn) => conn,
        Err(e) if is_corruption(&e) => return Ok(Unusable::corrupt(format!("SQLite: {e}"))),
        Err(source) => {
            return Err(StateError::Sqlite {
                what: "cannot open",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    match inspect(conn) {
        Ok(probe) => Ok(probe),
        Err(e) if is_corruption(&e) => Ok(Unusable::corrupt(format!("SQLite: {e}"))),
        Err(source) => Err(StateError::Sqlite {
            what: "cannot read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn inspect(conn: Connection) -> rusqlite::Result<Probe> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Ok(Probe::Unusable(Unusable {
            kind: Kind::Future(version),
            reason: format!(
                "written by a newer banjo (schema version {version}; this banjo reads up to {SCHEMA_VERSION})"
            ),
        }));
    }
    if version < 0 {
        return Ok(Unusable::corrupt(format!(
            "unknown schema version {version}"
        )));
    }
    let mut problems = Vec::new();
    conn.pragma(None, "quick_check", 3, |r| {
        problems.push(r.get::<_, String>(0)?);
        Ok(())
    })?;
    if problems != ["ok"] {
        return Ok(Unusable::corrupt(format!(
            "quick_check failed: {}",
            problems.join("; ")
        )));
    }
    let tables: Vec<String> = {
        let mut st = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
        let names = st.query_map([], |r| r.get(0))?;
        names.collect::<rusqlite::Result<_>>()?
    };
    if version == 0 {
        if tables.is_empty() {
            return Ok(Probe::Blank(conn));
        }
        return Ok(Unusable::corrupt(format!(
            "an SQLite database, but not banjo's (no schema version; tables: {})",
            tables.join(", ")
        )));
    }
    // Versions below SCHEMA_VERSION are migrated by the caller; each must have the
    // tables it had when it was current.
    let missing: Vec<&str> = TABLES
        .into_iter()
        .chain(
            MIGRATIONS
                .iter()
                .filter(|m| m.to <= version)
                .flat_map(|m| m.tables.iter().copied()),
        )
        .filter(|t| !tables.iter().any(|have| have == t))
        .collect();
    if !missing.is_empty() {
        return Ok(Unusable::corrupt(format!(
            "schema version {version} but table(s) {} missing",
            missing.join(", ")
        )));
    }
    Ok(Probe::Ready(conn, version))
}

/// `state.db` + `-wal` -> `state.db-wal`: SQLite's names for its sidecar files.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Rename `path` (and its `-wal`/`-shm`) to `<name>.<tag>-<unix secs>` next to it, so an
/// operator can still open the old file with `sqlite3` (the sidecars keep SQLite's
/// naming, so the WAL's last commits come along). Returns the new path.
fn rename_aside(path: &Path, tag: &str, reason: &str) -> Result<PathBuf, StateError> {
    let secs = unix_secs();
    let base = path.file_name().unwrap_or_default().to_os_string();
    let mut n = 0u32;
    let to = loop {
        let mut name = base.clone();
        name.push(format!(".{tag}-{secs}"));
        if n > 0 {
            // Two moves in one second (a crash loop): never overwrite an earlier one.
            name.push(format!(".{n}"));
        }
        let candidate = path.with_file_name(name);
        if !candidate.exists() {
            break candidate;
        }
        n += 1;
    };
    let fail = |source: io::Error| StateError::MoveAside {
        path: path.to_path_buf(),
        to: to.clone(),
        reason: reason.to_string(),
        source,
    };
    if path.exists() {
        fs::rename(path, &to).map_err(fail)?;
    }
    for suffix in ["-wal", "-shm"] {
        let from = sidecar(path, suffix);
        match fs::rename(&from, sidecar(&to, suffix)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail(e)),
        }
    }
    sync_dir(path)?;
    Ok(to)
}

/// Move an unusable state file aside; the caller then creates a fresh one.
pub(super) fn move_aside(path: &Path, bad: &Unusable) -> Result<PathBuf, StateError> {
    let tag = match bad.kind {
        Kind::Corrupt => "corrupt".to_string(),
        Kind::Future(v) => format!("future-v{v}"),
    };
    rename_aside(path, &tag, &bad.reason)
}

/// With the database itself gone, a leftover `-wal` would be replayed by SQLite into the
/// fresh file and resurrect (or garble) old state, e.g. after an operator deleted only
/// `state.db` to start over. Returns where it went, if there was one.
pub(super) fn move_orphans(path: &Path) -> Result<Option<PathBuf>, StateError> {
    if !sidecar(path, "-wal").exists() && !sidecar(path, "-shm").exists() {
        return Ok(None);
    }
    rename_aside(path, "orphan", "a -wal/-shm file without its database").map(Some)
}

/// Make a rename or a newly created file in the state directory survive power loss.
pub(super) fn sync_dir(path: &Path) -> Result<(), StateError> {
    let dir = super::parent_dir(path);
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StateError::Io {
            what: "cannot sync the state directory",
            path: dir.to_path_buf(),
            source,
        })
}
