//! `status` and `status JAIL`: the overview (counts only) and one jail's counters
//! with its banned addresses.

use crate::control::protocol::{Answer, JailStatus, Overview, Reply, StateHealth, TrackerMemory};
use crate::daemon::Daemon;

impl Daemon {
    pub(super) fn status_overview(&self) -> Answer {
        let t = &self.pipeline.tracker;
        Ok(Reply::Overview(Box::new(Overview {
            jails: (0..self.pipeline.jails.len())
                .map(|i| self.jail_status(i, false))
                .collect(),
            active_bans: self.pipeline.bans.len(),
            tracker_memory: TrackerMemory {
                used: t.bytes(),
                budget: t.budget(),
                windows: t.len(),
                windows_forgotten: t.forgotten_total(),
            },
            wake_group: self.wake_group(),
            connection_wakeups: self.wakeup.connection_wakeups,
            control_evicted: self.server.evicted(),
            state: self.state_status(),
            down: self.down.clone(),
            repairs: self.drift.repairs,
            last_repair: self.drift.last.clone(),
        })))
    }

    pub(super) fn status_of(&self, jail: &str) -> Answer {
        match self.pipeline.jail_index(jail) {
            Some(i) => Ok(Reply::Jail(Box::new(self.jail_status(i, true)))),
            None => Err(self.no_jail(jail)),
        }
    }

    /// One jail's counters (O(1) each), with its banned addresses if `list`.
    pub(super) fn jail_status(&self, i: usize, list: bool) -> JailStatus {
        let j = &self.pipeline.jails[i];
        let problem = self.health.problem(&j.config.name);
        let mut banned: Vec<String> = Vec::new();
        if list {
            banned = self
                .pipeline
                .bans
                .of_jail(i)
                .map(|b| b.addr.to_string())
                .collect();
            banned.sort();
        }
        JailStatus {
            jail: j.config.name.clone(),
            filter: format!("{}[mode={}]", j.config.filter.name, j.config.filter.mode),
            journalmatch: j.config.journalmatch.to_string(),
            currently_failed: self.pipeline.tracker.failing(i),
            windows_forgotten: self.pipeline.tracker.forgotten(i),
            total_failed: j.stats.failures,
            currently_banned: self.pipeline.bans.active_in(i),
            // Durable bans only, kept across restarts in the state.
            total_banned: self.totals.get(&j.config.name).copied().unwrap_or(0),
            banned,
            unbannable: j.stats.unbannable,
            health: problem.map(|p| p.key().to_owned()),
            health_detail: problem.map(|p| p.describe(&j.config.name)),
        }
    }

    /// The state's health for `banjo status`: durable, or why not and since when.
    fn state_status(&self) -> StateHealth {
        let path = self.state.path().display().to_string();
        match self.state.trouble() {
            None => StateHealth {
                mode: "durable".into(),
                durable: true,
                path,
                ..Default::default()
            },
            Some(t) => StateHealth {
                mode: self.state.mode().into(),
                durable: false,
                path,
                reason: Some(t.reason.clone()),
                since_us: Some(t.since_us),
                attempts: Some(t.attempts),
                retry_in_ms: Some(
                    t.retry_at
                        .saturating_duration_since(std::time::Instant::now())
                        .as_millis() as u64,
                ),
                bans_not_durable: Some(self.awaiting.bans() + self.unreported_not_durable()),
                commits_kept: Some(self.state.pending_bans()),
            },
        }
    }
}
