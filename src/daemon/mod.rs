//! `banjo run`: follow the journal, decide, ban.
//!
//! One thread owns everything (the journal handle is neither Send nor Sync) and
//! sleeps in poll(2) on: the journal's inotify fd, a signalfd (TERM, INT, HUP, CHLD),
//! the control socket and its clients. The poll timeout is the next unban deadline
//! (one deadline queue, no thread per ban) or the watchdog. No polling loop: idle
//! costs nothing.
//!
//! Order of a decision: durable state first (with the journal cursor that led to it),
//! then the firewall, then the journal entry and the hooks. A crash between two steps
//! is repaired at the next start by reconciling the kernel with the state
//! (reconcile.rs). A decision the state cannot take (full or read-only disk, no state
//! file at all) is still enforced in the kernel but reported as not durable, and its
//! journal entry and hooks wait until a retry makes it durable (durability.rs). A
//! firewall that changes under banjo while it runs (drift) is repaired by drift.rs.

pub mod actions;
mod apply;
pub mod clock;
mod control;
mod drift;
mod durability;
mod escalation;
mod firewall;
mod health;
mod history;
mod ifwatch;
mod ledger;
pub mod log;
mod metrics;
pub mod notify;
pub mod reconcile;
mod reload;
pub mod shutdown;
pub mod source;
mod warmup;
mod windows;

use crate::ban::{Firewall, JailRules};
use crate::config::{Config, FirewallKind, JailConfig};
use crate::control::server::Server;
use crate::journal::filesource::{LogFileSource, LogPath};
use crate::journal::logfile::{Positions, Start};
use crate::journal::sdjournal::{JournalSource, Location};
use crate::journal::source::{EntrySource, Position};
use crate::pipeline::Pipeline;
use crate::state::{Durable, OpenOutcome, Opened};
use crate::timefmt::{BanTime, Micros, SEC};
use anyhow::Context;
use clock::Clock;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use shutdown::Shutdown;
use source::CursorSource;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entries handled between two looks at signals and the socket.
const BATCH: usize = 4096;
/// With no decisions, the cursor is still saved this often.
const CURSOR_EVERY: Duration = Duration::from_secs(1);
/// journald tells readers about new entries through inotify, but coalesces those
/// notifications (its post-change timer: measured delays of 4 to 420 ms per entry).
/// The entries themselves are in the file at once, so while entries are flowing we
/// also look every ACTIVE_POLL, and stop looking after ACTIVE_FOR of quiet: a ban
/// during an attack is quick, and an idle daemon sleeps on inotify alone.
const ACTIVE_POLL: Duration = Duration::from_millis(10);
const ACTIVE_FOR: Duration = Duration::from_secs(2);
/// The same quick polling after a new connection to a jail's ports (ban/nflog.rs): the
/// service logs its first failure after the key exchange and, for passwords, PAM's
/// ~2 s failure delay. Later failures of the attack keep it going (ACTIVE_FOR).
const CONNECTED_FOR: Duration = Duration::from_secs(5);
/// ipset timeouts stop at 24.8 days; longer bans are re-added this often.
const REFRESH_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Options of `banjo run` (command line over `[daemon]`).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub config_dir: PathBuf,
    pub config_explicit: bool,
    pub dry_run: bool,
    /// First start (no saved cursor): read from this time instead of from now.
    pub since: Option<Micros>,
    /// Read this journal instead of the system journal (tests, demos).
    pub journal: Option<Location>,
    pub state_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
}

/// The system's wall clock (the daemon itself asks its [`Clock`]).
pub fn now_us() -> Micros {
    clock::system_now_us()
}

/// What the daemon takes from the world around it, so that it can also run inside a
/// test process: how it is asked to stop, its clock, and its main source.
pub struct Parts {
    pub shutdown: Shutdown,
    pub clock: Clock,
    /// Entries from here instead of the journal (`RunOptions::journal` is then not
    /// read; neither is banjo's history in it, nor a warm-up).
    pub source: Option<Box<dyn CursorSource + Send>>,
    /// Read SIGTERM, SIGINT (stop) and SIGHUP (reload) from a signalfd: `banjo run`.
    /// The caller has blocked them (see [`handled_signals`]).
    pub signals: bool,
}

