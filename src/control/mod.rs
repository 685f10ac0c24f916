//! The control socket: the daemon's side ([`server`]) and the CLI's ([`client`]),
//! speaking [`protocol`].

pub mod client;
pub mod protocol;
pub mod server;

/// Where the socket lives unless configured otherwise.
pub const DEFAULT_SOCKET: &str = "/run/banjo/banjo.sock";
