//! The daemon in-process, without root: the dry-run firewall, a virtual clock, entries
//! fed by the test through the daemon's source seam (`daemon::source::Feed`), the real
//! state file and the real control socket in a temporary directory. What the namespace
//! tests (tests/daemon_*_netns.rs) prove against a real journald and kernel, these
//! prove about the daemon's own logic, in seconds and as any user.

use banjo::control::client::call;
use banjo::control::protocol::{Request, Response};
use banjo::daemon::clock::{Clock, VirtualClock};
use banjo::daemon::shutdown::Shutdown;
use banjo::daemon::source::{FedSource, Feed};
use banjo::daemon::{run_with, Parts, RunError, RunOptions};
use banjo::journal::Entry;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
[defaults]
ignoreip = ["127.0.0.0/8", "::1", "192.0.2.10"]
ignoreself = true
[jail.sshd]
enabled = true
maxretry = 3
findtime = "10m"
bantime = "1h"
bantime_increment = false
port = ["ssh"]
[jail.recidive]
enabled = false
"#;

/// 2026-12-07 10:00:00 UTC.
const T0: i64 = 1_796_637_600_000_000;
const MIN: i64 = 60_000_000;

/// One daemon running on a thread of the test.
struct Daemon {
    dir: PathBuf,
    socket: PathBuf,
    clock: Arc<VirtualClock>,
    feed: Feed,
    shutdown: Shutdown,
    thread: Option<JoinHandle<Result<(), RunError>>>,
    pid: u32,
}

impl Daemon {
    /// Start on the state in `dir` (kept between runs), with `dir/config/banjo.toml`.
    fn start(dir: &Path, now: i64) -> Daemon {
        let config = dir.join("config");
        std::fs::create_dir_all(&config).unwrap();
        if !config.join("banjo.toml").exists() {
            std::fs::write(config.join("banjo.toml"), CONFIG).unwrap();
        }
        // systemd makes it (StateDirectory=banjo); banjo does not.
        std::fs::create_dir_all(dir.join("state")).unwrap();
        let socket = dir.join("banjo.sock");
        let clock = VirtualClock::new(now).unwrap();
        let (feed, source) = FedSource::new().unwrap();
        let shutdown = Shutdown::new().unwrap();
        let opts = RunOptions {
            config_dir: config,
            config_explicit: true,
            dry_run: true,
            since: None,
            journal: None,
            state_dir: Some(dir.join("state")),
            socket: Some(socket.clone()),
        };
        let parts = Parts {
            shutdown: shutdown.clone(),
            clock: Clock::Virtual(clock.clone()),
            source: Some(Box::new(source)),
            signals: false,
        };
        let thread = std::thread::spawn(move || run_with(opts, parts));
        let d = Daemon {
            dir: dir.to_owned(),
            socket,
            clock,
            feed,
            shutdown,
            thread: Some(thread),
            pid: 100,
        };
        // Ready once the socket answers: bans restored, the source positioned.
        eventually("the control socket answers", || {
            call(&d.socket, &Request::Status { jail: None }).is_ok_and(|r| r.ok)
        });
        d
    }

    fn ask(&self, req: Request) -> Response {
        call(&self.socket, &req).unwrap()
    }

    fn status(&self) -> serde_json::Value {
        let r = self.ask(Request::Status {
            jail: Some("sshd".into()),
        });
        assert!(r.ok, "{r:?}");
        r.data
    }

