//! Failure windows of every jail, under one memory budget (`[daemon] tracker_memory`).
//!
//! A window holds one address's failures inside its jail's findtime; at maxretry it
//! trips (a ban) and is forgotten. Failures below maxretry from many addresses (a spray
//! from distinct IPv6 /64s: one /48 holds 65,536) would otherwise grow memory without
//! bound: before this module ~426 B of heap an address, 408 MiB for 1M; now ~181 B and
//! flat at the budget (bench/spray.sh, bench/RESULTS.md section 0000).
//!
//! What keeps it bounded, and why an attacker cannot use the bound to hide:
//! - *Compact windows.* One slot per window in a slab (`Slot`, 88 bytes): up to four
//!   failure times inline (maxretry 5 never leaves the slot), the matched texts of the
//!   latest failures (at most [`MAX_TEXTS`], each cut at [`MATCH_KEEP`] bytes) in one
//!   allocation. The index is a hash table of slot numbers (5 bytes a bucket), keyed
//!   by SipHash: addresses are the attacker's choice.
//! - *A budget, and who is forgotten first.* Slots sit on one list per jail and
//!   failure count, in the order they were last touched. When the budget is exceeded
//!   the window with the fewest failures goes, the oldest of those first (across
//!   jails). A new window, having one failure, can only push out other one-failure
//!   windows, never one with more: a spray of single failures from a million
//!   addresses cannot make banjo forget an address with 4 of its 5. If nothing has as
//!   few failures as the newcomer, the newcomer is the one not kept. Each forgotten
//!   window is counted per jail (status), and the first is announced once
//!   ([`Tracker::take_notice`]).
//! - *Expiry on time.* A window expires findtime after its newest failure. The lists'
//!   heads are the oldest, so a sweep costs the expired windows plus one look per
//!   non-empty list; the daemon wakes for it ([`Tracker::due`]), not only on adds. Once
//!   three quarters of the slab is free it is rebuilt smaller, and what was freed is
//!   reported ([`Tracker::take_freed`]) so the daemon can hand it back to the kernel.
//!
//! It knows nothing of clocks or firewalls: times are the callers'.

use crate::addr::Addr;
use crate::timefmt::{Micros, SEC};
use hashbrown::HashTable;
use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};

/// How much of a matched MESSAGE is kept for the ban report.
pub const MATCH_KEEP: usize = 256;
/// Matched texts kept per window: those of its latest failures.
pub const MAX_TEXTS: usize = 32;
/// Failure times a slot holds without a heap allocation.
const INLINE: usize = 4;
/// Lists per jail: windows with 1, 2, … failures; the last one holds all with more.
const LEVELS: usize = 64;
/// No slot (end of a list, or of the free chain).
const NIL: u32 = u32::MAX;
/// Expired windows are looked for at most this often.
pub const SWEEP_EVERY: Micros = SEC;

/// maxretry reached for `addr`: ban it.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    pub addr: Addr,
    pub failures: u32,
    pub matches: Vec<String>,
}

/// The first window forgotten for the budget, for a one-time journal entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub jail: usize,
    /// Failures the forgotten window had.
    pub failures: usize,
    pub budget: usize,
}

/// Failure times of a window, oldest first.
#[derive(Debug)]
enum Times {
    Inline(u8, [Micros; INLINE]),
    Spilled(VecDeque<Micros>),
}

impl Times {
    fn one(t: Micros) -> Times {
        Times::Inline(1, [t, 0, 0, 0])
    }

    fn len(&self) -> usize {
        match self {
            Times::Inline(n, _) => *n as usize,
            Times::Spilled(v) => v.len(),
        }
    }

    fn newest(&self) -> Micros {
        match self {
            Times::Inline(n, t) => t[(*n as usize).saturating_sub(1)],
            Times::Spilled(v) => v.back().copied().unwrap_or(0),
        }
    }

