//! The dry-run firewall (`banjo run --dry-run`, tests): keeps jails and bans in memory
//! and writes down what a real firewall would have been told, one line per change
//! ("would ban 192.0.2.1 in sshd for 3600s").
//!
//! It refuses what the kernel backends refuse (bad jail names, addresses no packet
//! comes from, networks too wide to be a ban, bans in a jail not set up), so a dry run
//! finds the daemon's mistakes too. It never meets a foreign object or drift. Queries (`list`,
//! `jails_present`) are not written down. It has no clock: bans stay until unbanned or
//! torn down, since lifting them on time is the daemon's timer's job when testing.

use super::{
    check_addr, check_jail, check_rules, kernel_timeout, ports_text, screen, BanEntry, Firewall,
    FirewallError, Flushed, JailRules, Ledger, Left, Refusal, MAX_KERNEL_TIMEOUT,
};
use crate::addr::Addr;
use crate::banrules::{BlockType, Ports, Protocol};
use std::collections::BTreeMap;

struct DryJail {
    rules: JailRules,
    /// Address → timeout as asked (None = permanent).
    bans: BTreeMap<Addr, Option<u32>>,
}

/// A firewall that only records.
#[derive(Default)]
pub struct DryRunFirewall {
    jails: BTreeMap<String, DryJail>,
    log: Vec<String>,
    /// Refusals of `ban_start`, until `settle`.
    refused: Vec<(String, Refusal)>,
}

impl DryRunFirewall {
    pub fn new() -> DryRunFirewall {
        DryRunFirewall::default()
    }

    /// The lines written since the last drain.
    pub fn log(&self) -> &[String] {
        &self.log
    }

    /// Take the lines written so far.
    pub fn drain(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }

    fn jail_mut(&mut self, jail: &str) -> Result<&mut DryJail, FirewallError> {
        self.jails
            .get_mut(jail)
            .ok_or_else(|| FirewallError::NotSetUp {
                jail: jail.to_owned(),
            })
    }
}

/// "tcp ports 22,2222 from INPUT, REJECT"
fn describe(rules: &JailRules) -> String {
    let proto = match rules.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::All => "all protocols",
    };
    let ports = match &rules.ports {
        Ports::All => "all ports".to_owned(),
        Ports::List(l) => format!("port {}", ports_text(l)),
    };
    let block = match rules.blocktype {
        BlockType::Reject => "REJECT",
        BlockType::Drop => "DROP",
    };
    format!("{proto} {ports} from {}, {block}", rules.chain)
}

