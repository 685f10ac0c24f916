//! One fail2ban `filter.d/NAME.conf` (with its includes and `.local`) -> one banjo
//! filter TOML, plus diagnostics naming file, line and key for everything that did not
//! carry over exactly.
//!
//! The translation, in fail2ban's own order: `%(name)s` interpolation (ini.rs), then
//! `<name>` substitution from the filter's options ([DEFAULT] < [Definition] < [Init],
//! innermost first, `<section/key>` too), once per `mode` the filter defines. Then what
//! the journal makes unnecessary goes: common.conf's `__prefix_line` is empty (MESSAGE
//! has no syslog prefix), `datepattern` becomes the optional `%(date)s` each pattern starts with (datepattern.rs), a `prefregex` is composed into each
//! pattern. Tags banjo has no equivalent for are mapped (MLFFORGET) or reported.
//!
//! It must never emit a filter that matches differently without saying so: whatever it
//! writes has gone through banjo's own compiler ([`crate::filter::Filter::from_toml`])
//! in every mode, and every pattern it could not translate is left out with an error.

use super::datepattern::{self, split_top_level, DateVar};
use super::ini::{self, Config};
use super::syslogtag;
use crate::diag::Diagnostic;
use crate::filter::Filter;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What importing one file gave.
#[derive(Debug)]
pub struct Import {
    /// The filter's name (file stem): the output is `NAME.toml`.
    pub name: String,
    /// The banjo filter, when one could be made. It compiles in every mode.
    pub toml: Option<String>,
    /// Errors (a pattern or the whole file left out) and warnings (differences to review).
    pub diagnostics: Vec<Diagnostic>,
    /// The file defines no failregex: an include such as common.conf.
    pub not_a_filter: bool,
    /// failregex patterns written (all modes), and left out.
    pub patterns: usize,
    pub dropped: usize,
    pub modes: Vec<String>,
}

impl Import {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

const LEADING_DATE_DOC: &str = "# %(date)s stands where fail2ban's datepattern cut a date from the start of the line\n# (the filter's own datepattern, translated, or fail2ban's default date shapes):\n# services that write their own date into MESSAGE keep it there. Where MESSAGE never\n# starts with a date, set it empty: filter = \"NAME[date=]\".\n";

/// What is left of common.conf's `__prefix_line`: Solaris' `[ID NNN facility.level]`,
/// which syslogd writes into the message (digits and a word, never an address).
const SOLARIS_MSGID: &str = r"(?:\[ID \d+ [\w.]+\]\s+)?";

/// Address tags banjo expands.
const HOST_TAGS: [&str; 4] = ["<HOST>", "<ADDR>", "<IP4>", "<IP6>"];

/// A pattern after substitution, before translation.
struct Raw {
    text: String,
    file: String,
    line: usize,
    key: &'static str,
}

/// A translated pattern with the notes a reviewer needs.
#[derive(Clone, PartialEq)]
struct Out {
    text: String,
    /// `NAME.conf:LINE`, for the comment above the pattern.
    origin: String,
    file: String,
    line: usize,
    notes: Vec<String>,
}

struct Ctx<'a> {
    cfg: &'a Config,
    file: String,
    diags: Vec<Diagnostic>,
    /// (message, key) already reported: modes repeat most patterns.
    seen: BTreeSet<String>,
}

impl Ctx<'_> {
    /// Record `d` unless already reported; true when it is new.
    fn report(&mut self, d: Diagnostic) -> bool {
        let new = self.seen.insert(d.to_string());
        if new {
            self.diags.push(d);
        }
        new
    }
}

/// Import `path`.
pub fn import(path: &Path) -> Import {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "imported".into());
    let file = path.display().to_string();
    let mut result = Import {
        name: name.clone(),
        toml: None,
        diagnostics: Vec::new(),
        not_a_filter: false,
        patterns: 0,
        dropped: 0,
        modes: Vec::new(),
    };
    let (mut cfg, problems) = match ini::load(path) {
        Ok(x) => x,
        Err(p) => {
            result
                .diagnostics
                .push(Diagnostic::error(p.file, p.line, p.message));
            return result;
        }
    };
    for p in problems {
        let d = Diagnostic::error(p.file, p.line, p.message).hint(
            "includes are read beside the including file, as fail2ban does: import from /etc/fail2ban/filter.d/ or put the file next to what it includes",
        );
        result
            .diagnostics
            .push(if p.warning { d.warning() } else { d });
    }
    if cfg.get("Definition", "failregex").is_none() {
        result.not_a_filter = true;
        result.diagnostics.push(
            Diagnostic::error(&file, None, "no [Definition] failregex: nothing to import")
                .warning()
                .hint(
                    "an include such as common.conf is imported as part of the filters that use it",
                ),
        );
        return result;
    }
    if let Some(missing) = left_to_includer(&cfg) {
        // selinux-common.conf: the failregex of a family of filters, each of which
        // includes it and defines the rest (`_type`, `_msg`): it is imported with them.
        result.not_a_filter = true;
        let users = includers(path);
        result.diagnostics.push(
            Diagnostic::error(&file, cfg.get("Definition", "failregex").map(ini::Value::line), format!(
                "an include, not a filter: failregex needs %({missing})s, which the filters including it define"
            ))
            .key("failregex")
            .warning()
            .hint(if users.is_empty() {
                "import the filter that includes it".to_owned()
            } else {
                format!("import the filters that include it: {}", users.join(", "))
            }),
        );
        return result;
    }
    blank_prefix_line(&mut cfg);
    drop_syslog_host(&mut cfg);
    blank_own_journal_prefix(&mut cfg);
    let mut ctx = Ctx {
        cfg: &cfg,
        file: file.clone(),
        diags: result.diagnostics,
        seen: BTreeSet::new(),
    };
    let toml = translate(
        &mut ctx,
        &name,
        &mut result.patterns,
        &mut result.dropped,
        &mut result.modes,
    );
    result.diagnostics = ctx.diags;
    result.toml = toml;
    result
}

/// Where a jail's `filter` names a fail2ban filter file: `fail2ban:NAME` (NAME.conf in
/// `dir`, /etc/fail2ban/filter.d unless the jail sets `fail2ban_filter_dir`) or a path
/// ending in `.conf`. `None`: a banjo filter name or path.
pub fn jail_source(name: &str, dir: Option<&Path>) -> Option<Result<std::path::PathBuf, String>> {
    if let Some(n) = name.strip_prefix("fail2ban:") {
        let ok = !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && !n.starts_with('.');
        if !ok {
            return Some(Err(format!(
                "{n:?} is not a fail2ban filter name (letters, digits, - _ . only)"
            )));
        }
        let dir = dir.unwrap_or(Path::new(FAIL2BAN_FILTER_D));
        return Some(Ok(dir.join(format!("{n}.conf"))));
    }
    name.ends_with(".conf")
        .then(|| Ok(std::path::PathBuf::from(name)))
}

/// fail2ban's filter directory as Debian, RHEL and the upstream install lay it out.
pub const FAIL2BAN_FILTER_D: &str = "/etc/fail2ban/filter.d";

/// A fail2ban filter file compiled for a jail at load time, through [`import`]: the
/// filter and the warnings to show (`banjo check`), or every diagnostic when anything
/// was left out (a jail never runs a filter that is weaker than the file it names
/// without the user having seen why).
pub fn compile_for_jail(
    path: &Path,
    params: &BTreeMap<String, String>,
) -> Result<(Filter, Vec<Diagnostic>), Vec<Diagnostic>> {
    if !path.is_file() {
        return Err(vec![Diagnostic::error(
            path.display().to_string(),
            None,
            "no such fail2ban filter file",
        )
        .hint("install fail2ban's filters (`apt-get install fail2ban`), set fail2ban_filter_dir, or import the filter with `banjo import-filter` into filter.d")]);
    }
    let imp = import(path);
    if imp.not_a_filter {
        let mut d = imp.diagnostics;
        for x in &mut d {
            x.severity = crate::diag::Severity::Error;
        }
        return Err(d);
    }
    let toml = match &imp.toml {
        Some(t) if !imp.has_errors() => t.clone(),
        _ => return Err(imp.diagnostics),
    };
    let file = path.display().to_string();
    let filter = Filter::from_toml(&imp.name, &file, &toml, params)?;
    Ok((filter, imp.diagnostics))
}

