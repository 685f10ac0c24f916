//! fail2ban's INI dialect ([`ini`]), its filter.d files turned into banjo filters
//! ([`filter`]) and its whole jail configuration read with its precedence ([`jail`]).
//! Written from fail2ban's documented behaviour; no fail2ban code.

pub mod action;
pub mod datepattern;
pub mod db;
pub mod filter;
pub mod import;
pub mod ini;
pub mod jail;
mod syslogtag;
