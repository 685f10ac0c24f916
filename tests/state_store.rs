//! The durable state store against real files: round trips, reopen, kill -9 in the
//! middle of committing, damaged and foreign files, the single-daemon lock, and the
//! cost of 100k bans.
//!
//! Files live under Cargo's target tmpdir, not /tmp: /tmp may be a tmpfs, where fsync
//! is free and the timings below would say nothing about a disk.

mod common;

use banjo::addr::Addr;
use banjo::state::{Batch, Durable, OpenOutcome, Opened, Retried, StateError, Store, StoredBan};
use std::collections::hash_map::RandomState;
use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("state-store-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// A distinct IPv4 address per `n`.
fn v4(n: u32) -> Addr {
    Addr::single(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)))
}

fn ban(jail: &str, addr: Addr, since_us: i64, until_us: Option<i64>, count: u32) -> StoredBan {
    StoredBan {
        jail: jail.to_string(),
        addr,
        since_us,
        until_us,
        count,
        failures: 5,
    }
}

fn open(path: &Path) -> (Store, OpenOutcome) {
    Store::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn sorted(mut bans: Vec<StoredBan>) -> Vec<StoredBan> {
    bans.sort_by(|a, b| (&a.jail, a.addr).cmp(&(&b.jail, b.addr)));
    bans
}

/// (jail, addr, count), sorted; the latest ban's time is checked where it matters.
fn sorted_counts(store: &Store) -> Vec<(String, Addr, u32)> {
    let mut c: Vec<_> = store
        .ban_counts()
        .unwrap()
        .into_iter()
        .map(|(j, a, n, _)| (j, a, n))
        .collect();
    c.sort();
    c
}

fn random_u64() -> u64 {
    RandomState::new().build_hasher().finish()
}

#[test]
fn round_trip_bans_cursor_and_counts() {
    let dir = tempdir();
    let path = dir.path().join("state.db");
    let (mut store, outcome) = open(&path);
    assert_eq!(outcome, OpenOutcome::Fresh);
    assert_eq!(store.cursor().unwrap(), None);
    assert!(store.active_bans().unwrap().is_empty());

    let prefix: Addr = "2001:db8:1:2::/64".parse().unwrap();
    let a = ban("sshd", v4(1), 1_000, Some(2_000), 1);
    let b = ban("sshd", prefix, 1_100, None, 3);
    let c = ban("postfix", v4(1), 1_200, Some(9_000), 1);
    store
        .commit(&Batch {
            bans: vec![a.clone(), b.clone(), c.clone()],
            unbans: vec![],
            cursor: Some("s=abc;i=1".into()),
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(store.cursor().unwrap().as_deref(), Some("s=abc;i=1"));
    assert_eq!(
        sorted(store.active_bans().unwrap()),
        sorted(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(
        sorted_counts(&store),
        vec![
            ("postfix".into(), v4(1), 1),
            ("sshd".into(), v4(1), 1),
            ("sshd".into(), prefix, 3),
        ]
    );

    // Unban keeps the count; a batch without a cursor leaves the cursor alone.
    store
        .commit(&Batch {
            unbans: vec![("sshd".into(), v4(1))],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(store.cursor().unwrap().as_deref(), Some("s=abc;i=1"));
    assert_eq!(
        sorted(store.active_bans().unwrap()),
        sorted(vec![b.clone(), c.clone()])
    );
    assert!(sorted_counts(&store).contains(&("sshd".into(), v4(1), 1)));

    // The second ban of the address raises its count; recording it again does not.
    let a2 = ban("sshd", v4(1), 5_000, Some(7_000), 2);
    for _ in 0..2 {
        store
            .commit(&Batch {
                bans: vec![a2.clone()],
                unbans: vec![],
                cursor: Some("s=abc;i=2".into()),
                ..Batch::default()
            })
            .unwrap();
    }
    assert!(sorted_counts(&store).contains(&("sshd".into(), v4(1), 2)));
    assert_eq!(store.cursor().unwrap().as_deref(), Some("s=abc;i=2"));

    // Unban then ban of one key in one batch: banned (see Batch docs).
    let a3 = ban("sshd", v4(1), 8_000, None, 3);
    store
        .commit(&Batch {
            bans: vec![a3.clone()],
            unbans: vec![("sshd".into(), v4(1))],
            cursor: None,
            ..Batch::default()
        })
        .unwrap();
    assert!(store.active_bans().unwrap().contains(&a3));
    assert!(store.take_warnings().is_empty());
}

#[test]
fn reopen_keeps_everything() {
    let dir = tempdir();
    let path = dir.path().join("state.db");
    let bans: Vec<StoredBan> = (0..50)
        .map(|i| ban("sshd", v4(i), i as i64, Some(1_000 + i as i64), 1 + i % 3))
        .collect();
    {
        let (mut store, _) = open(&path);
        store
            .commit(&Batch {
                bans: bans.clone(),
                unbans: vec![],
                cursor: Some("cursor-1".into()),
                ..Batch::default()
            })
            .unwrap();
        store
            .commit(&Batch {
                unbans: vec![("sshd".into(), v4(7))],
                ..Batch::default()
            })
            .unwrap();
    }
    let (store, outcome) = open(&path);
    assert_eq!(outcome, OpenOutcome::Loaded);
    assert_eq!(store.cursor().unwrap().as_deref(), Some("cursor-1"));
    let expected: Vec<StoredBan> = bans.iter().filter(|b| b.addr != v4(7)).cloned().collect();
    assert_eq!(sorted(store.active_bans().unwrap()), sorted(expected));
    assert_eq!(store.ban_counts().unwrap().len(), 50);
}

#[test]
fn prune_forgets_old_counts_but_not_active_bans() {
    let dir = tempdir();
    let (mut store, _) = open(&dir.path().join("state.db"));
    store
        .commit(&Batch {
            bans: vec![
                ban("sshd", v4(1), 100, Some(200), 1), // old, will be unbanned
                ban("sshd", v4(2), 100, None, 1),      // old, still banned
                ban("sshd", v4(3), 5_000, Some(6_000), 1), // recent, unbanned
            ],
            ..Batch::default()
        })
        .unwrap();
    store
        .commit(&Batch {
            unbans: vec![("sshd".into(), v4(1)), ("sshd".into(), v4(3))],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(store.prune_counts(1_000).unwrap(), 1);
    let left: Vec<Addr> = sorted_counts(&store).into_iter().map(|c| c.1).collect();
    assert_eq!(left, vec![v4(2), v4(3)]);
    // Each count comes back with the start of its latest ban, which the daemon's
    // in-memory pruning goes by.
    let mut c = store.ban_counts().unwrap();
    c.sort();
    assert_eq!(
        c,
        vec![
            ("sshd".into(), v4(2), 1, 100),
            ("sshd".into(), v4(3), 1, 5_000)
        ]
    );
}

#[test]
fn missing_directory_is_a_clear_error() {
    let dir = tempdir();
    let path = dir.path().join("no-such-dir").join("state.db");
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StateError::NoStateDir { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("no-such-dir") && msg.contains("StateDirectory"),
        "{msg}"
    );
}

#[test]
fn second_open_is_locked_out() {
    let dir = tempdir();
    let path = dir.path().join("state.db");
    let (first, _) = open(&path);
    let err = Store::open(&path).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StateError::Locked { .. }), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    drop(first);
    let (_again, outcome) = open(&path);
    assert_eq!(outcome, OpenOutcome::Loaded);
}

/// Assert the store was moved aside to a name containing `tag`, that the moved file
/// holds `original`, and that the fresh store works.
fn assert_moved_aside(path: &Path, tag: &str, reason_has: &str) -> PathBuf {
    let (mut store, outcome) = open(path);
    let OpenOutcome::MovedAside {
        path: moved,
        reason,
    } = outcome
    else {
        panic!("expected MovedAside, got {outcome:?}");
    };
    let name = moved.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&format!("state.db.{tag}-")), "{name}");
    assert_eq!(moved.parent(), path.parent());
    assert!(moved.exists());
    assert!(reason.contains(reason_has), "reason: {reason}");
    assert_eq!(store.cursor().unwrap(), None);
    assert!(store.active_bans().unwrap().is_empty());
    store
        .commit(&Batch {
            bans: vec![ban("sshd", v4(9), 1, None, 1)],
            unbans: vec![],
            cursor: Some("after".into()),
            ..Batch::default()
        })
        .unwrap();
    drop(store);
    let (store, outcome) = open(path);
    assert_eq!(outcome, OpenOutcome::Loaded);
    assert_eq!(store.active_bans().unwrap().len(), 1);
    moved
}

#[test]
fn garbage_file_is_moved_aside() {
    let dir = tempdir();
    let path = dir.path().join("state.db");
    let mut bytes = Vec::new();
    while bytes.len() < 10_000 {
        bytes.extend_from_slice(&random_u64().to_le_bytes());
    }
    std::fs::write(&path, &bytes).unwrap();
    let moved = assert_moved_aside(&path, "corrupt", "not an SQLite database");
    assert_eq!(std::fs::read(moved).unwrap(), bytes);
}

/// A store with `n` bans, closed cleanly (its WAL checkpointed into the main file).
fn make_store(path: &Path, n: u32) {
    let (mut store, _) = open(path);
    store
        .commit(&Batch {
            bans: (0..n).map(|i| ban("sshd", v4(i), 1, None, 1)).collect(),
            unbans: vec![],
            cursor: Some("before".into()),
            ..Batch::default()
        })
        .unwrap();
}

#[test]
fn future_version_is_moved_aside_and_kept() {
    let dir = tempdir();
    let path = dir.path().join("state.db");
    make_store(&path, 3);
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let moved = assert_moved_aside(&path, "future-v999", "schema version 999");
    // The newer banjo's data is intact for it (or an operator) to pick up again.
    let old = rusqlite::Connection::open(moved).unwrap();
    let n: i64 = old
        .query_row("SELECT count(*) FROM bans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
}

#[test]
fn truncated_file_is_moved_aside() {
    for keep in [50u64, 4096, 60_000] {
        let dir = tempdir();
        let path = dir.path().join("state.db");
        make_store(&path, 5_000);
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len > 2 * keep, "store is only {len} bytes");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(keep)
            .unwrap();
        let (_, outcome) = open(&path);
        match outcome {
            OpenOutcome::MovedAside { reason, .. } => {
                eprintln!("truncated to {keep} of {len} bytes: {reason}")
            }
            other => panic!("truncated to {keep} of {len} bytes: {other:?}"),
        }
    }
}

#[test]
fn foreign_sqlite_database_is_moved_aside() {
    let dir = tempdir();
    let path = dir.path().join("state.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE bips(ip TEXT)")
        .unwrap();
    assert_moved_aside(&path, "corrupt", "not banjo's");
}

#[test]
fn empty_file_starts_fresh_with_a_warning() {
    let dir = tempdir();
    let path = dir.path().join("state.db");
    std::fs::write(&path, b"").unwrap();
    let (store, outcome) = open(&path);
    assert_eq!(outcome, OpenOutcome::Fresh);
    let warnings = store.take_warnings();
    assert!(
        warnings.iter().any(|w| w.contains("held no state")),
        "{warnings:?}"
    );
}

#[test]
fn orphaned_wal_is_not_replayed_into_a_fresh_store() {
    let dir = tempdir();
    let path = dir.path().join("state.db");
    std::fs::write(dir.path().join("state.db-wal"), b"stale wal bytes").unwrap();
    let (store, outcome) = open(&path);
    assert_eq!(outcome, OpenOutcome::Fresh);
    let warnings = store.take_warnings();
    assert!(
        warnings.iter().any(|w| w.contains("without the database")),
        "{warnings:?}"
    );
    let orphans = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".orphan-"))
        .count();
    assert_eq!(orphans, 1);
}

#[test]
fn bad_rows_are_skipped_with_warnings() {
    let dir = tempdir();
    let path = dir.path().join("state.db");
    make_store(&path, 2);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "INSERT INTO bans VALUES ('sshd', 'not-an-address', 1, NULL, 1, 1);
             INSERT INTO bans VALUES ('sshd', '192.0.2.77', 1, NULL, -4, 1);
             INSERT INTO bans VALUES ('sshd', '192.0.2.78', 'yesterday', NULL, 1, 1);
             INSERT INTO ban_counts VALUES ('sshd', 'bogus', 1, 1);",
        )
        .unwrap();
    let (store, outcome) = open(&path);
    assert_eq!(outcome, OpenOutcome::Loaded);
    assert_eq!(store.active_bans().unwrap().len(), 2);
    assert_eq!(store.ban_counts().unwrap().len(), 2);
    let warnings = store.take_warnings();
    assert_eq!(warnings.len(), 4, "{warnings:#?}");
    for w in &warnings {
        eprintln!("warning: {w}");
    }
}

// ---- kill -9 ------------------------------------------------------------------------

/// Set in the re-executed test binary: the child commits batches forever.
const CHILD_ENV: &str = "BANJO_STATE_TEST_CHILD";
/// Bans stay for this many batches before the batch that unbans them.
const KEEP: u64 = 5;

fn batch_for(i: u64) -> Batch {
    Batch {
        bans: vec![ban("sshd", v4(i as u32), i as i64, None, 1)],
        unbans: if i > KEEP {
            vec![("sshd".into(), v4((i - KEEP) as u32))]
        } else {
            vec![]
        },
        cursor: Some(format!("s=test;i={i}")),
        ..Batch::default()
    }
}

fn cursor_number(store: &Store) -> u64 {
    match store.cursor().unwrap() {
        None => 0,
        Some(c) => c.strip_prefix("s=test;i=").unwrap().parse().unwrap(),
    }
}

/// Not a test on its own: the body of the child process of
/// `sigkill_at_any_moment_loses_no_reported_commit`. Without the variable it returns.
#[test]
fn child_commit_loop() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let (mut store, _) = open(Path::new(&path));
    let start = cursor_number(&store);
    let mut out = std::io::stdout().lock();
    let deadline = Instant::now() + Duration::from_secs(30); // if the parent is gone
    for i in start + 1.. {
        store.commit(&batch_for(i)).unwrap();
        writeln!(out, "committed {i}").unwrap();
        out.flush().unwrap();
        if Instant::now() > deadline {
            break;
        }
    }
}

#[test]
fn sigkill_at_any_moment_loses_no_reported_commit() {
    let dir = tempdir();
    let path = dir.path().join("state.db");
    let exe = std::env::current_exe().unwrap();
    let mut last = 0u64;
    for round in 0..8 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "child_commit_loop",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut reported = 0u64;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("committed ") {
                    reported = n.trim().parse().unwrap();
                }
            }
            reported
        });
        // Anywhere from "still starting up" to "hundreds of commits in".
        let delay = Duration::from_millis(10 + random_u64() % 400);
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let reported = reader.join().unwrap();

        let (store, outcome) = open(&path);
        assert!(
            matches!(outcome, OpenOutcome::Fresh | OpenOutcome::Loaded),
            "round {round}: {outcome:?}"
        );
        let k = cursor_number(&store);
        eprintln!("round {round}: killed after {delay:?}, reported {reported}, cursor at {k}");
        assert!(
            k >= reported,
            "round {round}: reported {reported}, cursor {k}"
        );
        assert!(
            k >= last,
            "round {round}: cursor went back from {last} to {k}"
        );
        // Cursor and bans moved together: exactly the bans of the last KEEP batches up
        // to the cursor are active, and every batch up to it was counted once.
        let active: BTreeSet<Addr> = store
            .active_bans()
            .unwrap()
            .iter()
            .map(|b| b.addr)
            .collect();
        let want: BTreeSet<Addr> = (k.saturating_sub(KEEP - 1).max(1)..=k)
            .map(|i| v4(i as u32))
            .collect();
        assert_eq!(active, want, "round {round}");
        let counts = store.ban_counts().unwrap();
        assert_eq!(counts.len() as u64, k, "round {round}");
        assert!(counts.iter().all(|c| c.2 == 1), "round {round}");
        last = k;
    }
    assert!(last > 0, "the child never committed anything");
}

