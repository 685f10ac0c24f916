//! The decision pipeline shared by the daemon and `banjo replay`: entry -> route ->
//! filter -> failure -> tracker -> ban decision -> event; and clock -> unban.
//!
//! It owns no source, no firewall and no wall clock: time is the entries' time (or
//! what the caller passes to [`Pipeline::advance`]), so replay runs on a virtual clock.

use crate::addr::Unbannable;
use crate::config::JailConfig;
use crate::events::{Event, MSGID_BAN};
use crate::jail::escalation::{Decision, Escalator, Refusal};
use crate::jail::{BanBook, Jail, Tracker};
use crate::journal::source::Origin;
use crate::journal::Entry;
use crate::route::{Routed, Router};
use crate::timefmt::{format_duration, BanTime, Micros};
use std::net::IpAddr;
use std::sync::Arc;

pub struct Pipeline {
    pub jails: Vec<Jail>,
    /// Every jail's logpath patterns, once each, in the order file entries' origin
    /// masks number them ([`Origin::Logs`]); at most [`MAX_LOGPATHS`].
    pub logpaths: Vec<LogPathOf>,
    /// Per jail: which of `logpaths` it reads (bit i: logpaths[i]).
    log_masks: Vec<u64>,
    /// Every jail's journalmatch, for one routing pass per entry.
    router: Router,
    /// [`Router::route`]'s scratch (taken out while an entry is fed).
    routed: Routed,
    /// Every jail's failure windows, under one memory budget (index: jail).
    pub tracker: Tracker,
    pub bans: BanBook,
    /// Feed each ban back as a synthetic journal entry (replay: there is no journal to
    /// write to, so recidive sees bans this way).
    pub feed_back_bans: bool,
    /// Latest time seen; never goes backwards.
    pub now: Micros,
    /// Re-reading entries whose decisions are already in durable state (daemon
    /// start-up): count failures so windows are whole again, but decide nothing.
    pub warmup: bool,
    /// The first failure of each kind of unbannable address per jail (the caller says
    /// so, once; later ones are only counted in the jail's stats).
    pub notices: Vec<Notice>,
    noticed: std::collections::BTreeSet<(usize, Unbannable)>,
    /// Recent bans per network, for subnet escalation (jail/escalation.rs).
    pub escalator: Escalator,
    /// Networks that reached escalate_after but were not banned, once each (the
    /// caller says so).
    pub escalation_notices: Vec<EscalationNotice>,
    /// Member bans lifted by escalation whose network ban the kernel may still
    /// refuse: the daemon gives them back then, and clears this once the kernel
    /// answered (daemon/escalation.rs).
    pub lifted: Vec<crate::jail::Ban>,
}

/// A network subnet escalation did not ban, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationNotice {
    pub jail: String,
    pub net: crate::addr::Addr,
    pub why: Refusal,
}

/// A failure whose address no ban can cover (see [`crate::addr::unbannable`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub jail: String,
    pub ip: IpAddr,
    pub why: Unbannable,
}

/// How many distinct logpath patterns all jails may name together (one bit each in a
/// file entry's origin).
pub const MAX_LOGPATHS: usize = 64;

/// One logpath pattern, the jails that read it, and the datepattern of the first of
/// them (a file's lines are read one way for all its jails).
#[derive(Clone)]
pub struct LogPathOf {
    pub pattern: String,
    pub jails: Vec<String>,
    pub datepattern: crate::journal::datepattern::DatePattern,
}

/// The combined logpath list and each jail's mask over it. Patterns past
/// MAX_LOGPATHS are dropped here, with an error logged.
fn logpath_masks(configs: &[Arc<JailConfig>]) -> (Vec<LogPathOf>, Vec<u64>) {
    let mut paths: Vec<LogPathOf> = Vec::new();
    let mut masks = Vec::with_capacity(configs.len());
    for c in configs {
        let mut mask = 0u64;
        for p in &c.logpath {
            let i = match paths.iter().position(|x| &x.pattern == p) {
                Some(i) => {
                    paths[i].jails.push(c.name.clone());
                    i
                }
                None if paths.len() < MAX_LOGPATHS => {
                    paths.push(LogPathOf {
                        pattern: p.clone(),
                        jails: vec![c.name.clone()],
                        datepattern: c.datepattern.clone(),
                    });
                    paths.len() - 1
                }
                None => {
                    tracing::error!(
                        "[{}] logpath {p:?} not read: all jails together may name at most {MAX_LOGPATHS} logpaths",
                        c.name
                    );
                    continue;
                }
            };
            mask |= 1 << i;
        }
        masks.push(mask);
    }
    (paths, masks)
}

