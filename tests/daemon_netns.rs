//! The daemon for real: a private journald, a private firewall (iptables + ipset in a
//! network namespace), `banjo run` as a process, the CLI over its socket.
//! Each test re-runs itself inside `unshare --mount --net` (see common::ns).

mod common;
use common::ns::*;

const CONFIG: &str = r#"
[defaults]
ignoreip = ["127.0.0.0/8", "::1", "192.0.2.10"]
ignoreself = true
[jail.sshd]
enabled = true
maxretry = 3
findtime = "10m"
bantime = "1h"
port = ["ssh"]
[jail.recidive]
enabled = true
maxretry = 2
findtime = "1d"
bantime = "1w"
"#;

fn fail(j: &Journald, ip: &str) {
    j.sshd(&format!(
        "Failed password for root from {ip} port 4242 ssh2"
    ));
}

#[test]
fn attack_burst_is_banned_in_the_kernel_and_recidive_reads_our_entries() {
    if !enter("attack_burst_is_banned_in_the_kernel_and_recidive_reads_our_entries") {
        return;
    }
    let j = Journald::start();
    let mut b = Banjo::new(j.work.path(), CONFIG);
    b.start(&[]);
    // The hook and the sets exist from the start.
    assert!(
        shell("iptables -S INPUT").contains("-j banjo-sshd"),
        "{}",
        shell("iptables -S")
    );
    assert!(shell("ip6tables -S INPUT").contains("-j banjo-sshd"));

    for _ in 0..3 {
        fail(&j, "203.0.113.5");
    }
    eventually(5, "203.0.113.5 in banjo-sshd-4", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.5".to_string())
    });
    let st = b.cli_json(&["status", "sshd"]);
    assert_eq!(st["currently_banned"], 1, "{st}");
    assert_eq!(st["total_failed"], 3, "{st}");
    assert_eq!(st["banned"][0], "203.0.113.5");

    // The ban is a structured journal entry… (written after the kernel has the ban,
    // by the journal writer thread: it may land a moment after the set member.)
    let q = "MESSAGE_ID=4d654fc42ce94fee9c9d8899ca99f1bc BANJO_IP=203.0.113.5";
    eventually(5, "the ban's journal entry", || !j.query(q).is_empty());
    let bans = j.query(q);
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0]["BANJO_JAIL"], "sshd");
    assert_eq!(bans[0]["BANJO_FAILURES"], "3");
    assert!(bans[0]["MESSAGE"]
        .as_str()
        .unwrap()
        .contains("[sshd] Ban 203.0.113.5"));

    // …which recidive reads back: a second sshd ban of the same host within a day.
    b.cli_json(&["unban", "203.0.113.5", "--jail", "sshd"]);
    for _ in 0..3 {
        fail(&j, "203.0.113.5");
    }
    eventually(5, "recidive ban", || {
        ipset_members("banjo-recidive-4").contains(&"203.0.113.5".to_string())
    });
    // recidive's own ban never feeds recidive again.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let rec = b.cli_json(&["status", "recidive"]);
    assert_eq!(rec["total_banned"], 1, "{rec}");
    // The history of the address, from the journal.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_banjo"))
        .args(["history", "203.0.113.5"])
        .output()
        .unwrap();
    let h = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(h.contains("3 bans"), "{h}");
}