pub(crate) struct Daemon {
    opts: RunOptions,
    cfg: Config,
    pipeline: Pipeline,
    /// The journal (always read: journalmatch routes its entries), or what a test feeds.
    source: Box<dyn CursorSource>,
    /// Where the journal is, when `source` is the journal: warm-up, banjo's history and
    /// a reload's new reader read it.
    journal_at: Option<Location>,
    clock: Clock,
    shutdown: Shutdown,
    /// SIGTERM, SIGINT and SIGHUP, when the daemon is a process of its own.
    signals: Option<SignalFd>,
    /// The jails' logpaths, followed; None when no jail names one.
    files: Option<LogFileSource>,
    /// The state file, or memory while it cannot be opened or written.
    state: Durable,
    /// Bans made durable, ever, per jail (TOTAL BANNED; kept in the state).
    totals: std::collections::BTreeMap<String, u64>,
    /// Kernel members the state did not hold at start: removed once the catch-up is
    /// read, unless it decided them again (bans that were not durable when banjo died).
    stale: Vec<(String, crate::addr::Addr)>,
    fw: Box<dyn Firewall>,
    server: Server,
    actions: actions::ActionRunner,
    notifier: notify::Notifier,
    readers_gid: Option<u32>,
    last_cursor_commit: Instant,
    cursor_dirty: bool,
    /// Lines were read from files since their positions were last committed.
    files_dirty: bool,
    ifwatch: Option<ifwatch::IfWatch>,
    /// New connections to the jails' ports (None: off, or the group was taken).
    wake: Option<crate::ban::nflog::ConnectionWake>,
    /// How often `wake` woke us (control status).
    connection_wakeups: u64,
    last_refresh: Instant,
    last_watchdog: Instant,
    /// Until when entries were recently flowing (see ACTIVE_POLL).
    active_until: Option<Instant>,
    /// Decisions handed to the firewall, whose journal entries and hooks wait until
    /// the kernel has them (see apply.rs), and since when.
    unreported: apply::HeldQueue,
    held_since: Option<Instant>,
    /// Decisions in the kernel that are not durable: their journal entries and hooks
    /// wait until the state takes them (see durability.rs).
    awaiting: apply::HeldQueue,
    /// Decisions since the heap was last trimmed.
    decisions_since_trim: usize,
    /// QUIET_AFTER past the last entry read: when to give memory back (see quiet()).
    quiet_at: Option<Instant>,
    /// Configured jails that are not running, and why (daemon/firewall.rs).
    down: Vec<firewall::Down>,
    /// When to look for firewall drift, and the last repair (daemon/drift.rs).
    drift: drift::DriftWatch,
    /// Counters for `banjo metrics`, the endpoint and the textfile (metrics.rs).
    metrics: metrics::Counters,
    /// `[metrics] listen`: GET /metrics, answered from the loop.
    endpoint: Option<crate::metrics::endpoint::MetricsEndpoint>,
    /// Jails that have gone blind (health.rs).
    health: health::HealthWatch,
    stop: bool,
}

/// Once the journal has been quiet this long, the journal pages just read are given
/// back, and after a burst (TRIM_AFTER decisions or more) the freed heap too: a
/// burst's transient buffers (read batches, held reports, the commit thread's arena)
/// would otherwise stay resident in an idle daemon.
const QUIET_AFTER: Duration = Duration::from_secs(2);
const TRIM_AFTER: usize = 1024;

/// Do two versions of a jail need the same firewall objects?
fn same_rules(a: &JailConfig, b: &JailConfig, wake: Option<u16>) -> bool {
    rules(a, wake) == rules(b, wake)
}

/// What the jail asks of the firewall. `wake`: the group the daemon listens on for
/// new connections. A jail gets a wake rule only if its failures come from a network
/// service's messages over TCP: recidive reads banjo's own entries (`host_field`),
/// which banjo writes itself, and UDP has no connection start to log.
fn rules(j: &JailConfig, wake: Option<u16>) -> JailRules {
    let wakes = j.protocol != crate::banrules::Protocol::Udp && j.filter.host_field.is_none();
    JailRules {
        jail: j.name.clone(),
        chain: j.chain.clone(),
        ports: j.ports.clone(),
        protocol: j.protocol,
        blocktype: j.blocktype,
        wake_group: wake.filter(|_| wakes),
    }
}

/// The signals the loop reads from a signalfd (when [`Parts::signals`]). Blocked before any thread is started,
/// so threads inherit the mask: a signal sent to the process must not land on a
/// helper thread, where SIGTERM's default action would end banjo on the spot.
fn handled_signals() -> SigSet {
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ] {
        mask.add(s);
    }
    mask
}

/// The configuration as the daemon keeps it: every jail validated (errors in disabled
/// ones are reported too), then only the enabled jails kept. Dropping the rest frees
/// their compiled filters before the start-up heap is trimmed.
fn load_config(opts: &RunOptions) -> Config {
    let mut cfg = crate::config::load(&opts.config_dir, opts.config_explicit);
    cfg.jails.retain(|j| j.enabled);
    cfg
}

/// Why the daemon did not run, or stopped other than when asked to. Exit codes are the
/// caller's: `cli/run.rs` maps these.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Nothing to run: every enabled jail had errors (they were reported), or none is
    /// enabled. A configuration problem.
    #[error("no enabled jail without errors; see banjo check")]
    NoJails,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// `banjo run`: signals stop and reload the daemon, the system clock and journal.
pub fn run(opts: RunOptions) -> Result<(), RunError> {
    handled_signals()
        .thread_block()
        .map_err(anyhow::Error::from)?;
    let parts = Parts {
        shutdown: Shutdown::new().map_err(anyhow::Error::from)?,
        clock: Clock::System,
        source: None,
        signals: true,
    };
    run_with(opts, parts)
}

/// Run until `parts.shutdown` is triggered (or a signal says stop), then shut down
/// cleanly: queued journal entries written, positions saved.
pub fn run_with(opts: RunOptions, parts: Parts) -> Result<(), RunError> {
    log::init();
    log::start_writer();
    let notifier = notify::Notifier::from_env();
    let cfg = load_config(&opts);
    for d in &cfg.diagnostics {
        // A bad jail never takes down the others: report it and run the rest.
        tracing::error!("{d}");
        eprintln!("{d}");
    }
    if cfg.jails.is_empty() {
        return Err(RunError::NoJails);
    }
    let mut d = Daemon::start(opts, cfg, notifier, parts)?;
    // Shut down (flush queued journal entries, save the cursor) on errors too.
    let result = d.main_loop();
    d.shutdown();
    result?;
    Ok(())
}

