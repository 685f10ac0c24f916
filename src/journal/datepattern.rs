//! Dates inside text lines, as fail2ban's datepattern finds them.
//!
//! Owns: finding a timestamp anywhere in a line (by default the shapes fail2ban's
//! date detector knows: syslog `Dec  7 10:00:00`, with a weekday and year as Apache's
//! error log writes it, ISO 8601 with or without zone and fraction, nginx's error log
//! `2026/12/07 10:00:00`, the common log format `[07/Dec/2026:10:00:00 +0000]`, BIND's
//! `07-Dec-2026 10:00:00.123`, epoch seconds at the line's start or in `audit(…)`), or
//! by a `datepattern` with fail2ban's %-codes; turning it into UTC microseconds, with the
//! host's time zone for stamps that carry none. Returns the time and the byte span of
//! the date, so the caller can cut it from the line as fail2ban does.
//!
//! Must not: decide anything from the line but its time. The span is where the date
//! was found and nothing else; the leftmost date wins, so text an attacker writes later
//! in a line (a user name that looks like a date) can never displace the real stamp
//! before it. A leaf: imports only [`crate::timefmt`].

use crate::timefmt::{civil_from_days, days_from_civil, Micros, SEC};
use regex::bytes::{Captures, Regex};
use std::ops::Range;

/// A date found in a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// UTC microseconds since the epoch.
    pub time_us: Micros,
    /// Where the date stands in the line (bytes).
    pub span: Range<usize>,
}

impl Found {
    /// What to cut from `line` to remove the date as fail2ban does: the span and one
    /// space after it (or before it, at the line's end), so `a DATE b` becomes `a b`.
    pub fn cut(&self, line: &[u8]) -> Range<usize> {
        let Range { mut start, mut end } = self.span.clone();
        if line.get(end) == Some(&b' ') {
            end += 1;
        } else if end == line.len() && start > 0 && line[start - 1] == b' ' {
            start -= 1;
        }
        start..end
    }
}

/// Zone of stamps that carry none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The host's zone (TZ, /etc/localtime), with its daylight-saving rules.
    Host,
    /// A fixed offset, seconds east of UTC.
    Fixed(i32),
}

/// What a stamp without year or zone is read against.
#[derive(Debug, Clone)]
pub struct DateContext {
    /// Now (real or virtual clock): a yearless stamp takes this year, or the one
    /// before when it would otherwise lie more than a day ahead (a December line read
    /// in January), as fail2ban does.
    now_us: Micros,
    year: i64,
    zone: Zone,
    /// Last (local 15-minute bucket, offset) looked up: zone rules change offsets only
    /// at such boundaries, and localtime_r costs more than the rest of a parse.
    cache: Option<(i64, i32)>,
}

impl DateContext {
    pub fn new(now_us: Micros, zone: Zone) -> DateContext {
        let mut ctx = DateContext {
            now_us,
            year: 1970,
            zone,
            cache: None,
        };
        let local = now_us.div_euclid(SEC) + i64::from(ctx.offset_at_utc(now_us.div_euclid(SEC)));
        ctx.year = civil_from_days(local.div_euclid(86_400)).0;
        ctx
    }

    pub fn now_us(&self) -> Micros {
        self.now_us
    }

    /// The year yearless stamps are read in (before the "more than a day ahead" rule).
    pub fn year(&self) -> i64 {
        self.year
    }

    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// The zone's offset (seconds east) at UTC second `utc`.
    pub fn offset_at(&self, utc: i64) -> i32 {
        self.offset_at_utc(utc)
    }

    /// Offset (seconds east) of the zone at the UTC instant `utc`.
    fn offset_at_utc(&self, utc: i64) -> i32 {
        match self.zone {
            Zone::Fixed(o) => o,
            Zone::Host => host_offset(utc),
        }
    }

    /// UTC seconds of local wall-clock seconds `local` in this zone. A wall time in a
    /// gap (spring forward) reads with the offset after the change, one in an overlap
    /// (fall back) as its later instant: a log cannot tell, and an hour either way
    /// does not matter beside findtime.
    fn local_to_utc(&mut self, local: i64) -> i64 {
        let Zone::Host = self.zone else {
            return local - i64::from(self.offset_at_utc(0));
        };
        let bucket = local.div_euclid(900);
        if let Some((b, off)) = self.cache {
            if b == bucket {
                return local - i64::from(off);
            }
        }
        let first = host_offset(local);
        let second = host_offset(local - i64::from(first));
        let off = if host_offset(local - i64::from(second)) == second {
            second
        } else {
            first
        };
        self.cache = Some((bucket, off));
        local - i64::from(off)
    }
}

