//! Shared by the firewall backend tests (firewall_netns.rs: iptables + ipset,
//! firewall_nft_netns.rs: nftables): a network namespace per test, the jails and bans
//! they set up, and a peer namespace for real traffic.
#![allow(dead_code)]

use banjo::addr::Addr;
use banjo::ban::{BanEntry, JailRules};
use banjo::banrules::{BlockType, Ports, Protocol};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set inside the namespace, to the namespace the test was started from.
const IN_NETNS: &str = "BANJO_IN_NETNS";

pub fn netns_id() -> String {
    std::fs::read_link("/proc/self/ns/net")
        .expect("reading /proc/self/ns/net")
        .display()
        .to_string()
}

/// Run `body` in a fresh network namespace: re-run this test binary for `test` alone
/// under `unshare --net`, and check that it passed there. `needs` names the tools, for
/// the message when the tests are skipped without root.
pub fn in_netns(test: &str, needs: &str, body: impl FnOnce()) {
    if let Ok(outer) = std::env::var(IN_NETNS) {
        assert_ne!(
            netns_id(),
            outer,
            "not in a fresh network namespace; refusing to touch the host firewall"
        );
        body();
        return;
    }
    if std::fs::metadata("/proc/self").map(|m| m.uid()).ok() != Some(0) {
        eprintln!("skipping {test}: needs root (unshare --net, {needs})");
        return;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new("unshare")
        .args(["--net", "--"])
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_NETNS, netns_id())
        .stdin(Stdio::null())
        .output()
        .expect("running unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{test} failed in its namespace");
    // A misspelt name would run nothing and still succeed.
    assert!(stdout.contains("1 passed"), "{test} did not run");
}

