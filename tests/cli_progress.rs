//! The progress line: drawn on a real terminal (a pty from util-linux `script`), never
//! into a pipe, never with --json, never beside replay's live timeline on a
//! terminal — and erased, so the command's own output is the same.

mod common;
use common::*;
use std::process::Command;

/// Run `banjo ARGS` with stdin, stdout and stderr on one pty; its transcript.
fn on_terminal(args: &[&str]) -> String {
    let cmd = std::iter::once(env!("CARGO_BIN_EXE_banjo").to_owned())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .expect("script (util-linux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn lines_file(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "Dec  7 10:00:00 host sshd[{}]: Failed password for root from 192.0.2.{} port 22 ssh2\n",
            1000 + i,
            i % 200 + 1
        ));
    }
    let p = dir.join("auth.log");
    std::fs::write(&p, s).unwrap();
    p
}

/// The progress frame as drawn: erase-line then "N entries".
fn has_frame(transcript: &str, unit: &str) -> bool {
    transcript.split("\r\x1b[2K").skip(1).any(|f| {
        f.starts_with(|c: char| c.is_ascii_digit())
            && f.split(',')
                .next()
                .is_some_and(|c| c.contains(&format!(" {unit}")))
    })
}

#[test]
fn test_filter_shows_progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = lines_file(dir.path(), 20_000);
    let log = log.to_str().unwrap();

    let tty = on_terminal(&["test-filter", "sshd", log]);
    assert!(
        has_frame(&tty, "entries"),
        "no progress on a terminal:\n{tty:?}"
    );
    // Erased before the report: the report's first line starts clean.
    assert!(tty.contains("\r\x1b[2K"), "{tty:?}");
    assert!(tty.contains("20000"), "the report is missing:\n{tty}");

    let piped = run(&["test-filter", "sshd", log]);
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert!(
        !stderr(&piped).contains('\r') && !text(&piped).contains('\r'),
        "progress into a pipe: {:?}",
        stderr(&piped)
    );

    let json = on_terminal(&["test-filter", "sshd", log, "--json"]);
    assert!(
        !has_frame(&json, "entries"),
        "progress with --json:\n{json:?}"
    );
    let body = json.trim_start_matches(|c: char| c != '{');
    let v: serde_json::Value = serde_json::from_str(body.trim_end())
        .unwrap_or_else(|e| panic!("--json on a terminal is not clean JSON ({e}):\n{json:?}"));
    assert_eq!(v["entries"], 20_000);
}

#[test]
fn replay_shows_progress_only_when_its_timeline_is_not_on_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let jdir = dir.path().join("j");
    let entries: Vec<E> = (0..50)
        .map(|i| {
            E::sshd(
                T0 + i * SEC,
                100 + i as u32,
                &format!(
                    "Failed password for root from 203.0.113.{} port 22 ssh2",
                    i % 5 + 1
                ),
            )
        })
        .collect();
    make_journal(&jdir, &entries);
    let j = jdir.to_str().unwrap();
    let cfg = write_config(&dir.path().join("etc"), &[("banjo.toml", "[jail.sshd]\n")]);
    let c = cfg.to_str().unwrap();

    // The timeline goes to the terminal: no progress line through it.
    let tty = on_terminal(&["replay", "--config", c, "--journal-dir", j]);
    assert!(tty.contains("Ban"), "{tty}");
    assert!(
        !has_frame(&tty, "entries"),
        "progress inside the timeline:\n{tty:?}"
    );

    // The timeline goes to a file, stderr stays on the terminal: progress.
    let out = dir.path().join("timeline.txt");
    let cmd = format!(
        "{} replay --config {c} --journal-dir {j} > {}",
        env!("CARGO_BIN_EXE_banjo"),
        out.display()
    );
    let t = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let tty = String::from_utf8_lossy(&t.stdout);
    assert!(has_frame(&tty, "entries"), "no progress:\n{tty:?}");
    let timeline = std::fs::read_to_string(&out).unwrap();
    assert!(
        timeline.contains("Ban") && !timeline.contains('\r'),
        "{timeline:?}"
    );
}

#[test]
fn import_filter_counts_files_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let files: Vec<String> = ["sshd", "dovecot", "postfix"]
        .iter()
        .map(|f| format!("/etc/fail2ban/filter.d/{f}.conf"))
        .collect();
    let mut args = vec!["import-filter", "-o", out.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    let tty = on_terminal(&args);
    assert!(has_frame(&tty, "files"), "{tty:?}");
    assert!(
        tty.contains("1/3 files") && tty.contains("3/3 files"),
        "{tty:?}"
    );
}
