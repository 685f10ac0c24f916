//! Addresses as banjo bans them: one IPv4 address, or an IPv6 address widened to a
//! prefix (a /64 by default, since one attacker usually owns a whole /64), or a network
//! banned by hand (`banjo ban JAIL 198.51.100.0/24`).
//!
//! This module also owns what may be banned at all: [`unbannable`] says which
//! addresses no attacker can send from (the filter's `<HOST>` may still match them),
//! and [`check_network`] which networks are too wide to be a ban. It decides nothing
//! about jails and touches no firewall.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::fmt;
use std::net::IpAddr;

/// A banned (or counted) unit: a single address or an IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr(IpNet);

impl Addr {
    /// The key for `ip`, with IPv6 widened to `/v6_prefix` (128 keeps the single address).
    /// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) become plain IPv4. Link-local IPv6
    /// addresses (fe80::/10) are never widened: fe80::/64 is every neighbour's address
    /// on every link, so the attacker is the one address.
    pub fn new(ip: IpAddr, v6_prefix: u8) -> Addr {
        match canonical(ip) {
            IpAddr::V4(v4) => Addr(IpNet::V4(Ipv4Net::new_assert(v4, 32))),
            IpAddr::V6(v6) if v6.is_unicast_link_local() => {
                Addr(IpNet::V6(Ipv6Net::new_assert(v6, 128)))
            }
            IpAddr::V6(v6) => {
                let len = v6_prefix.min(128);
                Addr(IpNet::V6(Ipv6Net::new_assert(v6, len).trunc()))
            }
        }
    }

    /// The network of `len` bits around `ip`, exactly (no link-local rule): a set
    /// member as the kernel lists it.
    pub fn network(ip: IpAddr, len: u8) -> Option<Addr> {
        IpNet::new(canonical(ip), len).ok().map(|n| Addr(n.trunc()))
    }

    pub fn single(ip: IpAddr) -> Addr {
        Addr::new(ip, 128)
    }

    pub fn net(&self) -> IpNet {
        self.0
    }

    pub fn is_single(&self) -> bool {
        self.0.prefix_len() == self.0.max_prefix_len()
    }
}

/// Undo IPv4-in-IPv6 mapping so `::ffff:192.0.2.1` and `192.0.2.1` are one attacker.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// An address or network as written: `198.51.100.0/1` is refused (naming
/// `128.0.0.0/1`, the network it would be) rather than silently rewritten, since the
/// writer meant something else. Kernel listings and the state hold networks as their
/// network address, so they parse unchanged.
impl std::str::FromStr for Addr {
    type Err = String;
    fn from_str(s: &str) -> Result<Addr, String> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Addr::single(ip));
        }
        let net = s
            .parse::<IpNet>()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR network"))?;
        let net = match net {
            // ::ffff:a.b.c.d/96+n is the IPv4 network a.b.c.d/n.
            IpNet::V6(n) => match n.addr().to_ipv4_mapped() {
                Some(v4) if n.prefix_len() >= 96 => {
                    IpNet::V4(Ipv4Net::new_assert(v4, n.prefix_len() - 96))
                }
                _ => IpNet::V6(n),
            },
            n => n,
        };
        if net.trunc() != net {
            return Err(format!(
                "{s} has host bits set: that network is {}; write the network address",
                net.trunc()
            ));
        }
        Ok(Addr(net))
    }
}

/// Why no ban of an address can work: no packet with it as source reaches the
/// firewall, or banning it would cut this host off from itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unbannable {
    /// 0.0.0.0/8 and `::`: "this host" before it has an address.
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// 224.0.0.0/4 and ff00::/8: a destination, never a source.
    Multicast,
    /// 127.0.0.0/8 and `::1` (see `ban_loopback`).
    Loopback,
}

impl Unbannable {
    pub fn as_str(self) -> &'static str {
        match self {
            Unbannable::Unspecified => "unspecified address (no packet comes from it)",
            Unbannable::Broadcast => "broadcast address (no packet comes from it)",
            Unbannable::Multicast => "multicast address (no packet comes from it)",
            Unbannable::Loopback => {
                "loopback address (this host itself; set ban_loopback = true to ban it)"
            }
        }
    }
}

