//! Filters: turn one entry's MESSAGE (and, for a few filters, one of its fields) into a
//! failure with an address, or into nothing.
//!
//! A filter never sees the syslog prefix or a date: the journal gives those as fields.
//! It must not keep per-address counts (that is the jail's tracker); its only state is
//! the short-lived `id_field` correlation in [`Session`].

pub mod builtin;
mod connstate;
pub mod engine;
mod remembered;
pub mod spec;
pub mod tags;

use crate::diag::{line_of, Diagnostic};
use crate::journal::Entry;
use crate::timefmt::{parse_duration, Micros, SEC};
use connstate::{ConnState, ConnStates};
use engine::{CaptureSlot, Engine, EngineKind};
use remembered::{IdKey, Remembered};
use spec::FilterSpec;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use toml::Spanned;

/// One failregex or ignoreregex, compiled.
pub struct Pattern {
    /// As written in the filter (before tag expansion), for reports.
    pub source: String,
    /// File and line it came from.
    pub origin: String,
    engine: Engine,
    /// Group numbers (see `Engine::group_index`) of `<HOST>`-like tags, in order.
    hosts: Vec<usize>,
    user_groups: Vec<usize>,
    nofail_groups: Vec<usize>,
    forget_groups: Vec<usize>,
    /// `<F-MLFID>` groups: text that, with `id_field`, tells one connection's lines.
    id_groups: Vec<usize>,
}

impl Pattern {
    pub fn engine(&self) -> EngineKind {
        self.engine.kind()
    }

    /// The expanded regex as compiled (tags replaced), for diagnostics.
    pub fn debug_regex(&self) -> &str {
        self.engine.regex_source().unwrap_or(&self.source)
    }
}

/// A compiled filter in one mode with its parameters applied.
pub struct Filter {
    pub name: String,
    pub mode: String,
    pub description: String,
    /// Where it was loaded from (`<built-in>` or a path).
    pub file: String,
    pub failregex: Vec<Pattern>,
    pub ignoreregex: Vec<Pattern>,
    /// Default journalmatch groups, with the line they were written on.
    pub journalmatch: Option<(Vec<String>, usize)>,
    pub id_field: Option<String>,
    pub host_field: Option<String>,
    pub correlation_window: Micros,
    /// All `regex`-engine failregexes in one automaton: one pass rejects a miss.
    fail_set: Option<regex::bytes::RegexSet>,
    /// `fail_set` index -> failregex index.
    fail_set_map: Vec<usize>,
    /// When every failregex is anchored with literal prefixes: a miss is then a table
    /// lookup and a few byte comparisons, and a hit runs only its own pattern.
    prefixes: Option<PrefixIndex>,
    /// failregexes on PCRE2, tried one by one.
    pcre_fail: Vec<usize>,
    /// Checked but not compiled ([`Filter::outline`]): no patterns; never run.
    pub outline: bool,
}

/// Literal prefixes of every failregex, indexed by first byte.
struct PrefixIndex {
    /// Per failregex: the literals its matches start with.
    prefixes: Vec<Vec<Vec<u8>>>,
    /// First byte -> failregexes (ascending, so file order is kept) with a prefix
    /// starting with it.
    by_first: Vec<Vec<usize>>,
}

impl PrefixIndex {
    fn new(prefixes: Vec<Vec<Vec<u8>>>) -> PrefixIndex {
        let mut by_first = vec![Vec::new(); 256];
        for (i, list) in prefixes.iter().enumerate() {
            for p in list {
                let slot: &mut Vec<usize> = &mut by_first[p[0] as usize];
                if slot.last() != Some(&i) {
                    slot.push(i);
                }
            }
        }
        PrefixIndex { prefixes, by_first }
    }

    fn candidates(&self, text: &[u8]) -> &[usize] {
        match text.first() {
            Some(&b) => &self.by_first[b as usize],
            None => &[],
        }
    }
}

/// What a filter made of one entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// No failregex matched.
    Missed,
    /// A failregex matched but an ignoreregex too.
    Ignored {
        failregex: usize,
        ignoreregex: usize,
    },
    /// A failregex matched (`None`: a `host_field` filter with no failregex).
    Matched(Match),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub failregex: Option<usize>,
    /// Address from `<HOST>`, else from `host_field`, else filled in by correlation.
    pub host: Option<IpAddr>,
    /// Where `<F-USER>` lies in MESSAGE (see [`Match::user`]): kept as a range so a
    /// hit costs no allocation for a name most callers never read.
    pub user_at: Option<std::ops::Range<usize>>,
    /// `<F-NOFAIL>`: remember the host for the connection but count no failure.
    pub nofail: bool,
    /// `<F-MLFORGET>`: the connection ended; forget what was remembered. Alone a
    /// success; with `nofail` only the end (see [`Session::correlate`]).
    pub forget: bool,
    /// Where `<F-MLFID>` lies in MESSAGE: with `id_field`, part of the connection's
    /// id (sendmail's queue id beside its `_PID`).
    pub id_at: Option<std::ops::Range<usize>>,
}

impl Match {
    /// The `<F-USER>` text of `message` (the MESSAGE this match was made on).
    pub fn user<'m>(&self, message: &'m [u8]) -> Option<std::borrow::Cow<'m, str>> {
        let r = self.user_at.clone()?;
        message.get(r).map(String::from_utf8_lossy)
    }
}

/// A failure: the unit a jail counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub ip: IpAddr,
    pub time_us: Micros,
    pub failregex: Option<usize>,
}

/// Parameters that pick patterns beside the mode, read from the mode names
/// `MODE,PARAM=VALUE` (the importer writes them for fail2ban's switches such as sshd's
/// `publickey`, each value's patterns in full): parameter -> its values.
fn switch_params(spec: &FilterSpec) -> BTreeMap<&str, Vec<String>> {
    let mut out: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for m in spec.modes.keys() {
        for part in m.split(',').skip(1) {
            if let Some((k, v)) = part.split_once('=') {
                let values = out.entry(k).or_default();
                if !values.iter().any(|x| x == v) {
                    values.push(v.to_owned());
                }
            }
        }
    }
    out
}

/// Parsed `name[mode=aggressive, var=value]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterRef {
    pub name: String,
    pub params: BTreeMap<String, String>,
}

impl FilterRef {
    pub fn parse(text: &str) -> Result<FilterRef, String> {
        let text = text.trim();
        let Some(open) = text.find('[') else {
            if text.is_empty() {
                return Err("empty filter name".into());
            }
            return Ok(FilterRef {
                name: text.to_owned(),
                params: BTreeMap::new(),
            });
        };
        let inner = text[open + 1..]
            .strip_suffix(']')
            .ok_or_else(|| format!("{text:?}: missing closing ]"))?;
        let mut params = BTreeMap::new();
        for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("{text:?}: parameter {part:?} is not name=value"))?;
            let v = v.trim().trim_matches('"');
            params.insert(k.trim().to_owned(), v.to_owned());
        }
        Ok(FilterRef {
            name: text[..open].trim().to_owned(),
            params,
        })
    }
}

impl Filter {
    /// Load a filter by reference: a path (contains `/` or ends in `.toml`), else
    /// `DIR/NAME.toml` for each dir in `search` (first hit wins), else a built-in.
    pub fn load(fref: &FilterRef, search: &[&Path]) -> Result<Filter, Vec<Diagnostic>> {
        let (file, text) = find_filter(&fref.name, search)?;
        Filter::from_toml(&fref.name, &file, &text, &fref.params)
    }

