//! The iptables + ipset backend: per jail, a chain `banjo-<jail>` in the filter table of
//! iptables and ip6tables, hooked at position 1 of the jail's chain, whose rule matches
//! the sets `banjo-<jail>-4` and `banjo-<jail>-6` (both `hash:net`: single addresses,
//! IPv6 /64s and networks banned by hand side by side).
//!
//! Bans live in the sets with kernel timeouts, so a dead banjo still lifts them on time,
//! and a batch of any size is one `ipset restore` per family; should ipset refuse a
//! line, the element of that line is refused and the rest go again (ipset applies a
//! script line by line and stops at the first error). This module owns the order of
//! creation (sets → chain → chain rules → hook, so no packet ever jumps into a
//! half-built chain), its undo on failure, the upgrade of an older banjo's `hash:ip`
//! IPv4 set, and the choice of iptables flavour. It never touches a chain, rule or set
//! banjo did not make (see owner.rs): the rules it writes carry `-m comment --comment
//! banjo`, the sets it makes are in its ledger, and anything else under its names is
//! refused with the way to clear it, not reused or removed.

use super::exec::{run, run_ok, spawn_with_input};
use super::owner::{Ledger, Left, MemoryLedger, Object, MARK};
use super::{
    check_addr, check_jail, check_rules, kernel_timeout, ports_text, screen, set_name, BanEntry,
    Family, Firewall, FirewallError, Flushed, Glance, JailRules, Refusal,
};
use crate::addr::Addr;
use crate::banrules::{BlockType, Ports, Protocol};
use iptables::IPTables;
use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TABLE: &str = "filter";
const IPSET: &str = "ipset";
/// 1M entries: far above any real attack, small enough (tens of MB) to be harmless.
const MAXELEM: &str = "1048576";
/// How many elements of one batch ipset may refuse one by one (each costs a run over
/// the rest of the batch) before the rest is refused as a whole. The backend screens
/// out what the kernel is known to refuse first, so this is a bound, not a budget.
const RESUMES_MAX: usize = 32;

/// Type and parameters of a jail's set of the family, after `create NAME`. IPv4 is
/// `hash:net` as IPv6 is, so a set holds single addresses and networks together (a
/// ban of 198.51.100.0/24 beside one of 203.0.113.7). Measured against `hash:ip` with
/// 100k single addresses: the same `ipset restore` time (0.92–1.20 s against
/// 1.00–1.07 s, noisy) and the same memory (3.72 MB); the kernel looks a packet up
/// once per prefix length in use, so with only single addresses it is one lookup as
/// with hash:ip (bench/RESULTS.md, "IPv4 networks").
fn set_params(fam: Family) -> [&'static str; 7] {
    let family = match fam {
        Family::V4 => "inet",
        Family::V6 => "inet6",
    };
    [
        "hash:net", "family", family, "timeout", "0", "maxelem", MAXELEM,
    ]
}

/// What an older banjo made for IPv4 (single addresses only); upgraded at setup.
const LEGACY_V4_TYPE: &str = "hash:ip";

/// The first line of every `ipset restore` script: the set's own `create`, which
/// `-exist` turns into a no-op for the set setup made. Without it ipset 7 asks the
/// kernel for the set's type once per line (an IPSET_CMD_HEADER round trip and an
/// fstat each): measured 1.57 s of CPU for 100k adds, 0.73 s with this line.
fn create_line(set: &str, fam: Family) -> String {
    format!("create {set} {}", set_params(fam).join(" "))
}

/// `rule` (matches, then `-j TARGET…`) with banjo's marker before the target, as `-S`
/// prints it back.
pub fn marked(rule: &str) -> String {
    let at = if rule.starts_with("-j ") {
        Some(0)
    } else {
        rule.find(" -j ").map(|i| i + 1)
    };
    match at {
        Some(i) => format!("{}-m comment --comment {MARK} {}", &rule[..i], &rule[i..]),
        None => rule.to_owned(),
    }
}

/// `rule` without banjo's marker, and whether it had one.
fn unmarked(rule: &str) -> (String, bool) {
    let m = format!("-m comment --comment {MARK} ");
    match rule.find(&m) {
        Some(i) => (format!("{}{}", &rule[..i], &rule[i + m.len()..]), true),
        None => (rule.to_owned(), false),
    }
}

/// Which iptables binaries to run. Both talk to the same kernel, but rules made by one
/// are invisible to the other's listing, and a hook must go where the host's own chains
/// (DOCKER-USER, a distro's INPUT rules) live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `iptables-nft`: rules in nf_tables (Debian 12's default).
    Nft,
    /// `iptables-legacy`: the old x_tables backend.
    Legacy,
    /// Plain `iptables`, whatever the distribution made it.
    System,
}

impl Flavour {
    pub fn command(self, family: Family) -> &'static str {
        match (self, family) {
            (Flavour::Nft, Family::V4) => "iptables-nft",
            (Flavour::Nft, Family::V6) => "ip6tables-nft",
            (Flavour::Legacy, Family::V4) => "iptables-legacy",
            (Flavour::Legacy, Family::V6) => "ip6tables-legacy",
            (Flavour::System, Family::V4) => "iptables",
            (Flavour::System, Family::V6) => "ip6tables",
        }
    }

    /// Pick the flavour that holds the host's firewall. Legacy wins only when legacy
    /// tables are loaded and hold more rules than nf_tables does (a Docker or distro
    /// firewall still on legacy); otherwise nft, then whatever runs. The same rule
    /// kube-proxy's iptables-wrapper uses. Legacy is probed only when its tables already
    /// exist, since listing them loads the legacy modules.
    pub fn detect() -> Result<Flavour, FirewallError> {
        let legacy = if legacy_tables_loaded() {
            Flavour::Legacy.rule_count()
        } else {
            None
        };
        if let Some(nft) = Flavour::Nft.rule_count() {
            return Ok(if legacy.unwrap_or(0) > nft {
                Flavour::Legacy
            } else {
                Flavour::Nft
            });
        }
        if legacy.is_some() {
            return Ok(Flavour::Legacy);
        }
        for f in [Flavour::System, Flavour::Legacy] {
            if f.rule_count().is_some() {
                return Ok(f);
            }
        }
        Err(FirewallError::NoIptables {
            tried: "iptables-nft, iptables, iptables-legacy".into(),
        })
    }

    /// Rules in the filter table of both families; `None` if the binaries do not work.
    fn rule_count(self) -> Option<usize> {
        let mut n = 0;
        for fam in Family::BOTH {
            let out = Command::new(self.command(fam))
                .args(["-w", "-t", TABLE, "-S"])
                .stdin(Stdio::null())
                .output()
                .ok()?;
            if !out.status.success() {
                return None;
            }
            n += String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.starts_with("-A "))
                .count();
        }
        Some(n)
    }
}

/// Legacy tables exist in this network namespace (per-namespace /proc/net files,
/// present only once the x_tables modules are loaded).
fn legacy_tables_loaded() -> bool {
    ["/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"]
        .iter()
        .any(|p| std::fs::read_to_string(p).is_ok_and(|s| !s.trim().is_empty()))
}

/// The iptables + ipset firewall.
pub struct IptablesFirewall {
    flavour: Flavour,
    v4: IPTables,
    v6: IPTables,
    /// `ipset restore` runs started by [`Firewall::ban_start`], oldest first.
    pending: Vec<Pending>,
    /// The bans they refused, until [`Firewall::settle`] hands them out.
    refused: Vec<(String, Refusal)>,
    /// Jails this firewall set up, with their rules: only their restore scripts start
    /// with the set's `create` line (see `create_line`), so a ban for a jail that is
    /// not set up still fails instead of making its set.
    set_up: BTreeMap<String, JailRules>,
    ledger: Box<dyn Ledger>,
    /// Legacy tables: what IPT_SO_GET_INFO said after our last change or check, per
    /// family (see `glance`); nf_tables announces changes instead.
    fingerprint: [Option<Vec<u8>>; 2],
}

/// One family's part of a ban batch: the set's `create` line (when the jail is set up)
/// and one `add` line per entry, for `ipset restore`.
struct Batch {
    jail: String,
    set: String,
    step: String,
    head: Option<String>,
    items: Vec<(BanEntry, String)>,
}

