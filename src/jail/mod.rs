//! Jails at run time: the filter session, the failure tracker and the ban book.
//!
//! The tracker ([`tracker`]) counts failures per address inside the findtime window,
//! for every jail under one memory budget, and says when maxretry is reached; the ban
//! book remembers who is banned until when and how often each address was banned (for
//! bantime increment). Neither touches a firewall: the caller (daemon or replay) acts
//! on the decisions.

pub mod escalation;
pub mod tracker;
pub use tracker::{Tracker, Trip};

use crate::addr::{Addr, IgnoreList};
use crate::config::JailConfig;
use crate::filter::{Failure, Session};
use crate::timefmt::{BanTime, Micros};
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;

/// Give a hash table's memory back once it is mostly empty. A table never shrinks by
/// itself: after a burst of 100k addresses it would keep its 100k slots (~100 B each)
/// for good. Shrinking to twice the length only when under a quarter full keeps this
/// amortised O(1) per removal.
fn shrink_sparse<K: Eq + Hash, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > 1024 && map.len() < map.capacity() / 4 {
        map.shrink_to(map.len() * 2);
    }
}

/// One active ban.
#[derive(Debug, Clone, PartialEq)]
pub struct Ban {
    pub jail: usize,
    pub addr: Addr,
    pub since: Micros,
    /// None: permanent.
    pub until: Option<Micros>,
    /// How many times this jail has banned this address (1 = first ban).
    pub count: u32,
    pub failures: u32,
}

/// How often a jail has banned an address, and when the latest of those bans began
/// (the count is forgotten some time after that: [`BanBook::forget_counts`]).
#[derive(Debug, Clone, Copy, Default)]
struct Count {
    bans: u32,
    last: Micros,
}

/// Active bans of all jails with one deadline queue for expiry, and ban counts.
#[derive(Debug, Default)]
pub struct BanBook {
    active: HashMap<(usize, Addr), Ban>,
    deadlines: BTreeSet<(Micros, usize, Addr)>,
    counts: HashMap<(usize, Addr), Count>,
    /// Active bans per jail, so status counts without walking every ban.
    per_jail: Vec<usize>,
}

impl BanBook {
    /// Keep `per_jail` in step with an insertion (+1) or removal (-1) in `active`.
    fn tally(&mut self, jail: usize, added: bool) {
        if self.per_jail.len() <= jail {
            self.per_jail.resize(jail + 1, 0);
        }
        let n = &mut self.per_jail[jail];
        *n = if added { *n + 1 } else { n.saturating_sub(1) };
    }

    pub fn is_banned(&self, jail: usize, addr: &Addr) -> bool {
        self.active.contains_key(&(jail, *addr))
    }

    /// How many earlier bans `addr` had in `jail`.
    pub fn count(&self, jail: usize, addr: &Addr) -> u32 {
        self.counts.get(&(jail, *addr)).map_or(0, |c| c.bans)
    }

    /// Record a ban; returns it. Replaces an active ban of the same key.
    pub fn ban(
        &mut self,
        jail: usize,
        addr: Addr,
        now: Micros,
        bantime: BanTime,
        failures: u32,
    ) -> Ban {
        if let Some(old) = self.active.remove(&(jail, addr)) {
            if let Some(u) = old.until {
                self.deadlines.remove(&(u, jail, addr));
            }
            self.tally(jail, false);
        }
        let count = {
            let c = self.counts.entry((jail, addr)).or_default();
            c.bans += 1;
            c.last = c.last.max(now);
            c.bans
        };
        let until = match bantime {
            BanTime::Finite(d) => Some(now.saturating_add(d)),
            BanTime::Permanent => None,
        };
        let ban = Ban {
            jail,
            addr,
            since: now,
            until,
            count,
            failures,
        };
        if let Some(u) = until {
            self.deadlines.insert((u, jail, addr));
        }
        self.active.insert((jail, addr), ban.clone());
        self.tally(jail, true);
        ban
    }

    /// Put back a ban read from durable state (start-up, reload).
    pub fn restore(&mut self, ban: Ban) {
        if let Some(u) = ban.until {
            self.deadlines.insert((u, ban.jail, ban.addr));
        }
        self.set_count(ban.jail, ban.addr, ban.count, ban.since);
        let jail = ban.jail;
        if self.active.insert((ban.jail, ban.addr), ban).is_none() {
            self.tally(jail, true);
        }
    }

