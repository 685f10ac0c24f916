//! `banjo flush`: remove every firewall object banjo made (chains and sets named
//! banjo-*), nothing else. For uninstalling, or after `unban_on_stop = false`.

use super::EXIT_OK;
use crate::ban::{Firewall, IptablesFirewall};
use clap::Args;

#[derive(Debug, Args)]
pub struct FlushArgs {}

pub fn run(_a: FlushArgs) -> anyhow::Result<i32> {
    let mut fw = IptablesFirewall::new()?;
    let removed = fw.flush_all()?;
    if removed.is_empty() {
        println!("nothing to remove: no banjo chains or sets in the kernel");
    } else {
        println!("removed banjo chains and sets of: {}", removed.join(", "));
    }
    Ok(EXIT_OK)
}
