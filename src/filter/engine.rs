//! One compiled pattern on one of two engines: the `regex` crate (linear time, the
//! default) or PCRE2 with JIT for what `regex` refuses (look-around, backreferences).
//!
//! Both match bytes with ASCII classes: `\d` is `[0-9]`, `\w` is `[0-9A-Za-z_]`, `.` is
//! any byte but newline. MESSAGE may be any bytes, so nothing needs decoding first,
//! and Unicode classes would make the lazy DFA's states explode (measured: a 13-pattern
//! sshd RegexSet costs 11 µs per entry with Unicode classes, 0.2 µs without). A
//! pattern that wants Unicode classes can say `(?u)`.
//!
//! Finding *where* the groups of a match are is the expensive half of a hit: the
//! `regex` crate answers "does it match" with a DFA in ~0.3 µs on an sshd line, but its
//! capture engines (bounded backtracker, PikeVM) take ~1.2 µs more. So a `regex` pattern
//! also gets a [`Fast`] twin: the same parsed pattern written out as PCRE2 syntax and
//! run with PCRE2's JIT (~0.15 µs for the whole match with groups). The `regex` crate
//! stays the definition of what a pattern means; see [`Fast`] for why the twin agrees.

use regex_syntax::hir::{self, Class, Hir, HirKind, Look};
use std::fmt;
use std::fmt::Write as _;
use std::sync::OnceLock;

pub enum Engine {
    Regex {
        re: regex::bytes::Regex,
        /// Built at the pattern's first hit: most patterns of a daemon never match,
        /// and the twins of all of them cost ~1 MiB of resident memory (JIT code and
        /// PCRE2's compiler pages) on an idle host.
        fast: OnceLock<Option<Box<Fast>>>,
    },
    Pcre2(pcre2::bytes::Regex),
}

/// A `regex` pattern's twin on PCRE2, for capture positions only.
///
/// Why it gives the same groups: it is not a second reading of the pattern text but
/// a translation of the `regex` crate's own parse ([`Hir`]), after case folding and
/// class expansion, into the few PCRE2 constructs whose meaning is unambiguous: bytes
/// as `\xHH`, classes as explicit byte ranges, `\A`/`\z`, ASCII `\b`, and groups in
/// the same order (so group numbers agree). Both engines then pick the same match,
/// the leftmost-first one a backtracker finds. The one assertion PCRE2 reads
/// differently is multi-line `^` after a final newline, so messages ending in `\n`
/// skip the twin.
///
/// And why it is safe on hostile text: `(*LIMIT_MATCH)` caps PCRE2's backtracking.
/// When the twin gives up or finds nothing, the `regex` crate (linear time) answers.
/// Debug builds (all tests) check every twin answer against the `regex` crate.
pub struct Fast {
    re: pcre2::bytes::Regex,
}

/// The caller's match buffer for one pattern's twin (creating one per match costs
/// as much as the match). A [`Session`](super::Session) keeps one per failregex, so a
/// hit takes no lock: a buffer shared through the pattern, behind a mutex, cost a
/// tenth of the sshd text run (perf: the lock, the unlock and `Captures::drop`).
/// A slot must only ever be passed with the same pattern.
#[derive(Default)]
pub struct CaptureSlot(Option<pcre2::bytes::CaptureLocations>);

/// Backtracking steps PCRE2 may take on one message before the `regex` crate takes
/// over. An sshd hit needs well under 100; a crafted 8 KiB message cannot cost more
/// than this (a few hundred µs) plus one linear `regex` pass.
const FAST_MATCH_LIMIT: u32 = 20_000;

/// Whether this process may map memory writable and executable, which PCRE2's JIT
/// needs. Under the unit's `MemoryDenyWriteExecute=yes` it may not: PCRE2 would then
/// start a JIT compile for every pattern, touching ~0.3 MiB of its compiler's code, only
/// to fail and interpret. Asked once, with one anonymous page.
pub fn jit_allowed() -> bool {
    static ALLOWED: OnceLock<bool> = OnceLock::new();
    *ALLOWED.get_or_init(|| {
        use nix::libc;
        // SAFETY: an anonymous private mapping of one page at an address the kernel
        // picks; nothing else refers to it, and it is unmapped at once.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return false;
            }
            libc::munmap(p, 4096);
            true
        }
    })
}