#[test]
fn ignoreip_holds_and_bans_expire() {
    if !enter("ignoreip_holds_and_bans_expire") {
        return;
    }
    let j = Journald::start();
    let cfg = CONFIG.replace(
        "bantime = \"1h\"",
        "bantime = \"2s\"\nbantime_increment = false",
    );
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);
    for _ in 0..10 {
        fail(&j, "192.0.2.10");
    }
    for _ in 0..3 {
        fail(&j, "203.0.113.6");
    }
    eventually(5, "203.0.113.6 banned", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.6".to_string())
    });
    assert!(
        !ipset_members("banjo-sshd-4").contains(&"192.0.2.10".to_string()),
        "ignoreip must hold"
    );
    // A manual ban of an ignored address is refused without --force.
    let out = b.cli(&["ban", "sshd", "192.0.2.10"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    // Unbanned when the 2 s bantime ends: in banjo and in the kernel.
    eventually(6, "unban after bantime", || {
        b.cli_json(&["status", "sshd"])["currently_banned"] == 0
            && ipset_members("banjo-sshd-4").is_empty()
    });
    let q = "MESSAGE_ID=c82385cce92748f0af9eb900125d4df7 BANJO_IP=203.0.113.6";
    eventually(5, "the unban's journal entry", || !j.query(q).is_empty());
    assert_eq!(j.query(q).len(), 1);
}

#[test]
fn restart_restores_bans_without_double_counting() {
    if !enter("restart_restores_bans_without_double_counting") {
        return;
    }
    let j = Journald::start();
    let mut b = Banjo::new(j.work.path(), CONFIG);
    b.start(&[]);
    for _ in 0..3 {
        fail(&j, "203.0.113.7");
    }
    eventually(5, "banned", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.7".to_string())
    });
    b.stop();
    // The ban stays in the kernel while banjo is down (unban_on_stop = false)…
    assert!(ipset_members("banjo-sshd-4").contains(&"203.0.113.7".to_string()));
    // …and if someone removed it, the restart puts it back (reconcile).
    shell("ipset del banjo-sshd-4 203.0.113.7");
    shell("ipset add banjo-sshd-4 198.51.100.99");
    b.start(&[]);
    let m = ipset_members("banjo-sshd-4");
    assert!(m.contains(&"203.0.113.7".to_string()), "{m:?}");
    assert!(
        !m.contains(&"198.51.100.99".to_string()),
        "stale entry must go: {m:?}"
    );
    // The three failures before the restart are not counted again: no second ban.
    eventually(5, "the first ban's entry", || {
        !j.query("MESSAGE_ID=4d654fc42ce94fee9c9d8899ca99f1bc")
            .is_empty()
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let bans = j.query("MESSAGE_ID=4d654fc42ce94fee9c9d8899ca99f1bc");
    assert_eq!(bans.len(), 1, "{bans:?}");
    let st = b.cli_json(&["status", "sshd"]);
    assert_eq!(st["currently_banned"], 1);
}

#[test]
fn kill_9_mid_burst_loses_nothing() {
    if !enter("kill_9_mid_burst_loses_nothing") {
        return;
    }
    let j = Journald::start();
    let mut b = Banjo::new(j.work.path(), CONFIG);
    b.start(&[]);
    // Two failures, then banjo dies without a chance to save anything.
    fail(&j, "203.0.113.8");
    fail(&j, "203.0.113.8");
    std::thread::sleep(std::time::Duration::from_millis(200));
    b.kill9();
    // The third failure arrives while banjo is down.
    fail(&j, "203.0.113.8");
    b.start(&[]);
    // Windows are rebuilt from the journal: 2 + 1 = 3 failures = ban, exactly once.
    eventually(5, "banned after restart", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.8".to_string())
    });
    let q = "MESSAGE_ID=4d654fc42ce94fee9c9d8899ca99f1bc BANJO_JAIL=sshd";
    eventually(5, "the ban's entry", || !j.query(q).is_empty());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let bans = j.query(q);
    assert_eq!(bans.len(), 1, "{bans:?}");
    // A ban committed before a kill -9 survives it too.
    b.kill9();
    b.start(&[]);
    assert_eq!(b.cli_json(&["status", "sshd"])["currently_banned"], 1);
}

#[test]
fn control_socket_refuses_bad_and_unprivileged_requests() {
    if !enter("control_socket_refuses_bad_and_unprivileged_requests") {
        return;
    }
    use std::io::{Read, Write};
    let j = Journald::start();
    let mut b = Banjo::new(j.work.path(), CONFIG);
    b.start(&[]);
    let ask = |bytes: &[u8]| -> String {
        let mut s = std::os::unix::net::UnixStream::connect(&b.socket).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        s.write_all(bytes).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    // Not JSON.
    let garbage = b"\x00\x00\x00\x05hello";
    assert!(ask(garbage).contains("bad request"));
    // Unknown verb.
    let body = br#"{"cmd":"shutdown"}"#;
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    assert!(ask(&frame).contains("bad request"));
    // Oversized.
    assert!(ask(&[0x7f, 0xff, 0xff, 0xff]).contains("limit"));
    // A slow client that never finishes does not block others.
    let _slow = std::os::unix::net::UnixStream::connect(&b.socket).unwrap();
    assert_eq!(
        b.cli_json(&["status"])["jails"].as_array().unwrap().len(),
        2
    );
    // An unprivileged user (nobody) may not ban, nor read status without the group.
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_banjo"))
        .args(["ban", "sshd", "203.0.113.9", "--socket"])
        .arg(&b.socket)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("permission denied") || err.contains("Permission denied"),
        "{err}"
    );
    assert!(ipset_members("banjo-sshd-4").is_empty());
}

#[test]
fn failing_firewall_step_leaves_nothing_and_other_jails_run() {
    if !enter("failing_firewall_step_leaves_nothing_and_other_jails_run") {
        return;
    }
    let j = Journald::start();
    // DOCKER-USER does not exist in a fresh namespace: that jail's setup fails.
    let cfg = format!(
        "{CONFIG}\n[jail.docker]\nenabled = true\nfilter = \"sshd\"\nchain = \"DOCKER-USER\"\n"
    );
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);
    let rules = shell("iptables -S; ip6tables -S; ipset list -n");
    assert!(
        !rules.contains("banjo-docker"),
        "half-made jail left behind:\n{rules}"
    );
    assert!(rules.contains("banjo-sshd"));
    // The jail is down, and says why: the journal, with its own MESSAGE_ID, and status.
    let down = j.query("MESSAGE_ID=ce770b5a44a94e6c9dee499ea4b7497d BANJO_JAIL=docker");
    assert_eq!(
        down.len(),
        1,
        "the jail down must be in the journal: {down:?}"
    );
    assert!(
        down[0]["BANJO_REASON"]
            .as_str()
            .is_some_and(|r| r.contains("DOCKER-USER")),
        "{down:?}"
    );
    let st = b.cli_json(&["status"]);
    assert_eq!(st["down"][0]["jail"], "docker", "{st}");
    for _ in 0..3 {
        fail(&j, "203.0.113.10");
    }
    eventually(5, "sshd still bans", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.10".to_string())
    });
}

