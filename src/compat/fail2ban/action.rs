//! fail2ban's actions as banjo sees them: which firewall a banaction drives and how
//! (all ports or some, its chain and blocktype from action.d with its `.local`
//! overrides), which actions mail a ban, and which have no banjo equivalent.
//!
//! What it owns: the table of action names and the reading of an action file's
//! `[Init]` defaults. What it must not do: write banjo configuration (import.rs) or
//! run anything; the mail hook's argv is built here, run by the daemon.

use super::ini;
use std::path::Path;

/// What one action reference is to banjo.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A firewall action: banjo's own firewall does this.
    Firewall(Firewall),
    /// A mail about the ban: an exec hook.
    Mail(Mail),
    /// Nothing in banjo does what it does (cloudflare, abuseipdb, route…).
    Unmapped,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Firewall {
    /// banjo's `[daemon] firewall`.
    pub backend: &'static str,
    /// Blocks every port (the `-allports` actions).
    pub allports: bool,
    /// Set when fail2ban went through another tool (firewalld, ufw) that banjo does
    /// not drive: the import says so.
    pub via: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    /// `sendmail` or `mail`.
    pub mta: &'static str,
    pub whois: bool,
    /// The log lines that led to the ban (`-lines`, `-matches` variants).
    pub lines: bool,
}

/// Classify an action by its name (the file name in action.d without `.conf`).
pub fn classify(name: &str) -> Kind {
    let fw = |backend, allports, via| {
        Kind::Firewall(Firewall {
            backend,
            allports,
            via,
        })
    };
    match name {
        "iptables"
        | "iptables-multiport"
        | "iptables-new"
        | "iptables-ipset"
        | "iptables-ipset-proto4"
        | "iptables-ipset-proto6"
        | "iptables-multiport-log" => fw("iptables", false, None),
        "iptables-allports" | "iptables-ipset-proto6-allports" | "iptables-ipset-allports" => {
            fw("iptables", true, None)
        }
        "nftables" | "nftables-multiport" => fw("nftables", false, None),
        "nftables-allports" => fw("nftables", true, None),
        "firewallcmd-multiport"
        | "firewallcmd-new"
        | "firewallcmd-ipset"
        | "firewallcmd-rich-rules"
        | "firewallcmd-rich-logging" => fw("nftables", false, Some("firewalld")),
        "firewallcmd-allports" => fw("nftables", true, Some("firewalld")),
        "ufw" => fw("iptables", false, Some("ufw")),
        _ => mail(name).map_or(Kind::Unmapped, Kind::Mail),
    }
}

fn mail(name: &str) -> Option<Mail> {
    let (mta, rest) = if let Some(r) = name.strip_prefix("sendmail") {
        ("sendmail", r)
    } else if let Some(r) = name.strip_prefix("mail") {
        ("mail", r)
    } else {
        return None;
    };
    let (whois, lines) = match rest {
        "" => (false, false),
        "-whois" => (true, false),
        "-whois-lines" | "-whois-matches" | "-whois-ipmatches" | "-whois-ipjailmatches" => {
            (true, true)
        }
        _ => return None,
    };
    Some(Mail { mta, whois, lines })
}

/// A default an action file sets in `[Init]`, with where.
#[derive(Debug, Clone, PartialEq)]
pub struct Default {
    pub value: String,
    pub at: String,
}

/// The `[Init]` defaults of `action.d/NAME.conf` that banjo maps: blocktype and chain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Defaults {
    pub blocktype: Option<Default>,
    pub chain: Option<Default>,
    /// Files read, and notes on them (a legacy `.local` honoured).
    pub notes: Vec<String>,
    /// Commands a `.local` rewrote (`file:line: …`), which banjo does not run.
    pub changed: Vec<String>,
}

