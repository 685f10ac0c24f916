//! Conformance of the built-in filters against fail2ban's own test corpus.
//!
//! fail2ban ships one annotated log file per filter (`# failJSON: {"match": …, "host": …}`
//! before each line, `# filterOptions: …` naming the modes a block is tested in). We read
//! those files from the installed package at test time (their licence is fail2ban's; we
//! do not copy them), turn each line into an entry with our own syslog parser, run it
//! through the built-in filter in the matching mode, and count:
//!
//! * recall: of the lines fail2ban expects to match with an IP address, how many banjo
//!   matched with that same address (host names are skipped: banjo never resolves);
//! * false positives: lines fail2ban expects not to match that banjo turned into a
//!   failure (a short, commented allow-list holds the ones that differ by design);
//! * wrong address: a failure with another address than the one expected. Always an
//!   error unless allow-listed: it is what an injection looks like.
//!
//! Run with `cargo test --test filters_conformance -- --nocapture` to see the table.

use banjo::filter::{builtin, spec::FilterSpec, Filter, Session};
use banjo::journal::syslog::{parse_line, TextContext};
use banjo::journal::Entry;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

#[path = "common/corpus.rs"]
mod corpus;
use corpus::{condition_holds, expected_ip, normalise, read_corpus, CorpusLine, CORPUS};

/// Corpus file -> the banjo filter it exercises. recidive is not here: banjo's recidive
/// reads banjo's own ban entries (BANJO_IP), not fail2ban's log lines.
const CORPUS_FILES: &[(&str, &str)] = &[
    ("sshd", "sshd"),
    ("postfix", "postfix"),
    ("dovecot", "dovecot"),
    ("proftpd", "proftpd"),
    // ssh and ftp (filters-ssh)
    ("dropbear", "dropbear"),
    ("selinux-ssh", "selinux-ssh"),
    ("vsftpd", "vsftpd"),
    ("pure-ftpd", "pure-ftpd"),
    ("apache-auth", "apache-auth"),
    ("nginx-http-auth", "nginx-http-auth"),
    ("nginx-limit-req", "nginx-limit-req"),
    ("apache-badbots", "apache-badbots"),
    ("apache-noscript", "apache-noscript"),
    ("apache-overflows", "apache-overflows"),
    ("apache-nohome", "apache-nohome"),
    ("apache-botsearch", "apache-botsearch"),
    ("apache-shellshock", "apache-shellshock"),
    ("apache-modsecurity", "apache-modsecurity"),
    ("nginx-botsearch", "nginx-botsearch"),
    ("nginx-bad-request", "nginx-bad-request"),
    ("phpmyadmin-syslog", "phpmyadmin-syslog"),
    ("gitlab", "gitlab"),
    ("grafana", "grafana"),
    ("squid", "squid"),
    ("mysqld-auth", "mysqld-auth"),
    ("named-refused", "named-refused"),
    ("asterisk", "asterisk"),
    ("freeswitch", "freeswitch"),
    ("monit", "monit"),
    // Mail built-ins beyond postfix and dovecot (filters-mail, #19).
    ("exim", "exim"),
    ("exim-spam", "exim-spam"),
    ("roundcube-auth", "roundcube-auth"),
    ("courier-auth", "courier-auth"),
    ("courier-smtp", "courier-smtp"),
    ("cyrus-imap", "cyrus-imap"),
    ("sieve", "sieve"),
    ("sendmail-auth", "sendmail-auth"),
    ("sendmail-reject", "sendmail-reject"),
];

/// Recall floors, per banjo filter over all its runs, set just below what the filters
/// achieve today so a regression shows.
const RECALL_FLOOR: &[(&str, f64)] = &[
    ("sshd", 0.99),
    ("postfix", 0.99),
    ("postfix-sasl", 0.99),
    ("dovecot", 0.99),
    ("proftpd", 0.99),
    // ssh and ftp (filters-ssh)
    ("dropbear", 0.99),
    ("selinux-ssh", 0.99),
    ("vsftpd", 0.99),
    ("pure-ftpd", 0.99),
    // apache-auth and nginx-http-auth: their deliberate differences are in EXCLUDED.
    ("apache-auth", 0.99),
    ("nginx-http-auth", 0.99),
    ("nginx-limit-req", 0.99),
    ("apache-badbots", 0.99),
    ("apache-noscript", 0.99),
    ("apache-overflows", 0.99),
    ("apache-nohome", 0.99),
    ("apache-botsearch", 0.99),
    ("apache-shellshock", 0.99),
    ("apache-modsecurity", 0.99),
    ("nginx-botsearch", 0.99),
    ("nginx-bad-request", 0.99),
    ("phpmyadmin-syslog", 0.99),
    ("gitlab", 0.99),
    ("grafana", 0.99),
    ("squid", 0.99),
    ("mysqld-auth", 0.99),
    // The journal-form sample (`logtype: journal`, `atom named[1806]: client …`) is
    // given to the filter with its syslog head until the harness reads journal samples
    // as fail2ban does: 14 of 15.
    ("named-refused", 0.93),
    ("asterisk", 0.99),
    ("freeswitch", 0.99),
    ("monit", 0.99),
    // Mail built-ins beyond postfix and dovecot (filters-mail, #19).
    ("exim", 0.99),
    ("exim-spam", 0.99),
    ("roundcube-auth", 0.99),
    ("courier-auth", 0.99),
    ("courier-smtp", 0.99),
    ("cyrus-imap", 0.99),
    ("sieve", 0.99),
    ("sendmail-auth", 0.99),
    ("sendmail-reject", 0.99),
];

