//! Subnet escalation: when `escalate_after` distinct addresses of one network (an IPv4
//! /24, an IPv6 /48 by default) were banned by a jail within `escalate_window`, the jail
//! bans the network instead: one kernel element, one state row and one journal entry
//! in place of hundreds (fail2ban #927, #1123, #4103).
//!
//! Owns: which bans were made recently per network, and the decision. It never covers
//! an address the jail ignores (`ignoreip`, networks overlapping included) nor one of
//! this host's own addresses (whatever `ignoreself` says), never goes wider than
//! config/escalation.rs allows, and never holds more than `escalate_max` network bans
//! per jail. Must not: touch the ban book (the pipeline carries out the decision),
//! a firewall or a clock of its own.
//!
//! Counting: a v4 member is one address; a v6 member is counted by its /64, so one
//! attacker spraying addresses of its own /64 (with `ipv6_prefix = 128`) is one member,
//! not K, and cannot make banjo ban its neighbours' /48.

use super::{BanBook, Jail};
use crate::addr::Addr;
use crate::config::escalation::Escalation;
use crate::timefmt::Micros;
use ipnet::IpNet;
use std::collections::{BTreeSet, HashMap, HashSet};

/// How many networks per jail are remembered as "said not to escalate": a refusal is
/// said once per network; past this, only counted.
const SAID_MAX: usize = 4096;

/// What to do about a jail's new ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Ban `net`; `members` are the distinct active bans inside it that led there
    /// (the caller lifts those that end no later than the network's ban).
    Escalate { net: Addr, members: Vec<Addr> },
    /// `net` reached `escalate_after` but must not be banned (said once per network).
    Refuse { net: Addr, why: Refusal },
}

/// Why a network that reached `escalate_after` is not banned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It contains this network or address of `ignoreip` / `ignoreself`.
    Ignored(IpNet),
    /// It contains this host's own address.
    Own(IpNet),
    /// The jail holds `escalate_max` network bans already.
    Cap(usize),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Ignored(n) => write!(
                f,
                "it contains {n}, which the jail's ignoreip/ignoreself trusts"
            ),
            Refusal::Own(n) => write!(f, "it contains this host's own address {}", n.addr()),
            Refusal::Cap(max) => write!(
                f,
                "the jail holds escalate_max = {max} network bans already"
            ),
        }
    }
}

/// One jail's memory of recent bans by network.
#[derive(Debug, Default)]
struct PerJail {
    /// Read the ban book's recent bans once (a new pipeline: start-up, reload).
    primed: bool,
    /// Per network: (start, key) of the bans inside it, oldest first.
    recent: HashMap<Addr, Vec<(Micros, Addr)>>,
    /// Network bans of escalation length this jail holds (or held: pruned against
    /// the ban book when the cap is checked).
    banned: BTreeSet<Addr>,
    said: HashSet<Addr>,
    /// Refusals not said again (past SAID_MAX networks).
    unsaid: u64,
    next_sweep: Micros,
}

/// Every jail's escalation memory (index: jail, as in the pipeline).
#[derive(Debug, Default)]
pub struct Escalator {
    jails: Vec<PerJail>,
}

/// The network `key` escalates to, if it is narrower than that network.
pub fn network_of(cfg: &Escalation, key: &Addr) -> Option<Addr> {
    let (len, target) = match key.net() {
        IpNet::V4(n) => (n.prefix_len(), cfg.prefix_v4),
        IpNet::V6(n) => (n.prefix_len(), cfg.prefix_v6),
    };
    if len <= target {
        return None;
    }
    Addr::network(key.net().addr(), target)
}

/// What counts as one member: an IPv4 ban, or the /64 of an IPv6 ban.
fn member_unit(key: &Addr) -> Addr {
    match key.net() {
        IpNet::V6(n) if n.prefix_len() > 64 => Addr::network(n.addr().into(), 64).unwrap_or(*key),
        _ => *key,
    }
}

