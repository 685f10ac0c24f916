//! Entries that look like an authentication failure from a network address, whatever
//! program wrote them: what `banjo doctor` shows when no jail took them.
//!
//! A heuristic, and meant to over-report: a failure word and an address in one
//! message. Its only use is to point an admin at lines worth a filter; it decides
//! nothing. Entries are grouped by program and *shape* (addresses, numbers and quoted
//! text replaced), so a million attempts from ten thousand addresses are one line of
//! the report.

use regex::bytes::Regex;
use std::net::IpAddr;
use std::sync::OnceLock;

/// Words that authentication failures and refusals are written with, in the logs of
/// the services people run (and not in a successful login's).
fn failure_words() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)\b(?:fail(?:ed|ure|s)?|invalid|denied|refused|reject(?:ed)?|unauthori[sz]ed|incorrect|mismatch|illegal|bad (?:password|user|login)|not allowed|disallowed|unknown user|no such user|forbidden|blocked|too many|brute|401|403)\b",
        )
        .expect("static regex")
    })
}

/// Candidates for an address: dotted quads, and hex-and-colon runs that may be IPv6.
const CANDIDATE: &str = r"(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?:\d{1,3}\.){3}\d{1,3})?";

fn address_candidates() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(CANDIDATE).expect("static regex"))
}

/// The same, only at the start of the text (so `shape` never scans ahead).
fn address_here() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(&format!("^(?:{CANDIDATE})")).expect("static regex"))
}

/// The first public-looking address in `msg`, with its byte range.
pub fn first_address(msg: &[u8]) -> Option<(IpAddr, std::ops::Range<usize>)> {
    for m in address_candidates().find_iter(msg) {
        let Ok(text) = std::str::from_utf8(m.as_bytes()) else {
            continue;
        };
        let Ok(ip) = text.parse::<IpAddr>() else {
            continue;
        };
        // Not addresses anyone attacks from: what a host prints about itself.
        if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() {
            continue;
        }
        return Some((ip, m.range()));
    }
    None
}

/// Whether `msg` looks like a failure from an address; the address if so.
pub fn suspect(msg: &[u8]) -> Option<IpAddr> {
    if !failure_words().is_match(msg) {
        return None;
    }
    first_address(msg).map(|(ip, _)| ip)
}

/// `msg` with addresses as `<HOST>`, digit runs as `N` and quoted or bracketed text
/// shortened, cut to 160 characters: lines that differ only in who, when and how
/// many fall together.
pub fn shape(msg: &[u8]) -> String {
    let text = String::from_utf8_lossy(msg);
    let mut out = String::with_capacity(text.len().min(200));
    let mut rest: &str = &text;
    while !rest.is_empty() && out.chars().count() < 160 {
        if let Some((ip_len, _)) = address_at(rest) {
            out.push_str("<HOST>");
            rest = &rest[ip_len..];
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_ascii_digit() {
            out.push('N');
            rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            continue;
        }
        if c == '"' || c == '\'' || c == '<' {
            let close = match c {
                '<' => '>',
                q => q,
            };
            if let Some(end) = rest[1..].find(close) {
                out.push(c);
                out.push('…');
                out.push(close);
                rest = &rest[end + 2..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// An address at the start of `s`: its length in bytes.
fn address_at(s: &str) -> Option<(usize, IpAddr)> {
    let m = address_here().find(s.as_bytes())?;
    let ip = s[..m.end()].parse().ok()?;
    Some((m.end(), ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_with_addresses_and_nothing_else() {
        for (line, ip) in [
            ("auth failure: user=bob from 203.0.113.9: bad password", "203.0.113.9"),
            ("dovecot_login authenticator failed for (x) [198.51.100.7]: 535 Incorrect authentication data", "198.51.100.7"),
            ("Login failed for user 'sa'. Reason: Password did not match. [CLIENT: 2001:db8::5]", "2001:db8::5"),
            ("client 192.0.2.1:4433 denied by server configuration: /admin", "192.0.2.1"),
        ] {
            assert_eq!(suspect(line.as_bytes()), Some(ip.parse().unwrap()), "{line}");
        }
        for line in [
            "Accepted publickey for bob from 203.0.113.9 port 22 ssh2",
            "Connection from 203.0.113.9 port 4000",
            "failed to resolve example.org",
            "login failed from 127.0.0.1",
            "Listening on 0.0.0.0 port 22: address family failure",
        ] {
            assert_eq!(suspect(line.as_bytes()), None, "{line}");
        }
    }

    #[test]
    fn shapes_group_lines_that_differ_in_who_and_how_many() {
        let a = shape(b"login failed for 'bob' from 203.0.113.9 (3 attempts)");
        let b = shape(b"login failed for 'alice' from 2001:db8::77 (12 attempts)");
        assert_eq!(a, b);
        assert_eq!(a, "login failed for '…' from <HOST> (N attempts)");
        assert!(shape("x".repeat(500).as_bytes()).chars().count() <= 161);
    }
}
