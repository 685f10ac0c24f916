//! `banjo doctor` on a real journal file: it finds the jail that reads nothing, the
//! service whose built-in jail is off, and the failures no jail takes — and, once
//! those are fixed, nothing.

mod common;
use common::*;

fn journal(dir: &std::path::Path) {
    let mut v = Vec::new();
    for i in 0..3 {
        v.push(E::sshd(
            T0 + i * SEC,
            100,
            "Failed password for root from 203.0.113.10 port 22 ssh2",
        ));
    }
    v.push(E::sshd(
        T0 + 4 * SEC,
        101,
        "Accepted publickey for admin from 198.51.100.40 port 22 ssh2",
    ));
    let unit = |t: i64, unit: &str, msg: &str| {
        E::new(t)
            .f("_UID", "0")
            .f("_SYSTEMD_UNIT", unit)
            .f("SYSLOG_IDENTIFIER", unit.trim_end_matches(".service"))
            .f("_PID", "300")
            .f("MESSAGE", msg)
    };
    v.push(unit(
        T0 + 5 * SEC,
        "dovecot.service",
        "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<bob>, method=PLAIN, rip=203.0.113.20, lip=192.0.2.1, TLS, session=<abc>",
    ));
    v.push(unit(
        T0 + 6 * SEC,
        "dovecot.service",
        "master: Dovecot v2.3.19 starting up",
    ));
    for (i, ip) in [
        "203.0.113.30",
        "203.0.113.30",
        "203.0.113.30",
        "203.0.113.31",
    ]
    .iter()
    .enumerate()
    {
        v.push(unit(
            T0 + (10 + i as i64) * SEC,
            "myapp.service",
            &format!("login failed for 'user{i}' from {ip}: bad password"),
        ));
    }
    v.push(unit(
        T0 + 20 * SEC,
        "myapp.service",
        "Connection from 203.0.113.41 accepted",
    ));
    make_journal(dir, &v);
}

fn doctor(cfg: &std::path::Path, journal: &std::path::Path) -> (Option<i32>, serde_json::Value) {
    let out = run(&[
        "doctor",
        "--config",
        cfg.to_str().unwrap(),
        "--journal-dir",
        journal.to_str().unwrap(),
        "--since",
        "2026-11-15",
        "--json",
    ]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out), stderr(&out)));
    (out.status.code(), v)
}

#[test]
fn finds_what_is_unprotected_and_then_nothing() {
    let d = tempfile::tempdir().unwrap();
    let jd = d.path().join("journal");
    journal(&jd);
    let cfg = write_config(
        &d.path().join("etc"),
        &[(
            "banjo.toml",
            "[jail.myjail]\nenabled = true\nfilter = \"sshd\"\njournalmatch = \"_SYSTEMD_UNIT=nothing.service _UID=0\"\n",
        )],
    );
    let (code, r) = doctor(&cfg, &jd);
    assert_eq!(code, Some(1), "{r:#}");
    assert_eq!(r["entries"], 11, "{r:#}");
    let jail = |name: &str| {
        r["jails"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["jail"] == name)
            .unwrap_or_else(|| panic!("{name}: {r:#}"))
            .clone()
    };
    assert_eq!(jail("sshd")["failures"], 3);
    assert_eq!(jail("sshd")["addresses"], 1);
    let f = r["findings"].as_array().unwrap();
    let kinds: Vec<(String, String)> = f
        .iter()
        .map(|x| {
            (
                x["kind"].as_str().unwrap().to_owned(),
                x["jail"]
                    .as_str()
                    .or(x["program"].as_str())
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("reads_nothing".into(), "myjail".into())),
        "{kinds:?}"
    );
    let dove = f
        .iter()
        .find(|x| x["jail"] == "dovecot")
        .expect("dovecot unprotected");
    assert_eq!(dove["kind"], "unprotected");
    assert_eq!(dove["entries"], 2);
    assert_eq!(dove["failures"], 1);
    let app: Vec<&serde_json::Value> = f
        .iter()
        .filter(|x| x["program"] == "myapp.service")
        .collect();
    assert_eq!(app.len(), 1, "one shape for the four lines: {app:?}");
    assert_eq!(app[0]["entries"], 4);
    assert_eq!(app[0]["addresses"], 2);
    assert_eq!(
        app[0]["shape"],
        "login failed for '…' from <HOST>: bad password"
    );
    // sshd's lines are taken by sshd (also the accepted login), so none is unfiltered.
    assert!(f.iter().all(|x| x["program"] != "ssh.service"), "{f:?}");

    // Fixed: dovecot on, a filter for myapp, no jail reading nothing.
    let cfg = write_config(
        &d.path().join("etc2"),
        &[
            (
                "banjo.toml",
                "[jail.dovecot]\nenabled = true\n[jail.myapp]\nenabled = true\nfilter = \"myapp\"\njournalmatch = \"_SYSTEMD_UNIT=myapp.service\"\n",
            ),
            (
                "filter.d/myapp.toml",
                "failregex = ['^login failed for \\x27[^\\x27]*\\x27 from <HOST>: bad password$']\n",
            ),
        ],
    );
    let (code, r) = doctor(&cfg, &jd);
    assert_eq!(r["findings"], serde_json::json!([]), "{r:#}");
    assert_eq!(code, Some(0));

    // The human report says the same in words.
    let out = run(&[
        "doctor",
        "--config",
        d.path().join("etc").to_str().unwrap(),
        "--journal-dir",
        jd.to_str().unwrap(),
        "--since",
        "2026-11-15",
    ]);
    let t = text(&out);
    assert!(t.contains("myjail") && t.contains("READS NOTHING"), "{t}");
    assert!(
        t.contains("dovecot") && t.contains("would have counted 1 failures"),
        "{t}"
    );
    assert!(
        t.contains("myapp.service: login failed for '…' from <HOST>"),
        "{t}"
    );
}

#[test]
fn a_bad_since_is_a_usage_error() {
    let out = run(&[
        "doctor",
        "--since",
        "yesterday-ish",
        "--journal-dir",
        "/nonexistent",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--since"), "{}", stderr(&out));
}
