//! The `id_field` memory of a [`Session`](super::Session): id value -> (address, last
//! seen). It only stores and forgets; when to forget (the window, the cap) is decided
//! by the session.
//!
//! Nearly every sshd hit reads or writes it, and a bulk run fills it to its cap
//! (65,536 connections), so its layout is what costs: a `HashMap<IdKey, (IpAddr, i64)>`
//! took 56 bytes and a control byte per bucket, and grew by rehashing into fresh
//! tables (~15 MB of first-touched pages on the way to the cap; perf on the 1M-line
//! sshd text: 17% of the run in the page faults of `reserve_rehash`). Decimal ids
//! (PIDs: all of sshd's) now live in an open-addressed table of 32-byte slots with no
//! control bytes, half as many bytes at the cap. Other ids (rare) keep a `HashMap`.
//! Both are one map to the caller: same answers, same `len`, as the `HashMap` had.
//!
//! Slots are placed by a seeded hash of the id's high bits, the low bits picking a
//! slot within a block (see [`BLOCK_BITS`]): ids read from text logs are whatever
//! the line says, and linear probing on an attacker's ids must not cluster beyond a
//! block.

use crate::timefmt::Micros;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Decimal ids up to this many digits go to the table (10^17 < 2^57: the value and
/// its length fit one `u64`, with bit 63 left for the address family).
const MAX_DIGITS: usize = 17;
/// Set in a slot's key when its address is IPv6.
const V6: u64 = 1 << 63;
/// Ids are placed in blocks of `BLOCK` consecutive values (2 KiB of slots). PIDs are
/// near-sequential, so a new connection's slot is usually near the last one's
/// (already in cache) instead of a cache miss anywhere in the table (perf, 1M-line
/// sshd text: the first probe of an insert was half of `Session::process`). In the
/// bench's sshd traffic consecutive new PIDs are ~6 apart (90% within 40). Measured
/// on the 3M-line text, that first probe's stall was 4.0-4.7% of the run with 32-id
/// blocks, 2.6% with 64, 2.0% with 256. Bigger blocks cost where ids are dense (a
/// host where every PID is an sshd connection, or ids an attacker wrote into a text
/// log): blocks are placed by a seeded hash, so they cannot be made to collide on
/// purpose, but full blocks that overlap by chance make long probe runs: with every
/// id taken up to the cap, runs averaged 13-82 slots over 12 seeds with 64-id blocks,
/// 14-179 with 256 (`dense_and_strided_ids_stay_cheap`).
const BLOCK_BITS: u32 = 6;
const BLOCK: usize = 1 << BLOCK_BITS;

/// An `id_field` value as a key: decimal ids as a number with their length (so "07"
/// and "7" stay apart), anything else as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum IdKey<'a> {
    /// `len << 57 | value`; never 0 (len >= 1).
    Num(u64),
    Bytes(&'a [u8]),
}

impl IdKey<'_> {
    pub(super) fn new(id: &[u8]) -> IdKey<'_> {
        if !id.is_empty() && id.len() <= MAX_DIGITS && id.iter().all(u8::is_ascii_digit) {
            let value = id.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
            return IdKey::Num((id.len() as u64) << 57 | value);
        }
        IdKey::Bytes(id)
    }
}

#[derive(Clone, Copy, Default)]
struct Slot {
    /// 0: empty. Else the `IdKey::Num` value, with [`V6`] set for an IPv6 address.
    key: u64,
    seen: Micros,
    /// IPv6 octets, or the IPv4 ones in the first four.
    ip: [u8; 16],
}

impl Slot {
    fn id(&self) -> u64 {
        self.key & !V6
    }

    fn ip(&self) -> IpAddr {
        if self.key & V6 != 0 {
            IpAddr::V6(Ipv6Addr::from(self.ip))
        } else {
            let [a, b, c, d, ..] = self.ip;
            IpAddr::V4(Ipv4Addr::new(a, b, c, d))
        }
    }

    fn new(id: u64, ip: IpAddr, seen: Micros) -> Slot {
        let mut s = Slot {
            key: id,
            seen,
            ip: [0; 16],
        };
        match ip {
            IpAddr::V4(v4) => s.ip[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => {
                s.key |= V6;
                s.ip = v6.octets();
            }
        }
        s
    }
}

#[derive(Default)]
pub(super) struct Remembered {
    /// Power-of-two length (or empty), at most half full; linear probing.
    slots: Vec<Slot>,
    nums: usize,
    hasher: foldhash::fast::RandomState,
    others: HashMap<Box<[u8]>, (IpAddr, Micros), foldhash::fast::RandomState>,
}

impl Remembered {
    pub(super) fn len(&self) -> usize {
        self.nums + self.others.len()
    }

    pub(super) fn get(&self, key: &IdKey<'_>) -> Option<(IpAddr, Micros)> {
        match *key {
            IdKey::Num(id) => self.find(id).map(|i| {
                let s = &self.slots[i];
                (s.ip(), s.seen)
            }),
            IdKey::Bytes(b) => self.others.get(b).copied(),
        }
    }

