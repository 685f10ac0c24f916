//! The nftables backend: one table of banjo's own, `table inet banjo` (IPv4 and IPv6
//! in one table), and in it per jail a base chain `banjo-<jail>` hooked where the
//! jail's `chain` says, plus hash sets with kernel timeouts: `banjo-<jail>-4`
//! (ipv4_addr), `banjo-<jail>-6` (single IPv6 addresses) and, made at the first ban of
//! that length, `banjo-<jail>-4-<len>` and `banjo-<jail>-6-<len>` for networks (the
//! rule masks the source address to `len` bits and looks the result up: see
//! "Prefixes" below).
//!
//! Every change is one nft script run once with `nft -f -`, which nftables applies as
//! one transaction: a setup that fails leaves nothing, a reconfiguration is seen by
//! packets either whole or not at all, and a batch of any size is one process. Since a
//! batch is all or nothing, one the kernel refuses is split in halves and each tried
//! again, down to the elements that fail alone. The kernel is read with `nft -j list
//! table inet banjo` (JSON). This module never creates, changes or deletes anything
//! outside `table inet banjo`, and that table only if banjo made it (it is created
//! with `comment "banjo"` and recorded in the ledger, see owner.rs).
//!
//! Prefixes: nft can hold prefixes in a set with `flags interval`, but nft 1.0.6
//! (Debian 12) re-reads an interval set into userspace on every change and deleting
//! elements from a large one is quadratic (measured: 100k /64s added in 0.9 s, one more
//! added to them in 1.5 s, the 100k deleted in more than 120 s), and an interval set
//! refuses overlapping members (a /64 and an address in it), which ipset's hash:net
//! holds side by side. Hash sets per prefix length have neither problem.

use super::exec::{run, spawn_with_input};
use super::owner::{Ledger, Left, MemoryLedger, Object, MARK};
use super::{
    chain_name, check_addr, check_jail, check_rules, kernel_timeout, screen, BanEntry, Family,
    Firewall, FirewallError, Flushed, JailRules, Refusal,
};
use crate::addr::Addr;
use crate::banrules::{hook_of, BlockType, Ports, Protocol};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};
use std::process::Child;

const NFT: &str = "nft";
/// Family and name of banjo's table, as nft commands write them.
pub const TABLE: &str = "inet banjo";
const TABLE_NAME: &str = "banjo";
/// The same limit as the ipset backend's maxelem; only a limit, since sets with
/// timeouts are resizable hashes in the kernel.
const SET_SIZE: u32 = 1_048_576;
/// Before an ordinary `inet filter` table (priority filter = 0) and before
/// iptables-nft's and Docker's chains at the same hooks.
pub const PRIORITY: i64 = -10;
/// How much of nft's stderr an error keeps per line: nft echoes the failed command,
/// which for a batch is one line with every address in it.
const STDERR_LINE_MAX: usize = 240;
/// How many halvings a refused batch may cost before the rest of it is refused as a
/// whole: 64 transactions find a few bad elements in a batch of 100k (each costs
/// about log2(n) of them); a batch in which everything fails stops early anyway.
const SPLITS_MAX: usize = 64;

/// The kinds of set a jail has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SetKind {
    /// Single IPv4 addresses.
    V4,
    /// IPv4 networks of this length (1–31), stored as their network address.
    V4Prefix(u8),
    /// Single IPv6 addresses.
    V6,
    /// IPv6 prefixes of this length (1–127), stored as their network address.
    V6Prefix(u8),
}

impl SetKind {
    pub fn of(addr: &Addr) -> SetKind {
        match addr.net() {
            ipnet::IpNet::V4(n) if n.prefix_len() == 32 => SetKind::V4,
            ipnet::IpNet::V4(n) => SetKind::V4Prefix(n.prefix_len()),
            ipnet::IpNet::V6(n) if n.prefix_len() == 128 => SetKind::V6,
            ipnet::IpNet::V6(n) => SetKind::V6Prefix(n.prefix_len()),
        }
    }

    fn nft_type(self) -> &'static str {
        match self {
            SetKind::V4 | SetKind::V4Prefix(_) => "ipv4_addr",
            _ => "ipv6_addr",
        }
    }
}

/// The name of a jail's set of `kind` in table banjo.
pub fn set_name(jail: &str, kind: SetKind) -> String {
    match kind {
        SetKind::V4 => super::set_name(jail, Family::V4),
        SetKind::V6 => super::set_name(jail, Family::V6),
        SetKind::V4Prefix(len) => format!("banjo-{jail}-4-{len}"),
        SetKind::V6Prefix(len) => format!("banjo-{jail}-6-{len}"),
    }
}

/// The jail and kind of a set name made by [`set_name`]. The forms cannot be mistaken
/// for one another for the lengths banjo bans: `-4` and `-6` are one digit, prefix
/// sets end the name with `-4-<len>` or `-6-<len>`, and the firewalls hold no prefix
/// shorter than /8 (IPv4) or /16 (IPv6), whose one-digit lengths would read as a jail
/// named `…-4` or `…-6` (addr.rs).
pub fn parse_set_name(name: &str) -> Option<(&str, SetKind)> {
    if let Some(j) = super::jail_of_set(name) {
        let kind = if name.ends_with("-4") {
            SetKind::V4
        } else {
            SetKind::V6
        };
        return Some((j, kind));
    }
    let (rest, len) = name.rsplit_once('-')?;
    let len: u8 = len.parse().ok()?;
    let rest = rest.strip_prefix("banjo-")?;
    let (jail, kind) = if let Some(j) = rest.strip_suffix("-4") {
        (j, SetKind::V4Prefix(len).filter_len(1..=31)?)
    } else {
        (
            rest.strip_suffix("-6")?,
            SetKind::V6Prefix(len).filter_len(1..=127)?,
        )
    };
    crate::banrules::valid_jail_name(jail).then_some((jail, kind))
}

impl SetKind {
    fn filter_len(self, ok: std::ops::RangeInclusive<u8>) -> Option<SetKind> {
        match self {
            SetKind::V4Prefix(l) | SetKind::V6Prefix(l) if !ok.contains(&l) => None,
            k => Some(k),
        }
    }
}

