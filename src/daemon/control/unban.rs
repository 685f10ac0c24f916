//! `unban ADDR` / `unban --all` (in one jail or all): bans lifted by hand.

use crate::addr::Addr;
use crate::control::protocol::{Answer, Reply, Unbanned};
use crate::daemon::Daemon;
use crate::events::Event;
use std::net::IpAddr;

impl Daemon {
    pub(super) fn manual_unban(
        &mut self,
        addr: Option<&str>,
        jail: Option<&str>,
        all: bool,
    ) -> Answer {
        let ji = match jail {
            Some(name) => match self.pipeline.jail_index(name) {
                Some(i) => Some(i),
                None => return Err(self.no_jail(name)),
            },
            None => None,
        };
        let target: Option<IpAddr> = match (addr, all) {
            (Some(_), true) => return Err("give an address or --all, not both".into()),
            (None, false) => return Err("give an address to unban, or --all".into()),
            (Some(a), false) => match a.parse::<IpAddr>() {
                Ok(ip) => Some(crate::addr::canonical(ip)),
                Err(_) => match a.parse::<Addr>() {
                    Ok(n) => Some(n.net().addr()),
                    Err(e) => return Err(e),
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
            return Err(match addr {
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
            Ok(()) => Ok(Reply::Unbanned(Unbanned { unbanned: list })),
            Err(e) => Err(format!(
                "lifted in the kernel: {}; but NOT durable: {e} (until the state can be written, a \
                 restart would put these bans back)",
                list.join(", ")
            )),
        }
    }
}
