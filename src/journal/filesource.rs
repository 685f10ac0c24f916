//! Log files as an [`EntrySource`]: lines from [`LogFiles`] made into entries.
//!
//! Owns: what an entry of a file line holds. A line with a syslog header (auth.log,
//! mail.log written by rsyslog) becomes what the journal would carry (time, `_HOSTNAME`,
//! `SYSLOG_IDENTIFIER`, `_PID`, MESSAGE after the tag), so one filter serves both; any
//! other line (nginx, Apache) has its date found by the logpath's datepattern and cut
//! as fail2ban cuts it, and the rest is MESSAGE. A line without a date takes the time
//! it was read. Must not: route or match; every entry carries [`Origin::Logs`] with the
//! logpaths of its file, which is all routing needs.

use super::datepattern::{DateContext, DatePattern, Zone};
use super::logfile::{LogFileError, LogFiles, Positions, Start};
use super::source::{EntrySource, Origin, Position};
use super::syslog::{parse_line_cached, HeaderFields, StampCache, TextContext};
use super::Entry;
use crate::timefmt::Micros;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

/// One logpath pattern and how dates are found in its files' lines.
#[derive(Debug, Clone)]
pub struct LogPath {
    pub pattern: String,
    pub dates: DatePattern,
}

/// Turns lines into entries; shared by the follower and the one-shot readers (replay,
/// test-filter), so both read a line the same way.
pub struct LineReader {
    text: TextContext,
    stamps: StampCache,
    keep: HeaderFields,
    dates: DateContext,
    /// Lines without a date take the previous line's time instead of the clock
    /// (replay: history has no "now").
    pub undated_as_previous: bool,
    last: Option<Micros>,
}

impl LineReader {
    /// `now_us`: the clock lines without a date take, and yearless stamps are read
    /// against; `zone`: of stamps that carry none.
    pub fn new(now_us: Micros, zone: Zone, fields: &[String]) -> LineReader {
        let mut r = LineReader {
            text: TextContext::now_utc(),
            stamps: StampCache::default(),
            keep: HeaderFields::only(fields),
            dates: DateContext::new(now_us, zone),
            undated_as_previous: false,
            last: None,
        };
        r.set_now(now_us);
        r
    }

    /// Move the clock (once per batch: the year and the zone offset follow it).
    pub fn set_now(&mut self, now_us: Micros) {
        let zone = self.dates.zone();
        self.dates = DateContext::new(now_us, zone);
        let now_s = now_us.div_euclid(crate::timefmt::SEC);
        self.text = TextContext {
            year: i32::try_from(self.dates.year()).unwrap_or(1970),
            // Syslog stamps read in the zone's offset of now: only lines written across
            // a daylight-saving change and read later are an hour off.
            utc_offset_secs: self.dates.offset_at(now_s),
        };
    }

    /// Fill `entry` from `line` (no newline), its date found by `dates`.
    pub fn parse(&mut self, line: &[u8], dates: &DatePattern, entry: &mut Entry) {
        if matches!(dates, DatePattern::Auto) {
            parse_line_cached(line, &self.text, &mut self.stamps, self.keep, entry);
            if entry.time_us != 0 {
                self.last = Some(entry.time_us);
                return; // a syslog or ISO header: time and fields from it
            }
        } else {
            entry.clear();
        }
        match dates.find(line, &mut self.dates) {
            Some(found) => {
                entry.time_us = found.time_us;
                entry.set_message_cut(line, found.cut(line));
            }
            None => {
                entry.time_us = match (self.undated_as_previous, self.last) {
                    (true, Some(t)) => t,
                    _ => self.dates.now_us(),
                };
                entry.set_message(line);
            }
        }
        self.last = Some(entry.time_us);
    }
}

/// The files of every jail's logpaths, followed, as entries.
pub struct LogFileSource {
    files: LogFiles,
    paths: Vec<LogPath>,
    lines: LineReader,
    entry: Entry,
    /// `--since` on a first start: lines before it are read over.
    since: Option<Micros>,
    /// Per pattern of this follower: the origin mask its lines carry (default: bit i
    /// for pattern i; replay maps its files onto the jails' logpaths).
    routes: Vec<u64>,
    /// The clock is the lines' own (replay): see [`LineReader::undated_as_previous`].
    virtual_clock: bool,
}

impl LogFileSource {
    /// Follow `paths` (in the order routing numbers them), resuming from `saved`.
    /// `window_us`: the longest findtime of the jails reading them (warm-up).
    pub fn open(
        paths: Vec<LogPath>,
        saved: &Positions,
        start: Start,
        since: Option<Micros>,
        window_us: i64,
        fields: &[String],
    ) -> Result<LogFileSource, LogFileError> {
        let texts: Vec<String> = paths.iter().map(|p| p.pattern.clone()).collect();
        let files = LogFiles::open(&texts, saved, start, window_us)?;
        let routes = (0..paths.len().min(64)).map(|i| 1u64 << i).collect();
        Ok(LogFileSource {
            files,
            paths,
            lines: LineReader::new(now_us(), Zone::Host, fields),
            entry: Entry::default(),
            since,
            routes,
            virtual_clock: false,
        })
    }

