//! banjo — journal-first intrusion prevention.
//!
//! The data path runs one way: a [`journal`] source yields [`journal::Entry`]s, [`route`]
//! hands each to the jails whose `journalmatch` accepts it, the jail's [`filter`] turns
//! MESSAGE into a [`filter::Failure`], the [`jail`] tracker counts failures in the
//! findtime window and decides bans. `test-filter`, `replay` and the daemon share it;
//! only the source, the clock and the firewall differ.

pub mod addr;
pub mod ban;
pub mod banrules;
pub mod cli;
pub mod compat;
pub mod config;
pub mod control;
pub mod daemon;
pub mod diag;
pub mod events;
pub mod filter;
pub mod jail;
pub mod journal;
pub mod metrics;
pub mod pipeline;
pub mod route;
pub mod state;
pub mod timefmt;
