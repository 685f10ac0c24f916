//! `banjo replay`: the whole decision pipeline over recorded journal history, on the
//! entries' own clock, with no firewall. Bans are fed back as synthetic ban entries so
//! recidive works as it would live; ban entries already in the journal (from a real
//! banjo) are skipped so nothing is counted twice.

use super::source::{EntrySource, JournalArgs};
use super::{ConfigArgs, Exit};
use crate::events::{Event, MSGID_BAN};
use crate::jail::JailStats;
use crate::journal::filesource::{LogFileSource, LogPath};
use crate::journal::logfile::{Positions, Start};
use crate::journal::source::EntrySource as _;
use crate::journal::Entry;
use crate::pipeline::Pipeline;
use crate::route::MatchRules;
use crate::timefmt::{format_time, parse_timestamp, Micros};
use anyhow::Context;
use clap::Args;
use serde::Serialize;
use std::io::Write;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub journal: JournalArgs,
    /// Replay this log file instead of a journal (repeatable), through the jails whose
    /// logpath names it (or, if none does, every jail with a logpath).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["journal_dir", "journal_file", "journal"])]
    pub logpath: Vec<std::path::PathBuf>,
    /// Start at this time (UTC: "2026-11-16", "2026-11-16 08:00", or @EPOCH).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Stop at this time (same formats as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Do not exclude this host's own addresses (ignoreself): the history may come
    /// from another machine.
    #[arg(long)]
    pub no_ignoreself: bool,
    /// Machine-readable timeline and summary.
    #[arg(long)]
    pub json: bool,
    /// How journal entries reach the jails: `libsystemd` hands every jail's
    /// journalmatch to libsystemd, which skips the entries no jail names; `in-process`
    /// reads every entry and routes it here, as the daemon does; `auto` is
    /// `libsystemd` up to 16 match terms (all jails' together), else `in-process`.
    /// The events and counts are the same either way, only the speed differs.
    #[arg(long, value_enum, value_name = "HOW", default_value_t = Route::Auto)]
    pub route: Route,
}

/// `--route`: who applies the jails' journalmatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Route {
    Auto,
    Libsystemd,
    InProcess,
}

#[derive(Serialize)]
struct JailSummary {
    jail: String,
    #[serde(flatten)]
    stats: JailStats,
    still_banned: usize,
    /// Failure windows forgotten to stay within `[daemon] tracker_memory`.
    windows_forgotten: u64,
}

#[derive(Serialize)]
struct Report {
    entries: u64,
    first_time: Option<String>,
    last_time: Option<String>,
    events: Vec<Event>,
    jails: Vec<JailSummary>,
    /// Networks that reached escalate_after but were not banned, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    escalation_refused: Vec<Refused>,
}

#[derive(Serialize)]
struct Refused {
    jail: String,
    network: String,
    reason: String,
}

/// With `--route auto`, up to this many journalmatch terms (all jails' together) go to
/// libsystemd; more are routed in-process: libsystemd's matching costs per term and
/// entry (bench/RESULTS.md, "every built-in jail").
const MAX_SD_MATCH_TERMS: usize = 16;