impl Batch {
    /// The script from item `from` on.
    fn script(&self, from: usize) -> String {
        let mut s = String::with_capacity((self.items.len() - from) * 48 + 96);
        if let Some(h) = &self.head {
            s.push_str(h);
            s.push('\n');
        }
        for (_, line) in &self.items[from..] {
            s.push_str(line);
            s.push('\n');
        }
        s
    }
}

/// An `ipset restore` still running in the background, and what it was given.
struct Pending {
    child: Child,
    batch: Batch,
}

/// One step of `setup` already made, and how to take it back.
enum Undo {
    DestroySet(String),
    /// A chain we created (with whatever rules we put in it).
    DeleteChain(Family, String),
    /// A chain that existed with other rules, which we replaced.
    RestoreRules(Family, String, Vec<String>),
    /// A hook we inserted.
    DeleteRule(Family, String, String),
    /// A stale hook we removed.
    ReinsertRule(Family, String, String),
}

/// The filter table of one family as `-S` printed it once: every question about
/// chains, rules and jumps of one operation is answered from one listing.
struct Listing(String);

impl Listing {
    /// The chains, built-in and user-defined.
    fn chains(&self) -> Vec<&str> {
        self.0
            .lines()
            .filter_map(|l| l.strip_prefix("-N ").or_else(|| l.strip_prefix("-P ")))
            .filter_map(|rest| rest.split_whitespace().next())
            .collect()
    }

    fn has_chain(&self, chain: &str) -> bool {
        self.chains().contains(&chain)
    }

    /// The rules of `chain` as `-S` prints them, without the `-A chain ` prefix.
    fn rules_of(&self, chain: &str) -> Vec<String> {
        let prefix = format!("-A {chain} ");
        self.0
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect()
    }

    /// Every rule that jumps (or goes) to `target`: (chain, rule spec).
    fn jumps_to(&self, target: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for line in self.0.lines() {
            let Some((chain, spec)) = line
                .strip_prefix("-A ")
                .and_then(|rest| rest.split_once(' '))
            else {
                continue;
            };
            let words: Vec<&str> = spec.split_whitespace().collect();
            let jumps = words
                .windows(2)
                .any(|w| (w[0] == "-j" || w[0] == "-g") && w[1] == target);
            if jumps {
                out.push((chain.to_owned(), spec.trim().to_owned()));
            }
        }
        out
    }

    /// Every rule that matches the set `set`: (chain, 1-based position, rule spec).
    fn uses_of_set(&self, set: &str) -> Vec<(String, usize, String)> {
        let mut pos: BTreeMap<&str, usize> = BTreeMap::new();
        let mut out = Vec::new();
        let needle = format!("--match-set {set} ");
        for line in self.0.lines() {
            let Some((chain, spec)) = line
                .strip_prefix("-A ")
                .and_then(|rest| rest.split_once(' '))
            else {
                continue;
            };
            let n = pos.entry(chain).or_insert(0);
            *n += 1;
            if spec.contains(&needle) {
                out.push((chain.to_owned(), *n, spec.to_owned()));
            }
        }
        out
    }
}

/// A set's header as `ipset list -t` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SetHead {
    kind: String,
    /// The `Header:` words, as written.
    header: String,
}

impl SetHead {
    /// Is this the set banjo makes (`kind`, family, timeout 0, maxelem) and nothing more?
    fn is(&self, kind: &str, fam: Family) -> bool {
        let params = set_params(fam);
        let words: Vec<&str> = self.header.split_whitespace().collect();
        let value = |k: &str| words.windows(2).find(|w| w[0] == k).map(|w| w[1]);
        // Sizes the kernel picks, shown but not chosen by the creator.
        let known = [
            "family",
            "hashsize",
            "maxelem",
            "timeout",
            "bucketsize",
            "initval",
        ];
        let keys_ok = words.iter().step_by(2).all(|k| known.contains(k));
        self.kind == kind
            && keys_ok
            && value("family") == Some(params[2])
            && value("timeout") == Some("0")
            && value("maxelem") == Some(MAXELEM)
    }
}

/// Every set's header (`ipset list -t`, one run).
fn set_heads() -> Result<BTreeMap<String, SetHead>, FirewallError> {
    let text = run_ok("listing ipsets", IPSET, &["list", "-t"], None)?;
    let mut out = BTreeMap::new();
    let (mut name, mut kind) = (None, None);
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Name: ") {
            name = Some(n.trim().to_owned());
        } else if let Some(t) = line.strip_prefix("Type: ") {
            kind = Some(t.trim().to_owned());
        } else if let Some(h) = line.strip_prefix("Header: ") {
            if let (Some(n), Some(k)) = (name.take(), kind.take()) {
                out.insert(
                    n,
                    SetHead {
                        kind: k,
                        header: h.trim().to_owned(),
                    },
                );
            }
        }
    }
    Ok(out)
}

/// Whose a jail's set or chain is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Absent,
    Ours,
    /// An older banjo's `hash:ip` IPv4 set: ours, to be upgraded to `hash:net`.
    OursToUpgrade,
    /// Not banjo's: what it is, and how to clear the way.
    Foreign(String),
}

/// Is `rule` (unmarked) one that banjo writes into `banjo-<jail>`?
fn banjo_shaped(jail: &str, rule: &str) -> bool {
    if rule == "-j RETURN" {
        return true;
    }
    if rule.starts_with("-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m limit ")
        && rule.contains(" -j NFLOG --nflog-group ")
    {
        return true;
    }
    let sets = [
        set_name(jail, Family::V4),
        set_name(jail, Family::V6),
        upgrade_set(jail),
    ];
    let body = rule.strip_prefix("-p tcp ").unwrap_or(rule);
    sets.iter().any(|set| {
        body.strip_prefix(&format!("-m set --match-set {set} src -j "))
            .is_some_and(|target| {
                [
                    "DROP",
                    "REJECT --reject-with tcp-reset",
                    "REJECT --reject-with icmp-port-unreachable",
                    "REJECT --reject-with icmp6-port-unreachable",
                ]
                .contains(&target)
            })
    })
}

/// Is `spec` (a rule in another chain, unmarked) a hook as banjo writes them?
fn hook_shaped(jail: &str, spec: &str) -> bool {
    let target = format!("-j {}", super::chain_name(jail));
    let Some(head) = spec.strip_suffix(&target) else {
        return false;
    };
    let head = head.trim();
    let head = ["-p tcp", "-p udp"]
        .iter()
        .find_map(|p| head.strip_prefix(p))
        .unwrap_or(head)
        .trim();
    head.is_empty()
        || head
            .strip_prefix("-m multiport --dports ")
            .is_some_and(|p| !p.contains(' '))
}

/// The set an upgrade fills while the jail's IPv4 set is remade (`-4t`: 31 bytes at
/// most, as set names must be).
fn upgrade_set(jail: &str) -> String {
    format!("banjo-{jail}-4t")
}

fn fix_set(set: &str) -> String {
    format!("if it is not in use, remove it (ipset destroy {set}) or give the jail another name")
}

fn fix_chain(chain: &str) -> String {
    format!(
        "remove it (delete the rules that jump to it, then iptables -F {chain}; iptables -X {chain}) \
         or give the jail another name"
    )
}

impl IptablesFirewall {
    /// The backend with the flavour [`Flavour::detect`] picks.
    pub fn new() -> Result<IptablesFirewall, FirewallError> {
        Ok(IptablesFirewall::with_flavour(Flavour::detect()?))
    }

    /// The backend with a chosen flavour (a config override, or tests of both).
    pub fn with_flavour(flavour: Flavour) -> IptablesFirewall {
        // Built directly rather than with `iptables::new`, which always runs the plain
        // `iptables`. -C and -w exist since iptables 1.4.20 (2013). Not numeric: the
        // crate then lists with `-S -n`, which iptables rejects, and it ignores the
        // failure (an empty listing); we list through `self.listing` instead.
        let make = |fam| IPTables {
            cmd: flavour.command(fam),
            has_check: true,
            has_wait: true,
            is_numeric: false,
        };
        IptablesFirewall {
            flavour,
            v4: make(Family::V4),
            v6: make(Family::V6),
            pending: Vec::new(),
            refused: Vec::new(),
            set_up: BTreeMap::new(),
            ledger: Box::new(MemoryLedger::trusting()),
            fingerprint: [None, None],
        }
    }

