//! What banjo writes to the journal: one structured entry per ban, unban, restore,
//! firewall error and reload, each kind with its fixed MESSAGE_ID (see
//! units/banjo.catalog) and BANJO_* fields, so that
//! `journalctl MESSAGE_ID=<ban id> BANJO_IP=203.0.113.7` is one address's history.
//! Without a journal (tests, a terminal) the same lines go to stderr.
//!
//! Entries are handed to a writer thread: journald takes about 12k entries/s here, and
//! a burst of 100k bans must reach the kernel without waiting for their history to be
//! written (measured: 8.3 s for 100k bans with synchronous writes, the loop blocked
//! in sendmsg). Order is kept; `flush` at shutdown waits until all are written.

use crate::events::{
    MSGID_ADOPTED, MSGID_BAN, MSGID_ESCALATED, MSGID_ESCALATION_REFUSED, MSGID_FIREWALL_ERROR,
    MSGID_JAIL_DOWN, MSGID_NOT_DURABLE, MSGID_RELOAD, MSGID_REPAIRED, MSGID_RESTORE,
    MSGID_STATE_DEGRADED, MSGID_STATE_RECOVERED, MSGID_TRACKER_FULL, MSGID_UNBAN, MSGID_UNBANNABLE,
};
use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// One entry on its way to the writer thread.
enum Record {
    Ban {
        jail: String,
        ip: String,
        failures: u32,
        bantime: String,
        count: u32,
        matches: String,
    },
    Unban {
        jail: String,
        ip: String,
        reason: String,
    },
    Escalated {
        jail: String,
        net: String,
        members: u32,
        bantime: String,
        count: u32,
        addresses: String,
    },
    Restore {
        jail: String,
        ip: String,
        remaining: String,
        /// Where an adopted ban was found ("kernel", "journal", "kernel+journal"); None
        /// for a ban restored from the state.
        adopted: Option<&'static str>,
    },
    NotDurable {
        jail: String,
        ip: String,
        bantime: String,
        reason: String,
    },
}

static WRITER: Mutex<Option<(Sender<Record>, JoinHandle<()>)>> = Mutex::new(None);

/// Start the writer thread (the daemon does; one-shot commands write directly).
pub fn start_writer() {
    let (tx, rx) = channel::<Record>();
    let handle = std::thread::Builder::new()
        .name("journal-writer".into())
        .spawn(move || {
            for r in rx {
                write(r);
            }
        });
    if let (Ok(h), Ok(mut w)) = (handle, WRITER.lock()) {
        *w = Some((tx, h));
    }
}

/// Wait until every queued entry is written (shutdown).
pub fn flush() {
    let taken = WRITER.lock().ok().and_then(|mut w| w.take());
    if let Some((tx, h)) = taken {
        drop(tx);
        let _ = h.join();
    }
}

fn submit(r: Record) {
    let r = match WRITER.lock() {
        Ok(w) => match w.as_ref() {
            Some((tx, _)) => match tx.send(r) {
                Ok(()) => return,
                Err(e) => e.0,
            },
            None => r,
        },
        Err(_) => r,
    };
    write(r);
}

fn write(r: Record) {
    match r {
        Record::Ban {
            jail,
            ip,
            failures,
            bantime,
            count,
            matches,
        } => tracing::warn!(
            message_id = MSGID_BAN,
            banjo_jail = jail.as_str(),
            banjo_ip = ip.as_str(),
            banjo_failures = failures,
            banjo_bantime = bantime.as_str(),
            banjo_ban_count = count,
            banjo_matches = matches.as_str(),
            "[{jail}] Ban {ip} ({failures} failures, {bantime})"
        ),
        Record::Escalated {
            jail,
            net,
            members,
            bantime,
            count,
            addresses,
        } => tracing::warn!(
            message_id = MSGID_ESCALATED,
            banjo_jail = jail.as_str(),
            banjo_ip = net.as_str(),
            banjo_members = members,
            banjo_bantime = bantime.as_str(),
            banjo_ban_count = count,
            banjo_addresses = addresses.as_str(),
            "[{jail}] Ban {net} ({members} of its addresses banned; {bantime}; their {members} bans replaced by this one)"
        ),
        Record::Unban { jail, ip, reason } => tracing::info!(
            message_id = MSGID_UNBAN,
            banjo_jail = jail.as_str(),
            banjo_ip = ip.as_str(),
            banjo_reason = reason.as_str(),
            "[{jail}] Unban {ip} ({reason})"
        ),
        Record::Restore {
            jail,
            ip,
            remaining,
            adopted: None,
        } => tracing::info!(
            message_id = MSGID_RESTORE,
            banjo_jail = jail.as_str(),
            banjo_ip = ip.as_str(),
            banjo_bantime = remaining.as_str(),
            "[{jail}] Restore Ban {ip} ({remaining} left)"
        ),
        Record::Restore {
            jail,
            ip,
            remaining,
            adopted: Some(from),
        } => tracing::warn!(
            message_id = MSGID_RESTORE,
            banjo_jail = jail.as_str(),
            banjo_ip = ip.as_str(),
            banjo_bantime = remaining.as_str(),
            banjo_adopted = from,
            "[{jail}] Restore Ban {ip} ({remaining} left; adopted from the {from} after the state was lost)"
        ),
        Record::NotDurable {
            jail,
            ip,
            bantime,
            reason,
        } => tracing::error!(
            message_id = MSGID_NOT_DURABLE,
            banjo_jail = jail.as_str(),
            banjo_ip = ip.as_str(),
            banjo_bantime = bantime.as_str(),
            banjo_reason = reason.as_str(),
            "[{jail}] Ban {ip} enforced, not durable: {reason} (in the kernel for {bantime}; recorded and reported once the state can be written)"
        ),
    }
}

