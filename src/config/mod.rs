//! Configuration: find the files, layer them, validate into typed [`JailConfig`]s.
//!
//! Two stages, as in ripgrep: `raw` mirrors the TOML (with spans), this module turns
//! it into values that say what they hold. Every problem becomes a [`Diagnostic`]
//! naming file, line, jail and key; a jail with errors is left out, the others load.

pub mod escalation;
pub mod raw;

use crate::addr::parse_net;
use crate::banrules::{parse_port_item, valid_chain, valid_jail_name, BlockType, Ports, Protocol};
use crate::compat::fail2ban::filter as f2b_filter;
use crate::diag::{line_of, Diagnostic};
use crate::filter::{Filter, FilterRef};
use crate::route::MatchRules;
use crate::timefmt::{parse_bantime, parse_duration, BanTime, Micros, SEC};
use ipnet::IpNet;
use raw::{Layered, RawDuration, RawFile, RawMatch, RawPort, RawPorts, RawSize};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;

/// Where banjo looks when no `--config` is given.
pub const DEFAULT_DIR: &str = "/etc/banjo";
/// The compiled-in first layer.
pub const BUILTIN: &str = include_str!("defaults.toml");
pub const BUILTIN_NAME: &str = "<built-in defaults>";

/// One file that took part, in layering order.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

/// Which firewall `banjo run` drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FirewallKind {
    Iptables,
    /// nft and one `table inet banjo` (src/ban/nft.rs).
    Nftables,
    DryRun,
}

/// `[daemon]` resolved.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonConfig {
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub firewall: FirewallKind,
    pub unban_on_stop: bool,
    pub readers_group: Option<String>,
    pub action_concurrency: usize,
    /// The nfnetlink_log group of the jails' wake rules; None: `wake_on_connect = false`.
    pub wake_group: Option<u16>,
    /// A ban count is forgotten once the address's latest ban in that jail began this
    /// long ago and it is not banned now (fail2ban's dbpurgeage); permanent: never.
    pub ban_count_max_age: BanTime,
    /// Bytes the failure windows of all jails may take (`tracker_memory`).
    pub tracker_memory: usize,
    /// How often the daemon looks for drift the kernel does not announce (ipset sets,
    /// legacy iptables; see daemon/drift.rs); None: never.
    pub drift_check: Option<Micros>,
    /// Filter health (daemon/health.rs): warn after this long without a match, or
    /// without an entry while the service runs; None: never. Jails may override it.
    pub health_silence: Option<Micros>,
}

/// `health_silence` unless set: a day. A jail guarding a service on the internet
/// matches failures many times a day; a shorter silence would warn about quiet ones.
pub const DEFAULT_HEALTH_SILENCE: Micros = 24 * 3600 * SEC;

/// `health_silence` as written: a duration, or `"off"` (0 too).
fn parse_silence(text: &str) -> Result<Option<Micros>, String> {
    if text.trim() == "off" {
        return Ok(None);
    }
    match parse_duration(text) {
        Ok(0) => Ok(None),
        Ok(t) => Ok(Some(t)),
        Err(e) => Err(format!("{e}, or \"off\"")),
    }
}

/// One second: a flushed ipset is refilled within about a second, at the cost of one
/// netlink round trip a second (bench/RESULTS.md, "Drift").
pub const DEFAULT_DRIFT_CHECK: Micros = SEC;

/// Four weeks: four times the default bantime_maxtime, so a returning offender keeps
/// its increment for a while after its longest ban, and the counts kept stay bounded
/// by the addresses banned in four weeks.
pub const DEFAULT_BAN_COUNT_MAX_AGE: Micros = 4 * 7 * 24 * 3600 * SEC;

/// nfnetlink_log group of the wake rules unless `nflog_group` says otherwise: not 0,
/// which NFLOG rules and ulogd use when they name none, nor the small numbers that
/// ulogd's examples use.
pub const DEFAULT_NFLOG_GROUP: u16 = 3187;

/// `tracker_memory` unless set: the failure windows of every jail together. ~370k
/// windows of sshd failures (bench/RESULTS.md, section 0000), far more addresses than a
/// real attack fails from within a findtime; a spray beyond it loses its one-failure
/// windows first (jail/tracker.rs).
pub const DEFAULT_TRACKER_MEMORY: usize = 64 << 20;

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            socket: PathBuf::from("/run/banjo/banjo.sock"),
            state_dir: PathBuf::from("/var/lib/banjo"),
            firewall: FirewallKind::Iptables,
            unban_on_stop: false,
            readers_group: None,
            action_concurrency: 4,
            wake_group: Some(DEFAULT_NFLOG_GROUP),
            ban_count_max_age: BanTime::Finite(DEFAULT_BAN_COUNT_MAX_AGE),
            tracker_memory: DEFAULT_TRACKER_MEMORY,
            drift_check: Some(DEFAULT_DRIFT_CHECK),
            health_silence: Some(DEFAULT_HEALTH_SILENCE),
        }
    }
}

/// `[metrics]` resolved: the daemon's outlets for its metrics (docs/METRICS.md).
#[derive(Debug, Clone, Serialize)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served; None: nowhere.
    #[serde(serialize_with = "ser_listen")]
    pub listen: Option<crate::metrics::endpoint::Listen>,
    /// node_exporter textfile, written atomically; None: none.
    pub textfile: Option<PathBuf>,
    /// The textfile is written when something changed, at most this often.
    pub textfile_interval: Micros,
}

fn ser_listen<S: serde::Serializer>(
    v: &Option<crate::metrics::endpoint::Listen>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(l) => s.collect_str(l),
        None => s.serialize_none(),
    }
}

/// `textfile_interval` unless set: node_exporter is scraped every 15 s or more.
pub const DEFAULT_TEXTFILE_INTERVAL: Micros = 10 * SEC;

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: None,
            textfile: None,
            textfile_interval: DEFAULT_TEXTFILE_INTERVAL,
        }
    }
}

