//! fail2ban's annotated test corpus, read from the installed package at test time (its
//! licence is fail2ban's; we do not copy it): lines, their expected verdicts, the option
//! blocks they are tested in, and the few shapes a log file has that the journal has not.
//! Shared by the built-in filters' conformance test and the importer's.
#![allow(dead_code)]

use banjo::journal::syslog::{parse_line, TextContext};
use banjo::journal::Entry;
use serde_json::Value;
use std::net::IpAddr;
use std::path::Path;

pub const CORPUS: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";

/// fail2ban's constraints are Python expressions; the corpus uses a handful of forms.
/// Returns true for what we cannot read (the line is then counted as written).
pub fn condition_holds(cond: &str, corpus: &str, opts: &Value) -> bool {
    let cond = cond.trim();
    let (lhs, rhs, eq) = if let Some((l, r)) = cond.split_once("==") {
        (l.trim(), r.trim(), true)
    } else if let Some((l, r)) = cond.split_once("!=") {
        (l.trim(), r.trim(), false)
    } else {
        return true;
    };
    let rhs = rhs.trim_matches(|c| c == '\'' || c == '"');
    let value = if lhs == "name" {
        Some(corpus.to_owned())
    } else if let Some(key) = lhs
        .strip_prefix("opts.get(")
        .and_then(|k| k.strip_suffix(')'))
    {
        let key = key.trim_matches(|c| c == '\'' || c == '"');
        opts.get(key).and_then(Value::as_str).map(str::to_owned)
    } else {
        return true;
    };
    (value.as_deref() == Some(rhs)) == eq
}

/// An annotated (or plain) log line of a corpus file, with the option block it is in.
pub struct CorpusLine {
    /// The corpus file it is in (an `addFILE` include's own name).
    pub file: String,
    pub line_no: usize,
    pub text: String,
    pub annotation: Option<Value>,
    pub options: Vec<Value>,
}

pub fn parse_options(json: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Array(v)) => v,
        Ok(v @ Value::Object(_)) => vec![v],
        other => panic!("unreadable filterOptions {json:?}: {other:?}"),
    }
}

pub fn read_corpus(path: &Path) -> Vec<CorpusLine> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut out = Vec::new();
    let mut options = vec![Value::Object(Default::default())];
    let mut pending: Option<Value> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_end_matches('\r');
        if let Some(rest) = trimmed.strip_prefix('#') {
            let rest = rest.trim_start();
            if let Some(json) = rest.strip_prefix("filterOptions:") {
                options = parse_options(json.trim());
            } else if let Some(json) = rest.strip_prefix("failJSON:") {
                let v: Value = serde_json::from_str(json.trim())
                    .unwrap_or_else(|e| panic!("{}:{}: bad failJSON: {e}", path.display(), i + 1));
                pending = Some(v);
            }
            continue;
        }
        if trimmed.trim().is_empty() {
            continue;
        }
        out.push(CorpusLine {
            file: path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            line_no: i + 1,
            text: trimmed.to_owned(),
            annotation: pending.take(),
            options: options.clone(),
        });
    }
    out
}

/// The corpus is written as log *files*; a few shapes never reach the journal as such.
/// Bring those to what journald would hold, and nothing else:
/// * daemontools' TAI64N stamp (`@4000… msg`) is a timestamp, not message text;
/// * Solaris syslogd's message id (`[ID 800047 auth.info] `) after the tag is syslogd's,
///   not the program's (no journal holds one);
/// * a tag without the colon (`proftpd[123] server (…)`, ProFTPD's own log files) is the
///   identifier and pid, which syslog(3) would have put in their fields.
///
/// nginx and Apache error-log lines stay whole: nginx puts exactly that line (with its
/// own timestamp) in MESSAGE when it logs to syslog, and Apache's filter accepts its
/// timestamp because `ErrorLog /dev/stderr` under systemd carries it.
pub fn normalise(entry: &mut Entry) {
    strip_solaris_msgid(entry);
    let msg = entry.message_lossy().into_owned();
    if let Some(rest) = msg.strip_prefix('@') {
        if let Some((stamp, body)) = rest.split_once(' ') {
            if stamp.len() == 24 && stamp.bytes().all(|b| b.is_ascii_hexdigit()) {
                entry.set_message(body.as_bytes());
                return;
            }
        }
    }
    if entry.fields.get("SYSLOG_IDENTIFIER").is_some() {
        return;
    }
    // `[HOST ]IDENT[PID] rest`, IDENT starting with a letter.
    let mut words = msg.splitn(3, ' ');
    let (a, b) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    for (tag, rest_start) in [(a, a.len() + 1), (b, a.len() + b.len() + 2)] {
        let Some((ident, pid)) = tag.strip_suffix(']').and_then(|t| t.split_once('[')) else {
            continue;
        };
        let ident_ok = ident
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && ident
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        if ident_ok && !pid.is_empty() && pid.bytes().all(|c| c.is_ascii_digit()) {
            if rest_start > msg.len() {
                return;
            }
            let rest = msg[rest_start..].to_owned();
            entry.fields.set("SYSLOG_IDENTIFIER", ident.as_bytes());
            entry.fields.set("_PID", pid.as_bytes());
            entry.set_message(rest.as_bytes());
            return;
        }
    }
}