/// Run a tool, insist on success, return stdout.
pub fn sh(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn jail(
    name: &str,
    chain: &str,
    ports: Ports,
    protocol: Protocol,
    blocktype: BlockType,
) -> JailRules {
    JailRules {
        jail: name.into(),
        chain: chain.into(),
        ports,
        protocol,
        blocktype,
        wake_group: None,
    }
}

pub fn ports(list: &[u16]) -> Ports {
    Ports::List(list.iter().map(|&p| (p, p)).collect())
}

pub fn sshd() -> JailRules {
    jail(
        "sshd",
        "INPUT",
        ports(&[22, 2222]),
        Protocol::Tcp,
        BlockType::Reject,
    )
}

pub fn a(s: &str) -> Addr {
    s.parse().unwrap()
}

pub fn ban(addr: &str, secs: Option<u32>) -> BanEntry {
    BanEntry {
        addr: a(addr),
        timeout_secs: secs,
    }
}

/// A second network namespace, held open by a `sleep` we started.
pub struct Peer {
    child: Child,
}

impl Peer {
    pub fn start() -> Peer {
        let child = Command::new("unshare")
            .args(["--net", "--", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let peer = Peer { child };
        let ours = netns_id();
        let path = format!("/proc/{}/ns/net", peer.child.id());
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_link(&path)
            .map(|p| p.display().to_string())
            .ok()
            == Some(ours.clone())
        {
            assert!(Instant::now() < deadline, "peer namespace never appeared");
            std::thread::sleep(Duration::from_millis(10));
        }
        peer
    }

    /// A peer linked to us by a veth pair: we are 198.51.100.1 and 2001:db8:7::1 on
    /// bj0, the peer 198.51.100.2 and 2001:db8:7::2 on bj1.
    pub fn linked() -> Peer {
        let peer = Peer::start();
        let pid = peer.pid();
        sh(
            "ip",
            &[
                "link", "add", "bj0", "type", "veth", "peer", "name", "bj1", "netns", &pid,
            ],
        );
        for args in [
            &["addr", "add", "198.51.100.1/24", "dev", "bj0"][..],
            &[
                "-6",
                "addr",
                "add",
                "2001:db8:7::1/64",
                "dev",
                "bj0",
                "nodad",
            ],
            &["link", "set", "bj0", "up"],
        ] {
            sh("ip", args);
        }
        for args in [
            &["addr", "add", "198.51.100.2/24", "dev", "bj1"][..],
            &[
                "-6",
                "addr",
                "add",
                "2001:db8:7::2/64",
                "dev",
                "bj1",
                "nodad",
            ],
            &["link", "set", "bj1", "up"],
        ] {
            peer.ip(args);
        }
        peer
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    pub fn ip(&self, args: &[&str]) {
        let pid = self.pid();
        let mut all = vec!["-t", &pid, "-n", "--", "ip"];
        all.extend_from_slice(args);
        sh("nsenter", &all);
    }

    /// Connect to `to` from inside the peer namespace, giving up after `secs`.
    pub fn connect(&self, to: SocketAddr, secs: u64) -> std::io::Result<()> {
        let ns = std::fs::File::open(format!("/proc/{}/ns/net", self.child.id()))?;
        std::thread::spawn(move || {
            // SAFETY: `ns` is an open namespace file; setns moves only this thread,
            // which ends right after the connect.
            if unsafe { nix::libc::setns(ns.as_raw_fd(), nix::libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            TcpStream::connect_timeout(&to, Duration::from_secs(secs)).map(drop)
        })
        .join()
        .expect("connect thread")
    }

    /// The link may need a moment (neighbour discovery) before the first connect.
    pub fn connect_eventually(&self, to: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.connect(to, 3) {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => {
                    panic!("{to} unreachable before any ban: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The wake rule's contract, for every backend: with a wake group, the start of a TCP
/// connection to the jail's ports (IPv4 and IPv6, through a real veth link) reaches a
/// [`ConnectionWake`] bound to that group; a connection to another port, a banned
/// address's connection and a connection after the jail was set up again without a
/// wake group do not. A second listener cannot take the group while the first holds it.
pub fn wake_rule_contract(fw: &mut dyn banjo::ban::Firewall) {
    use banjo::daemon::wakeup::ConnectionWake;
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
    const GROUP: u16 = 3187;
    let peer = Peer::linked();
    let v4 = SocketAddr::from((Ipv4Addr::new(198, 51, 100, 1), 2222));
    let v6 = SocketAddr::from(("2001:db8:7::1".parse::<Ipv6Addr>().unwrap(), 2222));
    let other = SocketAddr::from((Ipv4Addr::new(198, 51, 100, 1), 2223));
    let _listeners: Vec<TcpListener> = [v4, v6, other]
        .iter()
        .map(|s| TcpListener::bind(s).unwrap())
        .collect();
    for to in [v4, v6, other] {
        peer.connect_eventually(to);
    }
    let wake = ConnectionWake::open(GROUP).expect("binding the nfnetlink_log group");
    let err = ConnectionWake::open(GROUP)
        .err()
        .expect("the group is ours alone");
    // The kernel answers EPERM for a group bound by another socket.
    assert_eq!(err.raw_os_error(), Some(nix::libc::EPERM), "{err}");
    let mut rules = jail(
        "app",
        "INPUT",
        ports(&[2222]),
        Protocol::Tcp,
        BlockType::Reject,
    );
    rules.wake_group = Some(GROUP);
    fw.setup(&rules).unwrap();
    // The rule lets one message through per 100 ms: space the connections out.
    let settle = || std::thread::sleep(Duration::from_millis(150));
    settle();
    assert!(!wake.drain(), "nothing connected yet");
    for to in [v4, v6] {
        peer.connect(to, 3).unwrap();
        assert!(wake.drain(), "a connection to {to} woke nobody");
        settle();
    }
    peer.connect(other, 3).unwrap();
    settle();
    assert!(!wake.drain(), "port 2223 is not the jail's");
    fw.ban("app", &[ban("198.51.100.2", Some(600))]).unwrap();
    peer.connect(v4, 3).expect_err("banned");
    settle();
    assert!(
        !wake.drain(),
        "a banned address is dropped before the wake rule"
    );
    peer.connect(v6, 3).unwrap();
    assert!(wake.drain(), "the unbanned family still wakes");
    settle();
    // A prefix ban (nftables makes its set and rule at this first ban of a /64).
    fw.ban("app", &[ban("2001:db8:7::/64", Some(600))]).unwrap();
    peer.connect(v6, 3).expect_err("banned /64");
    settle();
    assert!(
        !wake.drain(),
        "a banned prefix is dropped before the wake rule"
    );
    fw.unban("app", &[a("198.51.100.2"), a("2001:db8:7::/64")])
        .unwrap();
    // Set up again without a wake group (a reload after wake_on_connect = false).
    rules.wake_group = None;
    fw.setup(&rules).unwrap();
    peer.connect(v6, 3).unwrap();
    settle();
    assert!(!wake.drain(), "the wake rule is gone");
    fw.teardown("app").unwrap();
}