/// Lines where banjo deliberately reads another address than fail2ban, or reads one where
/// fail2ban expects none. Each entry: (corpus file, a substring identifying the log line,
/// why). None today.
const ALLOWED: &[(&str, &str, &str)] = &[];

/// Lines fail2ban expects a failure from that banjo deliberately does not count, with the
/// reason; they are listed in the table and left out of the recall. Each entry: (corpus
/// file, a substring identifying the log line, why). A corpus name ending in `[default]`
/// excludes the line from the filter's default mode only.
const EXCLUDED: &[(&str, &str, &str)] = &[
    (
        "apache-auth",
        "[client 2606:2800:220:1:248:1893:25c8:1946] user test-ipv6 not found",
        // Apache 2.2 (end of life 2017, shipped by no supported distribution) printed
        // clients without a port; a 2.4 ErrorLogFormat that prints `[client %a]` gives
        // the same shape with the client's port run into an IPv6 address. IPv4 2.2 lines
        // are read.
        "Apache 2.2 IPv6 client without a port: cannot be told from 2.4's ADDR:PORT",
    ),
    (
        "apache-auth",
        "AH02032: Hostname www.testdom.com provided via SNI and hostname dummy.com",
        "aggressive mode only: browsers reusing an HTTP/2 connection for two hosts meet it",
    ),
    (
        "nginx-http-auth",
        r#"user "test": password mismatch, client: 127.0.0.1, server: test"#,
        // fail2ban reads this as one user name `test": password mismatch, client:
        // 127.0.0.1, …, host: "localhost:8443"` and expects the *last* client
        // (192.0.2.2). nginx cuts the user name at the first ':' of the decoded
        // credentials, so no user name holds "client: "; and nginx refuses a Host header
        // with a quote, so the other reading (user "test" from 127.0.0.1) is not nginx's
        // either. The line is no line nginx writes; banjo reads the whole line and counts
        // nothing. Taking the last "client:" would let a Referer choose the address.
        "a line nginx cannot write (colon in a user name or quote in a Host header)",
    ),
    (
        "gitlab",
        ": Failed Login: username=",
        // GitLab writes the login as typed into the plain-text application.log; a login
        // holding a newline ends the line and starts a forged one. banjo reads
        // application_json.log, where the same message is a JSON string.
        "plain-text application.log: a login with a newline forges whole lines",
    ),
    (
        "freeswitch[default]",
        "SIP auth challenge (INVITE) on sofia profile 'internal' for [011448708752617@",
        // fail2ban's default mode is extra, which counts challenges; every phone's
        // first REGISTER is challenged, so banjo's default is normal and challenges count
        // in ddos/extra (this line is read there).
        "challenges count in ddos/extra only: every phone is challenged",
    ),
    // Mail built-ins (filters-mail, #19).
    (
        "roundcube-auth",
        "]: FAILED login for user1 from 192.0.43.10",
        // Roundcube never writes "FAILED login for"; a third-party fail2ban plugin does,
        // and its current version logs X-Forwarded-For, a header the client sets.
        "a plugin's line whose address can be the client's own X-Forwarded-For header",
    ),
    (
        "sendmail-reject",
        "rA37ZTSC026254: from=<davaojk25@domain.com>, size=0",
        // fail2ban charges a queue id's earlier "... No such user here" to this later
        // from= line (multi-line, by queue id). banjo carries an address forward from an
        // earlier line of a connection, never back to one.
        "multi-line: a failure charged to a later line of the same queue id",
    ),
];