/// The rule in `banjo-<jail>` that blocks members of the jail's set of `kind`, as nft
/// takes it after `add rule inet banjo CHAIN`.
pub fn rule_text(rules: &JailRules, kind: SetKind) -> String {
    let mut s = String::new();
    let proto = match rules.protocol {
        Protocol::Tcp => Some("tcp"),
        Protocol::Udp => Some("udp"),
        Protocol::All => None,
    };
    match (proto, &rules.ports) {
        (None, _) => {}
        (Some(p), Ports::All) => {
            let _ = write!(s, "meta l4proto {p} ");
        }
        (Some(p), Ports::List(list)) => {
            let _ = write!(s, "{p} dport {{ {} }} ", port_list(list));
        }
    }
    let set = set_name(&rules.jail, kind);
    match kind {
        SetKind::V4 => {
            let _ = write!(s, "ip saddr @{set} ");
        }
        SetKind::V6 => {
            let _ = write!(s, "ip6 saddr @{set} ");
        }
        SetKind::V4Prefix(len) => {
            let _ = write!(s, "ip saddr & {} @{set} ", v4_mask(len));
        }
        SetKind::V6Prefix(len) => {
            let _ = write!(s, "ip6 saddr & {} @{set} ", v6_mask(len));
        }
    }
    s.push_str(match (rules.blocktype, rules.protocol) {
        (BlockType::Drop, _) => "drop",
        (BlockType::Reject, Protocol::Tcp) => "reject with tcp reset",
        (BlockType::Reject, _) => "reject with icmpx type port-unreachable",
    });
    s
}

/// The rule after the set rules that logs the start of each TCP connection to the
/// jail's ports to its wake group (the nft twin of iptables' NFLOG rule; see
/// daemon/wakeup.rs). None without a wake group, or for a UDP-only jail.
pub fn wake_rule_text(rules: &JailRules) -> Option<String> {
    let group = rules.wake_group?;
    let ports = match (rules.protocol, &rules.ports) {
        (Protocol::Udp, _) => return None,
        (Protocol::Tcp, Ports::List(list)) => format!("tcp dport {{ {} }} ", port_list(list)),
        _ => String::new(),
    };
    Some(format!(
        "{ports}tcp flags & (fin|syn|rst|ack) == syn limit rate {}/second burst 1 packets log group {group} snaplen 0",
        super::WAKE_RATE_PER_SEC
    ))
}

fn port_list(list: &[(u16, u16)]) -> String {
    let ports: Vec<String> = list
        .iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    ports.join(", ")
}

fn v6_mask(len: u8) -> Ipv6Addr {
    Ipv6Addr::from(u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0))
}

fn v4_mask(len: u8) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0))
}

/// The element text for `addr` in its set: prefixes as their network address.
fn element(addr: &Addr) -> String {
    addr.net().network().to_string()
}

/// One nft script and, for each of its lines, the step it belongs to, so an error
/// can name the step nft stopped at.
#[derive(Default)]
struct Script {
    text: String,
    steps: Vec<String>,
}

impl Script {
    fn line(&mut self, step: &str, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        self.steps.push(step.to_owned());
    }

    fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The step of the line nft names in `stderr` (`/dev/stdin:3:1-20: Error: …`).
    fn step_of(&self, stderr: &str) -> Option<&str> {
        let at = stderr.find("/dev/stdin:")? + "/dev/stdin:".len();
        let digits: String = stderr[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let n: usize = digits.parse().ok()?;
        self.steps.get(n.checked_sub(1)?).map(String::as_str)
    }
}

/// nft's stderr, each line cut short (see [`STDERR_LINE_MAX`]).
fn shorten(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            if l.len() <= STDERR_LINE_MAX {
                l.trim_end().to_owned()
            } else {
                let mut end = STDERR_LINE_MAX;
                while !l.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{} …", &l[..end])
            }
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A base chain of table banjo as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ChainInfo {
    name: String,
    hook: Option<String>,
    prio: Option<i64>,
}

/// A set of table banjo as listed.
#[derive(Debug, Default)]
struct SetInfo {
    kind: String,
    flags: Vec<String>,
}

/// Table banjo as `nft -j list table inet banjo` shows it.
#[derive(Debug, Default)]
struct TableInfo {
    chains: Vec<ChainInfo>,
    sets: BTreeMap<String, SetInfo>,
    /// Rules per chain.
    rules: BTreeMap<String, usize>,
}

impl TableInfo {
    fn parse(step: &str, json: &str) -> Result<TableInfo, FirewallError> {
        let bad = |why: &str| FirewallError::Parse {
            step: step.to_owned(),
            tool: NFT.into(),
            line: why.to_owned(),
        };
        let v: Value = serde_json::from_str(json).map_err(|e| bad(&e.to_string()))?;
        let items = v
            .get("nftables")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no \"nftables\" array"))?;
        let mut t = TableInfo::default();
        for item in items {
            if let Some(r) = item.get("rule") {
                if r.get("table").and_then(Value::as_str) == Some(TABLE_NAME) {
                    if let Some(c) = r.get("chain").and_then(Value::as_str) {
                        *t.rules.entry(c.to_owned()).or_default() += 1;
                    }
                }
            } else if let Some(c) = item.get("chain") {
                if c.get("table").and_then(Value::as_str) != Some(TABLE_NAME) {
                    continue;
                }
                let Some(name) = c.get("name").and_then(Value::as_str) else {
                    return Err(bad("chain without a name"));
                };
                t.chains.push(ChainInfo {
                    name: name.to_owned(),
                    hook: c.get("hook").and_then(Value::as_str).map(str::to_owned),
                    prio: c.get("prio").and_then(Value::as_i64),
                });
            } else if let Some(s) = item.get("set") {
                if s.get("table").and_then(Value::as_str) != Some(TABLE_NAME) {
                    continue;
                }
                let Some(name) = s.get("name").and_then(Value::as_str) else {
                    return Err(bad("set without a name"));
                };
                let flags = s
                    .get("flags")
                    .and_then(Value::as_array)
                    .map(|f| {
                        f.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                let kind = s.get("type").and_then(Value::as_str).unwrap_or("");
                t.sets.insert(
                    name.to_owned(),
                    SetInfo {
                        kind: kind.to_owned(),
                        flags,
                    },
                );
            }
        }
        Ok(t)
    }

    fn chain(&self, name: &str) -> Option<&ChainInfo> {
        self.chains.iter().find(|c| c.name == name)
    }

    /// Does it look exactly like what an older banjo (one without the table's marker)
    /// made: nothing in it but chains and sets under banjo's names?
    fn looks_like_banjos(&self) -> bool {
        self.chains
            .iter()
            .all(|c| super::jail_of_chain(&c.name).is_some())
            && self
                .sets
                .keys()
                .all(|s| s == PROBE_SET || parse_set_name(s).is_some())
    }

    /// The kinds of set the jail has here.
    fn kinds_of(&self, jail: &str) -> BTreeSet<SetKind> {
        self.sets
            .keys()
            .filter_map(|s| parse_set_name(s))
            .filter(|(j, _)| *j == jail)
            .map(|(_, k)| k)
            .collect()
    }
}

/// The address an element of a set of `kind` stands for.
fn text_addr(val: &str, kind: SetKind) -> Option<Addr> {
    let ip: IpAddr = val.parse().ok()?;
    match (kind, ip) {
        (SetKind::V4, IpAddr::V4(_)) | (SetKind::V6, IpAddr::V6(_)) => Some(Addr::single(ip)),
        (SetKind::V4Prefix(len), IpAddr::V4(_)) | (SetKind::V6Prefix(len), IpAddr::V6(_)) => {
            Addr::network(ip, len)
        }
        _ => None,
    }
}

/// `nft -j list table inet banjo`, read for the members of sets only and without a
/// JSON tree per element: 100k members as serde_json `Value`s made banjo's peak RSS
/// 333 MiB instead of 110 MiB after a 100k-ban backlog, when the drift check that
/// follows it listed them.
#[derive(serde::Deserialize)]
struct MemberListing {
    nftables: Vec<MemberItem>,
}

#[derive(serde::Deserialize)]
struct MemberItem {
    set: Option<MemberSet>,
}

#[derive(serde::Deserialize)]
struct MemberSet {
    name: String,
    table: String,
    #[serde(default)]
    elem: Vec<MemberElem>,
}

/// `"192.0.2.1"`, or `{"elem": {"val": "192.0.2.1", "timeout": …, "expires": …}}`.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum MemberElem {
    Plain(String),
    Timed { elem: MemberVal },
}

#[derive(serde::Deserialize)]
struct MemberVal {
    val: String,
    timeout: Option<u64>,
    expires: Option<u64>,
}

impl MemberElem {
    /// The element's text and its remaining time in whole seconds (`expires`, at
    /// least 1), or None for a member without a timeout (permanent).
    fn parts(&self) -> (&str, Option<u32>) {
        match self {
            MemberElem::Plain(v) => (v, None),
            MemberElem::Timed { elem } => {
                let left = elem.expires.or(elem.timeout);
                (&elem.val, left.map(|l| l.clamp(1, u32::MAX as u64) as u32))
            }
        }
    }
}

/// The members of `jail`'s sets in a table listing, with their remaining time.
fn members_of(step: &str, json: &str, jail: &str) -> Result<Vec<BanEntry>, FirewallError> {
    let bad = |line: String| FirewallError::Parse {
        step: step.to_owned(),
        tool: NFT.into(),
        line,
    };
    let listing: MemberListing = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for set in listing.nftables.into_iter().filter_map(|i| i.set) {
        let Some((j, kind)) = parse_set_name(&set.name).filter(|_| set.table == TABLE_NAME) else {
            continue;
        };
        if j != jail {
            continue;
        }
        for e in &set.elem {
            let (text, timeout_secs) = e.parts();
            let addr =
                text_addr(text, kind).ok_or_else(|| bad(format!("{} in {}", text, set.name)))?;
            out.push(BanEntry { addr, timeout_secs });
        }
    }
    Ok(out)
}

/// What this firewall knows of a jail it set up.
struct Known {
    rules: JailRules,
    /// Its sets in the kernel, as far as we know.
    kinds: BTreeSet<SetKind>,
    /// False after a failed script: `kinds` is re-read before it is trusted again.
    fresh: bool,
}

/// An `nft -f -` still running in the background, and what it was given.
struct Pending {
    child: Child,
    jail: String,
    entries: Vec<BanEntry>,
}

/// The nftables firewall.
pub struct NftFirewall {
    jails: BTreeMap<String, Known>,
    pending: Vec<Pending>,
    /// Bans refused in the background, until `settle` hands them out.
    refused: Vec<(String, Refusal)>,
    /// Whether `add element` of a member sets its new timeout (see
    /// [`NftFirewall::timeout_updates`]); probed at the first ban.
    timeout_updates: Option<bool>,
    ledger: Box<dyn Ledger>,
}

/// The set [`NftFirewall::timeout_updates`] tries the kernel with. Not a jail's name
/// (no `-4`/`-6`), so nothing takes it for one.
const PROBE_SET: &str = "banjo-probe";

impl NftFirewall {
    /// The backend, after checking that `nft` runs and the kernel has nf_tables.
    pub fn new() -> Result<NftFirewall, FirewallError> {
        let step = "checking nftables (nft list tables)";
        let ran = run(step, NFT, &["list", "tables"], None)?;
        if !ran.ok {
            return Err(FirewallError::Tool {
                step: step.into(),
                tool: NFT.into(),
                stderr: shorten(&ran.stderr),
            });
        }
        Ok(NftFirewall {
            jails: BTreeMap::new(),
            pending: Vec::new(),
            refused: Vec::new(),
            timeout_updates: None,
            ledger: Box::new(MemoryLedger::trusting()),
        })
    }

    /// The backend with the answer to [`NftFirewall::timeout_updates`] given rather
    /// than probed (tests of both ways of banning).
    pub fn with_timeout_updates(mut self, yes: bool) -> NftFirewall {
        self.timeout_updates = Some(yes);
        self
    }

    /// Does the kernel set a member's new timeout when it is added again (shorter,
    /// longer, none = permanent, or one where it had none)? Recent kernels do (6.18 here); older ones keep the
    /// old timeout, and there a batch must delete its members and add them back, which
    /// costs a transaction ~15 ms more (measured with `nft -f`: 2.2–2.4 ms for a
    /// single-ban add, 17–19 ms with the delete; per transaction, not per element) and
    /// nft twice the CPU. Asked once, by trying it on a set of our own in table banjo,
    /// removed again; any failure answers no, the safe way.
    pub fn timeout_updates(&mut self) -> bool {
        if let Some(yes) = self.timeout_updates {
            return yes;
        }
        let yes = self.probe_timeout_updates().unwrap_or(false);
        tracing::debug!("nftables: add element updates timeouts: {yes}");
        self.timeout_updates = Some(yes);
        yes
    }

