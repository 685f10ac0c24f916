//! The daemon's metrics: the few counters that do not live elsewhere (reported bans
//! and unbans by reason, ban latency, journal lag, control requests), and the
//! rendering of everything into Prometheus's text format (docs/METRICS.md lists it).
//!
//! Most numbers already exist where they arise (`JailStats`, the tracker, the ban
//! book, drift.rs); they are read only when someone asks (`banjo metrics`, a scrape,
//! the textfile), so an unscraped daemon pays a few integer increments per entry and
//! no more. Must not decide or report anything; label values are jail names and fixed
//! words, never addresses (bounded cardinality).

use super::Daemon;
use crate::metrics::{Exposition, Histogram, Kind};
use crate::timefmt::Micros;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Ban latency buckets in seconds: from the failure's journal entry to the kernel
/// holding the ban. The quick path is a few ms; journald's inotify delay is 250 ms.
static LATENCY_BOUNDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Firewall errors by jail, counted where they are logged (log.rs, from any part of
/// the daemon). Rare: a lock is fine here, it is never on the path of an entry.
static FIREWALL_ERRORS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// Count one firewall error of `jail` (log::firewall_error, log::ban_refused).
pub(crate) fn count_firewall_error(jail: &str) {
    if let Ok(mut m) = FIREWALL_ERRORS.lock() {
        *m.entry(jail.to_owned()).or_default() += 1;
    }
}

fn firewall_errors() -> BTreeMap<String, u64> {
    FIREWALL_ERRORS
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default()
}

/// Why a ban was made, as the `reason` label says it: a ban from failures has at
/// least one (maxretry >= 1); one by hand has none.
pub(crate) fn ban_reason(failures: u32, escalated: u32) -> &'static str {
    if escalated > 0 {
        "escalated"
    } else if failures == 0 {
        "manual"
    } else {
        "failures"
    }
}

/// An unban's reason, as the `reason` label says it.
pub(crate) fn unban_reason(r: crate::events::UnbanReason) -> &'static str {
    match r {
        crate::events::UnbanReason::Expired => "expired",
        crate::events::UnbanReason::Manual => "manual",
        // Lifted because its network's ban (subnet escalation) covers it.
        crate::events::UnbanReason::Escalated => "escalated",
    }
}

/// Counters kept by the daemon itself. Plain integers: one thread owns them.
pub(crate) struct Counters {
    /// Entries read from the journal, whether a jail took them or not.
    pub(crate) entries_read: u64,
    /// Lines read from `logpath` files.
    pub(crate) lines_read: u64,
    /// Bans reported (durable and in the kernel), by (jail, reason).
    pub(crate) bans: BTreeMap<(String, &'static str), u64>,
    /// Unbans reported, by (jail, reason).
    pub(crate) unbans: BTreeMap<(String, &'static str), u64>,
    pub(crate) ban_latency: Histogram,
    /// Entry times of bans handed to the kernel and not yet settled.
    pub(crate) pending_latency: Vec<Micros>,
    /// At the last read: wall clock minus the newest entry's time.
    pub(crate) journal_lag_us: Micros,
    /// Control requests by verb.
    pub(crate) control: BTreeMap<&'static str, u64>,
    pub(crate) started_us: Micros,
    /// The textfile outlet: when to write next, and what was written last.
    pub(crate) textfile_due: Option<Instant>,
    pub(crate) textfile_last: Option<Instant>,
    pub(crate) textfile_seen: u64,
    /// Filter-health changes said (health.rs), so the textfile follows them.
    pub(crate) health_changes: u64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            entries_read: 0,
            lines_read: 0,
            bans: BTreeMap::new(),
            unbans: BTreeMap::new(),
            ban_latency: Histogram::new(LATENCY_BOUNDS),
            pending_latency: Vec::new(),
            journal_lag_us: 0,
            control: BTreeMap::new(),
            started_us: super::now_us(),
            textfile_due: None,
            textfile_last: None,
            textfile_seen: u64::MAX,
            health_changes: 0,
        }
    }
}

impl Counters {
    /// The kernel holds every ban handed to it so far: their latency is known.
    pub(crate) fn settled(&mut self, now: Micros) {
        for t in self.pending_latency.drain(..) {
            self.ban_latency
                .observe((now - t).max(0) as f64 / 1_000_000.0);
        }
    }

    /// A number that changes whenever any metric may have (for the textfile).
    fn generation(&self) -> u64 {
        self.entries_read
            .wrapping_add(self.lines_read)
            .wrapping_add(self.bans.values().sum::<u64>())
            .wrapping_add(self.unbans.values().sum::<u64>())
            .wrapping_add(self.control.values().sum::<u64>())
            .wrapping_add(self.health_changes)
            .wrapping_add(firewall_errors().values().sum::<u64>())
    }
}

