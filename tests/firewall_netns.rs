//! The iptables + ipset backend against the real kernel.
//!
//! Every test runs in a network namespace of its own, which starts with empty tables
//! and sets and vanishes with the process: the test re-executes this binary under
//! `unshare --net` for just itself (BANJO_IN_NETNS set), and the copy inside refuses to
//! run unless its namespace differs from the one it was started from. The host's
//! firewall is never touched. Needs root, iptables, ipset and iproute2; without root the
//! tests say they are skipped.
//!
//! Tests about chains run twice, with iptables-nft and iptables-legacy.

mod common;

use banjo::addr::Addr;
use banjo::ban::{
    BanEntry, Family, Firewall, FirewallError, Flavour, IptablesFirewall, MemoryLedger, Object,
};
use banjo::banrules::{BlockType, Ports, Protocol};
use common::fw::*;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// [`common::fw::in_netns`] for this backend's tools.
fn in_netns(test: &str, body: impl FnOnce()) {
    common::fw::in_netns(test, "iptables, ipset", body)
}

/// One test per body and flavour, each in its own namespace.
macro_rules! both_flavours {
    ($($name:ident($fw:ident) $body:block)*) => {$(
        mod $name {
            use super::*;
            fn body($fw: &mut IptablesFirewall) $body
            #[test]
            fn nft() {
                in_netns(concat!(stringify!($name), "::nft"), || {
                    body(&mut IptablesFirewall::with_flavour(Flavour::Nft))
                });
            }
            #[test]
            fn legacy() {
                in_netns(concat!(stringify!($name), "::legacy"), || {
                    body(&mut IptablesFirewall::with_flavour(Flavour::Legacy))
                });
            }
        }
    )*};
}

fn ipt(fw: &IptablesFirewall, fam: Family, args: &[&str]) -> String {
    sh(fw.flavour().command(fam), args)
}

/// The filter table as `-S` prints it.
fn table(fw: &IptablesFirewall, fam: Family) -> String {
    ipt(fw, fam, &["-w", "-S"])
}

fn rules_of(fw: &IptablesFirewall, fam: Family, chain: &str) -> Vec<String> {
    table(fw, fam)
        .lines()
        .filter(|l| l.starts_with(&format!("-A {chain} ")))
        .map(str::to_owned)
        .collect()
}

fn sets() -> Vec<String> {
    sh("ipset", &["list", "-n"])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The kernel state a test compares before and after.
fn snapshot(fw: &IptablesFirewall) -> (String, String, Vec<String>) {
    (table(fw, Family::V4), table(fw, Family::V6), sets())
}

fn assert_no_banjo(fw: &IptablesFirewall) {
    for fam in Family::BOTH {
        let t = table(fw, fam);
        assert!(!t.contains("banjo"), "{fam} still has banjo rules:\n{t}");
    }
    let s = sets();
    assert!(
        s.iter().all(|s| !s.starts_with("banjo")),
        "banjo sets left: {s:?}"
    );
}

/// The timeout ipset shows for `member` of `set`; None if not a member.
fn timeout_of(set: &str, member: &str) -> Option<u32> {
    let prefix = format!("{member} timeout ");
    sh("ipset", &["list", set])
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|t| t.trim().parse().unwrap()))
}

/// banjo's marker on every rule it writes.
const M: &str = "-m comment --comment banjo";

