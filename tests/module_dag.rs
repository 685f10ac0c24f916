//! The module graph is a DAG, along the data path: a module may use the ones below it
//! in [`LAYERS`], never one above. Every `crate::…` and `super::…` path in every file
//! under src/ is resolved to the module it names; one that names a module higher up
//! fails this test with the file, the line and the path.
//!
//! Shared vocabulary belongs in a leaf low in the list (diagnostics in `diag`, the ban
//! rules in `banrules`, the journalmatch grammar in `route`, dates in `timefmt`), not
//! in the first module that needed it. A new top-level module must be placed here.

use std::path::{Path, PathBuf};

/// Lowest first. A file belongs to the longest entry its module path starts with, and
/// so does a path it uses. `compat` is two layers: the fail2ban filter.d converter
/// (with its INI reader, date templates and syslog-tag rewrites) runs when `config/`
/// loads a jail's `filter = "fail2ban:NAME"`, while the whole-configuration importer
/// is built on `config/` and is used by the CLI only.
const LAYERS: &[&str] = &[
    // Leaves: vocabulary every layer may use.
    "addr",
    "timefmt",
    "diag",
    "banrules",
    "metrics",
    "events",
    // The source side: the journalmatch grammar, then entries and their sources.
    "route",
    "journal",
    // Entry -> failure, and what configures it.
    "filter",
    "compat::fail2ban::ini",
    "compat::fail2ban::datepattern",
    "compat::fail2ban::syslogtag",
    "compat::fail2ban::filter",
    "config",
    // Failure -> decision.
    "jail",
    "pipeline",
    // Decision -> durable -> kernel, and the control socket's framing.
    "state",
    "ban",
    "control",
    // Built on the whole configuration.
    "compat",
    // The edges.
    "daemon",
    "cli",
];

/// Imports from above that are still there, with why; this list only shrinks.
/// (file, the layer it may name for now)
const ALLOWED: &[(&str, &str)] = &[];

#[test]
fn no_module_imports_from_a_module_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "found only {} files in src/", files.len());
    let mut bad = Vec::new();
    let mut unplaced = Vec::new();
    let mut seen = 0;
    for file in &files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel == "lib.rs" || rel == "main.rs" {
            continue; // the crate root declares modules; main uses `banjo::`, the lib.
        }
        let module = module_of(&rel);
        let Some(own) = layer_of(&module) else {
            unplaced.push(format!(
                "{rel}: module {} is not in LAYERS",
                module.join("::")
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for r in references(&text, &module) {
            seen += 1;
            let Some(theirs) = layer_of(&r.path) else {
                unplaced.push(format!(
                    "{rel}:{}: `{}` names no module in LAYERS",
                    r.line, r.written
                ));
                continue;
            };
            if theirs > own && !ALLOWED.contains(&(rel.as_str(), LAYERS[theirs])) {
                bad.push(format!(
                    "{rel}:{}: `{}`: {} imports from {}, which is above it",
                    r.line, r.written, LAYERS[own], LAYERS[theirs]
                ));
            }
        }
    }
    // The parser must see the imports there are, or this test proves nothing.
    assert!(seen > 500, "only {seen} crate paths found");
    assert!(unplaced.is_empty(), "{}", unplaced.join("\n"));
    assert!(
        bad.is_empty(),
        "imports from above (move the shared piece into a lower module):\n{}",
        bad.join("\n")
    );
}

#[test]
fn every_allowed_exception_is_still_needed() {
    // An exception that no longer matches anything must go from ALLOWED.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (file, layer) in ALLOWED {
        let module = module_of(file);
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let used = references(&text, &module)
            .iter()
            .any(|r| layer_of(&r.path).map(|i| LAYERS[i]) == Some(*layer));
        assert!(
            used,
            "{file} no longer uses {layer}: remove it from ALLOWED"
        );
    }
}