/// A `%(_name)s` the failregex uses that nothing here defines: a key fail2ban's
/// convention leaves to the including filter (names starting with `_`).
fn left_to_includer(cfg: &Config) -> Option<String> {
    let text = cfg.get("Definition", "failregex")?.text();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("%(") {
        rest = &rest[i + 2..];
        let Some(e) = rest.find(")s") else { break };
        let name = rest[..e].to_ascii_lowercase();
        let defined = ["Definition", "DEFAULT", "Init"]
            .iter()
            .any(|s| cfg.lookup(s, &name).is_some());
        if name.starts_with('_') && !name.contains('/') && !defined {
            return Some(name);
        }
    }
    None
}

/// Filters beside `path` that include it (`before =`/`after =` naming its file).
fn includers(path: &Path) -> Vec<String> {
    let (Some(dir), Some(fname)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let fname = fname.to_string_lossy();
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf") && p != path)
        .filter(|p| {
            std::fs::read_to_string(p).is_ok_and(|t| {
                t.lines().any(|l| {
                    let l = l.trim();
                    (l.starts_with("before") || l.starts_with("after")) && l.contains(&*fname)
                })
            })
        })
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    out.sort();
    out
}

/// The filter's own `_daemon` (not common.conf's `\S*`), when it is a name or a
/// group of alternative names (`(?:dovecot(?:-auth)?|auth)`): no class, no wildcard.
fn own_daemon(cfg: &Config) -> Option<String> {
    let v = cfg.lookup("Definition", "_daemon")?;
    let from_common = Path::new(&v.file)
        .file_name()
        .is_some_and(|n| n == "common.conf" || n == "common.local");
    let t = v.text();
    let t = t.trim();
    let tame = !t.is_empty()
        && t.replace("(?:", "(")
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"_-|()?".contains(&c));
    (!from_common && tame).then(|| t.to_owned())
}

/// A filter's own prefix key that is exactly what fail2ban's systemd backend prints
/// before MESSAGE, `HOST TAG[PID]: ` (znc's `__prefix_short = (?:\S+\s+%(_daemon)s\[\d+\]:)\s+`):
/// empty, as common.conf's is. A prefix with more in it (murmur's, which goes on into
/// the message's own date) stays, with the warning `translate` gives.
fn blank_own_journal_prefix(cfg: &mut Config) {
    for sec in cfg.sections.values_mut() {
        for (k, v) in sec.iter_mut() {
            if !k.starts_with("__prefix") || v.lines.len() != 1 {
                continue;
            }
            if syslogtag::is_host_and_tag(&v.lines[0].text) {
                v.lines[0].text.clear();
            }
        }
    }
}

/// Text of every value with `%(__hostname)s` before a syslog tag (roundcube's
/// prefregex): both go, see [`syslogtag::drop_host_and_tag`].
fn drop_syslog_host(cfg: &mut Config) {
    for sec in cfg.sections.values_mut() {
        for v in sec.values_mut() {
            for l in &mut v.lines {
                if let Some(t) = syslogtag::drop_host_and_tag(&l.text) {
                    l.text = t;
                }
            }
        }
    }
}

/// common.conf's `__prefix_line` (every logtype section's) stands for the syslog
/// prefix the journal keeps in its own fields: empty. A filter that extends it
/// (sendmail's `%(known/__prefix_line)s(?:\w{14,20}: )?`) keeps its extension, which is
/// message text.
fn blank_prefix_line(cfg: &mut Config) {
    // A log file the program writes itself (nsd's `[EPOCH] nsd[PID]: info: …`,
    // daemontools' `@4000… dovecot-auth: …`) has its tag in the line: optional, when
    // the filter names its program.
    let lead = match own_daemon(cfg) {
        Some(d) => format!(r"(?:{d}(?:\[\d+\])?:\s+)?{SOLARIS_MSGID}"),
        None => SOLARIS_MSGID.to_owned(),
    };
    // Without common.conf (a filter copied away from filter.d) the prefix is still the
    // syslog prefix: empty here too, rather than an error on every pattern.
    if cfg.lookup("Definition", "__prefix_line").is_none() {
        cfg.sections.entry("DEFAULT".into()).or_default().insert(
            "__prefix_line".into(),
            ini::Value {
                file: "common.conf".into(),
                lines: Vec::new(),
                known: None,
            },
        );
    }
    fn blank(v: &mut ini::Value, lead: &str) {
        let from_common = Path::new(&v.file)
            .file_name()
            .is_some_and(|n| n == "common.conf" || n == "common.local");
        if from_common {
            for l in &mut v.lines {
                l.text.clear();
            }
            // Solaris writes its message id into the message itself
            // (`[ID 800047 auth.info] Failed …`): that part of the prefix is MESSAGE text.
            if let Some(first) = v.lines.first_mut() {
                first.text = lead.to_owned();
            }
        }
        if let Some(k) = v.known.as_deref_mut() {
            blank(k, lead);
        }
    }
    for sec in cfg.sections.values_mut() {
        if let Some(v) = sec.get_mut("__prefix_line") {
            blank(v, &lead);
        }
    }
}

/// Options visible to `<name>` substitution: key -> section it is read from.
fn option_sections(cfg: &Config) -> BTreeMap<String, &'static str> {
    let mut m = BTreeMap::new();
    for sec in ["DEFAULT", "Definition", "Init"] {
        if let Some(s) = cfg.sections.get(sec) {
            for k in s.keys() {
                m.insert(k.clone(), sec);
            }
        }
    }
    m
}

/// `<name>` substitution, fail2ban's way: innermost tags first, repeated until nothing
/// changes. Unknown names (`<HOST>`, `<F-USER>`, regex text) are left as they are.
fn substitute(
    cfg: &Config,
    opts: &BTreeMap<String, &'static str>,
    params: &BTreeMap<String, String>,
    text: &str,
) -> Result<String, String> {
    let mut cur = text.to_owned();
    for _ in 0..40 {
        let mut next = String::with_capacity(cur.len());
        let mut changed = false;
        let mut rest = cur.as_str();
        while let Some(i) = rest.find('<') {
            let after = &rest[i + 1..];
            let end = after.find(['<', '>', ' ']);
            let named_group = rest[..i].ends_with("(?P") || rest[..i].ends_with("(?");
            match end {
                Some(e) if after.as_bytes()[e] == b'>' && e > 0 && !named_group => {
                    let name = &after[..e];
                    if let Some(v) = lookup_tag(cfg, opts, params, name)? {
                        next.push_str(&rest[..i]);
                        next.push_str(&v);
                        rest = &after[e + 1..];
                        changed = true;
                        continue;
                    }
                    next.push_str(&rest[..i + 1]);
                    rest = after;
                }
                _ => {
                    next.push_str(&rest[..i + 1]);
                    rest = after;
                }
            }
        }
        next.push_str(rest);
        if !changed {
            return Ok(next);
        }
        cur = next;
    }
    Err(format!(
        "<…> substitutions nest too deep (a cycle?) in {text:?}"
    ))
}