both_flavours! {
    setup_creates_chain_hook_and_sets(fw) {
        fw.setup(&sshd()).unwrap();
        let v4 = table(fw, Family::V4);
        for line in [
            "-N banjo-sshd".to_string(),
            format!("-A INPUT -p tcp -m multiport --dports 22,2222 {M} -j banjo-sshd"),
            format!("-A banjo-sshd -p tcp -m set --match-set banjo-sshd-4 src {M} -j REJECT --reject-with tcp-reset"),
            format!("-A banjo-sshd {M} -j RETURN"),
        ] {
            assert!(v4.lines().any(|l| l == line), "missing {line:?} in\n{v4}");
        }
        let v6 = table(fw, Family::V6);
        for line in [
            "-N banjo-sshd".to_string(),
            format!("-A INPUT -p tcp -m multiport --dports 22,2222 {M} -j banjo-sshd"),
            format!("-A banjo-sshd -p tcp -m set --match-set banjo-sshd-6 src {M} -j REJECT --reject-with tcp-reset"),
            format!("-A banjo-sshd {M} -j RETURN"),
        ] {
            assert!(v6.lines().any(|l| l == line), "missing {line:?} in\n{v6}");
        }
        assert_eq!(sets(), ["banjo-sshd-4", "banjo-sshd-6"]);
        let h4 = sh("ipset", &["list", "-t", "banjo-sshd-4"]);
        assert!(h4.contains("Type: hash:net"), "{h4}");
        assert!(h4.contains("family inet ") && h4.contains("maxelem 1048576") && h4.contains("timeout 0"), "{h4}");
        let h6 = sh("ipset", &["list", "-t", "banjo-sshd-6"]);
        assert!(h6.contains("Type: hash:net"), "{h6}");
        assert!(h6.contains("family inet6 ") && h6.contains("maxelem 1048576") && h6.contains("timeout 0"), "{h6}");
        assert_eq!(fw.jails_present().unwrap(), ["sshd"]);
    }

    setup_is_idempotent(fw) {
        fw.setup(&sshd()).unwrap();
        fw.ban("sshd", &[ban("192.0.2.7", Some(3600))]).unwrap();
        // Someone else's rule above ours: a second setup must not move our hook.
        for fam in Family::BOTH {
            ipt(fw, fam, &["-w", "-I", "INPUT", "-p", "udp", "-j", "ACCEPT"]);
        }
        let before = snapshot(fw);
        fw.setup(&sshd()).unwrap();
        fw.setup(&sshd()).unwrap();
        assert_eq!(snapshot(fw), before);
        assert_eq!(rules_of(fw, Family::V4, "INPUT").len(), 2);
        assert_eq!(fw.list("sshd").unwrap(), [a("192.0.2.7")], "setup must keep bans");
    }

    // Also pins an ip6tables-legacy 1.8.9 bug: `-C … --dports 2222` says "exists" when
    // only `--dports 22` does, which once left the jail unhooked in IPv6.
    setup_replaces_stale_hook_and_rules(fw) {
        let mut r = jail("sshd", "INPUT", ports(&[22]), Protocol::Tcp, BlockType::Reject);
        fw.setup(&r).unwrap();
        fw.ban("sshd", &[ban("192.0.2.7", None)]).unwrap();
        r.ports = ports(&[2222]);
        fw.setup(&r).unwrap();
        for fam in Family::BOTH {
            assert_eq!(
                rules_of(fw, fam, "INPUT"),
                [format!("-A INPUT -p tcp -m multiport --dports 2222 {M} -j banjo-sshd")]
            );
        }
        r.blocktype = BlockType::Drop;
        fw.setup(&r).unwrap();
        assert_eq!(
            rules_of(fw, Family::V6, "banjo-sshd"),
            [
                format!("-A banjo-sshd -m set --match-set banjo-sshd-6 src {M} -j DROP"),
                format!("-A banjo-sshd {M} -j RETURN"),
            ]
        );
        r.chain = "FORWARD".into();
        fw.setup(&r).unwrap();
        for fam in Family::BOTH {
            assert!(rules_of(fw, fam, "INPUT").is_empty());
            assert_eq!(
                rules_of(fw, fam, "FORWARD"),
                [format!("-A FORWARD -p tcp -m multiport --dports 2222 {M} -j banjo-sshd")]
            );
        }
        assert_eq!(fw.list("sshd").unwrap(), [a("192.0.2.7")], "reconfiguring must keep bans");
    }

    hook_variants(fw) {
        // Docker's chain, with the RETURN Docker puts in it: our hook must come first.
        for fam in Family::BOTH {
            ipt(fw, fam, &["-w", "-N", "DOCKER-USER"]);
            ipt(fw, fam, &["-w", "-A", "DOCKER-USER", "-j", "RETURN"]);
        }
        let tcp_reject = |set: &str| {
            format!("-p tcp -m set --match-set {set} src {M} -j REJECT --reject-with tcp-reset")
        };
        let cases = [
            (
                jail("v", "INPUT", ports(&[22, 2222]), Protocol::Tcp, BlockType::Reject),
                format!("-A INPUT -p tcp -m multiport --dports 22,2222 {M} -j banjo-v"),
                tcp_reject("banjo-v-4"),
                tcp_reject("banjo-v-6"),
            ),
            (
                jail("v", "INPUT", Ports::List(vec![(8000, 8100), (22, 22)]), Protocol::Tcp, BlockType::Reject),
                format!("-A INPUT -p tcp -m multiport --dports 8000:8100,22 {M} -j banjo-v"),
                tcp_reject("banjo-v-4"),
                tcp_reject("banjo-v-6"),
            ),
            (
                jail("v", "INPUT", Ports::All, Protocol::Tcp, BlockType::Reject),
                format!("-A INPUT -p tcp {M} -j banjo-v"),
                tcp_reject("banjo-v-4"),
                tcp_reject("banjo-v-6"),
            ),
            (
                jail("v", "INPUT", ports(&[53]), Protocol::Udp, BlockType::Reject),
                format!("-A INPUT -p udp -m multiport --dports 53 {M} -j banjo-v"),
                format!("-m set --match-set banjo-v-4 src {M} -j REJECT --reject-with icmp-port-unreachable"),
                format!("-m set --match-set banjo-v-6 src {M} -j REJECT --reject-with icmp6-port-unreachable"),
            ),
            (
                jail("v", "INPUT", Ports::All, Protocol::All, BlockType::Reject),
                format!("-A INPUT {M} -j banjo-v"),
                format!("-m set --match-set banjo-v-4 src {M} -j REJECT --reject-with icmp-port-unreachable"),
                format!("-m set --match-set banjo-v-6 src {M} -j REJECT --reject-with icmp6-port-unreachable"),
            ),
            (
                jail("v", "FORWARD", ports(&[80, 443]), Protocol::Tcp, BlockType::Drop),
                format!("-A FORWARD -p tcp -m multiport --dports 80,443 {M} -j banjo-v"),
                format!("-m set --match-set banjo-v-4 src {M} -j DROP"),
                format!("-m set --match-set banjo-v-6 src {M} -j DROP"),
            ),
            (
                jail("v", "DOCKER-USER", ports(&[80, 443]), Protocol::Tcp, BlockType::Reject),
                format!("-A DOCKER-USER -p tcp -m multiport --dports 80,443 {M} -j banjo-v"),
                tcp_reject("banjo-v-4"),
                tcp_reject("banjo-v-6"),
            ),
        ];
        for (rules, hook, m4, m6) in cases {
            fw.setup(&rules).unwrap();
            for (fam, m) in [(Family::V4, m4), (Family::V6, m6)] {
                let hooked = rules_of(fw, fam, &rules.chain);
                assert_eq!(hooked.first(), Some(&hook), "{fam} {rules:?}");
                assert_eq!(
                    rules_of(fw, fam, "banjo-v"),
                    [format!("-A banjo-v {m}"), format!("-A banjo-v {M} -j RETURN")],
                    "{fam} {rules:?}"
                );
            }
            fw.teardown("v").unwrap();
            assert_no_banjo(fw);
        }
        for fam in Family::BOTH {
            assert_eq!(rules_of(fw, fam, "DOCKER-USER"), ["-A DOCKER-USER -j RETURN"]);
        }
    }

    missing_chain_leaves_nothing_behind(fw) {
        let before = snapshot(fw);
        let web = jail("web", "DOCKER-USER", ports(&[80, 443]), Protocol::Tcp, BlockType::Reject);
        let err = fw.setup(&web).unwrap_err().to_string();
        assert!(err.contains("hooking chain banjo-web into DOCKER-USER"), "{err}");
        println!("error: {err}");
        assert_no_banjo(fw);
        assert_eq!(snapshot(fw), before);
        assert!(fw.jails_present().unwrap().is_empty());

        // Docker without IPv6 has DOCKER-USER in iptables only: the IPv6 hook fails
        // last, after the IPv4 one was made, and that one must go too.
        ipt(fw, Family::V4, &["-w", "-N", "DOCKER-USER"]);
        ipt(fw, Family::V4, &["-w", "-A", "DOCKER-USER", "-j", "RETURN"]);
        let before = snapshot(fw);
        let err = fw.setup(&web).unwrap_err().to_string();
        assert!(err.contains("hooking chain banjo-web into DOCKER-USER (IPv6)"), "{err}");
        assert_no_banjo(fw);
        assert_eq!(snapshot(fw), before);
    }

    failed_reconfigure_keeps_previous_setup(fw) {
        fw.setup(&sshd()).unwrap();
        fw.ban("sshd", &[ban("192.0.2.7", None), ban("2001:db8:1:2::/64", None)]).unwrap();
        let before = snapshot(fw);
        // Everything changes, and the last step fails: the replaced chain rules and the
        // old hook must come back as they were.
        let moved = jail("sshd", "DOCKER-USER", ports(&[2222]), Protocol::Tcp, BlockType::Drop);
        assert!(fw.setup(&moved).is_err());
        assert_eq!(snapshot(fw), before);
        assert_eq!(fw.list("sshd").unwrap().len(), 2);
    }

    teardown_leaves_nothing(fw) {
        let before = snapshot(fw);
        fw.setup(&sshd()).unwrap();
        fw.ban("sshd", &[ban("192.0.2.7", Some(600)), ban("2001:db8:1:2::/64", None)]).unwrap();
        fw.teardown("sshd").unwrap();
        assert_eq!(snapshot(fw), before);
        fw.teardown("sshd").unwrap();
        assert!(fw.list("sshd").unwrap().is_empty());
        assert!(fw.jails_present().unwrap().is_empty());
    }

    flush_all_removes_only_banjo_objects(fw) {
        // fail2ban's leftovers and someone else's set.
        for fam in Family::BOTH {
            ipt(fw, fam, &["-w", "-N", "f2b-sshd"]);
            ipt(fw, fam, &["-w", "-A", "f2b-sshd", "-j", "RETURN"]);
            ipt(fw, fam, &["-w", "-I", "INPUT", "-p", "tcp", "--dport", "22", "-j", "f2b-sshd"]);
        }
        sh("ipset", &["create", "other", "hash:ip"]);
        sh("ipset", &["add", "other", "192.0.2.200"]);
        let foreign = snapshot(fw);
        fw.setup(&sshd()).unwrap();
        fw.setup(&jail("web", "FORWARD", ports(&[80]), Protocol::Tcp, BlockType::Drop)).unwrap();
        fw.ban("web", &[ban("192.0.2.8", None)]).unwrap();
        // A half-made jail (a set without chain, as banjo makes sets) is found and
        // flushed too; a set of another kind under banjo's names is not banjo's.
        sh("ipset", &["create", "banjo-orphan-4", "hash:net", "family", "inet", "timeout", "0", "maxelem", "1048576"]);
        sh("ipset", &["create", "banjo-other-4", "hash:ip"]);
        assert_eq!(fw.jails_present().unwrap(), ["orphan", "sshd", "web"]);
        let flushed = fw.flush_all().unwrap();
        assert_eq!(flushed.removed, ["orphan", "sshd", "web"]);
        assert_eq!(flushed.left.len(), 1, "{flushed:?}");
        assert_eq!(flushed.left[0].object, "ipset banjo-other-4");
        assert!(flushed.left[0].why.contains("ipset destroy banjo-other-4"), "{flushed:?}");
        sh("ipset", &["destroy", "banjo-other-4"]);
        assert_no_banjo(fw);
        assert_eq!(snapshot(fw), foreign);
        assert!(sh("ipset", &["list", "other"]).contains("192.0.2.200"));
        assert!(fw.jails_present().unwrap().is_empty());
    }

    wake_rule_logs_new_connections_to_the_jails_ports(fw) {
        wake_rule_contract(fw);
        // The chain holds exactly the rules we write, as -S prints them, so a second
        // setup finds them in place instead of writing them again.
        let mut rules = sshd();
        rules.wake_group = Some(4242);
        fw.setup(&rules).unwrap();
        fw.setup(&rules).unwrap();
        for fam in Family::BOTH {
            let want: Vec<String> = banjo::ban::iptables::chain_body(&rules, fam)
                .iter()
                .map(|r| format!("-A banjo-sshd {r}"))
                .collect();
            assert_eq!(rules_of(fw, fam, "banjo-sshd"), want, "{fam}");
        }
    }

    bans_block_real_traffic(fw) {
        let peer = Peer::linked();
        let v4 = SocketAddr::from((Ipv4Addr::new(198, 51, 100, 1), 2222));
        let v6 = SocketAddr::from(("2001:db8:7::1".parse::<Ipv6Addr>().unwrap(), 2222));
        let other = SocketAddr::from((Ipv4Addr::new(198, 51, 100, 1), 2223));
        let _listeners: Vec<TcpListener> = [v4, v6, other]
            .iter()
            .map(|s| TcpListener::bind(s).unwrap())
            .collect();
        fw.setup(&jail("app", "INPUT", ports(&[2222]), Protocol::Tcp, BlockType::Reject)).unwrap();

        for to in [v4, v6, other] {
            peer.connect_eventually(to);
        }
        fw.ban("app", &[ban("198.51.100.2", Some(600)), ban("2001:db8:7::/64", Some(600))]).unwrap();
        for to in [v4, v6] {
            let err = peer.connect(to, 3).expect_err("banned peer got through");
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{to}: {err}");
        }
        peer.connect(other, 3).expect("a port outside the jail stays open");
        fw.unban("app", &[a("198.51.100.2"), a("2001:db8:7::/64")]).unwrap();
        for to in [v4, v6] {
            peer.connect(to, 3).expect("unbanned peer is let in again");
        }
    }
}

