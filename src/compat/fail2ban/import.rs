//! A fail2ban configuration (read by jail.rs) turned into banjo's: one jail.d TOML
//! file, filter.d TOML files for the filters banjo has no built-in for, and a report
//! jail by jail of what was mapped, how each jail will read, and what did not carry
//! over (with the fail2ban file and line).
//!
//! The mapping, key by key: `filter` -> a built-in with its mode (a fail2ban mode that
//! is only another's alias, postfix's `more`, becomes that mode) or a filter.d file
//! imported by filter.rs; `backend = systemd`, or a `logpath` that journald feeds
//! through syslog (auth.log, secure, mail.log, maillog, syslog, messages, kern.log),
//! -> the filter's journalmatch; any other logpath -> banjo's `logpath` (the file is
//! followed); maxretry/findtime/bantime and `bantime.*`;
//! ignoreip/ignoreself; the banaction -> banjo's firewall, ports, protocol, chain and
//! blocktype (action.d `[Init]` and its `.local` included); mail actions -> exec hooks.
//! Every key is written out, so the result does not lean on banjo's defaults (which
//! differ: banjo bans for 1h and increments by default, fail2ban 10m and not).
//!
//! What it must not do: write files or touch the firewall (the CLI writes; the daemon
//! bans). Whatever it writes has been validated by banjo's config loader in the CLI.

use super::action::{self, Kind};
use super::jail::{self, split_actions, split_options, Fail2ban, Jail};
use crate::filter::{builtin, Filter, FilterRef};
use crate::timefmt::{parse_duration, SEC};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How serious a note is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// How something was mapped.
    Info,
    /// Mapped, but not exactly: read it.
    Warning,
    /// Not carried over.
    Error,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub level: Level,
    /// fail2ban `file:line` the note is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub message: String,
}

/// One fail2ban jail and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct JailImport {
    /// fail2ban's name.
    pub name: String,
    /// banjo's (the same unless fail2ban's is not a valid banjo jail name).
    pub banjo_name: String,
    /// Where fail2ban's section was written last.
    pub at: String,
    pub enabled_in_fail2ban: bool,
    /// Written to the jail.d file.
    pub written: bool,
    /// `enabled` as written.
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// `built-in`, or the fail2ban file imported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_source: Option<String>,
    /// How the jail reads: the journalmatch, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reads: Option<String>,
    /// banjo key -> value as written in TOML (as JSON values in `--json`).
    #[serde(serialize_with = "settings_as_values")]
    pub settings: BTreeMap<String, String>,
    /// argv of each exec hook.
    pub hooks: Vec<Vec<String>>,
    pub notes: Vec<Note>,
    /// Keys in the order written (settings is sorted for JSON).
    #[serde(skip)]
    order: Vec<String>,
}

/// The TOML text of each setting as the value it is (`"1h"` a string, `3` a number).
fn settings_as_values<S: serde::Serializer>(
    m: &BTreeMap<String, String>,
    ser: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = ser.serialize_map(Some(m.len()))?;
    for (k, v) in m {
        let value = toml::from_str::<toml::Table>(&format!("v = {v}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(v.clone()));
        map.serialize_entry(k, &value)?;
    }
    map.end()
}

/// A filter imported from fail2ban's filter.d.
#[derive(Debug, Clone, Serialize)]
pub struct FilterFile {
    pub name: String,
    /// The fail2ban file.
    pub from: String,
    pub toml: String,
    pub notes: Vec<Note>,
}

/// The whole import.
#[derive(Debug, Serialize)]
pub struct Import {
    pub source: String,
    pub files_read: Vec<String>,
    pub jails: Vec<JailImport>,
    /// `[daemon]` keys written (firewall, ban_count_max_age).
    pub daemon: BTreeMap<String, String>,
    pub notes: Vec<Note>,
    pub filters: Vec<FilterFile>,
    /// fail2ban's database, for the active bans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dbfile: Option<String>,
    /// The jail.d file's text.
    #[serde(skip)]
    pub jail_toml: String,
}

/// Files journald feeds through rsyslog, and the match that picks the same entries:
/// syslog facility numbers (auth 4, authpriv 10, mail 2, daemon 3) or the kernel.
const SYSLOG_FILES: &[(&str, &str)] = &[
    ("auth.log", "SYSLOG_FACILITY=4 SYSLOG_FACILITY=10"),
    ("secure", "SYSLOG_FACILITY=4 SYSLOG_FACILITY=10"),
    ("mail.log", "SYSLOG_FACILITY=2"),
    ("maillog", "SYSLOG_FACILITY=2"),
    ("mail.err", "SYSLOG_FACILITY=2"),
    ("mail.warn", "SYSLOG_FACILITY=2"),
    ("daemon.log", "SYSLOG_FACILITY=3"),
    ("syslog", ""),
    ("messages", ""),
    ("kern.log", "_TRANSPORT=kernel"),
    ("ufw.log", "_TRANSPORT=kernel"),
];

/// The match for a syslog file, if journald feeds it.
fn syslog_match(path: &str) -> Option<&'static str> {
    let p = path.trim();
    if !p.starts_with("/var/log/") {
        return None;
    }
    let base = p.rsplit('/').next()?;
    SYSLOG_FILES
        .iter()
        .find(|(n, _)| *n == base)
        .map(|(_, m)| *m)
}

/// Read `dir` and map it. `banjo` is the program the mail hooks run.
pub fn import(dir: &Path, banjo: &str) -> Result<Import, super::ini::Problem> {
    let f = jail::read(dir)?;
    let mut ctx = Ctx {
        f2b: &f,
        banjo,
        filters: BTreeMap::new(),
        backends: Vec::new(),
    };
    let mut jails = Vec::new();
    for j in &f.jails {
        jails.push(ctx.jail(j));
    }
    let mut notes: Vec<Note> = f
        .problems
        .iter()
        .map(|p| Note {
            level: if p.warning {
                Level::Warning
            } else {
                Level::Error
            },
            at: Some(match p.line {
                Some(l) => format!("{}:{l}", p.file),
                None => p.file.clone(),
            }),
            key: None,
            message: p.message.clone(),
        })
        .collect();
    let mut daemon = BTreeMap::new();
    let mut backends = ctx.backends.clone();
    backends.sort();
    backends.dedup();
    match backends.as_slice() {
        [] | ["iptables"] => {}
        ["nftables"] => {
            daemon.insert("firewall".into(), "\"nftables\"".into());
        }
        _ => notes.push(Note {
            level: Level::Warning,
            at: None,
            key: Some("banaction".into()),
            message: format!(
                "the jails used {}; banjo drives one firewall for all: iptables (set [daemon] firewall = \"nftables\" to change)",
                backends.join(" and ")
            ),
        }),
    }
    if let Some(s) = f.server.get("dbpurgeage") {
        match seconds(&s.value) {
            Ok(Some(n)) if n > 0 => {
                daemon.insert("ban_count_max_age".into(), toml_str(&format_secs(n)));
                notes.push(Note {
                    level: Level::Info,
                    at: Some(s.at()),
                    key: Some("dbpurgeage".into()),
                    message: format!(
                        "dbpurgeage {} -> [daemon] ban_count_max_age: ban counts (bantime increment) are forgotten after as long",
                        s.value
                    ),
                });
            }
            _ => notes.push(Note {
                level: Level::Warning,
                at: Some(s.at()),
                key: Some("dbpurgeage".into()),
                message: format!(
                    "dbpurgeage {:?} is not a duration; banjo keeps its default",
                    s.value
                ),
            }),
        }
    }
    let dbfile = match f.server.get("dbfile").map(|s| s.value.trim()) {
        Some(":memory:") | Some("None") | Some("none") | Some("") => None,
        Some(p) => Some(p.to_owned()),
        None => Some("/var/lib/fail2ban/fail2ban.sqlite3".to_owned()),
    };
    let filters = ctx.filters.into_values().flatten().collect();
    let mut imp = Import {
        source: dir.display().to_string(),
        files_read: f.files.iter().map(|p| p.display().to_string()).collect(),
        jails,
        daemon,
        notes,
        filters,
        dbfile,
        jail_toml: String::new(),
    };
    imp.jail_toml = render(&imp);
    Ok(imp)
}

struct Ctx<'a> {
    f2b: &'a Fail2ban,
    banjo: &'a str,
    /// fail2ban filter name -> imported filter (None: import failed), once each.
    filters: BTreeMap<String, Option<FilterFile>>,
    /// Firewall backends of the enabled jails.
    backends: Vec<&'static str>,
}

