//! Answering control requests: status, bans, ban, unban, reload, metrics. Root may do
//! everything; members of `readers_group` may read.

use super::Daemon;
use crate::addr::Addr;
use crate::control::protocol::{BanInfo, JailStatus, Request, Response};
use crate::control::server::{peer_in_group, Peer};
use crate::events::Event;
use crate::timefmt::parse_bantime;
use serde_json::json;
use std::net::IpAddr;

impl Daemon {
    pub(crate) fn serve_control(&mut self) {
        for inc in self.server.service() {
            *self.metrics.control.entry(inc.request.verb()).or_default() += 1;
            let resp = if !self.allowed(&inc.peer, &inc.request) {
                Response::err(format!(
                    "permission denied: uid {} may not {}",
                    inc.peer.uid,
                    if inc.request.read_only() {
                        "read status"
                    } else {
                        "change bans or reload"
                    }
                ))
            } else {
                self.handle(inc.request)
            };
            self.server.respond(inc.client, &resp);
        }
    }

    fn allowed(&self, peer: &Peer, req: &Request) -> bool {
        if peer.uid == 0 || peer.uid == nix::unistd::geteuid().as_raw() {
            return true;
        }
        req.read_only() && self.readers_gid.is_some_and(|g| peer_in_group(peer, g))
    }

    fn handle(&mut self, req: Request) -> Response {
        match req {
            Request::Status { jail: None } => {
                // The overview carries counts only; `status JAIL` lists addresses.
                let all: Vec<JailStatus> = (0..self.pipeline.jails.len())
                    .map(|i| self.jail_status(i, false))
                    .collect();
                let t = &self.pipeline.tracker;
                Response::ok(json!({
                    "jails": all,
                    "active_bans": self.pipeline.bans.len(),
                    "tracker_memory": { "used": t.bytes(), "budget": t.budget(), "windows": t.len(), "windows_forgotten": t.forgotten_total() },
                    "wake_group": self.wake_group(),
                    "connection_wakeups": self.wakeup.connection_wakeups,
                    "control_evicted": self.server.evicted(),
                    "state": self.state_status(),
                    "down": self.down,
                    "repairs": self.drift.repairs,
                    "last_repair": self.drift.last,
                }))
            }
            Request::Status { jail: Some(name) } => match self.pipeline.jail_index(&name) {
                Some(i) => Response::ok(json!(self.jail_status(i, true))),
                None => self.no_jail(&name),
            },
            Request::Bans => {
                let mut list: Vec<BanInfo> = self
                    .pipeline
                    .bans
                    .active()
                    .map(|b| BanInfo {
                        jail: self.pipeline.jails[b.jail].config.name.clone(),
                        addr: b.addr.to_string(),
                        since_us: b.since,
                        until_us: b.until,
                        count: b.count,
                        failures: b.failures,
                    })
                    .collect();
                list.sort_by(|a, b| {
                    (&a.jail, a.since_us, &a.addr).cmp(&(&b.jail, b.since_us, &b.addr))
                });
                Response::ok(json!(list))
            }
            Request::Ban {
                jail,
                addr,
                time,
                force,
                wide,
            } => self.manual_ban(&jail, &addr, time.as_deref(), force, wide),
            Request::Unban { addr, jail, all } => {
                self.manual_unban(addr.as_deref(), jail.as_deref(), all)
            }
            Request::Metrics => Response::ok(json!({ "text": self.render_metrics() })),
            Request::Reload => match self.reload() {
                Ok(summary) => Response::ok(json!({ "summary": summary })),
                Err(e) => Response::err(format!("{e:#}")),
            },
        }
    }

