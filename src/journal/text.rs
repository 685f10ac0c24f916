//! Text log lines (a file, stdin, or one line given on the command line) as entries.

use super::syslog::{parse_line, LineFormat, TextContext};
use super::Entry;
use std::io::BufRead;

pub struct TextSource {
    reader: Box<dyn BufRead>,
    buf: Vec<u8>,
    ctx: TextContext,
    /// Lines per recognised format, for the report.
    pub formats: std::collections::BTreeMap<&'static str, u64>,
}

impl TextSource {
    pub fn new(reader: Box<dyn BufRead>, ctx: TextContext) -> TextSource {
        TextSource {
            reader,
            buf: Vec::with_capacity(4096),
            ctx,
            formats: Default::default(),
        }
    }

    /// Next non-empty line as an entry; Ok(false) at end of input.
    pub fn next(&mut self, entry: &mut Entry) -> std::io::Result<bool> {
        loop {
            self.buf.clear();
            if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
                return Ok(false);
            }
            let mut line = self.buf.as_slice();
            while let [rest @ .., b'\n' | b'\r'] = line {
                line = rest;
            }
            if line.is_empty() {
                continue;
            }
            let fmt = parse_line(line, &self.ctx, entry);
            *self.formats.entry(format_name(fmt)).or_insert(0) += 1;
            return Ok(true);
        }
    }
}

pub fn format_name(f: LineFormat) -> &'static str {
    match f {
        LineFormat::Rfc3164 => "RFC 3164 syslog",
        LineFormat::Rfc5424 => "RFC 5424 syslog",
        LineFormat::Iso8601 => "ISO 8601",
        LineFormat::JournalShort => "journalctl short",
        LineFormat::JournalShortIso => "journalctl short-iso",
        LineFormat::Plain => "plain (no header)",
    }
}