/// Everything loaded: the valid jails and what was wrong with the rest.
pub struct Config {
    pub dir: PathBuf,
    pub daemon: DaemonConfig,
    pub metrics: MetricsConfig,
    pub files: Vec<SourceFile>,
    /// Jails without errors, sorted by name: enabled or not ([`Compile::All`]), or
    /// only the enabled ones ([`Compile::Enabled`]).
    pub jails: Vec<JailConfig>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Config {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn enabled(&self) -> impl Iterator<Item = &JailConfig> {
        self.jails.iter().filter(|j| j.enabled)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Increment {
    pub factor: f64,
    pub maxtime: BanTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionEvent {
    Ban,
    Unban,
}

/// An exec hook: argv template, no shell.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub on: ActionEvent,
    pub argv: Vec<String>,
    pub timeout_us: Micros,
}

/// Placeholders an action argument may use.
pub const ACTION_PLACEHOLDERS: &[&str] = &["ip", "jail", "failures", "bantime", "matches"];

/// One jail, validated. Cheap to clone: the compiled filter is shared.
#[derive(Clone)]
pub struct JailConfig {
    pub name: String,
    pub enabled: bool,
    /// `file:line` of the `[jail.NAME]` that declared it last.
    pub declared_at: String,
    pub filter_ref: FilterRef,
    pub filter: Arc<Filter>,
    /// Empty when the jail reads only log files.
    pub journalmatch: MatchRules,
    /// Log files (absolute paths, globs allowed) read beside the journal.
    pub logpath: Vec<String>,
    /// How dates are found in those files' lines (default: fail2ban's shapes).
    pub datepattern: crate::journal::datepattern::DatePattern,
    pub maxretry: u32,
    pub findtime: Micros,
    pub bantime: BanTime,
    pub increment: Option<Increment>,
    pub ignoreip: Vec<IpNet>,
    pub ignoreself: bool,
    /// Ban loopback addresses too (127.0.0.0/8, ::1); off, they are unbannable
    /// (addr.rs): banning them cuts this host off from itself.
    pub ban_loopback: bool,
    pub ipv6_prefix: u8,
    pub ports: Ports,
    pub protocol: Protocol,
    pub blocktype: BlockType,
    pub chain: String,
    pub actions: Vec<Action>,
    /// Subnet escalation; None: off (no `escalate_after`).
    pub escalation: Option<escalation::Escalation>,
    /// `health_silence` set for this jail (None: off), or not set (the outer None:
    /// `[daemon] health_silence` applies).
    pub health_silence: Option<Option<Micros>>,
}

impl JailConfig {
    /// The bantime for the `n`-th ban (1-based) of one address.
    pub fn bantime_for(&self, n: u32) -> BanTime {
        let (BanTime::Finite(base), Some(inc)) = (self.bantime, self.increment) else {
            return self.bantime;
        };
        let grown = base as f64 * inc.factor.powi(n.saturating_sub(1).min(64) as i32);
        let grown = if grown.is_finite() && grown < i64::MAX as f64 {
            grown as Micros
        } else {
            i64::MAX
        };
        match inc.maxtime {
            BanTime::Finite(max) => BanTime::Finite(grown.min(max).max(base)),
            BanTime::Permanent => BanTime::Finite(grown),
        }
    }
}

/// Which jails' filters loading compiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compile {
    /// Every jail's (`banjo check`, `doctor`): every error in a pattern is found.
    All,
    /// The enabled jails' only (`banjo run` and its reload, `replay`): what runs.
    /// A disabled jail is validated as before but for its patterns, which only the
    /// regex engines would check ([`Filter::outline`]; a fail2ban filter file it
    /// names is only looked for), and is left out of [`Config::jails`]. Compiling
    /// the ~45 built-in filters of the disabled jails cost an idle daemon its memory
    /// target (bench/RESULTS.md, "idle memory").
    Enabled,
}

/// Load `dir` (banjo.toml, then jail.d/*.toml), compiling every jail's filter.
/// `explicit`: the user named the directory, so its absence is an error rather than
/// "use built-ins".
pub fn load(dir: &Path, explicit: bool) -> Config {
    load_with(dir, explicit, Compile::All)
}

/// [`load`], with only the enabled jails' filters compiled (and only those jails
/// kept): for the daemon and `replay`.
pub fn load_enabled(dir: &Path, explicit: bool) -> Config {
    load_with(dir, explicit, Compile::Enabled)
}

fn load_with(dir: &Path, explicit: bool, compile: Compile) -> Config {
    let mut diags = Vec::new();
    let mut files = vec![SourceFile {
        name: BUILTIN_NAME.into(),
        text: BUILTIN.into(),
    }];
    if !dir.is_dir() {
        if explicit {
            diags.push(Diagnostic::error(
                dir.display().to_string(),
                None,
                "config directory does not exist",
            ));
        }
    } else {
        fail2ban_files(dir, &mut diags);
        let main = dir.join("banjo.toml");
        let mut paths = Vec::new();
        if main.exists() {
            paths.push(main);
        }
        let dropins = dir.join("jail.d");
        if let Ok(rd) = std::fs::read_dir(&dropins) {
            let mut found: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            found.sort();
            for p in found {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with('.') || p.is_dir() {
                    continue;
                }
                if name.ends_with(".toml") {
                    paths.push(p);
                } else if name.ends_with(".conf") || name.ends_with(".local") {
                    diags.push(fail2ban_file(&p));
                } else if !package_leftover(name) {
                    diags.push(
                        Diagnostic::error(p.display().to_string(), None, "ignored: not a .toml file")
                            .warning()
                            .hint("banjo reads jail.d/*.toml only; fail2ban .conf/.local files are not read"),
                    );
                }
            }
        }
        for p in paths {
            match std::fs::read_to_string(&p) {
                Ok(text) => files.push(SourceFile {
                    name: p.display().to_string(),
                    text,
                }),
                Err(e) => diags.push(Diagnostic::error(
                    p.display().to_string(),
                    None,
                    format!("cannot read: {e}"),
                )),
            }
        }
    }
    load_files_with(dir, files, diags, compile)
}

/// fail2ban's files in banjo's config dir (jail.local copied to /etc/banjo): banjo
/// would ignore them, and the jails they enable would silently not run. Warned about,
/// with the line of their first section, at `banjo check` and `banjo run`.
fn fail2ban_files(dir: &Path, diags: &mut Vec<Diagnostic>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut found: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "conf" || e == "local"))
        .collect();
    found.sort();
    for p in found {
        diags.push(fail2ban_file(&p));
    }
    // action.d: banjo never reads it. (filter.d is left alone: a jail may name a
    // fail2ban filter file there on purpose.)
    for sub in ["action.d"] {
        let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        let mut found: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "conf" || e == "local"))
            .collect();
        found.sort();
        for p in found {
            diags.push(fail2ban_file(&p));
        }
    }
}

