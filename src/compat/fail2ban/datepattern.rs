//! fail2ban's `datepattern` (and the date it cut from a line before matching) in
//! imported patterns.
//!
//! fail2ban finds a date in each line (a filter's `datepattern`, or its default
//! templates), removes what the template's first group covered (the whole template when
//! it has none) and matches failregex on the rest: `line[..start] + line[end..]`. banjo's
//! MESSAGE has no syslog date (the journal gives it as a field), but a service that writes
//! its own date into the message, or a log-file line, still has one. An imported pattern
//! therefore starts with `%(date)s`: an optional match of the same templates, translated
//! here from fail2ban's `%`-codes into a regex of digits, month names and punctuation only
//! (so it can never take in an address a client wrote). What is cut from the *middle* of
//! a line cannot be expressed this way except in the one shape fail2ban's epoch template
//! has there (SELinux's `audit(EPOCH:serial)`); such templates are reported.
//!
//! [`after_separator`] is the other half of the cut: fail2ban's text after a date keeps
//! the blank that followed it (` login authenticator failed…`), and patterns were written
//! for that; banjo's MESSAGE starts at the word. A pattern's leading blank is taken away
//! the way a regex derivative does it, only where that is exact.
//!
//! Owns the translation only; it does not read dates or times (log-file sources do).

/// Dates of fail2ban's default template set, as banjo writes them: ISO 8601-like
/// (`2013-01-04 17:03:46`, `2013/01/04T17:03:46.123+02:00`), syslog's `[Sun ]Jul 28
/// 21:41:20[ 2013]` (also after a zone name: monit's `[CEST Jul 28 21:41:20]`),
/// `Jul 28 2013 21:41:20`, day-first `28-07-2013 21:41:20` and
/// `28/Jul/2013:21:41:20 +0200` (Apache), `07/28/2013:21:41:20`, `07-28-2013 21:41:20`,
/// compact `20130728 21:41:20` and `20130728T214120`, `<07/28/13@21:41:20>`, `Jul 28,
/// 2013 9:41:20 PM`, `Jul-28-13 21:41:20` and epoch seconds. Month and day names are
/// letters, everything else digits, blanks and punctuation. fail2ban's bare `21:41:20`
/// is left out: at the start of MESSAGE it could also be the start of an IPv6 address
/// (`12:34:56::1`), and a date must never take part of one.
const DEFAULT_DATES: &[&str] = &[
    r"\d{4}[-/.]\d\d?[-/.]\d\d?(?:T| {1,2})\d?\d:\d\d:\d\d(?:[.,]\d+)?(?:\s*(?:Z|UTC|GMT|[+-]\d\d(?::?\d\d)?))?",
    r"(?:[A-Z]{3,5} )?(?:[A-Za-z]{3} )?[A-Za-z]{3} [ \d]?\d (?:\d{4} )? ?\d?\d:\d\d:\d\d(?:\.\d+)?(?: \d{4})?",
    r"\d\d?[-/]\d\d?[-/](?:\d{4}|\d\d) ?\d?\d:\d\d:\d\d(?:\.\d+)?",
    r"\d\d?[-/][A-Za-z]{3}[-/]\d{4}[ :]?\d\d:\d\d:\d\d(?:\.\d+)?(?: [+-]\d{4})?",
    r"\d\d/\d\d/\d{4}:\d\d:\d\d:\d\d",
    r"\d{6,8} {1,2}\d?\d:\d\d:\d\d",
    r"\d{8}T\d{6}(?:[.,]\d+)?(?:\s*(?:Z|[+-]\d\d(?::?\d\d)?))?",
    r"<\d\d/\d\d/\d\d@\d\d:\d\d:\d\d>",
    r"[A-Za-z]{3} \d\d?, \d{4} \d?\d:\d\d:\d\d [AP]M",
    r"[A-Za-z]{3}-\d\d-\d\d \d?\d:\d\d:\d\d",
    EPOCH,
];

const EPOCH: &str = r"\d{10,11}(?:\.\d{3,6})?";
const LONG_EPOCH: &str = r"\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?";

