//! Firewall drift, found and repaired while banjo runs. `firewall-cmd --reload`, `ufw
//! reload`, `iptables -F`, `nft flush ruleset`, an `iptables-restore` of a file without
//! banjo's rules, `ipset flush` or a configuration-management run once disabled every
//! ban until banjo restarted (fail2ban repairs only at its next ban, fail2ban#1680,
//! #2055; CrowdSec's bouncer not at all, cs-firewall-bouncer#75; Docker listens to
//! firewalld's D-Bus signal only, moby/libnetwork#947).
//!
//! Two ways of noticing, neither of which costs an idle host a wake-up it does not
//! need:
//! - nf_tables announces every change (ban/netlink.rs: [`NftEvents`]), which covers
//!   the nftables backend and iptables-nft, Debian 12's iptables. A deletion in a
//!   table banjo uses, by a process banjo did not start, asks for a check
//!   [`SETTLE`] later (a flush announces each object it removes; one check follows
//!   the burst).
//! - what is not announced (ipset sets, legacy iptables) is glanced at every
//!   `[daemon] drift_check` (default 1 s) by netlink queries, no process started
//!   (`Firewall::glance`): a set missing, unreferenced, or holding fewer elements than
//!   the ban book, or a legacy filter table that changed, asks for a repair.
//!
//! A repair ([`Daemon::repair`]) is the same for every trigger: per jail, what its
//! setup lacks (`Firewall::check`) is made again (`Firewall::setup`, idempotent), the
//! bans the kernel no longer holds are added again, and the kernel is listed to see
//! that it holds them; then one journal entry (MESSAGE_ID `MSGID_REPAIRED`) says what
//! was missing and what was put back, and `banjo status` shows the last repair.

use super::{kernel_entry, log, rules, Daemon};
use crate::addr::Addr;
use crate::ban::netlink::NftEvents;
use crate::ban::{refuse_all, BanEntry, Family, Firewall, Refusal};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

/// How long a burst of announcements is given to end before the check.
pub(crate) const SETTLE: Duration = Duration::from_millis(30);
/// From this many elements on, banjo's own batch is made with the announcements
/// switched off (see `NftEvents::listen`), and one check follows it.
const QUIET_FROM: usize = 4096;

// The last repair, for `banjo status`.
use crate::control::protocol::Repair;

/// What is due now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Something changed (or may have): check and repair every jail.
    Check,
    /// Glance at what is not announced.
    Glance,
}

/// When to look at the firewall, and what was found.
pub(crate) struct DriftWatch {
    events: Option<NftEvents>,
    watched: Vec<(u8, &'static str)>,
    /// Glance (or, without announcements, check) this often; None: never.
    every: Option<Duration>,
    /// No announcements to be had: a periodic full check stands in for them.
    check_instead: bool,
    next: Option<Instant>,
    check_at: Option<Instant>,
    /// The element counts of the last glance that found everything in place: the same
    /// counts again need no look at the ban book.
    healthy: Option<Vec<(String, Family, u64)>>,
    /// Not listening, around a large batch of banjo's own.
    paused: bool,
    pub(crate) repairs: u64,
    pub(crate) last: Option<Repair>,
}

impl DriftWatch {
    /// Watch what `fw` needs watched; `every`: `[daemon] drift_check`.
    pub(crate) fn new(fw: &dyn Firewall, every: Option<Duration>) -> DriftWatch {
        let watched = fw.watched_tables();
        let mut check_instead = false;
        let events = if watched.is_empty() {
            None
        } else {
            match NftEvents::open() {
                Ok(e) => Some(e),
                Err(e) => {
                    tracing::warn!(
                        "cannot listen to nf_tables' change announcements ({e}); \
                         looking for firewall drift every drift_check instead"
                    );
                    check_instead = true;
                    None
                }
            }
        };
        let every = every.filter(|_| check_instead || fw.needs_glance());
        DriftWatch {
            events,
            watched,
            every,
            check_instead,
            next: every.map(|e| Instant::now() + e),
            check_at: None,
            healthy: None,
            paused: false,
            repairs: 0,
            last: None,
        }
    }

