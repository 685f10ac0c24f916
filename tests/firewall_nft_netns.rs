//! The nftables backend against the real kernel, the twin of tests/firewall_netns.rs.
//!
//! Every test runs in a network namespace of its own, which starts with an empty
//! ruleset and vanishes with the process: the test re-executes this binary under
//! `unshare --net` for just itself (BANJO_IN_NETNS set), and the copy inside refuses to
//! run unless its namespace differs from the one it was started from. The host's
//! firewall is never touched. Needs root, nft and iproute2; without root the tests say
//! they are skipped.

mod common;

use banjo::addr::Addr;
use banjo::ban::{BanEntry, Firewall, FirewallError, MemoryLedger, NftFirewall, Object};
use banjo::banrules::{BlockType, Ports, Protocol};
use common::fw::*;
use serde_json::Value;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// [`common::fw::in_netns`] with a fresh nftables backend for `body`.
fn in_netns(test: &str, body: impl FnOnce(&mut NftFirewall)) {
    common::fw::in_netns(test, "nft", || {
        body(&mut NftFirewall::new().expect("nft works"))
    })
}

/// One `#[test]` per body, each in its own namespace.
macro_rules! netns_tests {
    ($($name:ident($fw:ident) $body:block)*) => {$(
        #[test]
        fn $name() {
            in_netns(stringify!($name), |$fw: &mut NftFirewall| $body);
        }
    )*};
}

/// Run an nft script (as a human would type it) in one transaction.
fn nft_script(script: &str) {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "nft -f - of:\n{script}");
}

/// The whole ruleset as `nft list ruleset` prints it.
fn ruleset() -> String {
    sh("nft", &["list", "ruleset"])
}

/// The ruleset of a host with a firewall of its own: an ordinary `inet filter` table
/// (accepting ssh), fail2ban's leftovers, and iptables-nft rules.
fn foreign_firewall() {
    nft_script(
        "table inet filter {\n\
           chain input { type filter hook input priority filter; policy accept;\n\
             tcp dport 22 accept\n\
           }\n\
         }\n\
         table ip f2b-table {\n\
           set addr-set-sshd { type ipv4_addr; elements = { 192.0.2.200 } }\n\
         }\n",
    );
    sh(
        "iptables-nft",
        &["-w", "-A", "INPUT", "-s", "192.0.2.201", "-j", "ACCEPT"],
    );
}

fn assert_no_probe_left() {
    let r = ruleset();
    assert!(!r.contains("banjo-probe"), "probe set left:\n{r}");
}

fn assert_no_banjo() {
    let r = ruleset();
    assert!(!r.contains("banjo"), "banjo objects left:\n{r}");
}

/// The chain as `nft list chain` prints it: its hook line and rules, trimmed.
fn chain_lines(chain: &str) -> Vec<String> {
    sh("nft", &["list", "chain", "inet", "banjo", chain])
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("table") && !l.starts_with("chain"))
        .filter(|l| *l != "}")
        .map(str::to_owned)
        .collect()
}

