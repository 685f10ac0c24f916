//! `banjo import-fail2ban [DIR]`: a fail2ban configuration (jails, filters, actions,
//! and the active bans of its database) into banjo's config dir and state.
//!
//! Writes `-o DIR/jail.d/fail2ban.toml` and `DIR/filter.d/NAME.toml` for filters that
//! are not built-in, after checking that banjo loads them with what is already in DIR
//! (a result `banjo check` would refuse is not written). Never overwrites a file
//! without `--force`. Prints a report jail by jail (`--json` for machines). Exit 0 when
//! every enabled fail2ban jail was imported, 2 when one was not or the result does not
//! pass `banjo check` (then nothing is written), 1 on a write failure.

use super::Exit;
use crate::compat::fail2ban::import::{self, Import, Level, Note};
use clap::Args;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ImportFail2banArgs {
    /// fail2ban's configuration directory.
    #[arg(value_name = "DIR", default_value = "/etc/fail2ban")]
    pub dir: PathBuf,
    /// banjo's configuration directory to write into.
    #[arg(long, short = 'o', value_name = "DIR", default_value = crate::config::DEFAULT_DIR)]
    pub output: PathBuf,
    /// Overwrite files written by an earlier import.
    #[arg(long)]
    pub force: bool,
    /// Print what would be written; write nothing (bans included).
    #[arg(long)]
    pub dry_run: bool,
    /// Machine-readable report.
    #[arg(long)]
    pub json: bool,
    /// Leave fail2ban's active bans alone (by default they are copied into banjo's state).
    #[arg(long)]
    pub no_bans: bool,
    /// fail2ban's database (default: dbfile from fail2ban.conf).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// banjo's state directory (default: [daemon] state_dir of the config written).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// One file to write.
#[derive(Debug, Serialize)]
struct Planned {
    path: String,
    #[serde(skip)]
    text: String,
    /// Already there (written only with --force).
    exists: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    import: &'a Import,
    files: Vec<Planned>,
    written: bool,
    dry_run: bool,
    /// What banjo's config loader says of the result.
    check: Vec<crate::diag::Diagnostic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bans: Option<super::import_fail2ban_bans::BanReport>,
}

pub fn run(a: ImportFail2banArgs) -> anyhow::Result<Exit> {
    let banjo = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "/usr/bin/banjo".into());
    let imp = match import::import(&a.dir, &banjo) {
        Ok(i) => i,
        Err(p) => {
            let at = match p.line {
                Some(l) => format!("{}:{l}", p.file),
                None => p.file.clone(),
            };
            eprintln!("banjo import-fail2ban: {at}: {}", p.message);
            return Ok(Exit::Usage);
        }
    };
    let mut files = vec![Planned {
        path: import::jail_file(&a.output).display().to_string(),
        text: imp.jail_toml.clone(),
        exists: false,
    }];
    for f in &imp.filters {
        files.push(Planned {
            path: a
                .output
                .join("filter.d")
                .join(format!("{}.toml", f.name))
                .display()
                .to_string(),
            text: f.toml.clone(),
            exists: false,
        });
    }
    for f in &mut files {
        f.exists = Path::new(&f.path).exists();
    }
    let check = check_result(&a.output, &files)?;
    let check_errors = check.iter().any(|d| d.is_error());
    let missing = imp
        .jails
        .iter()
        .any(|j| j.enabled_in_fail2ban && !(j.written && j.enabled));
    let clash: Vec<&Planned> = files.iter().filter(|f| f.exists).collect();
    let mut code = if missing || check_errors {
        Exit::Usage
    } else {
        Exit::Done
    };
    let mut written = false;
    let mut problem = None;
    if !a.dry_run && !check_errors {
        if !clash.is_empty() && !a.force {
            problem = Some(format!(
                "{} exists (use --force to overwrite); nothing written",
                clash
                    .iter()
                    .map(|f| f.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            code = Exit::Failed;
        } else {
            for f in &files {
                let p = Path::new(&f.path);
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                write_atomic(p, &f.text)?;
            }
            written = true;
        }
    } else if check_errors {
        problem = Some("the result does not pass banjo check: nothing written".into());
    }
    let bans = if a.no_bans {
        None
    } else {
        let state_dir = a.state_dir.clone().unwrap_or_else(|| {
            // The state dir of the config as written (or as it would be).
            crate::config::load(&a.output, false).daemon.state_dir
        });
        let db =
            a.db.clone()
                .or_else(|| imp.dbfile.as_ref().map(PathBuf::from));
        db.map(|db| {
            super::import_fail2ban_bans::import(&db, &imp, &state_dir, a.dry_run || !written)
        })
    };
    if let Some(b) = &bans {
        if b.error.is_some() && code == Exit::Done {
            code = Exit::Failed;
        }
    }
    let r = Report {
        import: &imp,
        files,
        written,
        dry_run: a.dry_run,
        check,
        bans,
    };
    if a.json {
        super::output::json(&r)?;
    } else {
        super::output::ok_if_pipe(print(&r, a.dry_run))?;
    }
    if let Some(p) = problem {
        eprintln!("banjo import-fail2ban: {p}");
    }
    Ok(code)
}

/// Write `text` to `path` through a temporary file and a rename: a reader (banjo
/// reload) sees the old file or the new one, never half of one.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// A directory removed when dropped (tempfile is a dev-dependency only).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let p = std::env::temp_dir().join(format!("banjo-import-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&p)?;
        Ok(TempDir(p))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Load the banjo config dir as it would be after writing `files`: a copy of its TOML
/// files in a temporary directory with the new ones on top.
fn check_result(dir: &Path, files: &[Planned]) -> anyhow::Result<Vec<crate::diag::Diagnostic>> {
    let tmp = TempDir::new()?;
    for sub in ["", "jail.d", "filter.d"] {
        let from = dir.join(sub);
        let to = tmp.path().join(sub);
        std::fs::create_dir_all(&to)?;
        let Ok(rd) = std::fs::read_dir(&from) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_file() && p.extension().is_some_and(|x| x == "toml") {
                std::fs::copy(&p, to.join(e.file_name()))?;
            }
        }
    }
    for f in files {
        let rel = Path::new(&f.path)
            .strip_prefix(dir)
            .unwrap_or(Path::new(&f.path));
        std::fs::write(tmp.path().join(rel), &f.text)?;
    }
    let cfg = crate::config::load(tmp.path(), true);
    let prefix = tmp.path().display().to_string();
    let real = dir.display().to_string();
    Ok(cfg
        .diagnostics
        .into_iter()
        .map(|mut d| {
            if let Some(rest) = d.file.strip_prefix(&prefix) {
                d.file = format!("{real}{rest}");
            }
            d
        })
        .collect())
}

fn level(n: &Note) -> &'static str {
    match n.level {
        Level::Info => "note",
        Level::Warning => "warning",
        Level::Error => "error",
    }
}

fn print(r: &Report, dry_run: bool) -> std::io::Result<()> {
    let mut o = super::output::out();
    let imp = r.import;
    if dry_run {
        for f in &r.files {
            writeln!(o, "# ==> {} <==", f.path)?;
            write!(o, "{}", f.text)?;
            writeln!(o)?;
        }
    }
    writeln!(o, "fail2ban configuration read from {}:", imp.source)?;
    for f in &imp.files_read {
        writeln!(o, "  {f}")?;
    }
    for n in &imp.notes {
        note(&mut o, n)?;
    }
    for (k, v) in &imp.daemon {
        writeln!(o, "  [daemon] {k} = {v}")?;
    }
    writeln!(o)?;
    let (mut imported, mut not, mut disabled) = (0, 0, 0);
    for j in &imp.jails {
        if !j.enabled_in_fail2ban {
            disabled += 1;
            if j.written {
                writeln!(
                    o,
                    "[{}] disabled in fail2ban: written enabled = false ({})",
                    j.name, j.at
                )?;
            }
            continue;
        }
        let name = if j.banjo_name == j.name {
            j.name.clone()
        } else {
            format!("{} (banjo: {})", j.name, j.banjo_name)
        };
        if j.written {
            imported += 1;
            writeln!(o, "[{name}] enabled  ({})", j.at)?;
        } else {
            not += 1;
            writeln!(o, "[{name}] NOT IMPORTED  ({})", j.at)?;
        }
        if let (Some(f), Some(src)) = (&j.filter, &j.filter_source) {
            writeln!(o, "  filter    {f} ({src})")?;
        }
        if let Some(reads) = &j.reads {
            writeln!(o, "  reads     {reads}")?;
        }
        let s = |k: &str| j.settings.get(k).map_or("-", |v| v.trim_matches('"'));
        if j.written {
            let inc = if s("bantime_increment") == "true" {
                format!(
                    ", increment x{} up to {}",
                    s("bantime_factor"),
                    s("bantime_maxtime")
                )
            } else {
                String::new()
            };
            writeln!(
                o,
                "  ban       {} failures in {} -> {}{inc}",
                s("maxretry"),
                s("findtime"),
                s("bantime")
            )?;
            writeln!(
                o,
                "  firewall  port {}, protocol {}, chain {}, {}",
                s("port"),
                s("protocol"),
                s("chain"),
                s("blocktype")
            )?;
            writeln!(
                o,
                "  ignore    {} (ignoreself {})",
                s("ignoreip"),
                s("ignoreself")
            )?;
            for h in &j.hooks {
                writeln!(o, "  hook      on ban: {}", h.join(" "))?;
            }
        }
        for n in &j.notes {
            note(&mut o, n)?;
        }
    }
    for f in &imp.filters {
        writeln!(o, "filter {} imported from {}", f.name, f.from)?;
    }
    for d in &r.check {
        writeln!(o, "  check: {d}")?;
    }
    if let Some(b) = &r.bans {
        writeln!(o)?;
        super::import_fail2ban_bans::print(&mut o, b)?;
    }
    let verb = match (r.written, dry_run) {
        (true, _) => "written",
        (false, true) => "dry run, nothing written",
        (false, false) => "nothing written",
    };
    writeln!(
        o,
        "\n{imported} jails imported, {not} not imported, {disabled} disabled in fail2ban; {} files {verb}",
        r.files.len()
    )?;
    for f in &r.files {
        writeln!(o, "  {}{}", f.path, if f.exists { " (exists)" } else { "" })?;
    }
    o.flush()
}

fn note(o: &mut impl Write, n: &Note) -> std::io::Result<()> {
    let at =
        n.at.as_deref()
            .map(|a| format!("{a}: "))
            .unwrap_or_default();
    let key = n
        .key
        .as_deref()
        .map(|k| format!("{k}: "))
        .unwrap_or_default();
    writeln!(o, "  {at}{}: {key}{}", level(n), n.message)
}
