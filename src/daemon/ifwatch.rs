//! Knowing when this host's addresses change, for `ignoreself`: a netlink socket
//! subscribed to address events wakes the poll loop, which then re-reads the
//! addresses. No polling.

use nix::sys::socket::{
    bind, socket, AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType,
};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR (linux/rtnetlink.h).
const GROUPS: u32 = 0x10 | 0x100;

pub struct IfWatch {
    fd: OwnedFd,
}

impl IfWatch {
    /// None when netlink is unavailable (then addresses are read once, at start).
    pub fn new() -> Option<IfWatch> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .ok()?;
        bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &NetlinkAddr::new(0, GROUPS),
        )
        .ok()?;
        Some(IfWatch { fd })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Consume pending notifications; true if there were any.
    pub fn drain(&self) -> bool {
        let mut buf = [0u8; 8192];
        let mut any = false;
        while let Ok(n) = nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&self.fd), &mut buf) {
            if n == 0 {
                break;
            }
            any = true;
        }
        any
    }
}
