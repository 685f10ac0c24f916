//! Carrying out decisions: state first (durable, with the cursor), then the
//! firewall, then the journal entry and the hooks. A ban the kernel refuses gets no
//! journal entry and no hook (daemon/firewall.rs takes it out of state again).
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
use crate::state::{Batch, StoredBan};
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
    },
    Unban {
        jail: usize,
        addr: crate::addr::Addr,
        reason: crate::events::UnbanReason,
    },
}

impl Held {
    /// Is this the held report of a ban of `addr` in jail `jail`?
    pub(crate) fn is_ban_of(&self, jail: usize, addr: &crate::addr::Addr) -> bool {
        matches!(self, Held::Ban { jail: j, addr: a, .. } if *j == jail && a == addr)
    }
}

/// What became of decisions carried out at once: whether the state took them, and the
/// bans the kernel refused (so they are no bans: not in state, not reported).
pub(crate) struct Applied {
    pub(crate) committed: bool,
    pub(crate) refused: Vec<(String, Refusal)>,
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
    /// Carry out `events` and report them (journal entries, hooks) at once.
    pub(crate) fn apply(&mut self, events: Vec<Event>, cursor: Option<String>) -> Applied {
        let p = self.prepare(events, cursor);
        let committed = self.store.commit(&p.batch);
        self.carry_out(p, committed, false)
    }

    /// What the state, the kernel and the reports need from `events`.
    pub(crate) fn prepare(&self, events: Vec<Event>, cursor: Option<String>) -> Prepared {
        let mut batch = Batch {
            cursor,
            ..Default::default()
        };
        let now = super::now_us();
        let mut fw_bans: BTreeMap<String, Vec<BanEntry>> = BTreeMap::new();
        let mut fw_unbans: BTreeMap<String, Vec<crate::addr::Addr>> = BTreeMap::new();
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
                    batch.unbans.push((jail.clone(), *addr));
                    fw_unbans.entry(jail.clone()).or_default().push(*addr);
                }
            }
        }
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
        committed: Result<(), crate::state::StateError>,
        more_coming: bool,
    ) -> Applied {
        let Prepared {
            batch,
            fw_bans,
            fw_unbans,
            events,
        } = p;
        self.note_decisions(events.len());
        let state_ok = committed.is_ok();
        // 1. Durable: a ban reported done survives kill -9 from here on.
        if let Err(e) = committed {
            // Still block the attacker; the next start reconciles from what is durable.
            tracing::error!("saving state: {e}");
        } else if batch.cursor.is_some() {
            self.cursor_dirty = false;
            self.last_cursor_commit = std::time::Instant::now();
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
            self.hold(ev);
        }
        let mut refused = self.kernel_refused(refused);
        let held_long = self.held_since.is_some_and(|t| t.elapsed() >= HOLD_FOR);
        if !more_coming || held_long || self.unreported.len() >= HOLD_MAX {
            refused.extend(self.report());
        }
        Applied {
            committed: state_ok,
            refused,
        }
    }

    /// Keep `ev` for [`Daemon::report`] in the compact form of [`Held`].
    fn hold(&mut self, ev: Event) {
        let held = match ev {
            Event::Ban {
                jail,
                addr,
                failures,
                bantime,
                count,
                matches,
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
                    });
                    return;
                };
                let start = self.held_text.len();
                for (i, m) in matches.iter().enumerate() {
                    if i > 0 {
                        self.held_text.push('\n');
                    }
                    self.held_text.push_str(m);
                }
                Held::Ban {
                    jail: ji,
                    addr,
                    failures,
                    bantime,
                    count,
                    matches: start..self.held_text.len(),
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
                }
            }
        };
        self.unreported.push(held);
    }

    /// Wait for the kernel to have every ban applied so far, then write their journal
    /// entries and start their hooks, in decision order: all but those of the bans the
    /// kernel refused, which are returned.
    pub(crate) fn report(&mut self) -> Vec<(String, Refusal)> {
        let settled = self.fw.settle();
        self.drift.settled();
        let refused = self.kernel_refused(settled);
        self.held_since = None;
        let held = std::mem::take(&mut self.unreported);
        let text = std::mem::take(&mut self.held_text);
        for h in held {
            let ev = match h {
                Held::Ban {
                    jail,
                    addr,
                    failures,
                    bantime,
                    count,
                    matches,
                } => Event::Ban {
                    time_us: 0,
                    jail: self.pipeline.jails[jail].config.name.clone(),
                    addr,
                    failures,
                    bantime,
                    count,
                    // Already joined with newlines, as the entry and the hooks show
                    // them: one element joins to itself.
                    matches: vec![text[matches].to_owned()],
                },
                Held::Unban { jail, addr, reason } => Event::Unban {
                    time_us: 0,
                    jail: self.pipeline.jails[jail].config.name.clone(),
                    addr,
                    reason,
                },
            };
            self.report_event(ev);
        }
        refused
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
                ..
            } => {
                let ip = addr.to_string();
                let bt = bantime.to_string();
                log::ban(&jail, &ip, failures, &bt, count, &matches);
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
                log::unban(&jail, &ip, reason.as_str());
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