#[test]
fn reload_keeps_bans_and_refuses_bad_config() {
    if !enter("reload_keeps_bans_and_refuses_bad_config") {
        return;
    }
    let j = Journald::start();
    let mut b = Banjo::new(j.work.path(), CONFIG);
    b.start(&[]);
    for _ in 0..3 {
        fail(&j, "203.0.113.11");
    }
    eventually(5, "banned", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.11".to_string())
    });
    // A broken config is refused; the running one stays.
    std::fs::create_dir_all(b.config.join("jail.d")).unwrap();
    std::fs::write(
        b.config.join("jail.d/bad.toml"),
        "[jail.sshd]\nmaxretry = 0\n",
    )
    .unwrap();
    let out = b.cli(&["reload"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("maxretry"));
    assert_eq!(b.cli_json(&["status", "sshd"])["currently_banned"], 1);
    std::fs::remove_file(b.config.join("jail.d/bad.toml")).unwrap();
    // A disabled jail's filter is not compiled by the daemon (config::Compile::Enabled):
    // a broken pattern there does not stop a reload; `banjo check` finds it.
    std::fs::create_dir_all(b.config.join("filter.d")).unwrap();
    std::fs::write(
        b.config.join("filter.d/app.toml"),
        "failregex = ['^bad (login from <HOST>$']\n",
    )
    .unwrap();
    std::fs::write(
        b.config.join("jail.d/app.toml"),
        "[jail.app]\nenabled = false\njournalmatch = \"_SYSTEMD_UNIT=app.service\"\n",
    )
    .unwrap();
    b.cli_json(&["reload"]);
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_banjo"))
        .args(["check", "--config", b.config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&check.stderr)
            .contains("filter.d/app.toml:1: error: jail app: failregex"),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    std::fs::remove_file(b.config.join("jail.d/app.toml")).unwrap();
    // Removing recidive lifts its objects; sshd keeps its ban.
    std::fs::write(
        b.config.join("banjo.toml"),
        CONFIG.replace(
            "[jail.recidive]\nenabled = true",
            "[jail.recidive]\nenabled = false",
        ),
    )
    .unwrap();
    b.cli_json(&["reload"]);
    assert!(!shell("iptables -S").contains("banjo-recidive"));
    assert!(ipset_members("banjo-sshd-4").contains(&"203.0.113.11".to_string()));
    assert_eq!(
        b.cli_json(&["status"])["jails"].as_array().unwrap().len(),
        1
    );
}

#[test]
fn ignoreself_follows_interface_changes_and_protects_the_admins_64() {
    if !enter("ignoreself_follows_interface_changes_and_protects_the_admins_64") {
        return;
    }
    let j = Journald::start();
    let mut b = Banjo::new(j.work.path(), CONFIG);
    b.start(&[]);
    // This host gains addresses after banjo started (DHCP, a new interface): from
    // then on they are "self" and never banned.
    shell("ip link add banjo-t0 type veth peer name banjo-t1 && ip link set banjo-t0 up && ip link set banjo-t1 up");
    shell("ip addr add 198.51.100.200/24 dev banjo-t0 && ip -6 addr add 2001:db8:1:2::10/64 dev banjo-t0 nodad");
    assert!(
        shell("ip addr show banjo-t0").contains("2001:db8:1:2::10"),
        "test setup: address not added"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    for _ in 0..5 {
        fail(&j, "198.51.100.200");
        fail(&j, "2001:db8:1:2::10");
    }
    // An attacker sharing the host's /64 is banned alone, not as the /64.
    for _ in 0..3 {
        fail(&j, "2001:db8:1:2::99");
    }
    eventually(5, "attacker in the admin's /64 banned", || {
        ipset_members("banjo-sshd-6")
            .iter()
            .any(|m| m.starts_with("2001:db8:1:2::99"))
    });
    let v6 = ipset_members("banjo-sshd-6");
    assert!(
        v6.iter().all(|m| !m.contains("/64")),
        "the admin's /64 must not be banned: {v6:?}"
    );
    assert!(
        ipset_members("banjo-sshd-4").is_empty(),
        "this host's own address was banned"
    );
    let st = b.cli_json(&["status", "sshd"]);
    assert_eq!(st["currently_banned"], 1, "{st}");
}

#[test]
fn readers_group_hooks_and_sd_notify() {
    if !enter("readers_group_hooks_and_sd_notify") {
        return;
    }
    let j = Journald::start();
    let hooks = j.work.path().join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    // nogroup (65534) exists on every Debian system: members may read status.
    let cfg = format!(
        "{CONFIG}\n[daemon]\nreaders_group = \"nogroup\"\n\n[[jail.sshd.action]]\non = \"ban\"\nargv = [\"/usr/bin/touch\", \"{}/banned-{{ip}}-{{failures}}\"]\n",
        hooks.display()
    );
    let mut b = Banjo::new(j.work.path(), &cfg);
    // systemd asks for keep-alives every 200 ms.
    b.start_with_env(&[], &[("WATCHDOG_USEC", "200000")]);
    b.wait_notify("WATCHDOG=1");

    let as_nobody = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--init-groups"])
            .arg(env!("CARGO_BIN_EXE_banjo"))
            .args(args)
            .arg("--socket")
            .arg(&b.socket)
            .output()
            .unwrap()
    };
    // banjo gave its 0660 socket to the readers group.
    assert!(shell(&format!("stat -c '%a %G' {}", b.socket.display())).starts_with("660 nogroup"));
    let st = as_nobody(&["status"]);
    assert!(
        st.status.success(),
        "a reader may read: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let ban = as_nobody(&["ban", "sshd", "203.0.113.12"]);
    assert!(!ban.status.success());
    assert!(String::from_utf8_lossy(&ban.stderr).contains("permission denied"));

    // The ban hook runs (argv, no shell) with its placeholders filled.
    for _ in 0..3 {
        fail(&j, "203.0.113.13");
    }
    let marker = hooks.join("banned-203.0.113.13-3");
    eventually(5, "ban hook ran", || marker.exists());

    // Reload says RELOADING=1 then READY=1; stop says STOPPING=1.
    b.cli_json(&["reload"]);
    b.wait_notify("RELOADING=1");
    b.wait_notify("READY=1");
    if let Some(c) = &b.child {
        let _ = std::process::Command::new("kill")
            .arg(c.id().to_string())
            .status();
    }
    b.wait_notify("STOPPING=1");
}

/// Open descriptors of `pid`: (all, those on deleted files).
fn fds(pid: u32) -> (usize, usize) {
    let mut all = 0;
    let mut deleted = 0;
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        all += 1;
        if let Ok(t) = std::fs::read_link(e.path()) {
            if t.to_string_lossy().ends_with("(deleted)") {
                deleted += 1;
            }
        }
    }
    (all, deleted)
}

#[test]
fn journal_rotation_and_vacuum_neither_stall_nor_leak() {
    // fail2ban's followers stalled or leaked descriptors across rotation and vacuum
    // (its issues #2208, #3396, #3929): here journald rotates and vacuums under banjo
    // again and again, and every attack after each round is still banned.
    if !enter("journal_rotation_and_vacuum_neither_stall_nor_leak") {
        return;
    }
    let j = Journald::start();
    let mut b = Banjo::new(j.work.path(), CONFIG);
    b.start(&[]);
    let pid = b.child.as_ref().unwrap().id();
    for _ in 0..3 {
        fail(&j, "203.0.113.20");
    }
    eventually(5, "first ban", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.20".to_string())
    });
    let (before, _) = fds(pid);
    let journal_files =
        || shell("ls /run/log/journal/*/*.journal /var/log/journal/*/*.journal 2>/dev/null");
    let mut archives_seen = std::collections::BTreeSet::new();
    for round in 0..12 {
        shell("journalctl --rotate");
        archives_seen.extend(
            journal_files()
                .lines()
                .filter(|f| f.contains('@'))
                .map(str::to_owned),
        );
        // Keep only the active file (and one archive): banjo's open archives go away.
        shell("journalctl --vacuum-files=2");
        let ip = format!("203.0.113.{}", 30 + round);
        for _ in 0..3 {
            fail(&j, &ip);
        }
        eventually(5, &format!("ban of {ip} after rotation {round}"), || {
            ipset_members("banjo-sshd-4").contains(&ip)
        });
    }
    // The rounds did rotate and vacuum.
    assert!(archives_seen.len() >= 12, "archives: {archives_seen:?}");
    let left = journal_files();
    assert!(left.lines().count() <= 3, "after vacuum: {left}");
    // Archives journald rotated away and vacuum deleted are let go, not kept open.
    eventually(5, "no descriptors on deleted journal files", || {
        fds(pid).1 == 0
    });
    let (after, _) = fds(pid);
    assert!(
        after <= before + 3,
        "descriptors grew from {before} to {after} over 12 rotations: {:?}",
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .collect::<Vec<_>>()
    );
    // Nothing was counted twice or lost: 13 attacks, 3 failures each.
    let st = b.cli_json(&["status", "sshd"]);
    assert_eq!(st["total_failed"], 39, "{st}");
    assert_eq!(st["currently_banned"], 13, "{st}");
}

