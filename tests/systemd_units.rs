//! The shipped units under a real systemd, the way an admin installs banjo: systemd runs
//! as PID 1 of a private PID namespace (inside the test's private mount and network
//! namespaces), `systemctl enable --now banjo.socket banjo.service` starts banjo with
//! every hardening option of units/banjo.service in force, on the built-in
//! configuration, with no /etc/banjo. Nothing reaches the host: /etc is a private copy,
//! /run, /tmp, /var/tmp, /var/lib and /var/log/journal are tmpfs, and the PID namespace
//! (systemd, its journald, banjo) dies with the test.

mod common;
use common::ns::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BAN_ID: &str = "4d654fc42ce94fee9c9d8899ca99f1bc";
/// Where the binary under test and the units are copied (tmpfs /run).
const BIN_DIR: &str = "/run/banjo-test-bin";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run a command, fail the test with its output unless it succeeds.
fn run(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{argv:?} failed: {text}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// systemd as PID 1 of a new PID namespace; killed (and with it everything it started)
/// on drop.
struct Systemd {
    unshare: Child,
    /// systemd's PID as the test sees it.
    pid1: String,
    bin_dir: PathBuf,
}

impl Systemd {
    /// `banjo_toml`: /etc/banjo/banjo.toml, or None for no /etc/banjo at all (the
    /// built-in configuration).
    fn boot(banjo_toml: Option<&str>) -> Systemd {
        // /run first: the binary and the units under test are copied there before
        // /tmp is hidden (a checkout may live under /tmp). /run stays visible to the
        // service under ProtectSystem=strict, PrivateTmp and ProtectHome.
        run(&["mount", "-t", "tmpfs", "tmpfs", "/run"]);
        let bin_dir = PathBuf::from(BIN_DIR);
        std::fs::create_dir_all(&bin_dir).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_banjo"), bin_dir.join("banjo")).unwrap();
        for f in ["banjo.service", "banjo.socket", "banjo.sysusers"] {
            std::fs::copy(repo().join("units").join(f), bin_dir.join(f)).unwrap();
        }
        // Everything systemd or the unit writes lands on tmpfs. /var/log/journal is
        // created if missing, as the journald tests do.
        for dir in ["/tmp", "/var/tmp", "/var/lib", "/var/log/journal"] {
            std::fs::create_dir_all(dir).unwrap();
            run(&["mount", "-t", "tmpfs", "tmpfs", dir]);
        }
        // A private /etc: enabling units, the banjo group, no /etc/banjo.
        run(&["cp", "-a", "/etc", "/run/test-etc"]);
        run(&["mount", "--bind", "/run/test-etc", "/etc"]);
        let _ = std::fs::remove_dir_all("/etc/banjo");
        if let Some(text) = banjo_toml {
            std::fs::create_dir_all("/etc/banjo").unwrap();
            std::fs::write("/etc/banjo/banjo.toml", text).unwrap();
        }
        // Only what the test target pulls in starts, not the host's enabled units.
        std::fs::write(
            "/etc/systemd/system/banjo-test.target",
            "[Unit]\nDescription=banjo test\nRequires=systemd-journald.socket\n",
        )
        .unwrap();
        // The units as shipped; only ExecStart points at the binary under test (the
        // package's /usr/bin/banjo is tested by scripts/package.sh).
        for unit in ["banjo.service", "banjo.socket"] {
            std::fs::copy(
                bin_dir.join(unit),
                Path::new("/etc/systemd/system").join(unit),
            )
            .unwrap();
        }
        std::fs::create_dir_all("/etc/systemd/system/banjo.service.d").unwrap();
        std::fs::write(
            "/etc/systemd/system/banjo.service.d/test.conf",
            format!(
                // A 2 s watchdog instead of the unit's 30 s, so the test sees the pings.
                "[Service]\nExecStart=\nExecStart={}/banjo run\nWatchdogSec=2s\n",
                bin_dir.display()
            ),
        )
        .unwrap();
        // The group of banjo.socket, from the shipped sysusers file (as postinst does).
        run(&[
            "systemd-sysusers",
            bin_dir.join("banjo.sysusers").to_str().unwrap(),
        ]);
        run(&["ip", "link", "set", "lo", "up"]);

        let log = std::fs::File::create("/run/systemd-test.log").unwrap();
        let unshare = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--"])
            .args([
                "/lib/systemd/systemd",
                "--system",
                "--unit=banjo-test.target",
            ])
            .env("container", "banjo-test")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("unshare");
        let mut sd = Systemd {
            unshare,
            pid1: String::new(),
            bin_dir,
        };
        let parent = sd.unshare.id().to_string();
        eventually(10, "systemd started", || {
            sd.pid1 = shell(&format!("pgrep -P {parent}")).trim().to_owned();
            !sd.pid1.is_empty()
        });
        eventually(30, "systemd running", || {
            let out = sd
                .command(&["systemctl", "is-system-running"])
                .output()
                .unwrap();
            let state = String::from_utf8_lossy(&out.stdout);
            state.trim() == "running" || state.trim() == "degraded"
        });
        sd
    }

    /// A command run in systemd's PID namespace, as an admin on that host would run
    /// it (systemd's private bus and banjo's socket see a PID they know).
    fn command(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["--target", &self.pid1, "--pid", "--"]).args(argv);
        c
    }

    /// [`run`] in systemd's PID namespace (see [`Systemd::command`]).
    fn run(&self, argv: &[&str]) -> String {
        run(&[&["nsenter", "--target", &self.pid1, "--pid", "--"], argv].concat())
    }

    fn systemctl(&self, args: &[&str]) -> String {
        let mut argv = vec!["systemctl", "--no-pager"];
        argv.extend_from_slice(args);
        self.run(&argv)
    }

    /// `systemctl show -p NAME --value UNIT`.
    fn prop(&self, unit: &str, name: &str) -> String {
        self.systemctl(&["show", "-p", name, "--value", unit])
            .trim()
            .to_owned()
    }

    /// `banjo ARGS --json` over the control socket.
    fn banjo_json(&self, args: &[&str]) -> serde_json::Value {
        let exe = self.bin_dir.join("banjo");
        let mut argv = vec![exe.to_str().unwrap()];
        argv.extend_from_slice(args);
        argv.push("--json");
        serde_json::from_str(&self.run(&argv)).unwrap()
    }

    /// Log `msgs` through journald as sshd does: from a process in systemd's PID
    /// namespace (so journald can read its /proc entry) whose name is sshd, over the
    /// native protocol, staying alive until journald has read its _COMM.
    fn sshd(&self, msgs: &[String]) {
        let exe = self.bin_dir.join("sshd");
        if !exe.exists() {
            std::fs::copy("/usr/bin/python3", &exe).unwrap();
        }
        let script = format!(
            "import socket, time\n\
             s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
             for m in {msgs:?}:\n    \
                 s.sendto(('MESSAGE=' + m + '\\nSYSLOG_IDENTIFIER=sshd\\nPRIORITY=6\\n').encode(), '/run/systemd/journal/socket')\n\
             time.sleep(0.5)\n"
        );
        self.run(&[exe.to_str().unwrap(), "-c", &script]);
    }
}

