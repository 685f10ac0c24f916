use super::*;
use std::collections::HashMap;

fn a(s: &str) -> Addr {
    s.parse().unwrap()
}

/// The i-th /64 of 2001:db8::/32, as a spray would use them.
fn v6(i: u32) -> Addr {
    let ip = std::net::Ipv6Addr::from((0x2001_0db8u128 << 96) | (u128::from(i) << 64) | 1);
    Addr::new(ip.into(), 64)
}

const MSG: &str = "Failed password for root from 2001:db8:1:2::1 port 4242 ssh2";

fn one(maxretry: u32, findtime: Micros) -> Tracker {
    Tracker::new(usize::MAX, [(maxretry, findtime)])
}

#[test]
fn a_slot_is_88_bytes() {
    // The size the budget's arithmetic and the docs assume (SLOT_COST).
    assert_eq!(std::mem::size_of::<Slot>(), 88);
}

#[test]
fn trips_at_maxretry_inside_findtime() {
    let mut t = one(3, 60 * SEC);
    assert!(t.add(0, a("192.0.2.1"), 0, "m1").is_none());
    assert!(t.add(0, a("192.0.2.1"), 10 * SEC, "m2").is_none());
    let trip = t.add(0, a("192.0.2.1"), 20 * SEC, "m3").unwrap();
    assert_eq!(trip.failures, 3);
    assert_eq!(trip.matches, ["m1", "m2", "m3"]);
    assert_eq!(
        t.count(0, &a("192.0.2.1"), 20 * SEC),
        0,
        "forgotten after trip"
    );
    assert!(t.is_empty());
}

#[test]
fn old_failures_slide_out() {
    let mut t = one(3, 60 * SEC);
    t.add(0, a("192.0.2.1"), 0, "m");
    t.add(0, a("192.0.2.1"), 50 * SEC, "m");
    // The first is 70 s old now: only two in the window.
    assert!(t.add(0, a("192.0.2.1"), 70 * SEC, "m").is_none());
    assert_eq!(t.count(0, &a("192.0.2.1"), 70 * SEC), 2);
    assert!(t.add(0, a("192.0.2.1"), 80 * SEC, "m").is_some());
}

#[test]
fn jails_count_apart() {
    let mut t = Tracker::new(usize::MAX, [(2, 60 * SEC), (3, 60 * SEC)]);
    assert!(t.add(0, a("192.0.2.1"), 0, "m").is_none());
    assert!(t.add(1, a("192.0.2.1"), 0, "m").is_none());
    assert!(t.add(1, a("192.0.2.1"), 1, "m").is_none());
    assert_eq!((t.failing(0), t.failing(1)), (1, 1));
    assert!(t.add(0, a("192.0.2.1"), 2, "m").is_some());
    assert_eq!(t.count(1, &a("192.0.2.1"), 2), 2);
    // An unknown jail counts nothing and does not panic.
    assert!(t.add(7, a("192.0.2.1"), 2, "m").is_none());
}

/// Many failures for a big maxretry: times leave the slot, and only the latest
/// MAX_TEXTS texts are kept, each cut at MATCH_KEEP on a character boundary.
#[test]
fn long_windows_keep_their_times_and_cap_their_texts() {
    let mut t = one(100, 3600 * SEC);
    let long = "é".repeat(200); // 400 bytes
    for i in 0..99 {
        let m = if i == 98 {
            long.clone()
        } else {
            format!("m{i}")
        };
        assert!(t.add(0, a("192.0.2.1"), i * SEC, &m).is_none());
    }
    assert_eq!(t.count(0, &a("192.0.2.1"), 98 * SEC), 99);
    let trip = t.add(0, a("192.0.2.1"), 99 * SEC, "last").unwrap();
    assert_eq!(trip.failures, 100);
    assert_eq!(trip.matches.len(), MAX_TEXTS);
    assert_eq!(trip.matches[0], format!("m{}", 100 - MAX_TEXTS));
    assert_eq!(trip.matches[MAX_TEXTS - 2], "é".repeat(MATCH_KEEP / 2));
    assert_eq!(trip.matches[MAX_TEXTS - 1], "last");
    assert_eq!(t.bytes(), t.slots.capacity() * SLOT_COST, "no heap left");
}

