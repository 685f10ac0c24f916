//! Layering and validation: every kind of mistake yields a diagnostic naming the
//! file, the line, the jail and the key.

use super::*;
use std::fs;
use tempfile::TempDir;

fn dir_with(files: &[(&str, &str)]) -> TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = d.path().join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    d
}

fn jail<'a>(c: &'a Config, name: &str) -> &'a JailConfig {
    c.jails
        .iter()
        .find(|j| j.name == name)
        .unwrap_or_else(|| panic!("no jail {name}: {:#?}", c.diagnostics))
}

fn only_error(c: &Config) -> &Diagnostic {
    let errs: Vec<&Diagnostic> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errs.len(), 1, "{errs:#?}");
    errs[0]
}

#[test]
fn builtin_defaults_alone() {
    let d = tempfile::tempdir().unwrap();
    let c = load(&d.path().join("missing"), false);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    let names: Vec<&str> = c.enabled().map(|j| j.name.as_str()).collect();
    assert_eq!(names, vec!["recidive", "sshd"]);
    let s = jail(&c, "sshd");
    assert_eq!(s.maxretry, 5);
    assert_eq!(s.findtime, 600 * SEC);
    assert_eq!(s.bantime, BanTime::Finite(3600 * SEC));
    assert!(s.increment.is_some());
    assert_eq!(s.ports, Ports::List(vec![(22, 22)]));
    let r = jail(&c, "recidive");
    assert_eq!(r.bantime, BanTime::Finite(7 * 86_400 * SEC));
    assert_eq!(r.findtime, 86_400 * SEC);
    assert_eq!(r.ports, Ports::All);
    // Every shipped jail, enabled or not, must be valid.
    assert!(c.jails.len() >= 10, "{}", c.jails.len());
}

#[test]
fn explicit_missing_dir_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let c = load(&d.path().join("nope"), true);
    assert!(only_error(&c).message.contains("does not exist"));
}

#[test]
fn layering_main_then_dropins_in_lexical_order() {
    let d = dir_with(&[
        (
            "banjo.toml",
            "[defaults]\nbantime = \"2h\"\n[jail.sshd]\nmaxretry = 3\n",
        ),
        ("jail.d/20-b.toml", "[jail.sshd]\nmaxretry = 7\n"),
        (
            "jail.d/10-a.toml",
            "[jail.sshd]\nmaxretry = 4\nfindtime = \"1h\"\n[jail.postfix]\nenabled = true\n",
        ),
    ]);
    let c = load(d.path(), true);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    let s = jail(&c, "sshd");
    assert_eq!(s.maxretry, 7, "20-b comes after 10-a");
    assert_eq!(s.findtime, 3600 * SEC, "keys not set later survive");
    // [defaults] bantime from banjo.toml applies: sshd sets none of its own.
    assert_eq!(s.bantime, BanTime::Finite(7200 * SEC));
    assert!(jail(&c, "postfix").enabled);
    // recidive sets its own bantime; a later [defaults] does not override it.
    assert_eq!(
        jail(&c, "recidive").bantime,
        BanTime::Finite(7 * 86_400 * SEC)
    );
    assert!(s.declared_at.contains("20-b.toml:1"), "{}", s.declared_at);
}

#[test]
fn unknown_key_names_file_line_and_hint() {
    let d = dir_with(&[(
        "banjo.toml",
        "[jail.sshd]\nenabled = true\nbackend = \"auto\"\n",
    )]);
    let c = load(d.path(), true);
    let e = only_error(&c);
    assert!(e.file.ends_with("banjo.toml"));
    assert_eq!(e.line, Some(3));
    assert_eq!(e.key.as_deref(), Some("backend"));
    assert!(e.hint.as_deref().unwrap().contains("journalmatch"));
    // fail2ban's silent trap (seed 000): `mode` beside `filter` is an error here.
    let d = dir_with(&[(
        "banjo.toml",
        "[jail.dovecot]\nfilter = \"dovecot\"\nmode = \"aggressive\"\n",
    )]);
    let e = load(d.path(), true)
        .diagnostics
        .into_iter()
        .find(|d| d.is_error())
        .unwrap();
    assert_eq!(e.key.as_deref(), Some("mode"));
    assert!(e.hint.unwrap().contains("[mode=aggressive]"));
}

#[test]
fn syntax_error_skips_only_that_file() {
    let d = dir_with(&[
        ("banjo.toml", "[jail.sshd]\nmaxretry = 3\n"),
        ("jail.d/bad.toml", "[jail.x\nenabled = true\n"),
    ]);
    let c = load(d.path(), true);
    let e = only_error(&c);
    assert!(e.file.ends_with("bad.toml"));
    assert_eq!(e.line, Some(1));
    assert_eq!(jail(&c, "sshd").maxretry, 3);
}