/// The addresses of a backlog larger than one read batch (4096 entries): every usable
/// IPv4 address of two TEST-NETs and 5,000 IPv6 /64s of 2001:db8::/32, so both sets
/// take part. (ipset, addresses as banjo shows them.)
fn backlog_addresses() -> (Vec<String>, Vec<String>) {
    let v4 = ["198.51.100", "203.0.113"]
        .iter()
        .flat_map(|net| (1..=254).map(move |i| format!("{net}.{i}")))
        .collect();
    let v6 = (0..5000u16)
        .map(|i| {
            let net = std::net::Ipv6Addr::new(0x2001, 0xdb8, i / 256 + 1, i % 256 + 1, 0, 0, 0, 0);
            format!("{net}/64")
        })
        .collect();
    (v4, v6)
}

/// A journald with a banjo that saved the journal's end and stopped, then a backlog
/// written meanwhile: one failure per address of [`backlog_addresses`], all in the
/// journal before this returns.
fn backlog_while_stopped() -> (Journald, Banjo, Vec<String>, Vec<String>) {
    let j = Journald::start_unlimited();
    let mut b = Banjo::new(j.work.path(), BACKLOG_CONFIG);
    b.start(&[]);
    b.stop();
    let (v4, v6) = backlog_addresses();
    for ip in &v4 {
        fail(&j, ip);
    }
    for net in &v6 {
        // 2001:db8:1:2::/64 -> a host in it, 2001:db8:1:2::7
        fail(&j, &net.replace("::/64", "::7"));
    }
    let n = v4.len() + v6.len();
    eventually(60, "the backlog in the journal", || {
        shell("journalctl -q -o cat _COMM=sshd | wc -l").trim() == n.to_string()
    });
    (j, b, v4, v6)
}