/// Read `action.d/NAME.conf` as fail2ban does (includes, `NAME.local`), plus the
/// `iptables-common.local` and `iptables-blocktype.local` that fail2ban 0.9/0.10 read
/// for every iptables action (their iptables-common.conf included them; 1.0 has no
/// such file, so a config carried over from 0.9 — seed 002's `blocktype = DROP` —
/// would otherwise be lost without a word).
pub fn defaults(action_d: &Path, name: &str) -> Defaults {
    let mut out = Defaults::default();
    let conf = action_d.join(format!("{name}.conf"));
    let mut files = Vec::new();
    if conf.is_file() {
        files.push((conf.clone(), true));
        let local = conf.with_extension("local");
        if local.is_file() {
            files.push((local, true));
        }
    }
    if name.starts_with("iptables") {
        for legacy in ["iptables-common", "iptables-blocktype"] {
            let l = action_d.join(format!("{legacy}.local"));
            let already = action_d.join(format!("{legacy}.conf")).is_file();
            if l.is_file() && !already {
                out.notes.push(format!(
                    "{} read as fail2ban 0.9/0.10 read it for every iptables action",
                    l.display()
                ));
                files.push((l, true));
            }
        }
    }
    if files.is_empty() {
        return out;
    }
    let Ok((cfg, _)) = ini::load_files(&files) else {
        return out;
    };
    let get = |key: &str| {
        let v = cfg.get("Init", key)?;
        let text = cfg
            .interpolate(&v.text(), "Init", Some((key, v)), 0)
            .unwrap_or_else(|_| v.text());
        Some(Default {
            value: text,
            at: format!("{}:{}", v.file, v.line()),
        })
    };
    out.blocktype = get("blocktype");
    out.chain = get("chain");
    // A .local that rewrites the commands (seed 004 adds a FORWARD jump to
    // actionstart): banjo runs its own firewall code, so say what is not carried over.
    for (key, v) in cfg.sections.get("Definition").into_iter().flatten() {
        if v.file.ends_with(".local") && key.starts_with("action") {
            out.changed.push(format!(
                "{}:{}: {key} is rewritten there; banjo does not run fail2ban's commands (to ban in another chain too, add a jail with chain = \"FORWARD\")",
                v.file,
                v.line()
            ));
        }
    }
    out
}

/// banjo's blocktype for a fail2ban one (`REJECT --reject-with …`, `DROP`, nftables'
/// `reject`/`drop`, ufw's `deny`): Ok(REJECT|DROP), or Err with the text when it is
/// neither.
pub fn blocktype(text: &str) -> Result<&'static str, String> {
    let first = text.split_whitespace().next().unwrap_or("");
    match first.to_ascii_uppercase().as_str() {
        "REJECT" => Ok("REJECT"),
        "DROP" | "DENY" => Ok("DROP"),
        _ => Err(text.to_owned()),
    }
}

/// The argv of the hook that mails a ban: banjo's own `mail-ban` (no shell; the whois
/// lookup and the mail transfer agent are run by it, each as argv).
pub fn mail_argv(banjo: &str, m: &Mail, dest: &str, sender: &str, name: &str) -> Vec<String> {
    let mut argv: Vec<String> = [
        banjo, "mail-ban", "--mta", m.mta, "--to", dest, "--from", sender,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if !name.is_empty() {
        argv.extend(["--from-name".into(), name.to_owned()]);
    }
    if m.whois {
        argv.push("--whois".into());
    }
    argv.extend(
        [
            "--jail",
            "{jail}",
            "--ip",
            "{ip}",
            "--failures",
            "{failures}",
            "--bantime",
            "{bantime}",
        ]
        .map(String::from),
    );
    if m.lines {
        argv.extend(["--matches".into(), "{matches}".into()]);
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(matches!(
            classify("iptables-allports"),
            Kind::Firewall(Firewall {
                allports: true,
                backend: "iptables",
                ..
            })
        ));
        assert!(matches!(
            classify("nftables-multiport"),
            Kind::Firewall(Firewall {
                allports: false,
                backend: "nftables",
                ..
            })
        ));
        assert_eq!(
            classify("sendmail-whois-lines"),
            Kind::Mail(Mail {
                mta: "sendmail",
                whois: true,
                lines: true
            })
        );
        assert_eq!(classify("cloudflare"), Kind::Unmapped);
        assert_eq!(classify("mail-buffered"), Kind::Unmapped);
        assert_eq!(
            blocktype("REJECT --reject-with icmp-port-unreachable"),
            Ok("REJECT")
        );
        assert_eq!(blocktype("drop"), Ok("DROP"));
        assert!(blocktype("RETURN").is_err());
    }

    #[test]
    fn legacy_iptables_common_local_sets_blocktype() {
        let d = tempfile::tempdir().unwrap();
        let w = |n: &str, t: &str| std::fs::write(d.path().join(n), t).unwrap();
        w(
            "iptables.conf",
            "[Init]\nchain = INPUT\nblocktype = REJECT --reject-with icmp-port-unreachable\n",
        );
        w(
            "iptables-multiport.conf",
            "[INCLUDES]\nbefore = iptables.conf\n[Definition]\ntype = multiport\n",
        );
        let plain = defaults(d.path(), "iptables-multiport");
        assert!(plain.blocktype.unwrap().value.starts_with("REJECT"));
        w("iptables-common.local", "[Init]\nblocktype = DROP\n");
        let legacy = defaults(d.path(), "iptables-multiport");
        let b = legacy.blocktype.unwrap();
        assert_eq!(b.value, "DROP");
        assert!(b.at.ends_with("iptables-common.local:2"), "{}", b.at);
        assert_eq!(legacy.chain.unwrap().value, "INPUT");
        assert_eq!(legacy.notes.len(), 1);
    }
}
