//! Target `syslog`: text log lines (`journal::syslog`: RFC 3164, RFC 5424, ISO 8601,
//! journalctl's formats) and the line reader (`journal::text::TextSource`).
//!
//! Input: byte 0 sets the reader's buffer size (1-64 bytes, so lines straddle it),
//! the rest is the log text.
//!
//! Oracles beyond "no panic":
//! - the stamp cache changes nothing: each line parsed with the cache of the lines
//!   before it gives exactly what a fresh parse gives;
//! - MESSAGE is at most `MAX_MESSAGE` bytes and a piece of the line (the header is cut
//!   off, nothing is made up), and so is every header field but PRIORITY and
//!   SYSLOG_FACILITY (which are numbers made from `<PRI>`);
//! - the reader yields exactly the non-blank lines, each parsed as above, whatever
//!   its buffer size.

use banjo::journal::syslog::{
    parse_line, parse_line_cached, HeaderFields, StampCache, TextContext,
};
use banjo::journal::text::TextSource;
use banjo::journal::{Entry, MAX_MESSAGE};

const CTX: TextContext = TextContext {
    year: 2024,
    utc_offset_secs: 3600,
};

pub fn run(data: &[u8]) {
    let [cap, text @ ..] = data else { return };
    let mut cache = StampCache::default();
    let mut want = Vec::new();
    for raw in text.split(|&b| b == b'\n') {
        let mut line = raw;
        while let [rest @ .., b'\r'] = line {
            line = rest;
        }
        let mut fresh = Entry::default();
        let format = parse_line(line, &CTX, &mut fresh);
        let mut cached = Entry::default();
        let format2 = parse_line_cached(line, &CTX, &mut cache, HeaderFields::ALL, &mut cached);
        assert_eq!(
            format,
            format2,
            "cache changed the format of {:?}",
            lossy(line)
        );
        assert_eq!(
            summary(&fresh),
            summary(&cached),
            "cache changed {:?}",
            lossy(line)
        );
        check_pieces(line, &fresh);
        if !line.is_empty() {
            want.push(summary(&fresh));
        }
    }

    let cap = usize::from(*cap % 64) + 1;
    let reader = std::io::BufReader::with_capacity(cap, std::io::Cursor::new(text.to_vec()));
    let mut src = TextSource::new(Box::new(reader), CTX);
    let mut e = Entry::default();
    let mut got = Vec::new();
    while src.next(&mut e).expect("reading memory") {
        got.push(summary(&e));
    }
    assert_eq!(got, want, "the reader (buffer {cap}) and the lines differ");
}

type Summary = (i64, Vec<u8>, Vec<(String, Vec<u8>)>);

fn summary(e: &Entry) -> Summary {
    let mut fields: Vec<(String, Vec<u8>)> = e
        .fields
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_vec()))
        .collect();
    fields.sort();
    (e.time_us, e.message.clone(), fields)
}

fn check_pieces(line: &[u8], e: &Entry) {
    assert!(
        e.message.len() <= MAX_MESSAGE,
        "MESSAGE of {} bytes",
        e.message.len()
    );
    assert!(
        contains(line, &e.message),
        "MESSAGE is not in {:?}",
        lossy(line)
    );
    for (k, v) in e.fields.iter() {
        if k == "PRIORITY" || k == "SYSLOG_FACILITY" {
            assert!(
                !v.is_empty() && v.iter().all(u8::is_ascii_digit),
                "{k}={v:?}"
            );
            continue;
        }
        assert!(
            contains(line, v),
            "{k}={:?} is not in {:?}",
            lossy(v),
            lossy(line)
        );
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}