    /// Wait for the background runs; a run ipset stopped early is finished here, one
    /// refused element at a time (see `run_batch`), its refusals kept for `settle`.
    /// Every other operation does this first, so the kernel sees operations in the
    /// order they were asked for.
    fn wait_pending(&mut self) {
        for p in std::mem::take(&mut self.pending) {
            let refused = match p.child.wait_with_output() {
                Ok(o) if o.status.success() => continue,
                Ok(o) => {
                    let stderr = String::from_utf8_lossy(&o.stderr).trim().to_owned();
                    resume_batch(&p.batch, &stderr)
                }
                Err(e) => super::refuse_all(
                    &p.batch.items.iter().map(|i| i.0).collect::<Vec<_>>(),
                    &format!("{}: cannot run ipset: {e}", p.batch.step),
                ),
            };
            let jail = p.batch.jail.clone();
            self.refused
                .extend(refused.into_iter().map(|r| (jail.clone(), r)));
        }
    }

    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    fn ipt(&self, fam: Family) -> &IPTables {
        match fam {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }

    fn ipt_err(&self, fam: Family, step: String, e: Box<dyn Error>) -> FirewallError {
        let tool = self.flavour.command(fam).to_owned();
        if let Some(ie) = e.downcast_ref::<iptables::error::IptablesError>() {
            return FirewallError::Tool {
                step,
                tool,
                stderr: ie.msg.trim().to_owned(),
            };
        }
        match e.downcast::<std::io::Error>() {
            Ok(io) => FirewallError::Spawn {
                step,
                tool,
                source: *io,
            },
            Err(e) => FirewallError::Tool {
                step,
                tool,
                stderr: e.to_string(),
            },
        }
    }

    /// Run `iptables -t filter ARGS` and insist on success. (The crate's own list
    /// functions ignore the exit status, so a failure would look like an empty table.)
    fn exec(&self, fam: Family, step: &str, args: &str) -> Result<String, FirewallError> {
        let out = self
            .ipt(fam)
            .execute(TABLE, args)
            .map_err(|e| self.ipt_err(fam, step.to_owned(), e))?;
        if !out.status.success() {
            return Err(FirewallError::Tool {
                step: step.to_owned(),
                tool: self.flavour.command(fam).to_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The filter table as `-S` prints it (iptables-nft answers `-S CHAIN` for a
    /// missing chain with a misleading "incompatible", so chains are looked up here).
    fn listing(&self, fam: Family) -> Result<Listing, FirewallError> {
        self.exec(fam, &format!("listing the filter table ({fam})"), "-S")
            .map(Listing)
    }

    fn listings(&self) -> Result<[Listing; 2], FirewallError> {
        Ok([self.listing(Family::V4)?, self.listing(Family::V6)?])
    }

    fn set_names(&self) -> Result<BTreeSet<String>, FirewallError> {
        let out = run_ok("listing ipsets", IPSET, &["list", "-n"], None)?;
        Ok(out.lines().map(|l| l.trim().to_owned()).collect())
    }

    /// Whose the jail's set of the family is.
    fn set_verdict(&self, heads: &BTreeMap<String, SetHead>, set: &str, fam: Family) -> Verdict {
        let Some(head) = heads.get(set) else {
            return Verdict::Absent;
        };
        let known = self.ledger.made(&Object::Ipset(set.to_owned())) || self.ledger.trusts_looks();
        if head.is("hash:net", fam) && known {
            return Verdict::Ours;
        }
        if fam == Family::V4 && head.is(LEGACY_V4_TYPE, fam) && known {
            return Verdict::OursToUpgrade;
        }
        let what = if known {
            format!("with type {} and header \"{}\"", head.kind, head.header)
        } else {
            "and banjo did not make it".to_owned()
        };
        Verdict::Foreign(format!(
            "exists {what}; banjo needs its own hash:net set there: {}",
            fix_set(set)
        ))
    }

    /// Whose the chain `banjo-<jail>` of the family is: banjo's if every rule in it is
    /// one banjo writes and banjo made it (ledger), marked it, or it looks exactly like
    /// an older banjo's (only while the ledger trusts looks).
    fn chain_verdict(&self, listing: &Listing, jail: &str, fam: Family) -> Verdict {
        let chain = super::chain_name(jail);
        if !listing.has_chain(&chain) {
            return Verdict::Absent;
        }
        let rules = listing.rules_of(&chain);
        let mut all_marked = !rules.is_empty();
        for r in &rules {
            let (bare, mark) = unmarked(r);
            all_marked &= mark;
            if !mark && !banjo_shaped(jail, &bare) {
                return Verdict::Foreign(format!(
                    "holds a rule banjo did not write (-A {chain} {r}): {}",
                    fix_chain(&chain)
                ));
            }
        }
        let made = self.ledger.made(&Object::Chain(fam, chain.clone()));
        let matches_own_set = rules.iter().any(|r| r.contains("--match-set banjo-"));
        let looks = self.ledger.trusts_looks() && (rules.is_empty() || matches_own_set);
        if made || all_marked || looks {
            Verdict::Ours
        } else {
            Verdict::Foreign(format!(
                "exists and banjo did not make it: {}",
                fix_chain(&chain)
            ))
        }
    }

    /// Is the jump `spec` (in another chain) to our chain one of banjo's hooks?
    fn hook_is_ours(jail: &str, spec: &str) -> bool {
        let (bare, mark) = unmarked(spec);
        mark || hook_shaped(jail, &bare)
    }

    /// Objects under the jail's names that banjo did not make, each with its fix, and
    /// whether the IPv4 set needs the upgrade.
    fn survey(
        &self,
        jail: &str,
        heads: &BTreeMap<String, SetHead>,
        listings: &[Listing; 2],
    ) -> (Vec<String>, bool) {
        let mut foreign = Vec::new();
        let mut upgrade = false;
        for fam in Family::BOTH {
            let set = set_name(jail, fam);
            match self.set_verdict(heads, &set, fam) {
                Verdict::Foreign(why) => foreign.push(format!("ipset {set} {why}")),
                Verdict::OursToUpgrade => upgrade = true,
                _ => {}
            }
        }
        let chain = super::chain_name(jail);
        for (fam, l) in Family::BOTH.into_iter().zip(listings) {
            if let Verdict::Foreign(why) = self.chain_verdict(l, jail, fam) {
                foreign.push(format!("{} {why}", Object::Chain(fam, chain.clone())));
            }
        }
        (foreign, upgrade)
    }

    fn record(&mut self, obj: Object) -> Result<(), FirewallError> {
        let what = obj.to_string();
        self.ledger.record(&obj).map_err(|e| FirewallError::Tool {
            step: format!("recording {what} as banjo's before making it"),
            tool: "state".into(),
            stderr: e,
        })
    }

    fn make_set(
        &mut self,
        set: &str,
        fam: Family,
        made: &mut Vec<Undo>,
    ) -> Result<(), FirewallError> {
        self.record(Object::Ipset(set.to_owned()))?;
        // -exist accepts a set made earlier with the same parameters, and still
        // refuses one with a different type or size, which we must not reuse.
        let mut args = vec!["-exist", "create", set];
        args.extend_from_slice(&set_params(fam));
        made.push(Undo::DestroySet(set.to_owned()));
        run_ok(&format!("creating ipset {set}"), IPSET, &args, None)?;
        Ok(())
    }

    fn setup_steps(
        &mut self,
        rules: &JailRules,
        made: &mut Vec<Undo>,
    ) -> Result<(), FirewallError> {
        let jail = &rules.jail;
        let heads = set_heads()?;
        let mut listings = self.listings()?;
        let (foreign, upgrade) = self.survey(jail, &heads, &listings);
        if !foreign.is_empty() {
            return Err(FirewallError::Foreign {
                jail: jail.clone(),
                objects: foreign,
            });
        }
        if upgrade {
            self.upgrade_v4_set(jail, &listings[0])?;
            // It rewrote the chain's IPv4 rules.
            listings[0] = self.listing(Family::V4)?;
        }
        self.make_sets(jail, &heads, made)?;
        let fresh = self.make_chains(jail, &listings, made)?;
        self.fill_chains(rules, &listings, &fresh, made)?;
        self.hook(rules, &listings, made)?;
        self.drop_stale_hooks(rules, made)
    }

    fn make_sets(
        &mut self,
        jail: &str,
        heads: &BTreeMap<String, SetHead>,
        made: &mut Vec<Undo>,
    ) -> Result<(), FirewallError> {
        for fam in Family::BOTH {
            let set = set_name(jail, fam);
            if heads.contains_key(&set) {
                // Ours already (made before, an older banjo's, or just upgraded): on
                // the record from now on, and never undone here.
                self.record(Object::Ipset(set))?;
            } else {
                self.make_set(&set, fam, made)?;
            }
        }
        Ok(())
    }

    /// The chain in each family, made where missing; the families where it was.
    fn make_chains(
        &mut self,
        jail: &str,
        listings: &[Listing; 2],
        made: &mut Vec<Undo>,
    ) -> Result<Vec<Family>, FirewallError> {
        let chain = super::chain_name(jail);
        let mut fresh = Vec::new();
        for (fam, l) in Family::BOTH.into_iter().zip(listings) {
            self.record(Object::Chain(fam, chain.clone()))?;
            if !l.has_chain(&chain) {
                made.push(Undo::DeleteChain(fam, chain.clone()));
                self.ipt(fam)
                    .new_chain(TABLE, &chain)
                    .map_err(|e| self.ipt_err(fam, format!("creating chain {chain} ({fam})"), e))?;
                fresh.push(fam);
            }
        }
        Ok(fresh)
    }

    /// Presence is judged by the text `-S` prints, never by `-C`: ip6tables-legacy
    /// 1.8.9 answers `-C` for `--dports 2222` with "exists" when only `--dports 22`
    /// does (same port count), and would leave the jail unhooked. The tests pin our
    /// rule texts to what -S prints, for both flavours.
    fn fill_chains(
        &mut self,
        rules: &JailRules,
        listings: &[Listing; 2],
        fresh: &[Family],
        made: &mut Vec<Undo>,
    ) -> Result<(), FirewallError> {
        let chain = super::chain_name(&rules.jail);
        for (fam, l) in Family::BOTH.into_iter().zip(listings) {
            let want = chain_body(rules, fam);
            let step = || format!("filling chain {chain} ({fam})");
            let mut old = Vec::new();
            if !fresh.contains(&fam) {
                old = l.rules_of(&chain);
                if old == want {
                    continue;
                }
                // Left by an older config (another blocktype) or an older banjo. The
                // new rules go in behind the old ones, which are removed after, so
                // banned addresses stay blocked throughout.
                made.push(Undo::RestoreRules(fam, chain.clone(), old.clone()));
            }
            for rule in &want {
                self.ipt(fam)
                    .append(TABLE, &chain, rule)
                    .map_err(|e| self.ipt_err(fam, step(), e))?;
            }
            for _ in &old {
                self.exec(fam, &step(), &format!("-D {chain} 1"))?;
            }
        }
        Ok(())
    }

    fn hook(
        &mut self,
        rules: &JailRules,
        listings: &[Listing; 2],
        made: &mut Vec<Undo>,
    ) -> Result<(), FirewallError> {
        let chain = super::chain_name(&rules.jail);
        let hook = hook_rule(rules);
        for (fam, l) in Family::BOTH.into_iter().zip(listings) {
            if !l.rules_of(&rules.chain).contains(&hook) {
                self.ipt(fam)
                    .insert(TABLE, &rules.chain, &hook, 1)
                    .map_err(|e| {
                        let step = format!("hooking chain {chain} into {} ({fam})", rules.chain);
                        self.ipt_err(fam, step, e)
                    })?;
                made.push(Undo::DeleteRule(fam, rules.chain.clone(), hook.clone()));
            }
        }
        Ok(())
    }

    /// Hooks from an older config (other ports or chain) would keep diverting traffic
    /// the jail no longer covers; they go only after the new hook is in place, and
    /// only if they are banjo's.
    fn drop_stale_hooks(
        &mut self,
        rules: &JailRules,
        made: &mut Vec<Undo>,
    ) -> Result<(), FirewallError> {
        let chain = super::chain_name(&rules.jail);
        let hook = hook_rule(rules);
        for fam in Family::BOTH {
            let jumps = self.listing(fam)?.jumps_to(&chain);
            // Should a flavour print our hook otherwise than we write it, ours could
            // not be told from stale ones, and keeping a stale hook beats removing the
            // live one.
            if !jumps
                .iter()
                .any(|(c, spec)| *c == rules.chain && *spec == hook)
            {
                continue;
            }
            for (c, spec) in jumps {
                if (c == rules.chain && spec == hook) || !Self::hook_is_ours(&rules.jail, &spec) {
                    continue;
                }
                self.ipt(fam).delete(TABLE, &c, &spec).map_err(|e| {
                    self.ipt_err(fam, format!("removing stale hook of {chain} from {c}"), e)
                })?;
                made.push(Undo::ReinsertRule(fam, c, spec));
            }
        }
        Ok(())
    }

    /// An older banjo's IPv4 set is `hash:ip`, which cannot hold networks, and ipset
    /// can neither change a set's type nor swap sets of different types. So: a
    /// `hash:net` set `-4t` takes its members (with their timeouts), the chain's rules
    /// are pointed at it (`-R`, in place), the old set is destroyed and made again as
    /// `hash:net`, filled from `-4t`, the rules pointed back. Every member is matched
    /// by some rule at every moment.
    fn upgrade_v4_set(&mut self, jail: &str, listing: &Listing) -> Result<(), FirewallError> {
        let set = set_name(jail, Family::V4);
        let tmp = upgrade_set(jail);
        let chain = super::chain_name(jail);
        let uses = listing.uses_of_set(&set);
        if let Some((c, _, r)) = uses.iter().find(|(c, _, _)| *c != chain) {
            return Err(FirewallError::Foreign {
                jail: jail.to_owned(),
                objects: vec![format!(
                    "ipset {set} must become hash:net, but a rule banjo did not write uses it (-A {c} {r}); remove that rule"
                )],
            });
        }
        let step = format!("upgrading ipset {set} from hash:ip to hash:net");
        self.record(Object::Ipset(tmp.clone()))?;
        let mut args = vec!["-exist", "create", &tmp];
        args.extend_from_slice(&set_params(Family::V4));
        run_ok(&step, IPSET, &args, None)?;
        copy_members(&step, &set, &tmp)?;
        let point = |from: &str, to: &str| -> Result<(), FirewallError> {
            for (c, pos, r) in &uses {
                let rule = r.replace(
                    &format!("--match-set {from} "),
                    &format!("--match-set {to} "),
                );
                self.ipt(Family::V4)
                    .replace(TABLE, c, &rule, *pos as i32)
                    .map_err(|e| self.ipt_err(Family::V4, step.clone(), e))?;
            }
            Ok(())
        };
        point(&set, &tmp)?;
        destroy_set(&set)?;
        let mut args = vec!["create", &set];
        args.extend_from_slice(&set_params(Family::V4));
        run_ok(&step, IPSET, &args, None)?;
        copy_members(&step, &tmp, &set)?;
        point(&tmp, &set)?;
        destroy_set(&tmp)?;
        self.ledger.forget(&Object::Ipset(tmp));
        tracing::info!("[{jail}] {step}: done, bans kept");
        Ok(())
    }

    fn undo(&mut self, made: Vec<Undo>) -> Vec<FirewallError> {
        let mut errs = Vec::new();
        for step in made.into_iter().rev() {
            let r = match step {
                Undo::DestroySet(set) => destroy_set(&set).map(|()| {
                    self.ledger.forget(&Object::Ipset(set));
                }),
                Undo::DeleteChain(fam, chain) => self.remove_chain(fam, &chain).map(|()| {
                    self.ledger.forget(&Object::Chain(fam, chain));
                }),
                Undo::RestoreRules(fam, chain, old) => {
                    let step = || format!("restoring chain {chain} ({fam})");
                    self.ipt(fam)
                        .flush_chain(TABLE, &chain)
                        .map_err(|e| self.ipt_err(fam, step(), e))
                        .and_then(|()| {
                            old.iter().try_for_each(|r| {
                                self.ipt(fam)
                                    .append(TABLE, &chain, r)
                                    .map_err(|e| self.ipt_err(fam, step(), e))
                            })
                        })
                }
                Undo::DeleteRule(fam, chain, rule) => self
                    .ipt(fam)
                    .delete(TABLE, &chain, &rule)
                    .map_err(|e| self.ipt_err(fam, format!("removing new hook from {chain}"), e)),
                Undo::ReinsertRule(fam, chain, rule) => self
                    .ipt(fam)
                    .insert(TABLE, &chain, &rule, 1)
                    .map_err(|e| self.ipt_err(fam, format!("putting back old hook in {chain}"), e)),
            };
            if let Err(e) = r {
                errs.push(e);
            }
        }
        errs
    }

    fn remove_chain(&self, fam: Family, chain: &str) -> Result<(), FirewallError> {
        self.ipt(fam)
            .flush_chain(TABLE, chain)
            .map_err(|e| self.ipt_err(fam, format!("flushing chain {chain} ({fam})"), e))?;
        self.ipt(fam)
            .delete_chain(TABLE, chain)
            .map_err(|e| self.ipt_err(fam, format!("deleting chain {chain} ({fam})"), e))
    }

    /// `ipset restore -exist` of plain lines (unbans): one process per family.
    fn restore(
        &mut self,
        jail: &str,
        verb: &str,
        lines: [(usize, String); 2],
    ) -> Result<(), FirewallError> {
        self.wait_pending();
        for (fam, (n, script)) in Family::BOTH.into_iter().zip(lines) {
            if n == 0 {
                continue;
            }
            let set = set_name(jail, fam);
            let step = format!("{verb} {n} address(es) in ipset {set}");
            run_ok(
                &step,
                IPSET,
                &["restore", "-exist"],
                Some(script.as_bytes()),
            )?;
        }
        Ok(())
    }

    /// The batches adding `entries`, per family, and the entries refused before any
    /// ipset run (see `screen`).
    fn ban_batches(
        &self,
        jail: &str,
        entries: &[BanEntry],
    ) -> Result<(Vec<Batch>, Vec<Refusal>), FirewallError> {
        use std::fmt::Write as _;
        check_jail(jail)?;
        let (good, refused) = screen(entries);
        let mut batches = Vec::new();
        for fam in Family::BOTH {
            let set = set_name(jail, fam);
            let items: Vec<(BanEntry, String)> = good
                .iter()
                .filter(|e| Family::of(&e.addr) == fam)
                .map(|e| {
                    let mut line = String::with_capacity(48);
                    // 0 is permanent to ipset; kernel_timeout keeps 0-second bans from being that.
                    let t = kernel_timeout(e.timeout_secs);
                    let _ = write!(line, "add {set} {} timeout {t}", e.addr);
                    (*e, line)
                })
                .collect();
            if items.is_empty() {
                continue;
            }
            batches.push(Batch {
                jail: jail.to_owned(),
                set: set.clone(),
                step: format!("banning {} address(es) in ipset {set}", items.len()),
                head: self
                    .set_up
                    .contains_key(jail)
                    .then(|| create_line(&set, fam)),
                items,
            });
        }
        Ok((batches, refused))
    }

    /// What of the jail's setup is missing or changed, from listings already made.
    fn problems(
        &self,
        rules: &JailRules,
        heads: &BTreeMap<String, SetHead>,
        listings: &[Listing; 2],
    ) -> Vec<String> {
        let chain = super::chain_name(&rules.jail);
        let hook = hook_rule(rules);
        let mut out = Vec::new();
        for (fam, l) in Family::BOTH.into_iter().zip(listings) {
            let set = set_name(&rules.jail, fam);
            match heads.get(&set) {
                None => out.push(format!("ipset {set} missing")),
                Some(h) if !h.is("hash:net", fam) => out.push(format!(
                    "ipset {set} replaced by a set banjo did not make ({} {})",
                    h.kind, h.header
                )),
                Some(_) => {}
            }
            if !l.has_chain(&chain) {
                out.push(format!("chain {chain} ({fam}) missing"));
            } else if l.rules_of(&chain) != chain_body(rules, fam) {
                out.push(format!("rules of chain {chain} ({fam}) changed"));
            }
            if !l.rules_of(&rules.chain).contains(&hook) {
                out.push(format!("hook in {} ({fam}) missing", rules.chain));
            }
        }
        out
    }

    /// Legacy tables announce nothing: remember how they look after our own changes
    /// and checks, so that `glance` sees any change made since.
    fn note_fingerprint(&mut self) {
        if self.flavour == Flavour::Legacy {
            for (i, fam) in Family::BOTH.into_iter().enumerate() {
                self.fingerprint[i] = super::netlink::legacy_filter_info(fam).ok();
            }
        }
    }
}

/// Copy the members of ipset `from` (with their remaining timeouts) into `to`.
fn copy_members(step: &str, from: &str, to: &str) -> Result<(), FirewallError> {
    let saved = run_ok(step, IPSET, &["save", from], None)?;
    let prefix = format!("add {from} ");
    let mut script = String::new();
    for line in saved.lines() {
        if let Some(rest) = line.strip_prefix(&prefix) {
            script.push_str(&format!("add {to} {rest}\n"));
        }
    }
    if !script.is_empty() {
        run_ok(step, IPSET, &["restore", "-exist"], Some(script.as_bytes()))?;
    }
    Ok(())
}

/// The line ipset names in `stderr` ("Error in line 3: …") and its message.
fn failed_line(stderr: &str) -> Option<(usize, &str)> {
    let at = stderr.find("Error in line ")? + "Error in line ".len();
    let rest = &stderr[at..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let n = rest[..digits].parse().ok()?;
    let msg = rest[digits..].trim_start_matches(':').trim();
    Some((n, msg.lines().next().unwrap_or(msg)))
}

/// Errors about the set rather than one element: every element left would fail the
/// same way, so none is tried again.
fn set_level(msg: &str) -> bool {
    [
        "does not exist",
        "is full",
        "Kernel error",
        "session",
        "already exists",
    ]
    .iter()
    .any(|m| msg.contains(m))
}

/// Run `b` from item 0, resuming after each refused element; the refusals.
fn run_batch(b: &Batch) -> Vec<Refusal> {
    match run(
        &b.step,
        IPSET,
        &["restore", "-exist"],
        Some(b.script(0).as_bytes()),
    ) {
        Ok(r) if r.ok => Vec::new(),
        Ok(r) => resume_batch(b, &r.stderr),
        Err(e) => super::refuse_all(&entries_of(b, 0), &e.to_string()),
    }
}

fn entries_of(b: &Batch, from: usize) -> Vec<BanEntry> {
    b.items[from..].iter().map(|i| i.0).collect()
}

/// `b` failed with `stderr` after a run from item 0: ipset applied every line before
/// the one it names and none after. Refuse that line's element and run the rest, until
/// done; a set-level error refuses everything left.
fn resume_batch(b: &Batch, stderr: &str) -> Vec<Refusal> {
    let head = usize::from(b.head.is_some());
    let mut refused = Vec::new();
    let mut from = 0;
    let mut stderr = stderr.to_owned();
    loop {
        let Some((line, msg)) = failed_line(&stderr) else {
            refused.extend(super::refuse_all(
                &entries_of(b, from),
                &format!("{}: ipset: {stderr}", b.step),
            ));
            return refused;
        };
        let msg = msg.to_owned();
        // Lines count from the script's start, which is item `from`.
        let bad = (line.max(1) - 1)
            .checked_sub(head)
            .map(|i| from + i)
            .filter(|&i| i < b.items.len());
        match bad {
            Some(i) if !set_level(&msg) && refused.len() < RESUMES_MAX => {
                refused.push(Refusal {
                    entry: b.items[i].0,
                    reason: format!("ipset: {msg}"),
                });
                from = i + 1;
            }
            // Every line before the failed one is in the kernel.
            Some(i) => {
                let why = format!("{}: ipset: {msg}", b.step);
                refused.extend(super::refuse_all(&entries_of(b, i), &why));
                return refused;
            }
            // The set's own `create` line: the set under that name is no longer the
            // one banjo made (another tool replaced it), or there is none.
            None if b.head.is_some() && line == 1 => {
                let why = format!(
                    "{}: ipset {} is no longer the set banjo made ({msg})",
                    b.step, b.set
                );
                refused.extend(super::refuse_all(&entries_of(b, from), &why));
                return refused;
            }
            None => {
                let why = format!("{}: ipset: {msg}", b.step);
                refused.extend(super::refuse_all(&entries_of(b, from), &why));
                return refused;
            }
        }
        if from >= b.items.len() {
            return refused;
        }
        match run(
            &b.step,
            IPSET,
            &["restore", "-exist"],
            Some(b.script(from).as_bytes()),
        ) {
            Ok(r) if r.ok => return refused,
            Ok(r) => stderr = r.stderr,
            Err(e) => {
                refused.extend(super::refuse_all(&entries_of(b, from), &e.to_string()));
                return refused;
            }
        }
    }
}

impl IptablesFirewall {
    /// Remove what banjo made of the jail; (whether anything was banjo's, what was left).
    fn teardown_jail(&mut self, jail: &str) -> Result<(bool, Vec<Left>), FirewallError> {
        self.wait_pending();
        check_jail(jail)?;
        self.set_up.remove(jail);
        let (chains, mut left) = self.teardown_chains(jail)?;
        let (sets, more) = self.teardown_sets(jail)?;
        left.extend(more);
        self.note_fingerprint();
        Ok((chains || sets, left))
    }

    /// The chain and hooks banjo made, in both families; (any, what was left).
    fn teardown_chains(&mut self, jail: &str) -> Result<(bool, Vec<Left>), FirewallError> {
        let chain = super::chain_name(jail);
        let mut left = Vec::new();
        let mut ours = false;
        for fam in Family::BOTH {
            let l = self.listing(fam)?;
            let obj = Object::Chain(fam, chain.clone());
            match self.chain_verdict(&l, jail, fam) {
                Verdict::Absent => self.ledger.forget(&obj),
                Verdict::Foreign(why) => left.push(Left {
                    object: obj.to_string(),
                    why,
                }),
                Verdict::Ours | Verdict::OursToUpgrade => {
                    ours = true;
                    let mut kept = Vec::new();
                    for (c, spec) in l.jumps_to(&chain) {
                        if !Self::hook_is_ours(jail, &spec) {
                            kept.push(format!("-A {c} {spec}"));
                            continue;
                        }
                        self.ipt(fam).delete(TABLE, &c, &spec).map_err(|e| {
                            self.ipt_err(
                                fam,
                                format!("unhooking chain {chain} from {c} ({fam})"),
                                e,
                            )
                        })?;
                    }
                    if kept.is_empty() {
                        self.remove_chain(fam, &chain)?;
                        self.ledger.forget(&obj);
                    } else {
                        left.push(Left {
                            object: obj.to_string(),
                            why: format!(
                                "rules banjo did not write jump to it ({}); delete them, then banjo flush",
                                kept.join("; ")
                            ),
                        });
                    }
                }
            }
        }
        Ok((ours, left))
    }

    /// The sets banjo made (and an upgrade's, left by one that was cut short).
    fn teardown_sets(&mut self, jail: &str) -> Result<(bool, Vec<Left>), FirewallError> {
        let mut left = Vec::new();
        let mut ours = false;
        let heads = set_heads()?;
        let mut sets: Vec<(String, Option<Family>)> = Family::BOTH
            .into_iter()
            .map(|f| (set_name(jail, f), Some(f)))
            .collect();
        sets.push((upgrade_set(jail), None));
        for (set, fam) in sets {
            let obj = Object::Ipset(set.clone());
            let verdict = match fam {
                Some(f) => self.set_verdict(&heads, &set, f),
                // An upgrade's set, left by one that was cut short.
                None if heads.contains_key(&set) && self.ledger.made(&obj) => Verdict::Ours,
                None => Verdict::Absent,
            };
            match verdict {
                Verdict::Absent => self.ledger.forget(&obj),
                Verdict::Foreign(why) => left.push(Left {
                    object: obj.to_string(),
                    why,
                }),
                Verdict::Ours | Verdict::OursToUpgrade => {
                    ours = true;
                    match destroy_set(&set) {
                        Ok(()) => self.ledger.forget(&obj),
                        Err(e) => left.push(Left {
                            object: obj.to_string(),
                            why: format!("cannot be destroyed ({e}); a rule banjo did not write may still use it"),
                        }),
                    }
                }
            }
        }
        Ok((ours, left))
    }

    /// The jail names under which the kernel holds `banjo-*` chains or sets.
    fn names_present(&mut self) -> Result<BTreeSet<String>, FirewallError> {
        self.wait_pending();
        let mut jails = BTreeSet::new();
        for fam in Family::BOTH {
            let l = self.listing(fam)?;
            jails.extend(
                l.chains()
                    .into_iter()
                    .filter_map(super::jail_of_chain)
                    .map(str::to_owned),
            );
        }
        for set in self.set_names()? {
            let jail = super::jail_of_set(&set).or_else(|| {
                set.strip_prefix("banjo-")
                    .and_then(|s| s.strip_suffix("-4t"))
                    .filter(|j| crate::banrules::valid_jail_name(j))
            });
            if let Some(j) = jail {
                jails.insert(j.to_owned());
            }
        }
        Ok(jails)
    }
}

impl Firewall for IptablesFirewall {
    fn name(&self) -> &'static str {
        "iptables"
    }

    fn set_ledger(&mut self, ledger: Box<dyn Ledger>) {
        self.ledger = ledger;
    }

    fn setup(&mut self, rules: &JailRules) -> Result<(), FirewallError> {
        self.wait_pending();
        check_rules(rules)?;
        let mut made = Vec::new();
        let result = self.setup_steps(rules, &mut made);
        self.note_fingerprint();
        let Err(failed) = result else {
            self.set_up.insert(rules.jail.clone(), rules.clone());
            return Ok(());
        };
        let undo = self.undo(made);
        self.note_fingerprint();
        if undo.is_empty() {
            Err(failed)
        } else {
            Err(FirewallError::Rollback {
                failed: Box::new(failed),
                undo,
            })
        }
    }

    fn teardown(&mut self, jail: &str) -> Result<Vec<Left>, FirewallError> {
        self.teardown_jail(jail).map(|(_, left)| left)
    }

    fn ban(&mut self, jail: &str, entries: &[BanEntry]) -> Result<Vec<Refusal>, FirewallError> {
        self.wait_pending();
        let (batches, mut refused) = self.ban_batches(jail, entries)?;
        for b in &batches {
            refused.extend(run_batch(b));
        }
        Ok(refused)
    }

    fn ban_start(&mut self, jail: &str, entries: &[BanEntry]) -> Result<(), FirewallError> {
        self.wait_pending();
        let (batches, refused) = self.ban_batches(jail, entries)?;
        self.refused
            .extend(refused.into_iter().map(|r| (jail.to_owned(), r)));
        for batch in batches {
            let script = batch.script(0);
            match spawn_with_input(&batch.step, IPSET, &["restore", "-exist"], &script) {
                Ok(child) => self.pending.push(Pending { child, batch }),
                Err(e) => {
                    let why = e.to_string();
                    let all = entries_of(&batch, 0);
                    self.refused.extend(
                        super::refuse_all(&all, &why)
                            .into_iter()
                            .map(|r| (jail.to_owned(), r)),
                    );
                }
            }
        }
        Ok(())
    }

    fn settle(&mut self) -> Vec<(String, Refusal)> {
        self.wait_pending();
        std::mem::take(&mut self.refused)
    }

    fn unban(&mut self, jail: &str, addrs: &[Addr]) -> Result<(), FirewallError> {
        check_jail(jail)?;
        let mut lines = [(0, String::new()), (0, String::new())];
        for a in addrs {
            check_addr(jail, a)?;
            let fam = Family::of(a);
            let (n, s) = &mut lines[fam as usize];
            *n += 1;
            s.push_str(&format!("del {} {a}\n", set_name(jail, fam)));
        }
        self.restore(jail, "unbanning", lines)
    }

    fn list(&mut self, jail: &str) -> Result<Vec<Addr>, FirewallError> {
        Ok(self
            .list_entries(jail)?
            .into_iter()
            .map(|e| e.addr)
            .collect())
    }

    fn list_entries(&mut self, jail: &str) -> Result<Vec<BanEntry>, FirewallError> {
        self.wait_pending();
        check_jail(jail)?;
        let mut out = Vec::new();
        for fam in Family::BOTH {
            let set = set_name(jail, fam);
            let step = format!("listing ipset {set}");
            let ran = run(&step, IPSET, &["save", &set], None)?;
            if !ran.ok {
                if ran.stderr.contains("does not exist") {
                    continue;
                }
                return Err(FirewallError::Tool {
                    step,
                    tool: IPSET.into(),
                    stderr: ran.stderr,
                });
            }
            out.extend(parse_save(&step, &set, &ran.stdout)?);
        }
        out.sort_by_key(|e| e.addr);
        Ok(out)
    }

    /// `ipset test`: for a single address, whether the set matches it (a network
    /// banned around it counts, as it does for packets).
    fn holds(&mut self, jail: &str, addr: &Addr) -> Result<bool, FirewallError> {
        self.wait_pending();
        check_jail(jail)?;
        let set = set_name(jail, Family::of(addr));
        let step = format!("testing {addr} in ipset {set}");
        let ran = run(&step, IPSET, &["test", &set, &addr.to_string()], None)?;
        if ran.ok {
            return Ok(true);
        }
        if ran.stderr.contains("is NOT in set") || ran.stderr.contains("does not exist") {
            return Ok(false);
        }
        Err(FirewallError::Tool {
            step,
            tool: IPSET.into(),
            stderr: ran.stderr,
        })
    }

    fn jails_present(&mut self) -> Result<Vec<String>, FirewallError> {
        let names = self.names_present()?;
        let heads = set_heads()?;
        let listings = self.listings()?;
        Ok(names
            .into_iter()
            .filter(|j| {
                let chains = Family::BOTH
                    .into_iter()
                    .zip(&listings)
                    .any(|(fam, l)| self.chain_verdict(l, j, fam) == Verdict::Ours);
                let sets = Family::BOTH.into_iter().any(|fam| {
                    matches!(
                        self.set_verdict(&heads, &set_name(j, fam), fam),
                        Verdict::Ours | Verdict::OursToUpgrade
                    )
                });
                chains || sets
            })
            .collect())
    }

    fn flush_all(&mut self) -> Result<Flushed, FirewallError> {
        let mut out = Flushed::default();
        let mut errs = Vec::new();
        for jail in self.names_present()? {
            match self.teardown_jail(&jail) {
                Ok((ours, left)) => {
                    if ours {
                        out.removed.push(jail);
                    }
                    out.left.extend(left);
                }
                Err(e) => errs.push(e),
            }
        }
        match errs.len() {
            0 => Ok(out),
            1 => Err(errs.remove(0)),
            _ => Err(FirewallError::Several(errs)),
        }
    }

    fn check(&mut self, rules: &JailRules) -> Result<Vec<String>, FirewallError> {
        self.wait_pending();
        let heads = set_heads()?;
        let listings = self.listings()?;
        let problems = self.problems(rules, &heads, &listings);
        if problems.is_empty() {
            self.note_fingerprint();
        }
        Ok(problems)
    }

    /// One netlink dump of every set's header (no process): each jail's sets must
    /// exist, be matched by a rule (an `iptables -F` leaves them unreferenced) and hold
    /// as many elements as the caller expects; with legacy tables also IPT_SO_GET_INFO,
    /// compared with how the table looked after our last change.
    fn glance(&mut self) -> Option<Glance> {
        self.wait_pending();
        if self.set_up.is_empty() {
            return None;
        }
        let heads = match super::netlink::ipset_heads() {
            Ok(h) => h,
            Err(e) => {
                tracing::debug!("ipset netlink dump: {e}");
                return None;
            }
        };
        let mut g = Glance::default();
        for jail in self.set_up.keys() {
            for fam in Family::BOTH {
                let set = set_name(jail, fam);
                match heads.iter().find(|h| h.name == set) {
                    None => g
                        .problems
                        .push((jail.clone(), format!("ipset {set} missing"))),
                    Some(h) => {
                        if h.references == 0 {
                            g.problems
                                .push((jail.clone(), format!("no rule matches ipset {set}")));
                        }
                        g.counts.push((jail.clone(), fam, h.elements));
                    }
                }
            }
        }
        if self.flavour == Flavour::Legacy {
            for (i, fam) in Family::BOTH.into_iter().enumerate() {
                let now = super::netlink::legacy_filter_info(fam).ok();
                if now != self.fingerprint[i] {
                    for jail in self.set_up.keys() {
                        g.problems
                            .push((jail.clone(), format!("filter table ({fam}) changed")));
                    }
                }
            }
        }
        Some(g)
    }

    fn needs_glance(&self) -> bool {
        true
    }

    fn watched_tables(&self) -> Vec<(u8, &'static str)> {
        match self.flavour {
            Flavour::Nft => vec![
                (super::netlink::NFPROTO_IPV4, TABLE),
                (super::netlink::NFPROTO_IPV6, TABLE),
            ],
            _ => Vec::new(),
        }
    }
}

/// The rule in the jail's chain that sends its traffic to `banjo-<jail>`, as `iptables
/// -S` prints it (so it can be found again by text).
pub fn hook_rule(rules: &JailRules) -> String {
    let target = super::chain_name(&rules.jail);
    let proto = match rules.protocol {
        Protocol::Tcp => Some("tcp"),
        Protocol::Udp => Some("udp"),
        Protocol::All => None,
    };
    marked(&match (proto, &rules.ports) {
        (None, _) => format!("-j {target}"),
        (Some(p), Ports::All) => format!("-p {p} -j {target}"),
        (Some(p), Ports::List(list)) => format!(
            "-p {p} -m multiport --dports {} -j {target}",
            ports_text(list)
        ),
    })
}

/// Every rule of `banjo-<jail>`, in order, as `-S` prints them: block the set's
/// members, log the start of other TCP connections when the jail has a wake group
/// (banned addresses never get that far), return. Each carries banjo's marker.
pub fn chain_body(rules: &JailRules, fam: Family) -> Vec<String> {
    let mut body = vec![match_rule(rules, fam)];
    if let Some(g) = rules.wake_group {
        body.push(marked(&super::wake_rule(g)));
    }
    body.push(marked("-j RETURN"));
    body
}

/// The rule in `banjo-<jail>` that blocks members of the family's set.
pub fn match_rule(rules: &JailRules, fam: Family) -> String {
    let set = set_name(&rules.jail, fam);
    marked(&match (rules.blocktype, rules.protocol, fam) {
        (BlockType::Drop, _, _) => format!("-m set --match-set {set} src -j DROP"),
        // tcp-reset is refused unless the rule itself says -p tcp.
        (BlockType::Reject, Protocol::Tcp, _) => {
            format!("-p tcp -m set --match-set {set} src -j REJECT --reject-with tcp-reset")
        }
        (BlockType::Reject, _, Family::V4) => {
            format!("-m set --match-set {set} src -j REJECT --reject-with icmp-port-unreachable")
        }
        (BlockType::Reject, _, Family::V6) => {
            format!("-m set --match-set {set} src -j REJECT --reject-with icmp6-port-unreachable")
        }
    })
}

/// The members of `ipset save` output.
/// The members of `set` in `ipset save` output, each with its remaining timeout
/// (`timeout 0`, or none in a set without timeouts: permanent).
fn parse_save(step: &str, set: &str, text: &str) -> Result<Vec<BanEntry>, FirewallError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("add") || words.next() != Some(set) {
            continue;
        }
        let addr = words.next().and_then(|w| w.parse::<Addr>().ok());
        let mut timeout_secs = None;
        while let Some(w) = words.next() {
            if w == "timeout" {
                timeout_secs = words
                    .next()
                    .and_then(|t| t.parse::<u32>().ok())
                    .filter(|&t| t > 0);
            }
        }
        match addr {
            Some(addr) => out.push(BanEntry { addr, timeout_secs }),
            None => {
                return Err(FirewallError::Parse {
                    step: step.to_owned(),
                    tool: IPSET.into(),
                    line: line.to_owned(),
                })
            }
        }
    }
    Ok(out)
}

/// `ipset destroy`, waiting out the kernel's lag: right after the last iptables-nft
/// rule using a set is gone, the set can still count as "in use by a kernel
/// component" for a moment (fail2ban#3624, weave#3847).
fn destroy_set(set: &str) -> Result<(), FirewallError> {
    let step = format!("destroying ipset {set}");
    let mut wait = Duration::from_millis(20);
    loop {
        let ran = run(&step, IPSET, &["destroy", set], None)?;
        if ran.ok || ran.stderr.contains("does not exist") {
            return Ok(());
        }
        if !ran.stderr.contains("in use") || wait > Duration::from_millis(640) {
            return Err(FirewallError::Tool {
                step,
                tool: IPSET.into(),
                stderr: ran.stderr,
            });
        }
        std::thread::sleep(wait);
        wait *= 2;
    }
}

impl Drop for IptablesFirewall {
    /// Runs still going finish before we go: no zombie, and no ban half-applied
    /// behind a caller's back.
    fn drop(&mut self) {
        self.wait_pending();
        for (jail, r) in &self.refused {
            tracing::error!(
                "[{jail}] firewall error: {} not banned: {}",
                r.entry.addr,
                r.reason
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(chain: &str, ports: Ports, protocol: Protocol, blocktype: BlockType) -> JailRules {
        JailRules {
            jail: "sshd".into(),
            chain: chain.into(),
            ports,
            protocol,
            blocktype,
            wake_group: None,
        }
    }

    const M: &str = "-m comment --comment banjo";

    #[test]
    fn hook_rules() {
        let r = |ports, proto| hook_rule(&rules("INPUT", ports, proto, BlockType::Reject));
        assert_eq!(
            r(Ports::List(vec![(22, 22), (2222, 2222)]), Protocol::Tcp),
            format!("-p tcp -m multiport --dports 22,2222 {M} -j banjo-sshd")
        );
        assert_eq!(
            r(Ports::List(vec![(8000, 8100)]), Protocol::Udp),
            format!("-p udp -m multiport --dports 8000:8100 {M} -j banjo-sshd")
        );
        assert_eq!(
            r(Ports::All, Protocol::Tcp),
            format!("-p tcp {M} -j banjo-sshd")
        );
        assert_eq!(r(Ports::All, Protocol::All), format!("{M} -j banjo-sshd"));
    }

    #[test]
    fn match_rules() {
        let tcp = rules("INPUT", Ports::All, Protocol::Tcp, BlockType::Reject);
        assert_eq!(
            match_rule(&tcp, Family::V6),
            format!(
                "-p tcp -m set --match-set banjo-sshd-6 src {M} -j REJECT --reject-with tcp-reset"
            )
        );
        let udp = rules("INPUT", Ports::All, Protocol::Udp, BlockType::Reject);
        assert!(match_rule(&udp, Family::V4).ends_with("icmp-port-unreachable"));
        assert!(match_rule(&udp, Family::V6).ends_with("icmp6-port-unreachable"));
        let drop = rules("INPUT", Ports::All, Protocol::Tcp, BlockType::Drop);
        assert_eq!(
            match_rule(&drop, Family::V4),
            format!("-m set --match-set banjo-sshd-4 src {M} -j DROP")
        );
    }

    #[test]
    fn wake_rule_sits_between_the_block_and_the_return() {
        let mut r = rules("INPUT", Ports::All, Protocol::Tcp, BlockType::Drop);
        assert_eq!(chain_body(&r, Family::V4).len(), 2);
        r.wake_group = Some(3187);
        let body = chain_body(&r, Family::V6);
        assert_eq!(
            body[0],
            format!("-m set --match-set banjo-sshd-6 src {M} -j DROP")
        );
        assert_eq!(
            body[1],
            format!("-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m limit --limit 10/sec --limit-burst 1 {M} -j NFLOG --nflog-group 3187 --nflog-size 0")
        );
        assert_eq!(body[2], format!("{M} -j RETURN"));
    }

    #[test]
    fn what_banjo_writes_is_told_from_what_it_did_not() {
        let r = rules(
            "INPUT",
            Ports::List(vec![(22, 22)]),
            Protocol::Tcp,
            BlockType::Reject,
        );
        for rule in chain_body(&r, Family::V4) {
            let (bare, mark) = unmarked(&rule);
            assert!(mark, "{rule}");
            assert!(banjo_shaped("sshd", &bare), "{bare}");
        }
        // An older banjo's rules (no marker) and hooks.
        assert!(banjo_shaped(
            "sshd",
            "-m set --match-set banjo-sshd-4 src -j DROP"
        ));
        assert!(banjo_shaped(
            "sshd",
            "-p tcp -m set --match-set banjo-sshd-6 src -j REJECT --reject-with tcp-reset"
        ));
        assert!(hook_shaped(
            "sshd",
            "-p tcp -m multiport --dports 22,2222 -j banjo-sshd"
        ));
        assert!(hook_shaped("sshd", "-j banjo-sshd"));
        assert!(IptablesFirewall::hook_is_ours("sshd", &hook_rule(&r)));
        // An admin's.
        assert!(!banjo_shaped("sshd", "-s 192.0.2.52/32 -j ACCEPT"));
        assert!(!banjo_shaped(
            "sshd",
            "-m set --match-set other src -j DROP"
        ));
        assert!(!banjo_shaped(
            "sshd",
            "-m set --match-set banjo-web-4 src -j DROP"
        ));
        assert!(!hook_shaped(
            "sshd",
            "-p tcp -m tcp --dport 22 -j banjo-sshd"
        ));
        assert!(!hook_shaped("sshd", "-s 192.0.2.1/32 -j banjo-sshd"));
    }

    #[test]
    fn set_headers_are_ours_only_exactly() {
        let h = |kind: &str, header: &str| SetHead {
            kind: kind.into(),
            header: header.into(),
        };
        let ours =
            "family inet hashsize 1024 maxelem 1048576 timeout 0 bucketsize 12 initval 0x4ae4f569";
        assert!(h("hash:net", ours).is("hash:net", Family::V4));
        assert!(h("hash:ip", ours).is(LEGACY_V4_TYPE, Family::V4));
        assert!(!h("hash:net", ours).is("hash:net", Family::V6));
        assert!(
            !h("hash:net", "family inet hashsize 1024 maxelem 65536").is("hash:net", Family::V4)
        );
        assert!(!h("hash:net", &format!("{ours} comment")).is("hash:net", Family::V4));
        assert!(!h("hash:ip,port", ours).is("hash:net", Family::V4));
    }

    #[test]
    fn ipset_errors_name_their_line() {
        let e = "ipset v7.17: Error in line 2: Null-valued element, cannot be stored in a hash type of set";
        assert_eq!(
            failed_line(e),
            Some((
                2,
                "Null-valued element, cannot be stored in a hash type of set"
            ))
        );
        assert_eq!(failed_line("ipset v7.17: Kernel error received"), None);
        assert!(set_level("Hash is full, cannot add more elements"));
        assert!(!set_level(
            "Null-valued element, cannot be stored in a hash type of set"
        ));
    }

    #[test]
    fn save_output_parses() {
        let text =
            "create banjo-sshd-6 hash:net family inet6 hashsize 1024 maxelem 1048576 timeout 0\n\
                    add banjo-sshd-6 2001:db8:1:2::/64 timeout 5\n\
                    add banjo-sshd-6 2001:db8::1 timeout 0\n";
        let got = parse_save("s", "banjo-sshd-6", text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].addr.to_string(), "2001:db8:1:2::/64");
        assert_eq!(got[0].timeout_secs, Some(5));
        assert!(got[1].addr.is_single());
        assert_eq!(got[1].timeout_secs, None, "timeout 0 is permanent");
        assert!(parse_save("s", "banjo-sshd-6", "add banjo-sshd-6 nonsense\n").is_err());
    }
}
