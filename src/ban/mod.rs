//! The firewall seam: what a jail asks of the kernel (a chain hooked for its ports, sets
//! holding its bans) and the backends that provide it.
//!
//! This module owns the [`Firewall`] trait, the names of banjo's kernel objects
//! (`banjo-<jail>`, `banjo-<jail>-4`, `banjo-<jail>-6`) and the limits shared by every
//! backend. It decides nothing: which address to ban and for how long is the jail's and
//! the ban manager's business. Backends must never touch an object not named `banjo-*`
//! (nftables: nothing outside `table inet banjo`), and must never leave a half-made jail
//! behind (fail2ban's `f2b-*` leftovers are the cautionary tale). A name is not
//! enough: what banjo made is told apart from what it did not by owner.rs, and a
//! backend refuses, rather than reuses or removes, a foreign object under its names.
//! Per element: a batch the kernel refuses part of is retried so that only the truly
//! bad elements fail, and each comes back as a [`Refusal`]. Backends: iptables.rs
//! (iptables/ip6tables + ipset), nft.rs (nftables), dry_run.rs; exec.rs runs their
//! tools; netlink.rs watches and glances at the kernel for drift.

pub mod dry_run;
pub mod exec;
pub mod iptables;
pub mod netlink;
pub mod nft;
pub mod owner;

pub use dry_run::DryRunFirewall;
pub use iptables::{Flavour, IptablesFirewall};
pub use nft::NftFirewall;
pub use owner::{Flushed, Ledger, Left, MemoryLedger, Object};

use crate::addr::Addr;
use crate::banrules::{BlockType, Ports, Protocol};
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

/// A ban the kernel did not take (or that the backend refused before asking it), and
/// the tool's or the backend's reason. The other elements of its batch were tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub entry: BanEntry,
    pub reason: String,
}

/// What a cheap look at the kernel found (see [`Firewall::glance`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Glance {
    /// (jail, family, elements the kernel holds in that family's sets).
    pub counts: Vec<(String, Family, u64)>,
    /// (jail, what is missing or changed).
    pub problems: Vec<(String, String)>,
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
        reason: String,
    },
    #[error("jail {jail}: no such jail is set up")]
    NotSetUp { jail: String },
    /// Objects under the jail's names that banjo did not make: each says what it is
    /// and how to clear the way. Nothing was made or changed.
    #[error("jail {jail}: not started: {}", .objects.join("; "))]
    Foreign { jail: String, objects: Vec<String> },
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

    /// Where the backend records what it makes (see owner.rs). Until this is called a
    /// backend keeps a [`MemoryLedger::trusting`] of its own.
    fn set_ledger(&mut self, ledger: Box<dyn Ledger>);

    /// Create sets, chain and hook for the jail, IPv4 and IPv6. Idempotent (already
    /// present = ok). Transactional: if any step fails, undo every step already made,
    /// then return the error naming the failed step. An object under the jail's names
    /// that banjo did not make is neither reused nor touched: [`FirewallError::Foreign`].
    fn setup(&mut self, rules: &JailRules) -> Result<(), FirewallError>;

    /// Remove hook, chain and sets of the jail that banjo made (missing parts are
    /// fine); returns what it left under the jail's names, and why.
    fn teardown(&mut self, jail: &str) -> Result<Vec<Left>, FirewallError>;

    /// Add bans in one batch per family. Timeouts live in the kernel, so bans are lifted
    /// on time even if banjo is dead. Re-banning an address resets its timeout. A batch
    /// the kernel refuses in part is retried without the bad elements: the result lists
    /// only the bans that are not in the kernel. `Err`: none of the batch could be tried.
    fn ban(&mut self, jail: &str, entries: &[BanEntry]) -> Result<Vec<Refusal>, FirewallError>;

    /// Like [`Firewall::ban`], but may return before the kernel has the bans, so the
    /// caller can go on working meanwhile (a backlog: reading the next batch while
    /// this one goes in). [`Firewall::settle`] waits; every other operation waits
    /// first too, so the kernel sees operations in the order they were asked for.
    fn ban_start(&mut self, jail: &str, entries: &[BanEntry]) -> Result<(), FirewallError>;

    /// Wait until every [`Firewall::ban_start`] is done in the kernel; the bans it
    /// refused, each with its jail.
    fn settle(&mut self) -> Vec<(String, Refusal)>;

    /// Remove bans in one batch per family; addresses not banned are fine.
    fn unban(&mut self, jail: &str, addrs: &[Addr]) -> Result<(), FirewallError>;

    /// What the kernel holds for the jail now (for reconcile at start). A jail that is
    /// not set up holds nothing.
    fn list(&mut self, jail: &str) -> Result<Vec<Addr>, FirewallError>;

    /// Does the kernel hold `addr` in the jail's sets now?
    fn holds(&mut self, jail: &str, addr: &Addr) -> Result<bool, FirewallError> {
        Ok(self.list(jail)?.contains(addr))
    }

    /// [`Firewall::list`] with each member's remaining kernel timeout in whole seconds
    /// (`None`: no timeout, permanent), so that bans can be adopted from the kernel
    /// after banjo's state was lost.
    fn list_entries(&mut self, jail: &str) -> Result<Vec<BanEntry>, FirewallError>;

    /// Jails that have objects banjo made in the kernel, sorted.
    fn jails_present(&mut self) -> Result<Vec<String>, FirewallError>;

    /// `banjo flush`: tear down everything banjo made, whatever the config says; every
    /// jail is tried even when one fails. Returns the jails whose objects were removed
    /// and what was left under banjo's names, and why.
    fn flush_all(&mut self) -> Result<Flushed, FirewallError>;

    /// What of the jail's setup is missing or changed in the kernel now (a flush, a
    /// reload of another firewall): empty when all is in place. Elements are compared
    /// by the caller, with [`Firewall::list`].
    fn check(&mut self, rules: &JailRules) -> Result<Vec<String>, FirewallError>;

    /// A look at the kernel that starts no process, for what it does not announce
    /// (ipset has no notifications, legacy iptables neither). `None`: nothing to look
    /// at this way (every change of this backend's objects is announced).
    fn glance(&mut self) -> Option<Glance> {
        None
    }

    /// Does [`Firewall::glance`] see anything? (The daemon then glances periodically.)
    fn needs_glance(&self) -> bool {
        false
    }

    /// The nf_tables tables (netfilter family, table name) whose changes concern this
    /// backend: the daemon listens for them (netlink.rs). Empty: none.
    fn watched_tables(&self) -> Vec<(u8, &'static str)> {
        Vec::new()
    }
}