    fn iter(&self) -> impl Iterator<Item = Micros> + '_ {
        let (a, b): (&[Micros], &[Micros]) = match self {
            Times::Inline(n, t) => (&t[..*n as usize], &[]),
            Times::Spilled(v) => v.as_slices(),
        };
        a.iter().chain(b).copied()
    }

    fn push(&mut self, t: Micros) {
        match self {
            Times::Inline(n, a) if (*n as usize) < INLINE => {
                a[*n as usize] = t;
                *n += 1;
            }
            Times::Inline(_, a) => {
                let mut v = VecDeque::with_capacity(2 * INLINE);
                v.extend(a.iter().copied());
                v.push_back(t);
                *self = Times::Spilled(v);
            }
            Times::Spilled(v) => v.push_back(t),
        }
    }

    /// Drop the failures older than `cutoff`, from the front.
    fn drop_before(&mut self, cutoff: Micros) {
        match self {
            Times::Inline(n, a) => {
                let k = a[..*n as usize].iter().take_while(|&&t| t < cutoff).count();
                a.copy_within(k..*n as usize, 0);
                *n -= k as u8;
            }
            Times::Spilled(v) => {
                while v.front().is_some_and(|&t| t < cutoff) {
                    v.pop_front();
                }
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Times::Inline(..) => 0,
            Times::Spilled(v) => chunk(v.capacity() * std::mem::size_of::<Micros>()),
        }
    }
}

/// What malloc spends on an allocation of `n` bytes (glibc: 8 bytes of header, 16-byte
/// steps, 32 at least).
fn chunk(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (n + 8).div_ceil(16).max(2) * 16
    }
}

/// The matched texts of a window's latest failures, oldest first, in one allocation:
/// each as a 2-byte length and its bytes.
#[derive(Debug, Default)]
struct Texts(Box<[u8]>);

impl Texts {
    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut rest: &[u8] = &self.0;
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<2>()?;
            let n = u16::from_le_bytes(*len) as usize;
            let (text, tail) = tail.split_at(n.min(tail.len()));
            rest = tail;
            Some(text)
        })
    }

    fn count(&self) -> usize {
        self.iter().count()
    }

    /// Append `text` (cut to MATCH_KEEP at a character boundary), keeping at most `keep`.
    fn push(&mut self, text: &str, keep: usize) {
        let mut cut = text.len().min(MATCH_KEEP);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let drop = (self.count() + 1).saturating_sub(keep);
        let skip: usize = self.iter().take(drop).map(|t| 2 + t.len()).sum();
        let mut v = Vec::with_capacity(self.0.len() - skip + 2 + cut);
        v.extend_from_slice(&self.0[skip..]);
        v.extend_from_slice(&(cut as u16).to_le_bytes());
        v.extend_from_slice(&text.as_bytes()[..cut]);
        self.0 = v.into_boxed_slice();
    }

    fn heap_bytes(&self) -> usize {
        chunk(self.0.len())
    }
}

/// One window, or a free slot (`level == FREE`, chained through `next`).
#[derive(Debug)]
struct Slot {
    key: Addr,
    jail: u16,
    level: u8,
    prev: u32,
    next: u32,
    times: Times,
    texts: Texts,
}

const FREE: u8 = u8::MAX;

/// What one slot costs: itself, and its share of the index. The index holds at most
/// one entry per slot in buckets of a u32 and a control byte, at least 7/16 full
/// (hashbrown doubles at 7/8): under 12 bytes a slot.
const SLOT_COST: usize = std::mem::size_of::<Slot>() + 12;

impl Slot {
    fn heap_bytes(&self) -> usize {
        self.times.heap_bytes() + self.texts.heap_bytes()
    }
}

#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
};

/// One jail's rules and its windows' lists (index: failures − 1, capped).
#[derive(Debug)]
struct JailWindows {
    maxretry: u32,
    findtime: Micros,
    lists: [List; LEVELS],
    /// Bit i: `lists[i]` is not empty.
    nonempty: u64,
    len: usize,
    forgotten: u64,
}

