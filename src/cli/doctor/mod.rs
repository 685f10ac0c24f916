//! `banjo doctor`: look at the host's journal over the last days and tell what is
//! unprotected — enabled jails that read nothing, services a built-in jail knows that
//! run with that jail off, and entries that look like authentication failures from an
//! address that no jail took. The question fail2ban leaves to the attacker.
//!
//! Every jail (enabled or not) runs over every entry, exactly as the daemon would
//! route and filter it; nothing is decided and nothing is written.

mod suspect;

use super::source::JournalArgs;
use super::{ConfigArgs, Exit};
use crate::jail::Jail;
use crate::journal::sdjournal::{JournalSource, Location};
use crate::journal::Entry;
use crate::timefmt::{format_duration, format_time, Micros, SEC};
use anyhow::Context;
use clap::Args;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;

/// Distinct addresses counted per jail or group; more are counted as entries only.
const MAX_ADDRS: usize = 1 << 20;
/// Groups of unfiltered failures shown (all are in --json).
const SHOWN_GROUPS: usize = 15;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// How far back to look: a duration ("7d", "12h") or a time ("2026-12-01").
    #[arg(long, default_value = "7d", value_name = "WHEN")]
    pub since: String,
    #[command(flatten)]
    pub journal: JournalArgs,
    /// Machine-readable report.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Default, Serialize)]
struct JailSeen {
    jail: String,
    enabled: bool,
    /// Reads banjo's own ban entries (recidive): nothing to read before a ban.
    #[serde(skip)]
    reads_bans: bool,
    journalmatch: String,
    entries: u64,
    failures: u64,
    addresses: usize,
    #[serde(skip)]
    addrs: HashSet<IpAddr>,
}

#[derive(Debug, Serialize)]
struct Group {
    program: String,
    shape: String,
    entries: u64,
    addresses: usize,
    example: String,
    first_us: Micros,
    last_us: Micros,
    #[serde(skip)]
    addrs: HashSet<IpAddr>,
}

/// What needs the admin's attention.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Finding {
    /// An enabled jail whose journalmatch matched no entry.
    ReadsNothing { jail: String, journalmatch: String },
    /// A built-in jail that is off, for a service that logged in the period.
    Unprotected {
        jail: String,
        entries: u64,
        failures: u64,
        addresses: usize,
    },
    /// Entries that look like failures from an address, taken by no jail.
    Unfiltered {
        program: String,
        shape: String,
        entries: u64,
        addresses: usize,
    },
}

#[derive(Debug, Serialize)]
struct Report {
    since_us: Micros,
    entries: u64,
    jails: Vec<JailSeen>,
    unfiltered: Vec<Group>,
    findings: Vec<Finding>,
}

pub fn run(a: DoctorArgs) -> anyhow::Result<Exit> {
    let now = crate::daemon::now_us();
    let since = match crate::timefmt::parse_duration(&a.since) {
        Ok(d) => now - d,
        Err(_) => match crate::timefmt::parse_timestamp(&a.since) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("banjo doctor: --since {:?}: {e}", a.since);
                return Ok(Exit::Usage);
            }
        },
    };
    let cfg = a.config.load();
    for d in cfg.diagnostics.iter().filter(|d| d.is_error()) {
        eprintln!("{d}");
    }
    let configs: Vec<Arc<crate::config::JailConfig>> =
        cfg.jails.iter().map(|j| Arc::new(j.clone())).collect();
    let mut jails: Vec<Jail> = configs.iter().map(|c| Jail::new(c.clone(), &[])).collect();
    let mut seen: Vec<JailSeen> = configs
        .iter()
        .map(|c| JailSeen {
            jail: c.name.clone(),
            enabled: c.enabled,
            journalmatch: c.journalmatch.to_string(),
            reads_bans: c.filter.host_field.is_some(),
            ..Default::default()
        })
        .collect();

    let mut fields: Vec<String> = ["_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "_COMM", "MESSAGE_ID"]
        .map(String::from)
        .to_vec();
    for j in &jails {
        fields.extend(j.config.journalmatch.fields().map(str::to_owned));
        fields.extend(j.config.filter.wanted_fields());
        if j.config.filter.host_field.is_some() {
            fields.push("BANJO_JAIL".into());
        }
    }
    fields.sort();
    fields.dedup();
    let loc = a.journal.location().unwrap_or(Location::System);
    let mut src = JournalSource::open(&loc, &[], &fields)
        .with_context(|| format!("opening the journal ({loc})"))?;
    src.precise_time = true;
    src.seek_realtime(since)?;

    let mut groups: HashMap<(String, String), Group> = HashMap::new();
    let mut entry = Entry::default();
    let mut total = 0u64;
    let mut ban_entries = 0u64;
    let mut progress = crate::cli::progress::Progress::new("entries", None, a.json, false);
    while src.next(&mut entry)? {
        progress.tick(|| crate::timefmt::format_time(entry.time_us));
        total += 1;
        if entry.fields.get("MESSAGE_ID") == Some(crate::events::MSGID_BAN.as_bytes()) {
            ban_entries += 1;
        }
        let mut taken = false;
        for (j, st) in jails.iter_mut().zip(seen.iter_mut()) {
            if !j.config.journalmatch.accepts(&entry) {
                continue;
            }
            if entry
                .fields
                .get("BANJO_JAIL")
                .is_some_and(|b| b == j.config.name.as_bytes())
            {
                continue;
            }
            st.entries += 1;
            let (outcome, failure) = j.session.process(&entry);
            if matches!(outcome, crate::filter::Outcome::Matched(_)) {
                taken = true;
            }
            if let Some(f) = failure {
                st.failures += 1;
                if st.addrs.len() < MAX_ADDRS {
                    st.addrs.insert(f.ip);
                }
            }
        }
        if taken || entry.fields.get("SYSLOG_IDENTIFIER") == Some(b"banjo") {
            continue;
        }
        let Some(ip) = suspect::suspect(&entry.message) else {
            continue;
        };
        let program = ["_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "_COMM"]
            .iter()
            .find_map(|f| entry.fields.get(f))
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_else(|| "?".into());
        let shape = suspect::shape(&entry.message);
        let g = groups
            .entry((program.clone(), shape.clone()))
            .or_insert_with(|| Group {
                program,
                shape,
                entries: 0,
                addresses: 0,
                example: entry.message_lossy().chars().take(300).collect(),
                first_us: entry.time_us,
                last_us: entry.time_us,
                addrs: HashSet::new(),
            });
        g.entries += 1;
        g.last_us = entry.time_us;
        if g.addrs.len() < MAX_ADDRS {
            g.addrs.insert(ip);
        }
    }

    for st in &mut seen {
        st.addresses = st.addrs.len();
    }
    let mut unfiltered: Vec<Group> = groups.into_values().collect();
    for g in &mut unfiltered {
        g.addresses = g.addrs.len();
    }
    unfiltered.sort_by(|a, b| b.entries.cmp(&a.entries).then(a.shape.cmp(&b.shape)));
    let findings = findings(&seen, &unfiltered, ban_entries);
    let report = Report {
        since_us: since,
        entries: total,
        jails: seen,
        unfiltered,
        findings,
    };
    progress.finish();
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_human(&mut out, &report, now, &a.config.dir())?;
    }
    Ok(if report.findings.is_empty() {
        Exit::Done
    } else {
        Exit::Failed
    })
}