// ---- scale --------------------------------------------------------------------------

#[test]
fn hundred_thousand_bans() {
    const N: u32 = 100_000;
    const SINGLES: u32 = 2_000;
    let dir = tempdir();
    let path = dir.path().join("state.db");
    let (mut store, _) = open(&path);
    let batch = Batch {
        bans: (0..N)
            .map(|i| {
                ban(
                    "sshd",
                    v4(i),
                    1_000 + i as i64,
                    Some(1_000_000 + i as i64),
                    1,
                )
            })
            .collect(),
        unbans: vec![],
        cursor: Some("big".into()),
        ..Batch::default()
    };
    let t = Instant::now();
    store.commit(&batch).unwrap();
    eprintln!("commit of {N} bans in one batch: {:?}", t.elapsed());

    let t = Instant::now();
    let bans = store.active_bans().unwrap();
    eprintln!("active_bans() on {N} rows: {:?}", t.elapsed());
    assert_eq!(bans.len(), N as usize);

    drop(store);
    let t = Instant::now();
    let (mut store, outcome) = open(&path);
    let open_time = t.elapsed();
    let bans = store.active_bans().unwrap();
    eprintln!(
        "open (quick_check included) with {N} bans: {open_time:?}; open + active_bans: {:?}; file {} KiB",
        t.elapsed(),
        std::fs::metadata(&path).unwrap().len() / 1024
    );
    assert_eq!(outcome, OpenOutcome::Loaded);
    assert_eq!(bans.len(), N as usize);

    // Single-ban commits on top of the 100k: each one a separate fsync'd transaction.
    let mut lat = Vec::with_capacity(SINGLES as usize);
    let t = Instant::now();
    for i in 0..SINGLES {
        let one = Batch {
            bans: vec![ban("recidive", v4(i), 5, None, 2)],
            unbans: vec![("sshd".into(), v4(i))],
            cursor: Some(format!("single-{i}")),
            ..Batch::default()
        };
        let c = Instant::now();
        store.commit(&one).unwrap();
        lat.push(c.elapsed());
    }
    let total = t.elapsed();
    lat.sort();
    let pct = |p: usize| lat[(lat.len() - 1) * p / 100];
    eprintln!(
        "{SINGLES} single-ban commits (synchronous=FULL): total {total:?}, mean {:?}, p50 {:?}, p99 {:?}, max {:?}",
        total / SINGLES,
        pct(50),
        pct(99),
        pct(100)
    );
    assert_eq!(store.active_bans().unwrap().len(), N as usize);
    assert_eq!(store.cursor().unwrap().as_deref(), Some("single-1999"));
}

