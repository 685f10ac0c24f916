//! The advisory lock that keeps two banjo processes off one state file.
//!
//! The lock lives in a separate file (`state.db.lock`) rather than on the database
//! itself: moving a corrupt database aside renames its inode, and a lock on the old
//! inode would no longer guard the fresh file created in its place. The lock file is
//! never deleted; deleting lock files races with the next opener.

use super::StateError;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Held for as long as the [`Store`](super::Store) lives; dropping it unlocks.
#[derive(Debug)]
pub(super) struct StateLock {
    _file: Flock<File>,
}

/// `/var/lib/banjo/state.db` -> `/var/lib/banjo/state.db.lock`.
pub(super) fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    db.with_file_name(name)
}

/// Take the exclusive lock without waiting: a second daemon must fail at once and
/// say who holds the state, not hang at start.
pub(super) fn acquire(db: &Path) -> Result<StateLock, StateError> {
    let path = lock_path(db);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| StateError::Io {
            what: "cannot open the state lock file",
            path: path.clone(),
            source,
        })?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(mut file) => {
            // The holder's pid is only a hint for the error message of the next opener,
            // so a failure to write it is not worth failing the start for.
            let _ = file
                .set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| writeln!(*file, "{}", std::process::id()));
            Ok(StateLock { _file: file })
        }
        Err((mut file, errno)) if errno == Errno::EWOULDBLOCK => {
            let mut text = String::new();
            let holder = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse::<u32>().ok());
            Err(StateError::Locked {
                path: db.to_path_buf(),
                lock: path,
                holder,
            })
        }
        Err((_, errno)) => Err(StateError::Io {
            what: "cannot lock the state lock file",
            path,
            source: errno.into(),
        }),
    }
}
