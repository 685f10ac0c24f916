//! `banjo test-filter FILTER SOURCE`: fail2ban-regex for banjo. Runs one filter over
//! text lines or journal entries and reports hits per pattern, matched / ignored /
//! missed counts and the addresses found.

use super::source::{EntrySource, JournalArgs};
use super::{ConfigArgs, Exit};
use crate::filter::{Filter, FilterRef, Outcome, Session};
use crate::journal::datepattern::DatePattern;
use crate::journal::Entry;
use crate::route::MatchRules;
use anyhow::Context;
use clap::Args;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct TestFilterArgs {
    /// A filter name (sshd, "sshd[mode=aggressive]"), a filter file, or a regex
    /// containing <HOST>.
    pub filter: String,
    /// A log file, - for standard input, or one log line. Omit with --journal-dir,
    /// --journal-file or --journal.
    pub source: Option<String>,
    #[command(flatten)]
    pub journal: JournalArgs,
    /// Read SOURCE (a file or -) as the daemon reads a jail's logpath files: a syslog
    /// header is parsed, else the date is found and cut as fail2ban cuts it.
    #[arg(long)]
    pub logpath: bool,
    /// With --logpath: how to find the date (fail2ban's %-codes; default: the usual
    /// shapes).
    #[arg(long, value_name = "PATTERN", requires = "logpath")]
    pub datepattern: Option<String>,
    /// Journal match (journalctl syntax, repeatable: groups are ORed). Default: the
    /// filter's own journalmatch.
    #[arg(long = "match", short = 'm', value_name = "FIELD=VALUE")]
    pub matches: Vec<String>,
    /// Read every journal entry, ignoring the filter's journalmatch.
    #[arg(long, conflicts_with = "matches")]
    pub all_entries: bool,
    /// Print every matched entry with its address.
    #[arg(long)]
    pub print_all_matched: bool,
    /// Print every entry no failregex matched.
    #[arg(long)]
    pub print_all_missed: bool,
    /// Print every entry an ignoreregex dropped.
    #[arg(long)]
    pub print_all_ignored: bool,
    /// Under each failregex, the address and time of every entry it matched
    /// (fail2ban-regex -v); with --json, a "matches" list per failregex.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Machine-readable report.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Default, Serialize)]
struct Report {
    filter: String,
    mode: String,
    source: String,
    entries: u64,
    matched: u64,
    ignored: u64,
    missed: u64,
    /// Matched, but no address could be taken (no <HOST>, invalid, not correlated).
    matched_without_address: u64,
    failures: u64,
    failregex: Vec<PatternHits>,
    ignoreregex: Vec<PatternHits>,
    addresses: Vec<AddressHits>,
    elapsed_seconds: f64,
}

#[derive(Debug, Serialize)]
struct PatternHits {
    pattern: String,
    engine: String,
    origin: String,
    hits: u64,
    /// With -v: what each hit found, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    matches: Option<Vec<PatternMatch>>,
}

#[derive(Debug, Clone, Serialize)]
struct PatternMatch {
    /// None: matched, but no address (no <HOST>, invalid, or not correlated).
    address: Option<String>,
    time: String,
    /// The failure was counted (false for <F-NOFAIL>/<F-MLFORGET> lines).
    failure: bool,
}

#[derive(Debug, Serialize)]
struct AddressHits {
    address: String,
    failures: u64,
}

/// Resolve FILTER: a file path, a named filter (filter.d or built-in), else a regex.
fn load_filter(text: &str, config: &ConfigArgs) -> Result<Filter, String> {
    let filter_dir = config.dir().join("filter.d");
    let looks_like_regex = text.contains('<') && !text.ends_with(".toml") || text.starts_with('^');
    if !looks_like_regex {
        let fref = FilterRef::parse(text)?;
        return Filter::load(&fref, &[filter_dir.as_path()]).map_err(join_diags);
    }
    Filter::inline(text).map_err(join_diags)
}

fn join_diags(d: Vec<crate::diag::Diagnostic>) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn run(a: TestFilterArgs) -> anyhow::Result<Exit> {
    let filter = match load_filter(&a.filter, &a.config) {
        Ok(f) => Arc::new(f),
        Err(e) => {
            eprintln!("banjo test-filter: {e}");
            return Ok(Exit::Usage);
        }
    };
    let (mut source, source_name) = match (a.journal.location(), &a.source) {
        (Some(_), Some(_)) => {
            eprintln!("banjo test-filter: give either SOURCE or a journal option, not both");
            return Ok(Exit::Usage);
        }
        (None, None) => {
            eprintln!("banjo test-filter: no SOURCE: give a file, -, a line, --journal-dir DIR, --journal-file F or --journal");
            return Ok(Exit::Usage);
        }
        (None, Some(s)) if a.logpath => {
            let dates = match a.datepattern.as_deref().map(DatePattern::parse).transpose() {
                Ok(d) => d.unwrap_or(DatePattern::Auto),
                Err(e) => {
                    eprintln!("banjo test-filter: --datepattern: {e}");
                    return Ok(Exit::Usage);
                }
            };
            EntrySource::logfile(s, dates, &filter.wanted_fields())?
        }
        (None, Some(s)) => EntrySource::text(s)?,
        (Some(loc), None) => {
            let rules = if a.all_entries {
                None
            } else if !a.matches.is_empty() {
                match MatchRules::parse(&a.matches) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        eprintln!("banjo test-filter: --match: {e}");
                        return Ok(Exit::Usage);
                    }
                }
            } else {
                match &filter.journalmatch {
                    Some((items, _)) => Some(MatchRules::parse(items).map_err(anyhow::Error::msg)?),
                    None => None,
                }
            };
            let desc = match &rules {
                Some(r) => format!("{loc}, match {r}"),
                None => format!("{loc}, all entries"),
            };
            let rules: Vec<&MatchRules> = rules.iter().collect();
            // Read in the same pass over the entry as MESSAGE: nearly free (see
            // journal::sdjournal), unlike a second lookup for the matches only.
            let eager = filter.wanted_fields();
            (
                EntrySource::journal(&loc, &rules, &eager).context("opening the journal")?,
                desc,
            )
        }
    };

    // A filter reads MESSAGE and its own fields only.
    source.keep_fields(&filter.wanted_fields());
    let mut session = Session::new(filter.clone());
    let mut fail_hits = vec![0u64; filter.failregex.len()];
    let mut fail_matches: Vec<Vec<PatternMatch>> = vec![Vec::new(); filter.failregex.len()];
    let mut ignore_hits = vec![0u64; filter.ignoreregex.len()];
    // Offline tool, one lookup per failure: foldhash rather than SipHash.
    let mut addrs: HashMap<IpAddr, u64, foldhash::fast::RandomState> = HashMap::default();
    let mut r = Report {
        filter: filter.name.clone(),
        mode: filter.mode.clone(),
        source: source_name,
        ..Report::default()
    };
    let mut out = super::output::out();
    let started = Instant::now();
    let mut entry = Entry::default();
    let streams = a.print_all_matched || a.print_all_missed || a.print_all_ignored;
    let mut progress = super::progress::Progress::new("entries", None, a.json, streams);
    while source.next(&mut entry)? {
        progress.tick(|| crate::timefmt::format_time(entry.time_us));
        r.entries += 1;
        let (outcome, failure) = session.process(&entry);
        match outcome {
            Outcome::Missed => {
                r.missed += 1;
                if a.print_all_missed {
                    super::output::ok_if_pipe(writeln!(out, "missed: {}", entry.message_lossy()))?;
                }
            }
            Outcome::Ignored {
                failregex: _,
                ignoreregex,
            } => {
                r.ignored += 1;
                ignore_hits[ignoreregex] += 1;
                if a.print_all_ignored {
                    super::output::ok_if_pipe(writeln!(out, "ignored: {}", entry.message_lossy()))?;
                }
            }
            Outcome::Matched(m) => {
                r.matched += 1;
                if let Some(i) = m.failregex {
                    fail_hits[i] += 1;
                    if a.verbose {
                        fail_matches[i].push(PatternMatch {
                            address: m.host.map(|h| h.to_string()),
                            time: crate::timefmt::format_time(entry.time_us),
                            failure: failure.is_some(),
                        });
                    }
                }
                match &failure {
                    Some(f) => {
                        r.failures += 1;
                        *addrs.entry(f.ip).or_insert(0) += 1;
                    }
                    None if m.host.is_none() => r.matched_without_address += 1,
                    None => {}
                }
                if a.print_all_matched {
                    let host = m.host.map(|h| h.to_string()).unwrap_or_else(|| "-".into());
                    super::output::ok_if_pipe(writeln!(
                        out,
                        "matched: {host:<39} {}",
                        entry.message_lossy()
                    ))?;
                }
            }
        }
    }
    r.elapsed_seconds = started.elapsed().as_secs_f64();
    r.failregex = pattern_hits(&filter.failregex, &fail_hits);
    if a.verbose {
        for (p, m) in r.failregex.iter_mut().zip(fail_matches) {
            p.matches = Some(m);
        }
    }
    r.ignoreregex = pattern_hits(&filter.ignoreregex, &ignore_hits);
    let mut list: Vec<(IpAddr, u64)> = addrs.into_iter().collect();
    list.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    r.addresses = list
        .into_iter()
        .map(|(ip, n)| AddressHits {
            address: ip.to_string(),
            failures: n,
        })
        .collect();
    progress.finish();
    super::output::ok_if_pipe(out.flush())?;
    drop(out);
    if a.json {
        super::output::json(&r)?;
    } else {
        super::output::ok_if_pipe(print_report(&r))?;
    }
    Ok(Exit::Done)
}