    /// Read once through, as history (replay): lines of pattern i carry origin mask
    /// `routes[i]`, and lines without a date take the previous line's time.
    pub fn as_history(&mut self, routes: Vec<u64>) {
        self.routes = routes;
        self.virtual_clock = true;
        self.lines.undated_as_previous = true;
    }

    /// Saved positions as the state keeps them (JSON text).
    pub fn parse_positions(text: &str) -> Result<Positions, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn positions(&self) -> Positions {
        self.files.positions()
    }

    pub fn patterns(&self) -> &[LogPath] {
        &self.paths
    }

    pub fn open_files(&self) -> usize {
        self.files.open_files()
    }
}

fn now_us() -> Micros {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as Micros)
}

impl EntrySource for LogFileSource {
    fn name(&self) -> &'static str {
        "log files"
    }

    fn poll_fd(&mut self) -> Option<RawFd> {
        Some(self.files.fd().as_raw_fd())
    }

    fn readable(&mut self) {
        self.files.process_events();
    }

    fn deadline(&self) -> Option<Instant> {
        self.files.next_deadline()
    }

    fn read_batch(&mut self, max: usize, sink: &mut dyn FnMut(&Entry)) -> usize {
        if !self.virtual_clock {
            self.lines.set_now(now_us());
        }
        let mut n = 0;
        while n < max {
            let Some(line) = self.files.next_line() else {
                break;
            };
            let mut mask = 0u64;
            for &p in line.patterns {
                mask |= self.routes.get(usize::from(p)).copied().unwrap_or(0);
            }
            let dates = line
                .patterns
                .first()
                .and_then(|&p| self.paths.get(usize::from(p)))
                .map_or(&DatePattern::Auto, |p| &p.dates);
            let warm = line.warm;
            self.lines.parse(line.bytes, dates, &mut self.entry);
            self.entry.origin = Origin::Logs(mask);
            self.entry.warm = warm;
            let time = self.entry.time_us;
            self.files.note_time(time);
            n += 1;
            if self.since.is_some_and(|s| time < s) {
                continue;
            }
            sink(&self.entry);
        }
        n
    }

    fn position(&mut self) -> Option<Position> {
        match serde_json::to_string(&self.files.positions()) {
            Ok(text) => Some(Position::Files(text)),
            Err(e) => {
                tracing::error!("log files: cannot serialize positions: {e}");
                None
            }
        }
    }

    fn take_notes(&mut self) -> Vec<String> {
        self.files.take_notes()
    }
}

/// A file (or stdin) read once through as a logpath file is read: the daemon's
/// [`LineReader`], lines over [`super::MAX_MESSAGE`] cut, blank lines skipped. For
/// `test-filter --logpath`; memory stays flat whatever the file's size.
pub struct LineFile {
    reader: Box<dyn std::io::BufRead>,
    /// Only for a line that straddles the reader's buffer; other lines are parsed
    /// where they lie (no copy per line).
    partial: Vec<u8>,
    /// Inside a line past the cap: skip to its end.
    skipping: bool,
    lines: LineReader,
    dates: DatePattern,
}

impl LineFile {
    pub fn new(
        reader: Box<dyn std::io::BufRead>,
        dates: DatePattern,
        fields: &[String],
    ) -> LineFile {
        let mut lines = LineReader::new(now_us(), Zone::Host, fields);
        lines.undated_as_previous = true;
        LineFile {
            reader,
            partial: Vec::new(),
            skipping: false,
            lines,
            dates,
        }
    }

    /// The next line as an entry; Ok(false) at the end.
    pub fn next(&mut self, entry: &mut Entry) -> std::io::Result<bool> {
        const CAP: usize = super::MAX_MESSAGE;
        loop {
            let avail = self.reader.fill_buf()?;
            if avail.is_empty() {
                // A last line without a newline is still a line.
                let line = std::mem::take(&mut self.partial);
                self.skipping = false;
                if line.is_empty() {
                    return Ok(false);
                }
                if emit_line(&mut self.lines, &self.dates, &line, entry) {
                    return Ok(true);
                }
                continue;
            }
            let nl = memchr::memchr(b'\n', avail);
            let take = nl.map_or(avail.len(), |i| i + 1);
            let body = &avail[..nl.unwrap_or(avail.len())];
            if self.skipping {
                self.skipping = nl.is_none();
                self.reader.consume(take);
                continue;
            }
            if nl.is_some() && self.partial.is_empty() {
                let body = &body[..body.len().min(CAP)];
                let found = emit_line(&mut self.lines, &self.dates, body, entry);
                self.reader.consume(take);
                if found {
                    return Ok(true);
                }
                continue;
            }
            let room = CAP.saturating_sub(self.partial.len());
            self.partial
                .extend_from_slice(&body[..body.len().min(room)]);
            self.reader.consume(take);
            let whole = nl.is_some();
            if !whole && self.partial.len() < CAP {
                continue;
            }
            // A whole line, or one cut at the cap (its rest is skipped, as MESSAGE's is).
            self.skipping = !whole;
            let line = std::mem::take(&mut self.partial);
            let found = emit_line(&mut self.lines, &self.dates, &line, entry);
            self.partial = line;
            self.partial.clear();
            if found {
                return Ok(true);
            }
        }
    }
}

