//! The follower against real files in a temporary directory: every way logrotate,
//! an admin or a writer can change a file under it, and restarts in between.

use super::*;
use std::fs::OpenOptions;
use std::io::Write;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
    fn pattern(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
    fn append(&self, name: &str, text: &str) {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(name))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }
}

fn follower(patterns: &[String], saved: &Positions, start: Start) -> LogFiles {
    let mut lf = LogFiles::open(patterns, saved, start, 600_000_000).unwrap();
    lf.grace = Duration::from_millis(50);
    lf
}

/// Everything readable now, after the pending inotify events: (line, warm).
fn drain(lf: &mut LogFiles) -> Vec<(String, bool)> {
    lf.process_events();
    let mut out = Vec::new();
    while let Some(l) = lf.next_line() {
        out.push((String::from_utf8_lossy(l.bytes).into_owned(), l.warm));
    }
    out
}

fn texts(v: &[(String, bool)]) -> Vec<&str> {
    v.iter().map(|(s, _)| s.as_str()).collect()
}

fn lines(prefix: &str, range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("{prefix} {i}\n")).collect()
}

fn expect(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix} {i}")).collect()
}

#[test]
fn reads_new_lines_and_holds_a_line_until_its_newline() {
    let d = Dir::new();
    d.append("a.log", "old 1\nold 2\n");
    let mut lf = follower(&[d.pattern("a.log")], &Positions::default(), Start::End);
    assert!(drain(&mut lf).is_empty(), "a first start begins at the end");
    d.append("a.log", "new 1\r\n\nnew 2\npart");
    assert_eq!(texts(&drain(&mut lf)), ["new 1", "new 2"]);
    d.append("a.log", "ial\n");
    assert_eq!(texts(&drain(&mut lf)), ["partial"]);
}

#[test]
fn a_rename_rotation_loses_nothing_from_either_file() {
    let d = Dir::new();
    d.append("access.log", "");
    let mut lf = follower(
        &[d.pattern("access.log")],
        &Positions::default(),
        Start::End,
    );
    d.append("access.log", &lines("before", 0..3));
    assert_eq!(drain(&mut lf).len(), 3);
    // Written and not yet read when logrotate renames; the writer goes on appending
    // to the old file until it reopens, then writes to the new one.
    d.append("access.log", &lines("unread", 0..5));
    std::fs::rename(d.path("access.log"), d.path("access.log.1")).unwrap();
    d.append("access.log.1", &lines("late", 0..2));
    d.append("access.log", &lines("new", 0..4));
    let got = drain(&mut lf);
    let mut want = expect("unread", 0..5);
    want.extend(expect("late", 0..2));
    want.extend(expect("new", 0..4));
    let mut got_sorted: Vec<String> = got.iter().map(|(s, _)| s.clone()).collect();
    got_sorted.sort();
    want.sort();
    assert_eq!(got_sorted, want);
    // Once quiet for the grace period, the rotated file is closed.
    std::thread::sleep(Duration::from_millis(80));
    assert!(drain(&mut lf).is_empty());
    assert_eq!(lf.open_files(), 1);
}