fn jail_label(j: &str) -> [(&str, &str); 1] {
    [("jail", j)]
}

impl Daemon {
    /// Everything, as Prometheus's text format (docs/METRICS.md).
    pub(crate) fn render_metrics(&self) -> String {
        let mut e = Exposition::new();
        let m = &self.metrics;
        let jails = &self.pipeline.jails;
        e.family(
            "banjo_build_info",
            Kind::Gauge,
            "banjo's version; always 1.",
        )
        .sample(&[("version", env!("CARGO_PKG_VERSION"))], 1.0);
        e.family(
            "banjo_start_time_seconds",
            Kind::Gauge,
            "When this daemon started, in seconds since the epoch.",
        )
        .sample(&[], m.started_us as f64 / 1e6);
        e.family(
            "banjo_journal_entries_read_total",
            Kind::Counter,
            "Journal entries read, whether a jail took them or not.",
        )
        .sample(&[], m.entries_read as f64);
        e.family(
            "banjo_logfile_lines_read_total",
            Kind::Counter,
            "Lines read from the jails' logpath files.",
        )
        .sample(&[], m.lines_read as f64);
        e.family(
            "banjo_journal_lag_seconds",
            Kind::Gauge,
            "At the last read, how far the newest entry read was behind the wall clock.",
        )
        .sample(&[], m.journal_lag_us.max(0) as f64 / 1e6);
        let per_jail = |e: &mut Exposition, name: &str, help: &str, f: &dyn Fn(usize) -> u64| {
            let mut fam = e.family(name, Kind::Counter, help);
            for (i, j) in jails.iter().enumerate() {
                fam.sample(&jail_label(&j.config.name), f(i) as f64);
            }
        };
        per_jail(
            &mut e,
            "banjo_jail_entries_total",
            "Entries the jail's journalmatch took.",
            &|i| jails[i].stats.entries,
        );
        per_jail(
            &mut e,
            "banjo_jail_matched_total",
            "Entries the jail's failregex matched.",
            &|i| jails[i].stats.matched,
        );
        per_jail(
            &mut e,
            "banjo_jail_failures_total",
            "Failures counted toward a ban (not ignored, not already banned).",
            &|i| jails[i].stats.failures,
        );
        per_jail(
            &mut e,
            "banjo_jail_ignored_total",
            "Matched failures from ignoreip/ignoreself addresses.",
            &|i| jails[i].stats.ignored_addresses,
        );
        per_jail(
            &mut e,
            "banjo_jail_unbannable_total",
            "Failures from addresses no ban can cover (0.0.0.0, multicast, loopback).",
            &|i| jails[i].stats.unbannable,
        );
        self.render_bans(&mut e);
        e.family(
            "banjo_ban_latency_seconds",
            Kind::Histogram,
            "From the journal entry that completed a ban to the kernel holding it.",
        )
        .histogram(&[], &m.ban_latency);
        {
            let mut f = e.family(
                "banjo_firewall_errors_total",
                Kind::Counter,
                "Firewall operations that failed, and bans the kernel refused.",
            );
            for (j, n) in firewall_errors() {
                f.sample(&jail_label(&j), n as f64);
            }
        }
        {
            let mut f = e.family(
                "banjo_jail_up",
                Kind::Gauge,
                "1 if the jail runs, 0 if it is down (its firewall setup failed).",
            );
            for j in jails {
                f.sample(&jail_label(&j.config.name), 1.0);
            }
            for d in &self.down {
                f.sample(&jail_label(&d.jail), 0.0);
            }
        }
        e.family(
            "banjo_firewall_repairs_total",
            Kind::Counter,
            "Repairs of firewall drift (flushed sets, removed rules).",
        )
        .sample(&[], self.drift.repairs as f64);
        e.family(
            "banjo_state_durable",
            Kind::Gauge,
            "1 while decisions are written to state.db, 0 while they are not durable.",
        )
        .sample(&[], f64::from(u8::from(self.state.trouble().is_none())));
        self.render_tracker(&mut e);
        {
            let mut f = e.family(
                "banjo_control_requests_total",
                Kind::Counter,
                "Control socket requests, by verb.",
            );
            for (verb, n) in &m.control {
                f.sample(&[("verb", verb)], *n as f64);
            }
        }
        e.family(
            "banjo_connection_wakeups_total",
            Kind::Counter,
            "Wake-ups by a new connection to a jail's ports (NFLOG).",
        )
        .sample(&[], self.wakeup.connection_wakeups as f64);
        self.render_health(&mut e);
        e.finish()
    }