    fn probe_timeout_updates(&self) -> Result<bool, FirewallError> {
        let step = "probing nftables element timeouts";
        let had_table = self.table(true)?.is_some();
        let set = format!("{TABLE} {PROBE_SET}");
        let mut s = Script::default();
        s.line(step, &format!("add table {TABLE}"));
        s.line(
            step,
            &format!("add set {set} {{ type ipv4_addr; flags timeout; }}"),
        );
        s.line(step, &format!("flush set {set}"));
        s.line(
            step,
            &format!(
                "add element {set} {{ 192.0.2.1 timeout 3600s, 192.0.2.2 timeout 60s, 192.0.2.3 timeout 60s, 192.0.2.4 }}"
            ),
        );
        self.apply(step, &s)?;
        let mut again = Script::default();
        again.line(
            step,
            &format!(
                "add element {set} {{ 192.0.2.1 timeout 60s, 192.0.2.2, 192.0.2.3 timeout 3600s, 192.0.2.4 timeout 60s }}"
            ),
        );
        let tried = self.apply(step, &again).and_then(|()| {
            let ran = run(
                step,
                NFT,
                &["-j", "list", "set", "inet", TABLE_NAME, PROBE_SET],
                None,
            )?;
            let timeouts: BTreeMap<String, Option<u64>> =
                serde_json::from_str::<Value>(&ran.stdout)
                    .ok()
                    .and_then(|v| {
                        let items = v.get("nftables")?.as_array()?.clone();
                        Some(
                            items
                                .iter()
                                .filter_map(|i| i.get("set")?.get("elem")?.as_array().cloned())
                                .flatten()
                                .filter_map(|e| match &e {
                                    Value::String(a) => Some((a.clone(), None)),
                                    _ => {
                                        let el = e.get("elem")?;
                                        Some((
                                            el.get("val")?.as_str()?.to_owned(),
                                            el.get("timeout")?.as_u64(),
                                        ))
                                    }
                                })
                                .collect(),
                        )
                    })
                    .unwrap_or_default();
            Ok(timeouts.get("192.0.2.1") == Some(&Some(60))
                && timeouts.get("192.0.2.2") == Some(&None)
                && timeouts.get("192.0.2.3") == Some(&Some(3600))
                && timeouts.get("192.0.2.4") == Some(&Some(60)))
        });
        let mut undo = Script::default();
        if had_table {
            undo.line(step, &format!("delete set {set}"));
        } else {
            undo.line(step, &format!("delete table {TABLE}"));
        }
        self.apply(step, &undo)?;
        tried
    }

    /// Table banjo, with set members unless `terse`; `None` if there is no such table.
    fn table(&self, terse: bool) -> Result<Option<TableInfo>, FirewallError> {
        let step = "listing nft table inet banjo";
        let mut args = vec!["-j"];
        if terse {
            args.push("-t");
        }
        args.extend(["list", "table", "inet", TABLE_NAME]);
        let ran = run(step, NFT, &args, None)?;
        if !ran.ok {
            if ran.stderr.contains("No such file or directory") {
                return Ok(None);
            }
            return Err(FirewallError::Tool {
                step: step.into(),
                tool: NFT.into(),
                stderr: shorten(&ran.stderr),
            });
        }
        TableInfo::parse(step, &ran.stdout).map(Some)
    }

    /// Run a script as one transaction; an error names the step of the line nft
    /// stopped at (or `step` when it names none).
    fn apply(&self, step: &str, script: &Script) -> Result<(), FirewallError> {
        let ran = run(step, NFT, &["-f", "-"], Some(script.text.as_bytes()))?;
        if ran.ok {
            return Ok(());
        }
        Err(FirewallError::Tool {
            step: script.step_of(&ran.stderr).unwrap_or(step).to_owned(),
            tool: NFT.into(),
            stderr: shorten(&ran.stderr),
        })
    }

    /// Wait for background runs; a batch the kernel refused is tried again here in
    /// halves (see `ban_parts`), its refusals kept for `settle`.
    fn wait_pending(&mut self) {
        for p in std::mem::take(&mut self.pending) {
            let failed = match p.child.wait_with_output() {
                Ok(o) if o.status.success() => continue,
                Ok(o) => shorten(&String::from_utf8_lossy(&o.stderr)),
                Err(e) => format!("cannot run nft: {e}"),
            };
            tracing::debug!("[{}] background nft batch failed: {failed}", p.jail);
            self.forget_kinds(&p.jail);
            let mut refused = Vec::new();
            let mut splits = SPLITS_MAX;
            if let Err(e) = self.ban_parts(&p.jail, &p.entries, &mut refused, &mut splits) {
                refused.extend(super::refuse_all(&p.entries, &e.to_string()));
            }
            let jail = p.jail;
            self.refused
                .extend(refused.into_iter().map(|r| (jail.clone(), r)));
        }
    }

    /// Apply `entries` (already screened); if the kernel refuses the transaction, try
    /// each half on its own, down to single elements, within `splits` halvings. An
    /// error about a missing table or set refuses all at once: every half would fail.
    fn ban_parts(
        &mut self,
        jail: &str,
        entries: &[BanEntry],
        refused: &mut Vec<Refusal>,
        splits: &mut usize,
    ) -> Result<(), FirewallError> {
        if entries.is_empty() {
            return Ok(());
        }
        let (n, script) = self.ban_script(jail, entries)?;
        if n == 0 {
            return Ok(());
        }
        let step = format!("banning {n} address(es) in jail {jail} (nft table inet banjo)");
        let Err(e) = self.apply(&step, &script) else {
            return Ok(());
        };
        self.forget_kinds(jail);
        let why = e.to_string();
        let missing = why.contains("No such file or directory");
        if entries.len() == 1 || *splits == 0 || missing {
            refused.extend(super::refuse_all(entries, &why));
            return Ok(());
        }
        *splits -= 1;
        let (a, b) = entries.split_at(entries.len() / 2);
        self.ban_parts(jail, a, refused, splits)?;
        self.ban_parts(jail, b, refused, splits)
    }

    /// Whose `table inet banjo` (listed as `t`) is: banjo's if the ledger says so, if
    /// it carries banjo's comment, or (while the ledger trusts looks) if it holds
    /// nothing but what banjo makes. `Err`: what to tell the admin.
    fn table_verdict(&self, t: &TableInfo) -> Result<(), String> {
        if self.ledger.made(&Object::NftTable)
            || table_marked()
            || (self.ledger.trusts_looks() && t.looks_like_banjos())
        {
            return Ok(());
        }
        Err(format!(
            "nft table inet banjo exists and banjo did not make it (it has no comment \"{MARK}\" \
             and banjo's state does not record it): banjo keeps everything it makes in that \
             table; if it is not in use, remove it (nft delete table inet banjo)"
        ))
    }

