//! The firewall seam: what a jail asks of the kernel (a chain hooked for its ports, sets
//! holding its bans) and the backends that provide it.
//!
//! This module owns the [`Firewall`] trait, the names of banjo's kernel objects
//! (`banjo-<jail>`, `banjo-<jail>-4`, `banjo-<jail>-6`) and the limits shared by every
//! backend. It decides nothing: which address to ban and for how long is the jail's and
//! the ban manager's business. Backends must never touch an object not named `banjo-*`
//! (nftables: nothing outside `table inet banjo`), and must never leave a half-made jail
//! behind (fail2ban's `f2b-*` leftovers are the cautionary tale). Backends: iptables.rs
//! (iptables/ip6tables + ipset), nft.rs (nftables), dry_run.rs; exec.rs runs their tools.

pub mod dry_run;
mod exec;
pub mod iptables;
pub mod nflog;
pub mod nft;

pub use dry_run::DryRunFirewall;
pub use iptables::{Flavour, IptablesFirewall};
pub use nft::NftFirewall;

use crate::addr::Addr;
use crate::config::{BlockType, Ports, Protocol};
use std::fmt;

/// What a jail needs from the firewall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JailRules {
    pub jail: String,
    /// The filter-table chain the hook goes into: INPUT, FORWARD, DOCKER-USER, …
    pub chain: String,
    pub ports: Ports,
    pub protocol: Protocol,
    pub blocktype: BlockType,
    /// Log the start of each TCP connection to this nfnetlink_log group, after the
    /// set matches (rate-limited): the daemon's wake-up (see nflog.rs). None: no rule.
    pub wake_group: Option<u16>,
}

/// One ban to place in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanEntry {
    pub addr: Addr,
    /// Remaining time in whole seconds; `None` = permanent.
    pub timeout_secs: Option<u32>,
}

