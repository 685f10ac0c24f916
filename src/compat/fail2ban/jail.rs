//! fail2ban's whole jail configuration, read with fail2ban's own precedence, every
//! jail's keys resolved.
//!
//! What it owns: which files take part and in what order — `fail2ban.conf`,
//! `fail2ban.d/*.conf`, `fail2ban.local`, `fail2ban.d/*.local` for the server's settings
//! (dbfile, dbpurgeage); `jail.conf`, `jail.d/*.conf`, `jail.local`, `jail.d/*.local`
//! for the jails, each with its `[INCLUDES]` (the distribution's `paths-*.conf`) — and
//! the value each jail sees for each key: its own, else `[DEFAULT]`'s, `%(name)s`
//! interpolated in the jail's context (`%(port)s` inside `[DEFAULT]`'s `action_` is
//! the jail's port) with `%(__name__)s` the jail's name and `%(known/key)s` the value a
//! later file replaced. Each value keeps the file and line it was written on.
//!
//! What it must not do: decide what a key means to banjo (that is `import.rs`), or
//! read filter.d/action.d (`filter.rs`, `action.rs`). It never touches the files.

use super::ini::{self, Config, Line, Problem, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One resolved key: its text after interpolation, and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub value: String,
    pub file: String,
    pub line: usize,
}

impl Setting {
    /// `file:line`, for reports.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// A key that could not be resolved (a `%(name)s` nobody defines): where and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// One `[NAME]` section of the jail files.
#[derive(Debug, Clone)]
pub struct Jail {
    pub name: String,
    /// Where the section sets its first key in the last file that sets one (the jail's
    /// own keys; a section known only from `[DEFAULT]` has none).
    pub file: String,
    pub line: usize,
    /// Every key the jail sees (its own and `[DEFAULT]`'s), resolved.
    pub keys: BTreeMap<String, Result<Setting, Unresolved>>,
}

impl Jail {
    /// A key's resolved setting; None when unset or unresolvable.
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.keys.get(key).and_then(|r| r.as_ref().ok())
    }

    /// A key's resolved text, trimmed; None when unset, unresolvable or empty.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.get(key)
            .map(|s| s.value.trim())
            .filter(|s| !s.is_empty())
    }

    /// fail2ban's boolean spelling (true/yes/on/1, false/no/off/0); None when unset.
    pub fn flag(&self, key: &str) -> Option<Result<bool, String>> {
        let t = self.text(key)?;
        Some(parse_bool(t))
    }

    /// `enabled`, unset meaning false (jail.conf's `[DEFAULT]` says so too).
    pub fn enabled(&self) -> bool {
        matches!(self.flag("enabled"), Some(Ok(true)))
    }
}

/// fail2ban's booleans (configparser's getboolean plus fail2ban's `1`/`0`).
pub fn parse_bool(t: &str) -> Result<bool, String> {
    match t.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        other => Err(format!("{other:?} is not true or false")),
    }
}

/// Everything read from a fail2ban configuration directory.
#[derive(Debug)]
pub struct Fail2ban {
    pub dir: PathBuf,
    /// Every file read, in the order read (server files first, then the jail files).
    pub files: Vec<PathBuf>,
    /// The server's `[Definition]` keys (dbfile, dbpurgeage, loglevel…), resolved.
    pub server: BTreeMap<String, Setting>,
    /// Jails in name order.
    pub jails: Vec<Jail>,
    /// Includes that could not be read, keys that could not be resolved in the server
    /// files: not fatal.
    pub problems: Vec<Problem>,
}

/// The files of one configuration in fail2ban's order: `NAME.conf`, `NAME.d/*.conf`,
/// `NAME.local`, `NAME.d/*.local` (each `.d` list in lexical order).
pub fn chain(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut conf = Vec::new();
    let mut local = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir.join(format!("{name}.d"))) {
        let mut found: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        found.sort();
        for p in found {
            match p.extension().and_then(|e| e.to_str()) {
                Some("conf") => conf.push(p),
                Some("local") => local.push(p),
                _ => {}
            }
        }
    }
    let mut out = vec![dir.join(format!("{name}.conf"))];
    out.extend(conf);
    out.push(dir.join(format!("{name}.local")));
    out.extend(local);
    out.into_iter().filter(|p| p.is_file()).collect()
}

