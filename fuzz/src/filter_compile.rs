//! Target `filter_compile`: a fuzzed pattern compiled the two ways banjo compiles one,
//! and run on fuzzed messages: as an inline filter (`filter::Filter::inline`: tags
//! such as `<HOST>`, `<F-USER>…</F-USER>` expanded, prefix index, RegexSet) and as a
//! raw regex on `filter::engine::Engine` (the `regex` crate with its PCRE2 twin, or
//! PCRE2 for what `regex` refuses). A part that parses as a filter TOML is compiled
//! with `Filter::from_toml` in each of its modes too.
//!
//! Input, NUL-separated: the pattern, then up to 16 messages.
//!
//! Oracles beyond "no panic":
//! - `Engine::is_match` agrees with `Engine::captures` (the `regex` crate's DFA and the
//!   twin or capture engines find the same matches); debug builds (`cargo fuzz -a`,
//!   the smoke test) also assert in `Engine::captures` that every twin match has the
//!   `regex` crate's groups, byte for byte;
//! - a `<F-USER>` range lies inside the message;
//! - an address the filter reports is written in the message.

use banjo::filter::engine::{CaptureSlot, Engine};
use banjo::filter::{Filter, Outcome};
use banjo::journal::Entry;
use std::collections::BTreeMap;

const MAX_MESSAGES: usize = 16;

pub fn run(data: &[u8]) {
    let parts = super::parts(data, MAX_MESSAGES + 1);
    let pattern = super::text(parts[0]);
    let messages = &parts[1..];

    if let Ok(engine) = Engine::compile(&pattern) {
        for m in messages {
            check_engine(&engine, m);
        }
    }
    if let Ok(filter) = Filter::inline(&pattern) {
        for m in messages {
            check_filter(&filter, m);
        }
    }
    if pattern.contains("failregex") {
        compile_toml(&pattern, messages);
    }
}

fn check_engine(engine: &Engine, text: &[u8]) {
    let mut slot = CaptureSlot::default();
    let caps = engine.captures(text, &mut slot);
    assert_eq!(
        engine.is_match(text),
        caps.is_some(),
        "is_match and captures disagree on {:?}",
        String::from_utf8_lossy(text)
    );
    if let Some(c) = caps {
        let whole = c.get(0).expect("group 0 of a match");
        assert!(whole.start <= whole.end && whole.end <= text.len());
    }
}

fn check_filter(filter: &Filter, msg: &[u8]) {
    let mut e = Entry::default();
    e.set_message(msg);
    let Outcome::Matched(m) = filter.check(&e) else {
        return;
    };
    if let Some(r) = &m.user_at {
        assert!(
            r.start <= r.end && r.end <= e.message.len(),
            "user at {r:?}"
        );
    }
    if let Some(ip) = m.host {
        assert!(
            super::oracle::address_outside(&e.message, ip, None),
            "{ip} reported for {:?}",
            e.message_lossy()
        );
    }
}

fn compile_toml(text: &str, messages: &[&[u8]]) {
    let Ok(spec) = toml::from_str::<banjo::filter::spec::FilterSpec>(text) else {
        return;
    };
    let mut modes: Vec<Option<String>> = vec![None];
    modes.extend(spec.modes.keys().cloned().map(Some));
    for mode in modes {
        let mut params = BTreeMap::new();
        if let Some(m) = mode {
            params.insert("mode".to_owned(), m);
        }
        if let Ok(f) = Filter::from_toml("fuzz", "fuzz.toml", text, &params) {
            for m in messages {
                check_filter(&f, m);
            }
        }
    }
}