#[test]
fn ban_and_unban_with_timeouts() {
    in_netns("ban_and_unban_with_timeouts", || {
        let mut fw = IptablesFirewall::new().unwrap();
        fw.setup(&sshd()).unwrap();
        fw.ban(
            "sshd",
            &[
                ban("192.0.2.7", Some(3600)),
                ban("192.0.2.8", None),
                ban("2001:db8:1:2::/64", Some(600)),
                ban("2001:db8:1:2:3:4:5:6", Some(0)),
            ],
        )
        .unwrap();
        let t = timeout_of("banjo-sshd-4", "192.0.2.7").unwrap();
        assert!((3590..=3600).contains(&t), "{t}");
        assert_eq!(
            timeout_of("banjo-sshd-4", "192.0.2.8"),
            Some(0),
            "permanent"
        );
        let t = timeout_of("banjo-sshd-6", "2001:db8:1:2::/64").unwrap();
        assert!((590..=600).contains(&t), "{t}");
        // A remaining time of 0 s must not become ipset's "permanent".
        assert!(timeout_of("banjo-sshd-6", "2001:db8:1:2:3:4:5:6").is_none_or(|t| t <= 1));

        // Re-banning resets the timeout.
        fw.ban("sshd", &[ban("192.0.2.7", Some(60))]).unwrap();
        assert!(timeout_of("banjo-sshd-4", "192.0.2.7").unwrap() <= 60);

        fw.unban(
            "sshd",
            &[
                a("192.0.2.7"),
                a("2001:db8:1:2::/64"),
                a("2001:db8:1:2:3:4:5:6"),
                a("192.0.2.99"), // never banned: fine
            ],
        )
        .unwrap();
        assert_eq!(timeout_of("banjo-sshd-4", "192.0.2.7"), None);
        assert_eq!(timeout_of("banjo-sshd-6", "2001:db8:1:2::/64"), None);
        assert_eq!(fw.list("sshd").unwrap(), [a("192.0.2.8")]);

        // Refusals name the step; what no packet comes from is refused before anything
        // runs; networks are bans like any other.
        let refused = fw.ban("nope", &[ban("192.0.2.1", None)]).unwrap();
        assert_eq!(refused.len(), 1);
        assert!(
            refused[0]
                .reason
                .contains("banning 1 address(es) in ipset banjo-nope-4"),
            "{refused:?}"
        );
        let refused = fw
            .ban(
                "sshd",
                &[ban("0.0.0.0", None), ban("198.51.100.0/24", None)],
            )
            .unwrap();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].entry.addr, a("0.0.0.0"));
        assert_eq!(
            fw.list("sshd").unwrap(),
            [a("192.0.2.8"), a("198.51.100.0/24")]
        );
    });
}