fn findings(seen: &[JailSeen], unfiltered: &[Group], ban_entries: u64) -> Vec<Finding> {
    let mut v = Vec::new();
    for s in seen {
        // recidive has nothing to read until some jail bans.
        if s.enabled && s.entries == 0 && (!s.reads_bans || ban_entries > 0) {
            v.push(Finding::ReadsNothing {
                jail: s.jail.clone(),
                journalmatch: s.journalmatch.clone(),
            });
        }
        if !s.enabled && s.entries > 0 && crate::filter::builtin::get(&s.jail).is_some() {
            v.push(Finding::Unprotected {
                jail: s.jail.clone(),
                entries: s.entries,
                failures: s.failures,
                addresses: s.addresses,
            });
        }
    }
    for g in unfiltered {
        v.push(Finding::Unfiltered {
            program: g.program.clone(),
            shape: g.shape.clone(),
            entries: g.entries,
            addresses: g.addresses,
        });
    }
    v
}

fn print_human(
    out: &mut impl Write,
    r: &Report,
    now: Micros,
    config_dir: &std::path::Path,
) -> std::io::Result<()> {
    writeln!(
        out,
        "banjo doctor: {} journal entries since {} ({})",
        r.entries,
        format_time(r.since_us),
        format_duration(((now - r.since_us) / SEC).max(0) * SEC)
    )?;
    writeln!(out, "\nEnabled jails")?;
    for s in r.jails.iter().filter(|s| s.enabled) {
        let dead = r
            .findings
            .iter()
            .any(|f| matches!(f, Finding::ReadsNothing { jail, .. } if *jail == s.jail));
        if dead {
            writeln!(
                out,
                "  {:<16} READS NOTHING: no entry matched {}",
                s.jail, s.journalmatch
            )?;
            writeln!(
                out,
                "  {:<16} check the service's fields: journalctl -o verbose -n 1 -u UNIT",
                ""
            )?;
        } else {
            writeln!(
                out,
                "  {:<16} {} entries, {} failures from {} addresses",
                s.jail, s.entries, s.failures, s.addresses
            )?;
        }
    }
    let off: Vec<&JailSeen> = r
        .jails
        .iter()
        .filter(|s| !s.enabled && s.entries > 0 && crate::filter::builtin::get(&s.jail).is_some())
        .collect();
    if !off.is_empty() {
        writeln!(out, "\nServices that log here with their built-in jail off")?;
        for s in off {
            writeln!(
                out,
                "  {:<16} {} entries; it would have counted {} failures from {} addresses",
                s.jail, s.entries, s.failures, s.addresses
            )?;
        }
        writeln!(
            out,
            "  enable one with `[jail.NAME]` `enabled = true` in {}/jail.d/NAME.toml, then banjo reload",
            config_dir.display()
        )?;
    }
    if !r.unfiltered.is_empty() {
        writeln!(
            out,
            "\nEntries that look like failures from an address, taken by no jail (a filter for them would catch more)"
        )?;
        for g in r.unfiltered.iter().take(SHOWN_GROUPS) {
            writeln!(
                out,
                "  {:>8} entries from {:>6} addresses  {}: {}",
                g.entries, g.addresses, g.program, g.shape
            )?;
            writeln!(out, "  {:>8} e.g. {}", "", g.example)?;
        }
        if r.unfiltered.len() > SHOWN_GROUPS {
            writeln!(
                out,
                "  … and {} more kinds (--json lists all)",
                r.unfiltered.len() - SHOWN_GROUPS
            )?;
        }
    }
    let dead = r
        .findings
        .iter()
        .filter(|f| matches!(f, Finding::ReadsNothing { .. }))
        .count();
    let unprot = r
        .findings
        .iter()
        .filter(|f| matches!(f, Finding::Unprotected { .. }))
        .count();
    writeln!(
        out,
        "\n{dead} enabled jails read nothing, {unprot} services without their jail, {} kinds of unfiltered failures",
        r.unfiltered.len()
    )?;
    Ok(())
}
