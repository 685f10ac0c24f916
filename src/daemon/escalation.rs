//! Subnet escalation in the daemon: the one thing the pipeline cannot know is whether
//! the kernel takes the network's ban. If it refuses it, the member bans lifted for
//! it are bans again — in the ban book, the state and the kernel — so that an
//! escalation never costs the bans it was meant to replace.

use super::{kernel_entry, Daemon};
use crate::addr::Addr;
use crate::ban::BanEntry;
use crate::state::{Batch, StoredBan};

impl Daemon {
    /// The kernel refused `net`, a ban of jail `ji`: if it was an escalation, put its
    /// lifted members (those not over yet) back into the ban book and `batch`; the
    /// kernel entries to add for them (the caller adds them once `batch` is
    /// committed).
    pub(crate) fn unescalate(
        &mut self,
        ji: usize,
        net: &Addr,
        batch: &mut Batch,
    ) -> Option<(String, Vec<BanEntry>)> {
        if net.is_single() || self.pipeline.lifted.is_empty() {
            return None;
        }
        let inside = |b: &crate::jail::Ban| b.jail == ji && net.net().contains(&b.addr.net());
        let (back, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pipeline.lifted)
            .into_iter()
            .partition(inside);
        self.pipeline.lifted = keep;
        let now = self.now_us();
        let name = self.pipeline.jails[ji].config.name.clone();
        let mut entries = Vec::new();
        for b in back.into_iter().filter(|b| b.until.is_none_or(|u| u > now)) {
            batch.bans.push(StoredBan {
                jail: name.clone(),
                addr: b.addr,
                since_us: b.since,
                until_us: b.until,
                count: b.count,
                failures: b.failures,
            });
            entries.push(kernel_entry(b.addr, b.until, now));
            self.pipeline.bans.restore(b);
        }
        (!entries.is_empty()).then_some((name, entries))
    }
}
