//! `bans`: every active ban, by jail, then by when it began.

use crate::control::protocol::{Answer, BanInfo, Reply};
use crate::daemon::Daemon;

impl Daemon {
    pub(super) fn bans(&self) -> Answer {
        let mut list: Vec<BanInfo> = self
            .pipeline
            .bans
            .active()
            .map(|b| BanInfo {
                jail: self.pipeline.jails[b.jail].config.name.clone(),
                addr: b.addr.to_string(),
                since_us: b.since,
                until_us: b.until,
                count: b.count,
                failures: b.failures,
            })
            .collect();
        list.sort_by(|a, b| (&a.jail, a.since_us, &a.addr).cmp(&(&b.jail, b.since_us, &b.addr)));
        Ok(Reply::Bans(list))
    }
}
