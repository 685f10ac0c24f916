//! Log files beside the journal: follow files and globs as `tail -F` does, and say
//! exactly where reading stands, so that a restart neither misses nor re-reads a line.
//!
//! Owns: finding the files a `logpath` names, reading their lines, and everything a
//! file can do under us: grow, be renamed away with a new file in its place (logrotate's
//! default), be copied and truncated (`copytruncate`), be truncated or rewritten, be
//! deleted, appear later. Must not: parse dates, know jails or decide anything; lines go
//! out as bytes with the file they came from ([`LogLine`]).
//!
//! How it waits: one inotify instance watching the *directories* of the files (a
//! directory watch reports writes to the files in it too), so a quiet host costs no
//! wake-up, a new line is read within milliseconds, and no watch descriptor is tied to
//! a file that rotation replaces. A file renamed away is read on to its end (its writer
//! keeps appending until it reopens) and closed once it has been quiet for
//! [`ROTATED_GRACE`]; while it is open it is also looked at every [`ROTATED_POLL`], in
//! case it was moved to another directory where no watch sees it.
//!
//! Positions are per file, by device and inode, with a hash of the first line (as
//! fail2ban keeps) to recognise a copy, and a warm-up offset: where the caller's
//! longest findtime window began, so that after a restart failure windows can be
//! rebuilt from the file itself ([`FilePos::warm`]; the caller reports line times
//! with [`LogFiles::note_time`]).

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest line handed out; longer ones are cut here and the rest of the line is
/// skipped, as MESSAGE is capped in the journal path.
pub const MAX_LINE: usize = super::MAX_MESSAGE;
/// A file renamed away or deleted is read on until it has had nothing new this long.
pub const ROTATED_GRACE: Duration = Duration::from_secs(30);
/// How often such a file is looked at without an inotify event.
pub const ROTATED_POLL: Duration = Duration::from_secs(1);
/// How much is read from a file at once.
const CHUNK: usize = 256 * 1024;
/// How many bytes of a file's start the first-line hash covers at most.
const HEAD_MAX: usize = 1024;
/// Warm-up checkpoints kept per file (see [`Checkpoints`]).
const CHECKPOINTS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum LogFileError {
    #[error("logpath {pattern:?}: {reason}")]
    Pattern { pattern: String, reason: String },
    #[error("inotify: {0}")]
    Inotify(nix::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Where reading of one file stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePos {
    /// Where the file was last seen (a rotated file keeps its old name here).
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    /// Just after the last line handed out.
    pub offset: u64,
    /// FNV-1a of the file's first line (up to [`HEAD_MAX`] bytes); 0 while the file
    /// has no complete first line.
    pub head: u64,
    /// Where to start re-reading at a restart: the start of the first line inside the
    /// caller's window before `offset` (see [`LogFiles::note_time`]); `offset` when the
    /// caller keeps no window.
    pub warm: u64,
}

/// Everything needed to resume: each file's position, and which logpath patterns had
/// been read (a file of a known pattern without a position appeared while banjo was
/// down and is read from its start; a new pattern's files start at their end).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Positions {
    pub patterns: Vec<String>,
    pub files: Vec<FilePos>,
}

/// Where to start a file that has no saved position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At its end: only lines written from now on (a first start).
    End,
    /// At its beginning (replay, `--since`).
    Beginning,
}

/// One line, borrowed until the next call.
#[derive(Debug)]
pub struct LogLine<'a> {
    /// Without its newline (and a trailing `\r`); at most [`MAX_LINE`] bytes.
    pub bytes: &'a [u8],
    /// The file it came from, as it was named when opened.
    pub path: &'a Path,
    /// Indexes (into the follower's patterns) of the logpaths this file matches.
    pub patterns: &'a [u16],
    /// Read again to rebuild windows after a restart: count it, decide nothing.
    pub warm: bool,
}

