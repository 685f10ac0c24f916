//! The iptables + ipset backend: per jail, a chain `banjo-<jail>` in the filter table of
//! iptables and ip6tables, hooked at position 1 of the jail's chain, whose rule matches
//! the sets `banjo-<jail>-4` (`hash:ip`) and `banjo-<jail>-6` (`hash:net`, for /64s).
//!
//! Bans live in the sets with kernel timeouts, so a dead banjo still lifts them on time,
//! and a batch of any size is one `ipset restore` per family. This module owns the
//! order of creation (sets → chain → chain rules → hook, so no packet ever jumps into a
//! half-built chain), its undo on failure, and the choice of iptables flavour. It never
//! touches a chain, rule or set not named `banjo-*` (rules that jump to a banjo chain
//! count as banjo's).

use super::exec::{run, run_ok, spawn_with_input};
use super::{
    check_addr, check_jail, check_rules, kernel_timeout, ports_text, set_name, BanEntry, Family,
    Firewall, FirewallError, JailRules,
};
use crate::addr::Addr;
use crate::config::{BlockType, Ports, Protocol};
use iptables::IPTables;
use std::collections::BTreeSet;
use std::error::Error;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TABLE: &str = "filter";
const IPSET: &str = "ipset";
/// 1M entries: far above any real attack, small enough (tens of MB) to be harmless.
const MAXELEM: &str = "1048576";

/// Type and parameters of a jail's set of the family, after `create NAME`.
fn set_params(fam: Family) -> [&'static str; 7] {
    let (kind, family) = match fam {
        Family::V4 => ("hash:ip", "inet"),
        Family::V6 => ("hash:net", "inet6"),
    };
    [kind, "family", family, "timeout", "0", "maxelem", MAXELEM]
}

/// The first line of every `ipset restore` script: the set's own `create`, which
/// `-exist` turns into a no-op for the set setup made. Without it ipset 7 asks the
/// kernel for the set's type once per line (an IPSET_CMD_HEADER round trip and an
/// fstat each): measured 1.57 s of CPU for 100k adds, 0.73 s with this line.
fn create_line(jail: &str, fam: Family) -> String {
    format!(
        "create {} {}\n",
        set_name(jail, fam),
        set_params(fam).join(" ")
    )
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
    /// Their failures, until [`Firewall::settle`] hands them out.
    failed: Vec<(String, FirewallError)>,
    /// Jails this firewall set up: only their restore scripts start with the set's
    /// `create` line (see `create_line`), so a ban for a jail that is not set up
    /// still fails instead of making its set.
    set_up: BTreeSet<String>,
}

