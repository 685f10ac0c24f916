//! What fail2ban's line carries before the message and MESSAGE does not: the syslog
//! host, the program's tag and pid.
//!
//! fail2ban matches `HOST TAG[PID]: MESSAGE` (a syslog file's line after its date, or
//! what its systemd backend prints for an entry); banjo matches MESSAGE, with host, tag
//! and pid in the entry's fields. common.conf's `__prefix_line` is emptied for that
//! (filter.rs); this module handles the filters that spell the same parts out
//! themselves:
//!
//! * [`drop_host_and_tag`]: `%(__hostname)s` followed by a syslog tag (roundcube's
//!   `%(__hostname)s\s*(?:roundcube(?:\[(\d*)\])?:)?\s*`) goes, with the blank that
//!   followed the tag's colon (derived exactly, or nothing changes);
//! * [`optional_leading_tag`]: a pattern that starts with the program's own tag (sogo's
//!   `sogod \[\d+\]: `, Horde's `HORDE `) gets it optional, piece by piece: the journal
//!   has the name and pid in fields, and a log-file reader may take the name for a host;
//! * [`bracketed_hosts`]: fail2ban's `<HOST>`/`<ADDR>` take an address in brackets too
//!   (`[192.0.2.1]`); banjo's only an IPv6 one.
//!
//! Must not: loosen anything a client writes. What becomes optional is literal text at
//! the anchored start of a pattern, or brackets around the address itself; nothing here
//! adds a way to skip text before `<HOST>`.

use super::datepattern::{after_separator, first_atom, group_end};

const HOSTNAME: &str = "%(__hostname)s";

/// `%(__hostname)s SEP TAG SEP REST` -> `REST'` (REST after the blank that followed
/// the tag's colon), within the group that holds them. None: not that shape.
pub fn drop_host_and_tag(text: &str) -> Option<String> {
    let at = text.find(HOSTNAME)?;
    let after = &text[at + HOSTNAME.len()..];
    let (sep, q, rest) = first_atom(after)?;
    if !(matches!(sep, " " | r"\s") && matches!(q, "" | "*" | "+")) {
        return None;
    }
    let (tag, tq, rest) = first_atom(rest)?;
    if !is_tag_group(tag) || tq != "?" {
        return None;
    }
    // What follows the tag, to the end of the group around host and tag.
    let end = group_end(rest);
    let tail = &rest[..end];
    if tail.is_empty() || super::datepattern::split_top_level(tail).len() > 1 {
        return None;
    }
    let derived = after_separator(tail)?;
    Some(format!("{}{derived}{}", &text[..at], &rest[end..]))
}

/// `(?:NAME(?:\[(\d*)\])?:)` and the like: a group of literal name characters, an
/// optional pid in brackets, ending in the tag's colon.
fn is_tag_group(atom: &str) -> bool {
    let Some(body) = atom
        .strip_prefix("(?:")
        .or_else(|| atom.strip_prefix('('))
        .and_then(|b| b.strip_suffix(')'))
    else {
        return false;
    };
    let Some(body) = body.strip_suffix(':') else {
        return false;
    };
    let name_len = body
        .bytes()
        .take_while(|c| c.is_ascii_alphanumeric() || b"_-".contains(c))
        .count();
    let pid = &body[name_len..];
    name_len > 0
        && (pid.is_empty()
            || [
                r"(?:\[(\d*)\])?",
                r"(?:\[\d*\])?",
                r"(?:\[\d+\])?",
                r"(\[\d+\])?",
            ]
            .contains(&pid))
}

/// A pattern (after its `^` and date) that starts with the program's tag: `NAME
/// \[\d+\]: ` / `NAME\[\d+\]: ` (any name), or `NAME ` / `NAME: ` where NAME is one of
/// `names` (the filter's name, its `_daemon`), case-insensitive. Each piece becomes
/// optional. None: no such start.
pub fn optional_leading_tag(re: &str, names: &[String]) -> Option<String> {
    // Before it, an optional group of the filter's own (exim's `(?:\[\d+\] )?`).
    if let Some((g, "?", rest)) = first_atom(re) {
        if g.starts_with('(') {
            let t = optional_leading_tag(rest, names)?;
            return Some(format!("{g}?{t}"));
        }
    }
    // `\S+ NAME: `: what a syslog reader takes for a host and a tag (sa-exim's
    // `1VxPit-000MMd-U4 SA: ` after an exim log line's date). Both, or neither.
    if let Some(r) = re.strip_prefix(r"\S+ ") {
        let n = r
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || b"_-".contains(c))
            .count();
        if n > 0 && r.as_bytes()[0].is_ascii_alphabetic() {
            if let Some(rest) = r[n..].strip_prefix(": ") {
                return Some(format!(r"(?:\S+ {}: )?{rest}", &r[..n]));
            }
        }
    }
    let name_len = re
        .bytes()
        .take_while(|c| c.is_ascii_alphanumeric() || b"_-".contains(c))
        .count();
    if name_len == 0 || !re.as_bytes()[0].is_ascii_alphabetic() {
        return None;
    }
    let (name, rest) = re.split_at(name_len);
    for pid in [r"\[\d+\]", r"\[\d*\]"] {
        for sp in [" ", ""] {
            if let Some(r) = rest.strip_prefix(sp).and_then(|r| r.strip_prefix(pid)) {
                if let Some(r) = r.strip_prefix(": ") {
                    return Some(format!("(?:{name}{sp})?(?:{pid}: )?{r}"));
                }
            }
        }
    }
    if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return None;
    }
    for sep in [": ", " "] {
        if let Some(r) = rest.strip_prefix(sep) {
            return Some(format!("(?:{name}{sep})?{r}"));
        }
    }
    None
}

