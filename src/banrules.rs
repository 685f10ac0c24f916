//! What a jail asks of a firewall, and the rules for the names it uses: ports,
//! protocol, block type, jail names (they become kernel object names), chain names and
//! their netfilter hooks. Written once, here, for `config/` (which validates them) and
//! `ban/` (which builds rules from them).
//!
//! A leaf: imports nothing of banjo. Must not know about configuration files or the
//! kernel.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ports {
    All,
    /// Inclusive ranges.
    List(Vec<(u16, u16)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BlockType {
    #[serde(rename = "REJECT")]
    Reject,
    #[serde(rename = "DROP")]
    Drop,
}

pub fn valid_jail_name(name: &str) -> bool {
    (1..=22).contains(&name.len())
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn valid_chain(name: &str) -> bool {
    (1..=28).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Well-known service names, so configs need not depend on /etc/services being there.
const SERVICES: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("http", 80),
    ("pop3", 110),
    ("imap", 143),
    ("ldap", 389),
    ("https", 443),
    ("smtps", 465),
    ("submissions", 465),
    ("submission", 587),
    ("ldaps", 636),
    ("ftps-data", 989),
    ("ftps", 990),
    ("imaps", 993),
    ("pop3s", 995),
    ("mysql", 3306),
    ("sieve", 4190),
    ("postgresql", 5432),
];

/// A port number or a service name banjo knows (`ssh`, `imaps`); the fail2ban importer
/// asks it which names need /etc/services.
pub fn parse_port(s: &str) -> Result<u16, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return u16::try_from(n)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("{n} is not a port number (1 to 65535)"));
    }
    SERVICES
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, p)| *p)
        .ok_or_else(|| format!("{s:?} is not a port number or known service name"))
}

pub fn parse_port_item(s: &str) -> Result<(u16, u16), String> {
    match s.split_once([':', '-']) {
        Some((a, b)) if !a.is_empty() && a.parse::<u16>().is_ok() => {
            let (a, b) = (parse_port(a)?, parse_port(b)?);
            if a > b {
                return Err(format!("{s:?}: range runs backwards"));
            }
            Ok((a, b))
        }
        _ => parse_port(s).map(|p| (p, p)),
    }
}

/// The netfilter hook for the jail's `chain` (an iptables chain name in the config).
/// DOCKER-USER is iptables' chain for forwarded traffic to containers; the forward hook
/// sees the same packets (after Docker's DNAT, so ports are the containers' ports as in
/// DOCKER-USER), and a drop in a base chain of any table is final.
pub fn hook_of(chain: &str) -> Option<&'static str> {
    match chain {
        "INPUT" => Some("input"),
        "FORWARD" | "DOCKER-USER" => Some("forward"),
        _ => None,
    }
}
