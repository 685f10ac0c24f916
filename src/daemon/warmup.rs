//! Rebuilding failure windows after a restart: each jail re-reads the last findtime of
//! *its own* history before the saved cursor, counting failures and deciding nothing
//! (those decisions are already in the state).
//!
//! Why per jail: one look-back of the longest findtime for every jail made a restart
//! with recidive (findtime 1 day) re-read a whole day of every jail's entries, and
//! count a day of sshd failures against sshd's 10-minute windows (measured: "total
//! failed" 6,696 after a restart where sshd's 10 minutes held 17). So jails are grouped
//! by findtime, and each group gets a reader of its own with its jails' journalmatch
//! given to libsystemd: recidive's day is a day of banjo's ban entries, found through
//! the journal's field index, and sshd's window is ten minutes of sshd. (Matches are
//! safe here: this reads history up to the cursor, not a live tail; see "Following
//! without sd_journal matches" in docs/ARCHITECTURE.md.)
//!
//! Each reader stops at the newest entry of its own at or before the cursor, so no
//! entry after the cursor is counted here and again by the live reader.

use crate::journal::sdjournal::{JournalError, JournalSource, Location};
use crate::journal::Entry;
use crate::pipeline::Pipeline;
use crate::route::MatchRules;
use crate::timefmt::Micros;
use std::collections::BTreeMap;

/// Feed each jail of `p` its findtime of history ending at the entry at `cursor`
/// (written at `cursor_time`). Returns the entries read.
pub(super) fn rebuild(
    loc: &Location,
    p: &mut Pipeline,
    cursor: &str,
    cursor_time: Micros,
) -> Result<u64, JournalError> {
    let mut groups: BTreeMap<Micros, Vec<usize>> = BTreeMap::new();
    for (i, j) in p.jails.iter().enumerate() {
        // A jail that accepts nothing would get a reader without matches, which reads
        // everything.
        if j.config.findtime > 0 && !j.config.journalmatch.groups.is_empty() {
            groups.entry(j.config.findtime).or_default().push(i);
        }
    }
    let fields = p.wanted_fields();
    let mut read = 0;
    p.warmup = true;
    let result = (|| {
        for (findtime, jails) in &groups {
            let rules: Vec<&MatchRules> = jails
                .iter()
                .map(|&i| &p.jails[i].config.journalmatch)
                .collect();
            let mut src = JournalSource::open(loc, &rules, &fields)?;
            src.precise_time = true;
            read += window(
                &mut src,
                p,
                jails,
                cursor,
                cursor_time - findtime,
                cursor_time,
            )?;
        }
        Ok(read)
    })();
    p.warmup = false;
    result
}

/// Read `src` from `from` to its newest entry at or before `cursor`, feeding `jails`.
fn window(
    src: &mut JournalSource,
    p: &mut Pipeline,
    jails: &[usize],
    cursor: &str,
    from: Micros,
    cursor_time: Micros,
) -> Result<u64, JournalError> {
    let Some(last) = src.last_at_or_before(cursor)? else {
        return Ok(0);
    };
    src.seek_realtime(from)?;
    let mut e = Entry::default();
    let mut n = 0;
    while src.next(&mut e)? {
        let at_last = src.at_cursor(&last);
        // Past the cursor's time without meeting `last` (the clock stepped back, or
        // the entry went meanwhile): stop rather than count what the live reader reads.
        if !at_last && src.receive_time()? > cursor_time {
            break;
        }
        p.feed_where(&e, &mut |_| {}, &|ji| jails.contains(&ji));
        n += 1;
        if at_last {
            break;
        }
    }
    Ok(n)
}