    fn banned(&self) -> Vec<String> {
        let st = self.status();
        st["banned"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    /// An sshd failure from `ip`, as the journal has it, at the clock's time.
    fn fail(&mut self, ip: &str) {
        self.pid += 1;
        let mut e = Entry {
            time_us: self.clock.now_us(),
            ..Default::default()
        };
        e.set_message(format!("Failed password for root from {ip} port 4242 ssh2").as_bytes());
        e.fields.set("_UID", b"0");
        e.fields.set("_COMM", b"sshd");
        e.fields.set("SYSLOG_IDENTIFIER", b"sshd");
        e.fields.set("_PID", self.pid.to_string().as_bytes());
        assert!(self.feed.send(e), "the daemon's source is gone");
    }

    /// Wait until the daemon has counted `n` failures in total.
    fn counted(&self, n: u64) {
        eventually(&format!("{n} failures counted"), || {
            self.status()["total_failed"].as_u64() == Some(n)
        });
    }

    /// Trigger the shutdown and wait for the daemon's result.
    fn stop(mut self) -> Result<(), RunError> {
        self.shutdown.trigger();
        let t = self.thread.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !t.is_finished() {
            assert!(Instant::now() < deadline, "the daemon did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
        t.join().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A failed assertion must not leave the thread running into the next test.
        self.shutdown.trigger();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_brute_force_is_banned_at_maxretry_and_not_before() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(tmp.path(), T0);
    d.fail("203.0.113.5");
    d.fail("203.0.113.5");
    d.counted(2);
    assert!(d.banned().is_empty(), "{}", d.status());
    d.fail("203.0.113.5");
    d.counted(3);
    eventually("203.0.113.5 banned", || d.banned() == ["203.0.113.5"]);
    let st = d.status();
    assert_eq!(st["currently_banned"], 1, "{st}");
    assert_eq!(st["total_banned"], 1, "{st}");
    d.stop().unwrap();
}

#[test]
fn an_ignoreip_address_is_never_banned() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(tmp.path(), T0);
    for _ in 0..6 {
        d.fail("192.0.2.10");
    }
    // The same daemon bans someone else on the same path: the ignored one was read.
    for _ in 0..3 {
        d.fail("198.51.100.7");
    }
    d.counted(3);
    eventually("198.51.100.7 banned", || d.banned() == ["198.51.100.7"]);
    assert_eq!(d.banned(), ["198.51.100.7"]);
    d.stop().unwrap();
}

#[test]
fn a_ban_is_lifted_when_its_bantime_has_passed_on_the_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(tmp.path(), T0);
    for _ in 0..3 {
        d.fail("203.0.113.9");
    }
    eventually("203.0.113.9 banned", || d.banned() == ["203.0.113.9"]);
    // No wall time passes: only the virtual clock moves.
    d.clock.advance(59 * MIN);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(d.banned(), ["203.0.113.9"], "lifted before its hour");
    d.clock.advance(2 * MIN);
    eventually("the ban lifted", || d.banned().is_empty());
    assert_eq!(d.status()["total_banned"], 1);
    d.stop().unwrap();
}

#[test]
fn a_bad_config_on_reload_keeps_the_running_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(tmp.path(), T0);
    std::fs::write(
        d.dir.join("config/banjo.toml"),
        "[jail.sshd]\nenabled = true\nmaxretry = 0\n",
    )
    .unwrap();
    let r = d.ask(Request::Reload);
    assert!(!r.ok, "a config with errors was taken: {r:?}");
    // Still maxretry 3, still running.
    for _ in 0..3 {
        d.fail("203.0.113.20");
    }
    eventually("banned on the old config", || {
        d.banned() == ["203.0.113.20"]
    });
    // A good config is taken.
    std::fs::write(
        d.dir.join("config/banjo.toml"),
        CONFIG.replace("maxretry = 3", "maxretry = 1"),
    )
    .unwrap();
    let r = d.ask(Request::Reload);
    assert!(r.ok, "{r:?}");
    d.fail("203.0.113.21");
    eventually("banned at the new maxretry", || {
        d.banned().contains(&"203.0.113.21".to_string())
    });
    // The ban made before the reload is kept.
    assert!(d.banned().contains(&"203.0.113.20".to_string()));
    d.stop().unwrap();
}

#[test]
fn shutdown_is_clean_and_the_next_start_has_the_bans() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(tmp.path(), T0);
    for _ in 0..3 {
        d.fail("203.0.113.30");
    }
    eventually("203.0.113.30 banned", || d.banned() == ["203.0.113.30"]);
    d.stop().expect("a clean stop");
    // The socket is gone with the daemon; the state has the ban.
    assert!(!tmp.path().join("banjo.sock").exists());
    let d = Daemon::start(tmp.path(), T0 + 10 * MIN);
    assert_eq!(d.banned(), ["203.0.113.30"]);
    assert_eq!(d.status()["total_banned"], 1);
    d.stop().unwrap();
}

#[test]
fn no_enabled_jail_is_an_error_not_an_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("banjo.toml"),
        "[jail.sshd]\nenabled = false\n[jail.recidive]\nenabled = false\n",
    )
    .unwrap();
    let (_feed, source) = FedSource::new().unwrap();
    let r = run_with(
        RunOptions {
            config_dir: config,
            config_explicit: true,
            dry_run: true,
            state_dir: Some(tmp.path().join("state")),
            socket: Some(tmp.path().join("banjo.sock")),
            ..Default::default()
        },
        Parts {
            shutdown: Shutdown::new().unwrap(),
            clock: Clock::Virtual(VirtualClock::new(T0).unwrap()),
            source: Some(Box::new(source)),
            signals: false,
        },
    );
    assert!(matches!(r, Err(RunError::NoJails)), "{r:?}");
}

/// This tier needs no privilege: run as root, the test runs the others again as
/// nobody (uid 65534, no groups) and fails unless they pass there too.
#[test]
fn the_tier_passes_as_an_unprivileged_user() {
    if !nix::unistd::geteuid().is_root() {
        return; // already unprivileged: the other tests are the proof.
    }
    let me = std::env::current_exe().unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&me)
        .args([
            "--skip",
            "the_tier_passes_as_an_unprivileged_user",
            "--test-threads=2",
        ])
        .env("TMPDIR", std::env::temp_dir())
        .output()
        .expect("setpriv (util-linux) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "as nobody:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // All the others ran.
    assert!(
        text.contains("test result: ok.") && !text.contains(" 0 passed"),
        "{text}"
    );
}
