//! A private world for daemon tests: the test re-runs itself inside new mount and
//! network namespaces, where it starts a real systemd-journald on tmpfs and has an
//! empty firewall. Nothing leaks to the host: the namespaces vanish with the process.
#![allow(dead_code)]

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Run the calling test's body in fresh namespaces. Returns true inside (run the
/// body), false outside (the body ran in the child, which must have passed).
pub fn enter(test_name: &str) -> bool {
    if std::env::var_os("BANJO_TEST_NS").is_some() {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--mount", "--net", "--propagation", "private", "--"])
        .arg(exe)
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env("BANJO_TEST_NS", "1")
        .output()
        .expect("unshare (util-linux) is needed, and root");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "test body failed in its namespace:\n{text}"
    );
    assert!(
        text.contains("1 passed"),
        "the test body did not run:\n{text}"
    );
    false
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `sh -c`, returning stdout whatever the exit status.
pub fn shell(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A systemd-journald of our own, on tmpfs.
pub struct Journald {
    child: Child,
    pub work: tempfile::TempDir,
    sender: UnixDatagram,
}

impl Journald {
    pub fn start() -> Journald {
        Journald::start_with_rate_limit(true)
    }

    /// Without journald's per-service rate limit (10,000 entries in 30 s), which a
    /// backlog of thousands of failures and as many ban entries would exceed: all of
    /// it comes from this test's cgroup.
    pub fn start_unlimited() -> Journald {
        Journald::start_with_rate_limit(false)
    }

    fn start_with_rate_limit(limited: bool) -> Journald {
        for dir in ["/run/systemd", "/run/log", "/var/log/journal"] {
            std::fs::create_dir_all(dir).unwrap();
            sh(&format!("mount -t tmpfs tmpfs {dir}"));
        }
        std::fs::create_dir_all("/run/systemd/journal").unwrap();
        if !limited {
            std::fs::create_dir_all("/run/systemd/journald.conf.d").unwrap();
            std::fs::write(
                "/run/systemd/journald.conf.d/test.conf",
                "[Journal]\nRateLimitIntervalSec=0\nRateLimitBurst=0\n",
            )
            .unwrap();
        }
        sh("ip link set lo up");
        let child = Command::new("/lib/systemd/systemd-journald")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("systemd-journald");
        let t = Instant::now();
        while !Path::new("/run/systemd/journal/socket").exists() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "journald did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let work = tempfile::tempdir().unwrap();
        // This (namespaced, throw-away) test process becomes "sshd": journald reads
        // _COMM from /proc/PID/comm of a sender that is still alive, so entries carry
        // _COMM=sshd reliably. (A short-lived `logger` often exits before journald
        // looks, and its entries then lack _COMM.)
        std::fs::write("/proc/self/comm", "sshd").unwrap();
        let sender = UnixDatagram::unbound().unwrap();
        Journald {
            child,
            work,
            sender,
        }
    }

    /// Log `msg` as sshd would (native protocol, _COMM=sshd).
    pub fn sshd(&self, msg: &str) {
        let entry = format!("MESSAGE={msg}\nSYSLOG_IDENTIFIER=sshd\nPRIORITY=6\n");
        self.sender
            .send_to(entry.as_bytes(), "/run/systemd/journal/socket")
            .unwrap();
    }

    /// Entries journald holds for a journalctl match, as JSON lines.
    pub fn query(&self, args: &str) -> Vec<serde_json::Value> {
        shell(&format!("journalctl -q -o json {args}"))
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Journald {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Journald {
    /// Give this namespace a `/dev/log` that reaches our journald, as every systemd host
    /// has (a symlink to journald's syslog socket), so programs that log through
    /// syslog(3), like a real sshd, land in this journal. A host whose /dev/log is that
    /// symlink already resolves into our /run/systemd; otherwise /dev is overlaid, in
    /// this mount namespace only, with a tmpfs upper layer that holds the link: the
    /// host's /dev is never written.
    pub fn provide_dev_log(&self) {
        const TARGET: &str = "/run/systemd/journal/dev-log";
        if std::fs::read_link("/dev/log").is_ok_and(|t| t == Path::new(TARGET)) {
            return;
        }
        let layer = self.work.path().join("dev-layer");
        std::fs::create_dir_all(&layer).unwrap();
        sh(&format!("mount -t tmpfs tmpfs {}", layer.display()));
        std::fs::create_dir_all(layer.join("upper")).unwrap();
        std::fs::create_dir_all(layer.join("work")).unwrap();
        sh(&format!(
            "mount -t overlay overlay -o lowerdir=/dev,upperdir={0}/upper,workdir={0}/work /dev",
            layer.display()
        ));
        let _ = std::fs::remove_file("/dev/log");
        std::os::unix::fs::symlink(TARGET, "/dev/log").unwrap();
    }
}

/// A running `banjo run`, with its own state dir, socket and notify socket.
pub struct Banjo {
    pub child: Option<Child>,
    pub config: PathBuf,
    pub state: PathBuf,
    pub socket: PathBuf,
    notify: UnixDatagram,
    notify_path: PathBuf,
    pub log: PathBuf,
}

impl Banjo {
    pub fn new(dir: &Path, config_toml: &str) -> Banjo {
        let config = dir.join("etc");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(config.join("banjo.toml"), config_toml).unwrap();
        let state = dir.join("state");
        std::fs::create_dir_all(&state).unwrap();
        let notify_path = dir.join("notify.sock");
        let notify = UnixDatagram::bind(&notify_path).unwrap();
        // Generous: a restart's warm-up re-reads up to findtime of history (50k
        // entries in the spray test), which in a debug build on a loaded 2-core CI
        // machine took over 20 s. A passing test never waits for it.
        notify
            .set_read_timeout(Some(Duration::from_secs(90)))
            .unwrap();
        Banjo {
            child: None,
            config,
            state,
            socket: dir.join("banjo.sock"),
            notify,
            notify_path,
            log: dir.join("banjo.log"),
        }
    }

    /// Start and wait for READY=1 (bans restored, reader positioned).
    pub fn start(&mut self, extra: &[&str]) {
        self.start_with_env(extra, &[]);
    }

    pub fn start_with_env(&mut self, extra: &[&str], env: &[(&str, &str)]) {
        self.spawn(extra, env);
        self.wait_notify("READY=1");
    }

    /// Start banjo without waiting for READY=1.
    pub fn spawn(&mut self, extra: &[&str], env: &[(&str, &str)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_banjo"))
            .arg("run")
            .arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--socket")
            .arg(&self.socket)
            .args(extra)
            .env("NOTIFY_SOCKET", &self.notify_path)
            .envs(env.iter().copied())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// Wait for a notify datagram containing `what`; returns it.
    pub fn wait_notify(&self, what: &str) -> String {
        let mut buf = [0u8; 4096];
        loop {
            match self.notify.recv(&mut buf) {
                Ok(n) => {
                    let s = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if s.contains(what) {
                        return s;
                    }
                }
                Err(e) => panic!("no {what} from banjo ({e}); log:\n{}", self.log_text()),
            }
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and wait (clean stop).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    /// SIGKILL: no chance to save anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Run a CLI verb against this daemon's socket.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_banjo"))
            .args(args)
            .arg("--socket")
            .arg(&self.socket)
            .output()
            .unwrap()
    }

    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.cli(&a);
        assert!(
            out.status.success(),
            "banjo {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Banjo {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Poll `f` until true or `secs` pass.
pub fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Addresses in an ipset (empty if the set does not exist).
pub fn ipset_members(set: &str) -> Vec<String> {
    shell(&format!("ipset list {set} 2>/dev/null"))
        .lines()
        .skip_while(|l| !l.starts_with("Members:"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Members of a set in nftables' `table inet banjo`, as nft prints them (empty if the
/// table or set does not exist).
pub fn nft_members(set: &str) -> Vec<String> {
    let out = shell(&format!("nft -j list set inet banjo {set} 2>/dev/null"));
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&out) else {
        return Vec::new();
    };
    let mut got = Vec::new();
    for item in v["nftables"].as_array().into_iter().flatten() {
        for e in item["set"]["elem"].as_array().into_iter().flatten() {
            let val = if e.is_string() { e } else { &e["elem"]["val"] };
            if let Some(s) = val.as_str() {
                got.push(s.to_owned());
            }
        }
    }
    got
}
