//! Other tools' configuration read into banjo's: today fail2ban's filter.d files.
//! Nothing here runs in the daemon; it produces TOML an administrator reviews.

pub mod fail2ban;
