//! `journalmatch`: which entries a jail sees. journalctl's syntax and sd_journal's
//! semantics: a group is `FIELD=VALUE` terms separated by spaces, where terms on
//! different fields must all hold and terms on the same field are alternatives; groups
//! (list items, or `+` within one string) are alternatives.
//!
//! The same rules go to libsystemd (`match_add`/`match_or`) so non-matching entries are
//! never decoded, and are re-applied here to route each entry to its jails.

use crate::journal::Entry;
use std::collections::BTreeMap;
use std::fmt;

/// One conjunction: field -> accepted values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub terms: BTreeMap<String, Vec<Vec<u8>>>,
}

/// A disjunction of groups; empty accepts nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MatchRules {
    pub groups: Vec<Group>,
}

impl Group {
    pub fn accepts(&self, entry: &Entry) -> bool {
        self.terms.iter().all(|(field, values)| {
            entry
                .fields
                .get(field)
                .is_some_and(|v| values.iter().any(|want| want.as_slice() == v))
        })
    }
}

impl MatchRules {
    /// Parse journalctl-style groups; each item may itself contain ` + `.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<MatchRules, String> {
        let mut groups = Vec::new();
        for item in items {
            for part in item.as_ref().split(" + ") {
                let mut terms: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
                for term in part.split_whitespace() {
                    if term == "+" {
                        return Err(format!(
                            "{:?}: '+' must stand between groups",
                            item.as_ref()
                        ));
                    }
                    let (field, value) = term
                        .split_once('=')
                        .ok_or_else(|| format!("{term:?} is not FIELD=VALUE"))?;
                    if !valid_field_name(field) {
                        return Err(format!(
                            "{field:?} is not a journal field name (upper-case A-Z, 0-9, _; not starting with a digit)"
                        ));
                    }
                    terms
                        .entry(field.to_owned())
                        .or_default()
                        .push(value.as_bytes().to_vec());
                }
                if terms.is_empty() {
                    return Err(format!("{:?}: empty match group", item.as_ref()));
                }
                groups.push(Group { terms });
            }
        }
        Ok(MatchRules { groups })
    }

    pub fn accepts(&self, entry: &Entry) -> bool {
        self.groups.iter().any(|g| g.accepts(entry))
    }

    /// Every field any group tests: what the reader must fetch for routing.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .flat_map(|g| g.terms.keys().map(String::as_str))
    }
}

impl fmt::Display for MatchRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.groups.iter().enumerate() {
            if i > 0 {
                f.write_str(" + ")?;
            }
            let mut first = true;
            for (field, values) in &g.terms {
                for v in values {
                    if !first {
                        f.write_str(" ")?;
                    }
                    first = false;
                    write!(f, "{field}={}", String::from_utf8_lossy(v))?;
                }
            }
        }
        Ok(())
    }
}

/// Journal field names: A-Z, 0-9, _; not starting with a digit; at most 64 bytes.
pub fn valid_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.as_bytes()[0].is_ascii_digit()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fields: &[(&str, &str)]) -> Entry {
        let mut e = Entry::default();
        for (k, v) in fields {
            e.fields.set(k, v.as_bytes());
        }
        e
    }

    #[test]
    fn sd_journal_semantics() {
        let r = MatchRules::parse(&[
            "_SYSTEMD_UNIT=ssh.service _SYSTEMD_UNIT=sshd.service _COMM=sshd + SYSLOG_IDENTIFIER=x",
        ])
        .unwrap();
        assert_eq!(r.groups.len(), 2);
        assert!(r.accepts(&entry(&[
            ("_SYSTEMD_UNIT", "sshd.service"),
            ("_COMM", "sshd")
        ])));
        assert!(r.accepts(&entry(&[
            ("_SYSTEMD_UNIT", "ssh.service"),
            ("_COMM", "sshd")
        ])));
        assert!(!r.accepts(&entry(&[
            ("_SYSTEMD_UNIT", "ssh.service"),
            ("_COMM", "bash")
        ])));
        assert!(r.accepts(&entry(&[("SYSLOG_IDENTIFIER", "x")])));
        assert!(!r.accepts(&entry(&[])));
    }

    #[test]
    fn bad_terms() {
        assert!(MatchRules::parse(&["sshd"]).is_err());
        assert!(MatchRules::parse(&["_comm=sshd"]).is_err());
        assert!(MatchRules::parse(&[""]).is_err());
        assert!(MatchRules::parse(&["1A=b"]).is_err());
    }
}
