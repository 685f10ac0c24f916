//! The decision pipeline shared by the daemon and `banjo replay`: entry -> route ->
//! filter -> failure -> tracker -> ban decision -> event; and clock -> unban.
//!
//! It owns no source, no firewall and no wall clock: time is the entries' time (or
//! what the caller passes to [`Pipeline::advance`]), so replay runs on a virtual clock.

use crate::config::JailConfig;
use crate::events::{Event, MSGID_BAN};
use crate::jail::{BanBook, Jail, Tracker};
use crate::journal::Entry;
use crate::timefmt::{format_duration, BanTime, Micros};
use std::net::IpAddr;
use std::sync::Arc;

pub struct Pipeline {
    pub jails: Vec<Jail>,
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
}

impl Pipeline {
    /// With the default tracker budget ([`set_tracker_memory`](Self::set_tracker_memory)).
    pub fn new(configs: Vec<Arc<JailConfig>>, self_addrs: &[IpAddr]) -> Pipeline {
        Pipeline {
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
        }
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
        for ji in 0..self.jails.len() {
            if !only(ji) {
                continue;
            }
            let jail = &mut self.jails[ji];
            if !jail.config.journalmatch.accepts(entry) {
                continue;
            }
            // A jail never counts its own ban entries (recidive must not feed itself).
            if entry
                .fields
                .get("BANJO_JAIL")
                .is_some_and(|j| j == jail.config.name.as_bytes())
            {
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
            let key = jail.key_for(failure.ip);
            if self.bans.is_banned(ji, &key) {
                jail.stats.already_banned += 1;
                continue;
            }
            jail.stats.failures += 1;
            let t = failure.time_us;
            let Some(trip) = self.tracker.add(ji, key, t, &entry.message_lossy()) else {
                continue;
            };
            if self.warmup {
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
            };
            if self.feed_back_bans {
                fed_back.push(ban_entry(&ev));
            }
            emit(ev);
        }
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
