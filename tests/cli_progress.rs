//! Progress on a terminal (src/cli/progress.rs): `replay`, `test-filter` and
//! `import-filter -o DIR` draw a line on a real pseudo-terminal (util-linux
//! `script`), and never when their output is piped or with --json: there the output
//! is byte for byte what it was without progress.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

/// The erase-line sequence every progress redraw starts with.
const ERASE: &str = "\r\x1b[2K";

fn journal(dir: &Path) {
    let mut v = Vec::new();
    for i in 0..5 {
        v.push(E::sshd(
            T0 + i * SEC,
            100 + i as u32,
            &format!(
                "Failed password for root from 203.0.113.{} port 22 ssh2",
                i % 2 + 1
            ),
        ));
    }
    make_journal(dir, &v);
}

/// Run banjo with `args` on a pseudo-terminal: everything it wrote there.
fn on_tty(args: &[&str]) -> String {
    let mut line = String::from(env!("CARGO_BIN_EXE_banjo"));
    for a in args {
        line.push_str(&format!(" '{a}'"));
    }
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Neither stream of a piped run carries a progress line.
fn assert_plain(out: &std::process::Output) {
    for s in [&out.stdout, &out.stderr] {
        let s = String::from_utf8_lossy(s);
        assert!(!s.contains('\r') && !s.contains('\x1b'), "{s:?}");
    }
}

#[test]
fn replay_shows_progress_on_a_terminal_and_never_when_piped_or_json() {
    let d = tempfile::tempdir().unwrap();
    let jdir = d.path().join("journal");
    journal(&jdir);
    let cfg = write_config(
        &d.path().join("etc"),
        &[("banjo.toml", "[jail.sshd]\nmaxretry = 2\n")],
    );
    let args = [
        "replay",
        "--config",
        cfg.to_str().unwrap(),
        "--journal-dir",
        jdir.to_str().unwrap(),
        "--no-ignoreself",
    ];
    let tty = on_tty(&args);
    assert!(
        tty.contains(&format!("{ERASE}replay: 1 entries, 0 bans")),
        "{tty:?}"
    );
    // The events and the summary are all there, each on a line of its own.
    assert!(tty.contains("Ban   203.0.113.1"), "{tty:?}");
    assert!(tty.contains("Replayed 5 entries"), "{tty:?}");

    let piped = run(&args);
    assert!(piped.status.success());
    assert_plain(&piped);
    assert!(text(&piped).contains("Ban   203.0.113.1"));

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let tty = on_tty(&json_args);
    assert!(!tty.contains('\x1b'), "{tty:?}");
    let v: serde_json::Value = serde_json::from_str(&tty.replace("\r\n", "\n")).unwrap();
    assert_eq!(v["entries"], 5);
}

#[test]
fn test_filter_shows_progress_on_a_terminal_only() {
    let d = tempfile::tempdir().unwrap();
    let jdir = d.path().join("journal");
    journal(&jdir);
    let args = [
        "test-filter",
        "sshd",
        "--journal-dir",
        jdir.to_str().unwrap(),
    ];
    let tty = on_tty(&args);
    assert!(
        tty.contains(&format!("{ERASE}test-filter: 1 entries")),
        "{tty:?}"
    );
    assert!(tty.contains("203.0.113.1"), "{tty:?}");
    let piped = run(&args);
    assert!(piped.status.success());
    assert_plain(&piped);
    // Printing entries as they come is progress enough.
    let tty = on_tty(&[&args[..], &["--print-all-matched"]].concat());
    assert!(!tty.contains('\x1b'), "{tty:?}");
}

#[test]
fn import_filter_of_many_files_counts_them_on_a_terminal_only() {
    let files = [
        "/etc/fail2ban/filter.d/dovecot.conf",
        "/etc/fail2ban/filter.d/postfix.conf",
    ];
    assert!(
        files.iter().all(|f| Path::new(f).exists()),
        "needs the fail2ban package (apt-get install fail2ban)"
    );
    let d = tempfile::tempdir().unwrap();
    let out = d.path().to_str().unwrap();
    let tty = on_tty(&[&["import-filter", "-o", out][..], &files].concat());
    assert!(
        tty.contains(&format!("{ERASE}import-filter: 0/2 files")),
        "{tty:?}"
    );
    assert!(
        tty.contains(&format!("{ERASE}import-filter: 1/2 files")),
        "{tty:?}"
    );
    assert!(d.path().join("dovecot.toml").exists());
    let piped = run(&[&["import-filter", "--force", "-o", out][..], &files].concat());
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert_plain(&piped);
}