const BACKLOG_CONFIG: &str = r#"
[defaults]
ignoreip = ["127.0.0.0/8", "::1"]
[jail.sshd]
enabled = true
maxretry = 1
findtime = "10m"
bantime = "1h"
port = ["ssh"]
[jail.recidive]
enabled = true
maxretry = 2
findtime = "1d"
bantime = "1w"
"#;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// `got` holds exactly the addresses of `want`, each once (says what differs).
fn assert_same(what: &str, got: Vec<String>, want: &[String]) {
    let got = sorted(got);
    let want = sorted(want.to_vec());
    if got != want {
        let missing: Vec<_> = want.iter().filter(|a| !got.contains(a)).take(5).collect();
        let extra: Vec<_> = got.iter().filter(|a| !want.contains(a)).take(5).collect();
        panic!(
            "{what}: {} of {} expected; missing e.g. {missing:?}; unexpected e.g. {extra:?}",
            got.len(),
            want.len()
        );
    }
}

/// `BANJO_IP` of every sshd ban entry, as many times as it was written.
fn sshd_ban_entries(j: &Journald) -> Vec<String> {
    j.query("MESSAGE_ID=4d654fc42ce94fee9c9d8899ca99f1bc BANJO_JAIL=sshd")
        .iter()
        .map(|e| e["BANJO_IP"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn backlog_lands_in_the_kernel_before_ready_and_every_ban_gets_its_entry() {
    if !enter("backlog_lands_in_the_kernel_before_ready_and_every_ban_gets_its_entry") {
        return;
    }
    let (j, mut b, v4, v6) = backlog_while_stopped();

    // READY=1 comes once the backlog is read: by then every ban is in the kernel
    // (batches go to ipset in the background while the next batch is read).
    b.start(&[]);
    assert_same("banjo-sshd-4", ipset_members("banjo-sshd-4"), &v4);
    assert_same("banjo-sshd-6", ipset_members("banjo-sshd-6"), &v6);
    let st = b.cli_json(&["status", "sshd"]);
    assert_eq!(st["currently_banned"], v4.len() + v6.len(), "{st}");

    // Every ban gets its journal entry, exactly once (they follow the kernel, written
    // after the backlog is applied).
    let want: Vec<String> = v4.iter().chain(&v6).cloned().collect();
    eventually(60, "a ban entry for every ban", || {
        sshd_ban_entries(&j).len() >= want.len()
    });
    assert_same("sshd ban entries", sshd_ban_entries(&j), &want);

    // recidive reads those entries back: a second sshd ban of an address is its
    // second ban entry within a day.
    b.cli_json(&["unban", "203.0.113.77", "--jail", "sshd"]);
    fail(&j, "203.0.113.77");
    eventually(20, "recidive ban from the backlog's entry", || {
        ipset_members("banjo-recidive-4").contains(&"203.0.113.77".to_string())
    });
    let rec = b.cli_json(&["status", "recidive"]);
    assert_eq!(rec["total_banned"], 1, "{rec}");
}

#[test]
fn kill_9_while_a_backlog_is_applied_loses_no_ban_and_counts_none_twice() {
    if !enter("kill_9_while_a_backlog_is_applied_loses_no_ban_and_counts_none_twice") {
        return;
    }
    let (j, mut b, v4, v6) = backlog_while_stopped();
    // Killed once the first batch is applied (STATUS= follows each applied batch),
    // in the middle of the backlog.
    b.spawn(&[], &[]);
    b.wait_notify("STATUS=");
    b.kill9();

    b.start(&[]);
    assert_same("banjo-sshd-4", ipset_members("banjo-sshd-4"), &v4);
    assert_same("banjo-sshd-6", ipset_members("banjo-sshd-6"), &v6);
    let st = b.cli_json(&["status", "sshd"]);
    assert_eq!(st["currently_banned"], v4.len() + v6.len(), "{st}");
    b.stop();
    // Each address was banned once: no failure counted twice across the kill (a
    // second ban would be a second ban entry, or a ban count of 2 in the state).
    let entries = sshd_ban_entries(&j);
    let mut unique = entries.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), entries.len(), "an address was banned twice");
    let (store, _) = banjo::state::Store::open(&b.state.join("state.db")).unwrap();
    let counts = store.ban_counts().unwrap();
    assert_eq!(counts.len(), v4.len() + v6.len());
    assert!(
        counts.iter().all(|(_, _, n, _)| *n == 1),
        "an address was banned twice"
    );
}

#[test]
fn nftables_firewall_bans_reconciles_and_flushes() {
    if !enter("nftables_firewall_bans_reconciles_and_flushes") {
        return;
    }
    // The host's own nftables firewall, which banjo must leave as it is.
    shell(
        "nft add table inet filter && \
         nft 'add chain inet filter input { type filter hook input priority filter; policy accept; }' && \
         nft add rule inet filter input tcp dport 22 accept",
    );
    let host = shell("nft list table inet filter");
    let j = Journald::start();
    let cfg = format!("{CONFIG}\n[daemon]\nfirewall = \"nftables\"\n");
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);
    let table = shell("nft list table inet banjo");
    assert!(
        table.contains("chain banjo-sshd") && table.contains("hook input priority filter - 10"),
        "{table}"
    );
    assert!(
        !shell("iptables -S; ipset list -n 2>/dev/null").contains("banjo"),
        "nftables mode must not touch iptables or ipset"
    );

    for _ in 0..3 {
        fail(&j, "203.0.113.30");
    }
    eventually(5, "203.0.113.30 in the nft set", || {
        nft_members("banjo-sshd-4").contains(&"203.0.113.30".to_string())
    });
    for _ in 0..3 {
        fail(&j, "2001:db8:30:1::7");
    }
    eventually(5, "the /64 in the nft prefix set", || {
        nft_members("banjo-sshd-6-64").contains(&"2001:db8:30:1::".to_string())
    });
    let st = b.cli_json(&["status", "sshd"]);
    assert_eq!(st["currently_banned"], 2, "{st}");

    // Bans stay in the kernel while banjo is down; a restart puts back what someone
    // removed and takes out what banjo did not ban.
    b.stop();
    assert!(nft_members("banjo-sshd-4").contains(&"203.0.113.30".to_string()));
    shell("nft delete element inet banjo banjo-sshd-4 '{ 203.0.113.30 }'");
    shell("nft add element inet banjo banjo-sshd-4 '{ 198.51.100.99 }'");
    b.start(&[]);
    let m = nft_members("banjo-sshd-4");
    assert!(m.contains(&"203.0.113.30".to_string()), "{m:?}");
    assert!(
        !m.contains(&"198.51.100.99".to_string()),
        "stale entry must go: {m:?}"
    );
    assert!(nft_members("banjo-sshd-6-64").contains(&"2001:db8:30:1::".to_string()));

    b.cli_json(&["unban", "203.0.113.30", "--jail", "sshd"]);
    assert!(!nft_members("banjo-sshd-4").contains(&"203.0.113.30".to_string()));
    b.stop();
    assert_eq!(shell("nft list table inet filter"), host);

    // `banjo flush` removes the table, and only it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_banjo"))
        .arg("flush")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("table inet banjo: recidive, sshd"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rules = shell("nft list ruleset");
    assert!(!rules.contains("banjo"), "{rules}");
    assert_eq!(shell("nft list table inet filter"), host);

    // unban_on_stop: a clean stop takes every jail, and so the table, with it.
    std::fs::write(
        b.config.join("banjo.toml"),
        cfg.replace("[daemon]\n", "[daemon]\nunban_on_stop = true\n"),
    )
    .unwrap();
    b.start(&[]);
    assert!(shell("nft list tables").contains("inet banjo"));
    b.stop();
    let rules = shell("nft list ruleset");
    assert!(!rules.contains("banjo"), "{rules}");
    assert_eq!(shell("nft list table inet filter"), host);
}

#[test]
fn new_connections_wake_banjo_unless_the_group_is_taken() {
    if !enter("new_connections_wake_banjo_unless_the_group_is_taken") {
        return;
    }
    use banjo::daemon::wakeup::ConnectionWake;
    use std::net::{SocketAddr, TcpListener};
    let j = Journald::start();
    let peer = common::fw::Peer::linked();
    let ssh: SocketAddr = "198.51.100.1:22".parse().unwrap();
    let _sshd = TcpListener::bind(ssh).unwrap();
    peer.connect_eventually(ssh);
    let mut b = Banjo::new(j.work.path(), CONFIG);
    b.start(&[]);
    // sshd's chains log new connections to the default group; recidive's do not
    // (it reads banjo's own entries).
    for ipt in ["iptables", "ip6tables"] {
        let chain = shell(&format!("{ipt} -S banjo-sshd"));
        assert!(chain.contains("-j NFLOG --nflog-group 3187"), "{chain}");
        assert!(!shell(&format!("{ipt} -S banjo-recidive")).contains("NFLOG"));
    }
    let st = b.cli_json(&["status"]);
    assert_eq!(st["wake_group"], 3187, "{st}");
    assert_eq!(st["connection_wakeups"], 0, "{st}");

    // The attacker connects, then its failures are logged: the connection woke banjo.
    peer.connect(ssh, 3).unwrap();
    eventually(5, "a wake-up from the connection", || {
        b.cli_json(&["status"])["connection_wakeups"]
            .as_u64()
            .is_some_and(|n| n >= 1)
    });
    for _ in 0..3 {
        fail(&j, "198.51.100.2");
    }
    eventually(5, "198.51.100.2 banned", || {
        ipset_members("banjo-sshd-4").contains(&"198.51.100.2".to_string())
    });
    peer.connect(ssh, 3).expect_err("banned");
    // Turning it off takes a restart, and reload says so rather than ignore it.
    std::fs::write(
        b.config.join("banjo.toml"),
        format!("[daemon]\nwake_on_connect = false\n{CONFIG}"),
    )
    .unwrap();
    let r = b.cli_json(&["reload"]);
    assert!(
        r["summary"].as_str().is_some_and(|s| s.contains(
            "[daemon] wake_on_connect/nflog_group changed: takes effect at the next start"
        )),
        "{r}"
    );
    assert!(shell("iptables -S banjo-sshd").contains("NFLOG"));
    // The reload's READY=1, so that the next start waits for its own.
    b.wait_notify("READY=1");
    std::fs::write(b.config.join("banjo.toml"), CONFIG).unwrap();
    b.stop();

    // Another program holds the group: banjo says so, makes no wake rule (which
    // would feed that program our packets) and still bans.
    let _ulogd = ConnectionWake::open(3187).unwrap();
    b.start(&[]);
    assert!(b.cli_json(&["status"])["wake_group"].is_null());
    for ipt in ["iptables", "ip6tables"] {
        let chain = shell(&format!("{ipt} -S banjo-sshd"));
        assert!(!chain.contains("NFLOG"), "{chain}");
    }
    let said = j.query("SYSLOG_IDENTIFIER=banjo PRIORITY=4");
    assert!(
        said.iter().any(|e| e["MESSAGE"]
            .as_str()
            .is_some_and(|m| m.contains("cannot listen on nfnetlink_log group 3187"))),
        "{said:?}"
    );
    for _ in 0..3 {
        fail(&j, "203.0.113.9");
    }
    eventually(5, "203.0.113.9 banned", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.9".to_string())
    });
}