    /// [`load`](Self::load) without compiling the patterns: the file is found and
    /// read, its keys, mode, parameters and tags are checked (the same diagnostics,
    /// but for what only the regex engines find), and the result has no patterns.
    /// For a jail that is configured but not run (a disabled jail in the daemon),
    /// whose automata would only cost memory (bench/RESULTS.md, "idle memory").
    pub fn outline(fref: &FilterRef, search: &[&Path]) -> Result<Filter, Vec<Diagnostic>> {
        let (file, text) = find_filter(&fref.name, search)?;
        let spec: FilterSpec =
            toml::from_str(&text).map_err(|e| vec![crate::diag::from_toml(&file, &text, &e)])?;
        compile_as(&fref.name, &file, &text, spec, &fref.params, Engines::Skip)
    }

    /// An outline of a filter that was not even read (a fail2ban filter file named
    /// by a disabled jail: importing it compiles it).
    pub fn unread(name: &str, file: &str) -> Filter {
        Filter {
            name: name.to_owned(),
            mode: String::new(),
            description: String::new(),
            file: file.to_owned(),
            failregex: Vec::new(),
            ignoreregex: Vec::new(),
            journalmatch: None,
            id_field: None,
            host_field: None,
            correlation_window: 0,
            fail_set: None,
            fail_set_map: Vec::new(),
            prefixes: None,
            pcre_fail: Vec::new(),
            outline: true,
        }
    }

    /// Compile filter text. `file` is used in diagnostics only.
    pub fn from_toml(
        name: &str,
        file: &str,
        text: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<Filter, Vec<Diagnostic>> {
        let spec: FilterSpec =
            toml::from_str(text).map_err(|e| vec![crate::diag::from_toml(file, text, &e)])?;
        compile(name, file, text, spec, params)
    }

    /// A filter made of one inline regex (`banjo test-filter '^fail from <HOST>$' …`).
    pub fn inline(pattern: &str) -> Result<Filter, Vec<Diagnostic>> {
        let spec = FilterSpec {
            failregex: vec![Spanned::new(0..0, pattern.to_owned())],
            ..FilterSpec::default()
        };
        compile("inline", "<command line>", "", spec, &BTreeMap::new())
    }

    /// Run the filter on one entry (no correlation: see [`Session`]).
    pub fn check(&self, entry: &Entry) -> Outcome {
        self.check_with(entry, &mut self.capture_slots())
    }

    /// One capture buffer per failregex, for [`check_with`](Self::check_with).
    fn capture_slots(&self) -> Vec<CaptureSlot> {
        self.failregex
            .iter()
            .map(|_| CaptureSlot::default())
            .collect()
    }

    /// [`check`](Self::check) with the caller's capture buffers, made by this
    /// filter's [`capture_slots`](Self::capture_slots).
    fn check_with(&self, entry: &Entry, slots: &mut [CaptureSlot]) -> Outcome {
        let text = entry.message.as_slice();
        let Some((idx, caps)) = self.find(text, slots) else {
            if self.failregex.is_empty() && self.host_field.is_some() {
                return Outcome::Matched(Match {
                    failregex: None,
                    host: self.field_host(entry),
                    user_at: None,
                    nofail: false,
                    forget: false,
                    id_at: None,
                });
            }
            return Outcome::Missed;
        };
        if let Some(ig) = self
            .ignoreregex
            .iter()
            .position(|p| p.engine.is_match(text))
        {
            return Outcome::Ignored {
                failregex: idx,
                ignoreregex: ig,
            };
        }
        let pat = &self.failregex[idx];
        let host = pat
            .hosts
            .iter()
            .find_map(|&g| caps.bytes(g))
            .and_then(parse_host_bytes)
            .or_else(|| self.field_host(entry));
        // The first user group that holds a name, else the first that matched (empty):
        // `<F-ALT_USER>` stands in when `<F-USER>` is empty or absent (PAM's `ruser=`).
        let user_at = pat
            .user_groups
            .iter()
            .filter_map(|&g| caps.get(g))
            .find(|r| !r.is_empty())
            .or_else(|| pat.user_groups.iter().find_map(|&g| caps.get(g)));
        Outcome::Matched(Match {
            failregex: Some(idx),
            host,
            user_at,
            nofail: pat.nofail_groups.iter().any(|&g| caps.get(g).is_some()),
            forget: pat.forget_groups.iter().any(|&g| caps.get(g).is_some()),
            id_at: pat.id_groups.iter().find_map(|&g| caps.get(g)),
        })
    }

    /// The first failregex (in file order) that matches, with its captures.
    fn find<'t>(
        &'t self,
        text: &'t [u8],
        slots: &'t mut [CaptureSlot],
    ) -> Option<(usize, engine::Captures<'t>)> {
        if let Some(index) = &self.prefixes {
            // Candidates ascend: the slot of each one whose prefix matches is split off
            // the slots after the last such, so the one that matches can lend its
            // buffer to the result (and a miss touches no slot).
            let mut rest = slots;
            let mut first = 0;
            for &i in index.candidates(text) {
                if !index.prefixes[i].iter().any(|p| text.starts_with(p)) {
                    continue;
                }
                let (slot, after) = std::mem::take(&mut rest)
                    .get_mut(i - first..)?
                    .split_first_mut()?;
                rest = after;
                first = i + 1;
                if let Some(c) = self.failregex[i].engine.captures(text, slot) {
                    return Some((i, c));
                }
            }
            return None;
        }
        let i = self.first_failregex(text)?;
        // None only if the set and the single pattern disagreed, which they must not;
        // a miss then rather than a guess.
        let slot = slots.get_mut(i)?;
        self.failregex[i]
            .engine
            .captures(text, slot)
            .map(|c| (i, c))
    }

    /// Index of the first failregex (in file order) that matches.
    fn first_failregex(&self, text: &[u8]) -> Option<usize> {
        let mut best: Option<usize> = None;
        if let Some(set) = &self.fail_set {
            // Anchored patterns make this one DFA pass that stops at the first byte
            // no pattern can continue with: the common miss costs almost nothing.
            if let Some(i) = set.matches(text).iter().next() {
                best = Some(self.fail_set_map[i]);
            }
        }
        for &i in &self.pcre_fail {
            if best.is_some_and(|b| b < i) {
                break;
            }
            if self.failregex[i].engine.is_match(text) {
                best = Some(i);
                break;
            }
        }
        best
    }

    fn field_host(&self, entry: &Entry) -> Option<IpAddr> {
        let f = self.host_field.as_deref()?;
        parse_host_bytes(entry.fields.get(f)?)
    }

    /// Journal fields this filter reads besides MESSAGE.
    pub fn wanted_fields(&self) -> Vec<String> {
        self.id_field
            .iter()
            .chain(self.host_field.iter())
            .cloned()
            .collect()
    }

    /// The engine every pattern uses, or `Pcre2` if any falls back.
    pub fn engine_summary(&self) -> (usize, usize) {
        let all = self.failregex.iter().chain(self.ignoreregex.iter());
        let pcre = all.filter(|p| p.engine() == EngineKind::Pcre2).count();
        (self.failregex.len() + self.ignoreregex.len() - pcre, pcre)
    }
}