#[test]
fn the_parser_resolves_groups_super_and_nested_modules() {
    let text = r#"
// use crate::cli::Ignored; (a comment)
use crate::{addr::Addr, journal::{Entry, source::Origin as O}};
fn f() { let s = "crate::daemon::InAString"; let c = '{'; }
mod tests {
    use super::*;
    use super::super::timefmt::SEC;
    fn g() -> crate::config::Config { todo!() }
}
"#;
    let module = module_of("filter/mod.rs");
    assert_eq!(module, ["filter"]);
    let got: Vec<(usize, String)> = references(text, &module)
        .into_iter()
        .map(|r| (r.line, r.path.join("::")))
        .collect();
    assert_eq!(
        got,
        [
            (3, "addr::Addr".to_string()),
            (3, "journal::Entry".to_string()),
            (3, "journal::source::Origin".to_string()),
            (6, "filter".to_string()),
            (7, "timefmt::SEC".to_string()),
            (8, "config::Config".to_string()),
        ]
    );
    assert_eq!(
        layer_of(&path("compat::fail2ban::filter::x")),
        layer_of(&path("compat::fail2ban::filter"))
    );
    assert!(layer_of(&path("compat::fail2ban::import")) > layer_of(&path("config")));
    assert!(layer_of(&path("compat::fail2ban::filter")) < layer_of(&path("config")));
}

fn path(s: &str) -> Vec<String> {
    s.split("::").map(str::to_owned).collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `config/mod.rs` -> config, `ban/nft.rs` -> ban::nft. (A `#[path]` test file counts
/// as a module of its directory, which is the same layer.)
fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn layer_of(path: &[String]) -> Option<usize> {
    LAYERS
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let l: Vec<&str> = l.split("::").collect();
            l.len() <= path.len() && l.iter().zip(path).all(|(a, b)| a == b)
        })
        .max_by_key(|(_, l)| l.len())
        .map(|(i, _)| i)
}

struct Reference {
    line: usize,
    /// The path as written (first segment on).
    written: String,
    /// The module path it resolves to, from the crate root.
    path: Vec<String>,
}

/// Every `crate::` and `super::` path in `text` (a file of `module`), resolved.
/// Comments, strings and char literals are skipped; `use` groups are expanded; inline
/// `mod NAME { … }` blocks are followed so `super::` resolves from where it stands.
fn references(text: &str, module: &[String]) -> Vec<Reference> {
    let code = blank_literals(text);
    let b: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    // The module each open brace belongs to (None: not a `mod` block).
    let mut braces: Vec<Option<String>> = Vec::new();
    let mut pending_mod: Option<String> = None;
    let mut line = 1;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '\n' {
            line += 1;
            i += 1;
            continue;
        }
        if c == '{' {
            braces.push(pending_mod.take());
            i += 1;
            continue;
        }
        if c == '}' {
            braces.pop();
            i += 1;
            continue;
        }
        if c == ';' {
            pending_mod = None;
        }
        if !is_ident(c) || (i > 0 && (is_ident(b[i - 1]) || b[i - 1] == ':' || b[i - 1] == '$')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_ident(b[i]) {
            i += 1;
        }
        let word: String = b[start..i].iter().collect();
        if word == "mod" {
            let (name, _) = ident_at(&b, skip_ws(&b, i));
            if !name.is_empty() {
                pending_mod = Some(name);
            }
            continue;
        }
        if word != "crate" && word != "super" {
            continue;
        }
        if !(b.get(i) == Some(&':') && b.get(i + 1) == Some(&':')) {
            continue;
        }
        // Where this path starts from.
        let mut here: Vec<String> = module.to_vec();
        here.extend(braces.iter().flatten().cloned());
        let mut base = if word == "crate" {
            Vec::new()
        } else {
            here.pop();
            here
        };
        let mut j = i + 2;
        // More `super::`.
        loop {
            let (w, end) = ident_at(&b, j);
            if w == "super" && b.get(end) == Some(&':') && b.get(end + 1) == Some(&':') {
                base.pop();
                j = end + 2;
            } else {
                break;
            }
        }
        let mut paths = Vec::new();
        let end = parse_tree(&b, j, base, &mut paths);
        let written: String = b[start..end].iter().collect();
        let written = written.split_whitespace().collect::<Vec<_>>().join(" ");
        for p in paths {
            out.push(Reference {
                line,
                written: written.clone(),
                path: p,
            });
        }
        // Lines inside a multi-line group count toward the next reference.
        line += b[i..end].iter().filter(|&&c| c == '\n').count();
        i = end;
    }
    out
}

