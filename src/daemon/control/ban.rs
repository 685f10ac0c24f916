//! `ban JAIL ADDR`: a ban by hand, answered "banned" only once the state recorded it
//! and the kernel holds it.

use crate::addr::Addr;
use crate::control::protocol::{Answer, Banned, Reply};
use crate::daemon::Daemon;
use crate::events::Event;
use crate::timefmt::parse_bantime;
use std::net::IpAddr;

impl Daemon {
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

    /// A ban by hand. Answered "banned" only once the state recorded it and the kernel
    /// holds it (looked up after the fact); otherwise the reason.
    pub(super) fn manual_ban(
        &mut self,
        jail: &str,
        addr: &str,
        time: Option<&str>,
        force: bool,
        wide: bool,
    ) -> Answer {
        let Some(ji) = self.pipeline.jail_index(jail) else {
            return Err(self.no_jail(jail));
        };
        let bantime = match time.map(parse_bantime).transpose() {
            Ok(t) => t,
            Err(e) => return Err(format!("--time: {e}")),
        };
        let key = self.ban_target(ji, addr, force, wide)?;
        let ev = self.pipeline.manual_ban(ji, key, bantime);
        let bantime = match &ev {
            Event::Ban { bantime, .. } => bantime.to_string(),
            _ => String::new(),
        };
        let out = Reply::Banned(Banned {
            jail: jail.to_owned(),
            addr: key.to_string(),
            bantime: bantime.clone(),
        });
        let applied = self.apply(vec![ev], None);
        if let Some((_, r)) = applied.refused.iter().find(|(_, r)| r.entry.addr == key) {
            return Err(format!(
                "{key} was not banned: the firewall refused it: {}",
                r.reason
            ));
        }
        if let Err(e) = applied.committed {
            // A ban reported is a ban durable: this one is only enforced.
            return Err(format!(
                "{key} is blocked in the kernel (jail {jail}, {bantime}), but the ban is NOT durable: {e}; \
                 banjo keeps retrying and reports the ban (journal entry, hooks) once the state holds it \
                 (see banjo status)"
            ));
        }
        match self.fw.holds(jail, &key) {
            Ok(true) => Ok(out),
            Ok(false) => Err(format!(
                "{key} was not banned: the kernel does not hold it after adding it"
            )),
            Err(e) => Err(format!(
                "{key}: cannot tell whether the kernel holds it: {e}"
            )),
        }
    }
}
