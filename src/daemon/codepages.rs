//! Code and read-only data the daemon ran once, given back: start-up and a ban's cold
//! paths leave pages of banjo's binary and of its libraries mapped that an idle
//! daemon never touches again.
//!
//! What stays resident after start-up is mostly code the idle loop never runs again:
//! clap, the TOML parser, the regex compiler, SQLite's schema and write paths, and the
//! PCRE2 compiler behind the first hit's capture twin (engine.rs). The kernel maps 64 KB
//! around every page touched (fault-around), so each of those paths kept whole windows
//! of the binary and of libc, libsqlite3 and libpcre2 resident (bench/RESULTS.md,
//! "Idle memory: cold code given back").
//!
//! `MADV_DONTNEED` on a private file mapping that holds no anonymous (copy-on-write)
//! page only drops this process's page-table entries. The pages stay in the page cache
//! (the libraries' are shared with every other process anyway), and code that runs
//! again faults its page back in from there, a minor fault of about a microsecond. So
//! this changes what RSS counts, the pages banjo maps right now, not what the machine
//! holds: PSS and the page cache are unchanged. Banjo's own real costs are the anon and
//! heap figures.
//!
//! Only mappings that are read-only (`r-xp`, `r--p`), private, of a file, and without a
//! single anonymous page are advised: never writable data, never a RELRO segment (its
//! relocated pages are anonymous copies; dropping them would undo the relocations),
//! never code a debugger patched. Must not run while another thread may unmap or
//! remap code (dlopen/dlclose): the daemon's threads do neither (see give_back_memory).

use nix::sys::mman::{madvise, MmapAdvise};
use std::ffi::c_void;
use std::ptr::NonNull;

/// The read-only private file mappings without anonymous pages in a /proc/PID/smaps
/// text: (start, length).
fn cold_mappings(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    // The mapping being read: (start, length, eligible so far).
    let mut cur: Option<(usize, usize, bool)> = None;
    for line in smaps.lines() {
        if let Some(rest) = line.strip_prefix("Anonymous:") {
            let anon = rest.trim().trim_end_matches("kB").trim();
            if let Some((a, n, ok)) = cur.take() {
                if ok && anon == "0" {
                    out.push((a, n));
                }
            }
            continue;
        }
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else {
            continue;
        };
        // A mapping's header: "start-end perms offset dev inode path".
        let path = f.nth(3).unwrap_or("");
        let ok = (perms == "r-xp" || perms == "r--p") && path.starts_with('/') && b > a;
        cur = Some((a, b - a, ok));
    }
    out
}

/// Drop this process's page-table entries for its read-only code and data mappings;
/// returns the bytes of mappings advised. Call it when the daemon is idle.
pub(crate) fn release_code_pages() -> std::io::Result<usize> {
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut total = 0;
    for (start, len) in cold_mappings(&smaps) {
        let Some(addr) = NonNull::new(start as *mut c_void) else {
            continue;
        };
        // SAFETY: the range is a whole read-only private file mapping of this process
        // with no anonymous page, as /proc/self/smaps listed it just now, and no thread
        // of the daemon unmaps or remaps code (module doc). There MADV_DONTNEED only
        // drops page-table entries; the next access refaults the file's page.
        if unsafe { madvise(addr, len, MmapAdvise::MADV_DONTNEED) }.is_ok() {
            total += len;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_only_read_only_private_file_mappings_without_anonymous_pages() {
        let smaps = "\
55d000000000-55d000100000 r--p 00000000 fd:01 10 /usr/bin/banjo
Rss:                 400 kB
Anonymous:             0 kB
55d000100000-55d000400000 r-xp 00100000 fd:01 10 /usr/bin/banjo
Rss:                3000 kB
Anonymous:             0 kB
55d000400000-55d000450000 r--p 00400000 fd:01 10 /usr/bin/banjo
Rss:                 200 kB
Anonymous:           200 kB
55d000450000-55d000460000 rw-p 00450000 fd:01 10 /usr/bin/banjo
Anonymous:             8 kB
7f0000000000-7f0000100000 r-xp 00000000 fd:01 11 /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             4 kB
7f0000100000-7f0000200000 r--s 00000000 fd:01 12 /var/log/journal/m/system.journal
Anonymous:             0 kB
7f0000200000-7f0000300000 r-xp 00000000 00:00 0 
Anonymous:             0 kB
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
7f0000300000-7f0000340000 r-xp 00000000 fd:01 13 /usr/lib/libsqlite3.so.0
Anonymous:             0 kB
";
        assert_eq!(
            cold_mappings(smaps),
            [
                (0x55d000000000, 0x100000),
                (0x55d000100000, 0x300000),
                (0x7f0000300000, 0x40000)
            ]
        );
    }

    #[test]
    fn released_code_runs_again() {
        // This test binary's own code: released, then run again.
        let before = std::fs::read_to_string("/proc/self/status").unwrap();
        let advised = release_code_pages().unwrap();
        assert!(advised > 0, "nothing advised");
        let sum: u64 = (1..=1000u64).map(|i| i * i).sum();
        assert_eq!(sum, 333_833_500);
        let text = format!("{:?}", cold_mappings("")); // formatting code faults back in
        assert_eq!(text, "[]");
        let after = std::fs::read_to_string("/proc/self/status").unwrap();
        let file_kb = |s: &str| -> u64 {
            s.lines()
                .find_map(|l| l.strip_prefix("RssFile:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap()
        };
        assert!(
            file_kb(&after) < file_kb(&before),
            "file-backed RSS {} kB before, {} kB after",
            file_kb(&before),
            file_kb(&after)
        );
    }
}