impl JailWindows {
    fn new(maxretry: u32, findtime: Micros) -> JailWindows {
        JailWindows {
            maxretry: maxretry.max(1),
            findtime,
            lists: [EMPTY; LEVELS],
            nonempty: 0,
            len: 0,
            forgotten: 0,
        }
    }
}

fn level_of(failures: usize) -> u8 {
    (failures.clamp(1, LEVELS) - 1) as u8
}

/// Failure windows of all jails.
#[derive(Debug)]
pub struct Tracker {
    jails: Vec<JailWindows>,
    slots: Vec<Slot>,
    free: u32,
    index: HashTable<u32>,
    hasher: RandomState,
    /// Heap bytes the slots hold (texts, spilled times).
    heap: usize,
    budget: usize,
    /// No window expires before this (a lower bound; Micros::MAX: none held).
    due: Micros,
    swept_at: Micros,
    /// Bytes given up since [`take_freed`](Self::take_freed).
    freed: usize,
    notice: Option<Notice>,
    announced: bool,
}

impl Default for Tracker {
    fn default() -> Tracker {
        Tracker::new(crate::config::DEFAULT_TRACKER_MEMORY, std::iter::empty())
    }
}

impl Tracker {
    /// One jail per `(maxretry, findtime)`, in jail order.
    pub fn new(budget: usize, jails: impl IntoIterator<Item = (u32, Micros)>) -> Tracker {
        Tracker {
            jails: jails
                .into_iter()
                .map(|(m, f)| JailWindows::new(m, f))
                .collect(),
            slots: Vec::new(),
            free: NIL,
            index: HashTable::new(),
            hasher: RandomState::new(),
            heap: 0,
            budget,
            due: Micros::MAX,
            swept_at: Micros::MIN,
            freed: 0,
            notice: None,
            announced: false,
        }
    }

    /// Bytes the windows take: the slab by capacity, the index at most as many buckets
    /// per slot as it can have, and their heap.
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * SLOT_COST + self.heap
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    /// A new budget; windows are forgotten at once if it is smaller.
    pub fn set_budget(&mut self, budget: usize) {
        self.budget = budget;
        self.shrink_to_budget();
    }

    /// What the windows would take in a slab and index of their own size.
    fn live_bytes(&self) -> usize {
        self.len() * SLOT_COST + self.heap
    }

    /// Forget windows (fewest failures first) until they fit the budget in tables of
    /// their own size, then make the tables that size: the budget shrank.
    fn shrink_to_budget(&mut self) {
        if self.bytes() <= self.budget {
            return;
        }
        let before = self.bytes();
        while self.live_bytes() > self.budget && self.evict_if(|_| true) {}
        self.rebuild(Some, None);
        self.freed += before.saturating_sub(self.bytes());
    }

    /// Windows held, in all jails.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Addresses with failures in the window of `jail` ("currently failed"): those
    /// not yet swept, so exact after [`sweep`](Self::sweep).
    pub fn failing(&self, jail: usize) -> usize {
        self.jails.get(jail).map_or(0, |j| j.len)
    }

    /// Windows of `jail` forgotten to stay within the budget.
    pub fn forgotten(&self, jail: usize) -> u64 {
        self.jails.get(jail).map_or(0, |j| j.forgotten)
    }

    pub fn forgotten_total(&self) -> u64 {
        self.jails.iter().map(|j| j.forgotten).sum()
    }

    /// The first window forgotten for the budget, once per tracker (and the trackers
    /// carried over from it).
    pub fn take_notice(&mut self) -> Option<Notice> {
        self.notice.take()
    }

    /// Bytes given up (expired windows, a smaller slab) since [`take_freed`](Self::take_freed).
    pub fn freed(&self) -> usize {
        self.freed
    }

    pub fn take_freed(&mut self) -> usize {
        std::mem::take(&mut self.freed)
    }

    /// When the next sweep is worth doing: a window may have expired by then.
    pub fn due(&self) -> Option<Micros> {
        (self.due != Micros::MAX).then_some(self.due)
    }

    fn hash(&self, jail: usize, addr: &Addr) -> u64 {
        self.hasher.hash_one((jail as u16, addr))
    }

