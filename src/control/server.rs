//! The daemon's side of the control socket, driven by the daemon's poll loop: never
//! blocks. Each connection carries one request and one response; a client that sends
//! garbage, too much, or too slowly gets an error or is dropped, and the daemon goes on.

use super::protocol::{encode, frame_len, Request, Response};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

/// A client has this long to send its request and read the answer.
const CLIENT_DEADLINE: Duration = Duration::from_secs(5);
/// More open connections than this are refused at accept.
const MAX_CLIENTS: usize = 64;

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
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.clients.len() >= MAX_CLIENTS || stream.set_nonblocking(true).is_err() {
                        continue; // dropped: the client sees the connection close
                    }
                    let Ok(cred) = getsockopt(&stream, PeerCredentials) else {
                        continue;
                    };
                    let id = self.next_id;
                    self.next_id += 1;
                    self.clients.push(Client {
                        id,
                        stream,
                        peer: Peer {
                            pid: cred.pid(),
                            uid: cred.uid(),
                            gid: cred.gid(),
                        },
                        inbuf: Vec::new(),
                        out: Vec::new(),
                        written: 0,
                        since: Instant::now(),
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
            let late = now.duration_since(c.since) > CLIENT_DEADLINE;
            !(done || late)
        });
    }

    /// Earliest client deadline, so the poll loop wakes to drop slow clients.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.clients.iter().map(|c| c.since + CLIENT_DEADLINE).min()
    }

    pub fn client_count(&self) -> usize {
        self.clients.len()
    }
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
