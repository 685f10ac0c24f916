//! fail2ban's INI dialect, read the way fail2ban reads it: Python configparser with
//! fail2ban's additions.
//!
//! What it owns: splitting files into sections and keys, continuation lines (a line
//! that starts with white space continues the value above it), full-line `#`/`;`
//! comments even inside a value, inline ` ;` comments, lower-cased key names,
//! `[INCLUDES]` `before`/`after` (relative to the including file, each included file's
//! own includes first) and the `NAME.local` that overrides `NAME.conf`, and `%(name)s`
//! interpolation with fail2ban's `%(section/name)s` and `%(known/name)s` (the value a
//! later file replaced). Every value keeps the file and line of each of its lines so a
//! diagnostic can point at it. It knows nothing about filters (see `filter.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One line of a value, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub text: String,
    pub line: usize,
}

/// A value: its lines (the first is what follows `key =`), its file, and the value it
/// replaced when a later file set the same key (fail2ban's `known/`).
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub file: String,
    pub lines: Vec<Line>,
    pub known: Option<Box<Value>>,
}

impl Value {
    /// Line of the key itself.
    pub fn line(&self) -> usize {
        self.lines.first().map_or(0, |l| l.line)
    }

    /// The raw text, lines joined by `\n` (configparser drops empty ones here too).
    pub fn text(&self) -> String {
        let parts: Vec<&str> = self
            .lines
            .iter()
            .map(|l| l.text.as_str())
            .filter(|t| !t.is_empty())
            .collect();
        parts.join("\n")
    }
}

/// Longest value `%(…)s` interpolation may make. fail2ban's longest, sshd's failregex
/// with its prefixes, is a few KiB.
const MAX_INTERPOLATED: usize = 64 << 10;

/// Section name -> key -> value, after every file of an include chain is merged.
#[derive(Debug, Default, Clone)]
pub struct Config {
    pub sections: BTreeMap<String, BTreeMap<String, Value>>,
    /// Files read, in merge order.
    pub files: Vec<PathBuf>,
}

/// A problem reading the files: where, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
    /// Not fatal (a missing optional include).
    pub warning: bool,
}

type Parsed = Vec<(String, Vec<(String, Value)>)>;

/// Parse one file's text into sections (in order) and keys (in order).
pub fn parse(file: &str, text: &str) -> Result<Parsed, Problem> {
    let mut out: Parsed = Vec::new();
    // Index of the key a continuation line would extend: (section, entry).
    let mut current: Option<(usize, usize)> = None;
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let raw = raw.trim_end_matches('\r');
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.is_empty() {
            // configparser keeps empty lines inside values; they carry nothing here.
            continue;
        }
        let text = strip_inline_comment(raw);
        let starts_blank = raw.starts_with([' ', '\t']);
        if starts_blank {
            if let Some((s, e)) = current {
                out[s].1[e].1.lines.push(Line {
                    text: text.trim().to_owned(),
                    line: lineno,
                });
                continue;
            }
        }
        let t = text.trim();
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            out.push((name.to_owned(), Vec::new()));
            current = None;
            continue;
        }
        let Some(at) = t.find(['=', ':']) else {
            return Err(Problem {
                file: file.to_owned(),
                line: Some(lineno),
                message: format!("not a section, key = value or continuation line: {t:?}"),
                warning: false,
            });
        };
        if out.is_empty() {
            return Err(Problem {
                file: file.to_owned(),
                line: Some(lineno),
                message: "key before any [section]".into(),
                warning: false,
            });
        }
        let key = t[..at].trim().to_ascii_lowercase();
        let value = t[at + 1..].trim().to_owned();
        let sec = out.len() - 1;
        let v = Value {
            file: file.to_owned(),
            lines: vec![Line {
                text: value,
                line: lineno,
            }],
            known: None,
        };
        let entries = &mut out[sec].1;
        // A key set twice in one file: configparser (strict) refuses; so do we.
        if entries.iter().any(|(k, _)| *k == key) {
            return Err(Problem {
                file: file.to_owned(),
                line: Some(lineno),
                message: format!("key {key:?} set twice in [{}]", out[sec].0),
                warning: false,
            });
        }
        entries.push((key, v));
        current = Some((sec, entries.len() - 1));
    }
    Ok(out)
}