/// One logpath: a directory and a file-name pattern (`*`, `?`, `[…]`; a literal name
/// is a pattern that matches itself). Globs in directory parts are resolved when the
/// follower opens, and again at every reload.
#[derive(Debug)]
struct PathPattern {
    text: String,
    dir: PathBuf,
    name: glob::Pattern,
}

impl PathPattern {
    fn parse(text: &str) -> Result<Vec<PathPattern>, LogFileError> {
        let err = |reason: String| LogFileError::Pattern {
            pattern: text.to_owned(),
            reason,
        };
        let path = Path::new(text);
        if !path.is_absolute() {
            return Err(err("must be an absolute path".into()));
        }
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(err("names no file".into()));
        };
        let name = name
            .to_str()
            .ok_or_else(|| err("is not valid UTF-8".into()))?;
        let name = glob::Pattern::new(name).map_err(|e| err(e.to_string()))?;
        let dir_text = dir.to_string_lossy();
        if !dir_text.contains(['*', '?', '[']) {
            return Ok(vec![PathPattern {
                text: text.to_owned(),
                dir: dir.to_owned(),
                name,
            }]);
        }
        let dirs = glob::glob(&dir_text).map_err(|e| err(e.to_string()))?;
        Ok(dirs
            .filter_map(Result::ok)
            .filter(|d| d.is_dir())
            .map(|d| PathPattern {
                text: text.to_owned(),
                dir: d,
                name: name.clone(),
            })
            .collect())
    }

    fn matches(&self, dir: &Path, name: &str) -> bool {
        dir == self.dir && self.name.matches(name)
    }
}

/// One open file.
#[derive(Debug)]
struct Open {
    path: PathBuf,
    file: File,
    dev: u64,
    ino: u64,
    patterns: Vec<u16>,
    /// Bytes handed out as lines (or skipped) so far: the position.
    offset: u64,
    /// Bytes read from the file so far; `buf` holds those after `offset`.
    read_to: u64,
    buf: Vec<u8>,
    /// Where in `buf` the next line starts.
    start: usize,
    /// Inside a line longer than MAX_LINE, whose start was handed out: skip to its end.
    skipping: bool,
    /// Where the line last handed out began (for warm-up checkpoints).
    last_line_start: u64,
    head: Head,
    /// Whether `head` is fed from the bytes read (the file was read from its start);
    /// otherwise it is read from the file when needed.
    head_fed: bool,
    /// The last read found the end: before reading on, make sure the file was not
    /// truncated or rewritten in between (a rewrite longer than what we had read
    /// would otherwise be read from the middle).
    at_end: bool,
    /// Lines before this offset are warm-up lines.
    warm_until: u64,
    checkpoints: Checkpoints,
    /// Renamed away or deleted: drain, then close (see ROTATED_GRACE).
    gone: bool,
    last_data: Instant,
}

/// The first-line hash of a file, computed as its bytes go by.
#[derive(Debug, Clone, Copy, Default)]
struct Head {
    hash: u64,
    len: usize,
    done: bool,
}

impl Head {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

    fn known(hash: u64) -> Head {
        Head {
            hash,
            len: 1,
            done: true,
        }
    }

    /// The hash of the first line of `bytes`, if it holds a whole one.
    fn of(bytes: &[u8]) -> Option<u64> {
        let mut h = Head::default();
        h.feed(bytes);
        h.done.then_some(h.hash)
    }

    /// Take the file's next bytes (from its start, in order).
    fn feed(&mut self, bytes: &[u8]) {
        if self.done {
            return;
        }
        if self.len == 0 {
            self.hash = Head::FNV_OFFSET;
        }
        for &b in bytes {
            if b == b'\n' || self.len == HEAD_MAX {
                self.done = true;
                return;
            }
            // FNV-1a: stable across builds and versions, as a saved position needs
            // (std's hashers promise neither); the first line is short.
            self.hash = (self.hash ^ u64::from(b)).wrapping_mul(Head::FNV_PRIME);
            self.len += 1;
        }
    }