/// What the jail's filter became.
struct FilterPlan {
    /// `name[mode=…]` as written in the jail.
    reference: String,
    /// The compiled filter's default journalmatch.
    journalmatch: Option<Vec<String>>,
    /// The built-in of the same name, when the filter is an imported one that shadows it.
    builtin_match: Option<Vec<String>>,
    source: String,
}

impl JailImport {
    fn note(&mut self, level: Level, at: Option<String>, key: &str, message: impl Into<String>) {
        self.notes.push(Note {
            level,
            at,
            key: (!key.is_empty()).then(|| key.to_owned()),
            message: message.into(),
        });
    }

    fn set(&mut self, key: &str, toml_value: String) {
        if self.settings.insert(key.to_owned(), toml_value).is_none() {
            self.order.push(key.to_owned());
        }
    }

    fn not_written(&mut self, why: &str) {
        self.written = false;
        self.note(
            Level::Error,
            Some(self.at.clone()),
            "",
            format!("not imported: {why}"),
        );
    }
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn toml_list(items: &[String]) -> String {
    let v: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", v.join(", "))
}

/// fail2ban's time (`600`, `10m`, `1h 30m`, `-1`) in seconds; Ok(None): negative,
/// i.e. permanent.
pub fn seconds(text: &str) -> Result<Option<i64>, String> {
    let t = text.trim();
    if t.starts_with('-') {
        return Ok(None);
    }
    parse_duration(t).map(|us| Some(us / SEC))
}

/// Seconds as banjo writes durations: the largest unit that divides them.
pub fn format_secs(n: i64) -> String {
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if n >= size && n % size == 0 {
            return format!("{}{unit}", n / size);
        }
    }
    format!("{n}s")
}

/// A jail name banjo accepts: letters, digits, - and _, at most 22.
fn banjo_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.truncate(22);
    if s.is_empty() || !s.as_bytes()[0].is_ascii_alphanumeric() {
        s = format!("j{}", &s[..s.len().min(21)]);
    }
    s
}

/// Stock fail2ban filters open with a comment naming fail2ban; a file without one was
/// written by the user (seed 003's own dovecot.conf), so banjo's built-in of the same
/// name is not what it means.
fn looks_stock(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    text.lines()
        .take(8)
        .any(|l| l.trim_start().starts_with('#') && l.to_ascii_lowercase().contains("fail2ban"))
}

/// A fail2ban mode that is only another mode (`mdre-more = %(mdre-normal)s`).
fn mode_alias(filter_conf: &Path, mode: &str) -> Option<String> {
    let (cfg, _) = super::ini::load(filter_conf).ok()?;
    let v = cfg.get("Definition", &format!("mdre-{mode}"))?;
    let t = v.text();
    let inner = t.trim().strip_prefix("%(mdre-")?.strip_suffix(")s")?;
    (!inner.contains(['%', '(', ')'])).then(|| inner.to_owned())
}