    /// The kinds of set `jail` has in the kernel: from memory when it is to be trusted,
    /// else read.
    fn kinds(&mut self, jail: &str) -> Result<BTreeSet<SetKind>, FirewallError> {
        if let Some(k) = self.jails.get(jail).filter(|k| k.fresh) {
            return Ok(k.kinds.clone());
        }
        let kinds = self
            .table(true)?
            .map(|t| t.kinds_of(jail))
            .unwrap_or_default();
        if let Some(k) = self.jails.get_mut(jail) {
            k.kinds = kinds.clone();
            k.fresh = true;
        }
        Ok(kinds)
    }

    fn setup_script(rules: &JailRules, hook: &str, table: Option<&TableInfo>) -> Script {
        let jail = &rules.jail;
        let chain = chain_name(jail);
        let mut kinds: BTreeSet<SetKind> = [SetKind::V4, SetKind::V6].into();
        if let Some(t) = table {
            kinds.extend(t.kinds_of(jail));
        }
        let mut s = Script::default();
        // The comment marks the table as banjo's; nft sets it only when it creates the
        // table, so one made by someone else keeps its own (or none).
        s.line(
            "creating nft table inet banjo",
            &format!("add table {TABLE} {{ comment \"{MARK}\"; }}"),
        );
        for &kind in &kinds {
            let set = set_name(jail, kind);
            s.line(&format!("creating nft set {set}"), &set_decl(&set, kind));
        }
        let old = table.and_then(|t| t.chain(&chain));
        if let Some(old) = old {
            if old.hook.as_deref() != Some(hook) || old.prio != Some(PRIORITY) {
                // A hook or priority cannot be changed in place; within the one
                // transaction the chain is never missing for a packet.
                let step = format!(
                    "removing chain {chain} from hook {}",
                    old.hook.as_deref().unwrap_or("(none)")
                );
                s.line(&step, &format!("flush chain {TABLE} {chain}"));
                s.line(&step, &format!("delete chain {TABLE} {chain}"));
            }
        }
        s.line(
            &format!("hooking chain {chain} into {hook} ({})", rules.chain),
            &format!(
                "add chain {TABLE} {chain} {{ type filter hook {hook} priority filter {PRIORITY}; policy accept; }}"
            ),
        );
        fill_chain(&mut s, rules, &kinds, &format!("filling chain {chain}"));
        s
    }

    /// The script adding `entries`: per set, `add` with the timeout. Re-banning must
    /// reset a member's timeout, which a plain `add` does not do on older kernels
    /// (see [`NftFirewall::timeout_updates`]); there the `add` is preceded by `add`
    /// without timeout (a no-op for members) and `delete`. Sets for new prefix
    /// lengths are made in the same script, with their rule. (count, script)
    fn ban_script(
        &mut self,
        jail: &str,
        entries: &[BanEntry],
    ) -> Result<(usize, Script), FirewallError> {
        check_jail(jail)?;
        let mut by_set: BTreeMap<SetKind, HashMap<Addr, u32>> = BTreeMap::new();
        for e in entries {
            check_addr(jail, &e.addr)?;
            by_set
                .entry(SetKind::of(&e.addr))
                .or_default()
                .insert(e.addr, kernel_timeout(e.timeout_secs));
        }
        let mut s = Script::default();
        let n: usize = by_set.values().map(HashMap::len).sum();
        if n == 0 {
            return Ok((0, s));
        }
        let step = format!("banning {n} address(es) in jail {jail} (nft table inet banjo)");
        let updates = self.timeout_updates();
        let new_kinds: Vec<SetKind> = if self.jails.contains_key(jail) {
            let have = self.kinds(jail)?;
            by_set
                .keys()
                .filter(|k| !have.contains(k))
                .copied()
                .collect()
        } else {
            // Not set up by us: its sets must exist already, or nft says so.
            Vec::new()
        };
        if let Some(known) = self.jails.get_mut(jail) {
            if !new_kinds.is_empty() {
                for &kind in &new_kinds {
                    let set = set_name(jail, kind);
                    s.line(&format!("creating nft set {set}"), &set_decl(&set, kind));
                    known.kinds.insert(kind);
                }
                // The chain again, with the new sets' rules: every set rule must come
                // before the wake rule, and in the order setup writes them. One
                // transaction, so no packet sees the chain half-filled.
                fill_chain(
                    &mut s,
                    &known.rules,
                    &known.kinds,
                    &format!("adding the rules for jail {jail}'s new nft sets"),
                );
            }
        }
        for (kind, members) in &by_set {
            let set = set_name(jail, *kind);
            let mut plain = String::with_capacity(members.len() * 24);
            let mut timed = String::with_capacity(members.len() * 40);
            for (i, (addr, t)) in members.iter().enumerate() {
                if i > 0 {
                    plain.push_str(", ");
                    timed.push_str(", ");
                }
                let el = element(addr);
                plain.push_str(&el);
                timed.push_str(&el);
                // 0 is permanent: no timeout at all.
                if *t > 0 {
                    let _ = write!(timed, " timeout {t}s");
                }
            }
            if !updates {
                s.line(&step, &format!("add element {TABLE} {set} {{ {plain} }}"));
                s.line(
                    &step,
                    &format!("delete element {TABLE} {set} {{ {plain} }}"),
                );
            }
            s.line(&step, &format!("add element {TABLE} {set} {{ {timed} }}"));
        }
        Ok((n, s))
    }