#[test]
fn bad_values_name_jail_and_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("maxretry = 0", "maxretry", "out of range"),
        ("findtime = \"10x\"", "findtime", "unknown unit"),
        ("bantime = \"soon\"", "bantime", "expected a number"),
        ("ignoreip = [\"192.0.2.300\"]", "ignoreip", "not an IP"),
        ("ipv6_prefix = 3", "ipv6_prefix", "between 16 and 128"),
        ("escalate_after = 1", "escalate_after", "out of range"),
        (
            "escalate_after = 3\nescalate_prefix = 8",
            "escalate_prefix",
            "out of range",
        ),
        (
            "escalate_after = 3\nescalate_prefix = 32",
            "escalate_prefix",
            "out of range",
        ),
        (
            "escalate_after = 3\nescalate_prefix6 = 16",
            "escalate_prefix6",
            "out of range",
        ),
        (
            "escalate_after = 3\nipv6_prefix = 48\nescalate_prefix6 = 48",
            "escalate_prefix6",
            "out of range",
        ),
        (
            "escalate_after = 3\nescalate_window = \"0\"",
            "escalate_window",
            "longer than 0",
        ),
        (
            "escalate_after = 3\nescalate_bantime = \"soon\"",
            "escalate_bantime",
            "expected a number",
        ),
        (
            "escalate_after = 3\nescalate_max = 0",
            "escalate_max",
            "out of range",
        ),
        ("port = \"sshh\"", "port", "not a port"),
        ("protocol = \"sctp\"", "protocol", "not tcp"),
        ("blocktype = \"TARPIT\"", "blocktype", "not REJECT"),
        ("chain = \"bad chain\"", "chain", "not a valid"),
        ("journalmatch = \"sshd\"", "journalmatch", "not FIELD=VALUE"),
        ("filter = \"nosuch\"", "filter", "no filter named"),
        ("filter = \"sshd[mode=turbo]\"", "mode", "no mode"),
        (
            "bantime_increment = true\nbantime_factor = 0.5",
            "bantime_factor",
            "between 1",
        ),
        (
            "action = [{ on = \"ban\", argv = [\"/bin/echo\", \"{address}\"] }]",
            "action.argv",
            "unknown placeholder",
        ),
        (
            "action = [{ on = \"boot\", argv = [\"/bin/true\"] }]",
            "action.on",
            "not ban or unban",
        ),
    ];
    for (line, key, msg) in cases {
        let text = format!("[jail.sshd]\nenabled = true\n{line}\n");
        let d = dir_with(&[("banjo.toml", &text)]);
        let c = load(d.path(), true);
        let e = only_error(&c);
        assert_eq!(e.jail.as_deref(), Some("sshd"), "{line}");
        assert_eq!(e.key.as_deref(), Some(*key), "{line}: {e}");
        assert!(e.message.contains(msg), "{line}: {e}");
        if *key != "mode" {
            assert!(e.file.ends_with("banjo.toml"), "{line}: {e}");
            // The offending key is on the case's last line.
            let want = 3 + line.matches('\n').count();
            assert_eq!(e.line, Some(want), "{line}: {e}");
        }
        // The broken jail is left out; the others still load.
        assert!(c.jails.iter().all(|j| j.name != "sshd"), "{line}");
        assert!(c.jails.iter().any(|j| j.name == "recidive"), "{line}");
    }
}

#[test]
fn wrong_type_and_bad_jail_name() {
    let d = dir_with(&[("banjo.toml", "[jail.sshd]\nmaxretry = \"five\"\n")]);
    let e = only_error(&load(d.path(), true)).clone();
    assert_eq!(e.line, Some(2), "{e}");
    let d = dir_with(&[(
        "banjo.toml",
        "[jail.\"a b\"]\nenabled = true\nfilter = \"sshd\"\n",
    )]);
    let e = only_error(&load(d.path(), true)).clone();
    assert!(e.message.contains("not a valid jail name"), "{e}");
}

#[test]
fn custom_filter_from_filter_d_with_line_numbers() {
    let d = dir_with(&[
        (
            "banjo.toml",
            "[jail.app]\nenabled = true\njournalmatch = \"_SYSTEMD_UNIT=app.service\"\n",
        ),
        (
            "filter.d/app.toml",
            "failregex = [\n  '^ok <HOST>$',\n  '^broken (<HOST>$',\n]\n",
        ),
    ]);
    let c = load(d.path(), true);
    let e = only_error(&c);
    assert!(e.file.ends_with("filter.d/app.toml"), "{e}");
    assert_eq!(e.line, Some(3), "{e}");
    assert_eq!(e.jail.as_deref(), Some("app"));
    assert_eq!(e.key.as_deref(), Some("failregex"));
}