/// `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]` -> address; anything else (999.1.1.1) -> None.
pub fn parse_host(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    // With a ':' it can only be IPv6: skip the IPv4 attempt `IpAddr` makes first
    // (a fifth of an IPv6 hit's parse).
    let ip = if s.contains(':') {
        s.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        s.parse::<IpAddr>().ok()
    };
    ip.map(crate::addr::canonical)
}

fn parse_host_bytes(b: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = dotted_quad(b) {
        return Some(IpAddr::V4(v4));
    }
    if let Some(v6) = plain_ipv6(b) {
        return Some(crate::addr::canonical(IpAddr::V6(v6)));
    }
    std::str::from_utf8(b).ok().and_then(parse_host)
}

/// The common IPv6 forms (hex groups, at most one `::`) without the generic parser,
/// which costs ~1,700 instructions per address (it tries an embedded IPv4 address
/// at every group). Some(a) only where std's parser gives the same a; None for
/// anything else (an embedded IPv4 address, brackets, a zone, errors), which then
/// takes the generic path.
fn plain_ipv6(b: &[u8]) -> Option<std::net::Ipv6Addr> {
    let mut groups = [0u16; 8];
    let mut n = 0; // groups read
    let mut gap = None; // groups before the `::`
    let mut i = 0;
    if b.starts_with(b"::") {
        if b.len() == 2 {
            return Some(std::net::Ipv6Addr::UNSPECIFIED);
        }
        gap = Some(0);
        i = 2;
    }
    loop {
        // One group: 1 to 4 hex digits.
        let start = i;
        let mut value = 0u16;
        while let Some(&c) = b.get(i).filter(|_| i - start < 4) {
            let digit = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => break,
            };
            value = value << 4 | u16::from(digit);
            i += 1;
        }
        if i == start || n == 8 {
            return None;
        }
        groups[n] = value;
        n += 1;
        match b.get(i) {
            None => break,
            Some(b':') => i += 1,
            Some(_) => return None,
        }
        if b.get(i) == Some(&b':') {
            if gap.is_some() {
                return None;
            }
            gap = Some(n);
            i += 1;
            if i == b.len() {
                break;
            }
        }
    }
    let mut out = [0u16; 8];
    match gap {
        None if n == 8 => out = groups,
        // `::` stands for at least one group.
        Some(g) if n <= 7 => {
            out[..g].copy_from_slice(&groups[..g]);
            out[8 - (n - g)..].copy_from_slice(&groups[g..n]);
        }
        _ => return None,
    }
    Some(std::net::Ipv6Addr::from(out))
}

/// The common case of [`parse_host`], a plain IPv4 address, without UTF-8 checks and
/// the generic parser (a third of a hit's cost). Same rules as std: four decimal
/// octets, each at most 255, no leading zeros. Anything else -> None (then std).
fn dotted_quad(b: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut rest = b;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            rest = rest.strip_prefix(b".")?;
        }
        let n = rest
            .iter()
            .take(3)
            .take_while(|c| c.is_ascii_digit())
            .count();
        if n == 0 || (n > 1 && rest[0] == b'0') {
            return None;
        }
        let value = rest[..n]
            .iter()
            .fold(0u16, |v, &c| v * 10 + u16::from(c - b'0'));
        *octet = u8::try_from(value).ok()?;
        rest = &rest[n..];
    }
    rest.is_empty().then(|| std::net::Ipv4Addr::from(octets))
}

/// A filter with its per-jail correlation memory: what the pipeline actually runs.
pub struct Session {
    pub filter: Arc<Filter>,
    /// id value -> (address, last seen). Nearly every hit reads or stores one (sshd
    /// remembers each connection's address by _PID): see [`remembered`] for its layout.
    remembered: Remembered,
    /// Capture buffers, one per failregex of `slots_for` (a buffer fits one pattern
    /// only, and `filter` is public: checked against it on every entry).
    slots: Vec<CaptureSlot>,
    slots_for: Arc<Filter>,
    /// The latest `seen` stored in `remembered` (see `remember`).
    last_seen: Micros,
    /// Failures waiting for an address and user names, of the few connections that
    /// have them (see [`connstate`]).
    states: ConnStates,
}

/// Cap on remembered connections; at it, the expired and then the oldest go, down to
/// KEEP_REMEMBERED: the table is rebuilt once per MAX/8 new connections of a flood.
const MAX_REMEMBERED: usize = 65_536;
const KEEP_REMEMBERED: usize = MAX_REMEMBERED - MAX_REMEMBERED / 8;

impl Session {
    pub fn new(filter: Arc<Filter>) -> Session {
        Session {
            slots: filter.capture_slots(),
            slots_for: filter.clone(),
            filter,
            remembered: Remembered::default(),
            last_seen: Micros::MIN,
            states: ConnStates::default(),
        }
    }

    /// Check `entry`; return the outcome and, when it is a failure, the failure.
    pub fn process(&mut self, entry: &Entry) -> (Outcome, Option<Failure>) {
        if !Arc::ptr_eq(&self.slots_for, &self.filter) {
            self.slots = self.filter.capture_slots();
            self.slots_for = self.filter.clone();
        }
        let outcome = self.filter.check_with(entry, &mut self.slots);
        self.correlate(entry, outcome)
    }

    /// The second half of [`process`](Self::process): the `id_field` memory.
    ///
    /// A connection's lines count as fail2ban's multi-line filters count them:
    /// * a failure line with no address takes the one remembered for the connection;
    ///   with none remembered yet it waits, and the connection's next line with an
    ///   address counts it (a `<F-NOFAIL>` line too: sshd's "Connection closed by ADDR"
    ///   after "Disconnecting: Too many authentication failures", also one that ends
    ///   the connection with `<F-MLFORGET>`); a success (`<F-MLFORGET>` without
    ///   `<F-NOFAIL>`) drops it;
    /// * once the connection's lines have named two different users, its `<F-NOFAIL>`
    ///   and success lines count as failures (tries on several accounts are not
    ///   forgiven by one that succeeds).
    fn correlate(&mut self, entry: &Entry, mut outcome: Outcome) -> (Outcome, Option<Failure>) {
        let Outcome::Matched(m) = &mut outcome else {
            return (outcome, None);
        };
        let mut counts = !(m.nofail || m.forget);
        let id = self
            .filter
            .id_field
            .as_deref()
            .and_then(|f| entry.fields.get(f));
        if let Some(field) = id {
            // `<F-MLFID>` text, when the line has some, is part of the id: one
            // process's transactions apart (sendmail's queue ids).
            let joined: Vec<u8>;
            let raw = match m.id_at.clone().and_then(|r| entry.message.get(r)) {
                Some(text) if !text.is_empty() => {
                    joined = [field, b"\x1f", text].concat();
                    joined.as_slice()
                }
                _ => field,
            };
            let id = IdKey::new(raw);
            let now = entry.time_us;
            let window = self.filter.correlation_window;
            if m.host.is_none() {
                if let Some((ip, seen)) = self.remembered.get(&id) {
                    if now - seen <= window {
                        m.host = Some(ip);
                    }
                }
            }
            counts = self.connection_state(raw, m, &entry.message, counts, now);
            match (m.forget, m.host) {
                // The connection ended well: nothing to remember for it any more.
                (true, _) => self.remembered.remove(&id),
                (false, Some(ip)) => self.remember(&id, ip, now),
                (false, None) => {}
            }
        }
        let failure = match (counts, m.host) {
            (true, Some(ip)) => Some(Failure {
                ip,
                time_us: entry.time_us,
                failregex: m.failregex,
            }),
            _ => None,
        };
        (outcome, failure)
    }