    fn forget_kinds(&mut self, jail: &str) {
        if let Some(k) = self.jails.get_mut(jail) {
            k.fresh = false;
        }
    }
}

/// Script lines that make `banjo-<jail>` hold exactly its rules: one per set kind, in
/// kind order, then the wake rule (after them, so banned addresses never reach it).
fn fill_chain(s: &mut Script, rules: &JailRules, kinds: &BTreeSet<SetKind>, step: &str) {
    let chain = chain_name(&rules.jail);
    s.line(step, &format!("flush chain {TABLE} {chain}"));
    for &kind in kinds {
        s.line(
            step,
            &format!("add rule {TABLE} {chain} {}", rule_text(rules, kind)),
        );
    }
    if let Some(wake) = wake_rule_text(rules) {
        s.line(step, &format!("add rule {TABLE} {chain} {wake}"));
    }
}

/// Sets under the jail's names must be the ones banjo makes: nft would otherwise
/// keep a set of another type or without timeouts and fail later, at a rule, with a
/// message about data types.
fn check_sets(jail: &str, table: &TableInfo) -> Result<(), FirewallError> {
    for (name, info) in &table.sets {
        let Some((j, kind)) = parse_set_name(name) else {
            continue;
        };
        if j != jail {
            continue;
        }
        let timeout = info.flags.iter().any(|f| f == "timeout");
        let other_flags = info.flags.iter().any(|f| f != "timeout");
        if info.kind != kind.nft_type() || !timeout || other_flags {
            return Err(FirewallError::Tool {
                step: format!("creating nft set {name}"),
                tool: NFT.into(),
                stderr: format!(
                    "a set of that name exists with type {} and flags [{}]; banjo needs type {} with flags timeout \
                     (remove it: nft delete set inet banjo {name})",
                    info.kind,
                    info.flags.join(", "),
                    kind.nft_type()
                ),
            });
        }
    }
    Ok(())
}

fn set_decl(set: &str, kind: SetKind) -> String {
    format!(
        "add set {TABLE} {set} {{ type {}; flags timeout; size {SET_SIZE}; }}",
        kind.nft_type()
    )
}

/// Does `table inet banjo` carry banjo's comment? (nft 1.0.6 shows a table's comment
/// in its text listing only, and sets it only when it creates the table.)
fn table_marked() -> bool {
    let Ok(ran) = run(
        "listing nft table inet banjo",
        NFT,
        &["-t", "list", "table", "inet", TABLE_NAME],
        None,
    ) else {
        return false;
    };
    let marker = format!("comment \"{MARK}\"");
    ran.ok
        && ran
            .stdout
            .lines()
            .skip(1)
            .take_while(|l| {
                !l.trim_start().starts_with("chain ") && !l.trim_start().starts_with("set ")
            })
            .any(|l| l.trim() == marker)
}

impl NftFirewall {
    /// What of the jail's setup is missing or changed in `table` (None: no table).
    fn problems(&self, rules: &JailRules, table: Option<&TableInfo>) -> Vec<String> {
        let Some(t) = table else {
            return vec!["nft table inet banjo missing".into()];
        };
        let jail = &rules.jail;
        let chain = chain_name(jail);
        let mut out = Vec::new();
        let hook = hook_of(&rules.chain);
        match t.chain(&chain) {
            None => out.push(format!("nft chain {chain} missing")),
            Some(c) if c.hook.as_deref() != hook || c.prio != Some(PRIORITY) => {
                out.push(format!("nft chain {chain} hooked elsewhere"))
            }
            Some(_) => {}
        }
        let mut kinds: BTreeSet<SetKind> = [SetKind::V4, SetKind::V6].into();
        if let Some(k) = self.jails.get(jail) {
            kinds.extend(k.kinds.iter().copied());
        }
        for kind in &kinds {
            let set = set_name(jail, *kind);
            if !t.sets.contains_key(&set) {
                out.push(format!("nft set {set} missing"));
            }
        }
        let want = kinds.len() + usize::from(wake_rule_text(rules).is_some());
        if t.chain(&chain).is_some() && t.rules.get(&chain).copied().unwrap_or(0) != want {
            out.push(format!("rules of nft chain {chain} changed"));
        }
        out
    }

    /// Remove what banjo made of the jail in `table`; (anything banjo's, what was left).
    fn teardown_jail(&mut self, jail: &str) -> Result<(bool, Vec<Left>), FirewallError> {
        self.wait_pending();
        check_jail(jail)?;
        self.jails.remove(jail);
        let Some(table) = self.table(true)? else {
            self.ledger.forget(&Object::NftTable);
            return Ok((false, Vec::new()));
        };
        if let Err(why) = self.table_verdict(&table) {
            let left = Left {
                object: Object::NftTable.to_string(),
                why,
            };
            return Ok((false, vec![left]));
        }
        let chain = chain_name(jail);
        let ours_chain = table.chain(&chain).is_some();
        let ours_sets: Vec<&String> = table
            .sets
            .keys()
            .filter(|s| parse_set_name(s).is_some_and(|(j, _)| j == jail))
            .collect();
        let found = ours_chain || !ours_sets.is_empty();
        let others = table.chains.iter().filter(|c| c.name != chain).count()
            + (table.sets.len() - ours_sets.len());
        let step = format!("removing jail {jail} from nft table inet banjo");
        let mut s = Script::default();
        if others == 0 {
            // The last jail: the table goes with it.
            s.line(
                "removing nft table inet banjo",
                &format!("delete table {TABLE}"),
            );
        } else {
            if ours_chain {
                s.line(&step, &format!("flush chain {TABLE} {chain}"));
                s.line(&step, &format!("delete chain {TABLE} {chain}"));
            }
            for set in ours_sets {
                s.line(&step, &format!("delete set {TABLE} {set}"));
            }
        }
        if !s.is_empty() {
            self.apply(&step, &s)?;
        }
        if others == 0 {
            self.ledger.forget(&Object::NftTable);
        }
        Ok((found, Vec::new()))
    }
}

impl Firewall for NftFirewall {
    fn name(&self) -> &'static str {
        "nftables"
    }

    fn set_ledger(&mut self, ledger: Box<dyn Ledger>) {
        self.ledger = ledger;
    }

    fn setup(&mut self, rules: &JailRules) -> Result<(), FirewallError> {
        self.wait_pending();
        check_rules(rules)?;
        let Some(hook) = hook_of(&rules.chain) else {
            return Err(FirewallError::BadRules {
                jail: rules.jail.clone(),
                reason: format!(
                    "chain {:?} has no nftables hook (the nftables firewall knows INPUT, FORWARD and DOCKER-USER)",
                    rules.chain
                ),
            });
        };
        let table = self.table(true)?;
        if let Some(t) = &table {
            if let Err(why) = self.table_verdict(t) {
                return Err(FirewallError::Foreign {
                    jail: rules.jail.clone(),
                    objects: vec![why],
                });
            }
            check_sets(&rules.jail, t)?;
        }
        self.ledger
            .record(&Object::NftTable)
            .map_err(|e| FirewallError::Tool {
                step: "recording nft table inet banjo as banjo's before making it".into(),
                tool: "state".into(),
                stderr: e,
            })?;
        let script = Self::setup_script(rules, hook, table.as_ref());
        let step = format!("setting up jail {} in nft table inet banjo", rules.jail);
        if let Err(e) = self.apply(&step, &script) {
            self.forget_kinds(&rules.jail);
            if table.is_none() {
                // nft made nothing: the transaction was refused whole.
                self.ledger.forget(&Object::NftTable);
            }
            return Err(e);
        }
        let mut kinds: BTreeSet<SetKind> = [SetKind::V4, SetKind::V6].into();
        if let Some(t) = &table {
            kinds.extend(t.kinds_of(&rules.jail));
        }
        self.jails.insert(
            rules.jail.clone(),
            Known {
                rules: rules.clone(),
                kinds,
                fresh: true,
            },
        );
        Ok(())
    }

