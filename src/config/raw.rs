//! The config as written: serde structs that mirror the TOML one to one, every value
//! wrapped in `Spanned` so a later error can still name its line. Unknown keys are
//! rejected here (`deny_unknown_fields`) — a misspelt key must never be silently ignored.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// One config file: `banjo.toml` or a `jail.d/*.toml` drop-in.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// Inherited by every jail.
    pub defaults: Option<RawJail>,
    /// Jails by name.
    #[serde(default)]
    pub jail: BTreeMap<String, Spanned<RawJail>>,
    /// Settings of `banjo run` itself.
    pub daemon: Option<RawDaemon>,
}

/// `[daemon]`: later files override earlier ones key by key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    /// Control socket path (when not socket-activated).
    pub socket: Option<Spanned<String>>,
    /// Where state.db lives (systemd's StateDirectory).
    pub state_dir: Option<Spanned<String>>,
    /// `iptables` (iptables + ipset) or `dry-run`.
    pub firewall: Option<Spanned<String>>,
    /// Lift all bans from the kernel when banjo stops (default: keep them).
    pub unban_on_stop: Option<Spanned<bool>>,
    /// Members of this group may read status over the socket; root may do everything.
    pub readers_group: Option<Spanned<String>>,
    /// How many exec actions run at once.
    pub action_concurrency: Option<Spanned<i64>>,
}

/// A duration written as seconds (`600`) or text (`"10m"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawDuration {
    Seconds(i64),
    Text(String),
}

impl RawDuration {
    pub fn as_text(&self) -> String {
        match self {
            RawDuration::Seconds(n) => n.to_string(),
            RawDuration::Text(s) => s.clone(),
        }
    }
}

/// `port = "ssh"`, `port = ["http", "https"]`, `port = 22`, `port = "all"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawPorts {
    One(u16),
    Text(String),
    List(Vec<RawPort>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawPort {
    Number(u16),
    Text(String),
}

/// `journalmatch = "SYSLOG_IDENTIFIER=sshd"` or a list of such groups.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawMatch {
    One(String),
    Groups(Vec<String>),
}

/// An exec action run on ban or unban (used by the daemon).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAction {
    /// `ban` or `unban`.
    pub on: String,
    /// Program and arguments; `{ip}`, `{jail}`, `{failures}`, `{bantime}`, `{matches}`
    /// are substituted per argument. No shell is involved.
    pub argv: Vec<String>,
    pub timeout: Option<RawDuration>,
}

/// Every key a jail (or `[defaults]`) may set. All optional: layers fill each other in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJail {
    pub enabled: Option<Spanned<bool>>,
    pub journalmatch: Option<Spanned<RawMatch>>,
    pub filter: Option<Spanned<String>>,
    pub maxretry: Option<Spanned<i64>>,
    pub findtime: Option<Spanned<RawDuration>>,
    pub bantime: Option<Spanned<RawDuration>>,
    pub bantime_increment: Option<Spanned<bool>>,
    pub bantime_factor: Option<Spanned<f64>>,
    pub bantime_maxtime: Option<Spanned<RawDuration>>,
    pub ignoreip: Option<Spanned<Vec<String>>>,
    pub ignoreself: Option<Spanned<bool>>,
    pub ipv6_prefix: Option<Spanned<i64>>,
    pub port: Option<Spanned<RawPorts>>,
    pub protocol: Option<Spanned<String>>,
    pub blocktype: Option<Spanned<String>>,
    pub chain: Option<Spanned<String>>,
    pub action: Option<Spanned<Vec<RawAction>>>,
}

/// Take every key set in `over` into `base`, remembering which layer each came from.
/// Written out per key (not generic over a map) so the compiler checks that a new key
/// is layered too.
pub fn layer(base: &mut Layered, over: &RawJail, src: usize) {
    macro_rules! take {
        ($($k:ident),*) => {$(
            if let Some(v) = &over.$k {
                base.$k = Some((src, v.clone()));
            }
        )*};
    }
    take!(
        enabled,
        journalmatch,
        filter,
        maxretry,
        findtime,
        bantime,
        bantime_increment,
        bantime_factor,
        bantime_maxtime,
        ignoreip,
        ignoreself,
        ipv6_prefix,
        port,
        protocol,
        blocktype,
        chain,
        action
    );
}

/// The result of layering: each key with the index of the source file that set it last.
#[derive(Debug, Clone, Default)]
pub struct Layered {
    pub enabled: Option<(usize, Spanned<bool>)>,
    pub journalmatch: Option<(usize, Spanned<RawMatch>)>,
    pub filter: Option<(usize, Spanned<String>)>,
    pub maxretry: Option<(usize, Spanned<i64>)>,
    pub findtime: Option<(usize, Spanned<RawDuration>)>,
    pub bantime: Option<(usize, Spanned<RawDuration>)>,
    pub bantime_increment: Option<(usize, Spanned<bool>)>,
    pub bantime_factor: Option<(usize, Spanned<f64>)>,
    pub bantime_maxtime: Option<(usize, Spanned<RawDuration>)>,
    pub ignoreip: Option<(usize, Spanned<Vec<String>>)>,
    pub ignoreself: Option<(usize, Spanned<bool>)>,
    pub ipv6_prefix: Option<(usize, Spanned<i64>)>,
    pub port: Option<(usize, Spanned<RawPorts>)>,
    pub protocol: Option<(usize, Spanned<String>)>,
    pub blocktype: Option<(usize, Spanned<String>)>,
    pub chain: Option<(usize, Spanned<String>)>,
    pub action: Option<(usize, Spanned<Vec<RawAction>>)>,
}

impl Layered {
    /// Keys set on the jail win over keys set in `[defaults]` (of any layer), as in
    /// fail2ban where a `[DEFAULT]` in jail.local never overrides `[sshd]` in jail.conf.
    pub fn or(mut self, defaults: &Layered) -> Layered {
        macro_rules! fill {
            ($($k:ident),*) => {$(
                if self.$k.is_none() {
                    self.$k = defaults.$k.clone();
                }
            )*};
        }
        fill!(
            enabled,
            journalmatch,
            filter,
            maxretry,
            findtime,
            bantime,
            bantime_increment,
            bantime_factor,
            bantime_maxtime,
            ignoreip,
            ignoreself,
            ipv6_prefix,
            port,
            protocol,
            blocktype,
            chain,
            action
        );
        self
    }
}
