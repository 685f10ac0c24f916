//! Looking at the kernel without starting a process, for drift (a flush, another
//! firewall's reload) while banjo runs:
//! - [`NftEvents`]: nf_tables announces every committed change on the netlink group
//!   NFNLGRP_NFTABLES, with the pid of the process that made it. That covers `nft`
//!   and iptables-nft (Debian 12's iptables), so `iptables -F`, `nft flush ruleset`,
//!   firewalld's and ufw's reloads all wake banjo at once, and an idle host sends
//!   nothing. Expired set elements are not announced (measured), so kernel timeouts
//!   cost no wake-up.
//! - [`ipset_heads`]: ipset announces nothing, so its sets are looked at: one dump of
//!   every set's header (elements, references) over NETLINK_NETFILTER.
//! - [`legacy_filter_info`]: legacy iptables announces nothing either; IPT_SO_GET_INFO
//!   on a raw socket says how many rules the filter table holds and where its chains
//!   begin, enough to see that it changed.
//!
//! Only the few fields these need are read; nothing here changes the kernel. Written
//! here, as nflog.rs is, rather than pulled in as a netlink crate family.

use super::Family;
use nix::sys::socket::{
    bind, socket, AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType,
};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Netfilter families (linux/netfilter.h), as nf_tables messages carry them.
pub const NFPROTO_INET: u8 = 1;
pub const NFPROTO_IPV4: u8 = 2;
pub const NFPROTO_IPV6: u8 = 10;

const NFNL_SUBSYS_IPSET: u16 = 6;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNLGRP_NFTABLES: u32 = 7;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLA_F_NESTED: u16 = 0x8000;
const NLA_F_NET_BYTEORDER: u16 = 0x4000;
const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// enum nf_tables_msg_types: the deletions (a flush of a chain or set announces one
/// deletion per rule or element).
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_DELCHAIN: u16 = 5;
const NFT_MSG_DELRULE: u16 = 8;
const NFT_MSG_DELSET: u16 = 11;
const NFT_MSG_DELSETELEM: u16 = 14;
/// NFTA_{TABLE_NAME, CHAIN_TABLE, RULE_TABLE, SET_TABLE, SET_ELEM_LIST_TABLE}: the
/// table's name is attribute 1 of each.
const NFTA_TABLE: u16 = 1;

/// linux/netfilter/ipset/ip_set.h.
const IPSET_PROTOCOL: u8 = 7;
const IPSET_CMD_LIST: u16 = 7;
const IPSET_ATTR_PROTOCOL: u16 = 1;
const IPSET_ATTR_SETNAME: u16 = 2;
const IPSET_ATTR_TYPENAME: u16 = 3;
const IPSET_ATTR_FLAGS: u16 = 6;
const IPSET_ATTR_DATA: u16 = 7;
const IPSET_ATTR_ELEMENTS: u16 = 24;
const IPSET_ATTR_REFERENCES: u16 = 25;
const IPSET_FLAG_LIST_HEADER: u32 = 1 << 2;

/// The attributes of a netlink payload: (type without flags, value).
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes(b.get(0..2)?.try_into().ok()?));
        let kind = u16::from_ne_bytes(b.get(2..4)?.try_into().ok()?) & NLA_TYPE_MASK;
        let value = b.get(4..len)?;
        b = b.get(len.next_multiple_of(4)..).unwrap_or(&[]);
        Some((kind, value))
    })
}

