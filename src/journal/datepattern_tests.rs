use super::*;

/// 2026-12-07 10:00:00 UTC (`date -u -d '2026-12-07 10:00:00' +%s`).
const T: i64 = 1_796_637_600;
/// 2026-12-07 12:00 UTC: "now" for yearless stamps.
fn utc() -> DateContext {
    DateContext::new((T + 7200) * SEC, Zone::Fixed(0))
}

fn auto(line: &str) -> Option<(i64, String)> {
    DatePattern::Auto
        .find(line.as_bytes(), &mut utc())
        .map(|f| (f.time_us, line[f.span].to_owned()))
}

fn cut(line: &str, p: &DatePattern, ctx: &mut DateContext) -> String {
    let f = p.find(line.as_bytes(), ctx).expect("a date");
    let r = f.cut(line.as_bytes());
    format!("{}{}", &line[..r.start], &line[r.end..])
}

#[test]
fn default_shapes_anywhere_in_the_line() {
    let s = T * SEC;
    let cases: &[(&str, i64, &str)] = &[
        ("Dec  7 10:00:00 host sshd[1]: x", s, "Dec  7 10:00:00"),
        (
            "Dec 07 10:00:00.250 host x",
            s + 250_000,
            "Dec 07 10:00:00.250",
        ),
        ("2026-12-07T10:00:00Z x", s, "2026-12-07T10:00:00Z"),
        (
            "2026-12-07T11:00:00+01:00 x",
            s,
            "2026-12-07T11:00:00+01:00",
        ),
        (
            "2026-12-07 05:00:00.123456-0500 x",
            s + 123_456,
            "2026-12-07 05:00:00.123456-0500",
        ),
        (
            "2026-12-07 10:00:00,5 app x",
            s + 500_000,
            "2026-12-07 10:00:00,5",
        ),
        (
            "2026-12-07 11:00:00 +01:00 app x",
            s,
            "2026-12-07 11:00:00 +01:00",
        ),
        (
            "2026/12/07 10:00:00 [error] 12#12: x",
            s,
            "2026/12/07 10:00:00",
        ),
        (
            "192.0.2.7 - - [07/Dec/2026:11:00:00 +0100] \"GET / HTTP/1.1\" 404",
            s,
            "07/Dec/2026:11:00:00 +0100",
        ),
        (
            "[Mon Dec 07 10:00:00.123456 2026] [auth_basic:error] [client 192.0.2.7:5]",
            s + 123_456,
            "Mon Dec 07 10:00:00.123456 2026",
        ),
        (
            "[Mon Dec 07 10:00:00 2026] [error] x",
            s,
            "Mon Dec 07 10:00:00 2026",
        ),
        (
            "07-Dec-2026 10:00:00.123 client @0x1 192.0.2.7#5",
            s + 123_000,
            "07-Dec-2026 10:00:00.123",
        ),
        ("1796637600.5 x", s + 500_000, "1796637600.5"),
        ("[1796637600] x", s, "1796637600"),
        (
            "type=USER_LOGIN msg=audit(1796637600.125:77): addr=192.0.2.7",
            s + 125_000,
            "1796637600.125",
        ),
        ("host x: at Dec  7 10:00:00 it failed", s, "Dec  7 10:00:00"),
    ];
    for (line, want, span) in cases {
        assert_eq!(auto(line), Some((*want, span.to_string())), "{line}");
    }
}

#[test]
fn not_dates() {
    for line in [
        "",
        "no date here at all",
        "Decoy 7 10:00:00",
        "2026-13-07 10:00:00 month 13",
        "2026-12-07 24:00:00 hour 24",
        "Dec 32 10:00:00 day 32",
        "2026-12-07 10:00:001 a digit too many",
        "x1796637600 not at a word start",
        "user 1796637600 ten digits mid-line are no epoch",
        "pid 123 port 22 from 192.0.2.7",
    ] {
        assert_eq!(auto(line), None, "{line:?}");
    }
}

