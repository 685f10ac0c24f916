//! The journal pages this process maps, and giving them back.
//!
//! libsystemd reads journal files through read-only shared mappings. It keeps them
//! mapped after use, and the kernel maps 64 KB around every page touched
//! (fault-around). Seeking to the tail of a journal walks each file's entry-array
//! chain, which leaves 0.6–0.85 MiB resident per file: 5.8 MiB for 9 files of 54 MB. That
//! is more than all of banjo's heap, and it grows with a host's journal history.
//!
//! `MADV_DONTNEED` on a shared file mapping drops only this process's page-table
//! entries. The pages stay in the page cache (journald wrote them and still uses
//! them), and the next read of one faults it back in from there. Nothing is lost, and
//! RSS shows what banjo is using now, not everything it ever looked at.

use nix::sys::mman::{madvise, MmapAdvise};
use std::ffi::c_void;
use std::ptr::NonNull;

/// The read-only shared mappings of journal files in a /proc/PID/maps text:
/// (start, length, path).
fn journal_mappings(maps: &str) -> Vec<(usize, usize, &str)> {
    maps.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let range = f.next()?;
            let perms = f.next()?;
            let path = f.nth(3)?;
            // "r--s": readable, not writable, shared. Writable mappings are never
            // touched (a write through one would be lost).
            let ro_shared = perms.as_bytes().get(1) == Some(&b'-') && perms.ends_with('s');
            let journal = path.ends_with(".journal") || path.ends_with(".journal~");
            if !(ro_shared && perms.starts_with('r') && journal) {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            let (a, b) = (
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            );
            (b > a).then_some((a, b - a, path))
        })
        .collect()
}

/// Drop this process's references to the journal pages it has mapped; returns the
/// bytes of mappings advised. Call it when the reader is idle: what it reads next
/// faults back in cheaply.
///
/// Only from the thread that owns every sd_journal handle of the process (the
/// daemon's main thread): no other thread may unmap a journal mapping, and so none can
/// put anonymous memory at its address between reading the list and advising it,
/// where MADV_DONTNEED would zero that memory.
pub fn release_journal_pages() -> std::io::Result<usize> {
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    Ok(advise(
        journal_mappings(&maps).into_iter().map(|(a, n, _)| (a, n)),
    ))
}

fn advise(ranges: impl Iterator<Item = (usize, usize)>) -> usize {
    let mut total = 0;
    for (start, len) in ranges {
        let Some(addr) = NonNull::new(start as *mut c_void) else {
            continue;
        };
        // SAFETY: the range is a whole read-only shared file mapping of this process,
        // as /proc/self/maps listed it just now, and (see release_journal_pages) no
        // other thread unmaps it meanwhile. On such a mapping MADV_DONTNEED only drops
        // page-table entries; later reads refault the file's pages.
        if unsafe { madvise(addr, len, MmapAdvise::MADV_DONTNEED) }.is_ok() {
            total += len;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_only_read_only_shared_journal_mappings() {
        let maps = "\
7f0000000000-7f0000800000 r--s 00000000 fd:01 123 /var/log/journal/m/system.journal
7f0000800000-7f0000900000 rw-s 00000000 fd:01 124 /var/log/journal/m/user-1000.journal
7f0000900000-7f0000a00000 r--s 00000000 fd:01 125 /var/log/journal/m/system@x-1-2.journal~
7f0000a00000-7f0000b00000 r--p 00000000 fd:01 126 /usr/lib/libsystemd.so.0
7f0000b00000-7f0000c00000 r--s 00000000 fd:01 127 /tmp/not-a-journal.db
7f0000c00000-7f0000d00000 rw-p 00000000 00:00 0
";
        let got: Vec<(usize, usize)> = journal_mappings(maps)
            .into_iter()
            .map(|(a, n, _)| (a, n))
            .collect();
        assert_eq!(
            got,
            [(0x7f0000000000, 0x800000), (0x7f0000900000, 0x100000)]
        );
    }

    #[test]
    fn released_pages_are_read_back_unchanged() {
        // A real shared read-only mapping of a file named like a journal.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("system.journal");
        let data: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: a fresh read-only shared mapping of a file only this test uses.
        let map = unsafe {
            nix::sys::mman::mmap(
                None,
                std::num::NonZeroUsize::new(data.len()).unwrap(),
                nix::sys::mman::ProtFlags::PROT_READ,
                nix::sys::mman::MapFlags::MAP_SHARED,
                &file,
                0,
            )
        }
        .unwrap();
        // SAFETY: the mapping is data.len() readable bytes and stays mapped below.
        let view = unsafe { std::slice::from_raw_parts(map.as_ptr() as *const u8, data.len()) };
        assert_eq!(view, &data[..]);
        // Only this test's own mapping: other tests of this process read journals on
        // other threads (see release_journal_pages).
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let mine = path.to_str().unwrap();
        let ranges: Vec<(usize, usize)> = journal_mappings(&maps)
            .into_iter()
            .filter(|m| m.2 == mine)
            .map(|(a, n, _)| (a, n))
            .collect();
        assert_eq!(ranges.len(), 1, "{maps}");
        let resident = |maps: &str| -> u64 {
            // The mapping's Rss line in smaps.
            let start = format!("{:x}-", ranges[0].0);
            let block = maps.split_once(&start).map(|(_, b)| b).unwrap_or("");
            block
                .lines()
                .find_map(|l| l.strip_prefix("Rss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        let before = resident(&std::fs::read_to_string("/proc/self/smaps").unwrap());
        assert!(before >= 256, "{before} kB resident after reading it all");
        assert_eq!(advise(ranges.iter().copied()), data.len());
        let after = resident(&std::fs::read_to_string("/proc/self/smaps").unwrap());
        assert_eq!(after, 0, "nothing of it resident after the advice");
        assert_eq!(view, &data[..], "the pages come back from the file");
        // SAFETY: unmapping what this test mapped; `view` is not used after this.
        unsafe { nix::sys::mman::munmap(map, data.len()) }.unwrap();
    }
}
