//! Mail services that log to files by default, for real: `banjo run` follows Exim's
//! mainlog and Roundcube's errors log in a private mount and network namespace (a real
//! journald, iptables + ipset) and bans with the built-in exim and roundcube-auth
//! filters. Each test re-runs itself inside `unshare --mount --net` (see common::ns).

mod common;
use common::ns::*;
use std::io::Write;
use std::path::Path;

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        f.write_all(format!("{l}\n").as_bytes()).unwrap();
    }
}

fn banned(jail: &str, ip: &str) -> bool {
    ipset_members(&format!("banjo-{jail}-4")).contains(&ip.to_string())
}

#[test]
fn exim_mainlog_auth_guessing_is_banned_and_a_decoy_in_set_id_is_not() {
    if !enter("exim_mainlog_auth_guessing_is_banned_and_a_decoy_in_set_id_is_not") {
        return;
    }
    let j = Journald::start();
    let dir = j.work.path().join("log/exim4");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("mainlog");
    let cfg = format!(
        "\n[jail.exim]\nenabled = true\nlogpath = [\"{}\"]\nmaxretry = 3\nfindtime = \"10m\"\nbantime = \"1h\"\n",
        log.display()
    );
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);
    let stamp = shell("date -u '+%Y-%m-%d %H:%M:%S'").trim().to_owned();
    // The user name (set_id) carries a decoy; Exim's own [ADDR] comes first.
    let lines: Vec<String> = (0..3)
        .map(|i| {
            format!(
                "{stamp} [4242] dovecot_login authenticator failed for (User) [198.51.100.7]:5012{i} I=[192.0.2.1]:587: 535 Incorrect authentication data (set_id=x [198.51.100.66]: 535 Incorrect authentication data)"
            )
        })
        .collect();
    append(&log, &lines);
    eventually(5, "198.51.100.7 banned from Exim's mainlog", || {
        banned("exim", "198.51.100.7")
    });
    assert!(!banned("exim", "198.51.100.66"), "the decoy in set_id");
    let st = b.cli_json(&["status", "exim"]);
    assert_eq!(st["total_failed"], 3, "{st}");
}

#[test]
fn roundcube_errors_log_is_banned_and_the_user_name_cannot_choose() {
    if !enter("roundcube_errors_log_is_banned_and_the_user_name_cannot_choose") {
        return;
    }
    let j = Journald::start();
    let dir = j.work.path().join("log/roundcube");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("errors.log");
    let cfg = format!(
        "\n[jail.roundcube-auth]\nenabled = true\nlogpath = [\"{}\"]\nmaxretry = 3\nfindtime = \"10m\"\nbantime = \"1h\"\n",
        log.display()
    );
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);
    let stamp = shell("date -u '+%d-%b-%Y %H:%M:%S +0000'")
        .trim()
        .to_owned();
    let lines: Vec<String> = (0..3)
        .map(|i| {
            format!(
                "[{stamp}]: <j2pnce{i}8> IMAP Error: Login failed for admin from 198.51.100.66 from 198.51.100.8. AUTHENTICATE PLAIN: Authentication failed. in /usr/share/roundcube/program/lib/Roundcube/rcube_imap.php on line 211 (POST /?_task=login&_action=login)"
            )
        })
        .collect();
    append(&log, &lines);
    eventually(5, "198.51.100.8 banned from Roundcube's errors log", || {
        banned("roundcube-auth", "198.51.100.8")
    });
    assert!(
        !banned("roundcube-auth", "198.51.100.66"),
        "the decoy in the user name"
    );
}