pub fn run(a: ReplayArgs) -> anyhow::Result<Exit> {
    // As the daemon loads it: disabled jails' filters are not compiled.
    let cfg = a.config.load_enabled();
    for d in &cfg.diagnostics {
        eprintln!("{d}");
    }
    let loc = a.journal.location();
    if loc.is_none() && a.logpath.is_empty() {
        eprintln!(
            "banjo replay: give --journal-dir DIR, --journal-file F, --journal or --logpath FILE"
        );
        return Ok(Exit::Usage);
    }
    let since = match a.since.as_deref().map(parse_timestamp).transpose() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("banjo replay: --since: {e}");
            return Ok(Exit::Usage);
        }
    };
    let until = match a.until.as_deref().map(parse_timestamp).transpose() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("banjo replay: --until: {e}");
            return Ok(Exit::Usage);
        }
    };
    let configs: Vec<Arc<crate::config::JailConfig>> = cfg
        .jails
        .into_iter()
        .filter(|j| j.enabled)
        .map(Arc::new)
        .collect();
    if configs.is_empty() {
        eprintln!("banjo replay: no enabled jail without errors; see banjo check");
        return Ok(Exit::Usage);
    }
    let self_addrs = if a.no_ignoreself {
        Vec::new()
    } else {
        crate::addr::local_addresses()
    };
    let mut p = Pipeline::new(configs, &self_addrs);
    p.set_tracker_memory(cfg.daemon.tracker_memory);
    p.feed_back_bans = true;
    let mut fields = p.wanted_fields();
    fields.push("MESSAGE_ID".into());
    fields.sort();
    fields.dedup();
    let rules: Vec<MatchRules> = p
        .jails
        .iter()
        .map(|j| j.config.journalmatch.clone())
        .collect();
    let terms: usize = rules
        .iter()
        .flat_map(|r| &r.groups)
        .flat_map(|g| g.terms.values())
        .map(Vec::len)
        .sum();
    let sd_matches = match a.route {
        Route::Auto => terms <= MAX_SD_MATCH_TERMS,
        Route::Libsystemd => true,
        Route::InProcess => false,
    };
    // Every entry the source yields counts, unless the journal is read whole.
    let count_all = sd_matches || loc.is_none();
    let rule_refs: Vec<&MatchRules> = if sd_matches {
        rules.iter().collect()
    } else {
        Vec::new()
    };

    let mut events: Vec<Event> = Vec::new();
    let (mut n, mut first, mut last): (u64, Option<Micros>, Option<Micros>) = (0, None, None);
    let mut out = super::output::out();
    let live = !a.json;
    let mut progress = super::progress::Progress::new("entries", None, a.json, live);
    // One entry through the pipeline; false once past --until.
    let mut feed = |p: &mut Pipeline, entry: &Entry| -> bool {
        progress.tick(|| format_time(entry.time_us));
        if since.is_some_and(|s| entry.time_us < s) {
            return true;
        }
        if until.is_some_and(|u| entry.time_us > u) {
            return false;
        }
        // Bans a real banjo recorded: replay makes its own.
        if entry.fields.get("MESSAGE_ID") == Some(MSGID_BAN.as_bytes()) {
            return true;
        }
        let taken = p.feed(entry, &mut |ev| {
            if live {
                let _ = print_event(&mut out, &ev);
            }
            events.push(ev);
        });
        // Routed in-process, count what libsystemd's matches would have returned
        // (entries some jail takes), so `entries` does not depend on --route.
        if taken || count_all {
            n += 1;
            first.get_or_insert(entry.time_us);
            last = Some(entry.time_us);
        }
        // No kernel to refuse a network ban here.
        p.lifted.clear();
        true
    };
    match &loc {
        Some(loc) => {
            let mut src =
                EntrySource::journal(loc, &rule_refs, &fields).context("opening the journal")?;
            if let (EntrySource::Journal(j), Some(s)) = (&mut src, since) {
                j.seek_realtime(s)?;
            }
            if let EntrySource::Journal(j) = &mut src {
                j.precise_time = true;
            }
            let mut entry = Entry::default();
            while src.next(&mut entry)? {
                if !feed(&mut p, &entry) {
                    break;
                }
            }
        }
        None => {
            let Some(mut files) = open_logpaths(&a.logpath, &p, &fields)? else {
                return Ok(Exit::Usage);
            };
            // The same reader as the daemon's, once through (no waiting at the end).
            let mut going = true;
            while going {
                let read = files.read_batch(4096, &mut |entry| {
                    going = going && feed(&mut p, entry);
                });
                for note in files.take_notes() {
                    eprintln!("banjo replay: {note}");
                }
                if read == 0 {
                    break;
                }
            }
        }
    }
    // Lift the bans that end within the replayed span; the rest are "still banned".
    if let Some(end) = until.or(last) {
        p.advance(end, &mut |ev| {
            if live {
                let _ = print_event(&mut out, &ev);
            }
            events.push(ev);
        });
    }
    progress.finish();
    super::output::ok_if_pipe(out.flush())?;
    drop(out);
    let jails: Vec<JailSummary> = p
        .jails
        .iter()
        .enumerate()
        .map(|(i, j)| JailSummary {
            jail: j.config.name.clone(),
            stats: j.stats.clone(),
            still_banned: p.bans.active_in(i),
            windows_forgotten: p.tracker.forgotten(i),
        })
        .collect();
    let report = Report {
        entries: n,
        first_time: first.map(format_time),
        last_time: last.map(format_time),
        events,
        jails,
        escalation_refused: p
            .escalation_notices
            .iter()
            .map(|n| Refused {
                jail: n.jail.clone(),
                network: n.net.to_string(),
                reason: n.why.to_string(),
            })
            .collect(),
    };
    if a.json {
        super::output::json(&report)?;
    } else {
        super::output::ok_if_pipe(print_summary(&report))?;
    }
    Ok(Exit::Done)
}

