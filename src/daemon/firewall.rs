//! The daemon's side of the firewall: setting the jails up (a jail whose setup is
//! refused is down, with its reason, in `banjo status` and in the journal, and the
//! others run), removing what jails no longer configured left (only what banjo made),
//! and bans the kernel refused, which are then neither kept in state nor reported as
//! bans: a firewall error names each, with the reason.
//!
//! The order of a decision stays apply.rs's (state, kernel, report); this file decides
//! only what happens when the kernel says no.

use super::{log, rules, Daemon};
use crate::addr::Addr;
use crate::ban::{refuse_all, BanEntry, Refusal};
use std::collections::{BTreeSet, HashSet};

/// A configured jail that is not running, and why (as `banjo status` shows it).
pub(crate) use crate::control::protocol::JailDown as Down;

impl Daemon {
    /// Create every enabled jail's chain and sets; a jail whose setup fails is taken
    /// out (the firewall undid its partial work, and touched nothing foreign) and said
    /// to be down; the others run.
    pub(crate) fn setup_firewall(&mut self) {
        let mut failed = Vec::new();
        for (i, j) in self.pipeline.jails.iter().enumerate() {
            if let Err(e) = self.fw.setup(&rules(&j.config, self.wake_group())) {
                failed.push((i, j.config.name.clone(), e.to_string()));
            }
        }
        for (i, name, reason) in failed.into_iter().rev() {
            self.pipeline.remove_jail(i);
            self.jail_down(&name, reason);
        }
        self.sweep_stale();
    }

    /// Say that `jail` is not running, and why: the journal (its own MESSAGE_ID) and
    /// `banjo status` until it starts.
    pub(crate) fn jail_down(&mut self, jail: &str, reason: String) {
        log::jail_down(jail, &reason);
        self.down.retain(|d| d.jail != jail);
        self.down.push(Down {
            jail: jail.to_owned(),
            reason,
        });
    }

    /// `jail` runs (again), or is no longer configured.
    pub(crate) fn jail_up(&mut self, jail: &str) {
        self.down.retain(|d| d.jail != jail);
    }

    /// banjo objects of jails that are no longer configured are stale: removed, as far
    /// as banjo made them. A jail that is configured but down keeps everything.
    fn sweep_stale(&mut self) {
        let Ok(present) = self.fw.jails_present() else {
            return;
        };
        for name in present {
            let configured = self.pipeline.jail_index(&name).is_some()
                || self.down.iter().any(|d| d.jail == name);
            if configured {
                continue;
            }
            match self.fw.teardown(&name) {
                Ok(left) => {
                    for l in left {
                        tracing::warn!("[{name}] removing a stale jail: {l}");
                    }
                }
                Err(e) => log::firewall_error(&name, &format!("removing stale chain: {e}")),
            }
        }
    }

    /// Put `entries` into the kernel now (re-adds: restore, reload, refresh). What the
    /// kernel refuses goes the way of [`Daemon::kernel_refused`].
    pub(crate) fn enforce(&mut self, jail: &str, entries: &[BanEntry], what: &str) {
        if entries.is_empty() {
            return;
        }
        let refused = match self.fw.ban(jail, entries) {
            Ok(r) => r,
            Err(e) => {
                log::firewall_error(jail, &format!("{what} {} bans: {e}", entries.len()));
                refuse_all(entries, &e.to_string())
            }
        };
        let refused = refused.into_iter().map(|r| (jail.to_owned(), r)).collect();
        self.kernel_refused(refused);
    }

    /// Put `wanted` (address, end) into the kernel at start, each element on its own
    /// (one the kernel refuses costs no other), then list the kernel: (what it holds,
    /// the wanted bans it does not, with the reason). "Restore Ban" is for the former
    /// only; the latter are for [`Daemon::forget_refused`].
    pub(crate) fn put_back(
        &mut self,
        jail: &str,
        wanted: &[(Addr, Option<crate::timefmt::Micros>)],
        now: crate::timefmt::Micros,
    ) -> (HashSet<Addr>, Vec<(String, Refusal)>) {
        let entries: Vec<BanEntry> = wanted
            .iter()
            .map(|(addr, until)| super::kernel_entry(*addr, *until, now))
            .collect();
        let refused = match self.fw.ban(jail, &entries) {
            Ok(r) => r,
            Err(e) => {
                log::firewall_error(jail, &format!("restoring {} bans: {e}", entries.len()));
                refuse_all(&entries, &e.to_string())
            }
        };
        let held = self.kernel_holds(jail).unwrap_or_default();
        let lost = entries
            .into_iter()
            .filter(|e| !held.contains(&e.addr))
            .map(|e| {
                let reason = refused
                    .iter()
                    .find(|r| r.entry.addr == e.addr)
                    .map(|r| r.reason.clone())
                    .unwrap_or_else(|| "not in the kernel after it was restored".into());
                (jail.to_owned(), Refusal { entry: e, reason })
            })
            .collect();
        (held, lost)
    }

    /// Bans the kernel refused. A refusal may be drift (a set deleted, a flush): the
    /// jails are repaired first, which puts back whatever of their bans the kernel can
    /// hold. What is still not in the kernel then is no ban: it leaves state and the
    /// ban book, its journal entry and hooks are dropped, and a firewall error names it.
    /// Returns the bans that are no bans in the end.
    pub(crate) fn kernel_refused(
        &mut self,
        first: Vec<(String, Refusal)>,
    ) -> Vec<(String, Refusal)> {
        if first.is_empty() {
            return Vec::new();
        }
        let jails: BTreeSet<usize> = first
            .iter()
            .filter_map(|(j, _)| self.pipeline.jail_index(j))
            .collect();
        let mut unresolved = self.repair(&jails, "a ban the kernel refused");
        for ji in jails {
            let name = self.pipeline.jails[ji].config.name.clone();
            let have: HashSet<Addr> = self.kernel_holds(&name).unwrap_or_default();
            for (j, r) in &first {
                let listed = unresolved
                    .iter()
                    .any(|(uj, u)| uj == j && u.entry.addr == r.entry.addr);
                if *j == name && !have.contains(&r.entry.addr) && !listed {
                    unresolved.push((j.clone(), r.clone()));
                }
            }
        }
        self.forget_refused(unresolved.clone());
        unresolved
    }

    /// These bans are not in the kernel and will not be: out of the ban book and the
    /// state, their held journal entries and hooks dropped, a firewall error each.
    pub(crate) fn forget_refused(&mut self, refused: Vec<(String, Refusal)>) {
        if refused.is_empty() {
            return;
        }
        let mut batch = crate::state::Batch::default();
        let mut given_back = Vec::new();
        for (jail, r) in refused {
            let addr = r.entry.addr;
            log::ban_refused(&jail, &addr.to_string(), &r.reason);
            let Some(ji) = self.pipeline.jail_index(&jail) else {
                continue;
            };
            given_back.extend(self.unescalate(ji, &addr, &mut batch));
            if self.pipeline.bans.remove(ji, &addr).is_some() {
                let stats = &mut self.pipeline.jails[ji].stats;
                stats.bans = stats.bans.saturating_sub(1);
                batch.unbans.push((jail.clone(), addr));
            }
            self.unreported.drop_ban(ji, &addr);
            self.awaiting.drop_ban(ji, &addr);
        }
        if self.state.commit(&batch).is_err() {
            // Kept for the state's retry; meanwhile the state says why (status, journal).
            self.announce_state();
        }
        for (jail, entries) in given_back {
            self.enforce(&jail, &entries, "giving back");
        }
    }
}
