//! Expands a filter's tags into plain regex syntax both engines accept.
//!
//! `<HOST>`/`<ADDR>` become a named group matching an IPv4 or IPv6 address (optionally
//! in brackets); `<F-NAME>…</F-NAME>` become named groups; `%(var)s` is substituted first.
//! Banjo never resolves host names: `<HOST>` matches addresses only (fail2ban's
//! `usedns = no`), so a log line can never make us ban whatever a name resolves to.

use std::collections::BTreeMap;

/// IPv4 dotted quad; out-of-range octets are rejected later by the address parser.
const IPV4: &str = r"(?:\d{1,3}\.){3}\d{1,3}";
/// IPv6 in any compressed form, with an optional trailing dotted quad (`::ffff:a.b.c.d`).
const IPV6: &str = r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?";

/// A pattern after expansion, with the names of the groups that carry meaning.
#[derive(Debug, Clone)]
pub struct Expanded {
    pub regex: String,
    /// Group names holding an address (`host`, `host_1`, …; first that matched wins).
    pub hosts: Vec<String>,
    /// `<F-NAME>` groups: (tag name as written upper-case, group name).
    pub fields: Vec<(String, String)>,
}

/// Substitute `%(name)s` from `vars`, up to a small depth (vars may use vars).
pub fn substitute(pattern: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = pattern.to_owned();
    for _ in 0..8 {
        if !out.contains("%(") {
            return Ok(out);
        }
        let mut next = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find("%(") {
            next.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find(")s") else {
                return Err(format!("unclosed %( in {pattern:?}"));
            };
            let name = &after[..end];
            match vars.get(name) {
                Some(v) => next.push_str(v),
                None => return Err(format!("unknown variable %({name})s")),
            }
            rest = &after[end + 2..];
        }
        next.push_str(rest);
        out = next;
    }
    Err(format!("variables nest too deep in {pattern:?}"))
}

/// Expand tags in `pattern` (already substituted).
pub fn expand(pattern: &str) -> Result<Expanded, String> {
    let mut out = Expanded {
        regex: String::with_capacity(pattern.len() + 64),
        hosts: Vec::new(),
        fields: Vec::new(),
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut unique = |base: &str| -> String {
        let n = counts.entry(base.to_owned()).or_insert(0);
        let name = if *n == 0 {
            base.to_owned()
        } else {
            format!("{base}_{n}")
        };
        *n += 1;
        name
    };
    let bytes = pattern.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // A backslash escapes the next char; copy both so `\<` stays literal.
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            let ch_len = pattern[i + 1..].chars().next().map_or(1, char::len_utf8);
            out.regex.push_str(&pattern[i..i + 1 + ch_len]);
            i += 1 + ch_len;
            continue;
        }
        if bytes[i] == b'<' {
            if let Some(len) = pattern[i..].find('>') {
                let tag = &pattern[i + 1..i + len];
                if let Some(done) = expand_tag(tag, &mut out, &mut unique)? {
                    out.regex.push_str(&done);
                    i += len + 1;
                    continue;
                }
            }
        }
        let ch_len = pattern[i..].chars().next().map_or(1, char::len_utf8);
        out.regex.push_str(&pattern[i..i + ch_len]);
        i += ch_len;
    }
    Ok(out)
}

/// Returns the replacement for `<tag>`, or None when it is not a banjo tag (then the
/// text is regex syntax such as a `(?P<name>…)` group and is copied through).
fn expand_tag(
    tag: &str,
    out: &mut Expanded,
    unique: &mut impl FnMut(&str) -> String,
) -> Result<Option<String>, String> {
    let host_group = |name: &str, body: &str| format!("(?P<{name}>{body})");
    Ok(Some(match tag {
        "HOST" | "ADDR" => {
            let name = unique("host");
            out.hosts.push(name.clone());
            host_group(&name, &format!(r"{IPV4}|{IPV6}|\[{IPV6}\]"))
        }
        "IP4" => {
            let name = unique("host");
            out.hosts.push(name.clone());
            host_group(&name, IPV4)
        }
        "IP6" => {
            let name = unique("host");
            out.hosts.push(name.clone());
            host_group(&name, &format!(r"{IPV6}|\[{IPV6}\]"))
        }
        "DNS" | "SUBNET" | "CIDR" => {
            return Err(format!(
                "<{tag}> is not supported: banjo bans addresses only and never resolves names; use <HOST>"
            ))
        }
        "SKIPLINES" => {
            return Err(
                "<SKIPLINES> is not supported: set id_field (e.g. \"_PID\") to join entries of one connection"
                    .into(),
            )
        }
        "F-CONTENT" | "/F-CONTENT" => {
            return Err("<F-CONTENT> (prefregex) is not needed: filters match MESSAGE alone".into())
        }
        // Marker tags may be written alone, as an empty group, or wrap text.
        "F-NOFAIL" | "F-MLFORGET" => {
            let name = unique(&tag[2..].to_ascii_lowercase());
            out.fields.push((tag[2..].to_owned(), name.clone()));
            format!("(?P<{name}>)")
        }
        "/F-NOFAIL" | "/F-MLFORGET" => String::new(),
        t if t.starts_with("F-") && is_tag_name(&t[2..]) => {
            let name = unique(&format!("f_{}", t[2..].to_ascii_lowercase()));
            out.fields.push((t[2..].to_owned(), name.clone()));
            format!("(?P<{name}>")
        }
        t if t.starts_with("/F-") && is_tag_name(&t[3..]) => ")".to_owned(),
        _ => return Ok(None),
    }))
}

fn is_tag_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_user_tags() {
        let e = expand(r"^Failed for <F-USER>\S+</F-USER> from <HOST> port \d+$").unwrap();
        assert_eq!(e.hosts, vec!["host"]);
        assert_eq!(e.fields, vec![("USER".to_owned(), "f_user".to_owned())]);
        assert!(e.regex.contains("(?P<f_user>\\S+)"));
        assert!(e.regex.contains("(?P<host>"));
    }

    #[test]
    fn repeated_tags_get_unique_names() {
        let e = expand(r"^(?:a <HOST>|b <HOST>)$").unwrap();
        assert_eq!(e.hosts, vec!["host", "host_1"]);
    }

    #[test]
    fn escapes_and_plain_groups_pass_through() {
        let e = expand(r"^\<x\> (?P<port>\d+)$").unwrap();
        assert_eq!(e.regex, r"^\<x\> (?P<port>\d+)$");
        assert!(e.hosts.is_empty());
    }

    #[test]
    fn unsupported_tags_are_errors() {
        assert!(expand("<DNS>").unwrap_err().contains("never resolves"));
        assert!(expand("<SKIPLINES>").unwrap_err().contains("id_field"));
    }

    #[test]
    fn variables() {
        let mut v = BTreeMap::new();
        v.insert("a".to_owned(), "x%(b)s".to_owned());
        v.insert("b".to_owned(), "y".to_owned());
        assert_eq!(substitute("^%(a)s$", &v).unwrap(), "^xy$");
        assert!(substitute("%(c)s", &v).is_err());
        v.insert("loop".to_owned(), "%(loop)s".to_owned());
        assert!(substitute("%(loop)s", &v).is_err());
    }
}