#[test]
fn jail_without_journalmatch_is_an_error() {
    let d = dir_with(&[
        ("banjo.toml", "[jail.app]\nenabled = true\n"),
        ("filter.d/app.toml", "failregex = ['^bad <HOST>$']\n"),
    ]);
    let e = only_error(&load(d.path(), true)).clone();
    assert_eq!(e.key.as_deref(), Some("journalmatch"));
}

#[test]
fn bantime_increment_grows_and_caps() {
    let d = dir_with(&[(
        "banjo.toml",
        "[jail.sshd]\nbantime = \"1h\"\nbantime_maxtime = \"5h\"\n",
    )]);
    let c = load(d.path(), true);
    let s = jail(&c, "sshd");
    let h = 3600 * SEC;
    assert_eq!(s.bantime_for(1), BanTime::Finite(h));
    assert_eq!(s.bantime_for(2), BanTime::Finite(2 * h));
    assert_eq!(s.bantime_for(3), BanTime::Finite(4 * h));
    assert_eq!(s.bantime_for(4), BanTime::Finite(5 * h));
    assert_eq!(s.bantime_for(1000), BanTime::Finite(5 * h));
    let d = dir_with(&[("banjo.toml", "[jail.sshd]\nbantime = -1\n")]);
    let c = load(d.path(), true);
    assert_eq!(jail(&c, "sshd").bantime_for(3), BanTime::Permanent);
}

#[test]
fn ports_forms() {
    let d = dir_with(&[(
        "banjo.toml",
        "[jail.sshd]\nport = [\"ssh\", 2222, \"8000:8100\"]\n",
    )]);
    let c = load(d.path(), true);
    assert_eq!(
        jail(&c, "sshd").ports,
        Ports::List(vec![(22, 22), (2222, 2222), (8000, 8100)])
    );
    let d = dir_with(&[("banjo.toml", "[jail.sshd]\nport = \"ssh,2222\"\n")]);
    assert_eq!(
        jail(&load(d.path(), true), "sshd").ports,
        Ports::List(vec![(22, 22), (2222, 2222)])
    );
}

#[test]
fn action_array_without_jail_header() {
    // `[[jail.sshd.action]]` alone defines jail sshd's table implicitly.
    let d = dir_with(&[(
        "jail.d/hook.toml",
        "[[jail.sshd.action]]\non = \"ban\"\nargv = [\"/bin/true\", \"{ip}\"]\n",
    )]);
    let c = load(d.path(), true);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    assert_eq!(jail(&c, "sshd").actions.len(), 1);
    assert!(jail(&c, "sshd").declared_at.contains("hook.toml:1"));
}

#[test]
fn package_manager_leftovers_are_skipped_quietly() {
    let d = dir_with(&[
        (
            "jail.d/00-examples.toml.dpkg-old",
            "[jail.sshd]\nmaxretry = 1\n",
        ),
        ("jail.d/10-x.toml.rpmnew", "[jail.sshd]\nmaxretry = 1\n"),
        ("jail.d/20-y.conf", "[sshd]\nenabled = true\n"),
    ]);
    let c = load(d.path(), true);
    // Only the fail2ban-style .conf earns a warning; nothing was read from any of them.
    assert_eq!(c.diagnostics.len(), 1, "{:#?}", c.diagnostics);
    assert!(c.diagnostics[0].file.ends_with("20-y.conf"));
    assert_eq!(jail(&c, "sshd").maxretry, 5);
}

