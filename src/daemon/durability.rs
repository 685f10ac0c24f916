//! The state side of the daemon: restoring (or, after a state loss, adopting) bans at
//! start, and running on while the state cannot be written or opened.
//!
//! At start, reconcile.rs says what to do with the state's bans, the kernel's members
//! and (after a loss) the journal's history; this carries it out: state, then kernel,
//! then journal entries. Kernel members the state does not know are removed only after
//! the catch-up (`remove_stale`): a ban that was in the kernel but not durable when
//! banjo died is decided again from the journal during it, and stays enforced.
//!
//! While the state is not durable (`state::Durable`): decisions go to the kernel and
//! wait in `awaiting` for their reports; the main loop retries with backoff, and once a
//! retry commits everything kept, the reports follow in decision order. Said once in
//! the journal when it begins (MESSAGE_ID state degraded) and when it ends (state
//! recovered), and all along in STATUS= and `banjo status`.

use super::reconcile::{self, History, Inputs, Plan, Source};
use super::{history, kernel_entry, log, Daemon};
use crate::jail::Ban;
use crate::state::{Batch, OpenOutcome, Retried};
use crate::timefmt::{format_duration, Micros};
use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

impl Daemon {
    /// Load the state's bans and counts, list the kernel, read the history if the
    /// state was `lost`, and carry out the reconcile plan. Returns where banjo's
    /// previous run stopped writing to the journal, when the history was read.
    pub(super) fn restore_bans(&mut self, lost: Option<&str>) -> anyhow::Result<Option<String>> {
        let now = self.now_us();
        // Old counts go before they are loaded: memory holds only what may still count.
        self.forget_old_counts(now);
        let (stored, counts, totals) = match self.state.store() {
            Some(s) => (s.active_bans()?, s.ban_counts()?, s.totals()?),
            None => Default::default(),
        };
        for (jail, addr, count, last) in counts {
            if let Some(ji) = self.pipeline.jail_index(&jail) {
                self.pipeline.bans.set_count(ji, addr, count, last);
            }
        }
        self.totals = totals.into_iter().collect();
        let jails: Vec<String> = self
            .pipeline
            .jails
            .iter()
            .map(|j| j.config.name.clone())
            .collect();
        let mut kernel = BTreeMap::new();
        for name in &jails {
            match self.fw.list_entries(name) {
                Ok(v) => {
                    kernel.insert(name.clone(), v);
                }
                Err(e) => log::firewall_error(name, &format!("listing bans: {e}")),
            }
        }
        let mut found = history::Found::default();
        if let (Some(_), Some(loc)) = (lost, self.journal_at.clone()) {
            match history::read(&loc) {
                Ok(f) => found = f,
                Err(e) => tracing::error!(
                    "reading banjo's ban history from the journal: {e}; adopting the kernel's bans only"
                ),
            }
            if found.skipped > 0 {
                tracing::warn!(
                    "{} of banjo's journal entries about bans could not be read back; skipped",
                    found.skipped
                );
            }
        }
        let history = History::fold(std::mem::take(&mut found.records));
        let plan = reconcile::plan(&Inputs {
            now,
            jails: &jails,
            stored: &stored,
            lost,
            kernel: &kernel,
            history: &history,
        });
        self.carry_out_plan(plan, lost, now);
        Ok(found.resume)
    }