fn lookup_tag(
    cfg: &Config,
    opts: &BTreeMap<String, &'static str>,
    params: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<String>, String> {
    if let Some(v) = params.get(name) {
        return Ok(Some(v.clone()));
    }
    // Keys are lower-case (configparser): `<HOST>`, `<F-USER>` never name one.
    if name.bytes().any(|b| b.is_ascii_uppercase()) && !name.contains('/') {
        return Ok(None);
    }
    let (sec, key) = match name.split_once('/') {
        Some((s, k)) => (s.to_owned(), k.to_ascii_lowercase()),
        None => match opts.get(name) {
            Some(s) => ((*s).to_owned(), name.to_owned()),
            None => return Ok(None),
        },
    };
    let Some(v) = cfg.lookup(&sec, &key) else {
        return Ok(None);
    };
    let mut lines = Vec::new();
    for l in v.lines.iter().filter(|l| !l.text.is_empty()) {
        lines.push(cfg.interpolate(&l.text, &sec, Some((&key, v)), 0)?);
    }
    Ok(Some(lines.join("\n")))
}

/// Modes the filter defines: for every `<pre<mode>suf>` in its options, the X with a
/// key `preXsuf`; a mode must have all of them (else fail2ban would leave a tag).
fn modes(cfg: &Config, opts: &BTreeMap<String, &'static str>) -> Vec<String> {
    values_of(cfg, opts, "mode")
}

/// The values a switch parameter (`mode`, `logging`) can take, found as for modes.
fn values_of(cfg: &Config, opts: &BTreeMap<String, &'static str>, param: &str) -> Vec<String> {
    let tag = format!("<{param}>");
    if !opts.contains_key(param) {
        return Vec::new();
    }
    let mut result: Option<BTreeSet<String>> = None;
    for (key, sec) in opts {
        let Some(v) = cfg.get(sec, key) else { continue };
        let text = v.text();
        let mut rest = text.as_str();
        while let Some(i) = rest.find(&tag) {
            let before = &rest[..i];
            let after = &rest[i + tag.len()..];
            rest = after;
            let Some(open) = before.rfind('<') else {
                continue;
            };
            let pre = &before[open + 1..];
            let Some(close) = after.find('>') else {
                continue;
            };
            let suf = &after[..close];
            if pre.contains(['>', ' ']) || suf.contains(['<', ' ']) {
                continue;
            }
            let found: BTreeSet<String> = opts
                .keys()
                .filter_map(|k| k.strip_prefix(pre)?.strip_suffix(suf))
                .filter(|x| !x.is_empty() && !x.contains(['<', '>']))
                .map(str::to_owned)
                .collect();
            result = Some(match result {
                None => found,
                Some(r) => r.intersection(&found).cloned().collect(),
            });
        }
    }
    result.map(|r| r.into_iter().collect()).unwrap_or_default()
}

/// Other `<…<param>…>` switches: fixed at their default (banjo modes cover `mode`).
fn switches(cfg: &Config, opts: &BTreeMap<String, &'static str>) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    for (key, sec) in opts {
        let Some(v) = cfg.get(sec, key) else { continue };
        let text = v.text();
        for p in opts.keys() {
            if p == "mode" || p == "logtype" || out.iter().any(|(n, _, _)| n == p) {
                continue;
            }
            let tag = format!("<{p}>");
            if let Some(i) = text.find(&tag) {
                // Nested: another tag is open around it.
                let open = text[..i].rfind('<');
                let close = text[..i].rfind('>');
                if open.is_some() && (close.is_none() || close < open) {
                    let default = cfg
                        .lookup(opts[p], p)
                        .map(ini::Value::text)
                        .unwrap_or_default();
                    let line = cfg.lookup(opts[p], p).map_or(0, ini::Value::line);
                    out.push((p.clone(), default, line));
                }
            }
        }
    }
    out
}