    fn teardown(&mut self, jail: &str) -> Result<Vec<Left>, FirewallError> {
        self.teardown_jail(jail).map(|(_, left)| left)
    }

    fn ban(&mut self, jail: &str, entries: &[BanEntry]) -> Result<Vec<Refusal>, FirewallError> {
        self.wait_pending();
        check_jail(jail)?;
        let (good, mut refused) = screen(entries);
        let mut splits = SPLITS_MAX;
        self.ban_parts(jail, &good, &mut refused, &mut splits)?;
        Ok(refused)
    }

    fn ban_start(&mut self, jail: &str, entries: &[BanEntry]) -> Result<(), FirewallError> {
        self.wait_pending();
        check_jail(jail)?;
        let (good, refused) = screen(entries);
        self.refused
            .extend(refused.into_iter().map(|r| (jail.to_owned(), r)));
        let (n, script) = self.ban_script(jail, &good)?;
        if n == 0 {
            return Ok(());
        }
        let step = format!("banning {n} address(es) in jail {jail} (nft table inet banjo)");
        match spawn_with_input(&step, NFT, &["-f", "-"], &script.text) {
            Ok(child) => self.pending.push(Pending {
                child,
                jail: jail.to_owned(),
                entries: good,
            }),
            Err(e) => self.refused.extend(
                super::refuse_all(&good, &e.to_string())
                    .into_iter()
                    .map(|r| (jail.to_owned(), r)),
            ),
        }
        Ok(())
    }

    fn settle(&mut self) -> Vec<(String, Refusal)> {
        self.wait_pending();
        std::mem::take(&mut self.refused)
    }

    /// Per set, `add` then `delete` in one transaction: an address that was not
    /// banned is added and gone again, so it is no error (nft 1.0.6 has no `destroy`).
    fn unban(&mut self, jail: &str, addrs: &[Addr]) -> Result<(), FirewallError> {
        self.wait_pending();
        check_jail(jail)?;
        let mut by_set: BTreeMap<SetKind, BTreeSet<Addr>> = BTreeMap::new();
        for a in addrs {
            check_addr(jail, a)?;
            by_set.entry(SetKind::of(a)).or_default().insert(*a);
        }
        if by_set.is_empty() {
            return Ok(());
        }
        // Sets that do not exist hold nothing to unban.
        let have = self.kinds(jail)?;
        let n: usize = by_set.values().map(BTreeSet::len).sum();
        let step = format!("unbanning {n} address(es) in jail {jail} (nft table inet banjo)");
        let mut s = Script::default();
        for (kind, members) in by_set.iter().filter(|(k, _)| have.contains(k)) {
            let set = set_name(jail, *kind);
            let list: Vec<String> = members.iter().map(element).collect();
            let list = list.join(", ");
            s.line(&step, &format!("add element {TABLE} {set} {{ {list} }}"));
            s.line(&step, &format!("delete element {TABLE} {set} {{ {list} }}"));
        }
        if s.is_empty() {
            return Ok(());
        }
        let r = self.apply(&step, &s);
        if r.is_err() {
            self.forget_kinds(jail);
        }
        r
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
        let step = "listing nft table inet banjo";
        let ran = run(
            step,
            NFT,
            &["-j", "list", "table", "inet", TABLE_NAME],
            None,
        )?;
        if !ran.ok {
            if ran.stderr.contains("No such file or directory") {
                return Ok(Vec::new());
            }
            return Err(FirewallError::Tool {
                step: step.into(),
                tool: NFT.into(),
                stderr: shorten(&ran.stderr),
            });
        }
        let mut out = members_of(step, &ran.stdout, jail)?;
        out.sort_by_key(|e| e.addr);
        Ok(out)
    }

    /// `nft get element`: the element itself in its kind's set.
    fn holds(&mut self, jail: &str, addr: &Addr) -> Result<bool, FirewallError> {
        self.wait_pending();
        check_jail(jail)?;
        let set = set_name(jail, SetKind::of(addr));
        let el = format!("{{ {} }}", element(addr));
        let step = format!("looking up {addr} in nft set {set}");
        let ran = run(
            &step,
            NFT,
            &["get", "element", "inet", TABLE_NAME, &set, &el],
            None,
        )?;
        if ran.ok {
            return Ok(true);
        }
        if ran.stderr.contains("No such file or directory") {
            return Ok(false);
        }
        Err(FirewallError::Tool {
            step,
            tool: NFT.into(),
            stderr: shorten(&ran.stderr),
        })
    }

    fn jails_present(&mut self) -> Result<Vec<String>, FirewallError> {
        self.wait_pending();
        let Some(table) = self.table(true)? else {
            return Ok(Vec::new());
        };
        if self.table_verdict(&table).is_err() {
            return Ok(Vec::new());
        }
        let mut jails = BTreeSet::new();
        for c in &table.chains {
            if let Some(j) = super::jail_of_chain(&c.name) {
                jails.insert(j.to_owned());
            }
        }
        for s in table.sets.keys() {
            if let Some((j, _)) = parse_set_name(s) {
                jails.insert(j.to_owned());
            }
        }
        Ok(jails.into_iter().collect())
    }

    /// `banjo flush`: the whole table goes, in one transaction, if banjo made it.
    fn flush_all(&mut self) -> Result<Flushed, FirewallError> {
        self.wait_pending();
        self.jails.clear();
        let Some(table) = self.table(true)? else {
            self.ledger.forget(&Object::NftTable);
            return Ok(Flushed::default());
        };
        if let Err(why) = self.table_verdict(&table) {
            return Ok(Flushed {
                removed: Vec::new(),
                left: vec![Left {
                    object: Object::NftTable.to_string(),
                    why,
                }],
            });
        }
        let removed = self.jails_present()?;
        let mut s = Script::default();
        s.line(
            "removing nft table inet banjo",
            &format!("delete table {TABLE}"),
        );
        self.apply("removing nft table inet banjo", &s)?;
        self.ledger.forget(&Object::NftTable);
        Ok(Flushed {
            removed,
            left: Vec::new(),
        })
    }