fn fail2ban_file(p: &Path) -> Diagnostic {
    // The first [section] line, where a reader sees it is INI, not TOML.
    let line = std::fs::read_to_string(p).ok().and_then(|t| {
        t.lines()
            .position(|l| {
                let l = l.trim();
                l.starts_with('[') && l.ends_with(']')
            })
            .map(|i| i + 1)
    });
    Diagnostic::error(
        p.display().to_string(),
        line,
        "this looks like fail2ban configuration; banjo reads TOML; run `banjo import-fail2ban`",
    )
    .warning()
    .hint("banjo import-fail2ban /etc/fail2ban writes jail.d/fail2ban.toml (and filter.d/*.toml) from it; it is not read as it is")
}

/// The second half of [`load`]: layer and validate `files` (the built-in layer first)
/// already read from `dir`, after `diags` from reading them. Also the entry point of
/// the config fuzz target (fuzz/), which has no directory to read.
pub fn load_files(dir: &Path, files: Vec<SourceFile>, diags: Vec<Diagnostic>) -> Config {
    load_files_with(dir, files, diags, Compile::All)
}

fn load_files_with(
    dir: &Path,
    files: Vec<SourceFile>,
    mut diags: Vec<Diagnostic>,
    compile: Compile,
) -> Config {
    let (mut jails, mut more) = resolve(dir, &files, compile);
    diags.append(&mut more);
    let mut daemon = resolve_daemon(&files, &mut diags);
    resolve_health(&files, &mut daemon, &mut diags);
    let metrics = resolve_metrics(&files, &mut diags);
    if daemon.firewall == FirewallKind::Nftables {
        check_nft_hooks(&mut jails, &mut diags);
    }
    if compile == Compile::Enabled {
        // Outlines only, checked above: never run.
        jails.retain(|j| j.enabled);
    }
    debug_assert!(jails.iter().all(|j| !j.filter.outline || !j.enabled));
    Config {
        dir: dir.to_owned(),
        daemon,
        metrics,
        files,
        jails,
        diagnostics: diags,
    }
}

/// `[metrics]` from every file, last one wins per key.
fn resolve_metrics(files: &[SourceFile], diags: &mut Vec<Diagnostic>) -> MetricsConfig {
    let mut m = MetricsConfig::default();
    for f in files {
        let Ok(parsed) = toml::from_str::<RawFile>(&f.text) else {
            continue;
        };
        let Some(raw) = parsed.metrics else { continue };
        let mut err = |span: std::ops::Range<usize>, key: &str, msg: String| {
            diags.push(
                Diagnostic::error(f.name.clone(), Some(line_of(&f.text, span.start)), msg)
                    .key(&format!("metrics.{key}")),
            );
        };
        if let Some(v) = raw.listen {
            let text = v.get_ref().trim();
            // A bare absolute path is a unix socket too.
            let spelled = if text.starts_with('/') {
                format!("unix:{text}")
            } else {
                text.to_owned()
            };
            match text {
                "" => m.listen = None,
                _ => match spelled.parse() {
                    Ok(l) => m.listen = Some(l),
                    Err(e) => err(v.span(), "listen", e),
                },
            }
        }
        if let Some(v) = raw.textfile {
            let text = v.get_ref();
            if text.is_empty() {
                m.textfile = None;
            } else if !text.starts_with('/') {
                err(v.span(), "textfile", "must be an absolute path".into());
            } else if !text.ends_with(".prom") {
                err(
                    v.span(),
                    "textfile",
                    format!("{text:?}: node_exporter's textfile collector reads only *.prom files"),
                );
            } else {
                m.textfile = Some(PathBuf::from(text));
            }
        }
        if let Some(v) = raw.textfile_interval {
            let text = v.get_ref().as_text();
            match parse_duration(&text) {
                Ok(t) if (SEC..=3600 * SEC).contains(&t) => m.textfile_interval = t,
                Ok(_) => err(
                    v.span(),
                    "textfile_interval",
                    format!("{text:?} is not between 1s and 1h"),
                ),
                Err(e) => err(v.span(), "textfile_interval", e),
            }
        }
    }
    m
}

/// With `firewall = "nftables"` a jail's `chain` chooses a netfilter hook, and only
/// INPUT, FORWARD and DOCKER-USER have one: other jails are errors here, at `banjo
/// check`, rather than a setup failure when the daemon starts.
fn check_nft_hooks(jails: &mut Vec<JailConfig>, diags: &mut Vec<Diagnostic>) {
    jails.retain(|j| {
        if crate::banrules::hook_of(&j.chain).is_some() {
            return true;
        }
        let (file, line) = match j.declared_at.rsplit_once(':') {
            Some((f, l)) => (f.to_owned(), l.parse().ok()),
            None => (j.declared_at.clone(), None),
        };
        diags.push(
            Diagnostic::error(
                file,
                line,
                format!(
                    "chain {:?} has no nftables hook (firewall = \"nftables\")",
                    j.chain
                ),
            )
            .jail(&j.name)
            .key("chain")
            .hint("with nftables, chain is INPUT, FORWARD or DOCKER-USER (both forward)"),
        );
        false
    });
}

/// A jail's `enabled` after layering (unset: disabled).
fn enabled(k: &Layered) -> bool {
    k.enabled.as_ref().is_some_and(|v| *v.1.get_ref())
}

