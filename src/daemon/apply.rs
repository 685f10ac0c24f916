//! Carrying out decisions: state first (durable, with the cursor), then the
//! firewall, then the journal entry and the hooks. A ban the kernel refuses gets no
//! journal entry and no hook (daemon/firewall.rs takes it out of state again).
//!
//! A decision the state could not take is still carried out in the kernel (the set's
//! timeout lifts it on time whatever happens to banjo), but it is not reported as
//! done: its "Ban" entry, hooks and TOTAL BANNED wait (in `Daemon::awaiting`) until a
//! retry makes it durable; meanwhile its entry says "enforced, not durable" and why
//! (see durability.rs).
//!
//! While a backlog is read (a flood, a restart after downtime) the last two steps are
//! put off: the kernel gets each batch in the background while the next batch is
//! read, and journal entries and hooks follow once the backlog is in the kernel (or
//! after HOLD_FOR / HOLD_MAX). On two cores, journald ingesting one entry per ban
//! (~45 µs each) was the largest single cost of applying 100k bans.

use super::{kernel_entry, log, Daemon};
use crate::ban::{refuse_all, BanEntry, Refusal};
use crate::config::ActionEvent;
use crate::events::Event;
use crate::journal::source::Position;
use crate::state::{Batch, NotDurable, StoredBan};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long, and for how many decisions, a backlog may hold back journal entries and
/// hooks: a flood that never lets up still gets its history, a little late.
const HOLD_FOR: Duration = Duration::from_secs(5);
const HOLD_MAX: usize = 1 << 17;

/// A decision whose journal entry and hooks wait for the end of a backlog. No heap
/// allocation of its own (its matches are a range of `Daemon::held_text`): held
/// decisions are made while the ban book grows, and 100k small allocations in between
/// its nodes left the heap fragmented once they were freed (RssAnon 62 MiB after a
/// 100k burst, 51 MiB even after malloc_trim; main: 35 MiB).
pub(crate) enum Held {
    Ban {
        jail: usize,
        addr: crate::addr::Addr,
        failures: u32,
        bantime: crate::timefmt::BanTime,
        count: u32,
        matches: std::ops::Range<usize>,
        /// In the state: may be reported as done.
        durable: bool,
        /// Subnet escalation: how many member bans this network ban replaces.
        escalated: u32,
    },
    Unban {
        jail: usize,
        addr: crate::addr::Addr,
        reason: crate::events::UnbanReason,
        durable: bool,
    },
}

impl Held {
    fn durable(&self) -> bool {
        match self {
            Held::Ban { durable, .. } | Held::Unban { durable, .. } => *durable,
        }
    }

    /// Is this the held report of a ban of `addr` in jail `jail`?
    fn is_ban_of(&self, jail: usize, addr: &crate::addr::Addr) -> bool {
        matches!(self, Held::Ban { jail: j, addr: a, .. } if *j == jail && a == addr)
    }
}

/// What became of decisions carried out at once: whether the state took them, and the
/// bans the kernel refused (so they are no bans: not in state, not reported).
pub(crate) struct Applied {
    pub(crate) committed: Result<(), NotDurable>,
    pub(crate) refused: Vec<(String, Refusal)>,
}

/// Held decisions in order, their matches in one string (see [`Held`]).
#[derive(Default)]
pub(crate) struct HeldQueue {
    items: Vec<Held>,
    text: String,
}

impl HeldQueue {
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Drop the held report of a ban of `addr` in `jail` (the kernel refused it).
    pub(crate) fn drop_ban(&mut self, jail: usize, addr: &crate::addr::Addr) {
        self.items.retain(|h| !h.is_ban_of(jail, addr));
    }

    /// Bans among the held decisions.
    pub(crate) fn bans(&self) -> usize {
        self.items
            .iter()
            .filter(|h| matches!(h, Held::Ban { .. }))
            .count()
    }

    /// Renumber jails after a reload (`map`: old index to new); decisions of jails the
    /// reload removed are dropped (their bans were lifted with the jail). Returns how
    /// many were dropped.
    pub(crate) fn remap(&mut self, map: &std::collections::HashMap<usize, usize>) -> usize {
        let before = self.items.len();
        self.items.retain_mut(|h| {
            let (Held::Ban { jail, .. } | Held::Unban { jail, .. }) = h;
            match map.get(jail) {
                Some(&new) => {
                    *jail = new;
                    true
                }
                None => false,
            }
        });
        before - self.items.len()
    }

