//! Seed 000 (a Hestia mail host, /work/shared/seeds/000_*.txt): its author moved Exim's
//! and Dovecot's logs to syslog and fail2ban stopped banning anyone; the Dovecot lines
//! they then wrote their own filter for must be caught by banjo's built-ins in the
//! default mode, from the journal (routed on Dovecot's and Exim's units, as banjo runs)
//! and from a syslog file.
//!
//! The Dovecot lines are the author's own (quoted as test data, addresses and all). The
//! seed quotes no Exim line; the Exim lines are Exim's message shapes in the forms its
//! syslog output takes (with its own timestamp, the default, and without, with
//! `syslog_timestamp = false`), with TEST-NET addresses.

mod common;
use common::*;

/// The author's lines, as journald holds them for dovecot.service (MESSAGE after the
/// `dovecot: ` tag), and the address each must fail for.
const DOVECOT: &[(&str, &str)] = &[
    (
        "auth: passwd-file(aaa@example.com,149.255.204.12): Password mismatch (given password: aaa)",
        "149.255.204.12",
    ),
    (
        "auth: login(?,149.255.204.12): Username character disallowed by auth_username_chars: 0x13 (username: ?)",
        "149.255.204.12",
    ),
];

/// The author's example of what fail2ban's aggressive mode adds.
const DOVECOT_AGGRESSIVE: &str = "imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=111.7.96.136, lip=10.0.0.246, TLS handshaking: SSL_accept() failed: error:1408F10B:SSL routines:ssl3_get_record:wrong version number, session=<L8O2JxLAnChvB2CI>";

/// Exim's messages as its syslog output carries them.
const EXIM: &[(&str, &str)] = &[
    (
        "2026-11-15 09:02:07 dovecot_login authenticator failed for (User) [203.0.113.40]: 535 Incorrect authentication data (set_id=info@example.org)",
        "203.0.113.40",
    ),
    (
        "dovecot_login authenticator failed for (User) [203.0.113.41]:50123 I=[192.0.2.1]:587: 535 Incorrect authentication data (set_id=admin)",
        "203.0.113.41",
    ),
    (
        "2026-11-15 09:02:09 [4242] SMTP protocol error in \"AUTH LOGIN\" H=(ylmf-pc) [203.0.113.42]:60723 I=[192.0.2.1]:587 AUTH command used when not advertised",
        "203.0.113.42",
    ),
    (
        "2026-11-15 09:02:10 H=(x.example) [203.0.113.43] F=<a@example.net> rejected RCPT <nobody@example.org>: relay not permitted",
        "203.0.113.43",
    ),
];

fn dovecot_entry(t: i64, msg: &str) -> E {
    E::new(t)
        .f("_UID", "0")
        .f("_SYSTEMD_UNIT", "dovecot.service")
        .f("_EXE", "/usr/sbin/dovecot")
        .f("_COMM", "dovecot")
        .f("SYSLOG_IDENTIFIER", "dovecot")
        .f("_PID", "812")
        .f("MESSAGE", msg)
}

fn exim_entry(t: i64, msg: &str) -> E {
    E::new(t)
        .f("_UID", "101")
        .f("_SYSTEMD_UNIT", "exim4.service")
        .f("_EXE", "/usr/sbin/exim4")
        .f("_COMM", "exim4")
        .f("SYSLOG_IDENTIFIER", "exim")
        .f("_PID", "4242")
        .f("MESSAGE", msg)
}

