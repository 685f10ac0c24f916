//! Human durations (`10m`, `1h 30m`, `1w`, `permanent`) and timestamps for output.
//! Shared by config parsing and every printer so one spelling is used throughout.

use std::fmt;

/// Microseconds, the journal's unit of time.
pub type Micros = i64;

pub const SEC: Micros = 1_000_000;

/// A ban length: finite, or forever (fail2ban's negative bantime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BanTime {
    Finite(Micros),
    Permanent,
}

impl serde::Serialize for BanTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for BanTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BanTime::Finite(us) => f.write_str(&format_duration(*us)),
            BanTime::Permanent => f.write_str("permanent"),
        }
    }
}

/// Parse `600`, `10m`, `1h30m`, `1d 12h`, `2w`, `1mo`, `1y` into microseconds.
/// Units: s, m (minutes), h, d, w, mo (30 days), y (365 days); a bare number is seconds,
/// as in fail2ban. Negative values are rejected here; `parse_bantime` handles "forever".
pub fn parse_duration(text: &str) -> Result<Micros, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: i128 = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(format!("{text:?}: expected a number (like 10m, 1h, 1w)"));
        }
        let n: i128 = s[start..i]
            .parse()
            .map_err(|_| format!("{text:?}: number too large"))?;
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit: i128 = match s[ustart..i].to_ascii_lowercase().as_str() {
            "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 7 * 86_400,
            "mo" | "month" | "months" => 30 * 86_400,
            "y" | "year" | "years" => 365 * 86_400,
            other => {
                return Err(format!(
                    "{text:?}: unknown unit {other:?} (use s, m, h, d, w, mo, y)"
                ))
            }
        };
        total += n * unit * SEC as i128;
        if total > i64::MAX as i128 / 2 {
            return Err(format!("{text:?}: duration too large"));
        }
    }
    Ok(total as Micros)
}

/// A bantime: a duration, or `permanent` / `forever` / any negative number (fail2ban).
pub fn parse_bantime(text: &str) -> Result<BanTime, String> {
    let s = text.trim();
    if matches!(s, "permanent" | "forever") || s.starts_with('-') {
        if let Some(rest) = s.strip_prefix('-') {
            parse_duration(rest)?;
        }
        return Ok(BanTime::Permanent);
    }
    match parse_duration(s)? {
        0 => Err(format!("{text:?}: a bantime must be longer than 0")),
        us => Ok(BanTime::Finite(us)),
    }
}

/// `3600000000` -> `1h`, `5400000000` -> `1h30m`; sub-second remainders are dropped.
pub fn format_duration(us: Micros) -> String {
    let mut secs = us / SEC;
    if secs == 0 {
        return if us == 0 {
            "0s".into()
        } else {
            format!("{}ms", us / 1000)
        };
    }
    let mut out = String::new();
    for (unit, len) in [
        ("w", 604_800),
        ("d", 86_400),
        ("h", 3600),
        ("m", 60),
        ("s", 1),
    ] {
        if secs >= len {
            out.push_str(&format!("{}{unit}", secs / len));
            secs %= len;
        }
    }
    out
}

/// RFC 3339 UTC timestamp with seconds, `2026-11-16T00:00:05Z`, for human output.
pub fn format_time(us: Micros) -> String {
    let secs = us.div_euclid(SEC);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parse `--since`/`--until`: RFC 3339-ish `2026-11-16`, `2026-11-16 12:00`,
/// `2026-11-16T12:00:00Z` (UTC), or `@EPOCH` seconds.
pub fn parse_timestamp(text: &str) -> Result<Micros, String> {
    let s = text.trim();
    if let Some(epoch) = s.strip_prefix('@') {
        return epoch
            .parse::<i64>()
            .map(|v| v * SEC)
            .map_err(|_| format!("{text:?}: bad epoch seconds"));
    }
    let bad = || format!("{text:?}: expected YYYY-MM-DD[ HH:MM[:SS]] (UTC) or @EPOCH");
    let s = s.trim_end_matches('Z');
    let (date, time) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let mut dp = date.split('-');
    let y: i64 = dp.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let m: u32 = dp.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let d: u32 = dp.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if !time.is_empty() {
        let mut tp = time.split(':');
        let h: i64 = tp.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let mi: i64 = tp.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let se: i64 = match tp.next() {
            Some(v) => v.parse().map_err(|_| bad())?,
            None => 0,
        };
        if h > 23 || mi > 59 || se > 60 {
            return Err(bad());
        }
        secs += h * 3600 + mi * 60 + se;
    }
    Ok(secs * SEC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("600").unwrap(), 600 * SEC);
        assert_eq!(parse_duration("10m").unwrap(), 600 * SEC);
        assert_eq!(parse_duration("1h 30m").unwrap(), 5400 * SEC);
        assert_eq!(parse_duration("1w").unwrap(), 604_800 * SEC);
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m").is_err());
        assert_eq!(parse_bantime("-1").unwrap(), BanTime::Permanent);
        assert_eq!(parse_bantime("permanent").unwrap(), BanTime::Permanent);
        assert!(parse_bantime("0").is_err());
        assert_eq!(format_duration(5400 * SEC), "1h30m");
        assert_eq!(format_duration(604_800 * SEC), "1w");
    }

    #[test]
    fn timestamps() {
        // date -u -d 2026-11-16 +%s
        assert_eq!(parse_timestamp("2026-11-16").unwrap(), 1_794_787_200 * SEC);
        assert_eq!(
            parse_timestamp("2026-11-16 01:02:03").unwrap(),
            (1_794_787_200 + 3723) * SEC
        );
        assert_eq!(format_time(1_794_787_200 * SEC), "2026-11-16T00:00:00Z");
        assert!(parse_timestamp("yesterday").is_err());
        for days in [-1000, 0, 59, 60, 365, 20000, 30000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