/// An `ipset restore` still running in the background.
struct Pending {
    child: Child,
    jail: String,
    step: String,
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
            failed: Vec::new(),
            set_up: BTreeSet::new(),
        }
    }

    /// Wait for the background runs, keeping their failures for `settle`. Every other
    /// operation does this first, so the kernel sees operations in the order they
    /// were asked for.
    fn wait_pending(&mut self) {
        for p in self.pending.drain(..) {
            let out = p.child.wait_with_output();
            let err = match out {
                Ok(o) if o.status.success() => continue,
                Ok(o) => FirewallError::Tool {
                    step: p.step,
                    tool: IPSET.into(),
                    stderr: String::from_utf8_lossy(&o.stderr).trim().to_owned(),
                },
                Err(source) => FirewallError::Spawn {
                    step: p.step,
                    tool: IPSET.into(),
                    source,
                },
            };
            self.failed.push((p.jail, err));
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

    /// The filter table as `-S` prints it: the one listing everything is read from
    /// (iptables-nft answers `-S CHAIN` for a missing chain with a misleading
    /// "incompatible", so chains are looked up here too).
    fn listing(&self, fam: Family) -> Result<String, FirewallError> {
        self.exec(fam, &format!("listing the filter table ({fam})"), "-S")
    }

    /// The rules of `chain` as `-S` prints them, without the `-A chain ` prefix.
    fn chain_rules(&self, fam: Family, chain: &str) -> Result<Vec<String>, FirewallError> {
        let prefix = format!("-A {chain} ");
        Ok(self
            .listing(fam)?
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect())
    }

    /// Every rule in the filter table that jumps to `target`: (chain, rule spec).
    fn jumps_to(&self, fam: Family, target: &str) -> Result<Vec<(String, String)>, FirewallError> {
        let text = self.listing(fam)?;
        let mut out = Vec::new();
        for line in text.lines() {
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
        Ok(out)
    }

    fn chain_exists(&self, fam: Family, chain: &str) -> Result<bool, FirewallError> {
        Ok(self.chains(fam)?.iter().any(|c| c == chain))
    }

    /// The chains of the filter table, built-in and user-defined.
    fn chains(&self, fam: Family) -> Result<Vec<String>, FirewallError> {
        Ok(self
            .listing(fam)?
            .lines()
            .filter_map(|l| l.strip_prefix("-N ").or_else(|| l.strip_prefix("-P ")))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
            .collect())
    }

    fn set_names(&self) -> Result<BTreeSet<String>, FirewallError> {
        let out = run_ok("listing ipsets", IPSET, &["list", "-n"], None)?;
        Ok(out.lines().map(|l| l.trim().to_owned()).collect())
    }

    fn setup_steps(&self, rules: &JailRules, made: &mut Vec<Undo>) -> Result<(), FirewallError> {
        let jail = &rules.jail;
        let chain = super::chain_name(jail);
        let sets = self.set_names()?;
        for fam in Family::BOTH {
            let set = set_name(jail, fam);
            // -exist accepts a set made earlier with the same parameters, and still
            // refuses one with a different type or size, which we must not reuse.
            let mut args = vec!["-exist", "create", &set];
            args.extend_from_slice(&set_params(fam));
            run_ok(&format!("creating ipset {set}"), IPSET, &args, None)?;
            if !sets.contains(&set) {
                made.push(Undo::DestroySet(set));
            }
        }
        let mut fresh = Vec::new();
        for fam in Family::BOTH {
            if !self.chain_exists(fam, &chain)? {
                self.ipt(fam)
                    .new_chain(TABLE, &chain)
                    .map_err(|e| self.ipt_err(fam, format!("creating chain {chain} ({fam})"), e))?;
                made.push(Undo::DeleteChain(fam, chain.clone()));
                fresh.push(fam);
            }
        }
        // Presence is judged by the text `-S` prints, never by `-C`: ip6tables-legacy
        // 1.8.9 answers `-C` for `--dports 2222` with "exists" when only `--dports 22`
        // does (same port count), and would leave the jail unhooked. The tests pin our
        // rule texts to what -S prints, for both flavours.
        for fam in Family::BOTH {
            let want = chain_body(rules, fam);
            let step = || format!("filling chain {chain} ({fam})");
            let mut old = Vec::new();
            if !fresh.contains(&fam) {
                old = self.chain_rules(fam, &chain)?;
                if old == want {
                    continue;
                }
                // Left by an older config (another blocktype). The new rules go in
                // behind the old ones, which are removed after, so banned addresses
                // stay blocked throughout.
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
        let hook = hook_rule(rules);
        for fam in Family::BOTH {
            if !self.chain_rules(fam, &rules.chain)?.contains(&hook) {
                self.ipt(fam)
                    .insert(TABLE, &rules.chain, &hook, 1)
                    .map_err(|e| {
                        let step = format!("hooking chain {chain} into {} ({fam})", rules.chain);
                        self.ipt_err(fam, step, e)
                    })?;
                made.push(Undo::DeleteRule(fam, rules.chain.clone(), hook.clone()));
            }
        }
        // Hooks from an older config (other ports or chain) would keep diverting traffic
        // the jail no longer covers; they go only after the new hook is in place.
        for fam in Family::BOTH {
            let jumps = self.jumps_to(fam, &chain)?;
            // Should a flavour print our hook otherwise than we write it, ours could
            // not be told from stale ones, and keeping a stale hook beats removing the
            // live one.
            let Some(ours) = jumps
                .iter()
                .position(|(c, spec)| *c == rules.chain && *spec == hook)
            else {
                continue;
            };
            for (i, (c, spec)) in jumps.into_iter().enumerate() {
                if i == ours {
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

    fn undo(&self, made: Vec<Undo>) -> Vec<FirewallError> {
        let mut errs = Vec::new();
        for step in made.into_iter().rev() {
            let r = match step {
                Undo::DestroySet(set) => destroy_set(&set),
                Undo::DeleteChain(fam, chain) => self.remove_chain(fam, &chain),
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

    /// One `ipset restore -exist` per family: thousands of entries cost one process.
    /// With `wait` false the runs go on in the background (see `ban_start`).
    fn restore(
        &mut self,
        jail: &str,
        verb: &str,
        lines: [(usize, String); 2],
        wait: bool,
    ) -> Result<(), FirewallError> {
        self.wait_pending();
        for (fam, (n, script)) in Family::BOTH.into_iter().zip(lines) {
            if n == 0 {
                continue;
            }
            let set = set_name(jail, fam);
            let step = format!("{verb} {n} address(es) in ipset {set}");
            if wait {
                run_ok(
                    &step,
                    IPSET,
                    &["restore", "-exist"],
                    Some(script.as_bytes()),
                )?;
            } else {
                let child = spawn_with_input(&step, IPSET, &["restore", "-exist"], &script)?;
                self.pending.push(Pending {
                    child,
                    jail: jail.to_owned(),
                    step,
                });
            }
        }
        Ok(())
    }

    /// The restore scripts adding `entries`, per family: (count, script).
    fn ban_scripts(
        &self,
        jail: &str,
        entries: &[BanEntry],
    ) -> Result<[(usize, String); 2], FirewallError> {
        use std::fmt::Write as _;
        check_jail(jail)?;
        let mut lines = [(0, String::new()), (0, String::new())];
        let names = [set_name(jail, Family::V4), set_name(jail, Family::V6)];
        for e in entries {
            check_addr(jail, &e.addr)?;
            let fam = Family::of(&e.addr);
            let (n, s) = &mut lines[fam as usize];
            if *n == 0 {
                s.reserve(entries.len() * 48);
                if self.set_up.contains(jail) {
                    s.push_str(&create_line(jail, fam));
                }
            }
            *n += 1;
            // 0 is permanent to ipset; kernel_timeout keeps 0-second bans from being that.
            let t = kernel_timeout(e.timeout_secs);
            let _ = writeln!(s, "add {} {} timeout {t}", names[fam as usize], e.addr);
        }
        Ok(lines)
    }
}

impl Firewall for IptablesFirewall {
    fn name(&self) -> &'static str {
        "iptables"
    }

    fn setup(&mut self, rules: &JailRules) -> Result<(), FirewallError> {
        self.wait_pending();
        check_rules(rules)?;
        let mut made = Vec::new();
        let Err(failed) = self.setup_steps(rules, &mut made) else {
            self.set_up.insert(rules.jail.clone());
            return Ok(());
        };
        let undo = self.undo(made);
        if undo.is_empty() {
            Err(failed)
        } else {
            Err(FirewallError::Rollback {
                failed: Box::new(failed),
                undo,
            })
        }
    }

    fn teardown(&mut self, jail: &str) -> Result<(), FirewallError> {
        self.wait_pending();
        check_jail(jail)?;
        self.set_up.remove(jail);
        let chain = super::chain_name(jail);
        for fam in Family::BOTH {
            for (c, spec) in self.jumps_to(fam, &chain)? {
                self.ipt(fam).delete(TABLE, &c, &spec).map_err(|e| {
                    self.ipt_err(fam, format!("unhooking chain {chain} from {c} ({fam})"), e)
                })?;
            }
            if self.chain_exists(fam, &chain)? {
                self.remove_chain(fam, &chain)?;
            }
        }
        let sets = self.set_names()?;
        for fam in Family::BOTH {
            let set = set_name(jail, fam);
            if sets.contains(&set) {
                destroy_set(&set)?;
            }
        }
        Ok(())
    }

    fn ban(&mut self, jail: &str, entries: &[BanEntry]) -> Result<(), FirewallError> {
        let lines = self.ban_scripts(jail, entries)?;
        self.restore(jail, "banning", lines, true)
    }

    fn ban_start(&mut self, jail: &str, entries: &[BanEntry]) -> Result<(), FirewallError> {
        let lines = self.ban_scripts(jail, entries)?;
        self.restore(jail, "banning", lines, false)
    }

    fn settle(&mut self) -> Vec<(String, FirewallError)> {
        self.wait_pending();
        std::mem::take(&mut self.failed)
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
        self.restore(jail, "unbanning", lines, true)
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

    fn jails_present(&mut self) -> Result<Vec<String>, FirewallError> {
        self.wait_pending();
        let mut jails = BTreeSet::new();
        for fam in Family::BOTH {
            let chains = self.chains(fam)?;
            jails.extend(
                chains
                    .iter()
                    .filter_map(|c| super::jail_of_chain(c))
                    .map(str::to_owned),
            );
        }
        for set in self.set_names()? {
            if let Some(j) = super::jail_of_set(&set) {
                jails.insert(j.to_owned());
            }
        }
        Ok(jails.into_iter().collect())
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
    match (proto, &rules.ports) {
        (None, _) => format!("-j {target}"),
        (Some(p), Ports::All) => format!("-p {p} -j {target}"),
        (Some(p), Ports::List(list)) => format!(
            "-p {p} -m multiport --dports {} -j {target}",
            ports_text(list)
        ),
    }
}

/// Every rule of `banjo-<jail>`, in order, as `-S` prints them: block the set's
/// members, log the start of other TCP connections when the jail has a wake group
/// (banned addresses never get that far), return.
pub fn chain_body(rules: &JailRules, fam: Family) -> Vec<String> {
    let mut body = vec![match_rule(rules, fam)];
    if let Some(g) = rules.wake_group {
        body.push(super::nflog::wake_rule(g));
    }
    body.push("-j RETURN".to_owned());
    body
}

/// The rule in `banjo-<jail>` that blocks members of the family's set.
pub fn match_rule(rules: &JailRules, fam: Family) -> String {
    let set = set_name(&rules.jail, fam);
    match (rules.blocktype, rules.protocol, fam) {
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
    }
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
        for (jail, e) in &self.failed {
            tracing::error!("[{jail}] firewall error: {e}");
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

    #[test]
    fn hook_rules() {
        let r = |ports, proto| hook_rule(&rules("INPUT", ports, proto, BlockType::Reject));
        assert_eq!(
            r(Ports::List(vec![(22, 22), (2222, 2222)]), Protocol::Tcp),
            "-p tcp -m multiport --dports 22,2222 -j banjo-sshd"
        );
        assert_eq!(
            r(Ports::List(vec![(8000, 8100)]), Protocol::Udp),
            "-p udp -m multiport --dports 8000:8100 -j banjo-sshd"
        );
        assert_eq!(r(Ports::All, Protocol::Tcp), "-p tcp -j banjo-sshd");
        assert_eq!(r(Ports::All, Protocol::All), "-j banjo-sshd");
    }

    #[test]
    fn match_rules() {
        let tcp = rules("INPUT", Ports::All, Protocol::Tcp, BlockType::Reject);
        assert_eq!(
            match_rule(&tcp, Family::V6),
            "-p tcp -m set --match-set banjo-sshd-6 src -j REJECT --reject-with tcp-reset"
        );
        let udp = rules("INPUT", Ports::All, Protocol::Udp, BlockType::Reject);
        assert!(match_rule(&udp, Family::V4).ends_with("icmp-port-unreachable"));
        assert!(match_rule(&udp, Family::V6).ends_with("icmp6-port-unreachable"));
        let drop = rules("INPUT", Ports::All, Protocol::Tcp, BlockType::Drop);
        assert_eq!(
            match_rule(&drop, Family::V4),
            "-m set --match-set banjo-sshd-4 src -j DROP"
        );
    }

    #[test]
    fn wake_rule_sits_between_the_block_and_the_return() {
        let mut r = rules("INPUT", Ports::All, Protocol::Tcp, BlockType::Drop);
        assert_eq!(chain_body(&r, Family::V4).len(), 2);
        r.wake_group = Some(3187);
        let body = chain_body(&r, Family::V6);
        assert_eq!(body[0], "-m set --match-set banjo-sshd-6 src -j DROP");
        assert_eq!(
            body[1],
            "-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m limit --limit 10/sec --limit-burst 1 -j NFLOG --nflog-group 3187 --nflog-size 0"
        );
        assert_eq!(body[2], "-j RETURN");
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
