//! Seed 001 (a tutorial's /var/log/auth.log, /work/shared/seeds/001_*.txt): one SSH
//! password attempt as sshd and PAM log it. The author counts "two separate failures in
//! the first two lines"; fail2ban (since 0.10) and banjo count the attempt once: PAM's
//! line only tells the address, sshd's "Failed password" is the failure, and a failure
//! line of the same connection that names no address takes PAM's.
//!
//! The lines are the author's, quoted as test data. They run as the journal gives them
//! (MESSAGE, _PID) and as the log file holds them (through banjo's syslog parser), in
//! every mode of the sshd built-in.

use banjo::filter::{builtin, spec::FilterSpec, Filter, Outcome, Session};
use banjo::journal::syslog::{parse_line, TextContext};
use banjo::journal::Entry;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

const LINES: &[&str] = &[
    // Note the blank after the address: PAM writes none, the seed's copy has one.
    "May  6 18:18:52 localhost sshd[3534]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=101.79.130.213 ",
    "May  6 18:18:54 localhost sshd[3534]: Failed password for invalid user phil from 101.79.130.213 port 38354 ssh2",
    "May  6 18:18:54 localhost sshd[3534]: Received disconnect from 101.79.130.213: 11: Bye Bye [preauth]",
];

fn modes() -> Vec<String> {
    let spec: FilterSpec = toml::from_str(builtin::get("sshd").unwrap()).unwrap();
    spec.modes.keys().cloned().collect()
}

fn session(mode: &str) -> Session {
    let params = BTreeMap::from([("mode".to_owned(), mode.to_owned())]);
    let f = Filter::from_toml("sshd", "<built-in>", builtin::get("sshd").unwrap(), &params)
        .unwrap_or_else(|e| panic!("sshd[mode={mode}]: {e:?}"));
    Session::new(Arc::new(f))
}

fn entry(line: &str) -> Entry {
    let ctx = TextContext {
        year: 2021,
        utc_offset_secs: 0,
    };
    let mut e = Entry::default();
    parse_line(line.as_bytes(), &ctx, &mut e);
    assert_eq!(e.fields.get("_PID"), Some(&b"3534"[..]), "{line}");
    e
}

fn attacker() -> IpAddr {
    "101.79.130.213".parse().unwrap()
}

#[test]
fn the_pam_line_is_read_with_or_without_a_blank_after_the_address() {
    let pam = LINES[0];
    for line in [
        pam.to_owned(),
        pam.trim_end().to_owned(),
        format!("{pam}\t"),
    ] {
        for mode in modes() {
            let mut s = session(&mode);
            match s.process(&entry(&line)).0 {
                Outcome::Matched(m) => {
                    assert_eq!(m.host, Some(attacker()), "{mode}: {line:?}");
                    assert!(m.nofail, "{mode}: PAM's line alone is no failure");
                }
                o => panic!("sshd[mode={mode}] does not read {line:?}: {o:?}"),
            }
        }
    }
}

#[test]
fn the_attempt_counts_once_in_every_mode() {
    for mode in modes() {
        let mut s = session(&mode);
        let failures: Vec<IpAddr> = LINES
            .iter()
            .filter_map(|l| s.process(&entry(l)).1.map(|f| f.ip))
            .collect();
        assert_eq!(failures, vec![attacker()], "sshd[mode={mode}]");
    }
}

#[test]
fn a_failure_without_address_takes_pams() {
    // No "Failed password": PAM's line, then sshd's locked-account refusal, which
    // names no address, then the close.
    let lines = [
        LINES[0],
        "May  6 18:18:53 localhost sshd[3534]: User phil not allowed because account is locked",
        LINES[2],
    ];
    for mode in modes() {
        let mut s = session(&mode);
        let failures: Vec<IpAddr> = lines
            .iter()
            .filter_map(|l| s.process(&entry(l)).1.map(|f| f.ip))
            .collect();
        assert_eq!(failures, vec![attacker()], "sshd[mode={mode}]");
    }
}
