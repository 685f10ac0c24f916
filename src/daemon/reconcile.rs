//! Start-up reconcile: what the kernel and the ban book must hold, as a pure diff of
//! *want* (the state's bans; after a state loss also what banjo itself left in the
//! kernel and wrote in the journal) and *have* (the kernel's `banjo-*` sets).
//!
//! What it owns: the rules. With the state intact it is the truth: its running bans
//! are kept (and put back in the kernel), its expired ones and those of jails no longer
//! configured are dropped, and kernel members it does not know are stale. With the
//! state lost (a corrupt file moved aside, state.db deleted, an empty new file, or no
//! file that can be opened) the kernel's members and the journal's ban history are the
//! only records left, so they are adopted, never deleted: a member keeps its remaining
//! kernel timeout (or the longer end its history gives: the kernel clamps long bans), a
//! ban of the history that is still running but missing from the kernel (lost with a
//! reboot) is put back, and the history's ban counts and totals come back too.
//!
//! What it must not do: any I/O. The daemon lists the kernel, reads the journal (only
//! entries banjo wrote as root: see daemon/history.rs) and carries out the [`Plan`].

use crate::addr::Addr;
use crate::ban::BanEntry;
use crate::state::StoredBan;
use crate::timefmt::{BanTime, Micros, SEC};
use std::collections::{BTreeMap, BTreeSet};

/// One of banjo's own journal entries about a ban, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// When the entry was written (µs since the epoch).
    pub time: Micros,
    pub jail: String,
    pub addr: Addr,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// "Ban": a durable ban of `bantime`, the `count`-th of the address in the jail.
    Ban {
        bantime: BanTime,
        count: u32,
        failures: u32,
    },
    /// "Restore Ban" at a start, with the time it had left.
    Restore { left: BanTime },
    /// "Ban … enforced, not durable": in the kernel for `bantime`, not in the state.
    NotDurable { bantime: BanTime },
    /// "Unban", whatever the reason.
    Unban,
}

/// A ban the history says is running (or was, until `until`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Running {
    pub since: Micros,
    /// None: permanent.
    pub until: Option<Micros>,
    pub count: u32,
    pub failures: u32,
}

/// The journal's ban history folded per (jail, address), in the order it was written.
#[derive(Debug, Default)]
pub struct History {
    running: BTreeMap<(String, Addr), Running>,
    /// Highest ban count and the start of the latest ban.
    counts: BTreeMap<(String, Addr), (u32, Micros)>,
    /// "Ban" entries per jail.
    bans: BTreeMap<String, u64>,
}

fn end(time: Micros, t: BanTime) -> Option<Micros> {
    match t {
        BanTime::Finite(d) => Some(time.saturating_add(d)),
        BanTime::Permanent => None,
    }
}

impl History {
    /// Fold records given oldest first. An unban ends a ban; a restore or a ban that
    /// was not durable continues or starts one without counting a ban.
    pub fn fold(records: impl IntoIterator<Item = Record>) -> History {
        let mut h = History::default();
        for r in records {
            let key = (r.jail, r.addr);
            let known = h.counts.get(&key).map_or(0, |c| c.0);
            let before = h.running.get(&key).copied();
            match r.kind {
                Kind::Ban {
                    bantime,
                    count,
                    failures,
                } => {
                    let c = h.counts.entry(key.clone()).or_insert((0, r.time));
                    c.0 = c.0.max(count);
                    c.1 = c.1.max(r.time);
                    *h.bans.entry(key.0.clone()).or_default() += 1;
                    let run = Running {
                        since: r.time,
                        until: end(r.time, bantime),
                        count: count.max(1),
                        failures,
                    };
                    h.running.insert(key, run);
                }
                Kind::Restore { left } => {
                    let run = Running {
                        since: before.map_or(r.time, |b| b.since),
                        until: end(r.time, left),
                        count: before.map_or(known.max(1), |b| b.count),
                        failures: before.map_or(0, |b| b.failures),
                    };
                    h.running.insert(key, run);
                }
                Kind::NotDurable { bantime } => {
                    let run = Running {
                        since: r.time,
                        until: end(r.time, bantime),
                        count: known + 1,
                        failures: 0,
                    };
                    h.running.insert(key, run);
                }
                Kind::Unban => {
                    h.running.remove(&key);
                }
            }
        }
        h
    }

