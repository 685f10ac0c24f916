//! Addresses as banjo bans them: one IPv4 address, or an IPv6 address widened to a
//! prefix (a /64 by default, since one attacker usually owns a whole /64).

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::fmt;
use std::net::IpAddr;

/// A banned (or counted) unit: a single address or an IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr(IpNet);

impl Addr {
    /// The key for `ip`, with IPv6 widened to `/v6_prefix` (128 keeps the single address).
    /// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) become plain IPv4.
    pub fn new(ip: IpAddr, v6_prefix: u8) -> Addr {
        match canonical(ip) {
            IpAddr::V4(v4) => Addr(IpNet::V4(Ipv4Net::new_assert(v4, 32))),
            IpAddr::V6(v6) => {
                let len = v6_prefix.min(128);
                Addr(IpNet::V6(Ipv6Net::new_assert(v6, len).trunc()))
            }
        }
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

impl std::str::FromStr for Addr {
    type Err = String;
    fn from_str(s: &str) -> Result<Addr, String> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Addr::single(ip));
        }
        s.parse::<IpNet>()
            .map(|n| Addr(n.trunc()))
            .map_err(|_| format!("{s:?} is not an IP address or CIDR network"))
    }
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
}
