//! `banjo replay`: the whole pipeline on recorded history with a virtual clock.

mod common;
use common::*;
use serde_json::Value;

const CONFIG: &str = r#"
[defaults]
ignoreip = ["127.0.0.0/8", "::1", "192.0.2.0/24", "2001:db8:1:2::10"]
[jail.sshd]
maxretry = 3
findtime = "10m"
bantime = "1h"
bantime_increment = true
bantime_factor = 2
bantime_maxtime = "1w"
[jail.recidive]
maxretry = 2
findtime = "1d"
bantime = "1w"
"#;

fn fail(t: i64, pid: u32, ip: &str) -> E {
    E::sshd(
        t,
        pid,
        &format!("Failed password for root from {ip} port 4000 ssh2"),
    )
}

fn events(j: &Value) -> Vec<(String, String, String, i64)> {
    j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_owned(),
                e["jail"].as_str().unwrap().to_owned(),
                e["addr"].as_str().unwrap().to_owned(),
                (e["time_us"].as_i64().unwrap() - T0) / SEC,
            )
        })
        .collect()
}

fn replay(entries: &[E], extra: &[&str]) -> Value {
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(&d.path().join("etc"), &[("banjo.toml", CONFIG)]);
    let jdir = d.path().join("journal");
    make_journal(&jdir, entries);
    replay_dirs(&cfg, &jdir, extra)
}

/// `banjo replay --json` of the journal in `jdir` with the config dir `cfg`.
fn replay_dirs(cfg: &std::path::Path, jdir: &std::path::Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "replay",
        "--config",
        cfg.to_str().unwrap(),
        "--journal-dir",
        jdir.to_str().unwrap(),
        "--no-ignoreself",
        "--json",
    ];
    args.extend_from_slice(extra);
    json(&run(&args))
}