/// `\S+\s+NAME\[\d+\]:\s+` (also in `(?:…)`, NAME a word, `%(_daemon)s` or
/// `<_daemon>`): a syslog host and tag, nothing else.
pub fn is_host_and_tag(text: &str) -> bool {
    let t = text.trim();
    let t = t
        .strip_suffix(r"\s+")
        .or_else(|| t.strip_suffix(r"\s*"))
        .unwrap_or(t);
    let t = t
        .strip_prefix("(?:")
        .and_then(|x| x.strip_suffix(')'))
        .unwrap_or(t);
    let t = t
        .strip_suffix(r"\s+")
        .or_else(|| t.strip_suffix(r"\s*"))
        .unwrap_or(t);
    let Some(name) = t
        .strip_prefix(r"\S+\s+")
        .or_else(|| t.strip_prefix(r"\S+ "))
        .and_then(|x| x.strip_suffix(r"\[\d+\]:"))
    else {
        return false;
    };
    matches!(name, "%(_daemon)s" | "<_daemon>")
        || (!name.is_empty()
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"_-".contains(&c)))
}

/// `<HOST>` -> `\[?<HOST>\]?` (also `<ADDR>`, `<IP4>`, `<IP6>`), unless a bracket is
/// already written before it. None: nothing to change.
pub fn bracketed_hosts(p: &str) -> Option<String> {
    let mut out = String::with_capacity(p.len() + 16);
    let mut rest = p;
    let mut changed = false;
    while let Some(i) = rest.find('<') {
        let tag = ["<HOST>", "<ADDR>", "<IP4>", "<IP6>"]
            .into_iter()
            .find(|t| rest[i..].starts_with(t));
        let Some(tag) = tag else {
            out.push_str(&rest[..=i]);
            rest = &rest[i + 1..];
            continue;
        };
        out.push_str(&rest[..i]);
        if [r"\[", r"\[?", r"\[*"].iter().any(|b| out.ends_with(b)) {
            out.push_str(tag);
        } else {
            out.push_str(r"\[?");
            out.push_str(tag);
            out.push_str(r"\]?");
            changed = true;
        }
        rest = &rest[i + tag.len()..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_tag_go_with_the_blank_after_the_colon() {
        let p = r"^\s*(\[\])?(%(__hostname)s\s*(?:roundcube(?:\[(\d*)\])?:)?\s*(<[\w]+>)? IMAP Error)?: <F-CONTENT>.+</F-CONTENT>$";
        let d = drop_host_and_tag(p).unwrap();
        assert_eq!(
            d,
            r"^\s*(\[\])?((?:\s*(<[\w]+>)? IMAP Error|IMAP Error))?: <F-CONTENT>.+</F-CONTENT>$"
        );
        let re =
            regex::Regex::new(&d.replace("<F-CONTENT>", "(").replace("</F-CONTENT>", ")")).unwrap();
        assert!(re.is_match("IMAP Error: Login failed"));
        assert!(re.is_match("<x> IMAP Error: Login failed"));
        // A hostname in message text (proftpd's server name) stays.
        assert_eq!(
            drop_host_and_tag(r"^%(__hostname)s \(\S+\[<HOST>\]\)"),
            None
        );
    }

    #[test]
    fn a_leading_tag_becomes_optional() {
        let n = vec!["horde".to_owned()];
        assert_eq!(
            optional_leading_tag(r"sogod \[\d+\]: SOGoRootPage", &n).as_deref(),
            Some(r"(?:sogod )?(?:\[\d+\]: )?SOGoRootPage")
        );
        assert_eq!(
            optional_leading_tag(r"HORDE \[error\]", &n).as_deref(),
            Some(r"(?:HORDE )?\[error\]")
        );
        assert_eq!(
            optional_leading_tag(r"(?:\[\d+\] )?\S+ SA: Action: x", &n).as_deref(),
            Some(r"(?:\[\d+\] )?(?:\S+ SA: )?Action: x")
        );
        // Any other first word is message text.
        assert_eq!(optional_leading_tag(r"Failed password for", &n), None);
        assert_eq!(optional_leading_tag(r"error: x", &n), None);
    }

    #[test]
    fn a_prefix_of_host_and_tag_alone() {
        assert!(is_host_and_tag(r"(?:\S+\s+%(_daemon)s\[\d+\]:)\s+"));
        assert!(is_host_and_tag(r"\S+\s+znc\[\d+\]:\s+"));
        // More than host and tag: the message's own date (murmur).
        assert!(!is_host_and_tag(
            r"(?:\S+\s+%(_daemon)s\[\d+\]:(?:\s+\<W\>[\d\-]+ [\d:]+.\d+)?)"
        ));
        assert!(!is_host_and_tag(r"(?:\[\]\s+)?"));
    }

    #[test]
    fn hosts_take_brackets_as_in_fail2ban() {
        assert_eq!(
            bracketed_hosts(r"from <HOST> port").as_deref(),
            Some(r"from \[?<HOST>\]? port")
        );
        assert_eq!(bracketed_hosts(r"\[<HOST>\]"), None);
        assert_eq!(bracketed_hosts(r"<F-USER>x</F-USER>"), None);
    }
}