fn translate(
    ctx: &mut Ctx,
    name: &str,
    written: &mut usize,
    dropped: &mut usize,
    mode_names: &mut Vec<String>,
) -> Option<String> {
    let cfg = ctx.cfg;
    let file = ctx.file.clone();
    let opts = option_sections(cfg);
    let mut switch_list = switches(cfg, &opts);
    let mut choice_default: Option<String> = None;
    // The pattern sets banjo switches between: the filter's modes, or, for a filter
    // without, its one parameter that selects patterns (Apache's `logging`), so that
    // parameter stays a choice: filter = "apache-noscript[mode=syslog]".
    let mut mode_param = "mode".to_owned();
    let mut all_modes = modes(cfg, &opts);
    if all_modes.is_empty() {
        if let Some(i) = switch_list
            .iter()
            .position(|(p, _, _)| values_of(cfg, &opts, p).len() >= 2)
        {
            let (p, default, line) = switch_list.remove(i);
            all_modes = values_of(cfg, &opts, &p);
            ctx.report(
                Diagnostic::error(&file, Some(line), format!(
                    "parameter {p} (default {default:?}) becomes the filter's mode: filter = \"{name}[mode=VALUE]\" with VALUE one of {}",
                    all_modes.join(", ")
                ))
                .key(&p)
                .warning()
                .hint("banjo filters switch pattern sets by mode; other parameters of the filter are fixed"),
            );
            mode_param = p;
        }
    }
    let def_mode = cfg
        .lookup(
            opts.get(mode_param.as_str())
                .copied()
                .unwrap_or("Definition"),
            &mode_param,
        )
        .map(ini::Value::text);
    if let Some(d) = &def_mode {
        if !all_modes.is_empty() && !all_modes.contains(d) {
            let v = cfg.lookup(opts[mode_param.as_str()], &mode_param);
            ctx.report(
                Diagnostic::error(
                    v.map_or(file.clone(), |v| v.file.clone()),
                    v.map(ini::Value::line),
                    format!(
                        "default mode {d:?} is not one of the modes found ({})",
                        all_modes.join(", ")
                    ),
                )
                .key(&mode_param),
            );
            return None;
        }
    }
    // Beside the filter's own modes, its first switch with values to choose from
    // (sshd's `publickey`) stays a choice: each mode gets a variant per value,
    // `MODE,PARAM=VALUE`, which `filter = "NAME[PARAM=VALUE]"` picks.
    let mut choice: Option<(String, Vec<String>)> = None;
    if mode_param == "mode" && !all_modes.is_empty() {
        let pick = switch_list.iter().position(|(p, default, _)| {
            let values = values_of(cfg, &opts, p);
            values.len() >= 2 && values.contains(default)
        });
        if let Some(i) = pick {
            let (p, default, line) = switch_list.remove(i);
            let values = values_of(cfg, &opts, &p);
            ctx.report(
                Diagnostic::error(&file, Some(line), format!(
                    "parameter {p} (default {default:?}) stays a choice: filter = \"{name}[{p}=VALUE]\" with VALUE one of {}",
                    values.join(", ")
                ))
                .key(&p)
                .warning()
                .hint(format!("each mode has a variant per value (`[modes.\"MODE,{p}=VALUE\"]`); the plain mode is the default, {default}")),
            );
            choice = Some((p, values));
            choice_default = Some(default);
        }
    }
    for (p, default, line) in switch_list {
        ctx.report(
            Diagnostic::error(&file, Some(line), format!(
                "parameter {p} is fixed at its default {default:?}: banjo filters switch pattern sets by mode only"
            ))
            .key(&p)
            .warning()
            .hint(format!("to use another value, edit the imported patterns or set {p} in a .local before importing")),
        );
    }
    // One %(date)s for all modes: each mode's templates (guacamole's differ by
    // `logging`), any of them.
    let mut date: Option<DateVar> = None;
    let values: Vec<Option<&str>> = if all_modes.is_empty() {
        vec![def_mode.as_deref()]
    } else {
        all_modes.iter().map(|m| Some(m.as_str())).collect()
    };
    for v in values {
        let d = date_var(ctx, &opts, v.map(|m| (mode_param.as_str(), m)));
        date = Some(match date {
            None => d,
            Some(mut acc) => {
                if acc.regex != d.regex {
                    acc.regex = format!("(?:{}|{})", acc.regex, d.regex);
                }
                acc.in_audit |= d.in_audit;
                acc
            }
        });
    }
    let date = date.unwrap_or_else(datepattern::default_var);
    // A filter's own syslog-prefix pattern (murmur's __prefix_journal: "host
    // murmurd[pid]:") expects the line fail2ban's systemd backend builds; MESSAGE has
    // no such prefix. Only common.conf's is known to be that alone, and is emptied.
    for (sec, keys) in &cfg.sections {
        for (k, v) in keys {
            let own = !Path::new(&v.file)
                .file_name()
                .is_some_and(|n| n == "common.conf" || n == "common.local");
            let text = v.text();
            let tag_like = ["_daemon", "__pid_re", r"\[\d+\]"]
                .iter()
                .any(|w| text.contains(w));
            if own && tag_like && (k.starts_with("__prefix") || k == "__line_prefix") {
                ctx.report(
                    Diagnostic::error(&v.file, Some(v.line()), format!(
                        "[{sec}] defines its own line prefix with a syslog tag or pid: MESSAGE has none, so patterns using it may not match"
                    ))
                    .key(k)
                    .warning()
                    .hint("check with `banjo test-filter FILTER.toml --journal`; if needed, empty this key in a .local and import again"),
                );
            }
        }
    }
    let maxlines = lookup_int(cfg, "maxlines");
    if let Some((n, v)) = &maxlines {
        if *n > 1 {
            ctx.report(
                Diagnostic::error(&v.file, Some(v.line()), format!(
                    "maxlines = {n}: banjo matches one journal entry at a time; patterns spanning lines do not carry over"
                ))
                .key("maxlines")
                .warning()
                .hint("entries of one connection are tied by id_field (\"_PID\"): <F-NOFAIL> remembers an address for later lines"),
            );
        }
    }

    // Every mode's patterns (or one unnamed set).
    let single = all_modes.is_empty();
    if single {
        all_modes.push(def_mode.clone().unwrap_or_else(|| "normal".into()));
    }
    let mut per_mode: Vec<(String, Vec<Out>, Vec<Out>)> = Vec::new();
    // (name in the output, the filter's mode, the switch's value)
    let mut variants: Vec<(String, String, Option<String>)> = Vec::new();
    for m in &all_modes {
        match &choice {
            None => variants.push((m.clone(), m.clone(), None)),
            Some((p, values)) => {
                for v in values {
                    variants.push((format!("{m},{p}={v}"), m.clone(), Some(v.clone())));
                }
            }
        }
    }
    let mut id_field = false;
    // What a pattern may start with as the program's tag: the filter's name, its own
    // `_daemon` when that is one word.
    let mut tag_names = vec![name.to_owned()];
    if let Some(d) = own_daemon(cfg) {
        tag_names.push(d);
    }
    for (variant, m, value) in &variants {
        let mut params = BTreeMap::new();
        params.insert(mode_param.clone(), m.clone());
        if let (Some((p, _)), Some(v)) = (&choice, value) {
            params.insert(p.clone(), v.clone());
        }
        // banjo reads the journal: fail2ban's `logtype = journal`.
        params.insert("logtype".to_owned(), "journal".to_owned());
        let pref = raw_patterns(ctx, &opts, &params, "prefregex")?;
        let pref = match pref.as_slice() {
            [] => None,
            [one] => match Prefregex::parse(&one.text) {
                Ok(p) => Some(p),
                Err(e) => {
                    ctx.report(Diagnostic::error(&one.file, Some(one.line), e).key("prefregex"));
                    return None;
                }
            },
            [_, more @ ..] => {
                ctx.report(
                    Diagnostic::error(
                        &more[0].file,
                        Some(more[0].line),
                        "prefregex has more than one line",
                    )
                    .key("prefregex"),
                );
                return None;
            }
        };
        if let Some(p) = pref.as_ref().filter(|p| p.mlfid) {
            id_field = true;
            if !p.mlfid_text.is_empty() {
                let v = cfg.lookup(opts["prefregex"], "prefregex");
                ctx.report(
                    Diagnostic::error(
                        v.map_or(file.clone(), |v| v.file.clone()),
                        v.map(ini::Value::line),
                        format!(
                            "<F-MLFID> also covers message text ({}): kept as <F-MLFID>, so lines are tied by _PID and that text, as fail2ban ties them",
                            p.mlfid_text
                        ),
                    )
                    .key("prefregex")
                    .warning(),
                );
            }
        }
        let mut lists = Vec::new();
        for key in ["failregex", "ignoreregex"] {
            let raws = raw_patterns(ctx, &opts, &params, key)?;
            let mut outs = Vec::new();
            for r in raws {
                match translate_pattern(&r, pref.as_ref(), id_field, &date, &tag_names) {
                    Ok(o) => {
                        // What banjo does differently for this pattern is said at its
                        // line, not only in the output's comments.
                        for n in o.notes.iter().filter(|n| behaves_differently(n)) {
                            ctx.report(
                                Diagnostic::error(&r.file, Some(r.line), n.clone())
                                    .key(key)
                                    .warning(),
                            );
                        }
                        outs.push(o);
                    }
                    Err(e) => {
                        let new = ctx.report(
                            Diagnostic::error(&r.file, Some(r.line), format!("left out: {e}"))
                                .key(key)
                                .hint(format!("pattern: {}", r.text)),
                        );
                        if new && key == "failregex" {
                            *dropped += 1;
                        }
                    }
                }
            }
            lists.push(outs);
        }
        let ignore = lists.pop().unwrap_or_default();
        let fail = lists.pop().unwrap_or_default();
        per_mode.push((variant.clone(), fail, ignore));
    }
    // One warning per filter for unanchored patterns (each is marked in the output).
    let mut unanchored: Vec<&Out> = Vec::new();
    for o in per_mode.iter().flat_map(|m| m.1.iter()) {
        if o.notes.iter().any(|n| n.starts_with("UNANCHORED"))
            && !unanchored.iter().any(|u| u.text == o.text)
        {
            unanchored.push(o);
        }
    }
    if let Some(first) = unanchored.first() {
        ctx.report(
            Diagnostic::error(&first.file, Some(first.line), format!(
                "{} pattern(s) unanchored (marked UNANCHORED in the output; this is the first): text a client controls could supply the address",
                unanchored.len()
            ))
            .key("failregex")
            .warning()
            .hint("banjo's built-ins are anchored with ^…$ and put no .* before <HOST>; tighten these before enabling"),
        );
    }
    let journalmatch = journalmatch(ctx, &opts);

    // Patterns every mode starts with go on top (order is kept: banjo tries the common
    // ones first, then the mode's).
    let common_fail = common_prefix(per_mode.iter().map(|m| m.1.as_slice()));
    let common_ignore = common_prefix(per_mode.iter().map(|m| m.2.as_slice()));
    let mut t = String::new();
    t.push_str(&format!(
        "# Imported from fail2ban's {} by `banjo import-filter` (banjo {}).\n",
        Path::new(&file).display(),
        env!("CARGO_PKG_VERSION")
    ));
    let files: Vec<String> = cfg.files.iter().map(|p| p.display().to_string()).collect();
    t.push_str(&format!("# Read: {}\n", files.join(", ")));
    t.push_str("# Review it before use (`banjo test-filter FILE LOG`); every difference from\n# fail2ban is noted below and was reported when importing.\n");
    for d in &ctx.diags {
        for (i, l) in d.to_string().lines().enumerate() {
            t.push_str(if i == 0 { "#   " } else { "#     " });
            t.push_str(l.trim_start());
            t.push('\n');
        }
    }
    t.push_str(&format!(
        "description = {}\n",
        toml_str(&format!("{name} (imported from fail2ban)"))
    ));
    if let Some(j) = &journalmatch {
        // fail2ban's ` + ` groups become list items (banjo ORs them the same way).
        let groups: Vec<String> = j.split(" + ").map(toml_str).collect();
        t.push_str(&format!("journalmatch = [{}]\n", groups.join(", ")));
    } else {
        t.push_str("# No journalmatch: a jail using this filter must set one.\n");
    }
    if id_field {
        t.push_str("# prefregex's <F-MLFID> tied lines of one process: the journal's _PID does.\nid_field = \"_PID\"\n");
    }
    if !single {
        t.push_str(&format!(
            "mode = {}\n",
            toml_str(def_mode.as_deref().unwrap_or("normal"))
        ));
    }
    write_list(&mut t, "failregex", &per_mode[0].1[..common_fail]);
    write_list(&mut t, "ignoreregex", &per_mode[0].2[..common_ignore]);
    *written = common_fail;
    t.push('\n');
    t.push_str(LEADING_DATE_DOC);
    t.push_str(&format!("[vars]\ndate = {}\n", toml_str(&date.regex)));
    if !single {
        let parts = match (&choice, &choice_default) {
            (Some((p, values)), Some(d)) => {
                switch_parts(&per_mode, &all_modes, p, values, common_fail, common_ignore)
                    .map(|parts| (p, d, parts))
            }
            _ => None,
        };
        if let Some((p, d, (blocks, rests))) = parts {
            // Each value's own patterns once (`_p=v`), each mode's once (`_m`); a
            // variant is the two, in fail2ban's order.
            for (v, fail) in &blocks {
                t.push_str(&format!("\n[modes.{}]\n", toml_key(&format!("_{p}={v}"))));
                write_list(&mut t, "failregex", fail);
                *written += fail.len();
            }
            for (m, fail, ignore) in &rests {
                t.push_str(&format!("\n[modes.{}]\n", toml_key(&format!("_{m}"))));
                write_list(&mut t, "failregex", fail);
                write_list(&mut t, "ignoreregex", ignore);
                *written += fail.len();
            }
            for m in &all_modes {
                for (v, _) in &blocks {
                    let include = format!(
                        "include = [{}, {}]\n",
                        toml_str(&format!("_{p}={v}")),
                        toml_str(&format!("_{m}"))
                    );
                    t.push_str(&format!(
                        "\n[modes.{}]\n{include}",
                        toml_key(&format!("{m},{p}={v}"))
                    ));
                    if v == d {
                        t.push_str(&format!("\n[modes.{}]\n{include}", toml_key(m)));
                    }
                }
            }
        } else {
            for (m, fail, ignore) in &per_mode {
                t.push_str(&format!("\n[modes.{}]\n", toml_key(m)));
                write_list(&mut t, "failregex", &fail[common_fail..]);
                write_list(&mut t, "ignoreregex", &ignore[common_ignore..]);
                *written += fail.len() - common_fail;
            }
            if let (Some((p, _)), Some(d)) = (&choice, &choice_default) {
                for m in &all_modes {
                    t.push_str(&format!(
                        "\n[modes.{}]\ninclude = [{}]\n",
                        toml_key(m),
                        toml_str(&format!("{m},{p}={d}"))
                    ));
                }
            }
        }
        *mode_names = all_modes.clone();
    }
    if *written == 0 {
        ctx.report(
            Diagnostic::error(&file, None, "no failregex could be imported").key("failregex"),
        );
        return None;
    }

    // The proof: banjo's own compiler, in every mode.
    let out_name = format!("{name}.toml");
    let mut to_check: Vec<&String> = all_modes.iter().collect();
    if choice.is_some() {
        to_check.extend(variants.iter().map(|(v, _, _)| v));
    }
    for m in to_check {
        let mut params = BTreeMap::new();
        if !single {
            params.insert("mode".to_owned(), m.clone());
        }
        if let Err(errs) = Filter::from_toml(name, &out_name, &t, &params) {
            for e in errs {
                ctx.report(
                    Diagnostic::error(
                        &file,
                        None,
                        format!("the imported filter does not compile: {e}"),
                    )
                    .key("failregex"),
                );
            }
            return None;
        }
    }
    Some(t)
}