/// A use tree at `i`: `a::b`, `a::{b, c::d as e}`, `*`. Pushes each full path (without
/// `self`, `*` and aliases); returns where it ended.
fn parse_tree(
    b: &[char],
    mut i: usize,
    mut base: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        i = skip_ws(b, i);
        if b.get(i) == Some(&'{') {
            i += 1;
            loop {
                i = skip_ws(b, i);
                match b.get(i) {
                    Some('}') => return i + 1,
                    Some(',') => i += 1,
                    None => return i,
                    _ => {
                        let before = i;
                        i = skip_alias(b, parse_tree(b, i, base.clone(), out));
                        if i == before {
                            i += 1;
                        }
                    }
                }
            }
        }
        if b.get(i) == Some(&'*') {
            out.push(base);
            return i + 1;
        }
        let (w, end) = ident_at(b, i);
        if w.is_empty() {
            out.push(base);
            return i;
        }
        i = end;
        if w != "self" {
            base.push(w);
        }
        if b.get(i) == Some(&':') && b.get(i + 1) == Some(&':') {
            i += 2;
            continue;
        }
        out.push(base);
        return i;
    }
}

/// Past ` as NAME`, if that follows.
fn skip_alias(b: &[char], i: usize) -> usize {
    let j = skip_ws(b, i);
    match ident_at(b, j) {
        (w, end) if w == "as" => ident_at(b, skip_ws(b, end)).1,
        _ => i,
    }
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn skip_ws(b: &[char], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    i
}

fn ident_at(b: &[char], i: usize) -> (String, usize) {
    let mut j = i;
    while j < b.len() && is_ident(b[j]) {
        j += 1;
    }
    (b[i..j].iter().collect(), j)
}

/// The code with comments, strings and char literals replaced by spaces (newlines
/// kept, so line numbers hold).
fn blank_literals(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, s: &[char]| {
        for &c in s {
            out.push(if c == '\n' { '\n' } else { ' ' });
        }
    };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let prev_ident = i > 0 && is_ident(b[i - 1]);
        if c == '/' && b.get(i + 1) == Some(&'/') {
            let end = b[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(b.len(), |p| i + p);
            blank(&mut out, &b[i..end]);
            i = end;
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            let mut j = i;
            while j < b.len() {
                if b[j] == '/' && b.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if b[j] == '*' && b.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, &b[i..j.min(b.len())]);
            i = j;
        } else if !prev_ident && (c == 'r' || (c == 'b' && b.get(i + 1) == Some(&'r'))) && {
            let k = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = b[k..].iter().take_while(|&&c| c == '#').count();
            b.get(k + hashes) == Some(&'"')
        } {
            let k = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = b[k..].iter().take_while(|&&c| c == '#').count();
            let mut j = k + hashes + 1;
            while j < b.len() {
                if b[j] == '"'
                    && b[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&c| c == '#')
                        .count()
                        == hashes
                {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            blank(&mut out, &b[i..j.min(b.len())]);
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != '"' {
                j += if b[j] == '\\' { 2 } else { 1 };
            }
            let j = (j + 1).min(b.len());
            blank(&mut out, &b[i..j]);
            i = j;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{7f}'), or a lifetime ('a).
            let end = if b.get(i + 1) == Some(&'\\') {
                b[i + 2..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map(|p| i + 3 + p)
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            match end {
                Some(j) => {
                    blank(&mut out, &b[i..j]);
                    i = j;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[test]
fn literals_and_comments_are_blanked() {
    let s =
        blank_literals("a /* x { */ b \"c { \\\" d\" e '{' f r#\"g \" h\"# i 'life j // k {\nl");
    assert!(!s.contains('{'), "{s}");
    assert!(s.contains("'life j"), "{s}");
    assert_eq!(s.lines().count(), 2);
    assert!(s.ends_with("\nl"));
}