    pub(super) fn contains_key(&self, key: &IdKey<'_>) -> bool {
        match *key {
            IdKey::Num(id) => self.find(id).is_some(),
            IdKey::Bytes(b) => self.others.contains_key(b),
        }
    }

    pub(super) fn insert(&mut self, key: &IdKey<'_>, ip: IpAddr, seen: Micros) {
        let id = match *key {
            IdKey::Num(id) => id,
            IdKey::Bytes(b) => {
                self.others.insert(b.into(), (ip, seen));
                return;
            }
        };
        if self.slots.is_empty() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(id);
        loop {
            let s = &mut self.slots[i];
            if s.key == 0 {
                break;
            }
            if s.id() == id {
                *s = Slot::new(id, ip, seen);
                return;
            }
            i = (i + 1) & mask;
        }
        // A new id. Grow only now: an overwrite at the session's cap must not double
        // the table (65,536 ids fit 131,072 slots at load 1/2).
        if (self.nums + 1) * 2 > self.slots.len() {
            self.grow();
            self.place(Slot::new(id, ip, seen));
        } else {
            self.slots[i] = Slot::new(id, ip, seen);
            self.nums += 1;
        }
    }

    pub(super) fn remove(&mut self, key: &IdKey<'_>) {
        let id = match *key {
            IdKey::Num(id) => id,
            IdKey::Bytes(b) => {
                self.others.remove(b);
                return;
            }
        };
        let Some(mut hole) = self.find(id) else {
            return;
        };
        // Backward-shift deletion: move later members of the probe run into the hole
        // when their home allows it, so lookups never need tombstones.
        let mask = self.slots.len() - 1;
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s.key == 0 {
                break;
            }
            let home = self.home(s.id());
            // `s` may fill the hole unless its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.slots[hole] = s;
                hole = j;
            }
        }
        self.slots[hole] = Slot::default();
        self.nums -= 1;
    }

    /// Keep the entries for which `keep(seen)` holds.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(Micros) -> bool) {
        self.others.retain(|_, (_, seen)| keep(*seen));
        if self.nums == 0 {
            return;
        }
        let live: Vec<Slot> = self
            .slots
            .iter()
            .filter(|s| s.key != 0 && keep(s.seen))
            .copied()
            .collect();
        self.slots.fill(Slot::default());
        self.nums = 0;
        for s in live {
            self.place(s);
        }
    }

    #[cfg(test)]
    pub(super) fn clear(&mut self) {
        self.others.clear();
        self.slots.fill(Slot::default());
        self.nums = 0;
    }

    /// Forget the entries seen before `cutoff`, then the oldest others until at most
    /// `keep` remain (ties at the line may take a few more). One pass to find the line,
    /// one rebuild: O(table) per call, which the caller makes rare.
    pub(super) fn forget_oldest(&mut self, cutoff: Micros, keep: usize) {
        let mut seen: Vec<Micros> = self
            .slots
            .iter()
            .filter(|s| s.key != 0)
            .map(|s| s.seen)
            .chain(self.others.values().map(|v| v.1))
            .collect();
        let mut line = cutoff;
        if seen.len() > keep {
            let k = seen.len() - keep;
            let (_, nth, _) = seen.select_nth_unstable(k - 1);
            line = line.max(nth.saturating_add(1));
        }
        self.retain(|s| s >= line);
    }

    /// Where `id`'s probe run starts: ids that differ only in their low [`BLOCK_BITS`]
    /// bits get neighbouring slots, from a start (any slot, so ids with the same low
    /// bits do not share a few homes) given by a seeded hash of the rest.
    fn home(&self, id: u64) -> usize {
        let block = self.hasher.hash_one(id >> BLOCK_BITS) as usize;
        block.wrapping_add(id as usize & (BLOCK - 1)) & (self.slots.len() - 1)
    }

    fn find(&self, id: u64) -> Option<usize> {
        if self.nums == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(id);
        loop {
            let s = &self.slots[i];
            if s.key == 0 {
                return None;
            }
            if s.id() == id {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Put a slot whose id is not in the table (rehash, retain).
    fn place(&mut self, s: Slot) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(s.id());
        while self.slots[i].key != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = s;
        self.nums += 1;
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        self.nums = 0;
        for s in old.into_iter().filter(|s| s.key != 0) {
            self.place(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table against a `HashMap` with the old key type, on random operations
    /// over a small id space (many collisions, removals inside probe runs).
    #[test]
    fn behaves_like_a_hash_map() {
        let mut next = crate::filter::xorshift(0x2545_f491_4f6c_dd1d);
        let mut t = Remembered::default();
        let mut model: HashMap<Vec<u8>, (IpAddr, Micros)> = HashMap::new();
        for step in 0..200_000u64 {
            let r = next();
            // Ids: short numbers (table), numbers with leading zeros, long numbers and
            // words (the byte map).
            let id: Vec<u8> = match r % 10 {
                0 => format!("0{}", r >> 8 & 63).into_bytes(),
                1 => format!("{}", 10u64.pow(17) + (r >> 8 & 7)).into_bytes(),
                2 => format!("w{}", r >> 8 & 7).into_bytes(),
                _ => format!("{}", r >> 8 & 1023).into_bytes(),
            };
            let key = IdKey::new(&id);
            let ip = if r >> 20 & 1 == 0 {
                IpAddr::V4(Ipv4Addr::from((r >> 21) as u32))
            } else {
                IpAddr::V6(Ipv6Addr::from(u128::from(r) << 64 | u128::from(step)))
            };
            match r >> 40 & 15 {
                0..=6 => {
                    t.insert(&key, ip, step as Micros);
                    model.insert(id.clone(), (ip, step as Micros));
                }
                7..=9 => {
                    t.remove(&key);
                    model.remove(&id);
                }
                10 if step % 1000 == 0 => {
                    let cut = step.saturating_sub(500) as Micros;
                    t.retain(|seen| seen >= cut);
                    model.retain(|_, (_, seen)| *seen >= cut);
                }
                11 if step % 5000 == 0 => {
                    t.clear();
                    model.clear();
                }
                12 if step % 300 == 0 => {
                    // The oldest half goes, exactly (every step's time is its own).
                    let keep = model.len() / 2;
                    t.forget_oldest(0, keep);
                    let mut times: Vec<Micros> = model.values().map(|v| v.1).collect();
                    times.sort_unstable();
                    let cut = times
                        .len()
                        .checked_sub(keep + 1)
                        .map_or(0, |i| times[i] + 1);
                    model.retain(|_, (_, seen)| *seen >= cut);
                    assert!(model.len() <= keep + 1);
                }
                _ => {}
            }
            assert_eq!(t.get(&key), model.get(&id).copied(), "step {step}");
            assert_eq!(t.contains_key(&key), model.contains_key(&id));
            assert_eq!(t.len(), model.len(), "step {step}");
        }
        // Everything the model holds, the table holds.
        for (id, v) in &model {
            assert_eq!(t.get(&IdKey::new(id)), Some(*v));
        }
    }

    /// Mean and largest distance of a slot from its home.
    fn displacement(t: &Remembered) -> (f64, usize) {
        let mask = t.slots.len() - 1;
        let d: Vec<usize> = (0..t.slots.len())
            .filter(|&i| t.slots[i].key != 0)
            .map(|i| i.wrapping_sub(t.home(t.slots[i].id())) & mask)
            .collect();
        let mean = d.iter().sum::<usize>() as f64 / d.len() as f64;
        (mean, d.into_iter().max().unwrap_or(0))
    }

    /// Ids as an attacker could write them into a text log: every block full, or one
    /// id per block, up to the session's cap. Probe runs stay short either way.
    #[test]
    fn dense_and_strided_ids_stay_cheap() {
        for stride in [1u64, 2, BLOCK as u64, 1 << 16] {
            let mut t = Remembered::default();
            let ids: Vec<Vec<u8>> = (0..65_536u64)
                .map(|i| (1_000_000 + i * stride).to_string().into_bytes())
                .collect();
            for (n, id) in ids.iter().enumerate() {
                t.insert(
                    &IdKey::new(id),
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    n as Micros,
                );
            }
            for (n, id) in ids.iter().enumerate() {
                assert_eq!(
                    t.get(&IdKey::new(id)),
                    Some((IpAddr::V4(Ipv4Addr::LOCALHOST), n as Micros))
                );
            }
            // At the session's cap, overwriting keeps the table at 2 slots per id.
            t.insert(&IdKey::new(&ids[7]), IpAddr::V4(Ipv4Addr::LOCALHOST), 7);
            assert_eq!((t.len(), t.slots.len()), (65_536, 131_072));
            let (mean, max) = displacement(&t);
            assert!(
                mean < 256.0 && max < 8192,
                "stride {stride}: mean {mean}, max {max}"
            );
            for id in ids.iter().step_by(3) {
                t.remove(&IdKey::new(id));
            }
            assert_eq!(t.len(), 65_536 - 65_536usize.div_ceil(3));
        }
    }

    #[test]
    fn keys() {
        assert_ne!(IdKey::new(b"7"), IdKey::new(b"07"));
        assert_eq!(IdKey::new(b"12345"), IdKey::new(b"12345"));
        assert_eq!(IdKey::new(b""), IdKey::Bytes(b""));
        assert!(matches!(IdKey::new(b"99999999999999999"), IdKey::Num(_)));
        assert!(matches!(IdKey::new(b"999999999999999999"), IdKey::Bytes(_)));
        assert!(matches!(IdKey::new(b"12a"), IdKey::Bytes(_)));
    }
}
