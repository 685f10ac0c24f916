//! `banjo flush`: remove every firewall object banjo made (its chains and sets, and
//! nftables' `table inet banjo`), nothing else. For uninstalling, or after
//! `unban_on_stop = false`. Both backends are flushed, whichever the config names: a
//! host may have switched from one to the other with bans still in the kernel.
//!
//! What banjo made is what its state file records (read, not locked: a daemon may be
//! running) and what carries its marker; without a state file, also what looks exactly
//! as banjo makes it (ban/owner.rs). Objects under banjo's names that are not its own
//! are left, and each is named with the reason.

use super::Exit;
use crate::ban::{Firewall, Flushed, IptablesFirewall, MemoryLedger, NftFirewall, Object};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct FlushArgs {
    /// The daemon's state directory, whose state.db records what banjo made.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/banjo")]
    pub state_dir: PathBuf,
}

/// The record of `backend` in `state_dir`, as a ledger.
fn ledger(state_dir: &Path, backend: &str) -> MemoryLedger {
    match crate::state::read_objects(&state_dir.join("state.db"), backend) {
        Ok(Some(rows)) => {
            let trusts_looks = rows.is_empty();
            let objects = rows
                .iter()
                .filter_map(|(kind, name)| Object::from_parts(kind, name));
            MemoryLedger::of(objects, trusts_looks)
        }
        Ok(None) => MemoryLedger::trusting(),
        Err(e) => {
            eprintln!("banjo flush: {e}; going by banjo's markers and the looks of its objects");
            MemoryLedger::trusting()
        }
    }
}

/// Flush one backend: what it removed, what it left.
fn flush(fw: &mut dyn Firewall, what: &str, out: &mut Vec<String>) -> Result<(), String> {
    let Flushed { removed, left } = fw.flush_all().map_err(|e| e.to_string())?;
    if !removed.is_empty() {
        out.push(format!(
            "removed banjo chains and sets of {what}: {}",
            removed.join(", ")
        ));
    }
    out.extend(left.iter().map(|l| l.to_string()));
    Ok(())
}

pub fn run(a: FlushArgs) -> anyhow::Result<Exit> {
    let mut said = Vec::new();
    let mut usable = 0;
    let mut failures = Vec::new();
    // A backend whose tool is missing holds nothing of ours; any other failure counts.
    match IptablesFirewall::new() {
        Ok(mut fw) => {
            usable += 1;
            fw.set_ledger(Box::new(ledger(&a.state_dir, fw.name())));
            if let Err(e) = flush(&mut fw, "iptables/ipset", &mut said) {
                failures.push(e);
            }
        }
        Err(e) => tracing::debug!("iptables not usable: {e}"),
    }
    match NftFirewall::new() {
        Ok(mut fw) => {
            usable += 1;
            fw.set_ledger(Box::new(ledger(&a.state_dir, fw.name())));
            if let Err(e) = flush(&mut fw, "nftables table inet banjo", &mut said) {
                failures.push(e);
            }
        }
        Err(e) => tracing::debug!("nftables not usable: {e}"),
    }
    if usable == 0 {
        anyhow::bail!("neither iptables nor nft works here; nothing could be checked");
    }
    for line in &said {
        println!("{line}");
    }
    if said.is_empty() && failures.is_empty() {
        println!("nothing to remove: no banjo chains, sets or table in the kernel");
    }
    if !failures.is_empty() {
        anyhow::bail!("{}", failures.join("; "));
    }
    Ok(Exit::Done)
}