/// A real OpenSSH sshd listening on 198.51.100.1:22 in this namespace. Its output goes
/// nowhere (it logs through syslog), so no sshd ever holds the test's pipes; dropping it
/// ends the listener and every per-connection sshd it started, which are sessions of
/// their own (setsid) and would otherwise outlive the test.
struct Sshd {
    listener: std::process::Child,
}

impl Sshd {
    const ADDR: &'static str = "198.51.100.1:22";

    fn start(dir: &std::path::Path) -> Sshd {
        assert!(
            std::path::Path::new("/usr/sbin/sshd").exists(),
            "needs openssh-server (scripts/deps.sh installs it)"
        );
        std::fs::create_dir_all(dir).unwrap();
        // sshd's privilege separation directory: root's, not writable by others.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let key = dir.join("host_ed25519");
        shell(&format!(
            "ssh-keygen -q -t ed25519 -N '' -f {}",
            key.display()
        ));
        assert!(key.exists(), "ssh-keygen made no host key");
        let cfg = dir.join("sshd_config");
        std::fs::write(
            &cfg,
            format!(
                "ListenAddress {}\nHostKey {}\nPidFile {}\nUsePAM no\n\
                 PasswordAuthentication yes\nKbdInteractiveAuthentication no\n\
                 AuthorizedKeysFile none\nMaxStartups 50\nLogLevel INFO\nLoginGraceTime 10\n",
                Sshd::ADDR,
                key.display(),
                dir.join("sshd.pid").display()
            ),
        )
        .unwrap();
        let listener = std::process::Command::new("/usr/sbin/sshd")
            .args(["-D", "-f"])
            .arg(&cfg)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Sshd { listener }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.listener.kill();
        let _ = self.listener.wait();
        // Every process of /usr/sbin/sshd in this network namespace (this test process
        // calls itself "sshd" too, so match the executable, not the name).
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        for p in std::fs::read_dir("/proc").unwrap().flatten() {
            let pid = p.file_name().to_string_lossy().into_owned();
            let same_ns =
                std::fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|n| n == ours);
            let exe = std::fs::read_link(format!("/proc/{pid}/exe"));
            if same_ns && exe.is_ok_and(|e| e == std::path::Path::new("/usr/sbin/sshd")) {
                shell(&format!("kill -KILL {pid}"));
            }
        }
    }
}

