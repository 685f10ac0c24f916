//! `banjo history ADDR`: every ban, unban and restore of an address, read straight
//! from the journal (works with the daemon stopped). The same as
//! `journalctl MESSAGE_ID=<ban id> BANJO_IP=ADDR + MESSAGE_ID=<unban id> BANJO_IP=ADDR …`.

use super::source::JournalArgs;
use super::Exit;
use crate::events::{MSGID_ADOPTED, MSGID_BAN, MSGID_RESTORE, MSGID_UNBAN};
use crate::journal::sdjournal::{JournalSource, Location};
use crate::journal::Entry;
use crate::route::MatchRules;
use crate::timefmt::format_time;
use clap::Args;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The address as banjo logs it (an IPv6 ban shows the prefix's first address).
    pub addr: String,
    #[command(flatten)]
    pub journal: JournalArgs,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Item {
    time: String,
    event: &'static str,
    jail: String,
    message: String,
}

pub fn run(a: HistoryArgs) -> anyhow::Result<Exit> {
    let ip = match a.addr.parse::<crate::addr::Addr>() {
        Ok(addr) => addr.net().addr().to_string(),
        Err(e) => {
            eprintln!("banjo history: {e}");
            return Ok(Exit::Usage);
        }
    };
    // _UID=0: only banjo (root) writes these; a local user's look-alike entries
    // with the same MESSAGE_ID are not history (the rule recidive follows too).
    let groups: Vec<String> = [MSGID_BAN, MSGID_UNBAN, MSGID_RESTORE, MSGID_ADOPTED]
        .iter()
        .map(|id| format!("MESSAGE_ID={id} BANJO_IP={ip} _UID=0"))
        .collect();
    let rules = MatchRules::parse(&groups).map_err(anyhow::Error::msg)?;
    let loc = a.journal.location().unwrap_or(Location::System);
    let mut src =
        JournalSource::open(&loc, &[&rules], &["MESSAGE_ID".into(), "BANJO_JAIL".into()])?;
    let mut e = Entry::default();
    let mut items = Vec::new();
    while src.next(&mut e)? {
        let event = match e.fields.get("MESSAGE_ID") {
            Some(id) if id == MSGID_BAN.as_bytes() => "ban",
            Some(id) if id == MSGID_UNBAN.as_bytes() => "unban",
            Some(id) if id == MSGID_ADOPTED.as_bytes() => "adopted",
            _ => "restore",
        };
        items.push(Item {
            time: format_time(e.time_us),
            event,
            jail: String::from_utf8_lossy(e.fields.get("BANJO_JAIL").unwrap_or(b"")).into_owned(),
            message: e.message_lossy().into_owned(),
        });
    }
    if a.json {
        super::output::json(&items)?;
    } else {
        for i in &items {
            println!("{}  {}", i.time, i.message);
        }
        let bans = items.iter().filter(|i| i.event == "ban").count();
        println!("{ip}: {bans} bans, {} entries", items.len());
    }
    Ok(Exit::Done)
}