#[test]
fn yearless_stamps_take_this_year_or_the_last() {
    // Read on 2026-12-07 12:00: a stamp of Dec 8 is only hours ahead (clock skew), one
    // of Dec 9 is last year's.
    let ctx = &mut utc();
    let dec8 = DatePattern::Auto.find(b"Dec  8 10:00:00 x", ctx).unwrap();
    assert_eq!(dec8.time_us, (T + 86_400) * SEC);
    let dec9 = DatePattern::Auto.find(b"Dec  9 10:00:00 x", ctx).unwrap();
    // 2025-12-09 10:00:00 UTC
    assert_eq!(dec9.time_us, (T + 2 * 86_400 - 365 * 86_400) * SEC);
    // A December line read on January 2nd is December's.
    let jan = &mut DateContext::new(1_767_323_045 * SEC, Zone::Fixed(0));
    let dec31 = DatePattern::Auto.find(b"Dec 31 23:59:59 x", jan).unwrap();
    assert_eq!(dec31.time_us, 1_767_225_599 * SEC);
}

#[test]
fn zoneless_stamps_read_in_the_context_zone() {
    let ctx = &mut DateContext::new(T * SEC, Zone::Fixed(9 * 3600));
    let f = DatePattern::Auto
        .find(b"2026-12-07 19:00:00 x", ctx)
        .unwrap();
    assert_eq!(f.time_us, T * SEC);
    // A zone in the line wins over the context's.
    let f = DatePattern::Auto
        .find(b"2026-12-07T10:00:00Z x", ctx)
        .unwrap();
    assert_eq!(f.time_us, T * SEC);
}

#[test]
fn host_zone_follows_tz_with_daylight_saving() {
    // TZ is read by the C library once per process: check it in a child process.
    if std::env::var_os("BANJO_DATEPATTERN_TZ_CHILD").is_some() {
        let ctx = &mut DateContext::new(T * SEC, Zone::Host);
        let at = |ctx: &mut DateContext, line: &str| {
            DatePattern::Auto
                .find(line.as_bytes(), ctx)
                .unwrap()
                .time_us
                / SEC
        };
        // Berlin: CET (+1) in December, CEST (+2) in July.
        assert_eq!(at(ctx, "2026-12-07 11:00:00 x"), T);
        assert_eq!(at(ctx, "2026-07-07 10:00:00 x"), 1_783_411_200);
        // 02:30 on 2026-03-29 does not exist; read with the offset after the change.
        assert_eq!(at(ctx, "2026-03-29 02:30:00 x"), 1_774_744_200);
        // 02:30 on 2026-10-25 happens twice; the later one.
        assert_eq!(at(ctx, "2026-10-25 02:30:00 x"), 1_792_891_800);
        // The same bucket again, from the cache.
        assert_eq!(at(ctx, "2026-07-07 10:05:00 x"), 1_783_411_500);
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "journal::datepattern::tests::host_zone_follows_tz_with_daylight_saving",
            "--test-threads=1",
        ])
        .env("TZ", "Europe/Berlin")
        .env("BANJO_DATEPATTERN_TZ_CHILD", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("1 passed"), "{text}");
}

#[test]
fn host_zone_matches_the_c_library_here() {
    // Whatever this machine's zone is, a zone-less stamp means what `date` says.
    let out = std::process::Command::new("date")
        .args(["-d", "@1796637600", "+%Y-%m-%d %H:%M:%S"])
        .env_remove("TZ")
        .output()
        .unwrap();
    let local = String::from_utf8(out.stdout).unwrap();
    let line = format!("{} x", local.trim());
    let ctx = &mut DateContext::new(T * SEC, Zone::Host);
    let f = DatePattern::Auto.find(line.as_bytes(), ctx).unwrap();
    assert_eq!(f.time_us, T * SEC, "{line}");
}