impl Escalator {
    fn jail(&mut self, ji: usize) -> &mut PerJail {
        if self.jails.len() <= ji {
            self.jails.resize_with(ji + 1, PerJail::default);
        }
        &mut self.jails[ji]
    }

    /// Is `key` inside a network this jail has banned by escalation (so its failures
    /// are those of a banned address)?
    pub fn covers(cfg: &Escalation, bans: &BanBook, ji: usize, key: &Addr) -> bool {
        network_of(cfg, key).is_some_and(|net| bans.is_banned(ji, &net))
    }

    /// Refusals that were only counted, per jail.
    pub fn unsaid(&self, ji: usize) -> u64 {
        self.jails.get(ji).map_or(0, |j| j.unsaid)
    }

    /// Jail `ji` just banned `key` at `now`: should it ban the network around it?
    pub fn observe(
        &mut self,
        ji: usize,
        jail: &Jail,
        bans: &BanBook,
        key: Addr,
        now: Micros,
    ) -> Option<Decision> {
        let cfg = jail.config.escalation?;
        let net = network_of(&cfg, &key)?;
        let cutoff = now.saturating_sub(cfg.window);
        let pj = self.jail(ji);
        if !pj.primed {
            pj.primed = true;
            prime(pj, &cfg, bans, ji, cutoff);
        }
        if now >= pj.next_sweep {
            pj.recent.retain(|_, v| {
                v.retain(|(t, _)| *t >= cutoff);
                !v.is_empty()
            });
            pj.recent.shrink_to_fit();
            pj.next_sweep = now.saturating_add(cfg.window);
        }
        let list = pj.recent.entry(net).or_default();
        list.retain(|(t, a)| *t >= cutoff && *a != key);
        list.push((now, key));
        let units: HashSet<Addr> = list.iter().map(|(_, a)| member_unit(a)).collect();
        if units.len() < cfg.after as usize || bans.is_banned(ji, &net) {
            return None;
        }
        let why = if let Some(n) = jail.own.overlapping(&net) {
            Some(Refusal::Own(n))
        } else if let Some(n) = jail.ignore.overlapping(&net) {
            Some(Refusal::Ignored(n))
        } else {
            pj.banned.retain(|n| bans.is_banned(ji, n));
            (pj.banned.len() >= cfg.max).then_some(Refusal::Cap(cfg.max))
        };
        if let Some(why) = why {
            if pj.said.contains(&net) {
                return None;
            }
            if pj.said.len() >= SAID_MAX {
                pj.unsaid += 1;
                return None;
            }
            pj.said.insert(net);
            return Some(Decision::Refuse { net, why });
        }
        let list = pj.recent.remove(&net).unwrap_or_default();
        let mut members: Vec<Addr> = list
            .into_iter()
            .map(|(_, a)| a)
            .filter(|a| bans.is_banned(ji, a))
            .collect();
        members.sort();
        members.dedup();
        pj.banned.insert(net);
        Some(Decision::Escalate { net, members })
    }
}

/// Take the jail's active bans that began within the window (restored from the state,
/// carried over by a reload) and its network bans of escalation length.
fn prime(pj: &mut PerJail, cfg: &Escalation, bans: &BanBook, ji: usize, cutoff: Micros) {
    let mut found: Vec<(Micros, Addr, Addr)> = Vec::new();
    for b in bans.of_jail(ji) {
        let len = b.addr.net().prefix_len();
        let target = match b.addr.net() {
            IpNet::V4(_) => cfg.prefix_v4,
            IpNet::V6(_) => cfg.prefix_v6,
        };
        if len == target {
            pj.banned.insert(b.addr);
        } else if let Some(net) = network_of(cfg, &b.addr) {
            if b.since >= cutoff {
                found.push((b.since, net, b.addr));
            }
        }
    }
    found.sort();
    for (t, net, a) in found {
        pj.recent.entry(net).or_default().push((t, a));
    }
}