/// Address family: each jail has one set and one chain rule per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const BOTH: [Family; 2] = [Family::V4, Family::V6];

    pub fn of(addr: &Addr) -> Family {
        match addr.net() {
            ipnet::IpNet::V4(_) => Family::V4,
            ipnet::IpNet::V6(_) => Family::V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// Every way a firewall operation can fail. Each message starts with the step that
/// failed ("creating ipset banjo-sshd-4", "hooking chain banjo-sshd into INPUT") and
/// carries the tool's own words.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("{0:?} is not a valid jail name (1-22 characters: letters, digits, - and _)")]
    BadJailName(String),
    #[error("jail {jail}: {reason}")]
    BadRules { jail: String, reason: String },
    #[error("jail {jail}: cannot ban {addr}: {reason}")]
    BadAddr {
        jail: String,
        addr: Addr,
        reason: &'static str,
    },
    #[error("jail {jail}: no such jail is set up")]
    NotSetUp { jail: String },
    #[error("{step}: cannot run {tool}: {source}")]
    Spawn {
        step: String,
        tool: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{step}: {tool} failed: {stderr}")]
    Tool {
        step: String,
        tool: String,
        stderr: String,
    },
    #[error("{step}: cannot read {tool} output: {line:?}")]
    Parse {
        step: String,
        tool: String,
        line: String,
    },
    #[error("no usable iptables found (tried {tried}); install iptables (Debian: apt-get install iptables)")]
    NoIptables { tried: String },
    /// Setup failed and so did part of the undo: the kernel may hold leftovers, named here.
    #[error("{failed}; undoing the steps already made also failed: {}", join(.undo))]
    Rollback {
        failed: Box<FirewallError>,
        undo: Vec<FirewallError>,
    },
    /// Several independent operations failed (flush of many jails).
    #[error("{}", join(.0))]
    Several(Vec<FirewallError>),
}

fn join(errs: &[FirewallError]) -> String {
    errs.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a jail needs from the firewall, in the order the daemon uses it.
pub trait Firewall {
    fn name(&self) -> &'static str;

    /// Create sets, chain and hook for the jail, IPv4 and IPv6. Idempotent (already
    /// present = ok). Transactional: if any step fails, undo every step already made,
    /// then return the error naming the failed step.
    fn setup(&mut self, rules: &JailRules) -> Result<(), FirewallError>;

    /// Remove hook, chain and sets of the jail (missing parts are fine).
    fn teardown(&mut self, jail: &str) -> Result<(), FirewallError>;

    /// Add bans in one batch per family. Timeouts live in the kernel, so bans are lifted
    /// on time even if banjo is dead. Re-banning an address resets its timeout.
    fn ban(&mut self, jail: &str, entries: &[BanEntry]) -> Result<(), FirewallError>;

    /// Like [`Firewall::ban`], but may return before the kernel has the bans, so the
    /// caller can go on working meanwhile (a backlog: reading the next batch while
    /// this one goes in). [`Firewall::settle`] waits; every other operation waits
    /// first too, so the kernel sees operations in the order they were asked for.
    fn ban_start(&mut self, jail: &str, entries: &[BanEntry]) -> Result<(), FirewallError> {
        self.ban(jail, entries)
    }

    /// Wait until every [`Firewall::ban_start`] is done in the kernel; the failures,
    /// each with its jail.
    fn settle(&mut self) -> Vec<(String, FirewallError)> {
        Vec::new()
    }

    /// Remove bans in one batch per family; addresses not banned are fine.
    fn unban(&mut self, jail: &str, addrs: &[Addr]) -> Result<(), FirewallError>;

    /// What the kernel holds for the jail now (for reconcile at start). A jail that is
    /// not set up holds nothing.
    fn list(&mut self, jail: &str) -> Result<Vec<Addr>, FirewallError>;

    /// [`Firewall::list`] with each member's remaining kernel timeout in whole seconds
    /// (`None`: no timeout, permanent), so that bans can be adopted from the kernel
    /// after banjo's state was lost.
    fn list_entries(&mut self, jail: &str) -> Result<Vec<BanEntry>, FirewallError>;

    /// Jails that have banjo objects in the kernel (chains/sets named banjo-*), sorted.
    fn jails_present(&mut self) -> Result<Vec<String>, FirewallError>;

    /// Tear down every jail in [`Firewall::jails_present`] (`banjo flush`). Tries every
    /// jail even when one fails; returns the jails it removed.
    fn flush_all(&mut self) -> Result<Vec<String>, FirewallError> {
        let mut done = Vec::new();
        let mut errs = Vec::new();
        for jail in self.jails_present()? {
            match self.teardown(&jail) {
                Ok(()) => done.push(jail),
                Err(e) => errs.push(e),
            }
        }
        match errs.len() {
            0 => Ok(done),
            1 => Err(errs.remove(0)),
            _ => Err(FirewallError::Several(errs)),
        }
    }
}

/// The chain that holds a jail's ban rules.
pub fn chain_name(jail: &str) -> String {
    format!("banjo-{jail}")
}

/// The ipset holding a jail's bans of one family.
pub fn set_name(jail: &str, family: Family) -> String {
    match family {
        Family::V4 => format!("banjo-{jail}-4"),
        Family::V6 => format!("banjo-{jail}-6"),
    }
}

/// The kernel's largest set timeout (ipset refuses more): about 24.8 days. Longer bans
/// are clamped to it, so the daemon must re-ban long bans before this runs out.
pub const MAX_KERNEL_TIMEOUT: u32 = 2_147_483;

/// The timeout to give the kernel for `timeout_secs`: 0 means permanent to ipset, so a
/// ban whose remaining time rounded down to 0 gets 1 s instead of living forever.
pub fn kernel_timeout(timeout_secs: Option<u32>) -> u32 {
    match timeout_secs {
        None => 0,
        Some(s) => s.clamp(1, MAX_KERNEL_TIMEOUT),
    }
}

/// Jail names end up in chain names (28 bytes at most) and set names (31), hence 22.
pub fn check_jail(jail: &str) -> Result<(), FirewallError> {
    if crate::config::valid_jail_name(jail) {
        Ok(())
    } else {
        Err(FirewallError::BadJailName(jail.to_owned()))
    }
}

/// The checks every backend makes before touching anything, so a bad config fails
/// with nothing created.
pub fn check_rules(rules: &JailRules) -> Result<(), FirewallError> {
    check_jail(&rules.jail)?;
    let bad = |reason: String| FirewallError::BadRules {
        jail: rules.jail.clone(),
        reason,
    };
    let chain_ok = (1..=28).contains(&rules.chain.len())
        && rules
            .chain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !chain_ok {
        return Err(bad(format!(
            "{:?} is not a valid iptables chain name",
            rules.chain
        )));
    }
    if rules.chain.starts_with("banjo-") {
        return Err(bad(format!(
            "chain {:?}: a jail cannot hook into a banjo chain",
            rules.chain
        )));
    }
    if let Ports::List(list) = &rules.ports {
        if rules.protocol == Protocol::All {
            return Err(bad("ports need protocol tcp or udp".into()));
        }
        if list.is_empty() {
            return Err(bad("empty port list".into()));
        }
        if let Some((a, b)) = list.iter().find(|(a, b)| a > b) {
            return Err(bad(format!("port range {a}:{b} is backwards")));
        }
        // iptables multiport takes at most 15 ports; a range counts two.
        let slots: usize = list.iter().map(|(a, b)| if a == b { 1 } else { 2 }).sum();
        if slots > 15 {
            return Err(bad(
                "more than 15 ports (iptables multiport limit); use a range".into(),
            ));
        }
    }
    Ok(())
}

/// Ports as iptables multiport and humans write them: `22,2222,8000:8100`.
pub fn ports_text(list: &[(u16, u16)]) -> String {
    list.iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}:{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The jail name inside a kernel object name, if it is banjo's: `banjo-sshd` (chain) or
/// `banjo-sshd-4` (set) give `sshd`.
pub fn jail_of_chain(chain: &str) -> Option<&str> {
    chain
        .strip_prefix("banjo-")
        .filter(|j| crate::config::valid_jail_name(j))
}

pub fn jail_of_set(set: &str) -> Option<&str> {
    set.strip_prefix("banjo-")
        .and_then(|s| s.strip_suffix("-4").or_else(|| s.strip_suffix("-6")))
        .filter(|j| crate::config::valid_jail_name(j))
}

/// IPv4 sets are `hash:ip`: a v4 network would be expanded to one entry per address
/// (a /8 is 16M entries), so only single v4 addresses are accepted.
fn check_addr(jail: &str, addr: &Addr) -> Result<(), FirewallError> {
    if Family::of(addr) == Family::V4 && !addr.is_single() {
        return Err(FirewallError::BadAddr {
            jail: jail.to_owned(),
            addr: *addr,
            reason: "IPv4 bans are single addresses, not networks",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(ports: Ports, protocol: Protocol) -> JailRules {
        JailRules {
            jail: "sshd".into(),
            chain: "INPUT".into(),
            ports,
            protocol,
            blocktype: BlockType::Reject,
            wake_group: None,
        }
    }

    #[test]
    fn names_fit_kernel_limits() {
        let j = "a".repeat(22);
        assert_eq!(chain_name(&j).len(), 28);
        assert!(set_name(&j, Family::V6).len() <= 31);
        assert_eq!(jail_of_chain("banjo-sshd"), Some("sshd"));
        assert_eq!(jail_of_chain("f2b-sshd"), None);
        assert_eq!(jail_of_set("banjo-sshd-4"), Some("sshd"));
        assert_eq!(jail_of_set("banjo-a-4-6"), Some("a-4"));
        assert_eq!(jail_of_set("banjo-sshd"), None);
        assert_eq!(jail_of_set("other"), None);
        assert!(check_jail("sshd").is_ok());
        assert!(check_jail("").is_err());
        assert!(check_jail(&"a".repeat(23)).is_err());
        assert!(check_jail("a b").is_err());
    }

    #[test]
    fn timeouts_never_become_permanent_by_accident() {
        assert_eq!(kernel_timeout(None), 0);
        assert_eq!(kernel_timeout(Some(0)), 1);
        assert_eq!(kernel_timeout(Some(3600)), 3600);
        assert_eq!(kernel_timeout(Some(u32::MAX)), MAX_KERNEL_TIMEOUT);
    }

    #[test]
    fn rules_are_checked_before_anything_is_made() {
        assert!(check_rules(&rules(Ports::List(vec![(22, 22)]), Protocol::Tcp)).is_ok());
        assert!(check_rules(&rules(Ports::All, Protocol::All)).is_ok());
        assert!(check_rules(&rules(Ports::List(vec![(22, 22)]), Protocol::All)).is_err());
        assert!(check_rules(&rules(Ports::List(vec![]), Protocol::Tcp)).is_err());
        assert!(check_rules(&rules(Ports::List(vec![(30, 20)]), Protocol::Tcp)).is_err());
        let many = (1..=16).map(|p| (p, p)).collect();
        assert!(check_rules(&rules(Ports::List(many), Protocol::Udp)).is_err());
        let mut r = rules(Ports::All, Protocol::Tcp);
        r.chain = "banjo-x".into();
        assert!(check_rules(&r).is_err());
        r.chain = "IN PUT".into();
        assert!(check_rules(&r).is_err());
    }

    #[test]
    fn ports_render_for_multiport() {
        assert_eq!(ports_text(&[(22, 22), (2222, 2222)]), "22,2222");
        assert_eq!(ports_text(&[(8000, 8100)]), "8000:8100");
    }

    #[test]
    fn v4_networks_are_refused() {
        let net: Addr = "192.0.2.0/24".parse().unwrap();
        assert!(check_addr("sshd", &net).is_err());
        let one: Addr = "192.0.2.1".parse().unwrap();
        assert!(check_addr("sshd", &one).is_ok());
        let v6: Addr = "2001:db8::/64".parse().unwrap();
        assert!(check_addr("sshd", &v6).is_ok());
    }
}
