//! Carrying out decisions: state first (durable, with the cursor), then the
//! firewall, then the journal entry and the hooks.

use super::{kernel_entry, log, Daemon};
use crate::ban::BanEntry;
use crate::config::ActionEvent;
use crate::events::Event;
use crate::state::{Batch, StoredBan};
use std::collections::BTreeMap;

impl Daemon {
    pub(crate) fn apply(&mut self, events: Vec<Event>, cursor: Option<String>) {
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
        // 1. Durable: a ban reported done survives kill -9 from here on.
        if let Err(e) = self.store.commit(&batch) {
            // Still block the attacker; the next start reconciles from what is durable.
            tracing::error!("saving state: {e}");
        } else if batch.cursor.is_some() {
            self.cursor_dirty = false;
            self.last_cursor_commit = std::time::Instant::now();
        }
        // 2. Kernel.
        for (jail, entries) in &fw_bans {
            if let Err(e) = self.fw.ban(jail, entries) {
                log::firewall_error(jail, &format!("adding {} bans: {e}", entries.len()));
            }
        }
        for (jail, addrs) in &fw_unbans {
            if let Err(e) = self.fw.unban(jail, addrs) {
                log::firewall_error(jail, &format!("removing {} bans: {e}", addrs.len()));
            }
        }
        // 3. History and hooks.
        for ev in &events {
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
                    log::ban(jail, &ip, *failures, &bt, *count, matches);
                    if let Some(ji) = self.pipeline.jail_index(jail) {
                        let joined = matches.join("\n");
                        let vars = super::actions::Vars {
                            ip: &ip,
                            jail,
                            failures: *failures,
                            bantime: &bt,
                            matches: &joined,
                        };
                        let actions = &self.pipeline.jails[ji].config.actions;
                        self.actions.enqueue(actions, ActionEvent::Ban, &vars);
                    }
                }
                Event::Unban {
                    jail, addr, reason, ..
                } => {
                    let ip = addr.to_string();
                    log::unban(jail, &ip, reason.as_str());
                    if let Some(ji) = self.pipeline.jail_index(jail) {
                        let vars = super::actions::Vars {
                            ip: &ip,
                            jail,
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
        if !events.is_empty() {
            self.notifier
                .notify(&format!("STATUS={}", self.status_line()));
        }
    }
}
