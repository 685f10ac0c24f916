//! What banjo reports: ban and unban decisions, with the fixed MESSAGE_IDs under which
//! they are written to the journal (and which recidive reads back).

use crate::addr::Addr;
use crate::timefmt::{BanTime, Micros};
use serde::Serialize;

/// MESSAGE_ID of a ban entry. Never change: recidive and users' queries depend on it.
pub const MSGID_BAN: &str = "4d654fc42ce94fee9c9d8899ca99f1bc";
/// MESSAGE_ID of an unban entry.
pub const MSGID_UNBAN: &str = "c82385cce92748f0af9eb900125d4df7";
/// MESSAGE_ID of a ban restored at start-up.
pub const MSGID_RESTORE: &str = "311d43a350a34626bec34e1484193bd1";
/// MESSAGE_ID of a firewall error.
pub const MSGID_FIREWALL_ERROR: &str = "5b4ac9841ce640be9363127b1e7ba938";
/// MESSAGE_ID of a config reload.
pub const MSGID_RELOAD: &str = "5ded9ba2535c495588ed305c40219f64";
/// MESSAGE_ID of the first failure window forgotten for `[daemon] tracker_memory`.
pub const MSGID_TRACKER_FULL: &str = "320bfee182f741a1825bbbee42c3d35f";
/// MESSAGE_ID of a jail that could not start (its firewall setup was refused).
pub const MSGID_JAIL_DOWN: &str = "ce770b5a44a94e6c9dee499ea4b7497d";
/// MESSAGE_ID of a firewall repaired after drift (a flush, another firewall's reload).
pub const MSGID_REPAIRED: &str = "b004fbf9ba504032bd7b91cb3259ca05";
/// MESSAGE_ID of the first failure of a kind of address no ban can cover, per jail.
pub const MSGID_UNBANNABLE: &str = "b1249f7a209c4175ac053c992c28f9db";
/// MESSAGE_ID of a ban that is in the kernel but could not be made durable (its "Ban"
/// entry follows once it is).
pub const MSGID_NOT_DURABLE: &str = "d6d94dab8f4744eabdd229939849dc63";
/// MESSAGE_ID of "the state is not durable": a commit failed, or no state file could
/// be opened at start (banjo then runs from memory).
pub const MSGID_STATE_DEGRADED: &str = "ec9e28643cdf4481a8d68c493f02427a";
/// MESSAGE_ID of "the state is durable again", with what was committed.
pub const MSGID_STATE_RECOVERED: &str = "610371c8a56e46e8af2e0d1deafb66fd";
/// MESSAGE_ID of a network banned by subnet escalation (in place of its members' bans).
pub const MSGID_ESCALATED: &str = "76e91bb52e33438da8a9f741b84a9521";
/// MESSAGE_ID of a network that reached escalate_after but was not banned (it holds an
/// ignored address or this host's own, or the jail's escalate_max was reached).
pub const MSGID_ESCALATION_REFUSED: &str = "85a7c24b356f4894802c2766bb159657";
/// MESSAGE_ID of bans adopted from the kernel and the journal after the state was lost.
pub const MSGID_ADOPTED: &str = "3d572eaf91a2473e8ea265732decf0d6";
/// MESSAGE_ID of a jail's filter health changing: it stopped matching, sees no entry
/// while its service runs, or its unit does not exist (BANJO_HEALTH says which; "ok"
/// when it is over). See daemon/health.rs.
pub const MSGID_JAIL_HEALTH: &str = "8a3f0c5e7b1d4e26a9c4f2d18b6e0a73";

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    Ban {
        time_us: Micros,
        jail: String,
        #[serde(serialize_with = "ser_display")]
        addr: Addr,
        failures: u32,
        #[serde(serialize_with = "ser_display")]
        bantime: BanTime,
        /// n-th ban of this address in this jail.
        count: u32,
        matches: Vec<String>,
        /// A network banned by subnet escalation: how many bans of its addresses it
        /// replaces (0: an ordinary ban). Its `matches` are those addresses.
        #[serde(skip_serializing_if = "is_zero")]
        escalated: u32,
    },
    Unban {
        time_us: Micros,
        jail: String,
        #[serde(serialize_with = "ser_display")]
        addr: Addr,
        reason: UnbanReason,
    },
}

/// Why a ban ended (BANJO_REASON in the journal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnbanReason {
    /// Its bantime ran out.
    Expired,
    /// `banjo unban`.
    Manual,
    /// Replaced by a ban of a network that contains it (subnet escalation): still
    /// blocked, by one element for the whole network.
    Escalated,
}

impl UnbanReason {
    pub fn as_str(self) -> &'static str {
        match self {
            UnbanReason::Expired => "bantime over",
            UnbanReason::Manual => "manual unban",
            UnbanReason::Escalated => "replaced by a ban of its network",
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn ser_display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl Event {
    pub fn time_us(&self) -> Micros {
        match self {
            Event::Ban { time_us, .. } | Event::Unban { time_us, .. } => *time_us,
        }
    }
}
