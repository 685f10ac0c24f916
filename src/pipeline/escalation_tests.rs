//! Subnet escalation through the whole pipeline (jail/escalation.rs decides, the
//! pipeline carries it out), including the attacks on it: addresses chosen so that
//! banjo would ban the admin's network, an ignored address inside the network, the
//! host's own address inside it, one IPv6 /64 sprayed to look like many attackers.

use super::*;
use crate::addr::Addr;
use crate::events::UnbanReason;
use crate::timefmt::SEC;

fn pipeline(extra: &str, self_addrs: &[&str]) -> Pipeline {
    let dir = tempfile::tempdir().unwrap();
    // Keys the test does not set itself (TOML refuses a key twice).
    let mut text = String::from("[jail.sshd]\nenabled = true\nmaxretry = 1\nignoreself = false\n");
    for (key, line) in [
        ("bantime", "bantime = \"1h\"\n"),
        ("ignoreip", "ignoreip = []\n"),
        ("escalate_after", "escalate_after = 3\n"),
    ] {
        let set = extra.lines().any(|l| {
            l.strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        });
        if !set {
            text.push_str(line);
        }
    }
    text.push_str(extra);
    std::fs::write(dir.path().join("banjo.toml"), text).unwrap();
    let c = crate::config::load(dir.path(), true);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    let j = c.jails.into_iter().find(|j| j.name == "sshd").unwrap();
    let own: Vec<IpAddr> = self_addrs.iter().map(|a| a.parse().unwrap()).collect();
    Pipeline::new(vec![Arc::new(j)], &own)
}

fn failure(t: Micros, ip: &str) -> Entry {
    let mut e = Entry {
        time_us: t,
        ..Default::default()
    };
    e.set_message(format!("Failed password for root from {ip} port 22 ssh2").as_bytes());
    e.fields.set("_COMM", b"sshd");
    e.fields.set("_UID", b"0");
    e.fields.set("_SYSTEMD_UNIT", b"ssh.service");
    e.fields.set("SYSLOG_IDENTIFIER", b"sshd");
    e
}

/// Feed one failure per address, a second apart; the events.
fn feed(p: &mut Pipeline, t0: Micros, ips: &[String]) -> Vec<Event> {
    let mut out = Vec::new();
    for (i, ip) in ips.iter().enumerate() {
        p.feed(&failure(t0 + i as Micros * SEC, ip), &mut |e| out.push(e));
    }
    out
}

fn ips(net: &str, hosts: impl IntoIterator<Item = u32>) -> Vec<String> {
    hosts.into_iter().map(|h| format!("{net}{h}")).collect()
}

fn a(s: &str) -> Addr {
    s.parse().unwrap()
}

fn network_bans(evs: &[Event]) -> Vec<(String, u32)> {
    evs.iter()
        .filter_map(|e| match e {
            Event::Ban {
                addr, escalated, ..
            } if *escalated > 0 => Some((addr.to_string(), *escalated)),
            _ => None,
        })
        .collect()
}