#[test]
fn copytruncate_reads_the_unread_lines_from_the_copy() {
    let d = Dir::new();
    d.append("app.log", "first line of the file\n");
    let mut lf = follower(
        &[d.pattern("app.log")],
        &Positions::default(),
        Start::Beginning,
    );
    assert_eq!(drain(&mut lf).len(), 1);
    d.append("app.log", &lines("read", 0..3));
    assert_eq!(drain(&mut lf).len(), 3);
    // Appended, then copied and truncated before banjo looked (a flood, a stall).
    d.append("app.log", &lines("unread", 0..6));
    std::fs::copy(d.path("app.log"), d.path("app.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(d.path("app.log"))
        .unwrap();
    d.append("app.log", &lines("after", 0..2));
    let got = drain(&mut lf);
    let mut g: Vec<String> = got.iter().map(|(s, _)| s.clone()).collect();
    g.sort();
    let mut want = expect("unread", 0..6);
    want.extend(expect("after", 0..2));
    want.sort();
    assert_eq!(g, want, "each unread line once, nothing read twice");
    assert!(lf.take_notes().iter().any(|n| n.contains("copy")));
}

#[test]
fn a_file_rewritten_under_us_is_read_from_its_start() {
    let d = Dir::new();
    d.append("x.log", &lines("one", 0..50));
    let mut lf = follower(
        &[d.pattern("x.log")],
        &Positions::default(),
        Start::Beginning,
    );
    assert_eq!(drain(&mut lf).len(), 50);
    // `> x.log` and more written than we had read before we look: the size alone
    // would not show it, the first line does.
    std::fs::write(d.path("x.log"), lines("two", 0..80)).unwrap();
    assert_eq!(texts(&drain(&mut lf)), expect("two", 0..80));
}

#[test]
fn files_and_directories_that_appear_later_and_globs() {
    let d = Dir::new();
    let pat = d.path("sites/*access.log").to_string_lossy().into_owned();
    let mut lf = follower(
        std::slice::from_ref(&pat),
        &Positions::default(),
        Start::End,
    );
    assert!(drain(&mut lf).is_empty());
    std::fs::create_dir(d.path("sites")).unwrap();
    lf.process_events();
    d.append("sites/a-access.log", "a 1\n");
    d.append("sites/b-access.log", "b 1\n");
    d.append("sites/error.log", "not ours\n");
    let mut got = texts(&drain(&mut lf))
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    got.sort();
    assert_eq!(got, ["a 1", "b 1"], "a new file is read from its start");
    assert_eq!(lf.open_files(), 2);
}

#[test]
fn a_deleted_file_is_drained_and_closed() {
    let d = Dir::new();
    d.append("d.log", "");
    let mut lf = follower(&[d.pattern("d.log")], &Positions::default(), Start::End);
    d.append("d.log", "last words\n");
    std::fs::remove_file(d.path("d.log")).unwrap();
    assert_eq!(texts(&drain(&mut lf)), ["last words"]);
    std::thread::sleep(Duration::from_millis(80));
    drain(&mut lf);
    assert_eq!(lf.open_files(), 0);
}

#[test]
fn many_rotations_leak_no_file_descriptor() {
    let d = Dir::new();
    d.append("r.log", "");
    let mut lf = follower(&[d.pattern("r.log")], &Positions::default(), Start::End);
    // Descriptors open on files of this test's directory (other tests run beside
    // this one in the same process, so the process's total says nothing).
    let fds = || {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|t| t.starts_with(d.0.path()))
            .count()
    };
    let before = fds();
    for i in 0..60 {
        d.append("r.log", &format!("line {i}\n"));
        std::fs::rename(d.path("r.log"), d.path("r.log.1")).unwrap();
        d.append("r.log", "");
        drain(&mut lf);
    }
    std::thread::sleep(Duration::from_millis(80));
    drain(&mut lf);
    assert_eq!(lf.open_files(), 1);
    assert_eq!(fds(), 1, "{before} before the rotations");
}

#[test]
fn long_lines_are_cut_and_the_next_line_is_whole() {
    let d = Dir::new();
    let long = "A".repeat(3 * MAX_LINE);
    d.append("l.log", &format!("{long}\nshort\n"));
    let mut lf = follower(
        &[d.pattern("l.log")],
        &Positions::default(),
        Start::Beginning,
    );
    let got = drain(&mut lf);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0.len(), MAX_LINE);
    assert_eq!(got[1].0, "short");
}

#[test]
fn non_utf8_bytes_are_lines_like_any_other() {
    let d = Dir::new();
    std::fs::write(d.path("b.log"), b"bad \xff\xfe bytes\nnext\n").unwrap();
    let mut lf = LogFiles::open(
        &[d.pattern("b.log")],
        &Positions::default(),
        Start::Beginning,
        0,
    )
    .unwrap();
    let l = lf.next_line().unwrap();
    assert_eq!(l.bytes, b"bad \xff\xfe bytes");
}

#[test]
fn a_restart_resumes_exactly_where_reading_stood() {
    let d = Dir::new();
    d.append("s.log", &lines("a", 0..10));
    let pats = [d.pattern("s.log")];
    let mut lf = follower(&pats, &Positions::default(), Start::Beginning);
    for _ in 0..4 {
        lf.next_line().unwrap();
    }
    let saved = lf.positions();
    drop(lf);
    d.append("s.log", &lines("b", 0..2));
    let mut lf = follower(&pats, &saved, Start::End);
    let got: Vec<String> = drain(&mut lf).into_iter().map(|(s, _)| s).collect();
    let mut want = expect("a", 4..10);
    want.extend(expect("b", 0..2));
    assert_eq!(got, want);
}

