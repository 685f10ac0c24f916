//! `journalmatch`: which entries a jail sees. journalctl's syntax and sd_journal's
//! semantics: a group is `FIELD=VALUE` terms separated by spaces, where terms on
//! different fields must all hold and terms on the same field are alternatives; groups
//! (list items, or `+` within one string) are alternatives.
//!
//! The same rules go to libsystemd (`match_add`/`match_or`) so non-matching entries are
//! never decoded, and are re-applied here to route each entry to its jails.
//!
//! A leaf (the journal match grammar): the journal's reader hands these rules to
//! libsystemd and the pipeline routes entries with them, so it must not import either;
//! an entry is anything that has fields ([`HasFields`], implemented by
//! `journal::Entry`).

use std::collections::BTreeMap;
use std::fmt;

/// What routing asks of an entry: the value of a field, by name.
pub trait HasFields {
    fn field(&self, name: &str) -> Option<&[u8]>;
}

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

/// Fields journald fills in from the sender's kernel credentials or cgroup, which no
/// unprivileged local user can choose: the uid and gid come with the datagram
/// (SCM_CREDENTIALS, checked by the kernel), the executable and the cgroup are read from
/// /proc by journald, and only root can move a process into a system unit's cgroup. Not
/// here: `_COMM` (any process renames itself with prctl or /proc/self/comm), `_CMDLINE`
/// (argv is the process's own), `_SYSTEMD_USER_UNIT` (a user names their own units),
/// `SYSLOG_IDENTIFIER`, `MESSAGE_ID` and every field without a leading underscore (the
/// sender writes them).
const TRUSTED_FIELDS: &[&str] = &[
    "_UID",
    "_GID",
    "_EXE",
    "_SYSTEMD_UNIT",
    "_SYSTEMD_CGROUP",
    "_SYSTEMD_SLICE",
];

/// `_TRANSPORT` values only the kernel produces: kmsg (writable by root alone) and the
/// audit subsystem. `syslog`, `journal` and `stdout` are open to every local process.
const TRUSTED_TRANSPORTS: &[&[u8]] = &[b"kernel", b"audit"];

impl Group {
    /// Whether every entry this group accepts must have come from a sender a local user
    /// cannot impersonate: some term is on a credential field, or on `_TRANSPORT` with
    /// kernel-only values. Terms on one field are alternatives, terms on different
    /// fields all hold, so one such field is enough.
    pub fn trusted(&self) -> bool {
        self.terms.iter().any(|(field, values)| {
            TRUSTED_FIELDS.contains(&field.as_str())
                || (field == "_TRANSPORT"
                    && values
                        .iter()
                        .all(|v| TRUSTED_TRANSPORTS.contains(&v.as_slice())))
        })
    }

    pub fn accepts<E: HasFields + ?Sized>(&self, entry: &E) -> bool {
        self.terms.iter().all(|(field, values)| {
            entry
                .field(field)
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

    pub fn accepts<E: HasFields + ?Sized>(&self, entry: &E) -> bool {
        self.groups.iter().any(|g| g.accepts(entry))
    }

    /// Groups that any local process could satisfy (see [`Group::trusted`]).
    pub fn untrusted(&self) -> impl Iterator<Item = &Group> {
        self.groups.iter().filter(|g| !g.trusted())
    }

    /// Every field any group tests: what the reader must fetch for routing.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .flat_map(|g| g.terms.keys().map(String::as_str))
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (field, values) in &self.terms {
            for v in values {
                if !first {
                    f.write_str(" ")?;
                }
                first = false;
                write!(f, "{field}={}", String::from_utf8_lossy(v))?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for MatchRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.groups.iter().enumerate() {
            if i > 0 {
                f.write_str(" + ")?;
            }
            write!(f, "{g}")?;
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

    struct Entry(BTreeMap<String, Vec<u8>>);

    impl HasFields for Entry {
        fn field(&self, name: &str) -> Option<&[u8]> {
            self.0.get(name).map(Vec::as_slice)
        }
    }

    fn entry(fields: &[(&str, &str)]) -> Entry {
        Entry(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
        )
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
    fn trust_needs_a_credential_field_in_every_group() {
        let t = |s: &str| MatchRules::parse(&[s]).unwrap().untrusted().count() == 0;
        assert!(t("_UID=0 _COMM=sshd"));
        assert!(t("_SYSTEMD_UNIT=postfix.service _COMM=smtpd"));
        assert!(t("_TRANSPORT=kernel"));
        assert!(t("MESSAGE_ID=4d654fc42ce94fee9c9d8899ca99f1bc _UID=0"));
        // What any local process can produce: its own name, identifier, message id.
        assert!(!t("_COMM=sshd"));
        assert!(!t("SYSLOG_IDENTIFIER=sshd"));
        assert!(!t("MESSAGE_ID=4d654fc42ce94fee9c9d8899ca99f1bc"));
        assert!(!t("_TRANSPORT=syslog"));
        assert!(!t("_TRANSPORT=kernel _TRANSPORT=journal"));
        assert!(!t("_SYSTEMD_USER_UNIT=ssh.service _COMM=sshd"));
        // One untrusted group is enough for a local user to get someone banned.
        assert!(!t("_UID=0 _COMM=sshd + _COMM=sshd-session"));
    }

    #[test]
    fn bad_terms() {
        assert!(MatchRules::parse(&["sshd"]).is_err());
        assert!(MatchRules::parse(&["_comm=sshd"]).is_err());
        assert!(MatchRules::parse(&[""]).is_err());
        assert!(MatchRules::parse(&["1A=b"]).is_err());
    }
}