fn pattern_hits(patterns: &[crate::filter::Pattern], hits: &[u64]) -> Vec<PatternHits> {
    patterns
        .iter()
        .zip(hits)
        .map(|(p, &hits)| PatternHits {
            pattern: p.source.clone(),
            engine: p.engine().to_string(),
            origin: p.origin.clone(),
            hits,
            matches: None,
        })
        .collect()
}

fn print_report(r: &Report) -> std::io::Result<()> {
    let mut o = super::output::out();
    writeln!(o)?;
    writeln!(o, "Running tests")?;
    writeln!(o, "=============")?;
    writeln!(o)?;
    writeln!(o, "Use   filter : {} (mode {})", r.filter, r.mode)?;
    writeln!(o, "Use   source : {}", r.source)?;
    writeln!(o)?;
    writeln!(o, "Results")?;
    writeln!(o, "=======")?;
    for (title, list) in [("Failregex", &r.failregex), ("Ignoreregex", &r.ignoreregex)] {
        writeln!(o)?;
        let total: u64 = list.iter().map(|p| p.hits).sum();
        writeln!(o, "{title}: {total} total")?;
        if list.is_empty() {
            continue;
        }
        writeln!(o, "|-  #) [# of hits] regular expression")?;
        for (i, p) in list.iter().enumerate() {
            let engine = if p.engine == "regex" {
                String::new()
            } else {
                format!("  ({})", p.engine)
            };
            writeln!(o, "|  {:>2}) [{}] {}{engine}", i + 1, p.hits, p.pattern)?;
            for m in p.matches.iter().flatten() {
                let addr = m.address.as_deref().unwrap_or("-");
                let nofail = if m.failure { "" } else { "  (not counted)" };
                writeln!(o, "|      {addr:<39} {}{nofail}", m.time)?;
            }
        }
        writeln!(o, "`-")?;
    }
    writeln!(o)?;
    if !r.addresses.is_empty() {
        writeln!(o, "Addresses: {} distinct", r.addresses.len())?;
        for a in r.addresses.iter().take(10) {
            writeln!(o, "|  {:<39} {} failures", a.address, a.failures)?;
        }
        if r.addresses.len() > 10 {
            writeln!(o, "|  … {} more (--json lists all)", r.addresses.len() - 10)?;
        }
        writeln!(o, "`-")?;
        writeln!(o)?;
    }
    let rate = if r.elapsed_seconds > 0.0 {
        r.entries as f64 / r.elapsed_seconds
    } else {
        0.0
    };
    writeln!(
        o,
        "Lines: {} lines, {} ignored, {} matched, {} missed  [processed in {:.2} sec, {:.0} lines/s]",
        r.entries, r.ignored, r.matched, r.missed, r.elapsed_seconds, rate
    )?;
    if r.matched_without_address > 0 {
        writeln!(
            o,
            "Note: {} matched entries yielded no address (no <HOST>, an invalid address, or no earlier entry of the same connection)",
            r.matched_without_address
        )?;
    }
    o.flush()
}
