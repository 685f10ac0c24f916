//! `banjo test-filter` through the binary, on real journal files and text.

mod common;
use common::*;

fn sample_journal(dir: &std::path::Path) {
    let mut v = Vec::new();
    for i in 0..6 {
        v.push(E::sshd(
            T0 + i * SEC,
            100 + i as u32,
            "Failed password for root from 203.0.113.5 port 22 ssh2",
        ));
    }
    // An injection attempt: the user name carries a decoy address.
    v.push(E::sshd(
        T0 + 10 * SEC,
        200,
        "Failed password for invalid user x from 198.51.100.66 port 1 from 203.0.113.6 port 4242 ssh2",
    ));
    // Same text from another program: the sshd journalmatch (_COMM) must not route it.
    v.push(
        E::new(T0 + 11 * SEC)
            .f("_COMM", "logger")
            .f("SYSLOG_IDENTIFIER", "sshd")
            .f(
                "MESSAGE",
                "Failed password for root from 198.51.100.67 port 22 ssh2",
            ),
    );
    // A local user's process that named itself sshd (prctl, /proc/self/comm): _COMM is
    // the process's own choice, _UID the kernel's. It must not be routed either.
    v.push(
        E::new(T0 + 11 * SEC + 1)
            .f("_UID", "65534")
            .f("_COMM", "sshd")
            .f("SYSLOG_IDENTIFIER", "sshd")
            .f("_PID", "4242")
            .f(
                "MESSAGE",
                "Failed password for root from 198.51.100.68 port 22 ssh2",
            ),
    );
    v.push(E::sshd(
        T0 + 12 * SEC,
        300,
        "Server listening on 0.0.0.0 port 22.",
    ));
    // Multi-entry: the address is in the first entry of process 400, the failure in the second.
    v.push(E::sshd(
        T0 + 13 * SEC,
        400,
        "Connection from 2001:db8::77 port 5000 on 192.0.2.1 port 22 rdomain \"\"",
    ));
    v.push(E::sshd(
        T0 + 14 * SEC,
        400,
        "Disconnecting: Too many authentication failures [preauth]",
    ));
    // Binary MESSAGE and a huge one must not stop the reader.
    v.push(
        E::new(T0 + 15 * SEC)
            .f("_UID", "0")
            .f("_COMM", "sshd")
            .f("_PID", "500")
            .raw(
                "MESSAGE",
                b"Failed password for \xff\xfe from 203.0.113.8 port 1 ssh2",
            ),
    );
    let huge = format!(
        "Failed password for {} from 203.0.113.9 port 1 ssh2",
        "A".repeat(200_000)
    );
    v.push(E::sshd(T0 + 16 * SEC, 501, &huge));
    make_journal(dir, &v);
}