impl fmt::Display for Unbannable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why `ip` can never be banned, if it cannot: a `<HOST>` that matched it is a log
/// line's word, not an attacker (sshd logs 0.0.0.0 for some failures; an attacker may
/// write any text a pattern takes). IPv4-mapped IPv6 addresses are judged as the IPv4
/// address they carry (the kernel drops packets with a mapped source, so a mapped
/// address in a log is a dual-stack socket's IPv4 peer). Link-local addresses are
/// bannable: a neighbour can attack from one.
pub fn unbannable(ip: IpAddr, allow_loopback: bool) -> Option<Unbannable> {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            if v4.octets()[0] == 0 {
                Some(Unbannable::Unspecified)
            } else if v4.is_broadcast() {
                Some(Unbannable::Broadcast)
            } else if v4.is_multicast() {
                Some(Unbannable::Multicast)
            } else if v4.is_loopback() && !allow_loopback {
                Some(Unbannable::Loopback)
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_unspecified() {
                Some(Unbannable::Unspecified)
            } else if v6.is_multicast() {
                Some(Unbannable::Multicast)
            } else if v6.is_loopback() && !allow_loopback {
                Some(Unbannable::Loopback)
            } else {
                None
            }
        }
    }
}

/// The widest networks the firewalls hold (a shorter prefix is no ban but a blackout).
pub const NARROWEST_WIDE_V4: u8 = 8;
pub const NARROWEST_WIDE_V6: u8 = 16;
/// Networks wider than these (more than 65,536 IPv4 addresses; more than a /32, an
/// ISP's whole allocation) are banned only when asked for explicitly (`--wide`).
pub const WIDE_V4: u8 = 16;
pub const WIDE_V6: u8 = 32;

/// Why `addr` is too wide to ban (`wide`: the caller asked for a wide ban).
pub fn check_network(addr: &Addr, wide: bool) -> Result<(), String> {
    let (len, floor, soft) = match addr.net() {
        IpNet::V4(n) => (n.prefix_len(), NARROWEST_WIDE_V4, WIDE_V4),
        IpNet::V6(n) => (n.prefix_len(), NARROWEST_WIDE_V6, WIDE_V6),
    };
    if len < floor {
        return Err(format!(
            "{addr} is too wide to ban: the firewall holds networks of /{floor} or narrower"
        ));
    }
    if len < soft && !wide {
        return Err(format!(
            "{addr} is a very wide network (wider than /{soft}); add --wide to ban it anyway"
        ));
    }
    Ok(())
}

/// A list of networks never to ban (`ignoreip`, `ignoreself`).
#[derive(Debug, Clone, Default)]
pub struct IgnoreList {
    nets: Vec<IpNet>,
}

impl IgnoreList {
    pub fn new(nets: Vec<IpNet>) -> Self {
        IgnoreList { nets }
    }

    pub fn push(&mut self, net: IpNet) {
        self.nets.push(net);
    }

    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// True when banning `addr` would also block an ignored address (an admin sharing
    /// the attacker's /64); callers then narrow the ban to the single address.
    pub fn overlaps(&self, addr: &Addr) -> bool {
        let a = addr.net();
        self.nets.iter().any(|n| n.contains(&a) || a.contains(n))
    }

    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }

    /// An ignored network or address that banning `addr` would also block.
    pub fn overlapping(&self, addr: &Addr) -> Option<IpNet> {
        let a = addr.net();
        self.nets
            .iter()
            .find(|n| n.contains(&a) || a.contains(*n))
            .copied()
    }
}

/// Parse one `ignoreip` item: an address or CIDR network.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(canonical(ip)));
    }
    s.parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|_| format!("{s:?} is not an IP address or CIDR network (like 192.0.2.0/24)"))
}