    /// banjo is about to change `n` elements itself: from [`QUIET_FROM`] on, stop
    /// listening until [`DriftWatch::settled`].
    pub(crate) fn own_batch(&mut self, n: usize) {
        let Some(e) = &self.events else { return };
        if n < QUIET_FROM || self.paused {
            return;
        }
        match e.listen(false) {
            Ok(()) => self.paused = true,
            Err(err) => tracing::debug!("pausing nf_tables announcements: {err}"),
        }
    }

    /// banjo's own batches are in the kernel: listen again, and check once for what
    /// others changed meanwhile.
    pub(crate) fn settled(&mut self) {
        let Some(e) = &self.events else { return };
        if !self.paused {
            return;
        }
        self.paused = false;
        if let Err(err) = e.listen(true) {
            tracing::warn!("listening to nf_tables announcements again: {err}");
        }
        self.check_at.get_or_insert(Instant::now() + SETTLE);
    }

    /// No watching at all (the dry-run firewall).
    pub(crate) fn off() -> DriftWatch {
        DriftWatch {
            events: None,
            watched: Vec::new(),
            every: None,
            check_instead: false,
            next: None,
            check_at: None,
            healthy: None,
            paused: false,
            repairs: 0,
            last: None,
        }
    }

    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.events.as_ref().map(|e| e.fd())
    }

    /// The announcement socket is readable.
    pub(crate) fn readable(&mut self) {
        let Some(e) = &self.events else { return };
        if e.drain(&self.watched) && self.check_at.is_none() {
            self.check_at = Some(Instant::now() + SETTLE);
        }
    }

    /// How long the poll may sleep for our sake.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        [self.check_at, self.next]
            .into_iter()
            .flatten()
            .map(|t| t.saturating_duration_since(now))
            .min()
    }

    /// What is due now, if anything (and when the next glance is).
    pub(crate) fn due(&mut self) -> Option<Due> {
        let now = Instant::now();
        if self.check_at.is_some_and(|t| t <= now) {
            self.check_at = None;
            return Some(Due::Check);
        }
        let every = self.every?;
        if self.next.is_some_and(|t| t <= now) {
            self.next = Some(now + every);
            return Some(if self.check_instead {
                Due::Check
            } else {
                Due::Glance
            });
        }
        None
    }
}

impl Daemon {
    /// Act on what [`DriftWatch::due`] said.
    pub(crate) fn on_drift(&mut self, due: Due) {
        let sick: BTreeSet<usize> = match due {
            Due::Check => (0..self.pipeline.jails.len()).collect(),
            Due::Glance => self.glance(),
        };
        if sick.is_empty() {
            return;
        }
        let trigger = match due {
            Due::Check => "the firewall changed",
            Due::Glance => "a look at the firewall",
        };
        let unresolved = self.repair(&sick, trigger);
        self.forget_refused(unresolved);
    }

    /// The jails a glance finds something wrong with.
    fn glance(&mut self) -> BTreeSet<usize> {
        let Some(g) = self.fw.glance() else {
            return BTreeSet::new();
        };
        let mut sick: BTreeSet<usize> = g
            .problems
            .iter()
            .filter_map(|(j, _)| self.pipeline.jail_index(j))
            .collect();
        if sick.is_empty() && self.drift.healthy.as_ref() == Some(&g.counts) {
            return sick;
        }
        // The kernel may hold more than the book (a ban lifted a moment ago), never less.
        let mut want: HashMap<(usize, Family), u64> = HashMap::new();
        for b in self.pipeline.bans.active() {
            *want.entry((b.jail, Family::of(&b.addr))).or_default() += 1;
        }
        for (jail, fam, n) in &g.counts {
            if let Some(ji) = self.pipeline.jail_index(jail) {
                if *n < want.get(&(ji, *fam)).copied().unwrap_or(0) {
                    sick.insert(ji);
                }
            }
        }
        self.drift.healthy = sick.is_empty().then_some(g.counts);
        sick
    }