/// The `%(date)s` an imported filter gets, and what could not be carried over.
#[derive(Debug, PartialEq)]
pub struct DateVar {
    /// Regex for `[vars] date`: optional, takes the date and the blanks after it.
    pub regex: String,
    /// Templates cut from inside SELinux's `audit(…)`: the pattern gets the epoch there.
    pub in_audit: bool,
    /// Templates this translation cannot place (what fail2ban keeps before the date is
    /// more than a line start), with the reason.
    pub unplaced: Vec<(String, String)>,
}

/// The default `%(date)s` (no `datepattern`, or `{^LN-BEG}` alone): any of fail2ban's
/// default date shapes at the start of MESSAGE, optionally in brackets.
pub fn default_var() -> DateVar {
    DateVar {
        regex: wrap(&default_alts()),
        in_audit: false,
        unplaced: Vec::new(),
    }
}

fn default_alts() -> String {
    format!(r"\[?(?:{})\]?:?", DEFAULT_DATES.join("|"))
}

fn wrap(alts: &str) -> String {
    format!(r"(?:(?:{alts})\s*)?")
}

/// Translate a filter's `datepattern` (one template per line, after interpolation).
pub fn translate(templates: &[String]) -> DateVar {
    let mut alts = Vec::new();
    let mut unplaced = Vec::new();
    let mut in_audit = false;
    let mut default = false;
    for t in templates.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        match template(t) {
            Template::Default => default = true,
            Template::Regex(r) => {
                if !alts.contains(&r) {
                    alts.push(r);
                }
            }
            Template::Audit => in_audit = true,
            Template::Nothing => {}
            Template::Unplaced(why) => unplaced.push((t.to_owned(), why)),
        }
    }
    if default {
        alts.push(default_alts());
    }
    let regex = if alts.is_empty() {
        if in_audit {
            String::new()
        } else {
            default_var().regex
        }
    } else {
        wrap(&alts.join("|"))
    };
    DateVar {
        regex,
        in_audit,
        unplaced,
    }
}

enum Template {
    /// fail2ban's default set (`{^LN-BEG}`, `{DATE}` at the start).
    Default,
    Regex(String),
    /// `EPOCH` / `LEPOCH` alone: also cut from inside `audit(…)`.
    Audit,
    /// A template that cuts nothing (`^WARNING:()**`): it only tells fail2ban that the
    /// line has no date.
    Nothing,
    Unplaced(String),
}

fn template(t: &str) -> Template {
    let mut t = t.trim_start_matches("**").trim_end_matches("**");
    let mut at_start = false;
    if let Some(r) = t.strip_prefix("{^LN-BEG}") {
        t = r;
        at_start = true;
    } else if let Some(r) = t.strip_prefix('^') {
        t = r;
        at_start = true;
    }
    let up = t.to_ascii_uppercase();
    match up.as_str() {
        "" | "{DATE}" => return Template::Default,
        "EPOCH" | "{EPOCH}" if !at_start => return Template::Audit,
        "EPOCH" | "{EPOCH}" => return Template::Regex(format!(r"\[?{EPOCH}\]?")),
        "LEPOCH" | "{LEPOCH}" | "LONGEPOCH" => return Template::Regex(LONG_EPOCH.into()),
        "TAI64N" | "{TAI64N}" => return Template::Regex(r"@[0-9a-f]{24}".into()),
        _ => {}
    }
    // What the first group covers is cut; what is before it stays in the line.
    let (pre, body) = match first_group(t) {
        Some((pre, inner, post)) => {
            if !post.is_empty() && !post.starts_with("(?=") && !post.starts_with("(?!") {
                // Text after the group stays too: only lookaheads are harmless there.
                let post_ok = post == r"\s*" || post == r"\s+";
                if !post_ok {
                    return Template::Unplaced(format!(
                        "`{post}` after the date stays in the line, which the imported patterns do not expect"
                    ));
                }
            }
            (pre, inner)
        }
        None => ("", t),
    };
    if body.is_empty() {
        return Template::Nothing;
    }
    if !pre.is_empty() {
        return Template::Unplaced(format!(
            "the date is cut after `{pre}`, from the middle of the line; imported patterns take a date only at the start of MESSAGE"
        ));
    }
    if !at_start {
        // fail2ban searches it anywhere; here it is taken at the start only.
        return Template::Regex(codes(body));
    }
    Template::Regex(codes(body))
}

