//! Log files beside the journal, for real: `banjo run` follows files in a private
//! mount and network namespace (a real journald, iptables + ipset), while the test
//! writes, rotates and truncates them as web servers and logrotate do.
//! Each test re-runs itself inside `unshare --mount --net` (see common::ns).

mod common;
use common::ns::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Append lines to `path` (one write each, as a logger does).
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

/// Now, as the common log format writes it.
fn clf_now() -> String {
    shell("date -u '+%d/%b/%Y:%H:%M:%S +0000'")
        .trim()
        .to_owned()
}

/// An nginx access-log line of a bot probing for phpMyAdmin.
fn probe(ip: &str, n: usize) -> String {
    format!(
        "{ip} - - [{}] \"GET /pma/index.php?{n} HTTP/1.1\" 404 153 \"-\" \"Mozilla/5.0\"",
        clf_now()
    )
}

fn probes(ip: &str, from: usize, n: usize) -> Vec<String> {
    (from..from + n).map(|i| probe(ip, i)).collect()
}

fn banned(jail: &str, ip: &str) -> bool {
    ipset_members(&format!("banjo-{jail}-4")).contains(&ip.to_string())
}

fn nginx_config(log: &Path, maxretry: u32) -> String {
    format!(
        r#"
[jail.nginx-botsearch]
enabled = true
logpath = ["{}"]
maxretry = {maxretry}
findtime = "10m"
bantime = "1h"
"#,
        log.display()
    )
}

fn weblog(j: &Journald) -> PathBuf {
    let dir = j.work.path().join("log/nginx");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("access.log")
}

#[test]
fn nginx_access_log_brute_force_is_banned_and_old_lines_are_not_read() {
    if !enter("nginx_access_log_brute_force_is_banned_and_old_lines_are_not_read") {
        return;
    }
    let j = Journald::start();
    let log = weblog(&j);
    // Written before banjo's first start: the file is read from its end.
    append(&log, &probes("203.0.113.99", 0, 5));
    let mut b = Banjo::new(j.work.path(), &nginx_config(&log, 3));
    b.start(&[]);
    append(&log, &probes("203.0.113.20", 0, 2));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!banned("nginx-botsearch", "203.0.113.20"), "2 < maxretry");
    append(&log, &probes("203.0.113.20", 2, 1));
    eventually(5, "203.0.113.20 banned from the access log", || {
        banned("nginx-botsearch", "203.0.113.20")
    });
    let st = b.cli_json(&["status", "nginx-botsearch"]);
    assert_eq!(st["total_failed"], 3, "{st}");
    assert_eq!(st["currently_banned"], 1, "{st}");
    assert!(
        !banned("nginx-botsearch", "203.0.113.99"),
        "lines before the first start"
    );
}

#[test]
fn apache_error_log_brute_force_is_banned() {
    if !enter("apache_error_log_brute_force_is_banned") {
        return;
    }
    let j = Journald::start();
    let dir = j.work.path().join("log/apache2");
    std::fs::create_dir_all(&dir).unwrap();
    // A glob: the file appears after banjo started.
    let cfg = format!(
        r#"
[jail.apache-auth]
enabled = true
logpath = ["{}/*error.log"]
maxretry = 3
findtime = "10m"
bantime = "1h"
"#,
        dir.display()
    );
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);
    let log = dir.join("site-error.log");
    let stamp = shell("date -u '+%a %b %d %H:%M:%S.123456 %Y'")
        .trim()
        .to_owned();
    let lines: Vec<String> = (0..3)
        .map(|i| {
            format!(
                "[{stamp}] [auth_basic:error] [pid 812:tid 140{i}] [client 198.51.100.7:5123{i}] AH01618: user admin{i} not found: /private/"
            )
        })
        .collect();
    append(&log, &lines);
    eventually(5, "198.51.100.7 banned from the error log", || {
        banned("apache-auth", "198.51.100.7")
    });
    let st = b.cli_json(&["status", "apache-auth"]);
    assert_eq!(st["total_failed"], 3, "{st}");
}

#[test]
fn rotation_by_rename_during_an_attack_loses_and_double_counts_nothing() {
    if !enter("rotation_by_rename_during_an_attack_loses_and_double_counts_nothing") {
        return;
    }
    let j = Journald::start();
    let log = weblog(&j);
    append(&log, &[]);
    let mut b = Banjo::new(j.work.path(), &nginx_config(&log, 6));
    b.start(&[]);
    append(&log, &probes("203.0.113.30", 0, 3));
    // logrotate's default: rename, a new empty file, the writer reopens. Lines still
    // written to the old file (before the reopen) count too.
    let old = log.with_extension("log.1");
    std::fs::rename(&log, &old).unwrap();
    append(&old, &probes("203.0.113.30", 3, 1));
    append(&log, &probes("203.0.113.30", 4, 1));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!banned("nginx-botsearch", "203.0.113.30"), "5 < maxretry 6");
    append(&log, &probes("203.0.113.30", 5, 1));
    eventually(5, "banned after rotation", || {
        banned("nginx-botsearch", "203.0.113.30")
    });
    let st = b.cli_json(&["status", "nginx-botsearch"]);
    assert_eq!(st["total_failed"], 6, "each line once: {st}");
    // The rotated file is closed once drained and quiet (no fd leak): the follower
    // holds the new file only, after ROTATED_GRACE.
}