    /// The pending-failure and user-name rules of [`correlate`](Self::correlate):
    /// whether this match counts, given whether it would alone.
    fn connection_state(
        &mut self,
        raw_id: &[u8],
        m: &Match,
        message: &[u8],
        counts: bool,
        now: Micros,
    ) -> bool {
        let has_user = m.user_at.as_ref().is_some_and(|r| !r.is_empty());
        let starts_story = (counts && m.host.is_none()) || (!counts && has_user && !m.forget);
        if self.states.is_empty() && !starts_story {
            // The common case: no connection has a story; this line starts none.
            return counts;
        }
        let user = m
            .user_at
            .clone()
            .filter(|r| !r.is_empty())
            .and_then(|r| message.get(r))
            .map(|u| self.states.hash_user(u));
        let key = self.states.key(raw_id);
        let expired = now.saturating_sub(self.filter.correlation_window);
        let Some(state) = self.states.get_mut(key, expired) else {
            if starts_story {
                let mut state = ConnState {
                    seen: now,
                    pending: counts && m.host.is_none(),
                    ..ConnState::default()
                };
                state.add_user(user);
                self.states.insert(key, state, expired);
            }
            return counts;
        };
        state.seen = now;
        state.add_user(user);
        let mut counts = counts;
        if m.host.is_none() {
            state.pending |= counts;
            return counts;
        }
        // A success (`<F-MLFORGET>` alone) forgives what is pending; a line that only
        // ends the connection (`<F-NOFAIL>` and `<F-MLFORGET>`: sshd's "Received
        // disconnect … 11: Bye Bye" as fail2ban's filter marks it) does not.
        let success = m.forget && !m.nofail;
        if state.users_differ || (state.pending && !success) {
            counts = true;
        }
        state.pending = false;
        if m.forget {
            self.states.remove(key);
        }
        counts
    }

    fn remember(&mut self, id: &IdKey<'_>, ip: IpAddr, now: Micros) {
        // Entries' times tie (a text log's whole seconds) or step back a little: one
        // above the latest, never more than a second ahead of the entry, keeps `seen`
        // in arrival order, so the oldest are exactly the smallest when memory is full.
        // 4 instructions a call (callgrind, bench/RESULTS.md section 0000).
        let seen = now.max(
            self.last_seen
                .saturating_add(1)
                .min(now.saturating_add(SEC)),
        );
        self.last_seen = seen;
        if self.remembered.len() >= MAX_REMEMBERED && !self.remembered.contains_key(id) {
            // Full: drop the expired, and the oldest others down to KEEP_REMEMBERED. A
            // flood of new connections pushes out its own first lines, not the recent
            // ones of a real attacker (starting over lost those too).
            let expired = now.saturating_sub(self.filter.correlation_window);
            self.remembered.forget_oldest(expired, KEEP_REMEMBERED);
        }
        self.remembered.insert(id, ip, seen);
    }
}

fn find_filter(name: &str, search: &[&Path]) -> Result<(String, String), Vec<Diagnostic>> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| {
            vec![Diagnostic::error(
                p.display().to_string(),
                None,
                format!("cannot read filter: {e}"),
            )]
        })
    };
    if name.contains('/') || name.ends_with(".toml") {
        let p = Path::new(name);
        return Ok((p.display().to_string(), read(p)?));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(vec![Diagnostic::error(
            "<filter>",
            None,
            format!("{name:?} is not a filter name (letters, digits, - _ . only)"),
        )]);
    }
    for dir in search {
        let p = dir.join(format!("{name}.toml"));
        if p.exists() {
            return Ok((p.display().to_string(), read(&p)?));
        }
    }
    match builtin::get(name) {
        Some(text) => Ok((format!("<built-in filter {name}>"), text.to_owned())),
        None => {
            let mut names: Vec<&str> = builtin::names().collect();
            names.sort_unstable();
            Err(vec![Diagnostic::error(
                "<filter>",
                None,
                format!("no filter named {name:?}"),
            )
            .hint(format!(
                "built-in filters: {}; or put {name}.toml in a filter.d directory",
                names.join(", ")
            ))])
        }
    }
}

/// Whether [`compile_as`] builds the regex engines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Engines {
    Build,
    /// Tags expanded and checked, nothing compiled: [`Filter::outline`].
    Skip,
}

fn compile(
    name: &str,
    file: &str,
    text: &str,
    spec: FilterSpec,
    params: &BTreeMap<String, String>,
) -> Result<Filter, Vec<Diagnostic>> {
    compile_as(name, file, text, spec, params, Engines::Build)
}