    fn render_bans(&self, e: &mut Exposition) {
        let m = &self.metrics;
        {
            let mut f = e.family(
                "banjo_bans_total",
                Kind::Counter,
                "Bans reported: durable and in the kernel, by jail and reason.",
            );
            for ((j, r), n) in &m.bans {
                f.sample(&[("jail", j), ("reason", r)], *n as f64);
            }
        }
        {
            let mut f = e.family(
                "banjo_unbans_total",
                Kind::Counter,
                "Unbans reported, by jail and reason.",
            );
            for ((j, r), n) in &m.unbans {
                f.sample(&[("jail", j), ("reason", r)], *n as f64);
            }
        }
        let mut f = e.family(
            "banjo_active_bans",
            Kind::Gauge,
            "Bans in force, by jail and address family.",
        );
        for (i, j) in self.pipeline.jails.iter().enumerate() {
            let (mut v4, mut v6) = (0u64, 0u64);
            for b in self.pipeline.bans.of_jail(i) {
                match b.addr.net() {
                    ipnet::IpNet::V4(_) => v4 += 1,
                    ipnet::IpNet::V6(_) => v6 += 1,
                }
            }
            let name = j.config.name.as_str();
            f.sample(&[("jail", name), ("family", "ipv4")], v4 as f64);
            f.sample(&[("jail", name), ("family", "ipv6")], v6 as f64);
        }
    }

    fn render_tracker(&self, e: &mut Exposition) {
        let t = &self.pipeline.tracker;
        e.family(
            "banjo_tracker_memory_bytes",
            Kind::Gauge,
            "Memory the failure windows of all jails take.",
        )
        .sample(&[], t.bytes() as f64);
        e.family(
            "banjo_tracker_memory_budget_bytes",
            Kind::Gauge,
            "[daemon] tracker_memory: what the failure windows may take.",
        )
        .sample(&[], t.budget() as f64);
        let mut f = e.family(
            "banjo_tracker_windows",
            Kind::Gauge,
            "Addresses with failures in the jail's findtime.",
        );
        for (i, j) in self.pipeline.jails.iter().enumerate() {
            f.sample(&jail_label(&j.config.name), t.failing(i) as f64);
        }
        let mut f = e.family(
            "banjo_tracker_evictions_total",
            Kind::Counter,
            "Failure windows forgotten to stay within tracker_memory.",
        );
        for (i, j) in self.pipeline.jails.iter().enumerate() {
            f.sample(&jail_label(&j.config.name), t.forgotten(i) as f64);
        }
    }

    fn render_health(&self, e: &mut Exposition) {
        let jails = &self.pipeline.jails;
        let mut f = e.family(
            "banjo_jail_health",
            Kind::Gauge,
            "1 while the jail's filter looks healthy, 0 while banjo warns about it (banjo status says why).",
        );
        for j in jails {
            let ok = self.health.problem(&j.config.name).is_none();
            f.sample(&jail_label(&j.config.name), f64::from(u8::from(ok)));
        }
        let mut f = e.family(
            "banjo_jail_health_problem",
            Kind::Gauge,
            "1 for the jail's current filter-health problem: silent, no_entries, unit_missing.",
        );
        for j in jails {
            let now = self.health.problem(&j.config.name).map(|p| p.key());
            for key in super::health::Problem::KEYS {
                let v = f64::from(u8::from(now == Some(key)));
                f.sample(&[("jail", j.config.name.as_str()), ("problem", key)], v);
            }
        }
    }

    /// The metrics outlets' share of each round of the loop: write the textfile when
    /// something changed, at most once per `textfile_interval`.
    pub(crate) fn tend_metrics(&mut self) {
        let Some(path) = self.cfg.metrics.textfile.clone() else {
            return;
        };
        let now = Instant::now();
        let generation = self.metrics.generation();
        if generation != self.metrics.textfile_seen && self.metrics.textfile_due.is_none() {
            let every = Duration::from_micros(self.cfg.metrics.textfile_interval as u64);
            let at = self.metrics.textfile_last.map_or(now, |l| l + every);
            self.metrics.textfile_due = Some(at.max(now));
        }
        if self.metrics.textfile_due.is_some_and(|t| t <= now) {
            self.metrics.textfile_due = None;
            self.metrics.textfile_last = Some(now);
            self.metrics.textfile_seen = generation;
            if let Err(e) = crate::metrics::write_textfile(&path, &self.render_metrics()) {
                tracing::warn!("metrics: cannot write {}: {e}", path.display());
            }
        }
    }

    /// When the loop must wake for the textfile.
    pub(crate) fn metrics_timeout(&self) -> Option<Duration> {
        self.metrics
            .textfile_due
            .map(|t| t.saturating_duration_since(Instant::now()))
    }
}
