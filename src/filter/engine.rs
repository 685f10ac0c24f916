//! One compiled pattern on one of two engines: the `regex` crate (linear time, the
//! default) or PCRE2 with JIT for what `regex` refuses (look-around, backreferences).
//!
//! Both match bytes with ASCII classes: `\d` is `[0-9]`, `\w` is `[0-9A-Za-z_]`, `.` is
//! any byte but newline. MESSAGE may be any bytes, so nothing needs decoding first,
//! and Unicode classes would make the lazy DFA's states explode (measured: a 13-pattern
//! sshd RegexSet costs 11 µs per entry with Unicode classes, 0.2 µs without). A
//! pattern that wants Unicode classes can say `(?u)`.

use std::fmt;

pub enum Engine {
    Regex(regex::bytes::Regex),
    Pcre2(pcre2::bytes::Regex),
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
}

impl<'t> Captures<'t> {
    pub fn name(&self, name: &str) -> Option<&'t [u8]> {
        match &self.inner {
            CapsInner::Regex(c) => c.name(name).map(|m| m.as_bytes()),
            CapsInner::Pcre2(c) => c.name(name).map(|m| m.as_bytes()),
        }
    }
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

impl Engine {
    /// Compile with `regex`; if it refuses a construct PCRE2 supports, use PCRE2.
    /// The error names both engines' complaints so the user sees what to change.
    pub fn compile(pattern: &str) -> Result<Engine, String> {
        match regex::bytes::RegexBuilder::new(pattern)
            .unicode(false)
            .size_limit(16 << 20)
            .build()
        {
            Ok(r) => Ok(Engine::Regex(r)),
            Err(regex::Error::CompiledTooBig(_)) => {
                Err("pattern compiles too big (over 16 MiB); simplify it".into())
            }
            Err(e) => {
                let first = e.to_string();
                pcre2::bytes::RegexBuilder::new()
                    .jit_if_available(true)
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
            Engine::Regex(_) => EngineKind::Regex,
            Engine::Pcre2(_) => EngineKind::Pcre2,
        }
    }

    pub fn is_match(&self, text: &[u8]) -> bool {
        match self {
            Engine::Regex(r) => r.is_match(text),
            // A PCRE2 match error (match limit hit) counts as no match: a hostile
            // message must not turn into a failure, nor stop the reader.
            Engine::Pcre2(r) => r.is_match(text).unwrap_or(false),
        }
    }

    pub fn captures<'t>(&self, text: &'t [u8]) -> Option<Captures<'t>> {
        match self {
            Engine::Regex(r) => r.captures(text).map(|c| Captures {
                inner: CapsInner::Regex(c),
            }),
            Engine::Pcre2(r) => r.captures(text).ok().flatten().map(|c| Captures {
                inner: CapsInner::Pcre2(c),
            }),
        }
    }

    /// The pattern text the `regex` engine compiled, for building a RegexSet.
    pub fn regex_source(&self) -> Option<&str> {
        match self {
            Engine::Regex(r) => Some(r.as_str()),
            Engine::Pcre2(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn broken_pattern_names_both_engines() {
        let err = Engine::compile(r"^(unclosed").err().unwrap();
        assert!(err.contains("PCRE2"), "{err}");
    }
}