/// configparser's inline comments: `;` preceded by white space ends the value.
fn strip_inline_comment(line: &str) -> &str {
    let b = line.as_bytes();
    for i in 1..b.len() {
        if b[i] == b';' && (b[i - 1] == b' ' || b[i - 1] == b'\t') {
            return &line[..i];
        }
    }
    line
}

/// Read `path` the way fail2ban reads a filter: its includes (before, itself, after,
/// recursively), then `NAME.local` next to it with its own includes.
pub fn load(path: &Path) -> Result<(Config, Vec<Problem>), Problem> {
    let local = path.with_extension("local");
    let mut files = vec![(path.to_path_buf(), true)];
    if local.exists() {
        files.push((local, true));
    }
    load_files(&files)
}

/// Read several files in order, each with its includes, and merge them: a key set by a
/// later file replaces the earlier one (which stays reachable as `known/`). This is how
/// fail2ban reads `jail.conf`, `jail.d/*.conf`, `jail.local`, `jail.d/*.local`. A file
/// marked required must be readable; the others are skipped when missing.
pub fn load_files(files: &[(PathBuf, bool)]) -> Result<(Config, Vec<Problem>), Problem> {
    let mut problems = Vec::new();
    let mut order = Vec::new();
    let mut cache: BTreeMap<PathBuf, Parsed> = BTreeMap::new();
    for (path, required) in files {
        if !required && !path.exists() {
            continue;
        }
        includes(
            path,
            &mut Vec::new(),
            &mut order,
            &mut cache,
            &mut problems,
            true,
        )?;
    }
    let mut cfg = Config::default();
    for p in &order {
        for (section, entries) in &cache[p] {
            if section == "INCLUDES" {
                continue;
            }
            let sec = cfg.sections.entry(section.clone()).or_default();
            for (k, v) in entries {
                let mut v = v.clone();
                if let Some(old) = sec.remove(k) {
                    v.known = Some(Box::new(old));
                }
                sec.insert(k.clone(), v);
            }
        }
    }
    cfg.files = order;
    Ok((cfg, problems))
}