#[test]
fn datepattern_codes() {
    let ctx = &mut utc();
    let s = T * SEC;
    let cases: &[(&str, &str, i64, &str)] = &[
        (
            "%Y-%m-%d %H:%M:%S",
            "x 2026-12-07 10:00:00 y",
            s,
            "2026-12-07 10:00:00",
        ),
        (
            "%d/%b/%Y:%H:%M:%S %z",
            "[07/Dec/2026:11:00:00 +0100]",
            s,
            "07/Dec/2026:11:00:00 +0100",
        ),
        (
            "%a %b %d %H:%M:%S\\.%f %Y",
            "[Mon Dec 07 10:00:00.5 2026]",
            s + 500_000,
            "Mon Dec 07 10:00:00.5 2026",
        ),
        (
            "%m/%d/%y %I:%M:%S %p",
            "12/07/26 10:00:00 AM",
            s,
            "12/07/26 10:00:00 AM",
        ),
        (
            "%m/%d/%y %I:%M %p",
            "12/07/26 10:00 PM",
            s + 12 * 3600 * SEC,
            "12/07/26 10:00 PM",
        ),
        (
            "%m/%d/%y %I:%M %p",
            "12/07/26 12:00 AM",
            s - 10 * 3600 * SEC,
            "12/07/26 12:00 AM",
        ),
        (
            "%B %d, %Y %H:%M:%S %Z",
            "December 07, 2026 10:00:00 UTC",
            s,
            "December 07, 2026 10:00:00 UTC",
        ),
        ("%b %e %H:%M:%S", "Dec  7 10:00:00", s, "Dec  7 10:00:00"),
        ("@%s", "x @1796637600 y", s, "@1796637600"),
        ("%s\\.%f", "1796637600.25", s + 250_000, "1796637600.25"),
        ("%ExY%m%d %H%M%S", "20261207 100000", s, "20261207 100000"),
        (
            "{^LN-BEG}%Y-%m-%d %H:%M:%S",
            "[2026-12-07 10:00:00] x",
            s,
            "2026-12-07 10:00:00",
        ),
        (
            "100%% %H:%M:%S %Y-%m-%d",
            "100% 10:00:00 2026-12-07",
            s,
            "100% 10:00:00 2026-12-07",
        ),
    ];
    for (pat, line, want, span) in cases {
        let p = DatePattern::parse(pat).unwrap_or_else(|e| panic!("{pat}: {e}"));
        let f = p
            .find(line.as_bytes(), ctx)
            .unwrap_or_else(|| panic!("{pat} on {line}"));
        assert_eq!(
            (f.time_us, &line[f.span]),
            (*want, *span),
            "{pat} on {line}"
        );
    }
    // Anchored: not found later in the line.
    let p = DatePattern::parse("{^LN-BEG}%Y-%m-%d %H:%M:%S").unwrap();
    assert!(p.find(b"x: 2026-12-07 10:00:00", ctx).is_none());
    let p = DatePattern::parse("^%Y-%m-%d %H:%M:%S").unwrap();
    assert!(p.find(b"x: 2026-12-07 10:00:00", ctx).is_none());
    // A word start: %d does not begin inside "107".
    let p = DatePattern::parse("%d/%b/%Y:%H:%M:%S").unwrap();
    assert_eq!(
        p.find(b"id=107/Dec/2026:10:00:00", ctx),
        None,
        "no date starts inside a number"
    );
    // A match that is no date (month 13) lets a later one count.
    let p = DatePattern::parse("%m/%d/%Y %H:%M:%S").unwrap();
    let f = p
        .find(b"13/01/2026 10:00:00 then 12/07/2026 10:00:00", ctx)
        .unwrap();
    assert_eq!(f.time_us, s);
    // EPOCH keys.
    let p = DatePattern::parse("EPOCH").unwrap();
    assert_eq!(p.find(b"1796637600 x", ctx).unwrap().time_us, s);
    let p = DatePattern::parse("LEPOCH").unwrap();
    assert_eq!(
        p.find(b"1796637600123 x", ctx).unwrap().time_us,
        s + 123_000
    );
}