#[test]
fn firewall_backend_is_chosen_by_name() {
    let d = tempfile::tempdir().unwrap();
    let c = load(&d.path().join("missing"), false);
    assert_eq!(c.daemon.firewall, FirewallKind::Iptables, "the default");
    for (text, want) in [
        ("iptables", FirewallKind::Iptables),
        ("nftables", FirewallKind::Nftables),
        ("dry-run", FirewallKind::DryRun),
    ] {
        let d = dir_with(&[("banjo.toml", &format!("[daemon]\nfirewall = \"{text}\"\n"))]);
        let c = load(d.path(), true);
        assert!(!c.has_errors(), "{:#?}", c.diagnostics);
        assert_eq!(c.daemon.firewall, want);
    }
    // A chain nftables has no hook for is refused at check time, with its jail.
    let d = dir_with(&[(
        "banjo.toml",
        "[daemon]\nfirewall = \"nftables\"\n[jail.out]\nenabled = true\nfilter = \"sshd\"\nchain = \"OUTPUT\"\n[jail.web]\nenabled = true\nfilter = \"sshd\"\nchain = \"DOCKER-USER\"\n",
    )]);
    let c = load(d.path(), true);
    let e = only_error(&c);
    assert!(e.message.contains("no nftables hook"), "{e}");
    assert_eq!(e.line, Some(3), "{e}");
    assert!(c.jails.iter().all(|j| j.name != "out"));
    assert!(c.jails.iter().any(|j| j.name == "web"));
    let d = dir_with(&[("banjo.toml", "[daemon]\nfirewall = \"nft\"\n")]);
    let c = load(d.path(), true);
    let e = only_error(&c);
    assert!(
        e.message.contains("is not iptables, nftables or dry-run"),
        "{e}"
    );
}

#[test]
fn connection_wake_group_layers_and_is_checked() {
    let d = tempfile::tempdir().unwrap();
    let c = load(&d.path().join("missing"), false);
    assert_eq!(
        c.daemon.wake_group,
        Some(DEFAULT_NFLOG_GROUP),
        "on by default"
    );
    // A later file moves the group; a drop-in can turn the wake-up off whatever the
    // group, and the last word wins.
    let d = dir_with(&[
        ("banjo.toml", "[daemon]\nnflog_group = 42\n"),
        ("jail.d/a.toml", "[daemon]\nwake_on_connect = false\n"),
    ]);
    let c = load(d.path(), true);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    assert_eq!(c.daemon.wake_group, None);
    let d = dir_with(&[
        ("banjo.toml", "[daemon]\nwake_on_connect = false\n"),
        (
            "jail.d/a.toml",
            "[daemon]\nwake_on_connect = true\nnflog_group = 0\n",
        ),
    ]);
    assert_eq!(load(d.path(), true).daemon.wake_group, Some(0));
    let d = dir_with(&[("banjo.toml", "\n[daemon]\nnflog_group = 70000\n")]);
    let c = load(d.path(), true);
    let e = only_error(&c);
    assert!(
        e.message.contains("70000 is not between 0 and 65535"),
        "{e}"
    );
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.to_string().contains("daemon.nflog_group"), "{e}");
}

#[test]
fn ban_count_max_age_defaults_parses_and_is_checked() {
    let d = tempfile::tempdir().unwrap();
    let c = load(&d.path().join("missing"), false);
    assert_eq!(
        c.daemon.ban_count_max_age,
        BanTime::Finite(DEFAULT_BAN_COUNT_MAX_AGE)
    );
    let d = dir_with(&[("banjo.toml", "[daemon]\nban_count_max_age = \"90d\"\n")]);
    let c = load(d.path(), true);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    assert_eq!(
        c.daemon.ban_count_max_age,
        BanTime::Finite(90 * 86_400 * SEC)
    );
    let d = dir_with(&[(
        "banjo.toml",
        "[daemon]\nban_count_max_age = \"permanent\"\n",
    )]);
    assert_eq!(
        load(d.path(), true).daemon.ban_count_max_age,
        BanTime::Permanent
    );
    let d = dir_with(&[("banjo.toml", "\n\n[daemon]\nban_count_max_age = \"soon\"\n")]);
    let c = load(d.path(), true);
    let e = only_error(&c);
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.to_string().contains("daemon.ban_count_max_age"), "{e}");
    assert!(e.message.contains("soon"), "{e}");
    // A bad value keeps the default.
    assert_eq!(
        c.daemon.ban_count_max_age,
        BanTime::Finite(DEFAULT_BAN_COUNT_MAX_AGE)
    );
}

#[test]
fn tracker_memory_defaults_parses_and_is_checked() {
    let d = tempfile::tempdir().unwrap();
    let c = load(&d.path().join("missing"), false);
    assert_eq!(c.daemon.tracker_memory, DEFAULT_TRACKER_MEMORY);
    for (text, bytes) in [
        ("\"256MiB\"", 256 << 20),
        ("\"2G\"", 2 << 30),
        ("\"4096K\"", 4 << 20),
        ("1048576", 1 << 20),
    ] {
        let d = dir_with(&[(
            "banjo.toml",
            &format!("[daemon]\ntracker_memory = {text}\n"),
        )]);
        let c = load(d.path(), true);
        assert!(!c.has_errors(), "{text}: {:#?}", c.diagnostics);
        assert_eq!(c.daemon.tracker_memory, bytes, "{text}");
    }
    for bad in [
        "\"64 parsecs\"",
        "\"512K\"",
        "0",
        "-5",
        "\"\"",
        "\"99999999999G\"",
    ] {
        let d = dir_with(&[(
            "banjo.toml",
            &format!("\n[daemon]\ntracker_memory = {bad}\n"),
        )]);
        let c = load(d.path(), true);
        let e = only_error(&c);
        assert_eq!(e.line, Some(3), "{bad}: {e}");
        assert!(e.to_string().contains("daemon.tracker_memory"), "{e}");
        assert_eq!(c.daemon.tracker_memory, DEFAULT_TRACKER_MEMORY, "{bad}");
    }
}