/// The daemon may hand the store to a blocking thread; it must stay `Send`.
#[test]
fn store_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
}

#[test]
fn large_batches_record_every_row_in_order() {
    // More rows than one multi-row statement holds, and a remainder; one address
    // twice in the same statement (its second ban wins, its count rises to 2) and a
    // permanent ban among them.
    let dir = tempdir();
    let path = dir.path().join("state.db");
    let (mut store, _) = open(&path);
    let mut bans: Vec<StoredBan> = (0..75)
        .map(|n| ban("sshd", v4(n), 1_000 + n as i64, Some(9_000), 1))
        .collect();
    bans[10] = ban("sshd", v4(3), 2_000, Some(99_000), 2);
    bans[40].until_us = None;
    store
        .commit(&Batch {
            bans: bans.clone(),
            unbans: vec![],
            cursor: Some("c".into()),
            ..Batch::default()
        })
        .unwrap();
    let mut want: Vec<StoredBan> = bans.iter().filter(|b| b.addr != v4(10)).cloned().collect();
    want.retain(|b| !(b.addr == v4(3) && b.count == 1));
    assert_eq!(sorted(store.active_bans().unwrap()), sorted(want.clone()));
    let counts = sorted_counts(&store);
    assert_eq!(counts.len(), 74);
    assert!(counts.contains(&("sshd".into(), v4(3), 2)));
    assert!(counts.iter().filter(|c| c.1 != v4(3)).all(|c| c.2 == 1));
    drop(store);
    let (store, _) = open(&path);
    assert_eq!(sorted(store.active_bans().unwrap()), sorted(want));
    assert_eq!(store.cursor().unwrap().as_deref(), Some("c"));
}