#[test]
fn kernel_lifts_timed_out_ban_by_itself() {
    in_netns("kernel_lifts_timed_out_ban_by_itself", || {
        {
            let mut fw = IptablesFirewall::new().unwrap();
            fw.setup(&sshd()).unwrap();
            fw.ban(
                "sshd",
                &[
                    ban("192.0.2.7", Some(2)),
                    ban("2001:db8:1:2::/64", Some(2)),
                    ban("192.0.2.8", None),
                ],
            )
            .unwrap();
        } // banjo is gone: only the kernel is left to lift the ban.
        let start = Instant::now();
        assert!(timeout_of("banjo-sshd-4", "192.0.2.7").is_some());
        while timeout_of("banjo-sshd-4", "192.0.2.7").is_some()
            || timeout_of("banjo-sshd-6", "2001:db8:1:2::/64").is_some()
        {
            assert!(
                start.elapsed() < Duration::from_secs(6),
                "ban outlived its timeout"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        println!("kernel lifted the 2 s bans after {:?}", start.elapsed());
        assert!(start.elapsed() >= Duration::from_millis(1000));
        assert_eq!(timeout_of("banjo-sshd-4", "192.0.2.8"), Some(0));
    });
}

#[test]
fn list_round_trips() {
    in_netns("list_round_trips", || {
        let mut fw = IptablesFirewall::new().unwrap();
        fw.setup(&sshd()).unwrap();
        assert!(fw.list("sshd").unwrap().is_empty());
        let mut want = vec![
            a("192.0.2.1"),
            a("203.0.113.250"),
            a("2001:db8:1:2::/64"),
            a("2001:db8:ffff::/48"),
            a("2001:db8::1"),
        ];
        let entries: Vec<BanEntry> = want
            .iter()
            .enumerate()
            .map(|(i, &addr)| BanEntry {
                addr,
                timeout_secs: if i % 2 == 0 { None } else { Some(600) },
            })
            .collect();
        fw.ban("sshd", &entries).unwrap();
        want.sort();
        assert_eq!(fw.list("sshd").unwrap(), want);
        assert!(fw.list("never-set-up").unwrap().is_empty());
    });
}

#[test]
fn hundred_thousand_bans_in_one_batch() {
    in_netns("hundred_thousand_bans_in_one_batch", || {
        const N: u32 = 100_000;
        let mut fw = IptablesFirewall::new().unwrap();
        fw.setup(&sshd()).unwrap();
        // 198.18.0.0/15, the benchmarking range: TEST-NET has only 768 addresses.
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0));
        let v4: Vec<Addr> = (0..N)
            .map(|i| Addr::single(Ipv4Addr::from(base + i).into()))
            .collect();
        let v6: Vec<Addr> = (0..N)
            .map(|i| {
                let ip = Ipv6Addr::new(0x2001, 0xdb8, (i >> 16) as u16, i as u16, 0, 0, 0, 0);
                Addr::new(ip.into(), 64)
            })
            .collect();
        for (fam, addrs) in [("IPv4", &v4), ("IPv6 /64", &v6)] {
            let entries: Vec<BanEntry> = addrs
                .iter()
                .map(|&addr| BanEntry {
                    addr,
                    timeout_secs: Some(3600),
                })
                .collect();
            let t = Instant::now();
            fw.ban("sshd", &entries).unwrap();
            println!("ban of {N} {fam} addresses in one batch: {:?}", t.elapsed());
        }
        for set in ["banjo-sshd-4", "banjo-sshd-6"] {
            let head = sh("ipset", &["list", "-t", set]);
            assert!(head.contains(&format!("Number of entries: {N}")), "{head}");
        }
        let t = Instant::now();
        let listed = fw.list("sshd").unwrap();
        println!("list of {} bans: {:?}", listed.len(), t.elapsed());
        let mut want: Vec<Addr> = v4.iter().chain(&v6).copied().collect();
        want.sort();
        assert_eq!(listed, want);
        for (fam, addrs) in [("IPv4", &v4), ("IPv6 /64", &v6)] {
            let t = Instant::now();
            fw.unban("sshd", addrs).unwrap();
            println!(
                "unban of {N} {fam} addresses in one batch: {:?}",
                t.elapsed()
            );
        }
        assert!(fw.list("sshd").unwrap().is_empty());
        let t = Instant::now();
        fw.teardown("sshd").unwrap();
        println!("teardown: {:?}", t.elapsed());
    });
}

