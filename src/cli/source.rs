//! Where `test-filter` and `replay` read entries from: a journal (system, directory,
//! files) or text (file, stdin, one literal line).

use crate::journal::datepattern::DatePattern;
use crate::journal::filesource::LineFile;
use crate::journal::sdjournal::{JournalSource, Location};
use crate::journal::syslog::TextContext;
use crate::journal::text::TextSource;
use crate::journal::Entry;
use crate::route::MatchRules;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct JournalArgs {
    /// Read journal files from this directory (like journalctl --directory).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["journal_file", "journal"])]
    pub journal_dir: Option<PathBuf>,
    /// Read this journal file (repeatable; like journalctl --file).
    #[arg(long, value_name = "FILE")]
    pub journal_file: Vec<PathBuf>,
    /// Read the system journal.
    #[arg(long)]
    pub journal: bool,
}

impl JournalArgs {
    pub fn location(&self) -> Option<Location> {
        if let Some(d) = &self.journal_dir {
            Some(Location::Directory(d.clone()))
        } else if !self.journal_file.is_empty() {
            Some(Location::Files(self.journal_file.clone()))
        } else if self.journal {
            Some(Location::System)
        } else {
            None
        }
    }
}

/// One source of entries, journal or text.
pub enum EntrySource {
    Journal(Box<JournalSource>),
    Text(TextSource),
    /// A file read as the daemon reads a logpath file.
    Lines(LineFile),
}

impl EntrySource {
    pub fn journal(
        loc: &Location,
        rules: &[&MatchRules],
        fields: &[String],
    ) -> anyhow::Result<Self> {
        Ok(EntrySource::Journal(Box::new(JournalSource::open(
            loc, rules, fields,
        )?)))
    }

    /// `-` is stdin, an existing path is a file, anything else is one log line.
    pub fn text(arg: &str) -> anyhow::Result<(Self, String)> {
        let ctx = TextContext::now_utc();
        if arg == "-" {
            let r = Box::new(std::io::BufReader::with_capacity(
                256 * 1024,
                std::io::stdin(),
            ));
            return Ok((
                EntrySource::Text(TextSource::new(r, ctx)),
                "standard input".into(),
            ));
        }
        let p = std::path::Path::new(arg);
        if p.exists() {
            let f = std::fs::File::open(p)
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", p.display()))?;
            let r = Box::new(std::io::BufReader::with_capacity(256 * 1024, f));
            return Ok((
                EntrySource::Text(TextSource::new(r, ctx)),
                format!("file {}", p.display()),
            ));
        }
        let r = Box::new(std::io::Cursor::new(arg.as_bytes().to_vec()));
        Ok((
            EntrySource::Text(TextSource::new(r, ctx)),
            "the line given".into(),
        ))
    }

    /// `-` (stdin) or a file, read as a jail's logpath file is.
    pub fn logfile(
        arg: &str,
        dates: DatePattern,
        fields: &[String],
    ) -> anyhow::Result<(Self, String)> {
        let (r, name): (Box<dyn std::io::BufRead>, String) = if arg == "-" {
            (
                Box::new(std::io::BufReader::with_capacity(
                    256 * 1024,
                    std::io::stdin(),
                )),
                "standard input, as a log file".into(),
            )
        } else {
            let f =
                std::fs::File::open(arg).map_err(|e| anyhow::anyhow!("cannot open {arg}: {e}"))?;
            (
                Box::new(std::io::BufReader::with_capacity(256 * 1024, f)),
                format!("log file {arg}"),
            )
        };
        Ok((EntrySource::Lines(LineFile::new(r, dates, fields)), name))
    }

    /// Text sources: write only these header fields (a journal source is told its
    /// fields when opened).
    pub fn keep_fields(&mut self, names: &[String]) {
        if let EntrySource::Text(t) = self {
            t.keep_fields(names);
        }
    }

    pub fn next(&mut self, entry: &mut Entry) -> anyhow::Result<bool> {
        Ok(match self {
            EntrySource::Journal(j) => j.next(entry)?,
            EntrySource::Text(t) => t.next(entry)?,
            EntrySource::Lines(l) => l.next(entry)?,
        })
    }
}
