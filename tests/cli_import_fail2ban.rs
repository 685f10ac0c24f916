//! `banjo import-fail2ban`: fail2ban configurations written at test time on a copy of
//! the installed package's /etc/fail2ban (stock jail.conf, paths-debian.conf,
//! filter.d, action.d), the seeds' own files on top; the result must pass `banjo
//! check`, keep every enabled jail's settings, and ban in `banjo replay` what fail2ban
//! would. fail2ban's database fixtures (and a version 4 file made by fail2ban's own
//! upgrade code) give the active bans.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURES: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files";

/// A copy of the installed /etc/fail2ban in `dir/f2b`, with `files` written over it.
fn fail2ban(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    let to = dir.join("f2b");
    let st = Command::new("cp")
        .args(["-a", "/etc/fail2ban"])
        .arg(&to)
        .status()
        .unwrap();
    assert!(st.success());
    write_config(&to, files);
    to
}

/// Replace `from` by `to` in a copied fail2ban file (the seeds edited jail.conf and
/// fail2ban.conf in place).
fn edit(f2b: &Path, file: &str, from: &str, to: &str) {
    let p = f2b.join(file);
    let t = std::fs::read_to_string(&p).unwrap();
    assert!(t.contains(from), "{file} has no {from:?}");
    std::fs::write(&p, t.replacen(from, to, 1)).unwrap();
}

