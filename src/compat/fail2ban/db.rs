//! fail2ban's database (`dbfile`, usually /var/lib/fail2ban/fail2ban.sqlite3), read
//! only: the bans it holds, in any of its schema versions.
//!
//! Versions (fail2ban's `fail2banDb.version`): 1 and 2 keep one `bans(jail, ip,
//! timeofban, data)` row per ban and no ban time (fail2ban itself then assumes the
//! jail's); 3 adds `bantime` and `bancount` to `bans`; 4 adds `bips`, one row per
//! address and jail holding its latest ban. A `bantime` below 0 is permanent (-1) or
//! unknown after an upgrade (-2, fail2ban uses the jail's). `data` is JSON with the
//! ban's `failures` and `matches`.
//!
//! What it must not do: write the database (it is opened read-only, so a running
//! fail2ban is not disturbed), or decide what is still banned (the caller does, with
//! the jail's bantime).

use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeMap;
use std::path::Path;

/// The latest ban of one address in one jail.
#[derive(Debug, Clone, PartialEq)]
pub struct Ban {
    pub jail: String,
    pub ip: String,
    /// Seconds since the epoch.
    pub timeofban: i64,
    /// Seconds; None when the database does not say (versions 1-2, or -2).
    pub bantime: Option<i64>,
    /// Permanent (bantime -1).
    pub permanent: bool,
    /// How many times the address was banned in the jail (for bantime increment).
    pub bancount: u32,
    pub failures: u32,
}

/// Read every (jail, ip)'s latest ban. Returns the schema version and the bans.
pub fn read(path: &Path) -> Result<(i64, Vec<Ban>), String> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    let err = |e: rusqlite::Error| format!("{}: {e}", path.display());
    let version: i64 = conn
        .query_row("SELECT version FROM fail2banDb LIMIT 1", [], |r| r.get(0))
        .map_err(|e| format!("{}: not a fail2ban database ({e})", path.display()))?;
    let has = |t: &str| -> Result<bool, String> {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?1",
            [t],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(err)
    };
    let cols = |t: &str| -> Result<Vec<String>, String> {
        let mut st = conn
            .prepare(&format!("PRAGMA table_info({t})"))
            .map_err(err)?;
        let names = st
            .query_map([], |r| r.get::<_, String>(1))
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err);
        names
    };
    let mut latest: BTreeMap<(String, String), Ban> = BTreeMap::new();
    let mut rows_per: BTreeMap<(String, String), u32> = BTreeMap::new();
    let table = if has("bips")? { "bips" } else { "bans" };
    if !has(table)? {
        return Ok((version, Vec::new()));
    }
    let with_time = cols(table)?.iter().any(|c| c == "bantime");
    let sql = if with_time {
        format!(
            "SELECT jail, ip, timeofban, bantime, bancount, data FROM {table} ORDER BY timeofban"
        )
    } else {
        format!("SELECT jail, ip, timeofban, NULL, NULL, data FROM {table} ORDER BY timeofban")
    };
    let mut st = conn.prepare(&sql).map_err(err)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                // timeofban is a REAL in version 1 files (1388009242.25932).
                r.get::<_, f64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .map_err(err)?;
    for row in rows {
        let (jail, ip, tob, bantime, bancount, data) = row.map_err(err)?;
        let Some(ip) = ip else { continue };
        let failures = data
            .as_deref()
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .and_then(|v| v.get("failures").and_then(|f| f.as_u64()))
            .unwrap_or(0) as u32;
        let key = (jail.clone(), ip.clone());
        *rows_per.entry(key.clone()).or_default() += 1;
        latest.insert(
            key,
            Ban {
                jail,
                ip,
                timeofban: tob as i64,
                bantime: bantime.filter(|b| *b >= 0),
                permanent: bantime == Some(-1),
                bancount: bancount.map_or(0, |c| c.max(1) as u32),
                failures,
            },
        );
    }
    let mut out = Vec::new();
    for (key, mut b) in latest {
        // Versions 1-2 count bans by their rows.
        if b.bancount == 0 {
            b.bancount = rows_per[&key];
        }
        out.push(b);
    }
    Ok((version, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files";

    #[test]
    fn version_1_and_2_fixtures_read() {
        let (v, bans) = read(&Path::new(FIXTURES).join("database_v1.db")).unwrap();
        assert_eq!(v, 1);
        assert_eq!(bans.len(), 1);
        assert_eq!(bans[0].ip, "127.0.0.1");
        assert_eq!(bans[0].bantime, None);
        let (v, bans) = read(&Path::new(FIXTURES).join("database_v2.db")).unwrap();
        assert_eq!(v, 2);
        assert!(bans
            .iter()
            .any(|b| b.ip == "1.2.3.7" && b.failures == 3 && b.bancount == 1));
    }

    #[test]
    fn not_a_database_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.db");
        std::fs::write(&p, "hello").unwrap();
        assert!(read(&p).is_err());
    }
}