impl Drop for Systemd {
    fn drop(&mut self) {
        if !self.pid1.is_empty() {
            let _ = Command::new("kill").args(["-KILL", &self.pid1]).status();
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

fn failures(ip: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("Failed password for root from {ip} port {} ssh2", 40000 + i))
        .collect()
}

#[test]
fn enabled_units_run_banjo_hardened_under_systemd() {
    if !enter("enabled_units_run_banjo_hardened_under_systemd") {
        return;
    }
    units_flow(Systemd::boot(None), ipset_members);
}

/// The same with the nftables backend: nft under the unit's sandbox (system call
/// filter, AF_NETLINK, CAP_NET_ADMIN only).
#[test]
fn enabled_units_run_banjo_hardened_under_systemd_with_nftables() {
    if !enter("enabled_units_run_banjo_hardened_under_systemd_with_nftables") {
        return;
    }
    let sd = Systemd::boot(Some("[daemon]\nfirewall = \"nftables\"\n"));
    units_flow(sd, nft_members);
    assert!(
        shell("iptables -S; ipset list -n")
            .trim()
            .lines()
            .all(|l| l.starts_with("-P")),
        "nothing in iptables/ipset: {}",
        shell("iptables -S; ipset list -n")
    );
}

/// enable --now, hardening, a ban, reload, stop, socket activation; `members` lists
/// a set of the backend in use.
fn units_flow(sd: Systemd, members: fn(&str) -> Vec<String>) {
    let t = Instant::now();
    sd.systemctl(&["enable", "--now", "banjo.socket", "banjo.service"]);
    // Type=notify: `--now` returned after READY=1, which comes after state restore and
    // firewall setup.
    assert_eq!(sd.prop("banjo.service", "ActiveState"), "active");
    assert_eq!(sd.prop("banjo.socket", "ActiveState"), "active");
    assert!(t.elapsed() < Duration::from_secs(60));
    let status = sd.prop("banjo.service", "StatusText");
    assert!(
        status.contains("2 jails"),
        "STATUS= from sd_notify: {status:?}"
    );
    assert!(
        sd.systemctl(&["is-enabled", "banjo.service"]).trim() == "enabled",
        "enabled"
    );

    // The hardening is in force in the running process.
    let main_pid = run(&["pgrep", "-f", "banjo-test-bin/banjo run"]);
    let main_pid = main_pid.lines().next().unwrap().trim().to_owned();
    let proc_status = std::fs::read_to_string(format!("/proc/{main_pid}/status")).unwrap();
    assert!(proc_status.contains("NoNewPrivs:\t1"), "{proc_status}");
    assert!(proc_status.contains("Seccomp:\t2"), "{proc_status}");
    let cap_bnd = proc_status
        .lines()
        .find(|l| l.starts_with("CapBnd:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    // CAP_NET_ADMIN (12) and CAP_NET_RAW (13) only.
    assert_eq!(
        u64::from_str_radix(&cap_bnd, 16).unwrap(),
        (1 << 12) | (1 << 13)
    );

    // WATCHDOG=1 keeps coming while banjo idles: systemd would have killed it after
    // 2 s of silence (and restarted it: NRestarts would count it).
    let first = sd.prop("banjo.service", "WatchdogTimestampMonotonic");
    std::thread::sleep(Duration::from_millis(2500));
    let later = sd.prop("banjo.service", "WatchdogTimestampMonotonic");
    assert!(
        later.parse::<u64>().unwrap() > first.parse::<u64>().unwrap(),
        "watchdog pings: {first} then {later}"
    );
    assert_eq!(sd.prop("banjo.service", "NRestarts"), "0");
    assert_eq!(sd.prop("banjo.service", "ActiveState"), "active");

    // MemoryDenyWriteExecute=yes: banjo saw it and does not try PCRE2's JIT.
    eventually(10, "the no-JIT notice", || {
        shell("journalctl -q -u banjo.service -o cat").contains("PCRE2's interpreter")
    });

    // The CLI reaches the daemon through the socket systemd made.
    let st = sd.banjo_json(&["status"]);
    let text = st.to_string();
    assert!(text.contains("sshd") && text.contains("recidive"), "{st}");
    // The sandbox (CAP_NET_ADMIN, AF_NETLINK) lets banjo bind the wake rules' group.
    assert_eq!(st["wake_group"], 3187, "{st}");

    // An attack through the journald systemd runs: five failures (built-in maxretry).
    sd.sshd(&failures("203.0.113.9", 5));
    eventually(10, "203.0.113.9 banned in the kernel", || {
        members("banjo-sshd-4").contains(&"203.0.113.9".to_string())
    });
    // The ban entry is in the journal under the unit's name. It is written after
    // the ban is in the kernel (state, kernel, then history), so it may come a moment
    // later.
    let query = [
        "journalctl".to_string(),
        "-q".into(),
        "-o".into(),
        "json".into(),
        format!("MESSAGE_ID={BAN_ID}"),
        "BANJO_IP=203.0.113.9".into(),
        "_SYSTEMD_UNIT=banjo.service".into(),
    ]
    .join(" ");
    eventually(10, "the ban entry in the journal", || {
        shell(&query).lines().count() == 1
    });

    // Reload (ExecReload: SIGHUP) keeps the daemon and the ban.
    sd.systemctl(&["reload", "banjo.service"]);
    assert_eq!(sd.prop("banjo.service", "ActiveState"), "active");
    assert_eq!(sd.banjo_json(&["status", "sshd"])["currently_banned"], 1);

    // Stop keeps the bans in the kernel (unban_on_stop = false)…
    sd.systemctl(&["stop", "banjo.service"]);
    assert_eq!(sd.prop("banjo.service", "ActiveState"), "inactive");
    assert!(members("banjo-sshd-4").contains(&"203.0.113.9".to_string()));
    // …and the socket starts banjo again on the next request (socket activation:
    // LISTEN_FDS), with the ban restored from /var/lib/banjo.
    let st = sd.banjo_json(&["status", "sshd"]);
    assert_eq!(st["currently_banned"], 1, "{st}");
    assert_eq!(sd.prop("banjo.service", "ActiveState"), "active");
    eventually(10, "the restore logged", || {
        shell("journalctl -q -u banjo.service -o cat").contains("Restore Ban 203.0.113.9")
    });

    sd.systemctl(&["stop", "banjo.socket", "banjo.service"]);
    assert!(
        !Path::new("/run/banjo/banjo.sock").exists(),
        "RemoveOnStop=yes removes the socket"
    );
}