/// Send logs to journald when its socket exists, else to stderr.
pub fn init() {
    let journal = std::path::Path::new("/run/systemd/journal/socket").exists();
    if journal {
        if let Ok(layer) = tracing_journald::layer() {
            // No prefix: our fields are named as the catalog documents them
            // (BANJO_JAIL, not F_BANJO_JAIL).
            let layer = layer
                .with_field_prefix(None)
                .with_syslog_identifier("banjo".into());
            let _ = tracing_subscriber::registry().with(layer).try_init();
            return;
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

pub fn ban(jail: &str, ip: &str, failures: u32, bantime: &str, count: u32, matches: &[String]) {
    submit(Record::Ban {
        jail: jail.to_owned(),
        ip: ip.to_owned(),
        failures,
        bantime: bantime.to_owned(),
        count,
        matches: matches.join("\n"),
    });
}

/// A network banned by subnet escalation in place of `members` bans of its addresses
/// (`addresses`: one per line).
pub fn escalated(
    jail: &str,
    net: &str,
    members: u32,
    bantime: &str,
    count: u32,
    addresses: &[String],
) {
    submit(Record::Escalated {
        jail: jail.to_owned(),
        net: net.to_owned(),
        members,
        bantime: bantime.to_owned(),
        count,
        addresses: addresses.join("\n"),
    });
}

/// A network that reached escalate_after and was not banned (said once per network).
pub fn escalation_refused(jail: &str, net: &str, why: &str) {
    tracing::warn!(
        message_id = MSGID_ESCALATION_REFUSED,
        banjo_jail = jail,
        banjo_ip = net,
        banjo_reason = why,
        "[{jail}] not escalating to {net}: {why}; its addresses stay banned one by one"
    );
}

pub fn unban(jail: &str, ip: &str, reason: &str) {
    submit(Record::Unban {
        jail: jail.to_owned(),
        ip: ip.to_owned(),
        reason: reason.to_owned(),
    });
}

pub fn restore(jail: &str, ip: &str, remaining: &str) {
    submit(Record::Restore {
        jail: jail.to_owned(),
        ip: ip.to_owned(),
        remaining: remaining.to_owned(),
        adopted: None,
    });
}

/// A ban adopted after a state loss, found in the kernel's set, in the journal's
/// history, or both (`from`).
pub fn adopted(jail: &str, ip: &str, remaining: &str, from: &'static str) {
    submit(Record::Restore {
        jail: jail.to_owned(),
        ip: ip.to_owned(),
        remaining: remaining.to_owned(),
        adopted: Some(from),
    });
}

/// A ban in the kernel whose commit failed: its "Ban" entry waits until it is durable.
pub fn not_durable(jail: &str, ip: &str, bantime: &str, reason: &str) {
    submit(Record::NotDurable {
        jail: jail.to_owned(),
        ip: ip.to_owned(),
        bantime: bantime.to_owned(),
        reason: reason.to_owned(),
    });
}

/// The state stopped being durable. `mode`: "not-writable" (commits fail) or
/// "memory" (no state file could be opened).
pub fn state_degraded(path: &std::path::Path, mode: &str, reason: &str) {
    let state = path.display().to_string();
    let how = match mode {
        "memory" => "no state file could be opened; running from memory",
        _ => "commits to the state file fail",
    };
    tracing::error!(
        message_id = MSGID_STATE_DEGRADED,
        banjo_state = state.as_str(),
        banjo_mode = mode,
        banjo_reason = reason,
        "state NOT DURABLE: {how} ({reason}); bans are still enforced in the kernel, with their timeouts, \
         but are not recorded and not reported as done; retrying with backoff (banjo status shows it)"
    );
}

/// The state is durable again; `bans` bans kept in memory were committed.
pub fn state_recovered(path: &std::path::Path, bans: usize, down_for: &str) {
    let state = path.display().to_string();
    tracing::warn!(
        message_id = MSGID_STATE_RECOVERED,
        banjo_state = state.as_str(),
        banjo_bans = bans,
        "state durable again ({state}) after {down_for}: committed the {bans} bans kept in memory; their Ban entries and hooks follow"
    );
}

/// After a state loss: what one jail adopted instead of unbanning it.
pub fn adopted_summary(jail: &str, kernel: usize, journal: usize, counts: usize, why: &str) {
    tracing::warn!(
        message_id = MSGID_ADOPTED,
        banjo_jail = jail,
        banjo_adopted_kernel = kernel,
        banjo_adopted_journal = journal,
        banjo_counts = counts,
        banjo_reason = why,
        "[{jail}] state was lost ({why}): adopted {} bans ({kernel} from the kernel's banjo-{jail} sets, \
         {journal} more from the journal's ban history) and {counts} ban counts, instead of unbanning them",
        kernel + journal
    );
}

pub fn firewall_error(jail: &str, what: &str) {
    super::metrics::count_firewall_error(jail);
    tracing::error!(
        message_id = MSGID_FIREWALL_ERROR,
        banjo_jail = jail,
        "[{jail}] firewall error: {what}"
    );
}

/// A ban the kernel did not take: not reported as a ban anywhere else.
pub fn ban_refused(jail: &str, ip: &str, reason: &str) {
    super::metrics::count_firewall_error(jail);
    tracing::error!(
        message_id = MSGID_FIREWALL_ERROR,
        banjo_jail = jail,
        banjo_ip = ip,
        banjo_reason = reason,
        "[{jail}] firewall error: {ip} not banned, the firewall refused it: {reason}"
    );
}

pub fn jail_down(jail: &str, reason: &str) {
    tracing::error!(
        message_id = MSGID_JAIL_DOWN,
        banjo_jail = jail,
        banjo_reason = reason,
        "[{jail}] jail not started: {reason}"
    );
}

/// `what`: what was missing or changed, and what was put back.
pub fn repaired(jail: &str, what: &str, bans: usize, trigger: &str) {
    tracing::warn!(
        message_id = MSGID_REPAIRED,
        banjo_jail = jail,
        banjo_repaired = what,
        banjo_bans = bans,
        banjo_trigger = trigger,
        "[{jail}] firewall repaired ({trigger}): {what}"
    );
}

pub fn unbannable(jail: &str, ip: &str, reason: &str) {
    tracing::warn!(
        message_id = MSGID_UNBANNABLE,
        banjo_jail = jail,
        banjo_ip = ip,
        banjo_reason = reason,
        "[{jail}] not banning {ip}: {reason}; more failures from such addresses are only counted (banjo status {jail})"
    );
}

pub fn reload(ok: bool, detail: &str) {
    if ok {
        tracing::info!(
            message_id = MSGID_RELOAD,
            "configuration reloaded: {detail}"
        );
    } else {
        tracing::error!(
            message_id = MSGID_RELOAD,
            "configuration reload refused, running configuration kept: {detail}"
        );
    }
}

/// The failure windows reached `[daemon] tracker_memory` and banjo began to forget
/// some (said once: `banjo status` counts them).
pub fn tracker_full(jail: &str, failures: usize, budget: usize) {
    tracing::warn!(
        message_id = MSGID_TRACKER_FULL,
        banjo_jail = jail,
        "failure windows reached tracker_memory ({} MiB): forgetting those with the fewest failures first, \
         oldest first (the first: jail {jail}, {failures} failure{}); addresses with more failures are kept \
         and still banned at maxretry. banjo status counts the forgotten windows; raise [daemon] tracker_memory \
         if this host sees that many failing addresses legitimately",
        budget >> 20,
        if failures == 1 { "" } else { "s" }
    );
}