/// A real OpenSSH sshd in the namespace, attacked over a veth link by a real ssh client
/// from a peer namespace: sshd logs through syslog(3) into our journald, and banjo must
/// be woken by the connection, ban the attacker, and its firewall must refuse the next
/// connection while another address still reaches sshd.
#[test]
fn real_sshd_attack_is_banned_and_the_next_connection_refused() {
    if !enter("real_sshd_attack_is_banned_and_the_next_connection_refused") {
        return;
    }
    use std::net::SocketAddr;
    let j = Journald::start();
    j.provide_dev_log();
    let peer = common::fw::Peer::linked();
    let _sshd = Sshd::start(&j.work.path().join("sshd"));
    let ssh: SocketAddr = Sshd::ADDR.parse().unwrap();
    peer.connect_eventually(ssh);

    let mut b = Banjo::new(j.work.path(), CONFIG);
    b.start(&[]);
    let pid = peer.pid();
    // An invalid user without credentials: sshd logs "Invalid user …" and closes.
    let attempt = || {
        std::process::Command::new("nsenter")
            .args(["-t", &pid, "-n", "--", "ssh", "-F", "/dev/null"])
            .args(["-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no"])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "ConnectTimeout=3", "nosuchuser@198.51.100.1", "true"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let wakes_before = b.cli_json(&["status"])["connection_wakeups"]
        .as_u64()
        .unwrap();
    let mut tries = 0;
    while !ipset_members("banjo-sshd-4").contains(&"198.51.100.2".to_string()) {
        tries += 1;
        let out = attempt();
        assert!(
            tries <= 10,
            "not banned after 10 attempts; banjo saw: {}; sshd logged: {:?}; ssh said: {}",
            b.cli_json(&["status", "sshd"]),
            j.query("_COMM=sshd"),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // sshd's own words, from the journal, with its trusted _COMM.
    let logged = j.query("_COMM=sshd");
    assert!(
        logged.iter().any(|e| e["MESSAGE"]
            .as_str()
            .is_some_and(|m| m.starts_with("Invalid user nosuchuser from 198.51.100.2"))),
        "{logged:?}"
    );
    let st = b.cli_json(&["status"]);
    assert!(
        st["connection_wakeups"].as_u64().unwrap() > wakes_before,
        "the attacker's connections woke banjo: {st}"
    );
    let out = attempt();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Connection refused"), "banned, yet: {err}");
    // The host itself still reaches its sshd (ignoreself; and not the banned address).
    std::net::TcpStream::connect_timeout(&ssh, std::time::Duration::from_secs(3))
        .expect("sshd still serves others");
}

/// `[daemon] ban_count_max_age`: the count that bantime_increment multiplies by lasts
/// that long after an address's latest ban, then banjo forgets it (state file and
/// memory, at start and daily): a returning address starts again from bantime.
#[test]
fn ban_counts_are_forgotten_after_their_max_age() {
    if !enter("ban_counts_are_forgotten_after_their_max_age") {
        return;
    }
    const AGED: &str = r#"
[daemon]
ban_count_max_age = "4s"
[defaults]
ignoreip = ["127.0.0.0/8", "::1"]
[jail.sshd]
enabled = true
maxretry = 3
bantime = "1s"
port = ["ssh"]
[jail.recidive]
enabled = false
"#;
    let ip = "203.0.113.30";
    let j = Journald::start();
    let mut b = Banjo::new(j.work.path(), AGED);
    // (BANJO_BAN_COUNT, BANJO_BANTIME) of each ban of `ip`, oldest first.
    let bans = || -> Vec<(String, String)> {
        j.query(&format!(
            "MESSAGE_ID=4d654fc42ce94fee9c9d8899ca99f1bc BANJO_IP={ip}"
        ))
        .iter()
        .map(|e| {
            (
                e["BANJO_BAN_COUNT"].as_str().unwrap_or("?").to_owned(),
                e["BANJO_BANTIME"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect()
    };
    let banned = || ipset_members("banjo-sshd-4").contains(&ip.to_string());
    let attack = |n: usize| {
        for _ in 0..3 {
            fail(&j, ip);
        }
        eventually(5, "the ban", || bans().len() == n);
    };
    b.start(&[]);
    attack(1);
    eventually(5, "the first ban over", || !banned());
    // Within the age: the increment doubles the second ban.
    attack(2);
    let second = std::time::Instant::now();
    let pair = |c: &str, t: &str| (c.to_string(), t.to_string());
    assert_eq!(bans(), [pair("1", "1s"), pair("2", "2s")]);
    eventually(5, "the second ban over", || !banned());
    b.stop();
    // Past the age of the latest ban: the restart forgets the count.
    std::thread::sleep(std::time::Duration::from_millis(4500).saturating_sub(second.elapsed()));
    b.start(&[]);
    attack(3);
    assert_eq!(
        bans(),
        [pair("1", "1s"), pair("2", "2s"), pair("1", "1s")],
        "the third ban starts again from bantime"
    );
    b.stop();
    let (store, _) = banjo::state::Store::open(&b.state.join("state.db")).unwrap();
    let counts: Vec<u32> = store.ban_counts().unwrap().iter().map(|c| c.2).collect();
    assert_eq!(counts, [1], "the stored count restarted too");
}
