//! Subnet escalation in the daemon, through the real kernel: a private journald, a
//! private firewall (iptables + ipset, or nftables) in a network namespace, `banjo run`
//! as a process, the CLI over its socket, and a peer namespace on a veth link whose
//! address in 203.0.113.0/24 is none of the banned ones. Each test re-runs itself
//! inside `unshare --mount --net`.
//!
//! The promises: once escalate_after addresses of a /24 are banned, the kernel holds
//! the /24 as one element and none of the members, the state holds one row (it
//! survives a restart), the journal has one entry for it and no unban entry per
//! member, and traffic from another address of the /24 is refused. An ignoreip inside
//! the /24 prevents all of it.

mod common;
use common::fw::Peer;
use common::ns::*;

/// MESSAGE_IDs (src/events.rs, units/banjo.catalog).
const BAN: &str = "4d654fc42ce94fee9c9d8899ca99f1bc";
const UNBAN: &str = "c82385cce92748f0af9eb900125d4df7";
const ESCALATED: &str = "76e91bb52e33438da8a9f741b84a9521";
const ESCALATION_REFUSED: &str = "85a7c24b356f4894802c2766bb159657";

const CONFIG: &str = r#"
[defaults]
ignoreip = ["127.0.0.0/8", "::1"]
[jail.sshd]
enabled = true
maxretry = 3
findtime = "10m"
bantime = "1h"
port = ["ssh"]
escalate_after = 3
escalate_bantime = "1d"
"#;

const NET: &str = "203.0.113.0/24";
const MEMBERS: [&str; 3] = ["203.0.113.5", "203.0.113.6", "203.0.113.7"];
/// The peer's address: in the /24, never failing, never banned by itself.
const PEER: &str = "203.0.113.200";
/// Where the peer connects: our address outside the /24.
const SSH: &str = "192.0.2.1:22";

fn fail(j: &Journald, ip: &str) {
    j.sshd(&format!(
        "Failed password for root from {ip} port 4242 ssh2"
    ));
}

/// A peer that reaches our 192.0.2.1 from 203.0.113.200, and a listener on port 22.
struct Link {
    peer: Peer,
    _listener: std::net::TcpListener,
}

impl Link {
    fn up() -> Link {
        let peer = Peer::linked();
        shell("ip addr add 192.0.2.1/24 dev bj0 && ip route add 203.0.113.0/24 dev bj0");
        peer.ip(&["addr", "add", &format!("{PEER}/24"), "dev", "bj1"]);
        peer.ip(&["route", "add", "192.0.2.0/24", "dev", "bj1", "src", PEER]);
        let listener = std::net::TcpListener::bind("0.0.0.0:22").unwrap();
        peer.connect_eventually(SSH.parse().unwrap());
        Link {
            peer,
            _listener: listener,
        }
    }

    fn gets_through(&self) -> bool {
        self.peer.connect(SSH.parse().unwrap(), 2).is_ok()
    }
}

/// How a backend lists a jail's kernel elements.
struct Kernel {
    config: String,
    /// Is this address or network an element of jail sshd's sets?
    holds: fn(&str) -> bool,
}

fn iptables() -> Kernel {
    Kernel {
        config: CONFIG.to_owned(),
        holds: |m| ipset_members("banjo-sshd-4").iter().any(|x| x == m),
    }
}

fn nftables() -> Kernel {
    Kernel {
        config: format!("{CONFIG}\n[daemon]\nfirewall = \"nftables\"\n"),
        holds: |m| match m.split_once('/') {
            Some((net, len)) => {
                nft_members(&format!("banjo-sshd-4-{len}")).contains(&net.to_string())
            }
            None => nft_members("banjo-sshd-4").contains(&m.to_string()),
        },
    }
}

