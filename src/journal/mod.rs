//! Journal entries and the sources that produce them.
//!
//! Owns the [`Entry`] type (what every later stage sees) and the sources that fill it:
//! the native journal (`sdjournal`), syslog-style text (`syslog`). It must not know about
//! jails or filters beyond the list of field names it is asked to read.

pub mod datepattern;
pub mod filesource;
pub mod logfile;
pub mod mapped;
pub mod sdjournal;
pub mod source;
pub mod syslog;
pub mod text;

/// Largest MESSAGE we match against; longer ones are cut here (on a byte boundary,
/// matching works on bytes) so a hostile multi-megabyte entry costs no more than this.
pub const MAX_MESSAGE: usize = 8 * 1024;

/// One log record, from the journal or from a parsed text line.
///
/// Buffers are reused between entries by the sources, so reading does not allocate
/// per entry once warmed up.
#[derive(Debug, Default, Clone)]
pub struct Entry {
    /// Journal cursor, when the source has one and it was asked for.
    pub cursor: Option<String>,
    /// Source time, microseconds since the Unix epoch (UTC):
    /// `_SOURCE_REALTIME_TIMESTAMP` when present, else `__REALTIME_TIMESTAMP`.
    pub time_us: i64,
    /// MESSAGE, raw bytes (may be non-UTF-8), capped at [`MAX_MESSAGE`].
    pub message: Vec<u8>,
    /// Other fields that routing or filters asked for (`SYSLOG_IDENTIFIER`, `_PID`, ...).
    pub fields: Fields,
    /// The journal, or which logpaths' file (routing goes by it).
    pub origin: source::Origin,
    /// Read again after a restart to rebuild failure windows: count it, decide nothing
    /// (its decisions are in the state already).
    pub warm: bool,
}

impl Entry {
    pub fn clear(&mut self) {
        self.cursor = None;
        self.time_us = 0;
        self.message.clear();
        self.fields.clear();
        self.origin = source::Origin::Journal;
        self.warm = false;
    }

    /// Replace MESSAGE with `bytes`, capped at [`MAX_MESSAGE`].
    pub fn set_message(&mut self, bytes: &[u8]) {
        self.message.clear();
        self.message
            .extend_from_slice(&bytes[..bytes.len().min(MAX_MESSAGE)]);
    }

    /// Replace MESSAGE with `bytes` less the range `cut` (a date, cut as fail2ban
    /// does), capped at [`MAX_MESSAGE`].
    pub fn set_message_cut(&mut self, bytes: &[u8], cut: std::ops::Range<usize>) {
        let cut = cut.start.min(bytes.len())..cut.end.min(bytes.len());
        self.message.clear();
        let head = &bytes[..cut.start];
        self.message
            .extend_from_slice(&head[..head.len().min(MAX_MESSAGE)]);
        let room = MAX_MESSAGE - self.message.len();
        let tail = &bytes[cut.end.max(cut.start)..];
        self.message
            .extend_from_slice(&tail[..tail.len().min(room)]);
    }

    /// MESSAGE as text, lossy for invalid UTF-8 (for printing only).
    pub fn message_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.message)
    }
}

/// Routing (`route.rs`, the journalmatch grammar) looks at an entry's fields.
impl crate::route::HasFields for Entry {
    fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields.get(name)
    }
}

/// A small ordered set of `NAME=value` journal fields. Few fields per entry, so a vector
/// with linear lookup beats a map; names are journal field names (ASCII upper case).
#[derive(Debug, Default, Clone)]
pub struct Fields {
    items: Vec<(String, Vec<u8>)>,
    len: usize,
}

impl Fields {
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Set `name` to `value`, reusing an old slot's allocation when possible.
    pub fn set(&mut self, name: &str, value: &[u8]) {
        if let Some(i) = self.items[..self.len].iter().position(|(n, _)| n == name) {
            let v = &mut self.items[i].1;
            v.clear();
            v.extend_from_slice(value);
            return;
        }
        if self.len < self.items.len() {
            let slot = &mut self.items[self.len];
            // Sources set the same fields in the same order entry after entry: the
            // slot usually holds this name already.
            if slot.0 != name {
                slot.0.clear();
                slot.0.push_str(name);
            }
            slot.1.clear();
            slot.1.extend_from_slice(value);
        } else {
            self.items.push((name.to_owned(), value.to_vec()));
        }
        self.len += 1;
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.items[..self.len]
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.items[..self.len]
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