/// The filter's `datepattern` as `%(date)s` (fail2ban's default date shapes without
/// one), with a warning for each template that cannot be placed at the start of MESSAGE.
fn date_var(
    ctx: &mut Ctx,
    opts: &BTreeMap<String, &'static str>,
    mode: Option<(&str, &str)>,
) -> DateVar {
    let mut params = BTreeMap::new();
    if let Some((p, m)) = mode {
        params.insert(p.to_owned(), m.to_owned());
    }
    params.insert("logtype".to_owned(), "journal".to_owned());
    let raws = raw_patterns(ctx, opts, &params, "datepattern").unwrap_or_default();
    if raws.is_empty() {
        return datepattern::default_var();
    }
    let texts: Vec<String> = raws.iter().map(|r| r.text.clone()).collect();
    let v = datepattern::translate(&texts);
    for (t, why) in &v.unplaced {
        let r = raws.iter().find(|r| r.text.trim() == t).unwrap_or(&raws[0]);
        ctx.report(
            Diagnostic::error(&r.file, Some(r.line), format!("template {t:?} not carried over: {why}"))
                .key("datepattern")
                .warning()
                .hint("lines dated this way match only if the date is not in MESSAGE (the journal's own time is used); check with `banjo test-filter`"),
        );
    }
    v
}

fn lookup_int<'c>(cfg: &'c Config, key: &str) -> Option<(u64, &'c ini::Value)> {
    let v = cfg
        .get("Init", key)
        .or_else(|| cfg.lookup("Definition", key))?;
    Some((v.text().trim().parse().ok()?, v))
}

fn journalmatch(ctx: &mut Ctx, opts: &BTreeMap<String, &'static str>) -> Option<String> {
    let cfg = ctx.cfg;
    let sec = opts.get("journalmatch")?;
    let v = cfg.lookup(sec, "journalmatch")?;
    let params = BTreeMap::from([("logtype".to_owned(), "journal".to_owned())]);
    let text = cfg
        .interpolate(&v.text(), sec, Some(("journalmatch", v)), 0)
        .and_then(|s| substitute(cfg, opts, &params, &s));
    let report = |ctx: &mut Ctx, d: Diagnostic| ctx.report(d.key("journalmatch"));
    match text {
        Err(e) => {
            report(ctx, Diagnostic::error(&v.file, Some(v.line()), e));
            None
        }
        Ok(s) => {
            let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
            if s.is_empty() {
                return None;
            }
            if let Err(e) = crate::route::MatchRules::parse(&[s.as_str()]) {
                report(
                    ctx,
                    Diagnostic::error(&v.file, Some(v.line()), format!("left out: {e}")),
                );
                return None;
            }
            if s.contains("SYSLOG_IDENTIFIER=") {
                report(
                    ctx,
                    Diagnostic::error(&v.file, Some(v.line()), "matches on SYSLOG_IDENTIFIER, which any local user can set (`logger -t NAME`)")
                        .warning()
                        .hint("route on fields no local user can forge: _SYSTEMD_UNIT=….service, _UID=0 or _EXE=… (SYSLOG_IDENTIFIER and _COMM can be set by anyone)"),
                );
            }
            Some(s)
        }
    }
}

/// A key's patterns after interpolation and substitution, one per line, each with the
/// file and line it was written on: a line that is only a reference (`%(cmnfailre)s`,
/// `<mdre-<mode>>`) stands for the referenced value's lines, followed to where they are.
fn raw_patterns(
    ctx: &mut Ctx,
    opts: &BTreeMap<String, &'static str>,
    params: &BTreeMap<String, String>,
    key: &'static str,
) -> Option<Vec<Raw>> {
    let cfg = ctx.cfg;
    let Some(sec) = opts.get(key) else {
        return Some(Vec::new());
    };
    let Some(v) = cfg.lookup(sec, key) else {
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    let before = ctx.diags.iter().filter(|d| d.is_error()).count();
    expand_value(ctx, opts, params, key, (sec, key, v), &mut out, 0);
    let failed = ctx.diags.iter().filter(|d| d.is_error()).count() > before;
    (!failed).then_some(out)
}

fn expand_value(
    ctx: &mut Ctx,
    opts: &BTreeMap<String, &'static str>,
    params: &BTreeMap<String, String>,
    key: &'static str,
    (sec, name, v): (&str, &str, &ini::Value),
    out: &mut Vec<Raw>,
    depth: usize,
) {
    let cfg = ctx.cfg;
    for l in v.lines.iter().filter(|l| !l.text.trim().is_empty()) {
        let t = l.text.trim();
        if depth < 20 {
            if let Some((s2, k2, v2)) = whole_reference(cfg, opts, params, sec, t) {
                expand_value(ctx, opts, params, key, (&s2, &k2, v2), out, depth + 1);
                continue;
            }
        }
        let text = cfg
            .interpolate(t, sec, Some((name, v)), 0)
            .and_then(|s| substitute(cfg, opts, params, &s));
        match text {
            Ok(s) => {
                for p in s.lines().map(str::trim).filter(|p| !p.is_empty()) {
                    out.push(Raw {
                        text: p.to_owned(),
                        file: v.file.clone(),
                        line: l.line,
                        key,
                    });
                }
            }
            Err(e) => {
                ctx.report(Diagnostic::error(&v.file, Some(l.line), e).key(key));
            }
        }
    }
}

/// `%(name)s` or `<name>` (parameters such as `<mode>` inside applied) standing alone on
/// a line: the value it names, with its section and key.
fn whole_reference<'c>(
    cfg: &'c Config,
    opts: &BTreeMap<String, &'static str>,
    params: &BTreeMap<String, String>,
    sec: &str,
    t: &str,
) -> Option<(String, String, &'c ini::Value)> {
    if let Some(inner) = t.strip_prefix("%(").and_then(|r| r.strip_suffix(")s")) {
        if inner.contains([')', '%']) {
            return None;
        }
        let name = inner.to_ascii_lowercase();
        let (s, k) = match name.split_once('/') {
            Some(("known", _)) => return None,
            Some((s, k)) => (s.to_owned(), k.to_owned()),
            None => (sec.to_owned(), name),
        };
        let s = if s.eq_ignore_ascii_case("default") {
            "DEFAULT".to_owned()
        } else {
            s
        };
        let v = cfg.lookup(&s, &k)?;
        let s = if cfg.get(&s, &k).is_some() {
            s
        } else {
            "DEFAULT".to_owned()
        };
        return Some((s, k, v));
    }
    let inner = t.strip_prefix('<')?.strip_suffix('>')?;
    let mut name = inner.to_owned();
    for (p, val) in params {
        name = name.replace(&format!("<{p}>"), val);
    }
    if name.contains(['<', '>', ' ']) || params.contains_key(&name) {
        return None;
    }
    let s = *opts.get(&name)?;
    let v = cfg.lookup(s, &name)?;
    Some((s.to_owned(), name, v))
}

/// `prefregex` split around its `<F-CONTENT>…</F-CONTENT>`.
struct Prefregex {
    before: String,
    content: String,
    after: String,
    mlfid: bool,
    /// What `<F-MLFID>` holds once the syslog prefix is gone (sendmail's queue id).
    mlfid_text: String,
}

