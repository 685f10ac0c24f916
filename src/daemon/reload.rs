//! Reload (SIGHUP, `banjo reload`): a config with errors is refused and the running
//! one stays; removed jails lift their bans; kept jails keep their bans and counts.

use super::{kernel_entry, log, rules, same_rules, Daemon};
use crate::ban::BanEntry;
use crate::jail::{Ban, Jail};
use crate::pipeline::Pipeline;
use crate::state::Batch;
use std::collections::HashMap;
use std::sync::Arc;

/// CLOCK_MONOTONIC in µs: systemd's Type=notify-reload wants it with RELOADING=1.
fn monotonic_usec() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000)
        .unwrap_or(0)
}

impl Daemon {
    pub(crate) fn reload(&mut self) -> anyhow::Result<String> {
        let new = super::startup::load_config(&self.opts);
        if new.has_errors() {
            let text: Vec<String> = new
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.to_string())
                .collect();
            let msg = text.join("\n");
            log::reload(false, &msg);
            anyhow::bail!("configuration has errors; the running configuration stays:\n{msg}");
        }
        self.notifier
            .notify(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
        let now = self.now_us();
        let new_jails: Vec<crate::config::JailConfig> = new.jails.clone();
        let old_by_name: HashMap<String, usize> = self
            .pipeline
            .jails
            .iter()
            .enumerate()
            .map(|(i, j)| (j.config.name.clone(), i))
            .collect();

        // Removed jails: lift their bans, remove their chains.
        let mut batch = Batch::default();
        let mut removed = Vec::new();
        for (i, j) in self.pipeline.jails.iter().enumerate() {
            if new_jails.iter().any(|n| n.name == j.config.name) {
                continue;
            }
            for b in self.pipeline.bans.of_jail(i) {
                batch.unbans.push((j.config.name.clone(), b.addr));
                log::unban(
                    &j.config.name,
                    &b.addr.to_string(),
                    "jail removed by reload",
                );
                *self
                    .metrics
                    .unbans
                    .entry((j.config.name.clone(), "jail_removed"))
                    .or_default() += 1;
            }
            match self.fw.teardown(&j.config.name) {
                Ok(left) => {
                    for l in left {
                        tracing::warn!("[{}] teardown on reload: {l}", j.config.name);
                    }
                }
                Err(e) => log::firewall_error(&j.config.name, &format!("teardown on reload: {e}")),
            }
            removed.push(j.config.name.clone());
        }
        // Down jails no longer configured are no longer down.
        let gone: Vec<String> = self
            .down
            .iter()
            .filter(|d| !new_jails.iter().any(|n| n.name == d.jail))
            .map(|d| d.jail.clone())
            .collect();
        for name in gone {
            self.jail_up(&name);
        }

        // New and changed jails: (re)create their firewall objects.
        let mut started = Vec::new();
        let mut kept = Vec::new();
        let mut configs = Vec::new();
        for n in new_jails {
            let old = old_by_name
                .get(&n.name)
                .map(|&i| self.pipeline.jails[i].config.clone());
            let wake = self.wake_group();
            let same_rules = old.as_ref().is_some_and(|o| same_rules(o, &n, wake));
            if !same_rules {
                if old.is_some() {
                    let _ = self.fw.teardown(&n.name);
                }
                if let Err(e) = self.fw.setup(&rules(&n, wake)) {
                    self.jail_down(&n.name, e.to_string());
                    if old.is_some() {
                        // Its bans can no longer be enforced: record them lifted.
                        let oi = old_by_name[&n.name];
                        for b in self.pipeline.bans.of_jail(oi) {
                            batch.unbans.push((n.name.clone(), b.addr));
                        }
                    }
                    continue;
                }
            }
            if old.is_some() {
                kept.push((n.name.clone(), same_rules));
            } else {
                started.push(n.name.clone());
            }
            self.jail_up(&n.name);
            configs.push(Arc::new(n));
        }

        // The new pipeline: kept jails carry over trackers, stats, bans and counts.
        let self_addrs = crate::addr::local_addresses();
        let mut p = Pipeline::new(configs, &self_addrs);
        p.now = self.pipeline.now;
        let mut old_jails: Vec<Option<Jail>> = std::mem::take(&mut self.pipeline.jails)
            .into_iter()
            .map(Some)
            .collect();
        // Old jail -> new, for the failure windows of jails whose rules did not change.
        let mut windows: Vec<Option<usize>> = vec![None; old_jails.len()];
        for (ni, nj) in p.jails.iter_mut().enumerate() {
            let Some(&oi) = old_by_name.get(&nj.config.name) else {
                continue;
            };
            let Some(old) = old_jails[oi].take() else {
                continue;
            };
            if old.config.maxretry == nj.config.maxretry
                && old.config.findtime == nj.config.findtime
            {
                windows[oi] = Some(ni);
            }
            nj.stats = old.stats;
        }
        p.tracker = std::mem::take(&mut self.pipeline.tracker).carry_over(
            &windows,
            p.jails
                .iter()
                .map(|j| (j.config.maxretry, j.config.findtime)),
            new.daemon.tracker_memory,
        );
        let index: HashMap<usize, usize> = old_by_name
            .iter()
            .filter_map(|(name, &oi)| p.jail_index(name).map(|ni| (oi, ni)))
            .collect();
        for b in self.pipeline.bans.active() {
            if let Some(&ni) = index.get(&b.jail) {
                p.bans.restore(Ban {
                    jail: ni,
                    ..b.clone()
                });
            }
        }
        for (oi, addr, count, last) in self.pipeline.bans.counts() {
            if let Some(&ni) = index.get(&oi) {
                p.bans.set_count(ni, addr, count, last);
            }
        }
        if self.state.commit(&batch).is_err() {
            self.announce_state();
        }

        // One reader for the new set of matches, resumed where the old one was.
        let cursor = self.source.cursor().ok();
        let dropped = self.awaiting.remap(&index);
        if dropped > 0 {
            tracing::warn!(
                "{dropped} decisions of removed jails were never durable; their reports are dropped"
            );
        }
        self.pipeline = p;
        // Jails whose firewall objects were remade get their bans back.
        for (name, same_rules) in &kept {
            if *same_rules {
                continue;
            }
            let Some(ni) = self.pipeline.jail_index(name) else {
                continue;
            };
            let entries: Vec<BanEntry> = self
                .pipeline
                .bans
                .of_jail(ni)
                .map(|b| kernel_entry(b.addr, b.until, now))
                .collect();
            self.enforce(name, &entries, "re-adding on reload");
        }
        self.reopen_files();
        // A fed source (in-process tests) hands over whole entries: nothing to reopen.
        let reopened = match self.journal_at {
            Some(_) => Some(super::reader::open_source(&self.opts, &self.pipeline)),
            None => None,
        };
        match reopened {
            Some(Ok(mut src)) => {
                match &cursor {
                    Some(c) => {
                        src.seek_after_cursor(c)?;
                    }
                    None => src.seek_tail()?,
                }
                self.source = Box::new(src);
            }
            Some(Err(e)) => tracing::error!(
                "reopening the journal with the new matches: {e}; keeping the old reader"
            ),
            None => {}
        }
        // These [daemon] keys shape what start-up opened (the firewall backend, the
        // socket, the state file, the wake-up listener); a reload cannot swap them.
        let (was, now) = (&self.cfg.daemon, &new.daemon);
        let at_start: Vec<&str> = [
            ("firewall", was.firewall != now.firewall),
            ("socket", was.socket != now.socket),
            ("state_dir", was.state_dir != now.state_dir),
            (
                "wake_on_connect/nflog_group",
                was.wake_group != now.wake_group,
            ),
        ]
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect();
        let listen_changed = self.cfg.metrics.listen != new.metrics.listen;
        self.cfg = new;
        let mut summary = format!(
            "{} jails running; started: [{}]; removed: [{}]; kept: [{}]",
            self.pipeline.jails.len(),
            started.join(", "),
            removed.join(", "),
            kept.iter()
                .map(|k| k.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !at_start.is_empty() {
            summary.push_str(&format!(
                "; [daemon] {} changed: takes effect at the next start",
                at_start.join(", ")
            ));
        }
        if listen_changed {
            summary.push_str("; [metrics] listen changed: takes effect at the next start");
        }
        log::reload(true, &summary);
        self.notifier
            .notify(&format!("READY=1\nSTATUS={}", self.status_line()));
        Ok(summary)
    }
}
