//! Target `filter_builtin`: fuzzed journal entries against a built-in filter in one of
//! its modes, through a `filter::Session` as the pipeline runs it (correlation by
//! `id_field` included).
//!
//! Input: byte 0 picks the filter (`filter::builtin::names()`), byte 1 the mode
//! (its default or one of its `[modes]`), the rest is NUL-separated entries. An entry
//! `@NAME=VALUE` sets a field for the entries after it (`_PID`, `BANJO_IP`, …); any
//! other is a MESSAGE, one second after the one before.
//!
//! Oracles beyond "no panic" (the address a filter reports decides who is banned):
//! - an address read from MESSAGE is written in MESSAGE, outside the `<F-USER>` part
//!   (a user name is the client's text: `sshd.toml`'s comments);
//! - a filter with `host_field` reports only the address in that field;
//! - the session agrees with the filter alone: same outcome, except that correlation
//!   may fill in an address the filter found none for.

use banjo::filter::{builtin, spec::FilterSpec, Filter, Outcome, Session};
use banjo::journal::Entry;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

const MAX_ENTRIES: usize = 32;

/// Compile the filters before the first input (libFuzzer's initialisation), so the
/// first input is not charged with it: at nice 19 on a busy machine that once made
/// the first input time out.
pub fn init() {
    filters();
}

/// Every built-in filter in every mode, compiled once per process.
fn filters() -> &'static [Vec<Arc<Filter>>] {
    static ALL: OnceLock<Vec<Vec<Arc<Filter>>>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut names: Vec<&str> = builtin::names().collect();
        names.sort_unstable();
        names.into_iter().map(compile_modes).collect()
    })
}

/// A built-in filter in its default mode, then in each of its `[modes]`.
pub fn compile_modes(name: &str) -> Vec<Arc<Filter>> {
    let text = builtin::get(name).expect("listed built-in");
    let spec: FilterSpec = toml::from_str(text).expect("built-in parses");
    let mut out = Vec::new();
    let none = BTreeMap::new();
    out.push(Arc::new(
        Filter::from_toml(name, "<built-in>", text, &none).expect("built-in compiles"),
    ));
    for mode in spec.modes.keys() {
        let params = BTreeMap::from([("mode".to_owned(), mode.clone())]);
        if let Ok(f) = Filter::from_toml(name, "<built-in>", text, &params) {
            out.push(Arc::new(f));
        }
    }
    out
}

pub fn run(data: &[u8]) {
    let [which, mode, rest @ ..] = data else {
        return;
    };
    let all = filters();
    let modes = &all[usize::from(*which) % all.len()];
    let filter = &modes[usize::from(*mode) % modes.len()];
    let mut session = Session::new(filter.clone());
    let mut e = Entry::default();
    let mut fields: Vec<(String, Vec<u8>)> = vec![("_PID".into(), b"4711".to_vec())];
    for (i, part) in super::parts(rest, MAX_ENTRIES).into_iter().enumerate() {
        if let Some(field) = part.strip_prefix(b"@") {
            set_field(&mut fields, field);
            continue;
        }
        e.clear();
        e.time_us = 1_700_000_000_000_000 + i as i64 * 1_000_000;
        e.set_message(part);
        for (k, v) in &fields {
            e.fields.set(k, v);
        }
        check(filter, &mut session, &e);
    }
}

fn set_field(fields: &mut Vec<(String, Vec<u8>)>, spec: &[u8]) {
    let Some(eq) = spec.iter().position(|&b| b == b'=') else {
        return;
    };
    let name = String::from_utf8_lossy(&spec[..eq]).into_owned();
    let value = spec[eq + 1..].to_vec();
    fields.retain(|(k, _)| *k != name);
    fields.push((name, value));
}

fn check(filter: &Filter, session: &mut Session, e: &Entry) {
    let alone = filter.check(e);
    let (outcome, _failure) = session.process(e);
    match (&alone, &outcome) {
        (Outcome::Matched(a), Outcome::Matched(s)) if a.host.is_none() => {
            let mut s = s.clone();
            s.host = None;
            assert_eq!(*a, s, "session and filter disagree");
        }
        _ => assert_eq!(alone, outcome, "session and filter disagree"),
    }
    let Outcome::Matched(m) = alone else { return };
    let Some(ip) = m.host else { return };
    if let Some(field) = &filter.host_field {
        let value = e.fields.get(field).map(String::from_utf8_lossy);
        let parsed = value.as_deref().and_then(banjo::filter::parse_host);
        assert_eq!(parsed, Some(ip), "{ip} is not the {field} field");
        return;
    }
    assert!(
        super::oracle::address_outside(&e.message, ip, m.user_at.as_ref()),
        "{} reported {ip} for {:?} (user part {:?})",
        filter.name,
        e.message_lossy(),
        m.user_at
    );
}
