//! Checks shared by the filter and pipeline targets.

use std::net::IpAddr;
use std::ops::Range;

/// Whether `ip` is written in `message` somewhere outside `user` (the `<F-USER>` part):
/// an address a filter reports must come from the text the service wrote, and a user
/// name is the client's text. Written as banjo reads addresses (`filter::parse_host`:
/// IPv4, IPv6 in any spelling, in brackets, IPv4-mapped forms read as IPv4).
pub fn address_outside(message: &[u8], ip: IpAddr, user: Option<&Range<usize>>) -> bool {
    let outside = |r: &Range<usize>| user.is_none_or(|u| r.end <= u.start || r.start >= u.end);
    // The usual spelling first: a plain search.
    let plain = ip.to_string();
    let mut from = 0;
    while let Some(at) = find(&message[from..], plain.as_bytes()) {
        let r = from + at..from + at + plain.len();
        if outside(&r) {
            return true;
        }
        from = r.start + 1;
    }
    // Any other spelling: every substring of a run of address characters.
    let is_addr = |b: &u8| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'[' | b']');
    let mut i = 0;
    while i < message.len() {
        if !is_addr(&message[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < message.len() && is_addr(&message[i]) {
            i += 1;
        }
        for s in start..i {
            for e in s + 2..=i.min(s + 64) {
                let r = s..e;
                if outside(&r) && parses_to(&message[r], ip) {
                    return true;
                }
            }
        }
    }
    false
}

fn parses_to(b: &[u8], ip: IpAddr) -> bool {
    std::str::from_utf8(b)
        .ok()
        .and_then(banjo::filter::parse_host)
        .is_some_and(|p| p == ip)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_and_user_part() {
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(address_outside(b"from 2001:0db8:0:0::1 port", ip, None));
        let m = b"user 192.0.2.1 from 192.0.2.2";
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(address_outside(m, v4, None));
        assert!(!address_outside(m, v4, Some(&(5..14))));
        let mapped: IpAddr = "203.0.113.6".parse().unwrap();
        assert!(address_outside(b"(::ffff:203.0.113.6[x])", mapped, None));
    }
}
