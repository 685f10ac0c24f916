//! Bounded resources under attack, against the real daemon: a private journald, a
//! private firewall (iptables + ipset in a network namespace), real unprivileged users
//! (setpriv), `banjo run` as a process. Each test re-runs itself inside `unshare
//! --mount --net` (see common::ns).
//!
//! - the control socket: readers holding every connection they can must not keep root
//!   (or another reader) out;
//! - the failure windows: a spray of single failures from distinct IPv6 /64s stays
//!   within `[daemon] tracker_memory`, cannot hide a brute force, and expired windows
//!   give their memory back on a quiet host;
//! - the correlation memory: a flood of new connections must not wipe a real
//!   attacker's remembered address;
//! - the socket file is removed at stop.

mod common;
use common::ns::*;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn fail(j: &Journald, ip: &str) {
    j.sshd(&format!(
        "Failed password for root from {ip} port 4242 ssh2"
    ));
}

/// The i-th /64 of 2001:db8::/32 (one address in it).
fn v6(i: u32) -> String {
    format!("2001:db8:{:x}:{:x}::1", i >> 16, i & 0xffff)
}

/// Memory of `pid` that is its own: anonymous pages, in KiB (mapped journal files and
/// code are not counted).
fn rss_anon_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn pid(b: &Banjo) -> u32 {
    b.child.as_ref().unwrap().id()
}

/// A local user holding as many control connections as it can: it connects `n`
/// times, sends nothing, and reconnects whenever the daemon closes one.
const HOARDER: &str = r#"
import ctypes, os, select, socket, sys, time
# Gone with the test process even if it is killed (no Drop then): PR_SET_PDEATHSIG,
# set here since a change of user (setpriv) clears it.
ppid = os.getppid()
ctypes.CDLL(None).prctl(1, 9)
if os.getppid() != ppid:
    sys.exit(0)
path, n = sys.argv[1], int(sys.argv[2])
socks = []
def fill():
    while len(socks) < n:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(path)
        except OSError:
            s.close()  # the listen queue is full: try again in a moment
            return
        socks.append(s)
fill()
print("holding", flush=True)
while True:
    ready, _, _ = select.select(socks, [], [], 0.02)
    for s in ready:
        try:
            if s.recv(1) != b"":
                continue
        except BlockingIOError:
            continue
        except OSError:
            pass
        socks.remove(s)
        s.close()
    fill()
    time.sleep(0.005)
"#;

/// Hoarders, killed when the test ends (also when it fails: the namespace runner
/// would otherwise wait for them).
struct Hoarders(Vec<Child>);

impl Drop for Hoarders {
    fn drop(&mut self) {
        for h in &mut self.0 {
            let _ = h.kill();
            let _ = h.wait();
        }
    }
}

/// Start the hoarder as `uid` (group nogroup, the readers group, and nothing else).
fn hoard(script: &std::path::Path, socket: &std::path::Path, uid: u32, n: usize) -> Child {
    let mut c = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
        ])
        .arg(script)
        .arg(socket)
        .arg(n.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let out = c.stdout.as_mut().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).unwrap();
    assert_eq!(line.trim(), "holding", "hoarder {uid} did not start");
    c
}

fn banjo_as(uid: u32, args: &[&str], socket: &std::path::Path) -> std::process::Output {
    Command::new("setpriv")
        .args([&format!("--reuid={uid}"), "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_banjo"))
        .args(args)
        .arg("--socket")
        .arg(socket)
        .output()
        .unwrap()
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const SSHD: &str = r#"
[jail.sshd]
enabled = true
maxretry = 5
findtime = "1m"
bantime = "1h"
port = ["ssh"]
[jail.recidive]
enabled = false
"#;

#[test]
fn readers_holding_every_connection_lock_out_neither_root_nor_another_reader() {
    if !enter("readers_holding_every_connection_lock_out_neither_root_nor_another_reader") {
        return;
    }
    let j = Journald::start();
    let cfg = format!("{SSHD}\n[daemon]\nreaders_group = \"nogroup\"\n");
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);
    let script = j.work.path().join("hoarder.py");
    std::fs::write(&script, HOARDER).unwrap();
    // Seven readers (nobody and six more uids, all in the readers group), each trying
    // to hold 30 connections: together far more than the 64 the socket took in all.
    let _hoarders = Hoarders(
        [65534, 4001, 4002, 4003, 4004, 4005, 4006]
            .into_iter()
            .map(|uid| hoard(&script, &b.socket, uid, 30))
            .collect(),
    );
    std::thread::sleep(Duration::from_millis(500));
    for round in 0..5 {
        // Root: every verb, each time.
        ok(&b.cli(&["status"]), &format!("root status, round {round}"));
        ok(
            &b.cli(&["ban", "sshd", "203.0.113.60"]),
            &format!("root ban, round {round}"),
        );
        assert!(ipset_members("banjo-sshd-4").contains(&"203.0.113.60".to_string()));
        ok(
            &b.cli(&["unban", "203.0.113.60"]),
            &format!("root unban, round {round}"),
        );
        ok(&b.cli(&["reload"]), &format!("root reload, round {round}"));
        // Another reader, holding nothing, gets in too.
        ok(
            &banjo_as(4242, &["status"], &b.socket),
            &format!("reader 4242, round {round}"),
        );
    }
    // The hoarders were held to their share: the daemon's descriptors stay bounded
    // (64 connections at most, plus its own few).
    let fds = std::fs::read_dir(format!("/proc/{}/fd", pid(&b)))
        .unwrap()
        .count();
    assert!(fds < 64 + 32, "{fds} descriptors");
    let st = b.cli_json(&["status"]);
    assert!(st["control_evicted"].as_u64().unwrap() > 0, "{st}");
}

