//! `banjo run`: follow the journal and the log files, decide, ban.
//!
//! One thread owns everything (the journal handle is neither Send nor Sync) and
//! sleeps in poll(2) on: the main source's fd (the journal's inotify fd), the log
//! files' inotify fd, the shutdown token, a signalfd (TERM, INT, HUP, CHLD), the
//! wake-up listener, the control socket and its clients. The poll timeout is the
//! earliest deadline (timers.rs). No polling loop: idle costs nothing.
//!
//! Order of a decision: durable state first (with the position that led to it),
//! then the firewall, then the journal entry and the hooks (apply.rs). A crash between
//! two steps is repaired at the next start by reconciling the kernel with the state
//! (reconcile.rs). A decision the state cannot take (full or read-only disk, no state
//! file at all) is still enforced in the kernel but reported as not durable, and its
//! journal entry and hooks wait until a retry makes it durable (durability.rs). A
//! firewall that changes under banjo while it runs (drift) is repaired by drift.rs.
//!
//! The parts, each a file: `startup` (to a daemon ready to loop), `reconcile` (the
//! pure want/have diff it carries out), `reader` (sources, positions, warm-up),
//! `backlog` (batches, the commit beside the next read), `apply`, `timers` (one
//! deadline type), `housekeeping` (memory, long bans, old counts, the watchdog),
//! `wakeup` (nflog and quick polling), `inputs` (the fds the loop sleeps on, and
//! their events), `reload`, `control` (the socket's verbs). What it takes from
//! outside is in [`Parts`], so it also runs inside a test process
//! (tests/daemon_inprocess.rs): the shutdown token, the clock, the main source.

pub mod actions;
mod apply;
mod backlog;
pub mod clock;
mod codepages;
mod control;
mod drift;
mod durability;
mod escalation;
mod firewall;
mod health;
mod history;
mod housekeeping;
mod ifwatch;
mod inputs;
mod ledger;
pub mod log;
mod metrics;
pub mod notify;
mod reader;
pub mod reconcile;
mod reload;
pub mod shutdown;
pub mod source;
mod startup;
mod timers;
pub mod wakeup;
mod warmup;
mod windows;

use crate::ban::{Firewall, JailRules};
use crate::config::{Config, JailConfig};
use crate::control::server::Server;
use crate::journal::filesource::LogFileSource;
use crate::journal::sdjournal::Location;
use crate::pipeline::Pipeline;
use crate::state::Durable;
use crate::timefmt::{Micros, SEC};
use clock::Clock;
use housekeeping::give_back_memory;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use reader::CURSOR_EVERY;
use shutdown::Shutdown;
use source::CursorSource;
use startup::load_config;
use std::path::PathBuf;
use std::time::Instant;

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
    /// When to poll the sources without an event (wakeup.rs: nflog, quick polling).
    wakeup: wakeup::Wakeup,
    /// Memory release, long-ban refreshes, the watchdog (housekeeping.rs).
    housekeeping: housekeeping::Housekeeping,
    /// Decisions handed to the firewall, whose journal entries and hooks wait until
    /// the kernel has them (see apply.rs), and since when.
    unreported: apply::HeldQueue,
    held_since: Option<Instant>,
    /// Decisions in the kernel that are not durable: their journal entries and hooks
    /// wait until the state takes them (see durability.rs).
    awaiting: apply::HeldQueue,
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
            let ready = self.wait()?;
            self.take_inputs(&ready);
            self.drain_sources()?;
            self.expire_bans();
            self.tend_windows();
            if ready.control || self.server.client_count() > 0 {
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
            if ready.scrape {
                if let Some(m) = &self.endpoint {
                    m.serve(|| self.render_metrics());
                }
            }
            self.tend_health();
            self.tend_metrics();
            if self
                .housekeeping
                .quiet_at
                .is_some_and(|t| t <= Instant::now())
            {
                self.quiet();
            }
            if self.housekeeping.last_refresh.elapsed() >= housekeeping::REFRESH_EVERY {
                self.refresh_long_bans();
                self.forget_old_counts(self.now_us());
                give_back_memory();
            }
            self.keepalive();
        }
        Ok(())
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