    fn value(&self) -> u64 {
        if self.done {
            self.hash
        } else {
            0
        }
    }
}

/// (time, offset of a line start) samples, so a restart can re-read one findtime of a
/// file. At most CHECKPOINTS; when full, every other one goes, so they thin out
/// evenly whatever the rate.
#[derive(Debug, Default)]
struct Checkpoints {
    v: Vec<(i64, u64)>,
    /// Minimum spacing in time; doubles when thinned.
    step: i64,
}

impl Checkpoints {
    fn note(&mut self, time_us: i64, line_start: u64, window: i64) {
        if self.step == 0 {
            self.step = (window / CHECKPOINTS as i64).max(1_000_000);
        }
        if self.v.last().is_some_and(|&(t, _)| time_us < t + self.step) {
            return;
        }
        self.v.push((time_us, line_start));
        // Keep one checkpoint at or before the window's start.
        let from = time_us - window;
        let keep = self.v.iter().rposition(|&(t, _)| t <= from).unwrap_or(0);
        self.v.drain(..keep);
        if self.v.len() > CHECKPOINTS {
            let thinned: Vec<(i64, u64)> = self.v.iter().copied().step_by(2).collect();
            self.v = thinned;
            self.step *= 2;
        }
    }

    /// Where the window that ends at the latest checkpoint starts.
    fn warm(&self, offset: u64) -> u64 {
        self.v.first().map_or(offset, |&(_, o)| o.min(offset))
    }
}

/// The files of a set of logpaths, followed.
pub struct LogFiles {
    patterns: Vec<PathPattern>,
    /// The pattern texts as given, indexed by [`LogLine::patterns`].
    texts: Vec<String>,
    inotify: Inotify,
    watches: HashMap<WatchDescriptor, PathBuf>,
    files: Vec<Open>,
    /// The file next_line reads from.
    cur: usize,
    /// The caller's longest window (findtime), for warm-up offsets.
    window_us: i64,
    /// Things worth saying (a copy recovered, lines lost): taken by the caller.
    notes: Vec<String>,
    /// ROTATED_GRACE, shorter in tests.
    grace: Duration,
}