impl Daemon {
    fn start(
        opts: RunOptions,
        cfg: Config,
        notifier: notify::Notifier,
        parts: Parts,
    ) -> anyhow::Result<Daemon> {
        let state_dir = opts
            .state_dir
            .clone()
            .unwrap_or_else(|| cfg.daemon.state_dir.clone());
        let (state, opened) = Durable::open(&state_dir.join("state.db"))
            .with_context(|| format!("opening state in {}", state_dir.display()))?;
        let lost = lost_state(&opened);
        let mut fw: Box<dyn Firewall> = match cfg.daemon.firewall {
            _ if opts.dry_run => Box::new(crate::ban::dry_run::DryRunFirewall::new()),
            FirewallKind::DryRun => Box::new(crate::ban::dry_run::DryRunFirewall::new()),
            FirewallKind::Iptables => Box::new(crate::ban::iptables::IptablesFirewall::new()?),
            FirewallKind::Nftables => Box::new(crate::ban::nft::NftFirewall::new()?),
        };
        // What this backend made, as state.db records it (ban/owner.rs). Without a
        // state file the backend goes by its markers and the looks of its objects.
        if let Some(store) = state.store() {
            match ledger::StateLedger::open(store, fw.name()) {
                Ok(l) => fw.set_ledger(Box::new(l)),
                Err(e) => tracing::error!(
                    "{e}; the firewall objects banjo makes are not recorded this run"
                ),
            }
        }
        let readers_gid = cfg.daemon.readers_group.as_deref().and_then(|g| {
            let gid = nix::unistd::Group::from_name(g)
                .ok()
                .flatten()
                .map(|g| g.gid.as_raw());
            if gid.is_none() {
                tracing::warn!(
                    "readers_group {g:?} does not exist; only root may use the control socket"
                );
            }
            gid
        });
        let (listener, bound) = match notify::activation_listener() {
            Some(l) => (l, None),
            None => {
                let path = opts.socket.as_ref().unwrap_or(&cfg.daemon.socket);
                let l = bind_socket(path)?;
                // Readers reach the 0660 socket through its group (banjo.socket sets
                // SocketGroup itself when systemd binds it).
                if let Some(gid) = readers_gid {
                    // Under the hardened unit (no CAP_CHOWN) this fails; banjo.socket's
                    // SocketGroup= is the way there. Not a reason to refuse to start.
                    if let Err(e) =
                        nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid)))
                    {
                        tracing::warn!(
                            "cannot give {} to the readers group ({e}); use banjo.socket (SocketGroup=) for readers",
                            path.display()
                        );
                    }
                }
                (l, Some(path.clone()))
            }
        };
        let mut server = Server::new(listener)?;
        if let Some(path) = bound {
            server.remove_on_drop(&path);
        }

        let configs: Vec<Arc<JailConfig>> = cfg.jails.iter().map(|j| Arc::new(j.clone())).collect();
        let self_addrs = crate::addr::local_addresses();
        let mut pipeline = Pipeline::new(configs, &self_addrs);
        pipeline.set_tracker_memory(cfg.daemon.tracker_memory);
        pipeline.now = parts.clock.now_us();
        let (source, journal_at): (Box<dyn CursorSource>, _) = match parts.source {
            Some(s) => (s as Box<dyn CursorSource>, None),
            None => (
                Box::new(open_source(&opts, &pipeline)?),
                Some(opts.journal.clone().unwrap_or(Location::System)),
            ),
        };
        let signals = match parts.signals {
            true => Some(SignalFd::with_flags(
                &handled_signals(),
                SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
            )?),
            false => None,
        };
        let actions = actions::ActionRunner::new(cfg.daemon.action_concurrency);
        let wake = open_wake(&cfg, opts.dry_run);
        let endpoint = cfg.metrics.listen.as_ref().and_then(|l| {
            // Metrics are not worth going unprotected for: say why, run on.
            crate::metrics::endpoint::MetricsEndpoint::start(l)
                .inspect_err(|e| tracing::error!("{e}; /metrics is not served"))
                .ok()
        });
        let mut d = Daemon {
            opts,
            cfg,
            pipeline,
            source,
            journal_at,
            clock: parts.clock,
            shutdown: parts.shutdown,
            signals,
            files: None,
            state,
            totals: Default::default(),
            stale: Vec::new(),
            fw,
            server,
            actions,
            notifier,
            readers_gid,
            last_cursor_commit: Instant::now(),
            cursor_dirty: false,
            files_dirty: false,
            ifwatch: ifwatch::IfWatch::new(),
            wake,
            connection_wakeups: 0,
            last_refresh: Instant::now(),
            last_watchdog: Instant::now(),
            active_until: None,
            unreported: Default::default(),
            held_since: None,
            awaiting: Default::default(),
            decisions_since_trim: 0,
            quiet_at: None,
            down: Vec::new(),
            drift: drift::DriftWatch::off(),
            metrics: Default::default(),
            endpoint,
            health: Default::default(),
            stop: false,
        };
        d.announce_state();
        d.log_state_warnings();
        d.setup_firewall();
        let resume = d.restore_bans(lost.as_deref())?;
        // Listening starts once banjo's own setup is done: only later changes count.
        if !d.opts.dry_run {
            let every = d
                .cfg
                .daemon
                .drift_check
                .map(|us| Duration::from_micros(us as u64));
            d.drift = drift::DriftWatch::new(d.fw.as_ref(), every);
        }
        d.position_reader(resume)?;
        d.open_files(true);
        Ok(d)
    }

    /// Resume after the saved cursor, each jail re-reading its own findtime of history
    /// first (counting only, see warmup.rs) so failure windows are whole again. With no
    /// saved cursor: `--since`, else (the state was lost) after the last entry banjo's
    /// previous run wrote, else the end of the journal.
    fn position_reader(&mut self, resume: Option<String>) -> anyhow::Result<()> {
        let stored = match self.state.store() {
            Some(s) => s.cursor()?,
            None => None,
        };
        let cursor = match (stored, self.opts.since, resume) {
            (Some(c), _, _) => Some(c),
            (None, Some(t), _) => {
                self.source.seek_realtime(t)?;
                return Ok(());
            }
            (None, None, Some(c)) => {
                tracing::warn!(
                    "no saved journal position: resuming after the last entry of banjo's previous run"
                );
                Some(c)
            }
            (None, None, None) => None,
        };
        let Some(c) = cursor else {
            self.source.seek_tail()?;
            // Save "the end of the journal now" at once: should we die within the
            // first second, the next start resumes here instead of at a later tail,
            // and misses nothing.
            if let Ok(c) = self.source.cursor() {
                let batch = crate::state::Batch {
                    cursor: Some(c),
                    ..Default::default()
                };
                if self.state.commit(&batch).is_err() {
                    self.announce_state();
                }
            }
            return Ok(());
        };
        match self.source.cursor_time(&c)? {
            Some(t) => {
                let Some(loc) = self.journal_at.clone() else {
                    self.source.seek_after_cursor(&c)?;
                    return Ok(());
                };
                match warmup::rebuild(&loc, &mut self.pipeline, &c, t) {
                    Ok(n) => tracing::info!(
                        "failure windows rebuilt from {n} entries (each jail its own findtime before the saved position)"
                    ),
                    // Windows start empty: a burst split by the restart may need its
                    // failures again. Not a reason to stay down.
                    Err(e) => tracing::error!("rebuilding failure windows: {e}"),
                }
            }
            None => tracing::warn!(
                "saved journal position is gone (journal vacuumed?); continuing at the next entry"
            ),
        }
        self.source.seek_after_cursor(&c)?;
        Ok(())
    }

    /// Follow the jails' logpaths: each file from its saved position (re-reading one
    /// findtime before it to rebuild windows, see logfile.rs), a file never seen from
    /// its end (`--since`: from its start, lines before that time read over). A file
    /// that cannot be followed is said and the rest run.
    fn open_files(&mut self, at_start: bool) {
        if self.pipeline.logpaths.is_empty() {
            self.files = None;
            return;
        }
        let saved = self.saved_file_positions();
        self.open_files_from(saved, at_start);
    }

    fn open_files_from(&mut self, saved: Positions, at_start: bool) {
        let paths: Vec<LogPath> = self
            .pipeline
            .logpaths
            .iter()
            .map(|p| LogPath {
                pattern: p.pattern.clone(),
                dates: p.datepattern.clone(),
            })
            .collect();
        if paths.is_empty() {
            self.files = None;
            return;
        }
        let first = at_start && saved.patterns.is_empty();
        let (start, since) = match self.opts.since {
            Some(t) if first => (Start::Beginning, Some(t)),
            _ => (Start::End, None),
        };
        let configs: Vec<Arc<JailConfig>> = self
            .pipeline
            .jails
            .iter()
            .map(|j| j.config.clone())
            .collect();
        let window = crate::pipeline::logfile_window(&configs);
        match LogFileSource::open(
            paths,
            &saved,
            start,
            since,
            window,
            &self.pipeline.wanted_fields(),
        ) {
            Ok(mut f) => {
                for n in f.take_notes() {
                    tracing::warn!("log files: {n}");
                }
                tracing::info!("following {} log files", f.open_files());
                self.files = Some(f);
                // As for the journal's tail: the positions of a first start are saved
                // at once, so a crash in the first second misses nothing.
                if first {
                    self.files_dirty = true;
                    self.commit_cursor();
                }
            }
            Err(e) => tracing::error!("log files: {e}; no log file is read"),
        }
    }

    /// After a reload: follow the new set of logpaths, if it changed, from where the
    /// old follower stood. No warm-up: the failure windows were carried over.
    pub(crate) fn reopen_files(&mut self) {
        let now: Vec<&str> = self
            .pipeline
            .logpaths
            .iter()
            .map(|p| p.pattern.as_str())
            .collect();
        let was: Vec<&str> = match &self.files {
            Some(f) => f.patterns().iter().map(|p| p.pattern.as_str()).collect(),
            None => Vec::new(),
        };
        if now == was {
            return;
        }
        self.files_dirty = true;
        let mut saved = self
            .files
            .as_ref()
            .map(|f| f.positions())
            .unwrap_or_default();
        for p in &mut saved.files {
            p.warm = p.offset;
        }
        self.files = None;
        self.open_files_from(saved, false);
    }

    fn saved_file_positions(&self) -> Positions {
        let text = match self.state.store().map(|s| s.file_positions()) {
            Some(Ok(Some(t))) => t,
            Some(Err(e)) => {
                tracing::error!("{e}; log files start at their end");
                return Positions::default();
            }
            _ => return Positions::default(),
        };
        LogFileSource::parse_positions(&text).unwrap_or_else(|e| {
            tracing::error!(
                "stored log-file positions unreadable ({e}); log files start at their end"
            );
            Positions::default()
        })
    }

    /// The group the wake rules log to, when we listen on it.
    pub(crate) fn wake_group(&self) -> Option<u16> {
        self.wake.as_ref().map(|w| w.group())
    }

    fn status_line(&self) -> String {
        let bans = self.pipeline.bans.len();
        let mut line = format!("{} jails, {} active bans", self.pipeline.jails.len(), bans);
        if let Some(t) = self.state.trouble() {
            line.push_str(&format!(
                "; STATE NOT DURABLE ({}): {} bans not recorded: {}",
                self.state.mode(),
                self.state.pending_bans(),
                t.reason
            ));
        }
        line
    }

    /// The daemon's wall clock (see clock.rs).
    pub(crate) fn now_us(&self) -> Micros {
        self.clock.now_us()
    }

    fn main_loop(&mut self) -> anyhow::Result<()> {
        // Catch up before announcing readiness: READY=1 means bans are restored and the
        // reader is current.
        self.drain_sources()?;
        self.remove_stale();
        give_back_memory();
        self.notifier
            .notify(&format!("READY=1\nSTATUS={}", self.status_line()));
        tracing::info!("banjo started: {}", self.status_line());
        if !crate::journal::sdjournal::skips_unreadable_fields() {
            // libsystemd < 246 (RHEL 8, Ubuntu 20.04): sd_journal_enumerate_data only.
            tracing::info!(
                "this libsystemd has no sd_journal_enumerate_available_data (systemd < 246): a journal field banjo cannot read ends that entry's field walk"
            );
        }
        if !crate::filter::engine::jit_allowed() {
            // Expected under the shipped unit (MemoryDenyWriteExecute=yes).
            tracing::info!(
                "no writable and executable memory here: filters run on PCRE2's interpreter, not its JIT"
            );
        }

        while !self.stop && !self.shutdown.is_triggered() {
            let timeout = self.poll_timeout();
            // Asked each round: a reload may have opened a new reader.
            let raw = self.source.wait_fd()?;
            // Safety: the source owns this fd and is not replaced while `fds` lives.
            let jfd = unsafe { BorrowedFd::borrow_raw(raw) };
            let mut fds = vec![
                PollFd::new(jfd, PollFlags::POLLIN),
                PollFd::new(self.shutdown.fd(), PollFlags::POLLIN),
            ];
            let signal_at = self.signals.as_ref().map(|s| {
                fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let clock_at = self.clock.fd().map(|fd| {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
                fds.len() - 1
            });
            let if_at = self.ifwatch.as_ref().map(|w| {
                fds.push(PollFd::new(w.fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let wake_at = self.wake.as_ref().map(|w| {
                fds.push(PollFd::new(w.fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let drift_at = self.drift.fd().map(|fd| {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
                fds.len() - 1
            });
            let scrape_at = self.endpoint.as_ref().map(|m| {
                fds.push(PollFd::new(m.fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let files_fd = self.files.as_mut().and_then(|f| f.poll_fd());
            // Safety: the follower owns this fd and is not replaced while `fds` lives.
            let files_at = files_fd.map(|raw| {
                fds.push(PollFd::new(
                    unsafe { BorrowedFd::borrow_raw(raw) },
                    PollFlags::POLLIN,
                ));
                fds.len() - 1
            });
            let base = fds.len();
            let ctl = self.server.poll_fds();
            let nctl = ctl.len();
            for (fd, write) in ctl {
                let flags = if write {
                    PollFlags::POLLOUT
                } else {
                    PollFlags::POLLIN
                };
                fds.push(PollFd::new(fd, flags));
            }
            match nix::poll::poll(&mut fds, timeout) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            let journal_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
            let shutdown_ready = fds[1].revents().is_some_and(|r| !r.is_empty());
            let ctl_ready = fds[base..base + nctl]
                .iter()
                .any(|f| f.revents().is_some_and(|r| !r.is_empty()));
            let ready = |at: Option<usize>| {
                at.is_some_and(|i| fds[i].revents().is_some_and(|r| !r.is_empty()))
            };
            let signal_ready = ready(signal_at);
            let clock_ready = ready(clock_at);
            let if_ready = ready(if_at);
            let wake_ready = ready(wake_at);
            let drift_ready = ready(drift_at);
            let scrape_ready = ready(scrape_at);
            let files_ready = ready(files_at);
            drop(fds);
            if shutdown_ready {
                self.shutdown.drain();
            }
            if clock_ready {
                self.clock.drain();
            }

            if drift_ready {
                self.drift.readable();
            }

            if wake_ready && self.wake.as_ref().is_some_and(|w| w.drain()) {
                // A connection to a jail's ports: its failures are about to be logged.
                self.connection_wakeups += 1;
                let until = Instant::now() + CONNECTED_FOR;
                if self.active_until.is_none_or(|t| t < until) {
                    self.active_until = Some(until);
                }
            }

            if if_ready && self.ifwatch.as_ref().is_some_and(|w| w.drain()) {
                let addrs = crate::addr::local_addresses();
                for j in &mut self.pipeline.jails {
                    j.set_self_addrs(&addrs);
                }
                tracing::info!(
                    "this host's addresses changed; ignoreself now covers {} addresses",
                    addrs.len()
                );
            }

            if signal_ready {
                while let Some(info) = self
                    .signals
                    .as_ref()
                    .and_then(|s| s.read_signal().ok().flatten())
                {
                    match Signal::try_from(info.ssi_signo as i32) {
                        Ok(Signal::SIGTERM) | Ok(Signal::SIGINT) => self.stop = true,
                        Ok(Signal::SIGHUP) => {
                            let r = self.reload();
                            if let Err(e) = r {
                                tracing::error!("reload: {e:#}");
                            }
                        }
                        _ => {}
                    }
                }
            }
            if journal_ready {
                // Consume the inotify events (rotation, new files) before reading on.
                self.source.readable();
            }
            if files_ready {
                if let Some(f) = self.files.as_mut() {
                    f.readable();
                }
            }
            self.drain_sources()?;
            self.expire_bans();
            self.tend_windows();
            if ctl_ready || self.server.client_count() > 0 {
                self.serve_control();
            }
            if self.actions.busy() {
                self.actions.pump();
            }
            if let Some(due) = self.drift.due() {
                self.on_drift(due);
            }
            if (self.cursor_dirty || self.files_dirty)
                && self.last_cursor_commit.elapsed() >= CURSOR_EVERY
            {
                self.commit_cursor();
            }
            self.retry_state();
            if scrape_ready {
                if let Some(m) = &self.endpoint {
                    m.serve(|| self.render_metrics());
                }
            }
            self.tend_health();
            self.tend_metrics();
            if self.quiet_at.is_some_and(|t| t <= Instant::now()) {
                self.quiet();
            }
            if self.last_refresh.elapsed() >= REFRESH_EVERY {
                self.refresh_long_bans();
                self.forget_old_counts(self.now_us());
                give_back_memory();
            }
            self.keepalive();
        }
        Ok(())
    }

    fn poll_timeout(&self) -> PollTimeout {
        let mut t: Option<Duration> = None;
        let mut min = |d: Duration| t = Some(t.map_or(d, |x| x.min(d)));
        if let Some(deadline) = self.pipeline.bans.next_deadline() {
            let left = (deadline - self.now_us()).max(0) as u64;
            min(Duration::from_micros(left) + Duration::from_millis(1));
        }
        // Expired failure windows are swept on time, not only when failures come.
        if let Some(due) = self.pipeline.tracker.due() {
            let left = (due - self.now_us()).max(0) as u64;
            min(Duration::from_micros(left) + Duration::from_millis(1));
        }
        if let Some(w) = self.notifier.watchdog {
            min(w);
        }
        if self.actions.busy() {
            min(Duration::from_millis(50));
        }
        if let Some(dl) = self.server.next_deadline() {
            min(dl.saturating_duration_since(Instant::now()) + Duration::from_millis(1));
        }
        if self.cursor_dirty || self.files_dirty {
            min(CURSOR_EVERY);
        }
        // A rotated file being drained is looked at without events (logfile.rs).
        if let Some(dl) = self.files.as_ref().and_then(|f| f.deadline()) {
            min(dl.saturating_duration_since(Instant::now()) + Duration::from_millis(1));
        }
        if let Some(t) = self.state.retry_at() {
            min(t.saturating_duration_since(Instant::now()) + Duration::from_millis(1));
        }
        if self.active_until.is_some_and(|t| t > Instant::now()) {
            min(ACTIVE_POLL);
        }
        if let Some(t) = self.quiet_at {
            min(t.saturating_duration_since(Instant::now()));
        }
        if let Some(d) = self.drift.timeout() {
            min(d);
        }
        if let Some(d) = self.metrics_timeout() {
            min(d);
        }
        if let Some(d) = self.health_timeout() {
            min(d);
        }
        min(REFRESH_EVERY.saturating_sub(self.last_refresh.elapsed()));
        match t {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::MAX),
        }
    }

    /// Read every entry available now, in batches, deciding as we go.
    ///
    /// A full batch means a backlog. Then each batch's commit runs on a second thread
    /// while the next batch is read, and its bans go to the kernel in the background
    /// once that commit is done (`Firewall::ban_start`): reading, SQLite and ipset
    /// overlap, and the order state → kernel → journal entry still holds for every
    /// ban. Nothing of batch k+1 is committed or applied before batch k.
    fn drain_sources(&mut self) -> anyhow::Result<()> {
        self.drain(Which::Journal)?;
        if self.files.is_some() {
            self.drain(Which::Files)?;
        }
        Ok(())
    }

    /// [`Daemon::drain_sources`] for one source. Each batch's decisions are committed
    /// with that source's position.
    fn drain(&mut self, which: Which) -> anyhow::Result<()> {
        // Batch k, decided, its commit not yet started.
        let mut decided: Option<apply::Prepared> = None;
        loop {
            let mut events = Vec::new();
            // Shared by the commit thread and its fallback, which the borrow checker
            // cannot tell apart.
            let store = &std::sync::Mutex::new(&mut self.state);
            let Some(source) = which.of(&mut self.source, &mut self.files) else {
                return Ok(());
            };
            let mut reader = Reader {
                source,
                pipeline: &mut self.pipeline,
            };
            let (read, committed) = std::thread::scope(|s| {
                let batch = decided.as_ref().map(|p| &p.batch).filter(|b| !b.is_empty());
                let Some(batch) = batch else {
                    return (reader.read_batch(&mut events), None);
                };
                let spawned = std::thread::Builder::new()
                    .name("state-commit".into())
                    .spawn_scoped(s, || commit_shared(store, batch));
                match spawned {
                    Ok(h) => {
                        let read = reader.read_batch(&mut events);
                        let committed = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                        (read, Some(committed))
                    }
                    // No thread to be had (TasksMax): commit first, then read, as
                    // outside a backlog.
                    Err(e) => {
                        tracing::warn!("no thread for the state commit ({e}); committing inline");
                        let committed = commit_shared(store, batch);
                        (reader.read_batch(&mut events), Some(committed))
                    }
                }
            });
            if let Some(p) = decided.take() {
                self.carry_out(p, committed.unwrap_or(Ok(())), true);
            }
            let (n, taken, notes) = read;
            for note in notes {
                tracing::warn!("{}: {note}", which.name());
            }
            match which {
                Which::Journal => {
                    self.metrics.entries_read += n as u64;
                    if n > 0 {
                        self.metrics.journal_lag_us = self.now_us() - self.pipeline.now;
                    }
                }
                Which::Files => self.metrics.lines_read += n as u64,
            }
            self.say_notices();
            if n == 0 {
                self.report();
                return Ok(());
            }
            self.quiet_at = Some(Instant::now() + QUIET_AFTER);
            // Only entries a jail cares about arm the quick polling: unrelated chatter
            // in the journal must not keep an idle banjo awake.
            if taken > 0 {
                self.active_until = Some(Instant::now() + ACTIVE_FOR);
            }
            // A full batch means a backlog: more entries are probably waiting.
            let more_coming = n == BATCH;
            match which {
                Which::Journal => self.cursor_dirty = true,
                Which::Files => self.files_dirty = true,
            }
            let cursor = if events.is_empty() {
                None
            } else {
                which
                    .of(&mut self.source, &mut self.files)
                    .and_then(|s| s.position())
            };
            let p = self.prepare(events, cursor);
            if more_coming {
                decided = Some(p);
            } else {
                let committed = self.state.commit(&p.batch);
                self.carry_out(p, committed, false);
            }
            if !more_coming {
                self.report();
                return Ok(());
            }
            // A long catch-up (a flood, a restart after downtime) must not look like a
            // hang to systemd's watchdog.
            self.keepalive();
        }
    }

    /// Say, once per jail and kind, that a failure's address cannot be banned.
    fn say_notices(&mut self) {
        for n in std::mem::take(&mut self.pipeline.notices) {
            log::unbannable(&n.jail, &n.ip.to_string(), n.why.as_str());
        }
        for n in std::mem::take(&mut self.pipeline.escalation_notices) {
            log::escalation_refused(&n.jail, &n.net.to_string(), &n.why.to_string());
        }
    }

    /// Re-add bans that outlast ipset's largest timeout, so the kernel keeps them.
    fn refresh_long_bans(&mut self) {
        self.last_refresh = Instant::now();
        let now = self.now_us();
        let horizon = now + (REFRESH_EVERY.as_micros() as Micros) * 2;
        for ji in 0..self.pipeline.jails.len() {
            let entries: Vec<crate::ban::BanEntry> = self
                .pipeline
                .bans
                .of_jail(ji)
                .filter(|b| b.until.is_some_and(|u| u > horizon))
                .map(|b| kernel_entry(b.addr, b.until, now))
                .collect();
            if !entries.is_empty() {
                let name = self.pipeline.jails[ji].config.name.clone();
                self.enforce(&name, &entries, "refreshing long");
            }
        }
    }

    /// Forget ban counts older than `[daemon] ban_count_max_age`, on disk and in
    /// memory, so that they do not pile up for every address ever banned (the same
    /// rule on both sides: not banned now, latest ban begun before the cutoff).
    fn forget_old_counts(&mut self, now: Micros) {
        let BanTime::Finite(age) = self.cfg.daemon.ban_count_max_age else {
            return;
        };
        let before = now.saturating_sub(age);
        let Some(store) = self.state.store_mut() else {
            self.pipeline.bans.forget_counts(before);
            return;
        };
        match store.prune_counts(before) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "forgot the ban counts of {n} addresses whose latest ban began over {} ago",
                self.cfg.daemon.ban_count_max_age
            ),
            // Only the increment of old offenders is at stake: carry on.
            Err(e) => tracing::error!("{e}"),
        }
        self.pipeline.bans.forget_counts(before);
    }

    /// Count decisions toward the next heap trim (see quiet()).
    pub(crate) fn note_decisions(&mut self, n: usize) {
        self.decisions_since_trim += n;
    }

    /// The journal has been quiet for QUIET_AFTER: drop the journal pages reading
    /// mapped, and after a burst the freed heap as well. One wake-up after each busy
    /// spell; none while entries keep coming, none on a host with nothing to read.
    fn quiet(&mut self) {
        self.quiet_at = None;
        if self.decisions_since_trim >= TRIM_AFTER {
            self.decisions_since_trim = 0;
            give_back_memory();
        } else {
            release_journal_pages();
        }
    }

    fn keepalive(&mut self) {
        if let Some(w) = self.notifier.watchdog {
            if self.last_watchdog.elapsed() >= w {
                self.notifier.notify("WATCHDOG=1");
                self.last_watchdog = Instant::now();
            }
        }
    }

    fn expire_bans(&mut self) {
        let mut events = Vec::new();
        self.pipeline
            .advance(self.now_us(), &mut |ev| events.push(ev));
        if !events.is_empty() {
            // Not durable: the kernel lifted them anyway; their entries wait (apply.rs).
            let _ = self.apply(events, None).committed;
        }
    }

    /// Save where the sources stand (nothing decided since the last save).
    fn commit_cursor(&mut self) {
        let batch = crate::state::Batch {
            cursor: self.source.cursor().ok().filter(|_| self.cursor_dirty),
            files: match (&mut self.files, self.files_dirty) {
                (Some(f), true) => match f.position() {
                    Some(Position::Files(t)) => Some(t),
                    _ => None,
                },
                _ => None,
            },
            ..Default::default()
        };
        if batch.is_empty() {
            return;
        }
        if self.state.commit(&batch).is_err() {
            // Kept with the decisions that are not durable; said once, when it began.
            self.announce_state();
        }
        self.cursor_dirty = false;
        self.files_dirty = false;
        self.last_cursor_commit = Instant::now();
    }

    fn shutdown(&mut self) {
        self.notifier.notify("STOPPING=1");
        // Bans a backlog held back (an error ended the loop mid-way) still get their
        // journal entries and hooks.
        self.report();
        if self.cursor_dirty || self.files_dirty {
            self.commit_cursor();
        }
        self.last_state_attempt();
        if self.cfg.daemon.unban_on_stop {
            for j in &self.pipeline.jails {
                match self.fw.teardown(&j.config.name) {
                    Ok(left) => {
                        for l in left {
                            tracing::warn!("[{}] teardown at stop: {l}", j.config.name);
                        }
                    }
                    Err(e) => {
                        log::firewall_error(&j.config.name, &format!("teardown at stop: {e}"))
                    }
                }
            }
        }
        log::flush();
        tracing::info!("banjo stopped: {}", self.status_line());
    }
}

fn commit_shared(
    store: &std::sync::Mutex<&mut Durable>,
    batch: &crate::state::Batch,
) -> Result<(), crate::state::NotDurable> {
    match store.lock() {
        Ok(mut st) => st.commit(batch),
        Err(poisoned) => poisoned.into_inner().commit(batch),
    }
}

/// The parts of the daemon that reading a batch touches, apart from the state, so a
/// commit can run beside it.
struct Reader<'a> {
    source: &'a mut dyn EntrySource,
    pipeline: &'a mut Pipeline,
}

/// Which of the daemon's sources a drain reads.
#[derive(Debug, Clone, Copy)]
enum Which {
    Journal,
    Files,
}

impl Which {
    fn of<'a>(
        self,
        journal: &'a mut Box<dyn CursorSource>,
        files: &'a mut Option<LogFileSource>,
    ) -> Option<&'a mut dyn EntrySource> {
        match self {
            Which::Journal => Some(&mut **journal as &mut dyn EntrySource),
            Which::Files => files.as_mut().map(|f| f as &mut dyn EntrySource),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Which::Journal => "journal",
            Which::Files => "log files",
        }
    }
}

impl Reader<'_> {
    /// Read and decide up to BATCH entries; (entries read, entries a jail took, the
    /// source's notes).
    fn read_batch(
        &mut self,
        events: &mut Vec<crate::events::Event>,
    ) -> (usize, usize, Vec<String>) {
        let mut taken = 0;
        let pipeline = &mut *self.pipeline;
        let n = self.source.read_batch(BATCH, &mut |entry| {
            if pipeline.feed(entry, &mut |ev| events.push(ev)) {
                taken += 1;
            }
        });
        (n, taken, self.source.take_notes())
    }
}

/// Why the state that was opened holds nothing of the last run, if it does not: then
/// the kernel's sets and the journal are the only records left, and are adopted.
fn lost_state(opened: &Opened) -> Option<String> {
    match opened {
        Opened::Store(OpenOutcome::Loaded) => None,
        Opened::Store(OpenOutcome::Fresh) => {
            Some("no state file: a first start, or state.db was deleted".into())
        }
        Opened::Store(OpenOutcome::MovedAside { path, reason }) => {
            tracing::error!(
                "state file was unusable ({reason}); moved aside to {}; starting with a new one",
                path.display()
            );
            Some(format!(
                "the state file was unusable ({reason}) and moved aside to {}",
                path.display()
            ))
        }
        Opened::Memory(e) => Some(format!("no state file could be opened: {e}")),
    }
}

/// The kernel's copy of a ban: its remaining time in whole seconds, at least 1
/// (ipset's timeout 0 means forever), or none for a permanent ban.
pub(crate) fn kernel_entry(
    addr: crate::addr::Addr,
    until: Option<Micros>,
    now: Micros,
) -> crate::ban::BanEntry {
    crate::ban::BanEntry {
        addr,
        timeout_secs: until.map(|u| (((u - now) + SEC - 1) / SEC).clamp(1, u32::MAX as i64) as u32),
    }
}

/// Listen for the jails' wake rules, unless turned off or nothing is firewalled. A
/// group we cannot bind gets no rules (another program would receive them).
fn open_wake(cfg: &Config, dry_run: bool) -> Option<crate::ban::nflog::ConnectionWake> {
    let group = cfg.daemon.wake_group?;
    if dry_run || cfg.daemon.firewall == FirewallKind::DryRun {
        return None;
    }
    match crate::ban::nflog::ConnectionWake::open(group) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(
                "cannot listen on nfnetlink_log group {group} ({e}); new connections will not wake banjo, \
                 so the first failures of an attack wait for journald's notification (up to 250 ms). \
                 Set [daemon] nflog_group to a free group, or wake_on_connect = false"
            );
            None
        }
    }
}

fn open_source(opts: &RunOptions, p: &Pipeline) -> anyhow::Result<JournalSource> {
    let loc = opts.journal.clone().unwrap_or(Location::System);
    // No sd_journal matches when following (see JournalSource::open): every entry is
    // read and the pipeline routes it.
    let mut s = JournalSource::open(&loc, &[], &p.wanted_fields())?;
    s.precise_time = true;
    Ok(s)
}

fn bind_socket(path: &std::path::Path) -> anyhow::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if path.exists() {
        // A socket nobody answers on is left over from a crash; a live one means
        // another banjo is running.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!("another banjo is already listening on {}", path.display());
        }
        std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    let l = std::os::unix::net::UnixListener::bind(path)
        .with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(l)
}

/// What an idle daemon need not keep resident, given back after start-up, after a
/// burst (see TRIM_AFTER) and once a day:
/// - the heap that was freed (compiling every filter, the catch-up's batches, a burst's
///   buffers): glibc keeps freed pages mapped, and an idle daemon would carry them for
///   good (built-in config: heap 2.96 -> 2.40 MiB at idle);
/// - the journal pages libsystemd left mapped (see journal::mapped). This runs on the
///   main thread, which owns the journal reader, as that module requires.
fn give_back_memory() {
    // SAFETY: malloc_trim only returns free memory of glibc's own arenas to the kernel.
    unsafe {
        nix::libc::malloc_trim(0);
    }
    release_journal_pages();
}

fn release_journal_pages() {
    if let Err(e) = crate::journal::mapped::release_journal_pages() {
        tracing::debug!("releasing journal pages: {e}");
    }
}
