//! Filter health: jails that have gone blind. Log formats drift under an upgrade
//! (OpenSSH 9.8 moved its logging to `sshd-session` and fail2ban's sshd jail stopped
//! banning without a word, fail2ban#3812), and a jail can watch a unit that is not
//! there (Debian 12 has no auth.log, #3292). Three problems, looked for every
//! quarter of `health_silence` from the counters the jails keep anyway:
//!
//! - `silent`: the jail matched before, and has taken entries since, but matched none
//!   for `health_silence`: its filter no longer fits what the service writes;
//! - `no_entries`: since start, `health_silence` ago, no entry reached the jail
//!   although its service runs (a process with its `_COMM` or `_EXE`, or its unit's
//!   cgroup has processes): the service logs elsewhere, or under another name;
//! - `unit_missing`: every group of its journalmatch names a `_SYSTEMD_UNIT` and none
//!   of those units exists on this host: it can never see an entry.
//!
//! Each change is one journal entry (MESSAGE_ID [`MSGID_JAIL_HEALTH`], BANJO_HEALTH),
//! a flag in `banjo status` and `banjo_jail_health`. Must not decide anything.
//! Jails that read banjo's own entries (recidive: `host_field`) are not watched: no
//! ban anywhere means no entry, which is health, not blindness.

use super::Daemon;
use crate::events::MSGID_JAIL_HEALTH;
use crate::route::MatchRules;
use crate::timefmt::{format_duration, Micros};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// Where systemd looks for units (and what it generates or makes transient).
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/run/systemd/transient",
    "/run/systemd/generator",
    "/run/systemd/generator.early",
    "/run/systemd/generator.late",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];

/// What is wrong with a jail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    Silent { entries: u64, silence: Micros },
    NoEntries { silence: Micros, running: String },
    UnitMissing { units: Vec<String> },
}

impl Problem {
    /// The `problem` label and BANJO_HEALTH.
    pub(crate) fn key(&self) -> &'static str {
        match self {
            Problem::Silent { .. } => "silent",
            Problem::NoEntries { .. } => "no_entries",
            Problem::UnitMissing { .. } => "unit_missing",
        }
    }

    pub(crate) const KEYS: [&'static str; 3] = ["silent", "no_entries", "unit_missing"];

    /// For the journal and `banjo status`.
    pub(crate) fn describe(&self, jail: &str) -> String {
        match self {
            Problem::Silent { entries, silence } => format!(
                "took {entries} entries in over {} without matching one, although it matched before: \
                 the service's log format may have changed (banjo test-filter {jail} --journal shows what it reads)",
                format_duration(*silence)
            ),
            Problem::NoEntries { silence, running } => format!(
                "no entry reached it in the {} since banjo started, although {running} runs: \
                 the service may log elsewhere (a file) or under another name than its journalmatch says",
                format_duration(*silence)
            ),
            Problem::UnitMissing { units } => format!(
                "its journalmatch names only units that do not exist here ({}): it can never see an entry; \
                 check the unit's name (systemctl list-unit-files)",
                units.join(", ")
            ),
        }
    }
}

/// What health knows of one jail between two looks.
struct Watched {
    created: Instant,
    matched_seen: u64,
    /// When `matched` last grew, and `entries` then.
    last_match: Option<(Instant, u64)>,
    problem: Option<Problem>,
}

/// Every jail's health, by jail name (reloads renumber jails).
#[derive(Default)]
pub(crate) struct HealthWatch {
    jails: BTreeMap<String, Watched>,
    next: Option<Instant>,
}

impl HealthWatch {
    /// The jail's current problem.
    pub(crate) fn problem(&self, jail: &str) -> Option<&Problem> {
        self.jails.get(jail).and_then(|w| w.problem.as_ref())
    }
}

/// What one look needs of a jail.
struct Seen<'a> {
    name: &'a str,
    entries: u64,
    matched: u64,
    silence: Micros,
    journalmatch: &'a MatchRules,
}

