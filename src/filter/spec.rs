//! Filter files as written (`filter.d/NAME.toml` and the built-ins): serde structs only.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// One line for `banjo check` and docs.
    pub description: Option<String>,
    /// journalctl-style match groups used when the jail sets no `journalmatch`.
    pub journalmatch: Option<Spanned<Vec<String>>>,
    /// Journal field whose equal values tie entries together (one sshd connection is one
    /// `_PID`), so a failure line without an address can take the one seen earlier.
    pub id_field: Option<Spanned<String>>,
    /// Take the host from this journal field instead of a `<HOST>` in MESSAGE
    /// (recidive reads `BANJO_IP` from banjo's own ban entries).
    pub host_field: Option<Spanned<String>>,
    /// How long an `id_field` correlation is remembered.
    pub correlation_window: Option<Spanned<String>>,
    /// Mode used when the jail names none (`sshd` = `sshd[mode=normal]`).
    pub mode: Option<Spanned<String>>,
    /// `%(name)s` substitutions; a jail may override them as `filter = "x[name=value]"`.
    #[serde(default)]
    pub vars: BTreeMap<String, Spanned<String>>,
    /// Patterns active in every mode.
    #[serde(default)]
    pub failregex: Vec<Spanned<String>>,
    #[serde(default)]
    pub ignoreregex: Vec<Spanned<String>>,
    /// Extra patterns per mode (`normal`, `aggressive`, ...).
    #[serde(default)]
    pub modes: BTreeMap<String, Spanned<ModeSpec>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeSpec {
    /// Other modes whose patterns this one adds (`aggressive` includes `normal` + `ddos`).
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub failregex: Vec<Spanned<String>>,
    #[serde(default)]
    pub ignoreregex: Vec<Spanned<String>>,
}
