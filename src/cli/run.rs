//! `banjo run`: the daemon.

use super::source::JournalArgs;
use super::{ConfigArgs, Exit};
use crate::daemon::{run as run_daemon, RunError, RunOptions};
use crate::timefmt::parse_timestamp;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Decide and report, but touch no firewall.
    #[arg(long)]
    pub dry_run: bool,
    /// First start only (no saved position): read the journal from this time
    /// ("2026-11-16 08:00" UTC, or @EPOCH) instead of from now.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// State directory (default: [daemon] state_dir, /var/lib/banjo).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Control socket to bind when not socket-activated (default: [daemon] socket,
    /// /run/banjo/banjo.sock).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    #[command(flatten)]
    pub journal: JournalArgs,
}

pub fn run(a: RunArgs) -> anyhow::Result<Exit> {
    let since = match a.since.as_deref().map(parse_timestamp).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("banjo run: --since: {e}");
            return Ok(Exit::Usage);
        }
    };
    let ran = run_daemon(RunOptions {
        config_dir: a.config.dir(),
        config_explicit: a.config.config.is_some(),
        dry_run: a.dry_run,
        since,
        journal: a.journal.location(),
        state_dir: a.state_dir,
        socket: a.socket,
    });
    match ran {
        Ok(()) => Ok(Exit::Done),
        Err(RunError::NoJails) => {
            eprintln!("banjo run: {}", RunError::NoJails);
            Ok(Exit::Usage)
        }
        Err(RunError::Failed(e)) => Err(e),
    }
}
