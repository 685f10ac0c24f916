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
    /// Keyed by a spanned name: a jail known only from `[[jail.NAME.action]]` has no
    /// table of its own to carry a span.
    pub jail: BTreeMap<Spanned<String>, RawJail>,
    /// Settings of `banjo run` itself.
    pub daemon: Option<RawDaemon>,
    /// Where the daemon offers its metrics.
    pub metrics: Option<RawMetrics>,
}

/// `[metrics]`: later files override earlier ones key by key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Serve `GET /metrics`: `ADDRESS:PORT`, `unix:/PATH` or `/PATH`; `""`: off.
    pub listen: Option<Spanned<String>>,
    /// Write the exposition to this file for node_exporter's textfile collector.
    pub textfile: Option<Spanned<String>>,
    /// At most one textfile write this often.
    pub textfile_interval: Option<Spanned<RawDuration>>,
}

/// `[daemon]`: later files override earlier ones key by key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    /// Control socket path (when not socket-activated).
    pub socket: Option<Spanned<String>>,
    /// Where state.db lives (systemd's StateDirectory).
    pub state_dir: Option<Spanned<String>>,
    /// `iptables` (iptables + ipset), `nftables` (nft, table inet banjo) or `dry-run`.
    pub firewall: Option<Spanned<String>>,
    /// Lift all bans from the kernel when banjo stops (default: keep them).
    pub unban_on_stop: Option<Spanned<bool>>,
    /// Members of this group may read status over the socket; root may do everything.
    pub readers_group: Option<Spanned<String>>,
    /// How many exec actions run at once.
    pub action_concurrency: Option<Spanned<i64>>,
    /// Wake up at the start of a TCP connection to a jail's ports (an NFLOG rule).
    pub wake_on_connect: Option<Spanned<bool>>,
    /// The nfnetlink_log group those rules log to.
    pub nflog_group: Option<Spanned<i64>>,
    /// How long an address's ban count (bantime_increment) outlives its latest ban.
    pub ban_count_max_age: Option<Spanned<RawDuration>>,
    /// Memory budget of the failure windows of all jails.
    pub tracker_memory: Option<Spanned<RawSize>>,
    /// How often to look at what the kernel does not announce (ipset, legacy
    /// iptables) for drift; `"off"` or 0: never.
    pub drift_check: Option<Spanned<RawDuration>>,
    /// Filter health: how long a jail may take entries without matching any (after it
    /// did), or see none while its service runs, before banjo warns; `"off"`: never.
    pub health_silence: Option<Spanned<RawDuration>>,
}

/// A size written as bytes (`67108864`) or text (`"64MiB"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawSize {
    Bytes(i64),
    Text(String),
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
    /// Any integer, so that 70000 is reported as a bad port, not as a bad type.
    One(i64),
    Text(String),
    List(Vec<RawPort>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawPort {
    Number(i64),
    Text(String),
}

/// `journalmatch = "SYSLOG_IDENTIFIER=sshd"` or a list of such groups; also
/// `logpath = "/var/log/x.log"` or a list of paths.
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

/// Declares every key a jail (or `[defaults]`) may set, once: the serde struct that
/// reads them, the layered copy that remembers which file set each, and the two
/// merge steps. A key added here is parsed, layered and inherited everywhere.
macro_rules! jail_keys {
    ($( $(#[$doc:meta])* $key:ident : $ty:ty ),* $(,)?) => {
        /// Every key a jail (or `[defaults]`) may set. All optional: layers fill each
        /// other in.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct RawJail {
            $( $(#[$doc])* pub $key: Option<Spanned<$ty>>, )*
        }

        /// The result of layering: each key with the index of the file that set it last.
        #[derive(Debug, Clone, Default)]
        pub struct Layered {
            $( pub $key: Option<(usize, Spanned<$ty>)>, )*
        }

        /// Take every key set in `over` into `base`, remembering layer `src`.
        pub fn layer(base: &mut Layered, over: &RawJail, src: usize) {
            $(
                if let Some(v) = &over.$key {
                    base.$key = Some((src, v.clone()));
                }
            )*
        }

        impl Layered {
            /// Keys set on the jail win over keys set in `[defaults]` (of any layer), as
            /// in fail2ban where a `[DEFAULT]` in jail.local never overrides `[sshd]`
            /// in jail.conf.
            pub fn or(mut self, defaults: &Layered) -> Layered {
                $(
                    if self.$key.is_none() {
                        self.$key = defaults.$key.clone();
                    }
                )*
                self
            }
        }
    };
}

jail_keys! {
    enabled: bool,
    /// journalctl-style match groups.
    journalmatch: RawMatch,
    /// Log files to follow beside (or instead of) the journal: paths, globs allowed.
    logpath: RawMatch,
    /// How to find the date in those files' lines (fail2ban's %-codes).
    datepattern: String,
    /// `name`, `name[mode=…, var=…]`, a path, or a fail2ban filter file
    /// (`fail2ban:NAME[…]`, `/etc/fail2ban/filter.d/NAME.conf`) imported at load time.
    filter: String,
    /// Where `fail2ban:NAME` filters are read (default /etc/fail2ban/filter.d).
    fail2ban_filter_dir: String,
    maxretry: i64,
    findtime: RawDuration,
    bantime: RawDuration,
    bantime_increment: bool,
    bantime_factor: f64,
    bantime_maxtime: RawDuration,
    ignoreip: Vec<String>,
    ignoreself: bool,
    ban_loopback: bool,
    ipv6_prefix: i64,
    port: RawPorts,
    protocol: String,
    blocktype: String,
    chain: String,
    action: Vec<RawAction>,
    /// Subnet escalation (config/escalation.rs).
    escalate_after: i64,
    escalate_prefix: i64,
    escalate_prefix6: i64,
    escalate_window: RawDuration,
    escalate_bantime: RawDuration,
    escalate_max: i64,
    /// This jail's `[daemon] health_silence`.
    health_silence: RawDuration,
}