// ---- schema versions ------------------------------------------------------------------

/// The schema of version 1 exactly as banjo 0.1.0 created it (frozen here: the code's
/// own copy may only grow through migrations).
const SCHEMA_V1: &str = "
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
INSERT INTO meta VALUES ('journal_cursor', 's=old;i=42');
INSERT INTO bans VALUES ('sshd', '192.0.2.1', 100, 5000, 2, 5);
INSERT INTO bans VALUES ('sshd', '2001:db8:1:2::/64', 200, NULL, 1, 3);
INSERT INTO ban_counts VALUES ('sshd', '192.0.2.1', 2, 100);
INSERT INTO ban_counts VALUES ('sshd', '2001:db8:1:2::/64', 1, 200);
INSERT INTO ban_counts VALUES ('postfix', '192.0.2.9', 4, 50);
PRAGMA user_version = 1;
";

fn tables_sql(path: &Path) -> Vec<(String, String)> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut st = c
        .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        .unwrap();
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.map(|r| r.unwrap()).collect()
}

fn user_version(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[test]
fn a_version_1_file_still_loads_and_is_migrated() {
    let dir = tempdir();
    let path = dir.path().join("state.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(SCHEMA_V1)
        .unwrap();
    let (mut store, outcome) = open(&path);
    assert_eq!(outcome, OpenOutcome::Loaded);
    let warnings = store.take_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("migrated from version 1 to 2")),
        "{warnings:?}"
    );
    // Everything of version 1 is there, as it was.
    assert_eq!(store.cursor().unwrap().as_deref(), Some("s=old;i=42"));
    let prefix: Addr = "2001:db8:1:2::/64".parse().unwrap();
    let one: Addr = "192.0.2.1".parse().unwrap();
    assert_eq!(
        sorted(store.active_bans().unwrap()),
        sorted(vec![
            ban("sshd", one, 100, Some(5000), 2),
            StoredBan {
                failures: 3,
                ..ban("sshd", prefix, 200, None, 1)
            },
        ])
    );
    assert_eq!(sorted_counts(&store).len(), 3);
    // The new table works and starts empty.
    assert!(store.totals().unwrap().is_empty());
    store
        .commit(&Batch {
            totals: vec![("sshd".into(), 3)],
            ..Batch::default()
        })
        .unwrap();
    drop(store);
    assert_eq!(user_version(&path), banjo::state::SCHEMA_VERSION);
    // A migrated file and a new one have the same schema.
    let fresh = dir.path().join("fresh.db");
    drop(open(&fresh));
    assert_eq!(tables_sql(&path), tables_sql(&fresh));
    let (store, outcome) = open(&path);
    assert_eq!(outcome, OpenOutcome::Loaded);
    assert!(store.take_warnings().is_empty(), "migrated only once");
    assert_eq!(store.totals().unwrap(), vec![("sshd".to_string(), 3)]);
}