#[test]
fn drift_check_defaults_to_a_second_and_can_be_turned_off() {
    let d = tempfile::tempdir().unwrap();
    let c = load(&d.path().join("missing"), false);
    assert_eq!(c.daemon.drift_check, Some(DEFAULT_DRIFT_CHECK));
    for (text, want) in [
        ("\"5s\"", Some(5 * SEC)),
        ("10", Some(10 * SEC)),
        ("\"off\"", None),
        ("0", None),
    ] {
        let d = dir_with(&[("banjo.toml", &format!("[daemon]\ndrift_check = {text}\n"))]);
        let c = load(d.path(), true);
        assert!(!c.has_errors(), "{text}: {:#?}", c.diagnostics);
        assert_eq!(c.daemon.drift_check, want, "{text}");
    }
    for bad in ["\"2h\"", "\"often\""] {
        let d = dir_with(&[("banjo.toml", &format!("[daemon]\ndrift_check = {bad}\n"))]);
        let c = load(d.path(), true);
        let e = only_error(&c);
        assert!(e.to_string().contains("daemon.drift_check"), "{e}");
        assert_eq!(
            c.daemon.drift_check,
            Some(DEFAULT_DRIFT_CHECK),
            "a bad value keeps the default"
        );
    }
}

#[test]
fn ban_loopback_is_off_unless_asked_for() {
    let d = dir_with(&[(
        "banjo.toml",
        "[jail.sshd]\nenabled = true\n[jail.lo]\nenabled = true\nfilter = \"sshd\"\nban_loopback = true\n",
    )]);
    let c = load(d.path(), true);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    let by = |n: &str| c.jails.iter().find(|j| j.name == n).unwrap().ban_loopback;
    assert!(!by("sshd"));
    assert!(by("lo"));
}

#[test]
fn every_builtin_filter_routes_on_fields_no_local_user_can_forge() {
    // Enable every shipped jail: the trust warning is only given for enabled jails.
    let mut toml = String::from("[defaults]\nenabled = true\n");
    for name in crate::filter::builtin::names() {
        toml.push_str(&format!("[jail.{name}]\n"));
    }
    let d = dir_with(&[("banjo.toml", &toml)]);
    let c = load(d.path(), true);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    let untrusted: Vec<&Diagnostic> = c
        .diagnostics
        .iter()
        .filter(|d| d.key.as_deref() == Some("journalmatch"))
        .collect();
    assert!(untrusted.is_empty(), "{untrusted:#?}");
    assert!(c.jails.iter().all(|j| j.enabled));
}

#[test]
fn a_journalmatch_any_local_user_can_satisfy_is_warned_about_with_its_line() {
    let d = dir_with(&[(
        "banjo.toml",
        "[jail.myapp]\nenabled = true\nfilter = \"sshd\"\n\njournalmatch = [\"_SYSTEMD_UNIT=myapp.service\", \"SYSLOG_IDENTIFIER=myapp\"]\n",
    )]);
    let c = load(d.path(), true);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    let w: Vec<&Diagnostic> = c
        .diagnostics
        .iter()
        .filter(|d| d.key.as_deref() == Some("journalmatch"))
        .collect();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(!w[0].is_error());
    assert_eq!(w[0].line, Some(5));
    assert_eq!(w[0].jail.as_deref(), Some("myapp"));
    assert!(w[0].message.contains("SYSLOG_IDENTIFIER=myapp"), "{}", w[0]);
    // The jail still runs as configured.
    assert!(jail(&c, "myapp").enabled);
}