#[test]
fn journal_dir_counts_routes_and_correlates() {
    let d = tempfile::tempdir().unwrap();
    sample_journal(d.path());
    let out = run(&[
        "test-filter",
        "sshd",
        "--journal-dir",
        d.path().to_str().unwrap(),
        "--json",
    ]);
    let j = json(&out);
    // 6 + injection + listening + connection + disconnecting + binary + huge = 12 sshd entries;
    // neither the logger entry nor the renamed process of another user is routed.
    assert_eq!(j["entries"], 12, "{j}");
    let addrs: Vec<(String, u64)> = j["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["address"].as_str().unwrap().to_owned(),
                a["failures"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(addrs.contains(&("203.0.113.5".into(), 6)), "{addrs:?}");
    assert!(addrs.contains(&("203.0.113.6".into(), 1)), "{addrs:?}");
    assert!(
        addrs.contains(&("2001:db8::77".into(), 1)),
        "correlated by _PID: {addrs:?}"
    );
    assert!(
        addrs.contains(&("203.0.113.8".into(), 1)),
        "binary message: {addrs:?}"
    );
    for decoy in ["198.51.100.66", "198.51.100.67", "198.51.100.68"] {
        assert!(
            addrs.iter().all(|(a, _)| a != decoy),
            "{decoy} must never be found: {addrs:?}"
        );
    }
    // The huge message is capped before matching, so its tail (with the host) is cut:
    // no failure, but the reader went on to the end.
    assert!(addrs.iter().all(|(a, _)| a != "203.0.113.9"), "{addrs:?}");
    assert_eq!(
        j["missed"].as_u64().unwrap()
            + j["matched"].as_u64().unwrap()
            + j["ignored"].as_u64().unwrap(),
        12
    );
}

#[test]
fn explicit_match_and_all_entries() {
    let d = tempfile::tempdir().unwrap();
    sample_journal(d.path());
    let dir = d.path().to_str().unwrap();
    let j = json(&run(&[
        "test-filter",
        "sshd",
        "--journal-dir",
        dir,
        "--match",
        "SYSLOG_IDENTIFIER=sshd",
        "--json",
    ]));
    // By identifier the logger entry and the renamed process are included (that is why
    // the default routes on _UID); the binary-message entry has no identifier.
    assert_eq!(j["entries"], 13);
    let j = json(&run(&[
        "test-filter",
        "sshd",
        "--journal-dir",
        dir,
        "--all-entries",
        "--json",
    ]));
    assert_eq!(j["entries"], 14);
    let bad = run(&[
        "test-filter",
        "sshd",
        "--journal-dir",
        dir,
        "--match",
        "sshd",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("FIELD=VALUE"), "{}", stderr(&bad));
}

#[test]
fn text_file_stdin_and_single_line() {
    let lines = "\
Nov 21 05:09:41 host sshd[1234]: Failed password for root from 192.0.2.10 port 22 ssh2
Nov 21 05:09:42 host sshd[1234]: Failed password for root from 192.0.2.10 port 22 ssh2
Nov 21 05:09:43 host sshd[1235]: Invalid user admin from 2001:db8::1 port 4000
2026-11-21T05:09:44.123456+09:00 host sshd[1236]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.3  user=root
Nov 21 05:09:45 host CRON[99]: pam_unix(cron:session): session opened for user root
";
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("auth.log");
    std::fs::write(&f, lines).unwrap();
    let j = json(&run(&[
        "test-filter",
        "sshd",
        f.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(j["entries"], 5);
    assert_eq!(j["matched"], 4);
    assert_eq!(j["missed"], 1);
    let hits: Vec<u64> = j["failregex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["hits"].as_u64().unwrap())
        .collect();
    assert_eq!(hits[0], 2, "Failed password hits: {hits:?}");

    let j = json(&run_stdin(
        &["test-filter", "sshd", "-", "--json"],
        lines.as_bytes(),
    ));
    assert_eq!(j["matched"], 4);

    let j = json(&run(&[
        "test-filter",
        "sshd",
        "Nov 21 05:09:41 host sshd[1]: Failed password for root from 192.0.2.10 port 22 ssh2",
        "--json",
    ]));
    assert_eq!(j["matched"], 1);
    assert_eq!(j["addresses"][0]["address"], "192.0.2.10");
}

#[test]
fn human_report_looks_like_fail2ban_regex() {
    let out = run(&[
        "test-filter",
        "sshd",
        "Nov 21 05:09:41 host sshd[1]: Failed password for root from 192.0.2.10 port 22 ssh2",
        "--print-all-matched",
    ]);
    let t = text(&out);
    assert!(t.contains("Failregex: 1 total"), "{t}");
    assert!(t.contains("|-  #) [# of hits] regular expression"), "{t}");
    assert!(
        t.contains("Lines: 1 lines, 0 ignored, 1 matched, 0 missed"),
        "{t}"
    );
    assert!(t.contains("matched: 192.0.2.10"), "{t}");
}

#[test]
fn verbose_lists_each_failregex_matches() {
    let d = tempfile::tempdir().unwrap();
    sample_journal(d.path());
    let dir = d.path().to_str().unwrap();
    let j = json(&run(&[
        "test-filter",
        "sshd",
        "--journal-dir",
        dir,
        "--json",
        "-v",
    ]));
    let pats = j["failregex"].as_array().unwrap();
    let mut all = Vec::new();
    for p in pats {
        let m = p["matches"]
            .as_array()
            .expect("-v adds matches to every failregex");
        assert_eq!(m.len() as u64, p["hits"].as_u64().unwrap(), "{p}");
        all.extend(m.iter().cloned());
    }
    let failed = |a: &str| {
        all.iter()
            .filter(|m| m["address"] == a && m["failure"] == true)
            .count()
    };
    assert_eq!(failed("203.0.113.5"), 6, "{all:?}");
    assert_eq!(failed("2001:db8::77"), 1, "correlated: {all:?}");
    // "Connection from" is <F-NOFAIL>: listed, not counted.
    assert!(all
        .iter()
        .any(|m| m["address"] == "2001:db8::77" && m["failure"] == false));
    assert!(all
        .iter()
        .all(|m| m["time"].as_str().unwrap().starts_with("2026-11-16T")));
    // Without -v the JSON has no lists.
    let j = json(&run(&[
        "test-filter",
        "sshd",
        "--journal-dir",
        dir,
        "--json",
    ]));
    assert!(j["failregex"][0].get("matches").is_none());
    // Text: addresses under their pattern, as fail2ban-regex -v prints them.
    let t = text(&run(&["test-filter", "sshd", "--journal-dir", dir, "-v"]));
    assert!(
        t.contains("|      203.0.113.5                             2026-11-16T00:00:00Z"),
        "{t}"
    );
    assert!(t.contains("(not counted)"), "{t}");
}

#[test]
fn inline_regex_modes_and_filter_files() {
    let line = "Jun  1 00:00:00 h app[1]: denied 203.0.113.4";
    let j = json(&run(&["test-filter", r"^denied <HOST>$", line, "--json"]));
    assert_eq!(j["matched"], 1);
    // Look-around falls back to PCRE2 and still works.
    let j = json(&run(&[
        "test-filter",
        r"^denied (?!10\.)<HOST>$",
        line,
        "--json",
    ]));
    assert_eq!(j["failregex"][0]["engine"], "pcre2");
    assert_eq!(j["matched"], 1);
    // Aggressive mode adds patterns.
    let ddos =
        "Jun  1 00:00:00 h sshd[1]: Did not receive identification string from 203.0.113.4 port 5";
    assert_eq!(
        json(&run(&["test-filter", "sshd", ddos, "--json"]))["matched"],
        0
    );
    assert_eq!(
        json(&run(&[
            "test-filter",
            "sshd[mode=aggressive]",
            ddos,
            "--json"
        ]))["matched"],
        1
    );
    // A filter file.
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("app.toml");
    std::fs::write(&f, "failregex = ['^denied <HOST>$']\n").unwrap();
    assert_eq!(
        json(&run(&["test-filter", f.to_str().unwrap(), line, "--json"]))["matched"],
        1
    );
}

#[test]
fn bad_filter_is_a_usage_error() {
    for (filter, want) in [
        ("nosuch", "no filter named"),
        ("sshd[mode=turbo]", "no mode"),
        (r"^broken (<HOST>$", "does not compile"),
        (r"^no host tag$", "no <HOST>"),
    ] {
        let out = run(&["test-filter", filter, "some line"]);
        assert_eq!(out.status.code(), Some(2), "{filter}");
        assert!(stderr(&out).contains(want), "{filter}: {}", stderr(&out));
    }
    let out = run(&["test-filter", "sshd"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_users_script_inside_postfixs_unit_posing_as_smtpd_is_not_routed() {
    // local(8) runs a user's .forward command inside Postfix's unit, as that user; the
    // script can call itself smtpd, but it is not the smtpd executable.
    let reject = |ip: &str| {
        format!("NOQUEUE: reject: RCPT from unknown[{ip}]: 554 5.7.1 <x@example.org>: Relay access denied; from=<a@b.example> to=<x@example.org> proto=ESMTP helo=<x>")
    };
    let entry = |t: i64, exe: &str, uid: &str, ip: &str| {
        E::new(t)
            .f("_UID", uid)
            .f("_COMM", "smtpd")
            .f("_EXE", exe)
            .f("_SYSTEMD_UNIT", "postfix@-.service")
            .f("SYSLOG_IDENTIFIER", "postfix/smtpd")
            .f("_PID", "77")
            .f("MESSAGE", &reject(ip))
    };
    let d = tempfile::tempdir().unwrap();
    make_journal(
        d.path(),
        &[
            entry(T0, "/usr/lib/postfix/sbin/smtpd", "107", "203.0.113.30"),
            entry(T0 + SEC, "/usr/libexec/postfix/smtpd", "89", "203.0.113.31"),
            entry(T0 + 2 * SEC, "/usr/bin/python3.11", "1000", "198.51.100.79"),
        ],
    );
    let j = json(&run(&[
        "test-filter",
        "postfix",
        "--journal-dir",
        d.path().to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(j["entries"], 2, "{j}");
    let addrs: Vec<&str> = j["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert_eq!(addrs.len(), 2, "{addrs:?}");
    assert!(
        addrs.contains(&"203.0.113.30") && addrs.contains(&"203.0.113.31"),
        "{addrs:?}"
    );
}

/// `--logpath`: a file read as the daemon reads a jail's logpath files, the date cut
/// as fail2ban cuts it; lines over 8 KiB are cut there and their rest skipped, never
/// read as a line of its own.
#[test]
fn logpath_reads_a_file_as_the_daemon_follows_it() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("access.log");
    let probe = |ip: &str, path: &str| {
        format!("{ip} - - [07/Dec/2026:10:00:00 +0000] \"GET {path} HTTP/1.1\" 404 1 \"-\" \"x\"\n")
    };
    let mut text = probe("198.51.100.1", "/pma/index.php");
    // A stamp-shaped request path changes nothing: the real date is leftmost.
    text.push_str(&probe("198.51.100.2", "/phpmyadmin/07/Dec/2026:10:00:00"));
    // A line longer than 8 KiB whose tail (past the cap) looks like a probe line.
    text.push_str(&format!(
        "198.51.100.3 - - [07/Dec/2026:10:00:00 +0000] \"GET /static/{} HTTP/1.1\" 200 1 \"-\" \"x\"{}",
        "a".repeat(9000),
        probe("203.0.113.66", "/pma/index.php")
    ));
    std::fs::write(&f, text).unwrap();
    let out = banjo()
        .args(["test-filter", "nginx-botsearch", "--logpath", "--json"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json(&out);
    assert_eq!(j["entries"], 3, "{j}");
    assert_eq!(j["failures"], 2, "{j}");
    let addrs = j.to_string();
    assert!(
        addrs.contains("198.51.100.1") && addrs.contains("198.51.100.2"),
        "{j}"
    );
    assert!(
        !addrs.contains("203.0.113.66"),
        "the cut-off tail of a long line: {j}"
    );
    // A bad datepattern is a usage error.
    let out = banjo()
        .args([
            "test-filter",
            "nginx-botsearch",
            "--logpath",
            "--datepattern",
            "%Q",
        ])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown code %Q"));
}
