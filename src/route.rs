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

use std::collections::{BTreeMap, HashMap};
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

/// Every jail's journalmatch at once: which jails accept an entry, from one look at
/// each of its fields, whatever the number of jails. Asking each jail's
/// [`MatchRules::accepts`] in turn costs a few field lookups per jail and entry, so
/// enabling the ~40 built-in jails for other services made every entry pay ~40 times
/// (bench/RESULTS.md, "every built-in jail").
///
/// Same semantics as [`MatchRules::accepts`]: a group holds when each of its fields
/// has one of its values; a jail accepts when one of its groups holds.
#[derive(Debug, Default)]
pub struct Router {
    /// Every field some group tests, with: value -> the groups with a term on the
    /// field accepting it. Few fields (the built-in jails test 6), so a list.
    fields: Vec<(String, GroupsByValue)>,
    /// Per group: the number of fields it tests, and its jail.
    groups: Vec<(u32, usize)>,
}

/// A field's accepted values -> the groups (indexes into [`Router`]'s) accepting each.
type GroupsByValue = HashMap<Vec<u8>, Vec<u32>, foldhash::fast::RandomState>;

/// Scratch space of [`Router::route`], kept by the caller so an entry allocates
/// nothing.
#[derive(Debug, Default)]
pub struct Routed {
    /// Per group: its fields seen with an accepted value, this entry (zero again
    /// after each entry: only `touched` groups are reset).
    hits: Vec<u32>,
    touched: Vec<u32>,
    /// The jails that accept this entry, ascending.
    pub jails: Vec<usize>,
}

impl Router {
    /// `rules[i]`: jail i's journalmatch.
    pub fn new(rules: &[&MatchRules]) -> Router {
        let mut r = Router::default();
        for (jail, m) in rules.iter().enumerate() {
            for g in &m.groups {
                let gi = r.groups.len() as u32;
                r.groups.push((g.terms.len() as u32, jail));
                for (field, values) in &g.terms {
                    let fi = match r.fields.iter().position(|(f, _)| f == field) {
                        Some(fi) => fi,
                        None => {
                            r.fields.push((field.clone(), HashMap::default()));
                            r.fields.len() - 1
                        }
                    };
                    for v in values {
                        let list = r.fields[fi].1.entry(v.clone()).or_default();
                        // A value written twice in a group counts once.
                        if list.last() != Some(&gi) {
                            list.push(gi);
                        }
                    }
                }
            }
        }
        r
    }

    /// Which jails accept `entry`: `out.jails`, ascending.
    pub fn route<E: HasFields + ?Sized>(&self, entry: &E, out: &mut Routed) {
        for g in out.touched.drain(..) {
            out.hits[g as usize] = 0;
        }
        out.hits.resize(self.groups.len(), 0);
        out.jails.clear();
        for (name, values) in &self.fields {
            let Some(groups) = entry.field(name).and_then(|v| values.get(v)) else {
                continue;
            };
            for &g in groups {
                out.touched.push(g);
                let g = g as usize;
                out.hits[g] += 1;
                let (need, jail) = self.groups[g];
                // Two groups of one jail may both hold.
                if out.hits[g] == need && !out.jails.contains(&jail) {
                    out.jails.push(jail);
                }
            }
        }
        out.jails.sort_unstable();
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

    /// The router agrees with asking each jail, on every combination of the fields
    /// its groups test (values accepted, other values, absent).
    #[test]
    fn router_agrees_with_each_jails_accepts() {
        let rules: Vec<MatchRules> = [
            vec!["_COMM=sshd _COMM=sshd-session _UID=0"],
            vec!["_SYSTEMD_UNIT=a.service _EXE=/a + _SYSTEMD_SLICE=system-a.slice _EXE=/a"],
            vec!["_SYSTEMD_UNIT=a.service", "_TRANSPORT=kernel"],
            vec!["_UID=0 _UID=0 MESSAGE_ID=x"],
            vec![],
        ]
        .iter()
        .map(|g| MatchRules::parse(g).unwrap())
        .collect();
        let refs: Vec<&MatchRules> = rules.iter().collect();
        let router = Router::new(&refs);
        let choices: Vec<(&str, &[&str])> = vec![
            ("_COMM", &["sshd", "sshd-session", "bash"]),
            ("_UID", &["0", "1000"]),
            ("_SYSTEMD_UNIT", &["a.service", "b.service"]),
            ("_EXE", &["/a", "/b"]),
            ("_SYSTEMD_SLICE", &["system-a.slice"]),
            ("_TRANSPORT", &["kernel", "syslog"]),
            ("MESSAGE_ID", &["x"]),
        ];
        let mut routed = Routed::default();
        let mut checked = 0;
        // Each field: absent (0) or one of its values (1..).
        let sizes: Vec<usize> = choices.iter().map(|(_, v)| v.len() + 1).collect();
        let total: usize = sizes.iter().product();
        for mut code in 0..total {
            let mut fields = Vec::new();
            for ((name, values), size) in choices.iter().zip(&sizes) {
                let pick = code % size;
                code /= size;
                if pick > 0 {
                    fields.push((*name, values[pick - 1]));
                }
            }
            let e = entry(&fields);
            router.route(&e, &mut routed);
            let want: Vec<usize> = (0..rules.len()).filter(|&i| rules[i].accepts(&e)).collect();
            assert_eq!(routed.jails, want, "{fields:?}");
            checked += want.len();
        }
        assert!(checked > 100, "{checked}");
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