fn three_members_become_the_24(k: Kernel) {
    let j = Journald::start();
    let link = Link::up();
    let mut b = Banjo::new(j.work.path(), &k.config);
    b.start(&[]);
    assert!(
        link.gets_through(),
        "{PEER} must get through before any ban"
    );
    for ip in MEMBERS {
        for _ in 0..3 {
            fail(&j, ip);
        }
    }
    eventually(10, "the /24 in the kernel", || (k.holds)(NET));
    eventually(5, "the members out of the kernel", || {
        MEMBERS.iter().all(|m| !(k.holds)(m))
    });
    // Another address of the /24, which never failed, is refused now.
    assert!(!link.gets_through(), "{PEER} is inside the banned /24");

    // One ban in banjo: the network's, for escalate_bantime.
    let st = b.cli_json(&["status", "sshd"]);
    assert_eq!(st["currently_banned"], 1, "{st}");
    assert_eq!(st["banned"][0], NET, "{st}");
    let bans = b.cli_json(&["bans"]);
    let listed: Vec<&str> = bans
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["addr"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [NET], "{bans}");

    // The journal: three Ban entries, one escalation entry naming the members, no
    // Unban entry for them.
    let q = format!("MESSAGE_ID={ESCALATED}");
    eventually(5, "the escalation's journal entry", || {
        !j.query(&q).is_empty()
    });
    let e = j.query(&q);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0]["BANJO_IP"], NET);
    assert_eq!(e[0]["BANJO_MEMBERS"], "3");
    assert_eq!(e[0]["BANJO_BANTIME"], "1d");
    assert_eq!(e[0]["BANJO_ADDRESSES"], MEMBERS.join("\n"));
    assert!(
        e[0]["MESSAGE"]
            .as_str()
            .unwrap()
            .starts_with("[sshd] Ban 203.0.113.0/24 (3 of its addresses banned"),
        "{}",
        e[0]["MESSAGE"]
    );
    assert_eq!(j.query(&format!("MESSAGE_ID={BAN}")).len(), 3);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(j.query(&format!("MESSAGE_ID={UNBAN}")).is_empty());

    // A restart restores the network ban from the state, and not the members.
    b.stop();
    b.start(&[]);
    let st = b.cli_json(&["status", "sshd"]);
    assert_eq!(st["currently_banned"], 1, "{st}");
    assert!((k.holds)(NET));
    assert!(MEMBERS.iter().all(|m| !(k.holds)(m)));
    assert!(!link.gets_through());

    // Unbanning the network lets the /24 in again.
    let out = b.cli(&["unban", NET, "--jail", "sshd"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually(5, "the /24 out of the kernel", || !(k.holds)(NET));
    assert!(link.gets_through());
}

#[test]
fn three_banned_addresses_become_one_kernel_element_iptables() {
    if !enter("three_banned_addresses_become_one_kernel_element_iptables") {
        return;
    }
    three_members_become_the_24(iptables());
}

#[test]
fn three_banned_addresses_become_one_kernel_element_nftables() {
    if !enter("three_banned_addresses_become_one_kernel_element_nftables") {
        return;
    }
    three_members_become_the_24(nftables());
}

/// The admin at 203.0.113.77 (ignoreip): its neighbours are banned one by one, the
/// /24 never, and banjo says why once.
fn an_ignoreip_inside_prevents_it(k: Kernel) {
    let j = Journald::start();
    let link = Link::up();
    let cfg = k.config.replace(
        "ignoreip = [\"127.0.0.0/8\", \"::1\"]",
        "ignoreip = [\"127.0.0.0/8\", \"::1\", \"203.0.113.77\"]",
    );
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);
    let more = ["203.0.113.8", "203.0.113.9"];
    for ip in MEMBERS.iter().chain(&more) {
        for _ in 0..3 {
            fail(&j, ip);
        }
    }
    eventually(10, "five single bans in the kernel", || {
        MEMBERS.iter().chain(&more).all(|m| (k.holds)(m))
    });
    let q = format!("MESSAGE_ID={ESCALATION_REFUSED}");
    eventually(5, "the refusal's journal entry", || !j.query(&q).is_empty());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let e = j.query(&q);
    assert_eq!(e.len(), 1, "said once: {e:?}");
    assert_eq!(e[0]["BANJO_IP"], NET);
    assert!(
        e[0]["BANJO_REASON"]
            .as_str()
            .unwrap()
            .contains("203.0.113.77"),
        "{e:?}"
    );
    assert!(!(k.holds)(NET));
    assert!(j.query(&format!("MESSAGE_ID={ESCALATED}")).is_empty());
    assert_eq!(b.cli_json(&["status", "sshd"])["currently_banned"], 5);
    assert!(link.gets_through(), "{PEER} was never banned");
}

#[test]
fn an_ignoreip_inside_the_24_prevents_escalation_iptables() {
    if !enter("an_ignoreip_inside_the_24_prevents_escalation_iptables") {
        return;
    }
    an_ignoreip_inside_prevents_it(iptables());
}

#[test]
fn an_ignoreip_inside_the_24_prevents_escalation_nftables() {
    if !enter("an_ignoreip_inside_the_24_prevents_escalation_nftables") {
        return;
    }
    an_ignoreip_inside_prevents_it(nftables());
}