/// Parse one line (without its newline) into `entry`; false for a blank one.
fn emit_line(
    lines: &mut LineReader,
    dates: &DatePattern,
    mut line: &[u8],
    entry: &mut Entry,
) -> bool {
    while let [rest @ .., b'\r'] = line {
        line = rest;
    }
    if line.is_empty() {
        return false;
    }
    lines.parse(line, dates, entry);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::SEC;

    /// 2026-12-07 10:00:00 UTC.
    const T: i64 = 1_796_637_600;

    fn read(line: &str, dates: &DatePattern) -> Entry {
        let mut r = LineReader::new(
            (T + 60) * SEC,
            Zone::Fixed(0),
            &["SYSLOG_IDENTIFIER".into(), "_PID".into()],
        );
        let mut e = Entry::default();
        r.parse(line.as_bytes(), dates, &mut e);
        e
    }

    #[test]
    fn syslog_lines_read_as_the_journal_would_carry_them() {
        let e = read(
            "Dec  7 10:00:00 web1 sshd[4711]: Failed password for root from 192.0.2.7 port 22 ssh2",
            &DatePattern::Auto,
        );
        assert_eq!(e.time_us, T * SEC);
        assert_eq!(e.fields.get("SYSLOG_IDENTIFIER"), Some(&b"sshd"[..]));
        assert_eq!(e.fields.get("_PID"), Some(&b"4711"[..]));
        assert_eq!(
            e.message_lossy(),
            "Failed password for root from 192.0.2.7 port 22 ssh2"
        );
    }

    #[test]
    fn web_server_lines_have_their_date_cut_as_fail2ban_does() {
        let e = read(
            "192.0.2.7 - - [07/Dec/2026:10:00:00 +0000] \"GET /pma/ HTTP/1.1\" 404 1 \"-\" \"x\"",
            &DatePattern::Auto,
        );
        assert_eq!(e.time_us, T * SEC);
        assert_eq!(
            e.message_lossy(),
            "192.0.2.7 - - [] \"GET /pma/ HTTP/1.1\" 404 1 \"-\" \"x\""
        );
        assert!(e.fields.is_empty());
        let e = read(
            "[Mon Dec 07 10:00:00.5 2026] [auth_basic:error] [pid 1] [client 192.0.2.7:5] AH01618: user x not found: /",
            &DatePattern::Auto,
        );
        assert_eq!(e.time_us, T * SEC + 500_000);
        assert_eq!(
            e.message_lossy(),
            "[] [auth_basic:error] [pid 1] [client 192.0.2.7:5] AH01618: user x not found: /"
        );
    }

    #[test]
    fn a_line_without_a_date_takes_the_read_time() {
        let e = read("login failed for 192.0.2.7", &DatePattern::Auto);
        assert_eq!(e.time_us, (T + 60) * SEC);
        assert_eq!(e.message_lossy(), "login failed for 192.0.2.7");
    }

    #[test]
    fn a_datepattern_replaces_the_default_shapes() {
        let p = DatePattern::parse("{^LN-BEG}%d.%m.%Y %H:%M:%S").unwrap();
        let e = read("07.12.2026 10:00:00 bad login from 192.0.2.7", &p);
        assert_eq!(e.time_us, T * SEC);
        assert_eq!(e.message_lossy(), "bad login from 192.0.2.7");
        // No syslog header parse with a datepattern: the line is the pattern's.
        let e = read("Dec  7 10:00:00 web1 app[1]: x", &p);
        assert_eq!(e.time_us, (T + 60) * SEC);
        assert_eq!(e.message_lossy(), "Dec  7 10:00:00 web1 app[1]: x");
    }

    #[test]
    fn line_file_reads_lines_across_buffer_edges_and_cuts_long_ones() {
        let long = format!("{}tail", "x".repeat(super::super::MAX_MESSAGE + 10));
        let input = format!("first 2026-12-07 10:00:00 a\r\n\n{long}\nsecond line\nlast");
        for cap in [1, 3, 64, 4096, 1 << 16] {
            let r = std::io::BufReader::with_capacity(
                cap,
                std::io::Cursor::new(input.clone().into_bytes()),
            );
            let mut f = LineFile::new(Box::new(r), DatePattern::Auto, &[]);
            let mut e = Entry::default();
            let mut got = Vec::new();
            while f.next(&mut e).unwrap() {
                got.push((
                    e.message.len(),
                    e.message_lossy().chars().take(12).collect::<String>(),
                ));
            }
            assert_eq!(
                got,
                vec![
                    (7, "first a".to_string()),
                    (super::super::MAX_MESSAGE, "xxxxxxxxxxxx".to_string()),
                    (11, "second line".to_string()),
                    (4, "last".to_string()),
                ],
                "buffer of {cap}"
            );
        }
    }
}