fn excluded(corpus: &str, target: &Target, line: &str) -> Option<&'static str> {
    EXCLUDED
        .iter()
        .find(|(c, sub, _)| {
            let applies = match c.strip_suffix("[default]") {
                Some(name) => name == corpus && target.mode.is_none(),
                None => *c == corpus,
            };
            applies && line.contains(sub)
        })
        .map(|(_, _, why)| *why)
}

/// One filter in one mode (None: the filter's default mode).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Target {
    filter: &'static str,
    mode: Option<String>,
}

impl Target {
    fn label(&self) -> String {
        match &self.mode {
            Some(m) => format!("{}[mode={m}]", self.filter),
            None => self.filter.to_owned(),
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Tally {
    expected: usize,
    hits: usize,
    /// Lines expected not to fail that were checked.
    negatives: usize,
    misses: Vec<String>,
    /// Expected failures left out on purpose (see [`EXCLUDED`]).
    excluded: Vec<String>,
    wrong: Vec<String>,
    false_pos: Vec<String>,
    allowed: usize,
}

fn modes_of(filter: &str) -> Vec<String> {
    let text = builtin::get(filter).unwrap_or_else(|| panic!("no built-in {filter}"));
    let spec: FilterSpec = toml::from_str(text).expect("built-in filter parses");
    spec.modes.keys().cloned().collect()
}

/// The banjo targets a corpus option set stands for. `{}` and options banjo has no use
/// for (log type, logging) mean the default mode. A fail2ban mode maps to the banjo mode
/// of that name; for a filter without modes, fail2ban's "normal" (and nginx-http-auth's
/// "auth", its basic-auth part) is the filter itself. A mode banjo lacks maps to
/// nothing, so its lines are not counted. postfix's "auth"/"aggressive" blocks are also
/// run through banjo's separate postfix-sasl filter, on their SASL lines only (see
/// [`applies`]).
fn targets_for(corpus: &str, filter: &'static str, opts: &Value) -> Vec<Target> {
    if let Some(cond) = opts.get("test.condition").and_then(Value::as_str) {
        if !condition_holds(cond, corpus, opts) {
            return Vec::new();
        }
    }
    let mut out = Vec::new();
    match opts.get("mode").and_then(Value::as_str) {
        None => out.push(Target { filter, mode: None }),
        Some(m) => {
            let modes = modes_of(filter);
            if modes.iter().any(|x| x == m) {
                out.push(Target {
                    filter,
                    mode: Some(m.to_owned()),
                });
            } else if modes.is_empty()
                && (m == "normal" || (corpus == "nginx-http-auth" && m == "auth"))
            {
                out.push(Target { filter, mode: None });
            }
            if filter == "postfix" && (m == "auth" || m == "aggressive") {
                // postfix-sasl has both modes (auth = its normal).
                out.push(Target {
                    filter: "postfix-sasl",
                    mode: Some(m.to_owned()),
                });
            }
        }
    }
    out
}

/// Whether a corpus line is in `target`'s domain: postfix-sasl only reads smtpd's SASL
/// warnings, so the other lines of postfix's aggressive blocks are not its to match.
fn applies(target: &Target, line: &str) -> bool {
    target.filter != "postfix-sasl" || line.contains(": SASL ")
}

fn allowed(corpus: &str, line: &str) -> Option<&'static str> {
    ALLOWED
        .iter()
        .find(|(c, sub, _)| *c == corpus && line.contains(sub))
        .map(|(_, _, why)| *why)
}

fn run(corpus: &str, filter_name: &'static str, lines: &[CorpusLine]) -> BTreeMap<Target, Tally> {
    // Every target any block of this file maps to.
    let mut targets: Vec<Target> = Vec::new();
    for l in lines {
        for o in &l.options {
            for t in targets_for(corpus, filter_name, o) {
                if !targets.contains(&t) {
                    targets.push(t);
                }
            }
        }
    }
    let ctx = TextContext {
        year: 2005,
        utc_offset_secs: 0,
    };
    let mut out = BTreeMap::new();
    for target in targets {
        let mut params = BTreeMap::new();
        if let Some(m) = &target.mode {
            params.insert("mode".to_owned(), m.clone());
        }
        let text = builtin::get(target.filter).expect("built-in");
        let filter = Filter::from_toml(target.filter, "<built-in>", text, &params)
            .unwrap_or_else(|e| panic!("{}: {e:?}", target.label()));
        let mut session = Session::new(Arc::new(filter));
        let mut tally = Tally::default();
        let mut entry = Entry::default();
        for l in lines {
            // The option set of this block that stands for this target, if any.
            let Some(opts) = l
                .options
                .iter()
                .find(|o| targets_for(corpus, filter_name, o).contains(&target))
            else {
                continue;
            };
            if !applies(&target, &l.text) {
                continue;
            }
            parse_line(l.text.as_bytes(), &ctx, &mut entry);
            normalise(&mut entry);
            let (_, failure) = session.process(&entry);
            let Some(ann) = &l.annotation else { continue };
            if let Some(c) = ann.get("constraint").and_then(Value::as_str) {
                if !condition_holds(c, corpus, opts) {
                    continue;
                }
            }
            let want = ann.get("match").and_then(Value::as_bool).unwrap_or(false);
            let where_ = format!("{corpus}:{}: {}", l.line_no, l.text);
            let got = failure.as_ref().map(|f| f.ip);
            if want {
                let Some(ip) = ann
                    .get("host")
                    .and_then(Value::as_str)
                    .and_then(expected_ip)
                else {
                    continue;
                };
                if let Some(why) = excluded(corpus, &target, &l.text) {
                    tally.excluded.push(format!("{where_}  ({why})"));
                    continue;
                }
                tally.expected += 1;
                match got {
                    Some(g) if g == ip => tally.hits += 1,
                    Some(g) => {
                        if allowed(corpus, &l.text).is_some() {
                            tally.allowed += 1;
                        } else {
                            tally
                                .wrong
                                .push(format!("{where_}  (banjo: {g}, expected {ip})"));
                        }
                    }
                    None => tally.misses.push(where_),
                }
            } else {
                tally.negatives += 1;
                if let Some(g) = got {
                    if allowed(corpus, &l.text).is_some() {
                        tally.allowed += 1;
                    } else {
                        tally.false_pos.push(format!("{where_}  (banjo: {g})"));
                    }
                }
            }
        }
        out.insert(target, tally);
    }
    out
}

#[test]
fn fail2ban_corpus_conformance() {
    let dir = Path::new(CORPUS);
    assert!(
        dir.is_dir(),
        "fail2ban's test corpus is missing ({CORPUS}); install it with `apt-get install fail2ban`"
    );
    let mut per_filter: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut problems = Vec::new();
    eprintln!(
        "{:<42} {:>8} {:>6} {:>7} {:>6} {:>9} {:>6} {:>8}",
        "corpus / banjo filter",
        "expected",
        "hits",
        "recall",
        "wrong",
        "negatives",
        "FP",
        "allowed"
    );
    for (corpus, filter) in CORPUS_FILES {
        let lines = read_corpus(&dir.join(corpus));
        for (target, t) in run(corpus, filter, &lines) {
            let recall = if t.expected == 0 {
                1.0
            } else {
                t.hits as f64 / t.expected as f64
            };
            eprintln!(
                "{:<42} {:>8} {:>6} {:>6.1}% {:>6} {:>9} {:>6} {:>8}",
                format!("{corpus} / {}", target.label()),
                t.expected,
                t.hits,
                recall * 100.0,
                t.wrong.len(),
                t.negatives,
                t.false_pos.len(),
                t.allowed
            );
            for m in &t.misses {
                eprintln!("    miss  {m}");
            }
            for x in &t.excluded {
                eprintln!("    excl  {x}");
            }
            for w in &t.wrong {
                eprintln!("    WRONG {w}");
            }
            for f in &t.false_pos {
                eprintln!("    FP    {f}");
            }
            let e = per_filter.entry(target.filter).or_default();
            e.0 += t.expected;
            e.1 += t.hits;
            problems.extend(
                t.wrong
                    .iter()
                    .map(|w| format!("{}: wrong address: {w}", target.label())),
            );
            problems.extend(
                t.false_pos
                    .iter()
                    .map(|f| format!("{}: false positive: {f}", target.label())),
            );
        }
    }
    eprintln!();
    for (filter, (expected, hits)) in &per_filter {
        let recall = if *expected == 0 {
            1.0
        } else {
            *hits as f64 / *expected as f64
        };
        let floor = RECALL_FLOOR
            .iter()
            .find(|(f, _)| f == filter)
            .map(|(_, r)| *r)
            .unwrap_or_else(|| panic!("no recall floor for {filter}"));
        eprintln!(
            "{filter:<18} recall {hits}/{expected} = {:.1}% (floor {:.0}%)",
            recall * 100.0,
            floor * 100.0
        );
        if recall < floor {
            problems.push(format!(
                "{filter}: recall {:.1}% below the floor {:.0}%",
                recall * 100.0,
                floor * 100.0
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