#[test]
fn detect_prefers_the_flavour_holding_rules() {
    in_netns("detect_prefers_the_flavour_holding_rules", || {
        assert_eq!(Flavour::detect().unwrap(), Flavour::Nft, "fresh namespace");
        // A host whose firewall (Docker, say) still lives in legacy tables.
        sh(
            "iptables-legacy",
            &["-w", "-A", "INPUT", "-s", "192.0.2.99", "-j", "ACCEPT"],
        );
        assert_eq!(Flavour::detect().unwrap(), Flavour::Legacy);
        for src in ["192.0.2.98", "192.0.2.97"] {
            sh("iptables-nft", &["-A", "INPUT", "-s", src, "-j", "ACCEPT"]);
        }
        assert_eq!(Flavour::detect().unwrap(), Flavour::Nft);
    });
}

#[test]
fn background_bans_keep_their_order_and_report_failures_per_jail() {
    in_netns(
        "background_bans_keep_their_order_and_report_failures_per_jail",
        || {
            let mut fw = IptablesFirewall::new().unwrap();
            fw.setup(&sshd()).unwrap();
            // Two batches in the background, then an unban of the first batch's
            // address: the unban waits for them, so the address ends up unbanned.
            let first: Vec<BanEntry> = (1..=200)
                .map(|i| ban(&format!("198.51.100.{i}"), Some(3600)))
                .chain([ban("2001:db8:7:7::/64", Some(600))])
                .collect();
            fw.ban_start("sshd", &first).unwrap();
            fw.ban_start("sshd", &[ban("203.0.113.9", None)]).unwrap();
            fw.unban("sshd", &[a("198.51.100.1")]).unwrap();
            assert!(fw.settle().is_empty());
            let held = fw.list("sshd").unwrap();
            assert_eq!(held.len(), 201, "{held:?}");
            assert!(!held.contains(&a("198.51.100.1")));
            assert!(held.contains(&a("2001:db8:7:7::/64")));
            assert_eq!(timeout_of("banjo-sshd-4", "203.0.113.9"), Some(0));
            assert!((3590..=3600).contains(&timeout_of("banjo-sshd-4", "198.51.100.2").unwrap()));

            // A background run that fails is reported by settle, with its jail and
            // step; the jail's own bans are untouched.
            fw.ban_start("nope", &[ban("192.0.2.1", None)]).unwrap();
            let failed = fw.settle();
            assert_eq!(failed.len(), 1, "{failed:?}");
            assert_eq!(failed[0].0, "nope");
            assert!(
                failed[0]
                    .1
                    .reason
                    .contains("banning 1 address(es) in ipset banjo-nope-4"),
                "{:?}",
                failed[0].1
            );
            assert!(fw.settle().is_empty(), "each failure is reported once");
            assert_eq!(fw.list("sshd").unwrap().len(), 201);
        },
    );
}