/// The host zone's offset at UTC second `utc`, from the C library (TZ, /etc/localtime).
fn host_offset(utc: i64) -> i32 {
    let t: nix::libc::time_t = utc;
    // SAFETY: localtime_r writes only into `tm`, which we own; a zeroed tm is valid.
    let mut tm: nix::libc::tm = unsafe { std::mem::zeroed() };
    let r = unsafe { nix::libc::localtime_r(&t, &mut tm) };
    if r.is_null() {
        return 0;
    }
    i32::try_from(tm.tm_gmtoff).unwrap_or(0)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatePatternError {
    #[error("datepattern {pattern:?}: unknown code %{code} (known: %Y %y %m %d %e %H %I %M %S %f %p %b %B %a %A %z %Z %s %%)")]
    UnknownCode { pattern: String, code: char },
    #[error("datepattern {pattern:?}: {reason}")]
    Bad { pattern: String, reason: String },
}

/// How dates are found: fail2ban's default shapes, or one `datepattern`.
#[derive(Debug, Clone)]
pub enum DatePattern {
    /// The default: every known shape, anywhere in the line, leftmost first.
    Auto,
    /// Epoch seconds (`EPOCH`) or milliseconds (`LEPOCH`) at the line's start.
    Epoch { millis: bool },
    /// A `datepattern` with %-codes, compiled to a regex.
    Custom(Box<Custom>),
}

#[derive(Debug, Clone)]
pub struct Custom {
    regex: Regex,
}

impl DatePattern {
    /// Parse a `datepattern` value: `EPOCH`, `LEPOCH`, or text with fail2ban's %-codes
    /// where the rest is a regular expression, optionally starting with `{^LN-BEG}`
    /// (at the start of the line, after at most two non-word characters such as `[`)
    /// or `^`. `%%` is a literal `%` (fail2ban's INI files double every `%`; the
    /// importer undoes that).
    pub fn parse(text: &str) -> Result<DatePattern, DatePatternError> {
        match text.trim() {
            "" => {
                return Err(DatePatternError::Bad {
                    pattern: text.into(),
                    reason: "empty".into(),
                })
            }
            "EPOCH" | "{^LN-BEG}EPOCH" => return Ok(DatePattern::Epoch { millis: false }),
            "LEPOCH" | "{^LN-BEG}LEPOCH" => return Ok(DatePattern::Epoch { millis: true }),
            t if t.contains("TAI64N") => {
                return Err(DatePatternError::Bad {
                    pattern: text.into(),
                    reason: "TAI64N stamps are not supported".into(),
                })
            }
            _ => {}
        }
        let (anchor, rest) = match text.strip_prefix("{^LN-BEG}") {
            Some(rest) => (r"^(?:[^\w\n]{0,2}?)", rest),
            None => ("", text),
        };
        let mut body = String::new();
        let mut chars = rest.chars().peekable();
        let mut first = true;
        let mut seen = Vec::new();
        while let Some(c) = chars.next() {
            if c != '%' {
                body.push(c);
                first = false;
                continue;
            }
            let Some(code) = chars.next() else {
                return Err(DatePatternError::Bad {
                    pattern: text.into(),
                    reason: "ends in a lone %".into(),
                });
            };
            let code = if code == 'E' && matches!(chars.peek(), Some('x')) {
                // fail2ban's %Ex* variants (%ExY: a year near now) read like the plain ones.
                chars.next();
                chars.next().unwrap_or('?')
            } else {
                code
            };
            let Some(re) = code_regex(code) else {
                return Err(DatePatternError::UnknownCode {
                    pattern: text.into(),
                    code,
                });
            };
            if code != '%' {
                if seen.contains(&code) {
                    return Err(DatePatternError::Bad {
                        pattern: text.into(),
                        reason: format!("%{code} appears twice"),
                    });
                }
                seen.push(code);
            }
            // A date starts at a word's start: %d must not find "7" in "107/Dec/…".
            if first && anchor.is_empty() && !matches!(code, '%' | 'z') {
                body.push_str(r"(?-u:\b)");
            }
            first = false;
            body.push_str(re);
        }
        if seen.is_empty() {
            return Err(DatePatternError::Bad {
                pattern: text.into(),
                reason: "no %-code: nothing to read a time from".into(),
            });
        }
        let full = format!("{anchor}(?P<_date>{body})");
        let regex = Regex::new(&full).map_err(|e| DatePatternError::Bad {
            pattern: text.into(),
            reason: format!("not a valid regular expression: {e}"),
        })?;
        Ok(DatePattern::Custom(Box::new(Custom { regex })))
    }

    /// The first date in `line`, or None.
    pub fn find(&self, line: &[u8], ctx: &mut DateContext) -> Option<Found> {
        match self {
            DatePattern::Auto => find_auto(line, ctx),
            DatePattern::Epoch { millis } => {
                let (time_us, end) = epoch(line, 0, *millis)?;
                Some(Found {
                    time_us,
                    span: 0..end,
                })
            }
            DatePattern::Custom(c) => c.find(line, ctx),
        }
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn code_regex(code: char) -> Option<&'static str> {
    Some(match code {
        'Y' => r"(?P<Y>\d{4})",
        'y' => r"(?P<y>\d{2})",
        'm' => r"(?P<m>1[0-2]|0?[1-9])",
        'd' => r"(?P<d>3[01]|[12]\d|0?[1-9])",
        'e' => r"(?P<e>3[01]|[12]\d| ?[1-9])",
        'H' => r"(?P<H>2[0-3]|[01]?\d)",
        'I' => r"(?P<I>1[0-2]|0?[1-9])",
        'M' => r"(?P<M>[0-5]\d)",
        'S' => r"(?P<S>[0-5]\d|60)",
        'f' => r"(?P<f>\d{1,9})",
        'p' => r"(?P<p>(?i:AM|PM))",
        'b' => r"(?P<b>(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))",
        'B' => {
            r"(?P<B>(?i:january|february|march|april|may|june|july|august|september|october|november|december))"
        }
        'a' => r"(?i:mon|tue|wed|thu|fri|sat|sun)",
        'A' => r"(?i:monday|tuesday|wednesday|thursday|friday|saturday|sunday)",
        'z' => r"(?P<z>Z|[+-](?:2[0-3]|[01]\d)(?::?[0-5]\d)?)",
        'Z' => r"(?P<Z>[A-Z]{1,5})",
        's' => r"(?P<s>\d{1,11})",
        '%' => "%",
        _ => return None,
    })
}

impl Custom {
    fn find(&self, line: &[u8], ctx: &mut DateContext) -> Option<Found> {
        // Leftmost match first; one that names no valid date lets a later one try.
        let mut at = 0;
        while at <= line.len() {
            let caps = self.regex.captures_at(line, at)?;
            let date = caps.name("_date")?;
            if let Some(time_us) = custom_time(&caps, ctx) {
                return Some(Found {
                    time_us,
                    span: date.range(),
                });
            }
            at = caps.get(0)?.start() + 1;
        }
        None
    }
}

fn num(caps: &Captures<'_>, name: &str) -> Option<u32> {
    let m = caps.name(name)?;
    let s = std::str::from_utf8(m.as_bytes()).ok()?.trim();
    s.parse().ok()
}

fn custom_time(caps: &Captures<'_>, ctx: &mut DateContext) -> Option<Micros> {
    if let Some(s) = caps.name("s") {
        let secs: i64 = std::str::from_utf8(s.as_bytes()).ok()?.parse().ok()?;
        let micros = caps.name("f").map_or(0, |f| fraction(f.as_bytes()));
        return Some(secs * SEC + i64::from(micros));
    }
    let month = match (num(caps, "m"), caps.name("b").or(caps.name("B"))) {
        (Some(m), _) => m,
        (None, Some(name)) => month(name.as_bytes().get(..3)?)?,
        (None, None) => return None,
    };
    let day = num(caps, "d").or(num(caps, "e"))?;
    let year = match (num(caps, "Y"), num(caps, "y")) {
        (Some(y), _) => Some(i64::from(y)),
        (None, Some(y)) => Some(2000 + i64::from(y)),
        (None, None) => None,
    };
    let mut hour = num(caps, "H").unwrap_or(0);
    if let Some(h12) = num(caps, "I") {
        let pm = caps
            .name("p")
            .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"pm"));
        hour = h12 % 12 + if pm { 12 } else { 0 };
    }
    let offset = match (caps.name("z"), caps.name("Z")) {
        (Some(z), _) => Some(zone(z.as_bytes(), 0)?.0),
        (None, Some(name)) => named_zone(name.as_bytes()),
        (None, None) => None,
    };
    let stamp = Stamp {
        year,
        month,
        day,
        hour,
        min: num(caps, "M").unwrap_or(0),
        sec: num(caps, "S").unwrap_or(0),
        micros: caps.name("f").map_or(0, |f| fraction(f.as_bytes())),
        offset,
    };
    stamp.to_us(ctx)
}

