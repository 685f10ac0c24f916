//! A one-line progress display on the terminal for the commands that can run long
//! (`replay` and `test-filter` over a large journal, `import-filter` of many files):
//! how far, how fast, redrawn on stderr at most every 100 ms.
//!
//! Never shown unless both stdout and stderr are terminals, and never with `--json`:
//! a pipe, a file or a script sees only the command's output, byte for byte as
//! without it. Small enough not to need a crate (indicatif would bring four).
//!
//! Whatever the command prints to the terminal while a line is drawn goes through
//! [`Progress::clear`] first, and the command flushes its stdout before each
//! [`Progress::tick`] that may redraw, so output and the progress line never mix.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_millis(100);
/// Without a known total a tick is one journal entry: look at the clock only every
/// this many. With a total (files), at every tick.
const CHECK_EVERY: u64 = 256;

pub struct Progress {
    on: bool,
    label: &'static str,
    unit: &'static str,
    total: Option<u64>,
    n: u64,
    started: Instant,
    last: Option<Instant>,
    drawn: bool,
}

impl Progress {
    /// `label`: the command; `unit`: what is counted ("entries", "files"); `total`:
    /// how many there will be, when known. Off with `json`, or off a terminal.
    pub fn new(label: &'static str, unit: &'static str, total: Option<u64>, json: bool) -> Self {
        let on = !json && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        Progress {
            on,
            label,
            unit,
            total,
            n: 0,
            started: Instant::now(),
            last: None,
            drawn: false,
        }
    }

    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Is a redraw due at `n` done? (The caller flushes its stdout, then calls
    /// [`Progress::draw`].) Cheap enough to call per journal entry.
    pub fn due(&mut self, n: u64) -> bool {
        self.n = n;
        if !self.on {
            return false;
        }
        match self.last {
            None => true,
            Some(_) if self.total.is_none() && n % CHECK_EVERY != 0 => false,
            Some(t) => t.elapsed() >= EVERY,
        }
    }

    /// [`Progress::due`] and [`Progress::draw`] for callers with nothing on stdout.
    pub fn tick(&mut self, n: u64) {
        if self.due(n) {
            self.draw("");
        }
    }

    /// Draw the line now, with `extra` after the count (", 12 bans").
    pub fn draw(&mut self, extra: &str) {
        if !self.on {
            return;
        }
        let now = Instant::now();
        self.last = Some(now);
        let secs = now.duration_since(self.started).as_secs_f64();
        let of = self
            .total
            .map(|t| format!("/{}", group(t)))
            .unwrap_or_default();
        // A rate of entries says how long a journal takes; of files, nothing.
        let rate = if secs >= 0.5 && self.total.is_none() {
            format!(", {}/s", group((self.n as f64 / secs) as u64))
        } else {
            String::new()
        };
        let mut e = std::io::stderr().lock();
        let _ = write!(
            e,
            "\r\x1b[2K{}: {}{of} {}{rate}{extra} ({secs:.0} s)",
            self.label,
            group(self.n),
            self.unit
        );
        let _ = e.flush();
        self.drawn = true;
    }

    /// Take the line away before printing to the terminal (it comes back at the next
    /// redraw).
    pub fn clear(&mut self) {
        if self.drawn {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2K");
            let _ = e.flush();
            self.drawn = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

/// 1234567 -> "1,234,567".
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1_234_567), "1,234,567");
    }

    #[test]
    fn off_a_terminal_nothing_is_ever_due() {
        // cargo test's stdout is a pipe (or captured): never on.
        let mut p = Progress::new("replay", "entries", None, false);
        if !p.is_on() {
            assert!(!p.due(0));
            p.draw("");
            assert!(!p.drawn);
        }
        let mut p = Progress::new("replay", "entries", None, true);
        assert!(!p.is_on() && !p.due(0));
    }
}