/// Expired windows go on time, with no add to trigger it: `due` says when to look,
/// and a sweep costs only what expired.
#[test]
fn windows_expire_on_time_without_adds() {
    let mut t = one(5, 60 * SEC);
    assert_eq!(t.due(), None, "nothing held, nothing to wake for");
    for i in 0..10_000 {
        t.add(0, v6(i), SEC + i64::from(i), MSG);
    }
    t.add(0, a("192.0.2.1"), 30 * SEC, MSG);
    assert_eq!(t.failing(0), 10_001);
    let due = t.due().unwrap();
    assert!(due <= 61 * SEC + 1, "{due}");
    t.sweep(62 * SEC);
    assert_eq!(t.failing(0), 1, "the spray expired, 192.0.2.1 did not");
    assert_eq!(t.due(), Some(90 * SEC + 1));
    assert!(t.freed() > 10_000 * 100, "{}", t.freed());
    // The slab was rebuilt small: the burst's peak is not held.
    assert!(t.bytes() < 4096, "{}", t.bytes());
    t.sweep(90 * SEC + 1);
    assert!(t.is_empty() && t.due().is_none());
}

/// The attack the budget must survive: single failures from a million /64s, while
/// one address has 4 of its 5. It keeps its window and is banned at its fifth.
#[test]
fn a_spray_of_single_failures_cannot_hide_a_brute_force() {
    let budget = 1 << 20;
    let mut t = Tracker::new(budget, [(5, 3600 * SEC), (3, 3600 * SEC)]);
    let brute = a("203.0.113.50");
    for k in 0..4 {
        assert!(t.add(0, brute, k, MSG).is_none());
    }
    // Another jail's address with 2 of 3 is kept too.
    t.add(1, a("198.51.100.7"), 0, MSG);
    t.add(1, a("198.51.100.7"), 1, MSG);
    for i in 0..1_000_000 {
        assert!(t.add(0, v6(i), 10 + i64::from(i), MSG).is_none());
        assert!(t.bytes() <= budget);
    }
    let kept = t.len();
    assert!(kept > 3000, "the budget holds thousands of windows: {kept}");
    assert!(kept < 1_000_000 / 100, "{kept}");
    assert_eq!(t.forgotten(0), 1_000_000 + 2 - kept as u64);
    assert_eq!(t.forgotten(1), 0);
    assert_eq!(t.count(0, &brute, 2_000_000), 4);
    let trip = t
        .add(0, brute, 2_000_000, MSG)
        .expect("banned at its fifth failure");
    assert_eq!(trip.failures, 5);
    assert!(t.add(1, a("198.51.100.7"), 2_000_000, MSG).is_some());
    // The newest of the spray are the ones kept (oldest forgotten first).
    assert_eq!(t.count(0, &v6(999_999), 2_000_000), 1);
    assert_eq!(t.count(0, &v6(0), 2_000_000), 0);
    // Said once.
    let n = t.take_notice().unwrap();
    assert_eq!((n.jail, n.failures, n.budget), (0, 1, budget));
    assert_eq!(t.take_notice(), None);
}

/// With the budget full of windows with two failures, a new address (one failure) is
/// the one not kept: it displaces nobody.
#[test]
fn a_newcomer_never_displaces_a_window_with_more_failures() {
    let budget = 256 << 10;
    let mut t = Tracker::new(budget, [(5, 3600 * SEC)]);
    let mut i = 0;
    while t.forgotten(0) == 0 {
        t.add(0, v6(i), 0, MSG);
        t.add(0, v6(i), 1, MSG);
        i += 1;
    }
    // Filled: the last pair's second failure did not fit, the oldest one-failure
    // window (it) went. Now every window has two failures.
    let full = t.len();
    for k in 0..50_000 {
        assert!(t.add(0, v6(10_000_000 + k), 5, MSG).is_none());
    }
    assert_eq!(t.len(), full);
    for j in 0..i - 1 {
        assert_eq!(t.count(0, &v6(j), 5), 2, "window {j} kept");
    }
    assert!(t.bytes() <= budget);
}

/// Fewest failures first across jails, the oldest of them first.
#[test]
fn eviction_order_is_fewest_failures_then_oldest() {
    let mut t = Tracker::new(usize::MAX, [(9, 3600 * SEC), (9, 3600 * SEC)]);
    for (jail, addr, n, at) in [(0, 1, 3, 0), (1, 2, 1, 5), (0, 3, 1, 2), (1, 4, 2, 1)] {
        for k in 0..n {
            t.add(jail, v6(addr), at + k, MSG);
        }
    }
    let mut order = Vec::new();
    while t.evict_if(|_| true) {
        let gone: Vec<u32> = [(0, 1), (1, 2), (0, 3), (1, 4)]
            .into_iter()
            .filter(|&(j, x)| t.count(j, &v6(x), 10) == 0 && !order.contains(&x))
            .map(|(_, x)| x)
            .collect();
        order.extend(gone);
    }
    assert_eq!(order, [3, 2, 4, 1]);
    assert_eq!(t.forgotten_total(), 4);
}