impl Daemon {
    /// Look at every jail's health when it is time to.
    pub(crate) fn tend_health(&mut self) {
        let now = Instant::now();
        let every = self.health_every();
        let Some(every) = every else {
            return;
        };
        match self.health.next {
            Some(t) if t > now => return,
            // First call: look at units at once, at counters a period later.
            _ => self.health.next = Some(now + every),
        }
        let seen: Vec<Seen> = self
            .pipeline
            .jails
            .iter()
            .filter(|j| j.config.filter.host_field.is_none())
            .filter_map(|j| {
                let silence = j
                    .config
                    .health_silence
                    .unwrap_or(self.cfg.daemon.health_silence)?;
                Some(Seen {
                    name: &j.config.name,
                    entries: j.stats.entries,
                    matched: j.stats.matched,
                    silence,
                    journalmatch: &j.config.journalmatch,
                })
            })
            .collect();
        let mut procs: Option<Processes> = None;
        let mut changes = Vec::new();
        let mut keep = BTreeSet::new();
        for s in &seen {
            keep.insert(s.name.to_owned());
            let w = self
                .health
                .jails
                .entry(s.name.to_owned())
                .or_insert(Watched {
                    created: now,
                    matched_seen: 0,
                    last_match: None,
                    problem: None,
                });
            if s.matched > w.matched_seen {
                w.matched_seen = s.matched;
                w.last_match = Some((now, s.entries));
            }
            let silence = Duration::from_micros(s.silence as u64);
            let problem = if let Some(units) = missing_units(s.journalmatch) {
                Some(Problem::UnitMissing { units })
            } else if s.entries == 0 && now.duration_since(w.created) >= silence {
                let p = procs.get_or_insert_with(Processes::scan);
                running(s.journalmatch, p).map(|running| Problem::NoEntries {
                    silence: s.silence,
                    running,
                })
            } else {
                match w.last_match {
                    Some((t, at)) if now.duration_since(t) >= silence && s.entries > at => {
                        Some(Problem::Silent {
                            entries: s.entries - at,
                            silence: s.silence,
                        })
                    }
                    _ => None,
                }
            };
            // Said when it begins or changes kind, and when it ends; not every look.
            let same = match (&w.problem, &problem) {
                (Some(a), Some(b)) => a.key() == b.key(),
                (None, None) => true,
                _ => false,
            };
            if !same {
                changes.push((s.name.to_owned(), problem.clone()));
            }
            w.problem = problem;
        }
        self.health.jails.retain(|name, _| keep.contains(name));
        self.metrics.health_changes += changes.len() as u64;
        for (jail, p) in changes {
            match p {
                Some(p) => tracing::warn!(
                    message_id = MSGID_JAIL_HEALTH,
                    banjo_jail = jail.as_str(),
                    banjo_health = p.key(),
                    "[{jail}] filter health: {}",
                    p.describe(&jail)
                ),
                None => tracing::info!(
                    message_id = MSGID_JAIL_HEALTH,
                    banjo_jail = jail.as_str(),
                    banjo_health = "ok",
                    "[{jail}] filter health: matching again"
                ),
            }
        }
    }

    /// How often to look: a quarter of the shortest silence, 250 ms to 1 h; None
    /// when no jail is watched.
    fn health_every(&self) -> Option<Duration> {
        let shortest = self
            .pipeline
            .jails
            .iter()
            .filter(|j| j.config.filter.host_field.is_none())
            .filter_map(|j| {
                j.config
                    .health_silence
                    .unwrap_or(self.cfg.daemon.health_silence)
            })
            .min()?;
        Some(
            Duration::from_micros(shortest as u64 / 4)
                .clamp(Duration::from_millis(250), Duration::from_secs(3600)),
        )
    }

    /// When the loop must wake for the next look.
    pub(crate) fn health_timeout(&self) -> Option<Duration> {
        self.health
            .next
            .map(|t| t.saturating_duration_since(Instant::now()))
    }
}

/// The units a journalmatch depends on, if every group names one and none exists.
fn missing_units(m: &MatchRules) -> Option<Vec<String>> {
    let mut units = Vec::new();
    for g in &m.groups {
        let vals = g.terms.get("_SYSTEMD_UNIT")?;
        units.extend(vals.iter().map(|v| String::from_utf8_lossy(v).into_owned()));
    }
    if units.is_empty() || units.iter().any(|u| unit_exists(u)) {
        return None;
    }
    units.sort();
    units.dedup();
    Some(units)
}