    /// State first (one commit), then the kernel, then the journal entries.
    fn carry_out_plan(&mut self, plan: Plan, lost: Option<&str>, now: Micros) {
        let mut batch = Batch::default();
        for b in plan.expired.iter().chain(&plan.orphaned) {
            batch.unbans.push((b.jail.clone(), b.addr));
        }
        for b in plan.keep.iter().chain(plan.adopt.iter().map(|a| &a.ban)) {
            if let Some(ji) = self.pipeline.jail_index(&b.jail) {
                self.pipeline.bans.restore(Ban {
                    jail: ji,
                    addr: b.addr,
                    since: b.since_us,
                    until: b.until_us,
                    count: b.count,
                    failures: b.failures,
                });
            }
        }
        batch.bans = plan.adopt.iter().map(|a| a.ban.clone()).collect();
        for (jail, addr, count, last) in &plan.counts {
            if let Some(ji) = self.pipeline.jail_index(jail) {
                self.pipeline.bans.set_count(ji, *addr, *count, *last);
            }
            batch.counts.push((jail.clone(), *addr, *count, *last));
        }
        // TOTAL BANNED from the journal only into a new store of its own: in memory
        // mode the file that opens later may still hold its totals.
        if self.state.store().is_some() {
            batch.totals = plan.totals.clone();
        }
        match self.state.commit(&batch) {
            Ok(()) => {
                for (jail, n) in &batch.totals {
                    *self.totals.entry(jail.clone()).or_default() += n;
                }
            }
            Err(_) => self.announce_state(),
        }
        // Per element, and verified: "Restore Ban" (or "adopted") only for what the
        // kernel holds afterwards (daemon/firewall.rs).
        let mut held: BTreeMap<String, HashSet<crate::addr::Addr>> = BTreeMap::new();
        let mut refused = Vec::new();
        for (jail, wanted) in plan.wanted() {
            let (h, r) = self.put_back(jail, &wanted, now);
            held.insert(jail.to_owned(), h);
            refused.extend(r);
        }
        let in_kernel =
            |jail: &str, addr: &crate::addr::Addr| held.get(jail).is_some_and(|h| h.contains(addr));
        let left = |until: Option<Micros>| {
            until
                .map(|u| format_duration(u - now))
                .unwrap_or_else(|| "permanent".into())
        };
        for b in &plan.expired {
            log::unban(&b.jail, &b.addr.to_string(), "expired while banjo was down");
        }
        for b in plan.keep.iter().filter(|b| in_kernel(&b.jail, &b.addr)) {
            log::restore(&b.jail, &b.addr.to_string(), &left(b.until_us));
        }
        for a in plan
            .adopt
            .iter()
            .filter(|a| in_kernel(&a.ban.jail, &a.ban.addr))
        {
            let ip = a.ban.addr.to_string();
            log::adopted(&a.ban.jail, &ip, &left(a.ban.until_us), a.from.as_str());
        }
        if let Some(why) = lost {
            summarise_adoption(&plan, why);
        }
        self.stale = plan.stale;
        self.forget_refused(refused);
    }

    /// After the catch-up: take out of the kernel what the state did not hold at start
    /// and the catch-up did not decide again.
    pub(super) fn remove_stale(&mut self) {
        let mut by_jail: BTreeMap<String, Vec<crate::addr::Addr>> = BTreeMap::new();
        for (jail, addr) in std::mem::take(&mut self.stale) {
            let banned = self
                .pipeline
                .jail_index(&jail)
                .is_some_and(|ji| self.pipeline.bans.is_banned(ji, &addr));
            if !banned {
                by_jail.entry(jail).or_default().push(addr);
            }
        }
        for (jail, addrs) in by_jail {
            match self.fw.unban(&jail, &addrs) {
                Ok(()) => tracing::info!(
                    "[{jail}] removed {} kernel members that banjo's state does not hold",
                    addrs.len()
                ),
                Err(e) => {
                    log::firewall_error(&jail, &format!("removing {} stale bans: {e}", addrs.len()))
                }
            }
        }
    }

    /// Say once, loudly, that the state stopped being durable.
    pub(super) fn announce_state(&mut self) {
        if let Some(reason) = self.state.take_news() {
            log::state_degraded(self.state.path(), self.state.mode(), &reason);
            self.notifier
                .notify(&format!("STATUS={}", self.status_line()));
        }
    }

    /// What the store noticed while opening or reading (skipped rows, a migration).
    pub(super) fn log_state_warnings(&self) {
        for w in self
            .state
            .store()
            .map(|s| s.take_warnings())
            .unwrap_or_default()
        {
            tracing::warn!("{w}");
        }
    }

    /// The main loop's turn: retry the state if a retry is due.
    pub(super) fn retry_state(&mut self) {
        let retried = self.state.retry(Instant::now());
        self.after_retry(retried);
    }

