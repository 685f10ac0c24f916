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
                entry.time_us = self.dates.now_us();
                entry.set_message(line);
            }
        }
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
        Ok(LogFileSource {
            files,
            paths,
            lines: LineReader::new(now_us(), Zone::Host, fields),
            entry: Entry::default(),
            since,
        })
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
        self.lines.set_now(now_us());
        let mut n = 0;
        while n < max {
            let Some(line) = self.files.next_line() else {
                break;
            };
            let mut mask = 0u64;
            for &p in line.patterns {
                if p < 64 {
                    mask |= 1 << p;
                }
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