/// A unit file (or its template, for `name@instance.service`) in systemd's search
/// path, or a running unit's cgroup.
fn unit_exists(unit: &str) -> bool {
    let template = unit.split_once('@').and_then(|(base, rest)| {
        let (_, suffix) = rest.rsplit_once('.')?;
        Some(format!("{base}@.{suffix}"))
    });
    let names = std::iter::once(unit.to_owned()).chain(template);
    let mut found = false;
    for n in names {
        found |= UNIT_DIRS.iter().any(|d| Path::new(d).join(&n).exists());
    }
    found || cgroup_procs(unit).is_some()
}

/// The processes in a unit's cgroup (cgroup v2, system.slice), if it has any.
fn cgroup_procs(unit: &str) -> Option<usize> {
    let mut dirs = vec![format!("/sys/fs/cgroup/system.slice/{unit}")];
    if let Some((base, _)) = unit.split_once('@') {
        dirs.push(format!(
            "/sys/fs/cgroup/system.slice/system-{base}.slice/{unit}"
        ));
    }
    dirs.iter().find_map(|d| {
        let text = std::fs::read_to_string(Path::new(d).join("cgroup.procs")).ok()?;
        let n = text.lines().count();
        (n > 0).then_some(n)
    })
}

/// What runs on this host, as journald would name it: `_COMM`s and `_EXE`s.
struct Processes {
    comms: BTreeSet<Vec<u8>>,
    exes: BTreeSet<Vec<u8>>,
}

impl Processes {
    fn scan() -> Processes {
        use std::os::unix::ffi::OsStrExt;
        let mut p = Processes {
            comms: BTreeSet::new(),
            exes: BTreeSet::new(),
        };
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return p;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            if !name.as_bytes().iter().all(u8::is_ascii_digit) {
                continue;
            }
            let dir = e.path();
            if let Ok(c) = std::fs::read(dir.join("comm")) {
                p.comms.insert(c.strip_suffix(b"\n").unwrap_or(&c).to_vec());
            }
            if let Ok(x) = std::fs::read_link(dir.join("exe")) {
                p.exes.insert(x.as_os_str().as_bytes().to_vec());
            }
        }
        p
    }
}

/// What of a journalmatch's services runs ("sshd", "myapp.service"), if any: a group
/// whose every `_COMM`/`_EXE`/`_SYSTEMD_UNIT` term has a running match. Groups that
/// name none of these say nothing about a service.
fn running(m: &MatchRules, p: &Processes) -> Option<String> {
    for g in &m.groups {
        let mut said = None;
        let mut all = true;
        let mut any_term = false;
        for (field, vals) in &g.terms {
            let hit = match field.as_str() {
                "_COMM" => vals.iter().find(|v| p.comms.contains(*v)),
                "_EXE" => vals.iter().find(|v| p.exes.contains(*v)),
                "_SYSTEMD_UNIT" => vals
                    .iter()
                    .find(|v| cgroup_procs(&String::from_utf8_lossy(v)).is_some()),
                _ => continue,
            };
            any_term = true;
            match hit {
                Some(v) => said = said.or_else(|| Some(String::from_utf8_lossy(v).into_owned())),
                None => all = false,
            }
        }
        if any_term && all {
            return said;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(s: &str) -> MatchRules {
        MatchRules::parse(&[s]).unwrap()
    }

    #[test]
    fn units_are_missing_only_when_every_group_needs_one_that_is_not_there() {
        let none = "banjo-health-test-nonexistent";
        assert_eq!(
            missing_units(&rules(&format!("_SYSTEMD_UNIT={none}.service"))),
            Some(vec![format!("{none}.service")])
        );
        // A group without a unit can see entries whatever is installed.
        assert_eq!(
            missing_units(&rules(&format!("_SYSTEMD_UNIT={none}.service + _COMM=x"))),
            None
        );
        assert_eq!(missing_units(&rules("_UID=0 _COMM=sshd")), None);
    }

    #[test]
    fn a_running_process_is_found_by_comm_and_exe() {
        let p = Processes::scan();
        let me = std::fs::read_link("/proc/self/exe").unwrap();
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        let comm = comm.trim_end();
        assert_eq!(
            running(&rules(&format!("_COMM={comm}")), &p).as_deref(),
            Some(comm)
        );
        assert!(running(&rules(&format!("_EXE={}", me.display())), &p).is_some());
        // Every service term of a group must run; other fields are no service.
        assert!(running(&rules(&format!("_COMM={comm} _EXE=/nonexistent")), &p).is_none());
        assert!(running(&rules("SYSLOG_IDENTIFIER=x"), &p).is_none());
    }
}