/// Where the group enclosing the start of `re` closes (or `re.len()`).
pub(super) fn group_end(re: &str) -> usize {
    let b = re.as_bytes();
    let (mut depth, mut class, mut i) = (0i32, false, 0);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' if !class => class = true,
            b']' if class => class = false,
            b'(' if !class => depth += 1,
            b')' if !class => {
                if depth == 0 {
                    return i;
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// Split `t` at its first capturing group: (before, inside, after).
fn first_group(t: &str) -> Option<(&str, &str, &str)> {
    let b = t.as_bytes();
    let mut i = 0;
    let mut class = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' if !class => class = true,
            b']' if class => class = false,
            b'(' if !class && b.get(i + 1) != Some(&b'?') => {
                let j = i + 1 + group_end(&t[i + 1..]);
                return (j < t.len()).then(|| (&t[..i], &t[i + 1..j], &t[j + 1..]));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// fail2ban's `%`-codes (strptime's, plus its `%Ex…` exact forms) as regex text; `{DATE}`
/// and `{EPOCH}` as the default shapes; named groups of the template (`(?P<_sep>…)` and
/// its back-reference) as plain groups, since banjo names only its own tags.
fn codes(t: &str) -> String {
    let mut out = String::new();
    let mut rest = t;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("{DATE}") {
            out.push_str(&format!("(?:{})", DEFAULT_DATES.join("|")));
            rest = r;
            continue;
        }
        if let Some(r) = rest.strip_prefix("{EPOCH}") {
            out.push_str(EPOCH);
            rest = r;
            continue;
        }
        if let Some(r) = rest.strip_prefix("(?P<_sep>") {
            // The separator's class, remembered for `(?P=_sep)`.
            let end = r.find(')').unwrap_or(r.len());
            let class = &r[..end];
            out.push_str(&format!("(?:{class})"));
            rest = &r[(end + 1).min(r.len())..];
            let back = "(?P=_sep)";
            let (before, after) = match rest.find(back) {
                Some(i) => (&rest[..i], &rest[i + back.len()..]),
                None => (rest, ""),
            };
            out.push_str(&codes(before));
            if rest.contains(back) {
                out.push_str(&format!("(?:{class})"));
            }
            rest = after;
            continue;
        }
        if c == '\\' {
            let n = rest.chars().nth(1).map_or(1, |c| 1 + c.len_utf8());
            out.push_str(&rest[..n.min(rest.len())]);
            rest = &rest[n.min(rest.len())..];
            continue;
        }
        if c != '%' {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let code_len = if rest[1..].starts_with("Ex") { 4 } else { 2 };
        let code = rest.get(1..code_len).unwrap_or("");
        let re = match code {
            "%" => "%",
            "Y" | "ExY" => r"\d{4}",
            "y" | "Exy" => r"\d\d",
            "m" => r"[01]?\d",
            "Exm" | "Exd" | "ExH" | "ExM" | "ExS" => r"\d\d",
            "d" => r"[0-3 ]?\d",
            "e" => r" ?\d?\d",
            "H" | "I" | "M" | "S" => r"\d?\d",
            "k" | "l" | "Exk" | "Exl" => r" ?\d?\d",
            "f" => r"\d+",
            "j" => r"\d{1,3}",
            "p" => r"[AaPp][Mm]",
            "b" | "B" | "a" | "A" | "h" => r"[A-Za-z]{3,9}",
            "z" | "Exz" => r"(?:Z|UTC|GMT|[+-][01]\d(?::?\d\d)?)",
            "Z" | "ExZ" => r"[A-Z]{3,5}",
            "s" => EPOCH,
            _ => {
                // Not a date code: kept as written (fail2ban would fail on it anyway).
                out.push('%');
                rest = &rest[1..];
                continue;
            }
        };
        out.push_str(re);
        rest = &rest[code_len.min(rest.len())..];
    }
    out
}

/// Where SELinux's audit lines had their epoch cut (`msg=audit(1373330716.415:4063)` ->
/// `msg=audit(:4063)`): the pattern takes it back, optionally, right there.
pub fn put_back_audit_epoch(pattern: &str) -> Option<String> {
    let at = r"audit\(";
    if !pattern.contains(at) {
        return None;
    }
    Some(pattern.replacen(at, &format!(r"audit\((?:{EPOCH})?"), 1))
}

/// What a regex matches after a leading blank, when that can be written exactly.
#[derive(Debug, PartialEq)]
enum Deriv {
    /// Cannot start with a blank.
    Empty,
    /// This regex matches exactly the rests.
    Re(String),
    /// Not worked out (a construct this does not reason about).
    Unknown,
}

/// The blank fail2ban left after a date it cut (` login authenticator failed…`): the
/// pattern (what follows `^` and `%(date)s`) with that blank taken away, where each of
/// its top-level alternatives either needs one (derived exactly) or does not start with
/// one (kept). `None`: nothing to change, or not exact.
pub fn after_separator(re: &str) -> Option<String> {
    let alts = split_top_level(re);
    let mut out = Vec::new();
    let mut changed = false;
    for a in &alts {
        match deriv(a) {
            Deriv::Re(d) => {
                out.push(d);
                changed = true;
            }
            Deriv::Empty => out.push((*a).to_owned()),
            Deriv::Unknown => return None,
        }
    }
    if !changed {
        return None;
    }
    Some(if out.len() == 1 {
        out.pop().unwrap_or_default()
    } else {
        // The alternatives were top-level: keep them so.
        out.join("|")
    })
}

fn deriv(re: &str) -> Deriv {
    let Some((atom, quant, rest)) = first_atom(re) else {
        return Deriv::Empty;
    };
    let blank = matches!(atom, " " | r"\s" | r"\ " | "[ ]" | r"[\s]");
    if blank {
        return match quant {
            "" => Deriv::Re(rest.to_owned()),
            "+" => Deriv::Re(format!("{atom}*{rest}")),
            // `\s*rest` after a blank: `\s*rest` again, or what rest matches after the
            // blank it needed (roundcube's `\s*(<\w+>)? IMAP Error`). Written out only
            // where rest holds no named group (it appears twice).
            "*" | "?" => match deriv(rest) {
                Deriv::Re(d) if !has_named_group(rest) => {
                    Deriv::Re(format!("(?:{atom}{quant}{rest}|{d})"))
                }
                // Otherwise: the pattern matches with or without the blank.
                _ => Deriv::Empty,
            },
            _ => Deriv::Empty,
        };
    }
    if let Some(inner) = group_inner(atom) {
        let (open, body) = inner;
        if body.contains("<F-") || body.starts_with('?') {
            return Deriv::Unknown;
        }
        let mut parts = Vec::new();
        for a in split_top_level(body) {
            match deriv(a) {
                Deriv::Re(d) => parts.push(d),
                Deriv::Empty => {}
                Deriv::Unknown => return Deriv::Unknown,
            }
        }
        let dg = (!parts.is_empty()).then(|| format!("{open}{})", parts.join("|")));
        return match quant {
            "" => dg.map_or(Deriv::Empty, |g| Deriv::Re(format!("{g}{rest}"))),
            "?" => {
                // deriv(G? rest) = deriv(G) rest | deriv(rest), without writing rest twice.
                match (dg, first_atom(rest)) {
                    (g, Some((w, q, rest2)))
                        if matches!(w, " " | r"\s") && matches!(q, "" | "+") =>
                    {
                        let w2 = if q == "+" {
                            format!("{w}*")
                        } else {
                            String::new()
                        };
                        match g {
                            Some(g) => Deriv::Re(format!("(?:{g}{w}{q})?{w2}{rest2}")),
                            None => Deriv::Re(format!("{w2}{rest2}")),
                        }
                    }
                    (None, _) => match deriv(rest) {
                        Deriv::Re(d) => Deriv::Re(d),
                        other => other,
                    },
                    (Some(g), _) => match deriv(rest) {
                        Deriv::Empty => Deriv::Re(format!("{g}{rest}")),
                        _ => Deriv::Unknown,
                    },
                }
            }
            _ => Deriv::Unknown,
        };
    }
    // A literal or a class that cannot be a blank; anything else is not reasoned about.
    let plain = atom.len() == 1 && atom.as_bytes()[0].is_ascii_alphanumeric()
        || matches!(
            atom,
            r"\d" | r"\w" | r"\S" | r"\[" | r"\(" | "<HOST>" | "<ADDR>"
        )
        || (atom.len() == 1 && ":=@\"'#,;/-<>".contains(atom))
        // An escaped punctuation mark is itself (`\.`, `\{`), never a blank.
        || (atom.len() == 2 && atom.starts_with('\\') && atom.as_bytes()[1].is_ascii_punctuation())
        || (atom.starts_with('[')
            && !atom.starts_with("[^")
            && !atom.contains(' ')
            && !atom.contains(r"\s"));
    if plain && (quant.is_empty() || quant == "+") {
        Deriv::Empty
    } else {
        Deriv::Unknown
    }
}

/// A group that may not appear twice in one regex: `(?P<…>`, banjo's tags.
fn has_named_group(re: &str) -> bool {
    ["(?P<", "<F-", "<HOST>", "<ADDR>", "<IP4>", "<IP6>"]
        .iter()
        .any(|g| re.contains(g))
}

/// `(?:body)` / `(body)` / `(?P<n>body)`: its opening and body.
fn group_inner(atom: &str) -> Option<(&str, &str)> {
    let body = atom.strip_prefix('(')?.strip_suffix(')')?;
    if let Some(b) = body.strip_prefix("?:") {
        return Some((&atom[..3], b));
    }
    if let Some(b) = body.strip_prefix("?P<") {
        let e = b.find('>')?;
        return Some((&atom[..4 + e + 1], &b[e + 1..]));
    }
    Some((&atom[..1], body))
}

/// The first atom of `re`, its quantifier (`?`, `*`, `+`, `{…}`, lazy marks included)
/// and the rest.
pub(super) fn first_atom(re: &str) -> Option<(&str, &str, &str)> {
    let b = re.as_bytes();
    if b.is_empty() {
        return None;
    }
    let end = match b[0] {
        b'\\' => 2.min(b.len()),
        b'[' => {
            let mut i = 1;
            if b.get(i) == Some(&b'^') {
                i += 1;
            }
            if b.get(i) == Some(&b']') {
                i += 1;
            }
            while i < b.len() && b[i] != b']' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            (i + 1).min(b.len())
        }
        b'(' => {
            // group_end gives re[1..].len() for a group that never closes.
            let close = 1 + group_end(&re[1..]);
            if close >= b.len() {
                return None;
            }
            close + 1
        }
        // A tag (`<HOST>`, `<F-USER>`, `</F-USER>`); any other `<` is itself.
        b'<' => match re.find('>') {
            Some(e)
                if e > 1
                    && re[1..e]
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"-_/".contains(&c)) =>
            {
                e + 1
            }
            _ => 1,
        },
        _ => re.chars().next().map_or(1, char::len_utf8),
    };
    let mut q = end;
    match b.get(q) {
        Some(b'?' | b'*' | b'+') => q += 1,
        Some(b'{') => q = re[q..].find('}').map_or(q, |e| q + e + 1),
        _ => {}
    }
    if q > end && b.get(q) == Some(&b'?') {
        q += 1;
    }
    Some((&re[..end], &re[end..q], &re[q..]))
}

/// Split at `|` outside groups and character classes (also used by the filter
/// importer: one reading of fail2ban's alternatives).
pub(super) fn split_top_level(re: &str) -> Vec<&str> {
    let b = re.as_bytes();
    let (mut depth, mut class, mut start) = (0i32, false, 0);
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' if !class => {
                class = true;
                // `[]…]` and `[^]…]`: a first `]` is literal.
                if b.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i + 1) == Some(&b']') {
                    i += 1;
                }
            }
            b']' if class => class = false,
            b'(' if !class => depth += 1,
            b')' if !class => depth -= 1,
            // `<F-USER>…</F-USER>` is a group in fail2ban (and in banjo).
            b'<' if !class && re[i..].starts_with("<F-") => depth += 1,
            b'<' if !class && re[i..].starts_with("</F-") => depth -= 1,
            b'|' if !class && depth == 0 => {
                out.push(&re[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&re[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blank_after_a_cut_date() {
        // exim: an optional tag whose forms start with a blank, then a blank.
        assert_eq!(
            after_separator(r"(?: \[\d+\]| \w+ exim\[\d+\]:)? \w+ authenticator").as_deref(),
            Some(r"(?:(?:\[\d+\]|\w+ exim\[\d+\]:) )?\w+ authenticator")
        );
        assert_eq!(after_separator(r" x").as_deref(), Some("x"));
        assert_eq!(after_separator(r"\s+x").as_deref(), Some(r"\s*x"));
        assert_eq!(
            after_separator(r"(?: lvl=err?or)? msg=").as_deref(),
            Some(r"(?:(?:lvl=err?or) )?msg=")
        );
        // Nothing to take: no blank needed, or already optional.
        assert_eq!(after_separator(r"Failed from <HOST>"), None);
        assert_eq!(after_separator(r"\s*x"), None);
        // `\s*` before text that needs the blank: both readings.
        assert_eq!(
            after_separator(r"\s*(<[\w]+>)? IMAP Error").as_deref(),
            Some(r"(?:\s*(<[\w]+>)? IMAP Error|IMAP Error)")
        );
        // ... but never a named group twice.
        assert_eq!(after_separator(r"\s* from <HOST>"), None);
        assert_eq!(after_separator(r"(?:error: )?Failed"), None);
        // Not exact: left alone.
        assert_eq!(after_separator(r".* x"), None);
        // Top-level alternatives: each on its own.
        assert_eq!(after_separator(r" a|b").as_deref(), Some("a|b"));
    }

    #[test]
    fn templates_become_regexes() {
        let v = translate(&[r"^t=%Y-%m-%dT%H:%M:%S%z".into()]);
        let re = regex::Regex::new(&format!("^{}rest", v.regex)).unwrap();
        assert!(re.is_match("t=2020-10-19T17:44:33+0200 rest"));
        assert!(re.is_match("rest"), "optional");
        let v = translate(&[r"{^LN-BEG}%ExY(?P<_sep>[-/.])%m(?P=_sep)%d[T ]%H:%M:%S".into()]);
        let re = regex::Regex::new(&format!("^{}x", v.regex)).unwrap();
        assert!(re.is_match("2013/01/04 17:03:46 x"));
        let v = translate(&["^[^-]+ -- [^-]+ -- - ({DATE})".into()]);
        assert_eq!(v.unplaced.len(), 1);
        assert!(translate(&["EPOCH".into()]).in_audit);
        assert!(translate(&[r"^WARNING:()**".into(), "{^LN-BEG}".into()])
            .unplaced
            .is_empty());
        // The default shapes take no address.
        let d = regex::Regex::new(&format!("^{}$", default_var().regex)).unwrap();
        for s in [
            "Jul 28 21:41:20 ",
            "[28/Jul/2013:21:41:20 +0200] ",
            "1373330716.415 ",
        ] {
            assert!(d.is_match(s), "{s}");
        }
        assert!(!d.is_match("192.0.2.1 "));
    }

    #[test]
    fn audit_epoch_goes_back() {
        assert_eq!(
            put_back_audit_epoch(r"^type=X msg=audit\(:\d+\): x").as_deref(),
            Some(r"^type=X msg=audit\((?:\d{10,11}(?:\.\d{3,6})?)?:\d+\): x")
        );
    }
}