/// An older banjo's layout (before the ledger and the markers): an IPv4 `hash:ip` set
/// with bans in it, unmarked rules and hook.
fn older_banjo(fw: &IptablesFirewall) {
    sh(
        "ipset",
        &[
            "create",
            "banjo-sshd-4",
            "hash:ip",
            "family",
            "inet",
            "timeout",
            "0",
            "maxelem",
            "1048576",
        ],
    );
    sh(
        "ipset",
        &[
            "create",
            "banjo-sshd-6",
            "hash:net",
            "family",
            "inet6",
            "timeout",
            "0",
            "maxelem",
            "1048576",
        ],
    );
    sh(
        "ipset",
        &["add", "banjo-sshd-4", "192.0.2.7", "timeout", "600"],
    );
    sh(
        "ipset",
        &["add", "banjo-sshd-4", "192.0.2.8", "timeout", "0"],
    );
    sh(
        "ipset",
        &["add", "banjo-sshd-6", "2001:db8:1:2::/64", "timeout", "600"],
    );
    for (fam, set) in [(Family::V4, "banjo-sshd-4"), (Family::V6, "banjo-sshd-6")] {
        ipt(fw, fam, &["-w", "-N", "banjo-sshd"]);
        ipt(
            fw,
            fam,
            &[
                "-w",
                "-A",
                "banjo-sshd",
                "-p",
                "tcp",
                "-m",
                "set",
                "--match-set",
                set,
                "src",
                "-j",
                "REJECT",
                "--reject-with",
                "tcp-reset",
            ],
        );
        ipt(fw, fam, &["-w", "-A", "banjo-sshd", "-j", "RETURN"]);
        ipt(
            fw,
            fam,
            &[
                "-w",
                "-I",
                "INPUT",
                "-p",
                "tcp",
                "-m",
                "multiport",
                "--dports",
                "22,2222",
                "-j",
                "banjo-sshd",
            ],
        );
    }
}

