//! A jail that names a fail2ban filter file (`filter = "fail2ban:exim"`, or its path):
//! imported at load time by the same importer as `banjo import-filter`, its warnings
//! shown by `banjo check`, its errors naming the .conf file, line and key, and the
//! filter banning through `banjo replay` like its imported TOML would.
//! Reads the fail2ban package installed here; nothing of it is copied.

mod common;
use common::*;
use serde_json::Value;

const EXIM_CONF: &str = "/etc/fail2ban/filter.d/exim.conf";

fn check(dir: &std::path::Path) -> std::process::Output {
    run(&["check", "--config", dir.to_str().unwrap()])
}

fn exim_jail(filter: &str) -> String {
    format!(
        "[jail.exim]\nenabled = true\nfilter = \"{filter}\"\njournalmatch = \"_SYSTEMD_UNIT=exim4.service\"\nmaxretry = 2\n"
    )
}

#[test]
fn fail2ban_name_and_path_both_load() {
    assert!(
        std::path::Path::new(EXIM_CONF).is_file(),
        "install fail2ban"
    );
    for filter in ["fail2ban:exim", EXIM_CONF, "fail2ban:exim[mode=aggressive]"] {
        let d = tempfile::tempdir().unwrap();
        write_config(d.path(), &[("jail.d/exim.toml", &exim_jail(filter))]);
        let out = check(d.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{filter}: {}{}",
            text(&out),
            stderr(&out)
        );
        assert!(text(&out).contains("[exim] enabled"), "{}", text(&out));
    }
}

#[test]
fn a_fail2ban_parameter_beside_the_modes_is_a_jail_parameter() {
    // sshd's `publickey` stays a choice next to its modes, as in fail2ban's jail.conf.
    let jail = |f: &str| format!("[jail.sshd]\nenabled = true\nfilter = \"{f}\"\n");
    let d = tempfile::tempdir().unwrap();
    write_config(
        d.path(),
        &[(
            "jail.d/sshd.toml",
            &jail("fail2ban:sshd[mode=aggressive, publickey=any]"),
        )],
    );
    let out = check(d.path());
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out), stderr(&out));
    let d = tempfile::tempdir().unwrap();
    write_config(
        d.path(),
        &[("jail.d/sshd.toml", &jail("fail2ban:sshd[publickey=maybe]"))],
    );
    let out = check(d.path());
    assert_eq!(out.status.code(), Some(2), "{}{}", text(&out), stderr(&out));
    let all = format!("{}{}", text(&out), stderr(&out));
    assert!(all.contains("publickey has no value \"maybe\""), "{all}");
    assert!(all.contains("any, ignore, invalid, nofail"), "{all}");
}

#[test]
fn a_missing_or_bad_fail2ban_filter_names_file_line_and_key() {
    let d = tempfile::tempdir().unwrap();
    let f2b = d.path().join("f2b");
    std::fs::create_dir_all(&f2b).unwrap();
    std::fs::write(
        f2b.join("mine.conf"),
        "[Definition]\nfailregex = ^ok from <HOST>$\n            ^bad <not-defined> from <HOST>$\n",
    )
    .unwrap();
    write_config(
        d.path(),
        &[(
            "jail.d/x.toml",
            "[jail.gone]\nenabled = true\nfilter = \"fail2ban:nosuchfilter\"\njournalmatch = \"_SYSTEMD_UNIT=x.service\"\n\
             [jail.mine]\nenabled = true\nfilter = \"fail2ban:mine\"\nfail2ban_filter_dir = \"f2b\"\njournalmatch = \"_SYSTEMD_UNIT=x.service\"\n\
             [jail.odd]\nenabled = true\nfilter = \"fail2ban:../x\"\njournalmatch = \"_SYSTEMD_UNIT=x.service\"\n",
        )],
    );
    let out = check(d.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let e = stderr(&out);
    assert!(
        e.contains("jail.d/x.toml:3: error: jail gone: filter: no such fail2ban filter file /etc/fail2ban/filter.d/nosuchfilter.conf"),
        "{e}"
    );
    // The pattern that could not be imported: the .conf, its line, the key.
    assert!(
        e.contains("f2b/mine.conf:3: error: jail mine: failregex: left out"),
        "{e}"
    );
    assert!(e.contains("not-defined"), "{e}");
    assert!(
        e.contains("jail.d/x.toml:12: error: jail odd: filter:"),
        "{e}"
    );
}

#[test]
fn what_banjo_does_differently_is_a_warning_in_check() {
    // A user's filter with a multi-line window and a parameter switch: it imports (and
    // the jail runs), and check says where it differs from fail2ban.
    let d = tempfile::tempdir().unwrap();
    let f2b = d.path().join("f2b");
    std::fs::create_dir_all(&f2b).unwrap();
    std::fs::write(
        f2b.join("svc.conf"),
        "[Definition]\n\
         failregex = ^auth failed from <HOST>$\n\
         \x20           ^<F-ID>\\d+</F-ID> rejected <HOST>$\n\
         [Init]\nmaxlines = 5\n",
    )
    .unwrap();
    write_config(
        d.path(),
        &[(
            "jail.d/svc.toml",
            "[jail.svc]\nenabled = true\nfilter = \"fail2ban:svc\"\nfail2ban_filter_dir = \"f2b\"\njournalmatch = \"_SYSTEMD_UNIT=svc.service\"\n",
        )],
    );
    let out = check(d.path());
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out), stderr(&out));
    let e = stderr(&out);
    assert!(e.contains("svc.conf:5: warning: jail svc: maxlines"), "{e}");
    assert!(
        e.contains("svc.conf:3: warning: jail svc: failregex: <F-ID"),
        "{e}"
    );
}

fn exim(t: i64, pid: u32, msg: &str) -> E {
    E::new(t)
        .f("_UID", "101")
        .f("_COMM", "exim4")
        .f("SYSLOG_IDENTIFIER", "exim")
        .f("_PID", &pid.to_string())
        .f("_SYSTEMD_UNIT", "exim4.service")
        .f("MESSAGE", msg)
}

#[test]
fn replay_bans_with_the_fail2ban_filter() {
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &d.path().join("etc"),
        &[(
            "banjo.toml",
            &format!(
                "[jail.sshd]\nenabled = false\n[jail.recidive]\nenabled = false\n{}bantime = \"1h\"\n",
                exim_jail("fail2ban:exim")
            ),
        )],
    );
    let jdir = d.path().join("journal");
    let bad = "203.0.113.7";
    let other = "198.51.100.9";
    make_journal(
        &jdir,
        &[
            exim(T0, 10, &format!("login authenticator failed for (ylmf-pc) [{bad}]: 535 Incorrect authentication data")),
            // A user name that carries an address never supplies the host.
            exim(T0 + SEC, 10, &format!("login authenticator failed for (x [{other}]) [{bad}]: 535 Incorrect authentication data (set_id=[{other}])")),
            exim(T0 + 2 * SEC, 11, &format!("H=(x) [{bad}] rejected RCPT <a@example.org>: relay not permitted")),
            exim(T0 + 3 * SEC, 12, &format!("SMTP connection from [{other}] lost")),
        ],
    );
    let out = run(&[
        "replay",
        "--config",
        cfg.to_str().unwrap(),
        "--journal-dir",
        jdir.to_str().unwrap(),
        "--no-ignoreself",
        "--json",
    ]);
    let j: Value = json(&out);
    let bans: Vec<(String, String)> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "ban")
        .map(|e| {
            (
                e["jail"].as_str().unwrap().to_owned(),
                e["addr"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(bans, vec![("exim".to_owned(), bad.to_owned())], "{j:#}");
}
