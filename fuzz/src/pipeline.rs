//! Target `pipeline`: journal entries through `pipeline::Pipeline` as `banjo replay`
//! runs it (every built-in jail enabled, maxretry 3, bans fed back so recidive sees
//! them), on a virtual clock: the entries' own times.
//!
//! Input: NUL-separated entries. An entry `HEADER|MESSAGE` has a header of tokens
//! separated by spaces: `+N` or `-N` moves the entry's time N seconds from the one
//! before (journal times may go backwards), `#JAIL` takes the fields of that jail's
//! first journalmatch group and `#N` those of the N-th group of all jails (so entries
//! reach every jail), `NAME=VALUE` sets one field more. An entry without `|` is a
//! MESSAGE with sshd's fields, one second after the one before.
//!
//! Oracles beyond "no panic":
//! - the clock never goes backwards, and bans are decided in time order;
//! - a (jail, address) is banned only while not banned, unbanned only while banned,
//!   never before its ban, and the pipeline's ban book holds exactly the bans
//!   announced and not lifted;
//! - a ban has at least maxretry failures behind it;
//! - no address in a jail's ignoreip is banned;
//! - when the clock has run past every bantime, every ban has been lifted.

use banjo::config::{self, JailConfig, SourceFile, BUILTIN, BUILTIN_NAME};
use banjo::events::Event;
use banjo::journal::Entry;
use banjo::pipeline::Pipeline;
use banjo::timefmt::{Micros, SEC};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

const MAX_ENTRIES: usize = 256;
const START: Micros = 1_700_000_000 * SEC;

const DROP_IN: &str = r#"
[defaults]
enabled = true
maxretry = 3
findtime = "10m"
bantime = "10m"
bantime_maxtime = "1d"
"#;

/// Load the configuration before the first input (see `filter_builtin::init`).
pub fn init() {
    setup();
}

struct Setup {
    jails: Vec<Arc<JailConfig>>,
    /// (jail, fields that satisfy one of its journalmatch groups), every group.
    groups: Vec<(String, Fields)>,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let files = vec![
            SourceFile {
                name: BUILTIN_NAME.into(),
                text: BUILTIN.into(),
            },
            SourceFile {
                name: "/fuzz/jail.d/all.toml".into(),
                text: DROP_IN.into(),
            },
        ];
        let cfg = config::load_files(Path::new("/nonexistent"), files, Vec::new());
        assert!(!cfg.has_errors(), "built-in config: {:?}", cfg.diagnostics);
        let jails: Vec<Arc<JailConfig>> = cfg.enabled().cloned().map(Arc::new).collect();
        let mut groups = Vec::new();
        for j in &jails {
            for g in j.filter.journalmatch.iter().flat_map(|(g, _)| g) {
                groups.push((j.name.clone(), fields_of_group(g)));
            }
        }
        Setup { jails, groups }
    })
}

/// The first term of each field in a journalmatch group (`_COMM=sshd _COMM=x _UID=0`
/// -> `_COMM=sshd`, `_UID=0`): an entry with these passes the group.
type Fields = Vec<(String, Vec<u8>)>;

fn fields_of_group(group: &str) -> Fields {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for term in group.split_whitespace() {
        if let Some((k, v)) = term.split_once('=') {
            if !out.iter().any(|(n, _)| n == k) {
                out.push((k.to_owned(), v.as_bytes().to_vec()));
            }
        }
    }
    out
}

#[derive(Default)]
struct Book {
    /// (jail, address) -> time of its ban.
    active: BTreeMap<(String, String), Micros>,
    last_ban: Micros,
}

pub fn run(data: &[u8]) {
    replay(data);
}