both_flavours! {
    foreign_objects_under_banjos_names_are_refused_and_left(fw) {
        // Another program's set under the jail's set name, an admin's chain under
        // another jail's chain name, with a rule and a jump to it.
        sh("ipset", &["create", "banjo-sshd-4", "hash:ip,port"]);
        sh("ipset", &["add", "banjo-sshd-4", "192.0.2.50,tcp:80"]);
        ipt(fw, Family::V4, &["-w", "-N", "banjo-web"]);
        ipt(fw, Family::V4, &["-w", "-A", "banjo-web", "-s", "192.0.2.52", "-j", "ACCEPT"]);
        ipt(fw, Family::V4, &["-w", "-I", "INPUT", "-p", "tcp", "--dport", "80", "-j", "banjo-web"]);
        let before = snapshot(fw);
        let err = fw.setup(&sshd()).unwrap_err();
        let FirewallError::Foreign { objects, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(objects.len(), 1, "{err}");
        assert!(objects[0].starts_with("ipset banjo-sshd-4 exists with type hash:ip,port"), "{err}");
        assert!(objects[0].contains("ipset destroy banjo-sshd-4"), "{err}");
        assert_eq!(snapshot(fw), before, "a refused setup changed the kernel");
        let web = jail("web", "INPUT", ports(&[80]), Protocol::Tcp, BlockType::Drop);
        let err = fw.setup(&web).unwrap_err().to_string();
        assert!(err.contains("chain banjo-web holds a rule banjo did not write (-A banjo-web -s 192.0.2.52/32 -j ACCEPT)"), "{err}");
        assert_eq!(snapshot(fw), before);
        // Neither a teardown nor a flush removes them; each says what it left.
        let left = fw.teardown("sshd").unwrap();
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0].object, "ipset banjo-sshd-4");
        assert!(fw.jails_present().unwrap().is_empty());
        let flushed = fw.flush_all().unwrap();
        assert!(flushed.removed.is_empty(), "{flushed:?}");
        let objects: Vec<&str> = flushed.left.iter().map(|l| l.object.as_str()).collect();
        assert_eq!(objects, ["ipset banjo-sshd-4", "chain banjo-web"], "{flushed:?}");
        assert_eq!(snapshot(fw), before);
        // Once something is on record, a set exactly as banjo makes it but not on
        // record is not banjo's either.
        sh("ipset", &["destroy", "banjo-sshd-4"]);
        sh("ipset", &["create", "banjo-sshd-4", "hash:net", "family", "inet", "timeout", "0", "maxelem", "1048576"]);
        fw.set_ledger(Box::new(MemoryLedger::of([Object::Ipset("banjo-other-4".into())], false)));
        let err = fw.setup(&sshd()).unwrap_err().to_string();
        assert!(err.contains("ipset banjo-sshd-4 exists and banjo did not make it"), "{err}");
        // On record, it is.
        fw.set_ledger(Box::new(MemoryLedger::of([Object::Ipset("banjo-sshd-4".into())], false)));
        fw.setup(&sshd()).unwrap();
        fw.teardown("sshd").unwrap();
    }

    an_older_banjos_ipv4_set_is_upgraded_with_its_bans(fw) {
        older_banjo(fw);
        let t7 = timeout_of("banjo-sshd-4", "192.0.2.7").unwrap();
        fw.setup(&sshd()).unwrap();
        let h4 = sh("ipset", &["list", "-t", "banjo-sshd-4"]);
        assert!(h4.contains("Type: hash:net"), "{h4}");
        assert_eq!(fw.list("sshd").unwrap(), [a("192.0.2.7"), a("192.0.2.8"), a("2001:db8:1:2::/64")]);
        let t = timeout_of("banjo-sshd-4", "192.0.2.7").unwrap();
        assert!(t <= t7 && t + 5 >= t7, "timeout {t7} became {t}");
        assert_eq!(timeout_of("banjo-sshd-4", "192.0.2.8"), Some(0), "permanent stays permanent");
        assert_eq!(sets(), ["banjo-sshd-4", "banjo-sshd-6"], "the upgrade's set is gone");
        for fam in Family::BOTH {
            let want: Vec<String> = banjo::ban::iptables::chain_body(&sshd(), fam)
                .iter()
                .map(|r| format!("-A banjo-sshd {r}"))
                .collect();
            assert_eq!(rules_of(fw, fam, "banjo-sshd"), want, "{fam}");
            assert_eq!(
                rules_of(fw, fam, "INPUT"),
                [format!("-A INPUT {}", banjo::ban::iptables::hook_rule(&sshd()))],
                "{fam}: the older hook is replaced by a marked one"
            );
        }
        // And it holds networks now.
        assert!(fw.ban("sshd", &[ban("198.51.100.0/24", Some(60))]).unwrap().is_empty());
        assert!(fw.list("sshd").unwrap().contains(&a("198.51.100.0/24")));
        // Without trust in looks (something is on record), the same layout is foreign.
        fw.teardown("sshd").unwrap();
        older_banjo(fw);
        fw.set_ledger(Box::new(MemoryLedger::of([Object::Ipset("banjo-web-4".into())], false)));
        let err = fw.setup(&sshd()).unwrap_err().to_string();
        assert!(err.contains("banjo did not make it"), "{err}");
    }

    networks_block_real_traffic(fw) {
        let peer = Peer::linked();
        let v4 = SocketAddr::from((Ipv4Addr::new(198, 51, 100, 1), 2222));
        let v6 = SocketAddr::from(("2001:db8:7::1".parse::<Ipv6Addr>().unwrap(), 2222));
        let _listeners: Vec<TcpListener> = [v4, v6].iter().map(|s| TcpListener::bind(s).unwrap()).collect();
        fw.setup(&jail("app", "INPUT", ports(&[2222]), Protocol::Tcp, BlockType::Reject)).unwrap();
        for to in [v4, v6] {
            peer.connect_eventually(to);
        }
        let nets = [ban("198.51.100.0/25", Some(600)), ban("2001:db8:7::/48", Some(600))];
        assert!(fw.ban("app", &nets).unwrap().is_empty());
        for to in [v4, v6] {
            let err = peer.connect(to, 3).expect_err("a peer in a banned network got through");
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{to}: {err}");
        }
        assert!(fw.holds("app", &a("198.51.100.2")).unwrap(), "the /25 matches its hosts");
        assert!(!fw.holds("app", &a("198.51.100.200")).unwrap());
        fw.unban("app", &[a("198.51.100.0/25"), a("2001:db8:7::/48")]).unwrap();
        for to in [v4, v6] {
            peer.connect(to, 3).expect("unbanned network is let in again");
        }
    }
}