/// Zone names %Z knows the offset of; others are read as the host's zone.
fn named_zone(name: &[u8]) -> Option<i32> {
    match name {
        b"Z" | b"UTC" | b"GMT" | b"UT" => Some(0),
        _ => None,
    }
}

/// Microseconds of a fraction's digits (`123` -> 123000); digits past the sixth drop.
fn fraction(digits: &[u8]) -> u32 {
    let mut micros = 0;
    for i in 0..6 {
        micros = micros * 10 + digits.get(i).map_or(0, |d| u32::from(d - b'0'));
    }
    micros
}

/// A calendar time as written; missing year and zone come from the context.
struct Stamp {
    year: Option<i64>,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    micros: u32,
    offset: Option<i32>,
}

impl Stamp {
    fn to_us(&self, ctx: &mut DateContext) -> Option<Micros> {
        let valid = (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour <= 23
            && self.min <= 59
            && self.sec <= 60;
        if !valid {
            return None;
        }
        let clock = i64::from(self.hour * 3600 + self.min * 60 + self.sec);
        let secs_in = |ctx: &mut DateContext, year: i64| {
            let wall = days_from_civil(year, self.month, self.day) * 86_400 + clock;
            match self.offset {
                Some(o) => wall - i64::from(o),
                None => ctx.local_to_utc(wall),
            }
        };
        let secs = match self.year {
            Some(y) if (1..=9999).contains(&y) => secs_in(ctx, y),
            Some(_) => return None,
            None => {
                let this = secs_in(ctx, ctx.year);
                if this * SEC > ctx.now_us + 86_400 * SEC {
                    secs_in(ctx, ctx.year - 1)
                } else {
                    this
                }
            }
        };
        Some(secs * SEC + i64::from(self.micros))
    }
}

/// The default: try every shape at each place a date can start, leftmost first.
fn find_auto(line: &[u8], ctx: &mut DateContext) -> Option<Found> {
    // Epoch stamps only where fail2ban's default looks for them: at the line's start
    // (after an optional `[`) and in `audit(…)`; ten digits elsewhere are too common.
    let lead = usize::from(line.first() == Some(&b'['));
    if let Some((time_us, end)) = epoch(line, lead, false) {
        if lead == 0 || line.get(end) == Some(&b']') {
            return Some(Found {
                time_us,
                span: lead..end,
            });
        }
    }
    // Word starts only, and only where a shape's separator stands at its place: most
    // words of a line cost two byte tests (bench/RESULTS.md, log files).
    let n = line.len();
    let mut i = 0;
    while i < n {
        let c = line[i];
        if !c.is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let at = |k: usize| line.get(i + k).copied().unwrap_or(0);
        let plausible = if c.is_ascii_digit() {
            matches!(at(4), b'-' | b'/') || matches!(at(2), b'/' | b'-')
        } else {
            at(3) == b' '
        };
        if plausible {
            if let Some((stamp, end)) = shape_at(line, i) {
                if let Some(time_us) = stamp.to_us(ctx) {
                    return Some(Found {
                        time_us,
                        span: i..end,
                    });
                }
            }
        }
        if c == b'a' {
            if let Some(found) = audit_epoch(line, i) {
                return Some(found);
            }
        }
        // On to the next word.
        i += 1;
        while i < n && line[i].is_ascii_alphanumeric() {
            i += 1;
        }
    }
    None
}

/// `audit(1765100000.123:456)` at `i`: SELinux and auditd lines.
fn audit_epoch(line: &[u8], i: usize) -> Option<Found> {
    let start = i + b"audit(".len();
    if line.get(i..start)? != b"audit(" {
        return None;
    }
    let (time_us, end) = epoch(line, start, false)?;
    (line.get(end) == Some(&b':')).then_some(Found {
        time_us,
        span: start..end,
    })
}

/// Epoch seconds (10 or 11 digits, optional `.fraction`) or, with `millis`,
/// milliseconds (13 or 14 digits) at `i`, ending at a non-digit. (time, end).
fn epoch(s: &[u8], i: usize, millis: bool) -> Option<(Micros, usize)> {
    let mut end = i;
    while s.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    let digits = end - i;
    let ok = if millis {
        (13..=14).contains(&digits)
    } else {
        (10..=11).contains(&digits)
    };
    if !ok
        || s.get(end)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        return None;
    }
    let n: i64 = std::str::from_utf8(&s[i..end]).ok()?.parse().ok()?;
    if millis {
        return Some((n * 1000, end));
    }
    let mut micros = 0;
    if s.get(end) == Some(&b'.') && s.get(end + 1).is_some_and(u8::is_ascii_digit) {
        let fstart = end + 1;
        end = fstart;
        while s.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        micros = fraction(&s[fstart..end]);
    }
    Some((n * SEC + i64::from(micros), end))
}