#[cfg(test)]
thread_local! {
    /// Patterns this thread compiled: what loading a configuration compiles (tests
    /// run one per thread).
    pub(crate) static COMPILED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Which engine a pattern landed on (reported by `banjo check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Regex,
    Pcre2,
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EngineKind::Regex => "regex",
            // JIT when the system allows it (not under MemoryDenyWriteExecute=yes), the
            // interpreter otherwise: same results.
            EngineKind::Pcre2 => "pcre2",
        })
    }
}

/// Named captures of one match, engine-independent.
pub struct Captures<'t> {
    inner: CapsInner<'t>,
}

enum CapsInner<'t> {
    Regex(regex::bytes::Captures<'t>),
    Pcre2(pcre2::bytes::Captures<'t>),
    Fast {
        text: &'t [u8],
        locs: &'t pcre2::bytes::CaptureLocations,
    },
}

impl<'t> Captures<'t> {
    /// Byte range of group number `i` (see [`Engine::group_index`]) in the text, if it
    /// took part in the match.
    pub fn get(&self, i: usize) -> Option<std::ops::Range<usize>> {
        match &self.inner {
            CapsInner::Regex(c) => c.get(i).map(|m| m.range()),
            CapsInner::Pcre2(c) => c.get(i).map(|m| m.start()..m.end()),
            CapsInner::Fast { locs, .. } => locs.get(i).map(|(s, e)| s..e),
        }
    }

    /// Text of group number `i`.
    pub fn bytes(&self, i: usize) -> Option<&'t [u8]> {
        let text: &'t [u8] = match &self.inner {
            CapsInner::Regex(c) => return c.get(i).map(|m| m.as_bytes()),
            CapsInner::Pcre2(c) => return c.get(i).map(|m| m.as_bytes()),
            CapsInner::Fast { text, .. } => text,
        };
        self.get(i).map(|r| &text[r])
    }
}

impl Fast {
    /// The twin of `re`, or None when the pattern uses something the translation does
    /// not cover (Unicode classes or word boundaries, CRLF mode): `regex` alone then.
    fn new(re: &regex::bytes::Regex) -> Option<Box<Fast>> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(re.as_str())
            .ok()?;
        let mut out = format!("(*LIMIT_MATCH={FAST_MATCH_LIMIT})");
        let mut next_group = 1;
        write_pcre(&hir, &mut out, &mut next_group)?;
        let pcre = pcre2::bytes::RegexBuilder::new()
            .jit_if_available(jit_allowed())
            .build(&out)
            .ok()?;
        if pcre.captures_len() != re.captures_len() {
            return None;
        }
        Some(Box::new(Fast { re: pcre }))
    }

    /// Captures of `text`, or None: no match, or PCRE2 gave up (the caller asks
    /// the `regex` crate either way).
    fn captures<'t>(&self, text: &'t [u8], slot: &'t mut CaptureSlot) -> Option<Captures<'t>> {
        if text.last() == Some(&b'\n') {
            return None;
        }
        let locs = slot.0.get_or_insert_with(|| self.re.capture_locations());
        let found = matches!(self.re.captures_read(locs, text), Ok(Some(_)));
        found.then_some(Captures {
            inner: CapsInner::Fast { text, locs },
        })
    }

    /// The PCRE2 pattern, for tests and diagnostics.
    pub fn pattern(&self) -> &str {
        self.re.as_str()
    }
}

/// Write `hir` as PCRE2 syntax (see [`Fast`]). None when something has no exact
/// PCRE2 equivalent here.
fn write_pcre(hir: &Hir, out: &mut String, next_group: &mut u32) -> Option<()> {
    match hir.kind() {
        HirKind::Empty => {}
        HirKind::Literal(hir::Literal(bytes)) => {
            for b in bytes.iter() {
                write!(out, "\\x{b:02x}").ok()?;
            }
        }
        HirKind::Class(Class::Bytes(c)) => {
            if c.ranges().is_empty() {
                out.push_str("(?!)");
            } else {
                out.push('[');
                for r in c.ranges() {
                    write!(out, "\\x{:02x}-\\x{:02x}", r.start(), r.end()).ok()?;
                }
                out.push(']');
            }
        }
        HirKind::Class(Class::Unicode(_)) => return None,
        HirKind::Look(look) => out.push_str(match look {
            Look::Start => "\\A",
            Look::End => "\\z",
            Look::StartLF => "(?m:^)",
            Look::EndLF => "(?m:$)",
            Look::WordAscii => "\\b",
            Look::WordAsciiNegate => "\\B",
            Look::WordStartAscii => "\\b(?=\\w)",
            Look::WordEndAscii => "\\b(?<=\\w)",
            Look::WordStartHalfAscii => "(?<!\\w)",
            Look::WordEndHalfAscii => "(?!\\w)",
            _ => return None,
        }),
        HirKind::Repetition(rep) => {
            // PCRE2 caps counted repetition at 65535.
            if rep.min > 65_535 || rep.max.is_some_and(|m| m > 65_535) {
                return None;
            }
            // A class repeated needs no group: PCRE2 compiles `[..]{0,256}` as one
            // opcode, but copies a group `(?:[..]){0,256}` 256 times, which a few
            // bounded fields in one pattern take past its size limit (no twin then).
            if matches!(rep.sub.kind(), HirKind::Class(Class::Bytes(c)) if !c.ranges().is_empty()) {
                write_pcre(&rep.sub, out, next_group)?;
            } else {
                out.push_str("(?:");
                write_pcre(&rep.sub, out, next_group)?;
                out.push(')');
            }
            match (rep.min, rep.max) {
                (0, None) => out.push('*'),
                (1, None) => out.push('+'),
                (0, Some(1)) => out.push('?'),
                (m, None) => write!(out, "{{{m},}}").ok()?,
                (m, Some(n)) => write!(out, "{{{m},{n}}}").ok()?,
            }
            if !rep.greedy {
                out.push('?');
            }
        }
        HirKind::Capture(cap) => {
            // Same numbering in both engines, or no twin.
            if cap.index != *next_group {
                return None;
            }
            *next_group += 1;
            out.push('(');
            write_pcre(&cap.sub, out, next_group)?;
            out.push(')');
        }
        HirKind::Concat(subs) => {
            for h in subs {
                write_pcre(h, out, next_group)?;
            }
        }
        HirKind::Alternation(subs) => {
            out.push_str("(?:");
            for (i, h) in subs.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                write_pcre(h, out, next_group)?;
            }
            out.push(')');
        }
    }
    Some(())
}

/// Settings shared by compiling single patterns and the RegexSet.
pub fn regex_builder(patterns: &[String]) -> regex::bytes::RegexSetBuilder {
    let mut b = regex::bytes::RegexSetBuilder::new(patterns);
    b.unicode(false)
        .size_limit(32 << 20)
        .dfa_size_limit(8 << 20);
    b
}

/// The literal strings every match of an `^`-anchored pattern starts with, when there
/// are few enough of them (`^Failed (?:password|none) ` -> "Failed password ",
/// "Failed none "). None when the pattern is not anchored or starts with a class.
pub fn anchored_prefixes(pattern: &str) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    use regex_syntax::hir::Look;
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    if !hir.properties().look_set_prefix().contains(Look::Start) {
        return None;
    }
    let mut ex = Extractor::new();
    ex.kind(ExtractKind::Prefix).limit_total(256);
    let seq = ex.extract(&hir);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    Some(lits.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// `{,n}` (0 to n times, as Python and PCRE2 10.43+ read it) spelled `{0,n}`: Rust's
/// regex refuses the short form, and PCRE2 before 10.43 (Debian 12 ships 10.42) reads
/// it as the literal text `{,n}`, so a pattern would silently depend on the host's
/// libpcre2 (fail2ban's assp.conf has `\(\d{,3}\)`). Outside classes and escapes.
pub fn zero_min_quantifiers(p: &str) -> Option<String> {
    let b = p.as_bytes();
    let mut out = String::with_capacity(p.len() + 4);
    let (mut escaped, mut in_class, mut changed) = (false, false, false);
    let mut last = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'{' if !in_class && b.get(i + 1) == Some(&b',') => {
                let digits = b[i + 2..].iter().take_while(|d| d.is_ascii_digit()).count();
                if digits > 0 && b.get(i + 2 + digits) == Some(&b'}') {
                    out.push_str(&p[last..=i]);
                    out.push('0');
                    last = i + 1;
                    changed = true;
                }
            }
            _ => {}
        }
    }
    out.push_str(&p[last..]);
    changed.then_some(out)
}

impl Engine {
    /// Compile with `regex`; if it refuses a construct PCRE2 supports, use PCRE2.
    /// The error names both engines' complaints so the user sees what to change.
    pub fn compile(pattern: &str) -> Result<Engine, String> {
        let spelled = zero_min_quantifiers(pattern);
        let pattern = spelled.as_deref().unwrap_or(pattern);
        #[cfg(test)]
        COMPILED.with(|n| n.set(n.get() + 1));
        match regex::bytes::RegexBuilder::new(pattern)
            .unicode(false)
            .size_limit(16 << 20)
            .build()
        {
            Ok(re) => Ok(Engine::Regex {
                fast: OnceLock::new(),
                re,
            }),
            Err(regex::Error::CompiledTooBig(_)) => {
                Err("pattern compiles too big (over 16 MiB); simplify it".into())
            }
            Err(e) => {
                let first = e.to_string();
                pcre2::bytes::RegexBuilder::new()
                    .jit_if_available(jit_allowed())
                    .build(pattern)
                    .map(Engine::Pcre2)
                    .map_err(|pe| {
                        let line = first.lines().last().unwrap_or("").trim().to_owned();
                        format!("does not compile: {line} (PCRE2: {pe})")
                    })
            }
        }
    }

    pub fn kind(&self) -> EngineKind {
        match self {
            Engine::Regex { .. } => EngineKind::Regex,
            Engine::Pcre2(_) => EngineKind::Pcre2,
        }
    }

    pub fn is_match(&self, text: &[u8]) -> bool {
        match self {
            Engine::Regex { re, .. } => re.is_match(text),
            // A PCRE2 match error (match limit hit) counts as no match: a hostile
            // message must not turn into a failure, nor stop the reader.
            Engine::Pcre2(r) => r.is_match(text).unwrap_or(false),
        }
    }

    /// Captures of `text`; `slot` is this pattern's own buffer (see [`CaptureSlot`]).
    pub fn captures<'t>(
        &'t self,
        text: &'t [u8],
        slot: &'t mut CaptureSlot,
    ) -> Option<Captures<'t>> {
        match self {
            Engine::Regex { re, fast } => {
                let fast = fast.get_or_init(|| Fast::new(re));
                if let Some(f) = fast.as_deref() {
                    if let Some(c) = f.captures(text, slot) {
                        debug_assert_same(re, f, &c, text);
                        return Some(c);
                    }
                }
                re.captures(text).map(|c| Captures {
                    inner: CapsInner::Regex(c),
                })
            }
            Engine::Pcre2(r) => r.captures(text).ok().flatten().map(|c| Captures {
                inner: CapsInner::Pcre2(c),
            }),
        }
    }

    /// The number of the group called `name`, the same in every [`Captures`] of this
    /// engine (the twin numbers groups as the `regex` crate does). Looked up once at
    /// compile time: a hit then reads its groups by number.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        match self {
            Engine::Regex { re, .. } => re.capture_names().position(|n| n == Some(name)),
            Engine::Pcre2(r) => r
                .capture_names()
                .iter()
                .position(|n| n.as_deref() == Some(name)),
        }
    }

    /// Whether captures of this pattern usually come from the PCRE2 twin ([`Fast`]).
    pub fn has_fast_captures(&self) -> bool {
        match self {
            Engine::Regex { re, fast } => fast.get_or_init(|| Fast::new(re)).is_some(),
            Engine::Pcre2(_) => false,
        }
    }

    /// The pattern text the `regex` engine compiled, for building a RegexSet.
    pub fn regex_source(&self) -> Option<&str> {
        match self {
            Engine::Regex { re, .. } => Some(re.as_str()),
            Engine::Pcre2(_) => None,
        }
    }
}

/// Debug builds: the twin must report exactly what the `regex` crate reports.
fn debug_assert_same(re: &regex::bytes::Regex, f: &Fast, fast: &Captures<'_>, text: &[u8]) {
    if cfg!(debug_assertions) {
        let CapsInner::Fast { locs: l, .. } = &fast.inner else {
            return;
        };
        let want = re.captures(text);
        for i in 0..re.captures_len() {
            let w = want
                .as_ref()
                .and_then(|c| c.get(i))
                .map(|m| (m.start(), m.end()));
            assert_eq!(
                l.get(i),
                w,
                "PCRE2 twin {:?} disagrees with regex {:?} on group {i} of {:?}",
                f.pattern(),
                re.as_str(),
                String::from_utf8_lossy(text)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_quantifier_means_zero_to_n_on_every_pcre2() {
        assert_eq!(
            zero_min_quantifiers(r"errors \(\d{,3}\);$").as_deref(),
            Some(r"errors \(\d{0,3}\);$")
        );
        // Escaped braces, classes, `{n,}` and a bare `{,}` stay as written.
        assert_eq!(zero_min_quantifiers(r"a\{,3} [{,3}] b{2,} c{,}"), None);
        // Both engines read it as 0 to n, whatever this host's libpcre2 is.
        for p in [r"^x\d{,3}y$", r"^(?=x)x\d{,3}y$"] {
            let e = Engine::compile(p).unwrap();
            assert!(e.is_match(b"x12y") && e.is_match(b"xy"), "{p}");
            assert!(!e.is_match(b"x1234y") && !e.is_match(b"x{,3}y"), "{p}");
        }
    }

    #[test]
    fn falls_back_to_pcre2_for_lookaround() {
        let e = Engine::compile(r"^user (?!root)\w+ from x$").unwrap();
        assert_eq!(e.kind(), EngineKind::Pcre2);
        assert!(e.is_match(b"user bob from x"));
        assert!(!e.is_match(b"user root from x"));
        let plain = Engine::compile(r"^user \w+$").unwrap();
        assert_eq!(plain.kind(), EngineKind::Regex);
        let back = Engine::compile(r"^(\w+) \1$").unwrap();
        assert_eq!(back.kind(), EngineKind::Pcre2);
        assert!(back.is_match(b"ab ab"));
    }

    #[test]
    fn ascii_classes_and_raw_bytes() {
        let e = Engine::compile(r"^port \d+ user .+$").unwrap();
        // Arabic-Indic digits are not \d here: no Unicode digit ever forms a port or address.
        assert!(!e.is_match("port ٣ user x".as_bytes()));
        assert!(e.is_match(b"port 3 user \xff\xfe"));
        let u = Engine::compile(r"(?u)^\w+$").unwrap();
        assert!(u.is_match("日本".as_bytes()));
    }

    #[test]
    fn jit_is_allowed_without_memory_deny_write_execute() {
        // The test process runs without MemoryDenyWriteExecute: the probe must say so
        // (and twins then JIT). tests/systemd_units.rs covers the hardened case.
        assert!(jit_allowed());
    }

    #[test]
    fn prefixes_of_anchored_patterns() {
        let p = anchored_prefixes(r"^Failed (?:password|none) for \S+$").unwrap();
        assert_eq!(
            p,
            vec![
                b"Failed password for ".to_vec(),
                b"Failed none for ".to_vec()
            ]
        );
        assert!(
            anchored_prefixes(r"Failed password").is_none(),
            "not anchored"
        );
        assert!(
            anchored_prefixes(r"^\w+ failed").is_none(),
            "starts with a class"
        );
        assert!(
            anchored_prefixes(r"^(?:a|[^ ]+)x").is_none(),
            "one branch has no literal"
        );
        // A small class is spelled out: every match still starts with one of these.
        assert_eq!(anchored_prefixes(r"^[ab]x").unwrap().len(), 2);
    }

    /// Group spans of one match (None: group did not take part).
    type Spans = Vec<Option<(usize, usize)>>;

    /// Every group of `pattern` on `text`, through the twin, and through `regex` alone.
    fn both(pattern: &str, text: &[u8]) -> (Option<Spans>, bool) {
        let e = Engine::compile(pattern).unwrap();
        let Engine::Regex { re, fast } = &e else {
            panic!("{pattern} is not on the regex engine")
        };
        let fast = fast
            .get_or_init(|| Fast::new(re))
            .as_ref()
            .expect("a PCRE2 twin");
        let want = re.captures(text).map(|c| {
            (0..re.captures_len())
                .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                .collect::<Vec<_>>()
        });
        let mut slot = CaptureSlot::default();
        let got = fast.captures(text, &mut slot).map(|c| {
            let CapsInner::Fast { locs: l, .. } = &c.inner else {
                unreachable!()
            };
            (0..re.captures_len()).map(|i| l.get(i)).collect::<Vec<_>>()
        });
        let used_twin = got.is_some();
        if let Some(g) = &got {
            assert_eq!(Some(g), want.as_ref(), "{pattern} on {text:?}");
        }
        // Through the public path (twin, then regex) the answer is always regex's.
        let public = e.captures(text, &mut CaptureSlot::default()).is_some();
        assert_eq!(public, want.is_some(), "{pattern} on {text:?}");
        (want, used_twin)
    }

    #[test]
    fn pcre2_twin_agrees_with_regex() {
        let cases: &[(&str, &[&[u8]])] = &[
            (
                r"^Failed (?:password|none) for (?:invalid user )?(?<user>[^:]*?) from (?<host>\S+) port \d+(?: ssh\d)?$",
                &[
                    b"Failed password for root from 192.0.2.1 port 22 ssh2",
                    b"Failed password for invalid user a from 1.1.1.1 port 1 from 192.0.2.9 port 22",
                    b"Failed none for  from 192.0.2.1 port 22",
                    b"Failed password for root from 192.0.2.1 port 22 ssh2 ",
                ],
            ),
            // Case folding, counted and lazy repetition, empty branches, nested groups.
            (
                r"(?i)^(a(b)?|)+?x{2,3}(c*?)(?:d|)e$",
                &[b"AbaBxxxcce", b"xxe", b"abxxde", b"xe", b"ABABABxxxe"],
            ),
            // Word boundaries, multi-line anchors and dot.
            (
                r"(?m)\bfoo\B\w*$\n^(.+)$",
                &[b"a fooo\nbar", b"foo\nbar", b"xfoo\nbar", b"fooo\n\nbar"],
            ),
            (r"\<(\w+)\> (\d+)", &[b"ab 12", b" ab 12x", b"ab12 3"]),
            // Raw bytes and classes with high bytes.
            (
                r"(?-u)^user ([\x80-\xff]+|[^\x00-\x7f ]) (.)$",
                &[b"user \xff\xfe \x01", b"user \xc3 x", b"user ab x"],
            ),
        ];
        for (pattern, texts) in cases {
            for t in *texts {
                both(pattern, t);
            }
        }
        // A trailing newline is where PCRE2's `$` differs: regex answers alone.
        let (want, twin) = both(r"^a (\d+)$", b"a 1\n");
        assert!(want.is_none() && !twin);
    }

    #[test]
    fn pcre2_twin_gives_up_on_catastrophic_backtracking() {
        // Exponential for a backtracker; the match limit stops PCRE2 and the regex
        // crate answers in linear time.
        let text = [b"a".repeat(40), b"!".to_vec()].concat();
        let (want, twin) = both(r"^(a+)+$", &text);
        assert!(want.is_none() && !twin);
        let (want, twin) = both(r"^(a+)+!$", &text);
        assert!(want.is_some() && twin);
    }

    #[test]
    fn bounded_classes_keep_their_twin() {
        // Bounded fields (a cut line must not match) in one pattern: with each class
        // wrapped in a group PCRE2 copied them past its size limit.
        let e = Engine::compile(r"^F=<[^\s<>]{0,256}> H=(?:[\w.-]{1,253} )?(?:\([^\s()]{0,255}\) )?\[(\d+\.\d+\.\d+\.\d+)\] F=<[^\s<>]{0,256}> R <[^\s<>]{0,256}>: .*$").unwrap();
        assert!(e.has_fast_captures());
        let mut slot = CaptureSlot::default();
        let caps = e
            .captures(b"F=<a@b> H=x (y) [192.0.2.1] F=<c@d> R <e@f>: z", &mut slot)
            .expect("matches");
        assert_eq!(caps.get(1), Some(17..26));
    }

    #[test]
    fn unicode_patterns_have_no_twin() {
        assert!(!Engine::compile(r"(?u)^\w+ (\d+)$")
            .unwrap()
            .has_fast_captures());
        assert!(Engine::compile(r"^\w+ (\d+)$").unwrap().has_fast_captures());
    }

    #[test]
    fn broken_pattern_names_both_engines() {
        let err = Engine::compile(r"^(unclosed").err().unwrap();
        assert!(err.contains("PCRE2"), "{err}");
    }
}