pub fn expected_ip(host: &str) -> Option<IpAddr> {
    // Host names are skipped: banjo bans addresses only. So are leading-zero octets
    // (192.030.0.6): octal or decimal is anyone's guess, and banjo reads neither.
    let leading_zero = host.contains('.')
        && !host.contains(':')
        && host.split('.').any(|o| o.len() > 1 && o.starts_with('0'));
    if leading_zero {
        return None;
    }
    host.parse::<IpAddr>().ok().map(banjo::addr::canonical)
}

/// Solaris syslogd writes `[ID <number> <facility>.<level>] ` before the message.
fn strip_solaris_msgid(entry: &mut Entry) {
    let msg = entry.message.as_slice();
    let Some(rest) = msg.strip_prefix(b"[ID ") else {
        return;
    };
    let Some(end) = rest.iter().position(|&b| b == b']') else {
        return;
    };
    let inner = &rest[..end];
    let ok = match inner.iter().position(|&b| b == b' ') {
        Some(sp) => {
            inner[..sp].iter().all(u8::is_ascii_digit)
                && inner[sp + 1..]
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || *b == b'.')
        }
        None => false,
    };
    if ok && rest.get(end + 1) == Some(&b' ') {
        let body = rest[end + 2..].to_vec();
        entry.set_message(&body);
    }
}

/// fail2ban's `TEST_NOW` (2005-08-14T10:00:00Z): the time of its journal-form samples.
pub const TEST_NOW_US: i64 = 1_124_013_600 * 1_000_000;

/// A corpus file as fail2ban's runner (samplestestcase.py) reads it:
/// * `# fileOptions: {…}` is merged under every later option set, also in included files;
/// * `# filterOptions: …` starts a block; an option set whose `test.condition` is false
///   is dropped, and once one is false, the block's later sets and its lines are too
///   (fail2ban's `ignoreBlock`);
/// * `# addFILE: "name"` reads that file after this one, with the same file options;
/// * the line after a `# failJSON:` is its sample, whatever it holds; any other line
///   that is neither a comment nor blank is a sample that must not match
///   (`annotation` None);
/// * `#+ ?` before the keyword, as fail2ban's regex has it.
///
/// `name` is the filter's name, which conditions see as `name`.
pub fn read_corpus_as_fail2ban(name: &str) -> Vec<CorpusLine> {
    let mut files = vec![name.to_owned()];
    let mut common = serde_json::Map::new();
    let mut options: Vec<Value> = vec![Value::Object(Default::default())];
    let mut ignore_block = false;
    let mut out = Vec::new();
    let mut i = 0;
    while i < files.len() {
        let file = files[i].clone();
        i += 1;
        let path = Path::new(CORPUS).join(&file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut pending: Option<Value> = None;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            if pending.is_none() {
                if let Some((key, json)) = directive(line) {
                    let v: Value = serde_json::from_str(json.trim())
                        .unwrap_or_else(|e| panic!("{file}:{}: bad {key}: {e}", n + 1));
                    match key {
                        "fileOptions" => {
                            common = v.as_object().cloned().unwrap_or_default();
                        }
                        "filterOptions" => {
                            ignore_block = false;
                            options = Vec::new();
                            let sets = match v {
                                Value::Array(a) => a,
                                other => vec![other],
                            };
                            for set in sets {
                                let mut opts = common.clone();
                                if let Value::Object(o) = set {
                                    opts.extend(o);
                                }
                                let opts = Value::Object(opts);
                                if let Some(c) = opts.get("test.condition").and_then(Value::as_str)
                                {
                                    ignore_block = !condition_holds(c, name, &opts);
                                }
                                if !ignore_block {
                                    options.push(opts);
                                }
                            }
                        }
                        "addFILE" => {
                            if let Some(f) = v.as_str() {
                                files.push(f.to_owned());
                            }
                        }
                        _ => pending = Some(v),
                    }
                    continue;
                }
                if ignore_block || line.starts_with('#') || line.trim().is_empty() {
                    continue;
                }
            }
            out.push(CorpusLine {
                file: file.clone(),
                line_no: n + 1,
                text: line.to_owned(),
                annotation: pending.take(),
                options: if ignore_block {
                    Vec::new()
                } else {
                    options.clone()
                },
            });
        }
    }
    out
}