impl LogFiles {
    /// Follow the files of `patterns` (absolute paths, globs allowed), resuming from
    /// `saved` where it knows a file and starting other files as `start` says.
    pub fn open(
        patterns: &[String],
        saved: &Positions,
        start: Start,
        window_us: i64,
    ) -> Result<LogFiles, LogFileError> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(LogFileError::Inotify)?;
        let mut lf = LogFiles {
            patterns: Vec::new(),
            texts: patterns.to_vec(),
            inotify,
            watches: HashMap::new(),
            files: Vec::new(),
            cur: 0,
            window_us,
            notes: Vec::new(),
            grace: ROTATED_GRACE,
        };
        for p in patterns {
            lf.patterns.extend(PathPattern::parse(p)?);
        }
        lf.watch_dirs();
        lf.resume(saved, start);
        Ok(lf)
    }

    /// The inotify fd, to poll for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    /// Which pattern texts this follower reads, in [`LogLine::patterns`] order.
    pub fn pattern_texts(&self) -> &[String] {
        &self.texts
    }

    /// Messages for the log (a rotated copy recovered, a position that could not be
    /// found again), once each.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    fn pattern_index(&self, text: &str) -> u16 {
        self.texts.iter().position(|t| t == text).unwrap_or(0) as u16
    }

    /// Watch every pattern's directory, or, where it does not exist yet, its nearest
    /// existing ancestor (so its creation is seen).
    fn watch_dirs(&mut self) {
        let dirs: Vec<PathBuf> = self.patterns.iter().map(|p| p.dir.clone()).collect();
        for d in dirs {
            let mut d = d.as_path();
            while !d.is_dir() {
                match d.parent() {
                    Some(p) => d = p,
                    None => break,
                }
            }
            if self.watches.values().any(|w| w == d) {
                continue;
            }
            let flags = AddWatchFlags::IN_MODIFY
                | AddWatchFlags::IN_CREATE
                | AddWatchFlags::IN_MOVED_FROM
                | AddWatchFlags::IN_MOVED_TO
                | AddWatchFlags::IN_DELETE
                | AddWatchFlags::IN_DELETE_SELF
                | AddWatchFlags::IN_MOVE_SELF
                | AddWatchFlags::IN_ATTRIB;
            match self.inotify.add_watch(d, flags) {
                Ok(wd) => {
                    self.watches.insert(wd, d.to_owned());
                }
                Err(e) => self.notes.push(format!(
                    "cannot watch {}: {e}; new lines there are read only at other wake-ups",
                    d.display()
                )),
            }
        }
    }

    /// The files the patterns match now: (path, indexes of matching patterns).
    fn matching_files(&self) -> Vec<(PathBuf, Vec<u16>)> {
        let mut out: Vec<(PathBuf, Vec<u16>)> = Vec::new();
        for p in &self.patterns {
            let Ok(rd) = std::fs::read_dir(&p.dir) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                if !p.name.matches(name) {
                    continue;
                }
                let path = e.path();
                // Regular files only (following a symlink to one), never a directory
                // or a FIFO that would block a read.
                if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                    continue;
                }
                let idx = self.pattern_index(&p.text);
                match out.iter_mut().find(|(q, _)| *q == path) {
                    Some((_, v)) => {
                        if !v.contains(&idx) {
                            v.push(idx);
                        }
                    }
                    None => out.push((path, vec![idx])),
                }
            }
        }
        out
    }

    /// Open what the patterns match now, at the saved positions.
    fn resume(&mut self, saved: &Positions, start: Start) {
        let mut used = vec![false; saved.files.len()];
        for (path, pats) in self.matching_files() {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let known = saved
                .files
                .iter()
                .position(|f| f.dev == meta.dev() && f.ino == meta.ino());
            let known_pattern = pats
                .iter()
                .any(|&i| saved.patterns.contains(&self.texts[i as usize]));
            let opened = match known {
                Some(i) => {
                    used[i] = true;
                    self.open_at_saved(&path, pats, &saved.files[i], false)
                }
                // Appeared while we were down: every line in it is new.
                None if known_pattern => self.open_file(&path, pats, OpenAt::Beginning, false),
                None => self.open_file(
                    &path,
                    pats,
                    match start {
                        Start::End => OpenAt::End,
                        Start::Beginning => OpenAt::Beginning,
                    },
                    false,
                ),
            };
            if let Err(e) = opened {
                self.notes.push(e.to_string());
            }
        }
        // Saved files no pattern matches any more: rotated while we were down. Find
        // them by inode (renamed) or by their first line (copied), and read their rest.
        for (i, pos) in saved.files.iter().enumerate() {
            if used[i] {
                continue;
            }
            let pats: Vec<u16> = self
                .patterns
                .iter()
                .filter(|p| pos.path.parent() == Some(p.dir.as_path()))
                .map(|p| self.pattern_index(&p.text))
                .collect();
            if pats.is_empty() {
                continue;
            }
            match find_rotated(pos) {
                Some(path) => {
                    if let Err(e) = self.open_at_saved(&path, pats, pos, true) {
                        self.notes.push(e.to_string());
                    }
                }
                None if pos.offset > 0 => self.notes.push(format!(
                    "{}: rotated away while banjo was stopped and not found again (looked for its inode and its first line in {}); lines written to it after banjo stopped are not read",
                    pos.path.display(),
                    pos.path.parent().unwrap_or(Path::new("/")).display()
                )),
                None => {}
            }
        }
    }

    /// Reopen a file we had read before: at its saved offset (re-reading from the
    /// warm-up offset), unless it was truncated or rewritten since (then from its start).
    fn open_at_saved(
        &mut self,
        path: &Path,
        pats: Vec<u16>,
        pos: &FilePos,
        gone: bool,
    ) -> Result<(), LogFileError> {
        let io_err = |source| LogFileError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let size = file.metadata().map_err(io_err)?.len();
        let head = read_head(&file).map_err(io_err)?;
        let same = pos.offset <= size && (pos.head == 0 || head == Some(pos.head));
        if !same {
            let copy = find_copy(path, pos.head, pos.offset, pos.dev, pos.ino);
            self.notes.push(format!(
                "{}: truncated or replaced while banjo was stopped; reading it from its start{}",
                path.display(),
                copy.as_ref()
                    .map(|c| format!(", and the rest of its copy {}", c.display()))
                    .unwrap_or_default()
            ));
            if let Some(c) = copy {
                let at = OpenAt::Saved {
                    offset: pos.offset,
                    warm: pos.warm.min(pos.offset),
                };
                if let Err(e) = self.open_file(&c, pats.clone(), at, true) {
                    self.notes.push(e.to_string());
                }
            }
            return self.open_file(path, pats, OpenAt::Beginning, gone);
        }
        self.open_file(
            path,
            pats,
            OpenAt::Saved {
                offset: pos.offset,
                warm: pos.warm.min(pos.offset),
            },
            gone,
        )
    }

    fn open_file(
        &mut self,
        path: &Path,
        patterns: Vec<u16>,
        at: OpenAt,
        gone: bool,
    ) -> Result<(), LogFileError> {
        let io_err = |source| LogFileError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if self
            .files
            .iter()
            .any(|f| f.dev == meta.dev() && f.ino == meta.ino())
        {
            return Ok(());
        }
        let (read_from, warm_until) = match at {
            OpenAt::Beginning => (0, 0),
            OpenAt::End => (meta.len(), 0),
            OpenAt::Saved { offset, warm } => (warm, offset),
        };
        // The head hash needs the first line whatever the start.
        let mut head = Head::default();
        if read_from > 0 {
            if let Some(h) = read_head(&file).map_err(io_err)? {
                head = Head::known(h);
            }
        }
        file.seek(SeekFrom::Start(read_from)).map_err(io_err)?;
        self.files.push(Open {
            path: path.to_owned(),
            file,
            dev: meta.dev(),
            ino: meta.ino(),
            patterns,
            offset: read_from,
            read_to: read_from,
            buf: Vec::new(),
            start: 0,
            skipping: false,
            last_line_start: read_from,
            head,
            head_fed: read_from == 0,
            at_end: false,
            warm_until,
            checkpoints: Checkpoints::default(),
            gone,
            last_data: Instant::now(),
        });
        Ok(())
    }

    /// Read the inotify events and bring the set of files up to date: new files,
    /// files renamed away or deleted, directories that appeared.
    pub fn process_events(&mut self) {
        let mut rescan = false;
        loop {
            let events = match self.inotify.read_events() {
                Ok(ev) => ev,
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(e) => {
                    self.notes.push(format!("reading inotify events: {e}"));
                    rescan = true;
                    break;
                }
            };
            for ev in events {
                if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    rescan = true;
                    continue;
                }
                if ev.mask.intersects(
                    AddWatchFlags::IN_IGNORED
                        | AddWatchFlags::IN_DELETE_SELF
                        | AddWatchFlags::IN_MOVE_SELF,
                ) {
                    // A watched directory went away (or was renamed): watch what is
                    // there now, or the nearest ancestor until it comes back.
                    self.watches.remove(&ev.wd);
                    rescan = true;
                    continue;
                }
                let Some(dir) = self.watches.get(&ev.wd).cloned() else {
                    continue;
                };
                let Some(name) = ev.name.as_ref().and_then(|n| n.to_str()) else {
                    continue;
                };
                if ev.mask.contains(AddWatchFlags::IN_MODIFY) {
                    continue; // read by next_line
                }
                if !self.patterns.iter().any(|p| p.matches(&dir, name)) {
                    // A directory on the way to a pattern's directory was created.
                    if ev.mask.contains(AddWatchFlags::IN_ISDIR) {
                        rescan = true;
                    }
                    continue;
                }
                self.path_changed(&dir.join(name));
            }
        }
        if rescan {
            self.rescan();
        }
    }

    /// Something happened to `path` (created, moved in or out, deleted).
    fn path_changed(&mut self, path: &Path) {
        let now = std::fs::metadata(path).ok().filter(|m| m.is_file());
        for f in &mut self.files {
            if f.path == path
                && !f.gone
                && now
                    .as_ref()
                    .is_none_or(|m| (m.dev(), m.ino()) != (f.dev, f.ino))
            {
                // Renamed away or deleted: its writer may still append until it
                // reopens; read it to the end, then close it.
                f.gone = true;
                f.last_data = Instant::now();
            }
        }
        if now.is_some() {
            let pats: Vec<u16> = self
                .patterns
                .iter()
                .filter(|p| {
                    path.parent().is_some_and(|d| {
                        path.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| p.matches(d, n))
                    })
                })
                .map(|p| self.pattern_index(&p.text))
                .collect();
            // A new file (or one moved in): every line in it is new.
            if let Err(e) = self.open_file(path, pats, OpenAt::Beginning, false) {
                self.notes.push(e.to_string());
            }
        }
    }

    /// Look again at everything: after an inotify overflow, or when directories came
    /// or went.
    fn rescan(&mut self) {
        let texts = self.texts.clone();
        self.patterns.clear();
        for t in &texts {
            match PathPattern::parse(t) {
                Ok(p) => self.patterns.extend(p),
                Err(e) => self.notes.push(e.to_string()),
            }
        }
        self.watch_dirs();
        for (path, _) in self.matching_files() {
            self.path_changed(&path);
        }
        let paths: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|f| !f.gone)
            .map(|f| f.path.clone())
            .collect();
        for p in paths {
            if !p.exists() {
                self.path_changed(&p);
            }
        }
    }

    /// When to look at rotated files again, or close them.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.files
            .iter()
            .filter(|f| f.gone)
            .map(|f| (f.last_data + self.grace).min(Instant::now() + ROTATED_POLL))
            .min()
    }

    /// Close rotated files that have been quiet for ROTATED_GRACE, after reading what
    /// they hold.
    fn close_drained(&mut self) {
        let before = self.files.len();
        let grace = self.grace;
        self.files
            .retain(|f| !(f.gone && f.last_data.elapsed() >= grace && f.start >= f.buf.len()));
        if self.files.len() != before {
            self.cur = 0;
        }
    }

    /// The next whole line available now, or None until something changes.
    pub fn next_line(&mut self) -> Option<LogLine<'_>> {
        loop {
            if self.cur >= self.files.len() {
                self.cur = 0;
                self.close_drained();
                return None;
            }
            let i = self.cur;
            let grace = self.grace;
            match self.files[i].take_line(grace) {
                Some((start, end)) => {
                    let f = &self.files[i];
                    let line_end = f.offset;
                    return Some(LogLine {
                        bytes: trim_cr(&f.buf[start..end]),
                        path: &f.path,
                        patterns: &f.patterns,
                        warm: line_end <= f.warm_until,
                    });
                }
                None => match self.fill(i) {
                    Ok(true) => {}
                    Ok(false) => self.cur += 1,
                    Err(e) => {
                        self.notes
                            .push(format!("{}: {e}", self.files[i].path.display()));
                        self.cur += 1;
                    }
                },
            }
        }
    }

    /// Record the time of the line just handed out (for warm-up offsets). Lines
    /// without a time of their own may be given the time they were read.
    pub fn note_time(&mut self, time_us: i64) {
        let window = self.window_us;
        if window <= 0 {
            return;
        }
        if let Some(f) = self.files.get_mut(self.cur) {
            let start = f.last_line_start;
            f.checkpoints.note(time_us, start, window);
        }
    }

    /// Read more of file `i` into its buffer. Ok(false): nothing more now.
    fn fill(&mut self, i: usize) -> io::Result<bool> {
        if self.files[i].at_end {
            self.files[i].at_end = false;
            if self.check_truncated(i)? {
                return Ok(true);
            }
        }
        let f = &mut self.files[i];
        // Keep only the unconsumed tail of the buffer.
        if f.start > 0 {
            f.buf.drain(..f.start);
            f.start = 0;
        }
        let have = f.buf.len();
        f.buf.resize(have + CHUNK, 0);
        let n = match f.file.read(&mut f.buf[have..]) {
            Ok(n) => n,
            Err(e) => {
                f.buf.truncate(have);
                return Err(e);
            }
        };
        f.buf.truncate(have + n);
        if n > 0 {
            if !f.head.done {
                if f.head_fed {
                    f.head.feed(&f.buf[have..]);
                } else if let Some(h) = read_head(&f.file)? {
                    f.head = Head::known(h);
                }
            }
            f.read_to += n as u64;
            f.last_data = Instant::now();
            return Ok(true);
        }
        // At the end: has the file been truncated under us? (Checked again before the
        // next read, since the truncation may come between.)
        f.at_end = true;
        if self.check_truncated(i)? {
            return Ok(true);
        }
        self.files[i].at_end = true;
        Ok(false)
    }

    /// At end of file: a file shorter than what we read, or whose first line changed,
    /// was truncated (by copytruncate, `> file`, or a writer that rewrote it). Lines
    /// written after our last read and before the truncation are in the copy if
    /// logrotate made one: find it by its first line and read its rest first. Then
    /// read the file anew from its start. True if something changed.
    fn check_truncated(&mut self, i: usize) -> io::Result<bool> {
        let f = &mut self.files[i];
        let size = f.file.metadata()?.len();
        let head_now = if f.head.done {
            read_head(&f.file)?
        } else {
            None
        };
        let shrunk = size < f.read_to;
        let rewritten = f.head.done && head_now.is_some_and(|h| h != f.head.hash);
        if !shrunk && !rewritten {
            return Ok(false);
        }
        let pos = f.position();
        let pats = f.patterns.clone();
        let path = f.path.clone();
        // Restart this file at 0: the buffer held only a partial line of old content.
        f.file.seek(SeekFrom::Start(0))?;
        f.offset = 0;
        f.read_to = 0;
        f.buf.clear();
        f.start = 0;
        f.skipping = false;
        f.head = Head::default();
        f.head_fed = true;
        f.warm_until = 0;
        f.checkpoints = Checkpoints::default();
        if pos.offset > 0 && pos.head != 0 {
            if let Some(copy) = find_copy(&path, pos.head, pos.offset, pos.dev, pos.ino) {
                self.notes.push(format!(
                    "{} was truncated; reading the lines it had before from its copy {}",
                    path.display(),
                    copy.display()
                ));
                let at = OpenAt::Saved {
                    offset: pos.offset,
                    warm: pos.offset,
                };
                if let Err(e) = self.open_file(&copy, pats, at, true) {
                    self.notes.push(e.to_string());
                }
            }
        }
        Ok(true)
    }

    /// Where reading stands, for the state (with the patterns read).
    pub fn positions(&self) -> Positions {
        Positions {
            patterns: self.texts.clone(),
            files: self.files.iter().map(Open::position).collect(),
        }
    }

    /// How many files are open (current and rotated), for status and leak tests.
    pub fn open_files(&self) -> usize {
        self.files.len()
    }
}