    /// The running ban of `addr` in `jail` at `now`, if the history has one.
    pub fn running(&self, jail: &str, addr: &Addr, now: Micros) -> Option<Running> {
        self.running
            .get(&(jail.to_owned(), *addr))
            .copied()
            .filter(|r| r.until.is_none_or(|u| u > now))
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty() && self.counts.is_empty()
    }
}

/// What [`plan`] works from.
pub struct Inputs<'a> {
    pub now: Micros,
    /// The jails running now (their firewall objects are set up).
    pub jails: &'a [String],
    /// Every ban in the state, expired or not.
    pub stored: &'a [StoredBan],
    /// Why the state was lost; None: it is intact and is the truth.
    pub lost: Option<&'a str>,
    /// What each jail's sets hold now; a jail missing here could not be listed (then
    /// nothing of it is called stale or adopted).
    pub kernel: &'a BTreeMap<String, Vec<BanEntry>>,
    /// banjo's own ban history (read only after a loss; empty otherwise).
    pub history: &'a History,
}

/// Where an adopted ban was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Kernel,
    Journal,
    Both,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Kernel => "kernel",
            Source::Journal => "journal",
            Source::Both => "kernel+journal",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Adopted {
    pub ban: StoredBan,
    pub from: Source,
}

/// What to do.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Bans of the state still running: into the ban book and (again) the kernel.
    pub keep: Vec<StoredBan>,
    /// Bans of the state that ended while banjo was down: out of the state (and the
    /// kernel), with an unban entry.
    pub expired: Vec<StoredBan>,
    /// Bans of the state whose jail is not running: out of the state.
    pub orphaned: Vec<StoredBan>,
    /// After a loss: bans taken over from the kernel and the history, into the ban
    /// book, the state and the kernel.
    pub adopt: Vec<Adopted>,
    /// After a loss: ban counts from the history (jail, addr, count, latest ban).
    pub counts: Vec<(String, Addr, u32, Micros)>,
    /// After a loss: "Ban" entries per jail in the history (TOTAL BANNED, as far back
    /// as the journal goes).
    pub totals: Vec<(String, u64)>,
    /// With the state intact: kernel members it does not hold.
    pub stale: Vec<(String, Addr)>,
}

impl Plan {
    /// What each jail's sets must hold now, (address, end), kept and adopted bans.
    pub fn wanted(&self) -> BTreeMap<&str, Vec<(Addr, Option<Micros>)>> {
        let mut out: BTreeMap<&str, Vec<(Addr, Option<Micros>)>> = BTreeMap::new();
        for b in self.keep.iter().chain(self.adopt.iter().map(|a| &a.ban)) {
            out.entry(b.jail.as_str())
                .or_default()
                .push((b.addr, b.until_us));
        }
        out
    }
}

/// The later of two ends, permanent (None) being the latest.
fn later(a: Option<Micros>, b: Option<Micros>) -> Option<Micros> {
    Some(a?.max(b?))
}

/// The diff. Pure: the same inputs always give the same plan, in a stable order.
pub fn plan(inp: &Inputs<'_>) -> Plan {
    let mut p = Plan::default();
    let running: BTreeSet<&str> = inp.jails.iter().map(String::as_str).collect();
    for b in inp.stored {
        if !running.contains(b.jail.as_str()) {
            p.orphaned.push(b.clone());
        } else if b.until_us.is_some_and(|u| u <= inp.now) {
            p.expired.push(b.clone());
        } else {
            p.keep.push(b.clone());
        }
    }
    let kept: BTreeSet<(&str, Addr)> = p.keep.iter().map(|b| (b.jail.as_str(), b.addr)).collect();
    for jail in inp.jails {
        let members = inp.kernel.get(jail);
        for e in members.into_iter().flatten() {
            if kept.contains(&(jail.as_str(), e.addr)) {
                continue;
            }
            match inp.lost {
                None => p.stale.push((jail.clone(), e.addr)),
                Some(_) => p.adopt.push(adopt_member(inp, jail, e)),
            }
        }
        if inp.lost.is_none() {
            continue;
        }
        let in_kernel: BTreeSet<Addr> = members.into_iter().flatten().map(|e| e.addr).collect();
        for ((j, addr), _) in inp.history.running.range((jail.clone(), min_addr())..) {
            if j != jail {
                break;
            }
            if in_kernel.contains(addr) || kept.contains(&(jail.as_str(), *addr)) {
                continue;
            }
            let Some(r) = inp.history.running(jail, addr, inp.now) else {
                continue;
            };
            p.adopt.push(Adopted {
                ban: stored(jail, *addr, r),
                from: Source::Journal,
            });
        }
        for ((j, addr), &(count, last)) in inp.history.counts.range((jail.clone(), min_addr())..) {
            if j != jail {
                break;
            }
            p.counts.push((jail.clone(), *addr, count, last));
        }
        if let Some(&n) = inp.history.bans.get(jail) {
            p.totals.push((jail.clone(), n));
        }
    }
    p
}

