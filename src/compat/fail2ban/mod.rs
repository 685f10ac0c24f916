//! fail2ban's INI dialect ([`ini`]) and its filter.d files turned into banjo filters
//! ([`filter`]). Written from fail2ban's documented behaviour; no fail2ban code.

pub mod datepattern;
pub mod filter;
pub mod ini;