impl Ctx<'_> {
    fn jail(&mut self, j: &Jail) -> JailImport {
        let mut out = JailImport {
            name: j.name.clone(),
            banjo_name: banjo_name(&j.name),
            at: format!("{}:{}", j.file, j.line),
            enabled_in_fail2ban: j.enabled(),
            written: true,
            enabled: j.enabled(),
            filter: None,
            filter_source: None,
            reads: None,
            settings: BTreeMap::new(),
            hooks: Vec::new(),
            notes: Vec::new(),
            order: Vec::new(),
        };
        if let Some(Err(e)) = j.flag("enabled") {
            let at = j.get("enabled").map(|s| s.at());
            out.note(Level::Error, at, "enabled", e);
        }
        if out.banjo_name != j.name {
            out.note(
                Level::Warning,
                Some(out.at.clone()),
                "",
                format!(
                    "{:?} is not a banjo jail name (1-22 letters, digits, - and _): imported as {:?}",
                    j.name, out.banjo_name
                ),
            );
        }
        if !j.enabled() {
            // Disabled jails are not written, except banjo's own default-on jails, which
            // must be switched off to behave as fail2ban did.
            let default_on = ["sshd", "recidive"].contains(&out.banjo_name.as_str());
            out.written = default_on;
            out.enabled = false;
            if default_on {
                out.set("enabled", "false".into());
                out.note(
                    Level::Info,
                    Some(out.at.clone()),
                    "enabled",
                    format!(
                        "disabled in fail2ban; banjo enables {} by default, so it is written enabled = false (delete that line to keep banjo's)",
                        out.banjo_name
                    ),
                );
            }
            return out;
        }
        out.set("enabled", "true".into());
        self.backends_of(j, &mut out);
        let Some(plan) = self.filter(j, &mut out) else {
            out.not_written("no filter banjo can run");
            return out;
        };
        out.set("filter", toml_str(&plan.reference));
        out.filter = Some(plan.reference.clone());
        out.filter_source = Some(plan.source.clone());
        if !self.reads(j, &plan, &mut out) {
            out.not_written("banjo cannot read what this jail reads yet");
            return out;
        }
        self.numbers(j, &mut out);
        self.ignores(j, &mut out);
        self.actions(j, &mut out);
        self.ignored_keys(j, &mut out);
        out
    }

    /// Collect the firewall backend of an enabled jail's banaction (for [daemon]).
    fn backends_of(&mut self, j: &Jail, _out: &mut JailImport) {
        for a in j.text("action").map(split_actions).unwrap_or_default() {
            if let Ok((name, _)) = split_options(&a) {
                if let Kind::Firewall(fw) = action::classify(&name) {
                    self.backends.push(fw.backend);
                    return;
                }
            }
        }
    }

    fn filter(&mut self, j: &Jail, out: &mut JailImport) -> Option<FilterPlan> {
        let setting = j.get("filter");
        let at = setting.map(|s| s.at());
        let text = j.text("filter").unwrap_or(&j.name).to_owned();
        let (name, opts) = match split_options(&text) {
            Ok(x) => x,
            Err(e) => {
                out.note(Level::Error, at, "filter", e);
                return None;
            }
        };
        let filter_d = self.f2b.dir.join("filter.d");
        let conf = filter_d.join(format!("{name}.conf"));
        let local = conf.with_extension("local");
        let mut params: BTreeMap<String, String> = opts.iter().cloned().collect();
        // fail2ban's own default mode needs no parameter.
        let custom = local.is_file() || (conf.is_file() && !looks_stock(&conf));
        if builtin::get(&name).is_some() && !custom {
            if let Some(plan) = self.builtin(&name, &mut params, &conf, at.clone(), out) {
                return Some(plan);
            }
        } else if builtin::get(&name).is_some() {
            let why = if local.is_file() {
                format!("{} overrides it", local.display())
            } else {
                format!("{} is not fail2ban's stock file", conf.display())
            };
            out.note(
                Level::Info,
                at.clone(),
                "filter",
                format!("banjo has a built-in {name}, but {why}: importing the file instead"),
            );
        }
        self.imported(&name, &params, &conf, at, out)
    }

    fn builtin(
        &mut self,
        name: &str,
        params: &mut BTreeMap<String, String>,
        conf: &Path,
        at: Option<String>,
        out: &mut JailImport,
    ) -> Option<FilterPlan> {
        let try_load = |params: &BTreeMap<String, String>| {
            Filter::load(
                &FilterRef {
                    name: name.to_owned(),
                    params: params.clone(),
                },
                &[],
            )
        };
        let mut loaded = try_load(params);
        if loaded.is_err() {
            if let Some(mode) = params.get("mode").cloned() {
                if let Some(alias) = mode_alias(conf, &mode) {
                    params.insert("mode".into(), alias.clone());
                    loaded = try_load(params);
                    if loaded.is_ok() {
                        out.note(
                            Level::Info,
                            at.clone(),
                            "filter",
                            format!("fail2ban's {name} mode {mode} is its mode {alias} (mdre-{mode} = %(mdre-{alias})s)"),
                        );
                    }
                }
            }
        }
        if loaded.is_err() && params.len() > usize::from(params.contains_key("mode")) {
            // Parameters the built-in does not take: keep only the mode.
            let dropped: Vec<String> = params.keys().filter(|k| *k != "mode").cloned().collect();
            params.retain(|k, _| k == "mode");
            loaded = try_load(params);
            if loaded.is_ok() {
                out.note(
                    Level::Warning,
                    at.clone(),
                    "filter",
                    format!(
                        "the built-in {name} has no parameter {}: left out",
                        dropped.join(", ")
                    ),
                );
            }
        }
        match loaded {
            Ok(f) => {
                let reference = if params.is_empty() {
                    name.to_owned()
                } else {
                    let p: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("{name}[{}]", p.join(", "))
                };
                Some(FilterPlan {
                    reference,
                    journalmatch: f.journalmatch.map(|(m, _)| m),
                    builtin_match: None,
                    source: "built-in".into(),
                })
            }
            Err(errs) => {
                let why: Vec<String> = errs.iter().map(|d| d.message.clone()).collect();
                out.note(
                    Level::Warning,
                    at,
                    "filter",
                    format!(
                        "the built-in {name} cannot take {params:?} ({}): importing fail2ban's file instead",
                        why.join("; ")
                    ),
                );
                None
            }
        }
    }

    fn imported(
        &mut self,
        name: &str,
        params: &BTreeMap<String, String>,
        conf: &Path,
        at: Option<String>,
        out: &mut JailImport,
    ) -> Option<FilterPlan> {
        if !conf.is_file() {
            out.note(
                Level::Error,
                at,
                "filter",
                format!(
                    "{} does not exist and banjo has no built-in {name}",
                    conf.display()
                ),
            );
            return None;
        }
        let entry = self.filters.entry(name.to_owned()).or_insert_with(|| {
            let imp = super::filter::import(conf);
            let notes: Vec<Note> = imp
                .diagnostics
                .iter()
                .map(|d| Note {
                    level: if d.is_error() {
                        Level::Error
                    } else {
                        Level::Warning
                    },
                    at: Some(match d.line {
                        Some(l) => format!("{}:{l}", d.file),
                        None => d.file.clone(),
                    }),
                    key: d.key.clone(),
                    message: d.message.clone(),
                })
                .collect();
            // Beside a built-in of the same name, not over it: banjo's own jails that
            // use the built-in (disabled or not) must keep it.
            let file_name = if builtin::get(name).is_some() {
                format!("{name}-fail2ban")
            } else {
                name.to_owned()
            };
            imp.toml.map(|toml| FilterFile {
                name: file_name,
                from: conf.display().to_string(),
                toml,
                notes,
            })
        });
        let Some(ff) = entry.clone() else {
            // Why, from the filter importer (run again: failures are rare and small).
            for d in super::filter::import(conf).diagnostics {
                let at = Some(match d.line {
                    Some(l) => format!("{}:{l}", d.file),
                    None => d.file.clone(),
                });
                let level = if d.is_error() {
                    Level::Error
                } else {
                    Level::Warning
                };
                out.note(level, at, "filter", d.message);
            }
            out.note(
                Level::Error,
                at,
                "filter",
                format!(
                    "{} could not be imported (see banjo import-filter {})",
                    conf.display(),
                    conf.display()
                ),
            );
            return None;
        };
        for n in &ff.notes {
            out.notes.push(n.clone());
        }
        let mut p = params.clone();
        let compiled = match Filter::from_toml(name, &ff.from, &ff.toml, &p) {
            Ok(f) => f,
            Err(_) if p.contains_key("mode") => {
                let mode = p.remove("mode").unwrap_or_default();
                out.note(
                    Level::Warning,
                    at.clone(),
                    "filter",
                    format!("the imported {name} has no mode {mode}: its default is used"),
                );
                Filter::from_toml(name, &ff.from, &ff.toml, &p).ok()?
            }
            Err(_) => return None,
        };
        let reference = if p.is_empty() {
            ff.name.clone()
        } else {
            let items: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{}[{}]", ff.name, items.join(", "))
        };
        let builtin_match = builtin::get(name).and_then(|_| {
            Filter::load(
                &FilterRef {
                    name: name.to_owned(),
                    params: BTreeMap::new(),
                },
                &[],
            )
            .ok()
            .and_then(|f| f.journalmatch.map(|(m, _)| m))
        });
        Some(FilterPlan {
            reference,
            journalmatch: compiled.journalmatch.map(|(m, _)| m),
            builtin_match,
            source: ff.from.clone(),
        })
    }

    /// Decide the journalmatch. false: nothing banjo can read.
    fn reads(&mut self, j: &Jail, plan: &FilterPlan, out: &mut JailImport) -> bool {
        let backend = j
            .text("backend")
            .map(|b| b.split('[').next().unwrap_or(b).trim().to_owned())
            .unwrap_or_else(|| "auto".into());
        let backend_at = j.get("backend").map(|s| s.at());
        let own = |m: &[String]| m.join(" + ");
        // The jail's own journalmatch (fail2ban's syntax is journalctl's, as banjo's).
        if let (Some(m), "systemd") = (j.text("journalmatch"), backend.as_str()) {
            let groups: Vec<String> = m
                .split('\n')
                .flat_map(|l| l.split(" + "))
                .map(|g| g.trim().to_owned())
                .filter(|g| !g.is_empty())
                .collect();
            out.set("journalmatch", toml_list(&groups));
            out.reads = Some(format!(
                "journal: {} (the jail's journalmatch)",
                own(&groups)
            ));
            return true;
        }
        let filter_match = plan.journalmatch.clone();
        if backend == "systemd" {
            if let Some(m) = filter_match {
                out.reads = Some(format!(
                    "journal: {} (backend = systemd; the filter's journalmatch)",
                    own(&m)
                ));
                return true;
            }
            if let Some(m) = plan.builtin_match.clone() {
                out.set("journalmatch", toml_list(&m));
                out.reads = Some(format!(
                    "journal: {} (backend = systemd; banjo's built-in {}'s journalmatch)",
                    own(&m),
                    j.name
                ));
                return true;
            }
            out.note(
                Level::Error,
                backend_at,
                "backend",
                "backend = systemd, but neither the jail nor its filter has a journalmatch: set journalmatch on the jail",
            );
            return false;
        }
        let logpath = j.get("logpath");
        let paths: Vec<String> = j
            .text("logpath")
            .map(|t| t.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let lp_at = logpath.map(|s| s.at());
        if plan.reference.split('[').next() == Some("recidive") {
            out.reads = Some(format!(
                "banjo's own ban entries in the journal (fail2ban read {})",
                paths.join(" ")
            ));
            return true;
        }
        let syslog: Vec<Option<&str>> = paths.iter().map(|p| syslog_match(p)).collect();
        let files: Vec<&String> = paths
            .iter()
            .zip(&syslog)
            .filter(|(_, m)| m.is_none())
            .map(|(p, _)| p)
            .collect();
        if !files.is_empty() {
            // Files journald does not see: banjo follows them itself, as fail2ban did.
            let list: Vec<String> = files.iter().map(|s| s.to_string()).collect();
            out.set("logpath", toml_list(&list));
            let mut reads = format!("files: {}", list.join(" "));
            let fed: Vec<&str> = syslog.iter().flatten().copied().collect();
            if !fed.is_empty() {
                // Some of the paths are journald's too: read those from the journal.
                let m = filter_match
                    .or(plan.builtin_match.clone())
                    .unwrap_or_else(|| facility_groups(&fed));
                out.set("journalmatch", toml_list(&m));
                reads.push_str(&format!(", and journal: {}", own(&m)));
            }
            if let Some(dp) = j.get("datepattern").filter(|s| !s.value.trim().is_empty()) {
                let t = dp.value.trim();
                match crate::journal::datepattern::DatePattern::parse(t) {
                    Ok(_) => out.set("datepattern", toml_str(t)),
                    Err(e) => out.note(
                        Level::Warning,
                        Some(dp.at()),
                        "datepattern",
                        format!("datepattern {t:?}: {e}; banjo finds the date by itself"),
                    ),
                }
            }
            out.reads = Some(reads);
            return true;
        }
        if paths.is_empty() {
            out.note(
                Level::Warning,
                Some(out.at.clone()),
                "logpath",
                "no logpath: banjo reads the filter's journalmatch",
            );
        }
        let via = format!("{} is fed by journald", paths.join(", "));
        if let Some(m) = filter_match {
            out.reads = Some(format!(
                "journal: {} ({via}; the filter's journalmatch)",
                own(&m)
            ));
            return true;
        }
        if let Some(m) = plan.builtin_match.clone() {
            out.set("journalmatch", toml_list(&m));
            out.reads = Some(format!(
                "journal: {} ({via}; banjo's built-in {}'s journalmatch)",
                own(&m),
                j.name
            ));
            return true;
        }
        // No match known: the entries that file holds, from processes running as root
        // (any local user can log with any facility; root's cannot be forged).
        let fed: Vec<&str> = syslog.iter().flatten().copied().collect();
        let groups = facility_groups(&fed);
        out.set("journalmatch", toml_list(&groups));
        out.reads = Some(format!("journal: {} ({via})", own(&groups)));
        out.note(
            Level::Warning,
            lp_at,
            "logpath",
            format!(
                "the filter names no journal match: banjo reads what {} holds from processes running as root ({}); if the service runs as another user, set journalmatch = \"_SYSTEMD_UNIT=….service\"",
                paths.join(", "),
                own(&groups)
            ),
        );
        true
    }

    fn numbers(&mut self, j: &Jail, out: &mut JailImport) {
        if let Some(s) = j.get("maxretry") {
            match s.value.trim().parse::<i64>() {
                Ok(n) => out.set("maxretry", n.to_string()),
                Err(_) => out.note(
                    Level::Error,
                    Some(s.at()),
                    "maxretry",
                    format!("{:?} is not a number", s.value),
                ),
            }
        }
        for key in ["findtime", "bantime"] {
            let Some(s) = j.get(key) else { continue };
            match seconds(&s.value) {
                Ok(Some(n)) if n > 0 => out.set(key, toml_str(&format_secs(n))),
                Ok(None) if key == "bantime" => out.set(key, toml_str("permanent")),
                _ => out.note(
                    Level::Error,
                    Some(s.at()),
                    key,
                    format!("{:?} is not a duration", s.value),
                ),
            }
        }
        let inc = match j.flag("bantime.increment") {
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                out.note(
                    Level::Error,
                    j.get("bantime.increment").map(|s| s.at()),
                    "bantime.increment",
                    e,
                );
                false
            }
            None => false,
        };
        out.set("bantime_increment", inc.to_string());
        if inc {
            // fail2ban's default formula: bantime * 2^(bans before) * factor.
            out.set("bantime_factor", "2.0".into());
            if let Some(s) = j.get("bantime.factor") {
                if s.value.trim().parse::<f64>().ok() != Some(1.0) {
                    out.note(
                        Level::Warning,
                        Some(s.at()),
                        "bantime.factor",
                        format!("fail2ban grew bans as bantime * 2^n * {}; banjo grows them as bantime * 2^n (bantime_factor = 2.0)", s.value.trim()),
                    );
                }
            }
            match j.get("bantime.maxtime") {
                Some(s) => match seconds(&s.value) {
                    Ok(Some(n)) if n > 0 => out.set("bantime_maxtime", toml_str(&format_secs(n))),
                    _ => out.note(
                        Level::Error,
                        Some(s.at()),
                        "bantime.maxtime",
                        format!("{:?} is not a duration", s.value),
                    ),
                },
                None => out.set("bantime_maxtime", toml_str("permanent")),
            }
            for key in [
                "bantime.rndtime",
                "bantime.multipliers",
                "bantime.formula",
                "bantime.overalljails",
            ] {
                if let Some(s) = j.get(key).filter(|s| !s.value.trim().is_empty()) {
                    if key == "bantime.overalljails" && jail::parse_bool(&s.value) == Ok(false) {
                        continue;
                    }
                    out.note(
                        Level::Warning,
                        Some(s.at()),
                        key,
                        format!(
                            "{key} = {} has no banjo equivalent: not carried over",
                            s.value.trim()
                        ),
                    );
                }
            }
        }
    }

    fn ignores(&mut self, j: &Jail, out: &mut JailImport) {
        let mut nets = Vec::new();
        if let Some(s) = j.get("ignoreip") {
            for item in s
                .value
                .split([' ', ',', '\n', '\t'])
                .filter(|i| !i.is_empty())
            {
                match crate::addr::parse_net(item) {
                    Ok(n) => nets.push(n.trunc().to_string()),
                    Err(_) => match item.parse::<ipnet::IpNet>() {
                        Ok(n) => nets.push(n.trunc().to_string()),
                        Err(_) => out.note(
                            Level::Warning,
                            Some(s.at()),
                            "ignoreip",
                            format!("{item:?} is not an address or network (host names and files are not read by banjo): left out"),
                        ),
                    },
                }
            }
        }
        out.set("ignoreip", toml_list(&nets));
        match j.flag("ignoreself") {
            Some(Ok(b)) => out.set("ignoreself", b.to_string()),
            Some(Err(e)) => out.note(
                Level::Error,
                j.get("ignoreself").map(|s| s.at()),
                "ignoreself",
                e,
            ),
            None => out.set("ignoreself", "true".into()),
        }
        if let Some(s) = j
            .get("ignorecommand")
            .filter(|s| !s.value.trim().is_empty())
        {
            out.note(
                Level::Warning,
                Some(s.at()),
                "ignorecommand",
                format!("ignorecommand {} is not run by banjo: addresses it would have spared can be banned", s.value.trim()),
            );
        }
    }

    fn actions(&mut self, j: &Jail, out: &mut JailImport) {
        let setting = j.get("action");
        let at = setting.map(|s| s.at());
        let refs = match j.keys.get("action") {
            Some(Ok(s)) => split_actions(&s.value),
            Some(Err(e)) => {
                out.note(
                    Level::Error,
                    Some(format!("{}:{}", e.file, e.line)),
                    "action",
                    e.message.clone(),
                );
                Vec::new()
            }
            None => Vec::new(),
        };
        let mut firewall_done = false;
        for r in refs {
            let (name, opts) = match split_options(&r) {
                Ok(x) => x,
                Err(e) => {
                    out.note(Level::Error, at.clone(), "action", e);
                    continue;
                }
            };
            let opts: BTreeMap<String, String> = opts.into_iter().collect();
            match action::classify(&name) {
                Kind::Firewall(fw) if !firewall_done => {
                    firewall_done = true;
                    self.firewall(j, &name, &fw, &opts, at.clone(), out);
                }
                Kind::Firewall(_) => out.note(
                    Level::Warning,
                    at.clone(),
                    "action",
                    format!(
                        "a second firewall action {name}: banjo bans once, as the first one said"
                    ),
                ),
                Kind::Mail(m) => {
                    let get = |k: &str, jail_key: &str| {
                        opts.get(k)
                            .cloned()
                            .or_else(|| j.text(jail_key).map(str::to_owned))
                            .unwrap_or_default()
                    };
                    let dest = get("dest", "destemail");
                    let mut sender = get("sender", "sender");
                    if sender.contains("<fq-hostname>") {
                        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                            .map(|h| h.trim().to_owned())
                            .unwrap_or_else(|_| "localhost".into());
                        sender = sender.replace("<fq-hostname>", &host);
                        out.note(
                            Level::Info,
                            at.clone(),
                            "sender",
                            format!("<fq-hostname> in sender written as {host}"),
                        );
                    }
                    let sendername = get("sendername", "sendername");
                    if dest.is_empty() || dest.contains('<') {
                        out.note(
                            Level::Error,
                            at.clone(),
                            "action",
                            format!("{name}: no usable dest (destemail): no mail hook"),
                        );
                        continue;
                    }
                    let argv = action::mail_argv(self.banjo, &m, &dest, &sender, &sendername);
                    out.note(
                        Level::Info,
                        at.clone(),
                        "action",
                        format!(
                            "{name} -> exec hook on ban: mail to {dest} through {}{}{}",
                            m.mta,
                            if m.whois { ", with whois" } else { "" },
                            if m.lines {
                                ", with the matched lines"
                            } else {
                                ""
                            }
                        ),
                    );
                    out.hooks.push(argv);
                }
                Kind::Unmapped => out.note(
                    Level::Error,
                    at.clone(),
                    "action",
                    format!("action {name} has no banjo equivalent: not carried over"),
                ),
            }
        }
        if !firewall_done {
            out.note(
                Level::Warning,
                at.clone(),
                "action",
                "no firewall action: fail2ban did not block this jail's hosts, banjo will (iptables, its defaults)",
            );
            self.firewall(
                j,
                "iptables-multiport",
                &action::Firewall {
                    backend: "iptables",
                    allports: false,
                    via: None,
                },
                &BTreeMap::new(),
                at,
                out,
            );
        }
    }

    fn firewall(
        &mut self,
        j: &Jail,
        name: &str,
        fw: &action::Firewall,
        opts: &BTreeMap<String, String>,
        at: Option<String>,
        out: &mut JailImport,
    ) {
        let defaults = action::defaults(&self.f2b.dir.join("action.d"), name);
        for n in &defaults.notes {
            out.note(Level::Info, None, "blocktype", n.clone());
        }
        for c in &defaults.changed {
            let (at, msg) = match c.split_once(": ") {
                Some((a, m)) => (Some(a.to_owned()), m.to_owned()),
                None => (None, c.clone()),
            };
            out.note(Level::Warning, at, "action", msg);
        }
        if let Some(via) = fw.via {
            out.note(
                Level::Warning,
                at.clone(),
                "action",
                format!(
                    "{name} went through {via}; banjo drives {} itself, next to {via}",
                    fw.backend
                ),
            );
        }
        // Option on the action, else the jail's key, else the action file's [Init].
        let pick = |key: &str| -> Option<(String, Option<String>)> {
            if let Some(v) = opts.get(key).filter(|v| !v.contains("<known/")) {
                // `port="%(port)s"`: the jail's own key is where it was written.
                let own = j.get(key).filter(|s| s.value.trim() == v.trim());
                return Some((v.clone(), own.map(|s| s.at()).or_else(|| at.clone())));
            }
            if let Some(s) = j
                .get(key)
                .filter(|s| !s.value.contains("<known/") && !s.value.trim().is_empty())
            {
                return Some((s.value.trim().to_owned(), Some(s.at())));
            }
            None
        };
        let protocol = pick("protocol")
            .map(|p| p.0.to_ascii_lowercase())
            .unwrap_or_else(|| "tcp".into());
        let (port, proto) = if fw.allports {
            (
                "\"all\"".to_owned(),
                if protocol == "tcp" || protocol == "udp" {
                    protocol.clone()
                } else {
                    "all".into()
                },
            )
        } else {
            let port = pick("port");
            match (port, protocol.as_str()) {
                (_, "all") => ("\"all\"".into(), "all".into()),
                (Some((p, pat)), "tcp" | "udp") => (self.ports(&p, pat, out), protocol.clone()),
                (None, "tcp" | "udp") => ("\"all\"".into(), protocol.clone()),
                (_, other) => {
                    out.note(
                        Level::Warning,
                        at.clone(),
                        "protocol",
                        format!("protocol {other}: banjo bans one protocol or all; this jail now blocks every port and protocol"),
                    );
                    ("\"all\"".into(), "all".into())
                }
            }
        };
        out.set("port", port);
        out.set("protocol", toml_str(&proto));
        let chain = pick("chain")
            .map(|c| c.0)
            .or_else(|| defaults.chain.as_ref().map(|d| d.value.clone()))
            .unwrap_or_else(|| "INPUT".into());
        let chain = match chain.as_str() {
            "f2b-chain" | "INPUT_direct" => "INPUT".to_owned(),
            c => c.to_owned(),
        };
        out.set("chain", toml_str(&chain));
        let (bt, bt_at) = match pick("blocktype") {
            Some((b, a)) => (Some(b), a),
            None => (
                defaults.blocktype.as_ref().map(|d| d.value.clone()),
                defaults.blocktype.as_ref().map(|d| d.at.clone()),
            ),
        };
        let blocktype = match bt.as_deref().map(action::blocktype) {
            Some(Ok(b)) => b,
            Some(Err(t)) => {
                out.note(
                    Level::Warning,
                    bt_at.clone(),
                    "blocktype",
                    format!("blocktype {t:?} is neither a reject nor a drop: banjo rejects"),
                );
                "REJECT"
            }
            None => "REJECT",
        };
        if blocktype == "DROP" {
            out.note(
                Level::Info,
                bt_at,
                "blocktype",
                "blocktype DROP (from fail2ban's action settings)",
            );
        }
        out.set("blocktype", toml_str(blocktype));
    }

    /// fail2ban's port list -> banjo's TOML value.
    fn ports(&self, text: &str, at: Option<String>, out: &mut JailImport) -> String {
        let items: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if items
            .iter()
            .any(|i| matches!(*i, "0:65535" | "1:65535" | "all" | "0-65535" | "1-65535"))
        {
            return "\"all\"".into();
        }
        let mut list = Vec::new();
        for i in items {
            let ok = |s: &str| crate::banrules::parse_port(s).is_ok();
            let known = if ok(i) {
                Some(i.to_owned())
            } else if let Some(p) = services_port(i) {
                out.notes.push(Note {
                    level: Level::Info,
                    at: at.clone(),
                    key: Some("port".into()),
                    message: format!("port {i} is {p} in /etc/services"),
                });
                Some(p.to_string())
            } else {
                match i.split_once([':', '-']) {
                    Some((a, b)) if ok(a) && ok(b) => Some(format!("{a}:{b}")),
                    _ => None,
                }
            };
            match known {
                Some(p) => list.push(p),
                None => out.notes.push(Note {
                    level: Level::Error,
                    at: at.clone(),
                    key: Some("port".into()),
                    message: format!("port {i:?} is not a number or a known service: left out"),
                }),
            }
        }
        if list.is_empty() {
            return "\"all\"".into();
        }
        toml_list(&list)
    }

    /// Keys fail2ban users set that banjo does not read: said once, not silently lost.
    fn ignored_keys(&mut self, j: &Jail, out: &mut JailImport) {
        if let Some(s) = j.get("maxlines") {
            if s.value.trim() != "1" {
                out.note(Level::Warning, Some(s.at()), "maxlines", "maxlines: banjo matches one entry at a time (multi-line filters correlate with id_field)");
            }
        }
        if let Some(s) = j.get("usedns") {
            if s.value.trim() == "yes" {
                out.note(
                    Level::Warning,
                    Some(s.at()),
                    "usedns",
                    "usedns = yes: banjo never bans a host name, only addresses written in the log",
                );
            }
        }
        let files = out.settings.contains_key("logpath");
        for key in ["datepattern", "logencoding", "logtimezone"] {
            if files && key == "datepattern" {
                continue;
            }
            if let Some(s) = j
                .get(key)
                .filter(|s| !s.value.trim().is_empty() && s.value.trim() != "auto")
            {
                out.note(
                    Level::Info,
                    Some(s.at()),
                    key,
                    format!("{key}: the journal stamps each entry itself; not needed"),
                );
            }
        }
    }
}