/// Import `f2b` into `dir/banjo`; returns the JSON report and the output dir.
fn import(dir: &Path, f2b: &Path, extra: &[&str]) -> (Value, PathBuf, i32) {
    let out_dir = dir.join("banjo");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut args = vec![
        "import-fail2ban",
        f2b.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    let code = out.status.code().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", text(&out), stderr(&out)));
    (v, out_dir, code)
}

fn jail<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["jails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == name)
        .unwrap_or_else(|| panic!("no jail {name} in the report"))
}

/// `banjo check --json` on `dir`: it must pass; returns its jails by name.
fn check(dir: &Path) -> serde_json::Map<String, Value> {
    let out = run(&["check", "--config", dir.to_str().unwrap(), "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "banjo check failed: {:#}\n{}",
        v["diagnostics"],
        std::fs::read_to_string(dir.join("jail.d/fail2ban.toml")).unwrap_or_default()
    );
    v["jails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["name"].as_str().unwrap().to_owned(), j.clone()))
        .collect()
}

fn notes(j: &Value) -> String {
    j["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| format!("{} {} {}", n["level"], n["at"], n["message"]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every jail fail2ban enables comes out enabled.
fn all_enabled_imported(report: &Value, checked: &serde_json::Map<String, Value>) {
    for j in report["jails"].as_array().unwrap() {
        if j["enabled_in_fail2ban"] == true {
            let name = j["banjo_name"].as_str().unwrap();
            assert_eq!(j["written"], true, "{name}: {}", notes(j));
            assert_eq!(checked[name]["enabled"], true, "{name}");
        }
    }
}

#[test]
fn stock_debian_jail_conf_with_a_typical_jail_local() {
    let d = tempfile::tempdir().unwrap();
    let f2b = fail2ban(
        d.path(),
        &[(
            "jail.local",
            "[DEFAULT]\nbantime = 1h\nfindtime = 15m\nmaxretry = 4\nignoreip = 127.0.0.1/8 ::1 192.0.2.0/24\nbantime.increment = true\nbantime.maxtime = 1w\nbanaction = nftables-multiport\nbanaction_allports = nftables-allports\n\n[sshd]\nmode = aggressive\nport = ssh,2222\n\n[nginx-http-auth]\nenabled = true\n\n[recidive]\nenabled = true\n",
        )],
    );
    let (r, out, code) = import(d.path(), &f2b, &["--no-bans"]);
    assert_eq!(code, 0, "{r:#}");
    let c = check(&out);
    all_enabled_imported(&r, &c);
    let sshd = &c["sshd"];
    assert_eq!(sshd["filter"], "sshd");
    assert_eq!(sshd["mode"], "aggressive");
    assert_eq!(sshd["maxretry"], 4);
    assert_eq!(sshd["findtime_seconds"], 900);
    assert_eq!(sshd["bantime_seconds"], 3600);
    assert_eq!(sshd["bantime_factor"], 2.0);
    assert_eq!(sshd["bantime_maxtime"], "1w");
    assert_eq!(sshd["ports"], "22,2222");
    assert_eq!(sshd["blocktype"], "REJECT");
    assert_eq!(
        sshd["ignoreip"],
        serde_json::json!(["127.0.0.0/8", "::1/128", "192.0.2.0/24"])
    );
    let nginx = &c["nginx-http-auth"];
    assert_eq!(nginx["ports"], "80,443");
    // recidive went through banaction_allports: every port.
    assert_eq!(c["recidive"]["ports"], "all");
    assert_eq!(c["recidive"]["bantime_seconds"], 604_800);
    // nftables in every jail: banjo's nftables firewall.
    assert_eq!(r["daemon"]["firewall"], "\"nftables\"");
    let toml = std::fs::read_to_string(out.join("jail.d/fail2ban.toml")).unwrap();
    assert!(toml.contains("firewall = \"nftables\""), "{toml}");
    // nginx logs to a file: banjo follows the file, as fail2ban did.
    assert_eq!(
        jail(&r, "nginx-http-auth")["settings"]["logpath"],
        serde_json::json!(["/var/log/nginx/*error.log"])
    );
}

/// Seed 001 (a DigitalOcean tutorial): [DEFAULT] with old-style action_ lines, and an
/// [SSH] jail reading /var/log/auth.log with maxretry 6.
#[test]
fn seed_001_jail_local() {
    let d = tempfile::tempdir().unwrap();
    let f2b = fail2ban(
        d.path(),
        &[(
            "jail.local",
            "[DEFAULT]\n\nignoreip = 127.0.0.1/8\nbantime = 10m\nfindtime = 10m\nmaxretry = 3\nbackend = auto\nusedns = warn\ndestemail = root@localhost\nsendername = Fail2Ban\nbanaction = iptables-multiport\nmta = sendmail\nprotocol = tcp\nchain = INPUT\naction_ = %(banaction)s[name=%(__name__)s, port=\"%(port)s\", protocol=\"%(protocol)s\", chain=\"%(chain)s\"]\naction_mw = %(banaction)s[name=%(__name__)s, port=\"%(port)s\", protocol=\"%(protocol)s\", chain=\"%(chain)s\"]\n            %(mta)s-whois[name=%(__name__)s, dest=\"%(destemail)s\", protocol=\"%(protocol)s\", chain=\"%(chain)s\", sendername=\"%(sendername)s\"]\naction_mwl = %(banaction)s[name=%(__name__)s, port=\"%(port)s\", protocol=\"%(protocol)s\", chain=\"%(chain)s\"]\n            %(mta)s-whois-lines[name=%(__name__)s, dest=\"%(destemail)s\", logpath=%(logpath)s, chain=\"%(chain)s\", sendername=\"%(sendername)s\"]\naction = %(action_)s\n\n[SSH]\n\nenabled     = true\nport        = ssh\nfilter      = sshd\nlogpath     = /var/log/auth.log\nmaxretry    = 6\n",
        )],
    );
    let (r, out, code) = import(d.path(), &f2b, &["--no-bans"]);
    assert_eq!(code, 0, "{r:#}");
    let c = check(&out);
    all_enabled_imported(&r, &c);
    let ssh = &c["SSH"];
    assert_eq!(ssh["filter"], "sshd");
    assert_eq!(ssh["maxretry"], 6);
    assert_eq!(ssh["bantime_seconds"], 600);
    assert_eq!(ssh["findtime_seconds"], 600);
    assert_eq!(ssh["bantime_increment"], Value::Null);
    assert_eq!(ssh["ports"], "22");
    assert_eq!(ssh["chain"], "INPUT");
    assert_eq!(ssh["ignoreip"], serde_json::json!(["127.0.0.0/8"]));
    // auth.log is journald's: the built-in sshd journalmatch reads it.
    let reads = jail(&r, "SSH")["reads"].as_str().unwrap().to_owned();
    assert!(reads.contains("_COMM=sshd"), "{reads}");
    assert!(reads.contains("/var/log/auth.log"), "{reads}");
    // defaults-debian.conf enables [sshd] too: both come over.
    assert_eq!(c["sshd"]["enabled"], true);
}

/// Seed 002 (CentOS 7 mail server): backend = systemd, action_mw, and blocktype = DROP
/// in action.d/iptables-common.local.
#[test]
fn seed_002_jail_local_with_iptables_common_local() {
    let d = tempfile::tempdir().unwrap();
    let f2b = fail2ban(
        d.path(),
        &[
            ("jail.local", SEED_002),
            (
                "action.d/iptables-common.local",
                "[Init]\nblocktype = DROP\n",
            ),
        ],
    );
    let (r, out, code) = import(d.path(), &f2b, &["--no-bans"]);
    assert_eq!(code, 0, "{r:#}");
    let c = check(&out);
    all_enabled_imported(&r, &c);
    for name in [
        "sshd",
        "proftpd",
        "postfix",
        "dovecot",
        "postfix-sasl",
        "recidive",
    ] {
        let j = &c[name];
        assert_eq!(j["enabled"], true, "{name}");
        assert_eq!(j["blocktype"], "DROP", "{name}");
        assert_eq!(
            j["ignoreip"],
            serde_json::json!([
                "127.0.0.0/8",
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16"
            ]),
            "{name}"
        );
        // action_mw: one hook that mails the ban with whois.
        let a = j["actions"].as_array().unwrap();
        assert_eq!(a.len(), 1, "{name}");
        let argv: Vec<&str> = a[0]["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(
            argv.windows(2).any(|w| w == ["--to", "mail@example.com"]),
            "{argv:?}"
        );
        assert!(
            argv.windows(2)
                .any(|w| w == ["--from", "fail2ban@example.com"]),
            "{argv:?}"
        );
        assert!(
            argv.contains(&"--whois") && argv.contains(&"{ip}"),
            "{argv:?}"
        );
    }
    assert_eq!(c["sshd"]["maxretry"], 3);
    assert_eq!(c["sshd"]["bantime_seconds"], 3600);
    assert_eq!(c["sshd"]["findtime_seconds"], 300);
    // postfix's mode "more" (jail.conf's), which banjo's built-in has too.
    assert_eq!(c["postfix"]["mode"], "more");
    assert_eq!(c["postfix"]["ports"], "25,465,587");
    assert_eq!(c["proftpd"]["ports"], "21,20,990,989");
    assert_eq!(c["recidive"]["maxretry"], 5);
    assert_eq!(c["recidive"]["bantime_seconds"], 604_800);
    assert_eq!(c["recidive"]["findtime_seconds"], 86_400);
    // imap3 is no service Debian knows: left out, with the line that named it.
    let n = notes(jail(&r, "postfix-sasl"));
    assert!(n.contains("imap3") && n.contains("jail.local:28"), "{n}");
    // DROP came from the 0.9-era file, and the report says where.
    let n = notes(jail(&r, "sshd"));
    assert!(n.contains("iptables-common.local:2"), "{n}");
}

const SEED_002: &str = "[DEFAULT]\n#■基本設定\nbackend = systemd ; ContOS7用設定\nignoreip = 127.0.0.0/8 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 ; 無視するIPアドレス(ホワイトリスト)\n#■BAN設定\nbantime = 3600 ; BANされたIPアドレスがアクセスを禁止される期間(秒)\nfindtime = 300 ; BANの判定時間(秒)\nmaxretry = 3 ; アクセス回数\n#■メール設定\ndestemail = mail@example.com ; アラートメールの送信先アドレス\nsender = fail2ban@example.com ; メールの送信元\n#■その他\naction = %(action_mw)s ; BANされたIPアドレスのWHOIS情報をメール送信\n[sshd]\nenabled = true\nport = ssh\n[proftpd]\nenabled = true\nport = ftp,ftp-data,ftps,ftps-data\n[postfix]\nenabled = true\nport = smtp,465,submission\n[dovecot]\nenabled = true\nport = pop3,pop3s,imap,imaps,submission,465,sieve\n[postfix-sasl]\nenabled = true\nport = smtp,465,submission,imap3,imaps,pop3,pop3s\n#■再犯者用設定\n[recidive]\nenabled = true\nbackend = auto ; ログの監視方法\nlogpath = /var/log/fail2ban.log ; BAN回数を集計するログ\nbantime = 604800 ; BANされる期間(秒)\nfindtime = 86400 ; BANの回数判定時間(秒)\nmaxretry = 5 ; BAN回数\n";

/// Seed 003: the user's own qpopper filters and a dovecot.conf replacing the stock
/// one, jails appended to jail.conf, and action = %(action_mwl)s set there.
fn seed_003(dir: &Path) -> PathBuf {
    let f2b = fail2ban(
        dir,
        &[
            ("filter.d/qpopperauth.conf", "[Definition]\nfailregex = in.qpopper.* authentication failure.* tty=<HOST>\n"),
            ("filter.d/qpoppermail.conf", "[Definition]\nfailregex = qpopper.* \\(<HOST>\\):.* Password supplied.*\n"),
            (
                "filter.d/dovecot.conf",
                "[INCLUDES]\nbefore = common.conf\n\n[Definition]\nfailregex = (?: pop3-login|imap-login): .*(?:Authentication failure|Aborted login \\(auth failed|Aborted login \\(tried to use disabled|Disconnected \\(auth failed|Aborted login \\(\\d+ authentication attempts).*rip=(?P<host>\\S*),.*\n",
            ),
        ],
    );
    let jails = "\n[qpopperauth]\nenabled = true\nport = pop3\nfilter = qpopperauth\nlogpath = /var/log/auth.log\nmaxretry = 10\nbantime = 7200\n\n[qpoppermail]\nenabled = true\nport = pop3\nfilter = qpoppermail\nlogpath = /var/log/mail.log\nmaxretry = 10\nbantime = 7200\n\n[dovecot-custom]\nenabled = true\nport = imap3,imaps,pop3,pop3s\nfilter = dovecot\nlogpath = /var/log/mail.log\n";
    let p = f2b.join("jail.conf");
    let mut t = std::fs::read_to_string(&p).unwrap();
    t.push_str(jails);
    std::fs::write(&p, t).unwrap();
    edit(
        &f2b,
        "jail.conf",
        "\naction = %(action_)s",
        "\naction = %(action_mwl)s",
    );
    f2b
}

#[test]
fn seed_003_own_filters_and_jails() {
    let d = tempfile::tempdir().unwrap();
    let f2b = seed_003(d.path());
    let (r, out, code) = import(d.path(), &f2b, &["--no-bans"]);
    assert_eq!(code, 0, "{r:#}");
    let c = check(&out);
    all_enabled_imported(&r, &c);
    // The user's filters are imported; their own dovecot.conf is not the built-in.
    // Beside banjo's built-in dovecot, not over it (banjo's own [jail.dovecot] keeps it).
    for f in ["qpopperauth", "qpoppermail", "dovecot-fail2ban"] {
        assert!(out.join(format!("filter.d/{f}.toml")).is_file(), "{f}");
    }
    let q = &c["qpopperauth"];
    assert_eq!(q["maxretry"], 10);
    assert_eq!(q["bantime_seconds"], 7200);
    assert_eq!(q["ports"], "110");
    // auth.log: what journald files under auth/authpriv, from root's processes.
    assert_eq!(
        q["journalmatch"],
        "SYSLOG_FACILITY=4 SYSLOG_FACILITY=10 _UID=0"
    );
    assert_eq!(c["qpoppermail"]["journalmatch"], "SYSLOG_FACILITY=2 _UID=0");
    // The custom dovecot filter reads dovecot's unit, as banjo's built-in does.
    let dc = &c["dovecot-custom"];
    assert_eq!(dc["journalmatch"], "_SYSTEMD_UNIT=dovecot.service");
    assert!(
        dc["filter_file"]
            .as_str()
            .unwrap()
            .ends_with("filter.d/dovecot-fail2ban.toml"),
        "{dc}"
    );
    // action_mwl: the hook mails the matched lines too.
    let argv = dc["actions"][0]["argv"].as_array().unwrap();
    assert!(argv.iter().any(|a| a == "{matches}"), "{argv:?}");
    let n = notes(jail(&r, "dovecot-custom"));
    assert!(n.contains("not fail2ban's stock file"), "{n}");
}

/// Seed 004 (Ubuntu home router): jail.d/*.local per service, postfix in aggressive
/// mode, a ufw port-scan jail with its own filter on /var/log/ufw.log, an apache filter
/// of its own on the apache error logs, dbpurgeage 8d, and action.d .local files that
/// add a FORWARD jump.
fn seed_004(dir: &Path) -> PathBuf {
    let f2b = fail2ban(
        dir,
        &[
            ("jail.d/sshd.local", "[sshd]\nenabled = true\nbantime = 10m\nfindtime = 10m\nmaxretry = 1\n"),
            ("jail.d/apache.local", "[apache-auth]\nenabled = false\n\n[apache-badbots]\nenabled = false\n\n[apache-noscript]\nenabled = false\n\n[apache-overflows]\nenabled = true\n\n[apache-nohome]\nenabled = false\n\n[apache-botsearch]\nenabled = false\n\n[apache-fakegooglebot]\nenabled = false\n\n[apache-modsecurity]\nenabled = false\n\n[apache-shellshock]\nenabled = false\n\n[apache-origin]\nenabled  = true\nport     = http,https\nfilter   = apache-origin\nlogpath  = %(apache_error_log)s\nmaxlines = 1\nbantime  = 1w\nfindtime = 1d\nmaxretry = 1\n"),
            ("jail.d/postfix.local", "[postfix]\nenabled = true\nmode = aggressive\n"),
            ("jail.d/ufw.local", "[ufw-port-scan]\nenabled = true\nfilter = ufw-port-scan\nlogpath = /var/log/ufw.log\nmaxlines = 1\nbantime = 1h\nfindtime = 10m\nmaxretry = 3\n"),
            ("jail.d/recidive.local", "[recidive]\nenabled = true\n"),
            ("filter.d/ufw-port-scan.conf", "[Definition]\nfailregex = .*\\[UFW BLOCK\\].* SRC=<HOST>\nignoreregex =\n"),
            ("filter.d/apache-origin.conf", "[INCLUDES]\n\nbefore = apache-common.conf\n\n[Definition]\n\nfailregex = ^%(_apache_error_client)s AH02811: script not found or unable to stat:.*$\n            ^%(_apache_error_client)s AH01630: client denied by server configuration:.*$\n            ^%(_apache_error_client)s AH00124: Request exceeded the limit of 10 internal redirects.*$\n            ^%(_apache_error_client)s AH00126: Invalid URI in request.*$\n\nignoreregex =\n"),
            ("action.d/iptables-multiport.local", "[Definition]\n\nactionstart = <iptables> -N f2b-<name>\n              <iptables> -A f2b-<name> -j <returntype>\n              <iptables> -I <chain> -p <protocol> -m multiport --dports <port> -j f2b-<name>\n              <iptables> -I FORWARD -p <protocol> -m multiport --dports <port> -j f2b-<name>\n\nactionstop = <iptables> -D <chain> -p <protocol> -m multiport --dports <port> -j f2b-<name>\n             <iptables> -D FORWARD -p <protocol> -m multiport --dports <port> -j f2b-<name>\n             <actionflush>\n             <iptables> -X f2b-<name>\n"),
        ],
    );
    edit(
        &f2b,
        "fail2ban.conf",
        "\ndbpurgeage = 1d",
        "\n#dbpurgeage = 1d\ndbpurgeage = 8d",
    );
    f2b
}

#[test]
fn seed_004_jail_d_locals_and_own_filters() {
    let d = tempfile::tempdir().unwrap();
    let f2b = seed_004(d.path());
    let (r, out, code) = import(d.path(), &f2b, &["--no-bans"]);
    assert_eq!(code, 0, "{r:#}");
    // apache-origin reads Apache's error log files: banjo follows the same files.
    let origin = jail(&r, "apache-origin");
    assert_eq!(origin["written"], true, "{}", notes(origin));
    assert_eq!(
        origin["settings"]["logpath"],
        serde_json::json!(["/var/log/apache2/*error.log"])
    );
    let c = check(&out);
    for name in [
        "sshd",
        "postfix",
        "ufw-port-scan",
        "recidive",
        "apache-overflows",
    ] {
        assert_eq!(
            c[name]["enabled"],
            true,
            "{name}: {}",
            notes(jail(&r, name))
        );
    }
    assert_eq!(c["sshd"]["maxretry"], 1);
    assert_eq!(c["sshd"]["bantime_seconds"], 600);
    assert_eq!(c["postfix"]["mode"], "aggressive");
    let ufw = &c["ufw-port-scan"];
    assert_eq!(ufw["journalmatch"], "_TRANSPORT=kernel");
    assert_eq!(ufw["maxretry"], 3);
    assert_eq!(ufw["bantime_seconds"], 3600);
    // fail2ban.conf's dbpurgeage: how long ban counts live.
    let toml = std::fs::read_to_string(out.join("jail.d/fail2ban.toml")).unwrap();
    assert!(toml.contains("ban_count_max_age = \"8d\""), "{toml}");
    // The FORWARD jump of iptables-multiport.local is reported with its line.
    let n = notes(jail(&r, "sshd"));
    assert!(
        n.contains("iptables-multiport.local:3") && n.contains("FORWARD"),
        "{n}"
    );
    // Disabled apache jails are not written.
    assert_eq!(jail(&r, "apache-badbots")["written"], false);
    assert_eq!(c["apache-badbots"]["enabled"], false);
}

/// How many lines of `log` fail2ban's own filter (fail2ban-regex, from the test's
/// fail2ban dir) matches, per address.
fn fail2ban_matches(f2b: &Path, filter: &str, log: &str) -> usize {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("log");
    std::fs::write(&p, log).unwrap();
    let out = Command::new("fail2ban-regex")
        .arg(&p)
        .arg(f2b.join("filter.d").join(format!("{filter}.conf")))
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout);
    let line = t
        .lines()
        .find(|l| l.starts_with("Lines:"))
        .unwrap_or_else(|| panic!("{t}"));
    // "Lines: 6 lines, 0 ignored, 4 matched, 2 missed"
    line.split(", ")
        .find(|p| p.ends_with(" matched"))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

fn ufw_line(src: &str, dpt: u32) -> String {
    format!("[UFW BLOCK] IN=ppp0 OUT= MAC= SRC={src} DST=192.0.2.1 LEN=40 TOS=0x00 PREC=0x00 TTL=239 ID=5446 PROTO=TCP SPT=58030 DPT={dpt} WINDOW=1024 RES=0x00 SYN URGP=0")
}

/// The seeds' attack lines, in a journal, replayed with the imported configuration:
/// banjo bans the addresses fail2ban's own filters and thresholds ban (seed 004's sshd
/// bans at the first failure, its ufw jail at the third blocked packet; seed 001's SSH
/// jail at the sixth), and not the ones below the threshold or in ignoreip.
#[test]
fn replay_bans_what_fail2ban_would() {
    let d = tempfile::tempdir().unwrap();
    let f2b = seed_004(d.path());
    let (r, out, _) = import(d.path(), &f2b, &["--no-bans"]);
    assert_eq!(jail(&r, "ufw-port-scan")["written"], true);

    // Seed 001's sshd line and seed 004's ufw lines, from TEST-NET addresses.
    let ssh_msg =
        |ip: &str| format!("Failed password for invalid user phil from {ip} port 38354 ssh2");
    let (scanner, prober, lone) = ("198.51.100.60", "198.51.100.61", "203.0.113.9");
    let mut entries = Vec::new();
    let mut syslog_ssh = String::new();
    let mut syslog_ufw = String::new();
    entries.push(E::sshd(T0, 3534, &ssh_msg(lone)));
    syslog_ssh.push_str(&format!(
        "Nov 16 00:00:00 host sshd[3534]: {}\n",
        ssh_msg(lone)
    ));
    for (i, (src, n)) in [(scanner, 3), (prober, 2)].iter().enumerate() {
        for k in 0..*n {
            let line = ufw_line(src, 2294 + k);
            let t = T0 + (10 + i as i64 * 10 + k as i64) * SEC;
            entries.push(
                E::new(t)
                    .f("_TRANSPORT", "kernel")
                    .f("SYSLOG_IDENTIFIER", "kernel")
                    .f("MESSAGE", &line),
            );
            syslog_ufw.push_str(&format!(
                "Nov 16 00:00:{:02} router kernel: [2773313.371997] {line}\n",
                10 + i * 10 + k as usize
            ));
        }
    }
    // fail2ban's own filters match these lines (as rsyslog writes them to the files).
    assert_eq!(fail2ban_matches(&f2b, "sshd", &syslog_ssh), 1);
    assert_eq!(fail2ban_matches(&f2b, "ufw-port-scan", &syslog_ufw), 5);

    let jdir = d.path().join("journal");
    make_journal(&jdir, &entries);
    let v = json(&run(&[
        "replay",
        "--config",
        out.to_str().unwrap(),
        "--journal-dir",
        jdir.to_str().unwrap(),
        "--no-ignoreself",
        "--json",
    ]));
    let bans: Vec<(String, String)> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "ban")
        .map(|e| {
            (
                e["jail"].as_str().unwrap().to_owned(),
                e["addr"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(bans.contains(&("sshd".into(), lone.into())), "{bans:?}");
    assert!(
        bans.contains(&("ufw-port-scan".into(), scanner.into())),
        "{bans:?}"
    );
    assert!(!bans.iter().any(|(_, a)| a == prober), "{bans:?}");
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// State bans as (jail, addr, until_us, count).
fn state_bans(state: &Path) -> Vec<(String, String, Option<i64>, i64)> {
    let c = rusqlite::Connection::open(state.join("state.db")).unwrap();
    let mut st = c
        .prepare("SELECT jail, addr, until_us, count FROM bans ORDER BY addr")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// fail2ban's v2 fixture (pam-generic bans of 1.2.3.7 and 1.2.3.8), one ban moved to
/// a minute ago and one to two hours ago: with bantime 1h the first is still running.
#[test]
fn db_fixture_active_bans_land_in_state() {
    let d = tempfile::tempdir().unwrap();
    let f2b = fail2ban(
        d.path(),
        &[(
            "jail.local",
            "[pam-generic]\nenabled = true\nbantime = 1h\n",
        )],
    );
    for (version, table) in [("v2", "bans"), ("v4", "bips")] {
        let db = d.path().join(format!("f2b-{version}.sqlite3"));
        std::fs::copy(Path::new(FIXTURES).join("database_v2.db"), &db).unwrap();
        if version == "v4" {
            // fail2ban's own code upgrades the fixture to its current schema.
            let st = Command::new("/usr/bin/python3")
                .args(["-c", "import sys; from fail2ban.server.database import Fail2BanDb; Fail2BanDb(sys.argv[1])"])
                .arg(&db)
                .status()
                .unwrap();
            assert!(st.success());
        }
        let c = rusqlite::Connection::open(&db).unwrap();
        let n = now();
        c.execute(
            &format!("UPDATE {table} SET timeofban = ?1 WHERE ip = '1.2.3.7'"),
            [n - 60],
        )
        .unwrap();
        c.execute(
            &format!("UPDATE {table} SET timeofban = ?1 WHERE ip = '1.2.3.8'"),
            [n - 7200],
        )
        .unwrap();
        drop(c);
        let state = d.path().join(format!("state-{version}"));
        let out_dir = d.path().join(format!("banjo-{version}"));
        std::fs::create_dir_all(&out_dir).unwrap();
        let o = run(&[
            "import-fail2ban",
            f2b.to_str().unwrap(),
            "-o",
            out_dir.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "--json",
        ]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(o.status.code(), Some(0), "{version}: {v:#}");
        let want = if version == "v4" { 4 } else { 2 };
        assert_eq!(v["bans"]["version"], want);
        let bans = state_bans(&state);
        assert_eq!(bans.len(), 1, "{version}: {bans:?}");
        let (jail, addr, until, count) = &bans[0];
        assert_eq!(
            (jail.as_str(), addr.as_str(), *count),
            ("pam-generic", "1.2.3.7", 1)
        );
        // The time it has left: ends an hour after fail2ban banned it.
        assert_eq!(until.unwrap() / 1_000_000, n - 60 + 3600);
        // Both ban counts carry over, for bantime increment.
        assert_eq!(v["bans"]["counts"], 2);
    }
    // The v1 fixture's only ban is of 127.0.0.1, which banjo never bans.
    let db = d.path().join("v1.db");
    std::fs::copy(Path::new(FIXTURES).join("database_v1.db"), &db).unwrap();
    let o = run(&[
        "import-fail2ban",
        f2b.to_str().unwrap(),
        "-o",
        d.path().join("b1").to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--state-dir",
        d.path().join("s1").to_str().unwrap(),
        "--dry-run",
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["bans"]["version"], 1);
    assert_eq!(v["bans"]["imported"].as_array().unwrap().len(), 0);
}

#[test]
fn never_overwrites_without_force_and_dry_run_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let f2b = fail2ban(d.path(), &[]);
    let out_dir = d.path().join("banjo");
    let o = run(&[
        "import-fail2ban",
        f2b.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--dry-run",
        "--no-bans",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(text(&o).contains("[jail.sshd]"), "{}", text(&o));
    assert!(!out_dir.exists());
    std::fs::create_dir_all(out_dir.join("jail.d")).unwrap();
    std::fs::write(out_dir.join("jail.d/fail2ban.toml"), "# mine\n").unwrap();
    let o = run(&[
        "import-fail2ban",
        f2b.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--no-bans",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("jail.d/fail2ban.toml")).unwrap(),
        "# mine\n"
    );
    let o = run(&[
        "import-fail2ban",
        f2b.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--no-bans",
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(out_dir.join("jail.d/fail2ban.toml"))
            .unwrap()
            .contains("[jail.sshd]")
    );
}

#[test]
fn a_result_banjo_check_refuses_is_not_written() {
    let d = tempfile::tempdir().unwrap();
    let f2b = fail2ban(d.path(), &[]);
    let out_dir = d.path().join("banjo");
    // A banjo.toml already there that the imported jails collide with: firewall
    // nftables and a jail chain nftables has no hook for.
    write_config(&out_dir, &[("banjo.toml", "[daemon]\nfirewall = \"nftables\"\n[defaults]\nchain = \"MYCHAIN\"\n[jail.sshd]\nchain = \"MYCHAIN\"\n")]);
    std::fs::write(f2b.join("jail.local"), "[sshd]\nchain = MYCHAIN\n").unwrap();
    let o = run(&[
        "import-fail2ban",
        f2b.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--no-bans",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}{}", text(&o), stderr(&o));
    assert!(stderr(&o).contains("nothing written"), "{}", stderr(&o));
    assert!(text(&o).contains("MYCHAIN"), "{}", text(&o));
    assert!(!out_dir.join("jail.d/fail2ban.toml").exists());
}

#[test]
fn check_warns_about_fail2ban_files_with_their_line() {
    let d = tempfile::tempdir().unwrap();
    write_config(
        d.path(),
        &[
            ("jail.local", "# mine\n\n[sshd]\nenabled = true\n"),
            ("jail.d/x.conf", "[postfix]\nenabled = true\n"),
        ],
    );
    let o = run(&["check", "--config", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let e = stderr(&o);
    let want =
        "this looks like fail2ban configuration; banjo reads TOML; run `banjo import-fail2ban`";
    assert!(e.contains(&format!("jail.local:3: warning: {want}")), "{e}");
    assert!(e.contains(&format!("x.conf:1: warning: {want}")), "{e}");
}

/// The mail hook runs the mail transfer agent from an argv; an attacker's text in the
/// matched lines is only mail body. (No MTA is installed here: a script stands in
/// for sendmail and keeps its argv and input.)
#[test]
fn mail_ban_hands_the_message_to_sendmail_without_a_shell() {
    let d = tempfile::tempdir().unwrap();
    let mta = d.path().join("sendmail");
    let log = d.path().join("mail");
    std::fs::write(
        &mta,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {0}.argv\ncat > {0}\n",
            log.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&mta)
        .status()
        .unwrap();
    let evil = "Failed password for $(touch /tmp/pwned) from 192.0.2.7";
    let o = run(&[
        "mail-ban",
        "--mta",
        mta.to_str().unwrap(),
        "--to",
        "admin@example.com",
        "--from",
        "banjo@example.com",
        "--jail",
        "sshd",
        "--ip",
        "192.0.2.7",
        "--failures",
        "5",
        "--bantime",
        "10m",
        "--matches",
        evil,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mail = std::fs::read_to_string(&log).unwrap();
    assert!(
        mail.contains("Subject: [banjo] sshd: banned 192.0.2.7"),
        "{mail}"
    );
    assert!(mail.contains("To: admin@example.com"), "{mail}");
    assert!(mail.contains(evil), "{mail}");
    let argv = std::fs::read_to_string(format!("{}.argv", log.display())).unwrap();
    assert_eq!(argv, "-t\n-i\n-f\nbanjo@example.com\n");
    assert!(!Path::new("/tmp/pwned").exists());
    let o = run(&[
        "mail-ban",
        "--to",
        "a@example.com",
        "--from",
        "b@example.com",
        "--jail",
        "x",
        "--ip",
        "not-an-ip",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// The whole switch, for real: fail2ban's database (its v2 fixture upgraded by
/// fail2ban's own code, one running postfix ban added), imported with seed 002's
/// configuration into banjo's config and state; `banjo run` in a private network
/// namespace puts the ban into the kernel with the time it has left, and not the
/// expired one. Runs in `unshare --mount --net` (common::ns).
#[test]
fn migrated_bans_reach_the_kernel_when_banjo_starts() {
    use common::ns::*;
    if !enter("migrated_bans_reach_the_kernel_when_banjo_starts") {
        return;
    }
    let _j = Journald::start();
    let d = tempfile::tempdir().unwrap();
    let f2b = fail2ban(
        d.path(),
        &[
            ("jail.local", SEED_002),
            (
                "action.d/iptables-common.local",
                "[Init]\nblocktype = DROP\n",
            ),
        ],
    );
    let db = d.path().join("fail2ban.sqlite3");
    std::fs::copy(Path::new(FIXTURES).join("database_v2.db"), &db).unwrap();
    let st = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys; from fail2ban.server.database import Fail2BanDb; Fail2BanDb(sys.argv[1])",
        ])
        .arg(&db)
        .status()
        .unwrap();
    assert!(st.success());
    let c = rusqlite::Connection::open(&db).unwrap();
    let n = now();
    c.execute("INSERT INTO jails(name) VALUES('postfix')", [])
        .unwrap();
    c.execute(
        "INSERT INTO bips VALUES('198.51.100.7', 'postfix', ?1, 3600, 1, '{\"failures\": 3}')",
        [n - 600],
    )
    .unwrap();
    c.execute(
        "INSERT INTO bips VALUES('198.51.100.8', 'postfix', ?1, 3600, 2, '{\"failures\": 3}')",
        [n - 7200],
    )
    .unwrap();
    drop(c);
    let mut b = Banjo::new(d.path(), "[daemon]\nwake_on_connect = false\n");
    let o = run(&[
        "import-fail2ban",
        f2b.to_str().unwrap(),
        "-o",
        b.config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--state-dir",
        b.state.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o), stderr(&o));
    assert!(
        text(&o).contains("1 active bans and 2 ban counts written"),
        "{}",
        text(&o)
    );
    b.start(&[]);
    let members = ipset_members("banjo-postfix-4");
    assert_eq!(
        members,
        vec!["198.51.100.7".to_string()],
        "{}",
        b.log_text()
    );
    // The kernel's timeout is what fail2ban's ban had left (about 50 minutes).
    let save = shell("ipset save banjo-postfix-4");
    let line = save.lines().find(|l| l.contains("198.51.100.7")).unwrap();
    let left: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((2900..=3000).contains(&left), "{line}");
    // blocktype DROP from iptables-common.local: the jail's rule drops.
    let rules = shell("iptables -S");
    assert!(
        rules.contains("banjo-postfix") && rules.contains("-j DROP"),
        "{rules}"
    );
    b.stop();
}

/// Seed 004's own apache-origin filter, imported, matches the seed's Apache error log
/// lines (addresses changed to TEST-NET) as fail2ban-regex does with the original:
/// the jail that now follows /var/log/apache2/*error.log counts what fail2ban counted.
#[test]
fn seed_004_apache_origin_matches_as_fail2ban_does() {
    let d = tempfile::tempdir().unwrap();
    let f2b = seed_004(d.path());
    let (r, out, _) = import(d.path(), &f2b, &["--no-bans"]);
    assert_eq!(jail(&r, "apache-origin")["written"], true);
    let log = "[Mon Nov 22 12:43:22.745282 2021] [cgi:error] [pid 9067] [client 203.0.113.71:25819] AH02811: script not found or unable to stat: /usr/lib/cgi-bin/kerbynet\n\
[Mon Nov 22 13:15:47.493805 2021] [authz_core:error] [pid 9280] [client 198.51.100.229:51599] AH01630: client denied by server configuration: /var/www/html/wp-login.php\n\
[Tue Nov 23 14:14:46.121883 2021] [authz_core:error] [pid 26323] [client 203.0.113.136:51446] AH01630: client denied by server configuration: /var/www/html/xmlrpc.php\n\
[Tue Nov 23 14:15:00.000000 2021] [core:notice] [pid 26323] AH00094: Command line: '/usr/sbin/apache2'\n";
    assert_eq!(fail2ban_matches(&f2b, "apache-origin", log), 3);
    let p = d.path().join("error.log");
    std::fs::write(&p, log).unwrap();
    let filter = out.join("filter.d/apache-origin.toml");
    let v = json(&run(&[
        "test-filter",
        filter.to_str().unwrap(),
        p.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(v["matched"], 3, "{v:#}");
    assert_eq!(v["failures"], 3, "{v:#}");
}