#[test]
fn a_spray_of_single_failures_stays_within_tracker_memory_and_hides_no_brute_force() {
    if !enter("a_spray_of_single_failures_stays_within_tracker_memory_and_hides_no_brute_force") {
        return;
    }
    let j = Journald::start_unlimited();
    let cfg = format!("{SSHD}\n[daemon]\ntracker_memory = \"1MiB\"\n");
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);
    let anon0 = rss_anon_kib(pid(&b));
    // A brute force with 4 of its 5 failures, then single failures from 50,000 /64s of
    // one /32 (~620 B each before: 31 MB; the budget holds ~5,500 windows).
    for _ in 0..4 {
        fail(&j, "203.0.113.50");
    }
    const SPRAY: u32 = 50_000;
    for i in 0..SPRAY {
        fail(&j, &v6(i));
    }
    eventually(60, "the spray read", || {
        b.cli_json(&["status", "sshd"])["total_failed"] == u64::from(SPRAY) + 4
    });
    let grown = rss_anon_kib(pid(&b)).saturating_sub(anon0);
    eprintln!("anonymous memory after the spray: +{grown} KiB");
    assert!(grown < 12 * 1024, "anonymous memory grew by {grown} KiB");
    let st = b.cli_json(&["status"]);
    let t = &st["tracker_memory"];
    assert!(t["used"].as_u64().is_some_and(|u| u <= 1 << 20), "{st}");
    assert!(
        t["windows_forgotten"].as_u64().is_some_and(|n| n > 40_000),
        "{st}"
    );
    assert_eq!(
        st["jails"][0]["windows_forgotten"], t["windows_forgotten"],
        "{st}"
    );
    assert!(ipset_members("banjo-sshd-4").is_empty(), "banned too early");

    // The same budget holds when a restart rebuilds the windows from the journal.
    b.kill9();
    b.start(&[]);
    let st = b.cli_json(&["status"]);
    let t = &st["tracker_memory"];
    assert!(t["used"].as_u64().is_some_and(|u| u <= 1 << 20), "{st}");
    assert!(
        t["windows_forgotten"].as_u64().is_some_and(|n| n > 40_000),
        "{st}"
    );
    // The brute force kept its 4 failures through both: its fifth bans it.
    fail(&j, "203.0.113.50");
    eventually(10, "203.0.113.50 banned at its fifth failure", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.50".to_string())
    });
    // Said once per run, in the journal.
    let notes = j.query("MESSAGE_ID=320bfee182f741a1825bbbee42c3d35f");
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(notes[0]["BANJO_JAIL"], "sshd");
}

#[test]
fn expired_windows_give_their_memory_back_on_a_quiet_host() {
    if !enter("expired_windows_give_their_memory_back_on_a_quiet_host") {
        return;
    }
    let j = Journald::start_unlimited();
    let cfg = SSHD.replace("findtime = \"1m\"", "findtime = \"3s\"");
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);
    let anon0 = rss_anon_kib(pid(&b));
    const SPRAY: u32 = 50_000;
    for i in 0..SPRAY {
        fail(&j, &v6(i));
    }
    eventually(60, "the spray read", || {
        b.cli_json(&["status", "sshd"])["total_failed"] == u64::from(SPRAY)
    });
    let held = rss_anon_kib(pid(&b)).saturating_sub(anon0);
    // Nothing more comes. The windows expire 3 s after their failure, and the memory
    // they held is handed back without a single new entry to trigger it.
    eventually(20, "windows swept", || {
        b.cli_json(&["status", "sshd"])["currently_failed"] == 0
    });
    eventually(10, "memory given back", || {
        rss_anon_kib(pid(&b)).saturating_sub(anon0) < 4 * 1024
    });
    let st = b.cli_json(&["status"]);
    assert_eq!(st["tracker_memory"]["windows"], 0, "{st}");
    eprintln!(
        "anonymous memory: +{held} KiB with the windows, back to +{} KiB",
        rss_anon_kib(pid(&b)).saturating_sub(anon0)
    );
}