/// The members of a set of table banjo: (element, timeout s, expires s).
fn members(set: &str) -> Vec<(String, Option<u64>, Option<u64>)> {
    let out = Command::new("nft")
        .args(["-j", "list", "set", "inet", "banjo", set])
        .output()
        .unwrap();
    if !out.status.success() {
        return Vec::new();
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut got = Vec::new();
    for item in v["nftables"].as_array().unwrap() {
        let Some(elems) = item["set"]["elem"].as_array() else {
            continue;
        };
        for e in elems {
            match e {
                Value::String(s) => got.push((s.clone(), None, None)),
                _ => got.push((
                    e["elem"]["val"].as_str().unwrap().to_owned(),
                    e["elem"]["timeout"].as_u64(),
                    e["elem"]["expires"].as_u64(),
                )),
            }
        }
    }
    got
}

/// Seconds until `member` of `set` expires: None if not a member, Some(None) if
/// permanent.
fn expires(set: &str, member: &str) -> Option<Option<u64>> {
    members(set)
        .into_iter()
        .find(|m| m.0 == member)
        .map(|m| m.1.and(m.2.or(Some(0))))
}

netns_tests! {
    setup_creates_table_chain_and_sets(fw) {
        fw.setup(&sshd()).unwrap();
        assert_eq!(
            chain_lines("banjo-sshd"),
            [
                "type filter hook input priority filter - 10; policy accept;",
                "tcp dport { 22, 2222 } ip saddr @banjo-sshd-4 reject with tcp reset",
                "tcp dport { 22, 2222 } ip6 saddr @banjo-sshd-6 reject with tcp reset",
            ]
        );
        let v: Value = serde_json::from_str(&sh("nft", &["-j", "list", "sets", "table", "inet", "banjo"])).unwrap();
        let sets: Vec<(String, String, Vec<Value>)> = v["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i.get("set").is_some())
            .map(|i| {
                let s = &i["set"];
                (
                    s["name"].as_str().unwrap().to_owned(),
                    s["type"].as_str().unwrap().to_owned(),
                    s["flags"].as_array().unwrap().clone(),
                )
            })
            .collect();
        assert_eq!(
            sets,
            [
                ("banjo-sshd-4".into(), "ipv4_addr".into(), vec![Value::from("timeout")]),
                ("banjo-sshd-6".into(), "ipv6_addr".into(), vec![Value::from("timeout")]),
            ]
        );
        assert_eq!(fw.jails_present().unwrap(), ["sshd"]);
        assert_eq!(fw.name(), "nftables");
    }

    setup_is_idempotent_and_leaves_other_tables_alone(fw) {
        foreign_firewall();
        fw.setup(&sshd()).unwrap();
        fw.ban("sshd", &[ban("192.0.2.7", None), ban("2001:db8:1:2::/64", None)]).unwrap();
        let before = ruleset();
        fw.setup(&sshd()).unwrap();
        fw.setup(&sshd()).unwrap();
        assert_eq!(ruleset(), before);
        assert_eq!(
            fw.list("sshd").unwrap(),
            [a("192.0.2.7"), a("2001:db8:1:2::/64")],
            "setup must keep bans"
        );
        // A second firewall (banjo restarted) adopts the prefix set with its rule.
        let mut again = NftFirewall::new().unwrap();
        again.setup(&sshd()).unwrap();
        assert_eq!(ruleset(), before);
    }

    setup_replaces_stale_configuration(fw) {
        let mut r = jail("sshd", "INPUT", ports(&[22]), Protocol::Tcp, BlockType::Reject);
        fw.setup(&r).unwrap();
        fw.ban("sshd", &[ban("192.0.2.7", None), ban("2001:db8:1:2::/64", None)]).unwrap();
        r.ports = ports(&[2222]);
        r.blocktype = BlockType::Drop;
        fw.setup(&r).unwrap();
        assert_eq!(
            chain_lines("banjo-sshd"),
            [
                "type filter hook input priority filter - 10; policy accept;",
                "tcp dport 2222 ip saddr @banjo-sshd-4 drop",
                "tcp dport 2222 ip6 saddr @banjo-sshd-6 drop",
                "tcp dport 2222 ip6 saddr & ffff:ffff:ffff:ffff:: == @banjo-sshd-6-64 drop",
            ]
        );
        r.chain = "FORWARD".into();
        fw.setup(&r).unwrap();
        let lines = chain_lines("banjo-sshd");
        assert_eq!(lines[0], "type filter hook forward priority filter - 10; policy accept;");
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(
            fw.list("sshd").unwrap(),
            [a("192.0.2.7"), a("2001:db8:1:2::/64")],
            "reconfiguring must keep bans"
        );
    }

    hook_variants(fw) {
        let cases = [
            (
                jail("v", "INPUT", Ports::List(vec![(8000, 8100), (22, 22)]), Protocol::Tcp, BlockType::Reject),
                "input",
                "tcp dport { 22, 8000-8100 } ip saddr @banjo-v-4 reject with tcp reset",
            ),
            (
                jail("v", "INPUT", Ports::All, Protocol::Tcp, BlockType::Reject),
                "input",
                "meta l4proto tcp ip saddr @banjo-v-4 reject with tcp reset",
            ),
            (
                jail("v", "INPUT", ports(&[53]), Protocol::Udp, BlockType::Reject),
                "input",
                // icmpx port-unreachable is reject's default, which nft leaves out.
                "udp dport 53 ip saddr @banjo-v-4 reject",
            ),
            (
                jail("v", "INPUT", Ports::All, Protocol::All, BlockType::Reject),
                "input",
                "ip saddr @banjo-v-4 reject",
            ),
            (
                jail("v", "FORWARD", ports(&[80, 443]), Protocol::Tcp, BlockType::Drop),
                "forward",
                "tcp dport { 80, 443 } ip saddr @banjo-v-4 drop",
            ),
            (
                jail("v", "DOCKER-USER", ports(&[80, 443]), Protocol::Tcp, BlockType::Reject),
                "forward",
                "tcp dport { 80, 443 } ip saddr @banjo-v-4 reject with tcp reset",
            ),
        ];
        for (rules, hook, v4_rule) in cases {
            fw.setup(&rules).unwrap();
            let lines = chain_lines("banjo-v");
            assert_eq!(
                lines[0],
                format!("type filter hook {hook} priority filter - 10; policy accept;"),
                "{rules:?}"
            );
            assert_eq!(lines[1], v4_rule, "{rules:?}");
            assert_eq!(lines[2], v4_rule.replace("ip saddr @banjo-v-4", "ip6 saddr @banjo-v-6"));
            fw.teardown("v").unwrap();
            assert_no_banjo();
        }
        // A chain nftables has no hook for is refused before anything is made.
        let err = fw
            .setup(&jail("v", "OUTPUT", Ports::All, Protocol::All, BlockType::Drop))
            .unwrap_err();
        assert!(matches!(err, FirewallError::BadRules { .. }), "{err}");
        assert_no_banjo();
    }

    failing_step_leaves_nothing_behind(fw) {
        foreign_firewall();
        // Someone made a set under one of our names, with the wrong type: the step
        // creating it fails, and the transaction takes everything else back with it,
        // the table included.
        nft_script("add table inet banjo\nadd set inet banjo banjo-web-6 { type ipv4_addr; }");
        let before = ruleset();
        let web = jail("web", "INPUT", ports(&[80, 443]), Protocol::Tcp, BlockType::Reject);
        let err = fw.setup(&web).unwrap_err().to_string();
        println!("error: {err}");
        assert!(err.contains("creating nft set banjo-web-6"), "{err}");
        assert!(err.contains("exists with type ipv4_addr"), "{err}");
        assert_eq!(ruleset(), before);
        nft_script("delete table inet banjo");

        // A failure inside the kernel, late in the transaction: a chain of the jail's
        // name that some other chain jumps to cannot be replaced by the base chain.
        // The sets and the table made before that line go too. (The table holds only
        // banjo-named objects, so it passes for an older banjo's; one with other
        // objects is not banjo's at all: a_table_banjo_did_not_make_is_refused_and_left.)
        nft_script(
            "add table inet banjo\n\
             add chain inet banjo banjo-web\n\
             add chain inet banjo banjo-other\n\
             add rule inet banjo banjo-other jump banjo-web\n",
        );
        let before = ruleset();
        let err = fw.setup(&web).unwrap_err().to_string();
        println!("error: {err}");
        assert!(err.contains("removing chain banjo-web from hook (none)"), "{err}");
        assert!(err.contains("nft failed"), "{err}");
        assert_eq!(ruleset(), before);
        nft_script("delete table inet banjo");

        let before = ruleset();
        assert!(fw.setup(&web).is_ok());
        fw.teardown("web").unwrap();
        assert_eq!(ruleset(), before, "a clean table is made and removed again");
    }

    failed_reconfigure_keeps_previous_setup(fw) {
        fw.setup(&sshd()).unwrap();
        fw.ban("sshd", &[ban("192.0.2.7", None), ban("2001:db8:1:2::/64", None)]).unwrap();
        // A set under a name the jail would use, of the wrong type.
        nft_script("add set inet banjo banjo-sshd-6-48 { type ipv4_addr; }");
        let before = ruleset();
        let moved = jail("sshd", "FORWARD", ports(&[2222]), Protocol::Tcp, BlockType::Drop);
        let err = fw.setup(&moved).unwrap_err().to_string();
        assert!(err.contains("creating nft set banjo-sshd-6-48"), "{err}");
        assert_eq!(ruleset(), before);
        assert_eq!(fw.list("sshd").unwrap().len(), 2);
    }

    teardown_leaves_nothing(fw) {
        foreign_firewall();
        let before = ruleset();
        fw.setup(&sshd()).unwrap();
        fw.setup(&jail("web", "FORWARD", ports(&[80]), Protocol::Tcp, BlockType::Drop)).unwrap();
        fw.ban("sshd", &[ban("192.0.2.7", Some(600)), ban("2001:db8:1:2::/64", None)]).unwrap();
        fw.teardown("sshd").unwrap();
        let r = ruleset();
        assert!(!r.contains("banjo-sshd") && r.contains("banjo-web"), "{r}");
        fw.teardown("web").unwrap();
        assert_eq!(ruleset(), before, "the last jail takes the table with it");
        fw.teardown("sshd").unwrap();
        assert!(fw.list("sshd").unwrap().is_empty());
        assert!(fw.jails_present().unwrap().is_empty());
    }

    flush_all_removes_only_banjo_objects(fw) {
        foreign_firewall();
        let foreign = ruleset();
        fw.setup(&sshd()).unwrap();
        fw.setup(&jail("web", "FORWARD", ports(&[80]), Protocol::Tcp, BlockType::Drop)).unwrap();
        fw.ban("web", &[ban("192.0.2.8", None), ban("2001:db8:9::/48", None)]).unwrap();
        // A half-made jail (a set without chain) is found and flushed too.
        nft_script("add set inet banjo banjo-orphan-4 { type ipv4_addr; }");
        assert_eq!(fw.jails_present().unwrap(), ["orphan", "sshd", "web"]);
        let flushed = fw.flush_all().unwrap();
        assert_eq!(flushed.removed, ["orphan", "sshd", "web"]);
        assert!(flushed.left.is_empty(), "{flushed:?}");
        assert_no_banjo();
        assert_eq!(ruleset(), foreign);
        assert!(fw.jails_present().unwrap().is_empty());
        assert_eq!(fw.flush_all().unwrap(), Default::default(), "nothing left is fine");
    }

    wake_rule_logs_new_connections_to_the_jails_ports(fw) {
        wake_rule_contract(fw);
    }

    bans_block_real_traffic(fw) {
        // Also with an ordinary `inet filter` table that accepts these ports: its
        // accept is not final, banjo's reject and drop are.
        nft_script(
            "add table inet filter\n\
             add chain inet filter input { type filter hook input priority filter; policy accept; }\n\
             add rule inet filter input tcp dport { 2222, 2223, 2224 } accept\n",
        );
        let peer = Peer::linked();
        let v4 = SocketAddr::from((Ipv4Addr::new(198, 51, 100, 1), 2222));
        let v6 = SocketAddr::from(("2001:db8:7::1".parse::<Ipv6Addr>().unwrap(), 2222));
        let other = SocketAddr::from((Ipv4Addr::new(198, 51, 100, 1), 2223));
        let dropped4 = SocketAddr::from((Ipv4Addr::new(198, 51, 100, 1), 2224));
        let dropped6 = SocketAddr::from(("2001:db8:7::1".parse::<Ipv6Addr>().unwrap(), 2224));
        let _listeners: Vec<TcpListener> = [v4, v6, other, dropped4, dropped6]
            .iter()
            .map(|s| TcpListener::bind(s).unwrap())
            .collect();
        fw.setup(&jail("app", "INPUT", ports(&[2222]), Protocol::Tcp, BlockType::Reject)).unwrap();
        fw.setup(&jail("quiet", "INPUT", ports(&[2224]), Protocol::Tcp, BlockType::Drop)).unwrap();

        for to in [v4, v6, other, dropped4, dropped6] {
            peer.connect_eventually(to);
        }
        fw.ban("app", &[ban("198.51.100.2", Some(600)), ban("2001:db8:7::/64", Some(600))]).unwrap();
        fw.ban("quiet", &[ban("198.51.100.2", Some(600)), ban("2001:db8:7::2", Some(600))]).unwrap();
        for to in [v4, v6] {
            let err = peer.connect(to, 3).expect_err("banned peer got through");
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{to}: {err} (REJECT: a tcp reset)");
        }
        for to in [dropped4, dropped6] {
            let err = peer.connect(to, 1).expect_err("banned peer got through");
            assert_eq!(err.kind(), ErrorKind::TimedOut, "{to}: {err} (DROP: no answer)");
        }
        peer.connect(other, 3).expect("a port outside the jails stays open");
        fw.unban("app", &[a("198.51.100.2"), a("2001:db8:7::/64")]).unwrap();
        fw.unban("quiet", &[a("198.51.100.2"), a("2001:db8:7::2")]).unwrap();
        for to in [v4, v6, dropped4, dropped6] {
            peer.connect(to, 3).expect("unbanned peer is let in again");
        }
    }

    ban_and_unban_with_timeouts(fw) {
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
        let t = expires("banjo-sshd-4", "192.0.2.7").unwrap().unwrap();
        assert!((3590..=3600).contains(&t), "{t}");
        assert_eq!(expires("banjo-sshd-4", "192.0.2.8"), Some(None), "permanent");
        let t = expires("banjo-sshd-6-64", "2001:db8:1:2::").unwrap().unwrap();
        assert!((590..=600).contains(&t), "{t}");
        // A remaining time of 0 s must not become permanent.
        assert!(expires("banjo-sshd-6", "2001:db8:1:2:3:4:5:6").is_none_or(|t| t.is_some_and(|t| t <= 1)));

        // Re-banning resets the timeout, down as well as up.
        fw.ban("sshd", &[ban("192.0.2.7", Some(60))]).unwrap();
        assert!(expires("banjo-sshd-4", "192.0.2.7").unwrap().unwrap() <= 60);
        fw.ban("sshd", &[ban("192.0.2.7", Some(7200))]).unwrap();
        assert!(expires("banjo-sshd-4", "192.0.2.7").unwrap().unwrap() > 7000);
        // The same address twice in one batch: the last one counts.
        fw.ban("sshd", &[ban("192.0.2.9", Some(60)), ban("192.0.2.9", Some(120))]).unwrap();
        assert!(expires("banjo-sshd-4", "192.0.2.9").unwrap().unwrap() > 60);

        fw.unban(
            "sshd",
            &[
                a("192.0.2.7"),
                a("192.0.2.9"),
                a("2001:db8:1:2::/64"),
                a("2001:db8:1:2:3:4:5:6"),
                a("192.0.2.99"),     // never banned: fine
                a("2001:db8:5::/48"), // a prefix length never banned: fine
            ],
        )
        .unwrap();
        assert_eq!(expires("banjo-sshd-4", "192.0.2.7"), None);
        assert_eq!(expires("banjo-sshd-6-64", "2001:db8:1:2::"), None);
        assert_eq!(fw.list("sshd").unwrap(), [a("192.0.2.8")]);

        // Refusals name the step; what no packet comes from is refused before
        // anything runs; IPv4 networks go to a set per prefix length, as IPv6 ones do.
        let refused = fw.ban("nope", &[ban("192.0.2.1", None)]).unwrap();
        assert_eq!(refused.len(), 1);
        assert!(refused[0].reason.contains("banning 1 address(es) in jail nope"), "{refused:?}");
        assert!(refused[0].reason.contains("No such file or directory"), "{refused:?}");
        let refused = fw.ban("sshd", &[ban("224.0.0.1", None), ban("198.51.100.0/24", None)]).unwrap();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].entry.addr, a("224.0.0.1"));
        assert_eq!(fw.list("sshd").unwrap(), [a("192.0.2.8"), a("198.51.100.0/24")]);
        assert_eq!(expires("banjo-sshd-4-24", "198.51.100.0"), Some(None));
    }

    rebans_reset_timeouts_either_way(fw) {
        fw.setup(&sshd()).unwrap();
        let probed = fw.timeout_updates();
        println!("this kernel updates element timeouts on add: {probed}");
        assert_no_probe_left();
        // Delete and add again (older kernels), and, where the kernel can, add alone.
        let ways: &[bool] = if probed { &[false, true] } else { &[false] };
        for &updates in ways {
            let mut fw = NftFirewall::new().unwrap().with_timeout_updates(updates);
            fw.setup(&sshd()).unwrap();
            let v6 = "2001:db8:3:4::";
            fw.ban("sshd", &[ban("192.0.2.7", Some(3600)), ban("192.0.2.8", Some(60)), ban("192.0.2.9", None), ban(&format!("{v6}/64"), Some(3600))]).unwrap();
            fw.ban("sshd", &[ban("192.0.2.7", Some(60)), ban("192.0.2.8", None), ban("192.0.2.9", Some(60)), ban(&format!("{v6}/64"), Some(7200))]).unwrap();
            assert!(expires("banjo-sshd-4", "192.0.2.7").unwrap().unwrap() <= 60, "shorter ({updates})");
            assert_eq!(expires("banjo-sshd-4", "192.0.2.8"), Some(None), "permanent ({updates})");
            assert!(expires("banjo-sshd-4", "192.0.2.9").unwrap().unwrap() <= 60, "no longer permanent ({updates})");
            assert!(expires("banjo-sshd-6-64", v6).unwrap().unwrap() > 3600, "longer ({updates})");
            fw.teardown("sshd").unwrap();
        }
        // The probe leaves a table it made behind neither.
        let mut fresh = NftFirewall::new().unwrap();
        fresh.timeout_updates();
        assert_no_banjo();
    }

    kernel_lifts_timed_out_ban_by_itself(fw) {
        fw.setup(&sshd()).unwrap();
        fw.ban(
            "sshd",
            &[ban("192.0.2.7", Some(2)), ban("2001:db8:1:2::/64", Some(2)), ban("192.0.2.8", None)],
        )
        .unwrap();
        // banjo is gone: only the kernel is left to lift the ban.
        drop(std::mem::replace(fw, NftFirewall::new().unwrap()));
        let start = Instant::now();
        assert!(expires("banjo-sshd-4", "192.0.2.7").is_some());
        while expires("banjo-sshd-4", "192.0.2.7").is_some()
            || expires("banjo-sshd-6-64", "2001:db8:1:2::").is_some()
        {
            assert!(start.elapsed() < Duration::from_secs(6), "ban outlived its timeout");
            std::thread::sleep(Duration::from_millis(100));
        }
        println!("kernel lifted the 2 s bans after {:?}", start.elapsed());
        assert!(start.elapsed() >= Duration::from_millis(1000));
        assert_eq!(expires("banjo-sshd-4", "192.0.2.8"), Some(None));
    }

    list_round_trips(fw) {
        fw.setup(&sshd()).unwrap();
        assert!(fw.list("sshd").unwrap().is_empty());
        let mut want = vec![
            a("192.0.2.1"),
            a("203.0.113.250"),
            a("2001:db8:1:2::/64"),
            // An address inside a banned /64, as ipset's hash:net holds it too.
            a("2001:db8:1:2::5"),
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
        // Another jail's bans are not this jail's.
        fw.setup(&jail("sshd-6", "INPUT", Ports::All, Protocol::All, BlockType::Drop)).unwrap();
        fw.ban("sshd-6", &[ban("192.0.2.77", None)]).unwrap();
        assert_eq!(fw.list("sshd").unwrap(), want);
        assert_eq!(fw.list("sshd-6").unwrap(), [a("192.0.2.77")]);
    }

    hundred_thousand_bans_in_one_batch(fw) {
        const N: u32 = 100_000;
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
                .map(|&addr| BanEntry { addr, timeout_secs: Some(3600) })
                .collect();
            let t = Instant::now();
            fw.ban("sshd", &entries).unwrap();
            println!("ban of {N} {fam} addresses in one batch: {:?}", t.elapsed());
            // Again: every one of them re-banned (timeouts reset).
            let t = Instant::now();
            fw.ban("sshd", &entries).unwrap();
            println!("re-ban of {N} {fam} addresses in one batch: {:?}", t.elapsed());
        }
        // The way older kernels need (delete, then add again), for comparison.
        let mut old_way = NftFirewall::new().unwrap().with_timeout_updates(false);
        old_way.setup(&sshd()).unwrap();
        let entries: Vec<BanEntry> = v4
            .iter()
            .map(|&addr| BanEntry { addr, timeout_secs: Some(3600) })
            .collect();
        let t = Instant::now();
        old_way.ban("sshd", &entries).unwrap();
        println!("re-ban of {N} IPv4 addresses, delete + add (older kernels): {:?}", t.elapsed());
        let t = Instant::now();
        let listed = fw.list("sshd").unwrap();
        println!("list of {} bans: {:?}", listed.len(), t.elapsed());
        let mut want: Vec<Addr> = v4.iter().chain(&v6).copied().collect();
        want.sort();
        assert_eq!(listed, want);
        for (fam, addrs) in [("IPv4", &v4), ("IPv6 /64", &v6)] {
            let t = Instant::now();
            fw.unban("sshd", addrs).unwrap();
            println!("unban of {N} {fam} addresses in one batch: {:?}", t.elapsed());
        }
        assert!(fw.list("sshd").unwrap().is_empty());
        let t = Instant::now();
        fw.teardown("sshd").unwrap();
        println!("teardown: {:?}", t.elapsed());
        assert_no_banjo();
    }

    background_bans_keep_their_order_and_report_failures_per_jail(fw) {
        fw.setup(&sshd()).unwrap();
        // Two batches in the background, then an unban of the first batch's address:
        // the unban waits for them, so the address ends up unbanned.
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
        assert_eq!(expires("banjo-sshd-4", "203.0.113.9"), Some(None));
        let t = expires("banjo-sshd-4", "198.51.100.2").unwrap().unwrap();
        assert!((3590..=3600).contains(&t), "{t}");

        // A background run that fails is reported by settle, with its jail and
        // step; the jail's own bans are untouched.
        fw.ban_start("nope", &[ban("192.0.2.1", None)]).unwrap();
        let failed = fw.settle();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].0, "nope");
        assert!(
            failed[0].1.reason.contains("banning 1 address(es) in jail nope"),
            "{:?}",
            failed[0].1
        );
        assert!(fw.settle().is_empty(), "each failure is reported once");
        assert_eq!(fw.list("sshd").unwrap().len(), 201);

        // A set made in the background that did not come to be is made again later.
        nft_script("add set inet banjo banjo-sshd-6-56 { type ipv4_addr; }");
        fw.ban_start("sshd", &[ban("2001:db8:8::/56", None)]).unwrap();
        assert_eq!(fw.settle().len(), 1);
        nft_script("delete set inet banjo banjo-sshd-6-56");
        fw.ban("sshd", &[ban("2001:db8:8::/56", None)]).unwrap();
        assert!(fw.list("sshd").unwrap().contains(&a("2001:db8:8::/56")));
    }
}

