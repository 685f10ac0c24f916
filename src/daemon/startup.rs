//! Start-up: from a validated configuration to a daemon ready to loop. The state is
//! opened (or memory, when it cannot be), the firewall backend chosen and given its
//! ledger, the control socket bound (or taken from systemd), the pipeline built, the
//! firewall set up, the bans restored and the kernel reconciled with them
//! (durability.rs carries out reconcile.rs's plan), the reader positioned and the log
//! files opened. READY=1 follows in the loop, after the catch-up.
//!
//! Owns that order; must not read entries or decide.

use super::housekeeping::Housekeeping;
use super::reader::open_source;
use super::source::CursorSource;
use super::wakeup::Wakeup;
use super::{actions, drift, handled_signals, ifwatch, ledger, notify, Daemon, Parts, RunOptions};
use crate::ban::Firewall;
use crate::config::{Config, FirewallKind, JailConfig};
use crate::control::server::Server;
use crate::journal::sdjournal::Location;
use crate::pipeline::Pipeline;
use crate::state::{Durable, OpenOutcome, Opened};
use anyhow::Context;
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Daemon {
    pub(crate) fn start(
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
        let wakeup = Wakeup::open(&cfg, opts.dry_run);
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
            wakeup,
            housekeeping: Housekeeping::default(),
            unreported: Default::default(),
            held_since: None,
            awaiting: Default::default(),
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
}

/// Why the state that was opened holds nothing of the last run, if it does not: then
/// the kernel's sets and the journal are the only records left, and are adopted.
pub(crate) fn lost_state(opened: &Opened) -> Option<String> {
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

pub(crate) fn bind_socket(
    path: &std::path::Path,
) -> anyhow::Result<std::os::unix::net::UnixListener> {
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

/// The configuration as the daemon keeps it: every jail validated (errors in disabled
/// ones are reported too), only the enabled ones compiled and kept (a disabled jail's
/// patterns are checked by `banjo check`; see config::Compile::Enabled).
pub(crate) fn load_config(opts: &RunOptions) -> Config {
    crate::config::load_enabled(&opts.config_dir, opts.config_explicit)
}