#[test]
fn a_version_2_file_without_its_table_is_damage() {
    let dir = tempdir();
    let path = dir.path().join("state.db");
    make_store(&path, 2);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE totals")
        .unwrap();
    assert_moved_aside(&path, "corrupt", "table(s) totals missing");
}

#[test]
fn totals_count_up_and_batches_commit_in_order() {
    let dir = tempdir();
    let path = dir.path().join("state.db");
    let (mut store, _) = open(&path);
    // Ban, then (next batch) unban the same address, then a count learnt later: one
    // transaction, applied in order.
    let b = ban("sshd", v4(1), 10, Some(20), 2);
    store
        .commit_all(&[
            Batch {
                bans: vec![b.clone(), ban("sshd", v4(2), 10, None, 1)],
                totals: vec![("sshd".into(), 2)],
                cursor: Some("c1".into()),
                ..Batch::default()
            },
            Batch {
                unbans: vec![("sshd".into(), v4(1))],
                counts: vec![("sshd".into(), v4(3), 7, 5), ("sshd".into(), v4(1), 1, 1)],
                totals: vec![("sshd".into(), 1), ("recidive".into(), 1)],
                cursor: Some("c2".into()),
                ..Batch::default()
            },
        ])
        .unwrap();
    assert_eq!(store.cursor().unwrap().as_deref(), Some("c2"));
    let active: Vec<Addr> = store
        .active_bans()
        .unwrap()
        .iter()
        .map(|b| b.addr)
        .collect();
    assert_eq!(active, vec![v4(2)]);
    assert_eq!(
        sorted_counts(&store),
        vec![
            ("sshd".into(), v4(1), 2),
            ("sshd".into(), v4(2), 1),
            ("sshd".into(), v4(3), 7)
        ],
        "a count only rises"
    );
    let mut t = store.totals().unwrap();
    t.sort();
    assert_eq!(t, vec![("recidive".into(), 1), ("sshd".into(), 3)]);
}

