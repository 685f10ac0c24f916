//! `banjo import-filter FILE.conf…`: fail2ban filter.d files -> banjo filter TOML for
//! review. Diagnostics (file:line: error|warning: key: …) go to stderr, the filters to
//! stdout or to `-o DIR/NAME.toml`. Exit 0 when every file was imported whole, 2 when
//! a file or a pattern could not be (what was importable is still written).

use super::Exit;
use crate::compat::fail2ban::filter::{import, Import};
use clap::Args;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ImportFilterArgs {
    /// fail2ban filter files (/etc/fail2ban/filter.d/NAME.conf); includes and
    /// NAME.local are read from beside each.
    #[arg(required = true, value_name = "FILE.conf")]
    pub files: Vec<PathBuf>,
    /// Write DIR/NAME.toml for each file instead of printing to standard output.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Overwrite existing files in DIR.
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Machine-readable summary (with the filters' text when not written to DIR).
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct FileReport {
    file: String,
    name: String,
    /// imported, partial (some patterns left out), failed, not-a-filter.
    status: &'static str,
    written: Option<String>,
    modes: Vec<String>,
    failregex: usize,
    left_out: usize,
    diagnostics: Vec<crate::diag::Diagnostic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    toml: Option<String>,
}

fn status(i: &Import) -> &'static str {
    match (&i.toml, i.not_a_filter, i.has_errors()) {
        (_, true, _) => "not-a-filter",
        (None, _, _) => "failed",
        (Some(_), _, true) => "partial",
        (Some(_), _, false) => "imported",
    }
}

pub fn run(a: ImportFilterArgs) -> anyhow::Result<Exit> {
    if let Some(dir) = &a.output {
        if !dir.is_dir() {
            eprintln!("banjo import-filter: -o {}: not a directory", dir.display());
            return Ok(Exit::Usage);
        }
    }
    let mut reports = Vec::new();
    let mut code = Exit::Done;
    let mut out = super::output::out();
    // Printing the filters to a terminal streams them: no progress line then.
    let streams = a.output.is_none();
    let mut progress =
        super::progress::Progress::new("files", Some(a.files.len() as u64), a.json, streams);
    for f in &a.files {
        progress.tick_slow(&f.display().to_string());
        let imp = import(f);
        progress.clear();
        let st = status(&imp);
        if st == "failed" || st == "partial" {
            code = Exit::Usage;
        }
        if !a.json {
            for d in &imp.diagnostics {
                eprintln!("{d}");
            }
        }
        let mut written = None;
        if let (Some(dir), Some(text)) = (&a.output, &imp.toml) {
            let path = dir.join(format!("{}.toml", imp.name));
            if path.exists() && !a.force {
                eprintln!(
                    "banjo import-filter: {} exists (use --force to overwrite)",
                    path.display()
                );
                code = Exit::Failed;
            } else {
                std::fs::write(&path, text)?;
                written = Some(path.display().to_string());
            }
        } else if let (None, Some(text), false) = (&a.output, &imp.toml, a.json) {
            if a.files.len() > 1 {
                super::output::ok_if_pipe(writeln!(out, "# ==> {}.toml <==", imp.name))?;
            }
            super::output::ok_if_pipe(write!(out, "{text}"))?;
        }
        if !a.json {
            let summary = format!(
                "{}: {st}{}{}",
                f.display(),
                match imp.toml {
                    Some(_) => format!(
                        ", {} failregex{}",
                        imp.patterns,
                        if imp.modes.is_empty() {
                            String::new()
                        } else {
                            format!(" in modes {}", imp.modes.join(", "))
                        }
                    ),
                    None => String::new(),
                },
                if imp.dropped > 0 {
                    format!(", {} left out", imp.dropped)
                } else {
                    String::new()
                }
            );
            eprintln!("{summary}");
        }
        reports.push(FileReport {
            file: f.display().to_string(),
            name: imp.name.clone(),
            status: st,
            modes: imp.modes.clone(),
            failregex: imp.patterns,
            left_out: imp.dropped,
            toml: if a.output.is_none() {
                imp.toml.clone()
            } else {
                None
            },
            written,
            diagnostics: imp.diagnostics,
        });
    }
    super::output::ok_if_pipe(out.flush())?;
    drop(out);
    if a.json {
        super::output::json(&reports)?;
    }
    Ok(code)
}
