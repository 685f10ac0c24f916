//! `banjo check`: load and validate everything, say what each jail will do, and exit 2
//! on any error. Each error names file, line, jail and key, with a hint.

use super::{ConfigArgs, Exit};
use crate::banrules::{Ports, Protocol};
use crate::config::Config;
use crate::timefmt::format_duration;
use clap::Args;
use serde::Serialize;
use std::io::Write;

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Machine-readable report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct JailReport {
    name: String,
    enabled: bool,
    declared_at: String,
    filter: String,
    filter_file: String,
    mode: String,
    regex_patterns: usize,
    pcre2_patterns: usize,
    journalmatch: String,
    maxretry: u32,
    findtime: String,
    bantime: String,
    bantime_increment: Option<String>,
    ports: String,
    protocol: Protocol,
    chain: String,
    /// Every other resolved key, so an import can be verified by machine.
    filter_params: std::collections::BTreeMap<String, String>,
    findtime_seconds: i64,
    /// None: permanent.
    bantime_seconds: Option<i64>,
    bantime_factor: Option<f64>,
    bantime_maxtime: Option<String>,
    ignoreip: Vec<String>,
    ignoreself: bool,
    ban_loopback: bool,
    ipv6_prefix: u8,
    blocktype: crate::banrules::BlockType,
    actions: Vec<ActionReport>,
}

#[derive(Serialize)]
struct ActionReport {
    on: crate::config::ActionEvent,
    argv: Vec<String>,
    timeout_seconds: i64,
}

#[derive(Serialize)]
struct Report<'a> {
    files: Vec<&'a str>,
    jails: Vec<JailReport>,
    diagnostics: &'a [crate::diag::Diagnostic],
    errors: usize,
    warnings: usize,
}

fn ports_text(p: &Ports) -> String {
    match p {
        Ports::All => "all".into(),
        Ports::List(l) => crate::ban::ports_text(l),
    }
}

fn report(cfg: &Config) -> Report<'_> {
    let jails = cfg
        .jails
        .iter()
        .map(|j| {
            let (re, pc) = j.filter.engine_summary();
            JailReport {
                name: j.name.clone(),
                enabled: j.enabled,
                declared_at: j.declared_at.clone(),
                filter: j.filter_ref.name.clone(),
                filter_file: j.filter.file.clone(),
                mode: j.filter.mode.clone(),
                regex_patterns: re,
                pcre2_patterns: pc,
                journalmatch: j.journalmatch.to_string(),
                maxretry: j.maxretry,
                findtime: format_duration(j.findtime),
                bantime: j.bantime.to_string(),
                bantime_increment: j
                    .increment
                    .map(|i| format!("x{} up to {}", i.factor, i.maxtime)),
                ports: ports_text(&j.ports),
                protocol: j.protocol,
                chain: j.chain.clone(),
                filter_params: j.filter_ref.params.clone().into_iter().collect(),
                findtime_seconds: j.findtime / crate::timefmt::SEC,
                bantime_seconds: match j.bantime {
                    crate::timefmt::BanTime::Finite(us) => Some(us / crate::timefmt::SEC),
                    crate::timefmt::BanTime::Permanent => None,
                },
                bantime_factor: j.increment.map(|i| i.factor),
                bantime_maxtime: j.increment.map(|i| i.maxtime.to_string()),
                ignoreip: j.ignoreip.iter().map(|n| n.to_string()).collect(),
                ignoreself: j.ignoreself,
                ban_loopback: j.ban_loopback,
                ipv6_prefix: j.ipv6_prefix,
                blocktype: j.blocktype,
                actions: j
                    .actions
                    .iter()
                    .map(|a| ActionReport {
                        on: a.on,
                        argv: a.argv.clone(),
                        timeout_seconds: a.timeout_us / crate::timefmt::SEC,
                    })
                    .collect(),
            }
        })
        .collect();
    let errors = cfg.diagnostics.iter().filter(|d| d.is_error()).count();
    Report {
        files: cfg.files.iter().map(|f| f.name.as_str()).collect(),
        jails,
        diagnostics: &cfg.diagnostics,
        errors,
        warnings: cfg.diagnostics.len() - errors,
    }
}

pub fn run(a: CheckArgs) -> anyhow::Result<Exit> {
    let cfg = a.config.load();
    let r = report(&cfg);
    if a.json {
        super::output::json(&r)?;
    } else {
        super::output::ok_if_pipe(print(&r))?;
    }
    Ok(if r.errors > 0 {
        Exit::Usage
    } else {
        Exit::Done
    })
}

fn print(r: &Report) -> std::io::Result<()> {
    let mut o = super::output::out();
    writeln!(o, "Configuration read from:")?;
    for f in &r.files {
        writeln!(o, "  {f}")?;
    }
    writeln!(o)?;
    for j in &r.jails {
        let state = if j.enabled { "enabled" } else { "disabled" };
        writeln!(o, "[{}] {state}  ({})", j.name, j.declared_at)?;
        let engines = match (j.regex_patterns, j.pcre2_patterns) {
            (n, 0) => format!("{n} patterns, all on the regex engine"),
            (n, p) => {
                format!("{n} patterns on regex, {p} on PCRE2-JIT (look-around or backreferences)")
            }
        };
        writeln!(o, "  filter       {} mode {} — {engines}", j.filter, j.mode)?;
        writeln!(o, "               from {}", j.filter_file)?;
        writeln!(o, "  journalmatch {}", j.journalmatch)?;
        let inc = j
            .bantime_increment
            .as_deref()
            .map(|i| format!(", repeat offenders {i}"))
            .unwrap_or_default();
        writeln!(
            o,
            "  ban          {} failures in {} -> {}{inc}",
            j.maxretry, j.findtime, j.bantime
        )?;
        writeln!(
            o,
            "  firewall     chain {}, ports {}, protocol {:?}, {:?}",
            j.chain, j.ports, j.protocol, j.blocktype
        )?;
        for a in &j.actions {
            let on = format!("{:?}", a.on).to_lowercase();
            writeln!(o, "  on {on:<9} {}", a.argv.join(" "))?;
        }
    }
    if !r.diagnostics.is_empty() {
        writeln!(o)?;
    }
    o.flush()?;
    drop(o);
    // Diagnostics to stderr, so `banjo check >/dev/null` still shows them.
    for d in r.diagnostics {
        eprintln!("{d}");
    }
    let enabled = r.jails.iter().filter(|j| j.enabled).count();
    let verdict = if r.errors > 0 { "FAILED" } else { "OK" };
    let mut o = super::output::out();
    writeln!(
        o,
        "\n{verdict}: {enabled} jails enabled, {} disabled, {} errors, {} warnings",
        r.jails.len() - enabled,
        r.errors,
        r.warnings
    )?;
    o.flush()
}