    /// Append `parts` joined by newlines to the text; their range.
    fn push_text<'a>(&mut self, parts: impl Iterator<Item = &'a str>) -> std::ops::Range<usize> {
        let start = self.text.len();
        for (i, m) in parts.enumerate() {
            if i > 0 {
                self.text.push('\n');
            }
            self.text.push_str(m);
        }
        start..self.text.len()
    }
}

/// Decisions turned into what each step needs, so that the durable step can run on
/// another thread while the next batch is read (see `Daemon::drain_journal`).
pub(crate) struct Prepared {
    pub(crate) batch: Batch,
    fw_bans: BTreeMap<String, Vec<BanEntry>>,
    fw_unbans: BTreeMap<String, Vec<crate::addr::Addr>>,
    events: Vec<Event>,
}

impl Daemon {
    /// Carry out `events` and report them (journal entries, hooks) at once. A commit
    /// error: the kernel has them, the state does not (they are reported once it does).
    pub(crate) fn apply(&mut self, events: Vec<Event>, cursor: Option<Position>) -> Applied {
        let p = self.prepare(events, cursor);
        let committed = self.state.commit(&p.batch);
        let result = committed.clone();
        let refused = self.carry_out(p, committed, false);
        Applied {
            committed: result,
            refused,
        }
    }

    /// What the state, the kernel and the reports need from `events`.
    pub(crate) fn prepare(&self, events: Vec<Event>, pos: Option<Position>) -> Prepared {
        let mut batch = Batch::default();
        match pos {
            Some(Position::Journal(c)) => batch.cursor = Some(c),
            Some(Position::Files(f)) => batch.files = Some(f),
            None => {}
        }
        let now = self.now_us();
        let mut fw_bans: BTreeMap<String, Vec<BanEntry>> = BTreeMap::new();
        let mut fw_unbans: BTreeMap<String, Vec<crate::addr::Addr>> = BTreeMap::new();
        let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
        for ev in &events {
            match ev {
                Event::Ban {
                    jail,
                    addr,
                    failures,
                    ..
                } => {
                    let Some(ji) = self.pipeline.jail_index(jail) else {
                        continue;
                    };
                    let Some(b) = self.pipeline.bans.get(ji, addr) else {
                        continue;
                    };
                    *totals.entry(jail).or_default() += 1;
                    batch.bans.push(StoredBan {
                        jail: jail.clone(),
                        addr: *addr,
                        since_us: b.since,
                        until_us: b.until,
                        count: b.count,
                        failures: *failures,
                    });
                    fw_bans
                        .entry(jail.clone())
                        .or_default()
                        .push(kernel_entry(*addr, b.until, now));
                }
                Event::Unban { jail, addr, .. } => {
                    // The state deletes before it inserts: a ban lifted in the batch
                    // that made it (subnet escalation's last member) must not be
                    // inserted after its deletion.
                    batch.bans.retain(|b| !(b.addr == *addr && b.jail == *jail));
                    batch.unbans.push((jail.clone(), *addr));
                    fw_unbans.entry(jail.clone()).or_default().push(*addr);
                }
            }
        }
        batch.totals = totals.into_iter().map(|(j, n)| (j.to_owned(), n)).collect();
        Prepared {
            batch,
            fw_bans,
            fw_unbans,
            events,
        }
    }