/// The messages in one datagram: (type, sender pid, payload after nlmsghdr).
fn messages(mut b: &[u8]) -> impl Iterator<Item = (u16, u32, &[u8])> {
    std::iter::from_fn(move || {
        let len = u32::from_ne_bytes(b.get(0..4)?.try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(b.get(4..6)?.try_into().ok()?);
        let pid = u32::from_ne_bytes(b.get(12..16)?.try_into().ok()?);
        let payload = b.get(16..len)?;
        b = b.get(len.next_multiple_of(4)..).unwrap_or(&[]);
        Some((kind, pid, payload))
    })
}

fn c_string(v: &[u8]) -> &[u8] {
    v.split(|&c| c == 0).next().unwrap_or(v)
}

/// Is this nf_tables message a deletion in one of `watched` (family, table), made by a
/// process banjo did not start?
fn concerns(kind: u16, pid: u32, payload: &[u8], watched: &[(u8, &str)]) -> bool {
    if kind >> 8 != NFNL_SUBSYS_NFTABLES {
        return false;
    }
    let deletion = matches!(
        kind & 0xff,
        NFT_MSG_DELTABLE | NFT_MSG_DELCHAIN | NFT_MSG_DELRULE | NFT_MSG_DELSET | NFT_MSG_DELSETELEM
    );
    let Some(&family) = payload.first() else {
        return false;
    };
    if !deletion || super::exec::ours(pid) {
        return false;
    }
    let Some(table) = payload
        .get(4..)
        .and_then(|a| attrs(a).find(|(t, _)| *t == NFTA_TABLE))
        .map(|(_, v)| c_string(v))
    else {
        return false;
    };
    watched
        .iter()
        .any(|(f, t)| *f == family && table == t.as_bytes())
}

/// A netlink socket subscribed to nf_tables' change announcements.
pub struct NftEvents {
    fd: OwnedFd,
}

impl NftEvents {
    /// Subscribe (needs CAP_NET_ADMIN, and nf_tables in the kernel).
    pub fn open() -> io::Result<NftEvents> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkNetFilter,
        )?;
        bind(
            fd.as_raw_fd(),
            &NetlinkAddr::new(0, 1 << (NFNLGRP_NFTABLES - 1)),
        )?;
        Ok(NftEvents { fd })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Stop (false) or start again (true) receiving announcements. While no socket
    /// listens, nf_tables builds none: a batch of 100k elements took nft 0.86–1.19 s
    /// without a listener and 1.48–2.28 s with one that did not even read
    /// (bench/RESULTS.md, "Drift"), so banjo stops listening around its own large
    /// batches and checks once after.
    pub fn listen(&self, on: bool) -> io::Result<()> {
        const SOL_NETLINK: nix::libc::c_int = 270;
        const NETLINK_ADD_MEMBERSHIP: nix::libc::c_int = 1;
        const NETLINK_DROP_MEMBERSHIP: nix::libc::c_int = 2;
        let opt = if on {
            NETLINK_ADD_MEMBERSHIP
        } else {
            NETLINK_DROP_MEMBERSHIP
        };
        let group = NFNLGRP_NFTABLES as nix::libc::c_int;
        // SAFETY: setsockopt with a pointer to one int and its size.
        let r = unsafe {
            nix::libc::setsockopt(
                self.fd.as_raw_fd(),
                SOL_NETLINK,
                opt,
                (&group as *const nix::libc::c_int).cast(),
                std::mem::size_of::<nix::libc::c_int>() as nix::libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Read every pending announcement; true if one concerns `watched` (see
    /// [`concerns`]), or some were lost (the socket overflowed: a large batch, ours
    /// or not), which must be taken as "maybe".
    pub fn drain(&self, watched: &[(u8, &str)]) -> bool {
        let mut buf = vec![0u8; 1 << 16];
        let mut hit = false;
        loop {
            match nix::unistd::read(self.fd.as_raw_fd(), &mut buf) {
                Ok(0) => return hit,
                Ok(n) => hit |= messages(&buf[..n]).any(|(k, pid, p)| concerns(k, pid, p, watched)),
                Err(nix::errno::Errno::ENOBUFS) => hit = true,
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return hit,
            }
        }
    }
}

/// One ipset set's header, from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpsetHead {
    pub name: String,
    pub kind: String,
    pub elements: u64,
    pub references: u32,
}

fn be32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.get(0..4)?.try_into().ok()?))
}