// ---- faults: a full disk, a read-only one (in a mount namespace of their own) --------

fn sh(cmd: &str) {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn batch_of(i: u32, n: u32) -> Batch {
    Batch {
        bans: (0..n)
            .map(|k| ban("sshd", v4(i * n + k), 1, None, 1))
            .collect(),
        totals: vec![("sshd".into(), n as u64)],
        cursor: Some(format!("c{i}")),
        ..Batch::default()
    }
}

#[test]
fn durable_keeps_what_a_full_disk_refuses_and_commits_it_in_order_once_there_is_room() {
    if !common::ns::enter(
        "durable_keeps_what_a_full_disk_refuses_and_commits_it_in_order_once_there_is_room",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    sh(&format!("mount -t tmpfs -o size=256k tmpfs {d}"));
    let path = dir.path().join("state.db");
    let (mut state, opened) = Durable::open(&path).unwrap();
    assert!(
        matches!(opened, Opened::Store(OpenOutcome::Fresh)),
        "{opened:?}"
    );
    const N: u32 = 50;
    let mut first_refused = None;
    let mut last = 0;
    for i in 0..2_000 {
        last = i;
        match state.commit(&batch_of(i, N)) {
            Ok(()) => assert!(first_refused.is_none(), "batch {i} durable after a refusal"),
            Err(e) => {
                first_refused.get_or_insert((i, e.reason));
            }
        }
        if first_refused.as_ref().is_some_and(|(f, _)| i >= f + 20) {
            break;
        }
    }
    let (refused, reason) = first_refused.expect("the 256k disk never filled");
    eprintln!("batches 0..{refused} durable; refused from {refused} on: {reason}");
    assert!(reason.contains("full"), "{reason}");
    assert_eq!(state.mode(), "not-writable");
    assert!(
        state.take_news().is_some() && state.take_news().is_none(),
        "said once"
    );
    assert_eq!(state.pending_bans(), ((last - refused + 1) * N) as usize);
    // While full, a retry fails and keeps everything.
    assert!(matches!(state.retry_now(), Retried::Failed(_)));
    sh(&format!("mount -o remount,size=16m tmpfs {d}"));
    match state.retry_now() {
        Retried::Recovered { reopened, bans } => {
            assert!(reopened.is_none());
            assert_eq!(bans, ((last - refused + 1) * N) as usize);
        }
        other => panic!("not recovered: {other:?}"),
    }
    assert!(state.is_durable() && state.pending_bans() == 0);
    drop(state);
    let (store, _) = open(&path);
    assert_eq!(store.cursor().unwrap(), Some(format!("c{last}")));
    assert_eq!(
        store.active_bans().unwrap().len(),
        ((last + 1) * N) as usize
    );
    assert_eq!(
        store.totals().unwrap(),
        vec![("sshd".to_string(), ((last + 1) * N) as u64)],
        "every ban counted once"
    );
}

#[test]
fn durable_runs_from_memory_on_a_read_only_disk_and_takes_the_old_file_back() {
    if !common::ns::enter(
        "durable_runs_from_memory_on_a_read_only_disk_and_takes_the_old_file_back",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    sh(&format!("mount -t tmpfs -o size=4m tmpfs {d}"));
    let path = dir.path().join("state.db");
    make_store(&path, 3);
    sh(&format!(
        "mount --bind {d} {d} && mount -o remount,bind,ro {d}"
    ));
    let (mut state, opened) = Durable::open(&path).unwrap();
    let Opened::Memory(e) = opened else {
        panic!("opened a read-only store: {opened:?}")
    };
    assert!(e.to_string().contains("Read-only"), "{e}");
    assert_eq!(state.mode(), "memory");
    assert!(state.store().is_none());
    // What happens meanwhile: one stored ban lifted, one new ban.
    let meanwhile = Batch {
        bans: vec![ban("sshd", v4(100), 5, None, 1)],
        unbans: vec![("sshd".into(), v4(0))],
        totals: vec![("sshd".into(), 1)],
        cursor: Some("later".into()),
        ..Batch::default()
    };
    assert!(state.commit(&meanwhile).is_err());
    assert!(matches!(state.retry_now(), Retried::Failed(_)));
    sh(&format!("mount -o remount,bind,rw {d}"));
    match state.retry_now() {
        Retried::Recovered { reopened, bans } => {
            assert_eq!(reopened, Some(OpenOutcome::Loaded));
            assert_eq!(bans, 1);
        }
        other => panic!("not recovered: {other:?}"),
    }
    let store = state.store().unwrap();
    let active: BTreeSet<Addr> = store
        .active_bans()
        .unwrap()
        .iter()
        .map(|b| b.addr)
        .collect();
    assert_eq!(active, BTreeSet::from([v4(1), v4(2), v4(100)]));
    assert_eq!(store.cursor().unwrap().as_deref(), Some("later"));
}