#[test]
fn bans_unbans_increment_and_recidive() {
    let a = "203.0.113.5";
    let mut v = Vec::new();
    for i in 0..3 {
        v.push(fail(T0 + i * SEC, 10, a));
    }
    // Banned at 2 s for 1 h; these failures while banned are not counted again.
    v.push(fail(T0 + 100 * SEC, 11, a));
    // After the unban (3602 s) it comes back: second ban, doubled to 2 h, and recidive.
    for i in 0..3 {
        v.push(fail(T0 + 7200 * SEC + i * SEC, 12, a));
    }
    // Late entry moves the clock past the second ban's end (7202 + 7200).
    v.push(E::sshd(
        T0 + 20_000 * SEC,
        13,
        "Server listening on 0.0.0.0 port 22.",
    ));
    let j = replay(&v, &[]);
    let ev = events(&j);
    assert_eq!(
        ev,
        vec![
            ("ban".into(), "sshd".into(), a.into(), 2),
            ("unban".into(), "sshd".into(), a.into(), 3602),
            ("ban".into(), "sshd".into(), a.into(), 7202),
            ("ban".into(), "recidive".into(), a.into(), 7202),
            ("unban".into(), "sshd".into(), a.into(), 14_402),
        ],
        "{j:#}"
    );
    let second = &j["events"][2];
    assert_eq!(second["bantime"], "2h");
    assert_eq!(second["count"], 2);
    assert_eq!(j["events"][3]["bantime"], "1w");
    let sshd = j["jails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["jail"] == "sshd")
        .unwrap();
    assert_eq!(sshd["already_banned"], 1);
    assert_eq!(sshd["bans"], 2);
    let rec = j["jails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["jail"] == "recidive")
        .unwrap();
    assert_eq!(rec["still_banned"], 1);
}

#[test]
fn ignoreip_and_ipv6_prefixes() {
    let mut v = Vec::new();
    let mut t = T0;
    let mut push = |ip: &str, n: usize| {
        for _ in 0..n {
            t += SEC;
            v.push(fail(t, 20, ip));
        }
    };
    // The admin's network: never banned, however many failures.
    push("192.0.2.10", 10);
    // The admin's own IPv6 address is ignored; an attacker in the same /64 is banned
    // as a single address so the admin is not locked out.
    push("2001:db8:1:2::10", 10);
    push("2001:db8:1:2::99", 3);
    // Two addresses of one /64 count together and ban the /64.
    push("2001:db8:5::1", 2);
    push("2001:db8:5::2", 1);
    let j = replay(&v, &[]);
    let bans: Vec<String> = events(&j)
        .into_iter()
        .filter(|e| e.0 == "ban" && e.1 == "sshd")
        .map(|e| e.2)
        .collect();
    assert_eq!(
        bans,
        vec!["2001:db8:1:2::99".to_owned(), "2001:db8:5::/64".to_owned()],
        "{j:#}"
    );
    let sshd = j["jails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["jail"] == "sshd")
        .unwrap();
    assert_eq!(sshd["ignored_addresses"], 20);
}

#[test]
fn recorded_ban_entries_are_not_counted_twice() {
    // Two bans a real banjo wrote earlier: replay makes its own decisions, so these
    // must not make recidive ban 203.0.113.200.
    let mut v = Vec::new();
    for i in 0..2 {
        v.push(
            E::new(T0 + i * SEC)
                .f("MESSAGE_ID", "4d654fc42ce94fee9c9d8899ca99f1bc")
                .f("BANJO_JAIL", "sshd")
                .f("BANJO_IP", "203.0.113.200")
                .f("SYSLOG_IDENTIFIER", "banjo")
                .f("MESSAGE", "[sshd] Ban 203.0.113.200 (5 failures, 1h)"),
        );
    }
    let j = replay(&v, &[]);
    assert!(j["events"].as_array().unwrap().is_empty(), "{j:#}");
}

#[test]
fn since_and_until_window() {
    let mut v = Vec::new();
    for i in 0..3 {
        v.push(fail(T0 + i * SEC, 30, "203.0.113.7"));
    }
    for i in 0..3 {
        v.push(fail(T0 + 86_400 * SEC + i * SEC, 31, "203.0.113.8"));
    }
    // 2026-11-17 is T0 + 1 day: only the second attacker is in range.
    let j = replay(&v, &["--since", "2026-11-17"]);
    let ev = events(&j);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].2, "203.0.113.8");
    let j = replay(&v, &["--until", "2026-11-16 12:00"]);
    let ev = events(&j);
    assert_eq!(ev[0].2, "203.0.113.7");
    assert!(ev.iter().all(|e| e.2 != "203.0.113.8"));
    let out = run(&[
        "replay",
        "--journal-dir",
        "/nonexistent",
        "--since",
        "tomorrow",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn human_timeline() {
    let mut v = Vec::new();
    for i in 0..3 {
        v.push(fail(T0 + i * SEC, 40, "203.0.113.9"));
    }
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(&d.path().join("etc"), &[("banjo.toml", CONFIG)]);
    let jdir = d.path().join("journal");
    make_journal(&jdir, &v);
    let out = run(&[
        "replay",
        "--config",
        cfg.to_str().unwrap(),
        "--journal-dir",
        jdir.to_str().unwrap(),
    ]);
    let t = text(&out);
    assert!(
        t.contains("2026-11-16T00:00:02Z  [sshd]         Ban   203.0.113.9"),
        "{t}"
    );
    assert!(t.contains("Replayed 3 entries"), "{t}");
}

/// Replay with `extra` appended to the sshd jail of a config of its own.
fn replay_with(entries: &[E], sshd_extra: &str, json_out: bool) -> std::process::Output {
    let d = tempfile::tempdir().unwrap();
    let config = format!(
        "[jail.sshd]\nmaxretry = 3\nfindtime = \"10m\"\nbantime = \"1h\"\nescalate_after = 5\n{sshd_extra}\n"
    );
    let cfg = write_config(&d.path().join("etc"), &[("banjo.toml", &config)]);
    let jdir = d.path().join("journal");
    make_journal(&jdir, entries);
    let mut args = vec![
        "replay",
        "--config",
        cfg.to_str().unwrap(),
        "--journal-dir",
        jdir.to_str().unwrap(),
        "--no-ignoreself",
    ];
    if json_out {
        args.push("--json");
    }
    run(&args)
}

/// Five attackers of one /24, three failures each, then a sixth address of it.
fn five_of_a_24() -> Vec<E> {
    let mut v = Vec::new();
    let mut t = T0;
    for (pid, host) in [1, 2, 3, 4, 5, 200].into_iter().enumerate() {
        for _ in 0..3 {
            t += SEC;
            v.push(fail(t, 100 + pid as u32, &format!("198.51.100.{host}")));
        }
    }
    v
}

#[test]
fn five_banned_addresses_of_a_24_become_one_network_ban() {
    let j = json(&replay_with(&five_of_a_24(), "", true));
    let ev = events(&j);
    let members: Vec<String> = (1..=5).map(|h| format!("198.51.100.{h}")).collect();
    let banned: Vec<&str> = ev
        .iter()
        .filter(|e| e.0 == "ban")
        .map(|e| e.2.as_str())
        .collect();
    assert_eq!(
        banned,
        [&members[..], &["198.51.100.0/24".to_owned()]]
            .concat()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "{j:#}"
    );
    let net = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["addr"] == "198.51.100.0/24")
        .unwrap();
    assert_eq!(net["escalated"], 5);
    assert_eq!(net["bantime"], "1h");
    assert_eq!(net["matches"].as_array().unwrap().len(), 5);
    // The members' bans are lifted in its place, at the same moment, and say why.
    let lifted: Vec<&Value> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "unban")
        .collect();
    assert_eq!(lifted.len(), 5, "{j:#}");
    assert!(lifted
        .iter()
        .all(|e| e["reason"] == "escalated" && e["time_us"] == net["time_us"]));
    // 198.51.100.200 fails three times inside the banned network: no ban of its own.
    let sshd = j["jails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["jail"] == "sshd")
        .unwrap();
    assert_eq!(sshd["bans"], 6);
    assert_eq!(sshd["escalations"], 1);
    assert_eq!(sshd["already_banned"], 3);
    // Still banned at the end: only the network (the clock stops before its hour).
    assert_eq!(sshd["still_banned"], 1);

    // The timeline on a terminal: one line for the network, none per lifted member.
    let out = text(&replay_with(&five_of_a_24(), "", false));
    assert_eq!(out.matches("network: replaces 5 bans").count(), 1, "{out}");
    assert!(!out.contains("Unban"), "{out}");
}

/// The admin's address inside the /24 (in ignoreip) keeps the network unbanned,
/// whichever five neighbours fail; the replay says why.
#[test]
fn an_ignored_address_inside_the_24_prevents_escalation_in_replay() {
    let j = json(&replay_with(
        &five_of_a_24(),
        "ignoreip = [\"198.51.100.77\"]",
        true,
    ));
    let ev = events(&j);
    assert!(ev.iter().all(|e| e.2 != "198.51.100.0/24"), "{j:#}");
    assert_eq!(ev.iter().filter(|e| e.0 == "ban").count(), 6);
    let refused = &j["escalation_refused"][0];
    assert_eq!(refused["network"], "198.51.100.0/24");
    assert!(refused["reason"]
        .as_str()
        .unwrap()
        .contains("198.51.100.77"));
    let out = text(&replay_with(
        &five_of_a_24(),
        "ignoreip = [\"198.51.100.77\"]",
        false,
    ));
    assert!(out.contains("not escalating to 198.51.100.0/24"), "{out}");
}

/// `replay --logpath`: an nginx access log and an rsyslog auth.log, through the jails
/// whose logpath names them, on the lines' own clock; a line without a date takes the
/// time of the line before it.
#[test]
fn logpath_files_replay_through_the_jails_that_name_them() {
    let d = tempfile::tempdir().unwrap();
    let logs = d.path().join("log");
    std::fs::create_dir_all(&logs).unwrap();
    let access = logs.join("access.log");
    let mut text = String::new();
    for (i, ip) in [
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.1",
        "198.51.100.1",
    ]
    .iter()
    .enumerate()
    {
        text.push_str(&format!(
            "{ip} - - [07/Dec/2026:10:0{i}:00 +0100] \"GET /pma/index.php HTTP/1.1\" 404 1 \"-\" \"x\"\n"
        ));
    }
    text.push_str("a line without any date\n");
    std::fs::write(&access, text).unwrap();
    let cfg = format!(
        r#"
[jail.nginx-botsearch]
enabled = true
logpath = ["{}/*.log"]
maxretry = 3
findtime = "10m"
bantime = "1h"
[jail.sshd]
enabled = false
[jail.recidive]
enabled = false
"#,
        logs.display()
    );
    let etc = write_config(&d.path().join("etc"), &[("banjo.toml", &cfg)]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_banjo"))
        .args([
            "replay",
            "--config",
            etc.to_str().unwrap(),
            "--no-ignoreself",
            "--json",
        ])
        .arg("--logpath")
        .arg(&access)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["entries"], 5, "{j}");
    // 2026-12-07 09:00 UTC is the first line (+0100); the undated line keeps 09:03.
    assert_eq!(j["first_time"], "2026-12-07T09:00:00Z");
    assert_eq!(j["last_time"], "2026-12-07T09:03:00Z");
    let ev = &j["events"][0];
    assert_eq!(ev["event"], "ban");
    assert_eq!(ev["addr"], "198.51.100.1");
    assert_eq!(ev["jail"], "nginx-botsearch");
    assert_eq!(j["events"].as_array().unwrap().len(), 1, "{j}");
}

#[test]
fn logpath_replay_needs_a_jail_with_a_logpath() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("access.log");
    std::fs::write(&f, "x\n").unwrap();
    let etc = write_config(&d.path().join("etc"), &[("banjo.toml", CONFIG)]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_banjo"))
        .args(["replay", "--config", etc.to_str().unwrap(), "--logpath"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no enabled jail has a logpath"));
}

/// With every built-in jail enabled, replay routes in-process rather than through
/// libsystemd's matches (too many terms: bench/RESULTS.md, "every built-in jail"):
/// each jail still takes exactly the entries its journalmatch names, and sshd and
/// recidive decide what they decide alone.
#[test]
fn every_builtin_jail_enabled_routes_like_sshd_alone() {
    let a = "203.0.113.5";
    let mut v = Vec::new();
    for i in 0..3 {
        v.push(fail(T0 + i * SEC, 10, a));
    }
    for i in 0..3 {
        v.push(fail(T0 + 7200 * SEC + i * SEC, 12, a));
    }
    // A user's look-alike (not root): routed to no jail.
    v.push(
        E::new(T0 + 7300 * SEC)
            .f("_UID", "1000")
            .f("_COMM", "sshd")
            .f(
                "MESSAGE",
                "Failed password for root from 203.0.113.9 port 1 ssh2",
            ),
    );
    for i in 0..4 {
        v.push(
            E::new(T0 + 7400 * SEC + i * SEC)
                .f("_UID", "0")
                .f("_SYSTEMD_UNIT", "dovecot.service")
                .f("_COMM", "auth")
                .f("MESSAGE", "auth: passwd-file(u,203.0.113.7): unknown user"),
        );
    }
    let alone = replay(&v, &[]);

    let d = tempfile::tempdir().unwrap();
    let names = json(&run(&[
        "check",
        "--config",
        d.path().to_str().unwrap(),
        "--json",
    ]));
    let mut cfg = CONFIG.to_owned();
    for j in names["jails"].as_array().unwrap() {
        let name = j["name"].as_str().unwrap();
        if name != "sshd" && name != "recidive" {
            cfg.push_str(&format!("[jail.{name}]\nenabled = true\n"));
        }
    }
    let cfg = write_config(&d.path().join("etc"), &[("banjo.toml", &cfg)]);
    let jdir = d.path().join("journal");
    make_journal(&jdir, &v);
    let all_by = |route: &str| replay_dirs(&cfg, &jdir, &["--route", route]);
    let all = all_by("auto");
    let stats = |j: &Value, name: &str| -> Value {
        j["jails"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["jail"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name}: {j:#}"))
    };
    assert!(all["jails"].as_array().unwrap().len() >= 40, "{all:#}");
    let sshd_events = |j: &Value| -> Vec<_> {
        events(j)
            .into_iter()
            .filter(|e| e.1 == "sshd" || e.1 == "recidive")
            .collect()
    };
    assert_eq!(sshd_events(&all), sshd_events(&alone), "{all:#}");
    assert_eq!(stats(&all, "sshd"), stats(&alone, "sshd"));
    assert_eq!(stats(&all, "sshd")["entries"], 6);
    assert_eq!(stats(&all, "dovecot")["entries"], 4, "{all:#}");
    for s in all["jails"].as_array().unwrap() {
        if s["jail"] != "sshd" && s["jail"] != "dovecot" && s["jail"] != "recidive" {
            assert_eq!(s["entries"], 0, "{s}");
        }
    }
    // Entries some jail took: the look-alike is not one of them.
    assert_eq!(alone["entries"], 6);
    assert_eq!(all["entries"], 10, "{all:#}");

    // `--route` changes who applies the journalmatch, never what comes out: sshd
    // alone read whole (the daemon's way, the bench's baseline), and every jail through
    // libsystemd's ~150 match terms, agree with the runs above.
    assert_eq!(replay(&v, &["--route", "in-process"]), alone);
    assert_eq!(replay(&v, &["--route", "libsystemd"]), alone);
    assert_eq!(all_by("in-process"), all);
    assert_eq!(all_by("libsystemd"), all);
}

/// `--route` takes only its three names.
#[test]
fn replay_route_refuses_an_unknown_way() {
    let d = tempfile::tempdir().unwrap();
    let out = banjo()
        .args(["replay", "--journal-dir"])
        .arg(d.path())
        .args(["--route", "kernel"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in-process") && err.contains("libsystemd"),
        "{err}"
    );
}