#[test]
fn escalation_is_off_unless_escalate_after_is_set_and_says_which_keys_do_nothing() {
    let d = dir_with(&[(
        "banjo.toml",
        "[jail.sshd]\nenabled = true\nescalate_window = \"1h\"\n[jail.web]\nenabled = true\nfilter = \"sshd\"\nescalate_after = 5\nipv6_prefix = 56\n",
    )]);
    let c = load(d.path(), true);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    assert_eq!(jail(&c, "sshd").escalation, None);
    let w = c
        .diagnostics
        .iter()
        .find(|d| d.key.as_deref() == Some("escalate_window"))
        .expect("a warning for escalate_window");
    assert!(!w.is_error());
    assert_eq!(w.line, Some(3));
    assert!(
        w.message.contains("escalate_after is not set"),
        "{}",
        w.message
    );
    let e = jail(&c, "web").escalation.unwrap();
    assert_eq!((e.after, e.prefix_v4, e.prefix_v6, e.max), (5, 24, 48, 256));
    assert_eq!(e.window, 3600 * SEC);
    assert_eq!(e.bantime, None);
}

#[test]
fn metrics_keys_parse_and_bad_ones_name_file_line_and_key() {
    use crate::metrics::endpoint::Listen;
    let d = tempfile::tempdir().unwrap();
    let c = load(&d.path().join("missing"), false);
    assert!(c.metrics.listen.is_none() && c.metrics.textfile.is_none());
    let d = dir_with(&[(
        "banjo.toml",
        "[metrics]\nlisten = \"127.0.0.1:9191\"\ntextfile = \"/var/lib/node_exporter/textfile/banjo.prom\"\ntextfile_interval = \"30s\"\n",
    )]);
    let c = load(d.path(), true);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    assert_eq!(
        c.metrics.listen,
        Some(Listen::Tcp("127.0.0.1:9191".parse().unwrap()))
    );
    assert_eq!(
        c.metrics.textfile.as_deref(),
        Some(Path::new("/var/lib/node_exporter/textfile/banjo.prom"))
    );
    assert_eq!(c.metrics.textfile_interval, 30 * SEC);
    // A unix socket, with or without the unix: prefix; a later layer turns it off.
    for text in ["/run/banjo/metrics.sock", "unix:/run/banjo/metrics.sock"] {
        let d = dir_with(&[("banjo.toml", &format!("[metrics]\nlisten = \"{text}\"\n"))]);
        let c = load(d.path(), true);
        assert!(!c.has_errors(), "{text}: {:#?}", c.diagnostics);
        assert_eq!(
            c.metrics.listen,
            Some(Listen::Unix("/run/banjo/metrics.sock".into()))
        );
    }
    let d = dir_with(&[
        ("banjo.toml", "[metrics]\nlisten = \"127.0.0.1:9191\"\n"),
        ("jail.d/off.toml", "[metrics]\nlisten = \"\"\n"),
    ]);
    assert!(load(d.path(), true).metrics.listen.is_none());
    for (bad, key) in [
        ("listen = \"localhost\"", "metrics.listen"),
        ("listen = \"unix:relative.sock\"", "metrics.listen"),
        ("textfile = \"banjo.prom\"", "metrics.textfile"),
        ("textfile = \"/var/lib/banjo.txt\"", "metrics.textfile"),
        ("textfile_interval = \"0s\"", "metrics.textfile_interval"),
        ("textfile_interval = \"soon\"", "metrics.textfile_interval"),
    ] {
        let d = dir_with(&[("banjo.toml", &format!("\n[metrics]\n{bad}\n"))]);
        let c = load(d.path(), true);
        let e = only_error(&c).to_string();
        assert!(e.contains(key) && e.contains("banjo.toml:3"), "{bad}: {e}");
    }
    let d = dir_with(&[("banjo.toml", "[metrics]\nport = 9191\n")]);
    assert!(load(d.path(), true).has_errors(), "unknown keys are errors");
}

#[test]
fn health_silence_defaults_to_a_day_jails_override_it_and_bad_values_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let c = load(&d.path().join("missing"), false);
    assert_eq!(c.daemon.health_silence, Some(DEFAULT_HEALTH_SILENCE));
    let d = dir_with(&[(
        "banjo.toml",
        "[daemon]\nhealth_silence = \"6h\"\n[jail.sshd]\nenabled = true\nhealth_silence = \"off\"\n[jail.dovecot]\nenabled = true\nhealth_silence = 60\n",
    )]);
    let c = load(d.path(), true);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    assert_eq!(c.daemon.health_silence, Some(6 * 3600 * SEC));
    assert_eq!(jail(&c, "sshd").health_silence, Some(None));
    assert_eq!(jail(&c, "dovecot").health_silence, Some(Some(60 * SEC)));
    assert_eq!(
        jail(&c, "recidive").health_silence,
        None,
        "unset: the daemon's"
    );
    let d = dir_with(&[("banjo.toml", "[daemon]\nhealth_silence = \"off\"\n")]);
    assert_eq!(load(d.path(), true).daemon.health_silence, None);
    let d = dir_with(&[("banjo.toml", "\n[daemon]\nhealth_silence = \"sometimes\"\n")]);
    let c = load(d.path(), true);
    let e = only_error(&c).to_string();
    assert!(
        e.contains("daemon.health_silence") && e.contains("banjo.toml:3"),
        "{e}"
    );
    let d = dir_with(&[(
        "banjo.toml",
        "[jail.sshd]\nenabled = true\nhealth_silence = \"x\"\n",
    )]);
    let e = only_error(&load(d.path(), true)).to_string();
    assert!(e.contains("health_silence") && e.contains("sshd"), "{e}");
}

