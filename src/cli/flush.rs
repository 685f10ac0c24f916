//! `banjo flush`: remove every firewall object banjo made (chains and sets named
//! banjo-*, and nftables' `table inet banjo`), nothing else. For uninstalling, or after
//! `unban_on_stop = false`. Both backends are flushed, whichever the config names: a
//! host may have switched from one to the other with bans still in the kernel.

use super::EXIT_OK;
use crate::ban::{Firewall, IptablesFirewall, NftFirewall};
use clap::Args;

#[derive(Debug, Args)]
pub struct FlushArgs {}

pub fn run(_a: FlushArgs) -> anyhow::Result<i32> {
    let mut removed = Vec::new();
    let mut usable = 0;
    let mut failures = Vec::new();
    // A backend whose tool is missing holds nothing of ours; any other failure counts.
    match IptablesFirewall::new() {
        Ok(mut fw) => {
            usable += 1;
            match fw.flush_all() {
                Ok(jails) if !jails.is_empty() => {
                    removed.push(format!("iptables/ipset: {}", jails.join(", ")))
                }
                Ok(_) => {}
                Err(e) => failures.push(e.to_string()),
            }
        }
        Err(e) => tracing::debug!("iptables not usable: {e}"),
    }
    match NftFirewall::new() {
        Ok(mut fw) => {
            usable += 1;
            match fw.flush_all() {
                Ok(jails) if !jails.is_empty() => {
                    removed.push(format!("nftables table inet banjo: {}", jails.join(", ")))
                }
                Ok(_) => {}
                Err(e) => failures.push(e.to_string()),
            }
        }
        Err(e) => tracing::debug!("nftables not usable: {e}"),
    }
    if usable == 0 {
        anyhow::bail!("neither iptables nor nft works here; nothing could be checked");
    }
    for r in &removed {
        println!("removed banjo chains and sets of {r}");
    }
    if removed.is_empty() && failures.is_empty() {
        println!("nothing to remove: no banjo chains, sets or table in the kernel");
    }
    if !failures.is_empty() {
        anyhow::bail!("{}", failures.join("; "));
    }
    Ok(EXIT_OK)
}