#[test]
fn k_addresses_of_a_24_become_one_network_ban_and_their_bans_are_lifted() {
    let mut p = pipeline("", &[]);
    let evs = feed(&mut p, SEC, &ips("198.51.100.", [1, 2, 3]));
    assert_eq!(network_bans(&evs), [("198.51.100.0/24".to_owned(), 3)]);
    let lifted: Vec<String> = evs
        .iter()
        .filter_map(|e| match e {
            Event::Unban { addr, reason, .. } => {
                assert_eq!(*reason, UnbanReason::Escalated);
                Some(addr.to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(lifted, ["198.51.100.1", "198.51.100.2", "198.51.100.3"]);
    // One ban left: the network's, with the jail's bantime.
    assert_eq!(p.bans.len(), 1);
    let b = p.bans.get(0, &a("198.51.100.0/24")).unwrap();
    assert_eq!(b.until, Some(b.since + 3600 * SEC));
    assert_eq!(
        (p.jails[0].stats.bans, p.jails[0].stats.escalations),
        (4, 1)
    );
    // Another address of the /24 is already banned; one of the next /24 is not.
    let evs = feed(&mut p, 10 * SEC, &ips("198.51.100.", [77]));
    assert!(evs.is_empty(), "{evs:?}");
    assert_eq!(p.jails[0].stats.already_banned, 1);
    let evs = feed(&mut p, 20 * SEC, &ips("198.51.101.", [1]));
    assert_eq!(evs.len(), 1);
    assert!(network_bans(&evs).is_empty());
}

#[test]
fn bans_spread_over_more_than_the_window_do_not_escalate() {
    let mut p = pipeline("escalate_window = \"10m\"\nbantime = \"1d\"\n", &[]);
    let mut evs = feed(&mut p, SEC, &ips("198.51.100.", [1, 2]));
    evs.extend(feed(&mut p, 700 * SEC, &ips("198.51.100.", [3])));
    assert!(network_bans(&evs).is_empty(), "{evs:?}");
    // The same address banned again is one member, not two.
    let mut p = pipeline("", &[]);
    let mut evs = feed(&mut p, SEC, &ips("198.51.100.", [1, 2]));
    let t = 3 * 3600 * SEC; // both bans over
    evs.extend(feed(&mut p, t, &ips("198.51.100.", [1])));
    assert!(network_bans(&evs).is_empty(), "{evs:?}");
}

/// The attack: an attacker who can fail from addresses next to the admin's (a
/// shared hosting /24, or log lines naming them) wants banjo to ban the admin's /24.
/// The admin's address in ignoreip (a single address or a network overlapping the
/// /24) keeps the network unbanned; its members stay banned one by
/// one, and the refusal is said once.
#[test]
fn an_ignored_address_inside_the_network_prevents_escalation_said_once() {
    for ignored in ["198.51.100.10", "198.51.100.128/25", "198.51.100.240/28"] {
        let mut p = pipeline(&format!("ignoreip = [\"{ignored}\"]\n"), &[]);
        let evs = feed(&mut p, SEC, &ips("198.51.100.", 1..=9));
        assert!(network_bans(&evs).is_empty(), "{ignored}: {evs:?}");
        assert_eq!(p.bans.len(), 9, "{ignored}");
        assert_eq!(p.escalation_notices.len(), 1, "{ignored}");
        let n = &p.escalation_notices[0];
        assert_eq!(n.net, a("198.51.100.0/24"));
        assert!(n.why.to_string().contains(ignored), "{}", n.why);
        // The admin is never banned either.
        let evs = feed(&mut p, 100 * SEC, &ips("198.51.100.", [10]));
        assert!(ignored != "198.51.100.10" || evs.is_empty(), "{evs:?}");
    }
}

/// This host's own address inside the network blocks escalation even with
/// `ignoreself = false`: a ban must never cut the host off from itself.
#[test]
fn the_hosts_own_address_inside_the_network_prevents_escalation() {
    let mut p = pipeline("", &["198.51.100.200"]);
    let evs = feed(&mut p, SEC, &ips("198.51.100.", [1, 2, 3, 4]));
    assert!(network_bans(&evs).is_empty(), "{evs:?}");
    assert!(matches!(
        p.escalation_notices[..],
        [EscalationNotice {
            why: Refusal::Own(_),
            ..
        }]
    ));
}

/// One attacker owns a /64 and sprays addresses of it. With `ipv6_prefix = 128` each
/// is a ban of its own, but they are one member: the /48 of everyone else in that
/// site is not banned. Three different /64s of the /48 are three members.
#[test]
fn an_ipv6_64_spray_is_one_member_and_three_64s_ban_the_48() {
    let mut p = pipeline("ipv6_prefix = 128\n", &[]);
    let spray: Vec<String> = (1..=20).map(|h| format!("2001:db8:1:2::{h:x}")).collect();
    let evs = feed(&mut p, SEC, &spray);
    assert_eq!(evs.len(), 20);
    assert!(network_bans(&evs).is_empty(), "{evs:?}");
    let evs = feed(
        &mut p,
        100 * SEC,
        &["2001:db8:1:3::1".into(), "2001:db8:1:4::1".into()],
    );
    // Three members, 22 bans replaced.
    assert_eq!(network_bans(&evs), [("2001:db8:1::/48".to_owned(), 22)]);
    assert_eq!(p.bans.len(), 1);
    // With the default /64 keys, one /64 is one ban in the first place.
    let mut p = pipeline("", &[]);
    let evs = feed(&mut p, SEC, &spray);
    assert_eq!(evs.len(), 1);
}

#[test]
fn escalate_max_caps_network_bans_per_jail() {
    let mut p = pipeline("escalate_max = 1\n", &[]);
    let mut evs = feed(&mut p, SEC, &ips("198.51.100.", [1, 2, 3]));
    evs.extend(feed(&mut p, 10 * SEC, &ips("203.0.113.", [1, 2, 3, 4])));
    assert_eq!(network_bans(&evs), [("198.51.100.0/24".to_owned(), 3)]);
    assert!(matches!(
        p.escalation_notices[..],
        [EscalationNotice {
            why: Refusal::Cap(1),
            ..
        }]
    ));
    // Once the first network ban is over, there is room again.
    let later = 2 * 3600 * SEC;
    let evs = feed(&mut p, later, &ips("203.0.113.", [5, 6, 7]));
    assert_eq!(network_bans(&evs), [("203.0.113.0/24".to_owned(), 3)]);
}

/// Escalation never shortens a ban: a member banned for longer than the network
/// keeps its own ban.
#[test]
fn a_member_whose_ban_outlasts_the_networks_keeps_it() {
    let mut p = pipeline("escalate_bantime = \"10m\"\n", &[]);
    let evs = feed(&mut p, SEC, &ips("198.51.100.", [1, 2, 3]));
    assert_eq!(network_bans(&evs).len(), 1);
    assert!(!evs.iter().any(|e| matches!(e, Event::Unban { .. })));
    assert_eq!(p.bans.len(), 4);
}

/// A new pipeline (restart, reload) learns the recent bans from the ban book it is
/// given, so the next ban of the network escalates.
#[test]
fn restored_bans_count_towards_escalation() {
    let mut p = pipeline("", &[]);
    for (i, ip) in ["198.51.100.1", "198.51.100.2"].iter().enumerate() {
        p.bans.restore(crate::jail::Ban {
            jail: 0,
            addr: a(ip),
            since: SEC + i as Micros,
            until: Some(3600 * SEC),
            count: 1,
            failures: 1,
        });
    }
    let evs = feed(&mut p, 5 * SEC, &ips("198.51.100.", [3]));
    assert_eq!(network_bans(&evs), [("198.51.100.0/24".to_owned(), 3)]);
    assert_eq!(p.bans.len(), 1);
}

/// A spray over many networks at once (host 1 of each, then host 2 of each, …): each
/// network escalates at its own K-th ban, and the rest of its addresses are covered.
#[test]
fn a_spray_over_many_networks_escalates_each_once() {
    let mut p = pipeline("escalate_after = 5\n", &[]);
    let spray: Vec<String> = (1..=20)
        .flat_map(|h| (0..20).map(move |n| format!("198.18.{n}.{h}")))
        .collect();
    let evs = feed(&mut p, SEC, &spray);
    assert_eq!(network_bans(&evs).len(), 20);
    assert_eq!(p.bans.len(), 20);
    assert_eq!(p.jails[0].stats.already_banned, 15 * 20);
}
