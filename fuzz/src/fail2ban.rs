//! Target `fail2ban`: fail2ban's INI dialect (`compat::fail2ban::ini`: continuation
//! lines, `%(name)s` interpolation, includes, `.local`) and the filter import
//! (`compat::fail2ban::filter`) that turns a filter.d file into banjo TOML.
//!
//! Input, NUL-separated: `fuzz.conf` (the filter), `common.conf` (beside it, for
//! `before = common.conf`), `fuzz.local`, then messages the imported filter is run
//! on. The files are written to a directory of this process under the temp dir.
//!
//! Oracles beyond "no panic":
//! - a parse error names a line inside the file;
//! - interpolating every key of the parsed file ends (no cycle or blow-up runs on);
//! - what the import writes compiles with banjo's own compiler in every mode it lists
//!   (the importer's promise: it never emits a filter banjo cannot load);
//! - the imported filter runs on the messages, and an address it reports is written
//!   in the message (a fuzzed pattern may put `<HOST>` inside `<F-USER>`, so only the
//!   built-in filters are held to "outside the user part": filter_builtin).

use banjo::compat::fail2ban::{filter as f2b_filter, ini};
use banjo::filter::{Filter, Outcome};
use banjo::journal::Entry;
use std::collections::BTreeMap;
use std::path::PathBuf;

const MAX_MESSAGES: usize = 8;

pub fn run(data: &[u8]) {
    let parts = super::parts(data, 3 + MAX_MESSAGES + 1);
    let conf = super::text(parts[0]);
    check_ini(&conf);

    let dir = scratch_dir();
    let write = |name: &str, part: Option<&&[u8]>| {
        let p = dir.join(name);
        match part {
            Some(b) => std::fs::write(&p, b).expect("write scratch file"),
            None => {
                let _ = std::fs::remove_file(&p);
            }
        }
    };
    write("fuzz.conf", parts.first());
    write("common.conf", parts.get(1));
    write("fuzz.local", parts.get(2));
    let import = f2b_filter::import(&dir.join("fuzz.conf"));
    let Some(toml) = &import.toml else { return };

    let mut modes: Vec<Option<&str>> = vec![None];
    modes.extend(import.modes.iter().map(|m| Some(m.as_str())));
    for mode in modes {
        let mut params = BTreeMap::new();
        if let Some(m) = mode {
            params.insert("mode".to_owned(), m.to_owned());
        }
        let filter = match Filter::from_toml("fuzz", "fuzz.toml", toml, &params) {
            Ok(f) => f,
            Err(e) => panic!("imported filter does not compile in mode {mode:?}: {e:?}\n{toml}"),
        };
        for msg in parts.iter().skip(3) {
            check_match(&filter, msg);
        }
    }
}

/// Parse alone, then interpolate every key of every section.
fn check_ini(conf: &str) {
    let parsed = match ini::parse("fuzz.conf", conf) {
        Ok(p) => p,
        Err(p) => {
            if let Some(line) = p.line {
                let lines = conf.lines().count().max(1);
                assert!((1..=lines).contains(&line), "{p:?} of {lines} lines");
            }
            return;
        }
    };
    let mut cfg = ini::Config::default();
    for (section, entries) in parsed {
        cfg.sections.entry(section).or_default().extend(entries);
    }
    let keys: Vec<(String, String)> = cfg
        .sections
        .iter()
        .flat_map(|(s, e)| e.keys().map(move |k| (s.clone(), k.clone())))
        .collect();
    for (s, k) in keys {
        let _ = cfg.resolved_lines(&s, &k);
    }
}

fn check_match(filter: &Filter, msg: &[u8]) {
    let mut e = Entry::default();
    e.set_message(msg);
    if let Outcome::Matched(m) = filter.check(&e) {
        if let Some(ip) = m.host {
            assert!(
                super::oracle::address_outside(&e.message, ip, None),
                "{ip} reported for {:?}",
                e.message_lossy()
            );
        }
    }
}

/// This process's scratch directory (one per process: libFuzzer's workers are
/// processes, the smoke test's threads run the targets one after another).
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "banjo-fuzz-f2b-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}