/// The journal groups that hold what syslog files hold, from processes running as
/// root (any local user can log with any facility; root's entries cannot be forged).
fn facility_groups(fed: &[&str]) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for m in fed {
        let g = if m.starts_with("_TRANSPORT") {
            m.to_string()
        } else {
            format!("{m} _UID=0").trim().to_owned()
        };
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    groups
}

/// A service name's port from /etc/services (tcp).
fn services_port(name: &str) -> Option<u16> {
    let text = std::fs::read_to_string("/etc/services").ok()?;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let (Some(n), Some(pp)) = (words.next(), words.next()) else {
            continue;
        };
        let Some((port, proto)) = pp.split_once('/') else {
            continue;
        };
        if proto != "tcp" {
            continue;
        }
        if n == name || words.any(|a| a == name) {
            return port.parse().ok();
        }
    }
    None
}

/// The jail.d file.
fn render(imp: &Import) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "# Imported from fail2ban ({}) by `banjo import-fail2ban`.\n# Each jail names the fail2ban file it came from; `banjo import-fail2ban --dry-run`\n# prints the report again. Review it, then `banjo check`.\n",
        imp.source
    ));
    if !imp.daemon.is_empty() {
        t.push_str("\n[daemon]\n");
        for (k, v) in &imp.daemon {
            t.push_str(&format!("{k} = {v}\n"));
        }
    }
    for j in imp.jails.iter().filter(|j| j.written) {
        t.push_str(&format!("\n# fail2ban [{}], {}\n", j.name, j.at));
        for n in j.notes.iter().filter(|n| n.level != Level::Info) {
            let msg = n.message.replace('\n', " ");
            t.push_str(&format!(
                "# {}: {msg}\n",
                match n.level {
                    Level::Warning => "warning",
                    _ => "error",
                }
            ));
        }
        t.push_str(&format!("[jail.{}]\n", toml_key(&j.banjo_name)));
        for k in &j.order {
            t.push_str(&format!("{k} = {}\n", j.settings[k]));
        }
        for h in &j.hooks {
            t.push_str(&format!(
                "\n[[jail.{}.action]]\non = \"ban\"\nargv = {}\n",
                toml_key(&j.banjo_name),
                toml_list(h)
            ));
        }
    }
    t
}

