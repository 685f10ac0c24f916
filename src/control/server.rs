//! The daemon's side of the control socket, driven by the daemon's poll loop: never
//! blocks. Each connection carries one request and one response; a client that sends
//! garbage, too much, or too slowly gets an error or is dropped, and the daemon goes on.
//!
//! Room is shared so that no user can shut another out (with one cap for everyone, 64
//! idle connections of any reader kept root from ban, unban and reload for as long as
//! they were held). Root and the daemon's own user have [`ROOT_CLIENTS`] of their
//! own; other users share [`SHARED_CLIENTS`], at most [`PER_UID`] each. A newcomer is
//! never refused: when its share is full, a connection of the user holding the most
//! goes, that user's oldest idle one first (its own, if it holds as many as anyone).
//! So every user always gets in, and whoever hoards connections loses them. A client
//! that sends nothing is dropped after [`IDLE_DEADLINE`], any client after
//! [`CLIENT_DEADLINE`].

use super::protocol::{encode, frame_len, Request, Response};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A client that has sent nothing is dropped after this long (the CLI sends its
/// request as soon as it is connected).
pub const IDLE_DEADLINE: Duration = Duration::from_secs(1);
/// A client has this long to send its request and read the answer.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(5);
/// Connections of root and of the daemon's own user: counted apart from the others.
pub const ROOT_CLIENTS: usize = 16;
/// Connections of all other users together.
pub const SHARED_CLIENTS: usize = 48;
/// Connections of one other user.
pub const PER_UID: usize = 8;
/// Connections accepted per round of the loop: a flood of connects cannot hold the
/// daemon here (the rest wait in the listen queue, in order).
const ACCEPT_BATCH: usize = 2 * (ROOT_CLIENTS + SHARED_CLIENTS);

/// Who is on the other end (SO_PEERCRED).
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

struct Client {
    id: u64,
    stream: UnixStream,
    peer: Peer,
    /// Root or the daemon's own user: counted in ROOT_CLIENTS.
    privileged: bool,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    written: usize,
    since: Instant,
    answered: bool,
}

pub struct Server {
    listener: UnixListener,
    clients: Vec<Client>,
    next_id: u64,
    /// The daemon's effective uid: its own CLI calls count as root's.
    own_uid: u32,
    /// Connections dropped to make room for another (status).
    evicted: u64,
    /// The socket file we bound (path, device, inode): removed when we go.
    file: Option<(PathBuf, u64, u64)>,
}

/// A request ready for the daemon, or a protocol error already answered.
pub struct Incoming {
    pub client: u64,
    pub peer: Peer,
    pub request: Request,
}

impl Server {
    pub fn new(listener: UnixListener) -> std::io::Result<Server> {
        listener.set_nonblocking(true)?;
        Ok(Server {
            listener,
            clients: Vec::new(),
            next_id: 1,
            own_uid: nix::unistd::geteuid().as_raw(),
            evicted: 0,
            file: None,
        })
    }

    /// Descriptors to poll: (fd, wants write).
    pub fn poll_fds(&self) -> Vec<(BorrowedFd<'_>, bool)> {
        let mut v = vec![(self.listener.as_fd(), false)];
        for c in &self.clients {
            v.push((c.stream.as_fd(), c.answered));
        }
        v
    }

    pub fn listener_fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// Accept, read and write whatever is ready; return complete requests.
    pub fn service(&mut self) -> Vec<Incoming> {
        self.accept();
        let mut ready = Vec::new();
        for c in &mut self.clients {
            if !c.answered {
                if let Some(inc) = read_request(c) {
                    ready.push(inc);
                }
            }
            if c.answered {
                flush(c);
            }
        }
        self.reap();
        ready
    }

    /// Queue the answer to `client` (and try to send it now).
    pub fn respond(&mut self, client: u64, resp: &Response) {
        if let Some(c) = self.clients.iter_mut().find(|c| c.id == client) {
            answer(c, resp);
            flush(c);
        }
        self.reap();
    }

    fn accept(&mut self) {
        for _ in 0..ACCEPT_BATCH {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue; // dropped: the client sees the connection close
                    }
                    let Ok(cred) = getsockopt(&stream, PeerCredentials) else {
                        continue;
                    };
                    let peer = Peer {
                        pid: cred.pid(),
                        uid: cred.uid(),
                        gid: cred.gid(),
                    };
                    let privileged = peer.uid == 0 || peer.uid == self.own_uid;
                    let now = Instant::now();
                    let seats: Vec<Seat> = self.clients.iter().map(|c| c.seat(now)).collect();
                    if let Some(i) = make_room(&seats, peer.uid, privileged) {
                        self.clients.remove(i);
                        self.evicted += 1;
                    }
                    let id = self.next_id;
                    self.next_id += 1;
                    self.clients.push(Client {
                        id,
                        stream,
                        peer,
                        privileged,
                        inbuf: Vec::new(),
                        out: Vec::new(),
                        written: 0,
                        since: now,
                        answered: false,
                    });
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    /// Drop finished, broken and too-slow clients.
    fn reap(&mut self) {
        let now = Instant::now();
        self.clients.retain(|c| {
            let done = c.answered && c.written >= c.out.len();
            !(done || c.deadline() < now)
        });
    }

    /// Earliest client deadline, so the poll loop wakes to drop slow clients.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.clients.iter().map(Client::deadline).min()
    }

    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Connections dropped so far to make room for others.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The daemon bound the socket at `path` itself (systemd did not pass it): remove
    /// the file when the server goes, so a stopped banjo leaves no dead socket behind.
    pub fn remove_on_drop(&mut self, path: &Path) {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::symlink_metadata(path) {
            self.file = Some((path.to_owned(), m.dev(), m.ino()));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        use std::os::unix::fs::MetadataExt;
        let Some((path, dev, ino)) = self.file.take() else {
            return;
        };
        // Only our own socket: another banjo may have bound the path since.
        if std::fs::symlink_metadata(&path).is_ok_and(|m| (m.dev(), m.ino()) == (dev, ino)) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

impl Client {
    /// Sent nothing yet: the first to go when its user needs room.
    fn idle(&self) -> bool {
        self.inbuf.is_empty() && !self.answered
    }

    fn deadline(&self) -> Instant {
        self.since
            + if self.idle() {
                IDLE_DEADLINE
            } else {
                CLIENT_DEADLINE
            }
    }

    fn seat(&self, now: Instant) -> Seat {
        Seat {
            uid: self.peer.uid,
            privileged: self.privileged,
            idle: self.idle(),
            age: now.saturating_duration_since(self.since),
        }
    }
}

/// What room-making looks at of a connection.
#[derive(Debug, Clone, Copy)]
struct Seat {
    uid: u32,
    privileged: bool,
    idle: bool,
    age: Duration,
}

/// Which connection (index into `seats`) must go so that a newcomer of `uid` fits, if
/// any. Privileged users have their own share and evict only among themselves. Other
/// users: one at PER_UID makes room among its own; when the shared room is full, the
/// user with the most connections gives one up (the newcomer's own user if it holds
/// as many as anyone). Within a user, the oldest idle connection goes first, else
/// the oldest.
fn make_room(seats: &[Seat], uid: u32, privileged: bool) -> Option<usize> {
    let count = |u: u32| seats.iter().filter(|s| !s.privileged && s.uid == u).count();
    let victim_of = |keep: &dyn Fn(&Seat) -> bool| {
        seats
            .iter()
            .enumerate()
            .filter(|(_, s)| keep(s))
            .max_by_key(|(_, s)| (s.idle, s.age))
            .map(|(i, _)| i)
    };
    if privileged {
        let mine = seats.iter().filter(|s| s.privileged).count();
        return (mine >= ROOT_CLIENTS)
            .then(|| victim_of(&|s| s.privileged))
            .flatten();
    }
    let mine = count(uid);
    let shared = seats.iter().filter(|s| !s.privileged).count();
    let from = if mine >= PER_UID {
        uid
    } else if shared >= SHARED_CLIENTS {
        let (top, most) = seats
            .iter()
            .filter(|s| !s.privileged)
            .map(|s| (s.uid, count(s.uid)))
            .max_by_key(|&(u, n)| (n, u))?;
        if most > mine {
            top
        } else {
            uid
        }
    } else {
        return None;
    };
    victim_of(&|s| !s.privileged && s.uid == from)
}

fn read_request(c: &mut Client) -> Option<Incoming> {
    let mut chunk = [0u8; 8192];
    loop {
        match c.stream.read(&mut chunk) {
            Ok(0) => {
                // Peer closed before a whole request: nothing to answer.
                c.answered = true;
                return None;
            }
            Ok(n) => {
                c.inbuf.extend_from_slice(&chunk[..n]);
                match frame_len(&c.inbuf) {
                    Err(e) => {
                        answer(c, &Response::err(e));
                        return None;
                    }
                    Ok(Some(len)) => {
                        let body = &c.inbuf[4..4 + len];
                        return match serde_json::from_slice::<Request>(body) {
                            Ok(request) => Some(Incoming {
                                client: c.id,
                                peer: c.peer,
                                request,
                            }),
                            Err(e) => {
                                answer(c, &Response::err(format!("bad request: {e}")));
                                None
                            }
                        };
                    }
                    Ok(None) => continue,
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                c.answered = true;
                return None;
            }
        }
    }
}

fn answer(c: &mut Client, resp: &Response) {
    c.out = encode(resp);
    c.written = 0;
    c.answered = true;
}

fn flush(c: &mut Client) {
    while c.written < c.out.len() {
        match c.stream.write(&c.out[c.written..]) {
            Ok(0) => break,
            Ok(n) => c.written += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(_) => {
                c.written = c.out.len();
                return;
            }
        }
    }
}

/// Is `peer` a member of group `gid` (primary or supplementary)?
pub fn peer_in_group(peer: &Peer, gid: u32) -> bool {
    if peer.gid == gid {
        return true;
    }
    // Supplementary groups of the peer process. Read at request time; a process that
    // changes its groups meanwhile gains nothing it did not have.
    let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", peer.pid)) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .is_some_and(|g| g.split_whitespace().any(|x| x.parse::<u32>() == Ok(gid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(uid: u32, idle: bool, age: u64) -> Seat {
        Seat {
            uid,
            privileged: uid == 0,
            idle,
            age: Duration::from_millis(age),
        }
    }

    /// Admit `uid` as make_room says, as the server does.
    fn admit(seats: &mut Vec<Seat>, uid: u32) -> Option<Seat> {
        let gone = make_room(seats, uid, uid == 0).map(|i| seats.remove(i));
        for s in seats.iter_mut() {
            s.age += Duration::from_millis(1);
        }
        seats.push(seat(uid, true, 0));
        gone
    }

    fn held(seats: &[Seat], uid: u32) -> usize {
        seats.iter().filter(|s| s.uid == uid).count()
    }

    #[test]
    fn a_user_at_its_limit_gives_up_its_own_oldest_idle_connection() {
        let mut seats: Vec<Seat> = (0..PER_UID as u64)
            .map(|i| seat(7, i != 3, 100 - i))
            .collect();
        seats[0].idle = false; // the oldest is busy (a partial request)
        let i = make_room(&seats, 7, false).unwrap();
        assert_eq!(seats[i].age, Duration::from_millis(99), "oldest idle");
        // A newcomer of another user takes nothing: room is left.
        assert_eq!(make_room(&seats, 8, false), None);
        // Nobody idle: the oldest goes.
        for s in &mut seats {
            s.idle = false;
        }
        assert_eq!(make_room(&seats, 7, false), Some(0));
    }

    /// One user hoarding connections as fast as it can, others arriving in between:
    /// every newcomer gets in, the hoarder never holds more than PER_UID, and root's
    /// connections are never taken for anyone else.
    #[test]
    fn nobody_can_shut_out_root_or_another_user() {
        let mut seats = Vec::new();
        for round in 0..10_000u32 {
            // 7 hoarding uids fill the shared room and keep reconnecting.
            let uid = 1000 + round % 7;
            admit(&mut seats, uid);
            assert!(held(&seats, uid) <= PER_UID);
            if round % 97 == 0 {
                let gone = admit(&mut seats, 0);
                assert!(gone.is_none_or(|g| g.uid == 0));
                assert!(held(&seats, 0) >= 1);
            }
            if round % 13 == 0 {
                // A reader with nothing open yet always gets in, taking from a hoarder.
                let gone = admit(&mut seats, 42);
                assert!(gone.is_none_or(|g| g.uid != 0), "{gone:?}");
                assert!(held(&seats, 42) >= 1);
            }
            let shared = seats.iter().filter(|s| !s.privileged).count();
            assert!(shared <= SHARED_CLIENTS, "round {round}: {shared}");
            assert!(held(&seats, 0) <= ROOT_CLIENTS);
        }
        // Root's own share: a 17th root connection replaces root's oldest idle one.
        let mut seats: Vec<Seat> = (0..ROOT_CLIENTS as u64)
            .map(|i| seat(0, true, 50 - i))
            .collect();
        seats.extend((0..SHARED_CLIENTS as u64).map(|i| seat(100 + i as u32 % 6, true, 1)));
        let i = make_room(&seats, 0, true).unwrap();
        assert_eq!((seats[i].uid, seats[i].age), (0, Duration::from_millis(50)));
    }
}