    /// Make the firewall of `jails` whole again: what their setup lacks is made again,
    /// the bans the kernel lost are added again, and the kernel is listed to see it.
    /// Says what it did (journal, status). Returns the bans still not in the kernel,
    /// with the reason, for the caller to stop calling bans.
    pub(crate) fn repair(
        &mut self,
        jails: &BTreeSet<usize>,
        trigger: &str,
    ) -> Vec<(String, Refusal)> {
        let mut unresolved = Vec::new();
        let mut done: Vec<(String, String)> = Vec::new();
        for &ji in jails {
            let Some(jail) = self.pipeline.jails.get(ji) else {
                continue;
            };
            let name = jail.config.name.clone();
            let r = rules(&jail.config, self.wake_group());
            let problems = match self.fw.check(&r) {
                Ok(p) => p,
                Err(e) => {
                    log::firewall_error(&name, &format!("looking for drift: {e}"));
                    continue;
                }
            };
            let mut fixed = true;
            if !problems.is_empty() {
                if let Err(e) = self.fw.setup(&r) {
                    let what = problems.join(", ");
                    log::firewall_error(&name, &format!("repairing ({what}): {e}"));
                    fixed = false;
                }
            }
            // Even when the setup could not be made whole: a ban the kernel does not
            // hold must not stay one.
            let (restored, lost) = self.restore_lost(ji, &name);
            unresolved.extend(lost);
            if !fixed || (problems.is_empty() && restored == 0) {
                continue;
            }
            let mut what = problems;
            if restored > 0 {
                what.push(format!("{restored} bans put back"));
            }
            let what = what.join("; ");
            log::repaired(&name, &what, restored, trigger);
            done.push((name, what));
        }
        if !done.is_empty() {
            self.drift.repairs += 1;
            self.drift.healthy = None;
            self.drift.last = Some(Repair {
                time_us: self.now_us(),
                trigger: trigger.to_owned(),
                jails: done.iter().map(|d| d.0.clone()).collect(),
                what: done
                    .iter()
                    .map(|(j, w)| format!("{j}: {w}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
        unresolved
    }

    /// Add again the bans of jail `ji` the kernel does not hold; (how many it holds
    /// again, those it still does not hold and why).
    fn restore_lost(&mut self, ji: usize, name: &str) -> (usize, Vec<(String, Refusal)>) {
        let Some(have) = self.kernel_holds(name) else {
            return (0, Vec::new());
        };
        let now = self.now_us();
        let missing: Vec<BanEntry> = self
            .pipeline
            .bans
            .of_jail(ji)
            .filter(|b| !have.contains(&b.addr))
            .map(|b| kernel_entry(b.addr, b.until, now))
            .collect();
        if missing.is_empty() {
            return (0, Vec::new());
        }
        self.drift.own_batch(missing.len());
        let refused = match self.fw.ban(name, &missing) {
            Ok(r) => r,
            Err(e) => refuse_all(&missing, &e.to_string()),
        };
        let after = self.kernel_holds(name).unwrap_or_default();
        let mut lost = Vec::new();
        let mut restored = 0;
        for e in missing {
            if after.contains(&e.addr) {
                restored += 1;
                continue;
            }
            let reason = refused
                .iter()
                .find(|r| r.entry.addr == e.addr)
                .map(|r| r.reason.clone())
                .unwrap_or_else(|| "not in the kernel after it was added again".into());
            lost.push((name.to_owned(), Refusal { entry: e, reason }));
        }
        (restored, lost)
    }

    /// What the kernel holds for the jail, or None (said) when it cannot be listed.
    pub(crate) fn kernel_holds(&mut self, name: &str) -> Option<HashSet<Addr>> {
        match self.fw.list(name) {
            Ok(v) => Some(v.into_iter().collect()),
            Err(e) => {
                log::firewall_error(name, &format!("listing bans: {e}"));
                None
            }
        }
    }
}