/// Every address of this host's interfaces (for `ignoreself`).
pub fn local_addresses() -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for a in addrs {
            let Some(sa) = a.address else { continue };
            if let Some(v4) = sa.as_sockaddr_in() {
                out.push(IpAddr::V4(v4.ip()));
            } else if let Some(v6) = sa.as_sockaddr_in6() {
                out.push(IpAddr::V6(v6.ip()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v6_widened_to_prefix() {
        let a = Addr::new("2001:db8:1:2:3:4:5:6".parse().unwrap(), 64);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        let b = Addr::new("2001:db8:1:2::ffff".parse().unwrap(), 64);
        assert_eq!(a, b);
        assert_eq!(
            Addr::new("2001:db8::1".parse().unwrap(), 128).to_string(),
            "2001:db8::1"
        );
    }

    #[test]
    fn v4_mapped_is_v4() {
        let a = Addr::new("::ffff:192.0.2.7".parse().unwrap(), 64);
        assert_eq!(a.to_string(), "192.0.2.7");
    }

    #[test]
    fn ignore_overlap_narrows() {
        let ig = IgnoreList::new(vec![parse_net("2001:db8:1:2::10").unwrap()]);
        let attacker = Addr::new("2001:db8:1:2::99".parse().unwrap(), 64);
        assert!(ig.overlaps(&attacker));
        assert!(!ig.contains_ip("2001:db8:1:2::99".parse().unwrap()));
        let v4 = IgnoreList::new(vec![parse_net("192.0.2.0/24").unwrap()]);
        assert!(v4.contains_ip("::ffff:192.0.2.1".parse().unwrap()));
        assert!(parse_net("192.0.2.300").is_err());
    }

    #[test]
    fn networks_with_host_bits_are_refused_naming_the_network() {
        let e = "198.51.100.0/1".parse::<Addr>().unwrap_err();
        assert!(e.contains("128.0.0.0/1"), "{e}");
        let e = "2001:db8::1/64".parse::<Addr>().unwrap_err();
        assert!(e.contains("2001:db8::/64"), "{e}");
        assert_eq!(
            "198.51.100.128/25".parse::<Addr>().unwrap().to_string(),
            "198.51.100.128/25"
        );
        assert_eq!(
            "::ffff:198.51.100.0/120"
                .parse::<Addr>()
                .unwrap()
                .to_string(),
            "198.51.100.0/24"
        );
        // A /32 or /128 is the single address.
        assert!("192.0.2.1/32".parse::<Addr>().unwrap().is_single());
    }

    #[test]
    fn what_no_attacker_can_send_from_is_unbannable() {
        let u = |s: &str| unbannable(s.parse().unwrap(), false);
        assert_eq!(u("0.0.0.0"), Some(Unbannable::Unspecified));
        assert_eq!(u("0.1.2.3"), Some(Unbannable::Unspecified));
        assert_eq!(u("::"), Some(Unbannable::Unspecified));
        assert_eq!(u("::ffff:0.0.0.0"), Some(Unbannable::Unspecified));
        assert_eq!(u("255.255.255.255"), Some(Unbannable::Broadcast));
        assert_eq!(u("224.0.0.251"), Some(Unbannable::Multicast));
        assert_eq!(u("239.255.255.250"), Some(Unbannable::Multicast));
        assert_eq!(u("ff02::1"), Some(Unbannable::Multicast));
        assert_eq!(u("::ffff:224.0.0.1"), Some(Unbannable::Multicast));
        assert_eq!(u("127.0.0.1"), Some(Unbannable::Loopback));
        assert_eq!(u("::1"), Some(Unbannable::Loopback));
        assert_eq!(u("::ffff:127.0.0.1"), Some(Unbannable::Loopback));
        assert_eq!(unbannable("127.0.0.1".parse().unwrap(), true), None);
        for ok in [
            "203.0.113.7",
            "198.51.100.255",
            "169.254.1.1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:203.0.113.7",
            "240.0.0.1",
        ] {
            assert_eq!(u(ok), None, "{ok}");
        }
    }

    #[test]
    fn link_local_is_never_widened() {
        let a = Addr::new("fe80::1234".parse().unwrap(), 64);
        assert!(a.is_single(), "{a}");
        assert_eq!(
            Addr::network("fe80::".parse().unwrap(), 64)
                .unwrap()
                .to_string(),
            "fe80::/64"
        );
    }

    #[test]
    fn wide_networks_need_asking_and_some_are_never_bans() {
        let n = |s: &str| s.parse::<Addr>().unwrap();
        assert!(check_network(&n("198.51.100.0/24"), false).is_ok());
        assert!(check_network(&n("10.0.0.0/16"), false).is_ok());
        let e = check_network(&n("10.0.0.0/8"), false).unwrap_err();
        assert!(e.contains("--wide"), "{e}");
        assert!(check_network(&n("10.0.0.0/8"), true).is_ok());
        assert!(check_network(&n("0.0.0.0/1"), true).is_err());
        assert!(check_network(&n("2001:db8::/32"), false).is_ok());
        assert!(check_network(&n("2001::/16"), false).is_err());
        assert!(check_network(&n("2001::/16"), true).is_ok());
        assert!(check_network(&n("2000::/3"), true).is_err());
    }
}