fn compile_as(
    name: &str,
    file: &str,
    text: &str,
    spec: FilterSpec,
    params: &BTreeMap<String, String>,
    engines: Engines,
) -> Result<Filter, Vec<Diagnostic>> {
    let mut errs = Vec::new();
    let line = |span: std::ops::Range<usize>| (!text.is_empty()).then(|| line_of(text, span.start));
    let err = |l: Option<usize>, key: &str, msg: String| Diagnostic::error(file, l, msg).key(key);

    // Parameters: `mode` picks the mode; anything else overrides a var.
    let mut vars: BTreeMap<String, String> = spec
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), v.get_ref().clone()))
        .collect();
    let mut mode = spec
        .mode
        .as_ref()
        .map(|m| m.get_ref().clone())
        .unwrap_or_else(|| "normal".to_owned());
    // A parameter that picks patterns beside the mode (fail2ban's sshd `publickey`,
    // imported): the mode named `MODE,PARAM=VALUE` is what `[mode=MODE, PARAM=VALUE]`
    // picks. See [`switch_params`].
    let switches = switch_params(&spec);
    let mut picked: Vec<String> = Vec::new();
    for (k, v) in params {
        if k == "mode" {
            mode = v.clone();
        } else if vars.contains_key(k) {
            vars.insert(k.clone(), v.clone());
        } else if let Some(values) = switches.get(k.as_str()) {
            if values.contains(v) {
                picked.push(format!("{k}={v}"));
            } else {
                errs.push(
                    err(
                        None,
                        "filter",
                        format!("filter {name}: {k} has no value {v:?}"),
                    )
                    .hint(format!("values of {k}: {}", values.join(", "))),
                );
            }
        } else {
            let mut known: Vec<&str> = vec!["mode"];
            known.extend(switches.keys().copied());
            known.extend(spec.vars.keys().map(String::as_str));
            errs.push(
                err(
                    None,
                    "filter",
                    format!("filter {name} has no parameter {k:?}"),
                )
                .hint(format!("parameters of {name}: {}", known.join(", "))),
            );
        }
    }

    if !picked.is_empty() {
        picked.sort();
        mode = format!("{mode},{}", picked.join(","));
    }

    // Patterns of the chosen mode: the common ones, then the mode's (with includes).
    let mut fail: Vec<&Spanned<String>> = spec.failregex.iter().collect();
    let mut ignore: Vec<&Spanned<String>> = spec.ignoreregex.iter().collect();
    if !spec.modes.is_empty() {
        if !spec.modes.contains_key(&mode) {
            let names: Vec<&str> = spec.modes.keys().map(String::as_str).collect();
            errs.push(
                err(None, "mode", format!("filter {name} has no mode {mode:?}"))
                    .hint(format!("modes of {name}: {}", names.join(", "))),
            );
        } else {
            let mut order = Vec::new();
            if let Err(msg) = mode_closure(&spec, &mode, &mut order, 0) {
                errs.push(err(None, "modes", msg));
            }
            for m in order {
                let ms = spec.modes[&m].get_ref();
                fail.extend(ms.failregex.iter());
                ignore.extend(ms.ignoreregex.iter());
            }
        }
    } else if mode != "normal" {
        errs.push(err(
            None,
            "mode",
            format!("filter {name} has no modes; {mode:?} cannot be chosen"),
        ));
    }

    // A failregex must name the host unless a field does (host_field, or id_field's
    // remembered address).
    let field_hosts = spec.host_field.is_some() || spec.id_field.is_some();
    let build = |list: &[&Spanned<String>], key: &str, errs: &mut Vec<Diagnostic>| {
        let mut out = Vec::new();
        for sp in list {
            let l = line(sp.span());
            let origin = match l {
                Some(l) => format!("{file}:{l}"),
                None => file.to_owned(),
            };
            let result = tags::substitute(sp.get_ref(), &vars)
                .and_then(|s| tags::expand(&s))
                .and_then(|ex| match engines {
                    Engines::Build => Engine::compile(&ex.regex).map(|e| (ex, Some(e))),
                    Engines::Skip => Ok((ex, None)),
                });
            match result {
                Ok((ex, _)) if key == "failregex" && ex.hosts.is_empty() && !field_hosts => errs
                    .push(
                        err(l, key, "pattern has no <HOST>".into())
                            .hint(format!("pattern: {}", sp.get_ref())),
                    ),
                Ok((_, None)) => {}
                Ok((ex, Some(engine))) => {
                    let numbers = |names: &mut dyn Iterator<Item = &String>| -> Vec<usize> {
                        names.filter_map(|g| engine.group_index(g)).collect()
                    };
                    let pick = |tag: &str| -> Vec<usize> {
                        numbers(&mut ex.fields.iter().filter(|(t, _)| t == tag).map(|(_, g)| g))
                    };
                    out.push(Pattern {
                        source: sp.get_ref().clone(),
                        origin,
                        user_groups: [pick("USER"), pick("ALT_USER")].concat(),
                        nofail_groups: pick("NOFAIL"),
                        forget_groups: pick("MLFORGET"),
                        id_groups: pick("MLFID"),
                        hosts: numbers(&mut ex.hosts.iter()),
                        engine,
                    })
                }
                Err(msg) => errs.push(err(l, key, msg).hint(format!("pattern: {}", sp.get_ref()))),
            }
        }
        out
    };
    let failregex = build(&fail, "failregex", &mut errs);
    let ignoreregex = build(&ignore, "ignoreregex", &mut errs);

    let host_field = spec.host_field.as_ref().map(|s| s.get_ref().clone());
    let id_field = spec.id_field.as_ref().map(|s| s.get_ref().clone());
    for (key, f) in [
        ("host_field", &spec.host_field),
        ("id_field", &spec.id_field),
    ] {
        if let Some(f) = f {
            if !crate::route::valid_field_name(f.get_ref()) {
                errs.push(err(
                    line(f.span()),
                    key,
                    format!(
                        "{:?} is not a journal field name (A-Z, 0-9, _)",
                        f.get_ref()
                    ),
                ));
            }
        }
    }
    // (An outline has no patterns: `fail` is what the file holds.)
    if fail.is_empty() && host_field.is_none() && errs.is_empty() {
        errs.push(
            err(None, "failregex", format!("filter {name} has no failregex"))
                .hint("add failregex = ['^… <HOST> …$'], or host_field for field-based filters"),
        );
    }
    let correlation_window = match &spec.correlation_window {
        Some(w) => match parse_duration(w.get_ref()) {
            Ok(v) => v,
            Err(e) => {
                errs.push(err(line(w.span()), "correlation_window", e));
                0
            }
        },
        None => 10 * 60 * SEC,
    };
    if !errs.is_empty() {
        return Err(errs);
    }

    if engines == Engines::Skip {
        let mut f = Filter::unread(name, file);
        f.mode = mode;
        f.description = spec.description.unwrap_or_default();
        f.journalmatch = spec
            .journalmatch
            .map(|j| (j.get_ref().clone(), line(j.span()).unwrap_or(0)));
        f.id_field = id_field;
        f.host_field = host_field;
        f.correlation_window = correlation_window;
        return Ok(f);
    }
    let prefixes = failregex
        .iter()
        .map(|p| p.engine.regex_source().and_then(engine::anchored_prefixes))
        .collect::<Option<Vec<_>>>()
        .map(PrefixIndex::new);
    // With prefix dispatch the set is never consulted: not building it saves most of
    // the start-up of `test-filter sshd` (12M of its ~47M instructions) and the
    // set's memory in the daemon.
    let (fail_set, fail_set_map, pcre_fail) = match prefixes {
        Some(_) => (None, Vec::new(), Vec::new()),
        None => fail_set(&failregex).map_err(|e| vec![err(None, "failregex", e)])?,
    };
    Ok(Filter {
        prefixes,
        name: name.to_owned(),
        mode,
        description: spec.description.unwrap_or_default(),
        file: file.to_owned(),
        failregex,
        ignoreregex,
        journalmatch: spec
            .journalmatch
            .map(|j| (j.get_ref().clone(), line(j.span()).unwrap_or(0))),
        id_field,
        host_field,
        correlation_window,
        fail_set,
        fail_set_map,
        pcre_fail,
        outline: false,
    })
}

/// The `regex`-engine failregexes combined in one RegexSet, the set's index ->
/// failregex index, and the failregexes on PCRE2.
type FailSet = (Option<regex::bytes::RegexSet>, Vec<usize>, Vec<usize>);

fn fail_set(failregex: &[Pattern]) -> Result<FailSet, String> {
    let mut fail_set_map = Vec::new();
    let mut pcre_fail = Vec::new();
    let mut sources = Vec::new();
    for (i, p) in failregex.iter().enumerate() {
        match p.engine.regex_source() {
            Some(src) => {
                sources.push(src.to_owned());
                fail_set_map.push(i);
            }
            None => pcre_fail.push(i),
        }
    }
    let set = if sources.is_empty() {
        None
    } else {
        let set = engine::regex_builder(&sources).build();
        Some(set.map_err(|e| format!("combining patterns: {e}"))?)
    };
    Ok((set, fail_set_map, pcre_fail))
}

/// Modes in the order their patterns apply: includes first, each once.
fn mode_closure(
    spec: &FilterSpec,
    mode: &str,
    out: &mut Vec<String>,
    depth: usize,
) -> Result<(), String> {
    if depth > 8 {
        return Err(format!(
            "mode includes nest too deep (a cycle?) at {mode:?}"
        ));
    }
    let Some(m) = spec.modes.get(mode) else {
        return Err(format!("mode {mode:?} is included but not defined"));
    };
    for inc in &m.get_ref().include {
        mode_closure(spec, inc, out, depth + 1)?;
    }
    if !out.iter().any(|o| o == mode) {
        out.push(mode.to_owned());
    }
    Ok(())
}

