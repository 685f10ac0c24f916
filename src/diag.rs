//! Diagnostics: what is wrong, where (file, line, jail, key) and how to fix it. A leaf:
//! config loading, filter compilation and the fail2ban importer all report through it.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// File the problem is in (`<built-in>` for compiled-in defaults).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub jail: Option<String>,
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(file: impl Into<String>, line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.into(),
            line,
            jail: None,
            key: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn jail(mut self, jail: &str) -> Self {
        self.jail = Some(jail.to_owned());
        self
    }

    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `banjo.toml:12: error: jail sshd: maxretry: must be at least 1`
    /// `  hint: …` on the next line. Editors and grep understand `file:line:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {sev}: ")?;
        if let Some(j) = &self.jail {
            write!(f, "jail {j}: ")?;
        }
        if let Some(k) = &self.key {
            write!(f, "{k}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// 1-based line number of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Turn a TOML parse error into a diagnostic with its line, and a hint for the
/// mistakes people actually make (unknown keys, fail2ban INI syntax, wrong types).
pub fn from_toml(file: &str, text: &str, err: &toml::de::Error) -> Diagnostic {
    let line = err.span().map(|s| line_of(text, s.start));
    let message = err.message().trim().to_owned();
    let mut d = Diagnostic::error(file, line, message.clone());
    if message.starts_with("unknown field") {
        if let Some(key) = message.split('`').nth(1) {
            d.key = Some(key.to_owned());
            d.hint = Some(unknown_key_hint(key));
        }
    } else if message.contains("invalid") || message.contains("expected") {
        // Most often an INI habit from fail2ban: `bantime = 1h` unquoted.
        d.hint = Some("banjo config is TOML: quote text values, e.g. bantime = \"1h\"".into());
    } else if message.contains("data did not match") {
        d.hint = Some(
            "check the value's type: durations are \"10m\" or seconds, lists are [\"a\", \"b\"]"
                .into(),
        );
    }
    d
}

/// Point fail2ban users at banjo's spelling of keys they know.
pub fn unknown_key_hint(key: &str) -> String {
    let known = match key {
        "backend" => {
            return "banjo reads the journal (select entries with journalmatch, e.g. journalmatch = \"_SYSTEMD_UNIT=ssh.service\") and the files of logpath".into()
        }
        "mode" => {
            return "give the mode with the filter: filter = \"sshd[mode=aggressive]\"".into()
        }
        "banaction" | "banaction_allports" | "action_" => {
            return "banjo bans itself; set port = \"all\", blocktype and chain instead".into()
        }
        "prefregex" | "__prefix_line" => {
            return "not needed: journal fields carry the time and the syslog prefix".into()
        }
        "bantime.increment" => "bantime_increment",
        "bantime.factor" => "bantime_factor",
        "bantime.maxtime" => "bantime_maxtime",
        "usedns" => return "banjo never resolves names; <HOST> matches addresses only".into(),
        _ => "",
    };
    if known.is_empty() {
        "see banjo.toml(5) for the keys a jail accepts".into()
    } else {
        format!("did you mean {known}?")
    }
}