    /// Remember that `addr` was banned `count` times in `jail`, the latest of those
    /// bans beginning at `last` (from durable state, or carried over by a reload).
    pub fn set_count(&mut self, jail: usize, addr: Addr, count: u32, last: Micros) {
        let c = self.counts.entry((jail, addr)).or_default();
        c.bans = c.bans.max(count);
        c.last = c.last.max(last);
    }

    /// Forget the ban counts of addresses whose latest ban began before `before` and
    /// that are not banned now, as `Store::prune_counts` does on disk: their next ban
    /// starts again from the jail's bantime. Returns how many were forgotten.
    pub fn forget_counts(&mut self, before: Micros) -> usize {
        let n = self.counts.len();
        let active = &self.active;
        self.counts
            .retain(|key, c| c.last >= before || active.contains_key(key));
        shrink_sparse(&mut self.counts);
        n - self.counts.len()
    }

    /// Lift one ban now (manual unban); returns it if it was active.
    pub fn remove(&mut self, jail: usize, addr: &Addr) -> Option<Ban> {
        let b = self.active.remove(&(jail, *addr))?;
        if let Some(u) = b.until {
            self.deadlines.remove(&(u, jail, *addr));
        }
        self.tally(jail, false);
        shrink_sparse(&mut self.active);
        Some(b)
    }

    /// Every (jail, address, ban count, start of the latest ban) known.
    pub fn counts(&self) -> impl Iterator<Item = (usize, Addr, u32, Micros)> + '_ {
        self.counts
            .iter()
            .map(|((j, a), c)| (*j, *a, c.bans, c.last))
    }

    pub fn get(&self, jail: usize, addr: &Addr) -> Option<&Ban> {
        self.active.get(&(jail, *addr))
    }

    /// Remove and return every ban whose deadline is at or before `now`, oldest first.
    pub fn expire(&mut self, now: Micros) -> Vec<Ban> {
        let mut out = Vec::new();
        while let Some(&(t, jail, addr)) = self.deadlines.first() {
            if t > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(b) = self.active.remove(&(jail, addr)) {
                self.tally(jail, false);
                out.push(b);
            }
        }
        if !out.is_empty() {
            shrink_sparse(&mut self.active);
        }
        out
    }

    /// The earliest deadline, for a timer.
    pub fn next_deadline(&self) -> Option<Micros> {
        self.deadlines.first().map(|d| d.0)
    }

    pub fn active(&self) -> impl Iterator<Item = &Ban> {
        self.active.values()
    }

    /// How many bans `jail` has active (O(1)).
    pub fn active_in(&self, jail: usize) -> usize {
        self.per_jail.get(jail).copied().unwrap_or(0)
    }

    /// How many bans are active, in all jails.
    pub fn len(&self) -> usize {
        self.active.len()
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// The active bans of one jail.
    pub fn of_jail(&self, jail: usize) -> impl Iterator<Item = &Ban> {
        self.active.values().filter(move |b| b.jail == jail)
    }
}

/// Per-jail counters for summaries and status.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct JailStats {
    pub entries: u64,
    pub matched: u64,
    pub ignored_by_regex: u64,
    pub failures: u64,
    pub ignored_addresses: u64,
    /// Failures from addresses no attacker can send from (0.0.0.0, multicast…):
    /// counted, never banned (addr.rs).
    pub unbannable: u64,
    pub already_banned: u64,
    pub bans: u64,
    pub unbans: u64,
    /// Networks banned by subnet escalation (also counted in `bans`).
    pub escalations: u64,
}

/// `ignoreip`, plus this host's own addresses when the jail has `ignoreself`.
fn ignore_list(config: &JailConfig, self_addrs: &[IpAddr]) -> IgnoreList {
    let mut ignore = IgnoreList::new(config.ignoreip.clone());
    if config.ignoreself {
        for ip in self_addrs {
            ignore.push(ipnet::IpNet::from(*ip));
        }
    }
    ignore
}

fn own_list(self_addrs: &[IpAddr]) -> IgnoreList {
    IgnoreList::new(
        self_addrs
            .iter()
            .map(|ip| ipnet::IpNet::from(*ip))
            .collect(),
    )
}

/// A jail ready to run.
pub struct Jail {
    pub config: Arc<JailConfig>,
    pub session: Session,
    pub ignore: IgnoreList,
    /// This host's own addresses, whatever `ignoreself` says: no ban may cover them.
    pub own: IgnoreList,
    pub stats: JailStats,
}

