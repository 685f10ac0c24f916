//! The daemon's wake-up: being told at once that a connection to a jail's ports has
//! begun, through a netlink socket bound to one nfnetlink_log group, which the jails'
//! wake rules log new TCP connections to (iptables `-j NFLOG`, nftables `log group`;
//! the rules are the firewall's: `ban::wake_rule`, ban/nft.rs), and what the loop
//! does with it: poll the sources quickly for a while ([`Wakeup`]).
//!
//! Why: journald tells readers about new entries through inotify only when its
//! post-change timer fires, 250 ms after the first write that follows a quiet spell.
//! A daemon that sleeps on inotify alone therefore sees the first failures of an attack
//! up to a quarter of a second late, and polling the journal while idle would cost CPU
//! forever. Every attack on a network service starts with a connection, before the
//! service can log a failure; that packet is the wake-up. The daemon then polls the
//! journal quickly for a few seconds (`Wakeup` below), and an idle host still costs
//! nothing. The rules are rate-limited in the kernel, so a SYN flood sends at most a
//! few messages a second, and they copy no packet data.
//!
//! The protocol is two fixed configuration messages (bind the group, copy metadata
//! only, deliver each packet at once) and "something arrived" on receive; the
//! messages are not parsed. Written here rather than pulled in as a netlink crate
//! family (netlink-packet-netfilter brings four crates) for ~100 lines.

use crate::config::{Config, FirewallKind};
use nix::sys::socket::{
    bind, socket, AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType,
};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

/// NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG (linux/netfilter/nfnetlink*.h).
const MSG_CONFIG: u16 = (4 << 8) | 1;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLMSG_ERROR: u16 = 0x2;
/// enum nfulnl_attr_config.
const NFULA_CFG_CMD: u16 = 1;
const NFULA_CFG_MODE: u16 = 2;
const NFULA_CFG_QTHRESH: u16 = 5;
const NFULNL_CFG_CMD_BIND: u8 = 1;
const NFULNL_COPY_META: u8 = 1;

/// A bound nfnetlink_log group. Dropping it closes the socket, which unbinds the group.
pub struct ConnectionWake {
    fd: OwnedFd,
    group: u16,
}

