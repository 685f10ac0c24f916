//! The subnet escalation keys of a jail (`escalate_after`, `escalate_prefix`,
//! `escalate_prefix6`, `escalate_window`, `escalate_bantime`, `escalate_max`), resolved
//! into [`Escalation`]. What escalation does is decided in `jail/escalation.rs`; this
//! file only says which values are allowed.

use super::raw::Layered;
use super::Resolver;
use crate::timefmt::{BanTime, Micros, SEC};
use serde::Serialize;

/// Never wider than these: a /16 of IPv4 (65,536 addresses) or an ISP's /32 of IPv6.
pub const WIDEST_V4: u8 = 16;
pub const WIDEST_V6: u8 = 32;
/// Defaults: a /24 of IPv4 (one hosting customer's block), a /48 of IPv6 (one site).
pub const DEFAULT_PREFIX_V4: u8 = 24;
pub const DEFAULT_PREFIX_V6: u8 = 48;
pub const DEFAULT_WINDOW: Micros = 3600 * SEC;
/// Prefix bans one jail may hold at once: each can cut off 256 addresses, so an
/// attacker spread over many networks must not make banjo black out the Internet.
pub const DEFAULT_MAX: usize = 256;

/// Ban the network when `after` distinct addresses of it were banned within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Escalation {
    pub after: u32,
    /// IPv4 prefix length (16..=31).
    pub prefix_v4: u8,
    /// IPv6 prefix length (32..=127, and shorter than the jail's `ipv6_prefix`).
    pub prefix_v6: u8,
    pub window: Micros,
    /// None: the jail's bantime (grown by bantime_increment per ban of the network).
    #[serde(serialize_with = "ser_opt_bantime")]
    pub bantime: Option<BanTime>,
    /// At most this many prefix bans active in the jail.
    pub max: usize,
}

fn ser_opt_bantime<S: serde::Serializer>(v: &Option<BanTime>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => s.collect_str(b),
        None => s.serialize_none(),
    }
}

impl Resolver<'_> {
    /// `None` when `escalate_after` is not set (escalation off); the other keys are
    /// checked either way, and said to do nothing without it.
    pub(super) fn escalation(&mut self, k: &Layered, ipv6_prefix: u8) -> Option<Escalation> {
        let after = match &k.escalate_after {
            Some(v) if !(2..=65_536).contains(v.1.get_ref()) => {
                self.err(v, "escalate_after", format!("{} is out of range", v.1.get_ref()))
                    .hint = Some(
                    "escalate_after is how many banned addresses of one network ban the network: 2 to 65536"
                        .into(),
                );
                None
            }
            Some(v) => Some(*v.1.get_ref() as u32),
            None => None,
        };
        let prefix_v4 = match &k.escalate_prefix {
            Some(v) if !(i64::from(WIDEST_V4)..=31).contains(v.1.get_ref()) => {
                self.err(
                    v,
                    "escalate_prefix",
                    format!("/{} is out of range", v.1.get_ref()),
                )
                .hint = Some(format!(
                    "an IPv4 prefix length from {WIDEST_V4} (65536 addresses) to 31; 24 is one /24"
                ));
                DEFAULT_PREFIX_V4
            }
            Some(v) => *v.1.get_ref() as u8,
            None => DEFAULT_PREFIX_V4,
        };
        let max_v6 = ipv6_prefix.saturating_sub(1).min(127);
        let prefix_v6 = match &k.escalate_prefix6 {
            Some(v) if !(i64::from(WIDEST_V6)..=i64::from(max_v6)).contains(v.1.get_ref()) => {
                self.err(v, "escalate_prefix6", format!("/{} is out of range", v.1.get_ref()))
                    .hint = Some(format!(
                    "an IPv6 prefix length from {WIDEST_V6} to {max_v6}: shorter than this jail's ipv6_prefix (/{ipv6_prefix}), which is what one ban covers"
                ));
                DEFAULT_PREFIX_V6.min(max_v6)
            }
            Some(v) => *v.1.get_ref() as u8,
            None => DEFAULT_PREFIX_V6.min(max_v6),
        };
        let window = self.duration(&k.escalate_window, "escalate_window", DEFAULT_WINDOW);
        let bantime = k
            .escalate_bantime
            .as_ref()
            .map(|_| self.bantime(&k.escalate_bantime, "escalate_bantime", BanTime::Permanent));
        let max = match &k.escalate_max {
            Some(v) if !(1..=65_536).contains(v.1.get_ref()) => {
                self.err(
                    v,
                    "escalate_max",
                    format!("{} is out of range", v.1.get_ref()),
                )
                .hint = Some("how many network bans the jail may hold at once: 1 to 65536".into());
                DEFAULT_MAX
            }
            Some(v) => *v.1.get_ref() as usize,
            None => DEFAULT_MAX,
        };
        let Some(after) = after else {
            if k.escalate_after.is_none() {
                self.needs_after(k);
            }
            return None;
        };
        if prefix_v6 < WIDEST_V6 {
            // ipv6_prefix itself is /32 or less: there is nothing wider to escalate to
            // that is still allowed.
            if let Some(v) = &k.ipv6_prefix {
                self.err(
                    v,
                    "ipv6_prefix",
                    "escalation needs ipv6_prefix longer than /32",
                )
                .hint = Some("or leave escalate_after unset".into());
            }
        }
        Some(Escalation {
            after,
            prefix_v4,
            prefix_v6,
            window,
            bantime,
            max,
        })
    }

    /// The other escalate_* keys do nothing without escalate_after: a warning each.
    fn needs_after(&mut self, k: &Layered) {
        let set: Vec<(&str, (String, Option<usize>))> = [
            (
                "escalate_prefix",
                k.escalate_prefix.as_ref().map(|v| self.at(v)),
            ),
            (
                "escalate_prefix6",
                k.escalate_prefix6.as_ref().map(|v| self.at(v)),
            ),
            (
                "escalate_window",
                k.escalate_window.as_ref().map(|v| self.at(v)),
            ),
            (
                "escalate_bantime",
                k.escalate_bantime.as_ref().map(|v| self.at(v)),
            ),
            ("escalate_max", k.escalate_max.as_ref().map(|v| self.at(v))),
        ]
        .into_iter()
        .filter_map(|(key, at)| at.map(|a| (key, a)))
        .collect();
        for (key, (file, line)) in set {
            self.diags.push(
                crate::diag::Diagnostic::error(
                    file,
                    line,
                    format!("{key} has no effect: escalate_after is not set"),
                )
                .warning()
                .jail(self.jail)
                .key(key)
                .hint("escalate_after = K bans a network once K of its addresses are banned"),
            );
        }
    }
}