fn toml_key(name: &str) -> String {
    if name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        name.to_owned()
    } else {
        toml_str(name)
    }
}

/// Where the import writes, under the banjo config dir.
pub fn jail_file(dir: &Path) -> PathBuf {
    dir.join("jail.d").join("fail2ban.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn durations_and_names() {
        assert_eq!(seconds("10m"), Ok(Some(600)));
        assert_eq!(seconds("-1"), Ok(None));
        assert_eq!(format_secs(604_800), "1w");
        assert_eq!(format_secs(3600), "1h");
        assert_eq!(format_secs(90), "90s");
        assert_eq!(banjo_name("SSH"), "SSH");
        assert_eq!(banjo_name("a.b"), "a-b");
        assert_eq!(
            banjo_name("a-very-long-jail-name-indeed"),
            "a-very-long-jail-name-"
        );
        assert_eq!(
            syslog_match("/var/log/auth.log"),
            Some("SYSLOG_FACILITY=4 SYSLOG_FACILITY=10")
        );
        assert_eq!(syslog_match("/var/log/apache2/error.log"), None);
    }

    #[test]
    fn a_small_config_maps_key_by_key() {
        let d = tempfile::tempdir().unwrap();
        let d = d.path();
        write(
            d,
            "jail.local",
            "[DEFAULT]\nbantime = 3600\nfindtime = 300\nmaxretry = 3\nignoreip = 127.0.0.1/8 10.0.0.0/8\nbackend = systemd\nbanaction = iptables-multiport\nport = 0:65535\nprotocol = tcp\nchain = <known/chain>\ndestemail = admin@example.com\nsender = f2b@example.com\nmta = sendmail\naction_ = %(banaction)s[port=\"%(port)s\", protocol=\"%(protocol)s\", chain=\"%(chain)s\"]\naction_mw = %(action_)s\n            %(mta)s-whois[sender=\"%(sender)s\", dest=\"%(destemail)s\"]\naction = %(action_mw)s\n            cloudflare\n[sshd]\nenabled = true\nport = ssh,2222\n[postfix]\nenabled = true\nfilter = postfix[mode=older]\nport = smtp,465,submission,imap2,imap3\n",
        );
        write(d, "filter.d/postfix.conf", "# Fail2Ban filter for postfix\n[Definition]\nmdre-normal = x\nmdre-older = %(mdre-normal)s\nfailregex = <mdre-<mode>>\n");
        write(
            d,
            "action.d/iptables-multiport.conf",
            "[Init]\nchain = INPUT\nblocktype = REJECT --reject-with icmp-port-unreachable\n",
        );
        write(
            d,
            "action.d/iptables-common.local",
            "[Init]\nblocktype = DROP\n",
        );
        let imp = import(d, "/usr/bin/banjo").unwrap();
        let sshd = imp.jails.iter().find(|j| j.name == "sshd").unwrap();
        assert!(sshd.written && sshd.enabled, "{:?}", sshd.notes);
        assert_eq!(sshd.settings["maxretry"], "3");
        assert_eq!(sshd.settings["bantime"], "\"1h\"");
        assert_eq!(sshd.settings["findtime"], "\"5m\"");
        assert_eq!(sshd.settings["port"], "[\"ssh\", \"2222\"]");
        assert_eq!(sshd.settings["blocktype"], "\"DROP\"");
        assert_eq!(sshd.settings["chain"], "\"INPUT\"");
        assert_eq!(
            sshd.settings["ignoreip"],
            "[\"127.0.0.0/8\", \"10.0.0.0/8\"]"
        );
        assert_eq!(sshd.settings["bantime_increment"], "false");
        assert_eq!(sshd.hooks.len(), 1);
        assert!(sshd.hooks[0].contains(&"admin@example.com".to_string()));
        assert!(sshd.hooks[0].contains(&"--whois".to_string()));
        let cf = sshd
            .notes
            .iter()
            .find(|n| n.message.contains("cloudflare"))
            .unwrap();
        assert_eq!(cf.level, Level::Error);
        assert!(
            cf.at.as_deref().unwrap().ends_with("jail.local:17"),
            "{:?}",
            cf.at
        );
        let postfix = imp.jails.iter().find(|j| j.name == "postfix").unwrap();
        assert_eq!(
            postfix.filter.as_deref(),
            Some("postfix[mode=normal]"),
            "{:?}",
            postfix.notes
        );
        assert!(
            postfix.settings["port"].contains("\"143\""),
            "{}",
            postfix.settings["port"]
        );
        let imap3 = postfix
            .notes
            .iter()
            .find(|n| n.message.contains("imap3"))
            .unwrap();
        assert_eq!(imap3.level, Level::Error);
        // The whole file loads in banjo.
        let cfg = crate::config::load_files(
            Path::new("/nonexistent"),
            vec![
                crate::config::SourceFile {
                    name: crate::config::BUILTIN_NAME.into(),
                    text: crate::config::BUILTIN.into(),
                },
                crate::config::SourceFile {
                    name: "fail2ban.toml".into(),
                    text: imp.jail_toml.clone(),
                },
            ],
            Vec::new(),
        );
        let errs: Vec<String> = cfg
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.to_string())
            .collect();
        assert!(errs.is_empty(), "{errs:?}\n{}", imp.jail_toml);
        let j = cfg.jails.iter().find(|j| j.name == "sshd").unwrap();
        assert_eq!(j.blocktype, crate::banrules::BlockType::Drop);
        assert_eq!(j.actions.len(), 1);
    }
}