    /// The steps after `p.batch` was committed (with the result `committed`). With
    /// `more_coming` (a backlog is being read) the kernel work may go on in the
    /// background and the reports wait for [`Daemon::report`].
    pub(crate) fn carry_out(
        &mut self,
        p: Prepared,
        committed: Result<(), NotDurable>,
        more_coming: bool,
    ) -> Vec<(String, Refusal)> {
        let Prepared {
            batch,
            fw_bans,
            fw_unbans,
            events,
        } = p;
        self.note_decisions(events.len());
        // 1. Durable: a ban reported done survives kill -9 from here on. One that is
        // not still blocks the attacker; the state keeps it for the next retry.
        let durable = committed.is_ok();
        if durable {
            for (jail, n) in &batch.totals {
                *self.totals.entry(jail.clone()).or_default() += n;
            }
        } else {
            self.announce_state();
        }
        if batch.cursor.is_some() {
            // Committed, or kept to be committed with the decisions it follows.
            self.cursor_dirty = false;
            self.last_cursor_commit = std::time::Instant::now();
        }
        if batch.files.is_some() {
            self.files_dirty = false;
        }
        // 2. Kernel. Unbans wait for earlier background work: the order holds. A batch
        // that could not even start is refused as a whole (below, once its reports are
        // held, so that they can be dropped).
        let mut refused = Vec::new();
        let own = fw_bans.values().map(Vec::len).sum::<usize>()
            + fw_unbans.values().map(Vec::len).sum::<usize>();
        self.drift.own_batch(own);
        for (jail, entries) in &fw_bans {
            if let Err(e) = self.fw.ban_start(jail, entries) {
                log::firewall_error(jail, &format!("adding {} bans: {e}", entries.len()));
                let all = refuse_all(entries, &e.to_string());
                refused.extend(all.into_iter().map(|r| (jail.clone(), r)));
            }
        }
        // Ban latency: from the entry that completed each ban to the kernel (settled
        // in report()); bans by hand have no such entry.
        for ev in &events {
            if let Event::Ban {
                time_us,
                jail,
                failures,
                ..
            } = ev
            {
                let by_hand = *failures == 0;
                if !by_hand && !refused.iter().any(|(j, _)| j == jail) {
                    self.metrics.pending_latency.push(*time_us);
                }
            }
        }
        for (jail, addrs) in &fw_unbans {
            if let Err(e) = self.fw.unban(jail, addrs) {
                log::firewall_error(jail, &format!("removing {} bans: {e}", addrs.len()));
            }
        }
        if !events.is_empty() {
            self.notifier
                .notify(&format!("STATUS={}", self.status_line()));
        }
        // 3. History and hooks, once the kernel has the bans.
        if self.unreported.is_empty() {
            self.held_since = Some(Instant::now());
        }
        for ev in events {
            self.hold(ev, durable);
        }
        let mut refused = self.kernel_refused(refused);
        let held_long = self.held_since.is_some_and(|t| t.elapsed() >= HOLD_FOR);
        if !more_coming || held_long || self.unreported.len() >= HOLD_MAX {
            refused.extend(self.report());
        }
        refused
    }

    /// Held decisions (waiting for the kernel) that are not durable.
    pub(crate) fn unreported_not_durable(&self) -> usize {
        self.unreported
            .items
            .iter()
            .filter(|h| !h.durable())
            .count()
    }

    /// Keep `ev` for [`Daemon::report`] in the compact form of [`Held`].
    fn hold(&mut self, ev: Event, durable: bool) {
        let held = match ev {
            Event::Ban {
                jail,
                addr,
                failures,
                bantime,
                count,
                matches,
                escalated,
                ..
            } => {
                let Some(ji) = self.pipeline.jail_index(&jail) else {
                    // Not a jail of ours (cannot happen: reloads wait for the end of
                    // a drain): report it at once rather than lose it.
                    self.report_event(Event::Ban {
                        time_us: 0,
                        jail,
                        addr,
                        failures,
                        bantime,
                        count,
                        matches,
                        escalated,
                    });
                    return;
                };
                Held::Ban {
                    jail: ji,
                    addr,
                    failures,
                    bantime,
                    count,
                    matches: self
                        .unreported
                        .push_text(matches.iter().map(String::as_str)),
                    durable,
                    escalated,
                }
            }
            Event::Unban {
                jail, addr, reason, ..
            } => {
                let Some(ji) = self.pipeline.jail_index(&jail) else {
                    self.report_event(Event::Unban {
                        time_us: 0,
                        jail,
                        addr,
                        reason,
                    });
                    return;
                };
                Held::Unban {
                    jail: ji,
                    addr,
                    reason,
                    durable,
                }
            }
        };
        self.unreported.items.push(held);
    }

    /// Wait for the kernel to have every ban applied so far, then write their journal
    /// entries and start their hooks, in decision order: all but those of the bans the
    /// kernel refused, which are returned. Decisions that are not durable get their
    /// "enforced, not durable" entry instead and wait in `awaiting`.
    pub(crate) fn report(&mut self) -> Vec<(String, Refusal)> {
        let settled = self.fw.settle();
        self.drift.settled();
        self.metrics.settled(self.now_us());
        let refused = self.kernel_refused(settled);
        // The kernel answered for every network ban so far.
        self.pipeline.lifted.clear();
        self.held_since = None;
        let q = std::mem::take(&mut self.unreported);
        let reason = self.state.trouble().map(|t| t.reason.clone());
        for h in q.items {
            if h.durable() {
                let ev = self.event_of(h, &q.text);
                self.report_event(ev);
                continue;
            }
            if let Held::Ban {
                jail,
                addr,
                bantime,
                ..
            } = &h
            {
                log::not_durable(
                    &self.pipeline.jails[*jail].config.name,
                    &addr.to_string(),
                    &bantime.to_string(),
                    reason
                        .as_deref()
                        .unwrap_or("the state file is not writable"),
                );
            }
            self.await_state(h, &q.text);
        }
        refused
    }