#[derive(Debug, Clone, Copy)]
enum OpenAt {
    Beginning,
    End,
    /// Resume: read from `warm` (warm-up lines) and decide from `offset` on.
    Saved {
        offset: u64,
        warm: u64,
    },
}

impl Open {
    /// Next whole line in the buffer: its (start, end) in `buf`, advancing the
    /// position past it. A line over MAX_LINE is cut, and the rest of it skipped.
    fn take_line(&mut self, grace: Duration) -> Option<(usize, usize)> {
        loop {
            let avail = &self.buf[self.start..];
            if avail.is_empty() {
                return None;
            }
            match memchr::memchr(b'\n', avail) {
                Some(nl) => {
                    let s = self.start;
                    self.start += nl + 1;
                    self.last_line_start = self.offset;
                    self.offset += nl as u64 + 1;
                    if self.skipping {
                        self.skipping = false;
                        continue;
                    }
                    let end = s + nl.min(MAX_LINE);
                    if end == s {
                        continue; // blank line
                    }
                    return Some((s, end));
                }
                None if self.skipping => {
                    let n = avail.len();
                    self.start += n;
                    self.offset += n as u64;
                }
                None if avail.len() >= MAX_LINE => {
                    // A line longer than MAX_LINE: hand out its start now.
                    let s = self.start;
                    self.start += MAX_LINE;
                    self.last_line_start = self.offset;
                    self.offset += MAX_LINE as u64;
                    self.skipping = true;
                    return Some((s, s + MAX_LINE));
                }
                None if self.gone && self.last_data.elapsed() >= grace => {
                    // A rotated file's last line without a newline: its writer is
                    // gone, so it is whole.
                    let s = self.start;
                    let n = avail.len();
                    self.start += n;
                    self.last_line_start = self.offset;
                    self.offset += n as u64;
                    return Some((s, s + n));
                }
                // An incomplete line: its writer is still writing it.
                None => return None,
            }
        }
    }