#[test]
fn logpath_alone_reads_files_only_and_both_read_both() {
    let d = dir_with(&[(
        "banjo.toml",
        "[jail.nginx-botsearch]\nenabled = true\nlogpath = [\"/var/log/nginx/access.log\", \"/var/log/apache2/*access.log\"]\n\
         [jail.sshd]\nenabled = true\nlogpath = \"/var/log/auth.log\"\njournalmatch = \"_UID=0 _COMM=sshd\"\n\
         [jail.app]\nenabled = true\nlogpath = \"/var/log/app.log\"\ndatepattern = \"{^LN-BEG}%Y-%m-%d %H:%M:%S\"\n",
    ), ("filter.d/app.toml", "failregex = ['^bad <HOST>$']\n")]);
    let c = load(d.path(), true);
    assert!(
        c.diagnostics.iter().all(|d| !d.is_error()),
        "{:#?}",
        c.diagnostics
    );
    let nginx = jail(&c, "nginx-botsearch");
    assert_eq!(nginx.logpath.len(), 2);
    // The filter's default journalmatch is not used: the jail reads its files only.
    assert!(nginx.journalmatch.groups.is_empty());
    let sshd = jail(&c, "sshd");
    assert_eq!(sshd.logpath, ["/var/log/auth.log"]);
    assert_eq!(sshd.journalmatch.groups.len(), 1);
    // A filter without a default journalmatch is fine when the jail reads files.
    let app = jail(&c, "app");
    assert!(matches!(
        app.datepattern,
        crate::journal::datepattern::DatePattern::Custom(_)
    ));
}

#[test]
fn bad_logpath_and_datepattern_name_file_line_and_key() {
    let d = dir_with(&[(
        "banjo.toml",
        "[jail.nginx-botsearch]\nenabled = true\nlogpath = [\n  \"/var/log/ok.log\",\n  \"relative/access.log\",\n  \"/var/log/[x.log\",\n]\ndatepattern = \"%Y-%q\"\n",
    )]);
    let c = load(d.path(), true);
    let errs: Vec<&Diagnostic> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errs.len(), 3, "{errs:#?}");
    let rel = errs
        .iter()
        .find(|d| d.message.contains("relative/access.log"))
        .unwrap();
    assert!(
        rel.message.contains("not an absolute path"),
        "{}",
        rel.message
    );
    assert_eq!((rel.line, rel.key.as_deref()), (Some(5), Some("logpath")));
    assert!(rel.file.ends_with("banjo.toml"));
    assert_eq!(rel.jail.as_deref(), Some("nginx-botsearch"));
    let glob = errs.iter().find(|d| d.message.contains("[x.log")).unwrap();
    assert!(
        glob.message.contains("not a valid glob"),
        "{}",
        glob.message
    );
    assert_eq!(glob.line, Some(6));
    let dp = errs
        .iter()
        .find(|d| d.key.as_deref() == Some("datepattern"))
        .unwrap();
    assert!(dp.message.contains("unknown code %q"), "{}", dp.message);
    assert_eq!(dp.line, Some(8));
    // A jail with errors does not run (the others do).
    assert!(c.jails.iter().all(|j| j.name != "nginx-botsearch"));
}

#[test]
fn datepattern_without_logpath_is_a_warning() {
    let d = dir_with(&[(
        "banjo.toml",
        "[jail.sshd]\nenabled = true\ndatepattern = \"%Y-%m-%d %H:%M:%S\"\n",
    )]);
    let c = load(d.path(), true);
    let w = c
        .diagnostics
        .iter()
        .find(|d| d.key.as_deref() == Some("datepattern"))
        .unwrap();
    assert!(!w.is_error());
    assert_eq!(w.line, Some(3));
}

