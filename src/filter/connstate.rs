//! What a [`Session`](super::Session) knows of a connection besides its address
//! ([`remembered`](super::remembered) holds that): a failure still waiting for an
//! address, and whether its lines named more than one user (counted from the first
//! line that made an entry). It only stores and forgets; what the flags mean is
//! decided by the session.
//!
//! Few connections have an entry: one is made by a failure line with no address known
//! yet (sshd's "Disconnecting: Too many authentication failures" before any line with
//! the address) or by a no-failure line that names a user (PAM's
//! "authentication failure; … rhost=ADDR user=NAME"). Entries of ids that are not
//! decimal (never sshd's `_PID`) share one slot per hash: a collision mixes two
//! connections' flags, never an address, since the address comes from the line or
//! from `remembered`.

use crate::timefmt::Micros;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// Cap on entries; at it the expired go, and if that is not enough, all.
const MAX_ENTRIES: usize = 16_384;

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ConnState {
    pub seen: Micros,
    /// A failure was seen with no address known: the next line with one counts.
    pub pending: bool,
    /// Hash of the first non-empty user name seen.
    pub user: Option<u64>,
    /// Lines of this connection named more than one user.
    pub users_differ: bool,
}

impl ConnState {
    /// Note one more user name (None: the line named none).
    pub fn add_user(&mut self, user: Option<u64>) {
        match (self.user, user) {
            (None, u) => self.user = u,
            (Some(a), Some(b)) if a != b => self.users_differ = true,
            _ => {}
        }
    }
}

#[derive(Default)]
pub(super) struct ConnStates {
    map: HashMap<u64, ConnState>,
    hasher: std::collections::hash_map::RandomState,
}

impl ConnStates {
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The key of an id: the decimal value (PIDs), else a seeded hash.
    pub fn key(&self, id: &[u8]) -> u64 {
        if !id.is_empty() && id.len() <= 18 && id.iter().all(u8::is_ascii_digit) {
            return id.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
        }
        let mut h = self.hasher.build_hasher();
        h.write(id);
        h.finish() | 1 << 63
    }

    pub fn hash_user(&self, user: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(user);
        h.finish()
    }

    /// The live entry of `key` (one older than `expired` is dropped).
    pub fn get_mut(&mut self, key: u64, expired: Micros) -> Option<&mut ConnState> {
        if self.map.get(&key).is_some_and(|s| s.seen < expired) {
            self.map.remove(&key);
            return None;
        }
        self.map.get_mut(&key)
    }

    pub fn insert(&mut self, key: u64, state: ConnState, expired: Micros) {
        if self.map.len() >= MAX_ENTRIES && !self.map.contains_key(&key) {
            self.map.retain(|_, s| s.seen >= expired);
            if self.map.len() >= MAX_ENTRIES {
                self.map.clear();
            }
        }
        self.map.insert(key, state);
    }

    pub fn remove(&mut self, key: u64) {
        self.map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_ids_are_their_value_and_others_never_collide_with_them() {
        let s = ConnStates::default();
        assert_eq!(s.key(b"4242"), 4242);
        assert!(s.key(b"x-1") >= 1 << 63);
    }

    #[test]
    fn the_cap_drops_the_expired_first() {
        let mut s = ConnStates::default();
        for k in 0..MAX_ENTRIES as u64 {
            let seen = if k == 7 { 100 } else { 0 };
            s.insert(
                k,
                ConnState {
                    seen,
                    ..ConnState::default()
                },
                0,
            );
        }
        s.insert(
            1 << 40,
            ConnState {
                seen: 100,
                ..ConnState::default()
            },
            50,
        );
        assert_eq!(s.len(), 2);
        assert!(s.get_mut(7, 50).is_some());
        assert!(s.get_mut(3, 50).is_none());
    }

    #[test]
    fn users() {
        let mut c = ConnState::default();
        c.add_user(None);
        c.add_user(Some(1));
        c.add_user(Some(1));
        assert!(!c.users_differ);
        c.add_user(None);
        c.add_user(Some(2));
        assert!(c.users_differ);
    }
}
