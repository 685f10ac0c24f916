//! What banjo made in the kernel, so that it never removes, reuses or rewrites what it
//! did not make (issue #15, defect 6: a foreign `ipset banjo-sshd-4` once cost an
//! admin's chain, its ACCEPT rule, the INPUT jump and two unrelated sets).
//!
//! Three sources, from strongest to weakest:
//! - the ledger: every object a backend makes is recorded *before* it is made (the
//!   daemon keeps the record in state.db, table `firewall_objects`), and forgotten
//!   after it is removed;
//! - markers the kernel carries: iptables rules banjo writes carry `-m comment
//!   --comment banjo`, `table inet banjo` is created with `comment "banjo"`;
//! - looks: an object exactly as an older banjo (one without ledger or markers) made
//!   it, trusted only while the ledger has nothing yet (first start after an upgrade,
//!   or the state was lost) — see [`Ledger::trusts_looks`].
//!
//! This module owns the vocabulary ([`Object`], [`Ledger`], [`Left`]); the backends
//! apply it. It must not touch the kernel or the state file itself.

use super::Family;
use std::collections::BTreeSet;
use std::fmt;

/// The comment banjo puts on its iptables rules and on `table inet banjo`.
pub const MARK: &str = "banjo";

/// A kernel object banjo may make.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Object {
    /// An ipset set (iptables backend).
    Ipset(String),
    /// A chain in the filter table of iptables (IPv4) or ip6tables (IPv6).
    Chain(Family, String),
    /// nftables' `table inet banjo` (everything in it is banjo's).
    NftTable,
}

impl Object {
    /// (kind, name) as the state file stores them.
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            Object::Ipset(n) => ("ipset", n),
            Object::Chain(Family::V4, n) => ("iptables-chain", n),
            Object::Chain(Family::V6, n) => ("ip6tables-chain", n),
            Object::NftTable => ("nft-table", "inet banjo"),
        }
    }

    pub fn from_parts(kind: &str, name: &str) -> Option<Object> {
        Some(match kind {
            "ipset" => Object::Ipset(name.to_owned()),
            "iptables-chain" => Object::Chain(Family::V4, name.to_owned()),
            "ip6tables-chain" => Object::Chain(Family::V6, name.to_owned()),
            "nft-table" if name == "inet banjo" => Object::NftTable,
            _ => return None,
        })
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Ipset(n) => write!(f, "ipset {n}"),
            Object::Chain(Family::V4, n) => write!(f, "chain {n}"),
            Object::Chain(Family::V6, n) => write!(f, "chain {n} (IPv6)"),
            Object::NftTable => f.write_str("nft table inet banjo"),
        }
    }
}

/// The record of what banjo made. Backends call [`Ledger::record`] before making an
/// object and [`Ledger::forget`] after removing one.
pub trait Ledger {
    /// Did banjo make `obj` (as far as the record goes)?
    fn made(&self, obj: &Object) -> bool;
    /// Record `obj` before it is made; an error means "do not make it".
    fn record(&mut self, obj: &Object) -> Result<(), String>;
    /// `obj` is gone (removed by banjo, or found missing).
    fn forget(&mut self, obj: &Object);
    /// Nothing is recorded yet (a first start, an upgrade from a banjo without a
    /// ledger, a lost state file): objects that look exactly as banjo makes them are
    /// taken as banjo's.
    fn trusts_looks(&self) -> bool;
}

/// A ledger in memory: tests, `banjo flush` without a state file, the default of a
/// backend until the daemon gives it the state's.
#[derive(Debug, Default, Clone)]
pub struct MemoryLedger {
    made: BTreeSet<Object>,
    trusts_looks: bool,
}

impl MemoryLedger {
    /// Knows nothing, so trusts looks (and markers).
    pub fn trusting() -> MemoryLedger {
        MemoryLedger {
            made: BTreeSet::new(),
            trusts_looks: true,
        }
    }

    /// Exactly these objects are banjo's (markers still count).
    pub fn of(made: impl IntoIterator<Item = Object>, trusts_looks: bool) -> MemoryLedger {
        MemoryLedger {
            made: made.into_iter().collect(),
            trusts_looks,
        }
    }

    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.made.iter()
    }
}

impl Ledger for MemoryLedger {
    fn made(&self, obj: &Object) -> bool {
        self.made.contains(obj)
    }
    fn record(&mut self, obj: &Object) -> Result<(), String> {
        self.made.insert(obj.clone());
        Ok(())
    }
    fn forget(&mut self, obj: &Object) {
        self.made.remove(obj);
    }
    fn trusts_looks(&self) -> bool {
        self.trusts_looks
    }
}

/// An object under banjo's names that a teardown or flush left in place, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Left {
    pub object: String,
    pub why: String,
}

impl fmt::Display for Left {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "left {}: {}", self.object, self.why)
    }
}

/// What `banjo flush` did: the jails whose objects it removed, and what it left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flushed {
    pub removed: Vec<String>,
    pub left: Vec<Left>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_round_trip_through_their_stored_parts() {
        for o in [
            Object::Ipset("banjo-sshd-4".into()),
            Object::Chain(Family::V4, "banjo-sshd".into()),
            Object::Chain(Family::V6, "banjo-sshd".into()),
            Object::NftTable,
        ] {
            let (k, n) = o.parts();
            assert_eq!(Object::from_parts(k, n), Some(o.clone()), "{o}");
        }
        assert_eq!(Object::from_parts("nft-table", "ip filter"), None);
        assert_eq!(Object::from_parts("bogus", "x"), None);
    }

    #[test]
    fn a_ledger_remembers_until_told_otherwise() {
        let mut l = MemoryLedger::of([], false);
        let o = Object::Ipset("banjo-a-4".into());
        assert!(!l.made(&o) && !l.trusts_looks());
        l.record(&o).unwrap();
        assert!(l.made(&o));
        l.forget(&o);
        assert!(!l.made(&o));
        assert!(MemoryLedger::trusting().trusts_looks());
    }
}