/// `[daemon]` from every file, last one wins per key.
fn resolve_daemon(files: &[SourceFile], diags: &mut Vec<Diagnostic>) -> DaemonConfig {
    let mut d = DaemonConfig::default();
    let (mut wake, mut group) = (true, DEFAULT_NFLOG_GROUP);
    for f in files {
        // Syntax errors were reported by `resolve` already.
        let Ok(parsed) = toml::from_str::<RawFile>(&f.text) else {
            continue;
        };
        let Some(raw) = parsed.daemon else { continue };
        let mut err = |span: std::ops::Range<usize>, key: &str, msg: String| {
            diags.push(
                Diagnostic::error(f.name.clone(), Some(line_of(&f.text, span.start)), msg)
                    .key(&format!("daemon.{key}")),
            );
        };
        if let Some(v) = raw.socket {
            if v.get_ref().starts_with('/') {
                d.socket = PathBuf::from(v.get_ref());
            } else {
                err(v.span(), "socket", "must be an absolute path".into());
            }
        }
        if let Some(v) = raw.state_dir {
            if v.get_ref().starts_with('/') {
                d.state_dir = PathBuf::from(v.get_ref());
            } else {
                err(v.span(), "state_dir", "must be an absolute path".into());
            }
        }
        if let Some(v) = raw.firewall {
            match v.get_ref().as_str() {
                "iptables" => d.firewall = FirewallKind::Iptables,
                "nftables" => d.firewall = FirewallKind::Nftables,
                "dry-run" => d.firewall = FirewallKind::DryRun,
                other => err(
                    v.span(),
                    "firewall",
                    format!("{other:?} is not iptables, nftables or dry-run"),
                ),
            }
        }
        if let Some(v) = raw.unban_on_stop {
            d.unban_on_stop = *v.get_ref();
        }
        if let Some(v) = raw.readers_group {
            d.readers_group = Some(v.get_ref().clone());
        }
        if let Some(v) = raw.action_concurrency {
            match *v.get_ref() {
                n @ 1..=64 => d.action_concurrency = n as usize,
                n => err(
                    v.span(),
                    "action_concurrency",
                    format!("{n} is not between 1 and 64"),
                ),
            }
        }
        if let Some(v) = raw.nflog_group {
            match u16::try_from(*v.get_ref()) {
                Ok(g) => group = g,
                Err(_) => err(
                    v.span(),
                    "nflog_group",
                    format!("{} is not between 0 and 65535", v.get_ref()),
                ),
            }
        }
        if let Some(v) = raw.wake_on_connect {
            wake = *v.get_ref();
        }
        if let Some(v) = raw.ban_count_max_age {
            // A duration, or "permanent" to keep every count for good.
            match parse_bantime(&v.get_ref().as_text()) {
                Ok(b) => d.ban_count_max_age = b,
                Err(e) => err(v.span(), "ban_count_max_age", e),
            }
        }
        if let Some(v) = raw.tracker_memory {
            match parse_size(v.get_ref()) {
                Ok(n) => d.tracker_memory = n,
                Err(e) => err(v.span(), "tracker_memory", e),
            }
        }
        if let Some(v) = raw.drift_check {
            let text = v.get_ref().as_text();
            match parse_duration(&text) {
                _ if text.trim() == "off" => d.drift_check = None,
                Ok(0) => d.drift_check = None,
                Ok(t) if t <= 3600 * SEC => d.drift_check = Some(t),
                Ok(_) => err(
                    v.span(),
                    "drift_check",
                    format!("{text:?} is longer than 1h"),
                ),
                Err(e) => err(v.span(), "drift_check", format!("{e}, or \"off\"")),
            }
        }
    }
    d.wake_group = wake.then_some(group);
    d
}

/// `[daemon] health_silence` (resolve_daemon is long enough already).
fn resolve_health(files: &[SourceFile], d: &mut DaemonConfig, diags: &mut Vec<Diagnostic>) {
    for f in files {
        let Ok(parsed) = toml::from_str::<RawFile>(&f.text) else {
            continue;
        };
        let Some(v) = parsed.daemon.and_then(|d| d.health_silence) else {
            continue;
        };
        match parse_silence(&v.get_ref().as_text()) {
            Ok(t) => d.health_silence = t,
            Err(e) => diags.push(
                Diagnostic::error(f.name.clone(), Some(line_of(&f.text, v.span().start)), e)
                    .key("daemon.health_silence"),
            ),
        }
    }
}

/// `tracker_memory`: bytes, or a number with K/M/G (KiB/MiB/GiB, powers of 1024).
fn parse_size(raw: &RawSize) -> Result<usize, String> {
    const MIN: u64 = 1 << 20;
    const MAX: u64 = 1 << 40;
    let bytes = match raw {
        RawSize::Bytes(n) => u64::try_from(*n).ok(),
        RawSize::Text(t) => {
            let t = t.trim();
            let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let unit: u64 = match t[digits..].trim() {
                "" | "B" => Some(1),
                "K" | "KiB" => Some(1 << 10),
                "M" | "MiB" => Some(1 << 20),
                "G" | "GiB" => Some(1 << 30),
                _ => None,
            }
            .ok_or_else(|| format!("{t:?}: the unit is not K, M or G (KiB, MiB, GiB)"))?;
            t[..digits]
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(unit))
        }
    };
    match bytes {
        Some(n) if (MIN..=MAX).contains(&n) => Ok(n as usize),
        _ => Err("must be between 1MiB and 1024GiB, e.g. \"64MiB\"".into()),
    }
}