/// Patterns compiled by `f` on this thread.
fn compiled_by(f: impl FnOnce() -> Config) -> (Config, usize) {
    let before = crate::filter::engine::COMPILED.with(|n| n.get());
    let c = f();
    (
        c,
        crate::filter::engine::COMPILED.with(|n| n.get()) - before,
    )
}

fn patterns(c: &Config) -> usize {
    c.jails
        .iter()
        .map(|j| j.filter.failregex.len() + j.filter.ignoreregex.len())
        .sum()
}

#[test]
fn the_daemon_compiles_only_the_enabled_jails_filters() {
    let d = tempfile::tempdir().unwrap();
    let (all, n_all) = compiled_by(|| load(d.path(), true));
    let (run, n_run) = compiled_by(|| load_enabled(d.path(), true));
    assert!(
        !all.has_errors() && !run.has_errors(),
        "{:#?}",
        all.diagnostics
    );
    let names: Vec<&str> = run.jails.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["recidive", "sshd"]);
    assert!(run.jails.iter().all(|j| !j.filter.outline));
    // Exactly the kept jails' patterns, each once; `check` compiles every built-in.
    assert_eq!(n_run, patterns(&run));
    assert_eq!(n_all, patterns(&all));
    assert!(all.jails.len() >= 40, "{}", all.jails.len());
    assert!(
        n_all > 5 * n_run,
        "{n_all} patterns for all jails, {n_run} for the daemon"
    );
}

#[test]
fn a_broken_pattern_of_a_disabled_jail_is_found_by_check_only() {
    let d = dir_with(&[
        (
            "banjo.toml",
            "[jail.app]\nenabled = false\njournalmatch = \"_SYSTEMD_UNIT=app.service\"\n",
        ),
        (
            "filter.d/app.toml",
            "description = \"app\"\nfailregex = [\n  '^ok from <HOST>$',\n  '^bad (login from <HOST>$',\n]\n",
        ),
    ]);
    let all = load(d.path(), true);
    let e = only_error(&all);
    assert!(e.file.ends_with("filter.d/app.toml"), "{e}");
    assert_eq!(e.line, Some(4), "{e}");
    assert_eq!(e.key.as_deref(), Some("failregex"), "{e}");
    assert_eq!(e.jail.as_deref(), Some("app"), "{e}");
    // The daemon does not compile it, so it neither finds the mistake nor keeps the jail.
    let (run, n) = compiled_by(|| load_enabled(d.path(), true));
    assert!(!run.has_errors(), "{:#?}", run.diagnostics);
    assert!(run.jails.iter().all(|j| j.name != "app"));
    assert_eq!(n, patterns(&run));
    // Enabled, it is compiled and reported.
    fs::write(
        d.path().join("banjo.toml"),
        "[jail.app]\nenabled = true\njournalmatch = \"_SYSTEMD_UNIT=app.service\"\n",
    )
    .unwrap();
    let e = only_error(&load_enabled(d.path(), true)).clone();
    assert_eq!(
        (e.line, e.key.as_deref()),
        (Some(4), Some("failregex")),
        "{e}"
    );
}

#[test]
fn a_disabled_jail_s_keys_filter_name_and_tags_are_still_checked_by_the_daemon() {
    for (conf, filter, key, line) in [
        (
            "filter = \"sshd\"\nbantime = \"1 fortnight\"\n",
            None,
            "bantime",
            4,
        ),
        ("filter = \"sshdd\"\n", None, "filter", 3),
        ("filter = \"sshd[mode=agressive]\"\n", None, "mode", 0),
        (
            "filter = \"app\"\n",
            Some("failregex = ['^bad login for %(who)s from <HOST>$']\n"),
            "failregex",
            1,
        ),
        (
            "filter = \"app\"\n",
            Some("failregex = ['^bad login from <HOST>$'\n"),
            "",
            2,
        ),
    ] {
        let mut files = vec![(
            "banjo.toml",
            format!("[jail.off]\nenabled = false\n{conf}journalmatch = \"_UID=0\"\n"),
        )];
        if let Some(f) = filter {
            files.push(("filter.d/app.toml", f.to_owned()));
        }
        let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let d = dir_with(&refs);
        for c in [load(d.path(), true), load_enabled(d.path(), true)] {
            let e = only_error(&c);
            assert_eq!(e.jail.as_deref(), Some("off"), "{conf}: {e}");
            if !key.is_empty() {
                assert_eq!(e.key.as_deref(), Some(key), "{conf}: {e}");
            }
            if line > 0 {
                assert_eq!(e.line, Some(line), "{conf}: {e}");
            }
        }
    }
}