/// [`run`], returning how many bans the entries led to (the smoke test checks that
/// the seeds do ban).
pub fn replay(data: &[u8]) -> usize {
    let s = setup();
    let mut bans = 0;
    let mut p = Pipeline::new(s.jails.clone(), &[]);
    p.feed_back_bans = true;
    let mut book = Book::default();
    let mut t = START;
    let mut e = Entry::default();
    for rec in super::parts(data, MAX_ENTRIES) {
        let (header, msg) = match rec.iter().position(|&b| b == b'|') {
            Some(i) => (&rec[..i], &rec[i + 1..]),
            None => (&b"+1 #sshd"[..], rec),
        };
        e.clear();
        t = apply_header(&mut e, header, t, &s.groups);
        e.time_us = t;
        e.set_message(msg);
        let before = p.now;
        let mut events = Vec::new();
        p.feed(&e, &mut |ev| events.push(ev));
        assert!(p.now >= before, "the clock went back");
        for ev in events {
            bans += usize::from(matches!(ev, Event::Ban { .. }));
            check(&p, &mut book, ev);
        }
        assert_eq!(
            p.bans.len(),
            book.active.len(),
            "ban book and events differ"
        );
    }
    // Past every bantime (bantime_maxtime is 1d, recidive's 1w).
    let later = p.now + 30 * 24 * 3600 * SEC;
    let mut events = Vec::new();
    p.advance(later, &mut |ev| events.push(ev));
    for ev in events {
        check(&p, &mut book, ev);
    }
    assert!(
        book.active.is_empty(),
        "bans outlived their bantime: {:?}",
        book.active
    );
    assert!(p.bans.is_empty());
    bans
}

fn apply_header(
    e: &mut Entry,
    header: &[u8],
    mut t: Micros,
    groups: &[(String, Fields)],
) -> Micros {
    let header = String::from_utf8_lossy(header);
    for tok in header.split(' ').filter(|x| !x.is_empty()) {
        let num = |s: &str| {
            s.parse::<i64>()
                .ok()
                .map(|n| n.clamp(0, 100 * 86_400) * SEC)
        };
        if let Some(n) = tok.strip_prefix('+').and_then(num) {
            t = t.saturating_add(n);
        } else if let Some(n) = tok.strip_prefix('-').and_then(num) {
            t = t.saturating_sub(n);
        } else if let Some(sel) = tok.strip_prefix('#') {
            let group = match sel.parse::<usize>() {
                Ok(n) if !groups.is_empty() => groups.get(n % groups.len()),
                _ => groups.iter().find(|(j, _)| j == sel),
            };
            for (k, v) in group.iter().flat_map(|(_, f)| f) {
                e.fields.set(k, v);
            }
        } else if let Some((k, v)) = tok.split_once('=') {
            e.fields.set(k, v.as_bytes());
        }
    }
    t
}

fn check(p: &Pipeline, book: &mut Book, ev: Event) {
    match ev {
        Event::Ban {
            time_us,
            jail,
            addr,
            failures,
            ..
        } => {
            assert!(time_us >= book.last_ban, "bans out of time order");
            book.last_ban = time_us;
            let j = p
                .jails
                .iter()
                .find(|j| j.config.name == jail)
                .expect("ban of a known jail");
            assert!(
                failures >= j.config.maxretry,
                "{jail}: ban of {addr} after {failures} failures"
            );
            let ip = addr.net().addr();
            assert!(
                !j.config.ignoreip.iter().any(|n| n.contains(&ip)),
                "{jail}: banned {addr}, which is in ignoreip"
            );
            // Nothing no packet can come from (0.0.0.0, broadcast, multicast,
            // loopback unless the jail allows it) is ever banned.
            assert!(
                banjo::addr::unbannable(ip, j.config.ban_loopback).is_none(),
                "{jail}: banned {addr}, an address no packet comes from"
            );
            let key = (jail, addr.to_string());
            assert!(
                book.active.insert(key.clone(), time_us).is_none(),
                "banned twice: {key:?}"
            );
        }
        Event::Unban {
            time_us,
            jail,
            addr,
            ..
        } => {
            let key = (jail, addr.to_string());
            let since = book.active.remove(&key);
            assert!(since.is_some(), "unban of {key:?}, which is not banned");
            assert!(since <= Some(time_us), "unban of {key:?} before its ban");
            assert!(time_us <= p.now, "unban in the future");
        }
    }
}