    fn jail_names(&self) -> String {
        self.pipeline
            .jails
            .iter()
            .map(|j| j.config.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One jail's counters (O(1) each), with its banned addresses if `list`.
    fn jail_status(&self, i: usize, list: bool) -> JailStatus {
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

    /// "no running jail", or why it is down.
    fn no_jail(&self, jail: &str) -> Response {
        match self.down.iter().find(|d| d.jail == jail) {
            Some(d) => Response::err(format!(
                "jail {jail} is down: {}; once that is fixed, banjo reload starts it",
                d.reason
            )),
            None => Response::err(format!(
                "no running jail {jail:?}; running: {}",
                self.jail_names()
            )),
        }
    }

    /// What `banjo ban JAIL ADDR` may ban: an address (widened as the jail widens
    /// failures) or a network as written (host bits set are an error that names the
    /// network). Never what no packet comes from, never a network over an ignored
    /// address or this host's own (`--force` lets only a single ignored address
    /// through), never a very wide network without `--wide`.
    fn ban_target(&self, ji: usize, addr: &str, force: bool, wide: bool) -> Result<Addr, String> {
        let j = &self.pipeline.jails[ji];
        let jail = &j.config.name;
        let allow_lo = j.config.ban_loopback;
        if let Ok(ip) = addr.parse::<IpAddr>() {
            if let Some(why) = crate::addr::unbannable(ip, allow_lo) {
                return Err(format!("{ip} cannot be banned: {why}"));
            }
            if j.ignore.contains_ip(ip) && !force {
                return Err(format!(
                    "{ip} is in jail {jail}'s ignoreip/ignoreself (this host or a trusted network); add --force to ban it anyway"
                ));
            }
            return Ok(j.key_for(ip));
        }
        let net = addr.parse::<Addr>()?;
        if net.is_single() {
            return self.ban_target(ji, &net.net().addr().to_string(), force, wide);
        }
        if let Some(why) = crate::addr::unbannable(net.net().network(), allow_lo) {
            return Err(format!("{net} cannot be banned: {why}"));
        }
        crate::addr::check_network(&net, wide)?;
        if let Some(n) = j.own.overlapping(&net) {
            return Err(format!(
                "{net} contains this host's own address {}: banning it would block this host",
                n.addr()
            ));
        }
        if let Some(n) = j.ignore.overlapping(&net) {
            return Err(format!(
                "{net} contains {n}, which jail {jail}'s ignoreip/ignoreself trusts; a network ban never covers it (ban a narrower network)"
            ));
        }
        Ok(net)
    }

    /// The state's health for `banjo status`: durable, or why not and since when.
    fn state_status(&self) -> serde_json::Value {
        let path = self.state.path().display().to_string();
        match self.state.trouble() {
            None => json!({ "mode": "durable", "durable": true, "path": path }),
            Some(t) => json!({
                "mode": self.state.mode(),
                "durable": false,
                "path": path,
                "reason": t.reason,
                "since_us": t.since_us,
                "attempts": t.attempts,
                "retry_in_ms": t.retry_at.saturating_duration_since(std::time::Instant::now()).as_millis() as u64,
                "bans_not_durable": self.awaiting.bans() + self.unreported_not_durable(),
                "commits_kept": self.state.pending_bans(),
            }),
        }
    }

    /// A ban by hand. Answered "banned" only once the state recorded it and the kernel
    /// holds it (looked up after the fact); otherwise the reason.
    fn manual_ban(
        &mut self,
        jail: &str,
        addr: &str,
        time: Option<&str>,
        force: bool,
        wide: bool,
    ) -> Response {
        let Some(ji) = self.pipeline.jail_index(jail) else {
            return self.no_jail(jail);
        };
        let bantime = match time.map(parse_bantime).transpose() {
            Ok(t) => t,
            Err(e) => return Response::err(format!("--time: {e}")),
        };
        let key = match self.ban_target(ji, addr, force, wide) {
            Ok(k) => k,
            Err(e) => return Response::err(e),
        };
        let ev = self.pipeline.manual_ban(ji, key, bantime);
        let bantime = match &ev {
            Event::Ban { bantime, .. } => bantime.to_string(),
            _ => String::new(),
        };
        let out = json!({ "jail": jail, "addr": key.to_string(), "bantime": bantime });
        let applied = self.apply(vec![ev], None);
        if let Some((_, r)) = applied.refused.iter().find(|(_, r)| r.entry.addr == key) {
            return Response::err(format!(
                "{key} was not banned: the firewall refused it: {}",
                r.reason
            ));
        }
        if let Err(e) = applied.committed {
            // A ban reported is a ban durable: this one is only enforced.
            return Response::err(format!(
                "{key} is blocked in the kernel (jail {jail}, {bantime}), but the ban is NOT durable: {e}; \
                 banjo keeps retrying and reports the ban (journal entry, hooks) once the state holds it \
                 (see banjo status)"
            ));
        }
        match self.fw.holds(jail, &key) {
            Ok(true) => Response::ok(out),
            Ok(false) => Response::err(format!(
                "{key} was not banned: the kernel does not hold it after adding it"
            )),
            Err(e) => Response::err(format!(
                "{key}: cannot tell whether the kernel holds it: {e}"
            )),
        }
    }

    fn manual_unban(&mut self, addr: Option<&str>, jail: Option<&str>, all: bool) -> Response {
        let ji = match jail {
            Some(name) => match self.pipeline.jail_index(name) {
                Some(i) => Some(i),
                None => return self.no_jail(name),
            },
            None => None,
        };
        let target: Option<IpAddr> = match (addr, all) {
            (Some(_), true) => return Response::err("give an address or --all, not both"),
            (None, false) => return Response::err("give an address to unban, or --all"),
            (Some(a), false) => match a.parse::<IpAddr>() {
                Ok(ip) => Some(crate::addr::canonical(ip)),
                Err(_) => match a.parse::<Addr>() {
                    Ok(n) => Some(n.net().addr()),
                    Err(e) => return Response::err(e),
                },
            },
            (None, true) => None,
        };
        let picked: Vec<(usize, Addr)> = self
            .pipeline
            .bans
            .active()
            .filter(|b| ji.is_none_or(|j| b.jail == j))
            .filter(|b| target.is_none_or(|ip| b.addr.net().contains(&ip)))
            .map(|b| (b.jail, b.addr))
            .collect();
        if picked.is_empty() {
            return Response::err(match addr {
                Some(a) => format!(
                    "{a} is not banned{}",
                    jail.map(|j| format!(" in jail {j}")).unwrap_or_default()
                ),
                None => "nothing is banned".into(),
            });
        }
        let now = self.now_us();
        let events: Vec<Event> = picked
            .iter()
            .filter_map(|(j, a)| self.pipeline.bans.remove(*j, a))
            .map(|b| {
                self.pipeline.jails[b.jail].stats.unbans += 1;
                Event::Unban {
                    time_us: now,
                    jail: self.pipeline.jails[b.jail].config.name.clone(),
                    addr: b.addr,
                    reason: crate::events::UnbanReason::Manual,
                }
            })
            .collect();
        let list: Vec<String> = events
            .iter()
            .map(|e| match e {
                Event::Unban { jail, addr, .. } => format!("{jail} {addr}"),
                _ => String::new(),
            })
            .collect();
        match self.apply(events, None).committed {
            Ok(()) => Response::ok(json!({ "unbanned": list })),
            Err(e) => Response::err(format!(
                "lifted in the kernel: {}; but NOT durable: {e} (until the state can be written, a \
                 restart would put these bans back)",
                list.join(", ")
            )),
        }
    }
}