/// `Err` of a whole batch as one refusal per entry.
pub fn refuse_all(entries: &[BanEntry], reason: &str) -> Vec<Refusal> {
    entries
        .iter()
        .map(|&entry| Refusal {
            entry,
            reason: reason.to_owned(),
        })
        .collect()
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
    if crate::banrules::valid_jail_name(jail) {
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
        .filter(|j| crate::banrules::valid_jail_name(j))
}

pub fn jail_of_set(set: &str) -> Option<&str> {
    set.strip_prefix("banjo-")
        .and_then(|s| s.strip_suffix("-4").or_else(|| s.strip_suffix("-6")))
        .filter(|j| crate::banrules::valid_jail_name(j))
}

/// What no backend bans, whatever the caller checked before: addresses no packet
/// comes from (the kernel would hold them, or refuse them and with them the rest of an
/// ipset batch), and networks too wide to be a ban. Loopback is the caller's decision
/// (`ban_loopback`); the kernel can hold it.
fn addr_problem(addr: &Addr) -> Option<String> {
    if let Some(why) = crate::addr::unbannable(addr.net().network(), true) {
        return Some(why.to_string());
    }
    crate::addr::check_network(addr, true).err()
}

/// Entries split into those to try and the refused ones.
fn screen(entries: &[BanEntry]) -> (Vec<BanEntry>, Vec<Refusal>) {
    let mut good = Vec::with_capacity(entries.len());
    let mut bad = Vec::new();
    for e in entries {
        match addr_problem(&e.addr) {
            None => good.push(*e),
            Some(reason) => bad.push(Refusal { entry: *e, reason }),
        }
    }
    (good, bad)
}

/// Unbans carry the same limits (what was never banned needs no unban).
fn check_addr(jail: &str, addr: &Addr) -> Result<(), FirewallError> {
    match addr_problem(addr) {
        None => Ok(()),
        Some(reason) => Err(FirewallError::BadAddr {
            jail: jail.to_owned(),
            addr: *addr,
            reason,
        }),
    }
}

/// How often a wake rule may fire per second, and its burst: one message per 100 ms
/// is plenty to keep the daemon's quick polling going (daemon/wakeup.rs), and a flood
/// cannot make more.
pub const WAKE_RATE_PER_SEC: u32 = 10;

/// The rule in `banjo-<jail>` (iptables and ip6tables, after the set matches) that
/// logs the start of a TCP connection to `group`, as `-S` prints it (both flavours).
pub fn wake_rule(group: u16) -> String {
    format!(
        "-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m limit --limit {WAKE_RATE_PER_SEC}/sec --limit-burst 1 -j NFLOG --nflog-group {group} --nflog-size 0"
    )
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
    fn backends_hold_networks_but_never_what_no_packet_comes_from() {
        for ok in [
            "192.0.2.0/24",
            "192.0.2.1",
            "10.0.0.0/8",
            "2001:db8::/64",
            "127.0.0.1",
        ] {
            let a: Addr = ok.parse().unwrap();
            assert!(check_addr("sshd", &a).is_ok(), "{ok}");
        }
        for bad in [
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "ff02::1",
            "::",
            "0.0.0.0/8",
            "0.0.0.0/1",
            "2000::/3",
        ] {
            let a: Addr = bad.parse().unwrap();
            assert!(check_addr("sshd", &a).is_err(), "{bad}");
        }
        let e = |s: &str| BanEntry {
            addr: s.parse().unwrap(),
            timeout_secs: None,
        };
        let (good, bad) = screen(&[e("192.0.2.1"), e("0.0.0.0"), e("192.0.2.2")]);
        assert_eq!(good.len(), 2);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].reason.contains("unspecified"), "{}", bad[0].reason);
    }
}