#[test]
fn rotations_while_stopped_are_found_again() {
    // Renamed while banjo was down: found by inode, its rest read, the new file read
    // whole (it appeared while we were down).
    let d = Dir::new();
    d.append("m.log", &lines("a", 0..3));
    let pats = [d.pattern("m.log")];
    let mut lf = follower(&pats, &Positions::default(), Start::Beginning);
    assert_eq!(drain(&mut lf).len(), 3);
    let saved = lf.positions();
    drop(lf);
    d.append("m.log", &lines("tail", 0..2));
    std::fs::rename(d.path("m.log"), d.path("m.log.1")).unwrap();
    d.append("m.log", &lines("new", 0..2));
    let mut lf = follower(&pats, &saved, Start::End);
    let mut got: Vec<String> = drain(&mut lf).into_iter().map(|(s, _)| s).collect();
    got.sort();
    let mut want = expect("tail", 0..2);
    want.extend(expect("new", 0..2));
    want.sort();
    assert_eq!(got, want);

    // Copied and truncated while down: the copy is found by its first line.
    let d = Dir::new();
    d.append("c.log", &lines("a", 0..3));
    let pats = [d.pattern("c.log")];
    let mut lf = follower(&pats, &Positions::default(), Start::Beginning);
    assert_eq!(drain(&mut lf).len(), 3);
    let saved = lf.positions();
    drop(lf);
    d.append("c.log", &lines("tail", 0..2));
    std::fs::copy(d.path("c.log"), d.path("c.log.1")).unwrap();
    std::fs::write(d.path("c.log"), lines("new", 0..2)).unwrap();
    let mut lf = follower(&pats, &saved, Start::End);
    let mut got: Vec<String> = drain(&mut lf).into_iter().map(|(s, _)| s).collect();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn a_new_logpath_starts_at_the_end_a_known_one_reads_new_files_whole() {
    let d = Dir::new();
    d.append("old.log", "x\n");
    let mut lf = follower(&[d.pattern("old.log")], &Positions::default(), Start::End);
    drain(&mut lf);
    let saved = lf.positions();
    drop(lf);
    d.append("new.log", "existing content of a newly configured file\n");
    let pats = [d.pattern("old.log"), d.pattern("new.log")];
    let mut lf = follower(&pats, &saved, Start::End);
    assert!(drain(&mut lf).is_empty());
}

#[test]
fn warm_up_rereads_one_window_before_the_saved_position() {
    let d = Dir::new();
    let pats = [d.pattern("w.log")];
    d.append("w.log", "");
    // 10-minute window, a line every 30 s for an hour.
    let mut lf =
        LogFiles::open(&pats, &Positions::default(), Start::Beginning, 600_000_000).unwrap();
    d.append("w.log", &lines("t", 0..120));
    lf.process_events();
    let mut n = 0;
    while let Some(l) = lf.next_line() {
        assert!(!l.warm);
        n += 1;
        lf.note_time(n * 30_000_000);
    }
    assert_eq!(n, 120);
    let saved = lf.positions();
    drop(lf);
    let mut lf = follower(&pats, &saved, Start::End);
    let got = drain(&mut lf);
    assert!(got.iter().all(|(_, warm)| *warm), "{got:?}");
    // At least the last 10 minutes (20 lines), and not the whole hour.
    assert!(
        (20..=30).contains(&got.len()),
        "{} lines re-read",
        got.len()
    );
    assert_eq!(got.last().unwrap().0, "t 119");
}

#[test]
fn bad_logpaths_are_refused_with_the_reason() {
    for (p, why) in [("relative.log", "absolute"), ("/var/log/[", "Pattern")] {
        let e = LogFiles::open(&[p.to_owned()], &Positions::default(), Start::End, 0)
            .err()
            .unwrap();
        let msg = e.to_string();
        assert!(
            msg.contains(p) && msg.to_lowercase().contains(&why.to_lowercase()),
            "{msg}"
        );
    }
}