impl Prefregex {
    fn parse(text: &str) -> Result<Prefregex, String> {
        let mlfid = text.contains("<F-MLFID>");
        let inside = text
            .split_once("<F-MLFID>")
            .and_then(|(_, r)| r.split_once("</F-MLFID>"))
            .map(|(m, _)| m.to_owned())
            .unwrap_or_default();
        // What <F-MLFID> covers past the emptied syslog prefix is message text
        // (sendmail's queue id): it stays an <F-MLFID>, which banjo joins to _PID.
        let (prefix, mlfid_text) = match inside.rfind(SOLARIS_MSGID) {
            Some(i) => inside.split_at(i + SOLARIS_MSGID.len()),
            None => ("", inside.as_str()),
        };
        let t = if mlfid_text.is_empty() {
            text.replace("<F-MLFID>", "").replace("</F-MLFID>", "")
        } else {
            text.replace(
                &format!("<F-MLFID>{inside}</F-MLFID>"),
                &format!("{prefix}<F-MLFID>{mlfid_text}</F-MLFID>"),
            )
        };
        let mlfid_text = mlfid_text.to_owned();
        let (before, rest) = t
            .split_once("<F-CONTENT>")
            .ok_or("prefregex has no <F-CONTENT>: cannot tell where failregex applies")?;
        let (content, after) = rest
            .split_once("</F-CONTENT>")
            .ok_or("prefregex has <F-CONTENT> without </F-CONTENT>")?;
        Ok(Prefregex {
            before: before.to_owned(),
            content: content.to_owned(),
            after: after.to_owned(),
            mlfid,
            mlfid_text,
        })
    }

    /// Compose: fail2ban matches prefregex on the line, then searches each failregex in
    /// what `<F-CONTENT>` captured. One pattern does both: the prefix, then the
    /// failregex anchored where the content starts (or searched from there if it was
    /// not anchored), with the content's own shape checked ahead when it is more than
    /// "anything".
    fn compose(&self, body: &str) -> (String, Vec<String>) {
        let mut notes = Vec::new();
        let mut out = self.before.clone();
        let trivial = matches!(self.content.as_str(), ".+" | ".*" | ".+?" | ".*?");
        let after_is_end = matches!(self.after.as_str(), "$" | "");
        if !trivial || !after_is_end {
            out.push_str(&format!("(?=(?:{}){})", self.content, self.after));
        }
        if !after_is_end {
            notes.push(format!(
                "prefregex text after </F-CONTENT> ({}) is checked ahead; the failregex itself may run into it",
                self.after
            ));
        }
        out.push_str(&body_from_content(body));
        (out, notes)
    }
}

/// A failregex as searched in fail2ban's content: its top-level alternatives each
/// anchored at the content's start (`^` dropped) or, without `^`, searched (`.*?`).
fn body_from_content(re: &str) -> String {
    let alts = split_top_level(re);
    let parts: Vec<String> = alts
        .iter()
        .map(|a| match a.strip_prefix('^') {
            Some(r) => r.to_owned(),
            None => format!(".*?{a}"),
        })
        .collect();
    if parts.len() == 1 {
        format!("(?:{})", parts[0])
    } else {
        format!("(?:{})", parts.join("|"))
    }
}

/// `(?P<host>…)` (up to its closing parenthesis) replaced by `<HOST>`, if present.
fn host_group_to_tag(p: &str) -> Option<String> {
    let start = p.find("(?P<host>")?;
    let mut depth = 0usize;
    let mut escaped = false;
    for (i, c) in p[start..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    let end = start + i + 1;
                    return Some(format!("{}<HOST>{}", &p[..start], &p[end..]));
                }
            }
            _ => {}
        }
    }
    None
}

fn translate_pattern(
    r: &Raw,
    pref: Option<&Prefregex>,
    id_field: bool,
    date: &DateVar,
    tag_names: &[String],
) -> Result<Out, String> {
    let origin = format!(
        "{}:{}",
        Path::new(&r.file)
            .file_name()
            .map_or(r.file.clone(), |n| n.to_string_lossy().into_owned()),
        r.line
    );
    let mut notes = Vec::new();
    let mut p = r.text.clone();
    if p.contains("<SKIPLINES>") {
        return Err("<SKIPLINES> matches across several lines; banjo matches one journal entry (set id_field and use <F-NOFAIL> to carry an address between entries)".into());
    }
    // `^.*\n` first (guacamole's catalina log: the line before, whatever it holds):
    // fail2ban's buffer of `maxlines` lines; the line this is about is the last.
    if let Some(rest) = p.strip_prefix(r"^.*\n") {
        if !rest.contains(r"\n") {
            p = format!("^{rest}");
            notes.push(
                r"`^.*\n` (any line before) dropped: banjo matches the last line alone".into(),
            );
        }
    }
    // fail2ban's multi-line bookkeeping tags.
    if p.contains("<F-MLFFORGET>") {
        let success = p.contains("<F-MLFGAINED>") || p.contains("<F-NOFAIL>");
        if success {
            p = p
                .replace("<F-MLFFORGET>", "<F-MLFORGET>")
                .replace("</F-MLFFORGET>", "</F-MLFORGET>");
        } else {
            // A failure that also ends the connection: banjo's <F-MLFORGET> would not
            // count it, so the failure is kept and the memory expires on its own.
            p = p.replace("<F-MLFFORGET>", "").replace("</F-MLFFORGET>", "");
            notes.push("<F-MLFFORGET> on a failure dropped: the failure counts; the connection's remembered address expires after correlation_window".into());
        }
    }
    for tag in ["F-MLFGAINED", "F-MLFID"] {
        p = p
            .replace(&format!("<{tag}>"), "")
            .replace(&format!("</{tag}>"), "");
    }
    for tag in ["F-ID", "F-TUPLE"] {
        if p.contains(&format!("<{tag}")) {
            p = strip_tag_family(&p, tag);
            notes.push(format!(
                "<{tag}…> dropped: banjo counts failures per address"
            ));
        }
    }
    // fail2ban names `<F-USER>`'s group `user`; banjo names it `f_user`.
    p = rename_backrefs(&p);
    // fail2ban 0.8's own spelling of <HOST> (its <HOST> was `(?P<host>\S+)`); old
    // hand-written filters use the group directly (seed 003's dovecot.conf).
    if let Some(q) = host_group_to_tag(&p) {
        notes.push("(?P<host>…) written as <HOST> (fail2ban 0.8's host group): banjo's <HOST> takes an address only".into());
        p = q;
    }
    if let Some(name) = unresolved_tag(&p) {
        return Err(format!(
            "<{name}> is not defined in this filter (or its includes)"
        ));
    }
    if let Some(pref) = pref {
        let (c, n) = pref.compose(&p);
        p = c;
        notes.extend(n);
    }
    // What is left of a bracketed date fail2ban cut out (`[]`, common.conf's
    // __date_ambit, Apache's error log): the date is still in MESSAGE.
    // Optional: the same service logging to syslog writes no date at all.
    if p.contains(r"\[\]") {
        p = p
            .replace(r"\[\]\s", r"(?:\[[^\]]*\]\s)?")
            .replace(r"\[\]", r"(?:\[[^\]]*\])?");
        notes.push(
            r"`\[\]` (where fail2ban had cut a bracketed date) takes the date, or nothing (syslog): `(?:\[[^\]]*\])?`"
                .into(),
        );
    }
    // fail2ban cut a date at the start of the line before matching; a service that
    // writes its own (nginx's error_log, Python's logging) keeps it in MESSAGE.
    if let Some(r) = p.strip_prefix('^') {
        let r = r.strip_prefix("%(date)s").unwrap_or(r);
        // A prefregex and its failregex may both anchor (`^…^(?:…)`): one is enough.
        let r = r.trim_start_matches('^');
        // fail2ban's text went on with the blank that followed the date it cut; MESSAGE
        // starts at the word (and %(date)s takes the blanks after a date it finds).
        let r = match datepattern::after_separator(r) {
            Some(d) => {
                notes.push("the blank fail2ban left after the date it cut is taken away: MESSAGE starts at the word".into());
                d
            }
            None => r.to_owned(),
        };
        // The program's tag where MESSAGE starts (sogo's `sogod [pid]: `): in fields.
        let r = match syslogtag::optional_leading_tag(&r, tag_names) {
            Some(t) => {
                notes.push("the program's tag at the start is optional: the journal keeps it in SYSLOG_IDENTIFIER and _PID".into());
                t
            }
            None => r,
        };
        p = format!("^%(date)s{r}");
    }
    if date.in_audit {
        if let Some(q) = datepattern::put_back_audit_epoch(&p) {
            p = q;
            notes.push("the epoch fail2ban cut from `audit(EPOCH:serial)` is taken there".into());
        }
    }
    // fail2ban's <HOST> takes `[192.0.2.1]` as well (asterisk's `(TCP:[…]:port)`).
    if let Some(q) = syslogtag::bracketed_hosts(&p) {
        p = q;
    }
    if r.key == "failregex" && !HOST_TAGS.iter().any(|t| p.contains(t)) && !id_field {
        return Err("no <HOST>: fail2ban took the address from another line; banjo needs <HOST> or id_field".into());
    }
    if r.key == "failregex" {
        notes.extend(anchoring(&p));
    }
    // Each pattern must compile on its own (the filter is compiled whole at the end).
    let probe = format!(
        "id_field = \"_PID\"\nfailregex = [{}]\n[vars]\ndate = {}\n",
        toml_str(&p),
        toml_str(&date.regex)
    );
    let probe_params = BTreeMap::new();
    if let Err(errs) = Filter::from_toml("import", &origin, &probe, &probe_params) {
        let msgs: Vec<String> = errs.iter().map(|e| e.message.clone()).collect();
        return Err(msgs.join("; "));
    }
    Ok(Out {
        text: p,
        origin,
        file: r.file.clone(),
        line: r.line,
        notes,
    })
}