    fn find(&self, jail: usize, addr: &Addr) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(self.hash(jail, addr), |&i| {
                let s = &slots[i as usize];
                s.jail as usize == jail && s.key == *addr
            })
            .copied()
    }

    /// Count a failure of `addr` in `jail` at `t`. Returns a trip (and forgets the
    /// address) at maxretry.
    pub fn add(&mut self, jail: usize, addr: Addr, t: Micros, message: &str) -> Option<Trip> {
        let (maxretry, findtime) = match self.jails.get(jail) {
            Some(j) => (j.maxretry, j.findtime),
            None => return None,
        };
        let i = match self.find(jail, &addr) {
            Some(i) => {
                self.unlink(i);
                let s = &mut self.slots[i as usize];
                let before = s.heap_bytes();
                s.times.drop_before(t.saturating_sub(findtime));
                s.times.push(t);
                s.texts.push(message, s.times.len().min(MAX_TEXTS));
                self.heap = self.heap - before + s.heap_bytes();
                i
            }
            None => {
                let mut texts = Texts::default();
                texts.push(message, 1);
                self.insert(jail, addr, Times::one(t), texts)?
            }
        };
        let failures = self.slots[i as usize].times.len();
        if failures as u32 >= maxretry {
            let s = self.remove(i);
            self.compact_if_sparse();
            return Some(Trip {
                addr,
                failures: failures as u32,
                matches: s
                    .texts
                    .iter()
                    .map(|m| String::from_utf8_lossy(m).into_owned())
                    .collect(),
            });
        }
        self.link(i, level_of(failures));
        let expiry = t.saturating_add(findtime).saturating_add(1);
        self.due = self
            .due
            .min(expiry.max(self.swept_at.saturating_add(SWEEP_EVERY)));
        self.keep_budget();
        None
    }

    /// A new window's slot (not yet on a list), or None if the budget has no room for
    /// a window with one failure.
    fn insert(&mut self, jail: usize, key: Addr, times: Times, texts: Texts) -> Option<u32> {
        if self.free == NIL && self.slots.len() == self.slots.capacity() {
            let grow = (self.slots.len() / 8).max(64);
            let cost = grow * SLOT_COST;
            if self.bytes() + cost > self.budget {
                // No room to grow: a one-failure window may only replace another.
                if !self.evict_if(|level| level == 0) {
                    self.forget_newcomer(jail);
                    return None;
                }
            } else {
                self.slots.reserve_exact(grow);
            }
        }
        self.heap += times.heap_bytes() + texts.heap_bytes();
        let slot = Slot {
            key,
            jail: jail as u16,
            level: FREE,
            prev: NIL,
            next: NIL,
            times,
            texts,
        };
        let i = if self.free != NIL {
            let i = self.free;
            self.free = self.slots[i as usize].next;
            self.slots[i as usize] = slot;
            i
        } else {
            self.slots.push(slot);
            (self.slots.len() - 1) as u32
        };
        let hash = self.hash(jail, &key);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, i, |&j| {
            let s = &slots[j as usize];
            hasher.hash_one((s.jail, &s.key))
        });
        self.jails[jail].len += 1;
        Some(i)
    }

    /// A window that found no room: counted as forgotten.
    fn forget_newcomer(&mut self, jail: usize) {
        self.jails[jail].forgotten += 1;
        self.note(jail, 1);
    }

    fn note(&mut self, jail: usize, failures: usize) {
        if !self.announced {
            self.announced = true;
            self.notice = Some(Notice {
                jail,
                failures,
                budget: self.budget,
            });
        }
    }

    /// Put slot `i` at the tail of its jail's list for `level`.
    fn link(&mut self, i: u32, level: u8) {
        let jail = self.slots[i as usize].jail as usize;
        let list = &mut self.jails[jail].lists[level as usize];
        let tail = list.tail;
        if tail == NIL {
            list.head = i;
        }
        list.tail = i;
        self.jails[jail].nonempty |= 1 << level;
        if tail != NIL {
            self.slots[tail as usize].next = i;
        }
        let s = &mut self.slots[i as usize];
        s.level = level;
        s.prev = tail;
        s.next = NIL;
    }

    /// Take slot `i` off its list (it stays in the index).
    fn unlink(&mut self, i: u32) {
        let (jail, level, prev, next) = {
            let s = &self.slots[i as usize];
            (s.jail as usize, s.level, s.prev, s.next)
        };
        if level == FREE {
            return;
        }
        if prev != NIL {
            self.slots[prev as usize].next = next;
        }
        if next != NIL {
            self.slots[next as usize].prev = prev;
        }
        let j = &mut self.jails[jail];
        let list = &mut j.lists[level as usize];
        if list.head == i {
            list.head = next;
        }
        if list.tail == i {
            list.tail = prev;
        }
        if list.head == NIL {
            j.nonempty &= !(1 << level);
        }
        let s = &mut self.slots[i as usize];
        s.level = FREE;
        s.prev = NIL;
        s.next = NIL;
    }

    /// Forget window `i` entirely; returns what it held.
    fn remove(&mut self, i: u32) -> Slot {
        self.unlink(i);
        let (jail, key) = {
            let s = &self.slots[i as usize];
            (s.jail as usize, s.key)
        };
        let hash = self.hash(jail, &key);
        if let Ok(e) = self.index.find_entry(hash, |&j| j == i) {
            e.remove();
        }
        self.jails[jail].len -= 1;
        let vacant = Slot {
            key,
            jail: 0,
            level: FREE,
            prev: NIL,
            next: self.free,
            times: Times::Inline(0, [0; INLINE]),
            texts: Texts::default(),
        };
        let s = std::mem::replace(&mut self.slots[i as usize], vacant);
        self.free = i;
        self.heap -= s.heap_bytes();
        s
    }

    /// Forget windows, fewest failures first, until within the budget.
    fn keep_budget(&mut self) {
        while self.bytes() > self.budget && self.evict_if(|_| true) {}
    }

    /// Forget the oldest window of the lowest level over all jails, if `allowed`
    /// (level) says so. Returns whether one was forgotten.
    fn evict_if(&mut self, allowed: impl Fn(u8) -> bool) -> bool {
        let mut pick: Option<(u8, Micros, u32)> = None;
        for j in &self.jails {
            if j.nonempty == 0 {
                continue;
            }
            let level = j.nonempty.trailing_zeros() as u8;
            let head = j.lists[level as usize].head;
            let age = self.slots[head as usize].times.newest();
            if pick.is_none_or(|(l, a, _)| (level, age) < (l, a)) {
                pick = Some((level, age, head));
            }
        }
        let Some((level, _, i)) = pick.filter(|p| allowed(p.0)) else {
            return false;
        };
        let jail = self.slots[i as usize].jail as usize;
        self.remove(i);
        self.jails[jail].forgotten += 1;
        self.note(jail, level as usize + 1);
        true
    }

    /// Current failure count of `addr` in `jail`'s window ending at `now`.
    pub fn count(&self, jail: usize, addr: &Addr, now: Micros) -> usize {
        let Some(findtime) = self.jails.get(jail).map(|j| j.findtime) else {
            return 0;
        };
        self.find(jail, addr).map_or(0, |i| {
            self.slots[i as usize]
                .times
                .iter()
                .filter(|&t| now - t <= findtime)
                .count()
        })
    }

    pub fn forget(&mut self, jail: usize, addr: &Addr) {
        if let Some(i) = self.find(jail, addr) {
            self.remove(i);
            self.compact_if_sparse();
        }
    }

    /// Drop the windows whose newest failure is older than findtime: memory follows
    /// the addresses failing now. Costs the expired windows plus a look at each
    /// non-empty list's head.
    pub fn sweep(&mut self, now: Micros) {
        let before = self.bytes();
        for ji in 0..self.jails.len() {
            let findtime = self.jails[ji].findtime;
            let mut levels = self.jails[ji].nonempty;
            while levels != 0 {
                let level = levels.trailing_zeros() as usize;
                levels &= levels - 1;
                loop {
                    let head = self.jails[ji].lists[level].head;
                    if head == NIL || now - self.slots[head as usize].times.newest() <= findtime {
                        break;
                    }
                    self.remove(head);
                }
            }
        }
        self.compact_if_sparse();
        self.swept_at = now;
        self.due = self
            .next_expiry()
            .map_or(Micros::MAX, |t| t.max(now.saturating_add(SWEEP_EVERY)));
        self.freed += before.saturating_sub(self.bytes());
    }

    /// The earliest time a list's head expires.
    fn next_expiry(&self) -> Option<Micros> {
        let mut out: Option<Micros> = None;
        for j in &self.jails {
            let mut levels = j.nonempty;
            while levels != 0 {
                let level = levels.trailing_zeros() as usize;
                levels &= levels - 1;
                let head = &self.slots[j.lists[level].head as usize];
                let t = head
                    .times
                    .newest()
                    .saturating_add(j.findtime)
                    .saturating_add(1);
                out = Some(out.map_or(t, |o| o.min(t)));
            }
        }
        out
    }

    /// Rebuild the slab and the index smaller once three quarters of the slab is free:
    /// a table never shrinks by itself, and after a burst would hold its peak for good.
    /// Amortised O(1) per removal.
    fn compact_if_sparse(&mut self) {
        let cap = self.slots.capacity();
        if cap > 1024 && self.len() < cap / 4 {
            self.rebuild(Some, None);
        }
    }

    /// A new slab and index holding the windows of the jails `map` keeps (old jail ->
    /// new), each list in its order. `jails`: the new jails' rules, if they change.
    fn rebuild(&mut self, map: impl Fn(usize) -> Option<usize>, jails: Option<Vec<JailWindows>>) {
        let jails = jails.unwrap_or_else(|| {
            self.jails
                .iter()
                .map(|j| JailWindows::new(j.maxretry, j.findtime))
                .collect()
        });
        let old_jails = std::mem::replace(&mut self.jails, jails);
        let mut old = std::mem::take(&mut self.slots);
        let live: usize = old_jails
            .iter()
            .enumerate()
            .filter(|(i, _)| map(*i).is_some_and(|n| n < self.jails.len()))
            .map(|(_, j)| j.len)
            .sum();
        self.slots = Vec::with_capacity(live);
        self.index = HashTable::with_capacity(live);
        self.free = NIL;
        self.heap = 0;
        for (oi, oj) in old_jails.iter().enumerate() {
            let Some(ni) = map(oi).filter(|&n| n < self.jails.len()) else {
                continue;
            };
            self.jails[ni].forgotten += oj.forgotten;
            for level in 0..LEVELS {
                let mut at = oj.lists[level].head;
                while at != NIL {
                    let s = &mut old[at as usize];
                    at = s.next;
                    let times = std::mem::replace(&mut s.times, Times::Inline(0, [0; INLINE]));
                    let texts = std::mem::take(&mut s.texts);
                    if let Some(i) = self.insert(ni, s.key, times, texts) {
                        self.link(i, level as u8);
                    }
                }
            }
        }
    }

    /// The windows to keep across a reload: `map[old jail]` is the new index of a jail
    /// whose maxretry and findtime did not change (None: its windows are dropped);
    /// `jails` are the new jails' rules. Counts of forgotten windows go along.
    pub fn carry_over(
        mut self,
        map: &[Option<usize>],
        jails: impl IntoIterator<Item = (u32, Micros)>,
        budget: usize,
    ) -> Tracker {
        let new: Vec<JailWindows> = jails
            .into_iter()
            .map(|(m, f)| JailWindows::new(m, f))
            .collect();
        self.budget = budget;
        self.rebuild(|oi| map.get(oi).copied().flatten(), Some(new));
        self.due = self.next_expiry().unwrap_or(Micros::MAX);
        self.shrink_to_budget();
        self
    }
}

#[cfg(test)]
mod tests;