/// One of the default shapes starting at `i`: (stamp, end).
fn shape_at(s: &[u8], i: usize) -> Option<(Stamp, usize)> {
    if s[i].is_ascii_digit() {
        iso(s, i).or_else(|| clf(s, i)).or_else(|| dmy_dash(s, i))
    } else {
        syslog(s, i)
    }
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.,frac][zone]` or `YYYY/MM/DD HH:MM:SS` (nginx error log).
fn iso(s: &[u8], i: usize) -> Option<(Stamp, usize)> {
    let year = digits(s, i, 4)?;
    let sep = *s.get(i + 4)?;
    if !matches!(sep, b'-' | b'/') || s.get(i + 7) != Some(&sep) {
        return None;
    }
    let month = digits(s, i + 5, 2)?;
    let day = digits(s, i + 8, 2)?;
    if !matches!(s.get(i + 10)?, b'T' | b' ') {
        return None;
    }
    let (hour, min, sec, micros, mut end) = clock(s, i + 11)?;
    let mut offset = None;
    if let Some((o, len)) = zone(s, end) {
        offset = Some(o);
        end += len;
    } else if s.get(end) == Some(&b' ') {
        // A detached numeric zone, ` +01:00` (some application logs).
        if let Some((o, len)) = zone(s, end + 1).filter(|(_, len)| *len >= 5) {
            if matches!(s.get(end + 1 + len), None | Some(b' ' | b']')) {
                offset = Some(o);
                end += 1 + len;
            }
        }
    }
    let stamp = Stamp {
        year: Some(i64::from(year)),
        month,
        day,
        hour,
        min,
        sec,
        micros,
        offset,
    };
    Some((stamp, end))
}

/// Common log format `DD/Mon/YYYY:HH:MM:SS[ zone]` (Apache and nginx access logs).
fn clf(s: &[u8], i: usize) -> Option<(Stamp, usize)> {
    let day = digits(s, i, 2)?;
    if s.get(i + 2) != Some(&b'/') || s.get(i + 6) != Some(&b'/') {
        return None;
    }
    let month = month(s.get(i + 3..i + 6)?)?;
    let year = digits(s, i + 7, 4)?;
    if s.get(i + 11) != Some(&b':') {
        return None;
    }
    let (hour, min, sec, micros, mut end) = clock(s, i + 12)?;
    let mut offset = None;
    if s.get(end) == Some(&b' ') {
        if let Some((o, len)) = zone(s, end + 1) {
            offset = Some(o);
            end += 1 + len;
        }
    }
    let stamp = Stamp {
        year: Some(i64::from(year)),
        month,
        day,
        hour,
        min,
        sec,
        micros,
        offset,
    };
    Some((stamp, end))
}

/// `DD-Mon-YYYY HH:MM:SS[.frac]` (BIND).
fn dmy_dash(s: &[u8], i: usize) -> Option<(Stamp, usize)> {
    let day = digits(s, i, 2)?;
    if s.get(i + 2) != Some(&b'-') || s.get(i + 6) != Some(&b'-') {
        return None;
    }
    let month = month(s.get(i + 3..i + 6)?)?;
    let year = digits(s, i + 7, 4)?;
    if s.get(i + 11) != Some(&b' ') {
        return None;
    }
    let (hour, min, sec, micros, end) = clock(s, i + 12)?;
    let stamp = Stamp {
        year: Some(i64::from(year)),
        month,
        day,
        hour,
        min,
        sec,
        micros,
        offset: None,
    };
    Some((stamp, end))
}

/// `[Www ]Mmm [D]D[ YYYY] HH:MM:SS[.frac][ YYYY]`, the day space padded or not.
fn syslog(s: &[u8], i: usize) -> Option<(Stamp, usize)> {
    let mut j = i;
    if weekday(s.get(j..j + 3)?) && s.get(j + 3) == Some(&b' ') {
        j += 4;
    }
    let month = month(s.get(j..j + 3)?)?;
    if s.get(j + 3) != Some(&b' ') {
        return None;
    }
    j += 4;
    if s.get(j) == Some(&b' ') {
        j += 1;
    }
    let mut day = digits(s, j, 1)?;
    j += 1;
    if let Some(d) = digits(s, j, 1) {
        day = day * 10 + d;
        j += 1;
    }
    if s.get(j) != Some(&b' ') {
        return None;
    }
    j += 1;
    let mut year = None;
    if let Some(y) = digits(s, j, 4) {
        if s.get(j + 4) == Some(&b' ') {
            year = Some(i64::from(y));
            j += 5;
        }
    }
    let (hour, min, sec, micros, mut end) = clock(s, j)?;
    if year.is_none() && s.get(end) == Some(&b' ') {
        if let Some(y) = digits(s, end + 1, 4) {
            if !s.get(end + 5).is_some_and(u8::is_ascii_alphanumeric) {
                year = Some(i64::from(y));
                end += 5;
            }
        }
    }
    let stamp = Stamp {
        year,
        month,
        day,
        hour,
        min,
        sec,
        micros,
        offset: None,
    };
    Some((stamp, end))
}

/// `HH:MM:SS[.,frac]` at `i`: (hour, min, sec, micros, end). Not followed by a digit.
fn clock(s: &[u8], i: usize) -> Option<(u32, u32, u32, u32, usize)> {
    let hour = digits(s, i, 2)?;
    if s.get(i + 2) != Some(&b':') || s.get(i + 5) != Some(&b':') {
        return None;
    }
    let min = digits(s, i + 3, 2)?;
    let sec = digits(s, i + 6, 2)?;
    let mut end = i + 8;
    let mut micros = 0;
    if matches!(s.get(end), Some(b'.' | b',')) && s.get(end + 1).is_some_and(u8::is_ascii_digit) {
        let fstart = end + 1;
        end = fstart;
        while s.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        micros = fraction(&s[fstart..end]);
    }
    if s.get(end).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((hour, min, sec, micros, end))
}

/// `Z`, `±hh`, `±hhmm` or `±hh:mm` at `i`: (offset seconds east, length).
fn zone(s: &[u8], i: usize) -> Option<(i32, usize)> {
    let sign = match s.get(i)? {
        b'Z' | b'z' => {
            return (!s.get(i + 1).is_some_and(u8::is_ascii_alphanumeric)).then_some((0, 1))
        }
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = digits(s, i + 1, 2)?;
    let (minutes, len) = if s.get(i + 3) == Some(&b':') {
        (digits(s, i + 4, 2)?, 6)
    } else if let Some(m) = digits(s, i + 3, 2) {
        (m, 5)
    } else {
        (0, 3)
    };
    if hours > 23 || minutes > 59 || s.get(i + len).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((sign * (hours * 3600 + minutes * 60) as i32, len))
}

fn month(name: &[u8]) -> Option<u32> {
    let lower = [
        name.first()? | 0x20,
        name.get(1)? | 0x20,
        name.get(2)? | 0x20,
    ];
    let at = MONTHS.iter().position(|m| m.as_bytes() == lower)?;
    Some(at as u32 + 1)
}

fn weekday(name: &[u8]) -> bool {
    let &[a, b, c] = name else {
        return false;
    };
    matches!(
        [a | 0x20, b | 0x20, c | 0x20],
        [b'm', b'o', b'n']
            | [b't', b'u', b'e']
            | [b'w', b'e', b'd']
            | [b't', b'h', b'u']
            | [b'f', b'r', b'i']
            | [b's', b'a', b't']
            | [b's', b'u', b'n']
    )
}

/// `n` ASCII digits at `i` as a number.
fn digits(s: &[u8], i: usize, n: usize) -> Option<u32> {
    let part = s.get(i..i + n)?;
    let mut v = 0;
    for &c in part {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

#[cfg(test)]
#[path = "datepattern_tests.rs"]
mod tests;