#[test]
fn bad_datepatterns_say_why() {
    let err = |p: &str| DatePattern::parse(p).unwrap_err().to_string();
    assert!(err("%Y-%q").contains("unknown code %q"), "{}", err("%Y-%q"));
    assert!(err("%H:%M:%H").contains("%H appears twice"));
    assert!(err("no codes").contains("no %-code"));
    assert!(err("%Y(").contains("not a valid regular expression"));
    assert!(err("%Y %").contains("lone %"));
    assert!(err("").contains("empty"));
    assert!(err("{^LN-BEG}TAI64N").contains("TAI64N"));
}

#[test]
fn cutting_the_date_leaves_the_rest_as_fail2ban_sees_it() {
    let ctx = &mut utc();
    let a = &DatePattern::Auto;
    assert_eq!(
        cut("Dec  7 10:00:00 host sshd[1]: x", a, ctx),
        "host sshd[1]: x"
    );
    assert_eq!(
        cut(
            "192.0.2.7 - - [07/Dec/2026:10:00:00 +0000] \"GET /x\" 404",
            a,
            ctx
        ),
        "192.0.2.7 - - [] \"GET /x\" 404"
    );
    assert_eq!(cut("failed at 2026-12-07 10:00:00", a, ctx), "failed at");
}

#[test]
fn a_date_written_by_an_attacker_later_in_the_line_changes_nothing() {
    // The user name is the attacker's text. The real stamp comes first, so it is the
    // one found and cut; the user name stays exactly as written, and the time is the
    // real one.
    let ctx = &mut utc();
    let line = "Dec  7 10:00:00 host sshd[9]: Invalid user Jan  1 00:00:00 from 192.0.2.7 port 22";
    let f = DatePattern::Auto.find(line.as_bytes(), ctx).unwrap();
    assert_eq!(f.time_us, T * SEC);
    assert_eq!(f.span, 0..15);
    assert_eq!(
        cut(line, &DatePattern::Auto, ctx),
        "host sshd[9]: Invalid user Jan  1 00:00:00 from 192.0.2.7 port 22"
    );
    // The same in an access log, with a stamp-shaped request path and user agent.
    let line = "192.0.2.7 - - [07/Dec/2026:10:00:00 +0000] \"GET /01/Jan/2020:00:00:00 HTTP/1.1\" 404 1 \"-\" \"2020-01-01T00:00:00Z\"";
    let f = DatePattern::Auto.find(line.as_bytes(), ctx).unwrap();
    assert_eq!(f.time_us, T * SEC);
    assert_eq!(&line[f.span.clone()], "07/Dec/2026:10:00:00 +0000");
    // A custom pattern behaves the same: leftmost wins, nothing before the span moves.
    let p = DatePattern::parse("%Y-%m-%d %H:%M:%S").unwrap();
    let line = "2026-12-07 10:00:00 login failed for 1999-01-01 00:00:00 from 192.0.2.7";
    let f = p.find(line.as_bytes(), ctx).unwrap();
    assert_eq!((f.time_us, f.span), (T * SEC, 0..19));
}

#[test]
fn hostile_bytes_never_panic() {
    // Truncated stamps at the very end, non-UTF-8, lone zone signs, huge digit runs.
    let ctx = &mut utc();
    let p = DatePattern::parse("%Y-%m-%d %H:%M:%S\\.%f%z").unwrap();
    for line in [
        &b"Dec"[..],
        b"Dec  7",
        b"Dec  7 10:00:0",
        b"2026-12-07T10:00:00+",
        b"2026-12-07T10:00:00+0",
        b"07/Dec/2026:10:00:00 +",
        b"[",
        b"audit(",
        b"audit(1796637600",
        b"\xff\xfe Dec  7 10:00:00 \xc3",
        b"2026-12-07 10:00:00.99999999999999999999999999",
        b"99999999999 x",
        b"\0\0\0",
    ] {
        let _ = DatePattern::Auto.find(line, ctx);
        let _ = p.find(line, ctx);
    }
    let f = DatePattern::Auto
        .find(b"\xff\xfe Dec  7 10:00:00 \xc3", ctx)
        .unwrap();
    assert_eq!((f.time_us, f.span), (T * SEC, 3..18));
    // A year far out of range is not a date.
    assert_eq!(auto("0000-12-07 10:00:00 x"), None);
}