/// Notes on a translated pattern that mean it matches or counts differently from
/// fail2ban (others: anchoring, reported once per filter; exact rewrites).
fn behaves_differently(note: &str) -> bool {
    note.starts_with("<F-") || note.starts_with("prefregex text after")
}

/// `(?P=user)` referring to a `<F-USER>` group -> `(?P=f_user)` (banjo's group name).
fn rename_backrefs(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut rest = p;
    while let Some(i) = rest.find("(?P=") {
        out.push_str(&rest[..i + 4]);
        rest = &rest[i + 4..];
        if let Some(e) = rest.find(')') {
            let name = &rest[..e];
            let tag = format!("<F-{}>", name.to_ascii_uppercase());
            if p.contains(&tag) && !p.contains(&format!("(?P<{name}>")) {
                out.push_str("f_");
            }
        }
    }
    out.push_str(rest);
    out
}

/// The security stance of banjo's built-ins: anchored, nothing that can swallow
/// attacker text before the address.
fn anchoring(p: &str) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(tag) = syslog_tag_lead(p) {
        notes.push(format!(
            "starts with `{tag}`, likely the syslog tag: the journal keeps that in SYSLOG_IDENTIFIER/_COMM, not in MESSAGE, so this may never match; drop it here and route with journalmatch = [\"_UID=0 _COMM={tag}\"] (root daemons) or _SYSTEMD_UNIT=… _EXE=…"
        ));
    }
    if !p.starts_with('^') {
        notes.push("UNANCHORED: no ^ at the start, so the pattern may match inside text a client controls (a user name, a URL)".into());
    }
    let host_at = HOST_TAGS.iter().filter_map(|t| p.find(t)).min();
    if let Some(at) = host_at {
        let before = &p[..at];
        if [".*", ".+"].iter().any(|w| before.contains(w)) {
            notes.push("UNANCHORED: `.*`/`.+` before <HOST> can skip over client text, so a user name like `x from 192.0.2.1` could supply the address".into());
        }
    }
    notes
}

/// A hand-written filter's habit: `qpopper.* …` or `in.qpopper.* …` — an unanchored
/// pattern led by a program name then `.*`, `[` or `:`. fail2ban saw the syslog line
/// with its tag; the journal's MESSAGE has no tag.
fn syslog_tag_lead(p: &str) -> Option<&str> {
    if p.starts_with('^') {
        return None;
    }
    let end = p
        .find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
        .unwrap_or(p.len());
    let word = p[..end].trim_end_matches('.');
    let rest = &p[word.len()..];
    let plausible = word.len() >= 3 && word.starts_with(|c: char| c.is_ascii_alphabetic());
    let followed = [".*", r"\[", "[", ":", r"\("]
        .iter()
        .any(|f| rest.starts_with(f));
    (plausible && followed).then_some(word)
}

/// Remove `<TAG…>` and `</TAG…>` markers of a family (`F-TUPLE_x`), keeping the text.
fn strip_tag_family(p: &str, tag: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut rest = p;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let name = after.strip_prefix('/').unwrap_or(after);
        if name.starts_with(tag) {
            if let Some(e) = after.find('>') {
                let n = &name[tag.len()..name.len().min(e)];
                if n.is_empty() || n.starts_with('_') || n.starts_with('>') {
                    rest = &after[e + 1..];
                    continue;
                }
            }
        }
        out.push('<');
        rest = after;
    }
    out.push_str(rest);
    out
}

/// A `<name>` left after substitution that looks like an option reference (lower-case,
/// `-`, `_`, `/`): fail2ban would leave it as literal text that never matches.
fn unresolved_tag(p: &str) -> Option<String> {
    let mut rest = p;
    let mut prev = "";
    while let Some(i) = rest.find('<') {
        let lead = format!("{prev}{}", &rest[..i]);
        let after = &rest[i + 1..];
        prev = "";
        if let Some(e) = after.find('>') {
            let name = &after[..e];
            let escaped = lead.ends_with('\\')
                || lead.ends_with("(?P")
                || lead.ends_with("(?")
                || lead.ends_with("(?<=")
                || lead.ends_with("(?<!")
                || lead.ends_with("\\k")
                || lead.ends_with("\\g");
            let key_like = !name.is_empty()
                && name
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_/".contains(&b));
            if key_like && !escaped {
                return Some(name.to_owned());
            }
        }
        rest = after;
    }
    None
}

/// Patterns of a switch's values apart from the modes', when they factor that way:
/// every variant `MODE,P=V` is (after the common patterns) the value's block, the same
/// in every mode, then the mode's rest, the same for every value; ignoreregex do not
/// depend on the value. Returns (value, block) and (mode, rest, ignore rest).
#[allow(clippy::type_complexity)]
fn switch_parts<'a>(
    per_mode: &'a [(String, Vec<Out>, Vec<Out>)],
    modes: &[String],
    p: &str,
    values: &[String],
    common_fail: usize,
    common_ignore: usize,
) -> Option<(
    Vec<(String, &'a [Out])>,
    Vec<(String, &'a [Out], &'a [Out])>,
)> {
    let get = |m: &str, v: &str| {
        let n = format!("{m},{p}={v}");
        per_mode.iter().find(|x| x.0 == n)
    };
    let same =
        |a: &[Out], b: &[Out]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.text == y.text);
    let mut blocks: Vec<(String, &[Out])> = Vec::new();
    let mut rests = Vec::new();
    for m in modes {
        let lists: Vec<&(String, Vec<Out>, Vec<Out>)> =
            values.iter().map(|v| get(m, v)).collect::<Option<_>>()?;
        // The rest of this mode: what all its values end with.
        let tails: Vec<&[Out]> = lists.iter().map(|l| &l.1[common_fail..]).collect();
        let mut suf = tails.iter().map(|t| t.len()).min()?;
        for t in &tails {
            let n = t
                .iter()
                .rev()
                .zip(tails[0].iter().rev())
                .take_while(|(a, b)| a.text == b.text)
                .count();
            suf = suf.min(n);
        }
        for (i, v) in values.iter().enumerate() {
            let block = &tails[i][..tails[i].len() - suf];
            match blocks.iter().find(|(x, _)| x == v) {
                Some((_, b)) if !same(b, block) => return None,
                Some(_) => {}
                None => blocks.push((v.clone(), block)),
            }
            if !same(&lists[i].2[common_ignore..], &lists[0].2[common_ignore..]) {
                return None;
            }
        }
        let t0 = tails[0];
        rests.push((
            m.clone(),
            &t0[t0.len() - suf..],
            &lists[0].2[common_ignore..],
        ));
    }
    Some((blocks, rests))
}

fn common_prefix<'a>(mut lists: impl Iterator<Item = &'a [Out]>) -> usize {
    let Some(first) = lists.next() else { return 0 };
    let mut n = first.len();
    for l in lists {
        n = n.min(
            first
                .iter()
                .zip(l)
                .take_while(|(a, b)| a.text == b.text)
                .count(),
        );
    }
    n
}

fn write_list(t: &mut String, key: &str, list: &[Out]) {
    if list.is_empty() {
        return;
    }
    t.push_str(&format!("{key} = [\n"));
    for o in list {
        t.push_str(&format!("    # {}\n", o.origin));
        for n in &o.notes {
            t.push_str(&format!("    # {n}\n"));
        }
        t.push_str(&format!("    {},\n", toml_str(&o.text)));
    }
    t.push_str("]\n");
}

