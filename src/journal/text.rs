//! Text log lines (a file, stdin, or one line given on the command line) as entries.

use super::syslog::{parse_line_cached, HeaderFields, StampCache, TextContext};
use super::Entry;
use std::io::BufRead;

pub struct TextSource {
    reader: Box<dyn BufRead>,
    /// Only for a line that straddles the reader's buffer; other lines are parsed
    /// where they lie (copying each line first cost ~10% of a run).
    partial: Vec<u8>,
    ctx: TextContext,
    stamps: StampCache,
    keep: HeaderFields,
}

impl TextSource {
    pub fn new(reader: Box<dyn BufRead>, ctx: TextContext) -> TextSource {
        TextSource {
            reader,
            partial: Vec::new(),
            ctx,
            stamps: StampCache::default(),
            keep: HeaderFields::ALL,
        }
    }

    /// Write only these header fields into entries (default: all the header has).
    pub fn keep_fields(&mut self, names: &[String]) {
        self.keep = HeaderFields::only(names);
    }

    /// Next non-empty line as an entry; Ok(false) at end of input.
    pub fn next(&mut self, entry: &mut Entry) -> std::io::Result<bool> {
        loop {
            let avail = self.reader.fill_buf()?;
            if avail.is_empty() {
                // End of input: a last line without a newline is still a line.
                if self.partial.is_empty() {
                    return Ok(false);
                }
                let found = parse(&self.partial, &self.ctx, &mut self.stamps, self.keep, entry);
                self.partial.clear();
                if found {
                    return Ok(true);
                }
                continue;
            }
            let Some(nl) = memchr::memchr(b'\n', avail) else {
                let n = avail.len();
                self.partial.extend_from_slice(avail);
                self.reader.consume(n);
                continue;
            };
            let found = if self.partial.is_empty() {
                parse(&avail[..nl], &self.ctx, &mut self.stamps, self.keep, entry)
            } else {
                self.partial.extend_from_slice(&avail[..nl]);
                let found = parse(&self.partial, &self.ctx, &mut self.stamps, self.keep, entry);
                self.partial.clear();
                found
            };
            self.reader.consume(nl + 1);
            if found {
                return Ok(true);
            }
        }
    }
}

/// Parse one line (without its `\n`) into `entry`; false for a blank line.
fn parse(
    mut line: &[u8],
    ctx: &TextContext,
    stamps: &mut StampCache,
    keep: HeaderFields,
    entry: &mut Entry,
) -> bool {
    while let [rest @ .., b'\n' | b'\r'] = line {
        line = rest;
    }
    if line.is_empty() {
        return false;
    }
    parse_line_cached(line, ctx, stamps, keep, entry);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], capacity: usize) -> Vec<String> {
        let r = std::io::BufReader::with_capacity(capacity, std::io::Cursor::new(input.to_vec()));
        let mut src = TextSource::new(Box::new(r), TextContext::now_utc());
        let mut e = Entry::default();
        let mut out = Vec::new();
        while src.next(&mut e).unwrap() {
            out.push(e.message_lossy().into_owned());
        }
        out
    }

    #[test]
    fn lines_across_buffer_edges_blank_lines_and_no_final_newline() {
        let input = b"first line\r\n\n\nsecond, a longer line than the buffer\nlast";
        let want = vec![
            "first line",
            "second, a longer line than the buffer",
            "last",
        ];
        for cap in [1, 2, 7, 64, 4096] {
            assert_eq!(lines(input, cap), want, "buffer of {cap}");
        }
        assert!(lines(b"", 8).is_empty());
        assert!(lines(b"\n\r\n", 8).is_empty());
    }
}