/// Read `dir` (usually /etc/fail2ban). Fails only when no jail file exists or one
/// cannot be parsed.
pub fn read(dir: &Path) -> Result<Fail2ban, Problem> {
    let jail_files = chain(dir, "jail");
    if jail_files.is_empty() {
        return Err(Problem {
            file: dir.join("jail.conf").display().to_string(),
            line: None,
            message: "no jail.conf, jail.local or jail.d/ here: is this a fail2ban configuration directory?".into(),
            warning: false,
        });
    }
    let mut problems = Vec::new();
    let mut files = Vec::new();

    let server_files = chain(dir, "fail2ban");
    let mut server = BTreeMap::new();
    if !server_files.is_empty() {
        let list: Vec<(PathBuf, bool)> = server_files.iter().map(|p| (p.clone(), true)).collect();
        let (cfg, mut p) = ini::load_files(&list)?;
        problems.append(&mut p);
        files.extend(cfg.files.iter().cloned());
        let keys: Vec<String> = keys_of(&cfg, "Definition");
        for k in keys {
            match resolve(&cfg, "Definition", &k) {
                Some(Ok(s)) => {
                    server.insert(k, s);
                }
                Some(Err(u)) => problems.push(Problem {
                    file: u.file,
                    line: Some(u.line),
                    message: format!("{k}: {}", u.message),
                    warning: true,
                }),
                None => {}
            }
        }
    }

    let list: Vec<(PathBuf, bool)> = jail_files.iter().map(|p| (p.clone(), true)).collect();
    let (mut cfg, mut p) = ini::load_files(&list)?;
    problems.append(&mut p);
    files.extend(cfg.files.iter().cloned());
    let names: Vec<String> = cfg
        .sections
        .keys()
        .filter(|s| *s != "DEFAULT" && *s != "INCLUDES")
        .cloned()
        .collect();
    let mut jails = Vec::new();
    for name in names {
        // Where the section's keys were written last: the file of its latest key.
        let (file, line) = cfg.sections[&name]
            .values()
            .max_by_key(|v| {
                let rank = cfg
                    .files
                    .iter()
                    .position(|f| f.display().to_string() == v.file);
                (rank, std::cmp::Reverse(v.line()))
            })
            .map(|v| (v.file.clone(), v.line()))
            .unwrap_or_default();
        // configparser's `__name__`: the section's own name, for `%(__name__)s`.
        cfg.sections.get_mut(&name).expect("listed").insert(
            "__name__".into(),
            Value {
                file: "<section name>".into(),
                lines: vec![Line {
                    text: name.clone(),
                    line: 0,
                }],
                known: None,
            },
        );
        let mut keys = BTreeMap::new();
        for k in keys_of(&cfg, &name) {
            if k == "__name__" {
                continue;
            }
            if let Some(r) = resolve(&cfg, &name, &k) {
                keys.insert(k, r);
            }
        }
        jails.push(Jail {
            name,
            file,
            line,
            keys,
        });
    }
    Ok(Fail2ban {
        dir: dir.to_owned(),
        files,
        server,
        jails,
        problems,
    })
}

/// Keys visible from `section`: its own and `[DEFAULT]`'s.
fn keys_of(cfg: &Config, section: &str) -> Vec<String> {
    let mut keys: Vec<String> = cfg
        .sections
        .get(section)
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(d) = cfg.sections.get("DEFAULT") {
        keys.extend(d.keys().cloned());
    }
    keys.sort();
    keys.dedup();
    keys
}

/// One key of `section`, interpolated; None when unset.
fn resolve(cfg: &Config, section: &str, key: &str) -> Option<Result<Setting, Unresolved>> {
    let v = cfg.lookup(section, key)?;
    let (file, line) = (v.file.clone(), v.line());
    Some(match cfg.resolved_lines(section, key) {
        Ok(lines) => Ok(Setting {
            value: lines
                .into_iter()
                .map(|(t, _)| t)
                .collect::<Vec<_>>()
                .join("\n"),
            file,
            line,
        }),
        Err((line, message)) => Err(Unresolved {
            file,
            line,
            message,
        }),
    })
}

/// fail2ban's `name[opt=value, opt2="quoted, with commas"]` (an action or filter
/// reference): the name and its options in order. Quotes (" or ') around a value are
/// removed; a comma inside quotes or nested brackets does not split.
pub fn split_options(text: &str) -> Result<(String, Vec<(String, String)>), String> {
    let text = text.trim();
    let Some(open) = text.find('[') else {
        return Ok((text.to_owned(), Vec::new()));
    };
    let inner = text[open + 1..]
        .strip_suffix(']')
        .ok_or_else(|| format!("{text:?}: no closing ]"))?;
    let mut opts = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut parts = Vec::new();
    for c in inner.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '[') => {
                depth += 1;
                cur.push(c);
            }
            (None, ']') => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            (None, ',') if depth == 0 => parts.push(std::mem::take(&mut cur)),
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err(format!("{text:?}: unclosed quote"));
    }
    parts.push(cur);
    for p in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("{text:?}: option {p:?} is not name=value"))?;
        let v = v.trim();
        let v = ['"', '\'']
            .iter()
            .find_map(|q| v.strip_prefix(*q).and_then(|r| r.strip_suffix(*q)))
            .unwrap_or(v);
        opts.push((k.trim().to_owned(), v.to_owned()));
    }
    Ok((text[..open].trim().to_owned(), opts))
}