/// The IPSET_CMD_LIST dump request for every set's header.
fn ipset_list_request(seq: u32) -> Vec<u8> {
    let mut m = Vec::with_capacity(36);
    m.extend_from_slice(&0u32.to_ne_bytes()); // length, below
    m.extend_from_slice(&((NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_LIST).to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: family, version, res_id.
    m.extend_from_slice(&[NFPROTO_IPV4, 0, 0, 0]);
    // IPSET_ATTR_PROTOCOL (u8), padded.
    m.extend_from_slice(&5u16.to_ne_bytes());
    m.extend_from_slice(&IPSET_ATTR_PROTOCOL.to_ne_bytes());
    m.extend_from_slice(&[IPSET_PROTOCOL, 0, 0, 0]);
    // IPSET_ATTR_FLAGS (be32).
    m.extend_from_slice(&8u16.to_ne_bytes());
    m.extend_from_slice(&(IPSET_ATTR_FLAGS | NLA_F_NET_BYTEORDER).to_ne_bytes());
    m.extend_from_slice(&IPSET_FLAG_LIST_HEADER.to_be_bytes());
    let len = m.len() as u32;
    m[0..4].copy_from_slice(&len.to_ne_bytes());
    m
}

/// A set's header from one IPSET_CMD_LIST answer.
fn ipset_head(payload: &[u8]) -> Option<IpsetHead> {
    let mut h = IpsetHead {
        name: String::new(),
        kind: String::new(),
        elements: 0,
        references: 0,
    };
    for (t, v) in attrs(payload.get(4..)?) {
        match t {
            IPSET_ATTR_SETNAME => h.name = String::from_utf8_lossy(c_string(v)).into_owned(),
            IPSET_ATTR_TYPENAME => h.kind = String::from_utf8_lossy(c_string(v)).into_owned(),
            IPSET_ATTR_DATA => {
                for (d, dv) in attrs(v) {
                    match d {
                        IPSET_ATTR_ELEMENTS => h.elements = u64::from(be32(dv)?),
                        IPSET_ATTR_REFERENCES => h.references = be32(dv)?,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    (!h.name.is_empty()).then_some(h)
}

/// Every ipset set's name, type, element count and references (rules matching it),
/// in one netlink dump: what `ipset list -t` shows, without starting it.
pub fn ipset_heads() -> io::Result<Vec<IpsetHead>> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkNetFilter,
    )?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
    // A reply the kernel cannot send must not hang the daemon.
    let tv = nix::sys::time::TimeVal::new(1, 0);
    nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::ReceiveTimeout, &tv)?;
    nix::unistd::write(&fd, &ipset_list_request(1))?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = nix::unistd::read(fd.as_raw_fd(), &mut buf)?;
        if n == 0 {
            return Err(io::Error::other("ipset dump ended early"));
        }
        for (kind, _, payload) in messages(&buf[..n]) {
            match kind {
                NLMSG_DONE => return Ok(out),
                NLMSG_ERROR => {
                    let errno = i32::from_ne_bytes(
                        payload
                            .get(0..4)
                            .and_then(|b| b.try_into().ok())
                            .unwrap_or([0; 4]),
                    );
                    if errno != 0 {
                        return Err(io::Error::from_raw_os_error(-errno));
                    }
                }
                k if k == (NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_LIST => {
                    out.extend(ipset_head(payload));
                }
                _ => {}
            }
        }
    }
}

/// IPT_SO_GET_INFO (and IP6T_SO_GET_INFO) of the legacy `filter` table: its struct
/// after the name (valid hooks, chain offsets, rule count, size). Any change to the
/// table changes it. Only for hosts on legacy tables: asking loads the module.
pub fn legacy_filter_info(fam: Family) -> io::Result<Vec<u8>> {
    const SO_GET_INFO: nix::libc::c_int = 64;
    const NAME_LEN: usize = 32;
    // struct ipt_getinfo: name[32], valid_hooks, hook_entry[5], underflow[5],
    // num_entries, size (unsigned ints): the same layout for IPv6.
    const INFO_LEN: usize = NAME_LEN + 4 * (1 + 5 + 5 + 1 + 1);
    let (domain, level) = match fam {
        Family::V4 => (nix::libc::AF_INET, nix::libc::IPPROTO_IP),
        Family::V6 => (nix::libc::AF_INET6, nix::libc::IPPROTO_IPV6),
    };
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let raw = unsafe {
        nix::libc::socket(
            domain,
            nix::libc::SOCK_RAW | nix::libc::SOCK_CLOEXEC,
            nix::libc::IPPROTO_RAW,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor no one else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut info = [0u8; INFO_LEN];
    info[..6].copy_from_slice(b"filter");
    let mut len = INFO_LEN as nix::libc::socklen_t;
    // SAFETY: `info` is INFO_LEN writable bytes and `len` says so; the kernel writes at
    // most `len` bytes.
    let r = unsafe {
        nix::libc::getsockopt(
            fd.as_raw_fd(),
            level,
            SO_GET_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(info[NAME_LEN..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// nlmsghdr + nfgenmsg + attributes, as the kernel sends them.
    fn msg(kind: u16, pid: u32, family: u8, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut m = vec![0u8; 16];
        m[4..6].copy_from_slice(&kind.to_ne_bytes());
        m[12..16].copy_from_slice(&pid.to_ne_bytes());
        m.extend_from_slice(&[family, 0, 0, 0]);
        for (t, v) in attrs {
            let len = 4 + v.len();
            m.extend_from_slice(&(len as u16).to_ne_bytes());
            m.extend_from_slice(&t.to_ne_bytes());
            m.extend_from_slice(v);
            m.resize(m.len().next_multiple_of(4), 0);
        }
        let len = m.len() as u32;
        m[0..4].copy_from_slice(&len.to_ne_bytes());
        m
    }

    #[test]
    fn only_deletions_in_watched_tables_by_others_concern_us() {
        let watched = [(NFPROTO_INET, "banjo")];
        let del_rule = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELRULE;
        let new_rule = (NFNL_SUBSYS_NFTABLES << 8) | 6;
        let check = |kind, family, table: &[u8]| {
            let m = msg(kind, 1, family, &[(NFTA_TABLE, table)]);
            let hit = messages(&m).any(|(k, pid, p)| concerns(k, pid, p, &watched));
            hit
        };
        assert!(check(del_rule, NFPROTO_INET, b"banjo\0"));
        assert!(!check(new_rule, NFPROTO_INET, b"banjo\0"));
        assert!(!check(del_rule, NFPROTO_IPV4, b"banjo\0"));
        assert!(!check(del_rule, NFPROTO_INET, b"filter\0"));
        // Two messages in one datagram: the second counts.
        let mut two = msg(new_rule, 1, NFPROTO_INET, &[(NFTA_TABLE, b"banjo\0")]);
        two.extend(msg(del_rule, 1, NFPROTO_INET, &[(NFTA_TABLE, b"banjo\0")]));
        assert!(messages(&two).any(|(k, pid, p)| concerns(k, pid, p, &watched)));
        // Truncated input is no message.
        assert_eq!(messages(&two[..10]).count(), 0);
    }

    #[test]
    fn ipset_headers_parse_with_nested_data() {
        let mut data = Vec::new();
        for (t, v) in [(IPSET_ATTR_ELEMENTS, 7u32), (IPSET_ATTR_REFERENCES, 1u32)] {
            data.extend_from_slice(&8u16.to_ne_bytes());
            data.extend_from_slice(&(t | NLA_F_NET_BYTEORDER).to_ne_bytes());
            data.extend_from_slice(&v.to_be_bytes());
        }
        let m = msg(
            (NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_LIST,
            0,
            NFPROTO_IPV4,
            &[
                (IPSET_ATTR_SETNAME, b"banjo-sshd-4\0"),
                (IPSET_ATTR_TYPENAME, b"hash:net\0"),
                (IPSET_ATTR_DATA | NLA_F_NESTED, &data),
            ],
        );
        let (_, _, p) = messages(&m).next().unwrap();
        let h = ipset_head(p).unwrap();
        assert_eq!(h.name, "banjo-sshd-4");
        assert_eq!(h.kind, "hash:net");
        assert_eq!((h.elements, h.references), (7, 1));
        let req = ipset_list_request(1);
        assert_eq!(
            u32::from_ne_bytes(req[0..4].try_into().unwrap()) as usize,
            req.len()
        );
    }
}