impl ConnectionWake {
    /// Bind `group`. Fails when netlink or nfnetlink_log is not there, without
    /// CAP_NET_ADMIN, or (EPERM too) when another program (ulogd…) listens on the group.
    pub fn open(group: u16) -> std::io::Result<ConnectionWake> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkNetFilter,
        )?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        let w = ConnectionWake { fd, group };
        w.configure(1, NFULA_CFG_CMD, &[NFULNL_CFG_CMD_BIND])?;
        // struct nfulnl_msg_config_mode { __be32 copy_range; __u8 copy_mode; __u8 pad; }
        w.configure(2, NFULA_CFG_MODE, &[0, 0, 0, 0, NFULNL_COPY_META, 0])?;
        // Deliver each logged packet at once instead of batching up to 100 of them for
        // up to a second (the kernel's defaults).
        w.configure(3, NFULA_CFG_QTHRESH, &1u32.to_be_bytes())?;
        Ok(w)
    }

    pub fn group(&self) -> u16 {
        self.group
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Consume every pending message; true if there was any (or the kernel dropped
    /// some because we were slow, which also means connections came).
    pub fn drain(&self) -> bool {
        let mut buf = [0u8; 4096];
        let mut any = false;
        loop {
            match nix::unistd::read(self.fd.as_raw_fd(), &mut buf) {
                Ok(0) => return any,
                Ok(_) => any = true,
                Err(nix::errno::Errno::ENOBUFS) => any = true,
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return any,
            }
        }
    }

    /// Send one configuration attribute for our group and wait for the kernel's ack.
    fn configure(&self, seq: u32, attr: u16, payload: &[u8]) -> std::io::Result<()> {
        let msg = config_message(seq, self.group, attr, payload);
        nix::unistd::write(&self.fd, &msg)?;
        // The kernel handles a netlink request inside sendmsg: the ack is queued by
        // the time write returns. Wait a little anyway rather than trust that.
        let mut pfd = [nix::poll::PollFd::new(
            self.fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(1000u16))?;
        let mut buf = [0u8; 4096];
        let n = nix::unistd::read(self.fd.as_raw_fd(), &mut buf)?;
        match ack_errno(&buf[..n], seq) {
            Some(0) => Ok(()),
            Some(e) => Err(std::io::Error::from_raw_os_error(e)),
            None => Err(std::io::Error::other(
                "nfnetlink_log sent no acknowledgement",
            )),
        }
    }
}

/// nlmsghdr + nfgenmsg (AF_UNSPEC, version 0, group in network order) + one attribute.
fn config_message(seq: u32, group: u16, attr: u16, payload: &[u8]) -> Vec<u8> {
    let attr_len = 4 + payload.len();
    let padded = attr_len.next_multiple_of(4);
    let total = 16 + 4 + padded;
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&MSG_CONFIG.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&group.to_be_bytes());
    m.extend_from_slice(&(attr_len as u16).to_ne_bytes());
    m.extend_from_slice(&attr.to_ne_bytes());
    m.extend_from_slice(payload);
    m.resize(total, 0);
    m
}

/// The errno (0 = success) of the NLMSG_ERROR answering `seq`, if `buf` holds one.
fn ack_errno(buf: &[u8], seq: u32) -> Option<i32> {
    let word = |at: usize| -> Option<[u8; 4]> { buf.get(at..at + 4)?.try_into().ok() };
    let kind = u16::from_ne_bytes(buf.get(4..6)?.try_into().ok()?);
    if kind != NLMSG_ERROR || u32::from_ne_bytes(word(8)?) != seq {
        return None;
    }
    Some(-i32::from_ne_bytes(word(16)?))
}

/// journald tells readers about new entries through inotify, but coalesces those
/// notifications (its post-change timer: measured delays of 4 to 420 ms per entry).
/// The entries themselves are in the file at once, so while entries are flowing we
/// also look every ACTIVE_POLL, and stop looking after ACTIVE_FOR of quiet: a ban
/// during an attack is quick, and an idle daemon sleeps on inotify alone.
const ACTIVE_POLL: Duration = Duration::from_millis(10);
const ACTIVE_FOR: Duration = Duration::from_secs(2);
/// The same quick polling after a new connection to a jail's ports (the wake rules):
/// the service logs its first failure after the key exchange and, for passwords,
/// PAM's ~2 s failure delay. Later failures of the attack keep it going (ACTIVE_FOR).
const CONNECTED_FOR: Duration = Duration::from_secs(5);

/// When the loop looks at its sources without an event: for a while after entries a
/// jail took, and after a new connection to a jail's ports.
#[derive(Default)]
pub(crate) struct Wakeup {
    /// New connections to the jails' ports (None: off, or the group was taken).
    listener: Option<ConnectionWake>,
    /// How often the listener woke us (control status, metrics).
    pub(crate) connection_wakeups: u64,
    /// Until when to poll quickly.
    active_until: Option<Instant>,
}

impl Wakeup {
    /// Listen for the jails' wake rules, unless turned off or nothing is firewalled. A
    /// group we cannot bind gets no rules (another program would receive them).
    pub(crate) fn open(cfg: &Config, dry_run: bool) -> Wakeup {
        let listener = cfg.daemon.wake_group.and_then(|group| {
            if dry_run || cfg.daemon.firewall == FirewallKind::DryRun {
                return None;
            }
            match ConnectionWake::open(group) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(
                        "cannot listen on nfnetlink_log group {group} ({e}); new connections will not wake banjo, \
                         so the first failures of an attack wait for journald's notification (up to 250 ms). \
                         Set [daemon] nflog_group to a free group, or wake_on_connect = false"
                    );
                    None
                }
            }
        });
        Wakeup {
            listener,
            ..Default::default()
        }
    }

    /// The group the wake rules log to, when we listen on it.
    pub(crate) fn group(&self) -> Option<u16> {
        self.listener.as_ref().map(|w| w.group())
    }

    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.listener.as_ref().map(|w| w.fd())
    }

    /// The listener's fd was readable: a connection to a jail's ports, whose failures
    /// are about to be logged.
    pub(crate) fn readable(&mut self) {
        if self.listener.as_ref().is_some_and(|w| w.drain()) {
            self.connection_wakeups += 1;
            let until = Instant::now() + CONNECTED_FOR;
            if self.active_until.is_none_or(|t| t < until) {
                self.active_until = Some(until);
            }
        }
    }

    /// Entries a jail took were read. Only those arm the quick polling: unrelated
    /// chatter in the journal must not keep an idle banjo awake.
    pub(crate) fn entries_taken(&mut self) {
        self.active_until = Some(Instant::now() + ACTIVE_FOR);
    }

    /// How often to look while quick polling is on.
    pub(crate) fn poll_every(&self) -> Option<Duration> {
        self.active_until
            .is_some_and(|t| t > Instant::now())
            .then_some(ACTIVE_POLL)
    }
}

impl super::Daemon {
    /// The group the wake rules log to, when we listen on it.
    pub(crate) fn wake_group(&self) -> Option<u16> {
        self.wakeup.group()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_message_layout() {
        let m = config_message(7, 3187, NFULA_CFG_CMD, &[NFULNL_CFG_CMD_BIND]);
        assert_eq!(m.len(), 28);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 28);
        assert_eq!(u16::from_ne_bytes(m[4..6].try_into().unwrap()), 0x0401);
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 7);
        assert_eq!(&m[16..20], &[0, 0, 0x0c, 0x73]);
        // Attribute: length 5 (4 + 1 byte), type 1, the command, 3 bytes of padding.
        assert_eq!(u16::from_ne_bytes(m[20..22].try_into().unwrap()), 5);
        assert_eq!(&m[24..28], &[1, 0, 0, 0]);
    }

    #[test]
    fn acks_are_read_by_sequence() {
        let mut ack = vec![0u8; 36];
        ack[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        ack[8..12].copy_from_slice(&9u32.to_ne_bytes());
        ack[16..20].copy_from_slice(&(-16i32).to_ne_bytes());
        assert_eq!(ack_errno(&ack, 9), Some(16));
        assert_eq!(ack_errno(&ack, 8), None);
        assert_eq!(ack_errno(&ack[..10], 9), None);
    }
}
