//! `banjo import-filter` through the binary: fail2ban's installed sshd filter and the
//! kind of hand-written filters our users bring (a Qpopper login filter, a UFW
//! port-scan filter, an Apache filter built on apache-common.conf), imported, then run
//! with `banjo test-filter` on the log lines they were written for.

mod common;
use common::*;
use std::path::Path;

const FILTER_D: &str = "/etc/fail2ban/filter.d";

fn import_to(dir: &Path, files: &[&str]) -> std::process::Output {
    let mut args = vec!["import-filter"];
    args.extend_from_slice(files);
    args.extend_from_slice(&["-o", dir.to_str().unwrap()]);
    run(&args)
}

fn addresses(filter: &Path, line: &str) -> Vec<String> {
    let j = json(&run(&[
        "test-filter",
        filter.to_str().unwrap(),
        line,
        "--json",
    ]));
    j["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn fail2ban_sshd_imports_and_matches() {
    let out = tempfile::tempdir().unwrap();
    let o = import_to(out.path(), &[&format!("{FILTER_D}/sshd.conf")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("sshd.conf: imported"), "{err}");
    let f = out.path().join("sshd.toml");
    let toml = std::fs::read_to_string(&f).unwrap();
    assert!(toml.starts_with("# Imported from fail2ban's"), "{toml}");
    assert!(toml.contains("journalmatch = ['_SYSTEMD_UNIT=sshd.service', '_COMM=sshd']"));
    let line =
        "Nov 21 05:09:41 host sshd[7]: Failed password for root from 192.0.2.10 port 22 ssh2";
    assert_eq!(addresses(&f, line), vec!["192.0.2.10"]);
    // Modes carried over: aggressive counts what normal does not.
    let ddos =
        "Nov 21 05:09:41 host sshd[7]: Did not receive identification string from 192.0.2.11";
    let fa = format!("{}[mode=aggressive]", f.display());
    assert_eq!(
        json(&run(&["test-filter", f.to_str().unwrap(), ddos, "--json"]))["matched"],
        0
    );
    assert_eq!(
        json(&run(&["test-filter", &fa, ddos, "--json"]))["matched"],
        1
    );
    // Not overwritten without --force.
    let again = import_to(out.path(), &[&format!("{FILTER_D}/sshd.conf")]);
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(stderr(&again).contains("--force"));
}

#[test]
fn local_overrides_are_read() {
    // fail2ban's own files, read from the package at test time, next to an admin's
    // sshd.local that changes the default mode and the publickey switch.
    let src = tempfile::tempdir().unwrap();
    for f in ["common.conf", "sshd.conf"] {
        std::fs::copy(Path::new(FILTER_D).join(f), src.path().join(f)).unwrap();
    }
    std::fs::write(
        src.path().join("sshd.local"),
        "[Definition]\nmode = aggressive\npublickey = any\n",
    )
    .unwrap();
    let conf = src.path().join("sshd.conf");
    let o = run(&["import-filter", conf.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let toml = text(&o);
    assert!(
        toml.contains("sshd.local"),
        "read list names the .local: {toml}"
    );
    assert!(toml.contains("mode = 'aggressive'"), "{toml}");
    assert!(
        stderr(&o).contains("publickey (default \"any\") stays a choice"),
        "{}",
        stderr(&o)
    );
    // publickey = any: a valid user's failed key counts (fail2ban's cmnfailed-any).
    let out = tempfile::tempdir().unwrap();
    let f = out.path().join("sshd.toml");
    std::fs::write(&f, &toml).unwrap();
    let line = "Nov 21 05:09:41 host sshd[7]: Failed publickey for root from 192.0.2.12 port 22 ssh2: RSA SHA256:abc";
    assert_eq!(addresses(&f, line), vec!["192.0.2.12"]);
    // Without the .local (publickey = nofail) the same line is not a failure.
    let plain = out.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let o = import_to(&plain, &[&format!("{FILTER_D}/sshd.conf")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(addresses(&plain.join("sshd.toml"), line).is_empty());
    // ... and the parameter is still a choice, as in fail2ban's jail.conf.
    let any = format!("{}[publickey=any]", plain.join("sshd.toml").display());
    assert_eq!(addresses(Path::new(&any), line), vec!["192.0.2.12"]);
    let any = format!(
        "{}[mode=aggressive, publickey=any]",
        plain.join("sshd.toml").display()
    );
    assert_eq!(addresses(Path::new(&any), line), vec!["192.0.2.12"]);
    let bad = format!("{}[publickey=maybe]", plain.join("sshd.toml").display());
    let o = run(&["test-filter", &bad, line]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("publickey has no value \"maybe\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn imported_filter_drops_into_filter_d() {
    let cfg = tempfile::tempdir().unwrap();
    let fd = cfg.path().join("filter.d");
    std::fs::create_dir(&fd).unwrap();
    let o = import_to(&fd, &[&format!("{FILTER_D}/asterisk.conf")]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(
        cfg.path().join("banjo.toml"),
        "[jail.asterisk]\nenabled = true\nfilter = \"asterisk[date=]\"\n",
    )
    .unwrap();
    let c = run(&["check", "-c", cfg.path().to_str().unwrap(), "--json"]);
    let j = json(&c);
    assert_eq!(j["errors"], 0, "{j}");
    let jail = j["jails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "asterisk")
        .unwrap();
    assert!(
        jail["filter_file"]
            .as_str()
            .unwrap()
            .ends_with("filter.d/asterisk.toml"),
        "{jail}"
    );
    // The filter's own journalmatch, carried over from fail2ban's [Init].
    assert_eq!(
        jail["journalmatch"], "_SYSTEMD_UNIT=asterisk.service",
        "{jail}"
    );
}

#[test]
fn users_filters_import_with_warnings_where_they_are_weak() {
    let src = tempfile::tempdir().unwrap();
    let w = |n: &str, t: &str| std::fs::write(src.path().join(n), t).unwrap();
    w(
        "qpopperauth.conf",
        "[Definition]\nfailregex = in.qpopper.* authentication failure.* tty=<HOST>\n",
    );
    w(
        "ufw-port-scan.conf",
        "[Definition]\nfailregex = .*\\[UFW BLOCK\\].* SRC=<HOST>\nignoreregex =\n",
    );
    // Built on the installed apache-common.conf, as fail2ban users write them.
    w(
        "apache-origin.conf",
        &format!(
            "[INCLUDES]\nbefore = {FILTER_D}/apache-common.conf\n\n[Definition]\n\n\
             failregex = ^%(_apache_error_client)s AH02811: script not found or unable to stat:.*$\n\
             \x20           ^%(_apache_error_client)s AH01630: client denied by server configuration:.*$\n\
             \nignoreregex =\n"
        ),
    );
    let out = tempfile::tempdir().unwrap();
    let names: Vec<String> = ["qpopperauth", "ufw-port-scan", "apache-origin"]
        .iter()
        .map(|n| src.path().join(format!("{n}.conf")).display().to_string())
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let o = import_to(out.path(), &refs);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    // Unanchored patterns are reported with file, line and key.
    assert!(
        err.contains("ufw-port-scan.conf:2: warning: failregex: 1 pattern(s) unanchored"),
        "{err}"
    );
    let q = std::fs::read_to_string(out.path().join("qpopperauth.toml")).unwrap();
    assert!(q.contains("likely the syslog tag"), "{q}");

    let ufw = out.path().join("ufw-port-scan.toml");
    let line = "Nov 21 00:00:41 router kernel: [2773313.371997] [UFW BLOCK] IN=ppp0 OUT= MAC= SRC=46.101.60.54 DST=192.0.2.1 LEN=40 PROTO=TCP SPT=58030 DPT=2294";
    assert_eq!(addresses(&ufw, line), vec!["46.101.60.54"]);

    let apache = out.path().join("apache-origin.toml");
    // Apache writing to its error log / stderr (date in MESSAGE) and to syslog (none).
    for line in [
        "[Mon Nov 22 12:43:22.123456 2021] [cgi:error] [pid 1234:tid 5678] [client 203.0.113.71:40000] AH02811: script not found or unable to stat: /usr/lib/cgi-bin/x",
        "Nov 22 12:43:22 web apache2[1234]: [authz_core:error] [pid 1234] [client 203.0.113.71:40000] AH01630: client denied by server configuration: /var/www/x",
    ] {
        assert_eq!(addresses(&apache, line), vec!["203.0.113.71"], "{line}");
    }
}

#[test]
fn untranslatable_filters_fail_with_file_and_line() {
    let out = tempfile::tempdir().unwrap();
    let o = import_to(out.path(), &[&format!("{FILTER_D}/mongodb-auth.conf")]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("mongodb-auth.conf:14: error: failregex: left out: <SKIPLINES>"),
        "{err}"
    );
    assert!(!out.path().join("mongodb-auth.toml").exists());
    // --json: one record per file, with the diagnostics.
    let o = run(&[
        "import-filter",
        &format!("{FILTER_D}/common.conf"),
        &format!("{FILTER_D}/dovecot.conf"),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j[0]["status"], "not-a-filter");
    assert_eq!(j[1]["status"], "imported");
    assert_eq!(j[1]["modes"], serde_json::json!(["aggressive", "normal"]));
    assert!(j[1]["toml"]
        .as_str()
        .unwrap()
        .contains("[modes.aggressive]"));
}