impl Firewall for DryRunFirewall {
    fn name(&self) -> &'static str {
        "dry-run"
    }

    fn setup(&mut self, rules: &JailRules) -> Result<(), FirewallError> {
        check_rules(rules)?;
        let what = describe(rules);
        let line = match self.jails.get_mut(&rules.jail) {
            Some(j) if j.rules == *rules => {
                format!("would set up {}: {what} (already so)", rules.jail)
            }
            Some(j) => {
                let was = describe(&j.rules);
                j.rules = rules.clone();
                format!("would set up {}: {what} (was {was})", rules.jail)
            }
            None => {
                self.jails.insert(
                    rules.jail.clone(),
                    DryJail {
                        rules: rules.clone(),
                        bans: BTreeMap::new(),
                    },
                );
                format!("would set up {}: {what}", rules.jail)
            }
        };
        self.log.push(line);
        Ok(())
    }

    /// Nothing is recorded: it makes nothing.
    fn set_ledger(&mut self, _ledger: Box<dyn Ledger>) {}

    fn teardown(&mut self, jail: &str) -> Result<Vec<Left>, FirewallError> {
        check_jail(jail)?;
        let line = match self.jails.remove(jail) {
            Some(j) => format!("would tear down {jail} ({} bans dropped)", j.bans.len()),
            None => format!("would tear down {jail} (not set up)"),
        };
        self.log.push(line);
        Ok(Vec::new())
    }

    fn ban(&mut self, jail: &str, entries: &[BanEntry]) -> Result<Vec<Refusal>, FirewallError> {
        check_jail(jail)?;
        let (good, refused) = screen(entries);
        let j = self.jail_mut(jail)?;
        let mut lines = Vec::with_capacity(good.len());
        for e in &good {
            j.bans.insert(e.addr, e.timeout_secs);
            let how = match e.timeout_secs {
                None => "permanently".to_owned(),
                Some(s) if s > MAX_KERNEL_TIMEOUT => {
                    format!("for {s}s (kernel timeout {}s)", kernel_timeout(Some(s)))
                }
                Some(s) => format!("for {}s", kernel_timeout(Some(s))),
            };
            lines.push(format!("would ban {} in {jail} {how}", e.addr));
        }
        self.log.extend(lines);
        Ok(refused)
    }

    fn ban_start(&mut self, jail: &str, entries: &[BanEntry]) -> Result<(), FirewallError> {
        let refused = self.ban(jail, entries)?;
        self.refused
            .extend(refused.into_iter().map(|r| (jail.to_owned(), r)));
        Ok(())
    }

    fn settle(&mut self) -> Vec<(String, Refusal)> {
        std::mem::take(&mut self.refused)
    }

    fn unban(&mut self, jail: &str, addrs: &[Addr]) -> Result<(), FirewallError> {
        check_jail(jail)?;
        for a in addrs {
            check_addr(jail, a)?;
        }
        let j = self.jail_mut(jail)?;
        let mut lines = Vec::with_capacity(addrs.len());
        for a in addrs {
            let was = j.bans.remove(a).is_some();
            lines.push(if was {
                format!("would unban {a} in {jail}")
            } else {
                format!("would unban {a} in {jail} (not banned)")
            });
        }
        self.log.extend(lines);
        Ok(())
    }

    fn list(&mut self, jail: &str) -> Result<Vec<Addr>, FirewallError> {
        check_jail(jail)?;
        Ok(self
            .jails
            .get(jail)
            .map(|j| j.bans.keys().copied().collect())
            .unwrap_or_default())
    }

    fn list_entries(&mut self, jail: &str) -> Result<Vec<BanEntry>, FirewallError> {
        check_jail(jail)?;
        Ok(self
            .jails
            .get(jail)
            .map(|j| {
                j.bans
                    .iter()
                    .map(|(&addr, &timeout_secs)| BanEntry { addr, timeout_secs })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn jails_present(&mut self) -> Result<Vec<String>, FirewallError> {
        Ok(self.jails.keys().cloned().collect())
    }

    fn flush_all(&mut self) -> Result<Flushed, FirewallError> {
        let removed = self.jails_present()?;
        for j in &removed {
            self.teardown(j)?;
        }
        Ok(Flushed {
            removed,
            left: Vec::new(),
        })
    }

    /// A jail set up here stays as it was: nothing else changes this firewall.
    fn check(&mut self, rules: &JailRules) -> Result<Vec<String>, FirewallError> {
        Ok(match self.jails.get(&rules.jail) {
            Some(j) if j.rules == *rules => Vec::new(),
            Some(_) => vec![format!("jail {} set up otherwise", rules.jail)],
            None => vec![format!("jail {} not set up", rules.jail)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sshd() -> JailRules {
        JailRules {
            jail: "sshd".into(),
            chain: "INPUT".into(),
            ports: Ports::List(vec![(22, 22), (2222, 2222)]),
            protocol: Protocol::Tcp,
            blocktype: BlockType::Reject,
            wake_group: None,
        }
    }

    fn addr(s: &str) -> Addr {
        s.parse().unwrap()
    }

    #[test]
    fn records_and_keeps_state() {
        let mut fw = DryRunFirewall::new();
        fw.setup(&sshd()).unwrap();
        fw.ban(
            "sshd",
            &[
                BanEntry {
                    addr: addr("192.0.2.1"),
                    timeout_secs: Some(3600),
                },
                BanEntry {
                    addr: addr("2001:db8:1:2::/64"),
                    timeout_secs: None,
                },
            ],
        )
        .unwrap();
        fw.unban("sshd", &[addr("192.0.2.1"), addr("192.0.2.9")])
            .unwrap();
        assert_eq!(fw.list("sshd").unwrap(), vec![addr("2001:db8:1:2::/64")]);
        assert_eq!(fw.jails_present().unwrap(), vec!["sshd".to_owned()]);
        assert_eq!(
            fw.drain(),
            vec![
                "would set up sshd: tcp port 22,2222 from INPUT, REJECT",
                "would ban 192.0.2.1 in sshd for 3600s",
                "would ban 2001:db8:1:2::/64 in sshd permanently",
                "would unban 192.0.2.1 in sshd",
                "would unban 192.0.2.9 in sshd (not banned)",
            ]
        );
        assert!(fw.log().is_empty());
        assert_eq!(fw.flush_all().unwrap().removed, vec!["sshd".to_owned()]);
        assert_eq!(fw.drain(), vec!["would tear down sshd (1 bans dropped)"]);
        assert!(fw.list("sshd").unwrap().is_empty());
    }

    #[test]
    fn refuses_what_the_kernel_backend_refuses() {
        let mut fw = DryRunFirewall::new();
        let one = [BanEntry {
            addr: addr("192.0.2.1"),
            timeout_secs: Some(0),
        }];
        assert!(matches!(
            fw.ban("sshd", &one),
            Err(FirewallError::NotSetUp { .. })
        ));
        assert!(matches!(
            fw.setup(&JailRules {
                jail: "bad name".into(),
                ..sshd()
            }),
            Err(FirewallError::BadJailName(_))
        ));
        fw.setup(&sshd()).unwrap();
        let bad = [
            BanEntry {
                addr: addr("0.0.0.0"),
                timeout_secs: None,
            },
            BanEntry {
                addr: addr("0.0.0.0/1"),
                timeout_secs: None,
            },
        ];
        let refused = fw.ban("sshd", &bad).unwrap();
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(fw.check(&sshd()).unwrap().is_empty());
        fw.ban("sshd", &one).unwrap();
        let long = [BanEntry {
            addr: addr("192.0.2.2"),
            timeout_secs: Some(5_000_000),
        }];
        fw.ban("sshd", &long).unwrap();
        assert_eq!(
            fw.drain()[1..],
            [
                "would ban 192.0.2.1 in sshd for 1s",
                "would ban 192.0.2.2 in sshd for 5000000s (kernel timeout 2147483s)",
            ]
        );
    }
}