/// Layer parsed files and validate every jail.
pub fn resolve(
    dir: &Path,
    files: &[SourceFile],
    compile: Compile,
) -> (Vec<JailConfig>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut defaults = Layered::default();
    // name -> (layered keys, file index and span of the latest [jail.NAME])
    let mut jails: BTreeMap<String, (Layered, usize, usize)> = BTreeMap::new();
    for (idx, f) in files.iter().enumerate() {
        let parsed: RawFile = match toml::from_str(&f.text) {
            Ok(p) => p,
            Err(e) => {
                diags.push(crate::diag::from_toml(&f.name, &f.text, &e));
                continue;
            }
        };
        if let Some(d) = &parsed.defaults {
            raw::layer(&mut defaults, d, idx);
        }
        for (name, j) in &parsed.jail {
            let slot = jails
                .entry(name.get_ref().clone())
                .or_insert_with(|| (Layered::default(), idx, 0));
            raw::layer(&mut slot.0, j, idx);
            slot.1 = idx;
            slot.2 = name.span().start;
        }
    }
    let mut filters: HashMap<String, Result<Arc<Filter>, Vec<Diagnostic>>> = HashMap::new();
    let mut fail2ban_filters: HashMap<String, Fail2banFilter> = HashMap::new();
    let filter_dir = dir.join("filter.d");
    let (jails, keys): (Vec<_>, Vec<Layered>) = jails
        .into_iter()
        .map(|(name, (layered, fidx, at))| ((name, fidx, at), layered.or(&defaults)))
        .unzip();
    // Enabled jails' filters are compiled first: with Compile::All, what is dropped
    // later (a caller that keeps only enabled jails) is freed from the top of the
    // heap rather than from holes between the kept ones.
    let order = (0..jails.len())
        .filter(|&i| enabled(&keys[i]))
        .chain((0..jails.len()).filter(|&i| !enabled(&keys[i])));
    let mut results: Vec<(Option<JailConfig>, Vec<Diagnostic>)> = Vec::new();
    results.resize_with(jails.len(), Default::default);
    for i in order {
        let (name, fidx, at) = &jails[i];
        let decl_line = line_of(&files[*fidx].text, *at);
        let declared_at = format!("{}:{decl_line}", files[*fidx].name);
        let mut r = Resolver {
            files,
            jail: name,
            decl: (files[*fidx].name.clone(), Some(decl_line)),
            diags: Vec::new(),
            outline: compile == Compile::Enabled && !enabled(&keys[i]),
        };
        let jc = r.jail(
            name,
            declared_at,
            &keys[i],
            &filter_dir,
            &mut filters,
            &mut fail2ban_filters,
        );
        let ok = r.diags.iter().all(|d| !d.is_error());
        results[i] = (jc.filter(|_| ok), r.diags);
    }
    // Jails and their diagnostics in name order, as the files are read.
    let mut out = Vec::new();
    for (jc, mut d) in results {
        out.extend(jc);
        diags.append(&mut d);
    }
    (out, diags)
}

/// A fail2ban filter file imported for jails (once per file and parameters): the filter,
/// and the importer's warnings, shown with every jail that uses it.
type Fail2banFilter = (Result<Arc<Filter>, Vec<Diagnostic>>, Vec<Diagnostic>);

struct Resolver<'a> {
    files: &'a [SourceFile],
    jail: &'a str,
    /// File and line of the `[jail.NAME]` header, for problems no key owns.
    decl: (String, Option<usize>),
    diags: Vec<Diagnostic>,
    /// Check the jail's filter without compiling it ([`Compile::Enabled`], disabled).
    outline: bool,
}