    fn position(&self) -> FilePos {
        FilePos {
            path: self.path.clone(),
            dev: self.dev,
            ino: self.ino,
            offset: self.offset,
            head: self.head.value(),
            warm: self.checkpoints.warm(self.offset),
        }
    }
}

fn trim_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// The first-line hash of a file, read from its start (pread: the file's own offset
/// stays where reading is).
fn read_head(file: &File) -> io::Result<Option<u64>> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; HEAD_MAX + 1];
    let mut n = 0;
    while n < buf.len() {
        let r = file.read_at(&mut buf[n..], n as u64)?;
        if r == 0 {
            break;
        }
        n += r;
        if buf[..n].contains(&b'\n') {
            break;
        }
    }
    Ok(Head::of(&buf[..n]))
}

/// Files in `dir` whose name starts with `stem` (access.log.1, access.log-20261207),
/// besides the file itself: where logrotate leaves a rotated file.
fn siblings(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(stem)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| e.path())
        .filter(|p| {
            p != path
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(stem))
        })
        .collect()
}

/// A file renamed away while banjo was down: the same inode in its directory, or a
/// copy (same first line, at least as long).
fn find_rotated(pos: &FilePos) -> Option<PathBuf> {
    let dir = pos.path.parent()?;
    let rd = std::fs::read_dir(dir).ok()?;
    for e in rd.flatten() {
        if let Ok(m) = e.metadata() {
            if m.is_file() && m.dev() == pos.dev && m.ino() == pos.ino {
                return Some(e.path());
            }
        }
    }
    find_copy(&pos.path, pos.head, pos.offset, pos.dev, pos.ino)
}

/// logrotate's copy of a file that was then truncated: a sibling with the same first
/// line, at least `offset` bytes long, and not the file itself.
fn find_copy(path: &Path, head: u64, offset: u64, dev: u64, ino: u64) -> Option<PathBuf> {
    if head == 0 {
        return None;
    }
    siblings(path).into_iter().find(|p| {
        let Ok(f) = File::open(p) else {
            return false;
        };
        let Ok(m) = f.metadata() else { return false };
        m.is_file()
            && (m.dev(), m.ino()) != (dev, ino)
            && m.len() >= offset
            && read_head(&f).ok().flatten() == Some(head)
    })
}

#[cfg(test)]
#[path = "logfile_tests.rs"]
mod tests;
