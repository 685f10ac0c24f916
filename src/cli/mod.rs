//! Command-line interface: the clap definition (also the source of man pages and
//! completions) and one module per subcommand. Subcommands return an [`Exit`];
//! `main` maps it, and errors, to the exit code.

pub mod check;
pub mod ctl;
pub mod doctor;
pub mod flush;
pub mod history;
pub mod import_fail2ban;
pub mod import_fail2ban_bans;
pub mod import_filter;
pub mod mail_ban;
pub mod output;
pub mod progress;
pub mod replay;
pub mod run;
pub mod source;
pub mod test_filter;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// How a command ended. The exit code is main.rs's to choose (0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It did what was asked.
    Done,
    /// It ran, and what it found or did failed (a daemon that could not be reached…).
    Failed,
    /// Bad usage or configuration: nothing was run.
    Usage,
}

#[derive(Debug, Parser)]
#[command(
    name = "banjo",
    version,
    about = "Journal-first intrusion prevention: ban hosts that fail too often, read from the systemd journal",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and filters; exit 2 on any error.
    Check(check::CheckArgs),
    /// Run a filter over log lines or journal entries and report what it matches
    /// (banjo's fail2ban-regex).
    TestFilter(test_filter::TestFilterArgs),
    /// Convert fail2ban filter.d/*.conf files into banjo filters for review.
    ///
    /// Reads each file as fail2ban does ([INCLUDES] before/after, NAME.local,
    /// %(name)s and <name> substitution, one pattern set per mode) and writes a banjo
    /// filter that matches MESSAGE: the syslog prefix is dropped, the datepattern
    /// becomes an optional %(date)s at the start of each pattern, a prefregex is folded
    /// into every pattern. A jail can also use the file directly: filter =
    /// "fail2ban:NAME" (imported at load time). Every difference is reported as
    /// FILE:LINE: warning|error: KEY: …, and noted in the output; a pattern that cannot
    /// be translated (multi-line <SKIPLINES>, an undefined <tag>) is left out with an
    /// error. What is written has been compiled by banjo in every mode. Unanchored
    /// patterns (no ^, or .* before <HOST>) are marked: tighten them before enabling.
    /// Exit status 2 when anything was left out.
    ImportFilter(import_filter::ImportFilterArgs),
    /// Move from fail2ban: its jails, filters, actions and active bans into banjo.
    ///
    /// Reads fail2ban's configuration as fail2ban does (fail2ban.conf/.local/.d,
    /// jail.conf, jail.d/*.conf, jail.local, jail.d/*.local, paths-*.conf, filter.d and
    /// action.d with their .local files, %(name)s interpolation) and writes
    /// DIR/jail.d/fail2ban.toml, plus DIR/filter.d/NAME.toml for each filter banjo has
    /// no built-in for. Each enabled jail keeps its settings (maxretry, findtime,
    /// bantime and bantime.*, ignoreip, ports, protocol, chain, blocktype); a logpath
    /// that journald feeds through syslog, or backend = systemd, becomes a journalmatch,
    /// any other logpath a logpath banjo follows;
    /// action_mw/action_mwl become exec hooks that run banjo mail-ban. What does not
    /// carry over is reported with its fail2ban file and line. The result is checked as
    /// banjo check would before anything is written; existing files are kept unless
    /// --force. Then the bans still running in fail2ban's database (schema 1 to 4) go
    /// into banjo's state with their remaining time and ban counts; the daemon puts
    /// them into the kernel when it starts. Exit status 2 when an enabled jail could
    /// not be imported or the result does not pass banjo check.
    ImportFail2ban(import_fail2ban::ImportFail2banArgs),
    /// Mail a ban (an exec hook; import-fail2ban writes it for action_mw/action_mwl).
    ///
    /// Runs the mail transfer agent (sendmail -t, or mailx) and whois from an argv,
    /// never a shell.
    MailBan(mail_ban::MailBanArgs),
    /// Run the whole decision pipeline over recorded journal history on a virtual
    /// clock, without a firewall: what would this config have banned?
    Replay(replay::ReplayArgs),
    /// The daemon: follow the journal and ban (normally started by systemd).
    ///
    /// A ban is reported (journal entry, hooks, TOTAL BANNED) once the state file holds
    /// it. When the state cannot be written (a full or read-only disk), bans are still
    /// enforced in the kernel with their timeouts, reported as "enforced, not durable",
    /// and recorded and reported when a retry succeeds; with no state file that can be
    /// opened at start, banjo runs from memory and the kernel's sets. After a state
    /// loss it adopts its own kernel set members and its own journal history.
    Run(run::RunArgs),
    /// Jails with their failure and ban counts (one jail: its banned list too).
    Status(ctl::StatusArgs),
    /// Every active ban.
    Bans(ctl::BansArgs),
    /// Ban an address (or network) in a jail by hand.
    Ban(ctl::BanArgs),
    /// Lift a ban by hand.
    Unban(ctl::UnbanArgs),
    /// Reload the configuration; a config with errors is refused and the running one stays.
    Reload(ctl::ReloadArgs),
    /// The daemon's metrics in Prometheus's text format (what GET /metrics serves).
    Metrics(ctl::MetricsArgs),
    /// Every ban and unban of an address, from the journal.
    History(history::HistoryArgs),
    /// Remove from the kernel every chain, set and nftables table banjo made, and nothing else (it names what it left under banjo's names, and why).
    Flush(flush::FlushArgs),
    /// Look at the journal of the last days: enabled jails that read nothing, services
    /// whose built-in jail is off, and failures from addresses that no jail took.
    ///
    /// Runs every jail, enabled or not, over the journal since --since (default 7
    /// days) as the daemon would, and groups the entries no jail took that look like
    /// an authentication failure from an address. Exit status 1 when it finds
    /// something to fix, 0 when not.
    Doctor(doctor::DoctorArgs),
}

/// `--config DIR`, shared by the subcommands that read configuration.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Configuration directory (banjo.toml, jail.d/, filter.d/).
    #[arg(long = "config", short = 'c', value_name = "DIR")]
    pub config: Option<PathBuf>,
}

impl ConfigArgs {
    pub fn load(&self) -> crate::config::Config {
        match &self.config {
            Some(d) => crate::config::load(d, true),
            None => crate::config::load(std::path::Path::new(crate::config::DEFAULT_DIR), false),
        }
    }

    /// [`load`](Self::load) as the daemon loads: only enabled jails, compiled.
    pub fn load_enabled(&self) -> crate::config::Config {
        match &self.config {
            Some(d) => crate::config::load_enabled(d, true),
            None => {
                crate::config::load_enabled(std::path::Path::new(crate::config::DEFAULT_DIR), false)
            }
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_DIR))
    }
}

/// Run the parsed command; returns how it ended (main.rs makes that the exit code).
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Check(a) => check::run(a),
        Command::TestFilter(a) => test_filter::run(a),
        Command::ImportFilter(a) => import_filter::run(a),
        Command::ImportFail2ban(a) => import_fail2ban::run(a),
        Command::MailBan(a) => mail_ban::run(a),
        Command::Replay(a) => replay::run(a),
        Command::Run(a) => run::run(a),
        Command::Status(a) => ctl::status(a),
        Command::Bans(a) => ctl::bans(a),
        Command::Ban(a) => ctl::ban(a),
        Command::Unban(a) => ctl::unban(a),
        Command::Reload(a) => ctl::reload(a),
        Command::Metrics(a) => ctl::metrics(a),
        Command::History(a) => history::run(a),
        Command::Flush(a) => flush::run(a),
        Command::Doctor(a) => doctor::run(a),
    }
}