/// The smallest [`Addr`], to start a range over one jail's keys.
fn min_addr() -> Addr {
    Addr::single(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

fn stored(jail: &str, addr: Addr, r: Running) -> StoredBan {
    StoredBan {
        jail: jail.to_owned(),
        addr,
        since_us: r.since,
        until_us: r.until,
        count: r.count.max(1),
        failures: r.failures,
    }
}

/// A kernel member after a loss: its own remaining time, or the history's if that ends
/// later (the kernel holds at most ~24.8 days), with the history's start and count.
fn adopt_member(inp: &Inputs<'_>, jail: &str, e: &BanEntry) -> Adopted {
    let kernel_end = e
        .timeout_secs
        .map(|t| inp.now.saturating_add(i64::from(t) * SEC));
    let known = inp
        .history
        .counts
        .get(&(jail.to_owned(), e.addr))
        .map_or(0, |c| c.0);
    match inp.history.running(jail, &e.addr, inp.now) {
        Some(r) => Adopted {
            ban: stored(
                jail,
                e.addr,
                Running {
                    until: later(kernel_end, r.until),
                    count: r.count.max(known),
                    ..r
                },
            ),
            from: Source::Both,
        },
        None => Adopted {
            ban: stored(
                jail,
                e.addr,
                Running {
                    since: inp.now,
                    until: kernel_end,
                    count: known.max(1),
                    failures: 0,
                },
            ),
            from: Source::Kernel,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Micros = 1_000_000 * SEC;
    const H: Micros = 3600 * SEC;

    fn a(s: &str) -> Addr {
        s.parse().unwrap()
    }

    fn ban(jail: &str, addr: &str, since: Micros, until: Option<Micros>, count: u32) -> StoredBan {
        StoredBan {
            jail: jail.into(),
            addr: a(addr),
            since_us: since,
            until_us: until,
            count,
            failures: 3,
        }
    }

    fn member(addr: &str, secs: Option<u32>) -> BanEntry {
        BanEntry {
            addr: a(addr),
            timeout_secs: secs,
        }
    }

    fn rec(time: Micros, jail: &str, addr: &str, kind: Kind) -> Record {
        Record {
            time,
            jail: jail.into(),
            addr: a(addr),
            kind,
        }
    }

    fn banned(hours: i64, count: u32) -> Kind {
        Kind::Ban {
            bantime: BanTime::Finite(hours * H),
            count,
            failures: 5,
        }
    }

    fn jails() -> Vec<String> {
        vec!["sshd".into(), "recidive".into()]
    }

    fn kernel(items: &[(&str, Vec<BanEntry>)]) -> BTreeMap<String, Vec<BanEntry>> {
        items
            .iter()
            .map(|(j, v)| (j.to_string(), v.clone()))
            .collect()
    }

    fn run(
        stored: &[StoredBan],
        lost: Option<&str>,
        k: &BTreeMap<String, Vec<BanEntry>>,
        h: &History,
    ) -> Plan {
        plan(&Inputs {
            now: NOW,
            jails: &jails(),
            stored,
            lost,
            kernel: k,
            history: h,
        })
    }

    #[test]
    fn intact_state_is_the_truth() {
        let stored = [
            ban("sshd", "192.0.2.1", NOW - H, Some(NOW + H), 1),
            ban("sshd", "192.0.2.2", NOW - 2 * H, Some(NOW - 1), 1),
            ban("gone", "192.0.2.3", NOW - H, None, 1),
            ban("recidive", "192.0.2.4", NOW - H, None, 2),
        ];
        let k = kernel(&[(
            "sshd",
            vec![member("192.0.2.1", Some(10)), member("198.51.100.9", None)],
        )]);
        let p = run(&stored, None, &k, &History::default());
        assert_eq!(p.keep, vec![stored[0].clone(), stored[3].clone()]);
        assert_eq!(p.expired, vec![stored[1].clone()]);
        assert_eq!(p.orphaned, vec![stored[2].clone()]);
        assert!(p.adopt.is_empty() && p.counts.is_empty() && p.totals.is_empty());
        assert_eq!(p.stale, vec![("sshd".to_string(), a("198.51.100.9"))]);
        // The state's end wins over the kernel's timeout for a kept ban.
        assert_eq!(p.wanted()["sshd"], vec![(a("192.0.2.1"), Some(NOW + H))]);
    }

    #[test]
    fn intact_state_ignores_the_history() {
        let h = History::fold([rec(NOW - 60 * SEC, "sshd", "203.0.113.1", banned(1, 1))]);
        let p = run(&[], None, &kernel(&[("sshd", vec![])]), &h);
        assert_eq!(p, Plan::default());
    }

    #[test]
    fn after_a_loss_kernel_members_are_adopted_with_their_timeouts() {
        let k = kernel(&[(
            "sshd",
            vec![
                member("192.0.2.1", Some(600)),
                member("2001:db8:1:2::/64", None),
            ],
        )]);
        let p = run(&[], Some("moved aside"), &k, &History::default());
        assert!(p.stale.is_empty(), "nothing of ours is deleted: {p:?}");
        let got: Vec<(Addr, Option<Micros>, Source)> = p
            .adopt
            .iter()
            .map(|x| (x.ban.addr, x.ban.until_us, x.from))
            .collect();
        assert_eq!(
            got,
            vec![
                (a("192.0.2.1"), Some(NOW + 600 * SEC), Source::Kernel),
                (a("2001:db8:1:2::/64"), None, Source::Kernel),
            ]
        );
        assert!(p
            .adopt
            .iter()
            .all(|x| x.ban.count == 1 && x.ban.since_us == NOW));
    }

    #[test]
    fn after_a_loss_the_history_fills_in_and_fills_up() {
        let t = NOW - 30 * 60 * SEC;
        let h = History::fold([
            // An older ban, ended; then the current one (the 3rd), 4h.
            rec(t - 20 * H, "sshd", "192.0.2.1", banned(1, 2)),
            rec(t - 19 * H, "sshd", "192.0.2.1", Kind::Unban),
            rec(t, "sshd", "192.0.2.1", banned(4, 3)),
            // A 60-day ban: the kernel clamps it to ~24.8 days.
            rec(t, "recidive", "192.0.2.5", banned(60 * 24, 1)),
            // Running per the history, gone from the kernel (a reboot): put back.
            rec(t, "sshd", "192.0.2.2", banned(1, 1)),
            // Ended by its unban, or by its own end.
            rec(t, "sshd", "192.0.2.3", banned(1, 1)),
            rec(t + SEC, "sshd", "192.0.2.3", Kind::Unban),
            rec(t - 2 * H, "sshd", "192.0.2.4", banned(1, 1)),
            // A jail that no longer runs.
            rec(t, "postfix", "192.0.2.6", banned(1, 1)),
        ]);
        let k = kernel(&[
            ("sshd", vec![member("192.0.2.1", Some(12_600))]),
            ("recidive", vec![member("192.0.2.5", Some(2_147_483))]),
        ]);
        let p = run(&[], Some("state.db missing"), &k, &h);
        let by: BTreeMap<(String, Addr), &Adopted> = p
            .adopt
            .iter()
            .map(|x| ((x.ban.jail.clone(), x.ban.addr), x))
            .collect();
        assert_eq!(by.len(), 3, "{p:#?}");
        let one = by[&("sshd".into(), a("192.0.2.1"))];
        assert_eq!(one.from, Source::Both);
        assert_eq!((one.ban.since_us, one.ban.count), (t, 3));
        assert_eq!(one.ban.until_us, Some(t + 4 * H), "history's end is later");
        let long = by[&("recidive".into(), a("192.0.2.5"))];
        assert_eq!(long.ban.until_us, Some(t + 60 * 24 * H));
        let back = by[&("sshd".into(), a("192.0.2.2"))];
        assert_eq!(back.from, Source::Journal);
        assert_eq!(back.ban.until_us, Some(t + H));
        // Counts of every address of a running jail, ended bans too; totals per jail.
        assert!(p.counts.contains(&("sshd".into(), a("192.0.2.1"), 3, t)));
        assert!(p
            .counts
            .contains(&("sshd".into(), a("192.0.2.4"), 1, t - 2 * H)));
        assert!(!p.counts.iter().any(|c| c.0 == "postfix"));
        assert_eq!(
            p.totals,
            vec![("sshd".to_string(), 5), ("recidive".to_string(), 1)]
        );
    }

    #[test]
    fn the_kernel_wins_when_its_ban_ends_later() {
        // A later ban whose entry never reached the journal (kill -9 with entries
        // queued): the kernel's timeout outlasts the history's.
        let t = NOW - 50 * 60 * SEC;
        let h = History::fold([rec(t, "sshd", "192.0.2.1", banned(1, 1))]);
        let k = kernel(&[("sshd", vec![member("192.0.2.1", Some(7200))])]);
        let p = run(&[], Some("lost"), &k, &h);
        assert_eq!(p.adopt[0].ban.until_us, Some(NOW + 7200 * SEC));
        // And a member the history says was unbanned is still adopted: the kernel
        // holding it is the newer fact.
        let h = History::fold([
            rec(t, "sshd", "192.0.2.1", banned(1, 1)),
            rec(t + SEC, "sshd", "192.0.2.1", Kind::Unban),
        ]);
        let p = run(&[], Some("lost"), &k, &h);
        assert_eq!(p.adopt[0].from, Source::Kernel);
        assert_eq!(p.adopt[0].ban.count, 1);
    }

    #[test]
    fn restores_and_bans_that_were_not_durable_continue_a_ban() {
        let t = NOW - 10 * H;
        let h = History::fold([
            rec(t, "sshd", "192.0.2.1", banned(2, 2)),
            // Restored at a start 9 hours later with 3h left (a long ban after all).
            rec(
                t + 9 * H,
                "sshd",
                "192.0.2.1",
                Kind::Restore {
                    left: BanTime::Finite(3 * H),
                },
            ),
            rec(
                NOW - H,
                "sshd",
                "192.0.2.2",
                Kind::NotDurable {
                    bantime: BanTime::Finite(2 * H),
                },
            ),
        ]);
        let r = h.running("sshd", &a("192.0.2.1"), NOW).unwrap();
        assert_eq!((r.since, r.until, r.count), (t, Some(t + 12 * H), 2));
        let nd = h.running("sshd", &a("192.0.2.2"), NOW).unwrap();
        assert_eq!((nd.until, nd.count), (Some(NOW + H), 1));
        // Neither counts as a ban entry.
        assert_eq!(h.bans.get("sshd"), Some(&1));
        let p = run(&[], Some("lost"), &kernel(&[("sshd", vec![])]), &h);
        assert_eq!(p.adopt.len(), 2);
        assert!(p.adopt.iter().all(|x| x.from == Source::Journal));
    }

    #[test]
    fn a_jail_that_could_not_be_listed_loses_nothing_and_adopts_nothing_from_the_kernel() {
        let stored = [ban("sshd", "192.0.2.1", NOW - H, Some(NOW + H), 1)];
        let p = run(&stored, None, &BTreeMap::new(), &History::default());
        assert_eq!(p.keep.len(), 1);
        assert!(p.stale.is_empty());
        let p = run(&[], Some("lost"), &BTreeMap::new(), &History::default());
        assert!(p.adopt.is_empty());
    }

    #[test]
    fn a_kept_ban_is_not_adopted_again() {
        // A fresh store that already holds one ban (a memory-mode start's adoption
        // committed later, say) and the same address in the kernel.
        let stored = [ban("sshd", "192.0.2.1", NOW - H, Some(NOW + H), 2)];
        let k = kernel(&[("sshd", vec![member("192.0.2.1", Some(3600))])]);
        let h = History::fold([rec(NOW - H, "sshd", "192.0.2.1", banned(2, 2))]);
        let p = run(&stored, Some("lost"), &k, &h);
        assert_eq!(p.keep.len(), 1);
        assert!(p.adopt.is_empty(), "{p:?}");
    }
}