/// The references in an `action` value: one per line, or several on a line separated
/// by white space outside brackets and quotes (fail2ban's splitWithOptions).
pub fn split_actions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') if depth > 0 => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '[') => {
                depth += 1;
                cur.push(c);
            }
            (None, ']') => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            (None, c) if c.is_whitespace() && depth == 0 => {
                if !cur.trim().is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                cur.clear();
            }
            (None, c) => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn precedence_conf_d_local_d_local() {
        let d = tempfile::tempdir().unwrap();
        let d = d.path();
        write(
            d,
            "paths-test.conf",
            "[DEFAULT]\nsshd_log = /var/log/auth.log\nsshd_backend = auto\n",
        );
        write(
            d,
            "jail.conf",
            "[INCLUDES]\nbefore = paths-test.conf\n[DEFAULT]\nbantime = 10m\nmaxretry = 5\nport = 0:65535\nprotocol = tcp\nbanaction = iptables-multiport\naction_ = %(banaction)s[port=\"%(port)s\", protocol=\"%(protocol)s\"]\naction = %(action_)s\nfilter = %(__name__)s[mode=%(mode)s]\nmode = normal\n[sshd]\nport = ssh\nlogpath = %(sshd_log)s\nbackend = %(sshd_backend)s\n[postfix]\nmode = more\nport = smtp\n",
        );
        write(d, "jail.d/a.conf", "[sshd]\nenabled = true\nmaxretry = 4\n");
        write(d, "jail.local", "[DEFAULT]\nbantime = 1h\nmaxretry = 3\n[sshd]\nmaxretry = 2\nport = %(known/port)s,2222\n");
        write(d, "jail.d/z.local", "[postfix]\nenabled = yes\n");
        let f = read(d).unwrap();
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        let sshd = f.jails.iter().find(|j| j.name == "sshd").unwrap();
        assert!(sshd.enabled());
        // jail.local's [sshd] beats jail.d/a.conf's; its [DEFAULT] beats jail.conf's.
        assert_eq!(sshd.text("maxretry"), Some("2"));
        assert!(sshd.get("maxretry").unwrap().file.ends_with("jail.local"));
        assert_eq!(sshd.get("maxretry").unwrap().line, 5);
        assert_eq!(sshd.text("bantime"), Some("1h"));
        assert_eq!(sshd.text("port"), Some("ssh,2222"));
        assert_eq!(sshd.text("logpath"), Some("/var/log/auth.log"));
        assert_eq!(sshd.text("filter"), Some("sshd[mode=normal]"));
        // [DEFAULT]'s action_ sees the jail's own port.
        assert_eq!(
            sshd.text("action"),
            Some("iptables-multiport[port=\"ssh,2222\", protocol=\"tcp\"]")
        );
        let postfix = f.jails.iter().find(|j| j.name == "postfix").unwrap();
        assert!(postfix.enabled());
        assert_eq!(postfix.text("filter"), Some("postfix[mode=more]"));
        assert_eq!(postfix.text("maxretry"), Some("3"));
        assert!(postfix.file.ends_with("z.local"));
    }

    #[test]
    fn server_settings_and_unresolvable_keys() {
        let d = tempfile::tempdir().unwrap();
        let d = d.path();
        write(
            d,
            "fail2ban.conf",
            "[Definition]\ndbfile = /var/lib/fail2ban/fail2ban.sqlite3\ndbpurgeage = 1d\n",
        );
        write(d, "fail2ban.d/x.local", "[Definition]\ndbpurgeage = 8d\n");
        write(
            d,
            "jail.local",
            "[DEFAULT]\naction = %(nosuch)s\n[a]\nenabled = maybe\n",
        );
        let f = read(d).unwrap();
        assert_eq!(f.server["dbpurgeage"].value, "8d");
        let a = &f.jails[0];
        assert!(a.flag("enabled").unwrap().is_err());
        let e = a.keys["action"].as_ref().unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("nosuch"), "{e:?}");
    }

    #[test]
    fn no_jail_files_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        assert!(read(d.path()).is_err());
    }

    #[test]
    fn options_and_action_lists() {
        let (n, o) = split_options("iptables[port=\"ssh,2222\", name=sshd, x='a]b']").unwrap();
        assert_eq!(n, "iptables");
        assert_eq!(
            o,
            vec![
                ("port".into(), "ssh,2222".into()),
                ("name".into(), "sshd".into()),
                ("x".into(), "a]b".into())
            ]
        );
        assert!(split_options("x[a=\"b]").is_err());
        let a = split_actions("iptables-multiport[port=\"a, b\"]\nsendmail-whois[dest=\"r@x\", sender=\"f b\"] abuseipdb");
        assert_eq!(a.len(), 3, "{a:?}");
        assert_eq!(a[2], "abuseipdb");
    }
}