netns_tests! {
    a_table_banjo_did_not_make_is_refused_and_left(fw) {
        // Someone's own `table inet banjo`: no marker, not on record, not banjo-shaped.
        nft_script(
            "table inet banjo {\n\
               chain mine { type filter hook input priority 0; policy accept;\n\
                 tcp dport 8080 accept\n\
               }\n\
             }\n",
        );
        let before = ruleset();
        let err = fw.setup(&sshd()).unwrap_err();
        assert!(matches!(err, FirewallError::Foreign { .. }), "{err}");
        assert!(err.to_string().contains("nft delete table inet banjo"), "{err}");
        assert_eq!(ruleset(), before);
        assert!(fw.teardown("sshd").unwrap().iter().any(|l| l.object == "nft table inet banjo"));
        assert!(fw.jails_present().unwrap().is_empty());
        let flushed = fw.flush_all().unwrap();
        assert!(flushed.removed.is_empty());
        assert_eq!(flushed.left.len(), 1, "{flushed:?}");
        assert_eq!(ruleset(), before);
        // An empty one is not banjo's either once something is on record.
        sh("nft", &["delete", "table", "inet", "banjo"]);
        sh("nft", &["add", "table", "inet", "banjo"]);
        fw.set_ledger(Box::new(MemoryLedger::of([Object::Ipset("banjo-x-4".into())], false)));
        assert!(fw.setup(&sshd()).is_err());
        sh("nft", &["delete", "table", "inet", "banjo"]);
        // The table banjo makes carries its marker: banjo's without any record.
        let mut first = NftFirewall::new().unwrap();
        first.setup(&sshd()).unwrap();
        assert!(sh("nft", &["list", "table", "inet", "banjo"]).contains("comment \"banjo\""));
        fw.set_ledger(Box::new(MemoryLedger::of([], false)));
        fw.setup(&sshd()).unwrap();
        assert_eq!(fw.flush_all().unwrap().removed, ["sshd"]);
        assert_no_banjo();
    }

    a_refused_batch_is_split_until_only_the_bad_elements_fail(fw) {
        // A set that holds three (made by hand for jail "full", which is not set up):
        // a transaction is all or nothing, so halves are tried down to the elements
        // that do not fit.
        fw.setup(&sshd()).unwrap();
        nft_script("add set inet banjo banjo-full-4 { type ipv4_addr; flags timeout; size 3; }");
        let many: Vec<BanEntry> = (1..=5).map(|i| ban(&format!("203.0.113.{i}"), Some(600))).collect();
        let refused = fw.ban("full", &many).unwrap();
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert_eq!(fw.list("full").unwrap().len(), 3);
        // The same in the background.
        nft_script("flush set inet banjo banjo-full-4");
        fw.ban_start("full", &many).unwrap();
        let refused = fw.settle();
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert_eq!(fw.list("full").unwrap().len(), 3);
        // A missing set refuses everything at once, without splitting.
        let refused = fw.ban("none", &many).unwrap();
        assert_eq!(refused.len(), 5);
    }

    check_names_what_a_flush_took(fw) {
        let mut r = sshd();
        r.wake_group = Some(4242);
        fw.setup(&r).unwrap();
        fw.ban("sshd", &[ban("198.51.100.0/24", None), ban("2001:db8::/64", None)]).unwrap();
        assert!(fw.check(&r).unwrap().is_empty());
        sh("nft", &["flush", "chain", "inet", "banjo", "banjo-sshd"]);
        assert_eq!(fw.check(&r).unwrap(), ["rules of nft chain banjo-sshd changed"]);
        fw.setup(&r).unwrap();
        assert!(fw.check(&r).unwrap().is_empty(), "the prefix sets' rules are back too");
        sh("nft", &["delete", "table", "inet", "banjo"]);
        assert_eq!(fw.check(&r).unwrap(), ["nft table inet banjo missing"]);
        fw.setup(&r).unwrap();
        assert!(fw.check(&r).unwrap().is_empty());
        assert_eq!(fw.watched_tables(), [(banjo::ban::netlink::NFPROTO_INET, "banjo")]);
        assert!(!fw.needs_glance());
    }

    ipv4_networks_block_real_traffic(fw) {
        let peer = Peer::linked();
        let to = SocketAddr::from((Ipv4Addr::new(198, 51, 100, 1), 2222));
        let _l = TcpListener::bind(to).unwrap();
        fw.setup(&jail("app", "INPUT", ports(&[2222]), Protocol::Tcp, BlockType::Reject)).unwrap();
        peer.connect_eventually(to);
        assert!(fw.ban("app", &[ban("198.51.100.0/25", Some(600))]).unwrap().is_empty());
        let err = peer.connect(to, 3).expect_err("a peer in a banned /25 got through");
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        assert!(fw.holds("app", &a("198.51.100.0/25")).unwrap());
        assert!(!fw.holds("app", &a("198.51.100.0/26")).unwrap());
        fw.unban("app", &[a("198.51.100.0/25")]).unwrap();
        peer.connect(to, 3).expect("unbanned network is let in again");
    }
}