impl Resolver<'_> {
    fn at<T>(&self, v: &(usize, Spanned<T>)) -> (String, Option<usize>) {
        let f = &self.files[v.0];
        (f.name.clone(), Some(line_of(&f.text, v.1.span().start)))
    }

    /// The line of `item` inside the value `v` (a list may span lines): where it is
    /// written as a TOML string or number, else None.
    fn item_line<T>(&self, v: &(usize, Spanned<T>), item: &str) -> Option<usize> {
        let f = &self.files[v.0];
        let span = v.1.span();
        let value = f.text.get(span.clone())?;
        let at = [format!("\"{item}\""), format!("'{item}'")]
            .iter()
            .find_map(|q| value.find(q.as_str()))
            .or_else(|| {
                // A number: not part of a longer one.
                value.match_indices(item).map(|(i, _)| i).find(|&i| {
                    let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
                    !digit(value[..i].chars().next_back())
                        && !digit(value[i + item.len()..].chars().next())
                })
            })?;
        Some(line_of(&f.text, span.start + at))
    }

    fn err<T>(
        &mut self,
        v: &(usize, Spanned<T>),
        key: &str,
        msg: impl Into<String>,
    ) -> &mut Diagnostic {
        let (file, line) = self.at(v);
        self.diags
            .push(Diagnostic::error(file, line, msg).jail(self.jail).key(key));
        self.diags.last_mut().expect("just pushed")
    }

    fn duration(
        &mut self,
        v: &Option<(usize, Spanned<RawDuration>)>,
        key: &str,
        fallback: Micros,
    ) -> Micros {
        let Some(v) = v else { return fallback };
        match parse_duration(&v.1.get_ref().as_text()) {
            Ok(d) if d > 0 => d,
            Ok(_) => {
                self.err(v, key, "must be longer than 0");
                fallback
            }
            Err(e) => {
                self.err(v, key, e).hint =
                    Some("durations look like 600, \"10m\", \"1h\", \"1d\", \"1w\"".into());
                fallback
            }
        }
    }

    fn bantime(
        &mut self,
        v: &Option<(usize, Spanned<RawDuration>)>,
        key: &str,
        fallback: BanTime,
    ) -> BanTime {
        let Some(v) = v else { return fallback };
        match parse_bantime(&v.1.get_ref().as_text()) {
            Ok(b) => b,
            Err(e) => {
                self.err(v, key, e).hint =
                    Some("use a duration (\"1h\", \"1w\") or \"permanent\"".into());
                fallback
            }
        }
    }

    /// Warn about journalmatch groups any local process can satisfy: `logger -t sshd
    /// "Failed password for root from VICTIM port 1 ssh2"` by an unprivileged user must
    /// not be able to get VICTIM banned (see route::Group::trusted). A warning, not an
    /// error: the jail still runs as configured.
    fn untrusted_routing(&mut self, name: &str, at: (String, Option<usize>), m: &MatchRules) {
        for g in m.untrusted() {
            self.diags.push(
                Diagnostic::error(
                    at.0.clone(),
                    at.1,
                    format!(
                        "group \"{g}\" routes on fields any local user can set, so a local user could get any address banned"
                    ),
                )
                .warning()
                .jail(name)
                .key("journalmatch")
                .hint("add a field journald takes from the sender's credentials: _UID=0 for a daemon that logs as root, _SYSTEMD_UNIT=NAME.service of its system unit, or _EXE=/usr/sbin/NAME"),
            );
        }
    }

    /// `logpath`: absolute paths, globs in the file name or directories.
    fn logpath(&mut self, k: &Layered) -> Vec<String> {
        let Some(v) = &k.logpath else {
            return Vec::new();
        };
        let items = match v.1.get_ref() {
            RawMatch::One(s) => vec![s.clone()],
            RawMatch::Groups(g) => g.clone(),
        };
        let mut out = Vec::new();
        for item in items {
            let why = if !item.starts_with('/') {
                Some("is not an absolute path".to_owned())
            } else if item.ends_with('/') {
                Some("names a directory, not files".to_owned())
            } else {
                glob::Pattern::new(&item)
                    .err()
                    .map(|e| format!("is not a valid glob: {e}"))
            };
            match why {
                Some(why) => {
                    let line = self.item_line(v, &item).or(self.at(v).1);
                    let file = self.at(v).0;
                    self.diags.push(
                        Diagnostic::error(file, line, format!("logpath {item:?} {why}"))
                            .jail(self.jail)
                            .key("logpath")
                            .hint("logpath = [\"/var/log/nginx/access.log\", \"/var/log/apache2/*access.log\"]"),
                    );
                }
                None if !out.contains(&item) => out.push(item),
                None => {}
            }
        }
        out
    }

    fn jail(
        &mut self,
        name: &str,
        declared_at: String,
        k: &Layered,
        filter_dir: &Path,
        filters: &mut HashMap<String, Result<Arc<Filter>, Vec<Diagnostic>>>,
        fail2ban_filters: &mut HashMap<String, Fail2banFilter>,
    ) -> Option<JailConfig> {
        if !valid_jail_name(name) {
            let (file, line) = self.decl.clone();
            self.diags.push(
                Diagnostic::error(file, line, format!("{name:?} is not a valid jail name"))
                    .jail(name)
                    .hint("1-22 characters: letters, digits, - and _ (it becomes the chain banjo-NAME)"),
            );
            return None;
        }
        let enabled = enabled(k);

        // filter
        let filter_text = k
            .filter
            .as_ref()
            .map(|v| v.1.get_ref().clone())
            .unwrap_or_else(|| name.to_owned());
        let filter_ref = match FilterRef::parse(&filter_text) {
            Ok(r) => r,
            Err(e) => {
                match &k.filter {
                    Some(v) => {
                        self.err(v, "filter", e);
                    }
                    None => self
                        .diags
                        .push(Diagnostic::error(self.decl.0.clone(), self.decl.1, e).jail(name)),
                }
                return None;
            }
        };
        // Relative paths are read from the configuration directory.
        let base = filter_dir.parent().unwrap_or(Path::new("."));
        let f2b_dir = k
            .fail2ban_filter_dir
            .as_ref()
            .map(|v| base.join(v.1.get_ref()));
        let outline = self.outline;
        // A fail2ban filter file left unread (an outline): its journalmatch is unknown.
        let mut unread = false;
        let filter = match f2b_filter::jail_source(&filter_ref.name, f2b_dir.as_deref()) {
            // Outlines and compiled filters apart: a jail must never run an outline.
            None => filters
                .entry(format!(
                    "{}{filter_text}",
                    if outline { "o\0" } else { "c\0" }
                ))
                .or_insert_with(|| {
                    if outline {
                        Filter::outline(&filter_ref, &[filter_dir]).map(Arc::new)
                    } else {
                        Filter::load(&filter_ref, &[filter_dir]).map(Arc::new)
                    }
                })
                .clone(),
            Some(Err(e)) => {
                match &k.filter {
                    Some(v) => self.err(v, "filter", e),
                    None => return None,
                };
                return None;
            }
            Some(Ok(path)) => {
                // A fail2ban filter file, imported now (the same importer as
                // `banjo import-filter`); what it reports is shown with the jail.
                let path = base.join(path);
                if !path.is_file() {
                    if let Some(v) = &k.filter {
                        self.err(v, "filter", format!("no such fail2ban filter file {}", path.display()))
                            .hint = Some("install fail2ban's filters (`apt-get install fail2ban`), set fail2ban_filter_dir, or import the filter with `banjo import-filter` into filter.d".into());
                    }
                    return None;
                }
                if outline {
                    // Importing is compiling (the importer proves its output so).
                    let file = path.display().to_string();
                    unread = true;
                    Ok(Arc::new(Filter::unread(&filter_ref.name, &file)))
                } else {
                    let key = format!("{}\0{filter_text}", path.display());
                    let loaded = fail2ban_filters.entry(key).or_insert_with(|| {
                        match f2b_filter::compile_for_jail(&path, &filter_ref.params) {
                            Ok((f, warnings)) => (Ok(Arc::new(f)), warnings),
                            Err(e) => (Err(e), Vec::new()),
                        }
                    });
                    for w in &loaded.1 {
                        let mut w = w.clone();
                        w.jail = Some(name.to_owned());
                        self.diags.push(w);
                    }
                    loaded.0.clone()
                }
            }
        };
        let filter = match filter {
            Ok(f) => f,
            Err(errs) => {
                let (file, line) = match &k.filter {
                    Some(v) => self.at(v),
                    None => self.decl.clone(),
                };
                for mut d in errs {
                    d.jail = Some(name.to_owned());
                    if d.key.is_none() {
                        d.key = Some("filter".into());
                    }
                    if d.file == "<filter>" {
                        d.file = file.clone();
                        d.line = line;
                    }
                    if k.filter.is_none() && d.message.starts_with("no filter named") {
                        d.hint = Some(format!(
                            "jail {name} has no filter key, so banjo looked for a filter named like the jail; set filter = \"…\""
                        ));
                    }
                    self.diags.push(d);
                }
                return None;
            }
        };

        let logpath = self.logpath(k);
        let datepattern = match &k.datepattern {
            Some(v) => match crate::journal::datepattern::DatePattern::parse(v.1.get_ref()) {
                Ok(p) => p,
                Err(e) => {
                    self.err(v, "datepattern", e.to_string()).hint = Some(
                        "fail2ban's %-codes, e.g. datepattern = \"%d/%b/%Y:%H:%M:%S %z\"; EPOCH; or leave it out: the usual shapes are found by themselves".into(),
                    );
                    crate::journal::datepattern::DatePattern::Auto
                }
            },
            None => crate::journal::datepattern::DatePattern::Auto,
        };
        if let (Some(v), true) = (&k.datepattern, logpath.is_empty()) {
            self.err(
                v,
                "datepattern",
                "datepattern without logpath: journal entries carry their own time",
            )
            .severity = crate::diag::Severity::Warning;
        }

        // journalmatch: the jail's, else (unless the jail reads only files) the
        // filter's default.
        let journalmatch = match &k.journalmatch {
            None if !logpath.is_empty() || unread => MatchRules::default(),
            Some(v) => {
                let items = match v.1.get_ref() {
                    RawMatch::One(s) => vec![s.clone()],
                    RawMatch::Groups(g) => g.clone(),
                };
                match MatchRules::parse(&items) {
                    Ok(r) => r,
                    Err(e) => {
                        self.err(v, "journalmatch", e).hint = Some(
                            "journalctl syntax: \"_SYSTEMD_UNIT=ssh.service _COMM=sshd + SYSLOG_IDENTIFIER=sshd\"".into(),
                        );
                        MatchRules::default()
                    }
                }
            }
            None => match &filter.journalmatch {
                Some((items, line)) => match MatchRules::parse(items) {
                    Ok(r) => r,
                    Err(e) => {
                        self.diags.push(
                            Diagnostic::error(filter.file.clone(), Some(*line), e)
                                .jail(name)
                                .key("journalmatch"),
                        );
                        MatchRules::default()
                    }
                },
                None => {
                    self.diags.push(
                        Diagnostic::error(self.decl.0.clone(), self.decl.1, "no journalmatch: this jail would read nothing")
                            .jail(name)
                            .key("journalmatch")
                            .hint(format!(
                                "filter {} has no default; set journalmatch = \"_SYSTEMD_UNIT=….service\" on the jail",
                                filter.name
                            )),
                    );
                    MatchRules::default()
                }
            },
        };

        if enabled {
            let at = match &k.journalmatch {
                Some(v) => self.at(v),
                None => (
                    filter.file.clone(),
                    filter.journalmatch.as_ref().map(|(_, l)| *l),
                ),
            };
            self.untrusted_routing(name, at, &journalmatch);
        }

        let maxretry = match &k.maxretry {
            Some(v) if *v.1.get_ref() < 1 || *v.1.get_ref() > 1_000_000 => {
                self.err(v, "maxretry", format!("{} is out of range", v.1.get_ref()))
                    .hint =
                    Some("maxretry is the number of failures that bans: 1 to 1000000".into());
                5
            }
            Some(v) => *v.1.get_ref() as u32,
            None => 5,
        };
        let findtime = self.duration(&k.findtime, "findtime", 600 * SEC);
        let bantime = self.bantime(&k.bantime, "bantime", BanTime::Finite(3600 * SEC));
        let increment = if k.bantime_increment.as_ref().is_some_and(|v| *v.1.get_ref()) {
            let factor = match &k.bantime_factor {
                Some(v) if !(1.0..=1000.0).contains(v.1.get_ref()) => {
                    self.err(v, "bantime_factor", "must be between 1 and 1000");
                    2.0
                }
                Some(v) => *v.1.get_ref(),
                None => 2.0,
            };
            let maxtime = self.bantime(
                &k.bantime_maxtime,
                "bantime_maxtime",
                BanTime::Finite(604_800 * SEC),
            );
            Some(Increment { factor, maxtime })
        } else {
            None
        };

        let mut ignoreip = Vec::new();
        if let Some(v) = &k.ignoreip {
            for item in v.1.get_ref().clone() {
                match parse_net(&item) {
                    Ok(n) => ignoreip.push(n),
                    Err(e) => {
                        self.err(v, "ignoreip", e);
                    }
                }
            }
        }
        let ignoreself = k.ignoreself.as_ref().is_none_or(|v| *v.1.get_ref());
        let ban_loopback = k.ban_loopback.as_ref().is_some_and(|v| *v.1.get_ref());
        let ipv6_prefix = match &k.ipv6_prefix {
            Some(v) if !(16..=128).contains(v.1.get_ref()) => {
                self.err(v, "ipv6_prefix", "must be between 16 and 128")
                    .hint = Some("64 bans the attacker's /64; 128 bans the single address".into());
                64
            }
            Some(v) => *v.1.get_ref() as u8,
            None => 64,
        };
        let ports = match &k.port {
            Some(v) => match parse_ports(v.1.get_ref()) {
                Ok(p) => p,
                Err(errors) => {
                    // Each bad item of a list, on its own line, not only the first.
                    for (item, e) in errors {
                        let line = self.item_line(v, &item);
                        let d = self.err(v, "port", e);
                        d.line = line.or(d.line);
                        d.hint = Some(
                            "port = \"all\", 22, \"ssh\", [\"http\", \"https\"] or \"8000:8100\""
                                .into(),
                        );
                    }
                    Ports::All
                }
            },
            None => Ports::All,
        };
        let protocol = match k
            .protocol
            .as_ref()
            .map(|v| (v, v.1.get_ref().to_ascii_lowercase()))
        {
            None => Protocol::Tcp,
            Some((_, p)) if p == "tcp" => Protocol::Tcp,
            Some((_, p)) if p == "udp" => Protocol::Udp,
            Some((_, p)) if p == "all" => Protocol::All,
            Some((v, p)) => {
                self.err(v, "protocol", format!("{p:?} is not tcp, udp or all"));
                Protocol::Tcp
            }
        };
        if protocol == Protocol::All && ports != Ports::All {
            if let Some(v) = &k.protocol {
                self.err(v, "protocol", "protocol = \"all\" needs port = \"all\"")
                    .hint = Some("ports exist only for tcp and udp".into());
            }
        }
        let blocktype = match k
            .blocktype
            .as_ref()
            .map(|v| (v, v.1.get_ref().to_ascii_uppercase()))
        {
            None => BlockType::Reject,
            Some((_, b)) if b == "REJECT" => BlockType::Reject,
            Some((_, b)) if b == "DROP" => BlockType::Drop,
            Some((v, b)) => {
                self.err(v, "blocktype", format!("{b:?} is not REJECT or DROP"));
                BlockType::Reject
            }
        };
        let chain = match &k.chain {
            Some(v) if !valid_chain(v.1.get_ref()) => {
                self.err(
                    v,
                    "chain",
                    format!("{:?} is not a valid iptables chain name", v.1.get_ref()),
                )
                .hint = Some(
                    "INPUT, FORWARD, DOCKER-USER, or a chain of up to 28 letters, digits, - and _"
                        .into(),
                );
                "INPUT".to_owned()
            }
            Some(v) => v.1.get_ref().clone(),
            None => "INPUT".to_owned(),
        };
        let mut actions = Vec::new();
        if let Some(v) = &k.action {
            for a in v.1.get_ref().clone() {
                let on = match a.on.as_str() {
                    "ban" => ActionEvent::Ban,
                    "unban" => ActionEvent::Unban,
                    other => {
                        self.err(v, "action.on", format!("{other:?} is not ban or unban"));
                        continue;
                    }
                };
                if a.argv.is_empty() || a.argv[0].is_empty() {
                    self.err(v, "action.argv", "argv needs a program");
                    continue;
                }
                if let Some(bad) = a.argv.iter().find_map(|arg| unknown_placeholder(arg)) {
                    self.err(v, "action.argv", format!("unknown placeholder {{{bad}}}"))
                        .hint = Some(format!("placeholders: {}", ACTION_PLACEHOLDERS.map_join()));
                    continue;
                }
                let timeout_us = match &a.timeout {
                    Some(t) => match parse_duration(&t.as_text()) {
                        Ok(d) if d > 0 => d,
                        _ => {
                            self.err(
                                v,
                                "action.timeout",
                                format!("{:?} is not a duration", t.as_text()),
                            );
                            continue;
                        }
                    },
                    None => 30 * SEC,
                };
                actions.push(Action {
                    on,
                    argv: a.argv,
                    timeout_us,
                });
            }
        }
        let escalation = self.escalation(k, ipv6_prefix);
        let health_silence = match &k.health_silence {
            Some(v) => match parse_silence(&v.1.get_ref().as_text()) {
                Ok(t) => Some(t),
                Err(e) => {
                    self.err(v, "health_silence", e);
                    None
                }
            },
            None => None,
        };
        Some(JailConfig {
            name: name.to_owned(),
            enabled,
            declared_at,
            filter_ref,
            filter,
            journalmatch,
            logpath,
            datepattern,
            maxretry,
            findtime,
            bantime,
            increment,
            ignoreip,
            ignoreself,
            ban_loopback,
            ipv6_prefix,
            ports,
            protocol,
            blocktype,
            chain,
            actions,
            escalation,
            health_silence,
        })
    }
}