/// Without pressure the tracker answers as the plain map of time lists it replaced.
#[test]
fn behaves_like_the_plain_model() {
    let mut next = crate::filter::xorshift(0x9e37_79b9_7f4a_7c15);
    let findtime = 100;
    let rules = [(3, findtime), (6, findtime * 3)];
    let mut t = Tracker::new(usize::MAX, rules);
    let mut model: HashMap<(usize, Addr), Vec<Micros>> = HashMap::new();
    let mut now = 0;
    for step in 0..300_000u32 {
        let r = next();
        now += (r % 7) as Micros;
        let jail = (r >> 8) as usize & 1;
        let addr = v6((r >> 16) as u32 % 500);
        let (maxretry, ft) = rules[jail];
        if r >> 40 & 63 == 0 {
            t.forget(jail, &addr);
            model.remove(&(jail, addr));
        } else if r >> 40 & 1023 == 1 {
            t.sweep(now);
            model.retain(|(j, _), v| v.last().is_some_and(|&l| now - l <= rules[*j].1));
        } else {
            let got = t.add(jail, addr, now, "m").map(|x| x.failures);
            let v = model.entry((jail, addr)).or_default();
            v.retain(|&x| x >= now - ft);
            v.push(now);
            let want = (v.len() as u32 >= maxretry).then_some(v.len() as u32);
            if want.is_some() {
                model.remove(&(jail, addr));
            }
            assert_eq!(got, want, "step {step}");
        }
        let m = model
            .get(&(jail, addr))
            .map_or(0, |v| v.iter().filter(|&&x| now - x <= ft).count());
        assert_eq!(t.count(jail, &addr, now), m, "step {step}");
        assert_eq!(t.len(), model.len(), "step {step}");
    }
}

#[test]
fn reload_carries_the_windows_of_unchanged_jails() {
    let mut t = Tracker::new(usize::MAX, [(5, 600 * SEC), (5, 600 * SEC), (5, 600 * SEC)]);
    for j in 0..3 {
        t.add(j, a("192.0.2.1"), 0, MSG);
        t.add(j, a("192.0.2.1"), 1, MSG);
    }
    t.jails[2].forgotten = 7;
    // Jail 0 removed, jail 1 changed its rules, jail 2 is now jail 0.
    let mut n = t.carry_over(
        &[None, None, Some(0)],
        [(5, 600 * SEC), (3, 60 * SEC)],
        usize::MAX,
    );
    assert_eq!(n.count(0, &a("192.0.2.1"), 2), 2);
    assert_eq!(n.count(1, &a("192.0.2.1"), 2), 0);
    assert_eq!((n.len(), n.forgotten(0), n.forgotten(1)), (1, 7, 0));
    assert!(n.add(0, a("192.0.2.1"), 3, MSG).is_none());
    assert!(n.add(0, a("192.0.2.1"), 4, MSG).is_none());
    assert!(n.add(0, a("192.0.2.1"), 5, MSG).is_some());
    // A smaller budget at reload is kept at once, fewest failures first.
    let mut t = Tracker::new(usize::MAX, [(5, 600 * SEC)]);
    for i in 0..20_000 {
        t.add(0, v6(i), 0, MSG);
    }
    t.add(0, a("192.0.2.1"), 0, MSG);
    t.add(0, a("192.0.2.1"), 0, MSG);
    let n = t.carry_over(&[Some(0)], [(5, 600 * SEC)], 1 << 20);
    assert!(n.bytes() <= 1 << 20, "{}", n.bytes());
    assert_eq!(n.count(0, &a("192.0.2.1"), 0), 2);
    assert!(n.forgotten(0) > 10_000);
}

#[test]
fn trips_give_memory_back_after_a_burst() {
    // 20k addresses trip at once, then are forgotten by the tracker as they trip.
    let mut t = one(2, 3600 * SEC);
    for i in 0..20_000 {
        t.add(0, v6(i), 0, MSG);
    }
    assert!(t.slots.capacity() >= 20_000);
    for i in 0..20_000 {
        assert!(t.add(0, v6(i), SEC, MSG).is_some());
    }
    assert!(t.is_empty());
    assert!(t.bytes() <= 1024 * SLOT_COST, "{}", t.bytes());
}
