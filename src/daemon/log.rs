//! What banjo writes to the journal: one structured entry per ban, unban, restore,
//! firewall error and reload, each kind with its fixed MESSAGE_ID (see
//! units/banjo.catalog) and BANJO_* fields, so that
//! `journalctl MESSAGE_ID=<ban id> BANJO_IP=203.0.113.7` is one address's history.
//! Without a journal (tests, a terminal) the same lines go to stderr.

use crate::events::{MSGID_BAN, MSGID_FIREWALL_ERROR, MSGID_RELOAD, MSGID_RESTORE, MSGID_UNBAN};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

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
    let matches = matches.join("\n");
    tracing::warn!(
        message_id = MSGID_BAN,
        banjo_jail = jail,
        banjo_ip = ip,
        banjo_failures = failures,
        banjo_bantime = bantime,
        banjo_ban_count = count,
        banjo_matches = matches.as_str(),
        "[{jail}] Ban {ip} ({failures} failures, {bantime})"
    );
}

pub fn unban(jail: &str, ip: &str, reason: &str) {
    tracing::info!(
        message_id = MSGID_UNBAN,
        banjo_jail = jail,
        banjo_ip = ip,
        banjo_reason = reason,
        "[{jail}] Unban {ip} ({reason})"
    );
}

pub fn restore(jail: &str, ip: &str, remaining: &str) {
    tracing::info!(
        message_id = MSGID_RESTORE,
        banjo_jail = jail,
        banjo_ip = ip,
        banjo_bantime = remaining,
        "[{jail}] Restore Ban {ip} ({remaining} left)"
    );
}

pub fn firewall_error(jail: &str, what: &str) {
    tracing::error!(
        message_id = MSGID_FIREWALL_ERROR,
        banjo_jail = jail,
        "[{jail}] firewall error: {what}"
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