    /// A clean stop: one more attempt, and say what never became durable.
    pub(super) fn last_state_attempt(&mut self) {
        let retried = self.state.retry_now();
        self.after_retry(retried);
        if !self.awaiting.is_empty() {
            tracing::error!(
                "stopping with {} bans (of {} decisions) in the kernel that never became durable ({}); \
                 the kernel lifts them on their timeouts, and the next start decides those that came \
                 from the journal again",
                self.awaiting.bans(),
                self.awaiting.len(),
                self.state
                    .trouble()
                    .map(|t| t.reason.as_str())
                    .unwrap_or("the state file is not writable")
            );
        }
    }

    fn after_retry(&mut self, retried: Retried) {
        let since = self.state.trouble().map(|t| t.since_us);
        match retried {
            Retried::NotDue => {}
            Retried::Failed(reason) => {
                tracing::info!("state still not durable: {reason}");
                self.notifier
                    .notify(&format!("STATUS={}", self.status_line()));
            }
            Retried::Recovered { reopened, bans } => {
                if let Some(outcome) = reopened {
                    self.after_late_open(outcome);
                }
                if let Some(Ok(t)) = self.state.store().map(|s| s.totals()) {
                    self.totals = t.into_iter().collect();
                }
                let down = since.map_or_else(String::new, |s| format_duration(self.now_us() - s));
                log::state_recovered(self.state.path(), bans, &down);
                self.report_awaiting();
                self.notifier
                    .notify(&format!("STATUS={}", self.status_line()));
            }
        }
    }

    /// The store opened only now (it could not at start): bans it holds that memory
    /// does not (a read-only file system that became writable, with the state of the
    /// last run) are enforced again; its counts join memory's.
    fn after_late_open(&mut self, outcome: OpenOutcome) {
        self.log_state_warnings();
        if let OpenOutcome::MovedAside { path, reason } = &outcome {
            tracing::error!(
                "state file was unusable ({reason}); moved aside to {}; what banjo holds in memory is in a new one",
                path.display()
            );
        }
        let Some(store) = self.state.store() else {
            return;
        };
        let now = self.now_us();
        let (bans, counts) = match (store.active_bans(), store.ban_counts()) {
            (Ok(b), Ok(c)) => (b, c),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!("reading the state file that opened late: {e}");
                return;
            }
        };
        for (jail, addr, count, last) in counts {
            if let Some(ji) = self.pipeline.jail_index(&jail) {
                self.pipeline.bans.set_count(ji, addr, count, last);
            }
        }
        let mut again: BTreeMap<String, Vec<crate::ban::BanEntry>> = BTreeMap::new();
        for b in bans {
            let Some(ji) = self.pipeline.jail_index(&b.jail) else {
                continue;
            };
            if b.until_us.is_some_and(|u| u <= now) || self.pipeline.bans.is_banned(ji, &b.addr) {
                continue;
            }
            again
                .entry(b.jail.clone())
                .or_default()
                .push(kernel_entry(b.addr, b.until_us, now));
            let left = b
                .until_us
                .map_or_else(|| "permanent".into(), |u| format_duration(u - now));
            log::restore(&b.jail, &b.addr.to_string(), &left);
            self.pipeline.bans.restore(Ban {
                jail: ji,
                addr: b.addr,
                since: b.since_us,
                until: b.until_us,
                count: b.count,
                failures: b.failures,
            });
        }
        for (jail, entries) in again {
            if let Err(e) = self.fw.ban(&jail, &entries) {
                log::firewall_error(&jail, &format!("restoring {} bans: {e}", entries.len()));
            }
        }
    }
}

/// One journal entry per jail that adopted anything after a loss.
fn summarise_adoption(plan: &Plan, why: &str) {
    let mut per: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for a in &plan.adopt {
        let e = per.entry(a.ban.jail.as_str()).or_default();
        match a.from {
            Source::Kernel | Source::Both => e.0 += 1,
            Source::Journal => e.1 += 1,
        }
    }
    for (jail, _, _, _) in &plan.counts {
        per.entry(jail.as_str()).or_default().2 += 1;
    }
    for (jail, (kernel, journal, counts)) in per {
        log::adopted_summary(jail, kernel, journal, counts, why);
    }
}