/// The longest findtime of the jails that read log files (their warm-up window).
pub fn logfile_window(configs: &[Arc<JailConfig>]) -> i64 {
    configs
        .iter()
        .filter(|c| !c.logpath.is_empty())
        .map(|c| c.findtime)
        .max()
        .unwrap_or(0)
}

impl Pipeline {
    /// With the default tracker budget ([`set_tracker_memory`](Self::set_tracker_memory)).
    pub fn new(configs: Vec<Arc<JailConfig>>, self_addrs: &[IpAddr]) -> Pipeline {
        let (logpaths, log_masks) = logpath_masks(&configs);
        let rules: Vec<&crate::route::MatchRules> =
            configs.iter().map(|c| &c.journalmatch).collect();
        let router = Router::new(&rules);
        Pipeline {
            logpaths,
            log_masks,
            router,
            routed: Routed::default(),
            tracker: Tracker::new(
                crate::config::DEFAULT_TRACKER_MEMORY,
                configs.iter().map(|c| (c.maxretry, c.findtime)),
            ),
            jails: configs
                .into_iter()
                .map(|c| Jail::new(c, self_addrs))
                .collect(),
            bans: BanBook::default(),
            feed_back_bans: false,
            now: 0,
            warmup: false,
            notices: Vec::new(),
            noticed: Default::default(),
            escalator: Escalator::default(),
            escalation_notices: Vec::new(),
            lifted: Vec::new(),
        }
    }

    /// Take jail `ji` out before any entry was fed (its firewall setup failed): the
    /// per-jail tables are indexed like `jails`.
    pub fn remove_jail(&mut self, ji: usize) {
        self.jails.remove(ji);
        self.log_masks.remove(ji);
        self.tracker = Tracker::new(
            self.tracker.budget(),
            self.jails
                .iter()
                .map(|j| (j.config.maxretry, j.config.findtime)),
        );
        let rules: Vec<&crate::route::MatchRules> =
            self.jails.iter().map(|j| &j.config.journalmatch).collect();
        self.router = Router::new(&rules);
    }

    /// The failure windows' memory budget (`[daemon] tracker_memory`).
    pub fn set_tracker_memory(&mut self, bytes: usize) {
        self.tracker.set_budget(bytes);
    }