/// A TOML string: literal ('…') when it can be, so a regex reads as written.
fn toml_str(s: &str) -> String {
    if !s.contains('\'') && !s.contains('\n') && !s.chars().any(char::is_control) {
        return format!("'{s}'");
    }
    toml::Value::String(s.to_owned()).to_string()
}

fn toml_key(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        s.to_owned()
    } else {
        toml_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail2ban_08_host_group_becomes_the_host_tag() {
        assert_eq!(
            host_group_to_tag(r"rip=(?P<host>\S*),.*").as_deref(),
            Some("rip=<HOST>,.*")
        );
        assert_eq!(
            host_group_to_tag(r"a (?P<host>(?:\d+\.){3}\d+\)?) b").as_deref(),
            Some("a <HOST> b")
        );
        assert_eq!(host_group_to_tag("no group"), None);
    }

    #[test]
    fn top_level_alternatives() {
        assert_eq!(
            split_top_level(r"^a|(b|c)|[|]x"),
            vec!["^a", "(b|c)", "[|]x"]
        );
        assert_eq!(body_from_content("^a|b"), "(?:a|.*?b)");
        assert_eq!(body_from_content("^x (y|z)$"), "(?:x (y|z)$)");
        assert_eq!(
            split_top_level(r"^u <F-USER>\S+|.*?</F-USER> <HOST>|^v"),
            vec![r"^u <F-USER>\S+|.*?</F-USER> <HOST>", "^v"]
        );
    }

    #[test]
    fn tags_left_unresolved_are_found() {
        assert_eq!(
            unresolved_tag("^a <mdre-extra> <HOST>"),
            Some("mdre-extra".into())
        );
        assert_eq!(
            unresolved_tag(r"^(?P<cond_inv>x)(?(cond_inv)a|b) <HOST> \<x>"),
            None
        );
        assert_eq!(unresolved_tag("^<F-USER>x</F-USER> <HOST>"), None);
    }

    #[test]
    fn syslog_tags_leading_a_pattern() {
        assert_eq!(
            syslog_tag_lead(r"in.qpopper.* authentication failure.* tty=<HOST>"),
            Some("in.qpopper")
        );
        assert_eq!(
            syslog_tag_lead(r"qpopper.* \(<HOST>\):.* Password supplied.*"),
            Some("qpopper")
        );
        assert_eq!(syslog_tag_lead(r".*\[UFW BLOCK\].* SRC=<HOST>"), None);
        assert_eq!(syslog_tag_lead(r"^sshd: x <HOST>"), None);
        assert_eq!(syslog_tag_lead(r"Failed login from <HOST>"), None);
    }

    #[test]
    fn backrefs_to_field_tags() {
        assert_eq!(
            rename_backrefs("<F-USER>x</F-USER> (?P=user) (?P<a>b)(?P=a)"),
            "<F-USER>x</F-USER> (?P=f_user) (?P<a>b)(?P=a)"
        );
    }

    #[test]
    fn tuple_tags_are_stripped() {
        assert_eq!(
            strip_tag_family("<F-TUPLE_a>x</F-TUPLE_a> <F-TUPLEX>", "F-TUPLE"),
            "x <F-TUPLEX>"
        );
        assert_eq!(
            strip_tag_family("<F-ID>x</F-ID><F-IDX>", "F-ID"),
            "x<F-IDX>"
        );
    }

    fn import_text(files: &[(&str, &str)], main: &str) -> Import {
        let dir = tempfile::tempdir().unwrap();
        for (n, t) in files {
            std::fs::write(dir.path().join(n), t).unwrap();
        }
        import(&dir.path().join(main))
    }

    #[test]
    fn modes_prefregex_and_notes() {
        let common = "[DEFAULT]\n__prefix_line = \\S+ \\S+\\[\\d+\\]: \n";
        let f = "[INCLUDES]\nbefore = common.conf\n[Definition]\nmode = normal\n\
                 prefregex = ^<F-MLFID>%(__prefix_line)s</F-MLFID>(?:error: )?<F-CONTENT>.+</F-CONTENT>$\n\
                 cmn = ^Failed for \\S+ from <HOST>$\n\
                 mdre-normal =\n\
                 mdre-aggressive = ^Probe from <HOST>\n\
                 \x20   Bye <F-MLFFORGET>now</F-MLFFORGET> <HOST>\n\
                 failregex = %(cmn)s\n\
                 \x20           <mdre-<mode>>\n\
                 \x20           ^<F-NOFAIL>Accepted</F-NOFAIL> <F-MLFFORGET>x</F-MLFFORGET> <HOST>\n\
                 datepattern = {^LN-BEG}\n\
                 [Init]\njournalmatch = _SYSTEMD_UNIT=x.service + _COMM=x\n";
        let imp = import_text(&[("common.conf", common), ("x.conf", f)], "x.conf");
        let toml = imp
            .toml
            .clone()
            .unwrap_or_else(|| panic!("{:?}", imp.diagnostics));
        assert_eq!(imp.modes, vec!["aggressive", "normal"]);
        assert!(
            toml.contains(&format!(
                r"'^%(date)s{SOLARIS_MSGID}(?:error: )?(?:Failed for \S+ from \[?<HOST>\]?$)'"
            )),
            "{toml}"
        );
        assert!(toml.contains("id_field = \"_PID\""));
        assert!(toml.contains("journalmatch = ['_SYSTEMD_UNIT=x.service', '_COMM=x']"));
        assert!(
            toml.contains("<F-MLFORGET>x</F-MLFORGET>"),
            "success forgets"
        );
        assert!(
            toml.contains(r"(?:.*?Bye now \[?<HOST>\]?)"),
            "a failure's MLFFORGET is dropped, an unanchored line searched"
        );
        assert!(toml.contains("UNANCHORED"));
        // {^LN-BEG}: fail2ban's default dates, taken at the start of MESSAGE.
        assert!(toml.contains(&toml_str(&datepattern::default_var().regex)));
        // Parses as a banjo filter in both modes.
        for m in ["normal", "aggressive"] {
            let p = BTreeMap::from([("mode".to_owned(), m.to_owned())]);
            let fl = Filter::from_toml("x", "x.toml", &toml, &p).unwrap();
            assert_eq!(fl.failregex.len(), if m == "normal" { 2 } else { 4 });
        }
    }

    #[test]
    fn untranslatable_patterns_are_errors_with_line() {
        let f = "[Definition]\nfailregex = ^ok from <HOST>$\n\
                 \x20  ^a<SKIPLINES>b <HOST>$\n\
                 \x20  ^c <undefined-thing> <HOST>\n\
                 \x20  ^no host here$\n";
        let imp = import_text(&[("y.conf", f)], "y.conf");
        assert!(imp.toml.is_some());
        assert_eq!(imp.dropped, 3);
        let lines: Vec<Option<usize>> = imp
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.line)
            .collect();
        assert_eq!(lines, vec![Some(3), Some(4), Some(5)]);
        assert!(imp.diagnostics[1].message.contains("undefined-thing"));
    }

    #[test]
    fn a_switch_becomes_the_mode_of_a_filter_without_modes() {
        let f = "[Definition]\nlogging = file\npre-file = \\[\\] \npre-syslog = httpd:\n\
                 failregex = ^<pre-<logging>> denied <HOST>$\n";
        let imp = import_text(&[("w.conf", f)], "w.conf");
        let toml = imp
            .toml
            .clone()
            .unwrap_or_else(|| panic!("{:?}", imp.diagnostics));
        assert_eq!(imp.modes, vec!["file", "syslog"]);
        assert!(toml.contains("mode = 'file'"), "{toml}");
        let d = imp
            .diagnostics
            .iter()
            .find(|d| d.key.as_deref() == Some("logging"));
        assert!(
            d.is_some_and(|d| d.message.contains("becomes the filter's mode")),
            "{:?}",
            imp.diagnostics
        );
        let p = BTreeMap::from([("mode".to_owned(), "syslog".to_owned())]);
        let fl = Filter::from_toml("w", "w.toml", &toml, &p).unwrap();
        let mut e = crate::journal::Entry::default();
        e.set_message(b"httpd: denied 192.0.2.9");
        assert!(
            matches!(fl.check(&e), crate::filter::Outcome::Matched(_)),
            "{toml}"
        );
    }

    #[test]
    fn include_files_are_not_filters() {
        let imp = import_text(&[("common.conf", "[DEFAULT]\na = 1\n")], "common.conf");
        assert!(imp.not_a_filter);
        assert!(imp.toml.is_none());
    }
}