/// Lines as a service with its own connection id would log them (a field any
/// program may write: the session logic is the one sshd's _PID uses, and this host's
/// pid_max of 32768 could not give 70,000 distinct _PIDs).
struct Service {
    sock: UnixDatagram,
}

impl Service {
    fn log(&self, session: u32, msg: &str) {
        let e = format!("MESSAGE={msg}\nSYSLOG_IDENTIFIER=flood\nFLOOD_SESSION={session}\n");
        self.sock
            .send_to(e.as_bytes(), "/run/systemd/journal/socket")
            .unwrap();
    }
}

#[test]
fn a_connection_flood_does_not_wipe_a_real_attackers_connections() {
    if !enter("a_connection_flood_does_not_wipe_a_real_attackers_connections") {
        return;
    }
    let j = Journald::start_unlimited();
    let cfg = r#"
[jail.sshd]
enabled = false
[jail.recidive]
enabled = false
[jail.flood]
enabled = true
filter = "flood"
journalmatch = "_UID=0 SYSLOG_IDENTIFIER=flood"
maxretry = 5
port = ["ssh"]
"#;
    let mut b = Banjo::new(j.work.path(), cfg);
    std::fs::create_dir_all(b.config.join("filter.d")).unwrap();
    // sshd's two correlated lines, with the connection in FLOOD_SESSION.
    std::fs::write(
        b.config.join("filter.d/flood.toml"),
        r#"id_field = "FLOOD_SESSION"
failregex = [
    '^Connection from <HOST> port \d+ on \S+ port \d+<F-NOFAIL>$',
    '^Disconnecting: Too many authentication failures \[preauth\]$',
    '^marker from <HOST>$',
]
"#,
    )
    .unwrap();
    b.start(&[]);
    let s = Service {
        sock: UnixDatagram::unbound().unwrap(),
    };
    let connect = |session: u32, ip: &str| {
        s.log(
            session,
            &format!("Connection from {ip} port 40000 on 192.0.2.1 port 22"),
        )
    };
    // 65,000 connections, the attacker's five, 5,000 more: 70,005 in all, past the
    // memory's 65,536. Then the attacker's five fail without an address.
    for i in 0..65_000 {
        connect(1_000_000 + i, &format!("198.51.100.{}", i % 200 + 1));
    }
    for k in 0..5 {
        connect(k + 1, "203.0.113.50");
    }
    for i in 0..5_000 {
        connect(2_000_000 + i, &format!("198.51.100.{}", i % 200 + 1));
    }
    for k in 0..5 {
        s.log(
            k + 1,
            "Disconnecting: Too many authentication failures [preauth]",
        );
    }
    // A line after all of them, counted on any build: then everything was read.
    s.log(3_000_000, "marker from 198.51.100.250");
    eventually(60, "every line read", || {
        b.cli_json(&["status", "flood"])["total_failed"].as_u64() >= Some(1)
    });
    let st = b.cli_json(&["status", "flood"]);
    assert_eq!(
        st["total_failed"], 6,
        "the attacker's 5 address-less failures: {st}"
    );
    eventually(5, "203.0.113.50 banned", || {
        ipset_members("banjo-flood-4").contains(&"203.0.113.50".to_string())
    });
    assert_eq!(ipset_members("banjo-flood-4").len(), 1, "only the attacker");
}

#[test]
fn a_stopped_daemon_leaves_no_socket_file_and_never_removes_anothers() {
    if !enter("a_stopped_daemon_leaves_no_socket_file_and_never_removes_anothers") {
        return;
    }
    let j = Journald::start();
    let mut b = Banjo::new(j.work.path(), SSHD);
    b.start(&[]);
    assert!(b.socket.exists());
    b.stop();
    assert!(!b.socket.exists(), "stale socket left after a clean stop");
    b.start(&[]);
    std::fs::remove_file(&b.socket).unwrap();
    // Someone else now listens on the path: stopping must not remove their socket.
    let other = std::os::unix::net::UnixListener::bind(&b.socket).unwrap();
    b.stop();
    assert!(b.socket.exists(), "another program's socket was removed");
    drop(other);
}
