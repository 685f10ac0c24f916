//! What banjo made in the kernel: table `firewall_objects(backend, kind, name,
//! made_us)`, one row per set, chain or nft table a firewall backend made (the kinds
//! and names are ban/owner.rs's `Object`). The backends record an object *before*
//! making it and forget it after removing it, so that a crash in between leaves a row
//! for an object that may exist, never an object of banjo's without a row; what is
//! not on record is not banjo's (issue #15, defect 6).
//!
//! The table is its own migration step, kept apart from the schema version that the
//! rest of the state follows: `CREATE TABLE IF NOT EXISTS` at every open. A file from
//! an older banjo gains it at its first open by this one, which is when
//! [`Store::objects_new`] says the record starts empty and the firewall may trust
//! looks (an older banjo's objects carry no record and no marker). An older banjo
//! opening a newer file ignores the table.
//!
//! The backends record through [`ObjectLog`], a second connection to the same file
//! (the daemon's own is busy with the ban commits, possibly on another thread): WAL
//! lets both write, one at a time.

use super::{StateError, Store};
use rusqlite::{params, Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

const CREATE: &str = "CREATE TABLE IF NOT EXISTS firewall_objects(
  backend TEXT NOT NULL,      -- iptables, nftables
  kind TEXT NOT NULL,         -- ipset, iptables-chain, ip6tables-chain, nft-table
  name TEXT NOT NULL,         -- banjo-sshd-4, banjo-sshd, inet banjo
  made_us INTEGER NOT NULL,   -- when banjo recorded it, microseconds since the Unix epoch
  PRIMARY KEY(backend, kind, name)
) WITHOUT ROWID";
const EXISTS: &str =
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'firewall_objects'";
const SELECT: &str = "SELECT kind, name FROM firewall_objects WHERE backend = ?1";
const INSERT: &str = "INSERT OR IGNORE INTO firewall_objects(backend, kind, name, made_us)
     VALUES (?1, ?2, ?3, ?4)";
const DELETE: &str = "DELETE FROM firewall_objects WHERE backend = ?1 AND kind = ?2 AND name = ?3";

fn has_table(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare(EXISTS)?.exists([])
}

/// Create the table if it is not there; true if it was created now.
pub(super) fn migrate(conn: &Connection, path: &Path) -> Result<bool, StateError> {
    let sql = |source| StateError::Sqlite {
        what: "adding table firewall_objects",
        path: path.to_path_buf(),
        source,
    };
    let had = has_table(conn).map_err(sql)?;
    if !had {
        conn.execute_batch(CREATE).map_err(sql)?;
    }
    Ok(!had)
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// The record of one backend's objects, on a connection of its own.
#[derive(Debug)]
pub struct ObjectLog {
    conn: Connection,
    backend: String,
}

impl Store {
    /// Was `firewall_objects` created by this open (a first start, an upgrade from a
    /// banjo without it, or a state file moved aside)? Then nothing is on record yet.
    pub fn objects_new(&self) -> bool {
        self.objects_new
    }

    /// A second connection to this file for `backend`'s records.
    pub fn object_log(&self, backend: &str) -> Result<ObjectLog, StateError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let sql = |what| {
            move |source| StateError::Sqlite {
                what,
                path: self.path.clone(),
                source,
            }
        };
        let conn = Connection::open_with_flags(&self.path, flags)
            .map_err(sql("opening a connection for firewall objects"))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(sql("setting busy_timeout"))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql("setting synchronous=FULL"))?;
        Ok(ObjectLog {
            conn,
            backend: backend.to_owned(),
        })
    }
}

impl ObjectLog {
    /// Every (kind, name) on record for this backend.
    pub fn load(&self) -> rusqlite::Result<Vec<(String, String)>> {
        let mut st = self.conn.prepare_cached(SELECT)?;
        let rows = st.query_map(params![self.backend], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// Durable when it returns Ok (synchronous=FULL).
    pub fn insert(&self, kind: &str, name: &str) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached(INSERT)?
            .execute(params![self.backend, kind, name, now_us()])
            .map(drop)
    }

    pub fn delete(&self, kind: &str, name: &str) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached(DELETE)?
            .execute(params![self.backend, kind, name])
            .map(drop)
    }
}

/// What `state.db` at `path` records for `backend`, read without taking the daemon's
/// lock (for `banjo flush`, which may run beside a daemon, or after it). `None`: no
/// file or no record kept there (an older banjo's file).
pub fn read_objects(
    path: &Path,
    backend: &str,
) -> Result<Option<Vec<(String, String)>>, StateError> {
    if !path.exists() {
        return Ok(None);
    }
    let sql = |source| StateError::Sqlite {
        what: "reading firewall objects",
        path: path.to_path_buf(),
        source,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sql)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
    if !has_table(&conn).map_err(sql)? {
        return Ok(None);
    }
    let log = ObjectLog {
        conn,
        backend: backend.to_owned(),
    };
    log.load().map(Some).map_err(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_recorded_per_backend_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let (store, _) = Store::open(&path).unwrap();
            assert!(store.objects_new(), "a fresh file starts without a record");
            let log = store.object_log("iptables").unwrap();
            log.insert("ipset", "banjo-sshd-4").unwrap();
            log.insert("ipset", "banjo-sshd-4").unwrap();
            log.insert("iptables-chain", "banjo-sshd").unwrap();
            log.delete("iptables-chain", "banjo-sshd").unwrap();
            store
                .object_log("nftables")
                .unwrap()
                .insert("nft-table", "inet banjo")
                .unwrap();
        }
        let (store, _) = Store::open(&path).unwrap();
        assert!(!store.objects_new());
        let got = store.object_log("iptables").unwrap().load().unwrap();
        assert_eq!(got, [("ipset".to_string(), "banjo-sshd-4".to_string())]);
        // Read beside the daemon's lock, as banjo flush does.
        let read = read_objects(&path, "nftables").unwrap().unwrap();
        assert_eq!(read, [("nft-table".to_string(), "inet banjo".to_string())]);
        assert_eq!(
            read_objects(&dir.path().join("none.db"), "nftables").unwrap(),
            None
        );
    }

    #[test]
    fn an_older_file_gains_the_table_and_says_it_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(Store::open(&path).unwrap());
        // As an older banjo left it: no firewall_objects.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE firewall_objects").unwrap();
        drop(conn);
        assert_eq!(read_objects(&path, "iptables").unwrap(), None);
        let (store, outcome) = Store::open(&path).unwrap();
        assert_eq!(outcome, super::super::OpenOutcome::Loaded);
        assert!(store.objects_new());
    }
}
