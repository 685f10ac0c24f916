//! A one-line progress display on standard error for the long offline commands
//! (replay, test-filter, doctor over a large journal; import-filter of many files).
//!
//! Shown only when standard error is a terminal, never with --json, and not when the
//! command also streams its results to a terminal on standard output (replay's live
//! timeline): the two would interleave. A pipe, a file or a CI log never sees it. The
//! line is erased when the work ends, so the command's output looks the same with or
//! without it.
//!
//! Our own few lines rather than indicatif: one line, redrawn at most ten times a
//! second, costs one counter increment per entry and a clock read per 1,024; the crate
//! would bring a dependency tree and a drawing thread for that.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const REDRAW: Duration = Duration::from_millis(100);
/// Entries between two looks at the clock.
const CHECK_EVERY: u64 = 1024;

pub struct Progress {
    on: bool,
    what: &'static str,
    total: Option<u64>,
    done: u64,
    until_check: u64,
    start: Instant,
    last_draw: Option<Instant>,
}

impl Progress {
    /// `what` names the unit counted ("entries", "files"); `total` when known;
    /// `streams_stdout`: the command prints results to stdout as it goes.
    pub fn new(what: &'static str, total: Option<u64>, json: bool, streams_stdout: bool) -> Self {
        let on = !json
            && std::io::stderr().is_terminal()
            && !(streams_stdout && std::io::stdout().is_terminal());
        Progress {
            on,
            what,
            total,
            done: 0,
            until_check: 0,
            start: Instant::now(),
            last_draw: None,
        }
    }

    /// One more unit done; `detail` (e.g. the entry's time) is asked for only when
    /// the line is redrawn.
    #[inline]
    pub fn tick(&mut self, detail: impl FnOnce() -> String) {
        self.done += 1;
        if !self.on {
            return;
        }
        if self.until_check > 0 {
            self.until_check -= 1;
            return;
        }
        self.until_check = CHECK_EVERY - 1;
        let now = Instant::now();
        if self.last_draw.is_some_and(|t| now - t < REDRAW) {
            return;
        }
        self.last_draw = Some(now);
        self.draw(&detail());
    }

    /// Redraw now (between files, where each unit is slow).
    pub fn tick_slow(&mut self, detail: &str) {
        self.done += 1;
        if self.on {
            self.last_draw = Some(Instant::now());
            self.draw(detail);
        }
    }

    fn draw(&self, detail: &str) {
        let secs = self.start.elapsed().as_secs_f64();
        let rate = if secs > 0.0 {
            self.done as f64 / secs
        } else {
            0.0
        };
        let count = match self.total {
            Some(t) if t > 0 => format!(
                "{}/{} {} ({}%)",
                self.done,
                t,
                self.what,
                self.done * 100 / t
            ),
            _ => format!("{} {}", self.done, self.what),
        };
        let mut line = format!("{count}, {rate:.0}/s");
        if !detail.is_empty() {
            line.push_str(", ");
            line.push_str(detail);
        }
        // Keep it to one terminal line: a wrapped line cannot be erased with \r.
        if line.len() > 100 {
            let mut cut = 100;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[2K{line}");
        let _ = e.flush();
    }

    /// Erase the line before other output goes to the terminal; the next tick
    /// draws it again.
    pub fn clear(&mut self) {
        if self.on && self.last_draw.is_some() {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2K");
            let _ = e.flush();
        }
    }

    /// Erase the line for good (also on early return: see Drop).
    pub fn finish(&mut self) {
        self.clear();
        self.on = false;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
