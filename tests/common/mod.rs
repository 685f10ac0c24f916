//! Helpers for tests that run the real `banjo` binary against real journal files.
#![allow(dead_code)]

pub mod fw;
pub mod ns;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// 2026-11-16T00:00:00Z in microseconds.
pub const T0: i64 = 1_794_787_200_000_000;
pub const SEC: i64 = 1_000_000;

/// One journal entry to write: fields besides the timestamps and boot id.
#[derive(Clone, Debug)]
pub struct E {
    pub time_us: i64,
    pub fields: Vec<(String, Vec<u8>)>,
}

impl E {
    pub fn new(time_us: i64) -> E {
        E {
            time_us,
            fields: Vec::new(),
        }
    }
    pub fn f(mut self, k: &str, v: &str) -> E {
        self.fields.push((k.into(), v.as_bytes().to_vec()));
        self
    }
    pub fn raw(mut self, k: &str, v: &[u8]) -> E {
        self.fields.push((k.into(), v.to_vec()));
        self
    }
    /// An sshd entry as journald records it (root's _UID, _COMM, syslog identifier, pid).
    pub fn sshd(time_us: i64, pid: u32, msg: &str) -> E {
        E::new(time_us)
            .f("_UID", "0")
            .f("_COMM", "sshd")
            .f("SYSLOG_IDENTIFIER", "sshd")
            .f("_PID", &pid.to_string())
            .f("_SYSTEMD_UNIT", "ssh.service")
            .f("MESSAGE", msg)
    }
}

/// Write `entries` in journal export format and convert them with
/// systemd-journal-remote into `dir/system.journal`.
pub fn make_journal(dir: &Path, entries: &[E]) {
    make_journal_from(dir, entries, 1_000_000);
}

/// [`make_journal`] with monotonic timestamps from `first_monotonic` on. An existing
/// `dir/system.journal` is appended to: give a later batch later monotonic times (one
/// boot id for all).
pub fn make_journal_from(dir: &Path, entries: &[E], first_monotonic: u64) {
    let mut export = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        writeln!(export, "__REALTIME_TIMESTAMP={}", e.time_us).unwrap();
        writeln!(
            export,
            "__MONOTONIC_TIMESTAMP={}",
            first_monotonic + i as u64
        )
        .unwrap();
        writeln!(export, "_BOOT_ID=0123456789abcdef0123456789abcdef").unwrap();
        writeln!(export, "_MACHINE_ID=0123456789abcdef0123456789abcdef").unwrap();
        writeln!(export, "_HOSTNAME=testhost").unwrap();
        for (k, v) in &e.fields {
            if v.contains(&b'\n') || std::str::from_utf8(v).is_err() {
                // Binary-safe form: name, newline, 64-bit LE length, bytes, newline.
                writeln!(export, "{k}").unwrap();
                export.extend_from_slice(&(v.len() as u64).to_le_bytes());
                export.extend_from_slice(v);
                export.push(b'\n');
            } else {
                export.extend_from_slice(k.as_bytes());
                export.push(b'=');
                export.extend_from_slice(v);
                export.push(b'\n');
            }
        }
        export.push(b'\n');
    }
    std::fs::create_dir_all(dir).unwrap();
    let src = dir.join("input.export");
    std::fs::write(&src, &export).unwrap();
    let out = Command::new("/lib/systemd/systemd-journal-remote")
        .arg(format!("--output={}", dir.join("system.journal").display()))
        .arg(&src)
        .output()
        .expect("systemd-journal-remote is needed: apt-get install systemd-journal-remote");
    assert!(
        out.status.success(),
        "journal-remote failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(src).unwrap();
}

pub fn banjo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_banjo"))
}

pub fn run(args: &[&str]) -> Output {
    banjo().args(args).output().unwrap()
}

pub fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut c = banjo()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(input).unwrap();
    c.wait_with_output().unwrap()
}

pub fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "banjo failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

pub fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn write_config(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    for (name, body) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    dir.to_owned()
}