#[test]
fn rotation_by_copytruncate_during_an_attack_loses_and_double_counts_nothing() {
    if !enter("rotation_by_copytruncate_during_an_attack_loses_and_double_counts_nothing") {
        return;
    }
    let j = Journald::start();
    let log = weblog(&j);
    append(&log, &[]);
    let mut b = Banjo::new(j.work.path(), &nginx_config(&log, 6));
    b.start(&[]);
    append(&log, &probes("203.0.113.31", 0, 2));
    eventually(5, "2 failures read", || {
        b.cli_json(&["status", "nginx-botsearch"])["total_failed"] == 2
    });
    // Lines written just before logrotate copies and truncates, which banjo may not
    // have read yet: they are in the copy, and read from there.
    append(&log, &probes("203.0.113.31", 2, 2));
    shell(&format!("cp {0} {0}.1 && truncate -s 0 {0}", log.display()));
    append(&log, &probes("203.0.113.31", 4, 1));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!banned("nginx-botsearch", "203.0.113.31"), "5 < maxretry 6");
    append(&log, &probes("203.0.113.31", 5, 1));
    eventually(5, "banned after copytruncate", || {
        banned("nginx-botsearch", "203.0.113.31")
    });
    let st = b.cli_json(&["status", "nginx-botsearch"]);
    assert_eq!(st["total_failed"], 6, "each line once: {st}");
}

#[test]
fn kill_9_mid_burst_on_a_file_source_loses_nothing() {
    if !enter("kill_9_mid_burst_on_a_file_source_loses_nothing") {
        return;
    }
    let j = Journald::start();
    let log = weblog(&j);
    append(&log, &[]);
    let mut b = Banjo::new(j.work.path(), &nginx_config(&log, 3));
    b.start(&[]);
    // A burst: 60 hosts, 3 probes each, interleaved; killed as soon as the first bans
    // are in the kernel, then started again.
    let hosts: Vec<String> = (1..=60).map(|i| format!("203.0.113.{}", 100 + i)).collect();
    let writer = {
        let log = log.clone();
        let hosts = hosts.clone();
        std::thread::spawn(move || {
            for round in 0..3 {
                for (k, h) in hosts.iter().enumerate() {
                    append(&log, &[probe(h, round)]);
                    if k % 10 == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    }
                }
            }
        })
    };
    eventually(10, "the first bans", || {
        !ipset_members("banjo-nginx-botsearch-4").is_empty()
    });
    b.kill9();
    writer.join().unwrap();
    b.start(&[]);
    eventually(10, "every host banned", || {
        ipset_members("banjo-nginx-botsearch-4").len() == hosts.len()
    });
    let st = b.cli_json(&["status", "nginx-botsearch"]);
    assert_eq!(st["total_banned"], 60, "one ban each, none twice: {st}");

    // Windows are rebuilt from the file, once: 2 failures before a kill -9 and 1
    // after make 3, not 5 (a re-read counted twice would ban at the restart).
    append(&log, &probes("198.51.100.50", 0, 2));
    eventually(5, "2 failures read", || {
        b.cli_json(&["status", "nginx-botsearch"])["total_failed"]
            .as_u64()
            .is_some_and(|n| n >= 2)
    });
    // Let the position be saved (at most CURSOR_EVERY later), so the restart re-reads
    // those lines as warm-up rather than as new ones.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    b.kill9();
    b.start(&[]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        !banned("nginx-botsearch", "198.51.100.50"),
        "counted twice?"
    );
    append(&log, &probes("198.51.100.50", 2, 1));
    eventually(5, "banned at the third failure", || {
        banned("nginx-botsearch", "198.51.100.50")
    });

    // Lines whose decisions are durable are re-read after a restart only to rebuild
    // windows: lifted by hand, the ban is not made again from them.
    b.cli_json(&["unban", "198.51.100.50", "--jail", "nginx-botsearch"]);
    assert!(!banned("nginx-botsearch", "198.51.100.50"));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    b.kill9();
    b.start(&[]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        !banned("nginx-botsearch", "198.51.100.50"),
        "banned again from lines decided before the kill"
    );
}

#[test]
fn a_jail_with_journalmatch_and_logpath_counts_both() {
    if !enter("a_jail_with_journalmatch_and_logpath_counts_both") {
        return;
    }
    let j = Journald::start();
    let log = j.work.path().join("auth.log");
    append(&log, &[]);
    let cfg = format!(
        r#"
[jail.sshd]
enabled = true
logpath = ["{}"]
journalmatch = ["_UID=0 _COMM=sshd"]
maxretry = 4
findtime = "10m"
bantime = "1h"
"#,
        log.display()
    );
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);
    let ip = "203.0.113.40";
    for _ in 0..2 {
        j.sshd(&format!(
            "Failed password for root from {ip} port 4242 ssh2"
        ));
    }
    eventually(5, "2 journal failures", || {
        b.cli_json(&["status", "sshd"])["total_failed"] == 2
    });
    // rsyslog's traditional format, in the host's time zone.
    let stamp = shell("date '+%b %e %H:%M:%S'").trim().to_owned();
    let line = |port: u32| {
        format!("{stamp} web1 sshd[4711]: Failed password for root from {ip} port {port} ssh2")
    };
    append(&log, &[line(1)]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!banned("sshd", ip), "3 < maxretry 4");
    append(&log, &[line(2)]);
    eventually(5, "banned from journal and file together", || {
        banned("sshd", ip)
    });
    let st = b.cli_json(&["status", "sshd"]);
    assert_eq!(st["total_failed"], 4, "{st}");
}