/// ipset applies a restore script line by line and stops at the first it refuses:
/// the elements after it were once reported banned and never enforced. Here two
/// elements in the middle are refused (out of a set's range), the rest get in; a full
/// set refuses what does not fit, and only that.
#[test]
fn one_refused_element_costs_no_other() {
    in_netns("one_refused_element_costs_no_other", || {
        let mut fw = IptablesFirewall::new().unwrap();
        // Jail "range" is not set up: its batches go to whatever set has its name.
        sh(
            "ipset",
            &[
                "create",
                "banjo-range-4",
                "bitmap:ip",
                "range",
                "192.0.2.0/24",
                "timeout",
                "0",
            ],
        );
        let entries = [
            ban("192.0.2.1", Some(600)),
            ban("198.51.100.7", Some(600)),
            ban("192.0.2.2", Some(600)),
            ban("0.0.0.0", Some(600)),
            ban("198.51.100.8", None),
            ban("192.0.2.3", None),
        ];
        let refused = fw.ban("range", &entries).unwrap();
        let mut bad: Vec<String> = refused.iter().map(|r| r.entry.addr.to_string()).collect();
        bad.sort();
        assert_eq!(
            bad,
            ["0.0.0.0", "198.51.100.7", "198.51.100.8"],
            "{refused:?}"
        );
        assert!(
            refused
                .iter()
                .any(|r| r.reason.contains("out of the range")),
            "{refused:?}"
        );
        assert_eq!(
            fw.list("range").unwrap(),
            [a("192.0.2.1"), a("192.0.2.2"), a("192.0.2.3")]
        );
        // The same in the background.
        sh("ipset", &["flush", "banjo-range-4"]);
        fw.ban_start("range", &entries).unwrap();
        let refused = fw.settle();
        assert_eq!(refused.len(), 3, "{refused:?}");
        assert!(refused.iter().all(|(j, _)| j == "range"));
        assert_eq!(fw.list("range").unwrap().len(), 3);
        // A full set: what fits is in, the rest refused at once.
        sh(
            "ipset",
            &[
                "create",
                "banjo-full-4",
                "hash:net",
                "family",
                "inet",
                "timeout",
                "0",
                "maxelem",
                "2",
            ],
        );
        let many: Vec<BanEntry> = (1..=5)
            .map(|i| ban(&format!("203.0.113.{i}"), None))
            .collect();
        let refused = fw.ban("full", &many).unwrap();
        assert_eq!(refused.len(), 3, "{refused:?}");
        assert!(
            refused.iter().all(|r| r.reason.contains("full")),
            "{refused:?}"
        );
        assert_eq!(
            fw.list("full").unwrap(),
            [a("203.0.113.1"), a("203.0.113.2")]
        );
    });
}

/// What ipset does not announce, a glance sees without starting a process: each
/// jail's sets, whether a rule still matches them, how many elements they hold. And
/// a check names what a flush took, which setup puts back.
#[test]
fn glance_and_check_see_drift() {
    in_netns("glance_and_check_see_drift", || {
        let mut fw = IptablesFirewall::with_flavour(Flavour::Nft);
        assert!(fw.glance().is_none(), "nothing set up, nothing to look at");
        fw.setup(&sshd()).unwrap();
        fw.ban(
            "sshd",
            &[
                ban("192.0.2.7", None),
                ban("198.51.100.0/24", None),
                ban("2001:db8::/64", None),
            ],
        )
        .unwrap();
        let g = fw.glance().unwrap();
        assert!(g.problems.is_empty(), "{g:?}");
        let mut counts = g.counts.clone();
        counts.sort();
        assert_eq!(
            counts,
            [
                ("sshd".to_string(), Family::V4, 2),
                ("sshd".to_string(), Family::V6, 1)
            ]
        );
        assert!(fw.check(&sshd()).unwrap().is_empty());
        sh("ipset", &["flush", "banjo-sshd-4"]);
        let g = fw.glance().unwrap();
        assert!(
            g.counts.contains(&("sshd".to_string(), Family::V4, 0)),
            "{g:?}"
        );
        sh("iptables", &["-F"]);
        let g = fw.glance().unwrap();
        assert_eq!(
            g.problems,
            [(
                "sshd".to_string(),
                "no rule matches ipset banjo-sshd-4".to_string()
            )]
        );
        let problems = fw.check(&sshd()).unwrap();
        assert_eq!(
            problems,
            [
                "rules of chain banjo-sshd (IPv4) changed",
                "hook in INPUT (IPv4) missing"
            ],
            "{problems:?}"
        );
        fw.setup(&sshd()).unwrap();
        assert!(fw.check(&sshd()).unwrap().is_empty());
        assert!(fw.glance().unwrap().problems.is_empty());
        assert_eq!(
            fw.watched_tables(),
            [
                (banjo::ban::netlink::NFPROTO_IPV4, "filter"),
                (banjo::ban::netlink::NFPROTO_IPV6, "filter")
            ]
        );
        // Legacy tables announce nothing: a glance sees that they changed.
        let mut legacy = IptablesFirewall::with_flavour(Flavour::Legacy);
        legacy
            .setup(&jail(
                "web",
                "INPUT",
                ports(&[80]),
                Protocol::Tcp,
                BlockType::Drop,
            ))
            .unwrap();
        assert!(legacy.glance().unwrap().problems.is_empty());
        sh("iptables-legacy", &["-F", "INPUT"]);
        let g = legacy.glance().unwrap();
        assert!(
            g.problems
                .iter()
                .any(|(_, p)| p == "filter table (IPv4) changed"),
            "{g:?}"
        );
        assert!(!legacy
            .check(&jail(
                "web",
                "INPUT",
                ports(&[80]),
                Protocol::Tcp,
                BlockType::Drop
            ))
            .unwrap()
            .is_empty());
    });
}