    /// Fields the reader must fetch for routing and filters, besides MESSAGE.
    pub fn wanted_fields(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for j in &self.jails {
            out.extend(j.config.journalmatch.fields().map(str::to_owned));
            out.extend(j.config.filter.wanted_fields());
            if j.config.filter.host_field.is_some() {
                out.push("BANJO_JAIL".into());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Process one entry; decisions go to `emit`. Returns whether any jail took it.
    pub fn feed(&mut self, entry: &Entry, emit: &mut dyn FnMut(Event)) -> bool {
        self.feed_where(entry, emit, &|_| true)
    }

    /// [`Pipeline::feed`] to the jails (by index) `only` accepts: a restart's warm-up
    /// gives each jail only the history of its own findtime.
    pub fn feed_where(
        &mut self,
        entry: &Entry,
        emit: &mut dyn FnMut(Event),
        only: &dyn Fn(usize) -> bool,
    ) -> bool {
        self.advance(entry.time_us, emit);
        let mut taken = false;
        let mut fed_back: Vec<Entry> = Vec::new();
        let mut routed = std::mem::take(&mut self.routed);
        match entry.origin {
            Origin::Journal => self.router.route(entry, &mut routed),
            Origin::Logs(m) => {
                routed.jails.clear();
                routed
                    .jails
                    .extend((0..self.jails.len()).filter(|&ji| m & self.log_masks[ji] != 0));
            }
        }
        let own = entry.fields.get("BANJO_JAIL");
        for &ji in &routed.jails {
            if !only(ji) {
                continue;
            }
            let jail = &mut self.jails[ji];
            // A jail never counts its own ban entries (recidive must not feed itself).
            if own.is_some_and(|j| j == jail.config.name.as_bytes()) {
                continue;
            }
            jail.stats.entries += 1;
            taken = true;
            let (outcome, failure) = jail.session.process(entry);
            match outcome {
                crate::filter::Outcome::Missed => continue,
                crate::filter::Outcome::Ignored { .. } => {
                    jail.stats.ignored_by_regex += 1;
                    continue;
                }
                crate::filter::Outcome::Matched(_) => jail.stats.matched += 1,
            }
            let Some(failure) = failure else { continue };
            if jail.ignores(&failure) {
                jail.stats.ignored_addresses += 1;
                continue;
            }
            // Not a silent drop: counted, and said once per jail and kind.
            if let Some(why) = crate::addr::unbannable(failure.ip, jail.config.ban_loopback) {
                jail.stats.unbannable += 1;
                if self.noticed.insert((ji, why)) {
                    self.notices.push(Notice {
                        jail: jail.config.name.clone(),
                        ip: failure.ip,
                        why,
                    });
                }
                continue;
            }
            let key = jail.key_for(failure.ip);
            let covered = jail
                .config
                .escalation
                .is_some_and(|c| Escalator::covers(&c, &self.bans, ji, &key));
            if covered || self.bans.is_banned(ji, &key) {
                jail.stats.already_banned += 1;
                continue;
            }
            jail.stats.failures += 1;
            let t = failure.time_us;
            let Some(trip) = self.tracker.add(ji, key, t, &entry.message_lossy()) else {
                continue;
            };
            // A warm entry (a file line re-read after a restart) counts like warm-up.
            if self.warmup || entry.warm {
                continue;
            }
            let n = self.bans.count(ji, &key) + 1;
            let bantime = jail.config.bantime_for(n);
            let ban = self.bans.ban(ji, key, self.now, bantime, trip.failures);
            jail.stats.bans += 1;
            let ev = Event::Ban {
                time_us: self.now,
                jail: jail.config.name.clone(),
                addr: key,
                failures: trip.failures,
                bantime,
                count: ban.count,
                matches: trip.matches,
                escalated: 0,
            };
            if self.feed_back_bans {
                fed_back.push(ban_entry(&ev));
            }
            emit(ev);
            self.escalate(ji, key, emit);
        }
        self.routed = routed;
        for e in fed_back {
            self.feed(&e, emit);
        }
        taken
    }

    /// A ban decided by hand (`banjo ban`), with the jail's bantime unless given.
    pub fn manual_ban(
        &mut self,
        ji: usize,
        key: crate::addr::Addr,
        bantime: Option<BanTime>,
    ) -> Event {
        let jail = &mut self.jails[ji];
        self.tracker.forget(ji, &key);
        let n = self.bans.count(ji, &key) + 1;
        let bantime = bantime.unwrap_or_else(|| jail.config.bantime_for(n));
        let ban = self.bans.ban(ji, key, self.now, bantime, 0);
        jail.stats.bans += 1;
        Event::Ban {
            time_us: self.now,
            jail: jail.config.name.clone(),
            addr: key,
            failures: 0,
            bantime,
            count: ban.count,
            matches: Vec::new(),
            escalated: 0,
        }
    }

    /// After jail `ji` banned `key`: ban its network if escalation says so (one ban
    /// for the network, then the members' bans it replaces lifted), or note why not.
    fn escalate(&mut self, ji: usize, key: crate::addr::Addr, emit: &mut dyn FnMut(Event)) {
        let jail = &self.jails[ji];
        let Some(cfg) = jail.config.escalation else {
            return;
        };
        match self.escalator.observe(ji, jail, &self.bans, key, self.now) {
            None => {}
            Some(Decision::Refuse { net, why }) => {
                self.escalation_notices.push(EscalationNotice {
                    jail: jail.config.name.clone(),
                    net,
                    why,
                });
            }
            Some(Decision::Escalate { net, members }) => {
                let jail = &mut self.jails[ji];
                let n = self.bans.count(ji, &net) + 1;
                let bantime = cfg.bantime.unwrap_or_else(|| jail.config.bantime_for(n));
                let k = members.len() as u32;
                let ban = self.bans.ban(ji, net, self.now, bantime, k);
                jail.stats.bans += 1;
                jail.stats.escalations += 1;
                emit(Event::Ban {
                    time_us: self.now,
                    jail: jail.config.name.clone(),
                    addr: net,
                    failures: k,
                    bantime,
                    count: ban.count,
                    matches: members.iter().map(|m| m.to_string()).collect(),
                    escalated: k,
                });
                // A member whose own ban ends later keeps it: escalation never
                // shortens a ban.
                for m in members {
                    let outlasts = match (self.bans.get(ji, &m).map(|b| b.until), ban.until) {
                        (None, _) => continue,
                        (Some(_), None) => false,
                        (Some(None), Some(_)) => true,
                        (Some(Some(mu)), Some(nu)) => mu > nu,
                    };
                    if outlasts {
                        continue;
                    }
                    if let Some(b) = self.bans.remove(ji, &m) {
                        self.lifted.push(b);
                    }
                    emit(Event::Unban {
                        time_us: self.now,
                        jail: jail.config.name.clone(),
                        addr: m,
                        reason: crate::events::UnbanReason::Escalated,
                    });
                }
            }
        }
    }

    /// Index of the jail named `name`.
    pub fn jail_index(&self, name: &str) -> Option<usize> {
        self.jails.iter().position(|j| j.config.name == name)
    }

    /// Move the clock to `now`, lift bans that ended and drop expired windows.
    pub fn advance(&mut self, now: Micros, emit: &mut dyn FnMut(Event)) {
        if now > self.now {
            self.now = now;
        }
        if self.tracker.due().is_some_and(|t| t <= self.now) {
            self.tracker.sweep(self.now);
        }
        for ban in self.bans.expire(self.now) {
            let jail = &mut self.jails[ban.jail];
            jail.stats.unbans += 1;
            emit(Event::Unban {
                time_us: ban.until.unwrap_or(self.now),
                jail: jail.config.name.clone(),
                addr: ban.addr,
                reason: crate::events::UnbanReason::Expired,
            });
        }
    }
}

/// The journal entry banjo writes for a ban, as an [`Entry`]: MESSAGE in the
/// fail2ban.log style and the BANJO_* fields recidive reads.
pub fn ban_entry(ev: &Event) -> Entry {
    let mut e = Entry::default();
    if let Event::Ban {
        time_us,
        jail,
        addr,
        failures,
        bantime,
        ..
    } = ev
    {
        e.time_us = *time_us;
        e.set_message(ban_message(jail, &addr.to_string(), *failures, *bantime).as_bytes());
        e.fields.set("MESSAGE_ID", MSGID_BAN.as_bytes());
        e.fields.set("BANJO_JAIL", jail.as_bytes());
        e.fields
            .set("BANJO_IP", addr.net().addr().to_string().as_bytes());
        e.fields.set("SYSLOG_IDENTIFIER", b"banjo");
        // As journald records the daemon's own entries: banjo runs as root, and
        // recidive trusts ban entries from root only.
        e.fields.set("_UID", b"0");
    }
    e
}

/// `[sshd] Ban 203.0.113.7 (5 failures, 1h)` — reads like fail2ban.log.
pub fn ban_message(jail: &str, addr: &str, failures: u32, bantime: BanTime) -> String {
    let t = match bantime {
        BanTime::Finite(us) => format_duration(us),
        BanTime::Permanent => "permanent".into(),
    };
    format!("[{jail}] Ban {addr} ({failures} failures, {t})")
}

#[cfg(test)]
mod escalation_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Arc<JailConfig> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("banjo.toml"),
            format!("[jail.sshd]\nenabled = true\nmaxretry = 1\nignoreip = []\nignoreself = false\n{extra}"),
        )
        .unwrap();
        let c = crate::config::load(dir.path(), true);
        assert!(!c.has_errors(), "{:#?}", c.diagnostics);
        let j = c.jails.into_iter().find(|j| j.name == "sshd").unwrap();
        Arc::new(j)
    }