    /// Keep a decision that is not durable (its matches copied from `text`) until the
    /// state takes it.
    fn await_state(&mut self, h: Held, text: &str) {
        let h = match h {
            Held::Ban {
                jail,
                addr,
                failures,
                bantime,
                count,
                matches,
                escalated,
                ..
            } => Held::Ban {
                jail,
                addr,
                failures,
                bantime,
                count,
                matches: self.awaiting.push_text(std::iter::once(&text[matches])),
                durable: true,
                escalated,
            },
            Held::Unban {
                jail, addr, reason, ..
            } => Held::Unban {
                jail,
                addr,
                reason,
                durable: true,
            },
        };
        self.awaiting.items.push(h);
    }

    /// The state took the decisions that were waiting for it: report them, in order.
    pub(crate) fn report_awaiting(&mut self) {
        let q = std::mem::take(&mut self.awaiting);
        for h in q.items {
            let ev = self.event_of(h, &q.text);
            self.report_event(ev);
        }
    }

    /// A held decision as the event it was (jail indices are those of the pipeline
    /// that held it: reloads wait for held reports, see `Daemon::reload`).
    fn event_of(&self, h: Held, text: &str) -> Event {
        match h {
            Held::Ban {
                jail,
                addr,
                failures,
                bantime,
                count,
                matches,
                escalated,
                ..
            } => Event::Ban {
                time_us: 0,
                jail: self.pipeline.jails[jail].config.name.clone(),
                addr,
                failures,
                bantime,
                count,
                // Already joined with newlines, as the entry and the hooks show them:
                // one element joins to itself.
                matches: vec![text[matches].to_owned()],
                escalated,
            },
            Held::Unban {
                jail, addr, reason, ..
            } => Event::Unban {
                time_us: 0,
                jail: self.pipeline.jails[jail].config.name.clone(),
                addr,
                reason,
            },
        }
    }

    /// Write one decision's journal entry and start its hooks.
    fn report_event(&mut self, ev: Event) {
        match ev {
            Event::Ban {
                jail,
                addr,
                failures,
                bantime,
                count,
                matches,
                escalated,
                ..
            } => {
                let ip = addr.to_string();
                let bt = bantime.to_string();
                if escalated > 0 {
                    log::escalated(&jail, &ip, escalated, &bt, count, &matches);
                } else {
                    log::ban(&jail, &ip, failures, &bt, count, &matches);
                }
                let reason = super::metrics::ban_reason(failures, escalated);
                *self.metrics.bans.entry((jail.clone(), reason)).or_default() += 1;
                let Some(ji) = self.pipeline.jail_index(&jail) else {
                    return;
                };
                let actions = &self.pipeline.jails[ji].config.actions;
                if actions.is_empty() {
                    return;
                }
                let joined = matches.join("\n");
                let vars = super::actions::Vars {
                    ip: &ip,
                    jail: &jail,
                    failures,
                    bantime: &bt,
                    matches: &joined,
                };
                self.actions.enqueue(actions, ActionEvent::Ban, &vars);
            }
            Event::Unban {
                jail, addr, reason, ..
            } => {
                let ip = addr.to_string();
                // Still blocked, by its network's ban: that one entry says so for all.
                if reason != crate::events::UnbanReason::Escalated {
                    log::unban(&jail, &ip, reason.as_str());
                }
                let why = super::metrics::unban_reason(reason);
                *self.metrics.unbans.entry((jail.clone(), why)).or_default() += 1;
                if let Some(ji) = self.pipeline.jail_index(&jail) {
                    let vars = super::actions::Vars {
                        ip: &ip,
                        jail: &jail,
                        failures: 0,
                        bantime: "",
                        matches: "",
                    };
                    let actions = &self.pipeline.jails[ji].config.actions;
                    self.actions.enqueue(actions, ActionEvent::Unban, &vars);
                }
            }
        }
    }
}