/// (address, failures) that `banjo test-filter FILTER` finds in `dir`'s journal.
fn addresses(filter: &str, dir: &std::path::Path) -> Vec<(String, u64)> {
    let j = json(&run(&[
        "test-filter",
        filter,
        "--journal-dir",
        dir.to_str().unwrap(),
        "--json",
    ]));
    let mut out: Vec<(String, u64)> = j["addresses"]
        .as_array()
        .unwrap_or_else(|| panic!("{filter}: no addresses in {j}"))
        .iter()
        .map(|a| {
            (
                a["address"].as_str().unwrap().to_owned(),
                a["failures"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn seed_000_dovecot_lines_are_banned_in_the_default_mode_from_the_journal() {
    let d = tempfile::tempdir().unwrap();
    let mut v: Vec<E> = DOVECOT
        .iter()
        .enumerate()
        .map(|(i, (msg, _))| dovecot_entry(T0 + i as i64 * SEC, msg))
        .collect();
    // The same lines from a local user's `logger -t dovecot`: not Dovecot's unit.
    for (i, (msg, _)) in DOVECOT.iter().enumerate() {
        v.push(
            E::new(T0 + (10 + i as i64) * SEC)
                .f("_UID", "1000")
                .f("_SYSTEMD_UNIT", "session-3.scope")
                .f("_COMM", "logger")
                .f("SYSLOG_IDENTIFIER", "dovecot")
                .f("MESSAGE", &msg.replace("149.255.204.12", "198.51.100.64")),
        );
    }
    v.push(dovecot_entry(T0 + 20 * SEC, DOVECOT_AGGRESSIVE));
    make_journal(d.path(), &v);
    assert_eq!(
        addresses("dovecot", d.path()),
        [("149.255.204.12".to_owned(), 2)],
        "the author's two lines, nothing else, in the default mode"
    );
    assert_eq!(
        addresses("dovecot[mode=aggressive]", d.path()),
        [
            ("111.7.96.136".to_owned(), 1),
            ("149.255.204.12".to_owned(), 2)
        ]
    );
}

#[test]
fn seed_000_dovecot_lines_are_banned_from_a_syslog_file() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("mail.log");
    let text: String = DOVECOT
        .iter()
        .map(|(msg, _)| format!("Apr 18 09:02:07 instance-2 dovecot: {msg}\n"))
        .collect();
    std::fs::write(&path, text).unwrap();
    let j = json(&run(&[
        "test-filter",
        "dovecot",
        path.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(j["addresses"][0]["address"], DOVECOT[0].1, "{j}");
    assert_eq!(j["addresses"][0]["failures"], 2, "{j}");
}

#[test]
fn exim_logging_to_syslog_is_read_and_routed_on_exims_unit_and_binary() {
    let d = tempfile::tempdir().unwrap();
    let mut v: Vec<E> = EXIM
        .iter()
        .enumerate()
        .map(|(i, (msg, _))| exim_entry(T0 + i as i64 * SEC, msg))
        .collect();
    // A user's .forward pipe inside Exim's unit, calling itself exim: not Exim's binary.
    v.push(
        E::new(T0 + 10 * SEC)
            .f("_UID", "1000")
            .f("_SYSTEMD_UNIT", "exim4.service")
            .f("_EXE", "/usr/bin/python3.11")
            .f("_COMM", "exim4")
            .f("SYSLOG_IDENTIFIER", "exim")
            .f(
                "MESSAGE",
                &EXIM[0].0.replace("203.0.113.40", "198.51.100.65"),
            ),
    );
    make_journal(d.path(), &v);
    let want: Vec<(String, u64)> = EXIM.iter().map(|(_, ip)| (ip.to_string(), 1)).collect();
    assert_eq!(addresses("exim", d.path()), want);
}

#[test]
fn exim_mainlog_lines_are_read_as_a_file() {
    // /var/log/exim4/mainlog: Exim's own timestamp starts every line.
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("mainlog");
    let text: String = EXIM
        .iter()
        .map(|(msg, _)| {
            if msg.starts_with("20") {
                format!("{msg}\n")
            } else {
                format!("2026-11-15 09:02:08 {msg}\n")
            }
        })
        .collect();
    std::fs::write(&path, text).unwrap();
    let j = json(&run(&[
        "test-filter",
        "exim",
        path.to_str().unwrap(),
        "--json",
    ]));
    let got: Vec<&str> = j["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert_eq!(got.len(), EXIM.len(), "{j}");
    for (_, ip) in EXIM {
        assert!(got.contains(ip), "{ip} missing: {j}");
    }
}