/// `#+ ?KEY:JSON` for fail2ban's four keys.
fn directive(line: &str) -> Option<(&'static str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches('#');
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    ["failJSON", "fileOptions", "filterOptions", "addFILE"]
        .into_iter()
        .find_map(|k| rest.strip_prefix(k)?.strip_prefix(':').map(|j| (k, j)))
}

/// The entry a corpus line stands for under option set `opts`. A `logtype: journal`
/// sample is what fail2ban's journal backend prints for an entry, "HOST IDENT[PID]:
/// MESSAGE" (after `test.prefix-line`): its fields are the entry's, its time fail2ban's
/// test time. Any other sample is a log file's line, read by banjo's syslog parser and
/// [`normalise`]d.
pub fn corpus_entry(text: &str, opts: &Value, ctx: &TextContext, entry: &mut Entry) {
    if opts.get("logtype").and_then(Value::as_str) == Some("journal") {
        let prefix = opts
            .get("test.prefix-line")
            .and_then(Value::as_str)
            .unwrap_or("");
        journal_entry(&format!("{prefix}{text}"), entry);
    } else {
        parse_line(text.as_bytes(), ctx, entry);
        normalise(entry);
    }
}

/// "HOST IDENT[PID]: MESSAGE", "IDENT[PID]: MESSAGE" or "HOST IDENT: MESSAGE".
fn journal_entry(line: &str, entry: &mut Entry) {
    entry.clear();
    entry.time_us = TEST_NOW_US;
    let tag = |t: &str| -> Option<(String, Option<String>)> {
        let t = t.strip_suffix(':')?;
        let (ident, pid) = match t.strip_suffix(']').and_then(|t| t.split_once('[')) {
            Some((i, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                (i, Some(p.to_owned()))
            }
            Some(_) => return None,
            None => (t, None),
        };
        let ok = ident
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && ident
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        ok.then(|| (ident.to_owned(), pid))
    };
    let mut words = line.splitn(3, ' ');
    let (a, b) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let found = if let Some(t) = tag(a).filter(|(_, pid)| pid.is_some()) {
        Some((None, t, &line[a.len()..]))
    } else {
        tag(b).map(|t| (Some(a), t, &line[(a.len() + 1 + b.len()).min(line.len())..]))
    };
    match found {
        Some((host, (ident, pid), rest)) => {
            if let Some(h) = host {
                entry.fields.set("_HOSTNAME", h.as_bytes());
            }
            entry.fields.set("SYSLOG_IDENTIFIER", ident.as_bytes());
            if let Some(p) = pid {
                entry.fields.set("_PID", p.as_bytes());
            }
            entry.set_message(rest.strip_prefix(' ').unwrap_or(rest).as_bytes());
        }
        None => entry.set_message(line.as_bytes()),
    }
}

/// The address a failJSON names: `host`, or fail2ban's `ip4`/`ip6` captures.
pub fn expected_host(ann: &Value) -> Option<&str> {
    ["host", "ip4", "ip6"]
        .into_iter()
        .find_map(|k| ann.get(k).and_then(Value::as_str))
}