    fn failure(ip: &str) -> Entry {
        let mut e = Entry {
            time_us: 1_000_000,
            ..Default::default()
        };
        e.set_message(format!("Failed password for root from {ip} port 22 ssh2").as_bytes());
        e.fields.set("_COMM", b"sshd");
        e.fields.set("_UID", b"0");
        e.fields.set("_SYSTEMD_UNIT", b"ssh.service");
        e.fields.set("SYSLOG_IDENTIFIER", b"sshd");
        e
    }

    /// Unbannable addresses are counted and said once per kind, never banned; the
    /// attacker between them is banned as usual.
    #[test]
    fn unbannable_addresses_are_counted_said_once_and_never_banned() {
        let mut p = Pipeline::new(vec![config("")], &[]);
        let mut bans = Vec::new();
        for ip in [
            "0.0.0.0",
            "224.0.0.1",
            "0.0.0.0",
            "203.0.113.5",
            "::ffff:0.0.0.0",
            "127.0.0.1",
        ] {
            p.feed(&failure(ip), &mut |ev| bans.push(ev));
        }
        assert_eq!(bans.len(), 1, "{bans:?}");
        assert_eq!(p.jails[0].stats.unbannable, 5);
        let kinds: Vec<Unbannable> = p.notices.iter().map(|n| n.why).collect();
        assert_eq!(
            kinds,
            [
                Unbannable::Unspecified,
                Unbannable::Multicast,
                Unbannable::Loopback
            ]
        );
        // With ban_loopback, loopback is an address like any other.
        let mut p = Pipeline::new(vec![config("ban_loopback = true\n")], &[]);
        let mut bans = Vec::new();
        p.feed(&failure("127.0.0.1"), &mut |ev| bans.push(ev));
        assert_eq!(bans.len(), 1);
    }
}