trait MapJoin {
    fn map_join(&self) -> String;
}
impl MapJoin for [&str] {
    fn map_join(&self) -> String {
        self.iter()
            .map(|p| format!("{{{p}}}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn unknown_placeholder(arg: &str) -> Option<String> {
    let mut rest = arg;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        let end = after.find('}')?;
        let name = &after[..end];
        if !ACTION_PLACEHOLDERS.contains(&name) {
            return Some(name.to_owned());
        }
        rest = &after[end + 1..];
    }
    None
}

/// Files package managers and editors leave beside config files on upgrades: skipped
/// without a warning (they are never read).
fn package_leftover(name: &str) -> bool {
    name.ends_with('~')
        || [
            ".dpkg-dist",
            ".dpkg-old",
            ".dpkg-new",
            ".dpkg-tmp",
            ".rpmnew",
            ".rpmsave",
            ".rpmorig",
            ".swp",
        ]
        .iter()
        .any(|s| name.ends_with(s))
        || name.contains(".ucf-")
}

/// Every bad item is reported: (the item as written, what is wrong with it).
fn parse_ports(raw: &RawPorts) -> Result<Ports, Vec<(String, String)>> {
    let items: Vec<String> = match raw {
        RawPorts::One(n) => vec![n.to_string()],
        RawPorts::Text(t) if t.trim() == "all" => return Ok(Ports::All),
        RawPorts::Text(t) => t.split(',').map(|s| s.trim().to_owned()).collect(),
        RawPorts::List(l) => l
            .iter()
            .map(|p| match p {
                RawPort::Number(n) => n.to_string(),
                RawPort::Text(t) => t.clone(),
            })
            .collect(),
    };
    if items.is_empty() {
        return Err(vec![(String::new(), "empty port list".into())]);
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for i in items {
        if i == "all" {
            errors.push((i, "\"all\" cannot be mixed with ports".into()));
            continue;
        }
        match parse_port_item(&i) {
            Ok(p) => out.push(p),
            Err(e) => errors.push((i, e)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // iptables multiport takes at most 15 ports (a range counts two).
    if out
        .iter()
        .map(|(a, b)| if a == b { 1 } else { 2 })
        .sum::<usize>()
        > 15
    {
        return Err(vec![(
            String::new(),
            "more than 15 ports (iptables multiport limit); use a range or \"all\"".into(),
        )]);
    }
    Ok(Ports::List(out))
}

#[cfg(test)]
mod tests;