    fn check(&mut self, rules: &JailRules) -> Result<Vec<String>, FirewallError> {
        self.wait_pending();
        let table = self.table(true)?;
        let problems = self.problems(rules, table.as_ref());
        if !problems.is_empty() {
            self.forget_kinds(&rules.jail);
        }
        Ok(problems)
    }

    fn watched_tables(&self) -> Vec<(u8, &'static str)> {
        vec![(super::netlink::NFPROTO_INET, TABLE_NAME)]
    }
}

impl Drop for NftFirewall {
    /// Runs still going finish before we go: no zombie, no ban half-applied.
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

    fn rules(ports: Ports, protocol: Protocol, blocktype: BlockType) -> JailRules {
        JailRules {
            jail: "sshd".into(),
            chain: "INPUT".into(),
            ports,
            protocol,
            blocktype,
            wake_group: None,
        }
    }

    #[test]
    fn set_names_round_trip() {
        for jail in ["sshd", "a-4", "a-6", "x-6-16", "3proxy"] {
            for kind in [
                SetKind::V4,
                SetKind::V6,
                SetKind::V6Prefix(64),
                SetKind::V6Prefix(16),
            ] {
                let name = set_name(jail, kind);
                assert_eq!(parse_set_name(&name), Some((jail, kind)), "{name}");
            }
        }
        assert_eq!(parse_set_name("banjo-sshd"), None);
        assert_eq!(parse_set_name("banjo-sshd-6-200"), None);
        assert_eq!(parse_set_name("other-6-64"), None);
    }

    #[test]
    fn wake_rules_render() {
        let mut r = rules(
            Ports::List(vec![(22, 22), (8000, 8100)]),
            Protocol::Tcp,
            BlockType::Reject,
        );
        assert_eq!(wake_rule_text(&r), None);
        r.wake_group = Some(3187);
        assert_eq!(
            wake_rule_text(&r).unwrap(),
            "tcp dport { 22, 8000-8100 } tcp flags & (fin|syn|rst|ack) == syn limit rate 10/second burst 1 packets log group 3187 snaplen 0"
        );
        r.protocol = Protocol::All;
        assert!(wake_rule_text(&r).unwrap().starts_with("tcp flags & "));
        r.protocol = Protocol::Udp;
        assert_eq!(wake_rule_text(&r), None);
    }

    #[test]
    fn rules_render() {
        let r = rules(
            Ports::List(vec![(22, 22), (8000, 8100)]),
            Protocol::Tcp,
            BlockType::Reject,
        );
        assert_eq!(
            rule_text(&r, SetKind::V4),
            "tcp dport { 22, 8000-8100 } ip saddr @banjo-sshd-4 reject with tcp reset"
        );
        let r = rules(Ports::All, Protocol::Udp, BlockType::Reject);
        assert_eq!(
            rule_text(&r, SetKind::V6Prefix(64)),
            "meta l4proto udp ip6 saddr & ffff:ffff:ffff:ffff:: @banjo-sshd-6-64 reject with icmpx type port-unreachable"
        );
        let r = rules(Ports::All, Protocol::All, BlockType::Drop);
        assert_eq!(rule_text(&r, SetKind::V6), "ip6 saddr @banjo-sshd-6 drop");
        assert_eq!(v6_mask(1).to_string(), "8000::");
        assert_eq!(v6_mask(127).segments()[7], 0xfffe);
    }

    #[test]
    fn hooks() {
        assert_eq!(hook_of("INPUT"), Some("input"));
        assert_eq!(hook_of("FORWARD"), Some("forward"));
        assert_eq!(hook_of("DOCKER-USER"), Some("forward"));
        assert_eq!(hook_of("OUTPUT"), None);
    }

    #[test]
    fn errors_name_the_step_of_the_failed_line() {
        let mut s = Script::default();
        s.line("one", "add table inet banjo");
        s.line("two", "add set inet banjo x { type ipv4_addr; }");
        assert_eq!(
            s.step_of("/dev/stdin:2:20-31: Error: Could not process rule: File exists"),
            Some("two")
        );
        assert_eq!(s.step_of("Error: something"), None);
        let long = format!(
            "add element inet banjo s {{ {} }}",
            "192.0.2.1, ".repeat(100)
        );
        assert!(shorten(&long).len() < STDERR_LINE_MAX + 10);
    }

    #[test]
    fn members_parse() {
        let json = serde_json::json!({"nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"table": {"family": "inet", "name": "banjo", "handle": 1}},
            {"set": {"name": "banjo-sshd-4", "table": "banjo", "type": "ipv4_addr", "elem": [
                "192.0.2.1",
                {"elem": {"val": "192.0.2.2", "timeout": 60, "expires": 59}}
            ]}},
            {"set": {"name": "banjo-sshd-6-64", "table": "banjo", "type": "ipv6_addr",
                     "elem": ["2001:db8:1:2::"]}},
            {"set": {"name": "banjo-sshd-4-24", "table": "banjo", "type": "ipv4_addr"}},
            {"set": {"name": "banjo-web-4", "table": "banjo", "elem": ["192.0.2.9"]}},
            {"chain": {"name": "banjo-sshd", "table": "banjo"}}
        ]})
        .to_string();
        let mut got = members_of("s", &json, "sshd").unwrap();
        got.sort_by_key(|e| e.addr);
        let want: Vec<Addr> = ["192.0.2.1", "192.0.2.2", "2001:db8:1:2::/64"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(got.iter().map(|e| e.addr).collect::<Vec<_>>(), want);
        assert_eq!(got[0].timeout_secs, None, "no timeout: permanent");
        assert_eq!(got[1].timeout_secs, Some(59));
        assert!(text_addr("2001:db8::1", SetKind::V4).is_none());
        assert_eq!(
            text_addr("198.51.100.0", SetKind::V4Prefix(24))
                .unwrap()
                .to_string(),
            "198.51.100.0/24"
        );
        let broken = json.replace("192.0.2.2", "nonsense");
        assert!(members_of("s", &broken, "sshd").is_err());
    }
}
