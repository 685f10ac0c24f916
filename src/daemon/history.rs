//! banjo's own ban history, read back from the journal after the state was lost: the
//! "Ban", "Restore Ban", "not durable" and "Unban" entries, and where banjo's last run
//! stopped writing.
//!
//! Only entries journald attributes to root (`_UID=0`, a field no sender can set) with
//! `SYSLOG_IDENTIFIER=banjo` are read: any local user can send an entry with banjo's
//! MESSAGE_ID and BANJO_* fields, and such an entry must never ban anybody. The matches
//! go to libsystemd, whose field index finds these entries without reading the rest of
//! the journal.
//!
//! What it must not do: decide. It returns records; reconcile.rs says what they mean.

use super::reconcile::{Kind, Record};
use crate::events::{MSGID_BAN, MSGID_ESCALATED, MSGID_NOT_DURABLE, MSGID_RESTORE, MSGID_UNBAN};
use crate::journal::sdjournal::{JournalError, JournalSource, Location};
use crate::journal::Entry;
use crate::route::MatchRules;
use crate::timefmt::parse_bantime;

/// The trusted match: root's entries, named banjo.
const TRUSTED: &str = "_UID=0 SYSLOG_IDENTIFIER=banjo";

/// Resume after the previous run's last entry only if it is this recent. A state lost
/// after a crash or a short stop is worth re-reading the gap for; one that is older is
/// more likely a reinstall, and reading months of journal at start (and banning on
/// failures that old) would be worse than starting at the end.
const RESUME_WITHIN: crate::timefmt::Micros = 24 * 3600 * crate::timefmt::SEC;

/// What the journal says about banjo's earlier runs.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// Ban entries oldest first.
    pub records: Vec<Record>,
    /// Entries with banjo's MESSAGE_IDs that could not be read back (a bad field).
    pub skipped: usize,
    /// The cursor of the newest entry an earlier banjo process wrote: with no saved
    /// cursor, reading resumes after it, so nothing logged while banjo was down is
    /// missed.
    pub resume: Option<String>,
}

fn rules(groups: &[String]) -> Result<MatchRules, JournalError> {
    MatchRules::parse(groups).map_err(JournalError::Match)
}

/// Read the history from `loc`.
pub(super) fn read(loc: &Location) -> Result<Found, JournalError> {
    let groups: Vec<String> = [
        MSGID_BAN,
        MSGID_ESCALATED,
        MSGID_RESTORE,
        MSGID_NOT_DURABLE,
        MSGID_UNBAN,
    ]
    .iter()
    .map(|id| format!("MESSAGE_ID={id} {TRUSTED}"))
    .collect();
    let fields: Vec<String> = [
        "MESSAGE_ID",
        "_UID",
        "BANJO_JAIL",
        "BANJO_IP",
        "BANJO_BANTIME",
        "BANJO_BAN_COUNT",
        "BANJO_FAILURES",
        "BANJO_MEMBERS",
    ]
    .map(String::from)
    .to_vec();
    let mut src = JournalSource::open(loc, &[&rules(&groups)?], &fields)?;
    src.seek_head()?;
    let mut found = Found::default();
    let mut e = Entry::default();
    while src.next(&mut e)? {
        match record(&e) {
            Some(r) => found.records.push(r),
            None => found.skipped += 1,
        }
    }
    found.resume = last_of_earlier_run(loc)?;
    Ok(found)
}

/// The newest trusted banjo entry not written by this process, if it is recent.
fn last_of_earlier_run(loc: &Location) -> Result<Option<String>, JournalError> {
    let mut src = JournalSource::open(loc, &[&rules(&[TRUSTED.to_owned()])?], &["_PID".into()])?;
    // The raw seek: JournalSource::seek_tail already steps back onto the newest entry.
    src.journal_mut().seek_tail().map_err(JournalError::Read)?;
    let ours = std::process::id().to_string();
    let mut e = Entry::default();
    // seek_tail leaves us after the newest entry; previous() walks back from there.
    while src.previous(&mut e)? {
        if e.fields.get("_PID") != Some(ours.as_bytes()) {
            let age = super::now_us() - src.receive_time()?;
            if age > RESUME_WITHIN {
                tracing::info!(
                    "banjo's previous run last wrote to the journal {} ago; not re-reading since then",
                    crate::timefmt::format_duration(age)
                );
                return Ok(None);
            }
            return src.cursor().map(Some);
        }
    }
    Ok(None)
}

fn text<'a>(e: &'a Entry, name: &str) -> Option<&'a str> {
    std::str::from_utf8(e.fields.get(name)?).ok()
}

/// One entry as a record; None if a field it needs is missing or unreadable.
fn record(e: &Entry) -> Option<Record> {
    if e.fields.get("_UID") != Some(b"0") {
        return None;
    }
    let id = e.fields.get("MESSAGE_ID")?;
    let bantime = || text(e, "BANJO_BANTIME").and_then(|t| parse_bantime(t).ok());
    let num = |name| text(e, name).and_then(|t| t.parse::<u32>().ok());
    let kind = if id == MSGID_BAN.as_bytes() {
        Kind::Ban {
            bantime: bantime()?,
            count: num("BANJO_BAN_COUNT")?,
            failures: num("BANJO_FAILURES").unwrap_or(0),
        }
    } else if id == MSGID_ESCALATED.as_bytes() {
        // A network banned by subnet escalation: a ban like any other.
        Kind::Ban {
            bantime: bantime()?,
            count: num("BANJO_BAN_COUNT")?,
            failures: num("BANJO_MEMBERS").unwrap_or(0),
        }
    } else if id == MSGID_RESTORE.as_bytes() {
        Kind::Restore { left: bantime()? }
    } else if id == MSGID_NOT_DURABLE.as_bytes() {
        Kind::NotDurable {
            bantime: bantime()?,
        }
    } else if id == MSGID_UNBAN.as_bytes() {
        Kind::Unban
    } else {
        return None;
    };
    Some(Record {
        time: e.time_us,
        jail: text(e, "BANJO_JAIL")?.to_owned(),
        addr: text(e, "BANJO_IP")?.parse().ok()?,
        kind,
    })
}
