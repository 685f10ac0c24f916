//! Jails at run time: the filter session, the failure tracker and the ban book.
//!
//! The tracker counts failures per address inside the findtime window and says when
//! maxretry is reached; the ban book remembers who is banned until when and how often
//! each address was banned (for bantime increment). Neither touches a firewall: the
//! caller (daemon or replay) acts on the decisions.

use crate::addr::{Addr, IgnoreList};
use crate::config::JailConfig;
use crate::filter::{Failure, Session};
use crate::timefmt::{BanTime, Micros};
use std::collections::{BTreeSet, HashMap, VecDeque};
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

/// How much of a matched MESSAGE is kept for the ban report.
const MATCH_KEEP: usize = 256;

/// Failures of one address within the window: at most `maxretry` are kept.
#[derive(Debug, Default)]
struct Window {
    times: VecDeque<Micros>,
    matches: VecDeque<String>,
}

/// Per-jail failure counting.
#[derive(Debug)]
pub struct Tracker {
    maxretry: u32,
    findtime: Micros,
    windows: HashMap<Addr, Window>,
    adds_since_sweep: u32,
}

/// maxretry reached for `addr`: ban it.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    pub addr: Addr,
    pub failures: u32,
    pub matches: Vec<String>,
}

impl Tracker {
    pub fn new(maxretry: u32, findtime: Micros) -> Tracker {
        Tracker {
            maxretry: maxretry.max(1),
            findtime,
            windows: HashMap::new(),
            adds_since_sweep: 0,
        }
    }

    /// Count a failure at `t`. Returns a trip (and forgets the address) at maxretry.
    pub fn add(&mut self, addr: Addr, t: Micros, message: &str) -> Option<Trip> {
        self.adds_since_sweep += 1;
        if self.adds_since_sweep >= 4096 {
            self.sweep(t);
        }
        let w = self.windows.entry(addr).or_default();
        while w.times.front().is_some_and(|&old| t - old > self.findtime) {
            w.times.pop_front();
            w.matches.pop_front();
        }
        w.times.push_back(t);
        let mut m = message.to_owned();
        if m.len() > MATCH_KEEP {
            let mut cut = MATCH_KEEP;
            while !m.is_char_boundary(cut) {
                cut -= 1;
            }
            m.truncate(cut);
        }
        w.matches.push_back(m);
        if w.times.len() as u32 >= self.maxretry {
            let w = self.windows.remove(&addr).unwrap_or_default();
            shrink_sparse(&mut self.windows);
            return Some(Trip {
                addr,
                failures: w.times.len() as u32,
                matches: w.matches.into(),
            });
        }
        None
    }

    /// Current failure count of `addr` in the window ending at `now`.
    pub fn count(&self, addr: &Addr, now: Micros) -> usize {
        self.windows.get(addr).map_or(0, |w| {
            w.times
                .iter()
                .filter(|&&t| now - t <= self.findtime)
                .count()
        })
    }

    /// Addresses with failures in the window (for status: "currently failed").
    pub fn failing(&self, now: Micros) -> usize {
        self.windows
            .values()
            .filter(|w| w.times.back().is_some_and(|&t| now - t <= self.findtime))
            .count()
    }

    pub fn forget(&mut self, addr: &Addr) {
        self.windows.remove(addr);
        shrink_sparse(&mut self.windows);
    }

    /// Drop windows whose newest failure is older than findtime: memory stays
    /// proportional to the addresses failing now, not to everything ever seen.
    pub fn sweep(&mut self, now: Micros) {
        let findtime = self.findtime;
        self.windows
            .retain(|_, w| w.times.back().is_some_and(|&t| now - t <= findtime));
        shrink_sparse(&mut self.windows);
        self.adds_since_sweep = 0;
    }

    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
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
}

impl BanBook {
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
        ban
    }

    /// Put back a ban read from durable state (start-up, reload).
    pub fn restore(&mut self, ban: Ban) {
        if let Some(u) = ban.until {
            self.deadlines.insert((u, ban.jail, ban.addr));
        }
        self.set_count(ban.jail, ban.addr, ban.count, ban.since);
        self.active.insert((ban.jail, ban.addr), ban);
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

    pub fn active_in(&self, jail: usize) -> usize {
        self.of_jail(jail).count()
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
    pub tracker: Tracker,
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
            tracker: Tracker::new(config.maxretry, config.findtime),
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
    fn trips_at_maxretry_inside_findtime() {
        let mut t = Tracker::new(3, 60 * SEC);
        assert!(t.add(a("192.0.2.1"), 0, "m").is_none());
        assert!(t.add(a("192.0.2.1"), 10 * SEC, "m").is_none());
        let trip = t.add(a("192.0.2.1"), 20 * SEC, "m").unwrap();
        assert_eq!(trip.failures, 3);
        assert_eq!(
            t.count(&a("192.0.2.1"), 20 * SEC),
            0,
            "forgotten after trip"
        );
    }

    #[test]
    fn old_failures_slide_out() {
        let mut t = Tracker::new(3, 60 * SEC);
        t.add(a("192.0.2.1"), 0, "m");
        t.add(a("192.0.2.1"), 50 * SEC, "m");
        // The first is 70 s old now: only two in the window.
        assert!(t.add(a("192.0.2.1"), 70 * SEC, "m").is_none());
        assert!(t.add(a("192.0.2.1"), 80 * SEC, "m").is_some());
    }

    #[test]
    fn sweep_bounds_memory() {
        let mut t = Tracker::new(5, 60 * SEC);
        for i in 0..10_000u32 {
            let ip = std::net::Ipv4Addr::from(0xC000_0200u32 + i);
            t.add(Addr::single(ip.into()), i as i64 * SEC, "m");
        }
        // Swept every 4096 adds: only the last findtime's worth (and one batch) remain.
        assert!(t.len() < 4096 + 61, "{}", t.len());
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
        // 20k addresses trip at once, then are forgotten by the tracker as they trip.
        let mut t = Tracker::new(2, 3600 * SEC);
        for addr in many(20_000) {
            t.add(addr, 0, "m");
        }
        let full = t.windows.capacity();
        assert!(full >= 20_000, "{full}");
        for addr in many(20_000) {
            assert!(t.add(addr, SEC, "m").is_some());
        }
        assert!(t.is_empty());
        assert!(t.windows.capacity() <= 2048, "{}", t.windows.capacity());

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