impl Jail {
    /// `self_addrs`: this host's addresses, added when the jail has `ignoreself`.
    pub fn new(config: Arc<JailConfig>, self_addrs: &[IpAddr]) -> Jail {
        Jail {
            session: Session::new(config.filter.clone()),
            ignore: ignore_list(&config, self_addrs),
            own: own_list(self_addrs),
            stats: JailStats::default(),
            config,
        }
    }

    /// This host's addresses changed (an interface came up, DHCP renewed).
    pub fn set_self_addrs(&mut self, self_addrs: &[IpAddr]) {
        self.ignore = ignore_list(&self.config, self_addrs);
        self.own = own_list(self_addrs);
    }

    /// The ban key for a failure's address: the IPv6 prefix, narrowed to the single
    /// address when the prefix would cover an ignored address (the admin's own /64) or
    /// one of this host's.
    pub fn key_for(&self, ip: IpAddr) -> Addr {
        let wide = Addr::new(ip, self.config.ipv6_prefix);
        if !wide.is_single() && (self.ignore.overlaps(&wide) || self.own.overlaps(&wide)) {
            Addr::single(ip)
        } else {
            wide
        }
    }

    /// Is this failure from an address that must never be banned?
    pub fn ignores(&self, f: &Failure) -> bool {
        self.ignore.contains_ip(f.ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::SEC;

    fn a(s: &str) -> Addr {
        s.parse().unwrap()
    }

    #[test]
    fn ban_book_expires_in_order() {
        let mut b = BanBook::default();
        b.ban(0, a("192.0.2.1"), 0, BanTime::Finite(100), 5);
        b.ban(0, a("192.0.2.2"), 0, BanTime::Finite(50), 5);
        b.ban(1, a("192.0.2.3"), 0, BanTime::Permanent, 5);
        assert_eq!(b.next_deadline(), Some(50));
        assert!(b.expire(49).is_empty());
        let e = b.expire(100);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].addr, a("192.0.2.2"));
        assert!(b.is_banned(1, &a("192.0.2.3")));
        assert_eq!(
            b.ban(0, a("192.0.2.1"), 200, BanTime::Finite(1), 5).count,
            2
        );
    }

    #[test]
    fn old_counts_are_forgotten_unless_banned() {
        let mut b = BanBook::default();
        b.ban(0, a("192.0.2.1"), 100, BanTime::Finite(10), 5); // old, expired
        b.ban(0, a("192.0.2.2"), 100, BanTime::Permanent, 5); // old, still banned
        b.ban(0, a("192.0.2.3"), 100, BanTime::Finite(10), 5); // banned again later
        b.ban(0, a("192.0.2.3"), 5_000, BanTime::Finite(10), 5);
        b.set_count(1, a("192.0.2.4"), 3, 200); // from state, old
        b.expire(10_000);
        assert_eq!(b.forget_counts(1_000), 2);
        assert_eq!(b.count(0, &a("192.0.2.1")), 0);
        assert_eq!(b.count(1, &a("192.0.2.4")), 0);
        assert_eq!(b.count(0, &a("192.0.2.2")), 1);
        assert_eq!(b.count(0, &a("192.0.2.3")), 2);
        // A forgotten address starts again from the first ban.
        assert_eq!(
            b.ban(0, a("192.0.2.1"), 20_000, BanTime::Finite(10), 5)
                .count,
            1
        );
        // A restored ban's start counts as its latest.
        let mut r = BanBook::default();
        r.restore(Ban {
            jail: 0,
            addr: a("192.0.2.5"),
            since: 3_000,
            until: Some(4_000),
            count: 2,
            failures: 5,
        });
        r.expire(4_000);
        assert_eq!(r.forget_counts(2_999), 0);
        assert_eq!(r.forget_counts(3_001), 1);
    }

    fn many(n: u32) -> impl Iterator<Item = Addr> {
        (0..n).map(|i| Addr::single(std::net::Ipv4Addr::from(0xC633_0000u32 + i).into()))
    }

    #[test]
    fn tables_give_memory_back_after_a_burst() {
        // 20k bans expire; then their counts age out.
        let mut b = BanBook::default();
        for addr in many(20_000) {
            b.ban(0, addr, 0, BanTime::Finite(SEC), 5);
        }
        assert!(b.active.capacity() >= 20_000);
        assert_eq!(b.expire(SEC).len(), 20_000);
        assert!(b.active.capacity() <= 2048, "{}", b.active.capacity());
        assert_eq!(b.forget_counts(1), 20_000);
        assert!(b.counts.capacity() <= 2048, "{}", b.counts.capacity());
    }
}