fn includes(
    path: &Path,
    seen: &mut Vec<PathBuf>,
    order: &mut Vec<PathBuf>,
    cache: &mut BTreeMap<PathBuf, Parsed>,
    problems: &mut Vec<Problem>,
    top: bool,
) -> Result<(), Problem> {
    if seen.iter().any(|s| s == path) {
        return Ok(());
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let p = Problem {
                file: path.display().to_string(),
                line: None,
                message: format!("cannot read: {e}"),
                warning: !top,
            };
            if top {
                return Err(p);
            }
            // fail2ban skips a missing include; a missing .local is the normal case.
            if path.extension().is_some_and(|e| e != "local") {
                problems.push(p);
            }
            return Ok(());
        }
    };
    let name = path.display().to_string();
    let parsed = parse(&name, &text)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let list = |key: &str| -> Vec<PathBuf> {
        parsed
            .iter()
            .filter(|(s, _)| s == "INCLUDES")
            .flat_map(|(_, e)| e.iter())
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.lines.iter().map(|l| l.text.clone()))
            .flat_map(|t| {
                t.split_whitespace()
                    .map(|w| dir.join(w))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (before, after) = (list("before"), list("after"));
    seen.push(path.to_path_buf());
    for b in before {
        includes(&b, seen, order, cache, problems, false)?;
    }
    if !order.iter().any(|o| o == path) {
        order.push(path.to_path_buf());
    }
    cache.insert(path.to_path_buf(), parsed);
    for a in after {
        includes(&a, seen, order, cache, problems, false)?;
    }
    seen.pop();
    Ok(())
}

impl Config {
    pub fn get(&self, section: &str, key: &str) -> Option<&Value> {
        self.sections.get(section)?.get(key)
    }

    /// `key` as seen from `section`: its own, else `[DEFAULT]`'s (configparser's rule).
    pub fn lookup(&self, section: &str, key: &str) -> Option<&Value> {
        self.get(section, key).or_else(|| self.get("DEFAULT", key))
    }

    /// Interpolate `%(name)s` in one line of text that belongs to `key` in `section`.
    /// `own` is the value being interpolated (for `%(known/key)s`). `%%` is `%`.
    pub fn interpolate(
        &self,
        text: &str,
        section: &str,
        own: Option<(&str, &Value)>,
        depth: usize,
    ) -> Result<String, String> {
        if depth > 20 {
            return Err(format!(
                "%(…)s references nest too deep (a cycle?) in {text:?}"
            ));
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('%') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(r) = after.strip_prefix('%') {
                out.push('%');
                rest = r;
                continue;
            }
            let Some(inner) = after.strip_prefix('(') else {
                // A lone % (`%d` in a date format): configparser would refuse the value;
                // keep it literal rather than fail the whole filter.
                out.push('%');
                rest = after;
                continue;
            };
            let Some(end) = inner.find(")s") else {
                return Err(format!("unclosed %( in {text:?}"));
            };
            let name = inner[..end].to_ascii_lowercase();
            rest = &inner[end + 2..];
            let (sec, key, known) = match name.split_once('/') {
                Some(("known", k)) => (section.to_owned(), k.to_owned(), true),
                Some((s, k)) => (self.section_name(s), k.to_owned(), false),
                None => (section.to_owned(), name.clone(), false),
            };
            let value = if known {
                let own_known = own
                    .filter(|(k, _)| *k == key)
                    .and_then(|(_, v)| v.known.as_deref());
                own_known
                    .or_else(|| self.get(&sec, &key).and_then(|v| v.known.as_deref()))
                    // fail2ban: a known/ option nobody set before is the default one.
                    .or_else(|| self.get("DEFAULT", &key))
            } else {
                self.lookup(&sec, &key)
            };
            let Some(v) = value else {
                return Err(format!("%({name})s: no such key in [{sec}] or [DEFAULT]"));
            };
            let mut lines = Vec::new();
            for l in v.lines.iter().filter(|l| !l.text.is_empty()) {
                lines.push(self.interpolate(&l.text, &sec, Some((&key, v)), depth + 1)?);
            }
            out.push_str(&lines.join("\n"));
            // Each level may name a key twice: 20 levels of `a = %(b)s%(b)s` would be
            // 2^20 copies (fuzz/regressions/fail2ban/doubling). Stopping at the cap bounds
            // the work too, since a reference's text is never longer than the cap.
            if out.len() > MAX_INTERPOLATED {
                return Err(format!(
                    "%({name})s: the value grows over {} KiB once interpolated (references that repeat each other?)",
                    MAX_INTERPOLATED >> 10
                ));
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Section names are case-sensitive in configparser except DEFAULT's spelling in
    /// fail2ban's `%(default/x)s`.
    fn section_name(&self, s: &str) -> String {
        if s.eq_ignore_ascii_case("default") {
            return "DEFAULT".into();
        }
        if self.sections.contains_key(s) {
            return s.to_owned();
        }
        self.sections
            .keys()
            .find(|k| k.eq_ignore_ascii_case(s))
            .cloned()
            .unwrap_or_else(|| s.to_owned())
    }

    /// The whole value of `key` in `section`, interpolated, as (text, line) pairs: one
    /// per line written, each possibly several lines after interpolation.
    pub fn resolved_lines(
        &self,
        section: &str,
        key: &str,
    ) -> Result<Vec<(String, usize)>, (usize, String)> {
        let Some(v) = self.lookup(section, key) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for l in v.lines.iter().filter(|l| !l.text.is_empty()) {
            let s = self
                .interpolate(&l.text, section, Some((key, v)), 0)
                .map_err(|e| (l.line, e))?;
            out.push((s, l.line));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_comments_and_case() {
        let p = parse(
            "f.conf",
            "[Definition]\nFailRegex = ^a <HOST>$\n  # a comment inside\n\n            ^b <HOST>$ ; inline\nx: 1\n",
        )
        .unwrap();
        let (name, entries) = &p[0];
        assert_eq!(name, "Definition");
        assert_eq!(entries[0].0, "failregex");
        assert_eq!(entries[0].1.text(), "^a <HOST>$\n^b <HOST>$");
        assert_eq!(entries[0].1.lines[1].line, 5);
        assert_eq!(entries[1].0, "x");
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e = parse("f.conf", "[A]\njunk\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        let e = parse("f.conf", "[A]\na = 1\na = 2\n").unwrap_err();
        assert!(e.message.contains("twice"));
    }

    #[test]
    fn includes_local_and_known() {
        let dir = tempfile::tempdir().unwrap();
        let w = |n: &str, t: &str| std::fs::write(dir.path().join(n), t).unwrap();
        w("common.conf", "[DEFAULT]\npre = P\nx = common\n");
        w(
            "f.conf",
            "[INCLUDES]\nbefore = common.conf\nafter = missing.local\n[Definition]\nx = conf\nfailregex = %(pre)s%(x)s\n",
        );
        w("f.local", "[Definition]\nx = %(known/x)s+local\n");
        let (cfg, problems) = load(&dir.path().join("f.conf")).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let lines = cfg.resolved_lines("Definition", "failregex").unwrap();
        assert_eq!(lines[0].0, "Pconf+local");
        assert_eq!(cfg.files.len(), 3);
    }

    #[test]
    fn interpolation_that_doubles_at_each_level_stops() {
        // k0 = %(k1)s%(k1)s, k1 = %(k2)s%(k2)s … : 2^20 copies of k20 (16 MiB) at the
        // nesting limit; it once ran for minutes.
        let mut text = String::from("[Definition]\n");
        for i in 0..20 {
            text.push_str(&format!("k{i} = %(k{n})s%(k{n})s\n", n = i + 1));
        }
        text.push_str("k20 = xxxxxxxxxxxxxxxx\n");
        let mut cfg = Config::default();
        for (s, e) in parse("f.conf", &text).unwrap() {
            cfg.sections.insert(s, e.into_iter().collect());
        }
        let err = cfg.resolved_lines("Definition", "k0").unwrap_err();
        assert!(err.1.contains("KiB"), "{err:?}");
        // Below the cap it still works: k10 is 2^10 copies, 16 KiB.
        let ok = cfg.resolved_lines("Definition", "k10").unwrap();
        assert_eq!(ok[0].0.len(), 16 << 10);
    }

    #[test]
    fn section_references_and_cycles() {
        let (name, text) = (
            "f.conf",
            "[DEFAULT]\na = %(s/b)s\nloop = %(loop)s\n[s]\nb = B\n",
        );
        let mut cfg = Config::default();
        for (s, e) in parse(name, text).unwrap() {
            cfg.sections.insert(s, e.into_iter().collect());
        }
        assert_eq!(cfg.interpolate("%(a)s", "DEFAULT", None, 0).unwrap(), "B");
        assert!(cfg.interpolate("%(loop)s", "DEFAULT", None, 0).is_err());
        assert!(cfg.interpolate("%(nope)s", "DEFAULT", None, 0).is_err());
        assert_eq!(
            cfg.interpolate("100%%", "DEFAULT", None, 0).unwrap(),
            "100%"
        );
    }
}