/// The files of `--logpath` as a log-file source, each routed to the jails whose
/// logpath matches it (or, when none does, to every jail with a logpath). None (after
/// saying why) when no jail reads log files.
fn open_logpaths(
    files: &[std::path::PathBuf],
    p: &Pipeline,
    fields: &[String],
) -> anyhow::Result<Option<LogFileSource>> {
    if p.logpaths.is_empty() {
        eprintln!("banjo replay: --logpath: no enabled jail has a logpath; set logpath = [\"…\"] on the jails to replay");
        return Ok(None);
    }
    let all = (0..p.logpaths.len()).fold(0u64, |m, i| m | 1 << i);
    let mut paths = Vec::new();
    let mut routes = Vec::new();
    for f in files {
        let abs = std::fs::canonicalize(f).with_context(|| format!("--logpath {}", f.display()))?;
        let text = abs.to_string_lossy().into_owned();
        let mut mask = 0u64;
        for (i, lp) in p.logpaths.iter().enumerate() {
            if glob::Pattern::new(&lp.pattern).is_ok_and(|g| g.matches(&text)) {
                mask |= 1 << i;
            }
        }
        if mask == 0 {
            eprintln!(
                "banjo replay: no jail's logpath names {text}; every jail with a logpath reads it"
            );
            mask = all;
        }
        let first = mask.trailing_zeros() as usize;
        paths.push(LogPath {
            pattern: glob::Pattern::escape(&text),
            dates: p.logpaths[first].datepattern.clone(),
        });
        routes.push(mask);
    }
    let mut src = LogFileSource::open(
        paths,
        &Positions::default(),
        Start::Beginning,
        None,
        0,
        fields,
    )?;
    src.as_history(routes);
    Ok(Some(src))
}

fn print_event(o: &mut impl Write, ev: &Event) -> std::io::Result<()> {
    match ev {
        Event::Ban {
            time_us,
            jail,
            addr,
            failures,
            bantime,
            count,
            escalated,
            ..
        } => {
            if *escalated > 0 {
                return writeln!(
                    o,
                    "{}  {:<14} Ban   {:<24} network: replaces {escalated} bans of its addresses, {bantime}",
                    format_time(*time_us),
                    format!("[{jail}]"),
                    addr.to_string()
                );
            }
            let nth = if *count > 1 {
                format!(", ban #{count}")
            } else {
                String::new()
            };
            writeln!(
                o,
                "{}  {:<14} Ban   {:<24} {failures} failures, {bantime}{nth}",
                format_time(*time_us),
                format!("[{jail}]"),
                addr.to_string()
            )
        }
        // Still banned, by the network's ban just printed.
        Event::Unban {
            reason: crate::events::UnbanReason::Escalated,
            ..
        } => Ok(()),
        Event::Unban {
            time_us,
            jail,
            addr,
            ..
        } => writeln!(
            o,
            "{}  {:<14} Unban {}",
            format_time(*time_us),
            format!("[{jail}]"),
            addr
        ),
    }
}

fn print_summary(r: &Report) -> std::io::Result<()> {
    let mut o = super::output::out();
    writeln!(o)?;
    writeln!(
        o,
        "Replayed {} entries from {} to {}",
        r.entries,
        r.first_time.as_deref().unwrap_or("-"),
        r.last_time.as_deref().unwrap_or("-")
    )?;
    writeln!(o)?;
    writeln!(
        o,
        "{:<16} {:>9} {:>9} {:>9} {:>8} {:>8} {:>6} {:>6} {:>7}",
        "jail", "entries", "matched", "failures", "ignored", "banned*", "bans", "unbans", "active"
    )?;
    for j in &r.jails {
        let s = &j.stats;
        writeln!(
            o,
            "{:<16} {:>9} {:>9} {:>9} {:>8} {:>8} {:>6} {:>6} {:>7}",
            j.jail,
            s.entries,
            s.matched,
            s.failures,
            s.ignored_by_regex + s.ignored_addresses + s.unbannable,
            s.already_banned,
            s.bans,
            s.unbans,
            j.still_banned
        )?;
    }
    writeln!(o, "\nignored: by ignoreregex, ignoreip/ignoreself, or an address no ban can cover (0.0.0.0, multicast…); banned*: failures from addresses already banned; active: still banned at the end")?;
    for n in &r.escalation_refused {
        writeln!(
            o,
            "{}: not escalating to {}: {}",
            n.jail, n.network, n.reason
        )?;
    }
    for j in r.jails.iter().filter(|j| j.windows_forgotten > 0) {
        writeln!(
            o,
            "{}: {} failure windows forgotten to stay within [daemon] tracker_memory (fewest failures first)",
            j.jail, j.windows_forgotten
        )?;
    }
    o.flush()
}