/// Test data: the xorshift64 sequence from `seed` (deterministic, and no crate for it).
#[cfg(test)]
pub(crate) fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
description = "test"
id_field = "_PID"
failregex = ['^%(svc)s: bad login for <F-USER>\S+</F-USER> from <HOST>$']
ignoreregex = ['^svc: bad login for ignored-user ']
[vars]
svc = "svc"
[modes.normal]
failregex = ['^Connection from <HOST><F-NOFAIL>$', '^Too many failures$']
[modes.aggressive]
include = ["normal"]
failregex = ['^probe from <HOST>$']
"#;

    fn entry(msg: &str, pid: &str, t: i64) -> Entry {
        let mut e = Entry::default();
        e.set_message(msg.as_bytes());
        e.fields.set("_PID", pid.as_bytes());
        e.time_us = t;
        e
    }

    fn load(params: &[(&str, &str)]) -> Result<Filter, Vec<Diagnostic>> {
        let p = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Filter::from_toml("t", "t.toml", SAMPLE, &p)
    }

    /// An outline (a disabled jail in the daemon) says what the compiled filter says,
    /// but for the patterns it never compiles.
    #[test]
    fn outlines_of_builtins_agree_with_their_compiled_filters() {
        for name in builtin::names() {
            let r = FilterRef::parse(name).unwrap();
            let f = Filter::load(&r, &[]).unwrap();
            let o = Filter::outline(&r, &[]).unwrap();
            assert!(o.outline && !f.outline, "{name}");
            assert!(o.failregex.is_empty() && o.ignoreregex.is_empty(), "{name}");
            assert_eq!(
                (
                    &o.journalmatch,
                    &o.mode,
                    &o.file,
                    &o.host_field,
                    &o.id_field
                ),
                (
                    &f.journalmatch,
                    &f.mode,
                    &f.file,
                    &f.host_field,
                    &f.id_field
                ),
                "{name}"
            );
            assert_eq!(o.correlation_window, f.correlation_window, "{name}");
        }
        // Every mistake but the engines' is found.
        let bad = FilterRef::parse("sshd[mode=nosuch]").unwrap();
        assert!(Filter::outline(&bad, &[]).is_err());
    }

    #[test]
    fn builtin_patterns_have_fast_captures() {
        for name in builtin::names() {
            let spec: FilterSpec = toml::from_str(builtin::get(name).unwrap()).unwrap();
            let mut refs: Vec<String> = spec
                .modes
                .keys()
                .map(|m| format!("{name}[mode={m}]"))
                .collect();
            if refs.is_empty() {
                refs.push(name.to_owned());
            }
            for fref in &refs {
                let r = FilterRef::parse(fref).unwrap();
                let f = Filter::load(&r, &[]).unwrap_or_else(|e| panic!("{name}: {e:?}"));
                for p in f.failregex.iter().chain(f.ignoreregex.iter()) {
                    if p.engine() == EngineKind::Regex {
                        assert!(p.engine.has_fast_captures(), "{fref}: {}", p.source);
                    }
                }
            }
        }
    }

    #[test]
    fn dotted_quad_agrees_with_std() {
        let mut cases: Vec<String> = [
            "",
            ".",
            "1.2.3",
            "1.2.3.4.",
            "1.2.3.4.5",
            "01.2.3.4",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3.04",
            "1..3.4",
            " 1.2.3.4",
            "1.2.3.4 ",
            "+1.2.3.4",
            "1.2.3.1000",
            "192.0.2.1",
            "[192.0.2.1]",
            "::ffff:192.0.2.1",
            "1.2.3.a",
            "9999.1.1.1",
            "1.2.3.4:22",
            "1.2.3",
            "1.2.3.",
            ".1.2.3",
            "00.1.2.3",
            "1.2.3.00",
            "1.2.3.0",
            "1.2.3.255",
            "1.2.3.0255",
            "2001:db8::1",
            "[2001:db8::1]",
            " 2001:db8::1 ",
            "::",
            "::1",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "1:2:3:4:5:6:7:8::",
            ":1::",
            "1:2:3:4:5:6:1.2.3.4",
            "fe80::1%eth0",
            "2001:db8:::1",
            "12345::1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for a in [0, 1, 9, 10, 99, 100, 199, 200, 249, 250, 255, 256, 300] {
            cases.push(format!("{a}.{a}.0.{a}"));
        }
        // Random strings of digits, dots and colons (mostly near-addresses).
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200_000 {
            let mut c = String::new();
            let mut r = next();
            for _ in 0..(r % 16) {
                r /= 16;
                c.push(b"0123456789..:1259"[(r % 17) as usize] as char);
            }
            cases.push(c);
        }
        // parse_host as it was before the IPv6 shortcut: std's IpAddr parser.
        let reference = |s: &str| {
            let s = s.trim();
            let s = s
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .unwrap_or(s);
            s.parse::<IpAddr>().ok().map(crate::addr::canonical)
        };
        for c in &cases {
            let std = c.parse::<std::net::Ipv4Addr>().ok();
            assert_eq!(dotted_quad(c.as_bytes()), std, "{c:?}");
            // And the whole path: the fast ones never change parse_host's answer.
            assert_eq!(parse_host(c), reference(c), "{c:?}");
            assert_eq!(parse_host_bytes(c.as_bytes()), reference(c), "{c:?}");
        }
    }

    #[test]
    fn plain_ipv6_agrees_with_std() {
        let mut cases: Vec<String> = [
            "::",
            "::1",
            "1::",
            "1::2",
            ":::",
            "::1::",
            ":1::",
            "1:::2",
            "1:",
            ":1",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7::",
            "::1:2:3:4:5:6:7",
            "::1:2:3:4:5:6:7:8",
            "1::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8::",
            "0001:db8::ABCD:ef",
            "00001::1",
            "12345::1",
            "2001:db8::g",
            "::ffff:1.2.3.4",
            "::ffff:c000:0201",
            "1:2:3:4:5:6:1.2.3.4",
            "[::1]",
            " ::1",
            "fe80::1%eth0",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..100_000 {
            // Real addresses in std's own (compressed) form and in full, with few
            // distinct groups so that `::` shows up at every place.
            let mut g = [0u16; 8];
            for x in g.iter_mut() {
                let r = next();
                *x = [
                    0,
                    0,
                    0,
                    1,
                    0xffff,
                    0xdb8,
                    (r >> 8) as u16,
                    (r >> 12) as u16 & 0xf,
                ][(r % 8) as usize];
            }
            let a = std::net::Ipv6Addr::from(g);
            cases.push(a.to_string());
            cases.push(g.map(|x| format!("{x:x}")).join(":"));
            // And near-addresses: random strings over the address alphabet.
            let r = next();
            let c: String = (0..(r % 24))
                .map(|k| {
                    b"0123456789abcdefABF::::.g"[((r >> (k % 56)) ^ next()) as usize % 25] as char
                })
                .collect();
            cases.push(c);
        }
        let mut fast = 0;
        for c in &cases {
            let std = c.parse::<std::net::Ipv6Addr>().ok();
            if let Some(a) = plain_ipv6(c.as_bytes()) {
                assert_eq!(Some(a), std, "{c:?}");
                fast += 1;
            } else {
                // Only what std rejects or what has a '.', brackets, a zone, spaces.
                assert!(
                    std.is_none() || c.contains('.'),
                    "{c:?}: std parses it, plain_ipv6 does not"
                );
            }
        }
        assert!(fast > 200_000, "{fast}");
    }

    #[test]
    fn modes_and_vars() {
        let f = load(&[]).unwrap();
        assert_eq!(f.failregex.len(), 3);
        let f = load(&[("mode", "aggressive")]).unwrap();
        assert_eq!(f.failregex.len(), 4);
        let errs = load(&[("mode", "nope")]).err().unwrap();
        assert!(errs[0].message.contains("no mode"));
        assert!(errs[0].hint.as_deref().unwrap().contains("aggressive"));
        let errs = load(&[("bogus", "1")]).err().unwrap();
        assert!(errs[0].message.contains("no parameter"));
        let f = load(&[("svc", "other")]).unwrap();
        let m = f.check(&entry("other: bad login for a from 192.0.2.1", "1", 0));
        assert!(matches!(m, Outcome::Matched(_)));
    }

    #[test]
    fn user_host_ignore() {
        let f = load(&[]).unwrap();
        let e = entry("svc: bad login for bob from 192.0.2.9", "1", 0);
        match f.check(&e) {
            Outcome::Matched(m) => {
                assert_eq!(m.host, Some("192.0.2.9".parse().unwrap()));
                assert_eq!(m.user(&e.message).as_deref(), Some("bob"));
            }
            o => panic!("{o:?}"),
        }
        assert!(matches!(
            f.check(&entry(
                "svc: bad login for ignored-user from 192.0.2.9",
                "1",
                0
            )),
            Outcome::Ignored { .. }
        ));
        assert_eq!(f.check(&entry("unrelated", "1", 0)), Outcome::Missed);
        // 999.x is not an address: matched, but no host.
        match f.check(&entry("svc: bad login for a from 999.1.1.1", "1", 0)) {
            Outcome::Matched(m) => assert_eq!(m.host, None),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn correlation_by_id_field() {
        let mut s = Session::new(Arc::new(load(&[]).unwrap()));
        let (_, f) = s.process(&entry("Connection from 203.0.113.5", "42", 1));
        assert!(f.is_none(), "F-NOFAIL remembers only");
        let (_, f) = s.process(&entry("Too many failures", "42", 2));
        assert_eq!(f.unwrap().ip, "203.0.113.5".parse::<IpAddr>().unwrap());
        let (_, f) = s.process(&entry("Too many failures", "43", 3));
        assert!(f.is_none(), "another connection knows no host");
        // Past the window the memory is stale.
        let late = 2 + 11 * 60 * SEC;
        let (_, f) = s.process(&entry("Too many failures", "42", late));
        assert!(f.is_none());
    }

    const STORY: &str = r#"
id_field = "_PID"
failregex = [
    '^Too many failures$',
    '^Closed by <HOST><F-NOFAIL>$',
    '^auth failure ruser=<F-ALT_USER>\S*</F-ALT_USER> rhost=<HOST>(?: user=<F-USER>\S*</F-USER>)?<F-NOFAIL>$',
    '^Accepted for <F-USER>\S+</F-USER> from <HOST><F-MLFORGET>$',
    '^Disconnect from <HOST><F-NOFAIL><F-MLFORGET>$',
]
"#;

    fn story() -> Session {
        let f = Filter::from_toml("t", "t.toml", STORY, &BTreeMap::new()).unwrap();
        Session::new(Arc::new(f))
    }

    #[test]
    fn a_parameter_beside_the_mode_picks_its_variant() {
        let text = r#"
mode = 'normal'
[modes._a]
failregex = ['^a from <HOST>$']
[modes._b]
failregex = ['^b from <HOST>$']
[modes.'normal,key=a']
include = ['_a']
[modes.'normal,key=b']
include = ['_b']
[modes.normal]
include = ['_a']
"#;
        let pick = |params: &[(&str, &str)]| {
            let p = params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Filter::from_toml("t", "t.toml", text, &p)
        };
        let hits = |f: &Filter, msg: &str| {
            let mut e = Entry::default();
            e.set_message(msg.as_bytes());
            matches!(f.check(&e), Outcome::Matched(_))
        };
        let f = pick(&[]).unwrap();
        assert!(hits(&f, "a from 192.0.2.1") && !hits(&f, "b from 192.0.2.1"));
        let f = pick(&[("key", "b")]).unwrap();
        assert!(hits(&f, "b from 192.0.2.1") && !hits(&f, "a from 192.0.2.1"));
        let errs = pick(&[("key", "c")]).err().unwrap();
        assert!(
            errs[0].message.contains("key has no value \"c\""),
            "{errs:?}"
        );
        let errs = pick(&[("other", "c")]).err().unwrap();
        assert!(
            errs[0].hint.as_deref().unwrap_or("").contains("key"),
            "{errs:?}"
        );
    }

    #[test]
    fn mlfid_text_keeps_one_processs_transactions_apart() {
        let f = Filter::from_toml(
            "t",
            "t.toml",
            r#"
id_field = "_PID"
failregex = [
    '^<F-MLFID>(?:\w{14}: )?</F-MLFID><\S+>\.\.\. No such user here$',
    '^<F-MLFID>(?:\w{14}: )?</F-MLFID><F-NOFAIL>from=<\S+>, relay=\S+ \[<HOST>\]$',
]
"#,
            &BTreeMap::new(),
        )
        .unwrap();
        let mut s = Session::new(Arc::new(f));
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let no_user = |q: &str| format!("rA37ZTSC0262{q}: <a@example.org>... No such user here");
        let from =
            |q: &str| format!("rA37ZTSC0262{q}: from=<a@example.org>, relay=x [203.0.113.5]");
        assert!(s.process(&entry(&no_user("54"), "9", 1)).1.is_none());
        let f = s.process(&entry(&from("54"), "9", 2)).1;
        assert_eq!(f.map(|f| f.ip), Some(ip), "same process, same queue id");
        // Same process, another queue id: its address is not this one's.
        assert!(s.process(&entry(&no_user("52"), "9", 3)).1.is_none());
        assert!(s.process(&entry(&no_user("54"), "9", 4)).1.is_some());
        // Same queue id text in another process: another connection.
        assert!(s.process(&entry(&no_user("54"), "10", 5)).1.is_none());
    }

    #[test]
    fn a_connection_that_only_ends_still_takes_its_waiting_failure() {
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let mut s = story();
        assert!(s.process(&entry("Too many failures", "7", 1)).1.is_none());
        let f = s.process(&entry("Disconnect from 203.0.113.5", "7", 2)).1;
        assert_eq!(f.map(|f| f.ip), Some(ip), "no success: the failure counts");
        // ... and the connection is forgotten: a later failure of the id has no host.
        assert!(s.process(&entry("Too many failures", "7", 3)).1.is_none());
        assert!(s
            .process(&entry("Accepted for bob from 203.0.113.5", "7", 4))
            .1
            .is_none());
        // Nothing waiting: the end alone counts nothing.
        assert!(s
            .process(&entry("Disconnect from 203.0.113.5", "9", 5))
            .1
            .is_none());
    }

    #[test]
    fn a_failure_without_address_waits_for_the_connections_next_one() {
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let mut s = story();
        assert!(s.process(&entry("Too many failures", "7", 1)).1.is_none());
        let f = s.process(&entry("Closed by 203.0.113.5", "7", 2)).1;
        assert_eq!(f.map(|f| f.ip), Some(ip), "the waiting failure counts");
        // Counted once: the next no-failure line is none again.
        assert!(s
            .process(&entry("Closed by 203.0.113.5", "7", 3))
            .1
            .is_none());
        // Another process's close does not take it.
        assert!(s.process(&entry("Too many failures", "8", 4)).1.is_none());
        assert!(s
            .process(&entry("Closed by 203.0.113.5", "9", 5))
            .1
            .is_none());
        // A success drops it.
        assert!(s
            .process(&entry("Accepted for bob from 203.0.113.5", "8", 6))
            .1
            .is_none());
        assert!(s
            .process(&entry("Closed by 203.0.113.5", "8", 7))
            .1
            .is_none());
        // So does the window.
        assert!(s.process(&entry("Too many failures", "10", 8)).1.is_none());
        let late = 9 + 11 * 60 * SEC;
        assert!(s
            .process(&entry("Closed by 203.0.113.5", "10", late))
            .1
            .is_none());
    }

    #[test]
    fn two_users_on_one_connection_make_its_quiet_lines_count() {
        let ip: IpAddr = "203.0.113.6".parse().unwrap();
        let mut s = story();
        let pam = |ruser: &str, user: &str| {
            let u = if user.is_empty() {
                String::new()
            } else {
                format!(" user={user}")
            };
            format!("auth failure ruser={ruser} rhost=203.0.113.6{u}")
        };
        // One user, twice, then a success: nothing.
        assert!(s.process(&entry(&pam("", "rda"), "1", 1)).1.is_none());
        assert!(s.process(&entry(&pam("rda", ""), "1", 2)).1.is_none());
        assert!(s
            .process(&entry("Accepted for rda from 203.0.113.6", "1", 3))
            .1
            .is_none());
        // A second user: that line and the success count.
        assert!(s.process(&entry(&pam("root", ""), "2", 4)).1.is_none());
        assert_eq!(
            s.process(&entry(&pam("sudoer", ""), "2", 5))
                .1
                .map(|f| f.ip),
            Some(ip)
        );
        let f = s
            .process(&entry("Accepted for known from 203.0.113.6", "2", 6))
            .1;
        assert_eq!(f.map(|f| f.ip), Some(ip));
        // The success ended the connection's story.
        assert!(s.process(&entry(&pam("x", ""), "2", 7)).1.is_none());
        // user= stands before ruser= (<F-ALT_USER>), and an empty one is no name.
        assert!(s.process(&entry(&pam("a", "b"), "3", 8)).1.is_none());
        assert!(s.process(&entry(&pam("", "b"), "3", 9)).1.is_none());
        assert!(s.process(&entry(&pam("", ""), "3", 10)).1.is_none());
    }

    /// 70,000 new connections must not wipe the memory: a real attacker whose
    /// connections came shortly before the flood's end still gets its address-less
    /// failures counted (at the cap the oldest go first; starting over lost them).
    #[test]
    fn a_flood_of_connections_forgets_its_oldest_not_the_latest() {
        for step in [1, 0] {
            // step 1: microsecond times (the journal); 0: all at one time (a text
            // log's whole second), where only arrival order tells old from new.
            let mut s = Session::new(Arc::new(load(&[]).unwrap()));
            let mut t = 0;
            let flood = |s: &mut Session, from: u32, n: u32, t: &mut i64| {
                for pid in from..from + n {
                    *t += step;
                    s.process(&entry("Connection from 198.51.100.1", &pid.to_string(), *t));
                }
            };
            flood(&mut s, 1_000_000, 65_000, &mut t);
            for pid in 1..=5 {
                s.process(&entry("Connection from 203.0.113.50", &pid.to_string(), t));
            }
            flood(&mut s, 2_000_000, 55_000, &mut t);
            assert!(s.remembered.len() <= MAX_REMEMBERED);
            for pid in 1..=5 {
                let (_, f) = s.process(&entry("Too many failures", &pid.to_string(), t));
                let f = f.unwrap_or_else(|| panic!("step {step}: pid {pid} forgotten"));
                assert_eq!(f.ip, "203.0.113.50".parse::<IpAddr>().unwrap());
            }
            // The flood's first connections are the ones forgotten.
            let (_, f) = s.process(&entry("Too many failures", "1000000", t));
            assert!(f.is_none());
        }
    }

    #[test]
    fn non_utf8_message_does_not_panic() {
        let f = load(&[]).unwrap();
        let mut e = entry("", "1", 0);
        e.message = b"svc: bad login for \xff\xfe from 192.0.2.1".to_vec();
        match f.check(&e) {
            Outcome::Matched(m) => assert_eq!(m.host, Some("192.0.2.1".parse().unwrap())),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn prefix_dispatch_matches_like_the_set() {
        // The built-in sshd filter is fully anchored: it uses prefix dispatch.
        let r = FilterRef::parse("sshd[mode=aggressive]").unwrap();
        let f = Filter::load(&r, &[]).unwrap();
        assert!(f.prefixes.is_some());
        assert!(
            f.fail_set.is_none(),
            "a prefix-dispatched filter needs no set"
        );
        // The same filter with the set's dispatch instead must decide identically.
        let mut g = Filter::load(&r, &[]).unwrap();
        g.prefixes = None;
        (g.fail_set, g.fail_set_map, g.pcre_fail) = fail_set(&g.failregex).unwrap();
        assert!(g.fail_set.is_some());
        for msg in [
            "Failed password for root from 203.0.113.5 port 22 ssh2",
            "Failed password for invalid user x from 198.51.100.66 port 1 from 203.0.113.6 port 4 ssh2",
            "error: kex_exchange_identification: Connection closed by remote host",
            "Invalid user oracle from 2001:db8::4 port 33012",
            "Server listening on 0.0.0.0 port 22.",
            "",
        ] {
            let e = entry(msg, "1", 0);
            assert_eq!(f.check(&e), g.check(&e), "{msg}");
        }
    }

    #[test]
    fn filter_ref_params() {
        let r = FilterRef::parse("sshd[mode=aggressive, port=\"22\"]").unwrap();
        assert_eq!(r.name, "sshd");
        assert_eq!(r.params["mode"], "aggressive");
        assert_eq!(r.params["port"], "22");
        assert!(FilterRef::parse("sshd[mode=x").is_err());
    }

    #[test]
    fn inline_and_ipv6() {
        let f = Filter::inline(r"^fail from <HOST>$").unwrap();
        for (msg, ip) in [
            ("fail from 2001:db8::7", "2001:db8::7"),
            ("fail from [2001:db8::8]", "2001:db8::8"),
            ("fail from ::ffff:192.0.2.4", "192.0.2.4"),
            ("fail from 198.51.100.3", "198.51.100.3"),
        ] {
            match f.check(&entry(msg, "1", 0)) {
                Outcome::Matched(m) => assert_eq!(m.host, Some(ip.parse().unwrap()), "{msg}"),
                o => panic!("{msg}: {o:?}"),
            }
        }
        assert!(Filter::inline("^no host here$").is_err());
    }
}
